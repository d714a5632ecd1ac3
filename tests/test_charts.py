"""Charts: each picture shows exactly what the metrics and the trace say."""

import matplotlib

matplotlib.use("Agg")

from collections import Counter  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

import mqlab as mq  # noqa: E402
from mqlab import charts, metrics  # noqa: E402

SERVICE = 0.25  # seconds per message at the worker
GAP = 0.1  # seconds between two messages from the producer


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def two_queues():
    """A sensor fills a bounded queue shared by two workers; a camera has its own queue."""
    net = mq.Network(seed=3)
    net.producer("sensor", interval=0.2, routing_key="jobs", count=20)
    net.producer("camera", interval=0.5, routing_key="photos", count=8)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=4)
    net.queue("hub", "photos")
    net.consumer("w1", queue="jobs", service=0.6)
    net.consumer("w2", queue="jobs", service=0.6)
    net.consumer("w3", queue="photos", service=0.1)
    return net.run().trace


@pytest.fixture(scope="module")
def steady():
    """One producer every GAP s, one worker needing SERVICE s: it acks 4 messages a second."""
    net = mq.Network(seed=1)
    net.producer("sensor", interval=GAP, routing_key="jobs", count=40)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=SERVICE)
    return net.run().trace


def request_reply(count=3):
    """A synchronous client: each request travels, is processed, acked and answered."""
    net = mq.Network(seed=1)
    net.producer("client", schedule=[0.0, 1.0, 2.0][:count], routing_key="jobs", mode="sync")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=0.2)
    net.link("client", "hub", latency=0.1)
    net.link("jobs", "worker", latency=0.05)
    return net.run().trace


def arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


def x_marks(ax):
    return [line for line in ax.lines if line.get_marker() == "x"]


# -- queue length ------------------------------------------------------------------------------
def test_queue_length_has_one_step_line_per_queue_matching_the_metric(two_queues):
    ax = charts.plot_queue_length(two_queues)
    steps = [line for line in ax.lines if line.get_label() in ("jobs", "photos")]
    assert [line.get_label() for line in steps] == ["jobs", "photos"]
    for line in steps:
        times, lengths = metrics.queue_length(two_queues, line.get_label())
        assert line.get_drawstyle() == "steps-post"
        # the metric's step function, held at its last value until the end of the run
        assert list(line.get_xdata()) == times + [two_queues.duration]
        assert list(line.get_ydata()) == lengths + [lengths[-1]]


def test_a_bounded_queue_shows_its_capacity(two_queues):
    ax = charts.plot_queue_length(two_queues)
    cap = [line for line in ax.lines if line.get_label() == "jobs capacity (4)"]
    assert len(cap) == 1 and list(cap[0].get_ydata()) == [4, 4]
    assert max(metrics.queue_length(two_queues, "jobs")[1]) == 4  # it did fill up
    assert ax.get_ylim()[1] > 4  # and the line is not hidden in the frame


def test_queue_length_draws_into_the_given_axes_with_units(two_queues):
    _, ax = plt.subplots()
    assert charts.plot_queue_length(two_queues, queues=["photos"], ax=ax) is ax
    assert len(ax.lines) == 1  # photos has no capacity line
    assert ax.get_xlabel() == "time (s)"
    assert "messages" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["photos"]


# -- latency -----------------------------------------------------------------------------------
def test_latency_histogram_counts_every_acked_message_and_marks_percentiles(two_queues):
    values = metrics.latencies(two_queues)
    ax = charts.plot_latency(two_queues, bins=12)
    assert len(ax.patches) == 12
    assert sum(bar.get_height() for bar in ax.patches) == len(values)
    assert len(values) == metrics.account(two_queues).acked == 26  # 2 dropped: queue full
    marked = [line.get_xdata()[0] for line in ax.lines]
    assert marked == pytest.approx([metrics.percentile(values, q) for q in (50, 95, 99)])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"p99 = {metrics.percentile(values, 99):.3g} s" in legend
    assert ax.get_xlabel().endswith("(s)")
    assert {t.get_text().strip() for t in ax.texts} == {"p50", "p95", "p99"}


