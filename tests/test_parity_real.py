"""The same scenarios on the simulator and on a real RabbitMQ: they must agree.

The tables come from ``test_parity.py`` (plain data, played there on mqlab alone); this module
plays them on the session's private broker through :mod:`mqlab.rabbit`, and plays a few more
(reject-publish, priority delivery order, random topic patterns, fair dispatch) on both. Times
of the tables are scaled down by ``SCALE`` so that the real runs stay short; what is compared
is an order or an outcome, never a time.
"""

from __future__ import annotations

import random

import pytest
from test_parity import DEAD_LETTERS, DROP_HEAD, HEADERS, _watch, ids

import mqlab as mq
from mqlab import rabbit
from mqlab.routing import topic_matches

pytestmark = pytest.mark.broker

SCALE = 0.1  # one second of a table is this many seconds on the real broker


def payloads(run, kind, node=None):
    """The payloads of the messages of ``kind`` events (at ``node``), in trace order."""
    return [run.trace.messages[e.msg].payload for e in run.trace.filter(kind=kind, node=node)]


def left(run, queue):
    """What is still in ``queue`` at the end, head first: read out of the real broker, or
    the simulator's queue order at the end."""
    if isinstance(run, rabbit.RabbitRun):
        return [run.trace.messages[m].payload for m in run.left[queue]]
    return [run.trace.messages[m].payload for m in run.state(run.trace.duration).queues[queue]]


# == drop-head and reject-publish ===============================================================
def full_queue(kind, capacity, overflow, publish, consumer_service=None):
    """A queue with no consumer (or one busy consumer) and messages published in order."""
    net = mq.Network(seed=1)
    net.broker("hub")
    opts = {"max_priority": 10} if kind == "priority" else {}
    net.queue("hub", "work", kind=kind, capacity=capacity, overflow=overflow, **opts)
    if consumer_service is not None:
        net.consumer("reader", queue="work", service=consumer_service)
    for i, (payload, p) in enumerate(publish):
        net.producer(f"p{i}", schedule=[i * 0.01], routing_key="work", priority=p,
                     payload=lambda _i, x=payload: x)
    return net


@pytest.mark.parametrize("s", [s for s in DROP_HEAD if s.kind != "sorted"],
                         ids=ids([s for s in DROP_HEAD if s.kind != "sorted"]))
def test_drop_head(s, rabbitmq_url):
    net = full_queue(s.kind, s.capacity, "drop-head", s.publish)
    real = rabbit.run(net, until=0.3, url=rabbitmq_url, progress=False)
    sim = net.run(until=1)
    for r in (real, sim):
        assert (left(r, "work"), payloads(r, "drop", "work")) == (s.left, s.dropped)
        assert r.summary().balanced
    assert {e.info for e in real.trace.filter(kind="drop")} <= {"overflow"}


REJECT_PUBLISH = [  # (name, kind, capacity, publish, left, rejected)
    ("fifo: the new ones are refused", "fifo", 2,
     [("a", None), ("b", None), ("c", None), ("d", None)], ["a", "b"], ["c", "d"]),
    ("priority: a full queue refuses even the top priority", "priority", 2,
     [("lo", 1), ("mid", 5), ("top", 9)], ["mid", "lo"], ["top"]),
    ("capacity 1", "fifo", 1, [("a", None), ("b", None)], ["a"], ["b"]),
]


@pytest.mark.parametrize(("name", "kind", "capacity", "publish", "kept", "rejected"),
                         REJECT_PUBLISH, ids=[r[0] for r in REJECT_PUBLISH])
def test_reject_publish(name, kind, capacity, publish, kept, rejected, rabbitmq_url):
    net = full_queue(kind, capacity, "reject-publish", publish)
    real = rabbit.run(net, until=0.3, url=rabbitmq_url, progress=False)
    sim = net.run(until=1)
    for r in (real, sim):
        assert left(r, "work") == kept
        assert payloads(r, "drop", "work") == rejected
        assert {e.info for e in r.trace.filter(kind="drop")} == {"rejected"}
        assert r.summary().balanced


