"""Checks for lesson 04, "Brokers and point-to-point", and the lesson's dispatch model.

    from mqlab.checks import lesson04 as check
    check.ex1(wire)            # a direct exchange and its bindings: route orders by region
    check.ex2(my_prediction)   # predict: how many orders the slow worker gets with no prefetch
    check.ex3(why)             # read why a message was dead-lettered from its headers
    check.ex4(my_ttl)          # choose a TTL so that no stale price quote is used

    run = check.dispatch_demo(prefetch=None)   # the fast and the slow worker of section 3
    check.worker_stats(run)                    # orders and publish -> ack latency per worker

The fair-dispatch numbers the lesson prints come from :func:`dispatch_demo` and
:func:`worker_stats`, and so does the answer exercise 2 is checked against. Each check runs the
answer on cases of its own (several seeds) and returns a :class:`~mqlab.checks.Verdict`:
truthy when right, and a hint when not.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections import Counter
from collections.abc import Callable
from functools import cache
from numbers import Real
from typing import Any

from mqlab.checks import Verdict, call_student, not_a_function, not_attempted, short
from mqlab.message import Message
from mqlab.metrics import percentile
from mqlab.network import Network
from mqlab.run import Run

__all__ = ["DISPATCH", "LABELS", "QUOTES", "REGIONS", "ages_at_start", "best_ttl",
           "checked_order", "dead_letter_network", "dispatch_demo", "dispatch_network", "ex1",
           "ex2", "ex3", "ex4", "order_network", "order_payload", "quote_network",
           "worker_stats"]


# -- the fair-dispatch model of section 3 ---------------------------------------------------------

DISPATCH = {"orders": 40, "interval": 0.5, "link": 0.1, "fast": 0.2, "slow": 1.5, "until": 40.0}
"""Section 3's shop: orders it sends, seconds between them, on each link, of work per order at
each worker, and the run's length in seconds."""


def dispatch_network(prefetch: int | None, ack: str = "manual",
                     crash: list[tuple[float, float]] | None = None) -> Network:
    """A shop sends 40 orders, one every 0.5 s, to the queue ``orders``; two competing
    consumers take them: ``fast`` (0.2 s per order) and ``slow`` (1.5 s per order), both
    with the same ``prefetch`` and ``ack``; ``crash`` is the slow worker's ``[(down, up)]``.
    Every link takes 0.1 s."""
    d = DISPATCH
    net = Network(seed=1)
    net.producer("shop", interval=d["interval"], count=d["orders"], routing_key="orders")
    net.broker("hub")
    net.queue("hub", "orders")
    net.consumer("fast", queue="orders", service=d["fast"], prefetch=prefetch, ack=ack)
    net.consumer("slow", queue="orders", service=d["slow"], prefetch=prefetch, ack=ack,
                 crash=crash)
    for a, b in [("shop", "hub"), ("orders", "fast"), ("orders", "slow")]:
        net.link(a, b, latency=d["link"])
    return net


def dispatch_demo(prefetch: int | None, ack: str = "manual",
                  crash: list[tuple[float, float]] | None = None) -> Run:
    """Section 3's model (:func:`dispatch_network`), run for 40 s."""
    return dispatch_network(prefetch, ack, crash).run(until=DISPATCH["until"])


def worker_stats(run: Run) -> dict[str, dict[str, float]]:
    """Per consumer: ``orders`` it acked, and the ``p50`` and ``max`` of their publish -> ack
    latency in seconds (rounded to 0.01 s)."""
    published: dict[int, float] = {}
    waits: dict[str, list[float]] = {}
    for e in run.trace:
        if e.kind == "publish":
            published.setdefault(e.msg, e.time)
        elif e.kind == "ack" and e.msg in published:
            waits.setdefault(e.node, []).append(e.time - published[e.msg])
    return {w: {"orders": len(v), "p50": round(percentile(v, 50), 2), "max": round(max(v), 2)}
            for w, v in sorted(waits.items())}


# -- how a check tells an untouched starter from an attempt ---------------------------------------

def _starter(*args: Any) -> None:
    ...


