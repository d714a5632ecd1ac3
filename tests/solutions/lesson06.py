"""Reference solutions for lesson 06 (kept out of the student notebook).

tests/test_checks_lesson06.py proves that every check accepts these.
"""

from __future__ import annotations

import math

from mqlab import Trace, theory


def p99_latency(trace: Trace) -> float:
    """The 99th percentile of the publish -> ack latencies, in seconds."""
    published, waits = {}, []
    for e in trace:
        if e.kind == "publish" and e.msg not in published:
            published[e.msg] = e.time
        elif e.kind == "ack" and e.msg in published:
            waits.append(e.time - published.pop(e.msg))
    waits.sort()
    return waits[int(0.99 * len(waits))]


#: mean latency at rho = 0.9 over rho = 0.5 in M/M/1: (1 - 0.5) / (1 - 0.9)
PREDICTION = 5


def pool_size(rate: float, service: float, max_wait: float) -> int:
    """The fewest workers with M/M/c's mean wait in the queue at most max_wait seconds."""
    workers = math.floor(rate * service) + 1  # fewer cannot keep up
    while theory.mmc(rate, 1 / service, workers)["Wq"] > max_wait:
        workers += 1
    return workers


#: pay needs 5 x 0.5 = 2.5 workers' worth of work (3 in all), ship 5 x 0.25 = 1.25 (2 in all)
EXTRA_WORKERS = {"pay": 2, "ship": 1}
