"""The checks of lesson 01 accept the reference solutions and reject typical mistakes kindly.

Every wrong answer here runs in the check's daemon threads with timeouts: a hanging answer is
reported, and never hangs the test suite.
"""

import queue
import threading
import time
from collections import deque

import pytest
from solutions import lesson01 as solution
from verdicts import right, unattempted, wrong

from mqlab.checks import lesson01 as check


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


def stops_on_timeout(seconds):
    def consume(q, done):
        while True:
            try:
                order = q.get(timeout=seconds)
            except queue.Empty:  # "nothing came for a while: there are no more orders"
                return
            if order is None:
                return
            done.append(order)

    return consume


def stops_on_get_nowait(q, done):
    while True:
        try:
            order = q.get_nowait()
        except queue.Empty:
            break
        if order is None:
            break
        done.append(order)


def takes_one_only(q, done):
    order = q.get()
    if order is not None:
        done.append(order)


def three_orders(q, done):  # as many orders as the first case has
    for _ in range(3):
        done.append(q.get())


orders = queue.Queue()  # a global queue, as in the notebook, that a wrong answer takes from


def takes_from_the_global(q, done):
    while (order := orders.get()) is not None:
        done.append(order)


def test_ex1_accepts_a_timeout_that_goes_round_the_loop_again():
    def patient(q, done):
        while True:
            try:
                order = q.get(timeout=0.05)
            except queue.Empty:
                continue  # nothing yet: that is not the end
            if order is None:
                return
            done.append(order)

    assert right(check.ex1(patient))


@pytest.mark.parametrize(("answer", "hint"), [
    (forgot_the_sentinel, "never ends"),
    (stops_at_falsy, "falsy"),
    (stops_when_empty, "Don't test `q.empty()`"),
    (processes_the_sentinel, "processed the sentinel"),
    (lambda q, done: done.append(q.get()["id"]), "raised TypeError"),
    (stops_on_timeout(0.01), "`q.get(timeout=...)` ran out of time"),
    (stops_on_timeout(0.1), "`q.get(timeout=...)` ran out of time"),
    (stops_on_timeout(0.3), "`q.get(timeout=...)` ran out of time"),
    (stops_on_timeout(5.0), "`q.get(timeout=...)` ran out of time"),
    (stops_on_get_nowait, "`q.get_nowait()`"),
    (takes_one_only, "took one order only"),
    (lambda q, done: done.append(q.get()), "took one order only"),
    (three_orders, "stopped too soon"),
])
def test_ex1_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    t0 = time.monotonic()
    assert wrong(check.ex1(answer), hint)
    assert time.monotonic() - t0 < 10  # a hanging answer does not hang the check


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.3, 1.0])
def test_ex1_an_empty_queue_for_a_while_is_not_the_end(seconds):
    v = check.ex1(stops_on_timeout(seconds))
    assert wrong(v, "raised `queue.Empty`", "does not mean 'no more orders'")
    assert "empty()" not in v.message  # the hint is about the timeout, not about q.empty()


def consumer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("consumer")]


def test_ex1_lets_a_thread_that_never_ends_go():
    before = len(consumer_threads())
    assert wrong(check.ex1(forgot_the_sentinel), "never ends")
    assert len(consumer_threads()) == before  # it was waiting in the check's queue: let out


def test_ex1_a_global_queue_is_named_and_its_thread_let_go():
    before = len(consumer_threads())
    v = check.ex1(takes_from_the_global)
    assert wrong(v, "never returned", "never took anything from the queue `q`",
                 "the global queue `orders`", "to let your thread go")
    assert not unattempted(v)
    assert len(consumer_threads()) == before  # the sentinel put into `orders` freed it
    assert orders.qsize() == 0  # ... and the thread took it: the global queue is as it was


def test_ex1_says_when_a_thread_is_still_stuck():
    def keeps_taking_from_the_global(q, done):
        while (order := orders.get()) != "stop the test":  # the check's None does not stop it
            done.append(order)

    v = check.ex1(keeps_taking_from_the_global)
    assert wrong(v, "the global queue `orders`", "still running", "restart the kernel")
    orders.put("stop the test")


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


def adds_ten(account, amount, lock, pause):
    with lock:
        balance = account["balance"]
        pause()
        account["balance"] = balance + 10  # the amount of the lesson's race, not `amount`


def adds_twice(account, amount, lock, pause):
    with lock:
        balance = account["balance"]
        pause()
        account["balance"] = balance + 2 * amount


account = {"balance": 0}  # a global account, as in the notebook
vault = threading.Lock()  # a global lock, as in the notebook


def into_the_global(acct, amount, lock, pause):
    with lock:
        balance = account["balance"]
        pause()
        account["balance"] = balance + amount


def with_the_global_lock(account, amount, lock, pause):
    with vault:
        balance = account["balance"]
        pause()
        account["balance"] = balance + amount


def global_lock_around_write(account, amount, lock, pause):
    balance = account["balance"]
    pause()
    with vault:
        account["balance"] = balance + amount


@pytest.mark.parametrize(("answer", "hint"), [
    (adds_ten, ("added 10 €", "deposits 7 €", "120 € instead of 84 €", "`amount`",
                "not about the lock")),
    (adds_twice, ("added 20 €", "`amount` itself, once")),
    (into_the_global, ("still holds 0 €", "the global `account`", "argument `account`")),
    (with_the_global_lock, ("never taken", "the global `vault`", "argument `lock`")),
    (global_lock_around_write, ("never taken", "the global `vault`")),
])
def test_ex3_a_hint_that_does_not_blame_the_lock_when_the_lock_is_not_the_mistake(answer, hint):
    v = check.ex3(answer)
    assert wrong(v, *hint)
    if answer in (adds_ten, adds_twice, into_the_global):
        assert "lost" not in v.message.replace("a lost update", "")


def test_ex3_the_global_account_is_left_as_the_student_made_it():
    start = dict(account)
    check.ex3(into_the_global)
    assert account["balance"] > start["balance"]  # the check did not hide or undo it
    account["balance"] = 0


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


class NotifyOne(Base):
    """notify() instead of notify_all(), in put and in get: fine with one thread of each kind."""

    def put(self, item):
        with self.condition:
            while len(self.items) >= self.capacity:
                self.condition.wait()
            self.items.append(item)
            self.condition.notify()

    def get(self):
        with self.condition:
            while not self.items:
                self.condition.wait()
            item = self.items.popleft()
            self.condition.notify()
            return item


def test_ex4_refuses_notify_one_every_time_and_lets_its_threads_go():
    before = threading.active_count()
    for _ in range(3):  # the crowd at a buffer of one place gets stuck on every run
        t0 = time.monotonic()
        assert wrong(check.ex4(NotifyOne), "capacity 1", "`notify()`", "Use `notify_all()`")
        assert time.monotonic() - t0 < 5
    assert threading.active_count() == before  # woken again and again, they all finished


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
