"""Priors from past experiments: a meta-analytic predictive prior for today's lift.

Input: a table of earlier experiments, one row each: ``experiment, lift, se`` (the lift
estimate and its standard error, in one scale: absolute differences of rates, or relative
lifts). Today's experiment must not be in it (it would count twice).

Model (the normal-normal hierarchical model of meta-analysis, non-centred):

    mu    ~ Normal(0, mu_sd)            average true lift of experiments like these
    tau   ~ HalfNormal(tau_sd)          spread of true lifts between experiments
    theta_j = mu + tau z_j, z_j ~ N(0, 1)
    lift_j ~ Normal(theta_j, se_j)

The *predictive prior* of a new experiment's true lift is theta_new ~ Normal(mu, tau),
averaged over the posterior of (mu, tau): it is wide when past experiments disagree (large
tau) or are few, and narrow only when many past experiments agree.

Applying it to today's estimate y (standard error s, a normal approximation of today's
likelihood): for each posterior draw k of (mu, tau), theta | y is Normal with precision
1/tau_k^2 + 1/s^2, and draw k is weighted by Normal(y | mu_k, tau_k^2 + s^2) (how well it
predicted today's estimate). The result is the exact posterior given the draws. The
*shrinkage* is the fraction of the way the estimate moves toward the prior mean:
(y - posterior mean) / (y - prior mean); 0 means the history changed nothing, 1 that today's
data were ignored.

Default priors are weakly informative for the scale: absolute lifts of a rate
mu_sd = tau_sd = 0.05 (5 percentage points); relative lifts mu_sd = tau_sd = 0.5 (50%).
The compare command's own posterior keeps its weakly informative Beta(1, 1) priors: the
history enters only this extra block, so the default analysis never depends on it.

Two ways to fit, same answer: PyMC sampled with nutpie (``fit_meta_prior``, the one the
CLI uses, with the diagnostics gate) and exact quadrature over tau with mu integrated in
closed form (``meta_prior_grid``: a check of the sampler, and fast enough for the coverage
tests that repeat the whole analysis hundreds of times).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import stats

from bayes_ab.constants import HDI_PROB
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.intervals import draws_interval

__all__ = ["DEFAULT_PRIORS", "MetaPrior", "MetaPriors", "PastExperiments", "Shrinkage",
           "apply_meta_prior", "fit_meta_prior", "lift_estimate", "meta_prior_grid",
           "prior_from_history_block", "read_past_experiments"]

Scale = Literal["abs", "rel"]

#: Weakly informative hyperpriors per scale: (mu_sd, tau_sd).
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {"abs": (0.05, 0.05), "rel": (0.5, 0.5)}

_ESTIMATE_NAMES = ("lift", "estimate", "lift_estimate", "effect", "delta", "diff")
_SE_NAMES = ("se", "standard_error", "std_error", "stderr", "lift_se", "se_lift")
_NAME_NAMES = ("experiment", "name", "id", "experiment_id", "test")


@dataclass(frozen=True)
class PastExperiments:
    """Lift estimates and standard errors of earlier experiments (one scale)."""

    names: tuple[str, ...]
    estimates: tuple[float, ...]
    ses: tuple[float, ...]
    scale: Scale = "abs"

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.estimates) == len(self.ses):
            raise DataError("names, estimates and standard errors must have the same length")
        if len(self.names) < 2:
            raise DataError("a meta-analytic prior needs at least two past experiments")
        se = np.asarray(self.ses, dtype=float)
        if not (np.all(np.isfinite(se)) and np.all(se > 0)):
            raise DataError("every standard error must be a positive number")
        if not np.all(np.isfinite(np.asarray(self.estimates, dtype=float))):
            raise DataError("every lift estimate must be a number")
        if self.scale not in DEFAULT_PRIORS:
            raise OptionError(f"scale must be 'abs' or 'rel', got {self.scale!r}")

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.estimates, dtype=float)

    @property
    def se(self) -> np.ndarray:
        return np.asarray(self.ses, dtype=float)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "estimates": list(self.estimates),
                "ses": list(self.ses), "scale": self.scale}


@dataclass(frozen=True)
class MetaPriors:
    """Hyperpriors: mu ~ Normal(0, mu_sd), tau ~ HalfNormal(tau_sd)."""

    mu_sd: float
    tau_sd: float

    @classmethod
    def default(cls, scale: Scale) -> MetaPriors:
        mu_sd, tau_sd = DEFAULT_PRIORS[scale]
        return cls(mu_sd, tau_sd)

    def to_dict(self) -> dict:
        return {"mu": f"Normal(0, {self.mu_sd:g})", "tau": f"HalfNormal({self.tau_sd:g})"}


@dataclass(frozen=True)
class MetaPrior:
    """Posterior draws of (mu, tau) and the predictive prior of a new experiment's lift."""

    mu: np.ndarray = field(repr=False)
    tau: np.ndarray = field(repr=False)
    predictive: np.ndarray = field(repr=False)
    past: PastExperiments
    priors: MetaPriors
    method: str
    diagnostics: dict | None = None

    def summary(self, *, prob: float = HDI_PROB) -> dict:
        return {
            "n_experiments": len(self.past.names),
            "scale": self.past.scale,
            "method": self.method,
            "priors": self.priors.to_dict(),
            "mu": draws_interval(self.mu, prob=prob),
            "tau": draws_interval(self.tau, prob=prob),
            "predictive_prior": {**draws_interval(self.predictive, prob=prob),
                                 "sd": float(np.std(self.predictive))},
            "diagnostics": self.diagnostics,
        }


