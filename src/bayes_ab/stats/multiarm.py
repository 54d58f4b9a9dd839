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
"double down" loss of `bayes_ab.stats.decision`, and the loss of choosing Control is the "pivot"
loss; a test checks both against the closed forms of `bayes_ab.models.beta_binomial`.

The integrals are split at each arm's quantiles (so that no posterior concentrated in a
narrow sliver of [0, 1] is stepped over) and each piece is integrated by Gauss-Legendre
quadrature, vectorised over all arms (milliseconds); the results are checked against
adaptive quadrature and long Monte Carlo runs in the tests. The Beta and chi-square
functions are `bayes_ab.inference.exact`'s (scipy.stats' numbers, without importing it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bayes_ab.inference.exact import beta_cdf, beta_pdf, beta_ppf, chisquare
from bayes_ab.models.beta_binomial import BetaPosterior

__all__ = ["loss_of_choosing", "prob_best", "srm_check_k"]

_QUANTILES = (1e-15, 1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6,
              0.75, 0.9, 0.95, 0.99, 1 - 1e-3, 1 - 1e-4, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12,
              1 - 1e-15)
#: Gauss-Legendre nodes per piece: the integrands are smooth between two quantiles of each
#: Beta, where 48 nodes integrate them to ~1e-12 (checked against adaptive quadrature).
_NODES = 48


def _grid(posteriors: Sequence[BetaPosterior]) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights over [0, 1], split at each arm's quantiles."""
    q = np.asarray(_QUANTILES)
    pts = np.concatenate([[0.0, 1.0]] + [beta_ppf(q, p.alpha, p.beta) for p in posteriors])
    pts = np.unique(np.clip(pts, 0.0, 1.0))
    lo, hi = pts[:-1], pts[1:]
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    t, w = np.polynomial.legendre.leggauss(_NODES)
    half = (hi - lo)[:, None] / 2.0
    x = ((hi + lo)[:, None] / 2.0 + half * t[None, :]).ravel()
    return x, (half * w[None, :]).ravel()


def _cdfs_pdfs(posteriors: Sequence[BetaPosterior], x: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([p.alpha for p in posteriors])[:, None]
    b = np.array([p.beta for p in posteriors])[:, None]
    cdf = beta_cdf(x[None, :], a, b)
    pdf = beta_pdf(x[None, :], a, b)
    return cdf, pdf


def _others_product(cdf: np.ndarray) -> np.ndarray:
    """prod_{j != k} F_j(x) for every k, without dividing by a CDF that may be 0."""
    k = cdf.shape[0]
    out = np.empty_like(cdf)
    for i in range(k):
        out[i] = np.prod(np.delete(cdf, i, axis=0), axis=0)
    return out


def prob_best(posteriors: Sequence[BetaPosterior]) -> np.ndarray:
    """P(arm k has the highest rate), for every arm, by numerical integration."""
    posts = list(posteriors)
    if len(posts) < 2:
        raise ValueError("need at least two arms")
    x, w = _grid(posts)
    cdf, pdf = _cdfs_pdfs(posts, x)
    res = np.clip((pdf * _others_product(cdf)) @ w, 0.0, 1.0)
    return res / res.sum()


def loss_of_choosing(posteriors: Sequence[BetaPosterior]) -> np.ndarray:
    """E[max_j p_j - p_k] for every arm k (module docstring), by numerical integration."""
    posts = list(posteriors)
    if len(posts) < 2:
        raise ValueError("need at least two arms")
    x, w = _grid(posts)
    cdf, _ = _cdfs_pdfs(posts, x)
    return np.maximum((cdf * (1.0 - _others_product(cdf))) @ w, 0.0)


def srm_check_k(observed: Mapping[str, int], expected_shares: Mapping[str, float], *,
                alpha: float) -> dict:
    """Pearson chi-square (k - 1 df) of the arm sizes against the design's shares:
    ``{test, p_value, chi2, df, alpha, mismatch, expected_shares, observed, observed_shares}``."""
    arms = list(observed)
    n_obs = np.array([observed[a] for a in arms], dtype=float)
    shares = np.array([expected_shares[a] for a in arms], dtype=float)
    shares = shares / shares.sum()
    n = n_obs.sum()
    chi2, p = chisquare(n_obs, n * shares)
    return {
        "test": "chi-square",
        "p_value": p,
        "chi2": chi2,
        "df": len(arms) - 1,
        "alpha": float(alpha),
        "mismatch": bool(p < alpha),
        "expected_shares": {a: float(s) for a, s in zip(arms, shares, strict=True)},
        "observed": {a: int(o) for a, o in zip(arms, n_obs, strict=True)},
        "observed_shares": {a: float(o / n) for a, o in zip(arms, n_obs, strict=True)},
    }
