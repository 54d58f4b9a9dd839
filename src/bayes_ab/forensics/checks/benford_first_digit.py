"""The `benford_first_digit` check: first digits against Benford's law: reported, never votes."""

from __future__ import annotations

import numpy as np

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs

_BENFORD = np.log10(1 + 1 / np.arange(1, 10))


def check_benford(values: np.ndarray, *, table: str, what: str) -> CheckResult:
    """First-digit law: informative only for data spanning orders of magnitude."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size < 100:
        return CheckResult("benford_first_digit", table, None, "mad", None, None, "neutral",
                           "none", f"{what}: too few values.")
    span = float(np.log10(np.quantile(v, 0.99) / np.quantile(v, 0.01)))
    first = (v / 10 ** np.floor(np.log10(v))).astype(int).clip(1, 9)
    obs = np.bincount(first, minlength=10)[1:] / v.size
    mad = float(np.abs(obs - _BENFORD).mean())
    # Nigrini's first-digit conformity bands of the mean absolute deviation.
    label = ("close" if mad < 0.006 else "acceptable" if mad < 0.012 else
             "marginal" if mad < 0.015 else "nonconforming")
    return CheckResult("benford_first_digit", table, mad, "mad", None, span, "neutral", "none",
                       f"{what}: first digits {label} to Benford (MAD {mad:.4f}) over "
                       f"{span:.1f} orders of magnitude. Reported, never votes: both real "
                       "heavy-tailed data and lognormal generators conform, and the quantity "
                       "differs between an experiment (durations) and a lead log (events per "
                       "lead), so a calibration across the two would be meaningless.")


class BenfordFirstDigit:
    """First digits against Benford's law: reported, never votes."""

    name = "benford_first_digit"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            durations = data.task_durations_s
            all_d = np.concatenate(list(durations.values())) if durations else np.array([])
            return check_benford(all_d, table="product_activity", what="task durations (s)")
        return check_benford(data.events_per_lead, table="events",
                             what="distinct events per lead")
