"""Draw a messaging network: where each part goes, and the static picture of it.

Everything here reads only the network graph (``trace.graph``), so a simulated run and a run
of traced real threads are drawn the same way. Messages flow left to right::

    producers -> brokers -> exchanges -> queues -> consumers

- :func:`layout` places the nodes in columns by role;
- :func:`draw_network` draws the graph once, networkx style (``ax=None``);
- :func:`draw_nodes`, :func:`ports`, :func:`bend` and :func:`role_legend`: the pieces, which
  the animated picture reuses. Colours and shapes come from :mod:`mqlab.style`.

The animated picture of a run, :class:`~mqlab.scene.Scene`, draws this picture once as its
background (see :mod:`mqlab.scene`).

>>> import mqlab as mq
>>> net = mq.Network(seed=1)
>>> net.producer("p", interval=1.0, routing_key="jobs", count=2)
>>> net.broker("hub"); net.queue("hub", "jobs"); net.consumer("c", queue="jobs")
>>> run = net.run(until=5)
>>> pos = layout(run.graph)
>>> pos["p"][0] < pos["hub"][0] < pos["jobs"][0] < pos["c"][0]
True
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from mqlab.style import (
    COUNT_SLOTS,
    DEAD,
    EDGE,
    LOG_CELL,
    QUEUE_FILL,
    ROLE_STYLE,
    TRAY_HEIGHT,
    TRAY_WIDTH,
)
from mqlab.trace import PRIMITIVE_KINDS, ROLES, as_trace, role_of

__all__ = ["bend", "draw_network", "draw_nodes", "layout", "legend_columns", "legend_handles",
           "network_rows", "ports", "role_legend"]

COLUMNS = ROLES  # left to right: producers, brokers, exchanges, queues, consumers
# gap (x units) before each column: queues are wide trays, so they get more room
_GAP = {"broker": 1.2, "exchange": 1.1, "queue": 1.6, "consumer": 1.6}
_LOG_GAP = 1.5  # rows between log partitions (queues: 1)


# -- layout ------------------------------------------------------------------------------------
def layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Place the nodes left to right in columns by role, each column spread top to bottom.

    Producers, brokers, exchanges, queues and consumers each get a column (a missing role's
    column is skipped). A queue sits level with its consumers and an exchange level with its
    queues, so lines cross as little as possible. Rows are one unit apart; the first node of a
    column is at the top.
    """
    columns = _columns(graph)
    x, xs = 0.0, {}
    for role in COLUMNS:
        if columns[role]:
            x += _GAP.get(role, 1.0) if xs else 0.0
            xs[role] = x
    ys = {c: float(i) for i, c in enumerate(columns["consumer"])}
    for role, fed in (("queue", "consumer"), ("exchange", "queue")):
        wanted, last = [], -1.0
        for n in columns[role]:
            last = _mean([ys[s] for s in graph.successors(n) if role_of(graph, s) == fed], last + 1)
            wanted.append(last)
        # a log partition needs room below it for its offsets and its groups' markers
        logs = any(graph.nodes[n].get("kind") == "log" for n in columns[role])
        gap = _LOG_GAP if role == "queue" and logs else 1.0
        ys.update(zip(columns[role], _no_overlap(wanted, gap), strict=True))
    height = max(ys.values()) - min(ys.values()) if ys else 0.0
    middle = _mean(list(ys.values()))
    brokers = columns["broker"]
    wanted = [_mean([ys[s] for s in graph.successors(b) if s in ys], w)
              for b, w in zip(brokers, _spread(len(brokers), middle, 1.0), strict=True)]
    ys.update(zip(brokers, _no_overlap(wanted), strict=True))
    # producers share the whole height, so their labels and links have room
    producers = columns["producer"]
    gap = min(2.0, max(1.0, height / max(len(producers) - 1, 1)))
    middle = _mean([ys[b] for b in brokers], middle)
    ys.update(zip(producers, _spread(len(producers), middle, gap), strict=True))
    return {n: (xs[role_of(graph, n)], -ys[n]) for n in graph}


