"""Bad input gets a clear error at once: the right exception, naming the parameter and what
is allowed, never a crash deep inside a run."""

import math

import pytest

import mqlab as mq
from mqlab import metrics, theory
from mqlab.simulation import SimulationError

NAN, INF = math.nan, math.inf


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


def model(producer=(), consumer=(), to_hub=None, to_worker=None):
    """A small system run for 5 s; the producer 'p' sends 3 messages to 'jobs', read by 'w'.
    A mistake in what a distribution or a handler gives shows only when it runs."""
    def go():
        net = mq.Network(seed=1)
        net.broker("hub")
        net.queue("hub", "jobs")
        net.producer("p", **{"rate": 1.0, "routing_key": "jobs", "count": 3, **dict(producer)})
        net.consumer("w", **{"queue": "jobs", **dict(consumer)})
        if to_hub is not None:
            net.link("p", "hub", latency=to_hub)
        if to_worker is not None:
            net.link("hub", "w", latency=to_worker)
        net.run(until=5, progress=False)
    return go


def draws(*values):
    """A distribution that draws these values in turn (then the last one again)."""
    values = list(values)
    return lambda rng: values.pop(0) if len(values) > 1 else values[0]


def fail(message):
    raise ZeroDivisionError("the handler's own bug")


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
    ("unknown exchange type", lambda: system().exchange("hub", "x2", type="fancy"),
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
     "max_priority", "0 to 255"),
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
    # values inside lists and choices, and None, are checked when the producer is declared
    ("routing key list holding a number", producer(routing_key=["jobs", 5]), TypeError,
     "routing_key", "str, got 5"),
    ("routing key dict holding None", producer(routing_key={"jobs": 2, None: 1}), TypeError,
     "routing_key", "str, got None"),
    ("routing key a choice holding a number", producer(routing_key=mq.choice(["jobs", 3])),
     TypeError, "routing_key", "str, got 3"),
    ("routing key None", producer(routing_key=None), TypeError, "routing_key", "str"),
    ("routing key an empty list", producer(routing_key=[]), ValueError, "routing_key",
     "not be empty"),
    ("routing key weight negative", producer(routing_key={"jobs": -1}), ValueError,
     "routing_key", ">= 0"),
    ("priority list holding a float", producer(priority=[1, 2.5]), TypeError, "priority",
     "int from 0 to 255"),
    ("priority list holding a bool", producer(priority=[1, True]), TypeError, "priority",
     "int from 0 to 255"),
    ("priority dict holding 300", producer(priority={1: 3, 300: 1}), ValueError, "priority",
     "0 to 255"),
    ("priority above 255", producer(priority=256), ValueError, "priority", "0 to 255"),
    ("priority negative", producer(priority=-1), ValueError, "priority", "0 to 255"),
    ("priority True", producer(priority=True), TypeError, "priority", "int"),
    ("service choice holding a negative", consumer(service=mq.choice([0.1, -1.0])), ValueError,
     "service", ">= 0"),
    ("latency choice holding text", link(latency=mq.choice([0.1, "slow"])), TypeError,
     "latency", "number"),
    ("interval a Fixed zero", producer(rate=None, interval=mq.dist.Fixed(0)), ValueError,
     "interval", "> 0"),
    # flags are real bools
    ("requeue as text", consumer(requeue="false"), TypeError, "requeue", "True or False"),
    ("requeue as 0", consumer(requeue=0), TypeError, "requeue", "True or False"),
    ("requeue None", consumer(requeue=None), TypeError, "requeue", "True or False"),
    # no infinite (or NaN) bounds
    ("uniform up to infinity", lambda: mq.uniform(0, INF), ValueError, "high", "finite"),
    ("uniform up to NaN", lambda: mq.uniform(0, NAN), ValueError, "high", "finite"),
    ("exponential mean infinite", lambda: mq.exponential(INF), ValueError, "mean", "finite"),
    ("normal sd infinite", lambda: mq.normal(1.0, INF), ValueError, "sd", "finite"),
    ("choice weight infinite", lambda: mq.choice({"a": INF}), ValueError, "weight", "finite"),
    ("latency infinite", link(latency=INF), ValueError, "latency", "finite"),
    ("run until infinity", lambda: system().run(until=INF), ValueError, "until", "finite"),
    ("theory with an infinite rate", lambda: theory.mm1(lam=INF, mu=1.0), ValueError, "lam",
     "finite"),
    ("engine delay NaN", lambda: mq.Engine().schedule(NAN, print), ValueError, "delay", ">= 0"),
    ("engine delay infinite", lambda: mq.Engine().schedule(INF, print), ValueError, "delay",
     "finite"),
    ("engine time NaN", lambda: mq.Engine().at(NAN, print), ValueError, "time", "finite"),
    ("engine run until NaN", lambda: mq.Engine().run(until=NAN), ValueError, "until",
     "finite"),
    # names that are blamed right
    ("dead_letter empty", queue(dead_letter=""), ValueError, "dead_letter", "empty name"),
    ("standalone max_priority above 255", lambda: mq.PriorityQueue(max_priority=256),
     ValueError, "max_priority", "0 to 255"),
    ("standalone max_priority as text", lambda: mq.PriorityQueue(max_priority="5"), TypeError,
     "max_priority", "0 to 255"),
    ("max_priority True", queue(kind="priority", max_priority=True), TypeError, "max_priority",
     "0 to 255"),
    ("crash not a list", consumer(crash=5.0), TypeError, "crash", "(down, up)"),
    # found only when the model runs: the error names the node and the quantity
    ("service drawn NaN", model(consumer={"service": draws(NAN)}), SimulationError,
     "consumer 'w'", "service"),
    ("service drawn negative", model(consumer={"service": draws(0.1, -0.5)}), SimulationError,
     "consumer 'w'", "service"),
    ("service drawn infinite", model(consumer={"service": draws(INF)}), SimulationError,
     "consumer 'w'", "service"),
    ("service drawn as text", model(consumer={"service": draws("0.1")}), SimulationError,
     "consumer 'w'", "service"),
    ("latency to the broker drawn NaN", model(to_hub=draws(NAN)), SimulationError,
     "link 'p -> hub'", "latency"),
    ("latency to the broker drawn negative", model(to_hub=lambda rng: rng.uniform(-1.0, 0.0)),
     SimulationError, "link 'p -> hub'", "latency"),
    ("latency to the consumer drawn NaN", model(to_worker=draws(NAN)), SimulationError,
     "link 'hub -> w'", "latency"),
    ("interval drawn NaN", model(producer={"rate": None, "interval": draws(NAN)}),
     SimulationError, "producer 'p'", "interval"),
    ("interval drawn negative", model(producer={"rate": None, "interval": draws(1.0, -1.0)}),
     SimulationError, "producer 'p'", "interval"),
    ("routing key drawn a number", model(producer={"routing_key": lambda rng: 5}),
     SimulationError, "producer 'p'", "routing_key must be a str"),
    ("priority drawn 300", model(producer={"priority": lambda rng: 300}), SimulationError,
     "producer 'p'", "priority must be an int from 0 to 255"),
    ("handler raising", model(consumer={"handler": fail}), SimulationError, "consumer 'w'",
     "message 1"),
    ("payload raising", model(producer={"payload": lambda i: 1 / 0}), SimulationError,
     "producer 'p'", "message 1"),
    # looking at a run
    ("play a run kept without a trace", lambda: small_run(trace=False).play(), ValueError,
     "trace=False", "trace=True"),
    ("summarise a run kept without a trace", lambda: small_run(trace=False).summary(),
     ValueError, "trace=False", "trace=True"),
    ("follow a message that is not in the run", lambda: small_run().play(follow=999),
     ValueError, "follow", "1 to 3"),
    ("follow a message by name", lambda: small_run().play(follow="3"), TypeError, "follow",
     "message id"),
    ("filter by a kind that is a number", lambda: small_run().trace.filter(kind=5), TypeError,
     "kind", "publish"),
    ("filter by a misspelt kind", lambda: small_run().trace.filter(kind="acked"), ValueError,
     "kind", "'ack'"),
    ("latency from a made-up event", lambda: metrics.latencies(small_run().trace,
                                                               start="created"),
     ValueError, "start", "'create'"),
    ("latency from creation without messages",
     lambda: metrics.latencies(mq.Trace(small_run().trace.rows), start="create"), ValueError,
     "start='create'", "start='publish'"),
    ("state at a time given as text", lambda: small_run().state("10"), TypeError, "t",
     "seconds"),
    ("run with trace as text", lambda: system().run(until=5, trace="no"), TypeError, "trace",
     "True or False"),
    ("run with progress as text", lambda: system().run(until=5, progress="false"), TypeError,
     "progress", "True or False"),
    # request timeouts (lesson 02)
    ("timeout on an async producer", producer(timeout=1.0), ValueError, "timeout",
     "mode='sync'"),
    ("zero timeout", producer(mode="sync", timeout=0), ValueError, "timeout", "> 0"),
    ("NaN timeout", producer(mode="sync", timeout=float("nan")), ValueError, "timeout",
     "finite"),
    ("negative retries", producer(mode="sync", timeout=1.0, retries=-1), ValueError,
     "retries", ">= 0"),
    ("retries as a fraction", producer(mode="sync", timeout=1.0, retries=1.5), TypeError,
     "retries", "int"),
    ("retries without a timeout", producer(mode="sync", retries=2), ValueError, "retries",
     "timeout"),
    # priority aging and eviction (lesson 03)
    ("aging on a FIFO queue", queue(aging=1.0), ValueError, "aging", "kind='priority'"),
    ("negative aging", queue(kind="priority", aging=-1.0), ValueError, "aging", "> 0"),
    ("aging as text", queue(kind="priority", aging="fast"), TypeError, "aging", "number"),
    ("infinite aging", lambda: mq.PriorityQueue(aging=float("inf")), ValueError, "aging",
     "> 0"),
    ("a clock without aging", lambda: mq.PriorityQueue(clock=lambda: 0.0), ValueError,
     "clock", "aging"),
    ("misspelt drop-lowest", lambda: mq.FifoQueue(capacity=2, overflow="drop-lowst"),
     ValueError, "overflow", "'drop-lowest'"),
    # traced threads (lesson 01)
    ("negative semaphore", lambda: mq.TracedSemaphore("machines", value=-1), ValueError,
     "value", ">= 0"),
    ("lock named by a number", lambda: mq.TracedLock(5), TypeError, "name", "string"),
    ("condition on a plain object", lambda: mq.TracedCondition("ready", lock=object()),
     TypeError, "lock", "TracedLock"),
]


