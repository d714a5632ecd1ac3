"""Properties that hold for every network, checked on random ones (hypothesis).

- The account adds up: every message is acked, dropped for a reason, or still somewhere the
  simulator can point to; the queue lengths read from the trace match the simulator's own.
- A FIFO queue without requeues delivers in enqueue order.
- A priority queue never delivers while a message of strictly higher (effective) priority waits,
  and keeps FIFO order among equals.
- Standalone queues behave like a plain sorted-list reference model.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab import metrics

# fixed examples, no saved database: every run checks the same cases, in bounded time
SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

WORDS = ["a", "b", "c"]
KEYS = ["a", "b", "a.b", "b.a", "a.b.c", "c", ""]
TOPIC_PATTERNS = ["#", "*", "a.*", "a.#", "*.a", "#.b", "a.b", "*.*", "c.#.c"]

# -- random networks -----------------------------------------------------------------------------


def time_value(draw, low, high):
    """A fixed number of seconds, or a distribution drawn afresh each time."""
    kind = draw(st.sampled_from(["fixed", "exponential", "uniform"]))
    mean = draw(st.floats(low, high))
    if kind == "fixed" or mean == 0:
        return mean
    if kind == "exponential":
        return mq.exponential(mean)
    return mq.uniform(0.0, 2 * mean)


@st.composite
def networks(draw, max_brokers=2):
    """A random system, as a list of builder calls (so a failing example prints readably)."""
    seed = draw(st.integers(0, 2**32 - 1))
    until = draw(st.floats(3.0, 25.0))
    brokers = [f"b{i}" for i in range(draw(st.integers(1, max_brokers)))]
    calls: list[tuple[str, tuple, dict]] = [("broker", (b,), {}) for b in brokers]

    queues: dict[str, dict] = {}  # name -> options (and its broker)
    for b in brokers:
        for j in range(draw(st.integers(1, 3))):
            name = f"{b}q{j}"
            kind = draw(st.sampled_from(["fifo", "priority", "sorted"]))
            opts = {
                "kind": kind,
                "capacity": draw(st.none() | st.integers(1, 4)),
                "overflow": draw(st.sampled_from(["drop-head", "reject-publish", "block"])),
                "message_ttl": draw(st.none() | st.floats(0.2, 3.0)),
            }
            if kind == "priority":
                opts["max_priority"] = draw(st.none() | st.integers(0, 5))
            queues[name] = {"broker": b, **opts}

    exchanges: dict[str, dict] = {}
    for b in brokers:
        for j in range(draw(st.integers(0, 2))):
            exchanges[f"{b}x{j}"] = {
                "broker": b, "type": draw(st.sampled_from(["direct", "fanout", "topic"]))}

    # dead letters go to any queue or exchange of the same broker: cycles included
    for opts in queues.values():
        b = opts["broker"]
        targets = [*own_queue_names(queues, b), *(x for x in exchanges
                                                  if exchanges[x]["broker"] == b)]
        if draw(st.booleans()):
            opts["dead_letter"] = draw(st.sampled_from(targets))

    for name, opts in queues.items():
        o = {k: v for k, v in opts.items() if k != "broker"}
        calls.append(("queue", (opts["broker"], name), o))
    for name, ex in exchanges.items():
        calls.append(("exchange", (ex["broker"], name), {"type": ex["type"]}))
        own = [q for q in queues if queues[q]["broker"] == ex["broker"]]
        for q in draw(st.lists(st.sampled_from(own), max_size=3)):
            if ex["type"] == "topic":
                pattern = draw(st.sampled_from(TOPIC_PATTERNS))
            elif ex["type"] == "direct":
                pattern = draw(st.sampled_from([*KEYS[:4], q]))
            else:
                pattern = None
            calls.append(("bind", (name, q), {"pattern": pattern}))

    qnames = list(queues)
    consumers = []
    for i in range(draw(st.integers(1, 4))):
        name = f"c{i}"
        ack = draw(st.sampled_from(["manual", "auto"]))
        opts = {
            "queue": draw(st.sampled_from(qnames)),
            "service": time_value(draw, 0.05, 1.5),
            "prefetch": draw(st.one_of(st.integers(1, 3), st.none())),
            "ack": ack,
        }
        if ack == "manual" and draw(st.booleans()):
            opts["nack"] = draw(st.floats(0.0, 0.5))
            opts["requeue"] = draw(st.booleans())
        if draw(st.booleans()):
            opts["crash"] = []
            for _ in range(draw(st.integers(1, 2))):
                down = draw(st.floats(0.0, until))
                opts["crash"].append((down, down + draw(st.floats(0.1, 5.0))))
        calls.append(("consumer", (name,), opts))
        consumers.append((name, opts))
        if draw(st.booleans()):
            lat = time_value(draw, 0.0, 0.5)
            calls.append(("link", (opts["queue"], name), {"latency": lat}))

    for i in range(draw(st.integers(1, 3))):
        name = f"p{i}"
        when = draw(st.sampled_from(["rate", "interval", "schedule"]))
        opts: dict = {}
        if when == "rate":
            opts["rate"] = draw(st.floats(0.2, 6.0))
        elif when == "interval":
            opts["interval"] = time_value(draw, 0.1, 2.0)
        else:
            opts["schedule"] = sorted(draw(st.lists(st.floats(0.0, until), max_size=15)))
        if draw(st.booleans()):
            opts["count"] = draw(st.integers(1, 30))
        opts["mode"] = draw(st.sampled_from(["async", "async", "sync"]))
        target = draw(st.sampled_from(["default", *exchanges]))
        if target == "default":
            broker = draw(st.sampled_from(brokers))
            own = [q for q in qnames if queues[q]["broker"] == broker]
            keys = [*own, *own, *own, "nowhere"]
        else:
            broker = exchanges[target]["broker"]
            opts["exchange"] = target
            keys = KEYS + own_queue_names(queues, broker)
        opts["routing_key"] = draw(st.sampled_from(keys) | st.lists(st.sampled_from(keys),
                                                                     min_size=1, max_size=3))
        opts["priority"] = draw(st.none() | st.integers(0, 9)
                                | st.lists(st.none() | st.integers(0, 9), min_size=1, max_size=4))
        if draw(st.integers(0, 3)) == 0:
            opts["expiration"] = draw(st.floats(0.1, 3.0))
        if draw(st.booleans()):
            opts["headers"] = {"deadline": draw(st.floats(0.0, 10.0))}
        calls.append(("producer", (name,), opts))
        if len(brokers) > 1 or draw(st.booleans()):
            link = {"latency": time_value(draw, 0.0, 0.3)}
            if draw(st.booleans()):
                link["loss"] = draw(st.floats(0.0, 0.3))
                link["duplicate"] = draw(st.floats(0.0, 0.3))
            calls.append(("link", (name, broker), link))
    return seed, until, calls


def own_queue_names(queues, broker):
    return [q for q in queues if queues[q]["broker"] == broker]


def build(seed, calls):
    net = mq.Network(seed=seed)
    # parts first, then bindings and consumers, then producers and links: the builder checks
    # that what a call refers to already exists
    rank = {"broker": 0, "queue": 1, "exchange": 1, "bind": 2, "consumer": 2, "producer": 3,
            "link": 4}
    for method, args, kwargs in sorted(calls, key=lambda c: rank[c[0]]):
        getattr(net, method)(*args, **kwargs)
    return net


def run_of(example):
    seed, until, calls = example
    net = build(seed, calls)
    return net, net.run(until=until, progress=False)


# -- reading a queue's contents back from the trace ----------------------------------------------
# events that take a message out of a queue (the queue is the event's node)
def removes(event) -> bool:
    return (event.kind in ("deliver", "expire")
            or (event.kind == "dead-letter" and event.info != "rejected")
            or (event.kind == "drop" and event.info == "overflow"))


def replay_queue(run, qname, order_key):
    """Replay a queue's events on a reference model: a list of (key, position, message id).

    Checks that every message leaving the queue is the one the model says is at the head, and
    returns the model's contents at the end. ``order_key(message)`` is the sort key of the
    queue kind (0 for FIFO); a requeue puts a message ahead of its equals.
    """
    model: list[tuple] = []
    back, front = itertools.count(), itertools.count(-1, -1)
    for e in run.trace.filter(node=qname):
        if e.kind == "enqueue":
            model.append((order_key(run.trace.messages[e.msg]), next(back), e.msg))
        elif e.kind == "requeue":
            model.append((order_key(run.trace.messages[e.msg]), next(front), e.msg))
        elif removes(e):
            assert model, f"{e} leaves an empty queue"
            head = min(model)
            assert head[2] == e.msg, (
                f"{qname}: {e.kind} of message {e.msg} at t={e.time}, but the head was "
                f"message {head[2]} (waiting: {sorted(model)})")
            model.remove(head)
    return model


def effective_priority(max_priority):
    def key(msg):
        p = msg.priority or 0
        return -(p if max_priority is None else min(p, max_priority))
    return key


def sort_key(msg):
    return msg.headers.get("deadline", msg.created)


def order_key_of(net, qname):
    spec = net.queues[qname]
    if spec.kind == "priority":
        return effective_priority(spec.max_priority)
    if spec.kind == "sorted":
        return sort_key
    return lambda msg: 0


# -- (a) the account adds up -------------------------------------------------------------------
@settings(SETTINGS, max_examples=250)
@given(networks())
def test_every_message_is_accounted_for(example):
    net, run = run_of(example)
    summary = run.summary()
    s = run.still
    held = (sum(s["queued"].values()) + sum(s["blocked"].values())
            + sum(s["at_consumers"].values()) + s["on_links"])
    assert summary.account.in_system == held
    assert summary.balanced
    a = summary.account
    assert a.published + a.copies == a.acked + sum(a.dropped.values()) + held
    for q in net.queues:
        times, lengths = metrics.queue_length(run.trace, q)
        assert lengths[-1] == s["queued"][q], q
        assert min(lengths) >= 0
        assert summary.queues[q]["final"] == s["queued"][q]


@SETTINGS
@given(networks())
def test_the_trace_is_in_time_order_and_limits_hold(example):
    net, run = run_of(example)
    times = run.trace.column("time")
    assert times == sorted(times)
    assert not times or times[-1] <= run.trace.duration
    # capacity counts ready messages: a queue only goes past it through requeues
    for q, spec in net.queues.items():
        if spec.capacity is None:
            continue
        times, lengths = metrics.queue_length(run.trace, q)
        requeues = len(run.trace.filter(kind="requeue", node=q))
        if requeues == 0:
            # once everything at one instant is done (drop-head lets a new message in and drops
            # the head at the same instant: when the new one is the head, it is briefly over)
            settled = dict(zip(times, lengths, strict=True))
            assert max(settled.values()) <= spec.capacity
    # a consumer never holds more unacked messages than its prefetch
    held = dict.fromkeys(net.consumers, 0)
    for e in run.trace.filter(kind=["deliver", "ack", "nack", "drop", "crash"]):
        if e.kind == "deliver":
            held[e.peer] += 1
            limit = net.consumers[e.peer].prefetch
            assert limit is None or held[e.peer] <= limit
        elif e.kind == "crash":
            held[e.node] = 0  # it loses (auto) or gives back (manual) all it held
        elif e.node in held and e.info != "crash":
            held[e.node] -= 1
    assert held == run.still["at_consumers"]
    # a synchronous producer has at most one request without a reply
    for name, spec in net.producers.items():
        if spec.mode != "sync":
            continue
        open_request = None
        for e in run.trace.filter(kind=["publish", "reply"], node=name):
            if e.kind == "publish":
                assert open_request is None
                open_request = e.msg
            else:
                assert e.msg == open_request
                open_request = None


# -- (b) and (c): delivery order -------------------------------------------------------------------
def requeues_possible(net, qname) -> bool:
    return any(c.queue == qname and ((c.nack > 0 and c.requeue) or (c.crash and c.ack == "manual"))
               for c in net.consumers.values())


@SETTINGS
@given(networks())
def test_fifo_queues_without_requeues_deliver_in_enqueue_order(example):
    net, run = run_of(example)
    for qname, spec in net.queues.items():
        if spec.kind != "fifo" or requeues_possible(net, qname):
            continue
        enqueued = [e.msg for e in run.trace.filter(kind="enqueue", node=qname)]
        left = [e.msg for e in run.trace.filter(node=qname) if removes(e)]
        delivered = [e.msg for e in run.trace.filter(kind="deliver", node=qname)]
        # whatever leaves (delivered, expired, dead-lettered, pushed out) leaves from the head
        assert left == enqueued[: len(left)]
        # so the deliveries are the enqueues in the same order, with gaps
        rest = iter(enqueued)
        assert all(m in rest for m in delivered)


@SETTINGS
@given(networks())
def test_every_queue_hands_out_its_head(example):
    """Whatever the kind, each message leaving a queue is the reference model's head."""
    net, run = run_of(example)
    for qname in net.queues:
        left_over = replay_queue(run, qname, order_key_of(net, qname))
        assert len(left_over) == run.still["queued"][qname]


