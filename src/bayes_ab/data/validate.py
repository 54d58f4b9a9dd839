"""Cross-table validation of the help-widget experiment (DATA_CONTRACT.md section 3).

Runs after `bayes_ab.data.load` has parsed each file (fatal per-file problems are
raised there). Here:

Fatal (`DataError` naming file, column and first lines)
    * a customer in both arms of ``test_cohorts`` (column ``cohort``);
    * a customer twice in one arm with different extra values (column ``customer_id``);
    * a customer with several different rows in ``conversion`` (column ``converted``).

Non-fatal (dropped or imputed, counted in ``dropped`` under the key given, and
described by a `Finding` with the check name given)
    * exact duplicate rows, in any file (identical after normalising labels and
      timestamps): dropped; ``{stem}_duplicate_rows``, check ``duplicate_rows``;
    * activity, help or conversion rows of customers not in the cohorts: excluded;
      ``{stem}_unknown_customer``, check ``unknown_customer``;
    * a ``complete`` earlier than the customer's first ``start`` of that task: the
      completion is dropped; ``complete_before_start``;
    * a ``complete`` with no ``start`` of that task at all: dropped (it cannot be
      paired with an attempt); ``complete_without_start``;
    * a cohort customer with no conversion row: taken as not converted (nothing
      dropped); check ``missing_conversion`` only.

Findings on the values as parsed (`input_findings`, every row of each file, nothing
dropped; all warnings)
    * ``unknown_cs_type``: a ``cs_type`` other than article, video, chatbot, agent or blank;
    * ``unparseable_optional_timestamp``: a non-blank ``joined_at`` / ``converted_at``
      that is not ISO 8601 in pandas' range;
    * ``dated_before_experiment``: a help flag or a ``converted_at`` more than 1 day
      before the experiment's start (the earliest ``joined_at``, else the earliest
      product activity);
    * ``converted_at_without_conversion``: ``converted`` = 0 with a ``converted_at``;
    * (from the loader) ``duplicate_columns``: a column name repeated with identical values.

Findings computed on the derived tables (`check_experiment`, nothing dropped)
    * ``tasks_out_of_series`` (warning): task k started before task k-1 was completed;
    * ``help_without_start`` (info): a help flag on a task the customer never started;
    * ``sample_ratio_mismatch`` (warning): the Test share is far from the 30/70 design,
      chi-square goodness-of-fit p < 0.001; otherwise an info finding ``sample_ratio``
      with the same test; with fewer than 5 expected customers in an arm, a warning
      ``sample_ratio`` that the split cannot be judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.data.schema import EXPERIMENT_FILES, Finding
from bayes_ab.errors import DataError

__all__ = ["SRM_ALPHA", "CleanTables", "Ledger", "check_experiment", "clean_cohorts",
           "clean_events", "clean_experiment", "input_findings", "sample_ratio_test"]

LINE = "_line"
#: p-value below which the split is reported as a sample-ratio mismatch.
SRM_ALPHA = 0.001
#: Fewest expected customers per arm for the chi-square split check to be judged.
SRM_MIN_EXPECTED = 5
_SHOWN = 5


@dataclass(frozen=True)
class CleanTables:
    """The four parsed tables after the non-fatal problems were dropped."""

    cohorts: pd.DataFrame
    activity: pd.DataFrame
    help: pd.DataFrame
    conversion: pd.DataFrame
    dropped: dict[str, int]
    findings: tuple[Finding, ...]


def _lines_text(df: pd.DataFrame, mask) -> str:
    lines = df.loc[np.asarray(mask, dtype=bool), LINE].to_numpy()[:_SHOWN]
    if len(lines) == 0:
        return ""
    return " (first at line(s) " + ", ".join(str(int(x)) for x in lines) + ")"


def _error(df: pd.DataFrame, mask, message: str, *, file: str, column: str) -> DataError:
    mask = np.asarray(mask, dtype=bool)
    lines = df.loc[mask, LINE].to_numpy()
    return DataError(message, file=file, column=column, lines=lines[:20], n_rows=int(mask.sum()))


class Ledger:
    """Collects what was dropped (``{key: rows}``) and the findings, in order found."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}
        self.findings: list[Finding] = []

    def drop(self, df: pd.DataFrame, mask, *, key: str, check: str, severity: str,
             message: str) -> pd.DataFrame:
        """Drop the masked rows, count them under ``key``, describe them (``{n}`` = count)."""
        mask = np.asarray(mask, dtype=bool)
        count = int(mask.sum())
        if count == 0:
            return df
        self.dropped[key] = self.dropped.get(key, 0) + count
        self.findings.append(Finding(check, severity, count,
                                     message.format(n=count) + _lines_text(df, mask)))
        return df.loc[~mask]


