"""Start and stop a private RabbitMQ on this machine: loopback only, any user, no service.

The lesson on a real broker, the tests and ``python -m mqlab.rabbit_server start`` all use it.
It needs Debian's or Ubuntu's ``rabbitmq-server`` package installed (``apt-get install
rabbitmq-server``); it never needs root, systemd, or the packaged service.

What it starts, all in one temporary directory and all listening on 127.0.0.1 only:

- its own ``epmd`` (Erlang's port mapper) on a free port, so that nothing else's is touched;
- one RabbitMQ node with its own AMQP port, its own distribution port, its data, logs and
  config in that directory, and a memory watermark capped (default 256 MB: a Binder pod has
  1-2 GB) so that the broker never sizes itself from the whole machine.

It calls the scripts in ``/usr/lib/rabbitmq/bin`` directly: the ``/usr/sbin`` wrappers insist
on root. Stopping ends exactly what was started, by process id: the node is asked to shut
down (SIGTERM, as Erlang understands it), then anything left of its process group and the
epmd are ended, and the directory is removed.

As a context manager::

    from mqlab.rabbit_server import RabbitServer
    with RabbitServer() as server:
        print(server.url)          # amqp://guest:guest@127.0.0.1:PORT/

From the command line (the broker keeps running between the two)::

    python -m mqlab.rabbit_server start    # prints the URL
    python -m mqlab.rabbit_server status
    python -m mqlab.rabbit_server stop
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["BrokerStartError", "RabbitServer", "alive", "installed", "listening", "main"]

# where Debian's package keeps the real scripts (the /usr/sbin wrappers demand root)
_BIN_DIRS = ("/usr/lib/rabbitmq/bin",)
_STATE = "server.json"  # in the broker's directory: what `stop` needs to find it


class BrokerStartError(RuntimeError):
    """The broker did not start (its log's last lines are in the message)."""


def scripts_dir() -> Path | None:
    """The directory of the RabbitMQ scripts (rabbitmq-server, rabbitmqctl), or None."""
    for d in _BIN_DIRS:
        if os.access(os.path.join(d, "rabbitmq-server"), os.X_OK):
            return Path(d)
    found = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/sbin"))
    for d in reversed(found):
        if os.access(d / "rabbitmq-server", os.X_OK):
            return d
    return None


def installed() -> bool:
    """True when ``rabbitmq-server`` and ``epmd`` are installed, so a broker can be started."""
    return scripts_dir() is not None and shutil.which("epmd") is not None


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, timeout: float = 0.2) -> bool:
    """Does something accept TCP connections on 127.0.0.1:``port``?"""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout):
        return True
    return False


def alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie, already ended, counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def group_members(pgid: int) -> list[int]:
    """Processes whose process group is ``pgid`` (read from /proc), zombies left out."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def listening(pids: list[int] | None = None) -> list[tuple[str, int, int]]:
    """TCP sockets listening on this machine: ``(address, port, pid)``; with ``pids``, only
    those of these processes (read from /proc; pid is 0 when the socket's owner is unknown).
    """
    owner: dict[str, int] = {}
    for pid in (pids if pids is not None else
                [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        owner[link[8:-1]] = pid
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] != "0A":  # LISTEN
                    continue
                addr_hex, port_hex = parts[1].split(":")
                inode = parts[9]
                if pids is not None and inode not in owner:
                    continue
                out.append((_address(addr_hex, v6), int(port_hex, 16), owner.get(inode, 0)))
    return out


def _address(hexaddr: str, v6: bool) -> str:
    raw = bytes.fromhex(hexaddr)
    # /proc writes each 32-bit word in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, words)


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


class RabbitServer:
    """One private RabbitMQ node: ``start()`` returns its URL, ``stop()`` ends what it started.

    ``base``: the directory for its data, logs and config (default: a new temporary one,
    removed at ``stop``). ``port``: its AMQP port (default: a free one). ``memory``: its memory
    watermark (``vm_memory_high_watermark.absolute``). ``timeout``: seconds to wait for it to
    accept connections.
    """

    def __init__(self, base: str | os.PathLike | None = None, port: int | None = None,
                 memory: str = "256MB", timeout: float = 90.0) -> None:
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 0 < port < 65536):
            raise ValueError(f"port must be None (a free one) or a TCP port number, got {port!r}")
        check_memory_and_timeout(memory, timeout)
        self._own_base = base is None
        self.base = Path(base) if base is not None else None
        self.port = port
        self.memory = memory
        self.timeout = float(timeout)
        self.dist_port: int | None = None
        self.epmd_port: int | None = None
        self.node_pid: int | None = None  # the launcher script; it leads the process group
        self.beam_pid: int | None = None  # the Erlang VM running the node (its pid file)
        self.epmd_pid: int | None = None
        self.started_in: float | None = None  # seconds from start() to accepting connections

    # -- the URL and the state file ------------------------------------------------------------
    @property
    def url(self) -> str:
        """The AMQP URL of the broker (the default user guest may log in from loopback)."""
        if self.port is None:
            raise RuntimeError("the broker has not been started: call start() first")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pids(self) -> list[int]:
        """The processes this object started (the node and its epmd)."""
        return [p for p in (self.node_pid, self.beam_pid, self.epmd_pid) if p is not None]

    @property
    def ports(self) -> list[int]:
        """The ports it uses: AMQP, Erlang distribution, epmd."""
        return [p for p in (self.port, self.dist_port, self.epmd_port) if p is not None]

    def _save(self) -> None:
        state = {"url": self.url, "port": self.port, "dist_port": self.dist_port,
                 "epmd_port": self.epmd_port, "node_pid": self.node_pid,
                 "beam_pid": self.beam_pid,
                 "epmd_pid": self.epmd_pid, "own_base": self._own_base}
        (self.base / _STATE).write_text(json.dumps(state, indent=1))

    @classmethod
    def attach(cls, base: str | os.PathLike) -> RabbitServer | None:
        """The broker started earlier in directory ``base`` (by another process), or None."""
        path = Path(base) / _STATE
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        server = cls(base, state["port"])
        server._own_base = state.get("own_base", False)
        server.dist_port, server.epmd_port = state["dist_port"], state["epmd_port"]
        server.node_pid, server.epmd_pid = state["node_pid"], state["epmd_pid"]
        server.beam_pid = state.get("beam_pid")
        return server

    def running(self) -> bool:
        """True while the node runs and accepts connections on its port."""
        return (self.node_pid is not None and alive(self.node_pid)
                and self.port is not None and answers(self.port))

    # -- start ---------------------------------------------------------------------------------
    def _environment(self, home: Path) -> dict[str, str]:
        return node_environment(
            self.base, home=home, node_name=f"mqlab{self.port}@localhost", port=self.port,
            dist_port=self.dist_port, epmd_port=self.epmd_port, server_args=LOOPBACK_ONLY,
            # rabbitmqctl must find this node's own epmd, never start one of its own
            ctl_args=f"{LOOPBACK_ONLY} -start_epmd false")

    def start(self) -> str:
        """Start the broker, wait until it accepts AMQP connections, and return its URL.

        Raises :class:`BrokerStartError` (with the end of its log) if it does not come up in
        ``timeout`` seconds; whatever was started is stopped again first.
        """
        bindir = require_scripts()
        if self.node_pid is not None:
            raise RuntimeError("this broker was started already")
        began = time.monotonic()
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="mqlab-rabbitmq-"))
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "home").mkdir(exist_ok=True)  # mnesia and log: with the config
        if self.port is None:
            self.port = free_port()
        elif answers(self.port):
            raise BrokerStartError(f"port {self.port} on 127.0.0.1 is taken already: choose "
                                   "another port, or leave port=None for a free one")
        self.dist_port, self.epmd_port = free_port(), free_port()
        b = self.base
        write_node_config(b, self.port, self.memory)
        env = self._environment(b / "home")
        try:
            self.epmd_pid = start_epmd(b, self.epmd_port, env)
            self.node_pid = launch_node(bindir, b, env)  # it leads its own process group
            self._save()
            wait_until(lambda: accepts_amqp(self.port), self.timeout, self.node_pid,
                       "RabbitMQ", self._log_tail)
            self.beam_pid = read_pid(b)
            self._save()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.url

    def _log_tail(self, lines: int = 20) -> str:
        return log_tail(self.base, lines)

    # -- stop ----------------------------------------------------------------------------------
    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl ARGS`` against this node (e.g. ``ctl("add_user", "ann", "pw")``,
        ``ctl("set_permissions", "-p", "/", "ann", "^$", "^orders$", "^orders$")``) and return
        what it printed; raise ``RuntimeError`` with its message if it fails."""
        bin_dir = scripts_dir()
        if bin_dir is None or not self.running():
            raise RuntimeError("the broker is not running: call start() first")
        env = self._environment(self.base / "home")
        done = subprocess.run([str(bin_dir / "rabbitmqctl"), "-n", env["RABBITMQ_NODENAME"],
                               *args], env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args[:1])} failed: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node and the epmd this started (by process id), and remove the directory
        if it was a temporary one. Safe to call twice."""
        if self.node_pid is not None:  # Erlang shuts the node down cleanly on a SIGTERM
            stop_group(self.node_pid, (self.beam_pid, self.node_pid), timeout=timeout)
            self.node_pid = self.beam_pid = None
        if self.epmd_pid is not None:
            stop_process(self.epmd_pid)
            self.epmd_pid = None
        remove_base(self.base, self._own_base, _STATE)

    def __enter__(self) -> RabbitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self.node_pid is None:
            return "<RabbitServer (stopped)>"
        return f"<RabbitServer {self.url} pid {self.node_pid}>"


def main(argv: list[str] | None = None) -> int:
    """``start`` (print the URL), ``status`` or ``stop`` the broker kept in ``--base``."""
    parser = argparse.ArgumentParser(
        prog="python -m mqlab.rabbit_server",
        description="A private, loopback-only RabbitMQ for mqlab's lessons.")
    parser.add_argument("command", choices=("start", "status", "stop"))
    parser.add_argument("--base", default=str(default_base("mqlab-rabbitmq")),
                        help="directory for its data, logs and state (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None, help="AMQP port (default: a free one)")
    parser.add_argument("--memory", default="256MB", help="memory watermark (default: 256MB)")
    args = parser.parse_args(argv)
    old = RabbitServer.attach(args.base)
    if args.command == "start":
        if old is not None and old.running():
            print(old.url)
            return 0
        if old is not None:  # a stale record: clear what is left of it first
            old.stop()
        server = RabbitServer(args.base, args.port, args.memory)
        try:
            url = server.start()
        except BrokerStartError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(url)
        return 0
    if args.command == "status":
        if old is not None and old.running():
            print(f"running: {old.url} (pid {old.node_pid})")
            return 0
        print("not running")
        return 3
    if old is None:
        print("not running")
        return 0
    old.stop()
    print("stopped")
    return 0


# -- shared with mqlab.rabbit_cluster, which starts several nodes the same way ----------------
# the Erlang distribution of a node (and of the command line tools) on the loopback only
LOOPBACK_ONLY = "-kernel inet_dist_use_interface {127,0,0,1}"


def check_memory_and_timeout(memory: object, timeout: object) -> None:
    """Raise ``ValueError`` unless ``memory`` is a size ('256MB') and ``timeout`` seconds > 0."""
    if not isinstance(memory, str) or not memory[:1].isdigit():
        raise ValueError(f"memory must be a size such as '256MB', got {memory!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")


def require_scripts() -> Path:
    """The RabbitMQ scripts' directory; ``BrokerStartError`` if RabbitMQ or epmd is missing."""
    bindir = scripts_dir()
    if bindir is None or shutil.which("epmd") is None:
        raise BrokerStartError(
            "rabbitmq-server is not installed (Debian/Ubuntu: apt-get install "
            "rabbitmq-server; it is not started as a service, this starts its own)")
    return bindir


