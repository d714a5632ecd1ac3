"""The checks of lesson 06 accept the reference solutions and reject typical mistakes kindly."""

import math
import signal
import statistics
import threading
import time

import pytest
from solutions import lesson06 as solution
from verdicts import right, unattempted, wrong

from mqlab import theory
from mqlab.checks import lesson06 as check


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", [check.ex1, check.ex3])
def test_a_starter_function_is_not_attempted(ex):
    def starter(*args):
        ...

    assert unattempted(ex(starter))


def test_the_starter_dict_of_exercise_4_is_not_attempted():
    assert unattempted(check.ex4({"validate": ..., "pay": ..., "ship": ...}))


@pytest.mark.parametrize("ex", [check.ex1, check.ex3])
def test_a_called_function_gets_a_hint(ex):
    assert wrong(ex(3.7), "without calling it")


# -- exercise 1: p99 latency -----------------------------------------------------------------------

def _latencies(trace, start="publish", order="ack", end="ack"):
    began, out = {}, []
    for e in trace:
        if e.kind == start and e.msg not in began:
            began[e.msg] = e.time
        elif e.kind == end and e.msg in began:
            out.append((began[e.msg], e.time - began.pop(e.msg)))
    if order == "publish":
        out.sort()
    return [w for _, w in out]


def test_ex1_accepts_the_reference():
    assert right(check.ex1(solution.p99_latency))


def test_ex1_accepts_linear_interpolation_and_nearest_rank_too():
    def linear(trace):
        xs = sorted(_latencies(trace))
        pos = 0.99 * (len(xs) - 1)
        lo = math.floor(pos)
        return xs[lo] + (xs[lo + 1] - xs[lo]) * (pos - lo)

    def nearest_rank(trace):
        xs = sorted(_latencies(trace))
        return xs[math.ceil(0.99 * len(xs)) - 1]

    assert right(check.ex1(linear))
    assert right(check.ex1(nearest_rank))
    assert right(check.ex1(lambda t: statistics.quantiles(_latencies(t), n=100)[98]))


def test_ex1_the_mean_is_not_the_tail():
    assert wrong(check.ex1(lambda t: statistics.mean(_latencies(t))), "mean latency")


def test_ex1_the_median_is_not_the_tail():
    assert wrong(check.ex1(lambda t: statistics.median(_latencies(t))), "median")


def test_ex1_an_unsorted_list():
    def unsorted(trace):
        xs = _latencies(trace)
        return xs[int(0.99 * len(xs))]

    def publish_order(trace):
        xs = _latencies(trace, order="publish")
        return xs[int(0.99 * len(xs))]

    assert wrong(check.ex1(unsorted), "not sorted")
    assert wrong(check.ex1(publish_order), "not sorted")


def test_ex1_sorted_the_wrong_way():
    def descending(trace):
        xs = sorted(_latencies(trace), reverse=True)
        return xs[int(0.99 * len(xs))]

    assert wrong(check.ex1(descending), "largest down", "smallest up")


def test_ex1_milliseconds():
    assert wrong(check.ex1(lambda t: 1000 * solution.p99_latency(t)), "milliseconds")


def test_ex1_which_latency():
    def from_enqueue(trace):
        xs = sorted(_latencies(trace, start="enqueue"))
        return xs[int(0.99 * len(xs))]

    def service_only(trace):
        xs = sorted(_latencies(trace, start="start"))
        return xs[int(0.99 * len(xs))]

    assert wrong(check.ex1(from_enqueue), "enqueue to ack", "publish")
    assert wrong(check.ex1(service_only), "service time alone")


@pytest.mark.parametrize("end", ["deliver", "start"])
@pytest.mark.parametrize("how", ["index", "linear", "quantiles"])
def test_ex1_stopping_at_deliver_leaves_out_the_work(end, how):
    # the worker's start comes at its deliver: stopping at either leaves out the service
    def to_end(trace):
        xs = sorted(_latencies(trace, end=end))
        if how == "index":
            return xs[int(0.99 * len(xs))]
        if how == "quantiles":
            return statistics.quantiles(xs, n=100)[98]
        pos = 0.99 * (len(xs) - 1)
        lo = math.floor(pos)
        return xs[lo] + (xs[lo + 1] - xs[lo]) * (pos - lo)

    verdict = check.ex1(to_end)
    assert wrong(verdict, "publish to deliver", "leaves out the work", "to its ack")
    assert "enqueue" not in verdict.message


