"""The sufficient statistics of every model, as Ibis expressions over the four files.

Written once, run anywhere Ibis runs (DuckDB embedded by default, PySpark, warehouses).
Raw rows never reach Python: every query returns at most a few thousand rows (cells of
the models), plus one table of distinct follow-up times per channel x task for the
Kaplan-Meier curve and the log-rank / Cox cross-checks (bounded by the number of distinct
timestamps, not the number of customers).

The derived quantities follow `bayes_ab.data.frame` exactly:

* first ``start`` of each (customer, task); a ``complete`` counts only at or after it
  (earlier ones: ``complete_before_start``, with no start: ``complete_without_start``);
* a flag is completed when a valid completion of its task is at or after the flag, with
  minutes to the first such completion, else censored at ``observation_end`` (the latest
  cleaned product or help timestamp of a cohort customer);
* ``n_completed`` counts tasks with a valid completion; ``start_hour`` is the UTC hour of
  the first start; ``any_cs`` = at least one CS flag; the first flag is the earliest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bayes_ab.constants import ARMS, CHANNELS, DESIGN_TEST_SHARE, TASKS
from bayes_ab.data.load import TS_MAX, TS_MIN, TS_RANGE_TEXT
from bayes_ab.data.schema import EXPERIMENT_FILES, Finding
from bayes_ab.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir
    import pandas as pd

_log = logging.getLogger(__name__)

__all__ = ["AggregatedExperiment", "aggregate_experiment", "load_sufficient_stats",
           "stats_by_step"]

#: Keys of `AggregatedExperiment.stats` (one per statistics dataclass / metric). The
#: pipeline's step keys are mapped onto them by `AggregatedExperiment.stats_for`.
STAT_KEYS = ("conversion", "cs_engagement", "help_completion", "time_to_completion",
             "iv", "completions_conversion", "time_experience")
_KEY_OF_TYPE = {"HelpCompletionStats": "help_completion", "TimeToCompletionStats": "time_to_completion",
                "CausalCsEffectStats": "iv", "CompletionsConversionStats": "completions_conversion",
                "TimeAndExperienceStats": "time_experience"}
_KEY_OF_METRIC = {"converted": "conversion", "any_cs": "cs_engagement"}


@dataclass(frozen=True)
class AggregatedExperiment:
    """What `bayes-ab analyze` needs, computed by the engine (no per-customer rows).

    ``stats`` maps the pipeline's step keys to the models' statistics dataclasses (a
    key is missing when its statistics cannot be built, the reason in ``stat_errors``).
    ``customers`` has one row per (cohort, n_completed, converted, any_cs, flagged)
    with the count ``n``; ``survival_times`` one row per (channel, task, minutes, event)
    with the count ``n`` (rebuilds the per-flag durations for log-rank / Cox).
    """

    stats: dict[str, Any]
    stat_errors: dict[str, str]
    customers: pd.DataFrame
    survival_times: pd.DataFrame
    n_help_flags: int
    n_task_attempts: int
    observation_end: Any
    findings: tuple[Finding, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)
    source: str = ""
    backend: str = "duckdb"
    rows_read: dict[str, int] = field(default_factory=dict)
    #: ``{(numerator, denominator): {arm: frequentist.RatioStatistic}}`` of the ratio
    #: metrics' per-customer columns (`RATIO_PAIRS`).
    ratio_stats: dict = field(default_factory=dict)
    #: ``{segment column: DataFrame(label, cohort, successes, trials)}`` of conversion.
    segments: dict = field(default_factory=dict)
    segment_notes: dict = field(default_factory=dict)
    #: Seconds per stage of the aggregation (profiling; docs/SCALE.md).
    timings: dict = field(default_factory=dict)
    #: CPU seconds per stage (all threads of the process; profiling on a shared machine).
    cpu_timings: dict = field(default_factory=dict)
    #: `bayes_ab.data.schema.ExperimentSource`: counts only, no per-customer rows.
    rows_in_memory: ClassVar[bool] = False

    def stats_for(self, stats_type: type, **kwargs) -> Any:
        """The statistics ``stats_type.from_experiment(data, **kwargs)`` would return.

        Raises `DataError` (as ``from_experiment`` does) when they cannot be built.
        """
        name = stats_type.__name__
        if name == "ArmComparisonStats":
            metric = kwargs.get("metric", "converted")
            key = _KEY_OF_METRIC.get(metric)
            if key is None:
                raise DataError(f"the aggregation engine has no counts of metric '{metric}'")
        elif name in _KEY_OF_TYPE:
            key = _KEY_OF_TYPE[name]
        else:
            raise DataError(f"the aggregation engine does not build {name}")
        if key not in self.stats:
            raise DataError(self.stat_errors.get(key, f"no statistics for {key}"))
        return self.stats[key]

    @property
    def n_customers(self) -> int:
        return int(self.customers["n"].sum())

    def n_in(self, cohort: str) -> int:
        return int(self.customers.loc[self.customers["cohort"] == cohort, "n"].sum())

    def arm_counts(self, column: str, *, among_flagged: bool = False) -> dict[str, tuple[int, int]]:
        """{arm: (successes, trials)} of a boolean customer column (``converted``,
        ``any_cs``), over all customers or those flagged at least once."""
        df = self.customers
        if among_flagged:
            df = df[df["flagged"]]
        out = {}
        for arm in ARMS:
            sel = df[df["cohort"] == arm]
            out[arm] = (int(sel.loc[sel[column], "n"].sum()), int(sel["n"].sum()))
        return out

    def converted_by_completions(self) -> pd.DataFrame:
        """Converted (``sum``) and customers (``count``) by n_completed 0..3."""
        df = self.customers
        g = df.assign(s=df["n"] * df["converted"]).groupby("n_completed")[["s", "n"]].sum()
        return (g.rename(columns={"s": "sum", "n": "count"})
                .reindex(range(4), fill_value=0).astype("int64"))

    def survival_frame(self):
        """One row per help flag (``channel, task, duration, event``), rebuilt from the
        grouped follow-up times: the input of `frequentist.logrank_by_group`/`cox_by_group`."""
        import pandas as pd

        st = self.survival_times
        rep = st["n"].to_numpy(dtype=np.int64)
        return pd.DataFrame({
            "channel": np.repeat(st["channel"].to_numpy(dtype=object), rep),
            "task": np.repeat(st["task"].to_numpy(dtype=np.int64), rep),
            "duration": np.repeat(np.clip(st["minutes"].to_numpy(float), 1e-6, None), rep),
            "event": np.repeat(st["event"].to_numpy(dtype=np.int64), rep),
        })


# ----------------------------------------------------------------------------- helpers


def _scalar(expr) -> Any:
    """A scalar result; None for SQL NULL (some backends give NaN for an empty sum)."""
    value = expr.execute()
    return None if value is None or _isnan(value) else value


def _fatal_counts(g: ir.Table, key: str) -> dict[str, Any]:
    """Row count and every fatal check of one file, from its grouped table ``g`` (one row
    per distinct typed row, ``mult`` = how many rows of the file it stands for; event
    files carry the customer's code as ``cid``, ``empty`` and epoch seconds ``sec``
    instead of the timestamp, see `_grouped_events`). Cohorts also give the number of
    distinct rows ``n`` and of distinct ids ``ids``; event files the rows of known
    customers ``known`` and their groups ``kept``."""
    m = g.mult

    def rows(cond):
        return m.sum(where=cond)

    if key == "cohorts":
        checks = {"empty_id": rows(g.cid == ""), "arm": rows(g.arm.isnull()),
                  "n": g.count(), "ids": g.cid.nunique()}
    else:
        # Event files: ``cid`` is the customer's code (NULL: unknown customer), ``empty``
        # whether the text id was empty; rows of known customers and their groups.
        checks = {"empty_id": rows(g.empty), "known": rows(g.cid.notnull()),
                  "kept": g.cid.count()}
    if key == "activity":
        checks.update(task=rows(g.task.isnull()), action=rows(g.action.isnull()),
                      ts=rows(g.sec.isnull()), ts_range=rows(_outside_sec(g.sec)),
                      ts_min=g.sec.min())
    elif key == "help":
        from bayes_ab.data.validate import CS_TYPES

        checks.update(task=rows(g.task.isnull()), channel=rows(g.channel.isnull()),
                      ts=rows(g.sec.isnull()), ts_range=rows(_outside_sec(g.sec)),
                      cs_unknown=rows(~g.cs_type.fill_null("").isin(["", *CS_TYPES])))
    elif key == "conversion":
        checks["converted"] = rows(g.converted.isnull())
    checks["rows"] = m.sum()
    row = g.aggregate(**checks).execute().iloc[0]
    # ts_min: the earliest activity (epoch seconds, for `_input_findings`), kept as is.
    return {k: (v if k == "ts_min" else _int(v)) for k, v in row.items()}


def _outside_sec(sec):
    """Epoch seconds outside what pandas holds (nanoseconds in 64 bits): NULL stays NULL."""
    return (sec < _TS_MIN_SEC) | (sec > _TS_MAX_SEC)


_FATAL_TEXT = {
    "empty_id": ("customer_id", "empty customer_id"),
    "arm": ("cohort", "unknown cohort label(s); expected Test or Control"),
    "task": ("task", "task outside 1..3; expected 1, 2 or 3"),
    "action": ("action", "unknown action label(s); expected start or complete"),
    "channel": ("channel", "unknown channel label(s); expected CS or OTHER"),
    "ts": ("timestamp", "unparseable timestamp(s); expected ISO 8601 such as "
                        "2024-05-05T14:03:00 or 2024-05-05T14:03:00+02:00"),
    "ts_range": ("timestamp", f"timestamp(s) {TS_RANGE_TEXT}: a placeholder date such as "
                              "9999-12-31 is not an event time"),
    "converted": ("converted", "unknown converted label(s); expected 0/1, true/false, t/f "
                               "or yes/no"),
}
_TS_MIN_SEC = TS_MIN.value / 1e9
_TS_MAX_SEC = TS_MAX.value / 1e9


def _input_findings(typed: dict, grouped: dict, names: dict, backend: str,
                    fatal: dict) -> list[Finding]:
    """`bayes_ab.data.validate.input_findings` on the engine: the same checks, counts and
    examples over every row of each file, without line numbers. The counts come from the
    grouped tables (``grouped``: one row per distinct typed row with its multiplicity
    ``mult``, see `_read_grouped`), the examples (only when a check fails) from the typed
    tables. ``fatal``: the counts of `_fatal_counts` per file (unknown cs_type, earliest
    activity)."""
    import pandas as pd

    from bayes_ab.aggregate import read
    from bayes_ab.data.validate import (
        CS_TYPES,
        EARLY_TOLERANCE,
        bad_optional_timestamp_finding,
        converted_at_finding,
        early_rows_finding,
        examples_text,
        experiment_start_reference,
        unknown_cs_type_finding,
    )

    def examples(t, bad, value) -> str:
        rows = t.filter(bad).select(v=value).distinct().order_by("v").limit(4).execute()
        return examples_text(rows["v"].astype(str))

    def stamp(sec):
        return None if sec is None or _isnan(sec) else pd.Timestamp(float(sec), unit="s",
                                                                    tz="UTC")

    def given(col):
        # A value is given when its text is not empty; a typed timestamp when not NULL
        # (no per-row text formatting of a time-zone-aware column).
        return col.notnull() if col.type().is_timestamp() else read.text(col) != ""

    def rows(g, cond):
        return _int(_scalar(g.mult.sum(where=cond)))

    out: list[Finding] = []
    helpt = typed["help"]
    k = fatal["help"].get("cs_unknown", 0)
    if k:
        unknown = ~helpt.cs_type.fill_null("").isin(["", *CS_TYPES])
        out.append(unknown_cs_type_finding(names["help"], k,
                                           examples(helpt, unknown, helpt.cs_type)))
    parsed = {}
    mins = {}
    for key, col in (("cohorts", "joined_at"), ("conversion", "converted_at")):
        g = grouped[key]
        if f"x_{col}" not in g.columns:
            continue
        ts = read.timestamp(g[f"x_{col}"])
        sec = read.epoch_seconds(ts, backend)
        ok = ts.notnull() & ~_outside_sec(sec)
        bad = given(g[f"x_{col}"]) & ~ok
        row = g.aggregate(bad=g.mult.sum(where=bad),
                          first=sec.min(where=ok)).execute().iloc[0]
        parsed[col] = (g, sec, ok)
        mins[col] = row["first"]
        if _int(row["bad"]):
            t = typed[key]
            value = read.text(t[f"x_{col}"])
            ts_t = read.timestamp(t[f"x_{col}"])
            bad_t = (value != "") & ~(ts_t.notnull()
                                      & ~_outside_sec(read.epoch_seconds(ts_t, backend)))
            out.append(bad_optional_timestamp_finding(names[key], col, _int(row["bad"]),
                                                      examples(t, bad_t, value)))
    act_min = fatal["activity"].get("ts_min")
    start, reference = experiment_start_reference(
        stamp(mins.get("joined_at")), stamp(act_min), cohorts_name=names["cohorts"],
        activity_name=names["activity"])
    if start is not None:
        limit = (start - EARLY_TOLERANCE).value / 1e9
        gh = grouped["help"]
        checks = [("help", "timestamp", gh, gh.sec, gh.sec.notnull())]
        if "converted_at" in parsed:
            g, sec, ok = parsed["converted_at"]
            checks.append(("conversion", "converted_at", g, sec, ok))
        for key, col, g, sec, ok in checks:
            k = rows(g, ok & (sec < limit))
            if k:
                out.append(early_rows_finding(names[key], col, k, start, reference))
    if "converted_at" in parsed:
        conv = grouped["conversion"]
        k = rows(conv, given(conv.x_converted_at) & ~conv.converted.fill_null(True))
        if k:
            out.append(converted_at_finding(names["conversion"], k))
    return out


def _raise_fatal(counts: dict[str, int], name: str) -> None:
    for check, (column, message) in _FATAL_TEXT.items():
        k = counts.get(check, 0)
        if k:
            raise DataError(f"{message} ({k} row(s); run `bayes-ab validate` for their "
                            "line numbers)", file=name, column=column, n_rows=k)


# ----------------------------------------------------------------------------- engine


def aggregate_experiment(
    path: str | Path | None = None,
    *,
    backend: str = "duckdb",
    con: Any = None,
    tables: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
    design_test_share: float = DESIGN_TEST_SHARE,
    edges=None,
    memory_limit: str | None = "3GB",
) -> AggregatedExperiment:
    """Validate and reduce the experiment to sufficient statistics with an Ibis backend.

    ``path``: the experiment folder (``test_cohorts``, ``product_activity``,
    ``help_activity``, ``conversion`` as CSV, CSV.gz or Parquet). ``con``: an Ibis
    connection (default: `connect(backend)`). ``tables``: instead of a folder, Ibis
    tables already in the backend (e.g. warehouse tables), keyed ``cohorts``,
    ``activity``, ``help``, ``conversion``; ``names``: their names in messages (default:
    the file stems; `bayes_ab.aggregate.source` gives the table names). ``edges``:
    survival interval edges (default: the model's `bin_edges` of the longest follow-up).
    """
    from bayes_ab.aggregate import read

    owned = con is None
    if owned:
        con = read.connect(backend, memory_limit=memory_limit)
    backend = con.name
    created: list[str] = []
    state: dict[str, Any] = {}  # the run, once made (`cache` reads its ``persist``)

    def cache(t):
        # Materialise an intermediate table once (it is read by several queries).
        # DuckDB and PostgreSQL: a temporary table (dropped here, never in the user's
        # schemas; DuckDB keeps it in its buffer pool and spills it to the temporary
        # directory beyond the memory limit, without the write-ahead log and checkpoint
        # a table of the database costs: 40% less CPU to materialise, measured at 1M
        # customers); Spark: a cached frame. DuckDB, once the run is too large for its
        # memory (``_Run.persist``, set by `_grouped_events`): a table of the engine's
        # own temporary database file instead, stored compressed. Spilled temporary
        # tables are written uncompressed: at 100M customers they filled 56 GB of disk
        # before the per-customer stage; as compressed tables the whole run's
        # temporary folder peaked at 34.4 GB (`benchmarks/run.py`, sampled every 2 s).
        if backend in ("duckdb", "postgres"):
            import ibis.util

            name = ibis.util.gen_name("bayes_ab_agg")
            created.append(name)
            persist = backend == "duckdb" and getattr(state.get("run"), "persist", False)
            return con.create_table(name, t, temp=not persist)
        return t.cache()

    def stage(t):
        # DuckDB: materialise a join before grouping it. A hash join feeding a hash
        # aggregate in one pipeline cannot spill both (out of memory at 10M customers
        # under a 300 MB limit, 100M under 3 GB); as two statements each one spills.
        return cache(t) if backend == "duckdb" else t

    def release(t):
        # Drop a materialised intermediate as soon as it is no longer read.
        if backend != "duckdb":
            return
        name = t.get_name().rsplit(".", 1)[-1]  # Ibis may qualify it (catalog.schema.name)
        if name in created:
            _drop_table(con, name)
            created.remove(name)

    import contextlib
    import time

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def timer(stage: str):
        _log.debug("aggregation stage: %s", stage)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0
            cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - c0
            _log.debug("aggregation stage done in %.2f s: %s", timings[stage], stage)

    try:
        try:
            run = _Run(con=con, backend=backend, cache=cache, stage=stage, release=release,
                       timer=timer)
            state["run"] = run
            agg = _aggregate(run, path, tables, names=names,
                             design_test_share=design_test_share, edges=edges)
        except Exception as exc:  # the engine's own out-of-memory type differs per backend
            if not isinstance(exc, DataError) and path is not None and tables is None:
                # A CSV problem found while scanning (a ragged row deep in the file, a
                # truncated gzip stream): the loader's message, naming file and line.
                from bayes_ab.aggregate import read

                files = {str(p): p.name for p in read.experiment_paths(path).values()}
                err = read.engine_error(exc, files, backend)
                if err is not None:
                    raise err from None
            if "out of memory" not in str(exc).lower():
                raise
            from bayes_ab.errors import ResourceError

            what = path if path is not None else "the tables"
            raise ResourceError(
                f"the {backend} engine ran out of memory (memory_limit {memory_limit}) while "
                f"aggregating {what}: give it more memory (`bayes-ab analyze --engine-memory "
                "6GB`), or run the aggregation where the data lives (Spark / a warehouse, "
                "see docs/SCALE.md)") from exc
        timings["total"] = sum(timings.values())
        cpu["total"] = sum(cpu.values())
        return replace(agg, timings=timings, cpu_timings=cpu)
    finally:
        for name in created:
            try:
                _drop_table(con, name)
            except Exception:  # pragma: no cover - best effort clean-up
                pass
        if owned:
            read.close(con)


@dataclass
class _Run:
    """What every stage of one aggregation shares: the connection, how intermediates are
    materialised, the stage timer, and what the stages report (file names, findings,
    dropped rows, rows read)."""

    con: Any
    backend: str
    #: Materialise a table read by several queries (returns the stored table).
    cache: Callable
    #: Materialise a join before it is grouped (DuckDB; elsewhere the table itself).
    stage: Callable
    #: Drop a materialised table that is no longer read.
    release: Callable
    #: ``with timer(name):`` adds the seconds of a stage to the profile.
    timer: Callable
    names: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    #: DuckDB: the data are too large for the memory limit (the events are read in two
    #: statements: the ids' hash table would not fit it four times, or the one statement
    #: ran out of memory): intermediates become compressed tables of the on-disk
    #: database instead of temporary tables (see ``cache`` in `aggregate_experiment`).
    persist: bool = False


@dataclass(frozen=True)
class _Cohorts:
    table: Any  # one row per distinct cohort row: cid, arm, x_*, mult, code
    n_customers: int
    ids: Any  # kid (text id), kcode (integer code)


@dataclass(frozen=True)
class _Tasks:
    #: cid, task, start (the first start of each started task), done (its first valid
    #: completion: at or after the start; NULL when none), last (its latest valid
    #: completion)
    tasks: Any
    #: cid, task, sec of every completion row (valid or not)
    comps: Any
    last_valid: Any  # the latest valid completion (epoch seconds) or None


def _aggregate(run: _Run, path, tables, *, names=None, design_test_share: float,
               edges) -> AggregatedExperiment:
    """The stages of `aggregate_experiment`, in order (docs/SCALE.md, "How the engine is
    organised")."""
    typed, notes = _open_inputs(run, path, tables, names)
    with run.timer("read: one scan per file, joined to the cohort codes and grouped (row "
                   "counts, duplicates, unknown customers, fatal checks)"):
        grouped, fatal = _read_grouped(run, typed)
    with run.timer("validate (optional columns, dates)"):
        run.findings += notes + _input_findings(typed, grouped, run.names, run.backend, fatal)
    with run.timer("cohorts: duplicate rows, repeated ids, integer codes"):
        cohorts = _cohort_codes(run, grouped["cohorts"], fatal["cohorts"])
    clean = _known_events(run, grouped, fatal)
    _check_conversion(run, clean["conversion"], cohorts.n_customers)
    with run.timer("tasks: first starts, valid completions, per-task table"):
        tk = _task_table(run, clean["activity"][0])
    helpt, n_flags = clean["help"]
    with run.timer("observation end"):
        end_sec = _observation_end(tk, helpt, n_flags)
    with run.timer("per-customer table and its counts"):
        customers, ratio_stats, segments, segment_notes = _customer_table(
            run, cohorts, tk.tasks, helpt, clean["conversion"][0])
    with run.timer("help episodes (flag -> first completion after it)"):
        ep, n_without_start = _help_episodes(run, helpt, tk, end_sec)
    stats: dict[str, Any] = {}
    errors: dict[str, str] = {}
    _arm_stats(customers, stats, errors)
    with run.timer("episode statistics (cells, first flags, survival bins)"):
        survival_times = _episode_stats(ep, n_flags=int(n_flags), edges=edges, stats=stats,
                                        errors=errors)
    with run.timer("attempts by hour"):
        tasks = tk.tasks
        hour = (((tasks.start / 3600.0).floor().cast("int64")) % 24)
        attempts = tasks.mutate(hour=hour)
        by_hour = (attempts.group_by(["hour", "task"])
                   .aggregate(trials=attempts.count(), successes=attempts.done.notnull().sum())
                   .execute())
        n_attempts = int(by_hour["trials"].sum()) if len(by_hour) else 0
        _attempt_stats(by_hour, stats, errors)
    if n_flags == 0:
        run.findings.append(Finding("no_help_flags", "warning", 0,
                                    f"{run.names['help']} has no rows: nobody was flagged "
                                    "as stuck"))
    with run.timer("derived findings (out of series, help without start, SRM)"):
        run.findings += _derived_findings(tasks, n_without_start, customers, names=run.names,
                                          design_test_share=design_test_share)
    import pandas as pd

    observation_end = (pd.Timestamp(end_sec, unit="s", tz="UTC") if end_sec is not None
                       else pd.NaT)
    return AggregatedExperiment(
        stats=stats, stat_errors=errors, customers=customers, survival_times=survival_times,
        n_help_flags=int(n_flags), n_task_attempts=n_attempts,
        observation_end=observation_end, findings=tuple(run.findings), dropped=run.dropped,
        source=str(path) if path else "", backend=run.backend, rows_read=run.rows_read,
        ratio_stats=ratio_stats, segments=segments, segment_notes=segment_notes,
    )


def _open_inputs(run: _Run, path, tables, names) -> tuple[dict, list[Finding]]:
    """The four typed tables (``read.typed_tables`` of the folder, or of the tables given),
    and the notes about the files themselves (repeated columns). Sets ``run.names``."""
    from bayes_ab.aggregate import read

    notes: list[Finding] = []
    if tables is None:
        if path is None:
            raise DataError("give an experiment folder or Ibis tables")
        opened = read.typed_tables(run.con, read.experiment_paths(path), findings=notes)
    else:
        opened = {}
        for key, t in tables.items():
            name = (names or EXPERIMENT_FILES).get(key, EXPERIMENT_FILES[key])
            raw = read.normalise_columns(t, name, notes)
            opened[key] = (name, raw, _typed_from_raw(raw, key, name))
    run.names.update({k: v[0] for k, v in opened.items()})
    return {k: v[2] for k, v in opened.items()}, notes


def _read_grouped(run: _Run, typed: dict) -> tuple[dict, dict]:
    """ONE scan of each file, materialised: the cohort rows grouped by every column with
    the row count ``mult`` and an integer ``code`` per distinct row; each event file's
    typed rows (epoch seconds ``sec`` instead of the timestamp) joined to those codes
    and grouped by every column, the code in place of the text id (`_grouped_events`).
    Every count that follows (rows, fatal checks, duplicates, unknown customers) is a
    sum of ``mult`` over these tables, never another scan of the file. Raises the first
    fatal problem, file by file (cohorts first)."""
    import ibis

    from bayes_ab.aggregate import read

    grouped, fatal = {}, {}
    ids = None
    for key in ("cohorts", *(k for k in typed if k != "cohorts")):
        t, name = typed[key], run.names[key]
        if key in ("activity", "help"):
            t = t.mutate(sec=read.epoch_seconds(t.ts, run.backend)).drop("ts")
        if key == "cohorts":
            g = t.group_by(list(t.columns)).aggregate(mult=t.count())
            # The code carries the arm in its lowest bit (`_arm_of_code`): the episodes
            # need no join to the cohorts for it.
            g = run.cache(g.mutate(code=ibis.row_number().cast("int64") * 2
                                   + _as_int(g.arm == _TEST_ARM)))
        else:
            g = _grouped_events(run, t, ids)
        _log.debug("read %s: grouped; fatal checks", name)
        counts = _fatal_counts(g, key)
        run.rows_read[name] = counts["rows"]
        if counts["rows"] == 0 and key != "help":
            raise DataError("the file is empty: it has no data rows", file=name, n_rows=0)
        _raise_fatal(counts, name)
        grouped[key], fatal[key] = g, counts
        _log.debug("read %s: checked", name)
        if key == "cohorts":
            # One code per id for the joins. A repeated id (an error `_cohort_codes`
            # raises once every file's fatal checks have run) keeps its lowest code, so
            # the counts of the event files stay those of their own rows.
            ids = g.select(kid=g.cid, kcode=g.code)
            if counts["ids"] < counts["n"]:
                ids = run.cache(g.group_by("cid").aggregate(kcode=g.code.min())
                                .rename(kid="cid"))
    return grouped, fatal


#: Bytes per cohort id that the join of an event file to the codes is budgeted at
#: (hash table, text, code) when deciding whether it can feed the grouping directly.
_JOIN_BYTES_PER_ID = 48


def _grouped_events(run: _Run, t, ids):
    """An event file's typed rows (``cid`` text) grouped by every column with the code of
    their customer as ``cid`` (NULL: not in the cohorts), ``empty`` (the text id was
    empty: only unknown customers can have one) and the row count ``mult``, materialised.

    On DuckDB, when the join's hash table of the ids fits four times in the memory limit,
    the join feeds the grouping in one statement (the rows are hashed once, on integer
    codes); otherwise, and again after an out-of-memory error, in two statements that
    can each spill: the rows joined to the codes and materialised, then grouped by
    every column, all of them fixed-width. The groups are the same either way: the id
    -> code map is one to one.

    The other order (grouped by the text id, then joined) ran out of memory at 100M
    customers under the default 3 GB limit on DuckDB 2.0.1: a hash aggregate of the
    350M activity rows, nearly every row its own group, did not spill far enough
    (also with one thread, and also keyed by a 64-bit hash of the id in place of the
    text, straight from the Parquet file). Joined and materialised first, as the
    engine did when it last passed at 100M, each statement spills. At 1M customers
    (Parquet row groups of 100k) under a 70 MB limit the one statement runs out of
    memory; the two pass (`tests/test_aggregate_memory.py`)."""
    cols = [c for c in t.columns if c != "cid"]
    if run.backend != "duckdb" or _join_fits(run, ids):
        _log.debug("events joined to the codes and grouped in one statement")
        j = t.join(ids, t.cid == ids.kid, how="left")
        j = j.select(cid=j.kcode, empty=j.cid == "", **{c: j[c] for c in cols})
        g = j.group_by(list(j.columns)).aggregate(mult=j.count())
        try:
            return run.cache(g)
        except Exception as exc:
            if run.backend != "duckdb" or "out of memory" not in str(exc).lower():
                raise
            _log.debug("fused join and grouping ran out of memory; two statements instead")
    _log.debug("events joined to the codes, materialised, then grouped")
    run.persist = True  # too large for the memory: from here on, compressed tables
    j = t.join(ids, t.cid == ids.kid, how="left")
    j = run.cache(j.select(cid=j.kcode, empty=j.cid == "", **{c: j[c] for c in cols}))
    _log.debug("events joined; grouping")
    g = run.cache(j.group_by(list(j.columns)).aggregate(mult=j.count()))
    run.release(j)
    return g


def _join_fits(run: _Run, ids) -> bool:
    """Whether DuckDB's memory limit holds the join's hash table of ``ids`` four times."""
    limit = _duckdb_bytes(run.con.raw_sql(
        "SELECT current_setting('memory_limit')").fetchall()[0][0])
    n = int(ids.count().execute())
    return limit is not None and n * _JOIN_BYTES_PER_ID * 4 <= limit


def _duckdb_bytes(text_: str) -> float | None:
    """DuckDB's size text ('2.7 GiB', '66.7 MiB', '512.0 KiB', '1000 bytes') in bytes."""
    import re

    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGTP]?i?B|bytes)\s*", str(text_))
    if not m:
        return None
    unit = m.group(2)
    scale = {"bytes": 1, "B": 1}.get(unit)
    if scale is None:
        base = 1024 if "i" in unit else 1000
        scale = base ** ("KMGTP".index(unit[0]) + 1)
    return float(m.group(1)) * scale


