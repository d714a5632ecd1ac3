"""Partitioned logs (topics, partitions, consumer groups, offsets) and temporary queues."""

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab.logs import range_assignment


def shop(partitions=3, count=24, **topic):
    net = mq.Network(seed=4)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=partitions, **topic)
    net.producer("shop", interval=0.25, count=count, topic="orders",
                 payload=lambda i: {"customer": f"c{i % 5}", "n": i},
                 key=lambda payload: payload["customer"])
    return net


def rows(run, kind, **where):
    return [e for e in run.trace.filter(kind=kind)
            if all(getattr(e, k) == v for k, v in where.items())]


def test_a_record_goes_to_the_partition_of_its_key_and_stays_after_it_is_read():
    net = shop()
    net.consumer("billing", topic="orders", service=0.05)
    run = net.run()
    for e in rows(run, "route", node="orders"):
        assert e.peer == f"orders-{mq.partition_for(e.info, 3)}"
    assert len(rows(run, "append")) == 24
    assert len(rows(run, "ack", node="billing")) == 24
    s = run.summary()
    assert s.account.logged == 24 and s.account.acked == 0 and s.balanced
    assert sum(p["kept"] for p in s.partitions.values()) == 24
    assert s.groups["billing"]["processed"] == 24 and s.groups["billing"]["lag"] == 0
    assert "logged 24" in s.text() and "orders-0" in s.text()
    # offsets count up from 0 in each partition
    for part in ("orders-0", "orders-1", "orders-2"):
        assert [int(e.info) for e in rows(run, "append", node=part)] == list(
            range(len(rows(run, "append", node=part))))


def test_partition_for_is_a_stable_hash_and_checks_its_arguments():
    assert mq.partition_for("c1", 3) == mq.partition_for("c1", 3)
    assert {mq.partition_for(f"k{i}", 3) for i in range(30)} == {0, 1, 2}
    with pytest.raises(TypeError, match="key must be a str"):
        mq.partition_for(7, 3)
    with pytest.raises(ValueError, match="partitions must be an int >= 1"):
        mq.partition_for("a", 0)


def test_records_without_a_key_take_the_partitions_in_turn():
    net = mq.Network()
    net.broker("kafka")
    net.topic("kafka", "clicks", partitions=3)
    net.producer("web", interval=1.0, count=6, topic="clicks")
    run = net.run()
    assert [e.peer for e in rows(run, "route")] == ["clicks-0", "clicks-1", "clicks-2"] * 2


def test_two_groups_each_read_every_record_one_group_shares_them():
    net = shop()
    net.consumer("bill-1", topic="orders", group="billing", service=0.2)
    net.consumer("bill-2", topic="orders", group="billing", service=0.2)
    net.consumer("audit", topic="orders", service=0.05)
    run = net.run()
    s = run.summary()
    assert s.groups["audit"]["processed"] == 24 == s.groups["billing"]["processed"]
    assert s.consumers["bill-1"]["processed"] + s.consumers["bill-2"]["processed"] == 24
    # range assignment: bill-1 has orders-0 and orders-1, bill-2 has orders-2
    assigned = {e.node: e.peer for e in rows(run, "assign", info="billing")}
    assert assigned == {"orders-0": "bill-1", "orders-1": "bill-1", "orders-2": "bill-2"}
    for e in rows(run, "deliver"):
        if e.peer.startswith("bill"):
            assert assigned[e.node] == e.peer


def test_range_assignment_matches_kafkas_range_assignor():
    assert range_assignment(["c", "a", "b"], 7) == {"a": [0, 1, 2], "b": [3, 4], "c": [5, 6]}
    assert range_assignment([], 3) == {}
    assert range_assignment(["x"], 0) == {"x": []}


def test_more_members_than_partitions_leaves_some_idle():
    net = shop(partitions=2)
    for i in range(4):
        net.consumer(f"w{i}", topic="orders", group="g", service=0.1)
    s = net.run().summary()
    assert [s.consumers[f"w{i}"]["processed"] > 0 for i in range(4)] == [True, True, False,
                                                                           False]