@st.composite
def priority_systems(draw):
    """One priority queue, one consumer with prefetch 1, producers of mixed priorities."""
    seed = draw(st.integers(0, 2**32 - 1))
    max_priority = draw(st.none() | st.integers(0, 6))
    calls = [("broker", ("hub",), {}),
             ("queue", ("hub", "jobs"), {
                 "kind": "priority", "max_priority": max_priority,
                 "capacity": draw(st.none() | st.integers(2, 8)),
                 "overflow": draw(st.sampled_from(["drop-head", "reject-publish", "block"]))})]
    consumer = {"queue": "jobs", "service": time_value(draw, 0.2, 1.0), "prefetch": 1}
    if draw(st.booleans()):
        consumer["nack"] = draw(st.floats(0.0, 0.4))
    if draw(st.booleans()):
        consumer["crash"] = [(draw(st.floats(0.0, 10.0)), draw(st.floats(10.5, 14.0)))]
    calls.append(("consumer", ("w",), consumer))
    for i in range(draw(st.integers(1, 3))):
        calls.append(("producer", (f"p{i}",), {
            "rate": draw(st.floats(0.5, 5.0)), "routing_key": "jobs",
            "priority": draw(st.lists(st.none() | st.integers(0, 9), min_size=1, max_size=5))}))
    return seed, 20.0, calls


