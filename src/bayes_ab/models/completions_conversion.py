"""Conversion against the number of tasks completed (0..3): rates per k, no shape assumed.

Estimands (docs/ESTIMANDS.md, ``completions_conversion.*``):

* ``rate_by_completions[k]`` = P(converted | n_completed = k), both arms pooled;
* ``odds_ratio_per_completion`` = exp(b) of the population logistic fit
  logit P(converted) = a + b * n_completed (a summary of the four rates, whatever
  their shape).

These are *associations*. The number of tasks completed is not randomised: customers
who complete more can differ from those who complete fewer (in the simulator: in
ability and in whether they talked to CS), so a rate that rises with k does not say that completing a
task raises conversion (the simulator with no causal effect of completions still gives
an odds ratio of about 1.14, see tests). "Completed" means completed before the end of
the observation window, so the rates depend on the window's length. The randomised
comparison of the arms and the instrumental-variable model are the causal evidence.

Model, on counts by arm x n_completed (one Binomial term per cell)::

    logit p[arm, k] = mu[k] + sigma_arm * z[k, arm]
    mu[k] ~ Normal(m, s)                 one free log-odds per k: no shape assumed
    z[k, :] ~ ZeroSumNormal(1)           the arms' deviations at each k sum to zero;
    sigma_arm fixed (0.5) by default     arms partially pooled per k

``rate_by_completions`` pools the arms' rates per draw, weighting them by their share
among the customers with k completions. ``prob_monotone_increasing`` is the fraction of
posterior draws in which those pooled rates rise at every step 0 -> 1 -> 2 -> 3: the
model allows every ordering, so this probability is learned from the data, not built in.

Shapes are compared by PSIS-LOO in ``fit`` (``shape_comparison``): the same arm
structure with ``mu`` restricted to be *monotone* (non-decreasing: mu[k] = mu[0] + sum
of HalfNormal steps), *linear* in the log-odds (mu[k] = a + b k), or left
*unrestricted*. The LOO leaves out one *customer* (a Bernoulli term), computed exactly
from the (arm, k, converted) groups, all customers of a group sharing one value. Leaving
out a whole (arm, k) cell of the aggregated Binomial counts instead (arviz.compare on
8 cells) was tried and rejected: on the example every shape had Pareto k above 0.7
(0.95-1.16), i.e. the cell-level LOO estimates were unreliable.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bayes_ab.constants import ARMS
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig, sample
from bayes_ab.stats.frequentist import TrendTest
from bayes_ab.inference.intervals import flat, prob_draws_greater
from bayes_ab.models.base import BayesModel, CountGrid, model_data
from bayes_ab.models.priors import FIXED, Prior
from bayes_ab.results import Interval, Result, posterior_interval

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pandas as pd
    import pymc as pm
    from matplotlib.figure import Figure

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
class CompletionsConversionStats(CountGrid):
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
    def from_dict(cls, d: dict) -> CompletionsConversionStats:
        return cls(arms=tuple(d["arms"]), levels=tuple(d.get("levels", LEVELS)),
                   successes=tuple(map(tuple, d["successes"])),
                   trials=tuple(map(tuple, d["trials"])))

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, arm_col: str = "cohort",
                   level_col: str = "n_completed", outcome_col: str = "converted",
                   arms: tuple[str, ...] = ARMS) -> CompletionsConversionStats:
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
    def from_experiment(cls, data: ExperimentData) -> CompletionsConversionStats:
        """Every randomized customer, by cohort and number of tasks completed."""
        return cls.from_frame(data.frame)


def _group_sd(name: str, prior: Prior):
    """A between-arm sd: a constant (a Fixed prior) or a learned HalfNormal."""
    if prior.distribution not in (FIXED, "HalfNormal"):
        raise OptionError(f"{name}: prior dist must be 'Fixed' or 'HalfNormal', got "
                          f"{prior.distribution!r}")
    return prior.as_floats().create_variable(name)


#: The shapes of the per-k curve compared by LOO (the first is the reported model).
SHAPES = ("unrestricted", "monotone", "linear")

ASSOCIATION_NOTE = (
    "association, not an effect: the number of tasks completed is not randomised (customers "
    "who complete more differ in ability and in CS contact), and 'completed' means completed "
    "before the end of the observation window; the arm comparison and the IV model are the "
    "causal evidence")


@dataclass(frozen=True)
class RatesByCompletions(Result):
    """One arm's conversion rate by number of completed tasks."""

    rate_by_completions: Mapping[str, Interval]


