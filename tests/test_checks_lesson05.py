"""The checks of lesson 05 accept the reference solutions and reject typical mistakes kindly."""

import fnmatch
import re

import pytest
from solutions import lesson05 as solution
from verdicts import right, unattempted, wrong

from mqlab.checks import lesson05 as check
from mqlab.routing import topic_matches

EXERCISES = [check.ex1, check.ex2, check.ex3, check.ex4]


@pytest.mark.parametrize("ex", EXERCISES)
@pytest.mark.parametrize("starter", [None, ...])
def test_a_starter_answer_is_not_attempted(ex, starter):
    assert unattempted(ex(starter))


# -- exercise 1: topic matching ----------------------------------------------------------------


def test_ex1_accepts_the_reference():
    assert right(check.ex1(solution.matches))


def test_ex1_starter_function_is_not_attempted():
    def matches(pattern, key):
        ...

    assert unattempted(check.ex1(matches))


def with_fnmatch(pattern, key):  # fnmatch's * crosses dots and # is a plain character
    return fnmatch.fnmatchcase(key, pattern)


def regex_dot_star(pattern, key):  # both wildcards become .*
    rx = re.escape(pattern).replace(r"\*", ".*").replace(r"\#", ".*")
    return re.fullmatch(rx, key) is not None


def regex_without_zero_hash(pattern, key):  # * is one word, but '.#' keeps its dot
    rx = re.escape(pattern).replace(r"\*", "[^.]*").replace(r"\#", ".*")
    return re.fullmatch(rx, key) is not None


def regex_non_empty_words(pattern, key):  # right about #, but [^.]+ refuses empty words
    parts = []
    for w in pattern.split(".") if pattern else []:
        parts.append({"*": r"\.[^.]+", "#": r"(?:\.[^.]*)*"}.get(w, r"\." + re.escape(w)))
    return re.fullmatch("".join(parts), "." + key if key else "") is not None


def regex_returning_the_match(pattern, key):
    rx = re.escape(pattern).replace(r"\*", "[^.]*").replace(r"\#", ".*")
    return re.fullmatch(rx, key)


def hash_like_star(pattern, key):  # '#' matches exactly one word
    return solution.matches(pattern.replace("#", "*"), key)


