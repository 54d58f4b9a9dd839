"""`bayes-ab compare`: any plain A/B export, every arm against control and against the best.

Input: one CSV (or CSV.gz) or Parquet file with a group column and one or more outcome
columns: binary (0/1, 1.0/0.0, true/false, t/f, yes/no, y/n, any case) or numeric (a mean
outcome: spend, rounds played; detected, or ``metric_type``; see `bayes_ab.stats.compare_mean`).
Two or more arms. Every column named on the command line (group, outcomes, ``--ratio``,
``--segment-col``) and the ``--prior-from`` file are checked before any computation.

Several outcomes: the first is the primary metric (the decision and the top-level keys
below); the others are guardrails, each under ``metrics`` with a ``guardrail`` block
{margin, lower_is_better, arm, prob_worse_than_margin, required_prob, blocks_ship}: when the
arm the primary metric would ship is worse than control on a guardrail by more than its
margin with probability >= 95%, the decision becomes ``pivot`` (outcome
``guardrail_blocked``, ``blocked_by``).

What comes out (``compare_file`` returns the compare.json dict)::

    schema_version  1
    input           {file, format, group_col, outcome_col, n_rows, control_note,
                     counts: {arm: {successes, trials}}}
    control         name of the control arm
    arms            {arm: ARM_COMPARISON}   one per non-control arm (RESULTS_SCHEMA.md),
                                            plus `decision` (that arm against control)
    prob_best       {arm: P(arm has the highest rate)}, every arm, control included
    loss_of_choosing {arm: E[max_j p_j - p_arm]}, every arm, control included
    posterior       {arm: {alpha, beta}}    the exact Beta posterior of each arm's rate
    srm             {test, p_value, chi2, df, alpha, mismatch, expected_shares, observed,
                     observed_shares}       sample-ratio check, always
    decision        the overall decision (below), with `arm` = the arm it is about and
                    `chosen_arm` = the arm to run from now on (None while testing goes on)
    metric_kind     "binary" or "mean" (the primary outcome)
    metrics         {outcome: {kind, role, arms, ...}} every outcome of the run
    method          {bayesian, frequentist}: how the numbers were computed
    diagnostics     the diagnostics block of the sampled models (none for a binary or
                    mean outcome: ``sampled`` false)

    findings        [{code, severity, message, ...}] what was found in the rows, always:
                    duplicate_unit_rows, units_in_several_arms (--unit-col);
                    possible_repeated_units (no --unit-col, an id-like column repeats);
                    arm_column_disagrees (a column recording the arm a second time, e.g.
                    landing_page, disagrees with the group column: reported, not dropped);
                    looks (--time-col)

Units and time (`prepare_units`, before any outcome is read):

    input.units     with ``unit_col``: {unit_col, rule, n_rows, n_units,
                    duplicate_rows_dropped, units_in_several_arms,
                    rows_of_units_in_several_arms, n_rows_analysed, examples_in_several_arms}.
                    A unit in several arms is excluded (all its rows); every other unit
                    keeps its first exposure (earliest ``time_col``, ties and no time
                    column: its first row in the file). ``input.n_rows`` = rows analysed.
    input.looks     with ``time_col``: {time_col, n_days, first_day, last_day, rows, note,
                    monitor_command, monitor_note}: the distinct days are the looks the
                    data would allow; `bayes-ab monitor` is the safe way to take them.

CUPED (``covariate``, the primary outcome): y - theta (x - mean x), theta the pooled
within-arm OLS slope (= the covariate's coefficient in OLS y ~ arm + x), so each arm's
adjusted difference of means equals the OLS arm coefficient exactly. The Bayesian part is
the mean-metric posterior (Bayesian bootstrap) of the adjusted values (a binary outcome is
then a mean metric: its rate); the frequentist part is that OLS with HC2 standard errors.
Each arm block gains ``adjustment``: {covariate, theta, variance_reduction (1 - HC2
variance adjusted / unadjusted, the latter = Welch's), unadjusted_lift_abs (the
Bayesian bootstrap of the raw outcome when affordable, else its mean only),
unadjusted_frequentist}; ``lift_abs`` is the adjusted lift.

Optional blocks (docs/BEYOND.md), each keyed by the non-control arm where it is per arm:

    ratio_metric        {arm: ratio comparison}     with ``ratio="NUM/DEN"`` (bayes_ab.stats.ratio)
    segments            {arm: segment block}        with ``segment_col`` (bayes_ab.workflows.segments)
    prior_from_history  predictive prior + {arms: {arm: shrinkage}}   with ``prior_from``
                                                    (bayes_ab.workflows.meta_prior)

Bayesian part of the binary metric: independent Beta(1, 1) priors, so each arm's posterior
is Beta(1 + successes, 1 + failures), exactly; no sampler. Rate intervals are the exact
Beta HDIs, P(arm better than control) is exact (`beta_binomial.prob_beta_greater`, the same
number in the arm block and in its decision), lift means are exact and lift HDIs come from
200,000 seeded draws of each Beta. P(best) and the loss of choosing each arm are exact
one-dimensional integrals (`bayes_ab.stats.multiarm`).

Frequentist part: a two-proportion z-test (Fisher's exact test for small counts) with
Newcombe's CI per arm against control; Holm's adjustment over one family: every (metric,
arm) test of the run, the ``--ratio`` metric's delta-method tests included
(``frequentist.p_value_holm``, ``frequentist.family_size``).

Decision. With two arms, `bayes_ab.stats.decision.decide_from_counts` (the same rule and numbers
as `bayes-ab analyze`, with ``--rope`` and ``--non-inferiority-margin`` when given). With
three or more arms, the loss of choosing arm k is E[max_j p_j - p_k] over all arms (control
included); the rule, in order:

1. the arm with the smallest loss (ties: the higher posterior mean), if that loss is under
   the threshold of caring: ship it (``double_down``), or keep control (``pivot``) when it
   is control;
2. with ``--non-inferiority-margin``: the arm, among those non-inferior to control, with the
   smallest loss;
3. with ``--rope``: when every arm is practically equivalent to control, the arm with the
   smallest loss (outcome ``no_meaningful_difference``);
4. else ``keep_testing``, about the arm with the smallest loss.

The per-arm decisions (each arm against control) stay in ``arms.ARM.decision``.

Sample-ratio check: Pearson chi-square of the arm sizes against the design's shares
(``split``: one share per arm, default equal), flagged at p < ``srm_alpha`` (default 0.01).

Default control: an arm called ``control`` (any case), else ``A``, else the first arm in
alphabetical order; ``input.control_note`` says which rule chose it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayes_ab.constants import SCHEMA_VERSION
from bayes_ab.data.columns import (
    OUTCOME_CODES,
    find_column,
    normalise_column,
    numbers_from_text,
    parse_outcome,
)
from bayes_ab.errors import BayesAbError, DataError, OptionError
from bayes_ab.inference.fit import SamplerConfig

if TYPE_CHECKING:  # pragma: no cover
    from bayes_ab.models.arm_comparison import ArmComparisonStats

__all__ = ["DEFAULT_SRM_ALPHA", "EXACT_DRAWS", "CompareRun", "SampleRatioMismatch",
           "compare_file", "karm_decision", "parse_outcome", "parse_split", "read_groups",
           "run_compare", "write_compare"]

_SHOWN = 20

#: Seeded draws per arm behind the lift HDIs (Monte-Carlo error of an HDI bound well
#: under 1% of its width); every other Bayesian number of the binary metric is exact.
EXACT_DRAWS = 200_000
#: Sample-ratio mismatch flagged at p below this (``--srm-alpha``).
DEFAULT_SRM_ALPHA = 0.01


class SampleRatioMismatch(BayesAbError):
    """``--strict`` and the split does not match the design: exit 3 (results written)."""

    exit_code = 3


@dataclass(frozen=True)
class GroupData:
    """The parsed export: one group label and one 0/1 outcome per row."""

    file: str
    format: str
    group_col: str
    outcome_col: str
    groups: tuple[str, ...]
    outcomes: tuple = field(repr=False)
    kind: str = "binary"  # or "mean": outcomes are numbers
    kind_note: str = ""

    @property
    def n_rows(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class CompareRun:
    """Everything a compare run made: the compare.json dict and the exact posterior draws
    behind the figures (``draws``: arm -> rate draws)."""

    results: dict
    draws: Any = field(repr=False, default=None)
    metric_name: str = "outcome"

    # Kept for callers of the sampled version: no sampler, so no InferenceData.
    idata: Any = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)
    #: ``--ratio``: arm -> (control's ratio draws, the arm's ratio draws) of its comparison.
    ratio_draws: Any = field(repr=False, default=None)


def _open_table(path: str | Path, columns: Sequence[str | None] = ()):
    """The export as read, every column named in ``columns`` (the options' columns) as
    plain or categorical text. The reader keeps an id-like column as Arrow text (no Python
    string per row, `read_table`'s ``ids_as_arrow``): the columns no option names are only
    counted by the findings (``nunique``), the named ones are read value by value, so they
    are converted here (the same values)."""
    from dataclasses import replace

    import pandas as pd

    from bayes_ab.data.load import read_table

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", file=str(path))
    table = read_table(path, ids_as_arrow=True)
    named = {normalise_column(c) for c in columns if c}
    arrow = [c for c in table.data.columns
             if c in named and isinstance(table.data[c].dtype, pd.ArrowDtype)]
    if not arrow:
        return table
    df = table.data.copy(deep=False)
    for c in arrow:
        df[c] = df[c].astype(object)
    return replace(table, data=df)


def _named_columns(opts: CompareOptions, outcomes: Sequence[str]) -> list[str | None]:
    """Every column an option names (``--ratio NUM/DEN`` split leniently: its own parser
    reports a malformed one later)."""
    ratio = [part.strip() for part in str(opts.ratio).split("/")] if opts.ratio else []
    return [opts.group_col, *outcomes, opts.unit_col, opts.time_col, opts.covariate,
            opts.segment_col, *ratio]


def _outcome_kind(raw, metric_type: str) -> tuple[str, str]:
    """binary or mean, and why (``--metric-type``, or detected from the values)."""
    import pandas as pd

    if metric_type in ("binary", "mean"):
        return metric_type, f"{metric_type} (given with --metric-type)"
    uniq = {str(v).strip().lower() for v in pd.unique(pd.Series(raw, dtype=object))}
    if uniq <= set(OUTCOME_CODES):
        return "binary", "binary (every value is 0/1, true/false or yes/no)"

    def number(v: str) -> float:
        if v in OUTCOME_CODES:
            return float(OUTCOME_CODES[v])
        try:
            return float(v)
        except ValueError:
            return float("nan")

    vals = np.array([number(v) for v in uniq])
    if np.mean(np.isfinite(vals)) > 0.5:
        # Mostly numbers: a mean outcome (parse_numeric_outcome names any other value).
        return "mean", "mean (numeric values other than 0/1; force with --metric-type)"
    return "binary", "binary"


def parse_numeric_outcome(values, lines, *, file: str, column: str) -> np.ndarray:
    """Numbers from text (true/false/yes/no count as 1/0); a DataError lists the rest."""
    import pandas as pd

    text = pd.Series(np.asarray(values, dtype=object)).astype(str).str.strip()
    parsed = numbers_from_text(text)
    bad = ~np.isfinite(parsed)
    if bad.any():
        shown = list(dict.fromkeys(text[bad].tolist()))[:5]
        raise DataError("a mean outcome needs a finite number on every row; found "
                        + ", ".join(repr(v) for v in shown), file=file, column=column,
                        lines=np.asarray(lines)[bad][:_SHOWN], n_rows=int(bad.sum()))
    return parsed


def _categorical_parts(series) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, categories as text) of a categorical column with no missing value (how the
    Arrow CSV reader returns columns), else None: the caller works on the distinct values."""
    import pandas as pd

    if not isinstance(series.dtype, pd.CategoricalDtype):
        return None
    codes = series.cat.codes.to_numpy()
    if len(codes) and codes.min() < 0:
        return None
    return codes, np.asarray(series.cat.categories.astype(str), dtype=object)


def _groups_from_table(table, path: Path, *, group_col: str, outcome_col: str,
                       metric_type: str = "binary") -> GroupData:
    from bayes_ab.data.load import LINE

    gcol = find_column(table, group_col, option="--group-col")
    ocol = find_column(table, outcome_col, option="--outcome-col")
    if gcol == ocol:
        raise DataError("--group-col and --outcome-col name the same column",
                        file=table.name, column=group_col)
    lines = table.data[LINE].to_numpy()
    parts = _categorical_parts(table.data[gcol])
    if parts is not None:  # strip each distinct label once, not every row
        codes, cats = parts
        groups = np.array([c.strip() for c in cats], dtype=object)[codes]
    else:
        groups = table.data[gcol].astype(str).str.strip().to_numpy()
    blank = groups == ""
    if blank.any():
        raise DataError("empty group label: every row needs a group", file=table.name,
                        column=group_col, lines=lines[blank][:_SHOWN], n_rows=int(blank.sum()))
    outcomes = None
    parts = _categorical_parts(table.data[ocol])
    if parts is not None:  # kind and 0/1 from the distinct values present (same answers)
        codes, cats = parts
        present = cats[np.bincount(codes, minlength=len(cats)) > 0]
        kind, why = _outcome_kind(present, metric_type)
        if kind == "binary":
            mapped = np.array([OUTCOME_CODES.get(str(u).strip().lower(), -1) for u in cats],
                              dtype=np.int64)[codes]
            if (mapped >= 0).all():
                outcomes = mapped
    else:
        kind, why = _outcome_kind(table.data[ocol].to_numpy(), metric_type)
    if outcomes is None:  # mean outcomes, and every error message, on the row values
        raw = table.data[ocol].to_numpy()
        if kind == "binary":
            outcomes = parse_outcome(raw, lines, file=table.name, column=outcome_col)
        else:
            outcomes = parse_numeric_outcome(raw, lines, file=table.name, column=outcome_col)
    fmt = "parquet" if path.name.lower().endswith(".parquet") else "csv"
    return GroupData(file=str(path), format=fmt, group_col=group_col, outcome_col=outcome_col,
                     groups=tuple(groups.tolist()), outcomes=tuple(outcomes.tolist()),
                     kind=kind, kind_note=why)


def read_groups(path: str | Path, *, group_col: str, outcome_col: str,
                metric_type: str = "binary") -> GroupData:
    """Read and check the export: file, columns, blank groups, outcomes (binary, or numbers
    with ``metric_type="mean"``; ``"auto"`` detects which)."""
    table = _open_table(path, (group_col, outcome_col))
    return _groups_from_table(table, Path(path), group_col=group_col, outcome_col=outcome_col,
                              metric_type=metric_type)


def choose_control(arms: list[str], control: str | None, *, data: GroupData) -> tuple[str, str]:
    """The control arm and a sentence saying how it was chosen."""
    if control is not None:
        matches = [a for a in arms if a == str(control).strip()]
        if not matches:
            matches = [a for a in arms if a.lower() == str(control).strip().lower()]
        if len(matches) != 1:
            raise DataError(f"--control '{control}' is not one of the arms: {', '.join(arms)}",
                            file=Path(data.file).name, column=data.group_col)
        return matches[0], f"Control arm: '{matches[0]}' (given with --control)."
    for wanted, why in (("control", "named control"), ("a", "named A")):
        found = [a for a in arms if a.lower() == wanted]
        if len(found) == 1:
            return found[0], (f"Control arm: '{found[0]}' ({why}; choose another with "
                              f"--control).")
    first = sorted(arms)[0]
    return first, (f"Control arm: '{first}' (no arm is named control or A, so the first in "
                   f"alphabetical order; choose another with --control).")


def arm_order(data: GroupData, *, control: str | None = None) -> tuple[list[str], str]:
    """The arms, control first, then the others alphabetically; the control note."""
    arms = sorted(set(data.groups))
    if len(arms) < 2:
        raise DataError(
            f"only one arm ('{arms[0]}') in the group column: a comparison needs two or more",
            file=Path(data.file).name, column=data.group_col)
    ctrl, note = choose_control(arms, control, data=data)
    return [ctrl] + [a for a in arms if a != ctrl], note


def count_arms(data: GroupData, *, control: str | None = None) -> tuple[ArmComparisonStats, str]:
    """Successes and trials per arm, control first, then the others alphabetically."""
    import pandas as pd

    from bayes_ab.models.arm_comparison import ArmComparisonStats

    outcomes = np.asarray(data.outcomes, dtype=np.int64)
    inverse, arms_u = pd.factorize(np.asarray(data.groups, dtype=object))
    seen = [str(a) for a in arms_u]  # factorize order: first appearance
    arms = sorted(seen)
    if len(arms) < 2:
        raise DataError(
            f"only one arm ('{arms[0]}') in the group column: a comparison needs two or more",
            file=Path(data.file).name, column=data.group_col)
    ctrl, note = choose_control(arms, control, data=data)
    order = [ctrl] + [a for a in arms if a != ctrl]
    trials_u = np.bincount(inverse, minlength=len(seen))
    succ_u = np.bincount(inverse, weights=outcomes, minlength=len(seen))
    idx = {a: i for i, a in enumerate(seen)}
    successes = [int(succ_u[idx[a]]) for a in order]
    trials = [int(trials_u[idx[a]]) for a in order]
    return ArmComparisonStats(arms=tuple(order), successes=tuple(successes), trials=tuple(trials),
                     metric=data.outcome_col), note


# ---------------------------------------------------------------------------- units, time

#: Column names that look like a unit id (``--unit-col`` not given: warn if they repeat).
_ID_NAMES = re.compile(r"^(id|unit|unit_id|user|user_id|userid|uid|customer|customer_id|"
                       r"customerid|client_id|player|player_id|userid|visitor_id|account_id|"
                       r"member_id|session_id|device_id|cookie_id|.+_id)$")


def _finding(code: str, severity: str, message: str, **extra: Any) -> dict:
    return {"code": code, "severity": severity, "message": message, **extra}


def _text_codes(series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct stripped texts of a column (categorical columns: the work is
    done on the categories, not on every row)."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = pd.Index(series.cat.categories.astype(str)).str.strip()
        cat_codes, uniq = pd.factorize(np.asarray(cats, dtype=object))
        codes = series.cat.codes.to_numpy()
        if (codes < 0).any():  # missing values: an empty text
            uniq = np.append(uniq.astype(object), "")
            cat_codes = np.append(cat_codes, len(uniq) - 1)
        return cat_codes[codes], np.asarray(uniq, dtype=object)
    codes, uniq = pd.factorize(series.astype(str).str.strip().to_numpy())
    return codes, np.asarray(uniq, dtype=object)


def _parse_times(table, tcol: str, time_col: str):
    """Timestamps of ``--time-col`` (any format pandas reads); a DataError names the rest."""
    import pandas as pd

    from bayes_ab.data.load import LINE

    codes, uniq = _text_codes(table.data[tcol])
    text = pd.Series(uniq)
    import warnings

    try:  # one format for the whole column (fast), else each value on its own
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(text, errors="raise", utc=True)
    except (TypeError, ValueError):
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    times = parsed.take(codes).reset_index(drop=True)
    bad = times.isna().to_numpy()
    if bad.any():
        shown = list(dict.fromkeys(uniq[codes[bad]].tolist()))[:5]
        raise DataError("--time-col needs a date or timestamp on every row; found "
                        + ", ".join(repr(v) for v in shown), file=table.name, column=time_col,
                        lines=table.data[LINE].to_numpy()[bad][:_SHOWN], n_rows=int(bad.sum()))
    return times


def prepare_units(table, *, group_col: str, unit_col: str | None = None,
                  time_col: str | None = None) -> tuple[Any, dict, list[dict]]:
    """Units and exposure (issue 15.3, 15.8), before any outcome is read.

    With ``unit_col``: a unit seen in more than one arm is excluded (every row of it: its
    exposure is contaminated); every other unit keeps one row, its first exposure (the
    earliest ``time_col`` value, ties and no ``time_col``: the first row in the file).
    Returns the table to analyse, the ``input`` keys to add (``units``, ``looks``) and
    the findings (what was found in the rows, said in the JSON, the report and the CLI)."""
    from dataclasses import replace


    from bayes_ab.data.load import LINE

    gcol = find_column(table, group_col, option="--group-col")
    df = table.data
    extra: dict[str, Any] = {}
    findings: list[dict] = []
    times = None
    if time_col is not None:
        tcol = find_column(table, time_col, option="--time-col")
        times = _parse_times(table, tcol, time_col)
    if unit_col is not None:
        ucol = find_column(table, unit_col, option="--unit-col")
        if ucol == gcol:
            raise DataError("--unit-col and --group-col name the same column",
                            file=table.name, column=unit_col)
        ucode, uniq_units = _text_codes(df[ucol])
        blank = uniq_units[ucode] == ""
        if blank.any():
            raise DataError("empty unit id: every row needs a unit (--unit-col)",
                            file=table.name, column=unit_col,
                            lines=df[LINE].to_numpy()[blank][:_SHOWN], n_rows=int(blank.sum()))
        gcode, uniq_arms = _text_codes(df[gcol])
        pairs = np.unique(ucode.astype(np.int64) * len(uniq_arms) + gcode)
        n_arms_of = np.bincount(pairs // len(uniq_arms), minlength=len(uniq_units))
        several = uniq_units[n_arms_of > 1]
        in_several = n_arms_of[ucode] > 1
        order = np.arange(len(df))
        if times is not None:
            # Earliest exposure first; equal times keep the file order (stable sort).
            order = np.argsort(times.to_numpy(dtype="datetime64[ns]"), kind="stable")
        keep_rows = order[~in_several[order]]
        _, first_at = np.unique(ucode[keep_rows], return_index=True)
        kept = np.sort(keep_rows[first_at])
        n_units = int(len(uniq_units))
        dup_dropped = int((~in_several).sum() - kept.size)
        rule = ("one row per unit: its first exposure (earliest " + f"'{time_col}'" +
                ", ties: first row in the file)" if time_col is not None
                else "one row per unit: its first row in the file (give --time-col to keep "
                     "the earliest exposure instead)")
        info = {"unit_col": unit_col, "rule": rule + "; units seen in more than one arm are "
                "excluded (every row)", "n_rows": int(len(df)), "n_units": n_units,
                "duplicate_rows_dropped": dup_dropped,
                "units_in_several_arms": int(len(several)),
                "rows_of_units_in_several_arms": int(in_several.sum()),
                "n_rows_analysed": int(kept.size),
                "examples_in_several_arms": [str(u) for u in list(several[:5])]}
        extra["units"] = info
        if dup_dropped:
            findings.append(_finding(
                "duplicate_unit_rows", "warning",
                f"{dup_dropped:,} rows repeat a unit already seen ('{unit_col}'): {n_units:,} "
                f"units in {len(df):,} rows; kept {rule}.", n_rows=dup_dropped))
        if len(several):
            shown = ", ".join(info["examples_in_several_arms"])
            findings.append(_finding(
                "units_in_several_arms", "warning",
                f"{len(several):,} units ('{unit_col}') appear in more than one arm "
                f"({int(in_several.sum()):,} rows; e.g. {shown}): their exposure is "
                f"contaminated, so they are excluded.", n_units=int(len(several)),
                n_rows=int(in_several.sum())))
        if kept.size < len(df):
            df = df.iloc[kept].reset_index(drop=True)
            if times is not None:
                times = times.iloc[kept].reset_index(drop=True)
            table = replace(table, data=df)
    else:
        for col in df.columns:
            if col.startswith("_line") or col == gcol or not _ID_NAMES.match(col):
                continue
            vals = df[col]
            n_unique = int(vals.nunique())
            # An id has many values (a constant experiment_id or a 3-level segment_id is
            # not a unit), and some of them repeat.
            if 20 < n_unique < len(vals):
                findings.append(_finding(
                    "possible_repeated_units", "warning",
                    f"column '{col}' looks like a unit id and repeats ({n_unique:,} distinct "
                    f"values in {len(vals):,} rows): rows may repeat units, and every row is "
                    f"analysed as a separate unit. Give --unit-col {col} to keep one row per "
                    f"unit and exclude units seen in several arms.", column=col,
                    n_rows=int(len(vals) - n_unique)))
    findings += _second_arm_columns(table, gcol)
    if times is not None:
        extra["looks"] = _looks(times, time_col, n_rows=len(table.data))
        findings.append(_finding("looks", "info", extra["looks"]["note"]))
    return table, extra, findings


def _second_arm_columns(table, gcol: str) -> list[dict]:
    """A column that records the arm a second time (e.g. landing_page next to group):
    rows where it disagrees with the group column are reported (not dropped)."""
    import pandas as pd

    df = table.data
    groups = df[gcol]
    arms = groups.unique()
    out = []
    for col in df.columns:
        if col.startswith("_line") or col == gcol or len(arms) < 2:
            continue
        vals = df[col]
        # Cheap first: a second record of the arm has as many values as there are arms.
        if vals.head(5000).nunique() > len(arms) or vals.nunique() != len(arms):
            continue
        tab = pd.crosstab(groups, vals)
        modal = tab.idxmax(axis=1)
        if modal.nunique() != len(arms):
            continue
        agree = sum(int(tab.loc[a, modal[a]]) for a in tab.index)
        n_off = int(len(df) - agree)
        if n_off == 0 or agree < 0.9 * len(df):
            continue
        pairs = ", ".join(f"{a} -> {modal[a]}" for a in tab.index)
        out.append(_finding(
            "arm_column_disagrees", "warning",
            f"column '{col}' looks like a second record of the arm ({pairs}) but disagrees "
            f"with '{gcol}' on {n_off:,} rows ({100 * n_off / len(df):.2f}%): the arm "
            f"assigned and the one served differ there. They are analysed by '{gcol}' "
            f"(intention to treat); filter them out first for a per-protocol analysis.",
            column=col, n_rows=n_off))
    return out


def _looks(times, time_col: str, *, n_rows: int) -> dict:
    """How many looks (distinct days) the dated export would allow, and the monitor
    command that controls the error of looking at each of them (issue 15.8)."""
    days = times.dt.tz_convert(None).dt.normalize() if times.dt.tz is not None \
        else times.dt.normalize()
    n_days = int(days.nunique())
    first, last = days.min(), days.max()
    return {
        "time_col": time_col, "n_days": n_days, "first_day": str(first.date()),
        "last_day": str(last.date()), "rows": int(n_rows),
        "note": (f"The data span {n_days} day(s) ({first.date()} to {last.date()}, by "
                 f"'{time_col}'): {n_days} looks would be possible. This comparison is one "
                 f"look at all of the data; if the results were (or will be) checked as the "
                 f"data came in, stopping when they looked good inflates false positives. "
                 f"Use `bayes-ab monitor` (an always-valid sequential test over the days) "
                 f"to look at every day safely."),
    }


# ---------------------------------------------------------------------------- options


def parse_split(spec: str | None) -> tuple[list[float] | None, dict[str, float] | None]:
    """``--split``: ``"30,70"`` (shares in the order of the output: control, then the other
    arms alphabetically) or ``"control=30,B=70"``; any positive scale (normalised)."""
    if spec is None:
        return None, None
    parts = [p.strip() for p in str(spec).split(",")]
    if len(parts) < 2 or not all(parts):
        raise OptionError(f"--split needs one share per arm, e.g. 50,50 or control=30,B=70; "
                          f"got {spec!r}")
    named = [p for p in parts if "=" in p]
    if named and len(named) != len(parts):
        raise OptionError(f"--split: give every share a name or none, got {spec!r}")

    def share(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise OptionError(f"--split: {text!r} is not a number") from None
        if not (math.isfinite(v) and v > 0):
            raise OptionError(f"--split: shares must be positive numbers, got {text!r}")
        return v

    if named:
        out: dict[str, float] = {}
        for p in parts:
            name, value = (x.strip() for x in p.split("=", 1))
            if not name or name in out:
                raise OptionError(f"--split: empty or repeated arm name in {spec!r}")
            out[name] = share(value)
        return None, out
    return [share(p) for p in parts], None


def expected_shares(arms: Sequence[str], spec: str | None) -> dict[str, float]:
    """Design share per arm (``--split``; default equal)."""
    ordered, named = parse_split(spec)
    if ordered is None and named is None:
        return {a: 1.0 / len(arms) for a in arms}
    if ordered is not None:
        if len(ordered) != len(arms):
            raise OptionError(f"--split gives {len(ordered)} shares for {len(arms)} arms "
                              f"({', '.join(arms)}, in this order)")
        values = dict(zip(arms, ordered, strict=True))
    else:
        assert named is not None
        lower = {a.lower(): a for a in arms}
        values = {}
        for name, v in named.items():
            arm = name if name in arms else lower.get(name.lower())
            if arm is None:
                raise OptionError(f"--split names '{name}', which is not one of the arms: "
                                  f"{', '.join(arms)}")
            values[arm] = v
        missing = [a for a in arms if a not in values]
        if missing:
            raise OptionError(f"--split gives no share for arm(s): {', '.join(missing)}")
    total = sum(values.values())
    return {a: values[a] / total for a in arms}


def _threshold_check(threshold: float | None) -> None:
    if threshold is not None and not (np.isfinite(threshold) and threshold > 0):
        raise OptionError(f"--threshold must be a positive number, got {threshold}")


def _option_check(*, prior_scale: str, prior_method: str, segment_method: str,
                  rope: float | None = None, non_inferiority_margin: float | None = None,
                  srm_alpha: float = DEFAULT_SRM_ALPHA, split: str | None = None,
                  metric_type: str = "auto", cap: float | None = None) -> None:
    if metric_type not in ("auto", "binary", "mean"):
        raise OptionError(f"--metric-type must be auto, binary or mean, got {metric_type!r}")
    if cap is not None and not (math.isfinite(cap) and 0.5 <= cap < 1):
        raise OptionError(f"--cap must be a quantile in [0.5, 1), e.g. 0.99, got {cap}")
    if prior_scale not in ("abs", "rel"):
        raise OptionError(f"--prior-scale must be abs or rel, got {prior_scale!r}")
    if prior_method not in ("pymc", "grid"):
        raise OptionError(f"--prior-method must be pymc or grid, got {prior_method!r}")
    if segment_method not in ("pymc", "normal"):
        raise OptionError(f"--segment-method must be pymc or normal, got {segment_method!r}")
    if rope is not None and not (math.isfinite(rope) and rope > 0):
        raise OptionError(f"--rope must be a positive half-width in the outcome's units "
                          f"(e.g. 0.002 = 0.2 pp), got {rope}")
    if non_inferiority_margin is not None and not (math.isfinite(non_inferiority_margin)
                                                   and non_inferiority_margin >= 0):
        raise OptionError(f"--non-inferiority-margin must be a number >= 0 in the outcome's "
                          f"units, got {non_inferiority_margin}")
    if not (math.isfinite(srm_alpha) and 0 < srm_alpha < 1):
        raise OptionError(f"--srm-alpha must be in (0, 1), got {srm_alpha}")
    parse_split(split)


# ---------------------------------------------------------------------------- Bayesian part


def _posteriors(counts: ArmComparisonStats):
    from bayes_ab.models.beta_binomial import BinomialCounts, posterior

    return [posterior(BinomialCounts(s, n))
            for s, n in zip(counts.successes, counts.trials, strict=True)]


def _binary_bayes(counts: ArmComparisonStats, *, seed: int, n_draws: int = EXACT_DRAWS
                  ) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, float],
                             dict[str, float]]:
    """Per non-control arm: control, test, lift_abs, lift_rel, prob_test_better (exact Beta
    posteriors); the draws per arm; P(best) and the loss of choosing, every arm."""
    from bayes_ab.models.beta_binomial import interval_of_draws, prob_beta_greater
    from bayes_ab.stats.multiarm import loss_of_choosing, prob_best

    posts = _posteriors(counts)
    rng = np.random.default_rng(seed)
    draws = {a: p.draws(n_draws, rng=rng) for a, p in zip(counts.arms, posts, strict=True)}
    pc = posts[0]
    dc = draws[counts.control]
    blocks = {}
    for arm, pt in zip(counts.arms[1:], posts[1:], strict=True):
        dt = draws[arm]
        rel_mean = (pt.mean * (pc.alpha + pc.beta - 1.0) / (pc.alpha - 1.0) - 1.0
                    if pc.alpha > 1 else None)
        blocks[arm] = {
            "control": pc.hdi().to_dict(),
            "test": pt.hdi().to_dict(),
            "lift_abs": interval_of_draws(dt - dc, mean=pt.mean - pc.mean).to_dict(),
            "lift_rel": interval_of_draws(dt / dc - 1.0, mean=rel_mean).to_dict(),
            "prob_test_better": prob_beta_greater(pt, pc),
        }
    if len(posts) == 2:
        p1 = blocks[counts.arms[1]]["prob_test_better"]
        best = {counts.control: 1.0 - p1, counts.arms[1]: p1}
    else:
        best = dict(zip(counts.arms, (float(x) for x in prob_best(posts)), strict=True))
    loss = dict(zip(counts.arms, (float(x) for x in loss_of_choosing(posts)), strict=True))
    return blocks, draws, best, loss


def _decision_config(threshold, rope, non_inferiority_margin):
    from bayes_ab.stats.decision import DecisionConfig

    kw: dict[str, Any] = {}
    if threshold is not None:
        kw["threshold_of_caring"] = threshold
    if rope is not None:
        kw["rope"] = rope
    if non_inferiority_margin is not None:
        kw["non_inferiority_margin"] = non_inferiority_margin
    return DecisionConfig(**kw)


def _decisions(counts: ArmComparisonStats, *, config, seed: int) -> dict[str, dict]:
    from bayes_ab.stats.decision import decide_from_counts
    from bayes_ab.models.beta_binomial import BinomialCounts

    control = BinomialCounts(counts.successes[0], counts.trials[0])
    out = {}
    for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:], strict=True):
        d = decide_from_counts(control, BinomialCounts(s, n), metric=counts.metric,
                               config=config, seed=seed).to_dict()
        out[arm] = {**d, "arm": arm, "control": counts.control}
    return out


def karm_decision(per_arm: Mapping[str, dict], *, control: str, prob_best: Mapping[str, float],
                  loss: Mapping[str, float], means: Mapping[str, float],
                  threshold: float, unit: str = "pp") -> dict:
    """The overall decision over three or more arms (rule 1-4 of the module docstring).

    ``per_arm``: each non-control arm's decision against control; ``loss``: the loss of
    choosing each arm (control included) against the best of all."""
    ranked = sorted(loss, key=lambda a: (loss[a], -means[a]))
    best = ranked[0]

    def about(arm: str) -> dict:
        # The block of the arm the decision is about; for control, the non-control arm
        # with the smallest loss (its pairwise numbers against control stay true).
        if arm != control:
            return dict(per_arm[arm])
        other = next(a for a in ranked if a != control)
        return dict(per_arm[other])

    def fmt(x: float) -> str:
        return f"{100 * x:.3g} pp" if unit == "pp" else f"{x:.4g}{unit}"

    losses = "; ".join(f"{a}: {fmt(loss[a])}" for a in ranked)
    if loss[best] < threshold:
        dec = about(best)
        if best == control:
            rec, arm = "pivot", dec["arm"]
            reason = (f"Keeping {control} loses {fmt(loss[best])} on average against the best "
                      f"of all arms, under the threshold of caring ({fmt(threshold)}); "
                      f"loss of choosing each arm: {losses}.")
        else:
            rec, arm = "double_down", best
            reason = (f"Shipping {best} loses {fmt(loss[best])} on average against the best of "
                      f"all arms, under the threshold of caring ({fmt(threshold)}); loss of "
                      f"choosing each arm: {losses}.")
        outcome = "decided"
    else:
        ni = [a for a in ranked if a != control
              and (per_arm[a].get("non_inferiority") or {}).get("non_inferior")]
        rope_all = all((d.get("rope") or {}).get("practically_equivalent")
                       for d in per_arm.values())
        if ni:
            dec, rec, arm, outcome = about(ni[0]), "double_down", ni[0], "non_inferior"
            reason = (f"No arm's loss against the best of all is under the threshold of "
                      f"caring ({fmt(threshold)}; {losses}), but {ni[0]} is non-inferior to "
                      f"{control} within the margin, with the smallest loss among such arms.")
        elif rope_all and per_arm:
            dec = about(best)
            rec = "pivot" if best == control else "double_down"
            arm, outcome = dec["arm"] if best == control else best, "no_meaningful_difference"
            reason = (f"Every arm is practically equivalent to {control} (ROPE); take the arm "
                      f"with the smallest loss against the best of all ({best}; {losses}).")
        else:
            dec = about(best)
            rec, arm, outcome = "keep_testing", dec["arm"], "inconclusive"
            reason = (f"No arm's loss against the best of all is under the threshold of caring "
                      f"({fmt(threshold)}): {losses}. Keep testing.")
            if dec.get("extra_samples_needed") is not None:
                reason += (f" For {dec['arm']} against {control} alone, about "
                           f"{dec['extra_samples_needed']:,} more customers would be needed "
                           f"(a k-arm sample size is not computed).")
    dec.update({
        "recommendation": rec,
        "arm": arm,
        "outcome": outcome,
        "reason": reason,
        "rule": "k arms: smallest expected loss against the best of all arms",
        "prob_best": dict(prob_best),
        "loss_of_choosing": dict(loss),
        "threshold_of_caring": float(threshold),
    })
    # The arm to run from now on (None while testing continues).
    dec["chosen_arm"] = {"double_down": arm, "pivot": control}.get(rec)
    return dec


# ---------------------------------------------------------------------------- frequentist


def _frequentist(counts: ArmComparisonStats) -> dict[str, dict]:
    """Per arm against control, unadjusted (Holm is applied over the whole run later)."""
    from bayes_ab.stats.frequentist import two_proportion_test
    from bayes_ab.models.beta_binomial import BinomialCounts

    control = BinomialCounts(counts.successes[0], counts.trials[0])
    return {arm: two_proportion_test(control, BinomialCounts(s, n), metric=counts.metric).to_dict()
            for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:],
                                 strict=True)}