@dataclass(frozen=True)
class CompletionsConversionResult(Result):
    """results.json ``completions_conversion``: conversion by number of completed tasks
    (an association). ``frequentist`` (the trend test) is added by the pipeline."""

    rate_by_completions: Mapping[str, Interval]
    prob_monotone_increasing: float
    odds_ratio_per_completion: Interval
    log_odds_slope: Interval
    increments: Mapping[str, Interval]
    prob_step_up: Mapping[str, float]
    per_arm: Mapping[str, RatesByCompletions]
    interpretation: str
    shape_comparison: Mapping[str, Any] | None = None
    frequentist: Mapping[str, Any] | TrendTest | None = None

    json_omit_none: ClassVar = frozenset({"shape_comparison", "frequentist"})


class CompletionsConversion(BayesModel):
    """Conversion rate per n_completed and arm (no shape), arms partially pooled per k;
    shapes of the curve compared by LOO."""

    name: ClassVar[str] = "completions_conversion"
    stats_type: ClassVar[type] = CompletionsConversionStats
    default_priors: ClassVar[dict[str, Prior]] = {
        # Arm-average log-odds of converting at each k (one per k; -2 ~ 12%): wide.
        "rate_logit": Prior("Normal", mu=-2.0, sigma=2.0),
        # Sd of the arms' deviations around mu[k]. Fixed by default: two arms cannot inform
        # a learned sd; Prior("HalfNormal", sigma=s) learns it.
        "arm_sd": Prior("Fixed", value=0.5),
        # Shape comparison only: the monotone shape's steps in log-odds (HalfNormal scale)
        # and the linear shape's slope per completion.
        "step": Prior("HalfNormal", sigma=1.0, dims="step"),
        "slope": Prior("Normal", mu=0.0, sigma=1.0),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = ("mu", "sigma_arm", "z_arm", "rate")

    def __init__(self, stats: CompletionsConversionStats, *, priors: dict | None = None,
                 compare_shapes: bool = True) -> None:
        super().__init__(stats, priors=priors)
        if self.priors["arm_sd"].distribution not in (FIXED, "HalfNormal"):
            raise OptionError("arm_sd: prior dist must be 'Fixed' or 'HalfNormal', got "
                              f"{self.priors['arm_sd'].distribution!r}")
        #: Fit the monotone and linear shapes too and compare them by LOO in `fit`.
        self.compare_shapes = bool(compare_shapes)

    @property
    def coords(self) -> dict[str, list[str]]:
        lv = [str(k) for k in self.stats.levels]
        return {"arm": list(self.stats.arms), "n_completed": lv, "step": lv[1:]}

    def build(self, shape: str = "unrestricted") -> pm.Model:
        import pymc as pm
        import pytensor.tensor as pt

        if shape not in SHAPES:
            raise OptionError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
        s, pr = self.stats, self.priors
        k = np.asarray(s.levels, dtype=float)
        lo = pr["rate_logit"]
        with pm.Model(coords=self.coords) as model:
            if shape == "unrestricted":
                mu = lo.create_variable("mu", dims="n_completed")
            elif shape == "monotone":
                mu0 = lo.create_variable("mu0")
                step = pr["step"].create_variable("step_up")
                mu = pm.Deterministic("mu", mu0 + pt.concatenate([pt.zeros(1), pt.cumsum(step)]),
                                      dims="n_completed")
            else:
                a = lo.create_variable("intercept")
                b = pr["slope"].create_variable("slope")
                k_x = model_data("level_x", k - k[0])
                mu = pm.Deterministic("mu", a + b * k_x, dims="n_completed")
            sigma = _group_sd("sigma_arm", pr["arm_sd"])
            z = pm.ZeroSumNormal("z_arm", sigma=1.0, dims=("n_completed", "arm"))
            eta = (mu[:, None] + sigma * z).T
            rate = pm.Deterministic("rate", pm.math.sigmoid(eta), dims=("arm", "n_completed"))
            # counts as data, not constants (bayes_ab.inference.compile_cache)
            pm.Binomial("converted", n=model_data("customers", s.trials_array), p=rate,
                        observed=model_data("converted_obs", s.successes_array),
                        dims=("arm", "n_completed"))
        return model

    # -- fitting with the shape comparison -------------------------------------------
    @property
    def fit_cost(self) -> float:  # type: ignore[override]
        """Three fits (free, monotone, linear) with the shape comparison, else one."""
        return float(len(SHAPES)) if self.compare_shapes else 1.0

    def fit_extras(self, idata: az.InferenceData, config: SamplerConfig) -> az.InferenceData:
        """With `compare_shapes`, the monotone and linear shapes fitted beside the
        unrestricted model's posterior ``idata`` (same sampler settings, seeds offset) and
        their LOO comparison kept in ``idata.attrs["shape_comparison"]`` (JSON)."""
        if not self.compare_shapes:
            return idata
        fits = {"unrestricted": idata}
        try:
            for i, shape in enumerate(SHAPES[1:], start=1):
                fits[shape] = sample(self.build(shape), name=f"{self.name}_{shape}",
                                     config=config.with_seed_offset(1000 * i),
                                     model_config=self.model_config())
            comparison = shape_comparison(fits, self.stats)
        except Exception as exc:  # noqa: BLE001 - a secondary output: say why it is missing
            comparison = {"error": f"the shape comparison could not be computed: {exc}"}
        idata.attrs["shape_comparison"] = json.dumps(comparison)
        return idata

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

    def summarize(self, idata: az.InferenceData) -> CompletionsConversionResult:
        post = idata.posterior
        levels = [str(k) for k in self.stats.levels]
        pooled = self.pooled_rates(idata)
        slope = self.population_fit(pooled)[:, 1]
        steps = np.diff(pooled, axis=1)
        return CompletionsConversionResult(
            rate_by_completions={lv: posterior_interval(pooled[:, i])
                                 for i, lv in enumerate(levels)},
            # Fraction of draws in which the pooled rates rise at every step. The model
            # puts no order on the rates, so this is learned from the data.
            prob_monotone_increasing=float(np.mean(np.all(steps > 0, axis=1))),
            odds_ratio_per_completion=posterior_interval(np.exp(slope)),
            log_odds_slope=posterior_interval(slope),
            increments={f"{levels[i]}->{levels[i + 1]}": posterior_interval(steps[:, i])
                        for i in range(steps.shape[1])},
            prob_step_up={f"{levels[i]}->{levels[i + 1]}": prob_draws_greater(steps[:, i])
                          for i in range(steps.shape[1])},
            per_arm={
                arm: RatesByCompletions({
                    lv: posterior_interval(flat(post["rate"].sel(arm=arm, n_completed=lv)))
                    for lv in levels})
                for arm in self.stats.arms
            },
            interpretation=ASSOCIATION_NOTE,
            shape_comparison=(json.loads(idata.attrs["shape_comparison"])
                              if "shape_comparison" in idata.attrs else None),
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures (`bayes_ab.plotting.standard_figures`), by kind; never saved."""
        from bayes_ab.plotting import standard_figures

        wanted = ["mu", "sigma_arm"]
        return standard_figures(idata, var_names=[v for v in wanted if v in idata.posterior],
                                forest_vars=["rate"])


def customer_loo(idata: az.InferenceData, stats: CompletionsConversionStats) -> dict:
    """PSIS-LOO with one customer left out at a time, from the cell rates' posterior.

    Customers of one (arm, k) cell with the same outcome have the same leave-one-out
    predictive density, so ``arviz.loo`` runs on the (at most) 2 x arms x levels distinct
    (cell, outcome) groups and each group counts as many times as it has customers. Returns
    ``elpd`` (sum over customers), ``se`` (sqrt(N var)), ``p_loo``, ``max_pareto_k`` and
    the per-group ``elpd_i`` and ``weights`` (for differences between models).
    """
    import arviz as az
    from scipy.special import logsumexp

    rate = idata.posterior["rate"].transpose("chain", "draw", "arm", "n_completed").values
    s, n = stats.successes_array.ravel(), stats.trials_array.ravel()
    rate = rate.reshape(*rate.shape[:2], -1)
    ll = np.concatenate([np.log(rate), np.log1p(-rate)], axis=-1)
    weights = np.concatenate([s, n - s]).astype(float)
    keep = weights > 0
    ll, weights = ll[..., keep], weights[keep]
    data = az.from_dict(posterior={"rate": rate}, log_likelihood={"converted": ll})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(data, pointwise=True)
    elpd_i = np.asarray(loo.loo_i.values, dtype=float)
    lpd_i = logsumexp(ll.reshape(-1, ll.shape[-1]), axis=0) - np.log(ll.shape[0] * ll.shape[1])
    total = weights.sum()
    elpd = float(weights @ elpd_i)
    var = float(weights @ (elpd_i - elpd / total) ** 2 / total)
    return {"elpd": elpd, "se": float(np.sqrt(total * var)),
            "p_loo": float(weights @ (lpd_i - elpd_i)),
            "max_pareto_k": float(np.max(loo.pareto_k.values)),
            "elpd_i": elpd_i, "weights": weights}


def shape_comparison(fits: dict[str, az.InferenceData], stats: CompletionsConversionStats) -> dict:
    """Compare the fitted shapes by leave-one-customer-out PSIS-LOO (`customer_loo`).

    Per shape: ``elpd_loo`` and its ``se``, ``elpd_diff`` to the best shape and the se
    of that difference (``dse``, from the per-customer differences, as ``arviz.compare``
    computes it), ``p_loo``, the largest Pareto k, and the fit's convergence numbers.
    ``best``: the shape with the highest elpd.
    """
    from bayes_ab.inference.diagnostics import check

    loos = {shape: customer_loo(idata, stats) for shape, idata in fits.items()}
    order = sorted(loos, key=lambda sh: -loos[sh]["elpd"])
    best = order[0]
    w = loos[best]["weights"]
    total = w.sum()
    shapes = {}
    for rank, shape in enumerate(order):
        diff_i = loos[best]["elpd_i"] - loos[shape]["elpd_i"]
        mean = float(w @ diff_i / total)
        diag = check(fits[shape], name=shape, var_names=["mu", "z_arm"])
        shapes[shape] = {
            "rank": rank, "elpd_loo": loos[shape]["elpd"], "se": loos[shape]["se"],
            "elpd_diff": float(w @ diff_i),
            "dse": float(np.sqrt(total * (w @ (diff_i - mean) ** 2) / total)),
            "p_loo": loos[shape]["p_loo"], "max_pareto_k": loos[shape]["max_pareto_k"],
            "diagnostics": {"max_r_hat": diag.max_r_hat, "min_ess_bulk": diag.min_ess_bulk,
                            "divergences": diag.divergences, "passed": bool(diag.passed)},
        }
    return {
        "method": "PSIS-LOO leaving out one customer (arviz.loo on the distinct "
                  "(arm, n_completed, converted) groups, each weighted by its customers); "
                  "elpd on the log scale, higher is better",
        "n_customers": int(total),
        "best": best,
        "shapes": shapes,
    }
