"""The simulated broker at work: what each part does when an event reaches it.

:func:`simulate` takes a wired-up :class:`~mqlab.Network`, plays it on an
:class:`~mqlab.engine.Engine` and records every step in a :class:`~mqlab.Trace`. The rules
follow RabbitMQ wherever it has one: routing by exchange type, round-robin delivery to
competing consumers limited by prefetch, requeue on nack or consumer crash, dead-lettering of
expired, rejected and overflowed messages.
"""

from __future__ import annotations

import copy
import gc
from collections import deque

from mqlab.dist import Fixed
from mqlab.engine import Engine
from mqlab.message import Message
from mqlab.progress import Progress
from mqlab.routing import topic_matches
from mqlab.trace import Trace

__all__ = ["simulate"]

_SLICES = 50  # a run with an end time runs in this many slices, for the progress bar
_ZERO = Fixed(0.0)
_VARIES = object()  # marks a quantity drawn afresh each time


def _fixed(sampler):
    """The value of a fixed quantity, or _VARIES: lets the hot path skip a function call."""
    return sampler.value if isinstance(sampler, Fixed) else _VARIES


class _Producer:
    def __init__(self, spec, link):
        self.spec, self.name, self.to = spec, spec.name, spec.to
        self.latency = link.latency if link else _ZERO
        self.delay = _fixed(self.latency)
        self.key = _fixed(spec.routing_key)
        self.priority = _fixed(spec.priority)
        self.loss = link.loss if link else 0.0
        self.duplicate = link.duplicate if link else 0.0
        self.made = 0  # messages created so far (sent or waiting in the backlog)
        self.sent = 0
        self.backlog: deque[float] = deque()  # creation times of messages not yet sent
        self.awaiting = 0  # id of the sync request in flight, or 0
        self.blocked = 0  # id of the message a full "block" queue holds back, or 0


class _QueueState:
    def __init__(self, spec):
        self.spec, self.name = spec, spec.name
        self.q = spec.make()
        self.ttl = spec.message_ttl
        self.consumers: list[_Consumer] = []
        # consumers that are up and below their prefetch, in round-robin order: the next
        # message goes to the first, who then moves to the back (or leaves, if now full)
        self.ready: deque[_Consumer] = deque()
        self.blocked: deque = deque()  # (message, producer) held back by overflow="block"


class _Consumer:
    def __init__(self, spec, link):
        self.spec, self.name = spec, spec.name
        self.latency = link.latency if link else _ZERO
        self.delay = _fixed(self.latency)
        self.service = _fixed(spec.service)
        self.up = True
        self.epoch = 0  # bumped by a crash: events from before it are ignored
        self.held: dict[int, Message] = {}  # delivered, not yet acked: id(msg) -> msg
        self.inbox: deque[Message] = deque()  # arrived, waiting to be processed
        self.busy = False
        self.ready = False  # is it in its queue's ready line?