def _holm_across(blocks: Sequence[tuple[str, str, dict]]) -> None:
    """Holm over every (metric, arm) test of the run, in place on the ``frequentist``
    dicts: ``p_value_holm``, ``significant_95`` (Holm p < 0.05) and ``family_size``."""
    from bayes_ab.stats.frequentist import holm_adjust

    keyed = {f"{m}\x00{a}": f for m, a, f in blocks}
    adjusted = holm_adjust({k: float(f["p_value"]) for k, f in keyed.items()})
    for k, f in keyed.items():
        f["p_value_holm"] = adjusted[k]
        f["significant_95"] = bool(adjusted[k] < 0.05)
        f["family_size"] = len(keyed)


# ---------------------------------------------------------------------------- extra blocks


def _extra_column(table, name: str, *, option: str) -> np.ndarray:
    """Another column of the export as stripped text, row-aligned with the groups
    (which keep every row or fail), blank values labelled ``(blank)``."""
    col = find_column(table, name, option=option)
    values = table.data[col].astype(str).str.strip()
    return values.where(values != "", "(blank)").to_numpy(dtype=object)


def _ratio_blocks(ratio_cols, data: GroupData, counts: ArmComparisonStats, *,
                  lower_is_better: bool, seed: int) -> dict[str, dict]:
    from bayes_ab.stats.ratio import compare_ratio, ratio_by_arm

    num, den, label = ratio_cols
    stats_ = ratio_by_arm(data.groups, num, den, counts.arms)
    comps = {arm: compare_ratio(stats_[counts.control], stats_[arm], metric=label,
                                higher_is_better=not lower_is_better, seed=seed + k,
                                names=(counts.control, arm))
             for k, arm in enumerate(counts.arms[1:])}
    return {arm: c.to_dict() for arm, c in comps.items()}, {
        arm: c.draws for arm, c in comps.items()}


