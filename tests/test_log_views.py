"""Views of partitioned logs: the state of a log, its picture, and the network drawing.

Most tests read a hand-made trace that follows the trace contract of partitioned logs
(``append``, ``deliver`` that leaves the record in the log, ``commit``, ``seek``,
``rebalance``, ``assign``, ``expire`` by retention); those marked ``simulated`` run
``Network.topic`` when the package has it.
"""

import math

import matplotlib
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab.draw import draw_network
from mqlab.scene import Scene
from mqlab.state import Timeline

matplotlib.use("Agg")

RETENTION = 4.0  # seconds a record is kept
SEEK_AT = 5.0  # the audit group rewinds orders-0 to offset 0 then


def log_graph() -> nx.DiGraph:
    """A shop, a broker with a topic of two partitions, groups billing (2) and audit (1)."""
    g = nx.DiGraph()
    g.add_node("shop", role="producer")
    g.add_node("kafka", role="broker")
    g.add_node("orders", role="exchange", broker="kafka", log=True, partitions=2,
               retention=RETENTION)
    g.add_edge("shop", "kafka", kind="link")
    g.add_edge("kafka", "orders", kind="internal")
    for i in range(2):
        p = f"orders-{i}"
        g.add_node(p, role="queue", kind="log", topic="orders", partition=i, broker="kafka")
        g.add_edge("orders", p, kind="binding")
    for c, group in (("bill-1", "billing"), ("bill-2", "billing"), ("audit", "audit")):
        g.add_node(c, role="consumer", group=group)
        for i in range(2):
            g.add_edge(f"orders-{i}", c, kind="link")
    return g


def log_trace(count: int = 12, end: float = 9.0) -> mq.Trace:
    """``count`` orders, one every 0.5 s, keys alternating between the two partitions.

    billing: bill-1 reads orders-0, bill-2 reads orders-1; audit reads both and rewinds
    orders-0 to offset 0 at SEEK_AT. Each group commits offset + 1 when it acks a record.
    Retention deletes a record RETENTION seconds after its append.
    """
    rows = [(0.0, "rebalance", 0, "bill-1", "", "billing"),
            (0.0, "assign", 0, "orders-0", "bill-1", "billing"),
            (0.0, "assign", 0, "orders-1", "bill-2", "billing"),
            (0.0, "rebalance", 0, "audit", "", "audit"),
            (0.0, "assign", 0, "orders-0", "audit", "audit"),
            (0.0, "assign", 0, "orders-1", "audit", "audit")]
    next_offset = [0, 0]
    # each consumer handles one record at a time: when it is next free
    free = {"bill-1": 0.0, "bill-2": 0.0, "audit": 0.0}
    service = {"bill-1": 0.3, "bill-2": 0.9, "audit": 0.2}

    def read(t, m, p, offset, c, group):
        start = max(t + 0.05, free[c])
        rows.extend([(start - 0.05, "deliver", m, p, c, str(offset)),
                     (start, "arrive", m, c, p, ""),
                     (start, "start", m, c, "", ""),
                     (start + service[c], "ack", m, c, p, "log"),
                     (start + service[c], "commit", m, p, group, str(offset + 1))])
        free[c] = start + service[c]

    appended = {}
    for m in range(1, count + 1):
        t = 0.5 * (m - 1)
        part = m % 2
        p = f"orders-{part}"
        offset = next_offset[part]
        next_offset[part] += 1
        rows += [(t, "publish", m, "shop", "kafka", f"c{part}"),
                 (t + 0.1, "arrive", m, "kafka", "shop", ""),
                 (t + 0.1, "route", m, "orders", p, f"c{part}"),
                 (t + 0.1, "append", m, p, "", str(offset))]
        appended[(p, offset)] = m
        if t + 0.1 + RETENTION < end:
            rows.append((t + 0.1 + RETENTION, "expire", m, p, "", "retention"))
        read(t + 0.1, m, p, offset, "bill-1" if part == 0 else "bill-2", "billing")
        read(t + 0.1, m, p, offset, "audit", "audit")
    rows.append((SEEK_AT, "seek", 0, "orders-0", "audit", "0"))
    rows = [r for r in rows if r[0] <= end]
    rows.sort(key=lambda r: r[0])
    trace = mq.Trace(rows, graph=log_graph())
    trace.end_time = end
    return trace


@pytest.fixture(scope="module")
def trace():
    return log_trace()


