"""Parity with RabbitMQ 3.10, measured on a real broker: tables of scenarios and outcomes.

Each table below is plain data (what to set up, what to publish, what a broker is seen to do),
kept apart from the functions that play it on mqlab, so that a real-broker backend can later
play the same tables. Conventions, for such a backend:

- one broker; ``queues`` maps a queue name to mqlab's ``Network.queue`` options: ``capacity``
  is ``x-max-length``, ``overflow`` is ``x-overflow``, ``max_priority`` is ``x-max-priority``,
  ``message_ttl`` is ``x-message-ttl`` (seconds here), ``dead_letter`` names a queue
  (``x-dead-letter-exchange: ""`` with ``x-dead-letter-routing-key``) or an exchange of
  ``exchanges`` (``x-dead-letter-exchange`` with no routing key);
- messages are published one second apart, in order, to the default exchange with the queue's
  name as routing key, or to the named exchange;
- times are seconds (``original-expiration`` too: RabbitMQ writes milliseconds as a string);
- scenarios of ``kind="sorted"`` are mqlab's own (RabbitMQ has no such queue): skip them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import mqlab as mq
from mqlab import metrics
from mqlab.queues import FifoQueue, PriorityQueue, SortedQueue
from mqlab.routing import headers_match

# == 1. a full queue with overflow="drop-head" ===================================================
# RabbitMQ first enqueues the new message, then drops the head: the next message to be
# delivered (in a priority queue the highest priority, oldest among equals). So a new message
# of the top priority arriving at a full queue is itself the one dropped.


@dataclass(frozen=True)
class DropHead:
    name: str
    kind: str  # "fifo", "priority" (with max_priority 10) or "sorted" (mqlab only)
    capacity: int
    publish: list  # (payload, priority or sort key), in order
    left: list  # what the queue then delivers, in order
    dropped: list  # what was dropped, in order


DROP_HEAD = [
    DropHead("fifo: the oldest goes", "fifo", 3,
             [("a", None), ("b", None), ("c", None), ("d", None), ("e", None)],
             left=["c", "d", "e"], dropped=["a", "b"]),
    DropHead("priority: a new top-priority message is itself dropped", "priority", 3,
             [("low1", 0), ("low2", 0), ("low3", 0), ("top", 5)],
             left=["low1", "low2", "low3"], dropped=["top"]),
    DropHead("priority: the head goes, which is the highest priority", "priority", 3,
             [("hi", 9), ("lo", 1), ("mid", 5), ("new", 3)],
             left=["mid", "new", "lo"], dropped=["hi"]),
    DropHead("priority: among equal top priorities the oldest goes", "priority", 2,
             [("a", 5), ("b", 5), ("c", 5)],
             left=["b", "c"], dropped=["a"]),
    DropHead("priority: a new message of lower priority stays", "priority", 2,
             [("a", 1), ("b", 2), ("c", 0)],
             left=["a", "c"], dropped=["b"]),
    DropHead("priority: equal to the head's priority, the new one is younger and stays",
             "priority", 2, [("a", 3), ("b", 1), ("c", 3)],
             left=["c", "b"], dropped=["a"]),
    DropHead("priority: no priority counts as 0, so those two are FIFO", "priority", 2,
             [("one", 1), ("none", None), ("zero", 0)],
             left=["none", "zero"], dropped=["one"]),
    DropHead("sorted: the smallest key goes, the new one's included", "sorted", 2,
             [("k5", 5), ("k7", 7), ("k1", 1), ("k3", 3)],
             left=["k5", "k7"], dropped=["k1", "k3"]),
]


# == 2. dead-lettering: the x-death header ========================================================
# A dead-lettered message carries "x-death": a list of deaths, newest first, each {count,
# reason ("expired" | "rejected" | "maxlen"), queue, time, exchange, routing-keys}; a death in
# the same queue for the same reason raises that entry's count and moves it to the front. The
# first death also sets x-first-death-reason/-queue/-exchange. The per-message expiration is
# removed (x-death keeps it as original-expiration). A message that would be dead-lettered to a
# queue it was already dead-lettered from, with no rejection in between, is dropped instead.


def death(count, reason, queue, exchange="", keys=("work",), **extra):
    """An x-death entry as a consumer sees it, leaving out its "time" (a broker's clock)."""
    return {"count": count, "reason": reason, "queue": queue, "exchange": exchange,
            "routing-keys": list(keys), **extra}


@dataclass(frozen=True)
class DeadLetters:
    name: str
    queues: dict  # queue -> options (see the conventions at the top)
    publish: list  # (routing key, payload, {"expiration": s, "priority": p}), one a second
    consumers: dict = field(default_factory=dict)  # queue -> rejections (requeue=False) of
    #                                                each message before it acks it
    exchanges: dict = field(default_factory=dict)  # name -> (type, [queues bound])
    # what the consumers are handed, in order: (queue, payload, expiration, x-death without
    # "time", (x-first-death-reason, -queue, -exchange) or None)
    seen: list = field(default_factory=list)
    left: dict = field(default_factory=dict)  # queue -> messages still in it at the end


DEAD_LETTERS = [
    DeadLetters(
        "rejected", {"work": {"dead_letter": "dlq"}, "dlq": {}},
        [("work", "m1", {})], {"work": 1, "dlq": 0},
        seen=[("work", "m1", None, [], None),
              ("dlq", "m1", None, [death(1, "rejected", "work")], ("rejected", "work", ""))],
        left={"work": 0, "dlq": 0}),
    DeadLetters(
        "expired by the queue's TTL", {"work": {"message_ttl": 1.0, "dead_letter": "dlq"},
                                       "dlq": {}},
        [("work", "m1", {})], {"dlq": 0},
        seen=[("dlq", "m1", None, [death(1, "expired", "work")], ("expired", "work", ""))],
        left={"work": 0, "dlq": 0}),
    DeadLetters(
        "a per-message expiration is removed, and kept in x-death",
        {"work": {"dead_letter": "dlq"}, "dlq": {}},
        [("work", "m1", {"expiration": 1.0})], {"dlq": 0},
        seen=[("dlq", "m1", None,
               [death(1, "expired", "work", **{"original-expiration": 1.0})],
               ("expired", "work", ""))],
        left={"work": 0, "dlq": 0}),
    DeadLetters(
        "maxlen: the head of a full queue", {"work": {"capacity": 1, "dead_letter": "dlq"},
                                             "dlq": {}},
        [("work", "m1", {}), ("work", "m2", {})], {"dlq": 0},
        seen=[("dlq", "m1", None, [death(1, "maxlen", "work")], ("maxlen", "work", ""))],
        left={"work": 1, "dlq": 0}),
    DeadLetters(
        "maxlen in a priority queue: the new top-priority message is the one dead-lettered",
        {"work": {"kind": "priority", "max_priority": 10, "capacity": 2, "dead_letter": "dlq"},
         "dlq": {}},
        [("work", "low1", {"priority": 0}), ("work", "low2", {"priority": 0}),
         ("work", "top", {"priority": 5})], {"dlq": 0},
        seen=[("dlq", "top", None, [death(1, "maxlen", "work")], ("maxlen", "work", ""))],
        left={"work": 2, "dlq": 0}),
    DeadLetters(
        "a retry loop: each death counted in place and moved to the front",
        {"work": {"dead_letter": "retry-x"},
         "retry": {"message_ttl": 1.0, "dead_letter": "work-x"}},
        [("work", "m1", {})], {"work": 2},
        exchanges={"retry-x": ("fanout", ["retry"]), "work-x": ("fanout", ["work"])},
        seen=[("work", "m1", None, [], None),
              ("work", "m1", None, [death(1, "expired", "retry", "retry-x"),
                                    death(1, "rejected", "work")], ("rejected", "work", "")),
              ("work", "m1", None, [death(2, "expired", "retry", "retry-x"),
                                    death(2, "rejected", "work")], ("rejected", "work", ""))],
        left={"work": 0, "retry": 0}),
    DeadLetters(
        "a cycle with no rejection in it is dropped",
        {"a": {"message_ttl": 1.0, "dead_letter": "b"},
         "b": {"message_ttl": 1.0, "dead_letter": "a"}},
        [("a", "m1", {})],
        seen=[], left={"a": 0, "b": 0}),
    DeadLetters(
        "a dead-letter exchange bound back to the queue: only the other queue gets it",
        {"work": {"message_ttl": 1.0, "dead_letter": "dlx"}, "dlq": {}},
        [("work", "m1", {})], {"dlq": 0},
        exchanges={"dlx": ("fanout", ["work", "dlq"])},
        seen=[("dlq", "m1", None, [death(1, "expired", "work")], ("expired", "work", ""))],
        left={"work": 0, "dlq": 0}),
    DeadLetters(
        "a rejection is never a cycle, even back to the same queue",
        {"work": {"dead_letter": "work"}},
        [("work", "m1", {})], {"work": 1},
        seen=[("work", "m1", None, [], None),
              ("work", "m1", None, [death(1, "rejected", "work")], ("rejected", "work", ""))],
        left={"work": 0}),
]


# == 3. the headers exchange ====================================================================
# (binding arguments, message headers, routed?)
HEADERS = [
    ({"format": "pdf"}, {"format": "pdf", "pages": 3}, True),  # x-match "all" by default
    ({"format": "pdf", "pages": 3}, {"format": "pdf"}, False),
    ({"format": "pdf", "pages": 3, "x-match": "all"}, {"format": "pdf", "pages": 3}, True),
    ({"format": "pdf", "pages": 3, "x-match": "any"}, {"format": "pdf"}, True),
    ({"format": "pdf", "pages": 3, "x-match": "any"}, {"format": "zip", "pages": 4}, False),
    ({"format": "pdf", "x-match": "any"}, {}, False),
    ({"format": "pdf"}, {"format": "PDF"}, False),
    # keys starting with x- are not matched
    ({"x-format": "pdf", "format": "pdf"}, {"format": "pdf"}, True),
    ({"x-format": "pdf"}, {}, True),  # so "all" has no keys left: it takes everything
    ({"x-format": "pdf", "x-match": "any"}, {"x-format": "pdf"}, False),  # "any": nothing
    # no keys at all
    ({}, {}, True),
    ({}, {"a": 1}, True),
    ({"x-match": "all"}, {"a": 1}, True),
    ({"x-match": "any"}, {"a": 1}, False),
    # equal values of the same type
    ({"pages": 1}, {"pages": 1}, True),
    ({"pages": 1}, {"pages": "1"}, False),
    ({"pages": "1"}, {"pages": 1}, False),
    ({"pages": 1}, {"pages": 1.0}, False),
    ({"urgent": True}, {"urgent": 1}, False),
    ({"pages": 1, "x-match": "any"}, {"pages": "1"}, False),
    # a key with no value (None) asks only that the header be there
    ({"urgent": None}, {"urgent": False}, True),
    ({"urgent": None}, {}, False),
]


# == playing the tables on mqlab ================================================================
def play_drop_head_on_a_queue(s: DropHead) -> tuple[list, list]:
    """Put the messages into a standalone queue: (what it then delivers, what was dropped)."""
    q = {"fifo": lambda: FifoQueue(s.capacity, "drop-head"),
         "priority": lambda: PriorityQueue(s.capacity, "drop-head", max_priority=10),
         "sorted": lambda: SortedQueue(None, s.capacity, "drop-head")}[s.kind]()
    dropped = []
    for payload, p in s.publish:
        msg = (mq.Message(payload, headers={"deadline": p}) if s.kind == "sorted"
               else mq.Message(payload, priority=p))
        gone = q.put(msg)
        if gone is not None:
            dropped.append(gone.payload)
    return [q.get().payload for _ in range(len(q))], dropped


def play_drop_head_on_the_simulator(s: DropHead):
    """Publish to a queue whose consumer is away until all is in: (delivered, dropped, run)."""
    net = mq.Network(seed=1)
    net.broker("hub")
    opts = {"max_priority": 10} if s.kind == "priority" else {}
    net.queue("hub", "work", kind=s.kind, capacity=s.capacity, overflow="drop-head", **opts)
    net.consumer("reader", queue="work", service=0.1, crash=[(0.0, 100.0)])
    for i, (payload, p) in enumerate(s.publish):
        extra = {"headers": {"deadline": p}} if s.kind == "sorted" else {"priority": p}
        net.producer(f"p{i}", schedule=[float(i + 1)], routing_key="work",
                     payload=lambda _i, x=payload: x, **extra)
    run = net.run(until=200)
    name = {m: msg.payload for m, msg in run.trace.messages.items()}
    return ([name[e.msg] for e in run.trace.filter(kind="deliver")],
            [name[e.msg] for e in run.trace.filter(kind="drop", node="work")], run)


def play_dead_letters_on_the_simulator(s: DeadLetters):
    """Run the scenario: (what the consumers were handed, what is left in each queue, the raw
    x-death headers handed over, the run)."""
    net = mq.Network(seed=1)
    net.broker("hub")
    for name, opts in s.queues.items():
        net.queue("hub", name, **opts)
    for name, (kind, bound) in s.exchanges.items():
        net.exchange("hub", name, type=kind)
        for q in bound:
            net.bind(name, q)
    seen, raw = [], []
    for q, rejects in s.consumers.items():
        net.consumer(f"{q}-reader", queue=q, service=0.5, requeue=False,
                     handler=_watch(q, rejects, seen, raw))
    for i, (key, payload, opts) in enumerate(s.publish):
        net.producer(f"p{i}", schedule=[float(i)], routing_key=key,
                     payload=lambda _i, x=payload: x, **opts)
    run = net.run(until=50)
    return seen, run.still["queued"], raw, run


def _watch(queue, rejects, seen, raw):
    handed: dict = {}

    def handler(msg):
        h = msg.headers
        first = None
        if "x-first-death-reason" in h:
            first = (h["x-first-death-reason"], h["x-first-death-queue"],
                     h["x-first-death-exchange"])
        deaths = h.get("x-death", [])
        seen.append((queue, msg.payload, msg.expiration,
                     [{k: v for k, v in d.items() if k != "time"} for d in deaths], first))
        raw.append(deaths)
        handed[msg.payload] = handed.get(msg.payload, 0) + 1
        return handed[msg.payload] > rejects  # False rejects it

    return handler


def routed_by_the_simulator(arguments: dict, headers: dict) -> bool:
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "hx", type="headers")
    net.queue("hub", "q")
    net.bind("hx", "q", arguments=arguments)
    net.producer("p", schedule=[0.0], exchange="hx", routing_key="any.key", headers=headers)
    run = net.run(until=1)
    return [e.kind for e in run.trace.filter(kind=["enqueue", "drop"])] == ["enqueue"]


