"""Faults and the guarantees that survive them: publisher confirms and retries with backoff,
lossy and duplicating links on every hop, ack timeouts, crashes between processing and ack,
idempotent consumers, and broker crashes with durable queues and persistent messages."""

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqlab as mq

MESSAGES = 200


def payments(mode, seed=5):
    """The same faulty run three ways: returns (effects per payment, the run)."""
    effects = Counter()

    def pay(msg):
        effects[msg.payload] += 1  # the side effect: money moves

    at_least_once = mode != "at-most-once"
    retry = ({"confirm": True, "timeout": 1.0, "retries": 8,
              "backoff": mq.backoff(0.2, cap=2.0)} if at_least_once else {})
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "payments")
    net.producer("shop", interval=0.2, count=MESSAGES, routing_key="payments",
                 payload=lambda i: i, **retry)
    net.link("shop", "hub", latency=0.05, loss=0.1, duplicate=0.05)
    net.consumer("bank", queue="payments", service=0.05, prefetch=5,
                 ack="manual" if at_least_once else "auto", crash_before_ack=0.05,
                 restart=0.5, dedup=mode == "effectively-once", handler=pay)
    net.link("hub", "bank", latency=0.02, duplicate=0.05)
    return effects, net.run()


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_at_most_once_loses_at_least_once_duplicates_effectively_once_is_exact(seed):
    results = {mode: payments(mode, seed) for mode in
               ("at-most-once", "at-least-once", "effectively-once")}
    lost = {m: MESSAGES - len(eff) for m, (eff, _) in results.items()}
    twice = {m: sum(n - 1 for n in eff.values()) for m, (eff, _) in results.items()}
    assert lost["at-most-once"] > 0
    assert lost["at-least-once"] == 0 and twice["at-least-once"] > 0
    assert lost["effectively-once"] == 0 and twice["effectively-once"] == 0
    for _, run in results.values():
        assert run.summary().balanced
    # the idempotent consumer still acks the duplicates it recognised, without processing them
    run = results["effectively-once"][1]
    assert any(e.info == "duplicate" for e in run.trace.filter(kind="ack"))


def test_confirms_retry_lost_messages_with_backoff_waits():
    net = mq.Network(seed=3)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", interval=1.0, count=30, routing_key="q", confirm=True, timeout=0.5,
                 retries=10, backoff=mq.backoff(0.1, factor=2, cap=0.4, jitter="none"))
    net.link("p", "hub", latency=0.1, loss=0.3)
    net.consumer("c", queue="q", service=0.01)
    run = net.run()
    assert len({e.msg for e in run.trace.filter(kind="ack")}) == 30
    replies = [e for e in run.trace.filter(kind="reply") if e.info == "confirmed"]
    assert len(replies) == 30
    # each retry waits the backoff after its timeout: 0.1, 0.2, 0.4, 0.4 ... seconds
    for mid in {e.msg for e in run.trace.filter(kind="timeout")}:
        rows = [e for e in run.trace.filter(msg=mid) if e.kind in ("timeout", "publish")]
        waits = [b.time - a.time for a, b in zip(rows, rows[1:], strict=False)
                 if a.kind == "timeout" and b.kind == "publish"]
        expected = [min(0.1 * 2 ** i, 0.4) for i in range(len(waits))]
        assert waits == pytest.approx(expected)


def test_without_confirms_a_lossy_link_loses_messages_for_good():
    net = mq.Network(seed=3)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", interval=1.0, count=30, routing_key="q")
    net.link("p", "hub", latency=0.1, loss=0.3)
    net.consumer("c", queue="q", service=0.01)
    s = net.run().summary()
    assert s.account.acked < 30 and s.account.dropped["loss"] == 30 - s.account.acked


def test_a_full_queue_rejecting_a_confirmed_publish_makes_the_producer_retry():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "q", capacity=2, overflow="reject-publish")
    net.producer("p", interval=0.1, count=20, routing_key="q", confirm=True, timeout=5.0,
                 retries=20, backoff=mq.backoff(0.5))
    net.consumer("c", queue="q", service=0.3)
    run = net.run()
    assert any(e.info == "rejected" for e in run.trace.filter(kind="reply"))
    assert len({e.msg for e in run.trace.filter(kind="ack")}) == 20


def test_jitter_spreads_retries():
    rng = random.Random(1)
    full = [mq.backoff(1.0, jitter="full")(3, rng) for _ in range(200)]
    equal = [mq.backoff(1.0, jitter="equal")(3, rng) for _ in range(200)]
    assert 0 <= min(full) < 1 and 7 < max(full) <= 8
    assert 4 <= min(equal) and max(equal) <= 8
    assert mq.backoff(1.0, jitter="none")(3, rng) == 8


