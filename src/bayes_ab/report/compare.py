"""The report of `bayes-ab compare` (any plain A/B export): ``build_compare_document`` turns
compare.json into a document, ``render_compare_report`` writes report.html and report.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from bayes_ab.report import common as C
from bayes_ab.report import text as T
from bayes_ab.report.sections import (
    DIAGNOSTICS_TITLE,
    arm_comparison_blocks,
    diagnostics_banner,
    diagnostics_section,
    recommendation_section,
    segment_blocks,
)

__all__ = ["build_compare_document", "render_compare_report"]

def _compare_srm_lines(srm: Mapping) -> list[str]:
    observed = srm.get("observed") or {}
    exp = srm.get("expected_shares") or {}
    obs_sh = srm.get("observed_shares") or {}
    parts = [f"{arm} {T.count(n)} ({T.pct(obs_sh.get(arm), digits=2)}; design "
             f"{T.pct(exp.get(arm), digits=2)})" for arm, n in observed.items()]
    verdict = ("Sample-ratio mismatch: the arm sizes do not match the design"
               if srm.get("mismatch") else "No sample-ratio mismatch")
    line = (f"{verdict}: {'; '.join(parts)}; chi-square {T.p_equals(srm.get('p_value'))} "
            f"(flagged below {T.num(srm.get('alpha'))}).")
    if srm.get("mismatch"):
        line += (" The assignment or the logging is broken somewhere, and every comparison "
                 "below may be biased: find the cause before acting on these results.")
    return [line]


def _compare_glossary(compare: Mapping) -> dict:
    """Only the terms this compare report uses (no hazard ratios, compliers or priors
    that `compare` never shows)."""
    keep = {"Posterior", "95% HDI (highest-density interval)", "Lift", "Expected loss",
            "Threshold of caring", "p-value", "95% confidence interval"}
    mean_kind = compare.get("metric_kind") == "mean"
    if mean_kind:
        keep -= {"Lift", "Expected loss"}
    items = [(k, v) for k, v in T.GLOSSARY if k in keep]
    what = "mean" if mean_kind else "rate"
    items.insert(2, ("Probability that an arm is better", f"The share of the posterior in which "
                     f"the arm's {what} is above control's. 50% means no idea; values near 100% "
                     f"(or 0%) mean a clear winner."))
    if mean_kind:
        items += [("Difference of means", "The arm's mean minus control's, in the outcome's "
                   "own units; the relative difference divides it by control's mean."),
                  ("Expected loss", "For each action, how much of the outcome (in its units) "
                   "we would give up on average: E[max(0, Control - Test)] for shipping, "
                   "E[max(0, Test - Control)] for keeping control. It weighs how likely a "
                   "mistake is by how bad it would be."),
                  ("Bayesian bootstrap", "The posterior of a mean that assumes no shape for "
                   "the outcome's distribution: random Dirichlet weights on the observed rows. "
                   "A heavy tail widens and skews the posterior instead of being ignored."),
                  ("Welch's t-test", "The frequentist test of equal means that does not assume "
                   "equal variances in the arms.")]
    if len(compare.get("prob_best") or {}) > 2:
        items += [("P(best)", "The probability that an arm has the highest rate of all arms, "
                   "control included."),
                  ("Loss of choosing an arm", "E[best rate of all arms - this arm's rate]: how "
                   "much of the outcome we expect to give up, averaged over the posterior, by "
                   "choosing this arm rather than the (unknown) best one. The decision takes "
                   "the arm with the smallest loss when it is under the threshold of caring.")]
    items.append(("Holm adjustment", "A correction of the p-values for testing several "
                  "comparisons at once (every arm against control, on every metric of the "
                  "run), so that the chance of any false alarm stays at 5%."))
    items.append(("Sample-ratio mismatch (SRM)", "A check that each arm's share of the rows "
                  "matches the design (--split; equal shares unless given). A mismatch points "
                  "to a broken assignment or lost data and undermines every result."))
    dec = compare.get("decision") or {}
    arm_decisions = [b.get("decision") or {} for b in (compare.get("arms") or {}).values()
                     if isinstance(b, Mapping)]
    if dec.get("rope") or any(d.get("rope") for d in arm_decisions):
        items.append(("ROPE (region of practical equivalence)", "Differences smaller than "
                      "this half-width do not matter; when 95% of the posterior of the "
                      "difference lies inside it, testing longer cannot change the choice in a "
                      "way that matters."))
    if dec.get("non_inferiority") or any(d.get("non_inferiority") for d in arm_decisions):
        items.append(("Non-inferiority margin", "An arm may ship when it is, with 95% "
                      "probability, not worse than control by more than this margin (e.g. a "
                      "cheaper variant)."))
    if compare.get("ratio_metric"):
        items += [(k, v) for k, v in T.GLOSSARY if k.startswith("Ratio metric")]
    if compare.get("segments"):
        items += [(k, v) for k, v in T.GLOSSARY if k == "Partial pooling"]
    if (compare.get("diagnostics") or {}).get("sampled", True):
        items += [(k, v) for k, v in T.GLOSSARY if k.startswith("r-hat")]
    return C.section("glossary", "Glossary", [{"kind": "glossary", "items": items}])


def _unit_fmt(signed: bool = False):
    return lambda v: T.NOT_ESTIMATED if not isinstance(v, (int, float)) else (
        f"{v:+.4g}" if signed else f"{v:.4g}")


def _compare_mean_recommendation(dec: Mapping, *, control: str, metric: str) -> dict:
    test = str(dec.get("arm") or "Test")
    rec = dec.get("recommendation")
    level = {"double_down": "good", "pivot": "bad", "keep_testing": "neutral"}.get(rec, "neutral")
    loss = dec.get("expected_loss") or {}
    f = _unit_fmt()
    lines = [str(dec.get("reason") or "")]
    if not str(dec.get("rule", "")).startswith("k arms"):
        wrong = dec.get("expected_loss_if_wrong") or {}
        p_wrong = dec.get("prob_wrong") or {}

        def given_wrong(key: str, who: str) -> str:
            if not (isinstance(p_wrong.get(key), (int, float))
                    and isinstance(wrong.get(key), (int, float))):
                return ""
            return (f" {test} is {who} with probability {T.prob_1dp(p_wrong[key])}, and if "
                    f"it is, by {f(wrong[key])} on average.")

        lines = [
            f"Judged on the mean of {metric} (in its own units): doubling down has an "
            f"expected loss of {f(loss.get('double_down'))}, averaged over the whole posterior "
            f"and counting zero where {test} is in fact at least as good (E[max(0, {control} "
            f"- {test})]).{given_wrong('double_down', 'worse')} Pivoting has an expected loss "
            f"of {f(loss.get('pivot'))} (E[max(0, {test} - {control})])."
            f"{given_wrong('pivot', 'better')} The threshold of caring is "
            f"{f(dec.get('threshold_of_caring'))} ({dec.get('threshold_source', 'given')}).",
            "Expected loss = the probability of being wrong times the average shortfall when "
            "wrong; it is not the loss if the action is wrong.",
            f"The probability that {test}'s mean {metric} is higher than {control}'s is "
            f"{T.prob(dec.get('prob_test_better'))}.", str(dec.get("reason") or "")]
    lines += T.decision_extras(dec)
    blocks = [C.callout(level, T.recommendation_headline(dec, test=test, control=control),
                       [line for line in lines if line])]
    return C.section("recommendation", "Recommendation", blocks)


def _compare_mean_arm_blocks(block: Mapping | None, *, metric: str, control: str, test: str,
                             family: str | None) -> list[dict]:
    if not block:
        return [C.para(f"The mean of {metric} was {T.NOT_ESTIMATED}.")]
    f, fs = _unit_fmt(), _unit_fmt(signed=True)
    counts = block.get("counts") or {}
    blocks = [C.para(f"There is a {T.prob(block.get('prob_test_better'))} probability that "
                    f"{test}'s mean {metric} is higher than {control}'s.", "lead")]
    rows = []
    for name in (control, test):
        c = counts.get(name) or {}
        key = "control" if name == control else "test"
        rows.append([name, T.count(c.get("n")), f(c.get("mean")), f(c.get("median")),
                     f(c.get("max")), T.interval(block.get(key), f)])
    rows.append([f"Difference ({test} - {control})", "", fs(C.get_in(block, "lift_abs", "mean")),
                 "", "", T.interval(block.get("lift_abs"), fs)])
    rows.append(["Relative difference", "", T.rel(C.get_in(block, "lift_rel", "mean")), "", "",
                 T.interval(block.get("lift_rel"), T.rel)])
    blocks.append(C.table(["", "Rows", "Mean", "Median", "Max", "Posterior mean (95% HDI)"],
                         rows, caption=f"Mean of {metric}: Bayesian bootstrap posterior"))
    freq = block.get("frequentist") or {}
    fam = f" across {family}" if family else ""
    adj = block.get("adjustment")
    if isinstance(adj, Mapping):
        un = adj.get("unadjusted_lift_abs") or {}
        vr = adj.get("variance_reduction")
        blocks.insert(1, C.para(
            f"CUPED adjustment by '{adj.get('covariate')}' (a pre-period value of the unit): "
            f"each outcome y becomes y - theta (x - mean x), theta = {T.num(adj.get('theta'))} "
            f"(the pooled within-arm regression slope), so the difference above is the "
            f"adjusted one, equal to the arm coefficient of OLS {metric} ~ arm + "
            f"{adj.get('covariate')}. It reduced the variance of the difference by "
            + (f"{100 * vr:.1f}%" if isinstance(vr, (int, float)) else T.NOT_ESTIMATED)
            + ". Unadjusted difference: "
            + (T.interval(un, fs) if "lower" in un else fs(un.get("mean"))) + "."
            " Means and medians in the table are of the unadjusted outcome; the posterior "
            "column is of the adjusted one."))
        rows_f = [["Test", "OLS with the centred covariate, HC2 robust standard errors"],
                  ["z, standard error", f"{T.num(freq.get('statistic'))}, "
                                        f"{T.num(freq.get('se'))}"]]
    else:
        rows_f = [["Test", "Welch's t-test (unequal variances)"],
                  ["t, degrees of freedom", f"{T.num(freq.get('statistic'))}, "
                                            f"{T.num(freq.get('df'))}"]]
    blocks.append(C.table(["Frequentist cross-check", ""], rows_f + [
        ["Difference, 95% confidence interval", T.interval(freq.get("ci95_diff"), fs, kind="CI")],
        ["p-value", T.p_value(freq.get("p_value"))],
        [f"p-value, Holm-adjusted{fam}", T.p_value(freq.get("p_value_holm"))],
        ["Significant at 95% confidence", T.yes_no(freq.get("significant_95"))]]))
    return blocks


def _compare_guardrail_section(compare: Mapping, *, control: str) -> dict | None:
    metrics = compare.get("metrics") or {}
    guards = {k: m for k, m in metrics.items() if isinstance(m, Mapping) and m.get("guardrail")}
    if not guards:
        return None
    rows, levels = [], []
    for name, m in guards.items():
        g = m["guardrail"]
        mean = m.get("kind") in ("mean", "ratio")
        fmt = _unit_fmt(signed=True) if mean else T.pp
        margin_fmt = _unit_fmt() if mean else (lambda v: T.pp(v, signed=False))
        for arm, b in (m.get("arms") or {}).items():
            if not isinstance(b, Mapping):
                continue
            shipped = arm == g.get("arm")
            freq = b.get("frequentist") or {}
            rows.append([str(name), "cost (lower is better)" if g.get("lower_is_better")
                         else "higher is better", str(arm), T.interval(b.get("lift_abs"), fmt),
                         f"{T.p_value(freq.get('p_value_holm'))}",
                         (f"{T.prob(g.get('prob_worse_than_margin'))} (margin "
                          f"{margin_fmt(g.get('margin'))})"
                          if shipped else "-"),
                         ("yes" if g.get("blocks_ship") else "no") if shipped else "-"])
            levels.append("bad" if shipped and g.get("blocks_ship") else "")
    blocks = [C.para("Guardrails are outcomes the decision must not harm. The one that would be "
                    "shipped is checked against control: a guardrail blocks shipping when the "
                    "probability that it is worse by more than its margin is at least 95%. "
                    "Holm's adjustment runs across every outcome x arm of the run.", "muted"),
              C.table(["Guardrail", "Direction", "Arm", f"Difference (arm - {control}), 95% HDI",
                      "p (Holm)", "P(worse by more than the margin)", "Blocks shipping"],
                     rows, row_levels=levels)]
    return C.section("guardrails", "Guardrails", blocks)


def build_compare_document(compare: Mapping, *, title: str | None = None) -> dict:
    """The report of `bayes-ab compare`: one arm comparison per non-control arm."""
    control = str(compare.get("control", "control"))
    inp = compare.get("input") or {}
    metric = str(inp.get("outcome_col") or "outcome")
    arms = compare.get("arms") or {}
    banners = []
    srm = compare.get("srm")
    if isinstance(srm, Mapping) and srm.get("mismatch"):
        banners.append({"level": "danger", "title": "Sample-ratio mismatch",
                        "lines": _compare_srm_lines(srm)})
    found = [f for f in (compare.get("findings") or [])
             if isinstance(f, Mapping) and f.get("severity") == "warning"]
    if found:
        banners.append({"level": "warning", "title": "What was found in the rows",
                        "lines": [str(f.get("message")) for f in found]})
    diag = compare.get("diagnostics")
    diag_banner = diagnostics_banner(diag)
    if diag_banner:
        banners.append(diag_banner)
    sections = []
    decision = compare.get("decision")
    mean_kind = compare.get("metric_kind") == "mean"
    if decision and mean_kind:
        sections.append(_compare_mean_recommendation(decision, control=control, metric=metric))
    elif decision:
        dec = dict(decision)
        dec.setdefault("metric", metric)
        dec.setdefault("control", control)
        rec = recommendation_section({"decision": dec})
        if dec.get("rule", "").startswith("k arms") and dec.get("reason"):
            lines = [line for line in rec["blocks"][0]["lines"] if line != dec["reason"]]
            if lines:
                lines[0] = f"{dec.get('arm')} against {control} alone: " + lines[0]
            rec["blocks"][0]["lines"] = [str(dec["reason"])] + lines
            # The table of the two actions against control alone would read as the k-arm
            # choice: the P(best) / loss-of-choosing table below replaces it.
            rec["blocks"] = rec["blocks"][:1]
        sections.append(rec)
    if sections and isinstance(decision, Mapping) and decision.get("outcome") == \
            "guardrail_blocked":
        sections[0]["blocks"][0]["lines"].insert(0, str(decision.get("reason")))
        banners.append({"level": "danger", "title": "A guardrail blocks shipping",
                        "lines": [str(decision.get("reason"))]})
    pbest = compare.get("prob_best") or {}
    loss = compare.get("loss_of_choosing") or {}
    if sections and len(pbest) > 2:
        rows = [[str(a), T.prob(p), _unit_fmt()(loss.get(a)) if mean_kind
                 else T.pp(loss.get(a), signed=False)] for a, p in pbest.items()]
        sections[0]["blocks"].append(C.table(
            ["Arm", "P(best of all arms)", "Loss of choosing it"], rows,
            caption="Every arm, control included: the probability that it is the best, and the "
                    "expected loss of choosing it against the best of all (exact)"))
    if sections and isinstance(srm, Mapping) and not srm.get("mismatch"):
        sections[0]["blocks"].append(C.para(" ".join(_compare_srm_lines(srm)),
                                           "" if srm.get("mismatch") else "muted"))
    input_lines = []
    if inp.get("file"):
        input_lines.append(f"File: {inp['file']}.")
    if inp.get("group_col"):
        input_lines.append(f"Groups from column '{inp['group_col']}', outcome from column "
                           f"'{inp.get('outcome_col')}'.")
    if inp.get("control_note"):
        input_lines.append(str(inp["control_note"]))
    n_rows = inp.get("n_rows")
    units = inp.get("units")
    if isinstance(units, Mapping):
        input_lines.append(
            f"Units from column '{units.get('unit_col')}': {T.count(units.get('n_units'))} "
            f"units in {T.count(units.get('n_rows'))} rows; "
            f"{T.count(units.get('duplicate_rows_dropped'))} repeated rows dropped and "
            f"{T.count(units.get('units_in_several_arms'))} units seen in several arms "
            f"excluded ({T.count(units.get('rows_of_units_in_several_arms'))} rows). Rule: "
            f"{units.get('rule')}.")
    if n_rows is not None:
        input_lines.append(f"{T.count(n_rows)} rows analysed.")
    method = compare.get("method") or {}
    if method.get("frequentist"):
        input_lines.append(f"Frequentist: {method['frequentist']}.")
    if method.get("bayesian"):
        input_lines.append(f"Bayesian: {method['bayesian']}.")
    looks = inp.get("looks")
    if sections and isinstance(looks, Mapping):
        sections[0]["blocks"].append(C.para(
            f"{looks.get('note')} Command: {looks.get('monitor_command')} "
            f"({looks.get('monitor_note')}).", "muted"))
    if input_lines:
        sections.append(C.section("input", "Data", [C.para(" ".join(input_lines))]))
    family = next(((b.get("frequentist") or {}).get("family_size") for b in arms.values()
                   if isinstance(b, Mapping)), None) or len(arms) or None
    for arm, block in arms.items():
        fam_text = (None if family == 1 else f"{family} comparisons (every arm against {control}"
                    f"{', on every metric' if compare.get('ratio_metric') else ''})")
        if mean_kind:
            sections.append(C.section(f"arm_{re.sub(r'[^A-Za-z0-9_-]', '_', str(arm))}",
                                     f"{arm} vs {control}", _compare_mean_arm_blocks(
                                         block, metric=metric, control=control, test=str(arm),
                                         family=fam_text)))
            continue
        blocks = arm_comparison_blocks(block, metric=metric, control=control, test=str(arm),
                                        family=fam_text)
        if block:
            blocks.append(C.para("Bayesian and frequentist answers: " + T.agreement_sentence(
                block, metric=metric, test=str(arm), control=control)))
        sections.append(C.section(f"arm_{re.sub(r'[^A-Za-z0-9_-]', '_', str(arm))}",
                                 f"{arm} vs {control}", blocks))
    decisions = {arm: b["decision"] for arm, b in arms.items()
                 if isinstance(b, Mapping) and isinstance(b.get("decision"), Mapping)}
    if len(decisions) > 1:
        lf = _unit_fmt() if mean_kind else (lambda v: T.pp(v, signed=False))
        rows = [[str(arm), T.ACTIONS.get(d.get("recommendation"), ("?",))[0],
                 lf(C.get_in(d, "expected_loss", "double_down")),
                 lf(C.get_in(d, "expected_loss_if_wrong", "double_down")),
                 lf(C.get_in(d, "expected_loss", "pivot")),
                 T.prob(d.get("prob_test_better"))] for arm, d in decisions.items()]
        sections[0]["blocks"].append(C.table(
            ["Arm", "Decision against control", "Expected loss of shipping",
             "Loss if shipping is wrong", "Expected loss of dropping",
             "P(better than control)"], rows,
            caption="Each arm against control alone; expected loss averaged over the "
                    "posterior (zero where the action is right) = P(wrong) x loss if wrong"))
    guard = _compare_guardrail_section(compare, control=control)
    if guard:
        sections.append(guard)
    sections += _compare_extra_sections(compare, control=control, metric=metric)
    sections.append(C.section("figures", "Posterior figures", []))
    if isinstance(diag, Mapping) and diag.get("sampled") is False:
        sections.append(C.section("diagnostics", DIAGNOSTICS_TITLE, [C.para(
            f"No sampler was needed ({diag.get('note') or 'exact posteriors'}), so there are no "
            f"sampler health checks to report.", "muted")]))
    else:
        sections.append(diagnostics_section(diag))
    sections.append(_compare_glossary(compare))
    return {"title": title or f"A/B comparison of {metric}: each arm against {control}",
            "subtitle": f"{len(arms) + 1} arms", "banners": banners, "sections": sections}


def _compare_ratio_section(ratios: Mapping, *, control: str) -> dict:
    first = next((b for b in ratios.values() if b), None) or {}
    name = str(first.get("metric") or "ratio")
    info = T.ratio_info(name, higher_is_better=first.get("higher_is_better"))
    blocks = [C.para(f"{info['label']}: sum of the numerator over sum of the denominator per arm, "
                    f"the row (customer) as the unit; {info['better']}. Bayesian posterior of "
                    f"the ratio of means beside the delta-method test.", "muted")]
    rows, levels, sentences = [], [], []
    for arm, block in ratios.items():
        if not block:
            sentences.append(f"{arm} vs {control}: {T.NOT_ESTIMATED}.")
            continue
        fmt = T.ratio_formatter(C.get_in(block, "control", "mean"))
        diff = T.ratio_formatter(C.get_in(block, "control", "mean"), signed=True)
        freq = block.get("frequentist") or {}
        lift = block.get("lift_abs")
        rows.append([str(arm), fmt(C.get_in(block, "control", "mean")), fmt(C.get_in(block, "test", "mean")),
                     f"{T.interval(lift, diff)}; {T.rel(C.get_in(block, 'lift_rel', 'mean'))}",
                     f"{T.interval(freq.get('ci95_diff'), diff, kind='CI')}, "
                     f"{T.p_equals(freq.get('p_value'))}"
                     + (f" (Holm {T.p_value(freq['p_value_holm'])})"
                        if freq.get("p_value_holm") is not None else ""),
                     T.prob(block.get("prob_test_better"))])
        higher = block.get("higher_is_better") is not False
        worse = T.excludes(lift) and (lift["mean"] > 0) != higher
        levels.append("warn" if worse else "")
        rec = C.get_in(block, "decision", "recommendation")
        sentence = T.ratio_sentence(block, name=name, test=str(arm), control=control)
        if rec in T.ACTIONS:
            sentence += f" On this metric alone: {T.ACTIONS[rec][0].lower()}."
        sentences.append(sentence)
    blocks.append(C.bullets(sentences))
    if rows:
        blocks.append(C.table(["Arm", control, "Arm's value", "Difference (arm - control); "
                              "relative", "Delta-method test", "P(arm better)"], rows,
                             row_levels=levels, caption=f"{info['label']}, each arm against "
                                                        f"{control}"))
    return C.section("ratio_metric", f"Ratio metric: {info['label']}", blocks)


def _compare_segments_section(segs: Mapping, *, control: str, metric: str) -> dict:
    noun = T.metric_info(metric)["label"]
    column = next((str(b.get("column")) for b in segs.values() if b and b.get("column")),
                  "segment")
    blocks = [C.para(f"Does the lift differ between groups of rows (by {T.column_words(column)})? "
                    + T.POOLING_WHY, "muted")]
    for arm, block in segs.items():
        if not block:
            blocks.append(C.para(f"{arm} vs {control} by segment: {T.NOT_ESTIMATED}."))
            continue
        blocks.extend(segment_blocks(block, test=str(arm), control=control, noun=noun,
                                      title=f"{arm} vs {control}, by "
                                            f"{T.column_words(column)}"))
    return C.section("segments", f"Segments by {T.column_words(column)}", blocks)


def _prior_history_section(ph: Mapping, *, control: str) -> dict:
    rel = ph.get("scale") == "rel"
    fmt = T.rel if rel else T.pp
    unit = "relative lift" if rel else "lift"
    pred = ph.get("predictive_prior")
    lines = [f"From {T.count(ph.get('n_experiments'))} past experiments"
             f"{' (' + str(ph['source']) + ')' if ph.get('source') else ''}, the {unit} of a new "
             f"experiment is expected around {T.interval(pred, fmt, kind='interval')}; the "
             f"typical {unit} across experiments is {T.interval(ph.get('mu'), fmt)}, and "
             f"experiments differ from it by about "
             f"{fmt(C.get_in(ph, 'tau', 'mean')).lstrip('+')} (between-experiment spread, 95% HDI "
             f"up to {fmt(C.get_in(ph, 'tau', 'upper')).lstrip('+')})."]
    blocks = [C.callout("neutral", "What past experiments say", lines)]
    rows, sentences = [], []
    for arm, a in (ph.get("arms") or {}).items():
        if not a:
            continue
        rows.append([str(arm), T.interval(a.get("raw"), fmt, kind="interval"),
                     T.interval(a.get("shrunk"), fmt), T.pct(a.get("shrinkage"), digits=0),
                     T.num(a.get("width_ratio")),
                     f"{T.prob(a.get('prob_positive_raw'))} / "
                     f"{T.prob(a.get('prob_positive_shrunk'))}"])
        sentences.append(
            f"{arm} vs {control}: today's {unit} of {fmt(C.get_in(a, 'raw', 'mean'))} moves "
            f"{T.pct(a.get('shrinkage'), digits=0)} of the way toward the past experiments' "
            f"{fmt(a.get('prior_mean'))}, to {T.interval(a.get('shrunk'), fmt)}; its interval "
            f"is {T.num(a.get('width_ratio'))} times as wide.")
    if sentences:
        blocks.append(C.bullets(sentences))
    if rows:
        blocks.append(C.table(["Arm", f"Today alone ({unit}, 95% interval)",
                              "With the prior from history", "Shrinkage", "Width ratio",
                              "P(lift > 0), today / with prior"], rows))
    note = ph.get("note") or ("Extra view: the main analysis above keeps its own priors.")
    method = (f" Model: hierarchical normal, {ph['method']}; hyperpriors mu ~ "
              f"{C.get_in(ph, 'priors', 'mu', default='?')}, tau ~ "
              f"{C.get_in(ph, 'priors', 'tau', default='?')}." if ph.get("method") else "")
    blocks.append(C.para(str(note) + method, "muted"))
    return C.section("prior_from_history", "Prior from past experiments", blocks)


def _compare_extra_sections(compare: Mapping, *, control: str, metric: str) -> list[dict]:
    """Optional compare.json blocks (--ratio, --segment-col, --prior-from)."""
    out = []
    if isinstance(compare.get("ratio_metric"), Mapping) and compare["ratio_metric"]:
        out.append(_compare_ratio_section(compare["ratio_metric"], control=control))
    if isinstance(compare.get("segments"), Mapping) and compare["segments"]:
        out.append(_compare_segments_section(compare["segments"], control=control,
                                             metric=metric))
    if isinstance(compare.get("prior_from_history"), Mapping):
        out.append(_prior_history_section(compare["prior_from_history"], control=control))
    return out


def render_compare_report(compare: Mapping, *, figures: Mapping[str, Path] | None = None,
                          out_dir: Path, title: str | None = None) -> tuple[Path, Path]:
    """Write the report of `bayes-ab compare` (HTML and Markdown). Figures of unknown
    sections go to the appendix, sampler trace/rank plots to the diagnostics section."""
    out_dir = Path(out_dir)
    doc = build_compare_document(compare, title=title)
    doc = C.attach_figures(doc, figures, out_dir, section_of=lambda name: (
        "diagnostics" if name.endswith(C.DIAGNOSTIC_SUFFIXES) else "figures"))
    doc["sections"] = [s for s in doc["sections"] if s["blocks"]]
    return C.render_document(doc, out_dir=out_dir)
