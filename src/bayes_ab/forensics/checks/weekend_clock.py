"""The `weekend_clock` check: is the hour-of-day profile the same on weekends as on weekdays?"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_weekend_clock(ts: pd.Series, *, table: str, what: str,
                        min_each: int = 100) -> CheckResult:
    """Is the hour-of-day profile the same on weekends as on weekdays?

    People keep other hours at weekends (they sleep in, work less), so a real log's
    3-hour-bin profile differs between weekdays and weekends; a generator that draws
    every time from one hour profile gives the same profile on both. Chi-square test of
    independence of (weekend, 3-hour bin).
    """
    ts = ts.dropna()
    weekend = (ts.dt.dayofweek >= 5).to_numpy()
    n_we, n_wd = int(weekend.sum()), int((~weekend).sum())
    if n_we < min_each or n_wd < min_each:
        return CheckResult("weekend_clock", table, None, "chi2_over_df", None, None, "neutral",
                           "none", f"{what}: {n_wd} weekday and {n_we} weekend times; the "
                           f"comparison needs {min_each} of each. Not applicable.")
    tab = pd.crosstab(weekend, (ts.dt.hour // 3).to_numpy()).to_numpy()
    res = stats.chi2_contingency(tab)
    ratio = float(res.statistic / res.dof)
    text = (f"{what}: the 3-hour profile of {n_we} weekend times against {n_wd} weekday "
            f"times: chi-square {res.statistic:.1f} on {res.dof} df, p={res.pvalue:.2g}.")
    if res.pvalue > 0.05:
        return CheckResult("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue),
                           None, "simulated", "none",
                           text + " Weekends keep exactly the weekday hours: one hour profile "
                           "for every day, as a generator draws it.")
    if res.pvalue < 0.001:
        return CheckResult("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue),
                           None, "real", "none",
                           text + " Weekends keep other hours than weekdays, as people do.")
    return CheckResult("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue), None,
                       "neutral", "none", text + " A modest difference.")


class WeekendClock:
    """Is the hour-of-day profile the same on weekends as on weekdays?"""

    name = "weekend_clock"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_weekend_clock(data.first_actions, table="product_activity",
                                       what="customers' first actions")
        return check_weekend_clock(data.lead_days, table="events",
                                   what="first event of each lead-day")