# == the tests ==================================================================================
def ids(table):
    return [s.name for s in table]


@pytest.mark.parametrize("s", DROP_HEAD, ids=ids(DROP_HEAD))
def test_drop_head_on_a_standalone_queue(s):
    assert play_drop_head_on_a_queue(s) == (s.left, s.dropped)


@pytest.mark.parametrize("s", DROP_HEAD, ids=ids(DROP_HEAD))
def test_drop_head_in_the_simulator(s):
    delivered, dropped, run = play_drop_head_on_the_simulator(s)
    assert (delivered, dropped) == (s.left, s.dropped)
    # every dropped message was recorded entering the queue before it left: the trace adds up
    for e in run.trace.filter(kind="drop", node="work"):
        assert e.info == "overflow"
        kinds = [x.kind for x in run.trace.filter(msg=e.msg, node="work")]
        assert kinds == ["enqueue", "drop"]
    assert run.summary().balanced
    times, lengths = metrics.queue_length(run.trace, "work")
    assert max(dict(zip(times, lengths, strict=True)).values()) <= s.capacity
    assert lengths[-1] == 0


def test_a_new_top_priority_message_is_recorded_entering_then_dropped_at_once():
    s = DROP_HEAD[1]
    _, _, run = play_drop_head_on_the_simulator(s)
    assert [(e.time, e.kind, e.msg, e.info) for e in run.trace.filter(
        kind=["enqueue", "drop"])] == [
        (1.0, "enqueue", 1, ""), (2.0, "enqueue", 2, ""), (3.0, "enqueue", 3, ""),
        (4.0, "enqueue", 4, ""), (4.0, "drop", 4, "overflow")]
    assert metrics.account(run.trace).dropped == {"overflow": 1}


