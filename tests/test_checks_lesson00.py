"""The checks of lesson 00 accept the reference solutions and reject typical mistakes kindly."""

import statistics

import pytest
from solutions import lesson00 as solution
from verdicts import right, unattempted, wrong

import mqlab as mq
from mqlab import metrics
from mqlab.checks import lesson00 as check

# -- every check: the starter, a forgotten return, a crash, the function called by mistake ------

CHECKS = [check.ex1, check.ex2, check.ex3]


@pytest.mark.parametrize("ex", CHECKS + [check.ex4, check.predict])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", CHECKS)
def test_a_function_that_returns_none_is_not_attempted(ex):
    def starter(*args):
        ...

    v = ex(starter)
    assert unattempted(v)


@pytest.mark.parametrize("ex", CHECKS)
def test_an_exception_in_the_answer_is_reported_not_raised(ex):
    def broken(*args):
        return {}["no such key"]

    v = ex(broken)
    assert wrong(v, "KeyError", "no such key")


@pytest.mark.parametrize("ex", CHECKS)
def test_a_called_function_instead_of_the_function_gets_a_hint(ex):
    assert wrong(ex(42), "without calling it")


# -- the prediction: when is message 37 acked? ----------------------------------------------------

# At t = 7.54 s the worker holds message 31, started at 7.44 s: it is free at 7.64 s, then works
# 0.2 s on each of the five messages ahead of 37 (32 to 36) and 0.2 s on 37 itself.
PREDICTED_ACK = 8.84  # seconds on the run's clock


def test_predict_accepts_the_reference_rounded_either_way():
    assert right(check.predict(PREDICTED_ACK))
    assert right(check.predict(8.85))
    assert right(check.predict(8.844))


def test_predict_matches_what_the_lesson_shows():
    """The lesson's picture and text: at 7.54 s, 31 at the worker since 7.44 s, 32-37 waiting."""
    moment = check._moment()
    assert check.PREDICT_AT == 7.54 and check.PREDICT_MSG == 37
    assert moment["held"] == 31 and round(moment["held_start"], 2) == 7.44
    assert moment["waiting"] == [32, 33, 34, 35, 36, 37]
    assert round(moment["ack"], 2) == PREDICTED_ACK


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (8.64, "*starts*"),  # the start of 37, not its ack
        (9.04, "One service too many"),  # off by one
        (8.74, "You left out message 31"),  # 7.54 + 6 x 0.2: the message in service forgotten
        (8.94, "only 0.1 s of work is left"),  # 7.54 + 7 x 0.2: a whole service for 31
        (1.3, "how long from now"),  # a duration, not a time on the clock
        (1.6, "latency"),  # publish -> ack
        (8844, "milliseconds"),
        (9.5, "step by step"),
        ("8.84", "without quotes"),
        ([8.84], "one number"),
        (True, "one number"),
        (float("nan"), "one number"),
    ],
)
def test_predict_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.predict(answer), hint)


# -- exercise 1: count_acks ----------------------------------------------------------------------


def test_ex1_accepts_the_reference_and_the_trace_api_one_liner():
    assert right(check.ex1(solution.count_acks))
    assert right(check.ex1(lambda tr, c, u: len(tr.filter(kind="ack", node=c, stop=u))))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        # every consumer's acks, not just this one's
        (lambda tr, c, u: len(tr.filter(kind="ack", stop=u)), "every consumer"),
        # <= instead of <
        (lambda tr, c, u: sum(1 for e in tr if e.kind == "ack" and e.node == c and e.time <= u),
         "exactly at `until`"),
        # no time window at all
        (lambda tr, c, u: len(tr.filter(kind="ack", node=c)), "at or after `until`"),
        # deliveries instead of acks
        (lambda tr, c, u: len(tr.filter(kind="deliver", peer=c, stop=u)), "deliveries"),
        # start events instead of acks
        (lambda tr, c, u: len(tr.filter(kind="start", node=c, stop=u)), "`start`"),
        # every event at the consumer
        (lambda tr, c, u: len(tr.filter(node=c, stop=u)), "every event at the consumer"),
        # the consumer looked up in the wrong column
        (lambda tr, c, u: len(tr.filter(kind="ack", peer=c, stop=u)), "`node`"),
        # the Trace itself instead of its length
        (lambda tr, c, u: tr.filter(kind="ack", node=c, stop=u), "len("),
        # a list of the events
        (lambda tr, c, u: list(tr.filter(kind="ack", node=c, stop=u)), "Return a number"),
        # hard-coded from the lesson's example
        (lambda tr, c, u: 7, "you returned 7"),
    ],
)
def test_ex1_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex1(answer), hint)


