"""TimeToCompletion (piecewise-exponential Poisson): exposure and events pinned by hand, recovery of a
known hazard ratio and of HR = 1 on proportional-hazards data from a small generator, the
posterior survival against Kaplan-Meier, medians, save/load."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from scipy.optimize import brentq

from bayes_ab.errors import DataError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.time_to_completion import TimeToCompletion, TimeToCompletionStats, bin_edges, binned_events_exposure

FAST = SamplerConfig(draws=300, tune=300, chains=2, seed=21)
SHAPE = 0.7  # Weibull shape: hazard falls with time, like getting unstuck
TASK_EFFECT = np.array([0.0, -0.3, 0.2])
BASE_RATE = 0.02


def generate(*, hazard_ratio: float, seed: int, n: int = 20_000) -> pd.DataFrame:
    """Help episodes with Weibull proportional hazards (known HR, task effects) and uniform
    right-censoring between 1 hour and 3 days (the window end seen from the flag)."""
    rng = np.random.default_rng(seed)
    cs = rng.random(n) < 0.4
    task = rng.integers(1, 4, n)
    lam = BASE_RATE * np.exp(np.log(hazard_ratio) * cs + TASK_EFFECT[task - 1])
    t = (-np.log(rng.random(n)) / lam) ** (1 / SHAPE)  # cumulative hazard lam * t**SHAPE
    window = rng.uniform(60.0, 4320.0, n)
    return pd.DataFrame({"channel": np.where(cs, "CS", "OTHER"), "task": task,
                         "minutes": np.minimum(t, window), "censored": t > window})


def true_median(hazard_ratio: float, channel: str) -> float:
    """Where the channel's survival, pooled over the (uniform) task mix, crosses 0.5."""
    hr = hazard_ratio if channel == "CS" else 1.0
    lam = BASE_RATE * hr * np.exp(TASK_EFFECT)

    def surv(x):
        return np.mean(np.exp(-lam * x**SHAPE)) - 0.5

    return brentq(surv, 1e-6, 1e6)


@pytest.fixture(scope="module")
def effect():
    episodes = generate(hazard_ratio=1.5, seed=1)
    model = TimeToCompletion(TimeToCompletionStats.from_episodes(episodes))
    return model, model.fit(FAST), episodes


@pytest.fixture(scope="module")
def null():
    episodes = generate(hazard_ratio=1.0, seed=2)
    model = TimeToCompletion(TimeToCompletionStats.from_episodes(episodes))
    return model, model.fit(FAST)


def test_events_and_exposure_pinned_on_a_hand_built_table():
    episodes = pd.DataFrame({
        "channel": ["CS", "CS", "OTHER", "OTHER", "CS"],
        "task": [1, 1, 2, 2, 1],
        "minutes": [3.0, 12.0, 10.0, 20.0, 0.0],
        "censored": [False, True, False, False, False],
    })
    stats = TimeToCompletionStats.from_episodes(episodes, edges=(0, 5, 10, 20), kaplan_meier=False)
    d, e = stats.events_array, stats.exposure_array
    np.testing.assert_array_equal(d[0, 0], [2, 0, 0])  # completions at 3 and at 0 minutes
    np.testing.assert_array_equal(e[0, 0], [8, 5, 2])  # 3 + 5 | 5 | 2 (censored at 12)
    np.testing.assert_array_equal(d[1, 1], [0, 1, 1])  # 10 falls in (5, 10], 20 in (10, 20]
    np.testing.assert_array_equal(e[1, 1], [10, 10, 10])
    assert d.sum() == 4 and e.sum() == 45  # every other cell is empty
    np.testing.assert_array_equal(stats.flags_array, [[3, 0, 0], [0, 2, 0]])
    assert TimeToCompletionStats.from_dict(stats.to_dict()) == stats


def test_exposure_is_total_follow_up_time():
    episodes = generate(hazard_ratio=1.3, seed=5, n=3_000)
    stats = TimeToCompletionStats.from_episodes(episodes, kaplan_meier=False)
    assert stats.exposure_array.sum() == pytest.approx(episodes["minutes"].sum(), rel=1e-12)
    assert stats.events_array.sum() == (~episodes["censored"]).sum()


def test_bin_edges_are_capped_at_the_longest_time():
    assert bin_edges(7.0) == (0.0, 2.0, 5.0, 7.0)
    # 2880 -> 3000 would be a sliver after a 720-minute interval: merged into it.
    assert bin_edges(3000.0)[-3:] == (1440.0, 2160.0, 3000.0)
    assert bin_edges(4026.5)[-2:] == (2880.0, 4026.5)
    with pytest.raises(DataError):
        bin_edges(0.0)
    events, exposure = binned_events_exposure([1.0, 4.0], [True, False], [0, 0], n_groups=1,
                                              edges=(0, 2, 5))
    np.testing.assert_array_equal(events, [[1, 0]])
    np.testing.assert_array_equal(exposure, [[3, 2]])


