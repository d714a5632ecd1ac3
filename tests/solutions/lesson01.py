"""Reference solutions for lesson 01 (kept out of the student notebook).

tests/test_checks_lesson01.py proves that every check accepts these.
"""

from __future__ import annotations

from collections import deque


def consume(q, done):
    """Take orders from ``q`` and note each payload in ``done`` until the sentinel None."""
    while True:
        order = q.get()
        if order is None:  # the sentinel: no more orders for this consumer
            return
        done.append(order)


PREDICTION = 50  # euros: every round, both tellers read the same balance; one deposit is lost


def deposit(account, amount, lock, pause):
    """Add ``amount`` to the balance; the lock covers the read, the pause and the write."""
    with lock:
        balance = account["balance"]
        pause()
        account["balance"] = balance + amount


class BoundedBuffer:
    """At most ``capacity`` items; put waits while full, get waits while empty."""

    def __init__(self, capacity, condition):
        self.capacity = capacity
        self.items = deque()
        self.condition = condition

    def put(self, item):
        with self.condition:
            while len(self.items) >= self.capacity:
                self.condition.wait()
            self.items.append(item)
            self.condition.notify_all()

    def get(self):
        with self.condition:
            while not self.items:
                self.condition.wait()
            item = self.items.popleft()
            self.condition.notify_all()
            return item