# == priority delivery order ====================================================================
PRIORITY_ORDER = [  # published while the one consumer (prefetch 1) is busy with the first
    [("first", 0), ("p1", 1), ("p9", 9), ("p5", 5), ("none", None), ("p9b", 9), ("p0", 0)],
    [("first", 3), ("a", 2), ("b", 2), ("c", 7), ("d", 10), ("e", 200)],  # above the max
]


@pytest.mark.parametrize("publish", PRIORITY_ORDER, ids=["mixed", "above max_priority"])
def test_priority_delivery_order(publish, rabbitmq_url):
    # the consumer is busy with the first message while the others are published
    net = full_queue("priority", None, "drop-head", publish, consumer_service=0.15)
    # the consumer needs 0.15 s a message; the rest is room for a busy machine
    real = rabbit.run(net, until=1.5 + 0.15 * len(publish), url=rabbitmq_url, progress=False)
    sim = net.run(until=5)
    assert payloads(real, "deliver") == payloads(sim, "deliver")
    assert payloads(real, "ack") == payloads(sim, "ack")
    assert real.summary().balanced


# == topic routing: random patterns and keys ====================================================
def random_words(rng, wildcards):
    words = ["a", "b", "", "cc"] + (["*", "#"] if wildcards else [])
    return ".".join(rng.choice(words) for _ in range(rng.randint(0, 4)))


def test_topic_routing_agrees_on_random_patterns_and_keys(rabbitmq_url):
    rng = random.Random(2024)
    patterns = sorted({random_words(rng, True) for _ in range(300)})[:60]
    patterns += ["", "#", "*", "#.#", "*.#", "#.*", ".", "..", "a..b", "#..#", "*.*.*"]
    patterns = list(dict.fromkeys(patterns))
    keys = list(dict.fromkeys([random_words(rng, False) for _ in range(200)]
                              + ["", ".", "..", "a", "a.", ".a", "a..b", "cc.cc.cc.cc"]))
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "t", type="topic")
    for i, p in enumerate(patterns):
        net.queue("hub", f"q{i}")
        net.bind("t", f"q{i}", pattern=p)
    net.producer("p", schedule=[0.0] * len(keys), exchange="t", payload=lambda i: keys[i],
                 key=lambda payload: payload)
    # every publish is confirmed well within a second; the rest is room for a busy machine
    real = rabbit.run(net, until=3.0, url=rabbitmq_url, progress=False)
    sim = net.run(until=1)

    def routes(r):
        return sorted((r.trace.messages[e.msg].routing_key, e.peer)
                      for e in r.trace.filter(kind="route"))

    def unroutable(r):
        return sorted(r.trace.messages[e.msg].routing_key
                      for e in r.trace.filter(kind="drop") if e.info == "unroutable")

    assert routes(real) == routes(sim)
    assert unroutable(real) == unroutable(sim)
    expected = sorted((m.routing_key, f"q{i}") for m in real.trace.messages.values()
                      for i, p in enumerate(patterns) if topic_matches(p, m.routing_key))
    assert routes(real) == expected
    # both answers were exercised, many times
    assert 300 < len(expected) < len(keys) * len(patterns) - 300
    assert real.summary().balanced


# == the headers exchange =======================================================================
def sendable(headers):
    return not any(isinstance(v, float) for v in headers.values())


SENDABLE = [row for row in HEADERS if sendable(row[1])]


def test_the_headers_table_on_the_real_broker(rabbitmq_url):
    net = mq.Network(seed=1)
    net.broker("hub")
    for i, (arguments, headers, _) in enumerate(SENDABLE):
        net.exchange("hub", f"hx{i}", type="headers")
        net.queue("hub", f"q{i}")
        net.bind(f"hx{i}", f"q{i}", arguments=arguments)
        net.producer(f"p{i}", schedule=[0.0], exchange=f"hx{i}", routing_key="any.key",
                     headers=headers, payload=lambda _n, i=i: i)
    real = rabbit.run(net, until=0.5, url=rabbitmq_url, progress=False)
    sim = net.run(until=1)
    for r in (real, sim):
        routed = {r.trace.messages[e.msg].payload for e in r.trace.filter(kind="route")}
        got = [(row, i in routed) for i, row in enumerate(SENDABLE)]
        assert [x for x in got if x[0][2] is not x[1]] == []
    assert len(SENDABLE) >= len(HEADERS) - 1  # only the float row cannot be sent


