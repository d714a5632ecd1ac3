"""The checks of lesson 08 accept the reference solutions and reject typical mistakes kindly."""

import hmac
import secrets
import time

import pytest
from solutions import lesson08 as solution
from verdicts import right, unattempted, wrong

import mqlab as mq
from mqlab import security
from mqlab.checks import lesson08 as check

WINDOW = check.WINDOW  # as in the notebook, where a student may use it instead of `window`


@pytest.mark.parametrize("ex", [check.ex1, check.ex2, check.ex3, check.ex4, check.ex5])
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


@pytest.mark.parametrize("ex", [check.ex2, check.ex4])
def test_a_starter_function_is_not_attempted(ex):
    def starter(*args):
        ...

    assert unattempted(ex(starter))


def test_the_notebooks_starter_dicts_are_not_attempted():
    assert unattempted(check.ex1({u: {"write": ..., "read": ...} for u in check.ROLES}))
    assert unattempted(check.ex5({letter: ... for letter in check.ATTACKS}))


@pytest.mark.parametrize("ex", [check.ex2, check.ex4])
def test_a_called_function_gets_a_hint(ex):
    assert wrong(ex(True), "without calling it")


# -- the lesson's system --------------------------------------------------------------------------
def test_the_open_system_charges_what_the_attacks_made():
    net, charged = check.payments()
    heard = []
    check.tap(net, heard)
    net.run(until=12)
    assert len(heard) == 8
    orders = [p["order"] for p in charged]
    assert orders.count(102) == 2 and orders.count(103) == 2 and 666 in orders
    assert {"order": 104, "to": "mallory", "amount": 900}.items() <= next(
        p for p in charged if p["order"] == 104).items()


def test_the_prediction_is_what_the_model_gives():
    key = security.new_key()
    net, charged = check.payments(
        users=True, mallory=("shop", "pw-shop-2024"),
        headers=lambda p: {"x-hmac": security.tag(key, p, routing_key="charge")},
        verify=lambda m: None if solution.genuine(m, key) else "bad HMAC")
    check.tap(net)
    net.run(until=12)
    orders = [p["order"] for p in charged]
    assert orders.count(102) == solution.PREDICTION
    assert 104 not in orders and 666 not in orders


# -- exercise 1: permissions ----------------------------------------------------------------------
def test_ex1_accepts_the_reference_and_equivalent_patterns():
    assert right(check.ex1(solution.PERMISSIONS))
    other = {"shop": {"write": r"^amq\.default$|^payments$", "read": "^$"},
             "bank": {"write": "^$", "read": "^(charges)$"},
             "auditor": {"write": "^$", "read": r"^audit\..*$"}}
    assert right(check.ex1(other))
    assert right(check.ex1({**solution.PERMISSIONS,
                            "shop": {"write": r"^(amq\.default|payments)$", "read": ""}}))


def _shop_denies(write):
    """Deny events when the shop, with this write pattern, publishes a payment to the exchange
    payments and a receipt through the default exchange to the queue receipts."""
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "payments", type="direct")
    net.queue("hub", "charges")
    net.queue("hub", "receipts")
    net.bind("payments", "charges", pattern="charge")
    net.user("shop", "pw-shop", write=write, read="")
    net.producer("pay", schedule=[1.0], exchange="payments", routing_key="charge",
                 user="shop", password="pw-shop")
    net.producer("receipt", schedule=[2.0], exchange="", routing_key="receipts",
                 user="shop", password="pw-shop")
    return [e.info for e in net.run(until=5).trace.filter(kind="deny")]


def test_ex1s_rule_for_the_default_exchange_is_the_brokers():
    assert _shop_denies(solution.PERMISSIONS["shop"]["write"]) == []
    for accepted_before in ("^(payments|)$", "^(payments)?$"):
        denies = _shop_denies(accepted_before)
        assert len(denies) == 1 and "amq.default" in denies[0]
        assert wrong(check.ex1(_with("shop", "write", accepted_before)), "amq.default")


def _with(user, perm, pattern):
    answer = {u: dict(p) for u, p in solution.PERMISSIONS.items()}
    answer[user][perm] = pattern
    return answer


