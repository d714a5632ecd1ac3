"""A real three-node RabbitMQ cluster on one machine, and a run through a node's failure.

Past one machine, a broker is a *cluster*: several nodes that share the definitions of
exchanges and queues, and, for a **quorum queue**, keep a copy of every message on each node
(a Raft log: a leader and followers; a message is confirmed once a majority has it). This
module starts such a cluster on this machine, kills one of its nodes in the middle of a run,
and records what the clients saw as a :class:`~mqlab.Trace`, so that the Player shows the
node going grey and the summary shows what was lost (nothing confirmed, on a quorum queue).

:class:`RabbitCluster` starts ``size`` nodes (default 3) as any user, with no service and
no root, all in one temporary directory and listening on 127.0.0.1 only (Erlang's port
mapper also on the loopback ``::1``):

- one private ``epmd`` (Erlang's port mapper) on a free port, shared by the nodes;
- nodes ``rabbit1@localhost``, ``rabbit2@localhost``, ... each with its own AMQP port, Erlang
  distribution port, data, logs, pid file and config (an empty ``RABBITMQ_CONF_ENV_FILE``, so
  the machine's own RabbitMQ settings are never read), a memory watermark capped, and one
  secret cookie and private HOME shared by all of them (that is what lets them talk);
- the nodes boot in parallel, then every node but the first joins the first one
  (``stop_app``, ``join_cluster``, ``start_app``).

``kill(node)`` ends one node at once with SIGKILL (a power cut, as the node sees it),
``restart(node)`` boots it again on its data (it rejoins by itself), and ``stop()`` ends
exactly what was started, by process id and process group, and removes the directory::

    from mqlab.rabbit_cluster import RabbitCluster, run_through_failure
    with RabbitCluster() as cluster:               # about 25 s on two cores
        print(cluster.urls)                        # one AMQP URL per node
        run = run_through_failure(cluster, queue_type="quorum")
        print(run.report())                        # confirmed, consumed, lost, duplicated
        run.play()

From the command line (the cluster keeps running between the calls)::

    python -m mqlab.rabbit_cluster start       # prints one URL per node
    python -m mqlab.rabbit_cluster status
    python -m mqlab.rabbit_cluster kill 1      # and: restart 1
    python -m mqlab.rabbit_cluster stop
    python -m mqlab.rabbit_cluster record run.json.gz   # a cluster of its own, run, saved

**The run through a failure** (:func:`run_through_failure`) declares one durable queue (a
quorum queue replicated on every node, or a classic queue, which lives on one node only, for
comparison) on its *home* node, publishes ``messages`` persistent messages with publisher
confirms and consumes them with manual acks, while one node (by default the home node: the
quorum queue's leader, the classic queue's only copy) is killed at ``kill_at`` seconds and
restarted at ``restart_at``. The clients behave as a careful application does:

- the producer publishes one message at a time and waits for its confirm; a nack (the queue
  has no leader during an election), a return (no queue took it) or a lost connection means
  *not confirmed*: it waits a moment, opens a new channel (a channel opened during a leader
  election can nack every publish for ever) or a new connection to a node still alive, and
  publishes the same message again, until it is confirmed;
- the consumer acks each message after receiving it; when its connection or its
  subscription is lost, it connects again to a node still alive and subscribes again;
- both know which node was killed (as a client learns it from a refused connection) and go
  to the others.

The trace's graph has the producer, the nodes (as brokers), the queue and the consumer. A
publish goes to the node the producer is connected to; its ``arrive`` row, at the time of the
broker's answer, says what the producer heard in its ``info`` (``confirmed``, ``nacked``,
``returned`` or ``no answer``); a confirmed copy is routed into the queue and enqueued then
(or when a consumer had it, if that was earlier). A refused publish ends as a ``drop``: at
the queue (``nacked``), or at the node (``unroutable``, ``broker down``: it was killed under
the message). A delivery that was never acked (the consumer lost its connection first)
goes back to the queue (``nack``, ``requeue``); a message delivered again after its ack is
a ``duplicate``. A confirmed message that no consumer ever got is dropped at the queue (when
it was confirmed) with the reason ``lost``, unless it was still in the queue at the end (read
out then), or its queue is down with its node (it stays there, *stranded*). The killed node
has ``crash`` and ``recover`` rows; for a classic queue, so has the queue (it is down with
its node).

:func:`outcome` reads from any such trace (one loaded from a file too) what became of the
messages: confirmed, consumed, lost (confirmed and gone), stranded, left, duplicates.
What was measured on two cores (RabbitMQ 3.10): the cluster forms in 11-28 s; killing the
quorum queue's leader costs the producer one reconnection and a few nacks, the longest wait
for a confirm is about 0.3-0.4 s, and nothing confirmed is lost; the same failure stops a
classic queue on that node until the node is back (5-7 s without a confirm), and if it does
not come back, what waited in it is out of reach.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqlab.rabbit_server import (
    LOOPBACK_ONLY,
    BrokerStartError,
    accepts_amqp,
    alive,
    answers,
    check_memory_and_timeout,
    default_base,
    free_port,
    installed,
    launch_node,
    listening,
    log_tail,
    node_environment,
    read_pid,
    remove_base,
    require_scripts,
    scripts_dir,
    start_epmd,
    stop_group,
    stop_process,
    terminate,
    wait_until,
    write_node_config,
)
from mqlab.run import Run
from mqlab.trace import Trace

__all__ = ["ChaosRun", "Outcome", "RabbitCluster", "installed", "listening", "main", "outcome",
           "run_through_failure"]

_STATE = "cluster.json"  # in the cluster's directory: what `status` and `stop` need to find it
_QUEUE_TYPES = ("quorum", "classic")


@dataclass
class _Node:
    """One node of the cluster: its number, name, ports, directory and processes."""

    index: int
    port: int
    dist_port: int
    dir: Path
    launcher_pid: int | None = None  # the rabbitmq-server script: it leads the process group
    beam_pid: int | None = None  # the Erlang VM that runs the node (from its pid file)

    @property
    def name(self) -> str:
        return f"rabbit{self.index}"

    @property
    def node_name(self) -> str:
        return f"rabbit{self.index}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"


class RabbitCluster:
    """A RabbitMQ cluster of ``size`` nodes on this machine: ``start()``, ``kill(node)``,
    ``restart(node)``, ``stop()``; a context manager.

    ``base``: the directory for its data, logs and config (default: a new temporary one,
    removed at ``stop``; a given one is wiped at ``start``). ``memory``: each node's memory
    watermark (``vm_memory_high_watermark.absolute``). ``timeout``: seconds to wait for the
    nodes to boot. Nodes are numbered from 1 (``rabbit1``, ``rabbit2``, ...); a method that
    takes a ``node`` accepts its number or its name.
    """

    def __init__(self, size: int = 3, base: str | os.PathLike | None = None,
                 memory: str = "256MB", timeout: float = 120.0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 9:
            raise ValueError(f"size must be a number of nodes from 1 to 9, got {size!r}")
        check_memory_and_timeout(memory, timeout)
        self.size = size
        self._own_base = base is None
        self.base = Path(base) if base is not None else None
        self.memory = memory
        self.timeout = float(timeout)
        self.cookie = ""
        self.epmd_port: int | None = None
        self.epmd_pid: int | None = None
        self.nodes: list[_Node] = []
        self.started_in: float | None = None  # seconds from start() to a formed cluster
        self.booted_in: float | None = None  # of which: all nodes booted (in parallel)
        self.last_restart: float | None = None  # seconds the last restart() took

    # -- what it is ----------------------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        """The AMQP URL of every node, in node order."""
        self._need_nodes()
        return [n.url for n in self.nodes]

    @property
    def names(self) -> list[str]:
        """The nodes' short names: rabbit1, rabbit2, ..."""
        return [f"rabbit{i}" for i in range(1, self.size + 1)]

    @property
    def pids(self) -> list[int]:
        """The processes this object started and still knows of (nodes and epmd)."""
        out = [p for n in self.nodes for p in (n.launcher_pid, n.beam_pid) if p is not None]
        return out + ([self.epmd_pid] if self.epmd_pid is not None else [])

    @property
    def ports(self) -> list[int]:
        """The ports it uses: each node's AMQP and distribution port, and epmd's."""
        out = [p for n in self.nodes for p in (n.port, n.dist_port)]
        return out + ([self.epmd_port] if self.epmd_port is not None else [])

    def node(self, node: int | str) -> _Node:
        """The node numbered ``node`` (from 1), or named ``node`` (``"rabbit2"``)."""
        self._need_nodes()
        if isinstance(node, str) and node.split("@")[0] in self.names:
            return self.nodes[self.names.index(node.split("@")[0])]
        if isinstance(node, int) and not isinstance(node, bool) and 1 <= node <= self.size:
            return self.nodes[node - 1]
        raise ValueError(f"node must be a node number from 1 to {self.size} or one of "
                         f"{self.names}, got {node!r}")

    def url(self, node: int | str) -> str:
        """The AMQP URL of one node."""
        return self.node(node).url

    def running(self, node: int | str | None = None) -> bool:
        """True while the node (default: every node) runs and accepts connections."""
        if not self.nodes:
            return False
        nodes = self.nodes if node is None else [self.node(node)]
        return all(n.launcher_pid is not None and alive(n.launcher_pid) and answers(n.port)
                   for n in nodes)

    def alive_nodes(self) -> list[str]:
        """The names of the nodes whose process is running."""
        return [n.name for n in self.nodes
                if n.beam_pid is not None and alive(n.beam_pid)
                or n.beam_pid is None and n.launcher_pid is not None and alive(n.launcher_pid)]

    def _need_nodes(self) -> None:
        if not self.nodes:
            raise RuntimeError("the cluster has not been started: call start() first")

    # -- the environment of a node (server and command line tools alike) -----------------------
    def _environment(self, n: _Node) -> dict[str, str]:
        # the cookie on the command line (no ~/.erlang.cookie read or needed), distribution on
        # the loopback interface only
        erl = f"{LOOPBACK_ONLY} -setcookie {self.cookie}"
        return node_environment(n.dir, home=self.base / "home", node_name=n.node_name,
                                port=n.port, dist_port=n.dist_port, epmd_port=self.epmd_port,
                                server_args=erl, ctl_args=erl)

    # -- the state file (for the command line) -------------------------------------------------
    def _save(self) -> None:
        state = {"size": self.size, "memory": self.memory, "cookie": self.cookie,
                 "epmd_port": self.epmd_port, "epmd_pid": self.epmd_pid,
                 "own_base": self._own_base,
                 "nodes": [{"index": n.index, "port": n.port, "dist_port": n.dist_port,
                            "launcher_pid": n.launcher_pid, "beam_pid": n.beam_pid}
                           for n in self.nodes]}
        (self.base / _STATE).write_text(json.dumps(state, indent=1))

    @classmethod
    def attach(cls, base: str | os.PathLike) -> RabbitCluster | None:
        """The cluster started earlier in directory ``base`` (by another process), or None."""
        try:
            state = json.loads((Path(base) / _STATE).read_text())
        except (OSError, ValueError):
            return None
        cluster = cls(state["size"], base, state["memory"])
        cluster._own_base = state.get("own_base", False)
        cluster.cookie = state["cookie"]
        cluster.epmd_port, cluster.epmd_pid = state["epmd_port"], state["epmd_pid"]
        cluster.nodes = [_Node(d["index"], d["port"], d["dist_port"],
                               cluster.base / f"n{d['index']}", d["launcher_pid"], d["beam_pid"])
                         for d in state["nodes"]]
        return cluster

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Start the nodes, join them into one cluster, and return their AMQP URLs.

        Raises :class:`~mqlab.rabbit_server.BrokerStartError` (with the end of the log) if a
        node does not come up in ``timeout`` seconds; what was started is stopped first.
        """
        require_scripts()
        if self.nodes:
            raise RuntimeError("this cluster was started already")
        began = time.monotonic()
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="mqlab-cluster-"))
        else:  # a fresh cluster: what an earlier one left here is wiped
            self.base.mkdir(parents=True, exist_ok=True)
            for old in [self.base / "home", *self.base.glob("n[0-9]")]:
                shutil.rmtree(old, ignore_errors=True)
        (self.base / "home").mkdir(exist_ok=True)
        self.cookie = "mqlab" + secrets.token_hex(12)
        ports: set[int] = set()
        while len(ports) < 2 * self.size + 1:
            ports.add(free_port())
        free = sorted(ports)
        self.epmd_port = free.pop()
        self.nodes = [_Node(i, free[2 * i - 2], free[2 * i - 1], self.base / f"n{i}")
                      for i in range(1, self.size + 1)]
        try:
            for n in self.nodes:
                write_node_config(n.dir, n.port, self.memory)
            self.epmd_pid = start_epmd(self.base, self.epmd_port,
                                       self._environment(self.nodes[0]))
            for n in self.nodes:
                self._launch(n)
            self._save()
            for n in self.nodes:  # they boot in parallel; wait for each in turn
                self._wait_booted(n, self.timeout - (time.monotonic() - began))
            self.booted_in = time.monotonic() - began
            for n in self.nodes[1:]:
                self._join(n, self.nodes[0])
            self._save()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.urls

    def _join(self, n: _Node, first: _Node) -> None:
        """Make node ``n`` a member of ``first``'s cluster: what ``rabbitmqctl stop_app``,
        ``join_cluster`` and ``start_app`` do, in one call of the tool (each call starts an
        Erlang VM, 1-2 s); the three commands if that one call is not understood (another
        RabbitMQ version)."""
        target = first.node_name
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            said = self.ctl(n, "eval", f"ok = rabbit:stop(), "
                                       f"R = rabbit_mnesia:join_cluster('{target}', disc), "
                                       f"ok = rabbit:start(), R.")
            if said.strip() in ("ok", "{ok,already_member}"):
                return
        self.ctl(n, "stop_app")
        self.ctl(n, "join_cluster", target)
        self.ctl(n, "start_app")

    def _launch(self, n: _Node) -> None:
        """Start node ``n`` in the background, in its own process group."""
        with contextlib.suppress(OSError):  # stale after a SIGKILL: never read a dead pid
            (n.dir / "rabbit.pid").unlink()
        n.launcher_pid = launch_node(scripts_dir(), n.dir, self._environment(n), append=True)
        n.beam_pid = None

    def _wait_booted(self, n: _Node, timeout: float) -> None:
        """Wait until node ``n`` accepts AMQP connections (it has booted)."""
        def booted() -> bool:
            if n.beam_pid is None:
                n.beam_pid = read_pid(n.dir)
            return accepts_amqp(n.port)

        wait_until(booted, max(timeout, 1.0), n.launcher_pid, f"node {n.name}",
                   lambda: log_tail(n.dir))
        self._save()

    # -- the command line tools ----------------------------------------------------------------
    def ctl(self, node: int | str | _Node, *args: str, timeout: float = 60.0,
            tool: str = "rabbitmqctl") -> str:
        """Run ``rabbitmqctl ARGS`` against one node (``tool="rabbitmq-queues"`` for that
        one) and return what it printed; raise ``RuntimeError`` with its message if it fails.
        Each call starts an Erlang VM: about 1-2 s."""
        n = node if isinstance(node, _Node) else self.node(node)
        env = self._environment(n)
        done = subprocess.run([str(scripts_dir() / tool), "-q", "-n", n.node_name, *args],
                              env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args[:1])} on {n.name} failed: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def status(self, node: int | str | None = None) -> dict:
        """The cluster's view of itself, asked of one running node (default: the first one
        alive): ``{"running": [...names], "members": [...names]}``."""
        alive_now = self.alive_nodes()
        if not alive_now:
            return {"running": [], "members": []}
        n = self.node(node) if node is not None else self.node(alive_now[0])
        data = json.loads(self.ctl(n, "cluster_status", "--formatter", "json"))
        short = [x.split("@")[0] for x in data.get("running_nodes", [])]
        members = [x.split("@")[0] for x in data.get("disk_nodes", [])]
        return {"running": sorted(short), "members": sorted(members)}

    # -- failures ------------------------------------------------------------------------------
    def kill(self, node: int | str) -> float:
        """End one node at once with SIGKILL (what is in its memory is gone; what it wrote to
        disk is kept) and return the time (``time.time()``) it was killed."""
        n = self.node(node)
        if n.beam_pid is None:
            n.beam_pid = read_pid(n.dir)
        if n.beam_pid is None or not alive(n.beam_pid):
            raise RuntimeError(f"node {n.name} is not running")
        os.kill(n.beam_pid, signal.SIGKILL)
        when = time.time()
        self._end_group(n, graceful=False)
        self._save()
        return when

    def restart(self, node: int | str, timeout: float | None = None) -> float:
        """Boot a stopped or killed node again on its data, wait until it accepts connections
        (it rejoins the cluster by itself), and return how many seconds that took."""
        n = self.node(node)
        if n.launcher_pid is not None and alive(n.launcher_pid):
            raise RuntimeError(f"node {n.name} is running: kill it first")
        began = time.monotonic()
        self._launch(n)
        self._save()
        try:
            self._wait_booted(n, timeout or self.timeout)
        except BrokerStartError:
            self._end_group(n, graceful=False)
            raise
        self.last_restart = time.monotonic() - began
        return self.last_restart

    # -- stop ----------------------------------------------------------------------------------
    def _end_group(self, n: _Node, graceful: bool, timeout: float = 30.0) -> None:
        """End node ``n``'s process group: ask it first (SIGTERM) when ``graceful``."""
        if n.launcher_pid is None:
            return
        # the launcher leads its own process group (start_new_session)
        stop_group(n.launcher_pid, (n.beam_pid, n.launcher_pid), graceful, timeout)
        n.launcher_pid = n.beam_pid = None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every node and the epmd this started (by process id and process group), and
        remove the directory if it was a temporary one. Safe to call twice."""
        for n in self.nodes:  # ask them all at once: Erlang shuts a node down cleanly
            terminate(n.beam_pid, n.launcher_pid)
        for n in self.nodes:
            self._end_group(n, graceful=True, timeout=timeout)
        if self.epmd_pid is not None:
            stop_process(self.epmd_pid)
            self.epmd_pid = None
        remove_base(self.base, self._own_base, _STATE)

    def __enter__(self) -> RabbitCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if not self.nodes:
            return f"<RabbitCluster of {self.size} nodes (stopped)>"
        return (f"<RabbitCluster of {self.size} nodes, alive: "
                f"{', '.join(self.alive_nodes()) or 'none'}>")


# -- a run through a failure -------------------------------------------------------------------
PRODUCER, CONSUMER = "producer", "consumer"


def _pika():
    try:
        import pika
    except ImportError:
        raise ImportError("mqlab.rabbit_cluster needs the pika package: pip install pika") \
            from None
    return pika


class _Clients:
    """What the producer and the consumer share: the clock, the nodes known dead, and the
    records of what they saw."""

    def __init__(self, cluster: RabbitCluster, queue: str, arguments: dict, prefetch: int):
        self.cluster, self.queue, self.arguments = cluster, queue, arguments
        self.prefetch = prefetch
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()
        self.dead: set[str] = set()
        self.attempts: list[dict] = []  # every publish: mid, t, node, outcome, t_out
        self.deliveries: list[dict] = []  # every delivery: mid, t, node, redelivered, t_ack
        self.notes: list[tuple[float, str]] = []  # (time, what happened), for the report
        self.stop_consuming = threading.Event()
        self.consumer_error: BaseException | None = None
        self.reconnects = {PRODUCER: 0, CONSUMER: 0}
        self.gave_up = 0  # messages the producer gave up on (never confirmed)
        self.gave_up_after = 0.0  # seconds it had tried the first of them

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def note(self, text: str, at: float | None = None) -> None:
        with self.lock:
            self.notes.append((round(self.now() if at is None else at, 3), text))

    def connect(self, prefer: str, who: str, deadline: float):
        """A connection to node ``prefer``, or to another node not known dead."""
        pika = _pika()
        order = [prefer] + [n for n in self.cluster.names if n != prefer]
        while True:
            for name in order:
                if name in self.dead:
                    continue
                node = self.cluster.node(name)
                params = pika.ConnectionParameters(
                    "127.0.0.1", node.port, connection_attempts=1, socket_timeout=3,
                    stack_timeout=5, blocked_connection_timeout=30, heartbeat=0)
                try:
                    return name, pika.BlockingConnection(params)
                except pika.exceptions.AMQPError:
                    continue
            if self.now() > deadline:
                raise TimeoutError(f"the {who} found no node to connect to")
            time.sleep(0.2)

    def declare(self, channel) -> None:
        channel.queue_declare(self.queue, durable=True, arguments=self.arguments)


def _consume(c: _Clients, prefer: str, deadline: float, delay: float) -> None:
    """The consumer: subscribe, ack each message; reconnect to a node alive when cut off."""
    pika = _pika()
    errors = (pika.exceptions.AMQPError, OSError)
    node = prefer
    while not c.stop_consuming.is_set():
        conn = None
        try:
            node, conn = c.connect(node, CONSUMER, deadline)
            ch = conn.channel()
            c.declare(ch)
            ch.basic_qos(prefetch_count=c.prefetch)
            for method, props, _ in ch.consume(c.queue, inactivity_timeout=0.1):
                if method is None:
                    if c.stop_consuming.is_set():
                        break
                    continue
                t = c.now()
                record = {"mid": int(props.message_id), "t": t, "node": node,
                          "redelivered": bool(method.redelivered), "t_ack": None}
                with c.lock:
                    c.deliveries.append(record)
                if delay:
                    conn.sleep(delay)
                ch.basic_ack(method.delivery_tag)
                record["t_ack"] = c.now()
            else:  # the broker cancelled the subscription (the queue's node went down)
                c.note(f"consumer: subscription cancelled by {node}")
                raise pika.exceptions.ConsumerCancelled("cancelled by the broker")
            with contextlib.suppress(*errors):
                ch.cancel()
                conn.close()
            return
        except errors as exc:
            c.reconnects[CONSUMER] += 1
            c.note(f"consumer: cut off from {node} ({type(exc).__name__}); reconnecting")
            with c.lock:
                for d in c.deliveries:  # what it had not acked goes back to the queue
                    if d["t_ack"] is None and "t_lost" not in d:
                        d["t_lost"] = c.now()
            if conn is not None:
                with contextlib.suppress(*errors):
                    conn.close()
            if c.now() > deadline:
                c.consumer_error = TimeoutError("the consumer could not reconnect in time")
                return
            time.sleep(0.2)
            node = next((n for n in c.cluster.names if n not in c.dead), prefer)
        except BaseException as exc:  # an error of ours: report it, do not hang the run
            c.consumer_error = exc
            return


def _publish_all(c: _Clients, prefer: str, messages: int, rate: float | None,
                 deadline: float, patience: float, progress) -> None:
    """The producer: publish 1..messages, each until it is confirmed (or until it has tried
    for ``patience`` seconds: then it gives up on that message and the rest)."""
    pika = _pika()
    props_for = {}
    node, conn = c.connect(prefer, PRODUCER, deadline)
    ch = conn.channel()
    c.declare(ch)
    ch.confirm_delivery()
    mid = 1
    first_try = None
    while mid <= messages:
        if c.now() > deadline:
            raise TimeoutError(f"message {mid} was not confirmed before the run's timeout")
        if first_try is not None and c.now() - first_try > patience:
            c.note(f"producer: gave up: message {mid} not confirmed in {patience:g} s")
            c.gave_up = messages - mid + 1
            c.gave_up_after = c.now() - first_try
            break
        if rate:
            wait = (mid - 1) / rate - c.now()
            if wait > 0:
                conn.sleep(wait)
        props = props_for.setdefault(mid, pika.BasicProperties(
            message_id=str(mid), delivery_mode=2, content_type="text/plain"))
        attempt = {"mid": mid, "t": c.now(), "node": node, "outcome": None, "t_out": None}
        if first_try is None:
            first_try = attempt["t"]
        c.attempts.append(attempt)
        reopen = reconnect = False
        try:
            ch.basic_publish("", c.queue, f"message {mid}".encode(), props, mandatory=True)
            attempt["outcome"] = "confirmed"
        except pika.exceptions.NackError:
            attempt["outcome"], reopen = "nacked", True
        except pika.exceptions.UnroutableError:
            attempt["outcome"], reopen = "returned", True
        except (pika.exceptions.AMQPError, OSError) as exc:
            attempt["outcome"], reconnect = "no answer", True
            c.note(f"producer: no answer from {node} ({type(exc).__name__}); reconnecting")
        attempt["t_out"] = c.now()
        if attempt["outcome"] == "confirmed":
            if progress is not None:
                progress.update(mid)
            mid, first_try = mid + 1, None
            continue
        time.sleep(0.05)  # let an election or a restart move on, then try again
        if reopen:  # a channel opened during an election may nack for ever: take a new one
            try:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    ch.close()
                ch = conn.channel()
                ch.confirm_delivery()
            except (pika.exceptions.AMQPError, OSError):
                reconnect = True
        while reconnect:
            if c.now() - first_try > patience:
                break  # given up on at the top of the loop
            c.reconnects[PRODUCER] += 1
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                conn.close()
            if c.now() > deadline:
                raise TimeoutError("the producer could not reconnect before the run's timeout")
            try:
                node, conn = c.connect(next(n for n in c.cluster.names if n not in c.dead),
                                       PRODUCER, deadline)
                ch = conn.channel()
                c.declare(ch)
                ch.confirm_delivery()
                reconnect = False
            except (pika.exceptions.AMQPError, OSError) as exc:
                c.note(f"producer: {node} refused ({type(exc).__name__}: "
                       f"{str(exc)[:80]}); trying again")
                time.sleep(0.2)
    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        conn.close()


def run_through_failure(cluster: RabbitCluster, messages: int = 1000,
                        queue_type: str = "quorum", rate: float | None = 150.0,
                        kill: int | str | None = None, kill_at: float = 2.0,
                        restart_at: float | None = 4.0, home: int | str = 1,
                        publish_to: int | str | None = None,
                        consume_from: int | str | None = None, prefetch: int = 20,
                        consumer_delay: float = 0.0, patience: float = 15.0,
                        timeout: float = 120.0, progress: bool = False) -> ChaosRun:
    """Publish ``messages`` with confirms and consume them with manual acks through the
    ``cluster`` while node ``kill`` is killed (SIGKILL) at ``kill_at`` seconds and restarted
    at ``restart_at``; return a :class:`ChaosRun` (a Run whose trace has real timestamps).

    ``queue_type``: "quorum" (replicated on every node) or "classic" (on its home node only).
    ``home``: the node the queue is declared on (the quorum queue's first leader, the classic
    queue's only copy). ``kill``: the node to kill (default: ``home``). ``publish_to`` and
    ``consume_from``: the nodes the producer and the consumer connect to first (default: the
    home node, and the next one). ``rate``: messages a second the producer aims at (None: as
    fast as the confirms come back). ``prefetch``: the consumer's unacked window;
    ``consumer_delay``: seconds it spends on each message. ``patience``: seconds the producer
    keeps trying to get one message confirmed before it gives up on it and on the rest.
    ``timeout``: the most seconds the run may take. The queue is deleted at the end (unless
    its only copy is on a node still down).
    """
    if not isinstance(cluster, RabbitCluster):
        raise TypeError(f"cluster must be a RabbitCluster, got {type(cluster).__name__}")
    if isinstance(messages, bool) or not isinstance(messages, int) or messages < 1:
        raise ValueError(f"messages must be a whole number >= 1, got {messages!r}")
    if queue_type not in _QUEUE_TYPES:
        raise ValueError(f"queue_type must be one of {_QUEUE_TYPES}, got {queue_type!r}")
    for name, value in (("kill_at", kill_at), ("restart_at", restart_at),
                        ("timeout", timeout), ("consumer_delay", consumer_delay),
                        ("patience", patience)):
        if name == "restart_at" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if restart_at is not None and restart_at < kill_at:
        raise ValueError(f"restart_at ({restart_at}) must not come before kill_at ({kill_at})")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or rate <= 0):
        raise ValueError(f"rate must be messages a second > 0 (or None), got {rate!r}")
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
        raise ValueError(f"prefetch must be a whole number >= 1, got {prefetch!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    home_n = cluster.node(home)
    victim = cluster.node(kill) if kill is not None else home_n
    pub = cluster.node(publish_to) if publish_to is not None else home_n
    con = (cluster.node(consume_from) if consume_from is not None
           else cluster.nodes[home_n.index % cluster.size])
    if not cluster.running():
        raise RuntimeError("every node of the cluster must be running at the start of the run "
                           f"(alive: {cluster.alive_nodes()})")
    pika = _pika()
    queue = f"mqlab.failure.{queue_type}.{secrets.token_hex(3)}"
    arguments = {"x-queue-type": queue_type}
    c = _Clients(cluster, queue, arguments, prefetch)
    deadline = timeout
    # declare on the home node: its leader (or its only copy) is there
    _, admin = c.connect(home_n.name, "setup", deadline)
    c.declare(admin.channel())
    admin.close()
    c.t0 = time.perf_counter()
    times: dict[str, float] = {}
    failure_error: list[BaseException] = []

    def failure() -> None:
        try:
            wait = kill_at - c.now()
            if wait > 0:
                time.sleep(wait)
            c.dead.add(victim.name)
            times["kill"] = c.now()  # the SIGKILL goes now; kill() then waits for the group
            cluster.kill(victim.name)
            c.note(f"{victim.name} killed (SIGKILL)", times["kill"])
            if restart_at is None:
                return
            wait = restart_at - c.now()
            if wait > 0:
                time.sleep(wait)
            times["restart"] = c.now()
            cluster.restart(victim.name)
            times["recover"] = c.now()
            c.dead.discard(victim.name)
            c.note(f"{victim.name} back after {times['recover'] - times['restart']:.1f} s")
        except BaseException as exc:
            failure_error.append(exc)

    killer = threading.Thread(target=failure, name="mqlab-failure", daemon=True)
    consumer = threading.Thread(target=_consume, args=(c, con.name, deadline, consumer_delay),
                                name="mqlab-consumer", daemon=True)
    bar = None
    if progress:
        from mqlab.progress import Progress

        bar = Progress(messages, f"{queue_type} queue through a failure")
    consumer.start()
    killer.start()
    try:
        _publish_all(c, pub.name, messages, rate, deadline, patience, bar)
        times["published"] = c.now()
        killer.join(max(deadline - c.now(), 0.1))
        if killer.is_alive():
            raise TimeoutError(f"{victim.name} did not come back before the run's timeout")
        if failure_error:
            raise failure_error[0]
        # let the consumer finish: every confirmed message, and a quiet moment for duplicates
        confirmed = {a["mid"] for a in c.attempts if a["outcome"] == "confirmed"}
        quiet_since = c.now()
        seen = -1
        while c.now() < deadline and consumer.is_alive():
            with c.lock:
                n = len(c.deliveries)
                acked = {d["mid"] for d in c.deliveries if d["t_ack"] is not None}
            if n != seen:
                seen, quiet_since = n, c.now()
            if confirmed <= acked and c.now() - quiet_since > 1.0:
                break
            if c.now() - quiet_since > 3.0:  # nothing more comes: the rest is lost or stuck
                break
            time.sleep(0.05)
    finally:
        c.stop_consuming.set()
        consumer.join(10)
        killer.join(max(0.1, min(60.0, deadline - c.now())))
        if bar is not None:
            bar.close()
    end = c.now()
    if c.consumer_error is not None:
        raise c.consumer_error
    # what is still in the queue (read out), then the queue is deleted
    left: list[int] = []
    with contextlib.suppress(pika.exceptions.AMQPError, OSError, TimeoutError):
        _, admin = c.connect(con.name, "cleanup", end + 30)
        ch = admin.channel()
        while True:
            method, props, _ = ch.basic_get(queue, auto_ack=True)
            if method is None:
                break
            left.append(int(props.message_id))
        ch.queue_delete(queue)
        admin.close()
    trace = _assemble(c, cluster, queue_type, victim.name, home_n.name, times, end, left,
                      messages)
    return ChaosRun.from_trace(trace)


# -- the trace ---------------------------------------------------------------------------------
def _graph(cluster: RabbitCluster, queue: str, queue_type: str, home: str, facts: dict):
    import networkx as nx

    g = nx.DiGraph(**facts)
    g.add_node(PRODUCER, role="producer", mode="async")
    for name in cluster.names:
        g.add_node(name, role="broker")
    g.add_node(queue, role="queue", broker=home, kind="fifo", capacity=None,
               max_priority=None, aging=None, queue_type=queue_type,
               replicas=list(cluster.names) if queue_type == "quorum" else [home])
    g.add_node(CONSUMER, role="consumer", queue=queue)
    for name in cluster.names:
        g.add_edge(PRODUCER, name, kind="link")
        g.add_edge(name, queue, kind="internal")
    g.add_edge(queue, CONSUMER, kind="deliver")
    return g


def _assemble(c: _Clients, cluster: RabbitCluster, queue_type: str, victim: str, home: str,
              times: dict, end: float, left: list[int], messages: int) -> Trace:
    """Turn what the clients saw into Trace rows (see the module doc)."""
    from mqlab.message import Message

    q = "queue"  # the queue's name in the trace (its name on the broker is random)
    rows: list[tuple] = []
    t_kill = times.get("kill", float("inf"))
    t_back = times.get("recover", float("inf"))
    for t, kind, info in ((t_kill, "crash", "SIGKILL"), (t_back, "recover", "restarted")):
        if t != float("inf"):
            rows.append((t, kind, 0, victim, "", info))
            if queue_type == "classic" and victim == home:  # its only copy is on that node
                rows.append((t, kind, 0, q, "", f"its node {victim} is "
                             + ("down" if kind == "crash" else "back")))
    by_mid: dict[int, tuple[list, list]] = {}
    for a in c.attempts:
        by_mid.setdefault(a["mid"], ([], []))[0].append(a)
    for d in c.deliveries:
        by_mid.setdefault(d["mid"], ([], []))[1].append(d)
    still = set(left)
    down_at_end = queue_type == "classic" and victim == home and "recover" not in times
    for mid in sorted(by_mid):
        attempts, deliveries = by_mid[mid]
        rows += _message_rows(mid, attempts, sorted(deliveries, key=lambda d: d["t"]), q,
                              t_kill, t_back, victim, end, down_at_end or mid in still)
    rows.sort(key=lambda r: r[0])  # stable: each message's rows stay in causal order
    # how long a message waited from its first publish to its confirm (or until the
    # producer gave up on it), at the most
    gaps = sorted(max(a["t_out"] for a in tried) - min(a["t"] for a in tried)
                  for tried, _ in by_mid.values() if tried)
    gaps = sorted(gaps + ([c.gave_up_after] if c.gave_up else []))
    facts = {"queue_type": queue_type, "killed": victim, "home": home,
             "kill_at": times.get("kill"), "restart_at": times.get("restart"),
             "recovered_at": times.get("recover"),
             "longest_wait_for_a_confirm": gaps[-1] if gaps else None,
             "producer_reconnects": c.reconnects[PRODUCER],
             "consumer_reconnects": c.reconnects[CONSUMER],
             "messages": messages, "gave_up": c.gave_up,
             "notes": [f"{t:.2f} s {text}" for t, text in c.notes]}
    messages = {mid: Message(f"message {mid}", PRODUCER, q, "", q, id=mid,
                             created=min(a["t"] for a in by_mid[mid][0]))
                for mid in by_mid if by_mid[mid][0]}
    trace = Trace(rows, graph=_graph(cluster, q, queue_type, home, facts), messages=messages)
    trace.end_time = max([end] + [r[0] for r in rows])
    return trace


def _message_rows(mid: int, attempts: list[dict], deliveries: list[dict], q: str,
                  t_kill: float, t_back: float, victim: str, end: float,
                  keep: bool) -> list[tuple]:
    """One message's rows: its publishes, the copies that entered the queue, its deliveries.

    ``keep``: a copy no consumer got stays in the queue at the end (it was read out of it
    at the end, or the queue is down with its node); otherwise it is ``lost``.
    """
    # each confirmed publish put one copy into the queue; an unconfirmed one may have too:
    # as many as the consumer acked beyond the confirmed ones
    confirmed = [a for a in attempts if a["outcome"] == "confirmed"]
    spare = [a for a in attempts if a["outcome"] != "confirmed"]
    acks = sum(1 for d in deliveries if d["t_ack"] is not None)
    copies = confirmed + spare[:max(0, acks - len(confirmed))]
    first_delivery = deliveries[0]["t"] if deliveries else float("inf")
    entered = {id(a): max(a["t"], min(a["t_out"], first_delivery)) for a in copies}
    waiting = sorted(copies, key=lambda a: entered[id(a)])  # not yet in the queue
    pool: list[dict] = []  # copies ready in the queue, head first
    delivered: set[int] = set()
    later: list[tuple] = []  # the rows of the copies' lives in the queue and after

    def last(t: float) -> float:
        return max(t, later[-1][0]) if later else t

    for d in deliveries:
        while waiting and entered[id(waiting[0])] <= d["t"]:
            pool.append(waiting.pop(0))
        if not pool and waiting and waiting[0]["t"] <= d["t"]:
            # published, and the consumer had it before the confirm came back
            a = waiting.pop(0)
            entered[id(a)] = max(a["t"], d["t"])
            pool.append(a)
        t = last(d["t"])
        if pool:
            copy = pool.pop(0)
            delivered.add(id(copy))
            later += [(t, "deliver", mid, q, CONSUMER, ""), (t, "arrive", mid, CONSUMER, q, "")]
            if d["t_ack"] is not None:
                later.append((max(d["t_ack"], t), "ack", mid, CONSUMER, q, "manual"))
            else:  # cut off before its ack: the broker puts it back
                back = max(d.get("t_lost", end), t)
                later += [(back, "nack", mid, CONSUMER, q, "connection lost"),
                          (back, "requeue", mid, q, "", "")]
                pool.insert(0, copy)
        else:  # delivered again after it was acked (the ack was lost with a crash)
            later += [(t, "duplicate", mid, q, CONSUMER, "redelivered"),
                      (t, "arrive", mid, CONSUMER, q, "")]
            if d["t_ack"] is not None:
                later.append((max(d["t_ack"], t), "ack", mid, CONSUMER, q, "manual"))
            else:
                later.append((max(d.get("t_lost", end), t), "drop", mid, CONSUMER, "",
                              "connection lost"))
    unseen = {id(a) for a in pool + waiting if id(a) not in delivered}
    rows: list[tuple] = []
    for a in sorted(attempts, key=lambda a: a["t"]):
        node, t_out = a["node"], max(a["t_out"], a["t"])
        rows.append((a["t"], "publish", mid, PRODUCER, node, q))
        if id(a) in entered and (keep or id(a) not in unseen):
            t_in = entered[id(a)]
            rows += [(t_in, "arrive", mid, node, PRODUCER, a["outcome"]),
                     (t_in, "route", mid, node, q, q), (t_in, "enqueue", mid, q, "", "")]
        elif id(a) in entered:  # confirmed, and no consumer ever got it: lost
            t_in = entered[id(a)]
            rows += [(t_in, "arrive", mid, node, PRODUCER, a["outcome"]),
                     (t_in, "route", mid, node, q, q), (t_in, "drop", mid, q, "", "lost")]
        elif a["outcome"] == "returned":
            rows += [(t_out, "arrive", mid, node, PRODUCER, a["outcome"]),
                     (t_out, "drop", mid, node, "", "unroutable")]
        elif node == victim and t_kill <= t_out and a["t"] <= t_back:
            t_down = max(a["t"], min(t_kill, t_out))  # its node was killed under it
            rows += [(t_down, "arrive", mid, node, PRODUCER, a["outcome"]),
                     (t_down, "drop", mid, node, "", "broker down")]
        else:  # refused (no leader), or no answer: it never got into the queue
            rows += [(t_out, "arrive", mid, node, PRODUCER, a["outcome"]),
                     (t_out, "route", mid, node, q, q),
                     (t_out, "drop", mid, q, "", a["outcome"])]
    lost_again = [c for c in pool if id(c) in delivered]  # requeued, then never seen again
    if lost_again and not keep:
        t = max([end] + [r[0] for r in rows + later])
        later += [(t, "drop", mid, q, "", "lost") for _ in lost_again]
    return _causal(rows + later)


def _causal(rows: list[tuple]) -> list[tuple]:
    """One message's rows in the order they happened, never going back in time."""
    out, last = [], float("-inf")
    for r in sorted(rows, key=lambda r: r[0]):
        last = max(last, r[0])
        out.append((last, *r[1:]))
    return out


# -- what a run through a failure shows --------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What happened to the messages of a run through a failure, read from its trace."""

    published: int  # distinct messages the producer published (at least once)
    attempts: int  # publishes, republishes included
    confirmed: frozenset  # ids the broker confirmed
    consumed: frozenset  # ids a consumer acked
    lost: tuple  # confirmed, never consumed, and in no queue at the end
    left: tuple  # still in a queue at the end, a queue that works
    stranded: tuple  # still in a queue at the end, a queue that is down with its only node
    duplicates: int  # acks beyond the first of each message (delivery is at least once)
    refused: dict  # what the producer heard instead of a confirm -> how many times

    @property
    def unconfirmed_but_consumed(self) -> frozenset:
        """Published, no confirm heard (the connection went first), and consumed all the
        same: why a producer that republishes makes duplicates."""
        return self.consumed - self.confirmed


def outcome(run_or_trace: Any) -> Outcome:
    """Count confirmed, consumed, lost and duplicated messages in the trace of a run through
    a failure (also one loaded with :meth:`~mqlab.Trace.load`)."""
    from mqlab.state import Timeline
    from mqlab.trace import as_trace

    trace = as_trace(run_or_trace)
    published, confirmed, consumed, acks = set(), set(), set(), 0
    attempts = 0
    refused: dict[str, int] = {}
    for _, kind, m, node, peer, info in trace.rows:
        if kind == "publish" and node == PRODUCER:
            attempts += 1
            published.add(m)
        elif kind == "arrive" and peer == PRODUCER:
            if info == "confirmed":
                confirmed.add(m)
            else:
                refused[info] = refused.get(info, 0) + 1
        elif kind == "ack":
            acks += 1
            consumed.add(m)
    state = Timeline(trace).at(trace.duration)
    left = sorted({m for q, ids in state.queues.items() if q not in state.down for m in ids})
    stranded = sorted({m for q, ids in state.queues.items() if q in state.down for m in ids})
    lost = tuple(sorted(confirmed - consumed - set(left) - set(stranded)))
    return Outcome(len(published), attempts, frozenset(confirmed), frozenset(consumed), lost,
                   tuple(left), tuple(stranded), acks - len(consumed),
                   dict(sorted(refused.items())))


class ChaosRun(Run):
    """A run through a failure: a :class:`~mqlab.Run` (``trace``, ``summary()``,
    ``play()``) plus its :class:`Outcome` (``run.outcome``: confirmed, consumed, lost,
    duplicates), what was done (``queue_type``, ``killed``, ``facts``) and ``report()``.

    ``ChaosRun.from_trace(Trace.load(path))`` gives the same for a saved run.
    """

    def __init__(self, trace: Trace, still: dict, recorded: bool = True) -> None:
        super().__init__(trace, still, recorded)
        self.facts = dict(trace.graph.graph) if trace.graph is not None else {}
        self.queue_type = self.facts.get("queue_type")
        self.killed = self.facts.get("killed")
        self.outcome = outcome(trace)

    @property
    def confirmed(self) -> frozenset:
        return self.outcome.confirmed

    @property
    def consumed(self) -> frozenset:
        return self.outcome.consumed

    @property
    def lost(self) -> tuple:
        return self.outcome.lost

    @property
    def duplicates(self) -> int:
        return self.outcome.duplicates

    def report(self) -> str:
        """A few lines: what was done, and what became of the messages."""
        o, f = self.outcome, self.facts

        def at(key: str) -> str:
            return "-" if f.get(key) is None else f"{f[key]:.2f} s"

        refused = ", ".join(f"{k} {v}" for k, v in o.refused.items()) or "none"
        wait = f.get("longest_wait_for_a_confirm")
        lines = [
            f"{self.queue_type} queue; {self.killed} killed at {at('kill_at')}, restarted at "
            f"{at('restart_at')}, back at {at('recovered_at')}",
            f"published {o.published} messages in {o.attempts} publishes "
            f"(not confirmed: {refused})",
            f"confirmed {len(o.confirmed)}, consumed {len(o.consumed)}, "
            f"lost {len(o.lost)} (confirmed, never consumed), duplicates {o.duplicates}, "
            f"left in the queue {len(o.left)}",
            "longest wait for a confirm: " + ("-" if wait is None else f"{wait:.2f} s")
            + f"; reconnections: producer {f.get('producer_reconnects', 0)}, "
            f"consumer {f.get('consumer_reconnects', 0)}",
        ]
        if o.stranded:
            lines.append(f"stranded: {len(o.stranded)} confirmed messages are in the queue on "
                         f"{self.killed}, which is down: no consumer can have them unless it "
                         "comes back with its disk")
        if f.get("gave_up"):
            lines.append(f"the producer gave up (no confirm for too long): {f['gave_up']} "
                         f"of {f.get('messages')} messages never confirmed")
        if o.unconfirmed_but_consumed:
            lines.append(f"consumed without a confirm (the producer could not know): "
                         f"{len(o.unconfirmed_but_consumed)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        o = self.outcome
        return (f"<ChaosRun {self.queue_type}: confirmed {len(o.confirmed)}, consumed "
                f"{len(o.consumed)}, lost {len(o.lost)}, duplicates {o.duplicates}>")


# -- the command line --------------------------------------------------------------------------
def _record(args: argparse.Namespace) -> int:
    """Start a cluster of its own, run it through a failure, save the trace, stop it."""
    if not args.node:
        print("record needs the file to save the trace to", file=sys.stderr)
        return 2
    with RabbitCluster(args.size, memory=args.memory) as cluster:
        print(f"cluster formed in {cluster.started_in:.1f} s", file=sys.stderr)
        began = time.monotonic()
        run = run_through_failure(
            cluster, messages=args.messages, rate=args.rate, queue_type=args.queue_type,
            kill_at=args.kill_at, restart_at=None if args.restart_at < 0 else args.restart_at,
            patience=3.0 if args.restart_at < 0 else 30.0)
        print(f"run took {time.monotonic() - began:.1f} s", file=sys.stderr)
    run.trace.save(args.node)
    print(run.report())
    return 0


def main(argv: list[str] | None = None) -> int:
    """``start`` (print the URLs), ``status``, ``kill N``, ``restart N`` or ``stop`` the
    cluster kept in ``--base``."""
    parser = argparse.ArgumentParser(
        prog="python -m mqlab.rabbit_cluster",
        description="A private, loopback-only RabbitMQ cluster for mqlab's lessons.")
    parser.add_argument("command", choices=("start", "status", "kill", "restart", "stop",
                                            "record"))
    parser.add_argument("node", nargs="?", help="kill, restart: the node (1, 2, ... or "
                        "rabbit1); record: the file to save the trace to (.json.gz)")
    parser.add_argument("--queue-type", default="quorum", choices=_QUEUE_TYPES,
                        help="record: the queue's type (default: quorum)")
    parser.add_argument("--messages", type=int, default=400, help="record: messages (400)")
    parser.add_argument("--rate", type=float, default=100.0, help="record: messages a second")
    parser.add_argument("--kill-at", type=float, default=1.5, help="record: seconds (1.5)")
    parser.add_argument("--restart-at", type=float, default=2.5,
                        help="record: seconds (2.5; a negative number: not during the run)")
    parser.add_argument("--base", default=str(default_base("mqlab-cluster")),
                        help="directory for its data, logs and state (default: %(default)s)")
    parser.add_argument("--size", type=int, default=3, help="nodes (default: 3)")
    parser.add_argument("--memory", default="256MB", help="memory watermark of each node")
    args = parser.parse_args(argv)
    if args.command == "record":
        return _record(args)
    old = RabbitCluster.attach(args.base)
    if args.command == "start":
        if old is not None and old.alive_nodes():
            print("\n".join(old.urls))
            return 0
        if old is not None:  # a stale record: clear what is left of it first
            old.stop()
        cluster = RabbitCluster(args.size, args.base, args.memory)
        try:
            cluster.start()
        except BrokerStartError as exc:
            print(exc, file=sys.stderr)
            return 1
        print("\n".join(cluster.urls))
        return 0
    if old is None or not old.alive_nodes():
        print("not running")
        if old is not None and args.command == "stop":
            old.stop()
        return 0 if args.command == "stop" else 3
    if args.command == "status":
        for n in old.nodes:
            state = "running" if old.running(n.index) else "down"
            print(f"{n.name}: {state} {n.url}")
        return 0
    if args.command in ("kill", "restart"):
        if args.node is None:
            parser.error(f"{args.command} needs a node: 1 to {old.size}")
        node = int(args.node) if args.node.isdigit() else args.node
        try:
            if args.command == "kill":
                old.kill(node)
                print(f"{old.node(node).name} killed")
            else:
                took = old.restart(node)
                print(f"{old.node(node).name} back in {took:.1f} s")
        except (RuntimeError, ValueError, BrokerStartError) as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    old.stop()
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