def _cohort_codes(run: _Run, cohorts, counts: dict) -> _Cohorts:
    """Exact duplicate cohort rows counted (rows - distinct rows); a customer in both arms
    or listed twice with different values is a `DataError`; each id has one integer code,
    so every later join is on 8-byte integers instead of text."""
    n_cust, n_ids = counts["n"], counts["ids"]
    _dup_finding(counts["rows"] - n_cust, stem=EXPERIMENT_FILES["cohorts"],
                 name=run.names["cohorts"], dropped=run.dropped, findings=run.findings)
    if n_ids < n_cust:
        rep = (cohorts.group_by("cid").aggregate(n=cohorts.count(), arms=cohorts.arm.nunique())
               .filter(lambda r: r.n > 1))
        rep_row = rep.aggregate(k=rep.count(), both=(rep.arms > 1).sum()).execute().iloc[0]
        if int(rep_row["both"] or 0):
            raise DataError("the same customer is in both arms (Test and Control)",
                            file=run.names["cohorts"], column="cohort",
                            n_rows=int(rep_row["both"]))
        raise DataError("duplicate customer: listed more than once with different values",
                        file=run.names["cohorts"], column="customer_id",
                        n_rows=int(rep_row["k"]))
    return _Cohorts(table=cohorts, n_customers=n_cust,
                    ids=cohorts.select(kid=cohorts.cid, kcode=cohorts.code))