def test_ex1_the_longest_and_other_percentiles():
    assert wrong(check.ex1(lambda t: max(_latencies(t))), "longest latency")

    def p95(trace):
        xs = sorted(_latencies(trace))
        return xs[int(0.95 * len(xs))]

    assert wrong(check.ex1(p95), "95th percentile")


def test_ex1_a_global_instead_of_the_argument():
    lesson = check.lesson_run().trace
    assert wrong(check.ex1(lambda t: solution.p99_latency(lesson)), "argument `trace`")


def test_ex1_no_return_text_and_errors():
    def forgot(trace):
        print(solution.p99_latency(trace))

    assert wrong(check.ex1(forgot), "return")
    assert wrong(check.ex1(lambda t: [solution.p99_latency(t)]), "one number")
    assert wrong(check.ex1(lambda t: 1 / 0), "ZeroDivisionError")


# -- exercise 2: the prediction ------------------------------------------------------------------

def test_ex2_accepts_the_reference_and_a_rounded_reading():
    assert right(check.ex2(solution.PREDICTION))
    assert right(check.ex2(5.2))
    assert check.knee_ratio() == pytest.approx(5.0)


def test_ex2_within_half_is_the_same_on_both_sides():
    assert check.knee_ratio() == 5.0  # exactly: no 4.999999999999999
    assert right(check.ex2(4.5))
    assert right(check.ex2(5.5))
    assert wrong(check.ex2(4.4), "more than that")
    assert wrong(check.ex2(5.6), "less than that")


@pytest.mark.parametrize("guess, words", [
    (1.8, ["how much the load grew"]),
    (9, ["L", "Wq"]),
    (0.2, ["Upside down"]),
    (2.0, ["mean latency at rho = 0.9 itself"]),
    (10, ["1 / (1 - 0.9)", "units of the service time", "latency at rho = 0.5", "divide"]),
    (1 / (1 - 0.9), ["1 / (1 - 0.9)", "divide"]),
    (0.4, ["mean latency at rho = 0.5 (0.4 s)", "how much rho grew", "ratio"]),
    (1, ["not slower"]),
    (2.5, ["more than that"]),
    (8, ["less than that"]),
    ("5", ["without quotes"]),
    ([5], ["one number"]),
])
def test_ex2_typical_wrong_predictions(guess, words):
    assert wrong(check.ex2(guess), *words)


# -- exercise 3: size a pool ---------------------------------------------------------------------

def test_ex3_accepts_the_reference():
    assert right(check.ex3(solution.pool_size))


def test_ex3_just_enough_to_keep_up_is_not_enough():
    assert wrong(check.ex3(lambda r, s, w: math.ceil(r * s)), "Little's law", "busy")
    assert wrong(check.ex3(lambda r, s, w: math.floor(r * s) + 1), "Little's law", "Wq")


def test_ex3_mu_is_a_rate():
    def service_as_mu(rate, service, max_wait):
        c = math.floor(rate / service) + 1
        while theory.mmc(rate, service, c)["Wq"] > max_wait:
            c += 1
        return c

    assert wrong(check.ex3(service_as_mu), "mu is a rate")


def _counting(key):
    """pool_size comparing mmc's ``key`` with the target instead of Wq."""
    def pool_size(rate, service, max_wait):
        c = math.floor(rate * service) + 1
        while theory.mmc(rate, 1 / service, c)[key] > max_wait:
            c += 1
        return c

    return pool_size


def test_ex3_lq_is_a_number_of_messages():
    assert wrong(check.ex3(_counting("Lq")), "You compared Lq", "not a time", "Wq")


def test_ex3_p_wait_is_a_probability():
    assert wrong(check.ex3(_counting("P_wait")), "You compared P_wait", "probability", "Wq")


def test_ex3_lq_or_p_wait_unwatched_still_named_by_the_answers():
    # a function that imported mmc by name is not watched: its answers give it away
    from mqlab.theory import mmc

    def compares_lq(rate, service, max_wait):
        c = math.floor(rate * service) + 1
        while mmc(rate, 1 / service, c)["Lq"] > max_wait:
            c += 1
        return c

    assert wrong(check.ex3(compares_lq), "Lq or P_wait", "neither is a time", "Wq")


