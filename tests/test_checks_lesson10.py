"""The checks of lesson 10 accept the reference solutions and reject typical mistakes kindly."""

import copy
import math

import pytest
from solutions import lesson10 as solution
from verdicts import right, unattempted, wrong

from mqlab.checks import lesson10 as check


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


# -- section 1: the greenhouse's uplink and the farm's edge broker ------------------------------
def test_the_sensor_waits_out_the_outage_and_catches_up_at_43_5_s():
    run = check.greenhouse().run()
    s = run.summary()
    assert s.account.acked == check.GREENHOUSE["count"] and s.balanced
    assert check.catch_up(run) == 43.5
    # the lesson's numbers: the 9.5 s reading is out before the outage (9.5 + 0.2 + 0.2 s), and
    # after it one leaves every 0.2 s
    left = {e.msg: e.time for e in run.trace.filter(kind="publish")}
    made = {m: msg.created for m, msg in run.trace.messages.items()}
    assert left[19] == 9.5 and made[19] == 9.5
    assert [round(left[m], 2) for m in (20, 21, 22)] == [30.0, 30.2, 30.4]
    # nothing leaves during the outage; the reading made at 10 s waited until 30 s
    left = {e.msg: e.time for e in run.trace.filter(kind="publish")}
    made = {m: msg.created for m, msg in run.trace.messages.items()}
    assert not [m for m, t in left.items() if 10.0 <= t < 30.0]
    first_waiting = min(m for m in made if made[m] >= 10.0)
    assert left[first_waiting] == 30.0
    assert max(t - made[m] for m, t in left.items()) == pytest.approx(20.0)


def test_without_an_outage_the_sensor_never_waits():
    run = check.greenhouse(outage=None).run()
    assert all(math.isclose(e.time, run.trace.messages[e.msg].created)
               for e in run.trace.filter(kind="publish"))


def test_the_farm_header_at_25_s_counts_the_shovels_republishes_and_every_queue():
    # the lesson: 66 published = the probes' 48 readings + 18 the shovel published again
    # before 10 s; 84 delivered = 48 from alarms + 18 from uplink + 18 from archive
    import mqlab as mq
    run = check.farm().run(until=45)
    assert mq.Scene(run, metrics=False).counters(25.0) == {
        "published": 66, "delivered": 84, "acked": 84, "dropped": 0}
    early = run.trace.filter(stop=25.0)
    published = [e.node for e in early if e.kind == "publish"]
    assert sum(n.startswith("probe") for n in published) == 48
    assert published.count("shovel") == 18
    delivered = [e.node for e in early if e.kind == "deliver"]
    assert (delivered.count("alarms"), delivered.count("uplink"),
            delivered.count("archive")) == (48, 18, 18)


def test_the_farm_keeps_working_while_its_line_is_down():
    run = check.farm().run(until=45)
    s = run.summary()
    assert s.balanced and s.account.dropped == {}
    from mqlab import metrics
    valve = metrics.latencies(run.trace, node="valve")
    assert max(valve) < 0.25  # the local controller never notices the outage
    _, lengths = metrics.queue_length(run.trace, "uplink")
    assert max(lengths) >= 35  # the outage's readings wait at the edge
    store = metrics.latencies(run.trace, node="store")
    assert max(store) > 19.0  # and reach the cloud once the line is back


@pytest.mark.parametrize("p", [43.5, 43.3, 43.9, 43])
def test_ex1_accepts_the_answer_within_half_a_second(p):
    assert right(check.ex1(p))
    assert right(check.ex1(solution.PREDICTION))


def test_ex1_the_moment_the_uplink_is_back_is_too_early():
    assert wrong(check.ex1(30), "uplink is back", "waiting")


def test_ex1_draining_at_the_full_bandwidth_forgets_new_readings():
    assert wrong(check.ex1(38), "keeps making", "shrinks more slowly")


def test_ex1_as_long_as_the_outage_is_the_pile_shrinking_as_fast_as_it_grew():
    assert wrong(check.ex1(50), "as long again as the outage", "5 − 2 = 3")


@pytest.mark.parametrize("p", [20, 13.3, 8])
def test_ex1_a_duration_is_not_a_time_on_the_clock(p):
    assert wrong(check.ex1(p), "length of time", "run's clock")


def test_ex1_during_the_outage_and_bad_input():
    assert wrong(check.ex1(12), "down until 30 s")
    assert wrong(check.ex1("50"), "number")
    assert wrong(check.ex1(True), "number")
    assert wrong(check.ex1(math.nan), "number")


