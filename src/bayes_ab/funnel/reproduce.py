"""The report's descriptive figures, with the report's own definitions.

Definitions (also written in the HTML report):

- **Interaction type** = ``source + "_" + event`` of a distinct event row.
- **Conversion to opportunity** = leads at status 5 / all leads.
- **Leads at or beyond stage k** = leads whose status >= k (the report's Figure 2).
- **Mean interactions** (Tables 1 and 2) = distinct events of the type / all leads of the
  group; leads without events count as zero.
- **Stage 3 -> 4 conversion** = leads at status >= 4 / leads at status >= 3.
- **User journey** = per lead with events, the distinct interaction types in the order of
  their first occurrence (ties in time broken by order in the file).
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from bayes_ab.funnel.intervals import beta_rate_interval
from bayes_ab.data.funnel import STAGES, FunnelData


def interaction_counts(data: FunnelData) -> pd.DataFrame:
    """Leads x interaction types: number of distinct events, 0 for leads without any."""
    counts = (data.events.groupby(["email", "event_type"]).size()
              .unstack(fill_value=0))
    counts = counts.reindex(index=data.leads["email"], columns=list(data.event_types),
                            fill_value=0)
    counts.columns.name = "event_type"
    return counts.astype(np.int64)


def conversion_to_opportunity(data: FunnelData) -> dict:
    """Stage 5 / all leads, with a Beta(1, 1) posterior interval."""
    n5 = int((data.leads["status"] == 5).sum())
    n = data.n_leads
    return {"rate": n5 / n, "n": n5, "n_leads": n,
            "interval": beta_rate_interval(n5, n)}


def at_or_beyond_stage(leads: pd.DataFrame) -> dict[str, int]:
    status = leads["status"].to_numpy()
    return {str(k): int((status >= k).sum()) for k in STAGES}


def stage_transitions(leads: pd.DataFrame) -> dict[str, dict]:
    """P(reach k+1 | reach k) for each k, with Beta(1, 1) posterior intervals."""
    reach = at_or_beyond_stage(leads)
    out = {}
    for k in STAGES[:-1]:
        n, m = reach[str(k)], reach[str(k + 1)]
        out[f"{k}_to_{k + 1}"] = {"n_at_or_beyond_from": n, "n_at_or_beyond_to": m,
                                  "observed": m / n if n else None,
                                  "posterior": beta_rate_interval(m, n)}
    return out


def mean_interactions_by_status(data: FunnelData, counts: pd.DataFrame | None = None
                                ) -> pd.DataFrame:
    """Table 1: event types x statuses 1..5 (means over all leads of each status)."""
    counts = interaction_counts(data) if counts is None else counts
    table = counts.groupby(data.leads["status"].to_numpy()).mean()
    table = table.reindex(list(STAGES))  # a status with no lead shows NaN, not a gap
    return table.T


def mean_interactions_by_industry(data: FunnelData, counts: pd.DataFrame | None = None
                                  ) -> pd.DataFrame:
    """Table 2: industries x event types, sorted as the report (by CLI log-ins, descending)."""
    counts = interaction_counts(data) if counts is None else counts
    table = counts.groupby(data.leads["industry"].to_numpy()).mean()
    if "spatial_cli_logged_in" in table.columns:
        table = table.sort_values("spatial_cli_logged_in", ascending=False, kind="mergesort")
    return table


def attrition_by_industry(leads: pd.DataFrame) -> pd.DataFrame:
    """Figure 2: industries x stages, leads at or beyond each stage."""
    rows = {ind: at_or_beyond_stage(g) for ind, g in leads.groupby("industry")}
    table = pd.DataFrame.from_dict(rows, orient="index").astype(np.int64)
    table.columns = [int(c) for c in table.columns]
    return table.sort_values(1, ascending=False, kind="mergesort")


def stage3_to_4_by_industry(leads: pd.DataFrame) -> pd.DataFrame:
    """Figure 3: per industry n_at_3_or_beyond, n_at_4_or_beyond and their ratio."""
    s = leads["status"]
    table = pd.DataFrame({
        "n_at_3_or_beyond": (s >= 3).groupby(leads["industry"]).sum(),
        "n_at_4_or_beyond": (s >= 4).groupby(leads["industry"]).sum(),
        "n_leads": s.groupby(leads["industry"]).size(),
    }).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["observed"] = table["n_at_4_or_beyond"] / table["n_at_3_or_beyond"]
    return table.sort_values("observed", ascending=False, kind="mergesort")


def journeys(data: FunnelData) -> pd.Series:
    """Per lead with events: tuple of distinct event types by first occurrence."""
    # events are sorted by (email, received_at, line) by the loader.
    first = data.events.drop_duplicates(["email", "event_type"], keep="first")
    return first.groupby("email", sort=False)["event_type"].agg(tuple)


def top_journeys(paths: pd.Series, *, n: int = 10) -> list[dict]:
    counts = Counter(paths.tolist())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
    return [{"path": list(p), "n_leads": int(c)} for p, c in ranked[:n]]


def journeys_by_status(data: FunnelData, *, n: int = 5) -> dict[str, list[dict]]:
    """Most common paths among the leads of each final status (leads with events)."""
    paths = journeys(data)
    status = data.leads.set_index("email")["status"].reindex(paths.index)
    out = {}
    for k in STAGES:
        sub = paths[status == k]
        top = top_journeys(sub, n=n)
        total = len(sub)
        for row in top:
            row["share"] = row["n_leads"] / total if total else None
        out[str(k)] = top
    return out


def journey_first_steps_by_status(data: FunnelData) -> pd.DataFrame:
    """Share of leads (with events) of each status whose journey *starts* with each type."""
    paths = journeys(data)
    status = data.leads.set_index("email")["status"].reindex(paths.index)
    first = paths.map(lambda p: p[0])
    table = pd.crosstab(first, status, normalize="columns")
    return table.reindex(list(data.event_types)).fillna(0.0)


def round_half_up(x: float, decimals: int = 1) -> float:
    """Round as a spreadsheet does (0.85 -> 0.9), on the shortest decimal form of ``x``.

    Python's ``round`` works on the binary value (0.85 is 0.8499999...) and gives 0.8; the
    report's Table 2 shows 0.9 for Infrastructure's docs (68 / 80 = 0.85).
    """
    q = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def round_table(table: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    return table.map(lambda v: v if pd.isna(v) else round_half_up(v, decimals))


def table_to_rounded_dict(table: pd.DataFrame, *, decimals: int = 1) -> dict:
    """{row: {column: value}} with str keys, rounded half up, NaN kept as None (JSON)."""
    out = {}
    for idx, row in table.iterrows():
        out[str(idx)] = {str(c): (None if pd.isna(v) else round_half_up(v, decimals))
                         for c, v in row.items()}
    return out
