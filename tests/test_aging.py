"""Priority aging and lowest-priority eviction (drop-lowest): standalone and simulated.

Aging: a waiting message's priority grows by ``aging`` per second, capped at ``max_priority``;
higher effective priority first, FIFO among equals. Drop-lowest: a full queue takes the new
message and drops the tail, the message that would be delivered last.
"""

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab import FifoQueue, Message, PriorityQueue, SortedQueue
from mqlab.queues import OVERFLOW_POLICIES


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def payloads(q):
    return [m.payload for m in q]


# -- aging on a standalone queue ------------------------------------------------------------------
def test_an_old_low_priority_message_overtakes_a_new_high_one():
    clock = Clock()
    q = PriorityQueue(aging=1.0, clock=clock)
    q.put(Message("low", priority=1))
    clock.t = 3.0  # low counts as 1 + 3 = 4 now
    q.put(Message("high", priority=3))
    assert payloads(q) == ["low", "high"]
    assert [(m.payload, p) for m, p in q.effective_priorities()] == [("low", 4.0), ("high", 3.0)]


def test_before_it_has_aged_enough_the_high_priority_still_goes_first():
    clock = Clock()
    q = PriorityQueue(aging=0.5, clock=clock)
    q.put(Message("low", priority=1))
    clock.t = 2.0  # low counts as 2
    q.put(Message("high", priority=3))
    assert q.get().payload == "high"
    clock.t = 10.0
    assert q.get().payload == "low"


def test_equal_effective_priorities_leave_in_arrival_order():
    clock = Clock()
    q = PriorityQueue(aging=1.0, clock=clock)
    q.put(Message("first: 1 at t=0", priority=1))
    clock.t = 1.0
    q.put(Message("second: 2 at t=1", priority=2))  # both count as 2 now, 3 at t=2
    clock.t = 2.0
    assert [p for _, p in q.effective_priorities()] == [3.0, 3.0]
    assert [q.get().payload for _ in range(2)] == ["first: 1 at t=0", "second: 2 at t=1"]


def test_aged_priority_stops_at_max_priority_and_capped_messages_are_fifo():
    clock = Clock()
    q = PriorityQueue(max_priority=5, aging=1.0, clock=clock)
    q.put(Message("a0", priority=0))  # reaches 5 at t=5
    clock.t = 1.0
    q.put(Message("b4", priority=4))  # reaches 5 at t=2
    q.put(Message("c9", priority=9))  # counts as 5 at once
    clock.t = 100.0
    # all three count as 5: arrival order, whatever order they reached the cap in
    assert [(m.payload, p) for m, p in q.effective_priorities()] == [
        ("a0", 5.0), ("b4", 5.0), ("c9", 5.0)]
    q.put(Message("d5", priority=5))
    assert [q.get().payload for _ in range(4)] == ["a0", "b4", "c9", "d5"]


def test_a_message_that_reached_the_cap_goes_ahead_of_one_still_below_it():
    clock = Clock()
    q = PriorityQueue(max_priority=3, aging=1.0, clock=clock)
    q.put(Message("old", priority=0))  # reaches 3 at t=3
    clock.t = 2.5
    q.put(Message("new", priority=2))  # 2.5 at t=3 ... reaches 3 at t=3.5
    clock.t = 3.0
    assert payloads(q) == ["old", "new"]
    assert q.peek().payload == "old"


def test_aging_stamps_the_enqueue_time_and_a_requeue_keeps_the_age():
    clock = Clock(10.0)
    q = PriorityQueue(aging=1.0, clock=clock)
    low = Message("low", priority=0)
    q.put(low)
    assert low.enqueued == 10.0
    clock.t = 12.0
    taken = q.get()
    clock.t = 13.0
    q.put(Message("high", priority=2))  # counts as 2; low, from t=10, counts as 3 at t=13
    q.requeue(taken)
    assert payloads(q) == ["low", "high"]
    assert low.enqueued == 10.0


def test_a_requeued_message_goes_ahead_of_its_equals():
    clock = Clock()
    q = PriorityQueue(aging=1.0, clock=clock)
    q.put(Message("a", priority=1))
    q.put(Message("b", priority=1))
    first = q.get()
    q.requeue(first)
    assert payloads(q) == ["a", "b"]


