"""mqlab.rabbit (a Network run on a real RabbitMQ, recorded as a Trace) and
mqlab.rabbit_server (a private, loopback-only broker)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import mqlab as mq
from mqlab import rabbit
from mqlab.rabbit_server import RabbitServer, alive, listening
from mqlab.trace import KINDS

CLOSED = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1


def small_network(**queue):
    net = mq.Network(seed=5)
    net.broker("hub")
    net.queue("hub", "jobs", **queue)
    net.consumer("w1", queue="jobs", service=0.03)
    net.consumer("w2", queue="jobs", service=0.05)
    net.producer("sensor", interval=0.02, routing_key="jobs", count=20,
                 payload=lambda i: f"m{i}")
    return net


# -- without a broker ---------------------------------------------------------------------------
def test_available_says_no_quickly_and_never_raises():
    start = time.monotonic()
    assert rabbit.available(CLOSED, timeout=0.5) is False
    assert rabbit.available("not a url", timeout=0.5) is False
    assert rabbit.available(None) is False
    assert time.monotonic() - start < 3


def test_a_run_with_no_broker_names_the_url_and_how_to_start_one():
    with pytest.raises(rabbit.BrokerUnavailable) as info:
        rabbit.run(small_network(), until=1, url=CLOSED)
    text = str(info.value)
    assert CLOSED in text and "python -m mqlab.rabbit_server start" in text
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize(("args", "error", "words"), [
    ({"until": 0}, ValueError, "until"),
    ({"until": "5"}, ValueError, "until"),
    ({"until": 1, "url": "http://localhost"}, ValueError, "AMQP URL"),
    ({"until": 1, "progress": "no"}, TypeError, "progress"),
])
def test_bad_arguments_are_refused_clearly(args, error, words):
    with pytest.raises(error, match=words):
        rabbit.run(small_network(), **({"url": CLOSED} | args))


def unsupported(change):
    net = small_network()
    change(net)
    return net


UNSUPPORTED = [
    ("two brokers", lambda n: n.broker("other"), "one broker"),
    ("a sorted queue", lambda n: n.queue("hub", "s", kind="sorted"), "sorted"),
    ("aging", lambda n: n.queue("hub", "a", kind="priority", aging=1.0), "aging"),
    ("overflow block", lambda n: n.queue("hub", "b", capacity=1, overflow="block"), "block"),
    ("overflow drop-lowest", lambda n: n.queue("hub", "d", capacity=1,
                                               overflow="drop-lowest"), "drop-lowest"),
    ("a temporary queue", lambda n: n.queue("hub", "t", temporary=True), "temporary"),
    ("a partitioned log", lambda n: n.topic("hub", "orders"), "partitioned logs"),
    ("a sync producer", lambda n: n.producer("rpc", schedule=[0.0], routing_key="jobs",
                                             mode="sync"), "sync"),
    ("a crash", lambda n: n.consumer("c", queue="jobs", crash=[(1, 2)]), "crash"),
    ("link latency", lambda n: n.link("sensor", "hub", latency=0.1), "latency"),
    ("link loss", lambda n: n.link("sensor", "hub", loss=0.1), "loss"),
]


@pytest.mark.parametrize(("what", "change", "word"), UNSUPPORTED,
                         ids=[u[0] for u in UNSUPPORTED])
def test_what_the_real_broker_cannot_run_is_refused_before_connecting(what, change, word):
    net = unsupported(change)
    with pytest.raises(rabbit.NotSupported, match=word):
        rabbit.check(net)
    with pytest.raises(rabbit.NotSupported, match=word):
        rabbit.run(net, until=1, url=CLOSED)  # refused before any connection is tried
    assert issubclass(rabbit.NotSupported, ValueError)


def test_the_module_doc_lists_what_is_not_supported():
    doc = rabbit.__doc__
    for word in ("sorted", "aging", "block", "drop-lowest", "temporary", "partitioned logs",
                 "sync", "crash", "latency", "float"):
        assert word in doc


def test_importing_mqlab_does_not_load_pika():
    code = "import sys, mqlab; print('pika' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"port": 0}, "port"), ({"port": "5672"}, "port"), ({"memory": 256}, "memory"),
    ({"timeout": 0}, "timeout"),
])
def test_the_server_refuses_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RabbitServer(**kwargs)


def test_the_server_url_needs_a_start():
    with pytest.raises(RuntimeError, match="start"):
        _ = RabbitServer().url


# -- on the session's broker --------------------------------------------------------------------
SIMULATOR_ORDER = ["publish", "arrive", "route", "enqueue", "deliver", "arrive", "start", "ack"]


@pytest.mark.broker
def test_available_says_yes(rabbitmq_url):
    assert rabbit.available(rabbitmq_url) is True


@pytest.mark.broker
def test_a_real_run_is_a_trace_like_the_simulators(rabbitmq_url):
    net = small_network()
    run = rabbit.run(net, until=1.0, url=rabbitmq_url, progress=False)
    trace = run.trace
    assert isinstance(run, mq.Run) and run.url == rabbitmq_url
    times = trace.column("time")
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= trace.duration
    assert trace.duration >= 1.0
    assert set(trace.column("kind")) <= set(KINDS)
    assert set(trace.graph.nodes) == set(net.graph.nodes)
    assert len(trace.messages) == 20
    for mid in trace.messages:  # each message's rows in the simulator's order
        assert [e.kind for e in trace.filter(msg=mid)] == SIMULATOR_ORDER
        deliver = trace.filter(msg=mid, kind="deliver")[0]
        assert deliver.node == "jobs" and deliver.peer in ("w1", "w2")
    summary = run.summary()
    assert summary.balanced and summary.account.acked == 20
    assert set(summary.consumers) == {"w1", "w2"}
    assert summary.consumers["w1"]["processed"] + summary.consumers["w2"]["processed"] == 20
    # service times were waited out for real
    for e in trace.filter(kind="ack"):
        start = trace.filter(msg=e.msg, kind="start")[0].time
        assert e.time - start >= (0.03 if e.node == "w1" else 0.05) - 1e-3


@pytest.mark.broker
def test_a_run_stopped_midway_accounts_for_what_is_still_there(rabbitmq_url):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("slow", queue="jobs", service=0.3, prefetch=2)
    net.producer("p", schedule=[0.0] * 6, routing_key="jobs")
    run = rabbit.run(net, until=0.45, url=rabbitmq_url, progress=False)
    summary = run.summary()
    assert summary.balanced
    assert summary.account.acked == 1
    assert summary.still["at_consumers"] == {"slow": 2}  # one in service, one waiting
    assert summary.still["queued"]["jobs"] == 3 == len(run.left["jobs"])
    sim = net.run(until=0.45).summary()
    assert (sim.account.acked, sim.still["at_consumers"], sim.still["queued"]) == (
        1, {"slow": 2}, {"jobs": 3})


@pytest.mark.broker
def test_a_player_and_a_rebuilt_run_read_a_real_trace(rabbitmq_url):
    import matplotlib

    matplotlib.use("Agg")
    run = rabbit.run(small_network(capacity=3), until=0.8, url=rabbitmq_url, progress=False)
    player = run.play(frames=20)
    try:
        assert player is not None
    finally:
        player.close()
    again = mq.Run.from_trace(run.trace)
    assert again.summary().balanced
    assert again.summary().account == run.summary().account


@pytest.mark.broker
def test_everything_declared_is_deleted(rabbitmq_url):
    import pika

    net = small_network(message_ttl=5.0, dead_letter="dlx")
    net.exchange("hub", "dlx", type="fanout")
    net.queue("hub", "dlq")
    net.bind("dlx", "dlq")
    run = rabbit.run(net, until=0.3, url=rabbitmq_url, progress=False)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        for name in ["jobs", "dlq", "~dropped"]:
            ch = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
                ch.queue_declare(run.prefix + name, passive=True)
        for name in ["dlx", "~dropped"]:
            ch = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
                ch.exchange_declare(run.prefix + name, passive=True)
    finally:
        conn.close()


@pytest.mark.broker
def test_a_failing_handler_stops_the_run_and_still_cleans_up(rabbitmq_url, monkeypatch):
    import os

    import pika

    monkeypatch.setattr(rabbit.secrets, "token_hex", lambda n: "f00d")
    prefix = f"mqlab.{os.getpid()}.f00d."

    def handler(msg):
        raise KeyError("boom")

    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("w", queue="jobs", handler=handler, service=0.01)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    with pytest.raises(mq.SimulationError, match="consumer 'w'.*KeyError") as info:
        rabbit.run(net, until=2, url=rabbitmq_url, progress=False)
    assert isinstance(info.value.__cause__, KeyError)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            ch.queue_declare(prefix + "jobs", passive=True)
    finally:
        conn.close()


@pytest.mark.broker
def test_drops_are_seen_with_their_reasons(rabbitmq_url):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "short", message_ttl=0.05)  # no consumer: they expire
    net.queue("hub", "full", capacity=1)  # no consumer: the heads are dropped
    net.queue("hub", "picky")
    net.consumer("no", queue="picky", service=0.01, handler=lambda m: False, requeue=False)
    net.queue("hub", "spill", capacity=1, dead_letter="overflow")
    for i, q in enumerate(["short", "short", "full", "full", "full", "picky", "spill",
                           "spill", "nowhere"]):
        net.producer(f"p{i}", schedule=[i * 0.01], routing_key=q)
    run = rabbit.run(net, until=0.4, url=rabbitmq_url, progress=False)
    t = run.trace
    assert [e.node for e in t.filter(kind="expire")] == ["short", "short"]
    drops = sorted((e.node, e.info) for e in t.filter(kind="drop"))
    assert drops == [("full", "overflow"), ("full", "overflow"), ("hub", "unroutable"),
                     ("picky", "nacked")]
    assert [(e.node, e.peer, e.info) for e in t.filter(kind="dead-letter")] == [
        ("spill", "overflow", "maxlen")]
    assert run.left == {"short": [], "full": [5], "picky": [], "spill": [8], "overflow": [7]}
    summary = run.summary()
    assert summary.balanced
    assert summary.account.dropped == {"nacked": 1, "overflow": 2, "ttl": 2, "unroutable": 1}
    sim = net.run(until=1).summary()
    assert sim.account.dropped == summary.account.dropped


@pytest.mark.broker
def test_auto_acks_and_requeues(rabbitmq_url):
    tries: dict = {}

    def second_time_lucky(msg):
        tries[msg.id] = tries.get(msg.id, 0) + 1
        return tries[msg.id] > 1  # the first time: requeued

    net = mq.Network(seed=2)
    net.broker("hub")
    net.queue("hub", "a")
    net.queue("hub", "b")
    net.consumer("auto", queue="a", ack="auto", service=0.02)
    net.consumer("again", queue="b", service=0.02, handler=second_time_lucky)
    net.producer("pa", schedule=[0.0, 0.0, 0.0], routing_key="a")
    net.producer("pb", schedule=[0.0, 0.0], routing_key="b")
    run = rabbit.run(net, until=0.6, url=rabbitmq_url, progress=False)
    t = run.trace
    assert {e.info for e in t.filter(kind="ack", node="auto")} == {"auto"}
    assert len(t.filter(kind="ack", node="auto")) == 3
    assert len(t.filter(kind="requeue", node="b")) == 2
    assert len(t.filter(kind="ack", node="again")) == 2
    assert run.summary().balanced


# -- the server itself ------------------------------------------------------------------------
@pytest.mark.broker
def test_the_command_line_starts_and_stops_a_loopback_only_broker(rabbitmq_server, tmp_path):
    # (the session's broker proves rabbitmq-server runs here; this one is started by the CLI)
    base = tmp_path / "rmq"
    cli = [sys.executable, "-m", "mqlab.rabbit_server"]
    started = subprocess.run([*cli, "start", "--base", str(base)], capture_output=True,
                             text=True, timeout=120)
    server = RabbitServer.attach(base)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url.startswith("amqp://guest:guest@127.0.0.1:") and server.url == url
        assert rabbit.available(url)
        status = subprocess.run([*cli, "status", "--base", str(base)], capture_output=True,
                                text=True)
        assert status.returncode == 0 and url in status.stdout
        again = subprocess.run([*cli, "start", "--base", str(base)], capture_output=True,
                               text=True)
        assert again.stdout.strip() == url  # already running: the same broker
        pids, ports = server.pids, server.ports
        assert len(pids) == 3 and all(alive(p) for p in pids) and len(set(ports)) == 3
        sockets = listening(pids)
        assert {port for _, port, _ in sockets} >= set(ports)
        assert all(a.startswith("127.") or a == "::1" for a, _, _ in sockets), sockets
    finally:
        stopped = subprocess.run([*cli, "stop", "--base", str(base)], capture_output=True,
                                 text=True, timeout=120)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)]
    assert not [s for s in listening() if s[1] in ports]
    assert not rabbit.available(url, timeout=0.5)
    status = subprocess.run([*cli, "status", "--base", str(base)], capture_output=True,
                            text=True)
    assert status.returncode == 3 and "not running" in status.stdout
