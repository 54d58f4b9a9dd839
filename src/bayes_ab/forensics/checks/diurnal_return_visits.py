"""The `diurnal_return_visits` check.

The hour-of-day profile of actions over 12 h after the customer's first.
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.checks.diurnal_structure import check_diurnal
from bayes_ab.forensics.inputs import Inputs


class DiurnalReturnVisits:
    """The hour-of-day profile of actions over 12 h after the customer's first."""

    name = "diurnal_return_visits"
    kinds = frozenset({"experiment"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_diurnal(data.return_actions, table="product_activity",
                             what="actions over 12 h after the customer's first by hour of day",
                             check=self.name)