def _known_events(run: _Run, grouped: dict, fatal: dict) -> dict[str, tuple[Any, int]]:
    """Per event file, its grouped rows of known customers (`_grouped_events`: ``cid`` the
    integer code): the sum of ``mult`` is the number of known rows (unknown customers =
    rows read - known), the number of groups the rows kept (duplicates = known - kept).
    ``{key: (table, rows kept)}``."""
    clean = {}
    for key in ("activity", "help", "conversion"):
        g = grouped[key]
        n_rows = run.rows_read[run.names[key]]
        known = g.filter(g.cid.notnull()).drop("empty")
        n_known = _int(fatal[key]["known"]) if n_rows else 0
        n_kept = _int(fatal[key]["kept"]) if n_rows else 0
        if n_rows - n_known:
            k = n_rows - n_known
            run.dropped[f"{EXPERIMENT_FILES[key]}_unknown_customer"] = k
            run.findings.append(Finding(
                "unknown_customer", "warning", k,
                f"{run.names[key]}: {k} row(s) of customers not in {run.names['cohorts']} "
                "excluded"))
        _dup_finding(n_known - n_kept, stem=EXPERIMENT_FILES[key], name=run.names[key],
                     dropped=run.dropped, findings=run.findings)
        clean[key] = (known, n_kept)
    return clean


