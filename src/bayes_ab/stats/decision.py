"""What to do next: double down on Test, pivot back to Control, or keep testing.

Expected loss (the "risk" of an action), always against Control and in the metric's units:

    double_down (ship Test)    loses E[max(0, control - test)]
    pivot       (keep Control) loses E[max(0, test - control)]

(for a metric where lower is better the two swap). It is the amount of the metric we
expect to give up by taking that action, averaged over the whole posterior: zero where
the action is the right one, the shortfall where it is the wrong one. It is NOT the loss
given that the action is wrong; that one, E[control - test | control > test] for doubling
down, is ``expected_loss_if_wrong`` = expected loss / P(the action is wrong) (``prob_wrong``),
reported beside it. ``expected_loss_relative`` is the expected loss divided by the
posterior mean of Control (e.g. 0.02 = 2% of Control's rate).

Both inputs give the same numbers: posterior draws (any model), or Binomial counts plus a
Beta prior, where the losses, P(test better), the ROPE mass and the non-inferiority
probability are exact (``bayes_ab.models.beta_binomial``, numerical integration). A test
checks that the two agree.

The rule, in order:

1. non-inferiority (only when a margin X is set: "ship unless Test is worse by more than
   X"): if P(test - control > -X) >= ``non_inferiority_prob``, double down;
2. ROPE (only when a half-width r is set): if P(|test - control| < r) >= ``rope_prob``,
   the outcome is "no meaningful difference": testing longer cannot change the choice in a
   way that matters, so stop and take the action with the smaller expected loss;
3. otherwise the action whose expected loss is under the threshold of caring (the smaller
   one when both are); if neither is, ``keep_testing``, with an estimate of how many more
   customers it takes for the smaller expected loss to fall under the threshold.

Default threshold of caring: 0.001 in the metric's units, i.e. 0.1 percentage point for a
rate. Taking an action whose expected loss is under it costs, on average, fewer than one
conversion per thousand customers if the action turns out wrong: for a trial conversion
rate near 10% that is 1% of relative lift, below what product teams act on and below the
resolution of an experiment with a few thousand customers per arm (whose standard error
of the difference is ~0.7 pp). Set it from the business (e.g. from ``BusinessValue``:
the money one is indifferent to, divided by the value per unit) whenever possible.

Extra sample size (``keep_testing``): with counts, by pre-posterior simulation: draw
"true" rates from the current posterior, simulate the counts of m more customers (split as
so far), update, and average the smaller expected loss of the updated posteriors; the
answer is the smallest m whose average is under the threshold (search on a doubling grid,
then bisection; the future counts and the updated difference are approximated as Normal,
which is accurate at the sample sizes where the question arises, and common random
numbers keep the average monotone in m). ``decide_from_draws`` takes the counts too
(``counts=``) and then sizes with the same search, so ``analyze`` (draws) and ``compare``
(counts) give the same answer for the same counts. With draws only (ratio metrics), by
scaling: expected loss shrinks like 1 / sqrt(n) when the true difference is near zero, so
n_needed = n_now * (loss_now / threshold)^2; this is conservative (too large) when a real
difference exists, where loss shrinks faster (Control 700/7000, Test 306/3000: 18,424
by scaling against 5,265 by the search, which a brute force with exact Binomial futures
confirms).

Cost of what Test changes (``cs_cost_tradeoff``): Test also changes CS engagement, and a
CS contact costs money. From each arm's 2 x 2 table (converted x CS-engaged) the joint
posterior of the two rates is exact: Dirichlet(1/2, 1/2, 1/2, 1/2) prior on the four cells,
whose two margins are exactly the arm comparisons' Beta(1, 1) posteriors, and which keeps
the within-customer correlation of the two outcomes. It gives the net value per customer
of doubling down, revenue * conversion lift - cost * CS-engagement lift, and without money
the break-even ratio conversion lift / CS-engagement lift: conversions gained per
additional CS-engaged customer, i.e. the cost of one CS-engaged customer, in units of the
revenue of one conversion, at which doubling down stops paying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from bayes_ab.inference.exact import norm_cdf, norm_pdf
from bayes_ab.models.beta_binomial import (
    BetaPosterior,
    BetaPrior,
    BinomialCounts,
    expected_loss_of_choosing,
    posterior,
    prob_beta_greater,
)
from bayes_ab.results import Result

#: Default threshold of caring, in the metric's units (0.1 percentage point of a rate).
DEFAULT_THRESHOLD_OF_CARING = 0.001
#: Posterior mass inside the ROPE needed to declare "no meaningful difference".
DEFAULT_ROPE_PROB = 0.95
#: Posterior probability of non-inferiority needed to ship under a margin.
DEFAULT_NON_INFERIORITY_PROB = 0.95
#: Simulated futures in the pre-posterior sample-size search.
DEFAULT_PREPOSTERIOR_SIMS = 4000
#: ``extra_samples_method`` of the pre-posterior search.
PREPOSTERIOR_METHOD = "pre-posterior simulation from the Beta posteriors"

Recommendation = Literal["double_down", "pivot", "keep_testing"]
Outcome = Literal["decided", "no_meaningful_difference", "non_inferior", "inconclusive"]

__all__ = [
    "DEFAULT_NON_INFERIORITY_PROB",
    "DEFAULT_ROPE_PROB",
    "DEFAULT_THRESHOLD_OF_CARING",
    "BusinessValue",
    "Decision",
    "DecisionConfig",
    "ExpectedLoss",
    "NonInferiority",
    "Rope",
    "cs_cost_tradeoff",
    "decide_from_counts",
    "decide_from_draws",
    "expected_loss_from_counts",
    "expected_loss_from_draws",
    "extra_samples_by_scaling",
    "extra_samples_preposterior",
    "joint_table",
    "net_value_per_customer",
]


@dataclass(frozen=True)
class BusinessValue:
    """Turns a loss in metric units into money: ``loss * value_per_unit * customers``.

    ``value_per_unit`` is the money one unit of the metric is worth per customer (revenue
    per conversion for conversion; cost per CS contact for CS engagement, with
    ``higher_is_better=False`` in the config if contacts are a cost). ``customers`` is how
    many customers the decision applies to (e.g. expected trialers next year); with the
    default 1 the money is per customer.
    """

    value_per_unit: float
    customers: float = 1.0
    currency: str = "USD"
    label: str = "value per unit"

    def __post_init__(self) -> None:
        if self.customers <= 0:
            raise ValueError(f"customers must be positive, got {self.customers}")


@dataclass(frozen=True)
class DecisionConfig:
    """Options of the decision rule (see the module docstring for the rule)."""

    threshold_of_caring: float = DEFAULT_THRESHOLD_OF_CARING
    higher_is_better: bool = True
    rope: float | None = None
    rope_prob: float = DEFAULT_ROPE_PROB
    non_inferiority_margin: float | None = None
    non_inferiority_prob: float = DEFAULT_NON_INFERIORITY_PROB
    business_value: BusinessValue | None = None

    def __post_init__(self) -> None:
        if not self.threshold_of_caring > 0:
            raise ValueError(f"threshold_of_caring must be > 0, got {self.threshold_of_caring}")
        if self.rope is not None and not self.rope > 0:
            raise ValueError(f"rope must be > 0 (a half-width in metric units), got {self.rope}")
        if self.non_inferiority_margin is not None and not self.non_inferiority_margin >= 0:
            raise ValueError(
                f"non_inferiority_margin must be >= 0, got {self.non_inferiority_margin}"
            )
        for name in ("rope_prob", "non_inferiority_prob"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1)")


@dataclass(frozen=True)
class ExpectedLoss(Result):
    """Expected loss of each action (same units for both)."""

    double_down: float
    pivot: float

    def scaled(self, factor: float) -> ExpectedLoss:
        return ExpectedLoss(self.double_down * factor, self.pivot * factor)

    @property
    def smaller(self) -> float:
        return min(self.double_down, self.pivot)

    @property
    def best_action(self) -> Recommendation:
        return "double_down" if self.double_down <= self.pivot else "pivot"


@dataclass(frozen=True)
class Rope(Result):
    """Region of practical equivalence |test - control| < half_width."""

    half_width: float
    prob_inside: float
    required_prob: float

    json_fields: ClassVar = ("half_width", "prob_inside", "required_prob",
                             "practically_equivalent")

    @property
    def practically_equivalent(self) -> bool:
        return bool(self.prob_inside >= self.required_prob)


@dataclass(frozen=True)
class NonInferiority(Result):
    """P(Test is not worse than Control by more than ``margin``)."""

    margin: float
    prob_non_inferior: float
    required_prob: float

    json_fields: ClassVar = ("margin", "prob_non_inferior", "required_prob", "non_inferior")

    @property
    def non_inferior(self) -> bool:
        return bool(self.prob_non_inferior >= self.required_prob)


@dataclass(frozen=True)
class MoneyLoss(Result):
    """The expected losses of a decision in money, with what they were computed from."""

    double_down: float
    pivot: float
    currency: str
    value_per_unit: float
    customers: float
    label: str


@dataclass(frozen=True)
class Decision(Result):
    """The recommendation and everything behind it.

    ``to_dict`` gives the RESULTS_SCHEMA ``decision`` block (``recommendation, metric,
    expected_loss, threshold_of_caring, prob_test_better``) plus extra keys.
    """

    recommendation: Recommendation
    metric: str
    expected_loss: ExpectedLoss
    expected_loss_relative: ExpectedLoss
    threshold_of_caring: float
    prob_test_better: float
    control_mean: float
    test_mean: float
    outcome: Outcome
    reason: str
    source: Literal["closed form", "draws"]
    higher_is_better: bool = True
    extra_samples_needed: int | None = None
    extra_samples_method: str | None = None
    rope: Rope | None = None
    non_inferiority: NonInferiority | None = None
    money: ExpectedLoss | None = None
    business_value: BusinessValue | None = None
    #: P(the action is the wrong one): P(Test worse) for doubling down, P(Test better) for
    #: pivoting.
    prob_wrong: ExpectedLoss | None = None
    #: Loss given that the action is wrong: expected loss / prob_wrong (None where
    #: prob_wrong is 0), e.g. E[control - test | control > test] for doubling down.
    expected_loss_if_wrong: ExpectedLoss | None = None
    #: analyze's conversion-gained-against-CS-engagement trade-off (``cs_cost_tradeoff``),
    #: set by the pipeline; not written when None.
    cs_cost: Mapping[str, Any] | None = None

    #: The schema's keys first, then the extra keys (the schema allows additions).
    json_fields: ClassVar = (
        "recommendation", "metric", "expected_loss", "threshold_of_caring", "prob_test_better",
        "expected_loss_relative", "outcome", "reason", "higher_is_better", "control_mean",
        "test_mean", "extra_samples_needed", "extra_samples_method", "rope", "non_inferiority",
        "money_loss", "source", "prob_wrong", "expected_loss_if_wrong_finite", "cs_cost")
    json_omit_none: ClassVar = frozenset({"cs_cost"})
    json_keys: ClassVar = {"money_loss": "money",
                           "expected_loss_if_wrong_finite": "expected_loss_if_wrong"}

    @property
    def money_loss(self) -> MoneyLoss | None:
        """The expected losses in money (None without a business value)."""
        if self.money is None or self.business_value is None:
            return None
        bv = self.business_value
        return MoneyLoss(self.money.double_down, self.money.pivot, bv.currency,
                         bv.value_per_unit, bv.customers, bv.label)

    @property
    def expected_loss_if_wrong_finite(self) -> dict[str, float | None] | None:
        """``expected_loss_if_wrong`` with None where P(wrong) is 0 (strict JSON)."""
        return _finite_or_none(self.expected_loss_if_wrong)


def _finite_or_none(loss: ExpectedLoss | None) -> dict[str, float | None] | None:
    if loss is None:
        return None
    return {k: (float(v) if np.isfinite(v) else None) for k, v in loss.to_dict().items()}


def _if_wrong(loss: ExpectedLoss, prob_wrong: ExpectedLoss) -> ExpectedLoss:
    """Expected loss given that the action is wrong: E[loss] / P(wrong) (NaN if P is 0)."""

    def ratio(value: float, p: float) -> float:
        return float(value / p) if p > 0 else float("nan")

    return ExpectedLoss(
        double_down=ratio(loss.double_down, prob_wrong.double_down),
        pivot=ratio(loss.pivot, prob_wrong.pivot),
    )


# --------------------------------------------------------------------------- losses


def expected_loss_from_draws(
    control: np.ndarray, test: np.ndarray, *, higher_is_better: bool = True
) -> ExpectedLoss:
    """Monte-Carlo expected losses from paired (or independent) posterior draws."""
    c, t = _as_draws(control, test)
    gain = (t - c) if higher_is_better else (c - t)
    return ExpectedLoss(
        double_down=float(np.mean(np.maximum(0.0, -gain))),
        pivot=float(np.mean(np.maximum(0.0, gain))),
    )


def expected_loss_from_counts(
    control: BinomialCounts,
    test: BinomialCounts,
    *,
    prior: BetaPrior = BetaPrior(),
    higher_is_better: bool = True,
) -> ExpectedLoss:
    """Exact expected losses under independent Beta(prior) posteriors."""
    pc, pt = posterior(control, prior=prior), posterior(test, prior=prior)
    return _closed_form_losses(pc, pt, higher_is_better=higher_is_better)


def _closed_form_losses(
    pc: BetaPosterior, pt: BetaPosterior, *, higher_is_better: bool
) -> ExpectedLoss:
    ship, keep = expected_loss_of_choosing(pt, pc), expected_loss_of_choosing(pc, pt)
    if higher_is_better:
        return ExpectedLoss(double_down=ship, pivot=keep)
    # Lower is better: shipping Test loses when Test is higher, E[max(0, t - c)].
    return ExpectedLoss(double_down=keep, pivot=ship)


def _as_draws(control: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(control, dtype=float).ravel()
    t = np.asarray(test, dtype=float).ravel()
    if c.size < 2 or t.size < 2:
        raise ValueError("need at least two posterior draws per arm")
    if c.size != t.size:
        raise ValueError(
            f"control and test need the same number of draws, got {c.size} and {t.size}"
        )
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(t))):
        raise ValueError("posterior draws contain NaN or infinite values")
    return c, t


def _prob_diff_below(pt: BetaPosterior, pc: BetaPosterior, d: float) -> float:
    """P(test - control < d) = integral of f_t(x) P(control > x - d) dx (exact quadrature)."""
    from scipy import integrate

    dt, dc = pt.dist, pc.dist
    lo, hi = float(dt.ppf(1e-15)), float(dt.isf(1e-15))
    val, _ = integrate.quad(
        lambda x: dt.pdf(x) * dc.sf(x - d), lo, hi, epsabs=1e-13, epsrel=1e-11, limit=500
    )
    return float(np.clip(val, 0.0, 1.0))


# --------------------------------------------------------------------------- sample size


def extra_samples_by_scaling(
    min_loss: float, threshold: float, n_now: int
) -> int:
    """More customers needed if expected loss shrinks like 1 / sqrt(n):
    n_needed = n_now * (min_loss / threshold)^2; 0 when already under the threshold."""
    if n_now <= 0:
        raise ValueError("n_now must be positive")
    if min_loss <= threshold:
        return 0
    return int(np.ceil(n_now * (min_loss / threshold) ** 2 - n_now))


def _normal_losses(
    mu: np.ndarray, sd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E[max(0, -D)] and E[max(0, D)] for D ~ Normal(mu, sd)."""
    z = mu / sd
    pdf, cdf = norm_pdf(z), norm_cdf(z)
    pivot = sd * pdf + mu * cdf
    double_down = sd * pdf - mu * (1.0 - cdf)
    return double_down, pivot


