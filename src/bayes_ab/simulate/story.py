"""The generative story: one simulated population's paths and the contract's four tables.

`simulate_paths` draws every customer's arm, ability, sign-up time, tasks, help flags,
channel choices, completions and conversion (seconds since the join day's midnight);
`build_tables` turns the paths into the four files of DATA_CONTRACT.md section 1.
Every random stream is drawn for every customer regardless of the path taken, from a
`SeedSequence` child per component, so the same seed gives the same bytes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from bayes_ab.constants import ARMS, CS_TYPES
from bayes_ab.simulate.params import SimParams

SECONDS_PER_DAY = 86_400.0
_COMPONENTS = ("ids", "cohort", "ability", "join", "attempt", "task1", "task2", "task3",
               "conversion")


def _mixture_draw(rng: np.random.Generator, n: int, w, median, sigma) -> np.ndarray:
    """Lognormal mixture; always draws 2n numbers so streams stay aligned across paths."""
    u = rng.random(n)
    z = rng.standard_normal(n)
    cum = np.cumsum(np.asarray(w, float)) / float(np.sum(w))
    comp = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    return np.asarray(median, float)[comp] * np.exp(np.asarray(sigma, float)[comp] * z)


def mixture_cdf(t, w, median, sigma) -> np.ndarray:
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
    return mixture_cdf(np.exp(logt), w, median, sigma), logt


def _mixture_ppf(q: np.ndarray, w, median, sigma) -> np.ndarray:
    grid_f, grid_logt = _inverse_grid(tuple(w), tuple(median), tuple(sigma))
    return np.exp(np.interp(q, grid_f, grid_logt))


def hour_of_day(t_sec: np.ndarray) -> np.ndarray:
    """Hour of the UTC day (float, 0..24) of seconds since the join day's midnight."""
    finite = np.isfinite(t_sec)
    return np.where(finite, np.mod(np.where(finite, t_sec, 0.0), SECONDS_PER_DAY) / 3600.0,
                    12.0)


@dataclass
class Paths:
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


def simulate_paths(p: SimParams, n: int, seq: np.random.SeedSequence,
                    z: np.ndarray | None = None) -> Paths:
    # Children are derived, not spawned, so the same `seq` gives the same streams
    # on every call (the truth simulates one population twice, once per arm).
    gens = {name: np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, i)))) for i, name in enumerate(_COMPONENTS)}
    cutoff = p.window_days * SECONDS_PER_DAY

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
        x = hour_of_day(s) - 12.0
        stuck = active & (u_stuck < expit(p.stuck_logit[k] + p.stuck_ability * ability
                                          + p.stuck_hour * x))
        direct_ok = active & ~stuck & (u_direct < expit(
            p.direct_logit[k] + p.direct_ability * ability + p.direct_hour * x))
        direct_t = s + 20.0 + direct_dur * p.task_length[k] * 60.0

        tick = float(p.flag_tick_seconds)
        f = np.where(stuck, np.ceil((s + 10.0 + stuck_delay * 60.0) / tick) * tick, np.inf)
        xf = hour_of_day(f) - 12.0
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
        f_rem = mixture_cdf(remaining_min, p.help_w, p.help_median, p.help_sigma)
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
    u = g.random(n) * mixture_cdf(trial - 1e-3, p.conv_delay_w, p.conv_delay_median,
                                   p.conv_delay_sigma)
    conv_days = _mixture_ppf(u, p.conv_delay_w, p.conv_delay_median, p.conv_delay_sigma)
    conv_days = np.minimum(conv_days, trial - 1e-3)
    converted_at = np.where(converted, join + 60.0 + conv_days * SECONDS_PER_DAY, np.inf)

    return Paths(z=z, ability=ability, join=join, start=start, flag=flag, cs=cs,
                  cs_type=cs_type, complete=complete, p_help_obs=p_help_obs,
                  help_lambda=help_lambda, first_flag=ff, n_completed=n_completed,
                  any_cs=any_cs, p_convert=p_convert, converted=converted,
                  converted_at=converted_at)


# ----------------------------------------------------------------------------- tables


def customer_ids(rng: np.random.Generator, n: int,
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


def help_rows(paths, cutoff):
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


def build_tables(p: SimParams, paths: Paths, ids: np.ndarray, id_order: np.ndarray,
                  rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    origin = p.start
    cutoff = p.window_days * SECONDS_PER_DAY
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

    cust_b, task_b, secs_b, cs_b, type_b, o = help_rows(paths, cutoff)
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