@dataclass(frozen=True)
class Shrinkage:
    """Today's estimate before and after the predictive prior."""

    estimate: float
    se: float
    raw: dict
    shrunk: dict
    prior_mean: float
    shrinkage: float
    width_ratio: float
    prob_positive_raw: float
    prob_positive_shrunk: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": float(self.estimate), "se": float(self.se),
            "raw": self.raw, "shrunk": self.shrunk,
            "prior_mean": float(self.prior_mean),
            "shrinkage": float(self.shrinkage),
            "width_ratio": float(self.width_ratio),
            "prob_positive_raw": float(self.prob_positive_raw),
            "prob_positive_shrunk": float(self.prob_positive_shrunk),
        }


# --------------------------------------------------------------------------- reading


def _pick(columns: list[str], wanted: tuple[str, ...], what: str, file: str) -> str:
    for w in wanted:
        if w in columns:
            return w
    raise DataError(f"no {what} column; expected one of {', '.join(wanted)}; the file has: "
                    f"{', '.join(columns)}", file=file, column=wanted[0], lines=[1], n_rows=1)


def read_past_experiments(path: str | Path, *, scale: Scale = "abs") -> PastExperiments:
    """Read ``experiment, lift, se`` (aliases: estimate/effect, standard_error/stderr)."""
    import pandas as pd

    from bayes_ab.data.load import LINE, read_table

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", file=str(path))
    table = read_table(path)
    cols = [c for c in table.data.columns if c != LINE]
    ecol = _pick(cols, _ESTIMATE_NAMES, "lift estimate", table.name)
    scol = _pick(cols, _SE_NAMES, "standard error", table.name)
    names = (table.data[_pick(cols, _NAME_NAMES, "experiment name", table.name)]
             .astype(str).str.strip().tolist()
             if any(n in cols for n in _NAME_NAMES)
             else [f"experiment {i + 1}" for i in range(len(table.data))])
    lines = table.data[LINE].to_numpy()
    values = {}
    for col in (ecol, scol):
        v = pd.to_numeric(table.data[col].astype(str).str.strip(), errors="coerce").to_numpy()
        bad = ~np.isfinite(v) | ((v <= 0) if col == scol else False)
        if np.any(bad):
            need = "a positive number" if col == scol else "a number"
            raise DataError(f"every row needs {need}", file=table.name, column=col,
                            lines=lines[bad][:20], n_rows=int(np.sum(bad)))
        values[col] = v
    return PastExperiments(names=tuple(names), estimates=tuple(float(x) for x in values[ecol]),
                           ses=tuple(float(x) for x in values[scol]), scale=scale)


# --------------------------------------------------------------------------- fitting


