"""Topic matching with RabbitMQ's rules: words split by dots, ``*`` one word, ``#`` zero or more.

RabbitMQ splits an empty routing key (or binding key) into *zero* words, so ``#`` matches ""
and ``*`` does not.
"""

import pytest

import mqlab as mq
from mqlab import topic_matches

CASES = [
    # pattern, routing key, matches?
    ("orders.*.eu", "orders.new.eu", True),
    ("orders.*.eu", "orders.eu", False),
    ("orders.*.eu", "orders.new.big.eu", False),
    ("orders.#", "orders", True),  # '#' may match zero words
    ("orders.#", "orders.new", True),
    ("orders.#", "orders.new.eu", True),
    ("orders.#", "order", False),
    ("orders.*", "orders", False),  # '*' needs exactly one word
    ("orders.*", "orders.new.eu", False),
    ("#", "", True),  # '#' alone matches everything, even the empty key
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("*", "", False),  # the empty key has no word for '*'
    ("*", "a", True),
    ("*", "a.b", False),
    ("", "", True),
    ("", "a", False),
    ("a", "", False),
    ("a.*.b", "a.x.b", True),
    ("a.*.b", "a.b", False),
    ("a.#.b", "a.b", True),
    ("a.#.b", "a.x.y.b", True),
    ("a.#.b", "a.x.y.c", False),
    ("#.eu", "eu", True),
    ("#.eu", "orders.new.eu", True),
    ("#.eu", "orders.new.us", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("#.*", "", False),  # '*' still needs one word after '#' takes none
    ("#.*", "a", True),
    ("#.#", "", True),
    ("*.#", "a", True),
    ("a.#.#.b", "a.b", True),
    ("temp.eu", "temp.eu", True),
    ("temp.eu", "temp.EU", False),  # words are compared exactly
    ("a.*", "a.", True),  # "a." is two words: "a" and an empty word
    ("a..b", "a..b", True),
    ("*.b", ".b", True),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), CASES)
def test_topic_matches_follows_rabbitmq(pattern, key, expected):
    assert topic_matches(pattern, key) is expected


def test_the_table_covers_both_wildcards_and_both_answers():
    assert len(CASES) >= 20
    assert sum(1 for _, _, e in CASES if e) >= 10 and sum(1 for _, _, e in CASES if not e) >= 10


@pytest.mark.parametrize(("pattern", "key"), [(None, "a"), ("a", 3), (b"a", "a")])
def test_non_strings_are_refused(pattern, key):
    with pytest.raises(TypeError, match="pattern and routing_key"):
        topic_matches(pattern, key)


# -- exchange types are one table -----------------------------------------------------------------
def test_exchange_types_are_the_table():
    from mqlab.routing import EXCHANGE_TYPES, EXCHANGES

    assert EXCHANGE_TYPES == tuple(EXCHANGES) == ("direct", "fanout", "topic", "headers")
    with pytest.raises(ValueError, match="type must be one of 'direct', 'fanout', 'topic', "
                                         "'headers'"):
        net = mq.Network()
        net.broker("hub")
        net.exchange("hub", "x", type="consistent-hash")


def test_a_new_exchange_type_is_one_function_and_one_table_entry(monkeypatch):
    """Builder and simulator both read the table: nothing else needs to change."""
    from mqlab.routing import EXCHANGES, ExchangeType

    # routes by the routing key's length: the binding key says how long
    monkeypatch.setitem(EXCHANGES, "by-length", ExchangeType(
        lambda b, m: len(m.routing_key) == int(b.pattern), default_pattern="0"))
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "x", type="by-length")
    for q, n in [("short", "1"), ("long", "5")]:
        net.queue("hub", q)
        net.bind("x", q, pattern=n)
    net.queue("hub", "empty")
    net.bind("x", "empty")  # the type's default pattern
    for i, key in enumerate(["a", "hello", "", "abc"]):
        net.producer(f"p{i}", schedule=[float(i)], routing_key=key, exchange="x")
    run = net.run(until=5)
    events = run.trace.filter(kind=["route", "drop"])
    assert [(e.msg, e.kind, e.peer or e.info) for e in events] == [
        (1, "route", "short"), (2, "route", "long"), (3, "route", "empty"),
        (4, "drop", "unroutable")]
    assert net.graph.edges["x", "empty"]["pattern"] == "0"


def test_check_headers_arguments_labels_what_it_matches():
    from mqlab.routing import check_headers_arguments

    assert check_headers_arguments({"format": "pdf", "pages": 3, "x-match": "all"}) == (
        "all: format=pdf, pages=3")
    assert check_headers_arguments({"x-dead": 1}) == "all: every message"
    with pytest.raises(TypeError, match="arguments must be a dict"):
        check_headers_arguments(None)
