"""mqlab.rabbit_cluster: a real three-node RabbitMQ cluster on this machine, a node killed in
the middle of a run, and the run recorded as a Trace.

One cluster serves the whole module (it takes 15-30 s to form on two cores); the last test
stops it and checks that nothing it started is left running or listening.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import matplotlib
import pytest

from mqlab.metrics import queue_length
from mqlab.rabbit_cluster import (
    CONSUMER,
    PRODUCER,
    ChaosRun,
    RabbitCluster,
    _message_rows,
    main,
    outcome,
    run_through_failure,
)
from mqlab.rabbit_server import alive, listening
from mqlab.run import Run
from mqlab.trace import Trace

matplotlib.use("Agg")

MESSAGES = 500


# -- without a broker ---------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"size": 0}, ValueError, "size"),
    ({"size": True}, ValueError, "size"),
    ({"memory": "lots"}, ValueError, "memory"),
    ({"timeout": -1}, ValueError, "timeout"),
])
def test_bad_cluster_settings_are_refused_clearly(kwargs, error, words):
    with pytest.raises(error, match=words):
        RabbitCluster(**kwargs)


def test_a_cluster_not_started_says_so():
    cluster = RabbitCluster()
    assert not cluster.running() and cluster.alive_nodes() == []
    with pytest.raises(RuntimeError, match="start"):
        cluster.urls  # noqa: B018
    assert "stopped" in repr(cluster)
    cluster.stop()  # nothing to stop: no error


def test_a_run_needs_a_cluster_and_sound_settings():
    with pytest.raises(TypeError, match="RabbitCluster"):
        run_through_failure("amqp://127.0.0.1")
    cluster = RabbitCluster()
    for kwargs, words in [({"queue_type": "stream"}, "queue_type"), ({"messages": 0}, "messages"),
                          ({"kill_at": 3, "restart_at": 1}, "restart_at"),
                          ({"rate": 0}, "rate"), ({"prefetch": 0}, "prefetch")]:
        with pytest.raises(ValueError, match=words):
            run_through_failure(cluster, **kwargs)


def test_the_command_line_says_when_no_cluster_runs(tmp_path, capsys):
    assert main(["status", "--base", str(tmp_path)]) == 3
    assert main(["stop", "--base", str(tmp_path)]) == 0
    assert "not running" in capsys.readouterr().out


def _account_balances(rows):
    trace = Trace(sorted(rows, key=lambda r: r[0]))
    run = Run.from_trace(trace)
    return run.summary().balanced, outcome(trace)


def test_what_the_clients_saw_becomes_rows_that_add_up():
    """Message 1: nacked once, then confirmed; delivered, cut off before its ack, delivered
    again and acked. Message 2: no answer (its copy got in all the same), then confirmed: two
    copies, both consumed (a duplicate). Message 3: confirmed, never consumed: lost."""
    def attempt(t, outcome_, node="rabbit1"):
        return {"t": t, "t_out": t + 0.01, "node": node, "outcome": outcome_}

    def delivery(t, acked=True):
        d = {"t": t, "node": "rabbit2", "redelivered": False, "t_ack": t + 0.001 if acked
             else None}
        if not acked:
            d["t_lost"] = t + 0.5
        return d

    inf = float("inf")
    rows = _message_rows(1, [attempt(0.0, "nacked"), attempt(0.1, "confirmed")],
                         [delivery(0.2, acked=False), delivery(0.8)], "queue", inf, inf,
                         "rabbit1", 2.0, keep=False)
    rows += _message_rows(2, [attempt(0.3, "no answer"), attempt(0.4, "confirmed", "rabbit2")],
                          [delivery(0.35), delivery(0.5)], "queue", inf, inf, "rabbit1", 2.0,
                          keep=False)
    rows += _message_rows(3, [attempt(0.6, "confirmed")], [], "queue", inf, inf, "rabbit1",
                          2.0, keep=False)
    # message 4: no answer, yet consumed; its queue's node is killed before the ack is on
    # disk, so it is delivered again when the node is back, and then its republished copy
    rows += _message_rows(4, [attempt(0.7, "no answer"), attempt(1.5, "confirmed", "rabbit2")],
                          [delivery(0.705), delivery(1.49), delivery(1.52)], "queue", 0.75,
                          1.4, "rabbit1", 2.0, keep=False)
    for mid in (1, 2, 3, 4):
        times = [r[0] for r in rows if r[2] == mid]
        assert times == sorted(times), "each message's rows go forward in time"
    balanced, o = _account_balances(rows)
    assert balanced
    assert o.confirmed == {1, 2, 3, 4} and o.consumed == {1, 2, 4}
    assert o.lost == (3,) and o.duplicates == 3
    assert o.refused == {"nacked": 1, "no answer": 2}
    assert any(r[1] == "requeue" and r[2] == 1 for r in rows)
    assert [r[1] for r in rows if r[2] == 4].count("duplicate") == 1
    # nothing leaves the queue before it entered it
    _, lengths = queue_length(Trace(sorted(rows, key=lambda r: r[0])), "queue")
    assert min(lengths) >= 0 and lengths[-1] == 0


# -- on a real cluster --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    from conftest import require_broker, skip_or_fail

    from mqlab.rabbit_server import BrokerStartError

    require_broker()
    c = RabbitCluster(3)
    try:
        c.start()
    except BrokerStartError as exc:
        skip_or_fail(f"a RabbitMQ cluster does not start: {exc}", "MQLAB_REQUIRE_BROKER")
    yield c
    c.stop()


@pytest.fixture(scope="module")
def quorum_run(cluster) -> ChaosRun:
    """A quorum queue; the node holding its leader (where the producer is connected too)
    is killed 1 s in, while messages flow, and restarted 1 s later."""
    began = time.monotonic()
    run = run_through_failure(cluster, messages=MESSAGES, rate=250.0, queue_type="quorum",
                              kill=1, kill_at=1.0, restart_at=2.0)
    run.seconds = time.monotonic() - began
    return run


def _own_processes(base: Path) -> list[int]:
    """Processes of ours whose environment points into the cluster's directory."""
    mark = str(base).encode()
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark in (entry / "environ").read_bytes() and alive(int(entry.name)):
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


