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

__all__ = ["JITTERS", "Backoff", "Choice", "Exponential", "Fixed", "Normal", "Uniform", "backoff",
           "choice", "exponential", "normal", "uniform"]

# how a retry's wait is spread out, so that many clients failing together do not retry together
JITTERS = ("full", "equal", "none")


@dataclass(frozen=True)
class Exponential:
    """Exponentially distributed with the given mean (memoryless: Poisson arrivals, M/M/1)."""

    mean: float

    def __post_init__(self) -> None:
        positive("mean", self.mean)

    def __call__(self, rng: random.Random) -> float:
        return -math.log(1.0 - rng.random()) * self.mean  # what rng.expovariate does, inlined


@dataclass(frozen=True)
class Uniform:
    """Uniform between ``low`` and ``high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        non_negative("low", self.low)
        number("high", self.high)
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
        non_negative("mean", self.mean)
        non_negative("sd", self.sd)

    def __call__(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean, self.sd))


@dataclass(frozen=True)
class Fixed:
    """Always the same value (the simulator reads ``value`` directly and skips the call)."""

    value: Any

    def __call__(self, rng: random.Random) -> Any:
        return self.value


@dataclass(frozen=True)
class Checked:
    """A function of a ``random.Random`` whose every draw is checked: ``check(name, value)``
    raises a clear error naming ``name`` unless the value is allowed. ``value_sampler`` wraps
    a function in this, as it cannot check what the function will draw in advance."""

    draw: Callable[[random.Random], Any]
    name: str
    check: Callable[[str, Any], Any]

    def __call__(self, rng: random.Random) -> Any:
        value = self.draw(rng)
        self.check(self.name, value)
        return value


class Choice:
    """One of several values: a list (equally likely) or a ``{value: weight}`` dict.

    ``name`` is what error messages call the options (the parameter they were given for).
    """

    def __init__(self, options: dict | list | tuple, name: str = "options") -> None:
        if isinstance(options, dict):
            values, weights = list(options), list(options.values())
        elif isinstance(options, (list, tuple)):
            values, weights = list(options), [1.0] * len(options)
        else:
            raise TypeError(f"{name} must be a list or a {{value: weight}} dict, got {options!r}")
        if not values:
            raise ValueError(f"{name} must not be empty")
        for value, w in zip(values, weights, strict=True):
            non_negative(f"the weight of {value!r} in {name}", w)
        if sum(weights) <= 0:
            raise ValueError(f"the weights in {name} must not all be 0")
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


@dataclass(frozen=True)
class Backoff:
    """How long to wait before retry number ``attempt`` (0 for the first retry): ``base``
    seconds times ``factor`` to the power ``attempt``, at most ``cap``, then spread by
    ``jitter``: ``"full"`` draws uniformly between 0 and that wait, ``"equal"`` keeps half of
    it and draws the other half, ``"none"`` waits exactly that long."""

    base: float
    factor: float = 2.0
    cap: float | None = None
    jitter: str = "full"

    def wait(self, attempt: int) -> float:
        """The wait before retry ``attempt``, before jitter."""
        w = self.base * self.factor ** attempt
        return w if self.cap is None else min(w, self.cap)

    def __call__(self, attempt: int, rng: random.Random) -> float:
        w = self.wait(attempt)
        if self.jitter == "full":
            return rng.uniform(0.0, w)
        if self.jitter == "equal":
            return w / 2 + rng.uniform(0.0, w / 2)
        return w


def backoff(base: float, factor: float = 2.0, cap: float | None = None,
            jitter: str = "full") -> Backoff:
    """Exponential backoff with jitter for retries (see :class:`Backoff`).

    >>> b = backoff(0.1, cap=1.0, jitter="none")
    >>> [b.wait(i) for i in range(5)]
    [0.1, 0.2, 0.4, 0.8, 1.0]
    >>> 0 <= backoff(0.1)(3, random.Random(1)) <= 0.8
    True
    """
    base = positive("base", base)
    factor = number("factor", factor)
    if factor < 1:
        raise ValueError(f"factor must be a number >= 1 (each wait at least the one before), "
                         f"got {factor!r}")
    if cap is not None:
        cap = positive("cap", cap)
    if jitter not in JITTERS:
        raise ValueError(f"jitter must be one of {', '.join(map(repr, JITTERS))}, "
                         f"got {jitter!r}")
    return Backoff(base, factor, cap, jitter)


# -- checking arguments: each raises a clear error naming the parameter, or returns the value --
def number(name: str, value: Any) -> float:
    """Check that ``value`` is a finite number (not a bool, not NaN, not infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def positive(name: str, value: Any) -> float:
    """Check that ``value`` is a finite number > 0."""
    if number(name, value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def non_negative(name: str, value: Any) -> float:
    """Check that ``value`` is a finite number >= 0."""
    if number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def time_sampler(name: str, value: Any,
                 allow_zero: bool = True) -> Callable[[random.Random], float]:
    """Turn a number or a distribution into ``f(rng) -> seconds``, checking it on the way.

    A fixed number, a ``Fixed`` and each option of a ``choice`` are checked now; what any other
    function draws is checked by the simulator as it is drawn.
    """
    if isinstance(value, Fixed):
        value = value.value
    elif isinstance(value, Choice):
        for option in value.values:
            non_negative(f"each option of {name}", option)
        return value
    if callable(value):
        return value
    return Fixed(non_negative(name, value) if allow_zero else positive(name, value))


def value_sampler(name: str, value: Any,
                  check: Callable[[str, Any], Any]) -> Callable[[random.Random], Any]:
    """Turn a fixed value, a list, a ``{value: weight}`` dict or a function of a
    ``random.Random`` into ``f(rng)``.

    ``check(what, v)`` raises a clear error naming ``what`` unless ``v`` is allowed. The fixed
    value, or each option of a list, dict or ``choice``, is checked now; what any other function
    draws is checked as it is drawn (see :class:`Checked`).
    """
    if isinstance(value, Fixed):
        value = value.value
    if isinstance(value, (dict, list, tuple, Choice)):
        options = value.values if isinstance(value, Choice) else list(value)
        for option in options:
            check(f"each option of {name}", option)
        return value if isinstance(value, Choice) else Choice(value, name)
    if callable(value):
        return Checked(value, name, check)
    check(name, value)
    return Fixed(value)


def probability(name: str, value: Any) -> float:
    """Check that ``value`` is a probability in [0, 1]."""
    p = number(name, value)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return p
