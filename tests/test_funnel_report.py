"""The funnel report reads like the experiment report (issue 17, item 4).

It opens with the findings in plain words (what reproduces, what the pooled model changes,
which claims of the original report hold), every number formatted (no float with more than
four significant digits anywhere), the headline numbers equal to funnel.json's values as
formatted by `bayes_ab.report.text`, and the technical detail after.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from bayes_ab.cli.main import main
from bayes_ab.funnel import published
from bayes_ab.report import funnel as FR
from bayes_ab.funnel.pipeline import FunnelResults
from bayes_ab.report import common as R
from bayes_ab.report import text as T

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example_funnel"
#: The real data sits beside the checkout (../shared), or two levels up from a worktree.
REAL = next((p / "shared" / "data" / "spatialos" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "spatialos" / "leads.csv.gz").exists()),
            ROOT.parent / "shared" / "data" / "spatialos")

#: A decimal number (digits, optional thousands commas, a point, digits).
DECIMAL = re.compile(r"(?<![\w.])(\d[\d,]*\.\d+)")
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def significant_digits(number: str) -> int:
    digits = number.replace(",", "").replace(".", "").lstrip("0")
    return len(digits)


def long_floats(text: str) -> list[str]:
    """Every decimal in the text with more than four significant digits."""
    return [m for m in DECIMAL.findall(DATA_URI.sub("", text)) if significant_digits(m) > 4]


def run(leads: Path, events: Path, out: Path, *args: str) -> tuple[dict, str, str]:
    rc = main(["funnel", str(leads), str(events), "--out", str(out), "--quiet", *args])
    assert rc == 0
    return (json.loads((out / "funnel.json").read_text()),
            (out / "funnel_report.md").read_text(encoding="utf-8"),
            (out / "funnel_report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("funnel_report") / "out"
    return run(EXAMPLE / "sim_leads.csv", EXAMPLE / "sim_events.csv", out,
               "--draws", "100", "--chains", "2", "--seed", "11")


def findings_md(md: str) -> str:
    """The Markdown between '## Findings' and the next section."""
    start = md.index("## Findings")
    return md[start:md.index("\n## ", start + 1)]


# ------------------------------------------------------------------------- the shape


def test_long_float_regex_catches_the_old_report():
    old = "Diagnostics: max r_hat 1.0047109361711641, min bulk ESS 1012.6014047086152"
    assert long_floats(old) == ["1.0047109361711641", "1012.6014047086152"]
    assert long_floats("r-hat 1.005, ESS 1,012, 291.6, 2.27%, 0.0071, 214,705") == []


def check_shape(s: dict, md: str, html: str) -> None:
    # The first section is the plain-words findings, in both formats.
    sections = re.findall(r"^## (.+)$", md, flags=re.M)
    assert sections[0] == "Findings"
    assert re.findall(r'<section id="([^"]+)"', html)[0] == "findings"
    first = findings_md(md)
    assert "|" not in first  # no table before the detail
    for words in ("original report", "weakest step", "Pooling the industries",
                  "claims, tested", "predict"):
        assert words in first, words
    # The technical detail follows, the sampler diagnostics near the end.
    assert sections.index("What reproduces") > 0
    assert sections.index("Appendix: sampler diagnostics") > sections.index("Definitions")
    # Every number formatted: in the Markdown and in the HTML's text.
    assert long_floats(md) == []
    assert long_floats(html) == []
    # No pandas Styler / DataFrame.to_html output: the tables are the templates' own.
    assert 'class="dataframe' not in html and "<style type" not in html
    # The advanced-lead model is predictive: associations, never effects.
    assert " effect of " not in first.replace("the effect of making", "")
    assert "association" in first


def check_headline_numbers(s: dict, md: str, html: str) -> None:
    """The plain-words numbers are funnel.json's values, formatted by report.text."""
    first = findings_md(md)
    conv = s["conversion_to_opportunity"]
    assert (f"Overall {T.count(conv['n'])} of {T.count(s['n_leads'])} leads "
            f"({T.pct(conv['rate'], digits=2)}) became opportunities") in first
    t34 = s["stage_transitions"]["3_to_4"]
    assert (f"{T.count(t34['n_at_or_beyond_to'])} of {T.count(t34['n_at_or_beyond_from'])} "
            f"leads at stage 3 or beyond reached stage 4 or beyond "
            f"({T.pct(t34['observed'])})") in first
    mu = s["stage3_to_4_pooled"]["overall"]
    assert (f"population mean rate {T.pct(mu['mean'])}, 95% HDI {FR._rate(mu['lower'])} to "
            f"{FR._rate(mu['upper'])}") in first
    for above in s["stage3_to_4_pooled"]["credibly_above"]:
        post = s["stage3_to_4_by_industry"][above]["posterior"]
        assert f"{above} ({T.pct(post['mean'])}, 95% HDI" in first
    cl = s["claims"]
    for key in ("technical_industries_convert_better", "inflection_between_3_and_4",
                "non_technical_prefer_forums_over_docs"):
        p = cl[key]["prob_holds"]
        verdict = "Holds" if p >= 0.95 else "Contradicted" if p <= 0.05 else "Not supported"
        assert f"{verdict}: " in first
        assert T.prob(p) in first
    ge4 = s["advanced_lead_models"]["status>=4"]
    auc = ge4["auc_test"]
    assert (f"with probability {T.num(auc['point'], digits=3)} (AUC; 95% HDI "
            f"{T.num(auc['lower'], digits=3)} to {T.num(auc['upper'], digits=3)})") in first
    for e in ge4["summary"]["effects"]:
        if T.excludes(e["effect"]):
            assert f"{T.num(e['effect']['mean'], digits=2, signed=True)}, 95% HDI" in first
    rep = s["reproduction"]
    assert (f"{rep['n_match']} of its {rep['n_checks']}" in first) or rep["all_match"]
    # Diagnostics to 3 decimals and whole ESS, in the appendix.
    d = s["diagnostics"]
    assert f"Largest r-hat {T.num(d['max_r_hat'], digits=3)}" in md or not d["passed"]
    for name, m in d["per_model"].items():
        row = (f"| {R.md_escape(name)} | {T.num(m['max_r_hat'], digits=3)} | "
               f"{T.count(m['min_ess_bulk'])} | {T.count(m['divergences'])} |")
        assert row in md, row
    # The same sentences in the HTML (escaped by the template).
    assert T.prob(cl["inflection_between_3_and_4"]["prob_holds"]) in html