@pytest.mark.parametrize("s", DEAD_LETTERS, ids=ids(DEAD_LETTERS))
def test_dead_lettering_in_the_simulator(s):
    seen, left, _, run = play_dead_letters_on_the_simulator(s)
    assert seen == s.seen
    assert left == s.left
    assert run.summary().balanced


def test_x_death_times_are_the_simulated_times_and_a_count_keeps_its_first_time():
    retry = next(s for s in DEAD_LETTERS if s.name.startswith("a retry loop"))
    _, _, raw, _ = play_dead_letters_on_the_simulator(retry)
    # rejected at 0.5 and 2.0, expired at 1.5 and 3.0; RabbitMQ 3.10 raises the count of an
    # entry and leaves its time as it was
    assert [[d["time"] for d in deaths] for deaths in raw] == [[], [1.5, 0.5], [1.5, 0.5]]


def test_a_cycle_is_dropped_where_it_would_close():
    cycle = next(s for s in DEAD_LETTERS if s.name.startswith("a cycle"))
    _, _, _, run = play_dead_letters_on_the_simulator(cycle)
    assert [(e.time, e.kind, e.node, e.peer, e.info) for e in run.trace.filter(
        kind=["dead-letter", "expire", "drop"])] == [
        (1.0, "dead-letter", "a", "b", "expired"),
        (2.0, "expire", "b", "", "")]  # back to a, where it was dead-lettered from: dropped


