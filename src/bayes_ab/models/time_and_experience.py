"""Task success against the hour of the day of the start and against experience.

Estimands (docs/ESTIMANDS.md, ``time_and_experience.*``): the slopes of the population
logistic fit ``logit P(complete a started task) = c + b_hour * hour + b_exp * task``
(hour of the day of the start 0..23, task index 1..3): ``hour_effect`` = b_hour (per hour),
``experience_effect`` = b_exp (per additional task). The key names are historical: both
are *associations*, not effects. Tasks are always done in the order 1 -> 2 -> 3 and task
k + 1 is started only after task k is completed, so the task index is confounded with the
tasks' difficulty and with selection on ability (the customers who reach task 3 are those
who completed 1 and 2): in the simulator, with every task parameter identical across tasks
the estimand is still about +0.12 per task (tests/test_model_completions.py). Customers
also choose the hour at which they start. "Completed" means completed before the end of
the observation window, so success depends on the window's length.

Model, on counts of started and completed tasks by start hour x task (72 Binomial cells,
whatever the number of customers)::

    logit p[h, t] = c + b_hour * (h - 12) + b_exp * (t - 1) + dev[h]
    dev = sigma_hour * Q z,   z ~ Normal(0, 1)       (non-centred; centred, Q w with
                                                  w ~ Normal(0, sigma_hour), on very large data)

``Q`` is an orthonormal basis of the hour profiles that sum to zero and have zero
(unweighted) slope in h, so the deviations capture curvature (a lunchtime dip, a late
night slump) without competing with the intercept or the linear trend. The reported
``hour_effect``/``experience_effect`` are nevertheless computed per draw as the slopes
of the count-weighted logistic fit of the model's cell probabilities -- exactly the
estimand's population fit -- because a zero *unweighted* slope of the deviations is not
a zero *weighted* logistic slope when starts are unevenly spread over the day. Set the
``hour_sd`` prior to ``None`` to drop the deviations (the model is then the logistic
regression itself, and its coefficients are the estimand directly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from bayes_ab.constants import TASKS
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.intervals import flat, prob_draws_greater
from bayes_ab.models.base import BayesModel, CountGrid, model_data
from bayes_ab.models.priors import Prior
from bayes_ab.models.completions_conversion import logistic_fit
from bayes_ab.results import Interval, Result, posterior_interval

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pandas as pd
    import pymc as pm
    from matplotlib.figure import Figure

    from bayes_ab.data.schema import ExperimentData

HOURS = tuple(range(24))
#: Hours are centred at noon so that the intercept is the success at midday, task 1.
HOUR_CENTRE = 12.0

ASSOCIATION_NOTE = (
    "associations, not effects: tasks are done in the order 1, 2, 3 and a task is started "
    "only after the previous one is completed, so task position is confounded with task "
    "difficulty and with selection on ability; customers choose the hour they start; "
    "'completed' means completed before the end of the observation window")

#: Started tasks per hour from which the hour deviations are centred (see `centered_deviations`).
CENTERED_MIN_TRIALS_PER_HOUR = 100_000


@dataclass(frozen=True)
class TimeAndExperienceStats(CountGrid):
    """Completed and started tasks by start hour (rows, 0..23) and task index (columns)."""

    successes: tuple[tuple[int, ...], ...]
    trials: tuple[tuple[int, ...], ...]
    hours: tuple[int, ...] = HOURS
    tasks: tuple[int, ...] = TASKS

    def __post_init__(self) -> None:
        s = np.asarray(self.successes, dtype=np.int64)
        n = np.asarray(self.trials, dtype=np.int64)
        shape = (len(self.hours), len(self.tasks))
        if s.shape != shape or n.shape != shape:
            raise DataError(f"counts must have shape hours x tasks {shape}, "
                            f"got {s.shape}, {n.shape}")
        if (s < 0).any() or (s > n).any():
            raise DataError("completed must be in 0..started in every hour x task cell")
        if (n.sum(axis=1) > 0).sum() < 3 or (n.sum(axis=0) > 0).sum() < 2:
            raise DataError("time and experience needs started tasks in 3+ hours "
                            "and 2+ task indices")
        object.__setattr__(self, "hours", tuple(int(h) for h in self.hours))
        object.__setattr__(self, "tasks", tuple(int(t) for t in self.tasks))
        self._freeze_counts(s, n)

    def to_dict(self) -> dict:
        return {"hours": list(self.hours), "tasks": list(self.tasks),
                "successes": [list(r) for r in self.successes],
                "trials": [list(r) for r in self.trials]}

    @classmethod
    def from_dict(cls, d: dict) -> TimeAndExperienceStats:
        return cls(successes=tuple(map(tuple, d["successes"])),
                   trials=tuple(map(tuple, d["trials"])),
                   hours=tuple(d.get("hours", HOURS)), tasks=tuple(d.get("tasks", TASKS)))

    @classmethod
    def from_attempts(cls, attempts: pd.DataFrame, *, hour_col: str = "start_hour",
                      task_col: str = "task", outcome_col: str = "completed") -> TimeAndExperienceStats:
        """Counts from one row per started (customer, task)."""
        import pandas as pd

        for col in (hour_col, task_col, outcome_col):
            if col not in attempts.columns:
                raise DataError(f"column '{col}' not in the task attempts", column=col)
        hour = attempts[hour_col].astype("int64")
        task = attempts[task_col].astype("int64")
        if not hour.between(0, 23).all():
            raise DataError(f"'{hour_col}' must be an hour 0..23", column=hour_col)
        if not task.isin(TASKS).all():
            raise DataError(f"'{task_col}' must be in 1..3", column=task_col)
        table = attempts[outcome_col].astype("int64").groupby([hour, task]).agg(["sum", "count"])
        full = table.reindex(pd.MultiIndex.from_product([HOURS, TASKS]), fill_value=0)
        s = full["sum"].to_numpy().reshape(len(HOURS), len(TASKS))
        n = full["count"].to_numpy().reshape(len(HOURS), len(TASKS))
        return cls(successes=tuple(map(tuple, s)), trials=tuple(map(tuple, n)))

    @classmethod
    def from_experiment(cls, data: ExperimentData) -> TimeAndExperienceStats:
        """Every started task of every customer, both arms pooled."""
        return cls.from_attempts(data.task_attempts)


def _trend_free_basis(hours: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning the hour profiles orthogonal to 1 and (h - centre)."""
    x = np.column_stack([np.ones_like(hours, dtype=float), hours - HOUR_CENTRE])
    q, _ = np.linalg.qr(x, mode="complete")
    return q[:, x.shape[1]:]


