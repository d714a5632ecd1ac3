"""The checks of lesson 07 accept the reference solutions and reject typical mistakes kindly."""

import pytest
from solutions import lesson07 as solution
from verdicts import right, unattempted, wrong

import mqlab as mq
from mqlab.checks import lesson07 as check


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


# -- exercise 1: an idempotent bank ---------------------------------------------------------------
def test_ex1_accepts_the_reference():
    assert right(check.ex1(solution.make_handler))


def test_ex1_the_starter_is_not_attempted():
    def make_handler(store, charge):
        def handle(msg):
            # your code here
            ...

        return handle

    assert unattempted(check.ex1(make_handler))


def test_ex1_a_called_function_gets_a_hint():
    assert wrong(check.ex1(solution.make_handler(set(), print)), "Pass make_handler itself")
    assert wrong(check.ex1(42), "without calling it")


def test_ex1_a_dedup_set_in_memory_is_wiped_by_a_crash():
    def make_handler(store, charge):
        seen = set()  # lives and dies with the process

        def handle(msg):
            if msg.id not in seen:
                charge(msg)
                seen.add(msg.id)

        return handle

    assert wrong(check.ex1(make_handler), "charged twice", "after a crash", "Keep them in store")


SEEN = set()  # a module-level dedup set: the "globals survive a crash" mistake


def make_handler_with_a_global(store, charge):
    def handle(msg):
        if msg.id not in SEEN:
            charge(msg)
            SEEN.add(msg.id)

    return handle


def test_ex1_a_global_dedup_set_is_named_not_called_charging_nothing():
    SEEN.clear()
    first = check.ex1(make_handler_with_a_global)
    assert wrong(first, "store is empty", "global", "real crash wipes the whole process")
    assert "charged nothing:" not in first.message
    # the global is full now: the next check charges nothing, and says why
    assert wrong(check.ex1(make_handler_with_a_global), "after charging every payment",
                 "global", "Keep the ids in store")


def test_ex1_a_function_attribute_is_a_global_too():
    def make_handler(store, charge):
        def handle(msg):
            if msg.id not in make_handler.seen:
                charge(msg)
                make_handler.seen.add(msg.id)

        return handle

    make_handler.seen = set()
    assert wrong(check.ex1(make_handler), "store is empty", "function attribute")


def test_ex1_a_global_next_to_store_is_caught_on_the_next_seed():
    seen = set()

    def make_handler(store, charge):
        def handle(msg):
            if msg.id not in seen:  # looks in the global, writes both
                charge(msg)
                seen.add(msg.id)
                store.add(msg.id)

        return handle

    assert wrong(check.ex1(make_handler), "charged nothing on this run", "earlier one",
                 "global")


def test_ex1_keying_the_store_by_the_payload_dict_is_named():
    def make_handler(store, charge):
        def handle(msg):
            if msg.payload not in store:
                charge(msg)
                store.add(msg.payload)

        return handle

    assert wrong(check.ex1(make_handler), "unhashable type: 'dict'", "ana may pay 10 twice",
                 "msg.id")


def test_ex1_an_unhashable_key_of_another_kind_points_to_msg_id():
    def make_handler(store, charge):
        def handle(msg):
            key = [msg.id]
            if key not in store:
                charge(msg)
                store.add(key)

        return handle

    assert wrong(check.ex1(make_handler), "unhashable type: 'list'", "Add msg.id to store")


def test_ex1_storing_the_id_before_charging_is_accepted_with_a_warning():
    def make_handler(store, charge):
        def handle(msg):
            if msg.id in store:
                return
            store.add(msg.id)
            charge(msg)

        return handle

    verdict = check.ex1(make_handler)
    assert right(verdict) and "before it charges" in verdict.message
    assert "before it charges" not in check.ex1(solution.make_handler).message


def test_ex1_dedup_keyed_by_payload_loses_repeated_payments():
    def make_handler(store, charge):
        def handle(msg):
            key = (msg.payload["customer"], msg.payload["amount"])
            if key not in store:
                charge(msg)
                store.add(key)

        return handle

    assert wrong(check.ex1(make_handler), "never charged", "same payload", "msg.id")


def test_ex1_skipping_redelivered_messages_loses_payments():
    def make_handler(store, charge):
        def handle(msg):
            if not msg.redelivered:
                charge(msg)

        return handle

    assert wrong(check.ex1(make_handler), "never charged", "redelivered", "store")