def _columns(graph: nx.DiGraph) -> dict[str, list[str]]:
    """The nodes of each role, ordered so that related nodes end up side by side."""
    cols: dict[str, list[str]] = {role: [] for role in COLUMNS}
    for n in graph:
        cols[role_of(graph, n)].append(n)
    index = {n: i for i, n in enumerate(graph)}
    brokers = {b: i for i, b in enumerate(cols["broker"])}
    cols["exchange"].sort(key=lambda e: (brokers.get(graph.nodes[e].get("broker"), 0), index[e]))
    exchanges = {e: i for i, e in enumerate(cols["exchange"])}

    def queue_key(q):
        feeders = [exchanges[p] for p in graph.predecessors(q) if p in exchanges]
        dead_letter_target = any(graph.edges[p, q].get("kind") == "dead-letter"
                                 for p in graph.predecessors(q))
        return (dead_letter_target, min(feeders, default=len(exchanges)),
                brokers.get(graph.nodes[q].get("broker"), 0), index[q])

    cols["queue"].sort(key=queue_key)
    queues = {q: i for i, q in enumerate(cols["queue"])}
    cols["consumer"].sort(key=lambda c: (min((queues[p] for p in graph.predecessors(c)
                                               if p in queues), default=len(queues)), index[c]))
    return cols


def _mean(values: list[float], default: float = 0.0) -> float:
    return sum(values) / len(values) if values else default


def _spread(n: int, centre: float, gap: float) -> list[float]:
    return [centre + gap * (i - (n - 1) / 2) for i in range(n)]


def _no_overlap(wanted: list[float], gap: float = 1.0) -> list[float]:
    """Keep the order, push nodes at least ``gap`` apart, and stay centred on the wishes."""
    out: list[float] = []
    for w in wanted:
        out.append(max(w, out[-1] + gap) if out else w)
    shift = _mean(wanted) - _mean(out)
    return [y + shift for y in out]


# -- the static picture ------------------------------------------------------------------------
def draw_network(run_or_trace: Any, *, ax: Axes | None = None, pos: dict | None = None,
                 legend: bool = True, slots: int = 8) -> Axes:
    """Draw the network: nodes shaped and coloured by role, queues as trays, links as arrows.

    A topic is drawn as an exchange labelled with its number of partitions, and each of its
    partitions as a log: a tray divided into ``slots`` cells, one record each, offsets growing
    to the right. A consumer of a group named otherwise is labelled with its group.
    Accepts a Trace (its ``graph`` is drawn), a Run or a plain ``nx.DiGraph`` built by
    :class:`~mqlab.Network`. Returns the Axes (a new pyplot figure's when ``ax`` is None).
    """
    graph = _graph_of(run_or_trace)
    pos = layout(graph) if pos is None else pos
    if ax is None:  # a new figure through pyplot, so that a notebook shows it
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(9.6, 0.5 * network_rows(pos, graph) + 0.4)).add_subplot()
    _frame_axes(ax, pos, graph)
    for u, v, kind in graph.edges(data="kind"):
        _draw_edge(ax, graph, pos, u, v, kind)
    for role in ROLE_STYLE:
        draw_nodes(ax, graph, pos, role)
    for n in graph:
        _label(ax, graph, n, pos[n], slots, pos)
    if legend:
        role_legend(ax, graph)
    return ax


def draw_nodes(ax: Axes, graph: nx.DiGraph, pos: dict, role: str, **options: Any) -> Any:
    """Draw the nodes of one role (a scatter of its marker), or return None if there are none."""
    marker, fill, size = ROLE_STYLE[role]
    xy = np.array([pos[n] for n in graph if role_of(graph, n) == role]).reshape(-1, 2)
    if not len(xy):
        return None
    return ax.scatter(xy[:, 0], xy[:, 1], s=size, marker=marker, c=fill, edgecolors=EDGE,
                      linewidths=1.2, zorder=3, **options)