def test_ex3_w_never_drops_below_the_service_time():
    started = time.monotonic()
    verdict = check.ex3(_counting("W"))
    assert wrong(verdict, "You compared W", "0.5 s of service", "never reach 0.1 s", "Wq")
    assert time.monotonic() - started < check.LIMIT  # stopped, not timed out


def test_ex3_w_in_a_capped_loop_is_named_too():
    def capped(rate, service, max_wait):
        for c in range(math.floor(rate * service) + 1, 60):
            if theory.mmc(rate, 1 / service, c)["W"] <= max_wait:
                return c
        return 59

    assert wrong(check.ex3(capped), "You compared W", "Wq")


def test_ex3_sizing_by_utilisation():
    def by_rho(rate, service, max_wait):
        c = math.floor(rate * service) + 1
        while theory.mmc(rate, 1 / service, c)["rho"] > 0.8:
            c += 1
        return c

    def by_hand(rate, service, max_wait):
        c = math.floor(rate * service) + 1
        while rate * service / c > 0.8:
            c += 1
        return c

    assert wrong(check.ex3(by_rho), "utilisation, rho", "Wq")
    assert wrong(check.ex3(by_hand), "One too few", "rule of thumb", "rho ≤ 0.8")


def test_ex3_a_loop_on_wq_that_never_stops_is_stopped_early():
    def wrong_way(rate, service, max_wait):
        c = math.floor(rate * service) + 1
        while theory.mmc(rate, 1 / service, c)["Wq"] < max_wait or c < 1000:
            c += 1
        return c

    assert wrong(check.ex3(wrong_way), f"more than {check.RUNAWAY} pool sizes",
                 "condition ever become false")


def test_ex3_mmc_is_itself_again_after_a_check():
    original = theory.mmc
    check.ex3(_counting("W"))
    check.ex3(solution.pool_size)
    assert theory.mmc is original
    assert type(theory.mmc(12, 2, 8)) is dict


def test_ex3_off_by_one_and_counting_from_one():
    assert wrong(check.ex3(lambda r, s, w: solution.pool_size(r, s, w) - 1), "One too few",
                 "with 7 workers", "0.307 s", "the last c that failed")
    assert wrong(check.ex3(lambda r, s, w: solution.pool_size(r, s, w) + 1), "One too many")

    def from_one(rate, service, max_wait):
        c = 1
        while theory.mmc(rate, 1 / service, c)["Wq"] > max_wait:
            c += 1
        return c

    assert wrong(check.ex3(from_one), "start counting from there")


def test_ex3_wants_an_int_like_exercise_4():
    verdict = check.ex3(lambda r, s, w: float(solution.pool_size(r, s, w)))
    assert wrong(verdict, "as an int (8, not 8.0)", "int(8.0) gives 8", "math.ceil")
    assert wrong(check.ex3(lambda r, s, w: r * s + 0.5), "whole number")
    assert wrong(check.ex3(lambda r, s, w: True), "whole number")
    # an int of another type is an int: numpy's (matplotlib needs numpy)
    import numpy as np

    assert right(check.ex3(lambda r, s, w: np.int64(solution.pool_size(r, s, w))))


def test_ex3_a_loop_that_never_ends_is_stopped(monkeypatch):
    monkeypatch.setattr(check, "LIMIT", 0.2)
    released = threading.Event()

    def forever(rate, service, max_wait):
        while not released.is_set():  # for ever, as far as the check can tell
            pass

    try:
        assert wrong(check.ex3(forever), "did not return")
    finally:  # a thread cannot be killed: let it end, or it slows every later test
        released.set()


# -- exercise 3's try-it line: check.try_pool_size ---------------------------------------------

def test_try_pool_size_returns_what_the_function_returns(capsys):
    assert check.try_pool_size(solution.pool_size, 12, 0.5, 0.1) == 8
    assert check.try_pool_size(solution.pool_size, 24, 0.5, 0.1) == 15

    def starter(rate, service, max_wait):
        # your code here
        ...

    assert check.try_pool_size(starter, 12, 0.5, 0.1) is None
    assert capsys.readouterr().out == ""  # the untouched exercise: nothing printed, no error


