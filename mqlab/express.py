"""The express line: a faster inner loop for plain networks, with the same result.

:mod:`mqlab.simulation` is written to be read: one method per step of a message, a general
engine (:mod:`mqlab.engine`) and every feature checked at every step. Most big runs (lesson
06's sweeps, benchmarks, a student trying a million messages) use none of the features, and
pay for them all the same. For such a network this module runs the same steps in one loop:

- producers publish (a fixed routing key and priority; no payload, headers, confirms, replies,
  faults or users) to a broker that routes every message of a producer to one FIFO queue
  (no capacity, no time to live);
- consumers take from those queues with any prefetch and service time (no handler, crash,
  nack, verification or onward publishing); links have any latency, but no loss, duplicates,
  outages or bandwidth limit.

It must give **exactly** the readable simulator's trace: the same rows in the same order, the
same random draws in the same order, so the same digest (``tests/test_express.py`` checks this
on many random networks). Three things make it faster:

- one function, one loop: each event kind is a branch of it, not a method call, and messages
  are their ids (no :class:`~mqlab.Message` objects; the trace's message table is filled from
  the rows at the end);
- rows are recorded as ``(time, shape code, id)``, the codes looked up once per part;
- **same-time events skip the heap**. The engine's rule for events at the same time is: in the
  order they were scheduled. An event scheduled with no delay (a hop with zero latency) runs
  at once when nothing else is due now; otherwise it waits in a first-in first-out line, and
  the loop takes the earlier-scheduled of the line's head and the heap's top. Both keep the
  engine's order, so nothing changes but the speed.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from itertools import count

from mqlab.dist import Exponential, Fixed

__all__ = ["eligible", "start"]

# what an event does, in the loop's branches
_PRODUCE, _ARRIVE, _RECEIVED, _FINISH = range(4)


def eligible(sim) -> str | None:
    """None when :func:`run` can play ``sim``'s network; else why not (for tests and notes)."""
    net = sim.net
    if net.users or net.taps or net.autoscalers or net.topics:
        return "users, taps, autoscaling or partitioned logs"
    if any(net.broker_crashes.values()) or net.seeks:
        return "broker crashes or seeks"
    for q in net.queues.values():
        if (q.kind != "fifo" or q.capacity is not None or q.message_ttl is not None
                or q.temporary):
            return f"queue {q.name!r} is not a plain first-in first-out queue"
    for c in sim.consumers.values():
        s = c.spec
        if (s.handler is not None or s.handler_factory is not None or s.verify is not None
                or s.dedup or s.onward is not None or s.ack_timeout is not None
                or s.crash_before_ack or s.nack or s.crash or c.faulty or c.onward is not None):
            return f"consumer {c.name!r} uses a feature of the readable simulator"
    if sim.members:
        return "log consumers"
    for p in sim.producers.values():
        s = p.spec
        if (s.mode != "async" or s.payload is not None or s.headers or s.key is not None
                or s.topic is not None or s.confirm or s.timeout is not None
                or s.expiration is not None or not isinstance(s.routing_key, Fixed)
                or not isinstance(s.priority, Fixed) or p.loss or p.duplicate or p.paced
                or p.tap is not None):
            return f"producer {p.name!r} uses a feature of the readable simulator"
        exchange = s.exchange or p.to
        targets = sim._targets(exchange, p.key, _Probe(p.key))
        if len(targets) != 1:
            return f"producer {p.name!r} does not route to exactly one queue"
    return None


def is_time(x) -> bool:
    """Is ``x`` a time the engine accepts, a finite number >= 0? (NaN fails every comparison.)"""
    try:
        return 0 <= x < math.inf
    except TypeError:
        return False


class _Probe:
    """What routing reads of a message a plain producer sends."""

    def __init__(self, key: str) -> None:
        self.routing_key, self.headers = key, {}


def _draw(sampler):
    """(value, None) for a fixed quantity, (None, mean) for an exponential one (inlined in the
    loop), else (None, sampler): called with the run's random generator."""
    if isinstance(sampler, Fixed):
        return sampler.value, None
    if type(sampler) is Exponential:
        return None, float(sampler.mean)
    return None, sampler


