"""Checks for lesson 08, "Security", and the lesson's payment system.

    from mqlab.checks import lesson08 as check
    check.ex1(my_permissions)  # RabbitMQ permissions (regular expressions) for three users
    check.ex2(genuine)         # verify a payment's HMAC tag, in constant time
    check.ex3(my_prediction)   # predict: how often is a replayed payment charged, HMAC or not?
    check.ex4(replay_check)    # refuse replayed and stale messages, with bounded memory
    check.ex5(my_defences)     # which defence stops which attack

    net, charged = check.payments()   # the shop, the bank and mallory (section 1)
    check.tap(net, heard)             # the attacker on the shop's link

Each check runs the answer on cases of its own and returns a :class:`~mqlab.checks.Verdict`:
truthy when right, and a hint when not. Keys are made at run time (``new_key()``); nothing
secret is stored anywhere.
"""

from __future__ import annotations

import dis
import hmac
import re
import sys
from collections.abc import Callable
from numbers import Real
from typing import Any

from mqlab import security
from mqlab.checks import (
    Verdict,
    call_student,
    code_objects,
    not_a_function,
    not_attempted,
    short,
    top_level_bar,
    unanchored,
)
from mqlab.message import Message
from mqlab.network import Network

__all__ = ["ATTACKS", "BURST", "DEFENCES", "EDGE_WINDOWS", "EXCHANGES", "QUEUES", "ROLES",
           "WINDOW", "ex1", "ex2", "ex3", "ex4", "ex5", "order", "payments", "tap"]


# -- the payment system of the lesson -------------------------------------------------------------

def order(i: int) -> dict:
    """Payment number ``i`` (0, 1, 2, ...): order 101, 102, ...; a test card number (not a
    real one), an amount in euros and the account to be paid."""
    return {"order": 101 + i, "card": f"4111-0000-0000-{1001 + i}", "amount": 20 + 5 * i,
            "to": "shop"}


def _fake(i: int) -> dict:
    return {"order": 666, "card": "4111-0000-0000-6666", "amount": 500, "to": "mallory"}


def payments(users: bool = False, mallory: tuple[str, str] = ("shop", "guess"),
             payload: Callable[[int], Any] = order, headers: Callable | None = None,
             verify: Callable | None = None, seed: int = 1) -> tuple[Network, list]:
    """The shop publishes 8 payments, one a second from t = 1 s, to the direct exchange
    ``payments`` (routing key ``charge``); the queue ``charges`` takes them to the bank, which
    charges each one (its handler appends the payload to the list returned with the network).
    ``mallory`` publishes one fake payment at t = 3.2 s. Every link takes 0.1 s; the bank
    needs 0.2 s per payment; what the bank refuses goes to the queue ``suspect``.

    ``users=True`` gives the broker two users, ``shop`` (may publish to ``payments`` only)
    and ``bank`` (may read ``charges`` only); mallory then logs in with ``mallory`` =
    (user, password). ``payload(i)`` makes the shop's payment number ``i`` (default
    :func:`order`); ``headers(payload)`` makes the shop's headers; ``verify(msg)`` is the
    bank's check before it charges (None accepts, a reason refuses)."""
    net = Network(seed=seed)
    net.broker("hub")
    net.exchange("hub", "payments", type="direct")
    net.queue("hub", "charges", dead_letter="suspect")
    net.bind("payments", "charges", pattern="charge")
    if users:
        net.user("shop", "pw-shop-2024", write="^payments$", read="^$")
        net.user("bank", "pw-bank-2024", write="^$", read="^charges$")
    login = {"shop": {}, "bank": {}, "mallory": {}}
    if users:
        login = {"shop": {"user": "shop", "password": "pw-shop-2024"},
                 "bank": {"user": "bank", "password": "pw-bank-2024"},
                 "mallory": {"user": mallory[0], "password": mallory[1]}}
    net.producer("shop", interval=1.0, count=8, exchange="payments", routing_key="charge",
                 payload=payload, headers=headers, **login["shop"])
    # mallory has no key: when the shop tags its payments, she can only make a tag up
    forged = (lambda p: {"x-hmac": "0" * 64}) if headers is not None else None
    net.producer("mallory", schedule=[3.2], exchange="payments", routing_key="charge",
                 payload=_fake, headers=forged, **login["mallory"])
    charged: list = []
    net.consumer("bank", queue="charges", service=0.2, verify=verify,
                 handler=lambda msg: charged.append(msg.payload), **login["bank"])
    for a, b in [("shop", "hub"), ("mallory", "hub"), ("charges", "bank")]:
        net.link(a, b, latency=0.1)
    return net, charged


