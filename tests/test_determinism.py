"""Same seed, same run: byte-identical traces, even across processes with different hash seeds."""

import os
import subprocess
import sys
import textwrap

import mqlab as mq

# a system that uses every source of randomness and several dict/set-shaped parts
SCRIPT = textwrap.dedent("""
    import sys
    import mqlab as mq

    def build(seed):
        net = mq.Network(seed=seed)
        net.broker("hub")
        net.exchange("hub", "events", type="topic")
        net.exchange("hub", "alerts", type="fanout")
        net.queue("hub", "eu", kind="priority", max_priority=5, capacity=8,
                  overflow="drop-head", dead_letter="dlq")
        net.queue("hub", "temps", capacity=5, overflow="reject-publish", message_ttl=2.0)
        net.queue("hub", "audit", kind="sorted", capacity=6, overflow="block")
        net.queue("hub", "dlq")
        net.bind("events", "eu", pattern="*.eu")
        net.bind("events", "temps", pattern="temp.#")
        net.bind("alerts", "audit")
        net.bind("alerts", "dlq")
        net.producer("sensors", rate=6.0,
                     routing_key={"temp.eu": 3, "temp.us": 2, "wind.eu": 1, "rain": 1},
                     priority=[None, 1, 3, 7], exchange="events")
        net.producer("alarm", interval=mq.exponential(1.5), exchange="alerts", mode="sync")
        net.producer("batch", schedule=[1.0, 1.0, 2.5, 7.0], routing_key="dlq",
                     expiration=0.5)
        net.consumer("w1", queue="eu", service=mq.exponential(0.3), prefetch=2, nack=0.1)
        net.consumer("w2", queue="eu", service=mq.uniform(0.1, 0.5), crash=[(5.0, 9.0)])
        net.consumer("w3", queue="temps", service=mq.normal(0.4, 0.1), ack="auto")
        net.consumer("w4", queue="audit", service=0.7, nack=0.2, requeue=False)
        net.consumer("w5", queue="dlq", service=mq.exponential(0.2))
        net.link("sensors", "hub", latency=mq.exponential(0.05), loss=0.05, duplicate=0.05)
        net.link("alarm", "hub", latency=0.01)
        net.link("eu", "w1", latency=mq.uniform(0.0, 0.1))
        return net

    run = build(int(sys.argv[1])).run(until=60, progress=False)
    print(len(run.trace), run.trace.digest())
""")


def digest_in_fresh_process(tmp_path, seed, hash_seed):
    script = tmp_path / "one_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    out = subprocess.run([sys.executable, str(script), str(seed)], capture_output=True,
                         text=True, env=env, check=True, timeout=120)
    n, digest = out.stdout.split()
    return int(n), digest


def test_same_seed_gives_the_same_trace_in_two_processes(tmp_path):
    n1, first = digest_in_fresh_process(tmp_path, seed=11, hash_seed=1)
    n2, second = digest_in_fresh_process(tmp_path, seed=11, hash_seed=987654)
    assert n1 > 1000  # a run with plenty going on
    assert (n1, first) == (n2, second)


def test_a_different_seed_gives_a_different_trace(tmp_path):
    _, a = digest_in_fresh_process(tmp_path, seed=11, hash_seed=0)
    _, b = digest_in_fresh_process(tmp_path, seed=12, hash_seed=0)
    assert a != b


def test_the_same_network_run_twice_in_one_process_repeats_itself():
    ns: dict = {}
    exec(SCRIPT.split("run = build")[0], ns)  # just the build() function
    first = ns["build"](5).run(until=30, progress=False)
    second = ns["build"](5).run(until=30, progress=False)
    assert first.trace.rows == second.trace.rows
    assert first.trace.digest() == second.trace.digest()
    assert first.still == second.still


def test_running_does_not_touch_the_global_random_generator():
    import random

    random.seed(123)
    state = random.getstate()
    net = mq.Network(seed=1)
    net.producer("p", rate=3.0, routing_key=["jobs", "jobs", "x"])
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("w", queue="jobs", service=mq.exponential(0.2), nack=0.3)
    net.run(until=20, progress=False)
    assert random.getstate() == state
