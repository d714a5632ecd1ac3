"""Benchmark: the mqlab engine against SimPy on the same model, in one run.

Model: 3 producers (Poisson) -> 1 broker queue -> 4 competing consumers (exponential service,
prefetch 1), a latency on every link, 100,000 messages, every event recorded.
Both record the same eight events per message (publish, arrive, route, enqueue, deliver,
arrive, start, ack) as six-field rows; mqlab's are its Trace.

Run:  .venv/bin/python benchmarks/engine.py [--messages N] [--repeat R]
Prints the median CPU time of each over R runs (alternating, so load hits both alike)
and the ratio SimPy / mqlab. CPU time, not wall time: the machines here are shared and noisy.
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


def share(messages: int, i: int) -> int:
    """How many of the messages producer ``i`` sends (they add up to ``messages``)."""
    return messages // PRODUCERS + (1 if i < messages % PRODUCERS else 0)


def run_mqlab(messages: int, seed: int) -> list:
    net = mq.Network(seed=seed)
    net.broker("hub")
    net.queue("hub", "jobs")
    for i in range(PRODUCERS):
        net.producer(f"p{i}", rate=RATE, routing_key="jobs", count=share(messages, i))
        net.link(f"p{i}", "hub", latency=LATENCY)
    for i in range(CONSUMERS):
        net.consumer(f"c{i}", queue="jobs", service=mq.exponential(SERVICE), prefetch=1)
        net.link("hub", f"c{i}", latency=LATENCY)
    return net.run(until=None).trace.rows


def run_simpy(messages: int, seed: int) -> list:
    """The same system in SimPy, written the way SimPy models a broker: a process per part.

    The broker is a dispatcher process that takes the next message from the queue (a Store)
    and the next consumer with prefetch credit (a Store of consumers, so round-robin), and
    sends the message over the consumer's link; the consumer acks and returns its credit.
    Every step is logged as the same six-field row mqlab records.
    """
    rng = random.Random(seed)
    env = simpy.Environment()
    queue, credit = simpy.Store(env), simpy.Store(env)
    log: list[tuple] = []
    next_id = [0]

    def producer(name, count):
        for _ in range(count):
            yield env.timeout(rng.expovariate(RATE))
            next_id[0] += 1
            log.append((env.now, "publish", next_id[0], name, "hub", "jobs"))
            env.process(to_broker(name, next_id[0]))

    def to_broker(name, mid):
        yield env.timeout(LATENCY)
        log.append((env.now, "arrive", mid, "hub", name, ""))
        log.append((env.now, "route", mid, "hub", "jobs", "jobs"))
        log.append((env.now, "enqueue", mid, "jobs", "", ""))
        yield queue.put(mid)

    def broker():
        while True:
            mid = yield queue.get()
            consumer = yield credit.get()
            log.append((env.now, "deliver", mid, "jobs", consumer.name, ""))
            env.process(to_consumer(consumer, mid))

    def to_consumer(consumer, mid):
        yield env.timeout(LATENCY)
        log.append((env.now, "arrive", mid, consumer.name, "jobs", ""))
        yield consumer.inbox.put(mid)

    class Consumer:
        def __init__(self, name):
            self.name, self.inbox = name, simpy.Store(env)
            credit.put(self)  # prefetch = 1
            env.process(self.work())

        def work(self):
            while True:
                mid = yield self.inbox.get()
                log.append((env.now, "start", mid, self.name, "", ""))
                yield env.timeout(rng.expovariate(1 / SERVICE))
                log.append((env.now, "ack", mid, self.name, "jobs", "manual"))
                yield credit.put(self)

    for i in range(PRODUCERS):
        env.process(producer(f"p{i}", share(messages, i)))
    for i in range(CONSUMERS):
        Consumer(f"c{i}")
    env.process(broker())
    env.run()
    return log


def timed(fn, messages: int, seed: int) -> tuple[float, str]:
    """CPU time of one call of ``fn``, and what its log holds."""
    t0 = time.process_time()
    log = fn(messages, seed)
    spent = time.process_time() - t0
    return spent, f"{sum(1 for row in log if row[1] == 'ack'):,} acked, {len(log):,} rows"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    # alternate the two so that a busy machine slows both alike
    mq_times, sp_times = [], []
    for seed in range(args.repeat):
        t, n_mq = timed(run_mqlab, args.messages, seed)
        mq_times.append(t)
        t, n_sp = timed(run_simpy, args.messages, seed)
        sp_times.append(t)
    t_mq, t_sp = statistics.median(mq_times), statistics.median(sp_times)
    ratios = sorted(s / m for s, m in zip(sp_times, mq_times, strict=True))
    print(f"model: {PRODUCERS} producers -> 1 queue -> {CONSUMERS} consumers, "
          f"{args.messages:,} messages, latency {LATENCY} s on every link, "
          f"median of {args.repeat}")
    print(f"mqlab  {t_mq:7.3f} CPU s  ({n_mq}: its Trace)")
    print(f"SimPy  {t_sp:7.3f} CPU s  ({n_sp} in a list)")
    print(f"ratio  SimPy / mqlab = {t_sp / t_mq:.2f}x of the medians; per pair: "
          + ", ".join(f"{r:.2f}" for r in ratios) + "  (target: >= 5x)")


if __name__ == "__main__":
    main()
