"""Frequentist cross-check: equal to scipy/statsmodels/lifelines on the same data, pinned
numbers, and error rates / coverage checked by (vectorised, cheap) simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import Table
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from bayes_ab.stats.frequentist import (
    RatioStatistic,
    bayes_frequentist_agreement,
    cochran_armitage_trend,
    cox_by_group,
    holm_adjust,
    holm_adjust_tests,
    logrank_by_group,
    newcombe_diff_ci,
    ratio_metric_test,
    srm_check,
    two_proportion_test,
    wilson_interval,
)
from bayes_ab.models.beta_binomial import BinomialCounts

COUNTS = [
    (BinomialCounts(700, 7000), BinomialCounts(345, 3000)),
    (BinomialCounts(1400, 7000), BinomialCounts(610, 3000)),
    (BinomialCounts(30, 250), BinomialCounts(9, 110)),
]


@pytest.mark.parametrize(("c", "t"), COUNTS)
def test_z_test_equals_statsmodels(c: BinomialCounts, t: BinomialCounts) -> None:
    r = two_proportion_test(c, t, method="z")
    z, p = proportions_ztest([t.successes, c.successes], [t.trials, c.trials])
    assert r.test == "two-proportion z"
    assert r.statistic == pytest.approx(z, rel=1e-12)
    assert r.p_value == pytest.approx(p, rel=1e-10)


@pytest.mark.parametrize(("c", "t"), COUNTS)
def test_newcombe_ci_equals_statsmodels(c: BinomialCounts, t: BinomialCounts) -> None:
    ci = newcombe_diff_ci(c, t)
    lo, hi = confint_proportions_2indep(
        t.successes, t.trials, c.successes, c.trials, method="newcomb", compare="diff"
    )
    assert (ci.lower, ci.upper) == pytest.approx((lo, hi), abs=1e-12)
    assert ci.mean == pytest.approx(t.rate - c.rate, abs=1e-15)


def test_wilson_interval_equals_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    w = wilson_interval(BinomialCounts(9, 110))
    assert (w.lower, w.upper) == pytest.approx(proportion_confint(9, 110, method="wilson"), abs=1e-12)


def test_pinned_conversion_example() -> None:
    r = two_proportion_test(BinomialCounts(700, 7000), BinomialCounts(345, 3000))
    assert r.to_dict() == {
        "test": "two-proportion z",
        "p_value": pytest.approx(0.0246377477, abs=1e-10),
        "p_value_holm": pytest.approx(0.0246377477, abs=1e-10),
        "ci95_diff": {
            "mean": pytest.approx(0.015, abs=1e-15),
            "lower": pytest.approx(0.0018874579, abs=1e-10),
            "upper": pytest.approx(0.0287207609, abs=1e-10),
            "prob": 0.95,
        },
        "significant_95": True,
    }
    assert r.statistic == pytest.approx(2.2470356676, abs=1e-9)
    assert "significant at 95%: yes" in r.sentence()
    assert "+1.50 pp" in r.sentence()


def test_fisher_is_used_when_expected_counts_are_small() -> None:
    c, t = BinomialCounts(2, 20), BinomialCounts(6, 18)
    r = two_proportion_test(c, t)
    assert r.test == "fisher"
    assert r.min_expected_count < 5
    expected = stats.fisher_exact([[6, 12], [2, 18]]).pvalue
    assert r.p_value == pytest.approx(expected, rel=1e-12)
    assert r.p_value == pytest.approx(0.1171435365, abs=1e-9)
    assert r.to_dict()["test"] == "fisher"
    # Forcing either test works regardless of the counts.
    assert two_proportion_test(c, t, method="z").test == "two-proportion z"
    assert two_proportion_test(*COUNTS[0], method="fisher").test == "fisher"
    with pytest.raises(ValueError, match="unknown method"):
        two_proportion_test(c, t, method="t")  # type: ignore[arg-type]


def test_degenerate_all_zero_is_not_significant() -> None:
    r = two_proportion_test(BinomialCounts(0, 500), BinomialCounts(0, 200), method="z")
    assert r.p_value == 1.0 and not r.significant_95


def test_holm_equals_statsmodels_and_drives_significance() -> None:
    ps = {"conversion": 0.03, "cs_engagement": 0.02, "third": 0.5}
    adj = holm_adjust(ps)
    expected = multipletests(list(ps.values()), method="holm")[1]
    assert list(adj.values()) == pytest.approx(list(expected), abs=1e-15)
    assert adj == pytest.approx({"conversion": 0.06, "cs_engagement": 0.06, "third": 0.5})

    fam = holm_adjust_tests(
        {
            "conversion": two_proportion_test(*COUNTS[0], metric="conversion"),
            "cs_engagement": two_proportion_test(*COUNTS[1], metric="CS engagement"),
        }
    )
    conv = fam["conversion"]
    assert conv.family_size == 2
    # Reference: statsmodels on the same two p-values.
    ref = multipletests([conv.p_value, fam["cs_engagement"].p_value], method="holm")[1]
    assert conv.p_value_holm == pytest.approx(ref[0], rel=1e-12)
    assert conv.to_dict()["p_value_holm"] == pytest.approx(ref[0], rel=1e-12)
    assert conv.significant_95 == (ref[0] < 0.05)
    assert "Holm-adjusted" in conv.sentence()


def test_srm_pinned_and_equal_to_scipy() -> None:
    ok = srm_check(3050, 6950)
    assert ok.to_dict() == {
        "expected_test_share": 0.30,
        "observed_test_share": 0.305,
        "p_value": pytest.approx(stats.chisquare([3050, 6950], [3000, 7000]).pvalue, rel=1e-12),
        "mismatch": False,
    }
    assert ok.p_value == pytest.approx(0.2752335241, abs=1e-9)
    bad = srm_check(3300, 6700)
    assert bad.mismatch and bad.p_value < 1e-10
    assert "Sample-ratio mismatch" in bad.sentence()
    assert srm_check(500, 500, expected_test_share=0.5).p_value == pytest.approx(1.0)
    with pytest.raises(ValueError):
        srm_check(0, 0)


def test_cochran_armitage_matches_statsmodels_linear_by_linear() -> None:
    k, n = np.array([20, 35, 50, 80]), np.array([400, 380, 300, 250])
    tr = cochran_armitage_trend(k, n)
    sm = Table(np.column_stack([n - k, k])).test_ordinal_association()
    big_n = n.sum()
    # Same test, the permutation variance uses N - 1 in place of N.
    assert tr.z * np.sqrt((big_n - 1) / big_n) == pytest.approx(sm.zscore, rel=1e-10)
    assert tr.z == pytest.approx(9.7689691753, abs=1e-8)
    # Weighted least-squares slope of the rates on the scores.
    rates = k / n
    w_mean_x = np.sum(n * np.arange(4)) / big_n
    slope = np.sum(n * (np.arange(4) - w_mean_x) * rates) / np.sum(n * (np.arange(4) - w_mean_x) ** 2)
    assert tr.slope == pytest.approx(slope, rel=1e-12)
    flat = cochran_armitage_trend([10, 10, 10, 10], [100, 100, 100, 100])
    assert flat.z == pytest.approx(0.0) and flat.p_value == pytest.approx(1.0)


def _hand_logrank(d: pd.DataFrame) -> float:
    """Two-group log-rank chi-square written out: sum (O - E) over event times, squared,
    over the hypergeometric variance."""
    o_minus_e = var = 0.0
    for t in np.sort(d.loc[d.event == 1, "duration"].unique()):
        at_risk = d[d.duration >= t]
        died = at_risk[(at_risk.duration == t) & (at_risk.event == 1)]
        n, n1 = len(at_risk), int((at_risk.channel == "CS").sum())
        e, e1 = len(died), int((died.channel == "CS").sum())
        o_minus_e += e1 - e * n1 / n
        if n > 1:
            var += e * (n1 / n) * (1 - n1 / n) * (n - e) / (n - 1)
    return o_minus_e**2 / var


@pytest.fixture(scope="module")
def survival_frame() -> pd.DataFrame:
    # Exponential times to completion; CS completes at 1.5x the OTHER rate; task 3 slower;
    # censoring at 60 minutes.
    rng = np.random.default_rng(7)
    n = 1500
    channel = rng.choice(["CS", "OTHER"], size=n)
    task = rng.integers(1, 4, size=n)
    rate = 0.05 * np.where(channel == "CS", 1.5, 1.0) * np.where(task == 3, 0.5, 1.0)
    t = rng.exponential(1 / rate)
    return pd.DataFrame(
        {
            "duration": np.minimum(t, 60.0).round(1),
            "event": (t <= 60.0).astype(int),
            "channel": channel,
            "task": task,
        }
    )


def test_logrank_matches_hand_computation(survival_frame: pd.DataFrame) -> None:
    small = survival_frame.iloc[:120]
    r = logrank_by_group(small)
    assert r.groups == ("CS", "OTHER")
    assert r.statistic == pytest.approx(_hand_logrank(small), rel=1e-8)
    assert r.p_value == pytest.approx(stats.chi2.sf(r.statistic, 1), rel=1e-10)
    full = logrank_by_group(survival_frame)
    assert full.p_value < 1e-6 and full.to_dict()["significant_95"]
    assert sum(full.n) == len(survival_frame)


def test_logrank_from_grouped_counts_equals_per_row(survival_frame: pd.DataFrame) -> None:
    """The engine's grouped follow-up times (one row per group x duration x event with a
    count) give lifelines' per-row statistic, with two groups and with three."""
    per_row = logrank_by_group(survival_frame)
    grouped = (survival_frame.groupby(["channel", "duration", "event"]).size()
               .rename("n").reset_index())
    assert len(grouped) < len(survival_frame)  # ties (times rounded to 0.1 min) collapse
    g = logrank_by_group(grouped, weight="n")
    assert (g.groups, g.n, g.events) == (per_row.groups, per_row.n, per_row.events)
    assert g.statistic == pytest.approx(per_row.statistic, rel=1e-10)
    assert g.statistic == pytest.approx(_hand_logrank(survival_frame), rel=1e-8)
    three = survival_frame.assign(channel=survival_frame["task"].map({1: "a", 2: "b", 3: "c"}))
    g3 = logrank_by_group(three.groupby(["channel", "duration", "event"]).size()
                          .rename("n").reset_index(), weight="n")
    r3 = logrank_by_group(three)
    assert g3.statistic == pytest.approx(r3.statistic, rel=1e-10)
    assert g3.p_value == pytest.approx(r3.p_value, rel=1e-8)


