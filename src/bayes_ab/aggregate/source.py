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
* Spark (``--engine spark``, the ``spark`` extra): the same expressions on PySpark, over
  the folder's files read by Spark (`spark_source` with ``folder``) or over tables of the
  Spark session's catalog (``--source spark --tables ...``, Hive or any catalog that
  spark-defaults.conf configures). The master is ``--spark-master`` (``local[4]``,
  ``spark://host:7077``, ``yarn``, or ``sc://host`` for Spark Connect), else
  ``SPARK_REMOTE`` or spark-defaults.conf's ``spark.master``, else ``local[*]``. Spark's
  scratch, warehouse and Derby files go into a private temporary folder (removed when the
  session stops), its logs are quiet (errors only) and the session stops on exit
  (`spark_session`).

Table names: four names in the order cohorts, activity, help, conversion
(``test_cohorts,product_activity,help_activity,conversion`` by default), or
``key=name`` pairs (keys ``cohorts``, ``activity``, ``help``, ``conversion`` or the file
stems). A name may be schema-qualified (``experiments.test_cohorts``).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bayes_ab.data.schema import EXPERIMENT_FILES, REQUIRED_COLUMNS
from bayes_ab.errors import BayesAbError, DataError, OptionError

__all__ = ["DatabaseSource", "SourceError", "TableError", "aggregate_source",
           "connect_source", "parse_source", "parse_tables", "read_source_table",
           "read_spark_file", "redact", "require_spark", "source_tables", "spark_session",
           "spark_source"]

SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "duckdb": "duckdb",
           "spark": "spark"}
#: ``--source spark``: the tables of the Spark session's catalog.
SPARK = "spark"
#: What to install for ``--engine spark``.
SPARK_INSTALL = "pip install 'bayes-ab[spark]'"
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
    #: Spark only: the experiment folder read by Spark (None: the catalog's tables).
    folder: str | None = None
    #: Spark only: ``--spark-master`` (None: SPARK_REMOTE, spark-defaults, local[*]).
    master: str | None = None

    @property
    def kind(self) -> str:
        """``postgres``, ``duckdb`` or ``spark``."""
        return SCHEMES[self.url.split("://", 1)[0].lower()]

    @property
    def display(self) -> str:
        """The URL without its password (for messages and results.json); a folder read
        by Spark is its path (as the files' ``input.source``), the Spark catalog
        ``spark``."""
        if self.kind == SPARK:
            return self.folder if self.folder is not None else SPARK
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


