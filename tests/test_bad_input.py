"""Bad input gets a clear error at once: the right exception, naming the parameter and what
is allowed, never a crash deep inside a run."""

import pytest

import mqlab as mq
from mqlab import metrics, theory


def system(brokers=("hub",)):
    """A small valid system to make one mistake in."""
    net = mq.Network(seed=1)
    for b in brokers:
        net.broker(b)
    net.queue(brokers[0], "jobs")
    net.exchange(brokers[0], "events", type="topic")
    net.consumer("w", queue="jobs")
    net.producer("p", rate=1.0, routing_key="jobs", count=3)
    return net


def producer(**kw):
    options = {"rate": 1.0, **kw}
    return lambda: system().producer("p2", **options)


def queue(**kw):
    return lambda: system().queue("hub", "q2", **kw)


def consumer(**kw):
    options = {"queue": "jobs", **kw}
    return lambda: system().consumer("w2", **options)


def link(source="p", target="hub", **kw):
    return lambda: system().link(source, target, **kw)


def resolve_with(change, brokers=("hub",)):
    """A mistake only the whole system shows, found when it is run."""
    def go():
        net = system(brokers)
        change(net)
        net.run(until=5, progress=False)
    return go


# (what is wrong, the call, the exception, the parameter named, a word about what is allowed)
CASES = [
    ("negative rate", producer(rate=-2.0), ValueError, "rate", "> 0"),
    ("zero rate", producer(rate=0), ValueError, "rate", "> 0"),
    ("rate as text", producer(rate="fast"), TypeError, "rate", "number"),
    ("zero interval", producer(rate=None, interval=0), ValueError, "interval", "> 0"),
    ("two timings", producer(interval=1.0), ValueError, "rate", "exactly one"),
    ("no timing", producer(rate=None), ValueError, "schedule", "exactly one"),
    ("schedule out of order", producer(rate=None, schedule=[2.0, 1.0]), ValueError,
     "schedule", "increasing"),
    ("negative schedule time", producer(rate=None, schedule=[-1.0]), ValueError,
     "schedule", ">= 0"),
    ("unknown mode", producer(mode="fast"), ValueError, "mode", "'sync'"),
    ("zero count", producer(count=0), ValueError, "count", ">= 1"),
    ("routing key a number", producer(routing_key=5), TypeError, "routing_key", "str"),
    ("priority as text", producer(priority="high"), TypeError, "priority", "int"),
    ("headers not a dict", producer(headers=["a"]), TypeError, "headers", "dict"),
    ("zero expiration", producer(expiration=0), ValueError, "expiration", "> 0"),
    ("payload not a function", producer(payload="x"), TypeError, "payload", "function"),
    ("unknown queue kind", queue(kind="lifo"), ValueError, "kind", "'priority'"),
    ("unknown overflow", queue(overflow="drop-tail"), ValueError, "overflow", "'drop-head'"),
    ("capacity zero", queue(capacity=0), ValueError, "capacity", ">= 1"),
    ("capacity not an int", queue(capacity=2.5), TypeError, "capacity", "int"),
    ("max_priority too big", queue(kind="priority", max_priority=300), ValueError,
     "max_priority", "0 to 255"),
    ("max_priority negative", queue(kind="priority", max_priority=-1), ValueError,
     "max_priority", "0 to 255"),
    ("max_priority on a fifo queue", queue(max_priority=3), ValueError, "max_priority",
     "kind='priority'"),
    ("negative ttl", queue(message_ttl=-1), ValueError, "message_ttl", "> 0"),
    ("sort key not a function", queue(kind="sorted", sort_key=3), TypeError, "sort_key",
     "function"),
    ("queue on a missing broker", lambda: system().queue("nowhere", "q2"), ValueError,
     "broker", "known"),
    ("unknown exchange type", lambda: system().exchange("hub", "x2", type="headers"),
     ValueError, "type", "'fanout'"),
    ("binding to a missing exchange", lambda: system().bind("ghost", "jobs"), ValueError,
     "exchange", "known"),
    ("binding a missing queue", lambda: system().bind("events", "ghost"), ValueError, "queue",
     "known"),
    ("duplicate node name", lambda: system().queue("hub", "w"), ValueError, "name",
     "own name"),
    ("consumer on a missing queue", consumer(queue="ghost"), ValueError, "queue", "known"),
    ("unknown ack mode", consumer(ack="sometimes"), ValueError, "ack", "'manual'"),
    ("prefetch zero", consumer(prefetch=0), ValueError, "prefetch", ">= 1"),
    ("nack probability above 1", consumer(nack=1.5), ValueError, "nack", "between 0 and 1"),
    ("nack with auto ack", consumer(nack=0.5, ack="auto"), ValueError, "nack",
     "ack='manual'"),
    ("handler not callable", consumer(handler="print"), TypeError, "handler", "function"),
    ("negative service time", consumer(service=-0.5), ValueError, "service", ">= 0"),
    ("crash window up before down", consumer(crash=[(5.0, 5.0)]), ValueError, "crash",
     "up > down"),
    ("crash window not a pair", consumer(crash=[5.0]), ValueError, "crash", "(down, up)"),
    ("link to a missing node", link(target="ghost"), ValueError, "target", "known"),
    ("link from a missing node", link(source="ghost", target="w"), ValueError, "source",
     "known"),
    ("loss above 1", link(loss=2.0), ValueError, "loss", "between 0 and 1"),
    ("negative duplicate", link(duplicate=-0.1), ValueError, "duplicate", "between 0 and 1"),
    ("negative latency", link(latency=-1), ValueError, "latency", ">= 0"),
    ("consumer link from another queue", lambda: (lambda n: (n.queue("hub", "other"),
                                                             n.link("other", "w")))(system()),
     ValueError, "source", "reads from"),
    ("seed not an int", lambda: mq.Network(seed="seven"), TypeError, "seed", "int"),
    ("run until -1", lambda: system().run(until=-1), ValueError, "until", "> 0"),
    ("run forever with no count", lambda: (lambda n: (n.producer("p2", rate=1.0),
                                                      n.run()))(system()),
     ValueError, "until", "count"),
    ("producer without a broker when there are two",
     resolve_with(lambda n: None, brokers=("hub", "hub2")),
     ValueError, "net.link", "'hub2'"),
    ("dead_letter naming a consumer", resolve_with(
        lambda n: n.queue("hub", "q2", dead_letter="w")), ValueError, "dead_letter", "known"),
    ("dead_letter to a queue of another broker", resolve_with(
        lambda n: (n.queue("hub2", "far"), n.queue("hub", "q2", dead_letter="far"),
                   n.link("p", "hub")), brokers=("hub", "hub2")),
     ValueError, "dead_letter", "broker 'hub'"),
    ("dead_letter not a name", queue(dead_letter=3), TypeError, "dead_letter", "queue"),
    ("producer linked to two brokers", lambda: (lambda n: (n.link("p", "hub"),
                                                           n.link("p", "hub2")))(
        system(("hub", "hub2"))), ValueError, "target", "one broker"),
    ("standalone queue capacity", lambda: mq.FifoQueue(capacity=-3), ValueError, "capacity",
     ">= 1"),
    ("standalone queue overflow", lambda: mq.FifoQueue(overflow="spill"), ValueError,
     "overflow", "'block'"),
    ("standalone max_priority", lambda: mq.PriorityQueue(max_priority=-1), ValueError,
     "max_priority", ">= 0"),
    ("sorted queue key", lambda: mq.SortedQueue(key="deadline"), TypeError, "key",
     "function"),
    ("message priority a float", lambda: mq.Message(priority=2.5), TypeError, "priority",
     "int"),
    ("exponential mean zero", lambda: mq.exponential(0), ValueError, "mean", "> 0"),
    ("uniform high below low", lambda: mq.uniform(2.0, 1.0), ValueError, "high", ">= low"),
    ("choice of nothing", lambda: mq.choice([]), ValueError, "options", "not be empty"),
    ("mm1 overloaded", lambda: theory.mm1(lam=1.0, mu=1.0), ValueError, "lam", "< mu"),
    ("mmc overloaded", lambda: theory.mmc(lam=3.0, mu=1.0, c=3), ValueError, "lam",
     "< c * mu"),
    ("mmc zero servers", lambda: theory.mmc(1.0, 2.0, c=0), ValueError, "c", ">= 1"),
    ("mm1k zero room", lambda: theory.mm1k(1.0, 2.0, K=0), ValueError, "K", ">= 1"),
    ("negative arrival rate", lambda: theory.mm1(lam=-1.0, mu=1.0), ValueError, "lam", "> 0"),
    ("percentile above 100", lambda: metrics.percentile([1.0], 101), ValueError, "q",
     "between 0 and 100"),
    ("throughput window backwards", lambda: metrics.throughput(mq.Trace(), start=5, stop=1),
     ValueError, "stop", "after start"),
    ("unknown event kind", lambda: mq.Trace().filter(kind="acked"), ValueError, "kind",
     "'ack'"),
    ("unknown trace column", lambda: mq.Trace().column("colour"), ValueError, "name",
     "'time'"),
]


@pytest.mark.parametrize(("what", "call", "error", "param", "allowed"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(what, call, error, param, allowed):
    with pytest.raises(error) as exc:
        call()
    message = str(exc.value)
    assert param in message, f"{what}: the message should name {param!r}: {message}"
    assert allowed in message, f"{what}: the message should say what is allowed: {message}"


def test_the_table_is_broad():
    assert len(CASES) >= 25
    assert {c[2] for c in CASES} == {ValueError, TypeError}


def test_the_mistake_is_reported_where_it_was_made_not_at_run_time():
    net = system()
    with pytest.raises(ValueError):
        net.consumer("w2", queue="jobs", prefetch=0)
    # the failed call left nothing half-built behind
    assert "w2" not in net.graph and "w2" not in net.consumers
    assert net.run(until=5, progress=False).summary().balanced