def tap(net: Network, heard: list | None = None) -> None:
    """The attacker on the link shop -> hub: writes down every payload that crosses (into
    ``heard``), sends order 104's money to mallory (900 euros), and sends again copies of
    message 2 at t = 6.5 s and of message 3 at t = 9.5 s."""
    def listen(msg: Message) -> None:
        if heard is not None:
            heard.append(msg.payload)

    def change(msg: Message) -> dict | None:
        if isinstance(msg.payload, dict) and msg.payload.get("order") == 104:
            return {**msg.payload, "to": "mallory", "amount": 900}
        return None  # leave the others as they are

    net.tap("shop", "hub", observe=listen, tamper=change, replay=[(6.5, 2), (9.5, 3)])


# -- how a check tells an untouched starter from an attempt ---------------------------------------

def _starter(*args: Any) -> None:
    ...


def _is_starter(fn: Callable) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _starter.__code__.co_code


def _names(fn: Callable, depth: int = 2) -> set[str]:
    """The global and attribute names a function uses, its nested code and (to ``depth``) the
    functions of the module it calls included."""
    names = {name for code in code_objects(fn) for name in code.co_names}
    if depth > 0:
        for name in list(names):
            called = getattr(fn, "__globals__", {}).get(name)
            if callable(called) and hasattr(called, "__code__"):
                names |= _names(called, depth - 1)
    return names


# -- exercise 1: permissions ----------------------------------------------------------------------

EXCHANGES = ["amq.default", "amqXdefault", "payments", "payments-archive", "old-payments",
             "payments2", "refunds", "receipts", "audit.payments", "amq.topic"]
"""Exchange names exercise 1's write patterns are tried on. A publish to the default exchange
(published to as "") is checked under the name "amq.default", as in RabbitMQ."""

QUEUES = ["charges", "charges-archive", "old-charges", "charges2", "receipts", "payments",
          "audit.payments", "audit.refunds", "audit.2025", "auditor-notes", "audit",
          "auditXpayments", "my-audit.payments"]
"""Queue names exercise 1's read patterns are tried on."""

ROLES = {
    "shop": {"write": {"amq.default", "payments"}, "read": set()},
    "bank": {"write": set(), "read": {"charges"}},
    "auditor": {"write": set(), "read": {"audit.payments", "audit.refunds", "audit.2025"}},
}
"""What each user of exercise 1 must be allowed, exactly: exchanges it may publish to
(``write``) and queues it may read (``read``)."""


_DOT_SLIPS = re.compile(r"audit[^.].*|amq[^.]default")
"""Names an unescaped dot lets in: auditor-notes for ^audit. and amqXdefault for amq.default."""


def _permission_hint(user: str, perm: str, pattern: str) -> str | None:
    wanted = ROLES[user][perm]
    names = EXCHANGES if perm == "write" else QUEUES
    extra = [n for n in names if security.permitted(pattern, n) and n not in wanted]
    missing = [n for n in names if not security.permitted(pattern, n) and n in wanted]
    what = "publish to the exchange" if perm == "write" else "read the queue"
    where = f"{user}'s {perm} pattern {pattern!r}"
    if not extra and not missing:
        return None
    if extra and not wanted:
        return (f"{where} lets {user} {what} {extra[0]!r}, and {user} must {perm} nothing. "
                f"The empty pattern \"\" (or '^$') permits nothing.")
    contains = [n for n in extra if any(w and w in n for w in wanted)]
    slips = [n for n in extra if _DOT_SLIPS.fullmatch(n)]
    loose_dot = bool(slips) and "." in pattern and "\\." not in pattern
    raw = "amq\\.default" if user == "shop" else "^audit\\."
    plain = raw.replace("\\", "\\\\")
    no_anchors = unanchored(where, pattern, contains[0]) if contains else None
    if no_anchors:  # no anchor at all: that comes first, whatever else is wrong
        dot = (f" It also permits {slips[0]!r}: an unescaped . matches ANY character; write \\. "
               f"for a real dot (r'{raw}').") if loose_dot else ""
        return no_anchors + dot
    if extra and top_level_bar(pattern):
        return (f"{where} permits {extra[0]!r}: a | outside brackets splits the WHOLE pattern, "
                f"so ^a|b$ means \"starts with a\" or \"ends with b\". Put the alternatives "
                f"in a group: ^(a|b)$.")
    anchored = pattern.startswith("^") and (pattern.endswith("$") or user == "auditor")
    if contains and not anchored:
        return (f"{where} permits {contains[0]!r}: RabbitMQ searches the pattern anywhere in "
                f"the name, it does not match the whole name. Anchor it: ^ at the start, $ at "
                f"the end.")
    if loose_dot:
        return (f"{where} permits {slips[0]!r}: an unescaped . matches ANY character. Write "
                f"\\. for a real dot (in Python, r'{raw}' or '{plain}').")
    if user == "auditor" and extra and "\\." not in pattern:
        return (f"{where} permits {extra[0]!r}: it starts with audit, but not with audit. (with "
                f"the dot). Put the dot in the pattern, escaped: r'^audit\\.' (or "
                f"'^audit\\\\.').")
    if user == "shop" and "receipts" in extra:
        return (f"{where} permits 'receipts': a publish through the default exchange is "
                f"checked on the exchange, under the name amq.default, not on the queue it goes "
                f"to (the queue's name plays no part). Permit amq.default instead (escape its "
                f"dot).")
    if extra:
        return f"{where} permits {extra[0]!r}, which {user} must not {perm}."
    if user == "shop" and "amq.default" in missing and security.permitted(pattern, ""):
        return (f"{where} permits the empty name, but \"\" is how you publish to the default "
                f"exchange, not the name it is checked under: the broker checks a publish to "
                f"it under the name amq.default, as RabbitMQ does. Permit that instead (escape "
                f"its dot).")
    if user == "shop" and "amq.default" in missing:
        return (f"{where} does not permit the default exchange: the shop sends its receipts "
                f"straight to the queue 'receipts' through it, and the broker checks that "
                f"publish under the name amq.default, as RabbitMQ does. Permit it too, inside "
                f"the anchors, with payments as the other alternative, and escape its dot.")
    if user == "auditor" and "audit.2025" in missing and len(missing) == 1:
        return (f"{where} refuses 'audit.2025': the auditor must read EVERY queue whose name "
                f"starts with audit., new ones too, not just today's two.")
    return f"{where} refuses {missing[0]!r}, which {user} needs to {perm}."


