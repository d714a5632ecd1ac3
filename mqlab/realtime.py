"""Trace real runs: Python threads or asyncio tasks passing messages through a queue.

:class:`TracedQueue` is a ``queue.Queue`` and :class:`TracedAsyncQueue` an ``asyncio.Queue``
that also write down, with the real time, every step a message takes through them, in the
same :class:`~mqlab.Trace` a simulation produces. So the charts, the metrics and the Player
show a run of your own threads exactly as they show a simulated one.

What each call records (times in seconds since the trace began, from ``time.perf_counter``):

- ``put(item)``: ``publish`` by the calling thread (or task), as the producer; ``block`` if the
  queue was full when it arrived; ``enqueue`` once the message is in. Plain payloads are
  wrapped in a :class:`~mqlab.Message`, and the queue numbers messages 1, 2, 3, ...
- ``get()``: ``deliver`` to the calling thread, as the consumer, and ``start`` (it begins work).
  ``get`` returns the Message: the payload is ``msg.payload``.
- ``ack(msg)`` or ``task_done()``: ``ack`` by the consumer that holds the message.
- a *sentinel* (``None`` by default) passes through unrecorded: it is a signal, not a message.

Call ``mark_end()`` (or use the queue in a ``with`` block) when the run is over: it sets the
trace's end time and its ``graph`` (producers -> queue -> consumers), which the Player needs.

>>> import threading
>>> def consume(q):
...     while (msg := q.get()) is not None:   # None is the sentinel: time to stop
...         q.ack(msg)
>>> with TracedQueue("jobs", maxsize=2) as q:
...     worker = threading.Thread(target=consume, args=(q,), name="worker")
...     worker.start()
...     for text in ["a", "b", "c"]:
...         q.put(text)                       # published by "MainThread"
...     q.put(None)
...     worker.join()
>>> [e.kind for e in q.trace.filter(msg=1)]
['publish', 'enqueue', 'deliver', 'start', 'ack']
>>> sorted(q.trace.graph.nodes(data="role"))
[('MainThread', 'producer'), ('jobs', 'queue'), ('worker', 'consumer')]
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import weakref
from collections import defaultdict, deque
from typing import Any

import networkx as nx

from mqlab.message import Message
from mqlab.trace import Trace

__all__ = ["TracedAsyncQueue", "TracedQueue", "graph_from_trace"]


class _Recorder:
    """The clock, lock and message numbering shared by every traced queue of one Trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.lock = threading.Lock()
        # a trace that already holds events continues its clock, so it stays time-ordered
        self.origin = time.perf_counter() - (trace.rows[-1][0] if trace.rows else 0.0)
        self.last_id = max((r[2] for r in trace.rows), default=0)
        self.capacity: dict[str, int | None] = {}

    def now(self) -> float:
        return time.perf_counter() - self.origin

    def record(self, kind: str, msg: int, node: str, peer: str = "", info: str = "") -> float:
        # the time is read under the lock, so rows from many threads go in in time order
        with self.lock:
            t = self.now()
            self.trace.record(t, kind, msg, node, peer, info)
        return t

    def number(self, msg: Message) -> None:
        """Give a hand-made message (id <= 0) the next id; later ids pass any id seen."""
        with self.lock:
            if msg.id <= 0:
                msg.id = self.last_id + 1
            self.last_id = max(self.last_id, msg.id)


_recorders: weakref.WeakKeyDictionary[Trace, _Recorder] = weakref.WeakKeyDictionary()
_recorders_lock = threading.Lock()


def _recorder(trace: Trace) -> _Recorder:
    with _recorders_lock:
        if trace not in _recorders:
            _recorders[trace] = _Recorder(trace)
        return _recorders[trace]


