"""Load the four files of the help-widget experiment into an `ExperimentData`.

The folder holds ``test_cohorts``, ``product_activity``, ``help_activity`` and
``conversion`` (shared/design/DATA_CONTRACT.md section 1), each as ``.csv``,
``.csv.gz`` or ``.parquet``, found by stem, case-insensitively.

Reading
    CSV is read as bytes; a UTF-8 BOM is removed, UTF-16 (byte-order mark, or NUL
    bytes in every other position) and UTF-32 (byte-order mark) are decoded, CRLF
    and CR-only line endings become LF, and the text is decoded as UTF-8, falling
    back to Latin-1 (every byte string is valid Latin-1). The delimiter is a comma
    unless the header line holds more semicolons or tabs. Arrow's multi-threaded
    reader is used (every column as categorical text, so each distinct label or
    timestamp is parsed once); files with blank lines, an odd number of quote
    characters or malformed rows go through pandas' reader, which keeps line numbers
    exact and names the bad line. Every column is read
    as text first and parsed afterwards, so a value that does not parse is reported with its line number:
    1-based, the header being line 1 (blank lines count, a quoted value spanning
    several lines is counted as one). For Parquet the "line" is the row number + 1,
    as if the table had been written to CSV with a header.

    Column names are matched after trimming, lower-casing and turning spaces and
    hyphens into underscores. Extra columns are kept: those of the cohort file
    become segment columns of the analysis frame, the others are ignored. A wide
    ``product_activity`` (``customer_id, task1_start, task1_complete, ...``) is
    turned into the long form.

    Labels are normalised: cohort ``test``/``TEST``/`` Test `` -> ``Test``;
    channel ``cs`` -> ``CS``, ``other`` -> ``OTHER``; action ``START`` -> ``start``
    (``started``/``completed`` are accepted too); converted ``1/0, true/false,
    t/f, yes/no, y/n`` (any case, ``1.0`` too) -> bool; task ``"1"``/``"1.0"`` -> 1.
    Timestamps are ISO 8601; naive ones are UTC, ones with an offset are converted.

Fatal problems (a `DataError` naming file, column and first lines; exit 2 in the CLI)
    missing file, two files with the same stem, a symbolic link that leaves the data
    folder (or is broken), unreadable or empty file (no data rows; a header-only
    ``help_activity`` is allowed: nobody was flagged), binary data (NUL or control
    bytes: random bytes, a gzip or Parquet file under a .csv name), a truncated or
    non-gzip ``.gz``, a blank first line, a row with more or fewer fields than the
    header, a quote that is never closed, a column name repeated (ignoring case) with
    different values (identical copies: a ``duplicate_columns`` warning), missing
    column, empty ``customer_id``, unknown cohort / channel / action label, task not
    1, 2 or 3, unparseable timestamp, a timestamp outside pandas' range (1677-09-21
    to 2262-04-11, e.g. a 9999-12-31 placeholder: named as such, not "unparseable"),
    unparseable ``converted``, a customer listed twice in the cohorts (in both arms,
    or twice in one arm with different values), a customer with several different
    conversion rows. No message shows more than `EXCERPT` (60) characters of a value.

Entry points: `load_experiment` (the folder), `read_experiment_file` (one file of the
folder, found by stem, every per-file check above), `read_table` (one file by path).

Non-fatal problems (the rows are dropped or the value imputed, counted in
``ExperimentData.dropped`` and described in ``ExperimentData.findings``) are
listed in `bayes_ab.data.validate`.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_ab.constants import CHANNELS, DESIGN_TEST_SHARE, TASKS
from bayes_ab.data.columns import (
    ACTION_LABELS,
    BOOL_LABELS,
    CHANNEL_LABELS,
    COHORT_LABELS,
    WIDE_TASK_COLUMN,
    normalise_column,
    wide_task_column,
)
from bayes_ab.data.schema import EXPERIMENT_FILES, REQUIRED_COLUMNS, ExperimentData, Finding
from bayes_ab.errors import DataError

__all__ = ["RawTable", "load_experiment", "load_experiment_with_counts", "read_table"]

SUFFIXES = (".csv", ".csv.gz", ".parquet")
LINE = "_line"  # the 1-based line number of each row in its file, kept through every step

_OFFSET = re.compile(r"(?:[Zz]|[+-]\d\d:?\d\d)\s*$")
_SHOWN_LINES = 20


@dataclass(frozen=True)
class RawTable:
    """One input file as read: normalised column names, values as text, plus `_line`.

    ``notes``: data-quality findings about the file itself (e.g. a column repeated with
    identical values), to be added to the experiment's findings.
    """

    name: str  # the file's name, as shown in messages
    data: pd.DataFrame
    n_read: int  # data rows read (blank lines excluded)
    notes: tuple = ()


#: The most characters of a value (or a column name) any message shows.
EXCERPT = 60
#: The timestamps pandas can hold (nanoseconds since 1970 in 64 bits).
TS_MIN, TS_MAX = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
TS_RANGE_TEXT = (f"outside the supported range {TS_MIN:%Y-%m-%d} to {TS_MAX:%Y-%m-%d} "
                 "(nanosecond timestamps)")
#: Bytes read from the start of a file to tell its encoding, delimiter and header.
HEAD_BYTES = 1 << 16


def excerpt(value, limit: int = EXCERPT) -> str:
    """A value as a quoted, escaped excerpt of at most ``limit`` characters (then '...')."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit])[:-1] + "..." + repr(text[:limit])[-1]


