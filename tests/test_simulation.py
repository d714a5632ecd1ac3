"""Simulated systems as small stories: who got which message, when, and why.

Each test builds a tiny network, runs it, and compares a slice of the trace with the log we
expect from the rules (RabbitMQ's, wherever it has one).
"""

import pytest

import mqlab as mq


def log(run, kinds, fields=("kind", "msg", "node", "peer", "info"), **where):
    """The events of the given kinds as tuples of the chosen fields."""
    kinds = kinds.split() if isinstance(kinds, str) else kinds
    rows = run.trace.filter(kind=kinds, **where)
    return [tuple(round(v, 9) if isinstance(v, float) else v
                  for v in (getattr(e, f) for f in fields)) for e in rows]


def point_to_point(**queue_options):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "jobs", **queue_options)
    return net


def check_balanced(run):
    s = run.summary()
    assert s.balanced, s.text()
    return s


# -- routing -------------------------------------------------------------------------------------
def test_direct_exchange_routes_by_exact_key_in_binding_order():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "logs", type="direct")
    for q in ["errors", "all"]:
        net.queue("hub", q)
    net.bind("logs", "errors", pattern="error")
    net.bind("logs", "all", pattern="error")
    net.bind("logs", "all", pattern="info")
    for i, key in enumerate(["error", "info", "debug"]):
        net.producer(f"p{i}", schedule=[float(i)], routing_key=key, exchange="logs")
    run = net.run(until=5)
    assert log(run, "route drop") == [
        ("route", 1, "logs", "errors", "error"),
        ("route", 1, "logs", "all", "error"),
        ("route", 2, "logs", "all", "info"),
        ("drop", 3, "logs", "", "unroutable"),
    ]
    s = check_balanced(run)
    assert (s.account.copies, s.account.dropped) == (1, {"unroutable": 1})
    assert run.still["queued"] == {"errors": 1, "all": 2}


def test_fanout_gives_every_bound_queue_its_own_copy_whatever_the_key():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "news", type="fanout")
    for q in ["a", "b", "c"]:
        net.queue("hub", q)
        net.bind("news", q, pattern="ignored")
        net.consumer(f"reader-{q}", queue=q, service=0.5)
    net.producer("p", schedule=[0.0, 1.0], routing_key="anything", exchange="news")
    run = net.run(until=5)
    assert log(run, "ack", fields=("time", "msg", "node")) == [
        (0.5, 1, "reader-a"), (0.5, 1, "reader-b"), (0.5, 1, "reader-c"),
        (1.5, 2, "reader-a"), (1.5, 2, "reader-b"), (1.5, 2, "reader-c"),
    ]
    s = check_balanced(run)
    assert (s.account.published, s.account.copies, s.account.acked) == (2, 4, 6)


def test_topic_exchange_routes_by_pattern():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "sensors", type="topic")
    for q, pattern in [("temps", "temp.#"), ("europe", "*.eu"), ("audit", "#")]:
        net.queue("hub", q)
        net.bind("sensors", q, pattern=pattern)
    keys = ["temp.eu", "temp.us.west", "humidity.eu", "temp", "humidity"]
    for i, key in enumerate(keys):
        net.producer(f"p{i}", schedule=[float(i)], routing_key=key, exchange="sensors")
    run = net.run(until=10)
    assert log(run, "route", fields=("msg", "peer")) == [
        (1, "temps"), (1, "europe"), (1, "audit"),
        (2, "temps"), (2, "audit"),
        (3, "europe"), (3, "audit"),
        (4, "temps"), (4, "audit"),  # "temp.#" matches "temp": '#' can be zero words
        (5, "audit"),
    ]
    check_balanced(run)


def test_a_queue_bound_twice_gets_one_copy():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "x", type="topic")
    net.queue("hub", "q")
    net.bind("x", "q", pattern="a.*")
    net.bind("x", "q", pattern="#")
    net.producer("p", schedule=[0.0], routing_key="a.b", exchange="x")
    run = net.run(until=1)
    assert log(run, "route enqueue", fields=("kind", "msg", "node")) == [
        ("route", 1, "x"), ("enqueue", 1, "q")]


def test_default_exchange_is_point_to_point_by_queue_name():
    net = point_to_point()
    net.queue("hub", "other")
    net.producer("p", schedule=[0.0], routing_key="jobs")
    net.producer("lost", schedule=[1.0], routing_key="nobody")
    run = net.run(until=2)
    assert log(run, "publish route enqueue drop") == [
        ("publish", 1, "p", "hub", "jobs"),
        ("route", 1, "hub", "jobs", "jobs"),
        ("enqueue", 1, "jobs", "", ""),
        ("publish", 2, "lost", "hub", "nobody"),
        ("drop", 2, "hub", "", "unroutable"),
    ]
    check_balanced(run)