def _lesson_runs():
    """The lesson's first run (section 2) and practice run (section 4), built as its cells do."""
    net = mq.Network(seed=1)
    net.producer("sensor", rate=4.0, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=0.2)
    net.link("sensor", "hub", latency=0.2)
    practice_net = mq.Network(seed=2)
    practice_net.producer("sensor", rate=6.0, routing_key="jobs")
    practice_net.broker("hub")
    practice_net.queue("hub", "jobs")
    practice_net.consumer("fast", queue="jobs", service=0.15)
    practice_net.consumer("slow", queue="jobs", service=0.4)
    return net.run(until=30, progress=False), practice_net.run(until=20, progress=False)


# globals, as in the student's notebook
run, practice = _lesson_runs()


def test_the_checks_know_the_lessons_runs():
    assert check._first_system().digest() == run.trace.digest()
    assert check._practice_run().digest() == practice.trace.digest()


def _acks(tr, c, u, *, scale=1.0, limit=1.0):
    return sum(1 for e in tr if e.kind == "ack" and e.node == c and e.time * scale < u * limit)


@pytest.mark.parametrize(
    ("answer", "hints"),
    [
        # times taken as milliseconds
        (lambda tr, c, u: _acks(tr, c, u, scale=1000), ["unit error", "seconds"]),
        # until taken as milliseconds: every ack counts
        (lambda tr, c, u: _acks(tr, c, u, limit=1000), ["at or after `until`", "seconds"]),
        # the practice run of the lesson instead of the argument
        (lambda tr, c, u: _acks(practice.trace, c, u), ["practice run", "`practice.trace`"]),
        # the first run of the lesson: it has no such consumers, so 0 every time
        (lambda tr, c, u: _acks(run.trace, c, u), ["counted nothing", "`trace`"]),
        # a misspelt kind: 0 every time
        (lambda tr, c, u: sum(1 for e in tr if e.kind == "acked" and e.node == c and e.time < u),
         ["counted nothing", "`'ack'`"]),
    ],
)
def test_ex1_names_unit_errors_globals_and_zeros(answer, hints):
    assert wrong(check.ex1(answer), *hints)


def test_ex1_does_not_let_the_answer_change_the_cases():
    def vandal(trace, consumer, until):
        n = solution.count_acks(trace, consumer, until)
        trace.rows.clear()
        return n

    assert right(check.ex1(vandal))


# -- exercise 2: mean_latency ----------------------------------------------------------------------


def test_ex2_accepts_the_reference_and_the_metrics_one_liner():
    assert right(check.ex2(solution.mean_latency))
    assert right(check.ex2(lambda tr: statistics.mean(metrics.latencies(tr))))


def _from(kind):
    def mean_latency(trace):
        began = {}
        waits = []
        for e in trace:
            if e.kind == kind and e.msg not in began:
                began[e.msg] = e.time
            elif e.kind == "ack" and e.msg in began:
                waits.append(e.time - began.pop(e.msg))
        return sum(waits) / len(waits)

    return mean_latency


def _per_published(trace):
    return sum(metrics.latencies(trace)) / len(trace.filter(kind="publish"))


def _zipped(trace):
    pubs = trace.filter(kind="publish").column("time")
    acks = trace.filter(kind="ack").column("time")
    return statistics.mean(b - a for a, b in zip(pubs, acks, strict=False))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (_from("deliver"), "`deliver`"),
        (_from("enqueue"), "reached the broker"),
        (_from("arrive"), "reached the broker"),
        (_from("start"), "*processing* time"),
        (_per_published, "divided by every published message"),
        (_zipped, "pair them by message id"),
        (lambda tr: statistics.median(metrics.latencies(tr)), "median"),
        (lambda tr: sum(metrics.latencies(tr)), "total"),
        (lambda tr: 1000 * statistics.mean(metrics.latencies(tr)), "milliseconds"),
        (lambda tr: metrics.latencies(tr), "Return one number"),
        (lambda tr: 0.42, "but the mean latency is"),
    ],
)
def test_ex2_rejects_typical_mistakes_with_a_specific_hint(answer, hint):
    assert wrong(check.ex2(answer), hint)


def _until_the_end(last_event=False):
    def mean_latency(trace):
        published, acked = {}, {}
        for e in trace:
            if e.kind == "publish":
                published.setdefault(e.msg, e.time)
            elif e.kind == "ack":
                acked.setdefault(e.msg, e.time)
        end = trace[len(trace) - 1].time if last_event else trace.duration
        return statistics.mean(acked.get(m, end) - t for m, t in published.items())

    return mean_latency


