"""Figures and the report of the funnel (reads `FunnelResults` only).

The report has the shape of the experiment report (`bayes_ab.report`): a document of
banners and sections built once, every sentence written with the number formats of
`bayes_ab.report.text`, laid out by the same two templates into ``funnel_report.html``
(self-contained: figures embedded as base64 PNGs) and ``funnel_report.md`` (figures linked
as ``figures/<name>.png``). It opens with the findings in plain words (what reproduces,
what the pooled model changes, which claims of the original report hold); the tables and
the technical detail follow. Nothing here estimates anything: every number is read from
``funnel.json`` (``results.summary``). The figures are drawn by `bayes_ab.plotting.funnel`
and saved here, at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayes_ab.data.funnel import STAGES, STATUS_LABELS
from bayes_ab.plotting import (
    FUNNEL_DPI,
    plot_attrition,
    plot_effects,
    plot_funnel,
    plot_heatmap,
    plot_journeys,
    plot_stage_forest,
    plot_weekly,
    save_figures,
)
from bayes_ab.report import common as R
from bayes_ab.report import sections as S
from bayes_ab.report import text as T

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def funnel_figures(results) -> dict[str, Figure]:
    """The report's figures by name (`bayes_ab.plotting.funnel`), never saved here."""

    s, t = results.summary, results.tables
    return {
        "funnel": plot_funnel(s),
        "attrition_by_industry": plot_attrition(t["attrition"]),
        "interactions_by_status": plot_heatmap(
            t["table1"], title="Mean interactions per lead by status (Table 1)"),
        "interactions_by_industry": plot_heatmap(
            t["table2"], title="Mean interactions per lead by industry (Table 2)"),
        "stage3_to_4_forest": plot_stage_forest(
            industry_rate_table(s), s["stage3_to_4_pooled"]["overall"]),
        "journeys": plot_journeys(s),
        "activity_over_time": plot_weekly(t["weekly"]),
        "predictor_effects": plot_effects(s),
    }


# ------------------------------------------------------------------------------ report

TITLE = "Lead funnel: the original report reproduced, then tested"
REPORT_STEM = "funnel_report"

#: A claim "holds" when its posterior probability is at least this, and is contradicted
#: when it is at most 1 - this; in between the data do not support it.
CLAIM_HOLDS = 0.95

#: Which section shows each figure, and its caption.
FIGURES: dict[str, tuple[str, str]] = {
    "funnel": ("funnel", "Leads at or beyond each stage, with each step's continuation rate"),
    "attrition_by_industry": ("funnel", "Attrition by industry: share of each industry's "
                                        "leads at or beyond each stage"),
    "interactions_by_status": ("reproduction", "Table 1 as a heat map: mean interactions per "
                                               "lead by final status"),
    "interactions_by_industry": ("reproduction", "Table 2 as a heat map: mean interactions "
                                                 "per lead by industry"),
    "stage3_to_4_forest": ("stage34", "Stage 3 to 4 by industry: pooled posterior (95% HDI) "
                                      "against the observed rate"),
    "predictor_effects": ("predictors", "Association of each interaction count with an "
                                        "advanced lead: log-odds per SD (95% HDI)"),
    "journeys": ("journeys", "The most common user journeys"),
    "activity_over_time": ("time", "Distinct events per lead per week, by final status"),
}

