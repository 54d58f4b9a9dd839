"""Segment effects with partial pooling: the lift in each segment (signup source, hour
bucket, any column), without the false discoveries of one test per segment.

Model (counts per segment x arm, a Binomial each; logit scale, non-centred):

    alpha_s = alpha_0 + sigma_alpha z_s          control's log-odds in segment s
    logit p_control[s] = alpha_s
    logit p_test[s]    = alpha_s + delta + u_s,  u_s = sigma_u w_s
    alpha_0 ~ Normal(logit(pooled rate), 1.5), sigma_alpha ~ HalfNormal(1)
    delta ~ Normal(0, 1), sigma_u ~ HalfNormal(0.5), z_s, w_s ~ Normal(0, 1)

``delta`` is the overall lift (log odds ratio), ``u_s`` a segment's departure from it.
Segment lifts are *partially pooled*: a small segment's noisy lift is pulled toward the
overall one, by as much as the data say segments really differ (sigma_u). A segment is
flagged as differing from the overall lift when the 95% HDI of u_s excludes 0. Because
the pooling shrinks noise toward 0 jointly, the chance of flagging some segment when all
share one lift stays small however many segments there are; one unadjusted test per
segment would flag at least one of 8 segments about a third of the time (the tests check
both rates on simulated data).

Reported per segment: the pooled posterior lift (absolute, Test - Control), the raw lift
with its Newcombe CI and a Holm-adjusted p-value across segments (the frequentist view),
and a sample-ratio check (Pearson chi-square of the segment's arm sizes against the
expected Test share, default the overall observed share, so that a segment whose split
differs from the rest stands out; Holm across segments; flagged at Holm p < 0.001).

``method="normal"`` replaces the Binomial model by its normal approximation on each
segment's log odds ratio (the meta-analysis model of ``bayes_ab.workflows.meta_prior`` solved by
exact quadrature): no sampler, used by the calibration tests that repeat the analysis
hundreds of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bayes_ab.constants import HDI_PROB
from bayes_ab.errors import DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.intervals import draws_interval

__all__ = ["MAX_SEGMENTS", "SegmentCounts", "checked_segment_names", "segment_effects", "segment_srm"]

#: More distinct values than this is a continuous column: bucket it first.
MAX_SEGMENTS = 50

Method = Literal["pymc", "normal"]


def checked_segment_names(values, *, column: str) -> list:
    """The sorted distinct segment values; a `DataError` naming ``column`` when there are
    more than `MAX_SEGMENTS` or fewer than two."""
    names = sorted(set(values))
    if len(names) > MAX_SEGMENTS:
        raise DataError(f"{len(names)} distinct values in the segment column: more than "
                        f"{MAX_SEGMENTS}; bucket it first (e.g. hour of day into 4 blocks)",
                        column=column)
    if len(names) < 2:
        raise DataError("the segment column has fewer than two values", column=column)
    return names


@dataclass(frozen=True)
class SegmentCounts:
    """Successes and trials per segment for control and one test arm."""

    segments: tuple[str, ...]
    control: str
    test: str
    successes_control: tuple[int, ...]
    trials_control: tuple[int, ...]
    successes_test: tuple[int, ...]
    trials_test: tuple[int, ...]
    column: str = "segment"

    @classmethod
    def from_arrays(cls, groups: Sequence[str], outcomes: Sequence[int], segments: Sequence[str],
                    *, control: str, test: str, column: str = "segment") -> SegmentCounts:
        g = np.asarray(groups, dtype=object)
        y = np.asarray(outcomes, dtype=np.int64)
        s = np.asarray(segments, dtype=object)
        names = checked_segment_names(s[(g == control) | (g == test)].tolist(), column=column)

        def agg(arm: str, f) -> tuple[int, ...]:
            return tuple(int(f(y[(g == arm) & (s == name)])) for name in names)

        return cls(segments=tuple(str(n) for n in names), control=control, test=test,
                   successes_control=agg(control, np.sum), trials_control=agg(control, np.size),
                   successes_test=agg(test, np.sum), trials_test=agg(test, np.size),
                   column=column)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.asarray(a, dtype=float) for a in (  # type: ignore[return-value]
            self.successes_control, self.trials_control, self.successes_test, self.trials_test))


# --------------------------------------------------------------------------- models


def build_segment_model(counts: SegmentCounts):
    import pymc as pm

    xc, nc, xt, nt = counts.arrays()
    pooled = (xc.sum() + xt.sum() + 0.5) / (nc.sum() + nt.sum() + 1.0)
    coords = {"segment": list(counts.segments)}
    with pm.Model(coords=coords) as model:
        alpha0 = pm.Normal("alpha0", float(np.log(pooled / (1 - pooled))), 1.5)
        sigma_alpha = pm.HalfNormal("sigma_alpha", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="segment")
        alpha = alpha0 + sigma_alpha * z
        delta = pm.Normal("delta", 0.0, 1.0)
        sigma_u = pm.HalfNormal("sigma_u", 0.5)
        w = pm.Normal("w", 0.0, 1.0, dims="segment")
        u = pm.Deterministic("u", sigma_u * w, dims="segment")
        p_c = pm.Deterministic("p_control", pm.math.invlogit(alpha), dims="segment")
        p_t = pm.Deterministic("p_test", pm.math.invlogit(alpha + delta + u), dims="segment")
        pm.Binomial("y_control", n=nc, p=p_c, observed=xc, dims="segment")
        pm.Binomial("y_test", n=nt, p=p_t, observed=xt, dims="segment")
    return model


def _draws_pymc(counts: SegmentCounts, config: SamplerConfig) -> dict[str, Any]:
    from bayes_ab.inference.diagnostics import check
    from bayes_ab.inference.fit import sample

    idata = sample(build_segment_model(counts), name="segments", config=config,
                   model_config={"counts": counts.__dict__})
    post = idata.posterior

    def stack(name: str) -> np.ndarray:
        v = post[name].values
        return v.reshape(-1, *v.shape[2:])

    diag = check(idata, name="segments",
                 var_names=["alpha0", "sigma_alpha", "z", "delta", "sigma_u", "w"]).to_dict()
    return {"p_control": stack("p_control"), "p_test": stack("p_test"), "u": stack("u"),
            "delta": stack("delta"), "sigma_u": stack("sigma_u"), "diagnostics": diag,
            "idata": idata}


def _draws_normal(counts: SegmentCounts, *, seed: int, n_draws: int = 8000) -> dict[str, Any]:
    """Normal approximation: segment log odds ratios (with 0.5 added to every cell) pooled
    by the hierarchical normal model, solved exactly over tau (``meta_prior_grid``)."""
    from bayes_ab.workflows.meta_prior import MetaPriors, PastExperiments, meta_prior_grid

    xc, nc, xt, nt = counts.arrays()
    a, b, c, d = xt + 0.5, nt - xt + 0.5, xc + 0.5, nc - xc + 0.5
    y = np.log(a / b) - np.log(c / d)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    past = PastExperiments(counts.segments, tuple(y), tuple(se), scale="rel")
    meta = meta_prior_grid(past, priors=MetaPriors(1.0, 0.5), n_draws=n_draws, n_grid=1500,
                           seed=seed)
    rng = np.random.default_rng(seed + 7)
    tau = np.maximum(meta.tau, 1e-9)[:, None]
    prec = 1 / tau**2 + 1 / se[None, :] ** 2
    mean = (meta.mu[:, None] / tau**2 + y[None, :] / se[None, :] ** 2) / prec
    theta = mean + rng.standard_normal(mean.shape) / np.sqrt(prec)
    # Control rates from their own Beta(1, 1) posteriors; test rates via the pooled odds ratio.
    pc = rng.beta(1 + xc, 1 + nc - xc, size=(n_draws, xc.size))
    odds_t = pc / (1 - pc) * np.exp(theta)
    return {"p_control": pc, "p_test": odds_t / (1 + odds_t), "u": theta - meta.mu[:, None],
            "delta": meta.mu, "sigma_u": meta.tau, "diagnostics": None, "idata": None}


# --------------------------------------------------------------------------- checks


def _holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment (same numbers as ``frequentist.holm_adjust``; done here
    because statsmodels' version runs a full garbage collection on every call, which
    dominates the repeated analyses of the calibration tests)."""
    names = sorted(p_values, key=lambda k: p_values[k])
    m = len(names)
    out, running = {}, 0.0
    for i, name in enumerate(names):
        running = max(running, min(1.0, (m - i) * p_values[name]))
        out[name] = running
    return out