@pytest.mark.parametrize(
    ("answer", "hints"),
    [
        (_until_the_end(), ["never acked", "acked messages only"]),
        (_until_the_end(last_event=True), ["never acked"]),
        (lambda tr: solution.mean_latency(practice.trace), ["practice run", "`practice.trace`"]),
        (lambda tr: solution.mean_latency(run.trace), ["first run", "`run.trace`"]),
        # a number that fits no known mistake, the same on every run
        (lambda tr: 0.42, ["0.4200 s on every run", "another cell"]),
    ],
)
def test_ex2_names_unacked_messages_and_globals(answer, hints):
    assert wrong(check.ex2(answer), *hints)


def test_ex2_reports_a_division_by_zero_kindly():
    def no_acks_seen(trace):
        acked = [e for e in trace if e.kind == "acked"]  # a typo in the kind
        return sum(e.time for e in acked) / len(acked)

    assert wrong(check.ex2(no_acks_seen), "ZeroDivisionError", "one consumer")


# -- exercise 3: schedule_tea --------------------------------------------------------------------


def test_ex3_accepts_the_reference_both_ways():
    assert right(check.ex3(solution.schedule_tea))
    assert right(check.ex3(solution.schedule_tea_chained))


def test_the_reference_really_produces_the_story():
    import mqlab as mq

    engine, log = mq.Engine(), []
    solution.schedule_tea(engine, log)
    engine.run()
    assert log == check.TEA_STORY


def _tea(order, delays=None):
    """Schedule the story's texts at the story's times (or given delays), in a given order."""
    times = dict((text, t) for t, text in check.TEA_STORY)

    def schedule_tea(engine, log):
        for text in order:
            delay = times[text] if delays is None else delays[text]
            engine.schedule(delay, solution.note, engine, log, text)

    return schedule_tea


TEXTS = [text for _, text in check.TEA_STORY]


def test_ex3_explains_the_tie_breaking_rule():
    swapped = TEXTS[:2] + [TEXTS[3], TEXTS[2]] + TEXTS[4:]
    assert wrong(check.ex3(_tea(swapped)), "order they were *scheduled*")


def test_ex3_explains_delays_counted_from_now():
    def schedule_tea(engine, log):
        def boil():
            solution.note(engine, log, "the water boils")
            solution.note(engine, log, "pour the water")
            engine.schedule(6.5, solution.note, engine, log, "take the tea bag out")  # absolute!

        solution.note(engine, log, "fill the kettle")
        engine.schedule(0.5, solution.note, engine, log, "switch the kettle on")
        engine.schedule(3.5, boil)

    assert wrong(check.ex3(schedule_tea), "'take the tea bag out'", "3.5 s too late",
                 "engine.now")


def test_ex3_names_missing_and_unexpected_entries():
    def typo(engine, log):
        _tea(TEXTS[:4])(engine, log)
        engine.schedule(6.5, solution.note, engine, log, "remove the tea bag")

    assert wrong(check.ex3(typo), "missing: 'take the tea bag out'",
                 "not in the story: 'remove the tea bag'")
    assert wrong(check.ex3(_tea(TEXTS[:3])), "missing")


def test_ex3_notices_an_event_scheduled_twice():
    assert wrong(check.ex3(_tea(TEXTS + TEXTS[-1:])), "scheduled twice")


def test_ex3_rejects_a_log_written_by_hand():
    def by_hand(engine, log):
        log.extend(check.TEA_STORY)

    assert wrong(check.ex3(by_hand), "scheduled nothing")


def test_ex3_rejects_times_typed_in_instead_of_read_from_the_clock():
    def typed_times(engine, log):
        for t, text in check.TEA_STORY:
            engine.schedule(0.0, log.append, (t, text))

    assert wrong(check.ex3(typed_times), "Don't type the times yourself")


def test_ex3_wants_time_and_text_pairs():
    def texts_only(engine, log):
        for t, text in check.TEA_STORY:
            engine.schedule(t, log.append, text)

    assert wrong(check.ex3(texts_only), "pair (time, text)")


# globals, as in the student's notebook (the try-it cell of exercise 3)
tea_engine, tea_log = mq.Engine(), []