def test_ex1_too_late_and_too_early_in_general():
    assert wrong(check.ex1(60), "Too late")
    assert wrong(check.ex1(45), "Too late")
    assert wrong(check.ex1(35), "Too early")


# -- section 2: the live map ---------------------------------------------------------------------
def test_the_map_without_limits_draws_ever_older_positions():
    f = check.freshness(check.tracker().run(until=30))
    assert f["oldest"] > 15 and f["busy"] > 0.97


def test_ex2_accepts_the_reference_and_a_short_ttl():
    assert right(check.ex2(solution.QUEUE))
    assert right(check.ex2({"capacity": None, "overflow": "drop-head", "message_ttl": 0.1}))
    # without a capacity the overflow is never used: None is fine there
    assert right(check.ex2({"capacity": None, "overflow": None, "message_ttl": 0.1}))


def test_ex2_a_capacity_needs_an_overflow():
    assert wrong(check.ex2({"capacity": 1, "overflow": None, "message_ttl": None}),
                 "With a capacity of 1", "when it is full")


def test_ex2_no_limit_is_too_old():
    assert wrong(check.ex2({"capacity": None, "overflow": "drop-head", "message_ttl": None}),
                 "Too old", "pile up")


def test_ex2_a_ttl_counts_only_time_in_the_queue():
    assert wrong(check.ex2({"capacity": None, "overflow": "drop-head", "message_ttl": 0.5}),
                 "Too old", "counts only the time in the queue")


def test_ex2_reject_publish_keeps_the_oldest():
    assert wrong(check.ex2({"capacity": 1, "overflow": "reject-publish", "message_ttl": None}),
                 "Too old", "turns the newest away")


def test_ex2_block_moves_the_wait_into_the_bus():
    assert wrong(check.ex2({"capacity": 1, "overflow": "block", "message_ttl": None}),
                 "Too old", "bus wait")


def test_ex2_two_waiting_is_one_too_many():
    assert wrong(check.ex2({"capacity": 2, "overflow": "drop-head", "message_ttl": None}),
                 "Too old", "capacity 2")


def test_ex2_a_tiny_ttl_leaves_the_map_idle():
    assert wrong(check.ex2({"capacity": None, "overflow": "drop-head", "message_ttl": 0.02}),
                 "idle", "Keep the newest")


def test_ex2_malformed_answers():
    assert unattempted(check.ex2({"capacity": ..., "overflow": ..., "message_ttl": ...}))
    assert wrong(check.ex2({"capacity": 1, "overflow": ..., "message_ttl": None}),
                 "not set 'overflow'")
    assert wrong(check.ex2({"capacity": 0, "overflow": "drop-head", "message_ttl": None}),
                 "whole number")
    assert wrong(check.ex2({"capacity": 1, "overflow": "drop-tail", "message_ttl": None}),
                 "overflow is one of")
    assert wrong(check.ex2({"capacity": 1, "overflow": "drop-head", "message_ttl": 500}),
                 "milliseconds")
    assert wrong(check.ex2({"capacity": 1, "overflow": "drop-head", "message_ttl": -1}),
                 "above 0")
    assert wrong(check.ex2({"capacity": 1, "overflow": "drop-head", "ttl": 1}), "Unknown")
    assert wrong(check.ex2([1, "drop-head", None]), "dict")


# -- section 4: queue or log ---------------------------------------------------------------------
def test_side_by_side_shows_the_trade():
    queue, log = check.side_by_side("queue"), check.side_by_side("log")
    assert check.out_of_order(queue) > 0 and check.out_of_order(log) == 0
    from mqlab import metrics
    slow_q = max(metrics.latencies(queue.trace, node="slow"))
    slow_l = max(metrics.latencies(log.trace, node="slow"))
    assert slow_q <= 1.0 + 1e-9 < 10 < slow_l  # head-of-line blocking in the slow partition
    audit_q = len(metrics.latencies(queue.trace, node="audit"))
    audit_l = len(metrics.latencies(log.trace, node="audit"))
    assert audit_q < check.SIDE["orders"] == audit_l  # only the log replays for a late reader
    with pytest.raises(ValueError, match="kind"):
        check.side_by_side("stream")


def test_ex3_accepts_the_reference_and_tolerates_case():
    assert right(check.ex3(solution.CHOICES))
    assert right(check.ex3({k: v.upper() for k, v in solution.CHOICES.items()}))


