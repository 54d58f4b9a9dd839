"""Open the four experiment files as Ibis tables with normalised, typed columns.

The same expressions run on every Ibis backend: DuckDB (default, embedded), PySpark
and the SQL warehouses. Nothing here pulls rows into Python: each function returns a
lazy Ibis table. Only `epoch_seconds` differs by backend (see its docstring).

Column rules follow `bayes_ab.data.load` (names trimmed, lower-cased, spaces and
hyphens -> underscores; labels trimmed and matched in any case; timestamps ISO 8601,
naive = UTC, offsets converted). Differences from the pandas loader are listed in
docs/SCALE.md ("Validation semantics").
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayes_ab.data.columns import (
    ACTION_LABELS,
    BOOL_LABELS,
    CHANNEL_LABELS,
    COHORT_LABELS,
    WIDE_TASK_COLUMN,
)
from bayes_ab.data.load import (
    HEAD_BYTES,
    SUFFIXES,
    columns_text,
    csv_head,
    file_read_errors,
    find_file,
    normalise_name,
    ragged_row_error,
    repeated_column_error,
    repeated_column_note,
    repeated_names,
    short_text,
    unclosed_quote_error,
)
from bayes_ab.data.schema import EXPERIMENT_FILES, REQUIRED_COLUMNS
from bayes_ab.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

__all__ = ["connect", "epoch_seconds", "experiment_paths", "open_table", "typed_tables"]



def connect(backend: str = "duckdb", *, spark: Any = None, database: str | None = None,
            memory_limit: str | None = "3GB", threads: int | None = None):
    """An Ibis connection with the session time zone set to UTC.

    ``backend="duckdb"``: an embedded DuckDB; ``database`` is a file path (``None``: a
    temporary on-disk database, so cached intermediate tables are compressed and can
    spill; ``":memory:"``: in memory). ``memory_limit`` bounds DuckDB's buffer pool.
    ``backend="pyspark"``: ``spark`` is a SparkSession (a local one is made when None).
    """
    import ibis

    if backend == "duckdb":
        import tempfile

        tmp = None
        if database is None:
            tmp = Path(tempfile.mkdtemp(prefix="bayes_ab_duckdb_"))
            database = str(tmp / "aggregate.duckdb")
        con = ibis.duckdb.connect(database)
        con._bayes_ab_tmpdir = str(tmp)
        con.raw_sql("SET TimeZone = 'UTC'")
        con.raw_sql("SET enable_progress_bar = false")
        if memory_limit:
            con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        # Insertion order is not needed by any aggregate; dropping it saves memory.
        con.raw_sql("SET preserve_insertion_order = false")
        return con
    if backend == "pyspark":
        if spark is None:
            from pyspark.sql import SparkSession

            spark = (SparkSession.builder.master("local[2]").appName("bayes_ab")
                     .config("spark.sql.session.timeZone", "UTC")
                     .config("spark.sql.ansi.enabled", "false")
                     .config("spark.ui.enabled", "false")
                     .config("spark.ui.showConsoleProgress", "false")
                     .config("spark.sql.shuffle.partitions", "8")
                     .config("spark.sql.warehouse.dir", _spark_warehouse())
                     .getOrCreate())
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        return ibis.pyspark.connect(spark)
    raise DataError(f"unknown aggregation backend '{backend}'; use duckdb or pyspark")


def _spark_warehouse() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="bayes_ab_spark_")


def close(con) -> None:
    """Disconnect; a temporary DuckDB database made by `connect` is deleted."""
    import shutil

    path = getattr(con, "_bayes_ab_tmpdir", None)
    try:
        con.disconnect()
    except Exception:  # pragma: no cover - best effort
        pass
    if path:
        shutil.rmtree(path, ignore_errors=True)


def experiment_paths(folder: str | Path) -> dict[str, Path]:
    """The four files of the experiment folder (same lookup as the pandas loader)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}", file=str(folder))
    return {key: find_file(folder, stem) for key, stem in EXPERIMENT_FILES.items()}