def node_environment(directory: Path, *, home: Path, node_name: str, port: int,
                     dist_port: int, epmd_port: int, server_args: str,
                     ctl_args: str) -> dict[str, str]:
    """The environment of one node kept in ``directory`` (its data, logs, pid file and config),
    for the server and the command line tools alike: this process's environment without any
    ``RABBITMQ_``/``ERL_`` setting, everything on 127.0.0.1, ``server_args`` and ``ctl_args``
    as the extra Erlang arguments of the server and of the tools."""
    d = directory
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update({
        "HOME": str(home),  # private: the Erlang cookie may be written here
        "RABBITMQ_NODENAME": node_name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),  # empty: not /etc's
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": server_args,
        "RABBITMQ_CTL_ERL_ARGS": ctl_args,
        "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
    })
    return env


def write_node_config(directory: Path, port: int, memory: str) -> None:
    """Write a node's config into ``directory`` (and make its ``mnesia`` and ``log``): AMQP on
    127.0.0.1:``port``, guest from loopback only, no plugins, ``memory`` as its watermark."""
    d = directory
    for sub in ("mnesia", "log"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "rabbitmq-env.conf").write_text("")
    (d / "enabled_plugins").write_text("[].\n")
    (d / "advanced.config").write_text("[].\n")
    (d / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "loopback_users.guest = true\n"
        "log.console = false\n"
        "log.file.level = warning\n"
        f"vm_memory_high_watermark.absolute = {memory}\n"
        "disk_free_limit.absolute = 50MB\n")


