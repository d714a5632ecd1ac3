"""The Trace: one flat, time-ordered table of everything that happened in a run.

Every run (simulated, or real threads and asyncio tasks on a traced queue) produces a Trace,
and every picture, metric and exercise check reads only the Trace. A row is an :class:`Event`:

========  ==============================================================================
field     meaning
========  ==============================================================================
time      seconds since the start of the run
kind      what happened (see ``KINDS`` below)
msg       the message id (0 for events about a node, such as a crash)
node      where it happened (a producer, broker, exchange, queue or consumer name)
peer      the other end: link destination, queue routed to, consumer delivered to ("" if none)
info      extra detail: routing key, drop reason, ... ("" if none)
========  ==============================================================================

Event kinds and where they happen (node -> peer):

- ``publish``  producer -> broker/exchange it publishes to; info = routing key
- ``arrive``  the end of a trip over a link: node = receiver, peer = sender. The trip
  started with the sender's ``publish`` (producer -> broker) or ``deliver`` (queue -> consumer);
  ``send`` starts a trip for any other hop (traces of real systems may use it)
- ``loss`` / ``duplicate``  a link lost the message / delivered an extra copy: node = sender,
  peer = receiver
- ``route``  exchange (or broker, for its default exchange) -> queue; info = routing key
- ``enqueue``  the message enters queue ``node``
- ``block``  queue ``node`` is full with overflow="block": the message waits for room
- ``drop``  a message is dropped at ``node``; info = reason
  (overflow, rejected, unroutable, crash, nacked)
- ``expire``  its time to live ran out in queue ``node``
- ``dead-letter``  queue ``node`` moves it to its dead-letter target ``peer``; info = reason
  (expired, maxlen, rejected)
- ``deliver``  queue ``node`` hands it to consumer ``peer``
- ``start``  consumer ``node`` starts processing it
- ``ack`` / ``nack``  consumer ``node`` finished it (ack) or failed it (nack); peer = queue
- ``requeue``  it goes back into queue ``node``
- ``reply``  the answer to a synchronous request reaches producer ``node`` from ``peer`` (the
  consumer that acked it; "" when the broker answers that it was dropped); info = outcome
- ``crash`` / ``recover``  node ``node`` goes down / comes back (msg = 0)
- partitioned logs (a partition is a queue node of kind "log"; reading it leaves the record
  there): ``append`` the record enters partition ``node`` at offset ``info``; ``deliver``
  partition ``node`` hands the record at offset ``info`` to consumer ``peer``; ``ack`` with
  info "log" the consumer finished it; ``commit`` consumer group ``peer`` commits offset
  ``info`` (the next one it will read) in partition ``node``; ``seek`` group ``peer`` is moved
  to offset ``info`` in partition ``node``; ``rebalance`` consumer ``node``'s crash, return or
  joining makes group ``info`` share out its partitions again, and ``assign`` rows follow, one
  per partition ``node``: it goes to consumer ``peer`` of group ``info``; ``expire`` with info
  "retention": the record was deleted from the log by its retention
- ``deny``  a broker refuses a login (msg 0, node = broker, peer = the client), a publish
  (node = broker, peer = producer: the message ends there) or a consumer's reading (msg 0,
  node = queue or topic, peer = consumer); or a consumer's ``verify`` refuses a message
  (node = consumer, peer = queue: it is then rejected). info = the reason
- ``tamper``  someone on the link ``node -> peer`` changed the message on its way
- ``timeout``  ``node`` stopped waiting for ``peer`` (a producer for the reply to request
  ``msg``, or a thread for a lock); info = what it does next (retry, give up)
- real threads sharing a lock, semaphore or condition variable ``peer`` (``msg`` numbers the
  thread): ``wait`` the thread ``node`` starts waiting for it, ``acquire`` it gets it,
  ``release`` it lets go, ``notify`` it wakes waiters of a condition (info: how many)

>>> t = Trace()
>>> t.record(0.0, "publish", 1, "sensor", "hub", "jobs")
>>> t.record(0.5, "enqueue", 1, "jobs")
>>> len(t), t[1].kind, t.filter(kind="publish")[0].node
(2, 'enqueue', 'sensor')
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, MutableMapping, MutableSequence
from typing import Any, NamedTuple

__all__ = ["KINDS", "PRIMITIVE_KINDS", "ROLES", "Event", "Trace", "as_trace", "role_of", "roles"]

KINDS = (
    "publish", "send", "arrive", "loss", "duplicate", "route", "enqueue", "block", "drop",
    "expire", "dead-letter", "deliver", "start", "ack", "nack", "requeue", "reply", "crash",
    "recover", "timeout", "wait", "acquire", "release", "notify",
    "append", "commit", "rebalance", "assign", "seek", "deny", "tamper",
)

# The parts of a system, in the order messages pass them (left to right in every picture).
# Each node of ``trace.graph`` has one of these as its ``role`` attribute.
ROLES = ("producer", "broker", "exchange", "queue", "consumer")
# what threads share in a traced real run: each is drawn as a queue (its waiting threads in the
# tray) whose graph node has one of these as its ``kind``
PRIMITIVE_KINDS = ("lock", "semaphore", "condition")


def role_of(graph: Any, node: str) -> str:
    """The role of ``node`` in ``graph``: one of :data:`ROLES` (an unknown part counts as a
    broker, the middle of the picture).

    >>> import networkx as nx
    >>> g = nx.DiGraph(); g.add_node("jobs", role="queue"); g.add_node("relay")
    >>> role_of(g, "jobs"), role_of(g, "relay")
    ('queue', 'broker')
    """
    role = graph.nodes[node].get("role")
    return role if role in ROLES else "broker"


def roles(trace: Trace) -> dict[str, str]:
    """Each node's role, in the order messages pass them: producers, brokers, exchanges,
    queues, consumers.

    Taken from ``trace.graph`` when there is one; otherwise guessed from the events (a node
    that publishes is a producer, a node that enqueues is a queue, ...).

    >>> t = Trace()
    >>> t.record(0.0, "publish", 1, "sensor", "jobs")
    >>> t.record(0.0, "enqueue", 1, "jobs")
    >>> t.record(0.1, "deliver", 1, "jobs", "worker")
    >>> roles(t)
    {'sensor': 'producer', 'jobs': 'queue', 'worker': 'consumer'}
    """
    found: dict[str, str] = {}
    if trace.graph is not None:
        found = {n: r for n, r in trace.graph.nodes(data="role") if r is not None}
    # a node the graph does not know gets the role its first clear event gives it
    guesses = (("enqueue", 3, "queue"), ("publish", 3, "producer"), ("deliver", 4, "consumer"),
               ("publish", 4, "broker"), ("route", 3, "exchange"), ("ack", 3, "consumer"))
    shapes = trace.shapes_in_order()  # (kind, node, peer, info): what rows say, in order
    for kind, col, role in guesses:
        for shape in shapes:
            if shape[0] == kind and shape[col - 2]:
                found.setdefault(shape[col - 2], role)
    rank = {r: i for i, r in enumerate(ROLES)}
    order = sorted(found, key=lambda n: rank.get(found[n], len(rank)))  # stable: graph order
    return {n: found[n] for n in order}


def as_trace(run_or_trace: Any, need_graph: bool = False) -> Trace:
    """The Trace of a Run, or the Trace itself; ``need_graph``: it must know its network.

    Every view takes "a Run or a Trace" through this one function.
    """
    trace = getattr(run_or_trace, "trace", run_or_trace)
    if not isinstance(trace, Trace):
        raise TypeError(f"expected a Run or a Trace, got {type(run_or_trace).__name__}")
    if need_graph and trace.graph is None:
        raise ValueError("the trace has no network graph to draw (trace.graph is None); "
                         "a simulated run has one, a traced real run gets one from "
                         "mqlab.realtime.graph_from_trace")
    return trace


class Event(NamedTuple):
    """One row of a Trace."""

    time: float
    kind: str
    msg: int
    node: str
    peer: str = ""
    info: str = ""


class Trace:
    """A flat, append-only table of :class:`Event` rows, plus what is needed to read them.

    ``rows`` reads as a list of 6-tuples ``(time, kind, msg, node, peer, info)``; ``messages``
    maps a message id to its :class:`~mqlab.Message` (payload, priority, topic...); ``graph``
    is the network the events happened on (an ``nx.DiGraph``, or None).

    Storage is compact, so that a run of millions of messages fits in memory: the four text
    fields of a row are one small integer, a *shape* code standing for its
    ``(kind, node, peer, info)`` (a run has few distinct shapes); new rows wait in two short
    lists, their times and keys ``msg << SHIFT | code`` (:meth:`recorder`), and are packed, a
    chunk at a time, into numpy columns (time float64, shape and msg small integers).
    ``array(name)`` gives a whole column as a numpy array, and ``shapes()`` the shape codes,
    for measuring big runs without a loop.
    """

    CHUNK = 1 << 16  # rows packed into columns at a time

    def __init__(self, rows: Iterable[tuple] = (), graph: Any = None,
                 messages: dict | None = None) -> None:
        self._shape_list: list[tuple[str, str, str, str]] = []  # code -> (kind, node, peer, info)
        self._shape_code: dict[tuple, int] = {}
        # rows not packed yet: their times, and keys msg << SHIFT | code (two lists, so that
        # recording a row makes no tuple); a key's code may stand for a group of rows
        self._times: list[float] = []
        self._keys: list[int] = []
        self._groups: list[list[int]] = []  # group number -> the shape codes of its rows
        self._group_code: dict[tuple, int] = {}
        self._chunks: list[tuple] = []  # packed rows: (time, code, msg) numpy arrays
        self._packed = 0  # rows in _chunks
        self._first: list[int] = []  # shape code -> index of its first row (or -1)
        self._counted: tuple | None = None  # (rows, rows of each shape), see shape_counts()
        self.rows = Rows(self)
        self.graph = graph
        self.messages: Any = messages if messages is not None else Messages()
        self.end_time: float | None = None
        if isinstance(rows, Rows):  # a copy of another trace's rows: copy its columns
            self._copy_rows(rows.trace, None)
        else:
            # rows may leave out the trailing peer and info: they are "" then
            for r in rows:
                self.rows.append(r if len(r) == 6 else (*r, "", "")[:6])

    # -- recording ---------------------------------------------------------------------------------
    def shape(self, kind: str, node: str, peer: str = "", info: str = "") -> int:
        """The code of the shape ``(kind, node, peer, info)``, made the first time it is asked.

        A simulator records a row as ``(time, code, msg)`` (see :meth:`recorder`) with codes
        it looked up once.
        """
        key = (kind, node, peer, info)
        code = self._shape_code.get(key)
        if code is None:
            code = self._shape_code[key] = len(self._shape_list)
            self._shape_list.append(key)
            self._first.append(-1)
        return code

    SHIFT = 24  # a key is msg << SHIFT | code
    GROUP = 1 << 23  # codes from here on stand for groups of rows (see group())

    def group(self, *codes: int) -> int:
        """A code standing for several rows at once: one per shape code given, in order, all
        with the same time and message. Recording it is one row's work for several."""
        key = tuple(codes)
        if len(key) == 1:
            return key[0]
        g = self._group_code.get(key)
        if g is None:
            g = self._group_code[key] = self.GROUP + len(self._groups)
            self._groups.append(list(key))
        return g

    def recorder(self) -> tuple[Callable[[float], None], Callable[[int], None]]:
        """The fastest way to record: ``time(t)`` then ``key(msg << Trace.SHIFT | code)`` for
        each row (``code`` from :meth:`shape` or :meth:`group`).

        They only append to lists: call :meth:`pack` now and then (when ``pending()`` reaches
        ``CHUNK``) so that the rows move into compact columns.
        """
        return self._times.append, self._keys.append

    def row_adder(self) -> Callable[[tuple], None]:
        """A function recording one whole 6-tuple row (as ``rows.append`` does, without its
        checks): a readable simulator's way to record."""
        codes, shape, shift = self._shape_code, self.shape, self.SHIFT
        add_time, add_key = self._times.append, self._keys.append

        def add_row(row: tuple) -> None:
            key = row[1], row[3], row[4], row[5]
            code = codes.get(key)
            add_time(row[0])
            add_key(row[2] << shift | (shape(*key) if code is None else code))

        return add_row

    def pending(self) -> int:
        """Records not yet packed into columns."""
        return len(self._keys)

    def record(self, time: float, kind: str, msg: int, node: str, peer: str = "",
               info: str = "") -> None:
        """Append one event."""
        code = self.shape(kind, node, peer, info)
        self._times.append(time)
        self._keys.append(msg << self.SHIFT | code)
        if len(self._keys) >= self.CHUNK:
            self.pack()

    def _pending_rows(self) -> list[tuple[float, int, int]]:
        """The rows not packed yet, as (time, code, msg), without packing them (a reader may
        run beside a writing thread). Groups are packed first."""
        n = len(self._keys)
        keys, times = self._keys[:n], self._times[:n]
        shift, mask = self.SHIFT, (1 << self.SHIFT) - 1
        if self._groups and any(k & mask >= self.GROUP for k in keys):
            self.pack()
            return []
        return [(t, k & mask, k >> shift) for t, k in zip(times, keys, strict=True)]

    def pack(self) -> None:
        """Move the rows recorded so far into numpy columns (one more chunk)."""
        keys, times = self._keys, self._times
        n = len(keys)  # a writing thread appends its time first: times has these n too
        if not n:
            return
        import numpy as np

        try:
            k = np.array(keys[:n], dtype=np.int64)
        except OverflowError:
            raise ValueError("msg must fit in 39 bits (|msg| < 2**39) to be recorded") from None
        t = np.array(times[:n], dtype=np.float64)
        del keys[:n], times[:n]  # rows appended meanwhile (another thread) stay
        c = k & ((1 << self.SHIFT) - 1)
        m = k >> self.SHIFT
        del k
        if self._groups:
            c, t, m = self._expand(c, t, m)
        c = c.astype(np.uint16 if len(self._shape_list) < 1 << 16 else np.int32)
        if len(m) and -(1 << 31) <= m.min() and m.max() < 1 << 31:
            m = m.astype(np.int32)
        # the first row of each shape, so that reading shapes in order of appearance is cheap
        seen = np.bincount(c, minlength=len(self._shape_list))
        for code in np.flatnonzero(seen).tolist():
            if self._first[code] < 0:
                self._first[code] = self._packed + int(np.argmax(c == code))
        self._chunks.append((t, c, m))
        self._packed += len(t)

    def _expand(self, c: Any, t: Any, m: Any) -> tuple:
        """Each group code in ``c`` becomes its rows (same time, same message)."""
        import numpy as np

        big = c >= self.GROUP
        if not big.any():
            return c, t, m
        # one table over shapes and groups: a shape is a group of one (itself)
        n_shapes = len(self._shape_list)
        sizes = np.array([1] * n_shapes + [len(g) for g in self._groups])
        flat = np.array([*range(n_shapes), *(code for g in self._groups for code in g)])
        offset = np.cumsum(sizes) - sizes
        ci = c.astype(np.int64)
        ci[big] += n_shapes - self.GROUP
        width = sizes[ci]
        # row j of the output is member (j - first row of its record) of its record's group
        first = np.cumsum(width) - width
        member = np.repeat(offset[ci] - first, width)
        member += np.arange(len(member))
        return flat[member], np.repeat(t, width), np.repeat(m, width)

    def columns(self) -> tuple:
        """All rows as three numpy arrays: time (float64), shape code (see :meth:`shapes`) and
        msg. Cheap: they are the trace's own storage (do not change them)."""
        return self._columns()

    def _columns(self) -> tuple:
        """All rows as three numpy arrays (time, shape code, msg), packed into one chunk."""
        import numpy as np

        self.pack()
        if not self._chunks:
            return (np.zeros(0), np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64))
        if len(self._chunks) > 1:  # one column at a time: at most one column is held twice
            chunks, self._chunks = self._chunks, []
            cols = [[c[i] for c in chunks] for i in range(3)]
            del chunks
            whole = []
            for i in range(3):
                whole.append(np.concatenate(cols[i]))
                cols[i] = None
            self._chunks = [tuple(whole)]
        return self._chunks[0]

    def _copy_rows(self, other: Trace, index: Any) -> None:
        """Take ``other``'s rows (those at ``index``, or all) as this trace's rows."""
        import numpy as np

        t, c, m = other._columns()
        if index is not None:
            t, c, m = t[index], c[index], m[index]
        for key in other._shape_list:  # the same codes: the table of shapes is small
            self.shape(*key)
        if len(t):
            self._chunks = [(t.copy(), c.copy(), m.copy())]
            self._packed = len(t)
            seen = np.bincount(c, minlength=len(self._shape_list))
            for code in np.flatnonzero(seen).tolist():
                self._first[code] = int(np.argmax(c == code))

    # -- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        if self._groups and self._keys:  # how many rows its groups make: pack them
            self.pack()
        return self._packed + len(self._keys)

    def __iter__(self) -> Iterator[Event]:
        return (Event(*row) for row in self.rows)

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        """Row ``i`` as an Event; a slice gives a list of Events."""
        if isinstance(i, slice):
            return [Event(*row) for row in self.rows[i]]
        return Event(*self.rows[i])

    def shapes(self) -> tuple[Any, list[tuple[str, str, str, str]]]:
        """Every row's shape code as a numpy array, and the table of shapes
        ``(kind, node, peer, info)`` the codes stand for."""
        return self._columns()[1], list(self._shape_list)

    def shapes_in_order(self) -> list[tuple[str, str, str, str]]:
        """The shapes that occur, in the order of their first row."""
        self.pack()
        firsts = [(i, code) for code, i in enumerate(self._first) if i >= 0]
        return [self._shape_list[code] for _, code in sorted(firsts)]

    def where(self, kind: str | Iterable[str] | None = None, node: str | None = None,
              peer: str | None = None, info: str | None = None) -> Any:
        """A numpy boolean array: which rows match every given field (``kind`` may be
        several)."""
        import numpy as np

        kinds = {kind} if isinstance(kind, str) else None if kind is None else set(kind)
        ok = np.array([(kinds is None or k in kinds) and (node is None or n == node)
                       and (peer is None or p == peer) and (info is None or i == info)
                       for k, n, p, i in self._shape_list] or [False], dtype=bool)
        return ok[self._columns()[1]] if len(self) else np.zeros(0, dtype=bool)

    def shape_counts(self) -> Any:
        """How many rows of each shape code there are (a numpy array indexed by code), counted
        a slice at a time (``numpy.bincount`` of a whole long column would first copy it to
        64-bit integers), and remembered until rows are added."""
        import numpy as np

        n = len(self)
        cached = self._counted
        if cached is not None and cached[0] == n and len(cached[1]) == len(self._shape_list):
            return cached[1]
        codes = self._columns()[1]
        out = np.zeros(max(len(self._shape_list), 1), dtype=np.int64)
        step = 1 << 20
        for a in range(0, len(codes), step):
            out += np.bincount(codes[a:a + step], minlength=len(out))
        self._counted = (n, out)
        return out

    def count(self, kind: str | Iterable[str] | None = None, node: str | None = None,
              peer: str | None = None, info: str | None = None) -> int:
        """How many rows match every given field (as :meth:`where`), without reading rows."""

        if not len(self):
            return 0
        kinds = {kind} if isinstance(kind, str) else None if kind is None else set(kind)
        per_shape = self.shape_counts()
        return int(sum(per_shape[code] for code, (k, n, p, i) in enumerate(self._shape_list)
                       if (kinds is None or k in kinds) and (node is None or n == node)
                       and (peer is None or p == peer) and (info is None or i == info)))

    def select(self, index: Any) -> Trace:
        """A new Trace of the rows at ``index`` (a numpy boolean mask or row numbers)."""
        out = Trace(graph=self.graph, messages=self.messages)
        out._copy_rows(self, index)
        out.end_time = self.end_time
        return out

    @property
    def duration(self) -> float:
        """How long the run lasted: its end time, or the time of the last event."""
        if self.end_time is not None:
            return self.end_time
        return self.rows[-1][0] if len(self) else 0.0

    def filter(self, kind: str | Iterable[str] | None = None, node: str | None = None,
               msg: int | None = None, peer: str | None = None,
               start: float | None = None, stop: float | None = None) -> Trace:
        """A new Trace with only the rows that match every given condition.

        ``kind`` may be one kind or several; ``start``/``stop`` bound the time (start <= t < stop).
        """
        if kind is None or isinstance(kind, str):
            kinds = None if kind is None else {kind}
        elif isinstance(kind, Iterable):
            kinds = set(kind)
        else:
            raise TypeError(f"kind must be an event kind (one of {', '.join(KINDS)}) or a list "
                            f"of them, got {kind!r}")
        if kinds is not None and not kinds <= set(KINDS):
            unknown = sorted(map(repr, kinds - set(KINDS)))
            raise ValueError(f"kind must be among {KINDS}; got {', '.join(unknown)}")
        mask = self.where(kinds, node, peer)
        if msg is not None or start is not None or stop is not None:
            t, _, m = self._columns()
            if msg is not None:
                mask &= m == msg
            if start is not None:
                mask &= t >= start
            if stop is not None:
                mask &= t < stop
        return self.select(mask)

    def array(self, name: str) -> Any:
        """One column as a numpy array: time float64, msg integers, the text fields str (for
        a big trace, :meth:`where` and :meth:`shapes` read the text fields without copies)."""
        import numpy as np

        try:
            i = Event._fields.index(name)
        except ValueError:
            raise ValueError(f"name must be one of {Event._fields}, got {name!r}") from None
        t, c, m = self._columns()
        if name == "time":
            return t
        if name == "msg":
            return m  # int32 when every id fits, else int64
        text = np.asarray([s[i - 1 if i == 1 else i - 2] for s in self._shape_list] or [""],
                          dtype=str)
        return text[c] if len(c) else np.zeros(0, dtype=str)

    def column(self, name: str) -> list:
        """One column as a plain list, e.g. ``trace.column("time")``."""
        return self.array(name).tolist()

    def to_columns(self) -> dict[str, list]:
        """All columns as ``{name: list}`` (pass to ``numpy.asarray`` or pandas)."""
        return {name: self.column(name) for name in Event._fields}

    def to_numpy(self) -> dict:
        """All columns as numpy arrays (time: float64, msg: int64, the rest: str)."""
        out = {name: self.array(name) for name in Event._fields}
        out["msg"] = out["msg"].astype("int64")
        return out

    def save(self, path: Any) -> None:
        """Write the trace to a JSON file (gzip-compressed if ``path`` ends in ``.gz``): its
        rows, end time and graph, and for each message what a picture or metric reads of it
        (source, routing key, priority, creation time). :meth:`load` reads it back."""
        import gzip
        import json

        import networkx as nx

        graph = (nx.node_link_data(self.graph, edges="links")
                 if self.graph is not None else None)
        messages = {str(m): {"source": getattr(msg, "source", ""),
                             "routing_key": getattr(msg, "routing_key", ""),
                             "priority": getattr(msg, "priority", None),
                             "created": getattr(msg, "created", None)}
                    for m, msg in self.messages.items()}
        data = {"rows": [list(r) for r in self.rows], "end_time": self.end_time,
                "graph": graph, "messages": messages}
        text = json.dumps(data, separators=(",", ":"), default=repr)
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as f:
            f.write(text)

    @classmethod
    def load(cls, path: Any) -> Trace:
        """Read a trace written by :meth:`save`."""
        import gzip
        import json

        import networkx as nx

        from mqlab.message import Message

        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        graph = (nx.node_link_graph(data["graph"], edges="links")
                 if data.get("graph") is not None else None)
        messages = {int(m): Message(source=d["source"], routing_key=d["routing_key"],
                                    priority=d["priority"], id=int(m), created=d["created"])
                    for m, d in data.get("messages", {}).items()}
        trace = cls([tuple(r) for r in data["rows"]], graph=graph, messages=messages)
        trace.end_time = data.get("end_time")
        return trace

    def digest(self) -> str:
        """A SHA-256 of every row, to compare two runs byte for byte."""
        h = hashlib.sha256()
        for t, kind, msg, node, peer, info in self.rows:
            h.update(f"{t!r}|{kind}|{msg}|{node}|{peer}|{info}\n".encode())
        return h.hexdigest()

    def sorted(self) -> Trace:
        """A copy ordered by time (stable), for traces recorded from several threads."""
        import numpy as np

        out = self.select(np.argsort(self._columns()[0], kind="stable"))
        return out

    def __repr__(self) -> str:
        return f"<Trace {len(self)} events over {self.duration:.3g} s>"

    def head(self, n: int = 10) -> str:
        """The first ``n`` events as a small text table (shows as a table in a notebook)."""
        lines = [f"{'time':>9}  {'kind':<11} {'msg':>5}  {'node':<10} {'peer':<10} info"]
        for t, kind, msg, node, peer, info in self.rows[:n]:
            lines.append(f"{t:9.4f}  {kind:<11} {msg:>5}  {node:<10} {peer:<10} {info}")
        return _Text("\n".join(lines))


