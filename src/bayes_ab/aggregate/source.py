"""The experiment's four tables in a database, named by a connection URL.

``bayes-ab analyze --source postgresql://user@host/db --tables a,b,c,d`` and
``--source duckdb:///path/exp.duckdb``: the engine's Ibis expressions run on the
database's own tables (`bayes_ab.aggregate.engine.aggregate_experiment` with
``tables=``), with the same validation as the files (docs/SCALE.md, "From a database").

* PostgreSQL: the URL goes to libpq unchanged (psycopg 3, the ``postgres`` extra), so
  the password, user, host and port can come from the environment (``PGPASSWORD``,
  ``PGUSER``, ``PGHOST``, ...) or a ``~/.pgpass`` / ``PGPASSFILE`` file, never only from
  the command line. Intermediate tables are session-temporary; nothing is written in the
  user's schemas. A password in the URL is never printed (`redact`).
* DuckDB file: attached read-only to the engine's own temporary database (so the
  engine's memory cap and spilling apply and the file is never modified).

Table names: four names in the order cohorts, activity, help, conversion
(``test_cohorts,product_activity,help_activity,conversion`` by default), or
``key=name`` pairs (keys ``cohorts``, ``activity``, ``help``, ``conversion`` or the file
stems). A name may be schema-qualified (``experiments.test_cohorts``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bayes_ab.data.schema import EXPERIMENT_FILES, REQUIRED_COLUMNS
from bayes_ab.errors import BayesAbError, DataError, OptionError

__all__ = ["DatabaseSource", "SourceError", "TableError", "aggregate_source",
           "connect_source", "parse_source", "parse_tables", "redact", "source_tables"]

SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "duckdb": "duckdb"}
#: The name under which a DuckDB source file is attached (read-only).
DUCKDB_ALIAS = "bayes_ab_source"


class SourceError(BayesAbError):
    """The database cannot be opened or reached, or refused a query (exit 2)."""


class TableError(DataError):
    """Bad or missing data in a database table: names the table and the column (no line
    numbers: a table has no file order)."""

    def _format(self) -> str:
        where = [f"table {self.file}"] if self.file else []
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (user:password@ and password=)."""
    out = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", str(url))
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", out)


@dataclass(frozen=True)
class DatabaseSource:
    """A connection URL and the table of each experiment file (``key -> name``)."""

    url: str
    tables: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> str:
        """``postgres`` or ``duckdb``."""
        return SCHEMES[self.url.split("://", 1)[0].lower()]

    @property
    def display(self) -> str:
        """The URL without its password (for messages and results.json)."""
        return redact(self.url)

    @property
    def table_names(self) -> dict[str, str]:
        return dict(self.tables)

    def __str__(self) -> str:
        return self.display


def parse_tables(text: str | None) -> dict[str, str]:
    """``key -> table name`` from ``--tables`` (see the module docstring)."""
    names = dict(EXPERIMENT_FILES)
    if text is None or not str(text).strip():
        return names
    items = [x.strip() for x in str(text).split(",")]
    if any(not x for x in items):
        raise OptionError(f"--tables has an empty name: {text!r}")
    stems = {v: k for k, v in EXPERIMENT_FILES.items()}
    if all("=" in x for x in items):
        for item in items:
            key, name = (s.strip() for s in item.split("=", 1))
            key = stems.get(key, key)
            if key not in EXPERIMENT_FILES or not name:
                raise OptionError(f"--tables: unknown key {key!r} in {item!r}; use "
                                  "cohorts, activity, help or conversion")
            names[key] = name
        return names
    if len(items) != len(EXPERIMENT_FILES) or any("=" in x for x in items):
        raise OptionError("--tables takes four names in the order "
                          f"{','.join(EXPERIMENT_FILES.values())} (or key=name pairs), got "
                          f"{text!r}")
    return dict(zip(EXPERIMENT_FILES, items, strict=True))


def parse_source(url: str, tables: str | dict | None = None) -> DatabaseSource:
    """A `DatabaseSource` from ``--source URL`` and ``--tables``; `OptionError` for a URL
    of another kind."""
    scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
    if scheme not in SCHEMES:
        raise OptionError(f"--source must be a postgresql:// or duckdb:/// URL, got "
                          f"{redact(url)!r}")
    names = dict(tables) if isinstance(tables, dict) else parse_tables(tables)
    return DatabaseSource(str(url), tuple(names.items()))


