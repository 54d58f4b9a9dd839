"""`bayes-ab compare` on a mean (continuous) outcome (issue 15.1): detection, the Bayesian
bootstrap against its closed-form moments and brute-force Dirichlet weights, coverage on
simulated data with a known mean, Welch against statsmodels, capping, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import run_compare
from bayes_ab.stats.compare_mean import bootstrap_mean_draws, cap_values, welch_test


def _game(tmp_path, n=4000, seed=2, outlier=True):
    rng = np.random.default_rng(seed)
    arm = rng.choice(["gate_30", "gate_40"], n)
    rounds = np.floor(rng.lognormal(2.8, 1.3, n)).astype(int)
    if outlier:
        rounds[7] = 49854
    df = pd.DataFrame({"version": arm, "rounds": rounds, "ret": rng.binomial(1, 0.45, n)})
    path = tmp_path / "game.csv"
    df.to_csv(path, index=False)
    return path, df


def test_bootstrap_moments_are_the_closed_form():
    """Var(sum w_i y_i), w ~ Dirichlet(1..1) = mean((y - ybar)^2) / (n + 1); mean = ybar."""
    rng = np.random.default_rng(0)
    y = np.floor(rng.lognormal(2, 1.2, 500))
    d = bootstrap_mean_draws(y, n_draws=200_000, rng=np.random.default_rng(1))
    var = np.mean((y - y.mean()) ** 2) / (y.size + 1)
    assert d.mean() == pytest.approx(y.mean(), abs=4 * np.sqrt(var / d.size))
    assert d.var() == pytest.approx(var, rel=0.02)


def test_bootstrap_equals_brute_force_dirichlet_weights():
    """Grouping equal values into one Gamma(count) weight changes nothing: the quantiles
    match row-level Dirichlet weights."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, 300).astype(float)
    y[0] = 400.0
    fast = bootstrap_mean_draws(y, n_draws=100_000, rng=np.random.default_rng(4))
    w = np.random.default_rng(5).dirichlet(np.ones(y.size), 100_000)
    slow = w @ y
    q = [0.025, 0.25, 0.5, 0.75, 0.975]
    np.testing.assert_allclose(np.quantile(fast, q), np.quantile(slow, q), rtol=0.01)


def test_coverage_on_simulated_heavy_tailed_data():
    """200 simulated experiments, lognormal outcomes with a known true mean difference:
    the 95% HDI of the difference covers it in 95% +- 3.5% of them."""
    from bayes_ab.inference.intervals import hdi_bounds

    rng = np.random.default_rng(11)
    mu_c, mu_t, s = 1.0, 1.1, 0.9
    truth = np.exp(mu_t + s**2 / 2) - np.exp(mu_c + s**2 / 2)
    hits = 0
    for _ in range(200):
        c = np.round(rng.lognormal(mu_c, s, 600), 1)
        t = np.round(rng.lognormal(mu_t, s, 600), 1)
        dc = bootstrap_mean_draws(c, n_draws=2000, rng=rng)
        dt = bootstrap_mean_draws(t, n_draws=2000, rng=rng)
        lo, hi = hdi_bounds(dt - dc)
        hits += lo <= truth <= hi
    assert abs(hits / 200 - 0.95) < 0.035


def test_welch_matches_statsmodels():
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

    rng = np.random.default_rng(6)
    c, t = rng.exponential(2.0, 700), rng.exponential(2.3, 500)
    got = welch_test(c, t)
    stat, p, df = ttest_ind(t, c, usevar="unequal")
    lo, hi = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(usevar="unequal")
    assert got["p_value"] == pytest.approx(p, rel=1e-10)
    assert got["statistic"] == pytest.approx(stat, rel=1e-10)
    assert got["df"] == pytest.approx(df, rel=1e-10)
    assert got["ci95_diff"]["lower"] == pytest.approx(lo, rel=1e-10)
    assert got["ci95_diff"]["upper"] == pytest.approx(hi, rel=1e-10)


def test_cap_is_the_pooled_quantile():
    y = np.arange(1000.0)
    capped, note = cap_values(y, 0.99)
    assert note["value"] == pytest.approx(np.quantile(y, 0.99))
    assert note["rows_capped"] == int((y > np.quantile(y, 0.99)).sum()) == 10
    assert capped.max() == pytest.approx(note["value"])


