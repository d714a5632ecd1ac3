"""The examples in the core modules' docstrings run and print what they say."""

import doctest
import importlib

import pytest

CORE = ["message", "queues", "routing", "engine", "dist", "network", "simulation", "trace",
        "metrics", "theory", "run"]
# modules whose docstrings teach by example (the others explain in prose)
WITH_EXAMPLES = {"message", "queues", "routing", "engine", "dist", "network", "trace", "theory"}


@pytest.mark.parametrize("name", CORE)
def test_docstring_examples(name):
    module = importlib.import_module(f"mqlab.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in mqlab.{name}"
    if name in WITH_EXAMPLES:
        assert result.attempted > 0
