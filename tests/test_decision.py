"""Decision module: closed form and draws agree, pinned numbers, every branch of the rule."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.stats.decision import (
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


def test_draws_without_counts_fall_back_to_sqrt_scaling(
    draws_flat: tuple[np.ndarray, np.ndarray],
) -> None:
    # Ratio metrics have draws only: the 1/sqrt(n) rule stays their (labelled) fallback.
    c, t = draws_flat
    d = decide_from_draws(c, t, metric="conversion", n_customers=10_000)
    assert d.extra_samples_method == "expected loss scaled as 1/sqrt(n)"
    assert decide_from_draws(c, t, metric="conversion").extra_samples_needed is None
    assert extra_samples_by_scaling(0.002, 0.001, 1000) == 3000
    assert extra_samples_by_scaling(0.0005, 0.001, 1000) == 0


# Issue 14 item 5: Control 700/7000, Test 306/3000.
CONTROL_5, TEST_5 = BinomialCounts(700, 7000), BinomialCounts(306, 3000)


def _brute_force_min_loss(m: int, *, n_futures: int = 2000, seed: int = 11) -> float:
    """Average over futures of the smaller exact expected loss after m more customers
    (split 70/30 as so far): "true" rates from the current Beta posteriors, EXACT Binomial
    counts (inverse CDF of common uniforms, so the average is smooth in m), exact losses of
    the updated Beta posteriors: E[max(0, c - t)] = integral of F_t(x) (1 - F_c(x)) dx."""
    from scipy import stats

    pc, pt = posterior(CONTROL_5), posterior(TEST_5)
    rng = np.random.default_rng(seed)
    p_c, p_t = rng.beta(pc.alpha, pc.beta, n_futures), rng.beta(pt.alpha, pt.beta, n_futures)
    u_c, u_t = rng.random(n_futures), rng.random(n_futures)
    m_t = round(m * 0.3)
    m_c = m - m_t
    y_c, y_t = stats.binom.ppf(u_c, m_c, p_c), stats.binom.ppf(u_t, m_t, p_t)
    x = np.linspace(0.05, 0.17, 481)[None, :]
    f_c = stats.beta.cdf(x, (pc.alpha + y_c)[:, None], (pc.beta + m_c - y_c)[:, None])
    f_t = stats.beta.cdf(x, (pt.alpha + y_t)[:, None], (pt.beta + m_t - y_t)[:, None])
    ship = np.trapezoid(f_t * (1 - f_c), x, axis=1)
    keep = np.trapezoid(f_c * (1 - f_t), x, axis=1)
    # The quadrature is the closed form (checked on the first future).
    post_c = posterior(BinomialCounts(700 + int(y_c[0]), 7000 + m_c))
    post_t = posterior(BinomialCounts(306 + int(y_t[0]), 3000 + m_t))
    assert ship[0] == pytest.approx(expected_loss_of_choosing(post_t, post_c), rel=1e-6)
    assert keep[0] == pytest.approx(expected_loss_of_choosing(post_c, post_t), rel=1e-6)
    return float(np.mean(np.minimum(ship, keep)))


def test_preposterior_sample_size_agrees_with_brute_force() -> None:
    # Closed-form search (Normal futures) against a brute force with exact Binomial futures.
    m = extra_samples_preposterior(CONTROL_5, TEST_5, threshold=0.001, seed=0)
    assert m == 5_265  # the number (seed 0)
    lo, hi = int(0.8 * m), int(1.2 * m)
    loss_lo, loss_hi = _brute_force_min_loss(lo), _brute_force_min_loss(hi)
    assert loss_lo > 0.001 > loss_hi
    # Where the brute force crosses the threshold (log-linear between the two points).
    w = (np.log(loss_lo) - np.log(0.001)) / (np.log(loss_lo) - np.log(loss_hi))
    m_brute = float(np.exp(np.log(lo) + w * (np.log(hi) - np.log(lo))))
    assert m_brute == pytest.approx(m, rel=0.08)
    # The 1/sqrt(n) rule that analyze used on these counts is 3.5 times too large.
    now = decide_from_counts(CONTROL_5, TEST_5, metric="conversion")
    assert extra_samples_by_scaling(now.expected_loss.smaller, 0.001, 10_000) > 3 * m_brute


def _frame_and_idata(control: BinomialCounts, test: BinomialCounts, *, seed: int = 0):
    """A per-customer frame (cohort, converted, any_cs) and a conversion posterior of the
    arm-comparison shape, as `pipeline._decision` receives them."""
    import arviz as az
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for arm, counts, cs_rate in (("Control", control, 0.11), ("Test", test, 0.26)):
        converted = np.zeros(counts.trials, dtype=bool)
        converted[: counts.successes] = True
        rows.append(pd.DataFrame({"cohort": arm, "converted": converted,
                                  "any_cs": rng.random(counts.trials) < cs_rate}))
    frame = pd.concat(rows, ignore_index=True)
    rate = np.stack([_draws(control, 4000, seed + 1), _draws(test, 4000, seed + 2)], axis=-1)
    idata = az.from_dict(posterior={"rate": rate.reshape(4, 1000, 2)},
                         coords={"arm": ["Control", "Test"]}, dims={"rate": ["arm"]})
    return frame, idata


def _data_of(frame):
    """The analysis frame alone as the pipeline's data source (no help or task rows)."""
    import pandas as pd

    from bayes_ab.data.schema import ExperimentData

    return ExperimentData(frame=frame, help_episodes=pd.DataFrame(),
                          task_attempts=pd.DataFrame(), observation_end=None)