GLOSSARY: tuple[tuple[str, str], ...] = tuple(
    item for item in T.GLOSSARY
    if item[0] in ("Posterior", "95% HDI (highest-density interval)", "r-hat, ESS, divergences")
) + (
    ("Rate with a uniform prior", "A share k of n is shown as the mean of its Beta(1 + k, "
     "1 + n - k) posterior, (k + 1) / (n + 2), with its 95% HDI: close to k / n for large n, "
     "pulled toward 50% for small n."),
    ("Partial pooling (hierarchical Beta-Binomial)", "The industries' stage 3 to 4 rates are "
     "estimated together: each industry's rate is drawn from a population of rates with mean "
     "mu, so an industry with few leads is pulled toward mu, by as much as the data say the "
     "industries really differ. An industry is credibly above (below) the mean when the 95% HDI "
     "of its rate minus mu excludes zero."),
    ("Advanced lead", "A lead whose final status is 4 (nurturing) or 5 (converted to "
     "opportunity)."),
    ("Log-odds per SD", "The logistic model's coefficient of an interaction type: the change in "
     "the log-odds of an advanced lead per standard deviation of log(1 + count), the other "
     "counts and the industry held fixed. It measures association, not the effect of making "
     "a lead use that part of the platform."),
    ("AUC", "On held-out leads, the probability that the model scores a random advanced lead "
     "above a random other lead (0.5: no better than chance, 1: perfect ranking). Its 95% "
     "interval is the HDI of a Bayesian bootstrap over leads."),
    ("Held-out leads", "A seeded 30% of the leads, the same share of each outcome, kept out of "
     "the fit and used only to measure the model and the rules."),
    ("LOO, elpd", "Leave-one-out cross-validation (PSIS): the expected log predictive density "
     "of each lead when it is left out, summed. A positive difference means better "
     "prediction; compare it with its standard error (SE)."),
    ("Bayesian bootstrap", "An interval for a mean of per-lead counts obtained by reweighting "
     "the leads with random Dirichlet weights: it assumes nothing about the shape of the "
     "heavy-tailed counts."),
)


def _rate(x) -> str:
    """A rate as a percentage; an HDI bound below 0.05% (a rate with no success) as 0.0%."""
    if isinstance(x, (int, float)) and 0 <= x < 0.0005:
        return "0.0%"
    return T.pct(x)


def _auc(x) -> str:
    return T.num(x, digits=3)


def _coef(x) -> str:
    return T.num(x, digits=2, signed=True)


def _ratio(x) -> str:
    return T.num(x, digits=1)


def _days(x) -> str:
    return f"{x:.1f}" if isinstance(x, (int, float)) and np.isfinite(x) else "n/a"


