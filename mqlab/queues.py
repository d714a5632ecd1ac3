"""Queues on their own: FIFO, priority and a balanced-tree queue sorted by a key.

All three share one class, :class:`Queue`, which handles capacity, the overflow policy and the
statistics. A kind of queue only says how to store messages, through four small hooks
(``_push``, ``_pop``, ``_peek``, ``_iter``). The simulated broker uses these same classes.

Overflow policies when a bounded queue is full (names as in RabbitMQ's ``x-overflow``; each is
one small function in the table :data:`OVERFLOW_POLICIES`, which ``put`` and the simulated
broker both use through :meth:`Queue.offer`):

- ``"drop-head"``: the new message goes in and the head is dropped (the next one to be
  delivered: in a FIFO queue the oldest): a *max-length queue*. RabbitMQ's default, in
  RabbitMQ's order: in a priority queue a new message of the highest priority is itself the
  head, so it is the one dropped.
- ``"reject-publish"``: the new message is refused (``put`` raises :class:`QueueFull`).
- ``"block"``: the new message is refused *for now*; the sender must wait (backpressure). On its
  own a queue cannot wait, so ``put`` raises :class:`QueueFull`; in a simulation the broker holds
  the publisher until there is room.
- ``"drop-lowest"`` (not in RabbitMQ): the new message goes in and the *tail* is dropped, the
  message that would be delivered last: the lowest priority (newest among equals) in a priority
  queue, the largest key in a sorted queue, the new message itself in a FIFO queue. It costs
  O(log n) in a :class:`SortedQueue` (a tree knows both ends) but O(n) in a
  :class:`PriorityQueue` (a heap only knows its top).

A :class:`PriorityQueue` can also *age* its messages (``aging=RATE``, not in RabbitMQ): a
waiting message's priority grows by RATE per second, so low priorities are served in the end.

>>> q = FifoQueue(capacity=2, overflow="drop-head")
>>> for word in ["a", "b", "c"]:
...     dropped = q.put(Message(word))
>>> [m.payload for m in q], dropped.payload
(['b', 'c'], 'a')
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from numbers import Real
from typing import NamedTuple

from sortedcontainers import SortedKeyList

from mqlab.message import Message

__all__ = [
    "OVERFLOW_POLICIES",
    "FifoQueue",
    "Offer",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueStats",
    "SortedQueue",
]


class Offer(NamedTuple):
    """What a queue did with a message offered to it (:meth:`Queue.offer`).

    ``accepted``: the message went in (with drop-head it may also be among ``dropped``).
    ``dropped``: the messages pushed out to make room, in the order they went (drop-head:
    head first; drop-lowest: tail first).
    ``wait``: refused for now: the sender should wait for room and offer it again (block).
    """

    accepted: bool
    dropped: tuple = ()
    wait: bool = False


_TAKEN = Offer(True)  # the common answer: it went in, nothing dropped


# -- overflow policies: what a full queue does with one more message -----------------------------
def _drop_head(q: Queue, msg: Message) -> Offer:
    # RabbitMQ's order: the new message goes in, then heads go until the queue fits (more than
    # one if requeues had pushed it past its capacity); the new message may be one of them
    return _insert_then_drop(q, msg, q._pop)


def _drop_lowest(q: Queue, msg: Message) -> Offer:
    # the mirror image: the tail -- the message that would be delivered last -- goes
    return _insert_then_drop(q, msg, q._pop_last)


def _insert_then_drop(q: Queue, msg: Message, take: Callable[[], Message]) -> Offer:
    q._push(msg, next(q._seq))
    dropped = []
    while len(q) > q.capacity:
        dropped.append(take())
    q._count_drop("overflow", len(dropped))
    return Offer(True, tuple(dropped))


def _reject_publish(q: Queue, msg: Message) -> Offer:
    q._count_drop("reject-publish")
    return Offer(False)


def _block(q: Queue, msg: Message) -> Offer:
    q._count_drop("block")
    return Offer(False, wait=True)


#: overflow policy -> what a full queue does with a new message. A new policy: one function
#: ``(queue, message) -> Offer`` and one entry here.
OVERFLOW_POLICIES: dict[str, Callable[[Queue, Message], Offer]] = {
    "drop-head": _drop_head,
    "drop-lowest": _drop_lowest,
    "reject-publish": _reject_publish,
    "block": _block,
}


class QueueFull(Exception):
    """Raised by ``put`` when a full queue refuses a message (reject-publish or block)."""


class QueueEmpty(Exception):
    """Raised by ``get`` on an empty queue."""


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of a queue's counters."""

    length: int
    max_length: int
    puts: int
    gets: int
    drops: dict = field(default_factory=dict)  # reason -> count


