"""A synchronous producer with a request timeout: it retries, or gives up and moves on.

``net.producer(..., mode="sync", timeout=SECONDS, retries=N)``: when no reply comes within
``timeout`` seconds the producer records ``timeout`` (info "retry" or "give up"); a retry is one
more ``publish`` of the same message id. The first reply to any copy answers the request; later
replies are recorded with "(late, ignored)". A copy lost on the link is never answered.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import SETTINGS, build, networks

import mqlab as mq
from mqlab import metrics
from mqlab.state import Timeline

SERVICE = 0.5  # seconds the worker takes per request in the small systems below
LINK = 0.25  # seconds each way on the client's link


def client(timeout=None, retries=0, service=SERVICE, loss=0.0, crash=None, seed=1, count=3,
           interval=2.0, latency=LINK, **producer):
    """client --latency--> hub / jobs --> worker; requests every ``interval`` seconds."""
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=service, crash=crash)
    net.producer("client", interval=interval, count=count, routing_key="jobs", mode="sync",
                 timeout=timeout, retries=retries, **producer)
    net.link("client", "hub", latency=latency, loss=loss)
    return net


def story(run, kinds=("publish", "timeout", "reply", "loss", "ack")):
    """(time rounded to ms, kind, msg, info) of the chosen kinds, in order."""
    return [(round(e.time, 3), e.kind, e.msg, e.info) for e in run.trace.filter(kind=kinds)]


def balanced(run):
    summary = run.summary()
    a = summary.account
    s = run.still
    held = (sum(s["queued"].values()) + sum(s["blocked"].values())
            + sum(s["at_consumers"].values()) + s["on_links"])
    return summary.balanced and a.published + a.copies == a.ended + held


# -- the story of one request ----------------------------------------------------------------------
def test_a_reply_in_time_leaves_no_timeout():
    run = client(timeout=2.0, retries=1).run(until=10, progress=False)
    assert not run.trace.filter(kind="timeout")
    replies = run.trace.filter(kind="reply")
    assert [e.info for e in replies] == ["acked"] * 3
    # a reply takes the trip there, the service time and the trip back: 1 s
    assert [round(e.time, 6) for e in replies] == [3.0, 5.0, 7.0]


def test_a_lost_request_is_retried_then_given_up():
    run = client(timeout=1.0, retries=2, loss=1.0, count=1).run(until=10, progress=False)
    assert story(run) == [
        (2.0, "publish", 1, "jobs"), (2.25, "loss", 1, ""),
        (3.0, "timeout", 1, "retry"), (3.0, "publish", 1, "jobs"), (3.25, "loss", 1, ""),
        (4.0, "timeout", 1, "retry"), (4.0, "publish", 1, "jobs"), (4.25, "loss", 1, ""),
        (5.0, "timeout", 1, "give up"),
    ]
    timeout = run.trace.filter(kind="timeout")[0]
    assert (timeout.node, timeout.peer) == ("client", "hub")
    a = run.summary().account
    assert (a.published, a.dropped, a.in_system) == (3, {"loss": 3}, 0)
    assert balanced(run)


def test_without_a_timeout_a_loss_is_answered_at_once_with_one_it_is_silent():
    told = client(loss=1.0, count=1).run(until=10, progress=False)
    assert story(told, ("loss", "reply")) == [(2.25, "loss", 1, ""), (2.25, "reply", 1, "lost")]
    silent = client(timeout=1.0, loss=1.0, count=1).run(until=10, progress=False)
    assert story(silent, ("loss", "reply", "timeout")) == [
        (2.25, "loss", 1, ""), (3.0, "timeout", 1, "give up")]


def test_a_slow_reply_after_a_retry_answers_the_request_and_the_second_is_late():
    # the worker takes 1.5 s: the reply comes 2 s after the publish, the timeout is 1.2 s
    run = client(timeout=1.2, retries=1, service=1.5, count=2, interval=5.0).run(
        until=20, progress=False)
    assert story(run, ("publish", "timeout", "reply")) == [
        (5.0, "publish", 1, "jobs"),
        (6.2, "timeout", 1, "retry"), (6.2, "publish", 1, "jobs"),
        (7.0, "reply", 1, "acked"),  # the first copy's reply answers the request
        (8.5, "reply", 1, "acked (late, ignored)"),  # the retry was processed too
        (10.0, "publish", 2, "jobs"),
        (11.2, "timeout", 2, "retry"), (11.2, "publish", 2, "jobs"),
        (12.0, "reply", 2, "acked"),
        (13.5, "reply", 2, "acked (late, ignored)"),
    ]
    # both copies were processed: a retry can make the consumer do the work twice
    assert metrics.count(run.trace, "ack") == 4
    # latency counts from the first publish to the first ack
    assert [round(x, 6) for x in metrics.latencies(run.trace)] == [1.75, 1.75]
    assert balanced(run)


def test_giving_up_moves_on_to_the_next_message_and_a_late_reply_is_ignored():
    # requests are made every 0.5 s but each takes 2 s to answer: they wait at the producer
    run = client(timeout=1.0, service=1.5, count=3, interval=0.5).run(until=20,
                                                                       progress=False)
    assert story(run, ("publish", "timeout", "reply")) == [
        (0.5, "publish", 1, "jobs"),
        (1.5, "timeout", 1, "give up"), (1.5, "publish", 2, "jobs"),  # the next one at once
        (2.5, "timeout", 2, "give up"), (2.5, "publish", 3, "jobs"),
        (2.5, "reply", 1, "acked (late, ignored)"),  # its timer was set before the reply
        (3.5, "timeout", 3, "give up"),
        (4.0, "reply", 2, "acked (late, ignored)"),
        (5.5, "reply", 3, "acked (late, ignored)"),
    ]
    # message 2 was made at 1.0 s and waited at the producer until 1.5 s
    created = metrics.latencies(run.trace, start="create")
    published = metrics.latencies(run.trace)
    assert [round(c - p, 6) for c, p in zip(created, published, strict=True)] == [0.0, 0.5, 1.0]
    assert balanced(run)


def test_a_reply_exactly_at_the_timeout_is_too_late():
    # there 0.25 s + service 0.5 s + back 0.25 s = exactly 1 s; the timer was set first
    run = client(timeout=1.0, count=1).run(until=10, progress=False)
    assert story(run, ("timeout", "reply")) == [(3.0, "timeout", 1, "give up"),
                                                (3.0, "reply", 1, "acked (late, ignored)")]


def test_the_timer_of_an_answered_request_does_not_touch_the_next_one():
    # each reply comes after 1 s and the next request goes at once; timers of 1.5 s from
    # answered requests fire while the next request waits, and must be ignored
    run = client(timeout=1.5, count=6, interval=0.1).run(until=20, progress=False)
    assert not run.trace.filter(kind="timeout")
    assert [e.info for e in run.trace.filter(kind="reply")] == ["acked"] * 6


def test_a_crashed_consumer_makes_requests_time_out_and_copies_pile_up():
    run = client(timeout=1.0, retries=2, count=2, interval=1.0, crash=[(0.5, 6.0)]).run(
        until=30, progress=False)
    kinds = [(e.kind, e.info) for e in run.trace.filter(kind=["timeout"])]
    assert kinds == [("timeout", "retry"), ("timeout", "retry"), ("timeout", "give up"),
                     ("timeout", "retry"), ("timeout", "retry"), ("timeout", "give up")]
    # every copy was queued while the worker was down, and each one is processed after it
    # comes back: 3 copies of each request
    acks = [e.msg for e in run.trace.filter(kind="ack")]
    assert sorted(acks) == [1, 1, 1, 2, 2, 2]
    assert all("late" in e.info for e in run.trace.filter(kind="reply"))
    assert balanced(run)


def test_without_a_timeout_nothing_changes():
    def trace(**kw):
        net = client(service=mq.exponential(0.8), loss=0.2, count=None, interval=0.3, **kw)
        return net.run(until=30, progress=False).trace

    assert trace().digest() == trace(timeout=None, retries=0).digest()


def test_a_retry_goes_through_a_duplicating_link_and_a_fanout_too():
    net = mq.Network(seed=4)
    net.broker("hub")
    net.exchange("hub", "all", type="fanout")
    for q in ("a", "b"):
        net.queue("hub", q)
        net.bind("all", q)
        net.consumer(f"w{q}", queue=q, service=mq.exponential(1.0))
    net.producer("client", interval=0.7, count=8, exchange="all", mode="sync", timeout=0.8,
                 retries=2)
    net.link("client", "hub", latency=mq.uniform(0.0, 0.4), loss=0.2, duplicate=0.3)
    run = net.run(until=40, progress=False)
    assert run.trace.filter(kind="timeout", node="client")
    assert run.trace.filter(kind="duplicate")
    assert balanced(run)


def test_the_player_timeline_and_the_sequence_diagram_read_a_run_with_retries():
    run = client(timeout=1.2, retries=1, service=1.5, count=2, interval=5.0).run(
        until=20, progress=False)
    end = Timeline(run.trace).at(run.trace.duration)
    assert end is not None
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from mqlab import charts

    ax = charts.plot_sequence(run, limit=2)
    kinds = [p.get_gid() for p in ax.patches if p.get_gid()]
    assert kinds.count("hop:reply") >= 2  # the answer and the late reply
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


# -- bad input ------------------------------------------------------------------------------------
def make(**kw):
    options = {"rate": 1.0, "routing_key": "jobs", "mode": "sync", **kw}

    def go():
        net = mq.Network()
        net.broker("hub")
        net.queue("hub", "jobs")
        net.producer("p", **options)
        return net

    return go


BAD = [
    ("timeout zero", make(timeout=0), ValueError, "timeout", "> 0"),
    ("timeout negative", make(timeout=-1.0), ValueError, "timeout", "> 0"),
    ("timeout infinite", make(timeout=math.inf), ValueError, "timeout", "finite"),
    ("timeout NaN", make(timeout=math.nan), ValueError, "timeout", "finite"),
    ("timeout text", make(timeout="1"), TypeError, "timeout", "number"),
    ("timeout bool", make(timeout=True), TypeError, "timeout", "number"),
    ("timeout async", make(timeout=1.0, mode="async"), ValueError, "timeout", "mode='sync'"),
    ("retries negative", make(timeout=1.0, retries=-1), ValueError, "retries", ">= 0"),
    ("retries float", make(timeout=1.0, retries=1.5), TypeError, "retries", "int"),
    ("retries bool", make(timeout=1.0, retries=True), TypeError, "retries", "int"),
    ("retries text", make(timeout=1.0, retries="2"), TypeError, "retries", "int"),
    ("retries none", make(timeout=1.0, retries=None), TypeError, "retries", "int"),
    ("retries no timeout", make(retries=2), ValueError, "retries", "timeout"),
    ("retries async", make(retries=2, mode="async"), ValueError, "retries", "mode='sync'"),
]


@pytest.mark.parametrize(("what", "call", "error", "param", "allowed"), BAD,
                         ids=[b[0] for b in BAD])
def test_bad_timeouts_and_retries_are_refused_clearly(what, call, error, param, allowed):
    with pytest.raises(error) as exc:
        call()
    text = str(exc.value)
    assert param in text and allowed in text, text


def test_a_refused_producer_is_not_half_built():
    net = make()()
    with pytest.raises(ValueError):
        net.producer("q", rate=1.0, mode="sync", timeout=-1)
    assert "q" not in net.graph and "q" not in net.producers


def test_good_values_are_kept():
    net = make(timeout=2, retries=3)()
    spec = net.producers["p"]
    assert (spec.timeout, spec.retries) == (2.0, 3)
    assert isinstance(spec.timeout, float)


# -- properties ------------------------------------------------------------------------------------
@st.composite
def networks_with_timeouts(draw):
    """The random systems of test_properties, with timeouts and retries on sync producers."""
    seed, until, calls = draw(networks())
    out = []
    for method, args, kwargs in calls:
        if method == "producer":  # the first one always waits, with a timeout
            kwargs = dict(kwargs)
            if args == ("p0",) or draw(st.booleans()):
                kwargs["mode"] = "sync"
            if kwargs["mode"] == "sync" and (args == ("p0",) or draw(st.integers(0, 3))):
                kwargs["timeout"] = draw(st.floats(0.05, 1.5))
                kwargs["retries"] = draw(st.integers(0, 3))
        out.append((method, args, kwargs))
    return seed, until, out


def check_protocol(run, name, spec):
    """A sync producer with a timeout: one request at a time, each retried at most
    ``retries`` times, exactly ``timeout`` after each attempt, the retry sent at once; replies
    to anything but the request in flight are marked late."""
    events = list(run.trace.filter(kind=["publish", "timeout", "reply"], node=name))
    awaiting, attempts, sent_at = None, 0, None
    for i, e in enumerate(events):
        late = "(late, ignored)" in e.info
        if e.kind == "publish":
            retry = i > 0 and events[i - 1].kind == "timeout" and events[i - 1].info == "retry"
            if retry:
                assert (e.msg, e.time) == (awaiting, events[i - 1].time), e
            else:
                assert awaiting is None, f"{e} while request {awaiting} waits"
                awaiting, attempts = e.msg, 0
            sent_at = e.time
        elif e.kind == "timeout":
            assert e.msg == awaiting and e.peer == spec.to, e
            assert math.isclose(e.time, sent_at + spec.timeout, abs_tol=1e-9), e
            if e.info == "retry":
                attempts += 1
                assert attempts <= spec.retries, e
                assert i + 1 < len(events) and events[i + 1].kind == "publish", e
            else:
                assert e.info == "give up" and attempts == spec.retries, e
                awaiting = None
        elif late:
            assert e.msg != awaiting, e
        else:
            assert e.msg == awaiting, e
            awaiting = None


@settings(SETTINGS, max_examples=200)
@given(networks_with_timeouts())
def test_the_account_balances_with_timeouts_and_retries(example):
    seed, until, calls = example
    net = build(seed, calls)
    run = net.run(until=until, progress=False)
    assert balanced(run)
    for q in net.queues:
        times, lengths = metrics.queue_length(run.trace, q)
        assert lengths[-1] == run.still["queued"][q]
    for name, spec in net.producers.items():
        if spec.timeout is not None:
            check_protocol(run, name, spec)
        else:
            assert not run.trace.filter(kind="timeout", node=name)
