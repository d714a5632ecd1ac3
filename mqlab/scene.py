"""Animate a run: a :class:`Scene` shows the state of the network at any time ``t``.

Messages are dots on the links, queue contents are boxes in the trays, messages in service sit
at the consumers, drops and dead-letters are marked and fade. A partition of a topic is a log:
a row of cells holding the newest records it keeps (offsets below them, growing to the right;
the number on the left counts every record kept), a triangle under it for each consumer
group's committed offset, and a faint green edge to the consumer of each group assigned to
read it; a record read by a consumer travels to it as a dot and stays in the log.

Where everything is comes from :class:`mqlab.state.Timeline` (plain data, no drawing); the
unchanging picture is :func:`mqlab.draw.draw_network`; colours and shapes come from
:mod:`mqlab.style`.

A Scene draws that unchanging picture once and then, for each frame, only the parts that move
(blitting), so a frame costs milliseconds instead of redrawing the whole figure. The text that
changes every frame is drawn by Pillow, and a frame comes out as an image or JPEG bytes.
:meth:`Scene.snapshot` gives the state shown at ``t`` as plain data (a
:class:`~mqlab.state.State`); :func:`render_frames` draws many moments, for the Player and the
exports.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from mqlab import metrics
from mqlab.draw import (
    bend,
    draw_network,
    draw_nodes,
    layout,
    legend_columns,
    legend_handles,
    network_rows,
    ports,
    role_legend,
)
from mqlab.progress import Progress
from mqlab.state import COUNTERS, MARKS, State, Timeline, rows_where, shape_counts
from mqlab.style import (
    COUNT_SLOTS,
    DEAD,
    DOWN,
    DROP,
    EDGE,
    OKABE_ITO,
    ROLE_STYLE,
    SERIES_COLOURS,
    TRAY_HEIGHT,
    TRAY_WIDTH,
    message_colours,
)
from mqlab.trace import as_trace, role_of

__all__ = ["CHARTS", "Scene", "frame_times", "render_each", "render_frames", "time_window"]

# the edge from a lock to the thread holding it (and, fainter, from a log partition to the
# consumer of each group assigned to read it)
HOLD = OKABE_ITO["green"]
_COUNT_SLOTS = COUNT_SLOTS  # room for the number of waiting messages, at the tray's tail


# -- the animated scene ------------------------------------------------------------------------
class Scene:
    """A run drawn on a fixed figure; ``scene.draw(t)`` shows the state at time ``t``.

    The graph, labels and metric curves are drawn once; each frame only moves the message
    dots, refills the queue trays and fades the marks, then blits them over a saved copy of the
    background. ``metrics=True`` adds a panel of charts under the network, drawn up to the
    moment shown (the rest of the run is still blank) with a cursor at that moment; ``charts``
    chooses them, in order, among "queue" (queue length of the busiest queues, or records kept
    by log partitions), "latency" (publish to ack of each message, at the time of its ack) and
    "throughput" (acks per second of the busiest consumers); default ("queue", "throughput").
    ``color_by``: "auto", "priority", "key" (routing key) or None. ``fade``: seconds a drop
    mark stays visible. ``follow``: a message id to ring wherever it is. ``size``: inches
    (default: 9.6 wide, as tall as the network needs). ``times``: the moments that will be
    drawn (a Player's frames, say): a long run is then read only for them (see
    :class:`~mqlab.state.Timeline`), and other moments may miss messages.

    >>> import mqlab as mq
    >>> net = mq.Network(seed=1)
    >>> net.producer("p", schedule=[0.0, 0.0, 0.0], routing_key="jobs")
    >>> net.broker("hub"); net.queue("hub", "jobs"); net.consumer("c", queue="jobs", service=1)
    >>> scene = Scene(net.run(until=3), metrics=False)
    >>> state = scene.snapshot(0.5)
    >>> state.serving, state.queues
    ({'c': [1]}, {'jobs': [2, 3]})
    >>> scene.save("frame.png", 0.5)   # doctest: +SKIP
    """

    def __init__(self, run_or_trace: Any, *, metrics: bool = True,
                 charts: Sequence[str] | str | None = None,
                 color_by: str | None = "auto", size: tuple[float, float] | None = None,
                 dpi: int = 100, fade: float | None = None, slots: int = 8,
                 follow: int | None = None, times: Sequence[float] | None = None) -> None:
        self.charts = _chart_names(charts, metrics)
        trace = as_trace(run_or_trace, need_graph=True)
        self.trace, self.graph = trace, trace.graph
        self.pos = layout(self.graph)
        self.follow = follow
        self.slots = slots
        self.fade = fade if fade is not None else max(trace.duration / 40, 1e-9)
        self.timeline = Timeline(trace, times, self.fade)
        # the charts span the frames' times: a Player of a window shows only that window
        ends = (float(min(times)), float(max(times))) if times is not None and len(times) else ()
        self.chart_span = ends if ends and ends[1] > ends[0] else (0.0, trace.duration or 1.0)
        self.colour_of, palette, self.colour_legend = message_colours(trace, color_by)
        self.palette = np.array(palette, dtype=float)
        self.queues, self.consumers = self.timeline.queues, self.timeline.consumers
        self.figure = Figure(dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self._fonts = _fonts(dpi)
        self._queue_text: dict[str, str] = {}
        self._log_view: list = []  # per log partition, what _log_labels writes under it
        self._triangles: list = []
        self._blocked: dict[str, int] = {}
        self._build(size)
        self._size = tuple(int(v) for v in self.canvas.get_width_height())
        box = self.ax.get_position()
        # a run of threads sharing only locks has no messages to count: its clock shows time
        counts = self.timeline.counting
        self._clock = _Clock(self._fonts["clock"], (box.x0 * self._size[0],
                                                     (1 - box.y1) * self._size[1] - 6), counts)

    # -- set-up --------------------------------------------------------------------------------
    def _place_axes(self, size: tuple[float, float] | None) -> None:
        """Stack, top to bottom: counters, network, legend, charts. Sizes are in inches."""
        n = len(self.charts)
        width, height = size or (9.6, None)
        handles = legend_handles(self.graph, self._legend_extra())
        rows = -(-len(handles) // legend_columns(handles, width * 0.98))
        top, legend, charts, bottom = 0.35, 0.35 + 0.17 * (rows - 1), (1.95 if n else 0.0), 0.05
        if height is None:  # half an inch per row of nodes, so small networks stay compact
            height = top + network_rows(self.pos, self.graph) * 0.5 + legend + charts + bottom
        net = max(height - top - legend - charts - bottom, 1.0)
        fig = self.figure
        fig.set_size_inches(width, height)

        def box(left, right, y, h):  # inches from the top -> figure fractions
            return [left, 1 - (y + h) / height, right - left, h / height]

        self.ax = fig.add_axes(box(0.01, 0.99, top, net))
        self.chart_axes = []
        if n:
            y = top + net + legend + 0.25
            # side by side, each with room on its left for its label
            gap, left, right = (0.10, 0.08, 0.98) if n < 3 else (0.085, 0.07, 0.985)
            w = (right - left - gap * (n - 1)) / n
            self.chart_axes = [fig.add_axes(box(left + i * (w + gap), left + i * (w + gap) + w,
                                                y, 1.25)) for i in range(n)]

    def _build(self, size: tuple[float, float] | None) -> None:
        self._place_axes(size)
        draw_network(self.graph, ax=self.ax, pos=self.pos, legend=False, slots=self.slots)
        role_legend(self.ax, self.graph, extra=self._legend_extra())
        self._geometry()
        self._artists()
        self._cursors = [a.axvline(0, color=EDGE, lw=1, animated=True)
                         for a in self.chart_axes]
        curves = self._draw_charts() if self.chart_axes else []
        self.canvas.draw()  # everything not animated, once
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        # the charts again without their curves: what is drawn over the part still to come
        self._blank = []
        if curves:
            for artist in curves:
                artist.set_visible(False)
            renderer = self.canvas.get_renderer()
            for a in self.chart_axes:
                a.draw(renderer)
                # a pixel more on each side: a thick line's edge spills over the axes' edge
                self._blank.append(self.canvas.copy_from_bbox(a.bbox.expanded(
                    1 + 2 / a.bbox.width, 1 + 2 / a.bbox.height)))
            for artist in curves:
                artist.set_visible(True)

    def _legend_extra(self) -> list:
        dot = [Line2D([], [], ls="", marker="o", ms=6, mfc=c, mec="white", label=name)
               for name, c in self.colour_legend]
        if self.timeline.primitives:  # threads sharing a lock: who waits, who holds it
            locks = [Line2D([], [], ls="", marker="s", ms=6, mfc=self.palette[0], mec="white",
                            label="thread waiting"),
                     Line2D([], [], color=HOLD, lw=3, label="thread holding it")]
            dot = (dot if self.timeline.count("publish") else []) + locks
        infos = _infos(self.timeline, ("crash", "deny"))
        down = ("down (stopped or crashed)" if {"scaled down", "scaled up"} & infos
                else "crashed")
        refused = " / denied" if self.timeline.count("deny") else ""
        return dot + [
            Line2D([], [], ls="", marker="X", ms=7, color=DROP,
                   label=f"dropped / lost{refused}"),
            Line2D([], [], ls="", marker="P", ms=7, color=DEAD, label="dead-lettered"),
        ] + ([Line2D([], [], color=HOLD, lw=3.5, alpha=0.35, label="reads (assigned)")]
             if len(self.timeline.assigns[0]) else []) + (
            [Line2D([], [], ls="", marker="o", ms=8, mfc=DOWN, mec=EDGE,
                     label=down)] if len(self.timeline.downs[0]) else []) + (
            [Line2D([], [], ls="", marker="o", ms=6, mfc="white", mec=EDGE, mew=1.6,
                    label="reply")] if self._any_reply() else [])

    def _any_reply(self) -> bool:
        """Does a reply travel back in this run? (A hop on no edge of the graph is one.)"""
        edges = self.graph.edges
        return bool(self.timeline.back_paths) or any(
            (u, v) not in edges
            for u, v in zip(self.timeline.hops[2], self.timeline.hops[3], strict=True))

    def _geometry(self) -> None:
        """Endpoints of every edge and the size of a queue box, in data units."""
        self.edge_ends = {(u, v): ports(self.graph, self.pos, u, v) for u, v in self.graph.edges}
        to_px = self.ax.transData.transform
        unit = to_px([(1, 1)])[0] - to_px([(0, 0)])[0]  # pixels per data unit, x and y
        # the tray holds ``slots`` boxes, head on the right; its left end shows the count
        self.slot = TRAY_WIDTH / (self.slots + _COUNT_SLOTS)
        box_pixels = min(self.slot * unit[0], TRAY_HEIGHT * unit[1]) * 0.8
        self.box_points = box_pixels * 72 / self.figure.dpi
        self._unit = unit
        self._number_the_tables()

    def _colours(self, msgs: np.ndarray) -> np.ndarray:
        """The palette index of each message id."""
        lookup = getattr(self.colour_of, "lookup", None)
        if lookup is not None:  # a long run's colours (mqlab.style.Colours)
            return lookup(msgs)
        get = self.colour_of.get
        return np.array([get(int(m), 0) for m in msgs], dtype=int)

    def _number_the_tables(self) -> None:
        """Edges, colours and places of the picture, by number: per frame, numpy needs no names."""
        tl = self.timeline
        self._edges = list(self.graph.edges)
        code = {e: i for i, e in enumerate(self._edges)}
        ends = np.array([np.concatenate(self.edge_ends[e]) for e in self._edges]).reshape(-1, 4)
        # a reply goes back to its producer along no edge: straight from node to node
        hops = list(zip(tl.hops[2], tl.hops[3], strict=True))
        self._hop_xy = np.array([ends[code[e]] if e in code else self._back_path(*e)
                                 for e in hops]).reshape(-1, 4)
        self._hop_reply = np.array([e not in code for e in hops], dtype=bool)
        self._reply_paths = sorted({e for e in hops if e not in code}
                                   | (tl.back_paths or set()))
        self._hop_colour = self._colours(tl.hops[4])
        self._stay_colour = self._colours(tl.stays[4])
        self._pulse_paths = {e: self._edge_path(*e) for e in self._edges}
        self._pulse_edge = np.array([code[e] for e in zip(tl.pulses[1], tl.pulses[2],
                                                          strict=True)], dtype=int)
        self._pulse_colour = self._colours(tl.pulses[3])
        places: dict = {}
        if tl.mark_codes is None:
            self._mark_place = np.array([
                places.setdefault((k == "dead-letter", self._mark_xy(k, n, p)), len(places))
                for _, k, n, p in zip(*tl.marks, strict=True)], dtype=int)
        else:  # a sampled timeline's marks: by shape, numbered as the whole run's would be
            shapes = self.trace.shapes()[1]
            number = {s: c for c, s in enumerate(shapes)}
            place = np.zeros(max(len(shapes), 1), dtype=int)
            for k, n, p, info in self.trace.shapes_in_order():
                if k in MARKS and not (k == "expire" and n in tl.logs):
                    place[number[(k, n, p, info)]] = places.setdefault(
                        (k == "dead-letter", self._mark_xy(k, n, p)), len(places))
            self._mark_place = place[tl.mark_codes]
        self._place_dead = np.array([dead for dead, _ in places], dtype=bool)
        self._place_xy = np.array([xy for _, xy in places], dtype=float).reshape(-1, 2)

    def _back_path(self, u: str, v: str) -> np.ndarray:
        """Where a reply from ``u`` back to ``v`` starts and ends (just below both nodes)."""
        route = self._back_route(u, v)
        return np.concatenate([route[0], route[-1]])

    def _back_route(self, u: str, v: str) -> np.ndarray:
        """The way a reply goes back from ``u`` to ``v``: down, along under the whole network
        (clear of every other part), and up again."""
        (x0, y0), (x1, y1) = self.pos[u], self.pos[v]
        low = min(y for _, y in self.pos.values()) - 0.45
        return np.array([(x0, y0 - 0.25), (x0, low), (x1, low), (x1, y1 - 0.25)])

    def _along(self, route: np.ndarray, frac: float) -> np.ndarray:
        """The point ``frac`` (0 to 1) of the way along a route, by length."""
        steps = np.linalg.norm(np.diff(route, axis=0), axis=1)
        at = frac * steps.sum()
        last = len(steps) - 1
        for i, length in enumerate(steps):
            if at <= length or i == last:
                a, b = route[i], route[i + 1]
                return a + (b - a) * (min(at, length) / length if length else 0.0)
            at -= length
        return route[-1]

    def _edge_path(self, u: str, v: str) -> np.ndarray:
        """Points along an edge as drawn (the same arc matplotlib uses), for highlighting."""
        p0, p1 = self.edge_ends[(u, v)]
        rad = bend(self.graph, self.pos, u, v)
        if not rad:
            return np.array([p0, p1])
        tr = self.ax.transData
        a, b = tr.transform(p0), tr.transform(p1)
        d = b - a
        ctrl = (a + b) / 2 + rad * np.array([d[1], -d[0]])
        s = np.linspace(0, 1, 24)[:, None]
        curve = (1 - s) ** 2 * a + 2 * (1 - s) * s * ctrl + s**2 * b
        return tr.inverted().transform(curve)

    def _artists(self) -> None:
        ax, pt = self.ax, self.box_points
        anim = {"animated": True}
        self._pulse_lines = LineCollection([], linewidths=3.2, zorder=2, capstyle="round", **anim)
        ax.add_collection(self._pulse_lines)
        self._grip_lines = LineCollection([], linewidths=3.5, zorder=2, capstyle="round",
                                          colors=[HOLD], alpha=0.85, **anim)
        ax.add_collection(self._grip_lines)
        self._read_lines = LineCollection([], linewidths=3.5, zorder=1.5, capstyle="round",
                                          colors=[HOLD], alpha=0.35, **anim)
        ax.add_collection(self._read_lines)
        self._boxes = _Markers(ax, self.palette, marker="s", ms=pt, mew=0.6, zorder=5)
        self._down = ax.scatter([], [], s=ROLE_STYLE["consumer"].size, marker="o", c=DOWN,
                                edgecolors=EDGE, hatch="////", zorder=4, **anim)
        self._dots = _Markers(ax, self.palette, marker="o", ms=7.5, mew=0.8, zorder=6)
        self._replies = _Markers(ax, self.palette, hollow=True, marker="o", ms=7.0, mew=1.8,
                                 zorder=6)
        for u, v in self._reply_paths:  # the way replies go back, faintly
            route = self._back_route(u, v)
            ax.plot(route[:, 0], route[:, 1], color="#BBBBBB", lw=1.0, ls=(0, (2, 3)), zorder=1)
        # senders are drawn again over the dots: messages leave from inside them
        self._covers = [draw_nodes(ax, self.graph, self.pos, role, animated=True)
                        for role in ("producer", "broker", "exchange")]
        self._drops = ax.scatter([], [], s=130, marker="X", linewidths=0, zorder=7, **anim)
        self._dead = ax.scatter([], [], s=130, marker="P", linewidths=0, zorder=7, **anim)
        self._ring = ax.scatter([], [], s=260, marker="o", facecolors="none",
                                edgecolors="#000000", linewidths=2.0, zorder=8, **anim)

    def _draw_charts(self) -> list:
        """The charts of the whole run (each frame shows them only up to its moment); returns
        the artists that show data."""
        end = self.trace.duration or 1.0
        windowed = self.chart_span != (0.0, end)
        renderer = self.canvas.get_renderer()
        drawn = []
        for ax, name in zip(self.chart_axes, self.charts, strict=True):
            before = set(map(id, _data_artists(ax)))
            ylabel, integer = getattr(self, f"_chart_{name}")(ax, end)
            new = [a for a in _data_artists(ax) if id(a) not in before]
            drawn += new
            ax.set_xlim(*self.chart_span)
            top = ax.get_ylim()[1]
            if windowed:  # scaled to what the window shows, not to the whole run
                top = _highest_in(new, *self.chart_span) * 1.08
            ax.set_ylim(0, max(top, 1.0))  # an idle run still gets a sane scale
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=integer))
            ax.set_xlabel("time (s)", fontsize=8, labelpad=1)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            entries = len(ax.get_legend_handles_labels()[0])
            if entries:
                _chart_legend(ax, entries, min(entries, 5 if len(self.charts) < 3 else 3),
                              renderer)
        return drawn

    def _chart_queue(self, ax: Axes, end: float) -> tuple[str, bool]:
        """Messages waiting in the busiest queues (records kept, for log partitions)."""
        busiest = self.main_queues()
        for i, q in enumerate(busiest):
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]  # as in mqlab.charts
            # a log: records kept
            xs, ys = _queue_curve(self.trace, q, end, self.timeline.shape_counts)
            ax.step(xs, ys, where="post", color=colour, lw=1.0, label=q)
            if len(busiest) == 1:
                ax.fill_between(xs, ys, step="post", color=colour, alpha=0.15, lw=0)
        logs = busiest and all(q in self.timeline.logs for q in busiest)
        return ("records kept\n(in the log)" if logs else "queue length\n(messages)"), True

    def _chart_throughput(self, ax: Axes, end: float) -> tuple[str, bool]:
        """Acks per second of the busiest consumers (and of all of them, if several), counted
        over the last few seconds at each moment: a point of the curve uses only the past."""
        t = self.trace.columns()[0]
        shapes = self.trace.shapes()[1]
        acks = {c: t[rows_where(self.trace, np.array([k == "ack" and nd == c
                                                      for k, nd, _, _ in shapes] or [False]))]
                for c in self.consumers}
        shown = sorted(acks, key=lambda c: -len(acks[c]))[:4]
        total = sum(len(v) for v in acks.values())
        # a window that holds about ten acks per consumer (a 40th to a 5th of the run), as
        # a round number of seconds
        windows = min(40, max(5, total / max(len(shown), 1) / 10))
        window = _round_seconds(end / windows)
        # sampled every fifth of a window: the count's +-1 jitter as acks come and go would
        # otherwise read as noise
        xs = np.linspace(0, end, int(min(300, 5 * end / window)) + 1)

        def rate(times: Any) -> np.ndarray:
            times = np.sort(np.asarray(times, dtype=float))
            done = np.searchsorted(times, xs, "right") - np.searchsorted(times, xs - window,
                                                                          "right")
            return done / window

        for i, c in enumerate(shown):
            ax.plot(xs, rate(acks[c]), color=SERIES_COLOURS[i % len(SERIES_COLOURS)], lw=1.2,
                    label=c)
        if len(acks) > 1:
            ax.plot(xs, rate(np.concatenate(list(acks.values()))), color=OKABE_ITO["black"],
                    lw=1.5, label="all")
        return f"acks/s in the\nlast {window:g} s", False

    def _chart_latency(self, ax: Axes, end: float) -> tuple[str, bool]:
        """Each message's latency (publish to ack), as a dot at the time of its ack."""
        if len(self.trace) > Timeline.SAMPLE_ABOVE:
            xs, ys = _latency_dots(self.trace)
            top = float(ys.max()) if len(ys) else None
            if len(xs) > _MOST_POINTS:  # a long run: one dot per spot of the chart
                xs, ys = _thin_dots(xs, ys, end, top)
        else:
            published: dict[int, float] = {}
            seen: set[tuple[int, str]] = set()
            xs, ys = [], []
            for t, kind, m, node, _, _ in self.trace.rows:
                if kind == "publish":
                    published.setdefault(m, t)
                elif kind == "ack" and m in published and (m, node) not in seen:
                    seen.add((m, node))  # each consumer's first ack of it
                    xs.append(t)
                    ys.append(t - published[m])
            top = max(ys) if ys else None
        ax.plot(xs, ys, ls="", marker="o", ms=3.2, mew=0, alpha=0.8,
                color=SERIES_COLOURS[0])
        if top is not None:
            ax.set_ylim(0, top * 1.1)
        return "latency, publish\n\u2192 ack (s)", False

    def main_queues(self, n: int = 4) -> list[str]:
        """The ``n`` queues (or log partitions) that deliver the most messages (those feeding
        consumers first)."""
        tl = self.timeline
        queues = [q for q in self.queues if q not in tl.primitives]  # not locks
        queues += tl.logs
        count = {q: (tl.count("deliver", node=q), tl.count("enqueue", node=q)) for q in queues}
        return sorted(queues, key=lambda q: (-count[q][0], -count[q][1]))[:n]

    # -- state at time t -----------------------------------------------------------------------
    def snapshot(self, t: float) -> State:
        """Where everything is at time ``t`` (plain data; nothing is drawn)."""
        return self.timeline.at(t, window=self.fade)

    def dots(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Where the messages travelling on links are drawn at ``t``: (n, 2) positions, ids."""
        xy, ids, _ = self._hop_state(t)
        return xy, ids

    def _hop_state(self, t: float, idx: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tl = self.timeline
        idx = tl.hops_at(t) if idx is None else idx
        frac = tl.progress(idx, t)[:, None]
        ends = self._hop_xy[idx]
        xy = ends[:, :2] + frac * (ends[:, 2:] - ends[:, :2])
        for k in np.nonzero(self._hop_reply[idx])[0] if self._reply_paths else ():
            # replies follow their route back
            i = idx[k]
            xy[k] = self._along(self._back_route(tl.hops[2][i], tl.hops[3][i]), frac[k, 0])
        return xy, tl.hops[4][idx].astype(int), self._hop_colour[idx]

    # -- drawing -------------------------------------------------------------------------------
    def draw(self, t: float) -> None:
        """Show the state at time ``t`` on the figure (in place: only moving parts redraw)."""
        self.canvas.restore_region(self._background)
        self._update_pulses(t)
        self._update_grips(t)
        self._update_queues(t)
        self._update_consumers_and_dots(t)
        self._update_marks(t)
        self._hide_the_future(t)
        for cursor in self._cursors:
            cursor.set_xdata([t, t])
        for artist in (self._read_lines, self._pulse_lines, self._grip_lines,
                       *self._boxes.lines,
                       *self._dots.lines, *self._replies.lines, *filter(None, self._covers),
                       self._down,  # after the covers, so that a crashed broker shows grey
                       self._drops, self._dead, self._ring, *self._cursors):
            if _shows_something(artist):  # each draw costs ~0.5 ms, even when empty
                artist.axes.draw_artist(artist)

    def _hide_the_future(self, t: float) -> None:
        """Blank each chart right of ``t``: a frame shows only what has happened so far."""
        for ax, blank in zip(self.chart_axes, self._blank, strict=False):
            x1, y1, x2, y2 = blank.get_extents()
            x = int(math.ceil(ax.transData.transform((t, 0))[0])) + 1
            if x < x2:
                self.canvas.restore_region(blank, bbox=(max(x, x1), y1, x2, y2), xy=(x1, y1))

    def _update_pulses(self, t: float) -> None:
        """Light up the edges that carried a message in the last ``fade`` seconds."""
        rows = self._latest(self.timeline.pulses[0], self._pulse_edge, t)
        times, colours = self.timeline.pulses[0][rows], self._pulse_colour[rows]
        rgba = self.palette[colours] if len(rows) else np.zeros((0, 4))
        # a pulse exactly ``fade`` old may come out a hair below 0 in floating point
        rgba[:, 3] = np.clip(0.75 * (1 - (t - times) / self.fade), 0.0, 1.0)
        self._pulse_lines.set_segments([self._pulse_paths[self._edges[e]]
                                        for e in self._pulse_edge[rows]])
        self._pulse_lines.set_color(rgba)

    def _update_grips(self, t: float) -> None:
        """Light up the edge between each lock and the thread that holds it."""
        paths = []
        for lock, threads in self.timeline.holders_at(t).items():
            for thread in threads:
                edge = (lock, thread) if (lock, thread) in self._pulse_paths else (thread, lock)
                if edge in self._pulse_paths:
                    paths.append(self._pulse_paths[edge])
        self._grip_lines.set_segments(paths)
        if self.timeline.logs:  # the consumer of each group reading each partition
            self._read_lines.set_segments([
                self._pulse_paths[(p, c)] for p, readers in self.timeline.assigned_at(t).items()
                for c in readers.values() if (p, c) in self._pulse_paths])

    def _latest(self, times: np.ndarray, place: np.ndarray, t: float) -> np.ndarray:
        """Rows of the last ``fade`` seconds up to ``t``: the newest one at each place."""
        lo = np.searchsorted(times, t - self.fade, "left")
        hi = np.searchsorted(times, t, "right")
        _, newest = np.unique(place[lo:hi][::-1], return_index=True)
        return hi - 1 - newest

    def _update_queues(self, t: float) -> None:
        msgs = self.timeline.stays[4]
        shown, xy = [], []
        self._blocked = self.timeline.blocked_at(t)
        for q, rows in self.timeline.stays_at(t).items():
            x, y = self.pos[q]
            n = min(len(rows), self.slots)
            shown.append(rows[:n])
            slots = x + TRAY_WIDTH / 2 - (np.arange(n) + 0.5) * self.slot  # head on the right
            xy.append(np.column_stack([slots, np.full(n, y)]))
            self._queue_text[q] = str(len(rows))
        rows = np.concatenate(shown).astype(int) if shown else np.zeros(0, int)
        ids = msgs[rows].astype(int) if len(rows) else np.zeros(0, int)
        colours = self._stay_colour[rows]
        if self.timeline.logs:  # records kept in logs are boxes too, one to a cell
            log_xy, log_ids = self._update_logs(t)
            xy.append(log_xy)
            ids = np.concatenate([ids, log_ids])
            colours = np.concatenate([colours, self._colours(log_ids)])
        self._box_xy = np.vstack(xy) if xy else np.zeros((0, 2))
        self._box_ids = ids
        self._boxes.set(self._box_xy, colours)

    def _update_logs(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Fill each log partition's cells with its newest records (offsets growing to the
        right) and place every group's committed offset under them; returns the cells'
        positions and message ids."""
        tl = self.timeline
        offsets_now = tl.offsets_at(t)
        xy, ids, self._log_view = [], [], []
        for p, (offsets, rows) in tl.records_at(t).items():
            x, y = self.pos[p]
            left = x - TRAY_WIDTH / 2 + self.slot * _COUNT_SLOTS  # the first cell's left edge
            self._queue_text[p] = str(len(offsets))  # records kept, shown or not
            shown = slice(max(len(offsets) - self.slots, 0), None)  # the newest records
            offsets, rows = offsets[shown], rows[shown]
            xy.append(np.column_stack([left + (np.arange(len(rows)) + 0.5) * self.slot,
                                       np.full(len(rows), y)]))
            ids.append(tl.records[4][rows].astype(int))
            groups = []  # (lane, group, cell boundary, offset if it lies left of the cells)
            for lane, g in enumerate(tl.groups):
                if (g, p) in offsets_now:
                    c = offsets_now[(g, p)]
                    k = int(np.searchsorted(offsets, c, "left"))
                    behind = c if (not len(offsets) or c < offsets[0]) and k == 0 else None
                    groups.append((lane, g, left + k * self.slot, behind))
            self._log_view.append((p, left, offsets, groups))
        return (np.vstack(xy) if xy else np.zeros((0, 2)),
                np.concatenate(ids) if ids else np.zeros(0, int))

    def _update_consumers_and_dots(self, t: float) -> None:
        idx = self.timeline.hops_at(t)
        xy, ids, cols = self._hop_state(t, idx)
        reply_xy, reply_ids = np.zeros((0, 2)), np.zeros(0, dtype=int)
        if self._reply_paths:  # replies are drawn hollow, apart from the messages
            back = self._hop_reply[idx]
            self._replies.set(xy[back], cols[back])
            reply_xy, reply_ids = xy[back], ids[back]
            xy, ids, cols = xy[~back], ids[~back], cols[~back]
        serving, waiting = self.timeline.holds_at(t)
        extra_xy, extra_ids = [], []
        for c in self.consumers:
            x, y = self.pos[c]
            extra_xy += [(x, y)] * len(serving[c][:1])
            extra_ids += serving[c][:1]
            # received but not started yet: lined up just before the consumer
            extra_xy += [(x - 0.16 - 0.1 * j, y) for j in range(len(waiting[c][:4]))]
            extra_ids += waiting[c][:4]
        all_xy = np.vstack([xy, np.array(extra_xy).reshape(-1, 2)])
        all_ids = np.concatenate([ids, np.array(extra_ids, dtype=int)])
        all_cols = np.concatenate([cols, self._colours(np.array(extra_ids, dtype=int))])
        self._dots.set(all_xy, all_cols.astype(int))
        down = self.timeline.down_at(t)
        self._down.set_offsets(np.array([self.pos[n] for n in down]).reshape(-1, 2))
        self._dot_xy = np.vstack([all_xy, reply_xy])
        self._dot_ids = np.concatenate([all_ids, reply_ids])
        self._update_ring()

    def _update_ring(self) -> None:
        ring = np.zeros((0, 2))
        if self.follow is not None:
            ring = np.vstack([self._dot_xy[self._dot_ids == self.follow],
                              self._box_xy[self._box_ids == self.follow]])
        self._ring.set_offsets(ring)

    def _update_marks(self, t: float) -> None:
        """Fade the marks of recent drops (red x) and dead-letters (purple +)."""
        rows = self._latest(self.timeline.marks[0], self._mark_place, t)
        alpha = 1 - (t - self.timeline.marks[0][rows]) / self.fade
        places = self._mark_place[rows]
        for dead, artist, colour in ((False, self._drops, DROP), (True, self._dead, DEAD)):
            mine = self._place_dead[places] == dead
            rgba = np.tile(to_rgba(colour), (int(mine.sum()), 1))
            rgba[:, 3] = alpha[mine]
            artist.set_offsets(self._place_xy[places[mine]])
            artist.set_facecolor(rgba)

    def _mark_xy(self, kind: str, node: str, peer: str) -> tuple[float, float]:
        """Where a drop or dead-letter is marked."""
        if kind in ("loss", "tamper") and (node, peer) in self.edge_ends:
            p0, p1 = self.edge_ends[(node, peer)]
            return tuple(p0 + 0.75 * (p1 - p0))  # lost (or changed) on the way
        if kind == "deny" and (peer, node) in self.edge_ends:  # refused at the door
            p0, p1 = self.edge_ends[(peer, node)]
            return tuple(p0 + 0.9 * (p1 - p0))
        x, y = self.pos.get(node, (0.0, 0.0))
        if node in self.graph and role_of(self.graph, node) == "queue":
            return (x + TRAY_WIDTH / 2 + 0.12, y)  # pushed out of the tray
        return (x, y + 0.3)

    def counters(self, t: float) -> dict[str, int]:
        """How many messages were published, delivered, acked and dropped up to time ``t``."""
        return self.timeline.counters_at(t)

    def _labels(self, t: float) -> list[tuple[tuple[float, float], str, str, Any]]:
        """Text that changes every frame: (pixel position, text, anchor, font)."""
        out = self._clock.numbers(t, self.counters(t))
        if self.timeline.logs:
            out += self._log_labels()
        for q, text in self._queue_text.items():
            if text:
                x, y = self.pos[q]
                left = x - TRAY_WIDTH / 2 + self.slot * _COUNT_SLOTS / 2
                out.append((self._to_pixels(left, y), text, "mm", self._fonts["count"]))
            if self._blocked.get(q):  # publishers held back by overflow="block"
                x, y = self.pos[q]
                # under the tray's head end, clear of the queue's name above the tray
                right = self._to_pixels(x + TRAY_WIDTH / 2, y - TRAY_HEIGHT / 2)
                out.append(((right[0], right[1] + 3), f"{self._blocked[q]} blocked", "rt",
                            self._fonts["small"]))
        return out

    def _log_labels(self) -> list[tuple[tuple[float, float], str, str, Any]]:
        """Under each log partition: the offsets of the records shown, and each group's
        committed offset, a triangle on its own line with the group's name."""
        out = []
        font, tiny = self._fonts["small"], self._fonts["tiny"]
        cell = self.slot * self._unit[0]  # pixels
        self._triangles = []
        for p, left, offsets, groups in self._log_view:
            y = self.pos[p][1] - TRAY_HEIGHT / 2
            x0, top = self._to_pixels(left, y)
            if len(offsets):  # every k-th offset, so that the numbers never touch
                wide = tiny.getlength(str(int(offsets[-1]))) + 3
                k = next(k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10**9)
                         if k * cell >= wide)
                for i, offset in enumerate(offsets.tolist()):
                    if offset % k == 0:
                        out.append(((x0 + (i + 0.5) * cell, top + 1), str(offset), "mt", tiny))
            for lane, g, x, behind in groups:
                px = self._to_pixels(x, y)[0]
                mid = top + 17 + 11 * lane
                self._triangles.append([(px, mid - 4), (px - 3.5, mid + 3), (px + 3.5, mid + 3)])
                text = g if behind is None else f"{g} (at {behind})"
                out.append(((px + 5, mid), text, "lm", font))
        return out

    def _to_pixels(self, x: float, y: float) -> tuple[float, float]:
        px, py = self.ax.transData.transform((x, y))
        return px, self._size[1] - py + 2  # Pillow counts rows from the top

    # -- output --------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Width and height of a frame in pixels."""
        return self._size

    def _frame(self, t: float):
        """The frame at ``t`` as a Pillow image in RGBX mode (JPEG-ready, no conversion)."""
        from PIL import Image, ImageDraw

        self.draw(t)
        im = Image.frombuffer("RGBX", self._size, self.canvas.buffer_rgba(), "raw", "RGBX", 0, 1)
        im = im.copy()  # detach from the canvas, which the next frame overwrites
        pen = ImageDraw.Draw(im)
        self._clock.stamp(im)
        labels = self._labels(t)
        for corners in self._triangles:  # the groups' offsets under the logs
            pen.polygon(corners, fill=(40, 40, 40))
        # matplotlib's text engine takes ~5 ms a label; Pillow draws these in microseconds
        for xy, text, anchor, font in labels:
            pen.text(xy, text, fill=(25, 25, 25), font=font, anchor=anchor)
        return im

    def image(self, t: float):
        """The frame at time ``t`` as a Pillow RGB image."""
        return self._frame(t).convert("RGB")

    def rgb(self, t: float) -> np.ndarray:
        """The frame at time ``t`` as an (height, width, 3) uint8 array."""
        return np.asarray(self.image(t))

    def jpeg(self, t: float, quality: int = 80) -> bytes:
        """The frame at time ``t`` as JPEG bytes (what the Player widget shows)."""
        buf = io.BytesIO()
        self._frame(t).save(buf, format="JPEG", quality=quality)
        return buf.getvalue()

    def save(self, path: str, t: float) -> None:
        """Write the frame at time ``t`` to an image file (PNG, JPEG, ... by extension)."""
        self.image(t).save(path)


