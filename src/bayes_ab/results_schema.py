"""The stable keys of results.json and funnel.json (shared/design/RESULTS_SCHEMA.md).

`missing_keys(results)` lists every required key path that is absent, so tests (and
programs that read our output) can check a file against the published interface.
A block may be null when its model could not be estimated; its inner keys are then
not required (the report says "not estimated" and data_quality says why).
"""

from __future__ import annotations

from typing import Any

INTERVAL = {"mean": None, "lower": None, "upper": None, "prob": None}

ARM_COMPARISON = {
    "control": INTERVAL, "test": INTERVAL, "lift_abs": INTERVAL, "lift_rel": INTERVAL,
    "prob_test_better": None,
    "frequentist": {"test": None, "p_value": None, "p_value_holm": None,
                    "ci95_diff": INTERVAL, "significant_95": None},
}

RESULTS = {
    "schema_version": None,
    "input": {"n_customers": None, "n_test": None, "n_control": None, "dropped": None},
    "srm": {"expected_test_share": None, "observed_test_share": None, "p_value": None,
            "mismatch": None},
    "conversion": ARM_COMPARISON,
    "cs_engagement": ARM_COMPARISON,
    "help_channels": {
        "completion": {"cs": INTERVAL, "other": INTERVAL, "diff": INTERVAL, "prob_cs_better": None},
        "time_to_completion": {"hazard_ratio_cs_vs_other": INTERVAL, "prob_cs_faster": None,
                               "median_minutes": {"cs": None, "other": None}},
        "causal_effect": INTERVAL,
    },
    "completions_conversion": {
        "rate_by_completions": {"0": INTERVAL, "1": INTERVAL, "2": INTERVAL, "3": INTERVAL},
        "prob_monotone_increasing": None, "odds_ratio_per_completion": INTERVAL,
    },
    "time_and_experience": {"hour_effect": INTERVAL, "experience_effect": INTERVAL,
                            "prob_success_rises_with_time": None,
                            "prob_success_rises_with_experience": None},
    "decision": {"recommendation": None, "metric": None,
                 "expected_loss": {"double_down": None, "pivot": None},
                 "threshold_of_caring": None, "prob_test_better": None},
    "diagnostics": {"max_r_hat": None, "min_ess_bulk": None, "divergences": None,
                    "passed": None, "per_model": None},
    "data_quality": None,
}

FUNNEL = {
    "schema_version": None, "n_leads": None, "n_leads_with_events": None,
    "n_events_raw": None, "n_events_distinct": None,
    "conversion_to_opportunity": {"rate": None, "n": None},
    "at_or_beyond_stage": {"1": None, "2": None, "3": None, "4": None, "5": None},
    "mean_interactions_by_status": None, "mean_interactions_by_industry": None,
    "stage3_to_4_by_industry": None, "top_journeys": None,
    "heuristics": {"model": None, "auc": None, "top_predictors": None},
}


def missing_keys(document: dict, spec: dict = RESULTS, *, prefix: str = "") -> list[str]:
    """Key paths of `spec` absent from `document` (nested blocks that are null are allowed)."""
    missing: list[str] = []
    for key, sub in spec.items():
        path = f"{prefix}{key}"
        if key not in document:
            missing.append(path)
            continue
        value: Any = document[key]
        if isinstance(sub, dict) and value is not None:
            if not isinstance(value, dict):
                missing.append(f"{path} (not an object)")
            else:
                missing.extend(missing_keys(value, sub, prefix=f"{path}."))
    return missing
