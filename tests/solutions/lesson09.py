"""Reference solutions for lesson 09 (kept out of the student notebook).

tests/test_checks_lesson09.py proves that every check accepts these.
"""

from __future__ import annotations

from mqlab import Network

PREDICTION = "c"  # a little over 20 ms: trips to and from the broker, and its work

OFFSETS = {"audit": "first", "billing": 5, "dashboard": "next"}

PERMISSIONS = {
    "configure": r"^mailer\.inbox$",  # declare its queue
    "write": r"^(mailer\.inbox|emails)$",  # bind its queue (write on the queue); publish
    "read": r"^(orders|mailer\.inbox)$",  # bind to orders (read on the exchange); consume
}


def x_arguments(net: Network, name: str) -> dict:
    """RabbitMQ's x- arguments for queue ``name`` of ``net``."""
    q = net.queues[name]
    args: dict = {}
    if q.kind == "priority":
        args["x-max-priority"] = 255 if q.max_priority is None else q.max_priority
    if q.capacity is not None:
        args["x-max-length"] = q.capacity
        args["x-overflow"] = q.overflow
    if q.message_ttl is not None:
        args["x-message-ttl"] = round(q.message_ttl * 1000)  # milliseconds, an int
    if q.dead_letter in net.queues:  # a queue: through the default exchange
        args["x-dead-letter-exchange"] = ""
        args["x-dead-letter-routing-key"] = q.dead_letter
    elif q.dead_letter is not None:  # an exchange
        args["x-dead-letter-exchange"] = q.dead_letter
    return args
