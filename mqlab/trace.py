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
from collections.abc import Iterable, Iterator
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
    for kind, col, role in guesses:
        for row in trace.rows:
            if row[1] == kind and row[col]:
                found.setdefault(row[col], role)
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
    """A flat, append-only list of :class:`Event` rows, plus what is needed to read them.

    ``messages`` maps a message id to its :class:`~mqlab.Message` (payload, priority, topic...);
    ``graph`` is the network the events happened on (an ``nx.DiGraph``, or None).
    """

    def __init__(self, rows: Iterable[tuple] = (), graph: Any = None,
                 messages: dict | None = None) -> None:
        # rows may leave out the trailing peer and info: they are "" then
        self.rows: list[tuple] = [r if len(r) == 6 else (*r, "", "")[:6] for r in rows]
        self.graph = graph
        self.messages: dict = messages if messages is not None else {}
        self.end_time: float | None = None

    def record(self, time: float, kind: str, msg: int, node: str, peer: str = "",
               info: str = "") -> None:
        """Append one event (cheap: a tuple onto a list)."""
        self.rows.append((time, kind, msg, node, peer, info))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Event]:
        return (Event(*row) for row in self.rows)

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        """Row ``i`` as an Event; a slice gives a list of Events."""
        if isinstance(i, slice):
            return [Event(*row) for row in self.rows[i]]
        return Event(*self.rows[i])

    @property
    def duration(self) -> float:
        """How long the run lasted: its end time, or the time of the last event."""
        if self.end_time is not None:
            return self.end_time
        return self.rows[-1][0] if self.rows else 0.0

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
        rows = [
            r for r in self.rows
            if (kinds is None or r[1] in kinds)
            and (node is None or r[3] == node)
            and (msg is None or r[2] == msg)
            and (peer is None or r[4] == peer)
            and (start is None or r[0] >= start)
            and (stop is None or r[0] < stop)
        ]
        out = Trace(rows, graph=self.graph, messages=self.messages)
        out.end_time = self.end_time
        return out

    def column(self, name: str) -> list:
        """One column as a plain list, e.g. ``trace.column("time")``."""
        try:
            i = Event._fields.index(name)
        except ValueError:
            raise ValueError(f"name must be one of {Event._fields}, got {name!r}") from None
        return [r[i] for r in self.rows]

    def to_columns(self) -> dict[str, list]:
        """All columns as ``{name: list}`` (pass to ``numpy.asarray`` or pandas)."""
        return {name: self.column(name) for name in Event._fields}

    def to_numpy(self) -> dict:
        """All columns as numpy arrays (time: float64, msg: int64, the rest: str)."""
        import numpy as np

        cols = self.to_columns()
        return {
            "time": np.asarray(cols["time"], dtype=float),
            "kind": np.asarray(cols["kind"], dtype=str),
            "msg": np.asarray(cols["msg"], dtype=np.int64),
            "node": np.asarray(cols["node"], dtype=str),
            "peer": np.asarray(cols["peer"], dtype=str),
            "info": np.asarray(cols["info"], dtype=str),
        }

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
        out = Trace(sorted(self.rows, key=lambda r: r[0]), graph=self.graph,
                    messages=self.messages)
        out.end_time = self.end_time
        return out

    def __repr__(self) -> str:
        return f"<Trace {len(self)} events over {self.duration:.3g} s>"

    def head(self, n: int = 10) -> str:
        """The first ``n`` events as a small text table (shows as a table in a notebook)."""
        lines = [f"{'time':>9}  {'kind':<11} {'msg':>5}  {'node':<10} {'peer':<10} info"]
        for t, kind, msg, node, peer, info in self.rows[:n]:
            lines.append(f"{t:9.4f}  {kind:<11} {msg:>5}  {node:<10} {peer:<10} {info}")
        return _Text("\n".join(lines))


class _Text(str):
    """A string that a notebook shows as its text, not as a quoted one-liner."""

    def __repr__(self) -> str:
        return str(self)
