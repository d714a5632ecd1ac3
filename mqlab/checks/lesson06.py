"""Checks for lesson 06, "Measuring performance", and the models the lesson measures.

    from mqlab.checks import lesson06 as check
    check.ex1(p99_latency)      # the 99th percentile of publish -> ack latency, from a trace
    check.ex2(my_prediction)    # predict: how much longer at rho = 0.9 than at rho = 0.5?
    check.ex3(pool_size)        # the fewest workers that keep the wait in the queue short
    check.try_pool_size(pool_size, 12, 0.5, 0.1)  # call it, but stop a loop that never ends
    check.ex4(extra_workers)    # a pipeline's bottleneck, and the fewest workers that fix it

The models live here so that the lesson and its tests measure the same runs:
:func:`payments` (one queue, ``servers`` workers: M/M/c), :func:`theory_sweep` and
:func:`theory_table` (simulation against queueing theory), :func:`pipeline` (three stages).
Each check returns a :class:`~mqlab.checks.Verdict`: truthy when right, and a hint when not.
"""

from __future__ import annotations

import math
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from numbers import Integral, Real
from typing import Any

from mqlab import metrics, theory
from mqlab.checks import Verdict, call_student, not_a_function, not_attempted, short
from mqlab.dist import exponential
from mqlab.network import Network
from mqlab.run import Run
from mqlab.sweeps import Sweep, sweep
from mqlab.trace import Trace

__all__ = ["KNEE", "LESSON_RUN", "PIPE", "SERVICE", "STAGES", "SWEEPS", "bottleneck_answer",
           "end_to_end", "ex1", "ex2", "ex3", "ex4", "knee_ratio", "lesson_run", "payments",
           "pipeline", "pool_answer", "simulated_knee_ratio", "stage_numbers", "theory_latency",
           "theory_sweep", "theory_table", "theory_text", "try_pool_size"]

# -- the payment service: one queue, `servers` workers (M/M/c) ---------------------------------

SERVICE = 0.2
"""Seconds a worker spends checking one payment, on average (exponentially distributed)."""


def payments(rho: float, seed: int, servers: int = 1, link: float = 0.0) -> Network:
    """Payments arrive at random (Poisson) into the queue ``payments``; ``servers`` workers
    each need :data:`SERVICE` seconds per payment on average (exponential). The arrival rate
    is chosen so that each worker is busy a share ``rho`` of the time:
    ``rate = rho * servers / SERVICE``. ``link``: seconds from the shop to the broker."""
    net = Network(seed=seed)
    net.producer("shop", rate=rho * servers / SERVICE, routing_key="payments")
    net.broker("hub")
    net.queue("hub", "payments")
    for i in range(1, servers + 1):
        net.consumer(f"worker-{i}", queue="payments", service=exponential(SERVICE))
    net.link("shop", "hub", latency=link)
    return net


