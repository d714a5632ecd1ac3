"""Checks for lesson 02, "Synchronous vs asynchronous".

    from mqlab.checks import lesson02 as check
    check.ex1(my_prediction)     # predict: the throughput of a sync and an async shop
    check.ex2(mean_wait)         # how long messages waited at their producer
    check.ex3(retry_report)      # what a request timeout cost: retries, give-ups, duplicates
    check.ex4(resequence)        # restore the order of a stream with sequence numbers

Each check runs your answer on cases of its own (several runs, several seeds, many shuffled
streams), so an answer that only fits the lesson's example does not pass. It returns a
:class:`~mqlab.checks.Verdict`: truthy when right, and a hint when not.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from functools import cache
from numbers import Real
from typing import Any

from mqlab.checks import Verdict, call_student, not_a_function, not_attempted, short
from mqlab.dist import exponential, uniform
from mqlab.metrics import throughput
from mqlab.network import Network
from mqlab.trace import Trace

__all__ = ["SHOP", "ex1", "ex2", "ex3", "ex4", "shops"]

_FORGOT_RETURN = ("Your function returned None. Write your answer in it, and don't forget "
                  "`return`.")


def _copy(trace: Trace) -> Trace:
    """A copy to hand to the student's function, so that changing it changes nothing here."""
    out = Trace(list(trace.rows), graph=trace.graph, messages=dict(trace.messages))
    out.end_time = trace.end_time
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# -- exercise 1: predict the throughput of a sync and an async shop ------------------------------

SHOP = {"interval": 0.5, "to_hub": 0.1, "to_worker": 0.05, "service": 0.3, "duration": 30.0}
"""The lesson's two shops: seconds between orders, on each link, of work per order; run length."""


def shops(interval: float = SHOP["interval"], to_hub: float = SHOP["to_hub"],
          to_worker: float = SHOP["to_worker"], service: float = SHOP["service"],
          seed: int = 2) -> Network:
    """The lesson's model: two shops make the same orders; one waits for each reply.

    ``shop-sync`` -> hub -> ``pay-sync`` -> ``worker-sync``, and the same with ``async``.
    """
    net = Network(seed=seed)
    net.broker("hub")
    for mode in ("sync", "async"):
        net.producer(f"shop-{mode}", interval=interval, routing_key=f"pay-{mode}", mode=mode)
        net.queue("hub", f"pay-{mode}")
        net.consumer(f"worker-{mode}", queue=f"pay-{mode}", service=service)
        net.link(f"shop-{mode}", "hub", latency=to_hub)
        net.link(f"pay-{mode}", f"worker-{mode}", latency=to_worker)
    return net


@cache
def _measured() -> dict[str, float]:
    trace = _shops_run()
    return {mode: throughput(trace, f"worker-{mode}") for mode in ("sync", "async")}


def _round_trip() -> float:
    s = SHOP
    return s["to_hub"] + s["to_worker"] + s["service"] + s["to_worker"] + s["to_hub"]


def _prediction_mistakes(mode: str) -> list[tuple[float, str]]:
    s = SHOP
    made = 1 / s["interval"]
    if mode == "sync":
        return [
            (1 / s["service"],
             "For the sync shop you gave how fast the worker *could* go (1 / service time). "
             "But the shop sends its next order only when the reply to the last one is back: "
             "one order per round trip (there, the work, and the way back)."),
            (1 / (s["to_hub"] + s["to_worker"] + s["service"]),
             "For the sync shop you counted the way there and the work, but the reply travels "
             "back too: the round trip is 0.1 + 0.05 + 0.3 + 0.05 + 0.1 s."),
            (made,
             "The sync shop cannot keep up with the 2 orders/s it makes: it waits for each "
             "reply before it sends the next order. How long is one round trip?"),
            (_round_trip(),
             "For the sync shop you gave seconds per order (the round trip). Throughput is "
             "orders per second: 1 / that."),
            (60 / _round_trip(),
             "That looks like orders per minute for the sync shop. Give orders per second."),
        ]
    return [
        (1 / s["service"],
         "For the async shop you gave how fast the worker *could* go. But only 2 orders are "
         "made per second: the async shop sends each one as soon as it is made, no faster."),
        (1 / _round_trip(),
         "The async shop does not wait for replies, so the round trip does not limit it: "
         "it sends each order as soon as it is made."),
        (s["interval"],
         "For the async shop you gave seconds between orders. Throughput is orders per "
         "second: 1 / that."),
        (60 * made, "That looks like orders per minute for the async shop. Give orders per "
                    "second."),
    ]