def _mean1(x) -> str:
    """A table mean to one decimal (as the report printed them); whole above 1,000."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return T.count(round(x)) if abs(x) >= 1000 else f"{x:.1f}"


def _ivc(iv, fmt=_rate) -> str:
    """'7.7%, 95% HDI 3.8% to 11.5%': an interval inside parentheses of its own."""
    if not iv:
        return T.NOT_ESTIMATED
    return f"{fmt(iv['mean'])}, {T.mass_label(iv)} {T.bounds(iv, fmt)}"


def _k_of_n(k, n) -> str:
    return f"{T.count(k)} of {T.count(n)}"


def _words(name: str) -> str:
    """'spatial_cli_logged_in' -> 'spatial cli logged in' (wording only)."""
    return T.column_words(name)


INTERACTION_WORDS = {
    "spatial_cli_logged_in": "CLI log-ins",
    "spatial_cli_generic_activity": "other CLI activity",
    "website_viewed_console": "console views",
    "forums_pageview": "forum page views",
    "website_downloaded_sdk": "SDK downloads",
    "website_docs": "docs page views",
    "website_generated_referral": "referrals generated",
}


def _type(name: str) -> str:
    return INTERACTION_WORDS.get(name, _words(name))


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- plain-words findings ----------------------------------------------------------


def reproduction_sentence(s: Mapping) -> str:
    rep = s.get("reproduction")
    if not rep:
        return "The original report's numbers were not compared with these data."
    head = {h["key"]: h for h in rep["headline"]}
    t1, t2 = rep["table1"], rep["table2"]
    conv = s["conversion_to_opportunity"]
    if rep["all_match"]:
        return (f"The original report reproduces exactly from these files: "
                f"{T.count(s['n_leads'])} leads, {T.count(s['n_leads_with_events'])} with at "
                f"least one interaction, {T.count(s['n_events_distinct'])} distinct "
                f"interactions, conversion to opportunity {_k_of_n(conv['n'], conv['n_leads'])}"
                f" = {T.pct(conv['rate'], digits=2)} (published 2.27%), and every cell of its "
                f"Table 1 ({t1['n_cells']} cells) and Table 2 ({t2['n_cells']} cells) to the "
                f"published decimal, once exact duplicate event rows are dropped and means are "
                f"rounded half up as a spreadsheet does.")
    bad = [h["what"].split(" (")[0] for h in head.values() if not h["matches"]]
    return (f"The original report does not reproduce from these files: "
            f"{T.count(rep['n_match'])} of its {T.count(rep['n_checks'])} published numbers "
            f"match ({T.count(t1['n_match'])} of {T.count(t1['n_cells'])} cells of Table 1, "
            f"{T.count(t2['n_match'])} of {T.count(t2['n_cells'])} of Table 2"
            + (f"; differing headline numbers: {_join(bad)}" if bad else "")
            + "). These are probably not the data the report was written from; the models "
              "below describe these files.")


def funnel_sentence(s: Mapping) -> str:
    trans = s["stage_transitions"]
    steps = [(k, trans[f"{k}_to_{k + 1}"]) for k in STAGES[:-1]]
    lowest = min(steps, key=lambda kv: (kv[1]["observed"] is None, kv[1]["observed"] or 0))
    k, t = lowest
    others = [f"{T.pct(v['observed'])} ({j} to {j + 1})" for j, v in steps if j != k]
    return (f"The funnel's weakest step is from stage {k} ({STATUS_LABELS[k][4:].lower()}) "
            f"to stage {k + 1} ({STATUS_LABELS[k + 1][4:].lower()}): only "
            f"{_k_of_n(t['n_at_or_beyond_to'], t['n_at_or_beyond_from'])} leads at stage {k} or "
            f"beyond reached stage {k + 1} or beyond ({T.pct(t['observed'])}), against "
            f"{_join(others)} for the other steps. Overall "
            f"{_k_of_n(s['conversion_to_opportunity']['n'], s['n_leads'])} leads "
            f"({T.pct(s['conversion_to_opportunity']['rate'], digits=2)}) became opportunities.")


def pooling_sentences(s: Mapping) -> list[str]:
    """What partial pooling changes in the report's by-industry reading of stage 3 to 4."""
    pooled = s["stage3_to_4_pooled"]
    rows = {k: v for k, v in s["stage3_to_4_by_industry"].items() if v.get("posterior")}
    if not rows:
        return ["No industry has leads at stage 3, so the pooled model was not fitted."]
    mu = pooled["overall"]
    above, below = list(pooled["credibly_above"]), list(pooled["credibly_below"])
    out = []
    head = (f"Pooling the industries' stage 3 to 4 rates (a hierarchical Beta-Binomial: "
            f"population mean rate {_ivc(mu)}) ")
    if above:
        out.append(head + "finds " + _join(
            [f"{a} ({_ivc(rows[a]['posterior'])}; raw "
             f"{_k_of_n(rows[a]['n_at_4_or_beyond'], rows[a]['n_at_3_or_beyond'])})"
             for a in above])
            + (" as the only industry" if len(above) == 1 else " as the only industries")
            + " credibly above the mean.")
    else:
        out.append(head + "finds no industry credibly above the mean.")
    # The report's Figure 3 ranks industries by their raw rate; say where pooling disagrees.
    ranked = sorted(rows.items(), key=lambda kv: -kv[1]["observed"])
    top_name, top = ranked[0]
    if top_name not in above:
        out.append(f"Of all industries, {top_name} has the highest raw rate "
                   f"({_k_of_n(top['n_at_4_or_beyond'], top['n_at_3_or_beyond'])} = "
                   f"{T.pct(top['observed'])}) but so few leads that it shrinks to "
                   f"{T.interval(top['posterior'], _rate)}: not credibly above the mean.")
    zeros = [(k, v) for k, v in ranked if v["n_at_4_or_beyond"] == 0]
    if below:
        out.append("Credibly below the mean: " + _join(
            [f"{b} ({_ivc(rows[b]['posterior'])})" for b in below]) + ".")
    elif zeros:
        out.append("No industry is credibly below the mean, not even those where no lead "
                   "passed stage 3 ("
                   + _join([f"{k} {_k_of_n(0, v['n_at_3_or_beyond'])}" for k, v in zeros])
                   + "): too few leads to tell them apart from the population.")
    else:
        out.append("No industry is credibly below the mean.")
    return out


def _claim_verdict(p) -> str:
    if p is None:
        return "Not tested"
    if p >= CLAIM_HOLDS:
        return "Holds"
    if p <= 1 - CLAIM_HOLDS:
        return "Contradicted"
    return "Not supported"


