"""Meta-analytic prior: PyMC agrees with exact quadrature, shrinkage matches the normal-normal
closed form, and the shrunk interval keeps 95% coverage (and beats the raw estimate's error)
over repeated simulations with known hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_ab.errors import DataError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.workflows.meta_prior import (
    MetaPrior,
    MetaPriors,
    PastExperiments,
    apply_meta_prior,
    fit_meta_prior,
    lift_estimate,
    meta_prior_grid,
    read_past_experiments,
)

MU, TAU = 0.01, 0.005  # true average lift and between-experiment spread (absolute scale)


def _history(rng, j=12):
    se = rng.uniform(0.004, 0.01, j)
    theta = MU + TAU * rng.standard_normal(j)
    y = theta + se * rng.standard_normal(j)
    return PastExperiments(tuple(f"exp{i}" for i in range(j)), tuple(y), tuple(se))


@pytest.fixture(scope="module")
def past():
    return _history(np.random.default_rng(0))


@pytest.fixture(scope="module")
def pymc_fit(past):
    return fit_meta_prior(past, config=SamplerConfig(draws=500, tune=500, chains=2, seed=3,
                                                     target_accept=0.95))


def test_pymc_agrees_with_exact_quadrature(past, pymc_fit):
    exact = meta_prior_grid(past, n_draws=100_000)
    a, b = pymc_fit.summary(), exact.summary()
    sd = b["predictive_prior"]["sd"]
    assert a["predictive_prior"]["mean"] == pytest.approx(b["predictive_prior"]["mean"], abs=0.1 * sd)
    assert a["predictive_prior"]["sd"] == pytest.approx(sd, rel=0.12)
    assert a["mu"]["mean"] == pytest.approx(b["mu"]["mean"], abs=0.1 * sd)
    assert pymc_fit.diagnostics["divergences"] == 0
    assert pymc_fit.diagnostics["max_r_hat"] < 1.02


def test_shrinkage_equals_normal_normal_when_tau_is_known():
    # Point-mass hyperparameters: the posterior is the textbook precision-weighted average.
    past = PastExperiments(("a", "b"), (0.0, 0.0), (1.0, 1.0))
    n = 50_000
    meta = MetaPrior(mu=np.full(n, 0.01), tau=np.full(n, 0.004),
                     predictive=np.full(n, 0.01), past=past, priors=MetaPriors(1, 1),
                     method="fixed")
    res = apply_meta_prior(meta, 0.03, 0.008, n_draws=200_000)
    w = (1 / 0.004**2) / (1 / 0.004**2 + 1 / 0.008**2)  # 0.8 of the way to the prior
    post_mean = w * 0.01 + (1 - w) * 0.03
    post_sd = 1 / np.sqrt(1 / 0.004**2 + 1 / 0.008**2)
    assert res.shrinkage == pytest.approx(w, abs=0.01)
    assert res.shrunk["mean"] == pytest.approx(post_mean, abs=2e-5)
    assert res.shrunk["upper"] - res.shrunk["lower"] == pytest.approx(2 * 1.96 * post_sd, rel=0.01)
    assert res.width_ratio == pytest.approx(post_sd / 0.008, rel=0.01)


def test_coverage_and_error_over_repeated_simulations():
    # 200 worlds: a history of 12 experiments, today's true lift drawn from the same
    # population, today's estimate with se 0.008. The shrunk 95% interval should cover the
    # truth ~95% of the time and its mean should be closer to the truth than the raw estimate.
    rng = np.random.default_rng(1)
    hits, err_raw, err_shrunk, shrink = 0, [], [], []
    for r in range(200):
        past = _history(rng)
        theta = MU + TAU * rng.standard_normal()
        y = theta + 0.008 * rng.standard_normal()
        meta = meta_prior_grid(past, n_draws=4000, n_grid=800, seed=r)
        res = apply_meta_prior(meta, y, 0.008, n_draws=4000, seed=r)
        hits += res.shrunk["lower"] < theta < res.shrunk["upper"]
        err_raw.append((y - theta) ** 2)
        err_shrunk.append((res.shrunk["mean"] - theta) ** 2)
        shrink.append(res.shrinkage)
    assert 0.91 <= hits / 200 <= 0.99
    assert np.mean(err_shrunk) < 0.6 * np.mean(err_raw)
    # With tau 0.005 and se 0.008 the oracle weight on the prior is 0.72; we estimate tau.
    assert 0.45 < np.median(shrink) < 0.9


def test_weak_default_prior_barely_moves_a_precise_estimate():
    past = PastExperiments(("a", "b", "c"), (0.05, -0.04, 0.0), (0.03, 0.03, 0.03))
    meta = meta_prior_grid(past)
    res = apply_meta_prior(meta, 0.02, 0.002)
    assert abs(res.shrinkage) < 0.05


def test_lift_estimate_scales():
    d, se = lift_estimate(100, 1000, 130, 1000, scale="abs")
    assert d == pytest.approx(0.03) and se == pytest.approx(np.sqrt(0.13 * 0.87 / 1000 + 0.09 / 1000))
    r, se_r = lift_estimate(100, 1000, 130, 1000, scale="rel")
    assert r == pytest.approx(0.3)
    assert se_r == pytest.approx(1.3 * np.sqrt(0.87 / 130 + 0.9 / 100))
    z = stats.norm.isf(0.025)
    assert z == pytest.approx(1.96, abs=0.001)


def test_reading_history(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("Experiment,Lift Estimate,Standard Error\nA,0.01,0.004\nB,-0.002,0.006\n")
    past = read_past_experiments(path)
    assert past.names == ("A", "B") and past.estimates == (0.01, -0.002)
    path.write_text("experiment,lift,se\nA,0.01,0.004\nB,0.02,-1\n")
    with pytest.raises(DataError, match="positive number") as exc:
        read_past_experiments(path)
    assert exc.value.lines == (3,)
    path.write_text("experiment,lift\nA,0.01\nB,0.02\n")
    with pytest.raises(DataError, match="no standard error column"):
        read_past_experiments(path)
