"""A Player of a long run reads only what its frames need, and shows what a whole read shows.

A trace longer than ``Timeline.SAMPLE_ABOVE`` rows is read only for the Player's frame times
(:func:`mqlab.state._sample`). Here that path is forced on small runs (the threshold set to 0)
and every frame is checked against the whole read: the same states, the same JPEG bytes, the
same colours and the same text panels.
"""

import re

import matplotlib
import numpy as np
import pytest

import mqlab as mq
from mqlab import metrics
from mqlab.player import Player
from mqlab.scene import _MOST_POINTS, _long_queue_curve, _queue_curve, _thin_steps
from mqlab.state import Timeline
from mqlab.style import Colours

matplotlib.use("Agg")


# -- runs with something of everything ---------------------------------------------------------
def stopped_midway():
    """Stopped while messages are on links, in a full queue, held back, at the consumer."""
    net = mq.Network(seed=3)
    net.producer("p", rate=8.0, routing_key="jobs", count=200)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=3, overflow="block")
    net.consumer("c", queue="jobs", service=0.5, prefetch=2)
    net.link("p", "hub", latency=0.3)
    net.link("jobs", "c", latency=0.2)
    net.producer("late", schedule=[5.9], routing_key="other")
    net.queue("hub", "other")
    net.consumer("d", queue="other")
    net.link("late", "hub", latency=0.3)
    return net.run(until=6)


def faults():
    """Fan-out, priorities, a full queue, time to live, dead letters, a crash, lossy links."""
    net = mq.Network(seed=3)
    net.producer("p", rate=6.0, routing_key="k", priority=[0, 3, 7], count=120,
                 exchange="fan")
    net.broker("hub")
    net.exchange("hub", "fan", type="fanout")
    net.queue("hub", "a", kind="priority", max_priority=9, capacity=6, overflow="reject-publish")
    net.queue("hub", "b", message_ttl=1.5, dead_letter="dlq")
    net.bind("fan", "a")
    net.bind("fan", "b")
    net.consumer("ca", queue="a", service=mq.exponential(0.2), crash=[(5.0, 7.0)])
    net.consumer("cb", queue="b", service=mq.exponential(0.3), nack=0.2, requeue=False)
    net.consumer("cd", queue="dlq", service=0.05)
    net.link("p", "hub", latency=0.05, loss=0.05, duplicate=0.05)
    net.link("a", "ca", latency=0.1)
    return net.run(until=30)


def routing_keys():
    """Messages coloured by routing key; a drop-head queue."""
    net = mq.Network(seed=5)
    net.producer("p1", rate=3.0, routing_key=["x", "y", "z"], count=80, exchange="ex")
    net.producer("p2", rate=2.0, routing_key="y", count=50, exchange="ex")
    net.broker("hub")
    net.exchange("hub", "ex", type="direct")
    net.queue("hub", "qx", capacity=2, overflow="drop-head")
    net.queue("hub", "qy")
    net.bind("ex", "qx", "x")
    net.bind("ex", "qy", "y")
    net.consumer("c1", queue="qx", service=0.9)
    net.consumer("c2", queue="qy", service=mq.exponential(0.25), prefetch=3)
    return net.run(until=40)


def request_reply():
    """Synchronous requests with timeouts and retries: replies travel back."""
    net = mq.Network(seed=2)
    net.producer("client", interval=0.2, count=40, routing_key="jobs", mode="sync",
                 timeout=1.5, retries=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("server", queue="jobs", service=mq.exponential(0.3))
    net.link("client", "hub", latency=0.2, loss=0.1)
    net.link("jobs", "server", latency=0.1)
    return net.run(until=30)


def logs(retention=4.0):
    """A partitioned log read by two consumer groups; a member crashes (rebalance)."""
    net = mq.Network(seed=1)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=3, retention=retention)
    net.producer("shop", interval=0.1, count=150, topic="orders",
                 payload=lambda i: {"customer": f"c{i % 4}"}, key=lambda p: p["customer"])
    net.consumer("bill-1", topic="orders", group="billing", service=0.3, crash=[(5, 8)])
    net.consumer("bill-2", topic="orders", group="billing", service=0.3)
    net.consumer("audit", topic="orders", group="audit", service=0.05)
    return net.run(until=25)


def broker_crash():
    """A broker crash drops what its transient queue held."""
    net = mq.Network(seed=4)
    net.producer("p", rate=5.0, routing_key="jobs", count=150)
    net.broker("hub", crash=[(8.0, 10.0)])
    net.queue("hub", "jobs", durable=False)
    net.consumer("c", queue="jobs", service=mq.exponential(0.25))
    net.link("p", "hub", latency=0.1)
    return net.run(until=40)


