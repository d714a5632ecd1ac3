"""The simulated broker at work: what each part does when an event reaches it.

:func:`simulate` takes a wired-up :class:`~mqlab.Network`, plays it on an
:class:`~mqlab.engine.Engine` and records every step in a :class:`~mqlab.Trace`. The rules
follow RabbitMQ wherever it has one: routing by exchange type, round-robin delivery to
competing consumers limited by prefetch (RabbitMQ's turn: a consumer found full at its turn is
set aside until an ack frees room, then goes to the back), requeue on nack or consumer crash,
dead-lettering of expired, rejected and overflowed messages.
"""

from __future__ import annotations

import copy
import gc
import math
from collections import deque

from mqlab import express as fast
from mqlab.dist import Fixed
from mqlab.engine import Engine
from mqlab.logs import LogRules
from mqlab.message import Message
from mqlab.progress import Progress
from mqlab.routing import EXCHANGES
from mqlab.security import password_ok, permitted
from mqlab.trace import Trace

__all__ = ["SimulationError", "simulate"]

_SLICES = 50  # a run with an end time runs in this many slices, for the progress bar
_ZERO = Fixed(0.0)
_VARIES = object()  # marks a quantity drawn afresh each time


class SimulationError(RuntimeError):
    """A run stopped because part of the model failed: a consumer's handler raised, or a
    distribution drew a value that cannot be (a time that is NaN or negative, a routing key
    that is not a str...). The message names the node, the message or quantity, and the time;
    an exception the model raised is chained as ``__cause__``."""


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
        self.timeout = spec.timeout  # seconds a sync request waits for its reply, or None
        self.key_of = spec.key  # f(payload) -> routing key, or None
        self.confirm = spec.confirm  # publisher confirms
        self.unconfirmed: dict[int, Message] = {}  # id -> a clean copy, until confirmed
        self.attempts: dict[int, int] = {}  # id -> retries decided so far (confirms)
        self.backoff = spec.backoff  # the wait before each retry, or None
        self.tap = None  # someone on its link (net.tap), or None
        # an uplink with outages or a bandwidth: messages wait here until it can carry them
        self.outages = link.outages if link else []
        self.tx = 1.0 / link.bandwidth if link and link.bandwidth else 0.0  # s to send one
        self.paced = bool(self.outages or self.tx)
        self.free_at = 0.0  # when the link has finished sending the last message
        self.waking = False  # a flush of the waiting messages is scheduled
        self.seen_on_link: dict[int, Message] = {}  # what crossed, for a tap that replays
        self.topic = spec.topic  # the partitioned log it appends to, or None
        self.attempt = 0  # retries of the request in flight so far
        self.request: Message | None = None  # a clean copy of it, to send again


class _QueueState:
    def __init__(self, spec, clock):
        self.spec, self.name = spec, spec.name
        self.q = spec.make(clock)  # an aging priority queue reads the simulated clock
        self.ttl = spec.message_ttl
        self.consumers: list[_Consumer] = []
        # the turn, RabbitMQ's: consumers that are up, in round-robin order. The next message
        # goes to the first, who then moves to the back; one that is full when its turn comes
        # is set aside (ready = False) until an ack frees room, and then joins at the back
        self.ready: deque[_Consumer] = deque()
        self.blocked: deque = deque()  # (message, producer) held back by overflow="block"
        self.alive = True  # False while a temporary queue is deleted (its consumers all down)


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
        self.onward: _Producer | None = None  # a pipeline stage: what publishes its output
        self.loss = link.loss if link else 0.0
        self.duplicate = link.duplicate if link else 0.0
        # deliveries take the slower path: a faulty link, or an ack timeout to set
        self.faulty = bool(self.loss or self.duplicate or spec.ack_timeout is not None)
        self.extra: dict[int, Message] = {}  # duplicated deliveries: id(copy) -> copy
        self.seen: set[int] = set()  # dedup: ids of the messages it processed (kept on crash)
        self.own_down = False  # down by its own crash window (not only by its broker's)
        self.refused = False  # its broker refused its login or its reading: it never reads
        self.handler = spec.handler  # (made by spec.handler_factory at each start, if given)
        self.cut_off = False  # down because its broker is
        self.ready = False  # is it in its queue's turn (not set aside)?
        # how many unacked messages it may hold (no prefetch: no limit)
        self.limit = spec.prefetch if spec.prefetch is not None else math.inf