def extra_samples_preposterior(
    control: BinomialCounts,
    test: BinomialCounts,
    *,
    threshold: float,
    prior: BetaPrior = BetaPrior(),
    higher_is_better: bool = True,
    n_sims: int = DEFAULT_PREPOSTERIOR_SIMS,
    seed: int | None = 0,
    max_extra: int = 10**9,
) -> int | None:
    """Smallest number of extra customers (split as so far) after which the expected
    smaller loss, averaged over simulated futures, is under ``threshold``.

    Returns 0 if it already is, ``None`` if not even ``max_extra`` more customers get there.
    """
    pc, pt = posterior(control, prior=prior), posterior(test, prior=prior)
    n_now = control.trials + test.trials
    share_t = test.trials / n_now
    rng = np.random.default_rng(seed)
    # Common random numbers: the same "true" rates and standard-normal noise for every m.
    p_c = rng.beta(pc.alpha, pc.beta, n_sims)
    p_t = rng.beta(pt.alpha, pt.beta, n_sims)
    z_c, z_t = rng.standard_normal(n_sims), rng.standard_normal(n_sims)
    sign = 1.0 if higher_is_better else -1.0

    def expected_min_loss(m: int) -> float:
        m_t = m * share_t
        m_c = m - m_t
        y_c = np.clip(m_c * p_c + np.sqrt(m_c * p_c * (1 - p_c)) * z_c, 0.0, m_c)
        y_t = np.clip(m_t * p_t + np.sqrt(m_t * p_t * (1 - p_t)) * z_t, 0.0, m_t)
        a_c, b_c = pc.alpha + y_c, pc.beta + m_c - y_c
        a_t, b_t = pt.alpha + y_t, pt.beta + m_t - y_t
        mean_c, mean_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
        var_c = a_c * b_c / ((a_c + b_c) ** 2 * (a_c + b_c + 1))
        var_t = a_t * b_t / ((a_t + b_t) ** 2 * (a_t + b_t + 1))
        dd, pv = _normal_losses(sign * (mean_t - mean_c), np.sqrt(var_c + var_t))
        return float(np.mean(np.minimum(dd, pv)))

    if expected_min_loss(0) <= threshold:
        return 0
    lo, hi = 0, max(100, n_now // 10)
    while expected_min_loss(hi) > threshold:
        lo, hi = hi, hi * 2
        if hi > max_extra:
            return None
    while hi - lo > max(1, hi // 1000):
        mid = (lo + hi) // 2
        if expected_min_loss(mid) > threshold:
            lo = mid
        else:
            hi = mid
    return int(hi)


# --------------------------------------------------------------------------- the rule


def _choose(
    loss: ExpectedLoss,
    *,
    config: DecisionConfig,
    rope: Rope | None,
    non_inferiority: NonInferiority | None,
    metric: str,
    prob_test_better: float,
) -> tuple[Recommendation, Outcome, str]:
    thr = config.threshold_of_caring
    p_txt = f"P(Test better) = {100 * prob_test_better:.1f}%"
    loss_txt = (
        f"expected loss of doubling down {loss.double_down:.5f}, of pivoting {loss.pivot:.5f}"
    )
    if non_inferiority is not None and non_inferiority.non_inferior:
        return (
            "double_down",
            "non_inferior",
            f"Double down: Test is non-inferior on {metric}: P(Test is not worse by more than "
            f"{non_inferiority.margin:g}) = {100 * non_inferiority.prob_non_inferior:.1f}% "
            f">= {100 * non_inferiority.required_prob:.0f}% ({p_txt}; {loss_txt}).",
        )
    if rope is not None and rope.practically_equivalent:
        action = loss.best_action
        verb = "double down" if action == "double_down" else "pivot"
        return (
            action,
            "no_meaningful_difference",
            f"No meaningful difference in {metric}: {100 * rope.prob_inside:.1f}% of the "
            f"posterior lies within +/-{rope.half_width:g} of zero (needed "
            f"{100 * rope.required_prob:.0f}%); more data would not change the choice in a way "
            f"that matters, so {verb}, the action with the smaller expected loss ({loss_txt}).",
        )
    under = [
        (value, action)
        for value, action in ((loss.double_down, "double_down"), (loss.pivot, "pivot"))
        if value < thr
    ]
    if under:
        _, action = min(under)
        verb = "Double down (ship Test)" if action == "double_down" else "Pivot (keep Control)"
        return (
            action,  # type: ignore[return-value]
            "decided",
            f"{verb}: its expected loss on {metric} is under the threshold of caring "
            f"{thr:g} ({loss_txt}; {p_txt}).",
        )
    return (
        "keep_testing",
        "inconclusive",
        f"Keep testing: neither action's expected loss on {metric} is under the threshold of "
        f"caring {thr:g} ({loss_txt}; {p_txt}).",
    )


def _finish(
    *,
    metric: str,
    loss: ExpectedLoss,
    control_mean: float,
    test_mean: float,
    prob_test_better: float,
    config: DecisionConfig,
    rope: Rope | None,
    non_inferiority: NonInferiority | None,
    source: Literal["closed form", "draws"],
    extra_samples: Any,
    prob_wrong: ExpectedLoss,
) -> Decision:
    rec, outcome, reason = _choose(
        loss,
        config=config,
        rope=rope,
        non_inferiority=non_inferiority,
        metric=metric,
        prob_test_better=prob_test_better,
    )
    n_extra, method = (None, None)
    if rec == "keep_testing":
        n_extra, method = extra_samples()
        if n_extra is not None:
            reason += f" About {n_extra:,} more customers are needed ({method})."
    bv = config.business_value
    money = None if bv is None else loss.scaled(abs(bv.value_per_unit) * bv.customers)
    if money is not None and bv is not None:
        reason += (
            f" In money: doubling down risks {money.double_down:,.2f} {bv.currency}, "
            f"pivoting {money.pivot:,.2f} {bv.currency}."
        )
    rel = loss.scaled(1.0 / control_mean) if control_mean != 0 else ExpectedLoss(np.nan, np.nan)
    return Decision(
        recommendation=rec,
        metric=metric,
        expected_loss=loss,
        expected_loss_relative=rel,
        threshold_of_caring=config.threshold_of_caring,
        prob_test_better=prob_test_better,
        control_mean=control_mean,
        test_mean=test_mean,
        outcome=outcome,
        reason=reason,
        source=source,
        higher_is_better=config.higher_is_better,
        extra_samples_needed=n_extra,
        extra_samples_method=method,
        rope=rope,
        non_inferiority=non_inferiority,
        money=money,
        business_value=bv,
        prob_wrong=prob_wrong,
        expected_loss_if_wrong=_if_wrong(loss, prob_wrong),
    )


def decide_from_draws(
    control: np.ndarray,
    test: np.ndarray,
    *,
    metric: str,
    config: DecisionConfig = DecisionConfig(),
    n_customers: int | None = None,
    counts: tuple[BinomialCounts, BinomialCounts] | None = None,
    prior: BetaPrior = BetaPrior(),
    n_sims: int = DEFAULT_PREPOSTERIOR_SIMS,
    seed: int | None = 0,
) -> Decision:
    """Decision from posterior draws of each arm's metric (same length; paired draws from
    one joint posterior or independent draws per arm).

    The extra sample size of "keep testing": with ``counts`` (control, test) of a binary
    metric whose draws come from Beta(``prior``) posteriors, the pre-posterior search of
    ``decide_from_counts`` (same ``prior``, ``n_sims``, ``seed``: the same answer for the
    same counts); otherwise, with ``n_customers`` (both arms), the 1 / sqrt(n) scaling.
    """
    c, t = _as_draws(control, test)
    sign = 1.0 if config.higher_is_better else -1.0
    gain = sign * (t - c)
    loss = expected_loss_from_draws(c, t, higher_is_better=config.higher_is_better)
    rope = (
        None
        if config.rope is None
        else Rope(config.rope, float(np.mean(np.abs(t - c) < config.rope)), config.rope_prob)
    )
    ni = (
        None
        if config.non_inferiority_margin is None
        else NonInferiority(
            config.non_inferiority_margin,
            float(np.mean(gain > -config.non_inferiority_margin)),
            config.non_inferiority_prob,
        )
    )

    def extra() -> tuple[int | None, str | None]:
        if counts is not None:
            n = extra_samples_preposterior(
                counts[0],
                counts[1],
                threshold=config.threshold_of_caring,
                prior=prior,
                higher_is_better=config.higher_is_better,
                n_sims=n_sims,
                seed=seed,
            )
            if n == 0:
                return 0, (
                    f"{PREPOSTERIOR_METHOD}: the exact smaller expected loss is already under "
                    "the threshold; the sampled one is over it by Monte-Carlo error"
                )
            return n, PREPOSTERIOR_METHOD
        if n_customers is None:
            return None, None
        return (
            extra_samples_by_scaling(loss.smaller, config.threshold_of_caring, n_customers),
            "expected loss scaled as 1/sqrt(n)",
        )

    return _finish(
        metric=metric,
        loss=loss,
        control_mean=float(np.mean(c)),
        test_mean=float(np.mean(t)),
        prob_test_better=float(np.mean(gain > 0)),
        config=config,
        rope=rope,
        non_inferiority=ni,
        source="draws",
        extra_samples=extra,
        prob_wrong=ExpectedLoss(double_down=float(np.mean(gain < 0)),
                                pivot=float(np.mean(gain > 0))),
    )


def decide_from_counts(
    control: BinomialCounts,
    test: BinomialCounts,
    *,
    metric: str,
    prior: BetaPrior = BetaPrior(),
    config: DecisionConfig = DecisionConfig(),
    n_sims: int = DEFAULT_PREPOSTERIOR_SIMS,
    seed: int | None = 0,
) -> Decision:
    """Decision for a binary metric from counts, with exact Beta-posterior quantities;
    ``n_sims``/``seed`` only drive the pre-posterior extra-sample-size search."""
    pc, pt = posterior(control, prior=prior), posterior(test, prior=prior)
    hib = config.higher_is_better
    loss = _closed_form_losses(pc, pt, higher_is_better=hib)
    p_better = prob_beta_greater(pt, pc) if hib else prob_beta_greater(pc, pt)
    rope = None
    if config.rope is not None:
        r = config.rope
        inside = _prob_diff_below(pt, pc, r) - _prob_diff_below(pt, pc, -r)
        rope = Rope(r, float(np.clip(inside, 0.0, 1.0)), config.rope_prob)
    ni = None
    if config.non_inferiority_margin is not None:
        x = config.non_inferiority_margin
        # Higher better: P(t - c > -x); lower better: P(t - c < x).
        p_ni = 1.0 - _prob_diff_below(pt, pc, -x) if hib else _prob_diff_below(pt, pc, x)
        ni = NonInferiority(x, p_ni, config.non_inferiority_prob)

    def extra() -> tuple[int | None, str | None]:
        n = extra_samples_preposterior(
            control,
            test,
            threshold=config.threshold_of_caring,
            prior=prior,
            higher_is_better=hib,
            n_sims=n_sims,
            seed=seed,
        )
        return n, PREPOSTERIOR_METHOD

    return _finish(
        metric=metric,
        loss=loss,
        control_mean=pc.mean,
        test_mean=pt.mean,
        prob_test_better=p_better,
        config=config,
        rope=rope,
        non_inferiority=ni,
        source="closed form",
        extra_samples=extra,
        # Continuous posteriors: P(Test worse) = 1 - P(Test better), no ties.
        prob_wrong=ExpectedLoss(double_down=1.0 - p_better, pivot=p_better),
    )


def net_value_per_customer(
    rates: Mapping[str, tuple[np.ndarray, np.ndarray]],
    values: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior draws of money per customer in (control, test): the sum over metrics of
    value * rate, e.g. ``{"conversion": 300.0, "cs_engagement": -12.0}`` for revenue per
    conversion and cost per CS contact. Feed the result to ``decide_from_draws`` with a
    threshold of caring in money per customer."""
    missing = set(values) - set(rates)
    if missing:
        raise ValueError(f"no draws for metric(s) {sorted(missing)}")
    c_total: np.ndarray | float = 0.0
    t_total: np.ndarray | float = 0.0
    for name, value in values.items():
        c, t = _as_draws(*rates[name])
        c_total = c_total + value * c
        t_total = t_total + value * t
    return np.asarray(c_total), np.asarray(t_total)



# --------------------------------------------------------------------------- CS cost

#: Joint posterior draws of the CS-cost trade-off (exact Dirichlet draws: cheap).
DEFAULT_TRADEOFF_DRAWS = 200_000
#: Dirichlet prior per cell of an arm's converted x CS-engaged table: its two margins are
#: Beta(1, 1), the arm comparisons' prior.
CELL_PRIOR = 0.5


def joint_table(table: Any) -> np.ndarray:
    """An arm's 2 x 2 table of customers as ``[[neither, cs_only], [converted_only, both]]``
    (rows: converted 0/1; columns: CS-engaged 0/1), checked."""
    t = np.asarray(table, dtype=float)
    if t.shape != (2, 2):
        raise ValueError(f"a converted x CS-engaged table must be 2 x 2, got shape {t.shape}")
    if not (np.all(np.isfinite(t)) and np.all(t >= 0) and np.all(t == np.round(t))):
        raise ValueError(f"table cells must be non-negative whole counts, got {t.tolist()}")
    if t.sum() <= 0:
        raise ValueError("an arm's table has no customers")
    return t


def _joint_draws(
    table: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior draws of (conversion rate, CS-engagement rate) of one arm."""
    p = rng.dirichlet(joint_table(table).ravel() + CELL_PRIOR, size=n)  # cells 00, 01, 10, 11
    return p[:, 2] + p[:, 3], p[:, 1] + p[:, 3]


def cs_cost_tradeoff(
    control: Any,
    test: Any,
    *,
    revenue_per_conversion: float | None = None,
    cost_per_cs_contact: float | None = None,
    currency: str = "USD",
    n_draws: int = DEFAULT_TRADEOFF_DRAWS,
    seed: int | None = 0,
) -> dict[str, Any]:
    """What doubling down gains in conversion against what it adds in CS engagement.

    ``control``/``test``: each arm's 2 x 2 table (``joint_table``). A "CS contact" is a
    CS-engaged customer (at least one CS help row; several requests count once), so
    ``cost_per_cs_contact`` is the cost of one more CS-engaged customer.

    Returns the ``decision.cs_cost`` block (docs/ESTIMANDS.md): the two lifts, the
    break-even ratio conversion lift / CS-engagement lift (conversions gained per
    additional CS-engaged customer: the cost of a CS contact, in revenue per conversion,
    at which doubling down stops paying), with revenue the break-even cost in money, and
    with both the net value per customer of doubling down, revenue * conversion lift -
    cost * CS-engagement lift, its interval, P(> 0) and its expected losses. Intervals are
    95% HDIs of exact joint posterior draws (see the module docstring).
    """
    from bayes_ab.inference.intervals import draws_interval

    for name, value in (("revenue_per_conversion", revenue_per_conversion),
                        ("cost_per_cs_contact", cost_per_cs_contact)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number, got {value}")
    rng = np.random.default_rng(seed)
    conv_c, cs_c = _joint_draws(control, n_draws, rng)
    conv_t, cs_t = _joint_draws(test, n_draws, rng)
    d_conv, d_cs = conv_t - conv_c, cs_t - cs_c
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = d_conv / d_cs
    mean_conv, mean_cs = float(np.mean(d_conv)), float(np.mean(d_cs))
    ratio_of_means = mean_conv / mean_cs if mean_cs != 0 else None
    prob_cs_up = float(np.mean(d_cs > 0))
    out: dict[str, Any] = {
        "method": (
            "exact joint posterior of each arm's converted x CS-engaged table "
            f"(Dirichlet({CELL_PRIOR:g}) per cell: Beta(1, 1) margins), {n_draws:,} draws"
        ),
        "n_draws": int(n_draws),
        "conversion_lift": draws_interval(d_conv),
        "cs_engagement_lift": draws_interval(d_cs),
        "prob_cs_engagement_up": prob_cs_up,
        "correlation_of_lifts": float(np.corrcoef(d_conv, d_cs)[0, 1]),
        # Conversions gained per additional CS-engaged customer. Well defined only when
        # the CS-engagement lift is clearly away from zero (see prob_cs_engagement_up).
        "conversions_per_cs_customer": draws_interval(ratio),
        "conversions_per_cs_customer_of_means": ratio_of_means,
        "revenue_per_conversion": revenue_per_conversion,
        "cost_per_cs_contact": cost_per_cs_contact,
        "currency": currency,
        "break_even_cost_per_cs_contact": None,
        "break_even_cost_per_cs_contact_of_means": None,
        "net_value_per_customer": None,
        "prob_net_value_positive": None,
        "expected_loss_net": None,
    }
    if revenue_per_conversion is not None:
        r = float(revenue_per_conversion)
        out["break_even_cost_per_cs_contact"] = draws_interval(r * ratio)
        out["break_even_cost_per_cs_contact_of_means"] = (
            None if ratio_of_means is None else r * ratio_of_means
        )
        if cost_per_cs_contact is not None:
            net = r * d_conv - float(cost_per_cs_contact) * d_cs
            out["net_value_per_customer"] = draws_interval(net)
            out["prob_net_value_positive"] = float(np.mean(net > 0))
            out["expected_loss_net"] = {
                "double_down": float(np.mean(np.maximum(0.0, -net))),
                "pivot": float(np.mean(np.maximum(0.0, net))),
            }
    return out
