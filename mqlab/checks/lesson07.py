"""Checks for lesson 07, "Fault tolerance", and the lesson's models.

    from mqlab.checks import lesson07 as check
    check.ex1(make_handler)    # an idempotent bank: every payment charged exactly once
    check.ex2(my_prediction)   # predict what a broker restart keeps, durable x persistent
    check.ex3(my_policy)       # retries with backoff: meet a deadline without a herd
    check.ex4(my_choices)      # choose the delivery guarantee for three systems

    check.guarantees(seed)     # the guarantees table of section 3: lost and charged twice
    check.restart_demo(durable=True, persistent=True)   # section 4's broker restart
    check.herd_demo(retries=8, backoff=mq.backoff(0.25, cap=2.0))   # section 5's clients

The table the lesson prints comes from :func:`guarantees`, and ``tests/test_guarantees.py``
asserts it on the lesson's seed and others. Each check runs the answer on cases of its own
(several seeds) and returns a :class:`~mqlab.checks.Verdict`: truthy when right, and a hint
when not.
"""

from __future__ import annotations

import copy
import inspect
import math
import weakref
from collections import Counter
from collections.abc import Callable
from functools import cache
from numbers import Real
from typing import Any

from mqlab.checks import Verdict, call_student, not_a_function, not_attempted, short
from mqlab.dist import Backoff, backoff
from mqlab.message import Message
from mqlab.network import Network
from mqlab.run import Run
from mqlab.simulation import SimulationError

__all__ = ["BANK", "GUARANTEES", "HERD", "RESTART", "SCENARIOS", "SEED", "ex1", "ex2", "ex3",
           "ex4", "guarantees", "herd_demo", "herd_network", "herd_stats", "payment",
           "payments", "payments_network", "restart_demo", "restart_network"]


# -- the payments model of section 3: three guarantees on the same faulty run ---------------------

SEED = 5
"""The seed of the lesson's table."""

GUARANTEES = ("at-most-once", "at-least-once", "effectively-once")

BANK = {"payments": 200, "interval": 0.2, "to_hub": 0.05, "to_bank": 0.02, "loss": 0.1,
        "delivery_loss": 0.05, "service": 0.05, "prefetch": 5, "crash_before_ack": 0.05,
        "restart": 0.5, "ack_timeout": 2.0, "confirm_timeout": 1.0, "retries": 8}
"""Section 3's shop and bank: payments sent, seconds between them, on the link to the hub and
from it to the bank, the links' loss probabilities (to the hub, to the bank), seconds of work
per payment, the bank's prefetch, its probability of crashing between charging and acking,
seconds it takes to restart, the broker's ack timeout and the shop's confirm timeout
(seconds), and the shop's retries."""

_CARDS = ("ana", "ben", "chen", "dara", "eli", "fay", "gus")


def payment(i: int) -> dict:
    """Payment number ``i``: a customer and an amount. Payloads repeat (the same customer
    buys the same thing again): only the message id tells two payments apart."""
    return {"customer": _CARDS[i % 7], "amount": 10 * (1 + i % 3)}


def payments_network(mode: str, seed: int = SEED, duplicate: float = 0.0,
                     handler: Callable[[Message], Any] | None = None,
                     handler_factory: Callable[[], Callable] | None = None) -> Network:
    """A shop sends 200 payments, one every 0.2 s, to the queue ``payments``; the bank
    charges each one (``handler``). The links lose messages (10 % to the hub, 5 % to the
    bank) and, with ``duplicate``, copy them; after each charge the bank crashes with a 5 %
    chance, before its ack leaves, and is back 0.5 s later. ``handler_factory`` (instead of
    ``handler``) makes the bank's handler at each start, after every crash too.

    ``mode``: ``"at-most-once"`` (no confirms, ack="auto"), ``"at-least-once"`` (publisher
    confirms with retries, ack="manual" with an ack timeout) or ``"effectively-once"``
    (at-least-once, and the bank keeps the ids it processed: ``dedup=True``)."""
    if mode not in GUARANTEES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, GUARANTEES))}, got {mode!r}")
    b = BANK
    at_least_once = mode != "at-most-once"
    retry = ({"confirm": True, "timeout": b["confirm_timeout"], "retries": b["retries"],
              "backoff": backoff(0.2, cap=2.0)} if at_least_once else {})
    net = Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "payments")
    net.producer("shop", interval=b["interval"], count=b["payments"], routing_key="payments",
                 payload=payment, **retry)
    net.link("shop", "hub", latency=b["to_hub"], loss=b["loss"], duplicate=duplicate)
    net.consumer("bank", queue="payments", service=b["service"], prefetch=b["prefetch"],
                 ack="manual" if at_least_once else "auto",
                 ack_timeout=b["ack_timeout"] if at_least_once else None,
                 crash_before_ack=b["crash_before_ack"], restart=b["restart"],
                 dedup=mode == "effectively-once", handler=handler,
                 handler_factory=handler_factory)
    net.link("hub", "bank", latency=b["to_bank"], loss=b["delivery_loss"], duplicate=duplicate)
    return net


