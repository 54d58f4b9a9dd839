"""Simulator of the help-widget experiment (seed 000, DATA_CONTRACT.md section 1).

The original data is not public, so this module writes the four files of the
contract from a documented generative story (docs/SIMULATOR.md) together with a
``truth.json`` holding the population values of every estimand of
docs/ESTIMANDS.md, computed from the generative parameters.

Design choices that matter to the analyses:

* Randomisation is an independent Bernoulli(``test_share``) draw per customer, so
  the split varies binomially, as real assignment does.
* The widget (Test arm) changes only the probability of choosing CS at a flag.
  Nothing else reads the arm, so the IV exclusion restriction holds by
  construction: the arm affects completion only through the channel chosen.
* Lower-ability customers get stuck more, complete less and choose CS more,
  so the naive CS-vs-OTHER comparison is confounded (biased against CS).
* Completion after a flag follows an exact proportional-hazards model:
  cumulative hazard ``H(t) = exp(eta) * F(t)`` with ``F`` a lognormal-mixture
  CDF (a defective distribution: ``P(ever) = 1 - exp(-exp(eta))``).
* Every random stream is drawn for every customer regardless of the path taken,
  from a `SeedSequence` spawned per component. So the same seed gives the same
  bytes, and the truth can compare both arms on common random numbers.

Population values are Monte-Carlo averages over ``TRUTH_N`` customers drawn from
their own fixed seed stream (independent of the data seed), each simulated under
both arms. Conditional expectations replace indicators where they are cheap
(Rao-Blackwellisation), which shrinks the Monte-Carlo error.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from bayes_ab.constants import ARMS, CS_TYPES, DESIGN_TEST_SHARE
from bayes_ab.errors import OptionError

#: Customers in the Monte-Carlo population behind truth.json (each simulated in both arms).
TRUTH_N = 1_000_000
#: Entropy of the truth's own seed stream: the truth does not depend on the data seed.
TRUTH_ENTROPY = 0x5EED_7217_B4A5
#: Time bins (minutes from the flag) of the piecewise-exponential fit defining the hazard ratio.
HAZARD_BIN_EDGES_MIN = (
    0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0,
    360.0, 480.0, 720.0, 1080.0, 1440.0, 2160.0, 2880.0, 4320.0,
)
FILE_STEMS = ("test_cohorts", "product_activity", "help_activity", "conversion")

_SECONDS_PER_DAY = 86_400.0
_COMPONENTS = ("ids", "cohort", "ability", "join", "attempt", "task1", "task2", "task3",
               "conversion")


def _default_arrival() -> tuple[float, ...]:
    # Relative sign-up intensity per UTC hour: quiet at night, rising from 07:00,
    # a plateau late morning to afternoon, fading in the evening.
    return (0.6, 0.4, 0.3, 0.3, 0.4, 0.6, 1.0, 1.8, 3.0, 4.2, 5.0, 5.4,
            5.3, 5.2, 5.4, 5.5, 5.1, 4.5, 3.8, 3.2, 2.6, 2.0, 1.4, 0.9)


@dataclass(frozen=True)
class SimParams:
    """Every generative parameter; override any with `dataclasses.replace` or `--set`.

    Units: times in minutes unless the name says otherwise; ``*_logit`` are
    intercepts on the log-odds scale; hour effects are per hour of the day (UTC)
    away from noon (``hour - 12``); ``ability`` is a latent N(0, 1) per customer.
    Mixtures are given as ``*_w`` (weights), ``*_median`` and ``*_sigma`` (of the log).
    Per-task tuples hold tasks 1, 2, 3.
    """

    # --- design and observation window
    test_share: float = DESIGN_TEST_SHARE  # P(Test) of each customer's independent draw
    join_date: str = "2026-05-05"  # every trialer joined on this UTC day
    window_days: float = 3.0  # files end at join_date + window_days (end of join day + 2)
    trial_days: float = 30.0  # conversion window after joining
    arrival_hour_weights: tuple[float, ...] = field(default_factory=_default_arrival)
    id_hex_digits: int = 12  # customer ids: "cus_" + random hex
    duplicate_row_rate: float = 0.0  # imperfection (off by default): activity rows logged twice

    # --- getting started
    attempt_logit: float = 1.9  # P(ever start task 1) at ability 0
    attempt_ability: float = 0.6
    first_start_w: tuple[float, ...] = (0.55, 0.30, 0.15)  # join -> start of task 1
    first_start_median: tuple[float, ...] = (4.0, 50.0, 900.0)
    first_start_sigma: tuple[float, ...] = (0.8, 0.9, 0.6)
    task_length: tuple[float, ...] = (1.0, 1.4, 1.8)  # scales the unaided durations

    # --- getting stuck (a help flag) during a started task
    stuck_logit: tuple[float, ...] = (-0.55, -0.85, -1.05)  # experience: later tasks less
    stuck_ability: float = -0.7  # low ability gets stuck more
    stuck_hour: float = -0.02  # per hour past noon
    stuck_delay_w: tuple[float, ...] = (0.7, 0.3)  # start -> flag
    stuck_delay_median: tuple[float, ...] = (3.0, 14.0)
    stuck_delay_sigma: tuple[float, ...] = (0.6, 0.8)
    flag_tick_seconds: int = 15  # the detector runs every 15 s; flags land on its ticks

    # --- unaided completion (not stuck)
    direct_logit: tuple[float, ...] = (2.3, 2.4, 2.5)
    direct_ability: float = 0.5
    direct_hour: float = 0.02
    direct_w: tuple[float, ...] = (0.75, 0.20, 0.05)
    direct_median: tuple[float, ...] = (5.0, 22.0, 240.0)
    direct_sigma: tuple[float, ...] = (0.6, 0.8, 0.9)

    # --- channel choice at a flag: logit P(CS)
    cs_logit: float = -1.55
    cs_widget: float = 1.45  # the widget's effect (Test arm); 0 in the null scenario
    cs_ability: float = -0.5  # low ability asks CS more: confounds CS vs OTHER
    cs_prior: float = 1.0  # habit: chose CS at an earlier flag
    cs_type_p: tuple[float, ...] = (0.35, 0.20, 0.30, 0.15)  # article, video, chatbot, agent

    # --- completion after a flag: cumulative hazard exp(eta) * F(t), F a lognormal mixture
    help_logit: float = -0.2  # intercept of eta (OTHER, task 1, noon, ability 0)
    help_cs: float = 0.55  # log hazard ratio of CS vs OTHER (conditional)
    help_task: tuple[float, ...] = (0.0, 0.1, 0.2)  # experience
    help_hour: float = 0.015
    help_ability: float = 0.5
    help_w: tuple[float, ...] = (0.55, 0.35, 0.10)
    help_median: tuple[float, ...] = (7.0, 40.0, 420.0)
    help_sigma: tuple[float, ...] = (0.6, 0.8, 1.0)

    # --- moving on to the next task after completing one
    continue_logit: float = 2.2
    continue_ability: float = 0.4
    gap_w: tuple[float, ...] = (0.50, 0.35, 0.15)
    gap_median: tuple[float, ...] = (0.8, 30.0, 1100.0)
    gap_sigma: tuple[float, ...] = (0.8, 1.0, 0.5)

    # --- conversion within the trial: logit = intercept + sum(increments[:n]) + ...
    conv_logit: float = -3.3
    conv_completion_steps: tuple[float, ...] = (0.45, 0.45, 0.75)  # any sign (non_monotone)
    conv_ability: float = 0.35
    conv_cs: float = 0.85  # talking to CS (within the window) sells the subscription
    conv_delay_w: tuple[float, ...] = (0.55, 0.30, 0.15)  # days from joining
    conv_delay_median: tuple[float, ...] = (1.0, 6.0, 18.0)
    conv_delay_sigma: tuple[float, ...] = (0.9, 0.6, 0.35)

    def __post_init__(self) -> None:
        _check_params(self)

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.join_date, tz="UTC")

    @property
    def cutoff(self) -> pd.Timestamp:
        """First instant not in the files (activity and help are censored here)."""
        return self.start + pd.Timedelta(days=self.window_days)


def _check_params(p: SimParams) -> None:
    def bad(name: str, why: str) -> OptionError:
        return OptionError(f"simulator parameter {name}: {why}")

    if not 0.0 < p.test_share < 1.0:
        raise bad("test_share", "must be in (0, 1)")
    if not 1.0 <= p.window_days <= p.trial_days:
        raise bad("window_days", "must be in [1, trial_days]")
    if len(p.arrival_hour_weights) != 24 or min(p.arrival_hour_weights) < 0:
        raise bad("arrival_hour_weights", "needs 24 non-negative weights")
    if not 6 <= p.id_hex_digits <= 32:
        raise bad("id_hex_digits", "must be in 6..32")
    if not 0.0 <= p.duplicate_row_rate < 0.5:
        raise bad("duplicate_row_rate", "must be in [0, 0.5)")
    if p.flag_tick_seconds < 1:
        raise bad("flag_tick_seconds", "must be >= 1")
    for name in ("task_length", "stuck_logit", "direct_logit", "help_task",
                 "conv_completion_steps"):
        if len(getattr(p, name)) != 3:
            raise bad(name, "needs one value per task (3)")
    if len(p.cs_type_p) != len(CS_TYPES) or min(p.cs_type_p) < 0:
        raise bad("cs_type_p", f"needs {len(CS_TYPES)} non-negative probabilities")
    for prefix in ("first_start", "stuck_delay", "direct", "help", "gap", "conv_delay"):
        w, med, sig = (getattr(p, f"{prefix}_{s}") for s in ("w", "median", "sigma"))
        if not len(w) == len(med) == len(sig) >= 1:
            raise bad(f"{prefix}_w/median/sigma", "must have the same length")
        if min(w) < 0 or sum(w) <= 0 or min(med) <= 0 or min(sig) <= 0:
            raise bad(f"{prefix}_w/median/sigma", "weights >= 0, medians and sigmas > 0")


#: Named scenarios: overrides applied to the defaults (which are the `effect` scenario).
SCENARIOS: dict[str, dict[str, Any]] = {
    "effect": {},
    "null": {"cs_widget": 0.0},
    "big_effect": {"cs_widget": 2.2, "help_cs": 0.8},
    # Conversion not monotone in completions: population rates about 4.0%, 11.9%, 6.0%,
    # 20.0% for 0..3 tasks completed (truth.json), so a model that assumes a shape is caught.
    "non_monotone": {"conv_completion_steps": (1.02, -0.85, 1.25), "conv_logit": -3.16},
}


def scenario_params(scenario: str = "effect", **overrides: Any) -> SimParams:
    """The parameters of a named scenario, with `overrides` (SimParams field names) applied."""
    if scenario not in SCENARIOS:
        raise OptionError(
            f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    names = {f.name for f in dataclasses.fields(SimParams)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise OptionError(f"unknown simulator parameter(s): {', '.join(unknown)}")
    values = {**SCENARIOS[scenario], **overrides}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return dataclasses.replace(SimParams(), **values)


@dataclass(frozen=True)
class Simulation:
    """The four files of the contract as DataFrames, plus the truth."""

    test_cohorts: pd.DataFrame  # customer_id, cohort, joined_at
    product_activity: pd.DataFrame  # customer_id, task, action, timestamp (long form)
    help_activity: pd.DataFrame  # customer_id, timestamp, task, channel, cs_type
    conversion: pd.DataFrame  # customer_id, converted (0/1), converted_at
    truth: dict
    params: SimParams

    def tables(self) -> dict[str, pd.DataFrame]:
        return {stem: getattr(self, stem) for stem in FILE_STEMS}


# ----------------------------------------------------------------------------- core


def _mixture_draw(rng: np.random.Generator, n: int, w, median, sigma) -> np.ndarray:
    """Lognormal mixture; always draws 2n numbers so streams stay aligned across paths."""
    u = rng.random(n)
    z = rng.standard_normal(n)
    cum = np.cumsum(np.asarray(w, float)) / float(np.sum(w))
    comp = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    return np.asarray(median, float)[comp] * np.exp(np.asarray(sigma, float)[comp] * z)


def _mixture_cdf(t, w, median, sigma) -> np.ndarray:
    t = np.asarray(t, float)
    w = np.asarray(w, float) / float(np.sum(w))
    with np.errstate(divide="ignore"):
        logt = np.log(np.maximum(t, 0.0))[..., None]
    z = (logt - np.log(np.asarray(median, float))) / np.asarray(sigma, float)
    return (ndtr(z) * w).sum(axis=-1)


@functools.lru_cache(maxsize=16)
def _inverse_grid(w, median, sigma) -> tuple[np.ndarray, np.ndarray]:
    # F is smooth and strictly increasing in log t: interpolating its inverse on a
    # fine grid is exact to ~1e-6 relative and fully vectorised.
    logt = np.linspace(np.log(1e-4), np.log(1e7), 8001)
    return _mixture_cdf(np.exp(logt), w, median, sigma), logt


def _mixture_ppf(q: np.ndarray, w, median, sigma) -> np.ndarray:
    grid_f, grid_logt = _inverse_grid(tuple(w), tuple(median), tuple(sigma))
    return np.exp(np.interp(q, grid_f, grid_logt))


def _hour_of_day(t_sec: np.ndarray) -> np.ndarray:
    """Hour of the UTC day (float, 0..24) of seconds since the join day's midnight."""
    finite = np.isfinite(t_sec)
    return np.where(finite, np.mod(np.where(finite, t_sec, 0.0), _SECONDS_PER_DAY) / 3600.0,
                    12.0)


