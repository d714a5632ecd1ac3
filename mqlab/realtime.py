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

:class:`TracedLock`, :class:`TracedSemaphore` and :class:`TracedCondition` work like
``threading``'s (``with lock:``, ``acquire``/``release``, ``wait``/``notify``) and record into
the same kind of Trace, with node = the thread, peer = the lock's name and msg = a small number
per thread (1, 2, 3, ... in the order threads first appear):

- ``wait``: the thread has to wait (the lock is taken; or, for a condition, info "notify": it
  waits in ``cond.wait()`` for a notify);
- ``acquire`` / ``release``: it gets the lock (or a semaphore slot) / lets go of it;
- ``notify``: it wakes the longest-waiting threads of a condition; info = how many it woke;
- ``timeout``: it stopped waiting (info: "give up" for a lock, "retake the lock" for a
  condition).

Each event is recorded from inside the primitive while the thread holds it (an ``acquire`` just
after getting it, a ``release`` just before letting go), so the trace's order is the real order.

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
from mqlab.trace import PRIMITIVE_KINDS, Trace

__all__ = ["PRIMITIVE_KINDS", "TracedAsyncQueue", "TracedCondition", "TracedLock", "TracedQueue",
           "TracedSemaphore", "graph_from_trace", "mark_end", "recorded_graph"]

# the ``kind`` a lock, semaphore or condition has in ``trace.graph`` (its role there: "queue",
# so the Player draws the threads waiting for it in a tray)
_SYNC = frozenset({"wait", "acquire", "release", "notify", "timeout"})


class _Recorder:
    """The clock, lock and message numbering shared by every traced queue of one Trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.lock = threading.Lock()
        # a trace that already holds events continues its clock, so it stays time-ordered
        self.origin = time.perf_counter() - (trace.rows[-1][0] if trace.rows else 0.0)
        self.last_id = max((r[2] for r in trace.rows), default=0)
        self.capacity: dict[str, int | None] = {}
        self.primitives: dict[str, dict] = {}  # lock name -> its graph attributes
        self.threads: dict[str, int] = {}  # thread name -> its number in sync events

    def now(self) -> float:
        return time.perf_counter() - self.origin

    def record(self, kind: str, msg: int, node: str, peer: str = "", info: str = "") -> float:
        # the time is read under the lock, so rows from many threads go in in time order
        with self.lock:
            t = self.now()
            self.trace.record(t, kind, msg, node, peer, info)
        return t

    def thread_number(self, name: str) -> int:
        """The number of thread ``name`` in lock events: 1, 2, 3, ... by first appearance."""
        with self.lock:
            return self.threads.setdefault(name, len(self.threads) + 1)

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
        return mark_end(self.trace)

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



def recorded_graph(trace: Trace) -> nx.DiGraph:
    """The network of ``trace`` read from its events, with what the traced queues and locks
    that recorded it know (capacities, kinds of lock); see :func:`graph_from_trace`."""
    with _recorders_lock:
        rec = _recorders.get(trace)
    if rec is None:
        return graph_from_trace(trace)
    with rec.lock:
        return graph_from_trace(trace, rec.capacity, rec.primitives)


def mark_end(trace: Trace) -> Trace:
    """End a traced real run: set the trace's ``end_time`` (now) and ``graph``; return it.

    The same as ``mark_end()`` on any traced queue or lock that records into ``trace``.
    """
    rec = _recorder(trace)
    with rec.lock:
        trace.end_time = rec.now()
        trace.graph = graph_from_trace(trace, rec.capacity, rec.primitives)
    return trace


# -- locks, semaphores and condition variables ---------------------------------------------------
class _Primitive:
    """What the traced lock, semaphore and condition share: a name, a Trace, the recording."""

    kind = "lock"

    def _setup(self, name: str, trace: Trace | None, **attrs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if trace is not None and not isinstance(trace, Trace):
            raise TypeError(f"trace must be an mqlab Trace or None, got {trace!r}")
        self.name = name
        self.trace = Trace() if trace is None else trace
        self._rec = _recorder(self.trace)
        self._rec.primitives[name] = {"kind": self.kind, **attrs}

    def _record(self, kind: str, info: str = "") -> float:
        """Record ``kind`` by the calling thread at this primitive."""
        thread = threading.current_thread().name
        return self._rec.record(kind, self._rec.thread_number(thread), thread, self.name, info)

    def mark_end(self) -> Trace:
        """End the record: set the trace's ``end_time`` and ``graph``; return the trace."""
        return mark_end(self.trace)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _check_wait(blocking: Any, timeout: Any) -> None:
    if not isinstance(blocking, bool):
        raise TypeError(f"blocking must be True or False, got {blocking!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds (-1: no limit), got {timeout!r}")
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError(f"timeout must be a positive number of seconds or -1, got {timeout!r}")


