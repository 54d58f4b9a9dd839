"""The `extreme_values` check.

Extreme but possible records (bots, heavy users, very long durations): never votes.
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_extremes(found: dict[str, int]) -> CheckResult:
    """Extreme but possible values (bots, heavy users, very long durations): no vote."""
    total = int(sum(found.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in found.items())
    return CheckResult("extreme_values", "all", float(total), "count", None, float(total),
                       "neutral", "none",
                       f"{total} extreme record(s) ({detail}). Real data has them, but so does any "
                       "generator with heavy tails, so this check does not vote.")


class ExtremeValues:
    """Extreme but possible records (bots, heavy users, very long durations): never votes."""

    name = "extreme_values"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_extremes(data.extremes)