@dataclass
class _Paths:
    """Internal arrays of one simulated population (seconds since join-day midnight)."""

    z: np.ndarray
    ability: np.ndarray
    join: np.ndarray
    start: np.ndarray  # (3, n), inf = never started
    flag: np.ndarray  # (3, n), inf = not flagged on that task
    cs: np.ndarray  # (3, n) bool, CS chosen at that flag
    cs_type: np.ndarray  # (3, n) int index into CS_TYPES
    complete: np.ndarray  # (3, n), inf = never completed
    p_help_obs: np.ndarray  # (3, n) P(complete within the window | flag), nan if no flag
    help_lambda: np.ndarray  # (3, n) exp(eta) at the flag, nan if no flag
    first_flag: dict  # first-flag potential outcomes (for the LATE)
    n_completed: np.ndarray  # observed (within the window)
    any_cs: np.ndarray  # observed
    p_convert: np.ndarray
    converted: np.ndarray
    converted_at: np.ndarray  # seconds, inf if not converted


def _simulate_paths(p: SimParams, n: int, seq: np.random.SeedSequence,
                    z: np.ndarray | None = None) -> _Paths:
    # Children are derived, not spawned, so the same `seq` gives the same streams
    # on every call (the truth simulates one population twice, once per arm).
    gens = {name: np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, i)))) for i, name in enumerate(_COMPONENTS)}
    cutoff = p.window_days * _SECONDS_PER_DAY

    z_draw = gens["cohort"].random(n) < p.test_share
    z = z_draw if z is None else np.broadcast_to(np.asarray(z, bool), (n,)).copy()
    ability = gens["ability"].standard_normal(n)

    g = gens["join"]
    weights = np.asarray(p.arrival_hour_weights, float)
    hour = g.choice(24, size=n, p=weights / weights.sum())
    join = np.floor(hour * 3600.0 + g.random(n) * 3600.0)

    g = gens["attempt"]
    attempts = g.random(n) < expit(p.attempt_logit + p.attempt_ability * ability)
    delay = _mixture_draw(g, n, p.first_start_w, p.first_start_median, p.first_start_sigma)
    next_start = np.where(attempts, join + 30.0 + delay * 60.0, np.inf)

    shape = (3, n)
    start, flag, complete = (np.full(shape, np.inf) for _ in range(3))
    cs = np.zeros(shape, bool)
    cs_type = np.zeros(shape, np.int8)
    p_help_obs, help_lambda = np.full(shape, np.nan), np.full(shape, np.nan)
    prior_cs = np.zeros(n, bool)
    flagged_before = np.zeros(n, bool)
    ff = {k: np.full(n, np.nan) for k in ("p_cs0", "p_cs1", "y0", "y1")}
    ff["has"] = np.zeros(n, bool)
    cs_type_cum = np.cumsum(p.cs_type_p) / np.sum(p.cs_type_p)

    for k in range(3):
        g = gens[f"task{k + 1}"]
        u_stuck, u_direct, u_choice, u_type, u_cont = (g.random(n) for _ in range(5))
        e_help = g.standard_exponential(n)
        stuck_delay = _mixture_draw(g, n, p.stuck_delay_w, p.stuck_delay_median,
                                    p.stuck_delay_sigma)
        direct_dur = _mixture_draw(g, n, p.direct_w, p.direct_median, p.direct_sigma)
        gap = _mixture_draw(g, n, p.gap_w, p.gap_median, p.gap_sigma)

        s = next_start
        active = np.isfinite(s)
        x = _hour_of_day(s) - 12.0
        stuck = active & (u_stuck < expit(p.stuck_logit[k] + p.stuck_ability * ability
                                          + p.stuck_hour * x))
        direct_ok = active & ~stuck & (u_direct < expit(
            p.direct_logit[k] + p.direct_ability * ability + p.direct_hour * x))
        direct_t = s + 20.0 + direct_dur * p.task_length[k] * 60.0

        tick = float(p.flag_tick_seconds)
        f = np.where(stuck, np.ceil((s + 10.0 + stuck_delay * 60.0) / tick) * tick, np.inf)
        xf = _hour_of_day(f) - 12.0
        base_cs = p.cs_logit + p.cs_ability * ability
        p_cs = expit(base_cs + p.cs_widget * z + p.cs_prior * prior_cs)
        d = stuck & (u_choice < p_cs)
        eta_other = p.help_logit + p.help_task[k] + p.help_hour * xf + p.help_ability * ability
        lam = np.exp(eta_other + p.help_cs * d)
        help_ok = stuck & (e_help < lam)
        # Invert the defective PH distribution: F(T) = E / exp(eta) when E < exp(eta).
        q = np.where(help_ok, e_help / lam, 0.5)
        t_help = _mixture_ppf(q, p.help_w, p.help_median, p.help_sigma)
        help_t = f + 1.0 + t_help * 60.0

        remaining_min = np.where(stuck, np.maximum(cutoff - f, 0.0) / 60.0, 0.0)
        f_rem = _mixture_cdf(remaining_min, p.help_w, p.help_median, p.help_sigma)
        p_help_obs[k] = np.where(stuck, -np.expm1(-lam * f_rem), np.nan)
        help_lambda[k] = np.where(stuck, lam, np.nan)

        # The first flag happens before any channel choice, so its task, time and the
        # customer's ability do not depend on the arm: both arms share the population
        # of first flags, and the compliers are those with p_cs0 <= U < p_cs1.
        first = stuck & ~flagged_before & (f < cutoff)
        ff["has"] |= first
        ff["p_cs0"] = np.where(first, expit(base_cs), ff["p_cs0"])
        ff["p_cs1"] = np.where(first, expit(base_cs + p.cs_widget), ff["p_cs1"])
        for key, dd in (("y0", 0.0), ("y1", 1.0)):
            lam_d = np.exp(eta_other + p.help_cs * dd)
            ff[key] = np.where(first, -np.expm1(-lam_d * f_rem), ff[key])
        flagged_before |= stuck

        done = np.where(direct_ok, direct_t, np.where(help_ok, help_t, np.inf))
        start[k], flag[k], complete[k], cs[k] = s, f, done, d
        cs_type[k] = np.where(d, np.minimum(np.searchsorted(cs_type_cum, u_type, side="right"),
                                             len(CS_TYPES) - 1), 0)
        prior_cs |= d & (f < cutoff)
        goes_on = np.isfinite(done) & (
            u_cont < expit(p.continue_logit + p.continue_ability * ability))
        next_start = np.where(goes_on, done + 5.0 + gap * 60.0, np.inf)

    n_completed = (complete < cutoff).sum(axis=0)
    any_cs = (cs & (flag < cutoff)).any(axis=0)

    g = gens["conversion"]
    steps = np.concatenate([[0.0], np.cumsum(p.conv_completion_steps)])
    p_convert = expit(p.conv_logit + steps[n_completed] + p.conv_ability * ability
                      + p.conv_cs * any_cs)
    converted = g.random(n) < p_convert
    # Conversion time: a lognormal mixture truncated to the trial (inverse CDF).
    trial = p.trial_days
    u = g.random(n) * _mixture_cdf(trial - 1e-3, p.conv_delay_w, p.conv_delay_median,
                                   p.conv_delay_sigma)
    conv_days = _mixture_ppf(u, p.conv_delay_w, p.conv_delay_median, p.conv_delay_sigma)
    conv_days = np.minimum(conv_days, trial - 1e-3)
    converted_at = np.where(converted, join + 60.0 + conv_days * _SECONDS_PER_DAY, np.inf)

    return _Paths(z=z, ability=ability, join=join, start=start, flag=flag, cs=cs,
                  cs_type=cs_type, complete=complete, p_help_obs=p_help_obs,
                  help_lambda=help_lambda, first_flag=ff, n_completed=n_completed,
                  any_cs=any_cs, p_convert=p_convert, converted=converted,
                  converted_at=converted_at)