@pytest.fixture(scope="module")
def timeline(trace):
    return Timeline(trace)


# -- the state of a log --------------------------------------------------------------------------
def test_log_partitions_are_logs_not_queues(timeline):
    assert timeline.logs == ["orders-0", "orders-1"]
    assert timeline.queues == []
    state = timeline.at(1.0)
    assert state.queues == {}
    assert set(state.logs) == {"orders-0", "orders-1"}


def test_a_record_stays_in_the_log_after_it_is_delivered_and_acked(timeline, trace):
    # message 2 goes to orders-0 at offset 0 (t = 0.6); both groups have read it by 1.2 s
    acks = [r for r in trace.rows if r[1] == "ack" and r[2] == 2]
    assert len(acks) == 2 and max(r[0] for r in acks) < 1.5
    state = timeline.at(1.65)  # message 4 was appended at 1.6 s
    assert state.logs["orders-0"] == {0: 2, 1: 4}  # offset -> message, oldest first
    assert 2 not in state.serving["bill-1"] + state.serving["audit"]


def test_records_are_kept_in_offset_order(timeline):
    state = timeline.at(3.9)
    for p in ("orders-0", "orders-1"):
        offsets = list(state.logs[p])
        assert offsets == sorted(offsets) and offsets == list(range(len(offsets)))
    assert list(state.logs["orders-1"].values()) == [1, 3, 5, 7]


def test_retention_deletes_records_from_the_head_of_the_log(timeline):
    before = timeline.at(4.05).logs["orders-1"]   # message 1 appended at 0.1, kept till 4.1
    after = timeline.at(4.15).logs["orders-1"]
    assert 0 in before and 0 not in after
    assert list(after) == list(before)[1:] + [k for k in after if k not in before]
    late = timeline.at(8.9).logs["orders-0"]
    assert min(late) > 0  # the oldest records are gone, the newest are there
    assert max(late) == 5


def test_a_log_never_counts_below_zero_and_retention_is_not_a_drop(timeline, trace):
    for t in np.linspace(0, 9, 91):
        assert all(len(v) >= 0 for v in timeline.at(float(t)).logs.values())
    assert timeline.at(9.0).counters["dropped"] == 0
    assert any(r[1] == "expire" for r in trace.rows)
    assert timeline.at(9.0).marks == []


def test_committed_offsets_move_with_commits(timeline, trace):
    assert timeline.at(0.0).offsets == {}  # nobody has committed anything yet
    commits = [r for r in trace.rows if r[1] == "commit" and r[4] == "billing"
               and r[3] == "orders-0"]
    first = commits[0]
    assert timeline.at(first[0] - 1e-6).offsets.get(("billing", "orders-0")) is None
    assert timeline.at(first[0]).offsets[("billing", "orders-0")] == int(first[5])
    values = [timeline.at(r[0]).offsets[("billing", "orders-0")] for r in commits]
    assert values == sorted(values) and values[-1] == len(commits)


def test_a_seek_moves_the_offset_back(timeline):
    assert timeline.at(SEEK_AT - 0.01).offsets[("audit", "orders-0")] > 0
    assert timeline.at(SEEK_AT).offsets[("audit", "orders-0")] == 0
    # the other group is not moved
    assert timeline.at(SEEK_AT).offsets[("billing", "orders-0")] > 0


def test_assigned_says_which_consumer_of_each_group_reads_a_partition(timeline):
    assert timeline.at(1.0).assigned == {"orders-0": {"billing": "bill-1", "audit": "audit"},
                                         "orders-1": {"billing": "bill-2", "audit": "audit"}}


def test_a_rebalance_deals_the_partitions_out_again():
    rows = log_trace().rows + [(9.5, "crash", 0, "bill-2", "", ""),
                               (9.5, "rebalance", 0, "bill-2", "", "billing"),
                               (9.5, "assign", 0, "orders-0", "bill-1", "billing"),
                               (9.5, "assign", 0, "orders-1", "bill-1", "billing"),
                               (10.0, "rebalance", 0, "bill-1", "", "billing")]
    tl = Timeline(mq.Trace(rows, graph=log_graph()))
    assert tl.at(9.4).assigned["orders-1"]["billing"] == "bill-2"
    assert tl.at(9.5).assigned["orders-1"]["billing"] == "bill-1"
    # a rebalance with no live member left: the group reads nothing
    assert "billing" not in tl.at(10.0).assigned["orders-0"]
    assert tl.at(10.0).assigned["orders-0"] == {"audit": "audit"}


