"""`bayes-ab compare`: parsing and validation of a plain A/B export, and one end-to-end run
checked against the conjugate Beta posterior and statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import count_arms, karm_decision, read_groups
from bayes_ab.errors import DataError

#: arm -> (successes, trials) of the end-to-end export.
COUNTS = {"control": (30, 300), "variant_b": (52, 310), "variant_c": (21, 290)}


def _export(counts: dict[str, tuple[int, int]], *, labels=("1", "0"), seed=0) -> pd.DataFrame:
    rows = []
    for arm, (s, n) in counts.items():
        rows += [(arm, labels[0])] * s + [(arm, labels[1])] * (n - s)
    df = pd.DataFrame(rows, columns=["Variant", "Clicked"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------ validation


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as exc:
        read_groups(tmp_path / "nope.csv", group_col="g", outcome_col="y")
    assert exc.value.file.endswith("nope.csv")


def test_missing_column_lists_available(tmp_path):
    path = _write(tmp_path, "group,converted,extra\nA,1,x\nB,0,y\n")
    with pytest.raises(DataError) as exc:
        read_groups(path, group_col="arm", outcome_col="converted")
    msg = str(exc.value)
    assert "no column 'arm' (--group-col)" in msg
    assert "the file has: group, converted, extra" in msg
    assert exc.value.file == "export.csv" and exc.value.column == "arm"


def test_column_names_match_case_insensitively(tmp_path):
    path = _write(tmp_path, "Group Name,Converted\nA,1\nB,0\n")
    data = read_groups(path, group_col="group name", outcome_col="CONVERTED")
    assert data.groups == ("A", "B") and data.outcomes == (1, 0)


def test_one_arm_only(tmp_path):
    path = _write(tmp_path, "g,y\nA,1\nA,0\n")
    with pytest.raises(DataError, match=r"only one arm \('A'\)"):
        count_arms(read_groups(path, group_col="g", outcome_col="y"))


def test_non_binary_outcome_shows_values_and_lines(tmp_path):
    path = _write(tmp_path, "g,y\nA,1\nB,2\nA,yes\nB,maybe\nA,\nB,2\n")
    with pytest.raises(DataError) as exc:
        read_groups(path, group_col="g", outcome_col="y")
    err = exc.value
    assert err.lines == (3, 5, 6, 7)
    assert err.column == "y"
    assert "found '2', 'maybe', ''" in str(err)


def test_empty_group_label(tmp_path):
    path = _write(tmp_path, "g,y\nA,1\n  ,0\nB,1\n,1\n")
    with pytest.raises(DataError, match="empty group label") as exc:
        read_groups(path, group_col="g", outcome_col="y")
    assert exc.value.lines == (3, 5)


def test_unknown_control(tmp_path):
    path = _write(tmp_path, "g,y\nA,1\nB,0\n")
    data = read_groups(path, group_col="g", outcome_col="y")
    with pytest.raises(DataError, match="--control 'Z' is not one of the arms: A, B"):
        count_arms(data, control="Z")


def test_empty_file(tmp_path):
    path = _write(tmp_path, "g,y\n")
    with pytest.raises(DataError, match="empty"):
        read_groups(path, group_col="g", outcome_col="y")


@pytest.mark.parametrize("arms, control, expected, why", [
    (["B", "Control", "X"], None, "Control", "named control"),
    (["B", "A", "C"], None, "A", "named A"),
    (["zeta", "beta", "gamma"], None, "beta", "alphabetical order"),
    (["zeta", "beta", "gamma"], "gamma", "gamma", "given with --control"),
    (["zeta", "beta", "gamma"], "GAMMA", "gamma", "given with --control"),
])
def test_default_control(tmp_path, arms, control, expected, why):
    text = "g,y\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(arms * 2))
    data = read_groups(_write(tmp_path, text), group_col="g", outcome_col="y")
    counts, note = count_arms(data, control=control)
    assert counts.arms[0] == expected
    assert list(counts.arms[1:]) == sorted(a for a in arms if a != expected)
    assert why in note


@pytest.mark.parametrize("labels", [("1", "0"), ("true", "false"), ("TRUE", "FALSE"),
                                    ("yes", "no"), ("1.0", "0.0")])
def test_outcome_spellings_give_the_same_counts(tmp_path, labels):
    df = _export({"A": (7, 20), "B": (11, 25)}, labels=labels)
    path = tmp_path / "e.csv"
    df.to_csv(path, index=False)
    counts, _ = count_arms(read_groups(path, group_col="Variant", outcome_col="Clicked"))
    assert counts.arms == ("A", "B")
    assert counts.successes == (7, 11) and counts.trials == (20, 25)


def test_parquet_with_bool_outcome(tmp_path):
    df = _export({"control": (5, 12), "treat": (9, 14)})
    df["Clicked"] = df["Clicked"] == "1"
    path = tmp_path / "e.parquet"
    df.to_parquet(path)
    data = read_groups(path, group_col="Variant", outcome_col="Clicked")
    counts, note = count_arms(data)
    assert data.format == "parquet"
    assert counts.arms == ("control", "treat")
    assert counts.successes == (5, 9) and counts.trials == (12, 14)


def test_karm_decision_rule():
    """Rule 1-4 of the module docstring, on hand-made losses."""
    def d(rec, p, *, ni=None, rope=None):
        return {"recommendation": rec, "expected_loss": {"double_down": 0.0, "pivot": 0.0},
                "prob_test_better": p, "test_mean": 0.1, "extra_samples_needed": 500,
                "non_inferiority": ni, "rope": rope}

    per = {"B": d("double_down", 0.99), "C": d("double_down", 0.999)}
    means = {"A": 0.10, "B": 0.11, "C": 0.12}
    ship = karm_decision({k: {**v, "arm": k} for k, v in per.items()}, control="A",
                         prob_best={"A": 0.0, "B": 0.1, "C": 0.9},
                         loss={"A": 0.02, "B": 0.005, "C": 0.0001}, means=means,
                         threshold=0.001)
    assert ship["recommendation"] == "double_down" and ship["arm"] == "C"
    assert ship["chosen_arm"] == "C" and ship["loss_of_choosing"]["B"] == 0.005
    keep = karm_decision({k: {**v, "arm": k} for k, v in per.items()}, control="A",
                         prob_best={"A": 0.9, "B": 0.05, "C": 0.05},
                         loss={"A": 0.0002, "B": 0.01, "C": 0.02}, means=means, threshold=0.001)
    assert keep["recommendation"] == "pivot" and keep["chosen_arm"] == "A"
    wait = karm_decision({k: {**v, "arm": k} for k, v in per.items()}, control="A",
                         prob_best={"A": 0.2, "B": 0.4, "C": 0.4},
                         loss={"A": 0.01, "B": 0.004, "C": 0.005}, means=means, threshold=0.001)
    assert wait["recommendation"] == "keep_testing" and wait["arm"] == "B"
    assert wait["chosen_arm"] is None
    ni = {"non_inferior": True}
    per_ni = {"B": {**d("keep_testing", 0.4), "arm": "B"},
              "C": {**d("keep_testing", 0.5, ni=ni), "arm": "C"}}
    non_inf = karm_decision(per_ni, control="A", prob_best={"A": 0.3, "B": 0.3, "C": 0.4},
                            loss={"A": 0.01, "B": 0.004, "C": 0.005}, means=means,
                            threshold=0.001)
    assert non_inf["recommendation"] == "double_down" and non_inf["arm"] == "C"
    assert non_inf["outcome"] == "non_inferior"


def test_cli_reports_bad_input_with_exit_2(tmp_path, capsys):
    path = _write(tmp_path, "g,y\nA,1\nB,7\n")
    rc = main(["compare", str(path), "--group-col", "g", "--outcome-col", "y",
               "--out", str(tmp_path / "out"), "--metric-type", "binary"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "outcome must be binary" in err and "line(s) 3" in err
    assert not (tmp_path / "out").exists()
    # Detected as a mean outcome (1 and 7), one row per arm is too few for a mean.
    rc = main(["compare", str(path), "--group-col", "g", "--outcome-col", "y",
               "--out", str(tmp_path / "out")])
    assert rc == 2 and "at least 2 rows per arm" in capsys.readouterr().err


# ------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("compare")
    path = tmp / "export.csv"
    _export(COUNTS, labels=("TRUE", "FALSE")).to_csv(path, index=False)
    out = tmp / "out"
    rc = main(["compare", str(path), "--group-col", "Variant", "--outcome-col", "Clicked",
               "--out", str(out), "--draws", "600", "--tune", "400", "--chains", "2",
               "--seed", "7"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def compare_json(run_dir) -> dict:
    return json.loads((run_dir / "compare.json").read_text())


def test_outputs_written(run_dir, compare_json):
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    assert any((run_dir / "figures").glob("*_posterior.png"))
    assert compare_json["schema_version"] == 1
    assert compare_json["control"] == "control"
    assert set(compare_json["arms"]) == {"variant_b", "variant_c"}
    assert compare_json["input"]["counts"] == {
        a: {"successes": s, "trials": n} for a, (s, n) in COUNTS.items()}
    assert compare_json["input"]["n_rows"] == 900
    assert "named control" in compare_json["input"]["control_note"]


def test_posterior_matches_conjugate_beta(compare_json):
    from bayes_ab.models.beta_binomial import (
        BetaPosterior, BinomialCounts, beta_hdi, posterior, prob_beta_greater,
    )

    def beta(arm) -> BetaPosterior:
        return posterior(BinomialCounts(*COUNTS[arm]))

    for arm, block in compare_json["arms"].items():
        for key, name in (("control", "control"), ("test", arm)):
            exact = beta(name)
            lo, hi = beta_hdi(exact.alpha, exact.beta)
            # Exact Beta posteriors: the mean and the HDI are the closed forms.
            assert block[key]["mean"] == pytest.approx(exact.mean, rel=1e-12)
            assert block[key]["lower"] == pytest.approx(lo, rel=1e-9)
            assert block[key]["upper"] == pytest.approx(hi, rel=1e-9)
        exact_p = prob_beta_greater(beta(arm), beta("control"))
        # One number per quantity (issue 14.8): exact, and the decision shows the same one.
        assert block["prob_test_better"] == pytest.approx(exact_p, rel=1e-12)
        assert block["decision"]["prob_test_better"] == block["prob_test_better"]
        assert block["lift_abs"]["mean"] == pytest.approx(beta(arm).mean - beta("control").mean,
                                                          rel=1e-12)
        # Lift HDI from 200,000 exact draws: against 4 million independent draws.
        rng = np.random.default_rng(1)
        lift = beta(arm).draws(4_000_000, rng=rng) - beta("control").draws(4_000_000, rng=rng)
        from bayes_ab.models.beta_binomial import hdi_of_draws

        lo, hi = hdi_of_draws(lift)
        assert block["lift_abs"]["lower"] == pytest.approx(lo, abs=0.01 * (hi - lo))
        assert block["lift_abs"]["upper"] == pytest.approx(hi, abs=0.01 * (hi - lo))


def test_frequentist_matches_statsmodels(compare_json):
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    raw = {}
    for arm in ("variant_b", "variant_c"):
        s = [COUNTS[arm][0], COUNTS["control"][0]]
        n = [COUNTS[arm][1], COUNTS["control"][1]]
        raw[arm] = proportions_ztest(s, n)[1]
        freq = compare_json["arms"][arm]["frequentist"]
        assert freq["test"] == "two-proportion z"
        assert freq["p_value"] == pytest.approx(raw[arm], rel=1e-9)
    holm = multipletests([raw["variant_b"], raw["variant_c"]], method="holm")[1]
    assert compare_json["arms"]["variant_b"]["frequentist"]["p_value_holm"] == \
        pytest.approx(holm[0], rel=1e-9)
    assert compare_json["arms"]["variant_c"]["frequentist"]["p_value_holm"] == \
        pytest.approx(holm[1], rel=1e-9)
    # 52/310 vs 30/300: p ~ 0.012 raw, ~0.024 after Holm -> significant.
    assert compare_json["arms"]["variant_b"]["frequentist"]["significant_95"] is True
    assert compare_json["arms"]["variant_c"]["frequentist"]["significant_95"] is False


def test_decision_and_diagnostics(compare_json):
    from bayes_ab.stats.decision import decide_from_counts
    from bayes_ab.models.beta_binomial import BinomialCounts

    dec = compare_json["decision"]
    exact = decide_from_counts(BinomialCounts(*COUNTS["control"]),
                               BinomialCounts(*COUNTS["variant_b"]), metric="Clicked", seed=7)
    # variant_b: P(better) ~ 99%, expected loss of shipping ~ 0.00007 < 0.001: ship it.
    assert dec["arm"] == "variant_b" and dec["control"] == "control"
    assert dec["recommendation"] == "double_down"
    assert compare_json["arms"]["variant_c"]["decision"]["recommendation"] != "double_down"
    b = compare_json["arms"]["variant_b"]["decision"]
    assert b["recommendation"] == exact.recommendation
    assert b["expected_loss"]["double_down"] == pytest.approx(exact.expected_loss.double_down)
    assert b["expected_loss"]["pivot"] == pytest.approx(exact.expected_loss.pivot)
    # No sampler for a binary outcome: nothing to diagnose, and the block says so.
    assert compare_json["diagnostics"]["sampled"] is False
    assert compare_json["diagnostics"]["passed"] is True


def test_report_of_compare(run_dir, compare_json):
    html = (run_dir / "report.html").read_text()
    md = (run_dir / "report.md").read_text()
    for text in (html, md):
        assert "variant\\_b vs control" in text or "variant_b vs control" in text
        assert "Each arm against control" in text
    assert html.count("<img src=\"data:image/png;base64,") >= 1
    assert "named control" in html
    assert "Holm-adjusted across 2 comparisons (every arm against control)" in html
    # The glossary explains only what compare shows (issue 14.8).
    for text in (html, md):
        assert "Hazard ratio" not in text and "Compliers" not in text
        assert "P(best)" in text and "Sample-ratio mismatch (SRM)" in text


# ------------------------------------------------------------------ optional blocks (issue 9)


def test_compare_with_ratio_segments_and_prior(tmp_path, capsys):
    """--ratio, --segment-col and --prior-from: each block checked against its library
    function on the same numbers (fast methods: normal segments, grid meta-analysis)."""
    from bayes_ab.stats.frequentist import RatioStatistic, ratio_metric_test
    from bayes_ab.workflows.meta_prior import (
        apply_meta_prior, lift_estimate, meta_prior_grid, read_past_experiments,
    )

    rng = np.random.default_rng(9)
    n = 4000
    arm = rng.choice(["control", "test"], n)
    source = rng.choice(["ads", "email", "search"], n)
    p = np.where(arm == "test", 0.13, 0.10)
    converted = rng.binomial(1, p)
    flagged = rng.binomial(1, 0.3, n)
    contacts = np.where(flagged == 1, rng.poisson(np.where(arm == "test", 1.2, 1.5)), 0)
    df = pd.DataFrame({"Variant": arm, "Converted": converted, "source": source,
                       "contacts": contacts, "flagged": flagged})
    path = tmp_path / "export.csv"
    df.to_csv(path, index=False)
    hist = tmp_path / "history.csv"
    hist.write_text("experiment,lift,se\n" + "\n".join(
        f"e{i},{v:.4f},0.006" for i, v in enumerate([0.004, 0.01, -0.003, 0.008, 0.002, 0.006])))
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--group-col", "Variant", "--outcome-col", "Converted",
               "--out", str(out), "--draws", "300", "--tune", "300", "--chains", "2",
               "--no-figures", "--ratio", "contacts/flagged", "--ratio-lower-is-better",
               "--segment-col", "source", "--segment-method", "normal",
               "--prior-from", str(hist), "--prior-method", "grid"])
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    printed = capsys.readouterr().out
    assert "contacts/flagged" in printed and "segments by source" in printed

    r = res["ratio_metric"]["test"]
    is_t, is_c = arm == "test", arm == "control"
    freq = ratio_metric_test(RatioStatistic.from_arrays(contacts[is_c], flagged[is_c]),
                             RatioStatistic.from_arrays(contacts[is_t], flagged[is_t]))
    assert r["frequentist"]["p_value"] == pytest.approx(freq.p_value, rel=1e-9)
    assert r["higher_is_better"] is False
    assert r["lift_abs"]["lower"] < -0.3 + 0.15 and r["prob_test_better"] > 0.95

    seg = res["segments"]["test"]
    assert seg["column"] == "source" and set(seg["segments"]) == {"ads", "email", "search"}
    assert sum(s["n_control"] + s["n_test"] for s in seg["segments"].values()) == n
    assert seg["srm"]["flagged"] == [] and seg["flagged"] == []

    hist_block = res["prior_from_history"]
    y, se = lift_estimate(int(converted[is_c].sum()), int(is_c.sum()),
                          int(converted[is_t].sum()), int(is_t.sum()), scale="abs")
    expected = apply_meta_prior(meta_prior_grid(read_past_experiments(hist), seed=20260505),
                                y, se, seed=20260505)
    got = hist_block["arms"]["test"]
    assert got["estimate"] == pytest.approx(y) and got["se"] == pytest.approx(se)
    assert got["shrunk"]["mean"] == pytest.approx(expected.shrunk["mean"], rel=1e-9)
    assert 0 < got["shrinkage"] < 1 and hist_block["n_experiments"] == 6
    assert res["diagnostics"]["passed"] in (True, False)
