"""The whole funnel analysis: `FunnelData` -> `FunnelResults` (funnel.json + tables).

Every number the report shows is computed here, once; `report` only draws and formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    say = progress or (lambda msg: None)
    cfg = _sampler_config(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler)
    counts = rep.interaction_counts(data)

    # ---- reproduce -----------------------------------------------------------------
    say("reproducing the report's tables")
    tables = _reproduce(data, counts)
    # ---- stage 3 -> 4 by industry, and the advanced-lead models --------------------------
    fits = _Fits()
    _fit_stage(data, cfg, fits, say=say)
    _fit_advanced(data, counts, cfg, fits, seed=seed, test_share=test_share, say=say)
    # ---- the report's claims, and time ------------------------------------------------
    say("testing the report's claims and the time dimension")
    claims = _claims(data, counts, fits, seed=seed)
    weekly = tl.weekly_activity_by_status(data)
    time_block = _time_block(data, weekly, seed=seed)

    # ---- funnel.json ------------------------------------------------------------------
    summary = _summary(data, tables, fits, claims=claims, time_block=time_block,
                       diag_block=combine(fits.diags), cfg=cfg)
    # The original report's published numbers against these: what the report says reproduces.
    summary["reproduction"] = pub.compare(summary)
    tables = {"table1": tables["table1"], "table2": tables["table2"],
              "attrition": tables["attrition"], "stage34": tables["s34"],
              "weekly": weekly, "paths": tables["paths"]}
    return FunnelResults(summary=summary, tables=tables, idata=fits.idatas)


@dataclass
class _Fits:
    """What the model stages of `run_funnel` made."""

    stage_stats: Any = None
    stage_idata: Any = None
    stage_summary: dict = field(default_factory=dict)
    diags: list = field(default_factory=list)
    advanced: dict = field(default_factory=dict)
    idatas: dict = field(default_factory=dict)


def _reproduce(data: FunnelData, counts) -> dict:
    """The report's tables, reproduced from the raw rows."""
    leads = data.leads
    return {
        "table1": rep.mean_interactions_by_status(data, counts),
        "table2": rep.mean_interactions_by_industry(data, counts),
        "attrition": rep.attrition_by_industry(leads),
        "s34": rep.stage3_to_4_by_industry(leads),
        "paths": rep.journeys(data),
        "conv": rep.conversion_to_opportunity(data),
    }


def _fit_stage(data: FunnelData, cfg, fits: _Fits, *, say) -> None:
    """Stage 3 -> 4 by industry, partially pooled (hierarchical Beta-Binomial)."""
    from bayes_ab.funnel.models import StageConversionModel, StageCounts

    say("fitting the hierarchical Beta-Binomial (stage 3 -> 4 by industry)")
    fits.stage_stats = StageCounts.from_leads(data.leads)
    stage_model = StageConversionModel(fits.stage_stats)
    fits.stage_idata = stage_model.fit(cfg.with_seed_offset(1))
    fits.stage_summary = stage_model.summarize(fits.stage_idata)
    fits.diags = [stage_model.diagnostics(fits.stage_idata)]
    fits.idatas = {"stage3_to_4_by_industry": fits.stage_idata}


def _fit_advanced(data: FunnelData, counts, cfg, fits: _Fits, *, seed: int,
                  test_share: float, say) -> None:
    """Advanced lead: logistic regression, held-out AUC, LOO, rules (status >= 4 and
    status == 5)."""
    leads = data.leads
    for offset, (label, y_all) in enumerate(
        (("status>=4", (leads["status"] >= 4).to_numpy()),
         ("status==5", (leads["status"] == 5).to_numpy())), start=2):
        say(f"fitting the logistic model of {label}")
        block, idata = _advanced_block(data, counts, cfg, fits, label=label, y_all=y_all,
                                       offset=offset, seed=seed, test_share=test_share,
                                       say=say)
        fits.advanced[label] = block
        fits.idatas[f"advanced_lead_{'ge4' if label == 'status>=4' else 'eq5'}"] = idata


def _advanced_block(data: FunnelData, counts, cfg, fits: _Fits, *, label: str, y_all,
                    offset: int, seed: int, test_share: float, say):
    """One advanced-lead outcome: (its block, its posterior)."""
    from bayes_ab.funnel.models import (
        AdvancedLeadModel, build_features, loo_difference, loo_summary,
    )

    leads, industries = data.leads, data.industries
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
    fits.diags.append(diag)
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
        fits.diags.append(bdiag)
        block["loo_industry_only"] = loo_summary(base_idata)
        block["loo_gain_from_interactions"] = loo_difference(idata, base_idata)
        block["rules"] = heur.evaluate_rules(counts[~test], y_all[~test],
                                             counts[test], y_test)
        fits.idatas["advanced_lead_industry_only"] = base_idata
    return block, idata


def _claims(data: FunnelData, counts, fits: _Fits, *, seed: int) -> dict:
    """The report's three claims, tested."""
    leads = data.leads
    theta = fits.stage_idata.posterior["theta"].values.reshape(
        -1, len(fits.stage_stats.industries))
    return {
        "technical_industries_convert_better": claims_mod.technical_convert_better(
            leads, theta_draws=theta, industries=fits.stage_stats.industries, seed=seed),
        "inflection_between_3_and_4": claims_mod.inflection_between_3_and_4(leads, seed=seed),
        "non_technical_prefer_forums_over_docs": claims_mod.forums_versus_docs(
            leads, counts, seed=seed),
    }


def _time_block(data: FunnelData, weekly, *, seed: int) -> dict:
    """funnel.json's ``time``: weekly activity, first occurrences, the early signal."""
    return {
        "weekly_events_per_lead_by_status": {
            str(k.date()): {str(c): float(v) for c, v in row.items() if pd.notna(v)}
            for k, row in weekly.iterrows()},
        "first_occurrence": tl.time_to_first_by_outcome(data),
        "early_signal_auc": tl.early_signal(data, seed=seed),
        "window": [str(data.events["received_at"].min()), str(data.events["received_at"].max())]
        if len(data.events) else None,
    }


def _stage_by_industry(s34, stage_summary: dict) -> dict:
    """funnel.json's ``stage3_to_4_by_industry``: observed and posterior per industry."""
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
    return stage_by_ind


def _summary(data: FunnelData, tables: dict, fits: _Fits, *, claims: dict, time_block: dict,
             diag_block, cfg) -> dict:
    """funnel.json (without ``reproduction``)."""
    leads, conv, stage_summary = data.leads, tables["conv"], fits.stage_summary
    ge4 = fits.advanced["status>=4"]
    stage_by_ind = _stage_by_industry(tables["s34"], stage_summary)
    return {
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
        "mean_interactions_by_status": rep.table_to_rounded_dict(tables["table1"], decimals=1),
        "mean_interactions_by_industry": rep.table_to_rounded_dict(tables["table2"],
                                                                   decimals=1),
        "attrition_by_industry": {str(k): {str(c): int(v) for c, v in row.items()}
                                  for k, row in tables["attrition"].iterrows()},
        "stage3_to_4_by_industry": stage_by_ind,
        "stage3_to_4_pooled": {k: stage_summary[k] for k in
                               ("overall", "pooled_observed", "kappa", "credibly_above",
                                "credibly_below")},
        "top_journeys": rep.top_journeys(tables["paths"], n=10),
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
        "advanced_lead_models": fits.advanced,
        "claims": claims,
        "time": time_block,
        "diagnostics": diag_block,
        "sampler": cfg.to_dict(),
        "data_quality": [f.__dict__ for f in data.findings],
        "definitions": DEFINITIONS,
    }




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


