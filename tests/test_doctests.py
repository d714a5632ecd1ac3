"""The examples in the modules' docstrings (core and views) run and print what they say."""

import doctest
import importlib

import pytest

CORE = ["message", "queues", "routing", "engine", "dist", "network", "simulation", "logs",
        "trace", "metrics", "theory", "run", "state", "durable", "sweeps"]
VIEWS = ["style", "draw", "scene", "player", "charts", "explorer", "export"]
# modules whose docstrings teach by example (the others explain in prose)
WITH_EXAMPLES = {"message", "queues", "routing", "engine", "dist", "network", "logs", "durable",
                 "sweeps", "trace", "theory",
                 "metrics", "state", "style", "draw", "scene", "player", "charts", "explorer"}


@pytest.mark.parametrize("name", CORE + VIEWS)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name in VIEWS:
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(f"mqlab.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in mqlab.{name}"
    if name in WITH_EXAMPLES:
        assert result.attempted > 0
