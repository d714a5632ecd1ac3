"""Checks for lesson 10, "Choosing a design", and the lesson's models.

    from mqlab.checks import lesson10 as check
    check.ex1(my_prediction)   # predict: when does a sensor catch up after its uplink's outage?
    check.ex2(my_queue)        # a live map's queue: fresh positions, and a map never idle
    check.ex3(my_choices)      # a queue or a log, for each need
    check.ex4(my_designs)      # three systems designed, run and measured

    run = check.greenhouse().run()       # section 1: a sensor on an uplink with an outage
    check.catch_up(run)                  # when it sends readings as it makes them again
    run = check.farm().run(until=45)     # section 1: an edge broker and its shovel to the cloud
    check.freshness(check.tracker(capacity=1).run(until=30))   # section 2: ages on the map
    check.cluster_file("quorum")         # section 3: the recorded run of a real cluster
    check.side_by_side("log")            # section 4: a queue and a log with one slow reader
    check.design_model("payments", check.REFERENCE["payments"])   # section 5's measured model

Each check runs the answer on cases of its own (several seeds, or the lesson's models) and
returns a :class:`~mqlab.checks.Verdict`: truthy when right, and a hint when not.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from functools import cache
from numbers import Real
from pathlib import Path
from typing import Any

from mqlab.checks import Verdict, not_attempted, short
from mqlab.dist import backoff, uniform
from mqlab.metrics import latencies, utilisation
from mqlab.network import Network
from mqlab.run import Run

__all__ = ["DATA", "DESIGN_FIELDS", "FARM", "GREENHOUSE", "NEEDS", "REFERENCE", "SCENARIOS",
           "SECURITY", "SIDE", "TRACKER", "catch_up", "cluster_file", "design_model", "ex1",
           "ex2", "ex3", "ex4", "farm", "freshness", "greenhouse", "out_of_order",
           "side_by_side", "tracker"]


# -- section 1: a sensor on a poor uplink, and an edge broker ----------------------------------

GREENHOUSE = {"interval": 0.5, "count": 120, "latency": 0.2, "bandwidth": 5.0,
              "outage": (10.0, 30.0)}
"""Section 1's greenhouse sensor: seconds between two readings, readings it makes, the uplink's
latency (s), its bandwidth (messages per second) and its outage (down, up), in seconds."""


def greenhouse(outage: tuple[float, float] | None = GREENHOUSE["outage"],
               bandwidth: float | None = GREENHOUSE["bandwidth"], seed: int = 1) -> Network:
    """A soil sensor makes a reading every 0.5 s (120 in all) and sends it straight to the
    cloud broker over a cellular uplink: 0.2 s of latency, 5 messages a second at most, and
    down from 10 s to 30 s. Readings it cannot send wait in the sensor, oldest first (store
    and forward). In the cloud, ``archive`` stores each one in 0.05 s."""
    g = GREENHOUSE
    net = Network(seed=seed)
    net.producer("sensor", interval=g["interval"], count=g["count"], routing_key="readings",
                 payload=lambda i: {"reading": i + 1})
    net.broker("cloud")
    net.queue("cloud", "readings")
    net.consumer("archive", queue="readings", service=0.05)
    net.link("sensor", "cloud", latency=g["latency"], bandwidth=bandwidth,
             outages=[outage] if outage else None)
    return net


def catch_up(run: Run, after: float = GREENHOUSE["outage"][0]) -> float:
    """The creation time (s) of the first reading made after ``after`` that left the sensor the
    moment it was made: from then on the sensor has caught up."""
    made = {m: msg.created for m, msg in run.trace.messages.items()}
    for e in run.trace.filter(kind="publish"):
        if made[e.msg] >= after and math.isclose(e.time, made[e.msg], abs_tol=1e-9):
            return made[e.msg]
    return math.inf


FARM = {"probes": 3, "interval": 1.5, "probe_link": 0.05, "valve": 0.05, "line": 0.3,
        "outage": (10.0, 30.0)}
"""Section 1's farm: soil probes, seconds between two readings of each, their link to the
farm's broker (s), the valve controller's work per reading (s), the line to the cloud (s) and
its outage (down, up), in seconds."""


def farm(outage: tuple[float, float] | None = FARM["outage"], seed: int = 1) -> Network:
    """Three soil probes publish a reading every 1.5 s each to the farm's own broker, whose
    fanout exchange copies each reading to ``alarms`` (the valve controller on the farm reads
    it at once) and to ``uplink``. A shovel takes ``uplink`` to the cloud's ``archive`` over a
    0.3 s line; while the line is down (``outage``) the shovel is cut off and ``uplink``
    holds what waits."""
    f = FARM
    net = Network(seed=seed)
    net.broker("farm")
    net.exchange("farm", "soil", type="fanout")
    for queue in ("alarms", "uplink"):
        net.queue("farm", queue)
        net.bind("soil", queue)
    for i in range(1, f["probes"] + 1):
        net.producer(f"probe{i}", interval=f["interval"], exchange="soil")
        net.link(f"probe{i}", "farm", latency=f["probe_link"])
    net.consumer("valve", queue="alarms", service=f["valve"])
    net.broker("cloud")
    net.queue("cloud", "archive")
    # what net.shovel builds, plus the time its line is down
    net.consumer("shovel", queue="uplink", service=0.0, prefetch=10, publish_to="archive",
                 crash=[outage] if outage else None)
    net.link("shovel", "cloud", latency=f["line"])
    net.consumer("store", queue="archive", service=0.02)
    return net


def _prediction_number(x: Any) -> Verdict | None:
    if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(x):
        return Verdict(False, f"Give a time in seconds, a number such as 42.5, not {short(x)}.")
    return None


@cache
def _caught_up() -> float:
    return catch_up(greenhouse().run())


def ex1(prediction: Any) -> Verdict:
    """Check a predicted time (s) at which the sensor sends readings as it makes them again."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction (a time in seconds), then run this cell "
                             "again.")
    bad = _prediction_number(prediction)
    if bad is not None:
        return bad
    g, answer = GREENHOUSE, _caught_up()
    down, up = g["outage"]
    made = (up - down) / g["interval"]  # readings made during the outage
    rate, new = g["bandwidth"], 1 / g["interval"]  # sent and made per second
    net = rate - new  # readings the pile loses each second
    if abs(prediction - answer) <= 0.5:
        return Verdict(True, f"{answer:g} s. About {made:.0f} readings pile up in the "
                             f"{up - down:g} s outage. From {up:g} s the uplink sends "
                             f"{rate:g} a second while the sensor adds {new:g}, so the pile "
                             f"shrinks by {net:g} a second: {made:.0f} / {net:g} = "
                             f"{made / net:.1f} s after {up:g} s, about {up + made / net:.1f} s; "
                             f"the first reading made after that, at {answer:g} s, leaves at "
                             "once (one is made every "
                             f"{g['interval']:g} s).")
    if any(math.isclose(prediction, length, abs_tol=0.5)
           for length in (up - down, made / net, made / rate)):
        return Verdict(False, "That is a length of time; give the time on the run's clock at "
                              f"which the sensor has caught up (the uplink is back at {up:g} s).")
    if prediction < up:
        return Verdict(False, f"The uplink is down until {up:g} s: nothing leaves before then, "
                              "so the sensor cannot have caught up earlier.")
    if math.isclose(prediction, up, abs_tol=0.5):
        return Verdict(False, f"At {up:g} s the uplink is back, but about {made:.0f} readings "
                              "made during the outage are waiting in the sensor, and it sends "
                              "them oldest first: the reading made at "
                              f"{up:g} s waits its turn.")
    if math.isclose(prediction, up + made / rate, abs_tol=0.5):
        return Verdict(False, f"{made:.0f} readings at {rate:g} a second take "
                              f"{made / rate:g} s, yes, but the sensor keeps making "
                              f"{new:g} readings a second meanwhile, and they join "
                              "the back of the pile: it shrinks more slowly than that.")
    if math.isclose(prediction, up + (up - down), abs_tol=0.5):
        return Verdict(False, f"That is as long again as the outage: true only if the pile "
                              f"shrank as fast as it grew. It grew by {new:g} readings a second; "
                              f"once the uplink is back it shrinks by {rate:g} − {new:g} = "
                              f"{net:g} a second, faster than it grew.")
    if prediction > answer:
        return Verdict(False, "Too late. The pile shrinks by (uplink's messages per second − "
                              "readings made per second) every second once the uplink is back.")
    return Verdict(False, "Too early. Count the readings made during the outage, and how fast "
                          "the pile shrinks once the uplink is back: the uplink's rate minus "
                          "the rate at which new readings join it.")


