"""The `duration_family` check.

Does one textbook family fit the durations near-perfectly (a generator's draw)?
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs

#: Duration fits use at most this many values: with 10^5 values every textbook family is
#: rejected by a trivial misfit, so a fixed sample keeps the test comparable across data sets.
KS_MAX_N = 2000
#: Below this many durations a good fit of one family is not remarkable.
KS_MIN_N = 300
SEED = 20240505

_FAMILIES = {
    "exponential": stats.expon,
    "lognormal": stats.lognorm,
    "gamma": stats.gamma,
    "weibull": stats.weibull_min,
}


def fit_families(x: np.ndarray, *, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """KS (statistic, p) of each textbook family fitted by maximum likelihood (loc = 0)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size > KS_MAX_N:
        x = rng.choice(x, KS_MAX_N, replace=False)
    out = {}
    for name, dist in _FAMILIES.items():
        try:
            params = dist.fit(x, floc=0)
            res = stats.kstest(x, dist.cdf, args=params)
            out[name] = (float(res.statistic), float(res.pvalue))
        except Exception:  # a failed fit is simply not a candidate  # noqa: BLE001
            continue
    return out


def check_durations(groups: dict[str, np.ndarray], *, table: str, unit_s: float,
                    what: str) -> CheckResult:
    """Does each group of durations fit one textbook family near-perfectly?

    Durations computed from rounded timestamps are jittered within the rounding unit so
    the ties do not reject every continuous family. Parameters are estimated, so the KS
    p-values are conservative (too large): a *rejection* is trustworthy, a fit a hint.
    """
    rng = np.random.default_rng(SEED)
    parts, best_ps, n_total = [], [], 0
    for label, x in groups.items():
        x = np.asarray(x, float)
        x = x[np.isfinite(x)]
        if unit_s >= 1e-3:
            x = x + rng.uniform(-unit_s / 2, unit_s / 2, x.size)
        x = x[x > 0]
        if x.size < 30:
            continue
        fits = fit_families(x, rng=rng)
        if not fits:
            continue
        best = max(fits, key=lambda k: fits[k][1])
        best_ps.append(fits[best][1])
        n_total += min(x.size, KS_MAX_N)
        parts.append(f"{label}: best {best} (KS D={fits[best][0]:.3f}, p={fits[best][1]:.2g}, "
                     f"n={x.size})")
    if not best_ps:
        return CheckResult("duration_family", table, None, "best_ks_p", None, None, "neutral",
                           "none", f"{what}: too few durations to test.")
    worst_best = float(min(best_ps))
    text = f"{what}: " + "; ".join(parts) + "."
    if n_total >= KS_MIN_N and worst_best >= 0.05:
        return CheckResult("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                           "simulated", "strong",
                           text + " One textbook family fits every group: real durations are "
                           "mixtures (quick people, slow people, interruptions) and reject them "
                           "all at this sample size.")
    if max(best_ps) < 0.001:
        return CheckResult("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                           "real", "weak",
                           text + " Every family is rejected, as with real durations (or a "
                           "generator's mixture).")
    return CheckResult("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                       "neutral", "none", text + " Mixed evidence.")


class DurationFamily:
    """Does one textbook family fit the durations near-perfectly (a generator's draw)?"""

    name = "duration_family"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_durations({f"task {k}": d / 60 for k, d in data.task_durations_s.items()},
                                   table="product_activity", unit_s=data.activity_unit_s / 60,
                                   what="task durations (minutes)")
        return check_durations({"gaps": data.gaps_s}, table="events", unit_s=data.event_unit_s,
                               what="seconds between consecutive events of a lead")