def payments(mode: str, seed: int = SEED, duplicate: float = 0.0) -> tuple[Counter, Run]:
    """Run :func:`payments_network`; return (charges per payment id, the run). The charges
    are the bank's side effects, counted by its handler."""
    charges: Counter = Counter()

    def charge(msg: Message) -> None:
        charges[msg.id] += 1  # the side effect: money moves

    return charges, payments_network(mode, seed, duplicate, charge).run()


def guarantees(seed: int = SEED, duplicate: float = 0.0) -> dict[str, dict[str, int]]:
    """The three guarantees on the same faulty run: per mode, ``lost`` (payments never
    charged), ``twice`` (extra charges: a payment charged 3 times counts 2), ``publishes``
    (the shop's publishes, retries included) and ``deliveries`` (the broker's)."""
    table = {}
    for mode in GUARANTEES:
        charges, run = payments(mode, seed, duplicate)
        table[mode] = {"lost": BANK["payments"] - len(charges),
                       "twice": sum(n - 1 for n in charges.values()),
                       "publishes": len(run.trace.filter(kind="publish")),
                       "deliveries": len(run.trace.filter(kind="deliver"))}
    return table


# -- exercise 1: an idempotent bank ---------------------------------------------------------------

_EX1_SEEDS = (SEED, 11, 12)
_EX1_DUPLICATE = 0.05


class _Charges:
    """The bank's side effects: ``charge(msg)`` moves the money of payment ``msg.id``.
    ``stored_first`` counts first charges of a payment whose id was in ``store`` already."""

    def __init__(self, store: set) -> None:
        self.count: Counter = Counter()
        self.store, self.stored_first = store, 0

    def __call__(self, msg: Any) -> None:
        if not isinstance(msg, Message):
            raise TypeError(f"charge takes the message itself, charge(msg), not {short(msg)}")
        if not self.count[msg.id] and msg.id in self.store:
            self.stored_first += 1
        self.count[msg.id] += 1


_CHARGED: weakref.WeakSet = weakref.WeakSet()
"""The make_handler functions that charged something in an earlier check: one that charges
nothing now remembers ids outside store (a global), filled by that earlier check."""

_OUTSIDE = ("you keep the ids outside store (in a global variable or a function attribute), "
            "and they survive because this whole simulation runs inside one Python process. "
            "A real crash wipes the whole process, globals included. Keep the ids in store, "
            "the database that outlives the crashes.")


def _unhashable(exc: str) -> Verdict:
    """The hint for a handler that put something unhashable in store (a payload dict)."""
    if "'dict'" in exc:
        return Verdict(False, f"Your handler raised TypeError: {exc}: a set cannot hold a dict "
                              "such as msg.payload. And keying the store on the payload would "
                              "be wrong anyway: the same payload does not make the same "
                              "payment (ana may pay 10 twice). Key the store on msg.id, the "
                              "payment's own number.")
    return Verdict(False, f"Your handler raised TypeError: {exc}: a set holds only hashable "
                          "values. Add msg.id to store, the payment's own number.")


class _Stop(Exception):
    """The student's code raised, or make_handler returned no function: end the run."""


def _live(make_handler: Callable, seed: int, restarts: bool = True,
          forget_redelivered: bool = False) -> tuple[dict, Verdict | None]:
    """Run the student's bank on one faulty run (at-least-once, links that lose and copy,
    crashes between the charge and the ack): ``make_handler(store, charge)`` is the bank's
    ``handler_factory``, called when it starts and again after each crash, so what the handler
    keeps in its own memory is gone and ``store`` is kept. ``restarts=False`` makes the
    handler once, as if the bank's memory survived its crashes; ``forget_redelivered`` hides
    the redelivered flag. Returns what happened, or a verdict if the student's code raised.

    It also watches ``store``: ``held`` collects every item seen in it after a call, ``gone``
    counts the duplicates of a charged payment whose id had been in store and was no longer
    there, and ``forgot`` (with ``forgot_id``, the first) those of them charged again."""
    store: set = set()
    charges = _Charges(store)
    got: dict[str, Any] = {"handler": None, "false": 0, "first_charged": 0, "payloads": {},
                           "store": store, "held": set(), "gone": 0,
                           "forgot": 0, "forgot_id": None}
    trouble: list[Verdict] = []

    def watched(handler: Callable) -> Callable[[Message], None]:
        def handle(msg: Message) -> None:
            given = copy.deepcopy(msg)  # the student may change it: the run's copy stays as is
            if forget_redelivered:
                given.redelivered = False
            first = msg.id not in got["payloads"]
            got["payloads"].setdefault(msg.id, _key(msg.payload))
            before = charges.count[msg.id]
            gone = before > 0 and msg.id in got["held"] and msg.id not in store
            result, problem = call_student(handler, given)
            if problem is not None:
                raised = problem.message.removeprefix("Your function raised TypeError: ")
                unhashable = raised != problem.message and "unhashable type" in raised
                trouble.append(_unhashable(raised) if unhashable else problem)
                raise _Stop
            got["false"] += result is False
            got["held"].update(store)
            if gone:
                got["gone"] += 1
                if charges.count[msg.id] > before:
                    got["forgot"] += 1
                    if got["forgot_id"] is None:
                        got["forgot_id"] = msg.id
            if first:
                got["first_charged"] += charges.count[msg.id] > before
            # a False is reported by the check; acting on it would requeue the payment for ever

        return handle

    def factory() -> Callable[[Message], None]:
        handler, problem = call_student(make_handler, store, charges)
        if problem is not None:
            trouble.append(problem)
            raise _Stop
        got["handler"] = handler
        if not callable(handler):
            raise _Stop
        return watched(handler)

    try:
        made = {"handler_factory": factory} if restarts else {"handler": factory()}
        run = payments_network("at-least-once", seed, _EX1_DUPLICATE, **made).run()
    except (_Stop, SimulationError) as exc:
        if not isinstance(exc, _Stop) and not isinstance(exc.__cause__, _Stop):
            raise
        return got, (trouble[0] if trouble else None)
    paid = {e.msg for e in run.trace.filter(kind="publish")}
    got.update(charges=charges.count, payments=len(paid),
               lost=sorted(i for i in paid if charges.count[i] == 0),
               twice=sum(n - 1 for n in charges.count.values()),
               crashes=len(run.trace.filter(kind="crash", node="bank")),
               stored_first=charges.stored_first)
    return got, None


