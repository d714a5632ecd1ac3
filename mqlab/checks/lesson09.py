"""Checks for lesson 09, "A real broker", the lesson's systems and its recorded real run.

    from mqlab.checks import lesson09 as check
    check.ex1(my_prediction)   # predict: the fast worker's latency on the real broker
    check.ex2(x_arguments)     # a queue's options -> RabbitMQ's x- arguments
    check.ex3(my_offsets)      # where a stream consumer starts: first, an offset, next
    check.ex4(my_permissions)  # configure / write / read for a user who declares, binds,
                               # reads and publishes

    check.work_queue(prefetch)         # section 1: a shop, a fast and a slow worker
    check.queue_tour()                 # section 2: priority, max-length, TTL + dead-letter
    check.topic_exchange()             # section 3: a topic exchange and three bindings
    check.recorded(name)               # the recorded real run of one of them (RUNS)
    check.rabbitmqctl_for(server, url) # run rabbitmqctl against the lesson's private broker

When no RabbitMQ is reachable, the lesson shows a run recorded on a real one instead: the
files in ``mqlab/data/lesson09/``, made by ``python -m mqlab.checks.lesson09`` (it starts a
private broker, runs every real step of the lesson on it, saves what it saw and stops it).
``MQLAB_RECORDED=1`` makes the lesson use the recording even when a broker is there.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from mqlab import security
from mqlab.checks import (
    Verdict,
    call_student,
    not_a_function,
    not_attempted,
    short,
    top_level_bar,
    unanchored,
)
from mqlab.metrics import latencies, percentile
from mqlab.network import Network
from mqlab.run import Run
from mqlab.trace import Trace

__all__ = ["CHOICES", "DATA", "KEYS", "MAILER", "OFFSET_TASKS", "PATTERNS", "RUNS",
           "SHOP_ATTEMPTS", "SHOP_COMMANDS", "STREAM",
           "WORK", "describe_broker", "ex1", "ex2", "ex3", "ex4", "legs", "queue_arguments",
           "queue_tour", "rabbitmqctl_for", "recorded", "recorded_attempts", "recorded_commands",
           "recorded_cut", "recorded_read", "recording_info", "routed_keys", "topic_exchange",
           "tour_outcomes", "use_recording", "work_queue", "worker_stats"]

DATA = Path(__file__).resolve().parent.parent / "data" / "lesson09"
"""Where the recorded real run is kept (shipped with the package)."""


def use_recording() -> bool:
    """True when ``MQLAB_RECORDED=1``: show the recording even if a broker is reachable."""
    return os.environ.get("MQLAB_RECORDED") == "1"


# -- the systems of the lesson ------------------------------------------------------------------

WORK = {"orders": 40, "interval": 0.05, "fast": 0.02, "slow": 0.15}
"""Section 1's shop: orders it sends, seconds between them, seconds of work per order at the
fast and at the slow worker. Lesson 04's shop, ten times faster (its links took 0.1 s;
here the model's links take no time: the real network's own delay is what is measured)."""


def work_queue(prefetch: int | None) -> Network:
    """A shop sends 40 orders, one every 0.05 s, to the queue ``orders``; two competing
    consumers share them: ``fast`` (0.02 s per order) and ``slow`` (0.15 s per order), both
    with the same ``prefetch`` (None: no limit)."""
    d = WORK
    net = Network(seed=1)
    net.producer("shop", interval=d["interval"], count=d["orders"], routing_key="orders")
    net.broker("hub")
    net.queue("hub", "orders")
    net.consumer("fast", queue="orders", service=d["fast"], prefetch=prefetch)
    net.consumer("slow", queue="orders", service=d["slow"], prefetch=prefetch)
    return net


def queue_tour() -> Network:
    """Three small systems on one broker, each a queue argument at work:

    - ``jobs``, a priority queue (``max_priority=9``): 5 reports (priority 1) at t = 0, then
      5 payments (priority 9) at t = 0.01 s; the ``worker`` needs 0.1 s per job;
    - ``orders``, at most 3 ready orders, ``drop-head``: 8 orders at t = 0; the ``packer``
      needs 0.1 s per order;
    - ``deals``, a TTL of 0.375 s, expired deals dead-lettered to the queue ``expired``:
      6 deals at t = 0; the ``buyer`` needs 0.15 s per deal.
    """
    net = Network(seed=1)
    net.producer("reports", schedule=[0.0] * 5, routing_key="jobs", priority=1)
    net.producer("payments", schedule=[0.01] * 5, routing_key="jobs", priority=9)
    net.producer("shop", schedule=[0.0] * 8, routing_key="orders")
    net.producer("offers", schedule=[0.0] * 6, routing_key="deals")
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", max_priority=9)
    net.queue("hub", "orders", capacity=3, overflow="drop-head")
    net.queue("hub", "deals", message_ttl=0.375, dead_letter="expired")
    net.consumer("worker", queue="jobs", service=0.1)
    net.consumer("packer", queue="orders", service=0.1)
    net.consumer("buyer", queue="deals", service=0.15)
    return net


KEYS = ["order.eu.new", "order.us.new", "order.eu.paid", "order.us.paid", "refund.eu.new",
        "order.asia.new"]
"""The routing keys of section 3's events, sent in this order, three rounds."""

PATTERNS = {"europe": "order.eu.*", "billing": "*.*.paid", "audit": "#"}
"""Section 3's queues and the binding pattern of each."""


def _key_of(payload: str) -> str:
    return payload


def _event(i: int) -> str:
    return KEYS[i % len(KEYS)]