class TracedLock(_Primitive):
    """A ``threading.Lock`` that records who waits for it, who gets it and when it is let go.

    >>> lock = TracedLock("db")
    >>> with lock:
    ...     lock.locked()
    True
    >>> [(e.kind, e.node, e.peer) for e in lock.trace]
    [('acquire', 'MainThread', 'db'), ('release', 'MainThread', 'db')]
    """

    def __init__(self, name: str, trace: Trace | None = None) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._setup(name, trace)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock; if it is taken, record ``wait`` and wait (at most ``timeout`` s)."""
        _check_wait(blocking, timeout)
        if not self._lock.acquire(False):
            self._record("wait")
            if not blocking or not self._lock.acquire(True, timeout):
                self._record("timeout", "give up")
                return False
        self._owner = threading.get_ident()
        self._record("acquire")  # while holding it: no other acquire can come in between
        return True

    def release(self) -> None:
        """Let go of the lock (records ``release`` first, while still holding it)."""
        if not self._lock.locked():
            raise RuntimeError(f"release unlocked lock {self.name!r}")
        self._record("release")
        self._owner = None
        self._lock.release()

    def locked(self) -> bool:
        """True while some thread holds the lock."""
        return self._lock.locked()

    def _is_owned(self) -> bool:
        return self._lock.locked() and self._owner == threading.get_ident()

    def __repr__(self) -> str:
        return f"<TracedLock {self.name!r}: {'locked' if self.locked() else 'free'}>"


class TracedSemaphore(_Primitive):
    """A ``threading.Semaphore``: at most ``value`` threads hold it at once; each ``acquire``
    and ``release`` (and every wait) is recorded.

    >>> pool = TracedSemaphore("printers", value=2)
    >>> pool.acquire(), pool.acquire(), pool.acquire(timeout=0.01)
    (True, True, False)
    >>> pool.trace.column("kind")
    ['acquire', 'acquire', 'wait', 'timeout']
    """

    kind = "semaphore"

    def __init__(self, name: str, trace: Trace | None = None, value: int = 1) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"value must be a whole number >= 0 (how many threads may hold "
                             f"the semaphore at once), got {value!r}")
        self._sem = threading.Semaphore(value)
        self.value = value
        self._setup(name, trace, value=value)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a slot; if none is free, record ``wait`` and wait (at most ``timeout`` s)."""
        _check_wait(blocking, -1 if timeout is None else timeout)
        if not self._sem.acquire(False):
            self._record("wait")
            if not blocking or not self._sem.acquire(True, timeout):
                self._record("timeout", "give up")
                return False
        self._record("acquire")  # holding a slot: at most ``value`` acquires are open
        return True

    def release(self, n: int = 1) -> None:
        """Give back ``n`` slots (each recorded as a ``release`` before it is given back)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a whole number >= 1, got {n!r}")
        for _ in range(n):
            self._record("release")
            self._sem.release()

    def __repr__(self) -> str:
        return f"<TracedSemaphore {self.name!r}: value {self.value}>"


class TracedCondition(_Primitive):
    """A ``threading.Condition``: threads wait in ``wait()`` until another thread notifies.

    ``lock``: the :class:`TracedLock` the condition uses (several conditions may share one, as
    a bounded buffer's "not full" and "not empty" do); None makes a lock of its own, recorded
    under the condition's name. ``notify(n)`` wakes the ``n`` threads that have waited longest.

    >>> ready = TracedCondition("ready")
    >>> with ready:
    ...     ready.wait(timeout=0.01)      # nobody notifies: it times out
    False
    >>> [(e.kind, e.info) for e in ready.trace]  # doctest: +NORMALIZE_WHITESPACE
    [('acquire', ''), ('wait', 'notify'), ('release', 'wait'), ('timeout', 'retake the lock'),
     ('acquire', ''), ('release', '')]
    """

    kind = "condition"

    def __init__(self, name: str, trace: Trace | None = None,
                 lock: TracedLock | None = None) -> None:
        if lock is not None and not isinstance(lock, TracedLock):
            raise TypeError(f"lock must be a TracedLock (or None for a lock of its own), got "
                            f"{lock!r}")
        if lock is not None and trace is not None and lock.trace is not trace:
            raise ValueError("lock records into another trace: give the condition the lock's "
                             "trace (or no trace)")
        if lock is None:
            lock = TracedLock.__new__(TracedLock)
            lock._lock, lock._owner, lock.kind = threading.Lock(), None, "condition"
            lock._setup(name, trace)
        self._setup(name, lock.trace, lock=lock.name)
        self.lock = lock
        self._waiters: deque[threading.Lock] = deque()
        self._guard = threading.Lock()  # waiters, notifies and timeouts: one at a time

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the condition's lock (see :meth:`TracedLock.acquire`)."""
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Let go of the condition's lock."""
        self.lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Let go of the lock and wait for a notify (at most ``timeout`` s), then take the lock
        back. True if notified, False if the time ran out. Call it holding the lock."""
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))):
            raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
        if not self.lock._is_owned():
            raise RuntimeError(f"cannot wait on condition {self.name!r} without holding its "
                               "lock: use `with cond:` around the wait")
        waiter = threading.Lock()
        waiter.acquire()
        with self._guard:
            self._waiters.append(waiter)
            self._record("wait", "notify")
        self.lock._owner = None
        self.lock._record("release", "wait")
        self.lock._lock.release()
        notified = True
        try:
            if timeout is None:
                waiter.acquire()
            elif not waiter.acquire(timeout > 0, timeout if timeout > 0 else -1):
                with self._guard:  # unless a notify took it meanwhile, it timed out
                    notified = waiter not in self._waiters
                    if not notified:
                        self._waiters.remove(waiter)
                        self._record("timeout", "retake the lock")
            return notified
        finally:
            self.lock.acquire()

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        """Wait until ``predicate()`` is true (checked again after every wake-up); return its
        last value (false if ``timeout`` s ran out first)."""
        end = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            self.wait(left)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> int:
        """Wake the ``n`` threads that have waited longest; record ``notify`` with how many
        woke (0 if nobody was waiting). Call it holding the lock. Returns how many woke."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a whole number >= 0, got {n!r}")
        if not self.lock._is_owned():
            raise RuntimeError(f"cannot notify on condition {self.name!r} without holding its "
                               "lock: use `with cond:` around the notify")
        with self._guard:
            woken = 0
            while self._waiters and woken < n:
                self._waiters.popleft().release()
                woken += 1
            self._record("notify", str(woken))
        return woken

    def notify_all(self) -> int:
        """Wake every waiting thread."""
        return self.notify(len(self._waiters))

    def __repr__(self) -> str:
        return f"<TracedCondition {self.name!r}: {len(self._waiters)} waiting>"