def test_ex1_an_inverted_test_drops_first_deliveries():
    def make_handler(store, charge):
        def handle(msg):
            if msg.id not in store:
                store.add(msg.id)
                return
            charge(msg)

        return handle

    assert wrong(check.ex1(make_handler), "first delivery", "NOT seen")


def test_ex1_no_dedup_at_all_charges_duplicates():
    def make_handler(store, charge):
        return charge

    assert wrong(check.ex1(make_handler), "extra charges", "look msg.id up in store")


def make_handler_that_clears_store(limit):
    """A dedup store emptied once it holds more than ``limit`` ids."""
    def make_handler(store, charge):
        def handle(msg):
            if msg.id in store:
                return
            charge(msg)
            store.add(msg.id)
            if len(store) > limit:
                store.clear()

        return handle

    return make_handler


def make_handler_that_keeps_the_last(n):
    """A dedup store that keeps only the ``n`` highest ids."""
    def make_handler(store, charge):
        def handle(msg):
            if msg.id in store:
                return
            charge(msg)
            store.add(msg.id)
            while len(store) > n:
                store.remove(min(store))

        return handle

    return make_handler


def make_handler_that_empties_store_at_each_start(store, charge):
    store.clear()  # "start with an empty store": after a crash too

    def handle(msg):
        if msg.id in store:
            return
        charge(msg)
        store.add(msg.id)

    return handle


@pytest.mark.parametrize("make_handler", [
    *(pytest.param(make_handler_that_clears_store(n), id=f"cleared-above-{n}")
      for n in (2, 5, 10, 20)),
    *(pytest.param(make_handler_that_keeps_the_last(n), id=f"keeps-last-{n}")
      for n in (2, 5, 10)),
    pytest.param(make_handler_that_empties_store_at_each_start, id="emptied-at-each-start"),
])
def test_ex1_a_store_that_loses_ids_is_named(make_handler):
    verdict = check.ex1(make_handler)
    assert wrong(verdict, "extra charges", "your store lost ids", "was in store and gone when a "
                 "duplicate", "at least as long as a duplicate of it can still arrive",
                 "do not remove ids from store")
    assert "look msg.id up in store" not in verdict.message


def test_ex1_the_id_a_store_lost_was_in_it_and_charged_again():
    """The payment the hint names: its id was in store, gone when a duplicate came, and the
    payment was charged twice."""
    make_handler = make_handler_that_keeps_the_last(5)
    got, problem = check._live(make_handler, check.SEED)
    assert problem is None and got["forgot"] > 0 and got["held"] - got["store"]
    assert got["forgot_id"] in got["held"] and got["charges"][got["forgot_id"]] >= 2
    assert f"payment {got['forgot_id']}, for one" in check.ex1(make_handler).message
    fine, _ = check._live(solution.make_handler, check.SEED)
    assert fine["forgot"] == fine["gone"] == 0 and fine["held"] == fine["store"]


@pytest.mark.parametrize("make_handler", [make_handler_that_keeps_the_last(50),
                                          make_handler_that_clears_store(100)])
def test_ex1_a_store_that_drops_ids_no_duplicate_needed_is_accepted_with_a_warning(make_handler):
    verdict = check.ex1(make_handler)
    assert right(verdict)
    assert "your store drops ids" in verdict.message and "for 200 payments" in verdict.message
    assert "no duplicate arrived after its id was gone here" in verdict.message
    assert "drops ids" not in check.ex1(solution.make_handler).message


def test_ex1_rejecting_a_duplicate_is_not_acking_it():
    def make_handler(store, charge):
        def handle(msg):
            if msg.id in store:
                return False
            charge(msg)
            store.add(msg.id)

        return handle

    assert wrong(check.ex1(make_handler), "returned False", "Return nothing")


def test_ex1_charging_the_payload_is_reported_not_raised():
    def make_handler(store, charge):
        def handle(msg):
            if msg.id not in store:
                charge(msg.payload)
                store.add(msg.id)

        return handle

    assert wrong(check.ex1(make_handler), "raised TypeError", "charge(msg)")


def test_ex1_forgetting_to_return_the_handler():
    def make_handler(store, charge):
        def handle(msg):
            charge(msg)

    assert wrong(check.ex1(make_handler), "must return the handler")