# -- section 2: a live map, where late data is useless -------------------------------------------

TRACKER = {"interval": 0.1, "latency": 0.05, "service": (0.2, 0.35), "max_age": 0.5,
           "busy": 0.97, "until": 30.0, "seeds": (1, 2, 3)}
"""Section 2's bus and map: seconds between two positions, the bus's link (s), the map's time
to draw one position (uniform between the two, s), the oldest a drawn position may be (s),
the least fraction of time the map must be drawing, the run's length (s), and the check's
seeds."""

_OVERFLOWS = ("drop-head", "reject-publish", "block", "drop-lowest")


def tracker(capacity: int | None = None, overflow: str = "drop-head",
            message_ttl: float | None = None, seed: int = 1) -> Network:
    """A bus sends its position every 0.1 s over a 0.05 s link to the queue ``positions``
    (with the given ``capacity``, ``overflow`` and ``message_ttl``); a live map draws each
    position it gets, in 0.2 to 0.35 s: it cannot draw them all."""
    t = TRACKER
    net = Network(seed=seed)
    net.producer("bus", interval=t["interval"], routing_key="positions",
                 payload=lambda i: {"position": i + 1})
    net.broker("hub")
    net.queue("hub", "positions", capacity=capacity, overflow=overflow, message_ttl=message_ttl)
    net.consumer("map", queue="positions", service=uniform(*t["service"]))
    net.link("bus", "hub", latency=t["latency"])
    return net


def freshness(run: Run) -> dict[str, Any]:
    """How old each position was when the map had drawn it (creation -> ack, seconds, in the
    order drawn), the oldest, how many were drawn, and the fraction of the run the map spent
    drawing."""
    ages = latencies(run.trace, start="create")
    return {"ages": ages, "oldest": max(ages, default=math.inf), "drawn": len(ages),
            "busy": utilisation(run.trace, "map")}


def _queue_settings(answer: Any) -> tuple[dict | None, Verdict | None]:
    keys = ("capacity", "overflow", "message_ttl")
    if not isinstance(answer, dict):
        return None, Verdict(False, "Give a dict like the starter, {'capacity': ..., "
                                    f"'overflow': ..., 'message_ttl': ...}}, not {short(answer)}.")
    unknown = [k for k in answer if k not in keys]
    if unknown:
        return None, Verdict(False, f"Unknown setting {unknown[0]!r}: use the keys "
                                    f"{', '.join(map(repr, keys))}.")
    if all(not_attempted(answer.get(k, ...)) and answer.get(k, ...) is ... for k in keys):
        return None, Verdict(None, "Replace each ... with your setting (None means no limit), "
                                   "then run this cell again.")
    for k in keys:
        if answer.get(k, ...) is ...:
            return None, Verdict(False, f"You have not set {k!r} yet: replace its ... with a "
                                        "value, or None for no limit.")
    cap, over, ttl = answer["capacity"], answer["overflow"], answer["message_ttl"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        return None, Verdict(False, "capacity is a whole number of messages, 1 or more (or "
                                    f"None for no limit), not {short(cap)}.")
    if over is None and cap is not None:
        return None, Verdict(False, f"With a capacity of {cap}, overflow says what the queue "
                                    "does when it is full: choose one of "
                                    f"{', '.join(map(repr, _OVERFLOWS))}.")
    if over is None:  # no capacity: the overflow is never used
        over = "drop-head"
    if over not in _OVERFLOWS:
        return None, Verdict(False, f"overflow is one of {', '.join(map(repr, _OVERFLOWS))}, "
                                    f"not {short(over)}.")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, Real)
                            or not math.isfinite(ttl) or ttl <= 0):
        return None, Verdict(False, "message_ttl is a number of seconds above 0 (or None for "
                                    f"no TTL), not {short(ttl)}.")
    if ttl is not None and ttl >= 100:
        return None, Verdict(False, f"message_ttl is in seconds here: {ttl:g} s is far longer "
                                    "than this run. (RabbitMQ's x-message-ttl is in "
                                    "milliseconds; mqlab's is in seconds.)")
    return {"capacity": cap, "overflow": over, "message_ttl": ttl}, None


