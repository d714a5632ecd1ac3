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

>>> q = FifoQueue(capacity=2, overflow="drop-head")
>>> for word in ["a", "b", "c"]:
...     dropped = q.put(Message(word))
>>> [m.payload for m in q], dropped.payload
(['b', 'c'], 'a')
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
    ``dropped``: the messages pushed out to make room, head first.
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
    q._push(msg, next(q._seq))
    dropped = []
    while len(q) > q.capacity:
        dropped.append(q._pop())
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
    itself the one dropped.

    >>> q = PriorityQueue(max_priority=5)
    >>> for p in [1, 9, None, 5]:
    ...     _ = q.put(Message(p, priority=p))
    >>> [m.payload for m in q]
    [9, 5, 1, None]
    """

    kind = "priority"

    def __init__(
        self,
        capacity: int | None = None,
        overflow: str = "drop-head",
        max_priority: int | None = None,
    ) -> None:
        check_max_priority(max_priority)
        self.max_priority = max_priority
        super().__init__(capacity, overflow)

    def effective_priority(self, msg: Message) -> int:
        p = msg.priority or 0
        return p if self.max_priority is None else min(p, self.max_priority)

    def _init_storage(self) -> None:
        self._heap: list[tuple[int, int, Message]] = []
        self._front = itertools.count(-1, -1)  # requeued messages go ahead of their equals

    def _push(self, msg: Message, seq: int) -> None:
        heapq.heappush(self._heap, (-self.effective_priority(msg), seq, msg))

    def _pop(self) -> Message:
        return heapq.heappop(self._heap)[2]

    def _peek(self) -> Message:
        return self._heap[0][2]

    def _iter(self) -> Iterator[Message]:
        return (entry[2] for entry in sorted(self._heap, key=lambda e: e[:2]))

    def _push_front(self, msg: Message) -> None:
        heapq.heappush(self._heap, (-self.effective_priority(msg), next(self._front), msg))

    def __len__(self) -> int:
        return len(self._heap)


class SortedQueue(Queue):
    """A balanced-tree queue ordered by ``key(message)`` (smallest first), FIFO among ties.

    Both ends cost O(log n): ``get``/``pop_first`` take the smallest key, ``pop_last`` the
    largest. ``cancel(id)`` removes one message, ``pop_below(k)`` every message whose key is
    below ``k`` (e.g. all messages past their deadline). Full, with drop-head: the new message
    goes in and the smallest key is dropped (which may be the new message's).

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