def test_ex1_charging_nothing():
    assert wrong(check.ex1(lambda store, charge: (lambda msg: store.add(msg.id))),
                 "charged nothing")


def test_ex1_runs_the_bank_live_making_its_handler_at_each_start():
    """make_handler is the bank's handler_factory: called at the start and after each crash,
    with the same store every time."""
    stores = []

    def make_handler(store, charge):
        stores.append(store)
        return solution.make_handler(store, charge)

    got, problem = check._live(make_handler, check.SEED)
    assert problem is None and got["crashes"] > 0
    assert len(stores) == 1 + got["crashes"] and all(s is stores[0] for s in stores)
    assert got["lost"] == [] and got["twice"] == 0 and got["payments"] == check.BANK["payments"]
    assert len(stores[0]) == check.BANK["payments"]


def test_ex1_a_make_handler_that_fails_after_a_crash_is_reported_not_raised():
    starts = []

    def make_handler(store, charge):
        starts.append(1)
        if len(starts) > 1:
            raise RuntimeError("no connection to the database")
        return solution.make_handler(store, charge)

    assert wrong(check.ex1(make_handler), "raised RuntimeError", "no connection")


def test_ex1_changing_the_message_changes_nothing_in_the_check():
    def make_handler(store, charge):
        inner = solution.make_handler(store, charge)

        def handle(msg):
            inner(msg)
            msg.id = -1

        return handle

    assert right(check.ex1(make_handler))


# -- exercise 2: the prediction -------------------------------------------------------------------
def test_ex2_accepts_the_reference_and_it_is_what_the_model_gives():
    assert right(check.ex2(solution.PREDICTION))
    for (durable, persistent), n in solution.PREDICTION.items():
        assert check.restart_demo(durable, persistent).summary().account.acked == n


