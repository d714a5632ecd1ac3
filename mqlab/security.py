"""Securing a message channel: who may do what at the broker, and what a message carries to
prove it is genuine, unread and fresh.

The broker side follows RabbitMQ. A user has a password, stored only as a salted hash
(:func:`hash_password`, PBKDF2 from the standard library), and three permissions, each a
regular expression over the names of exchanges and queues: ``configure`` (declare, delete),
``write`` (publish to an exchange, bind a queue) and ``read`` (consume from a queue). As in
RabbitMQ the expression is *searched* in the name, not matched against the whole of it
(``"order"`` permits ``"my-orders"``: anchor it, ``"^orders$"``), and the empty expression
permits nothing (it counts as ``"^$"``). The default exchange (named ``""`` when publishing)
is checked under the name ``"amq.default"``, as RabbitMQ does.

>>> permitted("^orders$", "orders"), permitted("order", "my-orders"), permitted("", "orders")
(True, True, False)

The message side needs keys that both ends share (made at run time, never written down):

- **integrity**: an HMAC tag over the payload and chosen metadata (:func:`tag`); the receiver
  computes it again and compares in constant time (:func:`verify`), so a changed payload or
  a changed routing key is caught;
- **confidentiality**: authenticated encryption, AES-GCM from the ``cryptography`` package
  (:func:`seal` / :func:`open_sealed`): an eavesdropper sees only ciphertext, and a single
  flipped bit makes decryption fail;
- **freshness**: a :class:`ReplayGuard` refuses a message id it has seen, or one older than a
  time window.

>>> key = new_key()
>>> t = tag(key, {"amount": 10}, routing_key="payments")
>>> verify(key, {"amount": 10}, t, routing_key="payments")
True
>>> verify(key, {"amount": 1000}, t, routing_key="payments")
False
>>> sealed = seal(key, {"card": "4111"})
>>> open_sealed(key, sealed)
{'card': '4111'}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from functools import lru_cache
from typing import Any

__all__ = ["PERMISSIONS", "ReplayGuard", "check_pattern", "hash_password", "new_key",
           "open_sealed", "password_ok", "permitted", "seal", "tag", "verify"]

PERMISSIONS = ("configure", "write", "read")
_ITERATIONS = 60_000  # PBKDF2-SHA256 rounds: slow enough to make guessing costly, quick to log in


def hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """``(salt, digest)`` of ``password``: PBKDF2-HMAC-SHA256 with a random 16-byte salt.
    Only these are kept, never the password."""
    if not isinstance(password, str):
        raise TypeError(f"password must be a str, got {type(password).__name__}")
    salt = os.urandom(16) if salt is None else salt
    return salt, hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _ITERATIONS)


def password_ok(password: Any, salt: bytes, digest: bytes) -> bool:
    """Does ``password`` hash to ``digest`` (compared in constant time)?"""
    if not isinstance(password, str):
        return False
    return hmac.compare_digest(hash_password(password, salt)[1], digest)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern or "^$")


def check_pattern(name: str, pattern: Any) -> str:
    """Raise a clear error naming ``name`` unless ``pattern`` is a valid regular expression."""
    if not isinstance(pattern, str):
        raise TypeError(f"{name} must be a regular expression (a str), got {pattern!r}")
    try:
        _compiled(pattern)
    except re.error as exc:
        raise ValueError(f"{name} must be a valid regular expression, got {pattern!r}: "
                         f"{exc}") from None
    return pattern


def permitted(pattern: str, name: str) -> bool:
    """RabbitMQ's rule: is resource ``name`` permitted by permission ``pattern``? The
    expression is searched anywhere in the name; ``""`` permits nothing (it means ``"^$"``)."""
    return _compiled(pattern).search(name) is not None


# -- integrity -------------------------------------------------------------------------------
def _canonical(payload: Any, fields: dict) -> bytes:
    """One byte string for a payload and its metadata: the same data gives the same bytes."""
    return json.dumps({"payload": payload, **fields}, sort_keys=True, separators=(",", ":"),
                      default=repr).encode("utf-8")


def tag(key: bytes, payload: Any, **fields: Any) -> str:
    """The HMAC-SHA256 tag (hex) of ``payload`` and the metadata ``fields`` given by name
    (e.g. ``routing_key=``, ``id=``): whoever changes any of them without ``key`` is caught."""
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError("key must be bytes, at least 16 of them (use new_key())")
    return hmac.new(key, _canonical(payload, fields), hashlib.sha256).hexdigest()


def verify(key: bytes, payload: Any, expected: Any, **fields: Any) -> bool:
    """Is ``expected`` the tag of ``payload`` and ``fields``? Compared in constant time
    (``hmac.compare_digest``), so the time taken does not tell how much of a guess was right."""
    if not isinstance(expected, str):
        return False
    return hmac.compare_digest(tag(key, payload, **fields), expected)


# -- confidentiality -------------------------------------------------------------------------
def new_key() -> bytes:
    """A fresh random 256-bit key (for HMAC tags and AES-GCM alike)."""
    return os.urandom(32)


def seal(key: bytes, payload: Any, associated: bytes = b"") -> dict:
    """Encrypt ``payload`` (JSON-serialisable) with AES-256-GCM under ``key``: a dict with a
    fresh 12-byte ``nonce`` and the ``ciphertext`` (with its authentication tag), both hex.
    ``associated`` data is authenticated but not encrypted (e.g. the routing key)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    data = json.dumps(payload, sort_keys=True).encode("utf-8")
    return {"nonce": nonce.hex(), "ciphertext": AESGCM(key).encrypt(nonce, data,
                                                                       associated).hex()}


def open_sealed(key: bytes, sealed: Any, associated: bytes = b"") -> Any:
    """Decrypt what :func:`seal` made; raise ``ValueError`` if it was changed in any bit, or
    sealed under another key or other associated data."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        nonce, ciphertext = bytes.fromhex(sealed["nonce"]), bytes.fromhex(sealed["ciphertext"])
        data = AESGCM(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag:
        raise ValueError("authentication failed: the ciphertext was changed, or the key or "
                         "associated data differ") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a sealed message ({type(exc).__name__}: {exc})") from None
    return json.loads(data)


# -- freshness -------------------------------------------------------------------------------
class ReplayGuard:
    """Refuse a message seen before, or sent more than ``window`` seconds ago.

    ``check(msg_id, sent, now)`` returns None for a fresh message (and remembers its id), or
    the reason it is refused. Ids older than the window are forgotten: a copy that old is
    refused by its age, so the memory stays bounded.
    """

    def __init__(self, window: float) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0:
            raise ValueError(f"window must be a number of seconds > 0, got {window!r}")
        self.window = float(window)
        self.seen: dict[Any, float] = {}  # id -> when it was sent

    def check(self, msg_id: Any, sent: float, now: float) -> str | None:
        if now - sent > self.window:
            return f"too old: sent {now - sent:.3g} s ago, window {self.window:g} s"
        if msg_id in self.seen:
            return f"replayed: id {msg_id!r} was seen already"
        self.seen[msg_id] = sent
        for old in [i for i, s in self.seen.items() if now - s > self.window]:
            del self.seen[old]
        return None
