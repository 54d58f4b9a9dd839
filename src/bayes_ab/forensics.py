"""Data forensics: does a data set look real (anonymised) or simulated?

``run_forensics(path)`` reads either kind of folder this package knows:

* the help-widget experiment (``test_cohorts``, ``product_activity``,
  ``help_activity``, ``conversion`` as .csv / .csv.gz / .parquet), or
* the lead funnel (``leads.csv(.gz)`` + ``events.csv(.gz)``),

and runs a battery of checks for the fingerprints that generators leave and real
logs do not (or the other way round). Each check returns an `Evidence`: a statistic,
a p-value or a score, a hint (``simulated``, ``real``, ``neutral`` or ``anonymised``)
and one plain sentence; `weigh` adds its calibrated log10 likelihood ratio.

The verdict combines the checks on a stated scale (`VERDICT_RULE`, also written into
forensics.json). Each check's outcome (its hint: ``simulated``, ``neutral`` or ``real``;
``anonymised`` counts as neutral) carries a log10 likelihood ratio, simulated : real,
calibrated on data sets whose origin is known (`CALIBRATED_LOG10_LR`,
`CALIBRATION_SOURCES`: seeds of two generators that are not this package's simulator
and of the simulator, and time windows of a real event log; ``python models/forensics.py
--calibrate`` recomputes it). Checks with one cause (`CHECK_GROUPS`) count once each way;
the log-LRs are summed (as if the checks were independent, which they are not quite: see
docs/FORENSICS.md) and added to the log10 prior odds (1:1 unless given). The verdict is
``simulated`` when the posterior odds are at least 19:1 (`VERDICT_CUTOFF_LOG10`,
P(simulated) >= 0.95), ``real`` when at most 1:19, otherwise ``inconclusive``. A check's
``strength`` is its calibrated weight: ``strong`` for |log10 LR| >= 1, ``weak`` for
>= 0.3, else ``none``.

The files are read by the analysis loader's reader (`bayes_ab.data.load.read_table`),
so an unreadable file fails with the same message as ``bayes-ab validate``, but the
checks see the rows *before* cleaning, because they look at exactly what the loader
cleans away: duplicates, blanks, the precision of the timestamps, the shape of the ids.
With ``validate=True`` (what the ``forensics`` command does) the folder is first loaded
through the full loader (`load_experiment` / `load_funnel`), so a folder ``validate``
refuses is refused here with the same exit-2 message.

What the checks cannot do: a generator written to look real (overdispersed counts,
mixtures instead of single distributions, an empirical hour profile, injected
duplicates and blanks) passes most of them; see docs/FORENSICS.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.errors import DataError

__all__ = [
    "Evidence", "ForensicsReport", "run_forensics", "detect_kind", "VERDICT_RULE",
    "LOREM_WORDS", "COMPANY_SUFFIXES",
]

Hint = Literal["simulated", "real", "neutral", "anonymised"]
Strength = Literal["strong", "weak", "none"]
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

#: Duration fits use at most this many values: with 10^5 values every textbook family is
#: rejected by a trivial misfit, so a fixed sample keeps the test comparable across data sets.
KS_MAX_N = 2000
#: Below this many durations a good fit of one family is not remarkable.
KS_MIN_N = 300
SEED = 20240505

#: Words of the "lorem ipsum" filler text that name generators (generatedata.com, Faker's
#: lorem provider) build company names from.
LOREM_WORDS = frozenset("""
a ac accumsan ad adipiscing aenean aliquam aliquet amet ante aptent arcu at auctor augue
bibendum blandit class commodo condimentum congue consectetuer consectetur consequat conubia
convallis cras cubilia cum curabitur curae cursus dapibus diam dictum dictumst dignissim dis
dolor donec dui duis efficitur egestas eget eleifend elementum elit enim erat eros est et etiam
eu euismod facilisi facilisis fames faucibus felis fermentum feugiat fringilla fusce gravida
habitant habitasse hac hendrerit himenaeos iaculis id imperdiet in inceptos integer interdum
ipsum justo lacinia lacus laoreet lectus leo libero ligula litora lobortis lorem luctus maecenas
magna magnis malesuada massa mattis mauris metus mi molestie mollis montes morbi mus nam
nascetur natoque nec neque netus nibh nisi nisl non nonummy nostra nulla nullam nunc odio orci
ornare parturient pede pellentesque penatibus per pharetra phasellus placerat platea porta
porttitor posuere potenti praesent pretium primis proin pulvinar purus quam quis quisque
rhoncus ridiculus risus rutrum sagittis sapien scelerisque sed sem semper senectus sit sociis
sociosqu sodales sollicitudin suscipit suspendisse taciti tellus tempor tempus tincidunt
torquent tortor tristique turpis ullamcorper ultrices ultricies urna ut varius vehicula vel
velit venenatis vestibulum vitae vivamus viverra volutpat vulputate
""".split())

#: Legal-form suffixes that company-name generators append (generatedata.com, Faker).
COMPANY_SUFFIXES = frozenset(s.lower() for s in (
    "Inc.", "Inc", "Incorporated", "Corp.", "Corp", "Corporation", "LLC", "LLP", "Ltd", "Ltd.",
    "Limited", "PC", "Company", "Consulting", "Industries", "Institute", "Associates",
    "Foundation", "Group", "PLC", "Sons", "and", "&", "Co", "Co.",
))


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Evidence:
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


@dataclass(frozen=True)
class ForensicsReport:
    kind: Literal["experiment", "lead_funnel"]
    path: str
    verdict: Verdict
    evidence: tuple[Evidence, ...]
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
                f"{_odds(self.log10_posterior_odds)} from prior odds {self.prior_odds:g}:1, "
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


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _odds(log10_odds: float) -> str:
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


def weigh(evidence: Iterable[Evidence],
          table: Mapping[str, Mapping[str, float]] | None = None) -> list[Evidence]:
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


def counted_log10_lr(evidence: Iterable[Evidence]) -> list[float]:
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


def combine(evidence: Iterable[Evidence], *, prior_odds: float = PRIOR_ODDS,
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


# ----------------------------------------------------------------------------- reading

_SUFFIXES = (".csv", ".csv.gz", ".parquet")
EXPERIMENT_STEMS = ("test_cohorts", "product_activity", "help_activity", "conversion")
LEAD_STEMS = ("leads", "events")


def _find(folder: Path, stem: str) -> Path | None:
    for p in sorted(folder.iterdir()):
        if p.is_file() and any(p.name.lower() == stem + s for s in _SUFFIXES):
            return p
    return None


def read_raw(path: str | Path, *, header_only_ok: bool = False) -> pd.DataFrame:
    """A file's cells as text ('' when blank), column names normalised as the loader does.

    The file is read by the analysis loader's own reader (`bayes_ab.data.load.read_table`),
    so a ragged or unparseable CSV, random bytes, a truncated gzip or a link to something
    that is not a table fails with the same `DataError` (exit 2) as `bayes-ab validate`.
    Nothing is cleaned beyond dropping wholly blank lines: duplicates, blank cells and the
    precision of the timestamps are what the checks look at. Parquet timestamps become
    ISO text so every check sees the same thing whatever the format. With
    ``header_only_ok`` a file with a header and no rows gives an empty frame (the
    contract allows that for ``help_activity``).
    """
    from bayes_ab.data.load import LINE, read_table

    path = Path(path)
    try:
        table = read_table(path)
    except DataError as exc:
        if header_only_ok and exc.n_rows == 0 and "no data rows" in exc.reason:
            return pd.DataFrame()
        raise
    df = table.data.drop(columns=[LINE])
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_dtype(s):
            df[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").where(s.notna(), "")
        else:
            df[col] = s.astype(object).where(s.notna(), "").astype(str)
    return df.reset_index(drop=True)


def detect_kind(path: str | Path) -> Literal["experiment", "lead_funnel"]:
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}", file=str(folder))
    if _find(folder, "leads") and _find(folder, "events"):
        return "lead_funnel"
    if _find(folder, "test_cohorts"):
        return "experiment"
    raise DataError(
        "found neither the experiment files (test_cohorts, product_activity, help_activity, "
        "conversion) nor the lead-funnel files (leads, events)", file=str(folder))


def _ts(s: pd.Series) -> pd.Series:
    """Text timestamps -> datetime64[ns, UTC] (NaT for blanks and unparseable values)."""
    return pd.to_datetime(s.replace("", None), utc=True, format="ISO8601", errors="coerce")


# ----------------------------------------------------------------------------- checks


def check_split(n_test: int, n: int, *, share: float = DESIGN_TEST_SHARE) -> Evidence:
    """Is the split *too* close to the design share for an independent randomisation?

    p_value = P(|X - n*share| <= |observed - n*share|) for X ~ Binomial(n, share): small
    when the split is closer to exact than chance allows.
    """
    expected = n * share
    dev = abs(n_test - expected)
    lo, hi = math.ceil(expected - dev - 1e-9), math.floor(expected + dev + 1e-9)
    p_exact = float(stats.binom.cdf(hi, n, share) - stats.binom.cdf(lo - 1, n, share))
    p_srm = float(stats.binomtest(n_test, n, share).pvalue)
    sd = math.sqrt(n * share * (1 - share))
    text = (f"{n_test} of {n} customers in Test ({n_test / n:.4f} vs design {share}); "
            f"deviation {dev:.1f} = {dev / sd:.2f} binomial sd.")
    if p_exact < 0.01:
        return Evidence("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                        None, "simulated", "strong",
                        text + " An independent randomisation lands this close to the exact "
                        f"share with probability {p_exact:.3g}: the split looks fixed by "
                        "construction.")
    if p_exact < 0.05:
        return Evidence("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                        None, "simulated", "weak",
                        text + f" Closer to exact than chance usually gives (p={p_exact:.3g}).")
    srm = (f" The split is far from the design (sample-ratio mismatch, p={p_srm:.2g}), "
           "a fault real pipelines show." if p_srm < 0.001 else "")
    return Evidence("split_exactness", "test_cohorts", dev / sd, "deviation_sd", p_exact,
                    None, "neutral", "none",
                    text + " It varies as a binomial randomisation does." + srm)


def _shape(s: str) -> str:
    return re.sub(r"[a-f]", "h", re.sub(r"\d", "9", s.lower()))


def check_ids(ids: pd.Series, *, table: str, column: str) -> Evidence:
    """Sequential / fixed-pattern / hashed identifiers."""
    ids = ids.astype(str)
    ids = ids[ids != ""]
    n = len(ids)
    shapes = ids.map(_shape).value_counts()
    top_share = float(shapes.iloc[0] / n) if n else 0.0
    digits = ids.str.extract(r"^(\D*?)(\d+)$")
    numeric = digits[1].notna().all() and digits[0].nunique() <= 1
    if numeric and n > 1:
        values = digits[1].astype(np.int64).to_numpy()
        uniq = np.unique(values)
        span = int(uniq[-1] - uniq[0] + 1)
        fill = len(uniq) / span
        monotone = bool(np.all(np.diff(values) > 0))
        text = (f"{n} numeric ids, filling {fill:.1%} of the range {uniq[0]}..{uniq[-1]}; "
                f"{'monotone' if monotone else 'not monotone'} in file order.")
        if fill > 0.99:
            return Evidence("id_regularity", table, fill, "range_fill", None, fill,
                            "simulated", "weak",
                            text + " Gap-free sequential ids are what a generator writes "
                            "(or an anonymiser that re-keyed customers 1..N).")
        return Evidence("id_regularity", table, fill, "range_fill", None, fill, "neutral",
                        "none", text + " Gaps, as real id sequences have.")
    # Non-numeric ids: the entropy of the varying characters tells hashes / random hex
    # (about 4 bits per character) from readable or structured keys.
    lengths = ids.str.len()
    body = ids.str.replace(r"^[A-Za-z]+_", "", regex=True).str.lower()
    chars = "".join(body.sample(min(n, 2000), random_state=0).tolist())
    counts = pd.Series(list(chars)).value_counts().to_numpy(float)
    entropy = float(-(counts / counts.sum() * np.log2(counts / counts.sum())).sum())
    hexlike = bool(body.str.fullmatch(r"[0-9a-f]+").all())
    text = (f"{n} ids, {shapes.size} character pattern(s) (top one {top_share:.1%}), "
            f"lengths {lengths.min()}..{lengths.max()}, {entropy:.2f} bits per character.")
    if hexlike and entropy > 3.9:
        kind = "MD5 digests" if body.str.len().eq(32).all() else "random hex strings"
        return Evidence("id_regularity", table, entropy, "bits_per_char", None, top_share,
                        "anonymised", "none",
                        text + f" They are {kind}: hashed or random keys, typical of both "
                        "anonymised exports and generators, so no vote.")
    return Evidence("id_regularity", table, entropy, "bits_per_char", None, top_share,
                    "neutral", "none", text + " No telling regularity.")


def _resolution(ts: pd.Series, *, share: float = 0.99) -> tuple[str, float]:
    """The coarsest unit that (at least `share` of) the timestamps are multiples of, in s."""
    ns = ts.dropna().astype("int64").to_numpy()
    for name, unit in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1),
                       ("millisecond", 1e-3), ("microsecond", 1e-6)):
        if ns.size == 0 or np.mean(ns % int(round(unit * 1e9)) == 0) >= share:
            return name, float(unit)
    return "nanosecond", 1e-9


def check_timestamp_granularity(ts: pd.Series, *, table: str) -> Evidence:
    ts = ts.dropna()
    n = len(ts)
    name, unit = _resolution(ts)
    ns = ts.astype("int64").to_numpy()
    off = ns[ns % int(round(unit * 1e9)) != 0]
    sec = ts.dt.second.to_numpy()
    share0 = float(np.mean(sec == 0))
    text = f"{n} timestamps at {name} resolution; {share0:.1%} fall on second :00."
    if off.size:
        # A minority at a finer precision: two clocks or sources fed the log.
        return Evidence("timestamp_granularity", table, off.size / n, "share_finer_precision",
                        None, share0, "real", "weak",
                        text + f" {off.size} ({off.size / n:.2%}) carry a finer precision than "
                        "the rest: a second clock or source, the kind of seam real logs have "
                        "and generators do not.")
    if unit >= 60:
        return Evidence("timestamp_granularity", table, share0, "share_second_00", None,
                        share0, "simulated", "weak",
                        text + " Rounded to the minute or coarser: a generator's clock, or an "
                        "export at minute precision.")
    # Real clocks spread seconds evenly; a chi-square test against uniform seconds.
    counts = np.bincount(sec, minlength=60)
    chi = stats.chisquare(counts)
    ticks = ""
    if unit >= 1 and chi.pvalue < 0.001:
        # The tick of a periodic job is the one with the largest excess of hits.
        excess = {tick: float(np.sum(sec % tick == 0) - n / tick) for tick in (5, 10, 15, 30)}
        tick = max(excess, key=excess.get)
        if excess[tick] > 0.02 * n:
            share = float(np.mean(sec % tick == 0))
            ticks = (f" {share:.1%} of them land on multiples of {tick} s (chance: "
                     f"{1 / tick:.1%}): some events are driven by a periodic job (a real "
                     "detector or a simulated one).")
    return Evidence("timestamp_granularity", table, float(chi.statistic), "chi2_seconds",
                    float(chi.pvalue), share0, "neutral", "none",
                    text + f" Seconds-of-minute uniformity p={chi.pvalue:.2g}." + ticks
                    + " Precision alone does not separate real logs from generated ones.")


def check_zero_gaps(ts: pd.Series, entity: pd.Series, *, table: str) -> Evidence:
    """Excess of identical consecutive timestamps of one entity (batched logging)."""
    df = pd.DataFrame({"e": entity.to_numpy(), "t": ts.to_numpy()}).dropna()
    df = df.sort_values(["e", "t"])
    _, unit = _resolution(df["t"])
    gaps = df.groupby("e")["t"].diff().dropna().dt.total_seconds().to_numpy() / unit
    gaps = np.rint(gaps)
    n0 = int(np.sum(gaps == 0))
    near = np.array([np.sum(gaps == k) for k in range(1, 6)])
    # With a smooth gap density near zero, a gap of 0 units is as likely as 1..5 units.
    ref = float(near.mean()) if near.size else 0.0
    ratio = n0 / max(ref, 0.5)
    text = (f"{n0} consecutive events of the same entity share a timestamp exactly, vs "
            f"{ref:.1f} per unit at gaps of 1..5 units (ratio {ratio:.1f}).")
    if n0 >= 20 and ratio > 5:
        p = float(stats.poisson.sf(n0 - 1, max(ref, 0.5)))
        return Evidence("simultaneous_events", table, ratio, "zero_gap_ratio", p, None,
                        "real", "weak",
                        text + " Bursts logged at the same instant are a logging-pipeline "
                        "artefact that simple generators do not reproduce.")
    return Evidence("simultaneous_events", table, ratio, "zero_gap_ratio", None, None,
                    "neutral", "none", text + " No excess of simultaneous events.")


def check_shared_histories(ts: pd.Series, entity: pd.Series, *, table: str,
                           min_events: int = 5, max_per_instant: int = 50) -> Evidence:
    """Entities whose history is, to the timestamp, a copy of one other entity's.

    An entity counts as copied when over 90% of its distinct timestamps also occur in the
    history of one single other entity (a chance coincidence at a few instants does not
    add up to that). Instants shared by more than `max_per_instant` entities (coarse
    clocks, batch jobs) are ignored.
    """
    df = pd.DataFrame({"e": entity.to_numpy(), "t": ts.to_numpy()}).dropna().drop_duplicates()
    size = df.groupby("e").size()
    per_t = df.groupby("t")["e"].transform("size")
    shared = df[(per_t > 1) & (per_t <= max_per_instant)]
    pairs = shared.merge(shared, on="t")
    pairs = pairs[pairs["e_x"] != pairs["e_y"]]
    common = pairs.groupby(["e_x", "e_y"]).size()
    best = (common / size.reindex(common.index.get_level_values(0)).to_numpy())
    best = best.groupby(level=0).max()
    eligible = size[size >= min_events]
    frac = best.reindex(eligible.index, fill_value=0.0)
    n = len(frac)
    copied = int((frac > 0.9).sum())
    share = copied / n if n else 0.0
    text = (f"{copied} of {n} entities with >= {min_events} events share over 90% of their "
            "timestamps, to the last digit, with one other entity.")
    if copied >= 3 and share > 0.01:
        return Evidence("shared_histories", table, share, "share_copied", None, share,
                        "simulated", "strong",
                        text + " Independent people do not act at identical instants for "
                        "hundreds of events: histories were attached to several records "
                        "(events joined per account, or streams reused when the data set was "
                        "assembled).")
    return Evidence("shared_histories", table, share, "share_copied", None, share, "neutral",
                    "none", text + " Histories are distinct, as independent people's are.")


def check_dispersion(counts: np.ndarray, *, table: str, what: str) -> Evidence:
    """Index of dispersion var/mean of counts per entity against Poisson (= 1)."""
    counts = np.asarray(counts, float)
    n = counts.size
    mean, var = counts.mean(), counts.var(ddof=1)
    ratio = float(var / mean) if mean > 0 else float("nan")
    d = ratio * (n - 1)
    p_over = float(stats.chi2.sf(d, n - 1))
    p_under = float(stats.chi2.cdf(d, n - 1))
    text = (f"{what}: mean {mean:.2f}, variance {var:.2f}, index of dispersion {ratio:.2f} "
            f"(Poisson = 1) over {n} entities.")
    if ratio >= 3 and p_over < 0.001:
        return Evidence("count_dispersion", table, ratio, "var_over_mean", p_over, None,
                        "real", "strong",
                        text + " Strongly overdispersed: a few heavy users and many light "
                        "ones, as real activity always is.")
    if ratio >= 1.5 and p_over < 0.001:
        return Evidence("count_dispersion", table, ratio, "var_over_mean", p_over, None,
                        "real", "weak", text + " Overdispersed, as real counts are.")
    if 0.8 <= ratio < 1.25 and p_over > 0.01 and p_under > 0.01:
        return Evidence("count_dispersion", table, ratio, "var_over_mean",
                        min(p_over, p_under) * 2, None, "simulated", "weak",
                        text + " Exactly Poisson: people are never that alike.")
    return Evidence("count_dispersion", table, ratio, "var_over_mean",
                    min(p_over, p_under) * 2, None, "neutral", "none",
                    text + (" Underdispersed: bounded counts, as the design allows."
                            if ratio < 0.8 else " Mildly overdispersed."))


def check_binomial_homogeneity(success: np.ndarray, group: np.ndarray, *, table: str,
                               what: str, min_per_group: int = 30) -> Evidence:
    """Extra-binomial variation of a rate across groups (e.g. hour of the day)."""
    df = pd.DataFrame({"y": np.asarray(success, float), "g": np.asarray(group)}).dropna()
    agg = df.groupby("g")["y"].agg(["sum", "count"])
    agg = agg[agg["count"] >= min_per_group]
    k = len(agg)
    if k < 3 or agg["sum"].sum() == 0:
        return Evidence("binomial_dispersion", table, None, "chi2_over_df", None, None,
                        "neutral", "none", f"{what}: too few groups with data to test.")
    p = agg["sum"].sum() / agg["count"].sum()
    expected = agg["count"] * p
    chi2 = float((((agg["sum"] - expected) ** 2) / (expected * (1 - p))).sum())
    pval = float(stats.chi2.sf(chi2, k - 1))
    ratio = chi2 / (k - 1)
    text = (f"{what}: chi-square {chi2:.1f} on {k - 1} df (ratio {ratio:.2f}) across {k} "
            f"groups, p={pval:.2g}.")
    if pval < 0.01:
        return Evidence("binomial_dispersion", table, ratio, "chi2_over_df", pval, None,
                        "real", "weak",
                        text + " The rate varies beyond binomial noise, as real rates do.")
    return Evidence("binomial_dispersion", table, ratio, "chi2_over_df", pval, None,
                    "neutral", "none",
                    text + " Consistent with one binomial rate; real data can be too, so "
                    "no vote.")


_FAMILIES = {
    "exponential": stats.expon,
    "lognormal": stats.lognorm,
    "gamma": stats.gamma,
    "weibull": stats.weibull_min,
}


def fit_families(x: np.ndarray, *, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """KS (statistic, p) of each textbook family fitted by maximum likelihood (loc = 0)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size > KS_MAX_N:
        x = rng.choice(x, KS_MAX_N, replace=False)
    out = {}
    for name, dist in _FAMILIES.items():
        try:
            params = dist.fit(x, floc=0)
            res = stats.kstest(x, dist.cdf, args=params)
            out[name] = (float(res.statistic), float(res.pvalue))
        except Exception:  # a failed fit is simply not a candidate  # noqa: BLE001
            continue
    return out


