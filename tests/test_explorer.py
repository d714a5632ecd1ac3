"""explore(): parameters become controls; changing one re-runs the model."""

import ipywidgets as widgets
import matplotlib
import pytest

import mqlab as mq
from mqlab.explorer import explore
from mqlab.player import Player

matplotlib.use("Agg")


class Model:
    """A producer, a bounded queue and some consumers; counts how often it is built."""

    def __init__(self):
        self.calls = []

    def __call__(self, rate=4, overflow="drop-head", consumers=1, lossy=False, service=0.4):
        self.calls.append({"rate": rate, "overflow": overflow, "consumers": consumers,
                           "lossy": lossy, "service": service})
        net = mq.Network(seed=1)
        net.producer("p", rate=rate, routing_key="jobs")
        net.broker("hub")
        net.queue("hub", "jobs", capacity=4, overflow=overflow)
        for i in range(consumers):
            net.consumer(f"c{i}", queue="jobs", service=service)
        net.link("p", "hub", latency=0.1, loss=0.2 if lossy else 0.0)
        return net


def small(build, **ranges):
    return explore(build, until=6, frames=4, progress=False, **ranges)


def test_each_kind_of_range_becomes_its_control():
    ex = small(Model(), rate=(1, 20, 1), overflow=["drop-head", "reject-publish", "block"],
               consumers=(1, 4), lossy=False, service=(0.1, 1.0))
    c = ex.controls
    assert isinstance(c["rate"], widgets.IntSlider) and (c["rate"].min, c["rate"].max) == (1, 20)
    assert isinstance(c["overflow"], widgets.Dropdown)
    assert isinstance(c["lossy"], widgets.Checkbox) and c["lossy"].value is False
    assert isinstance(c["service"], widgets.FloatSlider)
    assert c["service"].step == pytest.approx(0.009)
    assert all(not getattr(w, "continuous_update", False) for w in c.values())


def test_controls_start_at_the_defaults_of_build():
    ex = small(Model(), rate=(1, 20), overflow=["reject-publish", "drop-head"], service=(0.1, 1.0))
    assert ex.params == {"rate": 4, "overflow": "drop-head", "service": 0.4}


def test_changing_a_control_runs_the_model_again_and_refreshes_the_player():
    model = Model()
    ex = small(model, rate=(1, 20, 1), consumers=(1, 4))
    assert len(model.calls) == 1 and ex.runs == 1
    player, summary = ex.player, ex.summary.value
    assert isinstance(player, Player) and ex.children[3] is player

    ex.controls["rate"].value = 15
    assert len(model.calls) == 2
    assert model.calls[-1] == {"rate": 15, "overflow": "drop-head", "consumers": 1,
                               "lossy": False, "service": 0.4}
    assert ex.player is not player and ex.children[3] is ex.player
    assert ex.summary.value != summary
    published = sum(1 for r in ex.run.trace.rows if r[1] == "publish")
    assert f"published {published}" in ex.summary.value

    ex.controls["consumers"].value = 3
    assert model.calls[-1]["consumers"] == 3
    assert {"c0", "c1", "c2"} <= set(ex.run.graph)
    assert repr(ex) == "<Explorer of rate, consumers: 3 runs so far>"


def test_an_error_while_re_running_is_shown_and_the_last_run_kept():
    def build(rate=2, fail=False):
        if fail:
            raise ValueError("rate too silly")
        return Model()(rate=rate).run(until=3)  # a Run is fine too

    ex = small(build, rate=(1, 5), fail=False)
    player = ex.player
    ex.controls["fail"].value = True
    assert "rate too silly" in ex.summary.value
    assert ex.player is player


@pytest.mark.parametrize("ranges, message", [
    ({"speed": (1, 5)}, "'speed' is not a parameter"),
    ({"rate": (5, 1)}, "rate: a range needs low < high"),
    ({"rate": (1, 5, 0)}, "rate: the step must be > 0"),
    ({"rate": (1, "x")}, "rate: a range must hold numbers"),
    ({"overflow": []}, "overflow: a list of choices must not be empty"),
    ({"rate": "fast"}, "rate: use"),
    ({"rate": (1, 2, 3, 4)}, "rate: use"),
])
def test_bad_parameters_and_ranges_are_refused_by_name(ranges, message):
    model = Model()
    with pytest.raises(ValueError, match=message):
        explore(model, **ranges)
    assert model.calls == []  # refused before running anything


