"""The numbers lesson 06 shows are the numbers these tests compute and check.

The lesson prints its tables with functions of ``mqlab.checks.lesson06``; here the same
functions run again, their results are held against queueing theory, and the text is compared
with the outputs stored in ``lessons/06-measuring.ipynb``.
"""

import statistics
from pathlib import Path

import nbformat
import pytest

import mqlab as mq
from mqlab.checks import lesson06 as check

LESSON = Path(__file__).resolve().parent.parent / "lessons" / "06-measuring.ipynb"


def stored_output(marker: str) -> str:
    """The text output of the lesson's code cell whose source contains ``marker``."""
    nb = nbformat.read(LESSON, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one cell with {marker!r}, found {len(cells)}"
    return "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")


@pytest.mark.parametrize("servers", [1, 3])
def test_simulated_mm1_and_mmc_lie_within_5_percent_of_theory_up_to_rho_0_8(servers):
    rows = check.theory_table(servers)
    assert [r["rho"] for r in rows] == check.SWEEPS[servers]["rho"]
    for r in rows:
        if r["rho"] <= 0.8:
            assert abs(r["gap"]) <= 0.05, r
            assert r["utilisation"] == pytest.approx(r["rho"], rel=0.03)
        if servers == 1:  # M/M/1: W = S / (1 - rho)
            assert r["theory"] == pytest.approx(check.SERVICE / (1 - r["rho"]))


def test_the_theory_tables_are_the_ones_the_lesson_shows():
    shown = stored_output("check.theory_text(servers)")
    for servers in [1, 3]:
        assert check.theory_text(servers) in shown


def test_the_mm1_table_in_numbers():
    # what the lesson's prose quotes: the largest gap, and W at rho 0.5 / 0.8 / 0.9
    rows = {r["rho"]: r for r in check.theory_table(1)}
    assert max(abs(r["gap"]) for r in rows.values()) < 0.04
    assert round(rows[0.5]["simulated"], 3) == 0.410
    assert round(rows[0.8]["simulated"], 3) == 1.005
    assert round(rows[0.9]["simulated"], 3) == 2.063
    three = {r["rho"]: r for r in check.theory_table(3)}
    assert round(three[0.8]["simulated"], 2) == 0.42
    assert check.knee_ratio() == pytest.approx(5.0)
    assert check.simulated_knee_ratio() == pytest.approx(5.0, rel=0.05)


def test_section_1_numbers():
    run = check.lesson_run()
    waits = mq.metrics.latencies(run.trace)
    assert len(waits) == 1195
    assert round(sum(waits) / len(waits), 2) == 1.13
    assert round(mq.metrics.percentile(waits, 50), 2) == 0.90
    assert round(mq.metrics.percentile(waits, 99), 2) == 3.74
    assert round(mq.metrics.percentile(waits, 95), 2) == 2.79  # the chart's dashed line
    assert round(sorted(waits)[int(0.99 * len(waits))], 2) == 3.78  # exercise 1's index
    assert round(max(waits), 2) == 4.45
    assert round(mq.metrics.throughput(run.trace, "worker-1"), 2) == 3.98
    windows = [mq.metrics.throughput(run.trace, "worker-1", start=t, stop=t + 10)
               for t in range(0, 300, 10)]
    assert (min(windows), max(windows)) == (pytest.approx(2.8), pytest.approx(5.3))
    shown = stored_output("waits = mq.metrics.latencies(trace)")
    assert "p99 3.74 s" in shown and "at most 18 ready" in shown


def test_littles_law_holds_on_the_lesson_run():
    trace = check.lesson_run().trace
    law = mq.metrics.little(trace)  # the whole run, as section 1 counts
    assert law["L"] == pytest.approx(law["lambda*W"], rel=0.005)
    # W is section 1's mean latency, and the sum of its parts: queue + work + link
    waits = mq.metrics.latencies(trace)
    assert law["W"] == pytest.approx(sum(waits) / len(waits))
    in_queue = mq.metrics.latencies(trace, start="enqueue", end="deliver")
    work = mq.metrics.latencies(trace, start="start")
    link = mq.metrics.latencies(trace, end="enqueue")
    parts = [sum(xs) / len(xs) for xs in (in_queue, work, link)]
    assert [round(x, 3) for x in parts] == [0.729, 0.202, 0.2]
    assert round(sum(parts), 3) == round(law["W"], 3) == 1.131
    lam_q = len(in_queue) / 300
    lq = mq.metrics.time_average(*mq.metrics.queue_length(trace, "payments"), stop=300)
    assert lq == pytest.approx(lam_q * parts[0], rel=0.005)  # "within 0.5 %"
    shown = stored_output("mq.metrics.little(trace)")
    assert "L = 4.53 payments" in shown and "W = 1.131 s" in shown \
        and "lambda x W = 4.54" in shown
    assert "Lq = 2.92 payments" in shown and "lambda x Wq = 2.91" in shown