def _dedupe(df: pd.DataFrame, *, stem: str, name: str, ledger: Ledger,
            ignore: tuple[str, ...] = ()) -> pd.DataFrame:
    columns = [c for c in df.columns if c != LINE and c not in ignore]
    dup = df.duplicated(subset=columns, keep="first").to_numpy()
    return ledger.drop(df, dup, key=f"{stem}_duplicate_rows", check="duplicate_rows",
                       severity="warning", message=f"{name}: {{n}} exact duplicate row(s) dropped")


def clean_cohorts(cohorts: pd.DataFrame, *, name: str, ledger: Ledger) -> pd.DataFrame:
    """Drop exact duplicate rows; a customer listed twice otherwise is fatal."""
    cohorts = _dedupe(cohorts, stem=EXPERIMENT_FILES["cohorts"], name=name, ledger=ledger)
    repeated = cohorts["customer_id"].duplicated(keep=False)
    if not repeated.any():
        return cohorts.reset_index(drop=True)
    arms = cohorts.loc[repeated].groupby("customer_id", observed=True)["cohort"].nunique()
    both = cohorts["customer_id"].isin(arms.index[arms > 1]).to_numpy()
    if both.any():
        raise _error(cohorts, both, "the same customer is in both arms (Test and Control)",
                     file=name, column="cohort")
    raise _error(cohorts, repeated.to_numpy(),
                 "duplicate customer: listed more than once with different values",
                 file=name, column="customer_id")


def clean_events(
    *,
    cohorts: pd.DataFrame,
    activity: pd.DataFrame,
    help: pd.DataFrame,  # noqa: A002 - the contract's name for the file
    conversion: pd.DataFrame,
    names: dict[str, str],
    ledger: Ledger,
) -> CleanTables:
    """Clean activity, help and conversion against already-clean cohorts.

    Each table carries ``_cid``, the row's customer position in ``cohorts`` (-1 when
    unknown); it is computed from ``customer_id`` when absent.
    """
    known = pd.Index(cohorts["customer_id"])
    stems = EXPERIMENT_FILES

    def prepare(df: pd.DataFrame, key: str) -> pd.DataFrame:
        if "_cid" not in df.columns:
            df = df.assign(_cid=known.get_indexer(df["customer_id"].astype(str).str.strip()))
        df = ledger.drop(
            df, (df["_cid"] < 0).to_numpy(), key=f"{stems[key]}_unknown_customer",
            check="unknown_customer", severity="warning",
            message=f"{names[key]}: {{n}} row(s) of customers not in {names['cohorts']} "
                    "excluded",
        )
        # Duplicates compare the resolved customer, not the raw (untrimmed) id text.
        return _dedupe(df, stem=stems[key], name=names[key], ledger=ledger,
                       ignore=("customer_id",))

    activity = prepare(activity, "activity")
    help = prepare(help, "help")  # noqa: A001
    conversion = prepare(conversion, "conversion")

    repeated = conversion["_cid"].duplicated(keep=False).to_numpy()
    if repeated.any():
        raise _error(conversion, repeated,
                     "a customer has several conversion rows with different values",
                     file=names["conversion"], column="converted")
    missing = len(cohorts) - len(conversion)
    if missing:
        ledger.findings.append(Finding(
            "missing_conversion", "warning", missing,
            f"{names['conversion']}: {missing} cohort customer(s) have no conversion row; "
            "taken as not converted",
        ))

    activity = _pair_completions(activity, ledger, names["activity"])
    return CleanTables(cohorts=cohorts, activity=activity, help=help, conversion=conversion,
                       dropped=dict(ledger.dropped), findings=tuple(ledger.findings))


