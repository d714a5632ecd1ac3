"""Measure a run from its Trace alone: throughput, latency, queue length, the message account.

Every function here takes a :class:`~mqlab.Trace` (from a simulation, traced threads or a real
broker) and nothing else, so the same numbers come out whatever produced the run.

- **throughput** of a node = messages it finished / length of the time window (messages/s);
  the system's throughput is the sum over its consumers.
- **latency** of a message = time from one event (default: its ``publish``) to another (default:
  its ``ack``), in seconds.
- **queue length** over time = messages waiting in a queue at each moment.
- **Little's law**: in a steady state the average number in the system L equals the arrival rate
  lambda times the average time in the system W.

Two messages through one queue and one consumer:

>>> t = Trace()
>>> for row in [(0.0, "publish", 1, "p", "b"), (0.0, "enqueue", 1, "q"),
...             (0.0, "deliver", 1, "q", "c"), (1.0, "publish", 2, "p", "b"),
...             (1.0, "enqueue", 2, "q"), (2.0, "ack", 1, "c", "q"),
...             (2.0, "deliver", 2, "q", "c"), (4.0, "ack", 2, "c", "q")]:
...     t.record(*row)
>>> latencies(t), percentile(latencies(t), 50)
([2.0, 3.0], 2.5)
>>> throughput(t, "c", start=0, stop=4)  # the ack at 4.0 falls outside [0, 4)
0.25
>>> queue_length(t, "q")
([0.0, 0.0, 1.0, 2.0], [0, 0, 1, 0])
>>> account(t).acked, account(t).in_system
(2, 0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from mqlab.trace import KINDS, Trace

__all__ = [
    "Account",
    "account",
    "count",
    "latencies",
    "little",
    "percentile",
    "queue_delta",
    "queue_deltas",
    "queue_length",
    "queue_summary",
    "system_throughput",
    "throughput",
    "time_average",
    "unroutable",
    "utilisation",
]

# a trace with at least this many rows is measured from its numpy columns (the same numbers)
_BIG = 100_000

# changes to the number of messages waiting in a queue (the queue is the event's node)
_ENDS = frozenset({"ack", "drop", "expire", "loss"})  # events that end a message's life
_QUEUE_DELTA = {"enqueue": 1, "requeue": 1, "deliver": -1, "expire": -1, "dead-letter": -1}


def count(trace: Trace, kind: str, node: str | None = None, peer: str | None = None) -> int:
    """How many ``kind`` events happened (at ``node``, towards ``peer``, when given).

    >>> t = Trace([(0.0, "ack", 1, "c", "q"), (1.0, "ack", 2, "d", "q")])
    >>> count(t, "ack"), count(t, "ack", node="c")
    (2, 1)
    """
    if len(trace) >= _BIG and kind in KINDS:  # no rows read: counts per shape
        return trace.count(kind, node, peer)
    return len(trace.filter(kind=kind, node=node, peer=peer))


def throughput(trace: Trace, node: str | None = None, start: float = 0.0,
               stop: float | None = None, kind: str = "ack") -> float:
    """Messages finished per second (``ack`` events) at ``node`` (or everywhere) in a window."""
    stop = trace.duration if stop is None else stop
    if stop <= start:
        raise ValueError(f"stop must be after start ({start}), got {stop}")
    if len(trace) >= _BIG:
        import numpy as np

        t = trace.columns()[0]
        n = int(np.count_nonzero(trace.where(kind, node) & (t >= start) & (t < stop)))
        return n / (stop - start)
    n = sum(1 for t, k, _, nd, _, _ in trace.rows
            if k == kind and start <= t < stop and (node is None or nd == node))
    return n / (stop - start)


def system_throughput(trace: Trace, start: float = 0.0, stop: float | None = None) -> float:
    """The sum of every consumer's throughput (messages/s): all acks in the window."""
    return throughput(trace, None, start, stop)


