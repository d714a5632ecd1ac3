"""Round-robin vs fair dispatch: the numbers lesson 04 prints, and the rules behind them.

The lesson prints what :func:`mqlab.checks.lesson04.dispatch_demo` and ``worker_stats`` give;
these tests call the same functions, so the lesson's story and its numbers cannot drift apart.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab.checks.lesson04 import DISPATCH, dispatch_demo, dispatch_network, worker_stats


@pytest.fixture(scope="module")
def unlimited():
    return worker_stats(dispatch_demo(None))


@pytest.fixture(scope="module")
def fair():
    return worker_stats(dispatch_demo(1))


def test_with_no_prefetch_limit_the_slow_worker_gets_every_other_order(unlimited):
    assert unlimited["slow"]["orders"] == unlimited["fast"]["orders"] == DISPATCH["orders"] // 2


def test_with_no_prefetch_limit_the_slow_workers_orders_wait_for_it(unlimited):
    assert unlimited["fast"] == {"orders": 20, "p50": 0.4, "max": 0.4}
    assert unlimited["slow"] == {"orders": 20, "p50": 6.45, "max": 11.2}


def test_prefetch_1_sends_most_orders_to_the_fast_worker(fair):
    assert fair["fast"] == {"orders": 32, "p50": 0.4, "max": 0.4}
    assert fair["slow"] == {"orders": 8, "p50": 1.7, "max": 1.7}


def test_prefetch_1_skips_a_full_worker_and_puts_it_back_at_the_end_of_the_turn():
    # as RabbitMQ does: the slow worker, full when its turn comes, is set aside; its ack puts
    # it back behind the fast worker, so it gets one order in five, not whenever it is free
    run = dispatch_demo(1)
    slow = [e.msg for e in run.trace.filter(kind="deliver", peer="slow")]
    assert slow == list(range(2, DISPATCH["orders"] + 1, 5))
    ack = {e.msg: e.time for e in run.trace.filter(kind="ack", node="slow")}
    deliver = {e.msg: e.time for e in run.trace.filter(kind="deliver")}
    # free before order 6 was dealt, yet order 6 went to the fast worker, whose turn it was
    assert ack[2] < deliver[6] and 6 not in slow


def test_prefetch_1_cuts_the_slowest_latency_to_one_trip_and_one_service(unlimited, fair):
    d = DISPATCH
    one_order = d["link"] * 2 + d["slow"]  # to the hub, to the worker, the work
    assert fair["slow"]["max"] == pytest.approx(one_order)
    assert unlimited["slow"]["max"] > 6 * fair["slow"]["max"]
    assert fair["slow"]["orders"] < unlimited["slow"]["orders"] / 1.5


def test_the_queue_stays_empty_while_the_slow_worker_hoards():
    run = dispatch_demo(None)
    assert run.summary().queues["orders"]["max_length"] == 0
    assert max(run.state(t).held["slow"] for t in range(0, 40)) >= 7


def test_a_crash_loses_what_the_worker_held_with_auto_ack_and_requeues_it_with_manual():
    held = dispatch_demo(None).state(11.999).held["slow"]
    assert held == 4
    auto = dispatch_demo(None, ack="auto", crash=[(12, 40)])
    manual = dispatch_demo(None, ack="manual", crash=[(12, 40)])
    assert auto.summary().account["dropped"] == {"crash": held}
    assert len(auto.trace.filter(kind="requeue")) == 0
    assert manual.summary().account["dropped"] == {}
    assert len(manual.trace.filter(kind="requeue")) == held
    assert manual.summary().account["acked"] == DISPATCH["orders"]


def test_the_demo_is_the_same_every_time():
    assert dispatch_demo(None).trace.digest() == dispatch_demo(None).trace.digest()


@pytest.mark.parametrize("prefetch", [0, -1, 1.5, True, "1"])
def test_a_bad_prefetch_is_refused_by_name(prefetch):
    with pytest.raises(ValueError, match="prefetch"):
        dispatch_network(prefetch)


def _deliveries(services, prefetch, n):
    net = mq.Network(seed=1)
    net.producer("p", interval=0.1, count=n, routing_key="q")
    net.broker("hub")
    net.queue("hub", "q")
    for i, s in enumerate(services):
        net.consumer(f"c{i}", queue="q", service=s, prefetch=prefetch)
    run = net.run(until=n * 0.1 + n * max(services) + 1)
    return run, [e.peer for e in run.trace.filter(kind="deliver")]


services = st.lists(st.floats(0.01, 2.0), min_size=2, max_size=4)


@settings(max_examples=30, deadline=None)
@given(services=services, n=st.integers(1, 30))
def test_with_no_limit_deliveries_go_round_robin_whatever_the_speeds(services, n):
    run, order = _deliveries(services, None, n)
    k = len(services)
    assert order == [f"c{i % k}" for i in range(n)]
    assert run.summary().account["acked"] == n


@settings(max_examples=30, deadline=None)
@given(services=services, n=st.integers(1, 30), prefetch=st.integers(1, 3))
def test_no_consumer_ever_holds_more_than_its_prefetch(services, n, prefetch):
    run, _ = _deliveries(services, prefetch, n)
    held = dict.fromkeys([f"c{i}" for i in range(len(services))], 0)
    for e in run.trace:
        if e.kind == "deliver":
            held[e.peer] += 1
            assert held[e.peer] <= prefetch
        elif e.kind == "ack":
            held[e.node] -= 1
    assert run.summary().account["acked"] == n
