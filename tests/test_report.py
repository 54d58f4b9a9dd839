"""The decision-maker's report: content, order, escaping, figures, missing blocks."""

from __future__ import annotations

import base64
import copy
import html as html_module
import json
import re
from pathlib import Path

import pytest

from bayes_ab.report import build_document, render_compare_report, render_report
from bayes_ab.report import text as T
from bayes_ab.report.common import figure_section, md_escape

FIXTURE = Path(__file__).parent / "fixtures" / "results_example.json"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def pngs(tmp_path_factory) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = tmp_path_factory.mktemp("figs")
    out = {}
    for name in ("conversion_posterior", "help_completion_forest", "conversion_trace",
                 "mystery_plot"):
        fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
        ax.plot([0, 1, 2], [0, 1, 0])
        ax.set_title(name)
        out[name] = d / f"src_{name}.png"
        fig.savefig(out[name])
        plt.close(fig)
    return out


def _sections(html: str) -> dict[str, str]:
    """HTML of each <section id=...>."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', html, flags=re.S))


def test_fixture_follows_the_schema(results):
    # The fixture stands in for analyze's results.json: every schema key must be there.
    for key in ("schema_version", "input", "srm", "conversion", "cs_engagement", "help_channels",
                "completions_conversion", "time_and_experience", "decision", "diagnostics",
                "data_quality"):
        assert key in results
    for metric in ("conversion", "cs_engagement"):
        block = results[metric]
        assert set(block) >= {"control", "test", "lift_abs", "lift_rel", "prob_test_better",
                              "frequentist"}
        assert set(block["frequentist"]) == {"test", "p_value", "p_value_holm", "ci95_diff",
                                             "significant_95"}


def test_report_content_and_order(results, tmp_path):
    html_path, md_path = render_report(results, figures={}, out_dir=tmp_path)
    html, md = html_path.read_text(), md_path.read_text()
    body = html.split("</nav>", 1)[1]  # the table of contents lists every title first
    for text in (body, md):
        # The recommendation comes first, before any metric.
        assert text.index("Double down") < text.index("Success metric: Conversion")
        assert text.index("Success metric: Conversion") < text.index("Success metric: CS engagement")
        assert "There is a 99.6% probability that Test converts better than Control." in text
        assert ("The probability that Test engages more customers with Customer Success than "
                "Control is more than 99.9%.") in text
        # Expected losses in pp with the threshold, and what expected loss means.
        assert "0.0021 pp of conversion rate" in text
        assert "1.94 pp of conversion rate" in text
        assert "threshold of caring is 0.10 pp" in text
        assert "Expected loss = how much of the metric we give up on average" in text
        # Definitions and denominators.
        assert "all randomized customers of the arm (intention to treat)" in text
        # Frequentist block.
        assert "+1.94 pp (95% CI +0.53 pp to +3.38 pp)" in text
        assert "Holm-adjusted across 2 success metrics" in text
        assert "Significant at 95% confidence" in text
        # Exploration answers.
        assert "74.2% (95% HDI 71.6% to 76.7%)" in text
        assert "18 min with CS, 32 min with OTHER" in text
        assert "+9.40 pp (95% HDI +2.10 pp to +17.10 pp)" in text
        assert "1.86 (95% HDI 1.74 to 1.99)" in text
        # SRM, diagnostics, forensics, glossary.
        assert "30.1% were observed" in text
        assert "All models passed" in text
        assert "Is this data real or simulated? Simulated." in text
        assert "Verdict: simulated (5 point(s) for simulated, 1 for real, from 4 checks)." in text
        assert "simulated (strong)" in text
        # Decision extras: ROPE and money.
        assert ("a difference smaller than 0.20 pp does not matter; the probability that the "
                "true difference is that small is 4%") in text
        assert "expected loss of doubling down 0.0021 USD, of pivoting 1.94 USD" in text
        assert "Threshold of caring" in text
    # The optional `agreement` sentence replaces the generated one.
    assert "significant at 95% after the Holm adjustment" in html
    assert "DIAGNOSTICS FAILED" not in html
    assert "+17.5%" in md  # relative lift is signed


def test_html_is_self_contained(results, pngs, tmp_path):
    html_path, _ = render_report(results, figures=pngs, out_dir=tmp_path)
    html = html_path.read_text()
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == 4
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    # The embedded bytes are the figure's bytes.
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in srcs}
    assert embedded == {p.read_bytes() for p in pngs.values()}


def test_figures_go_to_their_sections_and_are_copied(results, pngs, tmp_path):
    html_path, md_path = render_report(results, figures=pngs, out_dir=tmp_path)
    sections = _sections(html_path.read_text())
    assert 'id="fig-conversion_posterior"' in sections["conversion"]
    assert 'id="fig-help_completion_forest"' in sections["help"]
    assert 'id="fig-conversion_trace"' in sections["diagnostics"]
    assert 'id="fig-mystery_plot"' in sections["appendix"]
    md = md_path.read_text()
    for name, src in pngs.items():
        assert f"](figures/{name}.png)" in md
        assert (tmp_path / "figures" / f"{name}.png").read_bytes() == src.read_bytes()


def test_missing_figure_is_listed_not_fatal(results, tmp_path):
    html_path, _ = render_report(results, figures={"conversion_posterior": tmp_path / "nope.png"},
                                 out_dir=tmp_path / "out")
    html = html_path.read_text()
    assert "<img" not in html
    assert "Figures listed but not found: conversion_posterior." in html


def test_forensics_with_a_sentence_verdict(results, tmp_path):
    other = copy.deepcopy(results)
    other["forensics"] = {"verdict": "Simulated: the timestamps are too regular for real data.",
                          "evidence": [{"check": "gaps", "statistic": 3.0, "p_value": 0.5,
                                        "message": "fine"}]}
    html = render_report(other, figures={}, out_dir=tmp_path)[0].read_text()
    sec = _sections(html)["forensics"]
    assert "Simulated: the timestamps are too regular for real data." in sec
    assert "Points to" not in sec


def test_figure_sections():
    assert figure_section("conversion_posterior") == "conversion"
    assert figure_section("completions_conversion") == "completions"
    assert figure_section("cs_engagement_forest") == "cs_engagement"
    assert figure_section("survival_km_ppc") == "help"
    assert figure_section("time_experience") == "time_experience"
    assert figure_section("cs_engagement_rank") == "diagnostics"
    assert figure_section("whatever") == "appendix"


def test_failed_diagnostics_banner_lists_failing_models(results, tmp_path):
    bad = copy.deepcopy(results)
    bad["diagnostics"]["passed"] = False
    bad["diagnostics"]["per_model"]["help_completion"].update(
        {"max_r_hat": 1.07, "divergences": 12, "passed": False})
    bad["diagnostics"]["per_model"]["time_to_completion"].update(
        {"min_ess_bulk": 88.0, "passed": False})
    html = render_report(bad, figures={}, out_dir=tmp_path)[0].read_text()
    banner = re.search(r'<div class="banner danger" role="alert">(.*?)</div>', html, re.S).group(1)
    assert "DIAGNOSTICS FAILED" in banner
    assert "help_completion: r-hat 1.070 &gt; 1.01, 12 divergent transition(s)" in banner
    assert "time_to_completion: bulk ESS 88 &lt; 400" in banner
    assert "conversion:" not in banner
    # The banner is above the recommendation: never silently published.
    assert html.index("DIAGNOSTICS FAILED") < html.index('<section id="recommendation">')
    diag = _sections(html)["diagnostics"]
    assert diag.count('<tr class="bad">') == 2


def test_srm_mismatch_banner(results, tmp_path):
    bad = copy.deepcopy(results)
    bad["srm"].update({"observed_test_share": 0.262, "p_value": 1e-12, "mismatch": True})
    html = render_report(bad, figures={}, out_dir=tmp_path)[0].read_text()
    assert "Sample-ratio mismatch" in html
    assert "26.2% were observed (chi-square test, p &lt; 0.001)" in html


def test_missing_blocks_render_as_not_estimated(results, tmp_path):
    sparse = copy.deepcopy(results)
    for key in ("help_channels", "completions_conversion", "time_and_experience", "decision",
                "forensics", "agreement"):
        sparse[key] = None
    sparse["cs_engagement"] = None
    sparse["conversion"]["frequentist"] = None
    sparse["diagnostics"] = None
    sparse["data_quality"] = []
    html_path, md_path = render_report(sparse, figures={}, out_dir=tmp_path)
    html = html_path.read_text()
    assert "No recommendation: the decision was not estimated." in html
    assert "CS engagement was not estimated." in html
    assert "Frequentist cross-check: not estimated." in html
    assert "Completion after help by channel: not estimated." in html
    assert "Completions and conversion: not estimated." in html
    assert "Sampler diagnostics are missing" in html
    assert "No data-quality problems were found." in html
    assert "Real or simulated?" not in html
    assert "not estimated" in md_path.read_text()


def test_partial_blocks(results, tmp_path):
    partial = copy.deepcopy(results)
    partial["help_channels"]["time_to_completion"]["median_minutes"] = {"cs": 18.4, "other": None}
    partial["help_channels"]["causal_effect"] = None
    partial["decision"] = {"recommendation": "keep_testing", "metric": "conversion",
                           "expected_loss": {"double_down": 0.004, "pivot": 0.003},
                           "threshold_of_caring": 0.001, "prob_test_better": 0.41,
                           "extra_samples_needed": 12000}
    html = render_report(partial, figures={}, out_dir=tmp_path)[0].read_text()
    assert "with OTHER" in html and "not reached (fewer than half complete)" in html
    assert "Causal effect of CS on completion: not estimated." in html
    assert "Keep testing" in html
    assert "About 12,000 more customers are needed to decide." in html
    assert ("There is a 41% probability that Test converts better than Control "
            "(so a 59% probability that it does not).") in html


def test_text_is_escaped(results, tmp_path):
    evil = copy.deepcopy(results)
    evil["data_quality"].append({"check": "x<y", "severity": "error", "count": 1,
                                 "message": "<script>alert('x')</script> | *bold*"})
    html_path, md_path = render_report(evil, figures={}, out_dir=tmp_path)
    html, md = html_path.read_text(), md_path.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "\\<script\\>alert('x')\\</script\\> \\| \\*bold\\*" in md
    assert '<tr class="bad">' in _sections(html)["data_quality"]


def test_number_formats():
    assert T.pct(0.1234) == "12.3%"
    assert T.pct(0.00012) == "0.012%"
    assert T.pp(0.0123) == "+1.23 pp"
    assert T.pp(-0.00021) == "-0.021 pp"
    assert T.pp(None) == "not estimated"
    assert T.prob(0.9963) == "99.6%"
    assert T.prob(0.97) == "97%"
    assert T.prob(1.0) == "more than 99.9%"
    assert T.prob(0.0) == "less than 0.1%"
    assert T.p_value(1.2e-67) == "< 0.001"
    assert T.p_value(0.0441) == "0.044"
    assert T.interval({"mean": 0.1, "lower": 0.09, "upper": 0.11, "prob": 0.95}) == \
        "10.0% (95% HDI 9.0% to 11.0%)"
    assert T.interval(None) == "not estimated"
    assert md_escape("a_b|c") == "a\\_b\\|c"


def _block(lower, upper, sig, p=0.01):
    return {"lift_abs": {"mean": (lower + upper) / 2, "lower": lower, "upper": upper, "prob": 0.95},
            "frequentist": {"p_value": p, "p_value_holm": p, "significant_95": sig}}


@pytest.mark.parametrize("block, start", [
    (_block(0.01, 0.03, True), "Both analyses agree: Test's conversion rate is higher"),
    (_block(-0.03, -0.01, True), "Both analyses agree: Test's conversion rate is lower"),
    (_block(-0.01, 0.03, False, 0.3), "Both analyses agree that the data do not establish"),
    (_block(-0.001, 0.03, True, 0.04), "They differ at the margin: the frequentist test"),
    (_block(0.001, 0.03, False, 0.07), "They differ at the margin: the 95% HDI"),
])
def test_agreement_sentences(block, start):
    assert T.agreement_sentence(block, metric="conversion").startswith(start)


def test_document_sections(results):
    doc = build_document(results)
    ids = [s["id"] for s in doc["sections"]]
    assert ids == ["recommendation", "conversion", "cs_engagement", "ratio_metrics", "segments",
                   "prior_sensitivity", "help", "completions", "time_experience", "srm",
                   "data_quality", "forensics", "diagnostics", "glossary"]
    # Results written before the newer blocks existed render without their sections.
    old = {k: v for k, v in results.items()
           if k not in ("ratio_metrics", "segments", "prior_sensitivity")}
    ids = [s["id"] for s in build_document(old)["sections"]]
    assert ids == ["recommendation", "conversion", "cs_engagement", "help", "completions",
                   "time_experience", "srm", "data_quality", "forensics", "diagnostics",
                   "glossary"]


def test_compare_report(tmp_path):
    arm = json.loads(FIXTURE.read_text())["conversion"]
    compare = {
        "schema_version": 1,
        "input": {"file": "export.csv", "group_col": "variant", "outcome_col": "clicked",
                  "n_rows": 10000, "control_note": "Control arm: 'A' (named A)."},
        "control": "A",
        "arms": {"B": arm, "C": None},
        "decision": {"recommendation": "pivot", "arm": "B",
                     "expected_loss": {"double_down": 0.02, "pivot": 0.0001},
                     "threshold_of_caring": 0.001, "prob_test_better": 0.01},
        "diagnostics": {"passed": True, "max_r_hat": 1.0, "min_ess_bulk": 900, "divergences": 0,
                        "per_model": {}},
    }
    html = render_compare_report(compare, figures={}, out_dir=tmp_path)[0].read_text()
    assert "Pivot: drop B and keep A." in html
    assert "B vs A" in html and "C vs A" in html
    assert "Clicked was not estimated." in html
    assert "There is a 99.6% probability that B has a higher clicked rate than A." in html


# ------------------------------------------------------------------ newer result blocks


def _render(results, tmp_path) -> tuple[str, str, dict[str, str]]:
    html_path, md_path = render_report(results, figures={}, out_dir=tmp_path)
    html = html_path.read_text()
    return html, md_path.read_text(), _sections(html)


def test_fixture_has_the_newer_blocks(results):
    assert set(results["ratio_metrics"]) == {"cs_contacts_per_flagged_customer",
                                             "help_flags_per_customer",
                                             "minutes_per_completed_task"}
    for block in results["ratio_metrics"].values():
        assert set(block) >= {"metric", "definition", "control", "test", "lift_abs", "lift_rel",
                              "prob_test_better", "higher_is_better", "counts", "frequentist",
                              "decision"}
        assert set(block["frequentist"]) >= {"test", "ci95_diff", "p_value", "significant_95"}
    seg = results["segments"]["join_period"]
    assert set(seg) >= {"column", "n_segments", "overall", "segments", "flagged", "srm"}
    assert set(seg["srm"]) >= {"per_segment", "flagged"}
    assert set(results["cs_engagement"]["among_flagged"]) == {
        "control", "test", "n_flagged_control", "n_flagged_test"}
    sens = results["prior_sensitivity"]["conversion"]  # bayes_ab.workflows.sensitivity's block
    assert set(sens) >= {"model", "scales", "priors", "quantities", "decision",
                         "conclusion_changes", "changed", "sentence"}
    assert set(results["help_channels"]["causal_effect_details"]) >= {
        "naive_difference", "wald", "first_stage", "complier_share", "weak_instrument",
        "weak_instrument_note"}


def test_ratio_metrics_section(results, tmp_path):
    html, md, sections = _render(results, tmp_path)
    sec = sections["ratio_metrics"]
    for text in (html_module.unescape(sec), md):
        # Each metric in its own units, with its direction in plain words.
        assert ("Help flags per customer: Test 0.589 vs Control 0.573 (fewer help flags is "
                "better). There is a 6% probability that Test's customers get stuck less "
                "often; the data do not establish a difference (the delta-method test agrees)."
                ) in text
        assert ("The probability that Test's customers take more Customer Success help when "
                "stuck is more than 99.9%; Test is credibly better on this metric") in text
        assert "Minutes per completed task: Test 41.8 vs Control 41.5" in text
    # Bayesian interval and the delta-method test side by side, at the metric's scale.
    assert "+0.016 (95% HDI -0.005 to +0.036); +2.8%" in sec
    assert "+0.016 (95% CI -0.005 to +0.036), p = 0.132" in sec
    assert "+0.3 (95% HDI -3.5 to +3.8); +0.86%" in sec
    assert "p &lt; 0.001" in sec
    assert "help flags / all randomized customers" in sec  # the definition
    assert "<details><summary>Definitions</summary>" in sec
    # The summary under the recommendation names which way each metric went.
    assert ("Ratio metrics: Test credibly better on CS contacts per flagged customer; no clear "
            "difference on help flags per customer, minutes per completed task.") in md


def test_ratio_metric_credibly_worse_and_missing(results, tmp_path):
    worse = copy.deepcopy(results)
    block = worse["ratio_metrics"]["help_flags_per_customer"]
    block["lift_abs"] = {"mean": 0.03, "lower": 0.01, "upper": 0.05, "prob": 0.95}
    block["prob_test_better"] = 0.001
    block["frequentist"]["significant_95"] = False
    worse["ratio_metrics"]["minutes_per_completed_task"] = None
    html, md, sections = _render(worse, tmp_path)
    sec = sections["ratio_metrics"]
    assert "Test is credibly worse on this metric (the delta-method test disagrees" in sec
    assert sec.count('<tr class="warn">') == 1
    assert "Minutes per completed task: not estimated (no denominator in an arm)." in sec
    assert "credibly worse on help flags per customer" in md


def test_segments_section(results, tmp_path):
    html, md, sections = _render(results, tmp_path)
    sec = sections["segments"]
    assert ("None of the 4 segments by join period credibly differs from the overall lift"
            in sec)
    assert "Overall lift across the 4 segments: +1.09 pp (95% HDI +0.12 pp to +2.18 pp)." in sec
    assert ("every one of the 4 segments has a Test share consistent with 30.0% (none at "
            "Holm-adjusted p &lt; 0.001)") in sec
    assert "one significance test per segment gives every segment its own chance" in sec
    # One row per segment: pooled lift, HDI, raw Holm p-value, observed split.
    assert ("<td>06-12 UTC</td><td>4,219 / 1,849</td><td>+1.50 pp</td>"
            "<td>-0.12 pp to +3.26 pp</td><td>97%</td><td>no</td><td>0.216</td>"
            "<td>30.5%</td>") in sec
    assert '<div class="callout good">' in sec
    assert "Segments: no segment&#39;s lift credibly differs from the overall lift." in html


def test_segments_flagged_and_srm(results, tmp_path):
    flagged = copy.deepcopy(results)
    seg = flagged["segments"]["join_period"]
    seg["flagged"] = ["00-06 UTC"]
    seg["segments"]["00-06 UTC"]["differs_from_overall"] = True
    seg["srm"]["flagged"] = ["18-24 UTC"]
    seg["srm"]["per_segment"]["18-24 UTC"].update({"mismatch": True, "p_value_holm": 2e-5})
    html, md, sections = _render(flagged, tmp_path)
    sec = sections["segments"]
    assert "1 of the 4 segments by join period credibly differ from the overall lift: 00-06 UTC." in sec
    assert ("Test&#39;s share departs from 30.0% in 18-24 UTC (Holm-adjusted p &lt; 0.001)"
            in sec)
    assert "31.0%, mismatch (p &lt; 0.001)" in sec
    assert sec.count('<tr class="warn">') == 2
    assert '<div class="callout bad">' in sec
    assert "the lift credibly differs from the overall in 00-06 UTC (join_period)." in md.replace(
        "\\_", "_")


def test_prior_sensitivity_section(results, tmp_path):
    # The fixture holds bayes_ab.workflows.sensitivity.prior_sensitivity's block for the conversion model.
    html, md, sections = _render(results, tmp_path)
    sec = sections["prior_sensitivity"]
    assert "No: every conclusion holds under a weaker and a stronger prior" in sec
    assert ("<td>conversion: lift abs</td><td>0.019 (95% HDI 0.0050 to 0.035)</td>"
            "<td>0.019 (95% HDI 0.0049 to 0.035)</td><td>0.020 (95% HDI 0.0057 to 0.035)</td>"
            "<td>no</td>") in sec
    assert "<td>conversion: prob test better</td><td>99%</td><td>99%</td><td>99%</td>" in sec
    assert ("<td>conversion: decision</td><td>Double down</td><td>Double down</td>"
            "<td>Double down</td><td>no</td>") in sec
    # Arm rates have no conclusion to change: not listed.
    assert "conversion: control" not in sec and "conversion: test<" not in sec
    assert ("<td>conversion: rate</td><td>Beta(alpha=1, beta=1)</td>"
            "<td>Beta(alpha=0.25, beta=0.25)</td><td>Beta(alpha=4, beta=4)</td>") in sec
    assert "Weaker prior: precision x0.25; stronger: x4 (prior precision multiplied" in sec
    assert "Prior: every conclusion holds under a weaker and a stronger prior." in html

    changed = copy.deepcopy(results)
    block = changed["prior_sensitivity"]["conversion"]
    block["decision"].update({"stronger": "keep_testing", "changes": True})
    block["quantities"]["lift_abs"]["changes"] = True
    html, md, sections = _render(changed, tmp_path / "changed")
    sec = sections["prior_sensitivity"]
    assert "Yes, for some conclusions" in sec
    assert ("changes the conclusion about: conversion: lift abs, conversion: decision." in sec)
    assert sec.count('<tr class="warn">') == 2
    assert ("Prior: the conclusion changes with the prior for conversion: lift abs, "
            "conversion: decision.") in html

    # A plain {model: {quantity: {default, weaker, stronger, conclusion_changes}}} also renders.
    plain = copy.deepcopy(results)
    plain["prior_sensitivity"] = {"help_completion": {"diff": {
        "default": {"mean": 0.131, "lower": 0.099, "upper": 0.163, "prob": 0.95},
        "weaker": {"mean": 0.132, "lower": 0.098, "upper": 0.165, "prob": 0.95},
        "stronger": {"mean": 0.127, "lower": 0.096, "upper": 0.158, "prob": 0.95},
        "conclusion_changes": True}}}
    sec = _render(plain, tmp_path / "plain")[2]["prior_sensitivity"]
    assert ("<td>help_completion: diff</td><td>0.131 (95% HDI 0.099 to 0.163)</td>"
            "<td>0.132 (95% HDI 0.098 to 0.165)</td><td>0.127 (95% HDI 0.096 to 0.158)</td>"
            "<td>yes</td>") in sec
    assert "Yes, for some conclusions" in sec

    # Absent (no sensitivity run): no section and no summary line.
    absent = {k: v for k, v in results.items() if k != "prior_sensitivity"}
    html, md, sections = _render(absent, tmp_path / "absent")
    assert "prior_sensitivity" not in sections and "Does the prior matter?" not in html


def test_secondary_cs_engagement_and_causal_details(results, tmp_path):
    html, md, sections = _render(results, tmp_path)
    cs = sections["cs_engagement"]
    assert ("among customers flagged as stuck at least once: 53.4% (95% HDI 51.6% to 55.2%) of "
            "2,957 flagged Test customers engaged with Customer Success, against 23.3% (95% HDI "
            "22.2% to 24.3%) of 6,682 flagged Control customers") in cs
    help_ = sections["help"]
    assert "Probability that CS causes more completions: 99.5%." in help_
    assert "The naive CS-minus-OTHER difference is +13.10 pp (95% HDI +9.90 pp to +16.30 pp)" in help_
    assert "<td>Wald (ratio) estimate</td><td>+9.10 pp</td>" in help_
    assert "<td>Share of compliers</td><td>14.8%</td>" in help_
    assert "<td>Customers at their first flag</td><td>6,682 in Control, 2,957 in Test</td>" in help_
    assert "Weak instrument: do not read" not in help_
    weak = copy.deepcopy(results)
    weak["help_channels"]["causal_effect_details"].update({
        "weak_instrument": True,
        "weak_instrument_note": "the assignment moved CS uptake at the first flag by 0.004"})
    help_ = _render(weak, tmp_path / "weak")[2]["help"]
    assert ('<div class="callout bad"><div class="title">Weak instrument: do not read the causal '
            'effect</div>') in help_
    assert "The assignment moved CS uptake at the first flag by 0.004." in help_


def test_median_minutes_as_intervals(results, tmp_path):
    # analyze writes the median time to completion as a posterior interval.
    real = copy.deepcopy(results)
    ttc = real["help_channels"]["time_to_completion"]
    ttc["median_minutes"] = {"cs": {"mean": 17.99, "lower": 15.91, "upper": 19.68, "prob": 0.95},
                             "other": {"mean": 59.93, "lower": 51.6, "upper": 72.35, "prob": 0.95}}
    ttc["median_reached_prob"] = {"cs": 1.0, "other": 0.3}
    ttc["frequentist"] = {"logrank": {"p_value": 3.6e-35},
                          "cox": {"hazard_ratio": {"CS": {"mean": 1.363, "lower": 1.298,
                                                          "upper": 1.432, "prob": 0.95}}}}
    help_ = _render(real, tmp_path)[2]["help"]
    assert ("18 min (95% HDI 16 min to 20 min) with CS, not reached (fewer than half complete) "
            "with OTHER") in help_
    assert ("Frequentist cross-check: Cox model hazard ratio 1.36 (95% CI 1.30 to 1.43); "
            "log-rank test p &lt; 0.001.") in help_


def test_figures_headline_collapsed_and_appendix(results, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["help_completion_rates", "time_to_completion_survival_km",
             "causal_cs_effect_causal_vs_naive", "causal_cs_effect_forest",
             "help_completion_posterior", "conversion_posterior", "conversion_ppc",
             "conversion_trace", "conversion_rank"]
    figs = {}
    for name in names:
        fig, ax = plt.subplots(figsize=(1, 1), dpi=30)
        figs[name] = tmp_path / f"{name}.png"
        fig.savefig(figs[name])
        plt.close(fig)
    html = render_report(results, figures=figs, out_dir=tmp_path / "out")[0].read_text()
    sections = _sections(html)
    help_ = sections["help"]
    head, _, collapsed = help_.partition("<details><summary>More figures")
    # The plain figures are open, in reading order; forest and raw posteriors are collapsed.
    assert (head.index('id="fig-help_completion_rates"')
            < head.index('id="fig-time_to_completion_survival_km"')
            < head.index('id="fig-causal_cs_effect_causal_vs_naive"'))
    assert "More figures (2): forest plots, parameter posteriors</summary>" in help_
    assert 'id="fig-causal_cs_effect_forest"' in collapsed
    assert 'id="fig-help_completion_posterior"' in collapsed
    assert "Completion after a help flag, CS vs OTHER, by task" in help_
    conv = sections["conversion"]
    assert conv.index('id="fig-conversion_posterior"') < conv.index("<details>")
    # Sampler plots: collapsed in the appendix near the end, not among the answers.
    diag = sections["diagnostics"]
    assert "<h2>Appendix: sampler diagnostics</h2>" in diag
    assert "<summary>Trace and rank plots (2 figures)</summary>" in diag
    assert 'id="fig-conversion_trace"' in diag and 'id="fig-conversion_rank"' in diag
    assert html.index('<section id="forensics">') < html.index('<section id="diagnostics">')


def test_long_data_quality_list_is_collapsed(results, tmp_path):
    many = copy.deepcopy(results)
    many["data_quality"] = [{"check": f"c{i}", "severity": "error" if i < 2 else "info",
                             "count": i, "message": f"finding {i}"} for i in range(7)]
    sec = _render(many, tmp_path)[2]["data_quality"]
    assert "7 findings: 2 errors, 5 info." in sec
    assert "<details><summary>All 7 findings</summary>" in sec
    assert sec.count('<tr class="bad">') == 2


PRIOR_FROM_HISTORY = {
    "source": "history.csv", "n_experiments": 6, "scale": "abs",
    "method": "exact quadrature over tau",
    "priors": {"mu": "Normal(0, 0.05)", "tau": "HalfNormal(0.05)"},
    "mu": {"mean": 0.0045, "lower": -0.0021, "upper": 0.0108, "prob": 0.95},
    "tau": {"mean": 0.0040, "lower": 8e-07, "upper": 0.0109, "prob": 0.95},
    "predictive_prior": {"mean": 0.0044, "lower": -0.0081, "upper": 0.0179, "prob": 0.95,
                         "sd": 0.0066},
    "diagnostics": None,
    "arms": {"B": {"estimate": 0.0215, "se": 0.0122,
                   "raw": {"mean": 0.0215, "lower": -0.0024, "upper": 0.0455, "prob": 0.95},
                   "shrunk": {"mean": 0.0073, "lower": -0.0026, "upper": 0.0196, "prob": 0.95},
                   "prior_mean": 0.0044, "shrinkage": 0.834, "width_ratio": 0.4625,
                   "prob_positive_raw": 0.9608, "prob_positive_shrunk": 0.9476}},
    "note": "Extra view: the main posterior keeps its weakly informative Beta(1, 1) priors.",
}


def test_compare_report_optional_blocks(results, tmp_path):
    ratio = copy.deepcopy(results["ratio_metrics"]["help_flags_per_customer"])
    ratio["metric"] = "help_flags/customers"
    seg = copy.deepcopy(results["segments"]["join_period"])
    seg.update({"control": "A", "test": "B"})
    compare = {
        "schema_version": 1,
        "input": {"file": "export.csv", "group_col": "variant", "outcome_col": "clicked",
                  "n_rows": 10000},
        "control": "A",
        "arms": {"B": copy.deepcopy(results["conversion"])},
        "ratio_metric": {"B": ratio, "C": None},
        "segments": {"B": seg},
        "prior_from_history": PRIOR_FROM_HISTORY,
        "diagnostics": {"passed": True, "max_r_hat": 1.0, "min_ess_bulk": 900, "divergences": 0,
                        "per_model": {}},
    }
    html_path, md_path = render_compare_report(compare, figures={}, out_dir=tmp_path)
    html, md = html_path.read_text(), md_path.read_text()
    sections = _sections(html)
    assert list(sections) == ["input", "arm_B", "ratio_metric", "segments",
                              "prior_from_history", "diagnostics", "glossary"]
    r = html_module.unescape(sections["ratio_metric"])
    assert "<h2>Ratio metric: Help flags / customers</h2>" in r
    assert ("Help flags / customers: B 0.589 vs A 0.573 (lower is better). There is a 6% "
            "probability that B's customers score lower on help flags / customers; the data do "
            "not establish a difference (the delta-method test agrees). On this metric alone: "
            "pivot.") in r
    assert "C vs A: not estimated." in r
    assert "<td>B</td><td>0.573</td><td>0.589</td>" in r
    s = html_module.unescape(sections["segments"])
    assert "<h2>Segments by join period</h2>" in s
    assert "B vs A, by join period" in s
    assert "Clicked lift (B - A) by join period, partially pooled" in s
    assert "a B share consistent with 30.0%" in s
    p = html_module.unescape(sections["prior_from_history"])
    assert ("From 6 past experiments (history.csv), the lift of a new experiment is expected "
            "around +0.44 pp (95% interval -0.81 pp to +1.79 pp)") in p
    assert "differ from it by about 0.40 pp (between-experiment spread, 95% HDI up to 1.09 pp)" in p
    assert ("B vs A: today's lift of +2.15 pp moves 83% of the way toward the past "
            "experiments' +0.44 pp, to +0.73 pp (95% HDI -0.26 pp to +1.96 pp); its interval is "
            "0.46 times as wide.") in p
    assert "<td>96% / 95%</td>" in p
    assert "keeps its weakly informative Beta(1, 1) priors" in p
    assert "Ratio metric: Help flags / customers" in md


# ----------------------------------------------------------------------------- monitor


def _look(k, date, nc, xc, nt, xt, lower, upper, p_better, stop):
    lift = xt / nt - xc / nc
    return {"look": k, "date": date, "n_control": nc, "successes_control": xc, "n_test": nt,
            "successes_test": xt, "rate_control": xc / nc, "rate_test": xt / nt,
            "lift_abs_observed": lift,
            "confidence_sequence": {"mean": lift, "lower": lower, "upper": upper, "prob": 0.95},
            "always_valid_p": 0.5, "posterior_lift_abs": {"mean": lift, "lower": lift - 0.01,
                                                          "upper": lift + 0.01, "prob": 0.95},
            "prob_test_better": p_better, "naive_p_value": 0.01, "eligible": True,
            "stop_confidence_sequence": stop, "stop_bayes_calibrated": False}


def _rule(name, look=None, date=None, direction="test_better"):
    return {"rule": name, "description": name, "stopped": look is not None, "look": look,
            "date": date, "direction": direction if look else None}


MONITOR = {
    "schema_version": 1,
    "input": {"control": "A", "test": "B", "metric": "converted", "n_looks": 3,
              "control_note": "Control arm: 'A'."},
    "settings": {"alpha": 0.05, "tau": 0.0165, "tau_source": "given", "min_events": 5,
                 "bayes_threshold": 0.9969, "prior": "Beta(1, 1) on each arm's rate",
                 "calibration": {"n_sims": 4000, "seed": 1, "pooled_rate": 0.11,
                                 "method": "A/A simulation with this file's look schedule"}},
    "looks": [_look(1, "2026-04-01", 1000, 100, 1000, 118, -0.02, 0.06, 0.9, False),
              _look(2, "2026-04-02", 2000, 200, 2000, 250, -0.004, 0.054, 0.995, False),
              _look(3, "2026-04-03", 3000, 300, 3000, 390, 0.004, 0.056, 0.9999, True)],
    "stopping": {"confidence_sequence": _rule("cs", 3, "2026-04-03"),
                 "bayes_calibrated": _rule("bayes"),
                 "naive_p_value": _rule("p", 1, "2026-04-01"),
                 "naive_prob_better": _rule("pb", 2, "2026-04-02")},
    "latest": {"date": "2026-04-03",
               "confidence_sequence": {"mean": 0.03, "lower": 0.004, "upper": 0.056,
                                       "prob": 0.95},
               "always_valid_p": 0.012,
               "posterior_lift_abs": {"mean": 0.0299, "lower": 0.0138, "upper": 0.046,
                                      "prob": 0.95},
               "prob_test_better": 0.9999},
}


def test_monitor_report(tmp_path):
    from bayes_ab.report import render_monitor_report

    png = tmp_path / "out" / "monitor.png"
    png.parent.mkdir()
    png.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="))
    html_path, md_path = render_monitor_report(MONITOR, figure=png, out_dir=tmp_path / "out")
    assert html_path.name == "monitor.html" and md_path.name == "monitor.md"
    html, md = html_path.read_text(), md_path.read_text()
    sections = _sections(html)
    assert list(sections) == ["status", "looks", "method", "glossary"]
    status = html_module.unescape(sections["status"])
    assert "Stop: B is better than A." in status
    assert ("Latest look (2026-04-03): lift in converted rate (B - A) +3.00 pp (95% always-valid "
            "CS +0.40 pp to +5.60 pp); posterior +2.99 pp (95% HDI +1.38 pp to +4.60 pp); "
            "probability that B is better: more than 99.9%; always-valid p = 0.012.") in status
    assert "Confidence-sequence rule: stop, B is better than A (since look 3, 2026-04-03)." in status
    assert "Calibrated Bayesian rule: keep going, no stop yet." in status
    # The earliest naive stop that beats the safe rules is called out as peeking.
    assert ("A naive daily p-value would have stopped already on 2026-04-01 (look 1)"
            in status)
    assert '<div class="callout good">' in status
    # The figure is embedded and, already in the output folder, linked where it is.
    assert 'id="fig-monitor"' in status and "data:image/png;base64," in status
    assert "](monitor.png)" in md and not (tmp_path / "out" / "figures").exists()
    looks = sections["looks"]
    assert ("<td>2026-04-03</td><td>3,000 / 3,000</td><td>10.0% / 13.0%</td><td>+3.00 pp</td>"
            "<td>+0.40 pp to +5.60 pp</td><td>more than 99.9%</td><td>yes</td>") in looks
    assert looks.count('<tr class="warn">') == 1
    assert "P(better) above 0.9969, from 4,000 simulated experiments" in sections["method"]
    # Nothing stopped: keep going, neutral.
    going = copy.deepcopy(MONITOR)
    going["stopping"]["confidence_sequence"] = _rule("cs")
    going["stopping"]["naive_p_value"] = _rule("p")
    going["stopping"]["naive_prob_better"] = _rule("pb")
    html = render_monitor_report(going, out_dir=tmp_path / "going")[0].read_text()
    assert "Keep going: no peeking-safe rule says stop yet." in html
    assert '<div class="callout neutral">' in html and "naive" not in _sections(html)["status"]


def test_monitor_cli_writes_the_report(tmp_path):
    import numpy as np
    import pandas as pd

    from bayes_ab.cli.main import main

    rng = np.random.default_rng(4)
    n = 2400
    day = np.sort(rng.integers(0, 8, n))
    arm = rng.choice(["control", "test"], n)
    pd.DataFrame({"d": pd.Timestamp("2026-04-01") + pd.to_timedelta(day, "D"), "arm": arm,
                  "y": rng.binomial(1, 0.1, n)}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "mon"
    assert main(["monitor", str(tmp_path / "m.csv"), "--date-col", "d", "--group-col", "arm",
                 "--outcome-col", "y", "--out", str(out), "--calibration-sims", "200"]) == 0
    res = json.loads((out / "monitor.json").read_text())
    html = (out / "monitor.html").read_text()
    latest = res["latest"]["confidence_sequence"]
    assert f"{T.pp(latest['mean'])} (95% always-valid CS {T.pp(latest['lower'])} to " in html
    assert html.count("data:image/png;base64,") == 1
    assert "](monitor.png)" in (out / "monitor.md").read_text()


# ------------------------------------------------------- typed results (issue 18)

ANALYZE_EXAMPLE = Path(__file__).parent / "fixtures" / "results_analyze_example.json"


def test_results_json_reads_back_as_typed_blocks_and_writes_the_same_bytes():
    """results.json of `bayes-ab analyze data/example --seed 7 --draws 200 --tune 200
    --chains 2` (written before the typed results) read back with
    ``AnalysisResults.from_dict`` gives typed blocks and serialises to the same text."""
    from bayes_ab.models.arm_comparison import ArmComparisonResult
    from bayes_ab.models.causal_cs_effect import CausalCsEffectResult
    from bayes_ab.models.time_to_completion import TimeToCompletionResult
    from bayes_ab.results import Interval
    from bayes_ab.results_schema import AnalysisResults, SrmCheck, missing_keys

    text = ANALYZE_EXAMPLE.read_text()
    results = AnalysisResults.from_dict(json.loads(text))
    assert isinstance(results.conversion, ArmComparisonResult)
    assert isinstance(results.conversion.lift_abs, Interval)
    assert isinstance(results.srm, SrmCheck) and results.srm.judgeable is True
    assert isinstance(results.help_channels.iv, CausalCsEffectResult)
    assert isinstance(results.help_channels.time_to_completion, TimeToCompletionResult)
    # One name inside, the schema's key outside.
    assert results.help_channels.causal_effect == results.help_channels.iv.causal_effect
    written = json.dumps(results.to_dict(), indent=2, allow_nan=False) + "\n"
    assert written == text
    assert missing_keys(results.to_dict()) == []


def test_report_from_typed_results_equals_report_from_dict(tmp_path):
    from bayes_ab.results_schema import AnalysisResults

    data = json.loads(ANALYZE_EXAMPLE.read_text())
    typed = AnalysisResults.from_dict(data)
    assert build_document(typed) == build_document(data)
    a = render_report(data, figures={}, out_dir=tmp_path / "a")
    b = render_report(typed, figures={}, out_dir=tmp_path / "b")
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    # A block the report reads is the typed one: change it on the object, the text follows.
    from dataclasses import replace

    bumped = replace(typed, conversion=replace(typed.conversion, prob_test_better=0.123))
    md = render_report(bumped, figures={}, out_dir=tmp_path / "c")[1].read_text()
    assert f"P(Test better) = {T.prob(0.123)}" in md and T.prob(0.123) != T.prob(
        json.loads(ANALYZE_EXAMPLE.read_text())["conversion"]["prob_test_better"])


def test_one_module_per_report_and_no_private_reach_ins():
    """Issue 18: report/render.py held three reports; now one module per kind
    (analysis, compare, monitor) with the shared layout in common and shared sections in
    sections, and no module uses another's private name (``R._para`` and the like)."""
    import ast
    import importlib

    src = Path(__file__).resolve().parents[1] / "src" / "bayes_ab"
    for name, builder in (("analysis", "build_document"), ("compare", "build_compare_document"),
                          ("monitor", "build_monitor_document")):
        assert callable(getattr(importlib.import_module(f"bayes_ab.report.{name}"), builder))
    report_modules = {"common", "sections", "analysis", "compare", "monitor", "text", "render"}
    offenders = []
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bayes_ab.report"):
                for a in node.names:
                    mod = node.module.rsplit(".", 1)[-1]
                    if a.name in report_modules:
                        aliases[a.asname or a.name] = a.name
                    elif a.name.startswith("_") and mod != path.stem:
                        offenders.append(f"{path.name}: from {node.module} import {a.name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and aliases[node.value.id] != "text"):
                offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert offenders == []
    lines = {p.stem: len(p.read_text().splitlines()) for p in (src / "report").glob("*.py")}
    assert max(v for k, v in lines.items() if k != "text") < 700, lines
