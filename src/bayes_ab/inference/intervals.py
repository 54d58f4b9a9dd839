"""Posterior summaries in the results.json shape: one credible mass (HDI_PROB) everywhere."""

from __future__ import annotations

import numpy as np

from bayes_ab.constants import HDI_PROB


def hdi_bounds(draws, *, prob: float = HDI_PROB) -> tuple[float, float]:
    """Narrowest interval holding `prob` of the draws (the HDI of a unimodal posterior)."""
    x = np.sort(np.asarray(draws, dtype=float).ravel())
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    k = int(np.floor(prob * n))
    if k >= n:
        return float(x[0]), float(x[-1])
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return float(x[i]), float(x[i + k])


def draws_interval(draws, *, prob: float = HDI_PROB) -> dict:
    """`{"mean", "lower", "upper", "prob"}` of posterior draws (HDI bounds)."""
    x = np.asarray(draws, dtype=float).ravel()
    lo, hi = hdi_bounds(x, prob=prob)
    return {"mean": float(np.nanmean(x)), "lower": lo, "upper": hi, "prob": prob}


def prob_draws_greater(draws, threshold: float = 0.0) -> float:
    """Posterior probability that the quantity exceeds `threshold`: the share of its draws
    above it (`bayes_ab.models.beta_binomial.prob_beta_greater` is the exact P(X > Y) of
    two Beta posteriors)."""
    x = np.asarray(draws, dtype=float).ravel()
    return float(np.mean(x > threshold))


def flat(da) -> np.ndarray:
    """All chains and draws of an xarray DataArray (or array) as a flat vector."""
    values = getattr(da, "values", da)
    return np.asarray(values, dtype=float).reshape(-1)
