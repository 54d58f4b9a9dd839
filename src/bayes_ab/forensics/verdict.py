"""The verdict: calibrated log10 likelihood ratios per check outcome, summed into odds.

Each check's outcome (its hint: ``simulated``, ``neutral`` or ``real``; ``anonymised``
counts as neutral) carries a log10 likelihood ratio, simulated : real, calibrated on data
sets whose origin is known (`CALIBRATED_LOG10_LR`, `CALIBRATION_SOURCES`; ``python
models/forensics.py --calibrate`` recomputes it). Checks with one cause (`CHECK_GROUPS`)
count once each way; the log-LRs are summed and added to the log10 prior odds. The
verdict is ``simulated`` at posterior odds of at least 19:1 (`VERDICT_CUTOFF_LOG10`),
``real`` at most 1:19, otherwise ``inconclusive`` (`VERDICT_RULE`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Literal

import numpy as np

from bayes_ab.forensics.base import CheckResult, Strength

Verdict = Literal["simulated", "real", "inconclusive"]

#: The verdict needs posterior odds of at least 19:1 (simulated : real), i.e.
#: P(simulated) >= 0.95, or at most 1:19; between them it is "inconclusive".
VERDICT_CUTOFF_LOG10 = math.log10(19.0)
#: Prior odds simulated : real before any check (stated, overridable in run_forensics).
PRIOR_ODDS = 1.0
#: Per-outcome log10 likelihood ratios are capped at this magnitude: a dozen calibration
#: data sets cannot support a larger ratio for any single check.
LLR_CAP = 1.5
#: Pseudo-count per outcome (Laplace) when outcome frequencies become probabilities.
PSEUDO_COUNT = 1.0
OUTCOMES = ("simulated", "neutral", "real")
#: Checks that one generator decision produces together (injected messiness; one clock of
#: waking hours): within a group only the strongest hint each way is counted.
CHECK_GROUPS: dict[str, frozenset[str]] = {
    "cleanliness": frozenset({"missing_values", "duplicate_rows", "impossible_records"}),
    "daily_clock": frozenset({"diurnal_structure", "diurnal_conversions",
                              "diurnal_return_visits"}),
}
VERDICT_RULE = (
    "Each check's outcome (simulated / real hint) carries a calibrated log10 likelihood "
    "ratio simulated:real (log10_lr); neutral, anonymised and not-applicable outcomes carry 0. "
    "Within a group of checks with one cause (cleanliness: missing_values, duplicate_rows, "
    "impossible_records; daily clock: diurnal_structure, diurnal_conversions, "
    "diurnal_return_visits) only the strongest hint each way counts. Sum them, add log10 of the "
    f"prior odds (default {PRIOR_ODDS:g}:1): verdict 'simulated' if the sum >= "
    f"log10(19) = {VERDICT_CUTOFF_LOG10:.3f} (posterior odds >= 19:1, P(simulated) >= 0.95), "
    f"'real' if <= -{VERDICT_CUTOFF_LOG10:.3f} (P(simulated) <= 0.05), "
    "otherwise 'inconclusive'. Checks are treated as independent (they are not quite)."
)

#: Calibrated log10 likelihood ratios simulated:real per check and outcome, computed by
#: ``python models/forensics.py --calibrate`` from the sources in `CALIBRATION_SOURCES`
#: (pasted here so the verdict does not depend on data the user may not have).
CALIBRATED_LOG10_LR: dict[str, dict[str, float]] = {
    "benford_first_digit": {"simulated": 0.0, "real": 0.0},
    "binomial_dispersion": {"simulated": 0.0, "real": -0.86},
    "count_dispersion": {"simulated": 0.35, "real": -0.35},
    "daily_volume": {"simulated": 0.35, "real": -0.81},
    "diurnal_conversions": {"simulated": 0.73, "real": -0.43},
    "diurnal_return_visits": {"simulated": 0.0, "real": 0.0},
    "diurnal_structure": {"simulated": 0.69, "real": -0.35},
    "duplicate_rows": {"simulated": 0.69, "real": -0.35},
    "duration_family": {"simulated": 0.69, "real": -0.27},
    "extreme_values": {"simulated": 0.0, "real": 0.0},
    "generated_names": {"simulated": 0.0, "real": 0.0},
    "id_regularity": {"simulated": 0.0, "real": 0.0},
    "impossible_records": {"simulated": 0.0, "real": 0.0},
    "missing_values": {"simulated": 0.69, "real": -0.35},
    "names_vs_emails": {"simulated": 0.0, "real": 0.0},
    "shared_histories": {"simulated": 0.0, "real": 0.0},
    "simultaneous_events": {"simulated": 0.0, "real": 0.0},
    "split_exactness": {"simulated": 0.52, "real": 0.0},
    "timestamp_granularity": {"simulated": 0.0, "real": -0.65},
    "weekday_structure": {"simulated": 0.0, "real": 0.0},
    "weekend_clock": {"simulated": 0.47, "real": -0.87},
}

#: Where P(outcome | real) comes from for checks that real event logs cannot exercise
#: (experiment-only checks); every other check is calibrated on both sides.
ASSUMED_REAL: dict[str, dict[str, float]] = {
    # Under a real randomisation P(band p < 0.05) = 0.05 by construction.
    "split_exactness": {"simulated": 0.05, "neutral": 0.95, "real": 0.0},
    # Judgement: conversion varies beyond binomial noise across arm x hour in some real
    # experiments and not in others.
    "binomial_dispersion": {"simulated": 0.0, "neutral": 0.6, "real": 0.4},
}
#: Checks whose real-side frequencies are borrowed from another check (the same test on
#: other timestamps).
BORROWED_REAL = {"diurnal_conversions": "diurnal_structure",
                 "diurnal_return_visits": "diurnal_structure"}
CALIBRATION_BASIS: dict[str, str] = {
    **{c: "simulated side calibrated; real side assumed (see ASSUMED_REAL)" for c in ASSUMED_REAL},
    **{c: f"simulated side calibrated; real side borrowed from {b}"
       for c, b in BORROWED_REAL.items()},
}
CALIBRATION_SOURCES: dict = {
    "simulated": "seeds 1-5 (3,000 customers each) of three generators of the help-widget "
                 "contract: 'naive' and 'careful' (tests/forensics_generators.py) and "
                 "bayes_ab.data.simulate",
    "real": "the SpatialOS lead-funnel event log (shared/data/spatialos) cut into five "
            "18-day windows",
    "probabilities": f"P(outcome | source) = (count + {PSEUDO_COUNT:g}) / (data sets + "
                     f"{3 * PSEUDO_COUNT:g}); log10 ratios capped at +-{LLR_CAP:g}; a "
                     "'simulated' hint never counts for real nor a 'real' hint for simulated",
    "evaluation": "docs/FORENSICS.md: held-out seeds, leave-one-generator-out, "
                  "leave-one-window-out",
}


def format_odds(log10_odds: float) -> str:
    """Odds as text: ``19:1`` or ``1:19`` (3 significant digits)."""
    if log10_odds >= 0:
        return f"{10 ** min(log10_odds, 300):.3g}:1"
    return f"1:{10 ** min(-log10_odds, 300):.3g}"


def strength_of(log10_lr: float) -> Strength:
    size = abs(log10_lr)
    return "strong" if size >= 1 else "weak" if size >= 0.3 else "none"


def log10_lr_table(sim: Mapping[str, Mapping[str, int]], real: Mapping[str, Mapping[str, int]],
                   *, assumed_real: Mapping[str, Mapping[str, float]] | None = None,
                   pseudo: float = PSEUDO_COUNT, cap: float = LLR_CAP) -> dict:
    """log10 P(outcome | simulated) / P(outcome | real) per check and outcome.

    ``sim`` and ``real`` map check -> {outcome: number of calibration data sets with that
    outcome}. Frequencies become probabilities with `pseudo` added to each of the three
    outcomes: P = (n + pseudo) / (N + 3 pseudo). A check never seen on real data takes
    P(outcome | real) from ``assumed_real`` (stated in `CALIBRATION_SOURCES`), or gets 0
    (no vote) when there is none; likewise a check never seen on simulated data. Ratios
    are capped at +-`cap` and rounded to 2 decimals.
    """
    assumed_real = assumed_real or {}
    out: dict[str, dict[str, float]] = {}
    for check in sorted(set(sim) | set(real)):
        s = {o: k for o, k in sim.get(check, {}).items() if o in OUTCOMES}
        r = {o: k for o, k in real.get(check, {}).items() if o in OUTCOMES}
        ns, nr = sum(s.values()), sum(r.values())
        row = {}
        for o in OUTCOMES:
            never_seen = (s.get(o, 0) + r.get(o, 0) == 0
                          and not assumed_real.get(check, {}).get(o, 0.0))
            if ns == 0 or (nr == 0 and check not in assumed_real) or never_seen:
                row[o] = 0.0  # nothing to calibrate on: no vote
                continue
            ps = (s.get(o, 0) + pseudo) / (ns + len(OUTCOMES) * pseudo)
            if nr:
                pr = (r.get(o, 0) + pseudo) / (nr + len(OUTCOMES) * pseudo)
            else:
                pr = max(float(assumed_real[check].get(o, 0.0)), 0.01)
            llr = float(np.clip(math.log10(ps / pr), -cap, cap))
            # Calibration sets how much a hint weighs, never which way it points: a
            # 'simulated' hint cannot count for real (and vice versa), and 'neutral' never
            # votes. Otherwise a quirk of the one real source (its shared histories) would
            # teach the rule that copied histories mean real data.
            llr = (max(llr, 0.0) if o == "simulated" else min(llr, 0.0) if o == "real"
                   else 0.0)
            row[o] = round(llr, 2)
        out[check] = row
    return out


def weigh(evidence: Iterable[CheckResult],
          table: Mapping[str, Mapping[str, float]] | None = None) -> list[CheckResult]:
    """Attach each check's calibrated log10 LR (and the strength it implies)."""
    table = CALIBRATED_LOG10_LR if table is None else table
    out = []
    for e in evidence:
        if e.check in table:
            llr = float(table[e.check].get(e.outcome, 0.0))
            basis = CALIBRATION_BASIS.get(e.check, "calibrated")
        else:
            llr, basis = 0.0, "not calibrated: no vote"
        out.append(replace(e, log10_lr=llr, lr_basis=basis, strength=strength_of(llr)))
    return out