def latencies(trace: Trace, start: str = "publish", end: str = "ack",
              since: float = 0.0, node: str | Iterable[str] | None = None) -> list[float]:
    """Seconds from each message's first ``start`` event to its first ``end`` event.

    ``start="create"`` counts from the moment the producer's application made the message,
    which comes before its ``publish`` when a producer has to wait (a synchronous producer
    waiting for a reply, or a publisher held back by a full queue with overflow="block").
    ``since`` skips messages whose ``start`` came earlier (to leave out a warm-up period).
    ``node`` counts only ``end`` events at that node (e.g. one consumer's acks), or at any of
    several nodes (a list or set: e.g. the workers of a pipeline's last stage).
    Messages that never reached ``end`` are left out.
    """
    for name, value in (("start", start), ("end", end)):
        if value not in KINDS and not (name == "start" and value == "create"):
            raise ValueError(f"{name} must be an event kind ({', '.join(KINDS)})"
                             + (" or 'create'" if name == "start" else "") + f", got {value!r}")
    nodes = {node} if isinstance(node, str) else set(node) if node is not None else set()
    began: dict[int, float] = {}
    if start == "create":
        began = {m: msg.created for m, msg in trace.messages.items()
                 if getattr(msg, "created", None) is not None}
        if not began and any(r[1] == "publish" for r in trace.rows):
            raise ValueError("start='create' needs each message's creation time, and this "
                             "trace has none (trace.messages is empty: a run made with "
                             "trace=False, or a trace recorded without messages); use "
                             "start='publish'")
    if len(trace) >= _BIG and start != "create" and start != end:
        return _latencies_columns(trace, start, end, since, node)
    done: set[int] = set()
    out = []
    for t, k, m, nd, *_ in trace.rows:
        if k == start and m not in began:
            began[m] = t
        elif k == end and m in began and m not in done and (node is None or nd in nodes):
            done.add(m)  # each message once
            if began[m] >= since:
                out.append(t - began[m])
    return out


def _latencies_columns(trace: Trace, start: str, end: str, since: float,
                       node: str | Iterable[str] | None) -> list[float]:
    """:func:`latencies` of a big trace, from its columns: the same numbers, in the same
    order (that of the end events)."""
    import numpy as np

    t, _, m = trace.columns()
    first_start = trace.where(start)
    idx_s = np.flatnonzero(first_start)
    ids, at = np.unique(m[idx_s], return_index=True)  # each message's first start
    began_row, began_t = idx_s[at], t[idx_s[at]]
    nodes = {node} if isinstance(node, str) else set(node) if node is not None else None
    idx_e = np.flatnonzero(trace.where(end) if nodes is None else
                           np.logical_or.reduce([trace.where(end, n) for n in nodes])
                           if nodes else np.zeros(len(t), dtype=bool))
    me = m[idx_e]
    k = np.searchsorted(ids, me)
    k[k == len(ids)] = 0
    known = (len(ids) > 0) & (ids[k] == me) if len(ids) else np.zeros(len(me), dtype=bool)
    after = known & (idx_e > began_row[k])  # the message had started by then
    idx_e, me, k = idx_e[after], me[after], k[after]
    _, first = np.unique(me, return_index=True)  # each message's first end after its start
    first.sort()
    idx_e, k = idx_e[first], k[first]
    keep = began_t[k] >= since
    return (t[idx_e[keep]] - began_t[k[keep]]).tolist()


def utilisation(trace: Trace, node: str | None = None, start: float = 0.0,
                stop: float | None = None) -> float | dict[str, float]:
    """The fraction of the window [start, stop) that consumer ``node`` spent processing
    (from each ``start`` event to its ``ack``, ``nack``, ``drop`` or the consumer's ``crash``);
    with no ``node``, a dict of every consumer's. For a consumer of an M/M/1 queue this tends
    to rho = arrival rate / service rate.

    >>> t = Trace([(0.0, "start", 1, "c"), (1.0, "ack", 1, "c", "q"),
    ...            (2.0, "start", 2, "c"), (3.0, "ack", 2, "c", "q")])
    >>> utilisation(t, "c", stop=4.0)
    0.5
    """
    stop = trace.duration if stop is None else stop
    if stop <= start:
        raise ValueError(f"stop must be after start ({start}), got {stop}")
    busy: dict[str, float] = {}
    began: dict[str, tuple[int, float]] = {}  # consumer -> (message, start time)
    for t, k, m, nd, _, _ in trace.rows:
        if k == "start":
            began[nd] = (m, t)
            busy.setdefault(nd, 0.0)
        elif nd in began and (k == "crash" or (k in ("ack", "nack", "drop")
                                                and began[nd][0] == m)):
            t0 = began.pop(nd)[1]
            busy[nd] += max(0.0, min(t, stop) - max(t0, start))
    for nd, (_, t0) in began.items():  # still processing at the end
        busy[nd] += max(0.0, stop - max(t0, start))
    share = {nd: b / (stop - start) for nd, b in sorted(busy.items())}
    if node is None:
        return share
    return share.get(node, 0.0)


