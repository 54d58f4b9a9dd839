"""The truth: population values of every estimand of docs/ESTIMANDS.md, and truth.json.

Monte-Carlo averages over ``TRUTH_N`` customers drawn from their own fixed seed stream
(independent of the data seed), each simulated under both arms (common random numbers);
conditional expectations replace indicators where they are cheap (Rao-Blackwellisation).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from bayes_ab.constants import ARMS
from bayes_ab.simulate.params import SimParams
from bayes_ab.simulate.story import SECONDS_PER_DAY, Paths, hour_of_day, mixture_cdf, simulate_paths

#: Customers in the Monte-Carlo population behind truth.json (each simulated in both arms).
TRUTH_N = 1_000_000
#: Entropy of the truth's own seed stream: the truth does not depend on the data seed.
TRUTH_ENTROPY = 0x5EED_7217_B4A5
#: Time bins (minutes from the flag) of the piecewise-exponential fit defining the hazard ratio.
HAZARD_BIN_EDGES_MIN = (
    0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0,
    360.0, 480.0, 720.0, 1080.0, 1440.0, 2160.0, 2880.0, 4320.0,
)


def _weighted_glm(endog, exog, *, family: str, offset=None, var_weights=None) -> np.ndarray:
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    fam = families.Poisson() if family == "poisson" else families.Binomial()
    res = GLM(endog, exog, family=fam, offset=offset, var_weights=var_weights).fit(
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
    fgrid = mixture_cdf(grid, p.help_w, p.help_median, p.help_sigma)
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


def _flag_records(p: SimParams, paths: Paths, arm_weight: float) -> dict[str, np.ndarray]:
    cutoff = p.window_days * SECONDS_PER_DAY
    mask = paths.flag < cutoff
    k_idx, c_idx = np.nonzero(mask)
    f = paths.flag[mask]
    done = paths.complete[mask]
    event = done < cutoff
    minutes = np.where(event, done - f, cutoff - f) / 60.0
    return {"task": k_idx + 1, "cs": paths.cs[mask], "p_obs": paths.p_help_obs[mask],
            "lam": paths.help_lambda[mask], "minutes": minutes, "event": event,
            "weight": np.full(k_idx.size, arm_weight)}


def _attempt_cells(p: SimParams, paths: Paths, arm_weight: float):
    cutoff = p.window_days * SECONDS_PER_DAY
    started = paths.start < cutoff
    hour = np.floor(hour_of_day(np.where(started, paths.start, 0.0))).astype(int)
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
    arms = {arm: simulate_paths(p, n_customers, seq, z=np.bool_(arm == "Test"))
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

    ff = arms["Control"].first_flag  # identical in both arms (see simulate_paths)
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


def truth_document(p: SimParams, *, scenario: str, seed: int, n: int,
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
