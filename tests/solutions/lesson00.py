"""Reference solutions for lesson 00 (kept out of the student notebook).

tests/test_checks_lesson00.py proves that every check accepts these.
"""

from __future__ import annotations

from mqlab import Engine, Trace


def count_acks(trace: Trace, consumer: str, until: float) -> int:
    """How many messages ``consumer`` acked before time ``until``."""
    return sum(1 for e in trace if e.kind == "ack" and e.node == consumer and e.time < until)


def mean_latency(trace: Trace) -> float:
    """Mean seconds from a message's publish to its first ack, over the acked messages."""
    published: dict[int, float] = {}
    waited: dict[int, float] = {}
    for e in trace:
        if e.kind == "publish":
            published.setdefault(e.msg, e.time)
        elif e.kind == "ack" and e.msg in published and e.msg not in waited:
            waited[e.msg] = e.time - published[e.msg]
    return sum(waited.values()) / len(waited)


def note(engine: Engine, log: list, text: str) -> None:
    """Write down what happens, with the time on the engine's clock (as in the lesson)."""
    log.append((engine.now, text))


def schedule_tea(engine: Engine, log: list) -> None:
    """Schedule the tea story; same-time events are scheduled in the order they must run."""
    engine.schedule(0.0, note, engine, log, "fill the kettle")
    engine.schedule(0.5, note, engine, log, "switch the kettle on")
    engine.schedule(3.5, note, engine, log, "the water boils")
    engine.schedule(3.5, note, engine, log, "pour the water")
    engine.at(6.5, note, engine, log, "take the tea bag out")


def schedule_tea_chained(engine: Engine, log: list) -> None:
    """The same story told by events that schedule the next one (delays from *now*)."""

    def boil() -> None:
        note(engine, log, "the water boils")
        note(engine, log, "pour the water")
        engine.schedule(3.0, note, engine, log, "take the tea bag out")

    def switch_on() -> None:
        note(engine, log, "switch the kettle on")
        engine.schedule(3.0, boil)

    engine.schedule(0.0, note, engine, log, "fill the kettle")
    engine.schedule(0.5, switch_on)


GLOSSARY = {
    "消息": "message",
    "队列": "queue",
    "代理": "broker",
    "异步通信": "asynchronous communication",
    "生产者-消费者": "producer–consumer",
    "发布-订阅": "publish–subscribe",
    "吞吐量": "throughput",
    "延迟": "latency",
    "队列长度": "queue length",
}
