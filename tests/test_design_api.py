"""The public API sketch of the design runs as written, and importing mqlab does nothing else."""

import subprocess
import sys
import textwrap

import mqlab as mq

# A copy of the "Public API sketch" code block of the design notes, character for character.
DESIGN_SKETCH = '''
import mqlab as mq

# Queues on their own (lesson 03). kind: FIFO, priority, balanced-tree (sorted by a key)
q = mq.FifoQueue(capacity=3, overflow="drop-head")      # overflow: "block" | "reject-publish" | "drop-head"
q.put(mq.Message("a")); q.get(); q.try_get(); len(q)    # full + reject-publish -> mq.QueueFull
p = mq.PriorityQueue(max_priority=10)                    # higher priority first, FIFO among equals
s = mq.SortedQueue(key=lambda m: m.headers["deadline"]) # balanced-tree queue: O(log n), both ends,
                                                         # cancel by id, range queries
mq.topic_matches("orders.*.eu", "orders.new.eu")         # AMQP topic rules: * one word, # zero or more

# A system (lessons 02-08)
net = mq.Network(seed=7)
net.producer("sensor", rate=5.0, routing_key="jobs")     # Poisson arrivals; or interval=0.2
net.broker("hub")
net.queue("hub", "jobs", kind="priority", capacity=50, overflow="drop-head",
          message_ttl=None, dead_letter="dlq")
net.exchange("hub", "events", type="topic")              # "direct" | "fanout" | "topic"
net.bind("events", "jobs", pattern="temp.#")
net.consumer("w1", queue="jobs", service=0.15, prefetch=1, ack="manual")
net.link("sensor", "hub", latency=0.02, loss=0.0)
run = net.run(until=60)                                  # -> Run
run.trace                                                # mq.Trace: flat, time-ordered event records
run.summary()                                            # per node: throughput, latency p50/p99, drops...
run.play()                                               # the animated Player widget
mq.theory.mm1(lam=0.9, mu=1.0)                           # rho, L, Lq, W, Wq (also mmc, mm1k)
'''  # noqa: E501 (the design's own line lengths, kept as they are)


def sketch_without_widgets():
    lines = DESIGN_SKETCH.splitlines()
    kept = [line for line in lines if not line.startswith("run.play()")]
    assert len(kept) == len(lines) - 1  # exactly the one line that needs a widget front end
    return "\n".join(kept)


def test_the_design_sketch_runs_as_written():
    ns: dict = {}
    exec(compile(sketch_without_widgets(), "design-sketch", "exec"), ns)
    run = ns["run"]
    assert isinstance(run, mq.Run) and isinstance(run.trace, mq.Trace)
    assert len(run.trace) > 1000  # 60 s of 5 messages/s, each with several events
    summary = run.summary()
    assert isinstance(summary, mq.Summary)
    assert summary.balanced
    assert summary.account.published > 250
    assert summary.consumers["w1"]["processed"] > 250
    # the standalone queues of the first lines did what the comments say
    assert len(ns["q"]) == 0 and ns["q"].overflow == "drop-head"
    assert ns["p"].max_priority == 10


def test_the_sketch_vocabulary_is_exported():
    for name in ["FifoQueue", "PriorityQueue", "SortedQueue", "Message", "QueueFull",
                 "QueueEmpty", "topic_matches", "Network", "Run", "Trace", "Summary",
                 "theory", "metrics", "Engine", "exponential"]:
        assert hasattr(mq, name), name
        assert name in mq.__all__, name
    assert {"mm1", "mmc", "mm1k"} <= set(dir(mq.theory))
    assert callable(mq.Run.play)


def test_importing_mqlab_sets_nothing_up():
    script = textwrap.dedent("""
        import random, sys
        random.seed(42)
        before = random.getstate()
        import mqlab
        import mqlab.metrics, mqlab.theory, mqlab.trace, mqlab.network, mqlab.simulation
        heavy = sorted(m for m in ("matplotlib", "matplotlib.pyplot", "ipywidgets", "IPython")
                       if m in sys.modules)
        print(heavy, random.getstate() == before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split("\n")[0] == "[] True"
