"""`bayes-ab compare` on raw exports (issue 15.3, 15.4, 15.8): units and exposure
(--unit-col, --time-col), CUPED / regression adjustment (--covariate) against statsmodels
OLS and on simulated data of known truth, the looks note, and the report's wording."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayes_ab.cli.main import main
from bayes_ab.workflows.compare import run_compare
from bayes_ab.stats.compare_mean import adjusted_mean_draws, cuped_adjust, ols_adjusted


def _raw(tmp_path, *, n=600, seed=5, dups=40, cross=10, flip=12):
    """Clean units, then ``dups`` repeated rows (one hour later, outcome 1), ``cross``
    units repeated in the other arm, ``flip`` rows whose landing page disagrees."""
    rng = np.random.default_rng(seed)
    g = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    page = np.where(g == "control", "old_page", "new_page")
    page[:flip] = np.where(g[:flip] == "control", "new_page", "old_page")
    t = pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.integers(0, 10 * 86400, n), unit="s")
    y = rng.binomial(1, 0.2, n)
    df = pd.DataFrame({"user_id": np.arange(n), "timestamp": t, "group": g,
                       "landing_page": page, "converted": y})
    dup = df.iloc[100:100 + dups].copy()
    dup["timestamp"] = dup["timestamp"] + pd.Timedelta("1h")
    dup["converted"] = 1
    cx = df.iloc[300:300 + cross].copy()
    cx["group"] = np.where(cx["group"] == "control", "treatment", "control")
    cx["landing_page"] = np.where(cx["group"] == "control", "old_page", "new_page")
    # The repeats come first in the file: only --time-col finds the first exposure.
    raw = pd.concat([dup, cx, df]).reset_index(drop=True)
    path = tmp_path / "raw.csv"
    raw.to_csv(path, index=False)
    return path, df


def test_units_dedup_counts_and_first_exposure_rule(tmp_path):
    path, clean = _raw(tmp_path)
    res = run_compare(path, group_col="group", outcome_col="converted", unit_col="user_id",
                      time_col="timestamp").results
    u = res["input"]["units"]
    assert u == {**u, "n_rows": 650, "n_units": 600, "duplicate_rows_dropped": 40,
                 "units_in_several_arms": 10, "rows_of_units_in_several_arms": 20,
                 "n_rows_analysed": 590}
    assert "first exposure" in u["rule"] and "excluded" in u["rule"]
    # By time, every kept row is the original one: the counts of the clean units.
    kept = clean[~clean["user_id"].between(300, 309)]
    for arm in ("control", "treatment"):
        sub = kept[kept["group"] == arm]
        assert res["input"]["counts"][arm] == {"successes": int(sub["converted"].sum()),
                                              "trials": len(sub)}
    codes = {f["code"] for f in res["findings"]}
    assert {"duplicate_unit_rows", "units_in_several_arms", "looks"} <= codes


def test_units_without_time_keep_the_first_row_in_the_file(tmp_path):
    path, clean = _raw(tmp_path)
    res = run_compare(path, group_col="group", outcome_col="converted",
                      unit_col="user_id").results
    assert "first row in the file" in res["input"]["units"]["rule"]
    # The repeated rows (outcome 1) come first in the file, so they are kept.
    kept = clean[~clean["user_id"].between(300, 309)].copy()
    kept.loc[kept["user_id"].between(100, 139), "converted"] = 1
    for arm in ("control", "treatment"):
        sub = kept[kept["group"] == arm]
        assert res["input"]["counts"][arm]["successes"] == int(sub["converted"].sum())


def test_repeated_id_column_is_warned_without_unit_col(tmp_path):
    path, _ = _raw(tmp_path)
    res = run_compare(path, group_col="group", outcome_col="converted").results
    f = {x["code"]: x for x in res["findings"]}
    assert f["possible_repeated_units"]["column"] == "user_id"
    assert f["possible_repeated_units"]["n_rows"] == 50
    assert "--unit-col user_id" in f["possible_repeated_units"]["message"]
    # The landing page disagrees with the group on the flipped rows and the repeats of
    # flipped rows (none here: they are in 100..139 and 300..309), plus the cross units.
    assert f["arm_column_disagrees"]["column"] == "landing_page"
    assert f["arm_column_disagrees"]["n_rows"] == 12
    assert "units" not in res["input"]


def test_clean_file_has_no_warnings(tmp_path):
    path, df = _raw(tmp_path, dups=0, cross=0, flip=0)
    # A constant experiment id and a few-valued segment id repeat but are not units.
    df.assign(experiment_id="exp1", segment_id=np.arange(len(df)) % 3).to_csv(path,
                                                                               index=False)
    res = run_compare(path, group_col="group", outcome_col="converted").results
    assert [f for f in res["findings"] if f["severity"] == "warning"] == []


@pytest.mark.parametrize("args, message", [
    (["--unit-col", "nope"], "no column 'nope'"),
    (["--time-col", "group"], "date or timestamp"),
    (["--unit-col", "group"], "same column"),
])
def test_unit_and_time_errors_exit_2(tmp_path, capsys, args, message):
    path, _ = _raw(tmp_path)
    rc = main(["compare", str(path), "--group-col", "group", "--outcome-col", "converted",
               "--out", str(tmp_path / "o"), *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_looks_and_monitor_command(tmp_path, capsys):
    path, clean = _raw(tmp_path)
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--group-col", "group", "--outcome-col", "converted",
               "--unit-col", "user_id", "--time-col", "timestamp", "--out", str(out),
               "--no-figures"])
    assert rc == 0
    res = json.loads((out / "compare.json").read_text())
    looks = res["input"]["looks"]
    days = pd.to_datetime(clean["timestamp"]).dt.normalize()
    assert looks["n_days"] == days[~clean["user_id"].between(300, 309)].nunique()
    assert looks["monitor_command"].startswith("bayes-ab monitor ")
    assert "--date-col timestamp" in looks["monitor_command"]
    printed = capsys.readouterr().out
    assert "Units ('user_id'): 600 units in 650 rows; 40 repeated rows dropped" in printed
    assert looks["monitor_command"] in printed
    md = (out / "report.md").read_text()
    assert "What was found in the rows" in md and "bayes-ab monitor" in md


# ---------------------------------------------------------------------------- CUPED


def _cuped_file(tmp_path, *, n=900, k=3, seed=8, binary=False):
    rng = np.random.default_rng(seed)
    arms = np.array(["A", "B", "C"][:k])[rng.integers(0, k, n)]
    x = rng.gamma(2.0, 20.0, n)
    eff = {"A": 0.0, "B": 2.0, "C": -1.0}
    if binary:
        p = np.clip(0.05 + 0.004 * x + np.vectorize(eff.get)(arms) * 0.02, 0, 1)
        y = rng.binomial(1, p)
    else:
        y = 10 + 0.8 * x + np.vectorize(eff.get)(arms) + rng.normal(0, 8, n)
    df = pd.DataFrame({"arm": arms, "y": y, "hist": x.round(3)})
    path = tmp_path / "cuped.csv"
    df.to_csv(path, index=False)
    return path, df


@pytest.mark.parametrize("binary", [False, True])
def test_cuped_lift_equals_statsmodels_ols(tmp_path, binary):
    import statsmodels.formula.api as smf

    path, df = _cuped_file(tmp_path, binary=binary)
    res = run_compare(path, group_col="arm", outcome_col="y", covariate="hist").results
    df = df.assign(xc=df["hist"] - df["hist"].mean())
    fit = smf.ols("y ~ C(arm, Treatment('A')) + xc", data=df).fit(cov_type="HC2")
    unadj = smf.ols("y ~ C(arm, Treatment('A'))", data=df).fit(cov_type="HC2")
    assert res["metric_kind"] == "mean"
    if binary:
        assert "analysed as a mean metric" in res["input"]["outcome_kind"]
    for arm in ("B", "C"):
        name = f"C(arm, Treatment('A'))[T.{arm}]"
        b = res["arms"][arm]
        adj = b["adjustment"]
        assert b["lift_abs"]["mean"] == pytest.approx(fit.params[name], abs=1e-10)
        assert b["frequentist"]["ci95_diff"]["mean"] == pytest.approx(fit.params[name],
                                                                      abs=1e-10)
        lo, hi = fit.conf_int().loc[name]
        assert b["frequentist"]["ci95_diff"]["lower"] == pytest.approx(lo, abs=1e-10)
        assert b["frequentist"]["ci95_diff"]["upper"] == pytest.approx(hi, abs=1e-10)
        assert b["frequentist"]["p_value"] == pytest.approx(fit.pvalues[name], rel=1e-9)
        # theta pinned: the pooled within-arm slope = the OLS coefficient of the covariate.
        assert adj["theta"] == pytest.approx(fit.params["xc"], rel=1e-10)
        assert adj["variance_reduction"] == pytest.approx(
            1 - fit.bse[name] ** 2 / unadj.bse[name] ** 2, rel=1e-9)
        # The unadjusted HC2 variance is Welch's: s_c^2/n_c + s_t^2/n_t.
        c, t = df.loc[df.arm == "A", "y"], df.loc[df.arm == arm, "y"]
        assert unadj.bse[name] ** 2 == pytest.approx(c.var() / c.size + t.var() / t.size,
                                                     rel=1e-10)
        assert adj["unadjusted_lift_abs"]["mean"] == pytest.approx(t.mean() - c.mean(),
                                                                   abs=1e-12)
        assert adj["covariate"] == "hist"
        # The Bayesian posterior of the adjusted lift is centred on it and narrower.
        width = b["lift_abs"]["upper"] - b["lift_abs"]["lower"]
        unw = adj["unadjusted_lift_abs"]["upper"] - adj["unadjusted_lift_abs"]["lower"]
        assert width == pytest.approx(unw * np.sqrt(1 - adj["variance_reduction"]), rel=0.08)
    # The total-sample slope is a different number (pinned: not the definition used).
    total = np.polyfit(df["hist"], df["y"], 1)[0]
    assert abs(total - res["arms"]["B"]["adjustment"]["theta"]) > 1e-6


def test_cuped_theta_is_the_pooled_within_arm_slope():
    with pytest.raises(ValueError, match="constant within every arm"):
        cuped_adjust(np.arange(4.0), np.array([1.0, 1, 2, 2]), np.array(list("aabb")),
                     ["a", "b"])
    rng = np.random.default_rng(1)
    g = np.repeat(np.array(["a", "b"]), 50)
    x = rng.normal(size=100) + (g == "b") * 3.0
    y = 2.0 * x + rng.normal(size=100)
    _, theta = cuped_adjust(y, x, g, ["a", "b"])
    slopes = [np.polyfit(x[g == a], y[g == a], 1)[0] for a in ("a", "b")]
    sxx = [np.sum((x[g == a] - x[g == a].mean()) ** 2) for a in ("a", "b")]
    assert theta == pytest.approx(np.average(slopes, weights=sxx), rel=1e-12)


@pytest.mark.parametrize("distinct", [8000, 50_000])  # exact bootstrap; its normal form
def test_cuped_coverage_on_simulated_data(distinct):
    """150 simulated experiments with a known effect 0.5 and a strongly predictive
    covariate: the OLS 95% CI and the 95% HDI of the adjusted posterior each cover the
    truth in 95% +- 4.5% of them, and the variance falls by about rho^2 = 0.8."""
    from bayes_ab.inference.intervals import hdi_bounds

    rng = np.random.default_rng(21)
    cover_f = cover_b = 0
    vrs = []
    sims, n = 150, 400
    for _ in range(sims):
        g = np.where(rng.random(n) < 0.5, "c", "t")
        x = rng.normal(0, 2, n)
        y = 1.0 + 0.5 * (g == "t") + x + rng.normal(0, 1, n)  # rho^2 = 4/5
        y_adj, _ = cuped_adjust(y, x, g, ["c", "t"])
        f = ols_adjusted(y, x, g, ["c", "t"])["t"]
        u = ols_adjusted(y, None, g, ["c", "t"])["t"]
        vrs.append(1 - f["se"] ** 2 / u["se"] ** 2)
        cover_f += f["ci95_diff"]["lower"] <= 0.5 <= f["ci95_diff"]["upper"]
        r = np.random.default_rng(rng.integers(1 << 31))
        dc, _ = adjusted_mean_draws(y_adj[g == "c"], rng=r, n_draws=1000, distinct=distinct)
        dt, _ = adjusted_mean_draws(y_adj[g == "t"], rng=r, n_draws=1000, distinct=distinct)
        lo, hi = hdi_bounds(dt - dc)
        cover_b += lo <= 0.5 <= hi
    assert abs(cover_f / sims - 0.95) < 0.045
    assert abs(cover_b / sims - 0.95) < 0.045
    assert np.mean(vrs) == pytest.approx(0.8, abs=0.03)


def test_covariate_errors(tmp_path, capsys):
    path, df = _cuped_file(tmp_path)
    bad = tmp_path / "bad.csv"
    df.assign(hist=df["hist"].astype(object).where(df.index != 4, "")).to_csv(bad, index=False)
    rc = main(["compare", str(bad), "--group-col", "arm", "--outcome-col", "y",
               "--out", str(tmp_path / "o"), "--covariate", "hist"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--covariate needs a finite number" in err and "line(s) 6" in err
    for extra, msg in ((["--covariate", "arm"], "must be another column"),
                       (["--covariate", "nope"], "no column 'nope'")):
        rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
                   "--out", str(tmp_path / "o"), *extra])
        assert rc == 2
        assert msg in capsys.readouterr().err


def test_cuped_cli_and_report(tmp_path, capsys):
    path, _ = _cuped_file(tmp_path, k=2)
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
               "--covariate", "hist", "--out", str(out), "--no-figures"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "CUPED by 'hist'" in printed and "variance of the lift reduced by" in printed
    md = (out / "report.md").read_text()
    assert "CUPED adjustment by 'hist'" in md
    assert "HC2 robust standard errors" in md


def test_mean_report_words_expected_loss_unconditionally(tmp_path):
    """Issue 14 item 4 in the compare report: the expected loss is averaged over the
    posterior, with P(wrong) and the loss if wrong beside it."""
    path, _ = _cuped_file(tmp_path, k=2)
    out = tmp_path / "out"
    assert main(["compare", str(path), "--group-col", "arm", "--outcome-col", "y",
                 "--out", str(out), "--no-figures"]) == 0
    md = (out / "report.md").read_text()
    rec = md.split("## Recommendation", 1)[1].split("##", 1)[0]
    assert "averaged over the whole posterior" in rec
    assert "with probability" in rec and "if it is, by" in rec
    assert "gives up" not in rec


def test_units_and_covariate_with_several_outcomes(tmp_path):
    """--unit-col deduplicates once for every outcome; --covariate adjusts the primary one."""
    path, df = _cuped_file(tmp_path, k=2)
    df = df.assign(uid=np.arange(len(df)), clicked=(df["y"] > df["y"].median()).astype(int))
    raw = pd.concat([df.iloc[:30].assign(y=0.0), df])  # 30 repeats first in the file
    raw.to_csv(path, index=False)
    res = run_compare(path, group_col="arm", outcome_col="y,clicked", unit_col="uid",
                      covariate="hist").results
    assert res["input"]["units"]["duplicate_rows_dropped"] == 30
    assert res["input"]["covariate_applies_to"] == "y"
    assert "adjustment" in res["arms"]["B"]
    assert "adjustment" not in res["metrics"]["clicked"]["arms"]["B"]
    kept = pd.concat([df.iloc[:30].assign(y=0.0), df.iloc[30:]])
    assert res["metrics"]["clicked"]["arms"]["B"]["counts"]["B"]["trials"] == int(
        (kept["arm"] == "B").sum())
    c, t = kept.loc[kept.arm == "A", "y"], kept.loc[kept.arm == "B", "y"]
    assert res["arms"]["B"]["adjustment"]["unadjusted_lift_abs"]["mean"] == pytest.approx(
        t.mean() - c.mean(), abs=1e-12)
