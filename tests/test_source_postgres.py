"""`bayes-ab analyze --source postgresql://...`: the experiment read from PostgreSQL.

Needs a server: env ``BAYES_AB_TEST_PG`` is a URL of a database where the test may
create (and drops again) a schema, e.g. ``postgresql://bayes_ab@127.0.0.1:5432/bayes_ab``
with the password in ``PGPASSWORD`` or ``~/.pgpass``. `.ci/run` starts a throw-away
cluster (Debian's ``postgresql`` package) and sets it; without it the server tests are
skipped with that reason. The connection-error tests need only the driver (the
``postgres`` extra).

The shipped example is loaded typed (integer tasks, TIMESTAMPTZ times, boolean
``converted``; help_activity as text) into a fresh schema; `analyze` from it gives the
counts of `analyze` from the folder exactly and its posteriors within Monte-Carlo error
at the same seed, and every model's statistics equal the pandas loader's.
"""

from __future__ import annotations

import os
import uuid

import pytest

from bayes_ab.cli.main import main

psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not "
                              "installed: pip install '.[postgres]'")

from test_source_duckdb import (  # noqa: E402
    EXAMPLE,
    TINY,
    assert_same_analysis,
    example_frames,
    run_analyze,
)

PG_URL = os.environ.get("BAYES_AB_TEST_PG")
needs_server = pytest.mark.skipif(
    not PG_URL, reason="no PostgreSQL server: set BAYES_AB_TEST_PG to a postgresql:// URL "
    "(.ci/run starts one)")


def _tables(schema: str) -> str:
    return ",".join(f"{schema}.{t}" for t in ("test_cohorts", "product_activity",
                                             "help_activity", "conversion"))


