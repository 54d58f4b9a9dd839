"""Decision module: closed form and draws agree, pinned numbers, every branch of the rule."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.decision import (
    DEFAULT_THRESHOLD_OF_CARING,
    BusinessValue,
    DecisionConfig,
    ExpectedLoss,
    decide_from_counts,
    decide_from_draws,
    expected_loss_from_counts,
    expected_loss_from_draws,
    extra_samples_by_scaling,
    extra_samples_preposterior,
    net_value_per_customer,
)
from bayes_ab.models.beta_binomial import (
    BinomialCounts,
    expected_loss_of_choosing,
    posterior,
)

CONTROL = BinomialCounts(700, 7000)  # 10.0%
TEST_UP = BinomialCounts(345, 3000)  # 11.5%: a clear effect
TEST_FLAT = BinomialCounts(310, 3000)  # 10.3%: inconclusive
SCHEMA_KEYS = {"recommendation", "metric", "expected_loss", "threshold_of_caring", "prob_test_better"}


def _draws(counts: BinomialCounts, n: int, seed: int) -> np.ndarray:
    post = posterior(counts)
    return np.random.default_rng(seed).beta(post.alpha, post.beta, n)


@pytest.fixture(scope="module")
def draws_flat() -> tuple[np.ndarray, np.ndarray]:
    return _draws(CONTROL, 1_000_000, 1), _draws(TEST_FLAT, 1_000_000, 2)


def test_default_threshold_is_a_tenth_of_a_percentage_point() -> None:
    assert DEFAULT_THRESHOLD_OF_CARING == 0.001
    assert DecisionConfig().threshold_of_caring == 0.001


def test_pinned_effect_decision() -> None:
    d = decide_from_counts(CONTROL, TEST_UP, metric="conversion")
    assert d.recommendation == "double_down" and d.outcome == "decided"
    assert d.expected_loss.double_down == pytest.approx(2.85004e-05, rel=1e-4)
    assert d.expected_loss.pivot == pytest.approx(0.01517074, rel=1e-6)
    assert d.prob_test_better == pytest.approx(0.98754633146, abs=1e-9)
    assert d.expected_loss_relative.pivot == pytest.approx(0.01517074 / (701 / 7002), rel=1e-6)
    assert d.extra_samples_needed is None
    out = d.to_dict()
    assert SCHEMA_KEYS <= set(out)
    assert out["expected_loss"] == {
        "double_down": pytest.approx(2.85004e-05, rel=1e-4),
        "pivot": pytest.approx(0.01517074, rel=1e-6),
    }
    assert out["threshold_of_caring"] == 0.001
    assert "Double down" in out["reason"]


def test_closed_form_and_draws_agree(draws_flat: tuple[np.ndarray, np.ndarray]) -> None:
    c, t = draws_flat
    cfg = DecisionConfig(rope=0.01, non_inferiority_margin=0.005)
    exact = decide_from_counts(CONTROL, TEST_FLAT, metric="conversion", config=cfg)
    mc = decide_from_draws(c, t, metric="conversion", config=cfg)
    assert exact.source == "closed form" and mc.source == "draws"
    assert mc.expected_loss.double_down == pytest.approx(exact.expected_loss.double_down, rel=0.01)
    assert mc.expected_loss.pivot == pytest.approx(exact.expected_loss.pivot, rel=0.01)
    assert mc.expected_loss_relative.pivot == pytest.approx(
        exact.expected_loss_relative.pivot, rel=0.01
    )
    assert mc.prob_test_better == pytest.approx(exact.prob_test_better, abs=2e-3)
    assert mc.rope.prob_inside == pytest.approx(exact.rope.prob_inside, abs=2e-3)
    assert mc.non_inferiority.prob_non_inferior == pytest.approx(
        exact.non_inferiority.prob_non_inferior, abs=2e-3
    )
    # Pinned exact values of this inconclusive case.
    assert exact.expected_loss.double_down == pytest.approx(0.00124614, rel=1e-5)
    assert exact.expected_loss.pivot == pytest.approx(0.00472949, rel=1e-5)
    assert exact.rope.prob_inside == pytest.approx(0.818187, abs=1e-5)


def test_lower_is_better_swaps_the_losses(draws_flat: tuple[np.ndarray, np.ndarray]) -> None:
    hi = expected_loss_from_counts(CONTROL, TEST_FLAT)
    lo = expected_loss_from_counts(CONTROL, TEST_FLAT, higher_is_better=False)
    assert (lo.double_down, lo.pivot) == (hi.pivot, hi.double_down)
    c, t = draws_flat
    mc = expected_loss_from_draws(c, t, higher_is_better=False)
    assert mc.double_down == pytest.approx(lo.double_down, rel=0.01)
    d = decide_from_counts(
        CONTROL, TEST_FLAT, metric="time", config=DecisionConfig(higher_is_better=False)
    )
    up = decide_from_counts(CONTROL, TEST_FLAT, metric="time")
    assert d.prob_test_better == pytest.approx(1 - up.prob_test_better, abs=1e-9)


def test_both_under_threshold_picks_the_smaller() -> None:
    d = decide_from_counts(
        CONTROL, TEST_FLAT, metric="conversion", config=DecisionConfig(threshold_of_caring=0.01)
    )
    assert d.recommendation == "double_down"  # 0.00125 < 0.00473, both < 0.01


def test_only_pivot_under_threshold_pivots() -> None:
    worse = BinomialCounts(240, 3000)  # 8.0% vs 10.0%
    d = decide_from_counts(CONTROL, worse, metric="conversion")
    assert d.recommendation == "pivot" and d.outcome == "decided"
    assert d.expected_loss.pivot < 0.001 < d.expected_loss.double_down
    assert "Pivot" in d.reason


def test_keep_testing_with_preposterior_sample_size() -> None:
    d = decide_from_counts(CONTROL, TEST_FLAT, metric="conversion")
    assert d.recommendation == "keep_testing" and d.outcome == "inconclusive"
    assert d.extra_samples_method.startswith("pre-posterior")
    assert 2_500 <= d.extra_samples_needed <= 5_000
    assert d.to_dict()["extra_samples_needed"] == d.extra_samples_needed
    assert "more customers" in d.reason


def test_preposterior_sample_size_checked_by_exact_simulation() -> None:
    # Brute force: real Binomial futures and exact closed-form losses at the returned m.
    m = extra_samples_preposterior(CONTROL, TEST_FLAT, threshold=0.001, seed=0)
    rng = np.random.default_rng(123)
    pc, pt = posterior(CONTROL), posterior(TEST_FLAT)
    share_t = 3000 / 10_000
    m_t = round(m * share_t)
    m_c = m - m_t
    losses = []
    for _ in range(300):
        yc = rng.binomial(m_c, rng.beta(pc.alpha, pc.beta))
        yt = rng.binomial(m_t, rng.beta(pt.alpha, pt.beta))
        post_c = posterior(BinomialCounts(700 + yc, 7000 + m_c))
        post_t = posterior(BinomialCounts(310 + yt, 3000 + m_t))
        losses.append(
            min(expected_loss_of_choosing(post_t, post_c), expected_loss_of_choosing(post_c, post_t))
        )
    assert np.mean(losses) == pytest.approx(0.001, rel=0.1)


def test_draws_sample_size_uses_sqrt_scaling(draws_flat: tuple[np.ndarray, np.ndarray]) -> None:
    c, t = draws_flat
    d = decide_from_draws(c, t, metric="conversion", n_customers=10_000)
    expected = extra_samples_by_scaling(d.expected_loss.smaller, 0.001, 10_000)
    assert d.extra_samples_needed == expected
    assert d.extra_samples_method == "expected loss scaled as 1/sqrt(n)"
    assert decide_from_draws(c, t, metric="conversion").extra_samples_needed is None
    assert extra_samples_by_scaling(0.002, 0.001, 1000) == 3000
    assert extra_samples_by_scaling(0.0005, 0.001, 1000) == 0


def test_null_is_not_claimed_and_rope_resolves_it() -> None:
    same = BinomialCounts(300, 3000)  # exactly Control's 10%
    d = decide_from_counts(CONTROL, same, metric="conversion")
    assert d.recommendation == "keep_testing"
    eq = decide_from_counts(CONTROL, same, metric="conversion", config=DecisionConfig(rope=0.02))
    assert eq.outcome == "no_meaningful_difference"
    assert eq.rope.practically_equivalent and eq.rope.prob_inside > 0.99
    assert eq.recommendation in ("double_down", "pivot")
    assert "No meaningful difference" in eq.reason
    assert eq.to_dict()["rope"]["practically_equivalent"] is True


def test_non_inferiority_ships_unless_worse_by_margin() -> None:
    cfg = DecisionConfig(non_inferiority_margin=0.02)
    d = decide_from_counts(CONTROL, TEST_FLAT, metric="conversion", config=cfg)
    assert d.recommendation == "double_down" and d.outcome == "non_inferior"
    assert d.non_inferiority.prob_non_inferior > 0.999
    tight = decide_from_counts(
        CONTROL, TEST_FLAT, metric="conversion", config=DecisionConfig(non_inferiority_margin=0.0)
    )
    # A zero margin is P(test > control), which is 70% here: not enough.
    assert tight.non_inferiority.prob_non_inferior == pytest.approx(tight.prob_test_better, abs=1e-8)
    assert tight.recommendation == "keep_testing"


def test_money_is_loss_times_value_times_customers() -> None:
    bv = BusinessValue(value_per_unit=300.0, customers=50_000, label="revenue per conversion")
    d = decide_from_counts(CONTROL, TEST_UP, metric="conversion", config=DecisionConfig(business_value=bv))
    assert d.money.pivot == pytest.approx(d.expected_loss.pivot * 300 * 50_000, rel=1e-12)
    m = d.to_dict()["money"]
    assert m["currency"] == "USD" and m["customers"] == 50_000
    assert m["pivot"] == pytest.approx(0.01517074 * 300 * 50_000, rel=1e-6)
    assert "In money" in d.reason
    assert decide_from_counts(CONTROL, TEST_UP, metric="conversion").to_dict()["money"] is None


def test_net_value_per_customer_combines_metrics() -> None:
    conv = (np.array([0.10, 0.11]), np.array([0.12, 0.12]))
    cs = (np.array([0.2, 0.2]), np.array([0.5, 0.4]))
    c, t = net_value_per_customer(
        {"conversion": conv, "cs_engagement": cs}, {"conversion": 300.0, "cs_engagement": -12.0}
    )
    np.testing.assert_allclose(c, [30 - 2.4, 33 - 2.4])
    np.testing.assert_allclose(t, [36 - 6.0, 36 - 4.8])
    with pytest.raises(ValueError, match="no draws"):
        net_value_per_customer({"conversion": conv}, {"revenue": 1.0})


def test_expected_loss_helpers() -> None:
    el = ExpectedLoss(0.002, 0.0005)
    assert el.best_action == "pivot" and el.smaller == 0.0005
    assert el.scaled(2).to_dict() == {"double_down": 0.004, "pivot": 0.001}
    # Draws: a known discrete case. t - c in {+0.1, -0.3}: pivot loses 0.05, ship 0.15.
    got = expected_loss_from_draws(np.array([0.0, 0.3]), np.array([0.1, 0.0]))
    assert (got.double_down, got.pivot) == pytest.approx((0.15, 0.05))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold_of_caring": 0.0},
        {"rope": -0.01},
        {"non_inferiority_margin": -0.1},
        {"rope_prob": 1.0},
    ],
)
def test_bad_config_is_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DecisionConfig(**kwargs)


def test_bad_draws_are_rejected() -> None:
    with pytest.raises(ValueError, match="same number"):
        decide_from_draws(np.zeros(10), np.zeros(11), metric="x")
    with pytest.raises(ValueError, match="NaN"):
        decide_from_draws(np.array([0.1, np.nan]), np.array([0.1, 0.2]), metric="x")