def _key(payload: Any) -> Any:
    """A payload as something hashable, to compare payloads."""
    return tuple(sorted(payload.items())) if isinstance(payload, dict) else repr(payload)


def _is_starter(fn: Callable) -> bool:
    """True for a function whose body does nothing (``...``, ``pass``): a starter."""
    def empty(*args: Any) -> None:
        ...
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == empty.__code__.co_code


def ex1(make_handler: Any) -> Verdict:
    """Check ``make_handler(store, charge)``: run live as the bank's handler_factory, the
    handler it makes charges every payment exactly once on faulty runs (lossy, copying links;
    crashes between charge and ack), on 3 seeds."""
    if not_attempted(make_handler):
        return Verdict(None, "Write make_handler(store, charge), then run this cell again.")
    if not callable(make_handler):
        return not_a_function(make_handler, "make_handler", "ex1")
    try:
        inspect.signature(make_handler).bind(set(), print)
    except TypeError:
        return Verdict(False, "Pass make_handler itself, the function that takes (store, "
                              "charge) and returns the handler: check.ex1(make_handler), not "
                              "the handler it makes and not make_handler(...).")
    except ValueError:  # no signature to read (a builtin): let the calls tell
        pass
    stored_first, dropped, gone = 0, None, 0
    for k, seed in enumerate(_EX1_SEEDS):
        got, problem = _live(make_handler, seed)
        if problem is not None:
            return problem
        handler = got["handler"]
        if not callable(handler):
            return Verdict(None if handler is None and _is_starter(make_handler) else False,
                           f"make_handler must return the handler function (`return handle` "
                           f"at its end); it returned {short(handler)}.")
        if _is_starter(handler):
            return Verdict(None, "handle(msg) does nothing yet: charge each payment once "
                                 "(charge(msg)) and skip the ones already charged.")
        n, lost, twice = got["payments"], got["lost"], got["twice"]
        if not got["charges"]:
            if k > 0 or make_handler in _CHARGED:
                return Verdict(False, "Your handler charged nothing on this run, after "
                                      "charging every payment on an earlier one: it still "
                                      "remembered their ids (the runs number their payments "
                                      "alike). So " + _OUTSIDE)
            return Verdict(False, "Your handler charged nothing: call charge(msg) for a "
                                  "payment it has not charged before.")
        _CHARGED.add(make_handler)
        if not lost and not twice and got["crashes"] and not got["store"]:
            return Verdict(False, f"Every payment was charged once on this run, and yet store "
                                  f"is empty after {got['crashes']} crashes: " + _OUTSIDE)
        stored_first += got["stored_first"]
        gone += got["gone"]
        if got["held"] - got["store"]:
            dropped = got
        if got["false"]:
            return Verdict(False, "Your handler returned False for some messages: that nacks "
                                  "them, and the broker puts them back in the queue to come "
                                  "again and again. Return nothing (None) for a duplicate: "
                                  "it is acked, not charged.")
        if lost and not got["first_charged"]:
            return Verdict(False, f"{len(lost)} of {n} payments were never charged, and no "
                                  "payment was charged on its first delivery: your handler "
                                  "skips a message when it has NOT seen it before. Skip it "
                                  "when msg.id is already in store; otherwise charge it and "
                                  "add msg.id.")
        if lost:
            payloads = got["payloads"]
            charged = {i: payloads[i] for i in payloads if got["charges"][i]}
            if (len(set(charged.values())) == len(charged)
                    and all(i in payloads and payloads[i] in charged.values() for i in lost)):
                return Verdict(False, f"{len(lost)} of {n} payments were never charged, each "
                                      "with the same customer and amount as one charged "
                                      "before: the same payload does not make the same "
                                      "payment (ana may pay 10 twice). Key the store on "
                                      "msg.id, the payment's own number.")
            plain, _ = _live(make_handler, seed, forget_redelivered=True)
            if not plain.get("lost", True):
                return Verdict(False, f"{len(lost)} payments were never charged: your "
                                      "handler skips redelivered messages. msg.redelivered "
                                      "only says the message *may* have been seen: one that "
                                      "was lost on its way to the bank, or waited in a bank "
                                      "that crashed, comes back redelivered and was never "
                                      "charged. Look its id up in store instead.")
            return Verdict(False, f"{len(lost)} payments were never charged. Skip a message "
                                  "only when its id is in store; charge every other one and "
                                  "add its id.")
        if twice and got["forgot"]:
            return Verdict(False, f"{twice} extra charges, and your store lost ids: the id of "
                                  f"payment {got['forgot_id']}, for one, was in store and gone "
                                  "when a duplicate of that payment arrived, so your handler "
                                  "charged it again. A duplicate can come seconds after the "
                                  "first delivery (a retried publish, a redelivery after a "
                                  "crash or an ack timeout), so the store must keep an id at "
                                  "least as long as a duplicate of it can still arrive. In "
                                  "this exercise, keep every id: do not remove ids from store.")
        if twice:
            calm, _ = _live(make_handler, seed, restarts=False)
            if calm.get("twice") == 0:
                return Verdict(False, f"{twice} payments were charged twice, each after a "
                                      f"crash ({got['crashes']} crashes): the ids you keep "
                                      "live in the handler's own memory, which a crash wipes "
                                      "out (make_handler runs again at each restart). Keep "
                                      "them in store, which survives.")
            return Verdict(False, f"{twice} extra charges: duplicates reach the bank (copied "
                                  "on a link, redelivered after a crash or an ack timeout). "
                                  "Before charging, look msg.id up in store; after charging, "
                                  "add it.")
    note = ""
    if dropped is not None:
        left, n = len(dropped["store"]), dropped["payments"]
        note = (f" One thing to watch: your store drops ids (a run ended with {left} ids in "
                f"store, for {n} payments)" +
                ("; no duplicate arrived after its id was gone here, but" if not gone else
                 ", and") +
                " a store must keep an id at least as long as a duplicate of it can still "
                "arrive, longer than any retry and redelivery can take.")
    if stored_first:
        return Verdict(True, "Every payment charged exactly once on 3 faulty runs, crashes and "
                             "copies included: an idempotent consumer." + note
                             + (" Another" if note else " One") + " thing to watch: "
                             "your handler adds msg.id to store before it charges. Here the "
                             "two lines run as one step; in a real bank, a crash between them "
                             "would leave the id stored and the card never charged, a lost "
                             "payment (the other order would charge it twice). Only one "
                             "transaction for both closes the gap.")
    return Verdict(True, "Every payment charged exactly once on 3 faulty runs, crashes and "
                         "copies included: an idempotent consumer." + note + " In a real bank "
                         "the charge and the store update go in one transaction, or a crash "
                         "between them opens the same gap again.")


