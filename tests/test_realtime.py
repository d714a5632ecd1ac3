"""Traced queues: real threads and tasks leave the same Trace a simulation does."""

import asyncio
import queue
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from mqlab import Message, Trace, metrics
from mqlab.realtime import TracedAsyncQueue, TracedQueue, graph_from_trace

PRODUCERS = 2
PER_PRODUCER = 20  # messages each producer puts
CONSUMERS = 2
MAXSIZE = 3  # the queue's bound: producers wait when it is full


def producer_names():
    return [f"producer-{i}" for i in range(1, PRODUCERS + 1)]


def consumer_names():
    return [f"consumer-{i}" for i in range(1, CONSUMERS + 1)]


def check_clean_run(trace: Trace) -> None:
    """Every message went in, out and was acked exactly once, as the trace tells it."""
    n = PRODUCERS * PER_PRODUCER
    ids = list(range(1, n + 1))
    for kind in ("publish", "enqueue", "deliver", "start", "ack"):
        assert sorted(trace.filter(kind=kind).column("msg")) == ids, kind
    publishers = Counter(trace.filter(kind="publish").column("node"))
    assert publishers == {p: PER_PRODUCER for p in producer_names()}
    delivered_to = {e.msg: e.peer for e in trace.filter(kind="deliver")}
    assert set(delivered_to.values()) <= set(consumer_names())
    assert all(delivered_to[e.msg] == e.node and e.peer == "jobs"
               for e in trace.filter(kind="ack"))  # acked by the consumer that got it

    steps = {}  # each message's events, in trace order
    for e in trace:
        steps.setdefault(e.msg, []).append(e.kind)
    assert all([k for k in kinds if k != "block"] == ["publish", "enqueue", "deliver", "start",
                                                      "ack"] for kinds in steps.values())

    times = trace.column("time")
    assert times == sorted(times)
    assert trace.rows == trace.sorted().rows
    assert trace.end_time >= times[-1]

    _, lengths = metrics.queue_length(trace, "jobs")
    assert 0 <= min(lengths) and max(lengths) <= MAXSIZE and lengths[-1] == 0
    account = metrics.account(trace)
    assert (account.published, account.acked, account.in_system) == (n, n, 0)
    assert len(metrics.latencies(trace)) == n
    assert metrics.system_throughput(trace) == pytest.approx(n / trace.duration)

    # a consumer that never got a message (it can happen, when the other is quicker) is not
    # part of the network that was seen
    served = sorted(set(delivered_to.values()))
    roles = dict(trace.graph.nodes(data="role"))
    assert roles == {**dict.fromkeys(producer_names(), "producer"), "jobs": "queue",
                     **dict.fromkeys(served, "consumer")}
    assert trace.graph.nodes["jobs"]["capacity"] == MAXSIZE
    assert set(trace.graph.edges) == ({(p, "jobs") for p in producer_names()}
                                      | {("jobs", c) for c in served})


