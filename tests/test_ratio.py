"""Bayesian ratio metric: exact draws checked against closed forms, the delta method at
large n, and 95% coverage of the lift over repeated simulations with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_ab.errors import DataError, OptionError
from bayes_ab.stats.frequentist import RatioStatistic
from bayes_ab.stats.ratio import (
    compare_ratio,
    parse_ratio_spec,
    ratio_by_arm,
    ratio_posterior_draws,
    read_ratio_columns,
)


def _contacts(rng, n, *, p_flag=0.3, mean=1.5):
    """CS contacts per flagged customer: den = flagged (0/1), num = overdispersed counts
    (negative binomial, most flagged customers 0-2 contacts, a few many) among the flagged.
    True ratio E[num] / E[den] = mean."""
    flagged = rng.binomial(1, p_flag, n)
    contacts = np.where(flagged == 1, rng.negative_binomial(2, 2 / (2 + mean), n), 0)
    return RatioStatistic.from_arrays(contacts, flagged)


def test_constant_denominator_is_a_student_t_on_the_mean():
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, 50).astype(float)
    stat = RatioStatistic.from_arrays(y, np.ones(50))
    draws = ratio_posterior_draws(stat, n_draws=200_000, rng=np.random.default_rng(1))
    t = stats.t(df=49, loc=y.mean(), scale=y.std(ddof=1) / np.sqrt(50))
    assert np.mean(draws) == pytest.approx(y.mean(), abs=0.005)
    assert np.quantile(draws, 0.975) == pytest.approx(t.ppf(0.975), abs=0.01)


def test_matches_delta_method_at_large_n():
    rng = np.random.default_rng(1)
    c, t = _contacts(rng, 20_000), _contacts(rng, 20_000, mean=1.6)
    res = compare_ratio(c, t, metric="cs_contacts_per_flagged", seed=2)
    freq = res.frequentist["ci95_diff"]
    width = freq["upper"] - freq["lower"]
    assert res.lift_abs["mean"] == pytest.approx(freq["mean"], abs=0.01 * width)
    assert res.lift_abs["lower"] == pytest.approx(freq["lower"], abs=0.03 * width)
    assert res.lift_abs["upper"] == pytest.approx(freq["upper"], abs=0.03 * width)
    # P(better) ~ one-sided p of the same z.
    z = res.frequentist["z"]
    assert res.prob_test_better == pytest.approx(stats.norm.cdf(z), abs=0.01)
    assert res.counts["control"]["n"] == 20_000


def test_lower_is_better_flips_the_probability_and_the_losses():
    rng = np.random.default_rng(3)
    c, t = _contacts(rng, 3000), _contacts(rng, 3000, mean=2.0)
    hi = compare_ratio(c, t, seed=1)
    lo = compare_ratio(c, t, seed=1, higher_is_better=False)
    assert lo.prob_test_better == pytest.approx(1 - hi.prob_test_better, abs=1e-9)
    assert lo.decision["expected_loss"]["double_down"] == pytest.approx(
        hi.decision["expected_loss"]["pivot"])
    assert lo.decision["recommendation"] == "pivot" and hi.decision["recommendation"] == "double_down"


def test_interval_coverage_over_repeated_simulations():
    # 300 experiments, 400 customers per arm, true ratios 1.5 and 1.8 (lift 0.3).
    rng = np.random.default_rng(4)
    hits_abs = hits_c = 0
    reps = 300
    for r in range(reps):
        c, t = _contacts(rng, 400), _contacts(rng, 400, mean=1.8)
        res = compare_ratio(c, t, n_draws=4000, seed=r)
        hits_abs += res.lift_abs["lower"] < 0.3 < res.lift_abs["upper"]
        hits_c += res.control["lower"] < 1.5 < res.control["upper"]
    # 95% nominal; binomial sd over 300 runs ~ 0.013.
    assert 0.92 <= hits_abs / reps <= 0.985
    assert 0.92 <= hits_c / reps <= 0.985


def test_reading_columns_and_specs(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("arm,contacts,flagged\nA,2,1\nA,0,0\nB,3,true\nB,1,1\nA,1,1\n")
    num, den, label = read_ratio_columns(path, "contacts/flagged")
    assert label == "contacts/flagged" and num.tolist() == [2, 0, 3, 1, 1]
    assert den.tolist() == [1, 0, 1, 1, 1]
    stats_ = ratio_by_arm(["A", "A", "B", "B", "A"], num, den, ["A", "B"])
    assert stats_["A"].ratio == pytest.approx(1.5) and stats_["B"].n == 2
    assert parse_ratio_spec("contacts") == ("contacts", "")
    with pytest.raises(OptionError):
        parse_ratio_spec("a/b/c")
    path.write_text("arm,contacts,flagged\nA,2,1\nA,x,0\n")
    with pytest.raises(DataError, match="needs a number") as exc:
        read_ratio_columns(path, "contacts/flagged")
    assert exc.value.lines == (3,)
