"""Reference solutions for lesson 05 (kept out of the student notebook).

tests/test_checks_lesson05.py proves that every check accepts these.
"""

from __future__ import annotations


def matches(pattern: str, key: str) -> bool:
    """Topic matching: words split at dots; ``*`` exactly one word, ``#`` zero or more."""

    def words(text: str) -> list[str]:
        return text.split(".") if text else []  # the empty key has no words

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":  # zero words, or one word and keep the '#' for more
            return match(p[1:], k) or (bool(k) and match(p, k[1:]))
        if not k:
            return False
        return (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(words(pattern), words(key))


#: which subscriber queues get each routing key of check.PREDICT_KEYS
PREDICTION = {
    "order.paid.eu": {"billing", "eu-warehouse", "audit"},
    "order.cancelled.eu": {"eu-warehouse", "audit", "alerts"},
    "order.paid": {"audit"},
    "order": {"audit"},
    "order.paid.eu.express": {"audit"},
    "payment.cancelled": {"alerts"},
    "refund.new": set(),
}


def order_key(payload: dict) -> str:
    """All of a customer's orders share a key, so they share a partition and stay in order."""
    return payload["customer"]


def group_lag(trace, group: str, at: float) -> int:
    """Records appended up to ``at`` minus the group's last committed offset, summed over
    partitions (0 committed where the group has not committed yet)."""
    end, committed = {}, {}
    for e in trace:
        if e.time > at:  # rows up to and including `at` (trace.filter(stop=at) is < at)
            break
        if e.kind == "append":
            end[e.node] = int(e.info) + 1
        elif e.kind == "commit" and e.peer == group:
            committed[e.node] = int(e.info)
    return sum(n - committed.get(p, 0) for p, n in end.items())
