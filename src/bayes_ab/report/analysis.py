"""The report of `bayes-ab analyze` (the help-widget experiment): ``build_document`` turns
results.json into a document, ``render_report`` writes report.html and report.md.

Missing optional blocks (``None`` or absent keys) render as "not estimated".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bayes_ab.report import common as C
from bayes_ab.report import text as T
from bayes_ab.report.sections import (
    arm_comparison_blocks,
    arm_names,
    data_quality_section,
    diagnostics_banner,
    diagnostics_section,
    recommendation_section,
    segment_blocks,
)
from bayes_ab.results import Interval
from bayes_ab.results_schema import AnalysisResults, HelpChannels

if TYPE_CHECKING:  # pragma: no cover
    from bayes_ab.models.arm_comparison import ArmComparisonResult

__all__ = ["DEFAULT_TITLE", "build_document", "render_report"]

DEFAULT_TITLE = "Help-widget experiment: did the Test experience work?"


def _metric_section(results: AnalysisResults, metric: str, n_metrics: int) -> dict:
    info = T.metric_info(metric)
    block: ArmComparisonResult | None = getattr(results, metric)
    blocks = arm_comparison_blocks(block, metric=metric, family=f"{n_metrics} success metrics")
    if block:
        control, test = arm_names(block)
        agreement = (results.agreement or {}).get(metric) or T.agreement_sentence(
            block, metric=metric, test=test, control=control)
        blocks.append(C.para(f"Bayesian and frequentist answers: {agreement}"))
        flagged = block.among_flagged if metric == "cs_engagement" else None
        if flagged is None:
            pass
        elif not flagged.get("test") or not flagged.get("control"):
            blocks.append(C.para(
                "Secondary definition, among customers flagged as stuck at least once: not "
                f"estimated, since {T.count(flagged.get('n_flagged_test'))} {test} and "
                f"{T.count(flagged.get('n_flagged_control'))} {control} customers were "
                "flagged."))
        else:
            blocks.append(C.para(
                f"Secondary definition, among customers flagged as stuck at least once: "
                f"{T.interval(flagged.get('test'))} of {T.count(flagged.get('n_flagged_test'))} "
                f"flagged {test} customers engaged with Customer Success, against "
                f"{T.interval(flagged.get('control'))} of "
                f"{T.count(flagged.get('n_flagged_control'))} flagged {control} customers. "
                f"This denominator depends on who gets stuck, which the widget may change, so "
                f"the headline uses all randomized customers."))
    return C.section(metric, f"Success metric: {info['label']}", blocks)


def _ratio_rows(blocks: Mapping[str, Mapping | None], *, control: str = "Control",
                test: str = "Test") -> tuple[list[list[str]], list[str], list[str]]:
    """One table row and one plain sentence per ratio metric; a row level marks the ones
    where Test is credibly worse."""
    rows, levels, sentences = [], [], []
    for name, block in blocks.items():
        info = T.ratio_info(str(name), higher_is_better=C.get_in(block, "higher_is_better"))
        if not block:
            rows.append([info["label"], T.NOT_ESTIMATED, "", "", "", ""])
            levels.append("")
            sentences.append(f"{info['label']}: {T.NOT_ESTIMATED} (no denominator in an arm).")
            continue
        fmt = T.ratio_formatter(C.get_in(block, "control", "mean"))
        diff = T.ratio_formatter(C.get_in(block, "control", "mean"), signed=True)
        freq = block.get("frequentist") or {}
        lift = block.get("lift_abs")
        rows.append([
            info["label"],
            fmt(C.get_in(block, "control", "mean")),
            fmt(C.get_in(block, "test", "mean")),
            f"{T.interval(lift, diff)}; {T.rel(C.get_in(block, 'lift_rel', 'mean'))}",
            f"{T.interval(freq.get('ci95_diff'), diff, kind='CI')}, "
            f"{T.p_equals(freq.get('p_value'))}",
            T.prob(block.get("prob_test_better")),
        ])
        higher = block.get("higher_is_better") is not False
        worse = T.excludes(lift) and (lift["mean"] > 0) != higher
        levels.append("warn" if worse else "")
        sentences.append(T.ratio_sentence(block, name=str(name), test=test, control=control))
    return rows, levels, sentences


_RATIO_COLUMNS = ["Metric", "Control", "Test", "Difference (Test - Control); relative",
                  "Delta-method test", "P(Test better)"]


def _ratio_section(results: Mapping) -> dict:
    ratios = results.get("ratio_metrics")
    blocks = [C.para("Metrics that are one sum divided by another, per randomized customer. "
                    "Bayesian posterior of the ratio of means beside the delta-method test; "
                    "'better' follows each metric's direction.", "muted")]
    if not ratios:
        blocks.append(C.para(f"Ratio metrics: {T.NOT_ESTIMATED}."))
        return C.section("ratio_metrics", "Ratio metrics", blocks)
    rows, levels, sentences = _ratio_rows(ratios)
    blocks.append(C.bullets(sentences))
    blocks.append(C.table(_RATIO_COLUMNS, rows, row_levels=levels,
                         caption="Each metric in its own units (a highlighted row: Test is "
                                 "credibly worse)"))
    definitions = []
    for name, block in ratios.items():
        label = T.ratio_info(str(name), higher_is_better=C.get_in(block, "higher_is_better"))["label"]
        if C.get_in(block, "definition"):
            definitions.append(f"{label}: {block['definition']}.")
    if definitions:
        blocks.append(C.details("Definitions", [C.bullets(definitions)]))
    return C.section("ratio_metrics", "Ratio metrics", blocks)


def _segments_section(results: Mapping) -> dict:
    segs = results.get("segments")
    blocks = [C.para("Does the conversion lift differ between groups of customers? Lift by "
                    "segment, partially pooled. " + T.POOLING_WHY, "muted")]
    if not segs:
        blocks.append(C.para("Segments: no segment column in the data, so none were analysed."
                            if isinstance(segs, Mapping) else f"Segments: {T.NOT_ESTIMATED}."))
        return C.section("segments", "Segments", blocks)
    for column, block in segs.items():
        if not block:
            blocks.append(C.para(f"Segments by {column}: {T.NOT_ESTIMATED}."))
            continue
        control = str(block.get("control") or "Control")
        test = str(block.get("test") or "Test")
        blocks.extend(segment_blocks(block, test=test, control=control))
    return C.section("segments", "Segments", blocks)


def _sensitivity_quantities(model: str, m: Mapping):
    """(label, default, weaker, stronger, changes, key) per quantity of one model's block:
    the `bayes_ab.workflows.sensitivity` shape ({"quantities": {key: {..., "changes"}}, "decision"})
    or a plain {quantity: {"default", "weaker", "stronger", "conclusion_changes"}}."""
    name = str(m.get("model") or model)
    if isinstance(m.get("quantities"), Mapping):
        for key, q in m["quantities"].items():
            if not isinstance(q, Mapping):
                continue
            # Arm rates and the like have no conclusion to change: they would only add rows.
            concl = q.get("conclusion")
            if isinstance(concl, Mapping) and not any(v is not None for v in concl.values()):
                continue
            yield (f"{name}: {T.column_words(key)}", q.get("default"), q.get("weaker"),
                   q.get("stronger"), q.get("changes"), str(key))
        dec = m.get("decision")
        if isinstance(dec, Mapping):
            def action(v):
                return T.ACTIONS[v][0] if v in T.ACTIONS else T.NOT_ESTIMATED
            yield (f"{name}: decision", action(dec.get("default")), action(dec.get("weaker")),
                   action(dec.get("stronger")), dec.get("changes"), "decision")
        return
    for key, q in m.items():
        if isinstance(q, Mapping):
            yield (f"{name}: {T.column_words(key)}", q.get("default"), q.get("weaker"),
                   q.get("stronger"), q.get("conclusion_changes", q.get("changes")), str(key))


def _sensitivity_rows(sens: Mapping) -> tuple[list[list[str]], list[str], list[str]]:
    rows, levels, changed = [], [], []
    for model, m in sens.items():
        if not isinstance(m, Mapping):
            continue
        for label, d, w, st, flip, key in _sensitivity_quantities(str(model), m):
            rows.append([label] + [v if isinstance(v, str) and key == "decision"
                                   else T.sensitivity_value(v, quantity=key)
                                   for v in (d, w, st)] + [T.yes_no(flip)])
            levels.append("warn" if flip else "")
            if flip:
                changed.append(label)
    return rows, levels, changed


def _prior_words(spec) -> str:
    """{'dist': 'Beta', 'alpha': 1.0, 'beta': 1.0} -> 'Beta(alpha=1, beta=1)'."""
    if not isinstance(spec, Mapping):
        return str(spec)
    args = ", ".join(f"{k}={v:.4g}" if T.is_finite_number(v) else f"{k}={v}" for k, v in spec.items()
                     if k != "dist")
    return f"{spec.get('dist', '?')}({args})"


def _prior_sensitivity_section(sens: Mapping) -> dict:
    rows, levels, changed = _sensitivity_rows(sens)
    if not rows:
        return C.section("prior_sensitivity", "Does the prior matter?",
                        [C.para(f"Prior sensitivity: {T.NOT_ESTIMATED}.")])
    blocks = [C.para("Each model was refitted with a weaker and a stronger prior. If a conclusion "
                    "(the sign of an effect, whether its interval excludes zero, a probability "
                    "above 95% or below 5%, the decision) stays the same, the data drive it.",
                    "muted")]
    if changed:
        blocks.append(C.callout("bad", "Yes, for some conclusions", [
            "A weaker or a stronger prior changes the conclusion about: " + ", ".join(changed)
            + ". These answers lean on the prior, not only on the data: read them with care."]))
    else:
        blocks.append(C.callout("good", "No: every conclusion holds under a weaker and a "
                                       "stronger prior",
                               ["The data, not the prior, drive the answers above."]))
    inner = [C.table(["Quantity", "Default prior", "Weaker prior", "Stronger prior",
                     "Conclusion changes"], rows, row_levels=levels)]
    prior_rows = []
    notes = []
    for model, m in sens.items():
        if not isinstance(m, Mapping):
            continue
        name = str(m.get("model") or model)
        priors = m.get("priors")
        if isinstance(priors, Mapping) and isinstance(priors.get("default"), Mapping):
            for var in priors["default"]:
                prior_rows.append([f"{name}: {var}"] + [
                    _prior_words(C.get_in(priors, label, var)) for label in
                    ("default", "weaker", "stronger")])
        scales = m.get("scales")
        if isinstance(scales, Mapping) and not notes:
            w, st = scales.get("weaker"), scales.get("stronger")
            which = (f"Weaker prior: precision x{w:g}; stronger: x{st:g}"
                     if T.is_finite_number(w) and T.is_finite_number(st) else "Weaker and stronger priors")
            notes.append(which + (f" ({m['rule']})." if m.get("rule") else "."))
        psens = m.get("power_scaling")
        thr = m.get("power_scaling_threshold")
        if isinstance(psens, Mapping) and T.is_finite_number(thr):
            high = [k for k, v in psens.items() if T.is_finite_number(v) and v > thr]
            notes.append(f"{name}, power-scaling check: " + (
                f"prior-sensitive: {', '.join(high)}." if high else
                f"no parameter above the {T.num(thr)} threshold."))
    if prior_rows:
        inner.append(C.table(["Prior", "Default", "Weaker", "Stronger"], prior_rows))
    inner += [C.para(n, "muted") for n in notes]
    blocks.append(C.details("Estimates and priors under each variant", inner))
    return C.section("prior_sensitivity", "Does the prior matter?", blocks)


def _help_section(results: AnalysisResults) -> dict:
    hc = results.help_channels or HelpChannels()
    blocks = [C.para("Is CS a better option than OTHER when a customer hits a bump? Each time the "
                    "system flagged a customer as stuck, they chose CS or figured it out another "
                    "way (OTHER). Completion = the customer later completed the flagged task.",
                    "muted")]
    comp = hc.completion
    if comp:
        blocks.append(C.para(
            f"After choosing CS, customers completed the flagged task {T.interval(comp.cs)}"
            f" of the time, against {T.interval(comp.other)} after OTHER: a difference of "
            f"{T.interval(comp.diff, T.pp)}. Probability that CS leads to more "
            f"completions: {T.prob(comp.prob_cs_better)}."))
    else:
        blocks.append(C.para(f"Completion after help by channel: {T.NOT_ESTIMATED}."))
    ttc = hc.time_to_completion
    if ttc:
        med = ttc.median_minutes or {}
        reached = ttc.median_reached_prob or {}

        def minutes(key: str) -> str:
            v = med.get(key)
            # The median is a posterior interval (older results: a number, or None when
            # fewer than half complete within the window).
            if T.is_finite_number(reached.get(key)) and reached[key] < 0.5:
                return "not reached (fewer than half complete)"
            if isinstance(v, Interval) and T.is_finite_number(v.mean):
                return T.interval(v, lambda x: f"{T.num(x, digits=0)} min")
            if T.is_finite_number(v):
                return f"{T.num(v, digits=0)} min"
            return "not reached (fewer than half complete)"

        text = (
            f"Speed: customers who chose CS complete at {T.interval(ttc.hazard_ratio_cs_vs_other, T.num)}"
            f" times the rate of those who chose OTHER (hazard ratio; above 1 means CS is faster). "
            f"Probability that CS is faster: {T.prob(ttc.prob_cs_faster)}. Median time "
            f"from the flag to completion: {minutes('cs')} with CS, "
            f"{minutes('other')} with OTHER. Customers who never complete count as "
            f"censored at the end of observation, not dropped.")
        if ttc.median_note:
            text += f" {ttc.median_note}"
        blocks.append(C.para(text))
        freq = ttc.frequentist or {}
        logrank = freq.get("logrank")
        cox_hr = C.get_in(freq, "cox", "hazard_ratio", "CS")
        if logrank or cox_hr:
            parts = []
            if cox_hr:
                parts.append(f"Cox model hazard ratio {T.interval(cox_hr, T.num, kind='CI')}")
            if logrank:
                parts.append(f"log-rank test {T.p_equals(logrank.get('p_value'))}")
            blocks.append(C.para("Frequentist cross-check: " + "; ".join(parts) + ".", "muted"))
    else:
        blocks.append(C.para(f"Time to completion by channel: {T.NOT_ESTIMATED}."))
    iv = hc.iv
    if iv is not None and iv.causal_effect:
        text = (f"Causal effect of choosing CS on completing (among customers who pick CS only "
                f"when the widget invites them, using the random assignment as an instrument): "
                f"{T.interval(iv.causal_effect, T.pp)}.")
        if T.is_finite_number(iv.prob_cs_causes_completion):
            text += (f" Probability that CS causes more completions: "
                     f"{T.prob(iv.prob_cs_causes_completion)}.")
        naive = iv.naive_difference
        if isinstance(naive, Interval):
            text += (f" The naive CS-minus-OTHER difference is {T.interval(naive, T.pp)}; the gap "
                     f"between the two is the self-selection of who asks for help.")
        elif isinstance(naive, (int, float)):
            text += (f" The naive CS-minus-OTHER difference is {T.pp(naive)}; the gap between the "
                     f"two is the self-selection of who asks for help.")
        blocks.append(C.para(text))
        if iv.weak_instrument:
            note = iv.weak_instrument_note or (
                "the random assignment barely moved who chose CS")
            blocks.append(C.callout("bad", "Weak instrument: do not read the causal effect", [
                f"{note[:1].upper()}{note[1:]}."]))
        rows = []
        for key, label, fmt in (("wald", "Wald (ratio) estimate", T.pp),
                                ("first_stage", "First stage: widget's effect on choosing CS", T.pp),
                                ("complier_share", "Share of compliers", T.pct),
                                ("itt_completion", "Widget's effect on completion (intention "
                                                   "to treat)", T.pp)):
            v = getattr(iv, key)
            if isinstance(v, Interval):
                rows.append([label, T.interval(v, fmt)])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append([label, fmt(v)])
        if iv.weak_instrument is not None:
            rows.append(["Weak instrument", T.yes_no(iv.weak_instrument)])
        if iv.n_first_flags:
            rows.append(["Customers at their first flag", ", ".join(
                f"{T.count(v)} in {k}" for k, v in iv.n_first_flags.items())])
        if rows:
            inner = [C.table(["Instrumental-variable detail", ""], rows)]
            if iv.assumptions:
                inner.append(C.para(f"Assumptions: {iv.assumptions}.", "muted"))
            blocks.append(C.details("How the causal effect was estimated", inner))
    else:
        blocks.append(C.para(f"Causal effect of CS on completion: {T.NOT_ESTIMATED}."))
    return C.section("help", "Exploration: is CS better than OTHER?", blocks)


COMPLETIONS_INTRO = (
    "Do customers who complete more of the three getting-started tasks convert more often? "
    "Conversion rate by the number of tasks completed (0 to 3) before the end of the "
    "observation window, both arms pooled. This is an association, not a causal estimate: "
    "completions are not randomised (customers who complete more differ, "
    "for example in ability or in contact with CS), and the count depends on how long the "
    "window is. The randomised arm comparison and the instrumental-variable estimate are the "
    "causal evidence.")
TIME_INTRO = (
    "Is task success associated with the hour of the day and with experience? Task success (a "
    "started task is completed before the end of the observation window) against the hour of "
    "the start and the task's position (1, 2, 3). Associations, not effects: the tasks are "
    "always done in the order 1, 2, 3 and a task is started only after the previous one is "
    "completed, so position is confounded with the tasks' difficulty and with selection "
    "(customers who reach a later task completed the earlier ones); customers choose when "
    "they start.")


def _shape_sentence(sc: Mapping | None) -> str | None:
    """The LOO comparison of the shapes of the rates by completions, in words. A shape
    counts as worse when its elpd is more than 4 lower and more than 2 se of the
    difference below the best; otherwise the data do not tell the two apart."""
    shapes = (sc or {}).get("shapes") or {}
    best = (sc or {}).get("best")
    if best not in shapes:
        return None
    names = {"unrestricted": "a free rate per number of tasks",
             "monotone": "rates that never fall as completions increase",
             "linear": "a straight line in the log-odds"}
    parts = []
    for k, v in sorted(shapes.items(), key=lambda kv: kv[1].get("rank", 0)):
        if k == best:
            continue
        diff, dse = v.get("elpd_diff"), v.get("dse")
        worse = (T.is_finite_number(diff) and T.is_finite_number(dse) and diff > 4 and diff > 2 * dse)
        parts.append(f"{names.get(k, k)}: {T.num(diff, digits=1)} lower (se "
                     f"{T.num(dse, digits=1)}), "
                     + ("a worse fit" if worse else "not distinguishable from it"))
    return ("Shape of the rates, by leave-one-customer-out cross-validation (expected log "
            f"predictive density, higher is better): best {names.get(best, best)}"
            + ("; " + "; ".join(parts) if parts else "") + ".")


def _completions_section(results: AnalysisResults) -> dict:
    cc = results.completions_conversion
    blocks = [C.para(COMPLETIONS_INTRO, "muted")]
    if not cc:
        blocks.append(C.para(f"Completions and conversion: {T.NOT_ESTIMATED}."))
        return C.section("completions", "Exploration: completions and conversion", blocks)
    rates = cc.rate_by_completions or {}
    rows = [[str(k), T.pct(getattr(iv, "mean", None)), T.bounds(iv)]
            for k, iv in sorted(rates.items())]
    if rows:
        blocks.append(C.table(["Tasks completed", "Conversion rate", "95% HDI"], rows))
    blocks.append(C.para(
        f"Customers with one more completed task have "
        f"{T.interval(cc.odds_ratio_per_completion, T.num)} times the odds of "
        f"converting (a logistic summary of the four rates). Probability that the rate is "
        f"higher at every additional completion: {T.prob(cc.prob_monotone_increasing)}."))
    shape = _shape_sentence(cc.shape_comparison)
    if shape:
        blocks.append(C.para(shape))
    return C.section("completions", "Exploration: completions and conversion", blocks)


def _time_section(results: AnalysisResults) -> dict:
    te = results.time_and_experience
    blocks = [C.para(TIME_INTRO, "muted")]
    if not te:
        blocks.append(C.para(f"Time and experience: {T.NOT_ESTIMATED}."))
    else:
        def slope(iv: Interval | None) -> str:
            return T.interval(iv, lambda v: T.num(v, digits=3, signed=True))

        blocks.append(C.bullets([
            f"Hour of day: {slope(te.hour_effect)} difference in the log-odds of success per "
            f"hour later in the day that the task was started; probability that success is "
            f"higher for later hours: {T.prob(te.prob_success_rises_with_time)}.",
            f"Task position: {slope(te.experience_effect)} difference in the log-odds of success "
            f"per later task; probability that success is higher on later tasks: "
            f"{T.prob(te.prob_success_rises_with_experience)}.",
        ]))
    return C.section("time_experience", "Exploration: time and experience", blocks)


def _input_section(results: AnalysisResults) -> dict:
    inp = results.input or {}
    srm = results.srm
    blocks = []
    if inp:
        line = (f"{T.count(inp.get('n_customers'))} randomized customers: "
                f"{T.count(inp.get('n_test'))} in Test, {T.count(inp.get('n_control'))} in Control.")
        if inp.get("source"):
            line += f" Data: {inp['source']}."
        blocks.append(C.para(line))
        dropped = inp.get("dropped") or {}
        if dropped:
            blocks.append(C.table(["Rows dropped", "Count"],
                                 [[str(k).replace("_", " "), T.count(v)] for k, v in dropped.items()]))
    level = ("bad" if srm and srm.get("mismatch") else "neutral"
             if not srm or srm.get("judgeable") is False else "good")
    blocks.append(C.callout(level, "Sample-ratio check", [T.srm_sentence(srm)]))
    return C.section("srm", "Data and sample-ratio check", blocks)


def _forensics_section(forensics: Mapping) -> dict:
    verdict = str(forensics.get("verdict") or T.NOT_ESTIMATED)
    lines = []
    if forensics.get("summary"):
        lines.append(str(forensics["summary"]))
    title = (f"Is this data real or simulated? {verdict[:1].upper()}{verdict[1:]}."
             if len(verdict) < 40 else "Is this data real or simulated?")
    if len(verdict) >= 40:
        lines.insert(0, verdict)
    blocks = [C.callout("neutral", title, lines or [verdict])]
    evidence = forensics.get("evidence") or []
    if evidence:
        with_hint = any(e.get("verdict_hint") for e in evidence)
        with_llr = any(e.get("log10_lr") is not None for e in evidence)
        rows = []
        for e in evidence:
            row = [str(e.get("check", "")), T.num(e.get("statistic"), digits=3),
                   T.p_value(e.get("p_value"))]
            if with_hint:
                hint = str(e.get("verdict_hint") or "")
                row.append(f"{hint} ({e['strength']})" if e.get("strength") and hint in
                           ("simulated", "real") else hint)
            if with_llr:
                llr, counted = e.get("log10_lr"), e.get("log10_lr_counted")
                text = "" if llr is None else f"{llr:+.2f}"
                if llr is not None and counted is not None and counted != llr:
                    text += " (not counted: same cause as a stronger check)"
                row.append(text)
            rows.append(row + [str(e.get("message", ""))])
        cols = (["Check", "Statistic", "p-value"] + (["Points to"] if with_hint else [])
                + (["log10 LR (simulated:real)"] if with_llr else []))
        blocks.append(C.details(f"Evidence ({len(rows)} checks)",
                               [C.table(cols + ["What it shows"], rows)]))
    if forensics.get("rule"):
        blocks.append(C.para(f"Verdict rule: {forensics['rule']}", "muted"))
    return C.section("forensics", "Real or simulated?", blocks)


def _glossary_section() -> dict:
    return C.section("glossary", "Glossary", [{"kind": "glossary", "items": list(T.GLOSSARY)}])


def _summary_lines(results: AnalysisResults) -> list[str]:
    """Three lines answering the seed's success-metric questions directly."""
    out = []
    for metric in ("cs_engagement", "conversion"):
        block: ArmComparisonResult | None = getattr(results, metric)
        info = T.metric_info(metric)
        if not block:
            out.append(f"{info['label']}: {T.NOT_ESTIMATED}.")
            continue
        control, test = arm_names(block)
        sig = (block.frequentist or {}).get("significant_95")
        sig_text = ("" if sig is None else
                    " Statistically significant at 95%." if sig else
                    " Not statistically significant at 95%.")
        out.append(f"{info['label']}: {test} {T.pct(getattr(block.test, 'mean', None))} vs "
                   f"{control} {T.pct(getattr(block.control, 'mean', None))}, lift "
                   f"{T.interval(block.lift_abs, T.pp)}; "
                   f"P({test} better) = {T.prob(block.prob_test_better)}.{sig_text}")
    ratios = results.ratio_metrics
    if isinstance(ratios, Mapping) and any(ratios.values()):
        out.append("Ratio metrics: " + _ratio_summary(ratios) + ".")
    segs = results.segments
    if isinstance(segs, Mapping) and any(segs.values()):
        flagged = [f"{s} ({col})" for col, b in segs.items() if b for s in b.get("flagged") or []]
        out.append("Segments: " + (
            "no segment's lift credibly differs from the overall lift." if not flagged else
            "the lift credibly differs from the overall in " + ", ".join(flagged) + "."))
    sens = results.prior_sensitivity
    if isinstance(sens, Mapping) and sens:
        changed = _sensitivity_rows(sens)[2]
        out.append("Prior: " + ("every conclusion holds under a weaker and a stronger prior."
                                if not changed else
                                "the conclusion changes with the prior for " + ", ".join(changed)
                                + "."))
    return out


