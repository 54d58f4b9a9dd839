"""Degenerate but valid inputs (issue 13): `analyze` answers what the data can answer,
gives a null block plus an error finding for the rest, and never crashes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.workflows import analyze as pl
from bayes_ab.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
FILES = ("test_cohorts", "product_activity", "help_activity", "conversion")


def _example() -> dict[str, pd.DataFrame]:
    return {f: pd.read_csv(EXAMPLE / f"{f}.csv.gz", dtype=str, keep_default_na=False)
            for f in FILES}


def _subsample(tables: dict[str, pd.DataFrame], ids) -> dict[str, pd.DataFrame]:
    ids = set(ids)
    return {f: t[t["customer_id"].isin(ids)].reset_index(drop=True) for f, t in tables.items()}


def _base(n_control: int = 70, n_test: int = 30, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A small random subsample of the example, stratified by arm, with CS and OTHER help."""
    tables = _example()
    cohorts = tables["test_cohorts"]
    rng = np.random.default_rng(seed)
    ids = []
    for arm, n in (("Control", n_control), ("Test", n_test)):
        pool = cohorts.loc[cohorts["cohort"] == arm, "customer_id"].to_numpy()
        ids.extend(rng.choice(pool, size=n, replace=False))
    return _subsample(tables, ids)


def _case(name: str) -> dict[str, pd.DataFrame]:
    t = _base()
    if name == "empty_help":
        t["help_activity"] = t["help_activity"].iloc[:0]
    elif name == "one_arm":
        test_ids = t["test_cohorts"].loc[t["test_cohorts"]["cohort"] == "Test", "customer_id"]
        t = _subsample(t, test_ids)
    elif name == "one_customer":
        helped = t["help_activity"]["customer_id"].iloc[0]
        t = _subsample(t, [helped])
    elif name == "no_conversions":
        t["conversion"] = t["conversion"].assign(converted="0", converted_at="")
    elif name == "all_converted":
        t["conversion"] = t["conversion"].assign(
            converted="1", converted_at="2026-05-12T00:00:00Z")
    elif name == "no_product":
        t["product_activity"] = t["product_activity"].iloc[:0]
    elif name == "one_control":
        cohorts = t["test_cohorts"]
        keep = pd.concat([cohorts.loc[cohorts["cohort"] == "Control", "customer_id"].iloc[:1],
                          cohorts.loc[cohorts["cohort"] == "Test", "customer_id"]])
        t = _subsample(t, keep)
    elif name == "two_customers":  # one per arm, both flagged, one with CS help
        h = t["help_activity"]
        cohorts = t["test_cohorts"].set_index("customer_id")["cohort"]
        arm = h["customer_id"].map(cohorts)
        t = _subsample(t, [h.loc[arm == "Control", "customer_id"].iloc[0],
                           h.loc[(arm == "Test") & (h["channel"] == "CS"), "customer_id"].iloc[0]])
    elif name == "no_cs":
        h = t["help_activity"]
        t["help_activity"] = h[h["channel"] != "CS"].reset_index(drop=True)
    elif name == "only_cs":
        h = t["help_activity"]
        t["help_activity"] = h[h["channel"] == "CS"].reset_index(drop=True)
    elif name != "base":
        raise KeyError(name)
    return t


CASES = ("base", "empty_help", "one_arm", "one_customer", "no_conversions", "all_converted",
         "no_product", "one_control", "two_customers", "no_cs", "only_cs")