def unroutable(trace: Trace) -> dict[str, int]:
    """Routing keys that matched no queue, with how many messages carried each.

    A typo in a routing key or a binding shows up here: the messages went nowhere.

    >>> t = Trace([(0.0, "publish", 1, "p", "hub", "jbos"), (0.0, "arrive", 1, "hub", "p"),
    ...            (0.0, "drop", 1, "hub", "", "unroutable")])
    >>> unroutable(t)
    {'jbos': 1}
    """
    if len(trace) >= _BIG and not trace.count("drop", info="unroutable"):
        return {}
    keys: dict[int, str] = {}
    out: Counter = Counter()
    for _, k, m, _, _, info in trace.rows:
        if k in ("publish", "route"):
            keys.setdefault(m, info)
        elif k == "drop" and info == "unroutable":
            msg = trace.messages.get(m)
            out[getattr(msg, "routing_key", None) if msg is not None else keys.get(m, "")] += 1
    return dict(out.most_common())


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    if not values:
        return math.nan
    if len(values) >= _BIG:
        import numpy as np

        xs = np.sort(np.asarray(values, dtype=float))
        pos = (len(xs) - 1) * q / 100
        lo, hi = math.floor(pos), math.ceil(pos)
        x_lo, x_hi = xs[lo].item(), xs[hi].item()
        return x_lo + (x_hi - x_lo) * (pos - lo)
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def queue_delta(kind: str, info: str = "") -> int:
    """+1 if an event at a queue puts a message into it, -1 if it takes one out, else 0.

    >>> queue_delta("enqueue"), queue_delta("deliver"), queue_delta("drop", "rejected")
    (1, -1, 0)
    """
    if kind == "drop":
        # drop-head pushed the head out; a temporary queue was deleted with what it held
        return -1 if info in ("overflow", "queue deleted") else 0
    if kind == "dead-letter" and info == "rejected":
        return 0  # a nacked message was at the consumer, not in the queue
    return _QUEUE_DELTA.get(kind, 0)


def queue_length(trace: Trace, queue: str) -> tuple[list[float], list[int]]:
    """The number of ready messages in ``queue`` as a step function: (times, lengths).

    Several events at the same instant (within a nanosecond: times computed along different
    paths may differ in their last bits) make one step, to the length after the last of them:
    a message that comes in and goes straight out (to a waiting consumer, or pushed out of a
    full drop-head queue) never counts as waiting.

    A partition of a partitioned log (graph node of kind "log") counts the records it keeps:
    reading one leaves it there; retention deletes it.
    """
    graph = trace.graph
    log = graph is not None and queue in graph and graph.nodes[queue].get("kind") == "log"
    if len(trace) >= _BIG:
        out = _queue_length_columns(trace, queue, log)
        if out is not None:
            return out[0].tolist(), out[1].tolist()
    return _queue_length_rows(trace, queue, log)


def _queue_length_rows(trace: Trace, queue: str, log: bool) -> tuple[list[float], list[int]]:
    times, lengths, n = [0.0], [0], 0
    for t, k, _, nd, _, info in trace.rows:
        if nd != queue:
            continue
        d = ((k == "append") - (k == "expire")) if log else queue_delta(k, info)
        if d:
            n += d
            if t - times[-1] <= 1e-9 and len(times) > 1:  # the first point is the empty start
                lengths[-1] = n
            else:
                times.append(t)
                lengths.append(n)
    return times, lengths


