"""The progress bar: nothing for quick work, a bar rewritten in place for slow work, nothing left
behind, a borrowed widget driven, and nothing at all with MQLAB_PROGRESS=0 (in a kernel too)."""

from __future__ import annotations

import re
import time

import pytest

from mqlab.progress import Progress

# one state of the bar: "drawing:  40%|████      | 8/20 [00:00<00:00]"
BAR = re.compile(r"drawing: +\d+%\|[^|]*\| +\d+/20 \[[\d:]+<[\d:?]+\] *")


def slow_work(bar: Progress, total: int = 20, pause: float = 0.03) -> None:
    for i in range(total):
        time.sleep(pause)
        bar.update(i + 1)


@pytest.fixture(autouse=True)
def bars_on(monkeypatch):
    monkeypatch.delenv("MQLAB_PROGRESS", raising=False)


def test_quick_work_shows_nothing(capsys):
    with Progress(200, "drawing") as bar:  # the default delay: one second
        for i in range(200):
            bar.update(i + 1)
    assert capsys.readouterr().err == ""


def test_slow_work_in_a_terminal_rewrites_one_line_and_clears_it(capsys):
    with Progress(20, "drawing", delay=0.1) as bar:
        slow_work(bar)
    err = capsys.readouterr().err
    # each update starts with a carriage return: it replaces the last one, never runs on
    assert err.startswith("\r") and "\n" not in err, repr(err)
    states = err.split("\r")[1:]
    shown = [s for s in states if s.strip()]
    assert len(shown) >= 2, repr(err)
    for state in shown:
        assert BAR.fullmatch(state), repr(state)
        assert state.count("drawing") == 1, repr(state)
    assert states[-1].strip() == "", "the bar was not cleared at the end"
    done = [int(re.search(r"(\d+)/20", s).group(1)) for s in shown]
    assert done == sorted(done) and done[-1] > done[0]


def test_progress_false_like_infinite_delay_shows_nothing(capsys):
    with Progress(20, "drawing", delay=float("inf")) as bar:
        slow_work(bar, pause=0.01)
    assert capsys.readouterr().err == ""


def test_mqlab_progress_0_turns_bars_off(capsys, monkeypatch):
    monkeypatch.setenv("MQLAB_PROGRESS", "0")
    with Progress(20, "drawing", delay=0) as bar:
        slow_work(bar, pause=0.01)
    assert capsys.readouterr().err == ""


def test_a_borrowed_widget_is_shown_driven_and_hidden(capsys):
    widgets = pytest.importorskip("ipywidgets")
    widget = widgets.IntProgress(layout={"display": "none"})
    bar = Progress(20, "drawing", widget=widget, delay=0.05)
    bar.update(1)
    assert widget.layout.display == "none", "shown before the delay"
    slow_work(bar)
    assert (widget.layout.display, widget.max, widget.value) == (None, 20, 20)
    bar.close()
    assert widget.layout.display == "none"
    assert capsys.readouterr().err == "", "a widget's progress went to stderr too"


def test_a_borrowed_widget_stays_hidden_for_quick_work_or_when_off(monkeypatch):
    widgets = pytest.importorskip("ipywidgets")
    quick = widgets.IntProgress(layout={"display": "none"})
    with Progress(20, "drawing", widget=quick) as bar:
        for i in range(20):
            bar.update(i + 1)
    assert (quick.layout.display, quick.value) == ("none", 0)
    monkeypatch.setenv("MQLAB_PROGRESS", "0")
    off = widgets.IntProgress(layout={"display": "none"})
    with Progress(20, "drawing", widget=off, delay=0) as bar:
        slow_work(bar, pause=0.01)
    assert (off.layout.display, off.value) == ("none", 0)


# --- in a Jupyter kernel: what a notebook (and nbval) sees -------------------------------------

SLOW_CELL = """\
import time
from mqlab.progress import Progress
with Progress(20, "drawing", delay=0.1) as bar:
    for i in range(20):
        time.sleep(0.02)
        bar.update(i + 1)"""


def run_in_kernel(*sources: str) -> list:
    """Run cells in a fresh kernel; the outputs of each cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    return [cell.outputs for cell in nb.cells]


def test_in_a_kernel_the_bar_is_a_widget_that_closes_itself():
    outputs, closed = run_in_kernel(
        SLOW_CELL, "box = bar._bar.container\n(box.comm, [w.comm for w in box.children])"
    )
    assert [o.output_type for o in outputs] == ["display_data"], outputs  # no text on stderr
    assert "application/vnd.jupyter.widget-view+json" in outputs[0].data
    assert closed[0].data["text/plain"] == "(None, [None, None, None])"


def test_in_a_kernel_mqlab_progress_0_leaves_no_output(monkeypatch):
    monkeypatch.setenv("MQLAB_PROGRESS", "0")  # the kernel inherits it, as under `make test`
    [outputs] = run_in_kernel(SLOW_CELL)
    assert outputs == []