def test_a_crash_hands_the_partitions_over_and_they_restart_at_the_committed_offset():
    net = shop(count=40)
    net.consumer("a", topic="orders", group="g", service=0.3, commit=2.0, crash=[(3.1, 6)])
    net.consumer("b", topic="orders", group="g", service=0.3)
    run = net.run()
    s = run.summary()
    assert s.groups["g"]["processed_again"] > 0  # processed after the last commit, then again
    assert s.groups["g"]["redelivered"] >= s.groups["g"]["processed_again"]
    assert len({e.msg for e in rows(run, "ack")}) == 40  # nothing lost
    crash = rows(run, "crash")[0].time
    # the first record a's partitions give after its crash is at their last committed offset
    for part in ("orders-0", "orders-1"):
        before = [e for e in run.trace.filter(kind=["commit", "seek"], node=part)
                  if e.time <= crash]
        start = int(before[-1].info) if before else 0
        after = [e for e in rows(run, "deliver", node=part) if e.time > crash]
        if after:
            assert int(after[0].info) == start
    rebalances = rows(run, "rebalance")
    assert [e.node for e in rebalances] == ["a", "a", "a"]  # join, crash, return


def test_commit_after_each_record_delivers_the_record_in_hand_again_after_a_crash():
    net = shop(count=30)
    net.consumer("a", topic="orders", group="g", service=0.5, crash=[(2.2, 4)])
    net.consumer("b", topic="orders", group="g", service=0.5)
    g = net.run().summary().groups["g"]
    assert g["redelivered"] >= 1 and g["processed_again"] == 0


def test_commit_before_processing_loses_what_was_in_hand_at_a_crash():
    net = shop(count=30)
    net.consumer("a", topic="orders", group="g", service=0.5, commit="before",
                 crash=[(2.2, 4)])
    net.consumer("b", topic="orders", group="g", service=0.5)
    run = net.run()
    processed = {e.msg for e in rows(run, "ack")}
    assert len(processed) < 30  # at-most-once: the record in hand at the crash is gone
    assert run.summary().groups["g"]["processed_again"] == 0


def test_seek_replays_the_log_from_an_offset():
    net = shop()
    net.consumer("audit", topic="orders", service=0.01)
    net.seek("audit", at=20.0, offset=2)
    run = net.run()
    replay = [e for e in rows(run, "deliver") if e.time >= 20.0]
    for part in ("orders-0", "orders-1", "orders-2"):
        n = len(rows(run, "append", node=part))
        assert [int(e.info) for e in replay if e.node == part] == list(range(2, n))
    assert [e.info for e in rows(run, "seek")] == ["2", "2", "2"]


def test_retention_deletes_old_records_and_a_slow_group_skips_what_it_lost():
    net = shop(count=40, retention=2.0)
    net.consumer("slow", topic="orders", service=1.0)
    run = net.run()
    s = run.summary()
    deleted = sum(p["deleted"] for p in s.partitions.values())
    assert deleted == 40 and all(p["kept"] == 0 for p in s.partitions.values())
    assert s.consumers["slow"]["processed"] < 40
    skips = rows(run, "seek")
    assert skips and all(int(e.info) > 0 for e in skips)
    assert s.balanced and s.account.dropped == {}  # a deleted record is not a lost message


def test_latest_starts_at_the_end_of_the_log():
    net = shop()
    net.consumer("late", topic="orders", offset="latest", crash=[(0, 3.1)])
    run = net.run()
    first = rows(run, "deliver")[0]
    assert first.time >= 3.1 and int(first.info) > 0


def test_log_consumer_bad_input_names_the_parameter():
    net = shop()
    with pytest.raises(ValueError, match="topic must name an existing topic"):
        net.consumer("x", topic="nope")
    with pytest.raises(ValueError, match="give queue or topic, not both"):
        net.consumer("x", queue="q", topic="orders")
    with pytest.raises(ValueError, match="offset must be 'earliest', 'latest' or an int"):
        net.consumer("x", topic="orders", offset="first")
    with pytest.raises(ValueError, match="commit must be 'after', 'before' or a number"):
        net.consumer("x", topic="orders", commit="sometimes")
    with pytest.raises(ValueError, match="prefetch applies to queue consumers"):
        net.consumer("x", topic="orders", prefetch=5)
    with pytest.raises(ValueError, match="give queue"):
        net.consumer("x")
    net.consumer("a", topic="orders", group="g", commit=1.0)
    net.consumer("b", topic="orders", group="g")  # it takes the group's commit
    with pytest.raises(ValueError, match="share offset and commit"):
        net.consumer("c", topic="orders", group="g", commit="before")
    with pytest.raises(ValueError, match="group must name a consumer group"):
        net.seek("nobody", at=1.0)
    with pytest.raises(ValueError, match="offset must be an int >= 0"):
        net.seek("g", at=1.0, offset=-1)
    with pytest.raises(ValueError, match="partitions must be an int >= 1"):
        net.topic("kafka", "t", partitions=0)
    with pytest.raises(ValueError, match="retention"):
        net.topic("kafka", "t", retention=-1)
    with pytest.raises(ValueError, match="'orders-1' is already used"):
        net.queue("kafka", "orders-1")
    with pytest.raises(ValueError, match="give exchange or topic, not both"):
        net.producer("p", interval=1, topic="orders", exchange="x")
    with pytest.raises(ValueError, match="mode must be 'async'"):
        net.producer("p", interval=1, topic="orders", mode="sync")
    with pytest.raises(ValueError, match="give key .* or routing_key, not both"):
        net.producer("p", interval=1, key=lambda p: "a", routing_key="b")
    with pytest.raises(TypeError, match="key must be None, a str or a function"):
        net.producer("p", interval=1, key=3)
    net.producer("p", interval=1, count=1, topic="missing")
    with pytest.raises(ValueError, match="topic must name an existing topic"):
        net.run()