def test_without_aging_the_clock_is_never_read():
    def clock():
        raise AssertionError("read")

    q = PriorityQueue()
    q.put(Message("x", priority=1))
    assert q.get().payload == "x" and q.aging is None
    with pytest.raises(ValueError, match="clock only applies with aging"):
        PriorityQueue(clock=clock)


def test_the_default_clock_is_time_monotonic():
    import time

    q = PriorityQueue(aging=1.0)
    assert q.clock is time.monotonic
    q.put(Message("x", priority=1))
    assert q.get().payload == "x"


def test_fifo_queues_have_no_aging_at_all():
    assert not hasattr(FifoQueue(), "aging")
    with pytest.raises(TypeError):
        FifoQueue(aging=1.0)


# -- drop-lowest ----------------------------------------------------------------------------------
def test_drop_lowest_in_a_priority_queue_drops_the_lowest_newest_among_equals():
    q = PriorityQueue(capacity=3, overflow="drop-lowest")
    for name, p in [("low-old", 1), ("high", 9), ("low-new", 1)]:
        q.put(Message(name, priority=p))
    dropped = q.put(Message("mid", priority=5))
    assert dropped.payload == "low-new"
    assert payloads(q) == ["high", "mid", "low-old"]
    assert q.stats().drops == {"overflow": 1}


def test_drop_lowest_drops_the_new_message_when_it_is_the_lowest():
    q = PriorityQueue(capacity=2, overflow="drop-lowest")
    q.put(Message("a", priority=3))
    q.put(Message("b", priority=3))
    new = Message("c", priority=3)  # equal: the newest is the tail
    assert q.put(new) is new
    assert payloads(q) == ["a", "b"]


def test_drop_lowest_in_a_sorted_queue_drops_the_latest_deadline():
    q = SortedQueue(key=lambda m: m.headers["deadline"], capacity=3, overflow="drop-lowest")
    for d in [20, 5, 30]:
        q.put(Message(f"d{d}", headers={"deadline": d}))
    dropped = q.put(Message("d10", headers={"deadline": 10}))
    assert dropped.payload == "d30"
    assert payloads(q) == ["d5", "d10", "d20"]
    assert q.cancel(dropped.id) is None  # not left behind in the index


def test_drop_head_and_drop_lowest_drop_opposite_ends():
    def full(policy):
        q = SortedQueue(key=lambda m: m.headers["deadline"], capacity=3, overflow=policy)
        for d in [1, 2, 3]:
            q.put(Message(f"d{d}", headers={"deadline": d}))
        return q

    assert full("drop-head").put(Message("d4", headers={"deadline": 4})).payload == "d1"
    assert full("drop-lowest").put(Message("d0", headers={"deadline": 0})).payload == "d3"


def test_drop_lowest_in_a_fifo_queue_drops_the_new_message():
    q = FifoQueue(capacity=2, overflow="drop-lowest")
    q.put(Message("a"))
    q.put(Message("b"))
    new = Message("c")
    assert q.put(new) is new
    assert payloads(q) == ["a", "b"]


def test_drop_lowest_with_aging_drops_the_lowest_effective_priority():
    clock = Clock()
    q = PriorityQueue(capacity=2, overflow="drop-lowest", aging=1.0, clock=clock)
    q.put(Message("old-low", priority=0))  # 4 at t=4
    clock.t = 4.0
    q.put(Message("mid", priority=3))
    dropped = q.put(Message("new", priority=2))
    assert dropped.payload == "new"
    assert payloads(q) == ["old-low", "mid"]


def test_drop_lowest_when_every_message_reached_the_cap_drops_the_newest():
    clock = Clock()
    q = PriorityQueue(capacity=2, overflow="drop-lowest", max_priority=2, aging=1.0,
                      clock=clock)
    q.put(Message("a", priority=0))
    q.put(Message("b", priority=1))
    clock.t = 5.0
    dropped = q.put(Message("c", priority=2))
    assert dropped.payload == "c"
    assert payloads(q) == ["a", "b"]