def test_ex3_everything_a_queue_misses_the_history_and_the_readers():
    assert wrong(check.ex3(dict.fromkeys(check.NEEDS, "queue")), "3 of 6", "fraud:",
                 "ledger:", "teams:")


def test_ex3_teams_need_the_past_events_and_a_queue_per_team_has_none():
    # the need says new teams want the events from before they joined: that is what a queue
    # per team (a fanout exchange) cannot give, and what the hint names
    assert "before it joined" in check.NEEDS["teams"]
    assert wrong(check.ex3(dict(solution.CHOICES, teams="queue")), "1 of 6", "teams:",
                 "none from before the team joined")


def test_ex3_everything_a_log_misses_priorities_ttl_and_sharing():
    assert wrong(check.ex3(dict.fromkeys(check.NEEDS, "log")), "resize:", "urgent:",
                 "expire:")


def test_ex3_competing_consumers_for_the_ledger_break_the_order():
    choices = dict(solution.CHOICES, ledger="queue")
    assert wrong(check.ex3(choices), "1 of 6", "out of order")


def test_ex3_malformed_answers():
    assert wrong(check.ex3({"resize": "queue"}), "no choice for 'fraud'")
    assert wrong(check.ex3(dict(solution.CHOICES, fraud="kafka")), "'queue' or 'log'")
    assert wrong(check.ex3(dict(solution.CHOICES, audit="log")), "Unknown need 'audit'")
    assert wrong(check.ex3(dict(solution.CHOICES, fraud=...)), "not chosen for 'fraud'")
    assert unattempted(check.ex3(dict.fromkeys(check.NEEDS, ...)))
    assert wrong(check.ex3("log"), "dict")


# -- section 5: the design exercise ---------------------------------------------------------------
def right_saying(v, *words):
    return right(v) and all(w in v.message for w in words)


def designs(scenario, **change):
    d = copy.deepcopy(solution.DESIGNS)
    d[scenario].update(change)
    return d


def test_ex4_accepts_the_reference_and_lists():
    v = check.ex4(solution.DESIGNS)
    assert right_saying(v, "no more cost than needed",
                        "payments, point-to-point on a durable queue, effectively-once, no TTL, "
                        "with hmac, login, permissions and tls",
                        "typing, publish-subscribe on a non-durable queue, at-most-once, a TTL "
                        "of 1 s", "a TTL of 1 s is just enough in this model",
                        "counts only the time in the queue")
    assert "every safety" not in v.message
    d = designs("typing", security=["TLS", "login", "permissions"])
    assert right(check.ex4(d))


def test_ex4_the_success_message_describes_the_ttl_chosen():
    v = check.ex4(designs("typing", ttl=0.5))
    assert right_saying(v, "a TTL of 0.5 s let nothing through late", "leaves 0.5 s for the "
                        "trips to and from the broker")
    assert "1 s is just enough" not in v.message and "a TTL of 1 s" not in v.message


# every security measure a scenario's text does not ask for, in all three scenarios
NOT_ASKED = [(scenario, measure) for scenario in check.SCENARIOS
             for measure in check.DESIGN_FIELDS["security"]
             if measure not in check.SCENARIOS[scenario]["security"]]
WHY_NOT = {("payments", "encrypt"): "lets the broker read payments",
           ("payments", "replay-guard"): "dedup store",
           ("payments", "rate-limit"): "the only publisher",
           ("telemetry", "hmac"): "trusts the broker",
           ("telemetry", "encrypt"): "trusts",
           ("telemetry", "replay-guard"): "repeats do no harm",
           ("typing", "hmac"): "trusts the broker",
           ("typing", "encrypt"): "trusts",
           ("typing", "replay-guard"): "repeats do no harm",
           ("typing", "rate-limit"): "does not ask for"}


def test_every_measure_not_asked_for_has_a_reason():
    assert sorted(NOT_ASKED) == sorted(WHY_NOT)


@pytest.mark.parametrize(("scenario", "measure"), NOT_ASKED)
def test_ex4_a_measure_the_text_does_not_ask_for_is_cost_for_nothing(scenario, measure):
    sec = check.SCENARIOS[scenario]["security"] | {measure}
    v = check.ex4(designs(scenario, security=sec))
    assert wrong(v, f"{scenario.upper()}: '{measure}'", WHY_NOT[(scenario, measure)],
                 "cost for nothing", "Fine as they are")
    assert "prove" not in v.message  # an HMAC lets a reader check, not prove to others