class _Tracing:
    """What both traced queues do around the queue they are: record, number, keep books."""

    def ack(self, msg: Message | int) -> None:
        """Say that ``msg`` (a Message or its id) is done: records ``ack``, counts for join()."""
        self._settle(msg)
        super().task_done()

    def task_done(self) -> None:
        """Ack the oldest message the calling thread or task holds (as the queue's own)."""
        self._settle(None)
        super().task_done()

    # the queue's own storage hooks (queue.Queue runs them with its lock held), so the trace
    # sees the queue's operations in exactly the order they happened
    def _put(self, item: Any) -> None:
        super()._put(item)
        self._enqueued(item)

    def _get(self) -> Any:
        item = super()._get()
        self._delivered(item)
        return item

    def _setup(self, name: str, trace: Trace | None, maxsize: int, sentinel: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if trace is not None and not isinstance(trace, Trace):
            raise TypeError(f"trace must be an mqlab Trace or None, got {trace!r}")
        self.name = name
        self.trace = Trace() if trace is None else trace
        self.sentinel = sentinel
        self._rec = _recorder(self.trace)
        self._rec.capacity[name] = maxsize if maxsize > 0 else None
        self._held: dict[int, str] = {}  # delivered and not yet acked: message id -> consumer
        self._by_consumer: dict[str, deque[int]] = defaultdict(deque)  # in delivery order

    def _who(self) -> str:
        """The name of the thread (or task) calling: the producer or consumer."""
        return threading.current_thread().name

    def _publish(self, item: Any, may_wait: bool) -> Message:
        msg = item if isinstance(item, Message) else Message(item)
        self._rec.number(msg)  # made by hand: number it as a broker would
        producer = self._who()
        msg.source = msg.source or producer
        msg.routing_key = msg.routing_key or self.name
        self.trace.messages[msg.id] = msg
        msg.sent = self._rec.record("publish", msg.id, producer, self.name, msg.routing_key)
        if msg.created is None:
            msg.created = msg.sent
        if may_wait and self.full():  # it arrives at a full queue: it will have to wait
            self._rec.record("block", msg.id, self.name)
        return msg

    def _enqueued(self, item: Any) -> None:
        if item is not self.sentinel:
            item.enqueued = self._rec.record("enqueue", item.id, self.name)

    def _delivered(self, item: Any) -> None:
        if item is self.sentinel:
            return
        consumer = self._who()
        item.delivered = self._rec.record("deliver", item.id, self.name, consumer)
        self._rec.record("start", item.id, consumer)
        with self._rec.lock:
            self._held[item.id] = consumer
            self._by_consumer[consumer].append(item.id)

    def _rejected(self, msg: Message, reason: str) -> None:
        self._rec.record("drop", msg.id, self.name, "", reason)

    def _settle(self, msg: Message | int | None) -> None:
        """Record the ack of ``msg``, or of the oldest message the caller holds (None)."""
        with self._rec.lock:
            if msg is None:
                mine = self._by_consumer.get(self._who())
                if not mine:
                    return  # the caller holds no message: it is finishing a sentinel
                mid = mine[0]
            else:
                mid = msg.id if isinstance(msg, Message) else msg
                if mid not in self._held:
                    raise ValueError(f"message {mid} is not waiting for an ack in queue "
                                     f"{self.name!r}: never delivered, or acked already")
            consumer = self._held.pop(mid)
            self._by_consumer[consumer].remove(mid)
        self._rec.record("ack", mid, consumer, self.name, "manual")

    def mark_end(self) -> Trace:
        """End the record: set the trace's ``end_time`` and ``graph``; return the trace."""
        with self._rec.lock:
            self.trace.end_time = self._rec.now()
            self.trace.graph = graph_from_trace(self.trace, self._rec.capacity)
        return self.trace

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.mark_end()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r}: {self.qsize()} waiting, "
                f"{len(self._held)} unacked>")


class TracedQueue(_Tracing, queue.Queue):
    """A ``queue.Queue`` for threads that records each message's steps in a Trace.

    ``trace``: the Trace to write into (a new one if None); give several queues the same
    Trace to record a pipeline. ``maxsize``: how many messages fit (0: no limit); ``put``
    waits while the queue is full, which is backpressure. ``sentinel``: the value that tells
    consumers to stop; it passes through unrecorded.
    """

    def __init__(self, name: str, trace: Trace | None = None, maxsize: int = 0,
                 sentinel: Any = None) -> None:
        queue.Queue.__init__(self, maxsize)
        self._setup(name, trace, maxsize, sentinel)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Publish ``item`` into the queue, waiting for room if it is full (and ``block``)."""
        if item is self.sentinel:
            return super().put(item, block, timeout)
        msg = self._publish(item, may_wait=block)
        try:
            super().put(msg, block, timeout)
        except queue.Full:
            self._rejected(msg, "rejected")  # no room, and no more waiting
            raise

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the next message (a :class:`~mqlab.Message`), or the sentinel."""
        return super().get(block, timeout)



