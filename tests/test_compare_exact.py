"""`bayes-ab compare` correctness (issues 13, 14 items 2 and 8, 15 items 2, 6, 7): k arms
judged against the best of all, one exact P(better), the sample-ratio check, Holm across
every metric, every column checked before any work, ROPE / non-inferiority from the
command line, no sampler for a binary outcome. References: closed forms, long Monte Carlo,
scipy and statsmodels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import run_compare
from bayes_ab.errors import DataError, OptionError
from bayes_ab.models.beta_binomial import (
    BinomialCounts,
    expected_loss_of_choosing,
    posterior,
    prob_beta_greater,
)
from bayes_ab.stats.multiarm import loss_of_choosing, prob_best

#: Issue 14.2: Control 5000/50000, B 5600/50000, C 60/400.
THREE = {"Control": (5000, 50000), "B": (5600, 50000), "C": (60, 400)}


def _write_counts(path: Path, counts: dict[str, tuple[int, int]], *, seed: int = 0,
                  extra: dict | None = None) -> Path:
    """One row per unit: arm, outcome 0/1 (shuffled)."""
    arms, ys = [], []
    for arm, (s, n) in counts.items():
        arms += [arm] * n
        ys += [1] * s + [0] * (n - s)
    df = pd.DataFrame({"arm": arms, "y": ys})
    for name, fn in (extra or {}).items():
        df[name] = fn(df)
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df.to_csv(path, index=False)
    return path


def _mc(posts, n=4_000_000, seed=3):
    rng = np.random.default_rng(seed)
    d = np.stack([p.draws(n, rng=rng) for p in posts])
    best = np.bincount(d.argmax(0), minlength=len(posts)) / n
    loss = (d.max(0) - d).mean(1)
    se_loss = (d.max(0) - d).std(1) / np.sqrt(n)
    return best, loss, se_loss


# ------------------------------------------------------------------ exact k-arm quantities


@pytest.mark.parametrize("counts", [
    list(THREE.values()),
    [(120, 1000), (131, 1000), (118, 1000), (140, 1050)],   # four close arms
    [(3, 40), (0, 35), (5, 38)],                             # tiny counts, a zero
])
def test_prob_best_and_loss_match_long_monte_carlo(counts):
    posts = [posterior(BinomialCounts(s, n)) for s, n in counts]
    pb, loss = prob_best(posts), loss_of_choosing(posts)
    mc_best, mc_loss, se = _mc(posts)
    assert pb.sum() == pytest.approx(1.0, abs=1e-9)
    # 4 million draws: P(best) SE <= 0.00025, so 0.0015 is 6 SE.
    np.testing.assert_allclose(pb, mc_best, atol=0.0015)
    np.testing.assert_allclose(loss, mc_loss, atol=6 * se.max() + 1e-7)


def test_two_arm_loss_is_the_closed_form_expected_loss():
    c, t = posterior(BinomialCounts(700, 7000)), posterior(BinomialCounts(306, 3000))
    loss = loss_of_choosing([c, t])
    assert loss[1] == pytest.approx(expected_loss_of_choosing(t, c), rel=1e-7)   # ship Test
    assert loss[0] == pytest.approx(expected_loss_of_choosing(c, t), rel=1e-7)   # keep Control
    assert prob_best([c, t])[1] == pytest.approx(prob_beta_greater(t, c), abs=1e-9)


def test_three_arm_example_ships_c_not_b(tmp_path, capsys):
    """Issue 14.2: the old rule shipped B (smallest loss against control among safe arms)."""
    path = _write_counts(tmp_path / "three.csv", THREE)
    res = run_compare(path, group_col="arm", outcome_col="y").results
    dec = res["decision"]
    assert dec["recommendation"] == "double_down" and dec["arm"] == "C"
    assert dec["chosen_arm"] == "C"
    posts = {a: posterior(BinomialCounts(*c)) for a, c in THREE.items()}
    assert prob_beta_greater(posts["C"], posts["B"]) == pytest.approx(0.991, abs=5e-4)
    loss = res["loss_of_choosing"]
    assert loss["B"] == pytest.approx(0.0398, abs=5e-5)       # 3.98 pp
    assert loss["C"] == pytest.approx(0.0000442, rel=0.02)     # 0.0044 pp
    assert set(res["prob_best"]) == {"Control", "B", "C"}
    assert res["prob_best"]["C"] == pytest.approx(0.99105, abs=2e-4)
    assert dec["prob_best"] == res["prob_best"]
    # arms.ARM keys are kept.
    for arm in ("B", "C"):
        assert {"control", "test", "lift_abs", "lift_rel", "prob_test_better", "frequentist",
                "decision"} <= set(res["arms"][arm])
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(tmp_path / "out"), "--no-figures"])
    out = capsys.readouterr().out
    assert rc == 0 and "ship C in place of Control" in out and "P(best)" in out


def test_two_arm_decision_equals_decide_from_counts(tmp_path):
    """Two arms: the same rule and numbers as analyze (decide_from_counts)."""
    from bayes_ab.stats.decision import decide_from_counts

    counts = {"control": (700, 7000), "test": (306, 3000)}
    path = _write_counts(tmp_path / "two.csv", counts)
    res = run_compare(path, group_col="arm", outcome_col="y", split="70,30").results
    ref = decide_from_counts(BinomialCounts(*counts["control"]), BinomialCounts(*counts["test"]),
                             metric="y", seed=20260505)
    dec = res["decision"]
    assert dec["recommendation"] == ref.recommendation
    assert dec["expected_loss"]["double_down"] == pytest.approx(ref.expected_loss.double_down)
    assert res["loss_of_choosing"]["test"] == pytest.approx(ref.expected_loss.double_down,
                                                            rel=1e-6)
    assert res["loss_of_choosing"]["control"] == pytest.approx(ref.expected_loss.pivot, rel=1e-6)
    assert res["prob_best"]["test"] == pytest.approx(ref.prob_test_better, abs=1e-12)


def test_one_p_better_exact_ab_data_counts(tmp_path):
    """Issue 14.8: ab_data (control 17,489/145,274, treatment 17,264/145,310): one number,
    the exact 0.09494, in the arm block, its decision and the top-level decision."""
    counts = {"control": (17489, 145274), "treatment": (17264, 145310)}
    path = _write_counts(tmp_path / "ab.csv", counts)
    res = run_compare(path, group_col="arm", outcome_col="y").results
    block = res["arms"]["treatment"]
    assert block["prob_test_better"] == pytest.approx(0.0949442, abs=1e-6)
    assert block["decision"]["prob_test_better"] == block["prob_test_better"]
    assert res["decision"]["prob_test_better"] == block["prob_test_better"]


# ------------------------------------------------------------------ sample-ratio check


def test_srm_cookie_cats_is_flagged(tmp_path, capsys):
    """44,700 vs 45,489 with an intended 50/50: chi-square p = 0.0086 (scipy)."""
    from scipy import stats

    counts = {"gate_30": (8000, 44700), "gate_40": (8100, 45489)}
    path = _write_counts(tmp_path / "cc.csv", counts)
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(out), "--no-figures"])
    printed = capsys.readouterr().out
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    ref = stats.chisquare([44700, 45489]).pvalue
    assert res["srm"]["p_value"] == pytest.approx(ref, rel=1e-12)
    assert res["srm"]["p_value"] == pytest.approx(0.0086, abs=1e-4)
    assert res["srm"]["mismatch"] is True
    assert res["srm"]["expected_shares"] == {"gate_30": 0.5, "gate_40": 0.5}
    assert res["srm"]["observed"] == {"gate_30": 44700, "gate_40": 45489}
    assert "SAMPLE-RATIO MISMATCH" in printed
    md = (out / "report.md").read_text()
    first_screen = md[:md.index("## Recommendation")]
    assert "Sample-ratio mismatch" in first_screen and "45,489" in first_screen
    # --strict: exit 3, results still written.
    out2 = tmp_path / "out2"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(out2), "--no-figures", "--strict"])
    assert rc == 3 and (out2 / "compare.json").is_file()
    assert "sample-ratio mismatch" in capsys.readouterr().err


@pytest.mark.parametrize("split, shares", [
    ("30,70", {"control": 0.3, "test": 0.7}),
    ("test=7,control=3", {"control": 0.3, "test": 0.7}),
    ("CONTROL=30,Test=70", {"control": 0.3, "test": 0.7}),
])
def test_srm_split_matches_scipy(tmp_path, split, shares):
    from scipy import stats

    path = _write_counts(tmp_path / "s.csv", {"control": (30, 310), "test": (70, 690)})
    srm = run_compare(path, group_col="arm", outcome_col="y", split=split).results["srm"]
    assert srm["expected_shares"] == pytest.approx(shares)
    ref = stats.chisquare([310, 690], f_exp=[300, 700])
    assert srm["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert srm["chi2"] == pytest.approx(ref.statistic, rel=1e-12)
    assert srm["mismatch"] is False


def test_srm_three_arms_against_scipy(tmp_path):
    from scipy import stats

    path = _write_counts(tmp_path / "k.csv", {"A": (10, 500), "B": (10, 560), "C": (10, 440)})
    srm = run_compare(path, group_col="arm", outcome_col="y").results["srm"]
    ref = stats.chisquare([500, 560, 440])
    assert srm["df"] == 2 and srm["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert srm["mismatch"] is True and ref.pvalue < 0.01


@pytest.mark.parametrize("split, msg", [
    ("30", "one share per arm"),
    ("30,70,10", "3 shares for 2 arms"),
    ("control=30,zzz=70", "not one of the arms"),
    ("30,-1", "positive"),
    ("30,abc", "not a number"),
    ("control=30,70", "every share a name or none"),
])
def test_bad_split_exits_2(tmp_path, capsys, split, msg):
    path = _write_counts(tmp_path / "s.csv", {"control": (3, 31), "test": (7, 69)})
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(tmp_path / "o"), "--split", split])
    assert rc == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ Holm across metrics


def test_holm_across_binary_and_ratio_metrics(tmp_path):
    """Issue 14.8: the --ratio metric's test joins the Holm family (statsmodels)."""
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    rng = np.random.default_rng(4)
    counts = {"control": (200, 2000), "b": (245, 2000), "c": (215, 2000)}
    path = _write_counts(tmp_path / "r.csv", counts, extra={
        "contacts": lambda df: rng.poisson(np.where(df["arm"] == "b", 1.1, 1.0))})
    res = run_compare(path, group_col="arm", outcome_col="y", ratio="contacts").results
    raw = [proportions_ztest([counts[a][0], counts["control"][0]],
                             [counts[a][1], counts["control"][1]])[1] for a in ("b", "c")]
    raw += [res["ratio_metric"][a]["frequentist"]["p_value"] for a in ("b", "c")]
    holm = multipletests(raw, method="holm")[1]
    got = [res["arms"][a]["frequentist"]["p_value_holm"] for a in ("b", "c")]
    got += [res["ratio_metric"][a]["frequentist"]["p_value_holm"] for a in ("b", "c")]
    np.testing.assert_allclose(got, holm, rtol=1e-9)
    assert res["arms"]["b"]["frequentist"]["family_size"] == 4
    for a in ("b", "c"):
        f = res["arms"][a]["frequentist"]
        assert f["significant_95"] is (f["p_value_holm"] < 0.05)