def claim_sentences(s: Mapping) -> list[tuple[str, str]]:
    """(verdict, sentence) for each claim of the original report (claims.py)."""
    cl = s["claims"]
    out = []
    tech = cl["technical_industries_convert_better"]
    st = tech["stage3_to_4"]
    (kt, nt), (ko, no) = st["counts"]["technical"], st["counts"]["non_technical"]
    out.append((_claim_verdict(tech["prob_holds"]),
                f"\"Technical industries ({_join(tech['technical_industries'])}) suffer the "
                f"least attrition between stages 3 and 4\": their leads at stage 3 or beyond "
                f"reached stage 4 or beyond at a rate of {T.pct(st['technical']['mean'])} "
                f"({_k_of_n(kt, nt)}; 95% HDI {T.bounds(st['technical'], _rate)}), the other "
                f"industries' at {T.pct(st['non_technical']['mean'])} ({_k_of_n(ko, no)}; "
                f"95% HDI {T.bounds(st['non_technical'], _rate)}); probability "
                f"that the technical rate is higher: {T.prob(tech['prob_holds'])}."))
    inf = cl["inflection_between_3_and_4"]
    rates = inf["continuation_rates"]
    others = [f"{T.pct(v['mean'])} ({k.replace('_to_', ' to ')})" for k, v in rates.items()
              if k != "3_to_4"]
    out.append((_claim_verdict(inf["prob_holds"]),
                f"\"The inflection point is between stages 3 and 4\": the continuation rate "
                f"from 3 to 4 is {T.interval(rates['3_to_4'], _rate)}, against "
                f"{_join(others)} for the other steps; probability that 3 to 4 is the lowest "
                f"of the four: {T.prob(inf['prob_holds'])}."))
    fd = cl["non_technical_prefer_forums_over_docs"]
    if fd.get("prob_holds") is None:
        out.append(("Not tested", "\"Non-technical leads browse the forums, technical leads "
                    "the documentation\": " + str(fd.get("note", "not tested")) + "."))
    else:
        nt_, t_ = fd["non_technical"], fd["technical"]
        out.append((_claim_verdict(fd["prob_holds"]),
                    f"\"Clients in non-technical industries browse the forums for help, "
                    f"whereas technical clients use the documentation\": forums are "
                    f"{T.interval(nt_['forum_share_of_help'], _rate)} of non-technical leads' "
                    f"help-seeking views (forums + docs) and "
                    f"{T.interval(t_['forum_share_of_help'], _rate)} of technical leads'; "
                    f"probability that the non-technical share is higher: "
                    f"{T.prob(fd['prob_holds'])}. Both groups view the forums far more than "
                    f"the docs ({_ratio(nt_['mean_forums']['mean'])} vs "
                    f"{_ratio(nt_['mean_docs']['mean'])} views per lead, and "
                    f"{_ratio(t_['mean_forums']['mean'])} vs {_ratio(t_['mean_docs']['mean'])})."))
    return out


def _credible_predictors(ge4: Mapping) -> list[dict]:
    return [e for e in ge4["summary"]["effects"] if T.excludes(e["effect"])]


def _best_rule(rules: list[dict]) -> dict | None:
    """The rule with the highest lift over the base rate among those catching half or more
    of the held-out advanced leads."""
    ok = [r for r in rules if r.get("lift_over_base_rate") is not None
          and (r.get("recall_observed") or 0) >= 0.5]
    return max(ok, key=lambda r: r["lift_over_base_rate"]) if ok else None


