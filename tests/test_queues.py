"""Queues on their own: FIFO, bounded queues and their overflow policies, priority, sorted."""

import pytest

from mqlab import FifoQueue, Message, PriorityQueue, QueueEmpty, QueueFull, SortedQueue


def payloads(q):
    return [m.payload for m in q]


def fill(q, items, **fields):
    for x in items:
        q.put(Message(x, **fields))


# -- FIFO ------------------------------------------------------------------------------------
def test_fifo_hands_messages_out_in_arrival_order():
    q = FifoQueue()
    fill(q, "abc")
    log = [q.get().payload for _ in range(3)]
    assert log == ["a", "b", "c"]
    assert len(q) == 0 and not q


def test_get_on_an_empty_queue_raises_and_try_get_returns_none():
    q = FifoQueue()
    with pytest.raises(QueueEmpty):
        q.get()
    assert q.try_get() is None
    assert q.peek() is None


def test_peek_shows_the_head_without_taking_it():
    q = FifoQueue()
    fill(q, "xy")
    assert q.peek().payload == "x"
    assert len(q) == 2


def test_putting_something_that_is_not_a_message_is_refused():
    with pytest.raises(TypeError, match="Message"):
        FifoQueue().put("hello")


# -- overflow policies -------------------------------------------------------------------------
def test_drop_head_keeps_the_newest_and_returns_the_dropped_head():
    q = FifoQueue(capacity=3, overflow="drop-head")
    log = []
    for word in ["a", "b", "c", "d", "e"]:
        dropped = q.put(Message(word))
        log.append((word, dropped.payload if dropped else None))
    assert log == [("a", None), ("b", None), ("c", None), ("d", "a"), ("e", "b")]
    assert payloads(q) == ["c", "d", "e"]
    assert q.stats().drops == {"overflow": 2}


def test_reject_publish_refuses_the_new_message():
    q = FifoQueue(capacity=2, overflow="reject-publish")
    fill(q, "ab")
    with pytest.raises(QueueFull, match="reject-publish"):
        q.put(Message("c"))
    assert q.try_put(Message("d")) is False
    assert payloads(q) == ["a", "b"]
    assert q.stats().drops == {"reject-publish": 2}


def test_block_on_its_own_cannot_wait_so_it_raises():
    q = FifoQueue(capacity=1, overflow="block")
    assert q.try_put(Message("a")) is True
    with pytest.raises(QueueFull, match="block"):
        q.put(Message("b"))
    assert payloads(q) == ["a"]
    q.get()
    assert q.try_put(Message("b")) is True
    assert payloads(q) == ["b"]


def test_an_unbounded_queue_is_never_full():
    q = FifoQueue()
    fill(q, range(1000))
    assert not q.full() and len(q) == 1000


def test_stats_count_puts_gets_and_the_longest_the_queue_got():
    q = FifoQueue(capacity=2, overflow="drop-head")
    fill(q, "abc")  # c pushes a out
    q.get()
    s = q.stats()
    assert (s.length, s.max_length, s.puts, s.gets, s.drops) == (1, 2, 3, 1, {"overflow": 1})


def test_requeue_puts_a_message_back_at_the_head_even_past_capacity():
    q = FifoQueue(capacity=2, overflow="reject-publish")
    fill(q, "ab")
    taken = q.get()
    q.put(Message("c"))
    q.requeue(taken)  # the broker already admitted it once
    assert payloads(q) == ["a", "b", "c"]
    assert q.stats().max_length == 3


def test_repr_names_kind_length_and_policy():
    q = FifoQueue(capacity=3, overflow="block")
    q.put(Message(1))
    assert repr(q) == "FifoQueue(len=1, capacity=3, overflow='block')"


# -- priority ----------------------------------------------------------------------------------
def test_higher_priority_first_and_fifo_among_equals():
    q = PriorityQueue()
    for name, p in [("a", 1), ("b", 5), ("c", 1), ("d", 5), ("e", 3)]:
        q.put(Message(name, priority=p))
    log = [q.get().payload for _ in range(5)]
    assert log == ["b", "d", "e", "a", "c"]


