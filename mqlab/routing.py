"""Exchanges decide which queues get a message: direct, fanout and topic routing.

Topic patterns follow RabbitMQ's topic exchange exactly: routing keys and patterns are words
separated by dots; ``*`` matches exactly one word and ``#`` matches zero or more words.

>>> topic_matches("orders.*.eu", "orders.new.eu")
True
>>> topic_matches("orders.#", "orders")
True
>>> topic_matches("orders.*", "orders.new.eu")
False
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["EXCHANGE_TYPES", "topic_matches"]

EXCHANGE_TYPES = ("direct", "fanout", "topic")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """True if ``routing_key`` matches topic ``pattern`` (``*`` one word, ``#`` zero or more)."""
    if not isinstance(pattern, str) or not isinstance(routing_key, str):
        raise TypeError("pattern and routing_key must be strings")
    return _match(_words(pattern), _words(routing_key))


def _words(key: str) -> tuple[str, ...]:
    # as in RabbitMQ, the empty key has no words at all (so "#" matches it and "*" does not)
    return tuple(key.split(".")) if key else ()


@lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # '#' swallows zero words, or one word and stays in place to swallow more
        return _match(rest, words) or (bool(words) and _match(pattern, words[1:]))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
