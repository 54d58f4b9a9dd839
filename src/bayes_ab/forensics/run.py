"""`run_forensics`: every check that applies to a folder, weighed and combined into a verdict."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.evidence import collect_evidence
from bayes_ab.forensics.reader import Kind, detect_kind, validate_folder
from bayes_ab.forensics.verdict import (
    CALIBRATION_SOURCES,
    PRIOR_ODDS,
    VERDICT_CUTOFF_LOG10,
    VERDICT_RULE,
    Verdict,
    combine,
    counted_log10_lr,
    format_odds,
    weigh,
)


@dataclass(frozen=True)
class ForensicsReport:
    kind: Kind
    path: str
    verdict: Verdict
    evidence: tuple[CheckResult, ...]
    #: Sums of the positive and of the (absolute) negative log10 LRs, by side.
    points: dict = field(default_factory=dict)
    anonymised: bool = False
    prior_odds: float = PRIOR_ODDS

    @property
    def log10_lr_total(self) -> float:
        """The summed log10 LR as counted by the rule (see `counted_log10_lr`)."""
        return float(sum(counted_log10_lr(self.evidence)))

    @property
    def log10_posterior_odds(self) -> float:
        return self.log10_lr_total + math.log10(self.prior_odds)

    @property
    def prob_simulated(self) -> float:
        return float(1.0 / (1.0 + 10.0 ** -self.log10_posterior_odds))

    @property
    def summary(self) -> str:
        counted = counted_log10_lr(self.evidence)
        n_sim = sum(x > 0 for x in counted)
        n_real = sum(x < 0 for x in counted)
        anon = (" Identity fields look substituted or hashed (anonymisation)."
                if self.anonymised else "")
        return (f"Verdict: {self.verdict}: summed log10 likelihood ratio simulated:real "
                f"{self.log10_lr_total:+.2f} ({n_sim} check(s) point to simulated, {n_real} to "
                f"real, of {len(self.evidence)}); posterior odds "
                f"{format_odds(self.log10_posterior_odds)} from prior odds {self.prior_odds:g}:1, "
                f"P(simulated) = {self.prob_simulated:.3g}.{anon}")

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "kind": self.kind,
            "path": self.path,
            "summary": self.summary,
            "points": dict(self.points),
            "anonymised": self.anonymised,
            "rule": VERDICT_RULE,
            "evidence": [{**e.to_dict(), "log10_lr_counted": round(c, 4)}
                         for e, c in zip(self.evidence, counted_log10_lr(self.evidence))],
            "log10_lr_total": round(self.log10_lr_total, 4),
            "prior_odds": self.prior_odds,
            "log10_posterior_odds": round(self.log10_posterior_odds, 4),
            "prob_simulated": self.prob_simulated,
            "cutoff_log10": VERDICT_CUTOFF_LOG10,
            "calibration": CALIBRATION_SOURCES,
        }


def run_forensics(path: str | Path, *, validate: bool = False, prior_odds: float = PRIOR_ODDS,
                  table: Mapping[str, Mapping[str, float]] | None = None) -> ForensicsReport:
    """Run every check that applies to the folder and combine them by `VERDICT_RULE`.

    ``prior_odds`` are the odds simulated : real before any check; ``table`` replaces the
    calibrated log10 LRs (`CALIBRATED_LOG10_LR`), as the calibration script does.
    ``validate=True`` first loads the folder through the analysis loaders, so anything
    ``bayes-ab validate`` (or ``funnel``) refuses is refused with the same `DataError`.
    """
    if not prior_odds > 0:
        raise ValueError("prior_odds must be > 0")
    folder = Path(path)
    kind = detect_kind(folder)
    if validate:
        validate_folder(folder, kind)
    evidence = weigh(collect_evidence(folder, kind), table)
    verdict, pts = combine(evidence, prior_odds=prior_odds)
    anonymised = any(e.verdict_hint == "anonymised" for e in evidence)
    return ForensicsReport(kind=kind, path=str(folder), verdict=verdict,
                           evidence=tuple(evidence), points=pts, anonymised=anonymised,
                           prior_odds=prior_odds)
