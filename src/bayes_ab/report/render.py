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
    "render_compare_report",
    "render_document",
    "render_report",
]

DEFAULT_TITLE = "Help-widget experiment: did the Test experience work?"
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


def _caption(name: str) -> str:
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
        # report.md links figures/<name>.png, so the file must be there whatever its source.
        if target.resolve() != path.resolve():
            fig_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        by_section.setdefault(section_of(str(name)), []).append({
            "kind": "figure",
            "name": str(name),
            "caption": _caption(str(name)),
            "data_uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "rel_path": f"figures/{safe}.png",
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
    lines += T.decision_extras(decision)
    blocks = [_callout(level, T.recommendation_headline(decision, test=test, control=control),
                       lines)]
    loss = _get(decision, "expected_loss") or {}
    if loss:
        thr = _get(decision, "threshold_of_caring")
        rows = []
        for key in ("double_down", "pivot"):
            value = loss.get(key)
            safe = (T.yes_no(value < thr) if isinstance(value, (int, float))
                    and isinstance(thr, (int, float)) else T.NOT_ESTIMATED)
            rows.append([T.ACTIONS[key][0], T.pp(value, signed=False), T.pp(thr, signed=False),
                         safe])
        blocks.append(_table(["Action", "Expected loss", "Threshold of caring", "Below threshold"],
                             rows, caption=f"Expected loss of each action, in percentage points "
                                           f"of {T.metric_info(metric)['noun']}"))
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
    return _section(metric, f"Success metric: {info['label']}", blocks)


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

        def minutes(v) -> str:
            return (f"{T.num(v, digits=0)} min" if isinstance(v, (int, float))
                    else "not reached (fewer than half complete)")

        blocks.append(_para(
            f"Speed: customers who chose CS complete at {T.interval(ttc.get('hazard_ratio_cs_vs_other'), T.num)}"
            f" times the rate of those who chose OTHER (hazard ratio; above 1 means CS is faster). "
            f"Probability that CS is faster: {T.prob(ttc.get('prob_cs_faster'))}. Median time "
            f"from the flag to completion: {minutes(med.get('cs'))} with CS, "
            f"{minutes(med.get('other'))} with OTHER. Customers who never complete count as "
            f"censored at the end of the day, not dropped."))
    else:
        blocks.append(_para(f"Time to completion by channel: {T.NOT_ESTIMATED}."))
    causal = hc.get("causal_effect")
    details = hc.get("causal_effect_details") or {}
    if causal:
        text = (f"Causal effect of choosing CS on completing (among customers who pick CS only "
                f"when the widget invites them, using the random assignment as an instrument): "
                f"{T.interval(causal, T.pp)}.")
        naive = details.get("naive_difference")
        if isinstance(naive, Mapping):
            text += (f" The naive CS-minus-OTHER difference is {T.interval(naive, T.pp)}; the gap "
                     f"between the two is the self-selection of who asks for help.")
        elif isinstance(naive, (int, float)):
            text += (f" The naive CS-minus-OTHER difference is {T.pp(naive)}; the gap between the "
                     f"two is the self-selection of who asks for help.")
        blocks.append(_para(text))
        rows = []
        for key, label, fmt in (("wald", "Wald (ratio) estimate", T.pp),
                                ("first_stage", "First stage: widget's effect on choosing CS", T.pp),
                                ("complier_share", "Share of compliers", T.pct)):
            v = details.get(key)
            if isinstance(v, Mapping):
                rows.append([label, T.interval(v, fmt)])
            elif isinstance(v, (int, float)):
                rows.append([label, fmt(v)])
        if rows:
            blocks.append(_table(["Instrumental-variable detail", ""], rows))
    else:
        blocks.append(_para(f"Causal effect of CS on completion: {T.NOT_ESTIMATED}."))
    return _section("help", "Exploration: is CS better than OTHER?", blocks)


def _completions_section(results: Mapping) -> dict:
    cc = results.get("completions_conversion")
    blocks = [_para("Does completing the three getting-started tasks make a customer more likely "
                    "to convert? Conversion rate by the number of tasks completed (0 to 3), both "
                    "arms pooled.", "muted")]
    if not cc:
        blocks.append(_para(f"Completions and conversion: {T.NOT_ESTIMATED}."))
        return _section("completions", "Exploration: completions and conversion", blocks)
    rates = cc.get("rate_by_completions") or {}
    rows = [[str(k), T.pct(_get(iv, "mean")), T.bounds(iv)] for k, iv in sorted(rates.items())]
    if rows:
        blocks.append(_table(["Tasks completed", "Conversion rate", "95% HDI"], rows))
    blocks.append(_para(
        f"Each additional completed task multiplies the odds of converting by "
        f"{T.interval(cc.get('odds_ratio_per_completion'), T.num)}. Probability that conversion "
        f"rises with every additional completion: {T.prob(cc.get('prob_monotone_increasing'))}."))
    return _section("completions", "Exploration: completions and conversion", blocks)


def _time_section(results: Mapping) -> dict:
    te = results.get("time_and_experience")
    blocks = [_para("Does success rise with time of day and with experience? Task success (a "
                    "started task is completed) against the hour of the start and the task's "
                    "position (1, 2, 3).", "muted")]
    if not te:
        blocks.append(_para(f"Time and experience: {T.NOT_ESTIMATED}."))
    else:
        blocks.append(_list([
            f"Hour of day: {T.interval(te.get('hour_effect'), lambda v: T.num(v, digits=3, signed=True))}"
            f" change in the log-odds of success per hour; probability that success rises with "
            f"time: {T.prob(te.get('prob_success_rises_with_time'))}.",
            f"Experience: {T.interval(te.get('experience_effect'), lambda v: T.num(v, digits=3, signed=True))}"
            f" change in the log-odds of success per additional task; probability that success "
            f"rises with experience: {T.prob(te.get('prob_success_rises_with_experience'))}.",
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
    level = "bad" if _get(srm, "mismatch") else "good" if srm else "neutral"
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
        return _section("diagnostics", "Sampler diagnostics", blocks)
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
    return _section("diagnostics", "Sampler diagnostics", blocks)


def _data_quality_section(findings) -> dict:
    if not findings:
        blocks = [_para("No data-quality problems were found.")]
    else:
        rows = [[str(f.get("severity", "")), str(f.get("check", "")), T.count(f.get("count")),
                 str(f.get("message", ""))] for f in findings]
        levels = [{"error": "bad", "warning": "warn"}.get(str(f.get("severity")), "")
                  for f in findings]
        blocks = [_table(["Severity", "Check", "Rows", "Finding"], rows, row_levels=levels)]
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
        rows = []
        for e in evidence:
            row = [str(e.get("check", "")), T.num(e.get("statistic"), digits=3),
                   T.p_value(e.get("p_value"))]
            if with_hint:
                hint = str(e.get("verdict_hint") or "")
                row.append(f"{hint} ({e['strength']})" if e.get("strength") and hint in
                           ("simulated", "real") else hint)
            rows.append(row + [str(e.get("message", ""))])
        cols = ["Check", "Statistic", "p-value"] + (["Points to"] if with_hint else [])
        blocks.append(_table(cols + ["What it shows"], rows))
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
    return out


# ------------------------------------------------------------------------ documents


def _attach_figures(doc: dict, figures: Mapping[str, Path] | None, out_dir: Path,
                    *, section_of=None) -> dict:
    by_section, missing = _figure_blocks(figures or {}, out_dir, section_of=section_of)
    ids = {s["id"] for s in doc["sections"]}
    for section in doc["sections"]:
        section["blocks"].extend(by_section.pop(section["id"], []))
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
    sections += [_help_section(results), _completions_section(results), _time_section(results),
                 _input_section(results), _diagnostics_section(results.get("diagnostics")),
                 _data_quality_section(results.get("data_quality"))]
    if results.get("forensics"):
        sections.append(_forensics_section(results["forensics"]))
    sections.append(_glossary_section())
    n = _get(results, "input", "n_customers")
    subtitle = f"{T.count(n)} randomized customers" if n is not None else ""
    return {"title": title, "subtitle": subtitle, "banners": banners, "sections": sections}


def build_compare_document(compare: Mapping, *, title: str | None = None) -> dict:
    """The report of `bayes-ab compare`: one arm comparison per non-control arm."""
    control = str(compare.get("control", "control"))
    inp = compare.get("input") or {}
    metric = str(inp.get("outcome_col") or "outcome")
    arms = compare.get("arms") or {}
    banners = []
    diag_banner = _diagnostics_banner(compare.get("diagnostics"))
    if diag_banner:
        banners.append(diag_banner)
    sections = []
    decision = compare.get("decision")
    if decision:
        dec = dict(decision)
        dec.setdefault("metric", metric)
        dec.setdefault("control", control)
        sections.append(_recommendation_section({"decision": dec}))
    input_lines = []
    if inp.get("file"):
        input_lines.append(f"File: {inp['file']}.")
    if inp.get("group_col"):
        input_lines.append(f"Groups from column '{inp['group_col']}', outcome from column "
                           f"'{inp.get('outcome_col')}'.")
    if inp.get("control_note"):
        input_lines.append(str(inp["control_note"]))
    n_rows = inp.get("n_rows")
    if n_rows is not None:
        input_lines.append(f"{T.count(n_rows)} rows.")
    if input_lines:
        sections.append(_section("input", "Data", [_para(" ".join(input_lines))]))
    n_family = len(arms) or None
    for arm, block in arms.items():
        blocks = _arm_comparison_blocks(block, metric=metric, control=control, test=str(arm),
                                        family=None if n_family == 1 else
                                        f"{n_family} arms compared with {control}")
        if block:
            blocks.append(_para("Bayesian and frequentist answers: " + T.agreement_sentence(
                block, metric=metric, test=str(arm), control=control)))
        sections.append(_section(f"arm_{re.sub(r'[^A-Za-z0-9_-]', '_', str(arm))}",
                                 f"{arm} vs {control}", blocks))
    decisions = {arm: b["decision"] for arm, b in arms.items()
                 if isinstance(b, Mapping) and isinstance(b.get("decision"), Mapping)}
    if len(decisions) > 1:
        rows = [[str(arm), T.ACTIONS.get(d.get("recommendation"), ("?",))[0],
                 T.pp(_get(d, "expected_loss", "double_down"), signed=False),
                 T.pp(_get(d, "expected_loss", "pivot"), signed=False),
                 T.prob(d.get("prob_test_better"))] for arm, d in decisions.items()]
        sections[0]["blocks"].append(_table(
            ["Arm", "Decision against control", "Expected loss if shipped",
             "Expected loss if dropped", "P(better than control)"], rows,
            caption="Each arm against control"))
    sections.append(_section("figures", "Posterior figures", []))
    sections.append(_diagnostics_section(compare.get("diagnostics")))
    sections.append(_glossary_section())
    return {"title": title or f"A/B comparison of {metric}: each arm against {control}",
            "subtitle": f"{len(arms) + 1} arms", "banners": banners, "sections": sections}


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


def render_document(doc: Mapping, *, out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/report.html`` and ``out_dir/report.md`` from a document."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = _environment(html=True).get_template("report.html.j2").render(doc=doc)
    md = _environment(html=False).get_template("report.md.j2").render(doc=doc)
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
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
