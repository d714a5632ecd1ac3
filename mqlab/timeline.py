"""Where every message is over time: a Trace turned into tables of intervals.

A run's Trace lists events (publish, arrive, enqueue, deliver, ack, ...). An animation frame
needs the opposite view: at time ``t``, which messages are on which link, in which queue, at
which consumer. :class:`Timeline` reads the trace once and files every message's whereabouts
as (start, end, ...) intervals, one numpy array per column, sorted by start time, so a frame
finds its state with a binary search and a few vectorised comparisons instead of replaying the
trace. :class:`~mqlab.scene.Scene` is its reader.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np

from mqlab.draw import _role
from mqlab.metrics import queue_delta
from mqlab.trace import Trace

__all__ = ["Timeline"]


# -- where every message is, over time ---------------------------------------------------------
_HOP_START = ("publish", "send", "duplicate", "deliver")
_CONSUMER_ENDS = ("ack", "nack", "drop")


class Timeline:
    """Every message's whereabouts as time intervals, read from the trace in one pass.

    The tables (one numpy array per column, sorted by start time) let a Scene find the state
    at any time ``t`` with a few vectorised comparisons instead of replaying the trace:

    - ``hops``: (start, end, from, to, msg, colour) a message on a link;
    - ``stays``: (start, end, queue, order, msg, colour) a message waiting in a queue;
    - ``holds``: (arrived, started, end, consumer, msg, colour) a message at a consumer;
    - ``blocks``: (start, end, queue) a publisher held back by a full queue;
    - ``downs``: (start, end, node) a crashed node;
    - ``marks``: (time, kind, node, peer) a drop, expiry, loss or dead-letter;
    - ``pulses``: (time, from, to, colour) a message passing an edge in no time (routing).
    """

    def __init__(self, trace: Trace, graph: nx.DiGraph, colour_of: dict) -> None:
        self.graph, self.colour_of = graph, colour_of
        self.roles = {n: _role(graph, n) for n in graph}
        self.done: dict[str, list] = {k: [] for k in _TABLES}
        self.open: dict[str, dict] = {k: {} for k in ("hops", "stays", "holds", "blocks")}
        self.crashed: dict[str, float] = {}
        for i, row in enumerate(trace.rows):
            self._read(i, *row)
        self._finish(trace.duration)
        for name, width in _TABLES.items():
            setattr(self, name, _table(self.done[name], width))
        self.longest_hop = float(np.max(self.hops[1] - self.hops[0])) if len(self.hops[0]) else 0.0

    def _start(self, table: str, key: tuple, value: list) -> None:
        self.open[table].setdefault(key, []).append(value)

    def _end(self, table: str, key: tuple) -> list | None:
        """The oldest open interval under ``key`` (copies of a message share its id)."""
        waiting = self.open[table].get(key)
        return waiting.pop(0) if waiting else None

    def _read(self, i: int, t: float, kind: str, m: int, node: str, peer: str,
              info: str) -> None:
        colour, role = self.colour_of.get(m, 0), self.roles.get(node)
        if kind in _HOP_START and self.graph.has_edge(node, peer):
            self._start("hops", (m, node, peer), [t, colour])
        elif kind in ("arrive", "loss"):
            a, b = (peer, node) if kind == "arrive" else (node, peer)
            hop = self._end("hops", (m, a, b))
            if hop:
                self.done["hops"].append((hop[0], t, a, b, m, hop[1]))
            if kind == "arrive" and role == "consumer":
                self._start("holds", (m, node), [t, np.inf, colour])
        if role == "queue":
            self._queue_event(i, t, kind, m, node, info, colour)
        elif role == "consumer":
            self._consumer_event(t, kind, m, node)
        if kind in ("crash", "recover"):
            self._crash_event(t, kind, node)
        if kind in ("drop", "expire", "dead-letter", "loss"):
            self.done["marks"].append((t, kind, node, peer))
        if kind in ("route", "dead-letter") and self.graph.has_edge(node, peer):
            self.done["pulses"].append((t, node, peer, colour))
            broker = self.graph.nodes[node].get("broker")
            if role == "exchange" and self.graph.has_edge(broker, node):
                self.done["pulses"].append((t, broker, node, colour))

    def _queue_event(self, i: int, t: float, kind: str, m: int, q: str, info: str,
                     colour: int) -> None:
        """A message enters or leaves queue ``q`` (the rule: :func:`mqlab.metrics.queue_delta`)."""
        delta = queue_delta(kind, info)
        if delta > 0:
            blocked = self._end("blocks", (m, q)) if kind == "enqueue" else None
            if blocked:
                self.done["blocks"].append((blocked[0], t, q))
            # trays show the head on the right; a requeued message goes back to the front
            order = -1e12 - i if kind == "requeue" else float(i)
            self._start("stays", (m, q), [t, order, colour])
        elif kind == "block":
            self._start("blocks", (m, q), [t])
        elif delta < 0:
            stay = self._end("stays", (m, q))
            if stay:
                self.done["stays"].append((stay[0], t, q, stay[1], m, stay[2]))

    def _consumer_event(self, t: float, kind: str, m: int, node: str) -> None:
        if kind == "start":
            waiting = [h for h in self.open["holds"].get((m, node), []) if h[1] == np.inf]
            if waiting:
                waiting[0][1] = t
        elif kind in _CONSUMER_ENDS:
            hold = self._end("holds", (m, node))
            if hold:
                self.done["holds"].append((hold[0], min(hold[1], t), t, node, m, hold[2]))

    def _crash_event(self, t: float, kind: str, node: str) -> None:
        if kind == "crash":  # whatever was on its way to it or inside it is gone
            self.crashed[node] = t
            self._close_where(lambda key: key[1] == node, "holds", t)
            self._close_where(lambda key: key[2] == node, "hops", t)
        elif node in self.crashed:
            self.done["downs"].append((self.crashed.pop(node), t, node))

    def _close_where(self, match: Callable, table: str, t: float) -> None:
        for key in [k for k in self.open[table] if match(k)]:
            for value in self.open[table].pop(key):
                self._close(table, key, value, t)

    def _close(self, table: str, key: tuple, value: list, t: float) -> None:
        """File an interval that ends at ``t``."""
        m, where = key[0], key[1:]
        if table == "hops":
            self.done["hops"].append((value[0], t, *where, m, value[1]))
        elif table == "stays":
            self.done["stays"].append((value[0], t, *where, value[1], m, value[2]))
        elif table == "holds":
            self.done["holds"].append((value[0], min(value[1], t), t, *where, m, value[2]))
        else:
            self.done["blocks"].append((value[0], t, *where))

    def _finish(self, end: float) -> None:
        """Whatever is still open at the end of the run lasts until the end."""
        for table in self.open:
            self._close_where(lambda _key: True, table, end)
        self.done["downs"] += [(t0, end, node) for node, t0 in self.crashed.items()]


_TABLES = {"hops": 6, "stays": 6, "holds": 6, "blocks": 3, "downs": 3, "marks": 4, "pulses": 4}


def _table(rows: list[tuple], width: int) -> list[np.ndarray]:
    """Rows of (start, ...) as one array per column, sorted by start time."""
    rows = sorted(rows, key=lambda r: r[0])
    if not rows:
        return [np.zeros(0)] * width
    return [np.asarray(col) for col in zip(*rows, strict=True)]