def small_run(trace=True):
    """Three messages through one queue: a finished run to look at."""
    return system().run(until=10, trace=trace, progress=False)


@pytest.mark.parametrize(("what", "call", "error", "param", "allowed"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(what, call, error, param, allowed):
    with pytest.raises(error) as exc:
        call()
    message = str(exc.value)
    assert param in message, f"{what}: the message should name {param!r}: {message}"
    assert allowed in message, f"{what}: the message should say what is allowed: {message}"


def test_the_table_is_broad():
    assert len(CASES) >= 100
    assert {c[2] for c in CASES} == {ValueError, TypeError, SimulationError}


def test_the_mistake_is_reported_where_it_was_made_not_at_run_time():
    net = system()
    with pytest.raises(ValueError):
        net.consumer("w2", queue="jobs", prefetch=0)
    # the failed call left nothing half-built behind
    assert "w2" not in net.graph and "w2" not in net.consumers
    assert net.run(until=5, progress=False).summary().balanced


def test_a_handler_that_raises_names_the_consumer_the_message_and_the_time():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.producer("p", schedule=[1.0, 2.0, 3.0], routing_key="jobs")
    net.consumer("w", queue="jobs", service=0.5,
                 handler=lambda m: m.id < 2 or fail(m))  # message 2 hits the bug
    with pytest.raises(SimulationError) as exc:
        net.run(until=10, progress=False)
    assert isinstance(exc.value, RuntimeError)
    message = str(exc.value)
    for words in ("consumer 'w'", "message 2", "t=2.5 s", "ZeroDivisionError",
                  "the handler's own bug"):
        assert words in message, message
    assert isinstance(exc.value.__cause__, ZeroDivisionError)  # the original, chained


@pytest.mark.parametrize(("what", "change", "words"), [
    ("service", {"consumer": {"service": draws(0.25, NAN)}},
     ["consumer 'w'", "service nan", "t=", ">= 0"]),
    ("interval", {"producer": {"rate": None, "interval": draws(1.0, 2.0, -3.0)}},
     ["producer 'p'", "interval -3.0", "t=3 s", ">= 0"]),
    ("latency", {"to_hub": draws(0.5, -0.25)},
     ["link 'p -> hub'", "latency -0.25", "t=", ">= 0"]),
    ("consumer link", {"to_worker": draws(INF)},
     ["link 'hub -> w'", "latency inf", "t=", "finite"]),
])
def test_a_bad_drawn_value_names_the_node_the_quantity_the_value_and_the_time(what, change,
                                                                              words):
    with pytest.raises(SimulationError) as exc:
        model(**change)()
    for word in words:
        assert word in str(exc.value), f"{what}: {word!r} missing from: {exc.value}"
    assert exc.value.__cause__ is None  # the engine's own complaint is replaced, not chained


def test_a_bad_drawn_value_never_freezes_the_clock():
    """A NaN time used to sit at the top of the heap: nothing after it ran, the clock read the
    end and the run looked fine. Now the run stops at once."""
    with pytest.raises(SimulationError, match="service nan"):
        model(consumer={"service": lambda rng: NAN})()


def test_a_link_from_the_queue_is_named_as_declared():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.producer("p", rate=1.0, routing_key="jobs", count=3)
    net.consumer("w", queue="jobs")
    net.link("jobs", "w", latency=draws(NAN))
    with pytest.raises(SimulationError, match="link 'jobs -> w' drew latency nan"):
        net.run(until=5, progress=False)


def test_a_sync_reply_with_a_bad_latency_names_the_link():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.producer("p", rate=1.0, routing_key="jobs", count=3, mode="sync")
    net.consumer("w", queue="jobs")
    net.link("p", "hub", latency=draws(0.1, NAN))  # the request goes, the reply cannot
    with pytest.raises(SimulationError, match="link 'p -> hub' drew latency nan"):
        net.run(until=5, progress=False)


def test_lists_and_choices_are_checked_option_by_option_at_build_time():
    net = system()
    with pytest.raises(TypeError, match="each option of routing_key must be a str, got 5"):
        net.producer("p2", rate=1.0, routing_key=["jobs", 5])
    with pytest.raises(ValueError, match="each option of priority .* got 300"):
        net.producer("p2", rate=1.0, priority={1: 1, 300: 1})
    assert "p2" not in net.graph  # nothing half-built
    net.producer("p2", rate=1.0, routing_key={"jobs": 3, "other": 1}, priority=[None, 0, 255])


def test_standalone_and_network_queues_refuse_max_priority_alike():
    with pytest.raises(ValueError) as standalone:
        mq.PriorityQueue(max_priority=256)
    with pytest.raises(ValueError) as declared:
        system().queue("hub", "q2", kind="priority", max_priority=256)
    assert str(standalone.value) == str(declared.value)
    mq.PriorityQueue(max_priority=255)