def test_above_max_priority_counts_as_max_priority():
    q = PriorityQueue(max_priority=5)
    for name, p in [("p9", 9), ("p5", 5), ("p7", 7), ("p4", 4)]:
        q.put(Message(name, priority=p))
    # 9 and 7 count as 5, so the three 5s leave in arrival order
    assert payloads(q) == ["p9", "p5", "p7", "p4"]
    assert q.effective_priority(Message(priority=200)) == 5


def test_no_priority_counts_as_zero():
    q = PriorityQueue(max_priority=10)
    for name, p in [("none1", None), ("zero", 0), ("one", 1), ("none2", None)]:
        q.put(Message(name, priority=p))
    assert payloads(q) == ["one", "none1", "zero", "none2"]


def test_a_requeued_message_goes_ahead_of_its_equals_but_behind_higher_ones():
    q = PriorityQueue()
    for name, p in [("hi", 9), ("a", 1), ("b", 1)]:
        q.put(Message(name, priority=p))
    q.get()  # hi
    taken = q.get()  # a
    q.put(Message("hi2", priority=9))
    q.requeue(taken)
    assert payloads(q) == ["hi2", "a", "b"]


def test_drop_head_in_a_priority_queue_drops_the_next_to_be_delivered():
    q = PriorityQueue(capacity=2, overflow="drop-head")
    q.put(Message("low", priority=1))
    q.put(Message("high", priority=9))
    dropped = q.put(Message("mid", priority=5))
    assert dropped.payload == "high"
    assert payloads(q) == ["mid", "low"]


# -- sorted (balanced tree) --------------------------------------------------------------------
def deadline_queue(deadlines, **kw):
    q = SortedQueue(key=lambda m: m.headers["deadline"], **kw)
    for d in deadlines:
        q.put(Message(f"d{d}", headers={"deadline": d}))
    return q


def test_sorted_queue_takes_from_both_ends():
    q = deadline_queue([30, 10, 50, 20, 40])
    log = [q.pop_first().payload, q.pop_last().payload, q.get().payload, q.pop_last().payload]
    assert log == ["d10", "d50", "d20", "d40"]
    assert payloads(q) == ["d30"]
    with pytest.raises(QueueEmpty):
        SortedQueue().pop_last()


def test_sorted_queue_keeps_arrival_order_among_equal_keys():
    q = SortedQueue(key=lambda m: m.headers["deadline"])
    for name, d in [("a", 2), ("b", 1), ("c", 2), ("d", 1)]:
        q.put(Message(name, headers={"deadline": d}))
    assert payloads(q) == ["b", "d", "a", "c"]


def test_sorted_queue_cancels_by_id():
    q = deadline_queue([3, 1, 2])
    target = next(m for m in q if m.payload == "d2")
    assert q.cancel(target.id) is target
    assert q.cancel(target.id) is None
    assert payloads(q) == ["d1", "d3"]
    assert [q.get().payload for _ in range(2)] == ["d1", "d3"]


def test_pop_below_removes_every_message_under_a_key():
    q = deadline_queue([5, 1, 9, 3, 7])
    expired = q.pop_below(6)
    assert [m.payload for m in expired] == ["d1", "d3", "d5"]
    assert payloads(q) == ["d7", "d9"]
    assert q.pop_below(0) == []
    # a message pulled out by pop_below cannot be cancelled any more
    assert q.cancel(expired[0].id) is None


def test_sorted_queue_default_key_is_deadline_header_then_creation_time():
    q = SortedQueue()
    q.put(Message("late", created=5.0))
    q.put(Message("early", created=1.0))
    q.put(Message("urgent", headers={"deadline": 0.5}, created=9.0))
    assert payloads(q) == ["urgent", "early", "late"]


def test_full_sorted_queue_with_drop_head_drops_the_smallest_key():
    q = deadline_queue([2, 1], capacity=2, overflow="drop-head")
    dropped = q.put(Message("d3", headers={"deadline": 3}))
    assert dropped.payload == "d1"
    assert payloads(q) == ["d2", "d3"]


def test_a_requeued_message_in_a_sorted_queue_goes_ahead_of_its_equals():
    q = deadline_queue([1, 1, 2])
    first = q.get()
    q.requeue(first)
    assert [m is first for m in q] == [True, False, False]