class Simulation(LogRules):
    """The state of one run, and the event handlers that change it (those of partitioned logs
    are in :class:`mqlab.logs.LogRules`)."""

    def __init__(self, net, record: bool = True):
        self.net = net
        self.engine = Engine(net.seed)
        self.schedule = self.engine.schedule
        self.rng = self.engine.rng
        self.trace = Trace(graph=net.graph.copy())
        # hot-path events append a row tuple directly; the rest go through record()
        self.recording = record
        self.rec = self.trace.row_adder() if record else (lambda row: None)
        self.record = lambda *row: self.rec(row + ("",) * (6 - len(row)))
        self.next_id = 0
        self.on_links = 0  # messages travelling on a link right now
        clock = self.clock  # the engine's time, for queues that age their messages
        self.queues = {n: _QueueState(s, clock) for n, s in net.queues.items()}
        self.consumers = {}
        for name, spec in net.consumers.items():
            if spec.topic is not None:
                continue  # a log consumer: see setup_logs
            link = net.links.get((spec.queue, name)) or net.links.get(
                (net.queues[spec.queue].broker, name))
            c = self.consumers[name] = _Consumer(spec, link)
            if spec.onward is not None:
                c.onward = _Producer(spec.onward, net.links.get((name, spec.onward.to)))
            c.queue = self.queues[spec.queue]
            c.queue.consumers.append(c)
            c.queue.ready.append(c)
            c.ready = True
        self.producers = {n: _Producer(s, net.links.get((n, s.to)))
                          for n, s in net.producers.items()}
        self.any_sync = any(p.mode == "sync" for p in net.producers.values())
        self.setup_logs(net, _ZERO)
        for name, m in self.members.items():  # log consumers that are pipeline stages
            if m.spec.onward is not None:
                m.onward = _Producer(m.spec.onward, net.links.get((name, m.spec.onward.to)))
        self._routes: dict = {}  # (exchange, key) -> queue names, cached
        self.down: set[str] = set()  # brokers that are down now
        self.guarded = bool(net.users)  # the brokers check logins and permissions
        self.logged_in: dict[str, object] = {}  # client -> its user, once its login is accepted
        self.buckets: dict[str, list[float]] = {}  # user -> [tokens, time of the last refill]
        for tap in net.taps:
            self.producers[tap.source].tap = tap
        self.nacked = 0  # the id of a message a full queue just refused (publisher confirms)
        # the three events of every message, as bound methods made once: ``self.arrive``
        # written out at each schedule() would make a new bound-method object per event
        # (about 3 % of a run, measured with benchmarks/engine.py)
        self.on_arrive, self.on_received, self.on_finish = self.arrive, self.received, self.finish

    def clock(self) -> float:
        """The simulated time now, in seconds (what an aging queue reads)."""
        return self.engine.now

    # -- producers -----------------------------------------------------------------------------
    def start(self) -> None:
        for p in self.producers.values():
            if p.spec.schedule is not None:
                for t in p.spec.schedule[: p.spec.count]:
                    self.engine.at(t, self.produce, p)
            else:
                self.next_message(p, p.spec.gap(self.rng))
        for c in self.consumers.values():
            for down, up in c.spec.crash:
                self.engine.at(down, self.own_crash, c)
                self.engine.at(up, self.own_recover, c)
        for c in [*self.consumers.values(), *self.members.values()]:
            if c.spec.handler_factory is not None:
                self.fresh_handler(c)
        for pool in self.net.autoscalers:
            workers = [self.consumers[n] for n in pool.workers]
            for c in workers[pool.least:]:  # standing by from the start
                c.own_down = True
                self.crash(c, "scaled down")
            self.schedule(pool.every, self.rescale, pool, workers, {})
        for b, windows in self.net.broker_crashes.items():
            for down, up in windows:
                self.engine.at(down, self.broker_crash, b)
                self.engine.at(up, self.broker_recover, b)
        if self.guarded:
            self.log_in_everyone()
        for p in self.producers.values():
            for at, mid in p.tap.replay if p.tap is not None else ():
                self.engine.at(at, self.replay, p, mid)
        self.start_logs(self.net)

    def produce(self, p: _Producer) -> None:
        """The producer's application has a new message: send it now or queue it up."""
        spec = p.spec
        if spec.count is not None and p.made >= spec.count:
            return
        p.made += 1
        if spec.schedule is None and (spec.count is None or p.made < spec.count):
            self.next_message(p, spec.gap(self.rng))
        if p.awaiting or p.blocked or p.backlog:  # older messages waiting go first
            p.backlog.append(self.engine.now)  # it waits at the producer
        elif p.paced and not self.link_ready(p):  # its uplink cannot carry it now
            p.backlog.append(self.engine.now)
            self.wake_link(p)
        else:
            self.publish(p, self.engine.now)

    def next_message(self, p: _Producer, gap: float) -> None:
        """Schedule the producer's next message ``gap`` (drawn) seconds from now."""
        try:
            self.schedule(gap, self.produce, p)
        except (TypeError, ValueError):  # the engine refused the time: say where it was drawn
            raise self.bad_draw(f"producer {p.name!r}", "interval", gap) from None

    def publish(self, p: _Producer, created: float) -> None:
        spec, now, rng = p.spec, self.engine.now, self.rng
        self.next_id += 1
        mid = self.next_id
        p.sent += 1
        key = p.key if p.key is not _VARIES else self.drawn(p, "routing_key", spec.routing_key)
        priority = (p.priority if p.priority is not _VARIES
                    else self.drawn(p, "priority", spec.priority))
        payload = None
        if spec.payload:
            try:
                payload = spec.payload(p.sent - 1)
            except Exception as exc:
                raise SimulationError(
                    f"producer {p.name!r}: payload({p.sent - 1}) raised {type(exc).__name__} "
                    f"for message {mid} at t={now:g} s: {exc}") from exc
        if p.key_of is not None:
            key = self.computed(p, "key", payload, str, "a str")
        headers = spec.headers
        if headers:
            headers = (dict(headers) if not callable(headers)
                       else self.computed(p, "headers", payload, dict, "a dict"))
        msg = Message(
            payload, spec.name, key, "", key, priority, headers or {}, spec.expiration,
            mid, created, now,
        )
        if self.recording:
            self.trace.messages[mid] = msg
        self.rec((now, "publish", mid, p.name, p.to, key))
        if p.confirm:
            p.unconfirmed[mid] = _copy(msg)
            p.attempts[mid] = 0
            if p.timeout is not None:
                self.schedule(p.timeout, self.confirm_due, p, mid, 0)
        if spec.mode == "sync":
            p.awaiting = mid
            if p.timeout is not None:
                p.attempt = 0
                if spec.retries:
                    p.request = _copy(msg)
                self.schedule(p.timeout, self.timed_out, p, mid, 0)
        if p.duplicate and rng.random() < p.duplicate:
            self.record(now, "duplicate", mid, p.name, p.to)
            self.travel(p, copy.copy(msg))
        self.travel(p, msg)

    def travel(self, p: _Producer, msg: Message) -> None:
        if p.tap is not None:
            self.tapped(p, msg)
        delay = p.delay if p.delay is not _VARIES else p.latency(self.rng)
        if p.paced:  # it takes the link for 1 / bandwidth seconds, then flies
            p.free_at = self.engine.now + p.tx
            delay += p.tx
        self.on_links += 1
        try:
            if p.loss and self.rng.random() < p.loss:
                self.schedule(delay, self.lost, p, msg)
            else:
                self.schedule(delay, self.on_arrive, p, msg)
        except (TypeError, ValueError):  # the engine refused the time: say where it was drawn
            raise self.bad_draw(f"link '{p.name} -> {p.to}'", "latency", delay) from None

    def lost(self, p: _Producer, msg: Message) -> None:
        self.on_links -= 1
        self.record(self.engine.now, "loss", msg.id, p.name, p.to)
        self.settled(msg, "lost")

    def resume(self, p: _Producer) -> None:
        """The producer may send again (its reply came, or the queue took its message): the
        oldest message waiting at the producer goes out."""
        if p.backlog and not (p.awaiting or p.blocked):
            if p.paced and not self.link_ready(p):
                self.wake_link(p)
                return
            self.publish(p, p.backlog.popleft())

    # -- an uplink with outages and a bandwidth ------------------------------------------------
    def link_ready(self, p: _Producer) -> bool:
        """Can ``p``'s uplink take a message now and deliver it before its next outage?"""
        return self.next_ready(p) <= self.engine.now + 1e-12

    def next_ready(self, p: _Producer) -> float:
        """The first moment from now when the uplink is free and up long enough for a whole
        crossing (sending it, then its latency)."""
        t = max(self.engine.now, p.free_at)
        crossing = p.tx + (p.delay if p.delay is not _VARIES else 0.0)
        moved = True
        while moved:
            moved = False
            for down, up in p.outages:
                if down - 1e-12 <= t < up or t < down < t + crossing - 1e-12:
                    t, moved = up, True
        return t

    def wake_link(self, p: _Producer) -> None:
        if not p.waking:
            p.waking = True
            self.schedule(self.next_ready(p) - self.engine.now, self.flush_link, p)

    def flush_link(self, p: _Producer) -> None:
        """The uplink can carry again: the messages waiting at the producer go, oldest first,
        as long as it can take them."""
        p.waking = False
        while p.backlog and not (p.awaiting or p.blocked) and self.link_ready(p):
            self.publish(p, p.backlog.popleft())
        if p.backlog and not (p.awaiting or p.blocked):
            self.wake_link(p)

    # -- the broker ----------------------------------------------------------------------------
    def arrive(self, p: _Producer, msg: Message) -> None:
        self.on_links -= 1
        self.rec((self.engine.now, "arrive", msg.id, p.to, p.name, ""))
        if self.down and p.to in self.down:  # nobody there to take it
            self.record(self.engine.now, "drop", msg.id, p.to, "", "broker down")
            self.settled(msg, "broker down")
            return
        if self.guarded:
            refused = self.refuse_publish(p)
            if refused:
                self.record(self.engine.now, "deny", msg.id, p.to, p.name, refused)
                self.settled(msg, "denied")
                if p.confirm:
                    self.send_confirm(p, msg.id, "rejected")
                return
        if p.topic is not None:
            self.append(p, msg)
        elif p.confirm:
            self.nacked = 0
            self.route(p.spec.exchange or p.to, msg.routing_key, msg, p)
            self.send_confirm(p, msg.id, "rejected" if self.nacked == msg.id else "confirmed")
            return
        else:
            self.route(p.spec.exchange or p.to, msg.routing_key, msg, p)
            return
        if p.confirm:
            self.send_confirm(p, msg.id, "confirmed")

    def route(self, exchange: str, key: str, msg: Message, p: _Producer | None,
              targets: list | None = None) -> None:
        """Find the queues for ``msg`` (routing key ``key``) at ``exchange``, unless
        ``targets`` are given, and enqueue a copy in each."""
        if targets is None:
            targets = self._routes.get((exchange, key))
            if targets is None:
                targets = self._targets(exchange, key, msg)
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

    def _targets(self, exchange: str, key: str, msg: Message) -> list[_QueueState]:
        """The queues ``msg`` goes to from ``exchange``. Remembered per (exchange, routing
        key) when the exchange's type routes by the key alone (not a headers exchange)."""
        targets = self._routes.get((exchange, key))
        if targets is None:
            targets = [self.queues[n] for n in self._match(exchange, msg)]
            ex = self.net.exchanges.get(exchange)
            if ex is None or EXCHANGES[ex.type].by_key:
                self._routes[(exchange, key)] = targets
        return targets

    def _match(self, exchange: str, msg: Message) -> list[str]:
        ex = self.net.exchanges.get(exchange)
        if ex is None:  # the broker's default exchange: the key names a queue
            key = msg.routing_key
            q = self.net.queues.get(key)
            return ([key] if q is not None and q.broker == exchange and self.queues[key].alive
                    else [])
        matches = EXCHANGES[ex.type].matches  # the exchange type's rule (mqlab.routing)
        # a queue bound twice still gets one copy; a deleted temporary queue gets none
        return list(dict.fromkeys(b.queue for b in ex.bindings
                                  if matches(b, msg) and self.queues[b.queue].alive))

    def enqueue(self, qs: _QueueState, msg: Message, p: _Producer | None) -> None:
        now = self.engine.now
        # the queue's overflow policy decides (mqlab.queues.OVERFLOW_POLICIES): this only
        # records what it did, and sends on what it dropped
        offer = qs.q.offer(msg)
        if not offer.accepted:
            if offer.wait:  # block: the broker holds the message, and so its publisher
                self.record(now, "block", msg.id, qs.name)
                qs.blocked.append((msg, p))
                if p is not None:
                    p.blocked = msg.id
            else:
                self.record(now, "drop", msg.id, qs.name, "", "rejected")
                self.nacked = msg.id
                self.settled(msg, "rejected")
            return
        msg.enqueued = now
        dropped, went = offer.dropped, False
        if not dropped:
            self.rec((now, "enqueue", msg.id, qs.name, "", ""))
        else:
            # drop-head put msg in, then dropped heads. The trace says: the heads leave, then
            # msg enters; or, if msg was a head that went, it enters and leaves at once. Where
            # the dropped go next waits until all that is recorded, so that a dead-letter
            # coming back round to this queue finds the trace agreeing with the queue.
            went = msg in dropped
            if went:
                self.rec((now, "enqueue", msg.id, qs.name, "", ""))
            onward: list = []
            for old in dropped:
                self.dead_letter_or_drop(qs, old, "maxlen", "overflow", onward)
            if not went:
                self.rec((now, "enqueue", msg.id, qs.name, "", ""))
            for args in onward:
                self.forward(*args)
        if (qs.ttl is not None or msg.expiration is not None) and not went:
            self.schedule(_ttl(qs, msg), self.expire_head, qs)
        if qs.ready:
            self.dispatch(qs)
        if p is not None and p.backlog:  # a publisher held back before: now the next one
            self.resume(p)

    def dead_letter_or_drop(self, qs: _QueueState, msg: Message, dl_reason: str,
                            drop_reason: str, onward: list | None = None) -> None:
        """``msg`` left ``qs`` for ``dl_reason`` ("expired", "rejected", "maxlen"): dead-letter
        it, as RabbitMQ does, or else drop it for ``drop_reason``. With ``onward`` given, where
        it goes next is left there for the caller to do (see ``enqueue``)."""
        now, target = self.engine.now, qs.spec.dead_letter
        if target is not None:
            old = msg.headers
            msg.headers = _dead_letter_headers(msg, dl_reason, qs.name, self.published_to(msg),
                                               now)
            targets = ([self.queues[target]] if target in self.queues
                       else self._targets(target, msg.routing_key, msg))
            if targets and not all(t.alive for t in targets):  # a deleted temporary queue
                targets = [t for t in targets if t.alive]
                if not targets:
                    target = None
            if dl_reason != "rejected":
                # RabbitMQ drops it rather than send it round a cycle for ever: a queue it was
                # dead-lettered from already, with no consumer rejection since, does not get it
                deaths = msg.headers["x-death"]
                kept = [t for t in targets if not _is_dead_letter_cycle(t.name, deaths)]
                if targets and not kept:
                    target, msg.headers = None, old
                targets = kept
        if target is None:
            if drop_reason == "ttl":
                self.record(now, "expire", msg.id, qs.name)
            else:
                self.record(now, "drop", msg.id, qs.name, "", drop_reason)
            self.settled(msg, drop_reason)
            return
        msg.expiration = None  # RabbitMQ removes the per-message TTL (x-death keeps it)
        self.record(now, "dead-letter", msg.id, qs.name, target, dl_reason)
        if onward is None:
            self.forward(qs, target, targets, msg)
        else:
            onward.append((qs, target, targets, msg))

    def forward(self, qs: _QueueState, target: str, targets: list, msg: Message) -> None:
        """Send a message dead-lettered from ``qs`` on to its ``target`` (queue or exchange)."""
        if target in self.queues:
            self.record(self.engine.now, "route", msg.id, qs.name, target, msg.routing_key)
            self.enqueue(targets[0], msg, None)
        else:
            self.route(target, msg.routing_key, msg, None, targets)

    def published_to(self, msg: Message) -> str:
        """The exchange ``msg`` was last published to, named as RabbitMQ names it ("" for a
        default exchange): its producer's or, once dead-lettered, the dead-letter exchange of
        the queue it last left (a dead-letter queue named directly is the default exchange's)."""
        deaths = msg.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            last = deaths[0].get("queue")
            spec = self.net.queues.get(last) if isinstance(last, str) else None
            if spec is not None:
                return spec.dead_letter if spec.dead_letter in self.net.exchanges else ""
        p = self.net.producers.get(msg.source)
        return p.exchange if p is not None else ""

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
        """Hand ready messages out in turn, round-robin, setting aside a consumer that is full
        when its turn comes (it rejoins at the back when it has room again), as RabbitMQ
        does."""
        q, ready = qs.q, qs.ready
        while ready and len(q):
            c = ready.popleft()
            if len(c.held) >= c.limit:  # full when its turn comes: set aside until it has room
                c.ready = False
                continue
            msg = q.get()
            if qs.ttl is not None or msg.expiration is not None:
                if msg.enqueued + _ttl(qs, msg) <= self.engine.now:
                    ready.appendleft(c)  # nothing was delivered: it keeps its turn
                    self.dead_letter_or_drop(qs, msg, "expired", "ttl")
                    continue
            self.deliver(qs, c, msg)
            ready.append(c)  # to the back of the turn, full or not
        if qs.blocked:
            self.admit_blocked(qs)

    def deliver(self, qs: _QueueState, c: _Consumer, msg: Message) -> None:
        now = self.engine.now
        msg.delivered = now
        c.held[id(msg)] = msg
        self.rec((now, "deliver", msg.id, qs.name, c.name, ""))
        if c.faulty:
            self.deliver_faulty(qs, c, msg)
            return
        delay = c.delay if c.delay is not _VARIES else c.latency(self.rng)
        try:
            self.schedule(delay, self.on_received, c, msg, c.epoch)
        except (TypeError, ValueError):  # the engine refused the time: say where it was drawn
            raise self.bad_draw(self.link_to(c), "latency", delay) from None

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
        try:
            self.schedule(service, self.on_finish, c, msg, c.epoch)
        except (TypeError, ValueError):  # the engine refused the time: say where it was drawn
            raise self.bad_draw(f"consumer {c.name!r}", "service", service) from None

    def finish(self, c: _Consumer, msg: Message, epoch: int) -> None:
        if epoch != c.epoch:
            return
        spec, now = c.spec, self.engine.now
        ok, result, again, refused = True, None, False, None
        if spec.verify is not None:
            refused = self.verified(c, msg)
            if refused is not None:
                self.record(now, "deny", msg.id, c.name, c.queue.name, refused)
                ok = again = False
        if spec.dedup and refused is None:
            again = msg.id in c.seen  # processed before: its effects are done already
            c.seen.add(msg.id)
        if c.handler is not None and not again and refused is None:
            try:
                result = c.handler(msg)
                ok = result is not False
            except Exception as exc:
                raise SimulationError(
                    f"consumer {c.name!r}: its handler raised {type(exc).__name__} on message "
                    f"{msg.id} at t={now:g} s: {exc}") from exc
        if ok and spec.nack and self.rng.random() < spec.nack:
            ok = False
        qs = c.queue
        if c.held.pop(id(msg), None) is None:  # not a delivery the broker waits an ack for
            self.finish_extra(c, qs, msg, again)
            return
        if spec.crash_before_ack and refused is None and self.rng.random() < spec.crash_before_ack:
            # its effects are done; its ack never leaves (with auto ack, none was needed)
            if spec.ack == "auto":
                self.record(now, "ack", msg.id, c.name, qs.name, spec.ack)
                c.busy = False
            else:
                c.held[id(msg)] = msg  # still unacked: the crash gives it back
            self.crash(c, "before ack")
            self.schedule(spec.restart, self.recover, c)
            return
        if not c.ready:  # set aside while full: room again, back in the turn
            c.ready = True
            qs.ready.append(c)
        if ok:
            if again:
                self.record(now, "ack", msg.id, c.name, qs.name, "duplicate")
            else:
                self.rec((now, "ack", msg.id, c.name, qs.name, spec.ack))
            if self.any_sync:
                self.settled(msg, "acked", c)
            if c.onward is not None:
                self.pass_on(c.onward, msg, result)
        elif spec.ack == "auto":
            self.record(now, "drop", msg.id, c.name, "", "denied" if refused else "failed")
            self.settled(msg, "failed")
        elif spec.requeue and refused is None:  # a refused message gets no second chance
            self.record(now, "nack", msg.id, c.name, qs.name, "requeue")
            self.requeue(qs, msg)
        else:
            self.record(now, "nack", msg.id, c.name, qs.name, "reject")
            self.dead_letter_or_drop(qs, msg, "rejected", "denied" if refused else "nacked")
        c.busy = False
        if c.inbox:
            self.begin(c, c.inbox.popleft())
        if qs.blocked or len(qs.q):
            self.dispatch(qs)

    def pass_on(self, p: _Producer, msg: Message, result) -> None:
        """A pipeline stage publishes the message it finished to the next stage: the same
        message (same id), with the handler's result as its payload if it gave one."""
        now = self.engine.now
        if result is not None and not isinstance(result, bool):
            msg.payload = result
        if p.key_of is not None:
            msg.routing_key = self.computed(p, "key", msg.payload, str, "a str")
        elif not p.spec.keep_key:
            msg.routing_key = p.key if p.key is not _VARIES else p.spec.routing_key(self.rng)
        msg.sent = now
        self.record(now, "publish", msg.id, p.name, p.to, msg.routing_key)
        self.travel(p, msg)

    def requeue(self, qs: _QueueState, msg: Message) -> None:
        msg.redelivered = True
        qs.q.requeue(msg)
        self.record(self.engine.now, "requeue", msg.id, qs.name)

    def crash(self, c: _Consumer, why: str = "") -> None:
        if not c.up:
            return
        now = self.engine.now
        c.up, c.busy = False, False
        c.epoch += 1
        if c.ready:
            c.queue.ready.remove(c)
            c.ready = False
        self.record(now, "crash", 0, c.name, "", why)
        # last delivered first: each requeue goes to the head, so the oldest ends up first again
        held, c.held = list(c.held.values())[::-1], {}
        c.inbox.clear()
        for dup in c.extra.values():  # duplicated deliveries it had: gone with it
            self.record(now, "drop", dup.id, c.name, "", "crash")
        c.extra.clear()
        for msg in held:
            if c.spec.ack == "manual":
                self.requeue(c.queue, msg)
            else:
                self.record(now, "drop", msg.id, c.name, "", "crash")
                self.settled(msg, "crash")
        qs = c.queue
        if qs.spec.temporary and not any(other.up for other in qs.consumers):
            self.delete(qs)
        self.dispatch(qs)

    def delete(self, qs: _QueueState) -> None:
        """A temporary queue's last consumer went down: the queue goes, with what it holds."""
        now = self.engine.now
        qs.alive = False
        self._routes.clear()  # routes remembered with this queue in them are wrong now
        while len(qs.q):
            msg = qs.q.get()
            self.record(now, "drop", msg.id, qs.name, "", "queue deleted")
            self.settled(msg, "queue deleted")
        while qs.blocked:
            msg, p = qs.blocked.popleft()
            self.record(now, "drop", msg.id, qs.name, "", "queue deleted")
            self.settled(msg, "queue deleted")
            if p is not None and p.blocked == msg.id:
                p.blocked = 0
                self.resume(p)

    def recover(self, c: _Consumer, why: str = "") -> None:
        if c.up or c.refused:
            return
        if self.down and c.queue.spec.broker in self.down:  # its broker is still down
            c.cut_off = True
            return
        c.up = True
        if c.spec.handler_factory is not None:
            self.fresh_handler(c)
        c.ready = True
        c.queue.ready.append(c)
        if not c.queue.alive:  # its temporary queue is declared again, empty
            c.queue.alive = True
            self._routes.clear()
        self.record(self.engine.now, "recover", 0, c.name, "", why)
        self.dispatch(c.queue)

    # -- sync replies --------------------------------------------------------------------------
    def settled(self, msg: Message, outcome: str, c: _Consumer | None = None) -> None:
        """A message reached its end: a waiting synchronous producer gets its answer.

        A producer with a timeout gets an answer for every copy of its requests, also those
        it no longer waits for (``reply`` marks them late), but none for a copy lost on its
        link: nobody saw that one, and its timeout is how it finds out.
        """
        p = self.producers.get(msg.source)
        if p is None or p.spec.mode != "sync":
            return
        if p.timeout is None:
            if p.awaiting != msg.id:
                return
        elif outcome == "lost":
            return
        delay = 0.0
        if c is not None:  # the reply travels back the way the request came
            back, on = c.latency(self.rng), p.latency(self.rng)
            for where, t in ((self.link_to(c), back), (f"link '{p.name} -> {p.to}'", on)):
                if not _is_time(t):
                    raise self.bad_draw(where, "latency", t)
            delay = back + on
        self.schedule(delay, self.reply, p, msg.id, outcome, c.name if c else "")

    def reply(self, p: _Producer, mid: int, outcome: str, sender: str) -> None:
        if p.awaiting != mid:
            if p.timeout is not None:  # it timed out, or another copy answered first
                self.record(self.engine.now, "reply", mid, p.name, sender,
                            f"{outcome} (late, ignored)")
            return
        self.record(self.engine.now, "reply", mid, p.name, sender, outcome)
        p.awaiting = 0
        p.request = None
        self.resume(p)

    def timed_out(self, p: _Producer, mid: int, attempt: int) -> None:
        """No reply to request ``mid`` within the producer's timeout: send it again, or give
        up and go on with the next message.

        A retry is a new ``publish`` of the same request, with the same message id, so the
        account counts it as one more message sent, and ``metrics.latencies`` measures from
        the first attempt to the first ack.
        """
        if p.awaiting != mid or p.attempt != attempt:
            return  # the reply came in time
        now = self.engine.now
        if attempt < p.spec.retries:
            self.record(now, "timeout", mid, p.name, p.to, "retry")
            p.attempt += 1
            if p.backoff is None:
                self.resend_request(p, mid, p.attempt)
            else:
                self.schedule(p.backoff(attempt, self.rng), self.resend_request, p, mid,
                              p.attempt)
            return
        self.record(now, "timeout", mid, p.name, p.to, "give up")
        p.awaiting = 0
        p.request = None
        self.resume(p)

    def resend_request(self, p: _Producer, mid: int, attempt: int) -> None:
        """Send a timed-out synchronous request again (same id), unless answered meanwhile."""
        if p.awaiting != mid or p.attempt != attempt:
            return
        if not self.wait_for_link(p, self.resend_request, mid, attempt):
            self.send_again(p, p.request, self.timed_out, attempt)

    def wait_for_link(self, p: _Producer, action, *args) -> bool:
        """If ``p``'s uplink cannot carry a message now, do ``action(p, *args)`` when it can,
        and say so (True)."""
        if p.paced and not self.link_ready(p):
            self.schedule(self.next_ready(p) - self.engine.now, action, p, *args)
            return True
        return False

    def send_again(self, p: _Producer, clean: Message, timer, attempt: int) -> None:
        """Publish a copy of ``clean`` again, with the same id (one more copy of the message),
        and check for its answer ``p.timeout`` seconds later with ``timer``, if given."""
        now = self.engine.now
        msg = _copy(clean)
        msg.sent = now
        self.record(now, "publish", msg.id, p.name, p.to, msg.routing_key)
        if timer is not None:
            self.schedule(p.timeout, timer, p, msg.id, attempt)
        if p.duplicate and self.rng.random() < p.duplicate:
            self.record(now, "duplicate", msg.id, p.name, p.to)
            self.travel(p, copy.copy(msg))
        self.travel(p, msg)

    # -- publisher confirms ----------------------------------------------------------------------
    def send_confirm(self, p: _Producer, mid: int, outcome: str) -> None:
        """The broker answers a confirming publisher: back over the link the message came on."""
        delay = p.latency(self.rng)
        if not _is_time(delay):
            raise self.bad_draw(f"link '{p.name} -> {p.to}'", "latency", delay)
        self.schedule(delay, self.confirmed, p, mid, outcome)

    def confirmed(self, p: _Producer, mid: int, outcome: str) -> None:
        now = self.engine.now
        if mid not in p.unconfirmed:  # a copy's answer after an earlier one settled it
            self.record(now, "reply", mid, p.name, p.to, f"{outcome} (late, ignored)")
            return
        self.record(now, "reply", mid, p.name, p.to, outcome)
        if outcome == "confirmed":
            del p.unconfirmed[mid], p.attempts[mid]
        else:
            self.retry_publish(p, mid)

    def confirm_due(self, p: _Producer, mid: int, attempt: int) -> None:
        """No answer to message ``mid`` in time: publish it again, or give up."""
        if p.attempts.get(mid) != attempt:
            return  # answered, or already being retried
        self.record(self.engine.now, "timeout", mid, p.name, p.to,
                    "retry" if attempt < p.spec.retries else "give up")
        self.retry_publish(p, mid)

    def retry_publish(self, p: _Producer, mid: int) -> None:
        attempt = p.attempts[mid]
        if attempt >= p.spec.retries:
            del p.unconfirmed[mid], p.attempts[mid]  # given up: it may be lost
            return
        p.attempts[mid] = attempt + 1
        wait = p.backoff(attempt, self.rng) if p.backoff is not None else 0.0
        self.schedule(wait, self.republish, p, mid, attempt + 1)

    def republish(self, p: _Producer, mid: int, attempt: int) -> None:
        """Publish message ``mid`` again (same id: one more copy of it)."""
        if p.attempts.get(mid) != attempt:
            return  # confirmed while it waited
        if not self.wait_for_link(p, self.republish, mid, attempt):
            self.send_again(p, p.unconfirmed[mid],
                            self.confirm_due if p.timeout is not None else None, attempt)

    # -- faults on the way to consumers ----------------------------------------------------------
    def deliver_faulty(self, qs: _QueueState, c: _Consumer, msg: Message) -> None:
        """A delivery over a lossy or duplicating link, or one with an ack timeout."""
        now, rng = self.engine.now, self.rng
        if c.spec.ack_timeout is not None:  # this delivery's timer: its time tells it apart
            self.schedule(c.spec.ack_timeout, self.ack_overdue, c, msg, msg.delivered)
        if c.duplicate and rng.random() < c.duplicate:
            dup = _copy(msg)
            c.extra[id(dup)] = dup
            self.record(now, "duplicate", msg.id, qs.name, c.name)
            self.schedule(c.latency(rng), self.on_received, c, dup, c.epoch)
        if c.loss and rng.random() < c.loss:
            if c.spec.ack == "manual":  # the broker still waits for its ack
                self.record(now, "loss", msg.id, qs.name, c.name, "unacked")
            else:
                del c.held[id(msg)]
                self.record(now, "loss", msg.id, qs.name, c.name)
                self.settled(msg, "lost")
                if not c.ready and c.up:
                    c.ready = True
                    qs.ready.append(c)
            return
        delay = c.latency(rng)
        try:
            self.schedule(delay, self.on_received, c, msg, c.epoch)
        except (TypeError, ValueError):
            raise self.bad_draw(self.link_to(c), "latency", delay) from None

    def ack_overdue(self, c: _Consumer, msg: Message, delivered: float) -> None:
        """No ack in time: the broker takes the message back and delivers it again."""
        if c.held.get(id(msg)) is not msg or msg.delivered != delivered:
            return  # acked, or given back (a crash, a nack) and delivered again since
        del c.held[id(msg)]
        qs = c.queue
        self.record(self.engine.now, "timeout", msg.id, qs.name, c.name, "requeue")
        if not c.ready and c.up:
            c.ready = True
            qs.ready.append(c)
        self.requeue(qs, _copy(msg))  # a new delivery: the old one's ack will be refused
        self.dispatch(qs)

    def finish_extra(self, c: _Consumer, qs: _QueueState, msg: Message, again: bool) -> None:
        """A consumer finished a message the broker does not wait for: a duplicated delivery
        (its ack ends that copy), or one whose ack timed out (the broker refuses the ack)."""
        now = self.engine.now
        if c.extra.pop(id(msg), None) is not None:
            self.record(now, "ack", msg.id, c.name, qs.name, "duplicate" if again else "copy")
        else:
            self.record(now, "timeout", msg.id, c.name, qs.name, "ack refused")
        c.busy = False
        if c.inbox:
            self.begin(c, c.inbox.popleft())

    # -- security --------------------------------------------------------------------------------
    def log_in_everyone(self) -> None:
        """Every producer and consumer logs in at the start; a consumer also asks to read."""
        now, net = self.engine.now, self.net
        for name, p in self.producers.items():
            why = self.login(name)
            if why:
                self.record(now, "deny", 0, p.to, name, why)
        for name, c in [*self.consumers.items(), *self.members.items()]:
            spec = c.spec
            source = spec.topic if spec.topic is not None else spec.queue
            broker = (net.topics[source].broker if spec.topic is not None
                      else net.queues[source].broker)
            why = self.login(name)
            if why:
                self.record(now, "deny", 0, broker, name, why)
            else:
                user = self.logged_in[name]
                if not permitted(user.read, source):
                    why = (f"read from {'topic' if spec.topic else 'queue'} {source!r} refused "
                           f"for user {user.name!r}")
                    self.record(now, "deny", 0, source, name, why)
            if why:  # it never reads
                c.refused = True
                if hasattr(c, "queue"):
                    c.own_down = True
                    if c.ready:
                        c.queue.ready.remove(c)
                        c.ready = False
                c.up = False

    def login(self, client: str) -> str | None:
        """None if ``client`` logs in (its user is remembered), or why it is refused."""
        user, password = self.net.credentials.get(client, (None, None))
        if user is None:
            return "login refused: no user given"
        spec = self.net.users.get(user)
        if spec is None or not password_ok(password, spec.salt, spec.digest):
            return f"login refused for user {user!r}: wrong user name or password"
        self.logged_in[client] = spec
        return None

    def refuse_publish(self, p: _Producer) -> str | None:
        """None if the broker takes a publish from ``p``, or why it refuses it."""
        user = self.logged_in.get(p.name)
        if user is None:
            return "not logged in"
        # RabbitMQ checks the default exchange under the name "amq.default"
        exchange = p.topic if p.topic is not None else p.spec.exchange or "amq.default"
        if not permitted(user.write, exchange):
            return f"write to exchange {exchange!r} refused for user {user.name!r}"
        if user.rate is not None:
            now = self.engine.now
            bucket = self.buckets.setdefault(user.name, [float(user.burst), now])
            bucket[0] = min(user.burst, bucket[0] + (now - bucket[1]) * user.rate)
            bucket[1] = now
            if bucket[0] < 1:
                return f"rate limit: user {user.name!r} may publish {user.rate:g}/s"
            bucket[0] -= 1
        return None

    def verified(self, c: _Consumer, msg: Message) -> str | None:
        """None if consumer ``c``'s verify accepts ``msg``, or why it refuses it."""
        try:
            answer = c.spec.verify(msg)
        except Exception as exc:
            raise SimulationError(f"consumer {c.name!r}: its verify raised "
                                  f"{type(exc).__name__} on message {msg.id} at "
                                  f"t={self.engine.now:g} s: {exc}") from exc
        if answer is None or answer is True:
            return None
        return answer if isinstance(answer, str) and answer else "refused by verify"

    def tapped(self, p: _Producer, msg: Message) -> None:
        """Someone on the link reads what crosses, may change it, and keeps a copy."""
        tap = p.tap
        if tap.observe is not None:
            tap.observe(msg)
        if tap.replay:
            p.seen_on_link[msg.id] = _copy(msg)
        if tap.tamper is not None:
            changed = tap.tamper(msg)
            if changed is not None:
                msg.payload = changed
                self.record(self.engine.now, "tamper", msg.id, p.name, p.to, "payload changed")

    def replay(self, p: _Producer, mid: int) -> None:
        """The tap sends again a copy of a message it saw cross earlier."""
        seen = p.seen_on_link.get(mid)
        if seen is None:
            return  # it never crossed (yet): nothing to replay
        self.record(self.engine.now, "duplicate", mid, p.name, p.to, "replay")
        self.on_links += 1
        self.schedule(p.latency(self.rng), self.on_arrive, p, _copy(seen))

    # -- crashes ---------------------------------------------------------------------------------
    def own_crash(self, c: _Consumer) -> None:
        c.own_down = True
        self.crash(c)

    def own_recover(self, c: _Consumer) -> None:
        c.own_down = False
        self.recover(c)

    def rescale(self, pool, workers: list[_Consumer], idle: dict) -> None:
        """An autoscaled pool looks at its queue: start a worker, stop an idle one, or wait."""
        qs = self.queues[pool.queue]
        running = [c for c in workers if c.up]
        for c in workers:  # for how many looks in a row has it held nothing?
            idle[c.name] = idle.get(c.name, 0) + 1 if c.up and not c.held else 0
        standby = [c for c in workers if not c.up and c.own_down and not c.cut_off]
        if standby and len(qs.q) > pool.up_at * len(running):
            c = standby[0]
            c.own_down = False
            self.recover(c, "scaled up")
        elif len(running) > pool.least:
            bored = [c for c in running if idle[c.name] * pool.every >= pool.down_after - 1e-9]
            if bored:
                c = bored[-1]
                c.own_down = True
                self.crash(c, "scaled down")
                idle[c.name] = 0
        self.schedule(pool.every, self.rescale, pool, workers, idle)

    def fresh_handler(self, c) -> None:
        """A consumer (re)starts: its handler is made anew, with an empty memory."""
        try:
            c.handler = c.spec.handler_factory()
        except Exception as exc:
            raise SimulationError(f"consumer {c.name!r}: its handler_factory raised "
                                  f"{type(exc).__name__} at t={self.engine.now:g} s: {exc}"
                                  ) from exc
        if not callable(c.handler):
            raise SimulationError(f"consumer {c.name!r}: handler_factory() must return a "
                                  f"function of a Message, got {c.handler!r}")

    def persistent(self, msg: Message) -> bool:
        p = self.producers.get(msg.source)
        return p.spec.persistent if p is not None else True

    def broker_crash(self, b: str) -> None:
        """Broker ``b`` goes down: its consumers are cut off, and its queues keep only the
        persistent messages of durable queues."""
        if b in self.down:
            return
        now = self.engine.now
        self.down.add(b)
        self.record(now, "crash", 0, b, "", "broker")
        for qs in self.queues.values():
            if qs.spec.broker != b:
                continue
            for c in qs.consumers:
                if c.up:
                    c.cut_off = True
                    self.crash(c, "broker down")
            kept = []
            while len(qs.q):
                msg = qs.q.get()
                if qs.spec.durable and self.persistent(msg) and qs.alive:
                    kept.append(msg)
                else:
                    self.record(now, "drop", msg.id, qs.name, "", "broker crash")
                    self.settled(msg, "broker crash")
            for msg in reversed(kept):  # back at the head in reverse: the same order again
                qs.q.requeue(msg)  # (ignoring the capacity: they were admitted already)
            while qs.blocked:
                msg, p = qs.blocked.popleft()
                self.record(now, "drop", msg.id, qs.name, "", "broker crash")
                self.settled(msg, "broker crash")
                if p is not None and p.blocked == msg.id:
                    p.blocked = 0
                    self.resume(p)

    def broker_recover(self, b: str) -> None:
        if b not in self.down:
            return
        self.down.discard(b)
        self.record(self.engine.now, "recover", 0, b, "", "broker")
        for c in self.consumers.values():
            if c.cut_off and c.queue.spec.broker == b:
                c.cut_off = False
                if not c.own_down:
                    self.recover(c)

    # -- errors in the model ---------------------------------------------------------------------
    def drawn(self, p: _Producer, name: str, sampler):
        """Draw a producer's routing key or priority. A function's draws are checked as they
        are drawn (see ``dist.Checked``): a bad one stops the run, naming the producer."""
        try:
            return sampler(self.rng)
        except (TypeError, ValueError) as exc:
            raise SimulationError(f"producer {p.name!r} drew a bad {name} at "
                                  f"t={self.engine.now:g} s: {exc}: check the function given "
                                  f"for {name}") from exc

    def error(self, text: str) -> SimulationError:
        """The error that stops a run because part of the model failed (see logs.py)."""
        return SimulationError(text)

    def computed(self, p: _Producer, name: str, payload, kind: type, allowed: str):
        """A producer's ``key`` or ``headers`` computed from a message's payload, checked."""
        try:
            value = getattr(p.spec, name)(payload)
        except Exception as exc:
            raise SimulationError(f"producer {p.name!r}: {name}(payload) raised "
                                  f"{type(exc).__name__} at t={self.engine.now:g} s: {exc}"
                                  ) from exc
        if not isinstance(value, kind):
            raise SimulationError(f"producer {p.name!r}: {name}(payload) must return {allowed},"
                                  f" got {value!r} at t={self.engine.now:g} s")
        return dict(value) if kind is dict else value

    def bad_draw(self, where: str, quantity: str, value) -> SimulationError:
        """The error for a drawn time that cannot be: it names where and when it was drawn."""
        return SimulationError(f"{where} drew {quantity} {value!r} at t={self.engine.now:g} s, "
                               f"but {quantity} must be a finite number of seconds >= 0: check "
                               f"the distribution given for {quantity}")

    def link_to(self, c: _Consumer) -> str:
        """The link a consumer's messages travel on, as it was declared (for error messages)."""
        queue = c.queue.name
        source = queue if (queue, c.name) in self.net.links else c.queue.spec.broker
        return f"link '{source} -> {c.name}'"

    # -- the end -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Where the messages that have not ended are, read from the simulator's own state."""
        return {
            "queued": {n: len(qs.q) for n, qs in self.queues.items()},
            "blocked": {n: len(qs.blocked) for n, qs in self.queues.items()},
            "at_consumers": {n: len(c.held) + len(c.extra) for n, c in self.consumers.items()},
            "on_links": self.on_links,
            "waiting_at_producers": {n: len(p.backlog) for n, p in self.producers.items()},
            "in_logs": self.log_snapshot(),
        }