def test_drop_lowest_overfilled_by_requeues_drops_tails_until_it_fits():
    q = PriorityQueue(capacity=2, overflow="drop-lowest")
    for name, p in [("a", 5), ("b", 4)]:
        q.put(Message(name, priority=p))
    taken = [q.get(), q.get()]
    for name, p in [("c", 3), ("d", 2)]:
        q.put(Message(name, priority=p))
    for m in reversed(taken):
        q.requeue(m)  # a, b, c, d: two past capacity
    offer = q.offer(Message("e", priority=1))
    assert [m.payload for m in offer.dropped] == ["e", "d", "c"]
    assert payloads(q) == ["a", "b"]


def test_drop_lowest_is_one_entry_in_the_overflow_table():
    assert "drop-lowest" in OVERFLOW_POLICIES
    assert FifoQueue(overflow="drop-lowest").overflow == "drop-lowest"


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"aging": 0}, ValueError, ["aging", "> 0"]),
        ({"aging": -1.0}, ValueError, ["aging", "> 0"]),
        ({"aging": math.inf}, ValueError, ["aging", "> 0"]),
        ({"aging": math.nan}, ValueError, ["aging", "> 0"]),
        ({"aging": "1"}, TypeError, ["aging", "per second"]),
        ({"aging": True}, TypeError, ["aging", "per second"]),
        ({"aging": 1.0, "clock": 5.0}, TypeError, ["clock", "time.monotonic"]),
        ({"clock": Clock()}, ValueError, ["clock only applies with aging"]),
        ({"overflow": "drop-tail"}, ValueError, ["overflow", "'drop-lowest'"]),
    ],
)
def test_bad_standalone_options_are_refused_clearly(kwargs, error, words):
    with pytest.raises(error) as info:
        PriorityQueue(**kwargs)
    assert all(w in str(info.value) for w in words), str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "soon", None])
def test_a_clock_that_returns_no_time_is_refused_when_read(bad):
    q = PriorityQueue(aging=1.0, clock=lambda: bad)
    with pytest.raises(ValueError, match="clock must return a finite time"):
        q.put(Message("x"))


def test_a_clock_that_goes_backwards_is_refused():
    clock = Clock(5.0)
    q = PriorityQueue(aging=1.0, clock=clock)
    q.put(Message("x"))
    clock.t = 4.0
    with pytest.raises(ValueError, match="never goes backwards"):
        q.get()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"kind": "fifo", "aging": 1.0}, ValueError, ["aging", "kind='priority'"]),
        ({"kind": "sorted", "aging": 1.0}, ValueError, ["aging", "kind='priority'"]),
        ({"kind": "priority", "aging": -2}, ValueError, ["aging", "> 0"]),
        ({"kind": "priority", "aging": "fast"}, TypeError, ["aging"]),
        ({"kind": "priority", "overflow": "drop-lowes"}, ValueError, ["'drop-lowest'"]),
    ],
)
def test_bad_network_queue_options_are_refused_at_build_time(kwargs, error, words):
    net = mq.Network()
    net.broker("hub")
    with pytest.raises(error) as info:
        net.queue("hub", "jobs", **kwargs)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert "jobs" not in net.graph


# -- in a simulation ------------------------------------------------------------------------------
def busy(aging=None, capacity=None, overflow="drop-head", until=120.0, seed=4):
    """High-priority traffic that keeps one worker busy, plus a trickle of low priority."""
    net = mq.Network(seed=seed)
    net.producer("urgent", rate=4.6, routing_key="jobs", priority=5)  # messages/s
    net.producer("bulk", rate=0.5, routing_key="jobs", priority=1)
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", max_priority=5, aging=aging, capacity=capacity,
              overflow=overflow)
    net.consumer("worker", queue="jobs", service=0.2)  # 5 messages/s at most
    return net.run(until=until)


def longest_bulk_wait(run):
    """The longest publish -> ack latency of a low-priority message, in seconds."""
    published = {e.msg: e.time for e in run.trace.filter(kind="publish")}
    return max(e.time - published[e.msg] for e in run.trace.filter(kind="ack")
               if run.trace.messages[e.msg].source == "bulk")