def test_a_key_function_that_returns_no_str_stops_the_run_naming_the_producer():
    net = mq.Network()
    net.broker("kafka")
    net.topic("kafka", "t", partitions=2)
    net.producer("p", interval=1, count=2, topic="t", payload=lambda i: i, key=lambda x: x)
    with pytest.raises(mq.SimulationError, match=r"producer 'p': key\(payload\) must return a str"):
        net.run()


def test_keys_and_headers_computed_from_the_payload_route_through_exchanges_too():
    net = mq.Network()
    net.broker("hub")
    net.exchange("hub", "events", "topic")
    net.exchange("hub", "docs", "headers")
    for q in ("eu", "us", "pdf"):
        net.queue("hub", q)
    net.bind("events", "eu", "order.eu")
    net.bind("events", "us", "order.us")
    net.bind("docs", "pdf", arguments={"format": "pdf"})
    regions = ["eu", "us", "eu"]
    net.producer("shop", interval=1, count=3, exchange="events",
                 payload=lambda i: {"region": regions[i]},
                 key=lambda p: f"order.{p['region']}")
    net.producer("scan", interval=1, count=2, exchange="docs",
                 payload=lambda i: {"name": f"f{i}.pdf" if i else "f0.png"},
                 headers=lambda p: {"format": p["name"].rsplit(".", 1)[1]})
    run = net.run()
    got = defaultdict(int)
    for e in rows(run, "enqueue"):
        got[e.node] += 1
    assert dict(got) == {"eu": 2, "us": 1, "pdf": 1}
    with pytest.raises(TypeError, match="headers must be a dict or a function"):
        net.producer("bad", interval=1, headers=["format"])


def test_a_temporary_queue_goes_with_its_consumer_and_a_durable_one_keeps_messages():
    def build(temporary):
        net = mq.Network(seed=2)
        net.broker("hub")
        net.exchange("hub", "news", "fanout")
        net.queue("hub", "alice", temporary=temporary)
        net.bind("news", "alice")
        net.producer("desk", interval=0.5, count=20, exchange="news")
        net.consumer("reader", queue="alice", service=0.6, crash=[(3, 6)])
        return net.run()

    durable, temporary = build(False), build(True)
    assert durable.summary().account.acked == 20
    s = temporary.summary()
    deleted = s.account.dropped.get("queue deleted", 0)
    unroutable = s.account.dropped.get("unroutable", 0)
    assert deleted > 0 and unroutable > 0  # what it held went, and what came meanwhile too
    assert s.account.acked + deleted + unroutable == 20 and s.balanced
    # nothing reached the queue while its consumer was down
    assert not [e for e in rows(temporary, "enqueue") if 3 <= e.time < 6]
    assert durable.graph.nodes["alice"].get("temporary") is None
    assert temporary.graph.nodes["alice"]["temporary"] is True
    net = mq.Network()
    net.broker("hub")
    with pytest.raises(TypeError, match="temporary must be True or False"):
        net.queue("hub", "q", temporary="yes")


def test_summary_counts_dead_lettered_messages_per_dead_letter_queue():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=2, overflow="reject-publish", message_ttl=1.0,
              dead_letter="dlq")
    net.queue("hub", "late", message_ttl=0.5, dead_letter="dlq")
    net.producer("p", interval=0.2, count=10, routing_key="jobs")
    net.producer("q", interval=1.0, count=3, routing_key="late")
    net.consumer("w", queue="jobs", service=0.5)
    net.consumer("inspector", queue="dlq", service=0.1)
    s = net.run().summary()
    entered = len([e for e in net.run().trace.filter(kind="dead-letter")])
    d = s.dead_letters["dlq"]
    assert d["entered"] == entered > 0 and d["acked"] == s.dead_letter_acks == entered
    assert d["final"] == 0
    assert f"dead-letter queue dlq: {entered} dead-lettered into it" in s.text()


