"""Frequentist cross-check: the ">= 95% confidence" question, answered the classical way.

Same sufficient statistics in as the Bayesian models, frozen result dataclasses out.
``ProportionTest.to_dict()`` is exactly the RESULTS_SCHEMA ``frequentist`` block of an
ARM_COMPARISON and ``SrmResult.to_dict()`` exactly its ``srm`` block.

Choices, each the textbook one:

* two proportions: the z-test with the pooled standard error (the null says both arms
  share one rate, so the SE is estimated under it), two-sided; Fisher's exact test instead
  when any expected cell of the 2x2 table is below 5, where the normal approximation of
  the z-test is poor;
* the 95% CI of the difference (Test - Control): Newcombe's hybrid score interval (his
  method 10, built from the two Wilson intervals). Unlike the Wald interval it keeps close
  to nominal coverage for small counts and rates near 0 or 1, and it never leaves [-1, 1];
* multiple success metrics: Holm's step-down correction (controls the family-wise error
  rate, uniformly more powerful than Bonferroni, no independence assumption);
* sample-ratio mismatch: Pearson's chi-square of the arm sizes against the design share,
  flagged at p < 0.001 (the usual SRM alarm level: a real SRM gives tiny p-values, and a
  stricter level keeps false alarms rare when the check runs on every experiment);
* trend of conversion with completions: Cochran-Armitage (scores 0..3);
* time to completion by channel: log-rank test and a Cox proportional-hazards model
  (lifelines, imported lazily because it is slow to import);
* ratio metrics (e.g. CS contacts per flagged customer): the delta method, with the
  randomized customer as the unit, so numerator and denominator covary correctly.

The normal and chi-square tails are `bayes_ab.inference.exact`'s (scipy.stats' numbers
without importing scipy.stats); Fisher's test and the log-rank test import scipy.stats,
Holm's correction is statsmodels' arithmetic (checked against it in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from bayes_ab.constants import DESIGN_TEST_SHARE, HDI_PROB
from bayes_ab.inference.exact import chisquare, norm_isf, norm_sf
from bayes_ab.models.beta_binomial import BinomialCounts, Interval
from bayes_ab.results import Result

if TYPE_CHECKING:
    import pandas as pd

#: Significance level matching the 95% intervals (1 - HDI_PROB).
ALPHA = 1.0 - HDI_PROB

#: A sample-ratio mismatch is flagged below this p-value.
SRM_ALPHA = 0.001

#: Fisher's exact test replaces the z-test when an expected 2x2 cell count is below this.
MIN_EXPECTED_COUNT = 5.0

TestName = Literal["two-proportion z", "fisher"]
Method = Literal["auto", "z", "fisher"]

__all__ = [
    "ALPHA",
    "MIN_EXPECTED_COUNT",
    "SRM_ALPHA",
    "Agreement",
    "CoxResult",
    "LogRankResult",
    "ProportionTest",
    "RatioStatistic",
    "RatioTest",
    "SrmResult",
    "TrendTest",
    "bayes_frequentist_agreement",
    "cochran_armitage_trend",
    "cox_by_group",
    "holm_adjust",
    "holm_adjust_tests",
    "logrank_by_group",
    "logrank_from_counts",
    "newcombe_diff_ci",
    "ratio_metric_test",
    "srm_check",
    "two_proportion_test",
    "wilson_interval",
]


def _z_crit(prob: float) -> float:
    return float(norm_isf((1.0 - prob) / 2.0))


def _pp(x: float) -> str:
    """A rate difference in percentage points, signed."""
    return f"{100 * x:+.2f} pp"


def _fmt_p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


# --------------------------------------------------------------------------- proportions


def wilson_interval(counts: BinomialCounts, *, prob: float = HDI_PROB) -> Interval:
    """Wilson score interval of one rate; ``mean`` is the observed rate."""
    z = _z_crit(prob)
    n, p = counts.trials, counts.rate
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), prob)


def newcombe_diff_ci(
    control: BinomialCounts, test: BinomialCounts, *, prob: float = HDI_PROB
) -> Interval:
    """Newcombe's hybrid score CI of test rate - control rate (``mean`` = observed difference).

    Equals statsmodels' ``confint_proportions_2indep(..., method="newcomb")``.
    """
    wt, wc = wilson_interval(test, prob=prob), wilson_interval(control, prob=prob)
    d = test.rate - control.rate
    lower = d - np.sqrt((wt.mean - wt.lower) ** 2 + (wc.upper - wc.mean) ** 2)
    upper = d + np.sqrt((wt.upper - wt.mean) ** 2 + (wc.mean - wc.lower) ** 2)
    return Interval(d, float(lower), float(upper), prob)


def _expected_cells(control: BinomialCounts, test: BinomialCounts) -> np.ndarray:
    table = np.array(
        [[test.successes, test.failures], [control.successes, control.failures]], dtype=float
    )
    return np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()


@dataclass(frozen=True)
class ProportionTest(Result):
    """A two-sided test of equal rates in Control and Test, with the CI of the difference.

    ``statistic`` is z for the z-test and the sample odds ratio (Test vs Control) for
    Fisher's test. ``p_value_holm`` equals ``p_value`` until ``holm_adjust_tests`` puts the
    result in a family; ``significant_95`` always uses the Holm-adjusted value, so a metric
    is called significant only after the correction for the family it was tested in.
    """

    metric: str
    test: TestName
    control_counts: BinomialCounts
    test_counts: BinomialCounts
    statistic: float
    p_value: float
    p_value_holm: float
    ci95_diff: Interval
    min_expected_count: float
    family_size: int = 1
    alpha: float = ALPHA

    #: Exactly the schema's ``frequentist`` block.
    json_fields: ClassVar = ("test", "p_value", "p_value_holm", "ci95_diff", "significant_95")

    @property
    def significant_95(self) -> bool:
        return bool(self.p_value_holm < self.alpha)

    @property
    def significant_unadjusted(self) -> bool:
        return bool(self.p_value < self.alpha)

    def sentence(self) -> str:
        """One plain sentence: significant at 95% or not, and the numbers behind it."""
        name = "two-proportion z-test" if self.test == "two-proportion z" else "Fisher's exact test"
        ci = self.ci95_diff
        verdict = "yes" if self.significant_95 else "no"
        holm = (
            f", Holm-adjusted {_fmt_p(self.p_value_holm)} across {self.family_size} metrics"
            if self.family_size > 1
            else ""
        )
        if self.significant_95:
            direction = "higher" if ci.mean > 0 else "lower"
            what = f"Test's {self.metric} rate is {direction} than Control's"
        else:
            what = f"the data are compatible with no difference in {self.metric} rate"
        return (
            f"{self.metric[:1].upper()}{self.metric[1:]}, significant at 95%: {verdict}. {what[0].upper()}{what[1:]} "
            f"(Test - Control = {_pp(ci.mean)}, 95% CI {_pp(ci.lower)} to {_pp(ci.upper)}; "
            f"{name}, {_fmt_p(self.p_value)}{holm})."
        )


def two_proportion_test(
    control: BinomialCounts,
    test: BinomialCounts,
    *,
    metric: str = "conversion",
    method: Method = "auto",
    prob: float = HDI_PROB,
) -> ProportionTest:
    """Two-sided test of equal rates, Test vs Control, with Newcombe's CI of the difference.

    ``method="auto"`` uses the pooled z-test unless an expected 2x2 cell is below
    ``MIN_EXPECTED_COUNT``, then Fisher's exact test; ``"z"``/``"fisher"`` force one.
    """
    expected = _expected_cells(control, test)
    min_expected = float(expected.min())
    if method == "auto":
        method = "fisher" if min_expected < MIN_EXPECTED_COUNT else "z"
    if method == "z":
        n_t, n_c = test.trials, control.trials
        pooled = (test.successes + control.successes) / (n_t + n_c)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        # All successes or none: no evidence of any difference, and z is 0/0.
        z = 0.0 if se == 0 else (test.rate - control.rate) / se
        statistic, p_value, name = float(z), float(2 * norm_sf(abs(z))), "two-proportion z"
    elif method == "fisher":
        table = [[test.successes, test.failures], [control.successes, control.failures]]
        from scipy import stats

        res = stats.fisher_exact(table, alternative="two-sided")
        statistic, p_value, name = float(res.statistic), float(res.pvalue), "fisher"
    else:
        raise ValueError(f"unknown method {method!r}; use 'auto', 'z' or 'fisher'")
    return ProportionTest(
        metric=metric,
        test=name,
        control_counts=control,
        test_counts=test,
        statistic=statistic,
        p_value=p_value,
        p_value_holm=p_value,
        ci95_diff=newcombe_diff_ci(control, test, prob=prob),
        min_expected_count=min_expected,
        alpha=1.0 - prob,
    )


def holm_adjust(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm step-down adjusted p-values: statsmodels' ``multipletests(method="holm")``
    arithmetic (sort, times m, m - 1, ..., 1, running maximum, capped at 1), the same
    numbers without importing statsmodels (nor its ``gc.collect()`` of the process)."""
    names = list(p_values)
    if not names:
        return {}
    pvals = np.asarray([p_values[n] for n in names])
    order = np.argsort(pvals)
    corrected = np.maximum.accumulate(np.take(pvals, order) * np.arange(len(names), 0, -1))
    corrected[corrected > 1] = 1
    adjusted = np.empty_like(corrected)
    adjusted[order] = corrected
    return {n: float(p) for n, p in zip(names, adjusted, strict=True)}


