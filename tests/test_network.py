"""The builder: every call adds a node or an edge to a plain networkx graph."""

import networkx as nx
import pytest

import mqlab as mq


def small_system():
    net = mq.Network(seed=7)
    net.producer("sensor", rate=5.0, routing_key="temp.eu")
    net.broker("hub")
    net.exchange("hub", "events", type="topic")
    net.queue("hub", "eu", capacity=10)
    net.queue("hub", "dlq")
    net.queue("hub", "all", kind="priority", max_priority=5, dead_letter="dlq")
    net.bind("events", "eu", pattern="temp.eu")
    net.bind("events", "all")
    net.consumer("w1", queue="eu", service=0.1)
    net.link("sensor", "hub", latency=0.02)
    net.link("hub", "w1", latency=0.01)
    return net


def test_the_graph_is_a_plain_digraph_with_a_role_on_every_node():
    net = small_system()
    assert isinstance(net.graph, nx.DiGraph)
    assert dict(net.graph.nodes(data="role")) == {
        "sensor": "producer", "hub": "broker", "events": "exchange",
        "eu": "queue", "dlq": "queue", "all": "queue", "w1": "consumer",
    }
    assert net.role("events") == "exchange"


def test_edges_say_what_they_are():
    net = small_system()
    net.resolve()
    kinds = {(u, v): k for u, v, k in net.graph.edges(data="kind")}
    assert kinds == {
        ("hub", "events"): "internal",
        ("hub", "eu"): "internal",
        ("hub", "dlq"): "internal",
        ("hub", "all"): "internal",
        ("events", "eu"): "binding",
        ("events", "all"): "binding",
        ("eu", "w1"): "deliver",
        ("sensor", "hub"): "link",
        ("all", "dlq"): "dead-letter",
    }


def test_bindings_keep_their_pattern_and_default_to_match_everything_on_a_topic_exchange():
    net = small_system()
    assert net.graph.edges["events", "eu"]["pattern"] == "temp.eu"
    assert net.graph.edges["events", "all"]["pattern"] == "#"


def test_a_direct_binding_defaults_to_the_queue_name():
    net = mq.Network()
    net.broker("hub")
    net.exchange("hub", "jobs-x", type="direct")
    net.queue("hub", "jobs")
    net.bind("jobs-x", "jobs")
    assert net.exchanges["jobs-x"].bindings == [("jobs", "jobs", None)]  # no arguments


def test_link_latencies_are_written_on_the_graph_for_drawing():
    net = small_system()
    assert net.graph.edges["sensor", "hub"]["latency"] == 0.02
    assert net.graph.edges["eu", "w1"]["latency"] == 0.01
    net2 = mq.Network()
    net2.producer("p", interval=1.0)
    net2.broker("b")
    net2.link("p", "b", latency=mq.exponential(0.1))
    assert net2.graph.edges["p", "b"]["latency"] is None  # drawn afresh, no single number


def test_a_producer_with_one_broker_needs_no_explicit_link():
    net = mq.Network()
    net.producer("p", interval=1.0, routing_key="q", count=2)
    net.broker("b")
    net.queue("b", "q")
    net.consumer("c", queue="q", service=0.1)
    run = net.run()
    assert net.graph.edges["p", "b"] == {"kind": "link", "latency": 0.0}
    assert run.summary().account.acked == 2


def test_a_producer_publishing_to_an_exchange_finds_its_broker():
    net = mq.Network()
    net.broker("b1")
    net.broker("b2")
    net.exchange("b2", "x", type="fanout")
    net.queue("b2", "q")
    net.bind("x", "q")
    net.producer("p", interval=1.0, exchange="x", count=1)
    net.resolve()
    assert net.producers["p"].to == "b2"
    assert net.graph.has_edge("p", "b2")


def test_students_can_use_networkx_on_the_graph():
    net = small_system()
    net.resolve()
    assert nx.has_path(net.graph, "sensor", "w1")
    assert nx.shortest_path(net.graph, "sensor", "w1") == ["sensor", "hub", "eu", "w1"]


def test_seed_must_be_an_int_or_none():
    assert mq.Network(seed=None).seed is None
    with pytest.raises(TypeError, match="seed"):
        mq.Network(seed=1.5)


def test_the_doc_example_acks_every_message():
    net = mq.Network(seed=7)
    net.producer("sensor", interval=1.0, routing_key="jobs", count=3)
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("worker", queue="jobs", service=0.5)
    net.link("sensor", "hub", latency=0.1)
    run = net.run(until=10)
    acks = [(round(e.time, 9), e.msg) for e in run.trace.filter(kind="ack")]
    # sent at 1, 2, 3; 0.1 s on the link; 0.5 s of work
    assert acks == [(1.6, 1), (2.6, 2), (3.6, 3)]


def test_a_dead_letter_queue_that_was_never_declared_is_declared_on_the_first_run():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=1, dead_letter="dlq")
    net.producer("p", schedule=[0.0, 1.0], routing_key="jobs")
    assert "dlq" not in net.graph
    run = net.run(until=2)
    assert net.role("dlq") == "queue" and net.queues["dlq"].broker == "hub"
    assert net.graph.edges["jobs", "dlq"]["kind"] == "dead-letter"
    assert run.still["queued"] == {"jobs": 1, "dlq": 1}


def test_a_producer_links_to_one_broker_only():
    net = mq.Network()
    net.broker("b1")
    net.broker("b2")
    net.producer("p", interval=1.0)
    net.link("p", "b1", latency=0.1)
    net.link("p", "b1", latency=0.2)  # linking again changes the link
    assert net.links[("p", "b1")].fixed_latency == 0.2
    with pytest.raises(ValueError, match="already links to broker 'b1'"):
        net.link("p", "b2")


def test_a_queue_bound_twice_shows_both_keys_on_its_edge():
    net = mq.Network()
    net.broker("hub")
    net.exchange("hub", "orders", "direct")
    net.queue("hub", "far")
    net.bind("orders", "far", "us")
    net.bind("orders", "far", "asia")
    assert net.graph.edges["orders", "far"]["pattern"] == "us, asia"