def segment_srm(counts: SegmentCounts, *, expected_test_share: float | None = None) -> dict:
    """Sample-ratio check per segment, Holm-adjusted across segments."""
    from bayes_ab.stats.frequentist import SRM_ALPHA, srm_check

    _, nc, _, nt = counts.arrays()
    share = (float(nt.sum() / (nt.sum() + nc.sum())) if expected_test_share is None
             else float(expected_test_share))
    res = {s: srm_check(int(t), int(c), expected_test_share=share)
           for s, c, t in zip(counts.segments, nc, nt, strict=True) if c + t > 0}
    holm = _holm({s: r.p_value for s, r in res.items()})
    out = {s: {"n_control": r.n_control, "n_test": r.n_test,
               "observed_test_share": float(r.observed_test_share),
               "p_value": float(r.p_value), "p_value_holm": float(holm[s]),
               "mismatch": bool(holm[s] < SRM_ALPHA)} for s, r in res.items()}
    return {"expected_test_share": share,
            "expected_share_source": "given" if expected_test_share is not None
            else "overall observed Test share",
            "alpha": SRM_ALPHA, "per_segment": out,
            "flagged": [s for s, r in out.items() if r["mismatch"]]}


def _frequentist(counts: SegmentCounts) -> dict[str, dict]:
    from bayes_ab.stats.frequentist import newcombe_diff_ci, two_proportion_test
    from bayes_ab.models.beta_binomial import BinomialCounts

    xc, nc, xt, nt = counts.arrays()
    out, p = {}, {}
    for s, a, n, b, m in zip(counts.segments, xc, nc, xt, nt, strict=True):
        if n == 0 or m == 0:
            continue
        c, t = BinomialCounts(int(a), int(n)), BinomialCounts(int(b), int(m))
        test = two_proportion_test(c, t)
        p[s] = test.p_value
        out[s] = {"lift_abs_raw": newcombe_diff_ci(c, t).to_dict(), "p_value": test.p_value,
                  "test": test.to_dict()["test"]}
    for s, ph in _holm(p).items():
        out[s]["p_value_holm"] = float(ph)
    return out