# -- exercise 2: what a broker restart keeps ------------------------------------------------------

RESTART = {"orders": 10, "interval": 0.2, "crash": (3.0, 4.0), "worker_down": (0.0, 6.0),
           "until": 15.0}
"""Section 4's system: orders sent (one every 0.2 s), when the broker is down, when the
worker is down, and the run's length (seconds)."""

_COMBOS = ((True, True), (True, False), (False, True), (False, False))


def restart_network(durable: bool, persistent: bool) -> Network:
    """The shop sends 10 orders (``persistent`` or transient) into the queue ``orders``
    (``durable`` or not) while the worker is down (0 s to 6 s); the broker crashes at 3 s
    and is back at 4 s."""
    r = RESTART
    net = Network(seed=1)
    net.broker("hub", crash=[r["crash"]])
    net.queue("hub", "orders", durable=durable)
    net.producer("shop", interval=r["interval"], count=r["orders"], routing_key="orders",
                 persistent=persistent)
    net.consumer("worker", queue="orders", service=0.2, crash=[r["worker_down"]])
    net.link("shop", "hub", latency=0.05)
    net.link("orders", "worker", latency=0.05)
    return net


def restart_demo(durable: bool, persistent: bool) -> Run:
    """Section 4's model (:func:`restart_network`), run for 15 s."""
    return restart_network(durable, persistent).run(until=RESTART["until"])


@cache
def _kept() -> dict[tuple[bool, bool], int]:
    return {c: restart_demo(*c).summary().account.acked for c in _COMBOS}


