"""The Player: watch a finished run in the notebook, play it, pause it, step back and forth.

A run is a finished Trace, so every frame can be drawn before playback starts. The Player draws
them once (a few hundred frames, a few seconds at most) into a stack of images and links the
stack, the Play button and the time slider *in the browser*: playback, stepping and scrubbing
then run at full speed with no round trip to the Python kernel. Only the text panels (counters,
latest events, the followed message) are refreshed from Python when the frame changes.

>>> import mqlab as mq
>>> net = mq.Network(seed=1)
>>> net.producer("p", interval=0.5, routing_key="jobs", count=4)
>>> net.broker("hub"); net.queue("hub", "jobs"); net.consumer("c", queue="jobs")
>>> player = Player(net.run(until=4), frames=20)
>>> player.step(+1); round(player.time, 3)
0.211
"""

from __future__ import annotations

import html
from bisect import bisect_right
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipywidgets.widgets.widget_string import HTMLStyle

from mqlab.scene import Scene, frame_times, render_frames, time_window
from mqlab.state import State
from mqlab.trace import as_trace

__all__ = ["Player"]

SPEEDS = [("0.25x", 0.25), ("0.5x", 0.5), ("1x", 1.0), ("2x", 2.0), ("4x", 4.0)]
_RECENT = 8  # events listed under the picture