def _graph_of(obj: Any) -> nx.DiGraph:
    if isinstance(obj, nx.DiGraph):
        return obj
    try:
        return as_trace(obj, need_graph=True).graph
    except TypeError:
        raise TypeError("expected a Run, a Trace with a graph, or an nx.DiGraph; "
                        f"got {type(obj).__name__}") from None


def _extent(pos: dict, graph: nx.DiGraph | None = None) -> np.ndarray:
    """The points a drawing must show: every node, and the furthest point of each edge that
    curves back (a pipeline stage publishing to its broker on the left)."""
    points = list(pos.values()) or [(0.0, 0.0)]
    xs = [x for x, _ in points]
    # arc3 bends in the figure's inches, not in data units: a data unit across is about
    # 9.6 in / (the width in units), one down is 0.5 in
    stretch = 9.6 / (max(xs) - min(xs) + 2.0) / 0.5
    for u, v in graph.edges if graph is not None else ():
        rad = bend(graph, pos, u, v) if u in pos and v in pos else 0.0
        if rad and pos[u][0] != pos[v][0]:
            (x0, y0), (x1, y1) = pos[u], pos[v]
            # the curve's middle: halfway from the chord to arc3's control point
            points.append(((x0 + x1) / 2, (y0 + y1) / 2 - rad * (x1 - x0) * stretch / 2))
    return np.array(points, dtype=float)


def network_rows(pos: dict, graph: nx.DiGraph | None = None) -> float:
    """The height of the drawing in rows: the tallest column (and any edge curving back)
    plus room for labels."""
    ys = _extent(pos, graph)[:, 1]
    return max(ys.max() - ys.min(), 3.0) + 1.35  # a small network keeps its trays small


def _frame_axes(ax: Axes, pos: dict, graph: nx.DiGraph | None = None) -> None:
    xy = _extent(pos, graph)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    ax.set_xlim(lo[0] - 0.9, hi[0] + 1.1)  # room for the labels on both sides
    rows, mid = network_rows(pos, graph), (hi[1] + lo[1]) / 2
    ax.set_ylim(mid - rows / 2 - 0.075, mid + rows / 2 - 0.075)  # a bit more room below
    ax.set_axis_off()


def ports(graph: nx.DiGraph, pos: dict, u: str, v: str) -> tuple[np.ndarray, np.ndarray]:
    """Where the line from ``u`` to ``v`` starts and ends: node centres, or a tray's ends."""
    (x0, y0), (x1, y1) = pos[u], pos[v]
    if role_of(graph, u) == "queue":
        x0 += TRAY_WIDTH / 2 if x1 > x0 else -TRAY_WIDTH / 2
    if role_of(graph, v) == "queue":
        x1 -= TRAY_WIDTH / 2 if x1 > x0 or role_of(graph, u) == "queue" else -TRAY_WIDTH / 2
    return np.array([x0, y0]), np.array([x1, y1])


def bend(graph: nx.DiGraph, pos: dict, u: str, v: str) -> float:
    """Curvature of an edge: straight forward, curved when it goes back or down a column
    (the longer it goes back, the flatter, so that it stays near the picture)."""
    back = pos[u][0] - pos[v][0]
    return 0.0 if back < 0 else 0.6 * min(1.0, 1.5 / back) if back > 0 else 0.6


