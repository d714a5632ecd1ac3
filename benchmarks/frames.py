"""Benchmark: cost of one Player frame, blitting Scene vs redrawing the figure each frame.

Model: a 20-node network (4 producers, 1 broker, 2 exchanges, 5 queues, 8 consumers) with
slow links, so that at least 200 messages are on the move in every measured frame.

- Scene: ``scene.jpeg(t)``, exactly the bytes the Player widget sends to the browser
  (persistent artists blitted over a saved background, changing text drawn by Pillow, JPEG).
- Naive: per frame ``fig.clf()``, ``nx.draw(...)``, scatter the same dots, ``savefig`` to PNG.

Run:  .venv/bin/python benchmarks/frames.py [--frames N]
Prints the median milliseconds per frame of each and the speed-up.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import networkx as nx
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import mqlab as mq
from mqlab.draw import layout
from mqlab.scene import Scene

PRODUCERS = 4
RATE = 45.0  # messages per second, per producer
LATENCY = (1.2, 1.6)  # seconds on a producer -> broker link: long, so many dots are in flight
SERVICE = 0.1  # seconds per message, mean
TARGET_MS = 25.0
TARGET_SPEEDUP = 4.0


def build() -> mq.Network:
    """Four shops publish orders and alerts; queues feed eight workers."""
    net = mq.Network(seed=3)
    net.broker("hub")
    net.exchange("hub", "orders", type="topic")
    net.exchange("hub", "alerts", type="fanout")
    keys = ["order.new.eu", "order.new.us", "order.paid.eu", "alert.disk"]
    for i, key in enumerate(keys):
        net.producer(f"shop{i}", rate=RATE, routing_key=key, priority=[0, 1, 2],
                     exchange="alerts" if key.startswith("alert") else "orders")
        net.link(f"shop{i}", "hub", latency=mq.uniform(*LATENCY))
    net.queue("hub", "eu", kind="priority", capacity=30)
    net.queue("hub", "us", capacity=30)
    net.queue("hub", "paid", capacity=30, message_ttl=2.0, dead_letter="dlq")
    net.queue("hub", "ops", capacity=20, overflow="reject-publish")
    net.queue("hub", "dlq")
    net.bind("orders", "eu", "order.*.eu")
    net.bind("orders", "us", "order.*.us")
    net.bind("orders", "paid", "order.paid.*")
    net.bind("alerts", "ops")
    for queue, workers in (("eu", 3), ("us", 2), ("paid", 2), ("ops", 1)):
        for j in range(workers):
            net.consumer(f"{queue}-w{j}", queue=queue, service=mq.exponential(SERVICE),
                         prefetch=2)
            net.link(queue, f"{queue}-w{j}", latency=0.3)
    return net


def time_scene(scene: Scene, times: np.ndarray) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU seconds per frame, and the mean JPEG size in bytes."""
    wall, cpu, size = [], [], 0
    for t in times:
        start, start_cpu = time.perf_counter(), time.process_time()
        jpeg = scene.jpeg(float(t))
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        size += len(jpeg)
    return wall, cpu, size // len(times)


def time_naive(scene: Scene, times: np.ndarray) -> tuple[list[float], list[float]]:
    """Redraw everything each frame, the way a first attempt usually does."""
    graph, pos = scene.graph, layout(scene.graph)
    fig = Figure(figsize=scene.figure.get_size_inches(), dpi=scene.figure.dpi)
    FigureCanvasAgg(fig)
    wall, cpu = [], []
    for t in times:
        start, start_cpu = time.perf_counter(), time.process_time()
        dots, _ = scene.dots(float(t))
        fig.clf()
        ax = fig.add_subplot()
        nx.draw(graph, pos, ax=ax, node_color="#A9D6F3", node_size=500, with_labels=True,
                font_size=8, edge_color="#555555")
        ax.scatter(dots[:, 0], dots[:, 1], s=55, c="#1F1F1F", zorder=5)
        ax.set_title(f"t = {t:.2f} s")
        fig.savefig(io.BytesIO(), format="png")
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames to time (default 60)")
    args = parser.parse_args()
    run = build().run(until=20)
    graph = run.graph
    times = np.linspace(5.0, 19.0, args.frames)  # past the warm-up: the links are full
    start = time.perf_counter()
    scene = Scene(run)
    setup = time.perf_counter() - start
    moving = [len(scene.dots(float(t))[0]) for t in times]
    print(f"network: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges; "
          f"run: {len(run.trace)} events over {run.trace.duration:g} s")
    print(f"messages travelling on links per measured frame: min {min(moving)}, "
          f"median {statistics.median(moving):g}, max {max(moving)}")
    if min(moving) < 200:
        print("  WARNING: fewer than 200 messages in flight in some frame")
    print(f"scene set-up (layout, intervals, background): {setup * 1000:.0f} ms, once")
    print(f"machine load (1-minute average): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          "other processes inflate wall-clock times, CPU times are this process only")
    wall, cpu, size = time_scene(scene, times)
    naive_wall, naive_cpu = time_naive(scene, times)
    rows = [(f"Scene (blit + Pillow text + JPEG, {size // 1000} KB)", wall, cpu),
            ("naive (clf + nx.draw + scatter + PNG)", naive_wall, naive_cpu)]
    print(f"{'median ms/frame':<48}{'wall':>8}{'CPU':>8}")
    for name, w, c in rows:
        print(f"{name:<48}{_median_ms(w):8.1f}{_median_ms(c):8.1f}")
    ms, naive = _median_ms(wall), _median_ms(naive_wall)
    cpu_ms, naive_cpu_ms = _median_ms(cpu), _median_ms(naive_cpu)
    print(f"speed-up: {naive / ms:.1f}x wall, {naive_cpu_ms / cpu_ms:.1f}x CPU")
    for what, a, b in (("wall", ms, naive), ("CPU", cpu_ms, naive_cpu_ms)):
        ok = a <= TARGET_MS and b / a >= TARGET_SPEEDUP
        print(f"target (<= {TARGET_MS:g} ms/frame and >= {TARGET_SPEEDUP:g}x faster), {what}: "
              f"{'met' if ok else 'MISSED'}")


def _median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


if __name__ == "__main__":
    main()
