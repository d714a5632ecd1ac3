"""A finished run: its trace, a summary of what happened, and ways to look at it."""

from __future__ import annotations

from dataclasses import dataclass, field

from mqlab import metrics
from mqlab.trace import PRIMITIVE_KINDS, Trace, roles

__all__ = ["Run", "Summary"]


@dataclass(frozen=True)
class Summary:
    """Figures of a run: per consumer, per queue, and the account of every message."""

    duration: float
    account: metrics.Account
    still: dict  # where the messages still in the system are, from the simulator itself
    consumers: dict  # name -> {"processed", "throughput", "latency_p50", "latency_p99"}
    queues: dict  # name -> {"enqueued", "delivered", "max_length", "mean_length", "final"}
    unroutable: dict = field(default_factory=dict)  # routing key -> messages that went nowhere
    dead_letter_acks: int = 0  # of the acks, those of messages taken from dead-letter queues
    # dead-letter queue -> {"entered": messages dead-lettered into it, "acked", "final"}
    dead_letters: dict = field(default_factory=dict)
    # partition -> {"appended", "deleted" (by retention), "kept"}
    partitions: dict = field(default_factory=dict)
    # consumer group -> {"topic", "members", "processed", "processed_again", "redelivered",
    # "lag"}: records processed (again: a second time or more), delivered again (a record in
    # hand at a crash is delivered again even if it was never processed), and the lag: records
    # appended but not yet committed by the group, over all partitions, at the end
    groups: dict = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """True when published + copies == ended + what the simulator still holds."""
        held = (sum(self.still["queued"].values()) + sum(self.still["blocked"].values())
                + sum(self.still["at_consumers"].values()) + self.still["on_links"])
        return self.account.in_system == held

    def text(self) -> str:
        a = self.account
        dead = (f" ({self.dead_letter_acks} of them from dead-letter queues)"
                if self.dead_letter_acks else "")
        drops = ", ".join(f"{k} {v}" for k, v in a.dropped.items()) or "none"
        s = self.still
        logged = f" + logged {a.logged}" if a.logged else ""
        lines = [
            f"run of {self.duration:g} s",
            f"messages: published {a.published} + copies {a.copies}"
            + (f" ({a.forwarded} passed on by pipeline stages)" if a.forwarded else "") + " = "
            f"acked {a.acked}{dead}{logged} + dropped {sum(a.dropped.values())} ({drops}) "
            f"+ still in the system {a.in_system}",
            f"  still in the system: queued {sum(s['queued'].values())}, "
            f"blocked {sum(s['blocked'].values())}, at consumers "
            f"{sum(s['at_consumers'].values())}, on links {s['on_links']}"
            + ("" if self.balanced else "   <-- DOES NOT ADD UP"),
        ]
        if self.unroutable:
            keys = ", ".join(f"{k!r} {n}" for k, n in self.unroutable.items())
            lines.append(f"  unroutable (no queue matched the routing key): {keys}")
        if a.dead_lettered:
            lines.append(f"  dead-lettered on the way: {a.dead_lettered}")
        for name, d in self.dead_letters.items():
            lines.append(f"  dead-letter queue {name}: {d['entered']} dead-lettered into it, "
                         f"{d['acked']} acked from it, {d['final']} still in it")
        waiting = sum(s["waiting_at_producers"].values())
        if waiting:
            lines.append(f"  not yet sent, waiting at producers: {waiting}")
        lines.append(f"{'consumer':<12}{'processed':>10}{'msg/s':>9}{'p50 s':>9}{'p99 s':>9}")
        for name, c in self.consumers.items():
            lines.append(f"{name:<12}{c['processed']:>10}{c['throughput']:>9.3g}"
                         f"{c['latency_p50']:>9.3g}{c['latency_p99']:>9.3g}")
        if self.queues:
            lines.append(f"{'queue':<12}{'enqueued':>10}{'max len':>9}{'mean len':>9}"
                         f"{'now':>9}")
        for name, q in self.queues.items():
            lines.append(f"{name:<12}{q['enqueued']:>10}{q['max_length']:>9}"
                         f"{q['mean_length']:>9.3g}{q['final']:>9}")
        if self.partitions:
            lines.append(f"{'partition':<12}{'appended':>10}{'deleted':>9}{'kept':>9}")
            for name, p in self.partitions.items():
                lines.append(f"{name:<12}{p['appended']:>10}{p['deleted']:>9}{p['kept']:>9}")
        if self.groups:
            lines.append(f"{'group':<12}{'processed':>10}{'again':>7}{'resent':>8}{'lag':>6}"
                         "  members")
            for name, g in self.groups.items():
                lines.append(f"{name:<12}{g['processed']:>10}{g['processed_again']:>7}"
                             f"{g['redelivered']:>8}{g['lag']:>6}  {', '.join(g['members'])}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text())


class Run:
    """The record of one finished run: ``run.trace``, ``run.summary()``, ``run.play()``.

    A Run is made by ``Network.run`` and never changes afterwards: its trace holds its own copy
    of the network's graph, so building more of the network, or running it again, leaves this
    record as it was.
    """

    def __init__(self, trace: Trace, still: dict, recorded: bool = True) -> None:
        self.trace = trace
        self.still = still  # where the unfinished messages were at the end, from the simulator
        self.recorded = recorded  # False: the run kept no trace (Network.run(trace=False))

    @classmethod
    def from_trace(cls, trace: Trace) -> Run:
        """A Run of a trace recorded elsewhere (traced threads, tasks, a real broker), so that
        ``summary()`` and ``play()`` work on it as on a simulated run.

        What is still in the system at the end comes from the trace itself (where
        :class:`~mqlab.state.Timeline` puts each message at the end), so the summary's account
        always adds up. A trace without a graph gets one read from its events (a copy of the
        trace does; the trace given is left as it was).
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"trace must be an mqlab Trace, got {type(trace).__name__}")
        if trace.graph is None:
            from mqlab.realtime import recorded_graph

            copy = Trace(trace.rows, graph=recorded_graph(trace), messages=trace.messages)
            copy.end_time = trace.end_time
            trace = copy
        from mqlab.state import Timeline

        state = Timeline(trace).at(trace.duration)
        locks = {n for n, kind in trace.graph.nodes(data="kind") if kind in PRIMITIVE_KINDS}
        still = {
            "queued": {q: len(ids) for q, ids in state.queues.items() if q not in locks},
            "blocked": {q: n for q, n in state.blocked.items() if q not in locks},
            "at_consumers": {c: n for c, n in state.held.items()},
            "on_links": sum(1 for _, _, dst, _ in state.on_links if dst not in state.held),
            "waiting_at_producers": {},
        }
        return cls(trace, still)

    @property
    def graph(self):
        """The network this run was simulated on (a copy: it does not follow later changes)."""
        return self.trace.graph

    def _need_trace(self, what: str) -> None:
        if not self.recorded:
            raise ValueError(f"this run was made with trace=False: there is no trace to "
                             f"{what} (run again with trace=True)")

    def summary(self) -> Summary:
        """Per consumer and per queue figures and the account of every message."""
        self._need_trace("summarise")
        tr, stop = self.trace, self.trace.duration
        parts = roles(tr)
        per_consumer = {}
        for name in (n for n, r in parts.items() if r == "consumer"):
            lat = metrics.latencies(tr, node=name)
            per_consumer[name] = {
                "processed": metrics.count(tr, "ack", node=name),
                "throughput": metrics.throughput(tr, name) if stop > 0 else 0.0,
                "latency_p50": metrics.percentile(lat, 50),
                "latency_p99": metrics.percentile(lat, 99),
            }
        per_queue = {}
        # a traced lock is drawn as a queue, but it is not one

        kinds = dict(tr.graph.nodes(data="kind")) if tr.graph is not None else {}
        for name in (n for n, r in parts.items()
                     if r == "queue" and kinds.get(n) not in (*PRIMITIVE_KINDS, "log")):
            per_queue[name] = {
                "enqueued": metrics.count(tr, "enqueue", node=name),
                "delivered": metrics.count(tr, "deliver", node=name),
                **metrics.queue_summary(tr, name, stop),
            }
        dead = sorted(_dead_letter_queues(tr))
        dead_letters = {q: {"entered": _dead_lettered_into(tr, q),
                            "acked": metrics.count(tr, "ack", peer=q),
                            "final": per_queue[q]["final"] if q in per_queue else 0}
                        for q in dead}
        dead_letter_acks = sum(d["acked"] for d in dead_letters.values())
        partitions, groups = _logs(tr)
        return Summary(stop, metrics.account(tr), self.still, per_consumer, per_queue,
                       metrics.unroutable(tr), dead_letter_acks, dead_letters, partitions,
                       groups)

    def state(self, t: float):
        """Where every message is at time ``t`` seconds: a :class:`~mqlab.state.State`."""
        self._need_trace("look into")
        from numbers import Real

        from mqlab.state import Timeline

        # a long run is read only where moment t needs it (at() still checks t)
        times = [t] if isinstance(t, Real) and not isinstance(t, bool) and t == t else None
        window = max(self.trace.duration / 40, 1e-9)  # as at() looks back for marks
        return Timeline(self.trace, times=times, window=window).at(t, window)

    def play(self, **options):
        """Show the animated Player widget for this run."""
        self._need_trace("animate")
        from mqlab.player import Player

        return Player(self, **options)

    def save_gif(self, path, **options):
        """Write the animation to an animated GIF (for READMEs and kernel-free viewers)."""
        self._need_trace("animate")
        from mqlab.export import save_gif

        return save_gif(self, path, **options)

    def to_html(self, **options) -> str:
        """The animation as self-contained HTML (JavaScript player, no kernel needed)."""
        self._need_trace("animate")
        from mqlab.export import to_html

        return to_html(self, **options)

    def __repr__(self) -> str:
        return f"<Run {len(self.trace)} events over {self.trace.duration:g} s>"


def _dead_letter_queues(trace: Trace) -> set[str]:
    """The queues dead-lettered messages go to: a queue named as a dead-letter target, or one
    bound to an exchange that is."""
    graph, out = trace.graph, set()
    if graph is None:
        return out
    for _, target, kind in graph.edges(data="kind"):
        if kind != "dead-letter":
            continue
        if graph.nodes[target].get("role") == "queue":
            out.add(target)
        else:  # an exchange: the queues bound to it
            out |= {q for q in graph.successors(target) if graph.nodes[q].get("role") == "queue"}
    return out


def _dead_lettered_into(trace: Trace, queue: str) -> int:
    """How many messages entered ``queue`` by dead-lettering: routed into it from a queue
    (named directly as the dead-letter target) or from the dead-letter exchange."""
    graph = trace.graph
    sources = {u for u, _, kind in graph.in_edges(queue, data="kind") if kind == "dead-letter"}
    sources |= {x for x, _ in graph.in_edges(queue)
                if any(k == "dead-letter" for _, _, k in graph.in_edges(x, data="kind"))}
    return sum(1 for e in trace.filter(kind="route", peer=queue) if e.node in sources)


def _logs(trace: Trace) -> tuple[dict, dict]:
    """Per partition and per consumer group figures of the partitioned logs in a run."""
    graph = trace.graph
    if graph is None:
        return {}, {}
    parts = [n for n, k in graph.nodes(data="kind") if k == "log"]
    if not parts:
        return {}, {}
    partitions = {}
    for name in parts:
        appended = metrics.count(trace, "append", node=name)
        deleted = sum(1 for e in trace.filter(kind="expire", node=name) if e.info == "retention")
        partitions[name] = {"appended": appended, "deleted": deleted, "kept": appended - deleted}
    members: dict[str, list[str]] = {}
    topic_of: dict[str, str] = {}
    for n, data in graph.nodes(data=True):
        if data.get("role") == "consumer" and data.get("group") is not None:
            members.setdefault(data["group"], []).append(n)
            topic_of[data["group"]] = data["topic"]
    committed: dict[tuple[str, str], int] = {}
    for e in trace.filter(kind=["commit", "seek"]):
        committed[(e.node, e.peer)] = int(e.info)
    groups = {}
    for group, names in sorted(members.items()):
        acks = [e.msg for e in trace.filter(kind="ack") if e.info == "log" and e.node in names]
        sent = [e.msg for e in trace.filter(kind="deliver") if e.peer in names]
        mine = [p for p in parts if graph.nodes[p]["topic"] == topic_of[group]]
        groups[group] = {
            "topic": topic_of[group], "members": sorted(names), "processed": len(acks),
            "processed_again": len(acks) - len(set(acks)),
            "redelivered": len(sent) - len(set(sent)),
            "lag": sum(partitions[p]["appended"] - committed.get((p, group), 0) for p in mine),
        }
    return partitions, groups