@pytest.mark.slow  # shares a fixture of about a minute (default run < 10 min)
def test_example_report_opens_with_findings_and_formats_every_number(example):
    s, md, html = example
    check_shape(s, md, html)
    check_headline_numbers(s, md, html)
    # These are simulated files, not the report's data: the report says so.
    assert s["reproduction"]["all_match"] is False
    assert "does not reproduce from these files" in findings_md(md)
    assert html.count("data:image/png;base64,") == 8


@pytest.mark.slow  # shares a fixture of about a minute (default run < 10 min)
def test_failed_diagnostics_raise_a_banner_above_the_findings(example):
    s, _, _ = example
    bad = copy.deepcopy(s)
    bad["diagnostics"]["passed"] = False
    first = next(iter(bad["diagnostics"]["per_model"]))
    bad["diagnostics"]["per_model"][first].update(max_r_hat=1.0471234567, passed=False)
    doc = FR.build_funnel_document(FunnelResults(summary=bad))
    assert doc["banners"] and doc["banners"][0]["level"] == "danger"
    assert any("r-hat 1.047 > 1.01" in line for line in doc["banners"][0]["lines"])
    assert doc["sections"][0]["id"] == "findings"


@pytest.mark.slow  # shares a fixture of about a minute (default run < 10 min)
def test_names_are_escaped_in_html_and_markdown(example, tmp_path):
    s, _, _ = example
    evil = copy.deepcopy(s)
    name = "<script>alert(1)</script>"
    by = evil["stage3_to_4_by_industry"]
    key = next(k for k, v in by.items() if v["posterior"])
    by[name] = by.pop(key)
    pooled = evil["stage3_to_4_pooled"]
    pooled["credibly_above"] = [name]
    doc = FR.build_funnel_document(FunnelResults(summary=evil))
    html_path, md_path = R.render_document(doc, out_dir=tmp_path, stem="funnel_report")
    html = html_path.read_text()
    assert name not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in md_path.read_text()


# ------------------------------------------------------------------- reproduction block


def _published_summary() -> dict:
    """A summary holding exactly the numbers the original report published."""
    t1 = {k: {str(i + 1): v for i, v in enumerate(vals)} for k, vals in published.TABLE_1.items()}
    t2 = {ind: dict(zip(published.TABLE_2_COLUMNS, vals))
          for ind, vals in published.TABLE_2.items()}
    return {"n_leads": 1500, "n_leads_with_events": 1010, "n_events_distinct": 110_183,
            "conversion_to_opportunity": {"rate": 34 / 1500, "n": 34},
            "mean_interactions_by_status": t1, "mean_interactions_by_industry": t2}


def test_reproduction_compares_every_published_number():
    s = _published_summary()
    rep = published.compare(s)
    assert (rep["n_checks"], rep["n_match"], rep["all_match"]) == (115, 115, True)
    assert (rep["table1"]["n_cells"], rep["table2"]["n_cells"]) == (35, 75)
    # One cell off by a tenth, one headline number off: both are named.
    s["mean_interactions_by_industry"]["Infrastructure"]["website_docs"] = 0.8
    s["n_leads_with_events"] = 1009
    rep = published.compare(s)
    assert rep["n_match"] == 113 and not rep["all_match"]
    assert rep["table2"]["mismatches"] == [{"row": "Infrastructure", "column": "website_docs",
                                            "published": 0.9, "computed": 0.8}]
    assert [h["key"] for h in rep["headline"] if not h["matches"]] == ["n_leads_with_events"]
    # 'approximately 110,000' and '73 per client' are compared at the published precision.
    s["n_events_distinct"] = 110_600
    assert not next(h for h in published.compare(s)["headline"]
                    if h["key"] == "n_events_distinct")["matches"]


# ------------------------------------------------------------------------- real data


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "leads.csv.gz").exists(), reason="real data not available")
def test_real_data_report(tmp_path):
    s, md, html = run(REAL / "leads.csv.gz", REAL / "events.csv.gz", tmp_path / "real",
                      "--draws", "1000", "--chains", "4")
    check_shape(s, md, html)
    check_headline_numbers(s, md, html)
    first = findings_md(md)
    assert s["reproduction"]["all_match"] and s["reproduction"]["n_match"] == 115
    assert "The original report reproduces exactly from these files" in first
    assert "2 of its 3 claims tested hold" in first
    assert "finds Gaming (" in first and "as the only industry credibly above" in first
    assert "No industry is credibly below the mean" in first
    assert "Not supported: \"Clients in non-technical industries" in first
    assert "The number of CLI log-ins (" in first