def _check_conversion(run: _Run, conversion: tuple[Any, int], n_cust: int) -> None:
    """Cohort customers without a conversion row: the ``missing_conversion`` warning.
    (Several different conversion rows of one customer are found by the per-customer
    table, `_conversion_conflict`, which raises; the warning is then never reported.)"""
    conv, n_conv = conversion
    if n_cust - n_conv > 0:
        k = n_cust - n_conv
        run.findings.append(Finding(
            "missing_conversion", "warning", k,
            f"{run.names['conversion']}: {k} cohort customer(s) have no conversion row; "
            "taken as not converted"))


def _conversion_conflict(run: _Run, conv) -> None:
    """`DataError`: a customer has several conversion rows with different values (the
    conversion rows are grouped by every column, so two rows of one code differ), with
    the number of such customers."""
    rep = conv.group_by("cid").aggregate(n=conv.count()).filter(lambda r: r.n > 1)
    n_rep = int(rep.count().execute())
    raise DataError("a customer has several conversion rows with different values "
                    f"({n_rep} customer(s); run `bayes-ab validate` for their line numbers)",
                    file=run.names["conversion"], column="converted", n_rows=n_rep)


def _task_table(run: _Run, act) -> _Tasks:
    """Per (customer, task), in one grouped pass: the first start and the earliest, latest
    and number of completions. Where no completion is earlier than the first start
    (every task of the simulated data) those are the valid completions; the tasks
    where one is (``before``) are paired completion by completion with their start, a
    join of those tasks only. Counts of completions before / without a start, the last
    valid completion; all on integer keys."""
    import ibis

    is_start, is_comp = act.action == "start", act.action == "complete"
    per = run.cache(act.group_by(["cid", "task"]).aggregate(
        start=act.sec.min(where=is_start), comp_first=act.sec.min(where=is_comp),
        comp_last=act.sec.max(where=is_comp), nc=act.count(where=is_comp)))
    before = per.start.notnull() & (per.comp_first < per.start)
    pc = per.aggregate(
        without=per.nc.sum(where=per.start.isnull()),
        n_before_tasks=before.sum(),
        last_valid=per.comp_last.max(where=per.start.notnull() & ~before.fill_null(False)),
    ).execute().iloc[0]
    comps = act.filter(is_comp).select("cid", "task", "sec")
    started = per.filter(per.start.notnull())
    n_before, last_valid = 0, pc["last_valid"]
    if _int(pc["n_before_tasks"]):
        m = per.filter(before).select(mcid=per.cid, mtask=per.task, mstart=per.start)
        mj = comps.join(m, [comps.cid == m.mcid, comps.task == m.mtask])
        ok = mj.sec >= mj.mstart
        fix = mj.group_by(["cid", "task"]).aggregate(
            before=(~ok).sum(), fdone=mj.sec.min(where=ok), flast=mj.sec.max(where=ok))
        fr = fix.aggregate(before=fix.before.sum(), last=fix.flast.max()).execute().iloc[0]
        n_before = _int(fr["before"])
        if fr["last"] is not None and not _isnan(fr["last"]):
            last_valid = (fr["last"] if last_valid is None or _isnan(last_valid)
                          else max(last_valid, fr["last"]))
        f = fix.select(xcid=fix.cid, xtask=fix.task, fdone=fix.fdone, flast=fix.flast,
                       fixed=ibis.literal(True))
        j = started.join(f, [started.cid == f.xcid, started.task == f.xtask], how="left")
        fixed = j.fixed.fill_null(False)
        tasks = run.cache(j.select("cid", "task", "start",
                                   done=ibis.ifelse(fixed, j.fdone, j.comp_first),
                                   last=ibis.ifelse(fixed, j.flast, j.comp_last)))
    else:
        tasks = started.select("cid", "task", "start", done=started.comp_first,
                               last=started.comp_last)
    for check, k in (("before", n_before), ("without", _int(pc["without"]))):
        text_ = "complete_before_start" if check == "before" else "complete_without_start"
        if k:
            run.dropped[text_] = k
            what = ("earlier than the first 'start' of the same task" if check == "before"
                    else "without any 'start' of the same task")
            run.findings.append(Finding(text_, "warning", k,
                                        f"{run.names['activity']}: {k} 'complete' row(s) "
                                        f"{what} dropped"))
    return _Tasks(tasks=tasks, comps=comps, last_valid=last_valid)


