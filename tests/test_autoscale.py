"""Elastic consumer pools: more workers when messages wait, fewer when they are idle."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq


def burst(seed=1, **pool):
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.producer("burst", routing_key="jobs",
                 schedule=[i * 0.05 for i in range(200)] + [20 + i * 0.5 for i in range(20)])
    names = net.autoscale("jobs", **{"workers": 6, "least": 1, "every": 1.0, "up_at": 5,
                                     "down_after": 3.0, "service": 0.4, **pool})
    return names, net.run(until=40)


def running(run, names):
    """(time, workers running) after each start or stop."""
    up = {n: True for n in names}
    out = []
    for e in run.trace.filter(kind=["crash", "recover"]):
        up[e.node] = e.kind == "recover"
        out.append((e.time, sum(up.values())))
    return out


def test_the_pool_grows_under_a_burst_and_shrinks_when_idle():
    names, run = burst()
    assert names == [f"jobs-worker{i}" for i in range(1, 7)]
    steps = running(run, names)
    assert steps[4] == (0.0, 1)  # five stand by from the start
    assert max(n for _, n in steps) == 6 and steps[-1][1] == 1
    ups = [e.time for e in run.trace.filter(kind="recover")]
    assert ups == [1.0, 2.0, 3.0, 4.0, 5.0]  # one change per look
    assert {e.info for e in run.trace.filter(kind="recover")} == {"scaled up"}
    s = run.summary()
    assert s.account.acked == 220 and s.balanced  # stopping idle workers loses nothing
    # a stopped worker held nothing
    for e in run.trace.filter(kind="crash"):
        if e.time > 0:
            assert not run.state(e.time).held.get(e.node)


def test_a_fixed_pool_of_one_is_slower_than_the_elastic_one():
    _, elastic = burst()
    _, fixed = burst(workers=1)
    p99 = [mq.metrics.percentile(mq.metrics.latencies(r.trace), 99) for r in (elastic, fixed)]
    assert p99[0] < p99[1] / 3


def test_the_pool_never_goes_below_least_or_above_workers():
    names, run = burst(least=2, workers=3)
    counts = [n for _, n in running(run, names)]
    assert min(counts[1:]) >= 2 and max(counts) <= 3


def test_autoscale_bad_input_names_the_parameter():
    net = mq.Network()
    net.broker("hub")
    net.queue("hub", "jobs")
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        net.autoscale("jobs", workers=0)
    with pytest.raises(ValueError, match="least must be at most workers"):
        net.autoscale("jobs", workers=2, least=3)
    with pytest.raises(ValueError, match="every must be"):
        net.autoscale("jobs", every=0)
    with pytest.raises(ValueError, match="give no crash, queue or topic"):
        net.autoscale("jobs", crash=[(1, 2)])
    with pytest.raises(ValueError, match="queue must name an existing queue"):
        net.autoscale("nope")
    net.producer("p", interval=1, count=3, routing_key="jobs")
    net.autoscale("jobs")
    with pytest.raises(ValueError, match="until must be a time in seconds when a queue is "
                                         "autoscaled"):
        net.run()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 4), st.integers(0, 3), st.sampled_from([0.5, 2.0]))
def test_an_elastic_pool_loses_nothing(seed, workers, least, rate):
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.producer("p", rate=rate, routing_key="jobs", count=60)
    net.autoscale("jobs", workers=workers, least=min(least, workers), every=0.5, up_at=2,
                  down_after=1.0, service=mq.exponential(0.5), ack="manual")
    run = net.run(until=200)
    s = run.summary()
    assert s.balanced
    if least:  # with a worker always running, everything is done in the end
        assert s.account.acked == 60