def counted_log10_lr(evidence: Iterable[CheckResult]) -> list[float]:
    """The log10 LR each check contributes to the sum, in order.

    Checks of one `CHECK_GROUPS` group share a cause (one generator decision makes all
    of them), so within a group only the strongest hint each way counts: the largest
    positive and the most negative log10 LR; the others contribute 0.
    """
    evidence = list(evidence)
    counted = [e.log10_lr for e in evidence]
    for members in CHECK_GROUPS.values():
        idx = [i for i, e in enumerate(evidence) if e.check in members]
        for sign in (1, -1):
            side = [i for i in idx if sign * counted[i] > 0]
            if len(side) > 1:
                keep = max(side, key=lambda i: sign * counted[i])
                for i in side:
                    if i != keep:
                        counted[i] = 0.0
    return counted


def combine(evidence: Iterable[CheckResult], *, prior_odds: float = PRIOR_ODDS,
            cutoff: float = VERDICT_CUTOFF_LOG10) -> tuple[Verdict, dict]:
    """Apply `VERDICT_RULE` to weighed evidence: (verdict, points by side).

    The log10 posterior odds are the sum of the checks' `log10_lr` plus log10(prior_odds).
    """
    evidence = list(evidence)
    if not prior_odds > 0:
        raise ValueError("prior_odds must be > 0")
    counted = counted_log10_lr(evidence)
    total = sum(counted) + math.log10(prior_odds)
    pts = {"simulated": round(sum(x for x in counted if x > 0), 4),
           "real": round(-sum(x for x in counted if x < 0), 4)}
    if total >= cutoff:
        return "simulated", pts
    if total <= -cutoff:
        return "real", pts
    return "inconclusive", pts

