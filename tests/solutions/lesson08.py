"""Reference solutions for lesson 08 (kept out of the student notebook).

tests/test_checks_lesson08.py proves that every check accepts these.
"""

from __future__ import annotations

from mqlab import Message, security

#: RabbitMQ permissions: anchored, escaped dots; the shop's publishes through the default
#: exchange (published to as "") are checked under the name amq.default
PERMISSIONS = {
    "shop": {"write": r"^(payments|amq\.default)$", "read": ""},
    "bank": {"write": "", "read": "^charges$"},
    "auditor": {"write": "", "read": r"^audit\."},
}


def genuine(msg: Message, key: bytes) -> bool:
    """Is the x-hmac tag the HMAC of the payload and the routing key? (constant time)"""
    return security.verify(key, msg.payload, msg.headers.get("x-hmac"),
                           routing_key=msg.routing_key)


#: charges of order 102 when the bank checks HMACs and the tap replays it
PREDICTION = 2


def replay_check(seen: dict, msg_id: int, sent: float, now: float, window: float):
    """None for a fresh message (remembered), or why it is refused."""
    if now - sent > window:
        return f"too old: sent {now - sent:.1f} s ago"
    if msg_id in seen:
        return f"replayed: id {msg_id} seen already"
    seen[msg_id] = sent
    for old in [i for i, t in seen.items() if now - t > window]:
        del seen[old]
    return None


DEFENCES = {"a": "encryption", "b": "login", "c": "permissions", "d": "hmac",
            "e": "replay guard", "f": "rate limit"}
