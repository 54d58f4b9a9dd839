"""Several outcomes in one `bayes-ab compare` run (issue 15.5): the first decides, the
others are guardrails, Holm across every outcome x arm (statsmodels), a guardrail credibly
worse than control by more than its margin blocks shipping."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import run_compare


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 12000
    arm = rng.choice(["control", "B", "C"], n)
    conv = rng.binomial(1, np.select([arm == "B", arm == "C"], [0.13, 0.105], 0.10))
    err = rng.binomial(1, np.select([arm == "B", arm == "C"], [0.07, 0.04], 0.04))
    spend = np.round(rng.exponential(np.where(arm == "C", 10.5, 10.0)), 2)
    df = pd.DataFrame({"arm": arm, "conv": conv, "errors": err, "spend": spend})
    path = tmp_path_factory.mktemp("multi") / "multi.csv"
    df.to_csv(path, index=False)
    return path, df


def test_holm_across_every_outcome_and_arm(multi):
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest
    from statsmodels.stats.weightstats import ttest_ind

    path, df = multi
    res = run_compare(path, group_col="arm", outcome_col=["conv", "errors,spend"]).results
    assert list(res["metrics"]) == ["conv", "errors", "spend"]
    assert res["metrics"]["conv"]["role"] == "primary"
    assert res["metrics"]["errors"]["kind"] == "binary"
    assert res["metrics"]["spend"]["kind"] == "mean"
    raw, got = [], []
    for metric in ("conv", "errors", "spend"):
        for a in ("B", "C"):
            x, c = df[df.arm == a][metric], df[df.arm == "control"][metric]
            if metric == "spend":
                raw.append(ttest_ind(x, c, usevar="unequal")[1])
            else:
                raw.append(proportions_ztest([x.sum(), c.sum()], [x.size, c.size])[1])
            got.append(res["metrics"][metric]["arms"][a]["frequentist"]["p_value_holm"])
    np.testing.assert_allclose(got, multipletests(raw, method="holm")[1], rtol=1e-9)
    # The primary metric is mirrored in today's keys, with the same Holm values.
    assert res["arms"]["B"]["frequentist"]["p_value_holm"] == got[0]
    assert res["arms"]["B"]["frequentist"]["family_size"] == 6


def test_a_worse_guardrail_blocks_shipping(multi, tmp_path, capsys):
    from bayes_ab.models.beta_binomial import BinomialCounts, posterior

    path, df = multi
    free = run_compare(path, group_col="arm", outcome_col="conv").results["decision"]
    assert free["recommendation"] == "double_down" and free["arm"] == "B"
    out = tmp_path / "o"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "conv",
               "--outcome-col", "errors", "--outcome-col", "spend",
               "--guardrail-lower-is-better", "errors", "--guardrail-margin", "errors=0.01,spend=1",
               "--out", str(out), "--no-figures"])
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    dec = res["decision"]
    assert dec["recommendation"] == "pivot" and dec["outcome"] == "guardrail_blocked"
    assert dec["blocked_by"] == ["errors"]
    g = res["metrics"]["errors"]["guardrail"]
    # Reference: 4 million exact Beta draws of P(err_B - err_control > 0.01).
    cnt = {a: BinomialCounts(int(df[df.arm == a].errors.sum()), int((df.arm == a).sum()))
           for a in ("control", "B")}
    rng = np.random.default_rng(9)
    d = posterior(cnt["B"]).draws(4_000_000, rng=rng) - posterior(cnt["control"]).draws(
        4_000_000, rng=rng)
    assert g["prob_worse_than_margin"] == pytest.approx(np.mean(d > 0.01), abs=0.003)
    assert g["blocks_ship"] is True and g["arm"] == "B" and g["margin"] == 0.01
    assert res["metrics"]["spend"]["guardrail"]["blocks_ship"] is False
    printed = capsys.readouterr().out
    assert "guardrail errors" in printed and "BLOCKS shipping" in printed
    md = (out / "report.md").read_text()
    assert "A guardrail blocks shipping" in md and "## Guardrails" in md
    # A margin large enough for the trade lets B ship.
    res2 = run_compare(path, group_col="arm", outcome_col="conv,errors",
                       guardrail_lower_is_better=["errors"], guardrail_margin=0.1).results
    assert res2["decision"]["recommendation"] == "double_down"


@pytest.mark.parametrize("kw, msg", [
    ({"outcome_col": "conv,conv"}, "same column twice"),
    ({"outcome_col": "conv,errors", "guardrail_margin": "nope=1"}, "not a guardrail"),
    ({"outcome_col": "conv,errors", "guardrail_margin": "-1"}, ">= 0"),
    ({"outcome_col": "conv,errors", "guardrail_lower_is_better": ["spend"]}, "not a guardrail"),
    ({"outcome_col": "conv,missing"}, "no column 'missing'"),
])
def test_bad_outcome_options(multi, kw, msg):
    from bayes_ab.errors import BayesAbError

    path, _ = multi
    with pytest.raises(BayesAbError, match=msg):
        run_compare(path, group_col="arm", **kw)