def predictor_sentences(s: Mapping) -> list[str]:
    ge4 = s["advanced_lead_models"]["status>=4"]
    cred = _credible_predictors(ge4)
    out = []
    if cred:
        parts = [f"{_type(e['name'])} ({_coef(e['effect']['mean'])}, 95% HDI "
                 f"{T.bounds(e['effect'], _coef)})" for e in cred]
        n_other = len(ge4["summary"]["effects"]) - len(cred)
        out.append(
            ("The number of " if len(cred) == 1 else "The numbers of ") + _join(parts)
            + (" predicts" if len(cred) == 1 else " predict")
            + " an advanced lead (status 4 or 5; log-odds per SD of log(1 + count), industry "
              "and the other counts held fixed)"
            + (f"; none of the other {n_other} types is credibly associated with it." if n_other
               else ".")
            + " This is an association: it does not show that getting a lead to use the "
              "platform this way would advance it.")
    else:
        out.append("No interaction count is credibly associated with an advanced lead once "
                   "industry and the other counts are held fixed.")
    auc, auc_ev = ge4["auc_test"], ge4["auc_test_leads_with_events"]
    out.append(f"On {T.count(ge4['n_test'])} held-out leads ({T.count(ge4['n_positive_test'])} "
               f"advanced) the model ranks a random advanced lead above a random other lead "
               f"with probability {_auc(auc['point'])} (AUC; 95% HDI {T.bounds(auc, _auc)}), "
               f"{_auc(auc_ev['point'])} (95% HDI {T.bounds(auc_ev, _auc)}) among held-out "
               f"leads with events (leads without any event are easy to rank as not advanced).")
    rule = _best_rule(ge4.get("rules") or [])
    if rule:
        base = ge4["n_positive_test"] / ge4["n_test"] if ge4["n_test"] else None
        n_adv = rule["true_positives"] + rule["false_negatives"]
        out.append(f"A rule a sales team can apply, \"{rule['text']}\", flags "
                   f"{T.count(rule['n_flagged'])} of the held-out leads; "
                   f"{T.pct(rule['precision_observed'])} of them are advanced "
                   f"({_ratio(rule['lift_over_base_rate'])} times the base rate of "
                   f"{T.pct(base)}), and it catches "
                   f"{_k_of_n(rule['true_positives'], n_adv)} advanced leads.")
    return out


def _headline_title(s: Mapping) -> str:
    rep = s.get("reproduction") or {}
    verdicts = [v for v, _ in claim_sentences(s)]
    n_hold = verdicts.count("Holds")
    first = ("The original report's numbers reproduce" if rep.get("all_match") else
             "The original report's numbers do not reproduce from these data" if rep else
             "The original report's numbers were not compared")
    return (f"{first}; {n_hold} of its {len(verdicts)} claims tested "
            f"hold{'s' if n_hold == 1 else ''}.")


def findings_section(s: Mapping) -> dict:
    lines = [reproduction_sentence(s), funnel_sentence(s), *pooling_sentences(s)]
    claims = [f"{v}: {text}" for v, text in claim_sentences(s)]
    blocks = [R.callout("neutral", _headline_title(s), lines),
              R.para("The original report's claims, tested:", "lead"),
              R.bullets(claims),
              R.para("What predicts an advanced lead:", "lead"),
              R.bullets(predictor_sentences(s)),
              R.para("Shares written 'k of n (x%)' are observed. Rates given with a 95% "
                      "highest-density interval (HDI) are posterior means: with a uniform "
                      "prior for one group's rate, from the hierarchical model for an "
                      "industry's pooled rate. Interaction counts are of distinct events. The "
                      "detail follows: the reproduced tables, the funnel, the pooled model, "
                      "the predictive model, journeys, time, data quality, definitions and "
                      "the sampler diagnostics.", "muted")]
    return R.section("findings", "Findings", blocks)


# -- technical sections ------------------------------------------------------------


def reproduction_section(results) -> dict:
    s = results.summary
    rep = s.get("reproduction")
    blocks = [R.para(reproduction_sentence(s))]
    if rep:
        rows = []
        for h in rep["headline"]:
            fmt = ((lambda x: T.pct(x, digits=2)) if h["key"] == "conversion_to_opportunity"
                   else _ratio if h["key"] == "mean_events_per_lead" else T.count)
            rows.append([h["what"], fmt(h["published"]), fmt(h["computed"]), h["rule"],
                         "yes" if h["matches"] else "no"])
        blocks.append(R.table(["Number", "Published", "Computed", "Compared to the",
                                "Matches"], rows,
                               row_levels=["" if h["matches"] else "warn"
                                           for h in rep["headline"]]))
        mism = rep["table1"]["mismatches"] + rep["table2"]["mismatches"]
        if mism:
            mrows = [[m["row"], m["column"], _mean1(m["published"]),
                      "absent" if m["computed"] is None else _mean1(m["computed"])]
                     for m in mism]
            blocks.append(R.details(f"Table cells that differ ({len(mrows)})", [
                R.table(["Row", "Column", "Published", "Computed"], mrows)]))
    # The rounded tables of funnel.json (rounded half up, as the report did), not a
    # re-rounding of the raw means: 68 / 80 = 0.85 is 0.9 in the report, 0.8 with "%.1f".
    t1 = s["mean_interactions_by_status"]
    cols = [str(k) for k in STAGES]
    rows = [[name] + [_mean1(row.get(c)) for c in cols] for name, row in t1.items()]
    blocks.append(R.details("Table 1: mean interactions per lead by final status", [
        R.table(["Interaction type"] + [STATUS_LABELS[k] for k in STAGES], rows,
                 caption="Distinct events of the type / all leads of the status, rounded "
                         "half up")]))
    t2 = s["mean_interactions_by_industry"]
    cols = list(next(iter(t2.values()), {}).keys())
    rows = [[ind] + [_mean1(row.get(c)) for c in cols] for ind, row in t2.items()]
    blocks.append(R.details("Table 2: mean interactions per lead by industry", [
        R.table(["Industry"] + cols, rows,
                 caption="Distinct events of the type / all leads of the industry, rounded "
                         "half up")]))
    return R.section("reproduction", "What reproduces", blocks)