def _segment_blocks(segs: np.ndarray, column: str, data: GroupData, counts: ArmComparisonStats, *,
                    method: str, config: SamplerConfig,
                    shares: Mapping[str, float]) -> dict[str, dict]:
    from bayes_ab.workflows.segments import SegmentCounts, segment_effects

    out = {}
    for k, arm in enumerate(counts.arms[1:]):
        sc = SegmentCounts.from_arrays(data.groups, data.outcomes, segs, control=counts.control,
                                       test=arm, column=column)
        share = shares[arm] / (shares[arm] + shares[counts.control])
        out[arm] = segment_effects(sc, method=method,  # type: ignore[arg-type]
                                   config=config.with_seed_offset(10 + k),
                                   expected_test_share=share)
    return out


def _prior_block(past, counts: ArmComparisonStats, *, scale: str, method: str, source: str,
                 config: SamplerConfig) -> dict:
    from bayes_ab.workflows.meta_prior import (
        fit_meta_prior,
        lift_estimate,
        meta_prior_grid,
        prior_from_history_block,
    )

    if method == "pymc":
        from dataclasses import replace

        meta = fit_meta_prior(past, config=replace(config.with_seed_offset(20),
                                                   target_accept=max(config.target_accept, 0.95)))
    else:
        meta = meta_prior_grid(past, seed=config.seed)
    today = {arm: lift_estimate(counts.successes[0], counts.trials[0], s, n,
                                scale=scale)  # type: ignore[arg-type]
             for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:],
                                  strict=True)}
    return prior_from_history_block(meta, today, seed=config.seed, source=source)


