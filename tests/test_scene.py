"""The animated scene: a run's state at any time, and the frames drawn from it."""

import matplotlib
import numpy as np
import pytest

import mqlab as mq
from mqlab import metrics
from mqlab.scene import Scene
from mqlab.style import TRAY_WIDTH

matplotlib.use("Agg")  # no window: every picture is drawn off-screen


def one_message(latency=1.0):
    """One message at t=1 over a link of ``latency`` s, then 0.5 s to the consumer."""
    net = mq.Network(seed=1)
    net.producer("sensor", schedule=[1.0], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=1.0)
    net.link("sensor", "hub", latency=latency)
    net.link("jobs", "worker", latency=0.5)
    return net.run(until=5)


def backlog():
    """Ten messages at once, a slow consumer: the queue fills, then drains one per second."""
    net = mq.Network(seed=1)
    net.producer("p", schedule=[0.5] * 10 + [0.6] * 5, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("slow", queue="jobs", service=1.0)
    return net.run(until=8)


# -- the scene's state ------------------------------------------------------------------------
def test_a_message_is_halfway_along_its_link_halfway_through_its_trip():
    run = one_message(latency=1.0)
    scene = Scene(run, metrics=False)
    start, end = scene.edge_ends[("sensor", "hub")]
    dots, ids = scene.dots(1.5)  # published at 1.0, arrives at 2.0
    assert ids.tolist() == [1]
    assert dots[0] == pytest.approx((start + end) / 2)
    assert scene.snapshot(1.5).on_links == [(1, "sensor", "hub", pytest.approx(0.5))]
    quarter = scene.dots(1.25)[0][0]
    assert quarter == pytest.approx(start + 0.25 * (end - start))


def test_a_delivered_message_travels_from_the_tray_to_the_consumer_then_is_served():
    scene = Scene(one_message(), metrics=False)
    start, end = scene.edge_ends[("jobs", "worker")]
    assert start[0] == pytest.approx(scene.pos["jobs"][0] + TRAY_WIDTH / 2)  # the tray's head
    on_the_way, _ = scene.dots(2.25)  # delivered at 2.0, arrives at 2.5
    assert on_the_way[0] == pytest.approx((start + end) / 2)
    assert scene.snapshot(3.0).serving == {"worker": [1]}
    assert scene.snapshot(4.0).serving == {"worker": []}  # acked at 3.5


def test_every_travelling_message_has_one_dot_and_an_id():
    net = mq.Network(seed=4)
    net.producer("p", interval=0.1, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("c", queue="jobs", service=0.05)
    net.link("p", "hub", latency=0.35)
    run = net.run(until=3)
    dots, ids = Scene(run, metrics=False).dots(2.0)
    sent = {r[2]: r[0] for r in run.trace.rows if r[1] == "publish"}
    on_the_way = [m for m, t0 in sent.items() if 2.0 - 0.35 < t0 <= 2.0]
    assert sorted(ids.tolist()) == on_the_way
    assert len(dots) == len(on_the_way) >= 3


def test_the_drawn_dot_is_where_the_snapshot_says():
    scene = Scene(one_message(), metrics=False)
    scene.draw(1.5)
    drawn = np.vstack([np.column_stack(line.get_data()) for line in scene._dots.lines])
    assert drawn == pytest.approx(scene.dots(1.5)[0])


@pytest.mark.parametrize("t", [0.4, 0.55, 0.65, 2.7, 5.2, 7.9])
def test_queue_boxes_match_the_queue_length_from_metrics(t):
    run = backlog()
    times, lengths = metrics.queue_length(run.trace, "jobs")
    expected = lengths[np.searchsorted(times, t, "right") - 1]
    scene = Scene(run, metrics=False, slots=8)
    assert len(scene.snapshot(t).queues["jobs"]) == expected
    scene.draw(t)
    boxes = sum(len(line.get_xdata()) for line in scene._boxes.lines)
    assert boxes == min(expected, 8)
    assert scene._queue_text["jobs"] == str(expected)


def test_the_queue_length_reaches_fourteen_and_the_tray_shows_the_head_first():
    scene = Scene(backlog(), metrics=False, slots=8)
    waiting = scene.snapshot(0.7).queues["jobs"]
    assert len(waiting) == 14  # 15 sent, 1 taken by the consumer
    assert waiting == sorted(waiting)  # FIFO: the oldest (smallest id) is the head
    scene.draw(0.7)
    xs = np.concatenate([line.get_xdata() for line in scene._boxes.lines])
    right = scene.pos["jobs"][0] + TRAY_WIDTH / 2
    assert xs.max() == pytest.approx(right - scene.slot / 2)


def test_a_crashed_consumer_is_greyed_out_while_down():
    net = mq.Network(seed=1)
    net.producer("p", interval=0.5, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("c", queue="jobs", crash=[(2.0, 4.0)])
    scene = Scene(net.run(until=6), metrics=False)
    assert scene.snapshot(1.0).down == []
    assert scene.snapshot(3.0).down == ["c"]
    scene.draw(3.0)
    assert scene._down.get_offsets().tolist() == [list(scene.pos["c"])]
    assert scene.snapshot(4.5).down == []


def test_a_drop_is_marked_where_it_happened_and_fades():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[1.0, 1.0], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs", capacity=1, overflow="reject-publish")
    run = net.run(until=10)
    assert [r[1] for r in run.trace.rows].count("drop") == 1
    scene = Scene(run, metrics=False, fade=0.5)
    assert [(k, n) for k, n, _ in scene.snapshot(1.2).marks] == [("drop", "jobs")]
    assert scene.snapshot(1.6).marks == []
    scene.draw(1.25)
    assert scene._drops.get_facecolors()[0][3] == pytest.approx(0.5)  # half faded


def test_messages_are_coloured_by_priority():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[1.0, 1.1], routing_key="jobs", priority=[1, 9])
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority")
    run = net.run(until=3)
    scene = Scene(run, metrics=False)
    prios = {m: msg.priority for m, msg in run.trace.messages.items()}
    assert len(set(prios.values())) == 2
    assert scene.colour_of[1] != scene.colour_of[2]
    assert [name for name, _ in scene.colour_legend] == ["priority 1", "priority 9"]


def test_frames_at_different_times_differ_and_have_the_figure_size():
    scene = Scene(one_message(), size=(8, 5), dpi=100)
    assert scene.rgb(1.5).shape == (500, 800, 3)
    assert scene.jpeg(1.2)[:2] == b"\xff\xd8"  # a JPEG
    assert scene.jpeg(1.2) != scene.jpeg(1.7)
    assert scene.jpeg(1.2) == scene.jpeg(1.2)  # drawing is repeatable


def test_counters_count_events_up_to_t():
    scene = Scene(one_message(), metrics=False)
    assert scene.counters(0.5) == {"published": 0, "delivered": 0, "acked": 0, "dropped": 0}
    assert scene.counters(4.0) == {"published": 1, "delivered": 1, "acked": 1, "dropped": 0}


def test_a_trace_without_a_graph_is_refused():
    with pytest.raises(ValueError, match="graph"):
        Scene(mq.Trace([(0.0, "publish", 1, "p", "hub", "")]))
    with pytest.raises(TypeError, match="Run or a Trace"):
        Scene([(0.0, "publish", 1, "p", "hub", "")])


def test_making_a_scene_leaves_matplotlib_settings_alone():
    before = dict(matplotlib.rcParams)
    Scene(one_message())
    assert dict(matplotlib.rcParams) == before


def test_a_priority_queue_tray_shows_the_highest_priority_at_the_head():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[0.1, 0.2, 0.3, 0.4], routing_key="jobs", priority=[1, 5, 3, 5])
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority")
    run = net.run(until=1)
    prio = {m: msg.priority for m, msg in run.trace.messages.items()}
    waiting = Scene(run, metrics=False).snapshot(0.9).queues["jobs"]
    assert [prio[m] for m in waiting] == sorted(prio.values(), reverse=True)
    fives = [m for m in waiting if prio[m] == 5]
    assert fives == sorted(fives)  # equal priorities: oldest first


# -- the charts under the network ----------------------------------------------------------------
def _chart_pixels(scene, image, ax):
    """The pixels of a chart's plotting area in a frame, and the pixel column of each time."""
    x0, y0, x1, y1 = (int(round(v)) for v in ax.bbox.extents)
    height = image.shape[0]
    area = image[height - y1 + 2:height - y0 - 2, x0 + 2:x1 - 2]
    def column(t):
        return int(ax.transData.transform((t, 0))[0]) - x0 - 2
    return area, column


@pytest.mark.parametrize("chart", ["queue", "latency", "throughput"])
def test_a_chart_shows_the_run_only_up_to_the_moment_of_the_frame(chart):
    run = backlog()  # the queue is busy from 0.5 s on, acks from 1.5 s on
    scene = Scene(run, charts=(chart,))
    ax = scene.chart_axes[0]
    at_5, column = _chart_pixels(scene, scene.rgb(5.0), ax)
    at_end, _ = _chart_pixels(scene, scene.rgb(run.trace.duration), ax)
    at_0, _ = _chart_pixels(scene, scene.rgb(0.0), ax)
    now = column(5.0)
    # right of the moment: as blank as at the start (the cursor aside); left of it: the curve
    assert (at_5[:, now + 3:] == at_0[:, now + 3:]).all()
    assert (at_5[:, :now - 2] != at_0[:, :now - 2]).any()
    # ... and it is drawn there at the end of the run: the blank is not an empty chart
    assert (at_end[:, now + 3:] != at_5[:, now + 3:]).any()


def test_the_default_charts_are_queue_length_and_throughput():
    scene = Scene(backlog())
    assert scene.charts == ("queue", "throughput") and len(scene.chart_axes) == 2
    assert scene.chart_axes[0].get_ylabel().startswith("queue length")
    assert scene.chart_axes[1].get_ylabel().startswith("acks/s in the")
    assert Scene(backlog(), metrics=False).chart_axes == []


def test_three_charts_sit_side_by_side_without_overlapping():
    run = backlog()
    scene = Scene(run, charts=("queue", "latency", "throughput"))
    boxes = [a.get_position() for a in scene.chart_axes]
    assert [a.get_ylabel().split()[0] for a in scene.chart_axes] == ["queue", "latency,",
                                                                      "acks/s"]
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 + 0.05 < right.x0
    dots = [line for line in scene.chart_axes[1].lines if not line.get_animated()]
    acks = run.trace.filter(kind="ack").column("time")
    assert dots[0].get_xdata().tolist() == acks  # a dot per acked message, when acked


def test_the_throughput_curve_uses_only_the_past():
    run = backlog()
    scene = Scene(run, charts=("throughput",))
    line = next(line for line in scene.chart_axes[0].lines if line.get_label() == "slow")
    xs, ys = line.get_xdata(), line.get_ydata()
    acks = np.array(run.trace.filter(kind="ack").column("time"))
    window = float(scene.chart_axes[0].get_ylabel().split("last ")[1].split(" s")[0])
    for x, y in zip(xs, ys, strict=True):
        assert y == pytest.approx(np.sum((acks <= x) & (acks > x - window)) / window)


@pytest.mark.parametrize(("charts", "message"), [
    (("queue", "speed"), "'speed' is not a chart"),
    (("queue", "queue"), "each chart once"),
    ("lag", "'lag' is not a chart"),
])
def test_a_bad_chart_name_is_refused(charts, message):
    with pytest.raises(ValueError, match=message):
        Scene(backlog(), charts=charts)


def test_charts_without_metrics_is_a_contradiction():
    with pytest.raises(ValueError, match="metrics=False draws no charts"):
        Scene(backlog(), metrics=False, charts=("queue",))
    assert Scene(backlog(), charts=()).chart_axes == []


def test_the_player_passes_charts_to_its_scene():
    p = backlog().play(frames=3, charts=("latency",), progress=False)
    assert p.scene.charts == ("latency",)


def test_a_pulse_exactly_its_fade_old_does_not_break_a_frame():
    """Frames 0.1 s apart on 0.1 s links put pulses exactly at their fade time, where the
    alpha came out a hair below zero."""
    net = mq.Network(seed=1)
    net.producer("shop", interval=0.5, count=40, routing_key="orders")
    net.broker("hub")
    net.queue("hub", "orders")
    net.consumer("fast", queue="orders", service=0.2, prefetch=None)
    net.consumer("slow", queue="orders", service=1.5, prefetch=None)
    for c in ("fast", "slow"):
        net.link("hub", c, latency=0.1)
    net.link("shop", "hub", latency=0.1)
    run = net.run()
    player = run.play(start=0, stop=20, frames=201)
    for i in range(0, 201, 7):
        player.show(i)
    player.close()