def segment_effects(counts: SegmentCounts, *, method: Method = "pymc",
                    config: SamplerConfig = SamplerConfig(),
                    expected_test_share: float | None = None, prob: float = HDI_PROB) -> dict:
    """The compare.json ``segments`` block (module docstring)."""
    if method not in ("pymc", "normal"):
        raise OptionError(f"segment method must be 'pymc' or 'normal', got {method!r}")
    draws = (_draws_pymc(counts, config) if method == "pymc"
             else _draws_normal(counts, seed=config.seed))
    pc, pt, u = draws["p_control"], draws["p_test"], draws["u"]
    _, nc, _, nt = counts.arrays()
    weight = (nc + nt) / (nc + nt).sum()
    overall_lift = (pt - pc) @ weight
    freq = _frequentist(counts)
    xc, _, xt, _ = counts.arrays()
    per: dict[str, dict] = {}
    flagged = []
    for k, s in enumerate(counts.segments):
        dev = draws_interval(u[:, k], prob=prob)
        differs = bool(dev["lower"] > 0 or dev["upper"] < 0)
        if differs:
            flagged.append(s)
        per[s] = {
            "n_control": int(nc[k]), "n_test": int(nt[k]),
            "successes_control": int(xc[k]), "successes_test": int(xt[k]),
            "rate_control": draws_interval(pc[:, k], prob=prob),
            "rate_test": draws_interval(pt[:, k], prob=prob),
            "lift_abs": draws_interval(pt[:, k] - pc[:, k], prob=prob),
            "deviation_log_odds": dev,
            "prob_lift_positive": float(np.mean(pt[:, k] > pc[:, k])),
            "prob_lift_above_overall": float(np.mean(u[:, k] > 0)),
            "differs_from_overall": differs,
            "frequentist": freq.get(s),
        }
    return {
        "column": counts.column,
        "control": counts.control,
        "test": counts.test,
        "method": ("hierarchical Binomial, PyMC" if method == "pymc"
                   else "normal approximation on log odds ratios, exact quadrature"),
        "n_segments": len(counts.segments),
        "overall": {"lift_abs": draws_interval(overall_lift, prob=prob),
                    "log_odds_ratio": draws_interval(draws["delta"], prob=prob),
                    "sd_between_segments_log_odds": draws_interval(draws["sigma_u"], prob=prob)},
        "segments": per,
        "flagged": flagged,
        "flag_rule": ("the 95% HDI of the segment's departure from the overall lift (log odds) "
                      "excludes 0"),
        "srm": segment_srm(counts, expected_test_share=expected_test_share),
        "diagnostics": draws["diagnostics"],
    }
