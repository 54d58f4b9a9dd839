"""Conversion against the number of tasks completed (0..3): a hierarchical monotonic model.

Estimands (docs/ESTIMANDS.md, ``completions_conversion.*``):

* ``rate_by_completions[k]`` = P(converted | n_completed = k), both arms pooled;
* ``odds_ratio_per_completion`` = exp(b) of the population logistic fit
  logit P(converted) = a + b * n_completed.

Model, on counts by arm x n_completed (one Binomial term per cell)::

    logit p[arm, k] = a[arm] + b[arm] * D * sum_{j <= k} zeta[j]        (D = 3 steps)
    zeta ~ Dirichlet(alpha)          shares of the 0 -> 3 change taken by each step
    a[arm] = mu_a + sigma_a * z_a    partially pooled across arms (non-centred,
    b[arm] = mu_b + sigma_b * z_b    z sums to zero over arms; sigma fixed by default)

This is brms' ``mo()`` monotonic effect: ``b`` is the average change in log-odds per
completion, and for a fixed sign of ``b`` the rates are monotone in k, with the shape
of the steps learned from the data instead of assumed linear.

The estimands are derived per posterior draw: the pooled rates weight the arms by
their share among the customers with k completions (so they are P(converted | k) in
the population the data came from), and the odds ratio is exp of the slope of the
logistic fit of those pooled rates with the observed counts of customers per k as
weights -- the same (weighted) population fit the estimand defines, solved exactly by
Newton's method on every draw rather than approximated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from bayes_ab.constants import ARMS
from bayes_ab.errors import DataError, OptionError
from bayes_ab.intervals import flat, interval, prob_greater
from bayes_ab.models.base import BayesModel, CountGrid

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pandas as pd
    import pymc as pm

    from bayes_ab.data.schema import ExperimentData

LEVELS = (0, 1, 2, 3)


def logistic_fit(p: np.ndarray, x: np.ndarray, w: np.ndarray, *, max_iter: int = 50,
                 tol: float = 1e-10) -> np.ndarray:
    """Coefficients of the weighted logistic fit of rates ``p`` on design ``x``, per draw.

    ``p``: (draws, cells) probabilities; ``x``: (cells, k) design (with an intercept
    column); ``w``: (cells,) weights (customers per cell). Solves the score equations
    sum_c w_c (p_c - expit(x_c beta)) x_c = 0 -- the maximum-likelihood fit on a
    population whose cells have these sizes and rates -- by Newton's method, vectorised
    over draws. Cells with zero weight do not count.
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    keep = w > 0
    p, x, w = p[:, keep], x[keep], w[keep]
    if x.shape[0] < x.shape[1]:
        raise DataError(f"a logistic fit with {x.shape[1]} coefficients needs as many cells "
                        f"with data, got {x.shape[0]}")
    pc = np.clip(p, 1e-9, 1 - 1e-9)
    # Start from weighted least squares on the logit scale: close, so Newton needs few steps.
    xtw = x.T * w
    beta = np.linalg.solve(xtw @ x, xtw @ np.log(pc / (1 - pc)).T).T
    for _ in range(max_iter):
        mu = 1.0 / (1.0 + np.exp(-(beta @ x.T)))
        grad = (w * (p - mu)) @ x
        hess = np.einsum("sc,ci,cj->sij", w * mu * (1 - mu), x, x)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    return beta