def _name(combo: tuple[bool, bool]) -> str:
    return (f"({'durable' if combo[0] else 'non-durable'} queue, "
            f"{'persistent' if combo[1] else 'transient'} messages)")


def ex2(prediction: Any) -> Verdict:
    """Check a predicted number of orders (of 10) processed after the restart, for each
    (durable, persistent) combination."""
    if not_attempted(prediction):
        return Verdict(None, "Fill in your four predictions, then run this cell again.")
    if not isinstance(prediction, dict):
        return Verdict(False, "Give a dict {(durable, persistent): orders, ...}, like the "
                              f"starter, not {short(prediction)}.")
    missing = [c for c in _COMBOS if c not in prediction]
    if missing:
        return Verdict(False, f"Your dict has no prediction for {missing[0]!r}: keep the four "
                              "keys (True, True), (True, False), (False, True), (False, False).")
    guesses = {c: prediction[c] for c in _COMBOS}
    if all(not_attempted(g) for g in guesses.values()):
        return Verdict(None, "Replace each ... with a number of orders, then run this cell "
                             "again.")
    for c, g in guesses.items():
        if not_attempted(g):
            return Verdict(False, f"You have not predicted {_name(c)} yet: replace its ... "
                                  "with a number of orders.")
        if isinstance(g, bool) or not isinstance(g, Real) or not math.isfinite(g):
            return Verdict(False, f"Give a number of orders for {_name(c)}, such as 4, not "
                                  f"{short(g)}.")
        if not 0 <= g <= RESTART["orders"]:
            return Verdict(False, f"The shop sends {RESTART['orders']} orders: a prediction is "
                                  f"between 0 and {RESTART['orders']}, not {g!r}.")
    kept = _kept()
    wrong = [c for c in _COMBOS if guesses[c] != kept[c]]
    if not wrong:
        return Verdict(True, "Only persistent messages in a durable queue survive: 10 "
                             "orders, then 0, 0 and 0. mqlab's defaults are durable queues "
                             "and persistent messages; RabbitMQ's are the opposite, so there "
                             "you ask for both.")
    hints = []
    if (True, False) in wrong and guesses[(True, False)] > 0:
        hints.append("A durable queue survives the restart, but it keeps only persistent "
                     "messages: transient ones were held in memory, and memory is what a "
                     "crash loses.")
    if (False, True) in wrong and guesses[(False, True)] > 0:
        hints.append("A persistent message is only as safe as its queue: a non-durable queue "
                     "is gone after the restart, and its messages with it.")
    if (False, False) in wrong and guesses[(False, False)] > 0:
        hints.append("Neither the queue nor its messages were written to disk: nothing of "
                     "them is left after the restart.")
    if (True, True) in wrong:
        hints.append("With a durable queue and persistent messages, every order is on disk "
                     "and there again after the restart; the worker, down until 6 s, then "
                     "processes all 10.")
    if not hints:  # a wrong guess below what survived in some other way
        hints.append("Count what is on disk when the broker goes down at 3 s: all 10 orders "
                     "are waiting in the queue (the worker is down until 6 s).")
    return Verdict(False, " ".join(hints))


# -- exercise 3: retries with backoff: a deadline, and no thundering herd ------------------------

HERD = {"clients": 30, "down": 3.0, "capacity": 5, "timeout": 0.5, "deadline": 10.0,
        "herd_window": 0.1, "herd_limit": 10, "publish_limit": 125,
        "seeds": (1, 2, 3, 4, 5, 6, 7, 8)}
"""Section 5's card terminals: how many, how long the broker is down from t = 0 (seconds),
the room in its queue (it rejects what does not fit), the confirm timeout (s), the deadline
by which every payment must be confirmed (s), the herd rule: at most ``herd_limit``
publishes in any ``herd_window`` seconds once the broker is back, and the load rule: at most
``publish_limit`` publishes in all, first tries included. The seeds the check uses."""


def herd_network(retries: int, backoff: Backoff, seed: int = 1) -> Network:
    """30 card terminals each send one payment at t = 0, while the broker is down (until
    3 s); each waits 0.5 s for its confirm and then retries after the ``backoff`` wait, up to
    ``retries`` times. The queue ``payments`` holds 5 ready messages and rejects more
    (``reject-publish``): a rejected payment is retried too."""
    h = HERD
    net = Network(seed=seed)
    net.broker("hub", crash=[(0.0, h["down"])])
    net.queue("hub", "payments", capacity=h["capacity"], overflow="reject-publish")
    for i in range(1, h["clients"] + 1):
        net.producer(f"till{i}", schedule=[0.0], routing_key="payments", confirm=True,
                     timeout=h["timeout"], retries=retries, backoff=backoff)
        net.link(f"till{i}", "hub", latency=0.05)
    net.consumer("bank", queue="payments", service=0.1)
    net.link("payments", "bank", latency=0.01)
    return net