def test_delivered_records_travel_to_the_consumer_as_dots(trace):
    scene = Scene(trace, metrics=False)
    deliver = next(r for r in trace.rows if r[1] == "deliver" and r[2] == 2)
    _, ids = scene.dots(deliver[0] + 0.025)
    assert 2 in ids.tolist()
    state = scene.snapshot(deliver[0] + 0.025)
    assert any(m == 2 and src == "orders-0" for m, src, _, _ in state.on_links)
    assert 2 in state.logs["orders-0"].values()  # and the record is still in the log


def test_a_run_from_a_log_trace_counts_no_queued_messages(trace):
    run = mq.Run.from_trace(trace)
    assert run.still["queued"] == {}


# -- the picture ---------------------------------------------------------------------------------
def test_the_scene_fills_the_cells_with_the_newest_records(trace):
    scene = Scene(trace, metrics=False, slots=4)
    scene.image(3.9)
    view = {p: offsets.tolist() for p, _, offsets, _ in scene._log_view}
    assert view == {"orders-0": [0, 1, 2, 3], "orders-1": [0, 1, 2, 3]}
    scene.image(8.9)
    view = {p: offsets.tolist() for p, _, offsets, _ in scene._log_view}
    assert all(len(v) <= 4 for v in view.values())
    assert view["orders-1"][-1] == 5  # the newest record is shown
    assert scene._queue_text["orders-1"] == str(len(scene.snapshot(8.9).logs["orders-1"]))


def test_each_group_gets_a_marker_at_its_committed_offset(trace):
    scene = Scene(trace, metrics=False)
    scene.image(4.0)
    groups = {p: {g: x for _, g, x, _ in marks} for p, _, _, marks in scene._log_view}
    offsets = scene.snapshot(4.0).offsets
    left = {p: x for p, x, _, _ in scene._log_view}
    for (g, p), c in offsets.items():
        assert groups[p][g] == pytest.approx(left[p] + c * scene.slot)
    assert len(scene._triangles) == len(offsets)
    texts = [text for _, text, _, _ in scene._labels(4.0)]
    assert "billing" in texts and "audit" in texts


def test_a_marker_behind_the_cells_says_its_offset(trace):
    scene = Scene(trace, metrics=False, slots=3)
    scene.image(5.05)  # audit rewound orders-0 to 0 at 5 s; offset 0 is deleted, 1 hidden
    audit = [m for p, _, _, marks in scene._log_view if p == "orders-0"
             for m in marks if m[1] == "audit"][0]
    assert audit[3] == 0
    assert "audit (at 0)" in [text for _, text, _, _ in scene._labels(5.05)]


def test_a_log_frame_is_drawn_and_differs_as_records_arrive(trace, tmp_path):
    scene = Scene(trace)
    a, b = scene.rgb(0.05), scene.rgb(3.0)
    assert a.shape == b.shape and (a != b).any()
    scene.save(tmp_path / "log.png", 3.0)
    assert (tmp_path / "log.png").stat().st_size > 1000


def test_the_queue_chart_of_a_log_counts_the_records_kept(trace):
    scene = Scene(trace, charts=("queue",))
    times, lengths = mq.metrics.queue_length(trace, "orders-0")
    assert min(lengths) >= 0
    for t in (0.5, 3.0, 6.0, 8.9):  # the chart and the picture agree
        i = int(np.searchsorted(times, t, "right")) - 1
        assert lengths[i] == len(scene.snapshot(t).logs["orders-0"])
    line = next(line for line in scene.chart_axes[0].lines if line.get_label() == "orders-0")
    assert line.get_ydata().tolist()[:-1] == lengths
    assert scene.chart_axes[0].get_ylabel().startswith("records kept")


# -- the network drawing -------------------------------------------------------------------------
def test_draw_network_draws_a_topic_with_its_partitions_as_logs(trace):
    ax = draw_network(trace)
    texts = [t.get_text() for t in ax.texts]
    assert "orders\n(topic, 2 partitions)" in texts
    assert any(t.startswith("orders-0  (log, kept 4 s)") for t in texts)
    assert "bill-1\n(group billing)" in texts
    assert "audit" in texts  # a group named as its only consumer: no second line
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "log" in labels
    import matplotlib.pyplot as plt
    plt.close(ax.figure)


