"""Build a messaging system as a graph: producers, brokers, exchanges, queues and consumers.

:class:`Network` is a thin builder over a plain ``networkx.DiGraph`` (``net.graph``): every
call adds a node or an edge and checks its arguments at once, so a mistake is reported where
it was made. ``net.run(until=...)`` simulates the system and returns a :class:`~mqlab.Run`.

Messages flow left to right::

    producer --link--> broker --> exchange --binding--> queue --link--> consumer

Each broker also has a *default exchange* (the broker node itself): a message published with
routing key ``"jobs"`` and no exchange goes straight to the queue named ``"jobs"``. That is
point-to-point messaging.

>>> net = Network(seed=7)
>>> net.producer("sensor", interval=1.0, routing_key="jobs", count=3)
>>> net.broker("hub")
>>> net.queue("hub", "jobs")
>>> net.consumer("worker", queue="jobs", service=0.5)
>>> net.link("sensor", "hub", latency=0.1)
>>> run = net.run(until=10)
>>> run.summary().account["acked"]
3
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from mqlab import dist, security
from mqlab.queues import (
    MAX_PRIORITY,
    FifoQueue,
    PriorityQueue,
    SortedQueue,
    check_aging,
    check_capacity,
    check_max_priority,
    check_overflow,
)
from mqlab.routing import EXCHANGES, Binding

__all__ = ["COMMIT_POLICIES", "QUEUE_KINDS", "Network"]

QUEUE_KINDS = ("fifo", "priority", "sorted")
# when a consumer group commits its offsets: after processing each record (at-least-once), or
# when the record is fetched, before processing (at-most-once); a number of seconds commits
# what was processed every that many seconds (as Kafka's auto-commit does)
COMMIT_POLICIES = ("after", "before")



def check_routing_key(name: str, value: Any) -> str:
    """Raise a clear error naming ``name`` unless ``value`` is a routing key (a str)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r}")
    return value


def check_priority(name: str, value: Any) -> int | None:
    """Raise a clear error naming ``name`` unless ``value`` is a message priority: None (no
    priority) or an int from 0 to 255, as in RabbitMQ."""
    allowed = f"an int from 0 to {MAX_PRIORITY} or None (no priority)"
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    if not 0 <= value <= MAX_PRIORITY:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


@dataclass
class ProducerSpec:
    name: str
    gap: Callable | None  # f(rng) -> seconds to the next message, or None with a schedule
    schedule: list[float] | None
    count: int | None
    routing_key: Callable
    priority: Callable
    payload: Callable | None
    headers: dict
    exchange: str
    mode: str
    expiration: float | None
    to: str | None = None  # the broker, resolved at run time
    timeout: float | None = None  # sync only: seconds to wait for a reply, or None (for ever)
    retries: int = 0  # sync only: how many times a timed-out request is sent again
    key: Callable | None = None  # f(payload) -> routing key / record key, computed per message
    topic: str | None = None  # the partitioned log it appends to, or None
    keep_key: bool = False  # a pipeline stage publishing with each message's own key
    confirm: bool = False  # publisher confirms: the broker answers each message it takes
    backoff: Any = None  # dist.Backoff: the wait before each retry (None: retry at once)
    persistent: bool = True  # its messages survive a broker restart in a durable queue


@dataclass
class QueueSpec:
    name: str
    broker: str
    kind: str
    capacity: int | None
    overflow: str
    max_priority: int | None
    message_ttl: float | None
    dead_letter: str | None
    sort_key: Callable | None
    aging: float | None = None  # priority levels gained per second waited (priority queues)
    temporary: bool = False  # exists only while one of its consumers is up
    durable: bool = True  # its persistent messages survive a broker restart

    def make(self, clock: Callable[[], float] | None = None):
        """A new, empty queue of this kind. ``clock``: where an aging queue reads the time
        (the simulator passes its own clock)."""
        if self.kind == "priority":
            return PriorityQueue(self.capacity, self.overflow, self.max_priority,
                                 self.aging, clock if self.aging is not None else None)
        if self.kind == "sorted":
            return SortedQueue(self.sort_key, self.capacity, self.overflow)
        return FifoQueue(self.capacity, self.overflow)


@dataclass
class ExchangeSpec:
    name: str
    broker: str
    type: str
    bindings: list[Binding] = field(default_factory=list)  # (pattern, queue, arguments)


@dataclass
class ConsumerSpec:
    name: str
    queue: str
    service: Callable
    prefetch: int | None  # None: no limit (RabbitMQ's prefetch 0)
    ack: str
    nack: float
    requeue: bool
    crash: list[tuple[float, float]]
    handler: Callable | None
    topic: str | None = None  # a partitioned log it reads (instead of a queue)
    group: str | None = None  # its consumer group (logs only)
    offset: str | int = "earliest"  # where its group starts without a committed offset
    commit: str | float = "after"  # when its group commits offsets (COMMIT_POLICIES, or s)
    publish_to: str | None = None  # where it publishes each message it finished (a pipeline)
    publish_key: Any = None  # the routing key it publishes with: a str, f(payload) or None
    onward: ProducerSpec | None = None  # its publishing side, made by Network.resolve
    ack_timeout: float | None = None  # seconds the broker waits for an ack, then requeues
    crash_before_ack: float = 0.0  # probability it crashes after processing, before its ack
    restart: float = 1.0  # seconds it is down after such a crash
    dedup: bool = False  # it remembers what it processed and does not do it twice
    verify: Callable | None = None  # f(message) -> None to accept, or why it is refused
    handler_factory: Callable | None = None  # makes its handler at each (re)start


@dataclass
class UserSpec:
    """A user of the brokers: a salted password hash and RabbitMQ's three permissions."""
    name: str
    salt: bytes
    digest: bytes
    configure: str
    write: str
    read: str
    rate: float | None  # publishes per second allowed (a token bucket), or None: no limit
    burst: int  # how many it may publish at once, above the rate


@dataclass
class TapSpec:
    """Someone on a producer -> broker link: reads, changes or replays what passes."""
    source: str
    target: str
    observe: Callable | None
    tamper: Callable | None
    replay: list  # (time, message id): send a copy of a message seen earlier again


@dataclass
class AutoscaleSpec:
    """A pool of consumers on one queue that grows when messages wait and shrinks when idle."""
    queue: str
    workers: list[str]
    least: int
    every: float
    up_at: int
    down_after: float


@dataclass
class TopicSpec:
    """A partitioned log on a broker: ``partitions`` append-only logs, records kept for
    ``retention`` seconds (None: for ever)."""
    name: str
    broker: str
    partitions: int
    retention: float | None

    def partition(self, i: int) -> str:
        """The name of partition ``i`` (Kafka's own spelling: ``orders-0``)."""
        return f"{self.name}-{i}"