@SETTINGS
@given(priority_systems())
def test_a_priority_queue_never_delivers_past_a_higher_priority(example):
    net, run = run_of(example)
    level = effective_priority(net.queues["jobs"].max_priority)
    waiting: dict = {}  # message id -> (minus effective priority, position)
    back, front = itertools.count(), itertools.count(-1, -1)
    delivered = 0
    for e in run.trace.filter(node="jobs"):
        msg = run.trace.messages.get(e.msg)
        if e.kind == "enqueue":
            waiting[e.msg] = (level(msg), next(back))
        elif e.kind == "requeue":
            waiting[e.msg] = (level(msg), next(front))
        elif e.kind == "deliver":
            mine = waiting.pop(e.msg)
            better = [m for m, k in waiting.items() if k[0] < mine[0]]
            assert not better, f"delivered {e.msg} while {better} had higher priority"
            earlier_equal = [m for m, k in waiting.items() if k[0] == mine[0] and k[1] < mine[1]]
            assert not earlier_equal, f"delivered {e.msg} before its equals {earlier_equal}"
            delivered += 1
        elif removes(e):
            waiting.pop(e.msg)
    assert delivered > 0
    assert len(waiting) == run.still["queued"]["jobs"]


# -- standalone queues against a reference model --------------------------------------------------
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.none() | st.integers(-2, 12), st.integers(0, 5)),
        st.tuples(st.just("get")),
        st.tuples(st.just("requeue")),
    ),
    max_size=60,
)