def parse_source(url: str, tables: str | dict | None = None, *,
                 master: str | None = None) -> DatabaseSource:
    """A `DatabaseSource` from ``--source URL`` (or ``spark``) and ``--tables``;
    `OptionError` for a URL of another kind."""
    if str(url).strip().lower() == SPARK:
        names = dict(tables) if isinstance(tables, dict) else parse_tables(tables)
        return spark_source(tables=names, master=master)
    scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
    if scheme not in SCHEMES or scheme == SPARK:
        raise OptionError(f"--source must be a postgresql:// or duckdb:/// URL or spark "
                          f"(the Spark catalog's tables), got {redact(url)!r}")
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
    return table, (schema or None)  # PostgreSQL schema / Spark database


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
    if src.kind == SPARK:
        return list(con.list_tables(database=database))
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
    password (a folder read by Spark: its path, as the files give). ``kwargs`` go to
    `aggregate_experiment` (``design_test_share``, ...)."""
    if src.kind == SPARK:
        from bayes_ab.aggregate import read

        with spark_session(src.master, catalog=src.folder is None) as session:
            con = read.connect("pyspark", spark=session)
            agg = _aggregate_on(con, src, memory_limit=None, **kwargs)
        return agg if src.folder is not None else replace(agg, source=src.display)
    con = connect_source(src, memory_limit=memory_limit)
    try:
        agg = _aggregate_on(con, src, memory_limit=memory_limit, **kwargs)
    finally:
        _close(con)
    return replace(agg, source=src.display)


def _aggregate_on(con, src: DatabaseSource, *, memory_limit: str | None, **kwargs):
    """`aggregate_experiment` over an open connection; a driver's or an engine's error
    becomes a `SourceError` / `TableError` naming the table (exit 2)."""
    from bayes_ab.aggregate.engine import aggregate_experiment

    try:
        if src.folder is not None:  # Spark over the folder's files: the files' messages
            return aggregate_experiment(src.folder, con=con, **kwargs)
        tables = source_tables(con, src)
        return aggregate_experiment(con=con, tables=tables, names=src.table_names,
                                    memory_limit=memory_limit, **kwargs)
    except TableError:
        raise
    except DataError as exc:
        if src.folder is None and exc.file in src.table_names.values():
            reason = re.sub(r"; run `bayes-ab validate` for their line numbers", "",
                            exc.reason)
            raise TableError(reason, file=exc.file, column=exc.column,
                             n_rows=exc.n_rows) from None
        raise
    except BayesAbError:
        raise
    except Exception as exc:
        if _is_driver_error(exc):
            raise SourceError(_refused(src, exc)) from None
        raise


def _refused(src: DatabaseSource, exc: BaseException) -> str:
    who = "Spark" if src.kind == SPARK else f"the {src.kind} database"
    return f"{who} {_where(src)} refused a query: {_scrub(_java_text(exc), src.url)}"


def _java_text(exc: BaseException):
    """A Py4J error's Java exception (its first line says what failed; the Python one
    only names the call), else the error itself."""
    java = getattr(exc, "java_exception", None)
    if java is not None and type(exc).__module__.startswith("py4j"):
        try:
            return str(java.toString())
        except Exception:  # the JVM is gone
            return exc
    return exc


def _where(src: DatabaseSource) -> str:
    if src.kind == SPARK:
        return f"({_master_text(src.master)})"
    return f"at {pg_where(src.url)}" if src.kind == "postgres" else src.display


def _is_driver_error(exc: BaseException) -> bool:
    mod = type(exc).__module__ or ""
    return mod.startswith(("psycopg", "duckdb", "_duckdb", "pyspark", "py4j"))


# ----------------------------------------------------------------------------- compare


def read_source_table(url: str, table: str, *, master: str | None = None):
    """One table of a database as `bayes_ab.data.load.RawTable` (`bayes-ab compare
    --source URL --table NAME`; ``url`` ``spark``: a table of the Spark catalog): the rows
    are read into memory like a Parquet export (typed timestamps kept, booleans as
    true/false, other values as text, NULL as empty), ``_line`` = row number + 1 in the
    order the server returns them."""
    src = parse_source(url, {"cohorts": table}, master=master)
    name = table
    if src.kind == SPARK:
        from bayes_ab.aggregate import read

        with spark_session(master, catalog=True) as session:
            con = read.connect("pyspark", spark=session)
            found, database = _location(src, name)
            found = _existing_table(_list_tables(con, src, database), found, src, name)
            df = _spark_rows(src, lambda: session.table(
                f"{database}.{found}" if database else found))
        return _raw_table(df, name)
    con = connect_source(src, memory_limit=None)
    try:
        found, database = _location(src, name)
        available = _list_tables(con, src, database)
        found = _existing_table(available, found, src, name)
        try:
            df = con.table(found, database=database).execute()
        except Exception as exc:
            if _is_driver_error(exc):
                raise SourceError(_refused(src, exc)) from None
            raise
    finally:
        _close(con)
    return _raw_table(df, name)


def _raw_table(df, name: str, *, file: bool = False):
    """A typed frame as the `RawTable` a Parquet export gives (see `read_source_table`)."""
    import numpy as np
    import pandas as pd

    from bayes_ab.data.load import LINE, RawTable, normalise_frame

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
    df, notes = normalise_frame(df, name)
    if len(df) == 0:
        if file:
            raise DataError("the file is empty: it has no data rows", file=name, n_rows=0)
        raise TableError("the table is empty: it has no rows", file=name, n_rows=0)
    return RawTable(name=name, data=df, n_read=len(df), notes=notes)


# ----------------------------------------------------------------------------- spark


def spark_source(folder: str | Path | None = None, *, tables: dict | None = None,
                 master: str | None = None) -> DatabaseSource:
    """``--engine spark``: the folder's files read by Spark, or (``folder`` None) the
    ``tables`` of the Spark catalog (default: the four file stems)."""
    names = dict(tables) if tables else dict(EXPERIMENT_FILES)
    return DatabaseSource(SPARK, tuple(names.items()),
                          folder=None if folder is None else str(folder), master=master)


def _remote(master: str | None) -> str | None:
    """The Spark Connect URL (``sc://...``) the session uses, if any."""
    if master:
        return master if master.lower().startswith("sc://") else None
    return os.environ.get("SPARK_REMOTE") or None


def _java() -> str | None:
    import shutil

    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def require_spark(master: str | None = None) -> None:
    """`SourceError` (exit 2) naming what to install when PySpark, or the Java that a
    Spark started here needs, is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SourceError(f"--engine spark needs PySpark, which is not installed: "
                          f"{SPARK_INSTALL}") from None
    if _remote(master) is None and _java() is None:
        raise SourceError("--engine spark starts Spark in a Java virtual machine and no "
                          "java was found (on PATH or in JAVA_HOME): install a Java 17+ "
                          "runtime (e.g. apt-get install openjdk-17-jre-headless), or give "
                          "--spark-master sc://HOST to use a Spark Connect server")


def spark_defaults() -> dict[str, str]:
    """spark-defaults.conf (``SPARK_CONF_DIR``, else ``SPARK_HOME``/conf), as spark-submit
    reads it: ``key value`` or ``key=value`` lines, ``#`` comments."""
    folder = os.environ.get("SPARK_CONF_DIR") or (
        str(Path(os.environ["SPARK_HOME"]) / "conf") if os.environ.get("SPARK_HOME") else None)
    out: dict[str, str] = {}
    if not folder or not (Path(folder) / "spark-defaults.conf").is_file():
        return out
    try:
        text = (Path(folder) / "spark-defaults.conf").read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].strip()
    return out


