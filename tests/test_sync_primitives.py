"""Traced locks, semaphores and conditions: real threads, recorded in the order things happened."""

import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab import state
from mqlab.realtime import (
    PRIMITIVE_KINDS,
    TracedCondition,
    TracedLock,
    TracedQueue,
    TracedSemaphore,
    graph_from_trace,
)

JOIN = 5.0  # seconds a test waits for its threads at most: a bug fails, it never hangs


def start(target, names, *args):
    threads = [threading.Thread(target=target, args=args, name=n, daemon=True) for n in names]
    for t in threads:
        t.start()
    return threads


def join(threads):
    for t in threads:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads), "a thread is still running"


def open_holds(trace, lock):
    """How many threads hold ``lock`` after each of its events, in trace order."""
    n, out = 0, []
    for e in trace.filter(peer=lock):
        n += {"acquire": 1, "release": -1}.get(e.kind, 0)
        out.append(n)
    return out


def per_thread(trace, lock):
    steps = {}
    for e in trace.filter(peer=lock):
        steps.setdefault(e.node, []).append(e.kind)
    return steps


# -- the lock ------------------------------------------------------------------------------------
def test_a_free_lock_is_taken_without_waiting():
    lock = TracedLock("db")
    with lock as got:
        assert got is True and lock.locked()
    assert not lock.locked()
    assert [(e.kind, e.msg, e.node, e.peer) for e in lock.trace] == [
        ("acquire", 1, "MainThread", "db"), ("release", 1, "MainThread", "db")]


def test_a_thread_that_finds_the_lock_taken_waits_then_gets_it():
    lock = TracedLock("db")
    lock.acquire()
    late = start(lock.acquire, ["late"])
    deadline = time.monotonic() + JOIN
    while "wait" not in lock.trace.column("kind") and time.monotonic() < deadline:
        time.sleep(0.001)
    lock.release()
    join(late)
    assert [(e.kind, e.node, e.msg) for e in lock.trace] == [
        ("acquire", "MainThread", 1), ("wait", "late", 2), ("release", "MainThread", 1),
        ("acquire", "late", 2)]


def test_a_timeout_and_a_non_blocking_try_are_recorded():
    lock = TracedLock("db")
    lock.acquire()
    result = []
    join(start(lambda: result.append((lock.acquire(timeout=0.01),
                                      lock.acquire(blocking=False))), ["impatient"]))
    assert result == [(False, False)]
    assert [(e.kind, e.info) for e in lock.trace.filter(node="impatient")] == [
        ("wait", ""), ("timeout", "give up"), ("wait", ""), ("timeout", "give up")]


def test_many_threads_one_holder_at_a_time_and_no_lost_update():
    lock, total = TracedLock("counter"), [0]

    def add():
        for _ in range(200):
            with lock:
                value = total[0]
                time.sleep(0)  # give the others every chance to get in between
                total[0] = value + 1

    join(start(add, [f"t{i}" for i in range(4)]))
    assert total[0] == 800
    assert set(open_holds(lock.trace, "counter")) <= {0, 1}
    kinds = lock.trace.column("kind")
    assert kinds.count("acquire") == kinds.count("release") == 800
    times = lock.trace.column("time")
    assert times == sorted(times)
    assert sorted(set(lock.trace.column("msg"))) == [1, 2, 3, 4]  # one number per thread


def test_releasing_a_free_lock_is_an_error_and_records_nothing():
    lock = TracedLock("db")
    with pytest.raises(RuntimeError, match="unlocked lock 'db'"):
        lock.release()
    assert len(lock.trace) == 0


# -- the semaphore -------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(value=st.integers(1, 3), workers=st.integers(1, 6), rounds=st.integers(1, 4))
def test_a_semaphore_never_has_more_holders_than_its_value(value, workers, rounds):
    pool = TracedSemaphore("printers", value=value)

    def use():
        for _ in range(rounds):
            with pool:
                time.sleep(0)

    join(start(use, [f"w{i}" for i in range(workers)]))
    holds = open_holds(pool.trace, "printers")
    assert max(holds) <= value and holds[-1] == 0
    for steps in per_thread(pool.trace, "printers").values():  # wait comes before its acquire
        assert [k for k in steps if k != "wait"] == ["acquire", "release"] * rounds
        for i, k in enumerate(steps):
            if k == "wait":
                assert steps[i + 1] == "acquire"


