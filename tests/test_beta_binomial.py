"""Closed-form Beta-Binomial: exact values, independent numerical integration, Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from bayes_ab.constants import HDI_PROB
from bayes_ab.models.beta_binomial import (
    BetaPosterior,
    BetaPrior,
    BinomialCounts,
    Interval,
    beta_hdi,
    compare_arms,
    compare_two,
    expected_loss_of_choosing,
    hdi_of_draws,
    posterior,
    prob_best,
    prob_beta_greater,
)

# Small-count Betas (where a 2-D integral over the unit square is accurate) and
# non-integer ones (which force the quadrature path).
PAIRS = [
    ((3.0, 8.0), (5.0, 7.0)),
    ((12.0, 30.0), (9.0, 33.0)),
    ((2.5, 4.2), (3.7, 3.1)),
    ((1.0, 1.0), (1.0, 1.0)),
]


def _dblquad_prob_greater(x: tuple[float, float], y: tuple[float, float]) -> float:
    fx, fy = stats.beta(*x).pdf, stats.beta(*y).pdf
    # P(X > Y) = int_0^1 f_X(s) int_0^s f_Y(t) dt ds
    val, _ = integrate.dblquad(lambda t, s: fx(s) * fy(t), 0, 1, 0, lambda s: s, epsabs=1e-10)
    return val


def _layer_cake_loss(chosen: tuple[float, float], other: tuple[float, float]) -> float:
    # E[max(0, O - C)] = int_0^1 P(C < s < O) ds = int_0^1 F_C(s) (1 - F_O(s)) ds,
    # an identity independent of the size-biased Beta used by the closed form.
    fc, so = stats.beta(*chosen).cdf, stats.beta(*other).sf
    val, _ = integrate.quad(lambda s: fc(s) * so(s), 0, 1, epsabs=1e-13, limit=200)
    return val


def test_posterior_is_conjugate_update() -> None:
    post = posterior(BinomialCounts(7, 20), prior=BetaPrior(2.0, 3.0))
    assert post == BetaPosterior(9.0, 16.0)
    assert post.mean == pytest.approx(9 / 25)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"successes": 5, "trials": 0}, "at least one trial"),
        ({"successes": 6, "trials": 5}, "0..trials"),
        ({"successes": -1, "trials": 5}, "0..trials"),
        ({"successes": 1.5, "trials": 5}, "whole numbers"),
    ],
)
def test_bad_counts_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinomialCounts(**kwargs)


def test_bad_prior_is_rejected() -> None:
    with pytest.raises(ValueError, match="alpha, beta > 0"):
        BetaPrior(0.0, 1.0)


def test_hdi_of_beta_one_b_is_closed_form() -> None:
    # Beta(1, b) has a decreasing density, so its HDI is [0, q] with 1 - (1 - q)^b = 0.95.
    for b in (2.0, 5.0, 40.0):
        lo, hi = beta_hdi(1.0, b)
        assert lo == pytest.approx(0.0, abs=1e-9)
        assert hi == pytest.approx(1 - 0.05 ** (1 / b), rel=1e-7)


def test_hdi_of_symmetric_beta_is_central_interval() -> None:
    lo, hi = beta_hdi(30.0, 30.0)
    d = stats.beta(30, 30)
    assert (lo, hi) == pytest.approx((d.ppf(0.025), d.ppf(0.975)), abs=1e-7)


@pytest.mark.parametrize(("a", "b"), [(3.0, 8.0), (71.0, 930.0), (2.5, 1.7)])
def test_hdi_of_skewed_beta_has_equal_density_ends_and_right_mass(a: float, b: float) -> None:
    lo, hi = beta_hdi(a, b)
    d = stats.beta(a, b)
    assert d.cdf(hi) - d.cdf(lo) == pytest.approx(HDI_PROB, abs=1e-9)
    assert d.pdf(lo) == pytest.approx(d.pdf(hi), rel=1e-4)
    # Narrower than the equal-tailed interval (strictly, since the Beta is skewed).
    assert hi - lo < d.ppf(0.975) - d.ppf(0.025)


def test_hdi_of_draws_matches_exact_beta_hdi() -> None:
    draws = np.random.default_rng(1).beta(71, 930, size=400_000)
    assert hdi_of_draws(draws) == pytest.approx(beta_hdi(71, 930), abs=4e-4)


def test_exact_values_for_uniform_and_triangular() -> None:
    u, tri = BetaPosterior(1, 1), BetaPosterior(2, 1)
    assert prob_beta_greater(u, u) == pytest.approx(0.5, abs=1e-14)
    # X ~ Beta(2,1) (density 2x) beats a uniform with probability int 2x * x dx = 2/3.
    assert prob_beta_greater(tri, u) == pytest.approx(2 / 3, abs=1e-14)
    # E[max(0, U1 - U2)] = 1/6 for two independent uniforms.
    assert expected_loss_of_choosing(u, u) == pytest.approx(1 / 6, abs=1e-14)
    # Choosing X ~ Beta(2,1) over a uniform Y loses int 2x (1-x)^2 / 2 dx = B(2, 3) = 1/12.
    assert expected_loss_of_choosing(tri, u) == pytest.approx(1 / 12, abs=1e-14)


@pytest.mark.parametrize(("x", "y"), PAIRS)
def test_prob_greater_matches_double_integral(x: tuple, y: tuple) -> None:
    expected = _dblquad_prob_greater(x, y)
    got = prob_beta_greater(BetaPosterior(*x), BetaPosterior(*y))
    assert got == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(("x", "y"), PAIRS)
def test_expected_loss_closed_form_matches_layer_cake_integral(x: tuple, y: tuple) -> None:
    expected = _layer_cake_loss(x, y)
    got = expected_loss_of_choosing(BetaPosterior(*x), BetaPosterior(*y))
    assert got == pytest.approx(expected, abs=1e-8)


def test_exact_sum_and_quadrature_agree_at_scale() -> None:
    pc, pt = BetaPosterior(701, 6301), BetaPosterior(346, 2656)
    s, q = prob_beta_greater(pt, pc, method="sum"), prob_beta_greater(pt, pc, method="quad")
    assert s == pytest.approx(q, abs=1e-9)
    assert prob_beta_greater(pt, pc) + prob_beta_greater(pc, pt) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="integer alpha"):
        prob_beta_greater(BetaPosterior(2.5, 1), BetaPosterior(1.5, 1), method="sum")


def test_closed_forms_match_monte_carlo_at_scale() -> None:
    pc, pt = BetaPosterior(701, 6301), BetaPosterior(346, 2656)
    rng = np.random.default_rng(20240505)
    c, t = rng.beta(pc.alpha, pc.beta, 2_000_000), rng.beta(pt.alpha, pt.beta, 2_000_000)
    assert prob_beta_greater(pt, pc) == pytest.approx(np.mean(t > c), abs=5e-4)
    assert expected_loss_of_choosing(pt, pc) == pytest.approx(
        np.mean(np.maximum(0, c - t)), rel=0.02
    )
    assert expected_loss_of_choosing(pc, pt) == pytest.approx(
        np.mean(np.maximum(0, t - c)), rel=0.002
    )


def test_loss_identity_pivot_minus_double_down_is_mean_lift() -> None:
    # E[max(0, t - c)] - E[max(0, c - t)] = E[t - c], a check of both losses at once.
    pc, pt = BetaPosterior(51.5, 449.2), BetaPosterior(63.0, 440.0)
    diff = expected_loss_of_choosing(pc, pt) - expected_loss_of_choosing(pt, pc)
    assert diff == pytest.approx(pt.mean - pc.mean, abs=1e-12)


def test_compare_two_pinned_numbers() -> None:
    # 10.0% of 7000 in Control vs 11.5% of 3000 in Test, uniform priors.
    r = compare_two(BinomialCounts(700, 7000), BinomialCounts(345, 3000), seed=0)
    assert r.control.mean == pytest.approx(701 / 7002, abs=1e-15)
    assert r.test.mean == pytest.approx(346 / 3002, abs=1e-15)
    assert r.prob_test_better == pytest.approx(0.98754633146, abs=1e-9)
    assert r.expected_loss_double_down == pytest.approx(2.85004e-05, rel=1e-4)
    assert r.expected_loss_pivot == pytest.approx(0.01517074, rel=1e-6)
    assert (r.control.lower, r.control.upper) == pytest.approx((0.0931188, 0.1071738), abs=1e-6)
    assert r.lift_abs.mean == pytest.approx(346 / 3002 - 701 / 7002, abs=1e-15)
    # Pinned HDI of the seeded draws, and close to the normal approximation mean +- 1.96 sd
    # (the small right skew of the Test Beta moves both ends up by about 0.02 sd).
    assert (r.lift_abs.lower, r.lift_abs.upper) == pytest.approx((0.0018830, 0.0287548), abs=1e-7)
    sd = np.sqrt(r.control_posterior.var + r.test_posterior.var)
    assert r.lift_abs.lower == pytest.approx(r.lift_abs.mean - 1.959964 * sd, abs=0.05 * sd)
    assert r.lift_abs.upper == pytest.approx(r.lift_abs.mean + 1.959964 * sd, abs=0.05 * sd)
    assert r.lift_rel.lower < r.lift_rel.mean < r.lift_rel.upper


def test_exact_relative_lift_mean_matches_draws() -> None:
    r = compare_two(BinomialCounts(40, 400), BinomialCounts(55, 410), seed=3)
    rng = np.random.default_rng(11)
    c = rng.beta(*(r.control_posterior.alpha, r.control_posterior.beta), 2_000_000)
    t = rng.beta(*(r.test_posterior.alpha, r.test_posterior.beta), 2_000_000)
    assert r.lift_rel.mean == pytest.approx(np.mean(t / c - 1), abs=1e-3)


def test_to_dict_has_schema_keys_and_intervals() -> None:
    r = compare_two(BinomialCounts(70, 700), BinomialCounts(40, 300), n_draws=20_000)
    d = r.to_dict(frequentist={"test": "two-proportion z"})
    for key in ("control", "test", "lift_abs", "lift_rel"):
        assert set(d[key]) == {"mean", "lower", "upper", "prob"}
        assert d[key]["prob"] == HDI_PROB
        assert d[key]["lower"] <= d[key]["mean"] <= d[key]["upper"]
    assert 0 <= d["prob_test_better"] <= 1
    assert d["frequentist"] == {"test": "two-proportion z"}
    assert set(d["expected_loss"]) == {"double_down", "pivot"}
    assert Interval(0.1, 0.0, 0.2).to_dict() == {
        "mean": 0.1,
        "lower": 0.0,
        "upper": 0.2,
        "prob": HDI_PROB,
    }


def test_seeded_draws_are_reproducible() -> None:
    c, t = BinomialCounts(70, 700), BinomialCounts(40, 300)
    a = compare_two(c, t, n_draws=10_000, seed=5)
    b = compare_two(c, t, n_draws=10_000, seed=5)
    assert a.lift_abs == b.lift_abs and a.lift_rel == b.lift_rel


def test_compare_arms_each_against_control() -> None:
    counts = {
        "Control": BinomialCounts(100, 1000),
        "A": BinomialCounts(120, 1000),
        "B": BinomialCounts(90, 1000),
    }
    res = compare_arms(counts, control="Control", n_draws=10_000, seed=1)
    assert list(res) == ["A", "B"]
    assert res["A"].prob_test_better == pytest.approx(
        prob_beta_greater(posterior(counts["A"]), posterior(counts["Control"])), abs=1e-15
    )
    assert res["B"].prob_test_better < 0.5 < res["A"].prob_test_better
    # Adding an arm at the end does not change the earlier arms' draws.
    more = compare_arms({**counts, "C": BinomialCounts(1, 10)}, control="Control", n_draws=10_000, seed=1)
    assert more["A"].lift_abs == res["A"].lift_abs
    assert more["A"].lift_rel == res["A"].lift_rel
    with pytest.raises(ValueError, match="control arm"):
        compare_arms(counts, control="Nope")
    with pytest.raises(ValueError, match="at least one arm"):
        compare_arms({"Control": counts["Control"]}, control="Control")


def test_prob_best_two_arms_exact_and_three_arms_sum_to_one() -> None:
    two = prob_best({"c": BinomialCounts(10, 100), "t": BinomialCounts(15, 100)})
    assert two["t"] == pytest.approx(
        prob_beta_greater(posterior(BinomialCounts(15, 100)), posterior(BinomialCounts(10, 100)))
    )
    three = prob_best(
        {"c": BinomialCounts(10, 100), "a": BinomialCounts(15, 100), "b": BinomialCounts(5, 100)},
        n_draws=50_000,
    )
    assert sum(three.values()) == pytest.approx(1.0)
    assert three["a"] > three["c"] > three["b"]
