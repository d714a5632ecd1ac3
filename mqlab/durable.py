"""A persistent queue on disk: an append-only log that survives its process being killed.

A broker that promises not to lose a confirmed message must have written it somewhere that
outlives the process before it says "confirmed". :class:`DiskQueue` does that the simplest way
that works: every message is appended to a log file, every acknowledgement to a second one, and
opening the queue again reads both back: what was put and not acked is still there.

Each record on disk is ``length (4 bytes) | CRC-32 (4 bytes) | body``; the body of a message is
its sequence number (8 bytes), a type byte and the payload. A process killed in the middle of a
write leaves a *torn* last record: too short, or with a CRC that does not match. Opening the
queue detects it, cuts the file back to the last whole record and says so (``recovery``): a
message whose ``put`` had not returned was never confirmed, so dropping its half is right.

When ``put`` returns, the record has been handed to the operating system (a plain ``write``,
no buffering in this process), so it survives the *process* being killed. Whether it survives
the *machine* losing power depends on ``fsync``, the policy for forcing it onto the disk:

- ``"always"``: ``os.fsync`` after every put and ack. Nothing confirmed is ever lost; the
  slowest (each put waits for the disk).
- ``"batch"``: ``os.fsync`` after every ``batch`` writes (and on close). A power cut loses at most
  the last ``batch - 1`` confirmed writes; much faster.
- ``"never"``: the operating system writes back when it likes (seconds later). Fast, and safe
  against a crash of the process, not of the machine.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> q = DiskQueue(folder, fsync="never")
>>> q.put({"order": 1}), q.put("two")
(1, 2)
>>> seq, payload = q.get()
>>> q.ack(seq); q.close()
>>> again = DiskQueue(folder)           # what a restarted process sees
>>> again.get(), len(again)
((2, 'two'), 1)
>>> again.close()
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FSYNC_POLICIES", "DiskQueue", "Recovery"]

FSYNC_POLICIES = ("always", "batch", "never")
_HEAD = struct.Struct(">II")  # length of the body, CRC-32 of the body
_SEQ = struct.Struct(">Q")
_KINDS = {b"b": "bytes", b"s": "str", b"j": "json"}


@dataclass(frozen=True)
class Recovery:
    """What opening a queue found on disk."""

    messages: int  # whole message records read
    acked: int  # of those, acknowledged
    pending: int  # put and not acked: delivered again
    torn_bytes: int  # bytes of a torn last record cut off (messages and acks files together)

    def __str__(self) -> str:
        torn = f", cut off a torn last record ({self.torn_bytes} bytes)" if self.torn_bytes else ""
        return (f"recovered {self.messages} messages: {self.acked} acked, "
                f"{self.pending} pending{torn}")


def _encode(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return b"b" + payload
    if isinstance(payload, str):
        return b"s" + payload.encode("utf-8")
    try:
        return b"j" + json.dumps(payload, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"payload must be bytes, a str or JSON-serialisable (dict, list, "
                        f"number...), got {type(payload).__name__}: {exc}") from None


def _decode(data: bytes) -> Any:
    kind, body = data[:1], data[1:]
    if kind == b"b":
        return bytes(body)
    if kind == b"s":
        return body.decode("utf-8")
    return json.loads(body)


def _read_records(path: Path) -> tuple[list[bytes], int]:
    """The whole records of a log file, and how many bytes after them are torn (cut off)."""
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records, at = [], 0
    while at + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, at)
        body = data[at + _HEAD.size: at + _HEAD.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        records.append(body)
        at += _HEAD.size + length
    torn = len(data) - at
    if torn:
        with open(path, "r+b") as f:  # cut the torn record off, so new records follow whole ones
            f.truncate(at)
            f.flush()
            os.fsync(f.fileno())
    return records, torn


class DiskQueue:
    """A FIFO queue kept in folder ``path`` (created if needed): ``put`` appends, ``get`` hands
    out the oldest message not yet handed out, ``ack`` removes it for good. Messages handed
    out and not acked when the process stops are pending again when the queue is opened
    again (at-least-once). See the module's docstring for ``fsync``; ``batch``: writes per
    fsync with ``fsync="batch"``.
    """

    def __init__(self, path: str | os.PathLike, fsync: str = "always", batch: int = 32) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder path (str or Path), got {path!r}")
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(map(repr, FSYNC_POLICIES))}, "
                             f"got {fsync!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        self.path, self.fsync, self.batch = Path(path), fsync, batch
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"path must be a folder (the queue keeps two files in it), "
                             f"got the file {str(self.path)!r}")
        self.path.mkdir(parents=True, exist_ok=True)
        bodies, torn = _read_records(self.path / "messages.log")
        ack_bodies, ack_torn = _read_records(self.path / "acks.log")
        acked = {_SEQ.unpack(b)[0] for b in ack_bodies if len(b) == _SEQ.size}
        self._pending: OrderedDict[int, bytes] = OrderedDict()  # seq -> encoded payload
        last = 0
        for body in bodies:
            seq = _SEQ.unpack_from(body)[0]
            last = max(last, seq)
            if seq not in acked:
                self._pending[seq] = body[_SEQ.size:]
        self._next = last + 1
        self._out: set[int] = set()  # handed out by get(), not yet acked
        self.recovery = Recovery(len(bodies), len(bodies) - len(self._pending),
                                 len(self._pending), torn + ack_torn)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._messages = os.open(self.path / "messages.log", flags, 0o644)
        self._acks = os.open(self.path / "acks.log", flags, 0o644)
        self._unsynced = 0
        self._closed = False

    # -- writing -------------------------------------------------------------------------------
    def _append(self, fd: int, body: bytes) -> None:
        if self._closed:
            raise ValueError("the queue is closed: open it again with DiskQueue(path)")
        record = _HEAD.pack(len(body), zlib.crc32(body)) + body
        written = os.write(fd, record)
        while written < len(record):  # a short write: go on with the rest
            written += os.write(fd, record[written:])
        if self.fsync == "always":
            os.fsync(fd)
        elif self.fsync == "batch":
            self._unsynced += 1
            if self._unsynced >= self.batch:
                self.sync()

    def put(self, payload: Any) -> int:
        """Append ``payload`` (bytes, a str or JSON-serialisable); return its sequence number
        once it is written, synced as the ``fsync`` policy says: the message is confirmed."""
        encoded = _encode(payload)
        seq = self._next
        self._append(self._messages, _SEQ.pack(seq) + encoded)
        self._next += 1
        self._pending[seq] = encoded
        return seq

    def ack(self, seq: int) -> None:
        """Acknowledge message ``seq`` (from ``get``): it is gone for good."""
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise TypeError(f"seq must be the int get() returned, got {seq!r}")
        if seq not in self._out:
            raise ValueError(f"seq must be a message handed out by get() and not yet acked, "
                             f"got {seq}")
        self._append(self._acks, _SEQ.pack(seq))
        self._out.discard(seq)
        del self._pending[seq]

    def sync(self) -> None:
        """Force what was written onto the disk now (``os.fsync`` of both files)."""
        os.fsync(self._messages)
        os.fsync(self._acks)
        self._unsynced = 0

    # -- reading -------------------------------------------------------------------------------
    def get(self) -> tuple[int, Any] | None:
        """The oldest message not yet handed out, as ``(seq, payload)``; None if there is none.
        It stays in the queue until ``ack(seq)``."""
        for seq, encoded in self._pending.items():
            if seq not in self._out:
                self._out.add(seq)
                return seq, _decode(encoded)
        return None

    def __len__(self) -> int:
        """Messages put and not yet acked (handed out or not)."""
        return len(self._pending)

    # -- housekeeping --------------------------------------------------------------------------
    def compact(self) -> None:
        """Rewrite the files with only the pending messages (the log otherwise grows for ever).
        The new file is written, synced and renamed over the old one, so a crash during
        compaction leaves either the old files or the new ones, never half of each."""
        self.sync()
        fresh = self.path / "messages.log.new"
        with open(fresh, "wb") as f:
            for seq, encoded in self._pending.items():
                body = _SEQ.pack(seq) + encoded
                f.write(_HEAD.pack(len(body), zlib.crc32(body)) + body)
            f.flush()
            os.fsync(f.fileno())
        os.close(self._messages)
        os.close(self._acks)
        os.replace(fresh, self.path / "messages.log")
        # the acks of what is gone are not needed: an empty acks file, then the new messages
        (self.path / "acks.log").write_bytes(b"")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._messages = os.open(self.path / "messages.log", flags, 0o644)
        self._acks = os.open(self.path / "acks.log", flags, 0o644)
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself is on disk
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        if self._closed:
            return
        self.sync()
        os.close(self._messages)
        os.close(self._acks)
        self._closed = True

    def __enter__(self) -> DiskQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<DiskQueue {str(self.path)!r}: {len(self)} pending, fsync={self.fsync!r}"
                f"{' (closed)' if self._closed else ''}>")
