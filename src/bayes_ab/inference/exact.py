"""Closed-form distribution functions without importing `scipy.stats`.

`scipy.stats`' beta, normal and chi-square distributions evaluate these very
`scipy.special` functions (``beta.ppf`` is ``betaincinv``, ``norm.sf(x)`` is
``ndtr(-x)``, ``chi2.sf`` is ``chdtrc``, ...), so the numbers are the same to the last
bit; importing `scipy.stats` costs about 0.5 s of CPU, most of a `bayes-ab compare` of
exact posteriors. These are one-line calls into `scipy.special`, not re-implementations;
`tests/test_compare_speed.py` checks each against scipy.stats.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["beta_cdf", "beta_isf", "beta_pdf", "beta_ppf", "beta_sf", "chisquare",
           "norm_cdf", "norm_isf", "norm_pdf", "norm_sf"]


def beta_ppf(q, a, b):
    """``scipy.stats.beta.ppf(q, a, b)``."""
    return special.betaincinv(a, b, q)


def beta_isf(q, a, b):
    """``scipy.stats.beta.isf(q, a, b)``."""
    return special.betainccinv(a, b, q)


def beta_cdf(x, a, b):
    """``scipy.stats.beta.cdf(x, a, b)``."""
    return special.betainc(a, b, np.clip(x, 0.0, 1.0))


def beta_sf(x, a, b):
    """``scipy.stats.beta.sf(x, a, b)``."""
    return special.betaincc(a, b, np.clip(x, 0.0, 1.0))


def beta_pdf(x, a, b):
    """``scipy.stats.beta.pdf(x, a, b)``: 0 outside [0, 1]."""
    try:  # the function scipy.stats.beta.pdf itself evaluates
        from scipy.special._ufuncs import _beta_pdf
    except ImportError:  # pragma: no cover - a scipy that moved it
        from scipy import stats

        return stats.beta.pdf(x, a, b)
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):
        return np.where((x < 0.0) | (x > 1.0), 0.0, _beta_pdf(x, a, b))


def norm_sf(x):
    """``scipy.stats.norm.sf(x)``."""
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_cdf(x):
    """``scipy.stats.norm.cdf(x)``."""
    return special.ndtr(np.asarray(x, dtype=float))


def norm_isf(q):
    """``scipy.stats.norm.isf(q)``."""
    return -special.ndtri(q)


def norm_pdf(x):
    """``scipy.stats.norm.pdf(x)``."""
    x = np.asarray(x, dtype=float)
    return np.exp(-x**2 / 2.0) / np.sqrt(2 * np.pi)


def chisquare(observed, expected) -> tuple[float, float]:
    """Pearson's chi-square of counts against expected counts with the same total,
    ``len - 1`` degrees of freedom: ``(statistic, p_value)`` as
    ``scipy.stats.chisquare(observed, f_exp=expected)``."""
    obs = np.asarray(observed, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    stat = np.sum((obs - exp) ** 2 / exp)
    return float(stat), float(special.chdtrc(np.float64(obs.size - 1), stat))
