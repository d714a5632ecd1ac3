"""Messages: a payload plus the metadata a messaging system needs to move it.

A message is what one node hands to another. Besides the payload it carries who sent it, where
it should go (a routing key or a named target), a topic, a priority, free-form headers and the
times it was created, sent and delivered.

>>> m = Message("hello", source="sensor", routing_key="jobs", priority=3)
>>> m.payload, m.priority
('hello', 3)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message"]

_standalone_ids = itertools.count(1)


@dataclass(slots=True, eq=False)
class Message:
    """One message: payload plus metadata.

    ``id`` is unique within a run (the simulator numbers messages 1, 2, 3, ...). Messages made by
    hand get ids from a separate counter unless you pass one. ``priority=None`` means "no
    priority", which a priority queue treats as 0 (as RabbitMQ does).
    """

    payload: Any = None
    source: str = ""
    routing_key: str = ""
    target: str = ""
    topic: str = ""
    priority: int | None = None
    headers: dict = field(default_factory=dict)
    expiration: float | None = None  # per-message time to live, seconds (AMQP "expiration")
    id: int = 0
    created: float | None = None
    sent: float | None = None
    enqueued: float | None = None
    delivered: float | None = None
    redelivered: bool = False

    def __post_init__(self) -> None:
        if self.id == 0:
            self.id = -next(_standalone_ids)  # negative: never collides with simulator ids
        if self.priority is not None and (
            isinstance(self.priority, bool) or not isinstance(self.priority, int)
        ):
            raise TypeError(f"priority must be an int or None, got {self.priority!r}")

    def __repr__(self) -> str:
        bits = [f"id={self.id}"]
        if self.payload is not None:
            bits.append(f"payload={self.payload!r}")
        if self.routing_key:
            bits.append(f"key={self.routing_key!r}")
        if self.priority is not None:
            bits.append(f"priority={self.priority}")
        return f"Message({', '.join(bits)})"