def herd_demo(retries: int, backoff: Backoff, seed: int = 1) -> Run:
    """Section 5's model (:func:`herd_network`), run for 60 s."""
    return herd_network(retries, backoff, seed).run(until=60.0)


def herd_stats(run: Run) -> dict[str, Any]:
    """``confirmed`` payments (of 30), the time of the ``last`` confirm (s, None if none),
    ``rejected`` replies, ``publishes`` (first tries and retries) and ``peak``: the most
    publishes in any 0.1 s once the broker is back."""
    h = HERD
    confirmed: dict[int, float] = {}
    for e in run.trace.filter(kind="reply"):
        if e.info == "confirmed":
            confirmed.setdefault(e.msg, e.time)
    times = sorted(e.time for e in run.trace.filter(kind="publish"))
    after = [t for t in times if t >= h["down"]]
    peak, j = 0, 0
    for i, t in enumerate(after):  # a window [t, t + 0.1) from each publish
        while after[j] < t - h["herd_window"] + 1e-9:
            j += 1
        peak = max(peak, i - j + 1)
    return {"confirmed": len(confirmed),
            "last": round(max(confirmed.values()), 2) if confirmed else None,
            "rejected": sum(1 for e in run.trace.filter(kind="reply") if e.info == "rejected"),
            "publishes": len(times), "peak": peak}


def _patience(retries: int, b: Backoff) -> float:
    """How long a terminal keeps trying, at the most: timeouts plus the longest waits."""
    return HERD["timeout"] * (retries + 1) + sum(b.wait(i) for i in range(retries))


def _policy(retries: int, b: Backoff) -> str:
    """A policy whose waits grow up to a cap, in words, for a verdict."""
    return (f"{retries} retries, waits from {b.base:g} s growing {b.factor:g}-fold up to "
            f"{b.cap:g} s, jitter={b.jitter!r}")


def _grows(retries: int, b: Backoff) -> bool:
    """Do the waits before a policy's retries grow at all (before jitter)?"""
    return retries > 1 and b.wait(retries - 1) > b.wait(0)


def _rules(retries: int, wait: Backoff) -> tuple[Verdict | None, list[int]]:
    """Run the policy on the check's seeds: the hint for the first rule it breaks (deadline,
    herd, load), or None, and the publishes of each seed run so far."""
    h = HERD
    publishes = []
    for seed in h["seeds"]:
        s = herd_stats(herd_demo(retries, wait, seed))
        publishes.append(s["publishes"])
        if wait.jitter == "none" and s["peak"] > h["herd_limit"]:
            return Verdict(False, f"A thundering herd: with jitter='none' all 30 terminals "
                                  f"wait exactly as long, so their retries land together "
                                  f"({s['peak']} publishes within 0.1 s once the broker is "
                                  f"back; the limit is {h['herd_limit']}), and the full queue "
                                  f"rejected {s['rejected']} of them. Spread them with "
                                  "jitter='full' or 'equal'."), publishes
        if s["peak"] > h["herd_limit"]:
            spread = ("equal jitter keeps half of each wait the same for every terminal: "
                      "jitter='full' spreads them wider, and so does a larger base"
                      if wait.jitter == "equal" else
                      "even full jitter draws from too narrow a range here: a larger base "
                      "spreads the retries over more time")
            return Verdict(False, f"{s['peak']} publishes within 0.1 s once the broker was back "
                                  f"(seed {seed}; the limit is {h['herd_limit']}): {spread}."
                           ), publishes
        if s["confirmed"] < h["clients"]:
            gave_up = h["clients"] - s["confirmed"]
            longest = _patience(retries, wait)
            were = "was" if gave_up == 1 else "were"
            tries = "retry" if retries == 1 else "retries"
            return Verdict(False, f"{gave_up} of {h['clients']} payments {were} never confirmed "
                                  f"(seed {seed}): their terminals gave up after {retries} "
                                  f"{tries}. Even with the longest waits a terminal tries for "
                                  f"at most {longest:.2g} s (a {h['timeout']:g} s timeout per "
                                  "try plus the waits), and jitter makes many waits shorter, "
                                  f"while the broker is down for {h['down']:g} s and then has "
                                  f"room for {h['capacity']} at a time. Allow more retries, or "
                                  "longer waits."), publishes
        if s["last"] > h["deadline"]:
            top = wait.wait(retries - 1)
            capped = "" if wait.cap is None else f"with a cap of {wait.cap:g} s, "
            return Verdict(False, f"The last payment was confirmed at {s['last']:g} s (seed "
                                  f"{seed}), after the {h['deadline']:g} s deadline: "
                                  f"{capped}your waits grow to {top:.3g} s, and a terminal "
                                  "whose tries failed a few times in a row may wait up to that "
                                  "long for its next one. Lower the cap, or start smaller "
                                  "(base)."), publishes
        if s["publishes"] > h["publish_limit"]:
            return Verdict(False, f"{s['publishes']} publishes in all (seed {seed}; the limit is "
                                  f"{h['publish_limit']}, first tries included): the terminals "
                                  "try again too soon, while the broker is still down or its "
                                  "queue still full, and each refused publish is work for a "
                                  "broker that has just come back. Start with longer waits (a "
                                  "larger base): fewer, later retries."), publishes
    return None, publishes