@dataclass(frozen=True)
class CompletionCounts(CountGrid):
    """Converted customers and customers, per arm (rows) and n_completed (columns)."""

    arms: tuple[str, ...]
    successes: tuple[tuple[int, ...], ...]
    trials: tuple[tuple[int, ...], ...]
    levels: tuple[int, ...] = LEVELS

    def __post_init__(self) -> None:
        arms = tuple(str(a) for a in self.arms)
        s = np.asarray(self.successes, dtype=np.int64)
        n = np.asarray(self.trials, dtype=np.int64)
        shape = (len(arms), len(self.levels))
        if s.shape != shape or n.shape != shape:
            raise DataError(f"counts must have shape arms x levels {shape}, "
                            f"got {s.shape}, {n.shape}")
        if (s < 0).any() or (s > n).any():
            raise DataError("successes must be in 0..trials in every arm x n_completed cell")
        if (n.sum(axis=1) == 0).any():
            raise DataError("every arm needs customers")
        if (n.sum(axis=0) > 0).sum() < 2:
            raise DataError("conversion against completions needs customers at two or more levels")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "levels", tuple(int(k) for k in self.levels))
        self._freeze_counts(s, n)

    def to_dict(self) -> dict:
        return {"arms": list(self.arms), "levels": list(self.levels),
                "successes": [list(r) for r in self.successes],
                "trials": [list(r) for r in self.trials]}

    @classmethod
    def from_dict(cls, d: dict) -> CompletionCounts:
        return cls(arms=tuple(d["arms"]), levels=tuple(d.get("levels", LEVELS)),
                   successes=tuple(map(tuple, d["successes"])),
                   trials=tuple(map(tuple, d["trials"])))

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, arm_col: str = "cohort",
                   level_col: str = "n_completed", outcome_col: str = "converted",
                   arms: tuple[str, ...] = ARMS) -> CompletionCounts:
        import pandas as pd

        for col in (arm_col, level_col, outcome_col):
            if col not in df.columns:
                raise DataError(f"column '{col}' not in the frame", column=col)
        levels = df[level_col].astype("int64")
        if not levels.isin(LEVELS).all():
            raise DataError(f"'{level_col}' must be in 0..3", column=level_col)
        table = (df[outcome_col].astype("int64")
                 .groupby([df[arm_col].astype(str), levels], observed=True)
                 .agg(["sum", "count"]))
        full = table.reindex(pd.MultiIndex.from_product([list(arms), list(LEVELS)]), fill_value=0)
        s = full["sum"].to_numpy().reshape(len(arms), len(LEVELS))
        n = full["count"].to_numpy().reshape(len(arms), len(LEVELS))
        return cls(arms=tuple(arms), successes=tuple(map(tuple, s)), trials=tuple(map(tuple, n)))

    @classmethod
    def from_experiment(cls, data: ExperimentData) -> CompletionCounts:
        """Every randomized customer, by cohort and number of tasks completed."""
        return cls.from_frame(data.frame)


def _group_sd(name: str, prior: dict):
    """A between-arm sd: a constant ("Fixed") or a learned HalfNormal."""
    import pymc as pm

    dist = prior.get("dist", "Fixed")
    if dist == "Fixed":
        return float(prior["value"])
    if dist == "HalfNormal":
        return pm.HalfNormal(name, sigma=float(prior["sigma"]))
    raise OptionError(f"{name}: prior dist must be 'Fixed' or 'HalfNormal', got {dist!r}")


