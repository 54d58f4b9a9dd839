"""The `simultaneous_events` check.

Bursts of one lead's events logged at the same instant (a logging pipeline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs
from bayes_ab.forensics.reader import timestamp_resolution


def check_zero_gaps(ts: pd.Series, entity: pd.Series, *, table: str) -> CheckResult:
    """Excess of identical consecutive timestamps of one entity (batched logging)."""
    df = pd.DataFrame({"e": entity.to_numpy(), "t": ts.to_numpy()}).dropna()
    df = df.sort_values(["e", "t"])
    _, unit = timestamp_resolution(df["t"])
    gaps = df.groupby("e")["t"].diff().dropna().dt.total_seconds().to_numpy() / unit
    gaps = np.rint(gaps)
    n0 = int(np.sum(gaps == 0))
    near = np.array([np.sum(gaps == k) for k in range(1, 6)])
    # With a smooth gap density near zero, a gap of 0 units is as likely as 1..5 units.
    ref = float(near.mean()) if near.size else 0.0
    ratio = n0 / max(ref, 0.5)
    text = (f"{n0} consecutive events of the same entity share a timestamp exactly, vs "
            f"{ref:.1f} per unit at gaps of 1..5 units (ratio {ratio:.1f}).")
    if n0 >= 20 and ratio > 5:
        p = float(stats.poisson.sf(n0 - 1, max(ref, 0.5)))
        return CheckResult("simultaneous_events", table, ratio, "zero_gap_ratio", p, None,
                           "real", "weak",
                           text + " Bursts logged at the same instant are a logging-pipeline "
                           "artefact that simple generators do not reproduce.")
    return CheckResult("simultaneous_events", table, ratio, "zero_gap_ratio", None, None,
                       "neutral", "none", text + " No excess of simultaneous events.")


class SimultaneousEvents:
    """Bursts of one lead's events logged at the same instant (a logging pipeline)."""

    name = "simultaneous_events"
    kinds = frozenset({"lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_zero_gaps(data.event_times, data.event_emails, table="events")