def ex2(answer: Any) -> Verdict:
    """Check the settings of the map's queue: no position drawn older than 0.5 s, and the map
    drawing at least 97 % of the time, on three seeds."""
    if not_attempted(answer):
        return Verdict(None, "Fill in the three settings, then run this cell again.")
    settings, bad = _queue_settings(answer)
    if bad is not None:
        return bad
    t = TRACKER
    runs = [freshness(tracker(seed=s, **settings).run(until=t["until"])) for s in t["seeds"]]
    oldest = max(r["oldest"] for r in runs)
    busy = min(r["busy"] for r in runs)
    cap, over, ttl = settings["capacity"], settings["overflow"], settings["message_ttl"]
    fresh = oldest <= t["max_age"] + 1e-9
    measured = (f"On 3 runs: the oldest position drawn was {oldest:.2f} s old, and the map drew "
                f"{busy:.0%} of the time (at worst).")
    if fresh and busy >= t["busy"]:
        return Verdict(True, f"{measured} The newest position waits, older ones make room: the "
                             "map always has something to draw, and never something old. "
                             "(A TTL just long enough to keep about one position does the same "
                             "job; capacity 1 with drop-head says it directly.)")
    if not fresh:
        if over == "block" and cap is not None:
            why = ("With overflow='block' the broker makes the bus wait: positions queue up in "
                   "the bus instead of the broker, and they age there just the same.")
        elif over in ("reject-publish", "drop-lowest") and cap is not None:
            why = (f"overflow={over!r} keeps the positions already waiting and turns the newest "
                   "away: the map draws the oldest of what arrived. Here the newest must win.")
        elif cap is None and ttl is None:
            why = ("With no limit at all, positions pile up faster than the map draws them, "
                   "and it draws older and older ones.")
        elif ttl is not None and (cap is None or cap > 1):
            why = (f"A TTL of {ttl:g} s counts only the time in the queue: the "
                   f"{t['latency']:g} s on the link before it and up to {t['service'][1]:g} s "
                   "of drawing after it come on top. Shorten it, or keep fewer positions.")
        else:
            why = (f"capacity {cap} keeps {cap} positions waiting: the map takes the oldest of "
                   f"them, {t['interval']:g} s older than the newest for each extra one.")
        return Verdict(False, f"{measured} Too old (more than {t['max_age']:g} s). {why}")
    why = ("Positions expire while the map is still drawing, and then it waits idle for the "
           "next one to arrive.") if ttl is not None else (
        "The map waits idle for positions it could have drawn.")
    return Verdict(False, f"{measured} Fresh enough, but the map is idle too often (it must "
                          f"draw at least {t['busy']:.0%} of the time). {why} Keep the newest "
                          "position waiting instead of throwing everything away.")


# -- section 3: a real cluster, recorded -----------------------------------------------------

DATA = Path(__file__).resolve().parent.parent / "data" / "lesson10"
"""Where the recorded runs of section 3 are kept (``cluster-quorum.json.gz`` and
``cluster-classic.json.gz``, made by :func:`mqlab.rabbit_cluster.run_through_failure`)."""


def cluster_file(queue_type: str) -> Path:
    """The saved trace of section 3's real run through a node's failure, for a ``"quorum"`` or
    a ``"classic"`` queue: load it with ``mq.Trace.load``."""
    if queue_type not in ("quorum", "classic"):
        raise ValueError(f"queue_type must be 'quorum' or 'classic', got {queue_type!r}")
    return DATA / f"cluster-{queue_type}.json.gz"


# -- section 4: a queue and a log, side by side --------------------------------------------------

SIDE = {"orders": 80, "interval": 0.25, "fast": 0.2, "slow": 1.0, "late": 10.0,
        "customers": ("ana", "ben", "carla", "dev", "emma", "lea"), "until": 40.0}
"""Section 4's shop: orders, seconds between them, a fast and a slow reader's work per order
(s), when the late reader joins (s), the customers, and the run's length (s)."""

_PICK = random.Random(3)
_WHO = [_PICK.choice(SIDE["customers"]) for _ in range(SIDE["orders"])]  # who places order i+1


def _order(i: int) -> dict:
    return {"customer": _WHO[i], "order": i + 1}


def side_by_side(kind: str, seed: int = 1) -> Run:
    """The same 80 orders (one every 0.25 s, six customers) through a queue or a log, to a
    fast reader (0.2 s per order) and a slow one (1.0 s), and a late reader ``audit`` that
    is down until 10 s. ``kind="queue"``: fast and slow compete on the queue ``orders``;
    audit has a queue of its own, declared when it first connects (a temporary queue).
    ``kind="log"``: a topic of 2 partitions keyed by customer; fast and slow are the group
    ``billing``, audit a group of its own that starts at the earliest record."""
    if kind not in ("queue", "log"):
        raise ValueError(f"kind must be 'queue' or 'log', got {kind!r}")
    s = SIDE
    net = Network(seed=seed)
    net.broker("hub")
    late = [(0.0, s["late"])]
    if kind == "queue":
        net.exchange("hub", "sales", type="fanout")
        net.queue("hub", "orders")
        net.queue("hub", "audit-q", temporary=True)
        net.bind("sales", "orders")
        net.bind("sales", "audit-q")
        net.producer("shop", interval=s["interval"], count=s["orders"], exchange="sales",
                     payload=_order)
        net.consumer("fast", queue="orders", service=s["fast"])
        net.consumer("slow", queue="orders", service=s["slow"])
        net.consumer("audit", queue="audit-q", service=0.02, crash=late)
    else:
        net.topic("hub", "orders", partitions=2)
        net.producer("shop", interval=s["interval"], count=s["orders"], topic="orders",
                     payload=_order, key=lambda p: p["customer"])
        net.consumer("fast", topic="orders", group="billing", service=s["fast"])
        net.consumer("slow", topic="orders", group="billing", service=s["slow"])
        net.consumer("audit", topic="orders", group="audit", service=0.02, crash=late)
    return net.run(until=s["until"])