def queue_deltas(trace: Trace, queue: str, log: bool = False):
    """What a row of each shape code (see ``Trace.shapes``) does to ``queue``'s length, as a
    numpy array indexed by code: +1, -1 or 0 (:func:`queue_delta`; for a partition of a
    log, ``log``: an append adds a record, retention's expire removes one)."""
    import numpy as np

    shapes = trace.shapes()[1]
    delta = np.zeros(len(shapes) or 1, dtype=np.int8)
    for c, (k, nd, _, info) in enumerate(shapes):
        if nd == queue:
            delta[c] = ((k == "append") - (k == "expire")) if log else queue_delta(k, info)
    return delta


def _queue_length_columns(trace: Trace, queue: str, log: bool):
    """:func:`queue_length` of a big trace from its columns, or None when its same-instant
    steps cannot be found without the row-by-row rule (rows less than a nanosecond apart in a
    chain longer than a nanosecond)."""
    import numpy as np

    t, code, _ = trace.columns()
    d = queue_deltas(trace, queue, log)[code]
    at = np.flatnonzero(d)
    if not len(at):
        return np.zeros(1), np.zeros(1, dtype=np.int64)
    tq, n = t[at], np.cumsum(d[at], dtype=np.int64)
    del d
    new = np.empty(len(tq), dtype=bool)
    new[0] = True  # the first step never merges with the empty start
    new[1:] = np.diff(tq) > 1e-9
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(tq)) - 1
    if np.any(tq[ends] - tq[starts] > 1e-9):
        return None
    return np.insert(tq[starts], 0, 0.0), np.insert(n[ends], 0, 0)


def queue_summary(trace: Trace, queue: str, stop: float | None = None) -> dict:
    """The longest, time-average (up to ``stop``, default: the end of the run) and final
    length of ``queue`` (as :func:`queue_length` counts it): what a run's summary shows."""
    stop = trace.duration if stop is None else stop
    out = None
    if len(trace) >= _BIG:  # without a list of every step
        graph = trace.graph
        log = graph is not None and queue in graph and graph.nodes[queue].get("kind") == "log"
        out = _queue_length_columns(trace, queue, log)
    times, lengths = out if out is not None else queue_length(trace, queue)
    return {"max_length": int(max(lengths)) if out is None else int(lengths.max()),
            "mean_length": time_average(times, lengths, stop) if stop > 0 else 0.0,
            "final": int(lengths[-1])}


def time_average(times: list[float], values: list[float], stop: float) -> float:
    """The time-weighted mean of a step function up to ``stop``."""
    if stop <= times[0]:
        return float(values[0])
    if len(times) >= _BIG or not isinstance(times, list):  # the same sum, in the same order,
        # without a Python loop
        import numpy as np

        ts, vs = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
        keep = ts < stop  # steps after ``stop`` do not count
        ts_next = np.append(ts[1:], stop)
        area = vs * (np.minimum(ts_next, stop) - ts)
        area = area[: np.argmin(keep) if not keep.all() else len(ts)]
        total = float(np.cumsum(area)[-1]) if len(area) else 0.0
        return total / (stop - float(times[0]))
    area = 0.0
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if t >= stop:
            break  # steps after ``stop`` do not count
        t_next = times[i + 1] if i + 1 < len(times) else stop
        area += v * (min(t_next, stop) - t)
    return area / (stop - times[0])


def little(trace: Trace, since: float = 0.0) -> dict:
    """Check Little's law, L = lambda * W, on the whole system.

    A message is in the system from its first ``publish`` until it first ends (``ack``,
    ``drop``, ``expire`` or ``loss``), or until the run stops. Returns the measured L
    (time-average number of messages in the system after ``since``), lambda (arrivals per
    second after ``since``), W (mean time in the system of the messages that arrived after
    ``since`` and ended) and lambda * W for comparison.
    """
    stop = trace.duration
    if not since < stop:
        raise ValueError(f"since must be before the end of the run ({stop} s), got {since}")
    entered: dict[int, float] = {}
    left: dict[int, float] = {}
    for t, k, m, *_ in trace.rows:
        if k == "publish":
            entered.setdefault(m, t)
        elif k in _ENDS and m in entered:
            left.setdefault(m, t)
    area, arrivals, stays = 0.0, 0, []
    for m, t_in in entered.items():
        t_out = left.get(m, stop)
        area += max(0.0, min(t_out, stop) - max(t_in, since))
        if t_in >= since:
            arrivals += 1
            if m in left:
                stays.append(t_out - t_in)
    lam = arrivals / (stop - since)
    mean_w = sum(stays) / len(stays) if stays else math.nan
    return {"L": area / (stop - since), "lambda": lam, "W": mean_w, "lambda*W": lam * mean_w}


