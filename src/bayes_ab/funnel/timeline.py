"""The time dimension the report lacked.

- Activity over time: distinct events per lead per ISO week, by final status (the mean
  over all leads of the status, as in Table 1).
- How early the predictive interactions appear: days from a lead's first recorded event
  to its first event of each type; and how well the counts in the first D days alone
  separate advanced leads (status >= 4) from the others, among leads with events (AUC
  with a Bayesian-bootstrap interval). Status-1 leads have no events at all, so they are
  left out here: including them would flatter every score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayes_ab.funnel.heuristics import auc_interval
from bayes_ab.data.funnel import STAGES, FunnelData

WINDOWS_DAYS = (1, 7, 14, 28, None)


def weekly_activity_by_status(data: FunnelData) -> pd.DataFrame:
    """Rows: week start (date); columns: status 1..5; values: events per lead of the status."""
    ev = data.events
    if ev.empty:
        return pd.DataFrame(columns=list(STAGES))
    status = data.leads.set_index("email")["status"]
    week = ev["received_at"].dt.tz_convert(None).dt.to_period("W-SUN").dt.start_time
    table = pd.crosstab(week, ev["email"].map(status))
    n_per_status = data.leads["status"].value_counts()
    table = table.reindex(columns=list(STAGES), fill_value=0)
    return table / n_per_status.reindex(list(STAGES)).replace(0, np.nan).to_numpy()


def first_occurrence_days(data: FunnelData) -> pd.DataFrame:
    """Leads with events x types: days from the lead's first event to the type's first
    event (NaN when the lead never had that type)."""
    ev = data.events
    start = ev.groupby("email")["received_at"].min()
    first = ev.groupby(["email", "event_type"])["received_at"].min().unstack()
    days = first.sub(start, axis=0).apply(lambda c: c.dt.total_seconds() / 86400.0)
    return days.reindex(columns=list(data.event_types))


def time_to_first_by_outcome(data: FunnelData, *, advanced_from: int = 4) -> dict:
    """Per type and outcome group (advanced vs not): share of leads who ever had it, and the
    median days to the first occurrence among those who did."""
    days = first_occurrence_days(data)
    status = data.leads.set_index("email")["status"].reindex(days.index)
    adv = (status >= advanced_from).to_numpy()
    out = {}
    for t in days.columns:
        col = days[t].to_numpy()
        row = {}
        for label, mask in (("advanced", adv), ("not_advanced", ~adv)):
            c = col[mask]
            had = np.isfinite(c)
            row[label] = {
                "share_ever": float(had.mean()) if len(c) else None,
                "median_days_to_first": float(np.median(c[had])) if had.any() else None,
                "share_within_7_days": float((c[had] <= 7).mean()) if had.any() else None,
            }
        out[str(t)] = row
    return out


def window_counts(data: FunnelData, days: float | None) -> pd.DataFrame:
    """Per lead with events: counts of each type in the first `days` days of activity."""
    ev = data.events
    if days is not None:
        start = ev.groupby("email")["received_at"].transform("min")
        ev = ev[ev["received_at"] <= start + pd.Timedelta(days=days)]
    counts = ev.groupby(["email", "event_type"]).size().unstack(fill_value=0)
    emails = data.events["email"].unique()
    return counts.reindex(index=emails, columns=list(data.event_types), fill_value=0)


def early_signal(data: FunnelData, *, advanced_from: int = 4, seed: int = 0,
                 n_boot: int = 300) -> dict:
    """AUC of the CLI log-in and console-view counts of the first D days, by D."""
    status = data.leads.set_index("email")["status"]
    out = {}
    for d in WINDOWS_DAYS:
        c = window_counts(data, d)
        y = (status.reindex(c.index) >= advanced_from).to_numpy()
        key = "all" if d is None else f"{d}d"
        row = {}
        for name in ("spatial_cli_logged_in", "website_viewed_console", "forums_pageview"):
            if name in c.columns:
                row[name] = auc_interval(y, c[name].to_numpy(), n_boot=n_boot, seed=seed)
        out[key] = row
    return out
