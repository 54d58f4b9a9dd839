"""Render results.json (or compare.json) into report.html and report.md.

The report is built in two steps so that the HTML and the Markdown cannot disagree:

1. ``build_document`` turns the results dict into a *document*: banners and sections made
   of simple blocks (callout, paragraph, list, table, figure, glossary), every sentence
   already written (``bayes_ab.report.text``). No statistic is computed here.
2. Two Jinja2 templates lay the same document out: ``report.html.j2`` (self-contained:
   inline CSS, every figure embedded as a base64 PNG data URI, no external resource;
   autoescaped) and ``report.md.j2`` (figures linked as ``figures/<name>.png``; text
   escaped for Markdown).

Missing optional blocks (``None`` or absent keys) render as "not estimated".
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bayes_ab.constants import MAX_DIVERGENCES, MAX_R_HAT, MIN_ESS_BULK
from bayes_ab.report import text as T

__all__ = [
    "DEFAULT_TITLE",
    "FIGURE_SECTIONS",
    "build_compare_document",
    "build_document",
    "build_monitor_document",
    "render_compare_report",
    "render_document",
    "render_monitor_report",
    "render_report",
]

DEFAULT_TITLE = "Help-widget experiment: did the Test experience work?"
#: Sampler health is for the analyst, not the decision-maker: an appendix near the end
#: (a failed check still raises a banner above the recommendation).
DIAGNOSTICS_TITLE = "Appendix: sampler diagnostics"
TEMPLATES = Path(__file__).parent / "templates"

#: Which report section shows a figure, by the start of its name (first match wins, so the
#: more specific prefixes come first). Trace and rank plots are sampler health checks.
FIGURE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("decision", "recommendation"),
    ("expected_loss", "recommendation"),
    ("completions_", "completions"),
    ("conversion_by_completions", "completions"),
    ("conversion", "conversion"),
    ("cs_engagement", "cs_engagement"),
    ("any_cs", "cs_engagement"),
    ("help_", "help"),
    ("survival", "help"),
    ("time_to_completion", "help"),
    ("causal", "help"),
    ("iv_", "help"),
    ("time_experience", "time_experience"),
    ("time_and_experience", "time_experience"),
    ("srm", "srm"),
    ("forensics", "forensics"),
)
_DIAGNOSTIC_SUFFIXES = ("_trace", "_rank", "_energy")
_FIGURE_KINDS = (("_forest", "forest plots"), ("_ppc", "posterior predictive checks"),
                 ("_posterior", "parameter posteriors"))
#: Longer tables of secondary detail are collapsed under <details>.
_OPEN_TABLE_ROWS = 5

#: Figures shown open in their section; the others (forest plots, posterior predictive
#: checks, raw parameter posteriors) go under "More figures" so the page stays a short read.
#: A name ending in one of these suffixes is a headline figure ...
_HEADLINE_SUFFIXES = ("_posterior", "_rates", "_survival_km", "_causal_vs_naive")
#: ... unless listed here: posteriors of internal parameters a decision-maker cannot read
#: (the same section already has a plainer figure, or the forest plot is plainer).
_DETAIL_FIGURES = frozenset({
    "help_completion_posterior", "time_to_completion_posterior", "causal_cs_effect_posterior",
    "completions_conversion_posterior",
})
#: ... and these are headline figures whatever their suffix.
_HEADLINE_FIGURES = frozenset({"completions_conversion_forest"})


# -------------------------------------------------------------------------- blocks


def _callout(level: str, title: str, lines: list[str]) -> dict:
    return {"kind": "callout", "level": level, "title": title, "lines": list(lines)}


def _para(text: str, style: str = "") -> dict:
    return {"kind": "para", "text": text, "style": style}


def _list(items: list[str]) -> dict:
    return {"kind": "list", "items": list(items)}


def _table(columns: list[str], rows: list[list[str]], *, caption: str | None = None,
           row_levels: list[str] | None = None) -> dict:
    return {"kind": "table", "columns": list(columns), "rows": [list(map(str, r)) for r in rows],
            "caption": caption, "row_levels": row_levels or [""] * len(rows)}


def _details(summary: str, blocks: list[dict], *, open_: bool = False) -> dict:
    """A collapsed group of blocks (HTML <details>): detail a decision-maker may skip."""
    return {"kind": "details", "summary": summary, "blocks": list(blocks), "open": open_}


def _section(sid: str, title: str, blocks: list[dict]) -> dict:
    return {"id": sid, "title": title, "blocks": blocks}


def _get(d: Mapping | None, *keys, default=None):
    for k in keys:
        if not isinstance(d, Mapping) or d.get(k) is None:
            return default
        d = d[k]
    return d


# -------------------------------------------------------------------------- figures


def figure_section(name: str) -> str:
    """The id of the section a figure belongs to ('appendix' when unknown)."""
    if name.endswith(_DIAGNOSTIC_SUFFIXES):
        return "diagnostics"
    for prefix, section in FIGURE_SECTIONS:
        if name.startswith(prefix):
            return section
    return "appendix"


def is_headline_figure(name: str) -> bool:
    """Whether a figure is shown open in its section (else under "More figures")."""
    if name in _HEADLINE_FIGURES:
        return True
    return name.endswith(_HEADLINE_SUFFIXES) and name not in _DETAIL_FIGURES


#: Plain captions of the figures analyze draws (others are named from the file name).
FIGURE_CAPTIONS = {
    "conversion_posterior": "Conversion: posterior of each arm's rate and of the lift",
    "cs_engagement_posterior": "CS engagement: posterior of each arm's rate and of the lift",
    "help_completion_rates": "Completion after a help flag, CS vs OTHER, by task",
    "time_to_completion_survival_km": "Time to completion after a help flag: model against "
                                      "the Kaplan-Meier curves",
    "causal_cs_effect_causal_vs_naive": "Effect of CS on completion: causal (instrumental "
                                        "variable) vs naive comparison",
    "completions_conversion_forest": "Conversion rate by number of completed tasks and arm",
    "time_and_experience_posterior": "Time of day and experience: posterior of the log-odds "
                                     "slopes (associations)",
    "monitor": "Lift by look: always-valid confidence sequence and posterior HDI (top); "
               "P(Test better) against the naive and calibrated thresholds (bottom)",
}


def _caption(name: str) -> str:
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name]
    words = name.replace("_", " ").replace("ppc", "posterior predictive check")
    words = words.replace("km", "Kaplan-Meier").replace("cs", "CS")
    return words[:1].upper() + words[1:]


def _figure_blocks(figures: Mapping[str, Path], out_dir: Path, *,
                   section_of=None) -> tuple[dict[str, list], list[str]]:
    """Figure blocks per section; figures that do not exist are listed, not shown."""
    section_of = section_of or figure_section
    by_section: dict[str, list] = {}
    missing: list[str] = []
    fig_dir = out_dir / "figures"
    for name, path in figures.items():
        path = Path(path)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))
        if not path.is_file():
            missing.append(str(name))
            continue
        data = path.read_bytes()
        target = fig_dir / f"{safe}.png"
        rel_path = f"figures/{safe}.png"
        try:
            # A figure already in the output folder (monitor.png) is linked where it is.
            rel_path = path.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:
            # report.md links figures/<name>.png, so the file must be there whatever its source.
            fig_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        by_section.setdefault(section_of(str(name)), []).append({
            "kind": "figure",
            "name": str(name),
            "caption": _caption(str(name)),
            "data_uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "rel_path": rel_path,
        })
    return by_section, missing


# ------------------------------------------------------------------------- sections


def _arm_names(block: Mapping | None) -> tuple[str, str]:
    arms = _get(block, "arms") or {}
    return str(arms.get("control", "Control")), str(arms.get("test", "Test"))


def _recommendation_section(results: Mapping) -> dict:
    decision = results.get("decision")
    metric = _get(decision, "metric", default="conversion")
    control, test = _arm_names(results.get(metric) if isinstance(metric, str) else None)
    if isinstance(decision, Mapping) and decision.get("arm"):
        test = str(decision["arm"])
    if isinstance(decision, Mapping) and decision.get("control"):
        control = str(decision["control"])
    rec = _get(decision, "recommendation")
    level = {"double_down": "good", "pivot": "bad", "keep_testing": "neutral"}.get(rec, "neutral")
    lines = T.expected_loss_sentences(decision, test=test, control=control)
    if not lines:
        lines = ["The decision analysis was not run, so no expected losses are available."]
    lines += T.decision_extras(decision, test=test)
    blocks = [_callout(level, T.recommendation_headline(decision, test=test, control=control),
                       lines)]
    loss = _get(decision, "expected_loss") or {}
    if loss:
        thr = _get(decision, "threshold_of_caring")
        p_wrong = _get(decision, "prob_wrong") or {}
        if_wrong = _get(decision, "expected_loss_if_wrong") or {}
        rows = []
        for key in ("double_down", "pivot"):
            value = loss.get(key)
            safe = (T.yes_no(value < thr) if isinstance(value, (int, float))
                    and isinstance(thr, (int, float)) else T.NOT_ESTIMATED)
            rows.append([T.ACTIONS[key][0], T.pp(value, signed=False), T.pp(thr, signed=False),
                         safe, T.prob_1dp(p_wrong.get(key)),
                         T.pp(if_wrong.get(key), signed=False)])
        blocks.append(_table(["Action", "Expected loss", "Threshold of caring", "Below threshold",
                              "P(action is wrong)", "Loss if wrong"],
                             rows, caption=f"Expected loss of each action (averaged over the "
                                           f"posterior, zero where the action is right), in "
                                           f"percentage points of "
                                           f"{T.metric_info(metric)['noun']}; loss if wrong = "
                                           f"expected loss / P(action is wrong)"))
    return _section("recommendation", "Recommendation", blocks)


def _arm_comparison_blocks(block: Mapping | None, *, metric: str, control: str | None = None,
                           test: str | None = None, family: str | None = None) -> list[dict]:
    info = T.metric_info(metric)
    blocks = [_para(f"Definition: {info['definition']}. Denominator: {info['denominator']}.",
                    "muted")]
    if not block:
        blocks.append(_para(f"{info['label']} was {T.NOT_ESTIMATED}."))
        return blocks
    c_name, t_name = _arm_names(block)
    control, test = control or c_name, test or t_name
    blocks.append(_para(T.probability_sentence(block.get("prob_test_better"), metric=metric,
                                               test=test, control=control), "lead"))
    counts = block.get("counts") or {}

    def observed(arm: str) -> str:
        c = counts.get(arm)
        if not c:
            return T.NOT_ESTIMATED
        return f"{T.count(c.get('successes'))} of {T.count(c.get('trials'))}"

    rows = [
        [control, observed(control), T.pct(_get(block, "control", "mean")),
         T.bounds(block.get("control"))],
        [test, observed(test), T.pct(_get(block, "test", "mean")), T.bounds(block.get("test"))],
        [f"Lift, absolute ({test} - {control})", "", T.pp(_get(block, "lift_abs", "mean")),
         T.bounds(block.get("lift_abs"), T.pp)],
        ["Lift, relative", "", T.rel(_get(block, "lift_rel", "mean")),
         T.bounds(block.get("lift_rel"), T.rel)],
    ]
    blocks.append(_table(["", "Observed", "Posterior mean", "95% HDI"], rows,
                         caption=f"Bayesian estimate of the {info['noun']}"))
    freq = block.get("frequentist")
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
        blocks.append(_table(["Frequentist cross-check", ""], rows))
    else:
        blocks.append(_para(f"Frequentist cross-check: {T.NOT_ESTIMATED}."))
    return blocks


def _metric_section(results: Mapping, metric: str, n_metrics: int) -> dict:
    info = T.metric_info(metric)
    block = results.get(metric)
    blocks = _arm_comparison_blocks(block, metric=metric, family=f"{n_metrics} success metrics")
    if block:
        control, test = _arm_names(block)
        agreement = _get(results, "agreement", metric) or T.agreement_sentence(
            block, metric=metric, test=test, control=control)
        blocks.append(_para(f"Bayesian and frequentist answers: {agreement}"))
        flagged = block.get("among_flagged")
        if (metric == "cs_engagement" and isinstance(flagged, Mapping)
                and (not flagged.get("test") or not flagged.get("control"))):
            blocks.append(_para(
                "Secondary definition, among customers flagged as stuck at least once: not "
                f"estimated, since {T.count(flagged.get('n_flagged_test'))} {test} and "
                f"{T.count(flagged.get('n_flagged_control'))} {control} customers were "
                "flagged."))
        elif metric == "cs_engagement" and isinstance(flagged, Mapping):
            blocks.append(_para(
                f"Secondary definition, among customers flagged as stuck at least once: "
                f"{T.interval(flagged.get('test'))} of {T.count(flagged.get('n_flagged_test'))} "
                f"flagged {test} customers engaged with Customer Success, against "
                f"{T.interval(flagged.get('control'))} of "
                f"{T.count(flagged.get('n_flagged_control'))} flagged {control} customers. "
                f"This denominator depends on who gets stuck, which the widget may change, so "
                f"the headline uses all randomized customers."))
    return _section(metric, f"Success metric: {info['label']}", blocks)


def _ratio_rows(blocks: Mapping[str, Mapping | None], *, control: str = "Control",
                test: str = "Test") -> tuple[list[list[str]], list[str], list[str]]:
    """One table row and one plain sentence per ratio metric; a row level marks the ones
    where Test is credibly worse."""
    rows, levels, sentences = [], [], []
    for name, block in blocks.items():
        info = T.ratio_info(str(name), higher_is_better=_get(block, "higher_is_better"))
        if not block:
            rows.append([info["label"], T.NOT_ESTIMATED, "", "", "", ""])
            levels.append("")
            sentences.append(f"{info['label']}: {T.NOT_ESTIMATED} (no denominator in an arm).")
            continue
        fmt = T.ratio_formatter(_get(block, "control", "mean"))
        diff = T.ratio_formatter(_get(block, "control", "mean"), signed=True)
        freq = block.get("frequentist") or {}
        lift = block.get("lift_abs")
        rows.append([
            info["label"],
            fmt(_get(block, "control", "mean")),
            fmt(_get(block, "test", "mean")),
            f"{T.interval(lift, diff)}; {T.rel(_get(block, 'lift_rel', 'mean'))}",
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
    blocks = [_para("Metrics that are one sum divided by another, per randomized customer. "
                    "Bayesian posterior of the ratio of means beside the delta-method test; "
                    "'better' follows each metric's direction.", "muted")]
    if not ratios:
        blocks.append(_para(f"Ratio metrics: {T.NOT_ESTIMATED}."))
        return _section("ratio_metrics", "Ratio metrics", blocks)
    rows, levels, sentences = _ratio_rows(ratios)
    blocks.append(_list(sentences))
    blocks.append(_table(_RATIO_COLUMNS, rows, row_levels=levels,
                         caption="Each metric in its own units (a highlighted row: Test is "
                                 "credibly worse)"))
    definitions = []
    for name, block in ratios.items():
        label = T.ratio_info(str(name), higher_is_better=_get(block, "higher_is_better"))["label"]
        if _get(block, "definition"):
            definitions.append(f"{label}: {block['definition']}.")
    if definitions:
        blocks.append(_details("Definitions", [_list(definitions)]))
    return _section("ratio_metrics", "Ratio metrics", blocks)


def _segment_table(block: Mapping, *, test: str = "Test", control: str = "Control",
                   noun: str = "Conversion") -> dict:
    srm = _get(block, "srm", "per_segment") or {}
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
            T.pp(_get(seg, "lift_abs", "mean")),
            T.bounds(seg.get("lift_abs"), T.pp),
            T.prob(seg.get("prob_lift_positive")),
            T.yes_no(seg.get("differs_from_overall")),
            T.p_value(freq.get("p_value_holm")),
            share,
        ])
        bad = bool(seg.get("differs_from_overall")) or bool(split.get("mismatch"))
        levels.append("warn" if bad else "")
    column = T.column_words(block.get("column") or "segment")
    return _table(["Segment", f"{control} / {test}", "Lift", "95% HDI", "P(lift > 0)",
                   "Differs from overall", "Raw p (Holm)", f"{test} share"], rows,
                  row_levels=levels,
                  caption=f"{noun} lift ({test} - {control}) by {column}, partially pooled")


def _segment_blocks(block: Mapping, *, test: str = "Test", control: str = "Control",
                    noun: str = "Conversion", title: str | None = None) -> list[dict]:
    column = block.get("column") or "segment"
    overall = _get(block, "overall", "lift_abs")
    flagged = bool(block.get("flagged"))
    srm_flagged = bool(_get(block, "srm", "flagged"))
    lines = [T.segment_verdict(block, test=test),
             f"Overall lift across the {T.count(block.get('n_segments'))} segments: "
             f"{T.interval(overall, T.pp)}.",
             T.segment_srm_sentence(block.get("srm"), test=test)]
    level = "bad" if srm_flagged else "neutral" if flagged else "good"
    out = [_callout(level, title or f"By {T.column_words(column)}", lines),
           _segment_table(block, test=test, control=control, noun=noun)]
    if block.get("method") or block.get("flag_rule"):
        out.append(_para(f"Model: {block.get('method') or T.NOT_ESTIMATED}. A segment is flagged "
                         f"when {block.get('flag_rule') or 'its lift departs from the overall'}."
                         f" The raw p-value is one two-proportion test per segment, Holm-"
                         f"adjusted across segments.", "muted"))
    return out


def _segments_section(results: Mapping) -> dict:
    segs = results.get("segments")
    blocks = [_para("Does the conversion lift differ between groups of customers? Lift by "
                    "segment, partially pooled. " + T.POOLING_WHY, "muted")]
    if not segs:
        blocks.append(_para("Segments: no segment column in the data, so none were analysed."
                            if isinstance(segs, Mapping) else f"Segments: {T.NOT_ESTIMATED}."))
        return _section("segments", "Segments", blocks)
    for column, block in segs.items():
        if not block:
            blocks.append(_para(f"Segments by {column}: {T.NOT_ESTIMATED}."))
            continue
        control = str(block.get("control") or "Control")
        test = str(block.get("test") or "Test")
        blocks.extend(_segment_blocks(block, test=test, control=control))
    return _section("segments", "Segments", blocks)


def _sensitivity_quantities(model: str, m: Mapping):
    """(label, default, weaker, stronger, changes, key) per quantity of one model's block:
    the `bayes_ab.sensitivity` shape ({"quantities": {key: {..., "changes"}}, "decision"})
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
    args = ", ".join(f"{k}={v:.4g}" if T._finite(v) else f"{k}={v}" for k, v in spec.items()
                     if k != "dist")
    return f"{spec.get('dist', '?')}({args})"