def test_analyze_sizes_keep_testing_like_compare() -> None:
    # `analyze` (draws + counts) and `compare` (decide_from_counts) on the same counts.
    from bayes_ab.workflows.analyze import AnalyzeOptions, _decision

    frame, idata = _frame_and_idata(CONTROL_5, TEST_5)
    data = _data_of(frame)
    options = AnalyzeOptions()
    block = _decision(idata, data=data, options=options)
    exact = decide_from_counts(CONTROL_5, TEST_5, metric="conversion", seed=options.sampler.seed)
    assert block["recommendation"] == exact.recommendation == "keep_testing"
    assert block["extra_samples_method"] == exact.extra_samples_method
    assert block["extra_samples_method"].startswith("pre-posterior")
    assert block["extra_samples_needed"] == exact.extra_samples_needed
    assert 4_500 <= block["extra_samples_needed"] <= 6_000  # not the scaling rule's ~18,000
    assert block["source"] == "draws"  # the losses stay those of the fitted model


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


# Issue 14 item 4: the expected loss is unconditional; the loss if wrong is beside it.
EXAMPLE_CONTROL, EXAMPLE_TEST = BinomialCounts(1631, 13908), BinomialCounts(779, 6092)


def test_loss_if_wrong_against_long_monte_carlo() -> None:
    d = decide_from_counts(EXAMPLE_CONTROL, EXAMPLE_TEST, metric="conversion")
    # The shipped example: E[max(0, c - t)] = 3.05e-5, while E[c - t | c > t] = 0.18 pp.
    assert d.expected_loss.double_down == pytest.approx(3.0509e-5, rel=1e-3)
    assert d.prob_wrong.double_down == pytest.approx(1 - d.prob_test_better, abs=1e-12)
    assert d.prob_wrong.pivot == pytest.approx(d.prob_test_better, abs=1e-12)
    assert d.expected_loss_if_wrong.double_down == pytest.approx(
        d.expected_loss.double_down / d.prob_wrong.double_down, rel=1e-12)
    # Long Monte Carlo of the conditional loss itself, from the exact Beta posteriors.
    c, t = _draws(EXAMPLE_CONTROL, 4_000_000, 5), _draws(EXAMPLE_TEST, 4_000_000, 6)
    worse = c > t
    assert np.mean(worse) == pytest.approx(d.prob_wrong.double_down, abs=3e-4)
    assert d.expected_loss_if_wrong.double_down == pytest.approx(np.mean((c - t)[worse]), rel=0.02)
    assert d.expected_loss_if_wrong.double_down == pytest.approx(0.001787, rel=1e-3)
    assert d.expected_loss_if_wrong.pivot == pytest.approx(np.mean((t - c)[~worse]), rel=0.005)
    # Draws give the same (conditional mean of the draws).
    mc = decide_from_draws(c, t, metric="conversion")
    assert mc.expected_loss_if_wrong.double_down == pytest.approx(np.mean((c - t)[worse]), rel=1e-9)
    # New keys beside the schema's, none renamed.
    out = d.to_dict()
    assert SCHEMA_KEYS <= set(out)
    assert out["expected_loss_if_wrong"]["double_down"] == pytest.approx(0.001787, rel=1e-3)
    assert set(out["prob_wrong"]) == {"double_down", "pivot"}


