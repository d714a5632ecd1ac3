"""The checks of lesson 01 accept the reference solutions and reject typical mistakes kindly.

Every wrong answer here runs in the check's daemon threads with timeouts: a hanging answer is
reported, and never hangs the test suite.
"""

import threading
import time
from collections import deque

import pytest
from solutions import lesson01 as solution

from mqlab.checks import Verdict
from mqlab.checks import lesson01 as check


def right(v: Verdict) -> bool:
    return isinstance(v, Verdict) and v.ok is True and bool(v)


def wrong(v: Verdict, *words: str) -> bool:
    """A rejection whose hint mentions every one of ``words``."""
    return (isinstance(v, Verdict) and v.ok is False and not v
            and all(w in v.message for w in words))


def unattempted(v: Verdict) -> bool:
    return isinstance(v, Verdict) and v.ok is None and not v and "Not attempted" in repr(v)


# -- the starters ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


def starter_consume(q, done):
    ...


def starter_deposit(account, amount, lock, pause):
    ...


class StarterBuffer:
    def __init__(self, capacity, condition):
        self.capacity = capacity
        self.items = deque()
        self.condition = condition

    def put(self, item):
        ...

    def get(self):
        ...


@pytest.mark.parametrize(("ex", "starter"), [(check.ex1, starter_consume),
                                             (check.ex3, starter_deposit),
                                             (check.ex4, StarterBuffer)])
def test_the_notebook_starters_are_not_attempted(ex, starter):
    assert unattempted(ex(starter))


# -- exercise 1: the sentinel ----------------------------------------------------------------------
def test_ex1_accepts_the_reference_and_a_walrus_loop():
    assert right(check.ex1(solution.consume))

    def walrus(q, done):
        while (order := q.get()) is not None:
            done.append(order)

    assert right(check.ex1(walrus))


def forgot_the_sentinel(q, done):
    while True:
        done.append(q.get())


def stops_at_falsy(q, done):
    while order := q.get():
        done.append(order)


def stops_when_empty(q, done):
    while not q.empty():
        done.append(q.get())


def processes_the_sentinel(q, done):
    while True:
        order = q.get()
        done.append(order)
        if order is None:
            return


@pytest.mark.parametrize(("answer", "hint"), [
    (forgot_the_sentinel, "never ends"),
    (stops_at_falsy, "falsy"),
    (stops_when_empty, "empty queue does not mean"),
    (processes_the_sentinel, "processed the sentinel"),
    (lambda q, done: done.append(q.get()["id"]), "raised TypeError"),
])
def test_ex1_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    t0 = time.monotonic()
    assert wrong(check.ex1(answer), hint)
    assert time.monotonic() - t0 < 10  # a hanging answer does not hang the check


def test_ex1_leaves_no_busy_thread_behind_but_daemons():
    check.ex1(forgot_the_sentinel)
    assert all(t.daemon for t in threading.enumerate() if t is not threading.main_thread()
               and t.name.startswith("consumer"))


def test_ex1_function_called_by_mistake():
    assert wrong(check.ex1(42), "without calling it")


# -- exercise 2: the prediction -------------------------------------------------------------------
def test_ex2_accepts_the_prediction_and_it_matches_the_real_race():
    assert right(check.ex2(solution.PREDICTION))

    def racy(account, amount, lock, pause):
        balance = account["balance"]
        pause()
        account["balance"] = balance + amount

    results = {check.forced_race(racy)[0] for _ in range(20)}  # every run loses updates
    assert results == {solution.PREDICTION}


@pytest.mark.parametrize(("answer", "hint"), [
    (100, "add up"), (5, "*lost*"), (10, "started again from 0"), (0, "does grow"),
    (70, "Follow one round"), ("fifty", "number of euros"),
])
def test_ex2_rejects_wrong_predictions_with_a_hint(answer, hint):
    assert wrong(check.ex2(answer), hint)


# -- exercise 3: the lock ------------------------------------------------------------------------
def test_ex3_accepts_the_reference_and_acquire_release_in_try_finally():
    assert right(check.ex3(solution.deposit))

    def explicit(account, amount, lock, pause):
        lock.acquire()
        try:
            balance = account["balance"]
            pause()
            account["balance"] = balance + amount
        finally:
            lock.release()

    assert right(check.ex3(explicit))


