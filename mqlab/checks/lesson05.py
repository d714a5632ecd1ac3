"""Checks for lesson 05, "Publish–subscribe and partitioned logs".

    from mqlab.checks import lesson05 as check
    check.ex1(matches)         # topic matching: * one word, # zero or more
    check.ex2(my_prediction)   # predict which subscriber queues get each routing key
    check.ex3(order_key)       # choose the record key so each customer's orders stay in order
    check.ex4(group_lag)       # a consumer group's lag, read from the trace

Each check returns a :class:`~mqlab.checks.Verdict`: truthy when right, and a hint when not.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from functools import cache
from typing import Any

from mqlab.checks import (
    Verdict,
    call_student,
    code_objects,
    not_a_function,
    not_attempted,
    short,
)
from mqlab.dist import exponential
from mqlab.network import Network
from mqlab.routing import partition_for, topic_matches
from mqlab.trace import Trace

__all__ = ["BINDINGS", "PREDICT_KEYS", "ex1", "ex2", "ex3", "ex4"]


# -- topic matching, right and wrong ---------------------------------------------------------------


def _model(star: tuple[int, float] = (1, 1), hash_: tuple[int, float] = (0, float("inf")),
           empty_key_is_a_word: bool = False) -> Callable[[str, str], bool]:
    """A topic matcher whose ``*`` and ``#`` take between min and max words each: the right
    rules are ``*`` (1, 1) and ``#`` (0, inf); the typical mistakes change one of them."""

    def words(key: str) -> tuple[str, ...]:
        return tuple(key.split(".")) if key or empty_key_is_a_word else ()

    def match(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
        if not pattern:
            return not key
        head, rest = pattern[0], pattern[1:]
        if head in ("*", "#"):
            low, high = star if head == "*" else hash_
            n = low
            while n <= min(high, len(key)):
                if match(rest, key[n:]):
                    return True
                n += 1
            return False
        return bool(key) and head == key[0] and match(rest, key[1:])

    return lambda pattern, key: match(words(pattern), words(key))


_RIGHT = _model()
_STAR_ZERO = _model(star=(0, 1))  # '*' may also match no word
_STAR_MANY = _model(star=(1, float("inf")))  # '*' crosses dots (fnmatch, regex '.*')
_HASH_ONE = _model(hash_=(1, 1))  # '#' treated like '*'
_HASH_SOME = _model(hash_=(1, float("inf")))  # '#' needs at least one word
_NAIVE_SPLIT = _model(empty_key_is_a_word=True)  # "".split(".") == [""]: one empty word

_STAR_ZERO_HINT = ("`*` matches exactly one word, never zero: 'order.*' does not match "
                   "'order', and 'order.paid.*' does not match 'order.paid'.")
_STAR_MANY_HINT = ("`*` matched more than one word, as if it could cross a dot: 'order.*' must "
                   "not match 'order.new.eu'. fnmatch's `*` and a regex's `.*` both cross "
                   "dots; a topic `*` is exactly one word (in a regex: `[^.]*`).")
_HASH_ONE_HINT = ("`#` matched only one word, like `*`. `#` matches any number of words: "
                  "'order.#' matches 'order.new.eu' too.")
_HASH_ZERO_HINT = ("`#` can match zero words: 'order.#' matches 'order' (the dot before the "
                   "`#` goes with it), and '#' alone matches the empty key ''.")
_HASH_ZERO_EDGES_HINT = ("`#` can match zero words wherever it stands, first or last: "
                         "'#.cancelled.#' matches 'cancelled' (each `#` takes no word, and the "
                         "dot beside it, after a leading `#` and before a trailing one, goes "
                         "with it).")


# -- exercise 1: implement topic matching --------------------------------------------------------

# (pattern, key, hint when the answer differs from the package's): the classic mistakes first,
# so that the hint names the first one the function makes
_PROBES: list[tuple[str, str, str]] = [
    ("order.*.eu", "order.new.eu", "Words must match one by one, `*` standing for any one "
                                   "word: 'order.*.eu' matches 'order.new.eu'."),
    ("order.new.eu", "order.new.eu", "A pattern without wildcards matches exactly the same "
                                     "key: 'order.new.eu' matches 'order.new.eu'."),
    ("order.new", "order.news", "Words are compared whole, not as prefixes: 'order.new' does "
                                "not match 'order.news'."),
    ("order.new", "order.new.eu", "Without a wildcard, the key must have exactly the "
                                  "pattern's words: 'order.new' does not match "
                                  "'order.new.eu'."),
    ("order.*", "order.new.eu", _STAR_MANY_HINT),
    ("*.eu", "order.new.eu", _STAR_MANY_HINT),
    ("order.*", "order", _STAR_ZERO_HINT),
    ("order.paid.*", "order.paid", _STAR_ZERO_HINT),
    ("order.#", "order.new", "`#` stands for any number of words: 'order.#' matches "
                             "'order.new'. (fnmatch treats `#` as a plain character; in a "
                             "regex it needs a rule of its own.)"),
    ("order.#", "order.new.eu", _HASH_ONE_HINT),
    ("#", "order.new.eu", _HASH_ONE_HINT),
    ("order.#", "order", _HASH_ZERO_HINT),
    ("#.cancelled.#", "cancelled", _HASH_ZERO_EDGES_HINT),
    ("#", "", _HASH_ZERO_HINT),
    ("*", "", "The empty key '' has no words at all (as in RabbitMQ), so `*`, which needs "
              "exactly one, does not match it. Careful: ''.split('.') gives [''], one empty "
              "word."),
    ("*.#", "", "The empty key '' has no words at all, so '*.#' (at least one word) does not "
                "match it. Careful: ''.split('.') gives [''], one empty word."),
    ("", "", "The empty pattern '' also has no words, so it matches only the empty key '' "
             "(as in RabbitMQ). Careful: ''.split('.') gives [''], one empty word: split the "
             "pattern the same way as the key."),
    ("order.*.eu", "order..eu", "An empty word is still a word: 'order..eu' has three words, "
                                "the middle one empty, so 'order.*.eu' matches it (in a regex, "
                                "`[^.]*`, not `[^.]+`)."),
    ("*.*", ".", "An empty word is still a word: '.' is two empty words, so '*.*' matches it "
                 "and '*' does not."),
    ("*", ".", "An empty word is still a word: '.' is two empty words, so '*' does not match "
               "it."),
    ("#.b.c", "b.b.c", "`#` must try every number of words, not just as many as it can: "
                       "'#.b.c' matches 'b.b.c' (`#` takes the first 'b')."),
    ("a.#.b.#", "a.b.x.b", "With two `#`, each must try every number of words: 'a.#.b.#' "
                           "matches 'a.b.x.b'."),
    ("#.a.#", "a.b", "With two `#`, each must try every number of words, zero too: '#.a.#' "
                     "matches 'a.b' (the first `#` takes no word, the second takes 'b')."),
    ("Order.new", "order.new", "Words are compared exactly, capitals too: 'Order.new' does "
                               "not match 'order.new'."),
]


def _all_cases() -> list[tuple[str, str]]:
    """Every pattern of up to 3 tokens against every key of up to 4 words, empty words too."""
    keys = [".".join(w) for n in range(5) for w in itertools.product(("a", "b", ""), repeat=n)]
    keys = list(dict.fromkeys(keys))  # ("",) and () both give ""
    patterns = [".".join(w) for n in range(1, 4)
                for w in itertools.product(("a", "*", "#", ""), repeat=n)]
    return [(p, k) for p in dict.fromkeys(patterns) for k in keys]


def _uses_package_matcher(fn: Callable) -> bool:
    """Whether ``fn`` is the package's matcher (or any function of the package, or one
    wrapped around it) or calls it by name."""
    inner = fn
    for _ in range(10):  # through functools.partial and functools.wraps
        wrapped = getattr(inner, "func", None) or getattr(inner, "__wrapped__", None)
        if wrapped is None:
            break
        inner = wrapped
    if (getattr(inner, "__module__", None) or "").split(".")[0] == "mqlab":
        return True
    return any("topic_matches" in code.co_names for code in code_objects(inner))


def _ask(fn: Callable, pattern: str, key: str) -> tuple[bool | None, Verdict | None]:
    """The student's answer as a bool, or a Verdict that says why it cannot be one."""
    got, problem = call_student(fn, pattern, key)
    if problem is not None:
        return None, Verdict(False, f"{problem.message} (on matches({pattern!r}, {key!r})).")
    if isinstance(got, bool):
        return got, None
    if got is None:
        return None, None
    return None, Verdict(False, f"matches({pattern!r}, {key!r}) returned {short(got)}. Return "
                                "True or False (a regex match object is not a bool: "
                                "bool(re.fullmatch(...)) is).")


def ex1(matches: Any) -> Verdict:
    """Check ``matches(pattern, key) -> bool`` against the package's topic matcher."""
    if not_attempted(matches):
        return Verdict(None, "Write matches, then run this cell again.")
    if not callable(matches):
        return not_a_function(matches, "matches", "ex1")
    if _uses_package_matcher(matches):
        return Verdict(False, "Your function is, or calls, the package's topic_matches. "
                              "Write the rules yourself: that is the exercise.")
    for i, (pattern, key, hint) in enumerate(_PROBES):
        got, problem = _ask(matches, pattern, key)
        if problem is not None:
            return problem
        if got is None:
            if i == 0:
                return Verdict(None, "matches returned None: write its body, and don't "
                                     "forget `return`.")
            return Verdict(False, f"matches({pattern!r}, {key!r}) returned None. Return "
                                  "True or False on every path (don't forget `return`).")
        want = topic_matches(pattern, key)
        if got != want:
            return Verdict(False, f"matches({pattern!r}, {key!r}) returned {got}, but the "
                                  f"answer is {want}. {hint}")
    cases = _all_cases()
    for pattern, key in cases:
        got, problem = _ask(matches, pattern, key)
        if problem is not None:
            return problem
        want = topic_matches(pattern, key)
        if got != want:
            return Verdict(False, f"matches({pattern!r}, {key!r}) returned {got}, but the "
                                  f"answer is {want}. Split both into words at the dots and "
                                  "go word by word: `*` is exactly one word, `#` zero or "
                                  "more.")
    return Verdict(True, f"Your matcher agrees with the package's on {len(_PROBES) + len(cases)} "
                         "patterns and keys, empty words and the empty key included.")


# -- exercise 2: predict which queues get each key -----------------------------------------------

#: the subscriber queues of section 2 and their binding patterns on the topic exchange
BINDINGS = {
    "billing": "order.paid.*",
    "eu-warehouse": "order.*.eu",
    "audit": "order.#",
    "alerts": "#.cancelled.#",
}

#: the routing keys the prediction asks about, in the order they are published
PREDICT_KEYS = ["order.paid.eu", "order.cancelled.eu", "order.paid", "order",
                "order.paid.eu.express", "payment.cancelled", "refund.new"]


def _routes(key: str) -> set[str]:
    return {q for q, pattern in BINDINGS.items() if topic_matches(pattern, key)}


def _why(queue: str, key: str, included: bool) -> str:
    """Why ``queue`` does (``included`` wrongly: does not) get ``key``."""
    pattern = BINDINGS[queue]
    if included:  # the student sent it there; it does not go there
        for model, hint in ((_STAR_ZERO, _STAR_ZERO_HINT), (_STAR_MANY, _STAR_MANY_HINT)):
            if model(pattern, key):
                return f"{key!r} does not go to {queue} (pattern {pattern!r}): {hint}"
        return (f"{key!r} does not go to {queue}: its pattern {pattern!r} does not match it "
                "(compare word by word).")
    zero = _HASH_ZERO_EDGES_HINT if pattern.startswith("#.") else _HASH_ZERO_HINT
    for model, hint in ((_HASH_SOME, zero), (_HASH_ONE, _HASH_ONE_HINT)):
        if not model(pattern, key):
            return f"{key!r} goes to {queue} too (pattern {pattern!r}): {hint}"
    return (f"{key!r} goes to {queue} too: its pattern {pattern!r} matches it (compare word "
            "by word).")


def ex2(prediction: Any) -> Verdict:
    """Check a dict ``{routing key: set of queue names}`` for every key of PREDICT_KEYS."""
    if not_attempted(prediction):
        return Verdict(None, "Write your prediction, then run this cell again.")
    if not isinstance(prediction, dict):
        return Verdict(False, f"Give a dict {{routing key: set of queue names}}, not "
                              f"{short(prediction)}.")
    if all(v is ... for v in prediction.values()):
        return Verdict(None, "Replace each ... with a set of queue names, then run this cell "
                             "again.")
    missing = [k for k in PREDICT_KEYS if k not in prediction]
    if missing:
        return Verdict(False, f"The dict lacks the key(s) {', '.join(map(repr, missing))}. Keep "
                              "every key of the starter dict.")
    for key in PREDICT_KEYS:
        value = prediction[key]
        if value is None:
            return Verdict(False, f"For {key!r} you gave None. For no queue at all, give the "
                                  "empty set: set().")
        if value is ...:
            return Verdict(False, f"Still to answer: {key!r} (a set of queue names, or set() "
                                  "for none).")
        if isinstance(value, str):
            return Verdict(False, f"For {key!r} you gave the string {value!r}. Give a set of "
                                  f"queue names, even for one queue: {{{value!r}}}.")
        if isinstance(value, dict) and not value:
            value = set()
        try:
            names = set(value)
        except TypeError:
            return Verdict(False, f"For {key!r} give a set of queue names, such as "
                                  f"{{'audit'}}, not {short(value)}.")
        unknown = sorted(str(n) for n in names if n not in BINDINGS)
        if unknown:
            return Verdict(False, f"{', '.join(map(repr, unknown))} is not one of the queues "
                                  f"({', '.join(BINDINGS)}).")
        want = _routes(key)
        for queue in BINDINGS:  # in the table's order, so the first mistake is named
            if (queue in names) != (queue in want):
                extra = "" if want else (" A key that matches no binding goes to no queue: "
                                         "give it set().")
                return Verdict(False, _why(queue, key, queue in names) + extra)
    copies = sum(len(_routes(k)) for k in PREDICT_KEYS)
    return Verdict(True, f"Every key goes where you said: {len(PREDICT_KEYS)} messages make "
                         f"{copies} deliveries, one per matching queue, and 'refund.new' goes "
                         "nowhere. Run the next cell to see the run agree.")


# -- the partitioned-log runs of exercises 3 and 4 -----------------------------------------------

_CUSTOMERS = ("olga", "piet", "quinn", "rosa", "sami", "tomas")
_LOG_ORDERS = 40
_SEEDS = (1, 2, 3)


def _payloads(seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"customer": rng.choice(_CUSTOMERS), "order": i + 1,
             "amount": round(rng.uniform(5, 200), 2)} for i in range(_LOG_ORDERS)]