def open_table(con, path: Path, *, findings: list | None = None) -> ir.Table:
    """A CSV / CSV.gz / Parquet file as an Ibis table, CSV values all read as text, with
    normalised column names (`unique_columns`; notes about repeated names are appended
    to ``findings``).

    For DuckDB the CSV dialect is not sniffed: the start of the file is read here with
    the pandas loader's rules (`bayes_ab.data.load.csv_head`: encoding, delimiter,
    header; an empty, binary or UTF-16 big-endian file is refused), and DuckDB reads
    strictly (a row with more or fewer fields than the header, an unclosed quote or bad
    bytes fail with their line: `engine_error` turns these into the loader's messages).
    """
    name = path.name.lower()
    if not any(name.endswith(s) for s in SUFFIXES):  # pragma: no cover - find_file checks
        raise DataError("unknown file type", file=path.name)
    header = None
    try:
        if name.endswith(".parquet"):
            t = con.read_parquet(str(path))
        elif con.name == "duckdb":
            head = csv_head(head_bytes(path), path.name)
            header = head.names
            t = con.read_csv(
                str(path), columns={f"c{i}": "VARCHAR" for i in range(len(header))},
                header=True, delim=head.sep, quote='"', escape='"',
                encoding=_duckdb_encoding(head.encoding, path), strict_mode=True)
        else:
            t = con.read_csv(str(path), header=True, inferSchema=False)
    except DataError:
        raise
    except Exception as exc:  # each engine raises its own types for a bad file
        raise engine_error(exc, {str(path): path.name}, con.name) or DataError(
            f"cannot read the file with {con.name}: {short_text(exc)}",
            file=path.name) from None
    return unique_columns(t, header if header is not None else list(t.columns), path.name,
                          findings)


def head_bytes(path: Path) -> bytes:
    """The first bytes of a file (decompressed for .gz)."""
    with file_read_errors(path.name):
        if path.name.lower().endswith(".gz"):
            with gzip.open(path) as fh:
                return fh.read(HEAD_BYTES)
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)


def _duckdb_encoding(encoding: str, path: Path) -> str:
    if encoding in ("utf-8", "utf-8-sig"):
        return "utf-8"
    if encoding == "latin-1":
        return "latin-1"
    if encoding == "utf-16-le" or (encoding == "utf-16"
                                   and head_bytes(path).startswith(b"\xff\xfe")):
        return "utf-16"
    raise DataError(f"the file is {encoding.upper()} text"
                    f"{' (big-endian)' if encoding != 'utf-32' else ''}, which the DuckDB "
                    "engine does not read: convert it to UTF-8 or use --engine pandas",
                    file=path.name)


def engine_error(exc: BaseException, files: dict[str, str], engine: str = "duckdb"
                 ) -> DataError | None:
    """The loader's `DataError` for an engine's error about one of ``files`` (``{path:
    name}``), or None when the error names none of them. The engine's own text (which
    quotes the offending line) is never repeated beyond its first line."""
    text = str(exc)
    name = next((n for p, n in sorted(files.items(), key=lambda kv: -len(kv[0]))
                 if p in text), None)
    if name is None:
        return None
    line = re.search(r"CSV Error on Line: (\d+)", text)
    count = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and count:
        return ragged_row_error(name, int(line.group(1)), int(count.group(2)),
                                int(count.group(1)))
    if line and "unterminated quote" in text:
        return unclosed_quote_error(name, int(line.group(1)))
    if line and "Invalid unicode" in text:
        return DataError(f"line {line.group(1)} holds bytes that are not valid UTF-8 while "
                         "the start of the file is UTF-8: convert the whole file to UTF-8, "
                         "or use --engine pandas (it then reads the file as Latin-1)",
                         file=name, lines=[int(line.group(1))], n_rows=1)
    if line and "Maximum line size" in text:
        return DataError(f"line {line.group(1)} is longer than the engine's maximum line "
                         "size (an unbalanced quote?)", file=name,
                         lines=[int(line.group(1))], n_rows=1)
    if "gzip" in text.lower():
        return DataError("cannot read the file: the gzip stream is truncated or corrupt",
                         file=name)
    return DataError(f"cannot read the file with {engine}: {short_text(exc)}", file=name)