@pytest.mark.parametrize(("user", "perm", "pattern", "words"), [
    ("bank", "read", "charges", ["searches the pattern anywhere", "Anchor"]),
    ("bank", "read", "^charges", ["'charges-archive'", "Anchor"]),
    ("shop", "write", r"^(payments|amq\.default)", ["'payments-archive'", "Anchor"]),
    ("auditor", "read", "audit\\.", ["'my-audit.payments'", "Anchor"]),
    ("auditor", "read", "^audit.", ["unescaped . matches ANY character", r"r'^audit\.'"]),
    ("shop", "write", "^(payments|amq.default)$",
     ["'amqXdefault'", "unescaped . matches ANY character", r"r'amq\.default'"]),
    ("shop", "write", "^payments$", ["does not permit the default exchange", "amq.default",
                                     "escape its dot"]),
    # "" is the name a producer publishes to, not the name the broker checks
    ("shop", "write", "^(payments|)$", ["permits the empty name", "not the name it is checked",
                                        "amq.default"]),
    ("shop", "write", "^payments$|^$", ["permits the empty name", "amq.default"]),
    ("shop", "write", "^(payments)?$", ["permits the empty name", "amq.default"]),
    ("shop", "write", "^(|payments)$", ["permits the empty name", "amq.default"]),
    # write on the queue the receipts go to, instead of on the default exchange
    ("shop", "write", "^(payments|receipts)$", ["permits 'receipts'", "queue's name plays no part",
                                                "amq.default"]),
    ("shop", "write", "^payments|$", ["splits the WHOLE pattern", "^(a|b)$"]),
    # no anchors at all and an unescaped dot: the missing anchors are named first, then the dot
    ("shop", "write", "payments|amq.default",
     ["has no anchors", "'payments-archive'", "Anchor it", "^(a|b)$", "'amqXdefault'",
      "unescaped . matches ANY character", r"r'amq\.default'"]),
    # the dot left out: 'auditor-notes' starts with audit
    ("auditor", "read", "^audit", ["'auditor-notes'", "not with audit.", r"r'^audit\.'"]),
    ("shop", "write", r"^payments|amq\.default$", ["splits the WHOLE pattern", "^(a|b)$"]),
    ("bank", "write", r"^amq\.default$", ["must write nothing", '""']),
    ("bank", "write", ".*", ["must write nothing", '""']),
    ("shop", "read", ".*", ["must read nothing"]),
    ("bank", "read", "^$", ["refuses 'charges'"]),
    ("auditor", "read", "^audit\\.(payments|refunds)$", ["EVERY queue", "audit.2025"]),
    ("bank", "write", None, ["must be a str", '""']),
    ("bank", "read", "(", ["not a valid regular expression"]),
])
def test_ex1_rejects_plausible_patterns_with_their_hint(user, perm, pattern, words):
    assert wrong(check.ex1(_with(user, perm, pattern)), *words)


def test_ex1_a_missing_user_or_a_list_gets_a_hint():
    assert wrong(check.ex1({"shop": solution.PERMISSIONS["shop"]}), "my_permissions['bank']")
    assert wrong(check.ex1(["^payments$"]), "Give a dict")


# -- exercise 2: verify an HMAC -------------------------------------------------------------------
def test_ex2_accepts_the_reference_and_compare_digest_by_hand():
    assert right(check.ex2(solution.genuine))

    def by_hand(msg, key):
        tag = msg.headers.get("x-hmac")
        if not isinstance(tag, str):
            return False
        return hmac.compare_digest(security.tag(key, msg.payload, routing_key=msg.routing_key),
                                   tag)

    assert right(check.ex2(by_hand))


def test_ex2_catches_double_equals_in_either_order():
    def equals(msg, key):
        return security.tag(key, msg.payload, routing_key=msg.routing_key) == msg.headers.get(
            "x-hmac")

    def equals_reversed(msg, key):
        return msg.headers.get("x-hmac") == security.tag(key, msg.payload,
                                                           routing_key=msg.routing_key)

    assert wrong(check.ex2(equals), "==", "compare_digest")
    assert wrong(check.ex2(equals_reversed), "==", "compare_digest")


