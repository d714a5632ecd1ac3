"""Checks for lesson 03, "Queue types".

    from mqlab.checks import lesson03 as check
    check.ex1(TinyPriorityQueue)   # a priority queue on heapq: highest first, FIFO among equals
    check.ex2(my_prediction)       # predict what is left in a full drop-head priority queue
    check.ex3(my_choices)          # choose a queue kind and overflow policy for each scenario

Each check returns a :class:`~mqlab.checks.Verdict`: truthy when right, and a hint when not.
"""

from __future__ import annotations

import builtins
import dis
import random
import types
from typing import Any

from mqlab.checks import Verdict, code_objects, not_attempted, short

__all__ = ["ARRIVALS", "CAPACITY", "KINDS", "MAX_PRIORITY", "OVERFLOWS", "SCENARIOS",
           "ex1", "ex2", "ex3"]


# -- exercise 1: a tiny priority queue on heapq ---------------------------------------------------

_SEEDS = (1, 2, 3, 4)


def _script(seed: int) -> list[tuple]:
    """Operations: ("put", order number, priority) or ("get",); more puts than gets."""
    rng = random.Random(seed)
    ops, size, n = [], 0, 0
    for _ in range(40):
        if size and rng.random() < 0.4:
            ops.append(("get",))
            size -= 1
        else:
            n += 1
            ops.append(("put", n, rng.choice([0, 1, 1, 2, 5, 5, 9])))
            size += 1
    ops += [("get",)] * size
    return ops


def _expected(ops: list[tuple]) -> list[int]:
    """The order numbers the gets must return (a plain list: obviously right, if slow)."""
    waiting: list[tuple[int, int]] = []  # (priority, number) in arrival order
    out = []
    for op in ops:
        if op[0] == "put":
            waiting.append((op[2], op[1]))
        else:
            best = max(range(len(waiting)), key=lambda i: (waiting[i][0], -i))
            out.append(waiting.pop(best)[1])
    return out