# ----------------------------------------------------------------------------- tables


def _customer_ids(rng: np.random.Generator, n: int,
                  digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique random hex ids ("cus_3fa9..."), unrelated to anything else; also their integers."""
    space = 16 ** min(digits, 15)
    ids = rng.integers(0, space, size=n, dtype=np.int64)
    while True:  # redraw the (rare) collisions until all are unique
        _, first = np.unique(ids, return_index=True)
        dup = np.ones(n, bool)
        dup[first] = False
        if not dup.any():
            break
        ids[dup] = rng.integers(0, space, size=int(dup.sum()), dtype=np.int64)
    width = min(digits, 15)
    pad = "0" * (digits - width)
    text = np.array([f"cus_{pad}{v:0{width}x}" for v in ids.tolist()], dtype=object)
    return text, ids


def _timestamps(origin: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    base = origin.tz_localize(None).to_datetime64().astype("datetime64[s]")
    values = base + np.floor(seconds).astype(np.int64).astype("timedelta64[s]")
    return pd.Series(pd.DatetimeIndex(values).tz_localize("UTC").as_unit("ns"), name=None)


def _help_rows(paths, cutoff):
    """The flags raised before the cut-off, as flat arrays (customer, task, seconds, CS?,
    cs_type) and the order that sorts them by time, customer, task."""
    cust_h, task_h, secs_h, cs_h, type_h = [], [], [], [], []
    for k in range(3):
        idx = np.flatnonzero(paths.flag[k] < cutoff)
        cust_h.append(idx)
        task_h.append(np.full(idx.size, k + 1, np.int64))
        secs_h.append(paths.flag[k][idx])
        cs_h.append(paths.cs[k][idx])
        type_h.append(paths.cs_type[k][idx])
    cust_b, task_b, secs_b, cs_b, type_b = (np.concatenate(v) for v in
                                            (cust_h, task_h, secs_h, cs_h, type_h))
    return cust_b, task_b, secs_b, cs_b, type_b, np.lexsort((task_b, cust_b, secs_b))


def _build_tables(p: SimParams, paths: _Paths, ids: np.ndarray, id_order: np.ndarray,
                  rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    origin = p.start
    cutoff = p.window_days * _SECONDS_PER_DAY
    n = len(ids)
    order = np.argsort(paths.join, kind="stable")
    cohorts = pd.DataFrame({
        "customer_id": ids[order],
        "cohort": np.where(paths.z, ARMS[1], ARMS[0])[order],
        "joined_at": _timestamps(origin, paths.join[order]),
    })

    # product_activity, long form: a start and (maybe) a complete per started task.
    cust, task, action, secs = [], [], [], []
    for k in range(3):
        for act, arr in (("start", paths.start[k]), ("complete", paths.complete[k])):
            idx = np.flatnonzero(arr < cutoff)
            cust.append(idx)
            task.append(np.full(idx.size, k + 1, np.int8))
            action.append(np.full(idx.size, 0 if act == "start" else 1, np.int8))
            secs.append(np.floor(arr[idx]))
    cust_a, task_a, act_a, secs_a = (np.concatenate(v) for v in (cust, task, action, secs))
    o = np.lexsort((act_a, task_a, cust_a, secs_a))
    activity = pd.DataFrame({
        "customer_id": ids[cust_a[o]],
        "task": task_a[o].astype(np.int64),
        "action": np.array(["start", "complete"], dtype=object)[act_a[o]],
        "timestamp": _timestamps(origin, secs_a[o]),
    })

    cust_b, task_b, secs_b, cs_b, type_b, o = _help_rows(paths, cutoff)
    help_df = pd.DataFrame({
        "customer_id": ids[cust_b[o]],
        "timestamp": _timestamps(origin, secs_b[o]),
        "task": task_b[o],
        "channel": np.where(cs_b[o], "CS", "OTHER").astype(object),
        "cs_type": np.where(cs_b[o], np.array(CS_TYPES, dtype=object)[type_b[o]], ""),
    })

    conv_at = _timestamps(origin, np.where(paths.converted, paths.converted_at, 0.0))
    conv_at[~paths.converted] = pd.NaT
    conversion = pd.DataFrame({
        "customer_id": ids,
        "converted": paths.converted.astype(np.int64),
        "converted_at": conv_at,
    }).iloc[id_order].reset_index(drop=True)  # the export is sorted by customer id
    assert len(conversion) == n
    if p.duplicate_row_rate > 0:
        # A retried event upload: exact copies right after the original row.
        twice = rng.random(len(activity)) < p.duplicate_row_rate
        activity = activity.iloc[np.repeat(np.arange(len(activity)), 1 + twice)]
        activity = activity.reset_index(drop=True)
    return {"test_cohorts": cohorts, "product_activity": activity,
            "help_activity": help_df, "conversion": conversion}


# ----------------------------------------------------------------------------- truth


def _weighted_glm(endog, exog, *, family: str, offset=None, var_weights=None) -> np.ndarray:
    import statsmodels.api as sm

    fam = sm.families.Poisson() if family == "poisson" else sm.families.Binomial()
    res = sm.GLM(endog, exog, family=fam, offset=offset, var_weights=var_weights).fit(
        tol=1e-12, maxiter=200)
    return np.asarray(res.params)


def hazard_design(channel_cs: np.ndarray, task: np.ndarray, bin_index: np.ndarray,
                  n_bins: int) -> np.ndarray:
    """Design of the piecewise-exponential fit: one column per time bin, CS, task 2, task 3."""
    x = np.zeros((len(channel_cs), n_bins + 3))
    x[np.arange(len(channel_cs)), bin_index] = 1.0
    x[:, n_bins] = channel_cs
    x[:, n_bins + 1] = task == 2
    x[:, n_bins + 2] = task == 3
    return x


def binned_exposure(minutes: np.ndarray, event: np.ndarray, weight: np.ndarray,
                    group: np.ndarray, n_groups: int,
                    edges=HAZARD_BIN_EDGES_MIN) -> tuple[np.ndarray, np.ndarray]:
    """Events and exposure (minutes) per (group, time bin); time beyond the last edge is cut."""
    edges = np.asarray(edges, float)
    nb = len(edges) - 1
    events = np.zeros((n_groups, nb))
    exposure = np.zeros((n_groups, nb))
    for b in range(nb):
        lo, hi = edges[b], edges[b + 1]
        expo = np.clip(minutes - lo, 0.0, hi - lo)
        ev = event & (minutes > lo) & (minutes <= hi)
        exposure[:, b] = np.bincount(group, weights=expo * weight, minlength=n_groups)
        events[:, b] = np.bincount(group, weights=ev * weight, minlength=n_groups)
    return events, exposure


def fit_hazard_ratio(minutes, event, cs, task, weight=None,
                     edges=HAZARD_BIN_EDGES_MIN) -> float:
    """HR of CS vs OTHER from a piecewise-exponential Poisson fit (channel + task effects)."""
    minutes, event = np.asarray(minutes, float), np.asarray(event, bool)
    cs, task = np.asarray(cs, bool), np.asarray(task, int)
    weight = np.ones(len(minutes)) if weight is None else np.asarray(weight, float)
    group = cs.astype(int) * 3 + (task - 1)
    events, exposure = binned_exposure(minutes, event, weight, group, 6, edges)
    nb = events.shape[1]
    gi, bi = np.meshgrid(np.arange(6), np.arange(nb), indexing="ij")
    keep = exposure.ravel() > 0
    x = hazard_design((gi // 3).ravel(), (gi % 3 + 1).ravel(), bi.ravel(), nb)[keep]
    used = x.any(axis=0)  # bins with no exposure anywhere have no parameter
    beta = _weighted_glm(events.ravel()[keep], x[:, used], family="poisson",
                         offset=np.log(exposure.ravel()[keep]))
    return float(np.exp(beta[int(used[:nb].sum())]))


def fit_logistic_cells(successes, trials, covariates) -> np.ndarray:
    """Binomial GLM on cell counts: returns [intercept, slopes...]."""
    trials = np.asarray(trials, float)
    keep = trials > 0
    x = np.column_stack([np.ones(keep.sum())] + [np.asarray(c, float)[keep] for c in covariates])
    return _weighted_glm(np.asarray(successes, float)[keep] / trials[keep], x,
                         family="binomial", var_weights=trials[keep])


def _survival_median(lam: np.ndarray, weight: np.ndarray, p: SimParams) -> float | None:
    """t where the pooled survival mean(exp(-lam * F(t))) crosses 0.5 (minutes)."""
    if np.average(np.exp(-lam), weights=weight) > 0.5:
        return None  # fewer than half ever complete
    grid = np.exp(np.linspace(np.log(0.05), np.log(1e6), 1201))
    fgrid = _mixture_cdf(grid, p.help_w, p.help_median, p.help_sigma)
    # Survival is a mean over flags; bin lambda finely to keep this cheap at 10^6 flags.
    loglam = np.log(lam)
    edges = np.linspace(loglam.min(), loglam.max() + 1e-9, 2001)
    which = np.clip(np.searchsorted(edges, loglam, side="right") - 1, 0, 1999)
    wsum = np.bincount(which, weights=weight, minlength=2000)
    lsum = np.bincount(which, weights=weight * lam, minlength=2000)
    ok = wsum > 0
    lam_c, w_c = lsum[ok] / wsum[ok], wsum[ok]
    surv = (np.exp(-np.outer(fgrid, lam_c)) * w_c).sum(axis=1) / w_c.sum()
    i = int(np.argmax(surv <= 0.5))
    # Interpolate on log time between the two grid points around the crossing.
    s0, s1 = surv[i - 1], surv[i]
    frac = (s0 - 0.5) / (s0 - s1)
    return float(np.exp(np.log(grid[i - 1]) + frac * (np.log(grid[i]) - np.log(grid[i - 1]))))


def _flag_records(p: SimParams, paths: _Paths, arm_weight: float) -> dict[str, np.ndarray]:
    cutoff = p.window_days * _SECONDS_PER_DAY
    mask = paths.flag < cutoff
    k_idx, c_idx = np.nonzero(mask)
    f = paths.flag[mask]
    done = paths.complete[mask]
    event = done < cutoff
    minutes = np.where(event, done - f, cutoff - f) / 60.0
    return {"task": k_idx + 1, "cs": paths.cs[mask], "p_obs": paths.p_help_obs[mask],
            "lam": paths.help_lambda[mask], "minutes": minutes, "event": event,
            "weight": np.full(k_idx.size, arm_weight)}


def _attempt_cells(p: SimParams, paths: _Paths, arm_weight: float):
    cutoff = p.window_days * _SECONDS_PER_DAY
    started = paths.start < cutoff
    hour = np.floor(_hour_of_day(np.where(started, paths.start, 0.0))).astype(int)
    cell = np.arange(3)[:, None] * 24 + hour
    done = (paths.complete < cutoff) & started
    trials = np.bincount(cell[started], minlength=72) * arm_weight
    wins = np.bincount(cell[done], minlength=72) * arm_weight
    return wins, trials


def population_truth(p: SimParams, *, n_customers: int = TRUTH_N) -> dict:
    """Population values of every estimand of docs/ESTIMANDS.md (cached per parameters)."""
    return _population_truth_cached(p, n_customers)


@functools.lru_cache(maxsize=8)
def _population_truth_cached(p: SimParams, n_customers: int) -> dict:
    seq = np.random.SeedSequence(TRUTH_ENTROPY)
    # Common random numbers: the same customers, once in each arm.
    arms = {arm: _simulate_paths(p, n_customers, seq, z=np.bool_(arm == "Test"))
            for arm in ARMS}
    share = {"Control": 1.0 - p.test_share, "Test": p.test_share}

    conv = {a: float(arms[a].p_convert.mean()) for a in ARMS}
    cs_eng = {a: float(arms[a].any_cs.mean()) for a in ARMS}

    flags = [_flag_records(p, arms[a], share[a]) for a in ARMS]
    fl = {k: np.concatenate([r[k] for r in flags]) for k in flags[0]}
    help_c = {ch: float(np.average(fl["p_obs"][fl["cs"] == (ch == "CS")],
                                   weights=fl["weight"][fl["cs"] == (ch == "CS")]))
              for ch in ("CS", "OTHER")}
    hr = fit_hazard_ratio(fl["minutes"], fl["event"], fl["cs"], fl["task"], fl["weight"])
    medians = {ch: _survival_median(fl["lam"][fl["cs"] == (ch == "CS")],
                                    fl["weight"][fl["cs"] == (ch == "CS")], p)
               for ch in ("CS", "OTHER")}

    ff = arms["Control"].first_flag  # identical in both arms (see _simulate_paths)
    has = ff["has"]
    complier = ff["p_cs1"][has] - ff["p_cs0"][has]
    late = (float(np.sum(complier * (ff["y1"][has] - ff["y0"][has])) / np.sum(complier))
            if np.sum(complier) > 1e-9 * max(has.sum(), 1) else None)

    rate_num, rate_den = np.zeros(4), np.zeros(4)
    wins, trials = np.zeros(72), np.zeros(72)
    for a in ARMS:
        rate_num += np.bincount(arms[a].n_completed, weights=arms[a].p_convert,
                                minlength=4) * share[a]
        rate_den += np.bincount(arms[a].n_completed, minlength=4) * share[a]
        w, t = _attempt_cells(p, arms[a], share[a])
        wins, trials = wins + w, trials + t
    rates = rate_num / rate_den
    b_comp = fit_logistic_cells(rate_num, rate_den, [np.arange(4)])
    hours, tasks = np.tile(np.arange(24), 3), np.repeat(np.arange(1, 4), 24)
    b_te = fit_logistic_cells(wins, trials, [hours, tasks])

    return {
        "conversion": {"Control": conv["Control"], "Test": conv["Test"],
                       "lift_abs": conv["Test"] - conv["Control"],
                       "lift_rel": (conv["Test"] - conv["Control"]) / conv["Control"]},
        "cs_engagement": {"Control": cs_eng["Control"], "Test": cs_eng["Test"]},
        "help_completion": {"CS": help_c["CS"], "OTHER": help_c["OTHER"],
                            "diff": help_c["CS"] - help_c["OTHER"]},
        "time_to_completion": {"hazard_ratio_cs_vs_other": hr,
                               "median_minutes": {"CS": medians["CS"],
                                                  "OTHER": medians["OTHER"]}},
        "causal_effect_cs": late,
        "completions_conversion": {
            "rate_by_completions": {str(k): float(rates[k]) for k in range(4)},
            "odds_ratio_per_completion": float(np.exp(b_comp[1]))},
        "time_and_experience": {"hour_effect": float(b_te[1]),
                                "experience_effect": float(b_te[2])},
    }


def _truth_document(p: SimParams, *, scenario: str, seed: int, n: int,
                    overrides: dict, estimands: dict | None) -> dict:
    params = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in dataclasses.asdict(p).items()}
    return {
        "scenario": scenario,
        "seed": int(seed),
        "n": int(n),
        "overrides": {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in sorted(overrides.items())},
        "observation_window": {
            "start": p.start.isoformat(), "end": p.cutoff.isoformat(),
            "note": "activity and help rows at or after `end` are not in the files "
                    "(censored); conversion covers the whole trial",
        },
        "parameters": params,
        "estimands": estimands,
        "truth_method": {
            "n_customers": TRUTH_N if estimands is not None else 0,
            "each_customer_in_both_arms": True,
            "pooled_arm_weights": {"Control": 1.0 - p.test_share, "Test": p.test_share},
            "seed_entropy": TRUTH_ENTROPY,
            "hazard_bin_edges_min": list(HAZARD_BIN_EDGES_MIN),
            "conditional_hazard_ratio_cs": float(np.exp(p.help_cs)),
            "notes": [
                "help_completion and causal_effect_cs: completion observed within the window",
                "median_minutes: the uncensored population survival curve, pooled over "
                "tasks and arms (30/70)",
                "hazard_ratio: piecewise-exponential Poisson fit (bins above, channel + task) "
                "on flags censored at the window end; ability and hour are left out, so it "
                "differs from the conditional hazard ratio exp(help_cs)",
                "causal_effect_cs is null when there are no compliers (null scenario)",
            ],
        },
    }


# ----------------------------------------------------------------------------- public


def simulate(*, n: int, seed: int, scenario: str = "effect", truth: bool = True,
             **overrides: Any) -> Simulation:
    """Simulate `n` trialers of the help-widget experiment.

    `overrides` are `SimParams` field names. Same (n, seed, scenario, overrides)
    gives identical tables. `truth=False` skips the population values (the
    truth's ``estimands`` is then None), which costs about as much as
    simulating two million customers the first time for each parameter set.
    """
    if int(n) < 1:
        raise OptionError("n must be >= 1")
    if int(seed) < 0:
        raise OptionError("seed must be >= 0")
    p = scenario_params(scenario, **overrides)
    root = np.random.SeedSequence(int(seed))
    # Spawned children depend only on their index: adding streams keeps the old ones.
    id_seq, path_seq, quirk_seq = root.spawn(3)
    paths = _simulate_paths(p, int(n), path_seq)
    ids, id_ints = _customer_ids(np.random.Generator(np.random.PCG64(id_seq)), int(n),
                                 p.id_hex_digits)
    # Fixed-width hex sorts like its integer: sort the integers, not the strings.
    tables = _build_tables(p, paths, ids, np.argsort(id_ints, kind="stable"),
                           np.random.Generator(np.random.PCG64(quirk_seq)))
    estimands = population_truth(p) if truth else None
    doc = _truth_document(p, scenario=scenario, seed=seed, n=n, overrides=overrides,
                          estimands=estimands)
    return Simulation(**tables, truth=doc, params=p)


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV text, LF line ends, timestamps ``2026-05-05T10:23:45Z``, blanks for missing.

    Arrow's writer is several times faster than pandas' at 10^6 rows. Nothing is
    quoted: every value here is an id, a label, a number or a timestamp, none of
    which can hold a comma, a quote or a line break.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = {}
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            values = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
            text = np.datetime_as_string(values, unit="s", timezone="UTC").astype(object)
            text[pd.isna(s).to_numpy()] = None
            columns[col] = pa.array(text, type=pa.string())
        elif s.dtype == object:
            columns[col] = pa.array(s.to_numpy(), type=pa.string())
        else:
            columns[col] = pa.array(s.to_numpy())
    buf = io.BytesIO()
    buf.write((",".join(df.columns) + "\n").encode("utf-8"))
    pacsv.write_csv(pa.table(columns), buf,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def write_simulation(sim: Simulation, out_dir: str | Path, *,
                     fmt: Literal["csv", "csv.gz", "parquet"] = "csv") -> list[Path]:
    """Write the four files and truth.json into an existing folder `out_dir`.

    CSV timestamps are ISO 8601 UTC with second resolution (``2026-05-05T10:23:45Z``);
    ``csv.gz`` is byte-reproducible (no name or time in the gzip header).
    """
    from bayes_ab.io import write_json

    out_dir = Path(out_dir)
    written = []
    for stem, df in sim.tables().items():
        if fmt == "csv":
            path = out_dir / f"{stem}.csv"
            path.write_bytes(_csv_bytes(df))
        elif fmt == "csv.gz":
            path = out_dir / f"{stem}.csv.gz"
            path.write_bytes(gzip.compress(_csv_bytes(df), compresslevel=9, mtime=0))
        elif fmt == "parquet":
            path = out_dir / f"{stem}.parquet"
            df.to_parquet(path, index=False)
        else:
            raise OptionError(f"unknown format {fmt!r}; use csv, csv.gz or parquet")
        written.append(path)
    truth_path = out_dir / "truth.json"
    write_json(truth_path, sim.truth)
    written.append(truth_path)
    return written


# ----------------------------------------------------------------------------- at scale


#: Customers per chunk of `write_simulation_chunked` (about 0.8 GB of working arrays).
CHUNK_CUSTOMERS = 2_000_000


def _chunk_seq(seed: int, chunk: int) -> np.random.SeedSequence:
    # Its own tree (spawn key 0xC4, chunk): chunk streams never overlap those of `simulate`.
    return np.random.SeedSequence(int(seed), spawn_key=(0xC4, int(chunk)))


def _hex_ids(values: np.ndarray, prefix: bytes, digits: int):
    """Arrow strings ``prefix`` + ``digits`` lower-case hex digits, built without Python
    strings (a few tens of ms per million ids)."""
    import pyarrow as pa

    n = values.size
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = (np.arange(digits - 1, -1, -1, dtype=np.int64) * 4)
    nibbles = (values.astype(np.int64)[:, None] >> shifts) & 0xF
    width = len(prefix) + digits
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    chars[:, len(prefix):] = alphabet[nibbles]
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _arrow_chunk(p: SimParams, n: int, seed: int, chunk: int) -> dict:
    """One chunk's four tables as Arrow tables (same columns and rules as `_build_tables`,
    ids ``cus_`` + 4 hex digits of the chunk index + 12 random hex digits)."""
    import pyarrow as pa

    id_seq, path_seq = _chunk_seq(seed, chunk).spawn(2)
    paths = _simulate_paths(p, n, path_seq)
    g = np.random.Generator(np.random.PCG64(id_seq))
    space = 16 ** 12
    ints = g.integers(0, space, size=n, dtype=np.int64)
    while True:  # unique within the chunk; the chunk prefix makes them unique overall
        _, first = np.unique(ints, return_index=True)
        dup = np.ones(n, bool)
        dup[first] = False
        if not dup.any():
            break
        ints[dup] = g.integers(0, space, size=int(dup.sum()), dtype=np.int64)
    ids = _hex_ids(ints, b"cus_" + f"{chunk:04x}".encode(), 12)
    origin = int(p.start.value // 1_000_000_000)
    cutoff = p.window_days * _SECONDS_PER_DAY
    ts_type = pa.timestamp("s", tz="UTC")

    def stamps(seconds: np.ndarray) -> pa.Array:
        return pa.array(origin + np.floor(seconds).astype(np.int64), type=ts_type)

    order = np.argsort(paths.join, kind="stable")
    arm = np.array(ARMS, dtype=object)
    cohorts = pa.table({
        "customer_id": ids.take(pa.array(order)),
        "cohort": pa.array(arm[paths.z.astype(np.int64)[order]], type=pa.string()),
        "joined_at": stamps(paths.join[order]),
    })

    cust, task, action, secs = [], [], [], []
    for k in range(3):
        for a, arr in ((0, paths.start[k]), (1, paths.complete[k])):
            idx = np.flatnonzero(arr < cutoff)
            cust.append(idx)
            task.append(np.full(idx.size, k + 1, np.int8))
            action.append(np.full(idx.size, a, np.int8))
            secs.append(np.floor(arr[idx]))
    cust_a, task_a, act_a, secs_a = (np.concatenate(v) for v in (cust, task, action, secs))
    o = np.lexsort((act_a, task_a, cust_a, secs_a))
    activity = pa.table({
        "customer_id": ids.take(pa.array(cust_a[o])),
        "task": pa.array(task_a[o].astype(np.int64)),
        "action": pa.DictionaryArray.from_arrays(
            pa.array(act_a[o].astype(np.int32)), pa.array(["start", "complete"])
        ).cast(pa.string()),
        "timestamp": stamps(secs_a[o]),
    })

    cust_b, task_b, secs_b, cs_b, type_b, o = _help_rows(paths, cutoff)
    cs_o = cs_b[o]
    help_tbl = pa.table({
        "customer_id": ids.take(pa.array(cust_b[o])),
        "timestamp": stamps(secs_b[o]),
        "task": pa.array(task_b[o]),
        "channel": pa.array(np.where(cs_o, "CS", "OTHER").astype(object), type=pa.string()),
        "cs_type": pa.array(np.where(cs_o, np.array(CS_TYPES, dtype=object)[type_b[o]], ""),
                            type=pa.string()),
    })

    by_id = np.argsort(ints, kind="stable")
    conv_at = origin + np.floor(np.where(paths.converted, paths.converted_at, 0.0)).astype(np.int64)
    conversion = pa.table({
        "customer_id": ids.take(pa.array(by_id)),
        "converted": pa.array(paths.converted.astype(np.int64)[by_id]),
        "converted_at": pa.array(conv_at[by_id], type=ts_type,
                                 mask=~paths.converted[by_id]),
    })
    return {"test_cohorts": cohorts, "product_activity": activity,
            "help_activity": help_tbl, "conversion": conversion}


def _chunk_job(args) -> dict:
    p, n, seed, chunk = args
    return _arrow_chunk(p, n, seed, chunk)


def write_simulation_chunked(
    n: int, seed: int, out_dir: str | Path, *, chunk: int = CHUNK_CUSTOMERS,
    scenario: str = "effect", truth: bool = False, workers: int = 1, **overrides: Any,
) -> list[Path]:
    """Simulate ``n`` trialers straight to Parquet, ``chunk`` customers at a time.

    Memory stays bounded by the chunk (about 0.4 GB per million customers in the chunk,
    per worker), whatever ``n``: each chunk is simulated, written as row groups of the
    four ``.parquet`` files and freed. ``workers`` > 1 simulates chunks in parallel
    processes (written in chunk order, so the files do not depend on ``workers``).

    The sample is a valid draw from the same generative story, seeded and reproducible
    for a given (n, seed, chunk, scenario, overrides), but it is a *different* sample
    from ``simulate(n=n, seed=seed)``: each chunk has its own random streams, and the
    ids are ``cus_`` + the chunk index (4 hex digits) + 12 random hex digits (unique).
    Rows are in the simulator's order within each chunk. ``duplicate_row_rate`` is not
    supported here. ``truth=True`` adds the population values to truth.json (costly).
    """
    import pyarrow.parquet as pq

    from bayes_ab.io import write_json

    if int(n) < 1:
        raise OptionError("n must be >= 1")
    if int(seed) < 0:
        raise OptionError("seed must be >= 0")
    if int(chunk) < 1:
        raise OptionError("chunk must be >= 1")
    p = scenario_params(scenario, **overrides)
    if p.duplicate_row_rate > 0:
        raise OptionError("duplicate_row_rate is not supported by the chunked writer")
    out_dir = Path(out_dir)
    sizes = [min(int(chunk), int(n) - start) for start in range(0, int(n), int(chunk))]
    jobs = [(p, size, int(seed), i) for i, size in enumerate(sizes)]
    writers: dict[str, pq.ParquetWriter] = {}

    def write(tables: dict) -> None:
        for stem, table in tables.items():
            if stem not in writers:
                writers[stem] = pq.ParquetWriter(out_dir / f"{stem}.parquet", table.schema)
            writers[stem].write_table(table, row_group_size=1_000_000)

    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                write(_chunk_job(job))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=int(workers),
                                     mp_context=mp.get_context("fork")) as pool:
                pending = []
                for job in jobs:  # at most `workers` + 1 chunks in flight: bounded memory
                    pending.append(pool.submit(_chunk_job, job))
                    if len(pending) > int(workers):
                        write(pending.pop(0).result())
                for fut in pending:
                    write(fut.result())
    finally:
        for w in writers.values():
            w.close()
    estimands = population_truth(p) if truth else None
    doc = _truth_document(p, scenario=scenario, seed=seed, n=n, overrides=overrides,
                          estimands=estimands)
    doc["chunked"] = {"chunk": int(chunk), "n_chunks": len(sizes),
                      "note": "a different sample from the single-chunk simulator"}
    write_json(out_dir / "truth.json", doc)
    return [out_dir / f"{stem}.parquet" for stem in FILE_STEMS] + [out_dir / "truth.json"]