def test_try_pool_size_stops_the_loop_on_w_and_names_it(capsys):
    started = time.monotonic()
    assert check.try_pool_size(_counting("W"), 12, 0.5, 0.1) is None
    assert time.monotonic() - started < 1  # stopped by counting mmc's calls, not by the clock
    out = capsys.readouterr().out
    assert out.startswith("Stopped: pool_size(12, 0.5, 0.1) asked mq.theory.mmc about more "
                          f"than {check.RUNAWAY} pool sizes")
    assert "You compared W" in out and "never reach 0.1 s" in out and "Wq" in out
    assert type(theory.mmc(12, 2, 8)) is dict  # mmc is itself again


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM time limit here")
def test_try_pool_size_stops_a_loop_without_mmc_by_the_clock(monkeypatch, capsys):
    monkeypatch.setattr(check, "LIMIT", 0.2)
    handler = signal.getsignal(signal.SIGALRM)

    def forever(rate, service, max_wait):
        while True:
            pass

    started = time.monotonic()
    assert check.try_pool_size(forever, 12, 0.5, 0.1) is None
    assert time.monotonic() - started < 2
    assert "Stopped: pool_size(12, 0.5, 0.1) did not return within 0.2 s" in \
        capsys.readouterr().out
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


def test_try_pool_size_shows_an_error_as_calling_it_would(capsys):
    with pytest.raises(ZeroDivisionError):
        check.try_pool_size(lambda r, s, w: 1 / 0, 12, 0.5, 0.1)
    assert check.try_pool_size(8, 12, 0.5, 0.1) is None
    assert "Pass the function itself" in capsys.readouterr().out


# -- exercise 4: the bottleneck --------------------------------------------------------------------

def test_ex4_accepts_the_reference_with_or_without_zeros():
    assert right(check.ex4(solution.EXTRA_WORKERS))
    assert right(check.ex4({"validate": 0, **solution.EXTRA_WORKERS}))
    assert check.bottleneck_answer() == solution.EXTRA_WORKERS


def test_ex4_fixing_only_the_first_bottleneck_moves_it():
    assert wrong(check.ex4({"pay": 2}), "ship still falls behind",
                 "Now that pay keeps up, the bottleneck has moved on to ship")


def test_ex4_a_worker_at_the_first_stage_moves_nothing():
    verdict = check.ex4({"validate": 1})
    assert wrong(verdict, "pay still falls behind", "validate already kept up",
                 "60 %", "pay was the bottleneck all along")
    assert "moved" not in verdict.message


def test_ex4_the_template_with_dots_left_in_and_the_pipeline_it_builds():
    answer = {"validate": ..., "pay": 2, "ship": 1}
    assert right(check.ex4(answer))
    assert right(check.ex4({"validate": None, "pay": 2, "ship": 1}))
    # the cell after the exercise builds the pipeline from the same dict
    run = check.pipeline(extra=answer).run(until=5)
    assert {n["workers"] for n in check.stage_numbers(run).values()} == {1, 2, 3}


def test_ex4_too_few_at_the_bottleneck():
    assert wrong(check.ex4({"pay": 1, "ship": 1}), "pay still falls behind", "3 in all")


def test_ex4_totals_instead_of_extras():
    assert wrong(check.ex4({"pay": 3, "ship": 2}), "totals", "extra")
    assert wrong(check.ex4({"validate": 1, "pay": 3, "ship": 2}), "totals")


def test_ex4_a_worker_where_none_is_needed():
    assert wrong(check.ex4({"validate": 1, "pay": 2, "ship": 1}), "not with the fewest",
                 "validate")


def test_ex4_bad_shapes():
    assert wrong(check.ex4({"payment": 2}), "not a stage")
    assert wrong(check.ex4({"pay": 1.5, "ship": 1}), "whole numbers")
    assert wrong(check.ex4({"pay": 2.0, "ship": 1}), "as an int (2, not 2.0)")
    assert wrong(check.ex4(3), "dict")


def test_ex4_no_extra_workers_at_all_leaves_pay_behind():
    assert wrong(check.ex4({"validate": 0, "pay": 0, "ship": 0}), "pay still falls behind")
