"""The `duplicate_rows` check.

Exact duplicate rows: the double-ingestion of real logging pipelines.
"""

from __future__ import annotations

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_duplicates(dups: dict[str, int], *, rows: int) -> CheckResult:
    total = int(sum(dups.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in dups.items())
    share = total / rows if rows else 0.0
    if total == 0:
        return CheckResult("duplicate_rows", "all", 0.0, "share_duplicated", None, 0.0,
                           "simulated", "weak",
                           f"No exact duplicate rows ({detail}). Real pipelines double-log "
                           "some events; a generator writes each row once.")
    return CheckResult("duplicate_rows", "all", share, "share_duplicated", None, share, "real",
                       "weak",
                       f"{total} exact duplicate row(s) ({detail}), {share:.1%} of all rows: the "
                       "double-ingestion of real logging pipelines.")


class DuplicateRows:
    """Exact duplicate rows: the double-ingestion of real logging pipelines."""

    name = "duplicate_rows"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        return check_duplicates(data.duplicates, rows=data.rows)
