"""Arm comparison: the sampled posterior equals the conjugate Beta-Binomial closed form.

One session fit (three arms: control 120/1000, an effect arm 150/1000, a null arm
118/1000) serves every assertion. The closed-form numbers are pinned (they are what
scipy's Beta gives for Beta(1 + s, 1 + n - s)), and the sampled ones must agree with
them within Monte-Carlo error of ~2000 draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_ab.data.schema import ExperimentData
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.intervals import hdi_bounds
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
from bayes_ab.models.priors import Prior

COUNTS = ArmComparisonStats(arms=("Control", "Test", "Same"), successes=(120, 150, 118),
                   trials=(1000, 1000, 1000), metric="converted")
# Beta(121, 881), Beta(151, 851), Beta(119, 883): mean and 95% HDI (pinned closed form).
CLOSED = {
    "Control": (0.12075848303393213, 0.10084377205560574, 0.14109873381816251),
    "Test": (0.1506986027944112, 0.12878492381193724, 0.1730038658612354),
    "Same": (0.1187624750499002, 0.09899414026956964, 0.13895862310387377),
}
PROB_TEST_BETTER = 0.9750678368120985  # exact (Evan Miller's sum)
LIFT_ABS_TEST = (0.029940119760479056, 0.0007237888463325626, 0.06030082676190868)


@pytest.fixture(scope="session")
def fitted():
    model = ArmComparison(COUNTS)
    # MCMC (exact=False): the sampled model is the cross-check of the closed form.
    idata = model.fit(SamplerConfig(draws=1000, tune=500, chains=2, seed=11, exact=False))
    return model, idata, model.summarize(idata)


def test_closed_form_pins_are_scipy_beta():
    for arm, s, n in zip(COUNTS.arms, COUNTS.successes, COUNTS.trials, strict=True):
        assert stats.beta(1 + s, 1 + n - s).mean() == pytest.approx(CLOSED[arm][0], rel=1e-12)


def test_posterior_agrees_with_conjugate_closed_form(fitted):
    model, idata, _ = fitted
    rate = idata.posterior["rate"]
    for arm, (mean, lo, hi) in CLOSED.items():
        draws = rate.sel(arm=arm).values.ravel()
        # MC standard error of the mean is ~0.0103 / sqrt(2000) = 0.00023.
        assert draws.mean() == pytest.approx(mean, abs=0.001)
        hdi_lo, hdi_hi = hdi_bounds(draws)
        assert hdi_lo == pytest.approx(lo, abs=0.004)
        assert hdi_hi == pytest.approx(hi, abs=0.004)


def test_summary_block_matches_closed_form(fitted):
    _, _, block = fitted
    assert set(block) >= {"control", "test", "lift_abs", "lift_rel", "prob_test_better", "per_arm"}
    assert block["control"]["mean"] == pytest.approx(CLOSED["Control"][0], abs=0.001)
    assert block["test"]["mean"] == pytest.approx(CLOSED["Test"][0], abs=0.001)
    assert block["control"]["prob"] == 0.95
    assert block["lift_abs"]["mean"] == pytest.approx(LIFT_ABS_TEST[0], abs=0.0015)
    assert block["lift_abs"]["lower"] == pytest.approx(LIFT_ABS_TEST[1], abs=0.005)
    assert block["lift_abs"]["upper"] == pytest.approx(LIFT_ABS_TEST[2], abs=0.005)
    assert block["prob_test_better"] == pytest.approx(PROB_TEST_BETTER, abs=0.015)
    # lift_rel is the per-draw ratio, so its mean exceeds the ratio of means (Jensen).
    assert block["lift_rel"]["mean"] == pytest.approx(0.2571, abs=0.02)


def test_null_arm_interval_contains_zero(fitted):
    _, _, block = fitted
    same = block["per_arm"]["Same"]
    assert same["lift_abs"]["lower"] < 0 < same["lift_abs"]["upper"]
    assert same["lift_rel"]["lower"] < 0 < same["lift_rel"]["upper"]
    assert 0.3 < same["prob_better_than_control"] < 0.6  # exact: 0.445


def test_sampling_is_clean(fitted):
    model, idata, _ = fitted
    diag = model.diagnostics(idata)
    assert diag.divergences == 0 and diag.max_r_hat <= 1.01 and diag.min_ess_bulk >= 400


def test_save_load_round_trip_rebuilds_same_model(fitted, tmp_path):
    model, idata, block = fitted
    path = model.save(idata, tmp_path / "idata" / "conversion.nc")
    idata2, model2 = ArmComparison.load(path)
    assert model2.stats == COUNTS
    assert model2.priors == model.priors
    assert model2.name == "conversion"
    assert model2.summarize(idata2) == block


def test_prior_override_changes_the_model():
    strong = ArmComparison(COUNTS, priors={"rate": {"alpha": 50, "beta": 50}})
    assert strong.priors["rate"] == Prior("Beta", alpha=50, beta=50, dims="arm")
    assert strong.prior_specs()["rate"] == {"dist": "Beta", "alpha": 50, "beta": 50}
    assert ArmComparison.default_priors["rate"]["alpha"] == 1.0  # defaults untouched
    point = {"rate_logodds__": np.zeros(3)}
    logp_default = ArmComparison(COUNTS).build().compile_logp()(point)
    logp_strong = strong.build().compile_logp()(point)
    # Same likelihood and Jacobian; the priors differ by 3 x log Beta(50, 50) density at 0.5.
    assert logp_strong - logp_default == pytest.approx(3 * stats.beta(50, 50).logpdf(0.5), rel=1e-5)
    with pytest.raises(OptionError):
        ArmComparison(COUNTS, priors={"rates": {"alpha": 1}})
    with pytest.raises(OptionError):
        ArmComparison(COUNTS, priors={"rate": {"alpha": 0}})


def _experiment(frame: pd.DataFrame) -> ExperimentData:
    return ExperimentData(frame=frame, help_episodes=pd.DataFrame(), task_attempts=pd.DataFrame(),
                          observation_end=pd.Timestamp("2026-05-08", tz="UTC"))


def test_counts_from_experiment_are_itt_per_arm():
    frame = pd.DataFrame({
        "cohort": pd.Categorical(["Test", "Control", "Control", "Test", "Control"],
                                 categories=["Control", "Test"]),
        "converted": [True, False, True, True, False],
        "any_cs": [False, False, False, True, True],
    })
    conv = ArmComparisonStats.from_experiment(_experiment(frame))
    assert conv == ArmComparisonStats(("Control", "Test"), (1, 2), (3, 2), "converted")
    cs = ArmComparisonStats.from_experiment(_experiment(frame), metric="any_cs")
    assert (cs.successes, cs.trials, cs.metric) == ((1, 1), (3, 2), "any_cs")
    with pytest.raises(OptionError):
        ArmComparisonStats.from_experiment(_experiment(frame), metric="revenue")


def test_from_frame_puts_the_named_control_first_and_round_trips():
    df = pd.DataFrame({"g": ["b", "a", "c", "a"], "y": [1, 0, 1, 1]})
    counts = ArmComparisonStats.from_frame(df, group_col="g", outcome_col="y", control="c")
    assert counts.arms == ("c", "a", "b") and counts.control == "c"
    assert counts.successes == (1, 1, 1) and counts.trials == (1, 2, 1)
    assert ArmComparisonStats.from_dict(counts.to_dict()) == counts
    with pytest.raises(DataError):
        ArmComparisonStats(arms=("A", "B"), successes=(3, 1), trials=(2, 5))
    with pytest.raises(DataError):
        ArmComparisonStats.from_frame(df.assign(y=[2, 0, 1, 1]), group_col="g", outcome_col="y")


# ----------------------------------------------------------------------------- exact draws

@pytest.fixture(scope="module")
def exact_fit():
    model = ArmComparison(COUNTS)
    config = SamplerConfig(draws=5000, chains=4, seed=3)  # exact=True is the default
    return model, model.fit(config), config


def test_exact_draws_are_the_conjugate_posterior(exact_fit):
    model, idata, config = exact_fit
    assert idata.attrs["exact"] == 1 and idata.attrs["compile_seconds"] == 0.0
    assert dict(idata.posterior.sizes) == {"chain": 4, "draw": 5000, "arm": 3, "treatment": 2}
    for arm, s, n in zip(COUNTS.arms, COUNTS.successes, COUNTS.trials, strict=True):
        draws = idata.posterior["rate"].sel(arm=arm).values.ravel()
        # A one-sample KS test against the exact Beta(1 + s, 1 + n - s): independent draws.
        assert stats.kstest(draws, stats.beta(1 + s, 1 + n - s).cdf).pvalue > 0.001
        assert draws.mean() == pytest.approx(CLOSED[arm][0], abs=4 * draws.std() / np.sqrt(20000))
    block = model.summarize(idata)
    # P(Test better): Monte-Carlo se sqrt(p(1-p)/20000) = 0.0011 around the exact sum.
    assert block["prob_test_better"] == pytest.approx(PROB_TEST_BETTER, abs=0.005)
    assert block["lift_abs"]["lower"] == pytest.approx(LIFT_ABS_TEST[1], abs=0.003)
    assert block["lift_abs"]["upper"] == pytest.approx(LIFT_ABS_TEST[2], abs=0.003)


def test_exact_draws_pass_the_gate_and_are_reproducible(exact_fit):
    model, idata, config = exact_fit
    diag = model.diagnostics(idata)
    assert diag.passed and diag.max_r_hat < 1.005 and diag.min_ess_bulk > 15000
    again = model.fit(config)
    assert np.array_equal(again.posterior["rate"].values, idata.posterior["rate"].values)
    other = model.fit(config.with_seed_offset(1))
    assert not np.array_equal(other.posterior["rate"].values, idata.posterior["rate"].values)


def test_exact_posterior_predictive_is_binomial(exact_fit):
    _, idata, _ = exact_fit
    pp = idata.posterior_predictive["successes"]
    assert list(idata.observed_data["successes"].values) == list(COUNTS.successes)
    # E[y_rep] = n * E[p]; its Monte-Carlo se is small against the tolerance.
    for arm, n in zip(COUNTS.arms, COUNTS.trials, strict=True):
        assert float(pp.sel(arm=arm).mean()) == pytest.approx(n * CLOSED[arm][0], rel=0.01)


def test_exact_priors_are_used():
    strong = ArmComparison(COUNTS, priors={"rate": {"alpha": 50, "beta": 50}})
    idata = strong.fit(SamplerConfig(draws=4000, chains=2, seed=1))
    s, n = COUNTS.successes[0], COUNTS.trials[0]
    want = (50 + s) / (100 + n)
    assert float(idata.posterior["rate"].sel(arm="Control").mean()) == pytest.approx(want, abs=0.002)


def test_exact_save_load_round_trip(exact_fit, tmp_path):
    model, idata, _ = exact_fit
    path = model.save(idata, tmp_path / "conversion.nc")
    idata2, model2 = ArmComparison.load(path)
    assert model2.stats == COUNTS
    assert model2.summarize(idata2) == model.summarize(idata)


def test_figure_kinds_select_what_standard_figures_draws(exact_fit, tmp_path):
    from bayes_ab.plotting import FIGURE_KINDS, figure_kinds

    from matplotlib.figure import Figure

    model, idata, _ = exact_fit
    with figure_kinds(("posterior",)):
        drawn = model.figures(idata)
    assert set(drawn) == {"posterior"} and isinstance(drawn["posterior"], Figure)
    drawn = model.figures(idata)  # outside the block: every kind
    assert set(drawn) == set(FIGURE_KINDS)
    assert not any(tmp_path.iterdir())  # nothing written
    with pytest.raises(ValueError), figure_kinds(("nope",)):
        pass