def topic_exchange() -> Network:
    """A shop publishes 18 events (the :data:`KEYS`, three times, 0.02 s apart) to the topic
    exchange ``events``; the queues of :data:`PATTERNS` are bound to it, each with a worker
    (0.01 s per event)."""
    net = Network(seed=1)
    net.producer("shop", interval=0.02, count=3 * len(KEYS), payload=_event, key=_key_of,
                 exchange="events")
    net.broker("hub")
    net.exchange("hub", "events", type="topic")
    for queue, pattern in PATTERNS.items():
        net.queue("hub", queue)
        net.bind("events", queue, pattern=pattern)
        net.consumer(f"{queue}-w", queue=queue, service=0.01)
    return net


RUNS: dict[str, tuple[Callable[[], Network], float]] = {
    "work-unlimited": (lambda: work_queue(None), 3.3),
    "work-fair": (lambda: work_queue(1), 2.3),
    "queues": (queue_tour, 1.3),
    "topics": (topic_exchange, 0.6),
}
"""The real runs of the lesson: name -> (the network, seconds it runs)."""


# -- reading runs -----------------------------------------------------------------------------

def worker_stats(run: Run) -> dict[str, dict[str, float]]:
    """Per consumer: orders delivered to it (acked or not yet), and the publish -> ack latency
    of those it acked, p50 and max, in milliseconds."""
    out = {}
    for worker in sorted({e.peer for e in run.trace.filter(kind="deliver")}):
        got = {e.msg for e in run.trace.filter(kind="deliver", peer=worker)}
        waits = [1000 * w for w in latencies(run.trace, node=worker)]
        out[worker] = {"orders": len(got), "p50": percentile(waits, 50), "max": max(waits)}
    return out


def legs(run: Run, worker: str) -> dict[str, float]:
    """Median milliseconds of each leg of ``worker``'s messages: publish -> deliver (to the
    broker and on to the worker) and deliver -> ack (the work, and what surrounds it)."""
    first: dict[str, dict[int, float]] = {"publish": {}, "deliver": {}, "ack": {}}
    for e in run.trace:
        if e.kind in first and (e.kind == "publish" or worker in (e.node, e.peer)):
            first[e.kind].setdefault(e.msg, e.time)
    done = [m for m in first["ack"] if m in first["deliver"]]
    to = [1000 * (first["deliver"][m] - first["publish"][m]) for m in done]
    work = [1000 * (first["ack"][m] - first["deliver"][m]) for m in done]
    return {"publish -> deliver": percentile(to, 50), "deliver -> ack": percentile(work, 50)}


def tour_outcomes(run: Run) -> dict[str, str]:
    """What happened in each queue of :func:`queue_tour`, in words that do not depend on
    message ids: the priorities ``jobs`` delivered, in order; which of the 8 orders (numbered
    by when the shop sent them) ``orders`` dropped; which of the 6 deals ``deals`` let expire,
    and how many reached the queue ``expired``."""
    tr = run.trace
    sent: dict[str, list[int]] = {}
    for e in tr.filter(kind="publish"):
        sent.setdefault(e.node, []).append(e.msg)
    number = {m: i + 1 for ms in sent.values() for i, m in enumerate(ms)}
    jobs = [tr.messages[e.msg].priority for e in tr.filter(kind="deliver", node="jobs")]
    dropped = sorted(number[e.msg] for e in tr.filter(kind="drop", node="orders"))
    expired = sorted(number[e.msg] for e in tr if e.node == "deals"
                     and e.kind in ("expire", "dead-letter"))
    into = len(tr.filter(kind="enqueue", node="expired"))
    return {"jobs": "priorities delivered: " + " ".join(map(str, jobs)),
            "orders": "orders dropped: " + " ".join(map(str, dropped)),
            "deals": f"deals expired: {' '.join(map(str, expired))} -> {into} in 'expired'"}


def routed_keys(run: Run) -> dict[str, list[str]]:
    """For each queue of :func:`topic_exchange`: the routing keys it received (sorted, once)."""
    tr = run.trace
    out = {}
    for queue in PATTERNS:
        keys = {tr.messages[e.msg].routing_key for e in tr.filter(kind="enqueue", node=queue)}
        out[queue] = sorted(keys)
    return out


def describe_broker(url: str | None, server=None) -> str:
    """One sentence: where the lesson's real runs come from."""
    if url is None:
        info = recording_info()
        if use_recording():
            why = "MQLAB_RECORDED=1 is set"
            todo = ("unset it (in this kernel: os.environ.pop(\"MQLAB_RECORDED\")) and run the "
                    "lesson again from the top")
        elif server is not None:  # installed, but it did not start
            why = "rabbitmq-server is installed but did not start (its message is above)"
            todo = ("fix what that message says, or start a RabbitMQ of your own and set "
                    "MQLAB_RABBITMQ_URL to its address, then run the lesson again")
        else:
            why = "no RabbitMQ answers here and rabbitmq-server is not installed"
            todo = ("install rabbitmq-server (or open the lesson on Binder) and run it "
                    "again")
        return (f"No broker: {why}. This lesson shows a real run recorded on RabbitMQ "
                f"{info['rabbitmq']} ({info['cores']}-core {info['machine']} machine) instead; "
                f"every cell still runs, with the recording's numbers. To run it yourself, "
                f"{todo}.")
    if server is not None:
        return (f"Started a private RabbitMQ (loopback only, in a temporary directory) in "
                f"{server.started_in:.1f} s at {url}; the last cell of the lesson stops it.")
    return f"A RabbitMQ answers at {url}: the real runs below run on it."


# -- the recording ------------------------------------------------------------------------------

@cache
def _recorded_trace(name: str) -> Trace:
    if name not in RUNS:
        raise ValueError(f"name must be one of {sorted(RUNS)}, got {name!r}")
    return Trace.load(DATA / f"{name}.json.gz")


