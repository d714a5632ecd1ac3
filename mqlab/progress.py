"""A progress bar for work that takes longer than about a second.

Short work shows nothing. Once the work looks like it will take more than ``delay`` seconds, a
bar appears: an ipywidgets ``IntProgress`` in a notebook, a line on stderr elsewhere. It is
closed when the work ends, so a re-run cell is left with nothing behind it.

>>> with Progress(10, "simulating") as bar:
...     for i in range(10):
...         bar.update(i + 1)
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress"]


class Progress:
    """A progress bar that shows itself only when the work takes more than ``delay`` seconds.

    In a Jupyter kernel it is an ``ipywidgets.IntProgress`` (or the one passed as ``widget``),
    closed when done; elsewhere a line of text on stderr.
    """

    def __init__(self, total: int, label: str, widget: Any = None, delay: float = 1.0) -> None:
        self.total, self.label, self.delay = total, label, delay
        self.widget, self._own = widget, False
        self.start = time.perf_counter()
        self.shown = False
        self._last_text = 0.0

    def update(self, done: int) -> None:
        """Report ``done`` items finished; shows the bar once the whole job looks slow."""
        elapsed = time.perf_counter() - self.start
        if not self.shown and done and elapsed / done * self.total > self.delay:
            self._show()
        if not self.shown:
            return
        if self.widget is not None:
            self.widget.value = done
        elif done == self.total or time.perf_counter() - self._last_text > 0.25:
            self._last_text = time.perf_counter()
            sys.stderr.write(f"\r{self.label}: {done}/{self.total}")

    def _show(self) -> None:
        self.shown = True
        if self.widget is None and _in_kernel():
            import ipywidgets as widgets
            from IPython.display import display

            self.widget, self._own = widgets.IntProgress(description=self.label), True
            display(self.widget)
        if self.widget is not None:
            self.widget.max = self.total
            self.widget.layout.display = None  # shown

    def close(self) -> None:
        """Remove the bar (a widget made here is closed; a borrowed one is hidden)."""
        if not self.shown:
            return
        if self._own:
            self.widget.close()
        elif self.widget is not None:
            self.widget.layout.display = "none"  # hidden, and takes no room
        else:
            sys.stderr.write("\n")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