# ----------------------------------------------------------------------------- files


def find_file(folder: Path, stem: str) -> Path:
    """The one file in ``folder`` named ``stem`` + a known suffix, any case.

    A symbolic link is followed only when it resolves to a file inside ``folder``: a
    link out of the data folder (or a broken one) is a `DataError` naming the link and
    its target, so no file outside the folder the user named is ever read.
    """
    names = [p for p in folder.iterdir() if any(p.name.lower() == stem + s for s in SUFFIXES)]
    matches = [p for p in names if p.is_symlink() or p.is_file()]
    if not matches:
        raise DataError(
            f"missing file: expected {stem}.csv, {stem}.csv.gz or {stem}.parquet in {folder}",
            file=f"{stem}.csv",
        )
    if len(matches) > 1:
        names = ", ".join(sorted(p.name for p in matches))
        raise DataError(f"several files for {stem} ({names}); keep only one", file=names)
    path = matches[0]
    if path.is_symlink():
        check_link(path, folder)
    return path


def check_link(path: Path, folder: Path) -> None:
    """Refuse a symbolic link that leaves ``folder`` or leads nowhere (`DataError`)."""
    target = Path(os.path.realpath(path))
    root = Path(os.path.realpath(folder))
    if not target.exists():
        raise DataError(f"{path.name} is a broken symbolic link (to {target}): nothing to read",
                        file=path.name)
    if root not in target.parents:
        raise DataError(
            f"{path.name} is a symbolic link to {target}, outside the data folder {root}: "
            "links are read only when they stay inside the data folder; copy the file "
            "into the folder instead", file=path.name)
    if not target.is_file():
        raise DataError(f"{path.name} is a symbolic link to {target}, which is not a regular "
                        "file", file=path.name)


def read_experiment_file(folder: str | Path, stem: str, *,
                         allow_empty: bool | None = None) -> RawTable:
    """`find_file` then `read_table`: one experiment file, every per-file check applied.

    The entry point for anything that reads the experiment's files (``stem`` is
    ``test_cohorts``, ``product_activity``, ``help_activity`` or ``conversion``); it
    raises the same `DataError` s as `bayes-ab validate` (exit 2 in the CLI).
    ``allow_empty`` (default: only for ``help_activity``, as the loader): a file with a
    header and no rows gives an empty table (``n_read`` 0) instead of an error.
    """
    if allow_empty is None:
        allow_empty = stem == EXPERIMENT_FILES["help"]
    return read_table(find_file(Path(folder), stem), allow_empty=allow_empty)


class ReadMemo:
    """Files read once per run: inside `active`, `read_table` keeps each file it parses
    (up to ``max_bytes`` on disk each) and gives a later read of the same file (same path,
    size and modification time) a copy of it instead of parsing it again.

    `bayes_ab.workflows.analyze` keeps one from the loader to the start of the forensics:
    both read the four files, and the forensics' forked child inherits the parsed tables
    (the example: 1.5 s of CPU). The caller `clear` s it when done (memory). Not
    ``enabled`` (no second reader coming), `active` keeps nothing."""

    def __init__(self, max_bytes: int = 64 * 2**20, *, enabled: bool = True):
        self.max_bytes = int(max_bytes)
        self.enabled = bool(enabled)
        self.tables: dict[tuple, RawTable] = {}

    @contextmanager
    def active(self) -> Iterator[ReadMemo]:
        global _READ_MEMO
        if not self.enabled:
            yield self
            return
        previous, _READ_MEMO = _READ_MEMO, self
        try:
            yield self
        finally:
            _READ_MEMO = previous

    def clear(self) -> None:
        self.tables.clear()

    def key(self, path: Path, ids_as_arrow: bool) -> tuple | None:
        try:
            st = path.stat()
        except OSError:
            return None
        if st.st_size > self.max_bytes:
            return None
        return (str(path.resolve()), st.st_size, st.st_mtime_ns, bool(ids_as_arrow))


_READ_MEMO: ReadMemo | None = None


def _copy_table(table: RawTable) -> RawTable:
    # a deep copy: pandas < 3 shares buffers between shallow copies, and the loader
    # changes its frames in place
    return RawTable(name=table.name, data=table.data.copy(deep=True), n_read=table.n_read,
                    notes=tuple(table.notes))


