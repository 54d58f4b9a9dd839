"""Priors as objects (issue 18): each model class declares its priors as `Prior` objects and
`build` creates each variable with ``prior.create_variable(name)``; the dictionary (JSON)
form, the overrides and the prior-sensitivity scaling keep working on it."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayes_ab.errors import OptionError
from bayes_ab.models.base import merge_priors
from bayes_ab.models.priors import FIXED, Prior, prior_from_spec
from bayes_ab.models.registry import MODEL_CLASSES
from bayes_ab.workflows.sensitivity import scale_priors


def test_every_model_class_declares_prior_objects():
    for cls in set(MODEL_CLASSES.values()):
        assert cls.default_priors, cls
        for name, prior in cls.default_priors.items():
            assert isinstance(prior, Prior), (cls.__name__, name)


def test_create_variable_is_the_pymc_distribution():
    """Same variable, same log density as the direct PyMC call, dims taken from the prior
    or overridden at creation."""
    coords = {"arm": ["Control", "Test"], "stratum": ["c", "a", "n"]}
    with pm.Model(coords=coords) as by_prior:
        Prior("Beta", alpha=2.0, beta=5.0, dims="arm").create_variable("rate")
        Prior("Dirichlet", a=[1.0, 2.0, 3.0]).create_variable("share", dims="stratum")
        Prior("HalfNormal", sigma=0.5).create_variable("sd")
        fixed = Prior(FIXED, value=0.25).create_variable("tau")
    with pm.Model(coords=coords) as direct:
        pm.Beta("rate", alpha=2.0, beta=5.0, dims="arm")
        pm.Dirichlet("share", a=np.array([1.0, 2.0, 3.0]), dims="stratum")
        pm.HalfNormal("sd", sigma=0.5)
    assert fixed == 0.25 and isinstance(fixed, float)
    assert [v.name for v in by_prior.free_RVs] == ["rate", "share", "sd"]
    assert by_prior.named_vars_to_dims == direct.named_vars_to_dims
    point = {"rate_logodds__": np.array([-1.0, 0.5]), "share_simplex__": np.array([0.3, -0.2]),
             "sd_log__": np.array(-0.7)}
    assert by_prior.compile_logp()(point) == pytest.approx(direct.compile_logp()(point), rel=1e-12)
    with pm.Model():
        start = Prior("Normal", mu=0.0, sigma=2.0)
        d = start.dist(mu=3.0 + start["mu"])
        assert pm.logp(d, 3.0).eval() == pytest.approx(-np.log(2.0 * np.sqrt(2 * np.pi)))


def test_dictionary_form_round_trips_and_infers_the_family():
    p = Prior("Normal", mu=-2.0, sigma=2.0)
    assert p.to_dict() == {"dist": "Normal", "mu": -2.0, "sigma": 2.0}
    assert Prior.from_dict(p.to_dict()) == p
    assert str(p) == "Normal(mu=-2, sigma=2)" and p["sigma"] == 2.0
    # Without "dist": the overridden prior's family when the parameters fit it ...
    assert Prior.from_dict({"sigma": 3.0}, Prior("Normal", mu=0.0, sigma=1.0, dims="task")) == \
        Prior("Normal", sigma=3.0, dims="task")
    # ... else the family the parameter names imply (a fixed sd turned into a learned one).
    assert Prior.from_dict({"sigma": 0.5}, Prior(FIXED, value=1.0)) == Prior("HalfNormal", sigma=0.5)
    assert Prior.from_dict({"value": 1.0}).is_fixed
    assert prior_from_spec(None) is None
    with pytest.raises(OptionError):
        Prior.from_dict({"nu": 3.0})
    with pytest.raises(OptionError):
        Prior(FIXED, sigma=1.0)
    with pm.Model(), pytest.raises(OptionError, match="not a PyMC distribution"):
        Prior("Cauchyy", alpha=0.0, beta=1.0).create_variable("x")


def test_merge_keeps_the_json_form_and_sensitivity_scales_it():
    """results.json's prior_sensitivity "priors" block for the decision metrics (the arm
    comparisons) is byte-for-byte the old dict; scaling works on the merged dicts."""
    from bayes_ab.models.arm_comparison import ArmComparison
    from bayes_ab.models.completions_conversion import CompletionsConversion
    from bayes_ab.models.help_completion import HelpCompletion

    base = merge_priors(ArmComparison.default_priors, None)
    assert base == {"rate": {"dist": "Beta", "alpha": 1.0, "beta": 1.0}}
    assert list(base["rate"]) == ["dist", "alpha", "beta"]
    assert scale_priors(base, 4.0) == {"rate": {"dist": "Beta", "alpha": 4.0, "beta": 4.0}}
    hc = merge_priors(HelpCompletion.default_priors, {"cs_effect_sd": {"sigma": 0.5},
                                                      "arm_effect": {"sigma": 2.0}})
    assert hc["cs_effect_sd"] == {"dist": "HalfNormal", "sigma": 0.5}
    assert hc["arm_effect"] == {"dist": "Normal", "mu": 0.0, "sigma": 2.0}
    assert scale_priors(hc, 4.0)["task_intercept_sd"] == {"dist": "Fixed", "value": 0.5}
    # A Prior object is an override too; the class defaults stay untouched.
    cc = CompletionsConversion.default_priors
    assert merge_priors(cc, {"arm_sd": Prior("HalfNormal", sigma=0.3)})["arm_sd"] == \
        {"dist": "HalfNormal", "sigma": 0.3}
    assert cc["arm_sd"] == Prior(FIXED, value=0.5)
    with pytest.raises(OptionError, match="unknown prior"):
        merge_priors(cc, {"nope": {"sigma": 1.0}})


def test_table_prints_each_prior_and_graph_needs_graphviz():
    from bayes_ab.models.time_and_experience import TimeAndExperience

    model = MODEL_CLASSES["causal_cs_effect"]
    from bayes_ab.models.causal_cs_effect import CausalCsEffectStats

    iv = model(CausalCsEffectStats(counts=[[[10, 20], [30, 40]], [[15, 25], [12, 18]]]))
    table = iv.table()
    assert "strata_share ~ Dirichlet(<constant>)" in table
    assert "  strata       Dirichlet(a=[1, 1, 1])" in table
    assert "eta_always ~ Beta(1, 1)" in table and "late ~ Deterministic" in table
    try:
        import graphviz  # noqa: F401
    except ImportError:
        assert iv.graph() is None
    else:  # pragma: no cover - graphviz is optional
        assert "strata_share" in iv.graph().source
    assert "hour_sd" in TimeAndExperience.default_priors