def check_durations(groups: dict[str, np.ndarray], *, table: str, unit_s: float,
                    what: str) -> Evidence:
    """Does each group of durations fit one textbook family near-perfectly?

    Durations computed from rounded timestamps are jittered within the rounding unit so
    the ties do not reject every continuous family. Parameters are estimated, so the KS
    p-values are conservative (too large): a *rejection* is trustworthy, a fit a hint.
    """
    rng = np.random.default_rng(SEED)
    parts, best_ps, n_total = [], [], 0
    for label, x in groups.items():
        x = np.asarray(x, float)
        x = x[np.isfinite(x)]
        if unit_s >= 1e-3:
            x = x + rng.uniform(-unit_s / 2, unit_s / 2, x.size)
        x = x[x > 0]
        if x.size < 30:
            continue
        fits = fit_families(x, rng=rng)
        if not fits:
            continue
        best = max(fits, key=lambda k: fits[k][1])
        best_ps.append(fits[best][1])
        n_total += min(x.size, KS_MAX_N)
        parts.append(f"{label}: best {best} (KS D={fits[best][0]:.3f}, p={fits[best][1]:.2g}, "
                     f"n={x.size})")
    if not best_ps:
        return Evidence("duration_family", table, None, "best_ks_p", None, None, "neutral",
                        "none", f"{what}: too few durations to test.")
    worst_best = float(min(best_ps))
    text = f"{what}: " + "; ".join(parts) + "."
    if n_total >= KS_MIN_N and worst_best >= 0.05:
        return Evidence("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                        "simulated", "strong",
                        text + " One textbook family fits every group: real durations are "
                        "mixtures (quick people, slow people, interruptions) and reject them "
                        "all at this sample size.")
    if max(best_ps) < 0.001:
        return Evidence("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                        "real", "weak",
                        text + " Every family is rejected, as with real durations (or a "
                        "generator's mixture).")
    return Evidence("duration_family", table, worst_best, "best_ks_p", worst_best, None,
                    "neutral", "none", text + " Mixed evidence.")