# -- threads -----------------------------------------------------------------------------------
@pytest.fixture
def busy_switching():
    """Let threads take turns far more often than usual, so that races show up in tests."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(finish: str, work: float = 0.0005) -> TracedQueue:
    """Producers put plain payloads; consumers get, work ``work`` s, and say done with
    ``finish``. Slow consumers keep the queue full, fast ones keep it empty."""

    def produce(q):
        for i in range(PER_PRODUCER):
            q.put(f"{threading.current_thread().name} job {i}")

    def consume(q):
        while (msg := q.get()) is not None:  # None: the sentinel
            assert msg.payload.split()[1] == "job"
            time.sleep(work)
            q.ack(msg) if finish == "ack" else q.task_done()
        q.task_done()  # for the sentinel, so that join() returns

    with TracedQueue("jobs", maxsize=MAXSIZE) as q:
        producers = [threading.Thread(target=produce, args=(q,), name=n)
                     for n in producer_names()]
        consumers = [threading.Thread(target=consume, args=(q,), name=n)
                     for n in consumer_names()]
        for t in consumers + producers:
            t.start()
        for t in producers:
            t.join()
        for _ in consumers:
            q.put(None)
        q.join()  # returns only if every message and sentinel was marked done
        for t in consumers:
            t.join()
    return q


def test_threads_every_message_enqueued_delivered_acked_once(busy_switching):
    q = run_threads(finish="ack")
    check_clean_run(q.trace)
    assert "block" in q.trace.column("kind")  # the bound was felt: producers had to wait
    assert set(q.trace.graph.successors("jobs")) == set(consumer_names())  # both worked


@pytest.mark.parametrize("work", [0.0, 0.0001])
def test_threads_races_leave_no_mark_in_the_trace(busy_switching, work):
    # consumers that wait on an empty queue, or race producers for a full one: the trace
    # must still tell each message's steps in order and never count past the bound
    for _ in range(10):
        check_clean_run(run_threads(finish="ack", work=work).trace)


def test_task_done_acks_the_message_the_thread_holds(busy_switching):
    check_clean_run(run_threads(finish="task_done").trace)


def test_each_message_steps_in_order():
    trace = run_threads(finish="ack").trace
    for m in (1, 17, 40):
        kinds = [k for k in trace.filter(msg=m).column("kind") if k != "block"]
        assert kinds == ["publish", "enqueue", "deliver", "start", "ack"]
        msg = trace.messages[m]
        assert msg.sent <= msg.enqueued <= msg.delivered


def test_a_producer_that_finds_the_queue_full_blocks_until_there_is_room():
    q = TracedQueue("jobs", maxsize=1)
    q.put("first")
    late = threading.Thread(target=q.put, args=("second",), name="late")
    late.start()
    deadline = time.monotonic() + 1.0
    while "block" not in q.trace.column("kind") and time.monotonic() < deadline:
        time.sleep(0.001)
    assert q.trace.filter(kind="enqueue").column("msg") == [1]  # 2 is still waiting
    assert q.get().payload == "first"
    late.join(timeout=1.0)
    assert [k for k in q.trace.filter(msg=2).column("kind")] == ["publish", "block", "enqueue"]
    assert q.get().payload == "second"


def test_put_nowait_on_a_full_queue_is_a_recorded_rejection():
    q = TracedQueue("jobs", maxsize=1)
    q.put("a")
    with pytest.raises(queue.Full):
        q.put_nowait("b")
    assert q.trace.filter(msg=2).column("kind") == ["publish", "drop"]
    assert q.trace[-1].info == "rejected"
    account = metrics.account(q.trace)
    assert (account.published, account.dropped, account.in_system) == (2, {"rejected": 1}, 1)


def test_messages_keep_their_identity_and_get_numbered():
    q = TracedQueue("jobs")
    mine = Message("hot", priority=5)
    q.put(mine)
    q.put(Message("tagged", id=100))
    got = q.get()
    assert got is mine and (got.id, got.source, got.routing_key) == (1, "MainThread", "jobs")
    assert q.get().id == 100
    assert q.trace.messages[1] is mine
    q.put("plain")
    assert q.get().id == 101  # numbering goes on after the highest id seen


def test_acking_twice_or_an_unknown_message_is_an_error():
    q = TracedQueue("jobs")
    q.put("a")
    msg = q.get()
    q.ack(msg)
    with pytest.raises(ValueError, match="not waiting for an ack"):
        q.ack(msg)
    with pytest.raises(ValueError, match="message 7"):
        q.ack(7)
    assert q.trace.column("kind").count("ack") == 1


def test_a_custom_sentinel_is_not_a_message():
    stop = object()
    q = TracedQueue("jobs", sentinel=stop)
    q.put(None)  # None is an ordinary payload now
    q.put(stop)
    assert q.get().payload is None
    assert q.get() is stop
    assert q.trace.filter(kind="publish").column("msg") == [1]


def test_two_queues_sharing_a_trace_record_a_pipeline():
    raw = TracedQueue("raw")
    clean = TracedQueue("clean", trace=raw.trace)

    def stage():
        while (msg := raw.get()) is not None:
            clean.put(msg.payload.upper())
            raw.ack(msg)

    worker = threading.Thread(target=stage, name="cleaner")
    worker.start()
    for word in ("a", "b"):
        raw.put(word)
    raw.put(None)
    worker.join()
    assert [clean.get().payload for _ in range(2)] == ["A", "B"]
    trace = raw.mark_end()
    assert sorted(trace.filter(kind="publish").column("msg")) == [1, 2, 3, 4]  # never reused
    roles = dict(trace.graph.nodes(data="role"))
    # the main thread feeds raw and reads clean: a node that consumes counts as a consumer
    assert roles == {"MainThread": "consumer", "raw": "queue", "clean": "queue",
                     "cleaner": "consumer"}
    assert trace.graph.has_edge("cleaner", "clean") and trace.graph.has_edge("raw", "cleaner")


def test_graph_from_a_trace_recorded_elsewhere():
    t = Trace([(0.0, "publish", 1, "main", "jobs", ""), (0.0, "enqueue", 1, "jobs", "", ""),
               (0.1, "deliver", 1, "jobs", "w", "")])
    g = graph_from_trace(t, {"jobs": 3})
    assert dict(g.nodes(data="role")) == {"main": "producer", "jobs": "queue", "w": "consumer"}
    assert g.nodes["jobs"]["capacity"] == 3 and g.nodes["w"]["queue"] == "jobs"


def test_realtime_does_not_load_matplotlib():
    code = "import sys, mqlab.realtime; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- asyncio -----------------------------------------------------------------------------------
async def run_tasks() -> TracedAsyncQueue:
    async def produce(q):
        for i in range(PER_PRODUCER):
            await q.put(i)  # gives way to the other tasks only when the queue is full

    async def consume(q):
        while (msg := await q.get()) is not None:
            await asyncio.sleep(0)  # the work
            q.ack(msg)
        q.task_done()

    with TracedAsyncQueue("jobs", maxsize=MAXSIZE) as q:
        consumers = [asyncio.create_task(consume(q), name=n) for n in consumer_names()]
        producers = [asyncio.create_task(produce(q), name=n) for n in producer_names()]
        await asyncio.gather(*producers)
        for _ in consumers:
            await q.put(None)
        await q.join()
        await asyncio.gather(*consumers)
    return q


def test_asyncio_every_message_enqueued_delivered_acked_once():
    q = asyncio.run(run_tasks())
    check_clean_run(q.trace)
    assert "block" in q.trace.column("kind")


def test_asyncio_put_nowait_and_a_cancelled_put_are_recorded_drops():
    async def scenario():
        q = TracedAsyncQueue("jobs", maxsize=1)
        await q.put("a")
        with pytest.raises(asyncio.QueueFull):
            q.put_nowait("b")
        waiting = asyncio.create_task(q.put("c"), name="impatient")
        await asyncio.sleep(0)  # it publishes, finds the queue full and waits
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return q.trace

    trace = asyncio.run(scenario())
    assert [(e.msg, e.kind, e.info) for e in trace.filter(kind="drop")] == [
        (2, "drop", "rejected"), (3, "drop", "cancelled")]
    assert trace.filter(msg=3).column("node")[0] == "impatient"
    assert metrics.account(trace).in_system == 1  # only "a", still in the queue


def test_asyncio_queue_outside_a_running_loop_names_the_thread():
    q = TracedAsyncQueue("jobs")
    q.put_nowait("a")
    assert q.get_nowait().source == "MainThread"
    q.task_done()
    assert q.trace.filter(kind="ack")[0].node == "MainThread"


# -- a real run as a Run: summary and Player ---------------------------------------------------
def test_run_from_trace_of_threads_is_balanced_and_plays(busy_switching):
    from mqlab import Run

    q = run_threads(finish="ack")
    run = Run.from_trace(q.trace)
    summary = run.summary()
    assert summary.balanced and summary.account.acked == PRODUCERS * PER_PRODUCER
    assert run.play(frames=5) is not None


def test_run_from_trace_counts_what_is_left_where_it_is():
    from mqlab import Run

    q = TracedQueue("jobs", maxsize=2)
    for text in "abc":  # "c" finds the queue full and gives up after its timeout
        try:
            q.put(text, timeout=0.01)
        except queue.Full:
            pass
    held = q.get()  # the main thread holds "a", unacked
    trace = q.mark_end()
    s = Run.from_trace(trace).summary()
    assert s.balanced, s.text()
    assert (sum(s.still["queued"].values()), sum(s.still["at_consumers"].values())) == (1, 1)
    assert s.account.dropped == {"rejected": 1}
    q.ack(held)


def test_run_from_trace_without_a_graph_reads_one_and_leaves_the_trace_alone():
    from mqlab import Run

    t = Trace([(0.0, "publish", 1, "main", "jobs"), (0.0, "enqueue", 1, "jobs"),
               (0.1, "deliver", 1, "jobs", "w"), (0.1, "start", 1, "w"),
               (0.3, "ack", 1, "w", "jobs")])
    run = Run.from_trace(t)
    assert t.graph is None and run.trace.graph is not None
    assert run.summary().balanced and run.summary().account.acked == 1
    with pytest.raises(TypeError, match="Trace"):
        Run.from_trace([])