def _log_run(seed: int, keys: tuple | None, crash: tuple = (), commit: Any = "after",
             seek: float | None = None) -> Trace:
    """Orders on a topic of 3 partitions, read by group "billing" (3 members, random service
    times) and group "audit" (1 member). ``keys[i]``: the key of order i + 1 (None: none).
    ``commit``: billing's commit policy; ``seek``: when audit rewinds to offset 0."""
    payloads = _payloads(seed)
    net = Network(seed=seed)
    net.broker("kafka")
    net.topic("kafka", "orders", partitions=3)
    net.producer("shop", interval=0.2, count=_LOG_ORDERS, topic="orders",
                 payload=lambda i: payloads[i],
                 key=None if keys is None else (lambda p: keys[p["order"] - 1]))
    for member in ("bill-1", "bill-2", "bill-3"):
        net.consumer(member, topic="orders", group="billing", service=exponential(0.5),
                     crash=list(crash) if member == "bill-2" else None, commit=commit)
    net.consumer("audit", topic="orders", group="audit", service=0.1)
    if seek is not None:
        net.seek("audit", at=seek, offset=0)
    return net.run(until=30, progress=False).trace


def _overtaken(trace: Trace, group: str = "billing") -> list[tuple[str, int, int]]:
    """(customer, order, earlier order) for each order of the group started before an
    earlier order of the same customer was processed."""
    members = {n for n, g in trace.graph.nodes(data="group") if g == group}
    done: dict[int, float] = {}
    for e in trace.filter(kind="ack"):
        if e.node in members:
            done.setdefault(e.msg, e.time)
    found = []
    for e in trace.filter(kind="start"):
        if e.node not in members:
            continue
        now = trace.messages[e.msg].payload
        for m, finished in done.items():
            then = trace.messages[m].payload
            if (then["customer"] == now["customer"] and then["order"] < now["order"]
                    and finished > e.time):
                found.append((now["customer"], now["order"], then["order"]))
    return sorted(found, key=lambda f: (f[1], f[2]))