def test_fanned_out_dead_letters_do_not_share_headers():
    handed = []
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "work", message_ttl=1.0, dead_letter="dlx")
    net.exchange("hub", "dlx", type="fanout")
    for q in ["dlq1", "dlq2"]:
        net.queue("hub", q)
        net.bind("dlx", q)
        net.consumer(f"{q}-reader", queue=q, service=0.5, handler=handed.append)
    net.producer("p", schedule=[0.0], routing_key="work", headers={"tag": "t"})
    net.run(until=5)
    a, b = handed
    assert a.id == b.id and a is not b
    assert a.headers == b.headers
    assert a.headers is not b.headers
    assert a.headers["x-death"] is not b.headers["x-death"]
    assert a.headers["x-death"][0] is not b.headers["x-death"][0]
    assert a.headers["x-death"][0]["routing-keys"] is not b.headers["x-death"][0]["routing-keys"]


@pytest.mark.parametrize(("arguments", "headers", "routed"), HEADERS)
def test_headers_match_as_a_pure_function(arguments, headers, routed):
    assert headers_match(arguments, headers) is routed


@pytest.mark.parametrize(("arguments", "headers", "routed"), HEADERS)
def test_headers_exchange_in_the_simulator(arguments, headers, routed):
    assert routed_by_the_simulator(arguments, headers) is routed