def check_capacity(capacity: int | None) -> None:
    """Raise a clear error unless ``capacity`` is None or an int >= 1."""
    if capacity is None:
        return
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"capacity must be None (unbounded) or an int >= 1, got {capacity!r}")
    if capacity < 1:
        raise ValueError(f"capacity must be None (unbounded) or an int >= 1, got {capacity}")


def check_overflow(overflow: str) -> None:
    """Raise a clear error unless ``overflow`` is a known policy."""
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(
            f"overflow must be one of {', '.join(map(repr, OVERFLOW_POLICIES))}, got {overflow!r}"
        )


MAX_PRIORITY = 255  # the highest priority RabbitMQ allows (AMQP's priority is one byte)


def check_aging(aging: float | None) -> float | None:
    """Raise a clear error unless ``aging`` is None or a finite number > 0 (priority levels
    gained per second waited); return it as a float."""
    if aging is None:
        return None
    allowed = "None (no aging) or a number > 0 (priority levels gained per second waited)"
    if isinstance(aging, bool) or not isinstance(aging, Real):
        raise TypeError(f"aging must be {allowed}, got {aging!r}")
    if not 0 < aging < math.inf:
        raise ValueError(f"aging must be {allowed}, got {aging!r}")
    return float(aging)


def check_max_priority(max_priority: int | None) -> None:
    """Raise a clear error unless ``max_priority`` is None or an int from 0 to 255."""
    if max_priority is None:
        return
    allowed = f"None or an int from 0 to {MAX_PRIORITY}"
    if isinstance(max_priority, bool) or not isinstance(max_priority, int):
        raise TypeError(f"max_priority must be {allowed}, got {max_priority!r}")
    if not 0 <= max_priority <= MAX_PRIORITY:
        raise ValueError(f"max_priority must be {allowed}, got {max_priority}")


class Queue:
    """A message buffer with an optional capacity and overflow policy (FIFO order).

    ``put`` returns the message it dropped to make room (drop-head) or None; ``get`` returns the
    head. ``try_put`` / ``try_get`` never raise: they return False / None instead.
    """

    kind = "fifo"

    def __init__(self, capacity: int | None = None, overflow: str = "drop-head") -> None:
        check_capacity(capacity)
        check_overflow(overflow)
        self.capacity = capacity
        self.overflow = overflow
        self._seq = itertools.count()  # arrival order, for FIFO among equals
        self._puts = self._gets = self._max = 0
        self._drops: dict[str, int] = {}
        self._init_storage()

    # -- the hooks a kind of queue overrides -------------------------------------------------
    def _init_storage(self) -> None:
        self._items: deque[Message] = deque()

    def _push(self, msg: Message, seq: int) -> None:
        self._items.append(msg)

    def _pop(self) -> Message:
        return self._items.popleft()

    def _peek(self) -> Message:
        return self._items[0]

    def _iter(self) -> Iterator[Message]:
        return iter(self._items)

    def _push_front(self, msg: Message) -> None:
        """Put a message back where it came from (requeue); FIFO puts it at the head."""
        self._items.appendleft(msg)

    def _pop_last(self) -> Message:
        """Remove the tail, the message that would be delivered last (drop-lowest)."""
        return self._items.pop()

    # -- the public interface ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        """Messages in delivery order (head first)."""
        return self._iter()

    def __bool__(self) -> bool:
        return len(self) > 0

    def full(self) -> bool:
        return self.capacity is not None and len(self) >= self.capacity

    def put(self, msg: Message) -> Message | None:
        """Add ``msg``; return the message dropped to make room, or None.

        With drop-head the new message goes in and the head is dropped, so in a priority or
        sorted queue the message returned may be ``msg`` itself. (If requeues had pushed the
        queue past its capacity several heads go: ``put`` returns the first, ``offer`` all.)
        Raises :class:`QueueFull` if the queue is full and its policy refuses the message.
        """
        offer = self.offer(msg)
        if not offer.accepted:
            raise QueueFull(f"queue is full ({self.capacity}) and overflow={self.overflow!r}")
        return offer.dropped[0] if offer.dropped else None

    def offer(self, msg: Message) -> Offer:
        """Offer ``msg`` to the queue; when it is full, its overflow policy decides.

        Returns an :class:`Offer`: whether it went in, what was dropped to make room (head
        first), and whether the sender should wait (block). Never raises :class:`QueueFull`:
        ``put`` does that; the simulated broker reads the Offer instead.
        """
        if type(msg) is not Message and not isinstance(msg, Message):
            raise TypeError(f"msg must be an mqlab.Message, got {type(msg).__name__}")
        n = len(self)
        if self.capacity is not None and n >= self.capacity:
            offer = OVERFLOW_POLICIES[self.overflow](self, msg)
            if not offer.accepted:
                return offer
            n = len(self)
        else:
            self._push(msg, next(self._seq))
            offer = _TAKEN
            n += 1
        self._puts += 1
        if n > self._max:
            self._max = n
        return offer

    def _count_drop(self, reason: str, n: int = 1) -> None:
        if n:
            self._drops[reason] = self._drops.get(reason, 0) + n

    def try_put(self, msg: Message) -> bool:
        """Like ``put`` but return False instead of raising :class:`QueueFull`."""
        try:
            self.put(msg)
        except QueueFull:
            return False
        return True

    def get(self) -> Message:
        """Remove and return the head. Raises :class:`QueueEmpty` if there is none."""
        try:
            msg = self._pop()
        except IndexError:  # every storage raises it when empty
            raise QueueEmpty("queue is empty") from None
        self._gets += 1
        return msg

    def try_get(self) -> Message | None:
        """Like ``get`` but return None instead of raising :class:`QueueEmpty`."""
        return self.get() if len(self) else None

    def peek(self) -> Message | None:
        """The head without removing it, or None."""
        return self._peek() if len(self) else None

    def requeue(self, msg: Message) -> None:
        """Put a message back at its place near the head (as a broker does after a nack).

        A requeue ignores the capacity, as in RabbitMQ: the message was already admitted once.
        """
        self._push_front(msg)
        self._max = max(self._max, len(self))

    def stats(self) -> QueueStats:
        return QueueStats(len(self), self._max, self._puts, self._gets, dict(self._drops))

    def __repr__(self) -> str:
        cap = "" if self.capacity is None else f", capacity={self.capacity}"
        return f"{type(self).__name__}(len={len(self)}{cap}, overflow={self.overflow!r})"