def _is_starter(fn: Callable) -> bool:
    """True for a function whose body does nothing (``...``, ``pass``, a docstring): the
    exercise's starter. A function that does something and still returns None was attempted."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _starter.__code__.co_code


# -- exercise 1: a direct exchange and its bindings ----------------------------------------------

REGIONS = {"eu": "europe", "us": "america", "asia": "america"}
"""Exercise 1's routes: routing key -> queue. Any other key ("test") must be unroutable."""

_KEYS = {"eu": 5, "us": 4, "asia": 2, "test": 1}  # how often the shop uses each key


def order_network(wire: Callable[[Network], Any] | None = None, seed: int = 3) -> Network:
    """Exercise 1's system without its exchange: the shop publishes to the exchange
    ``orders`` with the keys eu, us, asia and test; queues ``europe`` and ``america`` on
    broker ``hub``, each with a worker. ``wire(net)`` adds the exchange and the bindings."""
    net = Network(seed=seed)
    net.producer("shop", rate=3.0, exchange="orders", routing_key=dict(_KEYS))
    net.broker("hub")
    net.queue("hub", "europe")
    net.queue("hub", "america")
    net.consumer("eu-worker", queue="europe", service=0.2)
    net.consumer("us-worker", queue="america", service=0.2)
    if wire is not None:
        wire(net)
    return net


def _routes(run: Run) -> tuple[dict[str, Counter], Counter]:
    """key -> Counter of queues its messages were routed to; and the unroutable keys."""
    keys = {m: msg.routing_key for m, msg in run.trace.messages.items()}
    routed: dict[str, Counter] = {}
    lost: Counter = Counter()
    for e in run.trace:
        if e.kind == "route":
            routed.setdefault(keys[e.msg], Counter())[e.peer] += 1
        elif e.kind == "drop" and e.info == "unroutable":
            lost[keys[e.msg]] += 1
    return routed, lost


def ex1(wire: Any) -> Verdict:
    """Check ``wire(net)``: a direct exchange ``orders`` on ``hub`` that routes eu orders to
    ``europe``, us and asia orders to ``america``, and no other key anywhere."""
    if not_attempted(wire):
        return Verdict(None, "Write wire(net), then run this cell again.")
    if not callable(wire):
        return not_a_function(wire, "wire", "ex1")
    problems: list[str] = []
    for seed in (3, 4, 5):
        try:
            net = order_network(seed=seed)
        except Exception as exc:  # noqa: BLE001 - never expected, but never the student's fault
            return Verdict(False, f"Building the system raised {type(exc).__name__}: {exc}")
        result, problem = call_student(wire, net)
        if problem is not None:
            return Verdict(False, f"{problem.message.rstrip('.')}. "
                                  f"{_ex1_raised(problem.message)}")
        if seed == 3 and not_attempted(result) and not net.exchanges:
            return Verdict(None if _is_starter(wire) else False,
                           "wire(net) declared no exchange yet: call net.exchange(...) and "
                           "net.bind(...) on the net it is given (not on a Network of your "
                           "own).")
        if "orders" not in net.exchanges:
            names = ", ".join(repr(x) for x in net.exchanges) or "none"
            return Verdict(False, "The shop publishes to the exchange 'orders', but wire "
                                  f"declared no exchange of that name (exchanges: {names}). "
                                  "Declare it on the net you are given: "
                                  "net.exchange('hub', 'orders', type='direct').")
        kind = net.exchanges["orders"].type
        try:
            run = net.run(until=20)
        except Exception as exc:  # noqa: BLE001 - a wrong wiring is reported, not raised
            return Verdict(False, f"Running the system raised {type(exc).__name__}: {exc}")
        routed, lost = _routes(run)
        if kind == "fanout":
            return Verdict(False, "A fanout exchange ignores the routing key and gives every "
                                  "order to every bound queue: test orders got in, and eu "
                                  "orders reached america too. Use type='direct'.")
        for key in ("eu", "us", "asia"):
            want = REGIONS[key]
            got = routed.get(key, Counter())
            patterns = [b.pattern for b in net.exchanges["orders"].bindings]
            if lost[key] and not got:
                if want in patterns:
                    return Verdict(False, f"{key} orders were unroutable: a binding without a "
                                          "pattern takes the queue's name as its key (here "
                                          f"{', '.join(map(repr, patterns))}), and no order "
                                          f"has the key {want!r}. Give the routing key as the "
                                          f"pattern: net.bind('orders', {want!r}, "
                                          f"pattern={key!r}).")
                else:
                    same = [p for p in patterns if isinstance(p, str) and p != key
                            and p.lower() == key.lower()]
                    case = (f" Routing keys are case-sensitive: {same[0]!r} is not {key!r}."
                            if same else "")
                    problems.append(f"{key} orders were unroutable: no binding has the key "
                                    f"{key!r}.{case} Bind {want!r} with pattern={key!r}.")
            elif set(got) != {want}:
                wrong_q = ", ".join(sorted(set(got) - {want})) or "nowhere"
                problems.append(f"{key} orders went to {wrong_q}; they belong in {want}.")
        if routed.get("test"):
            problems.append("test orders reached a queue (" + ", ".join(sorted(routed["test"]))
                            + "); no binding should match the key 'test', so that they are "
                              "dropped as unroutable.")
        if problems:
            return Verdict(False, " ".join(dict.fromkeys(problems)))
        if kind != "direct":
            return Verdict(False, f"The routes are right, but with a {kind} exchange. The "
                                  "exercise asks for the exchange made for exact keys: "
                                  "type='direct'.")
    return Verdict(True, "eu to europe, us and asia to america, test orders unroutable, on "
                         "3 seeds. One queue may have several bindings: each is one key it "
                         "accepts.")