def _predictive(mu: np.ndarray, tau: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return mu + tau * rng.standard_normal(mu.size)


def build_meta_model(past: PastExperiments, priors: MetaPriors):
    """The PyMC model (module docstring), named dims ``experiment``."""
    import pymc as pm

    with pm.Model(coords={"experiment": list(past.names)}) as model:
        mu = pm.Normal("mu", 0.0, priors.mu_sd)
        tau = pm.HalfNormal("tau", priors.tau_sd)
        z = pm.Normal("z", 0.0, 1.0, dims="experiment")
        theta = pm.Deterministic("theta", mu + tau * z, dims="experiment")
        pm.Normal("lift", theta, past.se, observed=past.y, dims="experiment")
    return model


def fit_meta_prior(past: PastExperiments, *, priors: MetaPriors | None = None,
                   config: SamplerConfig = SamplerConfig(target_accept=0.95)) -> MetaPrior:
    """Sample the hierarchical model (nutpie by default) and form the predictive prior."""
    from bayes_ab.inference.diagnostics import check
    from bayes_ab.inference.fit import sample
    from bayes_ab.inference.intervals import flat

    priors = priors or MetaPriors.default(past.scale)
    model = build_meta_model(past, priors)
    idata = sample(model, name="meta_prior", config=config,
                   model_config={"priors": priors.to_dict(), "past": past.to_dict()})
    mu, tau = flat(idata.posterior["mu"]), flat(idata.posterior["tau"])
    diag = check(idata, name="meta_prior", var_names=["mu", "tau", "z"]).to_dict()
    return MetaPrior(mu=mu, tau=tau, predictive=_predictive(mu, tau, config.seed), past=past,
                     priors=priors, method=f"PyMC ({config.sampler})", diagnostics=diag)


def meta_prior_grid(past: PastExperiments, *, priors: MetaPriors | None = None,
                    n_grid: int = 4000, n_draws: int = 20_000, seed: int = 0) -> MetaPrior:
    """Exact posterior: tau on a fine grid, mu | tau Normal in closed form."""
    priors = priors or MetaPriors.default(past.scale)
    y, se = past.y, past.se
    upper = max(5.0 * priors.tau_sd, 1e-12)
    tau = (np.arange(n_grid) + 0.5) * (upper / n_grid)
    v = se[None, :] ** 2 + tau[:, None] ** 2
    prec = 1.0 / priors.mu_sd**2 + np.sum(1.0 / v, axis=1)
    mu_hat = np.sum(y[None, :] / v, axis=1) / prec
    # log p(y | tau) = log p(y | mu_hat, tau) + log p(mu_hat) - log p(mu_hat | y, tau).
    log_ml = (np.sum(stats.norm.logpdf(y[None, :], mu_hat[:, None], np.sqrt(v)), axis=1)
              + stats.norm.logpdf(mu_hat, 0.0, priors.mu_sd)
              - stats.norm.logpdf(0.0, 0.0, 1.0 / np.sqrt(prec)))
    log_w = log_ml + stats.halfnorm.logpdf(tau, scale=priors.tau_sd)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    rng = np.random.default_rng(seed)
    k = rng.choice(n_grid, size=n_draws, p=w)
    tau_d = tau[k] + (rng.random(n_draws) - 0.5) * (upper / n_grid)
    mu_d = mu_hat[k] + rng.standard_normal(n_draws) / np.sqrt(prec[k])
    return MetaPrior(mu=mu_d, tau=np.abs(tau_d), predictive=_predictive(mu_d, tau_d, seed + 1),
                     past=past, priors=priors, method="exact quadrature over tau")


# --------------------------------------------------------------------------- applying


def apply_meta_prior(meta: MetaPrior, estimate: float, se: float, *, seed: int = 0,
                     n_draws: int = 20_000, prob: float = HDI_PROB) -> Shrinkage:
    """Posterior of today's lift under the predictive prior (module docstring)."""
    if not (np.isfinite(se) and se > 0):
        raise DataError(f"today's standard error must be positive, got {se}")
    mu, tau = meta.mu, np.maximum(meta.tau, 1e-12)
    log_w = stats.norm.logpdf(estimate, mu, np.sqrt(tau**2 + se**2))
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    prec = 1.0 / tau**2 + 1.0 / se**2
    mean = (mu / tau**2 + estimate / se**2) / prec
    rng = np.random.default_rng(seed)
    k = rng.choice(mu.size, size=n_draws, p=w)
    theta = mean[k] + rng.standard_normal(n_draws) / np.sqrt(prec[k])
    z = stats.norm.isf((1 - prob) / 2)
    raw = {"mean": float(estimate), "lower": float(estimate - z * se),
           "upper": float(estimate + z * se), "prob": prob}
    shrunk = draws_interval(theta, prob=prob)
    prior_mean = float(np.mean(meta.predictive))
    gap = estimate - prior_mean
    return Shrinkage(
        estimate=float(estimate), se=float(se), raw=raw, shrunk=shrunk, prior_mean=prior_mean,
        shrinkage=float((estimate - shrunk["mean"]) / gap) if abs(gap) > 1e-15 else 0.0,
        width_ratio=float((shrunk["upper"] - shrunk["lower"]) / (raw["upper"] - raw["lower"])),
        prob_positive_raw=float(stats.norm.sf(0.0, estimate, se)),
        prob_positive_shrunk=float(np.mean(theta > 0)),
    )


def lift_estimate(x_c: int, n_c: int, x_t: int, n_t: int, *, scale: Scale) -> tuple[float, float]:
    """Today's lift and its standard error (normal approximation): the absolute difference
    of rates, or the relative lift t / c - 1 with its delta-method standard error."""
    pc, pt = x_c / n_c, x_t / n_t
    if scale == "abs":
        return pt - pc, float(np.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c))
    if pc == 0 or pt == 0:
        raise DataError("a relative lift needs at least one success in each arm")
    r = pt / pc
    return r - 1.0, float(r * np.sqrt((1 - pt) / (n_t * pt) + (1 - pc) / (n_c * pc)))


def prior_from_history_block(meta: MetaPrior, today: dict[str, tuple[float, float]], *,
                             seed: int = 0, source: str | None = None) -> dict:
    """The compare.json ``prior_from_history`` block: the predictive prior, and per arm
    today's (estimate, se) before and after it."""
    return {
        "source": source,
        **meta.summary(),
        "arms": {arm: apply_meta_prior(meta, y, se, seed=seed).to_dict()
                 for arm, (y, se) in today.items()},
        "note": ("Extra view: the main posterior keeps its weakly informative Beta(1, 1) "
                 "priors; here today's normal-approximated lift is combined with the "
                 "predictive prior from the past experiments."),
    }