# ----------------------------------------------------------------------------- connect


def _pg_params(url: str) -> dict[str, str]:
    """libpq's reading of the URL (host, port, dbname, user, password), or {}."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        return {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except Exception:
        return {}


def pg_where(url: str) -> str:
    """Where libpq will connect, for messages: ``host:port (database D, user U)``."""
    p = _pg_params(url)
    host = p.get("host") or os.environ.get("PGHOST") or "localhost (Unix socket)"
    port = p.get("port") or os.environ.get("PGPORT") or "5432"
    parts = [f"{host}:{port}"]
    extra = [f"{k} {v}" for k, v in (("database", p.get("dbname") or os.environ.get(
        "PGDATABASE")), ("user", p.get("user") or os.environ.get("PGUSER"))) if v]
    return parts[0] + (f" ({', '.join(extra)})" if extra else "")


def _scrub(text: str, url: str) -> str:
    """The first line of a driver's message, any password of the URL removed."""
    line = str(text).strip().splitlines()[0] if str(text).strip() else type(text).__name__
    secret = _pg_params(url).get("password")
    if secret:
        line = line.replace(secret, "***")
    return redact(line)


def connect_source(src: DatabaseSource, *, memory_limit: str | None = "3GB"):
    """An Ibis connection to the source (see the module docstring)."""
    from bayes_ab.aggregate import read

    if src.kind == "duckdb":
        path = src.url.split("://", 1)[1]
        if not path or path == ":memory:":
            raise OptionError("--source duckdb:///PATH needs the path of a DuckDB file")
        file = Path(path).expanduser()
        if not file.is_file():
            raise SourceError(f"DuckDB database not found: {file} (from --source "
                              f"{src.display})")
        con = read.connect("duckdb", memory_limit=memory_limit)
        try:
            con.attach(str(file), name=DUCKDB_ALIAS, read_only=True)
        except Exception as exc:
            read.close(con)
            raise SourceError(f"cannot open the DuckDB database {file}: "
                              f"{_scrub(exc, src.url)}") from None
        return con
    try:
        import ibis
        import psycopg
    except ImportError:
        raise SourceError("reading from PostgreSQL needs the postgres extra: "
                          "pip install 'bayes_ab[postgres]'") from None
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in src.url and "PGCONNECT_TIMEOUT" not in os.environ:
        kwargs["connect_timeout"] = 10
    try:
        pg = psycopg.connect(src.url, **kwargs)
    except psycopg.Error as exc:
        raise SourceError(f"cannot connect to the PostgreSQL server at {pg_where(src.url)}: "
                          f"{_scrub(exc, src.url)}") from None
    try:
        return ibis.postgres.from_connection(pg)  # sets the session time zone to UTC
    except Exception as exc:
        pg.close()
        raise SourceError(f"cannot use the PostgreSQL server at {pg_where(src.url)}: "
                          f"{_scrub(exc, src.url)}") from None


def _close(con) -> None:
    from bayes_ab.aggregate import read

    read.close(con)


# ----------------------------------------------------------------------------- tables


def _location(src: DatabaseSource, name: str) -> tuple[str, Any]:
    """(table, Ibis ``database=``) of a possibly schema-qualified name."""
    schema, _, table = name.rpartition(".")
    if src.kind == "duckdb":
        return table, (DUCKDB_ALIAS, schema or "main")
    return table, (schema or None)


def _existing_table(available, table: str, src, name: str) -> str:
    """``table`` as the database spells it (exact, else the one case-insensitive match);
    a `TableError` naming the tables found otherwise."""
    if table in available:
        return table
    folded = [t for t in available if t.lower() == table.lower()]
    if len(folded) != 1:
        shown = ", ".join(sorted(available)[:12]) or "no tables"
        raise TableError(f"no such table in {src.display} (found: {shown})", file=name)
    return folded[0]


def _list_tables(con, src: DatabaseSource, database) -> list[str]:
    """Tables and views of one schema (information_schema: Ibis's ``list_tables`` fails
    with DuckDB 2)."""
    if src.kind == "duckdb":
        catalog, schema = database
        rows = con.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_schema = ?", [catalog, schema]).fetchall()
    else:
        with con.con.cursor() as cur:
            rows = cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "coalesce(%s, current_schema())", (database,)).fetchall()
    return [r[0] for r in rows]


