"""The checks of lesson 03 accept the reference solutions and reject typical mistakes kindly."""

import heapq
import itertools
import time
from datetime import datetime
from time import perf_counter

import pytest
from solutions import lesson03 as solution
from verdicts import right, unattempted, wrong

from mqlab.checks import lesson03 as check


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


# -- exercise 1: a tiny priority queue on heapq ---------------------------------------------------
class Starter:  # the notebook's starter: put does nothing, get returns None
    def __init__(self):
        self.heap = []

    def put(self, item, priority):
        ...

    def get(self):
        ...


class MinHeap(solution.TinyPriorityQueue):  # forgot that heapq gives the smallest first
    def put(self, item, priority):
        heapq.heappush(self.heap, (priority, next(self.counter), item))


class NoCounter(solution.TinyPriorityQueue):  # ties fall through to the items (dicts)
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, item))

    def get(self):
        return heapq.heappop(self.heap)[1]


class NewestFirst(solution.TinyPriorityQueue):  # a counter that shrinks: LIFO among equals
    def __init__(self):
        super().__init__()
        self.counter = itertools.count(0, -1)


class Shared:  # the heap lives in the class: every queue shares it
    heap: list = []
    counter = itertools.count()

    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, next(self.counter), item))

    def get(self):
        return heapq.heappop(self.heap)[2]


class ReturnsEntry(solution.TinyPriorityQueue):  # hands back the heap entry, not the item
    def get(self):
        return heapq.heappop(self.heap)


class Broken(solution.TinyPriorityQueue):
    def __init__(self):
        raise RuntimeError("oops")


class Peeks(solution.TinyPriorityQueue):  # looks at the head but leaves it in the heap
    def get(self):
        return self.heap[0][2]


class SortedList:  # the right order, but no heap: the exercise asks for heapq
    def __init__(self):
        self.items, self.n = [], 0

    def put(self, item, priority):
        self.n += 1
        self.items.append((-priority, self.n, item))
        self.items.sort(key=lambda e: e[:2])

    def get(self):
        return self.items.pop(0)[2]


class Monotonic(solution.TinyPriorityQueue):  # ties settled by a clock: fine only if it is fine
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, time.monotonic(), item))


class PerfCounter(solution.TinyPriorityQueue):  # the same, with the name imported on its own
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, perf_counter(), item))


class WallClock(solution.TinyPriorityQueue):  # time.time(), with the time module as `time`
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, time.time(), item))


class WallClockDatetime(solution.TinyPriorityQueue):  # datetime.now(), as fine as the clock
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, datetime.now(), item))


class CoarseClock(solution.TinyPriorityQueue):  # a clock that ticks once a second: ties
    def put(self, item, priority):
        heapq.heappush(self.heap, (-priority, time.monotonic_ns() // 10**9, item))


class CounterNamedTime(solution.TinyPriorityQueue):  # a counter with a clock-like name is fine
    def __init__(self):
        super().__init__()
        self.time = 0

    def put(self, item, priority):
        self.time += 1
        heapq.heappush(self.heap, (-priority, self.time, item))


def test_ex1_accepts_the_reference():
    v = check.ex1(solution.TinyPriorityQueue)
    assert right(v)
    assert "heap of (-priority, arrival number, message)" in v.message


def test_ex1_accepts_a_counter_whatever_its_name():
    assert right(check.ex1(CounterNamedTime))


def test_ex1_a_get_that_only_peeks_is_told_to_remove_the_item():
    v = check.ex1(Peeks)
    assert wrong(v, "a second time", "must remove", "heappop")
    assert "oldest goes first" not in v.message  # not the tie-breaker hint


def test_ex1_refuses_a_sorted_list_without_heapq():
    v = check.ex1(SortedList)
    assert wrong(v, "order is right", "heapq", "O(log n)")
    assert "mq.PriorityQueue" not in v.message


@pytest.mark.parametrize("answer", [Monotonic, PerfCounter, WallClock,
                                    WallClockDatetime])
def test_ex1_refuses_a_clock_as_tie_breaker_even_when_this_clock_is_fine(answer):
    assert wrong(check.ex1(answer), "clock", "same time", "counter")


def test_ex1_a_coarse_clock_that_ties_gets_the_clock_hint():
    assert wrong(check.ex1(CoarseClock), "clock", "tick", "counter")


def test_ex1_starter_class_is_not_attempted():
    assert unattempted(check.ex1(Starter))


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (MinHeap, ["min-heap", "-priority"]),
        (NoCounter, ["counter between the priority and the item", "dicts"]),
        (NewestFirst, ["oldest goes first", "counter"]),
        (Shared, ["shared", "instance"]),
        (ReturnsEntry, ["must return the item"]),
        (Broken, ["RuntimeError", "oops"]),
    ],
)
def test_ex1_rejects_typical_mistakes_with_the_right_hint(answer, words):
    assert wrong(check.ex1(answer), *words)


def test_ex1_an_instance_instead_of_the_class_gets_a_hint():
    assert wrong(check.ex1(solution.TinyPriorityQueue()), "without calling it")


