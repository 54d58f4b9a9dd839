"""The notebook API (`bayes_ab.analyze`, `bayes_ab.workflows.compare`, `AnalysisResult`), the
structured progress of the pipeline, `--json` / `--quiet` and the known-warning filter.

To stay fast, the analyze runs keep only the two exact-posterior models (conversion and CS
engagement: Beta-Binomial draws, no compile); the notebook test runs every model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayes_ab
from bayes_ab.workflows import analyze as pipeline
from bayes_ab.cli.main import main

TINY = dict(draws=200, tune=100, chains=2, seed=11, prior_sensitivity="none", forensics=False)


@pytest.fixture(scope="module")
def experiment_dir(tmp_path_factory) -> Path:
    from bayes_ab.simulate import simulate, write_simulation

    folder = tmp_path_factory.mktemp("api_experiment")
    write_simulation(simulate(n=3000, seed=5, scenario="effect", truth=False), folder)
    return folder


@pytest.fixture(autouse=True)
def exact_models_only(monkeypatch):
    monkeypatch.setattr(pipeline, "MODEL_STEPS", pipeline.MODEL_STEPS[:2])


@pytest.fixture
def analyzed(experiment_dir, tmp_path, monkeypatch):
    """An API analyze run with the temp folder and the cwd redirected to watched folders."""
    tmpdir, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmpdir.mkdir()
    cwd.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmpdir))
    monkeypatch.chdir(cwd)
    before = set(os.listdir(experiment_dir))
    res = bayes_ab.analyze(experiment_dir, **TINY)
    assert set(os.listdir(experiment_dir)) == before
    return res, tmpdir, cwd


def _counts(experiment_dir, column):
    from bayes_ab.data.load import load_experiment

    frame = load_experiment(experiment_dir).frame
    return {arm: (int(frame.loc[frame.cohort == arm, column].sum()),
                  int((frame.cohort == arm).sum())) for arm in ("Control", "Test")}


def test_import_is_light():
    code = ("import sys, bayes_ab; bayes_ab.__version__; "
            "print(sorted(m for m in ('pymc', 'arviz', 'nutpie', 'matplotlib', 'pandas', "
            "'bayes_ab.api', 'bayes_ab.workflows.compare') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ})
    assert out.stdout.strip() == "[]"


def test_analyze_writes_nothing_and_holds_the_results(analyzed, experiment_dir):
    res, tmpdir, cwd = analyzed
    assert os.listdir(tmpdir) == [] and os.listdir(cwd) == []  # the private folder is gone
    assert res.kind == "analyze"
    assert set(res.idata) == {"conversion", "cs_engagement"}
    post = res.idata["conversion"].posterior
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 200
    assert res.decision is res.results["decision"]
    assert res.recommendation in ("double_down", "pivot", "keep_testing")
    assert res.findings == res.results["data_quality"]
    # The posterior is the closed form Beta(1 + s, 1 + n - s) of each arm's counts.
    counts = _counts(experiment_dir, "converted")
    for arm in ("Control", "Test"):
        s, n = counts[arm]
        draws = np.asarray(post["rate"].sel(arm=arm)).ravel()
        exact = (1 + s) / (2 + n)
        sd = np.sqrt(exact * (1 - exact) / (3 + n))
        assert abs(draws.mean() - exact) < 5 * sd / np.sqrt(len(draws)) + 1e-12


def test_summary_is_tidy_and_equals_results(analyzed):
    res, _, _ = analyzed
    table = res.summary()
    assert list(table.columns) == ["model", "quantity", "mean", "hdi_low", "hdi_high",
                                   "hdi_prob", "r_hat", "ess_bulk", "divergences", "passed"]
    assert set(table["model"]) == {"conversion", "cs_engagement"}  # the models that ran
    assert len(table) == 8
    row = table.set_index(["model", "quantity"]).loc[("conversion", "lift_abs")]
    lift = res.results["conversion"]["lift_abs"]
    assert (row["mean"], row["hdi_low"], row["hdi_high"]) == (
        lift["mean"], lift["lower"], lift["upper"])
    diag = res.results["diagnostics"]["per_model"]["conversion"]
    assert row["r_hat"] == diag["max_r_hat"] and row["passed"] == diag["passed"]
    assert (table["hdi_low"] <= table["mean"]).all() and (table["mean"] <= table["hdi_high"]).all()


def test_repr_html_is_the_reports_summary(analyzed):
    from bayes_ab.report import build_document

    res, _, _ = analyzed
    html = res._repr_html_()
    assert html.startswith('<div class="bayes-ab-summary">') and "<html" not in html
    first = build_document(res.results)["sections"][0]
    assert f"<h2>{first['title']}</h2>" in html
    callout = first["blocks"][0]
    assert callout["title"] in html
    # Only the first section, and its CSS cannot reach the rest of the page.
    assert html.count("<section") == 1
    css = html.split("<style>")[1].split("</style>")[0]
    assert all(rule.startswith(".bayes-ab-summary") for rule in css.splitlines() if rule)


def test_plot_returns_closed_figures_and_writes_nothing(analyzed):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    res, tmpdir, cwd = analyzed
    for kind in ("trace", "posterior", "forest"):
        fig = res.plot(kind, model="conversion")
        assert isinstance(fig, Figure) and fig.axes
    assert plt.get_fignums() == []
    assert os.listdir(tmpdir) == [] and os.listdir(cwd) == []
    with pytest.raises(bayes_ab.BayesAbError, match="no model 'nope'"):
        res.plot("trace", model="nope")
    with pytest.raises(bayes_ab.BayesAbError, match="plot kind"):
        res.plot("histogram")


def test_save_writes_what_the_cli_writes(analyzed, experiment_dir, tmp_path):
    import arviz as az

    res, _, _ = analyzed
    out = res.save(tmp_path / "saved")
    cli_out = tmp_path / "cli"
    assert main(["analyze", str(experiment_dir), "--out", str(cli_out), "--draws", "200",
                 "--tune", "100", "--chains", "2", "--seed", "11", "--prior-sensitivity",
                 "none", "--no-figures", "--quiet"]) == 0
    names = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    cli_names = {p.relative_to(cli_out).as_posix() for p in cli_out.rglob("*")}
    assert names == cli_names
    saved = json.loads((out / "results.json").read_text())
    cli = json.loads((cli_out / "results.json").read_text())
    # Same seed, same numbers (the CLI also runs forensics; timings differ).
    for key in ("input", "srm", "conversion", "cs_engagement", "decision", "diagnostics"):
        assert saved[key] == cli[key], key
    again = az.from_netcdf(out / "idata" / "conversion.nc")
    np.testing.assert_array_equal(again.posterior["rate"].values,
                                  res.idata["conversion"].posterior["rate"].values)
    with pytest.raises(bayes_ab.BayesAbError):
        res.save(out)  # exists: refused, like the CLI


def test_compare_on_a_frame_equals_the_file(tmp_path, monkeypatch):
    from scipy import stats

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"arm": np.repeat(["control", "B"], [2000, 2100]),
                          "converted": np.r_[rng.random(2000) < 0.10,
                                             rng.random(2100) < 0.13].astype(int)})
    original = frame.copy()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmpdir))
    res = bayes_ab.compare(frame, group_col="arm", outcome_col="converted")
    pd.testing.assert_frame_equal(frame, original)  # input untouched
    assert os.listdir(tmpdir) == []
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    from_file = bayes_ab.compare(path, group_col="arm", outcome_col="converted")
    assert res.results["arms"] == from_file.results["arms"]
    assert res.results["decision"] == from_file.results["decision"]
    assert res.results["input"]["file"] == "<DataFrame>"
    # Exact Beta posteriors: the B arm's mean rate is (1 + s) / (2 + n).
    s, n = int(frame.converted[frame.arm == "B"].sum()), 2100
    assert res.results["posterior"]["B"]["alpha"] == 1 + s
    table = res.summary()
    row = table.set_index("quantity").loc["B lift_abs"]
    assert row["mean"] == res.results["arms"]["B"]["lift_abs"]["mean"]
    ref = stats.beta(1 + s, 1 + n - s).mean() - stats.beta(
        1 + frame.converted[frame.arm == "control"].sum(), 1 + 2000 - frame.converted[
            frame.arm == "control"].sum()).mean()
    assert row["mean"] == pytest.approx(ref, abs=5e-4)
    fig = res.plot("lift")
    assert "B - control" in fig.axes[0].get_title()
    assert "Recommendation" in res._repr_html_() or "recommendation" in res._repr_html_()
    saved = res.save(tmp_path / "cmp")
    assert {"compare.json", "report.html", "report.md"} <= set(os.listdir(saved))
    with pytest.raises(bayes_ab.BayesAbError):
        bayes_ab.compare([1, 2], group_col="arm", outcome_col="converted")


def test_pipeline_reports_each_stage_and_model(experiment_dir, tmp_path):
    from bayes_ab.workflows.analyze import AnalyzeOptions, StepEvent
    from bayes_ab.inference.fit import SamplerConfig

    events: list[StepEvent] = []
    messages: list[str] = []
    options = AnalyzeOptions(sampler=SamplerConfig(draws=50, tune=50, chains=1, seed=1),
                             figures=False, prior_sensitivity="decision", forensics=False)
    pipeline.analyze(experiment_dir, out_dir=tmp_path, options=options,
                     progress=messages.append, on_step=events.append)
    # The plain callback still gets its lines (old callers unchanged).
    assert messages[:4] == ["loading data", "frequentist cross-checks",
                            "model: conversion lift", "model: CS engagement lift"]
    models = [e for e in events if e.kind == "model"]
    # Each model's line starts when its fit starts and ends once it is summarised and saved
    # (fits may overlap: analyze --workers).
    pairs = [(e.key, e.status) for e in models]
    assert sorted(pairs) == [("conversion", "done"), ("conversion", "start"),
                             ("cs_engagement", "done"), ("cs_engagement", "start")]
    for key in ("conversion", "cs_engagement"):
        assert pairs.index((key, "start")) < pairs.index((key, "done"))
    done = [e for e in models if e.status == "done"]
    assert all(e.exact and e.compile_seconds == 0.0 and e.seconds >= 0 for e in done)
    keys = [e.key for e in events if e.status == "start"]
    assert keys == ["load", "frequentist", "conversion", "cs_engagement",
                    "sensitivity_conversion", "sensitivity_cs_engagement", "ratios_segments"]
    assert len([e for e in events if e.status == "done"]) == len(keys)


def test_cli_progress_is_one_line_per_model_without_timestamps(experiment_dir, tmp_path,
                                                               capsys):
    rc = main(["analyze", str(experiment_dir), "--out", str(tmp_path / "o"), "--draws", "50",
               "--tune", "50", "--chains", "1", "--prior-sensitivity", "none", "--no-figures"])
    assert rc == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert sum("conversion lift" in line for line in lines) == 1
    assert sum("CS engagement lift" in line for line in lines) == 1
    assert "done (exact posterior, no sampler)" in err
    assert "analyze.py:" not in err and "bayes-ab loading" not in err  # no log lines


def test_analyze_json_prints_only_results(experiment_dir, tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["analyze", str(experiment_dir), "--out", str(out), "--draws", "50", "--tune",
               "50", "--chains", "1", "--prior-sensitivity", "none", "--no-figures", "--json"])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert json.loads(stdout) == json.loads((out / "results.json").read_text())


def test_compare_json_and_quiet(tmp_path, capsys):
    path = tmp_path / "ab.csv"
    path.write_text("arm,y\n" + "A,1\nA,0\nA,0\nB,1\nB,1\nB,0\n" * 50)
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y", "--out",
               str(tmp_path / "c"), "--json", "--no-figures"])
    assert rc == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == json.loads((tmp_path / "c" / "compare.json").read_text())
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y", "--out",
               str(tmp_path / "q"), "--quiet", "--no-figures"])
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_known_arviz_warning_is_filtered(tmp_path):
    """ArviZ warns about its refactor once a day (a stamp file in the user cache): a fresh
    cache makes it warn; the CLI's filter silences exactly that message."""
    def run(code):
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / f"cache{len(code)}")}
        return subprocess.run([sys.executable, "-W", "default", "-c", code],
                              capture_output=True, text=True, env=env, check=True).stderr

    assert "ArviZ is undergoing a major refactor" in run("import arviz")
    err = run("from bayes_ab.inference.known_warnings import silence_known_warnings; "
              "silence_known_warnings(); import arviz; import warnings; "
              "warnings.warn('other', FutureWarning)")
    assert "refactor" not in err and "other" in err


def test_analyze_takes_a_source_like_the_cli(tmp_path):
    """`bayes_ab.analyze(source=..., tables=...)` resolves its input exactly as the CLI's
    --source/--tables (one shared resolver): both or neither is an OptionError, a URL given
    as `path` is a source, and an unknown scheme gets the CLI's message."""
    import bayes_ab
    from bayes_ab.errors import OptionError

    with pytest.raises(OptionError, match="exactly one of DATA_DIR"):
        bayes_ab.analyze(tmp_path, source="duckdb:///x.duckdb")
    with pytest.raises(OptionError, match="exactly one of DATA_DIR"):
        bayes_ab.analyze()
    with pytest.raises(OptionError, match="--source must be a postgresql:// or duckdb:///"):
        bayes_ab.analyze("mysql://host/db")
    with pytest.raises(OptionError, match="--tables goes with --source"):
        bayes_ab.analyze(tmp_path, tables="a,b,c,d")
    with pytest.raises(OptionError, match="--engine pandas reads files"):
        bayes_ab.analyze(source="duckdb:///x.duckdb", engine="pandas")
