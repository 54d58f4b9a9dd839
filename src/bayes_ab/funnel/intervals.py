"""Intervals in the RESULTS_SCHEMA convention: ``{"mean", "lower", "upper", "prob"}``.

Thin wrappers over the package's shared HDI code (`bayes_ab.inference.intervals`,
`bayes_ab.models.beta_binomial`) so that the funnel uses the same credible mass and the
same HDI definition as every other analysis.
"""

from __future__ import annotations

from bayes_ab.constants import HDI_PROB
from bayes_ab.models.beta_binomial import beta_hdi


def interval_from_bounds(mean: float, lower: float, upper: float, *,
                         prob: float = HDI_PROB) -> dict:
    """The interval dict of a mean and bounds computed elsewhere (a closed form)."""
    return {"mean": float(mean), "lower": float(lower), "upper": float(upper),
            "prob": float(prob)}


def beta_rate_interval(k: int, n: int, *, a0: float = 1.0, b0: float = 1.0) -> dict:
    """Posterior of a rate k/n under a Beta(a0, b0) prior (uniform by default): HDI."""
    a, b = a0 + k, b0 + n - k
    lo, hi = beta_hdi(a, b)
    return interval_from_bounds(a / (a + b), lo, hi)

