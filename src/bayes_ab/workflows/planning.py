"""How many customers does a two-arm conversion test need? Frequentist and Bayesian answers,
at the same error rate.

Frequentist (closed form): the two-proportion z-test with unequal allocation. With a
share ``s`` of the N customers in Test, rates ``p_c`` (Control = baseline) and ``p_t``
(Test = baseline + lift), ``d = p_t - p_c`` and ``p_bar = (1 - s) p_c + s p_t``:

    N = [ z_{1-a/2} sqrt(p_bar q_bar (1/s + 1/(1-s))) + z_{1-b} sqrt(p_c q_c/(1-s) + p_t q_t/s) ]^2 / d^2

(pooled variance under the null, unpooled under the alternative: Fleiss' formula, the one
of statsmodels' ``power_proportions_2indep``, which it matches to the customer; for an
equal split it gives the textbook 3,841 per arm for 10% vs 12%, alpha 0.05 two-sided,
power 0.8). ``statsmodels_total_n`` adds ``NormalIndPower`` on Cohen's arcsine effect size
h, which differs by well under 1%.

**Like with like.** A Bayesian rule "ship when the posterior P(Test better) > c" is, with a
flat prior and enough data, the one-sided z-test at level 1 - c: c = 0.95 is a one-sided
5% rule, c = 0.975 the planned-direction half of a two-sided 5% test. So the Bayesian
threshold defaults to the frequentist error rate: c = 1 - alpha/2 for a two-sided alpha,
1 - alpha for a one-sided one. (Baseline 0.15, +1 pp, 30% in Test, power 80%: 48,742
customers two-sided at 0.05 and about 49,400 for P(better) > 0.975; 38,425 one-sided at
0.05 and about 38,900 for P(better) > 0.95. Set beside each other, 48,742 vs 38,900 would
be a 20% "Bayesian saving" that is only the looser error rate.) A ``prob_threshold`` that
does not match alpha is compared with the frequentist test at its own level.

Bayesian (pre-posterior simulation): for each total sample size n, simulate ``n_sims``
experiments, update independent Beta priors (Beta-Binomial conjugacy) and record

* **Bayesian power**: the share of experiments whose posterior has P(Test better) >
  ``prob_threshold`` when the true lift is exactly the MDE (the analogue of power);
* **assurance** (O'Hagan & Stevens 2001): the same share when the true lift is drawn from
  a *design prior* Normal(MDE, ``design_sd``) (default sd = |MDE| / 2), i.e. the power
  averaged over what the lift might be. It cannot exceed the prior's P(lift in the planned
  direction) (97.7% by default): beyond that the lift is on the wrong side. Its frequentist
  counterpart, the z-test's power in the planned direction averaged over the same prior
  (Gauss-Hermite quadrature), is given beside it;
* **expected loss** of the best action: after each simulated experiment, take the action
  (ship Test / keep Control) with the smaller posterior expected loss,
  ``min(E[max(0, c - t)], E[max(0, t - c)])``, and average over experiments. Shown
  under the planned lift and under no lift at all (A/A), where it shrinks slowest, like
  1/sqrt(n). The test can stop once it is under the threshold of caring.

The simulation is vectorised over experiments and uses common random numbers (the same
uniforms turned into Binomial counts by the inverse CDF at every n), so the curves are
smooth and nearly monotone in n; the sample size where a curve reaches the target is
found by bisection on n with the same uniforms (to 0.1%). The posterior of the
difference is summarised by its exact Beta moments and treated as Normal
(``method="normal"``, fast); ``method="draws"`` uses Beta posterior draws instead (a test
checks they agree).

Every option is checked before any work: a lift so small that the test would need more
than ``MAX_TOTAL_N`` customers is refused with one message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.errors import OptionError

__all__ = ["Plan", "PlanPoint", "plan_sample_size", "frequentist_total_n", "power_at",
           "statsmodels_total_n", "bayesian_power_total_n_normal", "frequentist_assurance",
           "matched_prob_threshold", "MAX_TOTAL_N"]

#: Threshold of caring for the expected loss, in rate units (0.1 percentage point); the
#: same default as `bayes_ab.stats.decision.DEFAULT_THRESHOLD_OF_CARING`.
DEFAULT_LOSS_THRESHOLD = 0.001
DEFAULT_SIMS = 4000
DEFAULT_DRAWS = 1000
#: Largest total sample size planned (a billion customers): beyond it the lift is too
#: small to test, and the simulation's counts would stop being exact integers.
MAX_TOTAL_N = 1_000_000_000
#: Most simulated experiments per sample size (memory: a few arrays of this length).
MAX_SIMS = 1_000_000


def matched_prob_threshold(alpha: float, two_sided: bool = True) -> float:
    """The posterior P(Test better) threshold with the frequentist test's error rate in the
    planned direction: 1 - alpha/2 (two-sided) or 1 - alpha (one-sided)."""
    return 1.0 - (alpha / 2 if two_sided else alpha)


@dataclass(frozen=True)
class PlanPoint:
    """The curves at one total sample size."""

    n_total: int
    n_test: int
    n_control: int
    power: float  # frequentist, closed form, at lift = mde
    bayesian_power: float  # P(posterior P(better) > threshold), lift = mde
    assurance: float  # the same, lift drawn from the design prior
    frequentist_assurance: float  # z-test power in the planned direction, averaged over it
    expected_loss: float  # best action's expected loss, true lift = mde
    expected_loss_null: float  # same, true lift = 0

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Plan:
    baseline: float
    target: float  # Test's rate under the planned lift
    mde_abs: float
    mde_rel: float
    split: float
    alpha: float
    power: float
    two_sided: bool
    n_total: int  # frequentist, closed form
    n_test: int
    n_control: int
    n_total_statsmodels: float  # arcsine effect size, for comparison
    prob_threshold: float
    prob_threshold_source: str
    one_sided_level: float  # the error rate in the planned direction of the Bayesian rule
    n_total_frequentist_same_level: int  # z-test, one-sided at `one_sided_level`
    n_total_bayesian_power: int | None  # simulated, bisection
    n_total_bayesian_power_normal: float  # closed form, normal approximation, flat prior
    bayesian_power_mc_rel_se: float | None  # Monte-Carlo relative se of the simulated n
    design_sd: float  # absolute lift units
    design_prior_ceiling: float  # P(lift in the planned direction) under the design prior
    n_total_assurance: int | None
    assurance_mc_rel_se: float | None
    n_total_frequentist_assurance: int | None
    n_total_loss_null: int | None  # smallest n on the grid with A/A expected loss <= threshold
    loss_threshold: float
    prior: tuple[float, float]
    n_sims: int
    seed: int
    method: str
    curve: tuple[PlanPoint, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "inputs": {
                "baseline": self.baseline, "target": self.target, "mde_abs": self.mde_abs,
                "mde_rel": self.mde_rel, "split": self.split, "alpha": self.alpha,
                "power": self.power, "two_sided": self.two_sided,
            },
            "error_rate": {
                "one_sided_level": self.one_sided_level,
                "prob_threshold": self.prob_threshold,
                "prob_threshold_source": self.prob_threshold_source,
                "note": "P(Test better) > c with a flat prior is the one-sided z-test at "
                        "level 1 - c; the Bayesian and frequentist sample sizes below are "
                        "compared at the same one-sided level",
            },
            "frequentist": {
                "test": "two-proportion z (pooled under H0, Fleiss; statsmodels "
                        "power_proportions_2indep)",
                "n_total": self.n_total, "n_test": self.n_test, "n_control": self.n_control,
                "n_total_statsmodels_arcsine": self.n_total_statsmodels,
                "n_total_same_level_one_sided": self.n_total_frequentist_same_level,
                "n_total_assurance": self.n_total_frequentist_assurance,
            },
            "bayesian": {
                "prior": {"alpha": self.prior[0], "beta": self.prior[1]},
                "prob_threshold": self.prob_threshold,
                "loss_threshold": self.loss_threshold,
                "n_sims": self.n_sims, "seed": self.seed, "method": self.method,
                "n_total_bayesian_power": self.n_total_bayesian_power,
                "n_total_bayesian_power_mc_rel_se": self.bayesian_power_mc_rel_se,
                "n_total_bayesian_power_normal_approximation":
                    self.n_total_bayesian_power_normal,
                "design_prior": {"distribution": "Normal", "mean": self.mde_abs,
                                 "sd": self.design_sd, "ceiling": self.design_prior_ceiling},
                "n_total_assurance": self.n_total_assurance,
                "n_total_assurance_mc_rel_se": self.assurance_mc_rel_se,
                "n_total_loss_null": self.n_total_loss_null,
            },
            "curve": [p.to_dict() for p in self.curve],
        }

    def summary(self) -> str:
        def simulated(v, rel_se, why: str) -> str:
            if v is None:
                return why
            about = f"about {float(f'{v:.3g}'):,.0f} customers"
            return about + (f" (Monte Carlo +/- {rel_se:.1%})" if rel_se else "")

        side = "two-sided" if self.two_sided else "one-sided"
        level = self.one_sided_level
        matched = bool(np.isclose(level, self.alpha / 2 if self.two_sided else self.alpha))
        # "Better" is in the direction of the planned lift.
        thr = f"P(Test {'better' if self.mde_abs > 0 else 'worse'}) > {self.prob_threshold:g}"
        lines = [
            f"Control {self.baseline:.4f} vs Test {self.target:.4f} (lift {self.mde_abs:+.4f}, "
            f"{self.mde_rel:+.1%}), {self.split:.0%} of customers in Test.",
        ]
        if matched:
            lines.append(
                f"Error rate: {side} alpha {self.alpha:g}, i.e. {level:.3g} in the planned "
                f"direction; the Bayesian rule at the same rate is posterior {thr} (with a "
                "flat prior, posterior P > c is the one-sided z-test at 1 - c).")
        else:
            lines.append(
                f"Error rate: the z-test is {side} at alpha {self.alpha:g}; the Bayesian rule "
                f"posterior {thr} (given) is a one-sided {level:.3g} rule, so it is compared "
                f"with the one-sided z-test at {level:.3g}, not with the {side} test.")
        lines.append(f"Power {self.power:.0%} at a lift of exactly {self.mde_abs:+.4f}:")
        lines.append(f"  z-test, {side} {self.alpha:g}: {self.n_total:,} customers "
                     f"({self.n_test:,} Test + {self.n_control:,} Control); statsmodels, "
                     f"arcsine h: {self.n_total_statsmodels:,.0f}")
        if not matched:
            lines.append(f"  z-test, one-sided {level:.3g} (the Bayesian rule's level): "
                         f"{self.n_total_frequentist_same_level:,} customers")
        lines.append(
            f"  Bayesian power, {thr}: "
            + simulated(self.n_total_bayesian_power, self.bayesian_power_mc_rel_se,
                        "beyond the largest n tried")
            + f"; normal approximation {self.n_total_bayesian_power_normal:,.0f}")
        ceiling = f"{self.design_prior_ceiling:.1%}"
        never = (f"never (at most {ceiling}, the design prior's chance of a lift in this "
                 "direction)")
        lines.append(
            f"Assurance {self.power:.0%}, the lift drawn from a design prior Normal("
            f"{self.mde_abs:+.4f}, sd {self.design_sd:.4f}) (at most {ceiling}, the prior's "
            "chance of a lift in this direction):")
        lines.append(
            "  z-test at the same level: "
            + (f"{self.n_total_frequentist_assurance:,} customers"
               if self.n_total_frequentist_assurance is not None else never))
        lines.append(f"  Bayesian, {thr}: "
                     + simulated(self.n_total_assurance, self.assurance_mc_rel_se, never))
        lo = (f"about {self.n_total_loss_null:,} customers" if self.n_total_loss_null
              is not None else "more customers than the grid holds")
        lines.append(f"Expected loss: under no lift (A/A) the best action's expected loss "
                     f"falls under {self.loss_threshold:g} at {lo}.")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- frequentist


def _z(alpha: float, two_sided: bool) -> float:
    return float(stats.norm.isf(alpha / 2 if two_sided else alpha))


def frequentist_total_n(baseline: float, target: float, *, split: float = DESIGN_TEST_SHARE,
                        alpha: float = 0.05, power: float = 0.8,
                        two_sided: bool = True) -> float:
    """Total N (not rounded) of the closed form in the module docstring."""
    s, pc, pt = split, baseline, target
    d = pt - pc
    pbar = (1 - s) * pc + s * pt
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 / s + 1 / (1 - s)))
    alt_sd = math.sqrt(pc * (1 - pc) / (1 - s) + pt * (1 - pt) / s)
    return (_z(alpha, two_sided) * null_sd + float(stats.norm.ppf(power)) * alt_sd) ** 2 / d**2


def power_at(n_total, baseline: float, target: float, *, split: float = DESIGN_TEST_SHARE,
             alpha: float = 0.05, two_sided: bool = True) -> np.ndarray:
    """Power of the same test at total size(s) `n_total` (the far tail ignored)."""
    n = np.asarray(n_total, float)
    s, pc, pt = split, baseline, target
    pbar = (1 - s) * pc + s * pt
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 / s + 1 / (1 - s)))
    alt_sd = math.sqrt(pc * (1 - pc) / (1 - s) + pt * (1 - pt) / s)
    return stats.norm.cdf((abs(pt - pc) * np.sqrt(n) - _z(alpha, two_sided) * null_sd) / alt_sd)


def statsmodels_total_n(baseline: float, target: float, *, split: float = DESIGN_TEST_SHARE,
                        alpha: float = 0.05, power: float = 0.8, two_sided: bool = True) -> float:
    """statsmodels' answer: NormalIndPower on Cohen's h, nobs1 = Control, ratio = Test/Control."""
    from statsmodels.stats.power import NormalIndPower  # lazy: slow import
    from statsmodels.stats.proportion import proportion_effectsize

    h = abs(float(proportion_effectsize(target, baseline)))
    ratio = split / (1 - split)
    n_control = NormalIndPower().solve_power(
        effect_size=h, alpha=alpha, power=power, ratio=ratio,
        alternative="two-sided" if two_sided else "larger")
    return float(np.asarray(n_control).item() * (1 + ratio))


def bayesian_power_total_n_normal(baseline: float, target: float, *,
                                  split: float = DESIGN_TEST_SHARE, prob_threshold: float,
                                  power: float = 0.8) -> float:
    """Total N at which P(posterior P(Test better) > c) = power, for large n and a flat
    prior: the posterior of the difference is about Normal(d_hat, sd) with the unpooled
    sd, so the rule is d_hat / sd > z_c and N = (z_c + z_{power})^2 (p_c q_c / (1 - s) +
    p_t q_t / s) / d^2 (Fleiss' formula with the unpooled variance under the null too)."""
    s, pc, pt = split, baseline, target
    var = pc * (1 - pc) / (1 - s) + pt * (1 - pt) / s
    z = float(stats.norm.ppf(prob_threshold)) + float(stats.norm.ppf(power))
    return z * z * var / (pt - pc) ** 2


def _directional_power(n_total, baseline: float, lift: np.ndarray, *, split: float,
                       level: float, direction: float) -> np.ndarray:
    """Power of the one-sided z-test at ``level`` in the planned direction, for each lift."""
    s, pc = split, baseline
    pt = np.clip(baseline + lift, 1e-9, 1 - 1e-9)
    pbar = (1 - s) * pc + s * pt
    null_sd = np.sqrt(pbar * (1 - pbar) * (1 / s + 1 / (1 - s)))
    alt_sd = np.sqrt(pc * (1 - pc) / (1 - s) + pt * (1 - pt) / s)
    z = float(stats.norm.isf(level))
    return stats.norm.cdf((direction * (pt - pc) * np.sqrt(n_total) - z * null_sd) / alt_sd)


def frequentist_assurance(n_total, baseline: float, mde_abs: float, design_sd: float, *,
                          split: float = DESIGN_TEST_SHARE, level: float = 0.025,
                          nodes: int = 80) -> float:
    """The z-test's power in the planned direction (one-sided ``level``) averaged over a
    Normal(mde_abs, design_sd) design prior on the lift (Gauss-Hermite quadrature)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    lift = mde_abs + design_sd * x
    direction = 1.0 if mde_abs > 0 else -1.0
    pw = _directional_power(float(n_total), baseline, lift, split=split, level=level,
                            direction=direction)
    return float(np.sum(w * pw) / np.sum(w))


# ----------------------------------------------------------------------------- Bayesian


def _normal_losses(mu: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[max(0, -D)], E[max(0, D)] for D ~ Normal(mu, sd): losses of shipping / keeping."""
    z = mu / sd
    pdf, cdf = stats.norm.pdf(z), stats.norm.cdf(z)
    return sd * pdf - mu * (1 - cdf), sd * pdf + mu * cdf


def _beta_moments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    return a / s, a * b / (s * s * (s + 1))


def _posterior_summaries(y_c, n_c, y_t, n_t, *, prior, method, rng, n_draws):
    """Per simulated experiment: P(t > c) and the smaller expected loss."""
    a0, b0 = prior
    a_c, b_c = a0 + y_c, b0 + n_c - y_c
    a_t, b_t = a0 + y_t, b0 + n_t - y_t
    if method == "normal":
        m_c, v_c = _beta_moments(a_c, b_c)
        m_t, v_t = _beta_moments(a_t, b_t)
        mu, sd = m_t - m_c, np.sqrt(v_c + v_t)
        ship, keep = _normal_losses(mu, sd)
        return stats.norm.cdf(mu / sd), np.minimum(ship, keep)
    c = rng.beta(a_c[:, None], b_c[:, None], (a_c.size, n_draws))
    t = rng.beta(a_t[:, None], b_t[:, None], (a_t.size, n_draws))
    diff = t - c
    ship, keep = np.maximum(0, -diff).mean(1), np.maximum(0, diff).mean(1)
    return (diff > 0).mean(1), np.minimum(ship, keep)


def _default_grid(n_freq: float) -> np.ndarray:
    grid = np.geomspace(max(n_freq / 10, 20), min(n_freq * 4, MAX_TOTAL_N), 17)
    return np.unique(np.round(grid).astype(np.int64))


def _first_crossing(ns: np.ndarray, values: np.ndarray, level: float, *, above: bool):
    """Smallest n where the curve crosses `level`, linear interpolation between grid points."""
    ok = values >= level if above else values <= level
    if not ok.any():
        return None
    i = int(np.argmax(ok))
    if i == 0:
        return int(ns[0])
    v0, v1 = values[i - 1], values[i]
    frac = (level - v0) / (v1 - v0) if v1 != v0 else 1.0
    return int(math.ceil(ns[i - 1] + frac * (ns[i] - ns[i - 1])))


def _mc_rel_se(ns: np.ndarray, values: np.ndarray, n_cross: int | None, level: float,
               n_sims: int) -> float | None:
    """Monte-Carlo relative standard error of a simulated crossing n: the binomial se of
    the curve at ``level`` over its slope in log n (from the grid points around n)."""
    if n_cross is None or ns.size < 2:
        return None
    i = int(np.clip(np.searchsorted(ns, n_cross), 1, ns.size - 1))
    slope = (values[i] - values[i - 1]) / math.log(ns[i] / ns[i - 1])
    if not slope > 0:
        return None
    return float(math.sqrt(level * (1 - level) / n_sims) / slope)


def _solve_n(f, level: float, *, start: int, rel_tol: float = 1e-3) -> int | None:
    """Smallest n (to ``rel_tol``) with f(n) >= level, f increasing in n up to Monte-Carlo
    noise: a bracket by doubling from ``start`` (at most to MAX_TOTAL_N), then bisection."""
    hi = min(max(int(start), 2), MAX_TOTAL_N)
    if f(hi) >= level:  # bracket downwards
        lo = hi // 2
        while lo >= 2 and f(lo) >= level:
            hi, lo = lo, lo // 2
        lo = max(lo, 1)
    else:  # bracket upwards
        lo = hi
        while f(hi) < level:
            if hi >= MAX_TOTAL_N:
                return None
            lo, hi = hi, min(hi * 2, MAX_TOTAL_N)
    while hi - lo > max(1, rel_tol * lo):
        mid = (lo + hi) // 2
        if f(mid) >= level:
            hi = mid
        else:
            lo = mid
    return int(hi)


def plan_sample_size(
    *,
    baseline: float,
    mde: float,
    split: float = DESIGN_TEST_SHARE,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
    two_sided: bool = True,
    n_grid=None,
    prior: tuple[float, float] = (1.0, 1.0),
    prob_threshold: float | None = None,
    design_sd: float | None = None,
    loss_threshold: float = DEFAULT_LOSS_THRESHOLD,
    n_sims: int = DEFAULT_SIMS,
    seed: int = 0,
    method: str = "normal",
    n_draws: int = DEFAULT_DRAWS,
) -> Plan:
    """Frequentist sample size and the Bayesian power / assurance / expected-loss curves.

    ``mde`` is absolute (0.01 = one percentage point) unless ``relative`` (0.01 = 1% of
    the baseline); ``design_sd`` (the design prior's sd) is in the same units (default
    |mde| / 2). ``split`` is the share of customers in Test. ``prob_threshold`` defaults to
    the frequentist error rate (:func:`matched_prob_threshold`).
    """
    _check(baseline=baseline, mde=mde, split=split, alpha=alpha, power=power,
           relative=relative, prior=prior, prob_threshold=prob_threshold, n_sims=n_sims,
           method=method, design_sd=design_sd, loss_threshold=loss_threshold, seed=seed,
           n_draws=n_draws)
    target = baseline * (1 + mde) if relative else baseline + mde
    if not 0 < target < 1:
        raise OptionError(f"baseline + lift = {target:.4g} is not a rate in (0, 1)")
    mde_abs = target - baseline
    n_freq = frequentist_total_n(baseline, target, split=split, alpha=alpha, power=power,
                                 two_sided=two_sided)
    if not n_freq <= MAX_TOTAL_N:
        raise OptionError(
            f"--mde {mde:g} is too small a lift: detecting it with power {power:.0%} would "
            f"take about {n_freq:.2g} customers, more than the {MAX_TOTAL_N:,} this planner "
            "handles; plan a larger lift")
    n_total = int(math.ceil(n_freq))
    n_test = int(math.ceil(n_total * split))
    if prob_threshold is None:
        prob_threshold = matched_prob_threshold(alpha, two_sided)
        threshold_source = (f"matched to the {'two' if two_sided else 'one'}-sided alpha "
                            f"{alpha:g}")
    else:
        threshold_source = "given"
    level = 1.0 - prob_threshold
    n_same = int(math.ceil(frequentist_total_n(baseline, target, split=split, alpha=level,
                                               power=power, two_sided=False)))
    sd_abs = (abs(mde_abs) / 2 if design_sd is None
              else design_sd * baseline if relative else design_sd)
    direction = 1.0 if mde_abs > 0 else -1.0
    ceiling = float(stats.norm.cdf(abs(mde_abs) / sd_abs))
    ns = _default_grid(n_freq) if n_grid is None else np.unique(np.asarray(n_grid, np.int64))
    if ns.size == 0 or ns.min() < 2 or ns.max() > MAX_TOTAL_N:
        raise OptionError(f"every n in the grid must be from 2 to {MAX_TOTAL_N:,}")

    rng = np.random.default_rng(seed)
    # Common random numbers: the same uniforms become the counts at every n.
    u_c, u_t, u_c0, u_t0 = rng.random((4, n_sims))
    # The design prior's lifts (one per simulated experiment), kept inside (0, 1).
    lifts = mde_abs + sd_abs * rng.standard_normal(n_sims)
    targets = np.clip(baseline + lifts, 1e-9, 1 - 1e-9)

    def arms(n: int) -> tuple[int, int]:
        nt = max(1, int(round(n * split)))
        return nt, max(1, int(n) - nt)

    def wins(p_better: np.ndarray) -> np.ndarray:
        # "Test better" means in the direction of the planned lift.
        return (p_better if direction > 0 else 1 - p_better) > prob_threshold

    def bayes_power(n: int) -> tuple[float, float]:
        nt, nc = arms(n)
        y_c = stats.binom.ppf(u_c, nc, baseline)
        p_better, loss = _posterior_summaries(y_c, nc, stats.binom.ppf(u_t, nt, target), nt,
                                              prior=prior, method=method, rng=rng,
                                              n_draws=n_draws)
        return float(np.mean(wins(p_better))), float(np.mean(loss))

    def assurance(n: int) -> float:
        nt, nc = arms(n)
        y_c = stats.binom.ppf(u_c, nc, baseline)
        p_better, _ = _posterior_summaries(y_c, nc, stats.binom.ppf(u_t, nt, targets), nt,
                                           prior=prior, method=method, rng=rng,
                                           n_draws=n_draws)
        return float(np.mean(wins(p_better)))

    def freq_assurance(n: int) -> float:
        return frequentist_assurance(n, baseline, mde_abs, sd_abs, split=split, level=level)

    points = []
    for n in ns:
        nt, nc = arms(int(n))
        b_power, loss = bayes_power(int(n))
        # A/A: both arms at the baseline.
        y_c0 = stats.binom.ppf(u_c0, nc, baseline)
        y_t0 = stats.binom.ppf(u_t0, nt, baseline)
        _, loss0 = _posterior_summaries(y_c0, nc, y_t0, nt, prior=prior, method=method,
                                        rng=rng, n_draws=n_draws)
        points.append(PlanPoint(
            n_total=int(n), n_test=nt, n_control=nc,
            power=float(power_at(n, baseline, target, split=split, alpha=alpha,
                                 two_sided=two_sided)),
            bayesian_power=b_power, assurance=assurance(int(n)),
            frequentist_assurance=freq_assurance(int(n)),
            expected_loss=loss, expected_loss_null=float(np.mean(loss0))))
    loss_null = np.array([p.expected_loss_null for p in points])
    n_normal = bayesian_power_total_n_normal(baseline, target, split=split,
                                             prob_threshold=prob_threshold, power=power)
    reachable = power < ceiling
    n_bayes = _solve_n(lambda n: bayes_power(n)[0], power, start=max(2, int(n_normal)))
    n_assur = _solve_n(assurance, power, start=max(2, int(n_normal))) if reachable else None
    return Plan(
        baseline=float(baseline), target=float(target), mde_abs=float(mde_abs),
        mde_rel=float(mde_abs / baseline), split=float(split), alpha=float(alpha),
        power=float(power), two_sided=bool(two_sided), n_total=n_total, n_test=n_test,
        n_control=n_total - n_test,
        n_total_statsmodels=statsmodels_total_n(baseline, target, split=split, alpha=alpha,
                                                power=power, two_sided=two_sided),
        prob_threshold=float(prob_threshold), prob_threshold_source=threshold_source,
        one_sided_level=float(level), n_total_frequentist_same_level=n_same,
        n_total_bayesian_power=n_bayes, n_total_bayesian_power_normal=float(n_normal),
        bayesian_power_mc_rel_se=_mc_rel_se(
            ns, np.array([p.bayesian_power for p in points]), n_bayes, power, n_sims),
        design_sd=float(sd_abs), design_prior_ceiling=ceiling,
        n_total_assurance=n_assur,
        assurance_mc_rel_se=_mc_rel_se(
            ns, np.array([p.assurance for p in points]), n_assur, power, n_sims),
        n_total_frequentist_assurance=(_solve_n(freq_assurance, power,
                                                start=max(2, int(n_same)), rel_tol=1e-6)
                                       if reachable else None),
        n_total_loss_null=_first_crossing(ns, loss_null, loss_threshold, above=False),
        loss_threshold=float(loss_threshold),
        prior=(float(prior[0]), float(prior[1])), n_sims=int(n_sims), seed=int(seed),
        method=method, curve=tuple(points),
    )


def _number(value, option: str) -> float:
    """A finite real number (bool and strings refused), else an OptionError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OptionError(f"{option} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise OptionError(f"{option} must be a finite number, got {value}")
    return float(value)


def _check(*, baseline, mde, split, alpha, power, relative, prior, prob_threshold, n_sims,
           method, design_sd=None, loss_threshold=DEFAULT_LOSS_THRESHOLD, seed=0,
           n_draws=DEFAULT_DRAWS) -> None:
    baseline = _number(baseline, "--baseline")
    if not 0 < baseline < 1:
        raise OptionError(f"--baseline must be a rate in (0, 1), got {baseline}")
    mde = _number(mde, "--mde")
    if mde == 0:
        raise OptionError("--mde must be a non-zero lift")
    if not 0 < _number(split, "--split") < 1:
        raise OptionError(f"--split (share in Test) must be in (0, 1), got {split}")
    if not 0 < _number(alpha, "--alpha") < 1:
        raise OptionError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0 < _number(power, "--power") < 1:
        raise OptionError(f"--power must be in (0, 1), got {power}")
    if prob_threshold is not None and not 0.5 <= _number(prob_threshold,
                                                         "--prob-threshold") < 1:
        raise OptionError(f"--prob-threshold must be in [0.5, 1), got {prob_threshold}")
    if design_sd is not None and not _number(design_sd, "--design-sd") > 0:
        raise OptionError(f"--design-sd must be a positive lift, got {design_sd}")
    if not _number(loss_threshold, "--loss-threshold") > 0:
        raise OptionError(f"--loss-threshold must be positive, got {loss_threshold}")
    if len(prior) != 2 or min(_number(v, "prior") for v in prior) <= 0:
        raise OptionError("Beta prior parameters must be > 0")
    if isinstance(n_sims, bool) or int(n_sims) != n_sims or not 10 <= n_sims <= MAX_SIMS:
        raise OptionError(f"--sims must be a whole number from 10 to {MAX_SIMS:,}, "
                          f"got {n_sims}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise OptionError(f"--seed must be a non-negative whole number, got {seed}")
    if method not in ("normal", "draws"):
        raise OptionError(f"method must be 'normal' or 'draws', got {method!r}")
    if method == "draws" and not 10 <= n_draws <= 100_000:
        raise OptionError(f"n_draws must be from 10 to 100,000, got {n_draws}")