def test_the_reference_designs_lose_and_repeat_nothing_that_matters():
    for seed in (1, 2, 3):
        pay = check.design_model("payments", solution.DESIGNS["payments"], seed)
        assert pay["bank"]["missed"] == pay["bank"]["repeated"] == 0
        tel = check.design_model("telemetry", solution.DESIGNS["telemetry"], seed)
        assert tel["analytics"]["missed"] == tel["map"]["missed"] == 0
        typ = check.design_model("typing", solution.DESIGNS["typing"], seed)
        assert all(typ[r]["late"] == 0 for r in ("phone", "laptop", "tablet"))


def test_ex4_payments_at_least_once_charges_twice_measured():
    assert wrong(check.ex4(designs("payments", guarantee="at-least-once")), "PAYMENTS",
                 "charged twice", "not idempotent")


def test_ex4_payments_not_durable_loses_them_in_the_restart():
    assert wrong(check.ex4(designs("payments", durable=False)), "restart", "never charged")


def test_ex4_payments_pubsub_gives_each_worker_every_payment():
    assert wrong(check.ex4(designs("payments", pattern="publish-subscribe")), "own copy",
                 "no capacity")


def test_ex4_payments_a_log_blocks_behind_a_slow_payment():
    assert wrong(check.ex4(designs("payments", store="log")), "holds up")


def test_ex4_payments_need_an_hmac():
    assert wrong(check.ex4(designs("payments", security={"tls", "login", "permissions"})),
                 "without 'hmac'")


def test_ex4_payments_must_not_expire():
    v = check.ex4(designs("payments", ttl=60))
    assert wrong(v, "no payment may expire", "a TTL of 60 s would throw away",
                 "none did in these runs")
    assert "never charged" not in v.message
    assert wrong(check.ex4(designs("payments", ttl=0.2)), "no payment may expire",
                 "never charged: ")


def test_ex4_encrypt_is_no_tls():
    sec = {"encrypt", "login", "permissions", "hmac"}
    v = check.ex4(designs("payments", security=sec))
    assert wrong(v, "without 'tls' much still crosses", "password", "headers")
    assert "anyone on the network reads" not in v.message
    assert "changed on the way" not in v.message  # the hmac tells
    sec = {"encrypt", "login", "permissions"}
    assert wrong(check.ex4(designs("typing", security=sec)), "who types where",
                 "changed on the way")


def test_ex4_telemetry_in_a_queue_cannot_replay():
    assert wrong(check.ex4(designs("telemetry", store="queue")), "TELEMETRY",
                 "forgets what was acked", "missed")


def test_ex4_telemetry_point_to_point_splits_the_readers():
    assert wrong(check.ex4(designs("telemetry", pattern="point-to-point")), "one reader only")


def test_ex4_telemetry_effectively_once_is_needless_complexity():
    assert wrong(check.ex4(designs("telemetry", guarantee="effectively-once")),
                 "at-least-once is enough")


def test_ex4_telemetry_without_a_rate_limit():
    sec = {"tls", "login", "permissions"}
    assert wrong(check.ex4(designs("telemetry", security=sec)), "without 'rate-limit'")


def test_ex4_typing_without_a_ttl_delivers_late_measured():
    assert wrong(check.ex4(designs("typing", ttl=None)), "TYPING", "without a TTL", "late:")


def test_ex4_typing_in_a_log_delivers_late():
    assert wrong(check.ex4(designs("typing", store="log", ttl=None)), "a log has no TTL")


def test_ex4_typing_a_ttl_over_1_s_is_rejected_even_when_no_run_was_late():
    v = check.ex4(designs("typing", ttl=1.05))
    assert wrong(v, "TYPING", "a TTL of 1.05 s lets old ones through",
                 "none was in these runs", "1 s is the most")


def test_the_texts_state_what_the_checks_enforce():
    typing = check.SCENARIOS["typing"]["text"]
    assert all(device in typing for device in check.SCENARIOS["typing"]["readers"])
    payments = check.SCENARIOS["payments"]["text"]
    assert "check that each payment came from the shop" in payments
    assert "digital signature" in payments and "prove a payment" not in payments
    assert "trusted" in check.SCENARIOS["telemetry"]["text"] and "trusted" in typing
    assert "broker restarts" in check.SCENARIOS["telemetry"]["text"]


