"""Closed-form distribution functions without importing `scipy.stats` or `scipy.optimize`.

`scipy.stats`' beta, normal and chi-square distributions evaluate these very
`scipy.special` functions (``beta.ppf`` is ``betaincinv``, ``norm.sf(x)`` is
``ndtr(-x)``, ``chi2.sf`` is ``chdtrc``, ...), so the numbers are the same to the last
bit; importing `scipy.stats` costs about 0.5 s of CPU and `scipy.optimize` 0.25 s, most of
a `bayes-ab compare` of exact posteriors. `minimize_bounded` takes the same steps as
``scipy.optimize.minimize_scalar(method="bounded")`` (Brent's method with golden-section
steps, bounded), hence finds the same minimum. `tests/test_compare_speed.py` checks each
against scipy.
"""

from __future__ import annotations

from math import sqrt
from typing import Callable

import numpy as np
from scipy import special

__all__ = ["beta_cdf", "beta_isf", "beta_pdf", "beta_ppf", "beta_sf", "chisquare",
           "minimize_bounded", "norm_cdf", "norm_isf", "norm_pdf", "norm_sf"]


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


def minimize_bounded(func: Callable[[float], float], bounds: tuple[float, float], *,
                     xatol: float = 1e-5, maxiter: int = 500) -> tuple[float, float]:
    """``(x, func(x))`` at the minimum of ``func`` on ``bounds``, step for step as
    ``scipy.optimize.minimize_scalar(func, bounds=bounds, method="bounded",
    options={"xatol": xatol, "maxiter": maxiter})`` (scipy's ``_minimize_scalar_bounded``,
    BSD-3-Clause, without its messages)."""
    x1, x2 = bounds
    if not (np.isfinite(x1) and np.isfinite(x2)) or x1 > x2:
        raise ValueError(f"bounds must be finite and ordered, got {bounds}")
    sqrt_eps = sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - sqrt(5.0))
    a, b = x1, x2
    fulc = a + golden_mean * (b - a)
    nfc, xf = fulc, fulc
    rat = e = 0.0
    x = xf
    fx = func(x)
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while np.abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = 1
        if np.abs(e) > tol1:  # a parabolic fit?
            golden = 0
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = np.abs(q)
            r = e
            e = rat
            if ((np.abs(p) < np.abs(0.5 * q * r)) and (p > q * (a - xf))
                    and (p < q * (b - xf))):  # the parabola is acceptable
                rat = (p + 0.0) / q
                x = xf + rat
                if ((x - a) < tol2) or ((b - x) < tol2):
                    si = np.sign(xm - xf) + ((xm - xf) == 0)
                    rat = tol1 * si
            else:
                golden = 1
        if golden:  # a golden-section step
            e = a - xf if xf >= xm else b - xf
            rat = golden_mean * e
        si = np.sign(rat) + (rat == 0)
        x = xf + si * np.maximum(np.abs(rat), tol1)
        fu = func(x)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if (fu <= fnfc) or (nfc == xf):
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif (fu <= ffulc) or (fulc == xf) or (fulc == nfc):
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxiter:
            break
    return float(xf), float(fx)
