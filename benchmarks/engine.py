"""Benchmark: the mqlab engine against SimPy on the same model, in one run.

Model: 3 producers (Poisson) -> 1 broker queue -> 4 competing consumers (exponential service,
prefetch 1), a latency on every link, 100,000 messages, every event recorded.
mqlab records its full Trace; the SimPy model records the same events into a list.

Run:  .venv/bin/python benchmarks/engine.py [--messages N] [--repeat R]
Prints the median wall time of each over R repeats and the ratio SimPy / mqlab.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import simpy

import mqlab as mq

PRODUCERS = 3
CONSUMERS = 4
RATE = 10.0  # messages per second, per producer
SERVICE = 0.3  # seconds per message, mean (4 consumers: utilisation 0.75)
LATENCY = 0.01  # seconds on every link


def run_mqlab(messages: int, seed: int) -> int:
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "jobs")
    per = messages // PRODUCERS
    for i in range(PRODUCERS):
        net.producer(f"p{i}", rate=RATE, routing_key="jobs", count=per)
        net.link(f"p{i}", "hub", latency=LATENCY)
    for i in range(CONSUMERS):
        net.consumer(f"c{i}", queue="jobs", service=mq.exponential(SERVICE), prefetch=1)
        net.link("hub", f"c{i}", latency=LATENCY)
    run = net.run(until=None)
    return run.summary().account.acked if messages <= 1000 else sum(
        1 for r in run.trace.rows if r[1] == "ack")


def run_simpy(messages: int, seed: int) -> int:
    rng = random.Random(seed)
    env = simpy.Environment()
    jobs = simpy.Store(env)
    log: list[tuple] = []
    per = messages // PRODUCERS

    def link(item, dest):
        yield env.timeout(LATENCY)
        yield dest.put(item)

    def producer(name):
        for i in range(per):
            yield env.timeout(rng.expovariate(RATE))
            mid = (name, i)
            log.append((env.now, "publish", mid, name))
            env.process(link(mid, jobs))

    def consumer(name):
        while True:
            mid = yield jobs.get()
            log.append((env.now, "deliver", mid, name))
            yield env.timeout(LATENCY)
            log.append((env.now, "arrive", mid, name))
            yield env.timeout(rng.expovariate(1 / SERVICE))
            log.append((env.now, "ack", mid, name))

    for i in range(PRODUCERS):
        env.process(producer(f"p{i}"))
    for i in range(CONSUMERS):
        env.process(consumer(f"c{i}"))
    env.run()
    return sum(1 for r in log if r[1] == "ack")


def median_time(fn, messages: int, repeat: int) -> tuple[float, int]:
    times, done = [], 0
    for r in range(repeat):
        t0 = time.perf_counter()
        done = fn(messages, seed=r)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t_mq, n_mq = median_time(run_mqlab, args.messages, args.repeat)
    t_sp, n_sp = median_time(run_simpy, args.messages, args.repeat)
    print(f"model: {PRODUCERS} producers -> 1 queue -> {CONSUMERS} consumers, "
          f"{args.messages:,} messages, latency {LATENCY} s on every link, "
          f"median of {args.repeat}")
    print(f"mqlab  {t_mq:7.3f} s  ({n_mq:,} acked, full trace recorded)")
    print(f"SimPy  {t_sp:7.3f} s  ({n_sp:,} acked, events logged to a list)")
    print(f"ratio  SimPy / mqlab = {t_sp / t_mq:.2f}x  (target: >= 3x)")


if __name__ == "__main__":
    main()