def test_ex3_names_an_engine_from_another_cell():
    def schedule_tea(engine, log):
        for t, text in check.TEA_STORY:
            tea_engine.at(t, solution.note, tea_engine, log, text)

    assert wrong(check.ex3(schedule_tea), "`tea_engine`", "another cell")


def test_ex3_names_a_log_from_another_cell():
    def schedule_tea(engine, log):
        def note_it(text):  # the global is used inside a nested function
            solution.note(engine, tea_log, text)

        for t, text in check.TEA_STORY:
            engine.at(t, note_it, text)

    assert wrong(check.ex3(schedule_tea), "`tea_log`", "`log` parameter")


def test_ex3_refuses_a_function_that_does_nothing_on_its_engine():
    def schedule_tea(engine, log):
        own = mq.Engine()  # a new engine of its own
        own.schedule(0.0, solution.note, own, log, "fill the kettle")

    assert wrong(check.ex3(schedule_tea), "scheduled nothing")


@pytest.mark.parametrize("runner", ["run", "step"])
def test_ex3_refuses_a_function_that_runs_the_engine(runner):
    def schedule_tea(engine, log):
        solution.schedule_tea(engine, log)
        if runner == "run":
            engine.run()
        else:
            while engine.pending():
                engine.step()

    assert wrong(check.ex3(schedule_tea), "runs the engine itself", "only *schedule*")


def test_ex3_explains_times_shifted_without_nesting():
    # every time after the first 0.5 s early: the wait before switching on is left out
    delays = {text: max(0.0, t - 0.5) for t, text in check.TEA_STORY}
    v = check.ex3(_tea(TEXTS, delays))
    assert wrong(v, "From 'switch the kettle on' on", "0.5 s too early", "left out",
                 "before the engine runs")
    assert "inside an event" not in v.message  # the nesting hint does not fit here


def test_ex3_explains_one_wrong_time_without_nesting():
    delays = dict(((text, t) for t, text in check.TEA_STORY), **{"take the tea bag out": 6.0})
    v = check.ex3(_tea(TEXTS, delays))
    assert wrong(v, "'take the tea bag out'", "0.5 s too early", "check.TEA_STORY")
    assert "From" not in v.message and "inside an event" not in v.message


def test_ex3_reports_an_error_inside_a_scheduled_event():
    def bad_event(engine, log):
        engine.schedule(1.0, solution.note, engine, "not a list", "oops")

    assert wrong(check.ex3(bad_event), "AttributeError", "while the engine ran")


def test_ex3_does_not_hang_on_an_event_that_reschedules_itself_forever():
    def forever(engine, log):
        def tick():
            solution.note(engine, log, "tick")
            engine.schedule(1.0, tick)

        engine.schedule(0.0, tick)

    assert wrong(check.ex3(forever), "not in the story: 'tick'")


# -- exercise 4: the glossary ----------------------------------------------------------------------


def test_ex4_accepts_the_reference_and_other_spellings():
    assert right(check.ex4(solution.GLOSSARY))
    other = dict(solution.GLOSSARY)
    other.update({"代理": "Agent", "发布-订阅": "pub/sub", "生产者-消费者": "Producer-Consumer"})
    assert right(check.ex4(other))


def test_ex4_accepts_simple_plurals():
    plurals = dict(solution.GLOSSARY, 消息="messages", 队列="Queues", 代理="brokers",
                   吞吐量="throughputs", 延迟="latencies", 队列长度="queue lengths")
    assert right(check.ex4(plurals))
    assert right(check.ex4(dict(solution.GLOSSARY, **{"生产者-消费者": "producers–consumers"})))
    # a plural of a wrong answer stays wrong
    assert wrong(check.ex4(dict(solution.GLOSSARY, 延迟="throughputs")), "Look again at 延迟")


def test_ex4_names_the_wrong_and_the_unanswered_terms():
    answer = dict(solution.GLOSSARY, 延迟="throughput")
    answer["队列长度"] = ...
    v = check.ex4(answer)
    assert wrong(v, "7 of 9 right", "Look again at 延迟", "Still to answer: 队列长度")


def test_ex4_rejects_a_swap_and_a_missing_key():
    swapped = dict(solution.GLOSSARY, 吞吐量="latency", 延迟="throughput")
    assert wrong(check.ex4(swapped), "吞吐量", "延迟")
    partial = {k: v for k, v in solution.GLOSSARY.items() if k != "消息"}
    assert wrong(check.ex4(partial), "lacks 消息")
    assert wrong(check.ex4(["message", "queue"]), "Pass a dict")
    assert wrong(check.ex4(dict(solution.GLOSSARY, 消息=1)), "string")