SWEEPS = {
    1: {"rho": [0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "seeds": [1, 2, 3], "until": 2400,
        "warmup": 20},
    3: {"rho": [0.2, 0.4, 0.6, 0.7, 0.8, 0.9], "seeds": [1, 2, 3], "until": 800,
        "warmup": 20},
}
"""The sweeps of section 3, by number of workers: loads, seeds, seconds per run, warm-up."""


@cache
def theory_sweep(servers: int) -> Sweep:
    """Run :func:`payments` with ``servers`` workers at every load of :data:`SWEEPS`, each with
    every seed: one row per run with the standard measures (``mq.sweep``)."""
    if servers not in SWEEPS:
        raise ValueError(f"servers must be one of {sorted(SWEEPS)}, got {servers!r}")
    s = SWEEPS[servers]
    return sweep(payments, rho=s["rho"], servers=[servers], seeds=s["seeds"], until=s["until"],
                 warmup=s["warmup"], progress=False)


def theory_latency(rho: float, servers: int) -> float:
    """M/M/c's mean time in the system W (seconds) for :func:`payments` at load ``rho``."""
    mu = 1 / SERVICE
    return theory.mmc(rho * servers * mu, mu, servers)["W"]


def theory_table(servers: int) -> list[dict[str, float]]:
    """Per load: the simulated mean publish -> ack latency (mean over seeds), M/M/c's W, and
    how far apart they are (``gap``, a fraction of W; positive: the simulation is slower)."""
    means = theory_sweep(servers).mean("latency_mean", by="rho")
    busy = theory_sweep(servers).mean("utilisation", by="rho")
    rows = []
    for rho in SWEEPS[servers]["rho"]:
        w = theory_latency(rho, servers)
        rows.append({"rho": rho, "utilisation": busy[rho], "simulated": means[rho],
                     "theory": w, "gap": means[rho] / w - 1})
    return rows


def theory_text(servers: int) -> str:
    """:func:`theory_table` as the lines the lesson prints."""
    lines = ["  rho   busy   simulated W   theory W    gap"]
    for r in theory_table(servers):
        lines.append(f"  {r['rho']:.1f}   {r['utilisation']:.3f}   {r['simulated']:8.3f} s "
                     f"  {r['theory']:6.3f} s  {r['gap']:+6.1%}")
    return "\n".join(lines)


# -- the pipeline of section 5 -------------------------------------------------------------------

STAGES = {"validate": 0.12, "pay": 0.5, "ship": 0.25}
"""The pipeline's stages in order, each with its mean seconds per order (exponential)."""

PIPE = {"rate": 5.0, "hop": 0.05, "until": 60}
"""Orders per second into the pipeline, seconds per hop between stages, seconds per run."""


def pipeline(extra: dict[str, int] | None = None, seed: int = 1) -> Network:
    """Orders (``PIPE["rate"]`` per second, evenly spaced) go through the queues ``validate``,
    ``pay`` and ``ship`` of broker ``hub``; each stage's workers publish what they finished to
    the next stage's queue (``publish_to``). Each stage has one worker plus ``extra[stage]``
    (named ``pay-1``, ``pay-2``, ...; ``...`` or None counts as 0). Every hop takes
    ``PIPE["hop"]`` seconds."""
    extra = {stage: n for stage, n in (extra or {}).items() if n not in (None, ...)}
    names = list(STAGES)
    net = Network(seed=seed)
    net.broker("hub")
    for stage in names:
        net.queue("hub", stage)
    net.producer("shop", interval=1 / PIPE["rate"], routing_key=names[0])
    net.link("shop", "hub", latency=PIPE["hop"])
    for i, stage in enumerate(names):
        onward = {"publish_to": names[i + 1]} if i + 1 < len(names) else {}
        for k in range(1, 2 + extra.get(stage, 0)):
            worker = f"{stage}-{k}"
            net.consumer(worker, queue=stage, service=exponential(STAGES[stage]), **onward)
            if onward:
                net.link(worker, "hub", latency=PIPE["hop"])
    return net


def end_to_end(run: Run | Trace) -> list[float]:
    """Seconds from each order's publish by the shop to its ack by a worker of the last stage
    (the orders that got through), in ack order."""
    trace = run.trace if isinstance(run, Run) else run
    last = list(STAGES)[-1]
    published: dict[int, float] = {}
    out = []
    for t, k, m, node, *_ in trace.rows:
        if k == "publish" and node == "shop":
            published[m] = t
        elif k == "ack" and node.rsplit("-", 1)[0] == last and m in published:
            out.append(t - published.pop(m))
    return out


def stage_numbers(run: Run | Trace) -> dict[str, dict[str, float]]:
    """Per stage, from the trace: ``workers``, ``throughput`` (acks/s, all its workers),
    ``busy`` (mean utilisation of its workers), ``queue_end`` and ``queue_max`` (ready orders
    in its queue at the end, and at most)."""
    trace = run.trace if isinstance(run, Run) else run
    busy = metrics.utilisation(trace)
    out = {}
    for stage in STAGES:
        workers = [w for w in busy if w.rsplit("-", 1)[0] == stage]
        _, lengths = metrics.queue_length(trace, stage)
        out[stage] = {
            "workers": len(workers),
            "throughput": sum(metrics.throughput(trace, w) for w in workers),
            "busy": sum(busy[w] for w in workers) / len(workers) if workers else 0.0,
            "queue_end": lengths[-1],
            "queue_max": max(lengths),
        }
    return out


# -- small helpers -------------------------------------------------------------------------------

def _starter(*args: Any) -> None:
    ...


def _is_starter(fn: Callable) -> bool:
    """True for a function whose body does nothing (``...``, ``pass``): the starter."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _starter.__code__.co_code


def _number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and not math.isnan(float(x))


LIMIT = 5.0  # seconds a check waits for the student's function before calling it stuck


def _call_with_limit(fn: Callable, *args: Any) -> tuple[Any, Verdict | None]:
    """Call ``fn`` in a daemon thread: ``(result, None)``, or ``(None, verdict)`` if it raised
    or did not return within :data:`LIMIT` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        box["out"] = call_student(fn, *args)

    t = threading.Thread(target=target, daemon=True, name="lesson06-check")
    t.start()
    t.join(LIMIT)
    if t.is_alive():
        return None, Verdict(False, f"Your function did not return within {LIMIT:g} s on "
                                    f"{args}: a loop that never ends? (It may still be running "
                                    "in the background: after fixing it, use Kernel ▸ Restart.)")
    return box["out"]


# -- exercise 1: p99 latency from a trace ----------------------------------------------------------

LESSON_RUN = (0.8, 1, 1, 0.2, 300)
"""Section 1's run: (rho, seed, workers, link seconds, run seconds) of :func:`payments`."""


def lesson_run() -> Run:
    """Section 1's run: :func:`payments` at rho = 0.8 with one worker and a 0.2 s link, 300 s."""
    rho, seed, servers, link, until = LESSON_RUN
    return payments(rho, seed, servers, link).run(until=until, progress=False)


# the runs exercise 1 is checked on: (rho, seed, servers, link seconds, run seconds)
_P99_CASES = [(0.8, 11, 1, 0.2, 300), (0.6, 12, 1, 0.2, 300), (0.9, 13, 3, 0.2, 120)]


@cache
def _p99_trace(rho: float, seed: int, servers: int, link: float, until: float) -> Trace:
    return payments(rho, seed, servers, link).run(until=until, progress=False).trace


def _copy(trace: Trace) -> Trace:
    out = Trace(list(trace.rows), graph=trace.graph, messages=trace.messages)
    out.end_time = trace.end_time
    return out


def _p99_mistakes(trace: Trace) -> list[tuple[tuple[float, float], str]]:
    """((low, high) of what a typical mistake gives on ``trace``, hint), in the order tried."""
    lat = metrics.latencies(trace)  # in ack order
    n = len(lat)
    i = int(0.99 * n)
    publish_order = [t for _, t in sorted(zip(_publish_times(trace), lat, strict=True))]
    lo, hi = _p99_bounds(lat)

    def near(x: float) -> tuple[float, float]:
        return x - max(0.0015, 0.002 * abs(x)), x + max(0.0015, 0.002 * abs(x))

    return [
        (near(statistics.mean(lat)), "That is the mean latency. The 99th percentile is the "
                                     "latency that only 1 % of the messages exceed: sort the "
                                     "latencies and take the one 99 % of the way along."),
        (near(statistics.median(lat)), "That is the median (p50): half of the messages took "
                                       "longer. p99 is 99 % of the way along the sorted "
                                       "latencies."),
        (near(max(lat)), "That is the longest latency (p100). p99 is a little below it: 99 % of "
                         "the way along the sorted list, not at its end."),
        (near(sorted(lat, reverse=True)[i]), "You sorted from the largest down, so 99 % of the "
                                             "way along you found one of the *shortest* "
                                             "latencies (p1). Sort from the smallest up."),
        (near(lat[i]), "The list was not sorted: 99 % of the way along a list in time order is "
                       "just some message near the end of the run. Sort the latencies first."),
        (near(publish_order[i]), "The list was not sorted: 99 % of the way along a list in "
                                 "publish order is just some late message. Sort the latencies "
                                 "first."),
        ((lo * 1000, hi * 1000), "That looks like milliseconds: give the answer in seconds."),
        (_p99_bounds(metrics.latencies(trace, end="deliver")),
         "That is the p99 from publish to deliver (or start, the same moment): it stops when "
         "the worker gets the message and leaves out the work on it (start to ack). Latency "
         "here runs from each message's publish to its ack."),
        (_p99_bounds(metrics.latencies(trace, start="enqueue")),
         "That is the p99 from enqueue to ack: it leaves out the trip to the broker. "
         "Measure from each message's publish."),
        (_p99_bounds(metrics.latencies(trace, start="start")),
         "That is the p99 of the service time alone (start to ack), without the trip and the "
         "wait in the queue. Latency here is publish to ack."),
        (_p99_bounds(metrics.latencies(trace, start="deliver")),
         "That is the p99 from deliver to ack: it leaves out the trip and the wait in the "
         "queue, usually the largest part. Measure from each message's publish."),
        (_p99_bounds(lat, 95), "That is the 95th percentile: use 99 % of the way along, not "
                               "95 %."),
        (_p99_bounds(lat, 90), "That is the 90th percentile: use 99 % of the way along, not "
                               "90 %."),
    ]


def _publish_times(trace: Trace) -> list[float]:
    """The publish time of each acked message, in ack order (as metrics.latencies lists)."""
    published: dict[int, float] = {}
    done: set[int] = set()
    out = []
    for t, k, m, *_ in trace.rows:
        if k == "publish":
            published.setdefault(m, t)
        elif k == "ack" and m in published and m not in done:
            done.add(m)
            out.append(published[m])
    return out


def _p99_bounds(values: list[float], q: float = 99) -> tuple[float, float]:
    """The answers accepted as the ``q``-th percentile of ``values``: between the order
    statistics that the usual definitions (nearest rank, linear interpolation, the index
    ``int(q / 100 * n)``) pick, with 1.5 ms of room for rounding."""
    xs = sorted(values)
    n, f = len(xs), q / 100
    lo = xs[max(0, math.floor(f * (n - 1)))]
    hi = xs[min(n - 1, math.ceil(f * n))]
    return lo - 0.0015, hi + 0.0015


def ex1(p99_latency: Any) -> Verdict:
    """Check ``p99_latency(trace)``: the 99th percentile of the publish -> ack latencies of
    the acked messages, in seconds, on several runs."""
    if not_attempted(p99_latency) or (callable(p99_latency) and _is_starter(p99_latency)):
        return Verdict(None, "Write p99_latency(trace), then run this cell again.")
    if not callable(p99_latency):
        return not_a_function(p99_latency, "p99_latency", "ex1")
    lesson_lo, lesson_hi = _p99_bounds(metrics.latencies(_p99_trace(*LESSON_RUN)))
    answers = []
    for case in _P99_CASES:
        got, problem = call_student(p99_latency, _copy(_p99_trace(*case)))
        if problem is not None:
            return Verdict(False, f"{problem.message} (on a run of {case[4]} s). Try it on "
                                  "shop.trace to see the whole error.")
        if got is None:
            return Verdict(False, "Your function returned None. Don't forget `return`.")
        if not _number(got):
            return Verdict(False, f"Return one number of seconds, not {short(got)}.")
        answers.append(float(got))
    wrong = []  # (answer, the mistakes whose range holds it) on each run where it is wrong
    for case, got in zip(_P99_CASES, answers, strict=True):
        trace = _p99_trace(*case)
        lo, hi = _p99_bounds(metrics.latencies(trace))
        if not lo <= got <= hi:
            wrong.append((got, trace, [i for i, ((low, high), _) in
                                       enumerate(_p99_mistakes(trace)) if low <= got <= high]))
    if not wrong:
        return Verdict(True, "p99 on three runs: " + ", ".join(f"{a:.3f} s" for a in answers)
                       + ". One message in a hundred takes longer than that.")
    got, trace, fits = wrong[0]
    if lesson_lo <= got <= lesson_hi:
        return Verdict(False, "Your function gave the p99 of the lesson's run, whatever "
                              "trace it was given: use the argument `trace`, not `shop`.")
    if fits:
        # ranges can touch on one run: prefer the mistake that explains every wrong answer
        everywhere = [i for i in fits if all(i in f for _, _, f in wrong)]
        return Verdict(False, _p99_mistakes(trace)[(everywhere or fits)[0]][1])
    truth = metrics.percentile(metrics.latencies(trace), 99)
    return Verdict(False, f"On one of the check's runs your function gave {got:.3f} s, "
                          f"where p99 is {truth:.3f} s. Collect each acked message's "
                          "publish -> ack time, sort them, and take the one 99 % of the "
                          "way along.")


# -- exercise 2: predict the knee -----------------------------------------------------------------

KNEE = (0.5, 0.9)
"""The two loads of the prediction: rho before and after the traffic grows."""


def knee_ratio() -> float:
    """M/M/1: W at rho = 0.9 over W at rho = 0.5 (W = 1 / (mu - lam)), i.e. 0.5 / 0.1 = 5."""
    lo, hi = KNEE
    return round(theory_latency(hi, 1) / theory_latency(lo, 1), 9)  # 5.0, not 4.999999999999999


def simulated_knee_ratio() -> float:
    """The same ratio from the section's sweep (mean over seeds)."""
    means = theory_sweep(1).mean("latency_mean", by="rho")
    return means[KNEE[1]] / means[KNEE[0]]


def ex2(my_prediction: Any) -> Verdict:
    """Check a prediction: how many times longer is the mean publish -> ack latency of an
    M/M/1 queue at rho = 0.9 than at rho = 0.5?"""
    if not_attempted(my_prediction):
        return Verdict(None, "Write your prediction (a number: how many times longer), then "
                             "run this cell again.")
    if isinstance(my_prediction, str):
        return Verdict(False, f"You wrote text, {my_prediction!r}. Write a number without "
                              "quotes, such as 2.5.")
    if not _number(my_prediction):
        return Verdict(False, f"Give one number (how many times longer), not "
                              f"{short(my_prediction)}.")
    x, right = float(my_prediction), knee_ratio()
    lo, hi = KNEE
    w_lo, w_hi = theory_latency(lo, 1), theory_latency(hi, 1)
    if abs(x - right) <= 0.5:
        return Verdict(True, f"About {right:g} times: {w_lo:.1f} s at rho = {lo} and "
                             f"{w_hi:.1f} s at rho = {hi}. Run the next cell and compare with "
                             "the simulation.")
    mistakes = [
        (hi / lo, f"{hi / lo:g} is how much the load grew. Latency grows much faster than the "
                  "load: the busier the worker, the more likely a new payment finds others "
                  "waiting ahead of it."),
        ((hi / (1 - hi)) / (lo / (1 - lo)), "9 is how much the number of payments in the system "
                                            "(L) grows, and the wait in the queue (Wq) too. The "
                                            "latency is fewer times longer: each payment's "
                                            "0.2 s of work does not grow."),
        (1 / right, "Upside down: at rho = 0.9 the latency is *longer*, so the answer is more "
                    "than 1."),
        (w_hi, f"{w_hi:g} s is the mean latency at rho = {hi} itself. The question asks how "
               "many times longer than at rho = 0.5 it is."),
        (w_lo, f"{w_lo:g} is both the mean latency at rho = {lo} ({w_lo:g} s) and how much "
               f"rho grew ({hi} - {lo}). The question asks for a ratio: how many times longer "
               f"the latency is at rho = {hi} than at rho = {lo}."),
        (1 / (1 - hi), f"{1 / (1 - hi):g} is 1 / (1 - {hi}): the latency at rho = {hi} in "
                       f"units of the service time ({1 / (1 - hi):g} × {SERVICE:g} s = "
                       f"{w_hi:g} s). The question compares it with the latency at rho = {lo}: "
                       "divide by that, in the same units."),
        (1.0, "The worker is not slower at a high load: each payment still takes 0.2 s of "
              "work. But it waits longer before its turn."),
        ((1 - lo) / (1 - hi) ** 2, "Too much: the latency grows like 1 / (1 - rho), not its "
                                   "square."),
    ]
    for value, hint in mistakes:
        if abs(x - value) <= 0.05 * value:
            return Verdict(False, hint)
    if x < right:
        return Verdict(False, f"Not {x:g}: more than that. At rho = 0.9 a payment that "
                              "arrives finds, on average, many more waiting ahead of it.")
    return Verdict(False, f"Not {x:g}: less than that. At rho = 0.9 the worker is still "
                          "idle a tenth of the time.")


# -- exercise 3: size a pool of workers ---------------------------------------------------------

# (orders per second, mean seconds per order, longest mean wait in the queue allowed)
POOL_CASES = [(12.0, 0.5, 0.1), (4.0, 1.5, 0.5), (20.0, 0.3, 0.02), (9.0, 0.4, 0.3),
              (6.0, 0.5, 0.2)]


def _pool(rate: float, service: float, max_wait: float, key: str = "Wq",
          mu: float | None = None) -> int | None:
    """The fewest workers c with M/M/c's ``key`` at most ``max_wait`` (None: none found)."""
    mu = 1 / service if mu is None else mu
    c = math.floor(rate / mu) + 1
    try:
        while theory.mmc(rate, mu, c)[key] > max_wait:
            c += 1
            if c > 150:
                return None
    except (OverflowError, ValueError):
        return None
    return c


def pool_answer(rate: float, service: float, max_wait: float) -> int:
    """The reference answer of exercise 3."""
    return _pool(rate, service, max_wait)


def _wq(rate: float, service: float, c: int) -> float:
    """M/M/c's mean wait in the queue (s); infinite when ``c`` workers cannot keep up."""
    return theory.mmc(rate, 1 / service, c)["Wq"] if c * (1 / service) > rate else math.inf


# typical mistakes of exercise 3: (what it gives for a case, hint for the first case it misses)
def _pool_mistakes() -> list[tuple[Callable[..., int | None], Callable[..., str]]]:
    def where(rate: float, service: float, max_wait: float) -> str:
        return f"for {rate:g} orders/s, {service:g} s each, a wait of at most {max_wait:g} s"

    def keep_up(got: int, rate: float, service: float, max_wait: float) -> str:
        busy = rate * service
        text = (f"You gave {got} workers {where(rate, service, max_wait)}. That is about what it "
                f"takes to keep up: by Little's law {rate:g} × {service:g} = {busy:g} workers "
                "are busy on average, ")
        if got <= busy:
            return text + ("so that many are busy all the time and the queue grows without "
                           "end. Add workers until M/M/c's Wq is short enough.")
        return text + (f"and with {got} the mean wait in the queue is "
                       f"{_wq(rate, service, got):.3g} s, more than {max_wait:g} s. Keep adding "
                       "workers while Wq is too long.")

    return [
        (lambda r, s, w: math.ceil(r * s), keep_up),
        (lambda r, s, w: math.floor(r * s) + 1, keep_up),
        (lambda r, s, w: _pool(r, s, w, key="Lq"),
         lambda got, r, s, w: f"You compared Lq or P_wait with {w:g} s, but neither is "
                              "a time (one counts orders, the other is a probability). "
                              "Compare Wq, the mean wait in the queue, in seconds."),
        (lambda r, s, w: _pool(r, s, w, mu=s),
         lambda got, r, s, w: f"mmc's mu is a rate (orders per second per worker): "
                              f"1 / {s:g} s = {1 / s:g}/s, not the service time {s:g} s."),
        (lambda r, s, w: _pool(r, s, w) - 1,
         lambda got, r, s, w: f"One too few {where(r, s, w)}: with {got} workers the mean wait "
                              f"in the queue, Wq, is {_wq(r, s, got):.3g} s, more than {w:g} s. "
                              "Did you return the last c that failed instead of the first that "
                              "passes? (A rule of thumb such as rho ≤ 0.8 fits some cases and "
                              "not others: only Wq tells.)"),
        (lambda r, s, w: _pool(r, s, w) + 1,
         lambda got, r, s, w: f"One too many {where(r, s, w)}: {got - 1} workers already keep "
                              f"Wq at {_wq(r, s, got - 1):.3g} s. Give the fewest."),
    ]


def _pool_hint(answers: list[int]) -> str:
    """The hint of the mistake that explains every answer, else of the first wrong one."""
    cases = POOL_CASES[:len(answers)]
    for make, hint in _pool_mistakes():
        if all(a == make(*case) for a, case in zip(answers, cases, strict=True)):
            bad = next(i for i, case in enumerate(cases) if answers[i] != _pool(*case))
            return hint(answers[bad], *cases[bad])
    bad = next(i for i, case in enumerate(cases) if answers[i] != _pool(*case))
    got, (rate, service, max_wait) = answers[bad], cases[bad]
    for make, hint in _pool_mistakes():
        if got == make(rate, service, max_wait):
            return hint(got, rate, service, max_wait)
    right = _pool(rate, service, max_wait)
    where = f"for {rate:g} orders/s, {service:g} s each, a wait of at most {max_wait:g} s"
    if got > right:
        return (f"More than needed {where}: {right} workers already keep the mean wait in the "
                "queue short enough. Give the fewest.")
    if got <= rate * service:
        return (f"{got} workers are too few {where}: they cannot even keep up (together they "
                "would need to be busy more than all of the time).")
    return (f"{got} workers are too few {where}: the mean wait in the queue is "
            f"{_wq(rate, service, got):.3g} s.")


RUNAWAY = 500
"""Calls of ``mq.theory.mmc`` in one call of the student's function before the check stops it:
far more pool sizes than any case needs, so its loop never meets its target."""


class _Runaway(Exception):
    """Raised inside the student's function when it asks mmc about too many pool sizes."""


class _Reads(dict):
    """What mmc returns, noting which of its keys the student's function reads."""

    def __init__(self, data: dict, seen: set[str]) -> None:
        super().__init__(data)
        self.seen = seen

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)


