"""Random quantities for a model: service times, latencies, priorities, routing keys.

Wherever a model takes a number (a service time, a link latency) it also takes one of these
distributions. Each is a small callable object: give it a ``random.Random`` and it draws a value.
The simulator passes its own seeded generator, so runs stay reproducible.

>>> import random
>>> rng = random.Random(1)
>>> round(exponential(0.5)(rng), 3) >= 0
True
>>> choice({"temp.eu": 3, "temp.us": 1})(rng) in {"temp.eu", "temp.us"}
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Choice", "Exponential", "Fixed", "Normal", "Uniform", "choice", "exponential", "normal",
           "uniform"]


@dataclass(frozen=True)
class Exponential:
    """Exponentially distributed with the given mean (memoryless: Poisson arrivals, M/M/1)."""

    mean: float

    def __post_init__(self) -> None:
        _positive("mean", self.mean)

    def __call__(self, rng: random.Random) -> float:
        return -math.log(1.0 - rng.random()) * self.mean  # what rng.expovariate does, inlined


@dataclass(frozen=True)
class Uniform:
    """Uniform between ``low`` and ``high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _non_negative("low", self.low)
        if not self.high >= self.low:
            raise ValueError(f"high must be >= low ({self.low}), got {self.high}")

    def __call__(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Normal:
    """Normal with ``mean`` and standard deviation ``sd``, cut at 0 (times are never negative)."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _non_negative("mean", self.mean)
        _non_negative("sd", self.sd)

    def __call__(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean, self.sd))


@dataclass(frozen=True)
class Fixed:
    """Always the same value (the simulator reads ``value`` directly and skips the call)."""

    value: Any

    def __call__(self, rng: random.Random) -> Any:
        return self.value


class Choice:
    """One of several values: a list (equally likely) or a ``{value: weight}`` dict."""

    def __init__(self, options: dict | list | tuple) -> None:
        if isinstance(options, dict):
            values, weights = list(options), list(options.values())
        elif isinstance(options, (list, tuple)):
            values, weights = list(options), [1.0] * len(options)
        else:
            raise TypeError(f"options must be a list or a {{value: weight}} dict, got {options!r}")
        if not values:
            raise ValueError("options must not be empty")
        for w in weights:
            _non_negative("weight", w)
        if sum(weights) <= 0:
            raise ValueError("weights must not all be 0")
        self.values, self.weights = values, weights
        total, acc, self._cum = sum(weights), 0.0, []
        for w in weights:
            acc += w / total
            self._cum.append(acc)

    def __call__(self, rng: random.Random) -> Any:
        x = rng.random()
        for value, edge in zip(self.values, self._cum, strict=True):
            if x < edge:
                return value
        return self.values[-1]

    def __repr__(self) -> str:
        return f"Choice({dict(zip(self.values, self.weights, strict=True))!r})"


def exponential(mean: float) -> Exponential:
    """Exponential times with this mean (seconds)."""
    return Exponential(mean)


def uniform(low: float, high: float) -> Uniform:
    """Uniform times between ``low`` and ``high`` (seconds)."""
    return Uniform(low, high)


def normal(mean: float, sd: float) -> Normal:
    """Normal times, never below 0."""
    return Normal(mean, sd)


def choice(options: dict | list | tuple) -> Choice:
    """A value drawn from a list, or from a ``{value: weight}`` dict."""
    return Choice(options)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(name: str, value: Any) -> float:
    if _number(name, value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _non_negative(name: str, value: Any) -> float:
    if _number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def time_sampler(name: str, value: Any,
                 allow_zero: bool = True) -> Callable[[random.Random], float]:
    """Turn a number or a distribution into ``f(rng) -> seconds``, checking it on the way."""
    if callable(value):
        return value
    return Fixed(_non_negative(name, value) if allow_zero else _positive(name, value))


def value_sampler(name: str, value: Any, kind: type | tuple) -> Callable[[random.Random], Any]:
    """Turn a fixed value, a ``{value: weight}`` dict, a list or a callable into ``f(rng)``."""
    if isinstance(value, (dict, list)):
        return Choice(value)
    if callable(value):
        return value
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TypeError(f"{name} must be a {names}, a list, a {{value: weight}} dict or a "
                        f"function of a random.Random, got {value!r}")
    return Fixed(value)


def probability(name: str, value: Any) -> float:
    """Check that ``value`` is a probability in [0, 1]."""
    p = _number(name, value)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return p