def out_of_order(run: Run, members: tuple[str, ...] = ("fast", "slow")) -> int:
    """Orders that ``members`` started while an earlier order of the same customer was not yet
    done."""
    done = {e.msg: e.time for e in run.trace.filter(kind="ack") if e.node in members}
    count = 0
    for e in run.trace.filter(kind="start"):
        if e.node not in members:
            continue
        now = run.trace.messages[e.msg].payload
        count += any(run.trace.messages[m].payload["customer"] == now["customer"]
                     and run.trace.messages[m].payload["order"] < now["order"] and t > e.time
                     for m, t in done.items())
    return count


NEEDS = {
    "resize": "Photos to resize: jobs take from 1 s to 2 minutes, and each should go to "
              "whichever worker is free.",
    "fraud": "A fraud model, changed every month, must read the last 30 days of payments "
             "again each time it changes.",
    "urgent": "Support tickets: tickets from customers with an outage must be handled before "
              "all the others.",
    "ledger": "Each bank account's transactions must be applied in the order they happened, by "
              "many workers in parallel.",
    "teams": "Five teams (billing, search, stock, analytics, mail) each read every order "
             "event at their own pace; more teams will join, and each new team will want the "
             "events from before it joined too.",
    "expire": "A 'your taxi is here' message must be thrown away if it has not been delivered "
              "within 60 s.",
}
"""Exercise 3's needs: for each, "queue" or "log"."""

_NEED_ANSWERS = {"resize": "queue", "fraud": "log", "urgent": "queue", "ledger": "log",
                 "teams": "log", "expire": "queue"}

_NEED_WHY = {
    "resize": "resize: in a log each partition has one reader, so a 2-minute job holds up "
              "every job behind it in its partition; a queue gives each job to whichever "
              "worker is free (section 4's slow reader).",
    "fraud": "fraud: a queue forgets a payment once it is acked; only a log keeps 30 days to "
             "read again (retention, and a group that seeks back).",
    "urgent": "urgent: a log is read in offset order, so nothing overtakes; priorities are a "
              "queue's feature (lesson 03).",
    "ledger": "ledger: competing consumers on one queue start an account's transactions on "
              "different workers, out of order (section 4 counted them); a log keyed by "
              "account keeps each account in one partition, in order, and spreads the "
              "accounts.",
    "teams": "teams: with queues, a new team gets a queue of its own, and that queue holds "
             "only the events that come after it was declared, none from before the team "
             "joined; a log is written once and each team is a group that keeps its own "
             "offset, from the start if it likes.",
    "expire": "expire: a log has no per-message TTL (retention deletes old records for "
              "everyone, not undelivered messages); a queue's TTL (lesson 04) does exactly "
              "this.",
}


def ex3(choices: Any) -> Verdict:
    """Check a dict need -> "queue" | "log"."""
    if not_attempted(choices):
        return Verdict(None, "Fill in your six choices, then run this cell again.")
    if not isinstance(choices, dict):
        return Verdict(False, f"Give a dict like the starter, {{'resize': ..., ...}}, not "
                              f"{short(choices)}.")
    missing = [k for k in NEEDS if k not in choices]
    if missing:
        return Verdict(False, f"Your dict has no choice for {missing[0]!r}: keep the keys "
                              f"{', '.join(map(repr, NEEDS))}.")
    unknown = [k for k in choices if k not in NEEDS]
    if unknown:
        return Verdict(False, f"Unknown need {short(unknown[0])}: use the keys "
                              f"{', '.join(map(repr, NEEDS))}.")
    if all(not_attempted(choices[k]) for k in NEEDS):
        return Verdict(None, "Replace each ... with 'queue' or 'log', then run this cell again.")
    hints = []
    for key in NEEDS:
        given = choices[key]
        if not_attempted(given):
            return Verdict(False, f"You have not chosen for {key!r} yet.")
        if not isinstance(given, str) or given.strip().lower() not in ("queue", "log"):
            return Verdict(False, f"Choose 'queue' or 'log' for {key!r}, not {short(given)}.")
        if given.strip().lower() != _NEED_ANSWERS[key]:
            hints.append(_NEED_WHY[key])
    if hints:
        n = len(hints)
        return Verdict(False, f"{n} of {len(NEEDS)} to look at again. " + " ".join(hints))
    return Verdict(True, "Queues for work that is shared out, prioritised, retried or expired "
                         "message by message; logs for history that is read again, by many "
                         "independent readers, in order per key.")


# -- section 5: a design exercise, run and measured ----------------------------------------------

DESIGN_FIELDS = {
    "pattern": ("point-to-point", "publish-subscribe"),
    "guarantee": ("at-most-once", "at-least-once", "effectively-once"),
    "store": ("queue", "log"),
    "durable": (True, False),
    "ttl": "None, or a number of seconds",
    "security": ("tls", "login", "permissions", "hmac", "encrypt", "replay-guard", "rate-limit"),
}
"""What a design says: the fields of exercise 4 and the values each may take. ``security`` is
a set (or list) of measures."""

SECURITY = {
    "tls": "encrypt every link (amqps): nobody on the network reads or changes what crosses",
    "login": "every client logs in to the broker (authentication)",
    "permissions": "each user may write and read only what it needs (access control)",
    "hmac": "each message carries a tag made with a key the publisher shares with its "
            "readers: a reader can tell it was not forged or changed, even by the broker",
    "encrypt": "the payload is encrypted end to end: the broker cannot read it",
    "replay-guard": "readers refuse a message id they have seen or a message too old",
    "rate-limit": "the broker caps how fast each user may publish",
}
"""Exercise 4's security measures (lesson 08), one line each."""