def test_ex2_a_test_against_none_or_empty_is_not_a_timing_leak():
    def guarded(msg, key):
        t = msg.headers.get("x-hmac")
        if t == None or t == "":  # noqa: E711 (what a student may write)
            return False
        return hmac.compare_digest(security.tag(key, msg.payload, routing_key=msg.routing_key),
                                   t)

    def guarded_ne(msg, key):
        t = msg.headers.get("x-hmac")
        if t != None:  # noqa: E711
            return security.verify(key, msg.payload, t, routing_key=msg.routing_key)
        return False

    assert right(check.ex2(guarded))
    assert right(check.ex2(guarded_ne))


def test_ex2_equals_after_a_none_test_is_still_caught():
    def both(msg, key):
        t = msg.headers.get("x-hmac")
        if t is None:
            return False
        return t == security.tag(key, msg.payload, routing_key=msg.routing_key)

    assert wrong(check.ex2(both), "compares the tag with == (or !=) somewhere", "compare_digest")


def test_ex2_catches_equals_on_bytes_by_what_the_function_calls():
    def as_bytes(msg, key):
        tag = msg.headers.get("x-hmac") or ""
        mine = security.tag(key, msg.payload, routing_key=msg.routing_key)
        return mine.encode() == tag.encode()

    assert wrong(check.ex2(as_bytes), "never calls hmac.compare_digest", "==")


def test_ex2_finds_compare_digest_under_any_name():
    from hmac import compare_digest as cd

    def aliased(msg, key):
        tag = msg.headers.get("x-hmac")
        if not isinstance(tag, str):
            return False
        return cd(security.tag(key, msg.payload, routing_key=msg.routing_key), tag)

    def by_secrets(msg, key):
        tag = msg.headers.get("x-hmac")
        if not isinstance(tag, str):
            return False
        return secrets.compare_digest(
            security.tag(key, msg.payload, routing_key=msg.routing_key), tag)

    def same(a, b):  # a helper of the student's own
        return cd(a.encode(), b.encode())

    def through_a_helper(msg, key):
        tag = msg.headers.get("x-hmac")
        return isinstance(tag, str) and same(
            security.tag(key, msg.payload, routing_key=msg.routing_key), tag)

    assert right(check.ex2(aliased))
    assert right(check.ex2(by_secrets))
    assert right(check.ex2(through_a_helper))


def test_ex2_a_hand_made_xor_loop_gets_its_own_hint():
    def xor_loop(msg, key):
        tag = msg.headers.get("x-hmac")
        mine = security.tag(key, msg.payload, routing_key=msg.routing_key)
        if not isinstance(tag, str) or len(tag) != len(mine):
            return False
        diff = 0
        for a, b in zip(mine, tag, strict=True):
            diff |= ord(a) ^ ord(b)
        return diff == 0

    verdict = check.ex2(xor_loop)
    assert wrong(verdict, "hand-made constant-time comparison", "cannot tell whether yours",
                 "hmac.compare_digest")
    assert "==" not in verdict.message


def test_ex2_a_tag_over_the_payload_alone_refuses_genuine_payments():
    def payload_only(msg, key):
        return security.verify(key, msg.payload, msg.headers.get("x-hmac"))

    assert wrong(check.ex2(payload_only), "payload AND the routing key", "routing_key=")


def test_ex2_a_missing_header_must_not_crash():
    def crashes(msg, key):
        return security.verify(key, msg.payload, msg.headers["x-hmac"],
                               routing_key=msg.routing_key)

    assert wrong(check.ex2(crashes), "KeyError", "no x-hmac header", "get")


def test_ex2_always_true_and_none_get_hints():
    assert wrong(check.ex2(lambda msg, key: True), "amount was changed")

    def no_return(msg, key):
        security.verify(key, msg.payload, msg.headers.get("x-hmac"), routing_key=msg.routing_key)

    assert wrong(check.ex2(no_return), "return True or False")
    assert wrong(check.ex2(lambda msg, key: "ok"), "True or False")


def test_ex2_a_fixed_routing_key_lets_a_rerouted_payment_through():
    def fixed_key(msg, key):
        return security.verify(key, msg.payload, msg.headers.get("x-hmac"),
                               routing_key="charge")

    assert wrong(check.ex2(fixed_key), "re-routed", "routing_key=msg.routing_key")