def _master_text(master: str | None) -> str:
    if master:
        return f"master {master}"
    if os.environ.get("SPARK_REMOTE"):
        return f"Spark Connect {os.environ['SPARK_REMOTE']}"
    return f"master {spark_defaults().get('spark.master', 'local[*]')}"


#: Spark's own logs: errors only, on stderr (stdout stays clean for --json).
_LOG4J2 = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
"""


@contextmanager
def spark_session(master: str | None = None, *, catalog: bool = False):
    """A SparkSession for one run, stopped on exit however the run ends.

    Master: ``master`` (``sc://`` = Spark Connect), else ``SPARK_REMOTE``, else
    spark-defaults.conf's ``spark.master``, else ``local[*]``. A Spark started here
    writes its scratch files (``spark.local.dir``), its warehouse and Derby's files
    (``metastore_db``, ``derby.log``) into a private temporary folder removed on exit
    (unless spark-defaults.conf sets them; ``catalog=True`` reads the user's catalog, so
    its warehouse and metastore are left as spark-defaults.conf / hive-site.xml give
    them), logs errors only, and runs without its web UI; the session's time zone is UTC.
    """
    import shutil
    import tempfile

    require_spark(master)
    from pyspark.sql import SparkSession

    home = Path(tempfile.mkdtemp(prefix="bayes_ab_spark_"))
    builder = SparkSession.builder.appName("bayes-ab")
    remote = _remote(master)
    if remote is not None:
        builder = builder.remote(remote)
    else:
        defaults = spark_defaults()
        if master:
            builder = builder.master(master)
        elif "spark.master" not in defaults:
            builder = builder.master("local[*]")
        (home / "log4j2.properties").write_text(_LOG4J2)
        java = [defaults.get("spark.driver.extraJavaOptions", ""),
                f"-Dlog4j2.configurationFile={(home / 'log4j2.properties').as_uri()}",
                "-XX:-UsePerfData"]
        if not catalog and "derby.system.home" not in java[0]:
            java.append(f"-Dderby.system.home={home / 'derby'}")
        builder = builder.config("spark.driver.extraJavaOptions", " ".join(j for j in java if j))
        own = {"spark.local.dir": home / "local", "spark.ui.enabled": "false",
               "spark.ui.showConsoleProgress": "false"}
        if not catalog:
            own["spark.sql.warehouse.dir"] = home / "warehouse"
        if str(master or defaults.get("spark.master", "local[*]")).startswith("local"):
            # Spark's default of 200 shuffle partitions is for clusters: one machine's
            # small aggregates run several times faster with a few per core.
            own["spark.sql.shuffle.partitions"] = str(2 * (os.cpu_count() or 2))
        for key, value in own.items():
            if key not in defaults:
                builder = builder.config(key, str(value))
    for key, value in (("spark.sql.session.timeZone", "UTC"),
                       ("spark.sql.ansi.enabled", "false"),
                       ("spark.sql.execution.arrow.pyspark.enabled", "true")):
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise SourceError(f"cannot start Spark ({_master_text(master)}): "
                          f"{_scrub(exc, SPARK)}") from None
    try:
        yield session
    finally:
        try:
            if remote is None:  # tasks cut short by the stop would log errors
                session.sparkContext.setLogLevel("OFF")
            session.stop()
        except Exception:  # pragma: no cover - best effort
            pass
        shutil.rmtree(home, ignore_errors=True)


def _spark_rows(src: DatabaseSource, frame):
    """``frame()`` (a Spark DataFrame) collected into pandas; Spark's errors as
    `SourceError`."""
    try:
        return frame().toPandas()
    except Exception as exc:
        if _is_driver_error(exc):
            raise SourceError(_refused(src, exc)) from None
        raise


def read_spark_file(path: str, *, master: str | None = None):
    """``bayes-ab compare FILE --engine spark``: a CSV / CSV.gz / Parquet file (a local
    path or any URI Spark reads: ``s3a://``, ``hdfs://``, ...) read by Spark and collected
    as the `RawTable` the file reader gives: CSV values as text (a local file's delimiter
    and encoding found as the file reader finds them), Parquet typed like a Parquet
    export."""
    from bayes_ab.data.load import HEAD_BYTES, csv_head

    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    local = "://" not in str(path)
    if local and not Path(path).is_file():
        raise DataError("file not found" if not Path(path).exists() else "not a file",
                        file=str(path))
    options = {"header": "true", "inferSchema": "false", "quote": '"', "escape": '"',
               "multiLine": "true", "mode": "FAILFAST", "enforceSchema": "false"}
    parquet = name.lower().endswith(".parquet")
    if local and not parquet:
        from bayes_ab.aggregate.read import head_bytes

        head = csv_head(head_bytes(Path(path))[:HEAD_BYTES], name)
        options["sep"] = head.sep
        if head.encoding not in ("utf-8", "utf-8-sig"):
            options["encoding"] = head.encoding
    with spark_session(master) as session:
        def frame():
            if parquet:
                return session.read.parquet(str(path))
            return session.read.options(**options).csv(str(path))
        try:
            df = frame().toPandas()
        except Exception as exc:
            if _is_driver_error(exc):
                raise DataError(f"cannot read the file with Spark ({_master_text(master)}): "
                                f"{_scrub(_java_text(exc), SPARK)}", file=name) from None
            raise
    return _raw_table(df, name, file=True)


def resolve_input(data_dir, *, source=None, tables=None, engine: str = "auto",
                  master: str | None = None):
    """What `analyze` reads: DATA_DIR as a Path, or the `DatabaseSource` of a source URL
    (``postgresql://...``, ``duckdb:///file``, ``spark``) with its tables, or a folder's
    files read by Spark (``engine="spark"``). Exactly one of ``data_dir`` and ``source``.
    Shared by the CLI and `bayes_ab.analyze`."""
    from pathlib import Path

    if (data_dir is None) == (source is None):
        raise OptionError("give exactly one of DATA_DIR (a folder) or --source URL")
    if source is None:
        if tables:
            raise OptionError("--tables goes with --source (a folder's files are found "
                              "by name)")
        folder = Path(data_dir)
        if not folder.is_dir():
            raise OptionError(f"DATA_DIR {folder} is not a folder (the four files of the "
                              "data contract)")
        if engine == "spark":  # Spark reads the folder's files
            require_spark(master)
            return spark_source(folder, master=master)
        return folder
    spark = str(source).strip().lower() == SPARK
    if engine == "pandas":
        raise OptionError("--engine pandas reads files; with --source the aggregation "
                          "runs in the database")
    if engine == "spark" and not spark:
        raise OptionError("--engine spark reads DATA_DIR or the Spark catalog's tables "
                          "(--source spark); a postgresql:// or duckdb:/// source is "
                          "aggregated in its own database")
    if spark:
        require_spark(master)
    return parse_source(source, tables, master=master)