def read_table(path: str | Path, *, allow_empty: bool = False,
               ids_as_arrow: bool = False) -> RawTable:
    """Read one CSV / CSV.gz / Parquet file with text values and normalised column names.

    ``ids_as_arrow``: a CSV column whose values mostly differ (an id: more than half of
    its first 10,000 values distinct, in a file of 1,000 rows or more) is kept as Arrow text (``pd.ArrowDtype(pa.string())``)
    instead of categorical text: no Python string is built per row (0.1-0.6 s of CPU for
    a 294k-row id column). Same values; a caller that reads them one by one converts the
    column (``astype(object)``).

    Raises `DataError` (file, line where known) for a file that cannot be read as a
    table: empty, binary, a truncated gzip stream, a row with more or fewer fields than
    the header, a quote that is never closed, a blank header line, a column name that is
    repeated with different values.
    """
    path = Path(path)
    memo = _READ_MEMO
    key = memo.key(path, ids_as_arrow) if memo is not None else None
    if key is not None and key in memo.tables:
        table = _copy_table(memo.tables[key])
    else:
        table = _parse_table(path, ids_as_arrow=ids_as_arrow)
        if key is not None:
            memo.tables[key] = _copy_table(table)
    if table.n_read == 0 and not allow_empty:
        raise DataError("the file is empty: it has no data rows", file=table.name, n_rows=0)
    return table


def _parse_table(path: Path, *, ids_as_arrow: bool) -> RawTable:
    """`read_table` without the check for data rows."""
    name = path.name
    if path.name.lower().endswith(".parquet"):
        df = _read_parquet(path)
    else:
        with file_read_errors(name):
            data = path.read_bytes()
            if path.name.lower().endswith(".gz"):
                data = gzip.decompress(data)
        df = _read_csv_bytes(data, name, ids_as_arrow=ids_as_arrow)
    df, notes = normalise_frame(df, name)
    df = _drop_blank_rows(df)
    return RawTable(name=name, data=df, n_read=len(df), notes=notes)


@contextmanager
def file_read_errors(name: str) -> Iterator[None]:
    """Reading the bytes of file ``name``: a gzip stream that is not gzip or is cut short,
    or an OS error, becomes a `DataError` naming the file."""
    try:
        yield
    except gzip.BadGzipFile:
        raise DataError("cannot read the file: it is not gzip-compressed (a plain CSV "
                        "file must be named .csv)", file=name) from None
    except EOFError:
        raise DataError("cannot read the file: the gzip stream is truncated (the file "
                        "was cut short)", file=name) from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"cannot read the file: {short_text(exc)}", file=name) from None


