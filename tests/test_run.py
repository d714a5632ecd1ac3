"""A finished run is a record: nothing done to the network afterwards changes it."""

import pytest

import mqlab as mq


def shop():
    net = mq.Network(seed=5)
    net.producer("till", rate=4.0, routing_key="orders", count=30)
    net.broker("hub")
    net.queue("hub", "orders", capacity=5)
    net.consumer("clerk", queue="orders", service=0.3)
    return net


def test_changing_the_network_after_a_run_leaves_the_run_as_it_was():
    net = shop()
    run = net.run(until=10)
    nodes, edges = sorted(run.graph.nodes), sorted(run.graph.edges)
    summary = run.summary().text()
    frame = run.play(frames=5, progress=False)
    before = list(frame.frames)
    frame.close()

    net.consumer("helper", queue="orders", service=0.1)
    net.queue("hub", "returns")
    net.link("orders", "helper", latency=0.2)
    later = net.run(until=10)

    assert sorted(run.graph.nodes) == nodes and sorted(run.graph.edges) == edges
    assert "helper" not in run.graph and "helper" in later.graph
    assert run.summary().text() == summary
    again = run.play(frames=5, progress=False)
    assert again.frames == before
    again.close()
    assert later.summary().text() != summary


def test_a_run_does_not_hold_the_network():
    run = shop().run(until=10)
    assert not hasattr(run, "network")
    assert run.graph is run.trace.graph


def test_a_run_without_a_trace_says_so_wherever_it_is_used():
    run = shop().run(until=10, trace=False)
    for use in (run.summary, run.play, lambda: run.state(1.0), lambda: run.to_html()):
        with pytest.raises(ValueError, match="trace=False"):
            use()


def test_the_summary_names_the_routing_keys_that_went_nowhere():
    net = mq.Network(seed=1)
    net.producer("p", rate=5.0, routing_key={"orders": 3, "ordres": 1})
    net.broker("hub")
    net.queue("hub", "orders")
    net.consumer("c", queue="orders", service=0.05)
    summary = net.run(until=20).summary()
    assert list(summary.unroutable) == ["ordres"]
    assert summary.unroutable["ordres"] == summary.account.dropped["unroutable"] > 5
    assert "'ordres'" in summary.text()


def test_latency_from_creation_counts_the_wait_at_a_synchronous_producer():
    net = mq.Network(seed=2)
    net.producer("client", interval=0.1, count=20, routing_key="jobs", mode="sync")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("server", queue="jobs", service=0.3)
    trace = net.run().trace
    from_publish = mq.metrics.latencies(trace)
    from_creation = mq.metrics.latencies(trace, start="create")
    assert len(from_creation) == len(from_publish) == 20
    # the producer makes a message every 0.1 s but may send one only every 0.3 s
    assert max(from_publish) == pytest.approx(0.3)
    assert max(from_creation) > 3.0
    assert all(c >= p - 1e-12 for c, p in zip(from_creation, from_publish, strict=True))


def test_latency_kinds_are_checked():
    trace = shop().run(until=5).trace
    with pytest.raises(ValueError, match="start must be an event kind"):
        mq.metrics.latencies(trace, start="created")
    with pytest.raises(ValueError, match="end must be an event kind"):
        mq.metrics.latencies(trace, end="create")
    with pytest.raises(ValueError, match="creation time"):
        mq.metrics.latencies(mq.Trace(trace.rows), start="create")


def expiring_orders():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "orders", message_ttl=0.5, dead_letter="expired")
    net.producer("till", rate=4.0, routing_key="orders", count=20)
    net.consumer("clerk", queue="orders", service=1.0)
    return net


def test_a_consumer_may_read_a_dead_letter_queue_that_is_only_named():
    net = expiring_orders()
    net.consumer("inspector", queue="expired", service=0.01)  # "expired" is not declared
    assert net.graph.nodes["expired"]["role"] == "queue"
    summary = net.run(until=30).summary()
    assert summary.consumers["inspector"]["processed"] == summary.account.dead_lettered > 0


def test_a_bad_consumer_of_a_named_dead_letter_queue_declares_nothing():
    net = expiring_orders()
    with pytest.raises(ValueError, match="prefetch"):
        net.consumer("inspector", queue="expired", prefetch=0)
    assert "expired" not in net.graph and "inspector" not in net.graph
    with pytest.raises(ValueError, match="existing queue"):
        net.consumer("inspector", queue="expried")  # a typo is still an error


def test_the_summary_says_how_many_acks_came_from_dead_letter_queues():
    net = expiring_orders()
    net.consumer("inspector", queue="expired", service=0.01)
    summary = net.run(until=30).summary()
    clerk, inspector = (summary.consumers[c]["processed"] for c in ("clerk", "inspector"))
    assert summary.account.acked == clerk + inspector
    assert summary.dead_letter_acks == inspector > 0
    assert f"({inspector} of them from dead-letter queues)" in summary.text()
    plain = shop().run(until=10).summary()
    assert plain.dead_letter_acks == 0 and "dead-letter queues" not in plain.text()
