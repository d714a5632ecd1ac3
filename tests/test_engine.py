"""The engine: a clock that jumps from event to event, ties broken by scheduling order."""

import pytest

from mqlab import Engine


def test_events_run_in_time_order_whatever_order_they_were_scheduled():
    sim, log = Engine(), []
    for t in [3.0, 1.0, 2.0]:
        sim.schedule(t, lambda t=t: log.append((sim.now, t)))
    sim.run()
    assert log == [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]


def test_events_at_the_same_time_run_in_the_order_they_were_scheduled():
    sim, log = Engine(), []
    for name in ["a", "b", "c", "d"]:
        sim.schedule(1.0, log.append, name)
    sim.schedule(0.5, log.append, "early")
    sim.run()
    assert log == ["early", "a", "b", "c", "d"]


def test_an_event_can_schedule_more_events_even_for_right_now():
    sim, log = Engine(), []

    def ping(n):
        log.append(("ping", n, sim.now))
        if n < 3:
            sim.schedule(1.5, ping, n + 1)
        sim.schedule(0.0, log.append, ("echo", n, sim.now))

    sim.schedule(0.0, ping, 1)
    sim.run()
    assert log == [
        ("ping", 1, 0.0), ("echo", 1, 0.0),
        ("ping", 2, 1.5), ("echo", 2, 1.5),
        ("ping", 3, 3.0), ("echo", 3, 3.0),
    ]


def test_run_until_stops_before_later_events_and_sets_the_clock():
    sim, log = Engine(), []
    for t in [1.0, 2.0, 2.5, 4.0]:
        sim.schedule(t, log.append, t)
    sim.run(until=2.5)  # an event exactly at `until` still runs
    assert (log, sim.now, sim.pending()) == ([1.0, 2.0, 2.5], 2.5, 1)
    sim.run(until=10)
    assert (log, sim.now, sim.pending()) == ([1.0, 2.0, 2.5, 4.0], 10, 0)


def test_run_without_until_stops_at_the_last_event():
    sim = Engine()
    sim.schedule(7.0, lambda: None)
    sim.run()
    assert sim.now == 7.0 and sim.pending() == 0


def test_delays_are_relative_to_now_and_at_is_absolute():
    sim, log = Engine(), []
    sim.schedule(2.0, lambda: (sim.schedule(1.0, log.append, "relative"),
                               sim.at(2.0, log.append, "at now runs next"),
                               sim.at(5.0, log.append, "absolute")))
    sim.run()
    assert log == ["at now runs next", "relative", "absolute"]
    assert sim.now == 5.0
    with pytest.raises(ValueError, match="time must not be before now"):
        sim.at(1.0, log.append, "in the past")


def test_step_runs_exactly_one_event():
    sim, log = Engine(), []
    sim.schedule(1.0, log.append, "a")
    sim.schedule(2.0, log.append, "b")
    sim.step()
    assert (log, sim.now, sim.pending()) == (["a"], 1.0, 1)


def test_the_engine_rng_is_seeded_and_private():
    import random

    state = random.getstate()
    draws = [Engine(seed=3).rng.random() for _ in range(2)]
    assert draws[0] == draws[1]
    assert Engine(seed=3).rng.random() != Engine(seed=4).rng.random()
    assert random.getstate() == state


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_many_ties_keep_their_order(n):
    sim, log = Engine(), []
    for i in range(n):
        sim.schedule(0.25, log.append, i)
    sim.run()
    assert log == list(range(n))


def test_the_clock_never_goes_back():
    sim = Engine(seed=1)
    sim.run(until=5)
    with pytest.raises(ValueError, match="delay must be >= 0"):
        sim.schedule(-1.0, print)
    with pytest.raises(ValueError, match="until must not be before now"):
        sim.run(until=4)
    assert sim.now == 5.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5])
def test_a_nan_or_infinite_time_is_refused_not_left_to_freeze_the_heap(bad):
    """NaN compares false with everything: left in the heap it would sit at the top for ever,
    blocking every later event while the clock still read the end."""
    sim = Engine()
    with pytest.raises(ValueError, match=r"delay must be >= 0 seconds and finite"):
        sim.schedule(bad, print)
    with pytest.raises(ValueError, match=r"time must not be before now \(0.0\) and must be "
                                         r"finite"):
        sim.at(bad, print)
    with pytest.raises(ValueError, match="until must not be before now"):
        sim.run(until=bad)
    assert sim.pending() == 0 and sim.now == 0.0