class ReferenceQueue:
    """A plain list kept in delivery order by a key: the obviously-correct model."""

    def __init__(self, key, capacity, overflow):
        self.key, self.capacity, self.overflow = key, capacity, overflow
        self.items: list[tuple] = []
        self.back, self.front = itertools.count(), itertools.count(-1, -1)
        self.drops = {}

    def head(self):
        return min(self.items, key=lambda e: e[:2])

    def put(self, msg):
        full = self.capacity is not None and len(self.items) >= self.capacity
        if full and self.overflow != "drop-head":
            self.drops[self.overflow] = self.drops.get(self.overflow, 0) + 1
            return "full"
        # drop-head, as RabbitMQ: the new message goes in, then heads go until it fits
        # (the new one may be among them; several go if requeues overfilled the queue)
        self.items.append((self.key(msg), next(self.back), msg))
        dropped = []
        while self.capacity is not None and len(self.items) > self.capacity:
            head = self.head()
            self.items.remove(head)
            dropped.append(head[2])
        if dropped:
            self.drops["overflow"] = self.drops.get("overflow", 0) + len(dropped)
        return dropped[0] if dropped else None

    def get(self):
        if not self.items:
            return "empty"
        h = self.head()
        self.items.remove(h)
        return h[2]

    def requeue(self, msg):
        self.items.append((self.key(msg), next(self.front), msg))

    def contents(self):
        return [e[2] for e in sorted(self.items, key=lambda e: e[:2])]