def test_semaphore_bad_input():
    with pytest.raises(ValueError, match="value must be a whole number"):
        TracedSemaphore("pool", value=-1)
    with pytest.raises(ValueError, match="value"):
        TracedSemaphore("pool", value=1.5)
    with pytest.raises(ValueError, match="n must be"):
        TracedSemaphore("pool").release(0)


# -- the condition -------------------------------------------------------------------------------
def test_notify_wakes_the_longest_waiting_threads_and_says_how_many():
    cond = TracedCondition("ready")
    woke = []

    def waiter():
        with cond:
            if cond.wait(timeout=JOIN):
                woke.append(threading.current_thread().name)

    threads = []
    for name in ("first", "second", "third"):  # one at a time, so their order is known
        threads += start(waiter, [name])
        deadline = time.monotonic() + JOIN
        while cond.trace.column("info").count("notify") < len(threads):
            assert time.monotonic() < deadline
            time.sleep(0.001)
    with cond:
        assert cond.notify(2) == 2
    deadline = time.monotonic() + JOIN
    while len(woke) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sorted(woke) == ["first", "second"]
    with cond:
        assert cond.notify_all() == 1
    join(threads)
    notes = cond.trace.filter(kind="notify")
    assert [(e.node, e.info) for e in notes] == [("MainThread", "2"), ("MainThread", "1")]
    state_after = state.Timeline(cond.mark_end()).at(cond.trace.duration)
    assert state_after.queues["ready"] == [] and state_after.holders["ready"] == []


def test_waiting_lets_go_of_the_lock_and_takes_it_back():
    cond = TracedCondition("ready")
    with cond:
        assert cond.wait(0.01) is False
        assert cond.lock.locked()
    assert [(e.kind, e.info) for e in cond.trace] == [
        ("acquire", ""), ("wait", "notify"), ("release", "wait"),
        ("timeout", "retake the lock"), ("acquire", ""), ("release", "")]


def test_wait_and_notify_need_the_lock():
    cond = TracedCondition("ready")
    with pytest.raises(RuntimeError, match="without holding its lock"):
        cond.wait(0.01)
    with pytest.raises(RuntimeError, match="without holding its lock"):
        cond.notify()
    assert len(cond.trace) == 0


def test_conditions_can_share_one_lock():
    lock = TracedLock("buffer")
    not_full = TracedCondition("not_full", lock=lock)
    not_empty = TracedCondition("not_empty", lock=lock)
    assert not_full.trace is lock.trace is not_empty.trace
    with not_empty:
        not_empty.wait(0.001)
        not_full.notify()
    g = graph_from_trace(lock.trace)
    assert {n: g.nodes[n]["kind"] for n in ("buffer", "not_empty", "not_full")} == {
        "buffer": "lock", "not_empty": "condition", "not_full": "condition"}
    assert lock.trace.filter(peer="buffer").column("kind") == [
        "acquire", "release", "acquire", "release"]


def test_condition_bad_input():
    with pytest.raises(TypeError, match="lock must be a TracedLock"):
        TracedCondition("c", lock=threading.Lock())
    with pytest.raises(ValueError, match="another trace"):
        TracedCondition("c", trace=mq.Trace(), lock=TracedLock("l"))


def test_wait_timeout_must_be_a_number():
    cond = TracedCondition("c")
    with cond, pytest.raises(TypeError, match="timeout"):
        cond.wait("1")
    with pytest.raises(ValueError, match="n must be"):
        with cond:
            cond.notify(-1)


@pytest.mark.parametrize(("maker", "problem", "error"), [
    (lambda: TracedLock(""), "name", TypeError),
    (lambda: TracedLock("x", trace=[]), "trace", TypeError),
    (lambda: TracedLock("x").acquire(blocking="yes"), "blocking", TypeError),
    (lambda: TracedLock("x").acquire(timeout="1"), "timeout", TypeError),
    (lambda: TracedLock("x").acquire(False, 1.0), "non-blocking", ValueError),
    (lambda: TracedLock("x").acquire(timeout=-2), "timeout", ValueError),
    (lambda: TracedSemaphore("x").acquire(timeout=-2), "timeout", ValueError),
])
def test_bad_input_names_the_parameter(maker, problem, error):
    with pytest.raises(error, match=problem):
        maker()