def source_tables(con, src: DatabaseSource) -> dict[str, Any]:
    """``key -> Ibis table`` of the source; `TableError` naming the table for a missing
    table or required column (names matched like the files': trimmed, any case)."""
    from bayes_ab.data.load import columns_text, normalise_name

    out = {}
    for key, name in src.tables:
        table, database = _location(src, name)
        try:
            available = _list_tables(con, src, database)
        except Exception as exc:
            raise TableError(f"cannot list the tables of schema "
                             f"{name.rpartition('.')[0] or 'default'}: "
                             f"{_scrub(exc, src.url)}", file=name) from None
        table = _existing_table(available, table, src, name)
        t = con.table(table, database=database)
        have = [normalise_name(c, i + 1) for i, c in enumerate(t.columns)]
        for col in REQUIRED_COLUMNS[key]:
            if col not in have:
                raise TableError(f"missing required column '{col}' (the table has: "
                                 f"{columns_text(list(t.columns))})", file=name, column=col)
        out[key] = t
    return out


def aggregate_source(src: DatabaseSource, *, memory_limit: str | None = "3GB", **kwargs):
    """`aggregate_experiment` on the source's tables; ``source`` is the URL without its
    password. ``kwargs`` go to `aggregate_experiment` (``design_test_share``, ...)."""
    from bayes_ab.aggregate.engine import aggregate_experiment

    con = connect_source(src, memory_limit=memory_limit)
    try:
        tables = source_tables(con, src)
        agg = aggregate_experiment(con=con, tables=tables, names=src.table_names,
                                   memory_limit=memory_limit, **kwargs)
    except TableError:
        raise
    except DataError as exc:
        if exc.file in src.table_names.values():
            reason = re.sub(r"; run `bayes-ab validate` for their line numbers", "",
                            exc.reason)
            raise TableError(reason, file=exc.file, column=exc.column,
                             n_rows=exc.n_rows) from None
        raise
    except BayesAbError:
        raise
    except Exception as exc:
        if _is_driver_error(exc):
            raise SourceError(f"the {src.kind} database {_where(src)} refused a query: "
                              f"{_scrub(exc, src.url)}") from None
        raise
    finally:
        _close(con)
    return replace(agg, source=src.display)


def _where(src: DatabaseSource) -> str:
    return f"at {pg_where(src.url)}" if src.kind == "postgres" else src.display


def _is_driver_error(exc: BaseException) -> bool:
    mod = type(exc).__module__ or ""
    return mod.startswith(("psycopg", "duckdb", "_duckdb"))


# ----------------------------------------------------------------------------- compare


def read_source_table(url: str, table: str):
    """One table of a database as `bayes_ab.data.load.RawTable` (`bayes-ab compare
    --source URL --table NAME`): the rows are read into memory like a Parquet export
    (typed timestamps kept, booleans as true/false, other values as text, NULL as empty),
    ``_line`` = row number + 1 in the order the server returns them."""
    import numpy as np
    import pandas as pd

    from bayes_ab.data.load import LINE, RawTable, _normalise_frame

    src = parse_source(url, {"cohorts": table})
    con = connect_source(src, memory_limit=None)
    try:
        name = table
        found, database = _location(src, name)
        available = _list_tables(con, src, database)
        found = _existing_table(available, found, src, name)
        try:
            df = con.table(found, database=database).execute()
        except Exception as exc:
            if _is_driver_error(exc):
                raise SourceError(f"the {src.kind} database {_where(src)} refused a query: "
                                  f"{_scrub(exc, src.url)}") from None
            raise
    finally:
        _close(con)
    df = df.reset_index(drop=True)
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s):
            continue
        if pd.api.types.is_bool_dtype(s) or s.map(lambda v: isinstance(v, bool)).all():
            df[col] = s.map({True: "true", False: "false"}).fillna("").astype(object)
        else:
            df[col] = s.astype(object).where(s.notna(), "").astype(str)
    df[LINE] = np.arange(2, len(df) + 2, dtype=np.int64)
    df, notes = _normalise_frame(df, name)
    if len(df) == 0:
        raise TableError("the table is empty: it has no rows", file=name, n_rows=0)
    return RawTable(name=name, data=df, n_read=len(df), notes=notes)