def ex1(permissions: Any) -> Verdict:
    """Check ``permissions``: ``{user: {"write": pattern, "read": pattern}}`` for the users
    shop, bank and auditor of :data:`ROLES`, tried on the names in :data:`EXCHANGES` and
    :data:`QUEUES` with RabbitMQ's rule (:func:`mqlab.security.permitted`)."""
    if not_attempted(permissions):
        return Verdict(None, "Fill in my_permissions, then run this cell again.")
    if not isinstance(permissions, dict):
        return Verdict(False, f"Give a dict {{user: {{'write': pattern, 'read': pattern}}}}, "
                              f"not {short(permissions)}.")
    if all(not_attempted(p) or (isinstance(p, dict) and all(
            not_attempted(v) for v in p.values())) for p in permissions.values()):
        return Verdict(None, "Replace each ... with a pattern (a str), then run this cell again.")
    for user in ROLES:
        entry = permissions.get(user)
        if not isinstance(entry, dict):
            return Verdict(False, f"my_permissions[{user!r}] must be a dict with the keys "
                                  f"'write' and 'read', got {short(entry)}.")
        for perm in ("write", "read"):
            pattern = entry.get(perm)
            if not isinstance(pattern, str):
                return Verdict(False, f"{user}'s {perm} pattern must be a str, got "
                                      f"{short(pattern)}. To permit nothing, write \"\" "
                                      f"(RabbitMQ reads it as '^$').")
            try:
                re.compile(pattern)
            except re.error as exc:
                return Verdict(False, f"{user}'s {perm} pattern {pattern!r} is not a valid "
                                      f"regular expression: {exc}.")
    for user in ROLES:
        for perm in ("write", "read"):
            hint = _permission_hint(user, perm, permissions[user][perm])
            if hint:
                return Verdict(False, hint)
    tried = len(EXCHANGES) + len(QUEUES)
    return Verdict(True, f"Each user may do exactly its job, tried on {tried} names: anchored "
                         f"patterns, escaped dots, and amq.default for the shop's default "
                         f"exchange.")


# -- exercise 2: verify an HMAC -------------------------------------------------------------------

class _Watched(str):
    """A tag that notes when it is compared with == or != to another tag (which leaks timing;
    a test against None or "" does not, and is not noted)."""

    compared = False

    def __eq__(self, other: object) -> bool:
        _Watched._note(other)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        _Watched._note(other)
        return str.__ne__(self, other)

    @staticmethod
    def _note(other: object) -> None:
        if isinstance(other, str) and other:
            _Watched.compared = True

    __hash__ = str.__hash__


def _signed(key: bytes, payload: dict) -> Message:
    """A payment as the shop sends it: tagged over its payload and routing key "charge"."""
    t = security.tag(key, payload, routing_key="charge")
    return Message(payload=dict(payload), routing_key="charge", headers={"x-hmac": _Watched(t)})


