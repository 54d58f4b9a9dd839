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
  exceeds a threshold q chosen so that, under A/A data with this file's look schedule and
  pooled rate, the chance of crossing at *any* look is alpha. (b) is valid for the schedule
  it was calibrated on (a fixed calendar of looks); (a) for every schedule.

``tau`` (the mixture's spread, in the lift's units) sets where the sequence is tightest.
By default it is chosen for the last look (the horizon): tau^2 = r* v_H, where v_H is the
variance of the difference under the pooled rate at the final sample sizes and r* ~ 8
minimises the width there. The pooled rate carries no information about the difference,
so this choice does not peek at the effect. Pass ``tau`` when monitoring live.

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
    "MonitorConfig",
    "calibrate_bayes_threshold",
    "horizon_tau",
    "monitor",
    "msprt_cs",
    "msprt_log_lr",
    "naive_z_p",
    "optimal_tau_ratio",
    "plot_monitor",
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
    calibration_sims: int = 4000
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
    min_events: int = DEFAULT_MIN_EVENTS,
) -> float:
    """Threshold q such that, under A/A data with this look schedule, P(max over eligible
    looks of max(P(better), 1 - P(better)) > q) = alpha (two-sided, like the sequence)."""
    n_c = np.asarray(n_c, dtype=float)
    n_t = np.asarray(n_t, dtype=float)
    x_c, x_t = simulate_null_paths(n_c, n_t, rate=rate, n_sims=n_sims, seed=seed)
    nc, nt = np.broadcast_to(n_c, x_c.shape), np.broadcast_to(n_t, x_t.shape)
    p = prob_better_normal(nc, x_c, nt, x_t)
    m = np.where(_eligible(nc, x_c, nt, x_t, min_events), np.maximum(p, 1 - p), 0.5)
    return float(np.quantile(m.max(axis=1), 1.0 - alpha))


# --------------------------------------------------------------------------- reading


def _read(path: Path):
    from bayes_ab.data.load import read_table

    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", file=str(path))
    return read_table(path)


def _col(table, name: str, option: str) -> str:
    from bayes_ab.compare import _column

    return _column(table, name, option=option)


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
    from bayes_ab.compare import choose_control

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

    from bayes_ab.compare import parse_outcome
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
    from bayes_ab.intervals import interval

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_c.size):
        c = rng.beta(1 + x_c[k], 1 + n_c[k] - x_c[k], n_draws)
        t = rng.beta(1 + x_t[k], 1 + n_t[k] - x_t[k], n_draws)
        out.append(interval(t - c))
    return out


