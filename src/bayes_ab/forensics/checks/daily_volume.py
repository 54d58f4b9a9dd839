"""The `daily_volume` check: do whole days vary more than Poisson noise around a weekly profile?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_daily_volume(ts: pd.Series, *, table: str, what: str,
                       min_days: int = 10) -> CheckResult:
    """Do whole days vary more than Poisson noise around a weekly profile?

    Real traffic has good and bad days (campaigns, outages, news, growth); a generator
    that draws each arrival's day independently gives day counts that are Poisson (or
    multinomial) around its weights. Pearson dispersion of a Poisson GLM of the counts of
    the whole days in the span on day of week (intercept only under 14 days).
    """
    ts = ts.dropna()
    if ts.empty:
        return CheckResult("daily_volume", table, None, "pearson_dispersion", None, None,
                           "neutral", "none", f"{what}: no times.")
    first_day, last_day = ts.min().floor("D"), ts.max().floor("D")
    days = pd.date_range(first_day + pd.Timedelta(days=1), last_day - pd.Timedelta(days=1),
                         freq="D")
    inner = ts[(ts >= first_day + pd.Timedelta(days=1)) & (ts < last_day)]
    counts = inner.dt.floor("D").value_counts().reindex(days, fill_value=0)
    if len(days) < min_days or not counts.mean() >= 5:
        return CheckResult("daily_volume", table, None, "pearson_dispersion", None, None,
                           "neutral", "none",
                           f"{what}: {len(days)} whole day(s), "
                           f"{counts.mean() if len(days) else 0:.1f} per day; "
                           f"day-to-day variation needs {min_days} days of 5 or more. Not "
                           "applicable.")
    # lazy, and the modules used rather than statsmodels.api (which imports time series,
    # graphics and scipy.signal: 0.45 s more)
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    if len(days) >= 14:
        X = pd.get_dummies(pd.Series(days.dayofweek), prefix="d", drop_first=True, dtype=float)
        X = np.column_stack([np.ones(len(days)), X.to_numpy()])
    else:
        X = np.ones((len(days), 1))
    res = GLM(counts.to_numpy(float), X, family=families.Poisson()).fit()
    disp = float(res.pearson_chi2 / res.df_resid)
    p = float(stats.chi2.sf(res.pearson_chi2, res.df_resid))
    text = (f"{what}: {int(counts.sum())} over {len(days)} whole days (mean {counts.mean():.1f} "
            f"a day); Pearson dispersion around a day-of-week profile {disp:.2f} "
            f"(Poisson = 1, p={p:.2g}).")
    if p > 0.01:
        return CheckResult("daily_volume", table, disp, "pearson_dispersion", p, None,
                           "simulated", "none",
                           text + " Days differ only by Poisson noise: each arrival's day drawn "
                           "independently, as a generator does. Real traffic has good and bad "
                           "days.")
    if disp >= 3:
        return CheckResult("daily_volume", table, disp, "pearson_dispersion", p, None, "real",
                           "none", text + " Days differ far beyond chance (campaigns, outages, "
                           "news), as real traffic does.")
    return CheckResult("daily_volume", table, disp, "pearson_dispersion", p, None, "neutral",
                       "none", text + " Mildly overdispersed.")


class DailyVolume:
    """Do whole days vary more than Poisson noise around a weekly profile?"""

    name = "daily_volume"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_daily_volume(data.first_actions, table="product_activity",
                                      what="customers' first actions per day")
        return check_daily_volume(data.lead_days, table="events", what="leads active per day")