SCENARIOS = {
    "payments": {
        "text": "A shop sends card payments (about 10 a second) to the bank, where two "
                "workers charge them. Every payment must be charged exactly once, even when a "
                "worker crashes or the broker restarts; a payment waiting for the card "
                "network is retried on its own, without holding up the others; no payment "
                "ever expires. Only the shop may publish payments and only the bank read "
                "them; nobody on the network may read or change one. The broker is the "
                "bank's own and may read the payments, but even if it is broken into, the "
                "bank must be able to check that each payment came from the shop unchanged. "
                "(Checking is enough here: to prove it to someone else, a court say, would "
                "take a digital signature, which only the shop can make.)",
        "readers": {"bank": 2},
        "security": {"tls", "login", "permissions", "hmac"},
    },
    "telemetry": {
        "text": "10,000 delivery vans send their position every 2 s. A live map and an "
                "analytics team both need every position; a lost one leaves a hole in "
                "analytics' history, and a repeated one does no harm (analytics keys positions "
                "by van and time). Each van's positions must stay in order. When its model "
                "changes, analytics reads the last 7 days again, and new teams will want the "
                "history too; none of it may be lost when the broker restarts. No van may "
                "publish as another or read positions; nobody on the network may read one (it "
                "reveals where a driver is); a van whose software goes wrong must not flood "
                "the broker. The broker is the company's own and trusted.",
        "readers": {"map": 1, "analytics": 1},
        "security": {"tls", "login", "permissions", "rate-limit"},
    },
    "typing": {
        "text": "A chat app shows 'Ana is typing...' to the members of a room. A member may "
                "be online on several devices at once (a phone, a laptop, a tablet), and every "
                "device online must show it within 1 s or not at all (a late one is wrong); a "
                "lost one does no harm (the next comes a moment later) and neither does a "
                "repeated one; nothing of it needs to survive a broker restart. Members must "
                "log in and may only listen to their own rooms, and nobody on the network may "
                "read who types where. The broker is the chat company's own and trusted.",
        "readers": {"phone": 1, "laptop": 1, "tablet": 1},
        "security": {"tls", "login", "permissions"},
    },
}
"""Exercise 4's systems: the requirements (``text``), who reads (role -> workers) and the
security measures the text asks for (the check rejects any other as cost for nothing)."""

REFERENCE = {
    "payments": {"pattern": "point-to-point", "guarantee": "effectively-once", "store": "queue",
                 "durable": True, "ttl": None,
                 "security": {"tls", "login", "permissions", "hmac"}},
    "telemetry": {"pattern": "publish-subscribe", "guarantee": "at-least-once", "store": "log",
                  "durable": True, "ttl": None,
                  "security": {"tls", "login", "permissions", "rate-limit"}},
    "typing": {"pattern": "publish-subscribe", "guarantee": "at-most-once", "store": "queue",
               "durable": False, "ttl": 1.0, "security": {"tls", "login", "permissions"}},
}
"""A design that meets each system's requirements at no more cost than needed (for typing, a
shorter TTL does too)."""

_MODEL = {
    "payments": {"interval": 0.1, "count": 100, "deadline": None, "service": 0.15,
                 "readers_down": (4.0, 7.0), "broker_down": (7.0, 7.5), "late": None},
    "telemetry": {"interval": 0.1, "count": 100, "deadline": None, "service": 0.05,
                  "readers_down": None, "broker_down": (7.0, 7.5), "late": ("analytics", 5.0)},
    "typing": {"interval": 0.1, "count": 100, "deadline": 1.0, "service": 0.02,
               "readers_down": (4.0, 7.0), "broker_down": None, "late": None},
}