def test_a_default_exchange_only_reaches_queues_of_its_own_broker():
    net = mq.Network(seed=1)
    net.broker("b1")
    net.broker("b2")
    net.queue("b2", "jobs")
    net.producer("p", schedule=[0.0], routing_key="jobs")
    net.producer("q", schedule=[0.0], routing_key="jobs")
    net.link("p", "b1")
    net.link("q", "b2")
    run = net.run(until=1)
    assert log(run, "route drop", fields=("kind", "msg", "node")) == [
        ("drop", 1, "b1"), ("route", 2, "b2")]


# -- consumers -----------------------------------------------------------------------------------
def test_competing_consumers_take_turns():
    net = point_to_point()
    for i in range(4):
        net.consumer(f"w{i}", queue="jobs", service=1.0, prefetch=1)
    net.producer("p", interval=0.1, count=12, routing_key="jobs")
    run = net.run(until=30)
    assert log(run, "deliver", fields=("msg", "peer")) == [
        (i, f"w{(i - 1) % 4}") for i in range(1, 13)]
    assert run.summary().consumers["w2"]["processed"] == 3


def test_round_robin_alternates_even_when_each_consumer_has_room_for_more():
    net = point_to_point()
    net.consumer("w0", queue="jobs", service=1.0, prefetch=2)
    net.consumer("w1", queue="jobs", service=1.0, prefetch=2)
    net.producer("p", schedule=[0.0] * 5, routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "deliver", fields=("time", "msg", "peer")) == [
        (0.0, 1, "w0"), (0.0, 2, "w1"), (0.0, 3, "w0"), (0.0, 4, "w1"),
        (1.0, 5, "w0"),  # the first to finish gets the last one
    ]


def test_round_robin_skips_a_consumer_that_is_full():
    net = point_to_point()
    net.consumer("slow", queue="jobs", service=10.0)
    net.consumer("fast", queue="jobs", service=1.0)
    net.producer("p", schedule=[0.0, 0.0, 0.0, 0.0], routing_key="jobs")
    run = net.run(until=30)
    assert log(run, "deliver", fields=("time", "msg", "peer")) == [
        (0.0, 1, "slow"), (0.0, 2, "fast"), (1.0, 3, "fast"), (2.0, 4, "fast")]


def unacked_over_time(run):
    """Per consumer, the most messages it held at once, rebuilt from the trace."""
    held, most = {}, {}
    for e in run.trace:
        if e.kind == "deliver":
            held[e.peer] = held.get(e.peer, 0) + 1
            most[e.peer] = max(most.get(e.peer, 0), held[e.peer])
        elif e.kind in ("ack", "nack") or (e.kind == "drop" and e.node in held):
            held[e.node] -= 1
        elif e.kind == "crash":
            held[e.node] = 0
    return most, held


def test_prefetch_caps_the_unacked_messages_a_consumer_holds():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=mq.exponential(0.5), prefetch=3)
    net.consumer("v", queue="jobs", service=mq.exponential(0.2), prefetch=1)
    net.producer("p", rate=6.0, routing_key="jobs")
    run = net.run(until=200)
    most, _ = unacked_over_time(run)
    assert most == {"w": 3, "v": 1}


def test_prefetch_story_two_at_a_time():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=1.0, prefetch=2)
    net.producer("p", schedule=[0.0] * 5, routing_key="jobs")
    run = net.run(until=10)
    # two go out at once; each ack makes room for one more; work is one at a time
    assert log(run, "deliver start ack", fields=("time", "kind", "msg")) == [
        (0.0, "deliver", 1), (0.0, "deliver", 2), (0.0, "start", 1),
        (1.0, "ack", 1), (1.0, "start", 2), (1.0, "deliver", 3),
        (2.0, "ack", 2), (2.0, "start", 3), (2.0, "deliver", 4),
        (3.0, "ack", 3), (3.0, "start", 4), (3.0, "deliver", 5),
        (4.0, "ack", 4), (4.0, "start", 5),
        (5.0, "ack", 5),
    ]


def test_consumer_link_latency_delays_arrival():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=1.0)
    net.link("hub", "w", latency=0.25)
    net.producer("p", schedule=[0.0, 0.0], routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "deliver arrive start ack", fields=("time", "kind", "msg", "node"),
               msg=1) == [
        (0.0, "arrive", 1, "hub"), (0.0, "deliver", 1, "jobs"),
        (0.25, "arrive", 1, "w"), (0.25, "start", 1, "w"), (1.25, "ack", 1, "w"),
    ]
    # message 2 waits for the ack of 1, then 0.25 s on the link and 1 s of work
    assert log(run, "deliver ack", fields=("time", "kind"), msg=2) == [
        (1.25, "deliver"), (2.5, "ack")]


