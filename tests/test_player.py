"""The Player widget, driven from Python as a test (no browser): frames, stepping, seeking."""

import re
import threading

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab.player import Player
from mqlab.scene import frame_times

matplotlib.use("Agg")

FRAMES = 21  # frames at 0, 0.5, 1.0, ... 10 s


@pytest.fixture(scope="module")
def run():
    net = mq.Network(seed=7)
    net.producer("sensor", interval=0.5, routing_key="jobs", count=12)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=3, overflow="drop-head")
    net.consumer("w1", queue="jobs", service=0.8)
    net.link("sensor", "hub", latency=0.2)
    return net.run(until=10)


@pytest.fixture(scope="module")
def player(run):
    return Player(run, frames=FRAMES, progress=False)


def test_a_player_prerenders_one_jpeg_image_per_frame(player):
    assert player.frame_times.tolist() == pytest.approx(np.arange(21) * 0.5)
    assert len(player.images) == len(player.stack.children) == FRAMES
    assert all(isinstance(im, widgets.Image) and im.format == "jpeg" for im in player.images)
    assert player.images[0].value[:2] == b"\xff\xd8"
    assert player.play.max == player.slider.max == FRAMES - 1


def test_play_slider_and_picture_are_linked_in_the_browser(player):
    pairs = {(link.source[1], link.target[1]) for link in player._links}
    assert pairs == {("value", "value"), ("value", "selected_index")}
    assert {link.target[0] for link in player._links} == {player.slider, player.stack,
                                                          player.recent}
    assert all(link.source[0] is player.play for link in player._links)


def test_moving_the_time_changes_the_picture(player):
    player.show(2)
    first = player.image
    player.seek(4.0)
    assert player.index == 8 and player.stack.selected_index == 8 and player.slider.value == 8
    assert player.time == pytest.approx(4.0)
    assert player.image != first
    assert player.image == player.frames[8]


def test_step_forward_and_back_move_one_frame(player):
    player.seek(3.0)
    player.step(+1)
    assert player.time == pytest.approx(3.5)
    after_forward = player.image
    player.step(-1)
    player.step(-1)
    assert player.time == pytest.approx(2.5)
    assert player.image != after_forward


def test_stepping_stops_at_the_ends(player):
    player.show(0)
    player.step(-1)
    assert player.index == 0
    player.show(FRAMES - 1)
    player.step(+5)
    assert player.time == pytest.approx(10.0)


def test_the_counters_and_events_follow_the_time(player, run):
    player.seek(5.0)
    published = sum(1 for r in run.trace.rows if r[1] == "publish" and r[0] <= 5.0)
    assert published == 10
    assert player.scene.counters(player.time)["published"] == published
    shown = player.recent.children[player.recent.selected_index].value
    assert "t = 5.00 s" in shown
    last = [r for r in run.trace.rows if r[0] <= 5.0][-1]
    assert f"{last[0]:8.3f}  {last[1]:<11}" in shown


def test_speed_sets_the_play_interval(run):
    p = Player(run, frames=5, fps=20, progress=False)
    assert p.play.interval == 50
    p.speed.value = 2.0
    assert p.play.interval == 25
    p.close()


def test_following_a_message_rings_it_only_in_the_frames_where_it_is(run):
    p = Player(run, frames=FRAMES, progress=False)
    before = list(p.frames)
    times = [r[0] for r in run.trace.rows if r[2] == 3]  # published at 1.5 s
    p.follow_box.value = 3
    changed = [i for i in range(FRAMES) if p.frames[i] != before[i]]
    assert changed and all(times[0] <= p.frame_times[i] <= times[-1] for i in changed)
    assert p.images[changed[0]].value == p.frames[changed[0]]
    assert "message 3" in p.story.value and "publish" in p.story.value
    p.follow(None)
    assert p.frames == before
    p.close()