class TracedAsyncQueue(_Tracing, asyncio.Queue):
    """An ``asyncio.Queue`` that records each message's steps in a Trace.

    The same as :class:`TracedQueue`, for tasks: producers and consumers are named after the
    current task, so create them with ``asyncio.create_task(coro, name="worker-1")``.
    """

    def __init__(self, name: str, trace: Trace | None = None, maxsize: int = 0,
                 sentinel: Any = None) -> None:
        asyncio.Queue.__init__(self, maxsize)
        self._setup(name, trace, maxsize, sentinel)
        self._waiting: set[int] = set()  # published by put(), waiting for room

    def _who(self) -> str:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no event loop running: plain code
            task = None
        return task.get_name() if task is not None else threading.current_thread().name

    async def put(self, item: Any) -> None:
        """Publish ``item`` into the queue, waiting for room if it is full."""
        if item is self.sentinel:
            return await super().put(item)
        msg = self._publish(item, may_wait=True)
        self._waiting.add(msg.id)
        try:
            await super().put(msg)  # calls put_nowait once there is room
        except asyncio.CancelledError:
            self._rejected(msg, "cancelled")  # the producer gave up waiting
            raise
        finally:
            self._waiting.discard(msg.id)

    def put_nowait(self, item: Any) -> None:
        """Publish ``item`` if there is room; else record a drop and raise QueueFull."""
        if item is self.sentinel or (isinstance(item, Message) and item.id in self._waiting):
            return super().put_nowait(item)  # a sentinel, or put() published it already
        msg = self._publish(item, may_wait=False)
        try:
            super().put_nowait(msg)
        except asyncio.QueueFull:
            self._rejected(msg, "rejected")
            raise



def graph_from_trace(trace: Trace, capacity: dict[str, int | None] | None = None) -> nx.DiGraph:
    """The network a real run used, read from its events: producers -> queues -> consumers.

    Producers are the nodes that publish, queues the nodes messages are published to or
    enqueued in, consumers the nodes queues deliver to (a node that does both, a pipeline
    stage, is a consumer). There is no broker: producers put straight into the queue.
    ``capacity`` gives queues their maximum length.

    >>> t = Trace()
    >>> t.record(0.0, "publish", 1, "main", "jobs")
    >>> t.record(0.0, "enqueue", 1, "jobs")
    >>> t.record(0.1, "deliver", 1, "jobs", "worker")
    >>> sorted(graph_from_trace(t, {"jobs": 3}).edges(data="kind"))
    [('jobs', 'worker', 'deliver'), ('main', 'jobs', 'link')]
    """
    capacity = capacity or {}
    links: dict[tuple[str, str], None] = {}  # dicts keep first-seen order, sets do not
    deliveries: dict[tuple[str, str], None] = {}
    queues: dict[str, None] = {}
    for _, kind, _, node, peer, _ in trace.rows:
        if kind == "publish" and peer:
            links[(node, peer)] = None
            queues[peer] = None
        elif kind == "enqueue":
            queues[node] = None
        elif kind == "deliver" and peer:
            deliveries[(node, peer)] = None
    consumers = dict.fromkeys(c for _, c in deliveries)
    g = nx.DiGraph()
    for p, _ in links:
        if p not in consumers and p not in queues:
            g.add_node(p, role="producer", mode="async")
    for q in queues:
        g.add_node(q, role="queue", broker=None, kind="fifo", capacity=capacity.get(q),
                   overflow="block")
    for c in consumers:
        first_queue = next(q for q, c2 in deliveries if c2 == c)
        g.add_node(c, role="consumer", queue=first_queue)
    for p, q in links:
        g.add_edge(p, q, kind="link", latency=None)
    for q, c in deliveries:
        g.add_edge(q, c, kind="deliver", latency=None)
    return g