def test_the_headers_table_covers_both_answers_and_both_modes():
    assert sum(r for *_, r in HEADERS) >= 8 and sum(not r for *_, r in HEADERS) >= 8
    assert {a.get("x-match", "all") for a, _, _ in HEADERS} == {"all", "any"}


def test_headers_routes_are_not_cached_by_routing_key():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "docs", type="headers")
    for q, fmt in [("pdfs", "pdf"), ("zips", "zip")]:
        net.queue("hub", q)
        net.bind("docs", q, arguments={"format": fmt, "x-match": "any"})
    for i, fmt in enumerate(["pdf", "zip", "pdf", "doc"]):
        net.producer(f"p{i}", schedule=[float(i)], exchange="docs", routing_key="same",
                     headers={"format": fmt})
    run = net.run(until=10)
    assert [(e.msg, e.kind, e.peer or e.info) for e in run.trace.filter(
        kind=["route", "drop"])] == [
        (1, "route", "pdfs"), (2, "route", "zips"), (3, "route", "pdfs"),
        (4, "drop", "unroutable")]
    assert run.summary().balanced


def test_a_headers_binding_is_drawn_with_a_short_readable_label():
    net = mq.Network()
    net.broker("hub")
    net.exchange("hub", "docs", type="headers")
    for q in ["a", "b", "c", "d"]:
        net.queue("hub", q)
    net.bind("docs", "a", arguments={"format": "pdf", "x-match": "any"})
    net.bind("docs", "b", arguments={"format": "pdf", "pages": 3, "urgent": None})
    net.bind("docs", "c")
    net.bind("docs", "d", arguments={"x-match": "any"})
    labels = {q: net.graph.edges["docs", q]["pattern"] for q in "abcd"}
    assert labels == {"a": "any: format=pdf", "b": "all: format=pdf, pages=3, urgent",
                      "c": "all: every message", "d": "any: no message"}
    assert net.graph.edges["docs", "a"]["kind"] == "binding"
    assert net.exchanges["docs"].bindings[0].arguments == {"format": "pdf", "x-match": "any"}


def bind_with(exchange_type="headers", **kw):
    def go():
        net = mq.Network()
        net.broker("hub")
        net.exchange("hub", "x", type=exchange_type)
        net.queue("hub", "q")
        net.bind("x", "q", **kw)
    return go


@pytest.mark.parametrize(("call", "error", "words"), [
    (bind_with(arguments=["format", "pdf"]), TypeError, ["arguments must be a dict"]),
    (bind_with(arguments="format=pdf"), TypeError, ["arguments must be a dict"]),
    (bind_with(arguments={1: "pdf"}), TypeError, ["arguments keys", "strings"]),
    (bind_with(arguments={"x-match": "some"}), ValueError, ["x-match", "'all' or 'any'"]),
    (bind_with(arguments={"x-match": None}), ValueError, ["x-match", "'all' or 'any'"]),
    (bind_with(pattern="pdf.#"), ValueError, ["pattern", "headers exchange", "arguments="]),
    (bind_with("direct", arguments={"format": "pdf"}), ValueError,
     ["arguments only apply to headers exchanges", "direct"]),
    (bind_with("topic", pattern="#", arguments={}), ValueError, ["arguments", "topic"]),
    (bind_with("fanout", arguments={}), ValueError, ["arguments", "fanout"]),
])
def test_bad_bind_arguments_are_refused_clearly(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_headers_match_refuses_what_is_not_a_dict_or_a_known_x_match():
    with pytest.raises(TypeError, match="dicts"):
        headers_match({"a": 1}, None)
    with pytest.raises(ValueError, match="x-match"):
        headers_match({"x-match": "ANY"}, {})