def _observation_end(tk: _Tasks, helpt, n_flags: int) -> float | None:
    """The latest first start, valid completion or help flag (epoch seconds)."""
    t = tk.tasks
    ends = [t.aggregate(m=t.start.max()).execute().iloc[0]["m"], tk.last_valid,
            helpt.aggregate(m=helpt.sec.max()).execute().iloc[0]["m"] if n_flags else None]
    end_vals = [float(v) for v in ends if v is not None and not _isnan(v)]
    return max(end_vals) if end_vals else None


def _customer_table(run: _Run, cohorts: _Cohorts, tasks, helpt, conv):
    """One (cached) row per customer from one grouped pass per event table joined on the
    integer code; the arm / completions / conversion counts, the ratio-metric sums and the
    segment counts all come from it. Returns (customers, ratio_stats, segments, notes)."""
    stage = run.stage
    minutes = ((tasks.done - tasks.start) / 60.0)
    # Materialised (DuckDB) before the joins below: their hash tables then build from
    # stored tables, and no aggregate has to hold memory while a join does.
    per_task = stage(tasks.group_by("cid").aggregate(
        n_completed=tasks.done.notnull().sum(),
        task_minutes=minutes.sum(where=tasks.done.notnull())))
    per_help = stage(helpt.group_by("cid").aggregate(
        n_cs=(helpt.channel == "CS").sum(), n_flags=helpt.count()))
    pt = per_task.select(tcid=per_task.cid, n_completed=per_task.n_completed,
                         task_minutes=per_task.task_minutes)
    ph = per_help.select(hcid=per_help.cid, n_cs=per_help.n_cs, n_flags=per_help.n_flags)
    cv = conv.select(vcid=conv.cid, conv=conv.converted)
    xcols = [c for c in cohorts.table.columns if c.startswith("x_")]
    base = cohorts.table.select("code", "arm", *xcols)
    cust = (base.join(pt, base.code == pt.tcid, how="left")
            .join(ph, base.code == ph.hcid, how="left")
            .join(cv, base.code == cv.vcid, how="left"))
    cust = run.cache(cust.select(
        cohort=cust.arm,
        n_completed=cust.n_completed.fill_null(0).cast("int64"),
        task_minutes=cust.task_minutes.fill_null(0.0).cast("float64"),
        converted=cust.conv.fill_null(False),
        n_cs=cust.n_cs.fill_null(0).cast("int64"),
        n_flags=cust.n_flags.fill_null(0).cast("int64"),
        **{c: cust[c] for c in xcols},
    ))
    # One row per customer, unless one has several (different) conversion rows: the
    # count of this stored table finds that, instead of a grouping of the conversion
    # rows by customer of its own (at 100M customers that grouping held the most memory
    # of the whole aggregation, about 4 GB of resident memory under the 3 GB limit).
    if int(cust.count().execute()) != cohorts.n_customers:
        _conversion_conflict(run, conv)
    cust = cust.mutate(any_cs=cust.n_cs > 0, flagged=cust.n_flags > 0)
    customers = (cust.group_by(["cohort", "n_completed", "converted", "any_cs", "flagged"])
                 .aggregate(n=cust.count()).execute())
    customers = customers.sort_values(["cohort", "n_completed", "converted", "any_cs",
                                       "flagged"]).reset_index(drop=True)
    customers["n"] = customers["n"].astype("int64")
    for col in ("converted", "any_cs", "flagged"):
        customers[col] = customers[col].astype(bool)
    ratio_stats = _ratio_sums(cust)
    segments, segment_notes = _segment_counts(cust, xcols, run.backend)
    return customers, ratio_stats, segments, segment_notes


