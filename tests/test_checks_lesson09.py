"""The checks of lesson 09 accept the reference solutions and reject typical mistakes kindly;
the lesson's recorded real run is shipped, complete, and says what a real broker said."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from solutions import lesson09 as solution
from verdicts import right, unattempted, wrong

import mqlab as mq
from mqlab import rabbit
from mqlab.checks import lesson09 as check

# -- every check: the starter ---------------------------------------------------------------------


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


def test_the_notebooks_starters_are_not_attempted():
    def x_arguments(net, name):
        q = net.queues[name]  # noqa: F841 - as in the notebook
        args = {}  # noqa: F841
        ...

    assert unattempted(check.ex2(x_arguments))
    assert unattempted(check.ex3({"audit": ..., "billing": ..., "dashboard": ...}))
    assert unattempted(check.ex4({"configure": ..., "write": ..., "read": ...}))


# -- exercise 1: the prediction -------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["c", "C", "(c)", " c "])
def test_ex1_accepts_c(answer):
    assert right(check.ex1(answer))
    assert solution.PREDICTION == "c"


@pytest.mark.parametrize(("answer", "hint"), [
    ("a", "really sleeps its 20 ms"),
    ("b", "links take no time"),
    ("d", "well under a millisecond"),
    ("e", "one of the letters"),
    (3, "one of the letters"),
])
def test_ex1_rejects_with_the_intended_hint(answer, hint):
    assert wrong(check.ex1(answer), hint)


def test_ex1_the_real_broker_agrees_with_the_answer():
    """The recorded real run: the fast worker's median latency is over 20 ms, by a few ms."""
    stats = check.worker_stats(check.recorded("work-fair"))
    assert 20.0 < stats["fast"]["p50"] < 30.0


# -- exercise 2: x- arguments ---------------------------------------------------------------------


def test_ex2_accepts_the_reference():
    assert right(check.ex2(solution.x_arguments))


def test_ex2_accepts_leaving_out_the_default_overflow():
    def without_default(net, name):
        args = solution.x_arguments(net, name)
        if args.get("x-overflow") == "drop-head":
            del args["x-overflow"]
        return args

    assert right(check.ex2(without_default))


class _FakeChannel:
    """Records what rabbit.run declares, without a broker."""

    def __init__(self, declared):
        self.declared = declared

    def exchange_declare(self, *args, **kwargs):
        pass

    def queue_bind(self, *args, **kwargs):
        pass

    def queue_declare(self, name, durable=False, arguments=None):
        self.declared[name] = dict(arguments or {})


class _FakeConnection:
    def __init__(self):
        self.declared = {}

    def channel(self):
        return _FakeChannel(self.declared)


def _declared_by_rabbit(net) -> dict:
    """What mqlab.rabbit declares for each queue of ``net``, without its bookkeeping."""
    conn = _FakeConnection()
    session = rabbit._Session(net, 1.0, conn, "amqp://fake/", False)
    session.declare()
    out = {}
    observer = session.real("~dropped")
    for real, args in conn.declared.items():
        name = session.plain(real)
        if real == observer:
            continue
        args.pop("x-expires")
        if args.get("x-dead-letter-exchange") == observer:
            del args["x-dead-letter-exchange"]
        for key in ("x-dead-letter-exchange", "x-dead-letter-routing-key"):
            if key in args:
                args[key] = session.plain(args[key])
        out[name] = args
    return out


def test_the_checks_mapping_is_what_mqlab_rabbit_declares():
    for net, names in check._ex2_networks() + [(check.queue_tour(), ["jobs", "orders", "deals"])]:
        net.resolve()
        declared = _declared_by_rabbit(net)
        for name in names:
            assert check.queue_arguments(net, name) == declared[name], name
            assert solution.x_arguments(net, name) == declared[name], name


