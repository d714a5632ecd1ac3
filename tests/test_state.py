"""Where every message is at any moment, read from the trace alone (no drawing)."""

import math
import subprocess
import sys

import numpy as np
import pytest

import mqlab as mq
from mqlab.state import Timeline, trips
from mqlab.trace import Trace


def test_state_needs_no_matplotlib():
    code = ("import sys, mqlab as mq\n"
            "from mqlab.state import Timeline\n"
            "net = mq.Network(seed=1)\n"
            "net.producer('p', schedule=[0.0, 0.0], routing_key='jobs')\n"
            "net.broker('hub'); net.queue('hub', 'jobs'); net.consumer('c', queue='jobs')\n"
            "print(Timeline(net.run(until=1).trace).at(0.05).queues)\n"
            "assert 'matplotlib' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'jobs': [2]}"


# -- one pairing rule for trips over links ----------------------------------------------------
def test_a_trip_ends_at_the_oldest_unfinished_send():
    t = Trace([(0.0, "publish", 1, "p", "hub"), (0.1, "duplicate", 1, "p", "hub"),
               (0.3, "arrive", 1, "hub", "p"), (0.4, "arrive", 1, "hub", "p")])
    assert [(x.kind, x.t0, x.t1) for x in trips(t)] == [("publish", 0.0, 0.3),
                                                         ("duplicate", 0.1, 0.4)]


def test_a_crash_cuts_the_trips_on_their_way_to_it_and_the_end_leaves_the_rest_open():
    t = Trace([(0.0, "deliver", 1, "q", "c"), (0.0, "deliver", 2, "q", "d"),
               (0.5, "crash", 0, "c"), (0.6, "arrive", 9, "x", "y")])
    t.end_time = 1.0
    got = {x.msg: (x.end, x.t1) for x in trips(t)}
    assert got == {1: ("cut", 0.5), 2: ("open", math.inf)}


def test_a_trace_without_arrivals_has_instant_trips():
    t = Trace([(0.0, "publish", 1, "main", "jobs"), (0.2, "deliver", 1, "jobs", "w")])
    assert [(x.t0, x.t1, x.end) for x in trips(t)] == [(0.0, 0.0, "arrive"), (0.2, 0.2, "arrive")]


def test_the_player_and_the_sequence_diagram_pair_trips_alike():
    from mqlab import charts

    net = mq.Network(seed=3)
    net.producer("p", interval=0.1, count=20, routing_key="jobs")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("c", queue="jobs", service=0.05)
    net.link("p", "hub", latency=mq.uniform(0.0, 0.5), duplicate=0.3, loss=0.1)
    trace = net.run(until=5).trace
    hops, _ = charts.hops(trace, list(range(1, 21)))
    drawn = sorted((h.msg, h.t0, h.t1) for h in hops if h.src == "p")
    tl = Timeline(trace)
    played = sorted((int(m), float(a), float(b)) for a, b, src, m in
                    zip(tl.hops[0], tl.hops[1], tl.hops[2], tl.hops[4], strict=True) if src == "p")
    assert drawn == played and len(drawn) > 20  # duplicates make more trips than messages


# -- the state at a moment ---------------------------------------------------------------------
def backlog(seed, kind="fifo", until=6.0):
    net = mq.Network(seed=seed)
    net.producer("p", rate=6.0, routing_key="jobs", priority=[0, 3, 7])
    net.broker("hub")
    net.queue("hub", "jobs", kind=kind, capacity=12, overflow="drop-head")
    net.consumer("a", queue="jobs", service=mq.exponential(0.5), prefetch=3)
    net.consumer("b", queue="jobs", service=mq.exponential(0.5), prefetch=2)
    net.link("p", "hub", latency=0.05)
    net.link("jobs", "a", latency=0.1)
    return net.run(until=until)


def test_a_priority_queue_shows_its_highest_priority_first():
    run = backlog(seed=5, kind="priority")
    state = Timeline(run).at(5.0)
    prios = [run.trace.messages[m].priority for m in state.queues["jobs"]]
    assert len(prios) > 3 and prios == sorted(prios, reverse=True)


@pytest.mark.parametrize("seed", [1, 3, 4, 5, 6])  # seeds that end with a backlog
@pytest.mark.parametrize("kind", ["fifo", "priority"])
def test_the_last_picture_shows_what_the_summary_says_is_left(seed, kind):
    run = backlog(seed, kind)
    still = run.summary().still
    player = run.play(frames=12, progress=False)
    player.show(len(player.frame_times) - 1)
    state = player.state
    assert state.time == run.trace.duration
    assert {q: len(ids) for q, ids in state.queues.items()} == still["queued"]
    assert state.held == still["at_consumers"]
    assert state.blocked == still["blocked"]
    assert sum(1 for _, src, _, _ in state.on_links if src == "p") == still["on_links"]
    assert sum(still["queued"].values()) > 0 and sum(still["at_consumers"].values()) > 0
    player.close()


def test_counters_at_a_moment_count_the_events_so_far():
    run = backlog(seed=1)
    state = run.state(3.0)
    early = run.trace.filter(stop=3.0 + 1e-12)
    assert state.counters["published"] == len(early.filter(kind="publish"))
    assert state.counters["acked"] == len(early.filter(kind="ack"))


def test_state_refuses_a_time_that_is_not_a_number():
    with pytest.raises(TypeError, match="t must be a time"):
        backlog(seed=1).state("late")


def request_reply():
    net = mq.Network(seed=2)
    net.producer("client", interval=0.2, count=5, routing_key="jobs", mode="sync")
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("server", queue="jobs", service=0.3)
    net.link("client", "hub", latency=0.4)
    net.link("jobs", "server", latency=0.3)
    return net.run(until=10)


def test_a_reply_travels_back_from_the_consumer_that_acked_to_the_producer():
    run = request_reply()
    replies = [x for x in trips(run.trace) if x.kind == "reply"]
    acks = {e.msg: e.time for e in run.trace.filter(kind="ack")}
    answers = {e.msg: e.time for e in run.trace.filter(kind="reply")}
    assert [(x.src, x.dst) for x in replies] == [("server", "client")] * 5
    assert [(x.t0, x.t1) for x in replies] == [(acks[m], answers[m]) for m in sorted(acks)]
    # message 1: acked at 1.2 s, answered at 1.2 + 0.3 + 0.4 s: half-way back at 1.55 s
    assert run.state(1.55).on_links == [(1, "server", "client", pytest.approx(0.5))]


def test_the_player_draws_a_reply_as_a_hollow_dot_on_its_way_back():
    import matplotlib

    matplotlib.use("Agg")
    from mqlab.scene import Scene

    scene = Scene(request_reply(), metrics=False)
    xy, ids = scene.dots(1.55)
    assert ids.tolist() == [1]
    scene.draw(1.55)
    drawn = np.vstack([np.column_stack(line.get_data()) for line in scene._replies.lines])
    assert drawn == pytest.approx(xy)
    solid = np.vstack([np.column_stack(line.get_data()) for line in scene._dots.lines])
    assert len(solid) == 0  # not drawn as a message going forward
    assert "reply" in [t.get_text() for t in scene.ax.get_legend().get_texts()]


def test_an_aging_priority_queue_is_drawn_in_the_order_it_delivers():
    net = mq.Network(seed=1)
    net.producer("p", rate=8.0, routing_key="jobs", priority=[0, 5], count=60)
    net.broker("hub")
    net.queue("hub", "jobs", kind="priority", aging=1.0, max_priority=9)
    net.consumer("c", queue="jobs", service=0.25)
    run = net.run(until=10)
    timeline = Timeline(run)
    for t in (2.0, 4.0, 6.0, 8.0):
        waiting = timeline.at(t).queues["jobs"]
        later = [e.msg for e in run.trace.filter(kind="deliver", node="jobs", start=t + 1e-9)]
        assert len(waiting) >= 4
        # the head of the tray is what the queue hands out next (later arrivals may cut in)
        assert waiting[:4] == [m for m in later if m in waiting][:4]
    # and low priorities that waited long enough are ahead of newer high ones
    assert any(run.trace.messages[m].priority == 0 for m in timeline.at(8.0).queues["jobs"][:2])


def test_a_reply_goes_all_the_way_round_its_route_back():
    import matplotlib

    matplotlib.use("Agg")
    from mqlab.scene import Scene

    run = request_reply()  # producer and consumer on one row: down, across, up
    scene = Scene(run, metrics=False)
    route = scene._back_route("server", "client")
    down, across, up = (scene.dots(t)[0][0] for t in (1.21, 1.55, 1.89))  # message 1
    assert down[0] == pytest.approx(route[0][0]) and route[1][1] < down[1] < route[0][1]
    assert route[2][0] < across[0] < route[1][0] and across[1] == pytest.approx(route[1][1])
    assert up[0] == pytest.approx(route[3][0]) and route[2][1] < up[1] < route[3][1]
