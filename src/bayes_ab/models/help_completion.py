"""Does CS help lead to completing the flagged task more often than OTHER?

Estimand (docs/ESTIMANDS.md, ``help_completion``): per help flag, the probability that
the customer later completes the task the flag was raised on, flags of all tasks and
both arms pooled, by the channel chosen at that flag; ``diff`` = CS - OTHER.

Data: one row per flag (``ExperimentData.help_episodes``) aggregated to counts of flags
and completions per channel x task x arm (12 cells), so sampling cost does not depend on
the number of customers.

Model (logistic, partial pooling across the three tasks)::

    logit p[c, t, a] = alpha[t] + [c = CS] * beta[t] + [a = Test] * gamma
    alpha[t] ~ Normal(mu_alpha, tau_alpha)                    task intercepts, pooled
    beta[t]  ~ Normal(mu_beta, tau_beta)                      CS effect by task, pooled
    completed[c, t, a] ~ Binomial(flags[c, t, a], p[c, t, a])

Between-task sds: fixed by default (``{"value": 1.0}`` for the intercepts, ``{"value":
0.25}`` for the CS effect: the CS effect is expected to differ between tasks by about a
quarter on the log-odds scale). With three tasks a learned sd is barely identified and,
with thousands of flags per task, its posterior is a funnel that NUTS crosses with
divergences whatever the parameterisation: measured on the shipped example at 4 x 1000
draws, a learned HalfNormal / Gamma(2, 10) sd gave 1-95 divergences over four seeds even at
target_accept 0.95-0.99, the fixed sds 0 divergences and bulk ESS ~4000 at 0.9 (the same
choice as the between-arm sd of ``completions_conversion``). A learned sd stays available:
``priors={"cs_effect_sd": {"sigma": 0.5}}`` (HalfNormal; then the CS effects are
non-centered, the intercepts centered when every task x channel has at least
``CENTERED_MIN_FLAGS`` flags, and ``fit`` raises target_accept to 0.99), and the
diagnostics gate flags it if it diverges.

How the channel rates target the estimand: the rate of channel ``c`` is the model's
completion probability averaged over *that channel's own* flags' task x arm mix,
``rate[c] = sum_{t,a} w[c,t,a] p[c,t,a]`` with ``w[c,t,a] = flags[c,t,a] / flags[c]``.
This is exactly P(completed | channel = c) over the population of flags (the estimand,
an observational comparison), and it equals the raw completion rate of the channel when
the model fits the cells. ``standardize="overall"`` instead weights both channels by the
pooled flag mix (a task/arm-adjusted contrast); it answers a different, adjusted question
and is offered for sensitivity, not as the reported estimand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from bayes_ab.constants import ARMS, CHANNELS, TASKS
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.intervals import prob_draws_greater
from bayes_ab.models.base import BayesModel, model_data
from bayes_ab.models.priors import FIXED, Prior
from bayes_ab.results import Interval, Result, posterior_interval

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm
    from matplotlib.figure import Figure

    from bayes_ab.data.schema import ExperimentData

Standardize = Literal["channel", "overall"]
Parameterization = Literal["auto", "centered", "non_centered"]

#: Step-size target this model needs for divergence-free sampling (measured: 0.9 gave
#: 8-270 divergences in 4000 draws depending on the parameterisation, 0.99 none).
MIN_TARGET_ACCEPT = 0.99

#: With at least this many flags in every task x channel, "auto" uses the centered form.
CENTERED_MIN_FLAGS = 200

__all__ = ["HelpCompletion", "HelpCompletionStats"]


def _as_int_array(rows, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(rows, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{what} must have shape {shape} (channel x task x arm), got {arr.shape}")
    if np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ValueError(f"{what} must be non-negative whole numbers")
    return arr.astype(np.int64)


def _group_sd(name: str, prior: Prior):
    """A learned between-task sd (a HalfNormal prior), or a fixed one (a Fixed prior)."""
    if prior.distribution not in (FIXED, "HalfNormal"):
        raise OptionError(f"{name}: prior dist must be 'Fixed' or 'HalfNormal', got "
                          f"{prior.distribution!r}")
    return prior.create_variable(name)


def _freeze(arr: np.ndarray) -> tuple:
    return tuple(_freeze(x) for x in arr) if arr.ndim > 1 else tuple(int(x) for x in arr)


@dataclass(frozen=True)
class HelpCompletionStats:
    """Flags and completions per channel (CS, OTHER) x task (1, 2, 3) x arm (Control, Test)."""

    flags: tuple
    completed: tuple

    def __post_init__(self) -> None:
        shape = (len(CHANNELS), len(TASKS), len(ARMS))
        flags = _as_int_array(self.flags, shape, "flags")
        completed = _as_int_array(self.completed, shape, "completed")
        if np.any(completed > flags):
            raise ValueError("completed must not exceed flags in any cell")
        object.__setattr__(self, "flags", _freeze(flags))
        object.__setattr__(self, "completed", _freeze(completed))

    @property
    def flags_array(self) -> np.ndarray:
        return np.asarray(self.flags, dtype=np.int64)

    @property
    def completed_array(self) -> np.ndarray:
        return np.asarray(self.completed, dtype=np.int64)

    def raw_rate(self, channel: str) -> float:
        """Observed completion rate of a channel's flags (the sample estimand)."""
        c = CHANNELS.index(channel)
        n = self.flags_array[c].sum()
        return float(self.completed_array[c].sum() / n) if n else float("nan")

    def to_dict(self) -> dict:
        return {"flags": [list(map(list, x)) for x in self.flags],
                "completed": [list(map(list, x)) for x in self.completed]}

    @classmethod
    def from_dict(cls, d: dict) -> HelpCompletionStats:
        return cls(flags=d["flags"], completed=d["completed"])

    @classmethod
    def from_episodes(cls, episodes) -> HelpCompletionStats:
        """Aggregate a help-episode table (columns channel, task, cohort, completed)."""
        import pandas as pd

        missing = {"channel", "task", "cohort", "completed"} - set(episodes.columns)
        if missing:
            raise DataError(f"help episodes lack column(s) {sorted(missing)}")
        df = pd.DataFrame({
            "channel": episodes["channel"].astype(str),
            "task": episodes["task"].astype(int),
            "cohort": episodes["cohort"].astype(str),
            "completed": episodes["completed"].astype(bool).astype(int),
        })
        bad = ~df["channel"].isin(CHANNELS) | ~df["task"].isin(TASKS) | ~df["cohort"].isin(ARMS)
        if bad.any():
            raise DataError(f"{int(bad.sum())} help episode(s) with unknown channel/task/cohort")
        index = pd.MultiIndex.from_product([CHANNELS, TASKS, ARMS],
                                           names=["channel", "task", "cohort"])
        agg = df.groupby(["channel", "task", "cohort"])["completed"].agg(["size", "sum"])
        agg = agg.reindex(index, fill_value=0)
        shape = (len(CHANNELS), len(TASKS), len(ARMS))
        return cls(flags=agg["size"].to_numpy().reshape(shape),
                   completed=agg["sum"].to_numpy().reshape(shape))

    @classmethod
    def from_experiment(cls, data: ExperimentData) -> HelpCompletionStats:
        if len(data.help_episodes) == 0:
            raise DataError("no help flags in the data: the help-completion model needs some")
        return cls.from_episodes(data.help_episodes)