def _changed(**how):
    """The reference with one typical mistake."""

    def answer(net, name):
        q = net.queues[name]
        args = solution.x_arguments(net, name)
        if "ttl_seconds" in how and q.message_ttl is not None:
            args["x-message-ttl"] = q.message_ttl
        if "ttl_float" in how and q.message_ttl is not None:
            args["x-message-ttl"] = q.message_ttl * 1000.0
        if "ttl_text" in how and q.message_ttl is not None:
            args["x-message-ttl"] = str(round(q.message_ttl * 1000))
        if "dlq_as_exchange" in how and q.dead_letter in net.queues:
            args["x-dead-letter-exchange"] = q.dead_letter
            del args["x-dead-letter-routing-key"]
        if "dlq_key_only" in how and q.dead_letter in net.queues:
            del args["x-dead-letter-exchange"]
        if "exchange_with_key" in how and q.dead_letter is not None \
                and q.dead_letter not in net.queues:
            args["x-dead-letter-routing-key"] = q.dead_letter
        if "underscore" in how and "x-overflow" in args:
            args["x-overflow"] = args["x-overflow"].replace("-", "_")
        if "no_overflow" in how:
            args.pop("x-overflow", None)
        if "no_priority" in how:
            args.pop("x-max-priority", None)
        if "priority_none" in how and q.kind == "priority" and q.max_priority is None:
            args["x-max-priority"] = 10
        if "no_prefix" in how:
            args = {k[2:]: v for k, v in args.items()}
        if "nones" in how:
            args.setdefault("x-message-ttl", None)
        if "ttl_int" in how and q.message_ttl is not None:
            args["x-message-ttl"] = int(q.message_ttl * 1000)
        if "overflow_always" in how:
            args["x-overflow"] = q.overflow
        if "misspelt_overflow" in how and "x-overflow" in args:
            args["x-overflow-policy"] = args.pop("x-overflow")
        if "priority_always" in how:
            args.setdefault("x-max-priority", 255)
        if "dlx_always" in how:
            args.setdefault("x-dead-letter-exchange", "")
        if "expires" in how and "x-message-ttl" in args:
            args["x-expires"] = args.pop("x-message-ttl")
        if "expires_always" in how:
            args["x-expires"] = 60000
        if "priority_on_fifo" in how and q.kind != "priority" and q.capacity is not None:
            args["x-max-priority"] = 10
        return args

    return answer


@pytest.mark.parametrize(("mistake", "hint"), [
    ("ttl_seconds", "milliseconds"),
    ("ttl_float", "float"),
    ("ttl_text", "text"),
    ("dlq_as_exchange", "but 'stale' is a queue of its network, not an exchange"),
    ("dlq_key_only", "routing_key_but_no_dlx_defined"),
    ("exchange_with_key", "For the queue 'coupons' the dead-letter target 'dlx' is an exchange "
                          "of its network, not a queue (q.dead_letter not in net.queues): give "
                          "no x-dead-letter-routing-key"),
    ("underscore", "with a hyphen"),
    ("no_overflow", "x-overflow is missing"),
    ("no_priority", "x-max-priority is missing"),
    ("priority_none", "255"),
    ("no_prefix", "x- prefix"),
    ("nones", "None"),
    ("ttl_int", "int() cut 2.01 * 1000 down"),
    ("overflow_always", "'plain' has no capacity: x-overflow only goes with x-max-length"),
    ("misspelt_overflow", "the key 'x-overflow-policy', which is not one of the table's"),
    ("priority_always", "The queue 'plain' is not a priority queue"),
    ("dlx_always", "The queue 'plain' has no dead_letter"),
    ("expires", "For the queue 'quotes' you wrote 'x-expires': that deletes the queue itself"),
    ("expires", "(message_ttl=2.01 s) is x-message-ttl"),
    ("expires_always", "'plain' you wrote 'x-expires'"),
    ("expires_always", "This queue has no message_ttl"),
    ("priority_on_fifo", "The queue 'orders' is not a priority queue (kind='fifo')"),
])
def test_ex2_rejects_typical_mistakes_with_the_intended_hint(mistake, hint):
    assert wrong(check.ex2(_changed(**{mistake: True})), hint)


the_lessons_net = check.queue_tour()
the_lessons_net.resolve()


def _reads_a_global(net, name):
    return solution.x_arguments(the_lessons_net, "deals") if name == "deals" else \
        solution.x_arguments(the_lessons_net, "jobs")