def short_text(exc: BaseException, limit: int = 100) -> str:
    """The first line of an exception's message, at most ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------ text and dialect

_BOMS = ((b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe\x00\x00", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"\xef\xbb\xbf", "utf-8-sig"))
_MAGIC = ((b"\x1f\x8b", "it is gzip-compressed: name it .csv.gz"),
          (b"PAR1", "it is a Parquet file: name it .parquet"),
          (b"PK\x03\x04", "it is a ZIP archive (an Excel workbook?): export it as CSV"),
          (b"%PDF", "it is a PDF document"))


@dataclass(frozen=True)
class CsvHead:
    """What the start of a CSV file says: its encoding, delimiter and header names."""

    encoding: str  # utf-8, latin-1, utf-16-le, utf-16-be, utf-16, utf-32 or utf-8-sig
    sep: str
    names: list


def text_encoding(head: bytes, name: str) -> str:
    """The encoding of a text file from its first bytes; binary data is a `DataError`.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32); without one, NUL bytes in every
    other position mean UTF-16 (little- or big-endian); otherwise UTF-8 when the bytes
    decode, else Latin-1 (which decodes anything).
    """
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc
    sample = head[:4096]
    if b"\x00" in sample:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        half = max(len(sample) // 2, 1)
        if odd >= 0.3 * half and even <= 0.02 * half:
            return "utf-16-le"
        if even >= 0.3 * half and odd <= 0.02 * half:
            return "utf-16-be"
    _refuse_binary(head, name)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return "latin-1"
    return "utf-8"


def _refuse_binary(head: bytes, name: str) -> None:
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32), 127))
    if b"\x00" not in head and controls <= 0.01 * len(head):
        return
    why = next((w for magic, w in _MAGIC if head.startswith(magic)), None)
    raise DataError("not a text CSV file: it holds binary data (NUL or control bytes in its "
                    "first bytes)" + (f"; {why}" if why else
                                      "; a gzip file must be named .csv.gz, a Parquet file "
                                      ".parquet"), file=name)


def _decode_utf16(data: bytes, encoding: str, name: str) -> bytes:
    try:
        return data.decode(encoding).lstrip("\ufeff").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"the file looks like {encoding.upper()} text (byte-order mark or "
                        f"NUL bytes) but does not decode as such at byte {exc.start}",
                        file=name) from None


def csv_head(head: bytes, name: str) -> CsvHead:
    """Encoding, delimiter and header names from the first bytes of a CSV file.

    Raises `DataError` for an empty file, binary data and a blank first line. The
    delimiter is a comma unless the header holds more semicolons or tabs.
    """
    encoding = text_encoding(head, name)
    if encoding.startswith(("utf-16", "utf-32")):
        text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
        _refuse_binary(text[:4096].encode("utf-8"), name)
    else:
        text = head.decode("latin-1" if encoding == "latin-1" else "utf-8", errors="ignore")
        text = text.lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError("the file is empty: no header and no rows", file=name, n_rows=0)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise DataError("the first line is blank: line 1 must hold the column names",
                        file=name, lines=[1], n_rows=1)
    sep = max((",", ";", "\t"), key=first.count)
    names = next(csv.reader([first], delimiter=sep))
    return CsvHead(encoding=encoding, sep=sep, names=names)


def ragged_row_error(name: str, line: int, found: int, expected: int) -> DataError:
    """A row with more or fewer fields than the header. (DuckDB stops counting at the
    first field too many, so a long row is worded without its count on both engines.)"""
    what = (f"more fields than the header ({expected})" if found > expected
            else f"{found} field(s), fewer than the header ({expected})")
    return DataError(f"line {line} has {what}: a ragged row (check for a separator or a "
                     "line break inside an unquoted value)", file=name, lines=[line],
                     n_rows=1)


def unclosed_quote_error(name: str, line: int) -> DataError:
    return DataError(f"unbalanced quote: the quoted value that starts on line {line} is "
                     "never closed", file=name, lines=[line], n_rows=1)


def _read_csv_bytes(data: bytes, name: str, *, ids_as_arrow: bool = False) -> pd.DataFrame:
    head = csv_head(data[:HEAD_BYTES], name)
    if head.encoding.startswith(("utf-16", "utf-32")):
        data = _decode_utf16(data, head.encoding, name)
        _refuse_binary(data[:HEAD_BYTES], name)
    elif data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data:  # CRLF and old-Mac CR-only endings both become LF
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data.endswith(b"\n\n"):  # blank lines at the end change no line number
        data = data.rstrip(b"\n") + b"\n"
    sep = head.sep
    header = data.split(b"\n", 1)[0]
    # Arrow's multi-threaded reader is several times faster, but skips blank lines
    # (which would shift line numbers), names no line in its parse errors and takes an
    # unclosed quote as a value running to the end of the file (an odd number of quote
    # characters): the pandas reader handles those cases.
    if b"\n\n" not in data and data.count(b'"') % 2 == 0:
        df = _read_csv_arrow(data, header, sep, ids_as_arrow=ids_as_arrow)
        if df is not None:
            df[LINE] = np.arange(2, len(df) + 2, dtype=np.int64)
            return df
    for encoding in ("utf-8", "latin-1"):
        try:
            # header=None: the header is row 0, so repeated names are not renamed and a
            # first row with one field too many is not taken as an index.
            df = pd.read_csv(
                io.BytesIO(data), sep=sep, dtype=str, encoding=encoding, header=None,
                keep_default_na=False, na_filter=False, skip_blank_lines=False,
            )
        except UnicodeDecodeError:
            continue  # not UTF-8: Latin-1 decodes every byte string
        except pd.errors.EmptyDataError:
            raise DataError("the file is empty: no header and no rows", file=name,
                            n_rows=0) from None
        except pd.errors.ParserError as exc:
            raise _parser_error(exc, name) from None
        _check_field_counts(data, encoding, sep, df.shape[1], name)
        names = [str(v) for v in df.iloc[0]]
        df = df.iloc[1:].reset_index(drop=True)
        df.columns = pd.Index(names, dtype=object)
        df[LINE] = np.arange(2, len(df) + 2, dtype=np.int64)
        return df
    raise AssertionError("unreachable: Latin-1 decodes any bytes")  # pragma: no cover


def _parser_error(exc: Exception, name: str) -> DataError:
    text = str(exc)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        return ragged_row_error(name, int(m.group(2)), int(m.group(3)), int(m.group(1)))
    m = re.search(r"EOF inside string starting at row (\d+)", text)
    if m:
        return unclosed_quote_error(name, int(m.group(1)) + 1)
    return DataError(f"cannot parse the file as CSV: {short_text(exc)}", file=name)


def _check_field_counts(data: bytes, encoding: str, sep: str, n_fields: int,
                        name: str) -> None:
    """A row with fewer fields than the header (pandas pads it silently) is an error."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    line = 0
    try:
        for line, record in enumerate(csv.reader(text, delimiter=sep), start=1):
            if record and len(record) != n_fields:
                raise ragged_row_error(name, line, len(record), n_fields)
    except csv.Error as exc:
        raise DataError(f"cannot parse the file as CSV at line {line + 1}: {short_text(exc)} "
                        "(an unbalanced quote?)", file=name, lines=[line + 1],
                        n_rows=1) from None


#: ``ids_as_arrow``: the first rows of a column looked at, and the share of distinct values
#: among them above which the column is an id (kept as Arrow text); a smaller file keeps
#: every column categorical (nothing to save there).
_ID_SAMPLE, _ID_DISTINCT_SHARE, _ID_MIN_ROWS = 10_000, 0.5, 1_000


