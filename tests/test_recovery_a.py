"""Slow: the arm-comparison, completions-conversion and time-and-experience models recover
the simulator's population truth (truth.json "estimands") from files it wrote.

    pytest -m slow tests/test_recovery_a.py

Each scenario is simulated (n = 20000, the example's size), written as CSV, loaded by
`load_experiment` and fitted with the default sampler settings (1000 x 4 chains), so
the test also checks that sampling is clean at the defaults the scripts use.
"""

from __future__ import annotations

import pytest

from bayes_ab.data.load import load_experiment
from bayes_ab.simulate import simulate, write_simulation
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
from bayes_ab.models.completions_conversion import CompletionsConversionStats, CompletionsConversion
from bayes_ab.models.time_and_experience import TimeAndExperienceStats, TimeAndExperience

pytestmark = pytest.mark.slow

N = 20_000
SCENARIOS = {"effect": 101, "null": 202}


def _models(data):
    return {
        "conversion": ArmComparison(ArmComparisonStats.from_experiment(data, metric="converted")),
        "cs_engagement": ArmComparison(ArmComparisonStats.from_experiment(data, metric="any_cs")),
        "completions_conversion": CompletionsConversion(CompletionsConversionStats.from_experiment(data)),
        "time_and_experience": TimeAndExperience(TimeAndExperienceStats.from_experiment(data)),
    }


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def fitted(request, tmp_path_factory):
    scenario = request.param
    sim = simulate(n=N, seed=SCENARIOS[scenario], scenario=scenario)
    folder = tmp_path_factory.mktemp(f"sim_{scenario}")
    write_simulation(sim, folder, fmt="csv")
    data = load_experiment(folder)
    out = {}
    for i, (name, model) in enumerate(_models(data).items()):
        idata = model.fit(SamplerConfig().with_seed_offset(i))
        out[name] = (model, idata, model.summarize(idata))
    return scenario, sim.truth["estimands"], out


def _covers(iv: dict, value: float) -> bool:
    return iv["lower"] <= value <= iv["upper"]


def test_sampling_is_clean_at_default_settings(fitted):
    _, _, out = fitted
    for name, (model, idata, _) in out.items():
        diag = model.diagnostics(idata)
        assert diag.passed, (name, diag.problems())


def test_arm_comparisons_cover_the_truth(fitted):
    scenario, truth, out = fitted
    for name in ("conversion", "cs_engagement"):
        block, t = out[name][2], truth[name]
        assert _covers(block["control"], t["Control"]), (name, block["control"], t)
        assert _covers(block["test"], t["Test"]), (name, block["test"], t)
        assert _covers(block["lift_abs"], t["Test"] - t["Control"]), (name, block["lift_abs"], t)
    if scenario == "null":
        for name in ("conversion", "cs_engagement"):
            lift = out[name][2]["lift_abs"]
            assert lift["lower"] < 0 < lift["upper"], (name, lift)
    else:  # the widget triples CS uptake: no doubt about that lift
        assert out["cs_engagement"][2]["prob_test_better"] > 0.999


def test_completions_conversion_covers_the_truth(fitted):
    _, truth, out = fitted
    block, t = out["completions_conversion"][2], truth["completions_conversion"]
    for k, value in t["rate_by_completions"].items():
        iv = block["rate_by_completions"][k]
        assert _covers(iv, value), (k, iv, value)
    assert _covers(block["odds_ratio_per_completion"], t["odds_ratio_per_completion"])
    # The simulator's conversion steps are >= 0 and large: the rates rise at every step.
    assert block["prob_monotone_increasing"] > 0.95


def test_time_and_experience_covers_the_truth(fitted):
    _, truth, out = fitted
    block, t = out["time_and_experience"][2], truth["time_and_experience"]
    assert _covers(block["hour_effect"], t["hour_effect"]), (block["hour_effect"], t)
    assert _covers(block["experience_effect"], t["experience_effect"]), (
        block["experience_effect"], t)
    assert block["prob_success_rises_with_experience"] > 0.99
