"""Continuous monitoring without peeking bias: look every day, keep the error rate.

Looking at a p-value or at a Bayesian "chance to win" every day and stopping the first
time it crosses 0.05 / 0.95 inflates false positives: under an A/A test with 30 daily
looks, roughly a quarter to a third of experiments "win" at some look
(``benchmarks/monitoring_peeking.py`` measures it). This module gives, per look:

* an **always-valid confidence sequence** for the lift (Test rate - Control rate): the
  normal-mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis &
  Walsh ("Always valid inference", Operations Research 2022; Howard et al. 2021 give the
  same normal-mixture boundary). With the estimate d of the difference and its plug-in
  variance v (unpooled, each arm's rate from its Beta(1, 1) posterior mean so it is never
  0), and a N(theta, tau^2) mixture over the alternatives, the likelihood ratio of
  "lift = theta" is

      Lambda(theta) = sqrt(v / (v + tau^2)) * exp(tau^2 (d - theta)^2 / (2 v (v + tau^2)))

  and ``{theta : Lambda(theta) < 1 / alpha}`` is the sequence:

      d +/- sqrt(v (v + tau^2) / tau^2 * (2 log(1 / alpha) + log((v + tau^2) / v)))

  By Ville's inequality P(the sequence ever misses the true lift) <= alpha, however many
  looks and whenever one stops (asymptotically, as the plug-in variance settles; the
  burn-in below keeps the first looks out of the stopping rule). The always-valid p-value
  is the running minimum of 1 / Lambda(0).
* the **posterior** of the lift (independent Beta(1, 1) priors, the same conjugate model as
  ``bayes_ab.models.beta_binomial``), with P(Test better);
* two **stopping rules whose error rate holds under continuous looks**: (a) stop when the
  confidence sequence excludes 0 (valid for any look schedule, even unplanned ones);
  (b) a Bayesian rule calibrated by simulation: stop when max(P(better), 1 - P(better))
  exceeds a threshold q chosen so that, under A/A data with a *planned* look schedule
  (number of looks and customers per look fixed up front), the chance of crossing at
  *any* of the planned looks is alpha.

(b) needs a **plan** (:class:`MonitorPlan`, a JSON file the user keeps): the horizon, the
look schedule, alpha, q and tau, written once (on the first run) and reused unchanged on
every later run. Recalibrating q on the looks present in the file at each run (what this
module did before plans) leaks: a user who reruns ``monitor`` every day on a growing file
is judged on day k against a threshold calibrated for k looks, easier than the one for
the full horizon, and under A/A data with 30 daily looks 12.7% of experiments stop at some
day instead of 5% (:func:`daily_rerun_simulation` measures it). Without a plan only the
confidence sequence is given.

``tau`` (the mixture's spread, in the lift's units) sets where the sequence is tightest.
With a plan it is fixed by the plan: tau^2 = r* v_H, where v_H is the variance of the
difference under the plan's rate at the planned horizon and r* ~ 8 minimises the width
there. Without a plan (and without ``tau``) the same formula uses the file's last look,
so tau moves as the file grows; :func:`daily_rerun_simulation` measures that too. The
pooled rate carries no information about the difference, so neither choice peeks at the
effect.

The naive rules (for comparison, never for decisions): two-sided two-proportion z-test
p < alpha at a look, or P(Test better) > 1 - alpha at a look.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, stats

from bayes_ab.constants import HDI_PROB, SCHEMA_VERSION
from bayes_ab.errors import DataError, OptionError

__all__ = [
    "DailyCounts",
    "DailyRerunResult",
    "MonitorConfig",
    "MonitorPlan",
    "PlanError",
    "check_plan",
    "daily_rerun_simulation",
    "make_plan",
    "planned_tau",
    "read_plan",
    "write_plan",
    "calibrate_bayes_threshold",
    "horizon_tau",
    "monitor",
    "msprt_cs",
    "msprt_log_lr",
    "naive_z_p",
    "optimal_tau_ratio",
    "prob_better_normal",
    "read_daily_counts",
    "simulate_null_paths",
    "PeekingResult",
    "monitor_file",
    "peeking_simulation",
]

#: A look can stop an experiment only once each arm has this many successes and failures
#: (the plug-in variance of the first few customers is too noisy to trust).
DEFAULT_MIN_EVENTS = 5


@dataclass(frozen=True)
class DailyCounts:
    """Cumulative customers and successes of two arms at each look (one look per date)."""

    dates: tuple[str, ...]
    control: str
    test: str
    n_control: tuple[int, ...]
    x_control: tuple[int, ...]
    n_test: tuple[int, ...]
    x_test: tuple[int, ...]
    metric: str = "converted"

    def __post_init__(self) -> None:
        arrays = [np.asarray(a, dtype=np.int64) for a in
                  (self.n_control, self.x_control, self.n_test, self.x_test)]
        if not all(a.shape == (len(self.dates),) for a in arrays) or not self.dates:
            raise DataError("every look needs a date and counts for both arms")
        for name, a in zip(("n_control", "x_control", "n_test", "x_test"), arrays, strict=True):
            if np.any(np.diff(a) < 0):
                raise DataError(f"cumulative {name} decreases between looks")
            if np.any(a < 0):
                raise DataError(f"{name} is negative")
        if np.any(arrays[1] > arrays[0]) or np.any(arrays[3] > arrays[2]):
            raise DataError("more successes than customers at some look")

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.asarray(a, dtype=float) for a in  # type: ignore[return-value]
                     (self.n_control, self.x_control, self.n_test, self.x_test))


@dataclass(frozen=True)
class MonitorConfig:
    """Options of ``monitor``. ``alpha`` is the error rate promised under continuous looks."""

    alpha: float = round(1.0 - HDI_PROB, 12)
    tau: float | None = None
    min_events: int = DEFAULT_MIN_EVENTS
    calibration_sims: int = 50000
    seed: int = 20260505

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise OptionError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if self.tau is not None and not (np.isfinite(self.tau) and self.tau > 0):
            raise OptionError(f"--tau must be a positive number (lift units), got {self.tau}")
        if self.min_events < 0:
            raise OptionError("min_events must be >= 0")
        if self.calibration_sims < 100:
            raise OptionError("calibration needs at least 100 simulations")


# --------------------------------------------------------------------------- statistics


def _moments(n: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the Beta(1 + x, 1 + n - x) posterior of a rate."""
    a, b = 1.0 + x, 1.0 + n - x
    mean = a / (a + b)
    return mean, a * b / ((a + b) ** 2 * (a + b + 1.0))