# -- a bounded buffer on a condition, the pictures, the run ------------------------------------
def bounded_buffer_run(capacity=2, items=30, producers=3, consumers=2):
    trace = mq.Trace()
    lock = TracedLock("buffer", trace)
    not_full = TracedCondition("not_full", lock=lock)
    not_empty = TracedCondition("not_empty", lock=lock)
    buf, got, stop = [], [], object()

    def produce(start_at):
        for i in range(start_at, items, producers):
            with not_full:
                not_full.wait_for(lambda: len(buf) < capacity)
                buf.append(i)
                assert len(buf) <= capacity
                not_empty.notify()

    def consume():
        while True:
            with not_empty:
                not_empty.wait_for(lambda: buf)
                item = buf.pop(0)
                not_full.notify()
            if item is stop:
                return
            got.append(item)

    ps = [threading.Thread(target=produce, args=(k,), name=f"producer-{k}", daemon=True)
          for k in range(producers)]
    cs = start(consume, [f"consumer-{k}" for k in range(consumers)])
    for t in ps:
        t.start()
    join(ps)
    for _ in cs:
        with not_full:
            not_full.wait_for(lambda: len(buf) < capacity)
            buf.append(stop)
            not_empty.notify()
    join(cs)
    return trace, got


def test_a_bounded_buffer_on_conditions_loses_and_duplicates_nothing():
    trace, got = bounded_buffer_run()
    assert sorted(got) == list(range(30))
    assert set(open_holds(trace, "buffer")) <= {0, 1}
    assert "wait" in trace.column("kind") and "notify" in trace.column("kind")


def test_the_timeline_and_the_scene_show_waiting_threads_and_the_holder():
    trace, _ = bounded_buffer_run()
    run = mq.Run.from_trace(trace)
    tl = state.Timeline(run)
    assert set(tl.primitives) == {"buffer", "not_full", "not_empty"}
    for t in [e.time for e in trace][::7]:
        s = tl.at(t)
        assert len(s.holders["buffer"]) <= 1
        assert all(len(s.holders[c]) == 0 for c in ("not_full", "not_empty"))
    # at the moment a thread acquires the lock it is its holder and waits no longer
    for e in trace.filter(kind="acquire", peer="buffer"):
        s = tl.at(e.time)
        assert s.holders["buffer"] == [e.node] and e.msg not in s.queues["buffer"]
    end = tl.at(trace.duration)
    assert all(not v for v in end.queues.values()) and all(not v for v in end.holders.values())
    assert run.summary().balanced
    from mqlab.scene import Scene

    scene = Scene(run, metrics=True)
    scene.image(trace.duration / 2)
    assert scene.main_queues() == []  # locks are not message queues: no chart for them


def test_locks_and_a_queue_in_one_run_and_its_graph():
    trace = mq.Trace()
    jobs = TracedQueue("orders", trace=trace)
    db = TracedSemaphore("db", trace, value=2)

    def work():
        while (msg := jobs.get()) is not None:
            with db:
                time.sleep(0.001)
            jobs.ack(msg)

    workers = start(work, ["w1", "w2", "w3"])
    for i in range(9):
        jobs.put(i)
    for _ in workers:
        jobs.put(None)
    join(workers)
    jobs.mark_end()
    g = trace.graph
    assert g.nodes["db"] == {"role": "queue", "broker": None, "capacity": None,
                             "overflow": None, "kind": "semaphore", "value": 2}
    assert {("db", w) for w in ("w1", "w2", "w3") if ("orders", w) in g.edges} <= set(g.edges)
    assert all(g.edges[e]["kind"] == "sync" for e in g.out_edges("db"))
    assert max(open_holds(trace, "db")) <= 2
    s = mq.Run.from_trace(trace).summary()
    assert s.balanced and s.account.acked == 9
    assert metrics_account_ignores_threads(trace)


def metrics_account_ignores_threads(trace):
    a = mq.metrics.account(trace)
    return a.published == 9 and a.in_system == 0


def test_a_producer_thread_using_a_lock_points_into_it():
    t = mq.Trace([(0.0, "publish", 1, "main", "jobs"), (0.0, "enqueue", 1, "jobs"),
                  (0.1, "acquire", 1, "main", "log"), (0.2, "release", 1, "main", "log")])
    g = graph_from_trace(t)
    assert g.has_edge("main", "log") and g.nodes["main"]["role"] == "producer"
    assert g.nodes["log"]["kind"] == "lock"


def test_the_kinds_agree_between_realtime_and_state():
    assert PRIMITIVE_KINDS == state.PRIMITIVE_KINDS


def test_sync_primitives_are_public_and_load_lazily():
    for name in ("TracedLock", "TracedSemaphore", "TracedCondition"):
        assert name in mq.__all__ and getattr(mq, name).__module__ == "mqlab.realtime"
    code = "import sys, mqlab; print('mqlab.realtime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