def _help_episodes(run: _Run, helpt, tk: _Tasks, end_sec):
    """Flags grouped by (customer, task, channel, second), each paired with the first
    valid completion of its task at or after it, and the arm (from the customer's code,
    `_cohort_codes`). Returns (episodes, help flags on a task never started).

    A join of each flag to its task's row (first start, first and last valid
    completion): a flag at or before the first valid completion ends there, one after
    the last is censored; only a flag between two valid completions is paired with
    the completions themselves (a join of those flags alone)."""
    import ibis

    stage = run.stage
    flags = stage(helpt.group_by(["cid", "task", "channel", "sec"])
                  .aggregate(n=helpt.count()))
    t = tk.tasks.select(tcid=tk.tasks.cid, ttask=tk.tasks.task, tstart=tk.tasks.start,
                        tdone=tk.tasks.done, tlast=tk.tasks.last)
    j = stage(flags.join(t, [flags.cid == t.tcid, flags.task == t.ttask], how="left"))
    between = (j.sec > j.tdone) & (j.sec <= j.tlast)
    row = j.aggregate(between=j.count(where=between),
                      without_start=j.n.sum(where=j.tcid.isnull())).execute().iloc[0]
    n_between, n_without_start = _int(row["between"]), _int(row["without_start"])
    cols = ["cid", "task", "channel", "sec", "n"]
    ep = j.filter(~between.fill_null(False)).select(
        *cols, done=ibis.ifelse((j.sec <= j.tdone).fill_null(False), j.tdone,
                                ibis.null("float64")))
    if n_between:
        b = j.filter(between)
        c = tk.comps.select(ccid=tk.comps.cid, ctask=tk.comps.task, csec=tk.comps.sec)
        pairs = b.join(c, [b.cid == c.ccid, b.task == c.ctask, c.csec >= b.sec,
                           c.csec >= b.tstart])
        ep = ep.union(pairs.group_by(cols).aggregate(done=pairs.csec.min()))
    end_lit = float(end_sec) if end_sec is not None else float("nan")
    ep = run.cache(ep.mutate(event=ep.done.notnull(),
                             minutes=(ep.done.fill_null(end_lit) - ep.sec) / 60.0,
                             cohort=_arm_of_code(ep.cid)))
    run.release(j)
    return ep, n_without_start


_TEST_ARM, _CONTROL_ARM = "Test", "Control"
assert set(ARMS) == {_TEST_ARM, _CONTROL_ARM}


def _arm_of_code(code):
    """The arm of a customer from its code (`_read_grouped`: row number * 2 + 1 for Test)."""
    import ibis

    return ibis.ifelse(code % 2 == 1, ibis.literal(_TEST_ARM), ibis.literal(_CONTROL_ARM))


def _dup_finding(dup: int, *, stem: str, name: str, dropped: dict, findings: list) -> None:
    if dup:
        dropped[f"{stem}_duplicate_rows"] = dup
        findings.append(Finding("duplicate_rows", "warning", dup,
                                f"{name}: {dup} exact duplicate row(s) dropped"))


#: Per-customer (numerator, denominator) columns of the ratio metrics, as in
#: `bayes_ab.workflows.analyze.RATIO_METRICS` (``one``: every customer counts 1).
RATIO_COLUMNS = {"n_cs_flags": "n_cs", "flagged": "flagged", "n_help_flags": "n_flags",
                 "one": None, "task_minutes": "task_minutes", "n_completed": "n_completed"}
RATIO_PAIRS = (("n_cs_flags", "flagged"), ("n_help_flags", "one"),
               ("task_minutes", "n_completed"))


def _ratio_sums(cust) -> dict:
    """``{(num, den): {arm: RatioStatistic}}``: n, sums, sums of squares and the
    cross-product per arm, all pairs in one grouped pass."""
    from bayes_ab.stats.frequentist import RatioStatistic

    def col(name):
        c = RATIO_COLUMNS[name]
        if c is None:
            return None
        return (_as_int(cust[c]) if cust[c].type().is_boolean() else cust[c]).cast("float64")

    aggs = {"n": cust.count()}
    for i, (num, den) in enumerate(RATIO_PAIRS):
        y, x = col(num), col(den)
        aggs[f"sy{i}"] = y.sum()
        aggs[f"syy{i}"] = (y * y).sum()
        if x is None:
            continue
        aggs[f"sx{i}"] = x.sum()
        aggs[f"sxx{i}"] = (x * x).sum()
        aggs[f"sxy{i}"] = (x * y).sum()
    rows = cust.group_by("cohort").aggregate(**aggs).execute()
    out: dict = {}
    for i, pair in enumerate(RATIO_PAIRS):
        per_arm = {}
        for r in rows.to_dict("records"):
            n = int(r["n"])
            sy, syy = float(r[f"sy{i}"] or 0.0), float(r[f"syy{i}"] or 0.0)
            if pair[1] == "one":
                sx = sxx = float(n)
                sxy = sy
            else:
                sx, sxx, sxy = (float(r[f"{k}{i}"] or 0.0) for k in ("sx", "sxx", "sxy"))
            per_arm[r["cohort"]] = RatioStatistic(n=n, sum_y=sy, sum_x=sx, sum_y2=syy,
                                                  sum_x2=sxx, sum_xy=sxy)
        out[pair] = per_arm
    return out