# -- exercise 3: choose the key -------------------------------------------------------------------


def _starter(*args: Any) -> None:
    ...


def _is_starter(fn: Callable) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _starter.__code__.co_code


def ex3(order_key: Any) -> Verdict:
    """Check ``order_key(payload) -> str``: each customer's orders in order, work spread."""
    if not_attempted(order_key):
        return Verdict(None, "Write order_key, then run this cell again.")
    if not callable(order_key):
        return not_a_function(order_key, "order_key", "ex3")
    if _is_starter(order_key):
        return Verdict(None, "Write order_key, then run this cell again. (A function that "
                             "returns None gives no key at all: the producer then takes the "
                             "partitions in turn.)")
    for seed in _SEEDS:
        payloads = _payloads(seed)
        keys = []
        for p in payloads:
            got, problem = call_student(order_key, dict(p))
            if problem is not None:
                return Verdict(False, f"{problem.message} (on the payload {p}).")
            if got is not None and not isinstance(got, str):
                return Verdict(False, f"order_key({p}) returned {short(got)}. A record key is "
                                      "a str: wrap it in str(...) if you need to.")
            keys.append(got)
        if all(k is None for k in keys):
            trace = _log_run(seed, None)
            example = _overtaken(trace)
            seen = (f" In our run, {example[0][0]}'s order {example[0][1]} started before "
                    f"order {example[0][2]} was done." if example else "")
            return Verdict(False, "Your function returned None: no key. The producer then "
                                  "takes the partitions in turn, and one customer's orders are "
                                  "spread over all three, read by different members at their "
                                  f"own pace.{seen} Return a key (a str).")
        if any(k is None for k in keys):
            return Verdict(False, "Your function returned None for some orders: give every "
                                  "order a key (a str).")
        spread = {}
        for p, k in zip(payloads, keys, strict=True):
            spread.setdefault(p["customer"], {}).setdefault(partition_for(k, 3), k)
        split = {c: ks for c, ks in spread.items() if len(ks) > 1}
        trace = _log_run(seed, tuple(keys))
        example = _overtaken(trace)
        seen = (f" In our run, {example[0][0]}'s order {example[0][1]} started before order "
                f"{example[0][2]} was done." if example else "")
        if split:
            customer, ks = next(iter(split.items()))
            if len(set(keys)) == len(keys):
                return Verdict(False, "Every order got a key of its own, so one customer's "
                                      "orders are spread over the partitions as if there were "
                                      f"no key.{seen} The key must be the same for all the "
                                      "orders whose order matters: one customer's.")
            return Verdict(False, f"{customer}'s orders got different keys "
                                  f"({', '.join(map(repr, list(ks.values())[:3]))}) that land "
                                  f"in different partitions.{seen} The key must be the same "
                                  "for all of a customer's orders, whatever else they hold.")
        if len({partition_for(k, 3) for k in keys}) == 1:
            return Verdict(False, "Each customer's orders stay in order, but every order goes "
                                  "to the same partition: one member of the group does all "
                                  "the work while the other two stand idle (no key differs "
                                  "between customers). Choose a key that is the same for "
                                  "each customer's orders and differs between customers.")
        if example:  # cannot happen when every customer keeps to one partition
            return Verdict(False, f"Orders overtook each other.{seen}")
    return Verdict(True, "Each customer's orders stay in one partition and are processed in "
                         f"order, on {len(_SEEDS)} runs, and the customers are spread over "
                         "the partitions, so the three members share the work.")