def _as_diagnostics(name: str, d: dict | None):
    from bayes_ab.inference.diagnostics import ModelDiagnostics

    if not d:
        return None
    return ModelDiagnostics(name=name, max_r_hat=d["max_r_hat"], min_ess_bulk=d["min_ess_bulk"],
                            divergences=d["divergences"], n_draws=d.get("n_draws", 0),
                            n_chains=d.get("n_chains", 0))


def _diagnostics(sampled: list) -> dict:
    sampled = [d for d in sampled if d is not None]
    if not sampled:
        return {"max_r_hat": None, "min_ess_bulk": None, "divergences": 0, "passed": True,
                "per_model": {}, "sampled": False,
                "note": "every posterior of this run is exact: conjugate Beta"}
    from bayes_ab.inference.diagnostics import combine

    return {**combine(sampled), "sampled": True}


# ---------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class CompareOptions:
    """Every option of `run_compare` but the path (one object passed between its stages)."""

    group_col: str
    outcome_col: str | Sequence[str]
    control: str | None = None
    config: SamplerConfig = SamplerConfig()
    threshold: float | None = None
    ratio: str | None = None
    ratio_lower_is_better: bool = False
    segment_col: str | None = None
    segment_method: str = "pymc"
    prior_from: str | Path | None = None
    prior_scale: str = "abs"
    prior_method: str = "pymc"
    split: str | None = None
    srm_alpha: float = DEFAULT_SRM_ALPHA
    rope: float | None = None
    non_inferiority_margin: float | None = None
    metric_type: str = "auto"
    cap: float | None = None
    guardrail_margin: str | float | None = None
    guardrail_lower_is_better: Sequence[str] = ()
    unit_col: str | None = None
    time_col: str | None = None
    covariate: str | None = None
    ratio_guardrail: bool = False