def _utc_hour(col, backend: str):
    """UTC hour of day (0-23) of a typed timestamp or ISO text, NULL when unparseable,
    from epoch seconds (no per-row time-zone lookup)."""
    from bayes_ab.aggregate import read

    sec = read.epoch_seconds(read.timestamp(col), backend)
    return ((sec / 3600.0).floor().cast("int64")) % 24


def _segment_counts(cust, xcols: list[str], backend: str):
    """Conversion counts per (segment value, arm) of each usable extra cohort column, with
    the rules of `bayes_ab.workflows.analyze._segment_columns`: ``joined_at`` -> a 6-hour block of
    its UTC hour (when >= 99% parse), other columns with no missing value and 2-50
    distinct values. Returns ({column: DataFrame(label, cohort, successes, trials)},
    {column: why it was left out})."""
    import ibis

    if not xcols:
        return {}, {}
    labels = {}
    aggs = {"rows": cust.count()}
    for c in xcols:
        if c == "x_joined_at":
            aggs[f"ok_{c}"] = _utc_hour(cust[c], backend).notnull().sum()
        else:
            aggs[f"nulls_{c}"] = cust[c].isnull().sum()
            aggs[f"nu_{c}"] = cust[c].nunique()
    row = cust.aggregate(**aggs).execute().iloc[0]
    n = int(row["rows"])
    notes = {}
    for c in xcols:
        col = c[2:]
        if c == "x_joined_at":
            if n == 0 or int(row[f"ok_{c}"]) / n < 0.99:
                continue
            block = (_utc_hour(cust[c], backend) / 6).floor().cast("int64")
            labels["join_period"] = block.cases(
                (0, "00-06 UTC"), (1, "06-12 UTC"), (2, "12-18 UTC"), (3, "18-24 UTC"),
                else_=ibis.null("string"))
            continue
        if int(row[f"nulls_{c}"]) or not 2 <= int(row[f"nu_{c}"]) <= 50:
            continue
        labels[col] = cust[c]
    out = {}
    for col, lab in labels.items():
        t = cust.mutate(label=lab)
        g = (t.group_by(["label", "cohort"])
             .aggregate(successes=_as_int(t.converted).sum(), trials=t.count()).execute())
        g["successes"] = g["successes"].astype("int64")
        g["trials"] = g["trials"].astype("int64")
        out[col] = g.sort_values(["label", "cohort"]).reset_index(drop=True)
    return out, notes


def _drop_table(con, name: str) -> None:
    """DROP TABLE IF EXISTS in raw SQL: ``con.drop_table`` of Ibis 12 with sqlglot 30
    renders the statement without the table name (a syntax error)."""
    cur = con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    if con.name != "duckdb":  # DuckDB returns the connection itself: never close it
        cur.close()


def _as_int(flag):
    """A boolean column as 0/1 int64 (NULL stays NULL). Through int32: PostgreSQL casts
    boolean to integer but not to bigint."""
    return flag.cast("int32").cast("int64")


def _int(v) -> int:
    """An integer from an aggregate (NULL / NaN of an empty input -> 0)."""
    return 0 if v is None or _isnan(v) else int(v)


def _isnan(v) -> bool:
    try:
        return bool(np.isnan(v))
    except TypeError:
        return False


def _typed_from_raw(raw, key: str, name: str):
    """Typed columns of a table given directly (warehouse tables): as `typed_tables`."""
    from bayes_ab.aggregate import read
    from bayes_ab.data.schema import REQUIRED_COLUMNS

    if key == "help" and "cs_type" not in raw.columns:
        raw = raw.mutate(cs_type=None)
    read.require(raw, REQUIRED_COLUMNS[key], name)
    cols: dict[str, Any] = {"cid": read.text(raw.customer_id)}
    if key == "cohorts":
        cols["arm"] = read.label(raw.cohort, read.COHORT_LABELS)
    elif key == "activity":
        cols.update(task=read.task(raw.task), action=read.label(raw.action, read.ACTION_LABELS),
                    ts=read.timestamp(raw.timestamp))
    elif key == "help":
        cols.update(task=read.task(raw.task), channel=read.label(raw.channel, read.CHANNEL_LABELS),
                    cs_type=read.text(raw.cs_type).lower(), ts=read.timestamp(raw.timestamp))
    else:
        cols["converted"] = read.label(raw.converted, read.BOOL_LABELS)
    used = set(REQUIRED_COLUMNS[key]) | {"cs_type"}
    for col in raw.columns:
        if col not in used:
            cols[f"x_{col}"] = raw[col]
    return raw.select(**cols)


def _arm_stats(customers, stats: dict, errors: dict) -> None:
    from bayes_ab.models.arm_comparison import ArmComparisonStats
    from bayes_ab.models.completions_conversion import LEVELS, CompletionsConversionStats

    for key, metric in (("conversion", "converted"), ("cs_engagement", "any_cs")):
        s, n = [], []
        for arm in ARMS:
            sel = customers[customers["cohort"] == arm]
            s.append(int(sel.loc[sel[metric], "n"].sum()))
            n.append(int(sel["n"].sum()))
        try:
            stats[key] = ArmComparisonStats(arms=ARMS, successes=tuple(s), trials=tuple(n), metric=metric)
        except (DataError, ValueError) as exc:
            errors[key] = str(exc)
    succ = np.zeros((len(ARMS), len(LEVELS)), dtype=np.int64)
    trials = np.zeros_like(succ)
    for row in customers.itertuples(index=False):
        a, k = ARMS.index(row.cohort), int(row.n_completed)
        trials[a, k] += row.n
        succ[a, k] += row.n * bool(row.converted)
    try:
        stats["completions_conversion"] = CompletionsConversionStats(
            arms=ARMS, successes=tuple(map(tuple, succ)), trials=tuple(map(tuple, trials)))
    except (DataError, ValueError) as exc:
        errors["completions_conversion"] = str(exc)


