"""Ratio and count metrics, Bayesian side: sum(num) / sum(den) per arm.

Examples: CS contacts per flagged customer (num = CS contacts, den = 1 if flagged), help
flags per customer (den = 1 for everyone), minutes on task per completer (num = minutes,
den = 1 if completed). The unit is the randomized customer, so numerator and denominator
of one customer covary, exactly as in the delta-method test
(``bayes_ab.stats.frequentist.ratio_metric_test``), and the model reads the same sufficient
statistics (``RatioStatistic``: n, sums, sums of squares and the cross-product).

The model: each customer's pair (num, den) is an independent draw from a distribution with
mean (mu_num, mu_den) and covariance Sigma; by the central limit theorem the pair of
means is bivariate normal, and with the Jeffreys prior p(mu, Sigma) ~ |Sigma|^(-3/2) the
posterior of (mu_num, mu_den) is a bivariate Student t with n - 2 degrees of freedom,
location the sample means and scale SS / (n (n - 2)) (SS: the centred sums of squares and
cross-products). The arm's ratio is mu_num / mu_den. Draws are exact (no MCMC): a few
thousand per arm cost microseconds, and they carry the full posterior to the expected
loss and the decision. With a denominator that is the same for every customer (per
customer metrics) the denominator's mean is known and only mu_num is uncertain
(Student t with n - 1 degrees of freedom).

Agreement with the delta method is by construction at large n (the delta-method variance
is the first-order variance of mu_num / mu_den under this posterior); at small n the t
tails and the exact ratio make the credible interval a little wider and skewed. Overdispersed
counts (most customers 0 contacts, a few 10) are fine: the model uses only the moments,
never a Poisson assumption, which would make the interval too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bayes_ab.constants import HDI_PROB
from bayes_ab.errors import DataError, OptionError
from bayes_ab.stats.frequentist import RatioStatistic, ratio_metric_test
from bayes_ab.inference.intervals import draws_interval

__all__ = ["DEFAULT_RATIO_DRAWS", "RatioComparison", "compare_ratio", "parse_ratio_spec",
           "ratio_by_arm", "ratio_posterior_draws", "read_ratio_columns"]

#: Posterior draws per arm: Monte-Carlo error of an HDI bound well under 1% of its width.
DEFAULT_RATIO_DRAWS = 40_000


def ratio_posterior_draws(stat: RatioStatistic, *, n_draws: int = DEFAULT_RATIO_DRAWS,
                          rng: np.random.Generator | None = None) -> np.ndarray:
    """Posterior draws of the arm's ratio mu_num / mu_den (module docstring)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    n = stat.n
    if n < 3:
        raise DataError(f"a ratio metric needs at least 3 customers per arm, got {n}")
    my, mx = stat.sum_y / n, stat.sum_x / n
    ss = np.array([[stat.sum_y2 - n * my * my, stat.sum_xy - n * my * mx],
                   [stat.sum_xy - n * my * mx, stat.sum_x2 - n * mx * mx]])
    if mx == 0:
        raise DataError("the denominator is 0 for every customer of an arm")
    if ss[1, 1] <= 1e-12 * max(1.0, stat.sum_x2):
        # Constant denominator: only the numerator's mean is uncertain.
        df = n - 1
        scale = np.sqrt(max(ss[0, 0], 0.0) / (n * df))
        mu_y = my + scale * rng.standard_t(df, n_draws)
        return mu_y / mx
    df = n - 2
    cov = ss / (n * df)
    # Tiny jitter keeps the Cholesky factor defined when num and den are collinear.
    chol = np.linalg.cholesky(cov + np.eye(2) * 1e-15 * np.trace(cov))
    z = rng.standard_normal((n_draws, 2)) @ chol.T
    w = np.sqrt(rng.chisquare(df, n_draws) / df)
    mu = np.array([my, mx]) + z / w[:, None]
    return mu[:, 0] / mu[:, 1]


@dataclass(frozen=True)
class RatioComparison:
    """Posterior of one arm's ratio against control's, with the delta-method cross-check."""

    metric: str
    control: dict
    test: dict
    lift_abs: dict
    lift_rel: dict
    prob_test_better: float
    higher_is_better: bool
    counts: dict
    frequentist: dict
    decision: dict
    #: The posterior draws of (control's ratio, the test arm's ratio) behind the numbers
    #: (a guardrail's P(worse by more than the margin)); not part of ``to_dict``.
    draws: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                        compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "model": "bivariate-t posterior of the per-customer means (Jeffreys prior), "
                     "ratio of means",
            "control": self.control,
            "test": self.test,
            "lift_abs": self.lift_abs,
            "lift_rel": self.lift_rel,
            "prob_test_better": float(self.prob_test_better),
            "higher_is_better": self.higher_is_better,
            "counts": self.counts,
            "frequentist": self.frequentist,
            "decision": self.decision,
        }


