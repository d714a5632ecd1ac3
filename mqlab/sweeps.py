"""Sweep a model over a grid of parameter values and seeds: one table of what each run gave.

The question "what happens to latency as the load grows?" is answered by running the same
model at many loads, several seeds each, and plotting a measure against the parameter, with
theory drawn beside it. :func:`sweep` does the running and collecting; :class:`Sweep` is the
table (plain columns: no pandas needed) and draws the chart.

>>> import mqlab as mq
>>> def shop(rate, seed):
...     net = mq.Network(seed=seed)
...     net.broker("hub"); net.queue("hub", "orders")
...     net.producer("web", rate=rate, routing_key="orders")
...     net.consumer("clerk", queue="orders", service=mq.exponential(1.0))
...     return net
>>> table = sweep(shop, rate=[0.2, 0.5], seeds=[1, 2], until=200)
>>> len(table), table.columns[:3]
(4, ['rate', 'seed', 'acked'])
>>> sorted(table.mean("utilisation", by="rate"))
[0.2, 0.5]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

from mqlab import metrics
from mqlab.progress import Progress

__all__ = ["MEASURES", "Sweep", "measure", "sweep"]

# what each run gives by default (see measure): name -> what it means, with its unit
MEASURES = {
    "acked": "messages acked",
    "dropped": "messages dropped or lost",
    "throughput": "acks per second, all consumers (msg/s)",
    "latency_mean": "mean publish -> ack latency (s)",
    "latency_p50": "median publish -> ack latency (s)",
    "latency_p99": "99th percentile publish -> ack latency (s)",
    "queue_mean": "time-averaged messages ready, all queues together",
    "utilisation": "mean share of time the consumers were busy (0-1)",
}


def measure(run: Any, warmup: float = 0.0) -> dict[str, float]:
    """The standard measures of one run (see :data:`MEASURES`). ``warmup``: seconds at the
    start left out of latency, throughput, queue length and utilisation (the system starts
    empty, so early numbers are too good)."""
    trace = run.trace
    stop = trace.duration
    if stop <= warmup:
        raise ValueError(f"warmup must be shorter than the run ({stop:g} s), got {warmup!r}")
    lat = metrics.latencies(trace, since=warmup)
    account = metrics.account(trace)
    graph = trace.graph
    queues = [n for n, r in graph.nodes(data="role") if r == "queue"] if graph is not None else []
    queue_mean = 0.0
    for q in queues:
        times, lengths = metrics.queue_length(trace, q)
        queue_mean += _average_after(times, lengths, warmup, stop)
    busy = metrics.utilisation(trace, start=warmup, stop=stop)
    return {
        "acked": account.acked,
        "dropped": sum(account.dropped.values()),
        "throughput": metrics.throughput(trace, start=warmup, stop=stop),
        "latency_mean": sum(lat) / len(lat) if lat else math.nan,
        "latency_p50": metrics.percentile(lat, 50),
        "latency_p99": metrics.percentile(lat, 99),
        "queue_mean": queue_mean,
        "utilisation": sum(busy.values()) / len(busy) if busy else 0.0,
    }


def _average_after(times: list[float], values: list[int], since: float, stop: float) -> float:
    """The time average of a step function over [since, stop)."""
    area, n = 0.0, len(times)
    for i in range(n):
        t0 = max(times[i], since)
        t1 = min(times[i + 1] if i + 1 < n else stop, stop)
        if t1 > t0:
            area += values[i] * (t1 - t0)
    return area / (stop - since)


class Sweep:
    """The table of a sweep: one row per run, a column per parameter, ``seed`` and each
    measure. ``table.column(name)``, ``table.mean(measure, by=parameter)``,
    ``table.plot(x, y, theory=...)``; printing it shows the table."""

    def __init__(self, params: list[str], rows: list[dict]) -> None:
        self.params = params
        self.rows = rows
        self.columns = list(rows[0]) if rows else [*params, "seed"]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def _need(self, name: str, what: str = "column") -> None:
        if name not in self.columns:
            raise ValueError(f"{what} must be one of {self.columns}, got {name!r}")

    def column(self, name: str) -> list:
        """Every row's value of ``name``."""
        self._need(name)
        return [row[name] for row in self.rows]

    def mean(self, y: str, by: str | None = None) -> dict:
        """The mean of measure ``y`` over seeds, per value of parameter ``by`` (default: the
        only parameter; with several, per tuple of all of them). NaNs are left out."""
        self._need(y, "y")
        if by is not None:
            self._need(by, "by")
        groups: dict = {}
        for row in self.rows:
            key = row[by] if by is not None else (
                row[self.params[0]] if len(self.params) == 1 else
                tuple(row[p] for p in self.params))
            groups.setdefault(key, []).append(row[y])
        out = {}
        for key, values in groups.items():
            finite = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
            out[key] = sum(finite) / len(finite) if finite else math.nan
        return out

    def plot(self, x: str, y: str, theory: Callable[[float], float] | None = None,
             ax: Any = None, label: str | None = None, title: str | None = None,
             color: Any = None) -> Any:
        """Measure ``y`` against parameter ``x``: each run a small point, the mean over seeds a
        large one; ``theory(x)`` (a function) drawn as a line over the range of ``x``.
        ``color`` and ``label`` tell two sweeps apart on one Axes (``ax=``): the theory line
        then takes the same colour, dashed. Returns the matplotlib Axes."""
        self._need(x, "x")
        self._need(y, "y")
        import matplotlib.pyplot as plt

        from mqlab.style import OKABE_ITO

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.6))
        colour = OKABE_ITO["blue"] if color is None else color
        ax.scatter(self.column(x), self.column(y), s=10, color=colour, alpha=0.35,
                   label="one run (one seed)" if label is None else None)
        means = self.mean(y, by=x)
        xs = sorted(means)
        ax.plot(xs, [means[v] for v in xs], "o", color=colour, markersize=7,
                label=label or "simulated (mean over seeds)")
        if theory is not None:
            lo, hi = min(xs), max(xs)
            grid = [lo + (hi - lo) * i / 200 for i in range(201)]
            values = [theory(v) for v in grid]
            if color is None:
                ax.plot(grid, values, "-", color=OKABE_ITO["vermillion"], label="theory")
            else:
                ax.plot(grid, values, "--", color=colour,
                        label=f"theory{f' ({label})' if label else ''}")
        ax.set_xlabel(x)
        ax.set_ylabel(MEASURES.get(y, y))
        ax.set_title(title or f"{y} against {x}")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)
        return ax

    def text(self, digits: int = 3) -> str:
        """The table as aligned text."""
        def cell(v: Any) -> str:
            return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

        cells = [[cell(row[c]) for c in self.columns] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
                  for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()


def sweep(build: Callable[..., Any], *, seeds: Iterable[int] = (0,), until: float | None = None,
          warmup: float = 0.0, measure: Callable[[Any], dict] | None = None,
          progress: bool = True, **grid: Iterable) -> Sweep:
    """Run ``build(**values, seed=seed)`` for every combination of the values in ``grid`` and
    every seed, and collect a row of measures from each run.

    ``build`` returns a :class:`~mqlab.Network` (run here for ``until`` seconds) or a finished
    Run. ``measure(run)`` returns a dict of numbers (default: :func:`mqlab.sweeps.measure` with
    ``warmup``). Each keyword argument is a parameter of ``build`` with the list of values to
    try, e.g. ``sweep(model, rate=[1, 2, 4], seeds=range(3), until=500)``.
    """
    if not callable(build):
        raise TypeError(f"build must be a function returning a Network or a Run, got {build!r}")
    if not grid:
        raise ValueError("give at least one parameter to sweep, e.g. rate=[1, 2, 4]")
    values = {}
    for name, options in grid.items():
        if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
            raise TypeError(f"{name} must be a list of values to try, got {options!r}")
        values[name] = list(options)
        if not values[name]:
            raise ValueError(f"{name} must list at least one value, got an empty list")
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be a function of a Run returning a dict, got {measure!r}")
    combos = list(itertools.product(*values.values()))
    rows = []
    with Progress(len(combos) * len(seeds), "sweeping",
                  delay=1.0 if progress else float("inf")) as bar:
        for combo in combos:
            params = dict(zip(values, combo, strict=True))
            for seed in seeds:
                made = build(**params, seed=seed)
                run = made.run(until=until, progress=False) if hasattr(made, "resolve") else made
                if not hasattr(run, "trace"):
                    raise TypeError(f"build must return a Network or a Run, got {made!r}")
                got = measure(run) if measure is not None else _standard(run, warmup)
                rows.append({**params, "seed": seed, **got})
                bar.update(len(rows))
    return Sweep(list(values), rows)


_standard = measure