def unique_columns(t: ir.Table, header: list, name: str,
                   findings: list | None = None) -> ir.Table:
    """``t`` with its columns renamed to the normalised ``header`` names (one per column
    of ``t``, in order). A name repeated (ignoring case) over columns with identical text
    keeps one copy and adds a ``duplicate_columns`` warning to ``findings``; with
    different text it is a `DataError`, as in the pandas loader."""
    cols = list(t.columns)
    drop: set[int] = set()
    for norm, positions in repeated_names(header).items():
        first = t[cols[positions[0]]].cast("string").fill_null("")
        differ = None
        for i in positions[1:]:
            d = t[cols[i]].cast("string").fill_null("") != first
            differ = d if differ is None else differ | d
        n = int(t.filter(differ).count().execute())
        if n:
            raise repeated_column_error(name, norm, positions, n_rows=n)
        if findings is not None:
            findings.append(repeated_column_note(name, norm, positions))
        drop.update(positions[1:])
    return t.select(**{normalise_name(h, i + 1): t[cols[i]]
                       for i, h in enumerate(header) if i not in drop})


def normalise_columns(t: ir.Table, name: str, findings: list | None = None) -> ir.Table:
    """Normalised column names of a table (see `unique_columns`)."""
    return unique_columns(t, list(t.columns), name, findings)


def require(t: ir.Table, columns, name: str) -> None:
    for col in columns:
        if col not in t.columns:
            raise DataError(f"missing required column '{col}' (the file has: "
                            f"{columns_text(list(t.columns))})", file=name, column=col,
                            lines=[1], n_rows=1)


#: Character codes that `text` trims (Ibis's ``strip``: space, \t, \n, \r, \v, \f).
_BLANK_CODES = (9, 10, 11, 12, 13, 32)


def text(col) -> Any:
    """A value as trimmed text; missing -> '' (CSV readers give NULL for empty fields).

    Trimmed only where the first or last character is a blank: a trim with a character
    set cost DuckDB 19.7 CPU s over the benchmarks' 35M activity ids (10M customers),
    the test of the two ends 3.4 s; the result is the same.
    """
    import ibis

    value = col.cast("string").fill_null("")
    blank_end = (value.ascii_str().isin(_BLANK_CODES)
                 | value.right(1).ascii_str().isin(_BLANK_CODES))
    return ibis.ifelse(blank_end, value.strip(), value)


def label(col, mapping: dict) -> Any:
    """Trimmed, lower-cased text mapped through ``mapping``; anything else -> NULL.

    The spellings that need no trimming or lower-casing (a key as it is, upper-cased or
    capitalised) are matched first, so the usual values cost no string function; an
    integer column is matched on its numbers (``1`` for the text "1")."""
    import ibis

    kind = "boolean" if all(isinstance(v, bool) for v in mapping.values()) else "string"
    null = ibis.null(kind)
    if col.type().is_integer():
        numbers = {int(k): v for k, v in mapping.items() if k == str(_int_or_none(k))}
        return col.substitute(numbers, else_=null)
    exact = {}
    for k, v in mapping.items():
        for spelling in (k, k.upper(), k.capitalize(), v if isinstance(v, str) else k):
            if spelling.strip().lower() == k:
                exact.setdefault(spelling, v)
    slow = text(col).lower().substitute(mapping, else_=null)
    return col.cast("string").substitute(exact, else_=slow)


def _int_or_none(text_: str) -> int | None:
    try:
        return int(text_)
    except ValueError:
        return None


def timestamp(col) -> Any:
    """ISO 8601 text or a typed timestamp -> naive UTC timestamp (NULL when unparseable)."""
    dtype = col.type()
    if dtype.is_timestamp():
        # A typed timestamp is kept as it is: only its instant (epoch seconds) and its
        # NULLs are used, and converting a time-zone-aware column to naive costs a
        # per-row time-zone lookup (3 s per 35M rows on DuckDB).
        return col
    # Parsing with a time zone applies any offset; the session time zone is UTC, so
    # dropping it afterwards leaves UTC wall-clock time (naive values are UTC).
    value = _guard(text(col).nullif(""), _ISO_TIMESTAMP)
    return value.try_cast("timestamp('UTC')").cast("timestamp")


# PostgreSQL has no TRY_CAST (Ibis renders it as CAST, which fails on the first bad
# value): there, text that does not look like the target type becomes NULL first, so a
# bad value is counted and reported like on DuckDB (the pattern accepts what DuckDB's
# cast does, tests/test_source_postgres.py). (A value the pattern passes but the
# server still refuses, such as 2024-02-30, stops the query with the server's message.)
_ISO_TIMESTAMP = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                  r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?)?"
                  r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$")
_NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_NO_TRY_CAST = ("postgres",)


def _guard(value, pattern: str) -> Any:
    """``value`` (text), NULL where it does not match ``pattern``, on backends without
    TRY_CAST; unchanged elsewhere."""
    try:
        backend = value._find_backend().name
    except Exception:  # an expression without a backend (unbound): nothing to guard
        return value
    if backend not in _NO_TRY_CAST:
        return value
    return value.re_search(pattern).ifelse(value, None)


def epoch_seconds(ts, backend: str) -> Any:
    """Seconds since 1970 as float64, sub-second part kept.

    DuckDB's ``epoch()`` is fractional; Spark's ``unix_timestamp`` floors to whole
    seconds, but its ``CAST(timestamp AS DOUBLE)`` keeps the microseconds. Other
    backends take the DuckDB form (check sub-second data there).
    """
    if backend == "pyspark":
        return ts.cast("float64")
    if backend == "duckdb" and ts.type().is_timestamp() and ts.type().timezone is not None:
        # DuckDB's epoch() of a time-zone-aware timestamp, as it is: Ibis's form first
        # casts it to a naive timestamp, a per-row time-zone lookup (4.5 of 5.1 CPU s
        # on the benchmarks' 35M activity rows at 10M customers). Same seconds.
        return _duckdb_epoch(ts)
    return ts.epoch_seconds().cast("float64")


def _duckdb_epoch(ts) -> Any:
    import ibis

    global _EPOCH
    if _EPOCH is None:
        @ibis.udf.scalar.builtin(name="epoch")
        def epoch(x) -> float:  # pragma: no cover - the body is never run
            """DuckDB's epoch(): seconds since 1970, fractional."""

        _EPOCH = epoch
    return _EPOCH(ts)


_EPOCH = None


def task(col) -> Any:
    """1, 2 or 3 from text such as "1", " 2 " or "3.0"; anything else -> NULL."""
    import ibis

    if col.type().is_integer():  # typed Parquet: no text round trip
        return col.cast("int64").cases((1, 1), (2, 2), (3, 3), else_=ibis.null("int64"))
    num = _guard(text(col), _NUMBER).try_cast("float64")

    return num.cases((1.0, 1), (2.0, 2), (3.0, 3), else_=ibis.null("int64")).cast("int64")


def typed_tables(con, paths: dict[str, Path], *, findings: list | None = None
                 ) -> dict[str, tuple[str, ir.Table, ir.Table]]:
    """Per file key: (file name, raw table with normalised names, typed table).

    Typed columns: cohorts ``cid, arm``; activity ``cid, task, action, ts``; help ``cid,
    task, channel, cs_type, ts``; conversion ``cid, converted``. Extra columns are kept
    under ``x_<name>`` (they take part in the exact-duplicate check, as in pandas).
    """
    out = {}
    for key, path in paths.items():
        raw = open_table(con, path, findings=findings)
        if key == "activity" and "action" not in raw.columns:
            wide = [c for c in raw.columns if WIDE_TASK_COLUMN.match(c)]
            if wide:
                raise DataError("a wide product_activity file is not supported by the "
                                "aggregation engine; use --engine pandas (it converts it)",
                                file=path.name)
        if key == "help" and "cs_type" not in raw.columns:
            raw = raw.mutate(cs_type=None)
        require(raw, REQUIRED_COLUMNS[key], path.name)
        cols: dict[str, Any] = {"cid": text(raw.customer_id)}
        if key == "cohorts":
            cols["arm"] = label(raw.cohort, COHORT_LABELS)
        elif key == "activity":
            cols.update(task=task(raw.task), action=label(raw.action, ACTION_LABELS),
                        ts=timestamp(raw.timestamp))
        elif key == "help":
            cols.update(task=task(raw.task), channel=label(raw.channel, CHANNEL_LABELS),
                        cs_type=text(raw.cs_type).lower(), ts=timestamp(raw.timestamp))
        else:
            cols["converted"] = label(raw.converted, BOOL_LABELS)
        used = set(REQUIRED_COLUMNS[key]) | {"cs_type"}
        for col in raw.columns:
            if col not in used:
                cols[f"x_{col}"] = raw[col]
        out[key] = (path.name, raw, raw.select(**cols))
    return out
