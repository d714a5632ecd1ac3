"""Topic matching with RabbitMQ's rules: words split by dots, ``*`` one word, ``#`` zero or more.

RabbitMQ splits an empty routing key (or binding key) into *zero* words, so ``#`` matches ""
and ``*`` does not.
"""

import pytest

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
