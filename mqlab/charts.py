"""Static charts of a run, drawn from its Trace alone: queue length, latency, throughput, sequence.

Every function works like networkx's drawing functions: pass ``ax`` to draw into an Axes of
your own figure, or leave it out and a new figure is made. The Axes is returned, so you can add
a title or save the figure. The numbers come from :mod:`mqlab.metrics`, so a chart always
agrees with ``run.summary()``; and since only the Trace is read, a simulated run and a run of
traced real threads or tasks give the same pictures.

Colours follow the Okabe-Ito palette, which stays distinguishable with colour blindness.

>>> import mqlab as mq
>>> from mqlab import charts
>>> net = mq.Network(seed=1)
>>> net.producer("sensor", interval=0.5, routing_key="jobs", count=6)
>>> net.broker("hub")
>>> net.queue("hub", "jobs")
>>> net.consumer("worker", queue="jobs", service=0.8)
>>> trace = net.run().trace
>>> ax = charts.plot_queue_length(trace)
>>> ax.get_ylabel()
'messages waiting in the queue'
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from mqlab import metrics
from mqlab.state import trips
from mqlab.style import OKABE_ITO, SERIES_COLOURS
from mqlab.trace import Trace, as_trace, roles

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "Hop",
    "Mark",
    "SERIES_COLOURS",
    "first_messages",
    "hops",
    "plot_latency",
    "plot_queue_length",
    "plot_sequence",
    "plot_throughput",
    "roles",
]

BLACK = OKABE_ITO["black"]


# -- shared helpers ----------------------------------------------------------------------------
def _axes(ax: Axes | None, size: tuple[float, float] = (7.0, 4.0)) -> Axes:
    """The Axes to draw in: the caller's, or a new figure's (pyplot is loaded only then)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _colour(i: int) -> str:
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def _nodes_with_role(trace: Trace, role: str) -> list[str]:
    return [n for n, r in roles(trace).items() if r == role]