def test_the_m_d_1_copy_of_the_think_runs_and_prints_what_the_lesson_says(capsys):
    # the copy of check.payments with fixed service times, in the Think! of section 3
    nb = nbformat.read(LESSON, as_version=4)
    [cell] = [c for c in nb.cells if "def payments_fixed" in c.source]
    code = cell.source.split("```python\n", 1)[1].split("```", 1)[0]
    code = "\n".join(line.removeprefix(">").removeprefix(" ") for line in code.splitlines())
    exec(code, {"mq": mq, "check": check, "statistics": statistics})
    printed = capsys.readouterr().out.strip()
    assert printed == "mean latency 0.606 s"
    assert "It prints 0.606 s" in cell.source
    # M/D/1: W = S + rho S / (2 (1 - rho)); M/M/1: S / (1 - rho)
    rho, s = 0.8, check.SERVICE
    assert s + rho * s / (2 * (1 - rho)) == pytest.approx(0.6)
    assert check.theory_latency(rho, 1) == pytest.approx(1.0)


def test_system_throughput_is_the_sum_of_the_nodes_throughputs_on_the_pipeline():
    run = check.pipeline().run(until=check.PIPE["until"])
    workers = mq.metrics.utilisation(run.trace)
    per_node = [mq.metrics.throughput(run.trace, w) for w in workers]
    assert len(per_node) == 3
    assert mq.metrics.system_throughput(run.trace) == pytest.approx(sum(per_node))
    assert round(sum(per_node), 2) == 9.38
    stages = check.stage_numbers(run)
    assert sum(s["throughput"] for s in stages.values()) == pytest.approx(sum(per_node))
    # the orders finished per second: the last stage's throughput, not the sum
    assert stages["ship"]["throughput"] == pytest.approx(
        len(check.end_to_end(run)) / check.PIPE["until"], abs=0.05)


def test_the_bottleneck_moves_as_the_lesson_says():
    first = check.stage_numbers(check.pipeline().run(until=60))
    assert first["pay"]["busy"] > 0.98 and first["pay"]["queue_end"] == 165
    assert first["ship"]["busy"] < 0.6
    moved = check.stage_numbers(check.pipeline({"pay": 2}).run(until=60))
    assert moved["pay"]["queue_end"] < 5 and moved["ship"]["queue_end"] == 58
    assert moved["ship"]["busy"] > 0.95
    fixed_run = check.pipeline(check.bottleneck_answer()).run(until=60)
    fixed = check.stage_numbers(fixed_run)
    assert all(s["busy"] < 0.9 for s in fixed.values())
    through = check.end_to_end(fixed_run)
    assert round(mq.metrics.percentile(through, 50), 1) == 1.5
    assert round(mq.metrics.percentile(through, 99)) == 4
    shown = stored_output("show_stages(one_each)")
    assert "165 ready at the end" in shown and "system throughput (sum over the workers): 9.38" \
        in shown
    assert "58 ready at the end" in stored_output("more_pay = check.pipeline")


def test_the_pipeline_at_10_seconds_as_the_caption_counts_it():
    trace = check.pipeline().run(until=60).trace
    early = [e for e in trace if e.time <= 10]
    published = {n: sum(1 for e in early if e.kind == "publish" and e.node == n)
                 for n in ["shop", "validate-1", "pay-1"]}
    assert published == {"shop": 50, "validate-1": 46, "pay-1": 19}
    acks = [sum(1 for e in early if e.kind == "ack" and e.node == n)
            for n in ["validate-1", "pay-1", "ship-1"]]
    assert acks == [46, 19, 19]
    times, lengths = mq.metrics.queue_length(trace, "pay")
    assert [n for t, n in zip(times, lengths, strict=True) if t <= 10][-1] == 26


def test_the_fixed_pipeline_has_busy_spells_not_growth():
    run = check.pipeline(check.bottleneck_answer()).run(until=60)
    pay = check.stage_numbers(run)["pay"]
    assert pay["queue_end"] == 13 and round(pay["busy"], 2) == 0.85
    times, lengths = mq.metrics.queue_length(run.trace, "pay")
    emptied = [t for t, n in zip(times, lengths, strict=True) if n == 0]
    assert len(emptied) > 100 and 48.5 < emptied[-1] < 49.5  # the last spell began near 49 s


def test_the_pool_sizes_the_lesson_quotes():
    assert check.pool_answer(12, 0.5, 0.1) == 8
    assert check.pool_answer(24, 0.5, 0.1) == 15