def play(queue, ref, operations):
    taken = []
    for op in operations:
        if op[0] == "put":
            msg = mq.Message(op, priority=op[1], headers={"deadline": op[2]})
            expected = ref.put(msg)
            if expected == "full":
                with pytest.raises(mq.QueueFull):
                    queue.put(msg)
            else:
                assert queue.put(msg) is expected
        elif op[0] == "get":
            expected = ref.get()
            if expected == "empty":
                with pytest.raises(mq.QueueEmpty):
                    queue.get()
                assert queue.try_get() is None
            else:
                assert queue.get() is expected
                taken.append(expected)
        elif taken:
            msg = taken.pop()
            ref.requeue(msg)
            queue.requeue(msg)
        assert list(queue) == ref.contents()
        assert len(queue) == len(ref.items)
        assert queue.peek() is (ref.contents()[0] if ref.items else None)
    assert queue.stats().drops == ref.drops


capacities = st.none() | st.integers(1, 6)
overflows = st.sampled_from(["drop-head", "reject-publish", "block"])


@SETTINGS
@given(ops, capacities, overflows)
def test_fifo_queue_matches_the_reference(operations, capacity, overflow):
    play(mq.FifoQueue(capacity, overflow), ReferenceQueue(lambda m: 0, capacity, overflow),
         operations)


@SETTINGS
@given(ops, capacities, overflows, st.none() | st.integers(0, 10))
def test_priority_queue_matches_the_reference(operations, capacity, overflow, max_priority):
    queue = mq.PriorityQueue(capacity, overflow, max_priority)

    def key(m):
        p = m.priority or 0
        return -(p if max_priority is None else min(p, max_priority))

    play(queue, ReferenceQueue(key, capacity, overflow), operations)


@SETTINGS
@given(ops, capacities, overflows)
def test_sorted_queue_matches_the_reference(operations, capacity, overflow):
    def key(m):
        return m.headers["deadline"]

    play(mq.SortedQueue(key, capacity, overflow), ReferenceQueue(key, capacity, overflow),
         operations)


@SETTINGS
@given(st.lists(st.integers(0, 20), max_size=40), st.integers(0, 21), st.data())
def test_sorted_queue_range_operations_match_the_reference(deadlines, bound, data):
    q = mq.SortedQueue(key=lambda m: m.headers["deadline"])
    msgs = [mq.Message(i, headers={"deadline": d}) for i, d in enumerate(deadlines)]
    for m in msgs:
        q.put(m)
    reference = sorted(msgs, key=lambda m: (m.headers["deadline"], m.payload))
    cancelled = data.draw(st.sets(st.sampled_from(msgs)) if msgs else st.just(set()))
    for m in cancelled:
        assert q.cancel(m.id) is m
        reference.remove(m)
    below = q.pop_below(bound)
    assert below == [m for m in reference if m.headers["deadline"] < bound]
    reference = [m for m in reference if m.headers["deadline"] >= bound]
    if reference:
        assert q.pop_last() is reference.pop()
    assert list(q) == reference