class Rows(MutableSequence):
    """A trace's rows, read and written as 6-tuples ``(time, kind, msg, node, peer, info)``.

    A view of the trace's columns: nothing is stored twice. ``append`` records a row;
    reading a row or a slice rebuilds its tuples.
    """

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __len__(self) -> int:
        return len(self.trace)

    def _tuples(self, t: list, c: list, m: list) -> list[tuple]:
        shapes = self.trace._shape_list
        return [(ti, s[0], mi, s[1], s[2], s[3])
                for ti, mi, s in zip(t, m, map(shapes.__getitem__, c), strict=True)]

    def __iter__(self) -> Iterator[tuple]:
        tr = self.trace
        step = tr.CHUNK
        n = tr._packed
        chunks = list(tr._chunks)
        for t, c, m in chunks:
            for i in range(0, len(t), step):
                yield from self._tuples(t[i:i + step].tolist(), c[i:i + step].tolist(),
                                        m[i:i + step].tolist())
        buf = tr._pending_rows()
        if tr._packed != n:  # packed while we read: read the rest from the columns
            yield from self[n:]
            return
        shapes = tr._shape_list
        for ti, code, mi in buf:
            s = shapes[code]
            yield (ti, s[0], mi, s[1], s[2], s[3])

    def __reversed__(self) -> Iterator[tuple]:
        return reversed(list(self))

    def __getitem__(self, i: Any) -> Any:
        tr = self.trace
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                return list(self)[i]
            if stop <= start:
                return []
            t, c, m = tr._columns()
            return self._tuples(t[start:stop].tolist(), c[start:stop].tolist(),
                                m[start:stop].tolist())
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("trace row index out of range")
        if i >= tr._packed:
            pending = tr._pending_rows()
            if i >= tr._packed:
                ti, code, mi = pending[i - tr._packed]
            else:  # packed meanwhile
                t, c, m = tr._columns()
                ti, code, mi = t[i].item(), c[i].item(), m[i].item()
        else:
            t, c, m = tr._columns()
            ti, code, mi = t[i].item(), c[i].item(), m[i].item()
        s = tr._shape_list[code]
        return (ti, s[0], mi, s[1], s[2], s[3])

    def __setitem__(self, i: Any, row: tuple) -> None:
        if isinstance(i, slice):
            raise TypeError("trace rows are replaced one at a time")
        tr = self.trace
        if i < 0:
            i += len(self)
        t, kind, msg, node, peer, info = row if len(row) == 6 else (*row, "", "")[:6]
        code = tr.shape(kind, node, peer, info)
        tr.pack()
        if not 0 <= i < len(self):
            raise IndexError("trace row index out of range")
        ts, cs, ms = tr._columns()
        if code >= 1 << 16 and cs.dtype == "uint16":
            cs = cs.astype("int32")
        if not -(1 << 31) <= msg < 1 << 31 and ms.dtype == "int32":
            ms = ms.astype("int64")
        ts[i], cs[i], ms[i] = t, code, msg
        tr._counted = None
        tr._chunks = [(ts, cs, ms)]
        tr._first[code] = min(i, tr._first[code]) if tr._first[code] >= 0 else i

    def __delitem__(self, i: Any) -> None:
        tr = self.trace
        keep = [r for j, r in enumerate(self) if j not in range(len(self))[i]] \
            if isinstance(i, slice) else [r for j, r in enumerate(self) if j != i % len(self)]
        self.clear()
        for r in keep:
            self.append(r)
        del tr

    def clear(self) -> None:
        tr = self.trace
        tr.pack()
        tr._counted = None
        tr._chunks, tr._packed = [], 0
        tr._first = [-1] * len(tr._shape_list)

    def insert(self, i: int, row: tuple) -> None:
        if i >= len(self):
            self.append(row)
            return
        rows = list(self)
        rows.insert(i, row)
        self.clear()
        for r in rows:
            self.append(r)

    def append(self, row: tuple) -> None:
        t, kind, msg, node, peer, info = row if len(row) == 6 else (*row, "", "")[:6]
        self.trace.record(t, kind, msg, node, peer, info)

    def __add__(self, other: Any) -> list[tuple]:
        return list(self) + list(other)

    def __radd__(self, other: Any) -> list[tuple]:
        return list(other) + list(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows):
            other = list(other)
        if not isinstance(other, list | tuple):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"<{len(self)} trace rows>"


