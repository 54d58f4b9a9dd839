"""Reading a forensics folder: which kind it is, and each file's cells as text.

The files are read by the analysis loader's reader (`bayes_ab.data.load.read_table`),
so an unreadable file fails with the same message as ``bayes-ab validate``, but the
checks see the rows *before* cleaning, because they look at exactly what the loader
cleans away: duplicates, blanks, the precision of the timestamps, the shape of the ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bayes_ab.errors import DataError

#: The two kinds of folder the checks know.
Kind = Literal["experiment", "lead_funnel"]

SUFFIXES = (".csv", ".csv.gz", ".parquet")
EXPERIMENT_STEMS = ("test_cohorts", "product_activity", "help_activity", "conversion")
LEAD_STEMS = ("leads", "events")


def find_table(folder: Path, stem: str) -> Path | None:
    for p in sorted(folder.iterdir()):
        if p.is_file() and any(p.name.lower() == stem + s for s in SUFFIXES):
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


def detect_kind(path: str | Path) -> Kind:
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}", file=str(folder))
    if find_table(folder, "leads") and find_table(folder, "events"):
        return "lead_funnel"
    if find_table(folder, "test_cohorts"):
        return "experiment"
    raise DataError(
        "found neither the experiment files (test_cohorts, product_activity, help_activity, "
        "conversion) nor the lead-funnel files (leads, events)", file=str(folder))


def parse_timestamps(s: pd.Series) -> pd.Series:
    """Text timestamps -> datetime64[ns, UTC] (NaT for blanks and unparseable values)."""
    return pd.to_datetime(s.replace("", None), utc=True, format="ISO8601", errors="coerce")


def timestamp_resolution(ts: pd.Series, *, share: float = 0.99) -> tuple[str, float]:
    """The coarsest unit that (at least `share` of) the timestamps are multiples of, in s."""
    ns = ts.dropna().astype("int64").to_numpy()
    for name, unit in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1),
                       ("millisecond", 1e-3), ("microsecond", 1e-6)):
        if ns.size == 0 or np.mean(ns % int(round(unit * 1e9)) == 0) >= share:
            return name, float(unit)
    return "nanosecond", 1e-9


def validate_folder(folder: Path, kind: str) -> None:
    """Load the folder through the analysis loaders: their `DataError` if they refuse it."""
    if kind == "experiment":
        from bayes_ab.data.load import load_experiment

        load_experiment(folder)
    else:
        from bayes_ab.data.funnel import load_funnel

        load_funnel(find_table(folder, "leads"), find_table(folder, "events"))