_CALLS = ("The calls are net.exchange('hub', 'orders', type='direct') and "
          "net.bind('orders', queue, pattern=key): exchange first, then the queue, and one "
          "binding for each key.")


def _ex1_raised(message: str) -> str:
    """What to add to the error a student's ``wire`` raised."""
    if "already used by a exchange" in message or "already used by an exchange" in message:
        return "Declare the exchange once; bind it as often as you need."
    if "already used by" in message:
        return ("The system already has the broker hub, the queues europe and america and "
                "their workers: declare only the exchange and the bindings.")
    if "pattern must be a string" in message:
        return ("A binding has one key: to send two keys to one queue, bind it twice, "
                "net.bind('orders', 'america', pattern='us') and again with pattern='asia'.")
    return _CALLS


# -- exercise 2: predict the slow worker's share with no prefetch ---------------------------------

@cache
def _slow_share(prefetch: int | None = None) -> int:
    return int(worker_stats(dispatch_demo(prefetch))["slow"]["orders"])


def ex2(prediction: Any) -> Verdict:
    """Check a predicted number of orders (of 40) that the slow worker gets, prefetch None."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction (a whole number of orders), then run this "
                             "cell again.")
    if isinstance(prediction, bool) or not isinstance(prediction, Real) or not math.isfinite(
            prediction):
        return Verdict(False, f"Give a number of orders, such as 12, not {short(prediction)}.")
    want, n = _slow_share(), DISPATCH["orders"]
    fast_rate, slow_rate = 1 / DISPATCH["fast"], 1 / DISPATCH["slow"]
    by_speed = n * slow_rate / (fast_rate + slow_rate)
    if prediction != int(prediction):
        return Verdict(False, "A worker gets whole orders: give a whole number.")
    p = int(prediction)
    if p == want:
        return Verdict(True, f"{want} of {n}: with no prefetch limit the broker hands the "
                             "orders out in turn, fast, slow, fast, slow, without asking who "
                             "is busy. Run the next cell to see what it costs.")
    if not 0 <= p <= n:
        return Verdict(False, f"The shop sends {n} orders: the slow worker gets between 0 and "
                              f"{n} of them.")
    if p in (want - 1, want + 1):
        return Verdict(False, f"Off by one: {n} orders dealt out in turn to two workers, "
                              "whoever comes first, give each the same number.")
    if abs(p - by_speed) < 1:
        return Verdict(False, "You shared the orders by speed (the slow worker does 1/1.5 "
                              "orders per second, the fast one 5). That is what fair dispatch "
                              "gives in the long run, but only a consumer's prefetch limit "
                              "lets the broker see who is busy: with no limit it does not "
                              "look.")
    if p == _slow_share(1):
        return Verdict(False, "That is what prefetch=1 gives (you will see it below). With "
                              "no limit the broker does not wait for the slow worker to be "
                              "free: it pushes the next order to it anyway, in turn.")
    if p == 0:
        return Verdict(False, "The broker does not know the slow worker is slow: it never "
                              "measures a worker's speed. Who gets what depends only on the "
                              "order of turns (and on prefetch).")
    if p == n:
        return Verdict(False, "Both workers take orders from the same queue: they compete "
                              "for them, and each order goes to one of the two.")
    if p > n - p:
        fair_fast = n - _slow_share(1)
        swapped = (f" ({fair_fast} is what the fast worker gets with prefetch=1, as you will "
                   "see below: did you swap the two?)" if p == fair_fast else "")
        return Verdict(False, f"{p} gives the slow worker more orders than the fast one"
                              f"{swapped}. The slow worker hoards by holding orders it has not "
                              "started, not by getting more of them: with no prefetch limit "
                              "the broker deals the orders out in turn, round-robin, so the "
                              "slow worker gets the same number as the fast one, not more.")
    sending = n * DISPATCH["interval"]  # seconds in which the shop sends
    if p == int(sending / DISPATCH["slow"]):
        return Verdict(False, f"{p} is about how many orders the slow worker can finish in the "
                              f"{sending:g} s in which the shop sends ({sending:g} s / "
                              f"{DISPATCH['slow']:g} s per order). But the broker does not "
                              "wait for a worker to finish: with no prefetch limit it pushes "
                              "each order to the next worker in turn, and the orders the slow "
                              "worker has not finished pile up beside it.")
    return Verdict(False, "Not quite. Think of the broker dealing cards: with no prefetch "
                          "limit, both workers always have room, so it gives the next order "
                          "to the next worker in turn, whatever each is doing.")


# -- exercise 3: why was a message dead-lettered? --------------------------------------------------

LABELS = {"rejected": "malformed", "expired": "stale", "maxlen": "overflow"}
"""Exercise 3: the reason in ``x-death`` -> the label ``why(msg)`` must return."""


def order_payload(i: int) -> dict:
    """Order number ``i``, counted from 0: every tenth order (3, 13, 23, ...) has quantity 0,
    a malformed order that the worker rejects. The trace counts messages from 1: order ``i``
    is msg ``i + 1`` there (order 3 is msg 4)."""
    return {"order": i, "qty": 0 if i % 10 == 3 else 1 + i % 3}


def checked_order(msg: Message) -> bool:
    """The worker's handler: False (reject) for an order with quantity 0."""
    return msg.payload["qty"] > 0