def test_ex2_names_the_dead_letter_exchange_dlx_not_expired():
    """Section 2's queue is called expired: the check's dead-letter exchange has another name,
    and the lesson's table uses that name too."""
    nets = check._ex2_networks()
    exchanges = {name for net, _ in nets for name in net.exchanges}
    queues = {name for net, _ in nets for name in net.queues}
    assert "dlx" in exchanges and "expired" not in exchanges | queues
    tour = check.queue_tour()
    tour.resolve()
    assert "expired" in tour.queues and not tour.exchanges
    # no queue of the check has the name of one of the tour's with other options
    for net, names in nets:
        for name in set(names) & set(tour.queues):
            assert check.queue_arguments(net, name) == check.queue_arguments(tour, name), name


def test_ex2_names_a_global_network():
    assert wrong(check.ex2(_reads_a_global), "the_lessons_net", "`net` argument")


def test_ex2_reports_a_crash_and_a_call():
    def broken(net, name):
        return {}["x"]

    assert wrong(check.ex2(broken), "KeyError")
    assert wrong(check.ex2({"x-max-length": 3}), "without calling it")

    def returns_none_later(net, name):
        return {} if name == "plain" else None

    assert wrong(check.ex2(returns_none_later), "returned None")


# -- exercise 3: stream offsets -------------------------------------------------------------------


def test_ex3_accepts_the_reference_and_zero_for_first():
    assert right(check.ex3(solution.OFFSETS))
    v = check.ex3({**solution.OFFSETS, "audit": 0})
    assert right(v) and "retention" in v.message


@pytest.mark.parametrize(("change", "hint"), [
    ({"billing": 6}, "Off by one"),
    ({"billing": 1006}, "order's number"),
    ({"billing": "5"}, "without quotes"),
    ({"billing": "first"}, "1001-1005 again"),
    ({"audit": "last"}, "last chunk"),
    ({"audit": "next"}, "only orders published from now on"),
    ({"dashboard": "last"}, "newest old order"),
    ({"dashboard": "first"}, "replays the whole stream"),
    ({"dashboard": 10}, "tomorrow"),
    ({"billing": 5.0}, "pika cannot even send a float"),
    ({"audit": 0.0}, "audit's offset is a float"),
    ({"billing": check.recorded_cut()}, "the task asks for the offset"),
    ({"billing": 7}, "not where order 1006 is"),
    ({"audit": ...}, "Replace the remaining ... too (audit's offset)"),
    ({"dashboard": None}, "Replace the remaining ... too (dashboard's offset)"),
    ({"audit": "First"}, "audit's offset is 'First': the offset names are written in lower case"),
    ({"dashboard": "Next"}, "lower case, with nothing around them: 'next'"),
    ({"audit": " first"}, "RabbitMQ does not know ' first'"),
    # now, as the test runs (not when it was collected, minutes earlier in a long run)
    ({"dashboard": lambda: dt.datetime.now(dt.timezone.utc)},
     "a time offset counts whole seconds"),
    ({"dashboard": lambda: dt.datetime.now().astimezone()},
     "replay orders written earlier in that same second"),
    ({"dashboard": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)},
     "a fixed time, 2024-05-01 12:00:00"),
    ({"dashboard": "10m"}, "does not mean 'from now on'"),
])
def test_ex3_rejects_typical_mistakes_with_the_intended_hint(change, hint):
    change = {k: v() if callable(v) else v for k, v in change.items()}
    assert wrong(check.ex3({**solution.OFFSETS, **change}), hint)


def test_ex3_a_naive_now_says_what_pika_sends(monkeypatch):
    """pika sends a datetime without a time zone as if it were UTC: on a machine whose clock is
    not UTC, the hint says so; on one that is, it does not."""
    import time

    v = check.ex3({**solution.OFFSETS, "dashboard": dt.datetime.now()})
    assert wrong(v, "counts whole seconds")
    local = dt.datetime.now().astimezone().utcoffset()
    assert ("pika sends such a time as if it were UTC" in v.message) == bool(local)
    if not hasattr(time, "tzset"):
        return
    for zone, said in [("UTC0", False), ("CET-1", True)]:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        try:
            v = check.ex3({**solution.OFFSETS, "dashboard": dt.datetime.now()})
        finally:
            monkeypatch.undo()
            time.tzset()
        assert wrong(v, "counts whole seconds")
        assert ("+1 h from UTC" in v.message) == said, v.message


