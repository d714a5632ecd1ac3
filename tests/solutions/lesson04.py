"""Reference solutions for lesson 04 (kept out of the student notebook).

tests/test_checks_lesson04.py proves that every check accepts these.
"""

from __future__ import annotations

from mqlab import Message, Network


def wire(net: Network) -> None:
    """A direct exchange: eu orders to europe, us and asia orders to america."""
    net.exchange("hub", "orders", type="direct")
    net.bind("orders", "europe", pattern="eu")
    net.bind("orders", "america", pattern="us")
    net.bind("orders", "america", pattern="asia")


#: orders (of 40) the slow worker gets when no prefetch limit is set
PREDICTION = 20

LABELS = {"rejected": "malformed", "expired": "stale", "maxlen": "overflow"}


def why(msg: Message) -> str:
    """Why a dead letter died, read from its headers."""
    return LABELS[msg.headers["x-first-death-reason"]]


#: seconds: 2 s of age, less 0.2 s to the hub and 0.1 s to the worker
TTL = 1.7
