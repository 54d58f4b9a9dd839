"""Arm comparison of a binary metric: a Binomial on counts per arm, Beta priors on the rates.

Used for conversion and CS engagement (docs/ESTIMANDS.md: ``conversion.*`` and
``cs_engagement.*``): intention to treat, every randomized customer of an arm is in
its denominator. The likelihood is one Binomial term per arm, so the cost does not
grow with the number of customers. Under the default Beta priors the posterior is
the conjugate Beta-Binomial one (``bayes_ab.models.beta_binomial`` gives it in
closed form); the sampled version exists so the same machinery (diagnostics,
figures, netCDF, PPC) serves every model, and as a cross-check of both.

    stats = ArmComparisonStats.from_experiment(data, metric="converted")
    model = ArmComparison(stats, priors={"rate": {"alpha": 2, "beta": 20}})
    idata = model.fit(SamplerConfig(seed=1))
    block = model.summarize(idata)   # ArmComparisonResult: control, test, lifts, P(test better)

The first arm of ``ArmComparisonStats.arms`` is the control; every other arm is compared to it
(not to the best of the rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bayes_ab.constants import ARMS
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.stats.frequentist import ProportionTest
from bayes_ab.inference.intervals import flat, prob_draws_greater
from bayes_ab.models.base import BayesModel
from bayes_ab.models.priors import Prior
from bayes_ab.results import Interval, Result, posterior_interval

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pandas as pd
    import pymc as pm
    from matplotlib.figure import Figure

    from bayes_ab.data.schema import ExperimentData

#: Binary metrics of the analysis frame that an arm comparison can use (DATA_CONTRACT.md).
FRAME_METRICS = ("converted", "any_cs", "any_other", "completed_all", "attempted")
#: The results.json block (and file/figure name) of a metric; other metrics use their column name.
METRIC_NAMES = {"converted": "conversion", "any_cs": "cs_engagement"}


@dataclass(frozen=True)
class ArmComparisonStats:
    """Sufficient statistics of a binary metric: successes and trials per arm.

    ``arms[0]`` is the control arm.
    """

    arms: tuple[str, ...]
    successes: tuple[int, ...]
    trials: tuple[int, ...]
    metric: str = "converted"

    def __post_init__(self) -> None:
        arms = tuple(str(a) for a in self.arms)
        s = tuple(int(x) for x in self.successes)
        n = tuple(int(x) for x in self.trials)
        if len(arms) < 2:
            raise DataError(f"an arm comparison needs at least two arms, got {list(arms)}")
        if len(set(arms)) != len(arms):
            raise DataError(f"arm names must be distinct, got {list(arms)}")
        if not len(arms) == len(s) == len(n):
            raise DataError("arms, successes and trials must have the same length")
        for arm, si, ni in zip(arms, s, n, strict=True):
            if ni <= 0:
                raise DataError(f"arm '{arm}' has no {self.metric} trials (no customers)")
            if not 0 <= si <= ni:
                raise DataError(f"arm '{arm}': successes {si} outside 0..{ni}")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "successes", s)
        object.__setattr__(self, "trials", n)

    @property
    def control(self) -> str:
        return self.arms[0]

    @property
    def rates(self) -> tuple[float, ...]:
        return tuple(si / ni for si, ni in zip(self.successes, self.trials, strict=True))

    def to_dict(self) -> dict:
        return {"arms": list(self.arms), "successes": list(self.successes),
                "trials": list(self.trials), "metric": self.metric}

    @classmethod
    def from_dict(cls, d: dict) -> ArmComparisonStats:
        return cls(arms=tuple(d["arms"]), successes=tuple(d["successes"]),
                   trials=tuple(d["trials"]), metric=d.get("metric", "converted"))

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        group_col: str,
        outcome_col: str,
        arms: Sequence[str] | None = None,
        control: str | None = None,
    ) -> ArmComparisonStats:
        """Counts of a 0/1 (or bool) ``outcome_col`` per value of ``group_col``.

        ``arms`` fixes the order (and keeps arms with no rows, which then fail loudly);
        ``control`` moves that arm first.
        """
        for col in (group_col, outcome_col):
            if col not in df.columns:
                raise DataError(f"column '{col}' not in the frame", column=col)
        outcome = df[outcome_col]
        if outcome.isna().any():
            raise DataError(f"column '{outcome_col}' has missing values", column=outcome_col)
        values = outcome.astype("int64")
        if not values.isin([0, 1]).all():
            raise DataError(f"column '{outcome_col}' must be binary (0/1)", column=outcome_col)
        grouped = values.groupby(df[group_col].astype(str), observed=True).agg(["sum", "count"])
        order = [str(a) for a in arms] if arms is not None else sorted(grouped.index)
        if control is not None:
            if str(control) not in order:
                raise OptionError(f"control arm '{control}' not among arms {order}")
            order = [str(control)] + [a for a in order if a != str(control)]
        grouped = grouped.reindex(order, fill_value=0)
        return cls(arms=tuple(order), successes=tuple(grouped["sum"]),
                   trials=tuple(grouped["count"]), metric=outcome_col)

    @classmethod
    def from_experiment(cls, data: ExperimentData, *, metric: str = "converted") -> ArmComparisonStats:
        """Intention to treat: every randomized customer of an arm counts in its trials.

        ``metric`` is a boolean column of the analysis frame: ``converted`` (conversion) or
        ``any_cs`` (CS engagement: at least one CS help row).
        """
        if metric not in FRAME_METRICS:
            raise OptionError(
                f"unknown metric '{metric}'; choose one of {', '.join(FRAME_METRICS)}")
        return cls.from_frame(data.frame, group_col="cohort", outcome_col=metric, arms=ARMS)


@dataclass(frozen=True)
class ArmNames(Result):
    """Which arm is the control and which the (first) test arm."""

    control: str
    test: str


@dataclass(frozen=True)
class Successes(Result):
    """Observed successes out of trials in one arm."""

    successes: int
    trials: int


@dataclass(frozen=True)
class ArmVsControl(Result):
    """One treatment arm against control: its rate, the lifts, P(arm better than control)."""

    rate: Interval
    lift_abs: Interval
    lift_rel: Interval
    prob_test_better: float

    json_keys: ClassVar = {"prob_test_better": "prob_better_than_control"}


@dataclass(frozen=True)
class ArmComparisonResult(Result):
    """The RESULTS_SCHEMA ARM_COMPARISON block: posterior rate of control and test, the
    lifts and P(test better); ``per_arm`` with more than two arms. ``frequentist`` (the
    cross-check) and ``among_flagged`` (CS engagement) are added by the pipeline."""

    control: Interval
    test: Interval
    lift_abs: Interval
    lift_rel: Interval
    prob_test_better: float
    metric: str
    arms: ArmNames
    counts: Mapping[str, Successes]
    per_arm: Mapping[str, ArmVsControl] | None = None
    frequentist: Mapping[str, Any] | ProportionTest | None = None
    among_flagged: Mapping[str, Any] | None = None

    json_omit_none: ClassVar = frozenset({"per_arm", "frequentist", "among_flagged"})


class ArmComparison(BayesModel):
    """Posterior rate per arm, lifts of each arm over control, P(arm better than control)."""

    name: ClassVar[str] = "arm_comparison"
    stats_type: ClassVar[type] = ArmComparisonStats
    #: Beta(1, 1): uniform on the rate, and the conjugate prior of the closed form.
    default_priors: ClassVar[dict[str, Prior]] = {
        "rate": Prior("Beta", alpha=1.0, beta=1.0, dims="arm"),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = ("rate", "lift_abs", "lift_rel")

    def __init__(self, stats: ArmComparisonStats, *, priors: dict | None = None, name: str | None = None):
        super().__init__(stats, priors=priors)
        # One class serves several metrics; the name labels figures, files and diagnostics.
        self.name = name or METRIC_NAMES.get(stats.metric, stats.metric)
        rate = self.priors["rate"]
        if rate.distribution != "Beta" or not (float(rate["alpha"]) > 0
                                               and float(rate["beta"]) > 0):
            raise OptionError(f"rate prior needs alpha, beta > 0, got {rate}")

    @property
    def coords(self) -> dict[str, list[str]]:
        return {"arm": list(self.stats.arms), "treatment": list(self.stats.arms[1:])}

    def build(self) -> pm.Model:
        import pymc as pm

        s = self.stats
        with pm.Model(coords=self.coords) as model:
            rate = self.priors["rate"].as_floats().create_variable("rate")
            pm.Binomial("successes", n=np.asarray(s.trials), p=rate,
                        observed=np.asarray(s.successes), dims="arm")
            pm.Deterministic("lift_abs", rate[1:] - rate[0], dims="treatment")
            pm.Deterministic("lift_rel", rate[1:] / rate[0] - 1.0, dims="treatment")
        return model

    def exact_posterior(self, config: SamplerConfig) -> az.InferenceData:
        """The conjugate posterior: rate_k ~ Beta(alpha + s_k, beta + n_k - s_k), independent
        across arms; ``chains x draws`` independent draws (seeded by ``config.seed``), the
        lifts computed from them, and Binomial posterior-predictive counts."""
        import time

        from bayes_ab.inference.fit import exact_idata

        t0 = time.perf_counter()
        s = self.stats
        prior = self.priors["rate"]
        succ = np.asarray(s.successes, dtype=float)
        trials = np.asarray(s.trials, dtype=float)
        rng = np.random.default_rng(int(config.seed))
        shape = (int(config.chains), int(config.draws), len(s.arms))
        rate = rng.beta(float(prior["alpha"]) + succ, float(prior["beta"]) + trials - succ,
                        size=shape)
        ppc = rng.binomial(np.asarray(s.trials, dtype=np.int64), rate)
        return exact_idata(
            {"rate": rate, "lift_abs": rate[..., 1:] - rate[..., :1],
             "lift_rel": rate[..., 1:] / rate[..., :1] - 1.0},
            name=self.name, config=config, model_config=self.model_config(),
            dims={"rate": ["arm"], "lift_abs": ["treatment"], "lift_rel": ["treatment"],
                  "successes": ["arm"]},
            coords=self.coords,
            posterior_predictive={"successes": ppc},
            observed_data={"successes": np.asarray(s.successes, dtype=np.int64)},
            seconds=time.perf_counter() - t0,
        )

    def summarize(self, idata: az.InferenceData) -> ArmComparisonResult:
        """The ARM_COMPARISON block (Bayesian part): control, test, lifts, P(test better).

        With more than two arms ``test`` is the first treatment arm and ``per_arm`` holds
        every arm; the frequentist sub-block is added by the caller.
        """
        post = idata.posterior
        s = self.stats
        per_arm: dict[str, ArmVsControl] = {}
        for arm in s.arms[1:]:
            lift_abs = flat(post["lift_abs"].sel(treatment=arm))
            per_arm[arm] = ArmVsControl(
                rate=posterior_interval(flat(post["rate"].sel(arm=arm))),
                lift_abs=posterior_interval(lift_abs),
                lift_rel=posterior_interval(flat(post["lift_rel"].sel(treatment=arm))),
                prob_test_better=prob_draws_greater(lift_abs),
            )
        first = per_arm[s.arms[1]]
        return ArmComparisonResult(
            control=posterior_interval(flat(post["rate"].sel(arm=s.control))),
            test=first.rate,
            lift_abs=first.lift_abs,
            lift_rel=first.lift_rel,
            prob_test_better=first.prob_test_better,
            metric=s.metric,
            arms=ArmNames(control=s.control, test=s.arms[1]),
            counts={a: Successes(si, ni)
                    for a, si, ni in zip(s.arms, s.successes, s.trials, strict=True)},
            per_arm=per_arm if len(s.arms) > 2 else None,
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures (`bayes_ab.plotting.standard_figures`), by kind; never saved."""
        from bayes_ab.plotting import standard_figures

        return standard_figures(idata, var_names=["rate", "lift_abs", "lift_rel"],
                                forest_vars=["lift_abs"])