# -- exercise 4: a group's lag --------------------------------------------------------------------


def _lag(trace: Trace, group: str, at: float, *, commits_of: str | None = "group",
         inclusive: bool = True, end_is_offset: bool = False, read: str = "commit",
         total: Callable = sum, skip_uncommitted: bool = False,
         seek_commits: bool = False) -> int:
    """The lag (and, with other options, the typical mistakes' answers). ``read``: what
    counts as done in a partition: "commit" (the last committed offset: right),
    "commit_max" (the highest ever committed), "commit_rows" (the number of commit rows),
    "deliver" (the records delivered), "ack" (the records processed, counted) or
    "ack_offset" (one past the highest offset processed). ``seek_commits``: a seek row read
    as if it were a commit (wrong: a seek moves where the group reads, it commits nothing)."""
    members = _members(trace, group)
    offset_of: dict[int, int] = {}
    end: dict[str, int] = {}
    done: dict[str, int] = {}
    for e in trace:
        if e.time > at or (not inclusive and e.time >= at):
            break
        if e.kind == "append":
            end[e.node] = int(e.info) + (0 if end_is_offset else 1)
            offset_of[e.msg] = int(e.info)
        elif e.kind == "commit" and read.startswith("commit") and (commits_of is None
                                                                    or e.peer == group):
            if read == "commit":
                done[e.node] = int(e.info)
            elif read == "commit_max":
                done[e.node] = max(done.get(e.node, 0), int(e.info))
            else:  # "commit_rows"
                done[e.node] = done.get(e.node, 0) + 1
        elif e.kind == "seek" and seek_commits and e.peer == group and read == "commit":
            done[e.node] = int(e.info)
        elif e.kind == "deliver" and read == "deliver" and e.peer in members:
            done[e.node] = max(done.get(e.node, 0), int(e.info) + 1)
        elif e.kind == "ack" and read.startswith("ack") and e.node in members:
            if read == "ack":
                done[e.peer] = done.get(e.peer, 0) + 1
            else:  # "ack_offset"
                done[e.peer] = max(done.get(e.peer, 0), offset_of.get(e.msg, -1) + 1)
    parts = [p for p in end if p in done or not skip_uncommitted]
    return total([end[p] - done.get(p, 0) for p in parts] or [0])