def test_in_a_busy_system_aging_serves_the_low_priorities_sooner():
    starved, aged = busy(), busy(aging=1.0)
    # a bulk message reaches priority 5 after 4 s at most, then waits its turn in FIFO order
    assert longest_bulk_wait(aged) < 5.0 < longest_bulk_wait(starved)
    assert aged.summary().balanced and starved.summary().balanced
    # the queue's own order, replayed: every delivery took the head by aged priority
    trace = aged.trace
    waiting: dict[int, float] = {}
    for e in trace:
        if e.kind == "enqueue":
            waiting[e.msg] = e.time
        elif e.kind == "deliver":
            def aged_priority(m, now=e.time):
                p = min(trace.messages[m].priority or 0, 5)
                return min(p + 1.0 * (now - waiting[m]), 5)

            best = max(aged_priority(m) for m in waiting)
            assert aged_priority(e.msg) >= best - 1e-9
            del waiting[e.msg]


def test_the_graph_node_says_how_a_priority_queue_orders():
    net = mq.Network()
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", max_priority=7, aging=0.25)
    node = net.graph.nodes["jobs"]
    assert (node["kind"], node["max_priority"], node["aging"]) == ("priority", 7, 0.25)


def sequence(*priorities):
    """A producer's priority that takes these values in turn (a function of the run's rng)."""
    values = iter(priorities)
    return lambda rng: next(values)


def test_drop_lowest_in_a_simulation_records_the_evicted_message_and_balances():
    net = mq.Network(seed=1)
    # at t=0: priorities 1, 5, 3 fill the queue; at t=1 priority 4 arrives: 1 must go
    net.producer("p", schedule=[0.0, 0.0, 0.0, 1.0], routing_key="jobs",
                 priority=sequence(1, 5, 3, 4))
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", capacity=3, overflow="drop-lowest")
    run = net.run(until=2)
    drops = run.trace.filter(kind="drop")
    assert [(e.msg, e.node, e.info) for e in drops] == [(1, "jobs", "overflow")]
    assert run.state(1.5).queues["jobs"] == [2, 4, 3]  # drawn order: 5, 4, 3
    s = run.summary()
    assert s.balanced and s.account["dropped"] == {"overflow": 1}


def test_drop_lowest_in_a_simulation_dead_letters_the_evicted_as_maxlen():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[0.0, 0.0, 1.0], routing_key="jobs",
                 priority=sequence(2, 1, 9))
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", capacity=2, overflow="drop-lowest",
              dead_letter="dlq")
    run = net.run(until=2)
    dl = run.trace.filter(kind="dead-letter")
    assert [(e.msg, e.info) for e in dl] == [(2, "maxlen")]
    assert run.state(1.5).queues == {"jobs": [3, 1], "dlq": [2]}
    assert run.summary().balanced


def test_a_new_lowest_message_at_a_full_queue_enters_and_leaves_at_once():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[0.0, 0.0, 1.0], routing_key="jobs",
                 priority=sequence(5, 5, 1))
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", capacity=2, overflow="drop-lowest")
    run = net.run(until=2)
    rows = [(e.kind, e.msg) for e in run.trace.filter(msg=3)]
    assert rows[-2:] == [("enqueue", 3), ("drop", 3)]
    assert mq.metrics.queue_length(run.trace, "jobs")[1][-1] == 2
    assert max(mq.metrics.queue_length(run.trace, "jobs")[1]) == 2
    assert run.summary().balanced


def test_aging_runs_are_deterministic():
    a, b = busy(aging=0.5, until=30), busy(aging=0.5, until=30)
    assert a.trace.digest() == b.trace.digest()


# -- properties: the promised orders --------------------------------------------------------------
SETTINGS = settings(max_examples=150, deadline=None)

# times in whole seconds and rates that are sums of powers of two: the float arithmetic is
# exact, so the queue and the reference (exact fractions) must agree to the last bit
rates = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0])
aging_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.none() | st.integers(0, 12), st.integers(0, 3)),
        st.tuples(st.just("get"), st.integers(0, 3)),
        st.tuples(st.just("requeue"), st.integers(0, 3)),
    ),
    max_size=50,
)