@dataclass(frozen=True)
class TimeAndExperienceResult(Result):
    """results.json ``time_and_experience``: task success against start hour and experience
    (associations); ``hour_deviation_sd`` only with hour deviations in the model."""

    interpretation: str
    hour_effect: Interval
    experience_effect: Interval
    prob_success_rises_with_time: float
    prob_success_rises_with_experience: float
    model_coefficients: Mapping[str, Interval]
    success_by_hour: Mapping[str, Interval]
    success_by_task: Mapping[str, Interval]
    hour_deviation_sd: Interval | None = None

    json_omit_none: ClassVar = frozenset({"hour_deviation_sd"})


class TimeAndExperience(BayesModel):
    """Logistic model of task success on start hour (linear + curvature) and task index."""

    name: ClassVar[str] = "time_and_experience"
    stats_type: ClassVar[type] = TimeAndExperienceStats
    default_priors: ClassVar[dict[str, Prior | None]] = {
        # Log-odds of success at noon on task 1: wide.
        "intercept": Prior("Normal", mu=0.0, sigma=2.0),
        # Per hour: 0.1 over 12 hours is a change of 1.2 in log-odds, already large.
        "hour_slope": Prior("Normal", mu=0.0, sigma=0.1),
        # Per additional task.
        "experience": Prior("Normal", mu=0.0, sigma=1.0),
        # Scale of the trend-free hour-of-day deviations (None: no deviations).
        "hour_sd": Prior("HalfNormal", sigma=0.2),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = (
        "intercept", "b_hour", "b_exp", "sigma_hour", "hour_dev",
    )

    def __init__(self, stats: TimeAndExperienceStats, *, priors: dict | None = None) -> None:
        super().__init__(stats, priors=priors)
        hs = self.priors["hour_sd"]
        if hs is not None and not (hs.distribution == "HalfNormal" and float(hs["sigma"]) > 0):
            raise OptionError(
                f"hour_sd prior must be None or a HalfNormal with sigma > 0, got {hs}")

    @property
    def with_deviations(self) -> bool:
        return self.priors["hour_sd"] is not None

    @property
    def coords(self) -> dict[str, list]:
        s = self.stats
        return {"hour": list(s.hours), "task": list(s.tasks),
                "hour_basis": list(range(len(s.hours) - 2))}

    def design(self) -> tuple[np.ndarray, np.ndarray]:
        """Centred hour and task-minus-one of every cell, each (hours, tasks)."""
        h = np.asarray(self.stats.hours, dtype=float)[:, None] - HOUR_CENTRE
        t = np.asarray(self.stats.tasks, dtype=float)[None, :] - 1.0
        shape = (h.shape[0], t.shape[1])
        return np.broadcast_to(h, shape), np.broadcast_to(t, shape)

    @property
    def centered_deviations(self) -> bool:
        """Centred hour deviations once every hour has CENTERED_MIN_TRIALS_PER_HOUR started
        tasks: the data then pin each deviation and the non-centred form becomes a ridge.
        Measured (4 x 1000 draws, two seeds): 10M customers (>= 311k per hour) non-centred
        min ESS 450-533, r_hat up to 1.009 (1.012 in one run); centred ESS > 4200. At 1M
        (31k per hour) and 20k (621) the non-centred form is the better one."""
        return bool(self.stats.trials_array.sum(axis=1).min() >= CENTERED_MIN_TRIALS_PER_HOUR)

    def build(self) -> pm.Model:
        import pymc as pm

        s, pr = self.stats, self.priors
        h, t = self.design()
        with pm.Model(coords=self.coords) as model:
            # the design as data, not constants: the compiled model does not depend on it
            # (bayes_ab.inference.compile_cache reuses it for any data of these shapes)
            h = model_data("hour_x", np.asarray(h, dtype=float))
            t = model_data("task_x", np.asarray(t, dtype=float))
            c = pr["intercept"].create_variable("intercept")
            b_hour = pr["hour_slope"].create_variable("b_hour")
            b_exp = pr["experience"].create_variable("b_exp")
            eta = c + b_hour * h + b_exp * t
            if self.with_deviations:
                sigma = pr["hour_sd"].create_variable("sigma_hour")
                basis = model_data("hour_basis_x", _trend_free_basis(np.asarray(s.hours, dtype=float)))
                if self.centered_deviations:
                    # Basis is orthonormal: Q w with w ~ N(0, sigma) is sigma * Q z.
                    w = pm.Normal("w_hour", 0.0, sigma, dims="hour_basis")
                    dev = pm.Deterministic("hour_dev", pm.math.dot(basis, w), dims="hour")
                else:
                    z = pm.Normal("z_hour", 0.0, 1.0, dims="hour_basis")
                    dev = pm.Deterministic("hour_dev", sigma * pm.math.dot(basis, z), dims="hour")
                eta = eta + dev[:, None]
            p = pm.Deterministic("p", pm.math.sigmoid(eta), dims=("hour", "task"))
            pm.Binomial("completed", n=model_data("started", s.trials_array), p=p,
                        observed=model_data("completed_obs", s.successes_array),
                        dims=("hour", "task"))
        return model

    def population_fit(self, idata: az.InferenceData) -> np.ndarray:
        """(draws, 3): intercept, per-hour and per-task slopes of the started-task-weighted
        logistic fit of the model's cell probabilities (the estimand's fit)."""
        p = idata.posterior["p"].transpose("chain", "draw", "hour", "task").values
        p = p.reshape(-1, p.shape[2] * p.shape[3])
        h, t = self.design()
        x = np.column_stack([np.ones(h.size), h.ravel(), t.ravel()])
        return logistic_fit(p, x, self.stats.trials_array.ravel())

    def summarize(self, idata: az.InferenceData) -> TimeAndExperienceResult:
        post = idata.posterior
        coef = self.population_fit(idata)
        hour, exp = coef[:, 1], coef[:, 2]
        p = post["p"]
        n = self.stats.trials_array
        # Success by start hour, tasks pooled by the observed task mix of that hour.
        w_task = n / np.where(n.sum(axis=1, keepdims=True) > 0, n.sum(axis=1, keepdims=True), 1)
        by_hour = (p * w_task).sum("task")
        return TimeAndExperienceResult(
            interpretation=ASSOCIATION_NOTE,
            hour_effect=posterior_interval(hour),
            experience_effect=posterior_interval(exp),
            prob_success_rises_with_time=prob_draws_greater(hour),
            prob_success_rises_with_experience=prob_draws_greater(exp),
            model_coefficients={
                "b_hour": posterior_interval(flat(post["b_hour"])),
                "b_exp": posterior_interval(flat(post["b_exp"])),
            },
            success_by_hour={
                str(hr): posterior_interval(flat(by_hour.sel(hour=hr)))
                for hr, cnt in zip(self.stats.hours, n.sum(axis=1), strict=True) if cnt > 0
            },
            success_by_task={
                str(tk): posterior_interval(
                    flat((p.sel(task=tk) * (n[:, j] / n[:, j].sum())).sum("hour")))
                for j, tk in enumerate(self.stats.tasks) if n[:, j].sum() > 0
            },
            hour_deviation_sd=(posterior_interval(flat(post["sigma_hour"]))
                               if self.with_deviations else None),
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures (`bayes_ab.plotting.standard_figures`), by kind; never saved."""
        from bayes_ab.plotting import standard_figures

        dev = self.with_deviations
        var_names = ["intercept", "b_hour", "b_exp"] + (["sigma_hour"] if dev else [])
        return standard_figures(idata, var_names=var_names,
                                forest_vars=["hour_dev"] if dev else ["b_hour", "b_exp"])
