"""The checks of lesson 04 accept the reference solutions and reject typical mistakes kindly."""

import pytest
from solutions import lesson04 as solution
from verdicts import right, unattempted, wrong

from mqlab.checks import lesson04 as check


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", [check.ex1, check.ex3])
def test_a_starter_function_is_not_attempted(ex):
    def starter(arg):
        ...

    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", [check.ex1, check.ex3])
def test_a_called_function_gets_a_hint(ex):
    assert wrong(ex("europe"), "without calling it")


# -- exercise 1: a direct exchange and its bindings ----------------------------------------------
def test_ex1_accepts_the_reference():
    assert right(check.ex1(solution.wire))


def test_ex1_bindings_without_a_pattern_take_the_queue_name():
    def wire(net):
        net.exchange("hub", "orders", type="direct")
        net.bind("orders", "europe")
        net.bind("orders", "america")

    assert wrong(check.ex1(wire), "queue's name", "pattern='eu'")


def test_ex1_a_fanout_exchange_ignores_the_key():
    def wire(net):
        net.exchange("hub", "orders", type="fanout")
        net.bind("orders", "europe")
        net.bind("orders", "america")

    assert wrong(check.ex1(wire), "fanout", "type='direct'")


def test_ex1_a_forgotten_binding_leaves_its_key_unroutable():
    def wire(net):
        net.exchange("hub", "orders", type="direct")
        net.bind("orders", "europe", pattern="eu")
        net.bind("orders", "america", pattern="us")

    assert wrong(check.ex1(wire), "asia orders were unroutable", "pattern='asia'")


def test_ex1_a_key_bound_to_the_wrong_queue():
    def wire(net):
        solution.wire(net)
        net.bind("orders", "europe", pattern="us")

    assert wrong(check.ex1(wire), "us orders went to europe")


def test_ex1_test_orders_must_not_reach_a_queue():
    def wire(net):
        solution.wire(net)
        net.bind("orders", "europe", pattern="test")

    assert wrong(check.ex1(wire), "test orders reached a queue")


def test_ex1_the_right_routes_on_a_topic_exchange_are_not_what_was_asked():
    def wire(net):
        net.exchange("hub", "orders", type="topic")
        for key, queue in check.REGIONS.items():
            net.bind("orders", queue, pattern=key)

    assert wrong(check.ex1(wire), "topic exchange", "type='direct'")


def test_ex1_an_exchange_of_another_name():
    def wire(net):
        net.exchange("hub", "order", type="direct")

    assert wrong(check.ex1(wire), "'orders'", "'order'")


def test_ex1_declaring_the_queues_again_is_reported_not_raised():
    def wire(net):
        net.queue("hub", "europe")
        solution.wire(net)

    assert wrong(check.ex1(wire), "raised", "declare only the exchange")


# -- exercise 2: the prediction -------------------------------------------------------------------
def test_ex2_accepts_the_reference_and_it_is_what_the_model_gives():
    assert right(check.ex2(solution.PREDICTION))
    assert right(check.ex2(20.0))
    run = check.dispatch_demo(None)
    assert check.worker_stats(run)["slow"]["orders"] == solution.PREDICTION


@pytest.mark.parametrize(("guess", "words"), [
    (8, ["prefetch=1"]),
    (5, ["by speed"]),
    (4, ["by speed"]),
    (19, ["Off by one"]),
    (21, ["Off by one"]),
    (0, ["does not know"]),
    (40, ["compete"]),
    (41, ["between 0 and 40"]),
    (20.5, ["whole number"]),
    ("20", ["number of orders"]),
    (True, ["number of orders"]),
    (10, ["dealing cards"]),
    (13, ["can finish in the 20 s", "20 s / 1.5 s", "pushes each order"]),
    (32, ["more orders than the fast one", "did you swap", "the same number", "not more"]),
    (30, ["more orders than the fast one", "the same number", "not more"]),
    (35, ["more orders than the fast one", "the same number", "not more"]),
    (25, ["more orders than the fast one", "round-robin"]),
])
def test_ex2_rejects_plausible_guesses_with_their_hint(guess, words):
    assert wrong(check.ex2(guess), *words)


def test_ex2_only_the_fast_workers_fair_share_is_called_a_swap():
    assert "swap" not in check.ex2(35).message
    fair = check.worker_stats(check.dispatch_demo(1))
    assert "did you swap" in check.ex2(int(fair["fast"]["orders"])).message