def start_epmd(directory: Path, port: int, env: dict[str, str],
               timeout: float = 10.0) -> int:
    """Start an epmd on 127.0.0.1:``port`` (its log in ``directory``), wait until it accepts
    connections and return its pid; if it does not, end it and raise ``BrokerStartError``."""
    with open(directory / "epmd.log", "wb") as log:
        epmd = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
    try:
        wait_until(lambda: answers(port), timeout, epmd.pid, "epmd (Erlang's port mapper)",
                   lambda: file_tail(directory / "epmd.log") or "(no log written)")
    except BaseException:
        stop_process(epmd.pid)
        raise
    return epmd.pid


def launch_node(bindir: Path, directory: Path, env: dict[str, str],
                append: bool = False) -> int:
    """Start ``rabbitmq-server`` in the background in ``directory`` (its output in
    ``server.log`` there, added to the end with ``append``), in a process group of its own
    (stopped as one), and return its pid: the leader of that group."""
    with open(directory / "server.log", "ab" if append else "wb") as log:
        node = subprocess.Popen(
            [str(bindir / "rabbitmq-server")], cwd=directory, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    return node.pid


def accepts_amqp(port: int) -> bool:
    """Does a broker on 127.0.0.1:``port`` let guest in (an AMQP connection opened)?"""
    if not answers(port):
        return False
    from mqlab.rabbit import available

    return available(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=2.0)


def wait_until(ready, timeout: float, pid: int | None, what: str, tail,
               interval: float = 0.1) -> None:
    """Wait until ``ready()`` is true; raise ``BrokerStartError`` (with ``tail()``, the end of
    the log) if process ``pid`` ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid is not None and not alive(pid):
            raise BrokerStartError(f"{what} stopped while starting:\n{tail()}")
        time.sleep(interval)
    raise BrokerStartError(f"{what} did not accept connections within "
                           f"{round(timeout, 1):g} s:\n{tail()}")


def read_pid(directory: Path) -> int | None:
    """The Erlang VM's pid from the node's pid file in ``directory``, or None (not yet)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((directory / "rabbit.pid").read_text().split()[0])
    return None


def file_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_tail(directory: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a node's logs in ``directory`` (its output, then its logs)."""
    texts: list[str] = []
    for log in [directory / "server.log", *sorted((directory / "log").glob("*.log"))]:
        texts += file_tail(log, lines).splitlines()
    return "\n".join(texts[-lines:]) or "(no log written)"


def reap(pid: int) -> None:
    """Collect the exit status of a child process that ended (no zombie is left)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def terminate(*pids: int | None) -> None:
    """Send SIGTERM to each of ``pids`` still there (None: skipped)."""
    for pid in pids:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def stop_group(leader: int, pids: tuple = (), graceful: bool = True,
               timeout: float = 30.0) -> None:
    """End the process group that ``leader`` leads (started with ``start_new_session``).
    ``graceful``: SIGTERM ``pids`` first (Erlang shuts a node down cleanly) and wait up to
    ``timeout`` s; then SIGKILL what is left of the group, helpers too."""
    if graceful:
        terminate(*pids)
        deadline = time.monotonic() + timeout
        while group_members(leader) and time.monotonic() < deadline:
            reap(leader)
            time.sleep(0.05)
    for _ in range(100):  # what did not end in time, and helpers left behind
        reap(leader)
        if not group_members(leader):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader, signal.SIGKILL)
        time.sleep(0.05)
    reap(leader)


def stop_process(pid: int) -> None:
    """End one process of ours (epmd): SIGTERM, and SIGKILL if it is still there in 5 s."""
    terminate(pid)
    for _ in range(100):
        reap(pid)
        if not alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        reap(pid)


def remove_base(base: Path | None, own: bool, state: str) -> None:
    """Remove a broker's directory if it was a temporary one (``own``), else its state file."""
    if base is None:
        return
    if own:
        shutil.rmtree(base, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            (base / state).unlink()


def default_base(prefix: str) -> Path:
    """``<temp dir>/<prefix>-<user>``: where the command line keeps a broker by default."""
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (some containers)
        user = str(os.getuid())
    return Path(tempfile.gettempdir()) / f"{prefix}-{user}"


if __name__ == "__main__":
    sys.exit(main())