PRECISION = 0.1
"""How close (orders per second, either way) a prediction of exercise 1 must be to the theory."""


def _near(got: float, truth: float) -> bool:
    """Within :data:`PRECISION` of ``truth``, above or below alike (with room for float error)."""
    return abs(got - truth) <= PRECISION + 1e-9


def ex1(prediction: dict | None) -> Verdict:
    """Check a prediction ``{"sync": msg/s, "async": msg/s}`` of the two workers' throughput."""
    if not_attempted(prediction):
        return Verdict(None, "Write your two numbers in the dict, then run this cell again.")
    if not isinstance(prediction, dict):
        return Verdict(False, "Give a dict with your two numbers: {'sync': ..., 'async': ...} "
                              f"(orders per second), not {short(prediction)}.")
    missing = [k for k in ("sync", "async") if k not in prediction]
    if missing:
        return Verdict(False, f"The dict lacks {' and '.join(map(repr, missing))}: keep both "
                              "keys of the starter, 'sync' and 'async'.")
    if all(not_attempted(prediction[k]) for k in ("sync", "async")):
        return Verdict(None, "Replace each ... with your prediction (orders per second), then "
                             "run this cell again.")
    for k in ("sync", "async"):
        v = prediction[k]
        if not_attempted(v):
            return Verdict(False, f"Predict the {k} shop too: replace its ... with a number.")
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            return Verdict(False, f"Give a number of orders per second for {k!r}, not "
                                  f"{short(v)}.")
    truth = {"sync": 1 / _round_trip(), "async": 1 / SHOP["interval"]}
    got = {k: float(prediction[k]) for k in truth}
    near = {k: _near(got[k], truth[k]) for k in truth}
    measured = _measured()
    told = (f"The run measured {measured['sync']:.2f} orders/s for the sync worker and "
            f"{measured['async']:.2f} for the async one.")
    if all(near.values()):
        return Verdict(True, f"{told} The sync shop sends one order per round trip "
                             f"({_round_trip():g} s): 1 / {_round_trip():g} = "
                             f"{truth['sync']:.2f}/s; the async shop sends every order as it "
                             "is made: 2/s. The worker is the same in both.")
    if _near(got["sync"], truth["async"]) and _near(got["async"], truth["sync"]):
        return Verdict(False, "Those are the right two numbers, swapped: which shop waits for "
                              "each reply?")
    k = "sync" if not near["sync"] else "async"  # the first one that is off
    for value, hint in _prediction_mistakes(k):
        if math.isclose(got[k], value, rel_tol=0.03):
            return Verdict(False, hint)
    if k == "sync":
        return Verdict(False, f"Your sync prediction, {got[k]:.3g}/s, is more than "
                              f"{PRECISION:g} orders/s off. The sync shop "
                              "waits for each reply: add up how long one request takes there "
                              "and back, then take 1 / that.")
    return Verdict(False, f"Your async prediction, {got[k]:.3g}/s, is more than "
                          f"{PRECISION:g} orders/s off. How many orders does the shop make per "
                          "second? Can the worker keep up with them?")


# -- runs used by exercises 2 and 3 -------------------------------------------------------------


@cache
def _waiting_run(seed: int, mode: str, rate: float, service: float, until: float,
                 timeout: float | None = None, retries: int = 0, loss: float = 0.0,
                 capacity: int | None = None, crash: tuple = ()) -> Trace:
    """Two producers on one hub: "till" (the one asked about, in ``mode``) and "kiosk"
    (sync, fast), each with its own queue and worker."""
    net = Network(seed=seed)
    net.broker("hub")
    overflow = "block" if capacity is not None else "drop-head"
    net.queue("hub", "orders", capacity=capacity, overflow=overflow)
    net.queue("hub", "other")
    net.consumer("clerk", queue="orders", service=exponential(service),
                 crash=list(crash) or None)
    net.consumer("helper", queue="other", service=exponential(0.2))
    net.producer("till", rate=rate, routing_key="orders", mode=mode, timeout=timeout,
                 retries=retries)
    net.producer("kiosk", rate=1.5, routing_key="other", mode="sync",
                 timeout=None if timeout is None else 2 * timeout,
                 retries=retries)
    net.link("till", "hub", latency=uniform(0.02, 0.2), loss=loss)
    net.link("kiosk", "hub", latency=0.1, loss=loss)
    net.link("orders", "clerk", latency=0.03)
    return net.run(until=until, progress=False).trace