@dataclass
class _OneOutcome:
    """The parsed inputs of a one-outcome run (`_read_one`)."""

    data: GroupData
    covariate: tuple[str, np.ndarray] | None = None
    binary_adjusted: bool = False
    ratio_cols: Any = None
    segs: np.ndarray | None = None
    past: Any = None


def run_compare(
    path: str | Path,
    *,
    group_col: str,
    outcome_col: str,
    control: str | None = None,
    config: SamplerConfig = SamplerConfig(),
    threshold: float | None = None,
    ratio: str | None = None,
    ratio_lower_is_better: bool = False,
    segment_col: str | None = None,
    segment_method: str = "pymc",
    prior_from: str | Path | None = None,
    prior_scale: str = "abs",
    prior_method: str = "pymc",
    split: str | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    rope: float | None = None,
    non_inferiority_margin: float | None = None,
    metric_type: str = "auto",
    cap: float | None = None,
    guardrail_margin: str | float | None = None,
    guardrail_lower_is_better: Sequence[str] = (),
    unit_col: str | None = None,
    time_col: str | None = None,
    covariate: str | None = None,
    ratio_guardrail: bool = False,
    _table: Any = None,
    _prepared: bool = False,
) -> CompareRun:
    """Read, count, compute, test and decide; the compare.json dict plus the draws.

    ``outcome_col`` may name several outcomes (a list, or "a,b,c"): the first is the
    primary metric (the decision); the others are guardrails (``metrics`` block, Holm across
    every metric x arm; a guardrail credibly worse than control by more than its
    ``guardrail_margin`` blocks shipping).

    ``ratio`` ("NUM_COL/DEN_COL"), ``segment_col`` and ``prior_from`` (a CSV of past
    experiments: experiment, lift, se) add the optional blocks of the module docstring;
    ``split`` (e.g. "30,70") is the design's share per arm for the sample-ratio check;
    ``rope`` and ``non_inferiority_margin`` (outcome units) enter the decision rule.

    ``unit_col``: one row per unit, units in several arms excluded (`prepare_units`);
    ``time_col``: the first exposure of a unit, and how many looks the data allow;
    ``covariate``: CUPED / regression adjustment of the primary outcome (a mean metric);
    ``ratio_guardrail``: the ``ratio`` metric is also a guardrail (`_ratio_guardrail`)."""
    from dataclasses import fields

    args = locals()
    opts = CompareOptions(**{f.name: args[f.name] for f in fields(CompareOptions)})
    return _run(path, opts, table=_table, prepared=_prepared)


def _run(path: str | Path, opts: CompareOptions, *, table: Any = None,
         prepared: bool = False) -> CompareRun:
    """The stages of `run_compare`: options, units, then one outcome or several."""
    # 1. Options and every input, before any computation.
    dconfig, outcomes = _check_options(opts)
    path = Path(path)
    table = table if table is not None else _open_table(path, _named_columns(opts, outcomes))
    if not prepared:
        return _run_units(path, table, opts, outcomes)
    if len(outcomes) > 1 or opts.ratio_guardrail:
        return _run_several(path, table, outcomes, opts)
    one = _read_one(path, table, opts, outcome_col=outcomes[0])
    del table
    if one.data.kind == "mean":
        return _run_mean(one.data, control=opts.control, config=opts.config,
                         threshold=opts.threshold, rope=opts.rope,
                         non_inferiority_margin=opts.non_inferiority_margin, split=opts.split,
                         srm_alpha=opts.srm_alpha, cap=opts.cap, ratio_cols=one.ratio_cols,
                         ratio_lower_is_better=opts.ratio_lower_is_better,
                         covariate=one.covariate, binary_adjusted=one.binary_adjusted)
    return _run_binary(one, opts, dconfig)


def _check_options(opts: CompareOptions):
    """(decision config, outcome columns); every option error before any reading."""
    _threshold_check(opts.threshold)
    _option_check(prior_scale=opts.prior_scale, prior_method=opts.prior_method,
                  segment_method=opts.segment_method, rope=opts.rope,
                  non_inferiority_margin=opts.non_inferiority_margin, srm_alpha=opts.srm_alpha,
                  split=opts.split, metric_type=opts.metric_type, cap=opts.cap)
    dconfig = _decision_config(opts.threshold, opts.rope, opts.non_inferiority_margin)
    outcomes = parse_outcome_cols(opts.outcome_col)
    if opts.ratio_guardrail and opts.ratio is None:
        raise OptionError("--ratio-guardrail makes the --ratio metric a guardrail: give "
                          "--ratio NUM_COL/DEN_COL too")
    return dconfig, outcomes


def _run_units(path: Path, table, opts: CompareOptions, outcomes: list[str]) -> CompareRun:
    """One row per unit (`prepare_units`), the run, then ``input.units`` / ``looks``."""
    table, extra, findings = prepare_units(table, group_col=opts.group_col,
                                           unit_col=opts.unit_col, time_col=opts.time_col)
    run = _run(path, opts, table=table, prepared=True)
    _attach_units(run.results, extra, findings, group_col=opts.group_col,
                  time_col=opts.time_col, outcome=outcomes[0], unit_col=opts.unit_col)
    return run


def _read_one(path: Path, table, opts: CompareOptions, *, outcome_col: str) -> _OneOutcome:
    """Parse the outcome and every optional input of a one-outcome run."""
    data = _groups_from_table(table, path, group_col=opts.group_col, outcome_col=outcome_col,
                              metric_type=opts.metric_type)
    if data.kind == "mean" and (opts.segment_col is not None or opts.prior_from is not None):
        raise OptionError("--segment-col and --prior-from need a binary outcome; "
                          f"'{outcome_col}' is a mean outcome ({data.kind_note})")
    if data.kind == "binary" and opts.cap is not None:
        raise OptionError("--cap applies to a mean outcome; "
                          f"'{outcome_col}' is binary ({data.kind_note})")
    one = _OneOutcome(data=data)
    if opts.covariate is not None:
        _read_covariate(one, table, opts, outcome_col=outcome_col)
    if opts.ratio is not None:
        from bayes_ab.stats.ratio import read_ratio_columns

        one.ratio_cols = read_ratio_columns(path, opts.ratio, table=table)
    if opts.segment_col is not None:
        from bayes_ab.workflows.segments import checked_segment_names

        one.segs = _extra_column(table, opts.segment_col, option="--segment-col")
        try:
            checked_segment_names(one.segs.tolist(), column=opts.segment_col)
        except DataError as exc:
            raise DataError(exc.reason, file=table.name, column=opts.segment_col) from None
    if opts.prior_from is not None:
        from bayes_ab.workflows.meta_prior import read_past_experiments

        one.past = read_past_experiments(opts.prior_from,
                                         scale=opts.prior_scale)  # type: ignore[arg-type]
    return one