def test_a_float_header_is_refused_clearly(rabbitmq_url):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", schedule=[0.0], routing_key="q", headers={"pages": 1.0})
    with pytest.raises(rabbit.NotSupported, match="float"):
        rabbit.run(net, until=0.2, url=rabbitmq_url, progress=False)


# == dead-lettering (TTL, reject, maxlen, cycles): the x-death headers =========================
def dead_letter_network(s, scale, seen, raw):
    net = mq.Network(seed=1)
    net.broker("hub")
    for name, opts in s.queues.items():
        opts = dict(opts)
        if "message_ttl" in opts:
            opts["message_ttl"] *= scale
        net.queue("hub", name, **opts)
    for name, (kind, bound) in s.exchanges.items():
        net.exchange("hub", name, type=kind)
        for q in bound:
            net.bind(name, q)
    for q, rejects in s.consumers.items():
        net.consumer(f"{q}-reader", queue=q, service=0.5 * scale, requeue=False,
                     handler=_watch(q, rejects, seen, raw))
    for i, (key, payload, opts) in enumerate(s.publish):
        opts = dict(opts)
        if "expiration" in opts:
            opts["expiration"] *= scale
        net.producer(f"p{i}", schedule=[i * scale], routing_key=key,
                     payload=lambda _i, x=payload: x, **opts)
    return net


def unscaled(seen, scale):
    out = []
    for queue, payload, expiration, deaths, first in seen:
        deaths = [{**d, "original-expiration": round(d["original-expiration"] / scale, 6)}
                  if "original-expiration" in d else d for d in deaths]
        out.append((queue, payload, expiration, deaths, first))
    return out


@pytest.mark.parametrize("s", DEAD_LETTERS, ids=ids(DEAD_LETTERS))
def test_dead_lettering(s, rabbitmq_url):
    seen, raw = [], []
    net = dead_letter_network(s, SCALE, seen, raw)
    real = rabbit.run(net, until=8 * SCALE, url=rabbitmq_url, progress=False)
    assert unscaled(seen, SCALE) == s.seen
    assert {q: len(real.left[q]) for q in s.left} == s.left
    assert real.summary().balanced
    sim_seen = []
    sim = dead_letter_network(s, 1.0, sim_seen, []).run(until=50)
    assert sim_seen == s.seen
    # the two traces tell the same story: the same kinds of event, message by message
    if s.name.startswith("a cycle"):
        # the broker drops a message closing a dead-letter cycle without a sign, so the real
        # trace can only say it expired where it was last seen; how it ended agrees
        a, b = real.summary().account, sim.summary().account
        assert (a.published, a.acked, a.dropped, a.in_system) == (
            b.published, b.acked, b.dropped, b.in_system)
    else:
        assert story(real) == story(sim)


def story(run):
    """Per message payload: the kinds of its events, with where they happened."""
    out = {}
    for e in run.trace:
        key = run.trace.messages[e.msg].payload
        out.setdefault(key, []).append((e.kind, e.node, e.peer))
    return {k: sorted(v) for k, v in out.items()}


# == prefetch 1: fair dispatch, and round-robin without it =====================================
@pytest.mark.parametrize("prefetch", [1, None], ids=["prefetch 1", "no prefetch limit"])
def test_fair_dispatch(prefetch, rabbitmq_url):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "work")
    # the fast one is done with seven messages well before the slow one with its first
    net.consumer("slow", queue="work", service=1.0, prefetch=prefetch)
    net.consumer("fast", queue="work", service=0.08, prefetch=prefetch)
    net.producer("p", schedule=[0.0] * 8, routing_key="work", payload=lambda i: i, count=8)
    real = rabbit.run(net, until=1.2, url=rabbitmq_url, progress=False)
    sim = net.run(until=5)

    def handed(r):
        return {c: [r.trace.messages[e.msg].payload
                    for e in r.trace.filter(kind="deliver", peer=c)] for c in ("slow", "fast")}

    assert handed(real) == handed(sim)
    if prefetch == 1:
        assert len(handed(real)["fast"]) >= 6  # the fast consumer takes most
    else:
        assert len(handed(real)["slow"]) == 4  # round-robin, however busy
    assert real.summary().balanced