def test_ex4_typing_durable_and_at_least_once_cost_for_nothing():
    assert wrong(check.ex4(designs("typing", durable=True)), "cost for nothing")
    assert wrong(check.ex4(designs("typing", ttl=1.2)), "lets old ones through",
                 "counts only the time in the queue")
    assert wrong(check.ex4(designs("typing", guarantee="at-least-once")),
                 "at-most-once is enough")


def test_ex4_a_hint_says_which_designs_are_fine():
    v = check.ex4(designs("typing", ttl=None))
    assert wrong(v, "Fine as they are: payments", "telemetry")


def test_ex4_malformed_answers():
    assert wrong(check.ex4({"payments": solution.DESIGNS["payments"]}), "no design for")
    assert wrong(check.ex4(designs("payments", pattern="p2p")), "payments:", "'pattern' is one of")
    assert wrong(check.ex4(designs("payments", durable="yes")), "True or False")
    assert wrong(check.ex4(designs("payments", ttl=-1)), "'ttl' is None or")
    assert wrong(check.ex4(designs("payments", security="tls")), "a set of measures")
    assert wrong(check.ex4(designs("payments", security={"firewall"})), "unknown security")
    v = check.ex4(designs("payments", guarantee=...))
    assert wrong(v, "still ... (replace it")
    assert "...." not in v.message
    d = designs("payments")
    del d["payments"]["ttl"]
    assert wrong(check.ex4(d), "'ttl' is missing")
    blank = {s: dict.fromkeys(check.DESIGN_FIELDS, ...) for s in check.SCENARIOS}
    assert unattempted(check.ex4(blank))
    assert wrong(check.ex4([1, 2]), "dict")


# -- section 3: the recorded runs say what the lesson says ---------------------------------------
def test_the_recorded_cluster_runs_say_what_the_lesson_says():
    import mqlab as mq
    from mqlab.rabbit_cluster import ChaosRun

    quorum = ChaosRun.from_trace(mq.Trace.load(check.cluster_file("quorum")))
    classic = ChaosRun.from_trace(mq.Trace.load(check.cluster_file("classic")))
    for run in (quorum, classic):
        assert run.killed == "rabbit1" and len(run.confirmed) == 400 and not run.lost
        assert round(run.facts["kill_at"], 2) == 1.50 and round(run.facts["restart_at"], 1) == 2.5
    assert quorum.queue_type == "quorum" and quorum.duplicates == 0
    assert quorum.outcome.attempts == 403
    assert quorum.outcome.refused == {"nacked": 2, "no answer": 1}
    assert round(quorum.facts["longest_wait_for_a_confirm"], 2) == 0.18
    assert round(quorum.facts["recovered_at"], 2) == 5.76
    assert (quorum.facts["producer_reconnects"], quorum.facts["consumer_reconnects"]) == (1, 0)
    story = [(e.node, e.info) for e in quorum.trace.filter(msg=151, kind="arrive")
             if e.peer == "producer"]
    assert story == [("rabbit1", "no answer"), ("rabbit2", "nacked"), ("rabbit2", "nacked"),
                     ("rabbit2", "confirmed")]
    confirmed_151 = quorum.trace.filter(msg=151, kind="arrive")[-2].time
    assert round(confirmed_151, 2) == 1.69
    confirms = [e.time for e in quorum.trace.filter(kind="arrive")
                if e.peer == "producer" and e.info == "confirmed"]
    assert max(confirms) < 4.0 < quorum.facts["recovered_at"]  # all done on two nodes
    assert classic.queue_type == "classic" and classic.duplicates == 1
    assert classic.outcome.attempts == 401 and classic.outcome.refused == {"no answer": 1}
    assert round(classic.facts["longest_wait_for_a_confirm"], 2) == 4.35
    assert round(classic.facts["recovered_at"], 2) == 5.80
    assert (classic.facts["producer_reconnects"], classic.facts["consumer_reconnects"]) == (21, 20)
    classic_confirms = [e.time for e in classic.trace.filter(kind="arrive")
                        if e.peer == "producer" and e.info == "confirmed"]
    assert 5.9 < max(classic_confirms) < 6.0
    assert [e.msg for e in classic.trace.filter(kind="duplicate")] == [150]
    acked_150 = classic.trace.filter(msg=150, kind="ack")[0].time
    assert round(acked_150, 2) == 1.49
    with pytest.raises(ValueError, match="queue_type"):
        check.cluster_file("stream")
