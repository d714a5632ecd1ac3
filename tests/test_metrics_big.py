"""A big trace is measured from its numpy columns (mqlab.metrics._BIG): the same numbers as
reading it row by row, checked here by measuring small runs both ways."""

from __future__ import annotations

import math

import pytest

import mqlab as mq
from mqlab import metrics
from mqlab.trace import roles


def faulty():
    net = mq.Network(seed=4)
    net.producer("p", rate=30, routing_key="jobs", count=400)
    net.producer("q", rate=5, routing_key="nowhere", count=20)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=5, overflow="drop-head", dead_letter="dlq")
    net.queue("hub", "dlq")
    net.consumer("w1", queue="jobs", service=mq.exponential(0.05), crash=[(3, 5)])
    net.consumer("w2", queue="jobs", service=0.04, prefetch=3, nack=0.1)
    net.consumer("reader", queue="dlq", service=0.01)
    net.link("p", "hub", latency=0.01, loss=0.05, duplicate=0.05)
    return net.run(until=20, progress=False)


def plain():
    net = mq.Network(seed=2)
    for i in range(3):
        net.producer(f"p{i}", rate=8, routing_key="jobs", count=300)
    net.broker("hub")
    net.queue("hub", "jobs")
    for i in range(2):
        net.consumer(f"c{i}", queue="jobs", service=mq.exponential(0.1))
    return net.run(progress=False)


def ttl_and_log():
    net = mq.Network(seed=5)
    net.producer("p", rate=10, routing_key="deals", count=100)
    net.producer("shop", rate=10, count=80, topic="orders", key=lambda x: str(x % 3),
                 payload=lambda i: i)
    net.broker("hub")
    net.queue("hub", "deals", message_ttl=0.2)
    net.topic("hub", "orders", partitions=2)
    net.consumer("buyer", queue="deals", service=0.15)
    net.consumer("bill", topic="orders", group="billing", service=0.05)
    return net.run(until=15, progress=False)


RUNS = {"faulty": faulty, "plain": plain, "ttl and log": ttl_and_log}


def measure(run):
    tr = run.trace
    queues = [n for n, r in roles(tr).items() if r == "queue"]
    consumers = [n for n, r in roles(tr).items() if r == "consumer"]
    out = {"account": metrics.account(tr), "unroutable": metrics.unroutable(tr),
           "latencies": metrics.latencies(tr), "since": metrics.latencies(tr, since=2.0),
           "enqueue-deliver": metrics.latencies(tr, "enqueue", "deliver"),
           "set": metrics.latencies(tr, node=set(consumers[:2])),
           "system": metrics.system_throughput(tr),
           "window": metrics.throughput(tr, consumers[0], start=1.0, stop=4.0)}
    for c in consumers:
        out[c] = (metrics.latencies(tr, node=c), metrics.count(tr, "ack", node=c),
                  metrics.count(tr, "deliver", peer=c), metrics.throughput(tr, c))
    for q in queues:
        times, lengths = metrics.queue_length(tr, q)
        out[q] = (times, lengths, metrics.time_average(times, lengths, tr.duration),
                  metrics.time_average(times, lengths, tr.duration / 2),
                  metrics.queue_summary(tr, q), metrics.queue_summary(tr, q, tr.duration / 3))
    lat = out["latencies"]
    out["percentiles"] = [metrics.percentile(lat, q) for q in (0, 12.5, 50, 99, 100)]
    return out


@pytest.mark.parametrize("name", sorted(RUNS))
def test_columns_give_the_numbers_rows_give(name, monkeypatch):
    run = RUNS[name]()
    by_rows = measure(run)
    monkeypatch.setattr(metrics, "_BIG", 0)
    by_columns = measure(run)
    assert by_columns == by_rows
    assert by_rows["latencies"] and any(len(v[0]) > 2 for v in by_rows.values()
                                         if isinstance(v, tuple) and isinstance(v[0], list))


def test_same_instant_steps_of_a_big_queue_merge_as_the_row_rule_says(monkeypatch):
    from mqlab.trace import Trace

    rows = [(0.0, "enqueue", 1, "q"), (1.0, "enqueue", 2, "q"), (1.0 + 5e-10, "deliver", 1, "q"),
            (1.0 + 9e-10, "enqueue", 3, "q"), (1.0 + 1.5e-9, "deliver", 2, "q"),
            (2.0, "deliver", 3, "q")]
    tr = Trace(rows)
    by_rows = metrics.queue_length(tr, "q")
    monkeypatch.setattr(metrics, "_BIG", 0)
    assert metrics.queue_length(tr, "q") == by_rows  # a chain longer than 1 ns: rows rule
    assert by_rows[1][-1] == 0


def test_a_big_percentile_is_the_same_number():
    xs = [math.sin(i) * 100 for i in range(metrics._BIG + 7)]
    for q in (0, 1, 50, 97.5, 100):
        assert metrics.percentile(xs, q) == _sorted_percentile(xs, q)


def _sorted_percentile(values, q):
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