def _draw_edge(ax: Axes, graph: nx.DiGraph, pos: dict, u: str, v: str, kind: str | None) -> None:
    p0, p1 = ports(graph, pos, u, v)
    style = {"color": "#555555", "lw": 1.3, "ls": "-"}
    if kind == "internal" and role_of(graph, v) == "queue":
        style = {"color": "#BBBBBB", "lw": 1.0, "ls": ":"}  # the default exchange's path
    elif kind == "dead-letter":
        style = {"color": DEAD, "lw": 1.3, "ls": "--"}
    elif kind == "sync":  # a thread using a lock, semaphore or condition
        style = {"color": "#999999", "lw": 1.0, "ls": (0, (4, 2))}
    shrink_a = 0 if role_of(graph, u) == "queue" else 11
    shrink_b = 0 if role_of(graph, v) == "queue" else 12
    if role_of(graph, v) == "broker":  # a big square: stop at its side, or at a corner
        shrink_b = 21 if bend(graph, pos, u, v) else 16
    arrow = FancyArrowPatch(
        p0, p1, arrowstyle="-|>", mutation_scale=9, shrinkA=shrink_a, shrinkB=shrink_b,
        connectionstyle=f"arc3,rad={bend(graph, pos, u, v)}", color=style["color"],
        lw=style["lw"], ls=style["ls"], zorder=1)
    ax.add_patch(arrow)
    pattern = graph.edges[u, v].get("pattern")
    if kind == "binding" and pattern:
        at = p0 + 0.62 * (p1 - p0)
        ax.text(at[0], at[1] + 0.08, pattern, fontsize=7, color="#444444", style="italic",
                ha="center", va="bottom", zorder=2,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})