def holm_adjust_tests(results: Mapping[str, ProportionTest]) -> dict[str, ProportionTest]:
    """The same tests with ``p_value_holm`` and ``family_size`` set for the whole family
    (e.g. ``{"conversion": ..., "cs_engagement": ...}``)."""
    adjusted = holm_adjust({k: r.p_value for k, r in results.items()})
    return {
        k: replace(r, p_value_holm=adjusted[k], family_size=len(results))
        for k, r in results.items()
    }


# --------------------------------------------------------------------------- SRM


@dataclass(frozen=True)
class SrmResult(Result):
    """Sample-ratio check: is the observed split compatible with the design's?"""

    n_test: int
    n_control: int
    expected_test_share: float
    observed_test_share: float
    chi2: float
    p_value: float
    alpha: float = SRM_ALPHA

    #: Exactly the schema's ``srm`` block.
    json_fields: ClassVar = ("expected_test_share", "observed_test_share", "p_value", "mismatch")

    @property
    def mismatch(self) -> bool:
        return bool(self.p_value < self.alpha)

    def sentence(self) -> str:
        share = f"{100 * self.observed_test_share:.2f}% of {self.n_test + self.n_control}"
        design = f"{100 * self.expected_test_share:.0f}%"
        if self.mismatch:
            return (
                f"Sample-ratio mismatch: Test holds {share} customers against a design of "
                f"{design} (chi-square {_fmt_p(self.p_value)}); the assignment or the logging "
                "is broken and the comparison between arms may be biased."
            )
        return (
            f"No sample-ratio mismatch: Test holds {share} customers against a design of "
            f"{design} (chi-square {_fmt_p(self.p_value)})."
        )


