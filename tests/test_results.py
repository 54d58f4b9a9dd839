"""Typed results and their one serialiser (issue 18): result blocks are frozen dataclasses,
``to_jsonable`` writes them. Modelled on gbstats' tests, which compare ``asdict(result)``
with an expected instance."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from bayes_ab.stats import decision as dc
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.stats.frequentist import (
    ProportionTest,
    RatioStatistic,
    bayes_frequentist_agreement,
    cochran_armitage_trend,
    logrank_by_group,
    ratio_metric_test,
    srm_check,
    two_proportion_test,
)
from bayes_ab.models.arm_comparison import (
    ArmComparison,
    ArmComparisonResult,
    ArmComparisonStats,
    ArmNames,
    ArmVsControl,
    Successes,
)
from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, compare_two, posterior
from bayes_ab.results import Interval, Result, from_jsonable, to_jsonable

GOLDEN = Path(__file__).parent / "fixtures" / "results_golden.json"


def _flat(d, prefix=""):
    """{"a.b.c": leaf} of a nested dict, to compare floats with a tolerance."""
    if isinstance(d, Mapping):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


# ------------------------------------------------------------------- the serialiser


@dataclasses.dataclass(frozen=True)
class _Inner(Result):
    x: float
    n: int


@dataclasses.dataclass(frozen=True)
class _Outer(Result):
    a: float
    inner: _Inner
    by_name: Mapping[str, _Inner]
    values: tuple
    optional: _Inner | None = None
    kept_none: str | None = None

    json_fields: ClassVar = ("label", "a", "inner", "by_name", "values", "optional",
                             "kept_none", "twice")
    json_keys: ClassVar = {"a": "alpha", "twice": "double_a"}
    json_omit_none: ClassVar = frozenset({"optional"})

    @property
    def label(self) -> str:
        return "outer"

    @property
    def twice(self) -> float:
        return 2 * self.a


def test_to_jsonable_order_keys_casts_and_omissions():
    obj = _Outer(a=1, inner=_Inner(np.float64(0.5), np.int64(3)),
                 by_name={"p": _Inner(2, 1)}, values=(np.float32(1.5), 2))
    out = to_jsonable(obj)
    # The declared order, renamed keys, an omitted None, a kept None, a property.
    assert list(out) == ["label", "alpha", "inner", "by_name", "values", "kept_none", "double_a"]
    # float-annotated attributes are written as floats (1 -> 1.0), numpy values as Python ones.
    assert json.dumps(out) == ('{"label": "outer", "alpha": 1.0, "inner": {"x": 0.5, "n": 3}, '
                               '"by_name": {"p": {"x": 2.0, "n": 1}}, "values": [1.5, 2], '
                               '"kept_none": null, "double_a": 2.0}')
    assert type(out["inner"]["n"]) is int and type(out["values"][0]) is float
    # Read access by JSON key gives the typed value.
    assert obj["alpha"] == 1 and obj["inner"] == _Inner(0.5, 3) and "optional" not in obj
    assert obj.to_dict() == out


def test_from_dict_inverts_to_dict():
    obj = _Outer(a=1.0, inner=_Inner(0.5, 3), by_name={"p": _Inner(2.0, 1)}, values=(1.5, 2),
                 optional=_Inner(1.0, 0))
    back = _Outer.from_dict(json.loads(json.dumps(obj.to_dict())))
    assert back == obj and isinstance(back.by_name["p"], _Inner)


# ------------------------------------------------- gbstats-style: asdict vs expected


def test_arm_comparison_matches_the_closed_form_beta_binomial():
    """The sampled-or-exact arm comparison against the conjugate posterior: every number of
    ``asdict(result)`` equals that of an expected instance built from the Beta posteriors
    (means and HDIs exact; P(test better) by numerical integration; lift bounds from
    ``compare_two``), to the Monte Carlo error of 400,000 draws."""
    s, n = (120, 150), (1000, 1000)
    model = ArmComparison(ArmComparisonStats(arms=("Control", "Test"), successes=s, trials=n))
    result = model.summarize(model.exact_posterior(SamplerConfig(seed=5, draws=200_000,
                                                                 chains=2)))
    assert isinstance(result, ArmComparisonResult) and dataclasses.is_dataclass(result)

    c, t = BinomialCounts(s[0], n[0]), BinomialCounts(s[1], n[1])
    pc, pt = posterior(c, prior=BetaPrior(1, 1)), posterior(t, prior=BetaPrior(1, 1))
    exact = compare_two(c, t, prior=BetaPrior(1, 1), n_draws=400_000, seed=1)
    lift_rel = Interval(pt.mean * (pc.alpha + pc.beta - 1) / (pc.alpha - 1) - 1,
                        exact.lift_rel.lower, exact.lift_rel.upper)
    expected = ArmComparisonResult(
        control=pc.hdi(), test=pt.hdi(),
        lift_abs=Interval(pt.mean - pc.mean, exact.lift_abs.lower, exact.lift_abs.upper),
        lift_rel=lift_rel,
        prob_test_better=exact.prob_test_better,
        metric="converted",
        arms=ArmNames(control="Control", test="Test"),
        counts={"Control": Successes(120, 1000), "Test": Successes(150, 1000)},
    )
    got, want = _flat(dataclasses.asdict(result)), _flat(dataclasses.asdict(expected))
    assert got.keys() == want.keys()
    numbers = {k: v for k, v in want.items() if isinstance(v, float)}
    assert {k: got[k] for k in numbers} == pytest.approx(numbers, abs=4e-3)
    assert {k: got[k] for k in want if k not in numbers} == {
        k: v for k, v in want.items() if k not in numbers}
    # P(test better) is exact to 1e-3 (Monte Carlo error of 400k draws ~ 3e-4).
    assert result.prob_test_better == pytest.approx(exact.prob_test_better, abs=1.5e-3)


def test_per_arm_uses_one_attribute_name_for_p_better():
    """``prob_test_better`` is the attribute everywhere; the per-arm JSON key stays
    ``prob_better_than_control`` (RESULTS_SCHEMA)."""
    model = ArmComparison(ArmComparisonStats(arms=("c", "t1", "t2"), successes=(30, 45, 20),
                                    trials=(300, 310, 290)))
    result = model.summarize(model.exact_posterior(SamplerConfig(seed=3, draws=500, chains=2)))
    t1 = result.per_arm["t1"]
    assert isinstance(t1, ArmVsControl) and t1.prob_test_better == result.prob_test_better
    block = result.to_dict()
    assert block["per_arm"]["t1"]["prob_better_than_control"] == result.prob_test_better
    assert "prob_test_better" not in block["per_arm"]["t1"]
    assert ArmComparisonResult.from_dict(block) == result


def test_two_arm_result_has_no_per_arm_and_takes_the_frequentist_check():
    model = ArmComparison(ArmComparisonStats(arms=("Control", "Test"), successes=(30, 45),
                                    trials=(300, 310)))
    result = model.summarize(model.exact_posterior(SamplerConfig(seed=3, draws=500, chains=2)))
    assert result.per_arm is None and "per_arm" not in result.to_dict()
    test = two_proportion_test(BinomialCounts(30, 300), BinomialCounts(45, 310))
    block = dataclasses.replace(result, frequentist=test).to_dict()
    assert list(block)[-1] == "frequentist"
    assert block["frequentist"] == {"test": "two-proportion z", "p_value": test.p_value,
                                    "p_value_holm": test.p_value,
                                    "ci95_diff": dataclasses.asdict(test.ci95_diff),
                                    "significant_95": test.significant_95}
    assert isinstance(block["frequentist"]["ci95_diff"]["mean"], float)


def test_proportion_test_as_expected_instance():
    """gbstats-style: the frequentist block of 30/300 vs 45/310 against hand-computed
    numbers (pooled z-test: z = (p_t - p_c) / sqrt(p (1 - p) (1/n_t + 1/n_c)))."""
    from scipy import stats

    res = two_proportion_test(BinomialCounts(30, 300), BinomialCounts(45, 310))
    p = 75 / 610
    z = (45 / 310 - 30 / 300) / np.sqrt(p * (1 - p) * (1 / 310 + 1 / 300))
    assert isinstance(res, ProportionTest)
    assert res.statistic == pytest.approx(z, rel=1e-12)
    got = res.to_dict()
    assert got["test"] == "two-proportion z" and got["significant_95"] is False
    assert got["p_value"] == pytest.approx(float(2 * stats.norm.sf(abs(z))), rel=1e-12)
    assert got["ci95_diff"]["mean"] == pytest.approx(45 / 310 - 30 / 300, rel=1e-12)


# ------------------------------------------------------------ byte-identical blocks


def _golden_blocks() -> dict:
    """The blocks of tests/fixtures/results_golden.json, recomputed (the file was written by
    the same code at commit 69d527f, before the typed results, from hand-written
    ``to_dict`` bodies)."""
    out = {}
    for arms in (("Control", "Test"), ("c", "t1", "t2")):
        k = len(arms)
        m = ArmComparison(ArmComparisonStats(arms=arms, successes=(30, 45, 20)[:k],
                                    trials=(300, 310, 290)[:k]))
        out[f"arm_comparison_{k}"] = m.summarize(
            m.exact_posterior(SamplerConfig(seed=3, draws=500, chains=2)))
    rng = np.random.default_rng(1)
    c, t = rng.beta(31, 271, 4000), rng.beta(46, 266, 4000)
    configs = {"default": {}, "rope": {"rope": 0.05},
               "non_inferiority": {"non_inferiority_margin": 0.01}}
    for name, kw in configs.items():
        out[f"decision_{name}"] = dc.decide_from_draws(
            c, t, metric="conversion", config=dc.DecisionConfig(**kw), n_customers=1000,
            counts=(BinomialCounts(30, 300), BinomialCounts(45, 310)), prior=BetaPrior(1, 1),
            seed=3)
    bv = dc.BusinessValue(value_per_unit=50, customers=1000, label="rev")
    out["decision_money"] = dc.decide_from_draws(
        c, t, metric="conversion", config=dc.DecisionConfig(business_value=bv), n_customers=1000)
    out["proportion_test"] = two_proportion_test(BinomialCounts(3, 30), BinomialCounts(9, 31))
    out["srm"] = srm_check(510, 490)
    out["trend"] = cochran_armitage_trend([1, 0, 3], [10, 0, 10])
    out["ratio"] = ratio_metric_test(
        RatioStatistic.from_arrays(rng.poisson(2, 100), rng.binomial(1, .5, 100) + 1),
        RatioStatistic.from_arrays(rng.poisson(2, 90), rng.binomial(1, .5, 90) + 1))
    out["agreement"] = bayes_frequentist_agreement(prob_test_better=0.97, p_value=0.04)
    frame = pd.DataFrame({"duration": rng.exponential(10, 60), "event": rng.binomial(1, .8, 60),
                          "channel": np.repeat(["CS", "OTHER"], 30)})
    out["logrank"] = logrank_by_group(frame, duration="duration", event="event", group="channel")
    r = compare_two(BinomialCounts(70, 700), BinomialCounts(40, 300), n_draws=20_000)
    out["beta_binomial"] = r
    out["beta_binomial_frequentist"] = dataclasses.replace(
        r, frequentist={"test": "two-proportion z"})
    return out


def test_serialised_blocks_are_byte_identical_to_the_hand_written_to_dict():
    blocks = _golden_blocks()
    assert all(isinstance(b, Result) for b in blocks.values())
    text = json.dumps({k: to_jsonable(v) for k, v in blocks.items()}, indent=1) + "\n"
    assert text == GOLDEN.read_text()


def test_decision_reads_typed_and_writes_the_schema_keys():
    d = _golden_blocks()["decision_money"]
    assert isinstance(d.expected_loss, dc.ExpectedLoss) and d.money_loss.currency == "USD"
    block = d.to_dict()
    assert list(block)[:5] == ["recommendation", "metric", "expected_loss",
                               "threshold_of_caring", "prob_test_better"]
    assert block["money"]["customers"] == 1000.0 and "cs_cost" not in block
    assert dataclasses.replace(d, cs_cost={"error": "x"}).to_dict()["cs_cost"] == {"error": "x"}


def test_from_jsonable_of_an_interval():
    iv = from_jsonable(Interval, {"mean": 1, "lower": 0, "upper": 2, "prob": 0.95})
    assert iv == Interval(1.0, 0.0, 2.0) and isinstance(iv.mean, float)