def clean_experiment(
    *,
    cohorts: pd.DataFrame,
    activity: pd.DataFrame,
    help: pd.DataFrame,  # noqa: A002
    conversion: pd.DataFrame,
    names: dict[str, str] | None = None,
) -> CleanTables:
    """`clean_cohorts` then `clean_events` on parsed tables (each with a ``_line`` column)."""
    names = names or {k: f"{stem}.csv" for k, stem in EXPERIMENT_FILES.items()}
    ledger = Ledger()
    cohorts = clean_cohorts(cohorts, name=names["cohorts"], ledger=ledger)
    return clean_events(cohorts=cohorts, activity=activity, help=help, conversion=conversion,
                        names=names, ledger=ledger)


def _pair_completions(activity: pd.DataFrame, ledger: Ledger, name: str) -> pd.DataFrame:
    """Drop completions that no earlier-or-equal start of the same task can explain."""
    key = activity["_cid"].to_numpy(dtype=np.int64) * 3 + activity["task"].to_numpy() - 1
    ts = activity["timestamp"].dt.tz_convert(None).dt.as_unit("ns").to_numpy().view(np.int64)
    is_start = (activity["action"] == "start").to_numpy()
    first_start = pd.Series(ts[is_start]).groupby(key[is_start]).min()
    start_of = first_start.reindex(key[~is_start])
    without = np.zeros(len(activity), dtype=bool)
    before = np.zeros(len(activity), dtype=bool)
    without[~is_start] = start_of.isna().to_numpy()
    before[~is_start] = ts[~is_start] < start_of.fillna(np.iinfo(np.int64).min).to_numpy()
    activity = ledger.drop(
        activity, before, key="complete_before_start", check="complete_before_start",
        severity="warning",
        message=f"{name}: {{n}} 'complete' row(s) earlier than the first 'start' of the same "
                "task dropped",
    )
    return ledger.drop(
        activity, without[~before], key="complete_without_start",
        check="complete_without_start", severity="warning",
        message=f"{name}: {{n}} 'complete' row(s) without any 'start' of the same task dropped",
    )


# ------------------------------------------------------------ optional columns, dates

#: The ``cs_type`` values of the contract (blank for OTHER flags).
CS_TYPES = ("article", "video", "chatbot", "agent")
#: Help and conversion rows dated more than this before the experiment's start are
#: reported (``dated_before_experiment``).
EARLY_TOLERANCE = pd.Timedelta(days=1)


def examples_text(values, shown: int = 3) -> str:
    """The first ``shown`` distinct values in sorted order, each a short excerpt."""
    from bayes_ab.data.load import excerpt

    distinct = sorted({str(v) for v in values})
    text = ", ".join(excerpt(v) for v in distinct[:shown])
    return text + (", ..." if len(distinct) > shown else "")


def lines_suffix(lines) -> str:
    lines = [int(x) for x in list(lines)[:_SHOWN]]
    return " (first at line(s) " + ", ".join(map(str, lines)) + ")" if lines else ""


def unknown_cs_type_finding(name: str, n: int, examples: str, lines=()) -> Finding:
    return Finding("unknown_cs_type", "warning", n,
                   f"{name}: {n} row(s) with an unknown cs_type ({examples}); expected "
                   f"{', '.join(CS_TYPES)} or blank; kept as given" + lines_suffix(lines))


def bad_optional_timestamp_finding(name: str, column: str, n: int, examples: str,
                                   lines=()) -> Finding:
    return Finding("unparseable_optional_timestamp", "warning", n,
                   f"{name}: {n} value(s) of the optional column '{column}' are not ISO 8601 "
                   f"timestamps in the supported range ({examples}); they are not used as "
                   "dates" + lines_suffix(lines))


def early_rows_finding(name: str, column: str, n: int, start: pd.Timestamp, reference: str,
                       lines=()) -> Finding:
    return Finding("dated_before_experiment", "warning", n,
                   f"{name}: {n} row(s) with '{column}' more than 1 day before the "
                   f"experiment's start ({start:%Y-%m-%d %H:%M} UTC, {reference}); kept: "
                   "check these dates" + lines_suffix(lines))