def recorded(name: str) -> Run:
    """The recorded real run ``name`` (one of :data:`RUNS`), as a Run: summary(), play()."""
    trace = _recorded_trace(name)
    copy = Trace(list(trace.rows), graph=trace.graph, messages=trace.messages)
    copy.end_time = trace.end_time
    return Run.from_trace(copy)


@cache
def _extras() -> dict:
    with gzip.open(DATA / "extras.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def recording_info() -> dict:
    """Where and when the recording was made: RabbitMQ's version, the machine, the month."""
    return dict(_extras()["info"])


STREAM = {"first": 1001, "batch": 5}
"""Section 4's stream: orders 1001-1005, then (a second later) orders 1006-1010."""


def recorded_cut() -> dt.datetime:
    """The whole second between the two batches of the recorded stream (with the local time
    zone: pika sends a datetime without one as if it were UTC)."""
    return dt.datetime.fromtimestamp(_extras()["stream"]["cut"]).astimezone()


def recorded_read(offset: Any, n: int = 10) -> list[tuple[int, int]]:
    """What a stream consumer starting at ``offset`` reads from the recorded stream (up to
    ``n`` records): (offset, order) pairs, as ``read_stream`` returns them on a broker."""
    records = _extras()["stream"]["records"]  # [offset, order, second written]
    if isinstance(offset, dt.datetime):
        since = offset.timestamp()
        start = [r for r in records if r[2] >= int(since)]
    elif offset == "first":
        start = records
    elif offset == "last":
        start = records[-1:]
    elif offset == "next":
        start = []
    elif isinstance(offset, int) and not isinstance(offset, bool):
        start = [r for r in records if r[0] >= offset]
    else:
        raise ValueError(f"x-stream-offset must be 'first', 'last', 'next', an offset (int) or "
                         f"a datetime, got {offset!r}")
    return [(r[0], r[1]) for r in start[:n]]


SHOP_ATTEMPTS = ["publish to the exchange orders", "publish to the exchange payments",
                 "publish through the default exchange", "declare the queue shop.inbox",
                 "read the queue charges"]
"""What section 5 tries as the user shop (write ``^orders$``, nothing else)."""

SHOP_COMMANDS = [["add_user", "shop", "pw-shop-2024"],
                 ["set_permissions", "-p", "/", "shop", "^$", "^orders$", "^$"]]
"""Section 5's rabbitmqctl commands: a user shop who may publish to ``orders``, nothing else."""


def recorded_commands() -> list[tuple[list[str], str]]:
    """Section 5's rabbitmqctl commands and what the recorded broker answered."""
    return [(list(c), out) for c, out in _extras()["commands"]]


def recorded_attempts() -> dict[str, str]:
    """What the recorded broker said to each of :data:`SHOP_ATTEMPTS`: "ok" or its refusal."""
    return dict(_extras()["attempts"])


# -- rabbitmqctl against the lesson's own broker -------------------------------------------------

def _default_server(url: str | None):
    """The broker ``python -m mqlab.rabbit_server start`` keeps (Binder starts one so), if it
    is the one at ``url``."""
    from mqlab.rabbit_server import RabbitServer

    try:
        import getpass
        user = getpass.getuser()
    except Exception:  # no name for this uid (some containers)
        user = str(os.getuid())
    server = RabbitServer.attach(Path(tempfile.gettempdir()) / f"mqlab-rabbitmq-{user}")
    if server is not None and server.running() and server.url == url:
        return server
    return None


def rabbitmqctl_for(server, url: str | None) -> Callable[..., str] | None:
    """A function ``ctl(*args) -> output`` that runs ``rabbitmqctl args`` against the broker
    at ``url``, or None when that broker is not one started on this machine by
    :class:`~mqlab.rabbit_server.RabbitServer` (``server``, or the one the command line
    keeps): rabbitmqctl needs the node's name and its Erlang cookie, which only its starter
    knows."""
    from mqlab.rabbit_server import installed

    if url is None or not installed():
        return None
    if server is None or getattr(server, "url", None) != url:
        server = _default_server(url)
    if server is None:
        return None

    def rabbitmqctl(*args: str) -> str:
        """Run rabbitmqctl with ``args`` on the lesson's broker; return what it printed (or
        its error)."""
        if not server.running():  # rabbitmqctl would start an epmd of its own and leave it
            return "(the broker has been stopped: run the lesson from the top again)"
        try:
            return server.ctl(*map(str, args)).strip()
        except RuntimeError as failed:
            return f"Error: {failed}"

    return rabbitmqctl


# -- exercise 1: predict the real latency -------------------------------------------------------

CHOICES = {
    "a": "under 20 ms: a real computer is faster than a model",
    "b": "exactly 20 ms, as in the simulation",
    "c": "a little over 20 ms: a few milliseconds more",
    "d": "40 ms or more: at least twice the simulation's",
}
"""Exercise 1's answers: the fast worker's median publish -> ack latency on the real broker."""

_EX1_WHY = {
    "a": ("The worker really sleeps its 20 ms per order, so no order can take less from publish "
          "to ack. A real system only adds to the work: what else happens between publish and "
          "ack?"),
    "b": ("In the model the links take no time and nothing else costs anything. On the real "
          "broker the order still has to travel to the broker, be routed and queued there, "
          "travel on to the worker, and the ack must be sent back: each costs a little."),
    "d": ("That would mean each order spent as long travelling as being worked on. On one "
          "machine (loopback, no real network) a trip through the broker costs well under a "
          "millisecond to a few milliseconds, far less than 20 ms."),
}


def ex1(prediction: Any) -> Verdict:
    """Check a prediction (a letter of :data:`CHOICES`)."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction (a letter, such as \"a\"), then run this cell "
                             "again.")
    if not isinstance(prediction, str) or prediction.strip().lower().strip("()") not in CHOICES:
        return Verdict(False, f"Answer with one of the letters {', '.join(CHOICES)} (in quotes), "
                              f"not {short(prediction)}.")
    letter = prediction.strip().lower().strip("()")
    if letter == "c":
        return Verdict(True, "A real order pays for its trips to and from the broker and for the "
                             "broker's own work, on top of the 20 ms of work. Run the next "
                             "cells and see how much.")
    return Verdict(False, _EX1_WHY[letter])


# -- exercise 2: queue options -> x- arguments --------------------------------------------------

def queue_arguments(net: Network, name: str) -> dict[str, Any]:
    """The ``x-`` arguments :func:`mqlab.rabbit.run` declares queue ``name`` of ``net`` with
    (leaving out the ones it adds for its own bookkeeping: ``x-expires``, and a dead-letter
    exchange of its own for a queue without one)."""
    from mqlab import rabbit

    return rabbit.queue_arguments(net, name)


def _ex2_networks() -> list[tuple[Network, list[str]]]:
    """The networks exercise 2 is checked on, and the queues of each to translate."""
    a = Network(seed=1)
    a.broker("hub")
    a.queue("hub", "plain")
    a.queue("hub", "jobs", kind="priority", max_priority=9)
    a.queue("hub", "orders", capacity=3)
    a.queue("hub", "quotes", message_ttl=2.01, dead_letter="stale")  # 2.01 * 1000 < 2010
    a.queue("hub", "uploads", capacity=100, overflow="reject-publish")
    b = Network(seed=2)
    b.broker("rabbit")
    b.exchange("rabbit", "dlx", type="fanout")  # an exchange as dead-letter target
    b.queue("rabbit", "graveyard")
    b.bind("dlx", "graveyard")
    b.queue("rabbit", "coupons", message_ttl=0.25, dead_letter="dlx")
    b.queue("rabbit", "alerts", kind="priority", capacity=50, overflow="reject-publish",
            message_ttl=60, dead_letter="graveyard")
    b.queue("rabbit", "tasks", kind="priority")
    for net in (a, b):
        net.resolve()  # adds the dead-letter queue "stale", as a run does
    return [(a, ["plain", "jobs", "orders", "quotes", "uploads"]),
            (b, ["coupons", "alerts", "tasks"])]


_ARGUMENTS = ("x-max-priority", "x-max-length", "x-overflow", "x-message-ttl",
              "x-dead-letter-exchange", "x-dead-letter-routing-key")
"""The queue arguments of exercise 2's table."""


def _ex2_hint(net: Network, name: str, got: dict, want: dict) -> str:
    q = net.queues[name]
    where = f"For the queue {name!r}"
    the_queue = f"The queue {name!r}"
    ttl = got.get("x-message-ttl")
    unprefixed = [k for k in got if isinstance(k, str) and not k.startswith("x-")]
    if unprefixed:
        return (f"{where} you wrote the key {unprefixed[0]!r}. RabbitMQ's queue arguments are "
                f"named with an x- prefix, such as 'x-max-length' (mqlab's options keep "
                f"RabbitMQ's words without it).")
    nones = [k for k, v in got.items() if v is None]
    if nones:
        return (f"{where} you set {nones[0]!r} to None. Leave out an argument whose option is "
                f"not set: the AMQP client cannot send None as a value.")
    if "x-expires" in got:
        said = (f"{where} you wrote 'x-expires': that deletes the queue itself once it has gone "
                f"unused (no consumer, no other use) for that long, whatever its messages do.")
        if q.message_ttl is not None:
            return (f"{said} The messages' TTL (message_ttl={q.message_ttl:g} s) is "
                    f"x-message-ttl: each message expires once it has waited that long.")
        return f"{said} This queue has no message_ttl, and no option of the table gives it."
    unknown = [k for k in got if k not in _ARGUMENTS and k != "x-max-length-bytes"]
    if unknown:
        return (f"{where} you wrote the key {unknown[0]!r}, which is not one of the table's "
                f"arguments (RabbitMQ would ignore it or refuse it): use the names in the "
                f"table, such as 'x-overflow'.")
    if (q.message_ttl is not None and isinstance(ttl, (int, float)) and not isinstance(ttl, bool)
            and abs(ttl - q.message_ttl) < 1e-9 and ttl != want["x-message-ttl"]):
        return (f"{where} x-message-ttl is {ttl!r}: that is the TTL in seconds. RabbitMQ "
                f"counts it in milliseconds: {q.message_ttl:g} s is "
                f"{want['x-message-ttl']} ms.")
    if isinstance(ttl, float) or isinstance(got.get("x-max-length"), float):
        key = "x-message-ttl" if isinstance(ttl, float) else "x-max-length"
        return (f"{where} {key} is a float ({got[key]!r}). RabbitMQ wants a whole number (an "
                f"int): the AMQP client cannot even send a float here. Use round(...).")
    if "x-message-ttl" in want and ttl is not None and ttl != want["x-message-ttl"]:
        if isinstance(ttl, str):
            return (f"{where} x-message-ttl is text, {ttl!r}: the broker refuses it "
                    f"(PRECONDITION_FAILED, expected integer). Give an int.")
        if isinstance(ttl, int) and ttl == int(q.message_ttl * 1000):
            return (f"{where} x-message-ttl is {ttl}: int() cut {q.message_ttl:g} * 1000 down, "
                    f"because a float is not exact ({q.message_ttl:g} * 1000 is "
                    f"{q.message_ttl * 1000!r}). Use round(...): {want['x-message-ttl']} ms.")
        return f"{where} x-message-ttl should be {q.message_ttl:g} s in milliseconds."
    if "x-message-ttl" in want and ttl is None:
        return f"{where} the messages' TTL (message_ttl={q.message_ttl:g} s) is missing."
    if "x-max-priority" in want and "x-max-priority" not in got:
        return (f"{where} x-max-priority is missing. Without it RabbitMQ declares a plain FIFO "
                f"queue and ignores the messages' priorities.")
    if "x-max-priority" in want and got["x-max-priority"] != want["x-max-priority"]:
        if q.max_priority is None:
            return (f"{where} max_priority is None: mqlab's priority queue then takes any "
                    f"priority up to 255, so give RabbitMQ its largest, 255.")
        return (f"{where} x-max-priority should be the queue's max_priority, "
                f"{q.max_priority}.")
    if "x-max-priority" not in want and "x-max-priority" in got:
        return (f"{the_queue} is not a priority queue (kind={q.kind!r}): leave out "
                f"x-max-priority.")
    if "x-max-length-bytes" in got:
        return (f"{where} x-max-length-bytes limits the queue's size in bytes; capacity counts "
                f"messages: x-max-length.")
    if "x-max-length" in want and got.get("x-max-length") != want["x-max-length"]:
        return (f"{where} x-max-length should be its capacity, {q.capacity} messages (ready "
                f"ones, as mqlab's capacity counts).")
    if "x-max-length" not in want and "x-max-length" in got:
        return f"{the_queue} has no capacity: leave out x-max-length and x-overflow."
    if "x-overflow" in got and "x-max-length" not in want:
        return (f"{the_queue} has no capacity: x-overflow only goes with x-max-length. (mqlab's "
                f"overflow option always has a value, 'drop-head' unless set, so test "
                f"q.capacity, not q.overflow.)")
    if "x-overflow" in got and got["x-overflow"] != want.get("x-overflow"):
        return (f"{where} x-overflow is {got['x-overflow']!r}. RabbitMQ knows 'drop-head' (its "
                f"default: the oldest goes) and 'reject-publish' (the new one is refused), "
                f"spelt with a hyphen; this queue's overflow is {q.overflow!r}.")
    if "x-overflow" in want and "x-overflow" not in got and want["x-overflow"] != "drop-head":
        return (f"{where} x-overflow is missing: without it RabbitMQ drops the head, but this "
                f"queue's overflow is {q.overflow!r}.")
    dlx, dlk = got.get("x-dead-letter-exchange"), got.get("x-dead-letter-routing-key")
    if q.dead_letter is not None and q.dead_letter in net.queues:
        if dlx == q.dead_letter:
            return (f"{where} x-dead-letter-exchange names {dlx!r}, but {dlx!r} is a queue of "
                    f"its network, not an exchange (q.dead_letter in net.queues). "
                    f"Dead-letter through the default exchange, whose name is the empty string "
                    f"\"\", with x-dead-letter-routing-key = the queue's name.")
        if dlx is None and dlk is not None:
            return (f"{where} x-dead-letter-routing-key alone is refused by RabbitMQ "
                    f"(routing_key_but_no_dlx_defined): add x-dead-letter-exchange \"\", "
                    f"the default exchange.")
        if dlx is None:
            return f"{where} the dead-letter target {q.dead_letter!r} is missing."
        return (f"{where} dead-letter to the queue {q.dead_letter!r}: x-dead-letter-exchange "
                f"\"\" (the default exchange routes by queue name) and "
                f"x-dead-letter-routing-key {q.dead_letter!r}.")
    if q.dead_letter is not None:
        exchange = (f"the dead-letter target {q.dead_letter!r} is an exchange of its network, "
                    f"not a queue (q.dead_letter not in net.queues)")
        if dlx != q.dead_letter:
            return (f"{where} {exchange}: x-dead-letter-exchange = {q.dead_letter!r}, and no "
                    f"routing key (the message keeps its own).")
        if dlk is not None:
            return (f"{where} {exchange}: give no x-dead-letter-routing-key, so that the "
                    f"message keeps its own key.")
    elif dlx is not None or dlk is not None:
        return f"{the_queue} has no dead_letter: leave out the x-dead-letter arguments."
    extra = sorted(set(got) - set(want))
    if extra:
        return f"{where} {extra[0]!r} is not one of its options: leave it out."
    return f"{where} the arguments should be {want!r}, not {short(got)}."


def _ex2_global(fn: Callable) -> str | None:
    names = [n for n, v in getattr(fn, "__globals__", {}).items()
             if n in fn.__code__.co_names and isinstance(v, Network)]
    return names[0] if names else None


def ex2(x_arguments: Any) -> Verdict:
    """Check ``x_arguments(net, name) -> dict`` against :func:`queue_arguments` on queues of
    several networks."""
    if not_attempted(x_arguments):
        return Verdict(None, "Write x_arguments, then run this cell again.")
    if not callable(x_arguments):
        return not_a_function(x_arguments, "x_arguments", "ex2")
    cases = _ex2_networks()
    first = True
    for net, names in cases:
        for name in names:
            got, problem = call_student(x_arguments, net, name)
            if problem is not None:
                return Verdict(False, f"{problem.message} (on the queue {name!r}). Try it on "
                                      f"that queue in the cell above to see the whole error.")
            if not_attempted(got):
                return Verdict(None if first else False,
                               "Your function returned None. Build the dict and return it.")
            first = False
            if not isinstance(got, dict):
                return Verdict(False, f"Return a dict of x- arguments, not {short(got)}.")
            want = queue_arguments(net, name)
            same = got == want or (got == {k: v for k, v in want.items() if k != "x-overflow"}
                                   and want.get("x-overflow") == "drop-head")
            if same and all(type(got[k]) is type(want[k]) for k in got):
                continue
            glob = _ex2_global(x_arguments)
            if glob is not None:
                return Verdict(False, f"Your function reads {glob}, a network from another "
                                      f"cell: use its `net` argument (the check passes "
                                      f"networks of its own).")
            return Verdict(False, _ex2_hint(net, name, got, want))
    count = sum(len(names) for _, names in cases)
    return Verdict(True, f"All {count} queues translated as mqlab.rabbit declares them: TTL in "
                         f"whole milliseconds, overflow names with a hyphen, and a queue as "
                         f"dead-letter target reached through the default exchange.")


# -- exercise 3: where a stream consumer starts -------------------------------------------------

_OFFSET_NAMES = ("first", "last", "next")
"""The offset specifications that are names (besides a number, a time, or a span like '10m')."""

OFFSET_TASKS = {
    "audit": "read every order in the stream, from the oldest kept",
    "billing": "replay from order 1006 on (it processed 1006-1010 wrongly): give the offset",
    "dashboard": "show only the orders published from now on",
}
"""Exercise 3: who starts reading where."""


def ex3(offsets: Any) -> Verdict:
    """Check ``offsets``: {"audit": ..., "billing": ..., "dashboard": ...}, the
    ``x-stream-offset`` each consumer of :data:`OFFSET_TASKS` starts at."""
    if not_attempted(offsets):
        return Verdict(None, "Fill in my_offsets, then run this cell again.")
    if not isinstance(offsets, dict):
        return Verdict(False, f"Give a dict {{consumer: offset}}, not {short(offsets)}.")
    if all(not_attempted(v) for v in offsets.values()):
        return Verdict(None, "Replace each ... with an offset, then run this cell again.")
    missing = [k for k in OFFSET_TASKS if k not in offsets]
    if missing:
        return Verdict(False, f"my_offsets lacks {missing[0]!r}: keep every key of the starter.")
    left = [k for k in OFFSET_TASKS if not_attempted(offsets[k])]
    if left:
        return Verdict(False, f"Replace the remaining ... too ({left[0]}'s offset), then run "
                              f"this cell again.")
    floats = [k for k in OFFSET_TASKS if isinstance(offsets[k], float)]
    if floats:
        return Verdict(False, f"{floats[0]}'s offset is a float, {offsets[floats[0]]!r}: an "
                              f"offset is a whole number (an int), and pika cannot even send a "
                              f"float. Write it without the decimal point.")
    for k in OFFSET_TASKS:
        v = offsets[k]
        if isinstance(v, str) and v != v.strip().lower() and v.strip().lower() in _OFFSET_NAMES:
            return Verdict(False, f"{k}'s offset is {v!r}: the offset names are written in "
                                  f"lower case, with nothing around them: "
                                  f"{v.strip().lower()!r}. RabbitMQ does not know {v!r} (3.10 "
                                  f"closes the whole connection: 541 INTERNAL_ERROR).")
    audit, billing, dash = (offsets[k] for k in OFFSET_TASKS)
    first_order = STREAM["first"]
    if isinstance(billing, bool) or not (isinstance(billing, int) or billing == "first"):
        if isinstance(billing, str) and billing.strip().isdigit():
            return Verdict(False, f"billing's offset is text, {billing!r}. Write the number "
                                  f"without quotes: a string offset means 'first', 'last', "
                                  f"'next' or a time span such as '10m'.")
        if isinstance(billing, dt.datetime):
            return Verdict(False, "A time works here too (cut starts at order 1006, as the "
                                  "listing showed), but the task asks for the offset: the "
                                  "number of order 1006's record, which names that record "
                                  "exactly whatever the clocks said.")
    if billing == 1006:
        return Verdict(False, "1006 is the order's number, not its place in the stream. The "
                              "stream numbers its records from 0: which offset did order 1006 "
                              "get in the listing above?")
    if billing == 6:
        return Verdict(False, f"Off by one: offsets count from 0, so order {first_order} is at "
                              f"offset 0 and order 1006 at offset 5.")
    if billing == "first" or billing == 0:
        return Verdict(False, "billing would then read orders 1001-1005 again too, which it "
                              "processed correctly. Start at order 1006's offset.")
    if billing != 5:
        return Verdict(False, f"billing's offset {short(billing)} is not where order 1006 is. "
                              f"Look it up in the listing above (the first number of each pair).")
    if audit == "last":
        return Verdict(False, "'last' starts at the last chunk the stream wrote: only the "
                              "newest record(s). The oldest kept record is 'first'.")
    if audit == "next":
        return Verdict(False, "'next' skips everything already in the stream: audit would see "
                              "only orders published from now on.")
    if audit not in ("first", 0) or isinstance(audit, bool):
        return Verdict(False, f"audit's offset {short(audit)} does not start at the oldest "
                              f"record. There is a name for that place.")
    if dash == "last":
        return Verdict(False, "'last' starts at the last chunk already written, so the "
                              "dashboard would show the newest old order(s) first. For "
                              "only what comes after now: 'next'.")
    if dash in ("first", 0):
        return Verdict(False, "That replays the whole stream on the dashboard. It wants only "
                              "the orders published from now on.")
    if dash == 10:
        return Verdict(False, "10 is the offset the next order will get today, so it would "
                              "work now, but the dashboard's code must work tomorrow too, when "
                              "the stream is longer. There is a name for 'from now on'.")
    if isinstance(dash, dt.datetime):
        seconds = ("over AMQP a time offset counts whole seconds, so the dashboard would start "
                   "at the beginning of the current second and could replay orders written "
                   "earlier in that same second. 'next' starts exactly after the last record.")
        local = dash.astimezone().utcoffset() if dash.tzinfo is None else None
        if abs((dt.datetime.now(dash.tzinfo) - dash).total_seconds()) < 60:
            if local:  # a naive time, on a machine whose clock is not UTC
                return Verdict(False, f"That datetime has no time zone, and pika sends such a "
                                      f"time as if it were UTC: this machine's clock is "
                                      f"{local.total_seconds() / 3600:+g} h from UTC, so the "
                                      f"broker would get a time that far off. And even a time "
                                      f"of now with its time zone is not 'from now on': "
                                      + seconds)
            return Verdict(False, "Close: a time of now skips the older orders, as "
                                  "'next' does, but not exactly: " + seconds)
        return Verdict(False, f"dashboard's offset is a fixed time, {dash:%Y-%m-%d %H:%M:%S}: "
                              f"the dashboard would start at the first record written at or "
                              f"after it, not at what is new when it starts reading. There is "
                              f"a name for 'from now on'.")
    if dash != "next":
        return Verdict(False, f"dashboard's offset {short(dash)} does not mean 'from now on'. "
                              f"There is a name for that.")
    note = (" (0 works too while nothing has been deleted; 'first' says what you mean, and "
            "still does once retention removes old records.)" if audit == 0 else "")
    return Verdict(True, "'first' for the oldest record, 5 for order 1006, 'next' for only new "
                         "ones. A queue can do none of these: what it delivered is gone." + note)


# -- exercise 4: permissions for the mailer ------------------------------------------------------

MAILER = {
    "configure": {"mailer.inbox"},                  # declares its own queue
    "write": {"mailer.inbox", "emails"},           # binds that queue; publishes e-mails
    "read": {"orders", "mailer.inbox"},            # binds to orders; consumes its queue
}
"""What the user mailer of exercise 4 needs, per permission: the names it must be allowed."""

_MAILER_NAMES = ["mailer.inbox", "emails", "orders", "mailer.inbox.old", "old.mailer.inbox",
                 "mailerXinbox", "mailer.inbox2", "emails-archive", "orders.archive", "charges",
                 "payments", "amq.default", "billing.emails", "mailer"]
"""Names exercise 4's patterns are tried on."""

_WHY = {
    ("configure", "mailer.inbox"): "to declare its queue mailer.inbox",
    ("write", "mailer.inbox"): ("to bind mailer.inbox to the exchange orders (binding needs "
                                "write on the queue)"),
    ("write", "emails"): "to publish to the exchange emails",
    ("read", "orders"): ("to bind mailer.inbox to the exchange orders (binding needs read on "
                         "the exchange)"),
    ("read", "mailer.inbox"): "to consume from mailer.inbox",
}


def _mailer_hint(perm: str, pattern: str) -> str | None:
    wanted = MAILER[perm]
    missing = [n for n in sorted(wanted) if not security.permitted(pattern, n)]
    if missing:
        name = missing[0]
        return (f"The {perm} pattern {pattern!r} refuses {name!r}, which the mailer needs "
                f"{_WHY[(perm, name)]}.")
    extra = [n for n in _MAILER_NAMES if n not in wanted and security.permitted(pattern, n)]
    if not extra:
        return None
    if all(security.permitted(pattern, n) for n in _MAILER_NAMES):
        return (f"The {perm} pattern {pattern!r} permits every name (RabbitMQ searches it "
                f"anywhere in the name, and it is found in all of them). Least privilege: "
                f"permit exactly the names the mailer needs, anchored with ^ and $.")
    where = f"The {perm} pattern {pattern!r} also permits {extra[0]!r}"
    loose_dot = "mailerXinbox" in extra and "\\." not in pattern
    no_anchors = unanchored(f"The {perm} pattern {pattern!r}", pattern, extra[0])
    if no_anchors:  # no anchor at all: that comes first
        dot = (" And an unescaped . matches any character (it permits 'mailerXinbox'): write "
               "\\. for a dot." if loose_dot else "")
        return no_anchors + dot
    if top_level_bar(pattern):
        return (f"{where}: a | outside brackets splits the whole pattern (^a|b$ is \"starts "
                f"with a\" or \"ends with b\"). Group the alternatives: ^(a|b)$.")
    if loose_dot:
        return (f"{where}: an unescaped . matches any character. Write \\. for a dot "
                f"(r'^mailer\\.inbox$').")
    if not (pattern.startswith("^") and pattern.endswith("$")):
        how = ("add $ at its end" if pattern.startswith("^") else
               "add ^ at its start" if pattern.endswith("$") else
               "anchor it: ^ at its start and $ at its end")
        return (f"{where}: RabbitMQ searches the pattern anywhere in the name, so "
                f"{how}.")
    return f"{where}, which the mailer does not need: least privilege."


def ex4(permissions: Any) -> Verdict:
    """Check ``permissions`` = {"configure": ..., "write": ..., "read": ...} for the user
    mailer (:data:`MAILER`), with RabbitMQ's rule (:func:`mqlab.security.permitted`)."""
    if not_attempted(permissions):
        return Verdict(None, "Fill in my_permissions, then run this cell again.")
    if not isinstance(permissions, dict):
        return Verdict(False, f"Give a dict {{'configure': ..., 'write': ..., 'read': ...}}, "
                              f"not {short(permissions)}.")
    if all(not_attempted(v) for v in permissions.values()):
        return Verdict(None, "Replace each ... with a pattern (a str), then run this cell again.")
    missing = [perm for perm in MAILER if perm not in permissions]
    if missing:
        return Verdict(False, f"my_permissions lacks {missing[0]!r}: keep every key of the "
                              f"starter.")
    left = [perm for perm in MAILER if not_attempted(permissions[perm])]
    if left:
        return Verdict(False, f"Replace the remaining ... too (the {left[0]} pattern), then run "
                              f"this cell again.")
    for perm in MAILER:
        pattern = permissions[perm]
        if not isinstance(pattern, str):
            return Verdict(False, f"The {perm} pattern must be a str (a regular expression), got "
                                  f"{short(pattern)}.")
        try:
            re.compile(pattern)
        except re.error as exc:
            return Verdict(False, f"The {perm} pattern {pattern!r} is not a valid regular "
                                  f"expression: {exc}.")
    for perm in MAILER:
        hint = _mailer_hint(perm, permissions[perm])
        if hint:
            return Verdict(False, hint)
    return Verdict(True, f"The mailer may do its four steps and nothing else, tried on "
                         f"{len(_MAILER_NAMES)} names: configure its queue, write its queue "
                         f"(to bind) and emails, read orders (to bind) and its queue.")


# -- making the recording -----------------------------------------------------------------------

def _read_stream(url: str, stream: str, offset: Any, n: int) -> list[tuple[int, int]]:
    """The lesson's read_stream: up to n (offset, order) records from ``offset``."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.basic_qos(prefetch_count=n)
    records = []
    for method, props, body in channel.consume(stream, arguments={"x-stream-offset": offset},
                                               inactivity_timeout=0.2):
        if method is None:
            break
        records.append((int(props.headers["x-stream-offset"]), json.loads(body)["order"]))
        if len(records) == n:
            break
    conn.close()
    return records


def _record_stream(url: str) -> dict:
    import pika

    stream = f"lesson09.orders-log.{os.getpid()}"
    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.queue_declare(stream, durable=True, arguments={"x-queue-type": "stream"})
    channel.confirm_delivery()
    written = []
    first, batch = STREAM["first"], STREAM["batch"]
    for order in range(first, first + batch):
        channel.basic_publish("", stream, json.dumps({"order": order}).encode())
        written.append(int(time.time()))
    time.sleep(1.1 - time.time() % 1)
    cut = int(time.time())
    for order in range(first + batch, first + 2 * batch):
        channel.basic_publish("", stream, json.dumps({"order": order}).encode())
        written.append(int(time.time()))
    try:
        read = _read_stream(url, stream, "first", 2 * batch)
        by_time = _read_stream(url, stream, dt.datetime.fromtimestamp(cut, dt.timezone.utc),
                               2 * batch)
    finally:
        channel.queue_delete(stream)
        conn.close()
    assert [o for _, o in read] == list(range(first, first + 2 * batch)), read
    assert [o for _, o in by_time] == list(range(first + batch, first + 2 * batch)), by_time
    return {"cut": cut, "records": [[off, order, w] for (off, order), w in zip(read, written,
                                                                             strict=True)]}


def _shop_attempts(url: str) -> dict[str, str]:
    import pika

    admin = pika.BlockingConnection(pika.URLParameters(url))
    ch = admin.channel()
    ch.exchange_declare("orders", "direct")
    ch.exchange_declare("payments", "direct")
    ch.queue_declare("charges")
    actions = {
        "publish to the exchange orders": lambda c: c.basic_publish("orders", "eu", b"{}"),
        "publish to the exchange payments": lambda c: c.basic_publish("payments", "eu", b"{}"),
        "publish through the default exchange": lambda c: c.basic_publish("", "charges", b"{}"),
        "declare the queue shop.inbox": lambda c: c.queue_declare("shop.inbox"),
        "read the queue charges": lambda c: c.basic_get("charges"),
    }
    params = pika.URLParameters(url)
    params.credentials = pika.PlainCredentials("shop", "pw-shop-2024")
    out = {}
    conn = pika.BlockingConnection(params)
    for what, action in actions.items():
        channel = conn.channel()
        channel.confirm_delivery()
        try:
            action(channel)
            out[what] = "ok"
            channel.close()
        except pika.exceptions.ChannelClosedByBroker as refused:
            out[what] = f"{refused.reply_code} {refused.reply_text.split(' - ')[0]}"
    conn.close()
    ch.queue_delete("charges")
    ch.exchange_delete("orders")
    ch.exchange_delete("payments")
    admin.close()
    return out


def record(folder: Path = DATA) -> None:
    """Start a private broker, run every real step of the lesson on it, save what it saw in
    ``folder`` (the traces of :data:`RUNS` and ``extras.json.gz``), and stop it."""
    import platform

    from mqlab import rabbit
    from mqlab.rabbit_server import RabbitServer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with RabbitServer() as server:
        url = server.url
        for name, (build, until) in RUNS.items():
            print(f"recording {name} ({until:g} s) ...", flush=True)
            rabbit.run(build(), until=until, url=url, progress=False).trace.save(
                folder / f"{name}.json.gz")
        ctl = rabbitmqctl_for(server, url)
        commands = [(c, ctl(*c)) for c in SHOP_COMMANDS]
        attempts = _shop_attempts(url)
        stream = _record_stream(url)
        version = ctl("version")
    extras = {
        "info": {"rabbitmq": version.strip(), "cores": os.cpu_count(),
                 "machine": f"{platform.system()} {platform.machine()}",
                 "python": platform.python_version(),
                 "month": dt.date.today().strftime("%B %Y"),
                 "started_in": round(server.started_in or 0.0, 1)},
        "commands": commands, "attempts": attempts, "stream": stream,
    }
    with gzip.open(folder / "extras.json.gz", "wt", encoding="utf-8") as f:
        json.dump(extras, f, indent=1)
    print(f"saved in {folder}")


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
