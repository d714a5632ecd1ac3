"""Reference solutions for lesson 02 (kept out of the student notebook).

tests/test_checks_lesson02.py proves that every check accepts these.
"""

from __future__ import annotations

from mqlab import Trace

# exercise 1: one order per round trip for the shop that waits; every order as made for the other
ROUND_TRIP = 0.1 + 0.05 + 0.3 + 0.05 + 0.1  # seconds: there, the work, and back
PREDICTION = {"sync": 1 / ROUND_TRIP, "async": 1 / 0.5}


def mean_wait(trace: Trace, producer: str) -> float:
    """Mean seconds from a message's creation to its first publish, for one producer."""
    first: dict[int, float] = {}
    for e in trace:
        if e.kind == "publish" and e.node == producer and e.msg not in first:
            first[e.msg] = e.time
    waits = [t - trace.messages[m].created for m, t in first.items()]
    return sum(waits) / len(waits)


def retry_report(trace: Trace, producer: str) -> dict[str, int]:
    """How many retries and give-ups ``producer`` had, and how many acks were repeats."""
    mine = {e.msg for e in trace.filter(kind="publish", node=producer)}
    timeouts = trace.filter(kind="timeout", node=producer)
    acks: dict[int, int] = {}
    for e in trace.filter(kind="ack"):
        if e.msg in mine:
            acks[e.msg] = acks.get(e.msg, 0) + 1
    return {
        "retries": sum(1 for e in timeouts if e.info == "retry"),
        "gave_up": sum(1 for e in timeouts if e.info == "give up"),
        "duplicates": sum(n - 1 for n in acks.values()),
    }


def resequence(arrivals: list[int]) -> list[list[int]]:
    """After each arrival, the numbers that can now be released in order (starting at 1)."""
    released_after: list[list[int]] = []
    held: set[int] = set()
    expected = 1  # the next number to release
    for seq in arrivals:
        if seq >= expected:  # a smaller one was released already: a duplicate
            held.add(seq)
        out = []
        while expected in held:
            held.remove(expected)
            out.append(expected)
            expected += 1
        released_after.append(out)
    return released_after


class Resequencer:
    """The same as a class that is fed one message at a time (as a consumer would)."""

    def __init__(self) -> None:
        self.expected, self.held = 1, set()

    def push(self, seq: int) -> list[int]:
        if seq >= self.expected:
            self.held.add(seq)
        out = []
        while self.expected in self.held:
            self.held.remove(self.expected)
            out.append(self.expected)
            self.expected += 1
        return out


def resequence_with_a_class(arrivals: list[int]) -> list[list[int]]:
    r = Resequencer()
    return [r.push(seq) for seq in arrivals]
