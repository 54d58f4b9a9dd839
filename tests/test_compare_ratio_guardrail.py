"""`--ratio` metrics as guardrails (`--ratio-guardrail`, issue 15 left over): the same rule
as an outcome guardrail (P(worse than control by more than the margin) >= 95% blocks
shipping), the same Holm family, checked against the delta method's normal closed form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import run_compare
from bayes_ab.stats.frequentist import RatioStatistic, ratio_metric_test


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    # B converts clearly better (so the primary metric ships it) but costs more per
    # conversion: cost/conv 2.0 in control vs about 2.1 in B.
    rng = np.random.default_rng(11)
    n = 40_000
    arm = rng.choice(["control", "B"], n)
    conv = rng.binomial(1, np.where(arm == "B", 0.30, 0.25))
    cost = np.round(conv * rng.gamma(4.0, np.where(arm == "B", 0.525, 0.5)), 3)
    errors = rng.binomial(1, 0.05, n)
    df = pd.DataFrame({"arm": arm, "conv": conv, "cost": cost, "errors": errors})
    path = tmp_path_factory.mktemp("rg") / "export.csv"
    df.to_csv(path, index=False)
    return path, df


def _delta_prob_worse(df, margin, *, lower_is_better):
    """P(arm worse than control by more than margin) from the delta method's normal."""
    c, t = (RatioStatistic.from_arrays(df.cost[df.arm == a], df.conv[df.arm == a])
            for a in ("control", "B"))
    test = ratio_metric_test(c, t)
    d, se = test.diff.mean, (test.diff.upper - test.diff.mean) / stats.norm.ppf(0.975)
    sign = -1.0 if lower_is_better else 1.0
    return float(stats.norm.cdf((-margin - sign * d) / se)), d


@pytest.mark.parametrize("margin", [0.0, 0.08, 0.12])
def test_probability_matches_the_delta_method(export, margin):
    path, df = export
    res = run_compare(path, group_col="arm", outcome_col="conv", ratio="cost/conv",
                      ratio_lower_is_better=True, ratio_guardrail=True,
                      guardrail_margin=margin).results
    g = res["metrics"]["ratio:cost/conv"]["guardrail"]
    ref, d = _delta_prob_worse(df, margin, lower_is_better=True)
    assert d > 0  # B costs more per conversion
    assert g["arm"] == "B" and g["lower_is_better"] is True and g["margin"] == margin
    # 40,000 draws: Monte-Carlo sd of a probability <= 0.0025; t vs normal negligible here.
    assert g["prob_worse_than_margin"] == pytest.approx(ref, abs=0.01)
    assert g["blocks_ship"] is (g["prob_worse_than_margin"] >= 0.95)
    assert g["lift_abs"] == res["ratio_metric"]["B"]["lift_abs"]
    dec = res["decision"]
    if g["blocks_ship"]:
        assert dec["outcome"] == "guardrail_blocked" and dec["recommendation"] == "pivot"
        assert dec["blocked_by"] == ["ratio:cost/conv"] and dec["chosen_arm"] == "control"
    else:
        assert dec["recommendation"] == "double_down" and "blocked_by" not in dec


def test_margin_zero_blocks_and_a_wide_margin_does_not(export):
    path, df = export
    kw = dict(group_col="arm", outcome_col="conv", ratio="cost/conv",
              ratio_lower_is_better=True, ratio_guardrail=True)
    assert _delta_prob_worse(df, 0.0, lower_is_better=True)[0] > 0.99
    blocked = run_compare(path, **kw).results
    assert blocked["metrics"]["ratio:cost/conv"]["guardrail"]["blocks_ship"] is True
    assert blocked["decision"]["outcome"] == "guardrail_blocked"
    # Named by its --ratio spec; 0.3 is far beyond the difference (~0.1).
    free = run_compare(path, **kw, guardrail_margin="cost/conv=0.3").results
    g = free["metrics"]["ratio:cost/conv"]["guardrail"]
    assert g["margin"] == 0.3 and g["blocks_ship"] is False
    assert g["prob_worse_than_margin"] == pytest.approx(
        _delta_prob_worse(df, 0.3, lower_is_better=True)[0], abs=0.01)
    assert free["decision"]["recommendation"] == "double_down"
    # Higher is better: the higher cost is now "better", never worse by the margin.
    hib = run_compare(path, group_col="arm", outcome_col="conv", ratio="cost/conv",
                      ratio_guardrail=True).results
    gh = hib["metrics"]["ratio:cost/conv"]["guardrail"]
    assert gh["lower_is_better"] is False and gh["prob_worse_than_margin"] < 0.01


def test_same_holm_family_and_numbers_as_without_the_guardrail(export):
    from statsmodels.stats.multitest import multipletests

    path, _ = export
    kw = dict(group_col="arm", outcome_col="conv,errors", ratio="cost/conv",
              ratio_lower_is_better=True)
    plain = run_compare(path, **kw, guardrail_margin="errors=0.5").results
    guard = run_compare(path, **kw, guardrail_margin="errors=0.5,cost/conv=0.3",
                        ratio_guardrail=True).results
    # The guardrail adds its block and changes nothing else.
    assert "ratio:cost/conv" not in plain["metrics"]
    assert guard["ratio_metric"] == plain["ratio_metric"]
    assert guard["metrics"]["errors"]["arms"] == plain["metrics"]["errors"]["arms"]
    assert guard["arms"] == plain["arms"]
    fam = [guard["arms"]["B"]["frequentist"], guard["metrics"]["errors"]["arms"]["B"][
        "frequentist"], guard["ratio_metric"]["B"]["frequentist"]]
    ref = multipletests([f["p_value"] for f in fam], method="holm")[1]
    for f, r in zip(fam, ref, strict=True):
        assert f["family_size"] == 3 and f["p_value_holm"] == pytest.approx(r, rel=1e-12)
    assert guard["metrics"]["ratio:cost/conv"]["arms"]["B"]["frequentist"][
        "p_value_holm"] == pytest.approx(ref[2], rel=1e-12)
    assert guard["metrics"]["errors"]["guardrail"]["margin"] == 0.5
    assert guard["metrics"]["ratio:cost/conv"]["guardrail"]["margin"] == 0.3
    # Without --ratio-guardrail the ratio is no guardrail, so a margin for it is a mistake.
    from bayes_ab.errors import OptionError

    with pytest.raises(OptionError, match="not a guardrail"):
        run_compare(path, **kw, guardrail_margin="errors=0.5,cost/conv=0.3")


def test_cli_option_summary_and_errors(export, tmp_path, capsys):
    path, _ = export
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "conv",
               "--ratio", "cost/conv", "--ratio-lower-is-better", "--ratio-guardrail",
               "--out", str(out), "--no-figures"])
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    assert res["metrics"]["ratio:cost/conv"]["kind"] == "ratio"
    assert res["metrics"]["ratio:cost/conv"]["role"] == "guardrail"
    printed = capsys.readouterr().out
    assert "guardrail ratio:cost/conv" in printed and "BLOCKS shipping" in printed
    md = (out / "report.md").read_text()
    assert "## Guardrails" in md and "ratio:cost/conv" in md
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "conv",
               "--ratio-guardrail", "--out", str(tmp_path / "o2"), "--no-figures"])
    assert rc == 2
    assert "--ratio-guardrail" in capsys.readouterr().err
