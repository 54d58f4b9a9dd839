"""The decision-maker's report: content, order, escaping, figures, missing blocks."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path

import pytest

from bayes_ab.report import build_document, render_compare_report, render_report
from bayes_ab.report import text as T
from bayes_ab.report.render import figure_section, md_escape

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
    assert ids == ["recommendation", "conversion", "cs_engagement", "help", "completions",
                   "time_experience", "srm", "diagnostics", "data_quality", "forensics", "glossary"]


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
