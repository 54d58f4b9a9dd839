"""Several arms at once: P(best) per arm, the loss of choosing each arm against the best of
all, and the sample-ratio check of k arms. Exact for independent Beta posteriors (numerical
integration of one-dimensional integrals), no sampler.

For independent posteriors with CDFs F_j and densities f_j (every arm, control included):

    P(arm k is best)             = integral of f_k(x) prod_{j != k} F_j(x) dx
    loss of choosing arm k       = E[max_j p_j - p_k]
                                 = integral of F_k(x) (1 - prod_{j != k} F_j(x)) dx

(the second from E[max_j p_j] = integral of 1 - prod_j F_j and E[p_k] = integral of
1 - F_k, subtracted under the integral so that a tiny loss is not the difference of two
large numbers). With two arms the loss of choosing Test is E[max(0, control - test)], the
"double down" loss of `bayes_ab.decision`, and the loss of choosing Control is the "pivot"
loss; a test checks both against the closed forms of `bayes_ab.models.beta_binomial`.

The integrals are split at each arm's quantiles, so that quad never steps over a posterior
concentrated in a narrow sliver of [0, 1]; the result is checked against long Monte Carlo
runs in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import integrate, stats

from bayes_ab.models.beta_binomial import BetaPosterior

__all__ = ["loss_of_choosing", "prob_best", "srm_check_k"]

_QUANTILES = (1e-15, 1e-9, 1e-6, 1e-4, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1 - 1e-4,
              1 - 1e-6, 1 - 1e-9, 1 - 1e-15)


def _breakpoints(posteriors: Sequence[BetaPosterior]) -> np.ndarray:
    q = np.asarray(_QUANTILES)
    pts = np.concatenate([p.dist.ppf(q) for p in posteriors])
    pts = np.unique(np.clip(pts, 0.0, 1.0))
    return pts


def _piecewise(f, points: np.ndarray) -> float:
    total = 0.0
    for lo, hi in zip(points[:-1], points[1:], strict=True):
        if hi > lo:
            val, _ = integrate.quad(f, lo, hi, epsabs=1e-15, epsrel=1e-10, limit=200)
            total += val
    return float(total)


def prob_best(posteriors: Sequence[BetaPosterior]) -> np.ndarray:
    """P(arm k has the highest rate), for every arm, by numerical integration."""
    posts = list(posteriors)
    if len(posts) < 2:
        raise ValueError("need at least two arms")
    pts = _breakpoints(posts)
    out = []
    for k, pk in enumerate(posts):
        others = [p.dist for j, p in enumerate(posts) if j != k]
        dk = pk.dist

        def f(x, dk=dk, others=others):
            v = dk.pdf(x)
            for d in others:
                v *= d.cdf(x)
            return v

        out.append(_piecewise(f, pts))
    res = np.clip(np.asarray(out), 0.0, 1.0)
    return res / res.sum()


def loss_of_choosing(posteriors: Sequence[BetaPosterior]) -> np.ndarray:
    """E[max_j p_j - p_k] for every arm k (module docstring), by numerical integration."""
    posts = list(posteriors)
    if len(posts) < 2:
        raise ValueError("need at least two arms")
    pts = _breakpoints(posts)
    out = []
    for k, pk in enumerate(posts):
        others = [p.dist for j, p in enumerate(posts) if j != k]
        dk = pk.dist

        def f(x, dk=dk, others=others):
            prod = 1.0
            for d in others:
                prod *= d.cdf(x)
            return dk.cdf(x) * (1.0 - prod)

        out.append(max(_piecewise(f, pts), 0.0))
    return np.asarray(out)


def srm_check_k(observed: Mapping[str, int], expected_shares: Mapping[str, float], *,
                alpha: float) -> dict:
    """Pearson chi-square (k - 1 df) of the arm sizes against the design's shares:
    ``{test, p_value, chi2, df, alpha, mismatch, expected_shares, observed, observed_shares}``."""
    arms = list(observed)
    n_obs = np.array([observed[a] for a in arms], dtype=float)
    shares = np.array([expected_shares[a] for a in arms], dtype=float)
    shares = shares / shares.sum()
    n = n_obs.sum()
    res = stats.chisquare(n_obs, f_exp=n * shares)
    p = float(res.pvalue)
    return {
        "test": "chi-square",
        "p_value": p,
        "chi2": float(res.statistic),
        "df": len(arms) - 1,
        "alpha": float(alpha),
        "mismatch": bool(p < alpha),
        "expected_shares": {a: float(s) for a, s in zip(arms, shares, strict=True)},
        "observed": {a: int(o) for a, o in zip(arms, n_obs, strict=True)},
        "observed_shares": {a: float(o / n) for a, o in zip(arms, n_obs, strict=True)},
    }
