"""Explore a model: turn its parameters into sliders and watch each change play out.

``explore(build, rate=(1, 20, 1), overflow=["drop-head", "block"])`` calls ``build(**params)``
(which returns a Run, or a Network that it runs), shows a Player and a summary, and runs the
model again whenever a control changes. How each range becomes a control:

===========================  ==========================================
range                        control
===========================  ==========================================
``(low, high)``              slider; whole numbers give an int slider
``(low, high, step)``        slider with that step
``["a", "b", ...]``          dropdown (any values, shown with ``str``)
``True`` / ``False``         checkbox
===========================  ==========================================

The explorer keeps every run it made (``ex.history``). ``compare="p99"`` shows, beside the
summary, one figure of each setting tried so far (its latest run), as a table with bars, and
a menu to pick another figure; ``ex.results("p99")`` gives the same as data. The figures
(:data:`MEASURES`): "processed" (acks), "dropped", "p50" and "p99" (latency, publish to ack,
in seconds), "throughput" (acks per second over the run) and "max queue" (the most messages
waiting in one queue at once); or any function of a Run that returns a number.
"""

from __future__ import annotations

import html
import inspect
import math
from collections.abc import Callable
from numbers import Real
from typing import Any, NamedTuple

import ipywidgets as widgets

from mqlab import metrics
from mqlab.player import Player
from mqlab.trace import roles

__all__ = ["MEASURES", "Explorer", "Trial", "explore"]

KEEP = 100  # runs an explorer keeps (the oldest are let go)


def _latency(q: float) -> Callable[[Any], float]:
    return lambda run: metrics.percentile(metrics.latencies(run.trace), q)


def _max_queue(run: Any) -> float:
    trace = run.trace
    queues = [n for n, r in roles(trace).items() if r == "queue"
              and (trace.graph is None or trace.graph.nodes[n].get("kind") not in (
                  "log", "lock", "semaphore", "condition"))]
    return float(max((max(metrics.queue_length(trace, q)[1]) for q in queues), default=0))


# name -> (what it is, with its unit; how it is measured on a run)
MEASURES: dict[str, tuple[str, Callable[[Any], float]]] = {
    "processed": ("messages processed (acks)", lambda run: metrics.count(run.trace, "ack")),
    "dropped": ("messages dropped", lambda run: sum(metrics.account(run.trace).dropped.values())),
    "p50": ("median latency, publish \u2192 ack (s)", _latency(50)),
    "p99": ("p99 latency, publish \u2192 ack (s)", _latency(99)),
    "throughput": ("throughput (acks/s)", lambda run: metrics.system_throughput(run.trace)
                   if run.trace.duration > 0 else 0.0),
    "max queue": ("longest queue (messages)", _max_queue),
}


class Trial(NamedTuple):
    """One run an explorer made: the values of the controls, and the Run."""

    params: dict
    run: Any


def explore(build: Callable[..., Any], until: float | None = 30.0, frames: int = 120,
            progress: bool = True, compare: str | Callable | None = None,
            **ranges: Any) -> Explorer:
    """Controls for ``build``'s parameters, plus a Player that re-runs on every change.

    ``until``: seconds to simulate when ``build`` returns a Network. ``frames``: frames per
    animation (fewer than the Player's default, so that a change shows up quickly).
    ``progress=False`` hides the progress bar. ``compare``: a figure of :data:`MEASURES`
    (or a function of a Run) to show for every setting tried so far, beside the summary.
    A name in ``ranges`` that ``build`` does not take, or a bad range, raises ValueError.

    >>> from mqlab import Network
    >>> def shop(rate=5.0, overflow="drop-head"):
    ...     net = Network(seed=1)
    ...     net.producer("till", rate=rate, routing_key="orders")
    ...     net.broker("hub")
    ...     net.queue("hub", "orders", capacity=5, overflow=overflow)
    ...     net.consumer("clerk", queue="orders", service=0.3)
    ...     return net
    >>> ex = explore(shop, until=10, frames=5, progress=False, rate=(1.0, 10.0),
    ...              overflow=["drop-head", "reject-publish"])
    >>> ex.controls["rate"].value = 8.0   # runs the model again
    >>> ex.runs, ex.params
    (2, {'rate': 8.0, 'overflow': 'drop-head'})
    >>> [(params["rate"], value) for params, value in ex.results("dropped")]
    [(5.0, 15), (8.0, 44)]
    """
    return Explorer(build, until=until, frames=frames, progress=progress, compare=compare,
                    **ranges)