def test_latency_between_other_events_and_with_nothing_to_show(two_queues):
    _, ax = plt.subplots()
    out = charts.plot_latency(two_queues, ax=ax, start="enqueue", end="deliver")
    assert out is ax and "enqueue \u2192 deliver" in ax.get_xlabel()
    empty = mq.Trace([(0.0, "publish", 1, "sensor", "hub", "jobs")])
    ax = charts.plot_latency(empty)
    assert len(ax.patches) == 0 and "no message" in ax.texts[0].get_text()


# -- throughput --------------------------------------------------------------------------------
def test_throughput_per_window_equals_acks_over_window(steady):
    ax = charts.plot_throughput(steady, window=1.0)
    worker, total = ax.lines
    assert (worker.get_label(), total.get_label()) == ("worker", "system (sum)")
    # acks come at x.35, x.6, x.85 and then every SERVICE s: 3 in the first second, then 4
    assert list(worker.get_xdata()) == [float(t) for t in range(11)]
    assert list(worker.get_ydata()[1:]) == [3.0] + [1 / SERVICE] * 9
    assert ax.get_ylabel() == "throughput (messages/s)" and ax.get_xlabel() == "time (s)"


def test_system_throughput_is_the_sum_of_the_consumers(two_queues):
    ax = charts.plot_throughput(two_queues, window=2.0, step=0.5)
    *consumers, total = ax.lines
    assert [line.get_label() for line in consumers] == ["w1", "w2", "w3"]
    stacked = np.sum([line.get_ydata() for line in consumers], axis=0)
    assert np.allclose(stacked, total.get_ydata())
    assert np.diff(total.get_xdata()[1:]) == pytest.approx(0.5)  # sliding by 0.5 s


def test_throughput_of_chosen_nodes_into_given_axes(two_queues):
    _, ax = plt.subplots()
    assert charts.plot_throughput(two_queues, nodes=["w3"], ax=ax) is ax
    assert [line.get_label() for line in ax.lines] == ["w3", "system (sum)"]
    with pytest.raises(ValueError, match="window"):
        charts.plot_throughput(two_queues, window=0)


# -- sequence diagram --------------------------------------------------------------------------
def test_sequence_has_one_arrow_per_hop():
    trace = request_reply()
    # each request: publish -> arrive, route, deliver -> arrive, ack, reply
    ax = charts.plot_sequence(trace, messages=[1, 2])
    assert len(arrows(ax)) == 2 * 5
    ax = charts.plot_sequence(trace)  # all three (the limit is larger)
    kinds = Counter(a.get_gid() for a in arrows(ax))
    assert kinds == {f"hop:{k}": 3 for k in ("publish", "route", "deliver", "ack", "reply")}
    assert x_marks(ax) == []


def test_link_hops_slope_with_their_latency():
    trace = request_reply(count=1)
    hops, marks = charts.hops(trace, [1])
    (publish,) = [h for h in hops if h.kind == "publish"]
    (deliver,) = [h for h in hops if h.kind == "deliver"]
    (reply,) = [h for h in hops if h.kind == "reply"]
    assert (publish.src, publish.t0, publish.dst, publish.t1) == ("client", 0.0, "hub", 0.1)
    assert (deliver.src, deliver.dst) == ("jobs", "worker")
    assert deliver.t1 - deliver.t0 == pytest.approx(0.05)
    assert (reply.src, reply.dst) == ("worker", "client")
    assert reply.t1 - reply.t0 == pytest.approx(0.05 + 0.1)  # back along both links
    assert marks == []


def test_sequence_lifelines_ordered_by_role_and_time_flows_down():
    ax = charts.plot_sequence(request_reply())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["client\n(producer)", "hub\n(broker)", "jobs\n(queue)",
                      "worker\n(consumer)"]
    bottom, top = ax.get_ylim()
    assert bottom > top  # later times lower down
    assert ax.get_ylabel() == "time (s)"


def test_sequence_is_limited_to_the_first_messages(steady):
    ax = charts.plot_sequence(steady, limit=2)
    assert len(arrows(ax)) == 2 * 4  # no reply: the producer does not wait
    assert ax.get_title(loc="left") == "messages #1, #2"
    with pytest.raises(ValueError, match="limit"):
        charts.plot_sequence(steady, limit=0)