def test_ex3_wants_every_key():
    assert wrong(check.ex3({"audit": "first", "billing": 5}), "dashboard")


# -- exercise 4: the mailer's permissions ---------------------------------------------------------


def test_ex4_accepts_the_reference_and_an_equivalent():
    assert right(check.ex4(solution.PERMISSIONS))
    assert right(check.ex4({"configure": "^mailer\\.inbox$", "write": "^(emails|mailer\\.inbox)$",
                            "read": "^(mailer\\.inbox|orders)$"}))


@pytest.mark.parametrize(("change", "hint"), [
    ({"write": r"^emails$"}, "binding needs write on the queue"),
    ({"read": r"^mailer\.inbox$"}, "binding needs read on the exchange"),
    ({"configure": ""}, "to declare its queue"),
    ({"configure": r"mailer\.inbox"}, "has no anchors, so it also permits 'mailer.inbox.old'"),
    ({"configure": r"mailer\.inbox"}, "Anchor it: ^ at its start and $ at its end."),
    ({"write": r"mailer\.inbox|emails"}, "has no anchors"),
    ({"write": r"mailer\.inbox|emails"}, "Anchor it: ^ at its start and $ at its end, with the "
                                         "alternatives in a group: ^(a|b)$"),
    ({"read": r"orders|mailer.inbox"}, "has no anchors"),
    ({"read": r"orders|mailer.inbox"}, "unescaped . matches any character (it permits "
                                       "'mailerXinbox')"),
    ({"configure": r"mailer.inbox"}, "has no anchors"),
    ({"configure": r"^mailer\."}, "so add $ at its end"),
    ({"configure": r"mailer\.inbox$"}, "so add ^ at its start"),
    ({"write": ".*"}, "permits every name"),
    ({"read": "."}, "permits every name"),
    ({"read": ...}, "Replace the remaining ... too (the read pattern)"),
    ({"configure": r"^mailer.inbox$"}, "unescaped"),
    ({"write": r"^mailer\.inbox|emails$"}, "Group the alternatives"),
    ({"read": r"^(orders|mailer\.inbox|emails)$"}, "least privilege"),
    ({"read": 5}, "must be a str"),
    ({"read": "^(orders$"}, "not a valid regular expression"),
])
def test_ex4_rejects_typical_mistakes_with_the_intended_hint(change, hint):
    assert wrong(check.ex4({**solution.PERMISSIONS, **change}), hint)


def test_ex4_wants_every_key():
    assert wrong(check.ex4({"configure": r"^mailer\.inbox$", "write": "^emails$"}),
                 "my_permissions lacks 'read'")


def test_ex4_agrees_with_the_real_brokers_rule_for_the_shop():
    """The recorded broker refused exactly what lesson 08's model refuses for the shop."""
    shop = {"configure": "^$", "write": "^orders$", "read": "^$"}
    needs = {"publish to the exchange orders": ("write", "orders"),
             "publish to the exchange payments": ("write", "payments"),
             "publish through the default exchange": ("write", "amq.default"),
             "declare the queue shop.inbox": ("configure", "shop.inbox"),
             "read the queue charges": ("read", "charges")}
    said = check.recorded_attempts()
    assert list(said) == check.SHOP_ATTEMPTS == list(needs)
    for what, (perm, name) in needs.items():
        model = mq.security.permitted(shop[perm], name)
        assert (said[what] == "ok") == model, what
        if not model:
            assert said[what].startswith("403 ACCESS_REFUSED"), said[what]


# -- the recording --------------------------------------------------------------------------------