def _legend_outside(ax: Axes, **options) -> None:
    """A legend to the right of the plot, where it cannot hide any data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize="small",
              title_fontsize="small", frameon=False, **options)


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


# -- queue length ------------------------------------------------------------------------------
def plot_queue_length(run_or_trace: Trace | Any, queues: list[str] | None = None, *,
                      ax: Axes | None = None) -> Axes:
    """Draw how many messages wait in each queue over time, one step line per queue.

    ``queues`` defaults to every queue of the run. A queue with a capacity gets a dotted line
    at that height, so you can see when it was full.

    >>> ax = plot_queue_length(trace, queues=["jobs"])   # doctest: +SKIP
    """
    trace = as_trace(run_or_trace)
    queues = _nodes_with_role(trace, "queue") if queues is None else list(queues)
    ax = _axes(ax)
    end, top = trace.duration, 1
    for i, name in enumerate(queues):
        times, lengths = metrics.queue_length(trace, name)
        # hold the last length until the end of the run, so the line does not stop early
        ax.step(times + [max(end, times[-1])], lengths + [lengths[-1]], where="post",
                color=_colour(i), lw=1.6, label=name)
        top = max(top, *lengths)
        cap = _capacity(trace, name)
        if cap is not None:
            top = max(top, cap)
            ax.axhline(cap, color=_colour(i), ls=":", lw=1.2, label=f"{name} capacity ({cap})")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("messages waiting in the queue")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, end if end > 0 else 1)
    ax.set_ylim(0, top * 1.08 + 0.2)  # room above a full queue, so its line shows
    if queues:
        _legend_outside(ax, title="queue")
    else:
        _no_data(ax, "no queues in this run")
    return ax


def _capacity(trace: Trace, queue: str) -> int | None:
    if trace.graph is None or queue not in trace.graph:
        return None
    return trace.graph.nodes[queue].get("capacity")


# -- latency -----------------------------------------------------------------------------------
def plot_latency(run_or_trace: Trace | Any, *, start: str = "publish", end: str = "ack",
                 bins: int = 30, ax: Axes | None = None) -> Axes:
    """Draw a histogram of message latencies, with the median, p95 and p99 marked.

    A latency is the time from a message's ``start`` event (default: publish) to its ``end``
    event (default: ack), as :func:`mqlab.metrics.latencies` measures it. The tail (p95, p99)
    is what the slowest messages, and the most impatient users, see.

    >>> ax = plot_latency(trace, bins=20)   # doctest: +SKIP
    """
    trace = as_trace(run_or_trace)
    values = metrics.latencies(trace, start, end)
    ax = _axes(ax)
    ax.set_xlabel(f"latency, {start} \u2192 {end} (s)")
    ax.set_ylabel("messages")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not values:
        _no_data(ax, f"no message went from {start} to {end}")
        return ax
    ax.hist(values, bins=bins, color=SERIES_COLOURS[5], edgecolor="white", label="messages")
    marks = ((50, "-", 0.97), (95, "--", 0.86), (99, ":", 0.75))
    for q, style, height in marks:
        v = metrics.percentile(values, q)
        ax.axvline(v, color=BLACK, ls=style, lw=1.3, label=f"p{q} = {v:.3g} s")
        # staggered labels, so close percentiles do not print over each other
        ax.annotate(f" p{q}", xy=(v, height), xycoords=("data", "axes fraction"),
                    va="top", fontsize="small")
    ax.set_xlim(left=0)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.12)  # room for the labels above the bars
    _legend_outside(ax, title=f"{len(values)} messages")
    return ax


# -- throughput --------------------------------------------------------------------------------
def plot_throughput(run_or_trace: Trace | Any, nodes: list[str] | None = None, *,
                    window: float | None = None, step: float | None = None,
                    ax: Axes | None = None) -> Axes:
    """Draw each consumer's throughput over time, and the whole system's (their sum).

    Throughput is counted in windows of ``window`` seconds: acks in the window / its length,
    by :func:`mqlab.metrics.throughput`. The default window is a round number long enough to
    hold about ten acks per node, cutting the run into 4 to 20 windows. Windows follow
    each other (tumbling) unless ``step`` is smaller than ``window``: then they overlap
    (sliding) and the curve is smoother. Each value is drawn over the last ``step`` seconds of
    its window.

    >>> ax = plot_throughput(trace, window=5.0)   # doctest: +SKIP
    """
    trace = as_trace(run_or_trace)
    nodes = _nodes_with_role(trace, "consumer") if nodes is None else list(nodes)
    ax = _axes(ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("throughput (messages/s)")
    duration = trace.duration
    if duration <= 0:
        _no_data(ax, "the run has no duration yet")
        return ax
    acks = trace.filter(kind="ack")
    if window is None:
        windows = min(20, max(4, len(acks) // (10 * max(1, len(nodes)))))
        window = _nice(duration / windows)
    step = window if step is None else step
    if not (window > 0 and step > 0):
        raise ValueError(f"window and step must be > 0 seconds, got {window} and {step}")
    window = min(window, duration)
    starts = [k * step for k in range(int((duration - window) / step + 1e-9) + 1)]

    def series(values: list[float]) -> tuple[list[float], list[float]]:
        # one extra point at the first window's start, so its step is drawn too
        return [starts[0] + window - step] + [s + window for s in starts], values[:1] + values

    for i, name in enumerate(nodes):
        mine = acks.filter(node=name)
        ys = [metrics.throughput(mine, name, s, s + window) for s in starts]
        # line styles as well as colours, so that equal curves stay visible
        ax.plot(*series(ys), drawstyle="steps-pre", color=_colour(i), lw=1.6, label=name,
                ls=_STYLES[i % len(_STYLES)])
    total = [metrics.system_throughput(acks, s, s + window) for s in starts]
    ax.plot(*series(total), drawstyle="steps-pre", color=BLACK, lw=2.2, label="system (sum)")
    ax.set_xlim(0, duration)
    ax.set_ylim(0, max(total) * 1.08 or 1)
    kind = "tumbling" if step == window else f"sliding by {step:g} s"
    _legend_outside(ax, title=f"{window:g} s windows\n{kind}")
    return ax


_STYLES = ("-", (0, (5, 2)), (0, (5, 2, 1, 2)), (0, (1, 1.5)))


def _nice(x: float) -> float:
    """The round number (1, 2 or 5 times a power of ten) nearest to ``x``, for a window.

    >>> _nice(3.7), _nice(0.0012)
    (5.0, 0.001)
    """
    if x <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(x))
    candidates = [m * power for m in (1, 2, 5, 10)]
    best = min(candidates, key=lambda c: abs(math.log(c / x)))
    return float(f"{best:.12g}")  # 0.1 * 3 and the like: drop the float noise


# -- sequence diagram --------------------------------------------------------------------------
class Hop(NamedTuple):
    """One arrow of a sequence diagram: message ``msg`` goes from ``src`` to ``dst``.

    ``kind`` is the event that starts it (publish, route, deliver, ack, nack, reply,
    dead-letter), or "exchange" when a broker hands a message to one of its exchanges.
    ``how`` is "arrow", "lost" (it ends in an x on the way) or "open" (still travelling when
    the run ended).
    """

    kind: str
    msg: int
    src: str
    t0: float
    dst: str
    t1: float
    how: str = "arrow"


class Mark(NamedTuple):
    """A message's end marked with an x: dropped, expired, lost on a link or in a crash.

    The x sits on ``node``'s lifeline, or half-way to ``towards`` when it was lost on the way.
    """

    msg: int
    node: str
    time: float
    reason: str
    towards: str = ""


def first_messages(trace: Trace, limit: int) -> list[int]:
    """The ids of the first ``limit`` messages to appear in the trace.

    >>> first_messages(Trace([(0.0, "publish", 7, "a", "q"), (0.1, "crash", 0, "w"),
    ...                       (0.2, "publish", 3, "a", "q"), (0.3, "ack", 7, "w", "q")]), 5)
    [7, 3]
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    seen: dict[int, None] = {}
    for row in trace.rows:
        if row[2] and row[2] not in seen:
            seen[row[2]] = None
            if len(seen) == limit:
                break
    return list(seen)