# -- acknowledgements, crashes, nacks ------------------------------------------------------------
def crashing_worker(ack):
    net = point_to_point()
    net.consumer("w", queue="jobs", service=2.0, prefetch=2, ack=ack, crash=[(1.0, 3.0)])
    net.producer("p", schedule=[0.0, 0.0, 0.0], routing_key="jobs")
    return net.run(until=20)


def test_a_crash_with_manual_ack_puts_unacked_messages_back_in_their_order():
    run = crashing_worker("manual")
    # last first, so that message 1 ends up at the head again, ahead of 2 and 3
    assert log(run, "deliver crash requeue recover ack drop", fields=("time", "kind", "msg")) == [
        (0.0, "deliver", 1), (0.0, "deliver", 2),
        (1.0, "crash", 0), (1.0, "requeue", 2), (1.0, "requeue", 1),
        (3.0, "recover", 0), (3.0, "deliver", 1), (3.0, "deliver", 2),
        (5.0, "ack", 1), (5.0, "deliver", 3),
        (7.0, "ack", 2),
        (9.0, "ack", 3),
    ]
    assert [m.redelivered for m in run.trace.messages.values()] == [True, True, False]
    assert check_balanced(run).account.acked == 3


def test_a_crash_with_auto_ack_loses_what_the_consumer_held():
    run = crashing_worker("auto")
    assert log(run, "deliver crash recover ack drop", fields=("time", "kind", "msg", "info")) == [
        (0.0, "deliver", 1, ""), (0.0, "deliver", 2, ""),
        (1.0, "crash", 0, ""), (1.0, "drop", 2, "crash"), (1.0, "drop", 1, "crash"),
        (3.0, "recover", 0, ""), (3.0, "deliver", 3, ""),
        (5.0, "ack", 3, "auto"),
    ]
    assert check_balanced(run).account.dropped == {"crash": 2}


def test_work_in_progress_at_a_crash_is_not_finished_later():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=2.0, crash=[(1.0, 1.5)])
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "start ack", fields=("time", "kind", "msg")) == [
        (0.0, "start", 1), (1.5, "start", 1), (3.5, "ack", 1)]


def test_a_nack_with_requeue_brings_the_message_back():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=1.0, handler=lambda m: m.redelivered)
    net.producer("p", schedule=[0.0, 0.0], routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "deliver nack requeue ack", fields=("time", "kind", "msg", "info")) == [
        (0.0, "deliver", 1, ""),
        (1.0, "nack", 1, "requeue"), (1.0, "requeue", 1, ""), (1.0, "deliver", 1, ""),
        (2.0, "ack", 1, "manual"), (2.0, "deliver", 2, ""),
        (3.0, "nack", 2, "requeue"), (3.0, "requeue", 2, ""), (3.0, "deliver", 2, ""),
        (4.0, "ack", 2, "manual"),
    ]
    check_balanced(run)


def test_a_nack_without_requeue_dead_letters_to_the_dlq():
    net = point_to_point(dead_letter="dlq")
    net.queue("hub", "dlq")
    net.consumer("w", queue="jobs", service=1.0, nack=1.0, requeue=False)
    net.consumer("audit", queue="dlq", service=0.5)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "route enqueue deliver nack dead-letter ack",
               fields=("time", "kind", "node", "peer", "info")) == [
        (0.0, "route", "hub", "jobs", "jobs"),
        (0.0, "enqueue", "jobs", "", ""),
        (0.0, "deliver", "jobs", "w", ""),
        (1.0, "nack", "w", "jobs", "reject"),
        (1.0, "dead-letter", "jobs", "dlq", "rejected"),
        (1.0, "route", "jobs", "dlq", "jobs"),
        (1.0, "enqueue", "dlq", "", ""),
        (1.0, "deliver", "dlq", "audit", ""),
        (1.5, "ack", "audit", "dlq", "manual"),
    ]
    headers = run.trace.messages[1].headers
    assert headers["x-death"] == [{"count": 1, "reason": "rejected", "queue": "jobs",
                                   "time": 1.0, "exchange": "", "routing-keys": ["jobs"]}]
    assert (headers["x-first-death-reason"], headers["x-first-death-queue"],
            headers["x-first-death-exchange"]) == ("rejected", "jobs", "")
    s = check_balanced(run)
    assert (s.account.acked, s.account.dead_lettered, s.account.dropped) == (1, 1, {})