def _publishes(trace: Trace, producer: str) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for t, k, m, node, *_ in trace.rows:
        if k == "publish" and node == producer:
            out.setdefault(m, []).append(t)
    return out


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


# -- exercise 2: how long messages waited at their producer ---------------------------------------


@cache
def _shops_run(interval: float = SHOP["interval"]) -> Trace:
    """A run of the lesson's two shops; with the default interval, the lesson's own ``run``."""
    return shops(interval=interval).run(until=SHOP["duration"], progress=False).trace


def _wait_cases() -> list[tuple[Trace, str, str]]:
    return [
        (_shops_run(0.4), "shop-sync",
         "a run of the lesson's two shops with an order every 0.4 s instead of 0.5 s"),
        (_waiting_run(4, "sync", 3.0, 0.25, 30.0), "till",
         "a run where a synchronous producer falls behind"),
        (_waiting_run(7, "sync", 2.0, 0.3, 30.0, timeout=0.6, retries=2, loss=0.15), "till",
         "a run with timeouts, retries and a lossy link"),
        (_waiting_run(9, "async", 4.0, 0.4, 25.0, capacity=3), "till",
         "a run where a full queue (overflow='block') holds an async producer back"),
        (_waiting_run(4, "sync", 3.0, 0.25, 30.0), "kiosk",
         "the same first run, asked about the other producer, 'kiosk'"),
    ]


def _waits(trace: Trace, producer: str, which: int = 0) -> list[float]:
    created = {m: msg.created for m, msg in trace.messages.items()}
    return [times[which] - created[m] for m, times in _publishes(trace, producer).items()]


def _wait_mistakes(trace: Trace, producer: str) -> list[tuple[float, str]]:
    waits = _waits(trace, producer)
    everyone = [t - trace.messages[m].created for m, t in
                {m: t for t, k, m, *_ in reversed(trace.rows) if k == "publish"}.items()]

    def between(start: str, end: str) -> float:
        began: dict[int, float] = {}
        out = []
        mine = _publishes(trace, producer)
        for t, k, m, *_ in trace.rows:
            if m not in mine:
                continue
            if k == start and m not in began:
                began[m] = t
            elif k == end and m in began:
                out.append(t - began.pop(m))
        return _mean(out)

    created = {m: msg.created for m, msg in trace.messages.items()}
    acked: dict[int, float] = {}
    for t, k, m, *_ in trace.rows:
        if k == "ack" and m in _publishes(trace, producer):
            acked.setdefault(m, t)
    lesson = _shops_run()
    in_lesson = trace is not lesson and any(
        r[1] == "publish" and r[3] == producer for r in lesson.rows)
    mistakes = []
    if in_lesson:
        mistakes.append(
            (_mean(_waits(lesson, producer)),
             "You returned the wait of the lesson's own run, not of the trace you were given: "
             "your function reads a global such as `run.trace`. Use its argument `trace` "
             "everywhere inside it."))
    pubs = _publishes(trace, producer)
    return mistakes + [
        (_mean(_waits(trace, producer, -1)),
         "You measured up to the *last* publish of each message. A request sent again after a "
         "timeout is published twice or more; it stopped waiting at the producer the first "
         "time it was published."),
        (_mean([t - created[m] for m, times in pubs.items() for t in times]),
         "You averaged over every `publish` event. A message sent again after a timeout has "
         "several; count each message once, from its creation to its *first* publish."),
        (_mean(everyone),
         "You averaged over every producer's messages. Keep only those the producer you were "
         "given published (the `node` of their `publish`, or `trace.messages[m].source`)."),
        (between("publish", "ack"),
         "That is the latency from publish to ack. The wait at the producer is from the "
         "message's creation (`trace.messages[m].created`) to its first `publish`."),
        (_mean([t - created[m] for m, t in acked.items()]),
         "That is the whole latency, from creation to ack. The wait at the producer ends when "
         "the message is first published."),
        (sum(waits), "That is the total. Divide it by how many messages were published."),
        (max(waits), "That is the longest wait (the max). Return the mean: the sum of the "
                     "waits divided by how many there are."),
        (statistics.median(waits), "That is the median wait. Return the mean: the sum of the "
                                   "waits divided by how many there are."),
        (1000 * _mean(waits), "That looks like milliseconds. Times in a Trace are in seconds."),
    ] + [(round(_mean(waits), digits), "You rounded the mean. Return it as it is: do not "
                                       "round.") for digits in range(4)]