class _WatchMmc:
    """While active, ``mq.theory.mmc`` notes which of its keys the student's function reads
    (``seen``) and stops a loop that never meets its target (``ran_away``). A function that
    imported ``mmc`` by name is not watched: the check then judges its answers alone."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.calls = 0
        self.ran_away = False

    def __enter__(self) -> _WatchMmc:
        original = self._original = theory.mmc

        def mmc(*args: Any, **kwargs: Any) -> dict:
            self.calls += 1
            if self.calls > RUNAWAY:
                self.ran_away = True
                raise _Runaway(f"asked mmc about more than {RUNAWAY} pool sizes")
            return _Reads(original(*args, **kwargs), self.seen)

        mmc.__doc__, mmc.__name__ = original.__doc__, original.__name__
        theory.mmc = mmc
        return self

    def __exit__(self, *exc: Any) -> None:
        theory.mmc = self._original


def _read_hint(seen: set[str], case: tuple[float, float, float]) -> str | None:
    """The hint for a function that compared another of mmc's numbers, not Wq, with the
    target (None if it read Wq, or nothing)."""
    if "Wq" in seen:
        return None
    rate, service, max_wait = case
    where = f"for {rate:g} orders/s, {service:g} s each, a wait of at most {max_wait:g} s"
    if "W" in seen:
        never = f" and can never reach {max_wait:g} s" if max_wait < service else ""
        return (f"You compared W, the time in the system, with the target ({where}): W "
                f"includes the {service:g} s of service, so it never drops below "
                f"{service:g} s{never}, however many workers you add. Compare Wq, the mean "
                "wait in the queue.")
    if "P_wait" in seen:
        return (f"You compared P_wait, the chance that an order has to wait (a probability, "
                f"not a time), with {max_wait:g} s. Compare Wq, the mean wait in the queue, "
                "in seconds.")
    if "Lq" in seen:
        return (f"You compared Lq, the mean number of orders waiting (not a time), with "
                f"{max_wait:g} s. Compare Wq, the mean wait in the queue, in seconds.")
    if "rho" in seen:
        return ("You sized the pool by its utilisation, rho: a fixed limit on rho fits some "
                "cases and not others. Compare Wq, the mean wait in the queue, with max_wait.")
    return None


def ex3(pool_size: Any) -> Verdict:
    """Check ``pool_size(rate, service, max_wait)``: the fewest workers such that M/M/c's
    mean wait in the queue Wq is at most ``max_wait`` seconds."""
    if not_attempted(pool_size) or (callable(pool_size) and _is_starter(pool_size)):
        return Verdict(None, "Write pool_size(rate, service, max_wait), then run this cell "
                             "again.")
    if not callable(pool_size):
        return not_a_function(pool_size, "pool_size", "ex3")
    answers, seen = [], set()
    for case in POOL_CASES:
        with _WatchMmc() as watch:
            got, problem = _call_with_limit(pool_size, *case)
        seen |= watch.seen
        if problem is not None:
            text = problem.message
            stuck = watch.ran_away or "did not return" in text
            if stuck and _read_hint(watch.seen, case):
                return Verdict(False, _read_hint(watch.seen, case))
            if watch.ran_away:
                return Verdict(False, f"For {case[0]:g} orders/s, {case[1]:g} s each, your "
                                      f"function asked mmc about more than {RUNAWAY} pool sizes "
                                      "and never met its target: does your loop's condition "
                                      "ever become false?")
            if "OverflowError" in text:
                text += (". Your loop kept adding workers and never met the target: W (time in "
                         "the system) includes the service time, so it never drops below it. "
                         "Compare Wq, the wait in the queue.")
            elif "ValueError" in text and "c * mu" in text:
                text += (". mmc needs more workers than are busy on average (c > rate × "
                         "service): start counting from there, not from 1.")
            return Verdict(False, text)
        if got is None:
            return Verdict(False, "Your function returned None. Don't forget `return`.")
        if isinstance(got, float) and got.is_integer():
            return Verdict(False, f"Return the number of workers as an int ({int(got)}, not "
                                  f"{got!r}): int({got!r}) gives {int(got)}, and math.ceil "
                                  "and math.floor already return ints.")
        if isinstance(got, bool) or not isinstance(got, Integral):
            return Verdict(False, f"Return a whole number of workers, not {short(got)}.")
        answers.append(int(got))
    right = [_pool(*case) for case in POOL_CASES]
    if answers != right:
        first = next(i for i, (a, r) in enumerate(zip(answers, right, strict=True)) if a != r)
        return Verdict(False, _read_hint(seen, POOL_CASES[first]) or _pool_hint(answers))
    shown = POOL_CASES[0]
    right = _pool(*shown)
    return Verdict(True, f"Right on {len(POOL_CASES)} cases; e.g. {shown[0]:g} orders/s of "
                         f"{shown[1]:g} s each need {right} workers for a mean wait in the "
                         f"queue of {_wq(shown[0], shown[1], right):.3g} s (≤ {shown[2]:g} s).")


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_Runaway` in the code running inside after ``seconds``. Only in the main
    thread (where a notebook runs its cells) on a system with SIGALRM (Linux, macOS); elsewhere
    there is no limit. A timer already set is set again afterwards."""
    main = threading.current_thread() is threading.main_thread()
    if not (main and hasattr(signal, "setitimer")):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Runaway(f"did not return within {seconds:g} s")

    began = time.monotonic()
    previous = signal.signal(signal.SIGALRM, stop)
    delay, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if delay:
            left = delay - (time.monotonic() - began)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), interval)


