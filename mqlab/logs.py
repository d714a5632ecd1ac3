"""Partitioned logs in the simulator: Kafka's model of a topic, its partitions and consumer
groups.

A topic is a set of append-only logs (partitions). A producer appends each record to the
partition its key chooses (:func:`mqlab.routing.partition_for`), so records with the same key
stay in order in one partition. Reading does not remove a record: every consumer group keeps
its own place (offset) in each partition. Within a group each partition is read by one live
member, one record at a time, in offset order; the group *commits* how far it got, and when a
member crashes its partitions go to the others, who start again at the last committed offset
(what was processed but not committed is processed again: at-least-once). Records older than
the topic's retention are deleted from the head of each partition.

:class:`LogRules` holds the simulator's rules for all of this; ``Simulation`` inherits them, so
a queue-only run never touches this code.
"""

from __future__ import annotations

import copy
import math
from collections import deque

from mqlab.message import Message
from mqlab.routing import partition_for

__all__ = ["LogRules", "range_assignment"]


def range_assignment(members: list[str], partitions: int) -> dict[str, list[int]]:
    """Share partitions ``0 .. partitions-1`` among ``members`` as Kafka's range assignor
    does: members in name order, each a contiguous block, the first ones one more when it
    does not divide evenly; members beyond the number of partitions get none.

    >>> range_assignment(["b", "a"], 3)
    {'a': [0, 1], 'b': [2]}
    >>> range_assignment(["a", "b", "c", "d"], 2)
    {'a': [0], 'b': [1], 'c': [], 'd': []}
    """
    members = sorted(members)
    share: dict[str, list[int]] = {m: [] for m in members}
    if not members:
        return share
    each, extra = divmod(partitions, len(members))
    start = 0
    for i, m in enumerate(members):
        n = each + (1 if i < extra else 0)
        share[m] = list(range(start, start + n))
        start += n
    return share


class _Partition:
    def __init__(self, name: str, index: int) -> None:
        self.name, self.index = name, index
        self.records: deque[tuple[Message, float]] = deque()  # (record, time appended), kept
        self.start = 0  # offset of the oldest record kept
        self.end = 0  # the next offset to write

    def at(self, offset: int) -> Message:
        return self.records[offset - self.start][0]


class _Topic:
    def __init__(self, spec) -> None:
        self.spec, self.name, self.retention = spec, spec.name, spec.retention
        self.partitions = [_Partition(spec.partition(i), i) for i in range(spec.partitions)]
        self.groups: list[_Group] = []
        self.turn: dict[str, int] = {}  # producer -> next partition for a record without key


class _Place:
    """Where one group is in one partition."""

    def __init__(self) -> None:
        self.position: int | None = None  # the next offset to fetch (None: not started)
        self.done: int | None = None  # the offset after the last one processed
        self.committed: int | None = None  # the last committed offset
        self.owner: _Member | None = None
        self.in_hand = False  # a member holds one of its records (fetched, not finished)
        self.generation = 0  # bumped when the place is reset (crash, seek)


class _Group:
    def __init__(self, name: str, topic: _Topic, spec) -> None:
        self.name, self.topic = name, topic
        self.start, self.commit = spec.offset, spec.commit
        self.members: list[_Member] = []
        self.places = [_Place() for _ in topic.partitions]
        self.tick = False  # a periodic commit is scheduled


class _Member:
    def __init__(self, spec, link, group: _Group, zero) -> None:
        self.spec, self.name, self.group = spec, spec.name, group
        self.latency = link.latency if link else zero
        self.up = True
        self.epoch = 0
        self.holding: _Place | None = None  # the place of the record it has in hand
        self.assigned: list[int] = []
        self.turn = 0  # which of its partitions it reads next
        self.onward = None  # a pipeline stage: what publishes its output (set by the simulator)
        self.refused = False  # its broker refused its login or its reading
        self.handler = spec.handler  # (made by spec.handler_factory at each start, if given)