def design_model(scenario: str, design: dict, seed: int = 1) -> dict[str, Any]:
    """Run a scenario of exercise 4 with a design and measure it.

    The model: 100 messages, one every 0.1 s, over a link that loses 5 % (and takes no time);
    each reader role (``SCENARIOS[s]["readers"]``) processes them, and its workers crash
    before their ack 5 % of the time. Payments: the bank's workers are both down from 4 s to
    7 s and the broker restarts at 7 s; telemetry: the broker restarts at 7 s and analytics
    joins only at 5 s; typing: the readers are down from 4 s to 7 s.

    Returns, per role, messages ``missed`` (never processed by that role), ``repeated``
    (processed more than once), ``late`` (started more than the deadline after they were
    made: 1 s, for typing), ``handled`` (messages its workers took in hand, repeats and
    copies included: the work it did), and the run (``"run"``)."""
    m, roles = _MODEL[scenario], SCENARIOS[scenario]["readers"]
    d = design
    alo = d["guarantee"] != "at-most-once"
    done: Counter = Counter()  # (role, message) -> times its work was done
    handled: Counter = Counter()  # role -> messages its workers took in hand, repeats included
    seen_by: dict[str, set] = {role: set() for role in roles}

    def handler(role: str):
        def handle(msg):
            handled[role] += 1
            if d["guarantee"] == "effectively-once":
                if msg.id in seen_by[role]:
                    return  # a repeat: ack it, do nothing (the store outlives crashes)
                seen_by[role].add(msg.id)
            done[(role, msg.id)] += 1
        return handle

    net = Network(seed=seed)
    net.broker("hub", crash=[m["broker_down"]] if m["broker_down"] else None)
    producer = {"interval": m["interval"], "count": m["count"], "persistent": d["durable"]}
    if alo:
        producer.update(confirm=True, timeout=0.5, retries=20,
                        backoff=backoff(0.2, cap=1.0, jitter="full"))
    workers = [(role, f"{role}{i}" if n > 1 else role) for role, n in roles.items()
               for i in range(1, n + 1)]
    late = m["late"]

    def downs(role: str) -> list | None:
        spans = []
        if m["readers_down"]:
            spans.append(m["readers_down"])
        if late and late[0] == role:
            spans.append((0.0, late[1]))
        return spans or None

    if d["store"] == "log":
        net.topic("hub", "events", partitions=2)
        net.producer("source", topic="events", key=lambda p: f"k{p % 7}",
                     payload=lambda i: i, **producer)
        for role, name in workers:
            group = "all" if d["pattern"] == "point-to-point" else role
            net.consumer(name, topic="events", group=group, service=m["service"],
                         commit="after" if alo else "before", crash=downs(role),
                         handler=handler(role))
    else:
        ttl = d["ttl"]
        consumer = {"service": m["service"], "ack": "manual" if alo else "auto",
                    "crash_before_ack": 0.05, "restart": 0.3}
        if alo:
            consumer["ack_timeout"] = 2.0
        if d["pattern"] == "point-to-point":
            net.queue("hub", "events", durable=d["durable"], message_ttl=ttl)
            net.producer("source", routing_key="events", payload=lambda i: i, **producer)
            for role, name in workers:
                net.consumer(name, queue="events", handler=handler(role), crash=downs(role),
                             **consumer)
        else:
            net.exchange("hub", "events", type="fanout")
            net.producer("source", exchange="events", payload=lambda i: i, **producer)
            for role, name in workers:  # a subscriber queue per worker
                temporary = late is not None and late[0] == role
                net.queue("hub", f"{name}-q", durable=d["durable"], message_ttl=ttl,
                          temporary=temporary)
                net.bind("events", f"{name}-q")
                net.consumer(name, queue=f"{name}-q", handler=handler(role), crash=downs(role),
                             **consumer)
    net.link("source", "hub", latency=0.0, loss=0.05)
    run = net.run(until=60)
    made = {i: msg.created for i, msg in run.trace.messages.items()}
    first: dict[tuple[str, int], float] = {}
    role_of = {name: role for role, name in workers}
    for e in run.trace.filter(kind="start"):
        if e.node in role_of:
            first.setdefault((role_of[e.node], e.msg), e.time)
    out: dict[str, Any] = {"run": run}
    for role in roles:
        ids = sorted(made)
        out[role] = {
            "missed": sum(done[(role, i)] == 0 for i in ids),
            "repeated": sum(done[(role, i)] > 1 for i in ids),
            "late": sum(1 for i in ids if done[(role, i)] and m["deadline"] is not None
                        and first[(role, i)] - made[i] > m["deadline"] + 1e-9),
            "handled": handled[role],
        }
    return out


def _check_design(answer: Any) -> tuple[dict | None, str | None]:
    if not isinstance(answer, dict):
        return None, f"give a dict with the keys {', '.join(DESIGN_FIELDS)}, not {short(answer)}"
    for key in DESIGN_FIELDS:
        if key not in answer:
            return None, f"the key {key!r} is missing"
        if answer[key] is ...:
            return None, f"{key!r} is still ... (replace it with your choice)"
    unknown = [k for k in answer if k not in DESIGN_FIELDS]
    if unknown:
        return None, f"unknown key {unknown[0]!r} (the keys are {', '.join(DESIGN_FIELDS)})"
    d = dict(answer)
    for key in ("pattern", "guarantee", "store"):
        value = d[key].strip().lower() if isinstance(d[key], str) else d[key]
        if value not in DESIGN_FIELDS[key]:
            return None, (f"{key!r} is one of {', '.join(map(repr, DESIGN_FIELDS[key]))}, not "
                          f"{short(d[key])}")
        d[key] = value
    if not isinstance(d["durable"], bool):
        return None, f"'durable' is True or False, not {short(d['durable'])}"
    ttl = d["ttl"]
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, Real)
                            or not math.isfinite(ttl) or ttl <= 0):
        return None, f"'ttl' is None or a number of seconds above 0, not {short(ttl)}"
    sec = d["security"]
    if isinstance(sec, str) or not isinstance(sec, (set, list, tuple, frozenset)):
        return None, ("'security' is a set of measures such as {'tls', 'login'} (or set() for "
                      f"none), not {short(sec)}")
    sec = {s.strip().lower() if isinstance(s, str) else s for s in sec}
    wrong = [s for s in sec if s not in DESIGN_FIELDS["security"]]
    if wrong:
        return None, (f"unknown security measure {short(wrong[0])} (choose from "
                      f"{', '.join(map(repr, DESIGN_FIELDS['security']))})")
    d["security"] = sec
    return d, None


_MISSING_SECURITY = {
    "tls": "without 'tls' anyone on the network reads (and can change) what crosses",
    "login": "without 'login' anyone who reaches the broker can publish and read",
    "permissions": "without 'permissions' every client that logs in may read and write "
                   "everything",
    "hmac": "without 'hmac' the bank cannot tell a payment forged or changed inside a broken "
            "broker from a real one (TLS protects only the links)",
    "rate-limit": "without 'rate-limit' one van gone wrong can flood the broker and delay "
                  "every other van",
}