class Simulation:
    """The state of one run, and the event handlers that change it."""

    def __init__(self, net, record: bool = True):
        self.net = net
        self.engine = Engine(net.seed)
        self.schedule = self.engine.schedule
        self.rng = self.engine.rng
        self.trace = Trace(graph=net.graph)
        # hot-path events append a row tuple directly; the rest go through record()
        self.recording = record
        self.rec = self.trace.rows.append if record else (lambda row: None)
        self.record = lambda *row: self.rec(row + ("",) * (6 - len(row)))
        self.next_id = 0
        self.on_links = 0  # messages travelling on a link right now
        self.queues = {n: _QueueState(s) for n, s in net.queues.items()}
        self.consumers = {}
        for name, spec in net.consumers.items():
            link = net.links.get((spec.queue, name)) or net.links.get(
                (net.queues[spec.queue].broker, name))
            c = self.consumers[name] = _Consumer(spec, link)
            c.queue = self.queues[spec.queue]
            c.queue.consumers.append(c)
            c.queue.ready.append(c)
            c.ready = True
        self.producers = {n: _Producer(s, net.links.get((n, s.to)))
                          for n, s in net.producers.items()}
        self.any_sync = any(p.mode == "sync" for p in net.producers.values())
        self._routes: dict = {}  # (exchange, key) -> queue names, cached

    # -- producers -----------------------------------------------------------------------------
    def start(self) -> None:
        for p in self.producers.values():
            if p.spec.schedule is not None:
                for t in p.spec.schedule[: p.spec.count]:
                    self.engine.at(t, self.produce, p)
            else:
                self.schedule(p.spec.gap(self.rng), self.produce, p)
        for c in self.consumers.values():
            for down, up in c.spec.crash:
                self.engine.at(down, self.crash, c)
                self.engine.at(up, self.recover, c)

    def produce(self, p: _Producer) -> None:
        """The producer's application has a new message: send it now or queue it up."""
        spec = p.spec
        if spec.count is not None and p.made >= spec.count:
            return
        p.made += 1
        if spec.schedule is None and (spec.count is None or p.made < spec.count):
            self.schedule(spec.gap(self.rng), self.produce, p)
        if p.awaiting or p.blocked:
            p.backlog.append(self.engine.now)  # it waits at the producer
        else:
            self.publish(p, self.engine.now)

    def publish(self, p: _Producer, created: float) -> None:
        spec, now, rng = p.spec, self.engine.now, self.rng
        self.next_id += 1
        mid = self.next_id
        p.sent += 1
        key = p.key if p.key is not _VARIES else spec.routing_key(rng)
        msg = Message(
            spec.payload(p.sent - 1) if spec.payload else None,
            spec.name, key, "", key,
            p.priority if p.priority is not _VARIES else spec.priority(rng),
            dict(spec.headers) if spec.headers else {}, spec.expiration,
            mid, created, now,
        )
        if self.recording:
            self.trace.messages[mid] = msg
        self.rec((now, "publish", mid, p.name, p.to, key))
        if spec.mode == "sync":
            p.awaiting = mid
        if p.duplicate and rng.random() < p.duplicate:
            self.record(now, "duplicate", mid, p.name, p.to)
            self.travel(p, copy.copy(msg))
        self.travel(p, msg)

    def travel(self, p: _Producer, msg: Message) -> None:
        delay = p.delay if p.delay is not _VARIES else p.latency(self.rng)
        self.on_links += 1
        if p.loss and self.rng.random() < p.loss:
            self.schedule(delay, self.lost, p, msg)
        else:
            self.schedule(delay, self.arrive, p, msg)

    def lost(self, p: _Producer, msg: Message) -> None:
        self.on_links -= 1
        self.record(self.engine.now, "loss", msg.id, p.name, p.to)
        self.settled(msg, "lost")

    def resume(self, p: _Producer) -> None:
        """The producer may send again (its reply came, or the queue made room)."""
        if p.backlog and not (p.awaiting or p.blocked):
            self.publish(p, p.backlog.popleft())

    # -- the broker ----------------------------------------------------------------------------
    def arrive(self, p: _Producer, msg: Message) -> None:
        self.on_links -= 1
        self.rec((self.engine.now, "arrive", msg.id, p.to, p.name, ""))
        self.route(p.spec.exchange or p.to, msg.routing_key, msg, p)

    def route(self, exchange: str, key: str, msg: Message, p: _Producer | None) -> None:
        """Find the queues for ``key`` at ``exchange`` and enqueue a copy in each."""
        targets = self._routes.get((exchange, key))
        if targets is None:
            targets = [self.queues[n] for n in self._match(exchange, key)]
            self._routes[(exchange, key)] = targets
        now, mid = self.engine.now, msg.id
        if len(targets) == 1:  # the common case, kept cheap
            qs = targets[0]
            self.rec((now, "route", mid, exchange, qs.name, key))
            self.enqueue(qs, msg, p)
            return
        if not targets:
            self.record(now, "drop", mid, exchange, "", "unroutable")
            self.settled(msg, "unroutable")
            return
        for qs in targets:
            self.rec((now, "route", mid, exchange, qs.name, key))
        for i, qs in enumerate(targets):
            self.enqueue(qs, msg if i == 0 else _copy(msg), p)

    def _match(self, exchange: str, key: str) -> list[str]:
        ex = self.net.exchanges.get(exchange)
        if ex is None:  # the broker's default exchange: the key names a queue
            q = self.net.queues.get(key)
            return [key] if q is not None and q.broker == exchange else []
        if ex.type == "fanout":
            hits = [q for _, q in ex.bindings]
        elif ex.type == "direct":
            hits = [q for pattern, q in ex.bindings if pattern == key]
        else:
            hits = [q for pattern, q in ex.bindings if topic_matches(pattern, key)]
        return list(dict.fromkeys(hits))  # a queue bound twice still gets one copy

    def enqueue(self, qs: _QueueState, msg: Message, p: _Producer | None) -> None:
        q, now = qs.q, self.engine.now
        if q.capacity is not None and q.full():
            if q.overflow == "block":
                self.record(now, "block", msg.id, qs.name)
                qs.blocked.append((msg, p))
                if p is not None:
                    p.blocked = msg.id
                return
            if q.overflow == "reject-publish":
                self.record(now, "drop", msg.id, qs.name, "", "rejected")
                self.settled(msg, "rejected")
                return
            while q.full():  # requeues may have pushed it past capacity: make room for one
                self.dead_letter_or_drop(qs, q.get(), "maxlen", "overflow")
        msg.enqueued = now
        q.put(msg)
        self.rec((now, "enqueue", msg.id, qs.name, "", ""))
        if qs.ttl is not None or msg.expiration is not None:
            self.schedule(_ttl(qs, msg), self.expire_head, qs)
        if qs.ready:
            self.dispatch(qs)

    def dead_letter_or_drop(self, qs: _QueueState, msg: Message, dl_reason: str,
                            drop_reason: str) -> None:
        now, target = self.engine.now, qs.spec.dead_letter
        # the queues this message was dead-lettered from since a consumer last rejected it: one
        # that comes round to the same queue again is dropped (as in RabbitMQ), not sent round
        # the cycle for ever
        path = () if dl_reason == "rejected" else msg.headers.get("x-death-queues", ())
        if qs.name in path:
            target = None
        if target is None:
            if drop_reason == "ttl":
                self.record(now, "expire", msg.id, qs.name)
            else:
                self.record(now, "drop", msg.id, qs.name, "", drop_reason)
            self.settled(msg, drop_reason)
            return
        self.record(now, "dead-letter", msg.id, qs.name, target, dl_reason)
        msg.headers = {**msg.headers, "x-death": dl_reason,
                       "x-first-death-queue": msg.headers.get("x-first-death-queue", qs.name),
                       "x-death-queues": (*path, qs.name)}
        if target in self.queues:
            self.record(now, "route", msg.id, qs.name, target, msg.routing_key)
            self.enqueue(self.queues[target], msg, None)
        else:
            self.route(target, msg.routing_key, msg, None)

    def expire_head(self, qs: _QueueState) -> None:
        """Messages expire at the head of the queue, as in RabbitMQ."""
        q, now = qs.q, self.engine.now
        while len(q):
            head = q.peek()
            ttl = _ttl(qs, head)
            if ttl is None or head.enqueued + ttl > now + 1e-12:
                break
            self.dead_letter_or_drop(qs, q.get(), "expired", "ttl")
            self.admit_blocked(qs)

    def admit_blocked(self, qs: _QueueState) -> None:
        while qs.blocked and not qs.q.full():
            msg, p = qs.blocked.popleft()
            self.enqueue(qs, msg, p)
            if p is not None and p.blocked == msg.id:
                p.blocked = 0
                self.resume(p)

    def dispatch(self, qs: _QueueState) -> None:
        """Hand ready messages to consumers with room under their prefetch, round-robin."""
        q, ready = qs.q, qs.ready
        while ready and len(q):
            c = ready.popleft()
            msg = q.get()
            if qs.ttl is not None or msg.expiration is not None:
                if msg.enqueued + _ttl(qs, msg) <= self.engine.now:
                    ready.appendleft(c)  # nothing was delivered: it keeps its turn
                    self.dead_letter_or_drop(qs, msg, "expired", "ttl")
                    continue
            self.deliver(qs, c, msg)
            if len(c.held) < c.spec.prefetch:
                ready.append(c)
            else:
                c.ready = False
        if qs.blocked:
            self.admit_blocked(qs)

    def deliver(self, qs: _QueueState, c: _Consumer, msg: Message) -> None:
        now = self.engine.now
        msg.delivered = now
        c.held[id(msg)] = msg
        self.rec((now, "deliver", msg.id, qs.name, c.name, ""))
        delay = c.delay if c.delay is not _VARIES else c.latency(self.rng)
        self.schedule(delay, self.received, c, msg, c.epoch)

    # -- consumers -----------------------------------------------------------------------------
    def received(self, c: _Consumer, msg: Message, epoch: int) -> None:
        if epoch != c.epoch:
            return  # it was handled when the consumer crashed
        self.rec((self.engine.now, "arrive", msg.id, c.name, c.queue.name, ""))
        if c.busy:
            c.inbox.append(msg)
        else:
            self.begin(c, msg)

    def begin(self, c: _Consumer, msg: Message) -> None:
        c.busy = True
        self.rec((self.engine.now, "start", msg.id, c.name, "", ""))
        service = c.service if c.service is not _VARIES else c.spec.service(self.rng)
        self.schedule(service, self.finish, c, msg, c.epoch)

    def finish(self, c: _Consumer, msg: Message, epoch: int) -> None:
        if epoch != c.epoch:
            return
        spec, now = c.spec, self.engine.now
        ok = True
        if spec.handler is not None:
            ok = spec.handler(msg) is not False
        if ok and spec.nack and self.rng.random() < spec.nack:
            ok = False
        del c.held[id(msg)]
        qs = c.queue
        if not c.ready:  # it has room again: back in line
            c.ready = True
            qs.ready.append(c)
        if ok:
            self.rec((now, "ack", msg.id, c.name, qs.name, spec.ack))
            if self.any_sync:
                self.settled(msg, "acked", c)
        elif spec.ack == "auto":
            self.record(now, "drop", msg.id, c.name, "", "failed")
            self.settled(msg, "failed")
        elif spec.requeue:
            self.record(now, "nack", msg.id, c.name, qs.name, "requeue")
            self.requeue(qs, msg)
        else:
            self.record(now, "nack", msg.id, c.name, qs.name, "reject")
            self.dead_letter_or_drop(qs, msg, "rejected", "nacked")
        c.busy = False
        if c.inbox:
            self.begin(c, c.inbox.popleft())
        if qs.blocked or len(qs.q):
            self.dispatch(qs)

    def requeue(self, qs: _QueueState, msg: Message) -> None:
        msg.redelivered = True
        qs.q.requeue(msg)
        self.record(self.engine.now, "requeue", msg.id, qs.name)

    def crash(self, c: _Consumer) -> None:
        if not c.up:
            return
        now = self.engine.now
        c.up, c.busy = False, False
        c.epoch += 1
        if c.ready:
            c.queue.ready.remove(c)
            c.ready = False
        self.record(now, "crash", 0, c.name)
        # last delivered first: each requeue goes to the head, so the oldest ends up first again
        held, c.held = list(c.held.values())[::-1], {}
        c.inbox.clear()
        for msg in held:
            if c.spec.ack == "manual":
                self.requeue(c.queue, msg)
            else:
                self.record(now, "drop", msg.id, c.name, "", "crash")
                self.settled(msg, "crash")
        self.dispatch(c.queue)

    def recover(self, c: _Consumer) -> None:
        if c.up:
            return
        c.up = True
        c.ready = True
        c.queue.ready.append(c)
        self.record(self.engine.now, "recover", 0, c.name)
        self.dispatch(c.queue)

    # -- sync replies --------------------------------------------------------------------------
    def settled(self, msg: Message, outcome: str, c: _Consumer | None = None) -> None:
        """A message reached its end: a waiting synchronous producer gets its answer."""
        p = self.producers.get(msg.source)
        if p is None or p.awaiting != msg.id:
            return
        delay = 0.0
        if c is not None:  # the reply travels back the way the request came
            delay = c.latency(self.rng) + p.latency(self.rng)
        self.schedule(delay, self.reply, p, msg.id, outcome, c.name if c else "")

    def reply(self, p: _Producer, mid: int, outcome: str, sender: str) -> None:
        if p.awaiting != mid:
            return
        self.record(self.engine.now, "reply", mid, p.name, sender, outcome)
        p.awaiting = 0
        self.resume(p)

    # -- the end -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Where the messages that have not ended are, read from the simulator's own state."""
        return {
            "queued": {n: len(qs.q) for n, qs in self.queues.items()},
            "blocked": {n: len(qs.blocked) for n, qs in self.queues.items()},
            "at_consumers": {n: len(c.held) for n, c in self.consumers.items()},
            "on_links": self.on_links,
            "waiting_at_producers": {n: len(p.backlog) for n, p in self.producers.items()},
        }


def _ttl(qs: _QueueState, msg: Message) -> float | None:
    if msg.expiration is None:
        return qs.ttl
    return msg.expiration if qs.ttl is None else min(qs.ttl, msg.expiration)


def _copy(msg: Message) -> Message:
    dup = copy.copy(msg)
    dup.headers = dict(msg.headers)
    return dup


def simulate(net, until: float | None, record: bool = True, progress: bool = True):
    """Run a resolved network and return a :class:`~mqlab.Run`."""
    from mqlab.run import Run

    sim = Simulation(net, record)
    sim.start()
    # A run allocates millions of small objects and frees almost none until it ends, which
    # makes the cyclic garbage collector rescan them again and again; it finds nothing to
    # free here (a run makes no reference cycles), so it is paused for the run.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if until is None:
            sim.engine.run()
        else:  # in slices, so that a long run can show how far it got
            with Progress(_SLICES, "simulating", delay=1.0 if progress else float("inf")) as bar:
                for k in range(1, _SLICES + 1):
                    sim.engine.run(until * k / _SLICES)
                    bar.update(k)
    finally:
        if was_enabled:
            gc.enable()
    sim.trace.end_time = sim.engine.now
    return Run(net, sim.trace, sim.snapshot(), recorded=record)
