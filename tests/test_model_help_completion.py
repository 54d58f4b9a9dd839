"""HelpCompletion: aggregation pinned by hand, the estimand's standardisation in closed form,
recovery of a known effect and of a null one on data from a small generator, save/load."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.help_completion import HelpCompletion, HelpCompletionStats
from bayes_ab.models.priors import Prior

FAST = SamplerConfig(draws=300, tune=300, chains=2, seed=11)


def generate(*, cs_effect: float, seed: int, n: int = 20_000):
    """Flags per channel x task x arm (multinomial) and completions from a known logistic model.

    Returns the statistics and the population truth of the estimand: each channel's
    completion probability averaged over its own population flag mix."""
    rng = np.random.default_rng(seed)
    alpha = np.array([0.4, -0.2, 0.1])  # task intercepts
    gamma = 0.15  # Test arm
    # CS is chosen more in Test and on task 2: channel mixes differ, as in the experiment.
    mix = np.array([[[0.05, 0.06], [0.09, 0.07], [0.04, 0.04]],
                    [[0.17, 0.07], [0.18, 0.07], [0.12, 0.04]]])
    mix = mix / mix.sum()
    flags = rng.multinomial(n, mix.ravel()).reshape(mix.shape)
    is_cs = np.array([1.0, 0.0])[:, None, None]
    is_test = np.array([0.0, 1.0])[None, None, :]
    p = expit(alpha[None, :, None] + cs_effect * is_cs + gamma * is_test)
    completed = rng.binomial(flags, p)
    truth = {ch: float((mix[c] * p[c]).sum() / mix[c].sum())
             for c, ch in enumerate(("CS", "OTHER"))}
    truth["diff"] = truth["CS"] - truth["OTHER"]
    return HelpCompletionStats(flags=flags, completed=completed), truth


@pytest.fixture(scope="module")
def effect():
    stats, truth = generate(cs_effect=0.35, seed=1)
    model = HelpCompletion(stats)
    idata = model.fit(FAST)
    return model, idata, truth


@pytest.fixture(scope="module")
def null():
    stats, truth = generate(cs_effect=0.0, seed=2)
    model = HelpCompletion(stats)
    return model, model.fit(FAST), truth


def test_aggregation_pinned_on_a_hand_built_table():
    episodes = pd.DataFrame({
        "channel": ["CS", "CS", "OTHER", "OTHER", "OTHER", "CS"],
        "task": [1, 1, 1, 3, 3, 2],
        "cohort": ["Test", "Test", "Control", "Control", "Control", "Control"],
        "completed": [True, False, True, False, True, True],
    })
    stats = HelpCompletionStats.from_episodes(episodes)
    flags, done = stats.flags_array, stats.completed_array
    assert flags.sum() == 6
    assert flags[0, 0, 1] == 2 and done[0, 0, 1] == 1  # CS, task 1, Test
    assert flags[0, 1, 0] == 1 and done[0, 1, 0] == 1  # CS, task 2, Control
    assert flags[1, 0, 0] == 1 and done[1, 0, 0] == 1  # OTHER, task 1, Control
    assert flags[1, 2, 0] == 2 and done[1, 2, 0] == 1  # OTHER, task 3, Control
    assert stats.raw_rate("CS") == pytest.approx(2 / 3)
    assert stats.raw_rate("OTHER") == pytest.approx(2 / 3)
    assert HelpCompletionStats.from_dict(stats.to_dict()) == stats


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="exceed"):
        HelpCompletionStats(flags=np.ones((2, 3, 2)), completed=np.full((2, 3, 2), 2))
    with pytest.raises(DataError, match="unknown"):
        HelpCompletionStats.from_episodes(pd.DataFrame(
            {"channel": ["PHONE"], "task": [1], "cohort": ["Test"], "completed": [True]}))
    stats, _ = generate(cs_effect=0.0, seed=3, n=500)
    with pytest.raises(OptionError, match="unknown prior"):
        HelpCompletion(stats, priors={"nope": {"sigma": 1}})
    with pytest.raises(OptionError):
        HelpCompletion(stats, standardize="weird")


def test_channel_rates_reproduce_the_raw_rates_when_cells_are_fitted_exactly():
    """Plugging each cell's observed rate in as p, the channel's own-mix average is the
    channel's raw completion rate: the summary targets P(completed | channel)."""
    stats, _ = generate(cs_effect=0.3, seed=4, n=5_000)
    cell = stats.completed_array / stats.flags_array
    idata = az.from_dict(posterior={"p": cell[None, None]},
                         dims={"p": ["channel", "task", "arm"]})
    rates = HelpCompletion(stats).channel_rates(idata)[0]
    assert rates[0] == pytest.approx(stats.raw_rate("CS"), abs=1e-12)
    assert rates[1] == pytest.approx(stats.raw_rate("OTHER"), abs=1e-12)
    # The adjusted alternative weights both channels by the pooled mix instead.
    pooled = stats.flags_array.sum(axis=0) / stats.flags_array.sum()
    adjusted = HelpCompletion(stats, standardize="overall").channel_rates(idata)[0]
    assert adjusted[0] == pytest.approx(float((cell[0] * pooled).sum()), abs=1e-12)