# -- exercise 3: why was it dead-lettered? --------------------------------------------------------
def test_ex3_accepts_the_reference():
    v = check.ex3(solution.why)
    assert right(v)
    assert "malformed" in v.message and "stale" in v.message and "overflow" in v.message


def test_ex3_reading_x_death_newest_first_is_right_too():
    def why(msg):
        return solution.LABELS[msg.headers["x-death"][0]["reason"]]

    assert right(check.ex3(why))


def test_ex3_the_raw_reason_is_not_the_label():
    assert wrong(check.ex3(lambda msg: msg.headers["x-first-death-reason"]), "Translate")


def test_ex3_guessing_from_the_payload_is_caught():
    def why(msg):
        if msg.payload["qty"] == 0:
            return "malformed"
        return solution.why(msg)

    assert wrong(check.ex3(why), "never reached the worker", "not from its payload")


def test_ex3_the_trace_word_ttl_is_not_the_x_death_reason():
    def why(msg):
        reason = msg.headers["x-first-death-reason"]
        return {"rejected": "malformed", "ttl": "stale", "maxlen": "overflow"}.get(reason)

    assert wrong(check.ex3(why), "'expired'", "'ttl'")


def test_ex3_overflow_is_spelt_maxlen_in_x_death():
    def why(msg):
        reason = msg.headers["x-first-death-reason"]
        return {"rejected": "malformed", "expired": "stale", "overflow": "overflow"}.get(reason)

    assert wrong(check.ex3(why), "'maxlen'")


def test_ex3_x_death_indexed_like_a_dict_gets_a_hint():
    assert wrong(check.ex3(lambda msg: msg.headers["x-death"]["reason"]), "list of dicts")


def test_ex3_the_same_answer_for_every_message():
    assert wrong(check.ex3(lambda msg: "stale"), "for every message")


def test_ex3_changing_the_message_changes_nothing_in_the_check():
    def why(msg):
        label = solution.why(msg)
        msg.headers.clear()
        msg.payload["qty"] = 99
        return label

    assert right(check.ex3(why))


# -- exercise 4: a TTL for price quotes -----------------------------------------------------------
def test_ex4_accepts_the_reference():
    assert right(check.ex4(solution.TTL))
    assert right(check.ex4(1.7000001))
    assert solution.TTL == check.best_ttl()


def test_ex4_the_reference_really_never_starts_a_stale_quote():
    for seed in (1, 2, 3, 4, 5):
        run = check.quote_network(solution.TTL, seed=seed).run(until=30)
        assert max(check.ages_at_start(run)) < check.QUOTES["max_age"]


@pytest.mark.parametrize(("ttl", "words"), [
    (2.0, ["Too long", "not when it was published"]),
    (1.8, ["Too long", "queue to the worker"]),
    (1.9, ["Too long", "link to the hub"]),
    (1.5, ["stricter than needed"]),
    (1700, ["seconds, not milliseconds"]),
    (2000, ["seconds, not milliseconds"]),
    (0, ["more than 0 s"]),
    (-1, ["more than 0 s"]),
    ("1.7", ["number of seconds"]),
    (float("nan"), ["number of seconds"]),
])
def test_ex4_rejects_plausible_mistakes_with_their_hint(ttl, words):
    assert wrong(check.ex4(ttl), *words)


# -- what a second reader tried -------------------------------------------------------------------
def test_ex1_a_wire_that_builds_its_own_network_was_attempted():
    def wire(net):
        import mqlab as mq

        own = mq.Network()
        own.broker("hub")
        own.exchange("hub", "orders", type="direct")

    assert wrong(check.ex1(wire), "declared no exchange", "not on a Network of your own")


def test_ex1_two_keys_in_one_binding_are_two_bindings():
    def wire(net):
        net.exchange("hub", "orders", type="direct")
        net.bind("orders", "europe", pattern="eu")
        net.bind("orders", "america", pattern=["us", "asia"])

    v = check.ex1(wire)
    assert wrong(v, "pattern must be a string", "bind it twice", "pattern='asia'")
    assert "declare only the exchange" not in v.message


def test_ex1_swapped_bind_arguments_get_the_call_shape():
    def wire(net):
        net.exchange("hub", "orders", type="direct")
        net.bind("europe", "orders", pattern="eu")

    v = check.ex1(wire)
    assert wrong(v, "net.bind('orders', queue, pattern=key)", "exchange first")
    assert "declare only the exchange" not in v.message


