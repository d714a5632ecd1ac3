"""The look of every picture: the palette, how each role is drawn, the queue trays' size, and
the colour each message gets.

The network drawing, the animated Scene and the charts all take their colours and shapes from
here, so a queue or a message looks the same wherever it appears.

>>> SERIES_COLOURS[0] == OKABE_ITO["blue"], ROLE_STYLE["broker"].marker
(True, 's')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    "Colours",
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
    For a long run (as :class:`~mqlab.state.Timeline` counts it) the same colours come from
    the trace's columns, and the first is a :class:`Colours` instead of a dict.
    """
    from matplotlib.colors import to_rgba

    from mqlab.state import Timeline

    if color_by not in ("auto", "priority", "key", None):
        raise ValueError(f"color_by must be 'auto', 'priority', 'key' or None, got {color_by!r}")
    if len(trace) > Timeline.SAMPLE_ABOVE:
        return _long_run_colours(trace, color_by)
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
    levels = sorted(set(prios.values()) | ({0} if len(prios) < len(keys) else set()))
    cols: list[Any] = _priority_colours(len(levels))
    rank = {p: i for i, p in enumerate(levels)}
    which = {m: rank[prios.get(m, 0)] for m in keys}
    return which, cols, [(f"priority {p}", c) for p, c in zip(levels, cols, strict=True)]


# -- a long run's colours: the same, from the trace's columns ----------------------------------
class Colours(Mapping):
    """Message id -> index into the colours, for a long run: two numpy arrays (the ids in
    increasing order and their colours), not a dict of a million entries."""

    def __init__(self, ids: Any, index: Any) -> None:
        self.ids, self.index = ids, index

    def lookup(self, msgs: Any, default: int = 0) -> Any:
        """The colour of each of these message ids (``default`` for one without)."""
        import numpy as np

        msgs = np.asarray(msgs, dtype=np.int64)
        if not len(self.ids):
            return np.full(len(msgs), default, dtype=int)
        at = np.minimum(np.searchsorted(self.ids, msgs), len(self.ids) - 1)
        return np.where(self.ids[at] == msgs, self.index[at], default).astype(int)

    def __getitem__(self, msg: Any) -> int:
        import numpy as np

        at = int(np.searchsorted(self.ids, msg))
        if at == len(self.ids) or self.ids[at] != msg:
            raise KeyError(msg)
        return int(self.index[at])

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def largest(self) -> int | None:
        """The largest message id (None if there is none)."""
        return int(self.ids[-1]) if len(self.ids) else None


def _long_run_colours(trace: Trace, color_by: str | None) -> tuple[Any, list, list]:
    """:func:`message_colours` of a long run, from the columns: the same choice of colours
    and legend."""
    import numpy as np
    from matplotlib.colors import to_rgba

    t, code, msg = trace.columns()
    shapes = trace.shapes()[1]
    publish = np.flatnonzero(trace.where("publish"))
    # the key each message was first published with (a pipeline stage may pass it on with
    # another)
    ids, first = np.unique(msg[publish], return_index=True)
    key_codes = code[publish[first]]
    del publish, first
    keys = [s[3] for s in shapes]  # info: the routing key, per shape
    names = sorted({keys[c] for c in np.unique(key_codes).tolist()})
    name_of = np.array([names.index(k) if k in names else -1 for k in keys] or [-1])
    which_key = name_of[key_codes]  # each published message's key, by number in ``names``
    counts = np.bincount(which_key, minlength=len(names)) if len(names) else np.zeros(0, int)
    with_prio, prio = _priorities(trace.messages)
    if color_by == "auto":
        color_by = ("priority" if len(np.unique(prio)) > 1 else
                    "key" if len(names) > 1 else None)
    if color_by == "priority":
        levels = sorted(set(prio.tolist()) | ({0} if len(with_prio) < len(ids) else set()))
        cmap_cols = _priority_colours(len(levels))
        at = np.minimum(np.searchsorted(with_prio, ids), max(len(with_prio) - 1, 0))
        has = (with_prio[at] == ids) if len(with_prio) else np.zeros(len(ids), dtype=bool)
        mine = np.where(has, prio[at] if len(prio) else 0, 0)
        if 0 not in levels and not has.all():
            raise KeyError(0)  # as a dict of the levels would
        rank = np.searchsorted(np.array(levels), mine)
        return (Colours(ids.astype(np.int64), rank), cmap_cols,
                [(f"priority {p}", c) for p, c in zip(levels, cmap_cols, strict=True)])
    if color_by == "key":
        order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
        cols = [to_rgba(KEY_COLOURS[i % len(KEY_COLOURS)]) for i in range(len(order))]
        rank = np.zeros(len(names), dtype=int)
        rank[order] = np.arange(len(order))
        return (Colours(ids.astype(np.int64), rank[which_key]), cols,
                [(names[i] or "''", c) for i, c in zip(order[:8], cols, strict=False)])
    return {}, [to_rgba(PLAIN_MESSAGE)], [("message", to_rgba(PLAIN_MESSAGE))]


def _priority_colours(n: int) -> list:
    """``n`` priority levels on a sequential colour map, low dark, high bright."""
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(0.05 + 0.8 * i / max(n - 1, 1)) for i in range(n)]


def _priorities(messages: Any) -> tuple[Any, Any]:
    """(ids in increasing order, priorities) of the messages that have a priority.

    A trace's own table (:class:`mqlab.trace.Messages`) answers from its packed columns, not
    a message at a time (rebuilding a million messages one by one takes seconds)."""
    import numpy as np

    if hasattr(messages, "priorities"):
        return messages.priorities()
    pairs = sorted((m, x.priority) for m, x in messages.items()
                   if getattr(x, "priority", None) is not None)
    return (np.array([m for m, _ in pairs], dtype=np.int64),
            np.array([p for _, p in pairs], dtype=np.int64))