class Player(widgets.VBox):
    """An animated replay of a run: the network with moving messages, controls and counters.

    ``frames``: how many moments of the run to draw (an int >= 2, evenly spaced; long runs are
    thinned to this many). ``start``, ``stop``: the window of the run to draw, in seconds
    (default: all of it), so that a short hop in a long run gets frames of its own; a
    ``stop`` after the end of the run is cut back to the end. ``fps``: frames per second at 1x
    speed. ``follow``: a message id to highlight. Other keywords (``color_by``, ``metrics``,
    ``charts``, ``size``) go to :class:`~mqlab.scene.Scene`.

    A long run is read only where its frames need it (:class:`~mqlab.state.Timeline`), so a
    Player of a million messages is built in seconds; ``state`` is exact at its frames.

    >>> Player(net.run(until=60), start=10, stop=12, frames=41)   # doctest: +SKIP
    <Player: 41 frames of a run of 60 s, from 10 s to 12 s>
    """

    def __init__(self, run_or_trace: Any, frames: int = 200, fps: float = 25,
                 follow: int | None = None, quality: int = 80, progress: Any = "auto",
                 start: float | None = None, stop: float | None = None,
                 **scene_options: Any) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
            raise ValueError(f"frames must be an int >= 2 (a first and a last moment at "
                             f"least), got {frames!r}")
        if getattr(run_or_trace, "recorded", True) is False:
            raise ValueError("this run was made with trace=False: there is nothing to animate "
                             "(run again with trace=True)")
        self.trace = as_trace(run_or_trace, need_graph=True)
        _check_follow(self.trace, follow)
        self.window = time_window(self.trace.duration, start, stop)
        self.frame_times = frame_times(self.trace.duration, frames, *self.window)
        times = self.frame_times
        step = times[1] - times[0] if len(times) > 1 else 1.0
        scene_options.setdefault("fade", 3 * step)  # a drop mark lasts three frames
        # a long run is read only for these frames (see mqlab.state.Timeline)
        self.scene = Scene(self.trace, follow=follow, times=self.frame_times, **scene_options)
        self.fps, self.quality, self._progress = fps, quality, progress
        self.frames = render_frames(self.scene, self.frame_times, quality, progress)
        self._event_times = self.trace.columns()[0]  # searched with bisect, as a list was
        super().__init__(children=self._build_widgets())
        self._show_story()

    # -- widgets -------------------------------------------------------------------------------
    def _build_widgets(self) -> list:
        last = len(self.frames) - 1
        width = f"{self.scene.size[0]}px"  # its own size: sharp, and smaller if need be
        # Every widget is one message to the browser as the cell runs, and a burst of more than
        # about a thousand can be dropped on the way (ZeroMQ's high-water mark): so the frames
        # share one Layout, and the text panels one Layout and one style, instead of one each.
        self._shared = [widgets.Layout(width=width, max_width="100%"), widgets.Layout(),
                        HTMLStyle()]
        frame_layout, text_layout, text_style = self._shared
        self.images = [widgets.Image(value=b, format="jpeg", layout=frame_layout)
                       for b in self.frames]
        self.stack = widgets.Stack(children=self.images, selected_index=0)
        self.play = widgets.Play(min=0, max=last, step=1, interval=self._interval(1.0),
                                 show_repeat=False, description="play")
        self.slider = widgets.IntSlider(min=0, max=last, readout=False,
                                        layout={"flex": "1 1 auto"}, description="time")
        # the latest events at each frame, drawn up front like the pictures
        self.recent = widgets.Stack(children=[
            widgets.HTML(self._recent_events(t), layout=text_layout, style=text_style)
            for t in self.frame_times], selected_index=0)
        # browser-side links: playing, stepping and scrubbing never wait for the kernel, and
        # the kernel has no per-frame work to fall behind on
        self._links = [widgets.jslink((self.play, "value"), (w, attr)) for w, attr in
                       ((self.slider, "value"), (self.stack, "selected_index"),
                        (self.recent, "selected_index"))]
        self.back = widgets.Button(icon="step-backward", tooltip="one frame back",
                                   layout={"width": "40px"})
        self.forward = widgets.Button(icon="step-forward", tooltip="one frame forward",
                                      layout={"width": "40px"})
        self.back.on_click(lambda _: self.step(-1))
        self.forward.on_click(lambda _: self.step(+1))
        self.speed = widgets.Dropdown(options=SPEEDS, value=1.0, description="speed",
                                      layout={"width": "150px"})
        self.speed.observe(lambda change: setattr(self.play, "interval",
                                                  self._interval(change["new"])), "value")
        self.follow_box = widgets.BoundedIntText(
            value=self.scene.follow or 0, min=0, max=self._largest_message_id(),
            description="follow msg", layout={"width": "180px"},
            tooltip="a message id (0: none); its dot gets a ring")
        self.story = widgets.HTML()
        self.follow_box.observe(lambda change: self.follow(change["new"] or None), "value")
        controls = widgets.HBox([self.back, self.play, self.forward, self.slider, self.speed])
        panels = widgets.HBox([self.recent, widgets.VBox([self.follow_box, self.story])],
                              layout={"justify_content": "space-between"})
        return [self.stack, controls, panels]

    def _interval(self, speed: float) -> int:
        return max(1, round(1000 / (self.fps * speed)))

    def _largest_message_id(self) -> int:
        """The largest id of a coloured message, or else of any message (0 if none)."""
        colours = self.scene.colour_of
        if colours:
            largest = getattr(colours, "largest", None)  # a long run's (mqlab.style.Colours)
            return largest() if largest is not None else max(colours)
        msgs = self.trace.columns()[2]
        return max(int(msgs.max()), 0) if len(msgs) else 0

    # -- driving it from Python ----------------------------------------------------------------
    @property
    def index(self) -> int:
        """The number of the frame on show."""
        return int(self.play.value)

    @property
    def time(self) -> float:
        """The run time (seconds) of the frame on show."""
        return float(self.frame_times[self.index])

    @property
    def state(self) -> State:
        """Where everything is in the frame on show (plain data: see :class:`mqlab.state.State`)."""
        return self.scene.snapshot(self.time)

    @property
    def image(self) -> bytes:
        """The JPEG bytes of the frame on show."""
        return self.images[self.stack.selected_index].value

    def show(self, index: int) -> None:
        """Show frame number ``index`` (clamped to the run)."""
        index = int(min(max(index, 0), len(self.frames) - 1))
        # the jslinks only act in a browser, so set all three from Python too
        self.play.value = index
        self.slider.value = index
        self.stack.selected_index = index
        self.recent.selected_index = index

    def step(self, frames: int = 1) -> None:
        """Move ``frames`` frames forward (negative: back), pausing playback."""
        self.play.playing = False
        self.show(self.index + frames)

    def seek(self, t: float) -> None:
        """Show the frame nearest to run time ``t`` seconds."""
        self.show(int(np.argmin(np.abs(self.frame_times - t))))

    def follow(self, msg: int | None) -> None:
        """Ring message ``msg`` in every frame and list its events (None: follow nothing)."""
        before, self.scene.follow = self.scene.follow, msg
        redo = self._frames_with(before) | self._frames_with(msg)
        if redo:
            order = sorted(redo)
            fresh = render_frames(self.scene, self.frame_times[order], self.quality,
                                  self._progress, label="highlighting")
            for i, jpeg in zip(order, fresh, strict=True):
                self.frames[i] = self.images[i].value = jpeg
        if self.follow_box.value != (msg or 0):
            self.follow_box.value = msg or 0
        self._show_story()

    def _frames_with(self, msg: int | None) -> set[int]:
        """The frames in which a message can be seen (from its first to its last event)."""
        if msg is None:
            return set()
        times = self.trace.filter(msg=msg).column("time")
        if not times:
            return set()
        lo = np.searchsorted(self.frame_times, times[0], "left")
        hi = np.searchsorted(self.frame_times, times[-1], "right")
        return set(range(int(lo), int(hi)))

    def close(self) -> None:
        """Close the Player and every widget inside it (frees the frames in the browser)."""
        if not hasattr(self, "images"):  # failed half-way through __init__
            return
        for link in self._links:
            link.close()
        parts = [*self.images, self.stack, self.play, self.slider, self.back, self.forward,
                 self.speed, *self.recent.children, self.recent, self.follow_box, self.story,
                 *self.children, self]
        # each widget's layout and style are widgets too (the shared ones counted once)
        looks = {id(x): x for w in parts for x in (getattr(w, "layout", None),
                                                    getattr(w, "style", None)) if x is not None}
        for w in parts[:-1]:
            w.close()
        super().close()
        for x in looks.values():
            x.close()

    def __repr__(self) -> str:
        # short and stable: a notebook's saved text output must not hold the frames' bytes
        if not hasattr(self, "images"):
            return "<Player (not built)>"
        start, stop = self.window
        part = "" if (start, stop) == (0.0, self.trace.duration) else (
            f", from {start:g} s to {stop:g} s")
        return f"<Player: {len(self.images)} frames of a run of {self.trace.duration:g} s{part}>"

    # -- text panels ---------------------------------------------------------------------------
    def _recent_events(self, t: float) -> str:
        end = bisect_right(self._event_times, t)
        return _table(f"latest events at t = {t:.2f} s",
                      self.trace.rows[max(0, end - _RECENT):end])

    def _show_story(self) -> None:
        msg = self.scene.follow
        if msg is None:
            self.story.value = "<small>type a message id to follow it</small>"
            return
        rows = self.trace.filter(msg=msg).rows
        self.story.value = _table(f"message {msg}", rows) if rows else (
            f"<small>no message {msg} in this run</small>")


def _check_follow(trace, follow: Any) -> None:
    """``follow`` must be None or the id of a message that appears in the trace."""
    if follow is None:
        return
    if isinstance(follow, bool) or not isinstance(follow, int):
        raise TypeError(f"follow must be a message id (an int) or None, got {follow!r}")
    if not len(trace.filter(msg=follow)):
        msgs = trace.columns()[2]
        ids = msgs[msgs != 0]
        known = (f"{int(ids.min())} to {int(ids.max())}" if len(ids)
                 else "none: the run has no messages")
        raise ValueError(f"follow must be the id of a message in this run ({known}), "
                         f"got {follow}")


def _table(title: str, rows: list[tuple]) -> str:
    """Trace rows as a small monospaced table."""
    lines = [f"{t:8.3f}  {kind:<11} {msg:>5}  {node:<10} {peer:<10} {info}"
             for t, kind, msg, node, peer, info in rows]
    body = html.escape("\n".join(lines) or "(none yet)")
    return (f"<b>{html.escape(title)}</b><pre style='font-size:11px;line-height:1.25;"
            f"margin:2px 0'>{body}</pre>")
