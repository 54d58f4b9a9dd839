"""The `missing_values` check.

Blank cells where a value is expected: generators fill every field.
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_missing(cells: int, missing: int, *, detail: str, table: str) -> CheckResult:
    share = missing / cells if cells else 0.0
    text = f"{missing} blank cell(s) of {cells} where a value is expected ({detail})."
    if missing == 0:
        return CheckResult("missing_values", table, 0.0, "share_missing", None, 0.0,
                           "simulated", "weak",
                           text + " Not one missing value: generators fill every field, real "
                           "exports rarely do.")
    return CheckResult("missing_values", table, share, "share_missing", None, share, "real",
                       "weak", text + " Gaps, as real records have.")


class MissingValues:
    """Blank cells where a value is expected: generators fill every field."""

    name = "missing_values"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_missing(data.expected_cells, data.blank_cells, detail=data.blank_detail,
                             table="all")