def no_lock(account, amount, lock, pause):
    balance = account["balance"]
    pause()
    account["balance"] = balance + amount


def own_lock(account, amount, lock, pause):
    with threading.Lock():  # a new lock each call: protects nothing
        balance = account["balance"]
        pause()
        account["balance"] = balance + amount


def lock_around_write(account, amount, lock, pause):
    balance = account["balance"]
    pause()
    with lock:
        account["balance"] = balance + amount


def lock_twice(account, amount, lock, pause):
    with lock:
        balance = account["balance"]
    pause()
    with lock:
        account["balance"] = balance + amount


def no_pause(account, amount, lock, pause):
    account["balance"] += amount


def never_released(account, amount, lock, pause):
    lock.acquire()
    balance = account["balance"]
    pause()
    account["balance"] = balance + amount


@pytest.mark.parametrize(("answer", "hint"), [
    (no_lock, "never taken"),
    (own_lock, "A lock made inside the function"),
    (lock_around_write, "read, the pause *and* the write"),
    (lock_twice, "one `with lock:` block"),
    (no_pause, "Keep `pause()`"),
    (never_released, "stuck"),
    (lambda account, amount, lock, pause: account["balanc"], "KeyError"),
])
def test_ex3_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex3(answer), hint)


# -- exercise 4: the bounded buffer ----------------------------------------------------------------
class Base(solution.BoundedBuffer):
    pass


class BusyWaiting(Base):
    def get(self):
        while not self.items:
            time.sleep(0.001)  # polls instead of waiting to be notified
        with self.condition:
            item = self.items.popleft()
            self.condition.notify_all()
            return item


class Polling(Base):
    def get(self):
        with self.condition:
            while not self.items:
                self.condition.wait(timeout=0.005)
            item = self.items.popleft()
            self.condition.notify_all()
            return item


class NoNotifyInPut(Base):
    def put(self, item):
        with self.condition:
            while len(self.items) >= self.capacity:
                self.condition.wait()
            self.items.append(item)


class IfNotWhile(Base):
    def get(self):
        with self.condition:
            if not self.items:
                self.condition.wait()
            item = self.items.popleft()
            self.condition.notify_all()
            return item


class NoCapacityCheck(Base):
    def put(self, item):
        with self.condition:
            self.items.append(item)
            self.condition.notify_all()


class NewestFirst(Base):
    def get(self):
        with self.condition:
            while not self.items:
                self.condition.wait()
            item = self.items.pop()
            self.condition.notify_all()
            return item


class NoItems(Base):
    def __init__(self, capacity, condition):
        super().__init__(capacity, condition)
        del self.items
        self.queue = deque()


def test_ex4_accepts_the_reference_and_a_list_with_wait_for():
    assert right(check.ex4(solution.BoundedBuffer))

    class WithList:
        def __init__(self, capacity, condition):
            self.capacity, self.items, self.condition = capacity, [], condition

        def put(self, item):
            with self.condition:
                self.condition.wait_for(lambda: len(self.items) < self.capacity)
                self.items.append(item)
                self.condition.notify_all()

        def get(self):
            with self.condition:
                self.condition.wait_for(lambda: self.items)
                item = self.items.pop(0)
                self.condition.notify_all()
                return item

    assert right(check.ex4(WithList))


@pytest.mark.parametrize(("answer", "hint"), [
    (BusyWaiting, "busy-waiting"),
    (Polling, "polls"),
    (NoNotifyInPut, "never woke up"),
    (IfNotWhile, "`while` loop"),
    (NoCapacityCheck, "did not wait"),
    (NewestFirst, "first in, first out"),
    (NoItems, "self.items"),
])
def test_ex4_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    t0 = time.monotonic()
    assert wrong(check.ex4(answer), hint)
    assert time.monotonic() - t0 < 10


def test_ex4_wants_the_class():
    assert wrong(check.ex4(solution.BoundedBuffer(2, None)), "Pass the class itself")