# -- exercise 3: the prediction -------------------------------------------------------------------
def test_ex3_accepts_the_reference():
    assert right(check.ex3(solution.PREDICTION))
    assert right(check.ex3(2.0))


@pytest.mark.parametrize(("guess", "words"), [
    (1, ["changed messages", "copy changed"]),
    (0, ["original order 102 was genuine"]),
    (3, ["replays message 2 once"]),
    (5, ["replays it once"]),
    (1.5, ["whole number"]),
    ("2", ["number of charges"]),
    (True, ["number of charges"]),
])
def test_ex3_rejects_plausible_guesses_with_their_hint(guess, words):
    assert wrong(check.ex3(guess), *words)


# -- exercise 4: a replay check -------------------------------------------------------------------
def test_ex4_accepts_the_reference():
    assert right(check.ex4(solution.replay_check))


def test_ex4_a_guard_that_checks_only_ids():
    def ids_only(seen, msg_id, sent, now, window):
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        for old in [i for i, t in seen.items() if now - t > window]:
            del seen[old]
        return None

    assert wrong(check.ex4(ids_only), "sent 30 s ago", "now - sent > window")


def test_ex4_a_guard_that_checks_only_age():
    def age_only(seen, msg_id, sent, now, window):
        seen[msg_id] = sent
        return "too old" if now - sent > window else None

    assert wrong(check.ex4(age_only), "copy of message 18", "Refuse an id you have seen")


def test_ex4_a_guard_with_no_id_memory_at_all():
    def age_without_memory(seen, msg_id, sent, now, window):
        return "too old" if now - sent > window else None

    assert wrong(check.ex4(age_without_memory), "copy of message 18", "1.2 s after",
                 "only its id can catch it", "seen[msg_id] = sent")


def test_ex4_a_guard_that_never_forgets():
    def hoarder(seen, msg_id, sent, now, window):
        if now - sent > window:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        return None

    assert wrong(check.ex4(hoarder), "never forgets", "2000 messages")


def test_ex4_a_guard_that_forgets_too_soon():
    def forgetful(seen, msg_id, sent, now, window):
        if now - sent > window:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        for old in [i for i, t in seen.items() if now - t > window / 4]:
            del seen[old]
        return None

    assert wrong(check.ex4(forgetful), "inside the 5 s window", "Forget only ids older")


def _scaled(age_limit, forget_after=None):
    """The reference guard with its age limit, and the age after which it forgets an id, made
    from the window by these functions."""
    forget_after = forget_after or age_limit

    def guard(seen, msg_id, sent, now, window):
        if now - sent > age_limit(window):
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        for old in [i for i, t in seen.items() if now - t > forget_after(window)]:
            del seen[old]
        return None

    return guard


@pytest.mark.parametrize("factor", [0.5, 0.9])
def test_ex4_a_window_too_short(factor):
    assert wrong(check.ex4(_scaled(lambda w: factor * w)), "refused a message never seen",
                 "4.9 s old", "window = 5", "too short")


@pytest.mark.parametrize("factor", [1.1, 2, 4, 5.9])
def test_ex4_a_window_too_long(factor):
    verdict = check.ex4(_scaled(lambda w: factor * w))
    assert wrong(verdict, "accepted a message sent 5.1 s before now", "window = 5", "too long")
    assert "never forgets" not in verdict.message


def test_ex4_a_window_that_ignores_the_argument():
    assert wrong(check.ex4(_scaled(lambda w: 5.0)), "ignores the `window` argument",
                 "right at both edges", "window = 2", "2.1 s old", "a number of your own")
    assert wrong(check.ex4(_scaled(lambda w: 3.5)), "ignores the `window` argument",
                 "4.9 s old")

    def notebook_window(seen, msg_id, sent, now, window):
        if now - sent > WINDOW:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        for old in [i for i, t in seen.items() if now - t > WINDOW]:
            del seen[old]
        return None

    assert wrong(check.ex4(notebook_window), "ignores the `window` argument", "not with WINDOW")


def test_ex4_a_guard_that_forgets_too_late():
    verdict = check.ex4(_scaled(lambda w: w, lambda w: 5.9 * w))
    assert wrong(verdict, "seen still holds the id", "keeps ids longer than the 5 s window",
                 "Forget ids sent more than window seconds before now")
    assert "never forgets" not in verdict.message