def _calls_compare_digest(fn: Callable, *args: Any) -> bool:
    """Does ``fn(*args)`` call ``hmac.compare_digest``, under any name (``secrets.
    compare_digest`` is the same function), directly or through a function it calls (such as
    ``mq.security.verify``)? Found by watching the calls, not by reading names."""
    called = False
    before = sys.getprofile()

    def watch(frame: Any, event: str, arg: Any) -> None:
        nonlocal called
        if event == "c_call" and arg is hmac.compare_digest:
            called = True
        if before is not None:
            before(frame, event, arg)

    sys.setprofile(watch)
    try:
        call_student(fn, *args)
    finally:
        sys.setprofile(before)
    return called


def _uses_xor(fn: Callable) -> bool:
    """Does ``fn`` (its nested code included) use ^, the mark of a hand-made comparison loop?"""
    return any(ins.argrepr in ("^", "^=") or ins.opname in ("BINARY_XOR", "INPLACE_XOR")
               for code in code_objects(fn) for ins in dis.get_instructions(code))


def ex2(genuine: Any) -> Verdict:
    """Check ``genuine(msg, key) -> bool``: True only when ``msg.headers["x-hmac"]`` is the
    HMAC tag of ``msg.payload`` and ``msg.routing_key`` under ``key``, compared in constant
    time; False (never an exception) for a missing or malformed tag."""
    if not_attempted(genuine):
        return Verdict(None, "Write genuine(msg, key), then run this cell again.")
    if not callable(genuine):
        return not_a_function(genuine, "genuine", "ex2")
    if _is_starter(genuine):
        return Verdict(None, "Write the body of genuine(msg, key), then run this cell again.")
    key, other = security.new_key(), security.new_key()
    pay = order(3)
    _Watched.compared = False
    rerouted, short_tag, no_tag = _signed(key, pay), _signed(key, pay), _signed(key, pay)
    changed = _signed(key, pay)
    changed.payload["amount"] = 900
    rerouted.routing_key = "refund"
    short_tag.headers["x-hmac"] = _Watched(short_tag.headers["x-hmac"][:32])
    no_tag.headers = {}
    cases = [
        ("a genuine payment", _signed(key, pay), True),
        ("a payment whose amount was changed on the way", changed, False),
        ("a payment re-routed to 'refund' (same payload, same tag)", rerouted, False),
        ("a payment tagged with another key", _signed(other, pay), False),
        ("a payment with no x-hmac header", no_tag, False),
        ("a payment whose tag is cut short", short_tag, False),
    ]
    answers = {}
    for label, msg, _expected in cases:
        answer, problem = call_student(genuine, msg, key)
        if problem is not None:
            if label.startswith("a payment with no"):
                return Verdict(False, f"{problem.message}, on a payment with no x-hmac header. "
                                      f"Refuse it (return False) instead of crashing the bank: "
                                      f"msg.headers.get('x-hmac').")
            return Verdict(False, f"{problem.message}, on {label}.")
        if not isinstance(answer, bool):
            if answer is None and label == "a genuine payment":
                return Verdict(False, "genuine returned None: return True or False (don't "
                                      "forget `return`).")
            return Verdict(False, f"genuine must return True or False, got {short(answer)} "
                                  f"for {label}.")
        answers[label] = answer
    if _Watched.compared:
        return Verdict(False, "Your function compares the tag with == (or !=) somewhere. That "
                              "comparison "
                              "stops at the first character that differs, so how long it takes "
                              "tells an attacker how much of a forged tag is already right. "
                              "Use hmac.compare_digest, or mq.security.verify, which uses it.")
    genuine_ok = answers["a genuine payment"]
    if not genuine_ok:
        payload_only = _signed(key, pay)
        payload_only.headers["x-hmac"] = security.tag(key, pay)
        answer, _ = call_student(genuine, payload_only, key)
        if answer is True:
            return Verdict(False, "genuine refused a genuine payment: the shop's tag covers the "
                                  "payload AND the routing key. Pass routing_key="
                                  "msg.routing_key to the tag or to verify.")
        return Verdict(False, "genuine refused a genuine payment. Compute the tag as the shop "
                              "does, mq.security.tag(key, msg.payload, routing_key=msg."
                              "routing_key), or call mq.security.verify with the same fields.")
    for label, _msg, expected in cases[1:]:
        if answers[label] is not expected:
            extra = ""
            if "re-routed" in label:
                extra = (" The tag must cover the routing key too: include routing_key="
                         "msg.routing_key, or a payment can be sent to another queue unnoticed.")
            return Verdict(False, f"genuine accepted {label}.{extra}")
    if not _calls_compare_digest(genuine, _signed(key, pay), key):
        if _uses_xor(genuine):
            return Verdict(False, "Right answers, and your comparison with ^ is meant to take "
                                  "the same time whatever the tags hold. But a hand-made "
                                  "constant-time comparison is easy to get wrong (an early "
                                  "return, a length test, a shortcut the interpreter takes), "
                                  "and this check cannot tell whether yours is right. Use "
                                  "hmac.compare_digest, made and tested for this, or "
                                  "mq.security.verify, which uses it.")
        return Verdict(False, "Right answers, but on a genuine payment your function never "
                              "calls hmac.compare_digest (under any name, or through "
                              "mq.security.verify): how does it compare the tags? Comparing "
                              "with == (on str or bytes) leaks timing; use one of those two.")
    return Verdict(True, "A changed payload, a changed routing key, another key, a missing or "
                         "short tag: all refused, and the tags compared in constant time.")