_NOT_ASKED = {
    ("payments", "encrypt"): "'encrypt' would hide each payment from the broker too, with keys "
                             "that the shop and the bank must share, but the text lets the "
                             "broker read payments and asks only that nobody on the network "
                             "read one ('tls') and that the bank can check each came from the "
                             "shop unchanged ('hmac')",
    ("payments", "replay-guard"): "'replay-guard' adds a second store of the ids seen, but the "
                                  "dedup store that effectively-once needs refuses an id it "
                                  "has seen (a replayed one too, as long as the id is inside "
                                  "the HMAC's tag), and refusing a payment as too old would "
                                  "break 'no payment ever expires'",
    ("payments", "rate-limit"): "'rate-limit' caps how fast the shop, the only publisher, may "
                                "publish, which the text does not ask for, and a cap would "
                                "hold back real payments at a busy moment",
    ("telemetry", "hmac"): "'hmac' tags each of 5,000 positions a second, with a key per van "
                           "that the readers must hold too, but 'login' and 'permissions' "
                           "are what stop a van from publishing as another at the broker, and "
                           "the text trusts the broker",
    ("telemetry", "encrypt"): "'encrypt' would hide each position from the broker, which the "
                              "text trusts, with keys the map and analytics must share ('tls' "
                              "is what keeps positions from the network)",
    ("telemetry", "replay-guard"): "'replay-guard' keeps a store of every id seen, for positions "
                                   "whose repeats do no harm (analytics keys them by van and "
                                   "time), and a reader that refuses old messages could not "
                                   "read the last 7 days again",
    ("typing", "hmac"): "'hmac' tags every 'is typing' so that a reader can tell it was not "
                        "forged or changed, even by the broker, but the text trusts the "
                        "broker, and the tag costs a shared key per room and work on every "
                        "message",
    ("typing", "encrypt"): "'encrypt' encrypts every 'is typing' end to end, with keys shared "
                           "per room, to hide it from the broker, which the text trusts ('tls' "
                           "is what keeps it from the network)",
    ("typing", "replay-guard"): "'replay-guard' keeps a store of every id seen, for messages "
                                "whose repeats do no harm",
    ("typing", "rate-limit"): "'rate-limit' caps how fast each member may publish, a "
                              "protection the text does not ask for here",
}
"""Why each security measure that a scenario's text does not ask for is not needed there: a
design with one is not the cheapest that meets the requirements, and the check rejects it, as
it rejects a guarantee or a disk write that no requirement asks for."""


def _missing_tls(scenario: str, d: dict) -> str:
    if "encrypt" not in d["security"]:
        return _MISSING_SECURITY["tls"]
    key = {"telemetry": " (which van)", "typing": " (which room: who types where)"}
    unchanged = "" if "hmac" in d["security"] else (
        ", and nothing tells a reader that a message was changed on the way")
    return ("without 'tls' much still crosses the network in the clear: 'encrypt' hides the "
            "payload, but not the password each client logs in with, the headers or the "
            f"routing key{key.get(scenario, '')}{unchanged}")


def _judge(scenario: str, d: dict, measured: list[dict]) -> list[str]:
    """What breaks: the requirements the design misses, measured where the model shows it."""
    s, roles = SCENARIOS[scenario], SCENARIOS[scenario]["readers"]
    total = {role: {k: sum(m[role][k] for m in measured)
                    for k in ("missed", "repeated", "late", "handled")} for role in roles}
    n = len(measured) * _MODEL[scenario]["count"]
    out = []

    def measure(role: str, what: str) -> str:
        return f"{total[role][what]} of {n} in {len(measured)} runs"

    def measure_all(what: str) -> str:  # over every reader: n messages each
        return (f"{sum(t[what] for t in total.values())} of {n * len(roles)} deliveries in "
                f"{len(measured)} runs")

    if scenario == "payments":
        if d["pattern"] == "publish-subscribe":
            out.append("publish-subscribe gives each bank worker its own copy of every "
                       "payment, so both do all the work (the bank took in hand "
                       f"{total['bank']['handled'] / n:.1f} copies per payment): a second "
                       "worker adds no capacity, and without a dedup store every payment is "
                       "charged twice; the workers must share one queue (point-to-point)")
        if d["guarantee"] == "at-most-once":
            out.append("at-most-once loses payments on the link and in crashed workers "
                       f"(never charged: {measure('bank', 'missed')})")
        elif d["guarantee"] == "at-least-once" and d["pattern"] == "point-to-point":
            out.append("at-least-once charges a payment again after a worker crashes between "
                       f"charging and acking (charged twice: {measure('bank', 'repeated')}): "
                       "charging a card is not idempotent")
        if d["store"] == "log":
            out.append("a log hands out its records in order, one at a time per partition: a "
                       "payment waiting for the card network holds up every payment behind it, "
                       "and a single record cannot be retried on its own")
        if not d["durable"] and d["store"] == "queue":
            out.append("without durable queues and persistent messages the broker's restart "
                       f"loses the payments waiting in it (never charged: "
                       f"{measure('bank', 'missed')})")
        if d["ttl"] is not None and d["store"] == "queue":
            lost = (f"never charged: {measure('bank', 'missed')}" if total["bank"]["missed"]
                    else "none did in these runs")
            out.append(f"no payment may expire, and a TTL of {d['ttl']:g} s would throw away "
                       "any payment that waited longer, through a long outage of the bank's "
                       f"workers ({lost})")
    elif scenario == "telemetry":
        if d["pattern"] == "point-to-point":
            out.append("point-to-point gives each position to one reader only: the map and "
                       "analytics each miss what the other got (analytics missed "
                       f"{measure('analytics', 'missed')})")
        if d["guarantee"] == "at-most-once":
            out.append("at-most-once loses positions on the link: holes in analytics' history "
                       f"(analytics missed {measure('analytics', 'missed')})")
        elif d["guarantee"] == "effectively-once":
            out.append("effectively-once keeps a store of every position's id for nothing: a "
                       "repeated position does no harm here, so at-least-once is enough and "
                       "simpler")
        if d["store"] == "queue":
            out.append("a queue forgets what was acked: analytics cannot read the last 7 days "
                       "again, and a new team gets only what comes after its queue was "
                       f"declared (analytics, joining at 5 s, missed "
                       f"{measure('analytics', 'missed')})")
        if not d["durable"]:
            out.append("not durable: a broker restart would lose the history analytics must "
                       "read again")
        if d["ttl"] is not None:
            out.append("a TTL throws positions away, but analytics needs 7 days of them "
                       "(a log keeps them by retention, for every reader)")
    else:
        if d["pattern"] == "point-to-point":
            out.append("point-to-point gives each 'is typing' to one of the member's devices "
                       "only (the phone missed " + measure("phone", "missed") + ")")
        if d["guarantee"] != "at-most-once":
            out.append(f"{d['guarantee']} adds confirms, acks and retries (traffic, waiting, "
                       "code) to messages whose loss does no harm: at-most-once is enough")
        if d["store"] == "log":
            out.append("a log has no TTL: a reader that comes back late reads old 'is typing' "
                       "records and shows them (late: " + measure_all("late") + ")")
        if d["ttl"] is None and d["store"] == "queue":
            out.append("without a TTL a device that was away gets every old 'is typing' when "
                       "it comes back, long after the fact (late: " + measure_all("late") + ")")
        elif d["ttl"] is not None and d["store"] == "queue" and (
                d["ttl"] > _MODEL["typing"]["deadline"] + 1e-9):
            seen = ("late: " + measure_all("late") if any(t["late"] for t in total.values())
                    else "none was in these runs, but nothing stops it")
            out.append(f"a TTL of {d['ttl']:g} s lets old ones through: an 'is typing' may "
                       f"wait up to {d['ttl']:g} s in the queue and be shown more than 1 s "
                       f"after it was made ({seen}); 1 s is the most, and a TTL counts only "
                       "the time in the queue")
        elif d["ttl"] is not None and d["store"] == "queue" and any(
                t["late"] for t in total.values()):
            out.append(f"a TTL of {d['ttl']:g} s lets old ones through (late: "
                       + measure_all("late") + "): a TTL counts only the time in the queue")
        if d["durable"]:
            out.append("durable queues and persistent messages write every 'is typing' to "
                       "disk, and none of it needs to survive a restart: cost for nothing")
    for measure_name in sorted(s["security"] - d["security"]):
        out.append(_missing_tls(scenario, d) if measure_name == "tls"
                   else _MISSING_SECURITY[measure_name])
    for measure_name in sorted(d["security"] - s["security"]):  # not asked for by the text
        out.append(_NOT_ASKED[(scenario, measure_name)] + ": cost for nothing")
    return out