def _ratio_summary(ratios: Mapping) -> str:
    """'Test credibly better on X; credibly worse on Y; no clear difference on Z'."""
    groups: dict[str, list[str]] = {"better": [], "worse": [], "unclear": []}
    for name, block in ratios.items():
        if not block:
            continue
        label = T.ratio_info(str(name), higher_is_better=block.get("higher_is_better"))["label"]
        lift = block.get("lift_abs")
        ex = T.excludes(lift)
        if not ex:
            groups["unclear"].append(T.lower_first(label))
        else:
            higher = block.get("higher_is_better") is not False
            groups["better" if (lift["mean"] > 0) == higher else "worse"].append(
                T.lower_first(label))
    parts = []
    if groups["better"]:
        parts.append("Test credibly better on " + ", ".join(groups["better"]))
    if groups["worse"]:
        parts.append("credibly worse on " + ", ".join(groups["worse"]))
    if groups["unclear"]:
        parts.append("no clear difference on " + ", ".join(groups["unclear"]))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def build_document(results: Mapping, *, title: str = DEFAULT_TITLE) -> dict:
    """The report of `bayes-ab analyze` as a document of banners and sections (no figures).

    ``results`` is results.json as a dict (read back with ``AnalysisResults.from_dict``, so
    the report reads typed blocks whichever way it was given) or an ``AnalysisResults``."""
    results = AnalysisResults.from_dict(results)
    banners = []
    diag_banner = diagnostics_banner(results.diagnostics)
    if diag_banner:
        banners.append(diag_banner)
    if results.srm and results.srm.get("mismatch"):
        banners.append({"level": "danger", "title": "Sample-ratio mismatch",
                        "lines": [T.srm_sentence(results.srm)]})
    metrics = [m for m in ("conversion", "cs_engagement")]
    sections = [recommendation_section(results)]
    sections[0]["blocks"].append(C.bullets(_summary_lines(results)))
    sections += [_metric_section(results, m, len(metrics)) for m in metrics]
    # Blocks added after the first schema (ratio metrics, segments, prior sensitivity) are
    # shown only when results.json has them, so older results still render unchanged.
    if "ratio_metrics" in results:
        sections.append(_ratio_section(results))
    if "segments" in results:
        sections.append(_segments_section(results))
    if isinstance(results.prior_sensitivity, Mapping):
        sections.append(_prior_sensitivity_section(results.prior_sensitivity))
    sections += [_help_section(results), _completions_section(results), _time_section(results),
                 _input_section(results), data_quality_section(results.data_quality)]
    if results.forensics:
        sections.append(_forensics_section(results.forensics))
    sections += [diagnostics_section(results.diagnostics), _glossary_section()]
    n = (results.input or {}).get("n_customers")
    subtitle = f"{T.count(n)} randomized customers" if n is not None else ""
    return {"title": title, "subtitle": subtitle, "banners": banners, "sections": sections}


def render_report(results: Mapping, *, figures: Mapping[str, Path] | None = None,
                  out_dir: Path, title: str = DEFAULT_TITLE) -> tuple[Path, Path]:
    """Write the decision-maker's report of `bayes-ab analyze` (HTML and Markdown).

    ``figures`` maps a figure name (``conversion_posterior``, ``help_completion_forest``, ...)
    to a PNG file; each is shown in the section its name belongs to (``C.figure_section``),
    unknown names in an appendix. Returns (report.html, report.md).
    """
    out_dir = Path(out_dir)
    doc = C.attach_figures(build_document(results, title=title), figures, out_dir)
    return C.render_document(doc, out_dir=out_dir)