def _read_covariate(one: _OneOutcome, table, opts: CompareOptions, *,
                    outcome_col: str) -> None:
    """``--covariate``: its values; a binary outcome becomes a mean metric (its rate)."""
    from dataclasses import replace

    from bayes_ab.data.load import LINE

    covariate = opts.covariate
    assert covariate is not None
    if opts.segment_col is not None or opts.prior_from is not None:
        raise OptionError("--covariate cannot be combined with --segment-col or "
                          "--prior-from (they model the unadjusted binary outcome)")
    ccol = find_column(table, covariate, option="--covariate")
    if ccol in (normalise_column(opts.group_col), normalise_column(outcome_col)):
        raise OptionError("--covariate must be another column than the group and the "
                          "outcome (a pre-period value of the unit)")
    try:
        one.covariate = (covariate, parse_numeric_outcome(
            table.data[ccol].to_numpy(), table.data[LINE].to_numpy(), file=table.name,
            column=covariate))
    except DataError as exc:
        raise DataError(exc.reason.replace("a mean outcome needs", "--covariate needs")
                        + " (fill a missing pre-period value, e.g. with 0, or drop "
                          "the row first)", file=exc.file, column=exc.column,
                        lines=exc.lines, n_rows=exc.n_rows) from None
    data = one.data
    if data.kind == "binary":
        one.binary_adjusted = True
        one.data = replace(data, kind="mean", outcomes=tuple(float(v) for v in data.outcomes),
                           kind_note=data.kind_note + "; analysed as a mean metric (its rate) "
                           "after the CUPED adjustment by --covariate")


def _run_binary(one: _OneOutcome, opts: CompareOptions, dconfig) -> CompareRun:
    """The binary metric: exact posteriors, tests, decisions, then the optional blocks."""
    data, config = one.data, opts.config
    counts, note = count_arms(data, control=opts.control)
    shares = expected_shares(list(counts.arms), opts.split)

    # 2. The binary metric: exact posteriors, tests, decisions.
    bayes, draws, best, loss = _binary_bayes(counts, seed=config.seed)
    frequentist = _frequentist(counts)
    decisions = _decisions(counts, config=dconfig, seed=config.seed)
    count_dict = {a: {"successes": s, "trials": n}
                  for a, s, n in zip(counts.arms, counts.successes, counts.trials, strict=True)}
    arms = _binary_arm_blocks(counts, bayes, frequentist, decisions, count_dict)
    posts = _posteriors(counts)
    overall = _binary_overall(counts, decisions, best, loss, posts, threshold=opts.threshold)
    from bayes_ab.stats.multiarm import srm_check_k

    srm = srm_check_k({a: count_dict[a]["trials"] for a in counts.arms}, shares,
                      alpha=opts.srm_alpha)
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "input": {
            "file": data.file,
            "format": data.format,
            "group_col": data.group_col,
            "outcome_col": data.outcome_col,
            "n_rows": data.n_rows,
            "control_note": note,
            "counts": count_dict,
            "sampler": config.to_dict(),
        },
        "control": counts.control,
        "metric_kind": "binary",
        "srm": srm,
        "arms": arms,
        "prob_best": best,
        "loss_of_choosing": loss,
        "posterior": {a: {"distribution": "Beta", "alpha": p.alpha, "beta": p.beta,
                          "prior": {"alpha": 1.0, "beta": 1.0}}
                      for a, p in zip(counts.arms, posts, strict=True)},
        "method": {"bayesian": f"exact Beta posteriors (Beta(1, 1) priors); lift HDIs from "
                               f"{EXACT_DRAWS:,} seeded draws per arm; P(better), P(best) and "
                               f"expected losses exact",
                   "frequentist": "two-proportion z-test (Fisher's exact test for small "
                                  "counts), Newcombe CI; Holm across every metric x arm"},
        "decision": overall,
    }
    ratio_draws = _binary_optional_blocks(results, one, opts, counts, shares)
    results["metrics"] = {data.outcome_col: {"kind": "binary", "arms": arms}}
    from bayes_ab.models.arm_comparison import METRIC_NAMES

    return CompareRun(results=results, draws=draws,
                      metric_name=METRIC_NAMES.get(counts.metric, counts.metric),
                      ratio_draws=ratio_draws)


def _binary_arm_blocks(counts: ArmComparisonStats, bayes, frequentist, decisions, count_dict) -> dict:
    """``arms``: each arm against control (Bayesian, frequentist, counts, decision)."""
    arms = {}
    for arm in counts.arms[1:]:
        b = bayes[arm]
        arms[arm] = {
            **b,
            "frequentist": frequentist[arm],
            "arms": {"control": counts.control, "test": arm},
            "counts": {counts.control: count_dict[counts.control], arm: count_dict[arm]},
            "decision": decisions[arm],
        }
        # One number per quantity: the decision's P(better) is the exact one shown above.
        assert decisions[arm]["prob_test_better"] == b["prob_test_better"] or math.isclose(
            decisions[arm]["prob_test_better"], b["prob_test_better"], rel_tol=1e-12)
    return arms


def _binary_overall(counts: ArmComparisonStats, decisions, best, loss, posts, *, threshold) -> dict:
    """The overall decision: expected loss for two arms, `karm_decision` for more."""
    from bayes_ab.stats.decision import DEFAULT_THRESHOLD_OF_CARING

    if len(counts.arms) == 2:
        overall = dict(decisions[counts.arms[1]])
        overall["prob_best"] = dict(best)
        overall["loss_of_choosing"] = dict(loss)
        overall["chosen_arm"] = (counts.arms[1] if overall["recommendation"] == "double_down"
                                 else counts.control if overall["recommendation"] == "pivot"
                                 else None)
        overall["rule"] = "two arms: expected loss of shipping vs keeping control"
        return overall
    means = {a: p.mean for a, p in zip(counts.arms, posts, strict=True)}
    thr = threshold if threshold is not None else DEFAULT_THRESHOLD_OF_CARING
    return karm_decision(decisions, control=counts.control, prob_best=best, loss=loss,
                         means=means, threshold=thr)


def _binary_optional_blocks(results: dict, one: _OneOutcome, opts: CompareOptions,
                            counts: ArmComparisonStats, shares) -> Any:
    """3. ``ratio_metric`` (then Holm), ``segments``, ``prior_from_history`` and
    ``diagnostics`` into ``results``; returns the ratio draws (or None)."""
    data, config, arms = one.data, opts.config, results["arms"]
    sampled = []
    ratio_draws = None
    holm_family = [(counts.metric, arm, arms[arm]["frequentist"]) for arm in counts.arms[1:]]
    if one.ratio_cols is not None:
        results["ratio_metric"], ratio_draws = _ratio_blocks(
            one.ratio_cols, data, counts, lower_is_better=opts.ratio_lower_is_better,
            seed=config.seed)
        holm_family += [(f"ratio:{b['metric']}", arm, b["frequentist"])
                        for arm, b in results["ratio_metric"].items()]
    _holm_across(holm_family)
    if one.segs is not None:
        assert opts.segment_col is not None
        results["segments"] = _segment_blocks(one.segs, opts.segment_col, data, counts,
                                              method=opts.segment_method, config=config,
                                              shares=shares)
        for arm, block in results["segments"].items():
            sampled.append(_as_diagnostics(f"segments[{arm}]", block["diagnostics"]))
    if one.past is not None:
        results["prior_from_history"] = _prior_block(one.past, counts, scale=opts.prior_scale,
                                                     method=opts.prior_method, config=config,
                                                     source=str(opts.prior_from))
        sampled.append(_as_diagnostics("meta_prior",
                                       results["prior_from_history"]["diagnostics"]))
    results["diagnostics"] = _diagnostics(sampled)
    return ratio_draws


def _adjusted_blocks(y: np.ndarray, x: np.ndarray, groups: np.ndarray, order: list[str], *,
                    covariate: str, seed: int) -> tuple[dict, dict, str]:
    """CUPED (issue 15.4): the Bayesian bootstrap on y - theta (x - mean x) per arm, the
    OLS y ~ arm + centred x (HC2) as the frequentist part, and the ``adjustment`` block."""
    from bayes_ab.stats.compare_mean import (
        adjusted_mean_draws,
        bootstrap_mean_draws,
        cuped_adjust,
        ols_adjusted,
    )
    from bayes_ab.inference.intervals import draws_interval

    try:
        y_adj, theta = cuped_adjust(y, x, groups, order)
    except ValueError as exc:
        raise DataError(f"--covariate: {exc}; it cannot adjust anything",
                        column=covariate) from None
    rng = np.random.default_rng(seed)
    draws, how = {}, ""
    most = max(np.unique(y_adj[groups == a]).size for a in order)
    for a in order:
        draws[a], how = adjusted_mean_draws(y_adj[groups == a], rng=rng, distinct=most)
    k = draws[order[0]].size
    raw_ok = max(np.unique(y[groups == a]).size for a in order) * k <= 20_000_000
    raw = {a: bootstrap_mean_draws(y[groups == a], rng=rng, n_draws=k) if raw_ok else None
           for a in order}
    adj_ols = ols_adjusted(y, x, groups, order)
    unadj_ols = ols_adjusted(y, None, groups, order)
    ctrl = order[0]
    mean = {a: float(y_adj[groups == a].mean()) for a in order}
    raw_mean = {a: float(y[groups == a].mean()) for a in order}
    blocks = {}
    for arm in order[1:]:
        dc, dt = draws[ctrl], draws[arm]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = dt / dc - 1.0
        un_lift = {"mean": raw_mean[arm] - raw_mean[ctrl]}
        if raw[arm] is not None and raw[ctrl] is not None:
            un_lift = {**draws_interval(raw[arm] - raw[ctrl]), **un_lift}
        se_a, se_u = adj_ols[arm]["se"], unadj_ols[arm]["se"]
        blocks[arm] = {
            "control": {**draws_interval(dc), "mean": mean[ctrl]},
            "test": {**draws_interval(dt), "mean": mean[arm]},
            "lift_abs": {**draws_interval(dt - dc), "mean": mean[arm] - mean[ctrl]},
            "lift_rel": draws_interval(rel) if np.all(np.isfinite(rel)) else None,
            "prob_test_better": float(np.mean(dt > dc)),
            "frequentist": adj_ols[arm],
            "adjustment": {
                "covariate": covariate, "theta": theta,
                "theta_definition": "pooled within-arm OLS slope of the outcome on the "
                                    "covariate (= its coefficient in OLS outcome ~ arm + "
                                    "covariate)",
                "variance_reduction": (1.0 - se_a**2 / se_u**2) if se_u > 0 else None,
                "variance_reduction_definition": "1 - (HC2 variance of the adjusted lift) / "
                                                 "(HC2 variance of the unadjusted lift = "
                                                 "Welch's)",
                "unadjusted_lift_abs": un_lift,
                "unadjusted_frequentist": unadj_ols[arm],
            },
        }
    return blocks, draws, how


