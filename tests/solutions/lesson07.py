"""Reference solutions for lesson 07 (kept out of the student notebook).

tests/test_checks_lesson07.py proves that every check accepts these.
"""

from __future__ import annotations

import mqlab as mq


def make_handler(store, charge):
    """An idempotent bank: the ids it charged live in ``store``, which outlives crashes."""

    def handle(msg):
        if msg.id in store:
            return  # charged before: ack it, charge nothing
        charge(msg)
        store.add(msg.id)

    return handle


#: orders (of 10) the worker processes after the restart, per (durable, persistent)
PREDICTION = {(True, True): 10, (True, False): 0, (False, True): 0, (False, False): 0}

#: retries with backoff: longer first waits than section 5's demo, capped, jittered
POLICY = {"retries": 8, "backoff": mq.backoff(1.0, cap=4.0, jitter="full")}

CHOICES = {"thermometer": "at-most-once", "payment": "effectively-once",
           "price": "at-least-once"}