def ex2(mean_wait: Callable[[Trace, str], float] | None) -> Verdict:
    """Check ``mean_wait(trace, producer)``: the mean time from creation to first publish."""
    if not_attempted(mean_wait):
        return Verdict(None, "Write mean_wait, then run this cell again.")
    if not callable(mean_wait):
        return not_a_function(mean_wait, "mean_wait", "ex2")
    cases = _wait_cases()
    for i, (trace, producer, where) in enumerate(cases):
        got, problem = call_student(mean_wait, _copy(trace), producer)
        if problem is not None:
            return Verdict(False, f"{problem.message} (on {where}). Call it on the lesson's "
                                  "run to see the whole error message.")
        if not_attempted(got):
            return Verdict(None if i == 0 else False, _FORGOT_RETURN)
        if isinstance(got, (list, tuple, dict)):
            return Verdict(False, f"You returned a {type(got).__name__} of {len(got)} values. "
                                  "Return one number: their mean, in seconds.")
        if isinstance(got, bool) or not isinstance(got, Real):
            return Verdict(False, f"Return a number of seconds, not {short(got)}.")
        truth = _mean(_waits(trace, producer))
        if _close(got, truth):
            continue
        for value, hint in _wait_mistakes(trace, producer):
            if _close(got, value):
                return Verdict(False, f"{hint} (On {where}.)")
        return Verdict(False, f"On {where} you returned {got:.4f} s, but messages waited "
                              f"{truth:.4f} s at {producer!r} on average.")
    return Verdict(True, "mean_wait is right on every run we tried. A synchronous producer, "
                         "or one held back by a full queue, makes its messages wait before "
                         "they even leave: only creation -> ack shows that wait.")


# -- exercise 3: what the timeouts cost ------------------------------------------------------------

REPORT_KEYS = ("retries", "gave_up", "duplicates")
"""The keys ex3 expects in the dict ``retry_report`` returns."""


def _report_cases() -> list[tuple[Trace, str, str]]:
    return [
        (checkout_run(timeout=1.0, retries=2), "checkout",
         "the lesson's checkout run (the bank is down from 3 s to 9 s)"),
        (checkout_run(timeout=0.7, retries=3), "checkout",
         "the lesson's checkout with a 0.7 s timeout and three retries"),
        (_waiting_run(7, "sync", 2.0, 0.3, 40.0, timeout=0.6, retries=2, loss=0.15), "till",
         "a run with a lossy link and two producers"),
        (_waiting_run(7, "sync", 2.0, 0.3, 40.0, timeout=0.6, retries=2, loss=0.15), "kiosk",
         "the same run, asked about the other producer, 'kiosk'"),
        (_waiting_run(12, "sync", 2.5, 0.35, 40.0, timeout=0.5, retries=1,
                      crash=((5.0, 12.0),)), "till",
         "a run with one retry per request and a clerk that is down from 5 s to 12 s"),
    ]


def checkout_run(timeout: float | None = None, retries: int = 0, until: float = 15.0) -> Trace:
    """The lesson's checkout: a payment request every second to a bank that is down from
    t = 3 s to t = 9 s."""
    return _checkout(timeout, retries, until)


@cache
def _checkout(timeout: float | None, retries: int, until: float) -> Trace:
    net = Network(seed=3)
    net.broker("hub")
    net.queue("hub", "payments")
    net.consumer("bank", queue="payments", service=0.3, crash=[(3.0, 9.0)])
    net.producer("checkout", interval=1.0, routing_key="payments", mode="sync",
                 timeout=timeout, retries=retries)
    net.link("checkout", "hub", latency=0.1)
    net.link("payments", "bank", latency=0.05)
    return net.run(until=until, progress=False).trace