def _prior_sensitivity_section(sens: Mapping) -> dict:
    rows, levels, changed = _sensitivity_rows(sens)
    if not rows:
        return _section("prior_sensitivity", "Does the prior matter?",
                        [_para(f"Prior sensitivity: {T.NOT_ESTIMATED}.")])
    blocks = [_para("Each model was refitted with a weaker and a stronger prior. If a conclusion "
                    "(the sign of an effect, whether its interval excludes zero, a probability "
                    "above 95% or below 5%, the decision) stays the same, the data drive it.",
                    "muted")]
    if changed:
        blocks.append(_callout("bad", "Yes, for some conclusions", [
            "A weaker or a stronger prior changes the conclusion about: " + ", ".join(changed)
            + ". These answers lean on the prior, not only on the data: read them with care."]))
    else:
        blocks.append(_callout("good", "No: every conclusion holds under a weaker and a "
                                       "stronger prior",
                               ["The data, not the prior, drive the answers above."]))
    inner = [_table(["Quantity", "Default prior", "Weaker prior", "Stronger prior",
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
                    _prior_words(_get(priors, label, var)) for label in
                    ("default", "weaker", "stronger")])
        scales = m.get("scales")
        if isinstance(scales, Mapping) and not notes:
            w, st = scales.get("weaker"), scales.get("stronger")
            which = (f"Weaker prior: precision x{w:g}; stronger: x{st:g}"
                     if T._finite(w) and T._finite(st) else "Weaker and stronger priors")
            notes.append(which + (f" ({m['rule']})." if m.get("rule") else "."))
        psens = m.get("power_scaling")
        thr = m.get("power_scaling_threshold")
        if isinstance(psens, Mapping) and T._finite(thr):
            high = [k for k, v in psens.items() if T._finite(v) and v > thr]
            notes.append(f"{name}, power-scaling check: " + (
                f"prior-sensitive: {', '.join(high)}." if high else
                f"no parameter above the {T.num(thr)} threshold."))
    if prior_rows:
        inner.append(_table(["Prior", "Default", "Weaker", "Stronger"], prior_rows))
    inner += [_para(n, "muted") for n in notes]
    blocks.append(_details("Estimates and priors under each variant", inner))
    return _section("prior_sensitivity", "Does the prior matter?", blocks)


def _help_section(results: Mapping) -> dict:
    hc = results.get("help_channels") or {}
    blocks = [_para("Is CS a better option than OTHER when a customer hits a bump? Each time the "
                    "system flagged a customer as stuck, they chose CS or figured it out another "
                    "way (OTHER). Completion = the customer later completed the flagged task.",
                    "muted")]
    comp = hc.get("completion")
    if comp:
        blocks.append(_para(
            f"After choosing CS, customers completed the flagged task {T.interval(comp.get('cs'))}"
            f" of the time, against {T.interval(comp.get('other'))} after OTHER: a difference of "
            f"{T.interval(comp.get('diff'), T.pp)}. Probability that CS leads to more "
            f"completions: {T.prob(comp.get('prob_cs_better'))}."))
    else:
        blocks.append(_para(f"Completion after help by channel: {T.NOT_ESTIMATED}."))
    ttc = hc.get("time_to_completion")
    if ttc:
        med = ttc.get("median_minutes") or {}
        reached = ttc.get("median_reached_prob") or {}

        def minutes(key: str) -> str:
            v = med.get(key)
            # The median is a posterior interval (older results: a number, or None when
            # fewer than half complete within the window).
            if T._finite(reached.get(key)) and reached[key] < 0.5:
                return "not reached (fewer than half complete)"
            if isinstance(v, Mapping) and T._finite(v.get("mean")):
                return T.interval(v, lambda x: f"{T.num(x, digits=0)} min")
            if T._finite(v):
                return f"{T.num(v, digits=0)} min"
            return "not reached (fewer than half complete)"

        text = (
            f"Speed: customers who chose CS complete at {T.interval(ttc.get('hazard_ratio_cs_vs_other'), T.num)}"
            f" times the rate of those who chose OTHER (hazard ratio; above 1 means CS is faster). "
            f"Probability that CS is faster: {T.prob(ttc.get('prob_cs_faster'))}. Median time "
            f"from the flag to completion: {minutes('cs')} with CS, "
            f"{minutes('other')} with OTHER. Customers who never complete count as "
            f"censored at the end of observation, not dropped.")
        if ttc.get("median_note"):
            text += f" {ttc['median_note']}"
        blocks.append(_para(text))
        logrank = _get(ttc, "frequentist", "logrank")
        cox_hr = _get(ttc, "frequentist", "cox", "hazard_ratio", "CS")
        if logrank or cox_hr:
            parts = []
            if cox_hr:
                parts.append(f"Cox model hazard ratio {T.interval(cox_hr, T.num, kind='CI')}")
            if logrank:
                parts.append(f"log-rank test {T.p_equals(logrank.get('p_value'))}")
            blocks.append(_para("Frequentist cross-check: " + "; ".join(parts) + ".", "muted"))
    else:
        blocks.append(_para(f"Time to completion by channel: {T.NOT_ESTIMATED}."))
    causal = hc.get("causal_effect")
    details = hc.get("causal_effect_details") or {}
    if causal:
        text = (f"Causal effect of choosing CS on completing (among customers who pick CS only "
                f"when the widget invites them, using the random assignment as an instrument): "
                f"{T.interval(causal, T.pp)}.")
        if T._finite(details.get("prob_cs_causes_completion")):
            text += (f" Probability that CS causes more completions: "
                     f"{T.prob(details['prob_cs_causes_completion'])}.")
        naive = details.get("naive_difference")
        if isinstance(naive, Mapping):
            text += (f" The naive CS-minus-OTHER difference is {T.interval(naive, T.pp)}; the gap "
                     f"between the two is the self-selection of who asks for help.")
        elif isinstance(naive, (int, float)):
            text += (f" The naive CS-minus-OTHER difference is {T.pp(naive)}; the gap between the "
                     f"two is the self-selection of who asks for help.")
        blocks.append(_para(text))
        if details.get("weak_instrument"):
            note = details.get("weak_instrument_note") or (
                "the random assignment barely moved who chose CS")
            blocks.append(_callout("bad", "Weak instrument: do not read the causal effect", [
                f"{note[:1].upper()}{note[1:]}."]))
        rows = []
        for key, label, fmt in (("wald", "Wald (ratio) estimate", T.pp),
                                ("first_stage", "First stage: widget's effect on choosing CS", T.pp),
                                ("complier_share", "Share of compliers", T.pct),
                                ("itt_completion", "Widget's effect on completion (intention "
                                                   "to treat)", T.pp)):
            v = details.get(key)
            if isinstance(v, Mapping):
                rows.append([label, T.interval(v, fmt)])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append([label, fmt(v)])
        if "weak_instrument" in details:
            rows.append(["Weak instrument", T.yes_no(details.get("weak_instrument"))])
        flags = details.get("n_first_flags")
        if isinstance(flags, Mapping) and flags:
            rows.append(["Customers at their first flag", ", ".join(
                f"{T.count(v)} in {k}" for k, v in flags.items())])
        if rows:
            inner = [_table(["Instrumental-variable detail", ""], rows)]
            if details.get("assumptions"):
                inner.append(_para(f"Assumptions: {details['assumptions']}.", "muted"))
            blocks.append(_details("How the causal effect was estimated", inner))
    else:
        blocks.append(_para(f"Causal effect of CS on completion: {T.NOT_ESTIMATED}."))
    return _section("help", "Exploration: is CS better than OTHER?", blocks)


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
        worse = (T._finite(diff) and T._finite(dse) and diff > 4 and diff > 2 * dse)
        parts.append(f"{names.get(k, k)}: {T.num(diff, digits=1)} lower (se "
                     f"{T.num(dse, digits=1)}), "
                     + ("a worse fit" if worse else "not distinguishable from it"))
    return ("Shape of the rates, by leave-one-customer-out cross-validation (expected log "
            f"predictive density, higher is better): best {names.get(best, best)}"
            + ("; " + "; ".join(parts) if parts else "") + ".")


def _completions_section(results: Mapping) -> dict:
    cc = results.get("completions_conversion")
    blocks = [_para(COMPLETIONS_INTRO, "muted")]
    if not cc:
        blocks.append(_para(f"Completions and conversion: {T.NOT_ESTIMATED}."))
        return _section("completions", "Exploration: completions and conversion", blocks)
    rates = cc.get("rate_by_completions") or {}
    rows = [[str(k), T.pct(_get(iv, "mean")), T.bounds(iv)] for k, iv in sorted(rates.items())]
    if rows:
        blocks.append(_table(["Tasks completed", "Conversion rate", "95% HDI"], rows))
    blocks.append(_para(
        f"Customers with one more completed task have "
        f"{T.interval(cc.get('odds_ratio_per_completion'), T.num)} times the odds of "
        f"converting (a logistic summary of the four rates). Probability that the rate is "
        f"higher at every additional completion: {T.prob(cc.get('prob_monotone_increasing'))}."))
    shape = _shape_sentence(cc.get("shape_comparison"))
    if shape:
        blocks.append(_para(shape))
    return _section("completions", "Exploration: completions and conversion", blocks)


def _time_section(results: Mapping) -> dict:
    te = results.get("time_and_experience")
    blocks = [_para(TIME_INTRO, "muted")]
    if not te:
        blocks.append(_para(f"Time and experience: {T.NOT_ESTIMATED}."))
    else:
        def slope(key: str) -> str:
            return T.interval(te.get(key), lambda v: T.num(v, digits=3, signed=True))

        blocks.append(_list([
            f"Hour of day: {slope('hour_effect')} difference in the log-odds of success per "
            f"hour later in the day that the task was started; probability that success is "
            f"higher for later hours: {T.prob(te.get('prob_success_rises_with_time'))}.",
            f"Task position: {slope('experience_effect')} difference in the log-odds of success "
            f"per later task; probability that success is higher on later tasks: "
            f"{T.prob(te.get('prob_success_rises_with_experience'))}.",
        ]))
    return _section("time_experience", "Exploration: time and experience", blocks)


def _input_section(results: Mapping) -> dict:
    inp = results.get("input") or {}
    srm = results.get("srm")
    blocks = []
    if inp:
        line = (f"{T.count(inp.get('n_customers'))} randomized customers: "
                f"{T.count(inp.get('n_test'))} in Test, {T.count(inp.get('n_control'))} in Control.")
        if inp.get("source"):
            line += f" Data: {inp['source']}."
        blocks.append(_para(line))
        dropped = inp.get("dropped") or {}
        if dropped:
            blocks.append(_table(["Rows dropped", "Count"],
                                 [[str(k).replace("_", " "), T.count(v)] for k, v in dropped.items()]))
    level = ("bad" if _get(srm, "mismatch") else "neutral"
             if not srm or _get(srm, "judgeable") is False else "good")
    blocks.append(_callout(level, "Sample-ratio check", [T.srm_sentence(srm)]))
    return _section("srm", "Data and sample-ratio check", blocks)


def failing_models(diag: Mapping | None) -> list[tuple[str, list[str]]]:
    """(model, problems) for each model that failed the gates (read, not recomputed)."""
    out = []
    for name, d in (_get(diag, "per_model") or {}).items():
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


def _diagnostics_banner(diag: Mapping | None) -> dict | None:
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


def _diagnostics_section(diag: Mapping | None) -> dict:
    blocks = []
    if not diag:
        blocks.append(_para(f"Sampler diagnostics: {T.NOT_ESTIMATED}."))
        return _section("diagnostics", DIAGNOSTICS_TITLE, blocks)
    if diag.get("passed"):
        blocks.append(_callout("good", "All models passed the sampler health checks", [
            f"Largest r-hat {T.num(diag.get('max_r_hat'), digits=3)} (gate {MAX_R_HAT}), smallest "
            f"bulk ESS {T.count(diag.get('min_ess_bulk'))} (gate {MIN_ESS_BULK}), "
            f"{T.count(diag.get('divergences'))} divergences (gate {MAX_DIVERGENCES})."]))
    else:
        failing = failing_models(diag)
        blocks.append(_callout("bad", "Diagnostics failed",
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
        blocks.append(_table(["Model", "Max r-hat", "Min bulk ESS", "Divergences", "Passed"],
                             rows, row_levels=levels))
    return _section("diagnostics", DIAGNOSTICS_TITLE, blocks)


def _data_quality_section(findings) -> dict:
    if not findings:
        blocks = [_para("No data-quality problems were found.")]
    else:
        rows = [[str(f.get("severity", "")), str(f.get("check", "")), T.count(f.get("count")),
                 str(f.get("message", ""))] for f in findings]
        levels = [{"error": "bad", "warning": "warn"}.get(str(f.get("severity")), "")
                  for f in findings]
        table = _table(["Severity", "Check", "Rows", "Finding"], rows, row_levels=levels)
        if len(rows) <= _OPEN_TABLE_ROWS:
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
            blocks = [_para(f"{len(rows)} findings: {summary}."),
                      _details(f"All {len(rows)} findings", [table])]
    return _section("data_quality", "Data-quality findings", blocks)


def _forensics_section(forensics: Mapping) -> dict:
    verdict = str(forensics.get("verdict") or T.NOT_ESTIMATED)
    lines = []
    if forensics.get("summary"):
        lines.append(str(forensics["summary"]))
    title = (f"Is this data real or simulated? {verdict[:1].upper()}{verdict[1:]}."
             if len(verdict) < 40 else "Is this data real or simulated?")
    if len(verdict) >= 40:
        lines.insert(0, verdict)
    blocks = [_callout("neutral", title, lines or [verdict])]
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
        blocks.append(_details(f"Evidence ({len(rows)} checks)",
                               [_table(cols + ["What it shows"], rows)]))
    if forensics.get("rule"):
        blocks.append(_para(f"Verdict rule: {forensics['rule']}", "muted"))
    return _section("forensics", "Real or simulated?", blocks)


def _glossary_section() -> dict:
    return _section("glossary", "Glossary", [{"kind": "glossary", "items": list(T.GLOSSARY)}])


def _summary_lines(results: Mapping) -> list[str]:
    """Three lines answering the seed's success-metric questions directly."""
    out = []
    for metric in ("cs_engagement", "conversion"):
        block = results.get(metric)
        info = T.metric_info(metric)
        if not block:
            out.append(f"{info['label']}: {T.NOT_ESTIMATED}.")
            continue
        control, test = _arm_names(block)
        sig = _get(block, "frequentist", "significant_95")
        sig_text = ("" if sig is None else
                    " Statistically significant at 95%." if sig else
                    " Not statistically significant at 95%.")
        out.append(f"{info['label']}: {test} {T.pct(_get(block, 'test', 'mean'))} vs {control} "
                   f"{T.pct(_get(block, 'control', 'mean'))}, lift "
                   f"{T.interval(block.get('lift_abs'), T.pp)}; "
                   f"P({test} better) = {T.prob(block.get('prob_test_better'))}.{sig_text}")
    ratios = results.get("ratio_metrics")
    if isinstance(ratios, Mapping) and any(ratios.values()):
        out.append("Ratio metrics: " + _ratio_summary(ratios) + ".")
    segs = results.get("segments")
    if isinstance(segs, Mapping) and any(segs.values()):
        flagged = [f"{s} ({col})" for col, b in segs.items() if b for s in b.get("flagged") or []]
        out.append("Segments: " + (
            "no segment's lift credibly differs from the overall lift." if not flagged else
            "the lift credibly differs from the overall in " + ", ".join(flagged) + "."))
    sens = results.get("prior_sensitivity")
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


# ------------------------------------------------------------------------ documents


def _place_figures(figures: list[dict], *, section: str) -> list[dict]:
    """Headline figures open, the rest collapsed. Sampler figures are all collapsed; a
    section with no headline figure shows its first one open."""
    if section == "diagnostics":
        n = len(figures)
        return [_details(f"Trace and rank plots ({n} figure{'s' if n > 1 else ''})", figures)] \
            if figures else []
    order = list(FIGURE_CAPTIONS)
    head = sorted((f for f in figures if is_headline_figure(f["name"])),
                  key=lambda f: order.index(f["name"]) if f["name"] in order else len(order))
    if not head and figures:
        head = figures[:1]
    rest = [f for f in figures if f not in head]
    out = list(head)
    if rest:
        kinds = []
        for f in rest:
            kind = next((word for suffix, word in _FIGURE_KINDS if f["name"].endswith(suffix)),
                        "other figures")
            if kind not in kinds:
                kinds.append(kind)
        out.append(_details(f"More figures ({len(rest)}): {', '.join(kinds)}", rest))
    return out


def _attach_figures(doc: dict, figures: Mapping[str, Path] | None, out_dir: Path,
                    *, section_of=None) -> dict:
    by_section, missing = _figure_blocks(figures or {}, out_dir, section_of=section_of)
    ids = {s["id"] for s in doc["sections"]}
    for section in doc["sections"]:
        placed = _place_figures(by_section.pop(section["id"], []), section=section["id"])
        section["blocks"].extend(placed)
    leftovers = [f for sid, blocks in by_section.items() if sid not in ids for f in blocks]
    appendix = []
    if leftovers:
        appendix.extend(leftovers)
    if missing:
        appendix.append(_para("Figures listed but not found: " + ", ".join(missing) + ".", "muted"))
    if appendix:
        glossary = [i for i, s in enumerate(doc["sections"]) if s["id"] == "glossary"]
        at = glossary[0] if glossary else len(doc["sections"])
        doc["sections"].insert(at, _section("appendix", "Appendix: other figures", appendix))
    return doc


def build_document(results: Mapping, *, title: str = DEFAULT_TITLE) -> dict:
    """The report of `bayes-ab analyze` as a document of banners and sections (no figures)."""
    banners = []
    diag_banner = _diagnostics_banner(results.get("diagnostics"))
    if diag_banner:
        banners.append(diag_banner)
    if _get(results, "srm", "mismatch"):
        banners.append({"level": "danger", "title": "Sample-ratio mismatch",
                        "lines": [T.srm_sentence(results["srm"])]})
    metrics = [m for m in ("conversion", "cs_engagement")]
    sections = [_recommendation_section(results)]
    sections[0]["blocks"].append(_list(_summary_lines(results)))
    sections += [_metric_section(results, m, len(metrics)) for m in metrics]
    # Blocks added after the first schema (ratio metrics, segments, prior sensitivity) are
    # shown only when results.json has them, so older results still render unchanged.
    if "ratio_metrics" in results:
        sections.append(_ratio_section(results))
    if "segments" in results:
        sections.append(_segments_section(results))
    if isinstance(results.get("prior_sensitivity"), Mapping):
        sections.append(_prior_sensitivity_section(results["prior_sensitivity"]))
    sections += [_help_section(results), _completions_section(results), _time_section(results),
                 _input_section(results), _data_quality_section(results.get("data_quality"))]
    if results.get("forensics"):
        sections.append(_forensics_section(results["forensics"]))
    sections += [_diagnostics_section(results.get("diagnostics")), _glossary_section()]
    n = _get(results, "input", "n_customers")
    subtitle = f"{T.count(n)} randomized customers" if n is not None else ""
    return {"title": title, "subtitle": subtitle, "banners": banners, "sections": sections}


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
    return _section("glossary", "Glossary", [{"kind": "glossary", "items": items}])


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
    blocks = [_callout(level, T.recommendation_headline(dec, test=test, control=control),
                       [line for line in lines if line])]
    return _section("recommendation", "Recommendation", blocks)


def _compare_mean_arm_blocks(block: Mapping | None, *, metric: str, control: str, test: str,
                             family: str | None) -> list[dict]:
    if not block:
        return [_para(f"The mean of {metric} was {T.NOT_ESTIMATED}.")]
    f, fs = _unit_fmt(), _unit_fmt(signed=True)
    counts = block.get("counts") or {}
    blocks = [_para(f"There is a {T.prob(block.get('prob_test_better'))} probability that "
                    f"{test}'s mean {metric} is higher than {control}'s.", "lead")]
    rows = []
    for name in (control, test):
        c = counts.get(name) or {}
        key = "control" if name == control else "test"
        rows.append([name, T.count(c.get("n")), f(c.get("mean")), f(c.get("median")),
                     f(c.get("max")), T.interval(block.get(key), f)])
    rows.append([f"Difference ({test} - {control})", "", fs(_get(block, "lift_abs", "mean")),
                 "", "", T.interval(block.get("lift_abs"), fs)])
    rows.append(["Relative difference", "", T.rel(_get(block, "lift_rel", "mean")), "", "",
                 T.interval(block.get("lift_rel"), T.rel)])
    blocks.append(_table(["", "Rows", "Mean", "Median", "Max", "Posterior mean (95% HDI)"],
                         rows, caption=f"Mean of {metric}: Bayesian bootstrap posterior"))
    freq = block.get("frequentist") or {}
    fam = f" across {family}" if family else ""
    adj = block.get("adjustment")
    if isinstance(adj, Mapping):
        un = adj.get("unadjusted_lift_abs") or {}
        vr = adj.get("variance_reduction")
        blocks.insert(1, _para(
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
    blocks.append(_table(["Frequentist cross-check", ""], rows_f + [
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
    blocks = [_para("Guardrails are outcomes the decision must not harm. The one that would be "
                    "shipped is checked against control: a guardrail blocks shipping when the "
                    "probability that it is worse by more than its margin is at least 95%. "
                    "Holm's adjustment runs across every outcome x arm of the run.", "muted"),
              _table(["Guardrail", "Direction", "Arm", f"Difference (arm - {control}), 95% HDI",
                      "p (Holm)", "P(worse by more than the margin)", "Blocks shipping"],
                     rows, row_levels=levels)]
    return _section("guardrails", "Guardrails", blocks)


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
    diag_banner = _diagnostics_banner(diag)
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
        rec = _recommendation_section({"decision": dec})
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
        sections[0]["blocks"].append(_table(
            ["Arm", "P(best of all arms)", "Loss of choosing it"], rows,
            caption="Every arm, control included: the probability that it is the best, and the "
                    "expected loss of choosing it against the best of all (exact)"))
    if sections and isinstance(srm, Mapping) and not srm.get("mismatch"):
        sections[0]["blocks"].append(_para(" ".join(_compare_srm_lines(srm)),
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
        sections[0]["blocks"].append(_para(
            f"{looks.get('note')} Command: {looks.get('monitor_command')} "
            f"({looks.get('monitor_note')}).", "muted"))
    if input_lines:
        sections.append(_section("input", "Data", [_para(" ".join(input_lines))]))
    family = next(((b.get("frequentist") or {}).get("family_size") for b in arms.values()
                   if isinstance(b, Mapping)), None) or len(arms) or None
    for arm, block in arms.items():
        fam_text = (None if family == 1 else f"{family} comparisons (every arm against {control}"
                    f"{', on every metric' if compare.get('ratio_metric') else ''})")
        if mean_kind:
            sections.append(_section(f"arm_{re.sub(r'[^A-Za-z0-9_-]', '_', str(arm))}",
                                     f"{arm} vs {control}", _compare_mean_arm_blocks(
                                         block, metric=metric, control=control, test=str(arm),
                                         family=fam_text)))
            continue
        blocks = _arm_comparison_blocks(block, metric=metric, control=control, test=str(arm),
                                        family=fam_text)
        if block:
            blocks.append(_para("Bayesian and frequentist answers: " + T.agreement_sentence(
                block, metric=metric, test=str(arm), control=control)))
        sections.append(_section(f"arm_{re.sub(r'[^A-Za-z0-9_-]', '_', str(arm))}",
                                 f"{arm} vs {control}", blocks))
    decisions = {arm: b["decision"] for arm, b in arms.items()
                 if isinstance(b, Mapping) and isinstance(b.get("decision"), Mapping)}
    if len(decisions) > 1:
        lf = _unit_fmt() if mean_kind else (lambda v: T.pp(v, signed=False))
        rows = [[str(arm), T.ACTIONS.get(d.get("recommendation"), ("?",))[0],
                 lf(_get(d, "expected_loss", "double_down")),
                 lf(_get(d, "expected_loss_if_wrong", "double_down")),
                 lf(_get(d, "expected_loss", "pivot")),
                 T.prob(d.get("prob_test_better"))] for arm, d in decisions.items()]
        sections[0]["blocks"].append(_table(
            ["Arm", "Decision against control", "Expected loss of shipping",
             "Loss if shipping is wrong", "Expected loss of dropping",
             "P(better than control)"], rows,
            caption="Each arm against control alone; expected loss averaged over the "
                    "posterior (zero where the action is right) = P(wrong) x loss if wrong"))
    guard = _compare_guardrail_section(compare, control=control)
    if guard:
        sections.append(guard)
    sections += _compare_extra_sections(compare, control=control, metric=metric)
    sections.append(_section("figures", "Posterior figures", []))
    if isinstance(diag, Mapping) and diag.get("sampled") is False:
        sections.append(_section("diagnostics", DIAGNOSTICS_TITLE, [_para(
            f"No sampler was needed ({diag.get('note') or 'exact posteriors'}), so there are no "
            f"sampler health checks to report.", "muted")]))
    else:
        sections.append(_diagnostics_section(diag))
    sections.append(_compare_glossary(compare))
    return {"title": title or f"A/B comparison of {metric}: each arm against {control}",
            "subtitle": f"{len(arms) + 1} arms", "banners": banners, "sections": sections}


def _compare_ratio_section(ratios: Mapping, *, control: str) -> dict:
    first = next((b for b in ratios.values() if b), None) or {}
    name = str(first.get("metric") or "ratio")
    info = T.ratio_info(name, higher_is_better=first.get("higher_is_better"))
    blocks = [_para(f"{info['label']}: sum of the numerator over sum of the denominator per arm, "
                    f"the row (customer) as the unit; {info['better']}. Bayesian posterior of "
                    f"the ratio of means beside the delta-method test.", "muted")]
    rows, levels, sentences = [], [], []
    for arm, block in ratios.items():
        if not block:
            sentences.append(f"{arm} vs {control}: {T.NOT_ESTIMATED}.")
            continue
        fmt = T.ratio_formatter(_get(block, "control", "mean"))
        diff = T.ratio_formatter(_get(block, "control", "mean"), signed=True)
        freq = block.get("frequentist") or {}
        lift = block.get("lift_abs")
        rows.append([str(arm), fmt(_get(block, "control", "mean")), fmt(_get(block, "test", "mean")),
                     f"{T.interval(lift, diff)}; {T.rel(_get(block, 'lift_rel', 'mean'))}",
                     f"{T.interval(freq.get('ci95_diff'), diff, kind='CI')}, "
                     f"{T.p_equals(freq.get('p_value'))}"
                     + (f" (Holm {T.p_value(freq['p_value_holm'])})"
                        if freq.get("p_value_holm") is not None else ""),
                     T.prob(block.get("prob_test_better"))])
        higher = block.get("higher_is_better") is not False
        worse = T.excludes(lift) and (lift["mean"] > 0) != higher
        levels.append("warn" if worse else "")
        rec = _get(block, "decision", "recommendation")
        sentence = T.ratio_sentence(block, name=name, test=str(arm), control=control)
        if rec in T.ACTIONS:
            sentence += f" On this metric alone: {T.ACTIONS[rec][0].lower()}."
        sentences.append(sentence)
    blocks.append(_list(sentences))
    if rows:
        blocks.append(_table(["Arm", control, "Arm's value", "Difference (arm - control); "
                              "relative", "Delta-method test", "P(arm better)"], rows,
                             row_levels=levels, caption=f"{info['label']}, each arm against "
                                                        f"{control}"))
    return _section("ratio_metric", f"Ratio metric: {info['label']}", blocks)


def _compare_segments_section(segs: Mapping, *, control: str, metric: str) -> dict:
    noun = T.metric_info(metric)["label"]
    column = next((str(b.get("column")) for b in segs.values() if b and b.get("column")),
                  "segment")
    blocks = [_para(f"Does the lift differ between groups of rows (by {T.column_words(column)})? "
                    + T.POOLING_WHY, "muted")]
    for arm, block in segs.items():
        if not block:
            blocks.append(_para(f"{arm} vs {control} by segment: {T.NOT_ESTIMATED}."))
            continue
        blocks.extend(_segment_blocks(block, test=str(arm), control=control, noun=noun,
                                      title=f"{arm} vs {control}, by "
                                            f"{T.column_words(column)}"))
    return _section("segments", f"Segments by {T.column_words(column)}", blocks)


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
             f"{fmt(_get(ph, 'tau', 'mean')).lstrip('+')} (between-experiment spread, 95% HDI "
             f"up to {fmt(_get(ph, 'tau', 'upper')).lstrip('+')})."]
    blocks = [_callout("neutral", "What past experiments say", lines)]
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
            f"{arm} vs {control}: today's {unit} of {fmt(_get(a, 'raw', 'mean'))} moves "
            f"{T.pct(a.get('shrinkage'), digits=0)} of the way toward the past experiments' "
            f"{fmt(a.get('prior_mean'))}, to {T.interval(a.get('shrunk'), fmt)}; its interval "
            f"is {T.num(a.get('width_ratio'))} times as wide.")
    if sentences:
        blocks.append(_list(sentences))
    if rows:
        blocks.append(_table(["Arm", f"Today alone ({unit}, 95% interval)",
                              "With the prior from history", "Shrinkage", "Width ratio",
                              "P(lift > 0), today / with prior"], rows))
    note = ph.get("note") or ("Extra view: the main analysis above keeps its own priors.")
    method = (f" Model: hierarchical normal, {ph['method']}; hyperpriors mu ~ "
              f"{_get(ph, 'priors', 'mu', default='?')}, tau ~ "
              f"{_get(ph, 'priors', 'tau', default='?')}." if ph.get("method") else "")
    blocks.append(_para(str(note) + method, "muted"))
    return _section("prior_from_history", "Prior from past experiments", blocks)


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


# ------------------------------------------------------------------------- monitor


_MONITOR_GLOSSARY = (
    ("Always-valid confidence sequence", "A range for the lift that holds, with 95% "
     "probability, at every look at once: unlike a daily confidence interval, looking every day "
     "and stopping when it excludes zero keeps the false-positive rate at 5%."),
    ("Peeking", "Checking a fixed-horizon test (p < 0.05, or P(better) > 95%) every day and "
     "stopping at the first success: with 30 looks this declares a winner in about a quarter of "
     "experiments where there is none."),
    ("Calibrated Bayesian rule", "Stop when P(Test better) (or worse) passes a threshold chosen "
     "by simulating experiments with no difference and the planned look schedule (a plan file "
     "fixed on the first run and reused), so that the false-positive rate stays at the "
     "promised level however often the monitor is rerun."),
)


def _stop_line(rule: Mapping | None, *, name: str, test: str, control: str) -> tuple[str, str]:
    """(sentence, level) for one stopping rule."""
    if not rule:
        return f"{name}: {T.NOT_ESTIMATED}.", "neutral"
    if rule.get("available") is False:
        return f"{name}: not computed, {rule.get('reason')}.", "neutral"
    if not rule.get("stopped"):
        return f"{name}: keep going, no stop yet.", "neutral"
    better = rule.get("direction") == "test_better"
    what = f"{test} is better than {control}" if better else f"{test} is worse than {control}"
    return (f"{name}: stop, {what} (since look {T.count(rule.get('look'))}, "
            f"{rule.get('date')}).", "good" if better else "bad")


def build_monitor_document(result: Mapping, *, title: str | None = None) -> dict:
    """The report of `bayes-ab monitor`: where the running experiment stands, whether a
    peeking-safe rule says stop, and the look-by-look table."""
    inp = result.get("input") or {}
    control, test = str(inp.get("control", "control")), str(inp.get("test", "test"))
    metric = str(inp.get("metric") or "outcome")
    latest = result.get("latest") or {}
    stopping = result.get("stopping") or {}
    settings = result.get("settings") or {}
    looks = list(result.get("looks") or [])
    cs_line, cs_level = _stop_line(stopping.get("confidence_sequence"),
                                   name="Confidence-sequence rule", test=test, control=control)
    by_line, by_level = _stop_line(stopping.get("bayes_calibrated"),
                                   name="Calibrated Bayesian rule", test=test, control=control)
    stopped = [lv for lv in (cs_level, by_level) if lv != "neutral"]
    level = stopped[0] if stopped else "neutral"
    if cs_level != "neutral":
        headline = ("Stop: " + (f"{test} is better than {control}." if cs_level == "good"
                                else f"{test} is worse than {control}."))
    elif by_level != "neutral":
        headline = ("Stop (calibrated Bayesian rule): " + (
            f"{test} is better than {control}." if by_level == "good"
            else f"{test} is worse than {control}."))
    else:
        headline = "Keep going: no peeking-safe rule says stop yet."
    noun = T.metric_info(metric)["noun"]
    lines = [
        f"Latest look ({latest.get('date', T.NOT_ESTIMATED)}): lift in {noun} ({test} - "
        f"{control}) {T.interval(latest.get('confidence_sequence'), T.pp, kind='always-valid CS')}"
        f"; posterior {T.interval(latest.get('posterior_lift_abs'), T.pp)}; probability that "
        f"{test} is better: {T.prob(latest.get('prob_test_better'))}; always-valid "
        f"{T.p_equals(latest.get('always_valid_p'))}.",
        cs_line, by_line,
    ]
    safe_looks = [r.get("look") for r in (stopping.get("confidence_sequence"),
                                          stopping.get("bayes_calibrated"))
                  if isinstance(r, Mapping) and r.get("stopped") and r.get("look")]
    first_safe = min(safe_looks) if safe_looks else float("inf")
    naive = [(r["look"], name, r) for key, name in (
                 ("naive_p_value", "A naive daily p-value"),
                 ("naive_prob_better", "A naive daily P(better) > 95%"))
             for r in [stopping.get(key) or {}]
             if r.get("stopped") and r.get("look") and r["look"] < first_safe]
    if naive:
        # The earliest naive stop that comes before any peeking-safe one.
        _, name, rule = min(naive, key=lambda t: t[0])
        lines.append(f"{name} would have stopped already on {rule.get('date')} (look "
                     f"{T.count(rule.get('look'))}): calling it that early is the peeking "
                     f"bias these rules avoid.")
    blocks = [_callout(level, headline, lines),
              _para("The confidence-sequence rule keeps its promised error rate "
                    f"({T.pct(settings.get('alpha'), digits=0)} false positives) however often "
                    "you look, including unplanned looks; the calibrated Bayesian rule keeps it "
                    "over the planned looks of its plan; a daily p-value or P(better) > 95% "
                    "does not.", "muted")]
    sections = [_section("status", "Where the experiment stands", blocks)]
    if looks:
        rows = [[str(lk.get("date")), f"{T.count(lk.get('n_control'))} / {T.count(lk.get('n_test'))}",
                 f"{T.pct(lk.get('rate_control'))} / {T.pct(lk.get('rate_test'))}",
                 T.pp(lk.get("lift_abs_observed")),
                 T.bounds(lk.get("confidence_sequence"), T.pp),
                 T.prob(lk.get("prob_test_better")),
                 "yes" if lk.get("stop_confidence_sequence") else
                 "no" if lk.get("eligible") else "too few events"]
                for lk in looks]
        levels = ["warn" if lk.get("stop_confidence_sequence") else "" for lk in looks]
        table = _table(["Date", f"{control} / {test}", "Rates", "Observed lift",
                        "95% always-valid CS", f"P({test} better)", "CS excludes 0"], rows,
                       row_levels=levels, caption="Cumulative counts at each look")
        sections.append(_section("looks", f"Look by look ({len(looks)} looks)", [
            table if len(rows) <= 10 else _details(f"All {len(rows)} looks", [table])]))
    method = []
    if settings:
        method.append(f"Confidence sequence: normal-mixture SPRT, mixture spread tau = "
                      f"{T.pp(settings.get('tau'), signed=False)}; set from: "
                      f"{settings.get('tau_source')}.")
        cal = settings.get("calibration") or {}
        if settings.get("bayes_threshold") is not None:
            method.append(f"Calibrated Bayesian threshold: P(better) above "
                          f"{T.num(settings.get('bayes_threshold'), digits=4)}, from "
                          f"{T.count(cal.get('n_sims'))} simulated experiments with no "
                          f"difference ({cal.get('method', 'A/A simulation')}).")
        method.append(f"Prior: {settings.get('prior', T.NOT_ESTIMATED)}.")
        method.append(f"A look may stop only once each arm has {T.count(settings.get('min_events'))}"
                      f" successes and failures.")
    if inp.get("control_note"):
        method.append(str(inp["control_note"]))
    if method:
        sections.append(_section("method", "How it was computed", [_list(method)]))
    sections.append(_section("glossary", "Glossary",
                             [{"kind": "glossary", "items": list(_MONITOR_GLOSSARY)}]))
    subtitle = (f"{T.count(len(looks))} looks, {looks[0].get('date')} to {looks[-1].get('date')}"
                if looks else "")
    return {"title": title or f"Monitoring {test} against {control}: {noun}",
            "subtitle": subtitle, "banners": [], "sections": sections}


def render_monitor_report(result: Mapping, *, figure: Path | None = None, out_dir: Path,
                          title: str | None = None) -> tuple[Path, Path]:
    """Write ``monitor.html`` and ``monitor.md`` for `bayes-ab monitor` (the figure, e.g.
    monitor.png, is shown under the status). Returns (monitor.html, monitor.md)."""
    out_dir = Path(out_dir)
    doc = build_monitor_document(result, title=title)
    figures = {"monitor": Path(figure)} if figure is not None else {}
    doc = _attach_figures(doc, figures, out_dir, section_of=lambda name: "status")
    return render_document(doc, out_dir=out_dir, stem="monitor")


# -------------------------------------------------------------------------- output


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: Any) -> str:
    """Escape text for Markdown so that names and messages cannot inject markup or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def _environment(*, html: bool):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def render_document(doc: Mapping, *, out_dir: Path, stem: str = "report") -> tuple[Path, Path]:
    """Write ``out_dir/<stem>.html`` and ``out_dir/<stem>.md`` from a document."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = _environment(html=True).get_template("report.html.j2").render(doc=doc)
    md = _environment(html=False).get_template("report.md.j2").render(doc=doc)
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    html_path.write_text(html, encoding="utf-8")
    md_path.write_text(md, encoding="utf-8")
    return html_path, md_path


def render_report(results: Mapping, *, figures: Mapping[str, Path] | None = None,
                  out_dir: Path, title: str = DEFAULT_TITLE) -> tuple[Path, Path]:
    """Write the decision-maker's report of `bayes-ab analyze` (HTML and Markdown).

    ``figures`` maps a figure name (``conversion_posterior``, ``help_completion_forest``, ...)
    to a PNG file; each is shown in the section its name belongs to (``figure_section``),
    unknown names in an appendix. Returns (report.html, report.md).
    """
    out_dir = Path(out_dir)
    doc = _attach_figures(build_document(results, title=title), figures, out_dir)
    return render_document(doc, out_dir=out_dir)


def render_compare_report(compare: Mapping, *, figures: Mapping[str, Path] | None = None,
                          out_dir: Path, title: str | None = None) -> tuple[Path, Path]:
    """Write the report of `bayes-ab compare` (HTML and Markdown). Figures of unknown
    sections go to the appendix, sampler trace/rank plots to the diagnostics section."""
    out_dir = Path(out_dir)
    doc = build_compare_document(compare, title=title)
    doc = _attach_figures(doc, figures, out_dir, section_of=lambda name: (
        "diagnostics" if name.endswith(_DIAGNOSTIC_SUFFIXES) else "figures"))
    doc["sections"] = [s for s in doc["sections"] if s["blocks"]]
    return render_document(doc, out_dir=out_dir)
