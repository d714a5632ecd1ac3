"""Messages: a payload plus metadata, with ids that never collide."""

import pytest

import mqlab as mq
from mqlab.message import Message


def test_a_message_carries_payload_and_metadata():
    m = Message("21.5 C", source="sensor", routing_key="temp.eu", topic="temp", priority=3,
                headers={"unit": "C"})
    assert (m.payload, m.source, m.routing_key, m.topic, m.priority, m.headers) == (
        "21.5 C", "sensor", "temp.eu", "temp", 3, {"unit": "C"})
    assert (m.created, m.sent, m.enqueued, m.delivered, m.redelivered) == (
        None, None, None, None, False)


def test_messages_made_by_hand_get_distinct_negative_ids():
    ids = [Message(i).id for i in range(5)]
    assert len(set(ids)) == 5
    assert all(i < 0 for i in ids)


def test_an_explicit_id_is_kept():
    assert Message("x", id=42).id == 42


def test_headers_are_not_shared_between_messages():
    a, b = Message("a"), Message("b")
    a.headers["k"] = 1
    assert b.headers == {}


def test_messages_compare_by_identity():
    a, b = Message("same", id=1), Message("same", id=1)
    assert a != b and a == a


@pytest.mark.parametrize("bad", [1.5, "3", True])
def test_priority_must_be_an_int_or_none(bad):
    with pytest.raises(TypeError, match="priority"):
        Message("x", priority=bad)


def test_repr_shows_what_a_student_needs():
    assert repr(Message("hi", id=7, routing_key="jobs", priority=2)) == (
        "Message(id=7, payload='hi', key='jobs', priority=2)")
    assert repr(Message(id=8)) == "Message(id=8)"


def test_the_simulator_numbers_messages_one_two_three():
    net = mq.Network(seed=1)
    net.producer("p", schedule=[0.0, 1.0, 2.0], routing_key="jobs",
                 payload=lambda i: f"job {i}", headers={"team": "a"})
    net.broker("hub")
    net.queue("hub", "jobs")
    net.consumer("w", queue="jobs", service=0.5)
    run = net.run(until=5)
    msgs = run.trace.messages
    assert sorted(msgs) == [1, 2, 3]
    assert [(m.id, m.payload, m.source, m.routing_key, m.created, m.delivered)
            for m in msgs.values()] == [
        (1, "job 0", "p", "jobs", 0.0, 0.0),
        (2, "job 1", "p", "jobs", 1.0, 1.0),
        (3, "job 2", "p", "jobs", 2.0, 2.0),
    ]
    assert all(m.headers == {"team": "a"} for m in msgs.values())