@pytest.mark.broker
def test_three_nodes_form_one_cluster_listening_on_loopback_only(cluster):
    assert cluster.running() and cluster.alive_nodes() == ["rabbit1", "rabbit2", "rabbit3"]
    assert cluster.status() == {"running": ["rabbit1", "rabbit2", "rabbit3"],
                                "members": ["rabbit1", "rabbit2", "rabbit3"]}
    sockets = listening(_own_processes(cluster.base))
    assert {port for _, port, _ in sockets} == set(cluster.ports)
    assert all(a.startswith("127.") or a == "::1" for a, _, _ in sockets), sockets
    assert len(set(cluster.urls)) == 3
    assert cluster.started_in is not None and cluster.started_in < 90


@pytest.mark.broker
def test_every_confirmed_message_is_consumed_though_a_node_is_killed(quorum_run, cluster):
    o = quorum_run.outcome
    assert o.confirmed == set(range(1, MESSAGES + 1)), "the producer got every message in"
    assert o.lost == () and o.stranded == () and o.left == ()
    assert o.confirmed <= o.consumed
    trace = quorum_run.trace
    crash = trace.filter(kind="crash", node="rabbit1")
    recover = trace.filter(kind="recover", node="rabbit1")
    assert len(crash) == 1 and len(recover) == 1
    t_kill = crash[0].time
    confirms = [e.time for e in trace.filter(kind="arrive", peer=PRODUCER)
                if e.info == "confirmed"]
    assert min(confirms) < t_kill < max(confirms), "the node was killed mid-stream"
    # after the kill, the producer went on through the nodes still alive; a publish sent into
    # the dying connection just after the SIGKILL can only go unanswered
    for e in trace.filter(kind="publish", start=t_kill):
        if e.peer == "rabbit1":
            answers = [a.info for a in trace.filter(kind="arrive", msg=e.msg, start=e.time)
                       if a.node == "rabbit1"]
            assert answers[:1] == ["no answer"], (e, answers)
    assert {e.peer for e in trace.filter(kind="publish", start=t_kill + 1.0)} <= {
        "rabbit2", "rabbit3"}
    assert quorum_run.facts["longest_wait_for_a_confirm"] < 5.0
    assert cluster.running(), "the killed node is back"
    print(f"\nquorum run: {quorum_run.seconds:.1f} s\n{quorum_run.report()}")