def check_missing(cells: int, missing: int, *, detail: str, table: str) -> Evidence:
    share = missing / cells if cells else 0.0
    text = f"{missing} blank cell(s) of {cells} where a value is expected ({detail})."
    if missing == 0:
        return Evidence("missing_values", table, 0.0, "share_missing", None, 0.0,
                        "simulated", "weak",
                        text + " Not one missing value: generators fill every field, real "
                        "exports rarely do.")
    return Evidence("missing_values", table, share, "share_missing", None, share, "real",
                    "weak", text + " Gaps, as real records have.")


def check_duplicates(dups: dict[str, int], *, rows: int) -> Evidence:
    total = int(sum(dups.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in dups.items())
    share = total / rows if rows else 0.0
    if total == 0:
        return Evidence("duplicate_rows", "all", 0.0, "share_duplicated", None, 0.0,
                        "simulated", "weak",
                        f"No exact duplicate rows ({detail}). Real pipelines double-log "
                        "some events; a generator writes each row once.")
    return Evidence("duplicate_rows", "all", share, "share_duplicated", None, share, "real",
                    "weak",
                    f"{total} exact duplicate row(s) ({detail}), {share:.1%} of all rows: the "
                    "double-ingestion of real logging pipelines.")


def check_anomalies(found: dict[str, int]) -> Evidence:
    """Impossible records: clock skew, orphans, unparseable values, lost rows."""
    total = int(sum(found.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in found.items())
    if total == 0:
        return Evidence("impossible_records", "all", 0.0, "count", None, 0.0, "simulated",
                        "weak",
                        f"No impossible records ({detail}). Real data always has a few "
                        "(clock skew, rows lost or orphaned by the export, test accounts).")
    return Evidence("impossible_records", "all", float(total), "count", None, float(total),
                    "real", "weak", f"{total} impossible record(s) ({detail}), as real data has.")


def check_extremes(found: dict[str, int]) -> Evidence:
    """Extreme but possible values (bots, heavy users, very long durations): no vote."""
    total = int(sum(found.values()))
    detail = ", ".join(f"{k}: {v}" for k, v in found.items())
    return Evidence("extreme_values", "all", float(total), "count", None, float(total),
                    "neutral", "none",
                    f"{total} extreme record(s) ({detail}). Real data has them, but so does any "
                    "generator with heavy tails, so this check does not vote.")


def check_diurnal(ts: pd.Series, *, table: str, what: str,
                  check: str = "diurnal_structure") -> Evidence:
    """Hour-of-day profile: flat (no human rhythm) or implausibly smooth (a sinusoid)?"""
    hours = ts.dropna().dt.hour.to_numpy()
    n = hours.size
    counts = np.bincount(hours, minlength=24).astype(float)
    if n < 240:
        return Evidence(check, table, None, "chi2_uniform", None, None,
                        "neutral", "none", f"{what}: only {n} times; too few for a profile.")
    uni = stats.chisquare(counts)
    peak = counts.max() / max(counts.min(), 1.0)
    if uni.pvalue > 0.01:
        return Evidence(check, table, float(uni.statistic), "chi2_uniform",
                        float(uni.pvalue), peak, "simulated", "strong",
                        f"{what}: {n} times spread evenly over the 24 hours (uniformity "
                        f"p={uni.pvalue:.2g}). Human activity always has a daily rhythm.")
    # Smoothness: residual dispersion of a Poisson fit with three harmonics of the day.
    dev_ratio = _harmonic_residual_dispersion(counts)
    text = (f"{what}: {n} times, busiest hour {peak:.1f}x the quietest (uniformity "
            f"p={uni.pvalue:.2g}); residual dispersion around a smooth 3-harmonic daily "
            f"curve {dev_ratio:.2f}.")
    if peak < 2:
        return Evidence(check, table, dev_ratio, "harmonic_residual_dispersion",
                        float(uni.pvalue), peak, "neutral", "none",
                        text + " Only a weak daily modulation: real human activity usually "
                        "varies at least two-fold between its busiest and quietest hours, but "
                        "a global audience can flatten it, so no vote.")
    if dev_ratio < 1.5:
        return Evidence(check, table, dev_ratio, "harmonic_residual_dispersion",
                        float(uni.pvalue), peak, "simulated", "weak",
                        text + " The hourly counts are a smooth curve plus Poisson noise: an "
                        "implausibly tidy rhythm.")
    return Evidence(check, table, dev_ratio, "harmonic_residual_dispersion",
                    float(uni.pvalue), peak, "real", "weak",
                    text + " A daily rhythm with irregular hour-to-hour structure, as real "
                    "activity has.")


def _harmonic_residual_dispersion(counts: np.ndarray) -> float:
    import statsmodels.api as sm  # lazy: statsmodels is slow to import

    h = np.arange(24) * 2 * np.pi / 24
    X = np.column_stack([np.ones(24)] + [f(k * h) for k in (1, 2, 3) for f in (np.sin, np.cos)])
    res = sm.GLM(counts, X, family=sm.families.Poisson()).fit()
    return float(res.pearson_chi2 / res.df_resid)


def check_daily_volume(ts: pd.Series, *, table: str, what: str,
                       min_days: int = 10) -> Evidence:
    """Do whole days vary more than Poisson noise around a weekly profile?

    Real traffic has good and bad days (campaigns, outages, news, growth); a generator
    that draws each arrival's day independently gives day counts that are Poisson (or
    multinomial) around its weights. Pearson dispersion of a Poisson GLM of the counts of
    the whole days in the span on day of week (intercept only under 14 days).
    """
    ts = ts.dropna()
    if ts.empty:
        return Evidence("daily_volume", table, None, "pearson_dispersion", None, None,
                        "neutral", "none", f"{what}: no times.")
    first_day, last_day = ts.min().floor("D"), ts.max().floor("D")
    days = pd.date_range(first_day + pd.Timedelta(days=1), last_day - pd.Timedelta(days=1),
                         freq="D")
    inner = ts[(ts >= first_day + pd.Timedelta(days=1)) & (ts < last_day)]
    counts = inner.dt.floor("D").value_counts().reindex(days, fill_value=0)
    if len(days) < min_days or not counts.mean() >= 5:
        return Evidence("daily_volume", table, None, "pearson_dispersion", None, None,
                        "neutral", "none",
                        f"{what}: {len(days)} whole day(s), "
                        f"{counts.mean() if len(days) else 0:.1f} per day; "
                        f"day-to-day variation needs {min_days} days of 5 or more. Not "
                        "applicable.")
    import statsmodels.api as sm  # lazy: statsmodels is slow to import

    if len(days) >= 14:
        X = pd.get_dummies(pd.Series(days.dayofweek), prefix="d", drop_first=True, dtype=float)
        X = sm.add_constant(X.to_numpy())
    else:
        X = np.ones((len(days), 1))
    res = sm.GLM(counts.to_numpy(float), X, family=sm.families.Poisson()).fit()
    disp = float(res.pearson_chi2 / res.df_resid)
    p = float(stats.chi2.sf(res.pearson_chi2, res.df_resid))
    text = (f"{what}: {int(counts.sum())} over {len(days)} whole days (mean {counts.mean():.1f} "
            f"a day); Pearson dispersion around a day-of-week profile {disp:.2f} "
            f"(Poisson = 1, p={p:.2g}).")
    if p > 0.01:
        return Evidence("daily_volume", table, disp, "pearson_dispersion", p, None,
                        "simulated", "none",
                        text + " Days differ only by Poisson noise: each arrival's day drawn "
                        "independently, as a generator does. Real traffic has good and bad "
                        "days.")
    if disp >= 3:
        return Evidence("daily_volume", table, disp, "pearson_dispersion", p, None, "real",
                        "none", text + " Days differ far beyond chance (campaigns, outages, "
                        "news), as real traffic does.")
    return Evidence("daily_volume", table, disp, "pearson_dispersion", p, None, "neutral",
                    "none", text + " Mildly overdispersed.")


def check_weekend_clock(ts: pd.Series, *, table: str, what: str,
                        min_each: int = 100) -> Evidence:
    """Is the hour-of-day profile the same on weekends as on weekdays?

    People keep other hours at weekends (they sleep in, work less), so a real log's
    3-hour-bin profile differs between weekdays and weekends; a generator that draws
    every time from one hour profile gives the same profile on both. Chi-square test of
    independence of (weekend, 3-hour bin).
    """
    ts = ts.dropna()
    weekend = (ts.dt.dayofweek >= 5).to_numpy()
    n_we, n_wd = int(weekend.sum()), int((~weekend).sum())
    if n_we < min_each or n_wd < min_each:
        return Evidence("weekend_clock", table, None, "chi2_over_df", None, None, "neutral",
                        "none", f"{what}: {n_wd} weekday and {n_we} weekend times; the "
                        f"comparison needs {min_each} of each. Not applicable.")
    tab = pd.crosstab(weekend, (ts.dt.hour // 3).to_numpy()).to_numpy()
    res = stats.chi2_contingency(tab)
    ratio = float(res.statistic / res.dof)
    text = (f"{what}: the 3-hour profile of {n_we} weekend times against {n_wd} weekday "
            f"times: chi-square {res.statistic:.1f} on {res.dof} df, p={res.pvalue:.2g}.")
    if res.pvalue > 0.05:
        return Evidence("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue),
                        None, "simulated", "none",
                        text + " Weekends keep exactly the weekday hours: one hour profile "
                        "for every day, as a generator draws it.")
    if res.pvalue < 0.001:
        return Evidence("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue),
                        None, "real", "none",
                        text + " Weekends keep other hours than weekdays, as people do.")
    return Evidence("weekend_clock", table, ratio, "chi2_over_df", float(res.pvalue), None,
                    "neutral", "none", text + " A modest difference.")


def check_weekday(ts: pd.Series, *, table: str, what: str) -> Evidence:
    ts = ts.dropna()
    if ts.empty:
        return Evidence("weekday_structure", table, None, "chi2_uniform", None, None,
                        "neutral", "none", f"{what}: no times.")
    # Whole days only: the first and last day of the span are partly outside it.
    first_day, last_day = ts.min().floor("D"), ts.max().floor("D")
    ts = ts[(ts >= first_day + pd.Timedelta(days=1)) & (ts < last_day)]
    days = pd.date_range(first_day + pd.Timedelta(days=1), last_day - pd.Timedelta(days=1),
                         freq="D")
    if len(days) < 14:
        return Evidence("weekday_structure", table, None, "chi2_uniform", None, None,
                        "neutral", "none",
                        f"{what}: the data span {len(days)} day(s); a weekly rhythm needs "
                        "two weeks or more. Not applicable.")
    exposure = np.bincount(days.dayofweek, minlength=7).astype(float)
    counts = np.bincount(ts.dt.dayofweek.to_numpy(), minlength=7).astype(float)
    expected = exposure / exposure.sum() * counts.sum()
    res = stats.chisquare(counts, expected)
    weekend = float(counts[5:].sum() / expected[5:].sum())
    text = (f"{what}: {int(counts.sum())} over {len(days)} days; weekend activity is "
            f"{weekend:.2f}x its share of days (chi-square p={res.pvalue:.2g}).")
    if res.pvalue > 0.01:
        return Evidence("weekday_structure", table, float(res.statistic), "chi2_uniform",
                        float(res.pvalue), weekend, "simulated", "weak",
                        text + " No weekly rhythm: people work less at weekends.")
    if weekend < 0.8:
        return Evidence("weekday_structure", table, float(res.statistic), "chi2_uniform",
                        float(res.pvalue), weekend, "real", "strong",
                        text + " A working-week rhythm with quiet weekends, as real "
                        "business activity has.")
    return Evidence("weekday_structure", table, float(res.statistic), "chi2_uniform",
                    float(res.pvalue), weekend, "real", "weak",
                    text + " Days of the week differ, as they do in real data.")


_BENFORD = np.log10(1 + 1 / np.arange(1, 10))


def check_benford(values: np.ndarray, *, table: str, what: str) -> Evidence:
    """First-digit law: informative only for data spanning orders of magnitude."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size < 100:
        return Evidence("benford_first_digit", table, None, "mad", None, None, "neutral",
                        "none", f"{what}: too few values.")
    span = float(np.log10(np.quantile(v, 0.99) / np.quantile(v, 0.01)))
    first = (v / 10 ** np.floor(np.log10(v))).astype(int).clip(1, 9)
    obs = np.bincount(first, minlength=10)[1:] / v.size
    mad = float(np.abs(obs - _BENFORD).mean())
    # Nigrini's first-digit conformity bands of the mean absolute deviation.
    label = ("close" if mad < 0.006 else "acceptable" if mad < 0.012 else
             "marginal" if mad < 0.015 else "nonconforming")
    return Evidence("benford_first_digit", table, mad, "mad", None, span, "neutral", "none",
                    f"{what}: first digits {label} to Benford (MAD {mad:.4f}) over "
                    f"{span:.1f} orders of magnitude. Reported, never votes: both real "
                    "heavy-tailed data and lognormal generators conform, and the quantity "
                    "differs between an experiment (durations) and a lead log (events per "
                    "lead), so a calibration across the two would be meaningless.")


def check_company_names(company: pd.Series, *, table: str) -> Evidence:
    names = company.astype(str).str.strip()
    names = names[names != ""]
    n = len(names)
    if n == 0:
        return Evidence("generated_names", table, None, "share_lorem", None, None, "neutral",
                        "none", "No company names to check.")
    words = names.str.lower().str.replace(r"[^\w&. ]", "", regex=True).str.split()
    suffix = words.map(lambda w: bool(w) and w[-1] in COMPANY_SUFFIXES)
    core = words.map(lambda w: [x for x in w if x not in COMPANY_SUFFIXES])
    lorem = core.map(lambda w: bool(w) and all(x in LOREM_WORDS for x in w))
    share = float(lorem.mean())
    text = (f"{share:.1%} of {n} company names are made only of lorem-ipsum words "
            f"(+ a legal suffix; {suffix.mean():.1%} end in one), e.g. "
            f"{', '.join(names[lorem.to_numpy()].head(3))}.")
    if share > 0.5:
        return Evidence("generated_names", table, share, "share_lorem", None, share,
                        "anonymised", "none",
                        text + " These are generated placeholders (generatedata.com style): "
                        "the real names were replaced.")
    return Evidence("generated_names", table, share, "share_lorem", None, share, "neutral",
                    "none", text + " Names do not look generated.")


def check_person_names(names: pd.Series, emails: pd.Series, *, table: str) -> Evidence:
    names = names.astype(str).str.strip()
    emails = emails.astype(str).str.strip().str.lower()
    tidy = float(names.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").mean())
    hashed = float(emails.str.fullmatch(r"[0-9a-f]{32}").mean())
    if hashed > 0.9:
        return Evidence("names_vs_emails", table, hashed, "share_hashed_emails", None, tidy,
                        "anonymised", "none",
                        f"{hashed:.1%} of e-mails are 32-hex MD5 digests and {tidy:.1%} of "
                        "names are a tidy 'First Last' pair. Real CRM names are messier "
                        "(initials, lower case, middle names); with hashed e-mails the names "
                        "cannot come from the same record, so they are substitutes.")
    local = emails.str.split("@").str[0]
    first = names.str.split().str[0].str.lower().fillna("")
    last = names.str.split().str[-1].str.lower().fillna("")
    match = float(np.mean([(f and f in e) or (la and la in e)
                           for f, la, e in zip(first, last, local)]))
    hint: Hint = "anonymised" if match < 0.2 and tidy > 0.95 else "neutral"
    return Evidence("names_vs_emails", table, match, "share_name_in_email", None, tidy, hint,
                    "none",
                    f"{match:.1%} of e-mail local parts contain the person's first or last "
                    f"name; {tidy:.1%} of names are a tidy 'First Last' pair.")


# ----------------------------------------------------------------------------- kinds


def _experiment_evidence(folder: Path) -> list[Evidence]:
    paths = {stem: _find(folder, stem) for stem in EXPERIMENT_STEMS}
    missing = [s for s, p in paths.items() if p is None and s != "help_activity"]
    if missing:
        raise DataError(f"missing file(s): {', '.join(missing)}", file=str(folder))
    raw = {stem: (read_raw(p, header_only_ok=stem == "help_activity") if p else pd.DataFrame())
           for stem, p in paths.items()}
    cohorts, activity = raw["test_cohorts"], raw["product_activity"]
    help_, conv = raw["help_activity"], raw["conversion"]
    for stem, cols in (("test_cohorts", ("customer_id", "cohort")),
                       ("conversion", ("customer_id", "converted"))):
        lacking = [c for c in cols if c not in raw[stem].columns]
        if lacking:
            raise DataError(f"missing column {lacking[0]}", file=stem, column=lacking[0])
    activity = _long_activity(activity)

    ev: list[Evidence] = []
    cohort = cohorts["cohort"].str.strip().str.lower()
    ids_unique = cohorts.drop_duplicates("customer_id")
    n = len(ids_unique)
    n_test = int((ids_unique["cohort"].str.strip().str.lower() == "test").sum())
    ev.append(check_split(n_test, n))
    ev.append(check_ids(cohorts["customer_id"], table="test_cohorts", column="customer_id"))

    act_t = _ts(activity["timestamp"]) if len(activity) else pd.Series(dtype="datetime64[ns, UTC]")
    help_t = (_ts(help_["timestamp"]) if "timestamp" in help_ else
              pd.Series(dtype="datetime64[ns, UTC]"))
    all_t = pd.concat([act_t, help_t], ignore_index=True)
    for opt_col, df in (("joined_at", cohorts), ("converted_at", conv)):
        if opt_col in df:
            all_t = pd.concat([all_t, _ts(df[opt_col])], ignore_index=True)
    ev.append(check_timestamp_granularity(all_t, table="product_activity+help_activity"))
    ent = pd.concat([activity["customer_id"], help_.get("customer_id", pd.Series(dtype=str))],
                    ignore_index=True)
    ev.append(check_shared_histories(all_t.iloc[:len(ent)], ent,
                                     table="product_activity+help_activity"))

    flags = help_.groupby("customer_id").size() if len(help_) else pd.Series(dtype=int)
    per_customer = flags.reindex(ids_unique["customer_id"], fill_value=0).to_numpy()
    ev.append(check_dispersion(per_customer, table="help_activity",
                               what="help flags per randomized customer"))

    # Conversion by the hour of the customer's first action (or join time), per arm.
    first = pd.DataFrame({"customer_id": activity["customer_id"], "t": act_t})
    first = first.dropna().groupby("customer_id")["t"].min()
    if "joined_at" in cohorts:
        first = _ts(cohorts.set_index("customer_id")["joined_at"]).combine_first(first)
    conv_flag = conv.drop_duplicates("customer_id").set_index("customer_id")["converted"]
    conv_flag = conv_flag.str.strip().str.lower().isin(("1", "1.0", "true", "t", "yes", "y"))
    frame = ids_unique.set_index("customer_id")[["cohort"]].copy()
    frame["converted"] = conv_flag.reindex(frame.index, fill_value=False).astype(float)
    frame["hour"] = first.reindex(frame.index).dt.hour
    frame = frame.dropna(subset=["hour"])
    group = frame["cohort"].str.strip().str.lower() + ":" + frame["hour"].astype(int).astype(str)
    ev.append(check_binomial_homogeneity(frame["converted"].to_numpy(), group.to_numpy(),
                                         table="conversion",
                                         what="conversion by arm x hour of first action"))

    durations, anomalies = _task_durations(activity, act_t)
    _, unit = _resolution(act_t.dropna()) if act_t.notna().any() else ("second", 1.0)
    ev.append(check_durations({f"task {k}": d / 60 for k, d in durations.items()},
                              table="product_activity", unit_s=unit / 60,
                              what="task durations (minutes)"))

    # Missing values where a value is expected; optional blanks by design are excluded.
    cells, blank, detail = 0, 0, []
    for stem, df in raw.items():
        if df.empty:
            continue
        cols = [c for c in df.columns if c not in ("cs_type", "converted_at", "joined_at")]
        b = int((df[cols] == "").to_numpy().sum())
        cells += df[cols].size
        blank += b
        detail.append(f"{stem}: {b}")
    if "converted_at" in conv:
        bad = int(((conv["converted_at"] == "") & conv_flag.reindex(conv["customer_id"])
                   .to_numpy()).sum())
        blank += bad
        detail.append(f"converted without converted_at: {bad}")
    ev.append(check_missing(cells, blank, detail="; ".join(detail), table="all"))

    dups = {stem: int(df.duplicated().sum()) for stem, df in raw.items() if not df.empty}
    dups["test_cohorts customer_id repeated"] = int(cohorts["customer_id"].duplicated().sum())
    ev.append(check_duplicates(dups, rows=sum(len(df) for df in raw.values())))

    known = set(cohorts["customer_id"])
    extremes = {"durations > 100x median": anomalies.pop("durations > 100x median", 0)}
    anomalies["activity rows of unknown customers"] = int(
        (~activity["customer_id"].isin(known)).sum())
    if len(help_):
        anomalies["help rows of unknown customers"] = int((~help_["customer_id"].isin(known)).sum())
        extremes["customers flagged >= 20 times"] = int((flags >= 20).sum())
    anomalies["customers without a conversion row"] = int(
        (~ids_unique["customer_id"].isin(set(conv["customer_id"]))).sum())
    anomalies["unparseable timestamps"] = int(
        ((activity["timestamp"] != "") & act_t.isna()).sum())
    ev.append(check_anomalies(anomalies))
    ev.append(check_extremes(extremes))

    ev.append(check_diurnal(first, table="product_activity",
                            what="first action of each customer by hour of day"))
    # Later moments inherit no rhythm from the sign-up time, so a generator that draws
    # delays from a distribution (without a clock of human waking hours) leaves them flat.
    if "converted_at" in conv:
        ev.append(check_diurnal(_ts(conv["converted_at"]), table="conversion",
                                what="conversion times by hour of day",
                                check="diurnal_conversions"))
    later = first.reindex(activity["customer_id"]).to_numpy()
    returning = act_t[(act_t - pd.Series(later, index=act_t.index)) > pd.Timedelta(hours=12)]
    ev.append(check_diurnal(returning, table="product_activity",
                            what="actions over 12 h after the customer's first by hour of day",
                            check="diurnal_return_visits"))
    ev.append(check_weekday(act_t, table="product_activity", what="actions by day of week"))
    ev.append(check_daily_volume(first, table="product_activity",
                                 what="customers' first actions per day"))
    ev.append(check_weekend_clock(first, table="product_activity",
                                  what="customers' first actions"))
    all_d = np.concatenate([d for d in durations.values()]) if durations else np.array([])
    ev.append(check_benford(all_d, table="product_activity", what="task durations (s)"))
    return ev


def _long_activity(activity: pd.DataFrame) -> pd.DataFrame:
    if {"task", "action", "timestamp"} <= set(activity.columns):
        return activity
    wide = [c for c in activity.columns
            if re.fullmatch(r"task_?\d+_(start|started|complete|completed)(_at)?", c)]
    if not wide:
        raise DataError("expected columns task, action, timestamp (or task1_start, ...)",
                        file="product_activity")
    long = activity.melt(id_vars=["customer_id"], value_vars=wide, var_name="k",
                         value_name="timestamp")
    parts = long["k"].str.extract(r"task_?(\d+)_(start|complete)")
    long["task"], long["action"] = parts[0], parts[1]
    return long[long["timestamp"] != ""][["customer_id", "task", "action", "timestamp"]]


def _task_durations(activity: pd.DataFrame, t: pd.Series):
    """Seconds from each customer's first start to first completion of each task."""
    df = pd.DataFrame({"c": activity["customer_id"].to_numpy(),
                       "task": activity["task"].astype(str).str.strip().str.replace(".0", "",
                                                                                    regex=False),
                       "a": activity["action"].str.strip().str.lower().str[:5].to_numpy(),
                       "t": t.to_numpy()}).dropna()
    first = df.groupby(["c", "task", "a"])["t"].min().unstack("a")
    anomalies = {}
    if not {"start", "compl"} <= set(first.columns):
        return {}, {"complete before start": 0, "durations > 100x median": 0}
    first = first.dropna(subset=["start", "compl"])
    sec = (first["compl"] - first["start"]).dt.total_seconds()
    anomalies["complete before start"] = int((sec < 0).sum())
    pos = sec[sec >= 0]
    med = float(pos.median()) if len(pos) else 0.0
    anomalies["durations > 100x median"] = int((pos > 100 * med).sum()) if med > 0 else 0
    out = {str(task): g.to_numpy() for task, g in pos.groupby(level="task")}
    return out, anomalies


def _lead_evidence(folder: Path) -> list[Evidence]:
    leads = read_raw(_find(folder, "leads"))
    events = read_raw(_find(folder, "events"))
    for name, df, cols in (("leads", leads, ("email",)),
                           ("events", events, ("email", "received_at"))):
        for c in cols:
            if c not in df.columns:
                raise DataError(f"missing column {c}", file=name, column=c)
    ev: list[Evidence] = []
    ev.append(check_ids(leads["email"], table="leads", column="email"))
    if "company" in leads:
        ev.append(check_company_names(leads["company"], table="leads"))
    if "name" in leads:
        ev.append(check_person_names(leads["name"], leads["email"], table="leads"))

    t = _ts(events["received_at"])
    distinct = events.drop_duplicates()
    td = t.loc[distinct.index]
    ev.append(check_timestamp_granularity(td, table="events"))
    ev.append(check_zero_gaps(td, distinct["email"], table="events"))
    ev.append(check_shared_histories(td, distinct["email"], table="events"))

    per_lead = distinct.groupby("email").size()
    ev.append(check_dispersion(per_lead.to_numpy(), table="events",
                               what="distinct events per lead with events"))

    gaps = (pd.DataFrame({"e": distinct["email"].to_numpy(), "t": td.to_numpy()}).dropna()
            .sort_values(["e", "t"]).groupby("e")["t"].diff().dt.total_seconds().dropna())
    _, unit = _resolution(td.dropna())
    ev.append(check_durations({"gaps": gaps.to_numpy()}, table="events", unit_s=unit,
                              what="seconds between consecutive events of a lead"))

    cols = [c for c in ("email", "name", "company", "city", "industry", "status")
            if c in leads.columns]
    blank_leads = int((leads[cols] == "").to_numpy().sum())
    blank_events = int((events[["email", "received_at"]] == "").to_numpy().sum())
    per_col = ", ".join(f"{c}: {int((leads[c] == '').sum())}" for c in cols)
    ev.append(check_missing(leads[cols].size + events.shape[0] * 2, blank_leads + blank_events,
                            detail=f"leads {per_col}; events: {blank_events}", table="all"))
    ev.append(check_duplicates({"events": int(events.duplicated().sum()),
                                "leads": int(leads.duplicated().sum())},
                               rows=len(events) + len(leads)))

    sec = pd.DataFrame({"e": distinct["email"].to_numpy(), "s": td.dt.floor("s").to_numpy()})
    burst = sec.groupby(["e", "s"]).size()
    bots = int((burst >= 10).groupby(level="e").any().sum())
    lo, hi = np.quantile(per_lead, [0.25, 0.75])
    extreme = int((per_lead > hi + 10 * (hi - lo)).sum())
    unknown = int((~distinct["email"].isin(set(leads["email"]))).sum())
    ev.append(check_anomalies({"events of unknown leads": unknown}))
    ev.append(check_extremes({"leads with >= 10 events in one second": bots,
                              "leads with events > Q3 + 10 IQR": extreme}))

    # One arrival per lead and day: events within a session are not independent.
    sessions = (pd.DataFrame({"e": distinct["email"].to_numpy(), "t": td.to_numpy()}).dropna()
                .assign(d=lambda x: x["t"].dt.floor("D")).groupby(["e", "d"])["t"].min())
    ev.append(check_diurnal(sessions.reset_index(drop=True), table="events",
                            what="first event of each lead-day by hour of day (UTC)"))
    ev.append(check_weekday(sessions.reset_index(drop=True), table="events",
                            what="lead-days with activity by day of week"))
    ev.append(check_daily_volume(sessions.reset_index(drop=True), table="events",
                                 what="leads active per day"))
    ev.append(check_weekend_clock(sessions.reset_index(drop=True), table="events",
                                  what="first event of each lead-day"))
    ev.append(check_benford(per_lead.to_numpy(), table="events",
                            what="distinct events per lead"))
    return ev


def collect_evidence(folder: str | Path, kind: str | None = None) -> list[Evidence]:
    """Every check that applies to the folder, unweighed (each with its own hint)."""
    folder = Path(folder)
    kind = kind or detect_kind(folder)
    return _experiment_evidence(folder) if kind == "experiment" else _lead_evidence(folder)


def validate_folder(folder: Path, kind: str) -> None:
    """Load the folder through the analysis loaders: their `DataError` if they refuse it."""
    if kind == "experiment":
        from bayes_ab.data.load import load_experiment

        load_experiment(folder)
    else:
        from bayes_ab.funnel.load import load_funnel

        load_funnel(_find(folder, "leads"), _find(folder, "events"))


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