def _no_cap(retries: int, wait: Backoff) -> Verdict:
    """The hint for waits that grow without a cap, with what they did on the check's seeds."""
    h, last = HERD, retries - 1
    grow = "double" if wait.factor == 2 else f"grow {wait.factor:g}-fold"
    runs = [(seed, herd_stats(herd_demo(retries, wait, seed))) for seed in h["seeds"]]
    late = [(seed, s) for seed, s in runs if s["last"] is not None and s["last"] > h["deadline"]]
    short_of = [(seed, s) for seed, s in runs if s["confirmed"] < h["clients"]]
    if late:
        seed, s = late[0]
        more = f" (and on {len(late) - 1} more of the {len(runs)} seeds)" if len(late) > 1 else ""
        seen = (f"On seed {seed} the last payment was confirmed at {s['last']:g} s, after the "
                f"{h['deadline']:g} s deadline{more}.")
    elif short_of:
        seed, s = short_of[0]
        seen = (f"On seed {seed}, {h['clients'] - s['confirmed']} of {h['clients']} payments "
                "were never confirmed: their terminals gave up.")
    else:
        worst = max(s["last"] for _, s in runs)
        seen = (f"On the check's {len(runs)} seeds every payment was still confirmed by "
                f"{worst:g} s, within the {h['deadline']:g} s deadline; a longer outage would "
                "push terminals on to their later, longer waits.")
    return Verdict(False, f"Your backoff has no cap: the waits {grow} with each retry, without "
                          f"limit, so before retry {last} (counting from 0, as in section 5: "
                          f"your last retry) a terminal waits up to {wait.wait(last):.3g} s. "
                          f"{seen} Give the waits a cap (cap=...).")


def _constant(retries: int, wait: Backoff) -> Verdict:
    """The hint for waits that never grow: one retry, factor=1, or a cap no larger than base."""
    h, w = HERD, wait.wait(0)
    if retries == 1:
        why = f"with 1 retry there is only one wait, {w:g} s (before jitter), and nothing grows"
    elif wait.factor == 1:
        why = (f"with factor=1 every wait is {w:g} s, the base (before jitter): a constant "
               "wait, not exponential backoff")
    else:
        why = (f"your cap ({wait.cap:g} s) is no larger than base ({wait.base:g} s), so every "
               f"wait is {w:g} s (before jitter): a constant wait, not exponential backoff")
    problem, _ = _rules(retries, wait)
    meets = ("" if problem is not None else
             f" It meets the deadline, the herd rule and the load rule on all "
             f"{len(h['seeds'])} seeds, with this {h['down']:g} s outage.")
    if retries == 1:
        fix = ("The exercise asks for waits that grow exponentially: allow more retries, with "
               "a factor above 1 and a cap above base.")
    else:
        fix = (f"{'But in' if meets else 'In'} a longer outage a terminal would spend a "
               f"retry at least every {w + h['timeout']:g} s (the {w:g} s wait plus the "
               f"{h['timeout']:g} s timeout) for the whole outage, or run out of retries, while "
               "waits that grow "
               "cover a long outage with few retries. The exercise asks for exponential "
               "backoff: a factor above 1 (2 is the default) and a cap above base.")
    return Verdict(False, f"Your waits never grow: {why}.{meets} {fix}")


def ex3(policy: Any) -> Verdict:
    """Check ``{"retries": n, "backoff": mq.backoff(...)}``: waits that grow (exponential
    backoff) up to a cap, every payment confirmed by 10 s, no more than 10 publishes in any
    0.1 s once the broker is back, and no more than 125 publishes in all, on 8 seeds."""
    if not_attempted(policy):
        return Verdict(None, "Fill in retries and backoff, then run this cell again.")
    if not isinstance(policy, dict) or set(policy) != {"retries", "backoff"}:
        return Verdict(False, "Give a dict with two keys, like the starter: "
                              "{'retries': 5, 'backoff': mq.backoff(0.5, cap=2.0)}; got "
                              f"{short(policy)}.")
    retries, wait = policy["retries"], policy["backoff"]
    if not_attempted(retries) or not_attempted(wait):
        return Verdict(None, "Replace each ... with your choice, then run this cell again.")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        return Verdict(False, f"retries is a whole number of retries, such as 6, not "
                              f"{short(retries)}.")
    if not isinstance(wait, Backoff):
        return Verdict(False, f"backoff must be made with mq.backoff(base, factor=2, cap=..., "
                              f"jitter=...), not {short(wait)}.")
    if retries == 0:
        return Verdict(False, "With no retries, every terminal gives up once its first try is "
                              "lost: the broker is down for the first 3 s.")
    if not _grows(retries, wait):
        return _constant(retries, wait)
    if wait.cap is None:
        return _no_cap(retries, wait)
    problem, publishes = _rules(retries, wait)
    if problem is not None:
        return problem
    h = HERD
    return Verdict(True, f"With {_policy(retries, wait)}: all {h['clients']} payments "
                         f"confirmed by {h['deadline']:g} s, no more than {h['herd_limit']} "
                         f"publishes in any 0.1 s, and {min(publishes)} to {max(publishes)} "
                         f"publishes in all, on {len(h['seeds'])} seeds. The backoff gives the "
                         f"broker room, the {wait.cap:g} s cap bounds each wait, and the "
                         "jitter spreads terminals that failed together.")