def srm_check(
    n_test: int,
    n_control: int,
    *,
    expected_test_share: float = DESIGN_TEST_SHARE,
    alpha: float = SRM_ALPHA,
) -> SrmResult:
    """Pearson chi-square (1 df) of the arm sizes against ``expected_test_share``."""
    n = n_test + n_control
    if n <= 0:
        raise ValueError("no customers in either arm")
    if not 0 < expected_test_share < 1:
        raise ValueError(f"expected_test_share must be in (0, 1), got {expected_test_share}")
    chi2, p_value = chisquare(
        [n_test, n_control], [n * expected_test_share, n * (1 - expected_test_share)]
    )
    return SrmResult(
        n_test=int(n_test),
        n_control=int(n_control),
        expected_test_share=float(expected_test_share),
        observed_test_share=n_test / n,
        chi2=chi2,
        p_value=p_value,
        alpha=alpha,
    )


# --------------------------------------------------------------------------- trend


@dataclass(frozen=True)
class TrendTest(Result):
    """Cochran-Armitage test for a linear trend of a rate across ordered groups.

    ``slope`` is the least-squares slope of the group rates on the scores, weighted by
    group size (change in the rate per unit of score, e.g. per completed task).
    """

    scores: tuple[float, ...]
    successes: tuple[int, ...]
    trials: tuple[int, ...]
    z: float
    p_value: float
    slope: float

    test_name: ClassVar[str] = "cochran-armitage"
    json_fields: ClassVar = ("test_name", "scores", "rates", "z", "p_value", "slope",
                             "significant_95")
    json_keys: ClassVar = {"test_name": "test"}

    @property
    def rates(self) -> list[float | None]:
        """The observed rate of each group (None for an empty group)."""
        return [s / n if n else None for s, n in zip(self.successes, self.trials, strict=True)]

    @property
    def significant_95(self) -> bool:
        return bool(self.p_value < ALPHA)


