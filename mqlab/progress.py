"""A progress bar for work that takes longer than about a second.

Short work shows nothing. Once work has run for ``after`` seconds, a bar appears: an ipywidgets
``IntProgress`` in a notebook, a line on stderr elsewhere. It is closed when the work ends, so
a re-run cell is left with nothing behind it.

>>> with Progress(total=10, label="simulating") as bar:
...     for i in range(10):
...         bar.update(i + 1)
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class Progress:
    """Report ``done`` out of ``total``, but only once the work has lasted ``after`` seconds."""

    def __init__(self, total: float, label: str = "", after: float = 1.0,
                 enabled: bool = True) -> None:
        self.total, self.label, self.after, self.enabled = total, label, after, enabled
        self.start = time.perf_counter()
        self.widget = None
        self.shown = False

    def update(self, done: float) -> None:
        if not self.enabled or time.perf_counter() - self.start < self.after:
            return
        frac = 0.0 if self.total <= 0 else min(1.0, done / self.total)
        if not self.shown:
            self._show()
        if self.widget is not None:
            self.widget.value = int(frac * 100)
        else:
            sys.stderr.write(f"\r{self.label} {frac:6.1%}")
            sys.stderr.flush()

    def _show(self) -> None:
        self.shown = True
        if _in_notebook():
            import ipywidgets as widgets
            from IPython.display import display

            self.widget = widgets.IntProgress(min=0, max=100, description=self.label)
            display(self.widget)

    def close(self) -> None:
        if self.widget is not None:
            self.widget.close()
            self.widget = None
        elif self.shown:
            sys.stderr.write("\n")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