def write_case(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f, table in _case(name).items():
        table.to_csv(folder / f"{f}.csv", index=False)
    return folder


# ----------------------------------------------------------------------------- tests


FAST = ["--draws", "100", "--tune", "100", "--chains", "2", "--no-figures",
        "--prior-sensitivity", "none", "--quiet"]
ENGINES = ("pandas", "duckdb")
#: The models that need help flags: on a folder without help rows each gives a null block
#: without any sampling, so the whole CLI path runs in seconds.
HELP_STEPS = tuple(s for s in pl.MODEL_STEPS
                   if s.key in ("help_completion", "time_to_completion", "causal_cs_effect"))


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("degenerate")
    return {name: write_case(name, root / name) for name in CASES}


def _load(folder: Path, engine: str):
    if engine == "duckdb":
        from bayes_ab.aggregate import aggregate_experiment

        return aggregate_experiment(folder)
    from bayes_ab.data.load import load_experiment

    return load_experiment(folder)


def _arm_counts(folder: Path) -> pd.DataFrame:
    """(converted, customers) per arm, straight from the CSV files."""
    cohorts = pd.read_csv(folder / "test_cohorts.csv")
    conv = pd.read_csv(folder / "conversion.csv")
    merged = cohorts.merge(conv, on="customer_id", how="left").fillna({"converted": 0})
    return merged.groupby("cohort")["converted"].agg(["sum", "count"])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- an empty arm: nothing to compare, exit 2 with one sentence ------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case, empty", [("one_arm", "Control"), ("one_customer", "Test")])
def test_empty_arm_exits_2_with_one_sentence(cases, tmp_path, capsys, case, empty, engine):
    before = _snapshot(cases[case])
    out = tmp_path / "out"
    assert main(["analyze", str(cases[case]), "--out", str(out), "--engine", engine,
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"no customer in {empty}" in err
    assert "needs at least one customer in each arm" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    assert _snapshot(cases[case]) == before


# -- the split check with too few customers --------------------------------------------------

def test_split_cannot_be_judged_with_too_few_customers():
    from scipy import stats

    from bayes_ab.data.validate import sample_ratio_finding, srm_judgeable, srm_min_customers
    from bayes_ab.stats.frequentist import srm_check
    from bayes_ab.report.text import srm_sentence

    # At least 5 expected customers in each arm: 0.3 n >= 5 <=> n >= 16.67.
    assert srm_min_customers(0.3) == 17 and srm_min_customers(0.5) == 10
    assert not srm_judgeable(5, 11, test_share=0.3) and srm_judgeable(5, 12, test_share=0.3)
    f = sample_ratio_finding(1, 0, design_test_share=0.3)
    assert f.check == "sample_ratio" and f.severity == "warning"
    assert "too few customers to judge the split" in f.message
    assert "consistent" not in f.message and "at least 17 customers" in f.message
    # Judgeable: the chi-square test as before.
    f = sample_ratio_finding(30, 70, design_test_share=0.3)
    assert f.severity == "info" and "consistent with the design" in f.message
    # analyze's srm block: 2 customers in Test, none expected... never a "mismatch".
    block = pl._srm_block(srm_check(2, 0, expected_test_share=0.3))
    assert block["judgeable"] is False and block["mismatch"] is False
    assert block["p_value"] == pytest.approx(stats.chisquare([2, 0], [0.6, 1.4]).pvalue)
    assert "too few customers to judge the split" in srm_sentence(block)
    assert "matches the design" not in srm_sentence(block)
    block = pl._srm_block(srm_check(50, 50, expected_test_share=0.3))
    assert block["judgeable"] is True and block["mismatch"] is True


def test_validate_one_customer_says_the_split_cannot_be_judged(cases, capsys):
    assert main(["validate", str(cases["one_customer"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["customers"] == 1
    (f,) = [f for f in info["findings"] if f["check"].startswith("sample_ratio")]
    assert f["severity"] == "warning" and f["count"] == 1
    assert "too few customers to judge the split: Test 0 / Control 1" in f["message"]
    # The empty Test arm, which analyze refuses, is an error here too.
    (f,) = [f for f in info["findings"] if f["check"] == "empty_arm"]
    assert f["severity"] == "error" and "no customer in Test" in f["message"]
    assert info["ok"] is False
    assert main(["validate", str(cases["one_customer"])]) == 0
    out = capsys.readouterr().out
    assert "consistent with the design" not in out and "too few customers" in out


@pytest.mark.parametrize("engine", ENGINES)
def test_one_arm_split_is_judged_a_mismatch(cases, engine):
    """30 Test / 0 Control is enough customers to judge: a sample-ratio mismatch."""
    data = _load(cases["one_arm"], engine)
    (f,) = [f for f in data.findings if f.check.startswith("sample_ratio")]
    assert f.check == "sample_ratio_mismatch" and f.severity == "warning"


# -- --revenue-per-conversion (and --threshold) must be finite and > 0 -------------------------

@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "-inf"])
@pytest.mark.parametrize("option", ["--revenue-per-conversion", "--threshold"])
def test_money_and_threshold_options_must_be_finite_positive(cases, tmp_path, capsys, option,
                                                             value):
    out = tmp_path / "out"
    assert main(["analyze", str(cases["base"]), "--out", str(out), f"{option}={value}",
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{option} must be a finite" in err and value in err
    assert not out.exists()


def test_negative_revenue_without_equals_sign(cases, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(cases["base"]), "--out", str(out),
                 "--revenue-per-conversion", "-120", *FAST]) == 2
    assert "--revenue-per-conversion must be a finite amount > 0" in capsys.readouterr().err


# -- what the data can answer, piece by piece (no sampling) ----------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ["empty_help", "one_control", "no_conversions",
                                  "all_converted", "no_cs", "only_cs"])
def test_frequentist_tests_are_the_data(cases, case, engine):
    from scipy import stats
    from statsmodels.stats.proportion import proportions_ztest

    data = _load(cases[case], engine)
    freq = pl.frequentist_checks(data, design_test_share=0.3)
    counts = _arm_counts(cases[case])
    assert data.n_in("Test") == counts.loc["Test", "count"]
    assert data.n_in("Control") == counts.loc["Control", "count"]
    block = freq["conversion"].to_dict()
    s = counts.loc[["Test", "Control"], "sum"].to_numpy()
    n = counts.loc[["Test", "Control"], "count"].to_numpy()
    if block["test"] == "fisher":  # small expected counts (one Control customer, ...)
        p = stats.fisher_exact([[s[0], n[0] - s[0]], [s[1], n[1] - s[1]]]).pvalue
    else:
        p = proportions_ztest(s, n)[1]
    assert block["p_value"] == pytest.approx(p, rel=1e-9)
    if s.sum() in (0, n.sum()):  # nobody / everybody converted: no evidence either way
        assert block["p_value"] == pytest.approx(1.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_help_rows_pieces(cases, engine):
    from bayes_ab.errors import BayesAbError

    data = _load(cases["empty_help"], engine)
    among = pl._engagement_among_flagged(data)
    assert among == {"control": None, "n_flagged_control": 0, "test": None,
                     "n_flagged_test": 0}
    for key in ("help_completion", "time_to_completion", "causal_cs_effect"):
        with pytest.raises(BayesAbError, match="no help flags"):
            pl.build_model(key, data)
    findings: list = []
    ratios = pl.ratio_metrics(data, seed=1, findings=findings)
    assert ratios["cs_contacts_per_flagged_customer"] is None
    (f,) = [f for f in findings if f["check"] == "ratio_cs_contacts_per_flagged_customer"]
    assert f["severity"] == "error" and "is zero in Control and Test" in f["message"]
    # 0 flags per customer in both arms: nothing to compare (no "P(Test better) = 0").
    assert ratios["help_flags_per_customer"] is None
    (f,) = [f for f in findings if f["check"] == "ratio_help_flags_per_customer"]
    assert f["severity"] == "error" and "zero for every customer of both arms" in f["message"]
    # Answered: minutes per completed task does not need help rows.
    block = ratios["minutes_per_completed_task"]
    cohorts = pd.read_csv(cases["empty_help"] / "test_cohorts.csv")
    frame = data.frame if engine == "pandas" else _load(cases["empty_help"], "pandas").frame
    for arm in ("Control", "Test"):
        sub = frame[frame["cohort"] == arm]
        minutes = sub[[f"task{k}_duration_min" for k in (1, 2, 3)]].sum().sum()
        assert block["counts"][arm.lower()]["ratio"] == pytest.approx(
            minutes / sub["n_completed"].sum(), rel=1e-9)
        assert block["counts"][arm.lower()]["n"] == (cohorts["cohort"] == arm).sum()


@pytest.mark.parametrize("engine", ENGINES)
def test_one_control_customer_pieces(cases, engine):
    from bayes_ab.models.beta_binomial import BinomialCounts, posterior

    data = _load(cases["one_control"], engine)
    counts = _arm_counts(cases["one_control"])
    assert counts.loc["Control", "count"] == 1
    model = pl.build_model("conversion", data)  # a Beta-Binomial on one trial is fine
    assert model is not None
    findings: list = []
    ratios = pl.ratio_metrics(data, seed=1, findings=findings)
    assert all(v is None for v in ratios.values())
    assert {f["check"] for f in findings} == {f"ratio_{k}" for k in ratios}
    assert all(f["severity"] == "error" for f in findings)
    assert any("at least 3 customers per arm, got 1" in f["message"] for f in findings)
    # CS engagement among flagged customers: the closed-form Beta(1 + s, 1 + n - s) of
    # the CSV files, in each arm that has a flagged customer (else null).
    among = pl._engagement_among_flagged(data)
    cohorts = pd.read_csv(cases["one_control"] / "test_cohorts.csv")
    flags = pd.read_csv(cases["one_control"] / "help_activity.csv").merge(cohorts,
                                                                            on="customer_id")
    for arm in ("Test", "Control"):
        sub = flags[flags["cohort"] == arm]
        n = sub["customer_id"].nunique()
        s = sub.loc[sub["channel"] == "CS", "customer_id"].nunique()
        assert among[f"n_flagged_{arm.lower()}"] == n
        if n:
            post = posterior(BinomialCounts(s, n))
            assert among[arm.lower()]["mean"] == pytest.approx(post.mean, rel=1e-12)
        else:
            assert among[arm.lower()] is None


# -- the whole command: null blocks, error findings, a report that renders -------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_analyze_without_help_rows_exit_0_with_null_blocks(cases, tmp_path, monkeypatch,
                                                            engine):
    """help_activity with a header and no rows (the contract allows it): the models that
    need help flags give null blocks and error findings, the run exits 0 and the report
    renders. Only the help models run (each fails before sampling) to keep this fast; the
    slow test below runs every model."""
    monkeypatch.setattr(pl, "MODEL_STEPS", HELP_STEPS)
    folder = cases["empty_help"]
    before = _snapshot(folder)
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--out", str(out), "--engine", engine, *FAST]) == 0
    results = json.loads((out / "results.json").read_text())
    assert _snapshot(folder) == before
    assert results["input"]["engine"] == engine
    assert results["input"]["n_help_flags"] == 0
    assert results["help_channels"] == {"completion": None, "time_to_completion": None,
                                        "causal_effect": None}
    errors = {f["check"]: f["message"] for f in results["data_quality"]
              if f["severity"] == "error"}
    for key in ("help_completion", "time_to_completion", "causal_cs_effect"):
        assert "could not be estimated on this data: no help flags" in errors[f"model_{key}"]
    assert results["ratio_metrics"]["cs_contacts_per_flagged_customer"] is None
    assert results["ratio_metrics"]["help_flags_per_customer"] is None
    assert {"ratio_cs_contacts_per_flagged_customer",
            "ratio_help_flags_per_customer"} <= set(errors)
    # Answered: the split, the ratio metric without help rows, the segments.
    assert results["srm"]["judgeable"] is True and results["srm"]["mismatch"] is False
    assert results["srm"]["observed_test_share"] == pytest.approx(0.3)
    assert results["ratio_metrics"]["minutes_per_completed_task"]["counts"]["test"]["n"] == 30
    assert results["segments"]["join_period"]
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "Completion after help by channel: not estimated" in md
    assert "could not be estimated on this data: no help flags" in html
    for text in (md, html):  # no Python null leaks into the prose
        assert "Traceback" not in text and not re.search(r"\bNone\b(?! of)", text)


@pytest.mark.slow
def test_analyze_without_help_rows_every_model(cases, tmp_path):
    """Every model on the folder without help rows: the arm comparisons, the decision and
    the help-free explorations are answered with real values; the help models are null."""
    from bayes_ab.models.beta_binomial import BinomialCounts, posterior

    folder = cases["empty_help"]
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--out", str(out), "--engine", "pandas", *FAST]) == 0
    results = json.loads((out / "results.json").read_text())
    counts = _arm_counts(folder)
    for arm in ("Control", "Test"):
        exact = posterior(BinomialCounts(int(counts.loc[arm, "sum"]),
                                         int(counts.loc[arm, "count"])))
        assert results["conversion"][arm.lower()]["mean"] == pytest.approx(exact.mean, abs=0.02)
    # Nobody was flagged, so nobody engaged with CS: the posterior sits near 0.
    assert results["cs_engagement"]["test"]["upper"] < 0.2
    assert results["cs_engagement"]["among_flagged"]["n_flagged_test"] == 0
    assert results["decision"] is not None  # its wording is another issue's
    assert results["completions_conversion"] is not None
    assert results["time_and_experience"] is not None
    assert results["help_channels"]["completion"] is None


@pytest.mark.parametrize("engine", ENGINES)
def test_analyze_two_customers_split_not_judged(cases, tmp_path, monkeypatch, engine):
    """One customer per arm: the arms can be compared (posteriors exist) but the split
    cannot be judged, in results.json, the findings and the report. No model is sampled
    here (MODEL_STEPS emptied: every model block null) to keep it fast."""
    from scipy import stats

    monkeypatch.setattr(pl, "MODEL_STEPS", ())
    out = tmp_path / "out"
    assert main(["analyze", str(cases["two_customers"]), "--out", str(out), "--engine", engine,
                 *FAST]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["input"]["n_test"] == results["input"]["n_control"] == 1
    assert results["srm"] == {"expected_test_share": 0.3, "observed_test_share": 0.5,
                              "p_value": pytest.approx(
                                  stats.chisquare([1, 1], [0.6, 1.4]).pvalue, rel=1e-12),
                              "mismatch": False, "judgeable": False}
    (f,) = [f for f in results["data_quality"] if f["check"].startswith("sample_ratio")]
    assert f["severity"] == "warning" and "too few customers to judge the split" in f["message"]
    assert all(v is None for v in results["ratio_metrics"].values())
    assert results["conversion"] is None and results["decision"] is None
    md = (out / "report.md").read_text()
    assert "too few customers to judge the split" in md
    assert "The split matches the design" not in md
    assert not re.search(r"\bNone\b(?! of)", md)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_product_activity_rows_exit_2(cases, tmp_path, capsys, engine):
    """A product_activity file with a header and no rows is an empty file (the data
    contract's bad input): exit 2 naming the file, never a traceback."""
    out = tmp_path / "out"
    assert main(["analyze", str(cases["no_product"]), "--out", str(out), "--engine", engine,
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "product_activity.csv" in err and "empty" in err
    assert not out.exists()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case, missing", [("only_cs", "OTHER"), ("no_cs", "CS")])
def test_one_help_channel_gives_null_cs_vs_other_blocks(cases, case, missing, engine):
    """With help flags of one channel only, CS vs OTHER would be the prior on one side:
    the three help-channel models are refused (null block + error finding in analyze),
    while the arm comparisons, which need no channel contrast, still build."""
    from bayes_ab.errors import DataError

    data = _load(cases[case], engine)
    flags = pd.read_csv(cases[case] / "help_activity.csv")
    n_present = int((flags["channel"] != missing).sum())
    for key in ("help_completion", "time_to_completion"):
        with pytest.raises(DataError, match=rf"no help flags in {missing} \(.*{missing} 0[,)]"):
            pl.build_model(key, data)
    with pytest.raises(DataError, match=rf"no first help flags in {missing}"):
        pl.build_model("causal_cs_effect", data)
    assert n_present > 0
    for key in ("conversion", "cs_engagement", "completions_conversion"):
        assert pl.build_model(key, data) is not None