@dataclass
class LinkSpec:
    latency: Callable
    loss: float
    duplicate: float
    fixed_latency: float | None  # the number, when latency was given as one (for drawing)
    outages: list = field(default_factory=list)  # (down, up) times the link carries nothing
    bandwidth: float | None = None  # messages per second it can carry, or None: no limit


class Network:
    """A messaging system under construction: add parts, link them, then ``run``."""

    def __init__(self, seed: int | None = 0) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self.seed = seed
        self.graph = nx.DiGraph()
        self.producers: dict[str, ProducerSpec] = {}
        self.brokers: list[str] = []
        self.exchanges: dict[str, ExchangeSpec] = {}
        self.queues: dict[str, QueueSpec] = {}
        self.consumers: dict[str, ConsumerSpec] = {}
        self.links: dict[tuple[str, str], LinkSpec] = {}
        self.topics: dict[str, TopicSpec] = {}
        self.broker_crashes: dict[str, list[tuple[float, float]]] = {}
        self.autoscalers: list[AutoscaleSpec] = []
        self.users: dict[str, UserSpec] = {}
        self.credentials: dict[str, tuple[str | None, Any]] = {}  # client -> (user, password)
        self.taps: list[TapSpec] = []
        self.seeks: list[tuple[float, str, int]] = []  # (time, group, offset)

    # -- helpers -------------------------------------------------------------------------------
    def _new_node(self, name: str, role: str, **attrs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if name in self.graph:
            raise ValueError(f"name {name!r} is already used by a {self.role(name)}; "
                             "every node needs its own name")
        self.graph.add_node(name, role=role, **attrs)

    def role(self, name: str) -> str:
        """The role of a node: producer, broker, exchange, queue or consumer."""
        if name not in self.graph:
            raise ValueError(f"no node named {name!r}; nodes: {sorted(self.graph)}")
        return self.graph.nodes[name]["role"]

    def _need(self, param: str, name: str, role: str) -> None:
        if not isinstance(name, str) or name not in self.graph or self.role(name) != role:
            known = sorted(n for n, r in self.graph.nodes(data="role") if r == role)
            raise ValueError(f"{param} must name an existing {role} (known: {known}), "
                             f"got {name!r}")

    # -- the parts -----------------------------------------------------------------------------
    def producer(
        self,
        name: str,
        rate: float | None = None,
        interval: float | Callable | None = None,
        schedule: list[float] | None = None,
        count: int | None = None,
        routing_key: str | dict | list | Callable = "",
        priority: int | dict | list | Callable | None = None,
        payload: Callable[[int], Any] | None = None,
        headers: dict | Callable[[Any], dict] | None = None,
        exchange: str = "",
        mode: str = "async",
        expiration: float | None = None,
        timeout: float | None = None,
        retries: int = 0,
        key: str | Callable[[Any], str] | None = None,
        topic: str | None = None,
        confirm: bool = False,
        backoff: dist.Backoff | None = None,
        persistent: bool = True,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        """Add a producer that publishes messages.

        When to send, exactly one of: ``rate`` (Poisson arrivals, messages per second),
        ``interval`` (seconds between messages, a number or a distribution) or ``schedule``
        (a list of send times). ``count`` caps how many it sends.

        ``mode="async"`` publishes and moves on (fire-and-forget); ``mode="sync"`` waits for
        the consumer's reply before sending the next message (request/response): messages
        produced meanwhile wait at the producer.

        ``timeout`` (sync only): seconds to wait for each reply; None waits for ever. When no
        reply comes in time the producer records a ``timeout`` event and sends the same
        request again (same message id: a retry is one more copy of the request), up to
        ``retries`` times; then it gives up and moves on to its next message. The first reply
        to any copy answers the request; a reply that comes after that, or after the producer
        gave up, is recorded as a ``reply`` marked "(late, ignored)". A producer with a
        timeout hears nothing about a request lost on its link: its timeout tells it.

        ``routing_key`` (a str) and ``priority`` (an int from 0 to 255, or None for none) may
        be fixed, a list, a ``{value: weight}`` dict or a function of a ``random.Random``
        (what it draws is checked as it is drawn). ``exchange=""`` is the broker's default
        exchange (routes by queue name). ``payload(i)`` makes the payload of message number
        ``i``.

        Computed from each message's payload instead: ``key(payload)`` returns its routing
        key (a str; give ``key`` or ``routing_key``, not both), and ``headers`` may be a
        function ``headers(payload)`` returning the headers dict.

        ``confirm=True`` turns on publisher confirms (asynchronous): the broker answers each
        message once it has taken it (a ``reply`` "confirmed", or "rejected" when a full queue
        refused it); with ``timeout`` the producer publishes a message again when no answer
        came in time (or it was rejected), up to ``retries`` times: at-least-once publishing.
        ``backoff`` (``mq.backoff(base, factor, cap, jitter)``) is how long to wait before each
        retry, for sync requests too (default: at once). ``persistent=False`` marks the
        messages transient: a broker restart loses them even in a durable queue.

        ``topic``: append to a partitioned log (see :meth:`topic`) instead of publishing to an
        exchange. The record's ``key`` chooses its partition (:func:`partition_for`); with no
        key (None) the producer takes the partitions in turn.

        ``user`` and ``password``: who it logs in as, when the system has users (see
        :meth:`user`).
        """
        given = [p for p, v in (("rate", rate), ("interval", interval), ("schedule", schedule))
                 if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of rate (messages/s), interval (s between "
                             f"messages) or schedule (list of times); got {given or 'none'}")
        gap, times = None, None
        if rate is not None:
            rate = dist.positive("rate", rate)
            gap = dist.Exponential(1.0 / rate)
        elif interval is not None:
            gap = dist.time_sampler("interval", interval, allow_zero=False)
        else:
            if not isinstance(schedule, (list, tuple)):
                raise TypeError(f"schedule must be a list of times in seconds, got {schedule!r}")
            times = [dist.non_negative("schedule time", t) for t in schedule]
            if times != sorted(times):
                raise ValueError("schedule must list times in increasing order")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 1):
            raise ValueError(f"count must be None (no limit) or an int >= 1, got {count!r}")
        if mode not in ("async", "sync"):
            raise ValueError(f"mode must be 'async' (fire-and-forget) or 'sync' "
                             f"(wait for the reply), got {mode!r}")
        if payload is not None and not callable(payload):
            raise TypeError(f"payload must be None or a function of the message number, "
                            f"got {payload!r}")
        if headers is not None and not isinstance(headers, dict) and not callable(headers):
            raise TypeError(f"headers must be a dict or a function of the payload returning "
                            f"one, got {headers!r}")
        if key is not None:
            if not (isinstance(key, str) or callable(key)):
                raise TypeError(f"key must be None, a str or a function of the payload "
                                f"returning a str, got {key!r}")
            if routing_key != "":
                raise ValueError("give key (computed from the payload) or routing_key, "
                                 "not both")
        if topic is not None:
            if not isinstance(topic, str) or not topic:
                raise TypeError(f"topic must be None or the name of a topic, got {topic!r}")
            if exchange:
                raise ValueError(f"give exchange or topic, not both (got exchange={exchange!r},"
                                 f" topic={topic!r})")
            if mode != "async":
                raise ValueError("topic: a producer appending to a log publishes "
                                 "fire-and-forget; mode must be 'async'")
        if not isinstance(exchange, str):
            raise TypeError(f"exchange must be an exchange name or '' (default), got {exchange!r}")
        if expiration is not None:
            expiration = dist.positive("expiration", expiration)
        for param, flag in (("confirm", confirm), ("persistent", persistent)):
            if not isinstance(flag, bool):
                raise TypeError(f"{param} must be True or False, got {flag!r}")
        if confirm and mode == "sync":
            raise ValueError("confirm applies to mode='async': a sync producer already waits "
                             "for each message's reply")
        if backoff is not None and not isinstance(backoff, dist.Backoff):
            raise TypeError(f"backoff must be None or mq.backoff(base, factor, cap, jitter), "
                            f"got {backoff!r}")
        if timeout is not None:
            timeout = dist.positive("timeout", timeout)
            if mode != "sync" and not confirm:
                raise ValueError("timeout only applies to mode='sync' (a producer that waits "
                                 f"for a reply) or confirm=True; this producer has "
                                 f"mode={mode!r}")
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries must be an int >= 0 (times to send a timed-out request "
                            f"again), got {retries!r}")
        if retries < 0:
            raise ValueError(f"retries must be an int >= 0 (times to send a timed-out request "
                             f"again), got {retries!r}")
        if retries and timeout is None:
            raise ValueError("retries needs a timeout: give mode='sync' (or confirm=True) and "
                             "timeout=SECONDS, the time to wait for each reply before sending "
                             "the message again")
        if backoff is not None and not retries:
            raise ValueError("backoff needs retries: it is the wait before each retry")
        spec = ProducerSpec(
            name, gap, times, count,
            dist.value_sampler("routing_key", routing_key, check_routing_key),
            dist.value_sampler("priority", priority, check_priority),
            payload, headers if callable(headers) else dict(headers or {}), exchange, mode,
            expiration, timeout=timeout, retries=retries,
            key=key if callable(key) else None, topic=topic, confirm=confirm, backoff=backoff,
            persistent=persistent,
        )
        if isinstance(key, str):
            spec.routing_key = dist.value_sampler("key", key, check_routing_key)
        self._credentials(name, user, password)
        self._new_node(name, "producer", mode=mode)
        self.producers[name] = spec

    def broker(self, name: str, crash: list[tuple[float, float]] | None = None) -> None:
        """Add a broker: it receives published messages and routes them into its queues.

        ``crash``: ``[(down, up), ...]`` times the broker is down. A crash loses every
        message of its queues except persistent messages (``producer(persistent=True)``, the
        default) in durable queues (``queue(durable=True)``, the default), which are there again
        when it restarts, as are the unacked messages its consumers held; its consumers are
        cut off and reconnect when it is back; messages that reach it while it is down are
        lost (reason "broker down"). Partitioned logs are kept whole.
        """
        windows = _crash_windows(crash)
        self._new_node(name, "broker")
        self.brokers.append(name)
        self.broker_crashes[name] = windows

    def exchange(self, broker: str, name: str, type: str = "direct") -> None:
        """Add an exchange to a broker: ``"direct"`` (exact key), ``"fanout"`` (every bound
        queue), ``"topic"`` (patterns with ``*`` and ``#``) or ``"headers"`` (the message's
        headers against each binding's ``arguments``). The types are the table
        :data:`mqlab.routing.EXCHANGES`."""
        self._need("broker", broker, "broker")
        if not isinstance(type, str) or type not in EXCHANGES:
            raise ValueError(f"type must be one of {', '.join(map(repr, EXCHANGES))}, "
                             f"got {type!r}")
        self._new_node(name, "exchange", broker=broker, type=type)
        self.graph.add_edge(broker, name, kind="internal")
        self.exchanges[name] = ExchangeSpec(name, broker, type)

    def queue(
        self,
        broker: str,
        name: str,
        kind: str = "fifo",
        capacity: int | None = None,
        overflow: str = "drop-head",
        max_priority: int | None = None,
        message_ttl: float | None = None,
        dead_letter: str | None = None,
        sort_key: Callable | None = None,
        aging: float | None = None,
        temporary: bool = False,
        durable: bool = True,
    ) -> None:
        """Add a queue to a broker.

        ``kind``: ``"fifo"``, ``"priority"`` (higher first) or ``"sorted"`` (by ``sort_key``).
        ``capacity`` counts *ready* messages only, as RabbitMQ's ``x-max-length`` does:
        messages already delivered to a consumer and not yet acked do not count.
        ``overflow``: ``"drop-head"``, ``"reject-publish"``, ``"block"`` (backpressure: the
        publisher waits) or ``"drop-lowest"`` (the message that would be delivered last goes;
        not in RabbitMQ). ``aging`` (priority queues; not in RabbitMQ): priority levels a
        waiting message gains per simulated second, capped at ``max_priority``.
        ``message_ttl``: seconds a message may wait before it expires.
        ``dead_letter``: a queue or exchange of the same broker that receives expired,
        rejected and overflowed messages; a name no node has yet becomes a plain FIFO queue
        of this broker when the system runs.
        ``temporary=True``: the queue lives only while one of its consumers is up, as a
        subscriber's exclusive queue in RabbitMQ lives only while its connection is open:
        when the last of them crashes the queue is deleted with what it holds (dropped,
        reason "queue deleted"), messages routed to it meanwhile go nowhere, and it is
        declared again, empty, when a consumer comes back. The default is a durable queue,
        which keeps its messages for a consumer that is down.
        ``durable=False``: a broker restart loses the queue's messages (a durable queue keeps
        the persistent ones).
        """
        self._need("broker", broker, "broker")
        for param, flag in (("temporary", temporary), ("durable", durable)):
            if not isinstance(flag, bool):
                raise TypeError(f"{param} must be True or False, got {flag!r}")
        if kind not in QUEUE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, QUEUE_KINDS))}, "
                             f"got {kind!r}")
        check_capacity(capacity)
        check_overflow(overflow)
        if max_priority is not None:
            if kind != "priority":
                raise ValueError("max_priority only applies to kind='priority'")
            check_max_priority(max_priority)
        if aging is not None:
            if kind != "priority":
                raise ValueError(f"aging only applies to kind='priority', got kind={kind!r}")
            aging = check_aging(aging)
        if message_ttl is not None:
            message_ttl = dist.positive("message_ttl", message_ttl)
        if dead_letter is not None and not isinstance(dead_letter, str):
            raise TypeError(f"dead_letter must be None or a queue or exchange name, "
                            f"got {dead_letter!r}")
        if dead_letter == "":
            raise ValueError("dead_letter must be None or a queue or exchange name, got '' "
                             "(an empty name)")
        if sort_key is not None and not callable(sort_key):
            raise TypeError(f"sort_key must be a function of a Message, got {sort_key!r}")
        if sort_key is not None and kind != "sorted":
            raise ValueError("sort_key only applies to kind='sorted'")
        # max_priority and aging on the node too: how a drawing can put a tray in real order
        self._new_node(name, "queue", broker=broker, kind=kind, capacity=capacity,
                       max_priority=max_priority, aging=aging)
        self.graph.add_edge(broker, name, kind="internal")
        if temporary:
            self.graph.nodes[name]["temporary"] = True
        if not durable:
            self.graph.nodes[name]["durable"] = False
        self.queues[name] = QueueSpec(name, broker, kind, capacity, overflow, max_priority,
                                      message_ttl, dead_letter, sort_key, aging, temporary,
                                      durable)

    def topic(self, broker: str, name: str, partitions: int = 1,
              retention: float | None = None) -> None:
        """Add a partitioned log to a broker (a Kafka topic): ``partitions`` append-only logs
        named ``NAME-0``, ``NAME-1``, ... A producer with ``topic=NAME`` appends each record to
        the partition its key chooses; consumers with ``topic=NAME`` read the partitions in
        consumer groups, each at its own offset. A record stays in its partition after it is
        read, until it is older than ``retention`` seconds (None: kept for ever).
        """
        self._need("broker", broker, "broker")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions must be an int >= 1, got {partitions!r}")
        if retention is not None:
            retention = dist.positive("retention", retention)
        spec = TopicSpec(name, broker, partitions, retention)
        taken = [spec.partition(i) for i in range(partitions) if spec.partition(i) in self.graph]
        if taken:
            raise ValueError(f"name {taken[0]!r} is already used by a {self.role(taken[0])}; "
                             f"topic {name!r} needs it for a partition")
        self._new_node(name, "exchange", broker=broker, type="log", log=True,
                       partitions=partitions, retention=retention)
        self.graph.add_edge(broker, name, kind="internal")
        for i in range(partitions):
            part = spec.partition(i)
            self._new_node(part, "queue", broker=broker, kind="log", topic=name, partition=i,
                           capacity=None, max_priority=None, aging=None)
            self.graph.add_edge(name, part, kind="binding", pattern=str(i))
        self.topics[name] = spec

    def user(self, name: str, password: str, configure: str = ".*", write: str = ".*",
             read: str = ".*", rate: float | None = None, burst: int | None = None) -> None:
        """Add a user of the brokers. Once a system has users, every producer and consumer
        must log in as one of them (``user=``, ``password=``), and the brokers enforce each
        user's permissions, RabbitMQ's three regular expressions over resource names
        (searched in the name, not matched whole; ``""`` permits nothing): ``write`` for
        publishing to an exchange (the default exchange is checked, as in RabbitMQ, under the
        name ``"amq.default"``; a topic counts as an exchange) and ``read`` for consuming
        from a queue (or a topic); ``configure`` for declaring, kept for exercises (the
        network here is declared by its builder).
        ``rate``: publishes per second the broker accepts from this user (a token bucket
        holding ``burst``, default one second's worth); the rest are refused.
        A refused login, publish or consume is a ``deny`` event with the reason; a refused
        message never reaches a queue. The password is kept only as a salted PBKDF2 hash.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if name in self.users:
            raise ValueError(f"name: user {name!r} exists already")
        if not isinstance(password, str) or not password:
            raise TypeError("password must be a non-empty str")
        for param, pattern in (("configure", configure), ("write", write), ("read", read)):
            security.check_pattern(param, pattern)
        if rate is not None:
            rate = dist.positive("rate", rate)
        if burst is None:
            burst = max(1, int(rate)) if rate is not None else 1
        elif isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        salt, digest = security.hash_password(password)
        self.users[name] = UserSpec(name, salt, digest, configure, write, read, rate, burst)

    def _credentials(self, client: str, user: Any, password: Any,
                     check_only: bool = False) -> None:
        if user is not None and not isinstance(user, str):
            raise TypeError(f"user must be None or a user name, got {user!r}")
        if password is not None and not isinstance(password, str):
            raise TypeError("password must be None or a str")
        if password is not None and user is None:
            raise ValueError("password needs user: who logs in with it")
        if not check_only:
            self.credentials[client] = (user, password)

    def tap(self, source: str, target: str, observe: Callable | None = None,
            tamper: Callable | None = None, replay: list | None = None) -> None:
        """An attacker on the link ``source -> target`` (a producer to its broker).
        ``observe(message)`` sees every message that crosses (an eavesdropper);
        ``tamper(message)`` may return a new payload for it (None leaves it as it is), which
        arrives instead (a ``tamper`` event); ``replay=[(time, message id), ...]`` sends a copy
        of a message that crossed earlier again at that time, as if from the producer (a
        ``duplicate`` event, info "replay")."""
        if (source, target) not in self.links and not (
                source in self.producers and target in self.brokers):
            raise ValueError(f"source and target must be a producer and its broker, got "
                             f"{source!r} -> {target!r}")
        for param, fn in (("observe", observe), ("tamper", tamper)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{param} must be None or a function of a Message, got {fn!r}")
        times = []
        for item in replay or []:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(f"replay must be a list of (time, message id) pairs, "
                                 f"got {item!r}")
            at = dist.non_negative("replay time", item[0])
            if isinstance(item[1], bool) or not isinstance(item[1], int) or item[1] < 1:
                raise ValueError(f"replay: the message id must be an int >= 1, got {item[1]!r}")
            times.append((at, item[1]))
        self.taps.append(TapSpec(source, target, observe, tamper, sorted(times)))

    def shovel(self, name: str, queue: str, to: str, latency: float | Callable = 0.0,
               loss: float = 0.0, duplicate: float = 0.0, prefetch: int | None = 10,
               publish_key: str | Callable | None = None) -> None:
        """Move every message of ``queue`` on to ``to`` (a queue, exchange or topic, usually on
        another broker), as RabbitMQ's shovel does between two sites: a consumer named
        ``name`` that takes no time to process and publishes what it takes over a link of
        ``latency`` seconds (with ``loss`` and ``duplicate`` if the line between the sites is
        poor). It acks each message once it has published it."""
        self.consumer(name, queue=queue, service=0.0, prefetch=prefetch, publish_to=to,
                      publish_key=publish_key)
        self.link(name, self._broker_of(to), latency=latency, loss=loss, duplicate=duplicate)

    def autoscale(self, queue: str, workers: int = 4, least: int = 1, every: float = 1.0,
                  up_at: int = 5, down_after: float = 3.0, prefix: str | None = None,
                  **consumer: Any) -> list[str]:
        """An elastic pool of consumers on ``queue``: ``workers`` consumers named
        ``PREFIX1 .. PREFIXn`` (``prefix`` defaults to the queue's name + "-worker"), of which
        ``least`` run from the start and the others stand by. Every ``every`` seconds the pool
        looks at the queue: more than ``up_at`` ready messages per running worker starts one
        more; a worker that has held nothing for ``down_after`` seconds is stopped (never
        below ``least``). One change per look, so the pool does not swing. Stopping only idle
        workers loses nothing. In the trace a start is ``recover`` and a stop ``crash``, with
        info "scaled up" / "scaled down" (the Player greys a stopped worker). The other
        keyword arguments go to :meth:`consumer`. Returns the workers' names.
        """
        self._need("queue", queue, "queue")
        for param, value, low in (("workers", workers, 1), ("least", least, 0),
                                  ("up_at", up_at, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{param} must be an int >= {low}, got {value!r}")
        if least > workers:
            raise ValueError(f"least must be at most workers ({workers}), got {least}")
        every = dist.positive("every", every)
        down_after = dist.positive("down_after", down_after)
        if prefix is None:
            prefix = f"{queue}-worker"
        if "crash" in consumer or "queue" in consumer or "topic" in consumer:
            raise ValueError("autoscale starts and stops its workers itself: give no crash, "
                             "queue or topic")
        names = [f"{prefix}{i}" for i in range(1, workers + 1)]
        for name in names:
            self.consumer(name, queue=queue, **consumer)
        self.autoscalers.append(AutoscaleSpec(queue, names, least, every, up_at, down_after))
        return names

    def seek(self, group: str, at: float, offset: int = 0) -> None:
        """At time ``at`` seconds, move consumer group ``group`` to ``offset`` in every partition
        of its topic (its committed offset too): the group reads the log again from there.
        An offset older than what retention kept starts at the oldest record kept."""
        groups = sorted({c.group for c in self.consumers.values() if c.group is not None})
        if group not in groups:
            raise ValueError(f"group must name a consumer group (known: {groups}), "
                             f"got {group!r}")
        at = dist.non_negative("at", at)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be an int >= 0, got {offset!r}")
        self.seeks.append((at, group, offset))

    def bind(self, exchange: str, queue: str, pattern: str | None = None,
             arguments: dict | None = None) -> None:
        """Bind a queue to an exchange. ``pattern`` is the binding key: the exact routing key
        for a direct exchange (default: the queue's name), a topic pattern such as
        ``"temp.#"`` for a topic exchange (default ``"#"``); a fanout exchange ignores it.

        A headers exchange takes ``arguments`` instead (as pika's ``queue_bind``): header
        values to match, plus ``"x-match"``: ``"all"`` (default, every one must match) or
        ``"any"``, e.g. ``arguments={"format": "pdf", "x-match": "any"}``. Keys starting
        with ``x-`` are not matched; values must be equal and of the same type (1 is not
        "1"); None matches any value. No arguments (or no keys) with "all" takes everything.
        """
        if exchange not in self.exchanges:
            raise ValueError(f"exchange must name an existing exchange "
                             f"(known: {sorted(self.exchanges)}), got {exchange!r}")
        self._need("queue", queue, "queue")
        ex = self.exchanges[exchange]
        if self.queues[queue].broker != ex.broker:
            raise ValueError(f"queue {queue!r} lives on broker {self.queues[queue].broker!r} but "
                             f"exchange {exchange!r} on {ex.broker!r}: bind within one broker")
        rules = EXCHANGES[ex.type]
        if rules.check_arguments is not None:  # it matches on arguments, not on a pattern
            if pattern is not None:
                raise ValueError(f"pattern does not apply to a {ex.type} exchange "
                                 f"({exchange!r}), which ignores routing keys: give arguments="
                                 "{header: value, ..., 'x-match': 'all' or 'any'} instead")
            arguments = dict(arguments) if isinstance(arguments, dict) else (
                {} if arguments is None else arguments)
            pattern = rules.check_arguments(arguments)  # checks; a short text for pictures
        else:
            if arguments is not None:
                takes = [t for t, r in EXCHANGES.items() if r.check_arguments is not None]
                raise ValueError(f"arguments only apply to {' or '.join(takes)} exchanges; "
                                 f"{exchange!r} is a {ex.type} exchange: give a pattern")
            if pattern is None:
                pattern = queue if rules.default_pattern is None else rules.default_pattern
            if not isinstance(pattern, str):
                raise TypeError(f"pattern must be a string, got {pattern!r}")
        ex.bindings.append(Binding(pattern, queue, arguments))
        if self.graph.has_edge(exchange, queue):  # bound again with another key: draw both
            pattern = f"{self.graph.edges[exchange, queue]['pattern']}, {pattern}"
        self.graph.add_edge(exchange, queue, kind="binding", pattern=pattern)

    def consumer(
        self,
        name: str,
        queue: str | None = None,
        service: float | Callable = 0.1,
        prefetch: int | None = 1,
        ack: str = "manual",
        nack: float = 0.0,
        requeue: bool = True,
        crash: list[tuple[float, float]] | None = None,
        handler: Callable | None = None,
        topic: str | None = None,
        group: str | None = None,
        offset: str | int = "earliest",
        commit: str | float = "after",
        publish_to: str | None = None,
        publish_key: str | Callable | None = None,
        ack_timeout: float | None = None,
        crash_before_ack: float = 0.0,
        restart: float = 1.0,
        dedup: bool = False,
        verify: Callable | None = None,
        user: str | None = None,
        password: str | None = None,
        handler_factory: Callable[[], Callable] | None = None,
    ) -> None:
        """Add a consumer that takes messages from ``queue`` (or reads ``topic``), one at a
        time.

        ``service``: seconds to process one message (a number or a distribution).
        ``prefetch``: how many unacknowledged messages it may hold (RabbitMQ's basic.qos);
        ``None`` sets no limit (RabbitMQ's prefetch 0): the broker pushes every ready message
        to the consumers in turn, however busy they are.
        ``ack="manual"`` acknowledges after processing (a crash sends unacked messages back to
        the queue); ``ack="auto"`` lets the broker forget a message once delivered (a crash
        loses it). ``nack``: probability that processing fails; the message is then requeued
        (``requeue=True``) or dead-lettered/dropped. ``crash``: ``[(down, up), ...]`` times.
        ``handler(message)`` is called when a message is processed; returning False nacks it.
        If it raises, the run stops with a ``SimulationError`` naming the consumer, the message
        and the time (the handler's exception is its ``__cause__``).
        ``queue`` may be a dead-letter queue that is only named so far (``dead_letter="dlq"``):
        it is declared then, as running the system would.

        Reading a partitioned log instead (``topic=NAME``): the consumer belongs to consumer
        group ``group`` (default: its own name). Each partition is read by one live member of
        a group; the group rebalances when a member crashes or comes back. ``offset``: where
        the group starts when it has committed nothing: ``"earliest"``, ``"latest"`` (the end
        of the log when it first reads the partition) or an offset (int). ``commit``: when
        the group commits how far it got: ``"after"`` processing each record
        (at-least-once), ``"before"`` processing, when the record is fetched (at-most-once),
        or every so many seconds (a number: records processed since the last commit are read
        again after a crash). A log is read, not consumed: ``prefetch``, ``ack``, ``nack``
        and ``requeue`` apply to queues only.

        A stage of a pipeline: ``publish_to`` (an exchange, a queue, a topic or a broker's
        default exchange, on any broker) makes the consumer publish each message it
        processed successfully onward, as the same message (same id, so it can be followed
        from stage to stage), after it acks it. Its routing key is ``publish_key`` (a str, or
        a function of the payload), or else the queue's name when ``publish_to`` is a queue,
        or the message's own key. A handler that returns something other than True, False or
        None replaces the payload for the next stage. ``net.link(consumer, broker, latency)``
        sets the latency of the hop.

        Faults: ``ack_timeout`` (seconds, manual ack): the broker takes back a message not
        acked in time (RabbitMQ's consumer timeout) and delivers it again; an ack that comes
        later is refused. ``crash_before_ack``: the probability that the consumer crashes
        after processing a message (its effects done) and before its ack leaves, the classic
        source of duplicates; it is back ``restart`` seconds later. ``dedup=True`` makes it
        idempotent: it keeps the ids of the messages it processed in a store that outlives its
        crashes and acks a message it has already processed without processing it again.

        Security: ``verify(message)`` is called before the handler; it returns None (or True)
        to accept the message, or the reason it is refused (a str, or False): the refusal is a
        ``deny`` event and the message is rejected without requeue (dead-lettered, if its queue
        has a dead-letter target), never processed. ``user`` and ``password``: who it logs in
        as, when the system has users (see :meth:`user`).

        ``handler_factory()`` (instead of ``handler``) is called each time the consumer
        starts, at the beginning and after every crash, and returns its handler: what that
        handler keeps in memory is lost with a crash, as it is in a real process.
        """
        if verify is not None and not callable(verify):
            raise TypeError(f"verify must be a function of a Message, got {verify!r}")
        if handler_factory is not None:
            if not callable(handler_factory):
                raise TypeError(f"handler_factory must be a function with no arguments that "
                                f"returns a handler, got {handler_factory!r}")
            if handler is not None:
                raise ValueError("give handler or handler_factory, not both")
        if ack_timeout is not None:
            ack_timeout = dist.positive("ack_timeout", ack_timeout)
            if ack != "manual":
                raise ValueError("ack_timeout needs ack='manual': with ack='auto' nothing "
                                 "waits for an ack")
        crash_before_ack = dist.probability("crash_before_ack", crash_before_ack)
        restart = dist.positive("restart", restart)
        if not isinstance(dedup, bool):
            raise TypeError(f"dedup must be True or False, got {dedup!r}")
        if publish_to is not None and not isinstance(publish_to, str):
            raise TypeError(f"publish_to must be None or the name of an exchange, queue, topic "
                            f"or broker, got {publish_to!r}")
        if publish_key is not None and not (isinstance(publish_key, str)
                                            or callable(publish_key)):
            raise TypeError(f"publish_key must be None, a str or a function of the payload, "
                            f"got {publish_key!r}")
        if publish_key is not None and publish_to is None:
            raise ValueError("publish_key needs publish_to: where the consumer publishes")
        if topic is not None and (ack_timeout is not None or crash_before_ack or dedup):
            raise ValueError("ack_timeout, crash_before_ack and dedup apply to queue consumers; "
                             "a log consumer commits offsets (see commit)")
        if topic is not None:
            if verify is not None:
                raise ValueError("verify applies to queue consumers")
            self._credentials(name, user, password, check_only=True)
            self._log_consumer(name, topic, group, offset, commit, service, prefetch, ack,
                               nack, requeue, crash, handler, queue)
            self.consumers[name].publish_to = publish_to
            self.consumers[name].publish_key = publish_key
            self.consumers[name].handler_factory = handler_factory
            self._credentials(name, user, password)
            return
        if queue is None:
            raise ValueError("give queue (a queue name) or topic (a partitioned log)")
        named_dead_letter = [q for q in self.queues.values()
                             if isinstance(queue, str) and queue not in self.graph
                             and q.dead_letter == queue]
        if not named_dead_letter:
            self._need("queue", queue, "queue")
        service_fn = dist.time_sampler("service", service)
        if prefetch is not None and (isinstance(prefetch, bool) or not isinstance(prefetch, int)
                                     or prefetch < 1):
            raise ValueError(f"prefetch must be an int >= 1, or None for no limit, "
                             f"got {prefetch!r}")
        if ack not in ("auto", "manual"):
            raise ValueError(f"ack must be 'auto' or 'manual', got {ack!r}")
        nack = dist.probability("nack", nack)
        if nack > 0 and ack == "auto":
            raise ValueError("nack needs ack='manual': with ack='auto' the broker has already "
                             "forgotten the message")
        if handler is not None and not callable(handler):
            raise TypeError(f"handler must be a function of a Message, got {handler!r}")
        if not isinstance(requeue, bool):
            raise TypeError(f"requeue must be True or False, got {requeue!r}")
        windows = _crash_windows(crash)
        self._credentials(name, user, password, check_only=True)
        if named_dead_letter:  # every argument is good: declare it, then consume from it
            self.queue(named_dead_letter[0].broker, queue)
        self._new_node(name, "consumer", queue=queue)
        self.graph.add_edge(queue, name, kind="deliver")
        self.consumers[name] = ConsumerSpec(name, queue, service_fn, prefetch, ack, nack,
                                            requeue, windows, handler, publish_to=publish_to,
                                            publish_key=publish_key, ack_timeout=ack_timeout,
                                            crash_before_ack=crash_before_ack, restart=restart,
                                            dedup=dedup, verify=verify,
                                            handler_factory=handler_factory)
        self._credentials(name, user, password)

    def _log_consumer(self, name, topic, group, offset, commit, service, prefetch, ack, nack,
                      requeue, crash, handler, queue) -> None:
        """A member of a consumer group reading partitioned log ``topic`` (see consumer)."""
        if queue is not None:
            raise ValueError(f"give queue or topic, not both (got queue={queue!r}, "
                             f"topic={topic!r})")
        if topic not in self.topics:
            raise ValueError(f"topic must name an existing topic (known: "
                             f"{sorted(self.topics)}), got {topic!r}")
        group = name if group is None else group
        if not isinstance(group, str) or not group:
            raise TypeError(f"group must be a non-empty str, got {group!r}")
        others = [c for c in self.consumers.values() if c.group == group]
        if others and others[0].topic != topic:
            raise ValueError(f"group {group!r} reads topic {others[0].topic!r}; a group reads "
                             f"one topic (got topic={topic!r})")
        if not (offset in ("earliest", "latest") or (
                isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0)):
            raise ValueError(f"offset must be 'earliest', 'latest' or an int >= 0, "
                             f"got {offset!r}")
        if not (commit in COMMIT_POLICIES or (
                isinstance(commit, (int, float)) and not isinstance(commit, bool))):
            raise ValueError(f"commit must be 'after', 'before' or a number of seconds "
                             f"(commit every so often), got {commit!r}")
        if not isinstance(commit, str):
            commit = dist.positive("commit", commit)
        for param, value, default in (("prefetch", prefetch, 1), ("ack", ack, "manual"),
                                      ("nack", nack, 0.0), ("requeue", requeue, True)):
            if value != default or type(value) is not type(default):
                raise ValueError(f"{param} applies to queue consumers; a log consumer reads "
                                 f"one record at a time and commits offsets (see commit)")
        if others:  # one group, one way of starting and committing: set by its first member
            first = others[0]
            offset = first.offset if offset == "earliest" else offset
            commit = first.commit if commit == "after" else commit
            if (first.offset, first.commit) != (offset, commit):
                raise ValueError(f"group {group!r}: its members share offset and commit, set "
                                 f"by its first member {first.name!r} (offset="
                                 f"{first.offset!r}, commit={first.commit!r}); give the same "
                                 f"or leave them out")
        service_fn = dist.time_sampler("service", service)
        if handler is not None and not callable(handler):
            raise TypeError(f"handler must be a function of a Message, got {handler!r}")
        windows = _crash_windows(crash)
        self._new_node(name, "consumer", topic=topic, group=group)
        for i in range(self.topics[topic].partitions):
            self.graph.add_edge(self.topics[topic].partition(i), name, kind="deliver")
        self.consumers[name] = ConsumerSpec(name, None, service_fn, 1, "manual", 0.0, True,
                                            windows, handler, topic, group, offset, commit)

    def link(self, source: str, target: str, latency: float | Callable = 0.0,
             loss: float = 0.0, duplicate: float = 0.0,
             outages: list[tuple[float, float]] | None = None,
             bandwidth: float | None = None) -> None:
        """Connect two nodes over a network link with a ``latency`` (seconds, a number or a
        distribution). A producer links to a broker; a broker or queue links to a consumer.
        ``loss`` and ``duplicate`` (probabilities) apply on every hop: a message lost on its
        way to a consumer is still held unacked by the broker (with manual ack: an
        ``ack_timeout`` or a crash of the consumer gets it back; with auto ack it is gone); a
        duplicated delivery is processed twice.

        An edge device's link to its broker (producer -> broker) may also have ``outages``,
        ``[(down, up), ...]`` times it carries nothing, and a ``bandwidth``, the messages per
        second it can carry (each takes ``1 / bandwidth`` s to send). Messages wait at the
        producer until the link can carry them whole (store and forward): a message leaves
        only if it arrives before the next outage begins, so none is on the link during an
        outage. Outages need a fixed ``latency``."""
        for param, name in (("source", source), ("target", target)):
            if not isinstance(name, str) or name not in self.graph:
                raise ValueError(f"{param} must name an existing node "
                                 f"(known: {sorted(self.graph)}), got {name!r}")
        pair = (self.role(source), self.role(target))
        allowed = {("producer", "broker"), ("broker", "consumer"), ("queue", "consumer"),
                   ("consumer", "broker")}
        if pair not in allowed:
            raise ValueError(f"a link goes producer -> broker, broker/queue -> consumer, or "
                             f"consumer -> broker (a pipeline's next stage); "
                             f"got {pair[0]} {source!r} -> {pair[1]} {target!r}")
        sampler = dist.time_sampler("latency", latency)
        windows = _crash_windows(outages, "outages")
        if bandwidth is not None:
            bandwidth = dist.positive("bandwidth", bandwidth)
        if (windows or bandwidth is not None) and pair != ("producer", "broker"):
            raise ValueError("outages and bandwidth are modelled on producer -> broker links "
                             f"only (an edge device's uplink); got {pair[0]} -> {pair[1]}")
        if windows and callable(latency):
            raise ValueError("outages need a fixed latency (a number of seconds), so that a "
                             "message leaves only when it can arrive before the next outage")
        loss = dist.probability("loss", loss)
        duplicate = dist.probability("duplicate", duplicate)
        if pair[1] == "consumer" and (loss or duplicate) and self.consumers[target].topic:
            raise ValueError("loss and duplicate are not modelled on a log consumer's link")
        if pair == ("consumer", "broker"):
            spec = self.consumers[source]
            if spec.publish_to is None:
                raise ValueError(f"source: consumer {source!r} publishes nothing (give it "
                                 f"publish_to=...) so it has no link to a broker")
            where = self._broker_of(spec.publish_to)
            if where is not None and where != target:
                raise ValueError(f"target must be the broker consumer {source!r} publishes to "
                                 f"({where!r}), got {target!r}")
        elif pair == ("producer", "broker"):
            other = [t for (s, t) in self.links if s == source and t != target]
            if other:
                raise ValueError(f"target: producer {source!r} already links to broker "
                                 f"{other[0]!r}; a producer publishes to one broker")
        elif self.consumers[target].topic is not None:  # a log consumer: from its broker
            broker = self.topics[self.consumers[target].topic].broker
            if source != broker:
                raise ValueError(f"source must be the broker of the topic consumer {target!r} "
                                 f"reads ({broker!r}), got {source!r}")
        else:  # the link a consumer's messages travel on: from its queue or that queue's broker
            home = self.consumers[target].queue
            if source not in (home, self.queues[home].broker):
                raise ValueError(f"source must be the queue consumer {target!r} reads from "
                                 f"({home!r}) or its broker ({self.queues[home].broker!r}), "
                                 f"got {source!r}")
        fixed = float(latency) if not callable(latency) else None
        self.links[(source, target)] = LinkSpec(sampler, loss, duplicate, fixed, windows,
                                                bandwidth)
        if pair in (("producer", "broker"), ("consumer", "broker")):
            self.graph.add_edge(source, target, kind="link", latency=fixed)
            if windows or bandwidth is not None:
                self.graph.edges[source, target].update(outages=windows, bandwidth=bandwidth)
        elif self.consumers[target].topic is not None:
            for part, _ in self.graph.in_edges(target):
                self.graph.edges[part, target]["latency"] = fixed
        else:
            self.graph.edges[self.consumers[target].queue, target]["latency"] = fixed

    # -- running -------------------------------------------------------------------------------
    def resolve(self) -> None:
        """Check the whole system is wired up; fill in implicit producer -> broker links."""
        for spec in self.producers.values():
            linked = [t for (s, t) in self.links if s == spec.name]
            if spec.topic is not None:
                if spec.topic not in self.topics:
                    raise ValueError(f"producer {spec.name!r}: topic must name an existing "
                                     f"topic (known: {sorted(self.topics)}), got {spec.topic!r}")
                spec.to = self.topics[spec.topic].broker
            elif spec.exchange:
                if spec.exchange not in self.exchanges:
                    raise ValueError(f"producer {spec.name!r}: exchange must name an existing "
                                     f"exchange (known: {sorted(self.exchanges)}), "
                                     f"got {spec.exchange!r}")
                spec.to = self.exchanges[spec.exchange].broker
            elif linked:
                spec.to = linked[0]
            elif len(self.brokers) == 1:
                spec.to = self.brokers[0]
            else:
                raise ValueError(f"producer {spec.name!r} does not know its broker: "
                                 f"call net.link({spec.name!r}, BROKER) with one of "
                                 f"{self.brokers}, or give it an exchange")
            if linked and linked[0] != spec.to:
                where = (f"topic {spec.topic!r}" if spec.topic is not None
                         else f"exchange {spec.exchange!r}")
                raise ValueError(f"producer {spec.name!r} links to {linked[0]!r} but its "
                                 f"{where} lives on {spec.to!r}")
            if not self.graph.has_edge(spec.name, spec.to):
                self.graph.add_edge(spec.name, spec.to, kind="link", latency=0.0)
        for c in self.consumers.values():
            if c.publish_to is not None:
                c.onward = self._onward(c)
        for q in list(self.queues.values()):
            if q.dead_letter is None:
                continue
            target = q.dead_letter
            if target not in self.graph:  # declare the dead-letter queue, as the sketch expects
                self.queue(q.broker, target)
            where = (self.queues[target].broker if target in self.queues else
                     self.exchanges[target].broker if target in self.exchanges else None)
            if where != q.broker:
                known = sorted(n for n, r in self.graph.nodes(data="role") if r in (
                    "queue", "exchange") and self.graph.nodes[n]["broker"] == q.broker)
                raise ValueError(f"queue {q.name!r}: dead_letter must name a queue or exchange "
                                 f"on broker {q.broker!r} (known: {known}), got {target!r}")
            self.graph.add_edge(q.name, target, kind="dead-letter")

    def _broker_of(self, name: str) -> str | None:
        """The broker an exchange, queue or topic lives on (a broker: itself), or None."""
        if name in self.brokers:
            return name
        for table in (self.exchanges, self.queues, self.topics):
            if name in table:
                return table[name].broker
        return None

    def _onward(self, c: ConsumerSpec) -> ProducerSpec:
        """The publishing side of a pipeline stage: a producer that sends what ``c`` finished."""
        target = c.publish_to
        broker = self._broker_of(target)
        if broker is None:
            known = sorted([*self.exchanges, *self.queues, *self.topics, *self.brokers])
            raise ValueError(f"consumer {c.name!r}: publish_to must name an exchange, queue, "
                             f"topic or broker (known: {known}), got {target!r}")
        key, key_of = c.publish_key, None
        if callable(key):
            key, key_of = "", key
        elif key is None:
            key = target if target in self.queues else None  # None: the message's own key
        spec = ProducerSpec(
            c.name, None, [], 0,
            dist.value_sampler("publish_key", key if key is not None else "", check_routing_key),
            dist.value_sampler("priority", None, check_priority), None, {},
            target if target in self.exchanges else "", "async", None, to=broker, key=key_of,
            topic=target if target in self.topics else None)
        spec.keep_key = key is None and key_of is None  # publish with the message's own key
        if not self.graph.has_edge(c.name, broker):
            self.graph.add_edge(c.name, broker, kind="link", latency=0.0)
        return spec

    def run(self, until: float | None = None, trace: bool = True, progress: bool = True):
        """Simulate the system from time 0 to ``until`` seconds and return a :class:`Run`.

        ``until=None`` runs until nothing is left to happen (every producer needs a ``count``
        or a ``schedule`` then).
        """
        from mqlab.run import Run
        from mqlab.simulation import simulate

        if until is not None:
            until = dist.positive("until", until)
        elif self.autoscalers:
            raise ValueError("until must be a time in seconds when a queue is autoscaled (its "
                             "pool keeps looking at the queue for ever)")
        elif any(p.count is None and p.schedule is None for p in self.producers.values()):
            raise ValueError("until must be a time in seconds when a producer has no count "
                             "(it would publish forever)")
        for name, flag in (("trace", trace), ("progress", progress)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.resolve()
        record, still = simulate(self, until, record=trace, progress=progress)
        return Run(record, still, recorded=trace)


def _crash_windows(crash: Any, name: str = "crash") -> list[tuple[float, float]]:
    """Check a ``crash`` (or ``outages``) argument: a list of (down, up) times, sorted."""
    if crash is not None and not isinstance(crash, (list, tuple)):
        raise TypeError(f"{name} must be a list of (down, up) time pairs, got {crash!r}")
    windows = []
    for w in crash or []:
        if not (isinstance(w, (tuple, list)) and len(w) == 2):
            raise ValueError(f"{name} must be a list of (down, up) time pairs, got {w!r}")
        down = dist.non_negative(f"{name} down time", w[0])
        up = dist.non_negative(f"{name} up time", w[1])
        if up <= down:
            raise ValueError(f"{name}: each (down, up) needs up > down, got {w!r}")
        windows.append((down, up))
    return sorted(windows)