def try_pool_size(pool_size: Any, rate: float, service: float, max_wait: float) -> Any:
    """Return ``pool_size(rate, service, max_wait)``, as calling it would, but stop a loop that
    never ends: after :data:`RUNAWAY` calls of ``mq.theory.mmc``, or :data:`LIMIT` seconds
    (where the system allows a time limit), print why and return None. An error in
    ``pool_size`` shows as usual, with its whole traceback."""
    if not callable(pool_size):
        print(f"Pass the function itself: check.try_pool_size(pool_size, {rate:g}, "
              f"{service:g}, {max_wait:g}). You passed {short(pool_size)}.")
        return None
    call = f"pool_size({rate:g}, {service:g}, {max_wait:g})"
    stopped = False
    with _WatchMmc() as watch:
        try:
            with _time_limit(LIMIT):
                got = pool_size(rate, service, max_wait)
        except _Runaway:
            stopped = True
    if watch.ran_away:
        why = (f"{call} asked mq.theory.mmc about more than {RUNAWAY} pool sizes without "
               "meeting its target: does your loop's condition ever become false?")
    elif stopped:
        why = f"{call} did not return within {LIMIT:g} s: a loop that never ends?"
    else:
        return got
    hint = _read_hint(watch.seen, (rate, service, max_wait))
    print(f"Stopped: {why}" + (f" {hint}" if hint else ""))
    return None