def test_mean_outcome_end_to_end(tmp_path, capsys):
    path, df = _game(tmp_path)
    out = tmp_path / "o"
    rc = main(["compare", str(path), "--group-col", "version", "--outcome-col", "rounds",
               "--out", str(out), "--no-figures"])
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    assert res["metric_kind"] == "mean" and "mean" in res["input"]["outcome_kind"]
    block = res["arms"]["gate_40"]
    c = df.loc[df.version == "gate_30", "rounds"].to_numpy(float)
    t = df.loc[df.version == "gate_40", "rounds"].to_numpy(float)
    assert block["control"]["mean"] == pytest.approx(c.mean(), rel=1e-12)
    assert block["lift_abs"]["mean"] == pytest.approx(t.mean() - c.mean(), rel=1e-9)
    assert block["frequentist"]["test"] == "welch"
    assert block["frequentist"]["p_value"] == pytest.approx(welch_test(c, t)["p_value"])
    # One number per quantity: the decision's P(better) is the block's.
    assert block["decision"]["prob_test_better"] == block["prob_test_better"]
    assert res["decision"]["prob_test_better"] == block["prob_test_better"]
    assert res["metrics"]["rounds"]["kind"] == "mean"
    assert set(res["prob_best"]) == {"gate_30", "gate_40"}
    assert res["srm"]["observed"] == {"gate_30": c.size, "gate_40": t.size}
    # The heavy tail shows in the posterior: the interval of the arm with the outlier
    # is right-skewed around its mean.
    arm_out = "gate_30" if df.version[7] == "gate_30" else "gate_40"
    iv = block["control"] if arm_out == "gate_30" else block["test"]
    assert iv["upper"] - iv["mean"] > 1.3 * (iv["mean"] - iv["lower"])
    md = (out / "report.md").read_text()
    assert "Welch" in md and "Bayesian bootstrap" in md and " pp" not in md.split("## Glossary")[0]
    printed = capsys.readouterr().out
    assert "difference of means" in printed


def test_cap_and_k_arm_mean(tmp_path):
    rng = np.random.default_rng(8)
    n = 3000
    arm = rng.choice(["A", "B", "C"], n)
    spend = np.round(rng.exponential(np.select([arm == "A", arm == "B"], [10.0, 10.5], 13.0)), 2)
    path = tmp_path / "spend.csv"
    pd.DataFrame({"arm": arm, "spend": spend}).to_csv(path, index=False)
    res = run_compare(path, group_col="arm", outcome_col="spend", cap=0.99).results
    cap = res["input"]["cap"]
    assert cap["value"] == pytest.approx(np.quantile(spend, 0.99))
    assert res["decision"]["rule"].startswith("k arms")
    assert sum(res["prob_best"].values()) == pytest.approx(1.0)
    assert res["prob_best"]["C"] > 0.95 and res["decision"]["arm"] == "C"
    # Holm across the two arms, Welch on the capped values (statsmodels).
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.weightstats import ttest_ind

    capped = np.minimum(spend, cap["value"])
    raw = [ttest_ind(capped[arm == a], capped[arm == "A"], usevar="unequal")[1] for a in "BC"]
    holm = multipletests(raw, method="holm")[1]
    for a, h in zip("BC", holm, strict=True):
        assert res["arms"][a]["frequentist"]["p_value_holm"] == pytest.approx(h, rel=1e-9)


@pytest.mark.parametrize("args, msg", [
    (["--metric-type", "binary"], "outcome must be binary"),
    (["--segment-col", "ret"], "need a binary outcome"),
    (["--cap", "1.5"], "--cap"),
])
def test_mean_option_errors_exit_2(tmp_path, capsys, args, msg):
    path, _ = _game(tmp_path, n=200)
    rc = main(["compare", str(path), "--group-col", "version", "--outcome-col", "rounds",
               "--out", str(tmp_path / "o"), *args])
    assert rc == 2 and msg in capsys.readouterr().err


def test_cap_on_binary_outcome_exits_2(tmp_path, capsys):
    path, _ = _game(tmp_path, n=200)
    rc = main(["compare", str(path), "--group-col", "version", "--outcome-col", "ret",
               "--out", str(tmp_path / "o"), "--cap", "0.99"])
    assert rc == 2 and "--cap applies to a mean outcome" in capsys.readouterr().err


def test_non_numeric_values_in_a_mean_outcome(tmp_path):
    from bayes_ab.errors import DataError

    path = tmp_path / "x.csv"
    path.write_text("g,y\nA,1.5\nB,2.5\nA,oops\nB,3\nA,4\n")
    with pytest.raises(DataError, match="'oops'") as exc:
        run_compare(path, group_col="g", outcome_col="y")
    assert exc.value.lines == (4,)


def test_constant_outcome_per_arm_gives_no_warning(tmp_path, recwarn):
    path = tmp_path / "c.csv"
    path.write_text("g,y\n" + "".join(f"{a},{v}\n" for a, v in [("A", 2.5), ("B", 2.5)] * 5))
    res = run_compare(path, group_col="g", outcome_col="y").results
    f = res["arms"]["B"]["frequentist"]
    assert f["p_value"] == 1.0 and f["ci95_diff"]["lower"] == f["ci95_diff"]["upper"] == 0.0
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