def _fonts(dpi: int) -> dict:
    """Matplotlib's own DejaVu fonts, opened by Pillow at matplotlib's point sizes."""
    from matplotlib.font_manager import FontProperties, findfont
    from PIL import ImageFont

    sans = findfont(FontProperties(family="DejaVu Sans"))
    sans_bold = findfont(FontProperties(family="DejaVu Sans", weight="bold"))
    mono = findfont(FontProperties(family="DejaVu Sans Mono"))
    def font(path: str, points: float) -> Any:
        # the basic layout engine: plain Latin labels need no shaping, and it is faster
        return ImageFont.truetype(path, round(points * dpi / 72),
                                  layout_engine=ImageFont.Layout.BASIC)

    return {"clock": font(mono, 9), "count": font(sans_bold, 8), "small": font(sans, 7.5),
            "tiny": font(sans, 6.5)}


def _chart_legend(ax: Axes, entries: int, ncol: int, renderer: Any) -> None:
    """A chart's legend above it, in one row of up to ``ncol``; if that row is wider than the
    chart (long names), inside the chart instead, in as few rows as fit, evenly filled."""
    style = {"fontsize": 7, "handlelength": 1.2, "columnspacing": 0.8}
    above = {"loc": "lower left", "bbox_to_anchor": (0.0, 0.98), "frameon": False,
             "borderaxespad": 0.1}
    inside = {"loc": "upper left", "frameon": True, "framealpha": 0.85, "edgecolor": "none",
              "borderaxespad": 0.2}
    width = ax.get_window_extent(renderer).width

    def fits(**options: Any) -> bool:
        return ax.legend(**style, **options).get_window_extent(renderer).width <= width

    if fits(ncol=ncol, **above):
        return
    while ncol > 1 and not fits(ncol=ncol, **inside):
        ncol -= 1
    rows = -(-entries // ncol)
    ax.legend(ncol=-(-entries // rows), **style, **inside)


def _highest_in(artists: list, start: float, stop: float) -> float:
    """The highest value the lines among ``artists`` take between ``start`` and ``stop``
    (a step holds its value: the point just before ``start`` counts), or 0."""
    top = 0.0
    for artist in artists:
        if not hasattr(artist, "get_xydata"):
            continue
        xy = np.asarray(artist.get_xydata(), dtype=float)
        if not len(xy):
            continue
        first = max(int(np.searchsorted(xy[:, 0], start, "right")) - 1, 0)
        last = int(np.searchsorted(xy[:, 0], stop, "right"))
        seen = xy[first:last, 1]
        if len(seen):
            top = max(top, float(np.nanmax(seen)))
    return top


def _data_artists(ax: Axes) -> list:
    return [*ax.lines, *ax.collections, *ax.patches]


def _shows_something(artist: Any) -> bool:
    if isinstance(artist, Line2D):
        return len(artist.get_xdata()) > 0
    if isinstance(artist, LineCollection):
        return len(artist.get_segments()) > 0
    return len(artist.get_offsets()) > 0


class _Clock:
    """The line of counters above the network: the words are drawn once, the numbers each frame.

    A monospaced font puts every number at a known place, so only the digits are redrawn.
    """

    FIELDS = (("t = ", 8), (" s    published ", 5), ("    delivered ", 5), ("    acked ", 5),
              ("    dropped ", 5))

    def __init__(self, font: Any, xy: tuple[float, float], counts: bool = True) -> None:
        from PIL import Image, ImageDraw

        self.font, (self.x, self.y) = font, xy
        self.counts = counts
        self.advance = font.getlength("0")
        words, self.ends, column = "", [], 0
        for text, width in self.FIELDS if counts else (("t = ", 8), (" s", 0)):
            words += text + " " * width
            column += len(text) + width
            self.ends.append(self.x + column * self.advance)
        ascent, descent = font.getmetrics()
        self.mask = Image.new("L", (round(len(words) * self.advance) + 2, ascent + descent))
        ImageDraw.Draw(self.mask).text((0, ascent), words, fill=255, font=font, anchor="ls")
        self.top = round(self.y - ascent)

    def stamp(self, im: Any) -> None:
        """Draw the words (the numbers come from :meth:`numbers`)."""
        im.paste((25, 25, 25), (round(self.x), self.top), self.mask)

    def numbers(self, t: float, counts: dict) -> list:
        values = [f"{t:.2f}", *(str(counts[k]) for k in COUNTERS)] if self.counts else [
            f"{t:.2f}"]
        return [((end, self.y), v, "rs", self.font)
                for end, v in zip(self.ends, values, strict=False)]


class _Markers:
    """Points in several colours, one ``Line2D`` per colour.

    Agg draws a line's markers by stamping one pre-drawn marker, about 30 times faster than a
    scatter plot, which draws each point as its own path.
    """

    def __init__(self, ax: Axes, palette: np.ndarray, hollow: bool = False,
                 **style: Any) -> None:
        self.lines = [ax.plot([], [], ls="", mfc="white" if hollow else colour,
                              mec=colour if hollow else "white", animated=True, **style)[0]
                      for colour in palette]

    def set(self, xy: np.ndarray, colour: np.ndarray) -> None:
        """Show points ``xy`` with palette indices ``colour``."""
        for i, line in enumerate(self.lines):
            mine = xy[colour == i]
            line.set_data(mine[:, 0], mine[:, 1])



CHARTS = ("queue", "latency", "throughput")  # what the chart panel can show
# a chart's curve with more points than this is thinned to what its slivers of width show
_MOST_POINTS = 20_000
_SLIVERS = 4000  # the width of a chart, cut into this many slivers


def _infos(timeline: Timeline, kinds: tuple[str, ...]) -> set[str]:
    """The ``info`` of the rows of these kinds (without reading the rows one by one)."""
    shapes = timeline.trace.shapes()[1]
    return {info for c, (kind, _, _, info) in enumerate(shapes)
            if kind in kinds and timeline.shape_counts[c]}


def _queue_curve(trace: Any, queue: str, end: float, counts: Any = None) -> tuple[Any, Any]:
    """The queue length chart's step curve, (times, lengths) up to ``end``: that of
    :func:`mqlab.metrics.queue_length`; for a long run the same steps read from the columns
    with no list of millions of numbers, and thinned (:func:`_thin_steps`) when they are more
    than a chart can show. ``counts``: the trace's :func:`~mqlab.state.shape_counts`, if known."""
    if len(trace) > Timeline.SAMPLE_ABOVE:
        curve = _long_queue_curve(trace, queue, end, counts)
        if curve is not None:
            return curve
    times, lengths = metrics.queue_length(trace, queue)
    return [*times, end], [*lengths, lengths[-1]]


def _long_queue_curve(trace: Any, queue: str, end: float,
                      counts: Any = None) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_queue_curve` of a long run, from the columns a slice at a time; None when its
    same-instant steps need the row-by-row rule (as :func:`mqlab.metrics.queue_length` says)."""
    graph = trace.graph
    log = graph is not None and queue in graph and graph.nodes[queue].get("kind") == "log"
    delta = metrics.queue_deltas(trace, queue, log)
    t, code, _ = trace.columns()
    chunk = 1 << 20
    events = int((shape_counts(trace) if counts is None else counts)[delta != 0].sum())
    if not events:
        return np.array([0.0, end]), np.zeros(2, dtype=np.int64)
    # the time and the length after each event at the queue
    tq, n = np.empty(events), np.empty(events, dtype=np.int32 if events < 1 << 31 else np.int64)
    done = 0
    for a in range(0, len(t), chunk):
        d = delta[code[a:a + chunk]]
        at = np.flatnonzero(d)
        tq[done:done + len(at)] = t[a:a + chunk][at]
        n[done:done + len(at)] = d[at]
        done += len(at)
    np.cumsum(n, out=n)
    # several events at one instant (within a nanosecond) make one step, to the length after
    # the last of them: a step ends where the next event is more than a nanosecond later
    last = np.ones(len(tq), dtype=bool)
    for a in range(0, len(tq) - 1, chunk):
        b = min(a + chunk, len(tq) - 1)
        last[a:b] = tq[a + 1:b + 1] - tq[a:b] > 1e-9
    first = np.empty(len(last), dtype=bool)
    first[0], first[1:] = True, last[:-1]
    thin = int(np.count_nonzero(last)) + 2 > _MOST_POINTS
    xs, ys = [np.zeros(1)], [np.zeros(1, dtype=n.dtype)]
    a = 0
    while a < len(tq):  # a slice of whole steps at a time
        b = min(a + chunk, len(tq))
        b += int(np.argmax(last[b - 1:]))  # on to the end of a step (the last event ends one)
        tp, fp, lp = tq[a:b], first[a:b], last[a:b]
        x, y = tp[fp], n[a:b][lp]
        # a chain of close steps may be longer than a nanosecond only with three events or more
        if np.any(~lp[1:] & ~lp[:-1]) and np.any(tp[lp] - x > 1e-9):
            return None
        if thin:
            x, y = _thin_steps(x, y, end)
        xs.append(x)
        ys.append(y)
        a = b
    return (np.concatenate([*xs, [end]]),
            np.concatenate([*ys, ys[-1][-1:]]).astype(np.int64))


def _thin_steps(xs: np.ndarray, ys: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    """A step curve (drawn ``where="post"``) cut to a few points per sliver of the chart's
    width: in each sliver its first value, lowest, highest and last, so that the thinned
    curve covers, sliver by sliver, the heights the whole one does."""
    edges = np.linspace(0.0, end or 1.0, _SLIVERS + 1)[:-1]
    starts = np.unique(np.searchsorted(xs, edges, "left"))
    starts = np.unique(np.concatenate([[0], starts[starts < len(xs)]]))
    stops = np.append(starts[1:], len(xs)) - 1
    low, high = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    x0, x1 = xs[starts], xs[stops]
    return (np.column_stack([x0, x0, x0, x1]).ravel(),
            np.column_stack([ys[starts], low, high, ys[stops]]).ravel())


def _latency_dots(trace: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ack time, latency) of each consumer's first ack of each message published before it:
    the latency chart's dots, from the columns."""
    t, code, m = trace.columns()
    shapes = trace.shapes()[1]
    pub = rows_where(trace, np.array([k == "publish" for k, *_ in shapes] or [False]))
    ids, first = np.unique(m[pub], return_index=True)  # each message's first publish
    began_row = pub[first]
    del pub, first
    acks = rows_where(trace, np.array([k == "ack" for k, *_ in shapes] or [False]))
    k = np.searchsorted(ids, m[acks])
    k[k == len(ids)] = 0
    ok = (ids[k] == m[acks]) & (began_row[k] < acks) if len(ids) else np.zeros(len(acks), bool)
    acks, k = acks[ok], k[ok]
    # each (message, consumer) once: its first ack there
    nodes = {n: i for i, n in enumerate(dict.fromkeys(s[1] for s in shapes))}
    node = np.array([nodes[s[1]] for s in shapes] or [0], dtype=np.int64)
    _, once = np.unique(k * len(nodes) + node[code[acks]], return_index=True)
    once.sort()
    acks, k = acks[once], k[once]
    return t[acks], t[acks] - t[began_row[k]]


def _thin_dots(xs: np.ndarray, ys: np.ndarray, end: float,
               top: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Dots cut to one per spot of a grid over the chart, spots about a pixel wide (a quarter
    of a dot's width): the first dot of each spot."""
    gx = np.floor(xs / ((end or 1.0) / 1200)).astype(np.int64)
    gy = np.floor(ys / ((top or 1.0) * 1.1 / 400)).astype(np.int64)
    _, once = np.unique(gx * 4096 + gy, return_index=True)
    once.sort()
    return xs[once], ys[once]



def _round_seconds(x: float) -> float:
    """1, 2 or 5 times a power of ten, the nearest to ``x`` seconds (at least a millisecond).

    >>> _round_seconds(3.7), _round_seconds(0.13)
    (5.0, 0.1)
    """
    x = max(x, 1e-3)
    power = 10.0 ** math.floor(math.log10(x))
    best = min((m * power for m in (1, 2, 5, 10)), key=lambda c: abs(math.log(c / x)))
    return float(f"{best:.12g}")


def _chart_names(charts: Sequence[str] | str | None, with_metrics: bool) -> tuple[str, ...]:
    """The charts to draw: checked, in order, no repeats."""
    if charts is None:
        return ("queue", "throughput") if with_metrics else ()
    if not with_metrics and charts:
        raise ValueError("metrics=False draws no charts: leave out charts, or leave out "
                         "metrics=False")
    names = (charts,) if isinstance(charts, str) else charts
    if not isinstance(names, (list, tuple)):
        raise TypeError(f"charts must be a list of chart names among {CHARTS}, got {charts!r}")
    for name in names:
        if name not in CHARTS:
            raise ValueError(f"charts: {name!r} is not a chart; choose among {CHARTS}")
    if len(set(names)) < len(names):
        raise ValueError(f"charts: each chart once, got {list(names)}")
    return tuple(names)


# -- many frames -------------------------------------------------------------------------------
def frame_times(duration: float, frames: int, start: float | None = None,
                stop: float | None = None) -> np.ndarray:
    """``frames`` evenly spaced times from ``start`` to ``stop`` seconds, both ends included.

    The window defaults to the whole run, 0 to ``duration``. A ``stop`` after the end of the
    run is cut back to the end (nothing moves after it); ``start`` must come before the end.
    A run that lasted no time at all has a single frame.

    >>> frame_times(2.0, 5).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    >>> frame_times(60.0, 5, start=10, stop=11).tolist()
    [10.0, 10.25, 10.5, 10.75, 11.0]
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be an int >= 1, got {frames!r}")
    start, stop = time_window(duration, start, stop)
    if stop <= start:  # a run of no duration
        return np.full(1, float(start))
    return np.linspace(start, stop, frames)


def time_window(duration: float, start: float | None = None,
                stop: float | None = None) -> tuple[float, float]:
    """Check a window of a run of ``duration`` seconds; return it as (start, stop) seconds.

    ``start`` (default 0) must be >= 0 and before the end of the run; ``stop`` (default: the
    end) must be after ``start``, and is cut back to the end of the run when it lies beyond.

    >>> time_window(30.0, 5, 100)
    (5.0, 30.0)
    """
    for name, value in (("start", start), ("stop", stop)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real)
                                  or value != value or abs(value) == float("inf")):
            raise TypeError(f"{name} must be a time in seconds (a number), got {value!r}")
    lo = 0.0 if start is None else float(start)
    if lo < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start!r}")
    if start is not None and duration > 0 and lo >= duration:
        raise ValueError(f"start must be before the end of the run ({duration:g} s), "
                         f"got {start!r}")
    if stop is not None and not stop > lo:
        raise ValueError(f"stop must be after start ({lo:g} s), got {stop!r}")
    hi = float(duration) if stop is None else min(float(stop), float(duration))
    return lo, max(hi, lo)


def render_frames(scene: Scene, times: Sequence[float], quality: int = 80,
                  progress: Any = "auto", label: str = "drawing") -> list[bytes]:
    """Draw the scene at each time and return the JPEG bytes of every frame.

    ``progress``: "auto" (a bar only if it takes more than a second), False, or an
    ``ipywidgets.IntProgress`` to drive.
    """
    return render_each(times, lambda t: scene.jpeg(t, quality), progress, label)


def render_each(times: Sequence[float], make: Callable[[float], Any], progress: Any = "auto",
                label: str = "drawing") -> list:
    """``[make(t) for t in times]``, with a progress bar when that is slow."""
    bar = None
    if progress is not False:
        bar = Progress(len(times), label, widget=None if progress == "auto" else progress)
    out = []
    try:
        for i, t in enumerate(times):
            out.append(make(float(t)))
            if bar is not None:
                bar.update(i + 1)
    finally:
        if bar is not None:
            bar.close()
    return out