class ReferenceAging:
    """A plain list; the head is recomputed from scratch with exact fractions."""

    def __init__(self, rate, cap, capacity, overflow):
        self.rate, self.cap = Fraction(rate), cap
        self.capacity, self.overflow = capacity, overflow
        self.items: list[list] = []  # [msg, since, seq]
        self.back, self.front = itertools.count(), itertools.count(-1, -1)

    def priority(self, item, now):
        p = item[0].priority or 0
        if self.cap is not None:
            p = min(p, self.cap)
        aged = p + self.rate * (Fraction(now) - Fraction(item[1]))
        return aged if self.cap is None else min(aged, self.cap)

    def order(self, now):
        return sorted(self.items, key=lambda i: (-self.priority(i, now), i[2]))

    def put(self, msg, now):
        if self.capacity is not None and len(self.items) >= self.capacity and \
                self.overflow == "reject-publish":
            return "full"
        self.items.append([msg, now, next(self.back)])
        dropped = []
        while self.capacity is not None and len(self.items) > self.capacity:
            order = self.order(now)
            victim = order[0] if self.overflow == "drop-head" else order[-1]
            self.items.remove(victim)
            dropped.append(victim[0])
        return dropped[0] if dropped else None

    def get(self, now):
        if not self.items:
            return "empty"
        head = self.order(now)[0]
        self.items.remove(head)
        return head[0]

    def requeue(self, msg, since):
        self.items.append([msg, since, next(self.front)])

    def contents(self, now):
        return [i[0] for i in self.order(now)]


@SETTINGS
@given(aging_ops, rates, st.none() | st.integers(0, 8), st.none() | st.integers(1, 5),
       st.sampled_from(["drop-head", "drop-lowest", "reject-publish"]))
def test_aging_order_matches_the_reference(operations, rate, cap, capacity, overflow):
    clock = Clock(0.0)
    q = PriorityQueue(capacity, overflow, cap, aging=rate, clock=clock)
    ref = ReferenceAging(rate, cap, capacity, overflow)
    taken: list[tuple[Message, float]] = []
    for op in operations:
        clock.t += op[-1]  # time moves on by 0-3 s between operations
        now = clock.t
        if op[0] == "put":
            msg = Message(op, priority=op[1])
            expected = ref.put(msg, now)
            if expected == "full":
                with pytest.raises(mq.QueueFull):
                    q.put(msg)
            else:
                assert q.put(msg) is expected
        elif op[0] == "get":
            expected = ref.get(now)
            if expected == "empty":
                assert q.try_get() is None
            else:
                assert q.get() is expected
                taken.append((expected, expected.enqueued))
        elif taken:
            msg, since = taken.pop()
            ref.requeue(msg, since)
            q.requeue(msg)
        assert list(q) == ref.contents(now)
        assert len(q) == len(ref.items)
        got = [p for _, p in q.effective_priorities()]
        assert got == [ref.priority(i, now) for i in ref.order(now)]


@SETTINGS
@given(st.lists(st.tuples(st.none() | st.integers(0, 9), st.integers(0, 9)), max_size=40),
       st.integers(1, 6), st.sampled_from(["priority", "sorted"]))
def test_drop_lowest_keeps_the_first_to_be_delivered(items, capacity, kind):
    """Put everything in a full drop-lowest queue: what stays is exactly the ``capacity``
    messages an unbounded queue would deliver first; each drop was the tail at that moment."""
    if kind == "priority":
        q, unbounded = (PriorityQueue(capacity, "drop-lowest"), PriorityQueue())
    else:
        def key(m):
            return m.headers["deadline"]

        q, unbounded = (SortedQueue(key, capacity, "drop-lowest"), SortedQueue(key))
    for p, d in items:
        msg = Message((p, d), priority=p, headers={"deadline": d})
        unbounded.put(msg)
        dropped = q.put(msg)
        if dropped is not None:
            assert dropped is list(unbounded)[capacity]  # the tail of the messages so far
            unbounded._pop_last()
        assert list(q) == list(unbounded)[:capacity]


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=40), st.none() | rates)
def test_fifo_among_equal_priorities_with_or_without_aging(priorities, rate):
    """Messages put at one moment leave by priority and, among equals, in arrival order."""
    clock = Clock(7.0)
    q = PriorityQueue(aging=rate, clock=clock if rate else None)
    msgs = [Message(i, priority=p) for i, p in enumerate(priorities)]
    for m in msgs:
        q.put(m)
    clock.t = 50.0  # all aged alike
    out = [q.get() for _ in msgs]
    assert out == sorted(msgs, key=lambda m: (-m.priority, m.payload))
