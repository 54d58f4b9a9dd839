"""The numbers the original report (seed ``001_ab253c9b17bf57ea.txt``) published, and their
comparison with what the funnel pipeline computes from the data it is given.

The values are transcribed from the report's text: its abstract (leads, leads with events,
"approximately 110,000" distinct interactions, "73 interactions per client", conversion to
opportunity 2.27%) and its Tables 1 and 2 (means rounded to one decimal).
`compare` is what ``funnel.json["reproduction"]`` holds; the report only words it.
"""

from __future__ import annotations

#: Table 1: mean interactions per lead by final status (statuses 1..5).
TABLE_1: dict[str, list[float]] = {
    "spatial_cli_logged_in": [0.0, 22.0, 21.5, 291.6, 361.0],
    "website_viewed_console": [0.0, 14.5, 1.9, 136.5, 140.0],
    "spatial_cli_generic_activity": [0.0, 19.5, 21.9, 129.4, 139.1],
    "forums_pageview": [0.0, 11.3, 12.8, 85.5, 82.5],
    "website_downloaded_sdk": [0.0, 1.2, 1.9, 5.8, 7.6],
    "website_docs": [0.0, 0.7, 1.3, 1.8, 2.3],
    "website_generated_referral": [0.0, 0.1, 0.1, 1.1, 0.4],
}

#: Table 2: mean interactions per lead by industry, for these five types.
TABLE_2_COLUMNS: tuple[str, ...] = ("spatial_cli_logged_in", "spatial_cli_generic_activity",
                                    "forums_pageview", "website_viewed_console", "website_docs")
TABLE_2: dict[str, list[float]] = {
    "VR": [65.2, 45.1, 9.9, 39.6, 1.1],
    "Gaming": [60.2, 30.3, 18.9, 24.2, 1.0],
    "Entertainment": [22.9, 3.6, 14.2, 2.4, 0.8],
    "IT Firm": [21.9, 40.0, 12.1, 5.9, 0.7],
    "Transportation": [19.9, 16.0, 6.6, 0.9, 0.8],
    "Other": [19.2, 19.8, 19.5, 1.0, 0.2],
    "Infrastructure": [17.4, 13.6, 27.5, 1.4, 0.9],
    "Telecoms": [16.4, 39.7, 5.6, 3.9, 0.9],
    "Real Estate": [14.3, 19.2, 4.0, 0.4, 0.5],
    "Simulation": [14.0, 7.5, 6.7, 1.8, 1.5],
    "Finance": [10.7, 7.7, 18.3, 1.1, 0.5],
    "Academia": [6.3, 4.1, 6.2, 0.2, 0.7],
    "Healthcare": [4.8, 1.6, 1.8, 0.4, 0.4],
    "Corporate": [3.3, 1.9, 1.5, 0.1, 0.2],
    "Consulting": [0.6, 0.1, 0.7, 0.0, 0.3],
}

#: The abstract's headline numbers: (key, words, published value, how it is compared).
HEADLINE: tuple[tuple[str, str, float, str], ...] = (
    ("n_leads", "leads", 1500, "exact"),
    ("n_leads_with_events", "leads with at least one interaction", 1010, "exact"),
    ("n_events_distinct", "distinct interactions (published as 'approximately 110,000')",
     110_000, "nearest 1,000"),
    ("mean_events_per_lead", "distinct interactions per lead (published as '73')", 73,
     "nearest whole number"),
    ("conversion_to_opportunity", "conversion to opportunity, status 5 / all leads "
     "(published as 2.27%)", 0.0227, "nearest 0.01 percentage point"),
)


def _computed_headline(summary: dict) -> dict[str, float]:
    n = summary["n_leads"]
    return {
        "n_leads": n,
        "n_leads_with_events": summary["n_leads_with_events"],
        "n_events_distinct": summary["n_events_distinct"],
        "mean_events_per_lead": summary["n_events_distinct"] / n if n else None,
        "conversion_to_opportunity": summary["conversion_to_opportunity"]["rate"],
    }


def _matches(rule: str, computed, published) -> bool:
    if computed is None:
        return False
    if rule == "exact":
        return computed == published
    if rule == "nearest 1,000":
        return round(computed / 1000) * 1000 == published
    if rule == "nearest whole number":
        return round(computed) == published
    if rule == "nearest 0.01 percentage point":
        return round(computed * 100, 2) == round(published * 100, 2)
    raise ValueError(rule)


def _table_cells(published: dict[str, list[float]], columns, computed: dict) -> dict:
    """Cell-by-cell comparison of a published table with the computed (rounded) one."""
    cells, mismatches = 0, []
    for row, values in published.items():
        for col, pub in zip(columns, values):
            cells += 1
            got = (computed.get(row) or {}).get(col)
            if got is None or round(float(got), 1) != pub:
                mismatches.append({"row": row, "column": col, "published": pub,
                                   "computed": got})
    return {"n_cells": cells, "n_match": cells - len(mismatches), "mismatches": mismatches}


def compare(summary: dict) -> dict:
    """Published against computed: the headline numbers and every cell of Tables 1 and 2.

    ``summary`` needs ``n_leads``, ``n_leads_with_events``, ``n_events_distinct``,
    ``conversion_to_opportunity`` and the two rounded tables (``mean_interactions_by_status``
    is {type: {status: x}}, ``mean_interactions_by_industry`` is {industry: {type: x}}).
    """
    computed = _computed_headline(summary)
    headline = [{"key": key, "what": words, "published": pub, "computed": computed[key],
                 "rule": rule, "matches": _matches(rule, computed[key], pub)}
                for key, words, pub, rule in HEADLINE]
    table1 = _table_cells(TABLE_1, [str(k) for k in range(1, 6)],
                          summary.get("mean_interactions_by_status") or {})
    table2 = _table_cells(TABLE_2, TABLE_2_COLUMNS,
                          summary.get("mean_interactions_by_industry") or {})
    n_checks = len(headline) + table1["n_cells"] + table2["n_cells"]
    n_match = sum(h["matches"] for h in headline) + table1["n_match"] + table2["n_match"]
    return {"source": "seed 001_ab253c9b17bf57ea.txt (abstract, Tables 1 and 2)",
            "headline": headline, "table1": table1, "table2": table2,
            "n_checks": n_checks, "n_match": n_match, "all_match": n_match == n_checks}