def _is_time(x) -> bool:
    """Is ``x`` a time the engine accepts, a finite number >= 0? (NaN fails every comparison.)"""
    try:
        return 0 <= x < math.inf
    except TypeError:
        return False


def _ttl(qs: _QueueState, msg: Message) -> float | None:
    if msg.expiration is None:
        return qs.ttl
    return msg.expiration if qs.ttl is None else min(qs.ttl, msg.expiration)


def _copy(msg: Message) -> Message:
    """A copy for one more queue: its own headers, and its own x-death entries."""
    dup = copy.copy(msg)
    dup.headers = dict(msg.headers)
    deaths = dup.headers.get("x-death")
    if isinstance(deaths, list):
        dup.headers["x-death"] = [_own_death(d) for d in deaths]
    return dup


def _own_death(entry):
    if not isinstance(entry, dict):
        return entry
    entry = dict(entry)
    if isinstance(entry.get("routing-keys"), list):
        entry["routing-keys"] = list(entry["routing-keys"])
    return entry


def _dead_letter_headers(msg: Message, reason: str, queue: str, exchange: str,
                         now: float) -> dict:
    """The headers of ``msg`` dead-lettered from ``queue``, as RabbitMQ 3.10 writes them.

    ``x-death`` is a list of deaths, newest first, each ``{count, reason, queue, time,
    exchange, routing-keys}`` (plus ``original-expiration`` if the message had one). A death in
    the same queue for the same reason raises that entry's count and moves it to the front;
    like RabbitMQ 3.10 it keeps the entry's first time, exchange and routing keys. The first
    death also sets ``x-first-death-reason``, ``-queue`` and ``-exchange``. Returns new dicts
    and lists: copies of a message may share the old ones, so nothing is changed in place.
    """
    headers = msg.headers
    deaths = headers.get("x-death")
    entry, others = None, []
    for d in deaths if isinstance(deaths, list) else ():
        if (entry is None and isinstance(d, dict) and d.get("queue") == queue
                and d.get("reason") == reason):
            count = d.get("count")
            entry = {**_own_death(d), "count": count + 1 if isinstance(count, int) else 1}
        else:
            others.append(_own_death(d))
    if entry is None:
        entry = {"count": 1, "reason": reason, "queue": queue, "time": now,
                 "exchange": exchange, "routing-keys": [msg.routing_key]}
        if msg.expiration is not None:
            entry["original-expiration"] = msg.expiration
    new = {**headers, "x-death": [entry, *others]}
    if "x-death" not in headers:
        new.update({"x-first-death-reason": reason, "x-first-death-queue": queue,
                    "x-first-death-exchange": exchange})
    return new


