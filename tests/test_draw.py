"""Drawing: the layout by role and the static picture of the network."""

import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import pytest

import mqlab as mq
from mqlab.draw import draw_network, layout

matplotlib.use("Agg")  # no window: every picture is drawn off-screen


def twenty_nodes():
    net = mq.Network(seed=2)
    net.broker("hub")
    net.exchange("hub", "orders", type="topic")
    net.exchange("hub", "alerts", type="fanout")
    for i in range(4):
        net.producer(f"shop{i}", rate=5.0, routing_key="order.new", exchange="orders")
    for q in ("eu", "us", "paid", "ops", "dlq"):
        net.queue("hub", q)
    for q in ("eu", "us", "paid"):
        net.bind("orders", q)
    net.bind("alerts", "ops")
    for i, q in enumerate(["eu", "eu", "eu", "us", "us", "paid", "paid", "ops"]):
        net.consumer(f"w{i}", queue=q)
    return net


# -- layout -----------------------------------------------------------------------------------
def test_layout_puts_the_roles_in_columns_left_to_right():
    pos = layout(twenty_nodes().graph)
    x = {n: p[0] for n, p in pos.items()}
    assert x["shop0"] < x["hub"] < x["orders"] < x["eu"] < x["w0"]
    assert x["orders"] == x["alerts"] and x["eu"] == x["dlq"] and x["w0"] == x["w7"]


def test_layout_keeps_nodes_of_a_column_at_least_a_row_apart():
    pos = layout(twenty_nodes().graph)
    assert len(pos) == 20
    columns: dict[float, list[float]] = {}
    for x, y in pos.values():
        columns.setdefault(x, []).append(y)
    for ys in columns.values():
        ys.sort()
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(ys, ys[1:], strict=False))


def test_a_queue_sits_level_with_its_consumers():
    pos = layout(twenty_nodes().graph)
    assert pos["eu"][1] == pytest.approx(pos["w1"][1])  # the middle one of its three
    assert pos["ops"][1] == pytest.approx(pos["w7"][1])


def test_draw_network_draws_every_queue_as_a_tray_with_its_name():
    ax = draw_network(twenty_nodes().graph)
    texts = {t.get_text() for t in ax.texts}
    assert {"eu", "hub", "w0", "shop3"} <= texts
    trays = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(trays) == 5
    assert ax.get_legend() is not None
    plt.close(ax.figure)


def test_draw_network_rejects_something_that_is_not_a_network():
    with pytest.raises(TypeError, match="nx.DiGraph"):
        draw_network([1, 2, 3])


def test_importing_mqlab_loads_no_plotting_or_widget_library():
    code = ("import sys, mqlab; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- topics and their partitions -------------------------------------------------------------------
def topic_network():
    net = mq.Network(seed=1)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=3, retention=5.0)
    net.producer("shop", interval=0.5, count=4, topic="orders", key=None)
    net.consumer("bill-1", topic="orders", group="billing")
    net.consumer("bill-2", topic="orders", group="billing")
    net.consumer("audit", topic="orders", group="audit")
    return net


def test_log_partitions_get_room_below_them_for_offsets_and_groups():
    pos = layout(topic_network().graph)
    ys = sorted(pos[f"orders-{i}"][1] for i in range(3))
    assert all(b - a >= 1.5 - 1e-9 for a, b in zip(ys, ys[1:], strict=False))
    x = {n: p[0] for n, p in pos.items()}
    assert x["shop"] < x["kafka"] < x["orders"] < x["orders-0"] < x["audit"]


def test_a_topic_is_drawn_with_its_partitions_as_logs_and_its_consumers_groups():
    ax = draw_network(topic_network().graph)
    texts = {t.get_text() for t in ax.texts}
    assert "orders\n(topic, 3 partitions)" in texts
    assert {"orders-0  (log, kept 5 s)", "orders-2  (log, kept 5 s)"} <= texts
    assert {"bill-1\n(group billing)", "audit"} <= texts
    # each log is a tray divided into cells
    cells = [c for c in ax.collections if len(getattr(c, "get_segments", list)()) == 8]
    assert len(cells) == 3
    assert "log" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_a_long_legend_takes_two_rows_and_stays_inside_the_figure():
    from matplotlib.lines import Line2D

    from mqlab.draw import role_legend

    graph = topic_network().graph
    extra = [Line2D([], [], ls="", marker="o", label=f"customer number {i}") for i in range(9)]
    fig = plt.figure(figsize=(9.6, 3))
    ax = fig.add_subplot()
    assert role_legend(ax, graph) == 1  # a short legend: one row
    rows = role_legend(ax, graph, extra)
    assert rows == 2
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width
    plt.close(fig)
