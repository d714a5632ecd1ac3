"""Benchmark: M/M/1 in mqlab (its trace on) against plain SimPy (a Resource, no trace).

Model: one Poisson producer (rate 0.9/s) -> one queue -> one consumer (exponential service,
mean 1 s): utilisation rho = 0.9, 200,000 customers, no link latency. mqlab records its full
Trace (eight rows a message); the SimPy model records nothing, it only runs.

Run:  .venv/bin/python benchmarks/mm1.py [--customers N] [--repeat R]
Prints the median CPU time of each over R runs, alternating in one process (so load hits both
alike), the mean time in the system of each (a check that both ran the same queue, against
theory: 1 / (mu - lambda) = 10 s) and the ratio SimPy / mqlab.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import simpy

import mqlab as mq

LAMBDA = 0.9  # arrivals per second
MU = 1.0  # services per second


def run_mqlab(customers: int, seed: int) -> mq.Run:
    net = mq.Network(seed=seed)
    net.producer("arrivals", rate=LAMBDA, routing_key="line", count=customers)
    net.broker("hub")
    net.queue("hub", "line")
    net.consumer("server", queue="line", service=mq.exponential(1 / MU))
    return net.run(until=None, progress=False)


def time_in_system(run: mq.Run) -> float:
    """The mean time from publish to ack, read from the run's trace (not timed)."""
    tr = run.trace
    t = tr.array("time")
    return float(t[tr.where(kind="ack")].sum() - t[tr.where(kind="publish")].sum()) / len(
        tr.filter(kind="publish"))


def run_simpy(customers: int, seed: int) -> float:
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    total = [0.0]

    def customer():
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(MU))
        total[0] += env.now - arrived

    def arrivals():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer())

    env.process(arrivals())
    env.run()
    return total[0] / customers


def timed(fn, customers: int, seed: int) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn(customers, seed)
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    mq_times, sp_times, w_mq, w_sp = [], [], [], []
    for seed in range(args.repeat):  # alternate, so that a busy machine slows both alike
        t, run = timed(run_mqlab, args.customers, seed)
        mq_times.append(t)
        w_mq.append(time_in_system(run))
        del run
        t, w = timed(run_simpy, args.customers, seed)
        sp_times.append(t)
        w_sp.append(w)
    t_mq, t_sp = statistics.median(mq_times), statistics.median(sp_times)
    ratios = sorted(s / m for s, m in zip(sp_times, mq_times, strict=True))
    print(f"M/M/1: rho = {LAMBDA / MU}, {args.customers:,} customers, median of {args.repeat} "
          f"(theory: mean time in the system {1 / (MU - LAMBDA):.3g} s)")
    print(f"mqlab  {t_mq:7.3f} CPU s  (trace on; mean time in the system "
          f"{statistics.mean(w_mq):.3g} s)")
    print(f"SimPy  {t_sp:7.3f} CPU s  (Resource, no trace; mean time in the system "
          f"{statistics.mean(w_sp):.3g} s)")
    print(f"ratio  SimPy / mqlab = {statistics.median(ratios):.2f}x median of the pairs; per pair: "
          + ", ".join(f"{r:.2f}" for r in ratios) + "  (target: >= 2x)")


if __name__ == "__main__":
    main()
