"""Binder, and ``make lab``, bring up a private RabbitMQ beside JupyterLab.

- repo2docker reads ``binder/``: the Dockerfile it writes installs ``apt.txt``
  (rabbitmq-server) as root, installs the package from ``requirements.txt`` as the notebook
  user, and runs ``binder/start`` at every launch.
- As on Binder: a non-root user, a fresh virtual environment made from the system Python with
  ``binder/requirements.txt``, a copy of the repository; ``binder/start`` starts a broker in
  the background and execs the command it is given, whose notebook runs on that broker
  (``tests/notebooks/binder_broker.ipynb``, and lesson 09 too once it exists).
- ``binder/start`` never makes a launch fail.
- ``make lab`` starts a broker with JupyterLab and stops exactly that one when JupyterLab exits.

Every process a test starts carries a marker in its environment, so that the test can find
all of them (the broker detaches from whoever started it) and prove that none is left running.
Nothing may listen on anything but 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import skip_or_fail
from lab import free_port

from mqlab import rabbit
from mqlab.rabbit_server import RabbitServer, alive, installed, listening

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
OWN_NOTEBOOK = REPO / "tests" / "notebooks" / "binder_broker.ipynb"
MARK = "MQLAB_TEST_MARK"  # in the environment of every process a test here starts
SYSTEM_PYTHON = "/usr/bin/python3"
STARTING = re.compile(r"starting at (amqp://\S+?) \(log: (\S+)/start\.log\)")
NO_NETWORK = re.compile(r"NewConnectionError|Name or service not known|Temporary failure in name "
                        r"resolution|Network is unreachable|No route to host|ConnectTimeout|"
                        r"ProxyError|Max retries exceeded")


# -- the processes a test started ---------------------------------------------------------------
def marked(token: str) -> list[int]:
    """Running processes (zombies left out) whose environment carries ``MARK=token``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{MARK}={token}".encode() in env and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def end_marked(token: str) -> list[int]:
    """End (SIGKILL) whatever is still running with the marker; return what was found."""
    left = marked(token)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return left


def loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def need_a_broker() -> None:
    if not installed():
        skip_or_fail("rabbitmq-server is not installed (Debian/Ubuntu: apt-get install "
                     "rabbitmq-server)", "MQLAB_REQUIRE_BROKER")


# -- binder/ as repo2docker reads it --------------------------------------------------------------
def test_binder_folder_installs_the_package_and_a_broker_and_starts_one():
    requirements = [line.split("#")[0].strip()
                    for line in (BINDER / "requirements.txt").read_text().splitlines()]
    assert "-e ." in requirements or "." in requirements  # Binder reads only binder/
    apt = [line.split("#")[0].strip() for line in (BINDER / "apt.txt").read_text().splitlines()]
    assert "rabbitmq-server" in apt
    start = BINDER / "start"
    assert os.access(start, os.X_OK)
    lines = [line.strip() for line in start.read_text().splitlines() if line.strip()]
    assert lines[0].startswith("#!") and lines[-1] == 'exec "$@"'
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    assert int(runtime.split(".")[1]) >= 10  # pyproject: requires-python >= 3.10


def repo2docker() -> list[str]:
    if importlib.util.find_spec("repo2docker") is not None:
        return [sys.executable, "-m", "repo2docker"]
    found = shutil.which("repo2docker")
    if found is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install -e '.[test]')")
    return [found]