def _run_mean(data: GroupData, *, control, config: SamplerConfig, threshold, rope,
              non_inferiority_margin, split, srm_alpha, cap, ratio_cols,
              ratio_lower_is_better, covariate: tuple[str, np.ndarray] | None = None,
              binary_adjusted: bool = False) -> CompareRun:
    """A mean outcome (bayes_ab.stats.compare_mean): Bayesian bootstrap, Welch, decision from draws."""
    from bayes_ab.stats.compare_mean import MEAN_DRAWS, best_and_loss, cap_values, mean_arm_blocks
    from bayes_ab.stats.decision import DecisionConfig, decide_from_draws
    from bayes_ab.stats.multiarm import srm_check_k

    order, note = arm_order(data, control=control)
    shares = expected_shares(order, split)
    groups = np.asarray(data.groups, dtype=object)
    y_raw = np.asarray(data.outcomes, dtype=float)
    y, cap_note = cap_values(y_raw, cap)
    values = {a: y[groups == a] for a in order}
    small = [a for a in order if values[a].size < 2]
    if small:
        raise DataError(f"a mean outcome needs at least 2 rows per arm; {', '.join(small)} "
                        f"has fewer (binary outcome? say --metric-type binary)",
                        file=Path(data.file).name, column=data.outcome_col)
    ctrl = order[0]
    adj_how = ""
    if covariate is not None:
        blocks, draws, adj_how = _adjusted_blocks(y, covariate[1], groups, order,
                                                  covariate=covariate[0], seed=config.seed)
    else:
        blocks, draws = mean_arm_blocks(values, order, seed=config.seed)
    best, loss = best_and_loss(draws, order)
    c_mean = float(values[ctrl].mean())
    if binary_adjusted:
        from bayes_ab.stats.decision import DEFAULT_THRESHOLD_OF_CARING

        thr = threshold if threshold is not None else DEFAULT_THRESHOLD_OF_CARING
        thr_source = "given" if threshold is not None else "default 0.001 (0.1 pp of the rate)"
    else:
        thr = threshold if threshold is not None else max(abs(c_mean) * 0.01, 1e-12)
        thr_source = "given" if threshold is not None else "1% of control's observed mean"
    kw: dict[str, Any] = {"threshold_of_caring": thr}
    if rope is not None:
        kw["rope"] = rope
    if non_inferiority_margin is not None:
        kw["non_inferiority_margin"] = non_inferiority_margin
    dconfig = DecisionConfig(**kw)
    n_dict = {a: {"n": int(values[a].size), "mean": float(values[a].mean()),
                  "sd": float(values[a].std(ddof=1)) if values[a].size > 1 else None,
                  "median": float(np.median(values[a])), "max": float(values[a].max())}
              for a in order}
    arms = {}
    decisions = {}
    for arm in order[1:]:
        d = decide_from_draws(draws[ctrl], draws[arm], metric=data.outcome_col, config=dconfig,
                              n_customers=int(values[ctrl].size + values[arm].size)).to_dict()
        d.update({"arm": arm, "control": ctrl, "threshold_source": thr_source})
        decisions[arm] = d
        arms[arm] = {**blocks[arm], "arms": {"control": ctrl, "test": arm},
                     "counts": {ctrl: n_dict[ctrl], arm: n_dict[arm]}, "decision": d}
    if len(order) == 2:
        overall = dict(decisions[order[1]])
        overall.update({"prob_best": best, "loss_of_choosing": loss,
                        "chosen_arm": {"double_down": order[1], "pivot": ctrl}.get(
                            overall["recommendation"]),
                        "rule": "two arms: expected loss of shipping vs keeping control"})
    else:
        means = {a: float(np.mean(draws[a])) for a in order}
        overall = karm_decision(decisions, control=ctrl, prob_best=best, loss=loss,
                                means=means, threshold=thr, unit=f" ({data.outcome_col})")
    bayes_method = (f"Bayesian bootstrap of each arm's mean (Dirichlet(1, ..., 1) weights on "
                    f"the observed values, no normality assumed), {MEAN_DRAWS:,} exact draws "
                    f"per arm")
    freq_method = "Welch's t-test (unequal variances); Holm across every metric x arm"
    if covariate is not None:
        bayes_method = (f"CUPED: each row's outcome y adjusted to y - theta (x - mean x), x = "
                        f"'{covariate[0]}', theta the pooled within-arm OLS slope (plugged in, "
                        f"its own uncertainty ignored: O(1/n)); then the posterior of each "
                        f"arm's mean of the adjusted values, per arm: {adj_how}"
                        + ("; the binary outcome is analysed as a mean metric (its rate), "
                           "since the adjusted values are not 0/1" if binary_adjusted else ""))
        freq_method = (f"OLS of the outcome on the arm (dummies, control the baseline) and the "
                       f"centred covariate '{covariate[0]}', HC2 robust standard errors, "
                       f"normal reference; Holm across every metric x arm")
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "input": {"file": data.file, "format": data.format, "group_col": data.group_col,
                  "outcome_col": data.outcome_col, "n_rows": data.n_rows,
                  "control_note": note, "counts": n_dict, "outcome_kind": data.kind_note,
                  "cap": cap_note, "sampler": config.to_dict(),
                  **({"covariate": covariate[0]} if covariate is not None else {})},
        "control": ctrl,
        "metric_kind": "mean",
        "srm": srm_check_k({a: n_dict[a]["n"] for a in order}, shares, alpha=srm_alpha),
        "arms": arms,
        "prob_best": best,
        "loss_of_choosing": loss,
        "posterior": {a: {"distribution": "Bayesian bootstrap of the mean"
                          + (" of the CUPED-adjusted outcome" if covariate is not None else ""),
                          "n_draws": int(np.asarray(draws[a]).size)} for a in order},
        "method": {"bayesian": bayes_method
                               + (f"; outcome capped at its {cap:g} quantile "
                                  f"({cap_note['value']:.6g}, {cap_note['rows_capped']:,} "
                                  f"rows capped)" if cap_note else ""),
                   "frequentist": freq_method},
        "decision": overall,
    }
    holm_family = [(data.outcome_col, arm, arms[arm]["frequentist"]) for arm in order[1:]]
    ratio_draws = None
    if ratio_cols is not None:
        from bayes_ab.models.arm_comparison import ArmComparisonStats

        fake = ArmComparisonStats(arms=tuple(order), successes=(0,) * len(order),
                         trials=tuple(n_dict[a]["n"] for a in order), metric=data.outcome_col)
        results["ratio_metric"], ratio_draws = _ratio_blocks(
            ratio_cols, data, fake, lower_is_better=ratio_lower_is_better, seed=config.seed)
        holm_family += [(f"ratio:{b['metric']}", arm, b["frequentist"])
                        for arm, b in results["ratio_metric"].items()]
    _holm_across(holm_family)
    results["diagnostics"] = _diagnostics([])
    results["diagnostics"]["note"] = "the Bayesian bootstrap draws are exact"
    results["metrics"] = {data.outcome_col: {"kind": "mean", "arms": arms}}
    return CompareRun(results=results, draws=draws, metric_name=data.outcome_col,
                      ratio_draws=ratio_draws)


def parse_outcome_cols(spec: str | Sequence[str]) -> list[str]:
    """``--outcome-col``: one name, "a,b,c", or a list of either; the first is primary."""
    items = [spec] if isinstance(spec, str) else list(spec)
    out = [p.strip() for item in items for p in str(item).split(",")]
    if not out or not all(out):
        raise OptionError(f"--outcome-col: empty outcome name in {spec!r}")
    if len({normalise_column(o) for o in out}) != len(out):
        raise OptionError(f"--outcome-col names the same column twice: {', '.join(out)}")
    return out


def parse_guardrail_margins(spec: str | float | None, guardrails: Sequence[str]
                            ) -> dict[str, float]:
    """``--guardrail-margin``: one number for every guardrail, or "COL=M,COL2=M2" (others
    0), in each guardrail's own units (0.005 = 0.5 pp for a rate)."""
    out = {g: 0.0 for g in guardrails}
    if spec is None:
        return out

    def number(text) -> float:
        try:
            v = float(text)
        except (TypeError, ValueError):
            raise OptionError(f"--guardrail-margin: {text!r} is not a number") from None
        if not (math.isfinite(v) and v >= 0):
            raise OptionError(f"--guardrail-margin must be >= 0, got {text!r}")
        return v

    if isinstance(spec, (int, float)) or "=" not in str(spec):
        return {g: number(spec) for g in guardrails}
    lower = {normalise_column(g): g for g in guardrails}
    for part in str(spec).split(","):
        name, _, value = part.partition("=")
        g = lower.get(normalise_column(name))
        if g is None:
            raise OptionError(f"--guardrail-margin names '{name.strip()}', which is not a "
                              f"guardrail outcome ({', '.join(guardrails) or 'none'})")
        out[g] = number(value)
    return out


def _guardrail_check(block: dict, draws: Mapping[str, np.ndarray], *, arm: str | None,
                     control: str, margin: float, lower_is_better: bool) -> dict:
    """P(the shipped arm is worse than control by more than ``margin``) on a guardrail;
    it blocks shipping when that probability is at least 95%."""
    out: dict[str, Any] = {"margin": margin, "lower_is_better": lower_is_better, "arm": arm,
                           "required_prob": 0.95, "prob_worse_than_margin": None,
                           "blocks_ship": False}
    if arm is None or arm == control:
        return out
    sign = -1.0 if lower_is_better else 1.0
    diff = sign * (np.asarray(draws[arm]) - np.asarray(draws[control]))
    p = float(np.mean(diff < -margin))
    out.update({"prob_worse_than_margin": p, "blocks_ship": bool(p >= 0.95),
                "lift_abs": block["arms"][arm]["lift_abs"]})
    return out