class CompletionsConversion(BayesModel):
    """Hierarchical monotonic logistic model of conversion on n_completed, arms pooled partially."""

    name: ClassVar[str] = "completions_conversion"
    stats_type: ClassVar[type] = CompletionCounts
    default_priors: ClassVar[dict] = {
        # Population intercept: logit conversion at 0 completions; wide on the logit scale.
        "intercept": {"dist": "Normal", "mu": -2.0, "sigma": 2.0},
        # Arm-to-arm sd of the intercepts. Fixed by default: two arms cannot inform a
        # learned sd, and learning it (HalfNormal or Gamma, centred or not) left a funnel
        # with divergences on 20k customers; {"dist": "HalfNormal", "sigma": s} learns it.
        "intercept_sd": {"dist": "Fixed", "value": 0.5},
        # Average change in log-odds per completion (brms mo() scale).
        "slope": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
        "slope_sd": {"dist": "Fixed", "value": 0.25},
        # Dirichlet concentration of the step shares: 1 = any shape of the steps equally likely.
        "increments": {"dist": "Dirichlet", "alpha": 1.0},
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = (
        "mu_a", "mu_b", "sigma_a", "sigma_b", "a", "b", "step_share", "rate",
    )

    @property
    def coords(self) -> dict[str, list[str]]:
        lv = [str(k) for k in self.stats.levels]
        return {"arm": list(self.stats.arms), "n_completed": lv, "step": lv[1:]}

    def build(self) -> pm.Model:
        import pymc as pm
        import pytensor.tensor as pt

        s, pr = self.stats, self.priors
        n_steps = len(s.levels) - 1
        with pm.Model(coords=self.coords) as model:
            # Non-centred, and the arm offsets sum to zero so mu_a / mu_b are the arm
            # averages rather than a direction the sampler has to explore freely.
            mu_a = pm.Normal("mu_a", mu=pr["intercept"]["mu"], sigma=pr["intercept"]["sigma"])
            sigma_a = _group_sd("sigma_a", pr["intercept_sd"])
            z_a = pm.ZeroSumNormal("z_a", sigma=1.0, dims="arm")
            a = pm.Deterministic("a", mu_a + sigma_a * z_a, dims="arm")
            mu_b = pm.Normal("mu_b", mu=pr["slope"]["mu"], sigma=pr["slope"]["sigma"])
            sigma_b = _group_sd("sigma_b", pr["slope_sd"])
            z_b = pm.ZeroSumNormal("z_b", sigma=1.0, dims="arm")
            b = pm.Deterministic("b", mu_b + sigma_b * z_b, dims="arm")
            zeta = pm.Dirichlet("step_share", a=np.full(n_steps, float(pr["increments"]["alpha"])),
                                dims="step")
            cum = pt.concatenate([pt.zeros(1), pt.cumsum(zeta)]) * n_steps
            eta = a[:, None] + b[:, None] * cum[None, :]
            rate = pm.Deterministic("rate", pm.math.sigmoid(eta), dims=("arm", "n_completed"))
            pm.Binomial("converted", n=s.trials_array, p=rate, observed=s.successes_array,
                        dims=("arm", "n_completed"))
        return model

    # -- derived quantities ---------------------------------------------------------
    def arm_weights(self) -> np.ndarray:
        """P(arm | n_completed = k) as observed: (arms, levels); levels with no customers
        fall back on the overall arm shares."""
        n = self.stats.trials_array.astype(float)
        overall = n.sum(axis=1) / n.sum()
        col = n.sum(axis=0)
        return np.where(col > 0, n / np.where(col > 0, col, 1.0), overall[:, None])

    def pooled_rates(self, idata: az.InferenceData) -> np.ndarray:
        """Draws of P(converted | k), arms pooled: (draws, levels)."""
        rate = idata.posterior["rate"].transpose("chain", "draw", "arm", "n_completed").values
        rate = rate.reshape(-1, *rate.shape[2:])
        return np.einsum("sak,ak->sk", rate, self.arm_weights())

    def population_fit(self, pooled: np.ndarray) -> np.ndarray:
        """(draws, 2): intercept and slope of logit P = a + b k, customers per k as weights."""
        k = np.asarray(self.stats.levels, dtype=float)
        x = np.column_stack([np.ones_like(k), k])
        return logistic_fit(pooled, x, self.stats.trials_array.sum(axis=0))

    def summarize(self, idata: az.InferenceData) -> dict:
        post = idata.posterior
        levels = [str(k) for k in self.stats.levels]
        pooled = self.pooled_rates(idata)
        slope = self.population_fit(pooled)[:, 1]
        steps = np.diff(pooled, axis=1)
        return {
            "rate_by_completions": {lv: interval(pooled[:, i]) for i, lv in enumerate(levels)},
            # Posterior probability that the pooled rates rise strictly at every step; with
            # the monotone parameterisation this is P(the slope is positive in every arm).
            "prob_monotone_increasing": float(np.mean(np.all(steps > 0, axis=1))),
            "odds_ratio_per_completion": interval(np.exp(slope)),
            "log_odds_slope": interval(slope),
            "increments": {f"{levels[i]}->{levels[i + 1]}": interval(steps[:, i])
                           for i in range(steps.shape[1])},
            "step_share": {st: interval(flat(post["step_share"].sel(step=st)))
                           for st in levels[1:]},
            "slope_per_completion_mean": interval(flat(post["mu_b"])),
            "prob_slope_positive": prob_greater(flat(post["mu_b"])),
            "per_arm": {
                arm: {
                    "rate_by_completions": {
                        lv: interval(flat(post["rate"].sel(arm=arm, n_completed=lv)))
                        for lv in levels
                    },
                    "slope_per_completion": interval(flat(post["b"].sel(arm=arm))),
                }
                for arm in self.stats.arms
            },
        }

    def figures(self, idata: az.InferenceData, out_dir: str | Path) -> dict[str, Path]:
        from bayes_ab.plotting import standard_figures

        wanted = ["mu_a", "mu_b", "sigma_a", "sigma_b", "step_share"]
        return standard_figures(idata, name=self.name, out_dir=out_dir,
                                var_names=[v for v in wanted if v in idata.posterior],
                                forest_vars=["rate"])
