"""The `weekday_structure` check: a weekly rhythm: people work less at weekends."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_weekday(ts: pd.Series, *, table: str, what: str) -> CheckResult:
    ts = ts.dropna()
    if ts.empty:
        return CheckResult("weekday_structure", table, None, "chi2_uniform", None, None,
                           "neutral", "none", f"{what}: no times.")
    # Whole days only: the first and last day of the span are partly outside it.
    first_day, last_day = ts.min().floor("D"), ts.max().floor("D")
    ts = ts[(ts >= first_day + pd.Timedelta(days=1)) & (ts < last_day)]
    days = pd.date_range(first_day + pd.Timedelta(days=1), last_day - pd.Timedelta(days=1),
                         freq="D")
    if len(days) < 14:
        return CheckResult("weekday_structure", table, None, "chi2_uniform", None, None,
                           "neutral", "none",
                           f"{what}: the data span {len(days)} day(s); a weekly rhythm needs "
                           "two weeks or more. Not applicable.")
    exposure = np.bincount(days.dayofweek, minlength=7).astype(float)
    counts = np.bincount(ts.dt.dayofweek.to_numpy(), minlength=7).astype(float)
    expected = exposure / exposure.sum() * counts.sum()
    res = stats.chisquare(counts, expected)
    weekend = float(counts[5:].sum() / expected[5:].sum())
    text = (f"{what}: {int(counts.sum())} over {len(days)} days; weekend activity is "
            f"{weekend:.2f}x its share of days (chi-square p={res.pvalue:.2g}).")
    if res.pvalue > 0.01:
        return CheckResult("weekday_structure", table, float(res.statistic), "chi2_uniform",
                           float(res.pvalue), weekend, "simulated", "weak",
                           text + " No weekly rhythm: people work less at weekends.")
    if weekend < 0.8:
        return CheckResult("weekday_structure", table, float(res.statistic), "chi2_uniform",
                           float(res.pvalue), weekend, "real", "strong",
                           text + " A working-week rhythm with quiet weekends, as real "
                           "business activity has.")
    return CheckResult("weekday_structure", table, float(res.statistic), "chi2_uniform",
                       float(res.pvalue), weekend, "real", "weak",
                       text + " Days of the week differ, as they do in real data.")


class WeekdayStructure:
    """A weekly rhythm: people work less at weekends."""

    name = "weekday_structure"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_weekday(data.action_times, table="product_activity",
                                 what="actions by day of week")
        return check_weekday(data.lead_days, table="events",
                             what="lead-days with activity by day of week")