class _P:
    __slots__ = ("name", "exchange", "key", "count", "made", "delay", "latency", "gap", "q",
                 "publish", "arrive", "route", "schedule", "spec", "link", "enqueued",
                 "delivered")


class _Q:
    __slots__ = ("name", "items", "ready", "enqueue", "consumers")


class _C:
    __slots__ = ("name", "q", "held", "limit", "busy", "inbox", "ready", "delay", "latency",
                 "service", "deliver", "arrive", "start", "ack", "link", "arrive_start", "index")


def start(sim) -> tuple[Callable[[float | None], None], Callable[[], dict]]:
    """Set ``sim`` (eligible: see :func:`eligible`) going on the express line: returns
    ``run(until)``, which plays it on to ``until`` (None: to the end) as ``Engine.run`` does,
    recording into its trace, and ``end()``, which says where the unfinished messages are (as
    ``Simulation.snapshot`` does) once the run is over."""
    trace, rec_on = sim.trace, sim.recording
    shape = trace.shape
    queues: dict[str, _Q] = {}
    for name in sim.queues:
        q = queues[name] = _Q()
        q.name, q.items, q.ready, q.consumers = name, deque(), deque(), []
        q.enqueue = shape("enqueue", name)
    cons: dict[str, _C] = {}
    for name, c0 in sim.consumers.items():
        c = cons[name] = _C()
        q = queues[c0.queue.name]
        c.name, c.q, c.held, c.limit, c.busy, c.inbox = name, q, 0, c0.limit, False, deque()
        c.delay, c.latency = _draw(c0.latency)
        c.service = _draw(c0.spec.service)
        c.deliver = shape("deliver", q.name, name)
        c.arrive = shape("arrive", name, q.name)
        c.start = shape("start", name)
        c.ack = shape("ack", name, q.name, c0.spec.ack)
        c.link = sim.link_to(c0)
        c.arrive_start = trace.group(c.arrive, c.start)
        c.index = len(cons) - 1
        q.consumers.append(c)
    for name, qs in sim.queues.items():  # the readable simulator's round-robin line
        q = queues[name]
        q.ready.extend(cons[c0.name] for c0 in qs.ready)
        for c in q.consumers:
            c.ready = c in q.ready
    prods: list[_P] = []
    for name, p0 in sim.producers.items():
        p, s = _P(), p0.spec
        exchange = s.exchange or p0.to
        target = sim._targets(exchange, p0.key, _Probe(p0.key))[0]
        p.name, p.exchange, p.key, p.count, p.made, p.spec = name, exchange, p0.key, s.count, 0, s
        p.q = queues[target.name]
        p.delay, p.latency = _draw(p0.latency)
        p.gap = _draw(s.gap) if s.gap is not None else (None, None)
        p.schedule = s.schedule
        p.publish = shape("publish", name, p0.to, p0.key)
        p.arrive = shape("arrive", p0.to, name)
        p.route = shape("route", exchange, target.name, p0.key)
        p.link = f"link '{name} -> {p0.to}'"
        p.enqueued = trace.group(p.arrive, p.route, p.q.enqueue)
        p.delivered = [trace.group(p.arrive, p.route, p.q.enqueue, c.deliver)
                       for c in cons.values()]
        prods.append(p)

    rng = sim.rng
    random, log, inf = rng.random, math.log, math.inf
    heap: list = []
    push, pop = heapq.heappush, heapq.heappop
    line: deque = deque()  # same-time events: (time, seq, kind, part, id), in scheduling order
    later = line.append
    seq = count()
    tick = seq.__next__

    def drawn(sampler, where: str, what: str, now: float) -> float:
        """A draw of a distribution other than the exponential (inlined above), checked."""
        value = sampler(rng)
        if not is_time(value):
            sim.engine.now = now
            raise sim.bad_draw(where, what, value)
        return value

    # the readable simulator's start(): every producer's first message, in the same order
    for p in prods:
        if p.schedule is not None:
            for t in p.schedule[: p.count]:
                if not 0.0 <= t < inf:  # as the engine's at() says it
                    raise ValueError(f"time must not be before now (0.0) and must be finite, "
                                     f"got {t}")
                push(heap, (t, tick(), _PRODUCE, p, 0))
        else:
            fixed, gap = p.gap
            if fixed is None:
                fixed = (-log(1.0 - random()) * gap if gap.__class__ is float
                         else drawn(gap, f"producer {p.name!r}", "interval", 0.0))
            push(heap, (fixed, tick(), _PRODUCE, p, 0))

    at, key = trace.recorder()
    rec = rec_on
    shift = trace.SHIFT
    state = {"now": 0.0, "next_id": sim.next_id, "on_links": 0}

    def loop(stop: float | None) -> None:
        now, next_id, on_links = state["now"], state["next_id"], state["on_links"]
        try:
            while True:
                # the next event: the line's head or the heap's top, whichever was scheduled
                # first (a heap event due now was scheduled before the line's head, or after)
                if line:
                    if heap and heap[0][0] <= now and heap[0][1] < line[0][1]:
                        _, _, kind, part, mid = pop(heap)
                    else:
                        _, _, kind, part, mid = line.popleft()
                elif heap and (stop is None or heap[0][0] <= stop):
                    now, _, kind, part, mid = pop(heap)
                else:
                    return
                while True:  # the event, and an event it makes that is next anyway
                    if kind == _FINISH:
                        c = part
                        q = c.q
                        c.held -= 1
                        if not c.ready:
                            c.ready = True
                            q.ready.append(c)
                        if rec:
                            at(now)
                            key(mid << shift | c.ack)
                        c.busy = False
                        if c.inbox:  # the next message it already has
                            mid = c.inbox.popleft()
                            c.busy = True
                            if rec:
                                at(now)
                                key(mid << shift | c.start)
                            fixed, s = c.service
                            if fixed is None:
                                fixed = (-log(1.0 - random()) * s if s.__class__ is float
                                         else drawn(s, f"consumer {c.name!r}", "service", now))
                            if fixed:
                                push(heap, (now + fixed, tick(), _FINISH, c, mid))
                            else:
                                later((now, tick(), _FINISH, c, mid))
                        items = q.items
                        if items:  # dispatch, round-robin
                            ready = q.ready
                            while ready and items:
                                c = ready.popleft()
                                if c.held >= c.limit:  # full at its turn: set aside
                                    c.ready = False
                                    continue
                                m = items.popleft()
                                c.held += 1
                                if rec:
                                    at(now)
                                    key(m << shift | c.deliver)
                                d = c.delay
                                if d is None:
                                    d = c.latency
                                    d = (-log(1.0 - random()) * d if d.__class__ is float
                                         else drawn(d, c.link, "latency", now))
                                if d:
                                    push(heap, (now + d, tick(), _RECEIVED, c, m))
                                else:
                                    later((now, tick(), _RECEIVED, c, m))
                                ready.append(c)  # to the back of the turn, full or not
                        break
                    if kind == _RECEIVED:
                        c = part
                        if c.busy:
                            if rec:
                                at(now)
                                key(mid << shift | c.arrive)
                            c.inbox.append(mid)
                            break
                        c.busy = True
                        if rec:  # arrive and start: one group of rows
                            at(now)
                            key(mid << shift | c.arrive_start)
                        fixed, s = c.service
                        if fixed is None:
                            fixed = (-log(1.0 - random()) * s if s.__class__ is float
                                     else drawn(s, f"consumer {c.name!r}", "service", now))
                        if fixed:
                            push(heap, (now + fixed, tick(), _FINISH, c, mid))
                        elif not line and not (heap and heap[0][0] <= now):
                            kind = _FINISH
                            continue
                        else:
                            later((now, tick(), _FINISH, c, mid))
                        break
                    if kind == _ARRIVE:  # at the broker: route, enqueue, deliver if it can
                        p = part
                        on_links -= 1
                        q = p.q
                        ready = q.ready
                        while ready and ready[0].held >= ready[0].limit:
                            ready.popleft().ready = False  # full at its turn: set aside
                        if not ready:  # (a consumer in the turn means the queue was empty)
                            if rec:  # arrive, route, enqueue: one group of rows
                                at(now)
                                key(mid << shift | p.enqueued)
                            q.items.append(mid)
                            break
                        c = ready.popleft()
                        c.held += 1
                        if rec:  # arrive, route, enqueue, deliver
                            at(now)
                            key(mid << shift | p.delivered[c.index])
                        ready.append(c)  # to the back of the turn, full or not
                        d = c.delay
                        if d is None:
                            d = c.latency
                            d = (-log(1.0 - random()) * d if d.__class__ is float
                                 else drawn(d, c.link, "latency", now))
                        if d:
                            push(heap, (now + d, tick(), _RECEIVED, c, mid))
                        elif not line and not (heap and heap[0][0] <= now):
                            kind, part = _RECEIVED, c
                            continue
                        else:
                            later((now, tick(), _RECEIVED, c, mid))
                        break
                    # _PRODUCE: the producer's application has a new message
                    p = part
                    if p.count is not None and p.made >= p.count:
                        break
                    p.made += 1
                    if p.schedule is None and (p.count is None or p.made < p.count):
                        fixed, gap = p.gap
                        if fixed is None:
                            fixed = (-log(1.0 - random()) * gap if gap.__class__ is float
                                     else drawn(gap, f"producer {p.name!r}", "interval", now))
                        push(heap, (now + fixed, tick(), _PRODUCE, p, 0))
                    next_id += 1
                    mid = next_id
                    if rec:
                        at(now)
                        key(mid << shift | p.publish)
                        if not mid & 0x3FFF:  # now and then, into compact columns
                            trace.pack()
                    d = p.delay
                    if d is None:
                        d = p.latency
                        d = (-log(1.0 - random()) * d if d.__class__ is float
                             else drawn(d, p.link, "latency", now))
                    on_links += 1
                    if d:
                        push(heap, (now + d, tick(), _ARRIVE, p, mid))
                    elif not line and not (heap and heap[0][0] <= now):
                        kind = _ARRIVE
                        continue
                    else:
                        later((now, tick(), _ARRIVE, p, mid))
                    break
        finally:
            state.update(now=now, next_id=next_id, on_links=on_links)

    def run(until: float | None) -> None:
        loop(until)
        if until is not None:
            state["now"] = until
        sim.engine.now = state["now"]

    def end() -> dict:
        sim.next_id = state["next_id"]
        if rec_on:  # the message table is worked out from the rows when first read
            rows = len(trace)
            trace.messages.later(lambda: _fill_messages(trace, prods, rows))
        return {
            "queued": {n: len(q.items) for n, q in queues.items()},
            "blocked": {n: 0 for n in queues},
            "at_consumers": {n: c.held for n, c in cons.items()},
            "on_links": state["on_links"],
            "waiting_at_producers": {p.name: 0 for p in prods},
            "in_logs": {},
        }

    return run, end