@pytest.fixture(scope="session")
def pg_schema():
    """A fresh schema holding the example's four tables (dropped at the end)."""
    if not PG_URL:
        pytest.skip("no PostgreSQL server: set BAYES_AB_TEST_PG (.ci/run starts one)")
    import ibis

    try:
        raw = psycopg.connect(PG_URL, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        pytest.fail(f"BAYES_AB_TEST_PG is set but the server cannot be reached: {exc}")
    schema = f"bayes_ab_test_{uuid.uuid4().hex[:10]}"
    raw.execute(f'CREATE SCHEMA "{schema}"')
    con = ibis.postgres.from_connection(raw)
    try:
        for name, df in example_frames().items():
            con.create_table(name, df, database=schema)
        yield schema
    finally:
        raw.execute(f'DROP SCHEMA "{schema}" CASCADE')
        raw.close()


@pytest.fixture(scope="module")
def files_run(tmp_path_factory) -> dict:
    return run_analyze([str(EXAMPLE)], tmp_path_factory.mktemp("files") / "out")


@needs_server
def test_column_types_are_database_types(pg_schema):
    with psycopg.connect(PG_URL) as c:
        rows = dict(c.execute(
            "SELECT table_name || '.' || column_name, data_type FROM "
            "information_schema.columns WHERE table_schema = %s", (pg_schema,)).fetchall())
    assert rows["product_activity.task"] == "bigint"
    assert rows["product_activity.timestamp"] == "timestamp with time zone"
    assert rows["conversion.converted"] == "boolean"
    assert rows["help_activity.timestamp"] in ("text", "character varying")


@needs_server
def test_statistics_equal_the_files(pg_schema):
    from test_aggregate import assert_equal_paths

    from bayes_ab.aggregate.source import aggregate_source, parse_source

    agg = aggregate_source(parse_source(PG_URL, _tables(pg_schema)))
    assert agg.backend == "postgres"
    assert_equal_paths(EXAMPLE, agg=agg)
    with psycopg.connect(PG_URL) as c:  # nothing left behind in the user's schemas
        left = c.execute("SELECT count(*) FROM information_schema.tables WHERE "
                         "table_name LIKE 'ibis_%%' AND table_schema NOT LIKE 'pg_temp%%'"
                         ).fetchone()[0]
    assert left == 0


@needs_server
def test_analyze_from_postgres_equals_files(pg_schema, files_run, tmp_path, monkeypatch):
    """Credentials from the environment: the URL on the command line has no password."""
    from bayes_ab.aggregate.source import _pg_params

    params = _pg_params(PG_URL)
    password = params.get("password") or os.environ.get("PGPASSWORD")
    url = _without_password(PG_URL)
    if password:
        monkeypatch.setenv("PGPASSWORD", password)
    db = run_analyze(["--source", url, "--tables", _tables(pg_schema)], tmp_path / "out")
    assert db["input"]["engine"] == "postgres"
    assert db["input"]["source"] == url
    assert_same_analysis(files_run, db)
    assert (tmp_path / "out" / "report.md").is_file()


@needs_server
def test_password_from_pgpass_file(pg_schema, tmp_path, monkeypatch):
    from bayes_ab.aggregate.source import _pg_params, aggregate_source, parse_source

    params = _pg_params(PG_URL)
    password = params.get("password") or os.environ.get("PGPASSWORD")
    if not password:
        pytest.skip("the test server needs no password (trust authentication)")
    passfile = tmp_path / "pgpass"
    host = params.get("host") or os.environ.get("PGHOST", "localhost")
    port = params.get("port") or os.environ.get("PGPORT", "5432")
    user = params.get("user") or os.environ.get("PGUSER", "*")
    passfile.write_text(f"{host}:{port}:*:{user}:{password}\n")
    passfile.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    agg = aggregate_source(parse_source(_without_password(PG_URL), _tables(pg_schema)))
    assert agg.n_customers == 20000


@needs_server
def test_missing_table_and_column(pg_schema, tmp_path, capsys):
    tables = _tables(pg_schema).replace("help_activity", "help_events")
    rc = main(["analyze", "--source", PG_URL, "--tables", tables, "--out",
               str(tmp_path / "a"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and f"table {pg_schema}.help_events: no such table" in err
    assert "help_activity" in err and "Traceback" not in err
    _assert_no_password(err)
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE TABLE "{pg_schema}".conv2 AS SELECT customer_id, converted_at '
                  f'FROM "{pg_schema}".conversion')
    rc = main(["analyze", "--source", PG_URL, "--tables",
               _tables(pg_schema).replace(".conversion", ".conv2"), "--out",
               str(tmp_path / "b"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"table {pg_schema}.conv2, column 'converted': missing required column" in err


@needs_server
def test_unparseable_text_timestamp(pg_schema, tmp_path, capsys):
    """PostgreSQL has no TRY_CAST: a bad value in a text column is counted and named like
    on DuckDB, not a server error."""
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE TABLE "{pg_schema}".help2 AS SELECT * FROM '
                  f'"{pg_schema}".help_activity')
        c.execute(f"UPDATE \"{pg_schema}\".help2 SET timestamp = 'yesterday' WHERE ctid IN "
                  f'(SELECT ctid FROM "{pg_schema}".help2 LIMIT 2)')
        c.execute(f"UPDATE \"{pg_schema}\".help2 SET task = 'two' WHERE ctid IN "
                  f'(SELECT ctid FROM "{pg_schema}".help2 LIMIT 1 OFFSET 5)')
    rc = main(["analyze", "--source", PG_URL, "--tables",
               _tables(pg_schema).replace("help_activity", "help2"), "--out",
               str(tmp_path / "a"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"table {pg_schema}.help2, column 'task': task outside 1..3" in err
    assert "1 row(s)" in err


def test_unreachable_server_names_host_not_password(tmp_path, capsys):
    for url, host in (("postgresql://alice:Sup3rSecret@127.0.0.1:1/exp", "127.0.0.1:1"),
                      ("postgresql://alice:Sup3rSecret@no-such-host.invalid/exp",
                       "no-such-host.invalid:5432")):
        rc = main(["analyze", "--source", url, "--out", str(tmp_path / "o"), *TINY])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert f"cannot connect to the PostgreSQL server at {host}" in err
        _assert_no_password(err, "Sup3rSecret")
        assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_wrong_password_is_not_printed(pg_url_or_local, tmp_path, capsys):
    url = _without_password(pg_url_or_local)
    from bayes_ab.aggregate.source import _pg_params

    user = _pg_params(url).get("user") or "postgres"
    host_part = url.split("@", 1)[-1] if "@" in url else url.split("://", 1)[1]
    bad = f"postgresql://{user}:Wr0ngPassw0rd@{host_part}"
    rc = main(["analyze", "--source", bad, "--out", str(tmp_path / "o"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    _assert_no_password(err, "Wr0ngPassw0rd")


@pytest.fixture
def pg_url_or_local():
    if not PG_URL:
        pytest.skip("no PostgreSQL server: set BAYES_AB_TEST_PG (.ci/run starts one)")
    return PG_URL


def _without_password(url: str) -> str:
    import re

    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1@", url)


def _assert_no_password(text: str, secret: str | None = None) -> None:
    from bayes_ab.aggregate.source import _pg_params

    for s in filter(None, (secret, _pg_params(PG_URL or "").get("password"),
                           os.environ.get("PGPASSWORD"))):
        assert s not in text



@needs_server
def test_text_parsing_matches_duckdb(pg_schema):
    """`read.timestamp` / `read.task` on PostgreSQL text (regex-guarded casts) give what
    DuckDB's TRY_CAST gives: the same values parsed, the same ones NULL."""
    import ibis
    import numpy as np
    import pandas as pd

    from bayes_ab.aggregate import read

    values = ["2024-05-05T14:03:00Z", "2024-05-05 14:03", "2024-05-05",
              "2024-05-05T14:03:00.123+02:00", "2024-05-05T14:03:00+0200",
              "2024-05-05T14:03:00+02", "2024-05-05T14:03:00 +02:00", "garbage", "",
              "2024-13-01", "2024-05-05t14:03:00z", "  2024-05-05T01:00:00  ", "05/05/2024"]
    tasks = ["1", " 2 ", "3.0", "x", "", "1e0", "4", "2.5", "+3", ".", "1.", "-1", "3"]
    df = pd.DataFrame({"v": values, "k": tasks})
    with psycopg.connect(PG_URL, autocommit=True) as raw:
        con = ibis.postgres.from_connection(raw)
        t = con.create_table("parse", df, database=pg_schema)
        got = t.select(t.v, ts=read.timestamp(t.v), task=read.task(t.k)).execute()
    duck = read.connect("duckdb", database=":memory:")
    m = ibis.memtable(df)
    want = duck.execute(m.select(m.v, ts=read.timestamp(m.v), task=read.task(m.k)))
    got = got.set_index("v").loc[values]
    want = want.set_index("v").loc[values]
    assert got["ts"].isna().tolist() == want["ts"].isna().tolist()
    ok = want["ts"].notna()
    np.testing.assert_array_equal(pd.to_datetime(got["ts"][ok]).to_numpy(),
                                  pd.to_datetime(want["ts"][ok]).to_numpy())
    assert got["task"].fillna(-9).tolist() == want["task"].fillna(-9).tolist()
    assert int(got["ts"].notna().sum()) == 7


@needs_server
def test_compare_from_a_postgres_table(pg_schema, tmp_path):
    """`compare --source postgresql://... --table schema.t` equals the CSV export's run."""
    import json

    import ibis
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(4)
    arms = np.repeat(["control", "variant_b"], [300, 300])
    clicked = rng.random(600) < np.where(arms == "control", 0.2, 0.26)
    df = pd.DataFrame({"variant": arms, "clicked": clicked})
    csv = tmp_path / "export.csv"
    df.assign(clicked=df["clicked"].astype(int)).to_csv(csv, index=False)
    with psycopg.connect(PG_URL, autocommit=True) as raw:
        ibis.postgres.from_connection(raw).create_table("ab_export", df, database=pg_schema)
    common = ["--group-col", "variant", "--outcome-col", "clicked", "--seed", "5",
              "--no-figures"]
    assert main(["compare", str(csv), "--out", str(tmp_path / "f"), *common]) == 0
    assert main(["compare", "--source", PG_URL, "--table", f"{pg_schema}.ab_export",
                 "--out", str(tmp_path / "d"), *common]) == 0
    a = json.loads((tmp_path / "f" / "compare.json").read_text())
    b = json.loads((tmp_path / "d" / "compare.json").read_text())
    assert a["input"]["counts"] == b["input"]["counts"]
    assert a["input"]["counts"]["control"]["successes"] == int(clicked[:300].sum())
    assert a["arms"] == b["arms"] and a["decision"] == b["decision"]


def _load_folder(schema: str, folder, prefix: str, *, text: bool) -> str:
    """The folder's four files as tables ``<prefix>_<stem>`` in the schema: every column
    text (as a CSV export lands) or the files' own types (Parquet). Returns --tables."""
    import ibis
    import pandas as pd

    stems = ("test_cohorts", "product_activity", "help_activity", "conversion")
    raw = psycopg.connect(PG_URL, autocommit=True)
    try:
        con = ibis.postgres.from_connection(raw)
        for stem in stems:
            path = next(folder.glob(f"{stem}.*"))
            df = (pd.read_csv(path, dtype=str, keep_default_na=False) if text
                  else pd.read_parquet(path))
            con.create_table(f"{prefix}_{stem}", df, database=schema)
    finally:
        raw.close()
    return ",".join(f"{schema}.{prefix}_{s}" for s in stems)


@needs_server
@pytest.mark.parametrize("two_statements", [False, True])
def test_edge_cases_equal_the_files_on_postgres(pg_schema, tmp_path, monkeypatch,
                                                two_statements):
    """The engine's rarer branches, in PostgreSQL's SQL dialect (which refuses what
    DuckDB lets pass: a boolean cast to bigint, a column named like a system column such
    as ``cmin``): completions before the start, repeated completions with flags between
    them, exact duplicates, unknown customers, messy labels and column names, in text
    columns; and the events joined in one statement or in two."""
    from test_aggregate import _messy, _write, assert_equal_paths

    from bayes_ab.aggregate import engine
    from bayes_ab.aggregate.source import aggregate_source, parse_source

    files = _messy()
    files["product_activity.csv"] += "".join([
        "c4,3,complete,2026-05-05T13:30:00Z\n", "c4,3,complete,2026-05-05T14:30:00Z\n",
        "c1,1,complete,2026-05-05T12:00:00Z\n", "c1,1,complete,2026-05-05T13:00:00Z\n",
        "c1,1,start,2026-05-05T09:30:00Z\n"])
    files["help_activity.csv"] += "".join([
        "c1,2026-05-05T11:00:00Z,1,CS,video\n", "c1,2026-05-05T13:30:00Z,1,CS,agent\n",
        "c4,2026-05-05T14:00:00Z,3,OTHER,\n"])
    folder = _write(tmp_path / "edge", files)
    prefix = f"edge{int(two_statements)}"
    tables = _load_folder(pg_schema, folder, prefix, text=True)
    if two_statements:
        monkeypatch.setattr(engine, "_join_fits", lambda run, ids: False)
    agg = aggregate_source(parse_source(PG_URL, tables))
    assert agg.backend == "postgres"
    assert_equal_paths(folder, agg=agg)
    assert agg.dropped["complete_before_start"] == 1


@needs_server
def test_dirty_typed_tables_equal_the_files_on_postgres(pg_schema, tmp_path):
    """Typed tables (Parquet's types: TIMESTAMPTZ, BIGINT, BOOLEAN) with exact duplicate
    rows in every table, unknown customers and NULLs in the optional columns."""
    from test_aggregate import assert_equal_paths
    from test_aggregate_one_pass import _dirty_folder

    from bayes_ab.aggregate.source import aggregate_source, parse_source

    folder, expected = _dirty_folder(tmp_path / "dirty")
    tables = _load_folder(pg_schema, folder, "dirty", text=False)
    agg = aggregate_source(parse_source(PG_URL, tables))
    assert_equal_paths(folder, agg=agg)
    for key, count in expected.items():
        assert agg.dropped[key] == count, key