class Explorer(widgets.VBox):
    """The widget :func:`explore` returns: ``controls``, ``summary``, ``player``, ``run``,
    ``history`` (every run so far, as :class:`Trial`) and, with ``compare``, ``comparison``
    (a menu of figures and a table of the chosen figure for each setting tried)."""

    def __init__(self, build: Callable[..., Any], until: float | None = 30.0,
                 frames: int = 120, progress: bool = True,
                 compare: str | Callable | None = None, **ranges: Any) -> None:
        if not callable(build):
            raise TypeError(f"build must be a function returning a Run or a Network, got {build!r}")
        _check_names(build, ranges)
        if compare is not None:
            _measure(compare)  # a bad one fails now, before anything runs
        self.build, self.until, self.frames = build, until, frames
        self.show_progress = progress
        self.controls = {name: _control(name, spec, _default(build, name))
                         for name, spec in ranges.items()}
        self.summary = widgets.HTML()
        self.progress = widgets.IntProgress(description="running", layout={"display": "none"})
        self.runs = 0
        self.history: list[Trial] = []
        self._figures: dict[tuple[int, str], float] = {}  # (id of a run, figure) -> value
        self.player: Player | None = None
        self.run = None
        self.comparison = None
        if compare is not None:
            custom = [] if isinstance(compare, str) else [(_name(compare), compare)]
            self._compare_menu = widgets.Dropdown(
                options=[(name, name) for name in MEASURES] + custom,
                value=compare if isinstance(compare, str) else compare,
                description="compare", layout={"width": "230px"})
            self._compare_table = widgets.HTML()
            self.comparison = widgets.VBox([self._compare_menu, self._compare_table],
                                           layout={"margin": "0 0 0 24px"})
        self._refresh()
        if self.comparison is not None:
            self._compare_menu.observe(lambda _: self._show_comparison(), "value")
        for control in self.controls.values():
            control.observe(self._on_change, "value")
        super().__init__(children=self._children())

    @property
    def params(self) -> dict[str, Any]:
        """The current value of every control, as passed to ``build``."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, _change: dict) -> None:
        try:
            self._refresh()
        except Exception as error:  # a bad combination of values: say so, keep the last run
            self.summary.value = (f"<pre style='color:#D55E00'>{type(error).__name__}: "
                                  f"{html.escape(str(error))}</pre>")

    def _refresh(self) -> None:
        """Run the model with the current values and replace the Player and summary."""
        result = self.build(**self.params)
        self.runs += 1
        if not hasattr(result, "trace") and callable(getattr(result, "run", None)):
            result = result.run(until=self.until)  # a Network: run it
        if not (hasattr(result, "trace") and callable(getattr(result, "summary", None))):
            raise TypeError(f"build must return a Run or a Network, got {type(result).__name__}")
        old, self.run = self.player, result
        self.history = [*self.history, Trial(self.params, result)][-KEEP:]
        # the first time, the explorer is not on screen yet: the Player shows its own bar
        progress = (False if not self.show_progress else
                    self.progress if self.player is not None else "auto")
        self.player = Player(result, frames=self.frames, progress=progress)
        self.summary.value = _summary_html(result)
        self._show_comparison()
        if old is not None:
            self.player.seek(old.time)  # the same moment of the new run, for comparison
            self.children = self._children()
            old.close()

    def results(self, measure: str | Callable = "processed") -> list[tuple[dict, float]]:
        """(controls, figure) for each setting tried so far, from its latest run, in the order
        of the settings (numbers by size, others by name). ``measure``: a name in
        :data:`MEASURES` or a function of a Run returning a number."""
        _, measure_run = _measure(measure)
        latest = {_key(trial.params): trial for trial in self.history}
        out = []
        for key in sorted(latest, key=_order):
            trial = latest[key]
            cached = (id(trial.run), measure if isinstance(measure, str) else repr(measure))
            if cached not in self._figures:
                self._figures[cached] = measure_run(trial.run)
            out.append((dict(trial.params), self._figures[cached]))
        return out

    def _show_comparison(self) -> None:
        if self.comparison is None:
            return
        measure = self._compare_menu.value
        label = MEASURES[measure][0] if isinstance(measure, str) else _name(measure)
        try:
            rows = self.results(measure)
        except Exception as error:  # a function of the user's that fails: say so
            self._compare_table.value = (f"<pre style='color:#D55E00'>{type(error).__name__}: "
                                         f"{html.escape(str(error))}</pre>")
            return
        self._compare_table.value = _comparison_html(label, rows, self.params)

    def __repr__(self) -> str:
        return f"<Explorer of {', '.join(self.controls)}: {self.runs} runs so far>"

    def _children(self) -> list:
        box = widgets.HBox(list(self.controls.values()), layout={"flex_flow": "row wrap"})
        # the summary right under the controls: what a change did is visible without scrolling
        top = self.summary if self.comparison is None else widgets.HBox(
            [self.summary, self.comparison], layout={"align_items": "flex-start"})
        return [box, self.progress, top, self.player]


def _measure(measure: Any) -> tuple[str, Callable[[Any], float]]:
    """The label and the function of a figure to compare; a bad one raises naming ``compare``."""
    if isinstance(measure, str):
        if measure not in MEASURES:
            raise ValueError(f"compare must be one of {list(MEASURES)} or a function of a Run, "
                             f"got {measure!r}")
        return MEASURES[measure]
    if callable(measure):
        return _name(measure), measure
    raise TypeError(f"compare must be one of {list(MEASURES)} or a function of a Run, "
                    f"got {measure!r}")


def _name(function: Callable) -> str:
    return getattr(function, "__name__", type(function).__name__)


def _key(params: dict) -> tuple:
    return tuple((k, repr(v)) for k, v in params.items())


def _order(key: tuple) -> tuple:
    """Settings in order: numbers by size, anything else by its text."""
    out = []
    for _, text in key:
        try:
            value = float(text)
            out.append((0, value, ""))
        except ValueError:
            out.append((1, 0.0, text))
    return tuple(out)


def _comparison_html(label: str, rows: list[tuple[dict, float]], current: dict) -> str:
    """A small table: each setting tried, its figure, and a bar as long as the figure."""
    finite = [abs(v) for _, v in rows if isinstance(v, Real) and math.isfinite(v)]
    top = max(finite, default=0) or 1
    names = list(current)
    head = "".join(f"<th style='text-align:left;padding-right:8px'>{html.escape(n)}</th>"
                   for n in names)
    lines = []
    for params, value in rows:
        ok = isinstance(value, Real) and math.isfinite(value)
        text = f"{value:.3g}" if ok else "&ndash;"
        bar = round(120 * abs(value) / top) if ok else 0
        weight = "bold" if params == current else "normal"
        cells = "".join(f"<td style='padding-right:8px'>{html.escape(_show(params[n]))}</td>"
                        for n in names)
        lines.append(f"<tr style='font-weight:{weight}'>{cells}"
                     f"<td style='text-align:right;padding-right:6px'>{text}</td>"
                     f"<td><div style='background:#0072B2;height:9px;width:{bar}px'></div></td>"
                     "</tr>")
    return (f"<div style='font-size:12px'><b>{html.escape(label)}</b>, each setting tried "
            f"(bold: now)<table style='border-collapse:collapse;font-size:12px'>"
            f"<tr>{head}<th></th><th></th></tr>{''.join(lines)}</table></div>")


def _show(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _check_names(build: Callable, ranges: dict) -> None:
    params = inspect.signature(build).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in ranges:
        if not takes_any and name not in params:
            what = getattr(build, "__name__", type(build).__name__)
            raise ValueError(f"{name!r} is not a parameter of {what}(); "
                             f"its parameters: {list(params)}")


def _default(build: Callable, name: str) -> Any:
    p = inspect.signature(build).parameters.get(name)
    return None if p is None or p.default is inspect.Parameter.empty else p.default


def _control(name: str, spec: Any, default: Any) -> widgets.ValueWidget:
    """The widget for one parameter; a bad range raises ValueError naming the parameter."""
    style = {"description_width": "initial"}
    if isinstance(spec, bool):
        return widgets.Checkbox(value=spec, description=name, style=style)
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"{name}: a list of choices must not be empty")
        value = default if default in spec else spec[0]
        return widgets.Dropdown(options=[(str(v), v) for v in spec], value=value,
                                description=name, style=style)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high, *rest = spec
        step = rest[0] if rest else None
        numbers = [v for v in (low, high, step) if v is not None]
        if not all(isinstance(v, Real) and not isinstance(v, bool) for v in numbers):
            raise ValueError(f"{name}: a range must hold numbers, got {spec!r}")
        if not low < high:
            raise ValueError(f"{name}: a range needs low < high, got {spec!r}")
        if step is not None and not 0 < step <= high - low:
            raise ValueError(f"{name}: the step must be > 0 and at most high - low, got {step!r}")
        whole = all(isinstance(v, int) for v in numbers)
        value = default if isinstance(default, Real) and low <= default <= high else low
        kind = widgets.IntSlider if whole else widgets.FloatSlider
        step = step if step is not None else (1 if whole else (high - low) / 100)
        return kind(value=value, min=low, max=high, step=step, description=name,
                    continuous_update=False, style=style)
    raise ValueError(f"{name}: use (low, high[, step]) for a slider, a list for a dropdown or "
                     f"True/False for a checkbox; got {spec!r}")


def _summary_html(run: Any) -> str:
    text = html.escape(run.summary().text())
    return f"<pre style='font-size:11px;line-height:1.25'>{text}</pre>"