def test_lost_and_dropped_messages_end_in_an_x():
    net = mq.Network(seed=2)
    net.producer("sensor", schedule=[0.0, 0.1, 0.2], routing_key="jobs")
    net.producer("lossy", schedule=[0.3], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs", capacity=1, overflow="reject-publish")
    net.consumer("worker", queue="jobs", service=5.0)
    net.link("lossy", "hub", latency=0.1, loss=1.0)
    trace = net.run(until=1).trace
    hops, marks = charts.hops(trace, [1, 2, 3, 4])
    # 1 goes to the worker, 2 waits in the queue, 3 finds it full, 4 is lost on its link
    assert [(m.msg, m.node, m.reason) for m in marks] == [
        (3, "jobs", "rejected"), (4, "lossy", "lost on the link")]
    assert [h.how for h in hops if h.msg == 4] == ["lost"]
    ax = charts.plot_sequence(trace)
    assert len(x_marks(ax)) == 2
    # 1: publish, route, deliver (service outlasts the run); 2 and 3: publish, route; 4: lost
    assert len(arrows(ax)) == len(hops) == 3 + 2 + 2 + 1


def test_a_crash_loses_the_delivery_on_its_way():
    net = mq.Network(seed=1)
    net.producer("client", schedule=[0.0], routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("w1", queue="jobs", service=0.2, crash=[(0.05, 0.5)])
    net.link("jobs", "w1", latency=0.1)
    hops, marks = charts.hops(net.run(until=2).trace, [1])
    assert [(h.kind, h.how) for h in hops] == [
        ("publish", "arrow"), ("route", "arrow"), ("deliver", "lost"), ("deliver", "arrow"),
        ("ack", "arrow")]
    assert marks == [charts.Mark(1, "jobs", 0.05, "w1 crashed", towards="w1")]


def test_a_real_run_trace_without_graph_or_link_arrivals():
    trace = mq.Trace([
        (0.000, "publish", 1, "main", "jobs", "jobs"),
        (0.000, "enqueue", 1, "jobs", "", ""),
        (0.002, "deliver", 1, "jobs", "worker", ""),
        (0.002, "start", 1, "worker", "", ""),
        (0.005, "ack", 1, "worker", "jobs", "manual"),
    ])
    assert charts.roles(trace) == {"main": "producer", "jobs": "queue", "worker": "consumer"}
    hops, _ = charts.hops(trace, [1])
    assert [(h.kind, h.t0 == h.t1) for h in hops] == [
        ("publish", True), ("deliver", True), ("ack", True)]  # no arrivals: instant hops
    _, ax = plt.subplots()
    assert charts.plot_sequence(trace, ax=ax) is ax
    assert len(arrows(ax)) == 3


def test_charts_do_not_touch_global_matplotlib_settings(steady):
    before = dict(matplotlib.rcParams)
    for plot in (charts.plot_queue_length, charts.plot_latency, charts.plot_throughput,
                 charts.plot_sequence):
        plot(steady)
    assert dict(matplotlib.rcParams) == before


def test_a_broker_hands_messages_to_its_exchange_and_fanout_steps_are_drawn_in_order():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "news", type="fanout")
    net.producer("editor", schedule=[0.0], exchange="news")
    for name in ("web", "mail"):
        net.queue("hub", name)
        net.bind("news", name)
        net.consumer(f"{name}-worker", queue=name, service=0.5)
    trace = net.run().trace
    hops, _ = charts.hops(trace, [1])
    assert [(h.kind, h.src, h.dst) for h in hops[:4]] == [
        ("publish", "editor", "hub"), ("exchange", "hub", "news"), ("route", "news", "web"),
        ("route", "news", "mail")]
    assert all(h.t0 == 0.0 for h in hops[:4])  # all at one instant ...
    ax = charts.plot_sequence(trace)
    starts = [a.get_path().vertices[0][1] for a in arrows(ax)[:4]]  # in data coordinates
    assert starts == sorted(starts) and len(set(np.round(starts, 9))) == 4  # ... one below another
