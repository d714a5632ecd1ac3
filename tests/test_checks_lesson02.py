"""The checks of lesson 02 accept the reference solutions and reject typical mistakes kindly."""

import statistics

import pytest
from solutions import lesson02 as solution
from verdicts import right, unattempted, wrong

from mqlab import metrics
from mqlab.checks import lesson02 as check

FUNCTION_CHECKS = [check.ex2, check.ex3, check.ex4]


# -- every check: the starter, a forgotten return, a crash, the function called by mistake ------
@pytest.mark.parametrize("ex", [check.ex1, *FUNCTION_CHECKS])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


def test_the_starter_prediction_is_not_attempted():
    assert unattempted(check.ex1({"sync": ..., "async": ...}))


@pytest.mark.parametrize("ex", FUNCTION_CHECKS)
def test_a_function_that_returns_none_is_not_attempted(ex):
    def starter(*args):
        ...

    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", FUNCTION_CHECKS)
def test_an_exception_in_the_answer_is_reported_not_raised(ex):
    def broken(*args):
        return {}["no such key"]

    assert wrong(ex(broken), "KeyError", "no such key")


@pytest.mark.parametrize("ex", FUNCTION_CHECKS)
def test_a_called_function_instead_of_the_function_gets_a_hint(ex):
    assert wrong(ex(42), "without calling it")


# -- exercise 1: the prediction ------------------------------------------------------------------
def test_ex1_accepts_the_reference_and_the_measured_numbers():
    assert right(check.ex1(solution.PREDICTION))
    assert right(check.ex1({"sync": 1.63, "async": 1.97}))  # what the run measures
    assert right(check.ex1({"sync": 1.7, "async": 2}))  # rounded


@pytest.mark.parametrize("off", [-check.PRECISION, check.PRECISION])
def test_ex1_is_as_strict_above_the_theory_as_below(off):
    # within 0.1 orders/s either way is right; a little further either way is not
    exact = dict(solution.PREDICTION)
    assert right(check.ex1({**exact, "async": exact["async"] + off}))  # 1.9 and 2.1
    assert right(check.ex1({**exact, "sync": exact["sync"] + off}))
    assert wrong(check.ex1({**exact, "async": exact["async"] + 1.1 * off}), "more than 0.1")
    assert wrong(check.ex1({**exact, "sync": exact["sync"] + 1.1 * off}), "more than 0.1")


def test_the_reference_prediction_matches_a_run():
    trace = check.shops().run(until=300, progress=False).trace
    for mode in ("sync", "async"):
        measured = metrics.throughput(trace, f"worker-{mode}", start=10)
        assert measured == pytest.approx(solution.PREDICTION[mode], rel=0.01)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"sync": 1 / 0.3, "async": 2.0}, "*could* go"),  # the worker's top speed
        ({"sync": 1 / 0.45, "async": 2.0}, "the reply travels back too"),  # one way only
        ({"sync": 2.0, "async": 2.0}, "cannot keep up"),  # the sync shop keeps pace
        ({"sync": 0.6, "async": 2.0}, "seconds per order"),  # period, not rate
        ({"sync": 100, "async": 120}, "per minute"),
        ({"sync": 1 / 0.6, "async": 1 / 0.3}, "only 2 orders are made per second"),
        ({"sync": 1 / 0.6, "async": 1 / 0.6}, "does not wait for replies"),
        ({"sync": 1 / 0.6, "async": 0.5}, "seconds between orders"),
        ({"sync": 2.0, "async": 1 / 0.6}, "swapped"),
        ({"sync": 1.0, "async": 2.0}, "add up how long one request takes"),
        ({"sync": 1 / 0.6, "async": 5.0}, "Can the worker keep up"),
    ],
)
def test_ex1_rejects_typical_predictions_with_a_specific_hint(answer, hint):
    assert wrong(check.ex1(answer), hint)


def test_ex1_wants_both_numbers_in_a_dict():
    assert wrong(check.ex1({"sync": 1.6, "async": ...}), "Predict the async shop too")
    assert wrong(check.ex1({"sync": 1.6}), "lacks 'async'")
    assert wrong(check.ex1([1.6, 2.0]), "Give a dict")
    assert wrong(check.ex1({"sync": "1.6", "async": 2}), "Give a number")


# -- exercise 2: the wait at the producer ----------------------------------------------------------
def test_ex2_accepts_the_reference_and_the_metrics_way():
    assert right(check.ex2(solution.mean_wait))

    def by_metrics(trace, producer):  # creation -> publish with the library
        mine = trace.filter(node=producer)
        own = {e.msg for e in mine}
        only = type(trace)(mine.rows, messages={m: trace.messages[m] for m in own})
        return statistics.mean(metrics.latencies(only, start="create", end="publish"))

    assert right(check.ex2(by_metrics))


def _last_publish(trace, producer):
    last = {e.msg: e.time for e in trace.filter(kind="publish", node=producer)}
    return statistics.mean(t - trace.messages[m].created for m, t in last.items())