def hops(trace: Trace, messages: list[int]) -> tuple[list[Hop], list[Mark]]:
    """The arrows and x marks of a sequence diagram of ``messages``, read from the trace.

    A hop over a link is a trip of :func:`mqlab.state.trips` (the one pairing rule of sends
    and arrivals that the Player uses too); a trace without arrivals (a real run records none)
    draws it as instant.

    >>> t = Trace()
    >>> t.record(0.0, "publish", 1, "sensor", "hub")
    >>> t.record(0.2, "arrive", 1, "hub", "sensor")
    >>> t.record(0.2, "drop", 1, "hub", "", "unroutable")
    >>> arrows, marks = hops(t, [1])
    >>> arrows[0].src, arrows[0].dst, arrows[0].t1, marks[0].reason
    ('sensor', 'hub', 0.2, 'unroutable')
    """
    chosen = set(messages)
    mine = [trip for trip in trips(trace) if trip.msg in chosen]
    reader = _HopReader(chosen, {trip.row: trip for trip in mine if trip.row >= 0})
    for i, row in enumerate(trace.rows):
        reader.read(i, *row)
    return reader.finish([trip for trip in mine if trip.end == "open"], trace.duration)


class _HopReader:
    """Reads a trace row by row, turning the chosen messages' events into hops and marks."""

    def __init__(self, chosen: set[int], ended: dict) -> None:
        self.chosen = chosen
        self.ended = ended  # row index -> the trip that row ended
        self.arrows: list[Hop] = []
        self.marks: list[Mark] = []
        self.at_broker: dict[int, str] = {}  # the broker a message has just arrived at
        self.dead_lettered: dict[int, tuple[str, str]] = {}

    def read(self, i: int, t: float, kind: str, m: int, node: str, peer: str,
             info: str) -> None:
        if i in self.ended:
            self.trip_ended(self.ended[i])
        if m in self.chosen:
            handler = getattr(self, "on_" + kind.replace("-", "_"), None)
            if handler is not None:
                handler(t, m, node, peer, info)

    def trip_ended(self, trip) -> None:
        """A trip over a link arrived, was lost, or was cut short by a crash of its receiver."""
        if trip.end == "arrive":  # a reply, too: from where the message ended to its producer
            self.arrows.append(Hop(trip.kind, trip.msg, trip.src, trip.t0, trip.dst, trip.t1))
            if trip.kind == "publish":
                self.at_broker[trip.msg] = trip.dst
            return
        self.arrows.append(Hop(trip.kind, trip.msg, trip.src, trip.t0, trip.dst, trip.t1, "lost"))
        reason = "lost on the link" if trip.end == "loss" else f"{trip.dst} crashed"
        self.marks.append(Mark(trip.msg, trip.src, trip.t1, reason, towards=trip.dst))

    def on_route(self, t, m, node, peer, info):
        if self.dead_lettered.get(m) == (node, peer):
            return  # the dead-letter arrow already shows this step
        broker = self.at_broker.pop(m, node)
        if broker != node:  # the broker hands it to one of its exchanges
            self.arrows.append(Hop("exchange", m, broker, t, node, t))
        self.arrows.append(Hop("route", m, node, t, peer, t))

    def on_dead_letter(self, t, m, node, peer, info):
        self.arrows.append(Hop("dead-letter", m, node, t, peer, t))
        self.dead_lettered[m] = (node, peer)

    def on_ack(self, t, m, node, peer, info):
        self.arrows.append(Hop("ack", m, node, t, peer, t))

    on_nack = on_ack

    def on_drop(self, t, m, node, peer, info):
        self.marks.append(Mark(m, node, t, info or "dropped"))

    def on_expire(self, t, m, node, peer, info):
        self.marks.append(Mark(m, node, t, "expired"))

    def finish(self, still_open: list, end: float) -> tuple[list[Hop], list[Mark]]:
        """Trips still travelling when the run ended are drawn up to its end."""
        self.arrows += [Hop(trip.kind, trip.msg, trip.src, trip.t0, trip.dst, end, "open")
                        for trip in still_open]
        self.arrows.sort(key=lambda h: h.t0)  # stable: the order they happened in
        return self.arrows, self.marks