def test_priors_are_printable_and_overridable():
    stats, _ = generate(cs_effect=0.0, seed=5, n=500)
    model = HelpCompletion(stats, priors={"cs_effect_mean": {"sigma": 0.5}})
    assert model.priors["cs_effect_mean"] == Prior("Normal", mu=0.0, sigma=0.5)
    assert "cs_effect_mean" in repr(model)


def test_effect_is_recovered(effect):
    model, idata, truth = effect
    s = model.summarize(idata)
    for key, true in (("cs", truth["CS"]), ("other", truth["OTHER"]), ("diff", truth["diff"])):
        assert s[key]["lower"] <= true <= s[key]["upper"], (key, s[key], true)
    assert s["diff"]["lower"] > 0 and s["prob_cs_better"] > 0.99
    assert s["cs"]["mean"] == pytest.approx(model.stats.raw_rate("CS"), abs=0.01)
    assert set(s["per_task"]) == {"1", "2", "3"}
    for k in "123":
        log_odds = s["per_task"][k]["log_odds_cs"]
        assert log_odds["lower"] < 0.35 < log_odds["upper"]
    assert model.diagnostics(idata).divergences == 0


def test_null_effect_interval_contains_zero(null):
    model, idata, truth = null
    s = model.summarize(idata)
    # No channel effect: the log-odds effect and the difference both contain 0 (the
    # population difference is not exactly 0 because the channels' arm mixes differ).
    assert s["log_odds_cs_mean"]["lower"] < 0 < s["log_odds_cs_mean"]["upper"]
    assert s["diff"]["lower"] < 0 < s["diff"]["upper"]
    assert s["diff"]["lower"] <= truth["diff"] <= s["diff"]["upper"]
    assert abs(truth["diff"]) < 0.005
    assert 0.025 < s["prob_cs_better"] < 0.975


def test_save_load_round_trip(effect, tmp_path):
    model, idata, _ = effect
    path = model.save(idata, tmp_path / "idata" / "help_completion.nc")
    idata2, model2 = HelpCompletion.load(path)
    assert model2.stats == model.stats and model2.priors == model.priors
    assert model2.standardize == model.standardize
    assert model2.summarize(idata2)["diff"] == pytest.approx(model.summarize(idata)["diff"])


def test_figures_are_written(effect, tmp_path):
    from matplotlib.figure import Figure

    from bayes_ab.plotting import save_figures

    model, idata, _ = effect
    figures = model.figures(idata)
    assert not any(tmp_path.iterdir())  # figures() draws; only save_figures writes
    assert all(isinstance(f, Figure) for f in figures.values())
    written = save_figures(figures, tmp_path)
    assert {"trace", "forest", "rates"} <= set(written)
    assert all(p.stat().st_size > 1000 for p in written.values())


def test_between_task_sds_fixed_by_default_learned_on_request():
    """Fixed sds by default (no funnel with three tasks); a learned HalfNormal on request."""
    stats = HelpCompletionStats(
        flags=[[[300, 200]] * 3, [[600, 250]] * 3],
        completed=[[[200, 140]] * 3, [[330, 150]] * 3],
    )
    default = HelpCompletion(stats)
    assert default.fixed_sds
    free = {rv.name for rv in default.build().free_RVs}
    assert free == {"mu_alpha", "alpha", "mu_beta", "beta", "gamma"}
    learned = HelpCompletion(stats, priors={"cs_effect_sd": {"sigma": 0.5},
                                            "task_intercept_sd": {"sigma": 1.0}})
    assert not learned.fixed_sds
    free = {rv.name for rv in learned.build().free_RVs}
    assert {"sigma_alpha", "sigma_beta", "z_beta"} <= free