def _members(trace: Trace, group: str) -> set[str]:
    return {n for n, g in trace.graph.nodes(data="group") if g == group}


@cache
def _lag_cases() -> list[tuple[Trace, str, float, str]]:
    """(trace, group, at, where) for the check."""
    cases = []
    for seed, crash in ((1, (4, 8)), (2, (3, 9)), (3, ())):
        trace = _log_run(seed, None, (crash,) if crash else ())
        # times that are no event's time, so that < and <= give the same answer
        for group, at in (("billing", 6.01), ("billing", 8.13), ("audit", 5.07),
                          ("billing", 30.0)):
            cases.append((trace, group, at, f"run {seed}, group {group!r}, at = {at:g} s"))
    # billing commits every 2 s (so processed is not committed), bill-2 crashes, audit
    # rewinds to offset 0 at t = 5 s (so its committed offsets go back)
    trace = _log_run(4, None, ((3, 9),), commit=2.0, seek=5.0)
    where = "run 4 (billing commits every 2 s; audit rewinds to offset 0 at t = 5 s)"
    for group, at in (("billing", 1.5),   # before billing's first commit
                      ("billing", 4.0),   # the instant of a commit
                      ("audit", 5.05),    # just after the seek, before audit commits again
                      ("billing", 7.3), ("audit", 6.55), ("billing", 30.0)):
        cases.append((trace, group, at, f"{where}, group {group!r}, at = {at:g} s"))
    return cases