def _processing(trace: Trace, messages: set[int]) -> list[tuple[str, float, float]]:
    """(consumer, start, end) of each processing step, from ``start`` to ack/nack/drop."""
    began: dict[tuple[int, str], float] = {}
    bars = []
    for t, kind, m, node, _, _ in trace.rows:
        if m not in messages:
            continue
        if kind == "start":
            began[(m, node)] = t
        elif kind in ("ack", "nack", "drop") and (m, node) in began:
            bars.append((node, began.pop((m, node)), t))
    return bars


def plot_sequence(run_or_trace: Trace | Any, messages: list[int] | None = None,
                  limit: int = 6, *, ax: Axes | None = None) -> Axes:
    """Draw a sequence diagram: each node a vertical lifeline, time flowing downward.

    Each of the first ``limit`` messages (or the ids in ``messages``) is one colour. Solid
    arrows carry it forward (publish to the broker, route into a queue, deliver to a
    consumer); dashed arrows go back (ack to the queue, reply to a synchronous producer). A
    sloped arrow took time on a network link; steps at the same instant are drawn one just
    below the other, in the order they happened. Grey bars show a consumer at work; an x
    marks where a message was dropped, expired or lost.

    >>> ax = plot_sequence(trace, limit=5)   # doctest: +SKIP
    """
    trace = as_trace(run_or_trace)
    ids = first_messages(trace, limit) if messages is None else list(messages)
    arrows, marks = hops(trace, ids)
    bars = _processing(trace, set(ids))
    lo, hi = _time_range(arrows, marks, bars)
    arrows = _spread(arrows, step=0.012 * (hi - lo))
    lo, hi = _time_range(arrows, marks, bars)
    role = roles(trace)
    lanes = list(role)
    for a in arrows:  # a node missing from the graph still gets a lifeline
        lanes += [n for n in (a.src, a.dst) if n not in lanes]
    x = {n: i for i, n in enumerate(lanes)}
    colour = {m: _colour(i) for i, m in enumerate(ids)}

    ax = _axes(ax, size=(max(6.0, 1.3 * len(lanes)), 6.0))
    _lifelines(ax, lanes, role)
    for node, t0, t1 in bars:
        ax.add_patch(Rectangle((x[node] - 0.06, t0), 0.12, t1 - t0, facecolor="0.85",
                               edgecolor="0.5", lw=0.6, zorder=1))
    for a in arrows:
        _draw_hop(ax, a, x, colour[a.msg])
    for mk in marks:
        where = (x[mk.node] + x[mk.towards]) / 2 if mk.towards else x[mk.node]
        ax.plot(where, mk.time, marker="x", ms=9, mew=2.2, color=colour[mk.msg], zorder=4)
        ax.annotate(mk.reason, (where, mk.time), xytext=(6, 4), textcoords="offset points",
                    fontsize="x-small", color="0.25")
    pad = 0.04 * (hi - lo) or 0.05
    ax.set_ylim(hi + pad, lo - pad)  # time flows downward
    _label_messages(ax, arrows, x, colour, close=0.03 * (hi - lo))
    ax.set_ylabel("time (s)")
    ax.set_title(f"messages {_id_list(ids)}", fontsize="medium", loc="left")
    ax.legend(handles=_sequence_legend(bars, marks), loc="upper center", fontsize="small",
              bbox_to_anchor=(0.5, -0.01), ncol=4, frameon=False)
    return ax


