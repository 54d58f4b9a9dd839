"""How many customers does a two-arm conversion test need? Frequentist and Bayesian answers.

Frequentist (closed form): the two-proportion z-test with unequal allocation. With a
share ``s`` of the N customers in Test, rates ``p_c`` (Control = baseline) and ``p_t``
(Test = baseline + lift), ``d = p_t - p_c`` and ``p_bar = (1 - s) p_c + s p_t``:

    N = [ z_{1-a/2} sqrt(p_bar q_bar (1/s + 1/(1-s))) + z_{1-b} sqrt(p_c q_c/(1-s) + p_t q_t/s) ]^2 / d^2

(pooled variance under the null, unpooled under the alternative: Fleiss' formula; for an
equal split it gives the textbook 3,841 per arm for 10% vs 12%, alpha 0.05 two-sided,
power 0.8). Cross-checked against statsmodels' ``NormalIndPower`` on Cohen's arcsine
effect size h, which differs by well under 1%.

Bayesian (pre-posterior simulation): for each total sample size n on a grid, simulate
``n_sims`` experiments under the assumed truth, update independent Beta priors
(Beta-Binomial conjugacy) and record

* **assurance**: the share of simulated experiments whose posterior has
  P(test > control) > ``prob_threshold`` (0.95), the truth being lift = mde: the
  Bayesian analogue of power;
* **expected loss** of the best action: after each simulated experiment, take the action
  (ship Test / keep Control) with the smaller posterior expected loss,
  ``min(E[max(0, c - t)], E[max(0, t - c)])``, and average over experiments. Shown
  under the planned lift and under no lift at all (A/A), where it shrinks slowest, like
  1/sqrt(n). The test can stop once it is under the threshold of caring.

The simulation is vectorised over experiments and uses common random numbers (the same
uniforms turned into Binomial counts by the inverse CDF at every n), so the curves are
smooth and monotone in n up to Monte-Carlo error. The posterior of the difference is
summarised by its exact Beta moments and treated as Normal (``method="normal"``, fast);
``method="draws"`` uses Beta posterior draws instead (a test checks they agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.errors import OptionError

__all__ = ["Plan", "PlanPoint", "plan_sample_size", "frequentist_total_n", "power_at",
           "statsmodels_total_n", "plot_plan"]

#: Posterior P(test better) that counts as a success in the assurance.
DEFAULT_PROB_THRESHOLD = 0.95
#: Threshold of caring for the expected loss, in rate units (0.1 percentage point); the
#: same default as `bayes_ab.decision.DEFAULT_THRESHOLD_OF_CARING`.
DEFAULT_LOSS_THRESHOLD = 0.001
DEFAULT_SIMS = 4000
DEFAULT_DRAWS = 1000


@dataclass(frozen=True)
class PlanPoint:
    """The curves at one total sample size."""

    n_total: int
    n_test: int
    n_control: int
    power: float  # frequentist, closed form
    assurance: float
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
    n_total_assurance: int | None  # smallest n on the grid with assurance >= power
    n_total_loss_null: int | None  # smallest n on the grid with A/A expected loss <= threshold
    prob_threshold: float
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
            "frequentist": {
                "test": "two-proportion z (pooled under H0, Fleiss)",
                "n_total": self.n_total, "n_test": self.n_test, "n_control": self.n_control,
                "n_total_statsmodels_arcsine": self.n_total_statsmodels,
            },
            "bayesian": {
                "prior": {"alpha": self.prior[0], "beta": self.prior[1]},
                "prob_threshold": self.prob_threshold,
                "loss_threshold": self.loss_threshold,
                "n_sims": self.n_sims, "seed": self.seed, "method": self.method,
                "n_total_assurance": self.n_total_assurance,
                "n_total_loss_null": self.n_total_loss_null,
            },
            "curve": [p.to_dict() for p in self.curve],
        }

    def summary(self) -> str:
        lines = [
            f"Control {self.baseline:.4f} vs Test {self.target:.4f} (lift {self.mde_abs:+.4f}, "
            f"{self.mde_rel:+.1%}), {self.split:.0%} of customers in Test.",
            f"Frequentist: {self.n_total:,} customers ({self.n_test:,} Test + "
            f"{self.n_control:,} Control) for power {self.power:.0%} at alpha {self.alpha} "
            f"({'two' if self.two_sided else 'one'}-sided); statsmodels (arcsine h): "
            f"{self.n_total_statsmodels:,.0f}.",
        ]
        a = (f"{self.n_total_assurance:,}" if self.n_total_assurance is not None
             else "beyond the grid")
        lo = (f"{self.n_total_loss_null:,}" if self.n_total_loss_null is not None
              else "beyond the grid")
        lines.append(
            f"Bayesian: assurance P(posterior P(test better) > {self.prob_threshold}) reaches "
            f"{self.power:.0%} at about {a} customers; the A/A expected loss of the best "
            f"action falls under {self.loss_threshold} at about {lo}.")
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
    grid = np.geomspace(max(n_freq / 10, 20), n_freq * 4, 17)
    return np.unique(np.round(grid).astype(int))


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
    prob_threshold: float = DEFAULT_PROB_THRESHOLD,
    loss_threshold: float = DEFAULT_LOSS_THRESHOLD,
    n_sims: int = DEFAULT_SIMS,
    seed: int = 0,
    method: str = "normal",
    n_draws: int = DEFAULT_DRAWS,
) -> Plan:
    """Frequentist sample size and the Bayesian assurance / expected-loss curves.

    ``mde`` is absolute (0.01 = one percentage point) unless ``relative`` (0.01 = 1% of
    the baseline). ``split`` is the share of customers in Test.
    """
    _check(baseline=baseline, mde=mde, split=split, alpha=alpha, power=power,
           relative=relative, prior=prior, prob_threshold=prob_threshold, n_sims=n_sims,
           method=method)
    target = baseline * (1 + mde) if relative else baseline + mde
    if not 0 < target < 1:
        raise OptionError(f"baseline + lift = {target:.4g} is not a rate in (0, 1)")
    n_freq = frequentist_total_n(baseline, target, split=split, alpha=alpha, power=power,
                                 two_sided=two_sided)
    n_total = int(math.ceil(n_freq))
    n_test = int(math.ceil(n_total * split))
    ns = _default_grid(n_freq) if n_grid is None else np.unique(np.asarray(n_grid, int))
    if ns.size == 0 or ns.min() < 2:
        raise OptionError("every n in the grid must be >= 2")

    rng = np.random.default_rng(seed)
    # Common random numbers: the same uniforms become the counts at every n.
    u_c, u_t, u_c0, u_t0 = rng.random((4, n_sims))
    points = []
    for n in ns:
        nt = max(1, int(round(n * split)))
        nc = max(1, int(n) - nt)
        y_c = stats.binom.ppf(u_c, nc, baseline)
        y_t = stats.binom.ppf(u_t, nt, target)
        p_better, loss = _posterior_summaries(y_c, nc, y_t, nt, prior=prior, method=method,
                                              rng=rng, n_draws=n_draws)
        # A/A: both arms at the baseline.
        y_c0 = stats.binom.ppf(u_c0, nc, baseline)
        y_t0 = stats.binom.ppf(u_t0, nt, baseline)
        _, loss0 = _posterior_summaries(y_c0, nc, y_t0, nt, prior=prior, method=method,
                                        rng=rng, n_draws=n_draws)
        # "Test better" means in the direction of the planned lift.
        success = p_better > prob_threshold if target > baseline else (1 - p_better) > prob_threshold
        points.append(PlanPoint(
            n_total=int(n), n_test=nt, n_control=nc,
            power=float(power_at(n, baseline, target, split=split, alpha=alpha,
                                 two_sided=two_sided)),
            assurance=float(np.mean(success)), expected_loss=float(np.mean(loss)),
            expected_loss_null=float(np.mean(loss0))))
    assurance = np.array([p.assurance for p in points])
    loss_null = np.array([p.expected_loss_null for p in points])
    return Plan(
        baseline=float(baseline), target=float(target), mde_abs=float(target - baseline),
        mde_rel=float((target - baseline) / baseline), split=float(split), alpha=float(alpha),
        power=float(power), two_sided=bool(two_sided), n_total=n_total, n_test=n_test,
        n_control=n_total - n_test,
        n_total_statsmodels=statsmodels_total_n(baseline, target, split=split, alpha=alpha,
                                                power=power, two_sided=two_sided),
        n_total_assurance=_first_crossing(ns, assurance, power, above=True),
        n_total_loss_null=_first_crossing(ns, loss_null, loss_threshold, above=False),
        prob_threshold=float(prob_threshold), loss_threshold=float(loss_threshold),
        prior=(float(prior[0]), float(prior[1])), n_sims=int(n_sims), seed=int(seed),
        method=method, curve=tuple(points),
    )


def _check(*, baseline, mde, split, alpha, power, relative, prior, prob_threshold, n_sims,
           method) -> None:
    if not 0 < baseline < 1:
        raise OptionError(f"--baseline must be a rate in (0, 1), got {baseline}")
    if mde == 0 or not math.isfinite(mde):
        raise OptionError("--mde must be a non-zero lift")
    if not 0 < split < 1:
        raise OptionError(f"--split (share in Test) must be in (0, 1), got {split}")
    if not 0 < alpha < 1:
        raise OptionError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise OptionError(f"--power must be in (0, 1), got {power}")
    if not 0.5 <= prob_threshold < 1:
        raise OptionError(f"probability threshold must be in [0.5, 1), got {prob_threshold}")
    if min(prior) <= 0:
        raise OptionError("Beta prior parameters must be > 0")
    if n_sims < 10:
        raise OptionError("n_sims must be >= 10")
    if method not in ("normal", "draws"):
        raise OptionError(f"method must be 'normal' or 'draws', got {method!r}")


# ----------------------------------------------------------------------------- figure


def plot_plan(plan: Plan, *, path: str | Path | None = None):
    """Two panels vs total n: power & assurance; expected loss (planned lift and A/A).

    Returns the figure; saves it to `path` (and closes it) when given.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = np.array([p.n_total for p in plan.curve])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(n, [p.power for p in plan.curve], label="frequentist power (closed form)")
    ax1.plot(n, [p.assurance for p in plan.curve], marker="o", ms=3,
             label=f"assurance: P(test better) > {plan.prob_threshold}")
    ax1.axhline(plan.power, color="grey", lw=0.8, ls="--")
    ax1.axvline(plan.n_total, color="C0", lw=0.8, ls=":", label=f"N = {plan.n_total:,}")
    if plan.n_total_assurance:
        ax1.axvline(plan.n_total_assurance, color="C1", lw=0.8, ls=":",
                    label=f"assurance {plan.power:.0%} at {plan.n_total_assurance:,}")
    ax1.set(xscale="log", ylim=(0, 1), xlabel="total customers (both arms)",
            ylabel="probability", title=f"Lift {plan.mde_abs:+.4f} on {plan.baseline:.4f}")
    ax1.legend(fontsize=8, loc="upper left")
    ax2.plot(n, [p.expected_loss for p in plan.curve], marker="o", ms=3,
             label="true lift = mde")
    ax2.plot(n, [p.expected_loss_null for p in plan.curve], marker="o", ms=3,
             label="true lift = 0 (A/A)")
    ax2.axhline(plan.loss_threshold, color="grey", lw=0.8, ls="--",
                label=f"threshold of caring {plan.loss_threshold}")
    ax2.set(xscale="log", yscale="log", xlabel="total customers (both arms)",
            ylabel="expected loss of the best action (rate)",
            title="Expected loss after the test")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{plan.split:.0%} in Test; prior Beta{plan.prior}; {plan.n_sims} simulated "
                 "experiments per n", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig
