"""Prior sensitivity: the generic scaling rule pinned on every model's defaults, conclusions
classified, and on the arm comparison a strong prior that changes the conclusion on small
counts but not on large ones."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
from bayes_ab.workflows.sensitivity import headline_quantities, prior_sensitivity, scale_priors

TINY = SamplerConfig(draws=400, tune=300, chains=2, seed=9)


def test_scaling_rule_on_scales_and_concentrations():
    priors = {
        "rate": {"dist": "Beta", "alpha": 1.0, "beta": 3.0},
        "effect": {"mu": 0.5, "sigma": 2.0},
        "group_sd": {"dist": "Fixed", "value": 0.5},
        "strata": {"a": [1.0, 2.0, 1.0]},
        "off": None,
    }
    strong = scale_priors(priors, 4.0)
    assert strong["rate"] == {"dist": "Beta", "alpha": 4.0, "beta": 12.0}
    assert strong["effect"] == {"mu": 0.5, "sigma": 1.0}  # location kept, sd halved
    assert strong["group_sd"]["value"] == pytest.approx(0.25)
    assert strong["strata"]["a"] == [4.0, 8.0, 4.0]
    assert strong["off"] is None
    weak = scale_priors(priors, 0.25)
    assert weak["effect"]["sigma"] == pytest.approx(4.0)
    assert weak["rate"]["alpha"] == pytest.approx(0.25)
    assert priors["effect"]["sigma"] == 2.0  # the input is not modified
    with pytest.raises(OptionError):
        scale_priors(priors, 0.0)


def test_every_models_defaults_scale_and_stay_valid():
    from bayes_ab.models.completions_conversion import CompletionsConversion
    from bayes_ab.models.help_completion import HelpCompletion
    from bayes_ab.models.causal_cs_effect import CausalCsEffect
    from bayes_ab.models.time_to_completion import TimeToCompletion
    from bayes_ab.models.time_and_experience import TimeAndExperience

    for cls in (ArmComparison, HelpCompletion, TimeToCompletion, CausalCsEffect,
                CompletionsConversion, TimeAndExperience):
        for c in (0.25, 4.0):
            scaled = scale_priors(cls.default_priors, c)
            assert set(scaled) == set(cls.default_priors)
            for name, spec in scaled.items():
                base = cls.default_priors[name]
                if isinstance(spec, dict) and "sigma" in spec:
                    assert spec["sigma"] == pytest.approx(base["sigma"] / np.sqrt(c))
                if isinstance(spec, dict) and "mu" in spec:
                    assert spec["mu"] == base["mu"]


def test_headline_quantities_pick_probabilities_and_intervals():
    summary = {"prob_test_better": 0.97, "lift_abs": {"mean": 0.01, "lower": 0.0, "upper": 0.02,
                                                      "prob": 0.95},
               "metric": "converted", "counts": {"Control": {"successes": 1}}}
    out = headline_quantities(summary)
    assert out == {"prob_test_better": 0.97,
                   "lift_abs": {"mean": 0.01, "lower": 0.0, "upper": 0.02}}


@pytest.fixture(scope="module")
def small():
    # 1/12 vs 6/12: a flat prior is convinced; Beta(4, 4) on both arms pulls them together.
    stats = ArmComparisonStats(arms=("Control", "Test"), successes=(1, 6), trials=(12, 12))
    return prior_sensitivity(ArmComparison, stats, config=TINY)


@pytest.fixture(scope="module")
def large():
    stats = ArmComparisonStats(arms=("Control", "Test"), successes=(100, 160), trials=(1200, 1200))
    return prior_sensitivity(ArmComparison, stats, config=TINY)


def test_strong_prior_changes_the_conclusion_on_small_counts(small):
    q = small["quantities"]
    # Conjugate means: Beta(1+6, 1+6)=0.5 vs Beta(4+6, 4+6)=0.5 for Test; control
    # (1+1)/(12+2) = 0.143 under the default, (4+1)/(12+8) = 0.25 under the strong prior.
    assert q["control"]["default"]["mean"] == pytest.approx(2 / 14, abs=0.02)
    assert q["control"]["stronger"]["mean"] == pytest.approx(5 / 20, abs=0.02)
    assert q["lift_abs"]["default"]["mean"] > q["lift_abs"]["stronger"]["mean"] + 0.05
    assert small["conclusion_changes"] is True
    assert q["lift_abs"]["conclusion"]["default"]["hdi_excludes_reference"] is True
    assert q["lift_abs"]["conclusion"]["stronger"]["hdi_excludes_reference"] is False
    assert "lift_abs" in small["changed"]
    assert small["decision"]["default"] == "double_down"
    assert small["decision"]["changes"] is True
    assert small["priors"]["stronger"]["rate"]["alpha"] == 4.0
    assert "changes" in small["sentence"]


def test_prior_does_not_matter_on_large_counts(large):
    q = large["quantities"]
    assert large["conclusion_changes"] is False, large["changed"]
    assert large["changed"] == []
    for label in ("default", "weaker", "stronger"):
        assert q["prob_test_better"][label] > 0.99
        # Conjugate mean of the lift moves by < 0.002 between priors.
        assert q["lift_abs"][label]["mean"] == pytest.approx(161 / 1202 - 101 / 1202, abs=0.004)
    assert large["decision"] == {"default": "double_down", "weaker": "double_down",
                                 "stronger": "double_down", "changes": False}
    assert all(d["divergences"] == 0 for d in large["diagnostics"].values())


def test_scales_must_bracket_one():
    stats = ArmComparisonStats(arms=("Control", "Test"), successes=(1, 6), trials=(12, 12))
    with pytest.raises(OptionError):
        prior_sensitivity(ArmComparison, stats, config=TINY, scales=(2.0, 4.0))


def test_results_block_collects_models(small, large):
    from bayes_ab.workflows.sensitivity import results_block

    block = results_block({"conversion": small, "cs_engagement": large, "iv": None,
                           "survival": {"model": "survival", "error": "no flags",
                                        "conclusion_changes": None}})
    assert block["any_conclusion_changes"] is True
    assert set(block["changed"]) == {"conversion"}
    assert block["scales"] == {"weaker": 0.25, "stronger": 4.0}
    assert len(block["sentences"]) == 2 and block["per_model"]["iv"] is None
