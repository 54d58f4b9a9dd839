"""Report sections shared by the analyze, compare and funnel reports: the recommendation
(expected loss of each action), one arm comparison (Bayesian estimate and frequentist
cross-check), segment tables, sampler diagnostics and data quality.

Missing optional blocks (``None`` or absent keys) render as "not estimated".
"""

from __future__ import annotations

from collections.abc import Mapping

from bayes_ab.constants import MAX_DIVERGENCES, MAX_R_HAT, MIN_ESS_BULK
from bayes_ab.models.arm_comparison import ArmComparisonResult
from bayes_ab.report import common as C
from bayes_ab.report import text as T
from bayes_ab.results import Interval

#: Sampler health is for the analyst, not the decision-maker: an appendix near the end
#: (a failed check still raises a banner above the recommendation).
DIAGNOSTICS_TITLE = "Appendix: sampler diagnostics"
#: Longer tables of secondary detail are collapsed under <details>.
OPEN_TABLE_ROWS = 5


# ------------------------------------------------------------------------- sections


def arm_names(block: Mapping | None) -> tuple[str, str]:
    arms = C.get_in(block, "arms") or {}
    return str(arms.get("control", "Control")), str(arms.get("test", "Test"))


def recommendation_section(results: Mapping) -> dict:
    decision = results.get("decision")
    metric = C.get_in(decision, "metric", default="conversion")
    control, test = arm_names(results.get(metric) if isinstance(metric, str) else None)
    if isinstance(decision, Mapping) and decision.get("arm"):
        test = str(decision["arm"])
    if isinstance(decision, Mapping) and decision.get("control"):
        control = str(decision["control"])
    rec = C.get_in(decision, "recommendation")
    level = {"double_down": "good", "pivot": "bad", "keep_testing": "neutral"}.get(rec, "neutral")
    lines = T.expected_loss_sentences(decision, test=test, control=control)
    if not lines:
        lines = ["The decision analysis was not run, so no expected losses are available."]
    lines += T.decision_extras(decision, test=test)
    blocks = [C.callout(level, T.recommendation_headline(decision, test=test, control=control),
                       lines)]
    loss = C.get_in(decision, "expected_loss") or {}
    if loss:
        thr = C.get_in(decision, "threshold_of_caring")
        p_wrong = C.get_in(decision, "prob_wrong") or {}
        if_wrong = C.get_in(decision, "expected_loss_if_wrong") or {}
        rows = []
        for key in ("double_down", "pivot"):
            value = loss.get(key)
            safe = (T.yes_no(value < thr) if isinstance(value, (int, float))
                    and isinstance(thr, (int, float)) else T.NOT_ESTIMATED)
            rows.append([T.ACTIONS[key][0], T.pp(value, signed=False), T.pp(thr, signed=False),
                         safe, T.prob_1dp(p_wrong.get(key)),
                         T.pp(if_wrong.get(key), signed=False)])
        blocks.append(C.table(["Action", "Expected loss", "Threshold of caring", "Below threshold",
                              "P(action is wrong)", "Loss if wrong"],
                             rows, caption=f"Expected loss of each action (averaged over the "
                                           f"posterior, zero where the action is right), in "
                                           f"percentage points of "
                                           f"{T.metric_info(metric)['noun']}; loss if wrong = "
                                           f"expected loss / P(action is wrong)"))
    return C.section("recommendation", "Recommendation", blocks)