def _episode_stats(ep, *, n_flags: int, edges, stats: dict, errors: dict):
    """Help completion, IV first-flag cells and survival bins from the episode table."""
    import ibis
    import pandas as pd

    from bayes_ab.models.help_completion import HelpCompletionStats
    from bayes_ab.models.causal_cs_effect import CausalCsEffectStats
    from bayes_ab.models.time_to_completion import TimeToCompletionStats, bin_edges

    empty_times = pd.DataFrame({"channel": pd.Series(dtype=object),
                                "task": pd.Series(dtype=np.int64),
                                "minutes": pd.Series(dtype=float),
                                "event": pd.Series(dtype=np.int64),
                                "n": pd.Series(dtype=np.int64)})
    if n_flags == 0:
        for key, what in (("help_completion", "the help-completion model needs at least one"),
                          ("time_to_completion", "the time-to-completion model needs some"),
                          ("iv", "the IV model needs first flags")):
            errors[key] = f"no help flags in the data: {what}"
        return empty_times

    cells = (ep.group_by(["channel", "task", "cohort"])
             .aggregate(flags=ep.n.sum(), completed=(ep.n * _as_int(ep.event)).sum())
             .execute())
    shape = (len(CHANNELS), len(TASKS), len(ARMS))
    flags_a = np.zeros(shape, dtype=np.int64)
    comp_a = np.zeros(shape, dtype=np.int64)
    for r in cells.itertuples(index=False):
        i = (CHANNELS.index(r.channel), TASKS.index(int(r.task)), ARMS.index(r.cohort))
        flags_a[i] += int(r.flags)
        comp_a[i] += int(r.completed)
    stats["help_completion"] = HelpCompletionStats(flags=flags_a, completed=comp_a)

    # First flag per customer: earliest time; ties (two distinct flags at the same
    # second) are broken by task then channel (the pandas loader uses file order).
    w = ibis.window(group_by=ep.cid, order_by=[ep.sec, ep.task, ep.channel])
    ranked = ep.mutate(rk=ibis.row_number().over(w),
                       n_at_first=ep.sec.count().over(ibis.window(group_by=[ep.cid, ep.sec])))
    first = ranked.filter(ranked.rk == 0)
    iv = (first.group_by(["cohort", "channel", "event"])
          .aggregate(n=first.count(), ties=(first.n_at_first > 1).sum()).execute())
    counts = np.zeros((len(ARMS), len(CHANNELS), 2), dtype=np.int64)
    for r in iv.itertuples(index=False):
        counts[ARMS.index(r.cohort), CHANNELS.index(r.channel), int(bool(r.event))] += int(r.n)
    stats["iv"] = CausalCsEffectStats(counts=counts)
    first_ties = int(iv["ties"].sum()) if len(iv) else 0

    times = (ep.group_by(["channel", "task", "minutes", "event"])
             .aggregate(n=ep.n.sum()).execute())
    times["event"] = times["event"].astype(bool).astype(np.int64)
    times["task"] = times["task"].astype(np.int64)
    times["n"] = times["n"].astype(np.int64)
    times = times.sort_values(["channel", "task", "minutes", "event"]).reset_index(drop=True)
    try:
        max_min = float(times["minutes"].max())
        edges = bin_edges(max_min) if edges is None else tuple(edges)
        nb = len(edges) - 1
        # The bins from the grouped follow-up times (one row per channel, task, minutes,
        # event with its count n): the same sums as over the episodes, without another
        # pass over them with two aggregates per bin.
        events = np.zeros((len(CHANNELS), len(TASKS), nb))
        exposure = np.zeros_like(events)
        flags2 = np.zeros((len(CHANNELS), len(TASKS)), dtype=np.int64)
        for (channel, task), g in times.groupby(["channel", "task"], sort=False):
            c, t = CHANNELS.index(channel), TASKS.index(int(task))
            m = g["minutes"].to_numpy(float)
            n = g["n"].to_numpy(np.int64)
            ev = g["event"].to_numpy(bool)
            for b in range(nb):
                lo, hi = float(edges[b]), float(edges[b + 1])
                exposure[c, t, b] = float(np.sum(n * np.clip(m - lo, 0.0, hi - lo)))
                hit = ev & (m > lo) & (m <= hi)
                if b == 0:
                    hit |= ev & (m == lo)
                events[c, t, b] = int(n[hit].sum())
            flags2[c, t] = int(n.sum())
        km_times, km_surv = weighted_kaplan_meier(times, window=edges[-1])
        stats["time_to_completion"] = TimeToCompletionStats(
            edges=edges, events=events, exposure=exposure, flags=flags2,
            km_times=km_times, km_survival=km_surv)
    except (DataError, ValueError) as exc:
        errors["time_to_completion"] = str(exc)
    times.attrs["first_flag_ties"] = first_ties
    return times


def weighted_kaplan_meier(times, *, window: float):
    """The Kaplan-Meier curve of each channel at the survival model's grid, from
    grouped follow-up times (same curve as `survival._kaplan_meier` on the raw rows)."""
    from bayes_ab.models import time_to_completion as sv

    grid = sv.km_times(window)
    curves = []
    for ch in CHANNELS:
        sel = times[times["channel"] == ch]
        if sel.empty:
            curves.append(np.full(grid.size, np.nan))
            continue
        curves.append(sv.kaplan_meier_at(sel["minutes"].to_numpy(float),
                                         sel["event"].to_numpy(bool), grid,
                                         weights=sel["n"].to_numpy(float)))
    return tuple(grid), np.vstack(curves)


def _attempt_stats(by_hour, stats: dict, errors: dict) -> None:
    from bayes_ab.models.time_and_experience import HOURS, TimeAndExperienceStats

    s = np.zeros((len(HOURS), len(TASKS)), dtype=np.int64)
    n = np.zeros_like(s)
    for r in by_hour.itertuples(index=False):
        s[int(r.hour), TASKS.index(int(r.task))] += int(r.successes)
        n[int(r.hour), TASKS.index(int(r.task))] += int(r.trials)
    try:
        stats["time_experience"] = TimeAndExperienceStats(successes=tuple(map(tuple, s)),
                                                     trials=tuple(map(tuple, n)))
    except (DataError, ValueError) as exc:
        errors["time_experience"] = str(exc)


def _derived_findings(tasks, n_hw: int, customers, *, names: dict,
                      design_test_share: float) -> list[Finding]:
    """tasks_out_of_series, help_without_start and the sample-ratio check, as
    `bayes_ab.data.validate.check_experiment` computes them on the frame."""
    from bayes_ab.data.validate import sample_ratio_finding

    out: list[Finding] = []
    prev = tasks.select(pcid=tasks.cid, ptask=tasks.task + 1, pdone=tasks.done)
    later = tasks.filter(tasks.task > 1).select("cid", "task", "start")
    j = later.join(prev, [later.cid == prev.pcid, later.task == prev.ptask], how="left")
    # started task k without task k-1 completed at or before the start
    n_oos = int(j.filter(~(j.pdone.notnull() & (j.pdone <= j.start)).fill_null(True))
                .count().execute())
    if n_oos:
        out.append(Finding(
            "tasks_out_of_series", "warning", n_oos,
            f"{names['activity']}: {n_oos} task start(s) before the previous task was "
            "completed (the tasks are meant to be done in series)"))
    # n_hw: help flags on a task never started (`_help_episodes`).
    if n_hw:
        out.append(Finding(
            "help_without_start", "info", n_hw,
            f"{names['help']}: {n_hw} help flag(s) on a task the customer never started"))
    n_test = int(customers.loc[customers["cohort"] == "Test", "n"].sum())
    n_control = int(customers.loc[customers["cohort"] == "Control", "n"].sum())
    out.append(sample_ratio_finding(n_test, n_control, design_test_share=design_test_share))
    return out


def stats_by_step(agg: AggregatedExperiment) -> dict[str, Any]:
    """``{pipeline step key: statistics}`` for each step of `bayes_ab.models.registry.MODEL_STEPS`
    whose statistics could be built (the others are left out)."""
    from bayes_ab.models.registry import MODEL_STEPS

    out = {}
    for step in MODEL_STEPS:
        try:
            out[step.key] = agg.stats_for(step.model.stats_type, **step.stats_kwargs)
        except DataError:
            continue
    return out


def load_sufficient_stats(path: str | Path, *, backend: str = "duckdb",
                          **kwargs) -> dict[str, Any]:
    """``{pipeline step key: statistics dataclass}`` for every model that can be estimated.

    Keys are those of `bayes_ab.models.registry.MODEL_STEPS` (``conversion``, ``cs_engagement``,
    ``help_completion``, ...); values are the same dataclasses as
    ``<Model>.stats_type.from_experiment(load_experiment(path), **step.stats_kwargs)``.
    ``kwargs`` go to `aggregate_experiment` (``con``, ``tables``, ``edges``, ...).
    """
    return stats_by_step(aggregate_experiment(path, backend=backend, **kwargs))
