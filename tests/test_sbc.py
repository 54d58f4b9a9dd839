"""Calibration helpers: rank statistics, uniformity tests, compile-once refits; slow SBC of
every model (and a deliberately wrong likelihood that SBC must catch) and a small
end-to-end coverage run over the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.workflows.calibration import (
    ReusableFit,
    covers,
    rank_statistic,
    run_sbc,
    thin_draws,
    uniformity_test,
)
from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats

TINY = SamplerConfig(draws=300, tune=300, chains=2, seed=5, exact=False)


# ----------------------------------------------------------------------------- fast


def test_rank_counts_draws_below_the_truth():
    rng = np.random.default_rng(0)
    draws = np.arange(10.0)
    assert rank_statistic(4.5, draws, rng=rng) == 5
    assert rank_statistic(-1.0, draws, rng=rng) == 0
    assert rank_statistic(99.0, draws, rng=rng) == 10


def test_rank_ties_are_spread_uniformly():
    # A quantity equal to every draw (e.g. a constant) must not pile up on one rank.
    rng = np.random.default_rng(1)
    ranks = [rank_statistic(0.0, np.zeros(9), rng=rng) for _ in range(5000)]
    counts = np.bincount(ranks, minlength=10)
    assert counts.min() > 400 and counts.max() < 600  # 500 expected per rank 0..9


def test_thin_keeps_evenly_spaced_draws_and_refuses_too_few():
    x = np.arange(1000)[:, None]
    kept = thin_draws(x, 99)
    assert kept.shape == (99, 1) and kept[0, 0] == 0 and kept[-1, 0] == 999
    assert np.all(np.diff(kept[:, 0]) >= 10)
    with pytest.raises(OptionError):
        thin_draws(np.arange(50)[:, None], 99)


def test_uniformity_exactly_uniform_ranks():
    ranks = np.repeat(np.arange(100), 3)  # every rank value 0..99 three times
    t = uniformity_test(ranks, n_draws=99, bins=20)
    assert t.chi2 == pytest.approx(0.0)
    assert t.chi2_p == pytest.approx(1.0)
    assert t.ks_p > 0.5


def test_uniformity_random_uniform_passes_and_skewed_fails():
    rng = np.random.default_rng(3)
    ok = uniformity_test(rng.integers(0, 100, size=400), n_draws=99)
    assert ok.p_value > 0.01
    # An overconfident posterior: the truth falls in the tails (ranks near 0 or 99).
    tails = np.concatenate([rng.integers(0, 10, 100), rng.integers(90, 100, 100)])
    bad = uniformity_test(tails, n_draws=99)
    assert bad.chi2_p < 1e-20 and bad.ks_p < 1e-3
    # A biased posterior: truths mostly above the draws.
    biased = uniformity_test(rng.integers(60, 100, 200), n_draws=99)
    assert biased.p_value < 1e-10


def test_uniformity_with_bins_not_dividing_the_rank_values():
    # 50 rank values in 20 bins: expected counts follow the values per bin (2 or 3).
    ranks = np.repeat(np.arange(50), 4)
    assert uniformity_test(ranks, n_draws=49, bins=20).chi2 == pytest.approx(0.0)


def test_uniformity_rejects_ranks_out_of_range():
    with pytest.raises(OptionError):
        uniformity_test([0, 5, 120], n_draws=99)


def test_covers():
    iv = {"mean": 0.1, "lower": 0.05, "upper": 0.15, "prob": 0.95}
    assert covers(iv, 0.12) is True
    assert covers(iv, 0.2) is False
    assert covers(iv, None) is None and covers(None, 0.1) is None


def test_reusable_fit_compiles_once_and_matches_the_conjugate_posterior():
    a = ArmComparisonStats(arms=("Control", "Test"), successes=(30, 45), trials=(300, 300))
    b = ArmComparisonStats(arms=("Control", "Test"), successes=(120, 80), trials=(400, 150))
    c = ArmComparisonStats(arms=("Control", "Test"), successes=(10, 90), trials=(500, 200))
    fit = ReusableFit(ArmComparison, a, probe_stats=b, config=TINY)
    for stats in (a, b, c):
        _, idata = fit.sample(stats)
        mean = idata.posterior["rate"].mean(("chain", "draw")).values
        exact = (np.array(stats.successes) + 1) / (np.array(stats.trials) + 2)
        assert mean == pytest.approx(exact, abs=0.012)
    assert fit.n_compiles == 1
    # Other arm totals do not change the structure either: still one compilation.
    d = ArmComparisonStats(arms=("Control", "Test"), successes=(5, 5), trials=(50, 60))
    _, idata = fit.sample(d)
    assert float(idata.posterior["rate"].sel(arm="Test").mean()) == pytest.approx(6 / 62, abs=0.01)
    assert fit.n_compiles == 1


# ----------------------------------------------------------------------------- slow

SBC_REPS = 60
SBC_CONFIG = SamplerConfig(draws=400, tune=400, chains=2, seed=11)


@pytest.fixture(scope="module")
def experiment():
    from bayes_ab.workflows.calibration import experiment_from_simulation
    from bayes_ab.simulate import simulate

    return experiment_from_simulation(simulate(n=5000, seed=3, truth=False))


@pytest.mark.slow
@pytest.mark.parametrize("key", ["conversion", "help_completion", "time_to_completion",
                                 "causal_cs_effect", "completions_conversion",
                                 "time_and_experience"])
def test_sbc_ranks_are_uniform_for_every_model(experiment, key):
    import importlib

    from bayes_ab.workflows.analyze import MODEL_STEPS

    step = next(s for s in MODEL_STEPS if s.key == key)
    cls = getattr(importlib.import_module(step.module), step.cls)
    model = cls(cls.stats_type.from_experiment(experiment, **step.stats_kwargs))
    res = run_sbc(model, reps=SBC_REPS, config=SBC_CONFIG, seed=7)
    assert res.failures == 0
    assert res.ranks.shape[0] == SBC_REPS
    assert res.passed(alpha=0.01), res.to_dict()["tests"]


@pytest.mark.slow
def test_sbc_catches_a_wrong_likelihood():
    # Data generated with 20% more successes than the model's likelihood says: the
    # posterior sits above the truth, so the truth's ranks pile up at the bottom.
    stats = ArmComparisonStats(arms=("Control", "Test"), successes=(50, 20), trials=(400, 200))
    trials = np.asarray(stats.trials)

    def inflated(params, observed, rng):
        return {"successes": rng.binomial(trials, np.clip(params["rate"] * 1.2, 0, 1))}

    good = run_sbc(ArmComparison(stats), reps=SBC_REPS, config=SBC_CONFIG, seed=2)
    bad = run_sbc(ArmComparison(stats), reps=SBC_REPS, config=SBC_CONFIG, seed=2, data_fn=inflated)
    assert good.passed()
    assert not bad.passed()
    assert bad.tests["rate[Control]"].p_value < 1e-4
    assert np.mean(bad.ranks[:, 0]) < 30  # of 0..99: truths below most draws


@pytest.mark.slow
def test_small_coverage_run_over_the_simulator():
    """20 simulated experiments (effect): the conversion lift's HDI covers the population
    value at close to 95%; under null the z-test rejects at about 5% (200 A/A datasets)."""
    from scipy import stats as st

    from bayes_ab.workflows.calibration import experiment_from_simulation
    from bayes_ab.simulate import simulate
    from bayes_ab.stats.frequentist import two_proportion_test
    from bayes_ab.models.beta_binomial import BinomialCounts

    reps = 20
    fit = None
    covered = 0
    for r in range(reps):
        sim = simulate(n=5000, seed=100 + r, scenario="effect")
        data = experiment_from_simulation(sim)
        stats = ArmComparisonStats.from_experiment(data, metric="converted")
        if fit is None:
            probe = ArmComparisonStats(arms=stats.arms, successes=(1, 2), trials=(10, 12))
            fit = ReusableFit(ArmComparison, stats, probe_stats=probe, config=TINY)
        model, idata = fit.sample(stats, seed=r)
        block = model.summarize(idata)
        covered += bool(covers(block["lift_abs"], sim.truth["estimands"]["conversion"]["lift_abs"]))
    # P(Binomial(20, 0.95) <= 15) < 0.003: a broken interval would fail, a calibrated one not.
    assert covered >= 16
    assert st.binom.cdf(15, reps, 0.95) < 0.003

    rejections = 0
    n_null = 200
    for r in range(n_null):
        sim = simulate(n=3000, seed=5000 + r, scenario="null", truth=False)
        cohort = sim.test_cohorts.set_index("customer_id")["cohort"]
        conv = sim.conversion.set_index("customer_id")["converted"].reindex(cohort.index).fillna(0)
        counts = {a: BinomialCounts(successes=int(conv[cohort == a].sum()),
                                    trials=int((cohort == a).sum())) for a in ("Control", "Test")}
        res = two_proportion_test(counts["Control"], counts["Test"], method="z")
        rejections += res.p_value < 0.05
    # 5% nominal: Binomial(200, 0.05) is within 2..19 with probability > 0.999.
    assert 2 <= rejections <= 19