def test_the_recording_is_shipped_whole():
    for name in check.RUNS:
        assert (check.DATA / f"{name}.json.gz").is_file(), name
    assert (check.DATA / "extras.json.gz").is_file()
    info = check.recording_info()
    assert info["rabbitmq"].startswith("3.")
    assert [c for c, _ in check.recorded_commands()] == check.SHOP_COMMANDS


@pytest.mark.parametrize("name", list(check.RUNS))
def test_each_recorded_run_adds_up_and_is_real(name):
    run = check.recorded(name)
    assert run.summary().balanced
    build, until = check.RUNS[name]
    assert run.trace.duration == pytest.approx(until, abs=0.2)
    times = run.trace.column("time")
    assert any(t != round(t, 2) for t in times)  # real clocks, not the model's round numbers


def test_the_recorded_rules_match_the_simulation():
    unlimited = check.worker_stats(check.recorded("work-unlimited"))
    assert unlimited["fast"]["orders"] == unlimited["slow"]["orders"] == 20
    tour = check.RUNS["queues"]
    assert check.tour_outcomes(check.recorded("queues")) == \
        check.tour_outcomes(tour[0]().run(until=tour[1], progress=False))
    topics = check.RUNS["topics"]
    assert check.routed_keys(check.recorded("topics")) == \
        check.routed_keys(topics[0]().run(until=topics[1], progress=False))


def test_the_tour_outcomes_say_what_the_lesson_says():
    build, until = check.RUNS["queues"]
    out = check.tour_outcomes(build().run(until=until, progress=False))
    assert out == {"jobs": "priorities delivered: 1 9 9 9 9 9 1 1 1 1",
                   "orders": "orders dropped: 2 3 4 5",
                   "deals": "deals expired: 4 5 6 -> 3 in 'expired'"}


def test_recorded_read_is_a_stream():
    everything = [(i, 1001 + i) for i in range(10)]
    assert check.recorded_read("first") == everything
    assert check.recorded_read(7) == everything[7:]
    assert check.recorded_read("next") == []
    assert check.recorded_read("last") == everything[-1:]
    assert check.recorded_read(check.recorded_cut()) == everything[5:]
    assert check.recorded_read("first", 3) == everything[:3]
    with pytest.raises(ValueError, match="x-stream-offset"):
        check.recorded_read("5")


def test_recorded_returns_a_fresh_run_each_time():
    a, b = check.recorded("topics"), check.recorded("topics")
    assert a.trace is not b.trace and a.trace.rows == b.trace.rows
    with pytest.raises(ValueError, match="name must be one of"):
        check.recorded("nope")


def test_describe_broker_says_which_of_the_three(monkeypatch):
    monkeypatch.delenv("MQLAB_RECORDED", raising=False)
    assert "not installed" in check.describe_broker(None)
    assert "install rabbitmq-server" in check.describe_broker(None)

    class Failed:  # installed, but start() raised
        url, started_in = None, None

    said = check.describe_broker(None, Failed())
    assert "installed but did not start" in said and "not installed" not in said
    monkeypatch.setenv("MQLAB_RECORDED", "1")
    assert check.use_recording()
    said = check.describe_broker(None)
    assert "MQLAB_RECORDED=1" in said and "unset it" in said and "install" not in said
    assert "answers at amqp://x/" in check.describe_broker("amqp://x/")


def test_no_rabbitmqctl_without_a_broker_of_ours():
    assert check.rabbitmqctl_for(None, None) is None
    assert check.rabbitmqctl_for(None, "amqp://guest:guest@127.0.0.1:1/") is None


def test_the_sim_numbers_the_lesson_quotes():
    for name, want in [("work-unlimited", {"fast": (20, 20.0, 20.0), "slow": (20, 625.0, 1100.0)}),
                       ("work-fair", {"fast": (30, 20.0, 20.0), "slow": (10, 150.0, 150.0)})]:
        build, until = check.RUNS[name]
        stats = check.worker_stats(build().run(until=until, progress=False))
        for worker, (orders, p50, most) in want.items():
            s = stats[worker]
            assert (s["orders"], round(s["p50"], 1), round(s["max"], 1)) == (orders, p50, most)


