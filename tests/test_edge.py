"""Edge links: outages and a limited bandwidth on a device's uplink, store and forward."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqlab as mq


def sensor(outages=((3.0, 8.0), (12.0, 13.0)), bandwidth=2.0, count=100, latency=0.5, seed=1,
           loss=0.0, **producer):
    net = mq.Network(seed=seed)
    net.broker("cloud")
    net.queue("cloud", "readings")
    net.producer("sensor", interval=0.2, count=count, routing_key="readings", **producer)
    net.link("sensor", "cloud", latency=latency, outages=list(outages), bandwidth=bandwidth,
             loss=loss)
    net.consumer("store", queue="readings", service=0.05)
    return net


def crossings(run, producer="sensor"):
    """(left, ended) of every trip over the uplink: from each publish (or duplicate) to the
    next arrival or loss of that message."""
    out = []
    for e in run.trace.filter(kind=["publish", "duplicate"], node=producer):
        end = [x.time for x in run.trace.filter(msg=e.msg)
               if x.kind in ("arrive", "loss") and x.time >= e.time and x.peer != "readings"]
        out.append((e.time, end[0]))
    return out


def test_nothing_crosses_during_an_outage_and_everything_arrives_after_it():
    run = sensor().run()
    for left, came in crossings(run):
        for down, up in ((3.0, 8.0), (12.0, 13.0)):
            assert not (left < up and came > down)
    s = run.summary()
    assert s.account.acked == 100 and s.balanced
    # the readings made during the first outage waited at the sensor: created -> ack is long
    waited = mq.metrics.latencies(run.trace, start="create")
    assert max(waited) > 5.0 > max(mq.metrics.latencies(run.trace))


def test_the_bandwidth_spaces_departures_and_the_backlog_drains_at_its_pace():
    run = sensor(outages=(), bandwidth=2.0).run()
    left = [e.time for e in run.trace.filter(kind="publish")]
    gaps = [b - a for a, b in zip(left, left[1:], strict=False)]
    assert min(gaps) == pytest.approx(0.5)  # 5 readings a second made, 2 a second sent
    assert left[-1] == pytest.approx(0.2 + 99 * 0.5)  # the first made at 0.2 s
    # each crossing takes the sending time plus the latency
    first = crossings(run)[0]
    assert first[1] - first[0] == pytest.approx(0.5 + 0.5)


def test_a_link_without_limits_is_unchanged():
    plain, limited = sensor(outages=(), bandwidth=None).run(), sensor(outages=()).run()
    assert plain.trace.duration < limited.trace.duration
    net = mq.Network(seed=1)
    net.broker("cloud")
    net.queue("cloud", "readings")
    net.producer("sensor", interval=0.2, count=100, routing_key="readings")
    net.link("sensor", "cloud", latency=0.5)
    net.consumer("store", queue="readings", service=0.05)
    assert net.run().trace.digest() == plain.trace.digest()


def test_confirmed_retries_wait_for_the_link_too():
    run = sensor(loss=0.2, confirm=True, timeout=1.0, retries=5, count=40).run()
    for left, came in crossings(run):
        for down, up in ((3.0, 8.0), (12.0, 13.0)):
            assert not (left < up and came > down)


def test_edge_bad_input_names_the_parameter():
    net = mq.Network()
    net.broker("cloud")
    net.queue("cloud", "q")
    net.producer("s", interval=1, routing_key="q")
    net.consumer("c", queue="q")
    with pytest.raises(ValueError, match="outages: each"):
        net.link("s", "cloud", outages=[(5, 2)])
    with pytest.raises(TypeError, match="outages must be a list of"):
        net.link("s", "cloud", outages=5)
    with pytest.raises(ValueError, match="bandwidth must be"):
        net.link("s", "cloud", bandwidth=0)
    with pytest.raises(ValueError, match="outages need a fixed latency"):
        net.link("s", "cloud", latency=mq.exponential(0.1), outages=[(1, 2)])
    with pytest.raises(ValueError, match="producer -> broker links only"):
        net.link("cloud", "c", outages=[(1, 2)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 20), st.floats(0.1, 5)), max_size=3),
       st.one_of(st.none(), st.sampled_from([1.0, 3.0, 10.0])),
       st.sampled_from([0.0, 0.3, 1.5]), st.integers(1, 60), st.integers(0, 100),
       st.sampled_from([0.0, 0.2]))
def test_the_account_adds_up_and_no_message_crosses_during_an_outage(
        windows, bandwidth, latency, count, seed, loss):
    outages = [(d, d + w) for d, w in windows]
    net = sensor(outages=outages, bandwidth=bandwidth, latency=latency, count=count, seed=seed,
                 loss=loss)
    run = net.run(until=200)
    s = run.summary()
    assert s.balanced
    sent = run.trace.filter(kind="publish")
    for e in sent:
        ended = [x.time for x in run.trace.filter(msg=e.msg)
                 if x.kind in ("arrive", "loss") and x.time >= e.time][:1]
        for down, up in outages:
            assert not (e.time < up - 1e-9 and ended[0] > down + 1e-9), (e, down, up)
    if bandwidth:
        times = [e.time for e in sent]
        assert all(b - a >= 1 / bandwidth - 1e-9 for a, b in zip(times, times[1:],
                                                                  strict=False))
    waiting = s.still["waiting_at_producers"]["sensor"]
    assert len({e.msg for e in sent}) + waiting == count