def _every_producer(trace, producer):
    first = {}
    for e in trace.filter(kind="publish"):
        first.setdefault(e.msg, e.time)
    return statistics.mean(t - trace.messages[m].created for m, t in first.items())


def _publish_to_ack(trace, producer):
    mine = {e.msg for e in trace.filter(kind="publish", node=producer)}
    return statistics.mean(x for x in _lat(trace, mine, "publish"))


def _create_to_ack(trace, producer):
    mine = {e.msg for e in trace.filter(kind="publish", node=producer)}
    acks = {}
    for e in trace.filter(kind="ack"):
        if e.msg in mine:
            acks.setdefault(e.msg, e.time)
    return statistics.mean(t - trace.messages[m].created for m, t in acks.items())


def _lat(trace, mine, start):
    began, out = {}, []
    for e in trace:
        if e.msg not in mine:
            continue
        if e.kind == start and e.msg not in began:
            began[e.msg] = e.time
        elif e.kind == "ack" and e.msg in began:
            out.append(e.time - began.pop(e.msg))
    return out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (_last_publish, "*last* publish"),
        (_every_producer, "every producer"),
        (_publish_to_ack, "from publish to ack"),
        (_create_to_ack, "from creation to ack"),
        (lambda tr, p: solution.mean_wait(tr, p) * 1000, "milliseconds"),
        (lambda tr, p: [solution.mean_wait(tr, p)], "Return one number"),
        (lambda tr, p: "0.5 s", "Return a number of seconds"),
        (lambda tr, p: 0.25, "but messages waited"),
    ],
)
def test_ex2_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex2(answer), hint)


LESSON_RUN = check.shops().run(until=30, progress=False).trace  # the lesson's `run`


def _lesson_global(trace, producer):  # reads the lesson's run.trace, not its argument
    return solution.mean_wait(LESSON_RUN, producer)


def _lesson_global_statistics(trace, producer):  # the same, written as a student would
    first = {}
    for e in LESSON_RUN.filter(kind="publish", node=producer):
        first.setdefault(e.msg, e.time)
    return statistics.mean(t - LESSON_RUN.messages[m].created for m, t in first.items())


def _every_publish(trace, producer):
    return statistics.mean(e.time - trace.messages[e.msg].created
                           for e in trace.filter(kind="publish", node=producer))


def _waits(trace, producer):
    first = {}
    for e in trace.filter(kind="publish", node=producer):
        first.setdefault(e.msg, e.time)
    return [t - trace.messages[m].created for m, t in first.items()]


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (_lesson_global, "reads a global"),
        (_lesson_global_statistics, "reads a global"),
        (_every_publish, "every `publish` event"),
        (lambda tr, p: max(_waits(tr, p)), "the longest wait"),
        (lambda tr, p: statistics.median(_waits(tr, p)), "the median"),
        (lambda tr, p: round(solution.mean_wait(tr, p), 2), "You rounded"),
        (lambda tr, p: round(solution.mean_wait(tr, p), 1), "You rounded"),
        (lambda tr, p: round(solution.mean_wait(tr, p)), "You rounded"),
    ],
)
def test_ex2_names_more_mistakes(answer, hint):
    assert wrong(check.ex2(answer), hint)


def test_ex2_gives_the_total_hint():
    def total(trace, producer):
        first = {}
        for e in trace.filter(kind="publish", node=producer):
            first.setdefault(e.msg, e.time)
        return sum(t - trace.messages[m].created for m, t in first.items())

    assert wrong(check.ex2(total), "That is the total")


# -- exercise 3: the retry report ------------------------------------------------------------------
def test_ex3_accepts_the_reference():
    assert right(check.ex3(solution.retry_report))


def test_the_lesson_run_has_retries_give_ups_and_duplicates():
    report = solution.retry_report(check.checkout_run(timeout=1.0, retries=2), "checkout")
    assert report["retries"] > 0 and report["gave_up"] > 0 and report["duplicates"] > 0
    quiet = solution.retry_report(check.checkout_run(), "checkout")
    assert quiet == {"retries": 0, "gave_up": 0, "duplicates": 0}


def _changed(**swap):
    def retry_report(trace, producer):
        out = solution.retry_report(trace, producer)
        for key, fn in swap.items():
            out[key] = fn(trace, producer)
        return out

    return retry_report


def _acks_of_retried(trace, producer):
    times = {}
    for e in trace.filter(kind="publish", node=producer):
        times[e.msg] = times.get(e.msg, 0) + 1
    return sum(1 for e in trace.filter(kind="ack") if times.get(e.msg, 0) > 1)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (_changed(retries=lambda tr, p: len(tr.filter(kind="timeout", node=p))),
         "counts every timeout"),
        (_changed(retries=lambda tr, p: len(tr.filter(kind="timeout"))), "counts every timeout"),
        (_changed(gave_up=lambda tr, p: len(tr.filter(kind="timeout", node=p))),
         "'give up'"),
        (_changed(duplicates=_acks_of_retried), "first ack of each request"),
        (_changed(duplicates=lambda tr, p: sum(
            1 for e in tr.filter(kind="reply", node=p) if "late" in e.info)), "late replies"),
        (_changed(retries=lambda tr, p: sum(
            1 for e in tr.filter(kind="timeout") if e.info == "retry")), "every producer"),
        (lambda tr, p: [1, 2, 3], "Return a dict"),
        (lambda tr, p: {"retry": 1, "gave_up": 0, "duplicates": 0}, "lacks 'retries'"),
        (_changed(retries=lambda tr, p: "3"), "whole number"),
    ],
)
def test_ex3_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex3(answer), hint)