def _time_range(arrows: list[Hop], marks: list[Mark], bars: list) -> tuple[float, float]:
    times = [t for a in arrows for t in (a.t0, a.t1)] + [mk.time for mk in marks]
    times += [t for _, t0, t1 in bars for t in (t0, t1)]
    return (min(times), max(times)) if times else (0.0, 1.0)


def _spread(arrows: list[Hop], step: float) -> list[Hop]:
    """Move instant hops that share a moment ``step`` apart, so none hides another."""
    taken: Counter = Counter()
    out = []
    for a in arrows:
        if a.t0 == a.t1:
            key = round(a.t0, 9)  # float sums of one moment may differ in the last digit
            shift = step * taken[key]
            taken[key] += 1
            a = a._replace(t0=a.t0 + shift, t1=a.t1 + shift)
        out.append(a)
    return out


def _lifelines(ax: Axes, lanes: list[str], role: dict[str, str]) -> None:
    """One dashed vertical line per node, named (with its role) along the top."""
    for i in range(len(lanes)):
        ax.axvline(i, color="0.75", lw=1, ls="--", zorder=0)
    ax.set_xlim(-0.6, len(lanes) - 0.4)
    ax.set_xticks(range(len(lanes)), [f"{n}\n({role.get(n, '?')})" for n in lanes])
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    for side in ("right", "bottom"):
        ax.spines[side].set_visible(False)


def _draw_hop(ax: Axes, a: Hop, x: dict[str, int], colour: str) -> None:
    x0, x1 = x[a.src], x[a.dst]
    if a.how == "lost":  # it never got there: stop half-way, where its Mark draws an x
        x1 = (x0 + x1) / 2
    back = a.kind in ("ack", "nack", "reply")
    style = "-" if a.how == "lost" else "-|>"
    ax.add_patch(FancyArrowPatch(
        (x0, a.t0), (x1, a.t1), arrowstyle=style, mutation_scale=12, color=colour, lw=1.4,
        ls=(0, (4, 3)) if back or a.how == "open" else "-", shrinkA=0, shrinkB=0, zorder=3,
        gid=f"hop:{a.kind}"))


def _label_messages(ax: Axes, arrows: list[Hop], x: dict[str, int],
                    colour: dict[int, str], close: float) -> None:
    """Write each message's id beside the start of its first arrow.

    Labels less than ``close`` seconds apart on one lifeline move sideways, not on top of
    each other.
    """
    first: dict[int, Hop] = {}
    for a in sorted(arrows, key=lambda a: a.t0):
        first.setdefault(a.msg, a)
    last: dict[str, tuple[float, int]] = {}  # lifeline -> (time, shift) of its latest label
    for m, a in first.items():
        t_prev, shift = last.get(a.src, (-math.inf, 0))
        shift = shift + 1 if a.t0 - t_prev < close else 0
        last[a.src] = (a.t0, shift)
        left = x[a.dst] >= x[a.src]  # write on the side the arrow does not go
        dx = (5 + 20 * shift) * (-1 if left else 1)
        ax.annotate(f"#{m}", (x[a.src], a.t0), xytext=(dx, 0), textcoords="offset points",
                    ha="right" if left else "left", va="center", fontsize="x-small",
                    color=colour[m], fontweight="bold")


def _sequence_legend(bars: list, marks: list[Mark]) -> list:
    handles = [Line2D([], [], color="0.3", lw=1.4, label="message moves on"),
               Line2D([], [], color="0.3", lw=1.4, ls=(0, (4, 3)), label="ack / reply")]
    if bars:
        handles.append(Rectangle((0, 0), 1, 1, facecolor="0.85", edgecolor="0.5",
                                 label="consumer at work"))
    if marks:
        handles.append(Line2D([], [], color="0.3", marker="x", ls="", mew=2,
                              label="dropped / lost"))
    return handles


def _id_list(ids: list[int]) -> str:
    if len(ids) > 2 and ids == list(range(ids[0], ids[0] + len(ids))):
        return f"#{ids[0]}\u2013#{ids[-1]}"
    return ", ".join(f"#{m}" for m in ids)
