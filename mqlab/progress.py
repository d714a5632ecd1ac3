"""A progress bar for work that takes longer than about a second.

Short work shows nothing. Once the work has taken ``delay`` seconds, a bar appears, drawn by
tqdm (``tqdm.auto``): a widget in a notebook, a line on stderr elsewhere, rewritten in place.
It is removed when the work ends, so a re-run cell is left with nothing behind it. A widget
passed in (an ``ipywidgets.IntProgress`` that is already on screen) is driven instead: shown
after ``delay`` seconds, hidden at the end.

``MQLAB_PROGRESS=0`` in the environment turns every bar off. ``make test`` sets it for the
notebook tests and ``scripts/build_lessons.py`` while it runs the lessons: a bar that appeared
on a slow machine would be an output that the stored notebook does not have.

>>> with Progress(10, "simulating") as bar:
...     for i in range(10):
...         bar.update(i + 1)
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

__all__ = ["Progress", "enabled"]

ENV_VAR = "MQLAB_PROGRESS"
# what the bar says: no rate ("it/s" means nothing when an item is a slice of a run)
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"


def enabled() -> bool:
    """False when ``MQLAB_PROGRESS`` is set to 0 (or false, no, off): no bar is ever shown."""
    return os.environ.get(ENV_VAR, "").strip().lower() not in {"0", "false", "no", "off"}


class Progress:
    """A progress bar that shows itself only when the work takes more than ``delay`` seconds.

    ``update(done)`` says how many of ``total`` items are finished; ``close()`` (or leaving a
    ``with`` block) removes the bar. ``widget``: an ``ipywidgets.IntProgress`` to drive
    instead of a bar of its own. ``delay=float("inf")`` never shows anything.
    """

    def __init__(self, total: int, label: str, widget: Any = None, delay: float = 1.0) -> None:
        self.total, self.label, self.delay = total, label, delay
        self.widget = widget
        self.start = time.perf_counter()
        self.done = 0
        self.shown = False  # the borrowed widget is on screen
        self.off = not enabled() or math.isinf(delay)
        self._bar = None
        if widget is None and not self.off:
            from tqdm.auto import tqdm  # a widget in a Jupyter kernel, text elsewhere

            self._bar = tqdm(total=total, desc=label, delay=delay, leave=False,
                             bar_format=BAR_FORMAT)

    def update(self, done: int) -> None:
        """Report ``done`` items finished (a count, not an increment)."""
        step, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(step)
        elif self.widget is not None and not self.off:
            if not self.shown and time.perf_counter() - self.start >= self.delay:
                self.shown = True
                self.widget.max = self.total
                self.widget.layout.display = None  # shown
            if self.shown:
                self.widget.value = done

    def close(self) -> None:
        """Remove the bar (tqdm's is cleared; a borrowed widget is hidden, and takes no room)."""
        if self._bar is not None:
            self._bar.close()
            # in a notebook tqdm closes its box of widgets but not the three inside: close them
            box = getattr(self._bar, "container", None)
            if box is not None and getattr(box, "comm", True) is None:
                for part in box.children:
                    part.close()
        elif self.shown:
            self.widget.layout.display = "none"
            self.shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