def aging():
    """An aging priority queue: its order changes as messages wait."""
    net = mq.Network(seed=1)
    net.producer("p", rate=8.0, routing_key="jobs", priority=[0, 5], count=60)
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", aging=1.0, max_priority=9)
    net.consumer("c", queue="jobs", service=0.25)
    return net.run(until=20)


def mm1(messages, seed=1):
    net = mq.Network(seed=seed)
    net.producer("arrivals", rate=0.9, routing_key="line", count=messages)
    net.broker("hub")
    net.queue("hub", "line")
    net.consumer("server", queue="line", service=mq.exponential(1.0))
    return net.run(until=None, progress=False)


RUNS = {"stopped midway": stopped_midway, "faults": faults, "routing keys": routing_keys,
        "request reply": request_reply, "logs": logs, "logs kept": lambda: logs(None),
        "broker crash": broker_crash, "aging": aging, "mm1": lambda: mm1(2000)}
CHARTS = ["queue", "latency", "throughput"]


@pytest.fixture(scope="module", params=list(RUNS))
def run(request):
    return RUNS[request.param]()


def sampled_player(run, **options):
    """A Player built as for a long run, whatever the length of this one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Timeline, "SAMPLE_ABOVE", 0)
        return Player(run, progress=False, **options)


def assert_same_player(full, part):
    assert not full.scene.timeline.sampled and part.scene.timeline.sampled
    for t in full.frame_times:
        assert part.scene.snapshot(t) == full.scene.snapshot(t), t
    assert part.frames == full.frames  # the same pictures, byte for byte
    assert [w.value for w in part.recent.children] == [w.value for w in full.recent.children]
    assert part.story.value == full.story.value
    assert dict(part.scene.colour_of.items()) == dict(full.scene.colour_of.items())
    assert part.scene.colour_legend == full.scene.colour_legend
    assert part.follow_box.max == full.follow_box.max


# -- the sampled read against the whole read --------------------------------------------------
@pytest.mark.parametrize("frames", [5, 23])
def test_each_frame_of_a_sampled_player_shows_what_the_whole_read_shows(run, frames):
    full = Player(run, frames=frames, progress=False, charts=CHARTS)
    part = sampled_player(run, frames=frames, charts=CHARTS)
    assert_same_player(full, part)
    assert len(part.scene.timeline.read) <= len(run.trace)


def test_following_a_message_in_a_sampled_player_rings_and_tells_the_same(run):
    full = Player(run, frames=11, progress=False)
    part = sampled_player(run, frames=11)
    msg = int(run.trace.array("msg")[len(run.trace) // 2]) or None
    full.follow(msg)
    part.follow(msg)
    assert_same_player(full, part)


def test_a_window_of_the_run_is_sampled_for_its_own_frames(run):
    start, stop = run.trace.duration / 3, run.trace.duration / 2
    full = Player(run, frames=9, start=start, stop=stop, progress=False)
    part = sampled_player(run, frames=9, start=start, stop=stop)
    assert_same_player(full, part)


def test_the_html_export_of_a_sampled_run_is_the_same():
    from mqlab.export import to_html

    def page(run):  # the page's id counts up: left out
        return re.sub(r"mqlab-\w+-\d+", "", to_html(run, frames=12, progress=False))

    run = faults()
    whole = page(run)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Timeline, "SAMPLE_ABOVE", 0)
        assert page(run) == whole


def test_a_sampled_timeline_counts_at_any_moment_over_the_whole_run():
    run = faults()
    whole = Timeline(run.trace)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Timeline, "SAMPLE_ABOVE", 0)
        part = Timeline(run.trace, times=[5.0, 10.0], window=0.5)
    assert part.sampled and part.counter_times is None
    for t in (5.0, 7.25, 10.0, 30.0):
        assert part.counters_at(t) == whole.counters_at(t)


def test_rows_out_of_time_order_are_read_whole():
    run = stopped_midway()
    rows = list(run.trace.rows)
    rows[3], rows[40] = rows[40], rows[3]
    trace = mq.Trace(rows, graph=run.trace.graph, messages=run.trace.messages)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Timeline, "SAMPLE_ABOVE", 0)
        assert not Timeline(trace, times=[1.0, 2.0]).sampled


# -- a long run --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_run():
    run = mm1(15_000)
    assert len(run.trace) > Timeline.SAMPLE_ABOVE  # long enough to be sampled as it is
    return run


def test_a_player_of_a_long_run_reads_only_what_its_frames_need(long_run):
    player = Player(long_run, frames=20, progress=False)
    tl = player.scene.timeline
    assert tl.sampled
    assert len(tl.read) < len(long_run.trace) / 20
    seen = set(tl.stays[4].tolist()) | set(tl.hops[4].tolist()) | set(tl.holds[4].tolist())
    assert len(seen) < 15_000 / 20  # a few hundred messages, not fifteen thousand
    assert isinstance(player.scene.colour_of, dict)  # one routing key: one colour
    whole = Timeline(long_run.trace)
    for t in player.frame_times[::4]:
        assert player.scene.snapshot(t) == whole.at(t, window=player.scene.fade)
    assert player.follow_box.max == 15_000
    player.close()


def test_the_charts_of_a_long_run_are_thinned_to_what_they_can_show(long_run):
    end = long_run.trace.duration
    times, lengths = metrics.queue_length(long_run.trace, "line")
    whole = np.array([*times, end]), np.array([*lengths, lengths[-1]])
    xs, ys = _queue_curve(long_run.trace, "line", end)
    assert len(whole[0]) > _MOST_POINTS and len(xs) < len(whole[0])
    assert (xs[0], ys[0], xs[-1], ys[-1]) == (0.0, 0, end, whole[1][-1])
    # sliver by sliver of the chart's width, the same lowest and highest length
    edges = np.linspace(0, end, 101)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        mine, theirs = ys[(xs >= a) & (xs < b)], whole[1][(whole[0] >= a) & (whole[0] < b)]
        assert (mine.min(), mine.max()) == (theirs.min(), theirs.max())


def test_a_long_runs_queue_steps_are_those_of_metrics():
    run = faults()
    end = run.trace.duration
    for q in ("a", "b", "dlq"):
        times, lengths = metrics.queue_length(run.trace, q)
        xs, ys = _long_queue_curve(run.trace, q, end)
        assert xs.tolist() == [*times, end] and ys.tolist() == [*lengths, lengths[-1]]


def test_thinning_keeps_each_slivers_first_lowest_highest_and_last():
    # a chart 10 s wide: slivers of 2.5 ms
    xs = np.array([0.0, 0.0001, 0.0002, 0.0003, 5.0, 5.0001])
    ys = np.array([1, 3, 0, 2, 4, 0])
    tx, ty = _thin_steps(xs, ys, 10.0)
    assert tx.tolist() == [0.0, 0.0, 0.0, 0.0003, 5.0, 5.0, 5.0, 5.0001]
    assert ty.tolist() == [1, 0, 3, 2, 4, 0, 4, 0]


def test_a_long_runs_colours_are_a_compact_table():
    colours = Colours(np.array([2, 5, 9]), np.array([1, 0, 2]))
    assert colours[5] == 0 and 3 not in colours and len(colours) == 3
    assert colours.lookup([9, 4, 2, 100]).tolist() == [2, 0, 1, 0]
    assert list(colours) == [2, 5, 9] and colours.largest() == 9


def test_a_long_runs_colours_are_those_of_the_whole_message_table():
    from mqlab.style import message_colours

    net = mq.Network(seed=2)
    net.producer("low", rate=0.5, routing_key="jobs", priority=1, count=9000)
    net.producer("high", rate=0.4, routing_key="urgent", priority=7, count=7000)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.queue("hub", "urgent")
    net.consumer("c", queue="jobs", service=mq.exponential(1.0))
    net.consumer("d", queue="urgent", service=mq.exponential(1.0))
    trace = net.run(until=None, progress=False).trace  # its message table: packed columns
    assert len(trace) > Timeline.SAMPLE_ABOVE
    for color_by in ("auto", "key", "priority", None):
        long = message_colours(trace, color_by)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Timeline, "SAMPLE_ABOVE", 10**9)
            whole = message_colours(trace, color_by)
        assert dict(long[0].items()) == whole[0] and long[1:] == whole[1:]
    assert isinstance(long[0], dict) and isinstance(message_colours(trace)[0], Colours)


def test_run_state_of_a_long_run_reads_only_that_moment(run, monkeypatch):
    whole = [Timeline(run).at(t) for t in (0.0, run.trace.duration / 3, run.trace.duration)]
    monkeypatch.setattr(Timeline, "SAMPLE_ABOVE", 0)
    assert [run.state(t) for t in (0.0, run.trace.duration / 3, run.trace.duration)] == whole
    with pytest.raises((TypeError, ValueError)):
        run.state("soon")
