"""Checks for lesson 00, "Start here".

    from mqlab.checks import lesson00 as check
    check.predict(my_prediction)  # the Player: when is a waiting message acked?
    check.ex1(count_acks)      # reading the trace: one consumer's acks before a time
    check.ex2(mean_latency)    # publish -> ack, averaged over the acked messages
    check.ex3(schedule_tea)    # the engine: make a log come out at the right times
    check.ex4(my_glossary)     # optional: Chinese terms of the article -> English

Each check runs your answer on cases of its own (several runs, several seeds), so an answer
that only fits the lesson's example does not pass. It returns a :class:`~mqlab.checks.Verdict`:
truthy when right, and a hint when not.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable
from functools import cache
from numbers import Real
from typing import Any

from mqlab.checks import (
    Verdict,
    call_student,
    code_objects,
    not_a_function,
    not_attempted,
    short,
    verdict,
)
from mqlab.dist import exponential
from mqlab.engine import Engine
from mqlab.metrics import latencies
from mqlab.network import Network
from mqlab.trace import Trace

__all__ = ["GLOSSARY_TERMS", "TEA_STORY", "ex1", "ex2", "ex3", "ex4", "predict"]

_FORGOT_RETURN = ("Your function returned None. Write your answer in it, and don't forget "
                  "`return`.")


def _raised(problem: Verdict, where: str,
            advice: str = "Call it on practice.trace to see the whole error message.") -> Verdict:
    return Verdict(False, f"{problem.message} ({where}). {advice}")


# -- the runs the checks use -------------------------------------------------------------------


@cache  # the checks hand the student copies, so these stay as they are
def _workers_run(seed: int, services: tuple[tuple[str, float], ...], rate: float,
                 until: float, capacity: int | None = None, latency: float = 0.0,
                 hop: float = 0.0) -> Trace:
    """One producer -> hub -> queue "jobs" -> several consumers with random service times.

    ``latency``: the producer's link to the hub; ``hop``: the links from the queue to the
    consumers (so that deliver, arrive and start happen at different times).
    """
    net = Network(seed=seed)
    net.producer("sensor", rate=rate, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs", capacity=capacity, overflow="drop-head")
    for name, mean in services:
        net.consumer(name, queue="jobs", service=exponential(mean))
        if hop:
            net.link("jobs", name, latency=hop)
    net.link("sensor", "hub", latency=latency)
    return net.run(until=until, progress=False).trace


def _copy(trace: Trace) -> Trace:
    """A copy to hand to the student's function, so that changing it changes nothing here."""
    out = Trace(list(trace.rows), graph=trace.graph, messages=trace.messages)
    out.end_time = trace.end_time
    return out


def _times(trace: Trace, kind: str, **where: str) -> list[float]:
    return trace.filter(kind=kind, **where).column("time")


# -- shared by exercises 1 and 2 -----------------------------------------------------------------


def _answers(fn: Callable, calls: list[tuple[tuple, str]],
             problem_with: Callable[[Any], Verdict | None]) -> list | Verdict:
    """The student's answer for each call, or a Verdict as soon as one cannot be compared."""
    answers = []
    for i, (args, where) in enumerate(calls):
        got, problem = call_student(fn, *args)
        if problem is not None:
            return _raised(problem, f"on {where}")
        if not_attempted(got):
            return Verdict(None if i == 0 else False, _FORGOT_RETURN)
        problem = problem_with(got)
        if problem is not None:
            return problem
        answers.append(got)
    return answers


def _first_wrong(answers: list, truths: list, same: Callable[[Any, Any], bool]) -> int | None:
    return next((i for i, (a, t) in enumerate(zip(answers, truths, strict=True))
                 if not same(a, t)), None)


def _diagnose(answers: list, mistakes: list[list[tuple[Any, str]]],
              same: Callable[[Any, Any], bool], bad: int) -> str | None:
    """The hint of the typical mistake that explains the answers.

    ``mistakes[case]`` lists (value that mistake gives, hint). A mistake that gives every answer
    is the best explanation; failing that, one that gives the first wrong answer.
    """
    hints = [hint for _, hint in mistakes[0]]
    for j, hint in enumerate(hints):
        if all(same(a, m[j][0]) for a, m in zip(answers, mistakes, strict=True)):
            return hint
    for value, hint in mistakes[bad]:
        if same(answers[bad], value):
            return hint
    return None


