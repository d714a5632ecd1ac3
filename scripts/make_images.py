"""Regenerate every picture in images/ from simulated runs (`make images`).

Nothing in images/ is drawn by hand: change a model here and run this again.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window, no notebook

import matplotlib.pyplot as plt  # noqa: E402

import mqlab as mq  # noqa: E402
from mqlab import charts  # noqa: E402
from mqlab.draw import draw_network  # noqa: E402

IMAGES = Path(__file__).resolve().parent.parent / "images"

RATE = 3.5  # messages per second from each sensor
SERVICE = 0.4  # seconds a worker spends on one message
CAPACITY = 8  # messages the queue can hold


def filling_queue() -> mq.Run:
    """Two sensors publish faster than two workers can keep up: the queue fills, then drops."""
    net = mq.Network(seed=3)
    net.broker("hub")
    net.queue("hub", "jobs", capacity=CAPACITY, overflow="drop-head")  # a max-length queue
    for name in ("sensor-a", "sensor-b"):
        net.producer(name, rate=RATE, routing_key="jobs")
        net.link(name, "hub", latency=mq.uniform(0.1, 0.3))
    for name in ("worker-1", "worker-2"):
        net.consumer(name, queue="jobs", service=mq.exponential(SERVICE), prefetch=1)
        net.link("hub", name, latency=0.15)
    return net.run(until=16)


def publish_subscribe() -> mq.Run:
    """A topic exchange: each subscriber's queue gets the readings its pattern matches."""
    net = mq.Network(seed=5)
    net.broker("hub")
    net.exchange("hub", "readings", type="topic")
    keys = {"temp.eu": 2, "temp.us": 1, "humidity.eu": 1}
    net.producer("station", rate=4.0, routing_key=keys, exchange="readings")
    net.link("station", "hub", latency=0.1)
    subscribers = (("temps", "temp.*", "heating", 0.2), ("europe", "*.eu", "eu-app", 0.3),
                   ("archive", "#", "archiver", 0.1))
    for queue, pattern, consumer, service in subscribers:
        net.queue("hub", queue)
        net.bind("readings", queue, pattern=pattern)
        net.consumer(consumer, queue=queue, service=mq.exponential(service))
    return net.run(until=30)


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    run = filling_queue()
    print(run.summary())
    mq.save_gif(run, IMAGES / "broker-flow.gif", frames=120, fps=10, progress=False)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    charts.plot_queue_length(run.trace, ax=axes[0])
    charts.plot_latency(run.trace, ax=axes[1])
    fig.savefig(IMAGES / "queue-and-latency.png", dpi=100)
    plt.close(fig)

    pubsub = publish_subscribe()
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    draw_network(pubsub.trace, ax=ax)
    ax.set_title("publish-subscribe: a topic exchange and three subscribers")
    fig.savefig(IMAGES / "publish-subscribe.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 6), layout="constrained")
    charts.plot_sequence(pubsub.trace, limit=4, ax=ax)
    fig.savefig(IMAGES / "sequence.png", dpi=100)
    plt.close(fig)
    for path in sorted(IMAGES.iterdir()):
        print(f"{path.relative_to(IMAGES.parent)}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