def _read_csv_arrow(data: bytes, header: bytes, sep: str, *,
                    ids_as_arrow: bool = False) -> pd.DataFrame | None:
    """Every column as categorical text (cheap: few distinct values per column), or None.
    ``ids_as_arrow``: an id-like column (see `read_table`) as Arrow text instead."""
    import csv

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    for encoding in ("utf-8", "latin-1"):
        try:
            names = next(csv.reader([header.decode(encoding)], delimiter=sep))
        except (UnicodeDecodeError, StopIteration, csv.Error):
            continue
        if len(set(names)) != len(names):
            return None  # let the pandas reader and the column check report it
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(encoding="utf8" if encoding == "utf-8"
                                               else "latin1"),
                parse_options=pacsv.ParseOptions(delimiter=sep),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False, quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) and encoding == "utf-8":
                continue
            return None
        if not ids_as_arrow or table.num_rows < _ID_MIN_ROWS:
            return table.to_pandas(strings_to_categorical=True)
        columns = []
        for col in table.columns:
            head = col.slice(0, _ID_SAMPLE)
            many = pc.count_distinct(head).as_py() > _ID_DISTINCT_SHARE * len(head)
            columns.append(col if many else pc.dictionary_encode(col))
        # Dictionary columns become categoricals, string columns Arrow-backed text.
        return pa.table(columns, names=table.column_names).to_pandas(
            types_mapper=lambda t: pd.ArrowDtype(t) if t == pa.string() else None)
    return None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"cannot read the Parquet file: {short_text(exc)}",
                        file=path.name) from None
    df = df.reset_index(drop=True)
    _check_typed_range(df, path.name)
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s):
            continue  # typed timestamps are parsed as they are, not via text
        if pd.api.types.is_bool_dtype(s):
            df[col] = s.map({True: "true", False: "false"}).fillna("").astype(object)
        else:
            df[col] = s.astype(object).where(s.notna(), "").astype(str)
    df[LINE] = np.arange(2, len(df) + 2, dtype=np.int64)
    return df


def _check_typed_range(df: pd.DataFrame, name: str) -> None:
    """A typed (Parquet) timestamp column whose values pandas' nanosecond timestamps cannot
    hold (pandas keeps the file's unit, e.g. microseconds) is a `DataError`."""
    for i, col in enumerate(df.columns):
        s = df[col]
        if not pd.api.types.is_datetime64_any_dtype(s):
            continue
        per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[s.dt.unit]
        if per_ns == 1:
            continue
        raw = s.array.asi8
        bad = (np.abs(raw) > np.iinfo(np.int64).max // per_ns) & s.notna().to_numpy()
        if bad.any():
            lines = np.flatnonzero(bad)[:_SHOWN_LINES] + 2
            raise DataError(f"timestamp(s) {TS_RANGE_TEXT}: a placeholder date such as "
                            "9999-12-31 is not an event time", file=name,
                            column=normalise_name(col, i + 1), lines=lines,
                            n_rows=int(bad.sum()))


def normalise_name(col, position: int) -> str:
    """A column name trimmed, lower-cased, spaces and hyphens -> ``_``; a blank name
    becomes ``unnamed_<position>`` (1-based)."""
    norm = normalise_column(col)
    return norm or f"unnamed_{position}"


def repeated_names(columns: list) -> dict[str, list[int]]:
    """``{normalised name: [positions]}`` of the names that occur more than once."""
    where: dict[str, list[int]] = {}
    for i, col in enumerate(columns):
        where.setdefault(normalise_name(col, i + 1), []).append(i)
    return {k: v for k, v in where.items() if len(v) > 1}


def repeated_column_note(name: str, norm: str, positions: list[int]) -> Finding:
    cols = ", ".join(str(i + 1) for i in positions)
    return Finding("duplicate_columns", "warning", len(positions) - 1,
                   f"{name}: column {excerpt(norm)} appears {len(positions)} times (header "
                   f"columns {cols}, ignoring case) with identical values; the copies are "
                   "ignored")


def repeated_column_error(name: str, norm: str, positions: list[int], *, lines=(),
                          n_rows: int | None = None) -> DataError:
    cols = ", ".join(str(i + 1) for i in positions)
    return DataError(f"column name {excerpt(norm)} appears {len(positions)} times (header "
                     f"columns {cols}, ignoring case) with different values in {n_rows} "
                     "row(s): keep one",
                     file=name, column=norm[:EXCERPT], lines=lines, n_rows=n_rows)


def normalise_frame(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, tuple]:
    """Normalised column names; a repeated name is dropped with a warning when its
    columns hold identical text, and is a `DataError` otherwise."""
    columns = [c for c in df.columns if c != LINE]
    notes = []
    drop: set[int] = set()
    for norm, positions in repeated_names(columns).items():
        first = df.iloc[:, positions[0]].astype(str).to_numpy()
        differ = np.zeros(len(df), dtype=bool)
        for i in positions[1:]:
            differ |= df.iloc[:, i].astype(str).to_numpy() != first
        if differ.any():
            lines = df[LINE].to_numpy()[differ]
            raise repeated_column_error(name, norm, positions, lines=lines[:_SHOWN_LINES],
                                        n_rows=int(differ.sum()))
        notes.append(repeated_column_note(name, norm, positions))
        drop.update(positions[1:])
    keep = [i for i in range(df.shape[1]) if i not in drop]
    df = df.iloc[:, keep] if drop else df
    df.columns = [c if c == LINE else normalise_name(c, i + 1)
                  for i, c in zip(keep, df.columns, strict=True)]
    return df, tuple(notes)


def _drop_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c != LINE]
    first = df[cols[0]]
    if pd.api.types.is_datetime64_any_dtype(first) or not len(df):
        return df
    maybe = (first == "").to_numpy()
    if not maybe.any():
        return df
    blank = maybe.copy()
    for col in cols[1:]:
        s = df[col]
        blank &= s.isna().to_numpy() if pd.api.types.is_datetime64_any_dtype(s) else (
            (s == "").to_numpy())
    return df.loc[~blank].reset_index(drop=True) if blank.any() else df