# -- the prediction: when is a waiting message acked? ------------------------------------------

# The lesson's first system (section 2) and the moment of the Player that the prediction shows.
_FIRST = {"rate": 4.0, "service": 0.2, "latency": 0.2, "until": 30, "seed": 1}
PREDICT_AT = 7.54
"""The moment (seconds) of the Player's picture that the prediction starts from."""
PREDICT_MSG = 37
"""The message whose ack time the student predicts: the newest in the tray at PREDICT_AT."""


@cache
def _first_system() -> Trace:
    net = Network(seed=_FIRST["seed"])
    net.producer("sensor", rate=_FIRST["rate"], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=_FIRST["service"])
    net.link("sensor", "hub", latency=_FIRST["latency"])
    return net.run(until=_FIRST["until"], progress=False).trace


def _moment() -> dict[str, Any]:
    """What the Player shows at PREDICT_AT: the message being worked on and those waiting."""
    tr, now = _first_system(), PREDICT_AT
    first = {kind: _first(tr, kind) for kind in ("publish", "enqueue", "deliver", "start", "ack")}
    waiting = sorted(m for m, t in first["enqueue"].items()
                     if t <= now < first["deliver"].get(m, math.inf))
    held = next(m for m, t in first["start"].items() if t <= now < first["ack"].get(m, math.inf))
    return {"waiting": waiting, "held": held, "held_start": first["start"][held],
            "ack": first["ack"][PREDICT_MSG], "start": first["start"][PREDICT_MSG],
            "publish": first["publish"][PREDICT_MSG]}


def _prediction_mistakes() -> list[tuple[float, str]]:
    """(value a typical mistake gives, hint) for the prediction."""
    m, now, service = _moment(), PREDICT_AT, _FIRST["service"]
    ack, held, n = m["ack"], m["held"], len(m["waiting"])
    left = m["held_start"] + service - now
    return [
        (m["start"], f"That is when message {PREDICT_MSG} *starts*. The worker then needs "
                     f"{service:g} s on it too before it acks it."),
        (ack + service, f"One service too many. Count the messages ahead of {PREDICT_MSG} in "
                        f"the tray (the head is on the right), then add one service for "
                        f"{PREDICT_MSG} itself."),
        (now + n * service, f"You left out message {held}, the one the worker holds now: it "
                            f"must finish it first ({left:.1f} s of work is left)."),
        (now + (n + 1) * service,
         f"You gave message {held} a whole {service:g} s from now. The worker started it at "
         f"t = {m['held_start']:.2f} s, so only {left:.1f} s of work is left."),
        (ack - now, f"That is how long from now. Give the time on the run's clock when it is "
                    f"acked (a number larger than {now:g})."),
        (ack - m["publish"], f"That is message {PREDICT_MSG}'s latency (publish to ack). The "
                             "question asks for the time on the run's clock when it is acked."),
    ]


def predict(ack_time: float | None) -> Verdict:
    """Check a predicted time (seconds on the run's clock) of the ack of ``PREDICT_MSG``."""
    if not_attempted(ack_time):
        return Verdict(None, "Write your prediction (a number of seconds), then run this cell "
                             "again.")
    if isinstance(ack_time, str):
        return Verdict(False, f"You wrote text, {ack_time!r}. Write a number without quotes, "
                              "such as 9.5.")
    if isinstance(ack_time, bool) or not isinstance(ack_time, Real) or math.isnan(ack_time):
        return Verdict(False, f"Give one number of seconds, not {short(ack_time)}.")
    ack = _moment()["ack"]
    close = 0.03  # seconds: a prediction rounded to two decimals is right
    if abs(ack_time - ack) <= close:
        return Verdict(True, f"Message {PREDICT_MSG} is acked at t = {ack:.2f} s. Run the "
                             "next cell and compare with its story in the trace.")
    for value, hint in _prediction_mistakes():
        if abs(ack_time - value) <= close:
            return Verdict(False, hint)
    if abs(ack_time / 1000 - ack) <= close:
        return Verdict(False, "That looks like milliseconds: answer in seconds.")
    return Verdict(False, f"Not {ack_time:g} s. Go step by step: when is the worker done with "
                          f"the message it holds? How many messages wait ahead of "
                          f"{PREDICT_MSG}? Each takes {_FIRST['service']:g} s, and so does "
                          f"{PREDICT_MSG} itself.")