def test_build_must_return_a_run_or_a_network():
    with pytest.raises(TypeError, match="Run or a Network"):
        explore(lambda rate=1: 42, rate=(1, 3))


def test_a_new_run_opens_at_the_moment_the_old_one_showed():
    ex = small(Model(), rate=(1, 20, 1))
    ex.player.seek(ex.player.frame_times[-2])
    shown = ex.player.time
    ex.controls["rate"].value = 9
    assert ex.player.time == pytest.approx(shown, abs=ex.player.frame_times[1])
    assert ex.player.index > 0


# -- keeping and comparing runs ------------------------------------------------------------------
def test_the_explorer_keeps_every_run_it_made():
    ex = small(Model(), rate=(1, 20, 1))
    first = ex.run
    ex.controls["rate"].value = 9
    ex.controls["rate"].value = 2
    assert [trial.params for trial in ex.history] == [{"rate": 4}, {"rate": 9}, {"rate": 2}]
    assert ex.history[0].run is first and ex.history[-1].run is ex.run


def test_results_give_one_figure_per_setting_in_the_order_of_the_settings():
    ex = small(Model(), rate=(1, 20, 1))
    for rate in (9, 2, 9):  # 9 twice: one row, from its latest run
        ex.controls["rate"].value = rate
    rows = ex.results("processed")
    assert [params for params, _ in rows] == [{"rate": 2}, {"rate": 4}, {"rate": 9}]
    runs = {t.params["rate"]: t.run for t in ex.history}
    assert [v for _, v in rows] == [mq.metrics.count(runs[r].trace, "ack") for r in (2, 4, 9)]
    drops = dict((p["rate"], v) for p, v in ex.results("dropped"))
    assert drops[9] > drops[2]  # a faster producer overflows the small queue more
    p99 = dict((p["rate"], v) for p, v in ex.results("p99"))
    assert p99[9] == pytest.approx(mq.metrics.percentile(
        mq.metrics.latencies(runs[9].trace), 99))


def test_results_take_any_function_of_a_run():
    ex = small(Model(), rate=(1, 20, 1))
    ex.controls["rate"].value = 6
    assert ex.results(lambda run: len(run.trace)) == [
        ({"rate": 4}, len(ex.history[0].run.trace)), ({"rate": 6}, len(ex.run.trace))]


def test_compare_shows_a_table_of_every_setting_beside_the_summary():
    ex = small(Model(), rate=(1, 20, 1), overflow=["drop-head", "reject-publish"],
               compare="p99")
    assert ex.comparison is not None and ex.children[3] is ex.player
    assert ex.comparison in ex.children[2].children and ex.summary in ex.children[2].children
    ex.controls["rate"].value = 12
    ex.controls["overflow"].value = "reject-publish"
    table = ex._compare_table.value
    assert "p99 latency, publish" in table
    assert table.count("<tr style") == 3  # three settings tried
    # the row of the setting on show is bold
    assert "font-weight:bold'><td style='padding-right:8px'>12</td>" \
           "<td style='padding-right:8px'>reject-publish</td>" in table
    value = ex.results("p99")[-1][1]
    assert f"{value:.3g}" in table
    ex._compare_menu.value = "dropped"
    assert "messages dropped" in ex._compare_table.value


def test_without_compare_there_is_no_table():
    ex = small(Model(), rate=(1, 20, 1))
    assert ex.comparison is None and ex.children[2] is ex.summary


@pytest.mark.parametrize(("compare", "error"), [("p95", ValueError), (42, TypeError)])
def test_a_bad_compare_is_refused_before_anything_runs(compare, error):
    model = Model()
    with pytest.raises(error, match="compare must be one of"):
        explore(model, compare=compare, rate=(1, 5))
    assert model.calls == []
