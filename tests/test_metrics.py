"""Metrics read only the Trace: checked on tiny hand-made traces with known answers."""

import math

import networkx as nx
import pytest

from mqlab import Trace, metrics


def graph():
    g = nx.DiGraph()
    for name, role in [("p", "producer"), ("hub", "broker"), ("q", "queue"), ("c", "consumer"),
                       ("d", "consumer")]:
        g.add_node(name, role=role)
    return g


def two_jobs_and_a_stray():
    """Two messages go p -> hub -> q -> c; a third has no queue to go to."""
    t = Trace(graph=graph())
    rows = [
        (0.0, "publish", 1, "p", "hub", "jobs"),
        (0.0, "arrive", 1, "hub", "p", ""),
        (0.0, "route", 1, "hub", "q", "jobs"),
        (0.0, "enqueue", 1, "q", "", ""),
        (1.0, "publish", 2, "p", "hub", "jobs"),
        (1.0, "arrive", 2, "hub", "p", ""),
        (1.0, "route", 2, "hub", "q", "jobs"),
        (1.0, "enqueue", 2, "q", "", ""),
        (2.0, "deliver", 1, "q", "c", ""),
        (2.0, "start", 1, "c", "", ""),
        (3.0, "ack", 1, "c", "q", "manual"),
        (3.0, "deliver", 2, "q", "d", ""),
        (4.0, "publish", 3, "p", "hub", "nowhere"),
        (4.0, "arrive", 3, "hub", "p", ""),
        (4.0, "drop", 3, "hub", "", "unroutable"),
        (5.0, "ack", 2, "d", "q", "manual"),
    ]
    for r in rows:
        t.record(*r)
    t.end_time = 6.0
    return t


def test_throughput_is_acks_per_second_in_a_window():
    t = two_jobs_and_a_stray()
    assert metrics.throughput(t, "c") == pytest.approx(1 / 6)
    assert metrics.throughput(t) == pytest.approx(2 / 6)
    assert metrics.throughput(t, start=4.0) == pytest.approx(1 / 2)
    assert metrics.throughput(t, start=0.0, stop=3.0) == 0.0  # the window excludes t = 3
    assert metrics.throughput(t, kind="publish", stop=4.0) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="stop"):
        metrics.throughput(t, start=3.0, stop=3.0)


def test_system_throughput_is_the_sum_over_consumers():
    t = two_jobs_and_a_stray()
    assert metrics.system_throughput(t) == pytest.approx(
        metrics.throughput(t, "c") + metrics.throughput(t, "d"))


def test_latencies_from_publish_to_ack_and_between_other_events():
    t = two_jobs_and_a_stray()
    assert metrics.latencies(t) == [3.0, 4.0]
    assert metrics.latencies(t, start="enqueue", end="deliver") == [2.0, 2.0]
    assert metrics.latencies(t, since=0.5) == [4.0]  # message 1 was published in the warm-up
    assert metrics.latencies(t, start="deliver", end="publish") == []


def test_latency_counts_each_message_once():
    t = Trace()
    for r in [(0.0, "publish", 1, "p"), (1.0, "ack", 1, "c"), (2.0, "ack", 1, "c"),
              (3.0, "publish", 1, "p"), (4.0, "ack", 1, "c")]:
        t.record(*r)
    assert metrics.latencies(t) == [1.0]