def test_cox_recovers_hazard_ratio_with_task_strata(survival_frame: pd.DataFrame) -> None:
    r = cox_by_group(survival_frame, strata=["task"])
    hr = r.hazard_ratios["CS"]
    assert hr.lower < 1.5 < hr.upper
    assert hr.mean == pytest.approx(1.5, rel=0.12)
    assert r.p_values["CS"] < 1e-6
    d = r.to_dict()
    assert d["reference"] == "OTHER" and d["strata"] == ["task"]
    assert set(d["hazard_ratio"]["CS"]) == {"mean", "lower", "upper", "prob"}
    with pytest.raises(ValueError, match="reference"):
        cox_by_group(survival_frame, reference="PHONE")
    with pytest.raises(ValueError, match="lacks column"):
        cox_by_group(survival_frame.drop(columns="event"))


def test_ratio_with_unit_denominator_is_the_welch_z_test() -> None:
    rng = np.random.default_rng(3)
    yc, yt = rng.poisson(1.0, 800), rng.poisson(1.2, 600)
    r = ratio_metric_test(
        RatioStatistic.from_arrays(yc, np.ones_like(yc)),
        RatioStatistic.from_arrays(yt, np.ones_like(yt)),
    )
    se = np.sqrt(yc.var(ddof=1) / yc.size + yt.var(ddof=1) / yt.size)
    assert r.diff.mean == pytest.approx(yt.mean() - yc.mean(), rel=1e-12)
    assert r.z == pytest.approx((yt.mean() - yc.mean()) / se, rel=1e-10)
    welch = stats.ttest_ind(yt, yc, equal_var=False)
    assert r.p_value == pytest.approx(welch.pvalue, rel=0.01)


