"""What every forensic check is: the `Check` protocol and its `CheckResult`.

A check looks at a folder's prepared rows (`bayes_ab.forensics.inputs`) and returns a
`CheckResult`: a statistic, a p-value or a score, a hint (``simulated``, ``real``,
``neutral`` or ``anonymised``) and one plain sentence. `bayes_ab.forensics.verdict.weigh`
then fills in its calibrated log10 likelihood ratio. One check lives in each file of
`bayes_ab.forensics.checks`; `bayes_ab.forensics.registry.CHECKS` lists them in the order
of forensics.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bayes_ab.forensics.inputs import Inputs
from bayes_ab.forensics.reader import Kind

Hint = Literal["simulated", "real", "neutral", "anonymised"]
Strength = Literal["strong", "weak", "none"]


@dataclass(frozen=True)
class CheckResult:
    """One check's result. `p_value` and `score` may be None when they do not apply.

    `log10_lr` is the calibrated log10 likelihood ratio (simulated : real) of this check's
    outcome and `lr_basis` says where it comes from; both are filled in by `weigh`.
    """

    check: str
    table: str
    statistic: float | None
    statistic_name: str
    p_value: float | None
    score: float | None
    verdict_hint: Hint
    strength: Strength
    message: str
    log10_lr: float = 0.0
    lr_basis: str = ""

    @property
    def outcome(self) -> str:
        """The hint as a calibration outcome.

        'n/a' when the check could not be computed (too few data: no statistic);
        'anonymised' counts as 'neutral' (it says nothing about the behaviour).
        """
        if self.statistic is None:
            return "n/a"
        return self.verdict_hint if self.verdict_hint in ("simulated", "real") else "neutral"

    def to_dict(self) -> dict:
        return {
            "check": self.check, "table": self.table,
            "statistic": _num(self.statistic), "statistic_name": self.statistic_name,
            "p_value": _num(self.p_value), "score": _num(self.score),
            "verdict_hint": self.verdict_hint, "strength": self.strength,
            "message": self.message,
            "log10_lr": _num(self.log10_lr), "lr_basis": self.lr_basis,
        }


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@runtime_checkable
class Check(Protocol):
    """One forensic check.

    ``name`` is the check's name in forensics.json and in the calibration table
    (`bayes_ab.forensics.verdict.CALIBRATED_LOG10_LR`); ``kinds`` the folder kinds it
    applies to (``experiment``, ``lead_funnel``). `applies` says whether the folder has
    what the check needs (an optional column, say); `run` computes the result.
    """

    name: str
    kinds: frozenset[Kind]

    def applies(self, data: Inputs) -> bool:
        """Whether this folder has what the check looks at."""
        ...

    def run(self, data: Inputs) -> CheckResult:
        """The check's result on the folder's prepared rows."""
        ...