@pytest.mark.parametrize(("guess", "words"), [
    ({(True, True): 10, (True, False): 10, (False, True): 0, (False, False): 0},
     ["keeps only persistent"]),
    ({(True, True): 10, (True, False): 0, (False, True): 10, (False, False): 0},
     ["only as safe as its queue"]),
    ({(True, True): 10, (True, False): 10, (False, True): 10, (False, False): 10},
     ["keeps only persistent", "only as safe as its queue", "Neither"]),
    ({(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0},
     ["every order is on disk"]),
    ({(True, True): 10, (True, False): 0, (False, True): 0, (False, False): 11},
     ["between 0 and 10"]),
    ({(True, True): "10", (True, False): 0, (False, True): 0, (False, False): 0},
     ["number of orders"]),
    ({(True, True): 10, (True, False): 0, (False, True): 0}, ["(False, False)"]),
    ({(True, True): 10, (True, False): ..., (False, True): 0, (False, False): 0},
     ["not predicted", "transient"]),
    ([10, 0, 0, 0], ["Give a dict"]),
])
def test_ex2_rejects_plausible_guesses_with_their_hint(guess, words):
    assert wrong(check.ex2(guess), *words)


def test_ex2_the_untouched_starter_dict_is_not_attempted():
    starter = {(True, True): ..., (True, False): ..., (False, True): ..., (False, False): ...}
    assert unattempted(check.ex2(starter))


# -- exercise 3: retries with backoff -------------------------------------------------------------
def test_ex3_accepts_the_reference_and_it_meets_every_rule():
    verdict = check.ex3(solution.POLICY)
    assert right(verdict)
    assert "8 retries, waits from 1 s" in verdict.message and "4 s cap" in verdict.message
    assert len(check.HERD["seeds"]) == 8
    for seed in check.HERD["seeds"]:
        s = check.herd_stats(check.herd_demo(**solution.POLICY, seed=seed))
        assert s["confirmed"] == 30 and s["last"] <= 10 and s["peak"] <= 10
        assert s["publishes"] <= check.HERD["publish_limit"]


def test_ex3_equal_jitter_and_other_policies_are_right_too():
    for policy in [{"retries": 8, "backoff": mq.backoff(1.0, cap=4.0, jitter="equal")},
                   {"retries": 6, "backoff": mq.backoff(3.0, cap=6.0)},
                   {"retries": 5, "backoff": mq.backoff(1.0, cap=4.0)}]:
        verdict = check.ex3(policy)
        assert right(verdict) and f"{policy['retries']} retries" in verdict.message


def test_ex3_copying_the_demo_policy_is_not_enough():
    """Section 5's demo (base 0.25 s, cap 2 s, full jitter) meets the deadline and makes no
    herd, but publishes 159 to 169 times: over the limit of 125."""
    demo = {"retries": 8, "backoff": mq.backoff(0.25, cap=2.0, jitter="full")}
    assert wrong(check.ex3(demo), "publishes in all", "the limit is 125", "larger base")
    for seed in check.HERD["seeds"]:
        s = check.herd_stats(check.herd_demo(**demo, seed=seed))
        assert s["last"] <= 10 and s["peak"] <= 10 and s["publishes"] > 125


def test_ex3_no_cap_is_rejected_even_where_it_happens_to_pass():
    no_cap = {"retries": 8, "backoff": mq.backoff(0.25, jitter="full")}
    assert wrong(check.ex3(no_cap), "no cap", "32 s", "before retry 7", "cap=...")
    lasts = [check.herd_stats(check.herd_demo(**no_cap, seed=seed))["last"]
             for seed in check.HERD["seeds"]]
    assert min(lasts) <= 10 < max(lasts)  # some seeds pass, some miss the deadline


def test_ex3_the_no_cap_hint_names_a_missed_deadline_only_where_it_was_missed():
    never_late = {"retries": 5, "backoff": mq.backoff(1.0, jitter="equal")}
    lasts = [check.herd_stats(check.herd_demo(**never_late, seed=seed))["last"]
             for seed in check.HERD["seeds"]]
    assert max(lasts) == 7.95  # within the deadline on every seed
    verdict = check.ex3(never_late)
    assert wrong(verdict, "no cap", "every payment was still confirmed by 7.95 s",
                 "within the 10 s deadline", "cap=...")
    assert "after the 10 s deadline" not in verdict.message and "misses" not in verdict.message

    late = {"retries": 8, "backoff": mq.backoff(0.25, jitter="full")}
    assert check.herd_stats(check.herd_demo(**late, seed=5))["last"] == 13.25
    assert wrong(check.ex3(late), "no cap", "On seed 5 the last payment was confirmed at 13.25 s, "
                 "after the 10 s deadline")


@pytest.mark.parametrize(("retries", "words"), [
    (6, ["32 s", "before retry 5 (counting from 0"]),
    (10, ["512 s", "before retry 9 (counting from 0"]),
])
def test_ex3_the_no_cap_hint_counts_retries_from_0_as_the_lesson_does(retries, words):
    wait = mq.backoff(1.0)
    assert wait.wait(retries - 1) == float(words[0].removesuffix(" s"))  # the last retry's wait
    verdict = check.ex3({"retries": retries, "backoff": wait})
    assert wrong(verdict, "no cap", *words) and f"before retry {retries} " not in verdict.message


@pytest.mark.parametrize(("wait", "why"), [
    (mq.backoff(3.0, factor=1, cap=3.0), "with factor=1"),
    (mq.backoff(3.0, factor=1), "with factor=1"),
    (mq.backoff(3.0, cap=3.0), "no larger than base"),
])
def test_ex3_a_constant_wait_is_not_exponential_backoff(wait, why):
    """A constant 3 s wait meets the deadline, herd and load rules here, and is still no
    exponential backoff: the task asks for waits that grow."""
    for seed in check.HERD["seeds"]:
        s = check.herd_stats(check.herd_demo(6, wait, seed))
        assert s["confirmed"] == 30 and s["last"] <= 10 and s["peak"] <= 10
        assert s["publishes"] <= check.HERD["publish_limit"]
    verdict = check.ex3({"retries": 6, "backoff": wait})
    assert wrong(verdict, "never grow", why, "every wait is 3 s", "constant wait",
                 "It meets the deadline", "at least every 3.5 s", "a factor above 1")


def test_ex3_a_constant_wait_that_breaks_a_rule_too_is_not_said_to_meet_them():
    verdict = check.ex3({"retries": 10, "backoff": mq.backoff(1.0, factor=1)})
    assert wrong(verdict, "never grow", "constant wait", "In a longer outage")
    assert "It meets" not in verdict.message


def test_ex3_a_single_retry_has_nothing_to_grow():
    verdict = check.ex3({"retries": 1, "backoff": mq.backoff(3.0, cap=8.0)})
    assert wrong(verdict, "only one wait, 3 s", "allow more retries")


@pytest.mark.parametrize(("wait", "words", "absent"), [
    (mq.backoff(0.05, cap=0.1, jitter="full"), ["publishes within 0.1 s", "larger base"],
     "jitter='full' spreads"),
    (mq.backoff(0.1, cap=0.2, jitter="equal"), ["publishes within 0.1 s", "equal jitter",
                                                 "jitter='full' spreads"], "even full jitter"),
])
def test_ex3_a_too_narrow_jitter_hint_fits_the_jitter_given(wait, words, absent):
    verdict = check.ex3({"retries": 8, "backoff": wait})
    assert wrong(verdict, *words) and absent not in verdict.message


@pytest.mark.parametrize(("policy", "words"), [
    ({"retries": 8, "backoff": mq.backoff(0.25, cap=2.0, jitter="none")},
     ["thundering herd", "jitter='full'"]),
    ({"retries": 10, "backoff": mq.backoff(1.0, cap=4.0, jitter="none")},
     ["thundering herd"]),
    ({"retries": 3, "backoff": mq.backoff(1.0, cap=4.0)}, ["never confirmed", "gave up"]),
    ({"retries": 0, "backoff": mq.backoff(0.25, cap=2.0)}, ["no retries"]),
    ({"retries": 10, "backoff": mq.backoff(1.0)}, ["no cap", "cap=..."]),
    ({"retries": 8, "backoff": mq.backoff(1.0, cap=8.0)}, ["deadline", "a cap of 8 s"]),
    ({"retries": 8, "backoff": mq.backoff(0.5, cap=2.0, jitter="equal")},
     ["publishes in all", "limit is 125"]),
    ({"retries": 8, "backoff": 0.25}, ["mq.backoff("]),
    ({"retries": 2.5, "backoff": mq.backoff(0.25)}, ["whole number"]),
    ({"retries": 8}, ["two keys"]),
])
def test_ex3_rejects_plausible_policies_with_their_hint(policy, words):
    assert wrong(check.ex3(policy), *words)


def test_ex3_the_untouched_starter_dict_is_not_attempted():
    assert unattempted(check.ex3({"retries": ..., "backoff": ...}))


def test_the_herd_without_jitter_is_slower_and_rejected_more():
    calm = check.herd_stats(check.herd_demo(**solution.POLICY))
    herd = check.herd_stats(check.herd_demo(8, mq.backoff(0.25, cap=2.0, jitter="none")))
    assert herd["peak"] == 30 and herd["rejected"] > 2 * calm["rejected"]
    assert herd["last"] > calm["last"]


# -- exercise 4: choose the guarantee -------------------------------------------------------------
def test_ex4_accepts_the_reference_in_any_case():
    assert right(check.ex4(solution.CHOICES))
    assert right(check.ex4({k: v.upper() for k, v in solution.CHOICES.items()}))


@pytest.mark.parametrize("name", ["effectively-exactly-once", "Effectively exactly once",
                                  "effectively_once"])
def test_ex4_accepts_the_long_name_of_effectively_once(name):
    assert right(check.ex4({**solution.CHOICES, "payment": name}))


@pytest.mark.parametrize(("change", "words"), [
    ({"thermometer": "at-least-once"}, ["thermometer", "buy nothing"]),
    ({"payment": "at-least-once"}, ["payment", "twice", "dedup store"]),
    ({"payment": "at-most-once"}, ["payment", "loses payments"]),
    ({"price": "effectively-once"}, ["price", "already idempotent"]),
    ({"price": "at-most-once"}, ["price", "old price"]),
    ({"payment": "exactly-once"}, ["exactly-once *delivery*", "Choose one of"]),
    ({"payment": "exactly once"}, ["exactly-once *delivery*", "Choose one of"]),
    ({"payment": "once"}, ["Choose one of"]),
    ({"price": ...}, ["not chosen", "'price'"]),
])
def test_ex4_rejects_plausible_choices_with_their_hint(change, words):
    assert wrong(check.ex4({**solution.CHOICES, **change}), *words)


def test_ex4_a_missing_key_is_named():
    assert wrong(check.ex4({"thermometer": "at-most-once"}), "'payment'")


def test_ex4_the_untouched_starter_dict_is_not_attempted():
    assert unattempted(check.ex4(dict.fromkeys(check.SCENARIOS, ...)))
