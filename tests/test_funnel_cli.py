"""`bayes-ab funnel` end to end on the shipped example data (one tiny fit, shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bayes_ab.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example_funnel"
REAL = ROOT.parent / "shared" / "data" / "spatialos"

SCHEMA_KEYS = ("schema_version", "n_leads", "n_leads_with_events", "n_events_raw",
               "n_events_distinct", "conversion_to_opportunity", "at_or_beyond_stage",
               "mean_interactions_by_status", "mean_interactions_by_industry",
               "stage3_to_4_by_industry", "top_journeys", "heuristics")


@pytest.fixture(scope="session")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("funnel") / "out"
    rc = main(["funnel", str(EXAMPLE / "sim_leads.csv"), str(EXAMPLE / "sim_events.csv"),
               "--out", str(out), "--draws", "150", "--chains", "2", "--seed", "7",
               "--quiet"])
    assert rc == 0
    return out, json.loads((out / "funnel.json").read_text())


def test_schema_keys_and_counts(example_run):
    out, s = example_run
    truth = json.loads((EXAMPLE / "truth.json").read_text())
    for key in SCHEMA_KEYS:
        assert key in s, key
    assert s["schema_version"] == 1
    assert s["n_leads"] == truth["n_leads"] == 400
    assert (s["n_events_raw"], s["n_events_distinct"]) == (
        truth["n_events_raw"], truth["n_events_distinct"])
    assert s["at_or_beyond_stage"] == {"1": 400, "2": 279, "3": 197, "4": 17, "5": 4}
    assert s["conversion_to_opportunity"]["n"] == truth["status_counts"]["5"] == 4
    assert s["conversion_to_opportunity"]["rate"] == 4 / 400
    assert set(s["mean_interactions_by_status"]["spatial_cli_logged_in"]) == {
        "1", "2", "3", "4", "5"}
    assert s["mean_interactions_by_status"]["forums_pageview"]["1"] == 0.0
    row = s["stage3_to_4_by_industry"]["Gaming"]
    assert set(row) >= {"observed", "n_at_3_or_beyond", "posterior"}
    assert set(row["posterior"]) == {"mean", "lower", "upper", "prob"}
    assert all(isinstance(p["path"], list) and p["n_leads"] > 0 for p in s["top_journeys"])
    h = s["heuristics"]
    assert set(h) >= {"model", "auc", "top_predictors"}
    assert {p["name"] for p in h["top_predictors"]} == set(
        s["mean_interactions_by_status"])
    d = s["diagnostics"]
    assert set(d) >= {"max_r_hat", "min_ess_bulk", "divergences", "passed", "per_model"}
    assert len(d["per_model"]) == 4


def test_models_find_the_simulated_truth(example_run):
    _, s = example_run
    truth = json.loads((EXAMPLE / "truth.json").read_text())["stage3_to_4"]
    # Gaming's true 3 -> 4 rate is 0.20, the population's about 0.05: the pooled posterior
    # covers the truth and ranks Gaming above the overall rate.
    g = s["stage3_to_4_by_industry"]["Gaming"]["posterior"]
    assert g["lower"] < truth["Gaming"] < g["upper"]
    assert s["stage3_to_4_by_industry"]["Gaming"]["prob_above_overall"] > 0.8
    # Activity is simulated from the report's Table 1, where stage >= 4 leads are far more
    # active: the held-out AUC is high and CLI log-ins have a positive effect.
    assert s["heuristics"]["auc"] > 0.85
    cli = next(p for p in s["heuristics"]["top_predictors"]
               if p["name"] == "spatial_cli_logged_in")
    assert cli["effect"]["mean"] > 0
    assert s["claims"]["inflection_between_3_and_4"]["prob_holds"] > 0.95


def test_report_and_figures(example_run):
    out, _ = example_run
    html = (out / "funnel_report.html").read_text()
    assert html.count("data:image/png;base64,") == 8
    assert "<img" in html and "src=\"figures/" not in html  # self-contained
    names = {p.name for p in (out / "figures").glob("*.png")}
    assert names >= {"funnel.png", "attrition_by_industry.png", "interactions_by_status.png",
                     "interactions_by_industry.png", "stage3_to_4_forest.png", "journeys.png"}
    assert (out / "idata" / "stage3_to_4_by_industry.nc").stat().st_size > 0


def test_existing_output_refused_without_force(example_run, capsys):
    out, _ = example_run
    rc = main(["funnel", str(EXAMPLE / "sim_leads.csv"), str(EXAMPLE / "sim_events.csv"),
               "--out", str(out), "--quiet"])
    assert rc == 2
    assert "already exists" in capsys.readouterr().err


def test_bad_input_exit_2_with_message(tmp_path, capsys):
    (tmp_path / "leads.csv").write_text("email,industry,status\na,VR,Lost\n")
    rc = main(["funnel", str(tmp_path / "leads.csv"), str(EXAMPLE / "sim_events.csv"),
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown status" in err and "line(s) 2" in err
    assert "Traceback" not in err
    rc = main(["funnel", str(tmp_path / "missing.csv"), str(EXAMPLE / "sim_events.csv"),
               "--out", str(tmp_path / "out")])
    assert rc == 2 and "file not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "leads.csv.gz").exists(), reason="real data not available")
def test_real_data_full_run(tmp_path):
    out = tmp_path / "real"
    rc = main(["funnel", str(REAL / "leads.csv.gz"), str(REAL / "events.csv.gz"),
               "--out", str(out), "--draws", "1000", "--chains", "4", "--quiet"])
    assert rc == 0
    s = json.loads((out / "funnel.json").read_text())
    assert s["diagnostics"]["passed"]
    assert s["mean_interactions_by_status"]["spatial_cli_logged_in"] == {
        "1": 0.0, "2": 22.0, "3": 21.5, "4": 291.6, "5": 361.0}
    assert s["mean_interactions_by_industry"]["Infrastructure"]["website_docs"] == 0.9
    assert s["stage3_to_4_pooled"]["credibly_above"] == ["Gaming"]
    assert s["heuristics"]["auc"] > 0.85
    assert s["heuristics"]["top_predictors"][0]["name"] == "spatial_cli_logged_in"
    assert s["advanced_lead_models"]["status>=4"]["loo_gain_from_interactions"]["elpd_diff"] > 0
