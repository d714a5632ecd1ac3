"""Exchanges decide which queues get a message: direct, fanout, topic and headers routing.

Each exchange type is one entry of the table :data:`EXCHANGES`: a small function that says
whether a binding takes a message. The builder (``Network.exchange`` / ``bind``) and the
simulator both read the table, so a new type is one function and one entry here.

Topic patterns follow RabbitMQ's topic exchange exactly: routing keys and patterns are words
separated by dots; ``*`` matches exactly one word and ``#`` matches zero or more words.

>>> topic_matches("orders.*.eu", "orders.new.eu")
True
>>> topic_matches("orders.#", "orders")
True
>>> topic_matches("orders.*", "orders.new.eu")
False

A partitioned log routes by its key too: :func:`partition_for` picks the partition.

A headers exchange ignores the routing key and compares a binding's *arguments* with the
message's headers, as RabbitMQ's does (``x-match``: ``"all"`` or ``"any"``):

>>> headers_match({"format": "pdf", "x-match": "any"}, {"format": "pdf", "pages": 3})
True
>>> headers_match({"format": "pdf", "pages": 3}, {"format": "pdf", "pages": "3"})
False
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "EXCHANGES",
    "EXCHANGE_TYPES",
    "Binding",
    "ExchangeType",
    "check_headers_arguments",
    "headers_match",
    "partition_for",
    "topic_matches",
]


class Binding(NamedTuple):
    """A queue bound to an exchange.

    ``pattern`` is the binding key (exact key, topic pattern; a fanout ignores it). A headers
    exchange matches ``arguments`` instead, and ``pattern`` holds a short text for pictures.
    """

    pattern: str
    queue: str
    arguments: dict | None = None


@dataclass(frozen=True)
class ExchangeType:
    """The rules of one exchange type: one entry of :data:`EXCHANGES`.

    - ``matches(binding, message)``: does this binding take this message?
    - ``default_pattern``: the binding key when ``bind`` is given none (None: the queue's name).
    - ``by_key``: the answer depends on the routing key alone, so the simulator may remember it
      per (exchange, routing key). False for a type that reads anything else (headers).
    - ``check_arguments``: for a type whose bindings carry ``arguments`` instead of a pattern:
      checks them (clear errors) and returns the short text drawn on the binding.
    """

    matches: Callable[[Binding, Any], bool]
    default_pattern: str | None = ""
    by_key: bool = True
    check_arguments: Callable[[Any], str] | None = None


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


# -- headers exchange --------------------------------------------------------------------------
_X_MATCH = ("all", "any")


def headers_match(arguments: dict, headers: dict) -> bool:
    """True if a headers-exchange binding with these ``arguments`` takes a message with these
    ``headers`` (RabbitMQ's rules).

    ``arguments["x-match"]``: ``"all"`` (the default: every header named must match) or
    ``"any"`` (one is enough). Keys starting with ``x-`` are not matched. A header matches when
    it is present with an equal value *of the same type* (``1`` matches neither ``"1"`` nor
    ``1.0`` nor ``True``); an argument whose value is None asks only that the header be
    present. With no keys to match, ``all`` takes every message and ``any`` none.

    >>> headers_match({}, {"a": 1}), headers_match({"x-match": "any"}, {"a": 1})
    (True, False)
    """
    if not isinstance(arguments, dict) or not isinstance(headers, dict):
        raise TypeError("arguments and headers must be dicts")
    mode = arguments.get("x-match", "all")
    if mode not in _X_MATCH:
        raise ValueError(f"arguments['x-match'] must be 'all' or 'any', got {mode!r}")
    return _headers_match(arguments, headers, mode == "any")


def _headers_match(arguments: dict, headers: dict, any_of: bool) -> bool:
    for key, want in arguments.items():
        if key.startswith("x-"):
            continue
        ok = key in headers and (want is None or (
            type(want) is type(headers[key]) and bool(want == headers[key])))
        if ok is any_of:  # the first hit decides "any", the first miss decides "all"
            return ok
    return not any_of


def check_headers_arguments(arguments: Any) -> str:
    """Check a headers binding's ``arguments``; return the short text a picture shows for it.

    >>> check_headers_arguments({"format": "pdf", "x-match": "any"})
    'any: format=pdf'
    """
    if not isinstance(arguments, dict):
        raise TypeError("arguments must be a dict of header values (plus 'x-match': 'all' or "
                        f"'any'), got {arguments!r}")
    for key in arguments:
        if not isinstance(key, str):
            raise TypeError(f"arguments keys must be header names (strings), got {key!r}")
    mode = arguments.get("x-match", "all")
    if mode not in _X_MATCH:
        raise ValueError(f"arguments['x-match'] must be 'all' or 'any', got {mode!r}")
    shown = [k if v is None else f"{k}={v}" if isinstance(v, str) else f"{k}={v!r}"
             for k, v in arguments.items() if not k.startswith("x-")]
    if not shown:
        return f"{mode}: " + ("every message" if mode == "all" else "no message")
    return f"{mode}: " + ", ".join(shown)


# -- the table ---------------------------------------------------------------------------------
def _direct(binding: Binding, msg) -> bool:
    return binding.pattern == msg.routing_key


def _fanout(binding: Binding, msg) -> bool:
    return True


def _topic(binding: Binding, msg) -> bool:
    return topic_matches(binding.pattern, msg.routing_key)


def _headers(binding: Binding, msg) -> bool:
    args = binding.arguments or {}
    return _headers_match(args, msg.headers, args.get("x-match") == "any")


#: exchange type -> its rules. A new type: one function above and one entry here.
EXCHANGES: dict[str, ExchangeType] = {
    "direct": ExchangeType(_direct, default_pattern=None),
    "fanout": ExchangeType(_fanout),
    "topic": ExchangeType(_topic, default_pattern="#"),
    "headers": ExchangeType(_headers, by_key=False, check_arguments=check_headers_arguments),
}

EXCHANGE_TYPES = tuple(EXCHANGES)


def partition_for(key: str, partitions: int) -> int:
    """The partition a record with ``key`` goes to: a stable hash of the key (CRC-32 of its
    UTF-8 bytes) modulo the number of partitions, the same in every process and on every run.

    >>> partition_for("customer-7", 3) == partition_for("customer-7", 3)
    True
    >>> sorted({partition_for(f"c{i}", 4) for i in range(50)})
    [0, 1, 2, 3]
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {key!r}")
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"partitions must be an int >= 1, got {partitions!r}")
    return zlib.crc32(key.encode("utf-8")) % partitions