def arm_comparison_blocks(block: Mapping | None, *, metric: str, control: str | None = None,
                           test: str | None = None, family: str | None = None) -> list[dict]:
    info = T.metric_info(metric)
    blocks = [C.para(f"Definition: {info['definition']}. Denominator: {info['denominator']}.",
                    "muted")]
    if not block:
        blocks.append(C.para(f"{info['label']} was {T.NOT_ESTIMATED}."))
        return blocks
    # analyze's results.json and compare.json write an arm comparison the same way: read it
    # as the typed result either way.
    if not isinstance(block, ArmComparisonResult):
        block = ArmComparisonResult.from_dict(block)
    c_name, t_name = arm_names(block)
    control, test = control or c_name, test or t_name
    blocks.append(C.para(T.probability_sentence(block.prob_test_better, metric=metric,
                                               test=test, control=control), "lead"))
    counts = block.counts or {}

    def observed(arm: str) -> str:
        c = counts.get(arm)
        if not c:
            return T.NOT_ESTIMATED
        return f"{T.count(c.successes)} of {T.count(c.trials)}"

    def mean(iv: Interval | None) -> float | None:
        return getattr(iv, "mean", None)

    rows = [
        [control, observed(control), T.pct(mean(block.control)), T.bounds(block.control)],
        [test, observed(test), T.pct(mean(block.test)), T.bounds(block.test)],
        [f"Lift, absolute ({test} - {control})", "", T.pp(mean(block.lift_abs)),
         T.bounds(block.lift_abs, T.pp)],
        ["Lift, relative", "", T.rel(mean(block.lift_rel)), T.bounds(block.lift_rel, T.rel)],
    ]
    blocks.append(C.table(["", "Observed", "Posterior mean", "95% HDI"], rows,
                         caption=f"Bayesian estimate of the {info['noun']}"))
    freq = block.frequentist
    if freq:
        fam = f" across {family}" if family else ""
        rows = [
            ["Test", str(freq.get("test") or T.NOT_ESTIMATED)],
            ["Difference, 95% confidence interval",
             T.interval(freq.get("ci95_diff"), T.pp, kind="CI")],
            ["p-value", T.p_value(freq.get("p_value"))],
            [f"p-value, Holm-adjusted{fam}", T.p_value(freq.get("p_value_holm"))],
            ["Significant at 95% confidence", T.yes_no(freq.get("significant_95"))],
        ]
        blocks.append(C.table(["Frequentist cross-check", ""], rows))
    else:
        blocks.append(C.para(f"Frequentist cross-check: {T.NOT_ESTIMATED}."))
    return blocks


def _segment_table(block: Mapping, *, test: str = "Test", control: str = "Control",
                   noun: str = "Conversion") -> dict:
    srm = C.get_in(block, "srm", "per_segment") or {}
    rows, levels = [], []
    for name, seg in (block.get("segments") or {}).items():
        seg = seg or {}
        freq = seg.get("frequentist") or {}
        split = srm.get(name) or {}
        share = T.pct(split.get("observed_test_share")) if split else T.NOT_ESTIMATED
        if split.get("mismatch"):
            share += f", mismatch ({T.p_equals(split.get('p_value_holm'))})"
        rows.append([
            str(name),
            f"{T.count(seg.get('n_control'))} / {T.count(seg.get('n_test'))}",
            T.pp(C.get_in(seg, "lift_abs", "mean")),
            T.bounds(seg.get("lift_abs"), T.pp),
            T.prob(seg.get("prob_lift_positive")),
            T.yes_no(seg.get("differs_from_overall")),
            T.p_value(freq.get("p_value_holm")),
            share,
        ])
        bad = bool(seg.get("differs_from_overall")) or bool(split.get("mismatch"))
        levels.append("warn" if bad else "")
    column = T.column_words(block.get("column") or "segment")
    return C.table(["Segment", f"{control} / {test}", "Lift", "95% HDI", "P(lift > 0)",
                   "Differs from overall", "Raw p (Holm)", f"{test} share"], rows,
                  row_levels=levels,
                  caption=f"{noun} lift ({test} - {control}) by {column}, partially pooled")


def segment_blocks(block: Mapping, *, test: str = "Test", control: str = "Control",
                    noun: str = "Conversion", title: str | None = None) -> list[dict]:
    column = block.get("column") or "segment"
    overall = C.get_in(block, "overall", "lift_abs")
    flagged = bool(block.get("flagged"))
    srm_flagged = bool(C.get_in(block, "srm", "flagged"))
    lines = [T.segment_verdict(block, test=test),
             f"Overall lift across the {T.count(block.get('n_segments'))} segments: "
             f"{T.interval(overall, T.pp)}.",
             T.segment_srm_sentence(block.get("srm"), test=test)]
    level = "bad" if srm_flagged else "neutral" if flagged else "good"
    out = [C.callout(level, title or f"By {T.column_words(column)}", lines),
           _segment_table(block, test=test, control=control, noun=noun)]
    if block.get("method") or block.get("flag_rule"):
        out.append(C.para(f"Model: {block.get('method') or T.NOT_ESTIMATED}. A segment is flagged "
                         f"when {block.get('flag_rule') or 'its lift departs from the overall'}."
                         f" The raw p-value is one two-proportion test per segment, Holm-"
                         f"adjusted across segments.", "muted"))
    return out