def dead_letter_network(inspector: Callable[[Message], Any] | None = None,
                        seed: int = 1) -> Network:
    """Section 5's system: about 3 orders per second into ``orders`` (room for 6 ready
    messages, drop-head; 1.5 s TTL; dead letters to ``dlq``); the worker needs 0.3 s per
    order and rejects malformed ones; ``inspector`` consumes ``dlq`` with ``handler``."""
    net = Network(seed=seed)
    net.producer("shop", rate=3.0, routing_key="orders", payload=order_payload)
    net.broker("hub")
    net.queue("hub", "orders", capacity=6, message_ttl=1.5, dead_letter="dlq")
    net.consumer("worker", queue="orders", service=0.3, handler=checked_order, requeue=False)
    net.consumer("inspector", queue="dlq", service=0.05, handler=inspector)
    net.link("shop", "hub", latency=0.1)
    net.link("orders", "worker", latency=0.1)
    return net


def _ex3_cases(why: Callable, looked_for: list[str], printed: io.StringIO
               ) -> tuple[list[tuple[Message, str, Any]], Verdict | None]:
    """(message, true reason, what ``why`` returned) for every dead letter of three runs;
    ``looked_for`` collects the strings ``why`` looked up in an ``x-death`` list with ``in``,
    and ``printed`` what it printed (kept off the screen: one line per dead letter would bury
    the verdict)."""
    seen: list[tuple[Message, str, Any]] = []
    failure: list[Verdict] = []

    def inspector(msg: Message) -> None:
        if failure:
            return
        reason = msg.headers["x-first-death-reason"]
        given = copy.copy(msg)  # the student may change it: the run keeps its own
        given.headers = _deep_copy(msg.headers, looked_for)
        given.payload = copy.deepcopy(msg.payload)
        try:
            with contextlib.redirect_stdout(printed):
                result = why(given)
        except Exception as exc:  # noqa: BLE001 - any mistake in the answer is reported
            failure.append(Verdict(False, f"Your function raised {type(exc).__name__}: {exc}. "
                                          f"{_ex3_raised(exc, msg)}".rstrip()))
            result = None
        seen.append((msg, reason, result))

    for seed in (1, 2, 3):
        dead_letter_network(inspector, seed=seed).run(until=30)
        if failure:
            return seen, failure[0]
    return seen, None