def test_a_handler_returning_false_nacks_the_message():
    seen = []

    def even_only(msg):
        seen.append(msg.payload)
        return msg.payload % 2 == 0

    net = point_to_point()
    net.consumer("w", queue="jobs", service=0.5, handler=even_only, requeue=False)
    net.producer("p", schedule=[0.0, 1.0, 2.0, 3.0], routing_key="jobs", payload=lambda i: i)
    run = net.run(until=10)
    assert seen == [0, 1, 2, 3]
    assert log(run, "ack nack drop", fields=("kind", "msg", "info")) == [
        ("ack", 1, "manual"),
        ("nack", 2, "reject"), ("drop", 2, "nacked"),
        ("ack", 3, "manual"),
        ("nack", 4, "reject"), ("drop", 4, "nacked"),
    ]
    assert check_balanced(run).account.dropped == {"nacked": 2}


def test_a_failed_message_with_auto_ack_is_dropped():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=0.5, ack="auto", handler=lambda m: False)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "ack nack drop", fields=("kind", "msg", "node", "info")) == [
        ("drop", 1, "w", "failed")]
    check_balanced(run)


# -- time to live --------------------------------------------------------------------------------
def test_messages_expire_after_the_queue_ttl():
    net = point_to_point(message_ttl=1.0)
    net.producer("p", schedule=[0.0, 0.5], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "expire", fields=("time", "kind", "msg", "node")) == [
        (1.0, "expire", 1, "jobs"), (1.5, "expire", 2, "jobs")]
    assert check_balanced(run).account.dropped == {"ttl": 2}


def test_expired_messages_are_dead_lettered_when_the_queue_has_a_dlq():
    net = point_to_point(message_ttl=1.0, dead_letter="dlq")
    net.queue("hub", "dlq")
    net.producer("p", schedule=[0.0, 0.5], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "dead-letter expire", fields=("time", "kind", "msg", "info")) == [
        (1.0, "dead-letter", 1, "expired"), (1.5, "dead-letter", 2, "expired")]
    assert run.still["queued"] == {"jobs": 0, "dlq": 2}
    check_balanced(run)