# -- exercise 4: choose the guarantee -------------------------------------------------------------

SCENARIOS = {
    "thermometer": "A thermometer publishes the room temperature every second to a dashboard "
                   "that shows the latest value.",
    "payment": "A shop sends each order's card payment to the bank, which charges the card.",
    "price": "A catalogue sends 'product 42 now costs 19.90' to a search index, which stores "
             "the latest price of each product (storing the same price twice changes "
             "nothing).",
}
"""Exercise 4's systems: for each, the cheapest guarantee that is good enough."""

_CHOICES = {"thermometer": "at-most-once", "payment": "effectively-once",
            "price": "at-least-once"}

_ALIASES = {"effectively-exactly-once": "effectively-once"}
"""Other names the lesson uses for a guarantee."""


def _spelt(choice: str) -> str:
    """A choice in the spelling of :data:`GUARANTEES`: lower case, hyphens, aliases."""
    name = "-".join(choice.strip().lower().replace("_", " ").replace("-", " ").split())
    return _ALIASES.get(name, name)

_WHY = {
    ("thermometer", "at-least-once"): "the thermometer: a lost reading is replaced by the "
        "next one a second later, so confirms, retries and acks buy nothing; at-most-once is "
        "enough.",
    ("thermometer", "effectively-once"): "the thermometer: a lost reading is replaced a second "
        "later and a repeated one shows the same value; a dedup store per reading costs much "
        "and buys nothing; at-most-once is enough.",
    ("payment", "at-most-once"): "the payment: at-most-once loses payments (section 3 lost "
        "dozens of 200): the shop ships orders nobody paid for.",
    ("payment", "at-least-once"): "the payment: at-least-once loses none but charges some "
        "twice (a crash between charging and the ack); charging a card is not idempotent, so "
        "the bank needs a dedup store: effectively-once.",
    ("price", "at-most-once"): "the price: a lost update leaves the old price in the index "
        "until the next change, which may never come; it must arrive: at-least-once.",
    ("price", "effectively-once"): "the price: storing the same price twice changes nothing, "
        "so the operation is already idempotent: at-least-once has the effect of exactly-once "
        "here, with no dedup store to keep.",
}


def ex4(choices: Any) -> Verdict:
    """Check a dict scenario -> "at-most-once" | "at-least-once" | "effectively-once"."""
    if not_attempted(choices):
        return Verdict(None, "Fill in your three choices, then run this cell again.")
    if not isinstance(choices, dict):
        return Verdict(False, f"Give a dict like the starter, {{'thermometer': ..., ...}}, not "
                              f"{short(choices)}.")
    missing = [k for k in SCENARIOS if k not in choices]
    if missing:
        return Verdict(False, f"Your dict has no choice for {missing[0]!r}: keep the keys "
                              f"{', '.join(map(repr, SCENARIOS))}.")
    if all(not_attempted(choices[k]) for k in SCENARIOS):
        return Verdict(None, "Replace each ... with a guarantee, then run this cell again.")
    hints = []
    for key in SCENARIOS:
        given = choices[key]
        if not_attempted(given):
            return Verdict(False, f"You have not chosen for {key!r} yet.")
        if isinstance(given, str) and _spelt(given) == "exactly-once":
            return Verdict(False, f"No system can promise exactly-once *delivery* over links "
                                  f"that lose and copy messages (section 3); the effect can "
                                  f"happen once. Choose one of "
                                  f"{', '.join(map(repr, GUARANTEES))} for {key!r}.")
        if not isinstance(given, str) or _spelt(given) not in GUARANTEES:
            return Verdict(False, f"Choose one of {', '.join(map(repr, GUARANTEES))} for "
                                  f"{key!r}, spelt as here; got {short(given)}.")
        given = _spelt(given)
        if given != _CHOICES[key]:
            hints.append(_WHY[(key, given)])
    if hints:
        return Verdict(False, "Look again at " + " And ".join(hints))
    return Verdict(True, "The cheapest guarantee that is good enough: at-most-once for "
                         "readings that the next one replaces, effectively-once for money, "
                         "at-least-once for an update that is idempotent by nature (watch the "
                         "order, though: an old price redelivered after a new one would win; "
                         "a version number in each update stops that).")
