"""The `count_dispersion` check.

Counts per entity against Poisson: real activity is overdispersed.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_dispersion(counts: np.ndarray, *, table: str, what: str) -> CheckResult:
    """Index of dispersion var/mean of counts per entity against Poisson (= 1)."""
    counts = np.asarray(counts, float)
    n = counts.size
    mean, var = counts.mean(), counts.var(ddof=1)
    ratio = float(var / mean) if mean > 0 else float("nan")
    d = ratio * (n - 1)
    p_over = float(stats.chi2.sf(d, n - 1))
    p_under = float(stats.chi2.cdf(d, n - 1))
    text = (f"{what}: mean {mean:.2f}, variance {var:.2f}, index of dispersion {ratio:.2f} "
            f"(Poisson = 1) over {n} entities.")
    if ratio >= 3 and p_over < 0.001:
        return CheckResult("count_dispersion", table, ratio, "var_over_mean", p_over, None,
                           "real", "strong",
                           text + " Strongly overdispersed: a few heavy users and many light "
                           "ones, as real activity always is.")
    if ratio >= 1.5 and p_over < 0.001:
        return CheckResult("count_dispersion", table, ratio, "var_over_mean", p_over, None,
                           "real", "weak", text + " Overdispersed, as real counts are.")
    if 0.8 <= ratio < 1.25 and p_over > 0.01 and p_under > 0.01:
        return CheckResult("count_dispersion", table, ratio, "var_over_mean",
                           min(p_over, p_under) * 2, None, "simulated", "weak",
                           text + " Exactly Poisson: people are never that alike.")
    return CheckResult("count_dispersion", table, ratio, "var_over_mean",
                       min(p_over, p_under) * 2, None, "neutral", "none",
                       text + (" Underdispersed: bounded counts, as the design allows."
                               if ratio < 0.8 else " Mildly overdispersed."))


class CountDispersion:
    """Counts per entity against Poisson: real activity is overdispersed."""

    name = "count_dispersion"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_dispersion(data.flags_per_customer, table="help_activity",
                                    what="help flags per randomized customer")
        return check_dispersion(data.events_per_lead, table="events",
                                what="distinct events per lead with events")