class FifoQueue(Queue):
    """First in, first out: messages leave in the order they arrived.

    >>> q = FifoQueue()
    >>> _ = q.put(Message(1)); _ = q.put(Message(2))
    >>> q.get().payload
    1
    """


class PriorityQueue(Queue):
    """Higher priority first; FIFO among equal priorities (a binary heap).

    ``max_priority`` works like RabbitMQ's ``x-max-priority``: a priority above it counts as
    ``max_priority``, and a message with no priority counts as 0.

    Full, with drop-head: the new message goes in and the head (the highest priority, oldest
    among equals) is dropped, as in RabbitMQ, so a new message of the highest priority is
    itself the one dropped. With drop-lowest the tail goes instead: the lowest priority,
    newest among equals (finding it in a heap costs O(n)).

    >>> q = PriorityQueue(max_priority=5)
    >>> for p in [1, 9, None, 5]:
    ...     _ = q.put(Message(p, priority=p))
    >>> [m.payload for m in q]
    [9, 5, 1, None]

    **Aging** (``aging=RATE``; RabbitMQ has no such thing): a message's effective priority grows
    by RATE for every second it waits, capped at ``max_priority`` if there is one, so a low
    priority is served in the end however busy the queue is. The order is always: higher
    effective priority first, FIFO among equals. The queue reads the time from ``clock``, a
    function returning seconds that never go backwards (default :func:`time.monotonic`; the
    simulator passes its own clock), and stamps ``msg.enqueued`` with it. A requeued message
    keeps its age (from ``msg.enqueued``) and goes ahead of its equals.

    Aging costs no more than a plain heap: all waiting messages age at the same rate, so their
    order never changes until one reaches the cap. A message is kept under the fixed key
    ``priority - RATE * enqueued`` (its effective priority is that plus ``RATE * now``), and
    the messages that reached the cap move, once each, to a second heap kept in arrival order.
    Put and get stay O(log n) (plus one call of ``clock``); a queue without aging never calls it.

    >>> now = [0.0]
    >>> q = PriorityQueue(aging=1.0, clock=lambda: now[0])
    >>> _ = q.put(Message("old, low", priority=1))
    >>> now[0] = 3.0  # three seconds later: "old, low" counts as 1 + 3 = 4
    >>> _ = q.put(Message("new, high", priority=3))
    >>> [(m.payload, p) for m, p in q.effective_priorities()]
    [('old, low', 4.0), ('new, high', 3.0)]
    """

    kind = "priority"

    def __init__(
        self,
        capacity: int | None = None,
        overflow: str = "drop-head",
        max_priority: int | None = None,
        aging: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        check_max_priority(max_priority)
        self.aging = check_aging(aging)
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a function that returns the time in seconds "
                            f"(like time.monotonic), got {clock!r}")
        if clock is not None and self.aging is None:
            raise ValueError("clock only applies with aging: give aging=RATE (priority levels "
                             "per second) too, or leave clock out")
        self.clock = clock if clock is not None else time.monotonic
        self.max_priority = max_priority
        self._last_time = -math.inf
        super().__init__(capacity, overflow)

    def effective_priority(self, msg: Message) -> int:
        """The priority ``msg`` counts as when it enters (before any aging)."""
        p = msg.priority or 0
        return p if self.max_priority is None else min(p, self.max_priority)

    def effective_priorities(self) -> list[tuple[Message, float]]:
        """Every waiting message with the priority it counts as *now*, head first.

        Without aging that is :meth:`effective_priority`; with aging it has grown by
        ``aging`` per second waited (capped at ``max_priority``).
        """
        if self.aging is None:
            return [(m, self.effective_priority(m)) for m in self]
        now, cap = self._now(), self.max_priority
        self._promote(now)
        top = [(m, float(cap)) for _, m in sorted(self._top, key=lambda e: e[0])]
        rest = [(e[2], -e[0] + self.aging * now) for e in sorted(self._heap, key=lambda e: e[:2])]
        return top + rest

    # -- storage: a heap of (-key, seq, msg); with aging also _top, the capped ones by seq --------
    def _init_storage(self) -> None:
        self._heap: list[tuple[float, int, Message]] = []
        self._top: list[tuple[int, Message]] = []  # aging: reached max_priority, by arrival
        self._front = itertools.count(-1, -1)  # requeued messages go ahead of their equals

    def _push(self, msg: Message, seq: int) -> None:
        if self.aging is None:
            heapq.heappush(self._heap, (-self.effective_priority(msg), seq, msg))
        else:
            now = self._now()
            msg.enqueued = now
            self._push_aged(msg, seq, now, now)

    def _pop(self) -> Message:
        if self.aging is not None:
            self._promote(self._now())
            if self._top:
                return heapq.heappop(self._top)[1]
        return heapq.heappop(self._heap)[2]

    def _peek(self) -> Message:
        if self.aging is not None:
            self._promote(self._now())
            if self._top:
                return self._top[0][1]
        return self._heap[0][2]

    def _iter(self) -> Iterator[Message]:
        if self.aging is not None:
            self._promote(self._now())
        top = [e[1] for e in sorted(self._top, key=lambda e: e[0])]
        return itertools.chain(top, (e[2] for e in sorted(self._heap, key=lambda e: e[:2])))

    def _push_front(self, msg: Message) -> None:
        if self.aging is None:
            heapq.heappush(self._heap, (-self.effective_priority(msg), next(self._front), msg))
        else:  # it keeps its age: it has waited since it first came in
            now = self._now()
            since = msg.enqueued if msg.enqueued is not None and msg.enqueued <= now else now
            msg.enqueued = since
            self._push_aged(msg, next(self._front), since, now)

    def _pop_last(self) -> Message:
        # the tail: the lowest (effective) priority, newest among equals. A heap keeps only its
        # top in place: the tail is one of its leaves (the second half), found by looking.
        if self.aging is not None:
            self._promote(self._now())
        heap = self._heap
        if heap:
            i = max(range(len(heap) // 2, len(heap)), key=lambda j: heap[j][:2])
            entry = heap[i]
            heap[i] = heap[-1]
            heap.pop()
            heapq.heapify(heap)
            return entry[2]
        top = self._top  # every message left has reached the cap: the newest goes
        i = max(range(len(top)), key=lambda j: top[j][0])
        entry = top.pop(i)
        heapq.heapify(top)
        return entry[1]

    def __len__(self) -> int:
        return len(self._heap) + len(self._top)

    # -- aging ------------------------------------------------------------------------------------
    def _now(self) -> float:
        now = self.clock()
        try:
            ok = self._last_time <= now < math.inf
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"clock must return a finite time in seconds that never goes "
                             f"backwards; it returned {now!r} after {self._last_time!r}")
        self._last_time = now
        return now

    def _push_aged(self, msg: Message, seq: int, since: float, now: float) -> None:
        p = self.effective_priority(msg)
        if self.max_priority is not None and p >= self.max_priority:
            heapq.heappush(self._top, (seq, msg))
        else:  # its effective priority is p + aging * (now - since) = key + aging * now
            heapq.heappush(self._heap, (-(p - self.aging * since), seq, msg))
        self._promote(now)

    def _promote(self, now: float) -> None:
        """Move the messages whose aged priority has reached ``max_priority`` by ``now`` to
        ``_top``. The top of the heap has the largest key: it is the first to reach the cap."""
        cap = self.max_priority
        if cap is None:
            return
        heap, grown = self._heap, self.aging * now
        while heap and -heap[0][0] + grown >= cap:
            _, seq, msg = heapq.heappop(heap)
            heapq.heappush(self._top, (seq, msg))


class SortedQueue(Queue):
    """A balanced-tree queue ordered by ``key(message)`` (smallest first), FIFO among ties.

    Both ends cost O(log n): ``get``/``pop_first`` take the smallest key, ``pop_last`` the
    largest. ``cancel(id)`` removes one message, ``pop_below(k)`` every message whose key is
    below ``k`` (e.g. all messages past their deadline). Full, with drop-head: the new message
    goes in and the smallest key is dropped (which may be the new message's), RabbitMQ's order.
    Full, with drop-lowest: the new message goes in and the *largest* key is dropped (latest
    deadline, newest among equals): the least urgent goes, in O(log n).

    >>> q = SortedQueue(key=lambda m: m.headers["deadline"])
    >>> for d in [30, 10, 20]:
    ...     _ = q.put(Message(d, headers={"deadline": d}))
    >>> [m.payload for m in q.pop_below(25)], [m.payload for m in q]
    ([10, 20], [30])
    """

    kind = "sorted"

    def __init__(
        self,
        key: Callable[[Message], object] | None = None,
        capacity: int | None = None,
        overflow: str = "drop-head",
    ) -> None:
        if key is None:
            key = _default_sort_key
        if not callable(key):
            raise TypeError(f"key must be a function of a Message, got {key!r}")
        self.key = key
        super().__init__(capacity, overflow)

    def _init_storage(self) -> None:
        self._tree = SortedKeyList(key=lambda entry: (entry[0], entry[1]))
        self._by_id: dict[int, tuple] = {}
        self._front = itertools.count(-1, -1)

    def _push(self, msg: Message, seq: int) -> None:
        entry = (self.key(msg), seq, msg)
        self._tree.add(entry)
        self._by_id[msg.id] = entry

    def _pop(self) -> Message:
        return self._forget(self._tree.pop(0))

    def _peek(self) -> Message:
        return self._tree[0][2]

    def _iter(self) -> Iterator[Message]:
        return (entry[2] for entry in self._tree)

    def _push_front(self, msg: Message) -> None:
        self._push(msg, next(self._front))  # same key, ahead of its equals

    def _pop_last(self) -> Message:
        return self._forget(self._tree.pop(-1))

    def _forget(self, entry: tuple) -> Message:
        self._by_id.pop(entry[2].id, None)
        return entry[2]

    def __len__(self) -> int:
        return len(self._tree)

    def pop_first(self) -> Message:
        """Remove and return the message with the smallest key (same as ``get``)."""
        return self.get()

    def pop_last(self) -> Message:
        """Remove and return the message with the largest key."""
        if not len(self):
            raise QueueEmpty("queue is empty")
        self._gets += 1
        return self._forget(self._tree.pop(-1))

    def cancel(self, message_id: int) -> Message | None:
        """Remove the message with this id; return it, or None if it is not here."""
        entry = self._by_id.pop(message_id, None)
        if entry is None:
            return None
        self._tree.remove(entry)
        self._drops["cancelled"] = self._drops.get("cancelled", 0) + 1
        return entry[2]

    def pop_below(self, key: object) -> list[Message]:
        """Remove and return, smallest first, every message whose key is below ``key``."""
        stop = self._tree.bisect_key_left((key, -(10**18)))
        entries = list(self._tree.islice(0, stop))
        del self._tree[:stop]
        self._gets += len(entries)
        return [self._forget(e) for e in entries]


def _default_sort_key(msg: Message) -> object:
    return msg.headers.get("deadline", msg.created if msg.created is not None else 0.0)