def _plug_in(n_c, x_c, n_t, x_t) -> tuple[np.ndarray, np.ndarray]:
    """Observed difference and its unpooled plug-in variance (rates never exactly 0 or 1)."""
    n_c, n_t = np.maximum(n_c, 1.0), np.maximum(n_t, 1.0)
    d = x_t / n_t - x_c / n_c
    pc, pt = (x_c + 1.0) / (n_c + 2.0), (x_t + 1.0) / (n_t + 2.0)
    return d, pc * (1 - pc) / n_c + pt * (1 - pt) / n_t


def msprt_log_lr(d, v, *, tau2: float, theta: float = 0.0) -> np.ndarray:
    """log Lambda(theta) of the normal-mixture SPRT (module docstring)."""
    d, v = np.asarray(d, dtype=float), np.asarray(v, dtype=float)
    return 0.5 * np.log(v / (v + tau2)) + tau2 * (d - theta) ** 2 / (2.0 * v * (v + tau2))


def msprt_cs(d, v, *, tau2: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the always-valid (1 - alpha) confidence sequence."""
    d, v = np.asarray(d, dtype=float), np.asarray(v, dtype=float)
    half = np.sqrt(v * (v + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((v + tau2) / v)))
    return d - half, d + half


def optimal_tau_ratio(alpha: float) -> float:
    """r* = tau^2 / v minimising the sequence's width at variance v (about 8 at alpha 0.05)."""
    two_l = 2.0 * np.log(1.0 / alpha)
    res = optimize.minimize_scalar(lambda lr: np.log1p(np.exp(-lr)) + np.log(two_l + np.log1p(np.exp(lr))),
                                   bounds=(-5.0, 10.0), method="bounded")
    return float(np.exp(res.x))


def horizon_tau(counts: DailyCounts, *, alpha: float) -> float:
    """Default tau: tightest at the last look, from the pooled rate (no look at the lift)."""
    n_c, x_c, n_t, x_t = (a[-1] for a in counts.arrays())
    p = (x_c + x_t + 1.0) / (n_c + n_t + 2.0)
    v_h = p * (1 - p) * (1.0 / max(n_c, 1.0) + 1.0 / max(n_t, 1.0))
    return float(np.sqrt(optimal_tau_ratio(alpha) * v_h))


def naive_z_p(n_c, x_c, n_t, x_t) -> np.ndarray:
    """Two-sided pooled two-proportion z-test p-value at each look (the peeker's test)."""
    n_c, n_t = np.maximum(n_c, 1.0), np.maximum(n_t, 1.0)
    p = (x_c + x_t) / (n_c + n_t)
    se = np.sqrt(p * (1 - p) * (1 / n_c + 1 / n_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (x_t / n_t - x_c / n_c) / se, 0.0)
    return 2.0 * stats.norm.sf(np.abs(z))


def prob_better_normal(n_c, x_c, n_t, x_t) -> np.ndarray:
    """P(test rate > control rate) under Beta(1, 1) priors, normal approximation of the
    two Beta posteriors (within ~0.002 of the exact value once each arm has ~30 customers;
    vectorised, so the calibration can afford thousands of simulated experiments)."""
    mc, vc = _moments(n_c, x_c)
    mt, vt = _moments(n_t, x_t)
    return stats.norm.cdf((mt - mc) / np.sqrt(vc + vt))


def _eligible(n_c, x_c, n_t, x_t, min_events: int) -> np.ndarray:
    return ((x_c >= min_events) & (n_c - x_c >= min_events)
            & (x_t >= min_events) & (n_t - x_t >= min_events))


def simulate_null_paths(
    n_c: np.ndarray, n_t: np.ndarray, *, rate: float, n_sims: int, seed: int | None,
    rate_test: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative successes (n_sims x looks) of both arms under A/A data with a common
    ``rate`` and the given cumulative sample sizes (Bernoulli streams, summed per look);
    ``rate_test`` gives Test another rate (for power and coverage checks)."""
    rng = np.random.default_rng(seed)
    dn_c = np.diff(np.concatenate([[0], np.asarray(n_c, dtype=np.int64)]))
    dn_t = np.diff(np.concatenate([[0], np.asarray(n_t, dtype=np.int64)]))
    x_c = np.cumsum(rng.binomial(dn_c, rate, size=(n_sims, dn_c.size)), axis=1)
    rt = rate if rate_test is None else rate_test
    x_t = np.cumsum(rng.binomial(dn_t, rt, size=(n_sims, dn_t.size)), axis=1)
    return x_c.astype(float), x_t.astype(float)


def calibrate_bayes_threshold(
    n_c, n_t, *, rate: float, alpha: float, n_sims: int = 4000, seed: int | None = 0,
    min_events: int = DEFAULT_MIN_EVENTS, chunk_cells: int = 2_000_000,
) -> float:
    """Threshold q such that, under A/A data with this look schedule, P(max over eligible
    looks of max(P(better), 1 - P(better)) > q) = alpha (two-sided, like the sequence).
    Simulated in chunks of about ``chunk_cells`` experiment-looks (bounded memory for long
    schedules), each from its own child of ``seed``: reproducible for a given seed."""
    n_c = np.asarray(n_c, dtype=float)
    n_t = np.asarray(n_t, dtype=float)
    per_chunk = max(1, int(chunk_cells // max(n_c.size, 1)))
    seeds = np.random.SeedSequence(seed).spawn(-(-n_sims // per_chunk))
    maxima = []
    for i, child in enumerate(seeds):
        size = min(per_chunk, n_sims - i * per_chunk)
        x_c, x_t = simulate_null_paths(n_c, n_t, rate=rate, n_sims=size, seed=child)
        nc, nt = np.broadcast_to(n_c, x_c.shape), np.broadcast_to(n_t, x_t.shape)
        p = prob_better_normal(nc, x_c, nt, x_t)
        m = np.where(_eligible(nc, x_c, nt, x_t, min_events), np.maximum(p, 1 - p), 0.5)
        maxima.append(m.max(axis=1))
    return float(np.quantile(np.concatenate(maxima), 1.0 - alpha))

# --------------------------------------------------------------------------- the plan

#: What identifies a plan file, and the version of its layout.
PLAN_KIND = "bayes_ab monitor plan"
PLAN_VERSION = 1
#: The most looks a plan may have (a look a day for two years; calibrating 730 looks
#: with 50,000 simulations takes about half a minute).
MAX_PLAN_LOOKS = 730


class PlanError(OptionError):
    """A plan file that is missing, unreadable, or inconsistent with the run (exit 2)."""


@dataclass(frozen=True)
class MonitorPlan:
    """The planned horizon and look calendar of a monitored experiment, fixed up front.

    ``n_control`` / ``n_test``: planned cumulative customers at each of the ``looks``
    looks (one look per date in the file). ``bayes_threshold`` is calibrated once, on
    this schedule, and reused unchanged on every later run; ``tau`` likewise."""

    looks: int
    n_control: tuple[int, ...]
    n_test: tuple[int, ...]
    per_look_source: str
    rate: float
    rate_source: str
    alpha: float
    min_events: int
    calibration_sims: int
    seed: int
    bayes_threshold: float
    tau: float
    tau_source: str
    control: str
    test: str
    metric: str
    start_date: str
    created: dict

    def to_dict(self) -> dict:
        return {
            "kind": PLAN_KIND,
            "plan_version": PLAN_VERSION,
            "note": ("Keep this file unchanged until the experiment ends: every run of "
                     "`bayes-ab monitor --plan` reuses its threshold and look schedule. "
                     "Recreating it during the experiment recalibrates on the looks seen "
                     "so far, which is what inflates false positives."),
            "experiment": {"control": self.control, "test": self.test, "metric": self.metric,
                           "start_date": self.start_date},
            "horizon": {"looks": self.looks, "cadence": "one look per date in the file",
                        "per_look_control": self.n_control[0],
                        "per_look_test": self.n_test[0],
                        "per_look_source": self.per_look_source,
                        "cumulative_n_control": list(self.n_control),
                        "cumulative_n_test": list(self.n_test)},
            "alpha": self.alpha,
            "min_events": self.min_events,
            "bayes_threshold": self.bayes_threshold,
            "calibration": {"rate": self.rate, "rate_source": self.rate_source,
                            "n_sims": self.calibration_sims, "seed": self.seed,
                            "method": "A/A simulation of the planned look schedule; "
                                      "P(any planned look crosses the threshold) = alpha"},
            "tau": self.tau,
            "tau_source": self.tau_source,
            "created": dict(self.created),
        }

    @classmethod
    def from_dict(cls, doc: Any, *, source: str = "plan") -> MonitorPlan:
        """Rebuild a plan from its JSON, raising :class:`PlanError` naming what is wrong."""
        def bad(what: str) -> PlanError:
            return PlanError(f"{source}: not a usable monitor plan ({what}); a plan is "
                             "written by `bayes-ab monitor --plan FILE --plan-looks N` and "
                             "must not be edited")

        if not isinstance(doc, dict) or doc.get("kind") != PLAN_KIND:
            raise bad(f"no \"kind\": \"{PLAN_KIND}\"")
        if doc.get("plan_version") != PLAN_VERSION:
            raise bad(f"plan_version {doc.get('plan_version')!r}, expected {PLAN_VERSION}")
        try:
            exp, hor, cal = doc["experiment"], doc["horizon"], doc["calibration"]
            plan = cls(
                looks=int(hor["looks"]),
                n_control=tuple(int(v) for v in hor["cumulative_n_control"]),
                n_test=tuple(int(v) for v in hor["cumulative_n_test"]),
                per_look_source=str(hor.get("per_look_source", "")),
                rate=float(cal["rate"]), rate_source=str(cal.get("rate_source", "")),
                alpha=float(doc["alpha"]), min_events=int(doc["min_events"]),
                calibration_sims=int(cal["n_sims"]), seed=int(cal["seed"]),
                bayes_threshold=float(doc["bayes_threshold"]), tau=float(doc["tau"]),
                tau_source=str(doc.get("tau_source", "")),
                control=str(exp["control"]), test=str(exp["test"]), metric=str(exp["metric"]),
                start_date=str(exp["start_date"]), created=dict(doc.get("created") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"missing or invalid field {exc}") from None
        if not 1 <= plan.looks <= MAX_PLAN_LOOKS or len(plan.n_control) != plan.looks \
                or len(plan.n_test) != plan.looks:
            raise bad("the number of looks does not match the look schedule")
        if not (0.5 < plan.bayes_threshold < 1 and 0 < plan.alpha < 0.5
                and np.isfinite(plan.tau) and plan.tau > 0 and 0 < plan.rate < 1):
            raise bad("threshold, alpha, tau or rate out of range")
        return plan


def read_plan(path: str | Path) -> MonitorPlan:
    """Read a plan file (:class:`PlanError` if it is missing, not JSON or not a plan)."""
    import json

    path = Path(path)
    if not path.is_file():
        raise PlanError(f"plan file {path} does not exist" if not path.exists()
                        else f"plan {path} is not a file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlanError(f"plan file {path} cannot be read as JSON ({type(exc).__name__})") \
            from None
    return MonitorPlan.from_dict(doc, source=f"plan file {path}")


def write_plan(path: str | Path, plan: MonitorPlan) -> Path:
    """Write the plan to a new file; never replaces an existing one (:class:`PlanError`)."""
    import json

    path = Path(path)
    # Serialise first (strict JSON), then create the file exclusively: never overwritten.
    text = json.dumps(plan.to_dict(), indent=2, allow_nan=False) + "\n"
    try:
        fh = open(path, "x", encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileExistsError:
        raise PlanError(f"plan file {path} already exists; a plan is never overwritten") \
            from None
    except OSError as exc:
        raise PlanError(f"cannot write the plan file {path}: {exc.strerror or exc}") from None
    try:
        with fh:
            fh.write(text)
    except OSError as exc:  # e.g. a full disk: leave no half-written plan behind
        path.unlink(missing_ok=True)
        raise PlanError(f"cannot write the plan file {path}: {exc.strerror or exc}") from None
    return path


def make_plan(
    counts: DailyCounts, *, looks: int, per_look: float | None = None,
    rate: float | None = None, config: MonitorConfig = MonitorConfig(),
    file: str | None = None,
) -> MonitorPlan:
    """Fix the horizon (``looks`` looks, one per date) and calibrate the Bayesian threshold
    and tau on it, once. ``per_look``: expected customers per look (both arms; default the
    mean per look of the looks seen so far); split between the arms as seen so far.
    ``rate``: the conversion rate simulated (default the pooled rate so far: it says
    nothing about the difference)."""
    seen = len(counts.dates)
    if isinstance(looks, bool) or int(looks) != looks or not 1 <= looks <= MAX_PLAN_LOOKS:
        raise PlanError(f"--plan-looks must be a whole number of looks from 1 to "
                        f"{MAX_PLAN_LOOKS}, got {looks}")
    looks = int(looks)
    if looks < seen:
        raise PlanError(f"--plan-looks {looks} is fewer than the {seen} looks (dates) the "
                        "file already has; plan the whole horizon")
    n_c, x_c, n_t, x_t = (a[-1] for a in counts.arrays())
    if n_c <= 0 or n_t <= 0:
        raise PlanError("a plan needs customers in both arms at the looks seen so far")
    share_test = n_t / (n_c + n_t)
    if per_look is None:
        per_c, per_t = n_c / seen, n_t / seen
        source = f"mean per look over the {seen} look(s) seen when the plan was made"
    else:
        if not (np.isfinite(per_look) and per_look >= 2):
            raise PlanError(f"--plan-per-look must be at least 2 customers, got {per_look}")
        per_c, per_t = per_look * (1 - share_test), per_look * share_test
        source = (f"given (--plan-per-look {per_look:g}), split as seen so far "
                  f"({share_test:.1%} in Test)")
    k = np.arange(1, looks + 1, dtype=float)
    plan_c = np.maximum(np.round(per_c * k), 1).astype(np.int64)
    plan_t = np.maximum(np.round(per_t * k), 1).astype(np.int64)
    if rate is None:
        rate = float((x_c + x_t + 1.0) / (n_c + n_t + 2.0))
        rate_source = f"pooled rate of both arms over the {seen} look(s) seen"
    else:
        if not 0 < rate < 1:
            raise PlanError(f"--plan-rate must be a rate in (0, 1), got {rate}")
        rate_source = "given (--plan-rate)"
    q = calibrate_bayes_threshold(plan_c, plan_t, rate=rate, alpha=config.alpha,
                                  n_sims=config.calibration_sims, seed=config.seed,
                                  min_events=config.min_events)
    if config.tau is not None:
        tau, tau_source = float(config.tau), "given (--tau)"
    else:
        tau = planned_tau(plan_c[-1], plan_t[-1], rate=rate, alpha=config.alpha)
        tau_source = "plan: tightest at the planned horizon, from the plan's rate"
    return MonitorPlan(
        looks=looks, n_control=tuple(int(v) for v in plan_c),
        n_test=tuple(int(v) for v in plan_t), per_look_source=source, rate=float(rate),
        rate_source=rate_source, alpha=config.alpha, min_events=config.min_events,
        calibration_sims=config.calibration_sims, seed=config.seed, bayes_threshold=q,
        tau=tau, tau_source=tau_source, control=counts.control, test=counts.test,
        metric=counts.metric, start_date=counts.dates[0],
        created={"file": None if file is None else Path(file).name, "looks_seen": seen,
                 "last_date_seen": counts.dates[-1]},
    )


def check_plan(plan: MonitorPlan, counts: DailyCounts, config: MonitorConfig) -> None:
    """Refuse (:class:`PlanError`) a run that the plan does not cover."""
    problems = []
    if (plan.control, plan.test) != (counts.control, counts.test):
        problems.append(f"it compares '{plan.test}' with '{plan.control}', this run "
                        f"'{counts.test}' with '{counts.control}'")
    if plan.metric != counts.metric:
        problems.append(f"it monitors '{plan.metric}', this run '{counts.metric}'")
    if plan.start_date != counts.dates[0]:
        problems.append(f"its experiment starts on {plan.start_date}, the file's first date "
                        f"is {counts.dates[0]}")
    if len(counts.dates) > plan.looks:
        problems.append(f"it covers {plan.looks} looks and the file has {len(counts.dates)} "
                        "dates: the calibrated threshold holds only up to the planned "
                        "horizon (the confidence sequence, without --plan, stays valid)")
    if not np.isclose(config.alpha, plan.alpha, rtol=0, atol=1e-12):
        problems.append(f"its alpha is {plan.alpha:g}, this run asks for {config.alpha:g}")
    if config.min_events != plan.min_events:
        problems.append(f"its --min-events is {plan.min_events}, this run asks for "
                        f"{config.min_events}")
    if config.tau is not None and not np.isclose(config.tau, plan.tau, rtol=1e-9, atol=0):
        problems.append(f"its tau is {plan.tau:.6g}, this run asks for {config.tau:g}")
    if problems:
        raise PlanError("the plan does not fit this run: " + "; ".join(problems) + ". Keep "
                        "the plan of this experiment, or start a new experiment with a new "
                        "plan file")


def planned_tau(n_control: float, n_test: float, *, rate: float, alpha: float) -> float:
    """tau tightest at sample sizes (n_control, n_test) for a common ``rate``."""
    v_h = rate * (1 - rate) * (1.0 / max(n_control, 1.0) + 1.0 / max(n_test, 1.0))
    return float(np.sqrt(optimal_tau_ratio(alpha) * v_h))


# --------------------------------------------------------------------------- reading


def _read(path: Path):
    from bayes_ab.data.load import read_table

    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", file=str(path))
    return read_table(path)


def _col(table, name: str, option: str) -> str:
    from bayes_ab.data.columns import find_column

    return find_column(table, name, option=option)


def _dates(table, col: str) -> np.ndarray:
    import pandas as pd

    from bayes_ab.data.load import LINE

    raw = table.data[col]
    parsed = pd.to_datetime(raw.astype(str).str.strip(), errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError("unparseable date (use ISO 8601, e.g. 2026-05-01)", file=table.name,
                        column=col, lines=table.data[LINE].to_numpy()[bad][:20],
                        n_rows=int(bad.sum()))
    return parsed.dt.floor("D").dt.strftime("%Y-%m-%d").to_numpy()


def _numbers(table, col: str, option: str) -> np.ndarray:
    import pandas as pd

    from bayes_ab.data.load import LINE

    values = pd.to_numeric(table.data[col].astype(str).str.strip(), errors="coerce").to_numpy()
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        raise DataError(f"{option} needs non-negative whole numbers", file=table.name, column=col,
                        lines=table.data[LINE].to_numpy()[bad][:20], n_rows=int(bad.sum()))
    return values.astype(np.int64)


def _pick_arms(arms: list[str], *, control: str | None, test: str | None, file: str,
               group_col: str) -> tuple[str, str, str]:
    from bayes_ab.workflows.compare import choose_control

    if len(arms) < 2:
        raise DataError(f"only one arm ({arms}) in the group column: monitoring needs two",
                        file=file, column=group_col)
    shim = types.SimpleNamespace(file=file, group_col=group_col)
    ctrl, note = choose_control(arms, control, data=shim)
    others = [a for a in arms if a != ctrl]
    if test is None:
        if len(others) > 1:
            raise DataError(f"{len(arms)} arms ({', '.join(arms)}): name the one to monitor "
                            f"against '{ctrl}' with --test", file=file, column=group_col)
        return ctrl, others[0], note
    match = [a for a in others if a.lower() == str(test).strip().lower()]
    if len(match) != 1:
        raise DataError(f"--test '{test}' is not one of the arms other than control: "
                        f"{', '.join(others)}", file=file, column=group_col)
    return ctrl, match[0], note


def read_daily_counts(
    path: str | Path,
    *,
    date_col: str,
    group_col: str,
    outcome_col: str | None = None,
    n_col: str | None = None,
    conversions_col: str | None = None,
    control: str | None = None,
    test: str | None = None,
) -> tuple[DailyCounts, dict]:
    """Cumulative counts per day from a row-level export (``outcome_col``: one row per
    customer, the date they entered) or a pre-aggregated cumulative table (``n_col`` and
    ``conversions_col``: one row per date and arm). Returns the counts and an input note."""
    import pandas as pd

    from bayes_ab.data.columns import parse_outcome
    from bayes_ab.data.load import LINE

    path = Path(path)
    rows_mode = outcome_col is not None
    if rows_mode == (n_col is not None or conversions_col is not None):
        raise OptionError("give either --outcome-col (one row per customer) or --n-col and "
                          "--conversions-col (cumulative counts per date and arm)")
    if not rows_mode and (n_col is None or conversions_col is None):
        raise OptionError("cumulative input needs both --n-col and --conversions-col")
    table = _read(path)
    dcol = _col(table, date_col, "--date-col")
    gcol = _col(table, group_col, "--group-col")
    groups = table.data[gcol].astype(str).str.strip().to_numpy()
    lines = table.data[LINE].to_numpy()
    if (groups == "").any():
        blank = groups == ""
        raise DataError("empty group label", file=table.name, column=group_col,
                        lines=lines[blank][:20], n_rows=int(blank.sum()))
    dates = _dates(table, dcol)
    arms = sorted(set(groups.tolist()))
    ctrl, tst, note = _pick_arms(arms, control=control, test=test, file=table.name,
                                 group_col=group_col)
    if rows_mode:
        ocol = _col(table, outcome_col, "--outcome-col")
        y = parse_outcome(table.data[ocol].to_numpy(), lines, file=table.name, column=outcome_col)
        df = pd.DataFrame({"date": dates, "arm": groups, "y": y})
        df = df[df["arm"].isin([ctrl, tst])]
        daily = df.groupby(["date", "arm"])["y"].agg(["count", "sum"]).unstack("arm", fill_value=0)
        daily = daily.sort_index()
        n = daily["count"].reindex(columns=[ctrl, tst], fill_value=0).cumsum()
        x = daily["sum"].reindex(columns=[ctrl, tst], fill_value=0).cumsum()
        metric = outcome_col
    else:
        ncol = _col(table, n_col, "--n-col")
        xcol = _col(table, conversions_col, "--conversions-col")
        nv, xv = _numbers(table, ncol, "--n-col"), _numbers(table, xcol, "--conversions-col")
        df = pd.DataFrame({"date": dates, "arm": groups, "n": nv, "x": xv, "line": lines})
        df = df[df["arm"].isin([ctrl, tst])]
        dup = df.duplicated(["date", "arm"], keep=False).to_numpy()
        if dup.any():
            raise DataError("the same date and arm appear on several rows (cumulative input "
                            "needs one row per date and arm)", file=table.name, column=date_col,
                            lines=df["line"].to_numpy()[dup][:20], n_rows=int(dup.sum()))
        over = (df["x"] > df["n"]).to_numpy()
        if over.any():
            raise DataError("more conversions than customers", file=table.name,
                            column=conversions_col, lines=df["line"].to_numpy()[over][:20],
                            n_rows=int(over.sum()))
        # A date missing for one arm carries that arm's last cumulative count forward.
        n = df.pivot(index="date", columns="arm", values="n").sort_index()
        x = df.pivot(index="date", columns="arm", values="x").sort_index()
        n = n.reindex(columns=[ctrl, tst]).ffill().fillna(0)
        x = x.reindex(columns=[ctrl, tst]).ffill().fillna(0)
        for frame, col in ((n, n_col), (x, conversions_col)):
            dec = (frame.diff() < 0).any(axis=1).to_numpy()
            if dec.any():
                first = frame.index[dec][0]
                raise DataError(f"cumulative counts must not decrease over time; they do on "
                                f"{first}", file=table.name, column=col)
        metric = conversions_col
    counts = DailyCounts(
        dates=tuple(str(d) for d in n.index), control=ctrl, test=tst,
        n_control=tuple(int(v) for v in n[ctrl]), x_control=tuple(int(v) for v in x[ctrl]),
        n_test=tuple(int(v) for v in n[tst]), x_test=tuple(int(v) for v in x[tst]),
        metric=str(metric),
    )
    info = {"file": str(path), "mode": "rows" if rows_mode else "cumulative",
            "date_col": date_col, "group_col": group_col, "outcome_col": outcome_col,
            "n_col": n_col, "conversions_col": conversions_col, "n_rows": int(len(table.data)),
            "control_note": note}
    return counts, info


# --------------------------------------------------------------------------- monitor


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _posterior_lifts(n_c, x_c, n_t, x_t, *, seed: int, n_draws: int = 20000) -> list[dict]:
    """Exact-model posterior of the lift per look (Beta(1, 1) priors, HDI of draws)."""
    from bayes_ab.inference.intervals import draws_interval

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_c.size):
        c = rng.beta(1 + x_c[k], 1 + n_c[k] - x_c[k], n_draws)
        t = rng.beta(1 + x_t[k], 1 + n_t[k] - x_t[k], n_draws)
        out.append(draws_interval(t - c))
    return out


def monitor(counts: DailyCounts, *, config: MonitorConfig = MonitorConfig(),
            input_info: dict | None = None, plan: MonitorPlan | None = None,
            plan_info: dict | None = None) -> dict:
    """The monitor.json dict: per look the sequence, the posterior, the stopping rules.

    The calibrated Bayesian rule is given only with a ``plan`` (its threshold and tau are
    the plan's, whatever the file holds today); without one, ``stopping.bayes_calibrated``
    says it is unavailable and why. ``plan_info`` (e.g. the plan file and whether this run
    wrote it) is copied into ``settings.plan``."""
    n_c, x_c, n_t, x_t = counts.arrays()
    alpha = config.alpha
    if plan is not None:
        check_plan(plan, counts, config)
        tau, tau_source = plan.tau, plan.tau_source
        q: float | None = plan.bayes_threshold
    else:
        tau = config.tau if config.tau is not None else horizon_tau(counts, alpha=alpha)
        tau_source = ("given" if config.tau is not None else
                      "horizon (pooled rate at the file's last look; tightest there; moves "
                      "as the file grows, fixed with --plan)")
        q = None
    tau2 = tau * tau
    d, v = _plug_in(n_c, x_c, n_t, x_t)
    lower, upper = msprt_cs(d, v, tau2=tau2, alpha=alpha)
    log_lr = msprt_log_lr(d, v, tau2=tau2)
    p_av = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)))
    p_naive = naive_z_p(n_c, x_c, n_t, x_t)
    p_better = prob_better_normal(n_c, x_c, n_t, x_t)
    ok = _eligible(n_c, x_c, n_t, x_t, config.min_events)
    post = _posterior_lifts(n_c, x_c, n_t, x_t, seed=config.seed)

    stop_cs = ok & ((lower > 0) | (upper < 0))
    stop_bayes = (ok & (np.maximum(p_better, 1 - p_better) > q) if q is not None
                  else np.zeros(ok.shape, bool))
    naive_p = ok & (p_naive < alpha)
    naive_b = ok & (p_better > 1 - alpha)
    looks = []
    for k, date in enumerate(counts.dates):
        looks.append({
            "look": k + 1,
            "date": date,
            "n_control": int(n_c[k]), "successes_control": int(x_c[k]),
            "n_test": int(n_t[k]), "successes_test": int(x_t[k]),
            "rate_control": float(x_c[k] / n_c[k]) if n_c[k] else None,
            "rate_test": float(x_t[k] / n_t[k]) if n_t[k] else None,
            "lift_abs_observed": float(d[k]),
            "confidence_sequence": {"mean": float(d[k]), "lower": float(lower[k]),
                                    "upper": float(upper[k]), "prob": 1.0 - alpha},
            "always_valid_p": float(p_av[k]),
            "posterior_lift_abs": post[k],
            "prob_test_better": float(p_better[k]),
            "naive_p_value": float(p_naive[k]),
            "eligible": bool(ok[k]),
            "stop_confidence_sequence": bool(stop_cs[k]),
            "stop_bayes_calibrated": bool(stop_bayes[k]) if q is not None else None,
        })

    def rule(mask: np.ndarray, name: str, description: str, direction) -> dict:
        k = _first(mask)
        return {
            "rule": name, "description": description, "stopped": k is not None,
            "look": None if k is None else k + 1,
            "date": None if k is None else counts.dates[k],
            "direction": None if k is None else direction(k),
        }

    def side_cs(k: int) -> str:
        return "test_better" if lower[k] > 0 else "test_worse"

    def side_p(k: int) -> str:
        return "test_better" if p_better[k] > 0.5 else "test_worse"

    if plan is not None:
        bayes_rule = rule(
            stop_bayes, "bayes_calibrated",
            f"stop at the first look where max(P(better), 1 - P(better)) > {q:.4f}, the "
            f"threshold whose A/A false-positive rate over the {plan.looks} planned looks "
            f"is {alpha:g} (calibrated once, by the plan)", side_p)
        bayes_rule["available"] = True
        calibration = {"n_sims": plan.calibration_sims, "seed": plan.seed,
                       "pooled_rate": plan.rate,
                       "method": f"A/A simulation of the plan's schedule ({plan.looks} looks "
                                 f"of about {plan.n_control[0]:,} Control + "
                                 f"{plan.n_test[0]:,} Test customers), done once when the "
                                 "plan was made"}
        k_now = len(counts.dates)
        plan_block = {
            **(plan_info or {}), "looks_planned": plan.looks, "looks_so_far": k_now,
            "start_date": plan.start_date, "bayes_threshold": q, "tau": plan.tau,
            "alpha": plan.alpha,
            "planned_n_at_latest_look": {"control": plan.n_control[k_now - 1],
                                         "test": plan.n_test[k_now - 1]},
            "observed_over_planned_n": float((n_c[-1] + n_t[-1])
                                             / (plan.n_control[k_now - 1]
                                                + plan.n_test[k_now - 1])),
            "created": dict(plan.created),
        }
    else:
        reason = ("needs a plan: give --plan FILE with --plan-looks N on the first run (the "
                  "threshold is calibrated once on the planned horizon and reused; "
                  "recalibrating on the looks seen so far at each run inflates false "
                  "positives)")
        bayes_rule = {"rule": "bayes_calibrated", "description": f"not computed: {reason}",
                      "stopped": False, "look": None, "date": None, "direction": None,
                      "available": False, "reason": reason}
        calibration = None
        plan_block = None

    last = len(counts.dates) - 1
    return {
        "schema_version": SCHEMA_VERSION,
        "input": {**(input_info or {}), "control": counts.control, "test": counts.test,
                  "metric": counts.metric, "n_looks": len(counts.dates)},
        "settings": {
            "alpha": alpha,
            "tau": float(tau),
            "tau_source": tau_source,
            "min_events": config.min_events,
            "bayes_threshold": q,
            "calibration": calibration,
            "plan": plan_block,
            "prior": "Beta(1, 1) on each arm's rate",
        },
        "looks": looks,
        "stopping": {
            "confidence_sequence": rule(
                stop_cs, "confidence_sequence",
                f"stop at the first look whose {100 * (1 - alpha):.0f}% always-valid confidence "
                f"sequence for the lift excludes 0 (error rate <= {alpha:g} for any looks)",
                side_cs),
            "bayes_calibrated": bayes_rule,
            "naive_p_value": rule(naive_p, "naive_p_value",
                                  f"p < {alpha:g} at a look (inflates false positives)", side_p),
            "naive_prob_better": rule(naive_b, "naive_prob_better",
                                      f"P(Test better) > {1 - alpha:g} at a look (inflates "
                                      "false positives)", lambda k: "test_better"),
        },
        "latest": {
            "date": counts.dates[last],
            "confidence_sequence": looks[last]["confidence_sequence"],
            "always_valid_p": float(p_av[last]),
            "posterior_lift_abs": post[last],
            "prob_test_better": float(p_better[last]),
        },
    }


def monitor_file(path: str | Path, *, config: MonitorConfig = MonitorConfig(),
                 plan: MonitorPlan | None = None, **read_options: Any) -> dict:
    """Read a dated export and return the monitor.json dict (``plan``: see :func:`monitor`)."""
    counts, info = read_daily_counts(path, **read_options)
    return monitor(counts, config=config, input_info=info, plan=plan)


# --------------------------------------------------------------------------- peeking


@dataclass(frozen=True)
class PeekingResult:
    """Share of simulated experiments that each rule stops with a "difference" at some look
    (the false-positive rate when ``effect`` is 0, the power otherwise)."""

    n_sims: int
    looks: int
    per_look_control: int
    per_look_test: int
    rate: float
    effect: float
    alpha: float
    tau: float
    bayes_threshold: float
    rates: dict

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("n_sims", "looks", "per_look_control",
                                               "per_look_test", "rate", "effect", "alpha", "tau",
                                               "bayes_threshold")} | {"declared_difference":
                                                                     dict(self.rates)}


def peeking_simulation(
    *, looks: int = 30, per_look_control: int = 700, per_look_test: int = 300,
    rate: float = 0.10, alpha: float = round(1.0 - HDI_PROB, 12), n_sims: int = 2000,
    seed: int = 0, effect: float = 0.0,
    min_events: int = DEFAULT_MIN_EVENTS, calibration_sims: int = MonitorConfig.calibration_sims,
) -> PeekingResult:
    """Simulate A/A experiments (Bernoulli streams, ``rate`` in both arms, a look after
    every ``per_look_*`` customers) and count how often each rule ever declares a
    difference. The calibrated Bayesian threshold comes from independent simulations
    (a different seed), so its error rate is measured out of sample."""
    n_c = per_look_control * np.arange(1, looks + 1, dtype=float)
    n_t = per_look_test * np.arange(1, looks + 1, dtype=float)
    x_c, x_t = simulate_null_paths(n_c, n_t, rate=rate, n_sims=n_sims, seed=seed,
                                   rate_test=rate + effect)
    nc, nt = np.broadcast_to(n_c, x_c.shape), np.broadcast_to(n_t, x_t.shape)
    ok = _eligible(nc, x_c, nt, x_t, min_events)
    # tau from the design (pooled rate at the horizon), as `monitor` does by default.
    v_h = rate * (1 - rate) * (1 / n_c[-1] + 1 / n_t[-1])
    tau2 = optimal_tau_ratio(alpha) * v_h
    d, v = _plug_in(nc, x_c, nt, x_t)
    lo, hi = msprt_cs(d, v, tau2=tau2, alpha=alpha)
    pb = prob_better_normal(nc, x_c, nt, x_t)
    q = calibrate_bayes_threshold(n_c, n_t, rate=rate, alpha=alpha, n_sims=calibration_sims,
                                  seed=seed + 1_000_003, min_events=min_events)
    p = naive_z_p(nc, x_c, nt, x_t)
    any_look = {
        "naive_p_below_alpha": ok & (p < alpha),
        "naive_prob_better_above_1_minus_alpha": ok & (pb > 1 - alpha),
        "naive_prob_better_two_sided": ok & (np.maximum(pb, 1 - pb) > 1 - alpha),
        "confidence_sequence_excludes_0": ok & ((lo > 0) | (hi < 0)),
        "bayes_calibrated_threshold": ok & (np.maximum(pb, 1 - pb) > q),
        "fixed_horizon_p_last_look_only": (p < alpha)[:, -1:] & ok[:, -1:],
    }
    rates = {k: float(m.any(axis=1).mean()) for k, m in any_look.items()}
    # The promise of the sequence: it never misses the true lift, at any look.
    rates["confidence_sequence_ever_misses_truth"] = float(
        (ok & ((lo > effect) | (hi < effect))).any(axis=1).mean())
    stop = any_look["confidence_sequence_excludes_0"]
    first = np.where(stop.any(axis=1), stop.argmax(axis=1) + 1, np.nan)
    rates["confidence_sequence_median_stop_look"] = (
        float(np.nanmedian(first)) if np.isfinite(first).any() else None)
    return PeekingResult(n_sims=n_sims, looks=looks, per_look_control=per_look_control,
                         per_look_test=per_look_test, rate=rate, effect=effect, alpha=alpha,
                         tau=float(np.sqrt(tau2)), bayes_threshold=q, rates=rates)


# --------------------------------------------------------------------------- daily reruns


@dataclass(frozen=True)
class DailyRerunResult:
    """Share of simulated experiments in which a user who reruns ``monitor`` every day on
    the growing file (day k's run sees looks 1..k only) is told to stop at some day."""

    n_sims: int
    looks: int
    per_look_control: int
    per_look_test: int
    rate: float
    effect: float
    alpha: float
    plan_calibration_sims: int
    rerun_calibration_sims: int
    plan_threshold_at_rate: float
    rerun_threshold_by_day: tuple[float, ...]
    rates: dict

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in (
            "n_sims", "looks", "per_look_control", "per_look_test", "rate", "effect", "alpha",
            "plan_calibration_sims", "rerun_calibration_sims", "plan_threshold_at_rate")} | {
            "rerun_threshold_by_day": list(self.rerun_threshold_by_day),
            "declared_difference": dict(self.rates)}


def _pooled(n_c, x_c, n_t, x_t) -> np.ndarray:
    """The pooled rate `monitor` and `make_plan` calibrate at ((x + 1) / (n + 2))."""
    return (x_c + x_t + 1.0) / (n_c + n_t + 2.0)


def _threshold_by_rate(n_c, n_t, rates: np.ndarray, *, alpha, n_sims, seed, min_events,
                       n_grid: int) -> np.ndarray:
    """Each experiment's calibrated threshold at its own pooled rate, interpolated
    linearly between calibrations on a grid of rates spanning them (the threshold moves
    by about 0.0005 between rates 0.06 and 0.14)."""
    lo, hi = np.quantile(rates, [0.001, 0.999])
    grid = np.unique(np.linspace(lo, hi, n_grid)) if hi > lo else np.array([lo])
    qs = np.array([calibrate_bayes_threshold(n_c, n_t, rate=float(r), alpha=alpha,
                                             n_sims=n_sims, seed=seed, min_events=min_events)
                   for r in grid])
    return np.interp(rates, grid, qs)


def daily_rerun_simulation(
    *, looks: int = 30, per_look_control: int = 700, per_look_test: int = 300,
    rate: float = 0.10, alpha: float = round(1.0 - HDI_PROB, 12), n_sims: int = 2000,
    seed: int = 0, effect: float = 0.0, min_events: int = DEFAULT_MIN_EVENTS,
    plan_calibration_sims: int = MonitorConfig.calibration_sims,
    rerun_calibration_sims: int = 4000, n_rate_grid: int = 5,
) -> DailyRerunResult:
    """Simulate the daily-rerun usage: on each day k the user runs `monitor` on the file
    holding looks 1..k and stops if that run reports a stop at any of its looks. An
    experiment counts as "declared a difference" if some day's run does.

    Rules (all on the same simulated experiments):

    * ``naive_p_below_alpha`` / ``naive_prob_better_above_1_minus_alpha``: as in
      :func:`peeking_simulation` (a daily rerun sees what a single run at the end sees);
    * ``confidence_sequence_plan_tau``: tau fixed by a plan made on day 1 (its rate is the
      pooled rate of day 1, its horizon the planned one);
    * ``confidence_sequence_rerun_tau``: no plan, no ``--tau``: each day's run takes tau
      from that day's file (pooled rate and sizes at its last look), the default without a
      plan;
    * ``bayes_plan``: the threshold of a plan made on day 1 (:func:`make_plan`: calibrated
      once on the planned ``looks``-look schedule at day 1's pooled rate, with
      ``plan_calibration_sims`` simulations), reused unchanged every day;
    * ``bayes_recalibrated_daily``: the old behaviour, each day's run recalibrating the
      threshold on the looks in the file that day (at that day's pooled rate, with
      ``rerun_calibration_sims``, the old default), which is what leaks.

    The calibrations use their own seed (``seed + 1_000_003``, the same on every day, as a
    fixed ``--seed`` is), so the rates are out of sample."""
    n_c = per_look_control * np.arange(1, looks + 1, dtype=float)
    n_t = per_look_test * np.arange(1, looks + 1, dtype=float)
    x_c, x_t = simulate_null_paths(n_c, n_t, rate=rate, n_sims=n_sims, seed=seed,
                                   rate_test=rate + effect)
    nc, nt = np.broadcast_to(n_c, x_c.shape), np.broadcast_to(n_t, x_t.shape)
    ok = _eligible(nc, x_c, nt, x_t, min_events)
    d, v = _plug_in(nc, x_c, nt, x_t)
    pb = prob_better_normal(nc, x_c, nt, x_t)
    m = np.where(ok, np.maximum(pb, 1 - pb), 0.5)
    p = naive_z_p(nc, x_c, nt, x_t)
    pooled = _pooled(nc, x_c, nt, x_t)  # n_sims x looks: what the day-k run calibrates at
    cal_seed = seed + 1_000_003

    fired: dict[str, np.ndarray] = {
        "naive_p_below_alpha": (ok & (p < alpha)).any(axis=1),
        "naive_prob_better_above_1_minus_alpha": (ok & (pb > 1 - alpha)).any(axis=1),
    }
    # The plan, made on day 1: tau and the threshold from day 1's pooled rate.
    rate_plan = pooled[:, 0]
    tau2_plan = np.array([planned_tau(n_c[-1], n_t[-1], rate=r, alpha=alpha) ** 2
                          for r in rate_plan])[:, None]
    lo, hi = msprt_cs(d, v, tau2=tau2_plan, alpha=alpha)
    fired["confidence_sequence_plan_tau"] = (ok & ((lo > 0) | (hi < 0))).any(axis=1)
    q_plan = _threshold_by_rate(n_c, n_t, rate_plan, alpha=alpha, n_sims=plan_calibration_sims,
                                seed=cal_seed, min_events=min_events, n_grid=n_rate_grid)
    fired["bayes_plan"] = (m > q_plan[:, None]).any(axis=1)
    q_at_rate = calibrate_bayes_threshold(n_c, n_t, rate=rate, alpha=alpha,
                                          n_sims=plan_calibration_sims, seed=cal_seed,
                                          min_events=min_events)
    # No plan: every day's run recomputes tau and (the old way) the threshold.
    cs_rerun = np.zeros(n_sims, bool)
    bayes_rerun = np.zeros(n_sims, bool)
    running_max = np.maximum.accumulate(m, axis=1)
    q_days = []
    for k in range(1, looks + 1):
        r_k = pooled[:, k - 1]
        tau2_k = optimal_tau_ratio(alpha) * r_k * (1 - r_k) * (1 / n_c[k - 1] + 1 / n_t[k - 1])
        lo_k, hi_k = msprt_cs(d[:, :k], v[:, :k], tau2=tau2_k[:, None], alpha=alpha)
        cs_rerun |= (ok[:, :k] & ((lo_k > 0) | (hi_k < 0))).any(axis=1)
        q_k = _threshold_by_rate(n_c[:k], n_t[:k], r_k, alpha=alpha,
                                 n_sims=rerun_calibration_sims, seed=cal_seed,
                                 min_events=min_events, n_grid=n_rate_grid)
        bayes_rerun |= running_max[:, k - 1] > q_k
        q_days.append(float(np.median(q_k)))
    fired["confidence_sequence_rerun_tau"] = cs_rerun
    fired["bayes_recalibrated_daily"] = bayes_rerun
    return DailyRerunResult(
        n_sims=n_sims, looks=looks, per_look_control=per_look_control,
        per_look_test=per_look_test, rate=rate, effect=effect, alpha=alpha,
        plan_calibration_sims=plan_calibration_sims,
        rerun_calibration_sims=rerun_calibration_sims, plan_threshold_at_rate=q_at_rate,
        rerun_threshold_by_day=tuple(q_days),
        rates={k: float(f.mean()) for k, f in fired.items()})
