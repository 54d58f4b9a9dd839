"""The `diurnal_conversions` check.

The hour-of-day profile of conversion times (`check_diurnal` on them).
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.checks.diurnal_structure import check_diurnal
from bayes_ab.forensics.inputs import Inputs


class DiurnalConversions:
    """The hour-of-day profile of conversion times (`check_diurnal` on them)."""

    name = "diurnal_conversions"
    kinds = frozenset({"experiment"})

    def applies(self, data: Inputs) -> bool:
        return data.kind == "experiment" and data.conversion_times is not None

    def run(self, data: Inputs) -> CheckResult:
        return check_diurnal(data.conversion_times, table="conversion",
                             what="conversion times by hour of day", check=self.name)