# -- drop-head in RabbitMQ's order: the new message goes in, then the head is dropped ------------
def test_a_new_top_priority_message_at_a_full_priority_queue_is_itself_dropped():
    q = PriorityQueue(capacity=3, overflow="drop-head", max_priority=10)
    zeros = [Message(f"zero{i}", priority=0) for i in range(3)]
    for m in zeros:
        assert q.put(m) is None
    top = Message("top", priority=5)
    assert q.put(top) is top
    assert list(q) == zeros
    assert q.stats().drops == {"overflow": 1}
    assert q.stats().max_length == 3  # it never counts as longer than its capacity


def test_a_new_smallest_key_at_a_full_sorted_queue_is_itself_dropped():
    q = deadline_queue([2, 3], capacity=2, overflow="drop-head")
    new = Message("d1", headers={"deadline": 1})
    assert q.put(new) is new
    assert payloads(q) == ["d2", "d3"]
    assert q.cancel(new.id) is None  # it is not left behind in the index


def test_a_queue_overfilled_by_requeues_drops_heads_until_it_fits():
    q = FifoQueue(capacity=2, overflow="drop-head")
    fill(q, "ab")
    taken = [q.get(), q.get()]
    fill(q, "cd")
    for m in reversed(taken):
        q.requeue(m)  # a, b, c, d: two past capacity
    offer = q.offer(Message("e"))
    assert offer.accepted and [m.payload for m in offer.dropped] == ["a", "b", "c"]
    assert payloads(q) == ["d", "e"]
    fill(q, "f")
    assert payloads(q) == ["e", "f"]
    q2 = FifoQueue(capacity=1)
    q2.put(Message("x"))
    q2.requeue(q2.get())
    q2.requeue(Message("y"))
    assert q2.put(Message("z")).payload == "y"  # put returns the first of those dropped
    assert payloads(q2) == ["z"]


# -- Queue.offer: the one overflow implementation, shared with the simulator ---------------------
def test_offer_says_what_the_policy_did():
    from mqlab.queues import Offer

    room = FifoQueue(capacity=1)
    first = Message("a")
    assert room.offer(first) == Offer(True, (), False)
    new = Message("b")
    assert room.offer(new) == Offer(True, (first,), False)
    for policy, wait in [("reject-publish", False), ("block", True)]:
        q = FifoQueue(capacity=1, overflow=policy)
        q.put(Message("a"))
        assert q.offer(Message("b")) == Offer(False, (), wait)
        assert payloads(q) == ["a"] and q.stats().puts == 1
        assert q.stats().drops == {policy: 1}


def test_a_new_overflow_policy_is_one_function_in_the_table(monkeypatch):
    from mqlab.queues import OVERFLOW_POLICIES, Offer

    def drop_new(q, msg):  # keep what is there, take the new one and drop it at once
        return Offer(True, (msg,))

    monkeypatch.setitem(OVERFLOW_POLICIES, "drop-new", drop_new)
    q = FifoQueue(capacity=1, overflow="drop-new")
    q.put(Message("a"))
    new = Message("b")
    assert q.put(new) is new
    assert payloads(q) == ["a"]
    with pytest.raises(ValueError, match="'drop-new'"):
        FifoQueue(overflow="drop-old")


# -- drop-lowest: the tail goes (not in RabbitMQ; see tests/test_aging.py for more) ---------------
def test_drop_lowest_drops_the_message_that_would_be_delivered_last():
    fifo = FifoQueue(capacity=2, overflow="drop-lowest")
    fill(fifo, "ab")
    assert fifo.put(Message("c")).payload == "c"  # in FIFO the tail is the new message
    prio = PriorityQueue(capacity=2, overflow="drop-lowest")
    for name, p in [("low", 1), ("high", 9)]:
        prio.put(Message(name, priority=p))
    assert prio.put(Message("mid", priority=5)).payload == "low"
    assert payloads(prio) == ["high", "mid"]
    tree = deadline_queue([2, 1], capacity=2, overflow="drop-lowest")
    assert tree.put(Message("d0", headers={"deadline": 0})).payload == "d2"
    assert payloads(tree) == ["d0", "d1"]


def test_effective_priorities_without_aging_are_the_capped_priorities():
    q = PriorityQueue(max_priority=5)
    for name, p in [("a", 9), ("b", None), ("c", 3)]:
        q.put(Message(name, priority=p))
    assert [(m.payload, p) for m, p in q.effective_priorities()] == [("a", 5), ("c", 3), ("b", 0)]
