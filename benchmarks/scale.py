"""Benchmark: a run of a million messages, with its trace and without.

Model: M/M/1 (rho = 0.9, as benchmarks/mm1.py), 1,000,000 messages: eight trace rows each.
Each run is made in a child process of its own, so that its peak memory (RSS, the whole
process: interpreter, numpy, the trace) is its own. The child that keeps the trace then times
``run.summary()`` and building the Player (``run.play()``) on it.

Run:  .venv/bin/python benchmarks/scale.py [--messages N]
Targets: trace on <= 400 MB peak and <= 1.3x the CPU time of trace off; summary() <= 2 s;
play() <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

LAMBDA, MU = 0.9, 1.0


def child(messages: int, trace: bool) -> dict:
    import mqlab as mq

    net = mq.Network(seed=1)
    net.producer("arrivals", rate=LAMBDA, routing_key="line", count=messages)
    net.broker("hub")
    net.queue("hub", "line")
    net.consumer("server", queue="line", service=mq.exponential(1 / MU))
    t0 = time.process_time()
    run = net.run(until=None, trace=trace, progress=False)
    out = {"run_cpu": time.process_time() - t0, "rows": len(run.trace)}
    out["run_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        t0 = time.perf_counter()
        text = run.summary().text()
        out["summary_s"] = time.perf_counter() - t0
        out["summary"] = text
        t0 = time.perf_counter()
        player = run.play(progress=False)
        out["play_s"] = time.perf_counter() - t0
        out["frames"] = len(player.frames)
        player.close()
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.messages, args.child == "on")))
        return
    env = {**os.environ, "MQLAB_PROGRESS": "0"}
    results = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, __file__, "--messages", str(args.messages),
                              "--child", mode], capture_output=True, text=True, env=env,
                             check=True)
        results[mode] = json.loads(out.stdout.splitlines()[-1])
    on, off = results["on"], results["off"]
    print(f"M/M/1, rho = {LAMBDA / MU}, {args.messages:,} messages")
    print(f"trace off: run {off['run_cpu']:6.2f} CPU s, peak RSS {off['rss_mb']:6.0f} MB")
    print(f"trace on:  run {on['run_cpu']:6.2f} CPU s, peak RSS {on['run_rss_mb']:6.0f} MB "
          f"after the run ({on['rows']:,} rows), {on['rss_mb']:.0f} MB with summary and Player")
    print(f"           CPU time on / off = {on['run_cpu'] / off['run_cpu']:.2f}x  (target <= 1.3x; "
          f"peak target <= 400 MB)")
    print(f"summary()  {on['summary_s']:6.2f} s  (target <= 2 s)")
    print(f"play()     {on['play_s']:6.2f} s  ({on['frames']} frames; target <= 10 s)")
    print(on["summary"])


if __name__ == "__main__":
    main()
