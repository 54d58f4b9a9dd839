"""Intervals in the RESULTS_SCHEMA convention: ``{"mean", "lower", "upper", "prob"}``.

Posterior intervals are highest-density intervals of mass `HDI_PROB`, whether they come
from a closed form (a Beta posterior) or from draws.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from bayes_ab.constants import HDI_PROB


def interval(mean: float, lower: float, upper: float, *, prob: float = HDI_PROB) -> dict:
    return {"mean": float(mean), "lower": float(lower), "upper": float(upper),
            "prob": float(prob)}


def beta_hdi(a: float, b: float, *, prob: float = HDI_PROB) -> tuple[float, float]:
    """HDI of Beta(a, b) (unimodal or monotone when a, b >= 1)."""
    dist = stats.beta(a, b)
    if a <= 1.0 and b > 1.0:  # density falls from 0: the HDI starts at 0
        return 0.0, float(dist.ppf(prob))
    if b <= 1.0 and a > 1.0:  # density rises to 1: the HDI ends at 1
        return float(dist.ppf(1.0 - prob)), 1.0
    width = lambda p: dist.ppf(p + prob) - dist.ppf(p)  # noqa: E731
    res = optimize.minimize_scalar(width, bounds=(0.0, 1.0 - prob), method="bounded",
                                   options={"xatol": 1e-10})
    return float(dist.ppf(res.x)), float(dist.ppf(res.x + prob))


def beta_rate_interval(k: int, n: int, *, a0: float = 1.0, b0: float = 1.0) -> dict:
    """Posterior of a rate k/n under a Beta(a0, b0) prior (uniform by default)."""
    a, b = a0 + k, b0 + n - k
    lo, hi = beta_hdi(a, b)
    return interval(a / (a + b), lo, hi)


def draws_interval(draws, *, prob: float = HDI_PROB) -> dict:
    """HDI of a 1-D sample of draws (the shortest interval holding `prob` of them)."""
    x = np.sort(np.asarray(draws, dtype=float).ravel())
    n = len(x)
    k = int(np.floor(prob * n))
    if n == 0:
        return interval(np.nan, np.nan, np.nan, prob=prob)
    if k >= n:
        return interval(x.mean(), x[0], x[-1], prob=prob)
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return interval(x.mean(), x[i], x[i + k], prob=prob)