# what a tie-breaker read from a clock uses: the time and datetime modules, or their clocks
_CLOCK_MODULES = frozenset({"time", "datetime"})
_CLOCK_FUNCTIONS = frozenset({"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                              "time", "time_ns", "process_time", "process_time_ns"})
_HEAP_FUNCTIONS = frozenset({"heappush", "heappop", "heappushpop", "heapreplace", "heapify"})

_CLOCK_HINT = ("Your tie-breaker is read from a clock. Two puts within one tick of the clock get "
               "the same time (time.monotonic ticks only every 15.6 ms on Windows, for "
               "example), and then the tie falls through to the items: dicts cannot be "
               "compared, and even comparable items would come out in the wrong order. The "
               "tie-breaker must be different for every put on any machine: use a counter, "
               "n = next(self.counter) with self.counter = itertools.count().")


def _functions(cls: type) -> list:
    """The plain functions behind the class's methods (its own and inherited, not object's)."""
    found = []
    for klass in cls.__mro__:
        if klass is object:
            continue
        for member in vars(klass).values():
            fn = member.fget if isinstance(member, property) else getattr(member, "__func__",
                                                                          member)
            if isinstance(getattr(fn, "__code__", None), types.CodeType):
                found.append(fn)
    return found


def _is_clock(value: Any) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__ in _CLOCK_MODULES
    if isinstance(value, type):  # datetime.datetime, datetime.date
        return value.__module__ == "datetime"
    return (getattr(value, "__module__", None) == "time"
            and getattr(value, "__name__", "") in _CLOCK_FUNCTIONS)


def _reads_a_clock(cls: type) -> bool:
    """Whether the class's code reads a global that is a clock: ``time.monotonic()``,
    ``perf_counter()`` imported from time, ``datetime.now()``... (not ``self.time``)."""
    for fn in _functions(cls):
        space = getattr(fn, "__globals__", {})
        for code in code_objects(fn):
            for ins in dis.get_instructions(code):
                if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and _is_clock(
                        space.get(ins.argval, getattr(builtins, str(ins.argval), None))):
                    return True
    return False


def _uses_heapq(cls: type) -> bool:
    return any(set(code.co_names) & _HEAP_FUNCTIONS
               for fn in _functions(cls) for code in code_objects(fn))


def _run_student(cls: type, ops: list[tuple]) -> tuple[list | None, Verdict | None]:
    """Play ``ops`` on a new queue; items are dicts (which cannot be compared with <)."""
    try:
        q = cls()
    except Exception as exc:  # noqa: BLE001 - a mistake in the answer is reported, not raised
        return None, Verdict(False, f"Making a queue, TinyPriorityQueue(), raised "
                                    f"{type(exc).__name__}: {exc}")
    got, priority = [], {}
    for op in ops:
        try:
            if op[0] == "put":
                priority[op[1]] = op[2]
                q.put({"order": op[1]}, op[2])
            else:
                item = q.get()
                if not_attempted(item) or not isinstance(item, dict) or "order" not in item:
                    return got + [item], None
                got.append(item["order"])
        except TypeError as exc:
            if "'<' not supported" in str(exc) and "dict" in str(exc):
                if _reads_a_clock(cls):
                    return None, Verdict(False, _CLOCK_HINT)
                return None, Verdict(False, "Two entries with the same priority were compared "
                                            "by their items, and items (here dicts) cannot be "
                                            "compared with <. Put a counter between the "
                                            "priority and the item, (-priority, n, item), so "
                                            "that a tie is settled before the item is reached.")
            return None, Verdict(False, f"Your queue raised TypeError: {exc}")
        except Exception as exc:  # noqa: BLE001
            return None, Verdict(False, f"Your queue raised {type(exc).__name__}: {exc}")
    return got, None


def ex1(cls: Any) -> Verdict:
    """Check a class with ``put(item, priority)`` and ``get()``: higher priority first, FIFO
    among equal priorities, each instance its own queue."""
    if not_attempted(cls):
        return Verdict(None, "Write TinyPriorityQueue, then run this cell again.")
    if not isinstance(cls, type):
        return Verdict(False, f"Pass the class itself, without calling it: "
                              f"check.ex1(TinyPriorityQueue), not check.ex1(TinyPriorityQueue()). "
                              f"You passed {short(cls)}.")
    for k, seed in enumerate(_SEEDS):
        ops = _script(seed)
        got, problem = _run_student(cls, ops)
        if problem is not None:
            return problem
        want = _expected(ops)
        if got == want:
            continue
        i = next(j for j, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
        g = got[i]
        if not_attempted(g):
            if k == 0 and i == 0:
                return Verdict(None, "get() returned None: write put and get, and don't forget "
                                     "`return` in get.")
            return Verdict(False, "get() returned None while messages were waiting. Don't "
                                  "forget `return`.")
        if not isinstance(g, int):
            return Verdict(False, f"get() must return the item that was put in (here a dict "
                                  f"such as {{'order': 1}}), not {short(g)}.")
        if g in got[:i]:
            return Verdict(False, f"get() returned order {g} a second time: it looked at the "
                                  "head without taking it out. get must remove the item it "
                                  "returns: heapq.heappop(self.heap), not self.heap[0].")
        pr = {op[1]: op[2] for op in ops if op[0] == "put"}
        waiting = _waiting_before(ops, i)
        if pr[g] < pr[want[i]]:
            if pr[g] == min(pr[m] for m in waiting):
                return Verdict(False, "The lowest priority came out first. heapq is a min-heap: "
                                      "it always gives back the smallest entry. Push -priority "
                                      "so that the highest priority is the smallest.")
            return Verdict(False, f"A message of priority {pr[g]} came out while one of "
                                  f"priority {pr[want[i]]} was waiting.")
        if pr[g] == pr[want[i]]:
            return Verdict(False, f"Two messages of priority {pr[g]}: order {want[i]} arrived "
                                  f"first but order {g} came out first. Among equal priorities "
                                  "the oldest goes first: add a counter that grows with each "
                                  "put, (-priority, n, item), and make sure it grows (n = "
                                  "next(self.counter)), not shrinks.")
        if g not in waiting:
            return Verdict(False, "get() returned a message put into another queue. Keep the "
                                  "heap in the instance (self.heap = [] in __init__), not in "
                                  "the class, so each queue has its own.")
        return Verdict(False, f"get() returned order {g}, but order {want[i]} should have "
                              "come out (higher priority first, oldest first among equals).")
    # two queues at once must not share their contents
    a, b = cls(), cls()
    try:
        a.put({"order": 1}, 1)
        b.put({"order": 2}, 9)
        first = a.get()
    except Exception as exc:  # noqa: BLE001
        return Verdict(False, f"Your queue raised {type(exc).__name__}: {exc}")
    if first != {"order": 1}:
        return Verdict(False, "Two queues shared their messages: a message put into one queue "
                              "came out of another. Keep the heap in the instance (self.heap = "
                              "[] in __init__), not in the class.")
    if _reads_a_clock(cls):
        return Verdict(False, "The order came out right on this computer, but only because its "
                              "clock happens to tick finely enough. " + _CLOCK_HINT)
    if not _uses_heapq(cls):
        return Verdict(False, "The order is right, but the exercise asks for a heap: put and "
                              "get do not call heapq. Keeping a list sorted costs O(n) or more "
                              "per put (pop(0) costs O(n) too); heapq.heappush and "
                              "heapq.heappop cost O(log n). Store (-priority, n, item) with "
                              "heappush in put and take it out with heappop in get.")
    return Verdict(True, f"Highest priority first and FIFO among equals, on {len(_SEEDS)} "
                         "scripts of puts and gets. mq.PriorityQueue stores its messages the "
                         "same way: a heap of (-priority, arrival number, message).")


def _waiting_before(ops: list[tuple], get_index: int) -> list[int]:
    """The order numbers waiting just before the ``get_index``-th get (reference order)."""
    waiting: list[tuple[int, int]] = []
    gets = 0
    for op in ops:
        if op[0] == "put":
            waiting.append((op[2], op[1]))
        else:
            if gets == get_index:
                return [n for _, n in waiting]
            best = max(range(len(waiting)), key=lambda i: (waiting[i][0], -i))
            waiting.pop(best)
            gets += 1
    return [n for _, n in waiting]


# -- exercise 2: predict what a full drop-head priority queue keeps -------------------------------

#: (name, priority) in the order they are published
ARRIVALS = [("a", 2), ("b", 5), ("c", 1), ("d", 4), ("e", 3), ("f", 9)]
CAPACITY = 3
MAX_PRIORITY = 5

_ANSWER = ["e", "a", "c"]
# a wrong set of three survivors, in any order -> the policy the student applied instead
_PREDICTION_MISTAKES = [
    ({"b", "d", "f"}, "You kept the three highest priorities, as if the lowest were dropped "
                      "each time: that is drop-lowest. drop-head drops the head, the next "
                      "message to be delivered, and in a priority queue the head is the "
                      "*highest* priority."),
    ({"a", "c", "f"}, "You dropped the head first and then let the new message in. RabbitMQ "
                      "(and mqlab) do it the other way round: the new message goes in, then "
                      "the head is dropped. So f, the highest priority, was itself the head."),
    ({"d", "e", "f"}, "You kept the three newest and dropped the oldest each time, as a FIFO "
                      "max-length queue does. In a priority queue the head, which drop-head "
                      "drops, is the highest priority, not the oldest."),
    ({"a", "b", "c"}, "You kept the first three and refused the rest: that is reject-publish. "
                      "drop-head lets each new message in and drops the head."),
]


def ex2(prediction: Any) -> Verdict:
    """Check a predicted content of the queue at the end, head first, as a list of names."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction (a list of names, head first), then run "
                             "this cell again.")
    if not isinstance(prediction, (list, tuple)) or not all(
            isinstance(x, str) for x in prediction):
        return Verdict(False, f"Give a list of names in quotes, head first, such as "
                              f"['x', 'y', 'z'], not {short(prediction)}.")
    got = [x.strip().lower() for x in prediction]
    names = {n for n, _ in ARRIVALS}
    unknown = [x for x in got if x not in names]
    if unknown:
        return Verdict(False, f"{', '.join(map(repr, unknown))} is not one of the messages "
                              f"({', '.join(sorted(names))}).")
    if len(got) != CAPACITY:
        return Verdict(False, f"The queue is full at the end: it holds exactly {CAPACITY} "
                              f"messages, and you listed {len(got)}.")
    if len(set(got)) != len(got):
        return Verdict(False, "You listed a message twice: each message is in the queue at "
                              "most once.")
    if got == _ANSWER:
        return Verdict(True, "e, a, c: b, d and f were dropped, each as the head when a new "
                             "message came in. Run the next cell to watch it happen.")
    for wrong, hint in _PREDICTION_MISTAKES:
        if set(got) == wrong:
            return Verdict(False, hint)
    if sorted(got) == sorted(_ANSWER):
        return Verdict(False, "The right three messages, but list them head first: highest "
                              "priority first.")
    return Verdict(False, "Go message by message: put it in, and if the queue now holds "
                          f"{CAPACITY + 1}, drop the head (the highest priority, oldest among "
                          f"equals). Remember that {MAX_PRIORITY} is the highest priority that "
                          "counts.")


# -- exercise 3: choose the queue and the overflow policy -----------------------------------------

KINDS = ("fifo", "priority", "priority+aging", "sorted")
OVERFLOWS = ("drop-head", "drop-lowest", "reject-publish", "block")

#: scenario -> what is asked of it (shown in the lesson)
SCENARIOS = {
    "dashboard": "Live dashboard of temperature readings. R1: the newest readings matter, old "
                 "ones may be thrown away. R2: the sensor must never be slowed down. "
                 "R3: readings are shown in the order they were measured.",
    "payments": "Payment orders from a web shop. R1: no payment may be lost. R2: the shop "
                "cannot keep a refused payment to send it again later, but its server may "
                "wait a little when the system is busy. R3: payments are handled in the "
                "order they were made.",
    "booking": "Ticket bookings from a phone app. R1: when the system is overloaded, the app "
               "must be told at once, so that it can show 'busy, try again'. R2: the app must "
               "never hang waiting. R3: first come, first served.",
    "support": "Support tickets. R1: tickets of VIP customers first. R2: an ordinary ticket "
               "must not wait for ever, even on a busy day. R3: no ticket may be lost or "
               "refused; the web form may wait when the queue is full.",
    "delivery": "Delivery jobs, each with a deadline. R1: the job with the earliest deadline "
                "goes first. R2: a customer may cancel a waiting job. R3: when the queue is "
                "full, give up the job with the latest deadline, never a more urgent one.",
}


def _dashboard(kind: str, overflow: str) -> str | None:
    if overflow == "block":
        return "block makes the sensor wait when the queue is full (R2)."
    if overflow == "reject-publish":
        return "reject-publish throws the newest reading away and keeps the old ones (R1)."
    if overflow == "drop-lowest" and kind == "fifo":
        return "in a FIFO queue drop-lowest drops the newest reading, the tail (R1)."
    if kind != "fifo":
        return ("readings have no priority or deadline: a FIFO queue keeps them in the order "
                "they were measured (R3), at O(1) per message.")
    return None


def _payments(kind: str, overflow: str) -> str | None:
    if overflow in ("drop-head", "drop-lowest"):
        return f"{overflow} throws a payment away when the queue is full (R1)."
    if overflow == "reject-publish":
        return ("reject-publish refuses payments when the queue is full, and the shop cannot "
                "keep a refused payment to send it again (R2): it would be lost (R1). The "
                "shop may wait instead: block.")
    if kind != "fifo":
        return "payments have no priority: a FIFO queue keeps the order they were made (R3)."
    return None


def _booking(kind: str, overflow: str) -> str | None:
    if overflow == "block":
        return "block makes the app wait until there is room: it hangs (R2)."
    if overflow in ("drop-head", "drop-lowest"):
        return (f"{overflow} drops a booking that was accepted, and nobody tells the app (R1): "
                "only reject-publish answers 'no' at once.")
    if kind != "fifo":
        return "first come, first served is FIFO (R3)."
    return None


def _support(kind: str, overflow: str) -> str | None:
    if kind == "fifo":
        return "a FIFO queue cannot serve VIP tickets first (R1)."
    if kind == "priority":
        return ("without aging, on a busy day VIP tickets keep coming and ordinary tickets can "
                "starve (R2). Aging raises a waiting ticket's priority over time.")
    if kind == "sorted":
        return ("a sorted queue orders by a key such as a deadline; here the tickets have "
                "priorities, and R2 asks for aging: priority+aging.")
    if overflow == "reject-publish":
        return ("reject-publish refuses a ticket when the queue is full (R3); the form may "
                "wait: block.")
    if overflow != "block":
        return (f"{overflow} throws a ticket away when the queue is full (R3); the form may "
                "wait: block.")
    return None


def _delivery(kind: str, overflow: str) -> str | None:
    if kind != "sorted":
        return ("only the balanced-tree queue (sorted) orders jobs by their deadline (R1) and "
                "cancels one by its id in O(log n) (R2).")
    if overflow == "drop-head":
        return "drop-head drops the head, the job with the *earliest* deadline (R3)."
    if overflow == "reject-publish":
        return ("reject-publish turns away the new job even when it is the most urgent one "
                "(R3); drop-lowest gives up the latest deadline instead.")
    if overflow == "block":
        return ("block gives up no job: it makes the publisher wait, so a new, urgent job "
                "waits outside the queue while jobs with later deadlines sit inside it. R3 "
                "asks to give up the latest deadline: drop-lowest.")
    return None


_RULES = {"dashboard": _dashboard, "payments": _payments, "booking": _booking,
          "support": _support, "delivery": _delivery}


def ex3(choices: Any) -> Verdict:
    """Check ``{scenario: (kind, overflow)}`` against each scenario's requirements."""
    if not_attempted(choices):
        return Verdict(None, "Fill in the dict, then run this cell again.")
    if not isinstance(choices, dict):
        return Verdict(False, f"Pass a dict {{scenario: (kind, overflow)}}, not "
                              f"{short(choices)}.")
    if all(not_attempted(v) for v in choices.values()):
        return Verdict(None, "Replace each ... with a (kind, overflow) pair, then run this cell "
                             "again.")
    missing = [s for s in SCENARIOS if s not in choices]
    if missing:
        return Verdict(False, "The dict lacks " + ", ".join(missing) + ". Keep every key of the "
                              "starter dict.")
    lines, right, todo = [], 0, []
    for name, rule in _RULES.items():
        choice = choices[name]
        if not_attempted(choice):
            todo.append(name)
            continue
        if (not isinstance(choice, (tuple, list)) or len(choice) != 2
                or not all(isinstance(x, str) for x in choice)):
            lines.append(f"{name}: give a pair (kind, overflow), such as ('fifo', 'block'), "
                         f"not {short(choice)}.")
            continue
        kind, overflow = (x.strip().lower() for x in choice)
        if kind not in KINDS:
            lines.append(f"{name}: kind {kind!r} is not one of {', '.join(KINDS)}.")
            continue
        if overflow not in OVERFLOWS:
            lines.append(f"{name}: overflow {overflow!r} is not one of {', '.join(OVERFLOWS)}.")
            continue
        problem = rule(kind, overflow)
        if problem is None:
            right += 1
        else:
            lines.append(f"{name}: {problem}")
    if right == len(SCENARIOS):
        return Verdict(True, "Each choice meets every requirement of its scenario.")
    head = f"{right} of {len(SCENARIOS)} meet their requirements."
    if todo:
        lines.append("Still to answer: " + ", ".join(todo) + ".")
    return Verdict(False, head + "\n" + "\n".join(lines))
