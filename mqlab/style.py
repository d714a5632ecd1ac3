"""The look of every picture: the palette, how each role is drawn, the queue trays' size, and
the colour each message gets.

The network drawing, the animated Scene and the charts all take their colours and shapes from
here, so a queue or a message looks the same wherever it appears.

>>> SERIES_COLOURS[0] == OKABE_ITO["blue"], ROLE_STYLE["broker"].marker
(True, 's')
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mqlab.trace import Trace

__all__ = [
    "COUNT_SLOTS",
    "DEAD",
    "DOWN",
    "DROP",
    "EDGE",
    "KEY_COLOURS",
    "LOG_CELL",
    "OKABE_ITO",
    "PLAIN_MESSAGE",
    "QUEUE_FILL",
    "ROLE_STYLE",
    "SERIES_COLOURS",
    "TRAY_HEIGHT",
    "TRAY_WIDTH",
    "RoleStyle",
    "message_colours",
]

# Okabe & Ito's palette: its colours stay distinct under every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
# the order chart series take them: most contrasting first, black kept for totals and markers,
# yellow last because it is faint on white
SERIES_COLOURS = tuple(OKABE_ITO[name] for name in
                       ("blue", "orange", "green", "vermillion", "purple", "sky", "yellow"))
# messages coloured by routing key take these, the most common key first
KEY_COLOURS = tuple(OKABE_ITO[name] for name in
                    ("blue", "orange", "green", "purple", "sky", "vermillion", "yellow", "black"))
PLAIN_MESSAGE = "#1F1F1F"  # a message when colour says nothing
DROP = OKABE_ITO["vermillion"]  # a dropped or lost message's cross
DEAD = OKABE_ITO["purple"]  # a dead-letter: its mark and its edge
DOWN = "#9A9A9A"  # a crashed node
EDGE = "#333333"  # outlines


class RoleStyle(NamedTuple):
    """How a node of one role is drawn: a marker, a pale fill (so the message colours stand
    out) and a size in points squared."""

    marker: str
    fill: str
    size: float


ROLE_STYLE = {
    "producer": RoleStyle(">", "#F4CB7A", 520),
    "broker": RoleStyle("s", "#A9D6F3", 900),
    "exchange": RoleStyle("D", "#8ED3BF", 420),
    "consumer": RoleStyle("o", "#B9CFE6", 600),
}
QUEUE_FILL = "#F7F7F7"  # a queue is a tray of boxes, head on the right
TRAY_WIDTH = 1.0  # x units (columns are about 1.5 units apart)
TRAY_HEIGHT = 0.36  # y units (rows are 1 unit apart)
# a tray holds ``slots`` boxes; this many boxes' width at its tail shows the count
COUNT_SLOTS = 2.4
LOG_CELL = "#D8D8D8"  # the lines between the cells of a log partition


def message_colours(trace: Trace, color_by: str | None = "auto") -> tuple[dict, list, list]:
    """Colour each message by priority or routing key.

    Returns (message id -> index into the colours, the colours as RGBA, legend entries as
    (label, colour)). ``color_by``: "priority", "key", None (one colour) or "auto" (priority
    when messages differ in priority, else routing key when keys differ, else one colour).
    """
    from matplotlib.colors import to_rgba

    if color_by not in ("auto", "priority", "key", None):
        raise ValueError(f"color_by must be 'auto', 'priority', 'key' or None, got {color_by!r}")
    keys: dict = {}
    for r in trace.filter(kind="publish").rows:  # the key it was first published with (a
        keys.setdefault(r[2], r[5])  # pipeline stage may pass it on with another)
    prios = {m: msg.priority for m, msg in trace.messages.items()
             if getattr(msg, "priority", None) is not None}
    if color_by == "auto":
        color_by = ("priority" if len(set(prios.values())) > 1 else
                    "key" if len(set(keys.values())) > 1 else None)
    if color_by == "priority":
        return _by_priority(keys, prios)
    if color_by == "key":
        by_count: dict[str, int] = {}
        for k in keys.values():
            by_count[k] = by_count.get(k, 0) + 1
        order = sorted(by_count, key=lambda k: (-by_count[k], k))
        cols = [to_rgba(KEY_COLOURS[i % len(KEY_COLOURS)]) for i in range(len(order))]
        rank = {k: i for i, k in enumerate(order)}
        return ({m: rank[k] for m, k in keys.items()}, cols,
                [(k or "''", c) for k, c in zip(order[:8], cols, strict=False)])
    return {}, [to_rgba(PLAIN_MESSAGE)], [("message", to_rgba(PLAIN_MESSAGE))]


def _by_priority(keys: dict, prios: dict) -> tuple[dict, list, list]:
    """Priorities on a sequential colour map, low priority dark, high priority bright."""
    from matplotlib import colormaps

    levels = sorted(set(prios.values()) | ({0} if len(prios) < len(keys) else set()))
    cmap = colormaps["plasma"]
    cols: list[Any] = [cmap(0.05 + 0.8 * i / max(len(levels) - 1, 1)) for i in range(len(levels))]
    rank = {p: i for i, p in enumerate(levels)}
    which = {m: rank[prios.get(m, 0)] for m in keys}
    return which, cols, [(f"priority {p}", c) for p, c in zip(levels, cols, strict=True)]
