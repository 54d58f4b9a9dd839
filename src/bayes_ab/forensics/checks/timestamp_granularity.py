"""The `timestamp_granularity` check.

The precision of the timestamps, a seam of two clocks, the ticks of a periodic job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs
from bayes_ab.forensics.reader import timestamp_resolution


def check_timestamp_granularity(ts: pd.Series, *, table: str) -> CheckResult:
    ts = ts.dropna()
    n = len(ts)
    name, unit = timestamp_resolution(ts)
    ns = ts.astype("int64").to_numpy()
    off = ns[ns % int(round(unit * 1e9)) != 0]
    sec = ts.dt.second.to_numpy()
    share0 = float(np.mean(sec == 0))
    text = f"{n} timestamps at {name} resolution; {share0:.1%} fall on second :00."
    if off.size:
        # A minority at a finer precision: two clocks or sources fed the log.
        return CheckResult("timestamp_granularity", table, off.size / n, "share_finer_precision",
                           None, share0, "real", "weak",
                           text + f" {off.size} ({off.size / n:.2%}) carry a finer precision than "
                           "the rest: a second clock or source, the kind of seam real logs have "
                           "and generators do not.")
    if unit >= 60:
        return CheckResult("timestamp_granularity", table, share0, "share_second_00", None,
                           share0, "simulated", "weak",
                           text + " Rounded to the minute or coarser: a generator's clock, or an "
                           "export at minute precision.")
    # Real clocks spread seconds evenly; a chi-square test against uniform seconds.
    counts = np.bincount(sec, minlength=60)
    chi = stats.chisquare(counts)
    ticks = ""
    if unit >= 1 and chi.pvalue < 0.001:
        # The tick of a periodic job is the one with the largest excess of hits.
        excess = {tick: float(np.sum(sec % tick == 0) - n / tick) for tick in (5, 10, 15, 30)}
        tick = max(excess, key=excess.get)
        if excess[tick] > 0.02 * n:
            share = float(np.mean(sec % tick == 0))
            ticks = (f" {share:.1%} of them land on multiples of {tick} s (chance: "
                     f"{1 / tick:.1%}): some events are driven by a periodic job (a real "
                     "detector or a simulated one).")
    return CheckResult("timestamp_granularity", table, float(chi.statistic), "chi2_seconds",
                       float(chi.pvalue), share0, "neutral", "none",
                       text + f" Seconds-of-minute uniformity p={chi.pvalue:.2g}." + ticks
                       + " Precision alone does not separate real logs from generated ones.")


class TimestampGranularity:
    """The precision of the timestamps, a seam of two clocks, the ticks of a periodic job."""

    name = "timestamp_granularity"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_timestamp_granularity(data.timestamps,
                                               table="product_activity+help_activity")
        return check_timestamp_granularity(data.event_times, table="events")