PATIENT = check.checkout_run(timeout=1.0, retries=2)  # the lesson's `patient.trace`


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda tr, p: solution.retry_report(PATIENT, p), "reads a global"),
        (_changed(duplicates=lambda tr, p: solution.retry_report(tr, p)["retries"]),
         "is the number of retries"),
    ],
)
def test_ex3_names_a_global_and_retries_taken_for_duplicates(answer, hint):
    verdict = check.ex3(answer)
    assert wrong(verdict, hint)
    assert "`ack` events" in verdict.message or "`trace`" in verdict.message


# -- exercise 4: the resequencer -------------------------------------------------------------------
def test_ex4_accepts_the_reference_as_a_function_and_as_a_class():
    assert right(check.ex4(solution.resequence))
    assert right(check.ex4(solution.resequence_with_a_class))


def test_the_reference_on_the_lesson_example():
    assert solution.resequence([2, 3, 1, 5, 4, 6]) == [[], [], [1, 2, 3], [], [4, 5], [6]]
    assert solution.resequence([1, 1, 3, 2, 2]) == [[1], [], [], [2, 3], []]
    assert solution.resequence([3, 1]) == [[], [1]]  # 2 never comes: 3 waits


def _from(start):
    def resequence(arrivals):
        out, held, expected = [], set(), start
        for seq in arrivals:
            held.add(seq)
            released = []
            while expected in held:
                held.discard(expected)
                released.append(expected)
                expected += 1
            out.append(released)
        return out

    return resequence


def _with_a_list(arrivals):  # duplicates are held, and released, twice
    out, held, expected = [], [], 1
    for seq in arrivals:
        held.append(seq)
        released = []
        while expected in held:
            while expected in held:
                held.remove(expected)
                released.append(expected)
            expected += 1
        out.append(released)
    return out


def _one_at_a_time(arrivals):
    out, held, expected = [], set(), 1
    for seq in arrivals:
        if seq >= expected:
            held.add(seq)
        released = []
        if expected in held:
            held.discard(expected)
            released.append(expected)
            expected += 1
        out.append(released)
    return out


def _all_at_the_end(arrivals):
    return [[] for _ in arrivals[:-1]] + [sorted(set(arrivals))] if arrivals else []


def _sorted_list_keeps_duplicates(arrivals):  # a held duplicate gets stuck at the head
    out, held, expected = [], [], 1
    for seq in arrivals:
        held.append(seq)
        held.sort()
        released = []
        while held and held[0] == expected:
            released.append(held.pop(0))
            expected += 1
        out.append(released)
    return out


def _stops_at_ten(arrivals):  # some other bug: the check points at the first wrong arrival
    out, held, expected = [], set(), 1
    for seq in arrivals:
        if seq >= expected:
            held.add(seq)
        released = []
        while expected in held and expected < 10:
            held.remove(expected)
            released.append(expected)
            expected += 1
        out.append(released)
    return out


def _from_the_first_arrival(arrivals):
    return _from(arrivals[0])(arrivals) if arrivals else []


def _flushes_at_the_end(arrivals):  # "the stream is over: release what is left"
    out = solution.resequence(arrivals)
    if out:
        done = {s for r in out for s in r}
        out[-1] = out[-1] + sorted(set(arrivals) - done)
    return out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda arrivals: [[s] for s in arrivals], "arrival order"),
        (_from(0), "start counting at 0"),
        (_with_a_list, "more than once"),
        (_one_at_a_time, "at most one number per arrival"),
        (_all_at_the_end, "the timing is not"),
        (lambda arrivals: sorted(arrivals), "one list *per arrival*"),
        (lambda arrivals: "1 2 3", "Return a list"),
        (lambda arrivals: [set() for _ in arrivals], "Each item must be a list"),
        (_from_the_first_arrival, "started from the first number that arrived"),
        (_flushes_at_the_end, "past a gap"),
        (_sorted_list_keeps_duplicates, "arrived a second time"),
        (_stops_at_ten, "you released [2, 3, 4, 5, 6, 7, 8, 9], but it should be"),
    ],
)
def test_ex4_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex4(answer), hint)


def test_ex4_does_not_let_the_answer_change_the_cases():
    def vandal(arrivals):
        out = solution.resequence(arrivals)
        arrivals.clear()
        return out

    assert right(check.ex4(vandal))
    assert right(check.ex4(solution.resequence))