# -- properties -----------------------------------------------------------------------------

@st.composite
def log_models(draw, crashes: bool):
    partitions = draw(st.integers(1, 4))
    net = mq.Network(seed=draw(st.integers(0, 10_000)))
    net.broker("kafka")
    net.topic("kafka", "t", partitions=partitions)
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=4))
    for i in range(draw(st.integers(1, 2))):
        use_key = draw(st.booleans())
        net.producer(f"p{i}", interval=draw(st.sampled_from([0.1, 0.3, 0.7])),
                     count=draw(st.integers(1, 25)), topic="t",
                     payload=lambda n, i=i: (keys[(n + i) % len(keys)], n),
                     key=(lambda payload: payload[0]) if use_key else None)
    for g in range(draw(st.integers(1, 2))):
        commit = draw(st.sampled_from(["after", 0.5, 2.0]))
        for m in range(draw(st.integers(1, 4))):
            crash = None
            if crashes and draw(st.booleans()):
                down = draw(st.floats(0.0, 6.0))
                crash = [(down, down + draw(st.floats(0.1, 4.0)))]
            net.consumer(f"g{g}m{m}", topic="t", group=f"g{g}", commit=commit,
                         service=draw(st.sampled_from([0.05, 0.2, mq.exponential(0.3)])),
                         crash=crash)
    return net


def processed(run):
    """group -> list of (message id, key) in the order the group finished them."""
    group_of = {n: d["group"] for n, d in run.graph.nodes(data=True) if d.get("group")}
    key = {e.msg: e.info for e in run.trace.filter(kind="publish")}
    out = defaultdict(list)
    for e in run.trace.filter(kind="ack"):
        out[group_of[e.node]].append((e.msg, key[e.msg]))
    return out


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(log_models(crashes=False))
def test_without_crashes_each_group_processes_each_record_once_keys_in_order(net):
    run = net.run()
    appended = {e.msg for e in run.trace.filter(kind="append")}
    for group, done in processed(run).items():
        ids = [m for m, _ in done]
        assert sorted(ids) == sorted(appended), group  # each once, none lost
        by_key = defaultdict(list)
        for m, k in done:
            if k:
                by_key[k].append(m)
        for k, ms in by_key.items():
            assert ms == sorted(ms), (group, k)  # publish order (ids count up as published)
    assert run.summary().balanced


@SETTINGS
@given(log_models(crashes=True))
def test_with_crashes_nothing_is_lost_and_rereading_starts_at_the_committed_offset(net):
    run = net.run()
    appended = {e.msg for e in run.trace.filter(kind="append")}
    for group, done in processed(run).items():
        assert {m for m, _ in done} == appended, group  # at-least-once
        firsts, seen = defaultdict(list), set()
        for m, k in done:
            if m not in seen and k:
                firsts[k].append(m)
            seen.add(m)
        for k, ms in firsts.items():
            assert ms == sorted(ms), (group, k)  # first processing in publish order
    # after a crash, the partitions of the crashed member start at the committed offset
    group_of = {n: d["group"] for n, d in run.graph.nodes(data=True) if d.get("group")}
    committed, owner = {}, {}
    reset: dict = {}
    for e in run.trace:
        if e.kind in ("commit", "seek"):
            committed[(e.node, e.peer)] = int(e.info)
        elif e.kind == "assign":
            owner[(e.node, e.info)] = e.peer
        elif e.kind == "crash":
            g = group_of[e.node]
            for (part, grp), who in owner.items():
                if grp == g and who == e.node:
                    reset[(part, g)] = committed.get((part, g), 0)
        elif e.kind == "deliver" and (e.node, group_of[e.peer]) in reset:
            assert int(e.info) == reset.pop((e.node, group_of[e.peer]))


@SETTINGS
@given(log_models(crashes=False), st.integers(0, 6))
def test_replay_from_an_offset_yields_exactly_the_log_from_there(net, k):
    groups = sorted({c.group for c in net.consumers.values()})
    net.seek(groups[0], at=500.0, offset=k)
    run = net.run()
    group_members = {c.name for c in net.consumers.values() if c.group == groups[0]}
    logs = defaultdict(list)
    for e in run.trace.filter(kind="append"):
        logs[e.node].append(e.msg)
    replay = defaultdict(list)
    for e in run.trace.filter(kind="deliver"):
        if e.time >= 500.0 and e.peer in group_members:
            replay[e.node].append(e.msg)
    for part, log in logs.items():
        assert replay[part] == log[k:], part