def test_ex4_a_memory_capped_by_count():
    def last_ten(seen, msg_id, sent, now, window):
        if now - sent > window:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        while len(seen) > 10:
            del seen[next(iter(seen))]  # the oldest id, whatever its age
        return None

    assert wrong(check.ex4(last_ten), "burst", "copy of the first one", "bounded by time",
                 "not by count")


def test_ex4_accepts_other_right_guards():
    def purge_first_and_ge(seen, msg_id, sent, now, window):
        for old in [i for i, t in seen.items() if now - t >= window]:
            del seen[old]
        if msg_id in seen:
            return "replayed"
        if now - sent >= window:
            return "too old"
        seen[msg_id] = now  # when it came, rather than when it was sent
        return None

    def package_guard(seen, msg_id, sent, now, window):
        guard = mq.security.ReplayGuard(window)
        guard.seen = seen
        return guard.check(msg_id, sent, now)

    assert right(check.ex4(purge_first_and_ge))
    assert right(check.ex4(package_guard))


def test_ex4_a_guard_on_the_wall_clock():
    def wall_clock(seen, msg_id, sent, now, window):
        if time.time() - sent > window:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        return None

    assert wrong(check.ex4(wall_clock), "computer's clock", "now - sent")


def test_ex4_a_guard_with_a_global_memory():
    memory = {}

    def global_seen(seen, msg_id, sent, now, window):
        if now - sent > window:
            return "too old"
        if msg_id in memory:
            return "replayed"
        memory[msg_id] = sent
        return None

    assert wrong(check.ex4(global_seen), "still empty", "the dict you are given")


def test_ex4_booleans_get_the_convention():
    def booleans(seen, msg_id, sent, now, window):
        return msg_id not in seen and now - sent <= window

    assert wrong(check.ex4(booleans), "Return None for a fresh message")


def test_ex4_age_measured_the_wrong_way_round():
    def backwards(seen, msg_id, sent, now, window):
        if sent - now > window:
            return "too old"
        if msg_id in seen:
            return "replayed"
        seen[msg_id] = sent
        for old in [i for i, t in seen.items() if now - t > window]:
            del seen[old]
        return None

    assert wrong(check.ex4(backwards), "sent 30 s ago")


# -- exercise 5: which defence stops which attack -------------------------------------------------
def test_ex5_accepts_the_reference_in_any_case():
    assert right(check.ex5(solution.DEFENCES))
    assert right(check.ex5({k: v.upper() for k, v in solution.DEFENCES.items()}))


@pytest.mark.parametrize(("letter", "answer", "words"), [
    ("d", "login", ["password was stolen"]),
    ("e", "hmac", ["its HMAC is right"]),
    ("a", "hmac", ["still travels readable"]),
    ("f", "permissions", ["how often, not where"]),
    ("c", "login", ["right password"]),
    ("e", "rate limit", ["think about what that defence checks"]),
])
def test_ex5_rejects_misconceptions_with_their_hint(letter, answer, words):
    assert wrong(check.ex5({**solution.DEFENCES, letter: answer}), f"Attack {letter}", *words)


def test_ex5_encryption_also_stops_a_fake_payment_made_without_the_key():
    verdict = check.ex5({**solution.DEFENCES, "d": "encryption"})
    assert right(verdict)
    assert "AES-GCM is authenticated" in verdict.message
    assert "encryption is right too" not in str(check.ex5(solution.DEFENCES))


@pytest.mark.parametrize(("letter", "answer"), [("b", "hmac"), ("b", "encryption"),
                                                ("c", "encryption")])
def test_ex5_hints_that_ask_a_question_end_with_it(letter, answer):
    verdict = check.ex5({**solution.DEFENCES, letter: answer})
    assert wrong(verdict, "?")
    assert "?." not in str(verdict)


def test_ex5_unknown_defences_and_missing_letters_get_hints():
    assert wrong(check.ex5({**solution.DEFENCES, "a": "tls"}), "not one of the defences")
    missing = dict(solution.DEFENCES)
    del missing["f"]
    assert wrong(check.ex5(missing), "Attack 'f' has no answer")
    assert wrong(check.ex5({**solution.DEFENCES, "g": "hmac"}), "no attack 'g'")
