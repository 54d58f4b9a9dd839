"""Segment effects: the hierarchical model finds the one segment whose lift differs, keeps
false flags rare when all segments share one lift (unlike one test per segment), and the
per-segment sample-ratio check catches a broken split."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.errors import DataError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.workflows.segments import SegmentCounts, segment_effects, segment_srm

BASE = {"ads": 0.08, "blog": 0.12, "direct": 0.10, "email": 0.15, "partner": 0.09,
        "search": 0.11}


def _counts(rng, lor: dict[str, float], *, n=3000, share=0.5, base=BASE) -> SegmentCounts:
    """Counts per segment x arm: n customers per segment, Test share `share`, control
    rate base[s], test log odds ratio lor[s]."""
    segs = sorted(base)
    nt = rng.binomial(n, share, len(segs))
    nc = n - nt
    pc = np.array([base[s] for s in segs])
    lo = np.log(pc / (1 - pc)) + np.array([lor[s] for s in segs])
    pt = 1 / (1 + np.exp(-lo))
    return SegmentCounts(segments=tuple(segs), control="control", test="test",
                         successes_control=tuple(rng.binomial(nc, pc)), trials_control=tuple(nc),
                         successes_test=tuple(rng.binomial(nt, pt)), trials_test=tuple(nt),
                         column="source")


@pytest.fixture(scope="module")
def pymc_block():
    lor = {s: 0.2 for s in BASE} | {"email": 0.9}
    counts = _counts(np.random.default_rng(0), lor)
    return counts, segment_effects(counts, method="pymc",
                                   config=SamplerConfig(draws=300, tune=300, chains=2, seed=4))


@pytest.mark.slow
def test_pymc_flags_only_the_different_segment(pymc_block):
    counts, block = pymc_block
    assert block["flagged"] == ["email"]
    seg = block["segments"]
    assert seg["email"]["prob_lift_above_overall"] > 0.97
    # The true log odds ratio 0.2 lies in the overall interval; true lifts mostly covered.
    assert block["overall"]["log_odds_ratio"]["lower"] < 0.2 < block["overall"]["log_odds_ratio"]["upper"]
    covered = 0
    for s in counts.segments:
        pc = BASE[s]
        lor = 0.9 if s == "email" else 0.2
        pt = 1 / (1 + np.exp(-(np.log(pc / (1 - pc)) + lor)))
        covered += seg[s]["lift_abs"]["lower"] < pt - pc < seg[s]["lift_abs"]["upper"]
    assert covered >= 5
    assert block["diagnostics"]["divergences"] == 0
    assert block["srm"]["flagged"] == []


@pytest.mark.slow
def test_normal_approximation_agrees_with_the_binomial_model(pymc_block):
    counts, block = pymc_block
    approx = segment_effects(counts, method="normal", config=SamplerConfig(seed=1))
    assert approx["flagged"] == block["flagged"]
    for s in counts.segments:
        a, b = approx["segments"][s]["lift_abs"], block["segments"][s]["lift_abs"]
        assert a["mean"] == pytest.approx(b["mean"], abs=0.006)


def test_normal_method_flags_only_the_different_segment():
    lor = {s: 0.2 for s in BASE} | {"email": 0.9}
    counts = _counts(np.random.default_rng(0), lor)
    block = segment_effects(counts, method="normal", config=SamplerConfig(seed=2))
    assert block["flagged"] == ["email"]
    assert block["overall"]["log_odds_ratio"]["lower"] < 0.2 < block["overall"]["log_odds_ratio"]["upper"]
    # Partial pooling: the flagged segment's deviation is smaller than its raw departure.
    email = block["segments"]["email"]
    assert email["deviation_log_odds"]["mean"] < 0.9 - 0.2 + 0.15
    assert email["frequentist"]["p_value_holm"] < 1e-6


def test_few_false_flags_when_all_segments_share_one_lift():
    # 150 datasets, 8 segments, every segment's log odds ratio 0.2: any flag is false.
    rng = np.random.default_rng(7)
    base = {f"s{i}": r for i, r in enumerate(np.linspace(0.06, 0.16, 8))}
    lor = {s: 0.2 for s in base}
    pooled_any = naive_any = 0
    reps = 150
    for r in range(reps):
        counts = _counts(rng, lor, n=1500, base=base)
        block = segment_effects(counts, method="normal", config=SamplerConfig(seed=r))
        pooled_any += bool(block["flagged"])
        # Naive: each segment's log OR against the precision-weighted overall, at p < 0.05.
        xc, nc, xt, nt = counts.arrays()
        a, b, c, d = xt + 0.5, nt - xt + 0.5, xc + 0.5, nc - xc + 0.5
        y, se = np.log(a / b / (c / d)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        overall = np.sum(y / se**2) / np.sum(1 / se**2)
        naive_any += bool(np.any(np.abs(y - overall) / se > 1.96))
    print(f"any false flag: pooled {pooled_any / reps:.3f}, naive {naive_any / reps:.3f}")
    assert pooled_any / reps <= 0.08
    assert naive_any / reps > 0.15


def test_srm_per_segment_with_holm():
    rng = np.random.default_rng(3)
    counts = _counts(rng, {s: 0.0 for s in BASE})
    # Break the split in one segment: 40% Test instead of ~50%.
    nt = list(counts.trials_test)
    nc = list(counts.trials_control)
    k = counts.segments.index("search")
    nt[k], nc[k] = 1200, 1800
    broken = SegmentCounts(counts.segments, "control", "test", counts.successes_control,
                           tuple(nc), tuple(min(x, n) for x, n in zip(counts.successes_test, nt,
                                                                      strict=True)),
                           tuple(nt), column="source")
    srm = segment_srm(broken)
    assert srm["flagged"] == ["search"]
    assert srm["per_segment"]["search"]["p_value_holm"] < 1e-3
    assert srm["per_segment"]["ads"]["p_value_holm"] == pytest.approx(1.0) or \
        srm["per_segment"]["ads"]["p_value_holm"] > 0.01
    fixed = segment_srm(broken, expected_test_share=0.5)
    assert fixed["expected_share_source"] == "given" and "search" in fixed["flagged"]


def test_from_arrays_and_too_many_segments():
    g = ["control", "test"] * 6
    y = [1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    s = ["a"] * 4 + ["b"] * 8
    c = SegmentCounts.from_arrays(g, y, s, control="control", test="test")
    assert c.segments == ("a", "b")
    assert c.trials_control == (2, 4) and c.successes_test == (1, 1)
    with pytest.raises(DataError, match="bucket it first"):
        SegmentCounts.from_arrays(["control", "test"] * 60, [0] * 120,
                                  [str(i) for i in range(120)], control="control", test="test")


def test_holm_matches_statsmodels():
    from bayes_ab.stats.frequentist import holm_adjust
    from bayes_ab.workflows.segments import _holm

    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5}
    assert _holm(p) == pytest.approx(holm_adjust(p))