def test_loss_if_wrong_is_none_when_the_action_cannot_be_wrong() -> None:
    d = decide_from_draws(np.full(10, 0.1), np.full(10, 0.2), metric="conversion")
    assert d.prob_wrong.double_down == 0.0
    assert d.to_dict()["expected_loss_if_wrong"]["double_down"] is None


def test_report_and_cli_word_the_expected_loss_as_unconditional() -> None:
    from bayes_ab.cli.commands.analyze import decision_summary_lines
    from bayes_ab.report.text import GLOSSARY, expected_loss_sentences

    dec = decide_from_counts(EXAMPLE_CONTROL, EXAMPLE_TEST, metric="conversion").to_dict()
    text = " ".join(expected_loss_sentences(dec))
    assert "in fact worse, we expect to lose" not in text
    assert ("doubling down has an expected loss of 0.0031 pp of conversion rate (0.026% of "
            "Control's rate), averaged over the whole posterior and counting zero where Test "
            "is in fact at least as good. Test is worse with probability 1.7%, and if it is, "
            "by 0.18 pp on average.") in text
    assert "Pivoting has an expected loss of 1.07 pp of conversion rate" in text
    assert "It is not the loss if the action is wrong." in text
    glossary = dict(GLOSSARY)["Expected loss"]
    assert "counting zero where the action is the right one" in glossary
    lines = "\n".join(decision_summary_lines(dec))
    assert "averaged over the posterior, 0 where the action is right" in lines
    assert "loss if the action is wrong: double_down 0.00179 (P(wrong) 0.017)" in lines


# Issue 14 item 9: the CS cost of what Test changes.
# Tables [[neither, cs_only], [converted_only, both]] of the shipped example.
CS_CONTROL = np.array([[11026, 1251], [1328, 303]])
CS_TEST = np.array([[4040, 1273], [474, 305]])


def _dirichlet_moments(table: np.ndarray) -> tuple[float, float, float, float, float]:
    """Exact posterior E[conv], E[cs], Var(conv), Var(cs), Cov(conv, cs) of one arm under
    Dirichlet(table + 1/2): Var(A) = A(a0 - A)/(a0^2 (a0 + 1)),
    Cov(conv, cs) = (a11 a0 - A_conv A_cs)/(a0^2 (a0 + 1))."""
    a = np.asarray(table, dtype=float) + 0.5
    a0 = a.sum()
    a_conv, a_cs = a[1].sum(), a[:, 1].sum()
    k = a0**2 * (a0 + 1)
    return (a_conv / a0, a_cs / a0, a_conv * (a0 - a_conv) / k, a_cs * (a0 - a_cs) / k,
            (a[1, 1] * a0 - a_conv * a_cs) / k)


def _net_moments(rev: float, cost: float, control, test) -> tuple[float, float]:
    mc, mt = _dirichlet_moments(control), _dirichlet_moments(test)
    mean = rev * (mt[0] - mc[0]) - cost * (mt[1] - mc[1])
    var = sum(rev**2 * m[2] + cost**2 * m[3] - 2 * rev * cost * m[4] for m in (mc, mt))
    return mean, float(np.sqrt(var))


def test_cs_cost_net_value_against_closed_form() -> None:
    from scipy import stats

    from bayes_ab.stats.decision import cs_cost_tradeoff

    out = cs_cost_tradeoff(CS_CONTROL, CS_TEST, revenue_per_conversion=100.0,
                           cost_per_cs_contact=5.0, seed=3)
    # Margins are exactly the arm comparisons' Beta(1, 1) posteriors.
    pc = posterior(BinomialCounts(1631, 13908))
    pt = posterior(BinomialCounts(779, 6092))
    assert out["conversion_lift"]["mean"] == pytest.approx(pt.mean - pc.mean, abs=3e-5)
    assert _dirichlet_moments(CS_CONTROL)[2] == pytest.approx(pc.var, rel=1e-12)
    mean, sd = _net_moments(100.0, 5.0, CS_CONTROL, CS_TEST)
    net = out["net_value_per_customer"]
    assert net["mean"] == pytest.approx(mean, abs=4 * sd / np.sqrt(out["n_draws"]))
    # The net value is a sum of near-Normal terms: its 95% HDI is mean +/- 1.96 sd.
    assert net["lower"] == pytest.approx(mean - 1.96 * sd, abs=0.02 * sd)
    assert net["upper"] == pytest.approx(mean + 1.96 * sd, abs=0.02 * sd)
    assert out["prob_net_value_positive"] == pytest.approx(stats.norm.cdf(mean / sd), abs=0.005)
    loss_dd = sd * stats.norm.pdf(mean / sd) - mean * stats.norm.cdf(-mean / sd)
    assert out["expected_loss_net"]["double_down"] == pytest.approx(loss_dd, rel=0.02)
    assert out["expected_loss_net"]["pivot"] == pytest.approx(loss_dd + mean, rel=0.02)
    # The shipped example: +0.33 USD per customer, 74% probability of paying.
    assert net["mean"] == pytest.approx(0.3287, abs=0.005)
    assert out["prob_net_value_positive"] == pytest.approx(0.742, abs=0.005)


