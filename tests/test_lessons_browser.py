"""Every lesson, as a student opens it: JupyterLab in a headless Chromium, run all, look.

Each lesson is copied with the package's lessons folder layout into a private JupyterLab
(``lab.py``), run top to bottom, and checked for what a student would see go wrong: a cell
that raised, a widget that cannot be displayed, a cell still running. A full-page screenshot
of each lesson is saved as ``lesson-NN.png`` in ``$MQLAB_SCREENSHOT_DIR`` when that is set
(and in the test's temporary folder in any case), to be read as a student would.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lab import LabServer
from test_browser import NOTEBOOK_STATE, SETTLE, open_and_run_all

pytestmark = pytest.mark.browser

LESSONS = sorted((Path(__file__).parent.parent / "lessons").glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem[:2] for p in LESSONS])
def test_the_lesson_runs_in_jupyterlab_without_an_error(browser, tmp_path, lesson):
    root = tmp_path / "root"
    (root / "lessons").mkdir(parents=True)
    shutil.copy(lesson, root / "lessons" / lesson.name)
    with LabServer(root, tmp_path) as lab:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        state = open_and_run_all(page, lab, f"lessons/{lesson.name}")
        errors = [e for cell in state["cells"] for e in cell["errors"]]
        assert not errors, f"{lesson.name} raised: {errors}"
        not_run = [i for i, cell in enumerate(state["cells"]) if cell["count"] is None]
        assert not not_run, f"{lesson.name}: code cells {not_run} did not run"
        page.evaluate(SETTLE, 30_000)
        text = page.evaluate(NOTEBOOK_STATE)["text"]
        assert "Error displaying widget" not in text
        assert "Traceback" not in text
        shot = tmp_path / f"lesson-{lesson.stem[:2]}.png"
        page.screenshot(path=shot, full_page=True)
        keep = os.environ.get("MQLAB_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)
    assert not lab.leftovers(), f"processes left running: {lab.leftovers()}"