def test_ex1_declaring_the_exchange_twice():
    def wire(net):
        solution.wire(net)
        net.exchange("hub", "orders", type="direct")

    assert wrong(check.ex1(wire), "Declare the exchange once")


def test_ex1_routing_keys_are_case_sensitive():
    def wire(net):
        net.exchange("hub", "orders", type="direct")
        net.bind("orders", "europe", pattern="EU")
        net.bind("orders", "america", pattern="us")
        net.bind("orders", "america", pattern="asia")

    assert wrong(check.ex1(wire), "eu orders were unroutable", "case-sensitive", "'EU'")


def test_ex3_a_swapped_label_is_not_blamed_on_the_payload():
    def why(msg):
        label = solution.why(msg)
        return "overflow" if label == "stale" else label

    v = check.ex3(why)
    assert wrong(v, "'expired' should be 'stale'", "'overflow'")
    assert "payload" not in v.message


def test_ex3_printing_instead_of_returning_was_attempted(capsys):
    def why(msg):
        print(solution.why(msg))

    v = check.ex3(why)
    assert wrong(v, "printed", "returned None for every message", "`return label`",
                 "not `print(label)`")
    assert capsys.readouterr().out == ""  # 47 printed labels would bury the hint


def test_ex3_the_students_prints_are_kept_off_the_screen_when_it_is_right(capsys):
    def why(msg):
        print("looking at", msg.headers)
        return solution.why(msg)

    assert right(check.ex3(why))
    assert capsys.readouterr().out == ""


def test_ex3_a_reason_header_that_does_not_exist_names_the_ones_that_do():
    v = check.ex3(lambda msg: msg.headers["reason"])
    assert wrong(v, "KeyError: 'reason'", "no key 'reason'", "'x-first-death-reason'",
                 "msg.headers['x-death'][0]['reason']")


def test_ex3_a_translation_missing_a_reason_is_named():
    def why(msg):
        return {"rejected": "malformed", "expired": "stale"}[msg.headers["x-first-death-reason"]]

    assert wrong(check.ex3(why), "KeyError: 'maxlen'", "your translation into labels lacks")


def test_ex3_headers_read_as_attributes_get_the_brackets():
    v = check.ex3(lambda msg: msg.headers.reason)
    assert wrong(v, "AttributeError", "square brackets", "msg.headers['x-first-death-reason']")


def test_ex3_the_payload_hint_gives_the_msg_id_the_trace_shows():
    def why(msg):
        return "malformed" if msg.payload["qty"] == 0 else solution.why(msg)

    v = check.ex3(why)
    order = int(v.message.split()[1])
    assert wrong(v, f"Order {order} (msg {order + 1} in the trace)")


def test_ex3_a_reason_looked_for_in_the_x_death_list_is_named():
    def why(msg):
        if "rejected" in msg.headers["x-death"]:
            return "malformed"
        if "expired" in msg.headers["x-death"]:
            return "stale"
        return "overflow"

    assert wrong(check.ex3(why), "'rejected' in msg.headers['x-death']", "list of dicts",
                 "['x-death'][0]['reason']")


def test_ex3_a_leftover_global_message_is_named():
    dead_letters = []
    check.dead_letter_network(inspector=dead_letters.append).run(until=30)
    leftover = dead_letters[-1]  # what `for msg in dead_letters` leaves behind
    scope = {"LABELS": solution.LABELS, "msg": leftover}
    exec("def why(letter):\n    return LABELS[msg.headers['x-first-death-reason']]\n", scope)
    assert wrong(check.ex3(scope["why"]), "global `msg`", "the message it is given")


def test_ex4_just_over_the_best_ttl_is_explained_in_the_singular():
    v = check.ex4(1.71)
    assert wrong(v, "1 quote in 3 runs was started", "Just over", "0.2 + 1.71 + 0.1 = 2.01 s")
    assert "(the oldest 2.00 s)" not in v.message  # 3 decimals: visibly more than 2 s


def test_ex4_a_hundredth_under_the_best_ttl_is_stricter_than_needed():
    assert wrong(check.ex4(1.69), "stricter than needed", "between 1.69 s and 1.7 s")


def test_order_i_is_msg_i_plus_1_in_the_trace_as_the_lesson_says():
    letters = []
    check.dead_letter_network(inspector=letters.append).run(until=30)
    assert letters and all(m.id == m.payload["order"] + 1 for m in letters)