def _label(ax: Axes, graph: nx.DiGraph, n: str, xy: tuple[float, float], slots: int = 8,
           pos: dict | None = None) -> None:
    role, attrs = role_of(graph, n), graph.nodes[n]
    if role == "queue":
        x, y = xy
        ax.add_patch(Rectangle((x - TRAY_WIDTH / 2, y - TRAY_HEIGHT / 2), TRAY_WIDTH,
                               TRAY_HEIGHT, fc=QUEUE_FILL, ec=EDGE, lw=1.2, zorder=2))
        if attrs.get("kind") == "log":
            _log_cells(ax, x, y, slots)
        bits = [attrs.get("kind") or ""]
        retention = attrs.get("retention", _topic_of(graph, n).get("retention"))
        if attrs.get("kind") == "log" and retention is not None:
            bits.append(f"kept {retention:g} s")
        if attrs.get("capacity"):
            bits.append(f"max {attrs['capacity']}")
        if attrs.get("kind") == "semaphore" and attrs.get("value") is not None:
            bits.append(f"{attrs['value']} at a time")
        extra = ", ".join(b for b in bits if b and b != "fifo")
        text = f"{n}  ({extra})" if extra else n
        ax.annotate(text, (x - TRAY_WIDTH / 2, y + TRAY_HEIGHT / 2), xytext=(0, 2),
                    textcoords="offset points", ha="left", va="bottom", fontsize=8.5,
                    weight="bold", zorder=4)
    elif role == "producer":
        ax.annotate(n, xy, xytext=(-16, 0), textcoords="offset points", ha="right",
                    va="center", fontsize=8.5, zorder=4)
    elif role == "consumer":
        group = attrs.get("group")
        text = f"{n}\n(group {group})" if group and group != n else n
        ax.annotate(text, xy, xytext=(15, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=8.5, zorder=4, linespacing=0.95)
    else:
        text = f"{n}\n({attrs['type']})" if role == "exchange" and attrs.get("type") else n
        if role == "exchange" and attrs.get("log"):
            parts = attrs.get("partitions")
            text = f"{n}\n(topic, {parts} partitions)" if parts else f"{n}\n(topic)"
        if role == "broker" and pos is not None and any(
                m != n and role_of(graph, m) == "broker" and abs(pos[m][0] - xy[0]) < 1e-9
                for m in pos):
            # brokers stacked in one column (a cluster): the name beside, not under, the box
            # (above the line arriving at its middle)
            ax.annotate(text, xy, xytext=(-17, 7), textcoords="offset points", ha="right",
                        va="bottom", fontsize=8.5, zorder=4)
            return
        ax.annotate(text, xy, xytext=(0, -15), textcoords="offset points", ha="center",
                    va="top", fontsize=8.5, zorder=4, linespacing=0.95)


def _topic_of(graph: nx.DiGraph, partition: str) -> dict:
    """The attributes of the topic a log partition belongs to ({} if none)."""
    topic = graph.nodes[partition].get("topic")
    return graph.nodes[topic] if topic in graph else {}


def _log_cells(ax: Axes, x: float, y: float, slots: int) -> None:
    """Thin lines between the cells of a log partition's tray (its tail shows the count)."""
    cell = TRAY_WIDTH / (slots + COUNT_SLOTS)
    left = x - TRAY_WIDTH / 2 + cell * COUNT_SLOTS
    xs = left + cell * np.arange(slots)
    ax.vlines(xs, y - TRAY_HEIGHT / 2, y + TRAY_HEIGHT / 2, colors=LOG_CELL, lw=0.8, zorder=2)


def role_legend(ax: Axes, graph: nx.DiGraph, extra: list | None = None) -> int:
    """The legend under the network: its roles, then ``extra`` entries. It takes one row, or
    as many rows as it needs to fit the figure's width; returns the number of rows."""
    handles = legend_handles(graph, extra)
    columns = legend_columns(handles, ax.figure.get_figwidth() * 0.98)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns,
              fontsize=_LEGEND_POINTS, frameon=False, handletextpad=0.3, columnspacing=1.0)
    return -(-len(handles) // columns)


_LEGEND_POINTS = 7.5


def legend_handles(graph: nx.DiGraph, extra: list | None = None) -> list:
    """The entries of the legend under the network: one per role, then ``extra``."""
    roles = {role_of(graph, n) for n in graph}
    # a lock, semaphore or condition of traced threads is drawn as a tray too
    locks = {graph.nodes[n].get("kind") in PRIMITIVE_KINDS
             for n in graph if role_of(graph, n) == "queue"}
    only_locks = locks == {True}  # threads sharing locks: its "consumers" are threads
    handles = [Line2D([], [], ls="", marker=m, ms=8, mfc=fill, mec=EDGE,
                      label="thread" if only_locks and role == "consumer" else role)
               for role, (m, fill, _) in ROLE_STYLE.items() if role in roles and role != "queue"]
    if "queue" in roles:
        # what the trays are: queues, logs (partitions of topics), locks of threads
        kinds = {"lock" if k in PRIMITIVE_KINDS else "log" if k == "log" else "queue"
                 for n, k in graph.nodes(data="kind") if role_of(graph, n) == "queue"}
        label = " / ".join(k for k in ("queue", "log", "lock") if k in kinds)
        handles.insert(-1 if "consumer" in roles else len(handles),
                       Line2D([], [], ls="", marker="s", ms=9, mfc=QUEUE_FILL, mec=EDGE,
                              label=label))
    return handles + (extra or [])


def legend_columns(handles: list, width: float) -> int:
    """How many columns a legend of ``handles`` can have to fit ``width`` inches: all of them
    in one row if they fit, else the rows are shared out evenly."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font, measure = FontProperties(size=_LEGEND_POINTS), TextToPath()
    # each entry: its handle (2 font sizes), a gap (0.3) and the space to the next one (1.0)
    entries = [(measure.get_text_width_height_descent(h.get_label(), font, ismath=False)[0]
                + 3.3 * _LEGEND_POINTS) / 72 for h in handles]
    for rows in range(1, len(handles) + 1):
        columns = -(-len(handles) // rows)
        # matplotlib fills the columns in turn, the first ones one entry longer if need be;
        # the widest entry of each column sets its width
        short, long = divmod(len(handles), columns)
        heights = [short + 1] * long + [short] * (columns - long)
        starts = np.cumsum([0, *heights])
        widths = [max(entries[a:b]) for a, b in zip(starts, starts[1:], strict=False) if b > a]
        if sum(widths) <= width:
            return columns
    return 1
