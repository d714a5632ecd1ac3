"""Queueing theory: what the formulas predict, to hold the simulation against.

Kendall's notation A/S/c/K: arrivals, service, number of servers, capacity. ``M`` means
Markovian (Poisson arrivals, exponential service). ``lam`` is the arrival rate and ``mu`` the
service rate of one server, both per second. Every function returns a dict with

- ``rho``: utilisation (busy fraction of each server),
- ``L``: mean number in the system, ``Lq``: mean number waiting,
- ``W``: mean time in the system (s), ``Wq``: mean waiting time (s),

and ``mm1k`` also the loss probability ``P_loss`` (an arrival finds the system full).

>>> r = mm1(lam=0.5, mu=1.0)
>>> r["rho"], r["L"], r["W"]
(0.5, 1.0, 2.0)
"""

from __future__ import annotations

from mqlab.dist import positive

__all__ = ["erlang_c", "mm1", "mm1k", "mmc"]


def mm1(lam: float, mu: float) -> dict:
    """One server, unlimited queue. Needs ``lam < mu`` (otherwise the queue grows forever)."""
    positive("lam", lam)
    positive("mu", mu)
    if lam >= mu:
        raise ValueError(f"lam must be < mu for a steady state, got lam={lam}, mu={mu}")
    rho = lam / mu
    L = rho / (1 - rho)
    W = 1 / (mu - lam)
    return {"rho": rho, "L": L, "Lq": rho * L, "W": W, "Wq": W - 1 / mu}


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival must wait in M/M/c, with offered load ``a = lam/mu``."""
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"c must be an int >= 1, got {c!r}")
    if not 0 < a < c:
        raise ValueError(f"a (the offered load lam/mu) must be between 0 and c={c}, got {a!r}")
    # Erlang B by its recursion (no factorials or powers: no overflow for large c), then C
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def mmc(lam: float, mu: float, c: int) -> dict:
    """``c`` identical servers sharing one queue. Needs ``lam < c * mu``."""
    positive("lam", lam)
    positive("mu", mu)
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"c must be an int >= 1, got {c!r}")
    if lam >= c * mu:
        raise ValueError(f"lam must be < c * mu for a steady state, got lam={lam}, "
                         f"c * mu={c * mu}")
    a = lam / mu
    pw = erlang_c(c, a)
    Wq = pw / (c * mu - lam)
    W = Wq + 1 / mu
    return {"rho": a / c, "P_wait": pw, "L": lam * W, "Lq": lam * Wq, "W": W, "Wq": Wq}


def mm1k(lam: float, mu: float, K: int) -> dict:
    """One server and room for ``K`` messages in all (the one in service included).

    An arrival that finds ``K`` messages is lost, with probability ``P_loss``.
    """
    positive("lam", lam)
    positive("mu", mu)
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an int >= 1, got {K!r}")
    rho = lam / mu
    if abs(rho - 1) < 1e-12:
        p = [1 / (K + 1)] * (K + 1)
    else:
        p0 = (1 - rho) / (1 - rho ** (K + 1))
        p = [p0 * rho**n for n in range(K + 1)]
    L = sum(n * pn for n, pn in enumerate(p))
    lam_eff = lam * (1 - p[K])
    W = L / lam_eff
    return {"rho": rho, "P_loss": p[K], "L": L, "Lq": L - (1 - p[0]), "W": W,
            "Wq": W - 1 / mu, "throughput": lam_eff}
