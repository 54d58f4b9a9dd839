"""The `binomial_dispersion` check.

Does conversion vary across arm x hour of first action beyond binomial noise?
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_binomial_homogeneity(success: np.ndarray, group: np.ndarray, *, table: str,
                               what: str, min_per_group: int = 30) -> CheckResult:
    """Extra-binomial variation of a rate across groups (e.g. hour of the day)."""
    df = pd.DataFrame({"y": np.asarray(success, float), "g": np.asarray(group)}).dropna()
    agg = df.groupby("g")["y"].agg(["sum", "count"])
    agg = agg[agg["count"] >= min_per_group]
    k = len(agg)
    if k < 3 or agg["sum"].sum() == 0:
        return CheckResult("binomial_dispersion", table, None, "chi2_over_df", None, None,
                           "neutral", "none", f"{what}: too few groups with data to test.")
    p = agg["sum"].sum() / agg["count"].sum()
    expected = agg["count"] * p
    chi2 = float((((agg["sum"] - expected) ** 2) / (expected * (1 - p))).sum())
    pval = float(stats.chi2.sf(chi2, k - 1))
    ratio = chi2 / (k - 1)
    text = (f"{what}: chi-square {chi2:.1f} on {k - 1} df (ratio {ratio:.2f}) across {k} "
            f"groups, p={pval:.2g}.")
    if pval < 0.01:
        return CheckResult("binomial_dispersion", table, ratio, "chi2_over_df", pval, None,
                           "real", "weak",
                           text + " The rate varies beyond binomial noise, as real rates do.")
    return CheckResult("binomial_dispersion", table, ratio, "chi2_over_df", pval, None,
                       "neutral", "none",
                       text + " Consistent with one binomial rate; real data can be too, so "
                       "no vote.")


class BinomialDispersion:
    """Does conversion vary across arm x hour of first action beyond binomial noise?"""

    name = "binomial_dispersion"
    kinds = frozenset({"experiment"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_binomial_homogeneity(data.converted, data.arm_hour, table="conversion",
                                          what="conversion by arm x hour of first action")