def test_ratio_delta_method_pinned_small_example() -> None:
    # CS contacts (y) per flagged customer (x) over five customers.
    s = RatioStatistic.from_arrays([2, 0, 1, 0, 3], [1, 1, 1, 0, 1])
    assert s.ratio == pytest.approx(6 / 4)
    # my = 1.2, mx = 0.8, s_yy = 1.7, s_xx = 0.2, s_xy = 0.3 (n - 1 = 4)
    expected = (1.7 / 0.64 - 2 * 1.2 * 0.3 / 0.512 + 1.44 * 0.2 / 0.4096) / 5
    assert s.ratio_variance == pytest.approx(expected, rel=1e-12)


def test_ratio_ci_covers_truth_about_95_percent() -> None:
    # 2000 simulated experiments, vectorised: flagged ~ Bernoulli(0.4); contacts | flagged ~
    # Poisson(1.0 control, 1.0 test): true ratio difference 0.
    rng = np.random.default_rng(11)
    reps, n = 2000, 400
    covered = 0
    for _ in range(reps):
        xc, xt = rng.random(n) < 0.4, rng.random(n) < 0.4
        yc, yt = xc * rng.poisson(1.0, n), xt * rng.poisson(1.0, n)
        r = ratio_metric_test(RatioStatistic.from_arrays(yc, xc), RatioStatistic.from_arrays(yt, xt))
        covered += r.diff.lower <= 0.0 <= r.diff.upper
    assert covered / reps == pytest.approx(0.95, abs=0.015)