def _orders_of(run, worker: str) -> list[int]:
    """The orders (numbered from 1, as the shop sent them) delivered to ``worker``."""
    number = {e.msg: i + 1 for i, e in enumerate(run.trace.filter(kind="publish"))}
    return [number[e.msg] for e in run.trace.filter(kind="deliver", peer=worker)]


def test_the_sim_split_the_lesson_explains():
    """Section 1, prefetch=1, in the model: the slow worker finishes exactly when an order
    arrives; its ack comes first and puts it back in the turn behind fast, so that order goes
    to fast and the next one to slow: it gets orders 2, 6, 10, ..., 38."""
    build, until = check.RUNS["work-fair"]
    run = build().run(until=until, progress=False)
    assert _orders_of(run, "slow") == list(range(2, 40, 4))
    sent = {e.msg: round(e.time, 9) for e in run.trace.filter(kind="publish")}
    ties = [round(e.time, 9) for e in run.trace.filter(kind="ack", node="slow")]
    at_ties = [e.peer for e in run.trace.filter(kind="deliver")
               if sent[e.msg] in ties and round(e.time, 9) == sent[e.msg]]
    assert len(at_ties) == 9 and set(at_ties) == {"fast"}


def test_the_recorded_split_follows_rabbitmqs_turns():
    """The recorded real run, prefetch=1: the slow worker gets one order in four or one in
    five (section 1 says when each), so fewer than the model's 10."""
    slow = _orders_of(check.recorded("work-fair"), "slow")
    assert slow[0] == 2 and {b - a for a, b in zip(slow[:-1], slow[1:], strict=True)} <= {4, 5}
    assert 8 <= len(slow) < 10


# -- on a real broker -----------------------------------------------------------------------------


@pytest.mark.broker
def test_rabbitmq_takes_turns_as_section_1_says(rabbitmq_url):
    """Section 1's account of the real split with prefetch=1, step by step: a consumer found
    full is set aside and rejoins the turn at the back when its ack frees room, behind a
    consumer that was busy but not set aside; so the next message goes to that one, although
    the other has had room for longer (the model's line would give it to the other). Each step
    waits for the broker to have done the last (a delivery seen, or a passive declare after an
    ack), and an ack and the publish after it go on one channel, so that the broker handles
    them in that order: no timing decides anything."""
    import time

    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        queue = conn.channel().queue_declare("", exclusive=True).method.queue
        got, channels = [], {}
        for name in ("fast", "slow"):  # fast first: it is first in the turn
            ch = channels[name] = conn.channel()
            ch.basic_qos(prefetch_count=1)
            ch.basic_consume(queue, lambda c, m, p, b, name=name: got.append(
                (b.decode(), name, m.delivery_tag)))

        def delivered(body):  # wait until a consumer has it: who
            deadline = time.monotonic() + 30
            while not any(g[0] == body for g in got):
                assert time.monotonic() < deadline, f"{body} was not delivered: {got}"
                conn.process_data_events(time_limit=0.05)
            return next(who for b, who, _ in got if b == body)

        def ack(body, then=None):  # ack `body`; publish `then` on the same channel
            who, tag = next((w, t) for b, w, t in got if b == body)
            channels[who].basic_ack(tag)
            if then is None:
                channels[who].queue_declare(queue, passive=True)  # the ack is in
            else:
                channels[who].basic_publish("", queue, then.encode())

        channels["fast"].basic_publish("", queue, b"1")
        assert delivered("1") == "fast"
        channels["fast"].basic_publish("", queue, b"2")
        assert delivered("2") == "slow"  # slow now holds 2 until the end
        ack("1", then="3")
        assert delivered("3") == "fast"  # the turn: slow, fast
        ack("3", then="4")
        assert delivered("4") == "fast"  # slow is full: set aside; fast alone in the turn
        ack("2")  # slow has room again, first: it rejoins the turn behind fast
        ack("4", then="5")  # then fast has room too
        assert delivered("5") == "fast"  # fast's turn, although slow has had room longer
        channels["fast"].basic_publish("", queue, b"6")
        assert delivered("6") == "slow"
    finally:
        conn.close()



