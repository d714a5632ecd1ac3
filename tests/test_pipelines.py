"""Pipelines: consumers that publish what they finished on to the next stage."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqlab as mq


def photo_pipeline(seed=2, resize=0.3, tag=0.4, count=40, two_sites=False):
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "uploads")
    net.queue("hub", "thumbs")
    site = "remote" if two_sites else "hub"
    if two_sites:
        net.broker("remote")
    net.queue(site, "index")
    net.producer("camera", rate=2.0, routing_key="uploads", count=count,
                 payload=lambda i: {"photo": i})
    net.consumer("resize", queue="uploads", service=mq.exponential(resize),
                 publish_to="thumbs", handler=lambda m: {**m.payload, "small": True})
    net.consumer("tag", queue="thumbs", service=mq.exponential(tag), publish_to="index")
    net.consumer("store", queue="index", service=0.1)
    net.link("resize", "hub", latency=0.05)
    net.link("camera", "hub")
    if two_sites:
        net.link("tag", "remote", latency=0.5)
    return net


def test_a_message_passes_every_stage_as_itself():
    run = photo_pipeline().run()
    s = run.summary()
    assert [s.consumers[c]["processed"] for c in ("resize", "tag", "store")] == [40, 40, 40]
    assert s.account.published == 40 and s.account.forwarded == 80 and s.balanced
    path = [(e.kind, e.node) for e in run.trace.filter(msg=7)
            if e.kind in ("publish", "enqueue", "ack")]
    assert path == [("publish", "camera"), ("enqueue", "uploads"), ("ack", "resize"),
                    ("publish", "resize"), ("enqueue", "thumbs"), ("ack", "tag"),
                    ("publish", "tag"), ("enqueue", "index"), ("ack", "store")]
    assert run.trace.messages[7].payload == {"photo": 6, "small": True}
    assert "80 passed on by pipeline stages" in s.text()
    # the hop resize -> hub takes its link's 50 ms
    hop = [e.time for e in run.trace.filter(msg=7) if e.kind in ("publish", "arrive")
           and "resize" in (e.node, e.peer)]
    assert hop[2] - hop[1] == pytest.approx(0.05)


def test_system_throughput_is_the_sum_of_the_stages_throughputs():
    run = photo_pipeline(count=200).run()
    stages = [mq.metrics.throughput(run.trace, c) for c in ("resize", "tag", "store")]
    assert mq.metrics.system_throughput(run.trace) == pytest.approx(sum(stages))
    # and the end-to-end latency is measured at the last stage
    end_to_end = mq.metrics.latencies(run.trace, node="store")
    first = mq.metrics.latencies(run.trace, node="resize")
    assert min(end_to_end) > 0.1 and sum(end_to_end) > sum(first)


def test_the_slowest_stage_is_the_bottleneck_and_its_queue_grows():
    run = photo_pipeline(tag=0.8, count=200).run(until=100)
    lengths = {q: max(mq.metrics.queue_length(run.trace, q)[1])
               for q in ("uploads", "thumbs", "index")}
    assert lengths["thumbs"] > 5 * max(lengths["uploads"], lengths["index"])
    util = mq.metrics.utilisation(run.trace)
    assert util["tag"] > 0.9 > 0.7 > util["resize"]


def test_two_sites_a_stage_publishes_to_another_broker():
    run = photo_pipeline(two_sites=True).run()
    hop = [e for e in run.trace.filter(msg=3) if e.kind == "arrive" and e.node == "remote"]
    assert hop and run.summary().consumers["store"]["processed"] == 40
    assert run.graph.has_edge("tag", "remote")


def test_a_stage_can_publish_to_an_exchange_with_a_key_from_the_payload_or_into_a_log():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "orders")
    net.exchange("hub", "events", "topic")
    net.queue("hub", "big")
    net.queue("hub", "small")
    net.bind("events", "big", "order.big")
    net.bind("events", "small", "order.small")
    net.topic("hub", "audit", partitions=2)
    net.producer("shop", interval=1, count=6, routing_key="orders",
                 payload=lambda i: {"amount": 50 * i})
    net.consumer("check", queue="orders", publish_to="events",
                 publish_key=lambda p: "order.big" if p["amount"] >= 100 else "order.small")
    net.consumer("ship-big", queue="big", publish_to="audit",
                 publish_key=lambda p: str(p["amount"]))
    net.consumer("ship-small", queue="small")
    net.consumer("auditor", topic="audit")
    run = net.run()
    s = run.summary()
    assert s.consumers["ship-big"]["processed"] == 4 and s.consumers["ship-small"]["processed"] == 2
    assert s.groups["auditor"]["processed"] == 4 and s.balanced


def test_pipeline_bad_input_names_the_parameter():
    net = photo_pipeline()
    with pytest.raises(TypeError, match="publish_to must be None or the name"):
        net.consumer("x", queue="uploads", publish_to=3)
    with pytest.raises(ValueError, match="publish_key needs publish_to"):
        net.consumer("x", queue="uploads", publish_key="k")
    with pytest.raises(TypeError, match="publish_key must be None, a str or a function"):
        net.consumer("x", queue="uploads", publish_to="thumbs", publish_key=4)
    with pytest.raises(ValueError, match="consumer 'store' publishes nothing"):
        net.link("store", "hub")
    net.broker("other")
    with pytest.raises(ValueError, match="target must be the broker consumer 'tag' publishes to"):
        net.link("tag", "other")
    net.consumer("lost", queue="uploads", publish_to="nowhere")
    with pytest.raises(ValueError, match="publish_to must name an exchange, queue, topic"):
        net.run()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(0, 1000), st.lists(st.floats(0.01, 0.5), min_size=1,
                                                          max_size=4))
def test_every_message_is_accounted_for_across_stages(stages, seed, services):
    net = mq.Network(seed=seed)
    net.broker("hub")
    for i in range(stages):
        net.queue("hub", f"q{i}", capacity=5, overflow="drop-head")
    net.producer("p", rate=4.0, routing_key="q0", count=30)
    for i in range(stages):
        nxt = {"publish_to": f"q{i + 1}"} if i + 1 < stages else {}
        net.consumer(f"c{i}", queue=f"q{i}", service=mq.exponential(services[i % len(services)]),
                     **nxt)
    run = net.run(until=20)
    s = run.summary()
    assert s.balanced
    acks = [e for e in run.trace.filter(kind="ack")]
    assert s.account.forwarded == sum(1 for e in acks if e.node != f"c{stages - 1}")


def test_a_shovel_moves_messages_between_sites_over_a_slow_lossy_line():
    net = mq.Network(seed=3)
    net.broker("shop")
    net.broker("head-office")
    net.queue("shop", "outbox")
    net.queue("head-office", "sales")
    net.producer("till", interval=0.5, count=30, routing_key="outbox")
    net.link("till", "shop")
    net.shovel("shovel", queue="outbox", to="sales", latency=0.8, loss=0.1)
    net.consumer("accounts", queue="sales", service=0.1)
    run = net.run()
    s = run.summary()
    lost = s.account.dropped.get("loss", 0)
    assert lost > 0 and s.account.acked == 30 + (30 - lost) and s.balanced
    hops = [e for e in run.trace.filter(kind="arrive") if e.node == "head-office"]
    first = run.trace.filter(kind="publish", node="shovel")[0]
    assert hops[0].time - first.time == pytest.approx(0.8)


def test_a_retry_queue_with_ttl_and_dead_lettering_retries_after_a_delay():
    """The retry-queue pattern: a failed message is rejected to a waiting queue whose TTL
    sends it back to the work queue, so it is tried again 2 s later, not at once."""
    tries = {}

    def flaky(msg):
        tries[msg.id] = tries.get(msg.id, 0) + 1
        return tries[msg.id] >= 3  # the third try works

    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "work", dead_letter="wait")
    net.queue("hub", "wait", message_ttl=2.0, dead_letter="work")
    net.producer("p", schedule=[0.0, 0.5], routing_key="work")
    net.consumer("c", queue="work", service=0.1, requeue=False, handler=flaky)
    run = net.run()
    starts = [e.time for e in run.trace.filter(kind="start", msg=1)]
    assert tries == {1: 3, 2: 3} and run.summary().account.acked == 2
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [2.1, 2.1]