def _report(trace: Trace, producer: str) -> dict[str, int]:
    mine = _publishes(trace, producer)
    timeouts = [r[5] for r in trace.rows if r[1] == "timeout" and r[3] == producer]
    acks: dict[int, int] = {}
    for r in trace.rows:
        if r[1] == "ack" and r[2] in mine:
            acks[r[2]] = acks.get(r[2], 0) + 1
    return {"retries": timeouts.count("retry"), "gave_up": timeouts.count("give up"),
            "duplicates": sum(n - 1 for n in acks.values())}


def _report_mistakes(trace: Trace, producer: str, key: str) -> list[tuple[int, str]]:
    mine = _publishes(trace, producer)
    acks = [r[2] for r in trace.rows if r[1] == "ack" and r[2] in mine]
    retried = {m for m, times in mine.items() if len(times) > 1}
    everyone = {"retries": sum(1 for r in trace.rows if r[1] == "timeout" and r[5] == "retry"),
                "gave_up": sum(1 for r in trace.rows if r[1] == "timeout" and r[5] == "give up")}
    all_acks: dict[int, int] = {}
    for r in trace.rows:
        if r[1] == "ack":
            all_acks[r[2]] = all_acks.get(r[2], 0) + 1
    everyone["duplicates"] = sum(n - 1 for n in all_acks.values())
    other = [(everyone[key], f"Your {key!r} counts every producer's. Keep only the events of "
                             "the producer you were given (its `node`, or for acks, the "
                             "messages it published).")]
    if key == "retries":
        return other + [
            (sum(1 for r in trace.rows if r[1] == "timeout" and r[3] == producer),
             "Your 'retries' counts every timeout. Some of them say 'give up' (the `info` "
             "column): count only those that say 'retry'."),
            (len(retried), "Your 'retries' counts the requests that were retried. A request "
                           "can be sent again more than once: count every retry."),
        ]
    if key == "gave_up":
        return other + [
            (sum(1 for r in trace.rows if r[1] == "timeout" and r[3] == producer),
             "Your 'gave_up' counts every timeout. Count only those whose `info` is "
             "'give up'."),
        ]
    late = sum(1 for r in trace.rows if r[1] == "reply" and r[3] == producer
               and "late" in r[5])
    return other + [
        (_report(trace, producer)["retries"],
         "Your 'duplicates' is the number of retries. A retry is one more publish, and not "
         "every publish is processed: it can be lost on the way or still be queued when the "
         "run ends, and a request whose first publish was lost is processed only once. Count "
         "from the `ack` events at the consumer: for each message id the producer published, "
         "the acks after its first."),
        (sum(1 for m in acks if m in retried),
         "Your 'duplicates' counts every ack of a retried request. The first ack of each "
         "request is the work that was wanted: count only the acks after it."),
        (len(acks), "Your 'duplicates' counts every ack. Count only the second, third, ... "
                    "ack of the same message id."),
        (late, "Your 'duplicates' counts late replies. A late reply can answer a request the "
               "producer gave up on: that work was done once, not twice. Count acks of a "
               "message id after its first."),
    ]


