"""The simulation engine: a clock and a heap of things to do, in time order.

This is the whole of discrete-event simulation. Nothing happens *between* events, so the
clock jumps straight from one event to the next. An event is a plain function call scheduled
for a time; the heap always yields the earliest one. Ties are broken by a sequence number, so
two events at the same time run in the order they were scheduled: that, plus one seeded random
generator, makes every run with the same seed identical.

>>> sim = Engine(seed=1)
>>> log = []
>>> sim.schedule(2.0, log.append, "second")
>>> sim.schedule(1.0, log.append, "first")
>>> sim.run(until=10)
>>> log, sim.now
(['first', 'second'], 10.0)
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from math import inf

__all__ = ["Engine"]


class Engine:
    """A clock, an event heap and a seeded random number generator."""

    def __init__(self, seed: int | None = 0) -> None:
        self.now = 0.0
        self.rng = random.Random(seed)  # the run's only source of randomness
        self._heap: list = []
        self._seq = itertools.count()  # tie-breaker: same-time events run in scheduling order

    def schedule(self, delay: float, action: Callable, *args) -> None:
        """Call ``action(*args)`` ``delay`` seconds from now (never in the past)."""
        if not 0 <= delay < inf:  # NaN fails every comparison, so this refuses it too
            raise ValueError(f"delay must be >= 0 seconds and finite (no going back in time), "
                             f"got {delay}")
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), action, args))

    def at(self, time: float, action: Callable, *args) -> None:
        """Call ``action(*args)`` at absolute ``time`` (not in the past)."""
        if not self.now <= time < inf:
            raise ValueError(f"time must not be before now ({self.now}) and must be finite, "
                             f"got {time}")
        self.schedule(time - self.now, action, *args)

    def step(self) -> None:
        """Advance the clock to the earliest event and run it."""
        self.now, _, action, args = heapq.heappop(self._heap)
        action(*args)

    def run(self, until: float | None = None) -> None:
        """Run events until the heap is empty or the next one is later than ``until``."""
        if until is not None and not self.now <= until < inf:
            raise ValueError(f"until must not be before now ({self.now}) and must be finite, "
                             f"got {until}")
        heap, pop = self._heap, heapq.heappop
        while heap and (until is None or heap[0][0] <= until):
            self.now, _, action, args = pop(heap)  # inlined step(): this loop is the hot path
            action(*args)
        if until is not None:
            self.now = float(until)

    def pending(self) -> int:
        """How many events are still waiting."""
        return len(self._heap)
