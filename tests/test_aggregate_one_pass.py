"""The engine reads each file once (issue 16, item 3) and still gives exactly the pandas
loader's statistics and counts, on typed Parquet with exact duplicates in every file,
rows of unknown customers, and NULLs in the optional columns."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from bayes_ab.aggregate import aggregate_experiment, read
from bayes_ab.data.load import load_experiment

from test_aggregate import assert_equal_paths  # noqa: E402

FILES = ("test_cohorts", "product_activity", "help_activity", "conversion")


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, dict]:
    return _dirty_folder(tmp_path_factory.mktemp("dirty"))


def _dirty_folder(folder: Path) -> tuple[Path, dict]:
    """Simulated typed Parquet, then: duplicates appended to each file (some rows twice),
    rows of unknown ids in each event file, NULL joined_at / cs_type / converted_at.
    Returns the folder and the dropped-row counts expected."""
    from bayes_ab.simulate import simulate, write_simulation

    folder.mkdir(parents=True, exist_ok=True)
    write_simulation(simulate(n=1500, seed=7, truth=False), folder, fmt="parquet")
    frames = {f: pd.read_parquet(folder / f"{f}.parquet") for f in FILES}
    before = {f: int(df.duplicated().sum()) for f, df in frames.items()}
    c = frames["test_cohorts"]
    c.loc[c.index[::50], "joined_at"] = pd.NaT
    h = frames["help_activity"]
    h.loc[h.index[::7], "cs_type"] = None
    added = {}
    for f, df in frames.items():
        dup = pd.concat([df.iloc[[3, 10, 10, 25]], df.iloc[[40]]])
        added[f] = len(dup)
        frames[f] = df = pd.concat([df, dup], ignore_index=True)
        if f != "test_cohorts":
            ghost = df.iloc[[0, 1]].copy()
            ghost["customer_id"] = ["ghost_1", "ghost_2"]
            frames[f] = pd.concat([df, ghost, ghost.iloc[[0]]], ignore_index=True)
    for f, df in frames.items():
        df.to_parquet(folder / f"{f}.parquet", index=False)
    # Unknown customers' rows are excluded first (the repeated ghost row among them),
    # then exact duplicates are counted among the known rows.
    expected = {f"{f}_duplicate_rows": before[f] + added[f] for f in FILES}
    expected.update({f"{f}_unknown_customer": 3 for f in FILES[1:]})
    return folder, expected


def test_dirty_typed_parquet_matches_pandas_exactly(dirty):
    folder, expected = dirty
    agg = aggregate_experiment(folder)
    assert_equal_paths(folder, agg)
    data = load_experiment(folder)
    for key, count in expected.items():
        assert agg.dropped[key] == data.dropped[key] == count, key
    assert agg.rows_read == {f"{f}.parquet": len(pd.read_parquet(folder / f"{f}.parquet"))
                             for f in FILES}


class _Recorder:
    """Stands in for the DuckDB connection under an Ibis backend: records every query."""

    def __init__(self, real, seen: list[str]):
        self._real, self._seen = real, seen

    def __getattr__(self, name):
        return getattr(self._real, name)

    def execute(self, query, *args, **kwargs):
        self._seen.append(str(query))
        out = self._real.execute(query, *args, **kwargs)
        # DuckDB's execute returns the connection itself, used as the cursor (Ibis inserts
        # a table's rows through it): keep recording there too.
        return self if out is self._real else out

    def sql(self, query, *args, **kwargs):
        self._seen.append(str(query))
        return self._real.sql(query, *args, **kwargs)


def _recorded_aggregation(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Every query of one aggregation of ``folder`` on DuckDB, and ``{file stem: the
    name of the view that reads it}``."""
    con = read.connect("duckdb")
    seen: list[str] = []
    con.con = _Recorder(con.con, seen)
    try:
        aggregate_experiment(folder, con=con)
    finally:
        read.close(con)
    views = {}
    for q in seen:
        m = re.match(r'CREATE OR REPLACE TEMPORARY VIEW "(\w+)" AS SELECT \* FROM '
                     r"READ_PARQUET\(\['([^']+)'\]", q)
        if m:
            views[Path(m.group(2)).stem] = m.group(1)
    return seen, views


def test_each_file_is_read_by_one_query(dirty):
    """Every count (rows, fatal checks, optional-column findings, duplicates, unknown
    customers) comes from one grouped scan of each file: no other query reads it."""
    folder, _ = dirty
    seen, views = _recorded_aggregation(folder)
    assert set(views) == set(FILES)
    for stem, view in views.items():
        reads = [q for q in seen if f'"{view}"' in q
                 and not q.startswith(("CREATE OR REPLACE TEMPORARY VIEW", "DESCRIBE"))]
        assert len(reads) == 1, (stem, len(reads))


def test_events_joined_in_two_statements_give_the_same_counts(dirty, monkeypatch):
    """The low-memory form of the events read (joined to the codes and materialised,
    then grouped: what runs when the ids' hash table would not fit the memory limit four
    times) gives the same statistics and counts as the one-statement form."""
    from bayes_ab.aggregate import engine

    folder, expected = dirty
    monkeypatch.setattr(engine, "_join_fits", lambda run, ids: False)
    agg = aggregate_experiment(folder)
    assert_equal_paths(folder, agg)
    for key, count in expected.items():
        assert agg.dropped[key] == count, key


def test_the_low_memory_read_joins_before_it_groups(dirty, monkeypatch):
    """When the ids' hash table would not fit the memory limit (100M customers under the
    default 3 GB), an event file's rows are joined to the integer codes and materialised
    before any grouping: no statement groups rows by the text id (a hash aggregate of
    350M text-keyed rows ran out of memory at 100M on DuckDB 2.0.1), and from then on
    the intermediates are tables of the engine's database (stored compressed), not
    temporary tables (written uncompressed when they spill)."""
    from bayes_ab.aggregate import engine

    folder, _ = dirty
    monkeypatch.setattr(engine, "_join_fits", lambda run, ids: False)
    seen, views = _recorded_aggregation(folder)
    # Only the cohorts are grouped straight from their file; each event file is read
    # by its join, whose materialised rows are grouped afterwards.
    grouped_from_file = [stem for q in seen if "GROUP BY" in q
                         for stem, v in views.items() if f'"{v}"' in q]
    assert grouped_from_file == ["test_cohorts"]
    creates = [q for q in seen if q.startswith("CREATE") and "bayes_ab_agg" in q]
    assert creates[0].startswith("CREATE TEMPORARY TABLE")  # cohorts, before the size
    assert len(creates) > 5 and all(q.startswith("CREATE TABLE") for q in creates[1:])


def test_duckdb_sizes():
    from bayes_ab.aggregate.engine import _duckdb_bytes

    assert _duckdb_bytes("2.7 GiB") == 2.7 * 2**30
    assert _duckdb_bytes("66.7 MiB") == 66.7 * 2**20
    assert _duckdb_bytes("3.0 GB") == 3e9
    assert _duckdb_bytes("1000 bytes") == 1000
    assert _duckdb_bytes("unlimited") is None