def ex3(retry_report: Callable[[Trace, str], dict] | None) -> Verdict:
    """Check ``retry_report(trace, producer)`` -> {"retries", "gave_up", "duplicates"}."""
    if not_attempted(retry_report):
        return Verdict(None, "Write retry_report, then run this cell again.")
    if not callable(retry_report):
        return not_a_function(retry_report, "retry_report", "ex3")
    for i, (trace, producer, where) in enumerate(_report_cases()):
        got, problem = call_student(retry_report, _copy(trace), producer)
        if problem is not None:
            return Verdict(False, f"{problem.message} (on {where}). Call it on the lesson's "
                                  "run to see the whole error message.")
        if not_attempted(got):
            return Verdict(None if i == 0 else False, _FORGOT_RETURN)
        if not isinstance(got, dict):
            return Verdict(False, "Return a dict {'retries': ..., 'gave_up': ..., "
                                  f"'duplicates': ...}}, not {short(got)}.")
        missing = [k for k in REPORT_KEYS if k not in got]
        if missing:
            return Verdict(False, f"The dict lacks {', '.join(map(repr, missing))}. Use exactly "
                                  "the keys 'retries', 'gave_up' and 'duplicates'.")
        truth = _report(trace, producer)
        lesson = checkout_run(timeout=1.0, retries=2)
        if (producer == "checkout" and trace is not lesson
                and all(got[k] == v for k, v in _report(lesson, producer).items())
                and any(got[k] != v for k, v in truth.items())):
            return Verdict(False, "Your function returned the numbers of the lesson's run, not "
                                  f"of the trace it was given (on {where}): it reads a global "
                                  "such as `patient.trace`. Use its argument `trace` "
                                  "everywhere inside it.")
        for key in REPORT_KEYS:
            value = got[key]
            if isinstance(value, bool) or not isinstance(value, Real):
                return Verdict(False, f"{key!r} must be a whole number, not {short(value)}.")
            if value == truth[key]:
                continue
            for wrong, hint in _report_mistakes(trace, producer, key):
                if value == wrong:
                    return Verdict(False, f"{hint} (On {where}.)")
            return Verdict(False, f"On {where} your {key!r} is {value}, but it should be "
                                  f"{truth[key]}.")
    return Verdict(True, "retry_report is right on every run we tried. Retries rescue requests "
                         "lost on the way, but when the service is only slow they add publishes "
                         "that it must process too, just when it is already behind.")


# -- exercise 4: a resequencer ---------------------------------------------------------------------


def _resequence(arrivals: list[int], first: int = 1) -> list[list[int]]:
    """The reference behaviour (the checks' own): release in order as soon as possible.

    ``first`` is the number the stream starts at (1; other values model a mistake)."""
    out, held, expected = [], set(), first
    for seq in arrivals:
        released = []
        if seq >= expected:
            held.add(seq)
        while expected in held:
            held.discard(expected)
            released.append(expected)
            expected += 1
        out.append(released)
    return out


def _stream_cases() -> list[tuple[list[int], str]]:
    """(arrivals, description): many shuffled streams, some with duplicates and gaps."""
    cases: list[tuple[list[int], str]] = [
        ([2, 3, 1, 5, 4, 6], "the lesson's six readings"),
        ([1, 2, 3, 4], "a stream that arrives in order"),
        ([5, 4, 3, 2, 1], "a stream that arrives backwards"),
        ([], "an empty stream"),
    ]
    for seed in range(12):
        rng = random.Random(seed)
        n = rng.randint(5, 30)
        seqs = list(range(1, n + 1))
        rng.shuffle(seqs)
        cases.append((seqs, f"a shuffled stream of {n} messages (seed {seed})"))
    for seed in range(12, 20):
        rng = random.Random(seed)
        n = rng.randint(5, 20)
        seqs = list(range(1, n + 1))
        seqs += rng.sample(seqs, k=rng.randint(1, 4))  # sent again, or duplicated on the way
        rng.shuffle(seqs)
        cases.append((seqs, f"a shuffled stream of {n} messages with duplicates (seed {seed})"))
    for seed in range(20, 26):
        rng = random.Random(seed)
        n = rng.randint(8, 20)
        lost = set(rng.sample(range(2, n + 1), k=rng.randint(1, 2)))
        seqs = [s for s in range(1, n + 1) if s not in lost]
        rng.shuffle(seqs)
        cases.append((seqs, f"a shuffled stream of {n} messages where "
                            f"{', '.join(map(str, sorted(lost)))} never arrive (seed {seed})"))
    return cases


def _as_releases(got: Any, n: int) -> list[list] | Verdict:
    if isinstance(got, (str, bytes)) or not isinstance(got, (list, tuple)):
        return Verdict(False, "Return a list with one list per arrival: the numbers released "
                              f"right after that arrival. You returned {short(got)}.")
    if got and all(isinstance(x, Real) for x in got):
        return Verdict(False, "You returned one flat list of numbers. Return one list *per "
                              "arrival* instead: for arrivals [2, 1, 3] the answer is "
                              "[[], [1, 2], [3]].")
    if len(got) != n:
        return Verdict(False, f"You returned {len(got)} items for {n} arrivals. Give one list "
                              "per arrival, [] when nothing is released.")
    out = []
    for item in got:
        if isinstance(item, (str, bytes)) or not isinstance(item, (list, tuple)):
            return Verdict(False, "Each item must be a list of the numbers released after one "
                                  f"arrival ([] when none), but one was {short(item)}. For "
                                  "arrivals [2, 1, 3] the answer is [[], [1, 2], [3]].")
        out.append(list(item))
    return out


