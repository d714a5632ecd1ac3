"""Reference solutions for lesson 03 (kept out of the student notebook).

tests/test_checks_lesson03.py proves that every check accepts these.
"""

from __future__ import annotations

import heapq
import itertools


class TinyPriorityQueue:
    """Higher priority first; FIFO among equal priorities, on heapq (a min-heap)."""

    def __init__(self) -> None:
        self.heap: list = []
        self.counter = itertools.count()  # arrival order: settles ties before the item

    def put(self, item, priority: int) -> None:
        heapq.heappush(self.heap, (-priority, next(self.counter), item))

    def get(self):
        return heapq.heappop(self.heap)[2]


#: what is left in the full drop-head priority queue, head first
PREDICTION = ["e", "a", "c"]

CHOICES = {
    "dashboard": ("fifo", "drop-head"),
    "payments": ("fifo", "block"),
    "booking": ("fifo", "reject-publish"),
    "support": ("priority+aging", "block"),
    "delivery": ("sorted", "drop-lowest"),
}
