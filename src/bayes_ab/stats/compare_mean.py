"""Mean (continuous) outcomes for `bayes-ab compare`: spend, rounds played, revenue per row.

Bayesian model: the Bayesian bootstrap (Rubin 1981). Each arm's outcome distribution is
given the non-informative limit of a Dirichlet-process prior, so its posterior puts weights
w ~ Dirichlet(1, ..., 1) on the observed values, and the arm's mean is sum_i w_i y_i. No
normal (or any parametric) likelihood is assumed: a heavy right tail (one player with
49,854 rounds where the median is 16) shows up as a wider, right-skewed posterior of the
mean instead of being averaged into a symmetric interval. The mean itself stays sensitive
to such a tail; ``cap`` (e.g. 0.99) winsorises the outcome at that quantile of the pooled
rows first, and the report says how many rows were capped and at which value.

Draws are exact and fast: rows with the same value share one Gamma(count) weight (a sum of
``count`` independent Exp(1) weights is Gamma(count, 1)), so the cost grows with the number
of distinct values, not of rows. P(best) and the loss of choosing each arm come from the
same draws.

Frequentist cross-check: Welch's t-test (unequal variances) and its Welch-Satterthwaite
confidence interval of the difference of means (checked against scipy and statsmodels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from bayes_ab.constants import HDI_PROB
from bayes_ab.inference.intervals import draws_interval

__all__ = ["MEAN_DRAWS", "adjusted_mean_draws", "bootstrap_mean_draws", "cap_values",
           "cuped_adjust", "ols_adjusted", "welch_test"]

#: Posterior draws of each arm's mean.
MEAN_DRAWS = 20_000
#: Gamma variates generated per chunk (memory bound).
_CHUNK = 20_000_000


def cap_values(values: np.ndarray, q: float | None) -> tuple[np.ndarray, dict | None]:
    """Winsorise at the ``q`` quantile of all rows (upper tail); the values and a note."""
    if q is None:
        return values, None
    cap = float(np.quantile(values, q))
    capped = values > cap
    return np.minimum(values, cap), {"quantile": float(q), "value": cap,
                                     "rows_capped": int(capped.sum())}


def bootstrap_mean_draws(values: np.ndarray, *, n_draws: int = MEAN_DRAWS,
                         rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of the mean under the Bayesian bootstrap (module docstring)."""
    v, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    if v.size == 1:
        return np.full(n_draws, v[0])
    out = np.empty(n_draws)
    step = max(1, _CHUNK // v.size)
    for start in range(0, n_draws, step):
        stop = min(n_draws, start + step)
        g = rng.standard_gamma(counts.astype(float), size=(stop - start, v.size))
        out[start:stop] = (g @ v) / g.sum(axis=1)
    return out


def welch_test(control: np.ndarray, test: np.ndarray, *, prob: float = HDI_PROB) -> dict:
    """Welch's t-test of equal means, Test - Control, with its confidence interval."""
    c, t = np.asarray(control, dtype=float), np.asarray(test, dtype=float)
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    se = float(np.sqrt(vc + vt))
    diff = float(t.mean() - c.mean())
    if se > 0:
        res = stats.ttest_ind(t, c, equal_var=False)
        statistic, p = float(res.statistic), float(res.pvalue)
        df = (vc + vt) ** 2 / (vc**2 / (c.size - 1) + vt**2 / (t.size - 1))
        half = float(stats.t.ppf(0.5 + prob / 2, df)) * se
    else:
        # Every row of both arms has its arm's value: no sampling noise to test against.
        statistic, p, df, half = 0.0, (1.0 if diff == 0 else 0.0), float("inf"), 0.0
    return {"test": "welch", "statistic": statistic,
            "df": float(df), "p_value": p, "p_value_holm": p,
            "ci95_diff": {"mean": diff, "lower": diff - half, "upper": diff + half,
                          "prob": prob},
            "significant_95": bool(p < 1 - prob)}


def mean_arm_blocks(values_by_arm: dict[str, np.ndarray], arms: Sequence[str], *, seed: int
                    ) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Per non-control arm: control, test, lift_abs, lift_rel, prob_test_better (Bayesian
    bootstrap) and the Welch test; plus the draws per arm."""
    rng = np.random.default_rng(seed)
    draws = {a: bootstrap_mean_draws(values_by_arm[a], rng=rng) for a in arms}
    ctrl = arms[0]
    dc = draws[ctrl]
    blocks = {}
    for arm in arms[1:]:
        dt = draws[arm]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = dt / dc - 1.0
        # The Bayesian bootstrap's posterior mean of an arm's mean is its sample mean,
        # exactly: reported as such (the draws give the HDIs).
        mc, mt = float(np.mean(values_by_arm[ctrl])), float(np.mean(values_by_arm[arm]))
        blocks[arm] = {
            "control": {**draws_interval(dc), "mean": mc},
            "test": {**draws_interval(dt), "mean": mt},
            "lift_abs": {**draws_interval(dt - dc), "mean": mt - mc},
            "lift_rel": draws_interval(rel) if np.all(np.isfinite(rel)) else None,
            "prob_test_better": float(np.mean(dt > dc)),
            "frequentist": welch_test(values_by_arm[ctrl], values_by_arm[arm]),
        }
    return blocks, draws


def best_and_loss(draws: dict[str, np.ndarray], arms: Sequence[str], *,
                  higher_is_better: bool = True) -> tuple[dict[str, float], dict[str, float]]:
    """P(best) and E[best of all - arm] per arm, from the posterior draws."""
    d = np.stack([draws[a] for a in arms]) * (1.0 if higher_is_better else -1.0)
    best = np.bincount(d.argmax(0), minlength=len(arms)) / d.shape[1]
    loss = (d.max(0) - d).mean(1)
    return ({a: float(b) for a, b in zip(arms, best, strict=True)},
            {a: float(x) for a, x in zip(arms, loss, strict=True)})


# ---------------------------------------------------------------------------- CUPED

#: Gamma variates one adjusted arm may cost (distinct values x draws); above it the draws
#: fall to ``_MIN_ADJ_DRAWS``, and beyond that the large-sample normal form is used.
_ADJ_BUDGET = 20_000_000
_MIN_ADJ_DRAWS = 2_000


def cuped_adjust(y: np.ndarray, x: np.ndarray, groups: np.ndarray, arms: Sequence[str]
                 ) -> tuple[np.ndarray, float]:
    """CUPED / regression adjustment: y - theta (x - mean x), theta the pooled within-arm
    OLS slope of y on x (sum over arms of the centred cross-products over the centred
    squares), which is the covariate's coefficient in OLS y ~ arm + x (Frisch-Waugh), so
    each arm's adjusted mean difference equals that regression's arm coefficient."""
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    xc, yc = x.copy(), y.copy()
    for a in arms:
        m = groups == a
        xc[m] -= x[m].mean()
        yc[m] -= y[m].mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        raise ValueError("the covariate is constant within every arm")
    theta = float(xc @ yc) / sxx
    return y - theta * (x - x.mean()), theta


def adjusted_mean_draws(values: np.ndarray, *, rng: np.random.Generator,
                        n_draws: int = MEAN_DRAWS, distinct: int | None = None
                        ) -> tuple[np.ndarray, str]:
    """Posterior draws of an arm's mean of adjusted (continuous) values: the Bayesian
    bootstrap, with fewer draws when there are many distinct values, and its large-sample
    normal form (mean ybar, variance sum (y - ybar)^2 / (n (n + 1)): the bootstrap's exact
    moments) when even ``_MIN_ADJ_DRAWS`` would cost more than the budget."""
    v = np.asarray(values, dtype=float)
    # ``distinct``: the most distinct values of any arm, so every arm gets as many draws.
    distinct = np.unique(v).size if distinct is None else distinct
    k = int(min(n_draws, _ADJ_BUDGET // max(distinct, 1)))
    if k >= _MIN_ADJ_DRAWS:
        return bootstrap_mean_draws(v, n_draws=k, rng=rng), f"Bayesian bootstrap, {k:,} draws"
    sd = float(np.sqrt(np.sum((v - v.mean()) ** 2) / (v.size * (v.size + 1.0))))
    return (v.mean() + sd * rng.standard_normal(n_draws),
            f"the normal form of the Bayesian bootstrap (its exact mean and variance), "
            f"{n_draws:,} draws: {distinct:,} distinct adjusted values make exact draws slow")


def ols_adjusted(y: np.ndarray, x: np.ndarray | None, groups: np.ndarray,
                 arms: Sequence[str], *, cov_type: str = "HC2", prob: float = HDI_PROB
                 ) -> dict[str, dict]:
    """OLS of y on arm dummies (control the baseline) and the centred covariate, with
    heteroscedasticity-robust (``cov_type``) standard errors: per non-control arm its
    coefficient (the adjusted difference of means), se, z, p and CI. ``x=None``: the
    unadjusted regression (its HC2 variance is Welch's, s_c^2/n_c + s_t^2/n_t)."""
    from statsmodels.regression.linear_model import OLS

    cols = [np.ones(len(y))] + [(groups == a).astype(float) for a in arms[1:]]
    if x is not None:
        cols.append(np.asarray(x, dtype=float) - float(np.mean(x)))
    fit = OLS(np.asarray(y, dtype=float), np.column_stack(cols)).fit(cov_type=cov_type)
    ci = fit.conf_int(alpha=1 - prob)
    out = {}
    for j, a in enumerate(arms[1:], start=1):
        coef, se = float(fit.params[j]), float(fit.bse[j])
        p = float(fit.pvalues[j]) if se > 0 else (1.0 if coef == 0 else 0.0)
        out[a] = {"test": f"ols_{cov_type.lower()}", "statistic": float(fit.tvalues[j])
                  if se > 0 else 0.0, "se": se, "p_value": p, "p_value_holm": p,
                  "ci95_diff": {"mean": coef, "lower": float(ci[j, 0]),
                                "upper": float(ci[j, 1]), "prob": prob},
                  "significant_95": bool(p < 1 - prob)}
    return out
