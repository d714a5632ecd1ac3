"""Queueing theory, and the simulator held against it.

The formulas are checked on values worked out by hand; then long simulated runs of M/M/1,
M/M/c and M/M/1/K must land close to what the formulas predict. The seeds are fixed so the
tests are repeatable; the tolerances were checked to hold for other seeds too.
"""

import math

import pytest

import mqlab as mq
from mqlab import metrics, theory

# -- the formulas -----------------------------------------------------------------------------


def test_mm1_at_half_load():
    r = theory.mm1(lam=0.5, mu=1.0)
    assert r == pytest.approx({"rho": 0.5, "L": 1.0, "Lq": 0.5, "W": 2.0, "Wq": 1.0})


def test_mm1_near_saturation_waits_grow_without_bound():
    assert theory.mm1(0.9, 1.0)["W"] == pytest.approx(10.0)
    assert theory.mm1(0.99, 1.0)["L"] == pytest.approx(99.0)


def test_mmc_with_one_server_is_mm1():
    one, single = theory.mmc(0.6, 1.0, 1), theory.mm1(0.6, 1.0)
    for k in ["rho", "L", "Lq", "W", "Wq"]:
        assert one[k] == pytest.approx(single[k])
    assert theory.erlang_c(1, 0.6) == pytest.approx(0.6)  # an M/M/1 arrival waits w.p. rho


def test_mmc_worked_by_hand():
    # a = lam/mu = 2 with 3 servers: P(wait) = (8/6 / (1/3)) / (1 + 2 + 2 + 4) = 4/9
    r = theory.mmc(2.0, 1.0, 3)
    assert r["P_wait"] == pytest.approx(4 / 9)
    assert r["Wq"] == pytest.approx(4 / 9)  # P(wait) / (c mu - lam) = (4/9) / 1
    assert r["W"] == pytest.approx(1 + 4 / 9)
    assert r["L"] == pytest.approx(2.0 * r["W"])  # Little's law


def test_mm1k_worked_by_hand():
    r = theory.mm1k(0.8, 1.0, 5)
    # p_n is proportional to rho^n for n = 0..5; an arrival is lost when n = 5
    p_loss = 0.2 * 0.8**5 / (1 - 0.8**6)
    assert r["P_loss"] == pytest.approx(p_loss)
    assert r["throughput"] == pytest.approx(0.8 * (1 - p_loss))
    assert r["L"] == pytest.approx(r["throughput"] * r["W"])


def test_mm1k_at_rho_one_spreads_evenly():
    r = theory.mm1k(1.0, 1.0, 4)
    assert r["P_loss"] == pytest.approx(1 / 5)
    assert r["L"] == pytest.approx(2.0)


def test_a_big_mm1k_looks_like_mm1():
    assert theory.mm1k(0.5, 1.0, 60)["W"] == pytest.approx(theory.mm1(0.5, 1.0)["W"])


# -- simulation against theory -------------------------------------------------------------------
WARM_UP = 1000.0  # seconds left out at the start, while the queue fills from empty
SEED = 2024


def one_queue(lam, consumers, seed=None, **queue_options):
    """Poisson arrivals into one queue drained by identical exponential consumers."""
    net = mq.Network(seed=SEED if seed is None else seed)
    net.producer("arrivals", rate=lam, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs", **queue_options)
    for i in range(consumers):
        net.consumer(f"server{i}", queue="jobs", service=mq.exponential(1.0), prefetch=1)
    return net


@pytest.fixture(scope="module")
def mm1_run():
    lam, customers = 0.5, 200_000
    return one_queue(lam, 1).run(until=customers / lam, progress=False)


def test_mm1_time_in_system_matches_theory(mm1_run):
    w = metrics.latencies(mm1_run.trace, since=WARM_UP)
    assert len(w) > 195_000
    measured, expected = sum(w) / len(w), theory.mm1(0.5, 1.0)["W"]
    assert measured == pytest.approx(expected, rel=0.03)


def test_littles_law_holds_in_the_mm1_run(mm1_run):
    r = metrics.little(mm1_run.trace, since=WARM_UP)
    assert r["L"] == pytest.approx(r["lambda*W"], rel=0.02)
    assert r["lambda"] == pytest.approx(0.5, rel=0.02)
    assert r["L"] == pytest.approx(theory.mm1(0.5, 1.0)["L"], rel=0.05)


def test_mmc_time_in_system_matches_theory():
    lam, c, customers = 2.1, 3, 200_000
    run = one_queue(lam, c).run(until=customers / lam, progress=False)
    w = metrics.latencies(run.trace, since=WARM_UP)
    measured, expected = sum(w) / len(w), theory.mmc(lam, 1.0, c)["W"]
    assert measured == pytest.approx(expected, rel=0.05)
    # the three competing consumers share the work about evenly
    done = [sum(1 for e in run.trace.rows if e[1] == "ack" and e[3] == f"server{i}")
            for i in range(c)]
    assert max(done) < 1.05 * min(done)


def loss_fraction(run):
    published = sum(1 for r in run.trace.rows if r[1] == "publish")
    rejected = sum(1 for r in run.trace.rows if r[1] == "drop" and r[5] == "rejected")
    return rejected / published


def test_mm1k_loss_matches_theory_with_k_equal_capacity_plus_prefetch():
    # capacity counts ready messages; the consumer holds one more (prefetch=1): K = 4 + 1
    lam, capacity, customers = 0.8, 4, 200_000
    run = one_queue(lam, 1, capacity=capacity, overflow="reject-publish").run(
        until=customers / lam, progress=False)
    assert loss_fraction(run) == pytest.approx(
        theory.mm1k(lam, 1.0, capacity + 1)["P_loss"], rel=0.10)


def test_capacity_does_not_count_the_message_at_the_consumer():
    """With capacity=K the system holds K+1 messages: the loss is that of M/M/1/(K+1)."""
    lam, K, customers = 0.8, 5, 100_000
    run = one_queue(lam, 1, seed=SEED + 1, capacity=K, overflow="reject-publish").run(
        until=customers / lam, progress=False)
    measured = loss_fraction(run)
    if_k_plus_one = theory.mm1k(lam, 1.0, K + 1)["P_loss"]
    if_k = theory.mm1k(lam, 1.0, K)["P_loss"]
    assert if_k / if_k_plus_one > 1.3  # the two readings are far enough apart to tell
    assert measured == pytest.approx(if_k_plus_one, rel=0.10)
    assert not math.isclose(measured, if_k, rel_tol=0.10)


def test_erlang_c_has_no_overflow_for_large_pools():
    from mqlab.theory import erlang_c, mmc

    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert 0 < erlang_c(300, 280.0) < 1
    assert mmc(280.0, 1.0, 300)["Wq"] > 0