_WHERE = ("msg.headers['x-first-death-reason'] (a string), or "
          "msg.headers['x-death'][0]['reason'] (x-death is a list of dicts, one per death, "
          "newest first)")


def _ex3_raised(exc: Exception, msg: Message) -> str:
    """What to add to the error a student's ``why`` raised on dead letter ``msg``."""
    if isinstance(exc, KeyError) and exc.args:
        key = exc.args[0]
        if isinstance(key, str) and key in LABELS:
            return (f"{key!r} is an x-death reason that your translation into labels lacks: "
                    f"it needs all three, {LABELS}.")
        fields = ", ".join(repr(k) for k in msg.headers)
        return (f"There is no key {key!r} where why looked for it. A dead letter's headers "
                f"have the keys {fields}: read the reason from {_WHERE}.")
    if isinstance(exc, TypeError) and "list indices must be integers" in str(exc):
        return ("msg.headers['x-death'] is a list of dicts, newest first: read "
                "msg.headers['x-death'][0]['reason'], or simply "
                "msg.headers['x-first-death-reason'].")
    if isinstance(exc, AttributeError) and "has no attribute" in str(exc):
        return ("The reason is not an attribute: msg.headers is a dict, read with square "
                f"brackets. Read {_WHERE}.")
    return ""


class _Deaths(list):
    """The ``x-death`` list given to the student's ``why``: it notes a string looked up with
    ``in``, as in ``"rejected" in msg.headers["x-death"]`` (never true: it holds dicts)."""

    def __init__(self, deaths: list[dict], looked_for: list[str]) -> None:
        super().__init__(dict(d) for d in deaths)
        self._looked_for = looked_for

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            self._looked_for.append(item)
        return super().__contains__(item)


def _deep_copy(headers: dict, looked_for: list[str]) -> dict:
    out = dict(headers)
    if isinstance(out.get("x-death"), list):
        out["x-death"] = _Deaths(out["x-death"], looked_for)
    return out


def _global_messages(fn: Callable) -> list[str]:
    """The global names ``fn`` reads whose value is a Message (such as a loop's ``msg``)."""
    code, scope = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    return [n for n in getattr(code, "co_names", ()) if isinstance(scope.get(n), Message)]


def _ex3_same_mistake(why: Callable, results: list, looked_for: list[str]) -> Verdict | None:
    """The hint for a ``why`` that cannot tell the deaths apart, or None."""
    if looked_for:
        return Verdict(False, f"You test {looked_for[0]!r} in msg.headers['x-death'], which is "
                              "never true: x-death is a list of dicts, one per death, not a "
                              "list of reasons. Read msg.headers['x-death'][0]['reason'] (the "
                              "newest death), or the string msg.headers['x-first-death-reason'].")
    names = _global_messages(why)
    if names:
        return Verdict(False, f"why reads the global `{names[0]}` (a message left over from an "
                              "earlier cell), not the message it is given. Read the headers "
                              "of its own argument.")
    if len({repr(r) for r in results}) == 1:
        return Verdict(False, f"why returned {short(results[0])} for every message, but they "
                              "died for different reasons. Read the reason from the message "
                              "it is given: msg.headers['x-first-death-reason'] is a string "
                              "such as 'expired'; msg.headers['x-death'] is a list of dicts, "
                              "so look in its first entry, msg.headers['x-death'][0]['reason'].")
    return None