def _is_dead_letter_cycle(queue: str, deaths: list) -> bool:
    """RabbitMQ's rule: dead-lettering to ``queue`` closes a cycle if ``queue`` is among the
    deaths (newest first), with no consumer rejection up to and including that death."""
    for d in deaths:
        if not isinstance(d, dict) or d.get("reason") == "rejected":
            return False  # a consumer (or client) had a hand in it: not a loop by itself
        if d.get("queue") == queue:
            return True
    return False


def simulate(net, until: float | None, record: bool = True, progress: bool = True,
             express: bool = True):
    """Run a resolved network: return its Trace and where the unfinished messages are.

    The trace holds its own copy of the network's graph, so a Run made from it stays a record
    of what was simulated, whatever the network becomes afterwards. A plain network runs on
    :mod:`mqlab.express`, the same steps in a faster loop, unless ``express`` is False.
    """
    sim = Simulation(net, record)
    if express and fast.eligible(sim) is None:
        run, end = fast.start(sim)
    else:
        sim.start()
        run, end = sim.engine.run, sim.snapshot
    # A run allocates millions of small objects and frees almost none until it ends, which
    # makes the cyclic garbage collector rescan them again and again; it finds nothing to
    # free here (a run makes no reference cycles), so it is paused for the run.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if until is None:
            run(None)
        else:  # in slices, so that a long run can show how far it got
            with Progress(_SLICES, "simulating", delay=1.0 if progress else float("inf")) as bar:
                for k in range(1, _SLICES + 1):
                    run(until * k / _SLICES)
                    sim.trace.pack()
                    bar.update(k)
    finally:
        if was_enabled:
            gc.enable()
    sim.trace.end_time = sim.engine.now
    sim.trace.pack()
    return sim.trace, end()
