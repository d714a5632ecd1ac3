"""Animate a run: a :class:`Scene` shows the state of the network at any time ``t``.

Messages are dots on the links, queue contents are boxes in the trays, messages in service sit
at the consumers, drops and dead-letters are marked and fade. Where everything is comes from
:class:`mqlab.state.Timeline` (plain data, no drawing); the unchanging picture is
:func:`mqlab.draw.draw_network`; colours and shapes come from :mod:`mqlab.style`.

A Scene draws that unchanging picture once and then, for each frame, only the parts that move
(blitting), so a frame costs milliseconds instead of redrawing the whole figure. The text that
changes every frame is drawn by Pillow, and a frame comes out as an image or JPEG bytes.
:meth:`Scene.snapshot` gives the state shown at ``t`` as plain data (a
:class:`~mqlab.state.State`); :func:`render_frames` draws many moments, for the Player and the
exports.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
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
from mqlab.draw import bend, draw_network, draw_nodes, layout, network_rows, ports, role_legend
from mqlab.progress import Progress
from mqlab.state import COUNTERS, State, Timeline
from mqlab.style import (
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

__all__ = ["Scene", "frame_times", "render_each", "render_frames"]

HOLD = OKABE_ITO["green"]  # the edge from a lock to the thread holding it
_COUNT_SLOTS = 2.4  # room for the number of waiting messages, at the tray's tail


# -- the animated scene ------------------------------------------------------------------------
class Scene:
    """A run drawn on a fixed figure; ``scene.draw(t)`` shows the state at time ``t``.

    The graph, labels and metric curves are drawn once; each frame only moves the message
    dots, refills the queue trays and fades the marks, then blits them over a saved copy of the
    background. ``metrics=True`` adds queue-length and throughput charts with a time cursor.
    ``color_by``: "auto", "priority", "key" (routing key) or None. ``fade``: seconds a drop
    mark stays visible. ``follow``: a message id to ring wherever it is. ``size``: inches
    (default: 9.6 wide, as tall as the network needs).

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
                 color_by: str | None = "auto", size: tuple[float, float] | None = None,
                 dpi: int = 100, fade: float | None = None, slots: int = 8,
                 follow: int | None = None) -> None:
        trace = as_trace(run_or_trace, need_graph=True)
        self.trace, self.graph = trace, trace.graph
        self.pos = layout(self.graph)
        self.follow = follow
        self.slots = slots
        self.fade = fade if fade is not None else max(trace.duration / 40, 1e-9)
        self.colour_of, palette, self.colour_legend = message_colours(trace, color_by)
        self.palette = np.array(palette, dtype=float)
        self.timeline = Timeline(trace)
        self.queues, self.consumers = self.timeline.queues, self.timeline.consumers
        self.figure = Figure(dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self._fonts = _fonts(dpi)
        self._queue_text: dict[str, str] = {}
        self._blocked: dict[str, int] = {}
        self._build(size, metrics)
        self._size = tuple(int(v) for v in self.canvas.get_width_height())
        box = self.ax.get_position()
        # a run of threads sharing only locks has no messages to count: its clock shows time
        counts = any(len(v) for v in self.timeline.counter_times.values())
        self._clock = _Clock(self._fonts["clock"], (box.x0 * self._size[0],
                                                     (1 - box.y1) * self._size[1] - 6), counts)

    # -- set-up --------------------------------------------------------------------------------
    def _place_axes(self, size: tuple[float, float] | None, with_metrics: bool) -> None:
        """Stack, top to bottom: counters, network, legend, charts. Sizes are in inches."""
        top, legend, charts, bottom = 0.35, 0.35, (1.95 if with_metrics else 0.0), 0.05
        width, height = size or (9.6, None)
        if height is None:  # half an inch per row of nodes, so small networks stay compact
            height = top + network_rows(self.pos) * 0.5 + legend + charts + bottom
        net = max(height - top - legend - charts - bottom, 1.0)
        fig = self.figure
        fig.set_size_inches(width, height)

        def box(left, right, y, h):  # inches from the top -> figure fractions
            return [left, 1 - (y + h) / height, right - left, h / height]

        self.ax = fig.add_axes(box(0.01, 0.99, top, net))
        self.chart_axes = []
        if with_metrics:
            y = top + net + legend + 0.25
            self.chart_axes = [fig.add_axes(box(0.08, 0.48, y, 1.25)),
                               fig.add_axes(box(0.58, 0.98, y, 1.25))]

    def _build(self, size: tuple[float, float] | None, with_metrics: bool) -> None:
        self._place_axes(size, with_metrics)
        draw_network(self.graph, ax=self.ax, pos=self.pos, legend=False)
        role_legend(self.ax, self.graph, extra=self._legend_extra())
        self._geometry()
        self._artists()
        self._cursors = [a.axvline(0, color=EDGE, lw=1, animated=True)
                         for a in self.chart_axes]
        if with_metrics:
            self._draw_charts()
        self.canvas.draw()  # everything not animated, once
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _legend_extra(self) -> list:
        dot = [Line2D([], [], ls="", marker="o", ms=6, mfc=c, mec="white", label=name)
               for name, c in self.colour_legend]
        if self.timeline.primitives:  # threads sharing a lock: who waits, who holds it
            locks = [Line2D([], [], ls="", marker="s", ms=6, mfc=self.palette[0], mec="white",
                            label="thread waiting"),
                     Line2D([], [], color=HOLD, lw=3, label="thread holding it")]
            dot = (dot if "publish" in self.trace.column("kind") else []) + locks
        return dot + [
            Line2D([], [], ls="", marker="X", ms=7, color=DROP, label="dropped / lost"),
            Line2D([], [], ls="", marker="P", ms=7, color=DEAD, label="dead-lettered"),
        ] + ([Line2D([], [], ls="", marker="o", ms=8, mfc=DOWN, mec=EDGE,
                     label="crashed")] if len(self.timeline.downs[0]) else []) + (
            [Line2D([], [], ls="", marker="o", ms=6, mfc="white", mec=EDGE, mew=1.6,
                    label="reply")] if self._any_reply() else [])

    def _any_reply(self) -> bool:
        """Does a reply travel back in this run? (A hop on no edge of the graph is one.)"""
        edges = self.graph.edges
        return any((u, v) not in edges
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
        self._number_the_tables()

    def _colours(self, msgs: np.ndarray) -> np.ndarray:
        """The palette index of each message id."""
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
        self._reply_paths = sorted({e for e in hops if e not in code})
        self._hop_colour = self._colours(tl.hops[4])
        self._stay_colour = self._colours(tl.stays[4])
        self._pulse_paths = {e: self._edge_path(*e) for e in self._edges}
        self._pulse_edge = np.array([code[e] for e in zip(tl.pulses[1], tl.pulses[2],
                                                          strict=True)], dtype=int)
        self._pulse_colour = self._colours(tl.pulses[3])
        places: dict = {}
        self._mark_place = np.array([
            places.setdefault((k == "dead-letter", self._mark_xy(k, n, p)), len(places))
            for _, k, n, p in zip(*tl.marks, strict=True)], dtype=int)
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

    def _draw_charts(self) -> None:
        """Queue length and throughput of the busiest queues, over the whole run."""
        ax_len, ax_tp = self.chart_axes
        tr, end = self.trace, self.trace.duration or 1.0
        busiest = self.main_queues()
        acks = metrics.count(tr, "ack")
        # throughput is counted in windows that hold about ten acks each (5 to 40 windows)
        windows = int(min(40, max(5, acks / max(len(busiest), 1) / 10)))
        width, edges = end / windows, np.linspace(0, end, windows + 1)
        for i, q in enumerate(busiest):
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]  # as in mqlab.charts
            times, lengths = metrics.queue_length(tr, q)
            xs, ys = times + [end], lengths + [lengths[-1]]
            ax_len.step(xs, ys, where="post", color=colour, lw=1.0, label=q)
            if len(busiest) == 1:
                ax_len.fill_between(xs, ys, step="post", color=colour, alpha=0.15, lw=0)
            counts, _ = np.histogram(tr.filter(kind="ack", peer=q).column("time"), bins=edges)
            # baseline=None: no drop to zero at either end of the run, which would read as a stall
            ax_tp.stairs(counts / width, edges, color=colour, lw=1.3, label=q, baseline=None)
        for a, ylabel in ((ax_len, "queue length\n(messages)"), (ax_tp, "throughput\n(acks/s)")):
            a.set_xlim(0, end)
            a.set_ylim(0, max(a.get_ylim()[1], 1.0))  # an idle run still gets a sane scale
            a.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=a is ax_len))
            a.set_xlabel("time (s)", fontsize=8, labelpad=1)
            a.set_ylabel(ylabel, fontsize=8)
            a.tick_params(labelsize=7)
            a.grid(alpha=0.3)
        if busiest:
            ax_len.legend(fontsize=7.5, loc="lower left", bbox_to_anchor=(0.0, 0.98),
                          frameon=False, ncol=len(busiest), borderaxespad=0.1)

    def main_queues(self, n: int = 4) -> list[str]:
        """The ``n`` queues that deliver the most messages (those feeding consumers first)."""
        tr = self.trace
        queues = [q for q in self.queues if q not in self.timeline.primitives]  # not locks
        count = {q: (metrics.count(tr, "deliver", node=q), metrics.count(tr, "enqueue", node=q))
                 for q in queues}
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
        for cursor in self._cursors:
            cursor.set_xdata([t, t])
        for artist in (self._pulse_lines, self._grip_lines, *self._boxes.lines, self._down,
                       *self._dots.lines, *self._replies.lines, *filter(None, self._covers),
                       self._drops, self._dead, self._ring, *self._cursors):
            if _shows_something(artist):  # each draw costs ~0.5 ms, even when empty
                artist.axes.draw_artist(artist)

    def _update_pulses(self, t: float) -> None:
        """Light up the edges that carried a message in the last ``fade`` seconds."""
        rows = self._latest(self.timeline.pulses[0], self._pulse_edge, t)
        times, colours = self.timeline.pulses[0][rows], self._pulse_colour[rows]
        rgba = self.palette[colours] if len(rows) else np.zeros((0, 4))
        rgba[:, 3] = 0.75 * (1 - (t - times) / self.fade)
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
        self._box_xy = np.vstack(xy) if xy else np.zeros((0, 2))
        self._box_ids = msgs[rows].astype(int) if len(rows) else np.zeros(0, int)
        self._boxes.set(self._box_xy, self._stay_colour[rows])

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
        if kind == "loss" and (node, peer) in self.edge_ends:
            p0, p1 = self.edge_ends[(node, peer)]
            return tuple(p0 + 0.75 * (p1 - p0))  # lost on the way
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
        # matplotlib's text engine takes ~5 ms a label; Pillow draws these in microseconds
        for xy, text, anchor, font in self._labels(t):
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

    return {"clock": font(mono, 9), "count": font(sans_bold, 8), "small": font(sans, 7.5)}


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



# -- many frames -------------------------------------------------------------------------------
def frame_times(duration: float, frames: int) -> np.ndarray:
    """``frames`` evenly spaced times from 0 to ``duration`` seconds, both ends included.

    A run that lasted no time at all has a single frame.

    >>> frame_times(2.0, 5).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be an int >= 1, got {frames!r}")
    return np.linspace(0.0, duration, frames) if duration > 0 else np.zeros(1)


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