def funnel_detail_section(s: Mapping) -> dict:
    reach = s["at_or_beyond_stage"]
    trans = s["stage_transitions"]
    rows = []
    for k in STAGES:
        t = trans.get(f"{k}_to_{k + 1}")
        rows.append([STATUS_LABELS[k], T.count(reach[str(k)]),
                     "" if t is None else T.interval(t["posterior"], _rate)])
    conv = s["conversion_to_opportunity"]
    blocks = [
        R.para(funnel_sentence(s)),
        R.table(["Stage", "Leads at or beyond", "Continue to the next stage"], rows,
                 caption="Continuation: leads at or beyond k + 1 / leads at or beyond k"),
        R.para(f"Conversion to opportunity (status 5 / all leads): "
                f"{_k_of_n(conv['n'], conv['n_leads'])} = {T.pct(conv['rate'], digits=2)}; "
                f"with a uniform prior {T.interval(conv['posterior'], _rate)}."),
    ]
    return R.section("funnel", "The funnel", blocks)


def stage34_section(s: Mapping) -> dict:
    pooled = s["stage3_to_4_pooled"]
    rows, levels = [], []
    for ind, v in sorted(s["stage3_to_4_by_industry"].items(),
                         key=lambda kv: -(kv[1]["posterior"] or {}).get("mean", -1)):
        rows.append([ind, T.count(v["n_at_3_or_beyond"]), T.count(v["n_at_4_or_beyond"]),
                     "n/a" if v["observed"] is None else T.pct(v["observed"]),
                     T.interval(v["posterior"], _rate) if v["posterior"] else "n/a",
                     T.prob(v["prob_above_overall"]), v["verdict"]])
        levels.append({"above": "", "below": "warn"}.get(v["verdict"], ""))
    blocks = [R.bullets(pooling_sentences(s)),
              R.para(f"Population mean rate mu {T.interval(pooled['overall'], _rate)}; all "
                      f"leads pooled together {T.pct(pooled['pooled_observed'])}; kappa (how "
                      f"tightly industries cluster around mu, in leads) "
                      f"{T.interval(pooled['kappa'], _ratio)}."),
              R.table(["Industry", "Leads at 3 or beyond", "At 4 or beyond", "Observed",
                        "Pooled rate", "P(above the mean)", "Verdict"], rows,
                       caption="Stage 3 to 4 (leads at 4 or beyond / leads at 3 or beyond), "
                               "hierarchical Beta-Binomial, sorted by pooled rate",
                       row_levels=levels)]
    return R.section("stage34", "Stage 3 to 4 by industry, partially pooled", blocks)


