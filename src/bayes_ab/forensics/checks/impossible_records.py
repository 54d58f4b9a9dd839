"""The `impossible_records` check.

Impossible records: clock skew, orphans, unparseable values, lost rows.
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_anomalies(found: dict[str, int]) -> CheckResult:
    """Impossible records: clock skew, orphans, unparseable values, lost rows."""
    total = int(sum(found.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in found.items())
    if total == 0:
        return CheckResult("impossible_records", "all", 0.0, "count", None, 0.0, "simulated",
                           "weak",
                           f"No impossible records ({detail}). Real data always has a few "
                           "(clock skew, rows lost or orphaned by the export, test accounts).")
    return CheckResult("impossible_records", "all", float(total), "count", None, float(total),
                       "real", "weak",
                       f"{total} impossible record(s) ({detail}), as real data has.")


class ImpossibleRecords:
    """Impossible records: clock skew, orphans, unparseable values, lost rows."""

    name = "impossible_records"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_anomalies(data.impossible)