def _weighted_rows(trace: Trace):
    """(kind, has a message id, node, peer, info, how many rows): for a small trace each row
    once; for a big one each shape once, in the order shapes first occur, without reading the
    rows one by one."""
    if len(trace) < _BIG:
        for _, k, m, node, peer, info in trace.rows:
            yield k, bool(m), node, peer, info, 1
        return
    import numpy as np

    _, code, m = trace.columns()
    shapes = trace.shapes()[1]
    n = max(len(shapes), 1)
    without = np.bincount(code[m == 0], minlength=n)  # few: node events
    with_id = (trace.shape_counts() - without).tolist()
    without = without.tolist()
    number = {s: c for c, s in enumerate(shapes)}
    for s in trace.shapes_in_order():
        c = number[s]
        for has_id, w in ((True, with_id[c]), (False, without[c])):
            if w:
                yield s[0], has_id, s[1], s[2], s[3], w


@dataclass(frozen=True)
class Account:
    """Where every message ended up. ``published + copies == ended + still_in_system``."""

    published: int
    copies: int  # extra copies made by fan-out and link duplication
    acked: int
    dropped: dict  # reason -> count (overflow, rejected, unroutable, ttl, loss, crash, ...)
    dead_lettered: int  # messages that went through dead-lettering (not an end in itself)
    in_system: int  # still queued, blocked, on a link or at a consumer, from the trace
    logged: int = 0  # appended to a partitioned log: kept there for consumer groups to read
    forwarded: int = 0  # of the copies: messages a pipeline stage published on to the next

    @property
    def ended(self) -> int:
        return self.acked + sum(self.dropped.values()) + self.logged

    def __getitem__(self, key: str):
        return getattr(self, key)


def account(trace: Trace) -> Account:
    """Count, from the trace, how every message ended (see :class:`Account`)."""
    kinds: Counter = Counter()
    dropped: Counter = Counter()
    arrivals: Counter = Counter()  # node -> arrive events there
    publishers: Counter = Counter()  # node -> publish events by it
    consumers = set()  # nodes that queues deliver to: arrivals there are not at a broker
    for k, m, node, peer, info, w in _weighted_rows(trace):
        if info == "log" and k == "ack" or info == "retention" and k == "expire":
            continue  # a log's readers and its retention: the record ended when appended
        if k == "loss" and info == "unacked":
            continue  # lost on the way to a consumer, still held unacked by the broker
        kinds[k] += w
        if k == "drop":
            dropped[info or "dropped"] += w
        elif k == "arrive":
            arrivals[node] += w
        elif k == "publish":
            publishers[node] += w
        elif k == "deliver":
            consumers.add(peer)
        elif k == "deny" and m and node not in consumers:  # a broker refused a publish
            dropped["denied"] += w
    broker_arrivals = sum(n for node, n in arrivals.items() if node not in consumers)
    if kinds["expire"]:
        dropped["ttl"] += kinds["expire"]
    if kinds["loss"]:
        dropped["loss"] += kinds["loss"]
    # every broker arrival or dead-lettering routes to k >= 1 queues (k - 1 new copies) or is
    # dropped as unroutable; a duplicated publish is one more copy
    # a consumer publishing what it finished to a pipeline's next stage: the same message
    # goes on, one more copy of it (its ack ended the copy at the stage before)
    forwarded = sum(n for node, n in publishers.items() if node in consumers)
    # (or is dropped at a broker that is down)
    copies = (kinds["route"] - broker_arrivals - kinds["dead-letter"]
              + dropped["unroutable"] + dropped["broker down"] + dropped["denied"]
              + kinds["duplicate"] + forwarded)
    published = kinds["publish"] - forwarded
    ended = kinds["ack"] + sum(dropped.values()) + kinds["append"]
    return Account(published, copies, kinds["ack"], dict(sorted(dropped.items())),
                   kinds["dead-letter"], published + copies - ended, kinds["append"], forwarded)