@pytest.mark.parametrize(("q", "expected"), [(0, 1.0), (25, 1.75), (50, 2.5), (100, 4.0)])
def test_percentile_interpolates_linearly(q, expected):
    assert metrics.percentile([4.0, 1.0, 3.0, 2.0], q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan():
    assert math.isnan(metrics.percentile([], 50))


def test_queue_length_is_a_step_function_of_ready_messages():
    t = two_jobs_and_a_stray()
    times, lengths = metrics.queue_length(t, "q")
    assert list(zip(times, lengths, strict=True)) == [
        (0.0, 0), (0.0, 1), (1.0, 2), (2.0, 1), (3.0, 0)]


def test_queue_length_counts_drop_head_requeue_and_expiry():
    t = Trace()
    for r in [
        (0.0, "enqueue", 1, "q"), (0.0, "enqueue", 2, "q"),
        (1.0, "drop", 1, "q", "", "overflow"), (1.0, "enqueue", 3, "q"),  # drop-head
        (2.0, "deliver", 2, "q", "c"), (3.0, "requeue", 2, "q"),  # back after a nack
        (4.0, "expire", 3, "q"), (5.0, "dead-letter", 2, "q", "dlq", "expired"),
        (6.0, "drop", 9, "q", "", "rejected"),  # never got in: no change
    ]:
        t.record(*r)
    # events at one instant make one step: the drop-head at t = 1 leaves the length at 2
    assert metrics.queue_length(t, "q")[1] == [0, 2, 2, 1, 2, 1, 0]


def test_a_nacked_message_leaves_the_consumer_not_the_queue():
    t = Trace()
    for r in [(0.0, "enqueue", 1, "q"), (1.0, "deliver", 1, "q", "c"),
              (2.0, "nack", 1, "c", "q", "reject"), (2.0, "dead-letter", 1, "q", "dlq", "rejected"),
              (2.0, "drop", 1, "q", "", "nacked")]:
        t.record(*r)
    assert metrics.queue_length(t, "q")[1] == [0, 1, 0]


def test_time_average_weights_each_value_by_how_long_it_held():
    # 0 until 1, then 2 until 4, then 1 until the end at 5: (0*1 + 2*3 + 1*1) / 5
    assert metrics.time_average([0.0, 1.0, 4.0], [0, 2, 1], stop=5.0) == pytest.approx(7 / 5)
    assert metrics.time_average([0.0, 1.0, 4.0], [0, 2, 1], stop=2.0) == pytest.approx(2 / 2)
    times, lengths = metrics.queue_length(two_jobs_and_a_stray(), "q")
    assert metrics.time_average(times, lengths, 6.0) == pytest.approx((1 * 1 + 2 * 1 + 1 * 1) / 6)


def test_little_law_on_a_two_message_story():
    t = Trace()
    for r in [(0.0, "publish", 1, "p"), (1.0, "publish", 2, "p"), (3.0, "ack", 1, "c"),
              (5.0, "ack", 2, "c")]:
        t.record(*r)
    t.end_time = 6.0
    r = metrics.little(t)
    # in the system: 1 from 0 to 1, 2 from 1 to 3, 1 from 3 to 5: area 7 over 6 s
    assert r["L"] == pytest.approx(7 / 6)
    assert r["lambda"] == pytest.approx(2 / 6)
    assert r["W"] == pytest.approx(3.5)
    assert r["lambda*W"] == pytest.approx(r["L"])


def test_little_law_skips_a_warm_up():
    t = Trace()
    for r in [(0.0, "publish", 1, "p"), (1.0, "publish", 2, "p"), (3.0, "ack", 1, "c"),
              (5.0, "ack", 2, "c")]:
        t.record(*r)
    t.end_time = 6.0
    r = metrics.little(t, since=2.0)
    # from 2 to 6: 2 in the system until 3, 1 until 5, 0 after: area 4 over 4 s
    assert r["L"] == pytest.approx(1.0)
    assert r["lambda"] == 0.0 and math.isnan(r["W"])


def test_account_says_where_every_message_ended():
    a = metrics.account(two_jobs_and_a_stray())
    assert (a.published, a.copies, a.acked, a.dropped, a.dead_lettered, a.in_system) == (
        3, 0, 2, {"unroutable": 1}, 0, 0)
    assert a.ended == 3 and a["acked"] == 2


def test_account_counts_fanout_copies_losses_and_messages_still_inside():
    t = Trace(graph=graph())
    for r in [
        (0.0, "publish", 1, "p", "hub"), (0.0, "arrive", 1, "hub", "p"),
        (0.0, "route", 1, "hub", "q"), (0.0, "route", 1, "hub", "q2"),  # fan-out: 1 copy
        (0.0, "enqueue", 1, "q"), (0.0, "enqueue", 1, "q2"),
        (1.0, "publish", 2, "p", "hub"), (1.0, "duplicate", 2, "p", "hub"),  # 1 more copy
        (1.5, "loss", 2, "p", "hub"), (1.5, "arrive", 2, "hub", "p"),
        (1.5, "route", 2, "hub", "q"), (1.5, "enqueue", 2, "q"),
        (2.0, "expire", 1, "q2"),
    ]:
        t.record(*r)
    a = metrics.account(t)
    assert (a.published, a.copies, a.acked, a.dropped, a.in_system) == (
        2, 2, 0, {"loss": 1, "ttl": 1}, 2)


def test_latencies_at_any_of_several_nodes():
    t = Trace([(0.0, "publish", 1, "p", "b"), (0.0, "publish", 2, "p", "b"),
               (1.0, "ack", 1, "w1", "q"), (3.0, "ack", 2, "w2", "q")])
    assert metrics.latencies(t, node=["w1", "w2"]) == [1.0, 3.0]
    assert metrics.latencies(t, node={"w2"}) == [3.0] and metrics.latencies(t, node="w1") == [1.0]