def cochran_armitage_trend(
    successes: Sequence[int], trials: Sequence[int], *, scores: Sequence[float] | None = None
) -> TrendTest:
    """Two-sided Cochran-Armitage trend test (variance with N, the classical form).

    statsmodels' linear-by-linear ``Table.test_ordinal_association`` is the same test with
    the permutation variance (N - 1 instead of N): its z is ours times sqrt((N - 1) / N).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    x = np.arange(k.size, dtype=float) if scores is None else np.asarray(scores, dtype=float)
    if not (k.shape == n.shape == x.shape) or k.size < 2:
        raise ValueError("need matching successes, trials and scores for at least two groups")
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must be in 0..trials in every group")
    big_n = n.sum()
    p_bar = k.sum() / big_n
    t_stat = float(np.sum(x * (k - n * p_bar)))
    sxx = float(np.sum(n * x * x) - np.sum(n * x) ** 2 / big_n)
    var = p_bar * (1 - p_bar) * sxx
    z = 0.0 if var == 0 else t_stat / np.sqrt(var)
    return TrendTest(
        scores=tuple(float(v) for v in x),
        successes=tuple(int(v) for v in k),
        trials=tuple(int(v) for v in n),
        z=float(z),
        p_value=float(2 * norm_sf(abs(z))),
        slope=float(t_stat / sxx) if sxx > 0 else float("nan"),
    )


# --------------------------------------------------------------------------- survival


@dataclass(frozen=True)
class LogRankResult(Result):
    """Log-rank test of equal survival (time-to-completion) curves across groups."""

    groups: tuple[str, ...]
    n: tuple[int, ...]
    events: tuple[int, ...]
    statistic: float
    p_value: float

    test_name: ClassVar[str] = "log-rank"
    json_fields: ClassVar = ("test_name", "group_counts", "statistic", "p_value",
                             "significant_95")
    json_keys: ClassVar = {"test_name": "test", "group_counts": "groups"}

    @property
    def group_counts(self) -> dict[str, dict[str, int]]:
        """``{group: {"n", "events"}}``."""
        return {g: {"n": n, "events": e}
                for g, n, e in zip(self.groups, self.n, self.events, strict=True)}

    @property
    def significant_95(self) -> bool:
        return bool(self.p_value < ALPHA)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}; it has {list(frame.columns)}")


def logrank_by_group(
    frame: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    group: str = "channel",
    weight: str | None = None,
) -> LogRankResult:
    """Log-rank test (lifelines) of ``duration`` with completion indicator ``event`` by
    ``group``; right-censored rows (event 0) stay in the risk sets until censored.

    ``weight``: a column of case counts (grouped rows: one row per distinct group x
    duration x event, as the aggregation engine returns them); the test is then computed
    from the counts (`logrank_from_counts`), equal to lifelines on the expanded rows."""
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    if weight is not None:
        _check_columns(frame, [duration, event, group, weight])
        return logrank_from_counts(frame[duration].to_numpy(float),
                                   frame[event].to_numpy(bool),
                                   frame[group].astype(str).to_numpy(),
                                   frame[weight].to_numpy(np.int64))
    _check_columns(frame, [duration, event, group])
    labels = sorted(frame[group].astype(str).unique())
    if len(labels) < 2:
        raise ValueError(f"need at least two groups in column {group!r}, got {labels}")
    g = frame[group].astype(str)
    parts = [frame[g == lab] for lab in labels]
    if len(labels) == 2:
        a, b = parts
        res = logrank_test(a[duration], b[duration], a[event], b[event])
    else:
        res = multivariate_logrank_test(frame[duration], g, frame[event])
    return LogRankResult(
        groups=tuple(labels),
        n=tuple(len(p) for p in parts),
        events=tuple(int(p[event].sum()) for p in parts),
        statistic=float(res.test_statistic),
        p_value=float(res.p_value),
    )


def logrank_from_counts(duration, event, group, count) -> LogRankResult:
    """The k-group log-rank test from grouped rows: ``count`` cases share each row's
    ``duration``, ``event`` (completed) and ``group``. Memory and time grow with the
    number of distinct durations, not of cases (100 million customers' help flags fit
    in a few MB). Ties as in lifelines: at each event time, the hypergeometric
    expectation and variance of the events in each group given those at risk.
    """
    from scipy import stats as st

    duration = np.asarray(duration, float)
    event = np.asarray(event, bool)
    count = np.asarray(count, np.int64)
    labels, gi = np.unique(np.asarray(group).astype(str), return_inverse=True)
    if labels.size < 2:
        raise ValueError(f"need at least two groups, got {labels.tolist()}")
    times, ti = np.unique(duration, return_inverse=True)
    k, m = labels.size, times.size
    flat = ti * k + gi
    exits = np.bincount(flat, weights=count, minlength=m * k).reshape(m, k)
    deaths = np.bincount(flat, weights=count * event, minlength=m * k).reshape(m, k)
    at_risk = np.cumsum(exits[::-1], axis=0)[::-1]  # cases with duration >= t
    d, n = deaths.sum(axis=1), at_risk.sum(axis=1)
    use = d > 0
    d, n, dj, nj = d[use], n[use], deaths[use], at_risk[use]
    observed_minus_expected = (dj - nj * (d / n)[:, None]).sum(axis=0)
    factor = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1), 0.0) / n**2
    # V_jl = sum_t factor * n_j (n delta_jl - n_l)
    cov = np.diag((factor * n) @ nj) - (nj * factor[:, None]).T @ nj
    u, v = observed_minus_expected[:-1], cov[:-1, :-1]
    statistic = float(u @ np.linalg.solve(v, u))
    return LogRankResult(
        groups=tuple(labels.tolist()),
        n=tuple(int(x) for x in exits.sum(axis=0)),
        events=tuple(int(x) for x in deaths.sum(axis=0)),
        statistic=statistic,
        p_value=float(st.chi2.sf(statistic, k - 1)),
    )


@dataclass(frozen=True)
class CoxResult(Result):
    """Cox proportional-hazards fit: hazard ratios of each group level vs ``reference``.

    A hazard ratio above 1 means completion happens sooner (the completion rate at any
    moment is higher) than in the reference group.
    """

    reference: str
    hazard_ratios: Mapping[str, Interval]
    p_values: Mapping[str, float]
    strata: tuple[str, ...]
    n: int
    n_events: int
    concordance: float

    model_name: ClassVar[str] = "cox proportional hazards"
    json_fields: ClassVar = ("model_name", "reference", "strata", "hazard_ratios", "p_values",
                             "n", "n_events", "concordance")
    json_keys: ClassVar = {"model_name": "model", "hazard_ratios": "hazard_ratio",
                           "p_values": "p_value"}


def cox_by_group(
    frame: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    group: str = "channel",
    reference: str = "OTHER",
    strata: Sequence[str] = (),
    prob: float = HDI_PROB,
) -> CoxResult:
    """Cox PH model (lifelines) of ``duration``/``event`` on indicator columns for each
    level of ``group`` except ``reference``; ``strata`` (e.g. ``["task"]``) get their own
    baseline hazards instead of a proportional effect."""
    import pandas as pd
    from lifelines import CoxPHFitter

    _check_columns(frame, [duration, event, group, *strata])
    g = frame[group].astype(str)
    levels = sorted(set(g) - {reference})
    if reference not in set(g) or not levels:
        raise ValueError(
            f"column {group!r} needs the reference level {reference!r} and at least one other"
        )
    data = pd.DataFrame(
        {duration: frame[duration].to_numpy(float), event: frame[event].to_numpy(int)}
    )
    names = {lev: f"{group}[{lev}]" for lev in levels}
    for lev, col in names.items():
        data[col] = (g == lev).to_numpy(float)
    for s in strata:
        data[s] = frame[s].to_numpy()
    fitter = CoxPHFitter(alpha=1.0 - prob)
    fitter.fit(data, duration_col=duration, event_col=event, strata=list(strata) or None)
    summ = fitter.summary
    lo_col = [c for c in summ.columns if c.startswith("exp(coef) lower")][0]
    hi_col = [c for c in summ.columns if c.startswith("exp(coef) upper")][0]
    return CoxResult(
        reference=reference,
        hazard_ratios={
            lev: Interval(
                float(summ.loc[col, "exp(coef)"]),
                float(summ.loc[col, lo_col]),
                float(summ.loc[col, hi_col]),
                prob,
            )
            for lev, col in names.items()
        },
        p_values={lev: float(summ.loc[col, "p"]) for lev, col in names.items()},
        strata=tuple(strata),
        n=len(data),
        n_events=int(data[event].sum()),
        concordance=float(fitter.concordance_index_),
    )


# --------------------------------------------------------------------------- ratio metrics


@dataclass(frozen=True)
class RatioStatistic:
    """Sufficient statistics of a ratio metric sum(y) / sum(x) over the units of one arm
    (units = randomized customers; y = e.g. CS contacts, x = e.g. 1 if flagged)."""

    n: int
    sum_y: float
    sum_x: float
    sum_y2: float
    sum_x2: float
    sum_xy: float

    @classmethod
    def from_arrays(cls, y: Sequence[float], x: Sequence[float]) -> RatioStatistic:
        ya, xa = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
        if ya.shape != xa.shape or ya.ndim != 1:
            raise ValueError("numerator and denominator need the same one-dimensional shape")
        return cls(
            n=int(ya.size),
            sum_y=float(ya.sum()),
            sum_x=float(xa.sum()),
            sum_y2=float(ya @ ya),
            sum_x2=float(xa @ xa),
            sum_xy=float(ya @ xa),
        )

    @property
    def ratio(self) -> float:
        return self.sum_y / self.sum_x

    @property
    def ratio_variance(self) -> float:
        """Delta-method variance of mean(y) / mean(x) (sample moments with n - 1):

        Var(R) ~ (s_y^2 / mx^2 - 2 my s_xy / mx^3 + my^2 s_x^2 / mx^4) / n."""
        n = self.n
        if n < 2 or self.sum_x == 0:
            raise ValueError("a ratio metric needs at least two units and a non-zero denominator")
        my, mx = self.sum_y / n, self.sum_x / n
        s_yy = (self.sum_y2 - n * my * my) / (n - 1)
        s_xx = (self.sum_x2 - n * mx * mx) / (n - 1)
        s_xy = (self.sum_xy - n * mx * my) / (n - 1)
        return (s_yy / mx**2 - 2 * my * s_xy / mx**3 + my**2 * s_xx / mx**4) / n


@dataclass(frozen=True)
class RatioTest(Result):
    """Delta-method z-test of a ratio metric, Test vs Control (``diff`` = Test - Control)."""

    metric: str
    control: Interval
    test: Interval
    diff: Interval
    z: float
    p_value: float

    test_name: ClassVar[str] = "delta-method z"
    json_fields: ClassVar = ("test_name", "metric", "control", "test", "diff", "z", "p_value",
                             "significant_95")
    json_keys: ClassVar = {"test_name": "test", "test": "test_arm", "diff": "ci95_diff"}

    @property
    def significant_95(self) -> bool:
        return bool(self.p_value < 1.0 - self.diff.prob)


def ratio_metric_test(
    control: RatioStatistic,
    test: RatioStatistic,
    *,
    metric: str = "ratio",
    prob: float = HDI_PROB,
) -> RatioTest:
    """Delta-method CI for each arm's ratio and for their difference, with a Wald z-test."""
    zc = _z_crit(prob)
    rc, rt = control.ratio, test.ratio
    vc, vt = control.ratio_variance, test.ratio_variance
    se = float(np.sqrt(vc + vt))
    d = rt - rc
    z = 0.0 if se == 0 else d / se

    def wald(m: float, v: float) -> Interval:
        h = zc * float(np.sqrt(v))
        return Interval(m, m - h, m + h, prob)

    return RatioTest(
        metric=metric,
        control=wald(rc, vc),
        test=wald(rt, vt),
        diff=wald(d, vc + vt),
        z=float(z),
        p_value=float(2 * norm_sf(abs(z))),
    )