_NONE_PRIORITY = -(1 << 63)  # a packed message with no priority


class Messages(MutableMapping):
    """A trace's messages: message id -> :class:`~mqlab.Message`, in the order they came.

    A run of a million messages cannot keep a million objects, so a fast simulator adds its
    plain messages (no payload, no headers, no per-message expiration) as numpy columns
    (:meth:`add_packed`); reading one back gives a Message equal to it field by field (a new
    object each time). Messages put in one by one stay as they are.
    """

    def __init__(self, items: Any = ()) -> None:
        self._objects: dict = dict(items)
        self._batches: list[tuple] = []  # packed: (ids, labels, priority, 4 times, redelivered)
        self._labels: list[tuple] = []  # code -> (source, routing_key, target, topic)
        self._label_code: dict[tuple, int] = {}
        self._gone: set = set()  # packed ids deleted or replaced since
        self._index: Any = None  # sorted packed ids and where each is, made when needed
        self._lo, self._hi = 1 << 63, -(1 << 63)  # the smallest and largest packed id
        self._later: Callable[[], None] | None = None  # fills the table when first read

    def later(self, fill: Callable[[], None]) -> None:
        """Fill the table with ``fill()`` when it is first read (a fast simulator's messages
        are worked out from the trace's rows, which costs time a run may never need)."""
        self._later = fill

    def _fill(self) -> None:
        fill, self._later = self._later, None
        fill()

    def add_packed(self, ids: Any, labels: Any, label_table: list[tuple], priorities: list,
                   created: Any, sent: Any, enqueued: Any, delivered: Any) -> None:
        """Add plain messages already as columns (how a fast simulator records them): ``ids``
        in increasing order, ``labels`` index ``label_table`` of (source, routing_key, target,
        topic) and ``priorities`` (one per label, None for none); times are float arrays (NaN
        for None)."""
        import numpy as np

        codes = []
        for label in label_table:
            c = self._label_code.get(label)
            if c is None:
                c = self._label_code[label] = len(self._labels)
                self._labels.append(label)
            codes.append(c)
        prio = np.array([_NONE_PRIORITY if p is None else p for p in priorities],
                        dtype=np.int64)
        labels = np.asarray(labels)
        self._batches.append((np.asarray(ids, dtype=np.int64),
                              np.array(codes, dtype=np.int32)[labels], prio[labels],
                              created, sent, enqueued, delivered,
                              np.zeros(len(ids), dtype=bool)))
        self._index = None
        if len(ids):
            self._lo, self._hi = min(self._lo, int(ids[0])), max(self._hi, int(ids[-1]))

    def priorities(self) -> tuple[Any, Any]:
        """(ids in increasing order, priorities) of the messages that have a priority, as
        numpy arrays, read from the packed columns (not a message at a time)."""
        import numpy as np

        if self._later is not None:
            self._fill()
        pairs = [(m, x.priority) for m, x in self._objects.items()
                 if getattr(x, "priority", None) is not None]
        ids = [np.array([m for m, _ in pairs], dtype=np.int64)]
        prio = [np.array([p for _, p in pairs], dtype=np.int64)]
        gone = np.array(sorted(self._gone), dtype=np.int64)
        for batch in self._batches:
            mid, p = batch[0], batch[2]
            ok = p != _NONE_PRIORITY
            if len(gone):
                ok &= ~np.isin(mid, gone)
            ids.append(mid[ok].astype(np.int64))
            prio.append(p[ok].astype(np.int64))
        ids_all, prio_all = np.concatenate(ids), np.concatenate(prio)
        order = np.argsort(ids_all, kind="stable")
        return ids_all[order], prio_all[order]

    def _where(self, mid: Any) -> tuple[int, int] | None:
        """(batch, row) of a packed message, or None."""
        if type(mid) is not int or not self._lo <= mid <= self._hi or mid in self._gone:
            return None
        import numpy as np

        if self._index is None:
            ids = np.concatenate([b[0] for b in self._batches])
            order = np.argsort(ids, kind="stable")
            self._index = (ids[order], order, np.cumsum([0] + [len(b[0]) for b in self._batches]))
        ids, order, starts = self._index
        i = int(np.searchsorted(ids, mid))
        if i == len(ids) or ids[i] != mid:
            return None
        k = int(order[i])
        batch = int(np.searchsorted(starts, k, "right")) - 1
        return batch, k - int(starts[batch])

    def _rebuild(self, batch: int, row: int) -> Any:
        from mqlab.message import Message

        ids, labels, prio, created, sent, enqueued, delivered, again = self._batches[batch]
        source, key, target, topic = self._labels[labels[row]]
        p = int(prio[row])
        times = [None if x != x else x for x in (created[row].item(), sent[row].item(),
                                                   enqueued[row].item(), delivered[row].item())]
        return Message(None, source, key, target, topic, None if p == _NONE_PRIORITY else p, {},
                       None, int(ids[row]), *times, bool(again[row]))

    def __getitem__(self, mid: Any) -> Any:
        if self._later is not None:
            self._fill()
        try:
            return self._objects[mid]
        except KeyError:
            pass
        where = self._where(mid)
        if where is None:
            raise KeyError(mid)
        return self._rebuild(*where)

    def __setitem__(self, mid: Any, msg: Any) -> None:
        if self._later is not None:
            self._fill()
        if self._lo <= mid <= self._hi and self._where(mid) is not None:
            self._gone.add(mid)
        self._objects[mid] = msg

    def __delitem__(self, mid: Any) -> None:
        if self._later is not None:
            self._fill()
        if mid in self._objects:
            del self._objects[mid]
        elif self._where(mid) is not None:
            self._gone.add(mid)
        else:
            raise KeyError(mid)

    def _packed_ids(self) -> list:
        out: list = []
        for b in self._batches:
            out += b[0].tolist()
        return [m for m in out if m not in self._gone] if self._gone else out

    def __iter__(self) -> Iterator:
        if self._later is not None:
            self._fill()
        if not self._batches:
            return iter(self._objects)
        return iter(sorted([*self._packed_ids(), *self._objects]))  # the simulator's order

    def __len__(self) -> int:
        if self._later is not None:
            self._fill()
        return len(self._objects) + sum(len(b[0]) for b in self._batches) - len(self._gone)

    def __contains__(self, mid: object) -> bool:
        if self._later is not None:
            self._fill()
        return mid in self._objects or self._where(mid) is not None

    def __repr__(self) -> str:
        return f"<{len(self)} messages>"


class _Text(str):
    """A string that a notebook shows as its text, not as a quoted one-liner."""

    def __repr__(self) -> str:
        return str(self)