def monitor(counts: DailyCounts, *, config: MonitorConfig = MonitorConfig(),
            input_info: dict | None = None) -> dict:
    """The monitor.json dict: per look the sequence, the posterior, the stopping rules."""
    n_c, x_c, n_t, x_t = counts.arrays()
    alpha = config.alpha
    tau = config.tau if config.tau is not None else horizon_tau(counts, alpha=alpha)
    tau2 = tau * tau
    d, v = _plug_in(n_c, x_c, n_t, x_t)
    lower, upper = msprt_cs(d, v, tau2=tau2, alpha=alpha)
    log_lr = msprt_log_lr(d, v, tau2=tau2)
    p_av = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)))
    p_naive = naive_z_p(n_c, x_c, n_t, x_t)
    p_better = prob_better_normal(n_c, x_c, n_t, x_t)
    ok = _eligible(n_c, x_c, n_t, x_t, config.min_events)
    pooled = float((x_c[-1] + x_t[-1] + 1.0) / (n_c[-1] + n_t[-1] + 2.0))
    q = calibrate_bayes_threshold(n_c, n_t, rate=pooled, alpha=alpha,
                                  n_sims=config.calibration_sims, seed=config.seed,
                                  min_events=config.min_events)
    post = _posterior_lifts(n_c, x_c, n_t, x_t, seed=config.seed)

    stop_cs = ok & ((lower > 0) | (upper < 0))
    stop_bayes = ok & (np.maximum(p_better, 1 - p_better) > q)
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
            "stop_bayes_calibrated": bool(stop_bayes[k]),
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

    last = len(counts.dates) - 1
    return {
        "schema_version": SCHEMA_VERSION,
        "input": {**(input_info or {}), "control": counts.control, "test": counts.test,
                  "metric": counts.metric, "n_looks": len(counts.dates)},
        "settings": {
            "alpha": alpha,
            "tau": float(tau),
            "tau_source": "given" if config.tau is not None else
                          "horizon (pooled rate at the last look; tightest there)",
            "min_events": config.min_events,
            "bayes_threshold": q,
            "calibration": {"n_sims": config.calibration_sims, "seed": config.seed,
                            "pooled_rate": pooled,
                            "method": "A/A simulation with this file's look schedule"},
            "prior": "Beta(1, 1) on each arm's rate",
        },
        "looks": looks,
        "stopping": {
            "confidence_sequence": rule(
                stop_cs, "confidence_sequence",
                f"stop at the first look whose {100 * (1 - alpha):.0f}% always-valid confidence "
                f"sequence for the lift excludes 0 (error rate <= {alpha:g} for any looks)",
                side_cs),
            "bayes_calibrated": rule(
                stop_bayes, "bayes_calibrated",
                f"stop at the first look where max(P(better), 1 - P(better)) > {q:.4f}, the "
                f"threshold whose A/A false-positive rate over these looks is {alpha:g}",
                side_p),
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


def plot_monitor(result: dict, path: str | Path) -> Path:
    """The confidence sequence and the posterior HDI of the lift over time (top), and
    P(Test better) against the calibrated and naive thresholds (bottom)."""
    from bayes_ab.plotting import _plt, _save

    plt = _plt()
    looks = result["looks"]
    x = np.arange(len(looks))
    cs = result["looks"]
    lo = [lk["confidence_sequence"]["lower"] for lk in cs]
    hi = [lk["confidence_sequence"]["upper"] for lk in cs]
    plo = [lk["posterior_lift_abs"]["lower"] for lk in looks]
    phi = [lk["posterior_lift_abs"]["upper"] for lk in looks]
    mid = [lk["lift_abs_observed"] for lk in looks]
    alpha = result["settings"]["alpha"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 2]})
    ax1.fill_between(x, lo, hi, color="C0", alpha=0.25,
                     label=f"{100 * (1 - alpha):.0f}% always-valid confidence sequence")
    ax1.plot(x, plo, color="C1", lw=1, ls="--", label="95% HDI of the posterior (fixed-n)")
    ax1.plot(x, phi, color="C1", lw=1, ls="--")
    ax1.plot(x, mid, color="k", lw=1.2, label="observed lift")
    ax1.axhline(0, color="grey", lw=0.8)
    stop = result["stopping"]["confidence_sequence"]
    if stop["stopped"]:
        ax1.axvline(stop["look"] - 1, color="C3", lw=1, label=f"stop ({stop['date']})")
    ymax = np.nanmax(np.abs(np.concatenate([plo, phi, mid]))) * 2.5
    ax1.set_ylim(-ymax, ymax)
    ax1.set_ylabel("lift (Test - Control)")
    ax1.legend(fontsize=8, loc="upper right")
    ax1.set_title(f"{result['input']['test']} vs {result['input']['control']}: "
                  "lift by look")
    pb = [lk["prob_test_better"] for lk in looks]
    q = result["settings"]["bayes_threshold"]
    ax2.plot(x, pb, color="C2", label="P(Test better)")
    ax2.axhline(1 - alpha, color="C3", ls=":", lw=1, label=f"naive {1 - alpha:g}")
    ax2.axhline(q, color="C0", ls="--", lw=1, label=f"calibrated {q:.4f}")
    ax2.axhline(1 - q, color="C0", ls="--", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("P(Test better)")
    step = max(1, len(looks) // 8)
    ax2.set_xticks(x[::step])
    ax2.set_xticklabels([lk["date"] for lk in looks][::step], rotation=30, ha="right", fontsize=8)
    ax2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save(fig, path)


def monitor_file(path: str | Path, *, config: MonitorConfig = MonitorConfig(),
                 **read_options: Any) -> dict:
    """Read a dated export and return the monitor.json dict."""
    counts, info = read_daily_counts(path, **read_options)
    return monitor(counts, config=config, input_info=info)


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
    min_events: int = DEFAULT_MIN_EVENTS, calibration_sims: int = 4000,
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