# -- exercise 3: predict the replay ---------------------------------------------------------------

def ex3(prediction: Any) -> Verdict:
    """Check the prediction: how many times the bank charges order 102 when the shop tags its
    payments with an HMAC, the bank verifies it, and the tap replays message 2 (order 102)."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction (a whole number of charges), then run this "
                             "cell again.")
    if isinstance(prediction, bool) or not isinstance(prediction, Real):
        return Verdict(False, f"Give a number of charges, such as 1, not {short(prediction)}.")
    if prediction != int(prediction):
        return Verdict(False, "A payment is charged a whole number of times.")
    guess = int(prediction)
    if guess == 2:
        return Verdict(True, "Twice. The copy is the genuine message, unchanged: its tag is "
                             "right, so the HMAC check lets it through. An HMAC proves who made "
                             "a message and that it was not changed, not that it is new.")
    if guess == 1:
        return Verdict(False, "The HMAC check refuses changed messages. Is the replayed copy "
                              "changed? Recompute its tag in your head.")
    if guess == 0:
        return Verdict(False, "The original order 102 was genuine and unchanged: the bank "
                              "charged it. The question is what happens to the copy.")
    if guess == 3:
        return Verdict(False, "The tap replays message 2 once (at t = 6.5 s); message 3 is "
                              "order 103.")
    return Verdict(False, f"{guess} is not it: order 102 is published once, and the tap "
                          f"replays it once.")


# -- exercise 4: a replay check -------------------------------------------------------------------

WINDOW = 5.0
"""Seconds: a message older than this is refused (exercise 4)."""


EDGE_WINDOWS = (WINDOW, 2.0, 12.0)
"""The windows exercise 4's edge cases are tried with: a message never seen, 0.1 s younger
than the window, must pass; one 0.1 s older must be refused."""

BURST = 1200
"""Messages in exercise 4's burst: one every 0.002 s, more ids inside one window than a memory
capped by count would keep."""


def _ask(fn: Callable, seen: dict, msg_id: int, sent: float, now: float,
         window: float = WINDOW) -> tuple[Any, Verdict | None]:
    return call_student(fn, seen, msg_id, sent, now, window)


def _edges(fn: Callable) -> Verdict | None:
    """None when ``fn`` accepts an unseen message just inside the window and refuses one just
    outside it, for each of :data:`EDGE_WINDOWS`; else the verdict that names the mistake."""
    misses = []  # (window, age, accepted): the edge cases answered wrongly
    right = []  # the windows whose two edges were right
    msg_id = 9000
    for w in EDGE_WINDOWS:
        ok = True
        for age, inside in ((w - 0.1, True), (w + 0.1, False)):
            msg_id += 1
            answer, problem = _ask(fn, {}, msg_id, 100.0, 100.0 + age, w)
            if problem is not None:
                return Verdict(False, f"{problem.message} (a message never seen, {age:g} s old, "
                                      f"window = {w:g}).")
            if (answer is None) is not inside:
                misses.append((w, age, answer is None))
                ok = False
        if ok:
            right.append(w)
    if not misses:
        return None

    def told(miss: tuple[float, float, bool]) -> str:
        w, age, accepted = miss
        return (f"with window = {w:g} you {'accepted' if accepted else 'refused'} a message "
                f"{age:g} s old")

    if right or len({accepted for _, _, accepted in misses}) > 1:
        # right for one window and not another, or too long for one and too short for another
        seen_ok = (f"with window = {right[0]:g} you are right at both edges, but "
                   if right else "")
        own = ("WINDOW (the notebook's 5 s)" if "WINDOW" in _names(fn)
               else "a number of your own")
        return Verdict(False, f"Your age limit ignores the `window` argument: {seen_ok}"
                              f"{told(misses[0])}. Compare now - sent with the window you are "
                              f"given, not with {own}.")
    w, age, accepted = misses[0]
    if accepted:
        return Verdict(False, f"You accepted a message sent {age:g} s before now, with window = "
                              f"{w:g}: it is outside the window, so it must be refused, whatever "
                              f"its id. Your window is too long: refuse when now - sent > "
                              f"window.")
    return Verdict(False, f"You refused a message never seen before, {age:g} s old, with window "
                          f"= {w:g}: it is inside the window, so it is fresh. Your window is "
                          f"too short: refuse only when now - sent > window.")


def ex4(replay_check: Any) -> Verdict:
    """Check ``replay_check(seen, msg_id, sent, now, window)``: None for a fresh message (and
    remember its id in ``seen``), or a reason (a str) for one whose id is in ``seen`` or that
    was sent more than ``window`` seconds before ``now``, for each window of
    :data:`EDGE_WINDOWS`; ``seen`` forgets ids older than the window (by time, not by count:
    a burst of :data:`BURST` messages must all be remembered)."""
    if not_attempted(replay_check):
        return Verdict(None, "Write replay_check(...), then run this cell again.")
    if not callable(replay_check):
        return not_a_function(replay_check, "replay_check", "ex4")
    if _is_starter(replay_check):
        return Verdict(None, "Write the body of replay_check, then run this cell again.")
    clock = _names(replay_check) & {"time", "monotonic", "perf_counter", "datetime", "now"}
    if clock - {"now"}:
        return Verdict(False, "Your function reads the computer's clock. The time that counts "
                              "is `now`, the moment the message reached the bank, in the "
                              "system's own seconds (it is given to you): compare now - sent "
                              "with window.")
    # 1. a stream of fresh messages, one every 0.5 s, each 0.3 s on its way: all accepted
    seen: dict = {}
    for i in range(1, 21):
        answer, problem = _ask(replay_check, seen, i, 0.5 * i, 0.5 * i + 0.3)
        if problem is not None:
            return Verdict(False, f"{problem.message} (message {i}, fresh).")
        if isinstance(answer, bool):
            return Verdict(False, f"Return None for a fresh message and a reason (a str) to "
                                  f"refuse one, not {answer!r}: the bank's verify reads "
                                  f"a str as the reason in the trace.")
        if answer is not None:
            if i == 1:
                return Verdict(False, f"You refused the first, fresh message ({short(answer)}). "
                                      f"Sent at t = 0.5 s and delivered at t = 0.8 s, it is "
                                      f"0.3 s old, well inside the {WINDOW:g} s window.")
            return Verdict(False, f"You refused fresh message {i} (sent {0.5 * i:g} s, now "
                                  f"{0.5 * i + 0.3:g} s): {short(answer)}. A new id, 0.3 s old, "
                                  f"must pass.")
    if not any(k in seen for k in range(1, 21)):
        # nothing remembered in `seen`: no id memory at all, or one of the function's own?
        answer, problem = _ask(replay_check, seen, 18, 9.0, 10.2)
        if problem is None and answer is None:
            return Verdict(False, f"You accepted a copy of message 18 that came 1.2 s after it "
                                  f"was sent: inside the {WINDOW:g} s window its age looks "
                                  f"fine, and only its id can catch it. Remember each accepted "
                                  f"id in seen (seen[msg_id] = sent) and refuse an id you have "
                                  f"seen.")
        return Verdict(False, "After 20 fresh messages, `seen` is still empty: remember each "
                              "accepted id in the dict you are given (seen[msg_id] = sent), "
                              "not in a variable of your own.")
    # 2. a copy of message 18, 1.2 s after it was sent: inside the window, its id is known
    remembered = 18 in seen
    answer, problem = _ask(replay_check, seen, 18, 9.0, 10.2)
    if problem is not None:
        return Verdict(False, f"{problem.message} (a copy of message 18).")
    if answer is None and not remembered:
        return Verdict(False, f"You accepted a copy of message 18, sent 1.2 s ago: still inside "
                              f"the {WINDOW:g} s window, but you had forgotten its id already. "
                              f"Forget only ids older than the window.")
    if answer is None:
        return Verdict(False, "You accepted a copy of message 18, sent 1.2 s ago: it is young "
                              "enough, but its id is in seen. Refuse an id you have seen.")
    # 3. a message never seen, sent 30 s ago
    answer, problem = _ask(replay_check, seen, 99, -19.8, 10.2)
    if problem is not None:
        return Verdict(False, f"{problem.message} (an old message).")
    if answer is None:
        return Verdict(False, "You accepted a message sent 30 s ago because you never saw its "
                              "id. Once you forget old ids (you must, or seen grows for ever), "
                              "a replayed old copy is caught only by its age: refuse "
                              "now - sent > window.")
    # 4. the window's edges, for several windows: the limit is now - sent > window
    edges = _edges(replay_check)
    if edges is not None:
        return edges
    # 5. a fresh dict for a new bank: no ids of the earlier cases may leak into it
    fresh: dict = {}
    answer, problem = _ask(replay_check, fresh, 1, 100.0, 100.3)
    if problem is not None:
        return Verdict(False, f"{problem.message}.")
    if answer is not None:
        return Verdict(False, "Given an empty `seen`, you refused message 1 as if you had "
                              "seen it: keep the ids in the `seen` you are given, not in a "
                              "global.")
    # 6. a long stream: what is remembered must stay within the window
    for i in range(2, 2001):
        answer, problem = _ask(replay_check, fresh, i, 100.0 + 0.5 * i, 100.3 + 0.5 * i)
        if problem is not None:
            return Verdict(False, f"{problem.message} (message {i} of a long stream).")
        if answer is not None:
            return Verdict(False, f"In a long stream of fresh messages, one every 0.5 s, you "
                                  f"refused message {i}: {short(answer)}.")
    if len(fresh) >= 1999:
        return Verdict(False, f"After 2000 messages, seen holds {len(fresh)} ids: it never "
                              f"forgets, so the bank's memory grows without end. Forget ids "
                              f"sent more than window seconds before now: a copy that old is "
                              f"refused by its age anyway.")
    now = 100.3 + 0.5 * 2000
    kept = [k for k in fresh if isinstance(k, int) and 1 <= k <= 2000]
    if kept and now - (100.0 + 0.5 * min(kept)) > 1.2 * WINDOW:
        oldest = min(kept)
        return Verdict(False, f"After 2000 messages, one every 0.5 s, seen still holds the id "
                              f"of message {oldest}, sent {now - 100.0 - 0.5 * oldest:.1f} s "
                              f"before now ({len(fresh)} ids in all): it keeps ids longer than "
                              f"the {WINDOW:g} s window. Forget ids sent more than window "
                              f"seconds before now: a copy that old is refused by its age "
                              f"anyway, so its id is no longer needed.")
    # 7. a copy just inside the window after the long stream: still refused
    last = 100.0 + 0.5 * 2000
    answer, problem = _ask(replay_check, fresh, 1995, last - 2.5, last + 1.5)
    if problem is not None:
        return Verdict(False, f"{problem.message}.")
    if answer is None:
        return Verdict(False, f"You accepted a copy of a message sent {4:g} s ago: still "
                              f"inside the {WINDOW:g} s window, so its id must still be "
                              f"remembered. Forget only ids older than the window.")
    # 8. a burst: more ids inside one window than a memory capped by count keeps
    burst: dict = {}
    first = 10_001
    for j in range(BURST):
        answer, problem = _ask(replay_check, burst, first + j, 200.0 + 0.002 * j,
                               200.1 + 0.002 * j)
        if problem is not None:
            return Verdict(False, f"{problem.message} (message {j + 1} of a burst).")
        if answer is not None:
            return Verdict(False, f"In a burst of {BURST} fresh messages in "
                                  f"{0.002 * BURST:g} s, you refused message {j + 1}: "
                                  f"{short(answer)}.")
    remembered = first in burst
    answer, problem = _ask(replay_check, burst, first, 200.0, 203.0)
    if problem is not None:
        return Verdict(False, f"{problem.message} (a copy of the first message of a burst).")
    if answer is None and not remembered:
        return Verdict(False, f"After a burst of {BURST} messages in {0.002 * BURST:g} s, you "
                              f"accepted a copy of the first one, sent 3 s before: inside the "
                              f"{WINDOW:g} s window, but its id was no longer in seen ("
                              f"{len(burst)} ids kept). The memory must be bounded by time "
                              f"(forget ids older than the window), not by count: a burst can "
                              f"bring more ids in one window than any number you pick.")
    if answer is None:
        return Verdict(False, "After a burst of messages, you accepted a copy of the first one, "
                              "sent 3 s before, although its id is in seen. Refuse an id you "
                              "have seen.")
    *most, last_w = [f"{w:g}" for w in sorted(EDGE_WINDOWS)]
    return Verdict(True, f"Copies refused by id, old messages by age, right at the edge of "
                         f"windows of {', '.join(most)} and {last_w} s. seen held {len(fresh)} "
                         f"ids after 2000 messages, one every 0.5 s, and a burst of {BURST} in "
                         f"{0.002 * BURST:g} s pushed out no id still inside the window: memory "
                         f"bounded by time, by the window.")


# -- exercise 5: which defence stops which attack -------------------------------------------------

DEFENCES = ["login", "permissions", "hmac", "encryption", "replay guard", "rate limit"]
"""The defences of exercise 5."""

ATTACKS = {
    "a": "a tap on the link writes down the card numbers of every payment",
    "b": "someone with no account publishes fake payments to the exchange payments",
    "c": "the shop's app, logged in as shop, is hijacked and reads the queue charges",
    "d": "mallory publishes a fake payment, logged in with the shop's stolen password",
    "e": "a tap sends again, an hour later, a genuine payment it copied",
    "f": "a kiosk's buggy app, logged in as kiosk, publishes 100 payments a second",
}
"""Exercise 5's attacks."""