def _stream_hint(arrivals: list[int], got: list[list], where: str) -> str:
    want = _resequence(arrivals)
    flat = [s for r in got for s in r]
    if arrivals and not flat and any(want):
        return ("Nothing was released at all. The first message is number 1: did you start "
                "counting at 0, or wait for something that never comes?")
    if arrivals and arrivals[0] != 1 and got == _resequence(arrivals, first=arrivals[0]):
        return (f"On {where} you started from the first number that arrived, "
                f"{arrivals[0]}. The stream starts at 1, and number 1 may well arrive later: "
                "start from 1 whatever comes first.")
    if got == [[s] for s in arrivals]:
        return ("You released every message as it arrived: that is the arrival order, still "
                "mixed up. Hold a message until every smaller number has been released.")
    if len(flat) > len(set(flat)):
        twice = sorted({s for s in flat if flat.count(s) > 1})
        return (f"On {where} you released {', '.join(map(str, twice))} more than once. A "
                "number that was released (or is held) already is a duplicate: release it "
                "only once.")
    if sorted(flat) == sorted(set(s for r in want for s in r)) and flat != [
            s for r in want for s in r]:
        return (f"On {where} you released the right numbers in the wrong order. Release them "
                "in increasing order: 1, 2, 3, ...")
    released_late = any(len(r) == 1 for r in got) and any(len(r) > 1 for r in want)
    if released_late and all(len(r) <= 1 for r in got):
        return ("You release at most one number per arrival. When the missing number comes, "
                "the ones held after it may be ready too: keep releasing while the next number "
                "is held.")
    if flat == [s for r in want for s in r]:
        return (f"On {where} the order is right, but the timing is not: release each number "
                "right after the arrival that makes it possible, not later. (Arrivals "
                f"{arrivals[:8]}{'...' if len(arrivals) > 8 else ''} should give "
                f"{want[:8]}{'...' if len(want) > 8 else ''}.)")
    if len(set(flat)) > len(set(s for r in want for s in r)):
        return (f"On {where} you released numbers past a gap. A number that has not arrived "
                "yet holds back every number after it (in this exercise we never skip a gap).")
    i = next(k for k, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
    want_flat = [s for r in want for s in r]
    if flat == want_flat[: len(flat)]:  # right so far, then it stopped releasing
        dup = next(((j, seq) for j, seq in enumerate(arrivals[:i + 1])
                    if seq in arrivals[:j]), None)
        if dup is not None:
            return (f"On {where}: number {dup[1]} arrived a second time (arrival "
                    f"{dup[0] + 1}), and after that you released too little. A number that "
                    "was released already, or is held already, is a duplicate: drop it "
                    "rather than hold it again.")
    before = arrivals[max(0, i - 5): i + 1]
    return (f"On {where}: after the arrivals ...{before} (arrival {i + 1}), you released "
            f"{got[i]}, but it should be {want[i]}.")


def ex4(resequence: Callable[[list[int]], list] | None) -> Verdict:
    """Check ``resequence(arrivals)``: what is released, in order, after each arrival."""
    if not_attempted(resequence):
        return Verdict(None, "Write resequence, then run this cell again.")
    if not callable(resequence):
        return not_a_function(resequence, "resequence", "ex4")
    for i, (arrivals, where) in enumerate(_stream_cases()):
        got, problem = call_student(resequence, list(arrivals))
        if problem is not None:
            return Verdict(False, f"{problem.message} (on {where}: arrivals "
                                  f"{short(arrivals)}).")
        if not_attempted(got):
            return Verdict(None if i == 0 else False, _FORGOT_RETURN)
        releases = _as_releases(got, len(arrivals))
        if isinstance(releases, Verdict):
            return releases
        if releases != _resequence(arrivals):
            return Verdict(False, _stream_hint(arrivals, releases, where))
    return Verdict(True, f"resequence is right on all {len(_stream_cases())} streams we tried, "
                         "with duplicates and gaps. It holds a message only as long as the order "
                         "needs; but a message that is lost holds everything after it back, so a "
                         "real resequencer also needs a time limit.")