def test_a_message_waiting_behind_a_slow_consumer_expires_but_the_one_in_work_does_not():
    net = point_to_point(message_ttl=1.0)
    net.consumer("w", queue="jobs", service=2.0)
    net.producer("p", schedule=[0.0, 0.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "expire ack", fields=("time", "kind", "msg")) == [
        (1.0, "expire", 2), (2.0, "ack", 1)]


def test_the_shorter_of_message_expiration_and_queue_ttl_wins():
    net = point_to_point(message_ttl=1.0)
    net.producer("quick", schedule=[0.0], routing_key="jobs", expiration=0.25)
    net.producer("slow", schedule=[0.0], routing_key="jobs", expiration=5.0)
    run = net.run(until=5)
    assert log(run, "expire", fields=("time", "msg")) == [(0.25, 1), (1.0, 2)]


def test_a_message_expires_only_when_it_reaches_the_head():
    """As in RabbitMQ: a per-message TTL behind a message that has not expired waits its turn,
    and is then expired instead of delivered."""
    net = point_to_point(kind="priority")
    net.consumer("w", queue="jobs", service=2.0)
    net.producer("urgent", schedule=[0.0, 0.0], routing_key="jobs", priority=5)
    net.producer("short-lived", schedule=[0.0], routing_key="jobs", expiration=0.5)
    run = net.run(until=10)
    assert log(run, "deliver ack expire", fields=("time", "kind", "msg")) == [
        (0.0, "deliver", 1), (2.0, "ack", 1), (2.0, "deliver", 2), (4.0, "ack", 2),
        (4.0, "expire", 3),
    ]


# -- bounded queues inside the broker ------------------------------------------------------------
def test_drop_head_dead_letters_the_oldest_as_maxlen():
    net = point_to_point(capacity=2, overflow="drop-head", dead_letter="dlq")
    net.queue("hub", "dlq")
    net.producer("p", schedule=[0.0, 1.0, 2.0, 3.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "dead-letter", fields=("time", "msg", "node", "peer", "info")) == [
        (2.0, 1, "jobs", "dlq", "maxlen"), (3.0, 2, "jobs", "dlq", "maxlen")]
    assert [m.id for m in run.trace.messages.values() if m.headers.get("x-death")] == [1, 2]
    assert run.still["queued"] == {"jobs": 2, "dlq": 2}
    check_balanced(run)


def test_drop_head_without_a_dlq_drops_as_overflow():
    net = point_to_point(capacity=1)
    net.producer("p", schedule=[0.0, 1.0, 2.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "drop", fields=("time", "msg", "info")) == [
        (1.0, 1, "overflow"), (2.0, 2, "overflow")]
    assert check_balanced(run).account.dropped == {"overflow": 2}


def test_reject_publish_refuses_new_messages():
    net = point_to_point(capacity=2, overflow="reject-publish")
    net.producer("p", schedule=[0.0, 1.0, 2.0, 3.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "enqueue drop", fields=("kind", "msg", "info")) == [
        ("enqueue", 1, ""), ("enqueue", 2, ""), ("drop", 3, "rejected"), ("drop", 4, "rejected")]
    assert check_balanced(run).account.dropped == {"rejected": 2}


def test_capacity_counts_ready_messages_only():
    net = point_to_point(capacity=1, overflow="reject-publish")
    net.consumer("w", queue="jobs", service=10.0, prefetch=2)
    net.producer("p", schedule=[0.0, 0.0, 0.0, 0.0], routing_key="jobs")
    run = net.run(until=5)
    # two go to the consumer, one waits ready, the fourth finds the queue full
    assert log(run, "deliver drop", fields=("kind", "msg")) == [
        ("deliver", 1), ("deliver", 2), ("drop", 4)]


def test_a_queue_pushed_past_capacity_by_requeues_drops_heads_until_there_is_room():
    net = point_to_point(capacity=1)
    net.consumer("w", queue="jobs", service=5.0, prefetch=2, crash=[(1.0, 3.0)])
    net.producer("p", schedule=[0.0, 0.0, 0.0, 1.5], routing_key="jobs")
    run = net.run(until=4)
    # the crash puts 1 and 2 back in front of 3: three ready messages in a queue of one
    assert log(run, "crash requeue drop enqueue recover deliver",
               fields=("time", "kind", "msg", "info"), start=1.0) == [
        (1.0, "crash", 0, ""), (1.0, "requeue", 2, ""), (1.0, "requeue", 1, ""),
        (1.5, "drop", 1, "overflow"), (1.5, "drop", 2, "overflow"),
        (1.5, "drop", 3, "overflow"), (1.5, "enqueue", 4, ""),
        (3.0, "recover", 0, ""), (3.0, "deliver", 4, ""),
    ]
    assert check_balanced(run).account.dropped == {"overflow": 3}


def test_a_queue_that_dead_letters_to_itself_does_not_loop_for_ever():
    net = point_to_point(capacity=1, dead_letter="jobs")
    net.producer("p", schedule=[0.0, 1.0], routing_key="jobs")
    run = net.run(until=2)
    assert log(run, "dead-letter enqueue drop", fields=("time", "kind", "msg", "info")) == [
        (0.0, "enqueue", 1, ""),
        # dead-lettering it to the queue it is dead-lettered from closes a cycle with no
        # rejection in it: RabbitMQ drops it instead
        (1.0, "drop", 1, "overflow"),
        (1.0, "enqueue", 2, ""),
    ]
    check_balanced(run)


def test_two_full_queues_dead_lettering_to_each_other_settle_down():
    net = mq.Network(seed=1)
    net.broker("hub")
    net.queue("hub", "a", capacity=1, dead_letter="b")
    net.queue("hub", "b", capacity=1, dead_letter="a")
    net.producer("p", schedule=[0.0, 1.0, 2.0, 3.0], routing_key="a")
    run = net.run(until=5)
    assert run.still["queued"] == {"a": 1, "b": 1}
    s = check_balanced(run)
    assert (s.account.published, s.account.dropped) == (4, {"overflow": 2})


def test_a_retry_loop_through_a_ttl_queue_is_not_mistaken_for_a_cycle():
    attempts = []

    def third_time_lucky(msg):
        attempts.append(msg.id)
        return len(attempts) >= 3

    net = point_to_point(dead_letter="retry")
    net.queue("hub", "retry", message_ttl=1.0, dead_letter="jobs")
    net.consumer("w", queue="jobs", service=0.5, handler=third_time_lucky, requeue=False)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=10)
    assert log(run, "dead-letter ack", fields=("time", "kind", "node", "peer", "info")) == [
        (0.5, "dead-letter", "jobs", "retry", "rejected"),
        (1.5, "dead-letter", "retry", "jobs", "expired"),
        (2.0, "dead-letter", "jobs", "retry", "rejected"),
        (3.0, "dead-letter", "retry", "jobs", "expired"),
        (3.5, "ack", "w", "jobs", "manual"),
    ]
    assert attempts == [1, 1, 1]
    assert run.trace.messages[1].headers["x-first-death-queue"] == "jobs"
    check_balanced(run)


def test_block_holds_the_producer_back_and_loses_nothing():
    net = point_to_point(capacity=1, overflow="block")
    net.consumer("w", queue="jobs", service=1.0)
    net.producer("p", interval=0.25, count=6, routing_key="jobs")
    run = net.run(until=20)
    msgs = run.trace.messages.values()
    assert [m.created for m in msgs] == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    # 3 waits at the full queue from 0.75; 4 and 5 were already on their way when the
    # producer learnt of it; 6 is only sent once the queue took 5 in
    assert [m.sent for m in msgs] == [0.25, 0.5, 0.75, 1.25, 1.25, 3.25]
    assert log(run, "block", fields=("time", "msg")) == [(0.75, 3), (1.25, 4), (1.25, 5),
                                                          (3.25, 6)]
    assert log(run, "ack", fields=("time", "msg")) == [(t + 0.25, t) for t in range(1, 7)]
    s = check_balanced(run)
    assert (s.account.dropped, s.account.acked, s.queues["jobs"]["max_length"]) == ({}, 6, 1)


def test_a_blocked_message_still_counts_as_in_the_system():
    net = point_to_point(capacity=1, overflow="block")
    net.producer("p", schedule=[0.0, 1.0, 2.0], routing_key="jobs")
    run = net.run(until=5)
    assert run.still["queued"] == {"jobs": 1} and run.still["blocked"] == {"jobs": 1}
    assert run.still["waiting_at_producers"] == {"p": 1}
    s = check_balanced(run)
    assert (s.account.published, s.account.in_system) == (2, 2)


# -- synchronous request / response --------------------------------------------------------------
def test_a_sync_producer_waits_for_each_reply():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=1.0)
    net.producer("p", schedule=[0.0, 0.0, 0.0], routing_key="jobs", mode="sync")
    run = net.run(until=10)
    assert log(run, "publish reply", fields=("time", "kind", "msg", "info")) == [
        (0.0, "publish", 1, "jobs"), (1.0, "reply", 1, "acked"),
        (1.0, "publish", 2, "jobs"), (2.0, "reply", 2, "acked"),
        (2.0, "publish", 3, "jobs"), (3.0, "reply", 3, "acked"),
    ]


def test_a_sync_reply_travels_back_over_both_links():
    net = point_to_point()
    net.consumer("w", queue="jobs", service=1.0)
    net.producer("p", schedule=[0.0, 0.0], routing_key="jobs", mode="sync")
    net.link("p", "hub", latency=0.1)
    net.link("hub", "w", latency=0.2)
    run = net.run(until=10)
    # there: 0.1 + 0.2, work 1.0, back: 0.2 + 0.1
    assert log(run, "publish ack reply", fields=("time", "kind", "msg")) == [
        (0.0, "publish", 1), (1.3, "ack", 1), (1.6, "reply", 1),
        (1.6, "publish", 2), (2.9, "ack", 2), (3.2, "reply", 2)]


def test_a_sync_producer_hears_about_a_dropped_request_too():
    net = point_to_point()
    net.producer("p", schedule=[0.0, 0.0], routing_key="nowhere", mode="sync")
    run = net.run(until=10)
    assert log(run, "publish reply", fields=("kind", "msg", "info")) == [
        ("publish", 1, "nowhere"), ("reply", 1, "unroutable"),
        ("publish", 2, "nowhere"), ("reply", 2, "unroutable")]


def test_sync_keeps_at_most_one_request_outstanding_while_async_does_not():
    def build(mode):
        net = point_to_point()
        net.consumer("w", queue="jobs", service=mq.exponential(0.5))
        net.producer("p", rate=4.0, routing_key="jobs", mode=mode)
        return net.run(until=100)

    def most_outstanding(run):
        out, most = set(), 0
        for e in run.trace.filter(kind=["publish", "reply", "ack"]):
            if e.kind == "publish":
                out.add(e.msg)
            elif (e.kind == "reply") == (run.graph.nodes["p"]["mode"] == "sync"):
                out.discard(e.msg)
            most = max(most, len(out))
        return most

    sync, fire_and_forget = build("sync"), build("async")
    assert most_outstanding(sync) == 1
    assert most_outstanding(fire_and_forget) > 5
    assert len(sync.trace.filter(kind="reply")) >= 100
    assert len(fire_and_forget.trace.filter(kind="reply")) == 0
    # the sync producer is slowed to the consumer's pace; its backlog waits at the producer
    assert sum(sync.still["waiting_at_producers"].values()) > 100
    check_balanced(sync)


# -- unreliable links ----------------------------------------------------------------------------
def test_link_loss_and_duplication_happen_at_their_rates_and_add_up():
    n, loss, dup = 4000, 0.1, 0.2
    net = point_to_point()
    net.consumer("w", queue="jobs", service=0.001)
    net.producer("p", interval=0.01, count=n, routing_key="jobs")
    net.link("p", "hub", latency=mq.uniform(0.0, 0.05), loss=loss, duplicate=dup)
    run = net.run(until=100)
    dups = len(run.trace.filter(kind="duplicate"))
    losses = len(run.trace.filter(kind="loss"))
    # binomial counts, checked within about 4 standard deviations
    assert abs(dups - n * dup) < 4 * (n * dup * (1 - dup)) ** 0.5
    sent = n + dups
    assert abs(losses - sent * loss) < 4 * (sent * loss * (1 - loss)) ** 0.5
    s = check_balanced(run)
    assert (s.account.published, s.account.copies) == (n, dups)
    assert s.account.acked == n + dups - losses
    assert s.account.dropped == {"loss": losses}


# -- dead-lettering through an exchange and two brokers -------------------------------------------
def test_dead_letter_to_a_fanout_exchange_reaches_every_bound_queue():
    net = point_to_point(message_ttl=0.5, dead_letter="graveyard")
    net.exchange("hub", "graveyard", type="fanout")
    for q in ["dlq1", "dlq2"]:
        net.queue("hub", q)
        net.bind("graveyard", q)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=2)
    assert log(run, "dead-letter route enqueue", fields=("time", "kind", "node", "peer")) == [
        (0.0, "route", "hub", "jobs"), (0.0, "enqueue", "jobs", ""),
        (0.5, "dead-letter", "jobs", "graveyard"),
        (0.5, "route", "graveyard", "dlq1"), (0.5, "route", "graveyard", "dlq2"),
        (0.5, "enqueue", "dlq1", ""), (0.5, "enqueue", "dlq2", ""),
    ]
    s = check_balanced(run)
    assert (s.account.copies, s.account.in_system) == (1, 2)


def test_two_brokers_each_serve_their_own_producers():
    net = mq.Network(seed=2)
    for b in ["east", "west"]:
        net.broker(b)
        net.queue(b, f"{b}-jobs")
        net.consumer(f"{b}-worker", queue=f"{b}-jobs", service=0.1)
        net.producer(f"{b}-app", interval=1.0, count=3, routing_key=f"{b}-jobs")
        net.link(f"{b}-app", b, latency=0.05)
    run = net.run()
    assert log(run, "ack", fields=("node",)).count(("east-worker",)) == 3
    assert log(run, "ack", fields=("node",)).count(("west-worker",)) == 3
    assert check_balanced(run).account.acked == 6


def test_a_run_without_a_trace_keeps_nothing_and_says_so():
    net = mq.Network(seed=1)
    net.producer("p", interval=1.0, count=5, routing_key="q")
    net.broker("b")
    net.queue("b", "q")
    net.consumer("c", queue="q", service=0.1)
    run = net.run(trace=False)
    assert len(run.trace) == 0 and run.trace.messages == {}
    with pytest.raises(ValueError, match="trace=False"):
        run.summary()


# -- the rule tables: overflow policies and exchange types ----------------------------------------
def test_the_simulator_uses_the_queues_own_overflow_policy_from_the_table(monkeypatch):
    from mqlab.queues import OVERFLOW_POLICIES, Offer

    monkeypatch.setitem(OVERFLOW_POLICIES, "drop-new", lambda q, msg: Offer(True, (msg,)))
    net = point_to_point(capacity=1, overflow="drop-new")
    net.producer("p", schedule=[0.0, 1.0, 2.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "enqueue drop", fields=("time", "kind", "msg", "info")) == [
        (0.0, "enqueue", 1, ""),
        (1.0, "enqueue", 2, ""), (1.0, "drop", 2, "overflow"),
        (2.0, "enqueue", 3, ""), (2.0, "drop", 3, "overflow")]
    assert run.still["queued"] == {"jobs": 1}
    assert check_balanced(run).account.dropped == {"overflow": 2}


def test_a_full_priority_queue_dead_letters_a_new_top_priority_message():
    net = point_to_point(kind="priority", capacity=2, dead_letter="dlq")
    net.producer("low", schedule=[0.0, 1.0], routing_key="jobs", priority=1)
    net.producer("top", schedule=[2.0], routing_key="jobs", priority=9)
    run = net.run(until=5)
    assert log(run, "enqueue dead-letter", fields=("time", "kind", "msg", "node", "info")) == [
        (0.0, "enqueue", 1, "jobs", ""), (1.0, "enqueue", 2, "jobs", ""),
        (2.0, "enqueue", 3, "jobs", ""), (2.0, "dead-letter", 3, "jobs", "maxlen"),
        (2.0, "enqueue", 3, "dlq", "")]
    assert run.still["queued"] == {"jobs": 2, "dlq": 1}
    check_balanced(run)


def test_dead_letters_through_a_headers_exchange_route_on_their_own_headers():
    net = point_to_point(message_ttl=1.0, dead_letter="sorter")
    net.exchange("hub", "sorter", type="headers")
    for q, team in [("billing-dlq", "billing"), ("ops-dlq", "ops")]:
        net.queue("hub", q)
        net.bind("sorter", q, arguments={"team": team})
    net.producer("b", schedule=[0.0], routing_key="jobs", headers={"team": "billing"})
    net.producer("o", schedule=[0.5], routing_key="jobs", headers={"team": "ops"})
    run = net.run(until=5)
    assert log(run, "dead-letter route", fields=("time", "kind", "msg", "node", "peer"),
               start=1.0) == [
        (1.0, "dead-letter", 1, "jobs", "sorter"), (1.0, "route", 1, "sorter", "billing-dlq"),
        (1.5, "dead-letter", 2, "jobs", "sorter"), (1.5, "route", 2, "sorter", "ops-dlq")]
    x = run.trace.messages[2].headers
    assert (x["team"], x["x-death"][0]["reason"], x["x-first-death-exchange"]) == (
        "ops", "expired", "")
    check_balanced(run)


def test_a_dead_letter_copy_that_would_close_a_cycle_is_left_out_and_the_rest_go_on():
    net = point_to_point(message_ttl=1.0, dead_letter="everyone")
    net.exchange("hub", "everyone", type="fanout")
    net.queue("hub", "archive")
    for q in ["jobs", "archive"]:
        net.bind("everyone", q)
    net.producer("p", schedule=[0.0], routing_key="jobs")
    run = net.run(until=5)
    assert log(run, "dead-letter route enqueue expire drop",
               fields=("time", "kind", "node", "peer")) == [
        (0.0, "route", "hub", "jobs"), (0.0, "enqueue", "jobs", ""),
        (1.0, "dead-letter", "jobs", "everyone"), (1.0, "route", "everyone", "archive"),
        (1.0, "enqueue", "archive", "")]
    s = check_balanced(run)
    assert (s.account.copies, s.account.in_system) == (0, 1)


def test_a_blocked_publisher_sends_what_waited_oldest_first_and_all_of_it():
    net = mq.Network(seed=3)
    net.producer("p", rate=6.0, routing_key="jobs", count=100)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=5, overflow="block")
    net.consumer("c", queue="jobs", service=0.3)
    net.link("p", "hub", latency=0.2)
    run = net.run()
    created = [run.trace.messages[e.msg].created for e in run.trace.filter(kind="publish")]
    assert created == sorted(created)  # nothing made later overtakes what waited
    assert len(run.trace.filter(kind="block")) > 5  # the queue did hold the publisher back
    assert run.summary().account.acked == 100  # and nothing was left behind at the producer


def test_no_prefetch_limit_deals_messages_in_turn_however_busy_the_worker():
    """prefetch=None (RabbitMQ's 0): a slow worker gets every other message at once and holds
    them, while prefetch=1 gives each message to whoever is free."""
    def build(prefetch):
        net = mq.Network(seed=3)
        net.producer("shop", interval=0.1, routing_key="jobs", count=40)
        net.broker("hub")
        net.queue("hub", "jobs")
        net.consumer("fast", queue="jobs", service=0.05, prefetch=prefetch)
        net.consumer("slow", queue="jobs", service=1.0, prefetch=prefetch)
        return net.run()

    unlimited, fair = build(None), build(1)
    acked = {name: [mq.metrics.count(r.trace, "ack", node=name) for r in (unlimited, fair)]
             for name in ("fast", "slow")}
    assert acked["fast"][0] == acked["slow"][0] == 20  # dealt in turn
    assert acked["fast"][1] >= 35 and acked["slow"][1] <= 5  # each to whoever is free
    # without a limit the slow worker was handed its 20 at once: it finishes last, at ~20 s
    assert unlimited.trace.filter(kind="ack", node="slow")[-1].time > 19
    assert fair.trace.end_time < 5