def ex3(why: Any) -> Verdict:
    """Check ``why(msg)``: 'malformed', 'stale' or 'overflow' from the message's x-death."""
    if not_attempted(why):
        return Verdict(None, "Write why(msg), then run this cell again.")
    if not callable(why):
        return not_a_function(why, "why", "ex3")
    looked_for: list[str] = []
    printed = io.StringIO()
    cases, problem = _ex3_cases(why, looked_for, printed)
    if problem is not None:
        return problem
    results = [r for _, _, r in cases]
    if all(not_attempted(r) for r in results):
        if printed.getvalue().strip():
            first = printed.getvalue().strip().splitlines()[0]
            return Verdict(False, f"why(msg) printed (its first line: {short(first)}) but "
                                  "returned None for every message: the check reads what it "
                                  "returns, and so does a program that calls it. Use `return "
                                  "label`, not `print(label)`: printing is not returning.")
        return Verdict(None if _is_starter(why) else False,
                       "why(msg) returned None for every message: write it, and don't forget "
                       "`return` (printing the label is not returning it).")
    if any(r != LABELS[reason] for _, reason, r in cases):
        hint = _ex3_same_mistake(why, results, looked_for)
        if hint is not None:
            return hint
    for msg, reason, got in cases:
        want = LABELS[reason]
        if got == want:
            continue
        if got == reason:
            return Verdict(False, f"why returned {reason!r}, the reason as x-death spells it. "
                                  f"Translate it into the label: {LABELS}.")
        if got == "malformed" and msg.payload["qty"] == 0 and reason != "rejected":
            return Verdict(False, f"Order {msg.payload['order']} (msg {msg.id} in the trace) "
                                  "has quantity 0, but it never reached the worker: it died "
                                  f"of {reason!r} in the queue, so "
                                  f"it is {want!r}. Read why a message died from its headers, "
                                  "not from its payload.")
        if not_attempted(got):
            extra = {"expired": " (the trace calls a drop by TTL 'ttl', but x-death says "
                                "'expired')",
                     "maxlen": " (the overflow policy is drop-head, but x-death says "
                               "'maxlen')",
                     "rejected": " (a nack without requeue)"}[reason]
            return Verdict(False, f"why returned None for a message whose x-death reason is "
                                  f"{reason!r}{extra}. Check how you spelt it, and don't "
                                  "forget `return`.")
        return Verdict(False, f"A message whose x-death reason is {reason!r} should be "
                              f"{want!r}; why returned {short(got)}.")
    counts = Counter(r for _, r, _ in cases)
    told = ", ".join(f"{counts[r]} {LABELS[r]}" for r in LABELS)
    return Verdict(True, f"All {len(cases)} dead letters of 3 runs diagnosed: {told}.")


# -- exercise 4: a TTL for price quotes ------------------------------------------------------------

QUOTES = {"max_age": 2.0, "to_hub": 0.2, "to_worker": 0.1, "service": 0.25, "rate": 3.0,
          "until": 30.0}
"""Section 6's quotes: the oldest a quote may be when the worker starts it (seconds since it
was published), the two links' latencies, the work per quote, quotes per second, run length."""


def quote_network(ttl: float | None, seed: int = 1) -> Network:
    """Section 6's system: price quotes (about 3 per second) over a 0.2 s link into the queue
    ``quotes`` with ``message_ttl=ttl`` (expired ones go to ``stale``), then over a 0.1 s link
    to one worker with prefetch 1 that needs 0.25 s per quote."""
    q = QUOTES
    net = Network(seed=seed)
    net.producer("prices", rate=q["rate"], routing_key="quotes")
    net.broker("hub")
    net.queue("hub", "quotes", message_ttl=ttl, dead_letter="stale")
    net.consumer("trader", queue="quotes", service=q["service"], prefetch=1)
    net.link("prices", "hub", latency=q["to_hub"])
    net.link("quotes", "trader", latency=q["to_worker"])
    return net


def ages_at_start(run: Run, worker: str = "trader") -> list[float]:
    """Seconds from publish to the moment ``worker`` started each message."""
    published: dict[int, float] = {}
    out = []
    for e in run.trace:
        if e.kind == "publish":
            published.setdefault(e.msg, e.time)
        elif e.kind == "start" and e.node == worker:
            out.append(e.time - published[e.msg])
    return out