def star_may_be_empty(pattern, key):  # '*' matches zero or one word
    p, k = pattern.split(".") if pattern else [], key.split(".") if key else []

    def m(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return m(p[1:], k) or (bool(k) and m(p, k[1:]))
        if p[0] == "*":
            return m(p[1:], k) or (bool(k) and m(p[1:], k[1:]))
        return bool(k) and p[0] == k[0] and m(p[1:], k[1:])

    return m(p, k)


def hash_at_least_one(pattern, key):
    p, k = pattern.split(".") if pattern else [], key.split(".") if key else []

    def m(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return bool(k) and (m(p[1:], k[1:]) or m(p, k[1:]))
        return bool(k) and p[0] in ("*", k[0]) and m(p[1:], k[1:])

    return m(p, k)


def naive_split(pattern, key):  # ''.split('.') == [''], one empty word
    p, k = pattern.split("."), key.split(".")

    def m(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return m(p[1:], k) or (bool(k) and m(p, k[1:]))
        return bool(k) and p[0] in ("*", k[0]) and m(p[1:], k[1:])

    return m(p, k)


def naive_pattern_split(pattern, key):  # the empty key has no words; the empty pattern one
    p, k = pattern.split("."), key.split(".") if key else []

    def m(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return m(p[1:], k) or (bool(k) and m(p, k[1:]))
        return bool(k) and p[0] in ("*", k[0]) and m(p[1:], k[1:])

    return m(p, k)


def greedy_hash(pattern, key):  # '#' takes every word it can up to what the rest needs
    p, k = pattern.split(".") if pattern else [], key.split(".") if key else []
    out = []
    for i, w in enumerate(p):
        if w == "#":
            rest = len([x for x in p[i + 1:] if x != "#"])
            take = max(len(k) - rest, 0)
            k = k[take:]
        elif not k or w not in ("*", k[0]):
            return False
        else:
            k = k[1:]
        out.append(w)
    return not k


def calls_the_package(pattern, key):
    return topic_matches(pattern, key)


def raises(pattern, key):
    return pattern.split(".")[5] == key


@pytest.mark.parametrize("fn, words", [
    (with_fnmatch, ["cross", "fnmatch"]),
    (regex_dot_star, ["cross", "[^.]*"]),
    (regex_without_zero_hash, ["zero words", "'order.#' matches 'order'"]),
    (regex_non_empty_words, ["empty word is still a word"]),
    (regex_returning_the_match, ["True or False", "bool(re.fullmatch"]),
    (hash_like_star, ["only one word", "'order.#' matches 'order.new.eu'"]),
    (star_may_be_empty, ["never zero", "'order.*' does not match 'order'"]),
    (hash_at_least_one, ["zero words"]),
    (naive_split, ["no words", "''.split('.')"]),
    (naive_pattern_split, ["empty pattern '' also has no words", "matches only the empty key"]),
    (greedy_hash, ["every number of words"]),
    (calls_the_package, ["yourself"]),
    (raises, ["raised IndexError"]),
])
def test_ex1_names_the_mistake(fn, words):
    assert wrong(check.ex1(fn), *words)


def test_ex1_the_packages_own_matcher_passed_as_is_is_not_an_answer():
    import functools

    import mqlab as mq
    from mqlab import routing

    for fn in (mq.topic_matches, routing.topic_matches, functools.partial(topic_matches)):
        assert wrong(check.ex1(fn), "is, or calls, the package's topic_matches", "yourself")


def test_ex1_a_missed_leading_hash_is_explained_by_its_own_place():
    def leading_hash_needs_a_word(pattern, key):  # '#.x' handled as '*.x' when it leads
        if pattern.startswith("#.") and key == pattern[2:].split(".#")[0]:
            return False
        return solution.matches(pattern, key)

    assert wrong(check.ex1(leading_hash_needs_a_word), "'#.cancelled.#' matches 'cancelled'",
                 "after a leading `#`")


def test_ex1_wants_the_function_itself():
    assert wrong(check.ex1(True), "without calling it")


# -- exercise 2: predict where each key goes -----------------------------------------------------


def test_ex2_accepts_the_reference_in_any_collection():
    assert right(check.ex2(solution.PREDICTION))
    as_lists = {k: sorted(v) for k, v in solution.PREDICTION.items()}
    assert right(check.ex2(as_lists))


def test_ex2_starter_dict_is_not_attempted():
    assert unattempted(check.ex2({k: ... for k in check.PREDICT_KEYS}))


def changed(**new):
    out = dict(solution.PREDICTION)
    out.update({k.replace("_", "."): v for k, v in new.items()})
    return out


@pytest.mark.parametrize("answer, words", [
    (changed(order_paid={"audit", "billing"}), ["never zero", "billing"]),
    (changed(order=set()), ["zero words", "'order' goes to audit"]),
    (changed(order_paid_eu_express=set()), ["any number of words"]),
    (changed(order_paid_eu_express={"audit", "billing", "eu-warehouse"}),
     ["more than one word"]),
    (changed(payment_cancelled=set()), ["zero words", "alerts", "after a leading `#`"]),
    (changed(refund_new={"audit"}), ["no queue", "set()"]),
    (changed(refund_new=None), ["you gave None", "set()"]),
    (changed(refund_new=...), ["Still to answer: 'refund.new'", "set() for none"]),
    ({k: None for k in check.PREDICT_KEYS}, ["you gave None", "set()"]),
    (changed(order="audit"), ["a set of queue names", "{'audit'}"]),
    (changed(order={"audits"}), ["'audits' is not one of the queues"]),
    ({"order.paid.eu": {"billing"}}, ["lacks"]),
    ([("order", "audit")], ["a dict"]),
])
def test_ex2_names_the_mistake(answer, words):
    assert wrong(check.ex2(answer), *words)


# -- exercise 3: the record key ------------------------------------------------------------------


def test_ex3_accepts_the_reference():
    assert right(check.ex3(solution.order_key))


def test_ex3_accepts_any_key_that_keeps_customers_together():
    assert right(check.ex3(lambda payload: "customer-" + payload["customer"].upper()))


def test_ex3_starter_function_is_not_attempted():
    def order_key(payload):
        ...

    assert unattempted(check.ex3(order_key))


def no_key(payload):  # no key at all: round robin
    return payload.get("key")


@pytest.mark.parametrize("fn, words", [
    (no_key, ["None: no key", "in turn", "started before order"]),
    (lambda p: str(p["order"]), ["a key of its own", "one customer's"]),
    (lambda p: "orders", ["same partition", "stand idle"]),
    (lambda p: p["customer"] + str(p["amount"] > 100), ["different keys", "whatever else"]),
    (lambda p: p["order"], ["returned 1", "str(...)"]),
    (lambda p: p["name"], ["raised KeyError"]),
    (lambda p: None if p["order"] % 2 else p["customer"], ["None for some orders"]),
])
def test_ex3_names_the_mistake(fn, words):
    assert wrong(check.ex3(fn), *words)


# -- exercise 4: a group's lag -------------------------------------------------------------------


def test_ex4_accepts_the_reference():
    assert right(check.ex4(solution.group_lag))


def test_ex4_starter_function_is_not_attempted():
    def group_lag(trace, group, at):
        ...

    assert unattempted(check.ex4(group_lag))


def upto(trace, at, kind):  # the rows of one kind up to and including `at`
    return [e for e in trace if e.time <= at and e.kind == kind]


def every_groups_commits(trace, group, at):
    end, committed = {}, {}
    for e in upto(trace, at, "append"):
        end[e.node] = int(e.info) + 1
    for e in upto(trace, at, "commit"):
        committed[e.node] = int(e.info)
    return sum(n - committed.get(p, 0) for p, n in end.items())


def offset_as_count(trace, group, at):
    end = {e.node: int(e.info) for e in upto(trace, at, "append")}
    committed = {e.node: int(e.info) for e in upto(trace, at, "commit") if e.peer == group}
    return sum(n - committed.get(p, 0) for p, n in end.items())


def members_of(trace, group):
    return {n for n, g in trace.graph.nodes(data="group") if g == group}


def delivered_as_done(trace, group, at):
    members = members_of(trace, group)
    end, read = {}, {}
    for e in trace:
        if e.time > at:
            break
        if e.kind == "append":
            end[e.node] = int(e.info) + 1
        elif e.kind == "deliver" and e.peer in members:
            read[e.node] = int(e.info) + 1
    return sum(n - read.get(p, 0) for p, n in end.items())


def acked_as_done(trace, group, at):  # processed records counted as done, commits ignored
    members = members_of(trace, group)
    end, acked = {}, {}
    for e in upto(trace, at, "append"):
        end[e.node] = int(e.info) + 1
    for e in upto(trace, at, "ack"):
        if e.node in members:
            acked[e.peer] = acked.get(e.peer, 0) + 1
    return sum(n - acked.get(p, 0) for p, n in end.items())


def processed_up_to(trace, group, at):  # one past the highest offset processed
    members = members_of(trace, group)
    offset = {e.msg: int(e.info) for e in upto(trace, at, "append")}
    end, done = {}, {}
    for e in upto(trace, at, "append"):
        end[e.node] = int(e.info) + 1
    for e in upto(trace, at, "ack"):
        if e.node in members:
            done[e.peer] = max(done.get(e.peer, 0), offset[e.msg] + 1)
    return sum(n - done.get(p, 0) for p, n in end.items())


def counts_commit_rows(trace, group, at):
    end = {e.node: int(e.info) + 1 for e in upto(trace, at, "append")}
    rows = {}
    for e in upto(trace, at, "commit"):
        if e.peer == group:
            rows[e.node] = rows.get(e.node, 0) + 1
    return sum(n - rows.get(p, 0) for p, n in end.items())


def highest_commit(trace, group, at):
    end = {e.node: int(e.info) + 1 for e in upto(trace, at, "append")}
    top = {}
    for e in upto(trace, at, "commit"):
        if e.peer == group:
            top[e.node] = max(top.get(e.node, 0), int(e.info))
    return sum(n - top.get(p, 0) for p, n in end.items())


def skips_uncommitted(trace, group, at):
    end = {e.node: int(e.info) + 1 for e in upto(trace, at, "append")}
    committed = {e.node: int(e.info) for e in upto(trace, at, "commit") if e.peer == group}
    return sum(end[p] - c for p, c in committed.items())


def filter_stop(trace, group, at):  # trace.filter(stop=at) keeps rows with time < at
    end, committed = {}, {}
    for e in trace.filter(kind="append", stop=at):
        end[e.node] = int(e.info) + 1
    for e in trace.filter(kind="commit", peer=group, stop=at):
        committed[e.node] = int(e.info)
    return sum(n - committed.get(p, 0) for p, n in end.items())


def largest_partition(trace, group, at):
    end = {e.node: int(e.info) + 1 for e in upto(trace, at, "append")}
    committed = {e.node: int(e.info) for e in upto(trace, at, "commit") if e.peer == group}
    return max(n - committed.get(p, 0) for p, n in end.items())


def at_the_end(trace, group, at):
    return solution.group_lag(trace, group, float("inf"))


FIXED = check._lag_cases()[0][0]  # a trace from "another cell"


def global_trace(trace, group, at):
    return solution.group_lag(FIXED, "billing", 6.01)


def returns_a_dict(trace, group, at):
    return {"orders-0": 1}


@pytest.mark.parametrize("fn, words", [
    (every_groups_commits, ["every group", "peer"]),
    (offset_as_count, ["Off by one", "k + 1"]),
    (delivered_as_done, ["delivered", "commit rows"]),
    (acked_as_done, ["processed (acked)", "committed"]),
    (processed_up_to, ["processed (acked)", "last commit row"]),
    (counts_commit_rows, ["counted the group's commit rows", "info"]),
    (highest_commit, ["highest offset", "seek", "last"]),
    (skips_uncommitted, ["not committed yet", "every record appended"]),
    (filter_stop, ["exactly `at`", "trace.filter(stop=at)"]),
    (largest_partition, ["largest", "sum"]),
    (at_the_end, ["end of the run", "up to `at`"]),
    (global_trace, ["every time", "another cell"]),
    (returns_a_dict, ["a number of records"]),
])
def test_ex4_names_the_mistake(fn, words):
    assert wrong(check.ex4(fn), *words)


def seek_as_commit(trace, group, at):  # a rewind read as if it committed offset 0
    end, committed = {}, {}
    for e in upto(trace, at, "append"):
        end[e.node] = int(e.info) + 1
    for e in trace:
        if e.time <= at and e.kind in ("commit", "seek") and e.peer == group:
            committed[e.node] = int(e.info)
    return sum(n - committed.get(p, 0) for p, n in end.items())


def test_ex4_a_seek_is_not_a_commit():
    assert wrong(check.ex4(seek_as_commit), "`seek` rows as commits", "commits nothing")


def test_ex4_names_the_likeliest_mistake_when_two_are_made():
    def strict_and_highest(trace, group, at):  # rows before `at`, and the largest commit
        return highest_commit(trace, group, at - 1e-9)

    # the first case it gets wrong is the commit at t = 4 s: the hint names that mistake
    assert wrong(check.ex4(strict_and_highest), "at = 4 s you returned", "exactly `at`")


def test_ex4_cases_reach_every_mistake():
    # each mistake gives a wrong answer on at least one case, so none can pass
    for fn in (acked_as_done, processed_up_to, counts_commit_rows, highest_commit,
               skips_uncommitted, filter_stop, delivered_as_done):
        assert any(fn(t, g, at) != solution.group_lag(t, g, at)
                   for t, g, at, _ in check._lag_cases()), fn.__name__