def ex4(group_lag: Any) -> Verdict:
    """Check ``group_lag(trace, group, at)``: end offsets minus committed, summed."""
    if not_attempted(group_lag):
        return Verdict(None, "Write group_lag, then run this cell again.")
    if not callable(group_lag):
        return not_a_function(group_lag, "group_lag", "ex4")
    cases = _lag_cases()
    answers = []
    for i, (trace, group, at, where) in enumerate(cases):
        got, problem = call_student(group_lag, _copy(trace), group, at)
        if problem is not None:
            return Verdict(False, f"{problem.message} (on {where}).")
        if got is None:
            if i == 0:
                return Verdict(None, "group_lag returned None: write its body, and don't "
                                     "forget `return`.")
            return Verdict(False, f"group_lag returned None on {where}. Don't forget `return`.")
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return Verdict(False, f"Return a number of records, not {short(got)}.")
        answers.append(got)
    truths = [_lag(t, g, at) for t, g, at, _ in cases]
    bad = next((i for i, (a, t) in enumerate(zip(answers, truths, strict=True)) if a != t), None)
    if bad is None:
        return Verdict(True, f"group_lag is right on {len(cases)} runs, groups and times, "
                             "crashes and rebalances included.")
    where = cases[bad][3]
    processed = ("You counted the records the group has processed (acked) as done. Lag "
                 "counts *committed* offsets: a record processed but not yet committed is "
                 "still lag (its member may crash before the commit, and then it is "
                 "processed again). Read the `info` of the group's last commit row in each "
                 "partition.")
    mistakes = [
        (dict(commits_of=None), "You used the commits of every group. Each group has its own "
                                "offsets: keep the commit rows whose peer is the group."),
        (dict(end_is_offset=True), "Off by one per partition: the append row's info is the "
                                   "record's offset, and offsets start at 0, so a partition "
                                   "whose last record has offset k holds k + 1 records."),
        (dict(read="ack"), processed),
        (dict(read="ack_offset"), processed),
        (dict(read="deliver"), "You counted the records delivered to the group as done. A "
                               "record delivered but not yet committed is still lag (its "
                               "member may crash before it commits): use the commit rows."),
        (dict(read="commit_rows"), "You counted the group's commit rows. A commit row's "
                                   "`info` is the committed offset itself (the next record "
                                   "to read), and one commit may cover several records (a "
                                   "group that commits every 2 s): take the `info` of the "
                                   "last commit row in each partition."),
        (dict(read="commit_max"), "You took the highest offset the group ever committed. "
                                  "After a seek (a replay) the group commits lower offsets "
                                  "again: take the *last* commit row up to `at` in each "
                                  "partition, not the largest."),
        (dict(seek_commits=True), "You read the `seek` rows as commits. A seek moves where "
                                  "the group reads next; it commits nothing. Until the group "
                                  "commits again, its lag is measured from its last commit "
                                  "row in each partition."),
        (dict(skip_uncommitted=True), "You left out the partitions where the group has not "
                                      "committed yet. There its committed offset is 0, so "
                                      "every record appended there is lag."),
        (dict(inclusive=False), "You left out the rows at exactly `at`: count the rows up to "
                                "and including `at` (time <= at). Careful: "
                                "trace.filter(stop=at) keeps only the rows before `at`."),
        (dict(total=max), "You took the largest partition's lag. The group's lag is the sum "
                          "over its partitions."),
    ]

    def fits(options: dict) -> list[bool]:
        return [a == _lag(t, g, x, **options)
                for a, (t, g, x, _) in zip(answers, cases, strict=True)]

    fit = [fits(options) for options, _ in mistakes]
    for f, (_, hint) in zip(fit, mistakes, strict=True):
        if all(f):
            return Verdict(False, hint)
    if all(answers[j] == _lag(cases[j][0], cases[j][1], math.inf) for j in range(len(cases))):
        return Verdict(False, "You gave the lag at the end of the run every time. Count only the "
                              "rows up to `at`.")
    if len(set(answers)) == 1:
        return Verdict(False, f"You returned {answers[0]} every time, though the lags differ: "
                              "does your function read `trace`, `group` and `at`, its "
                              "arguments, or a trace from another cell?")
    # no single mistake explains every answer: name the one that explains most of them,
    # if it explains the first wrong one
    best = max(range(len(mistakes)), key=lambda m: (fit[m][bad], sum(fit[m]), -m))
    if fit[best][bad]:
        return Verdict(False, f"On {where} you returned {answers[bad]}, but the lag is "
                              f"{truths[bad]} records. {mistakes[best][1]}")
    return Verdict(False, f"On {where} you returned {answers[bad]}, but the lag is "
                          f"{truths[bad]} records.")


def _copy(trace: Trace) -> Trace:
    out = Trace(list(trace.rows), graph=trace.graph, messages=trace.messages)
    out.end_time = trace.end_time
    return out