def failing_models(diag: Mapping | None) -> list[tuple[str, list[str]]]:
    """(model, problems) for each model that failed the gates (read, not recomputed)."""
    out = []
    for name, d in (C.get_in(diag, "per_model") or {}).items():
        d = d or {}
        problems = []
        r, e, dv = d.get("max_r_hat"), d.get("min_ess_bulk"), d.get("divergences")
        if isinstance(r, (int, float)) and r > MAX_R_HAT:
            problems.append(f"r-hat {T.num(r, digits=3)} > {MAX_R_HAT}")
        if isinstance(e, (int, float)) and e < MIN_ESS_BULK:
            problems.append(f"bulk ESS {T.count(e)} < {MIN_ESS_BULK}")
        if isinstance(dv, (int, float)) and dv > MAX_DIVERGENCES:
            problems.append(f"{T.count(dv)} divergent transition(s)")
        if d.get("passed") is False or problems:
            out.append((str(name), problems or ["failed the diagnostic gates"]))
    return out


def diagnostics_banner(diag: Mapping | None) -> dict | None:
    if diag and diag.get("passed") is True:
        return None
    if not diag:
        return {"level": "warning", "title": "Sampler diagnostics are missing",
                "lines": ["The health of the samplers was not checked: treat every posterior "
                          "number below as unverified."]}
    lines = ["Some models failed the sampler health checks (r-hat, effective sample size, "
             "divergences). Do not publish or act on their numbers until this is fixed "
             "(run with more draws or chains)."]
    lines += [f"{name}: {', '.join(p)}" for name, p in failing_models(diag)]
    return {"level": "danger", "title": "DIAGNOSTICS FAILED: these results are not trustworthy",
            "lines": lines}


def diagnostics_section(diag: Mapping | None) -> dict:
    blocks = []
    if not diag:
        blocks.append(C.para(f"Sampler diagnostics: {T.NOT_ESTIMATED}."))
        return C.section("diagnostics", DIAGNOSTICS_TITLE, blocks)
    if diag.get("passed"):
        blocks.append(C.callout("good", "All models passed the sampler health checks", [
            f"Largest r-hat {T.num(diag.get('max_r_hat'), digits=3)} (gate {MAX_R_HAT}), smallest "
            f"bulk ESS {T.count(diag.get('min_ess_bulk'))} (gate {MIN_ESS_BULK}), "
            f"{T.count(diag.get('divergences'))} divergences (gate {MAX_DIVERGENCES})."]))
    else:
        failing = failing_models(diag)
        blocks.append(C.callout("bad", "Diagnostics failed",
                               [f"Failing model(s): {', '.join(n for n, _ in failing) or 'see table'}."]))
    per = diag.get("per_model") or {}
    if per:
        failed = {n for n, _ in failing_models(diag)}
        rows, levels = [], []
        for name, d in per.items():
            d = d or {}
            rows.append([str(name), T.num(d.get("max_r_hat"), digits=3),
                         T.count(d.get("min_ess_bulk")), T.count(d.get("divergences")),
                         "no" if name in failed else "yes"])
            levels.append("bad" if name in failed else "")
        blocks.append(C.table(["Model", "Max r-hat", "Min bulk ESS", "Divergences", "Passed"],
                             rows, row_levels=levels))
    return C.section("diagnostics", DIAGNOSTICS_TITLE, blocks)


def data_quality_section(findings) -> dict:
    if not findings:
        blocks = [C.para("No data-quality problems were found.")]
    else:
        rows = [[str(f.get("severity", "")), str(f.get("check", "")), T.count(f.get("count")),
                 str(f.get("message", ""))] for f in findings]
        levels = [{"error": "bad", "warning": "warn"}.get(str(f.get("severity")), "")
                  for f in findings]
        table = C.table(["Severity", "Check", "Rows", "Finding"], rows, row_levels=levels)
        if len(rows) <= OPEN_TABLE_ROWS:
            blocks = [table]
        else:
            # A long list would push the rest of the page down: count by severity, collapse.
            by: dict[str, int] = {}
            for f in findings:
                sev = str(f.get("severity") or "other")
                by[sev] = by.get(sev, 0) + 1
            rank = {"error": 0, "warning": 1, "info": 2}
            summary = ", ".join(
                f"{n} {sev}{'s' if n > 1 and sev in ('error', 'warning') else ''}"
                for sev, n in sorted(by.items(), key=lambda kv: rank.get(kv[0], 3)))
            blocks = [C.para(f"{len(rows)} findings: {summary}."),
                      C.details(f"All {len(rows)} findings", [table])]
    return C.section("data_quality", "Data-quality findings", blocks)
