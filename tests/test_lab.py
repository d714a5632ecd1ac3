"""``make lab`` starts a JupyterLab that answers on its port and stops without leftovers, and
the address it prints opens the first lesson, in a real browser too."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from lab import LabServer, free_port

REPO = Path(__file__).resolve().parents[1]


def first_lesson() -> Path:
    lessons = sorted((REPO / "lessons").glob("[0-9]*.ipynb"))
    if not lessons:
        pytest.skip("there is no lesson yet")
    return lessons[0]


def title_of(notebook: Path) -> str:
    """The notebook's first heading (level 1), as the student sees it at the top."""
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            found = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.M)
            if found:
                return found.group(1).strip()
    raise AssertionError(f"{notebook.name} has no heading")


def make_lab_command(port: int) -> list[str]:
    """The command that ``make lab PORT=port`` would start the server with (``make -n``)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "lab", f"PORT={port}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    server = [line for line in dry_run.splitlines() if "jupyter" in line and " lab" in line]
    assert len(server) == 1, f"no single `jupyter lab` line in `make -n lab`:\n{dry_run}"
    command = shlex.split(server[0])
    if not (REPO / command[0]).exists():
        pytest.skip(f"{command[0]} does not exist yet (`make lab` would set it up)")
    return command


def port_is_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_lab_prints_the_first_lessons_address_and_stops_cleanly(tmp_path):
    port = free_port()
    command = make_lab_command(port)
    lesson = first_lesson().relative_to(REPO).as_posix()
    # token=None: the server makes its own token and prints it, as for a user
    with LabServer(REPO, tmp_path, command=command, port=port, token=None) as lab:
        assert lab.port == port and lab.status() is not None
        # the one address printed is the first lesson's, with the token to log in
        assert lab.printed_url == (
            f"http://127.0.0.1:{port}/lab/tree/{lesson}?token={lab.token}"
        ), lab.log_tail()
        with urllib.request.urlopen(lab.printed_url, timeout=10) as page:
            assert page.status == 200
            assert b"JupyterLab" in page.read()
        assert lab.api(f"contents/{lesson}?content=0")["type"] == "notebook"
        kernel = lab.api("kernels", method="POST")
        assert [k["id"] for k in lab.api("kernels")] == [kernel["id"]]
        server = lab.proc
    assert server.returncode is not None, "the server is still running"
    assert not port_is_open(port)
    assert lab.children, "the kernel process was not seen"
    assert not lab.leftovers(), f"processes left running: {lab.leftovers()}"


@pytest.mark.browser
def test_the_address_make_lab_prints_opens_the_first_lesson_in_a_browser(browser, tmp_path):
    from playwright.sync_api import expect

    port = free_port()
    command = make_lab_command(port)
    lesson = first_lesson()
    title = title_of(lesson)
    with LabServer(REPO, tmp_path, command=command, port=port, token=None) as lab:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(lab.printed_url)
        heading = page.locator(".jp-NotebookPanel .jp-MarkdownOutput h1").filter(has_text=title)
        expect(heading.first).to_be_visible(timeout=60_000)
        expect(heading.first).to_be_in_viewport()
        # the lesson is the document in front (window.jupyterapp: see lab.py), not the Launcher
        shown = page.evaluate(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.context ? w.context.path : w && w.title.label; }"
        )
        assert shown == lesson.relative_to(REPO).as_posix()
        page.screenshot(path=tmp_path / "make-lab.png")
        page.close()
    assert not lab.leftovers(), f"processes left running: {lab.leftovers()}"


def test_binder_opens_the_first_lesson():
    """The README's Binder badge opens the first lesson, as `make lab` does."""
    readme = (REPO / "README.md").read_text()
    badges = re.findall(r"\(https://mybinder\.org/v2/gh/[^)]*\)", readme)
    assert badges, "no Binder badge in the README"
    lesson = first_lesson().relative_to(REPO).as_posix()
    for badge in badges:
        assert f"urlpath=lab/tree/{lesson})" in badge, badge
