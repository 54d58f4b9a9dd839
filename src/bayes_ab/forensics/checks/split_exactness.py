"""The `split_exactness` check.

Is the Test share of the randomized customers too close to the design share?
"""

from __future__ import annotations

import math

from scipy import stats

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_split(n_test: int, n: int, *, share: float = DESIGN_TEST_SHARE) -> CheckResult:
    """Is the split *too* close to the design share for an independent randomisation?

    p_value = P(|X - n*share| <= |observed - n*share|) for X ~ Binomial(n, share): small
    when the split is closer to exact than chance allows.
    """
    expected = n * share
    dev = abs(n_test - expected)
    lo, hi = math.ceil(expected - dev - 1e-9), math.floor(expected + dev + 1e-9)
    p_exact = float(stats.binom.cdf(hi, n, share) - stats.binom.cdf(lo - 1, n, share))
    p_srm = float(stats.binomtest(n_test, n, share).pvalue)
    sd = math.sqrt(n * share * (1 - share))
    text = (f"{n_test} of {n} customers in Test ({n_test / n:.4f} vs design {share}); "
            f"deviation {dev:.1f} = {dev / sd:.2f} binomial sd.")
    if p_exact < 0.01:
        return CheckResult("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                           None, "simulated", "strong",
                           text + " An independent randomisation lands this close to the exact "
                           f"share with probability {p_exact:.3g}: the split looks fixed by "
                           "construction.")
    if p_exact < 0.05:
        return CheckResult("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                           None, "simulated", "weak",
                           text + f" Closer to exact than chance usually gives (p={p_exact:.3g}).")
    srm = (f" The split is far from the design (sample-ratio mismatch, p={p_srm:.2g}), "
           "a fault real pipelines show." if p_srm < 0.001 else "")
    return CheckResult("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                       None, "neutral", "none",
                       text + " It varies as a binomial randomisation does." + srm)


class SplitExactness:
    """Is the Test share of the randomized customers too close to the design share?"""

    name = "split_exactness"
    kinds = frozenset({"experiment"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_split(data.n_test, data.n_customers)