def compare_ratio(
    control: RatioStatistic,
    test: RatioStatistic,
    *,
    metric: str = "ratio",
    higher_is_better: bool = True,
    threshold: float | None = None,
    n_draws: int = DEFAULT_RATIO_DRAWS,
    seed: int = 0,
    names: tuple[str, str] = ("control", "test"),
    prob: float = HDI_PROB,
) -> RatioComparison:
    """Posterior intervals, P(Test better), the delta-method test and the expected-loss
    decision (threshold of caring in the ratio's units; default 1% of control's ratio)."""
    from bayes_ab.stats.decision import DecisionConfig, decide_from_draws

    rng = np.random.default_rng(seed)
    rc = ratio_posterior_draws(control, n_draws=n_draws, rng=rng)
    rt = ratio_posterior_draws(test, n_draws=n_draws, rng=rng)
    sign = 1.0 if higher_is_better else -1.0
    thr = threshold if threshold is not None else max(abs(control.ratio) * 0.01, 1e-12)
    decision = decide_from_draws(
        rc, rt, metric=metric,
        config=DecisionConfig(threshold_of_caring=thr, higher_is_better=higher_is_better),
        n_customers=control.n + test.n)
    freq = ratio_metric_test(control, test, metric=metric, prob=prob)
    return RatioComparison(
        metric=metric,
        control=draws_interval(rc, prob=prob),
        test=draws_interval(rt, prob=prob),
        lift_abs=draws_interval(rt - rc, prob=prob),
        lift_rel=draws_interval(rt / rc - 1.0, prob=prob),
        prob_test_better=float(np.mean(sign * (rt - rc) > 0)),
        higher_is_better=higher_is_better,
        counts={name: {"n": s.n, "sum_num": s.sum_y, "sum_den": s.sum_x, "ratio": s.ratio}
                for name, s in zip(names, (control, test), strict=True)},
        frequentist=freq.to_dict(),
        decision={**decision.to_dict(), "threshold_source":
                  "given" if threshold is not None else "1% of control's observed ratio"},
        draws=(rc, rt),
    )


# --------------------------------------------------------------------------- reading


def parse_ratio_spec(spec: str) -> tuple[str, str]:
    """``"NUM_COL/DEN_COL"`` -> (num, den); ``"NUM_COL"`` alone means per customer (den 1)."""
    parts = [p.strip() for p in str(spec).split("/")]
    if len(parts) == 1 and parts[0]:
        return parts[0], ""
    if len(parts) != 2 or not all(parts):
        raise OptionError(f"--ratio must look like NUM_COL/DEN_COL (or NUM_COL), got {spec!r}")
    return parts[0], parts[1]


def read_ratio_columns(path: str | Path, spec: str, *, table=None
                       ) -> tuple[np.ndarray, np.ndarray, str]:
    """Numerator and denominator per row of the export (blank numerator = 0 is NOT
    assumed: every row needs numbers). A missing denominator column means 1 per row.
    ``table``: the export already read (``bayes_ab.data.load.read_table``), to read it once."""
    from bayes_ab.data.columns import find_column, numbers_from_text
    from bayes_ab.data.load import LINE, read_table

    num, den = parse_ratio_spec(spec)
    if table is None:
        table = read_table(Path(path))
    lines = table.data[LINE].to_numpy()
    out = []
    for name in (num, den):
        if not name:
            out.append(np.ones(len(table.data)))
            continue
        col = find_column(table, name, option="--ratio")
        raw = table.data[col].astype(str).str.strip()
        values = numbers_from_text(raw)
        bad = ~np.isfinite(values)
        if bad.any():
            shown = list(dict.fromkeys(raw[bad].tolist()))[:5]
            raise DataError("a ratio column needs a number on every row; found "
                            + ", ".join(repr(v) for v in shown), file=table.name, column=name,
                            lines=lines[bad][:20], n_rows=int(bad.sum()))
        out.append(values)
    label = f"{num}/{den}" if den else f"{num} per row"
    return out[0], out[1], label


def ratio_by_arm(groups: Sequence[str], num: np.ndarray, den: np.ndarray,
                 arms: Sequence[str]) -> dict[str, RatioStatistic]:
    """Sufficient statistics of the ratio per arm."""
    g = np.asarray(groups, dtype=object)
    return {a: RatioStatistic.from_arrays(num[g == a], den[g == a]) for a in arms}