# ------------------------------------------------------------------ columns before work


@pytest.mark.parametrize("option, value", [("segment_col", "nope"), ("ratio", "nope"),
                                           ("ratio", "y/nope")])
def test_every_named_column_checked_before_any_work(tmp_path, monkeypatch, option, value):
    """Issue 13: a bad --segment-col / --ratio column fails before any posterior is
    computed (the old code sampled for 12-14 s first)."""
    import bayes_ab.workflows.compare as C
    from bayes_ab.models.arm_comparison import ArmComparison

    def boom(*a, **k):
        raise AssertionError("work started before every column was checked")

    monkeypatch.setattr(ArmComparison, "fit", boom)
    monkeypatch.setattr(C, "_binary_bayes", boom, raising=False)
    path = _write_counts(tmp_path / "c.csv", {"control": (3, 31), "test": (7, 69)})
    with pytest.raises(DataError, match="no column 'nope'"):
        run_compare(path, group_col="arm", outcome_col="y", **{option: value})


def test_too_many_segments_checked_before_work(tmp_path, monkeypatch):
    import bayes_ab.workflows.compare as C

    monkeypatch.setattr(C, "_binary_bayes", lambda *a, **k: pytest.fail("work started"))
    path = _write_counts(tmp_path / "c.csv", {"control": (3, 100), "test": (7, 100)},
                         extra={"uid": lambda df: np.arange(len(df))})
    with pytest.raises(DataError, match="distinct values in the segment column"):
        run_compare(path, group_col="arm", outcome_col="y", segment_col="uid")