def test_repo2docker_installs_apt_txt_and_launches_through_binder_start():
    # As Binder calls it (its notebook user is jovyan, uid 1000); --no-build: no Docker needed
    out = subprocess.run(
        [*repo2docker(), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan",
         str(REPO)],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    runtime = (BINDER / "runtime.txt").read_text().strip().replace("-", "=")
    assert runtime in text, f"{runtime} (binder/runtime.txt) is not the image's Python"
    dockerfile = text[text.index("FROM "):]
    steps = re.split(r"\n(?=[A-Z]+ )", dockerfile)  # one Dockerfile instruction each

    def index(pattern: str) -> int:
        hits = [i for i, step in enumerate(steps) if re.search(pattern, step, re.M)]
        assert len(hits) == 1, f"{len(hits)} steps match {pattern!r}:\n{dockerfile}"
        return hits[0]

    def user_at(i: int) -> str:
        return [s.split()[1] for s in steps[:i] if s.startswith("USER ")][-1]

    apt = index(r"^RUN [^\n]*apt-get[\s\S]*apt-get install [^\n]*\brabbitmq-server\b")
    assert user_at(apt) == "root"  # apt.txt is installed as root
    pip = index(r'^RUN \S*pip install [^\n]*-r "?binder/requirements\.txt')
    assert user_at(pip) != "root"  # the package is installed as the notebook user ...
    copy = index(r"^COPY \S* ?src/ ")
    assert copy < pip  # ... after the whole repository is there (requirements.txt has -e .)
    start = index(r'^ENV R2D_ENTRYPOINT="?\$\{REPO_DIR\}/binder/start"?$')
    entry = index(r"^ENTRYPOINT ")
    assert "repo2docker-entrypoint" in steps[entry] and start < entry  # it runs binder/start


def test_binder_start_never_makes_a_launch_fail(tmp_path):
    token = secrets.token_hex(8)
    base_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
                MARK: token}
    show = ["/bin/sh", "-c", 'echo "url=$MQLAB_RABBITMQ_URL"; exit 7']
    cases = {
        # python without mqlab (a broken install): no broker, and the launch goes on
        "no mqlab": base_env,
        # nowhere to keep a broker: the same
        "no temporary folder": {**base_env, "TMPDIR": "/proc/no-such-folder",
                                "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        # a broker given from outside is used as it is, and none is started
        "a broker given": {**base_env, "MQLAB_RABBITMQ_URL": "amqp://u:p@127.0.0.1:1/",
                           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    }
    try:
        for case, env in cases.items():
            began = time.monotonic()
            out = subprocess.run([str(BINDER / "start"), *show], env=env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
            took = time.monotonic() - began
            assert out.returncode == 7, (case, out.stdout, out.stderr)  # exec "$@": its status
            given = env.get("MQLAB_RABBITMQ_URL", "")
            assert f"url={given}\n" in out.stdout, (case, out.stdout)
            assert took < 10, f"{case}: binder/start took {took:.1f} s"
    finally:
        left = end_marked(token)
    assert not left, f"binder/start left processes running: {left}"


# -- binder/start as on Binder: a non-root user, a fresh environment ------------------------------
def run_as(user: tuple[int, int] | None) -> dict:
    """subprocess arguments that run a command as ``user`` (uid, gid), or as ourselves."""
    if user is None:
        return {}
    return {"user": user[0], "group": user[1], "extra_groups": []}


def copy_repository(to: Path) -> None:
    """The files of the work tree (tracked and new, not ignored), as Binder copies a repo."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = None
    if listed is None:  # not a git checkout
        shutil.copytree(REPO, to, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
            "*.egg-info", "build", "dist"))
        return
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)


@pytest.mark.broker
def test_binder_start_runs_a_broker_that_a_notebook_uses_as_a_non_root_user():
    need_a_broker()
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is not installed (the Binder test builds its venv on it)")
    if os.geteuid() == 0:  # root: become an unprivileged user, as Binder's notebook user is
        import pwd

        try:
            entry = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("there is no unprivileged user 'nobody' to run binder/start as")
        user, name = (entry.pw_uid, entry.pw_gid), "nobody"
    else:  # not root: we are a notebook user already
        import getpass

        user, name = None, getpass.getuser()
    # ours, and lesson 09 once it exists (run where they are, in the copy of the repository)
    notebooks = [p.relative_to(REPO) for p in
                 [OWN_NOTEBOOK, *sorted((REPO / "lessons").glob("09-*.ipynb"))]]

    token = secrets.token_hex(8)
    work = Path(tempfile.mkdtemp(prefix="mqlab-binder-test-"))
    repo, home, tmp = work / "repo", work / "home", work / "tmp"
    for folder in (repo, home, tmp):
        folder.mkdir()
    copy_repository(repo)
    shutil.copy2(OWN_NOTEBOOK, repo / notebooks[0])  # even before it is committed
    if user is not None:
        for path in (work, *work.rglob("*")):
            os.lchown(path, *user)
    venv = work / "venv"
    env = {
        "HOME": str(home), "USER": name, "LOGNAME": name, "TMPDIR": str(tmp),
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", MARK: token,
        # how this machine reaches the package index (mirrors, proxies, certificates)
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower() in (
            "http_proxy", "https_proxy", "no_proxy", "ssl_cert_file", "requests_ca_bundle")},
    }
    base = tmp / f"mqlab-rabbitmq-{name}"  # where binder/start keeps the broker
    as_user = {"env": env, "cwd": repo, **run_as(user)}
    try:
        # 1. the image: a fresh venv from the system Python, with binder/requirements.txt
        began = time.monotonic()
        made = subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], capture_output=True,
                              text=True, timeout=120, **as_user)
        if made.returncode != 0:
            pytest.skip(f"{SYSTEM_PYTHON} cannot make a virtual environment: {made.stderr}")
        pip = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
             "--retries", "2", "--timeout", "60", "-r", "binder/requirements.txt"],
            capture_output=True, text=True, timeout=900, **as_user)
        if pip.returncode != 0 and NO_NETWORK.search(pip.stdout + pip.stderr):
            pytest.skip(f"no network for pip: {pip.stderr.strip().splitlines()[-1]}")
        assert pip.returncode == 0, (pip.stdout + pip.stderr)[-4000:]
        installed_in = time.monotonic() - began

        # 2. the launch: binder/start, then the command it execs runs the notebooks (JupyterLab
        # on Binder; nbconvert here: its kernels get its environment as Lab's do)
        began = time.monotonic()
        launched = subprocess.run(
            [str(repo / "binder" / "start"), "/bin/sh", "-c",
             # first: does a broker answer already? (it should not: binder/start must not wait)
             'python -c "from mqlab import rabbit; print(rabbit.available(timeout=0.5))"'
             ' > "$0"; exec "$@"', str(work / "answered-at-exec"),
             "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=600", *map(str, notebooks)],
            capture_output=True, text=True, timeout=1200, **as_user)
        ran_in = time.monotonic() - began
        assert launched.returncode == 0, (launched.stdout + launched.stderr)[-6000:]
        said = STARTING.search(launched.stdout)
        assert said, f"binder/start did not say where the broker starts:\n{launched.stdout}"
        url, where = said.groups()
        assert Path(where) == base
        assert (work / "answered-at-exec").read_text().strip() == "False", \
            "binder/start waited for the broker before starting JupyterLab"
        outputs = "".join(
            "".join(o.get("text", "")) for c in json.loads((repo / notebooks[0]).read_text())
            ["cells"] for o in c.get("outputs", []))
        assert f"binder-broker-ok {url} acked=10" in outputs, outputs

        # 3. the broker: this user's, on 127.0.0.1 only, the one the notebook used
        server = RabbitServer.attach(base)
        assert server is not None and server.running() and server.url == url
        assert rabbit.available(url)
        if user is not None:
            assert os.stat(f"/proc/{server.node_pid}").st_uid == user[0]
        sockets = listening(marked(token))
        assert {p for _, p, _ in sockets} >= set(server.ports), sockets
        assert all(loopback(a) for a, _, _ in sockets), f"not loopback only: {sockets}"
        waited = re.search(r"broker answered after (\S+ s)", outputs)
        print(f"venv + requirements: {installed_in:.0f} s; binder/start + "
              f"{', '.join(n.name for n in notebooks)}: "
              f"{ran_in:.0f} s, of which the notebook waited for the broker "
              f"{waited.group(1) if waited else '?'}")

        # 4. stopped the way a user would (on Binder the pod's end stops it)
        stop = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "mqlab.rabbit_server", "stop", "--base",
             str(base)], capture_output=True, text=True, timeout=120, **as_user)
        assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
        deadline = time.monotonic() + 10
        while marked(token) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        left = [(pid, command_line(pid)) for pid in marked(token)]
        end_marked(token)
        shutil.rmtree(work, ignore_errors=True)
    assert not left, f"left running: {left}"


# -- make lab -------------------------------------------------------------------------------------
@pytest.mark.broker
@pytest.mark.parametrize("how", ["JupyterLab is shut down", "Ctrl-C at once"])
def test_make_lab_runs_a_broker_and_stops_it_when_jupyterlab_ends(tmp_path, how):
    need_a_broker()
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not (REPO / ".venv" / "bin" / "jupyter").exists():
        pytest.skip(".venv/bin/jupyter does not exist yet (`make lab` would set it up)")
    token = secrets.token_hex(8)
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"open_browser": False}}))
    env = {k: v for k, v in os.environ.items() if k != "MQLAB_RABBITMQ_URL"}
    env.update({MARK: token, "JUPYTER_CONFIG_DIR": str(config),
                "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"})
    port = free_port()
    log = tmp_path / "make-lab.log"
    with open(log, "wb") as sink:
        # -o: use the environment as it is (the test must not reinstall the package)
        make = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "lab", f"PORT={port}"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group, as a terminal's foreground job

    def wait_for(pattern: str):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = re.search(pattern, log.read_text(errors="replace"))
            if found:
                return found
            assert make.poll() is None, log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"make lab never printed {pattern!r}:\n{log.read_text()}")

    try:
        url, folder = wait_for(STARTING.pattern).groups()
        if how == "Ctrl-C at once":  # the broker is still starting, JupyterLab too
            os.killpg(make.pid, signal.SIGINT)
            assert make.wait(timeout=120) != 0
        else:
            lab_token = wait_for(rf"http://127\.0\.0\.1:{port}/\S*[?&]token=(\w+)").group(1)
            # JupyterLab (and so each kernel it starts) has the broker's address
            labs = [p for p in marked(token) if "jupyter-lab" in command_line(p)]
            assert labs and all(environment_of(p).get("MQLAB_RABBITMQ_URL") == url
                                for p in labs)
            deadline = time.monotonic() + 90
            while not rabbit.available(url) and time.monotonic() < deadline:
                time.sleep(0.3)
            server = RabbitServer.attach(folder)
            assert server is not None and server.running(), log.read_text()
            sockets = listening(marked(token))
            assert {p for _, p, _ in sockets} >= {*server.ports, port}, sockets
            assert all(loopback(a) for a, _, _ in sockets), f"not loopback only: {sockets}"
            # as File > Shut Down does
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/shutdown", method="POST",
                headers={"Authorization": f"token {lab_token}"})
            urllib.request.urlopen(request, timeout=10).close()
            assert make.wait(timeout=120) == 0, log.read_text()
        assert not Path(folder).exists(), "the broker's folder was not removed"
        assert not rabbit.available(url, timeout=0.5)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            make.wait(timeout=30)
        left = [(pid, command_line(pid)) for pid in marked(token)]
        end_marked(token)
    assert not left, f"left running: {left}\n{log.read_text()}"