@pytest.mark.broker
def test_a_real_tour_and_topic_run_match_the_simulation(rabbitmq_url):
    """The rules hold on the real broker as in the simulation; where the outcome also depends
    on timing (how many reports the worker has started before the payments are in, how many
    deals wait past their TTL), the real run must show the same rule with its own timing."""
    build, until = check.RUNS["topics"]
    real = rabbit.run(build(), until=until, url=rabbitmq_url, progress=False)
    assert check.routed_keys(real) == check.routed_keys(build().run(until=until,
                                                                     progress=False))
    build, until = check.RUNS["queues"]
    sim = check.tour_outcomes(build().run(until=until, progress=False))
    run = rabbit.run(build(), until=until, url=rabbitmq_url, progress=False)
    got = check.tour_outcomes(run)
    assert sim["orders"] == "orders dropped: 2 3 4 5"
    # drop-head: the oldest waiting order goes, so never the first (the packer has it) nor one
    # of the last three; how many go depends on how soon the packer takes a second order
    dropped = [int(n) for n in got["orders"].split(": ")[1].split()]
    assert dropped and set(dropped) <= {2, 3, 4, 5}, got["orders"]
    shop = [e.msg for e in run.trace.filter(kind="publish", node="shop")]
    packed = {e.msg for e in run.trace.filter(kind="ack", node="packer")}
    assert len(shop) == 8 and {i + 1 for i, m in enumerate(shop) if m in packed} == (
        set(range(1, 9)) - set(dropped)), got["orders"]  # every order packed or dropped
    # priorities: some reports first (they were alone), then every payment, then the rest
    jobs = got["jobs"].split(": ")[1].split()
    k = jobs.index("9")
    assert k >= 1 and jobs == ["1"] * k + ["9"] * 5 + ["1"] * (5 - k), got["jobs"]
    # TTL at the head: the deals that expire are the last ones, and all reach 'expired'
    numbers, into = got["deals"].split(": ")[1].split(" -> ")
    expired = [int(n) for n in numbers.split()]
    assert expired and expired == list(range(7 - len(expired), 7)), got["deals"]
    assert into == f"{len(expired)} in 'expired'"


@pytest.mark.broker
def test_the_stream_reader_and_the_recorder_on_a_real_broker(rabbitmq_url):
    stream = check._record_stream(rabbitmq_url)  # asserts what it read
    assert [r[:2] for r in stream["records"]] == [[i, 1001 + i] for i in range(10)]
    assert all(r[2] < stream["cut"] for r in stream["records"][:5])
    assert all(r[2] >= stream["cut"] for r in stream["records"][5:])
    json.dumps(stream)  # what the recording keeps
    assert isinstance(dt.datetime.fromtimestamp(stream["cut"]), dt.datetime)


@pytest.mark.broker
def test_rabbitmqctl_and_the_shops_permissions_on_a_real_broker(rabbitmq_server):
    ctl = check.rabbitmqctl_for(rabbitmq_server, rabbitmq_server.url)
    assert ctl is not None
    for command in check.SHOP_COMMANDS:
        ctl(*command)
    assert "^orders$" in ctl("list_user_permissions", "shop")
    said = check._shop_attempts(rabbitmq_server.url)
    assert said == {what: ("ok" if what == "publish to the exchange orders" else said[what])
                    for what in check.SHOP_ATTEMPTS}
    assert all(v.startswith("403 ACCESS_REFUSED") for k, v in said.items()
               if k != "publish to the exchange orders")
    ctl("delete_user", "shop")


def test_rabbitmqctl_runs_nothing_once_the_broker_is_stopped(tmp_path):
    """Run against a stopped node, rabbitmqctl would start an epmd of its own and leave it."""

    class Stopped:
        url, port, epmd_port, base = "amqp://guest:guest@127.0.0.1:9/", 9, 9, tmp_path

        def running(self):
            return False

    ctl = check.rabbitmqctl_for(Stopped(), Stopped.url)
    if ctl is None:  # rabbitmq-server is not installed here
        pytest.skip("rabbitmqctl is not installed")
    assert "has been stopped" in ctl("status")