def test_a_delivery_lost_on_its_link_comes_back_after_the_ack_timeout():
    def build(ack, timeout):
        net = mq.Network(seed=2)
        net.broker("hub")
        net.queue("hub", "q")
        net.producer("p", interval=0.5, count=40, routing_key="q")
        net.consumer("c", queue="q", service=0.1, ack=ack, ack_timeout=timeout)
        net.link("hub", "c", latency=0.05, loss=0.2)
        return net.run(until=200)

    manual = build("manual", 3.0)
    acked = {e.msg for e in manual.trace.filter(kind="ack")}
    assert len(acked) == 40 and manual.summary().balanced
    assert any(e.info == "requeue" for e in manual.trace.filter(kind="timeout"))
    auto = build("auto", None)
    assert auto.summary().account.dropped["loss"] > 0 and auto.summary().balanced


def test_an_ack_after_the_timeout_is_refused_and_the_message_is_processed_again():
    seen = Counter()
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", schedule=[0.0], routing_key="q")
    net.consumer("slow", queue="q", service=2.0, ack_timeout=1.0,
                 handler=lambda m: seen.update([m.id]))
    run = net.run(until=10)
    kinds = [(e.kind, e.info) for e in run.trace.filter(kind=["timeout", "ack"])]
    assert kinds[:3] == [("timeout", "requeue"), ("timeout", "ack refused"),
                         ("timeout", "requeue")]
    assert seen[1] >= 2


def test_a_crash_before_the_ack_redelivers_what_was_already_processed():
    effects = Counter()
    net = mq.Network(seed=4)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", interval=0.3, count=60, routing_key="q", payload=lambda i: i)
    net.consumer("c", queue="q", service=0.1, crash_before_ack=0.2, restart=1.0,
                 handler=lambda m: effects.update([m.payload]))
    run = net.run()
    crashes = [e for e in run.trace.filter(kind="crash") if e.info == "before ack"]
    assert crashes and len(effects) == 60
    assert sum(n - 1 for n in effects.values()) == len(crashes)
    recovers = run.trace.filter(kind="recover")
    assert [r.time - c.time for c, r in zip(crashes, recovers, strict=True)] == pytest.approx(
        [1.0] * len(crashes))


def shop(durable, persistent, crash=((5.0, 8.0),)):
    net = mq.Network(seed=1)
    net.broker("hub", crash=list(crash))
    net.queue("hub", "jobs", durable=durable)
    net.producer("p", interval=0.1, count=100, routing_key="jobs", persistent=persistent)
    net.consumer("w", queue="jobs", service=0.2, prefetch=3)
    return net.run()


def test_a_broker_restart_keeps_persistent_messages_of_durable_queues_only():
    kept = shop(durable=True, persistent=True).summary()
    assert "broker crash" not in kept.account.dropped and kept.balanced
    for durable, persistent in ((True, False), (False, True), (False, False)):
        s = shop(durable, persistent).summary()
        assert s.account.dropped["broker crash"] > 0 and s.balanced
        assert s.account.acked < kept.account.acked
    run = shop(True, True)
    # published while it was down: lost at the door
    down = [e for e in run.trace.filter(kind="drop") if e.info == "broker down"]
    assert down and all(5.0 <= e.time < 8.0 for e in down)
    # its consumer is cut off with it and reconnects when it is back
    assert [(e.kind, e.node, e.time) for e in run.trace.filter(kind=["crash", "recover"])] == [
        ("crash", "hub", 5.0), ("crash", "w", 5.0), ("recover", "hub", 8.0),
        ("recover", "w", 8.0)]
    assert run.graph.nodes["jobs"].get("durable") is None


def test_a_confirming_publisher_rides_out_a_broker_restart():
    net = mq.Network(seed=2)
    net.broker("hub", crash=[(3, 6)])
    net.queue("hub", "jobs")
    net.producer("p", interval=0.2, count=50, routing_key="jobs", confirm=True, timeout=0.5,
                 retries=12, backoff=mq.backoff(0.2, cap=2.0))
    net.consumer("w", queue="jobs", service=0.05)
    run = net.run()
    assert len({e.msg for e in run.trace.filter(kind="ack")}) == 50


def test_fault_bad_input_names_the_parameter():
    net = mq.Network()
    net.broker("hub")
    net.queue("hub", "q")
    with pytest.raises(ValueError, match="ack_timeout needs ack='manual'"):
        net.consumer("c", queue="q", ack="auto", ack_timeout=1.0)
    with pytest.raises(ValueError, match="crash_before_ack must be a probability"):
        net.consumer("c", queue="q", crash_before_ack=2)
    with pytest.raises(ValueError, match="restart must be"):
        net.consumer("c", queue="q", restart=0)
    with pytest.raises(TypeError, match="dedup must be True or False"):
        net.consumer("c", queue="q", dedup="yes")
    with pytest.raises(ValueError, match="confirm applies to mode='async'"):
        net.producer("p", interval=1, confirm=True, mode="sync")
    with pytest.raises(ValueError, match="timeout only applies to mode='sync'"):
        net.producer("p", interval=1, timeout=1.0)
    with pytest.raises(TypeError, match="backoff must be None or mq.backoff"):
        net.producer("p", interval=1, confirm=True, timeout=1, retries=2, backoff=0.5)
    with pytest.raises(ValueError, match="backoff needs retries"):
        net.producer("p", interval=1, confirm=True, timeout=1, backoff=mq.backoff(0.1))
    with pytest.raises(TypeError, match="persistent must be True or False"):
        net.producer("p", interval=1, persistent=1)
    with pytest.raises(TypeError, match="durable must be True or False"):
        net.queue("hub", "r", durable=None)
    with pytest.raises(ValueError, match="crash: each"):
        net.broker("b2", crash=[(3, 1)])
    with pytest.raises(ValueError, match="factor must be a number >= 1"):
        mq.backoff(0.1, factor=0.5)
    with pytest.raises(ValueError, match="jitter must be one of 'full', 'equal', 'none'"):
        mq.backoff(0.1, jitter="random")
    with pytest.raises(ValueError, match="base must be"):
        mq.backoff(0)