# -- exercise 4: the bottleneck of the pipeline ----------------------------------------------------

def bottleneck_answer() -> dict[str, int]:
    """The fewest extra workers per stage so that every stage keeps up: each stage needs more
    workers than rate × mean service (the workers busy on average, Little's law)."""
    out = {}
    for stage, service in STAGES.items():
        need = math.floor(PIPE["rate"] * service) + 1
        if need > 1:
            out[stage] = need - 1
    return out


def _load(stage: str, workers: int) -> float:
    return PIPE["rate"] * STAGES[stage] / workers


def ex4(extra_workers: Any) -> Verdict:
    """Check ``extra_workers``: {stage: extra workers}, the fewest in all so that no stage of
    :func:`pipeline` falls behind (each stage's workers busy less than all of the time)."""
    if not_attempted(extra_workers):
        return Verdict(None, "Fill in extra_workers, then run this cell again.")
    if not isinstance(extra_workers, dict):
        return Verdict(False, f"Give a dict {{stage: extra workers}}, such as {{'validate': 1}}, "
                              f"not {short(extra_workers)}.")
    unknown = [k for k in extra_workers if k not in STAGES]
    if unknown:
        return Verdict(False, f"{short(unknown[0])} is not a stage: the stages are "
                              f"{', '.join(STAGES)} (the queue names).")
    if extra_workers and all(n is Ellipsis or n is None for n in extra_workers.values()):
        return Verdict(None, "Fill in extra_workers, then run this cell again.")
    extra = {}
    for stage, n in extra_workers.items():
        if n is Ellipsis or n is None:
            n = 0
        if isinstance(n, float) and n.is_integer() and n >= 0:
            return Verdict(False, f"Give each number of extra workers as an int ({int(n)}, not "
                                  f"{n!r}); for {stage!r} you gave {n!r}.")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return Verdict(False, f"Give whole numbers of extra workers (0 or more); for "
                                  f"{stage!r} you gave {short(n)}.")
        extra[stage] = n
    right = bottleneck_answer()
    total = {s: 1 + extra.get(s, 0) for s in STAGES}
    behind = [s for s in STAGES if _load(s, total[s]) >= 1]
    if all(extra.get(s, 0) == right[s] + 1 for s in right) \
            and all(extra.get(s, 0) in (0, 1) for s in STAGES if s not in right):
        return Verdict(False, "These are the totals each stage needs. Each stage already has one "
                              "worker: give the *extra* ones.")
    if behind:
        s = behind[0]
        need = math.floor(PIPE["rate"] * STAGES[s]) + 1
        before = [p for p in list(STAGES)[:list(STAGES).index(s)] if extra.get(p, 0)]
        fixed = [p for p in before if _load(p, 1) >= 1]  # was behind with one worker
        idle = [p for p in before if _load(p, 1) < 1]
        moved = ""
        if fixed:
            moved = f" Now that {fixed[-1]} keeps up, the bottleneck has moved on to {s}."
        elif idle:
            moved = (f" {idle[0]} already kept up with one worker (busy "
                     f"{100 * _load(idle[0], 1):.0f} % of the time): {s} was the bottleneck "
                     "all along.")
        return Verdict(False, f"{s} still falls behind: {PIPE['rate']:g} orders/s × "
                              f"{STAGES[s]:g} s = {PIPE['rate'] * STAGES[s]:g} workers' worth of "
                              f"work, and it has {total[s]}: it needs {need} in all.{moved}")
    spare = [s for s in STAGES if extra.get(s, 0) > right.get(s, 0)]
    if spare:
        s = spare[0]
        return Verdict(False, f"Every stage keeps up, but not with the fewest: {s} keeps up with "
                              f"{1 + right.get(s, 0)} worker(s) in all ({PIPE['rate']:g} × "
                              f"{STAGES[s]:g} s = {PIPE['rate'] * STAGES[s]:g} busy on average).")
    busy = ", ".join(f"{s} {_load(s, total[s]):.0%}" for s in STAGES)
    return Verdict(True, f"{sum(extra.values())} extra workers: {right}. Each worker is now busy "
                         f"less than all the time ({busy}), so no queue grows without end.")