# -- exercise 2: the prediction -------------------------------------------------------------------
def test_ex2_accepts_the_right_prediction_in_any_case():
    assert right(check.ex2(solution.PREDICTION))
    assert right(check.ex2(("E", "A", "C")))


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        # evicted the lowest: the three highest priorities, in any order
        (["b", "f", "d"], ["drop-lowest", "highest"]),
        (["f", "b", "d"], ["drop-lowest", "highest"]),
        (["b", "d", "f"], ["drop-lowest", "highest"]),
        (["f", "a", "c"], ["dropped the head first"]),  # head out before the new one in
        (["a", "c", "f"], ["dropped the head first"]),
        # dropped the oldest, as a FIFO queue does: the three newest
        (["f", "d", "e"], ["kept the three newest", "FIFO max-length"]),
        (["d", "e", "f"], ["kept the three newest", "FIFO max-length"]),
        (["b", "a", "c"], ["reject-publish"]),  # refused the new ones
        (["a", "b", "c"], ["reject-publish"]),
        (["a", "c", "e"], ["head first"]),  # right set, arrival order
        (["c", "e", "a"], ["head first"]),  # right set, some other order
        (["a", "a", "c"], ["twice"]),
        (["a", "b", "c", "d"], ["exactly 3"]),
        (["a", "b", "z"], ["'z' is not one of the messages"]),
        ("eac", ["list of names"]),
        (["a", "b", "d"], ["message by message"]),
    ],
)
def test_ex2_rejects_typical_mistakes_with_the_right_hint(answer, words):
    v = check.ex2(answer)
    assert wrong(v, *words)
    assert repr(v).count("Not yet") == 1  # the verdict's mark, not repeated by the hint


def test_ex2_the_stated_answer_is_what_the_queue_does():
    import mqlab as mq

    q = mq.PriorityQueue(capacity=check.CAPACITY, overflow="drop-head",
                         max_priority=check.MAX_PRIORITY)
    for name, p in check.ARRIVALS:
        q.put(mq.Message(name, priority=p))
    assert [m.payload for m in q] == solution.PREDICTION


# -- exercise 3: choosing a queue -----------------------------------------------------------------
def test_ex3_accepts_the_reference():
    assert right(check.ex3(solution.CHOICES))
    assert right(check.ex3({k: list(v) for k, v in solution.CHOICES.items()}))


def with_choice(**changes):
    return {**solution.CHOICES, **changes}


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (with_choice(dashboard=("fifo", "block")), ["4 of 5", "dashboard", "sensor wait", "R2"]),
        (with_choice(dashboard=("fifo", "reject-publish")), ["dashboard", "newest", "R1"]),
        (with_choice(payments=("fifo", "drop-head")), ["payments", "R1"]),
        (with_choice(payments=("fifo", "reject-publish")),
         ["payments", "cannot keep a refused payment", "R2", "block"]),
        (with_choice(booking=("fifo", "block")), ["booking", "hangs", "R2"]),
        (with_choice(booking=("fifo", "drop-head")), ["booking", "nobody tells the app"]),
        (with_choice(support=("priority", "block")), ["support", "starve", "R2"]),
        (with_choice(support=("fifo", "block")), ["support", "VIP", "R1"]),
        (with_choice(support=("priority+aging", "drop-head")),
         ["support", "throws a ticket away", "R3"]),
        (with_choice(support=("priority+aging", "reject-publish")),
         ["support", "refuses a ticket", "R3"]),
        (with_choice(delivery=("sorted", "drop-head")), ["delivery", "earliest", "R3"]),
        (with_choice(delivery=("priority", "drop-lowest")), ["delivery", "balanced-tree"]),
        (with_choice(delivery=("sorted", "reject-publish")),
         ["delivery", "turns away the new job", "most urgent"]),
        (with_choice(delivery=("sorted", "block")),
         ["delivery", "gives up no job", "publisher wait", "drop-lowest"]),
        (with_choice(delivery=("tree", "drop-lowest")), ["kind 'tree' is not one of"]),
        (with_choice(delivery="sorted"), ["pair (kind, overflow)"]),
        (with_choice(delivery=...), ["Still to answer: delivery"]),
        ({"dashboard": ("fifo", "drop-head")}, ["lacks payments"]),
        ([("fifo", "block")], ["Pass a dict"]),
    ],
)
def test_ex3_rejects_choices_that_break_a_requirement_naming_it(answer, words):
    assert wrong(check.ex3(answer), *words)


def test_ex3_the_starter_dict_is_not_attempted():
    assert unattempted(check.ex3(dict.fromkeys(check.SCENARIOS, ...)))


def test_ex3_block_is_never_said_to_turn_a_job_away():
    v = check.ex3(with_choice(delivery=("sorted", "block")))
    assert "turns away" not in v.message


@pytest.mark.parametrize("scenario", list(check.SCENARIOS))
def test_ex3_exactly_one_choice_meets_each_scenario(scenario):
    fits = []
    for kind in check.KINDS:
        for overflow in check.OVERFLOWS:
            if right(check.ex3(with_choice(**{scenario: (kind, overflow)}))):
                fits.append((kind, overflow))
    assert fits == [solution.CHOICES[scenario]]


def test_ex3_the_scenarios_state_what_rules_out_refusing():
    # the hints for reject-publish point at these requirements: they must be in the text
    assert "cannot keep a refused payment" in check.SCENARIOS["payments"]
    assert "lost or refused" in check.SCENARIOS["support"]