def test_z_test_false_positive_rate_under_null_is_five_percent() -> None:
    rng = np.random.default_rng(5)
    reps, nc, nt, p = 20_000, 7000, 3000, 0.1
    sc, st = rng.binomial(nc, p, reps), rng.binomial(nt, p, reps)
    pooled = (sc + st) / (nc + nt)
    z = (st / nt - sc / nc) / np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    # The vectorised z equals the function's on a few draws...
    for i in range(3):
        r = two_proportion_test(BinomialCounts(sc[i], nc), BinomialCounts(st[i], nt))
        assert r.statistic == pytest.approx(z[i], rel=1e-12)
    # ...and rejects at the nominal rate.
    assert np.mean(2 * stats.norm.sf(np.abs(z)) < 0.05) == pytest.approx(0.05, abs=0.006)


def test_newcombe_coverage_with_small_counts() -> None:
    rng = np.random.default_rng(9)
    covered, reps = 0, 2000
    for _ in range(reps):
        c = BinomialCounts(rng.binomial(40, 0.1), 40)
        t = BinomialCounts(rng.binomial(30, 0.2), 30)
        covered += newcombe_diff_ci(c, t).contains(0.1)
    # Newcombe's interval keeps near-nominal coverage where Wald's drops well below.
    assert 0.93 <= covered / reps <= 0.99


def test_agreement_sentences() -> None:
    both = bayes_frequentist_agreement(prob_test_better=0.9875, p_value=0.0246)
    assert both.agree and both.bayes_confident and "Test is better" in both.sentence
    neither = bayes_frequentist_agreement(prob_test_better=0.80, p_value=0.40)
    assert neither.agree and not neither.bayes_confident and "not conclusive" in neither.sentence
    holm = bayes_frequentist_agreement(prob_test_better=0.99, p_value=0.02, p_value_holm=0.06)
    assert not holm.agree and "Holm correction" in holm.sentence
    edge = bayes_frequentist_agreement(prob_test_better=0.976, p_value=0.052)
    assert not edge.agree and "95% line" in edge.sentence
    assert edge.implied_two_sided_p == pytest.approx(0.048)
    small = bayes_frequentist_agreement(prob_test_better=0.99, p_value=0.2)
    assert not small.agree and "prior" in small.sentence