# ------------------------------------------------------------------ ROPE, non-inferiority


def test_rope_and_non_inferiority_from_the_command_line(tmp_path):
    """Issue 15.7: the decision block equals decide_from_counts with the same config."""
    from bayes_ab.stats.decision import DecisionConfig, decide_from_counts

    counts = {"control": (1000, 10000), "test": (1004, 10000)}
    path = _write_counts(tmp_path / "r.csv", counts)
    out = tmp_path / "o"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(out), "--no-figures", "--rope", "0.02",
               "--non-inferiority-margin", "0.01"])
    assert rc == 0
    dec = json.loads((out / "compare.json").read_text())["decision"]
    ref = decide_from_counts(BinomialCounts(*counts["control"]), BinomialCounts(*counts["test"]),
                             metric="y", seed=20260505,
                             config=DecisionConfig(rope=0.02, non_inferiority_margin=0.01))
    assert dec["rope"]["prob_inside"] == pytest.approx(ref.rope.prob_inside, abs=1e-12)
    assert dec["rope"]["half_width"] == 0.02
    assert dec["non_inferiority"]["prob_non_inferior"] == pytest.approx(
        ref.non_inferiority.prob_non_inferior, abs=1e-12)
    assert dec["outcome"] == ref.outcome and dec["recommendation"] == ref.recommendation
    # Exact references for the ROPE mass: 4 million draws.
    rng = np.random.default_rng(5)
    c = posterior(BinomialCounts(*counts["control"])).draws(4_000_000, rng=rng)
    t = posterior(BinomialCounts(*counts["test"])).draws(4_000_000, rng=rng)
    assert dec["rope"]["prob_inside"] == pytest.approx(np.mean(np.abs(t - c) < 0.02), abs=1e-3)
    assert dec["non_inferiority"]["prob_non_inferior"] == pytest.approx(
        np.mean(t - c > -0.01), abs=1e-3)