def converted_at_finding(name: str, n: int, lines=()) -> Finding:
    return Finding("converted_at_without_conversion", "warning", n,
                   f"{name}: {n} row(s) with converted = 0 but a converted_at value; taken as "
                   "not converted" + lines_suffix(lines))


def experiment_start_reference(joined_min, activity_min, *, cohorts_name: str,
                               activity_name: str) -> tuple[pd.Timestamp | None, str]:
    """The experiment's start: the earliest ``joined_at`` when the cohort file has one,
    else the earliest product activity; with the words saying which."""
    if joined_min is not None and not pd.isna(joined_min):
        return pd.Timestamp(joined_min), f"the earliest joined_at in {cohorts_name}"
    if activity_min is not None and not pd.isna(activity_min):
        return pd.Timestamp(activity_min), f"the earliest timestamp in {activity_name}"
    return None, ""


def input_findings(*, cohorts: pd.DataFrame, activity: pd.DataFrame,
                   help: pd.DataFrame,  # noqa: A002 - the contract's name for the file
                   conversion: pd.DataFrame, names: dict[str, str]) -> list[Finding]:
    """Findings on values the analysis does not need but the contract describes, over
    every row of each file as parsed (before any row is excluded):

    * ``unknown_cs_type``: a ``cs_type`` other than article, video, chatbot, agent or blank;
    * ``unparseable_optional_timestamp``: a non-blank ``joined_at`` (cohorts) or
      ``converted_at`` (conversion) that is not an ISO 8601 timestamp in pandas' range;
    * ``dated_before_experiment``: a help flag or a ``converted_at`` more than one day
      before the experiment's start (the earliest ``joined_at``, else the earliest
      product activity);
    * ``converted_at_without_conversion``: ``converted`` = 0 with a ``converted_at``.
    """
    from bayes_ab.data.load import optional_timestamps

    out: list[Finding] = []
    if len(help) and "cs_type" in help.columns:
        cs = help["cs_type"].astype(str).to_numpy()
        unknown = ~np.isin(cs, np.array(("", *CS_TYPES), dtype=object))
        if unknown.any():
            out.append(unknown_cs_type_finding(
                names["help"], int(unknown.sum()), examples_text(cs[unknown]),
                help[LINE].to_numpy()[unknown]))
    parsed = {}
    for key, col in (("cohorts", "joined_at"), ("conversion", "converted_at")):
        df = cohorts if key == "cohorts" else conversion
        if col not in df.columns:
            continue
        ts, bad = optional_timestamps(df[col])
        parsed[col] = ts
        if bad.any():
            raw = df[col].astype(str).to_numpy()
            out.append(bad_optional_timestamp_finding(
                names[key], col, int(bad.sum()), examples_text(raw[bad]),
                df[LINE].to_numpy()[bad]))
    start, reference = experiment_start_reference(
        parsed["joined_at"].min() if "joined_at" in parsed else None,
        activity["timestamp"].min() if len(activity) else None,
        cohorts_name=names["cohorts"], activity_name=names["activity"])
    if start is not None:
        limit = start - EARLY_TOLERANCE
        for key, df, ts, col in (
                ("help", help, help["timestamp"] if len(help) else None, "timestamp"),
                ("conversion", conversion, parsed.get("converted_at"), "converted_at")):
            if ts is None:
                continue
            early = (ts < limit).fillna(False).to_numpy(dtype=bool)
            if early.any():
                out.append(early_rows_finding(names[key], col, int(early.sum()), start,
                                              reference, df[LINE].to_numpy()[early]))
    if "converted_at" in conversion.columns:
        value = conversion["converted_at"]
        given = (value.notna() if pd.api.types.is_datetime64_any_dtype(value)
                 else value.astype(str).str.strip() != "").to_numpy(dtype=bool)
        given &= ~conversion["converted"].to_numpy(dtype=bool)
        if given.any():
            out.append(converted_at_finding(names["conversion"], int(given.sum()),
                                            conversion[LINE].to_numpy()[given]))
    return out


def sample_ratio_test(n_test: int, n_control: int, *,
                      test_share: float = DESIGN_TEST_SHARE) -> float:
    """Chi-square goodness-of-fit p-value of the observed split against the design."""
    from scipy.stats import chisquare

    total = n_test + n_control
    if total == 0 or n_test == 0 and n_control == 0:
        return float("nan")
    expected = np.array([test_share, 1 - test_share]) * total
    return float(chisquare([n_test, n_control], f_exp=expected).pvalue)


