"""Completions vs conversion: recovery of known rates and odds ratio, null data, priors.

Data come from a tiny generator here (Binomial counts per arm x n_completed from known
logits), so the truth is exact: the pooled rates weight the arms by their share at each
k, and the odds ratio is exp of the count-weighted logistic fit of those pooled rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bayes_ab.data.schema import ExperimentData
from bayes_ab.errors import DataError, OptionError
from bayes_ab.fit import SamplerConfig
from bayes_ab.models.completions_conversion import (
    CompletionCounts,
    CompletionsConversion,
    logistic_fit,
)

TRIALS = np.array([[4000, 2000, 1500, 6500], [1700, 900, 700, 2700]])
# A convex monotone pattern (not linear in k), the Test arm a little higher.
ETA = np.array([[-3.2, -2.7, -2.1, -1.2], [-3.1, -2.55, -1.95, -1.05]])
CONFIG = SamplerConfig(draws=600, tune=600, chains=2, seed=5)


def _counts(eta: np.ndarray, seed: int) -> CompletionCounts:
    rng = np.random.default_rng(seed)
    s = rng.binomial(TRIALS, 1 / (1 + np.exp(-eta)))
    return CompletionCounts(arms=("Control", "Test"), successes=tuple(map(tuple, s)),
                            trials=tuple(map(tuple, TRIALS)))


def _truth(eta: np.ndarray) -> tuple[np.ndarray, float]:
    p = 1 / (1 + np.exp(-eta))
    pooled = (p * TRIALS).sum(0) / TRIALS.sum(0)
    x = np.column_stack([np.ones(4), np.arange(4)])
    return pooled, float(np.exp(logistic_fit(pooled, x, TRIALS.sum(0))[0, 1]))


@pytest.fixture(scope="session")
def effect_fit():
    model = CompletionsConversion(_counts(ETA, seed=1))
    idata = model.fit(CONFIG)
    return model, idata, model.summarize(idata)


@pytest.fixture(scope="session")
def null_fit():
    model = CompletionsConversion(_counts(np.full_like(ETA, -2.0), seed=2))
    idata = model.fit(CONFIG)
    return model, idata, model.summarize(idata)


def test_logistic_fit_matches_statsmodels_glm():
    succ = np.array([150, 110, 160, 1400])
    n = TRIALS.sum(0)
    glm = sm.GLM(np.column_stack([succ, n - succ]), sm.add_constant(np.arange(4.0)),
                 family=sm.families.Binomial()).fit()
    ours = logistic_fit(succ / n, np.column_stack([np.ones(4), np.arange(4)]), n)[0]
    np.testing.assert_allclose(ours, glm.params, rtol=1e-8)
    # Vectorised over draws: each row its own fit; zero-weight cells are ignored.
    two = logistic_fit(np.vstack([succ / n, succ / n]), np.column_stack([np.ones(4), np.arange(4)]),
                       n)
    np.testing.assert_allclose(two, np.vstack([glm.params, glm.params]), rtol=1e-8)


def test_recovers_rates_and_odds_ratio(effect_fit):
    _, _, block = effect_fit
    pooled, odds_ratio = _truth(ETA)
    for k in range(4):
        iv = block["rate_by_completions"][str(k)]
        assert iv["lower"] <= pooled[k] <= iv["upper"], (k, iv, pooled[k])
    iv = block["odds_ratio_per_completion"]
    assert iv["lower"] <= odds_ratio <= iv["upper"]
    assert odds_ratio == pytest.approx(2.0168, abs=1e-4)  # the truth itself, pinned
    assert block["prob_monotone_increasing"] > 0.99
    assert set(block["increments"]) == {"0->1", "1->2", "2->3"}
    for arm in ("Control", "Test"):
        for k in range(4):
            iv = block["per_arm"][arm]["rate_by_completions"][str(k)]
            true = 1 / (1 + np.exp(-ETA[("Control", "Test").index(arm), k]))
            assert iv["lower"] <= true <= iv["upper"]


def test_sampling_is_clean(effect_fit):
    model, idata, _ = effect_fit
    diag = model.diagnostics(idata)
    assert diag.divergences == 0 and diag.max_r_hat <= 1.01 and diag.min_ess_bulk >= 400


def test_null_data_gives_no_relationship(null_fit):
    _, _, block = null_fit
    iv = block["odds_ratio_per_completion"]
    assert iv["lower"] < 1.0 < iv["upper"]
    assert iv["upper"] - iv["lower"] < 0.15
    assert block["log_odds_slope"]["lower"] < 0 < block["log_odds_slope"]["upper"]
    assert block["prob_monotone_increasing"] < 0.95
    for k in range(4):
        iv = block["rate_by_completions"][str(k)]
        assert iv["lower"] <= 1 / (1 + np.exp(2.0)) <= iv["upper"]


def test_save_load_round_trip(effect_fit, tmp_path):
    model, idata, block = effect_fit
    idata2, model2 = CompletionsConversion.load(model.save(idata, tmp_path / "cc.nc"))
    assert model2.stats == model.stats and model2.priors == model.priors
    assert model2.summarize(idata2) == block


def test_prior_overrides_change_the_model():
    counts = _counts(ETA, seed=1)
    default = CompletionsConversion(counts).build()
    assert {v.name for v in default.free_RVs} == {"mu_a", "z_a", "mu_b", "z_b", "step_share"}
    learned = CompletionsConversion(counts,
                                    priors={"slope_sd": {"dist": "HalfNormal", "sigma": 0.3}})
    assert "sigma_b" in {v.name for v in learned.build().free_RVs}
    tight = CompletionsConversion(counts, priors={"slope": {"sigma": 0.1}})
    point = default.initial_point()
    delta = tight.build().compile_logp()(point) - default.compile_logp()(point)
    # mu_b = 0 at the initial point: only the Normal normalising constants differ.
    assert delta == pytest.approx(np.log(1.0 / 0.1), rel=1e-6)
    with pytest.raises(OptionError):
        CompletionsConversion(counts, priors={"slope_sd": {"dist": "Cauchy"}}).build()


def test_counts_from_experiment_and_dict_round_trip():
    frame = pd.DataFrame({
        "cohort": pd.Categorical(["Control", "Control", "Test", "Test", "Control"]),
        "n_completed": [0, 3, 3, 1, 3],
        "converted": [False, True, True, False, False],
    })
    data = ExperimentData(frame=frame, help_episodes=pd.DataFrame(), task_attempts=pd.DataFrame(),
                          observation_end=pd.Timestamp("2026-05-08", tz="UTC"))
    counts = CompletionCounts.from_experiment(data)
    assert counts.trials == ((1, 0, 0, 2), (0, 1, 0, 1))
    assert counts.successes == ((0, 0, 0, 1), (0, 0, 0, 1))
    assert CompletionCounts.from_dict(counts.to_dict()) == counts
    # Levels without customers take the overall arm shares as weights.
    w = CompletionsConversion(counts).arm_weights()
    np.testing.assert_allclose(w[:, 2], [0.6, 0.4])
    np.testing.assert_allclose(w[:, 3], [2 / 3, 1 / 3])
    with pytest.raises(DataError):
        CompletionCounts.from_frame(frame.assign(n_completed=[0, 4, 3, 1, 3]))