def predictors_section(s: Mapping) -> dict:
    adv = s["advanced_lead_models"]
    ge4, eq5 = adv["status>=4"], adv["status==5"]
    blocks = [R.bullets(predictor_sentences(s)),
              R.para(f"Model: {s['heuristics']['model']}. Trained on "
                      f"{T.count(ge4['n_train'])} leads, measured on {T.count(ge4['n_test'])} "
                      f"held-out leads.", "muted")]
    rows = [[_type(e["name"]), T.interval(e["effect"], _coef), T.interval(
        e["odds_ratio_per_sd"], T.num), T.prob(e["prob_positive"])]
        for e in ge4["summary"]["effects"]]
    blocks.append(R.table(["Interaction", "Log-odds per SD", "Odds ratio per SD",
                            "P(positive association)"], rows,
                           caption="Advanced lead (status 4 or 5): association with each "
                                   "standardized log(1 + count)"))
    loo = ge4.get("loo_gain_from_interactions")
    if loo:
        blocks.append(R.para(
            f"Leave-one-out cross-validation: the interaction counts improve the expected log "
            f"predictive density over industry alone by {T.num(loo['elpd_diff'], digits=1)} "
            f"(SE {T.num(loo['se'], digits=1)})."))
    blocks.append(R.para(
        f"Converted to opportunity (status 5) alone: held-out AUC {_auc(eq5['auc_test']['point'])}"
        f" (95% HDI {T.bounds(eq5['auc_test'], _auc)}), {T.count(eq5['n_positive_test'])} "
        f"converted leads among {T.count(eq5['n_test'])} held out; credibly associated: "
        + (_join([_type(e["name"]) for e in _credible_predictors(eq5)]) or "none") + "."))
    rules = ge4.get("rules") or []
    if rules:
        rrows = [[r["text"], T.count(r["n_flagged"]), T.count(r["true_positives"]),
                  T.interval(r["precision"], _rate), T.interval(r["recall"], _rate),
                  "n/a" if r["lift_over_base_rate"] is None
                  else f"{_ratio(r['lift_over_base_rate'])}x"] for r in rules]
        blocks.append(R.table(["Rule", "Flagged", "Advanced among them", "Precision",
                                "Recall", "Lift over base rate"], rrows,
                               caption="Rules a sales team can use, on the held-out leads "
                                       "(thresholds learned on the training leads)"))
    return R.section("predictors", "What predicts an advanced lead", blocks)


def claims_section(s: Mapping) -> dict:
    cl = s["claims"]
    blocks = [R.bullets([f"{v}: {text}" for v, text in claim_sentences(s)])]
    hier = cl["technical_industries_convert_better"].get("stage3_to_4_hierarchical")
    if hier:
        blocks.append(R.para(
            f"In the pooled model, the mean of the technical industries' stage 3 to 4 rates "
            f"minus the mean of the others' is "
            f"{T.interval(hier['difference_of_mean_industry_rates'], T.pp)}; probability that "
            f"it is positive: {T.prob(hier['prob_technical_better'])}."))
    conv = cl["technical_industries_convert_better"].get("conversion_to_opportunity")
    if conv:
        (kt, nt), (ko, no) = conv["counts"]["technical"], conv["counts"]["non_technical"]
        blocks.append(R.para(
            f"Conversion to opportunity (status 5 / all leads): technical industries "
            f"{T.interval(conv['technical'], _rate)} ({_k_of_n(kt, nt)}), the others "
            f"{T.interval(conv['non_technical'], _rate)} ({_k_of_n(ko, no)})."))
    blocks.append(R.para(
        f"A claim holds when its posterior probability is at least "
        f"{T.pct(CLAIM_HOLDS, digits=0)}, is contradicted at {T.pct(1 - CLAIM_HOLDS, digits=0)} "
        f"or less, and is not supported in between. Group rates have independent uniform "
        f"priors; the forum share of help-seeking is forum views / (forum + docs views), "
        f"with a Bayesian bootstrap over leads.", "muted"))
    return R.section("claims", "The original report's claims, tested", blocks)


def journeys_section(s: Mapping) -> dict:
    rows = [[" > ".join(_type(p) for p in t["path"]), T.count(t["n_leads"])]
            for t in s["top_journeys"]]
    return R.section("journeys", "User journeys", [R.table(
        ["Journey (distinct types by first occurrence)", "Leads"], rows,
        caption="The most common journeys among leads with events")])