def _episode_rows(frame: pd.DataFrame, episodes: pd.DataFrame) -> np.ndarray:
    """Frame row of each help episode; cheap when built together (same customer order)."""
    counts = frame["n_help_flags"].to_numpy()
    if counts.sum() == len(episodes):
        row = np.repeat(np.arange(len(frame)), counts)
        ids = frame["customer_id"].to_numpy()
        if (ids[row] == episodes["customer_id"].to_numpy()).all():
            return row
    return pd.Index(frame["customer_id"]).get_indexer(episodes["customer_id"])


def check_experiment(*, frame: pd.DataFrame, help_episodes: pd.DataFrame,
                     activity_name: str = "product_activity.csv",
                     help_name: str = "help_activity.csv",
                     design_test_share: float = DESIGN_TEST_SHARE) -> list[Finding]:
    """Findings on the derived tables: series order, help without a start, sample ratio."""
    findings: list[Finding] = []
    out_of_series = 0
    for k in (2, 3):
        started = frame[f"task{k}_started_at"]
        prev_done = frame[f"task{k - 1}_completed_at"]
        out_of_series += int((started.notna() & ~(prev_done <= started)).sum())
    if out_of_series:
        findings.append(Finding(
            "tasks_out_of_series", "warning", out_of_series,
            f"{activity_name}: {out_of_series} task start(s) before the previous task was "
            "completed (the tasks are meant to be done in series)",
        ))

    if len(help_episodes):
        started = np.stack([frame[f"task{k}_started_at"].notna().to_numpy() for k in (1, 2, 3)],
                           axis=1)
        row = _episode_rows(frame, help_episodes)
        never = ~started[row, help_episodes["task"].to_numpy() - 1]
        if never.any():
            findings.append(Finding(
                "help_without_start", "info", int(never.sum()),
                f"{help_name}: {int(never.sum())} help flag(s) on a task the customer never "
                "started",
            ))

    n_test = int((frame["cohort"] == "Test").sum())
    n_control = int((frame["cohort"] == "Control").sum())
    findings.append(sample_ratio_finding(n_test, n_control, design_test_share=design_test_share))
    return findings


def srm_min_customers(test_share: float = DESIGN_TEST_SHARE) -> int:
    """Fewest customers for which the chi-square split check can be judged: the textbook
    condition of its approximation, at least SRM_MIN_EXPECTED expected in each arm."""
    import math

    return math.ceil(SRM_MIN_EXPECTED / min(test_share, 1 - test_share) - 1e-9)


def srm_judgeable(n_test: int, n_control: int, *, test_share: float = DESIGN_TEST_SHARE) -> bool:
    """Whether there are enough customers to judge the split (`srm_min_customers`)."""
    return n_test + n_control >= srm_min_customers(test_share)


def sample_ratio_finding(n_test: int, n_control: int, *, design_test_share: float) -> Finding:
    """The split check as a data-quality finding: a warning below SRM_ALPHA, else info;
    a warning that it cannot be judged with fewer than `srm_min_customers` customers."""
    n = n_test + n_control
    if not srm_judgeable(n_test, n_control, test_share=design_test_share):
        return Finding(
            "sample_ratio", "warning", n,
            f"too few customers to judge the split: Test {n_test} / Control {n_control}; "
            f"the chi-square check needs at least {SRM_MIN_EXPECTED} expected customers in "
            f"each arm, i.e. at least {srm_min_customers(design_test_share)} customers at a "
            f"design Test share of {design_test_share:.2f}")
    p = sample_ratio_test(n_test, n_control, test_share=design_test_share)
    share = n_test / max(n, 1)
    text = (f"Test {n_test} / Control {n_control} (Test share {share:.3f}, design "
            f"{design_test_share:.2f}); chi-square p = {p:.3g}")
    if p < SRM_ALPHA:
        return Finding("sample_ratio_mismatch", "warning", n_test + n_control,
                       f"sample-ratio mismatch: {text}")
    return Finding("sample_ratio", "info", n_test + n_control,
                   f"split consistent with the design: {text}")