# --------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Agreement(Result):
    """Whether the Bayesian and the frequentist answers say the same thing, and why not."""

    agree: bool
    bayes_confident: bool
    frequentist_significant: bool
    implied_two_sided_p: float
    sentence: str


def bayes_frequentist_agreement(
    *,
    prob_test_better: float,
    p_value: float,
    p_value_holm: float | None = None,
    alpha: float = ALPHA,
) -> Agreement:
    """Compare P(test > control) with the (Holm-adjusted) two-sided p-value.

    With a flat prior and large samples the posterior of the difference is close to the
    sampling distribution of the estimate, so 2 * min(P, 1 - P) is close to the two-sided
    p-value. "Confident" on the Bayesian side therefore means P >= 1 - alpha / 2 (or
    <= alpha / 2): the same bar as p < alpha. When the two disagree the sentence names the
    most likely reason: the Holm correction (the posterior probability is per metric), a
    result sitting on the 95% line, or the prior / exact test mattering at small counts.
    """
    p_adj = p_value if p_value_holm is None else p_value_holm
    implied = 2.0 * min(prob_test_better, 1.0 - prob_test_better)
    bayes = implied < alpha
    freq = p_adj < alpha
    pct = f"P(Test better) = {100 * prob_test_better:.1f}%"
    freq_txt = f"{_fmt_p(p_value)}" + (
        f" (Holm-adjusted {_fmt_p(p_adj)})" if p_value_holm is not None else ""
    )
    if bayes == freq:
        if bayes:
            direction = "better" if prob_test_better > 0.5 else "worse"
            text = (
                f"Both answers agree: Test is {direction} than Control ({pct}; {freq_txt})."
            )
        else:
            text = (
                f"Both answers agree that the evidence is not conclusive at 95% ({pct}; "
                f"{freq_txt})."
            )
        return Agreement(True, bayes, freq, implied, text)
    if bayes and not freq and p_value < alpha <= p_adj:
        why = (
            "the difference is the Holm correction: the p-value is adjusted for testing "
            "several metrics, the posterior probability is for this metric alone"
        )
    elif abs(implied - p_adj) < 0.5 * alpha:
        why = (
            "the result sits on the 95% line: the Bayesian probability corresponds to a "
            f"two-sided p of about {implied:.3f}, so the two only fall on different sides "
            "of the same threshold"
        )
    else:
        why = (
            "with these counts the prior and the exactness of the test matter (small samples "
            "or rates near 0 or 1), so the posterior and the sampling distribution differ"
        )
    side = "the Bayesian answer is confident" if bayes else "the frequentist test is significant"
    other = "the frequentist test is not" if bayes else "the Bayesian answer is not"
    text = f"The answers differ ({pct}; {freq_txt}): {side} and {other}; {why}."
    return Agreement(False, bayes, freq, implied, text)