# -- a simulated run -------------------------------------------------------------------------------
def _has_topics() -> bool:
    return hasattr(mq.Network, "topic")


@pytest.mark.skipif(not _has_topics(), reason="Network.topic is not in the package yet")
def test_a_simulated_log_run_keeps_records_after_delivery():
    net = mq.Network(seed=1)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=3, retention=None)
    net.producer("shop", interval=0.2, count=30, topic="orders",
                 payload=lambda i: {"customer": f"c{i % 4}", "amount": 10 + i},
                 key=lambda payload: payload["customer"])
    net.consumer("bill-1", topic="orders", group="billing", service=0.3)
    net.consumer("bill-2", topic="orders", group="billing", service=0.3)
    net.consumer("audit", topic="orders", group="audit", service=0.05, offset="earliest")
    run = net.run(until=30)
    state = run.state(30)
    appended = sum(1 for r in run.trace.rows if r[1] == "append")
    assert sum(len(v) for v in state.logs.values()) == appended == 30
    # every group has read every record: its offsets are at the ends of the logs
    for p, records in state.logs.items():
        for group in ("billing", "audit"):
            assert state.offsets[(group, p)] == max(records) + 1
    assert {g for a in state.assigned.values() for g in a} == {"billing", "audit"}
    Scene(run).image(10.0)  # draws


@pytest.mark.skipif(not _has_topics(), reason="Network.topic is not in the package yet")
def test_retention_in_a_simulated_run_empties_the_head_of_the_log():
    net = mq.Network(seed=1)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=2, retention=2.0)
    net.producer("shop", interval=0.5, count=20, topic="orders", key=None)
    net.consumer("c", topic="orders", group="g", service=0.1)
    run = net.run(until=15)
    tl = Timeline(run.trace)
    for t in (3.0, 6.0, 9.0):
        state = tl.at(t)
        for p, records in state.logs.items():
            assert all(math.isfinite(k) for k in records)
            ages = [t - r[0] for r in run.trace.rows if r[1] == "append" and r[3] == p
                    and r[2] in records.values()]
            assert all(age <= 2.0 + 1e-9 for age in ages)


# -- properties ------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.one_of(st.none(), st.floats(0, 5))),
                min_size=1, max_size=25),
       st.floats(0, 12))
def test_a_log_keeps_exactly_the_records_appended_and_not_yet_deleted(records, t):
    """Whatever the times, the state at ``t`` holds the records appended by ``t`` and not
    deleted by then, in offset order."""
    rows, kept = [], {}
    g = log_graph()
    appended_at = sorted(at for at, _ in records)
    for offset, (at, (_, life)) in enumerate(zip(appended_at, records, strict=True)):
        m = offset + 1
        rows.append((at, "append", m, "orders-0", "", str(offset)))
        gone = at + life if life is not None else math.inf
        if gone < math.inf:
            rows.append((gone, "expire", m, "orders-0", "", "retention"))
        if at <= t < gone:
            kept[offset] = m
    rows.sort(key=lambda r: r[0])
    state = Timeline(mq.Trace(rows, graph=g)).at(t)
    assert state.logs["orders-0"] == kept
    assert list(state.logs["orders-0"]) == sorted(kept)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["commit", "seek"]), st.integers(0, 30)),
                min_size=1, max_size=20), st.floats(0, 25))
def test_the_offset_at_t_is_the_last_commit_or_seek_by_t(moves, t):
    rows = [(float(i), kind, 0, "orders-1", "billing", str(offset))
            for i, (kind, offset) in enumerate(moves)]
    state = Timeline(mq.Trace(rows, graph=log_graph())).at(t)
    done = [offset for i, (_, offset) in enumerate(moves) if i <= t]
    assert state.offsets.get(("billing", "orders-1")) == (done[-1] if done else None)


def test_the_edges_from_each_partition_to_its_readers_are_lit(trace):
    scene = Scene(trace, metrics=False)
    scene.draw(1.0)
    assigned = scene.snapshot(1.0).assigned
    lit = scene._read_lines.get_segments()
    assert len(lit) == sum(len(readers) for readers in assigned.values()) == 4
    paths = {(p, c): scene._pulse_paths[(p, c)] for p, r in assigned.items() for c in r.values()}
    assert all(any(np.allclose(seg, path) for seg in lit) for path in paths.values())
    labels = [t.get_text() for t in scene.ax.get_legend().get_texts()]
    assert "reads (assigned)" in labels