@pytest.mark.broker
def test_the_recorded_trace_adds_up_replays_and_survives_a_save(quorum_run, tmp_path):
    summary = quorum_run.summary()
    assert summary.balanced, summary.text()
    a = summary.account
    assert a.acked == len(quorum_run.consumed) + quorum_run.duplicates
    assert a.published == quorum_run.outcome.attempts
    graph = quorum_run.graph
    roles = dict(graph.nodes(data="role"))
    assert roles == {PRODUCER: "producer", "rabbit1": "broker", "rabbit2": "broker",
                     "rabbit3": "broker", "queue": "queue", CONSUMER: "consumer"}
    assert graph.nodes["queue"]["replicas"] == ["rabbit1", "rabbit2", "rabbit3"]
    t_kill = quorum_run.trace.filter(kind="crash")[0].time
    assert quorum_run.state(t_kill + 0.01).down == ["rabbit1"]
    assert quorum_run.state(quorum_run.trace.duration).down == []
    from mqlab.player import Player

    player = Player(quorum_run, frames=4, progress=False)
    assert len(player.images) == 4
    path = tmp_path / "cluster.json.gz"
    quorum_run.trace.save(path)
    again = ChaosRun.from_trace(Trace.load(path))
    assert again.outcome == quorum_run.outcome and again.killed == "rabbit1"
    assert again.summary().balanced


@pytest.mark.broker
def test_the_command_line_sees_the_running_cluster(cluster, capsys):
    assert main(["status", "--base", str(cluster.base)]) == 0
    out = capsys.readouterr().out
    assert out.count("running") == 3 and all(url in out for url in cluster.urls)


@pytest.mark.broker
def test_a_classic_queue_goes_down_with_its_node_a_quorum_queue_does_not(cluster):
    """The same failure for both: the queue's home node is killed 1 s in and does not come
    back during the run; the consumer (25 a second) is slower than the producer, so messages
    wait even when a busy machine slows the producer down."""
    same = {"messages": 300, "rate": 150.0, "kill": 1, "kill_at": 1.0, "restart_at": None,
            "consumer_delay": 0.04, "patience": 2.0}
    runs = {}
    for queue_type in ("quorum", "classic"):
        began = time.monotonic()
        runs[queue_type] = run = run_through_failure(cluster, queue_type=queue_type, **same)
        print(f"\n{queue_type} run: {time.monotonic() - began:.1f} s\n{run.report()}")
        cluster.restart(1)
        assert run.summary().balanced
    quorum, classic = runs["quorum"].outcome, runs["classic"].outcome
    assert quorum.confirmed == set(range(1, 301)) and quorum.lost == ()
    assert quorum.stranded == () and quorum.confirmed <= quorum.consumed
    # the classic queue: publishing stops, and what waited in it is out of reach
    assert runs["classic"].facts["gave_up"] > 0
    assert len(classic.stranded) > 0 and classic.lost == ()
    assert set(classic.stranded) <= classic.confirmed - classic.consumed
    assert classic.confirmed - classic.consumed == set(classic.stranded)
    assert runs["classic"].state(runs["classic"].trace.duration).down == ["rabbit1", "queue"]


@pytest.mark.broker
def test_stopping_ends_everything_it_started(cluster):
    pids, ports, base = cluster.pids, cluster.ports, cluster.base
    assert len(pids) == 7  # epmd, and each node's launcher and Erlang VM
    began = time.monotonic()
    cluster.stop()
    assert time.monotonic() - began < 40
    assert [p for p in pids if alive(p)] == []
    assert [(a, p) for a, p, _ in listening() if p in ports] == []
    assert _own_processes(base) == []
    assert not os.path.exists(base)