class LogRules:
    """The simulator's rules for topics, partitions and consumer groups (see the module)."""

    def setup_logs(self, net, zero) -> None:
        self.topics = {name: _Topic(spec) for name, spec in net.topics.items()}
        self.members: dict[str, _Member] = {}
        self.groups: dict[str, _Group] = {}
        self.log_on_links = 0  # records travelling to log consumers (not in the account)
        for name, spec in net.consumers.items():
            if spec.topic is None:
                continue
            topic = self.topics[spec.topic]
            group = self.groups.get(spec.group)
            if group is None:
                group = self.groups[spec.group] = _Group(spec.group, topic, spec)
                topic.groups.append(group)
            link = net.links.get((topic.spec.broker, name))
            m = self.members[name] = _Member(spec, link, group, zero)
            group.members.append(m)

    def start_logs(self, net) -> None:
        for group in self.groups.values():
            self.rebalance(group, min(group.members, key=lambda m: m.name))
        for m in self.members.values():
            for down, up in m.spec.crash:
                self.engine.at(down, self.member_crash, m)
                self.engine.at(up, self.member_recover, m)
        for at, group, offset in net.seeks:
            self.engine.at(at, self.seek, self.groups[group], offset)

    # -- writing -------------------------------------------------------------------------------
    def append(self, p, msg: Message) -> None:
        """A record reached its topic's broker: append it to the partition its key chooses."""
        topic = self.topics[p.topic]
        now, key = self.engine.now, msg.routing_key
        n = len(topic.partitions)
        if key:
            i = partition_for(key, n)
        else:  # no key: the producer takes the partitions in turn
            i = topic.turn.get(p.name, 0)
            topic.turn[p.name] = (i + 1) % n
        part = topic.partitions[i]
        offset = part.end
        part.records.append((msg, now))
        part.end += 1
        self.record(now, "route", msg.id, topic.name, part.name, key)
        self.record(now, "append", msg.id, part.name, "", str(offset))
        if topic.retention is not None:
            self.schedule(topic.retention, self.retain, topic, part)
        for group in topic.groups:
            owner = group.places[i].owner
            if owner is not None:
                self.fetch(owner)

    def retain(self, topic: _Topic, part: _Partition) -> None:
        """Delete the records older than the topic's retention from the head of ``part``."""
        now = self.engine.now
        while part.records and part.records[0][1] + topic.retention <= now + 1e-12:
            msg, _ = part.records.popleft()
            part.start += 1
            self.record(now, "expire", msg.id, part.name, "", "retention")

    # -- reading -------------------------------------------------------------------------------
    def fetch(self, m: _Member) -> None:
        """An idle member takes the next record of its partitions, taking them in turn."""
        if not m.up or m.holding is not None or not m.assigned:
            return
        group = m.group
        k = len(m.assigned)
        for step in range(k):
            i = m.assigned[(m.turn + step) % k]
            place, part = group.places[i], group.topic.partitions[i]
            if place.in_hand:
                continue  # its previous owner still has a record of it in hand
            if place.position < part.start:  # retention deleted what it had not read yet
                place.position = part.start
                self.record(self.engine.now, "seek", 0, part.name, group.name,
                            str(part.start))
            if place.position < part.end:
                m.turn = (m.turn + step + 1) % k
                self.hand_over(m, place, part)
                return

    def hand_over(self, m: _Member, place: _Place, part: _Partition) -> None:
        now, offset = self.engine.now, place.position
        msg = part.at(offset)
        place.position = offset + 1
        place.in_hand = True
        m.holding = place
        self.record(now, "deliver", msg.id, part.name, m.name, str(offset))
        if m.group.commit == "before":  # at-most-once: committed before it is processed
            self.commit(m.group, place, part, offset + 1, msg.id)
        delay = m.latency(self.rng)
        self.log_on_links += 1
        try:
            self.schedule(delay, self.member_received, m, place, part, msg, offset, m.epoch,
                          place.generation)
        except (TypeError, ValueError):
            raise self.bad_draw(f"link '{part.name} -> {m.name}'", "latency", delay) from None

    def member_received(self, m: _Member, place: _Place, part: _Partition, msg: Message,
                        offset: int, epoch: int, generation: int) -> None:
        self.log_on_links -= 1
        if epoch != m.epoch:
            return  # it crashed meanwhile: the record is read again from the committed offset
        now = self.engine.now
        self.record(now, "arrive", msg.id, m.name, part.name)
        self.record(now, "start", msg.id, m.name)
        service = m.spec.service(self.rng)
        try:
            self.schedule(service, self.member_finish, m, place, part, msg, offset, epoch,
                          generation)
        except (TypeError, ValueError):
            raise self.bad_draw(f"consumer {m.name!r}", "service", service) from None

    def member_finish(self, m: _Member, place: _Place, part: _Partition, msg: Message,
                      offset: int, epoch: int, generation: int) -> None:
        if epoch != m.epoch:
            return
        now, group = self.engine.now, m.group
        result = None
        if m.handler is not None:
            try:
                result = m.handler(msg)
            except Exception as exc:
                raise self.error(
                    f"consumer {m.name!r}: its handler raised {type(exc).__name__} on record "
                    f"{offset} of {part.name} (message {msg.id}) at t={now:g} s: {exc}"
                ) from exc
        self.record(now, "ack", msg.id, m.name, part.name, "log")
        if m.onward is not None and result is not False:
            self.pass_on(m.onward, copy.copy(msg), result)  # a record stays in its log
        m.holding = None
        place.in_hand = False
        if generation == place.generation:  # not reset by a crash or a seek meanwhile
            place.done = offset + 1
            if group.commit == "after" or (group.commit != "before" and place.owner is not m):
                # after each record; or, committing every so often, a partition given away
                # while this record was in hand: what it finished is committed as it lets go
                self.commit(group, place, part, offset + 1, msg.id)
            elif group.commit != "before" and not group.tick:
                group.tick = True
                wait = group.commit - math.fmod(now, group.commit)
                self.schedule(wait if wait > 1e-12 else group.commit, self.commit_all, group)
        self.fetch(m)
        if place.owner is not None and place.owner is not m:
            self.fetch(place.owner)  # it was waiting for this record to be let go

    # -- offsets -------------------------------------------------------------------------------
    def commit(self, group: _Group, place: _Place, part: _Partition, offset: int,
               msg: int) -> None:
        if place.committed != offset:
            place.committed = offset
            self.record(self.engine.now, "commit", msg, part.name, group.name, str(offset))

    def commit_all(self, group: _Group) -> None:
        """The periodic commit: every partition's offset after the last record processed."""
        group.tick = False
        for place, part in zip(group.places, group.topic.partitions, strict=True):
            if place.done is not None and place.owner is not None and place.owner.up:
                last = place.done - 1
                msg = part.at(last).id if part.start <= last < part.end else 0
                self.commit(group, place, part, place.done, msg)

    def seek(self, group: _Group, offset: int) -> None:
        """Move ``group`` to ``offset`` (or the oldest record kept) in every partition."""
        for place, part in zip(group.places, group.topic.partitions, strict=True):
            to = max(offset, part.start)
            place.position = place.done = place.committed = to
            place.generation += 1
            self.record(self.engine.now, "seek", 0, part.name, group.name, str(to))
        for m in group.members:
            self.fetch(m)

    # -- members coming and going ----------------------------------------------------------------
    def rebalance(self, group: _Group, cause: _Member) -> None:
        """Share the partitions out again over the live members (range assignment)."""
        now, topic = self.engine.now, group.topic
        live = [m for m in group.members if m.up]
        share = range_assignment([m.name for m in live], len(topic.partitions))
        by_name = {m.name: m for m in live}
        self.record(now, "rebalance", 0, cause.name, "", group.name)
        for m in group.members:
            m.assigned = share.get(m.name, [])
            m.turn = 0
        for name, parts in share.items():
            for i in parts:
                place, part = group.places[i], topic.partitions[i]
                old, new = place.owner, by_name[name]
                if old is not new and old is not None and old.up and group.commit not in (
                        "after", "before") and not place.in_hand:
                    # a live owner gives the partition away: it commits what it finished
                    if place.done is not None:
                        self.commit(group, place, part, place.done, 0)
                place.owner = new
                self.begin_reading(group, place, part)
                self.record(now, "assign", 0, part.name, name, group.name)
        for place in group.places:
            if place.owner is not None and not place.owner.up:
                place.owner = None
        for m in live:
            self.fetch(m)

    def begin_reading(self, group: _Group, place: _Place, part: _Partition) -> None:
        """A group with no committed offset in ``part`` starts where its ``offset`` says."""
        if place.position is None:
            place.position = (part.start if group.start == "earliest" else
                              part.end if group.start == "latest" else
                              max(group.start, part.start))

    def member_crash(self, m: _Member) -> None:
        if not m.up:
            return
        m.up = False
        m.epoch += 1
        self.record(self.engine.now, "crash", 0, m.name)
        for place in m.group.places:
            # its partitions, and the one whose record it had in hand (maybe given away
            # already, its new owner waiting for that record): read again from the last
            # committed offset
            if place.owner is m or place is m.holding:
                place.position = place.done = place.committed
                place.generation += 1
            if place.owner is m:
                place.owner = None
            elif place is m.holding and place.owner is not None:
                part = m.group.topic.partitions[m.group.places.index(place)]
                self.begin_reading(m.group, place, part)
        if m.holding is not None:
            m.holding.in_hand = False
            m.holding = None
        self.rebalance(m.group, m)

    def member_recover(self, m: _Member) -> None:
        if m.up or m.refused:
            return
        m.up = True
        if m.spec.handler_factory is not None:
            self.fresh_handler(m)
        self.record(self.engine.now, "recover", 0, m.name)
        self.rebalance(m.group, m)

    def log_snapshot(self) -> dict:
        """Records kept in each partition at the end, and records still on their way to a
        log consumer (neither is in the account of messages: a record ended when appended)."""
        return {part.name: len(part.records)
                for topic in self.topics.values() for part in topic.partitions}