# -- exercise 1: count one consumer's acks before a time ----------------------------------------


def _count_cases() -> list[tuple[Trace, str, float, str]]:
    """(trace, consumer, until, description). Some windows end exactly on an ack."""
    hop = 0.05  # seconds from the queue to a consumer: a delivery starts that long later
    two = _workers_run(3, (("fast", 0.15), ("slow", 0.4)), 6.0, 30.0, hop=hop)
    three = _workers_run(11, (("a", 0.3), ("b", 0.5), ("c", 0.2)), 7.0, 40.0, hop=hop)
    cases = [
        (two, "fast", _times(two, "ack", node="fast")[39]),  # ends on the 40th ack of "fast"
        (two, "slow", 17.25),
        # ends while the 21st message for "b" is on its way there: delivered, not started
        (three, "b", _times(three, "deliver", peer="b")[20] + hop / 2),
        # long after the end of the run: every ack of "c". A window this long also tells a
        # unit error (times taken as milliseconds: acks before 10 s) from an answer of 0.
        (three, "c", 10_000.0),
    ]
    return [(tr, c, u, f"a run with consumers {_consumers(tr)} (consumer={c!r}, until={u:g})")
            for tr, c, u in cases]


def _consumers(trace: Trace) -> str:
    names = [repr(n) for n in sorted({r[3] for r in trace.rows if r[1] == "ack"})]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _count(trace: Trace, kind: str | None = None, node: str | None = None,
           peer: str | None = None, until: float | None = None, inclusive: bool = False) -> int:
    return sum(
        1 for t, k, _, nd, pr, _ in trace.rows
        if (kind is None or k == kind) and (node is None or nd == node)
        and (peer is None or pr == peer)
        and (until is None or (t <= until if inclusive else t < until))
    )


# The lesson's practice run (section 4), which a student may read instead of the argument.
_PRACTICE = {"seed": 2, "rate": 6.0, "services": (("fast", 0.15), ("slow", 0.4)), "until": 20}


