"""The whole funnel analysis: `FunnelData` -> `FunnelResults` (funnel.json + tables).

Every number the report shows is computed here, once; `report` only draws and formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from bayes_ab.constants import SCHEMA_VERSION
from bayes_ab.funnel import claims as claims_mod
from bayes_ab.funnel import heuristics as heur
from bayes_ab.funnel import published as pub
from bayes_ab.funnel import reproduce as rep
from bayes_ab.funnel import timeline as tl
from bayes_ab.data.funnel import FunnelData


@dataclass(frozen=True)
class FunnelResults:
    """``summary`` is funnel.json; the tables and posteriors feed the figures."""

    summary: dict
    tables: dict = field(default_factory=dict)
    idata: dict = field(default_factory=dict)


def _sampler_config(*, draws: int, tune: int | None, chains: int, seed: int, sampler: str):
    from bayes_ab.inference.fit import SamplerConfig

    return SamplerConfig(sampler=sampler, draws=draws, tune=draws if tune is None else tune,
                         chains=chains, seed=seed)


def run_funnel(data: FunnelData, *, seed: int = 20260505, draws: int = 1000,
               tune: int | None = None, chains: int = 4, sampler: str = "nutpie",
               test_share: float = 0.3, progress=None) -> FunnelResults:
    """Reproduce the report, then fit the models. ``progress`` is a callable(str) or None."""
    from bayes_ab.inference.diagnostics import combine
    from bayes_ab.funnel.models import (
        AdvancedLeadModel, StageConversionModel, StageCounts, build_features,
        loo_difference, loo_summary,
    )

    say = progress or (lambda msg: None)
    cfg = _sampler_config(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler)
    leads = data.leads
    counts = rep.interaction_counts(data)

    # ---- reproduce -----------------------------------------------------------------
    say("reproducing the report's tables")
    table1 = rep.mean_interactions_by_status(data, counts)
    table2 = rep.mean_interactions_by_industry(data, counts)
    attrition = rep.attrition_by_industry(leads)
    s34 = rep.stage3_to_4_by_industry(leads)
    paths = rep.journeys(data)
    conv = rep.conversion_to_opportunity(data)

    # ---- stage 3 -> 4 by industry, partially pooled -------------------------------------
    say("fitting the hierarchical Beta-Binomial (stage 3 -> 4 by industry)")
    stage_stats = StageCounts.from_leads(leads)
    stage_model = StageConversionModel(stage_stats)
    stage_idata = stage_model.fit(cfg.with_seed_offset(1))
    stage_summary = stage_model.summarize(stage_idata)
    diags = [stage_model.diagnostics(stage_idata)]

    # ---- advanced lead: logistic regression, held-out AUC, LOO, rules -------------------
    industries = data.industries
    advanced: dict = {}
    idatas = {"stage3_to_4_by_industry": stage_idata}
    for offset, (label, y_all) in enumerate(
        (("status>=4", (leads["status"] >= 4).to_numpy()),
         ("status==5", (leads["status"] == 5).to_numpy())), start=2):
        say(f"fitting the logistic model of {label}")
        test = heur.stratified_split(y_all, test_share=test_share, seed=seed + offset)
        train_f = build_features(counts[~test], leads["industry"][~test], y_all[~test],
                                 industries=industries, outcome=label)
        test_f = build_features(counts[test], leads["industry"][test], y_all[test],
                                industries=industries, center=train_f.center,
                                scale=train_f.scale, outcome=label)
        model = AdvancedLeadModel(train_f)
        idata = model.fit(cfg.with_seed_offset(10 * offset))
        diag = model.diagnostics(idata)
        diag = type(diag)(**{**diag.__dict__, "name": f"advanced_lead[{label}]"})
        diags.append(diag)
        summary = model.summarize(idata)
        p_test = model.predict_proba(idata, test_f)
        y_test = y_all[test]
        has_events = counts[test].sum(axis=1).to_numpy() > 0
        block = {
            "summary": summary,
            "n_train": int((~test).sum()), "n_test": int(test.sum()),
            "n_positive_test": int(y_test.sum()),
            "auc_test": heur.auc_interval(y_test, p_test, seed=seed),
            "auc_test_leads_with_events": heur.auc_interval(
                y_test[has_events], p_test[has_events], seed=seed),
            "loo": loo_summary(idata),
        }
        if label == "status>=4":
            say("fitting the industry-only baseline (for LOO)")
            base = AdvancedLeadModel(train_f, with_interactions=False)
            base_idata = base.fit(cfg.with_seed_offset(10 * offset + 1))
            bdiag = base.diagnostics(base_idata)
            diags.append(bdiag)
            block["loo_industry_only"] = loo_summary(base_idata)
            block["loo_gain_from_interactions"] = loo_difference(idata, base_idata)
            block["rules"] = heur.evaluate_rules(counts[~test], y_all[~test],
                                                 counts[test], y_test)
            idatas["advanced_lead_industry_only"] = base_idata
        advanced[label] = block
        idatas[f"advanced_lead_{'ge4' if label == 'status>=4' else 'eq5'}"] = idata

    # ---- the report's claims, and time ------------------------------------------------
    say("testing the report's claims and the time dimension")
    theta = stage_idata.posterior["theta"].values.reshape(-1, len(stage_stats.industries))
    claims = {
        "technical_industries_convert_better": claims_mod.technical_convert_better(
            leads, theta_draws=theta, industries=stage_stats.industries, seed=seed),
        "inflection_between_3_and_4": claims_mod.inflection_between_3_and_4(leads, seed=seed),
        "non_technical_prefer_forums_over_docs": claims_mod.forums_versus_docs(
            leads, counts, seed=seed),
    }
    weekly = tl.weekly_activity_by_status(data)
    time_block = {
        "weekly_events_per_lead_by_status": {
            str(k.date()): {str(c): float(v) for c, v in row.items() if pd.notna(v)}
            for k, row in weekly.iterrows()},
        "first_occurrence": tl.time_to_first_by_outcome(data),
        "early_signal_auc": tl.early_signal(data, seed=seed),
        "window": [str(data.events["received_at"].min()), str(data.events["received_at"].max())]
        if len(data.events) else None,
    }

    # ---- funnel.json ------------------------------------------------------------------
    ge4 = advanced["status>=4"]
    stage_by_ind = {}
    for ind, row in s34.iterrows():
        post = stage_summary["by_industry"].get(ind)
        stage_by_ind[str(ind)] = {
            "observed": None if pd.isna(row["observed"]) else float(row["observed"]),
            "n_at_3_or_beyond": int(row["n_at_3_or_beyond"]),
            "n_at_4_or_beyond": int(row["n_at_4_or_beyond"]),
            "posterior": post["posterior"] if post else None,
            "prob_above_overall": post["prob_above_overall"] if post else None,
            "verdict": post["verdict"] if post else "no leads at stage 3",
        }
    diag_block = combine(diags)
    summary = {
        "schema_version": SCHEMA_VERSION,
        "input": {"leads_file": data.leads_file, "events_file": data.events_file},
        "n_leads": data.n_leads,
        "n_leads_with_events": data.n_leads_with_events,
        "n_events_raw": data.n_events_raw,
        "n_events_distinct": data.n_events_distinct,
        "n_events_unknown_lead": data.n_events_unknown_lead,
        "conversion_to_opportunity": {"rate": conv["rate"], "n": conv["n"],
                                      "n_leads": conv["n_leads"],
                                      "posterior": conv["interval"]},
        "at_or_beyond_stage": rep.at_or_beyond_stage(leads),
        "stage_transitions": rep.stage_transitions(leads),
        "mean_interactions_by_status": rep.table_to_rounded_dict(table1, decimals=1),
        "mean_interactions_by_industry": rep.table_to_rounded_dict(table2, decimals=1),
        "attrition_by_industry": {str(k): {str(c): int(v) for c, v in row.items()}
                                  for k, row in attrition.iterrows()},
        "stage3_to_4_by_industry": stage_by_ind,
        "stage3_to_4_pooled": {k: stage_summary[k] for k in
                               ("overall", "pooled_observed", "kappa", "credibly_above",
                                "credibly_below")},
        "top_journeys": rep.top_journeys(paths, n=10),
        "journeys_by_status": rep.journeys_by_status(data, n=5),
        "heuristics": {
            "model": "Bayesian logistic regression of status >= 4 on standardized log1p "
                     "interaction counts per type, industry intercepts partially pooled",
            "auc": ge4["auc_test"]["point"],
            "auc_interval": {k: ge4["auc_test"][k] for k in ("mean", "lower", "upper", "prob")},
            "top_predictors": [{"name": e["name"], "effect": e["effect"]}
                               for e in ge4["summary"]["effects"]],
            "rules": ge4["rules"],
        },
        "advanced_lead_models": advanced,
        "claims": claims,
        "time": time_block,
        "diagnostics": diag_block,
        "sampler": cfg.to_dict(),
        "data_quality": [f.__dict__ for f in data.findings],
        "definitions": DEFINITIONS,
    }
    # The original report's published numbers against these: what the report says reproduces.
    summary["reproduction"] = pub.compare(summary)
    tables = {"table1": table1, "table2": table2, "attrition": attrition, "stage34": s34,
              "weekly": weekly, "paths": paths}
    return FunnelResults(summary=summary, tables=tables, idata=idatas)


DEFINITIONS = {
    "interaction_type": "source + '_' + event of a distinct event row",
    "distinct_events": "exact duplicate rows (all four fields equal) dropped and counted",
    "conversion_to_opportunity": "leads at status 5 / all leads",
    "at_or_beyond_stage": "leads whose status >= k",
    "mean_interactions": "distinct events of the type / all leads of the group "
                         "(leads without events count as zero); rounded half up to 1 decimal",
    "stage3_to_4": "leads at status >= 4 / leads at status >= 3",
    "journey": "distinct interaction types in order of first occurrence, per lead with events",
    "credibly_above_or_below": "the 95% HDI of (industry rate - population mean rate mu) "
                               "excludes 0, in the hierarchical Beta-Binomial",
    "technical_industries": list(claims_mod.TECHNICAL_INDUSTRIES),
    "intervals": "95% highest-density intervals; Beta(1, 1) posteriors for raw rates",
}