# -------------------------------------------------------------------- column parsing


def fail(table: RawTable, column: str | None, mask, message: str) -> DataError:
    """A DataError naming the table, the column and the first offending lines."""
    mask = np.asarray(mask, dtype=bool)
    lines = table.data[LINE].to_numpy()[mask]
    return DataError(message, file=table.name, column=column,
                     lines=lines[:_SHOWN_LINES], n_rows=int(mask.sum()))


def require_columns(table: RawTable, columns) -> None:
    have = [c for c in table.data.columns if c != LINE]
    for col in columns:
        if col not in table.data.columns:
            raise DataError(f"missing required column '{col}' (the file has: "
                            f"{columns_text(have)})",
                            file=table.name, column=col, lines=[1], n_rows=1)


def columns_text(columns: list, shown: int = 8) -> str:
    """Column names as a short list: at most ``shown`` names, each cut to 30 characters
    (control characters escaped)."""
    def short(col) -> str:
        col = str(col) if str(col).isprintable() else repr(str(col))[1:-1]
        return col if len(col) <= 30 else col[:30] + "..."

    text = ", ".join(short(c) for c in columns[:shown])
    return text + (f", ... ({len(columns)} columns)" if len(columns) > shown else "")


def _examples(values: pd.Series, mask) -> str:
    bad = pd.unique(values.to_numpy()[np.asarray(mask, dtype=bool)])[:5]
    return ", ".join(excerpt(v) for v in bad)


_YEAR = re.compile(r"^\s*[+-]?(\d{4,})-\d")


def out_of_range_text(values) -> np.ndarray:
    """Which unparsed ISO 8601 texts failed because their year is outside pandas' range
    (a date such as 9999-12-31 is valid ISO 8601, but not a nanosecond timestamp)."""
    years = np.array([int(m.group(1)) if (m := _YEAR.match(str(v))) else 2000
                      for v in values], dtype=np.int64)
    return (years <= TS_MIN.year) | (years >= TS_MAX.year)


_ISO_EXPECTED = ("expected ISO 8601 such as 2024-05-05T14:03:00 or "
                 "2024-05-05T14:03:00+02:00")


def parse_ids(table: RawTable, column: str = "customer_id") -> pd.Series:
    """Trimmed customer ids; an empty one is fatal."""
    ids = table.data[column].astype(str).str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        raise fail(table, column, empty, "empty customer_id")
    return ids


def customer_codes(table: RawTable, known: pd.Index, column: str = "customer_id") -> np.ndarray:
    """Position of each row's (trimmed) customer id in ``known``, -1 when not there.

    Trims and looks up the distinct ids only: one hash pass over the column.
    """
    codes, uniques = pd.factorize(table.data[column], use_na_sentinel=False)
    trimmed = pd.Index([str(u).strip() for u in uniques], dtype=object)
    empty = (trimmed == "")[codes] if len(codes) else np.zeros(0, dtype=bool)
    if empty.any():
        raise fail(table, column, empty, "empty customer_id")
    return known.get_indexer(trimmed)[codes].astype(np.int64)


def parse_labels(table: RawTable, column: str, labels: dict, expected: str) -> pd.Series:
    """Map text labels (trimmed, any case) through ``labels``; an unknown one is fatal.

    Returns a categorical Series (cheap to compare, group and de-duplicate).
    """
    codes, uniques = pd.factorize(table.data[column], use_na_sentinel=False)
    keys = [str(u).strip().lower() for u in uniques]
    known = np.array([k in labels for k in keys], dtype=bool)
    bad = ~known[codes] if len(codes) else np.zeros(0, dtype=bool)
    if bad.any():
        raise fail(table, column, bad,
                   f"unknown {column} label(s) {_examples(table.data[column], bad)}; "
                   f"expected {expected}")
    categories = list(dict.fromkeys(labels.values()))
    position = {c: i for i, c in enumerate(categories)}
    recode = np.array([position.get(labels.get(k), -1) for k in keys] or [-1], dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(recode[codes] if len(codes) else [], categories),
                     index=table.data.index)


def parse_task(table: RawTable, column: str = "task") -> pd.Series:
    codes, uniques = pd.factorize(table.data[column], use_na_sentinel=False)
    nums = pd.to_numeric(pd.Series([str(u).strip() for u in uniques], dtype=object),
                         errors="coerce").to_numpy(dtype=float)
    ok = np.isin(nums, np.array(TASKS, dtype=float))
    bad = ~ok[codes]
    if bad.any():
        raise fail(table, column, bad,
                   f"task outside 1..3: {_examples(table.data[column], bad)}; "
                   "expected 1, 2 or 3")
    values = np.where(ok, nums, 0).astype(np.int64)
    return pd.Series(values[codes], index=table.data.index)