@pytest.mark.parametrize("args, msg", [(["--rope", "0"], "--rope"),
                                       (["--rope", "-0.1"], "--rope"),
                                       (["--non-inferiority-margin", "-1"], "--non-inferiority"),
                                       (["--srm-alpha", "2"], "--srm-alpha")])
def test_bad_decision_options_exit_2(tmp_path, capsys, args, msg):
    path = _write_counts(tmp_path / "s.csv", {"control": (3, 31), "test": (7, 69)})
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(tmp_path / "o"), *args])
    assert rc == 2 and msg in capsys.readouterr().err


def test_option_errors_are_option_errors(tmp_path):
    path = _write_counts(tmp_path / "s.csv", {"control": (3, 31), "test": (7, 69)})
    with pytest.raises(OptionError):
        run_compare(path, group_col="arm", outcome_col="y", rope=float("nan"))


# ------------------------------------------------------------------ speed: no sampler


def test_binary_compare_never_imports_a_sampler(tmp_path):
    """Issue 16.2: a binary outcome is answered from exact posteriors, without importing
    PyMC, nutpie or PyTensor (whose compile was most of the old run time)."""
    path = _write_counts(tmp_path / "s.csv", {"control": (30, 310), "test": (45, 300)})
    code = ("import sys; from bayes_ab.cli.main import main; "
            f"rc = main(['compare', {str(path)!r}, '--group-col', 'arm', '--outcome-col', 'y', "
            f"'--out', {str(tmp_path / 'o')!r}]); "
            "print(rc, sorted(m for m in ('pymc', 'nutpie', 'pytensor', 'arviz') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []"
    assert (tmp_path / "o" / "figures").is_dir()