def _fill_messages(trace, prods: list[_P], rows: int) -> None:
    """The trace's message table, as the readable simulator leaves it (each message's source,
    key, priority and its times: created and sent when published, enqueued and delivered the
    last time it was), read from the rows."""
    import numpy as np

    t, code, msg = (col[:rows] for col in trace.columns())  # the run's own rows
    kinds = [s[0] for s in trace.shapes()[1]]
    publish, enqueue, deliver = (np.array([k == kind for k in kinds] or [False])
                                 for kind in ("publish", "enqueue", "deliver"))
    at = publish[code] if len(t) else np.zeros(0, dtype=bool)
    ids = msg[at].astype(np.int64)
    if not len(ids):
        return
    first = int(ids.min())
    n = len(ids)  # numbered first, first + 1, ... as they were published
    label_of = {p.publish: i for i, p in enumerate(prods)}
    labels = np.zeros(n, dtype=np.int32)
    labels[ids - first] = [label_of[c] for c in code[at].tolist()]
    sent = np.empty(n)
    sent[ids - first] = t[at]
    times = []
    for on in (enqueue[code], deliver[code]):
        col = np.full(n, np.nan)
        col[msg[on] - first] = t[on]  # the last time wins: numpy assigns in order
        times.append(col)
    trace.messages.add_packed(
        np.arange(first, first + n, dtype=np.int64), labels,
        [(p.name, p.key, "", p.key) for p in prods], [p.spec.priority.value for p in prods],
        sent, sent, *times)
