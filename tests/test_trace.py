"""The Trace: one flat, time-ordered table of events."""

import pytest

import mqlab as mq
from mqlab import Event, Trace
from mqlab.trace import KINDS


def little_story():
    t = Trace()
    t.record(0.0, "publish", 1, "sensor", "hub", "jobs")
    t.record(0.1, "arrive", 1, "hub", "sensor")
    t.record(0.1, "route", 1, "hub", "jobs", "jobs")
    t.record(0.1, "enqueue", 1, "jobs")
    t.record(0.1, "deliver", 1, "jobs", "w1")
    t.record(0.6, "ack", 1, "w1", "jobs", "manual")
    t.record(1.0, "crash", 0, "w1")
    return t


def test_rows_read_back_as_named_events():
    t = little_story()
    assert len(t) == 7
    assert t[0] == Event(0.0, "publish", 1, "sensor", "hub", "jobs")
    assert t[3] == Event(0.1, "enqueue", 1, "jobs", "", "")
    assert (t[5].kind, t[5].node, t[5].peer, t[5].info) == ("ack", "w1", "jobs", "manual")
    assert [e.kind for e in t] == ["publish", "arrive", "route", "enqueue", "deliver", "ack",
                                   "crash"]


def test_filter_by_kind_node_message_peer_and_time():
    t = little_story()
    assert [e.kind for e in t.filter(kind="ack")] == ["ack"]
    assert [e.kind for e in t.filter(kind=["publish", "ack"])] == ["publish", "ack"]
    assert [e.kind for e in t.filter(node="hub")] == ["arrive", "route"]
    assert [e.kind for e in t.filter(msg=0)] == ["crash"]
    assert [e.kind for e in t.filter(peer="jobs")] == ["route", "ack"]
    assert [e.time for e in t.filter(start=0.1, stop=0.6)] == [0.1, 0.1, 0.1, 0.1]
    assert len(t.filter(kind="deliver", node="hub")) == 0


def test_filter_keeps_the_graph_the_messages_and_the_end_time():
    t = little_story()
    t.end_time = 2.0
    t.messages[1] = mq.Message("x", id=1)
    f = t.filter(kind="ack")
    assert (f.end_time, f.messages, f.duration) == (2.0, t.messages, 2.0)


def test_unknown_kinds_are_refused_with_the_list_of_known_ones():
    with pytest.raises(ValueError, match="kind must be among") as exc:
        little_story().filter(kind="acked")
    assert "'acked'" in str(exc.value) and "'ack'" in str(exc.value)


def test_columns_for_numpy_or_pandas():
    t = little_story()
    assert t.column("kind")[:2] == ["publish", "arrive"]
    cols = t.to_columns()
    assert list(cols) == ["time", "kind", "msg", "node", "peer", "info"]
    assert cols["msg"] == [1, 1, 1, 1, 1, 1, 0]
    arrays = t.to_numpy()
    assert arrays["time"].dtype.kind == "f" and arrays["msg"].dtype.kind == "i"
    assert arrays["time"].tolist() == cols["time"]
    with pytest.raises(ValueError, match="name must be one of"):
        t.column("colour")


def test_duration_is_the_end_time_or_the_last_event():
    t = little_story()
    assert t.duration == 1.0
    t.end_time = 5.0
    assert t.duration == 5.0
    assert Trace().duration == 0.0


def test_digest_changes_with_any_field():
    a, b = little_story(), little_story()
    assert a.digest() == b.digest()
    b.rows[2] = (0.1, "route", 1, "hub", "jobs", "jobs ")  # one extra space in info
    assert a.digest() != b.digest()
    c = little_story()
    c.rows[0] = (0.0 + 1e-15, *c.rows[0][1:])  # a tiny time difference counts too
    assert a.digest() != c.digest()


def test_sorted_orders_rows_from_several_threads_by_time_stably():
    t = Trace([(2.0, "ack", 1, "w", "q", ""), (1.0, "publish", 2, "p", "b", ""),
               (1.0, "publish", 1, "p", "b", "")])
    s = t.sorted()
    assert [(e.time, e.msg) for e in s] == [(1.0, 2), (1.0, 1), (2.0, 1)]
    assert [e.msg for e in t] == [1, 2, 1]  # the original is unchanged


def test_head_and_repr_are_small_readable_text():
    t = little_story()
    lines = t.head(2).splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["0.0000", "publish", "1", "sensor", "hub", "jobs"]
    assert repr(t) == "<Trace 7 events over 1 s>"


def test_every_kind_a_simulation_records_is_a_known_kind():
    net = mq.Network(seed=3)
    net.producer("p", rate=4.0, routing_key=["jobs", "nowhere"], mode="sync")
    net.broker("hub")
    net.queue("hub", "jobs", capacity=2, overflow="drop-head", message_ttl=0.5,
              dead_letter="dlq")
    net.queue("hub", "dlq")
    net.consumer("w", queue="jobs", service=0.3, nack=0.2, requeue=False,
                 crash=[(3.0, 4.0)])
    net.link("p", "hub", latency=0.01, loss=0.2, duplicate=0.3)
    run = net.run(until=20)
    seen = set(run.trace.column("kind"))
    assert seen <= set(KINDS)
    assert {"publish", "arrive", "route", "enqueue", "deliver", "start", "ack", "nack", "drop",
            "dead-letter", "loss", "duplicate", "crash", "recover", "reply"} <= seen


def test_a_slice_of_a_trace_is_a_list_of_events():
    t = Trace([(0.0, "publish", 1, "p", "b"), (1.0, "ack", 1, "c", "q"), (2.0, "ack", 2, "c")])
    assert [e.kind for e in t[0:2]] == ["publish", "ack"] and t[-1:][0].msg == 2
    assert [e.time for e in t.filter(kind="ack")[:1]] == [1.0]


@pytest.mark.parametrize("name", ["run.json", "run.json.gz"])
def test_a_trace_saved_and_loaded_is_the_same_run(tmp_path, name):
    net = mq.Network(seed=3)
    net.producer("p", rate=3, routing_key="jobs", priority=[1, 5])
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", max_priority=9)
    net.consumer("w", queue="jobs", service=0.2)
    run = net.run(until=10)
    run.trace.save(tmp_path / name)
    back = Trace.load(tmp_path / name)
    assert back.digest() == run.trace.digest() and back.end_time == run.trace.end_time
    assert sorted(back.graph.nodes(data="role")) == sorted(run.graph.nodes(data="role"))
    assert back.messages[3].priority == run.trace.messages[3].priority
    again = mq.Run.from_trace(back)
    assert again.summary().text() == mq.Run.from_trace(run.trace).summary().text()
    assert mq.metrics.latencies(back, start="create") == mq.metrics.latencies(
        run.trace, start="create")