def parse_timestamps(table: RawTable, column: str) -> pd.Series:
    """ISO 8601 text (or typed Parquet timestamps) -> datetime64[ns, UTC]; naive = UTC."""
    s = table.data[column]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(s):
        out = s.dt.tz_localize("UTC")
    elif isinstance(s.dtype, pd.CategoricalDtype):  # parse each distinct text once
        codes = s.cat.codes.to_numpy()
        parsed = _parse_iso_text(pd.Series(s.cat.categories.astype(str), dtype=object))
        out = pd.Series(parsed.dt.as_unit("ns").array.take(codes), index=s.index)
    else:
        out = _parse_iso_text(s.astype(str))  # the parser ignores surrounding blanks
    out = out.dt.as_unit("ns")
    bad = out.isna().to_numpy()
    if bad.any():
        text = s if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            s) else s.astype(str)
        outside = np.zeros(len(s), dtype=bool)
        if text.dtype == object:
            outside[bad] = out_of_range_text(text[bad].to_numpy())
        unparseable = bad & ~outside
        if unparseable.any():
            raise fail(table, column, unparseable,
                       f"unparseable timestamp(s) {_examples(s, unparseable)}; {_ISO_EXPECTED}")
        raise fail(table, column, outside,
                   f"timestamp(s) {_examples(s, outside)} {TS_RANGE_TEXT}: a placeholder date "
                   "such as 9999-12-31 is not an event time")
    return out