def _outcome(ttl: float) -> tuple[int, float, int]:
    """(quotes started too old, the oldest age at start, quotes expired) over three seeds."""
    too_old, oldest, expired = 0, 0.0, 0
    for seed in (1, 2, 3):
        run = quote_network(ttl, seed=seed).run(until=QUOTES["until"])
        ages = ages_at_start(run)
        too_old += sum(a > QUOTES["max_age"] + 1e-9 for a in ages)
        oldest = max(oldest, max(ages))
        expired += sum(1 for e in run.trace if e.kind == "dead-letter")
    return too_old, oldest, expired


def best_ttl() -> float:
    """The longest queue TTL that never lets a quote older than ``max_age`` be started."""
    q = QUOTES
    return round(q["max_age"] - q["to_hub"] - q["to_worker"], 6)


def ex4(ttl: Any) -> Verdict:
    """Check a queue TTL (seconds): the longest that never lets the worker start a quote
    older than 2 s."""
    if not_attempted(ttl):
        return Verdict(None, "Write your TTL in seconds, then run this cell again.")
    if isinstance(ttl, bool) or not isinstance(ttl, Real) or not math.isfinite(ttl):
        return Verdict(False, f"Give a number of seconds, such as 1.2, not {short(ttl)}.")
    q, best = QUOTES, best_ttl()
    if ttl <= 0:
        return Verdict(False, "A TTL must be more than 0 s: with 0, every quote expires at "
                              "once.")
    if ttl >= 100:
        return Verdict(False, f"message_ttl is in seconds, not milliseconds: {ttl:g} s is "
                              f"{ttl / 60:.0f} minutes. (RabbitMQ's x-message-ttl is in "
                              "milliseconds; mqlab's is in seconds, like every time here.)")
    if math.isclose(ttl, best, abs_tol=0.005):
        return Verdict(True, f"{best:g} s: a quote spends {q['to_hub']:g} s on the way to the "
                             f"hub before its TTL starts, waits less than {best:g} s, and "
                             f"spends {q['to_worker']:g} s on the way to the worker: always "
                             f"less than {q['max_age']:g} s old when it is started.")
    too_old, oldest, expired = _outcome(ttl)
    if too_old:
        if best < ttl < best + 0.05:
            why = (f"Just over: a quote can wait the whole TTL, so it can be {q['to_hub']:g} + "
                   f"{ttl:g} + {q['to_worker']:g} = {q['to_hub'] + ttl + q['to_worker']:.3g} s "
                   f"old when it starts, more than {q['max_age']:g} s.")
        elif math.isclose(ttl, q["max_age"], abs_tol=0.005):
            why = ("The TTL clock starts when the quote enters the queue, not when it was "
                   f"published: it has already spent {q['to_hub']:g} s on the link to the "
                   f"hub, and it spends {q['to_worker']:g} s more on the way to the worker.")
        elif math.isclose(ttl, q["max_age"] - q["to_hub"], abs_tol=0.005):
            why = (f"You took off the {q['to_hub']:g} s to the hub; the quote also spends "
                   f"{q['to_worker']:g} s on the link from the queue to the worker before it "
                   "starts.")
        elif math.isclose(ttl, q["max_age"] - q["to_worker"], abs_tol=0.005):
            why = (f"You took off the {q['to_worker']:g} s to the worker; the quote has also "
                   f"spent {q['to_hub']:g} s on the link to the hub before its TTL starts.")
        else:
            why = ("Count every second a quote spends before the worker starts it: the link "
                   "to the hub, the wait in the queue (at most the TTL), the link to the "
                   "worker.")
        quotes = "1 quote" if too_old == 1 else f"{too_old} quotes"
        was = "was" if too_old == 1 else "were"
        return Verdict(False, f"Too long: with a TTL of {ttl:g} s, {quotes} in 3 runs {was} "
                              f"started older than {q['max_age']:g} s (the oldest "
                              f"{oldest:.3f} s). {why}")
    _, _, best_expired = _outcome(best)
    lost = (f" ({expired} expired in 3 runs, where a TTL of {best:g} s lets {best_expired} "
            "expire)" if expired > best_expired else "")
    return Verdict(False, f"Safe, but stricter than needed: no quote was started too old, "
                          f"but a quote that waited between {ttl:g} s and {best:g} s was "
                          f"still less than {q['max_age']:g} s old when started, and your TTL "
                          f"throws it away{lost}. Add up the time a quote spends before its "
                          "TTL starts counting and after it stops.")