def test_cs_cost_break_even_against_closed_form() -> None:
    from scipy import stats

    from bayes_ab.stats.decision import cs_cost_tradeoff

    out = cs_cost_tradeoff(CS_CONTROL, CS_TEST, revenue_per_conversion=100.0, seed=4)
    mc, mt = _dirichlet_moments(CS_CONTROL), _dirichlet_moments(CS_TEST)
    d_conv, d_cs = mt[0] - mc[0], mt[1] - mc[1]
    assert out["conversions_per_cs_customer_of_means"] == pytest.approx(d_conv / d_cs, rel=3e-3)
    assert out["conversions_per_cs_customer_of_means"] == pytest.approx(0.0723, abs=5e-4)
    assert out["prob_cs_engagement_up"] == 1.0
    # At the break-even cost the expected net value is zero (closed form).
    be = out["break_even_cost_per_cs_contact_of_means"]
    mean, sd = _net_moments(100.0, be, CS_CONTROL, CS_TEST)
    assert abs(mean) < 0.01 * sd
    # Ratio interval: P(ratio < r) = P(d_conv - r d_cs < 0) (d_cs > 0 surely), Normal.
    ratio = out["conversions_per_cs_customer"]

    def cdf(r: float) -> float:
        m, s = _net_moments(1.0, r, CS_CONTROL, CS_TEST)
        return float(stats.norm.cdf(-m / s))

    assert cdf(ratio["upper"]) - cdf(ratio["lower"]) == pytest.approx(0.95, abs=0.005)
    assert out["break_even_cost_per_cs_contact"]["lower"] == pytest.approx(
        100 * ratio["lower"], rel=1e-9)
    assert out["net_value_per_customer"] is None  # no cost given: no net value


def test_cs_cost_keeps_the_within_customer_correlation() -> None:
    from bayes_ab.stats.decision import cs_cost_tradeoff

    # Converters are mostly the CS-engaged: the two lifts move together.
    control = np.array([[8000, 500], [500, 1000]])
    test = np.array([[7000, 500], [500, 2000]])
    out = cs_cost_tradeoff(control, test, revenue_per_conversion=1.0, cost_per_cs_contact=1.0,
                           seed=5)
    mean, sd = _net_moments(1.0, 1.0, control, test)
    net = out["net_value_per_customer"]
    assert (net["upper"] - net["lower"]) / 3.92 == pytest.approx(sd, rel=0.02)
    indep = np.sqrt(sum(m[2] + m[3] for m in (_dirichlet_moments(control),
                                               _dirichlet_moments(test))))
    assert sd < 0.6 * indep  # independence would overstate the spread
    assert out["correlation_of_lifts"] > 0.5