_RIGHT = {"a": {"encryption"}, "b": {"login"}, "c": {"permissions"},
          "d": {"hmac", "encryption"}, "e": {"replay guard"}, "f": {"rate limit"}}

_ALSO_RIGHT = {
    ("d", "encryption"): ("For d, encryption is right too: AES-GCM is authenticated, so a "
                          "payment mallory made without the key would not open at the bank. "
                          "The HMAC is the defence made for it when the payload need not be "
                          "secret."),
}
"""Notes for an answer that is right although it is not the defence the lesson built for
that attack."""

_WHY_NOT = {
    ("a", "hmac"): "an HMAC proves the payload is unchanged, but it still travels readable",
    ("a", "permissions"): "the tap never talks to the broker: it reads the link",
    ("a", "login"): "the tap never logs in: it reads the link",
    ("b", "hmac"): ("the bank's HMAC check would catch it too, but the broker should not even "
                    "take it: what stops a client with no account at the door?"),
    ("b", "permissions"): "permissions are checked for a user, after a login",
    ("b", "encryption"): ("the bank could not open a payment made without the key, but the "
                          "broker should not even take it: what stops a client with no "
                          "account at the door?"),
    ("c", "login"): "the app logged in with its own, right password",
    ("c", "encryption"): ("encryption hides the content, but the hijacked app still empties "
                          "the bank's queue: what stops the reading itself?"),
    ("d", "login"): "the password was stolen: the broker sees a valid login",
    ("d", "permissions"): "as shop, mallory may publish to payments",
    ("e", "hmac"): "the copy is the genuine message, unchanged: its HMAC is right",
    ("e", "encryption"): "the copy is a genuine sealed message: it decrypts fine",
    ("e", "login"): "the copy is sent as if by the shop, who logged in",
    ("f", "permissions"): "the kiosk may publish to payments: it is how often, not where",
    ("f", "login"): "the kiosk logged in correctly",
}