def optional_timestamps(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """An optional timestamp column: (parsed, NaT when blank or bad; mask of the values
    that are not blank and do not parse or are out of range). Nothing is fatal."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.as_unit("ns"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_datetime64_dtype(s):
        return s.dt.tz_localize("UTC").dt.as_unit("ns"), np.zeros(len(s), dtype=bool)
    codes, uniques = pd.factorize(s.astype(str).str.strip(), use_na_sentinel=False)
    parsed = _parse_iso_text(pd.Series(uniques, dtype=object)).dt.as_unit("ns")
    bad_u = (parsed.isna().to_numpy() & (np.asarray(uniques, dtype=object) != ""))
    out = pd.Series(parsed.array.take(codes), index=s.index) if len(codes) else pd.Series(
        pd.DatetimeIndex([], tz="UTC"), index=s.index)
    return out, bad_u[codes] if len(codes) else np.zeros(0, dtype=bool)


def _parse_iso_text(s: pd.Series) -> pd.Series:
    # pandas' ISO8601 parser shifts a naive value that follows one with an offset by
    # that offset, so values with and without an offset are parsed apart (the regex
    # runs in pyarrow: a few million values in well under a second).
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    has_offset = pc.match_substring_regex(arr, _OFFSET.pattern).to_numpy(zero_copy_only=False)
    has_offset = np.asarray(has_offset, dtype=bool)
    if not has_offset.any() or has_offset.all():
        return pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce")
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    for mask in (has_offset, ~has_offset):
        out.loc[mask] = pd.to_datetime(s[mask], utc=True, format="ISO8601",
                                       errors="coerce").dt.as_unit("ns")
    return out


# ------------------------------------------------------------------- the four tables


def parse_cohorts(table: RawTable) -> pd.DataFrame:
    require_columns(table, REQUIRED_COLUMNS["cohorts"])
    df = table.data.copy()
    df["customer_id"] = parse_ids(table)
    df["cohort"] = parse_labels(table, "cohort", COHORT_LABELS, "Test or Control")
    return df


def parse_activity(table: RawTable, known: pd.Index) -> tuple[RawTable, pd.DataFrame]:
    """Long-form activity; a wide file is first turned into long form (its own lines kept).

    ``known`` holds the cohort customer ids: ``_cid`` is each row's position there.
    """
    cols = set(table.data.columns)
    wide = [c for c in table.data.columns if WIDE_TASK_COLUMN.match(c)]
    if "action" not in cols and "customer_id" in cols and wide:
        table = _wide_to_long(table, wide)
    require_columns(table, REQUIRED_COLUMNS["activity"])
    df = table.data.copy()
    df["_cid"] = customer_codes(table, known)
    df["task"] = parse_task(table)
    df["action"] = parse_labels(table, "action", ACTION_LABELS, "start or complete")
    df["timestamp"] = parse_timestamps(table, "timestamp")
    return table, df


def _wide_to_long(table: RawTable, wide: list[str]) -> RawTable:
    data = table.data
    for col in wide:
        task = int(wide_task_column(col)[0])
        if task not in TASKS:
            filled = (data[col].astype(str).str.strip() != "").to_numpy()
            raise fail(table, col, filled if filled.any() else np.ones(len(data), bool),
                       f"task outside 1..3: wide column {excerpt(col)} is for task {task}; "
                       "expected task1..task3")
    parts = []
    for col in wide:  # a handful of columns, not a loop over customers
        task, action = wide_task_column(col)
        s = data[col]
        filled = (s.notna() if pd.api.types.is_datetime64_any_dtype(s)
                  else s.astype(str).str.strip() != "")
        part = pd.DataFrame({
            "customer_id": data["customer_id"][filled],
            "task": task,
            "action": action,
            "timestamp": s[filled],
            LINE: data[LINE][filled],
        })
        parts.append(part)
    long = pd.concat(parts, ignore_index=True).sort_values(LINE, kind="stable")
    return RawTable(name=table.name, data=long.reset_index(drop=True), n_read=table.n_read,
                    notes=table.notes)


def parse_help(table: RawTable, known: pd.Index) -> pd.DataFrame:
    require_columns(table, REQUIRED_COLUMNS["help"])
    df = table.data.copy()
    df["_cid"] = customer_codes(table, known)
    df["task"] = parse_task(table)
    df["channel"] = parse_labels(table, "channel", CHANNEL_LABELS, "CS or OTHER")
    df["timestamp"] = parse_timestamps(table, "timestamp")
    if "cs_type" in df.columns:
        # Few distinct values: normalise those, not every row.
        codes, uniques = pd.factorize(df["cs_type"].astype(str), use_na_sentinel=False)
        norm = np.array([str(u).strip().lower() for u in uniques] or [""], dtype=object)
        df["cs_type"] = norm[codes]
    else:
        df["cs_type"] = ""
    return df


def parse_conversion(table: RawTable, known: pd.Index) -> pd.DataFrame:
    require_columns(table, REQUIRED_COLUMNS["conversion"])
    df = table.data.copy()
    df["_cid"] = customer_codes(table, known)
    df["converted"] = parse_labels(table, "converted", BOOL_LABELS,
                                   "0/1, true/false, t/f or yes/no").astype(bool)
    return df


def _empty_help(name: str) -> RawTable:
    data = pd.DataFrame({c: pd.Series(dtype=object) for c in REQUIRED_COLUMNS["help"]})
    data[LINE] = pd.Series(dtype=np.int64)
    return RawTable(name=name, data=data, n_read=0)


def _read_help(path: Path) -> RawTable:
    try:
        return read_table(path)
    except DataError as exc:
        # A header-only help file is plausible (nobody was flagged); a file without
        # even a header is not.
        if exc.n_rows == 0 and "no data rows" in exc.reason:
            return _empty_help(path.name)
        raise


# ----------------------------------------------------------------------------- entry


def load_experiment_with_counts(
    path: str | Path, *, design_test_share: float = DESIGN_TEST_SHARE,
) -> tuple[ExperimentData, dict[str, int]]:
    """Like `load_experiment`, also returning the data rows read per file name."""
    from bayes_ab.data.frame import build_tables
    from bayes_ab.data.schema import Finding
    from bayes_ab.data.validate import (
        Ledger,
        check_experiment,
        clean_cohorts,
        clean_events,
        input_findings,
    )

    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}", file=str(folder))
    paths = {key: find_file(folder, stem) for key, stem in EXPERIMENT_FILES.items()}
    raw = {
        "cohorts": read_table(paths["cohorts"]),
        "activity": read_table(paths["activity"]),
        "help": _read_help(paths["help"]),
        "conversion": read_table(paths["conversion"]),
    }
    names = {key: table.name for key, table in raw.items()}
    ledger = Ledger()
    parsed_cohorts = parse_cohorts(raw["cohorts"])
    cohorts = clean_cohorts(parsed_cohorts, name=names["cohorts"], ledger=ledger)
    known = pd.Index(cohorts["customer_id"])
    raw["activity"], activity = parse_activity(raw["activity"], known)
    help_ = (parse_help(raw["help"], known) if raw["help"].n_read
             else _typed_empty_help())
    conversion = parse_conversion(raw["conversion"], known)
    notes = [note for table in raw.values() for note in table.notes]
    notes += input_findings(cohorts=parsed_cohorts, activity=activity, help=help_,
                            conversion=conversion, names=names)

    cleaned = clean_events(cohorts=cohorts, activity=activity, help=help_,
                           conversion=conversion, names=names, ledger=ledger)
    frame, episodes, attempts, observation_end = build_tables(
        cleaned.cohorts, cleaned.activity, cleaned.help, cleaned.conversion,
    )
    findings = notes + list(cleaned.findings)
    if raw["help"].n_read == 0:
        findings.append(Finding("no_help_flags", "warning", 0,
                                f"{names['help']} has no rows: nobody was flagged as stuck"))
    findings += check_experiment(frame=frame, help_episodes=episodes,
                                 activity_name=names["activity"], help_name=names["help"],
                                 design_test_share=design_test_share)
    data = ExperimentData(
        frame=frame, help_episodes=episodes, task_attempts=attempts,
        observation_end=observation_end, findings=tuple(findings),
        dropped=dict(cleaned.dropped), source=str(folder),
    )
    return data, {t.name: t.n_read for t in raw.values()}


def load_experiment(path: str | Path, *,
                    design_test_share: float = DESIGN_TEST_SHARE) -> ExperimentData:
    """Load, validate and derive the analysis tables from the experiment's folder.

    Raises `DataError` for fatal problems (see the module docstring); everything
    else dropped or imputed is in ``.dropped`` and ``.findings``. The sample-ratio
    check compares the Test share with ``design_test_share``.
    """
    return load_experiment_with_counts(path, design_test_share=design_test_share)[0]


def _typed_empty_help() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series(dtype=object),
        "_cid": pd.Series(dtype=np.int64),
        "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
        "task": pd.Series(dtype=np.int64),
        "channel": pd.Series(pd.Categorical([], categories=list(CHANNELS))),
        "cs_type": pd.Series(dtype=object),
        LINE: pd.Series(dtype=np.int64),
    })