def _ratio_margin_names(spec, ratio_key: str, *, aliases: Sequence[str],
                        outcomes: Sequence[str]):
    """``--guardrail-margin COL=M,...`` may name the ratio guardrail as given to --ratio
    (``spend/orders``), by its label or as ``ratio:LABEL``: rewritten to ``ratio:LABEL``
    (a name that is also an outcome stays the outcome's)."""
    if spec is None or isinstance(spec, (int, float)) or "=" not in str(spec):
        return spec
    names = {normalise_column(a) for a in aliases} - {normalise_column(o) for o in outcomes}
    parts = []
    for part in str(spec).split(","):
        name, eq, value = part.partition("=")
        parts.append(f"{ratio_key}={value}" if eq and normalise_column(name) in names else part)
    return ",".join(parts)


def _ratio_guardrail(res: dict, ratio_draws: Mapping[str, tuple] | None, *, arm: str | None,
                     control: str, margin: float, lower_is_better: bool) -> dict:
    """The ``--ratio`` metric as a guardrail: the same rule as an outcome guardrail
    (`_guardrail_check`) on the posterior draws of the arm's ratio and of control's (from
    the comparison of that arm with control: ``ratio_metric.ARM``)."""
    blocks = res.get("ratio_metric") or {}
    label = next(iter(blocks.values()))["metric"] if blocks else None
    block = {"kind": "ratio", "role": "guardrail", "metric": label, "arms": blocks}
    draws: dict[str, np.ndarray] = {}
    if arm is not None and arm != control and ratio_draws and arm in ratio_draws:
        draws = {control: ratio_draws[arm][0], arm: ratio_draws[arm][1]}
    block["guardrail"] = _guardrail_check(block, draws, arm=arm if draws else None,
                                          control=control, margin=margin,
                                          lower_is_better=lower_is_better)
    block["guardrail"]["arm"] = arm
    return block


def _run_several(path: Path, table, outcomes: list[str], opts: CompareOptions) -> CompareRun:
    """The primary outcome as a one-outcome run, every other outcome as a guardrail (and
    with ``ratio_guardrail`` the ``--ratio`` metric too)."""
    from dataclasses import replace

    primary, guards = outcomes[0], outcomes[1:]
    ratio_key, margins, lower = _guardrail_options(opts, outcomes)
    # Every outcome column parsed before any computation (bad values fail here).
    for g in guards:
        _groups_from_table(table, path, group_col=opts.group_col, outcome_col=g,
                           metric_type="auto")
    main_run = _run(path, replace(opts, outcome_col=primary, guardrail_margin=None,
                                  guardrail_lower_is_better=(), unit_col=None, time_col=None,
                                  ratio_guardrail=False),
                    table=table, prepared=True)
    res = main_run.results
    ctrl = res["control"]
    res["metrics"][primary]["role"] = "primary"
    holm = [(primary, a, b["frequentist"]) for a, b in res["arms"].items()]
    holm += [(f"ratio:{b['metric']}", a, b["frequentist"])
             for a, b in (res.get("ratio_metric") or {}).items()]
    dec = res["decision"]
    shipped = dec.get("arm") if dec.get("recommendation") == "double_down" else None
    blocked = []
    for k, g in enumerate(guards):
        sub = _run(path, CompareOptions(group_col=opts.group_col, outcome_col=g, control=ctrl,
                                        config=opts.config.with_seed_offset(100 + k),
                                        split=opts.split, srm_alpha=opts.srm_alpha),
                   table=table, prepared=True)
        block = _guardrail_block(sub, arm=shipped, control=ctrl, margin=margins[g],
                                 lower_is_better=normalise_column(g) in lower)
        if block["guardrail"]["blocks_ship"]:
            blocked.append(g)
        res["metrics"][g] = block
        holm += [(g, a, b["frequentist"]) for a, b in sub.results["arms"].items()]
    if ratio_key is not None:
        block = _ratio_guardrail(res, main_run.ratio_draws, arm=shipped, control=ctrl,
                                 margin=margins[ratio_key],
                                 lower_is_better=opts.ratio_lower_is_better)
        if block["guardrail"]["blocks_ship"]:
            blocked.append(ratio_key)
        res["metrics"][ratio_key] = block
    _holm_across(holm)
    res["input"]["outcome_cols"] = outcomes
    if opts.covariate is not None:
        res["input"]["covariate_applies_to"] = primary  # guardrails stay unadjusted
    if blocked:
        _block_ship(dec, res, blocked, primary=primary, shipped=shipped, control=ctrl)
    return main_run


def _guardrail_options(opts: CompareOptions, outcomes: list[str]):
    """(the ratio guardrail's key or None, margin per guardrail, the lower-is-better
    guardrails, normalised); option errors before any computation."""
    guards = outcomes[1:]
    guardrail_margin = opts.guardrail_margin
    ratio_key = None
    if opts.ratio_guardrail:
        from bayes_ab.stats.ratio import parse_ratio_spec

        num, den = parse_ratio_spec(opts.ratio)
        label = f"{num}/{den}" if den else f"{num} per row"
        ratio_key = f"ratio:{label}"  # its name in `metrics` and in Holm's family
        guardrail_margin = _ratio_margin_names(guardrail_margin, ratio_key,
                                               aliases=(opts.ratio, label), outcomes=outcomes)
    margins = parse_guardrail_margins(guardrail_margin,
                                      guards + ([ratio_key] if ratio_key else []))
    lower = {normalise_column(g) for g in opts.guardrail_lower_is_better}
    unknown = lower - {normalise_column(g) for g in guards}
    if unknown:
        raise OptionError(f"--guardrail-lower-is-better names {', '.join(sorted(unknown))}, "
                          f"not a guardrail outcome ({', '.join(guards)})")
    return ratio_key, margins, lower


def _guardrail_block(sub: CompareRun, *, arm: str | None, control: str, margin: float,
                     lower_is_better: bool) -> dict:
    """A guardrail outcome's ``metrics`` block, with its check of the shipped arm."""
    sres = sub.results
    block = {"kind": sres["metric_kind"], "role": "guardrail", "arms": sres["arms"],
             "prob_best": sres["prob_best"], "loss_of_choosing": sres["loss_of_choosing"],
             "decision": sres["decision"], "counts": sres["input"]["counts"]}
    block["guardrail"] = _guardrail_check(block, sub.draws, arm=arm, control=control,
                                          margin=margin, lower_is_better=lower_is_better)
    return block


def _block_ship(dec: dict, res: dict, blocked: list[str], *, primary: str, shipped,
                control: str) -> None:
    """A blocking guardrail turns the primary's ship decision into keeping control."""
    details = "; ".join(
        f"{g}: P({shipped} worse than {control} by more than "
        f"{res['metrics'][g]['guardrail']['margin']:g}) = "
        f"{100 * res['metrics'][g]['guardrail']['prob_worse_than_margin']:.1f}%"
        for g in blocked)
    dec.update({
        "recommendation": "pivot", "outcome": "guardrail_blocked", "chosen_arm": control,
        "reason": (f"{primary} alone would ship {shipped}, but a guardrail is credibly "
                   f"worse by more than its margin ({details}): keep {control}. If that "
                   f"trade is acceptable, raise --guardrail-margin. Primary metric: "
                   + str(dec.get("reason", ""))),
        "blocked_by": blocked})


def _attach_units(res: dict, extra: dict, findings: list[dict], *, group_col: str,
                  time_col: str | None, outcome: str, unit_col: str | None) -> None:
    """``input.units``, ``input.looks`` (with the monitor command) and ``findings``."""
    import shlex

    res["input"].update(extra)
    looks = res["input"].get("looks")
    if looks is not None:
        arm = res["decision"].get("arm") or next(iter(res["arms"]))
        cmd = ["bayes-ab", "monitor", str(res["input"]["file"]), "--date-col", str(time_col),
               "--group-col", group_col, "--outcome-col", outcome, "--control",
               str(res["control"]), "--test", str(arm), "--out", "monitor_out"]
        looks["monitor_command"] = " ".join(shlex.quote(c) for c in cmd)
        looks["monitor_note"] = (
            "monitor reads one row per unit with a binary outcome, two arms at a time"
            + (f"; it does not deduplicate '{unit_col}', so give it the deduplicated rows"
               if unit_col else "")
            + ("; a mean outcome cannot be monitored yet" if res.get("metric_kind") == "mean"
               else ""))
        for f in findings:
            if f["code"] == "looks":
                f["message"] += f" Run: {looks['monitor_command']}"
    res["findings"] = findings + list(res.get("findings") or [])


def compare_file(
    path: str | Path,
    *,
    group_col: str,
    outcome_col: str,
    control: str | None = None,
    config: SamplerConfig = SamplerConfig(),
    threshold: float | None = None,
    **options: Any,
) -> dict:
    """The compare.json dict for one export (see the module docstring)."""
    return run_compare(path, group_col=group_col, outcome_col=outcome_col, control=control,
                       config=config, threshold=threshold, **options).results


def write_compare(run: CompareRun, out_dir: str | Path, *, figures: bool = True) -> dict[str, Path]:
    """Write compare.json, report.html, report.md and figures/ into ``out_dir``
    (an already staged folder: the caller handles --force and atomic replacement)."""
    from bayes_ab.io import write_json
    from bayes_ab.report import render_compare_report

    out = Path(out_dir)
    written: dict[str, Path] = {}
    write_json(out / "compare.json", run.results)
    written["compare.json"] = out / "compare.json"
    figs: dict[str, Path] = {}
    if figures and run.draws is not None:
        from bayes_ab.plotting import plot_compare_posteriors, save_figures

        figs = save_figures({f"{run.metric_name}_posterior":
                             plot_compare_posteriors(run.results, run.draws)},
                            out / "figures", tight=False)
    html, md = render_compare_report(run.results, figures=figs, out_dir=out)
    written["report.html"], written["report.md"] = html, md
    return written