def ex5(defences: Any) -> Verdict:
    """Check ``defences``: ``{attack letter: defence}``, a defence of :data:`DEFENCES` that
    stops each attack of :data:`ATTACKS` (for d, the HMAC or, since AES-GCM is authenticated,
    encryption)."""
    if not_attempted(defences):
        return Verdict(None, "Fill in my_defences, then run this cell again.")
    if not isinstance(defences, dict):
        return Verdict(False, f"Give a dict {{attack letter: defence}}, not {short(defences)}.")
    if all(not_attempted(v) for v in defences.values()):
        return Verdict(None, "Replace each ... with a defence, then run this cell again.")
    for letter in ATTACKS:
        if letter not in defences:
            return Verdict(False, f"Attack {letter!r} has no answer: give one for each of "
                                  f"{', '.join(ATTACKS)}.")
    wrong = []
    for letter, answer in defences.items():
        if letter not in ATTACKS:
            return Verdict(False, f"There is no attack {letter!r}: the letters are "
                                  f"{', '.join(ATTACKS)}.")
        if not isinstance(answer, str) or answer.strip().lower() not in DEFENCES:
            return Verdict(False, f"Attack {letter}: {short(answer)} is not one of the "
                                  f"defences: {', '.join(map(repr, DEFENCES))}.")
        if answer.strip().lower() not in _RIGHT[letter]:
            wrong.append((letter, answer.strip().lower()))
    if wrong:
        letter, answer = wrong[0]
        why = _WHY_NOT.get((letter, answer), "think about what that defence checks, and when")
        more = f" ({len(wrong)} answers to look at again.)" if len(wrong) > 1 else ""
        stop = "" if why.endswith("?") else "."
        return Verdict(False, f"Attack {letter} ({ATTACKS[letter]}): not {answer!r}: {why}"
                              f"{stop}{more}")
    notes = [_ALSO_RIGHT[(letter, answer.strip().lower())] for letter, answer in
             defences.items() if (letter, answer.strip().lower()) in _ALSO_RIGHT]
    return Verdict(True, " ".join(["Each attack and a defence that stops it. No single defence "
                                   "stops them all: a channel needs every layer.", *notes]))
