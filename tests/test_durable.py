"""The persistent queue on disk: confirmed messages survive a killed process."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqlab.durable import DiskQueue


def test_put_get_ack_and_reopen(tmp_path):
    with DiskQueue(tmp_path, fsync="never") as q:
        assert [q.put(p) for p in (b"raw", "text", {"n": 1}, [1, 2])] == [1, 2, 3, 4]
        first = q.get()
        assert first == (1, b"raw")
        q.ack(1)
        assert q.get() == (2, "text")  # handed out, not acked
    again = DiskQueue(tmp_path)
    assert again.recovery.messages == 4 and again.recovery.acked == 1
    assert again.recovery.pending == 3 and again.recovery.torn_bytes == 0
    # the unacked one handed out before the restart comes again, first
    assert [again.get() for _ in range(3)] == [(2, "text"), (3, {"n": 1}), (4, [1, 2])]
    assert again.get() is None and len(again) == 3
    assert again.put("next") == 5  # numbering goes on
    again.close()


def test_a_torn_last_record_is_detected_and_cut_off(tmp_path):
    with DiskQueue(tmp_path) as q:
        for i in range(5):
            q.put(f"m{i}")
    log = tmp_path / "messages.log"
    whole = log.stat().st_size
    with open(log, "ab") as f:  # a writer killed half-way through its next record
        f.write(b"\x00\x00\x00\x40\x12\x34")
    q = DiskQueue(tmp_path)
    assert q.recovery.messages == 5 and q.recovery.torn_bytes == 6
    assert log.stat().st_size == whole  # cut back to the last whole record
    assert "torn" in str(q.recovery)
    assert q.put("m5") == 6
    q.close()
    assert DiskQueue(tmp_path).recovery.messages == 6


def test_a_record_with_a_bad_checksum_is_not_read_as_a_message(tmp_path):
    with DiskQueue(tmp_path) as q:
        q.put("keep")
        q.put("flip")
    log = tmp_path / "messages.log"
    data = bytearray(log.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last record's payload
    log.write_bytes(bytes(data))
    q = DiskQueue(tmp_path)
    assert q.get() == (1, "keep") and q.get() is None and q.recovery.torn_bytes > 0
    q.close()


def test_compaction_keeps_exactly_the_pending_messages(tmp_path):
    q = DiskQueue(tmp_path, fsync="batch", batch=4)
    for i in range(20):
        q.put(i)
    for _ in range(15):
        seq, _ = q.get()
        q.ack(seq)
    size = (tmp_path / "messages.log").stat().st_size
    q.compact()
    assert (tmp_path / "messages.log").stat().st_size < size / 3
    q.put(20)
    q.close()
    again = DiskQueue(tmp_path)
    assert [again.get()[1] for _ in range(6)] == [15, 16, 17, 18, 19, 20]
    again.close()


def test_bad_input_names_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="fsync must be one of 'always', 'batch', 'never'"):
        DiskQueue(tmp_path, fsync="sometimes")
    with pytest.raises(ValueError, match="batch must be an int >= 1"):
        DiskQueue(tmp_path, fsync="batch", batch=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="path must be a folder"):
        DiskQueue(tmp_path / "file")
    with pytest.raises(TypeError, match="path must be a folder path"):
        DiskQueue(3)
    q = DiskQueue(tmp_path / "q")
    with pytest.raises(TypeError, match="payload must be bytes, a str or JSON"):
        q.put(object())
    with pytest.raises(ValueError, match="seq must be a message handed out by get"):
        q.ack(1)
    q.close()
    with pytest.raises(ValueError, match="the queue is closed"):
        q.put("late")


WRITER = textwrap.dedent("""
    import sys
    from mqlab.durable import DiskQueue
    q = DiskQueue(sys.argv[1], fsync=sys.argv[2])
    i = 0
    while True:
        seq = q.put({"i": i, "pad": "x" * (i % 700)})
        print(seq, flush=True)  # confirmed: put returned
        i += 1
""")


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_every_message_confirmed_before_a_sigkill_is_recovered_once(tmp_path, fsync):
    folder = tmp_path / "q"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), fsync],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    confirmed = []
    try:
        for line in child.stdout:
            confirmed.append(int(line))
            if len(confirmed) == 300:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: it is writing more as we kill it
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    q = DiskQueue(folder)
    got = []
    while (item := q.get()) is not None:
        got.append(item[0])
        assert item[1]["i"] == item[0] - 1
    assert set(confirmed) <= set(got)  # none confirmed is lost
    assert len(got) == len(set(got)) == got[-1]  # none twice, none missing before the last
    q.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["put", "get", "ack", "reopen", "tear"]), max_size=40))
def test_reopening_never_loses_or_repeats_an_unacked_message(tmp_path_factory, steps):
    folder = tmp_path_factory.mktemp("q")
    q = DiskQueue(folder, fsync="never")
    pending: dict[int, int] = {}  # seq -> payload, put and not acked (the model)
    out: list[int] = []
    n = 0
    for step in steps:
        if step == "put":
            pending[q.put(n)] = n
            n += 1
        elif step == "get":
            item = q.get()
            if item is not None:
                assert pending[item[0]] == item[1]
                out.append(item[0])
        elif step == "ack" and out:
            seq = out.pop(0)
            q.ack(seq)
            del pending[seq]
        elif step in ("reopen", "tear"):
            q.close()
            if step == "tear":
                with open(folder / "messages.log", "ab") as f:
                    f.write(b"\x00\x00")
            q = DiskQueue(folder, fsync="never")
            out = []
        assert len(q) == len(pending)
    seen = []
    while (item := q.get()) is not None:
        seen.append(item[0])
    assert sorted(seen) == sorted(set(pending) - set(out))
    q.close()
