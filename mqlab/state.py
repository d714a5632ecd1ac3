"""Where every message is at any moment: a Trace turned into plain data.

A Trace lists events (publish, arrive, enqueue, deliver, ack, ...). A picture of one moment
needs the opposite view: at time ``t``, which messages are on which link, which wait in which
queue, which a consumer holds. :class:`Timeline` reads the trace once and files every
message's whereabouts as (start, end, ...) intervals; :meth:`Timeline.at` answers "what is
where at ``t``" as a :class:`State`. The Player, the GIF and HTML exports and the sequence
diagram all read from here, so they agree with each other and with ``run.summary()``.

One rule pairs the two ends of a trip over a link (:func:`trips`): a send (``publish``,
``send``, ``duplicate``, ``deliver``) ends at the *oldest* unfinished send of the same message
between the same two nodes, when it ``arrive``-s or is lost (``loss``); a crash of the
receiver cuts every trip still on its way to it. The answer to a synchronous request travels
back too: a ``reply`` trip runs from where the message ended (the consumer that acked it) to
its producer.

A partition of a topic (a graph node of role "queue" and kind "log") is a log, not a queue: a
record stays in it after it is delivered (``deliver`` only starts a trip to the consumer) until
retention deletes it (``expire``); each consumer group has a committed offset in it (``commit``,
``seek``) and at most one consumer reading it (``rebalance``, ``assign``). A State gives them
as ``logs``, ``offsets`` and ``assigned``.

Nothing here draws: it needs numpy, not matplotlib.

>>> import mqlab as mq
>>> net = mq.Network(seed=1)
>>> net.producer("p", schedule=[0.0, 0.0, 0.0], routing_key="jobs")
>>> net.broker("hub"); net.queue("hub", "jobs"); net.consumer("c", queue="jobs", service=1)
>>> state = Timeline(net.run(until=3).trace).at(0.5)
>>> state.serving, state.queues
({'c': [1]}, {'jobs': [2, 3]})
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from mqlab.metrics import queue_delta
from mqlab.trace import PRIMITIVE_KINDS, Trace, as_trace, role_of, roles

__all__ = ["COUNTERS", "MARKS", "PRIMITIVE_KINDS", "State", "Timeline", "Trip", "count_rows",
           "rows_where", "shape_counts", "trips"]

_SENDS = ("publish", "send", "duplicate", "deliver")
_CONSUMER_ENDS = ("ack", "nack", "drop")
# a lock, semaphore or condition of traced threads (mqlab.realtime) is a "queue" node of one of
# these kinds: its tray holds the threads waiting for it (wait -> in; acquire, timeout or a
# condition's notify -> out), and the threads holding it are its ``holders``
_SYNC = ("wait", "acquire", "release", "notify", "timeout")
# the events marked where they happened (a cross that fades): a message dropped, expired,
# lost, dead-lettered, refused or changed on its way (a record deleted by retention is none)
MARKS = ("drop", "expire", "dead-letter", "loss", "deny", "tamper")
# the running totals a picture shows, and the events each one counts
COUNTERS = {"published": ("publish",), "delivered": ("deliver",), "acked": ("ack",),
            "dropped": ("drop", "expire", "loss")}


# -- trips over links --------------------------------------------------------------------------
class Trip(NamedTuple):
    """One message's trip over a link from ``src`` to ``dst``.

    ``kind`` is the event that started it (publish, send, duplicate, deliver), or "reply" for
    the answer to a synchronous request on its way back to the producer. ``end`` says how
    it finished: "arrive", "loss" (the link lost it), "cut" (the receiver crashed first) or
    "open" (still travelling when the run ended; ``t1`` is then infinite). ``row`` is the
    index of the trace row that ended it (-1 if none).
    """

    kind: str
    msg: int
    src: str
    dst: str
    t0: float
    t1: float
    end: str
    row: int = -1


_ENDS = ("ack", "drop", "expire")  # where a message's life ends (a loss ends on its link)


def trips(trace: Trace, links: bool | None = None) -> list[Trip]:
    """Every trip over a link, in the order the trips ended (open ones last).

    A trace of a real system that records no ``arrive`` events (traced threads hand a message
    over in no time) gives instant trips. ``links``: whether the trips take time (default:
    whether the trace records any ``arrive``), for a trace that holds only some of a run's
    rows.

    >>> t = Trace([(0.0, "publish", 1, "p", "hub"), (0.0, "duplicate", 1, "p", "hub"),
    ...            (0.2, "arrive", 1, "hub", "p"), (0.3, "loss", 1, "p", "hub")])
    >>> [(trip.t0, trip.t1, trip.end) for trip in trips(t)]
    [(0.0, 0.2, 'arrive'), (0.0, 0.3, 'loss')]
    """
    links_recorded = count_rows(trace, "arrive") > 0 if links is None else links
    out: list[Trip] = []
    pending: dict[tuple, list[tuple[str, float]]] = {}  # (msg, src, dst) -> sends, oldest first
    ended: dict[int, tuple[float, str]] = {}  # msg -> when and where it last ended
    for i, (t, kind, m, node, peer, _) in enumerate(trace.rows):
        if kind in _ENDS:
            ended[m] = (t, node)
        elif kind == "reply" and m in ended:
            t0, where = ended[m]
            out.append(Trip("reply", m, peer or where, node, t0, t, "arrive", i))
        elif kind in _SENDS and peer:
            if links_recorded:
                pending.setdefault((m, node, peer), []).append((kind, t))
            else:
                out.append(Trip(kind, m, node, peer, t, t, "arrive", i))
        elif kind in ("arrive", "loss"):
            src, dst = (peer, node) if kind == "arrive" else (node, peer)
            sends = pending.get((m, src, dst))
            if sends:
                began, t0 = sends.pop(0)
                out.append(Trip(began, m, src, dst, t0, t, kind, i))
            if kind == "loss":
                ended[m] = (t, node)
        elif kind == "crash":
            for key in [k for k, sends in pending.items() if k[2] == node and sends]:
                for began, t0 in pending.pop(key):
                    out.append(Trip(began, key[0], key[1], node, t0, t, "cut", i))
    for (m, src, dst), sends in pending.items():
        out += [Trip(began, m, src, dst, t0, math.inf, "open") for began, t0 in sends]
    return out


# -- the state at one moment -------------------------------------------------------------------
@dataclass
class State:
    """Where everything is at one moment of a run (plain data)."""

    time: float
    on_links: list[tuple[int, str, str, float]]  # (msg, from, to, fraction of the way done)
    queues: dict[str, list[int]]  # queue -> ids of the messages ready in it, head first
    blocked: dict[str, int]  # queue -> publishers' messages held back by overflow="block"
    serving: dict[str, list[int]]  # consumer -> messages it is processing
    waiting: dict[str, list[int]]  # consumer -> messages it has received but not started
    down: list[str]  # crashed nodes
    marks: list[tuple[str, str, float]] = field(default_factory=list)  # recent (kind, node, age)
    counters: dict[str, int] = field(default_factory=dict)  # published, delivered, acked, dropped
    holders: dict[str, list[str]] = field(default_factory=dict)  # lock -> threads holding it
    # partitioned logs: partition -> {offset: msg} of the records it still keeps, oldest first
    logs: dict[str, dict[int, int]] = field(default_factory=dict)
    # (group, partition) -> the group's committed offset there: the next record it will read
    offsets: dict[tuple[str, str], int] = field(default_factory=dict)
    # partition -> {group: the consumer of that group reading it}
    assigned: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def held(self) -> dict[str, int]:
        """Per consumer: messages delivered to it and not yet settled (on their way to it,
        waiting or being processed) -- what a broker counts as unacknowledged."""
        out = {c: len(self.serving[c]) + len(self.waiting[c]) for c in self.serving}
        for _, _, dst, _ in self.on_links:
            if dst in out:
                out[dst] += 1
        return out


# -- the whole run as intervals ----------------------------------------------------------------
class Timeline:
    """Every message's whereabouts as time intervals, read from the trace in one pass.

    Tables (one numpy array per column, sorted by start time; an interval still open when the
    run ended lasts for ever, so the last moment shows what the run left behind):

    - ``hops``: (start, end, from, to, msg, drawn_end) a message on a link; ``drawn_end`` is
      when it would arrive, for placing the dot (finite even for a trip cut off by the end);
    - ``stays``: (start, end, queue, order, msg, rank) a message ready in a queue; the head is
      the smallest (rank, order);
    - ``holds``: (arrived, started, end, consumer, msg) a message at a consumer;
    - ``blocks``: (start, end, queue, msg) a publisher held back by a full queue;
    - ``downs``: (start, end, node) a crashed node;
    - ``marks``: (time, kind, node, peer) a drop, expiry, loss or dead-letter;
    - ``pulses``: (time, from, to, msg) a message passing an edge in no time (routing);
    - ``grips``: (start, end, lock, thread, number) a thread holding a lock, semaphore or
      condition (``stays`` hold the threads waiting for it, their number as ``msg``);
    - ``records``: (start, end, partition, offset, msg) a record kept in a log partition, from
      its ``append`` to its deletion by retention;
    - ``positions``: (time, partition, group, offset) a group's committed offset moving
      (``commit`` or ``seek``);
    - ``assigns``: (start, end, partition, group, consumer) a consumer of a group reading a
      partition (until the group's next ``rebalance``).

    ``queues`` lists the queues, ``logs`` the log partitions (which are not in ``queues``).

    ``times``: the only moments that will be asked about (a Player's frames), and ``window``
    how far back (seconds) the marks and pulses drawn at them go. A trace of more than
    ``SAMPLE_ABOVE`` rows is then read only where those moments need it (see :func:`_sample`):
    the rows of the messages that are somewhere at one of them, every row about a node or a
    consumer group, and the marks and newest pulses of their windows. A Player of a million
    messages then costs about what one of a thousand does; the timeline answers for those
    moments exactly as a whole one would (``sampled`` says whether it was read so; ``read``
    is the part of the trace it was made from), and for other moments it may miss messages.
    """

    # a longer trace read for a few moments only (``times``) is read in part: see _sample
    SAMPLE_ABOVE = 100_000

    def __init__(self, run_or_trace: Any, times: Any = None, window: float = 0.0) -> None:
        trace = self.trace = as_trace(run_or_trace)
        self.graph = trace.graph
        self.roles = (({n: role_of(self.graph, n) for n in self.graph})
                      if self.graph is not None else roles(trace))
        self.logs = self._find_logs()
        self.queues = [n for n, r in self.roles.items() if r == "queue" and n not in self.logs]
        self.consumers = [n for n, r in self.roles.items() if r == "consumer"]
        self.primitives = [q for q in self.queues if self.graph is not None
                           and self.graph.nodes[q].get("kind") in PRIMITIVE_KINDS]
        self.end = trace.duration
        self.done: dict[str, list] = {k: [] for k in _TABLES}
        self.open: dict[str, dict] = {k: {} for k in ("stays", "holds", "blocks", "grips",
                                                      "records", "assigns")}
        self.crashed: dict[str, float] = {}
        self._rank = self._ranker()
        self.shape_counts = shape_counts(trace)  # rows of each shape (trace.shapes())
        # traced threads record no trip over a link: a delivered message is at its consumer
        self._instant = not self.count("arrive")
        index = marks = None
        if times is not None and len(trace) > self.SAMPLE_ABOVE:
            sample = _sample(self, np.asarray(times, dtype=float).ravel(), float(window))
            if sample is not None:
                index, marks = sample
        part = self.read = trace if index is None else trace.select(index)
        self.sampled = index is not None
        # a sampled timeline takes its marks from the columns (a long run may have millions)
        self._marks_apart = self.sampled
        self._hops(trips(part, links=not self._instant))
        # i: the row's place in the whole trace (it orders a queue's stays)
        rows = enumerate(part.rows) if index is None else zip(index.tolist(), part.rows,
                                                                strict=True)
        for i, row in rows:
            self._read(i, *row)
        self._finish()
        for name, width in _TABLES.items():
            setattr(self, name, _table(self.done[name], width))
        # the shape code of each mark (a sampled timeline's: see the Scene's places of marks)
        self.mark_codes = None
        if marks is not None:
            self.marks, self.mark_codes = _marks_table(trace, marks)
        self.longest_hop = float(np.max(self.hops[1] - self.hops[0])) if len(self.hops[0]) else 0.0
        code = {q: i for i, q in enumerate(self.queues)}  # each stay's queue, by number
        self._queue_codes = np.array([code.get(q, len(code)) for q in self.stays[2]], dtype=int)
        # the events each counter counts (see COUNTERS): their times, or for a sampled
        # timeline the counts at ``times`` only (a long run's times would fill memory)
        self.counting = any(self.count(kinds) for kinds in COUNTERS.values())
        self.counter_times = None if self.sampled else self._counter_times()
        self._counts: dict[float, dict[str, int]] = {}
        if self.sampled:
            self._counts = dict(zip(np.unique(times).tolist(),
                                    self._counts_at(np.unique(times)), strict=True))
        self._positions = self._positions_by_key()
        # the consumer groups reading logs, in the order they first appear
        self.groups = list(dict.fromkeys(
            [info for kind, _, _, info in trace.shapes_in_order()
             if kind in ("rebalance", "assign") and info]
            + [g for g, _ in self._positions]))
        # where replies go back to their producers, off the graph's edges: those of the rows
        # read are in ``hops``; a sampled timeline also knows those of the rest of the run
        self.back_paths = _back_paths(self) if self.sampled else None

    def count(self, kind: str | tuple[str, ...], node: str | None = None) -> int:
        """How many rows of the whole trace are of ``kind`` (one or several), at ``node`` if
        given (from ``shape_counts``: no row is read)."""
        kinds = (kind,) if isinstance(kind, str) else kind
        shapes = self.trace.shapes()[1]
        return int(sum(self.shape_counts[c] for c, (k, nd, _, _) in enumerate(shapes)
                       if k in kinds and (node is None or nd == node)))

    def _counted(self) -> dict[str, np.ndarray]:
        """Per counter, which shapes of row it counts."""
        shapes = self.trace.shapes()[1]
        # a record deleted by retention was kept, not dropped: it is no loss
        return {k: np.array([kind in kinds and not (kind == "expire" and node in self.logs)
                             for kind, node, _, _ in shapes] or [False], dtype=bool)
                for k, kinds in COUNTERS.items()}

    def _counter_times(self) -> dict[str, np.ndarray]:
        """The times of the events each counter counts (see COUNTERS), from the whole trace."""
        codes = self.trace.shapes()[0]
        t = self.trace.columns()[0]
        return {k: t[ok[codes]] if len(t) else np.array([]) for k, ok in self._counted().items()}

    def _counts_at(self, times: np.ndarray) -> list[dict[str, int]]:
        """The counters at each of ``times``, counted over the whole trace a slice at a time."""
        t, codes, _ = self.trace.columns()
        counted = self._counted()
        totals = {k: np.zeros(len(times), dtype=np.int64) for k in counted}
        for a in range(0, len(t), _CHUNK):
            tc, cc = t[a:a + _CHUNK], codes[a:a + _CHUNK]
            for k, ok in counted.items():
                totals[k] += np.searchsorted(np.sort(tc[ok[cc]]), times, "right")
        return [{k: int(v[i]) for k, v in totals.items()} for i in range(len(times))]

    def _find_logs(self) -> list[str]:
        """The log partitions: graph nodes of kind "log" (without a graph: where records are
        appended)."""
        if self.graph is not None:
            return [n for n in self.graph if self.graph.nodes[n].get("kind") == "log"]
        return list(dict.fromkeys(node for kind, node, _, _ in self.trace.shapes_in_order()
                                  if kind == "append"))

    def _positions_by_key(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """Each (group, partition)'s committed offsets over time, for a quick look-up."""
        rows: dict[tuple[str, str], tuple[list, list]] = {}
        for t, p, g, offset in zip(*self.positions, strict=True):
            times, values = rows.setdefault((str(g), str(p)), ([], []))
            times.append(float(t))
            values.append(int(offset))
        return {k: (np.array(ts), np.array(vs, dtype=int)) for k, (ts, vs) in rows.items()}

    # -- reading the trace -----------------------------------------------------------------------
    def _ranker(self) -> Callable[[str, int], int]:
        """A priority queue's head is its highest priority (then the oldest); others: FIFO."""
        by_priority = {q: self.graph.nodes[q].get("max_priority") for q in self.queues
                       if self.graph is not None and self.graph.nodes[q].get("kind") == "priority"}
        # an aging queue's order changes as messages wait: see stays_at
        self._aging = {q: (self.graph.nodes[q]["aging"], cap) for q, cap in by_priority.items()
                       if self.graph.nodes[q].get("aging")}
        messages = self.trace.messages

        def rank(queue: str, msg: int) -> int:
            if queue not in by_priority:
                return 0
            p = getattr(messages.get(msg), "priority", 0) or 0
            cap = by_priority[queue]
            return -(p if cap is None else min(p, cap))

        return rank

    def _hops(self, all_trips: list[Trip]) -> None:
        edges = self.graph.edges if self.graph is not None else None
        for trip in all_trips:
            if trip.kind == "reply":  # back to the producer, on no edge of the graph
                if trip.t1 <= trip.t0 or (self.graph is not None and not (
                        trip.src in self.graph and trip.dst in self.graph)):
                    continue
            elif edges is not None and (trip.src, trip.dst) not in edges:
                continue
            drawn = trip.t1
            if trip.end == "open":  # it would arrive after the end: by the link's latency
                latency = edges[trip.src, trip.dst].get("latency") if edges is not None else None
                drawn = trip.t0 + latency if latency else self.end + (self.end - trip.t0)
                drawn = max(drawn, self.end + 1e-9)
            self.done["hops"].append((trip.t0, trip.t1, trip.src, trip.dst, trip.msg, drawn))

    def _start(self, table: str, key: tuple, value: list) -> None:
        self.open[table].setdefault(key, []).append(value)

    def _end(self, table: str, key: tuple) -> list | None:
        """The oldest open interval under ``key`` (copies of a message share its id)."""
        waiting = self.open[table].get(key)
        return waiting.pop(0) if waiting else None

    def _read(self, i: int, t: float, kind: str, m: int, node: str, peer: str,
              info: str) -> None:
        role = self.roles.get(node)
        if kind in _SYNC and peer in self.primitives:
            self._sync_event(i, t, kind, m, node, peer, info)
            return
        if node in self.logs or kind == "rebalance":
            self._log_event(t, kind, m, node, peer, info)
            if kind == "expire":
                return  # retention deleted a record: no loss to mark
            role = None
        if kind == "arrive" and role == "consumer":
            self._start("holds", (m, node), [t, math.inf])
        elif kind == "deliver" and self._instant and self.roles.get(peer) == "consumer":
            self._start("holds", (m, peer), [t, math.inf])
        if role == "queue":
            self._queue_event(i, t, kind, m, node, info)
        elif role == "consumer":
            self._consumer_event(t, kind, m, node)
        if kind in ("crash", "recover"):
            self._crash_event(t, kind, node)
        if kind in MARKS:
            if not self._marks_apart:
                self.done["marks"].append((t, kind, node, peer))
        if kind in ("route", "dead-letter") and self._has_edge(node, peer):
            self.done["pulses"].append((t, node, peer, m))
            broker = self.graph.nodes[node].get("broker")
            if role == "exchange" and self._has_edge(broker, node):
                self.done["pulses"].append((t, broker, node, m))

    def _has_edge(self, u: Any, v: Any) -> bool:
        return self.graph is not None and self.graph.has_edge(u, v)

    def _queue_event(self, i: int, t: float, kind: str, m: int, q: str, info: str) -> None:
        """A message enters or leaves queue ``q`` (the rule: :func:`mqlab.metrics.queue_delta`)."""
        delta = queue_delta(kind, info)
        if delta > 0:
            blocked = self._end("blocks", (m, q)) if kind == "enqueue" else None
            if blocked:
                self.done["blocks"].append((blocked[0], t, q, m))
            # a requeued message goes back to the front
            order = -1e12 - i if kind == "requeue" else float(i)
            self._start("stays", (m, q), [t, order])
        elif kind == "block":
            self._start("blocks", (m, q), [t])
        elif kind == "drop" and delta == 0:  # a held-back publisher gave up (a put's timeout)
            blocked = self._end("blocks", (m, q))
            if blocked:
                self.done["blocks"].append((blocked[0], t, q, m))
        elif delta < 0:
            stay = self._end("stays", (m, q))
            if stay:
                self.done["stays"].append((stay[0], t, q, stay[1], m, self._rank(q, m)))

    def _log_event(self, t: float, kind: str, m: int, node: str, peer: str, info: str) -> None:
        """A record is appended to partition ``node`` or deleted by retention; a group's offset
        moves; a group's partitions are dealt out again. A ``deliver`` leaves the record
        where it is: a log is read, not consumed."""
        if kind == "append":
            self._start("records", (m, node), [t, _offset(info)])
        elif kind == "expire":
            record = self._end("records", (m, node))
            if record:
                self.done["records"].append((record[0], t, node, record[1], m))
        elif kind in ("commit", "seek") and info.strip().lstrip("-").isdigit():
            self.done["positions"].append((t, node, peer, int(info)))
        elif kind == "rebalance":  # the group's partitions are taken back, then assigned again
            for key in [k for k in self.open["assigns"] if k[1] == info]:
                self._unassign(t, key)
        elif kind == "assign" and peer:
            self._unassign(t, (node, info))
            self.open["assigns"][(node, info)] = [t, peer]

    def _unassign(self, t: float, key: tuple[str, str]) -> None:
        held = self.open["assigns"].pop(key, None)
        if held:
            self.done["assigns"].append((held[0], t, key[0], key[1], held[1]))

    def _sync_event(self, i: int, t: float, kind: str, m: int, thread: str, lock: str,
                    info: str) -> None:
        """A thread waits for, gets, lets go of or gives up on a lock (or is notified)."""
        if kind == "wait":
            self._start("stays", (m, lock), [t, float(i)])
        elif kind in ("acquire", "timeout"):
            self._leave_tray(t, m, lock)
            if kind == "acquire":
                self._start("grips", lock, [t, thread, m])
        elif kind == "release":
            held = self.open["grips"].get(lock, [])
            # the releasing thread's hold; a semaphore released by another thread: the oldest
            grip = next((g for g in held if g[2] == m), held[0] if held else None)
            if grip is not None:
                held.remove(grip)
                self.done["grips"].append((grip[0], t, lock, grip[1], grip[2]))
        elif kind == "notify" and info.isdigit():  # it wakes the longest waiting threads
            waiting = sorted((v[1], key[0]) for key, values in self.open["stays"].items()
                             if key[1] == lock for v in values)
            for _, waiter in waiting[:int(info)]:
                self._leave_tray(t, waiter, lock)

    def _leave_tray(self, t: float, m: int, lock: str) -> None:
        stay = self._end("stays", (m, lock))
        if stay:
            self.done["stays"].append((stay[0], t, lock, stay[1], m, 0))

    def _consumer_event(self, t: float, kind: str, m: int, node: str) -> None:
        if kind == "start":
            waiting = [h for h in self.open["holds"].get((m, node), []) if h[1] == math.inf]
            if waiting:
                waiting[0][1] = t
        elif kind in _CONSUMER_ENDS:
            hold = self._end("holds", (m, node))
            if hold:
                self.done["holds"].append((hold[0], min(hold[1], t), t, node, m))

    def _crash_event(self, t: float, kind: str, node: str) -> None:
        if kind == "crash":  # whatever was inside it is gone (trips to it: see trips())
            self.crashed.setdefault(node, t)
            for key in [k for k in self.open["holds"] if k[1] == node]:
                for arrived, started in self.open["holds"].pop(key):
                    self.done["holds"].append((arrived, min(started, t), t, node, key[0]))
        elif node in self.crashed:
            self.done["downs"].append((self.crashed.pop(node), t, node))

    def _finish(self) -> None:
        """Whatever is still open at the end of the run stays there for ever."""
        inf = math.inf
        for (m, q), values in self.open["stays"].items():
            self.done["stays"] += [(t0, inf, q, order, m, self._rank(q, m)) for t0, order in values]
        for (m, c), values in self.open["holds"].items():
            self.done["holds"] += [(t0, ts, inf, c, m) for t0, ts in values]
        for (m, q), values in self.open["blocks"].items():
            self.done["blocks"] += [(v[0], inf, q, m) for v in values]
        self.done["downs"] += [(t0, inf, node) for node, t0 in self.crashed.items()]
        for lock, values in self.open["grips"].items():
            self.done["grips"] += [(t0, inf, lock, thread, m) for t0, thread, m in values]
        for (m, p), values in self.open["records"].items():
            self.done["records"] += [(t0, inf, p, offset, m) for t0, offset in values]
        for (p, g), (t0, consumer) in self.open["assigns"].items():
            self.done["assigns"].append((t0, inf, p, g, consumer))

    # -- questions about one moment --------------------------------------------------------------
    def hops_at(self, t: float) -> np.ndarray:
        """Rows of ``hops`` travelling at time ``t``."""
        t0, t1 = self.hops[0], self.hops[1]
        lo = np.searchsorted(t0, t - self.longest_hop, "left")
        hi = np.searchsorted(t0, t, "right")
        return lo + np.nonzero(t1[lo:hi] > t)[0]

    def progress(self, rows: np.ndarray, t: float) -> np.ndarray:
        """How far along its link each of these ``hops`` rows is at ``t`` (0 to 1)."""
        t0, drawn = self.hops[0][rows], self.hops[5][rows]
        return np.clip((t - t0) / np.maximum(drawn - t0, 1e-12), 0.0, 1.0)

    def stays_at(self, t: float) -> dict[str, np.ndarray]:
        """For each queue, the rows of ``stays`` ready in it at ``t``, head first."""
        t0, t1, queue, order, _, rank = self.stays
        hi = np.searchsorted(t0, t, "right")
        idx = np.nonzero(t1[:hi] > t)[0]
        if not len(idx):
            return {q: idx for q in self.queues}
        codes = self._queue_codes[idx]
        rank_now = rank[idx].astype(float)
        for q, (aging, cap) in self._aging.items():
            # a message's priority grows by ``aging`` a second it waits (mqlab.PriorityQueue)
            mine = codes == self.queues.index(q)
            grown = -rank_now[mine] + aging * (t - t0[idx][mine])
            rank_now[mine] = -(grown if cap is None else np.minimum(grown, cap))
        idx = idx[np.lexsort((order[idx], rank_now, codes))]
        bounds = np.searchsorted(self._queue_codes[idx], np.arange(len(self.queues) + 1), "left")
        return {q: idx[bounds[i]:bounds[i + 1]] for i, q in enumerate(self.queues)}


    def holds_at(self, t: float) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Per consumer, the messages it is processing and those waiting to start, at ``t``."""
        serving: dict[str, list[int]] = {c: [] for c in self.consumers}
        waiting: dict[str, list[int]] = {c: [] for c in self.consumers}
        if not len(self.holds[0]):
            return serving, waiting
        t0, ts, t1, node, msg = self.holds
        hi = np.searchsorted(t0, t, "right")
        for i in np.nonzero(t1[:hi] > t)[0]:
            (serving if ts[i] <= t else waiting).setdefault(str(node[i]), []).append(int(msg[i]))
        return serving, waiting

    def blocked_at(self, t: float) -> dict[str, int]:
        """How many messages wait outside each full queue with overflow="block" at ``t``."""
        t0, t1, q = self.blocks[:3]
        out = dict.fromkeys(self.queues, 0)
        for name in q[(t0 <= t) & (t1 > t)] if len(t0) else []:
            out[str(name)] = out.get(str(name), 0) + 1
        return out

    def holders_at(self, t: float) -> dict[str, list[str]]:
        """For each lock, semaphore or condition, the threads holding it at ``t``."""
        out: dict[str, list[str]] = {p: [] for p in self.primitives}
        if len(self.grips[0]):
            t0, t1, lock, thread = self.grips[:4]
            for i in np.nonzero((t0 <= t) & (t1 > t))[0]:
                out[str(lock[i])].append(str(thread[i]))
        return out

    def records_at(self, t: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each log partition, the (offsets, rows of ``records``) it keeps at ``t``,
        oldest first."""
        out = {p: (np.zeros(0, int), np.zeros(0, int)) for p in self.logs}
        t0, t1, part, offset = self.records[:4]
        if not len(t0):
            return out
        hi = np.searchsorted(t0, t, "right")
        idx = np.nonzero(t1[:hi] > t)[0]
        idx = idx[np.lexsort((offset[idx], part[idx]))]
        names = part[idx]
        for p in self.logs:
            mine = idx[names == p]
            out[p] = (offset[mine].astype(int), mine)
        return out

    def logs_at(self, t: float) -> dict[str, dict[int, int]]:
        """For each log partition, {offset: message id} of the records it keeps at ``t``."""
        msgs = self.records[4]
        return {p: dict(zip(offsets.tolist(), msgs[rows].astype(int).tolist(), strict=True))
                for p, (offsets, rows) in self.records_at(t).items()}

    def offsets_at(self, t: float) -> dict[tuple[str, str], int]:
        """Each (group, partition)'s committed offset at ``t`` (its last ``commit`` or ``seek``
        so far; a group that has neither there yet is left out)."""
        out = {}
        for key, (times, values) in sorted(self._positions.items()):
            i = np.searchsorted(times, t, "right")
            if i:
                out[key] = int(values[i - 1])
        return out

    def assigned_at(self, t: float) -> dict[str, dict[str, str]]:
        """For each log partition, {group: consumer} of the groups reading it at ``t``."""
        out: dict[str, dict[str, str]] = {p: {} for p in self.logs}
        t0, t1, part, group, consumer = self.assigns
        for i in np.nonzero((t0 <= t) & (t1 > t))[0] if len(t0) else ():
            out.setdefault(str(part[i]), {})[str(group[i])] = str(consumer[i])
        return out

    def down_at(self, t: float) -> list[str]:
        """The nodes that are crashed at ``t``."""
        t0, t1, nodes = self.downs
        return [str(n) for a, b, n in zip(t0, t1, nodes, strict=True) if a <= t < b]

    def recent(self, table: list[np.ndarray], t: float, window: float) -> np.ndarray:
        """Rows of a (time, ...) table from the last ``window`` seconds up to ``t``."""
        times = table[0]
        return np.arange(np.searchsorted(times, t - window, "left"),
                         np.searchsorted(times, t, "right"))

    def counters_at(self, t: float) -> dict[str, int]:
        """Running totals at ``t``: published, delivered, acked, dropped (see COUNTERS)."""
        if self.counter_times is None:  # sampled: counted at its times (others: counted now)
            if t not in self._counts:
                return self._counts_at(np.array([t], dtype=float))[0]
            return dict(self._counts[t])
        return {k: int(np.searchsorted(v, t, "right")) for k, v in self.counter_times.items()}

    def at(self, t: float, window: float | None = None) -> State:
        """Where everything is at time ``t`` seconds. ``window``: how far back (seconds) the
        recent drops and dead-letters in ``marks`` go (default: a fortieth of the run)."""
        if not isinstance(t, Real) or isinstance(t, bool) or t != t:
            raise TypeError(f"t must be a time in seconds, got {t!r}")
        rows = self.hops_at(t)
        done = self.progress(rows, t)
        on_links = [(int(self.hops[4][r]), str(self.hops[2][r]), str(self.hops[3][r]), float(f))
                    for r, f in zip(rows, done, strict=True)]
        msgs = self.stays[4]
        queues = {q: msgs[r].astype(int).tolist() for q, r in self.stays_at(t).items()}
        serving, waiting = self.holds_at(t)
        window = window if window is not None else max(self.end / 40, 1e-9)
        recent = self.recent(self.marks, t, window)
        marks = [(str(self.marks[1][r]), str(self.marks[2][r]), t - float(self.marks[0][r]))
                 for r in recent]
        return State(t, on_links, queues, self.blocked_at(t), serving, waiting,
                     self.down_at(t), marks, self.counters_at(t), self.holders_at(t),
                     self.logs_at(t), self.offsets_at(t), self.assigned_at(t))


# -- reading a long run for a few moments only ----------------------------------------------
_CHUNK = 1 << 20  # rows looked at together: a long run's columns are read a slice at a time


def shape_counts(trace: Trace) -> np.ndarray:
    """How many rows of each shape (a code of ``trace.shapes()``) the trace has, counted a
    slice of rows at a time (``numpy.bincount`` of a whole long column would first copy it
    to 64-bit integers)."""
    return trace.shape_counts()


def count_rows(trace: Trace, kind: str) -> int:
    """How many rows of ``kind`` the trace has (as ``trace.count(kind)``, a slice at a time)."""
    shapes = trace.shapes()[1]
    counts = shape_counts(trace)
    return int(sum(counts[c] for c, s in enumerate(shapes) if s[0] == kind))


def rows_where(trace: Trace, ok: np.ndarray) -> np.ndarray:
    """The numbers of the rows whose shape code ``c`` has ``ok[c]``, a slice at a time."""
    codes = trace.shapes()[0]
    return np.concatenate([np.flatnonzero(ok[codes[a:a + _CHUNK]]) + a
                           for a in range(0, len(codes), _CHUNK)] or [np.zeros(0, np.int64)])


_NODE_EVENTS = ("crash", "recover", "commit", "seek", "rebalance", "assign")


def _sample(tl: Timeline, times: np.ndarray,
            window: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of ``tl.trace`` that a timeline asked only about ``times`` needs: (the rows
    to read, the marks), each as row numbers in order; None when the trace cannot be read in
    part (threads sharing locks, rows out of time order), and then the timeline reads it all.

    Needed: every row of each message that is somewhere at one of ``times`` (on a link, in a
    queue or a log, at a consumer, held back by a full queue), every row about a node or a
    consumer group (crash, recover, commit, seek, rebalance, assign, and rows of message 0),
    and the newest pulse (route, dead-letter) of each shape of row in the last ``window``
    seconds up to one of ``times``. Returned apart (a second array of row numbers): the marks
    (drop, expiry, loss, ...) of those windows, which make the ``marks`` table as they are.

    A message can be somewhere only from its first row to its last, or later if it never
    left: it left when every interval it opened (by the rule of :meth:`Timeline._read` and
    :func:`trips`, which :func:`_openings` gives per shape of row) was closed again. A
    message's openings and closings are summed over its (table, place) pairs with two sets
    of weights: both sums are zero when every pair balances, and a message whose sums are
    not (one still somewhere at the end, or one that a crash took out) is read wherever it
    is. A publisher held back by a full queue is checked exactly, its rows in order: an
    ``enqueue`` ends a hold only if there is one.
    """
    trace = tl.trace
    if tl.primitives or not len(times):
        return None
    t, code, m = trace.columns()
    n = len(t)
    for a in range(0, n - 1, _CHUNK):  # rows in time order (simulated runs are)
        b = min(a + _CHUNK, n - 1)
        if np.any(t[a + 1:b + 1] < t[a:b]):
            return None
    times = np.unique(times)
    shapes = trace.shapes()[1]
    p1, p2, hold_slot, hold_step = _openings(tl, shapes)
    node_rows = np.array([kind in _NODE_EVENTS for kind, *_ in shapes] or [False], dtype=bool)
    marks = np.array([kind in MARKS and not (kind == "expire" and node in tl.logs)
                      for kind, node, _, _ in shapes] or [False], dtype=bool)
    blocks = hold_step > 0
    # each message by number: its id itself when the ids are small, else its rank among them
    lo, hi = (int(m.min()), int(m.max())) if n else (0, 0)
    ids = None if lo >= 0 and hi <= n // 4 + 1024 else np.unique(m)
    size = hi + 1 if ids is None else len(ids)

    def number(ms: np.ndarray) -> np.ndarray:
        return ms if ids is None else np.searchsorted(ids, ms)

    first, last = np.full(size, np.inf), np.full(size, -np.inf)
    sums = np.zeros(size), np.zeros(size)
    blocked = np.zeros(size, dtype=bool)
    for a in range(0, n, _CHUNK):
        k, tc, cc = number(m[a:a + _CHUNK]), t[a:a + _CHUNK], code[a:a + _CHUNK]
        np.minimum.at(first, k, tc)
        np.maximum.at(last, k, tc)
        for total, weight in zip(sums, (p1, p2), strict=True):
            np.add.at(total, k, weight[cc])
        blocked[k[blocks[cc]]] = True
    still = (sums[0] != 0) | (sums[1] != 0)
    del sums
    if blocked.any():
        still[_still_held_back(m, code, number, blocked, hold_slot, hold_step)] = True
    last[still] = np.inf  # still somewhere at the end
    at = np.searchsorted(times, first, "left")
    seen = at < len(times)
    seen[seen] = times[at[seen]] <= last[seen]
    del first, last, at, still, blocked
    keep: list[np.ndarray] = []
    recent: list[np.ndarray] = []  # the marks in the window before a moment
    for a in range(0, n, _CHUNK):
        mc, tc, cc = m[a:a + _CHUNK], t[a:a + _CHUNK], code[a:a + _CHUNK]
        keep.append(np.flatnonzero(seen[number(mc)] | node_rows[cc] | (mc == 0)) + a)
        mark = np.flatnonzero(marks[cc])
        at = np.searchsorted(times, tc[mark], "left")
        ok = at < len(times)
        ok[ok] = times[at[ok]] - window <= tc[mark[ok]]
        recent.append(mark[ok] + a)
    for c, (kind, node, peer, _) in enumerate(shapes):
        if kind in ("route", "dead-letter") and tl._has_edge(node, peer):
            rows = np.flatnonzero(code == c)
            newest = np.searchsorted(t[rows], times, "right") - 1
            ok = newest >= 0
            newest = newest[ok]
            keep.append(rows[newest[t[rows[newest]] >= times[ok] - window]])
    nothing = np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([*keep, nothing])), np.concatenate([*recent, nothing])


def _marks_table(trace: Trace, rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The ``marks`` table (time, kind, node, peer) of these rows, from the columns, and the
    shape code of each."""
    t, code, _ = trace.columns()
    codes = code[rows]
    if not len(rows):
        return [np.zeros(0)] * 4, codes
    shapes = trace.shapes()[1]
    kind, node, peer = (np.array([s[i] for s in shapes]) for i in range(3))
    return [t[rows], kind[codes], node[codes], peer[codes]], codes


def _still_held_back(m: np.ndarray, code: np.ndarray, number: Callable, blocked: np.ndarray,
                     slot: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The numbers of the messages (among those ``blocked`` at some time) still held back by
    a full queue at the end: per (message, queue), in row order, a ``block`` opens a hold and
    the next ``enqueue`` (or a give-up ``drop``) closes it; one with no hold open closes
    nothing. With +1 and -1 steps, that count at the end is the sum of the steps less the
    lowest running sum (if below zero)."""
    rows = []
    for a in range(0, len(m), _CHUNK):
        k, cc = number(m[a:a + _CHUNK]), code[a:a + _CHUNK]
        rows.append(np.flatnonzero(blocked[k] & (step[cc] != 0)) + a)
    rows = np.concatenate(rows)
    places = int(slot.max()) + 1
    key = number(m[rows]).astype(np.int64) * places + slot[code[rows]]
    order = np.argsort(key, kind="stable")  # each (message, queue) together, in row order
    key, steps = key[order], step[code[rows[order]]].astype(np.int64)
    running = np.cumsum(steps)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    running -= np.repeat(np.r_[0, running[starts[1:] - 1]], sizes)  # from each one's start
    held = running[starts + sizes - 1] - np.minimum(np.minimum.reduceat(running, starts), 0)
    return key[starts][held > 0] // places


def _openings(tl: Timeline, shapes: list[tuple[str, str, str, str]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each shape of row: what a row of it opens (+1) and closes (-1), per (table, place),
    as two weighted sums over the places (see :func:`_sample`); and, apart, the publishers
    held back by a full queue: the queue's number and the step (+1 block, -1 its end)."""
    slots: dict[tuple, int] = {}
    queues: dict[str, int] = {}
    effects = []
    hold_slot = np.zeros(max(len(shapes), 1), dtype=np.int64)
    hold_step = np.zeros(max(len(shapes), 1), dtype=np.int64)
    for c, (kind, node, peer, info) in enumerate(shapes):
        mine: list[tuple[tuple, int]] = []
        role = tl.roles.get(node)
        if node in tl.logs or kind == "rebalance":
            if kind in ("append", "expire"):
                mine.append((("records", node), 1 if kind == "append" else -1))
            role = None
        if not (kind == "expire" and node in tl.logs):
            if kind == "arrive" and role == "consumer":
                mine.append((("holds", node), 1))
            elif kind == "deliver" and tl._instant and tl.roles.get(peer) == "consumer":
                mine.append((("holds", peer), 1))
            if role == "queue":
                delta = queue_delta(kind, info)
                step = 0
                if delta > 0:
                    step = -(kind == "enqueue")
                    mine.append((("stays", node), 1))
                elif kind == "block":
                    step = 1
                elif kind == "drop" and delta == 0:
                    step = -1
                elif delta < 0:
                    mine.append((("stays", node), -1))
                if step:
                    hold_slot[c], hold_step[c] = queues.setdefault(node, len(queues)), step
            elif role == "consumer" and kind in _CONSUMER_ENDS:
                mine.append((("holds", node), -1))
        if not tl._instant:  # trips over links (see trips)
            if kind in _SENDS and peer:
                mine.append((("hops", node, peer), 1))
            elif kind == "arrive":
                mine.append((("hops", peer, node), -1))
            elif kind == "loss":
                mine.append((("hops", node, peer), -1))
        effects.append([(slots.setdefault(slot, len(slots)), w) for slot, w in mine])
    # two sets of weights per place: 1, 2, 3, ... and large numbers drawn once
    big = np.random.default_rng(20240601).integers(1 << 20, 1 << 21, size=max(len(slots), 1))
    p1 = np.zeros(max(len(shapes), 1))
    p2 = np.zeros(max(len(shapes), 1))
    for c, mine in enumerate(effects):
        p1[c] = sum(w * (slot + 1) for slot, w in mine)
        p2[c] = sum(w * int(big[slot]) for slot, w in mine)
    return p1, p2, hold_slot, hold_step


def _back_paths(tl: Timeline) -> set[tuple[str, str]]:
    """Where replies go back (from, to) off the graph's edges, in the whole run: a sampled
    timeline's ``hops`` hold only those of the rows it read (the rule: :func:`trips` and
    :meth:`Timeline._hops`)."""
    trace = tl.trace
    if not tl.count("reply"):
        return set()
    t, code, m = trace.columns()
    shapes = trace.shapes()[1]
    ends = np.array([k in _ENDS or k == "loss" for k, *_ in shapes] or [False], dtype=bool)
    reply = np.array([k == "reply" for k, *_ in shapes] or [False], dtype=bool)
    rows = np.flatnonzero((ends | reply)[code])
    rows = rows[np.argsort(m[rows], kind="stable")]  # each message's rows together, in order
    ms, cs = m[rows], code[rows]
    pos = np.arange(len(rows))
    last_end = np.maximum.accumulate(np.where(ends[cs], pos, -1))
    back = np.flatnonzero(reply[cs])
    came = last_end[back]
    ok = came >= 0
    back, came = back[ok], came[ok]
    ok = (ms[came] == ms[back]) & (t[rows[back]] > t[rows[came]])  # answered after it ended
    pairs = np.unique(np.column_stack([cs[back[ok]], cs[came[ok]]]).astype(np.int64), axis=0)
    edges = tl.graph.edges if tl.graph is not None else ()
    out = set()
    for answer, ended in pairs.tolist():
        _, dst, peer, _ = shapes[answer]
        src = peer or shapes[ended][1]
        if tl.graph is not None and not (src in tl.graph and dst in tl.graph):
            continue
        if (src, dst) not in edges:
            out.add((src, dst))
    return out


_TABLES = {"hops": 6, "stays": 6, "holds": 5, "blocks": 4, "downs": 3, "marks": 4, "pulses": 4,
           "grips": 5, "records": 5, "positions": 4, "assigns": 5}


def _offset(info: str) -> int:
    """A record's offset, as an ``append`` row gives it ("" or junk: -1, unknown)."""
    try:
        return int(info)
    except (TypeError, ValueError):
        return -1


def _table(rows: list[tuple], width: int) -> list[np.ndarray]:
    """Rows of (start, ...) as one array per column, sorted by start time."""
    rows = sorted(rows, key=lambda r: r[0])
    if not rows:
        return [np.zeros(0)] * width
    return [np.asarray(col) for col in zip(*rows, strict=True)]