def graph_from_trace(trace: Trace, capacity: dict[str, int | None] | None = None,
                     primitives: dict[str, dict] | None = None) -> nx.DiGraph:
    """The network a real run used, read from its events: producers -> queues -> consumers.

    Producers are the nodes that publish, queues the nodes messages are published to or
    enqueued in, consumers the nodes queues deliver to (a node that does both, a pipeline
    stage, is a consumer). There is no broker: producers put straight into the queue.
    ``capacity`` gives queues their maximum length.

    A lock, semaphore or condition (the ``peer`` of ``wait``, ``acquire``, ``release``,
    ``notify`` and ``timeout`` events) is a node of its own with role "queue" and ``kind``
    "lock", "semaphore" or "condition" (from ``primitives``, {name: attributes}; guessed from
    the events otherwise): its tray holds the threads waiting for it. A thread that uses it is
    a consumer of it (edge primitive -> thread, kind "sync"), unless the thread is a producer
    (edge thread -> primitive), so every arrow points left to right.

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
    _add_primitives(g, trace, primitives or {})
    return g


def _add_primitives(g: nx.DiGraph, trace: Trace, primitives: dict[str, dict]) -> None:
    """Add the locks, semaphores and conditions of ``trace`` and the threads that use them."""
    users: dict[tuple[str, str], None] = {}  # (thread, primitive), in first-seen order
    notified: set[str] = set()
    for _, kind, _, node, peer, info in trace.rows:
        if kind in _SYNC and peer:
            users[(node, peer)] = None
            if kind == "notify" or info == "notify":
                notified.add(peer)
    for _, p in users:
        if p not in g:
            attrs = primitives.get(p) or {"kind": "condition" if p in notified else "lock"}
            g.add_node(p, role="queue", broker=None, capacity=None, overflow=None, **attrs)
    for thread, p in users:
        if thread not in g:
            g.add_node(thread, role="consumer", queue=p)
        if g.nodes[thread].get("role") == "producer":
            g.add_edge(thread, p, kind="sync", latency=None)
        else:
            g.add_edge(p, thread, kind="sync", latency=None)
