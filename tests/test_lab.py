"""``make lab`` starts a JupyterLab that answers on its port and stops without leftovers."""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from lab import LabServer, free_port

REPO = Path(__file__).resolve().parents[1]


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


def test_make_lab_serves_the_lessons_and_stops_cleanly(tmp_path):
    port = free_port()
    command = make_lab_command(port)
    with LabServer(REPO, tmp_path, command=command, port=port) as lab:
        assert lab.port == port and lab.status() is not None
        with urllib.request.urlopen(lab.url("lab"), timeout=10) as page:
            assert page.status == 200
            assert b"JupyterLab" in page.read()
        # what `make lab` opens (the first lesson) is there, and a kernel starts
        after_lab = command[command.index("lab") + 1 :] if "lab" in command else []
        for opened in [arg for arg in after_lab if not arg.startswith("-")]:
            if (REPO / opened).is_dir():  # a folder becomes the root that Lab shows
                listed = {item["name"] for item in lab.api("contents")["content"]}
                shown = {p.name for p in (REPO / opened).iterdir() if not p.name.startswith(".")}
                assert listed == shown
            else:
                assert lab.api(f"contents/{opened}?content=0")["type"] == "notebook"
        kernel = lab.api("kernels", method="POST")
        assert [k["id"] for k in lab.api("kernels")] == [kernel["id"]]
        server = lab.proc
    assert server.returncode is not None, "the server is still running"
    assert not port_is_open(port)
    assert lab.children, "the kernel process was not seen"
    assert not lab.leftovers(), f"processes left running: {lab.leftovers()}"
