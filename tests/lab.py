"""A private JupyterLab server for tests, and where to find a Chromium to drive it.

``LabServer`` starts ``python -m jupyterlab`` on a free port of 127.0.0.1 with a random token
(or, with ``token=None``, lets the server make its own, as a user's ``make lab`` does, and reads
it from the address the server prints: ``printed_url``).
Everything it could read or write lives in one temporary folder: its config, runtime files,
IPython profile, Lab settings and workspaces. So the tests see the same Lab on every machine,
whatever the user has in ``~/.jupyter``, and never touch it. The settings turn off what would
get in a robot's way: the news and update pop-ups, autosave, and Lab's lazy rendering of
off-screen cells (``windowingMode: none`` keeps every cell in the page).

    with LabServer(root=folder_with_notebooks, work=tmp_path) as lab:
        page.goto(lab.url("lab/tree/player.ipynb"))

Stopping asks the server to shut down through its API (it then stops its kernels), waits,
and only if it has to, terminates the server's own process group and any kernel it started.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["LabServer", "chromium_path"]

# Lab user settings, one file per plugin: no pop-ups, no autosave, every cell in the DOM,
# and the notebook's kernel starts without asking.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when there is none.

    ``MQLAB_CHROMIUM`` wins when set; otherwise the usual names are looked up on ``PATH``.
    """
    wanted = os.environ.get("MQLAB_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """One JupyterLab server serving ``root``, with all its state kept under ``work``."""

    def __init__(
        self,
        root: Path,
        work: Path,
        command: list[str] | None = None,
        port: int | None = None,
        start_timeout: float = 60.0,
        token: str | None = "",
    ) -> None:
        """``command`` starts Lab (default: ``python -m jupyterlab``); the options that keep
        the server private are added after it. ``port``: default, a free one. ``token``:
        default, a random one given to the server; None: the server makes its own."""
        self.root = Path(root)
        self.work = Path(work)
        self.base_command = command or [sys.executable, "-m", "jupyterlab"]
        self.wanted_port = port
        self.start_timeout = start_timeout
        self.own_token = token is None  # the server makes it; read from the printed URL
        self.token = "" if token is None else token or secrets.token_hex(16)
        self.printed_url: str | None = None  # the address the server prints for its user
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work / "jupyterlab.log"
        # the processes the server had started (kernels...), noted when it is stopped
        self.children: list[tuple[int, str]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        """The address of ``path`` on this server, with the token to log in."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def write_settings(self) -> None:
        """Lab's user settings, and a page config that skips the "is a build needed?" check
        (it runs node at every page load)."""
        for plugin, values in LAB_SETTINGS.items():
            file = self.work / "lab-settings" / f"{plugin}.jupyterlab-settings"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(values))
        page_config = self.work / "config" / "labconfig" / "page_config.json"
        page_config.parent.mkdir(parents=True, exist_ok=True)
        page_config.write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))

    def command(self) -> list[str]:
        """The full command line."""
        cmd = [
            *self.base_command,
            "--no-browser",
            "--ServerApp.port_retries=0",
            *([] if self.own_token else [f"--IdentityProvider.token={self.token}"]),
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run Lab's commands
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabServerApp.user_settings_dir={self.work / 'lab-settings'}",
            f"--LabServerApp.workspaces_dir={self.work / 'lab-workspaces'}",
            # opening a notebook saves a checkpoint: here, not in a folder beside the notebook
            f"--FileCheckpoints.checkpoint_dir={self.work / 'checkpoints'}",
        ]
        if not any(arg.startswith(("--ip=", "--ServerApp.ip=")) for arg in cmd):
            cmd.append("--ServerApp.ip=127.0.0.1")  # a command that names one must name this
        if not any(arg.startswith(("--port=", "--ServerApp.port=")) for arg in cmd):
            cmd.append(f"--ServerApp.port={self.port}")
        if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in cmd:
            cmd.append("--allow-root")
        return cmd

    def start(self) -> LabServer:
        """Start the server and wait until ``/api/status`` answers (and, when the server
        makes its own token, until it has printed its address)."""
        self.work.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(self.work / "config"),
            JUPYTER_DATA_DIR=str(self.work / "data"),
            JUPYTER_RUNTIME_DIR=str(self.work / "runtime"),
            IPYTHONDIR=str(self.work / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        self.write_settings()
        self.port = self.wanted_port or free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we can stop it as a whole
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            self.printed_url = self.printed_url or self.find_printed_url()
            if self.own_token and self.printed_url:
                self.token = re.search(r"[?&]token=([^&\s]+)", self.printed_url).group(1)
            if self.token and self.status() is not None:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start; end of its log:\n{self.log_tail()}")

    def api(self, path: str, method: str = "GET", timeout: float = 5.0):
        """Call the server's REST API; the decoded JSON answer (None when the body is empty)."""
        request = urllib.request.Request(
            f"{self.base}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def status(self) -> dict | None:
        """``/api/status``, or None when the server does not answer."""
        try:
            return self.api("status", timeout=2)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def find_printed_url(self) -> str | None:
        """The address (with its token) that the server printed for its user to open."""
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        found = re.findall(rf"(http://127\.0\.0\.1:{self.port}/\S*[?&]token=\S+)", log)
        return found[-1] if found else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Shut the server down politely, then firmly; leave none of its processes behind."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        # Kernels run in sessions of their own, so note them before the server goes away.
        self.children = _descendants(proc.pid)
        if proc.poll() is None:
            try:
                self.api("shutdown", method="POST")
            except (urllib.error.URLError, OSError, ValueError):
                pass
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
                try:
                    proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for pid, started in self.children:
            if _start_time(pid) == started:  # still the same process, not a reused pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def leftovers(self) -> list[int]:
        """Processes that the server started and that are still running."""
        return [pid for pid, started in self.children if _start_time(pid) == started]

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _start_time(pid: int) -> str | None:
    """When a process started (Linux ``/proc``), or None if it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Children, grandchildren... of ``pid`` as (pid, start time); empty where no ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            started = _start_time(child)
            if started is not None:
                found.append((child, started))
                todo.append(child)
    return found
