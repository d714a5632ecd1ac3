"""The Player in a real JupyterLab, driven by a headless Chromium.

A student opens a notebook, runs all cells and presses Play. This test does the same in a
private JupyterLab (see ``lab.py``) and checks what the student would see: the widget is drawn
(no "Error displaying widget", no traceback), the picture moves when Play is pressed, and the
step-back button goes back in time. It saves a screenshot of the page as
``player-screenshot.png`` in ``$MQLAB_SCREENSHOT_DIR`` when that is set (``images/``, say),
and in the test's temporary folder in any case.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from lab import LabServer

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).parent / "notebooks" / "player.ipynb"
WATCH_SECONDS = 3.0  # how long to watch the Player after pressing Play
MIN_FRAME_CHANGES = 10  # in WATCH_SECONDS; the Player aims at 25 frames/s, slow machines less

# The notebook's state (kernel status, execution counts, outputs) is read from Lab's own objects:
# window.jupyterapp exists because the server runs with --LabApp.expose_app_in_browser.
NOTEBOOK_STATE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
                 && panel.sessionContext.session.kernel;
  if (!kernel) return null;
  const cells = panel.content.widgets
    .filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim())
    .map(c => ({count: c.model.executionCount,
                errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                          .map(o => o.ename + ': ' + o.evalue)}));
  return {kernel: kernel.status, cells: cells, text: panel.content.node.innerText};
}"""

# What the Player shows right now: the image(s) on screen and the time slider's position.
PLAYER_STATE = """() => {
  const player = document.querySelector('.widget-play').closest('.jp-OutputArea-output');
  const slider = player.querySelector('.widget-slider [role=slider]');
  return {frame: Array.from(player.querySelectorAll('img'), img => img.src).join(' '),
          time: slider ? Number(slider.getAttribute('aria-valuenow')) : null};
}"""

# Sample PLAYER_STATE every `every` ms for `ms` ms, inside the page so that no sample is late.
WATCH = """async ([ms, every]) => {
  const state = PLAYER_STATE;
  const samples = [];
  const start = performance.now();
  while (performance.now() - start < ms) {
    samples.push(state());
    await new Promise(resolve => setTimeout(resolve, every));
  }
  return samples;
}""".replace("PLAYER_STATE", PLAYER_STATE)


# Resolve once the page has been idle three times in a row (each idle callback within 50 ms of
# being asked for), or after ``limit`` ms: the browser has finished building the widgets.
SETTLE = """async (limit) => {
  const start = performance.now();
  let calm = 0;
  while (calm < 3 && performance.now() - start < limit) {
    const asked = performance.now();
    await new Promise(resolve => requestIdleCallback(resolve, {timeout: 1000}));
    calm = performance.now() - asked < 50 ? calm + 1 : 0;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return performance.now() - start;
}"""


def open_and_run_all(page, lab: LabServer, name: str) -> dict:
    """Open a notebook in Lab, run all its cells, and wait until every code cell has run."""
    page.goto(lab.url(f"lab/tree/{name}"))
    page.wait_for_function(
        f"() => {{ const s = ({NOTEBOOK_STATE})(); return s && s.kernel === 'idle'; }}",
        timeout=60_000,
    )
    page.evaluate(
        "() => { window.jupyterapp.shell.collapseLeft(); "
        "window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )
    # Run-all stops at the first error, so an error output also ends the wait.
    page.wait_for_function(
        f"() => {{ const s = ({NOTEBOOK_STATE})(); return s.kernel === 'idle' && "
        "(s.cells.every(c => c.count !== null) || s.cells.some(c => c.errors.length)); }",
        timeout=60_000,
        polling=250,
    )
    return page.evaluate(NOTEBOOK_STATE)


def watch(page, seconds: float, every_ms: int = 50) -> list[dict]:
    return page.evaluate(WATCH, [int(seconds * 1000), every_ms])


def changes(samples: list[dict], key: str) -> int:
    return sum(a[key] != b[key] for a, b in zip(samples, samples[1:], strict=False))


def test_player_plays_and_steps_back_in_jupyterlab(browser, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    started = time.monotonic()
    with LabServer(root, tmp_path) as lab:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        state = open_and_run_all(page, lab, NOTEBOOK.name)
        errors = [e for cell in state["cells"] for e in cell["errors"]]
        assert not errors, f"the notebook raised: {errors}"
        assert all(cell["count"] is not None for cell in state["cells"])

        # The widget is drawn, not "Loading widget..." or "Error displaying widget".
        page.wait_for_selector(".widget-play", timeout=30_000)
        page.wait_for_function(
            "() => !document.body.innerText.includes('Loading widget')", timeout=30_000
        )
        text = page.evaluate(NOTEBOOK_STATE)["text"]
        assert "Error displaying widget" not in text
        # The Player's frames (a few MB of JPEG in hundreds of widgets) arrive after its
        # controls: wait until the page has nothing left to do, as a student who waits would.
        page.evaluate(SETTLE, 30_000)

        player = page.locator(".jp-OutputArea-output", has=page.locator(".widget-play"))
        player.scroll_into_view_if_needed()
        before = page.evaluate(PLAYER_STATE)
        assert before["frame"], "the Player shows no image"

        # Play: the picture must change again and again, with no help from the kernel.
        page.locator(".widget-play button:has(.fa-play)").click()
        samples = [before, *watch(page, WATCH_SECONDS)]
        frames, times = changes(samples, "frame"), changes(samples, "time")
        advanced = samples[-1]["time"] - before["time"]
        print(
            f"\nafter Play: in {WATCH_SECONDS:g} s ({len(samples)} samples) the picture "
            f"changed {frames} times, the time slider {times} times; it advanced "
            f"{advanced} frames ({advanced / WATCH_SECONDS:.0f} frames/s)"
        )
        assert frames >= MIN_FRAME_CHANGES, (
            f"the Player's picture changed only {frames} times in {WATCH_SECONDS:g} s"
        )
        assert samples[-1]["time"] > before["time"], "the time slider did not move forward"

        # Pause: the picture stops where it is.
        page.locator(".widget-play button:has(.fa-pause)").click()
        still = watch(page, 0.5)
        assert changes(still, "time") == 0, "the Player kept moving after Pause"
        paused = still[-1]

        # One step back: the time goes back a frame, the picture with it, and both stay.
        player.locator("button:has(.fa-step-backward)").click()
        went_back = f"t => ({PLAYER_STATE})().time < t"
        try:
            page.wait_for_function(went_back, arg=paused["time"], timeout=5_000)
        except PlaywrightTimeout:
            pytest.fail(f"step back did not move the time slider back from {paused['time']}")
        after = watch(page, 0.5)
        back = [sample["time"] for sample in after]
        print(f"step back: time {paused['time']} -> {back}")
        assert set(back) == {paused["time"] - 1}, "step back did not stay one frame back"
        assert after[-1]["frame"] != paused["frame"], "step back did not change the picture"

        shot = tmp_path / "player-screenshot.png"
        player.scroll_into_view_if_needed()
        page.screenshot(path=shot)
        keep = os.environ.get("MQLAB_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)
    print(f"browser test took {time.monotonic() - started:.1f} s")
    assert not lab.leftovers(), f"processes left running: {lab.leftovers()}"
