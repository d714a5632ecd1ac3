"""Sweeps over parameters and seeds, and the utilisation metric."""

import math

import matplotlib
import pytest

import mqlab as mq
from mqlab import theory

matplotlib.use("Agg")


def mm1(rho, seed, servers=1):
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "orders")
    net.producer("web", rate=rho * servers, routing_key="orders")
    for i in range(servers):
        net.consumer(f"clerk{i}", queue="orders", service=mq.exponential(1.0))
    return net


def test_a_sweep_has_a_row_per_setting_and_seed_and_means_per_value():
    table = mq.sweep(mm1, rho=[0.3, 0.6], servers=[1, 2], seeds=[1, 2, 3], until=300)
    assert len(table) == 12
    assert table.columns[:3] == ["rho", "servers", "seed"]
    assert set(table.mean("utilisation", by="rho")) == {0.3, 0.6}
    assert set(table.mean("acked")) == {(0.3, 1), (0.3, 2), (0.6, 1), (0.6, 2)}
    assert "latency_p99" in table.text() and len(table.text().splitlines()) == 13
    # the same seed gives the same row: a sweep is as deterministic as a run
    again = mq.sweep(mm1, rho=[0.3, 0.6], servers=[1, 2], seeds=[1, 2, 3], until=300)
    assert again.rows == table.rows


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_simulated_mm1_utilisation_and_latency_agree_with_theory(rho):
    table = mq.sweep(mm1, rho=[rho], seeds=[1, 2, 3, 4], until=6000, warmup=200)
    assert table.mean("utilisation")[rho] == pytest.approx(rho, rel=0.03)
    sojourn = theory.mm1(rho, 1.0)["W"]
    assert table.mean("latency_mean")[rho] == pytest.approx(sojourn, rel=0.05)


def test_a_custom_measure_and_a_finished_run_work_too():
    table = mq.sweep(lambda rho, seed: mm1(rho, seed).run(until=100), rho=[0.5],
                     measure=lambda run: {"events": len(run.trace)})
    assert table.columns == ["rho", "seed", "events"] and table.column("events")[0] > 0


def test_plot_draws_runs_means_and_theory():
    table = mq.sweep(mm1, rho=[0.2, 0.5, 0.8], seeds=[1, 2], until=500)
    ax = table.plot("rho", "latency_mean", theory=lambda r: 1 / (1 - r))
    assert ax.get_xlabel() == "rho" and "latency" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["one run (one seed)", "simulated (mean over seeds)", "theory"]
    line = ax.get_lines()[-1]
    assert min(line.get_xdata()) == 0.2 and max(line.get_xdata()) == 0.8


def test_bad_input_names_the_parameter():
    with pytest.raises(TypeError, match="build must be a function"):
        mq.sweep(3, rho=[1])
    with pytest.raises(ValueError, match="give at least one parameter"):
        mq.sweep(mm1)
    with pytest.raises(TypeError, match="rho must be a list of values"):
        mq.sweep(mm1, rho=0.5)
    with pytest.raises(ValueError, match="rho must list at least one value"):
        mq.sweep(mm1, rho=[])
    with pytest.raises(ValueError, match="seeds must be a non-empty list of ints"):
        mq.sweep(mm1, rho=[0.5], seeds=[])
    with pytest.raises(TypeError, match="build must return a Network or a Run"):
        mq.sweep(lambda rho, seed: rho, rho=[0.5], until=10)
    table = mq.sweep(mm1, rho=[0.5], until=50)
    with pytest.raises(ValueError, match="y must be one of"):
        table.mean("latency")
    with pytest.raises(ValueError, match="warmup must be shorter than the run"):
        mq.sweep(mm1, rho=[0.5], until=50, warmup=60)


def test_utilisation_counts_busy_time_and_ends_at_a_crash():
    t = mq.Trace([(0.0, "start", 1, "c"), (2.0, "crash", 0, "c"), (3.0, "start", 2, "c"),
                  (3.5, "ack", 2, "c", "q"), (4.0, "start", 3, "d")])
    t.end_time = 5.0
    assert mq.metrics.utilisation(t, "c") == pytest.approx(2.5 / 5)
    assert mq.metrics.utilisation(t) == {"c": 0.5, "d": pytest.approx(0.2)}
    assert mq.metrics.utilisation(t, "c", start=1.0, stop=3.5) == pytest.approx(1.5 / 2.5)
    assert mq.metrics.utilisation(t, "nobody") == 0.0
    with pytest.raises(ValueError, match="stop must be after start"):
        mq.metrics.utilisation(t, stop=0.0)
    assert not math.isnan(mq.metrics.utilisation(t, "d"))
