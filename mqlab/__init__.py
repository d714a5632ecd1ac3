"""mqlab: learn message passing and asynchronous communication by watching messages move.

Build a system of producers, brokers, queues and consumers with :class:`Network`, run it, and
read what happened from its :class:`Trace`::

    import mqlab as mq
    net = mq.Network(seed=7)
    ...
    run = net.run(until=60)
    run.summary(); run.play()

Importing mqlab sets nothing up: no plotting backend, no global random state. The widgets and
plots load the first time you use them.
"""

from mqlab import dist, metrics, security, theory
from mqlab.dist import backoff, choice, exponential, normal, uniform
from mqlab.engine import Engine
from mqlab.message import Message
from mqlab.network import Network
from mqlab.queues import FifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, SortedQueue
from mqlab.routing import partition_for, topic_matches
from mqlab.run import Run, Summary
from mqlab.simulation import SimulationError
from mqlab.sweeps import Sweep, sweep
from mqlab.trace import Event, Trace

__all__ = [
    "DiskQueue",
    "Engine",
    "Explorer",
    "Event",
    "FifoQueue",
    "Message",
    "Network",
    "Player",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "Run",
    "Scene",
    "SimulationError",
    "SortedQueue",
    "Summary",
    "Sweep",
    "Trace",
    "TracedAsyncQueue",
    "TracedCondition",
    "TracedLock",
    "TracedQueue",
    "TracedSemaphore",
    "backoff",
    "charts",
    "choice",
    "dist",
    "draw",
    "draw_network",
    "explore",
    "exponential",
    "export",
    "metrics",
    "normal",
    "partition_for",
    "player",
    "save_gif",
    "scene",
    "security",
    "state",
    "sweep",
    "theory",
    "to_html",
    "topic_matches",
    "uniform",
]

__version__ = "0.1.0"

# The pictures and widgets need matplotlib and ipywidgets, which take a while to import, and
# the traced real queues need asyncio: they are loaded the first time one of these names is
# used, not by ``import mqlab``.
_LAZY = {
    "TracedQueue": "mqlab.realtime",
    "TracedAsyncQueue": "mqlab.realtime",
    "TracedLock": "mqlab.realtime",
    "TracedSemaphore": "mqlab.realtime",
    "TracedCondition": "mqlab.realtime",
    "Player": "mqlab.player",
    "explore": "mqlab.explorer",
    "Explorer": "mqlab.explorer",
    "Scene": "mqlab.scene",
    "draw_network": "mqlab.draw",
    "save_gif": "mqlab.export",
    "to_html": "mqlab.export",
    "DiskQueue": "mqlab.durable",
}
_LAZY_MODULES = ("charts", "draw", "scene", "player", "export", "state")


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        value = importlib.import_module(f"mqlab.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'mqlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_LAZY_MODULES])
