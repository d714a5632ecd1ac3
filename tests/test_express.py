"""The express line (mqlab.express) gives exactly the readable simulator's run, and the compact
trace holds exactly the rows a plain list would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab import express
from mqlab.simulation import Simulation, simulate

MESSAGE_FIELDS = ("payload", "source", "routing_key", "target", "topic", "priority", "headers",
                  "expiration", "id", "created", "sent", "enqueued", "delivered",
                  "redelivered")

times = st.one_of(
    st.sampled_from([0.0, 0.01, 0.1, 0.5]),
    st.sampled_from([0.05, 0.3, 1.0]).map(mq.exponential),
    st.sampled_from([(0.0, 0.2), (0.1, 0.4)]).map(lambda lh: mq.uniform(*lh)),
)


@st.composite
def plain_networks(draw):
    """A random network the express line can run: producers (a rate, an interval or a
    schedule) -> a broker (default exchange or a direct one) -> FIFO queues -> consumers."""
    net = mq.Network(seed=draw(st.integers(0, 10**6)))
    net.broker("hub")
    queues = [f"q{i}" for i in range(draw(st.integers(1, 2)))]
    for q in queues:
        net.queue("hub", q)
    direct = draw(st.booleans())
    if direct:
        net.exchange("hub", "jobs", type="direct")
        for q in queues:
            net.bind("jobs", q, q)
    for i in range(draw(st.integers(1, 3))):
        name, key = f"p{i}", draw(st.sampled_from(queues))
        how = draw(st.sampled_from(["rate", "interval", "schedule"]))
        count = draw(st.integers(1, 40))
        extra = {"exchange": "jobs"} if direct else {}
        if how == "rate":
            net.producer(name, rate=draw(st.sampled_from([1.0, 5.0, 50.0])),
                         routing_key=key, count=count, **extra)
        elif how == "interval":
            net.producer(name, interval=draw(times.filter(lambda x: x != 0.0)),
                         routing_key=key, count=count, **extra)
        else:
            sched = sorted(draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 1.0]), min_size=1,
                                         max_size=8)))
            net.producer(name, schedule=sched, routing_key=key, **extra)
        if draw(st.booleans()):
            net.link(name, "hub", latency=draw(times))
    for i in range(draw(st.integers(1, 4))):
        name = f"c{i}"
        net.consumer(name, queue=draw(st.sampled_from(queues)), service=draw(times),
                     prefetch=draw(st.sampled_from([1, 2, 5, None])),
                     ack=draw(st.sampled_from(["manual", "auto"])))
        if draw(st.booleans()):
            net.link("hub", name, latency=draw(times))
    until = draw(st.sampled_from([None, 0.3, 2.0]))
    return net, until


def both(net, until):
    net.resolve()
    fast = simulate(net, until, progress=False)
    slow = simulate(net, until, progress=False, express=False)
    return fast, slow


def same_messages(a, b) -> None:
    assert list(a) == list(b)
    for m in b:
        x, y = a[m], b[m]
        assert [getattr(x, f) for f in MESSAGE_FIELDS] == [getattr(y, f) for f in MESSAGE_FIELDS]


@settings(max_examples=150, deadline=None)
@given(plain_networks())
def test_the_express_line_gives_the_readable_run(case):
    net, until = case
    net.resolve()
    assert express.eligible(Simulation(net)) is None
    (fast, fast_still), (slow, slow_still) = both(net, until)
    assert fast.rows == slow.rows
    assert fast.digest() == slow.digest()
    assert fast.end_time == slow.end_time
    assert fast_still == slow_still
    same_messages(fast.messages, slow.messages)


def test_zero_latency_hops_keep_the_engines_order_of_same_time_events():
    """Everything at t = 0 and zero service: the line and the heap must interleave exactly as
    the engine's sequence numbers say."""
    net = mq.Network(seed=3)
    net.broker("hub")
    net.queue("hub", "jobs")
    for i in range(3):
        net.producer(f"p{i}", schedule=[0.0] * 5, routing_key="jobs")
    for i in range(3):
        net.consumer(f"c{i}", queue="jobs", service=0.0, prefetch=[1, 2, None][i])
    (fast, _), (slow, _) = both(net, None)
    assert len(fast) == 15 * 8 and fast.rows == slow.rows