@dataclass(frozen=True)
class TaskChannelComparison(Result):
    """Completion after a CS flag against after an OTHER flag, for one task."""

    cs: Interval
    other: Interval
    diff: Interval
    prob_cs_better: float
    log_odds_cs: Interval


@dataclass(frozen=True)
class HelpCompletionResult(Result):
    """results.json ``help_channels.completion``: completion after a CS flag against after an
    OTHER flag (``diff`` = CS - OTHER), overall and per task."""

    cs: Interval
    other: Interval
    diff: Interval
    prob_cs_better: float
    log_odds_cs_mean: Interval
    per_task: Mapping[str, TaskChannelComparison]
    n_flags: Mapping[str, int]
    observed_rate: Mapping[str, float]
    standardization: str


class HelpCompletion(BayesModel):
    """Completion after a help flag by channel, tasks partially pooled (see module doc)."""

    name: ClassVar[str] = "help_completion"
    stats_type: ClassVar[type] = HelpCompletionStats
    default_priors: ClassVar[dict[str, Prior]] = {
        # Mean log-odds of completing a task after an OTHER-channel flag in Control.
        "task_intercept_mean": Prior("Normal", mu=0.0, sigma=1.5),
        # Between-task sd of those intercepts: fixed (three tasks cannot learn it);
        # Prior("HalfNormal", sigma=s) learns it.
        "task_intercept_sd": Prior("Fixed", value=1.0),
        # Mean CS - OTHER difference in log-odds, and its between-task sd (fixed).
        "cs_effect_mean": Prior("Normal", mu=0.0, sigma=1.0),
        "cs_effect_sd": Prior("Fixed", value=0.25),
        # Test - Control in log-odds.
        "arm_effect": Prior("Normal", mu=0.0, sigma=1.0),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = (
        "mu_alpha", "sigma_alpha", "alpha", "mu_beta", "sigma_beta", "beta", "gamma",
    )  # sigma_* only exist when learned; the gate skips absent names

    def __init__(self, stats: HelpCompletionStats, *, priors: dict | None = None,
                 standardize: Standardize = "channel",
                 parameterization: Parameterization = "auto") -> None:
        if standardize not in ("channel", "overall"):
            raise OptionError(f"standardize must be 'channel' or 'overall', got {standardize!r}")
        if parameterization not in ("auto", "centered", "non_centered"):
            raise OptionError(f"unknown parameterization {parameterization!r}")
        super().__init__(stats, priors=priors)
        self.standardize = standardize
        self.parameterization = parameterization

    @property
    def coords(self) -> dict:
        return {"channel": list(CHANNELS), "task": list(TASKS), "arm": list(ARMS)}

    def build(self) -> pm.Model:
        import pymc as pm

        pr = self.priors
        flags = self.stats.flags_array
        completed = self.stats.completed_array
        is_cs = np.array([1.0, 0.0])[:, None, None]
        is_test = np.array([0.0, 1.0])[None, None, :]
        with pm.Model(coords=self.coords) as model:
            mu_alpha = pr["task_intercept_mean"].create_variable("mu_alpha")
            mu_beta = pr["cs_effect_mean"].create_variable("mu_beta")
            if self.fixed_sds:
                # Centered with known sds: a correlated Gaussian prior, no funnel.
                alpha = pm.Normal("alpha", mu_alpha, pr["task_intercept_sd"]["value"], dims="task")
                beta = pm.Normal("beta", mu_beta, pr["cs_effect_sd"]["value"], dims="task")
            else:
                sigma_alpha = _group_sd("sigma_alpha", pr["task_intercept_sd"])
                alpha = self._intercepts(mu_alpha, sigma_alpha)
                sigma_beta = _group_sd("sigma_beta", pr["cs_effect_sd"])
                # Non-centered: the CS effect barely varies by task, so sigma_beta sits near
                # zero, where the centered form is a funnel.
                z_beta = pm.Normal("z_beta", 0.0, 1.0, dims="task")
                beta = pm.Deterministic("beta", mu_beta + sigma_beta * z_beta, dims="task")
            gamma = pr["arm_effect"].create_variable("gamma")
            logit_p = alpha[None, :, None] + is_cs * beta[None, :, None] + is_test * gamma
            p = pm.Deterministic("p", pm.math.sigmoid(logit_p), dims=("channel", "task", "arm"))
            # counts as data, not constants: the compiled model does not depend on them
            # (bayes_ab.inference.compile_cache reuses it for any counts of these shapes)
            pm.Binomial("completed", n=model_data("flags", flags), p=p,
                        observed=model_data("completed_obs", completed),
                        dims=("channel", "task", "arm"))
        return model

    def _intercepts(self, mu, sigma):
        """Task intercepts: non-centered (z-scores) when the data per task are thin, centered
        when they are rich, because rich data pin each intercept and the non-centered form
        then turns into a narrow curved ridge that NUTS crosses with divergences
        (Betancourt & Girolami 2015)."""
        import pymc as pm

        if self.centered:
            return pm.Normal("alpha", mu, sigma, dims="task")
        z = pm.Normal("z_alpha", 0.0, 1.0, dims="task")
        return pm.Deterministic("alpha", mu + sigma * z, dims="task")

    @property
    def fixed_sds(self) -> bool:
        """Both between-task sds given as values (the default) rather than learned."""
        return all(self.priors[k].is_fixed for k in ("task_intercept_sd", "cs_effect_sd"))

    def fit_posterior(self, config: SamplerConfig = SamplerConfig()):
        """Sample; with learned between-task sds, target_accept is raised to at least
        MIN_TARGET_ACCEPT (recorded in attrs): three tasks give those scales long tails."""
        if not self.fixed_sds and config.target_accept < MIN_TARGET_ACCEPT:
            config = replace(config, target_accept=MIN_TARGET_ACCEPT)
        return super().fit_posterior(config)

    @property
    def centered(self) -> bool:
        if self.parameterization == "auto":
            per_task_channel = self.stats.flags_array.sum(axis=2)
            return bool(per_task_channel.min() >= CENTERED_MIN_FLAGS)
        return self.parameterization == "centered"

    def model_config(self) -> dict:
        return {**super().model_config(), "standardize": self.standardize,
                "parameterization": self.parameterization}

    @classmethod
    def load(cls, path):
        from bayes_ab.inference.fit import load_idata

        idata, model_config, _ = load_idata(path)
        stats = cls.stats_type.from_dict(model_config["stats"])
        return idata, cls(stats, priors=model_config.get("priors"),
                          standardize=model_config.get("standardize", "channel"),
                          parameterization=model_config.get("parameterization", "auto"))

    # -- derived quantities ------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """Weights over task x arm per channel, shape (channel, task, arm), each summing to 1."""
        flags = self.stats.flags_array.astype(float)
        if self.standardize == "overall":
            pooled = flags.sum(axis=0, keepdims=True)
            w = np.broadcast_to(pooled / pooled.sum(), flags.shape).copy()
        else:
            totals = flags.sum(axis=(1, 2), keepdims=True)
            w = np.divide(flags, totals, out=np.zeros_like(flags), where=totals > 0)
            # A channel without flags gets the pooled mix so that its rate is still defined.
            for c in range(flags.shape[0]):
                if totals[c, 0, 0] == 0:
                    pooled = flags.sum(axis=0)
                    w[c] = pooled / pooled.sum()
        return w

    def channel_rates(self, idata: az.InferenceData) -> np.ndarray:
        """Draws x channel of the channel completion rates (standardised as documented)."""
        p = idata.posterior["p"].transpose("chain", "draw", "channel", "task", "arm").values
        p = p.reshape(-1, *p.shape[2:])
        return np.einsum("scta,cta->sc", p, self.weights())

    def task_rates(self, idata: az.InferenceData) -> np.ndarray:
        """Draws x channel x task: completion probability within a task, averaged over the
        task's flags' arm mix (both channels weighted alike, so the task contrast is adjusted)."""
        p = idata.posterior["p"].transpose("chain", "draw", "channel", "task", "arm").values
        p = p.reshape(-1, *p.shape[2:])
        flags = self.stats.flags_array.astype(float).sum(axis=0)  # task x arm
        tot = flags.sum(axis=1, keepdims=True)
        w = np.divide(flags, tot, out=np.full_like(flags, 0.5), where=tot > 0)
        return np.einsum("scta,ta->sct", p, w)

    def summarize(self, idata: az.InferenceData) -> HelpCompletionResult:
        rates = self.channel_rates(idata)
        cs, other = rates[:, 0], rates[:, 1]
        diff = cs - other
        by_task = self.task_rates(idata)
        per_task = {}
        for k, task in enumerate(TASKS):
            d = by_task[:, 0, k] - by_task[:, 1, k]
            per_task[str(task)] = TaskChannelComparison(
                cs=posterior_interval(by_task[:, 0, k]),
                other=posterior_interval(by_task[:, 1, k]),
                diff=posterior_interval(d), prob_cs_better=prob_draws_greater(d),
                log_odds_cs=posterior_interval(idata.posterior["beta"].sel(task=task).values),
            )
        return HelpCompletionResult(
            cs=posterior_interval(cs),
            other=posterior_interval(other),
            diff=posterior_interval(diff),
            prob_cs_better=prob_draws_greater(diff),
            log_odds_cs_mean=posterior_interval(idata.posterior["mu_beta"].values),
            per_task=per_task,
            n_flags={ch.lower(): int(self.stats.flags_array[c].sum())
                     for c, ch in enumerate(CHANNELS)},
            observed_rate={ch.lower(): self.stats.raw_rate(ch) for ch in CHANNELS},
            standardization=(
                "each channel averaged over its own flags' task x arm mix (P(completed | channel))"
                if self.standardize == "channel" else
                "both channels averaged over the pooled flags' task x arm mix (adjusted contrast)"
            ),
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures by kind, and ``rates``: the posterior completion rate by channel
        and task (95% HDI) with the observed rates. Never saved."""
        from bayes_ab.plotting import standard_figures, task_rates_figure

        figures = standard_figures(
            idata,
            var_names=[v for v in ("mu_alpha", "sigma_alpha", "mu_beta", "sigma_beta", "gamma")
                       if v in idata.posterior],
            forest_vars=["alpha", "beta", "gamma"],
        )
        figures["rates"] = task_rates_figure(self.task_rates(idata),
                                             flags=self.stats.flags_array,
                                             completed=self.stats.completed_array)
        return figures
