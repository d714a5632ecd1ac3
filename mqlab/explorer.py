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
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from numbers import Real
from typing import Any

import ipywidgets as widgets

from mqlab.player import Player

__all__ = ["Explorer", "explore"]


def explore(build: Callable[..., Any], until: float | None = 30.0, frames: int = 120,
            progress: bool = True, **ranges: Any) -> Explorer:
    """Controls for ``build``'s parameters, plus a Player that re-runs on every change.

    ``until``: seconds to simulate when ``build`` returns a Network. ``frames``: frames per
    animation (fewer than the Player's default, so that a change shows up quickly).
    ``progress=False`` hides the progress bar. A name in ``ranges`` that ``build`` does not
    take, or a bad range, raises ValueError.

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
    """
    return Explorer(build, until=until, frames=frames, progress=progress, **ranges)


class Explorer(widgets.VBox):
    """The widget :func:`explore` returns: ``controls``, ``summary``, ``player``, ``run``."""

    def __init__(self, build: Callable[..., Any], until: float | None = 30.0,
                 frames: int = 120, progress: bool = True, **ranges: Any) -> None:
        if not callable(build):
            raise TypeError(f"build must be a function returning a Run or a Network, got {build!r}")
        _check_names(build, ranges)
        self.build, self.until, self.frames = build, until, frames
        self.show_progress = progress
        self.controls = {name: _control(name, spec, _default(build, name))
                         for name, spec in ranges.items()}
        self.summary = widgets.HTML()
        self.progress = widgets.IntProgress(description="running", layout={"display": "none"})
        self.runs = 0
        self.player: Player | None = None
        self.run = None
        self._refresh()
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
        # the first time, the explorer is not on screen yet: the Player shows its own bar
        progress = (False if not self.show_progress else
                    self.progress if self.player is not None else "auto")
        self.player = Player(result, frames=self.frames, progress=progress)
        self.summary.value = _summary_html(result)
        if old is not None:
            self.player.seek(old.time)  # the same moment of the new run, for comparison
            self.children = self._children()
            old.close()

    def __repr__(self) -> str:
        return f"<Explorer of {', '.join(self.controls)}: {self.runs} runs so far>"

    def _children(self) -> list:
        box = widgets.HBox(list(self.controls.values()), layout={"flex_flow": "row wrap"})
        # the summary right under the controls: what a change did is visible without scrolling
        return [box, self.progress, self.summary, self.player]


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
