"""Checks for lesson 01, "Messages and queues, with real threads".

    from mqlab.checks import lesson01 as check
    check.ex1(consume)          # a consumer loop that stops cleanly at the sentinel
    check.ex2(my_prediction)    # predict: the final balance after the forced race
    check.ex3(deposit)          # fix the race with the lock you are given
    check.ex4(BoundedBuffer)    # a bounded buffer built on a condition variable

Every check runs your code in real threads. The threads are *daemon* threads and the check
waits for them with a timeout, so an answer that hangs (a loop that never ends, a lock never
released, a wait nobody notifies) is reported, and never freezes the notebook. Afterwards the
check gives each thread still waiting a way out (a sentinel in the queue it waits on, wake-ups
for a stuck buffer) and says so if one is still running.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mqlab.checks import Verdict, not_a_function, not_attempted, short
from mqlab.realtime import TracedCondition, TracedLock
from mqlab.trace import Trace

__all__ = ["DEPOSIT", "DEPOSITS", "PATIENCE", "Account", "ex1", "ex2", "ex3", "ex4",
           "forced_race", "unlucky_pause"]

JOIN = 2.0  # seconds a check waits for the student's threads before calling them stuck
PATIENCE = 0.2  # seconds the unlucky pause waits for the other thread to read too
DEPOSITS = 5  # deposits per thread in the race
DEPOSIT = 10  # euros per deposit


class _Released(BaseException):  # noqa: N818 - not an error: the check lets a thread go
    """Raised in a student's thread still waiting in the check's queue when the check ends."""


class _Threads:
    """Daemon threads that report what they raised; ``join`` waits at most ``JOIN`` s."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[tuple[str, BaseException]] = []

    def start(self, target: Callable, *args: Any, name: str) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except _Released:
                pass  # the check let it go: it was waiting when the check ended
            except BaseException as exc:  # noqa: BLE001 - reported to the student
                self.errors.append((name, exc))

        t = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    def join(self, timeout: float = JOIN) -> list[str]:
        """Wait for every thread (``timeout`` s in all); the names of those still running."""
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]

    def error(self) -> Verdict | None:
        if not self.errors:
            return None
        name, exc = self.errors[0]
        return Verdict(False, f"In thread {name!r} your code raised {type(exc).__name__}: {exc}")


# -- exercise 1: stop a consumer loop with a sentinel -----------------------------------------