def time_section(s: Mapping) -> dict:
    tb = s["time"]
    blocks = []
    if tb.get("window"):
        blocks.append(R.para(f"Events from {str(tb['window'][0])[:16]} to "
                              f"{str(tb['window'][1])[:16]} (UTC)."))
    early = tb.get("early_signal_auc") or {}
    if early:
        names = list(next(iter(early.values())).keys())
        rows = [["all events" if w == "all" else "first day" if w == "1d"
                 else f"first {w[:-1]} days"]
                + [T.interval(row.get(n), _auc) for n in names] for w, row in early.items()]
        blocks.append(R.table(["Window"] + [_type(n) for n in names], rows,
                               caption="AUC of each count over a lead's first days of "
                                       "activity (advanced vs not, leads with events)"))
    first = tb.get("first_occurrence") or {}
    if first:
        rows = [[_type(n), T.pct(v["advanced"]["share_ever"]),
                 T.pct(v["not_advanced"]["share_ever"]),
                 _days(v["advanced"]["median_days_to_first"]),
                 _days(v["not_advanced"]["median_days_to_first"])]
                for n, v in first.items()]
        blocks.append(R.table(["Interaction", "Advanced leads who ever did it",
                                "Other leads", "Median days to first (advanced)",
                                "(others)"], rows))
    return R.section("time", "Time", blocks)


def definitions_section(s: Mapping) -> dict:
    items = []
    for k, v in s["definitions"].items():
        v = ", ".join(v) if isinstance(v, (list, tuple)) else str(v)
        items.append(f"{_words(k)}: {v}")
    return R.section("definitions", "Definitions", [R.bullets(items)])


def diagnostics_section(s: Mapping) -> dict:
    sec = S.diagnostics_section(s.get("diagnostics"))
    cfg = s.get("sampler") or {}
    if cfg:
        keys = ("sampler", "draws", "tune", "chains", "seed", "target_accept")
        sec["blocks"].append(R.para("Sampler: " + "; ".join(
            f"{_words(k)} {T.num(cfg[k], digits=2) if isinstance(cfg[k], float) else cfg[k]}"
            for k in keys if k in cfg) + ".", "muted"))
    return sec


def build_funnel_document(results) -> dict:
    """The funnel report as a document of banners and sections (no figures)."""
    s = results.summary
    banners = []
    diag_banner = S.diagnostics_banner(s.get("diagnostics"))
    if diag_banner:
        banners.append(diag_banner)
    sections = [findings_section(s), reproduction_section(results), funnel_detail_section(s),
                stage34_section(s), predictors_section(s), claims_section(s),
                journeys_section(s), time_section(s),
                S.data_quality_section(s.get("data_quality")), definitions_section(s),
                diagnostics_section(s),
                R.section("glossary", "Glossary", [{"kind": "glossary",
                                                     "items": list(GLOSSARY)}])]
    subtitle = (f"{T.count(s['n_leads'])} leads, {T.count(s['n_leads_with_events'])} with "
                f"events; {T.count(s['n_events_distinct'])} distinct events of "
                f"{T.count(s['n_events_raw'])} rows")
    return {"title": TITLE, "subtitle": subtitle, "banners": banners, "sections": sections}


def _caption_figures(blocks: list[dict]) -> None:
    for b in blocks:
        if b.get("kind") == "figure" and b["name"] in FIGURES:
            b["caption"] = FIGURES[b["name"]][1]
        elif b.get("kind") == "details":
            _caption_figures(b["blocks"])


def write_report(results, out_dir: Path) -> tuple[Path, Path]:
    """Figures, then ``funnel_report.html`` and ``funnel_report.md``. Returns both paths."""
    out_dir = Path(out_dir)
    figs = save_figures(funnel_figures(results), out_dir / "figures", dpi=FUNNEL_DPI)
    doc = build_funnel_document(results)
    doc = R.attach_figures(doc, figs, out_dir,
                            section_of=lambda name: FIGURES.get(name, ("appendix", ""))[0])
    for section in doc["sections"]:
        _caption_figures(section["blocks"])
    return R.render_document(doc, out_dir=out_dir, stem=REPORT_STEM)


def industry_rate_table(summary: dict) -> pd.DataFrame:
    """Observed and pooled stage 3 -> 4 rates per industry (for the forest plot)."""
    rows = []
    for ind, v in summary["stage3_to_4_by_industry"].items():
        if v["posterior"] is None:
            continue
        rows.append({"industry": ind, "observed": v["observed"], "n": v["n_at_3_or_beyond"],
                     "mean": v["posterior"]["mean"], "lower": v["posterior"]["lower"],
                     "upper": v["posterior"]["upper"], "verdict": v["verdict"]})
    return pd.DataFrame(rows).sort_values("mean").reset_index(drop=True) if rows else \
        pd.DataFrame(columns=["industry", "observed", "n", "mean", "lower", "upper", "verdict"])