def test_a_player_accepts_a_trace_but_not_one_without_a_graph(run):
    p = Player(run.trace, frames=3, progress=False)
    assert p.frame_times[-1] == pytest.approx(10.0)
    p.close()
    with pytest.raises(ValueError, match="graph"):
        Player(mq.Trace([(0.0, "publish", 1, "p", "hub", "")]), frames=3)
    with pytest.raises(ValueError, match="frames"):
        Player(run, frames=0)


def test_run_play_returns_a_player_and_leaves_no_thread_behind(run):
    threads = threading.active_count()
    p = run.play(frames=4, progress=False)
    assert isinstance(p, Player) and len(p.frames) == 4
    p.close()
    assert threading.active_count() == threads


def test_the_text_repr_is_short_and_holds_no_image_bytes(player):
    assert repr(player) == "<Player: 21 frames of a run of 10 s>"
    assert player._repr_mimebundle_()["text/plain"] == repr(player)


def open_widgets() -> int:
    """How many widgets are open in this process (each one was a message to the browser)."""
    from ipywidgets.widgets.widget import _instances

    return sum(1 for w in list(_instances.values()) if w.comm is not None)


def test_a_player_sends_few_widgets_and_closes_them_all(run):
    """Each widget is one message when the cell runs; a burst of more than about a thousand
    can be dropped on the way to the browser (ZeroMQ's high-water mark), leaving the cell
    busy for ever. So the frames share their layout and the text panels theirs."""
    before = open_widgets()
    p = Player(run, frames=200, progress=False)
    made = open_widgets() - before
    assert made <= 2 * 200 + 50, f"{made} widgets for 200 frames"
    p.close()
    assert open_widgets() - before <= 2


# -- a window of the run -------------------------------------------------------------------------
def test_a_window_puts_every_frame_between_start_and_stop(run):
    p = Player(run, start=2.0, stop=3.0, frames=11, progress=False)
    assert p.frame_times[0] == pytest.approx(2.0) and p.frame_times[-1] == pytest.approx(3.0)
    assert all(2.0 <= t <= 3.0 for t in p.frame_times) and len(p.frame_times) == 11
    assert p.window == (2.0, 3.0)
    assert "from 2 s to 3 s" in repr(p)
    # the picture at the window's first frame is the scene at 2 s, not at 0 s
    assert p.images[0].value == p.scene.jpeg(2.0, p.quality)


def test_a_windows_charts_span_the_window_and_a_whole_run_the_run(run):
    windowed = Player(run, start=2.0, stop=3.0, frames=11, progress=False)
    assert windowed.scene.chart_axes  # the charts are on by default
    assert all(ax.get_xlim() == pytest.approx((2.0, 3.0)) for ax in windowed.scene.chart_axes)
    whole = Player(run, frames=11, progress=False)
    assert all(ax.get_xlim() == pytest.approx((0.0, run.trace.duration))
               for ax in whole.scene.chart_axes)
    windowed.close()
    whole.close()


def test_a_windows_charts_are_scaled_to_what_the_window_shows():
    net = mq.Network(seed=1)  # a queue that grows all run long, to about 100
    net.producer("p", interval=0.1, count=200, routing_key="q")
    net.broker("hub")
    net.queue("hub", "q")
    net.consumer("c", queue="q", service=0.2)
    grows = net.run(until=20)
    whole = Player(grows, frames=11, charts="queue", progress=False)
    early = Player(grows, start=0, stop=2, frames=11, charts="queue", progress=False)
    top_whole = whole.scene.chart_axes[0].get_ylim()[1]
    top_early = early.scene.chart_axes[0].get_ylim()[1]
    assert top_whole > 80 and 5 < top_early < 20  # ~10 waiting after 2 s, not the run's ~100
    whole.close()
    early.close()


def test_a_legend_too_wide_for_its_chart_moves_inside_it():
    net = mq.Network(seed=1)
    net.producer("p", interval=0.1, count=50, routing_key="q")
    net.broker("hub")
    net.queue("hub", "q")
    for i in range(5):
        net.consumer(f"a-consumer-with-a-long-name-{i}", queue="q", service=0.3)
    player = Player(net.run(until=10), frames=5, progress=False)
    renderer = player.scene.canvas.get_renderer()
    for ax in player.scene.chart_axes:
        legend = ax.get_legend()
        assert legend is not None
        assert legend.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width
    labels = [t.get_text() for t in player.scene.chart_axes[-1].get_legend().get_texts()]
    assert "all" in labels  # nothing cut off the end
    player.close()


def test_a_window_shows_a_short_trip_in_several_frames(run):
    # message 3 is published at 1.0 s over a 0.2 s link: frames 0.5 s apart catch it on the
    # link at most once, a 1 s window in 21 frames (0.05 s apart) several times
    def frames_on_the_link(player):
        return sum(any(m == 3 and src == "sensor" for m, src, _, _ in
                       player.scene.snapshot(float(t)).on_links) for t in player.frame_times)

    assert frames_on_the_link(Player(run, frames=21, progress=False)) <= 1
    assert frames_on_the_link(Player(run, start=1.0, stop=2.0, frames=21, progress=False)) >= 3


def test_start_alone_and_stop_alone_take_the_rest_of_the_run(run):
    assert Player(run, start=8.0, frames=3, progress=False).frame_times.tolist() == \
        pytest.approx([8.0, 9.0, 10.0])
    assert Player(run, stop=2.0, frames=3, progress=False).frame_times.tolist() == \
        pytest.approx([0.0, 1.0, 2.0])


def test_a_stop_beyond_the_end_is_cut_back_to_the_end(run):
    p = Player(run, start=6.0, stop=100.0, frames=5, progress=False)
    assert p.window == (6.0, 10.0) and p.frame_times[-1] == pytest.approx(10.0)


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"start": -1.0}, ValueError, "start must be >= 0"),
    ({"start": 10.0}, ValueError, "start must be before the end of the run (10 s)"),
    ({"start": 12.5}, ValueError, "start must be before the end"),
    ({"start": 3.0, "stop": 3.0}, ValueError, "stop must be after start (3 s)"),
    ({"start": 3.0, "stop": 1.0}, ValueError, "stop must be after start"),
    ({"stop": 0.0}, ValueError, "stop must be after start (0 s)"),
    ({"start": "1"}, TypeError, "start must be a time in seconds"),
    ({"stop": float("nan")}, TypeError, "stop must be a time in seconds"),
    ({"start": True}, TypeError, "start must be a time in seconds"),
    ({"frames": 1}, ValueError, "frames must be an int >= 2"),
    ({"frames": 2.5}, ValueError, "frames must be an int >= 2"),
    ({"frames": True}, ValueError, "frames must be an int >= 2"),
])
def test_a_bad_window_or_frame_count_is_refused_by_name(run, options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        Player(run, progress=False, **options)
    with pytest.raises(error, match=re.escape(message)):
        run.play(progress=False, **options)


def test_the_exports_take_the_same_window(run, tmp_path):
    from PIL import Image

    from mqlab.export import save_gif, to_html

    page = to_html(run, start=2.0, stop=4.0, frames=5, progress=False)
    assert "[2.0, 2.5, 3.0, 3.5, 4.0]" in page
    path = save_gif(run, tmp_path / "w.gif", start=2.0, stop=4.0, frames=3, progress=False)
    assert Image.open(path).n_frames == 3
    with pytest.raises(ValueError, match="stop must be after start"):
        run.to_html(start=5.0, stop=4.0)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 1000), st.floats(0, 1), st.floats(0.001, 2), st.integers(2, 400))
def test_window_frames_are_in_order_and_inside_the_window(duration, a, b, frames):
    start = a * duration * 0.999
    stop = start + b * duration
    times = frame_times(duration, frames, start, stop)
    assert len(times) == frames
    assert times[0] == pytest.approx(start) and times[-1] == pytest.approx(min(stop, duration))
    assert all(start <= t <= min(stop, duration) for t in times)
    assert (np.diff(times) > 0).all()