class _Orders(queue.Queue):
    """The check's queue of orders: notes what each thread asked of it, and can let go of the
    threads still waiting in it when the check is over (``release``).

    While ``cap`` is set (the producer's pause), a ``get(timeout=t)`` waits at most ``cap`` s:
    to the consumer it looks as if the producer paused for longer than ``t``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, list[tuple[str, Any]]] = {}  # thread -> [(call, what it gave)]
        self.cap: float | None = None
        self.released = False

    def _note(self, call: str, outcome: Any) -> None:
        self.calls.setdefault(threading.current_thread().name, []).append((call, outcome))

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self.released:  # the check is over: this thread must not wait here again
            if self.calls.get(threading.current_thread().name, [("", None)])[-1][0] == "out":
                time.sleep(1.0)  # it caught _Released and came back: at least do not spin
            self._note("out", None)
            raise _Released
        call = "get" if block and timeout is None else "get(timeout)" if block else "get_nowait"
        if call == "get(timeout)" and self.cap is not None:
            timeout = min(timeout, self.cap)
        if call == "get":
            self._note("waiting", None)
        try:
            item = super().get(block, timeout)
        except queue.Empty:
            self._note(call, queue.Empty)
            raise
        if item is _RELEASE:
            self._note("out", None)
            raise _Released
        self._note(call, item)
        return item

    def empty(self) -> bool:
        answer = super().empty()
        self._note("empty", answer)
        return answer

    def qsize(self) -> int:
        answer = super().qsize()
        self._note("qsize", answer)
        return answer

    def release(self, waiting: int) -> None:
        """Let the ``waiting`` threads blocked in ``get`` out (they raise ``_Released``)."""
        self.released = True
        for _ in range(waiting):
            super().put(_RELEASE)


_RELEASE = object()  # put into the check's queue at the end: the thread that gets it leaves


def _waiting_on(thread: threading.Thread) -> queue.Queue | None:
    """The queue (not the check's) in whose ``get`` the thread is waiting, if any."""
    frame = sys._current_frames().get(thread.ident)  # noqa: SLF001 - the only way to look
    while frame is not None:
        owner = frame.f_locals.get("self")
        if (frame.f_code.co_name == "get" and isinstance(owner, queue.Queue)
                and not isinstance(owner, _Orders)):
            return owner
        frame = frame.f_back
    return None


def _global_name(fn: Callable, value: Any) -> str | None:
    """The name of the global of ``fn`` that is ``value``, if there is one."""
    return next(iter(_globals_like(fn, lambda v: v is value)), None)


def _let_go(threads: _Threads, q: _Orders, consume: Callable) -> tuple[str, str]:
    """Give every thread still running a way out. Returns (where the stuck ones waited,
    a note for the verdict: what the check did, and which threads are still running)."""
    alive = [t for t in threads.threads if t.is_alive()]
    if not alive:
        return "", ""
    others: dict[int, tuple[queue.Queue, int]] = {}
    for t in alive:
        other = _waiting_on(t)
        if other is not None:
            others[id(other)] = (other, others.get(id(other), (other, 0))[1] + 1)
    q.release(len(alive))  # those waiting in the check's queue leave at once
    where = ""
    for other, count in others.values():
        name = _global_name(consume, other)
        where = f"the global queue `{name}`" if name else "another queue"
        for _ in range(count):
            other.put(None)  # the sentinel, in the queue it is really waiting on
    still = threads.join(0.5)
    note = ""
    if others:
        note = (f" (The check put a sentinel `None` into {where} to let your thread "
                f"{'go' if not still else 'out, but it is still waiting'}.)")
    if still:
        note += (f" Thread {still[0]!r} is still running and nothing can stop a thread from "
                 "outside: it is a daemon thread, harmless, but restart the kernel (Kernel → "
                 "Restart Kernel) to be rid of it.")
    return where, note


def _ex1_case(consume: Callable, orders: list, consumers: int, gap: float,
              pause_after: int | None = None) -> Verdict | list:
    """Run ``consumers`` threads of ``consume(q, done)``; a producer puts ``orders`` (``gap`` s
    apart; or the first ``pause_after`` of them, then a pause, then the rest) then one sentinel
    per consumer. The processed payloads, or a Verdict."""
    q = _Orders()
    done: list = []
    threads = _Threads()
    if pause_after is not None:  # these orders are ready before the consumers start
        for order in orders[:pause_after]:
            q.put(order)
        q.cap = 0.01
    for i in range(consumers):
        threads.start(consume, q, done, name=f"consumer-{i + 1}")
    if pause_after is not None:
        _pause(q, threads)
        q.cap = None
    for order in orders if pause_after is None else orders[pause_after:]:
        q.put(order)
        if gap:
            time.sleep(gap)
    time.sleep(0.02)  # let a consumer that stops too early finish before the sentinels come
    early = list(done)
    gone = [t.name for t in threads.threads if not t.is_alive()]
    for _ in range(consumers):
        q.put(None)
    stuck = threads.join()
    where, note = _let_go(threads, q, consume)
    if threads.errors:
        name, exc = threads.errors[0]
        return Verdict(False, f"In thread {name!r} your code raised {type(exc).__name__}: {exc}"
                       + note)
    names = [t.name for t in threads.threads]
    untouched = [n for n in names if not q.calls.get(n)]
    if untouched and not done and not stuck and len(untouched) == len(names):
        return Verdict(None, "Your function does nothing yet: write the loop, then run this "
                             "cell again.")
    if untouched and (stuck or where or _global_queues(consume)):
        globals_ = _global_queues(consume)
        other = where or (f"the global queue `{globals_[0]}`" if globals_ else "")
        ended = "never returned" if stuck else "returned"
        return Verdict(False, f"Your function {ended}, and it never took anything from the "
                              "queue `q` it was given"
                       + (f": it took from {other} instead. Take" if other else ". Take")
                       + " the orders from the argument `q`, with `q.get()`." + note)
    if stuck:
        return Verdict(False, f"Thread {stuck[0]!r} was still waiting {JOIN:g} s after the "
                              "sentinel was sent: your loop never ends. `q.get()` waits for "
                              "ever on an empty queue, so the loop must `return` (or `break`) "
                              "when it gets the sentinel `None`."
                       + (" (It also processed the sentinel as an order.)" if None in done
                          else "") + note)
    if None in done:
        return Verdict(False, "You processed the sentinel as if it were an order (`None` is in "
                              "`done`). Check for it *before* you process, and stop there.")
    if gone:
        return _stopped_early(q.calls.get(gone[0], []), len(early), len(orders))
    if len(done) < len(orders):
        return Verdict(False, f"Only {len(done)} of {len(orders)} orders were processed. "
                              "Append every order's payload to `done` until the sentinel.")
    return done


def _global_queues(fn: Callable) -> list[str]:
    """The globals that ``fn`` uses and that are queues."""
    return _globals_like(fn, lambda v: isinstance(v, queue.Queue))


def _globals_like(fn: Callable, test: Callable[[Any], bool]) -> list[str]:
    """The names of the globals that ``fn`` uses and whose value passes ``test``."""
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    space = getattr(fn, "__globals__", {})
    return [n for n in names if n in space and test(space[n])]


def _pause(q: _Orders, threads: _Threads, longest: float = 0.3) -> None:
    """The producer's pause: until every consumer has ended, found the queue empty (a get that
    ran out of time, get_nowait, empty(), qsize()) or waits in a plain ``get()`` on the empty
    queue; ``longest`` s at most."""
    end = time.monotonic() + longest
    time.sleep(0.02)
    while time.monotonic() < end:
        if all(not t.is_alive() or _idle(q, t.name) for t in threads.threads):
            return
        time.sleep(0.005)


def _idle(q: _Orders, name: str) -> bool:
    calls = q.calls.get(name)
    if not calls or queue.Queue.qsize(q):
        return False
    call, outcome = calls[-1]
    return (call == "waiting" or outcome is queue.Empty
            or (call in ("empty", "qsize") and outcome in (True, 0)))


def _stopped_early(calls: list, processed: int, total: int) -> Verdict:
    """The hint for a consumer that returned before its sentinel came: what did it last do?"""
    gets = [(c, o) for c, o in calls if c.startswith("get")]
    last = gets[-1] if gets else ("", None)
    told = f"it returned before its sentinel `None` came, after {processed} of {total} orders"
    if last[1] is queue.Empty:
        how = ("`q.get(timeout=...)` ran out of time" if last[0] == "get(timeout)" else
               "`q.get_nowait()` (or `get(block=False)`) found the queue empty")
        return Verdict(False, f"Your consumer stopped when {how} and raised `queue.Empty`: "
                              f"{told}. The producer was only slow: an empty queue, even for "
                              "a while, does not mean 'no more orders'; only the sentinel "
                              "`None` says so. On `queue.Empty` go round the loop again (or "
                              "call `q.get()` with no timeout, which waits).")
    if any(c in ("empty", "qsize") for c, _ in calls):
        return Verdict(False, f"Your consumer stopped when the queue was empty: {told}. "
                              "An empty queue does not mean 'no more orders' (the producer "
                              "may be slow): only the sentinel `None` says so. Don't test "
                              "`q.empty()`; loop on `q.get()` until it gives `None`.")
    if last[0] and last[1] is not None and not last[1]:
        return Verdict(False, f"Your consumer stopped at an order that is *falsy* (the order "
                              f"{last[1]!r}): {told}. Test the sentinel with `is None`, not "
                              "with `if not item` or `while item:`.")
    if len(gets) == 1:
        return Verdict(False, f"Your consumer took one order only: {told}. It needs a "
                              "loop: get an order, stop if it is the sentinel `None`, else "
                              "append it, and again.")
    return Verdict(False, f"Your consumer stopped too soon: {told}. Keep "
                          "going round the loop until `q.get()` gives `None`, however many "
                          "orders there are.")


def ex1(consume: Callable | None) -> Verdict:
    """Check ``consume(q, done)``: append each order to ``done`` until the sentinel None."""
    if not_attempted(consume):
        return Verdict(None, "Write consume, then run this cell again.")
    if not callable(consume):
        return not_a_function(consume, "consume", "ex1")
    cases = [
        (["order 1", "order 2", "order 3"], 1, 0.0, None, "one consumer, three orders"),
        ([f"order {i}" for i in range(12)], 1, 0.005, None, "one consumer and a slow producer"),
        ([f"order {i}" for i in range(8)], 1, 0.0, 4,
         "a producer that pauses after 4 orders, for longer than any timeout"),
        ([0, "", "order 2", "order 3"], 1, 0.0, None, "orders 0 and '' (falsy payloads)"),
        ([f"order {i}" for i in range(20)], 3, 0.001, None, "three consumers sharing one queue"),
    ]
    for orders, consumers, gap, pause_after, where in cases:
        got = _ex1_case(consume, orders, consumers, gap, pause_after)
        if isinstance(got, Verdict):
            if got.ok is None:
                return got
            return Verdict(False, f"{got.message} (case: {where})")
        if sorted(map(str, got)) != sorted(map(str, orders)):
            return Verdict(False, f"With {where} the orders processed were {short(got)}; "
                                  f"expected each of {short(orders)} exactly once.")
        if consumers == 1 and got != orders:
            return Verdict(False, f"With {where} the orders came out as {short(got)}: a single "
                                  "consumer of a FIFO queue should process them in order.")
    return Verdict(True, "Every consumer processed every order once and stopped at its sentinel "
                         "(one sentinel per consumer thread), even when the producer paused.")


# -- exercise 2: predict the forced race ------------------------------------------------------


def unlucky_pause(parties: int, patience: float = PATIENCE) -> Callable[[], None]:
    """A pause that holds each thread until ``parties`` threads are in it (or ``patience`` s
    pass, then it lets everybody through from then on).

    Put it between a read and a write and every thread reads before any thread writes: the
    unluckiest interleaving, every time. Under a lock only one thread can be there, so the
    first pause waits ``patience`` s, gives up, and never waits again.
    """
    meeting = threading.Barrier(parties, timeout=patience)

    def pause() -> None:
        try:
            meeting.wait()
        except threading.BrokenBarrierError:
            pass  # nobody else came: carry on

    return pause


class Account(dict):
    """A bank account shared by threads: ``account["balance"]`` in euros.

    It notes, for each write of the balance, how much it added to the balance the same thread
    last read (``added``; None when the thread had read nothing): a check can tell a wrong
    amount from a lost update.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: dict[int, Any] = {}
        self.added: list[Any] = []

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        if key == "balance":
            self.reads[threading.get_ident()] = value
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __setitem__(self, key: Any, value: Any) -> None:
        if key == "balance":
            read = self.reads.get(threading.get_ident())
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in (read, value))
            self.added.append(value - read if numbers else None)
        super().__setitem__(key, value)


def forced_race(deposit: Callable, threads: int = 2, deposits: int = DEPOSITS,
                amount: int = DEPOSIT, lock: Any = None) -> tuple[int, dict]:
    """Run ``threads`` threads, each calling ``deposit(account, amount, lock, pause)``
    ``deposits`` times; returns (final balance, details: pauses, stuck, errors)."""
    account = Account(balance=0)
    lock = TracedLock("account") if lock is None else lock
    pause = unlucky_pause(threads)
    calls = [0]

    def counted() -> None:
        calls[0] += 1
        pause()

    def work() -> None:
        for _ in range(deposits):
            deposit(account, amount, lock, counted)

    runner = _Threads()
    for i in range(threads):
        runner.start(work, name=f"teller-{i + 1}")
    stuck = runner.join(JOIN + PATIENCE)  # the pause waits once at most, then never again
    return dict.__getitem__(account, "balance"), {"pauses": calls[0], "stuck": stuck,
                                                  "errors": runner.errors, "lock": lock,
                                                  "account": account}


def ex2(prediction: Any) -> Verdict:
    """Check a prediction of the final balance (euros) of the forced race in the lesson."""
    if not_attempted(prediction):
        return Verdict(None, "Replace ... with your prediction (a number of euros), then run "
                             "this cell again.")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)):
        return Verdict(False, f"Predict a number of euros (like 70), not {short(prediction)}.")
    right = DEPOSITS * DEPOSIT
    full = 2 * right
    if prediction == right:
        return Verdict(True, f"{right} €. In every round both tellers read the same balance, "
                             "both write balance + 10, and one of the two deposits is lost: "
                             f"{DEPOSITS} of the {2 * DEPOSITS} deposits, every run. Now run "
                             "the next cell and compare.")
    hints = {
        full: f"{full} € is what the deposits add up to. But both tellers read the balance "
              "*before* either writes (the pause makes sure of it): what does each one write?",
        DEPOSIT: f"{DEPOSIT} € would mean every round started again from 0. The next round "
                 "reads the balance the last writes left behind.",
        DEPOSITS: f"{DEPOSITS} is how many deposits are *lost*. The question asks for the final "
                  "balance, in euros.",
        0: "Each write stores the balance it read plus 10 €, so the balance does grow.",
    }
    return Verdict(False, hints.get(prediction, f"Not {prediction} €. Follow one round: both "
                                                "tellers read the same balance, then both "
                                                "write. What is the balance after the round?"))


# -- exercise 3: fix the race with a lock -----------------------------------------------------


def ex3(deposit: Callable | None) -> Verdict:
    """Check ``deposit(account, amount, lock, pause)``: no deposit is lost, the lock is used."""
    if not_attempted(deposit):
        return Verdict(None, "Write deposit, then run this cell again.")
    if not callable(deposit):
        return not_a_function(deposit, "deposit", "ex3")
    for threads, deposits, amount in ((2, DEPOSITS, DEPOSIT), (3, 4, 7)):
        trace = Trace()
        lock = TracedLock("account", trace)
        balance, info = forced_race(deposit, threads, deposits, amount, lock)
        expected = threads * deposits * amount
        where = f"{threads} threads, {deposits} deposits of {amount} € each"
        if info["errors"]:
            name, exc = info["errors"][0]
            return Verdict(False, f"In thread {name!r} your deposit raised "
                                  f"{type(exc).__name__}: {exc} ({where}).")
        if info["stuck"]:
            return Verdict(False, f"Thread {info['stuck'][0]!r} is stuck ({where}): did you "
                                  "`lock.acquire()` without a `lock.release()`? `with lock:` "
                                  "releases it for you, even after an error.")
        account = info["account"]
        if balance == 0 and not account.added and (info["pauses"] or _globals_like(
                deposit, lambda v: isinstance(v, dict) and "balance" in v)):
            other = _globals_like(deposit, lambda v: isinstance(v, dict) and "balance" in v)
            return Verdict(False, "Your deposit ran, but the account it was given still holds "
                                  "0 €: it changed "
                                  + (f"the global `{other[0]}`" if other else "another account")
                                  + " instead. Read and write `account[\"balance\"]` of the "
                                  "argument `account`: it is the one all tellers share here.")
        if balance == 0 and info["pauses"] == 0:
            return Verdict(None, "Nothing was deposited: write the body of deposit, then run "
                                 "this cell again.")
        kinds = trace.column("kind")
        wrong = sorted({a for a in account.added if a is not None and a != amount})
        if wrong:
            return Verdict(False, f"Your deposit added {wrong[0]} € to the balance it read, but "
                                  f"this case deposits {amount} € at a time ({where}): the "
                                  f"balance came out at {balance} € instead of {expected} €. "
                                  "Add the argument `amount` itself, once (not a fixed number "
                                  "such as 10). This is not about the lock: a lost update "
                                  "makes the balance lower, by whole deposits.")
        if balance > expected or balance % amount:
            return Verdict(False, f"The balance came out at {balance} € instead of {expected} € "
                                  f"({where}): a lost update can only make it lower, by whole "
                                  f"deposits of {amount} €. Each deposit must add the argument "
                                  "`amount` once to the balance it read.")
        if info["pauses"] < threads * deposits:
            return Verdict(False, "Keep `pause()` between the read and the write. Removing it "
                                  "makes the race rarer, not gone: a thread can be switched "
                                  "out at that moment anyway. Make it harmless with the lock.")
        if balance != expected:
            if "acquire" not in kinds:
                other = _globals_like(deposit, lambda v: hasattr(v, "acquire"))
                return Verdict(False, f"Updates were still lost ({balance} € instead of "
                                      f"{expected} €; {where}) and the lock you were given was "
                                      "never taken. "
                                      + (f"You used the global `{other[0]}`: use the argument "
                                         "`lock`, with `with lock:`." if other else
                                         "A lock made inside the function protects nothing "
                                         "(every call gets its own): use `with lock:`."))
            return Verdict(False, f"Updates were still lost ({balance} € instead of {expected} "
                                  f"€; {where}). The lock must cover the read, the pause *and* "
                                  "the write, in one `with lock:` block: another thread must "
                                  "not read between your read and your write.")
        if "acquire" not in kinds:
            other = _globals_like(deposit, lambda v: hasattr(v, "acquire")
                                  and hasattr(v, "release"))
            return Verdict(False, "The balance came out right, but the lock you were given was "
                                  "never taken: you used "
                                  + (f"the global `{other[0]}`" if other else "another lock")
                                  + ". Use the argument `lock`: the tellers of a real program "
                                  "share the lock they are given, not one that happens to be "
                                  "in your notebook.")
        if kinds.count("acquire") < threads * deposits:
            return Verdict(False, "The balance came out right, but not every deposit took the "
                                  "lock: put the read, the pause and the write in `with lock:`.")
    return Verdict(True, "No deposit was lost, run after run: while one thread holds the lock "
                         "between its read and its write, the others wait at the lock.")


# -- exercise 4: a bounded buffer on a condition ----------------------------------------------


class _Watched(deque):
    """The buffer's items, watched: notes the most it ever held (``peak``)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.peak = len(self)

    def _grew(self) -> None:
        self.peak = max(self.peak, len(self))

    def append(self, item: Any) -> None:
        super().append(item)
        self._grew()

    def appendleft(self, item: Any) -> None:
        super().appendleft(item)
        self._grew()

    def insert(self, i: int, item: Any) -> None:
        super().insert(i, item)
        self._grew()

    def pop(self, i: int | None = None) -> Any:  # list style pop(0) works too
        if i == 0:
            return self.popleft()
        return super().pop() if i is None or i == -1 else _no_pop(i)


def _no_pop(i: int) -> Any:
    raise IndexError(f"take items from the head (pop(0) / popleft()), not from position {i}")


def _make(cls: Any, capacity: int, trace: Trace) -> tuple[Any, TracedCondition] | Verdict:
    cond = TracedCondition("buffer", trace)
    try:
        buf = cls(capacity, cond)
    except Exception as exc:  # noqa: BLE001 - reported to the student
        return Verdict(False, f"BoundedBuffer({capacity}, condition) raised "
                              f"{type(exc).__name__}: {exc}")
    items = getattr(buf, "items", None)
    if not isinstance(items, (deque, list)):
        return Verdict(False, "Keep the items in `self.items` (a deque, as in the starter), so "
                              "that the check can see how many the buffer holds.")
    buf.items = _Watched(items)
    return buf, cond


def _timed(threads: _Threads, fn: Callable, *args: Any, name: str) -> list:
    out: list = []
    threads.start(lambda: out.append(fn(*args)), name=name)
    return out


def ex4(cls: Any) -> Verdict:
    """Check a ``BoundedBuffer(capacity, condition)`` class with blocking ``put`` and ``get``."""
    if not_attempted(cls):
        return Verdict(None, "Write the class BoundedBuffer, then run this cell again.")
    if not isinstance(cls, type):
        return Verdict(False, f"Pass the class itself: check.ex4(BoundedBuffer), not an object "
                              f"of it. You passed {short(cls)}.")
    trace = Trace()
    made = _make(cls, 2, trace)
    if isinstance(made, Verdict):
        return made
    buf, cond = made
    # 1. one thread: first in, first out
    steps = _Threads()
    got = _timed(steps, lambda: [buf.put("a"), buf.put("b"), buf.get(), buf.get()],
                 name="alone")
    if steps.join(1.0):
        return Verdict(False, "put('a'), put('b'), get(), get() on an empty buffer of capacity "
                              "2, in one thread, never finished: a put or get waits when it "
                              "should not. Wait only while the buffer is full (put) or empty "
                              "(get).")
    if (problem := steps.error()) is not None:
        return problem
    if got and got[0][2:] == [None, None] and not trace.filter(peer="buffer").rows:
        return Verdict(None, "put and get do nothing yet: write them, then run this cell again.")
    if got[0][2:] != ["a", "b"]:
        return Verdict(False, f"put('a'), put('b'), get(), get() gave {short(got[0][2:])}, not "
                              "['a', 'b']: get() must return the oldest item (first in, first "
                              "out), and take it out of the buffer.")
    # 2. get on an empty buffer waits -- with wait(), not by spinning -- until a put
    waiting = _Threads()
    got = _timed(waiting, buf.get, name="getter")
    time.sleep(0.15)
    if not waiting.threads[0].is_alive():
        return Verdict(False, f"get() on an empty buffer returned {short(got[0] if got else None)}"
                              " at once. It must wait until an item is there.")
    waits = trace.filter(kind="wait", node="getter", peer="buffer")
    notes = [e for e in waits if e.info == "notify"]
    if not notes:
        return Verdict(False, "get() on an empty buffer kept the thread busy without ever "
                              "calling `condition.wait()`: that is busy-waiting, which burns a "
                              "CPU doing nothing. Wait with `self.condition.wait()` inside "
                              "`with self.condition:`.")
    if len(notes) > 5:
        return Verdict(False, f"get() woke up {len(notes)} times in 0.15 s on an empty buffer: "
                              "it polls (a timeout in wait, or a sleep loop). Call `wait()` "
                              "without a timeout and let `notify_all()` wake it.")
    buf.put("c")
    if waiting.join(1.0):
        return Verdict(False, "A get() was waiting on the empty buffer, a put() added an item, "
                              "and the getter never woke up: put() must call "
                              "`self.condition.notify_all()` after adding the item.")
    if got != ["c"]:
        return Verdict(False, f"The waiting get() returned {short(got)}, not the item 'c' that "
                              "was put.")
    # 2b. two getters wait; one put wakes them (notify_all): the one that finds it empty waits
    pair = _Threads()
    got = [_timed(pair, buf.get, name=f"getter-{i}") for i in (1, 2)]
    deadline = time.monotonic() + 1.0
    while (len([e for e in trace.filter(kind="wait", peer="buffer") if e.info == "notify"
                and e.node.startswith("getter-")]) < 2 and time.monotonic() < deadline):
        time.sleep(0.005)
    buf.put("d")
    time.sleep(0.1)
    if pair.errors:
        name, exc = pair.errors[0]
        return Verdict(False, f"Two get() calls waited on an empty buffer and one item came: "
                              f"{name!r} woke up, found the buffer empty again and raised "
                              f"{type(exc).__name__}: {exc}. Another getter can take the item "
                              "first: check the condition in a `while` loop around `wait()`, "
                              "not with an `if`.")
    buf.put("e")
    if pair.join(1.0):
        return Verdict(False, "Two get() calls waited on an empty buffer and two items came, "
                              "but a getter never woke up: call `notify_all()` after each "
                              "change.")
    if sorted(got[0] + got[1]) != ["d", "e"]:
        return Verdict(False, f"Two waiting getters got {got[0] + got[1]}, not 'd' and 'e'.")
    # 3. put on a full buffer waits until a get makes room
    buf.put(1)
    buf.put(2)
    putting = _Threads()
    _timed(putting, buf.put, 3, name="putter")
    time.sleep(0.15)
    if buf.items.peak > 2 or not putting.threads[0].is_alive():
        return Verdict(False, "put() on a full buffer (capacity 2) did not wait: the buffer "
                              f"held {buf.items.peak} items. Wait while "
                              "`len(self.items) >= self.capacity`.")
    first = buf.get()
    if putting.join(1.0):
        return Verdict(False, "A put() was waiting on the full buffer, a get() made room, and "
                              "the putter never woke up: get() must call "
                              "`self.condition.notify_all()` after taking an item.")
    rest = [buf.get(), buf.get()]
    if [first, *rest] != [1, 2, 3]:
        return Verdict(False, f"Items came out as {[first, *rest]}, not [1, 2, 3].")
    # 4. a crowd at a buffer of one place: notify() wakes the wrong kind sooner or later
    crowd = _crowd(cls)
    if crowd is not None:
        return crowd
    # 5. many producers and consumers: nothing lost, nothing twice, never over capacity
    return _stress(cls)


def _crowd(cls: Any, producers: int = 3, consumers: int = 3, each: int = 40,
           patience: float = 1.0) -> Verdict | None:
    """Producers and consumers at a buffer of capacity 1; None if all went through.

    With one condition for both kinds of waiting, ``notify()`` wakes one thread, the one that
    has waited longest, which is sometimes a putter when only a getter can go on (or the other
    way round): it checks, sleeps again, and soon every thread sleeps. On this crowded buffer
    that happens on every run tried (thousands, also on a busy machine), well within
    ``patience`` s; with ``notify_all()`` the 120 items pass in a few hundredths of a second.
    """
    made = _make(cls, 1, Trace())
    if isinstance(made, Verdict):
        return made
    buf, cond = made
    total = producers * each
    shares = [total // consumers + (k < total % consumers) for k in range(consumers)]
    out: list = []

    def produce(k: int) -> None:
        for i in range(each):
            buf.put((k, i))

    def consume(n: int) -> None:
        for _ in range(n):
            out.append(buf.get())

    crowd = _Threads()
    for k in range(consumers):
        crowd.start(consume, shares[k], name=f"consumer-{k + 1}")
    for k in range(producers):
        crowd.start(produce, k, name=f"producer-{k + 1}")
    stuck = crowd.join(patience)
    asleep = len(cond._waiters)  # noqa: SLF001 - how many of them sleep in wait()
    if stuck:  # wake them all, again and again, so that they finish and leave
        end = time.monotonic() + 2.0
        while any(t.is_alive() for t in crowd.threads) and time.monotonic() < end:
            with cond:
                cond.notify_all()
            time.sleep(0.01)
    if crowd.errors:
        if isinstance(crowd.errors[0][1], IndexError):
            return Verdict(False, f"{crowd.error().message}. With several getters, a thread "
                                  "woken by notify can find the buffer empty again (another "
                                  "took the item first): check the condition in a `while` loop "
                                  "around `wait()`, not with an `if`.")
        return crowd.error()
    where = (f"With {producers} producers and {consumers} consumers on a buffer of capacity 1 "
             f"({total} items)")
    if stuck and asleep < len(stuck):
        return Verdict(False, f"{where}, {len(stuck)} threads were still busy after "
                              f"{patience:g} s, and not all of them asleep in wait(): does a "
                              "put or a get loop without waiting, or keep the condition's "
                              "lock while it waits for something else?")
    if stuck:
        return Verdict(False, f"{where}, the threads ended up all waiting: after {patience:g} "
                              f"s, {len(stuck)} threads were still asleep in wait(), with "
                              "nobody left to wake them. With one condition shared by put and "
                              "get, `notify()` wakes just one thread, sometimes one of the "
                              "wrong kind (a putter when only a getter could go on); it sleeps "
                              "again and the wake-up is lost. Use `notify_all()`.")
    if buf.items.peak > 1:
        return Verdict(False, f"{where}, the buffer held {buf.items.peak} items at once: check "
                              "`len(self.items) >= self.capacity` in a `while` loop, inside "
                              "`with self.condition:`.")
    if sorted(out) != sorted((k, i) for k in range(producers) for i in range(each)):
        return Verdict(False, f"{where}, items were lost or taken twice: do every check and "
                              "change of `self.items` inside `with self.condition:`.")
    return None


def _stress(cls: Any, producers: int = 4, consumers: int = 3, each: int = 40,
            capacity: int = 3) -> Verdict:
    made = _make(cls, capacity, Trace())
    if isinstance(made, Verdict):
        return made
    buf, _ = made
    out: list = []
    out_lock = threading.Lock()

    def produce(k: int) -> None:
        for i in range(each):
            buf.put((k, i))

    def consume() -> None:
        while (item := buf.get()) is not None:
            with out_lock:
                out.append(item)

    makers, takers = _Threads(), _Threads()
    for k in range(consumers):
        takers.start(consume, name=f"consumer-{k + 1}")
    for k in range(producers):
        makers.start(produce, k, name=f"producer-{k + 1}")
    stuck = makers.join(JOIN)
    if not stuck:  # one sentinel per consumer: the end of the items
        enders = _Threads()
        for _ in range(consumers):
            enders.start(buf.put, None, name="sentinel")
        stuck = enders.join(JOIN) + takers.join(JOIN)
    threads = makers
    threads.errors += takers.errors
    if (problem := threads.error()) is not None:
        if isinstance(threads.errors[0][1], IndexError):
            return Verdict(False, f"{problem.message}. With several getters, a thread woken by "
                                  "notify can find the buffer empty again (another took the "
                                  "item first): check the condition in a `while` loop around "
                                  "`wait()`, not with an `if`.")
        return problem
    if stuck:
        return Verdict(False, f"With {producers} producers and {consumers} consumers on a "
                              f"buffer of capacity {capacity}, thread {stuck[0]!r} got stuck "
                              "waiting. With one condition shared by put and get, `notify()` "
                              "may wake a thread of the wrong kind: use `notify_all()`.")
    if buf.items.peak > capacity:
        return Verdict(False, f"With {producers} producers and {consumers} consumers the buffer "
                              f"held {buf.items.peak} items at once, more than its capacity "
                              f"{capacity}: check `len(self.items) >= self.capacity` in a "
                              "`while` loop, inside `with self.condition:`.")
    expected = sorted((k, i) for k in range(producers) for i in range(each))
    if sorted(out) != expected:
        lost = len(set(expected) - set(out))
        twice = len(out) - len(set(out))
        return Verdict(False, f"With many threads, {lost} items were lost and {twice} taken "
                              "twice: do every check and change of `self.items` inside "
                              "`with self.condition:`.")
    return Verdict(True, f"{producers} producers and {consumers} consumers passed "
                         f"{len(expected)} items through a buffer of capacity {capacity}: none "
                         "lost, none twice, never over capacity, and waiting threads slept in "
                         "wait() until notified.")