@pytest.mark.parametrize("part, options, why", [
    ("queue", {"capacity": 3}, "plain first-in first-out"),
    ("queue", {"message_ttl": 1.0}, "plain first-in first-out"),
    ("queue", {"kind": "priority"}, "plain first-in first-out"),
    ("consumer", {"handler": lambda m: None}, "consumer 'w'"),
    ("consumer", {"crash": [(1, 2)]}, "consumer 'w'"),
    ("producer", {"payload": str}, "producer 'p'"),
    ("producer", {"confirm": True}, "producer 'p'"),
    ("producer", {"routing_key": mq.choice(["jobs", "x"])}, "producer 'p'"),
    ("link", {"loss": 0.5}, "producer 'p'"),
])
def test_a_network_with_any_other_feature_runs_on_the_readable_simulator(part, options, why):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs", **(options if part == "queue" else {}))
    net.producer("p", **{"rate": 2, "routing_key": "jobs", "count": 5,
                         **(options if part == "producer" else {})})
    net.consumer("w", queue="jobs", service=0.1, **(options if part == "consumer" else {}))
    if part == "link":
        net.link("p", "hub", **options)
    net.resolve()
    said = express.eligible(Simulation(net))
    assert said is not None and why in said
    (fast, _), (slow, _) = both(net, 10.0)  # the readable simulator, both times
    assert fast.rows == slow.rows


def recorded_as_a_plain_list(net, until):
    """The readable simulator with its rows appended to a plain list of 6-tuples."""
    net.resolve()
    sim = Simulation(net)
    plain: list[tuple] = []
    sim.rec = plain.append
    sim.start()
    sim.engine.run(until)
    return plain


@pytest.mark.parametrize("lesson_like", ["faults", "plain", "dead letters"])
def test_the_compact_trace_holds_what_a_plain_list_would(lesson_like):
    def build():
        net = mq.Network(seed=7)
        net.broker("hub")
        if lesson_like == "dead letters":
            net.queue("hub", "jobs", capacity=3, overflow="drop-head", dead_letter="dlq")
            net.queue("hub", "dlq")
            net.consumer("reader", queue="dlq", service=0.05)
        else:
            net.queue("hub", "jobs")
        net.producer("p", rate=20, routing_key="jobs", count=300)
        net.consumer("w", queue="jobs", service=mq.exponential(0.06), prefetch=2)
        if lesson_like == "faults":
            net.link("p", "hub", latency=0.01, loss=0.1, duplicate=0.1)
        return net

    plain = recorded_as_a_plain_list(build(), 60.0)
    trace = simulate(_resolved(build()), 60.0, progress=False, express=False)[0]
    assert len(plain) > 1000
    assert trace.rows == plain
    assert [tuple(e) for e in trace] == plain
    assert trace.rows[5:17] == plain[5:17] and trace.rows[-1] == plain[-1]


def _resolved(net):
    net.resolve()
    return net


def test_a_million_rows_pack_into_small_columns():
    """Rows are kept as numpy columns (8 + 2 + 4 bytes a row), not as Python tuples."""
    net = mq.Network(seed=1)
    net.producer("p", rate=1.0, routing_key="jobs", count=20_000)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("w", queue="jobs", service=mq.exponential(0.9))
    trace = net.run(progress=False).trace
    t, code, msg = trace.columns()
    assert len(t) == len(trace) == 160_000
    assert t.dtype == "float64" and code.itemsize <= 2 and msg.itemsize <= 4
    assert trace.pending() == 0