def test_hazard_ratio_is_recovered(effect):
    model, idata, _ = effect
    s = model.summarize(idata)
    hr = s["hazard_ratio_cs_vs_other"]
    assert hr["lower"] <= 1.5 <= hr["upper"], hr
    assert s["prob_cs_faster"] > 0.99
    tasks = idata.posterior["task_effect"].mean(("chain", "draw")).values
    np.testing.assert_allclose(tasks, TASK_EFFECT, atol=0.06)
    assert model.diagnostics(idata).divergences == 0


def test_medians_are_recovered(effect):
    model, idata, _ = effect
    s = model.summarize(idata)
    for ch in ("CS", "OTHER"):
        med, true = s["median_minutes"][ch.lower()], true_median(1.5, ch)
        assert med is not None
        assert med["mean"] == pytest.approx(true, rel=0.05), (ch, med, true)
    assert s["median_note"] is None


def test_posterior_survival_matches_kaplan_meier(effect):
    model, idata, episodes = effect
    times = np.array([5.0, 30.0, 120.0, 600.0])
    _, surv = model.survival_curves(idata, times)
    for c, ch in enumerate(("CS", "OTHER")):
        sel = episodes["channel"] == ch
        km = KaplanMeierFitter().fit(episodes.loc[sel, "minutes"],
                                     event_observed=~episodes.loc[sel, "censored"])
        expected = km.survival_function_at_times(times).to_numpy()
        np.testing.assert_allclose(surv[:, c].mean(axis=0), expected, atol=0.03)


def test_null_hazard_ratio_contains_one(null):
    model, idata = null
    s = model.summarize(idata)
    hr = s["hazard_ratio_cs_vs_other"]
    assert hr["lower"] < 1.0 < hr["upper"]
    assert 0.025 < s["prob_cs_faster"] < 0.975


def test_median_is_null_when_fewer_than_half_complete(effect):
    """A posterior whose hazards are tiny keeps survival above 0.5 in the whole window."""
    model, _, _ = effect
    n_int = len(model.stats.edges) - 1
    fake = az.from_dict(
        posterior={"log_baseline": np.full((1, 10, n_int), np.log(1e-6)),
                   "beta_cs": np.zeros((1, 10)), "task_effect": np.zeros((1, 10, 3))},
        dims={"log_baseline": ["interval"], "task_effect": ["task"]},
    )
    s = model.summarize(fake)
    assert s["median_minutes"] == {"cs": None, "other": None}
    assert s["median_reached_prob"] == {"cs": 0.0, "other": 0.0}
    assert "stays above 0.5" in s["median_note"]


def test_save_load_round_trip_and_figures(effect, tmp_path):
    model, idata, _ = effect
    path = model.save(idata, tmp_path / "idata" / "time_to_completion.nc")
    idata2, model2 = TimeToCompletion.load(path)
    assert model2.stats == model.stats and model2.priors == model.priors
    assert (model2.summarize(idata2)["hazard_ratio_cs_vs_other"]
            == pytest.approx(model.summarize(idata)["hazard_ratio_cs_vs_other"]))
    from bayes_ab.plotting import save_figures

    written = save_figures(model2.figures(idata2), tmp_path / "figs")
    assert {"trace", "forest", "survival_km"} <= set(written)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(1, 5)),
                min_size=1, max_size=60))
def test_kaplan_meier_at_is_lifelines_curve(rows):
    """`kaplan_meier_at` (numpy) against lifelines' KaplanMeierFitter: ties, censoring,
    weights (the engine's grouped rows) and grid times before, between and after the
    durations (minutes in halves, so grid points fall on and between them)."""
    from bayes_ab.models.time_to_completion import kaplan_meier_at

    d = np.array([r[0] / 2 for r in rows], float)
    e = np.array([r[1] for r in rows], bool)
    w = np.array([r[2] for r in rows], float)
    grid = np.array([0.0, 0.25, 1.0, 3.3, 7.5, 12.0, 19.75, 20.0, 50.0])
    for weights in (None, w):
        km = KaplanMeierFitter().fit(d, event_observed=e, weights=weights)
        expected = km.survival_function_at_times(grid).to_numpy()
        np.testing.assert_allclose(kaplan_meier_at(d, e, grid, weights=weights), expected,
                                   rtol=1e-12, atol=1e-14)
