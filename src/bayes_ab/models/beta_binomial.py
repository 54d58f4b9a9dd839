"""Conjugate Beta-Binomial comparison of two or more arms, in closed form.

A binary metric (conversion, CS engagement) aggregated to counts per arm has an
exact Beta posterior under a Beta prior, so no sampler is needed:

    p_arm | data ~ Beta(alpha + successes, beta + trials - successes)

What is exact here and what is Monte Carlo:

* posterior mean and 95% HDI of each arm: exact (the HDI is the narrowest interval
  of mass ``HDI_PROB``, found by minimising its width over the lower tail mass);
* P(test > control): exact, by Evan Miller's finite sum when the test arm's alpha is
  an integer (it always is with integer counts and a Beta(1, 1) prior), otherwise by
  adaptive numerical integration of f_test(x) * F_control(x);
* expected loss E[max(0, other - chosen)]: exact, by the identity
  E[max(0, Y - X)] = E[Y] P(Y+ > X) - E[X] P(Y > X+), where Y+ ~ Beta(a_Y + 1, b_Y)
  (because y f_Y(y) = E[Y] f_{Y+}(y)); this is the Chris Stucchio / Evan Miller form;
* lift intervals (absolute and relative): HDI of seeded Monte Carlo draws, because the
  difference and ratio of two Betas have no convenient quantile function. Their means are
  exact: E[t - c] = E[t] - E[c] and E[t / c] = E[t] (a_c + b_c - 1) / (a_c - 1).

Everything returns frozen dataclasses; ``to_dict`` gives the RESULTS_SCHEMA shapes.
Only `scipy.special` is imported (`bayes_ab.inference.exact`: the same numbers as
`scipy.stats`, cheaper to import); the quadrature and ``BetaPosterior.dist`` import
`scipy.integrate` / `scipy.stats` when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special

from bayes_ab.constants import HDI_PROB
from bayes_ab.inference.exact import beta_ppf
from bayes_ab.inference.intervals import hdi_bounds
from bayes_ab.results import Interval, Result, to_jsonable

#: Draws used for lift intervals. 200k keeps the Monte-Carlo error of an HDI bound
#: well under 1% of the interval's width and costs a few milliseconds.
DEFAULT_N_DRAWS = 200_000

#: The exact sum has one term per unit of the integer alpha; beyond this many terms
#: adaptive quadrature is as accurate and cheaper.
_MAX_SUM_TERMS = 2_000_000

ProbMethod = Literal["auto", "sum", "quad"]

__all__ = [
    "DEFAULT_N_DRAWS",
    "BetaBinomialComparison",
    "BetaPosterior",
    "BetaPrior",
    "BinomialCounts",
    "Interval",
    "beta_hdi",
    "compare_arms",
    "compare_two",
    "expected_loss_of_choosing",
    "hdi_of_draws",
    "interval_of_draws",
    "posterior",
    "prob_best",
    "prob_beta_greater",
]


@dataclass(frozen=True)
class BinomialCounts:
    """Sufficient statistics of a binary metric in one arm."""

    successes: int
    trials: int

    def __post_init__(self) -> None:
        s, n = self.successes, self.trials
        if int(s) != s or int(n) != n:
            raise ValueError(f"counts must be whole numbers, got successes={s}, trials={n}")
        if n <= 0:
            raise ValueError(f"an arm needs at least one trial, got trials={n}")
        if not 0 <= s <= n:
            raise ValueError(f"successes must be in 0..trials, got {s} of {n}")
        # Normalise numpy integers so that dataclass equality and JSON output are plain ints.
        object.__setattr__(self, "successes", int(s))
        object.__setattr__(self, "trials", int(n))

    @property
    def failures(self) -> int:
        return self.trials - self.successes

    @property
    def rate(self) -> float:
        return self.successes / self.trials


@dataclass(frozen=True)
class BetaPrior:
    """Beta prior on a rate. The default Beta(1, 1) is uniform on [0, 1]: weakly
    informative for rates, and it keeps alpha an integer so P(test > control) is an exact sum."""

    alpha: float = 1.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"Beta prior needs alpha, beta > 0, got {self.alpha}, {self.beta}")


@dataclass(frozen=True)
class BetaPosterior:
    """A Beta(alpha, beta) distribution: the posterior of one arm's rate."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"Beta needs alpha, beta > 0, got {self.alpha}, {self.beta}")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def var(self) -> float:
        a, b = self.alpha, self.beta
        return a * b / ((a + b) ** 2 * (a + b + 1))

    @property
    def dist(self) -> Any:
        """The frozen ``scipy.stats.beta`` (imports scipy.stats)."""
        from scipy import stats

        return stats.beta(self.alpha, self.beta)

    def shifted(self) -> BetaPosterior:
        """Beta(alpha + 1, beta): its density is x f(x) / E[X] (size-biased)."""
        return BetaPosterior(self.alpha + 1, self.beta)

    def hdi(self, *, prob: float = HDI_PROB) -> Interval:
        lo, hi = beta_hdi(self.alpha, self.beta, prob=prob)
        return Interval(self.mean, lo, hi, prob)

    def draws(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        return rng.beta(self.alpha, self.beta, size=n)


def posterior(counts: BinomialCounts, *, prior: BetaPrior = BetaPrior()) -> BetaPosterior:
    """Conjugate update: Beta(prior.alpha + successes, prior.beta + failures)."""
    return BetaPosterior(prior.alpha + counts.successes, prior.beta + counts.failures)


def beta_hdi(alpha: float, beta: float, *, prob: float = HDI_PROB) -> tuple[float, float]:
    """Narrowest interval holding ``prob`` of a Beta(alpha, beta).

    Minimises ppf(q + prob) - ppf(q) over the lower tail mass q in [0, 1 - prob]. For a
    unimodal Beta the width is convex in q; for J-shaped ones (alpha or beta <= 1) the
    optimum is at an end, which is compared explicitly because a bounded Brent search
    never evaluates the bounds themselves.
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")

    def width(q: float) -> float:
        return float(beta_ppf(q + prob, alpha, beta) - beta_ppf(q, alpha, beta))

    from scipy.optimize import minimize_scalar  # here: 0.25 s to import, HDIs only

    tail = 1.0 - prob
    res = minimize_scalar(width, bounds=(0.0, tail), method="bounded",
                          options={"xatol": 1e-12})
    candidates = [(width(0.0), 0.0), (width(tail), tail), (float(res.fun), float(res.x))]
    _, q = min(candidates)
    return float(beta_ppf(q, alpha, beta)), float(beta_ppf(q + prob, alpha, beta))


def hdi_of_draws(draws: np.ndarray, *, prob: float = HDI_PROB) -> tuple[float, float]:
    """Narrowest interval holding ``prob`` of the draws: the project's one HDI rule
    (``bayes_ab.inference.intervals.hdi_bounds``), re-exported so that callers of this module need
    no second import."""
    return hdi_bounds(draws, prob=prob)


def interval_of_draws(
    draws: np.ndarray, *, prob: float = HDI_PROB, mean: float | None = None
) -> Interval:
    """Interval of draws: their mean (or the exact ``mean`` when known) and their HDI."""
    lo, hi = hdi_of_draws(draws, prob=prob)
    m = float(np.mean(draws)) if mean is None else float(mean)
    return Interval(m, lo, hi, prob)


def _is_whole(x: float) -> bool:
    return float(x).is_integer()


def _prob_greater_sum(x: BetaPosterior, y: BetaPosterior) -> float:
    """Evan Miller's exact P(X > Y) for integer x.alpha (any real x.beta, y.alpha, y.beta):

    sum_{i=0}^{a_x - 1} B(a_y + i, b_y + b_x) / ((b_x + i) B(1 + i, b_x) B(a_y, b_y)).
    """
    i = np.arange(int(x.alpha), dtype=float)
    log_terms = (
        special.betaln(y.alpha + i, y.beta + x.beta)
        - np.log(x.beta + i)
        - special.betaln(1.0 + i, x.beta)
        - special.betaln(y.alpha, y.beta)
    )
    return float(np.clip(np.exp(special.logsumexp(log_terms)), 0.0, 1.0))


def _prob_greater_quad(x: BetaPosterior, y: BetaPosterior) -> float:
    """P(X > Y) = integral of f_X(t) F_Y(t) dt, over the range where f_X has mass.

    Integrating over [0, 1] would let quad miss a posterior concentrated in a tiny
    sliver; the range below holds all but 2e-15 of X's mass.
    """
    from scipy import integrate

    dx, dy = x.dist, y.dist
    lo, hi = float(dx.ppf(1e-15)), float(dx.isf(1e-15))
    val, _ = integrate.quad(
        lambda t: dx.pdf(t) * dy.cdf(t), lo, hi, epsabs=1e-14, epsrel=1e-12, limit=500
    )
    return float(np.clip(val, 0.0, 1.0))


def prob_beta_greater(x: BetaPosterior, y: BetaPosterior, *, method: ProbMethod = "auto") -> float:
    """P(X > Y) for independent Betas, exactly.

    ``auto`` uses the finite sum when either alpha is an integer (using P(X > Y) =
    1 - P(Y > X)) and adaptive quadrature otherwise.
    """
    if method == "sum" or method == "auto":
        if _is_whole(x.alpha) and x.alpha <= _MAX_SUM_TERMS:
            return _prob_greater_sum(x, y)
        if _is_whole(y.alpha) and y.alpha <= _MAX_SUM_TERMS:
            return 1.0 - _prob_greater_sum(y, x)
        if method == "sum":
            raise ValueError("the exact sum needs an integer alpha in one of the two Betas")
    if method not in ("auto", "sum", "quad"):
        raise ValueError(f"unknown method {method!r}")
    return _prob_greater_quad(x, y)


def expected_loss_of_choosing(
    chosen: BetaPosterior, other: BetaPosterior, *, method: ProbMethod = "auto"
) -> float:
    """E[max(0, other - chosen)]: the rate given up, on average, by choosing ``chosen``.

    Closed form: E[other] P(other+ > chosen) - E[chosen] P(other > chosen+), where X+ is
    Beta(a_X + 1, b_X). Shipping Test ("double down") loses
    ``expected_loss_of_choosing(test, control)``; keeping Control ("pivot") loses
    ``expected_loss_of_choosing(control, test)``.
    """
    loss = other.mean * prob_beta_greater(other.shifted(), chosen, method=method) - chosen.mean * (
        prob_beta_greater(other, chosen.shifted(), method=method)
    )
    # The two terms nearly cancel when the loss is tiny; round-off may leave -1e-17.
    return max(float(loss), 0.0)


@dataclass(frozen=True)
class BetaBinomialComparison(Result):
    """One arm against control, everything a RESULTS_SCHEMA ARM_COMPARISON holds on the
    Bayesian side, plus the expected losses the decision module uses."""

    control_name: str
    test_name: str
    control_counts: BinomialCounts
    test_counts: BinomialCounts
    prior: BetaPrior
    control_posterior: BetaPosterior
    test_posterior: BetaPosterior
    control: Interval
    test: Interval
    lift_abs: Interval
    lift_rel: Interval
    prob_test_better: float
    expected_loss_double_down: float
    expected_loss_pivot: float
    n_draws: int
    seed: int | np.random.SeedSequence | None
    hdi_prob: float = HDI_PROB
    extra: Mapping[str, Any] = field(default_factory=dict)
    frequentist: Mapping[str, Any] | None = None

    json_fields: ClassVar = ("control", "test", "lift_abs", "lift_rel", "prob_test_better",
                             "frequentist", "expected_loss", "counts", "prior_rates")
    json_keys: ClassVar = {"prior_rates": "prior"}
    json_omit_none: ClassVar = frozenset({"frequentist"})

    @property
    def expected_loss(self) -> dict[str, float]:
        """Expected loss of each action, absolute: ``{double_down, pivot}``."""
        return {"double_down": float(self.expected_loss_double_down),
                "pivot": float(self.expected_loss_pivot)}

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {name: {"successes": c.successes, "trials": c.trials}
                for name, c in ((self.control_name, self.control_counts),
                                (self.test_name, self.test_counts))}

    @property
    def prior_rates(self) -> dict[str, float]:
        return {"alpha": float(self.prior.alpha), "beta": float(self.prior.beta)}

    def to_dict(self, *, frequentist: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ARM_COMPARISON keys ``control, test, lift_abs, lift_rel, prob_test_better``
        (plus ``frequentist`` when given, e.g. ``ProportionTest.to_dict()``), and extra keys
        ``expected_loss`` ({double_down, pivot}, absolute), ``counts`` and ``prior``."""
        block = self if frequentist is None else replace(self, frequentist=dict(frequentist))
        return to_jsonable(block)


def _rng_for(seed: int | np.random.SeedSequence | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def compare_two(
    control: BinomialCounts,
    test: BinomialCounts,
    *,
    prior: BetaPrior = BetaPrior(),
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int | np.random.SeedSequence | None = 0,
    prob: float = HDI_PROB,
    control_name: str = "Control",
    test_name: str = "Test",
) -> BetaBinomialComparison:
    """Compare ``test`` to ``control`` under independent Beta(prior) priors.

    ``seed`` (an int or a ``numpy.random.SeedSequence``) seeds only the lift-interval
    draws; every other number is exact and does not depend on it.
    """
    pc, pt = posterior(control, prior=prior), posterior(test, prior=prior)
    rng = _rng_for(seed)
    dc, dt = pc.draws(n_draws, rng=rng), pt.draws(n_draws, rng=rng)
    exact_rel_mean = (
        pt.mean * (pc.alpha + pc.beta - 1.0) / (pc.alpha - 1.0) - 1.0 if pc.alpha > 1 else None
    )
    return BetaBinomialComparison(
        control_name=control_name,
        test_name=test_name,
        control_counts=control,
        test_counts=test,
        prior=prior,
        control_posterior=pc,
        test_posterior=pt,
        control=pc.hdi(prob=prob),
        test=pt.hdi(prob=prob),
        lift_abs=interval_of_draws(dt - dc, prob=prob, mean=pt.mean - pc.mean),
        lift_rel=interval_of_draws(dt / dc - 1.0, prob=prob, mean=exact_rel_mean),
        prob_test_better=prob_beta_greater(pt, pc),
        expected_loss_double_down=expected_loss_of_choosing(pt, pc),
        expected_loss_pivot=expected_loss_of_choosing(pc, pt),
        n_draws=n_draws,
        seed=seed,
        hdi_prob=prob,
    )


def compare_arms(
    counts: Mapping[str, BinomialCounts],
    *,
    control: str,
    prior: BetaPrior = BetaPrior(),
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int | None = 0,
    prob: float = HDI_PROB,
) -> dict[str, BetaBinomialComparison]:
    """Each non-control arm against ``control`` (not against the best of the rest).

    Each comparison gets its own child seed (spawned in the order of ``counts``), so
    adding an arm does not change the draws of the arms before it.
    """
    if control not in counts:
        raise ValueError(f"control arm {control!r} not among arms {sorted(counts)}")
    others = [name for name in counts if name != control]
    if not others:
        raise ValueError("need at least one arm besides control")
    children = np.random.SeedSequence(seed).spawn(len(others))
    return {
        name: compare_two(
            counts[control],
            counts[name],
            prior=prior,
            n_draws=n_draws,
            seed=child,
            prob=prob,
            control_name=control,
            test_name=name,
        )
        for name, child in zip(others, children, strict=True)
    }


def prob_best(
    counts: Mapping[str, BinomialCounts],
    *,
    prior: BetaPrior = BetaPrior(),
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int | None = 0,
) -> dict[str, float]:
    """P(arm has the highest rate) for every arm, by seeded Monte Carlo (exact for two
    arms via ``prob_beta_greater``; Monte Carlo keeps the multi-arm case simple)."""
    names = list(counts)
    if len(names) == 2:
        a, b = (posterior(counts[n], prior=prior) for n in names)
        p = prob_beta_greater(a, b)
        return {names[0]: p, names[1]: 1.0 - p}
    rng = _rng_for(seed)
    draws = np.stack([posterior(counts[n], prior=prior).draws(n_draws, rng=rng) for n in names])
    winners = np.bincount(np.argmax(draws, axis=0), minlength=len(names))
    return {n: float(w / n_draws) for n, w in zip(names, winners, strict=True)}
