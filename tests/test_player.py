"""The Player widget, driven from Python as a test (no browser): frames, stepping, seeking."""

import threading

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

import mqlab as mq
from mqlab.player import Player

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