@cache
def _practice_run() -> Trace:
    net = Network(seed=_PRACTICE["seed"])
    net.producer("sensor", rate=_PRACTICE["rate"], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    for name, service in _PRACTICE["services"]:
        net.consumer(name, queue="jobs", service=service)
    return net.run(until=_PRACTICE["until"], progress=False).trace


_GLOBAL_TRACE = ("Your function reads {name}, a trace from another cell, instead of the `trace` "
                 "it is given: the check passes traces of its own, so use the parameter.")


def _count_mistakes(trace: Trace, consumer: str, until: float) -> list[tuple[int, str]]:
    """Answers that typical mistakes give on one case, with the hint for each."""
    return [
        (_count(trace, "ack", consumer, until=until, inclusive=True),
         "You counted an ack that happens exactly at `until`. The window is *before* `until`: "
         "use `time < until`, as `range` and `trace.filter(stop=...)` do."),
        (_count(trace, "ack", until=until),
         "You counted the acks of every consumer. Count only those whose `node` is the "
         "consumer you were given."),
        (_count(trace, "ack", consumer),
         "You counted all of this consumer's acks, also those at or after `until`. Keep only "
         "the events with `time < until` (both are in seconds: no unit to convert)."),
        (_count(trace, "ack", until=until, inclusive=True),
         "You counted the acks of every consumer (and also one exactly at `until`). Count only "
         "the consumer's acks, strictly before `until`."),
        (_count(trace, "deliver", peer=consumer, until=until),
         "You counted deliveries. A message is delivered when it *starts* its trip to the "
         "consumer; an `ack` says the consumer has *finished* it. Count `kind == 'ack'`."),
        (_count(trace, "start", consumer, until=until),
         "You counted `start` events: the consumer begins work then. Count `ack` events, "
         "when it has finished."),
        (_count(trace, None, consumer, until=until),
         "You counted every event at the consumer (arrive, start and ack). Keep only "
         "`kind == 'ack'`."),
        (_count(trace, "ack", peer=consumer, until=until),
         "You returned 0: your function counted nothing. For an ack, the consumer "
         "is the event's `node` (its `peer` is the queue), so compare `node` with the "
         "consumer's name; check also the kind, `'ack'`, and that you count in `trace`, the "
         "trace your function is given."),
        # last: when only the first wrong answer is compared, the ones above explain it first
        (_count(_practice_run(), "ack", consumer, until=until),
         "That is the count in the lesson's practice run. "
         + _GLOBAL_TRACE.format(name="`practice.trace`")),
        (_count(trace, "ack", consumer, until=until / 1000),
         "A unit error: you counted the acks before `until` / 1000 (as if the times were in "
         "milliseconds, or you multiplied them by 1000). Times in a Trace and `until` are both "
         "in seconds: compare them as they are."),
    ]


def ex1(count_acks: Callable[[Trace, str, float], int] | None) -> Verdict:
    """Check ``count_acks(trace, consumer, until)``: acks by ``consumer`` at times < ``until``."""
    if not_attempted(count_acks):
        return Verdict(None, "Write count_acks, then run this cell again.")
    if not callable(count_acks):
        return not_a_function(count_acks, "count_acks", "ex1")
    cases = _count_cases()
    answers = _answers(count_acks, [((_copy(tr), c, u), where) for tr, c, u, where in cases],
                       _a_count)
    if isinstance(answers, Verdict):
        return answers
    truths = [_count(tr, "ack", c, until=u) for tr, c, u, _ in cases]
    mistakes = [_count_mistakes(tr, c, u) for tr, c, u, _ in cases]
    bad = _first_wrong(answers, truths, operator.eq)
    if bad is None:
        return Verdict(True, "count_acks gives the right count on every run we tried. "
                             "`len(trace.filter(kind='ack', node=consumer, stop=until))` "
                             "is a one-line way to say the same.")
    _, consumer, until, where = cases[bad]
    return Verdict(False, _diagnose(answers, mistakes, operator.eq, bad) or (
        f"On {where} you returned {answers[bad]}, but {truths[bad]} acks by {consumer!r} "
        f"happen before t = {until:g} s."))


def _a_count(got: Any) -> Verdict | None:
    if isinstance(got, Trace):
        return Verdict(False, f"You returned a Trace of {len(got)} events. Return how many "
                              "there are: `len(...)` of it.")
    if isinstance(got, (list, tuple, set, dict)):
        return Verdict(False, f"You returned a {type(got).__name__} of {len(got)} items. "
                              "Return a number: how many acks.")
    if isinstance(got, bool) or not isinstance(got, Real):
        return Verdict(False, f"Return a whole number (how many acks), not {short(got)}.")
    return None


# -- exercise 2: mean latency, publish -> ack ---------------------------------------------------


def _latency_cases() -> list[tuple[Trace, str]]:
    return [
        # overloaded: the run ends with many messages still waiting, never acked
        (_workers_run(5, (("worker", 0.25),), 5.0, 20.0, latency=0.05),
         "a run with one consumer that cannot keep up"),
        # two consumers overtake each other; a small queue drops messages on the way
        (_workers_run(8, (("fast", 0.1), ("slow", 0.6)), 9.0, 25.0, capacity=4,
                      latency=0.02, hop=0.01),
         "a run with two consumers and a queue that drops messages"),
        (_workers_run(2, (("w1", 0.2), ("w2", 0.3), ("w3", 0.25)), 8.0, 30.0, latency=0.1,
                      hop=0.03), "a run with three consumers"),
    ]


def _first(trace: Trace, kind: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for t, k, m, *_ in trace.rows:
        if k == kind and m not in out:
            out[m] = t
    return out


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else math.nan


def _latency_mistakes(trace: Trace) -> list[tuple[float, str]]:
    acked = _first(trace, "ack")
    lat = latencies(trace)

    def from_kind(kind: str) -> float:
        began = _first(trace, kind)
        return _mean([t - began[m] for m, t in acked.items() if m in began])

    published = [r[0] for r in trace.rows if r[1] == "publish"]
    ack_times = [r[0] for r in trace.rows if r[1] == "ack"]
    sent = _first(trace, "publish")

    def until_end(end: float) -> float:  # an unacked message counted as waiting until `end`
        return _mean([acked.get(m, end) - t for m, t in sent.items()])

    to_the_end = ("You counted the messages that were never acked too, as if they waited until "
                  "the end of the run. They have no latency (no ack): leave them out, and "
                  "average over the acked messages only.")
    return [
        (from_kind("deliver"),
         "You started the clock at `deliver`. That leaves out the time the message waited in "
         "the queue, which is often most of it. Start at `publish`."),
        (from_kind("enqueue"),
         "You started the clock when the message reached the broker (`arrive` or `enqueue`). "
         "Latency starts when the producer publishes: the trip over the link counts too."),
        (from_kind("start"),
         "That is the mean *processing* time (start -> ack). Latency runs from `publish` to "
         "`ack`, so it includes the trip and the wait in the queue."),
        (sum(lat) / len(published),
         "You divided by every published message. Some were never acked (dropped, or still "
         "waiting when the run ended): average over the acked messages only."),
        (_mean([b - a for a, b in zip(published, ack_times, strict=False)]),
         "You paired the n-th publish with the n-th ack. Messages overtake each other and some "
         "are dropped, so pair them by message id (the `msg` column)."),
        (statistics.median(lat), "That is the median. The mean is the sum divided by the count."),
        (sum(lat), "That is the total. Divide it by how many messages were acked."),
        (1000 * _mean(lat), "That looks like milliseconds. Times in a Trace are in seconds."),
        (until_end(trace.duration), to_the_end),
        (until_end(trace.rows[-1][0]), to_the_end),  # until the last event instead
        (_mean(latencies(_practice_run())), "That is the mean latency of the lesson's practice "
                                            "run. " + _GLOBAL_TRACE.format(
                                                name="`practice.trace`")),
        (_mean(latencies(_first_system())), "That is the mean latency of the lesson's first "
                                            "run. " + _GLOBAL_TRACE.format(name="`run.trace`")),
    ]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def ex2(mean_latency: Callable[[Trace], float] | None) -> Verdict:
    """Check ``mean_latency(trace)``: mean of (first ack - publish) over the acked messages."""
    if not_attempted(mean_latency):
        return Verdict(None, "Write mean_latency, then run this cell again.")
    if not callable(mean_latency):
        return not_a_function(mean_latency, "mean_latency", "ex2")
    cases = _latency_cases()
    answers = _answers(mean_latency, [((_copy(tr),), where) for tr, where in cases],
                       _a_number)
    if isinstance(answers, Verdict):
        return answers
    truths = [_mean(latencies(tr)) for tr, _ in cases]
    bad = _first_wrong(answers, truths, _close)
    if bad is None:
        return Verdict(True, "mean_latency is right on every run we tried. "
                             "`mq.metrics.latencies(trace)` gives the list of these latencies "
                             "(lesson 06 uses it a lot).")
    mistakes = [_latency_mistakes(tr) for tr, _ in cases]
    same = ""
    if all(_close(a, answers[0]) for a in answers):
        same = (f" You returned {answers[0]:.4f} s on every run, though their latencies "
                "differ: does your function read `trace`, the trace it is given, or a fixed "
                "number or a trace from another cell?")
    return Verdict(False, _diagnose(answers, mistakes, _close, bad) or (
        f"On {cases[bad][1]} you returned {answers[bad]:.4f} s, but the mean latency is "
        f"{truths[bad]:.4f} s.{same}"))


def _a_number(got: Any) -> Verdict | None:
    if isinstance(got, (list, tuple)):
        return Verdict(False, f"You returned a {type(got).__name__} of {len(got)} values. "
                              "Return one number: their mean.")
    if isinstance(got, bool) or not isinstance(got, Real):
        return Verdict(False, f"Return a number of seconds, not {short(got)}.")
    return None


# -- exercise 3: the engine --------------------------------------------------------------------

TEA_STORY = [
    (0.0, "fill the kettle"),
    (0.5, "switch the kettle on"),
    (3.5, "the water boils"),
    (3.5, "pour the water"),
    (6.5, "take the tea bag out"),
]
"""The log that ``schedule_tea`` should produce: (time in seconds, what happens)."""

_TEA_UNTIL = 60.0  # the check runs the engine this long (so a loop that never stops ends)


class _TeaEngine(Engine):
    """An Engine that notices whether it was run by the student's function, and whether events
    were scheduled from inside other events (delays counted from a later *now*)."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.students_turn = False  # True while the student's function is being called
        self.run_by_student = False
        self.nested = False
        self._in_event = False

    def schedule(self, delay: float, action: Callable, *args: Any) -> None:
        self.nested = self.nested or self._in_event
        super().schedule(delay, action, *args)

    def step(self) -> None:
        self._running(super().step)

    def run(self, until: float | None = None) -> None:
        self._running(super().run, until)

    def _running(self, go: Callable, *args: Any) -> None:
        self.run_by_student = self.run_by_student or self.students_turn
        self._in_event = True
        try:
            go(*args)
        finally:
            self._in_event = False


def _starter(*args: Any) -> None:
    ...


def _is_starter(fn: Callable) -> bool:
    """True for a function whose body does nothing (``...``, ``pass``, a docstring)."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _starter.__code__.co_code


def _globals_of_type(fn: Callable, kind: type) -> list[str]:
    """The global names ``fn`` (or a function inside it) uses whose value is a ``kind``."""
    scope, names = getattr(fn, "__globals__", {}), []
    for c in code_objects(fn):
        names += [n for n in c.co_names if n not in names and isinstance(scope.get(n), kind)]
    return names


def _named(names: list[str]) -> str:
    return " and ".join(f"`{n}`" for n in names)


class _WatchedLog(list):
    """A list that also remembers the engine's clock at each write."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine, self.written_at = engine, []

    def append(self, item: Any) -> None:
        self.written_at.append(self.engine.now)
        super().append(item)

    def extend(self, items: Any) -> None:
        for item in items:
            self.append(item)

    def __iadd__(self, items: Any) -> _WatchedLog:
        self.extend(items)
        return self

    def insert(self, index: int, item: Any) -> None:
        self.written_at.insert(index, self.engine.now)
        super().insert(index, item)


def _entries(log: list) -> list[tuple[float, str]] | None:
    """The log as (time, text) pairs, or None when its rows do not look like that."""
    out = []
    for row in log:
        if not (isinstance(row, (tuple, list)) and len(row) == 2):
            return None
        t, text = row
        if isinstance(t, bool) or not isinstance(t, Real) or not isinstance(text, str):
            return None
        out.append((float(t), text))
    return out


def _tea_hint(entries: list[tuple[float, str]], nested: bool = True) -> str:
    want_texts = [text for _, text in TEA_STORY]
    got_texts = [text for _, text in entries]
    missing = [t for t in want_texts if t not in got_texts]
    extra = [t for t in got_texts if t not in want_texts]
    if missing or extra or len(got_texts) != len(want_texts):
        bits = []
        if missing:
            bits.append("missing: " + ", ".join(repr(t) for t in missing))
        if extra:
            bits.append("not in the story: " + ", ".join(repr(t) for t in extra))
        if not bits:
            bits.append(f"{len(got_texts)} entries instead of {len(want_texts)}: "
                        "is something scheduled twice?")
        return ("The log does not tell the story: " + "; ".join(bits) + ". Copy the texts "
                "exactly from check.TEA_STORY.")
    want_time = dict((text, t) for t, text in TEA_STORY)
    off = [t - want_time[text] for t, text in entries]
    bad = [i for i, d in enumerate(off) if not math.isclose(d, 0.0, abs_tol=1e-9)]
    if bad:
        first = bad[0]
        t, text = entries[first]
        side = f"{abs(off[first]):g} s too {'late' if off[first] > 0 else 'early'}"
        where = (f"{text!r} happened at t = {t:g} s; it should happen at "
                 f"t = {want_time[text]:g} s ({side}).")
        shifted = (len(bad) > 1 and bad == list(range(first, len(entries)))
                   and all(math.isclose(off[i], off[first], abs_tol=1e-9) for i in bad))
        if shifted:  # every entry from one on is off by the same amount
            how = "left out" if off[first] < 0 else "counted twice"
            where = (f"From {text!r} on, every entry is {side} ({text!r} happened at "
                     f"t = {t:g} s, not {want_time[text]:g} s), as if one step's duration "
                     f"were {how} when you added up the times.")
        if not nested:
            return (where + " Your function schedules every event before the engine runs, "
                    "when engine.now is 0, so each delay is simply the time on the clock at "
                    "which the entry must happen: read it off check.TEA_STORY.")
        return (where + " Remember that engine.schedule(delay, ...) counts from engine.now, "
                "the moment schedule is called: inside an event that is later than 0. "
                "engine.at(time, ...) takes the time on the clock instead.")
    return ("Every event happens at the right time, but two at t = 3.5 s come out in the "
            "wrong order. Events at the same time run in the order they were *scheduled*: "
            "schedule 'the water boils' before 'pour the water'.")


def ex3(schedule_tea: Callable[[Engine, list], Any] | None) -> Verdict:
    """Check ``schedule_tea(engine, log)``: once the engine runs, ``log == TEA_STORY``."""
    if not_attempted(schedule_tea):
        return Verdict(None, "Write schedule_tea, then run this cell again.")
    if not callable(schedule_tea):
        return not_a_function(schedule_tea, "schedule_tea", "ex3")
    engine = _TeaEngine()
    log = _WatchedLog(engine)
    engine.students_turn = True
    _, problem = call_student(schedule_tea, engine, log)
    engine.students_turn = False
    if problem is not None:
        return _raised(problem, "when called with a fresh Engine and an empty log",
                       "Run the try-it cell above to see the whole error message.")
    if engine.run_by_student:
        return Verdict(False, "Your function runs the engine itself (engine.run() or "
                              "engine.step()). It must only *schedule* events: whoever calls "
                              "it runs the engine afterwards, as the try-it cell and the check "
                              "do. Delete the line that runs it.")
    other_engines = _globals_of_type(schedule_tea, Engine)
    other_logs = _globals_of_type(schedule_tea, list)
    if engine.pending() == 0 and not log:
        if other_engines:
            return Verdict(False, f"Your function schedules on {_named(other_engines)}, an "
                                  "engine from another cell, so the engine it is given gets "
                                  "nothing. Use its `engine` and `log` parameters: the check "
                                  "passes a fresh engine and an empty log of its own.")
        if _is_starter(schedule_tea):
            return Verdict(None, "Write schedule_tea, then run this cell again.")
        return Verdict(False, "Your function scheduled nothing on the engine it was given. Use "
                              "its `engine` and `log` parameters (not an engine or a log from "
                              "another cell, nor a new Engine of its own).")
    if log and engine.pending() == 0 and engine.now == 0:
        return Verdict(False, "Your function wrote the log itself and scheduled nothing. Let "
                              "the engine do it: schedule events that write to the log when "
                              "their time comes.")
    _, problem = call_student(engine.run, _TEA_UNTIL)
    if problem is not None:
        return _raised(problem, "while the engine ran the events your function scheduled",
                       "Run the try-it cell above to see the whole error message.")
    if not log and other_logs:
        return Verdict(False, f"Your events write into {_named(other_logs)}, a list from "
                              "another cell, so the log your function is given stays empty. "
                              "Write into its `log` parameter.")
    entries = _entries(log)
    if entries is None:
        return Verdict(False, f"Each log entry should be a pair (time, text), like "
                              f"{TEA_STORY[0]!r}; your log starts with {short(list(log)[:2])}."
                              " The note(engine, log, text) function writes such pairs.")
    for (t, text), clock in zip(entries, log.written_at, strict=False):
        if not math.isclose(t, clock, abs_tol=1e-9):
            return Verdict(False, f"{text!r} was written into the log at t = {clock:g} s but "
                                  f"says t = {t:g} s. Don't type the times yourself: write "
                                  "engine.now when the event runs, as note() does.")
    ok = len(entries) == len(TEA_STORY) and all(
        text == want_text and math.isclose(t, want_t, abs_tol=1e-9)
        for (t, text), (want_t, want_text) in zip(entries, TEA_STORY, strict=True))
    return verdict(ok, "The engine tells the tea story at the right times, in the right order.",
                   _tea_hint(entries, engine.nested))


# -- exercise 4 (optional): the article's words ------------------------------------------------

GLOSSARY_TERMS = {
    "消息": ("message",),
    "队列": ("queue",),
    "代理": ("broker", "agent", "message broker"),
    "异步通信": ("asynchronous communication", "async communication"),
    "生产者-消费者": ("producer consumer", "producer consumer model", "producer consumer pattern"),
    "发布-订阅": ("publish subscribe", "pub sub", "publish subscribe model"),
    "吞吐量": ("throughput",),
    "延迟": ("latency", "delay"),
    "队列长度": ("queue length", "queue size", "length of queue", "length of the queue"),
}
"""The terms ex4 asks about, and the English answers it accepts."""


def _normal(text: str) -> str:
    for dash in "-‐‑–—/_":
        text = text.replace(dash, " ")
    return " ".join(text.lower().split())


def _singular(word: str) -> str:
    """A simple plural made singular: messages, queues, latencies, boxes -> box."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _matches(answer: str, accepted: tuple[str, ...]) -> bool:
    """The answer is one of the accepted terms, maybe with its words in the plural."""
    text = _normal(answer)
    return text in accepted or " ".join(map(_singular, text.split())) in accepted


def ex4(glossary: dict | None) -> Verdict:
    """Check a dict {Chinese term: English term} for the terms in ``GLOSSARY_TERMS``."""
    if not_attempted(glossary):
        return Verdict(None, "Fill in the dict, then run this cell again.")
    if not isinstance(glossary, dict):
        return Verdict(False, f"Pass a dict {{Chinese term: English term}}, not "
                              f"{short(glossary)}.")
    if all(not_attempted(v) for v in glossary.values()):
        return Verdict(None, "Replace each ... with the English term, then run this cell again.")
    missing = [k for k in GLOSSARY_TERMS if k not in glossary]
    if missing:
        return Verdict(False, "The dict lacks " + ", ".join(missing) + ". Keep every key of "
                              "the starter dict.")
    unanswered = [k for k in GLOSSARY_TERMS if not_attempted(glossary[k])]
    not_text = [k for k in GLOSSARY_TERMS if k not in unanswered
                and not isinstance(glossary[k], str)]
    if not_text:
        return Verdict(False, "Answer with text (a string in quotes) for " + ", ".join(not_text)
                              + ".")
    wrong = [k for k in GLOSSARY_TERMS if k not in unanswered
             and not _matches(glossary[k], GLOSSARY_TERMS[k])]
    right = len(GLOSSARY_TERMS) - len(wrong) - len(unanswered)
    if not wrong and not unanswered:
        return Verdict(True, f"All {right} terms matched.")
    bits = [f"{right} of {len(GLOSSARY_TERMS)} right."]
    if wrong:
        bits.append("Look again at " + ", ".join(wrong) + ".")
    if unanswered:
        bits.append("Still to answer: " + ", ".join(unanswered) + ".")
    return Verdict(False, " ".join(bits))