@st.composite
def faulty_models(draw):
    net = mq.Network(seed=draw(st.integers(0, 10_000)))
    crash = [(draw(st.floats(0, 8)), 0.0)]
    crash = [(crash[0][0], crash[0][0] + draw(st.floats(0.1, 4)))] if draw(st.booleans()) else []
    net.broker("hub", crash=crash)
    durable = draw(st.booleans())
    net.queue("hub", "q", durable=durable, capacity=draw(st.sampled_from([None, 3])),
              overflow=draw(st.sampled_from(["drop-head", "reject-publish"])),
              dead_letter=draw(st.sampled_from([None, "dlq"])),
              message_ttl=draw(st.sampled_from([None, 2.0])))
    confirm = draw(st.booleans())
    net.producer("p", interval=draw(st.sampled_from([0.1, 0.3])), count=draw(st.integers(1, 40)),
                 routing_key="q", persistent=draw(st.booleans()),
                 **({"confirm": True, "timeout": 0.7, "retries": 3,
                     "backoff": mq.backoff(0.1)} if confirm else {}))
    net.link("p", "hub", latency=0.05, loss=draw(st.sampled_from([0.0, 0.2])),
             duplicate=draw(st.sampled_from([0.0, 0.2])))
    for i in range(draw(st.integers(1, 2))):
        ack = draw(st.sampled_from(["manual", "auto"]))
        down = draw(st.floats(0, 8))
        net.consumer(f"c{i}", queue="q", service=draw(st.sampled_from([0.05, 0.3])), ack=ack,
                     prefetch=draw(st.sampled_from([1, 3, None])),
                     ack_timeout=draw(st.sampled_from([None, 1.0])) if ack == "manual" else None,
                     crash_before_ack=draw(st.sampled_from([0.0, 0.2])),
                     dedup=draw(st.booleans()),
                     crash=[(down, down + 1.5)] if draw(st.booleans()) else None)
        net.link("hub", f"c{i}", latency=0.02, loss=draw(st.sampled_from([0.0, 0.2])),
                 duplicate=draw(st.sampled_from([0.0, 0.2])))
    return net


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulty_models(), st.sampled_from([None, 6.0]))
def test_the_account_adds_up_through_every_fault(net, until):
    run = net.run(until=until if until else 60.0)
    s = run.summary()
    assert s.balanced, s.text()


def test_an_ack_timeout_belongs_to_its_delivery_not_to_a_redelivery_after_a_crash():
    net = mq.Network()
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", schedule=[0.0], routing_key="q")
    net.consumer("c", queue="q", service=1.8, ack_timeout=2.0, crash=[(0.3, 0.4)])
    run = net.run(until=10)
    # redelivered at 0.4 s, acked at 2.2 s: inside its own 2 s, so no timeout at all
    assert not run.trace.filter(kind="timeout")
    assert [e.time for e in run.trace.filter(kind="ack")] == pytest.approx([2.2])


def test_a_handler_made_by_a_factory_forgets_what_it_kept_in_memory_at_a_crash():
    """An in-memory dedup set does not survive a crash; the store passed in from outside does."""
    charged = Counter()

    def in_memory():
        seen = set()

        def handle(msg):
            if msg.id not in seen:
                charged[msg.payload] += 1
                seen.add(msg.id)
        return handle

    net = mq.Network(seed=4)
    net.broker("hub")
    net.queue("hub", "q")
    net.producer("p", interval=0.3, count=60, routing_key="q", payload=lambda i: i)
    net.consumer("c", queue="q", service=0.1, crash_before_ack=0.2, restart=1.0,
                 handler_factory=in_memory)
    run = net.run()
    restarts = len(run.trace.filter(kind="recover"))
    assert restarts > 0 and sum(n - 1 for n in charged.values()) == restarts
    with pytest.raises(ValueError, match="give handler or handler_factory, not both"):
        net.consumer("d", queue="q", handler=print, handler_factory=in_memory)
    with pytest.raises(TypeError, match="handler_factory must be a function with no arguments"):
        net.consumer("d", queue="q", handler_factory=3)