def _described(d: dict) -> str:
    """A design in words: what the student chose."""
    sec = sorted(d["security"])
    measures = (" and ".join([", ".join(sec[:-1]), sec[-1]]) if len(sec) > 1
                else sec[0] if sec else "no security measure")
    ttl = "no TTL" if d["ttl"] is None else f"a TTL of {d['ttl']:g} s"
    store = f"{'a durable' if d['durable'] else 'a non-durable'} {d['store']}"
    return f"{d['pattern']} on {store}, {d['guarantee']}, {ttl}, with {measures}"


def _typing_ttl(ttl: float) -> str:
    """What the typing design's TTL (at most the 1 s deadline) does, in this model and on a real
    network."""
    deadline = _MODEL["typing"]["deadline"]
    if math.isclose(ttl, deadline):
        return (f"a TTL of {ttl:g} s is just enough in this model, whose network takes no time, "
                "but a TTL counts only the time in the queue (section 2), so on a real network "
                "make it shorter, to leave room for the trips to and from the broker")
    return (f"a TTL of {ttl:g} s let nothing through late in these runs, and on a real "
            f"network it leaves {deadline - ttl:g} s for the trips to and from the broker, "
            "which a TTL does not "
            "count (section 2); the shorter it is, the more it can throw away that could still "
            "have been shown in time")


@cache
def _measured(scenario: str, key: tuple, seeds: tuple = (1, 2)) -> list[dict]:
    d = dict(key)
    d["security"] = set(d["security"])
    return [{k: v for k, v in design_model(scenario, d, seed).items() if k != "run"}
            for seed in seeds]


def ex4(designs: Any) -> Verdict:
    """Check a dict scenario -> design: each design is run as a model (two seeds), measured,
    and held against its requirements."""
    if not_attempted(designs):
        return Verdict(None, "Fill in your three designs, then run this cell again.")
    if not isinstance(designs, dict):
        return Verdict(False, "Give a dict {'payments': {...}, 'telemetry': {...}, "
                              f"'typing': {{...}}}} like the starter, not {short(designs)}.")
    missing = [k for k in SCENARIOS if k not in designs]
    if missing:
        return Verdict(False, f"Your dict has no design for {missing[0]!r}: keep the keys "
                              f"{', '.join(map(repr, SCENARIOS))}.")
    if all(isinstance(designs[k], dict) and all(v is ... for v in designs[k].values())
           for k in SCENARIOS):
        return Verdict(None, "Replace each ... with your choice, then run this cell again.")
    problems: list[str] = []
    reports: dict[str, str] = {}  # scenario -> what was measured, for the designs that pass
    chosen: dict[str, dict] = {}  # scenario -> its design, once checked
    for scenario in SCENARIOS:
        d, bad = _check_design(designs[scenario])
        if bad is not None:
            return Verdict(False, f"{scenario}: {bad}.")
        key = tuple(sorted((k, tuple(sorted(v)) if k == "security" else v)
                           for k, v in d.items()))
        chosen[scenario] = d
        measured = _measured(scenario, key)
        broken = _judge(scenario, d, measured)
        if broken:
            problems.append(f"{scenario.upper()}: " + "; ".join(broken) + ".")
        else:
            roles = SCENARIOS[scenario]["readers"]
            worst = {k: sum(m[r][k] for m in measured for r in roles)
                     for k in ("missed", "repeated", "late")}
            n = len(measured) * _MODEL[scenario]["count"] * len(roles)
            harmless = " (lost ones do no harm here)" if scenario == "typing" else ""
            late = (f", late {worst['late']}" if _MODEL[scenario]["deadline"] is not None
                    else "")
            reports[scenario] = (f"measured on {len(measured)} runs, of {n} deliveries: missed "
                                 f"{worst['missed']}{harmless}, repeated {worst['repeated']}"
                                 f"{late}")
    if problems:
        fine = "; ".join(f"{s} ({r})" for s, r in reports.items())
        ok = f" Fine as they are: {fine}." if reports else ""
        return Verdict(False, " ".join(problems) + ok)
    said = "; ".join(f"{s}, {_described(chosen[s])} ({r})" for s, r in reports.items())
    return Verdict(True, f"Every requirement met, at no more cost than needed: {said}. "
                         "Payments: the two workers share one queue, effectively-once's dedup "
                         "store has each payment charged once, and the security is what the "
                         "text asks for, no more. Telemetry: a log that keeps history for many "
                         "readers; a repeat does no harm, so at-least-once is enough. Typing: "
                         "throw-away fan-out, fresh or not at all; "
                         f"{_typing_ttl(chosen['typing']['ttl'])}.")
