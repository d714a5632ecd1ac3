"""Run a Network on a real RabbitMQ and record what it did as a Trace.

``run(net, until=5)`` declares the network's exchanges, queues and bindings on a real broker
(every name prefixed with a fresh ``mqlab.<id>.``, so nothing collides with what is there),
runs its producers and consumers for ``until`` seconds of wall-clock time, records what could
be seen into a :class:`~mqlab.Trace` with real timestamps (seconds from the start), deletes
everything it declared, and returns a :class:`RabbitRun`: ``summary()`` and ``play()`` work on
it as on a simulated run.

>>> from mqlab import rabbit
>>> rabbit.available("amqp://guest:guest@127.0.0.1:1/", timeout=0.2)
False

How the network maps onto the broker (RabbitMQ's own vocabulary):

====================================  ========================================================
``net.exchange(type=...)``            an exchange of that type (direct, fanout, topic,
                                      headers); the broker's default exchange is ``""``
``net.queue(kind="priority")``        ``x-max-priority`` (``max_priority``; 255 if None)
``capacity``, ``overflow``            ``x-max-length``, ``x-overflow`` (drop-head,
                                      reject-publish)
``message_ttl``                       ``x-message-ttl`` (milliseconds)
``dead_letter``                       ``x-dead-letter-exchange`` (an exchange), or ``""`` with
                                      ``x-dead-letter-routing-key`` (a queue)
``net.bind(pattern=, arguments=)``    the binding key, or a headers binding's arguments
producers                             one publishing connection with publisher confirms;
                                      ``mandatory`` publishes; ``priority``, ``headers`` and
                                      ``expiration`` as message properties
consumers                             a channel each with ``basic.qos(prefetch)``, manual or
                                      automatic acks; the service time is waited out
                                      (a sleep that keeps the connection served);
                                      ``handler``/``nack`` reject or requeue
====================================  ========================================================

**Not supported on the real broker** (:class:`NotSupported` is raised, never ignored):
more than one broker; queues of kind ``"sorted"``; ``aging``; overflow ``"block"`` and
``"drop-lowest"``; ``temporary`` queues; partitioned logs (``net.topic``, ``topic=`` on
producers and consumers) and ``seek``; ``mode="sync"`` producers (and so ``timeout`` and
``retries``); consumer ``crash`` windows; links with latency, loss or duplication (the
real network's own delay is what is measured); float header values (pika cannot send them).

**What the trace records, and how** (a real broker does not report its inner steps, so the
trace holds what a client can see, and says so where it has to infer):

- ``publish``: when the producer sent it. ``arrive`` at the broker and ``route``/``enqueue``
  into each queue: when the publisher confirm came back (the broker has routed it by then),
  or earlier if a consumer had it before the confirm was read. The queues a message went to
  are those it was later seen in (delivered, dead-lettered, dropped, or still there at the
  end); a message never seen again is put where the exchange's rules send it.
- a returned (``mandatory``) publish is ``drop`` "unroutable"; a nacked one (a full queue
  with ``reject-publish``) is ``drop`` "rejected" at that queue.
- ``deliver`` and ``arrive`` at the consumer: when the delivery reached the consumer;
  ``start``, ``ack``, ``nack``, ``requeue``: when the consumer did them.
- drops: a queue without a dead-letter target is given one of the run's own, so that every
  message it drops (``maxlen``, ``expired``, ``rejected``) is seen and recorded as ``drop``
  "overflow", ``expire`` or ``drop`` "nacked", at the time it was seen. A message that a
  queue dead-letters onward (its ``x-death`` header names the queue and the reason) is
  recorded as ``dead-letter`` at an estimated time: the rejection's, the queue's TTL after it
  entered, or when the queue went over its ``x-max-length``.
- at the end, whatever is still in the queues is read out, in order (``RabbitRun.left``);
  a message on its way to a consumer at that moment counts as still in its queue.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from mqlab.message import Message
from mqlab.progress import Progress
from mqlab.routing import EXCHANGES
from mqlab.run import Run
from mqlab.simulation import SimulationError
from mqlab.trace import Trace

__all__ = ["DEFAULT_URL", "BrokerUnavailable", "NotSupported", "RabbitRun", "available", "wait",
           "check", "queue_arguments", "run"]

#: where a broker is looked for unless a URL is given (``MQLAB_RABBITMQ_URL`` overrides it)
DEFAULT_URL = os.environ.get("MQLAB_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
_OBSERVER = "~dropped"  # the run's own dead-letter exchange and queue (prefixed)
_HOW_TO_START = ("start one with `python -m mqlab.rabbit_server start` (it needs the "
                 "rabbitmq-server package: apt-get install rabbitmq-server) and pass the URL "
                 "it prints as url=...")


class BrokerUnavailable(ConnectionError):
    """No RabbitMQ answers at the URL given."""


class NotSupported(ValueError):
    """The network uses something the real broker backend does not do (see the module doc)."""


def _pika():
    try:
        import pika
    except ImportError:
        raise ImportError("mqlab.rabbit needs the pika package: pip install pika") from None
    return pika


def _parameters(url: str, timeout: float):
    pika = _pika()
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = max(timeout, 10.0)
    params.connection_attempts = 1
    params.heartbeat = 0  # a run is short; a slow step must not close the connection
    return params


def available(url: str = DEFAULT_URL, timeout: float = 1.0) -> bool:
    """True if a RabbitMQ answers at ``url`` within ``timeout`` seconds. Never raises."""
    try:
        conn = _pika().BlockingConnection(_parameters(url, timeout))
    except Exception:
        return False
    try:
        conn.close()
    except Exception:
        pass
    return True


def queue_arguments(net, name: str, real: Callable[[str], str] = str) -> dict[str, Any]:
    """The ``x-`` arguments queue ``name`` of ``net`` is declared with on a real broker (as
    the table above says): ``x-max-priority``, ``x-max-length`` with ``x-overflow``,
    ``x-message-ttl`` in milliseconds, the dead-letter exchange (``""`` and a routing key for a
    queue named directly). ``real(name)`` turns a name into the one declared (:func:`run`
    prefixes them). :func:`run` adds its own bookkeeping (``x-expires``, and a dead-letter
    target of its own for a queue without one)."""
    q = net.queues[name]
    args: dict[str, Any] = {}
    if q.kind == "priority":
        args["x-max-priority"] = 255 if q.max_priority is None else q.max_priority
    if q.capacity is not None:
        args["x-max-length"] = q.capacity
        args["x-overflow"] = q.overflow
    if q.message_ttl is not None:
        args["x-message-ttl"] = max(0, round(q.message_ttl * 1000))
    if q.dead_letter in net.queues:
        args["x-dead-letter-exchange"] = ""
        args["x-dead-letter-routing-key"] = real(q.dead_letter)
    elif q.dead_letter is not None:
        args["x-dead-letter-exchange"] = real(q.dead_letter)
    return args


def wait(url: str = DEFAULT_URL, timeout: float = 60.0) -> bool:
    """Wait up to ``timeout`` seconds for a RabbitMQ to answer at ``url`` (one that is still
    starting, as ``binder/start`` and ``make lab`` start theirs in the background); True once
    it answers, False if it never did. Never raises."""
    import time

    end = time.monotonic() + timeout
    while True:
        if available(url, timeout=1.0):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.5)


def _connect(url: str):
    if not isinstance(url, str) or not url.startswith(("amqp://", "amqps://")):
        raise ValueError(f"url must be an AMQP URL such as {DEFAULT_URL!r}, got {url!r}")
    try:
        return _pika().BlockingConnection(_parameters(url, 5.0))
    except ImportError:
        raise
    except Exception as exc:
        raise BrokerUnavailable(f"no RabbitMQ answers at {url} ({type(exc).__name__}: "
                                f"{exc or 'connection refused'}): {_HOW_TO_START}") from None


# -- what the real broker can run --------------------------------------------------------------
def check(net) -> None:
    """Raise :class:`NotSupported` naming every part of ``net`` the real broker backend cannot
    run (see the module doc); return None if it can run all of it."""
    problems = []
    if len(net.brokers) != 1:
        problems.append(f"exactly one broker is needed (this network has {len(net.brokers)})")
    if net.topics or net.seeks:
        problems.append("partitioned logs (net.topic) are not supported")
    for q in net.queues.values():
        if q.kind == "sorted":
            problems.append(f"queue {q.name!r}: kind='sorted' has no RabbitMQ counterpart")
        if q.aging is not None:
            problems.append(f"queue {q.name!r}: aging has no RabbitMQ counterpart")
        if q.overflow not in ("drop-head", "reject-publish"):
            problems.append(f"queue {q.name!r}: overflow={q.overflow!r} (RabbitMQ's x-overflow "
                            "takes 'drop-head' or 'reject-publish')")
        if q.temporary:
            problems.append(f"queue {q.name!r}: temporary queues are not supported")
    for p in net.producers.values():
        if p.topic is not None:
            problems.append(f"producer {p.name!r}: topic= (partitioned logs) is not supported")
        if p.mode != "async":
            problems.append(f"producer {p.name!r}: mode={p.mode!r} (request/response) is not "
                            "supported; use mode='async'")
    for c in net.consumers.values():
        if c.topic is not None:
            problems.append(f"consumer {c.name!r}: topic= (partitioned logs) is not supported")
        if c.crash:
            problems.append(f"consumer {c.name!r}: crash windows are not supported")
    for (src, dst), link in net.links.items():
        if link.fixed_latency != 0.0 or link.loss or link.duplicate:
            problems.append(f"link {src!r} -> {dst!r}: latency, loss and duplicate are not "
                            "supported (the real network's own delay is measured)")
    if problems:
        raise NotSupported("the real broker cannot run this network: " + "; ".join(problems))


# -- the run -----------------------------------------------------------------------------------
class RabbitRun(Run):
    """A run on a real broker: a :class:`~mqlab.Run` (``trace``, ``summary()``, ``play()``)
    plus ``left``: per queue, the ids of the messages still in it at the end, head first, as
    the broker handed them out; ``url``, the broker's address; and ``prefix``, what the run's
    names on the broker began with (all of them deleted at the end)."""

    def __init__(self, trace: Trace, still: dict, left: dict, url: str, prefix: str) -> None:
        super().__init__(trace, still)
        self.left = left
        self.url = url
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<RabbitRun {len(self.trace)} events over {self.trace.duration:.3g} s>"


def run(net, until: float, url: str = DEFAULT_URL, progress: bool = True) -> RabbitRun:
    """Run ``net`` on the RabbitMQ at ``url`` for ``until`` seconds; return a
    :class:`RabbitRun` whose trace has real timestamps (seconds from the start).

    Raises :class:`BrokerUnavailable` when no broker answers, :class:`NotSupported` when the
    network uses what a real broker cannot run. Everything declared is deleted afterwards,
    also when the run fails.
    """
    if isinstance(until, bool) or not isinstance(until, (int, float)) or not 0 < until < 3600:
        raise ValueError(f"until must be a number of seconds > 0 (and under an hour), "
                         f"got {until!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    check(net)
    net.resolve()
    conn = _connect(url)
    session = _Session(net, float(until), conn, url, progress)
    try:
        session.declare()
        session.play()
        trace, left = session.assemble()
    except BaseException:
        try:
            session.teardown()
        except Exception:  # the error that stopped the run is the one to report
            pass
        raise
    session.teardown()
    done = Run.from_trace(trace)
    return RabbitRun(done.trace, done.still, left, url, session.prefix)


# -- one session on the broker -----------------------------------------------------------------
class _Consumer:
    def __init__(self, spec):
        self.spec, self.name, self.queue = spec, spec.name, spec.queue
        self.channel = None
        self.tag = ""
        self.inbox: list = []  # (mid, level, delivery tag, Message), in arrival order
        self.busy = None  # what it is processing, or None
        self.done_at = 0.0


class _Session:
    """Declares, plays and tears down one network on the broker; keeps what it saw."""

    def __init__(self, net, until: float, conn, url: str, progress: bool):
        self.net, self.until, self.conn, self.progress = net, until, conn, progress
        self.url = url
        self.wall0 = time.time()
        self.prefix = f"mqlab.{os.getpid()}.{secrets.token_hex(3)}."
        self.broker = net.brokers[0]
        self.declared_queues: list[str] = []
        self.declared_exchanges: list[str] = []
        self.lock = threading.Lock()
        self.seen: list[tuple] = []  # what consumers and the drop watcher saw, in order
        self.sent: dict[int, dict] = {}  # message id -> its publish and confirm
        self.messages: dict[int, Message] = {}
        self.left: dict[str, list[int]] = {q: [] for q in net.queues}
        self.error: BaseException | None = None
        self.t0 = 0.0
        self.end = until
        self.consumers = [_Consumer(s) for s in net.consumers.values()]
        self.rng = random.Random(net.seed)
        self.consumer_rng = random.Random(None if net.seed is None else net.seed + 1)

    # names on the broker
    def real(self, name: str) -> str:
        return self.prefix + name

    def plain(self, name: Any) -> Any:
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        if isinstance(name, str) and name.startswith(self.prefix):
            return name[len(self.prefix):]
        return name

    def now(self) -> float:
        return time.perf_counter() - self.t0

    # -- declaring -----------------------------------------------------------------------------
    def declare(self) -> None:
        ch = self.conn.channel()
        self.admin = ch
        expires = int((self.until + 300) * 1000)  # a safety net should the process die
        observer = self.real(_OBSERVER)
        ch.exchange_declare(observer, "fanout", durable=False, auto_delete=False)
        self.declared_exchanges.append(observer)
        ch.queue_declare(observer, durable=False, arguments={"x-expires": expires})
        self.declared_queues.append(observer)
        ch.queue_bind(observer, observer)
        for ex in self.net.exchanges.values():
            ch.exchange_declare(self.real(ex.name), ex.type, durable=False, auto_delete=False)
            self.declared_exchanges.append(self.real(ex.name))
        for q in self.net.queues.values():
            args = {"x-expires": expires, **queue_arguments(self.net, q.name, self.real)}
            if q.dead_letter is None:  # our own: so that every message it drops is seen
                args["x-dead-letter-exchange"] = observer
            ch.queue_declare(self.real(q.name), durable=False, arguments=args)
            self.declared_queues.append(self.real(q.name))
        for ex in self.net.exchanges.values():
            for b in ex.bindings:
                key = "" if b.arguments is not None else b.pattern
                ch.queue_bind(self.real(b.queue), self.real(ex.name), key,
                              arguments=b.arguments)

    # -- playing -------------------------------------------------------------------------------
    def play(self) -> None:
        for c in self.consumers:
            c.channel = ch = self.conn.channel()
            ch.basic_qos(prefetch_count=c.spec.prefetch or 0)
            c.tag = ch.basic_consume(self.real(c.queue), self._on_delivery(c),
                                     auto_ack=c.spec.ack == "auto")
        self.watch = self.conn.channel()
        self.watch_tag = self.watch.basic_consume(self.real(_OBSERVER), self._on_drop,
                                                  auto_ack=True)
        publisher = _connect(self.url)
        self.publisher_conn = publisher
        stop = threading.Event()
        self.t0, self.wall0 = time.perf_counter(), time.time()
        thread = threading.Thread(target=self._publish_all, args=(publisher, stop),
                                  name="mqlab-rabbit-publisher", daemon=True)
        thread.start()
        try:
            self._consume_until(self.until)
        finally:
            stop.set()
            thread.join()
        self.end = max(self.until, self.now())
        if self.error is not None:
            raise self.error
        self._stop_consumers()
        self._drain()

    def _consume_until(self, until: float) -> None:
        steps = max(1, int(until * 10))
        with Progress(steps, "running on RabbitMQ",
                      delay=1.0 if self.progress else float("inf")) as bar:
            while self.error is None:
                now = self.now()
                if now >= until:
                    break
                for c in self.consumers:
                    if c.busy is not None and c.done_at <= now:
                        self._finish(c)
                    if c.busy is None and c.inbox:
                        self._begin(c)
                due = min([c.done_at for c in self.consumers if c.busy is not None]
                          + [until])
                wait = min(max(due - self.now(), 0.0), 0.005)
                self.conn.process_data_events(time_limit=wait)
                bar.update(min(steps, int(self.now() * 10)))

    def _on_delivery(self, c: _Consumer) -> Callable:
        def on_message(ch, method, props, body):
            t = self.now()
            mid, level, xdeath, headers = self._identify(props)
            if mid is None:
                return
            self.seen.append(("deliver", t, mid, c.queue, level, xdeath, c.name))
            msg = self._message_for(mid, props, headers, method)
            c.inbox.append((mid, level, method.delivery_tag, msg))

        return on_message

    def _on_drop(self, ch, method, props, body):
        self._seen_dropped(self.now(), props)

    def _seen_dropped(self, t: float, props) -> None:
        mid, level, xdeath, _ = self._identify(props)
        if mid is None or not xdeath:
            return
        self.seen.append(("died", t, mid, xdeath[0]["queue"], level - 1, xdeath,
                          xdeath[0]["reason"]))

    def _identify(self, props):
        """The message id, its number of deaths so far, its x-death (plain names, newest
        first) and its headers as mqlab shows them."""
        try:
            mid = int(props.message_id)
        except (TypeError, ValueError):
            return None, 0, [], {}
        headers = dict(props.headers or {})
        xdeath = [self._death(d) for d in headers.get("x-death") or []]
        if xdeath:
            headers["x-death"] = xdeath
            for k in ("x-first-death-queue", "x-first-death-exchange"):
                if k in headers:
                    headers[k] = self.plain(headers[k])
            if "x-first-death-reason" in headers:
                headers["x-first-death-reason"] = self.plain(headers["x-first-death-reason"])
        level = sum(d["count"] for d in xdeath)
        return mid, level, xdeath, headers

    def _death(self, d: dict) -> dict:
        out = {"count": int(d.get("count", 1)), "reason": self.plain(d.get("reason")),
               "queue": self.plain(d.get("queue")), "exchange": self.plain(d.get("exchange")),
               "routing-keys": [self.plain(k) for k in d.get("routing-keys") or []]}
        when = d.get("time")
        if when is not None:  # a wall-clock time (whole seconds): seconds from the start
            try:
                out["time"] = when.timestamp() - self.wall0
            except AttributeError:
                out["time"] = when
        if "original-expiration" in d:
            try:
                out["original-expiration"] = int(self.plain(d["original-expiration"])) / 1000
            except (TypeError, ValueError):
                out["original-expiration"] = d["original-expiration"]
        return out

    def _message_for(self, mid: int, props, headers: dict, method) -> Message:
        sent = self.messages.get(mid)
        expiration = None
        if props.expiration is not None:
            try:
                expiration = int(props.expiration) / 1000
            except ValueError:
                expiration = None
        key = self.plain(method.routing_key)
        msg = Message(sent.payload if sent else None, sent.source if sent else "", key, "",
                      key, props.priority, headers, expiration, mid,
                      sent.created if sent else None, sent.sent if sent else None)
        msg.redelivered = bool(method.redelivered)
        return msg

    def _begin(self, c: _Consumer) -> None:
        mid, level, tag, msg = c.inbox.pop(0)
        now = self.now()
        self.seen.append(("start", now, mid, c.queue, level, None, c.name))
        c.busy = (mid, level, tag, msg)
        service = c.spec.service(self.consumer_rng)
        if not isinstance(service, (int, float)) or not 0 <= service < float("inf"):
            raise ValueError(f"consumer {c.name!r} drew service {service!r}: it must be a "
                             "finite number of seconds >= 0")
        c.done_at = now + service
        msg.delivered = now

    def _finish(self, c: _Consumer) -> None:
        mid, level, tag, msg = c.busy
        c.busy = None
        spec = c.spec
        ok = True
        if spec.handler is not None:
            try:
                ok = spec.handler(msg) is not False
            except Exception as exc:
                raise SimulationError(
                    f"consumer {c.name!r}: its handler raised {type(exc).__name__} on message "
                    f"{mid} at t={self.now():.3f} s: {exc}") from exc
        if ok and spec.nack and self.consumer_rng.random() < spec.nack:
            ok = False
        now = self.now()
        if spec.ack == "auto":
            self.seen.append(("ack" if ok else "failed", now, mid, c.queue, level, None, c.name))
            return
        if ok:
            c.channel.basic_ack(tag)
            self.seen.append(("ack", now, mid, c.queue, level, None, c.name))
        elif spec.requeue:
            c.channel.basic_nack(tag, requeue=True)
            self.seen.append(("requeue", now, mid, c.queue, level, None, c.name))
        else:
            c.channel.basic_reject(tag, requeue=False)
            self.seen.append(("reject", now, mid, c.queue, level, None, c.name))

    def _publish_all(self, conn, stop: threading.Event) -> None:
        pika = _pika()
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            heap: list = []
            made = {}
            for i, spec in enumerate(self.net.producers.values()):
                made[spec.name] = 0
                if spec.schedule is not None:
                    for t in spec.schedule[: spec.count]:
                        heapq.heappush(heap, (t, i, spec, False))
                else:
                    heapq.heappush(heap, (self._gap(spec), i, spec, True))
            while heap and not stop.is_set():
                t, i, spec, repeats = heapq.heappop(heap)
                if t >= self.until:
                    break
                wait = t - self.now()
                if wait > 0 and stop.wait(wait):
                    break
                made[spec.name] += 1
                if repeats and (spec.count is None or made[spec.name] < spec.count):
                    heapq.heappush(heap, (t + self._gap(spec), i, spec, True))
                self._publish(ch, pika, spec, made[spec.name] - 1, t)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            stop.set()

    def _gap(self, spec) -> float:
        gap = spec.gap(self.rng)
        if not isinstance(gap, (int, float)) or not 0 < gap < float("inf"):
            raise ValueError(f"producer {spec.name!r} drew interval {gap!r}: it must be a "
                             "finite number of seconds > 0")
        return gap

    def _publish(self, ch, pika, spec, number: int, created: float) -> None:
        with self.lock:
            mid = len(self.messages) + 1
            try:
                payload = spec.payload(number) if spec.payload else None
                key = spec.key(payload) if spec.key is not None else spec.routing_key(self.rng)
                priority = spec.priority(self.rng)
                headers = (spec.headers(payload) if callable(spec.headers)
                           else dict(spec.headers))
            except Exception as exc:
                raise SimulationError(
                    f"producer {spec.name!r}: making message {number} raised "
                    f"{type(exc).__name__} at t={self.now():.3f} s: {exc}") from exc
            if not isinstance(key, str):
                raise TypeError(f"producer {spec.name!r}: the routing key must be a str, "
                                f"got {key!r}")
            if not isinstance(headers, dict):
                raise TypeError(f"producer {spec.name!r}: headers must be a dict, "
                                f"got {headers!r}")
            _check_headers(spec.name, headers)
            t = self.now()
            msg = Message(payload, spec.name, key, "", key, priority, headers, spec.expiration,
                          mid, created, t)
            self.messages[mid] = msg
        exchange = self.real(spec.exchange) if spec.exchange else ""
        props = pika.BasicProperties(
            message_id=str(mid), priority=priority, headers=headers or None, delivery_mode=1,
            expiration=(None if spec.expiration is None
                        else str(max(0, round(spec.expiration * 1000)))))
        body = json.dumps(payload, default=repr).encode()
        outcome = "ack"
        try:
            ch.basic_publish(exchange, key if exchange else self.real(key), body, props,
                             mandatory=True)
        except pika.exceptions.UnroutableError:
            outcome = "return"
        except pika.exceptions.NackError:
            outcome = "nack"
        self.sent[mid] = {"t": t, "confirmed": self.now(), "outcome": outcome,
                          "producer": spec.name, "key": key,
                          "exchange": spec.exchange or spec.to}

    # -- the end -------------------------------------------------------------------------------
    def _stop_consumers(self) -> None:
        """Take no more deliveries; what reached a consumer stays unacknowledged (and so out
        of the queues) until the queues are read out."""
        for c in self.consumers:
            pending = c.channel.basic_cancel(c.tag) or []
            for _method, props, _ in pending:  # auto-ack deliveries that came too late
                mid, level, xdeath, _ = self._identify(props)
                if mid is not None:
                    self.seen.append(("deliver", self.end, mid, c.queue, level, xdeath, c.name))
        for _method, props, _ in self.watch.basic_cancel(self.watch_tag) or []:
            self._seen_dropped(self.end, props)

    def _drain(self) -> None:
        ch = self.admin
        for q in self.net.queues:
            while True:
                method, props, _ = ch.basic_get(self.real(q), auto_ack=True)
                if method is None:
                    break
                mid, level, xdeath, _ = self._identify(props)
                if mid is not None:
                    self.seen.append(("left", self.end, mid, q, level, xdeath, None))
                    self.left[q].append(mid)
        while True:
            method, props, _ = ch.basic_get(self.real(_OBSERVER), auto_ack=True)
            if method is None:
                break
            self._seen_dropped(self.end, props)

    def teardown(self) -> None:
        try:
            if self.conn.is_open:
                ch = self.conn.channel()
                for q in self.declared_queues:
                    ch.queue_delete(q)
                for ex in self.declared_exchanges:
                    ch.exchange_delete(ex)
        finally:
            for conn in (getattr(self, "publisher_conn", None), self.conn):
                if conn is not None and conn.is_open:
                    try:
                        conn.close()
                    except Exception:
                        pass

    # -- the trace -----------------------------------------------------------------------------
    def assemble(self) -> tuple[Trace, dict]:
        return _Assembler(self).trace(), self.left


def _check_headers(producer: str, headers: dict) -> None:
    for k, v in headers.items():
        if isinstance(v, float):
            raise NotSupported(f"producer {producer!r}: header {k!r} is a float ({v!r}); the "
                               "AMQP client cannot send floats: use an int or a str")
        if isinstance(v, dict):
            _check_headers(producer, v)


class _Segment:
    """One copy of a message in one queue, from when it entered to when it left."""

    def __init__(self, mid: int, queue: str, level: int):
        self.mid, self.queue, self.level = mid, queue, level
        self.came_from: tuple[str, str] | None = None  # (queue, reason) of the death before
        self.events: list[tuple] = []  # (time, kind, node, peer, info) seen in this queue
        self.entered: float | None = None
        self.leave: tuple | None = None  # (time or None, how): how = drop/expire/dead-letter
        self.after: list[_Segment] = []  # where it went when dead-lettered
        self.first_seen = float("inf")
        self.still = False  # read out of the queue at the end


class _Assembler:
    """Turns what a session saw into Trace rows, in causal order with real times."""

    def __init__(self, s: _Session):
        self.s, self.net = s, s.net
        self.segments: dict[tuple, _Segment] = {}

    def seg(self, mid: int, queue: str, level: int) -> _Segment:
        key = (mid, queue, level)
        if key not in self.segments:
            self.segments[key] = _Segment(mid, queue, level)
        return self.segments[key]

    def trace(self) -> Trace:
        s, end = self.s, self.s.end
        for kind, t, mid, queue, level, xdeath, who in s.seen:
            if queue not in self.net.queues or mid not in s.sent:
                continue
            g = self.seg(mid, queue, level)
            g.first_seen = min(g.first_seen, t)
            if kind in ("deliver", "left"):
                if xdeath and g.came_from is None:
                    g.came_from = (xdeath[0]["queue"], xdeath[0]["reason"])
                    self.link(g, xdeath)
            if kind == "deliver":
                g.events += [(t, "deliver", queue, who, ""), (t, "arrive", who, queue, "")]
            elif kind == "start":
                g.events.append((t, "start", who, "", ""))
            elif kind == "ack":
                ack = self.net.consumers[who].ack
                g.events.append((t, "ack", who, queue, ack))
            elif kind == "failed":
                g.events.append((t, "drop", who, "", "failed"))
            elif kind == "requeue":
                g.events += [(t, "nack", who, queue, "requeue"), (t, "requeue", queue, "", "")]
            elif kind == "reject":
                g.events.append((t, "nack", who, queue, "reject"))
                g.leave = (t, "rejected")
            elif kind == "left":
                g.still = True
            elif kind == "died":
                if len(xdeath) > 1 and g.came_from is None and level > 0:
                    g.came_from = (xdeath[1]["queue"], xdeath[1]["reason"])
                    self.link(g, xdeath[1:])
                reason = who
                if reason == "rejected" and g.leave is not None:
                    g.leave = (g.leave[0], "dropped-rejected")
                elif t <= end and not g.still:
                    g.leave = (t, "dropped-" + reason)
        rows: list[tuple] = []
        order = sorted(s.sent, key=lambda m: s.sent[m]["t"])
        by_mid: dict[int, list[_Segment]] = {}
        for g in self.segments.values():
            by_mid.setdefault(g.mid, []).append(g)
        for mid in order:
            rows += self.message_rows(mid, by_mid.get(mid, []))
        rows.sort(key=lambda r: r[0])  # stable: each message's rows are in causal order
        trace = Trace(rows, graph=self.net.graph.copy(), messages=dict(s.messages))
        trace.end_time = max([end] + [r[0] for r in rows])
        return trace

    def link(self, g: _Segment, xdeath: list) -> None:
        """``g`` came by dead-lettering: tie it to the copy it came from (made if unseen)."""
        if g.level <= 0 or not xdeath:
            return
        src, reason = xdeath[0]["queue"], xdeath[0]["reason"]
        if src not in self.net.queues:
            return
        pred_key = (g.mid, src, g.level - 1)
        fresh = pred_key not in self.segments
        pred = self.seg(*pred_key)
        if g not in pred.after:
            pred.after.append(g)
        if pred.leave is None or pred.leave[1] != "rejected":
            pred.leave = (None, reason) if pred.leave is None else pred.leave
        if fresh and pred.level > 0:  # its own origin: the death before (best guess)
            before = xdeath[1:] or ([xdeath[0]] if xdeath[0]["count"] > 1 else [])
            if before:
                pred.came_from = (before[0]["queue"], before[0]["reason"])
                self.link(pred, before)

    # -- one message -------------------------------------------------------------------------
    def message_rows(self, mid: int, segs: list[_Segment]) -> list[tuple]:
        s, net = self.s, self.net
        sent = s.sent[mid]
        t_pub, node = sent["t"], sent["exchange"]
        key = sent["key"]
        rows = [(t_pub, "publish", mid, sent["producer"], self.s.broker, key)]
        first = [g for g in segs if g.level == 0]
        seen_at = min([g.first_seen for g in segs] + [sent["confirmed"]])
        arrive = max(t_pub, min(sent["confirmed"], seen_at))
        rows.append((arrive, "arrive", mid, self.s.broker, sent["producer"], ""))
        if sent["outcome"] == "return":
            rows.append((arrive, "drop", mid, node, "", "unroutable"))
            return rows
        rejected_at: list[str] = []
        if sent["outcome"] == "nack":
            held = {g.queue for g in first}
            rejected_at = [q for q in self.targets(node, s.messages[mid])
                           if net.queues[q].overflow == "reject-publish" and q not in held]
        if not first and not rejected_at:  # never seen again: where the rules send it
            first = [self.seg(mid, q, 0) for q in self.targets(node, s.messages[mid])]
            if not first:
                rows.append((arrive, "drop", mid, node, "", "unroutable"))
                return rows
        for q in [g.queue for g in first] + rejected_at:
            rows.append((arrive, "route", mid, node, q, key))
        for q in rejected_at:
            rows.append((arrive, "drop", mid, q, "", "rejected"))
        for g in first:
            g.entered = arrive
        # level by level: when each copy entered and left, then its rows
        pending = sorted(first, key=lambda g: g.first_seen)
        done: set[int] = set()
        while pending:
            g = pending.pop(0)
            if id(g) in done:
                continue
            done.add(id(g))
            rows += self.segment_rows(g, key)
            pending += g.after
        return rows

    def targets(self, node: str, msg: Message) -> list[str]:
        """The queues the exchange's rules send ``msg`` to (when the broker showed nothing)."""
        ex = self.net.exchanges.get(node)
        if ex is None:
            q = self.net.queues.get(msg.routing_key)
            return [msg.routing_key] if q is not None else []
        matches = EXCHANGES[ex.type].matches
        return list(dict.fromkeys(b.queue for b in ex.bindings if matches(b, msg)))

    def segment_rows(self, g: _Segment, key: str) -> list[tuple]:
        mid, q, end = g.mid, g.queue, self.s.end
        spec = self.net.queues[q]
        t = g.entered if g.entered is not None else min(g.first_seen, end)
        rows = [(t, "enqueue", mid, q, "", "")]
        floor = t
        for ev in g.events:
            floor = max(floor, ev[0])
            rows.append((floor, ev[1], mid, ev[2], ev[3], ev[4]))
        if g.still or g.leave is None:
            if g.leave is None and not g.still and not g.events and not g.after:
                rows += self.vanished(g, t, floor)
            return rows
        when, how = g.leave
        if when is None:  # dead-lettered onward: estimate when it left
            when = self.estimate(g, t, how)
        if g.after:
            when = min(when, min(a.first_seen for a in g.after))
        when = min(max(when, floor), end)
        if how.startswith("dropped-"):
            reason = how[len("dropped-"):]
            if reason == "maxlen":  # not after the copy that pushed it out entered
                pushed = self.estimate(g, t, "maxlen")
                if pushed > t:
                    when = max(min(when, pushed), floor)
            if reason == "expired":
                rows.append((when, "expire", mid, q, "", ""))
            else:
                rows.append((when, "drop", mid, q, "", {"maxlen": "overflow",
                                                        "rejected": "nacked"}.get(reason,
                                                                                  reason)))
            return rows
        target = spec.dead_letter
        if target is None:
            return rows
        rows.append((when, "dead-letter", mid, q, target, how))
        if not g.after:  # the dead-letter exchange sent it nowhere
            node = target
            rows.append((when, "drop", mid, node, "", "unroutable"))
            return rows
        for a in g.after:
            rows.append((when, "route", mid, q if target in self.net.queues else target,
                         a.queue, key))
            a.entered = when
        return rows

    def estimate(self, g: _Segment, entered: float, how: str) -> float:
        """When a copy dead-lettered onward left its queue (the broker does not say)."""
        spec = self.net.queues[g.queue]
        if how == "expired":
            ttl = spec.message_ttl
            exp = self.s.messages[g.mid].expiration if g.level == 0 else None
            ttl = exp if ttl is None else (ttl if exp is None else min(ttl, exp))
            if ttl is not None:
                return entered + ttl
        if how == "maxlen":  # when the queue went over its length: the next copy to enter
            later = sorted(t for t in (self.entered(o) for o in self.segments.values()
                                       if o.queue == g.queue and o is not g) if t > entered)
            if later:
                return later[0]
        return entered

    def entered(self, g: _Segment) -> float:
        """When a copy entered its queue, or the best guess so far."""
        if g.entered is not None:
            return g.entered
        if g.level == 0:
            return min(self.s.sent[g.mid]["confirmed"], g.first_seen)
        return g.first_seen

    def vanished(self, g: _Segment, entered: float, floor: float) -> list[tuple]:
        """A copy the broker put in a queue and that was never seen again: it ended without
        a sign (a dead-letter cycle, or dead-lettered to where nothing is bound)."""
        spec, end = self.net.queues[g.queue], self.s.end
        ttl = spec.message_ttl
        if g.level == 0 and self.s.messages[g.mid].expiration is not None:
            exp = self.s.messages[g.mid].expiration
            ttl = exp if ttl is None else min(ttl, exp)
        if ttl is not None:
            return [(min(max(entered + ttl, floor), end), "expire", g.mid, g.queue, "", "")]
        return [(end, "drop", g.mid, g.queue, "", "untraced")]