def test_cs_cost_sentences_and_bad_input() -> None:
    from bayes_ab.stats.decision import cs_cost_tradeoff
    from bayes_ab.report.text import cs_cost_sentences

    cs = cs_cost_tradeoff(CS_CONTROL, CS_TEST, seed=0)
    text = " ".join(cs_cost_sentences(cs))
    assert "judged on conversion alone" in text
    assert "Test gains 0.072 conversions per additional CS-engaged customer" in text
    assert "doubling down stops paying once one more CS-engaged customer costs more than 0.072 " \
           "times the revenue of a conversion" in text
    money = cs_cost_tradeoff(CS_CONTROL, CS_TEST, revenue_per_conversion=100.0,
                             cost_per_cs_contact=5.0, seed=0)
    text = " ".join(cs_cost_sentences(money))
    assert ": 7.23 USD at 100.00 USD per conversion" in text
    assert "the net value per customer of doubling down is 0.33 USD (95% HDI" in text
    assert "positive with probability 74%" in text
    flat = cs_cost_tradeoff(np.array([[900, 100], [90, 10]]), np.array([[900, 100], [90, 10]]))
    assert "is not defined" in " ".join(cs_cost_sentences(flat))
    with pytest.raises(ValueError, match="non-negative"):
        cs_cost_tradeoff(CS_CONTROL, CS_TEST, cost_per_cs_contact=-1.0)
    with pytest.raises(ValueError, match="2 x 2"):
        cs_cost_tradeoff(np.ones(3), CS_TEST)


def test_analyze_decision_block_has_cs_cost_from_the_frame() -> None:
    import pandas as pd

    from bayes_ab.stats.decision import cs_cost_tradeoff
    from bayes_ab.workflows.analyze import AnalyzeOptions, _decision

    frame, idata = _frame_and_idata(BinomialCounts(700, 7000), BinomialCounts(345, 3000))
    options = AnalyzeOptions(revenue_per_conversion=80.0, cost_per_cs_contact=3.0)
    block = _decision(idata, data=_data_of(frame), options=options)
    tables = {arm: pd.crosstab(g["converted"], g["any_cs"]).reindex(
        index=[False, True], columns=[False, True], fill_value=0).to_numpy()
        for arm, g in frame.groupby("cohort")}
    expected = cs_cost_tradeoff(tables["Control"], tables["Test"], revenue_per_conversion=80.0,
                                cost_per_cs_contact=3.0, seed=options.sampler.seed)
    assert block["cs_cost"] == expected
    assert block["cs_cost"]["cost_per_cs_contact"] == 3.0


def test_cli_refuses_a_negative_cs_cost(tmp_path, capsys) -> None:
    from bayes_ab.cli.main import main

    (tmp_path / "data").mkdir()
    rc = main(["analyze", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--quiet",
               "--cost-per-cs-contact", "-2"])
    assert rc == 2
    assert "--cost-per-cs-contact" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_joint_tables_agree_across_engines() -> None:
    from conftest import TINY

    from bayes_ab.aggregate import aggregate_experiment
    from bayes_ab.data.load import load_experiment
    from bayes_ab.workflows.analyze import _joint_tables

    frame = load_experiment(TINY)
    pandas_tables, duck_tables = _joint_tables(frame), _joint_tables(aggregate_experiment(TINY))
    for arm in ("Control", "Test"):
        np.testing.assert_array_equal(pandas_tables[arm], duck_tables[arm])
        assert pandas_tables[arm].sum() == frame.n_in(arm)
        assert pandas_tables[arm][1].sum() == frame.frame.loc[
            frame.frame["cohort"] == arm, "converted"].sum()


def test_report_table_shows_the_loss_if_wrong(tmp_path) -> None:
    from bayes_ab.report.sections import recommendation_section

    dec = decide_from_counts(EXAMPLE_CONTROL, EXAMPLE_TEST, metric="conversion").to_dict()
    section = recommendation_section({"decision": dec})
    table = next(b for b in section["blocks"] if b.get("kind") == "table")
    assert table["columns"][-2:] == ["P(action is wrong)", "Loss if wrong"]
    assert table["rows"][0][-2:] == ["1.7%", "0.18 pp"]
    assert table["rows"][1][-2:] == ["98.3%", "1.09 pp"]


def test_cli_passes_the_cs_cost_to_the_analysis(tmp_path, monkeypatch) -> None:
    import bayes_ab.workflows.analyze as pipeline
    from bayes_ab.cli.main import main

    seen = {}

    class Stop(Exception):
        pass

    def fake_analyze(data_dir, *, out_dir, options, **_):
        seen["options"] = options
        raise Stop

    monkeypatch.setattr(pipeline, "analyze", fake_analyze)
    with pytest.raises(Stop):
        (tmp_path / "data").mkdir()
        main(["analyze", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--quiet",
              "--revenue-per-conversion", "100", "--cost-per-cs-contact", "5"])
    assert seen["options"].cost_per_cs_contact == 5.0
    assert seen["options"].revenue_per_conversion == 100.0
