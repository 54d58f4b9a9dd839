"""`bayes-ab analyze --engine spark` and `bayes-ab compare --engine spark`.

Fast tests (no Spark needed): a missing PySpark or Java is exit 2 with one sentence
naming what to install; the option checks; the session `spark_session` builds (master,
scratch / warehouse / Derby files in a private temporary folder that is removed, the
session stopped) with a stand-in `SparkSession`.

Slow tests (PySpark and Java; `pytest -m slow tests/test_cli_spark.py`, skipped without
them): `analyze --engine spark` on the shipped example gives the DuckDB engine's counts
exactly and its posteriors within Monte-Carlo error at the same seed; `compare --engine
spark` gives the file's compare.json; `compare --source spark --table` reads a table of
the session's catalog.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest

from bayes_ab.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"
TINY_ARGS = ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "11", "--quiet",
             "--no-figures", "--prior-sensitivity", "none"]
INSTALL = "pip install 'bayes-ab[spark]'"


def _has_spark() -> bool:
    from bayes_ab.aggregate.source import _java

    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return _java() is not None


needs_spark = pytest.mark.skipif(not _has_spark(), reason="needs pyspark and Java")


# ------------------------------------------------------------------------ fast tests


@pytest.mark.parametrize("command", ["analyze", "compare"])
def test_missing_pyspark_is_exit_2_naming_the_extra(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    out = tmp_path / "out"
    if command == "analyze":
        argv = ["analyze", str(EXAMPLE), "--engine", "spark", "--out", str(out), *TINY_ARGS]
    else:
        csv = tmp_path / "e.csv"
        csv.write_text("arm,y\nA,1\nB,0\n")
        argv = ["compare", str(csv), "--group-col", "arm", "--outcome-col", "y",
                "--engine", "spark", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--engine spark needs PySpark, which is not installed: {INSTALL}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_java_is_exit_2(tmp_path, capsys, monkeypatch):
    from bayes_ab.aggregate import source

    monkeypatch.setitem(sys.modules, "pyspark", types.ModuleType("pyspark"))
    monkeypatch.setattr(source, "_java", lambda: None)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    out = tmp_path / "out"
    assert main(["analyze", str(EXAMPLE), "--engine", "spark", "--out", str(out),
                 *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert "no java was found" in err and "openjdk-17-jre-headless" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["analyze", str(EXAMPLE), "--spark-master", "local[2]"],
     "--spark-master goes with --engine spark"),
    (["analyze", "--source", "duckdb:///nowhere.duckdb", "--engine", "spark"],
     "--engine spark reads DATA_DIR or the Spark catalog's tables"),
    (["analyze", "--source", "spark", "--engine", "pandas"], "--engine pandas reads files"),
    (["analyze", "--source", "spark://host:7077"],
     "--source must be a postgresql:// or duckdb:/// URL or spark"),
    (["compare", "--source", "duckdb:///x.duckdb", "--table", "t", "--engine", "spark",
      "--group-col", "a", "--outcome-col", "y"],
     "--engine spark reads FILE or a table of the Spark catalog"),
    (["compare", "f.csv", "--spark-master", "local[2]", "--group-col", "a",
      "--outcome-col", "y"], "--spark-master goes with --engine spark"),
])
def test_option_errors(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


class _FakeBuilder:
    """A stand-in for `SparkSession.builder` recording what the session was asked for."""

    made: list = []

    def __init__(self):
        self.conf: dict[str, str] = {}
        self.master_url = self.remote_url = None

    def appName(self, name):  # noqa: N802 - Spark's spelling
        return self

    def master(self, url):
        self.master_url = url
        return self

    def remote(self, url):
        self.remote_url = url
        return self

    def config(self, key, value):
        self.conf[key] = value
        return self

    def getOrCreate(self):  # noqa: N802
        session = types.SimpleNamespace(builder=self, stopped=False)
        session.sparkContext = types.SimpleNamespace(setLogLevel=lambda level: None)

        def stop():
            session.stopped = True
        session.stop = stop
        _FakeBuilder.made.append(session)
        return session


class _Fresh(type):
    @property
    def builder(cls):  # each access a fresh builder, as in PySpark
        return _FakeBuilder()


@pytest.fixture
def fake_spark(monkeypatch, tmp_path):
    from bayes_ab.aggregate import source

    sql = types.ModuleType("pyspark.sql")
    sql.SparkSession = _Fresh("SparkSession", (), {})
    pyspark = types.ModuleType("pyspark")
    pyspark.sql = sql
    monkeypatch.setitem(sys.modules, "pyspark", pyspark)
    monkeypatch.setitem(sys.modules, "pyspark.sql", sql)
    monkeypatch.setattr(source, "_java", lambda: "/usr/bin/java")
    for var in ("SPARK_REMOTE", "SPARK_CONF_DIR", "SPARK_HOME"):
        monkeypatch.delenv(var, raising=False)
    _FakeBuilder.made = []
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_session_files_stay_in_a_private_temp_folder(fake_spark):
    """local[*] by default; scratch, warehouse, Derby and the log configuration in one
    temporary folder (not the working directory), removed, and the session stopped,
    when the block ends (also on an error)."""
    from bayes_ab.aggregate.source import spark_session

    with spark_session() as session:
        b = session.builder
        home = Path(b.conf["spark.local.dir"]).parent
        assert home.is_dir() and (home / "log4j2.properties").is_file()
        assert Path(b.conf["spark.sql.warehouse.dir"]).parent == home
        assert f"-Dderby.system.home={home / 'derby'}" in b.conf["spark.driver.extraJavaOptions"]
        assert "log4j2.configurationFile=file:" in b.conf["spark.driver.extraJavaOptions"]
        assert not home.is_relative_to(fake_spark)  # not under the working directory
        assert b.master_url == "local[*]" and b.remote_url is None
        assert b.conf["spark.sql.session.timeZone"] == "UTC"
        assert b.conf["spark.ui.enabled"] == "false"
        assert b.conf["spark.sql.shuffle.partitions"] == str(2 * (os.cpu_count() or 2))
    assert session.stopped and not home.exists()
    with pytest.raises(RuntimeError), spark_session("spark://h:7077") as session:
        assert session.builder.master_url == "spark://h:7077"
        assert "spark.sql.shuffle.partitions" not in session.builder.conf  # a cluster's own
        raise RuntimeError("boom")
    assert session.stopped
    assert list(fake_spark.iterdir()) == []  # nothing written in the working directory


def test_session_master_from_environment_and_defaults(fake_spark, tmp_path, monkeypatch):
    from bayes_ab.aggregate.source import spark_session

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        "# cluster\nspark.master   yarn\nspark.sql.warehouse.dir=/data/wh\n"
        "spark.driver.extraJavaOptions -Dderby.system.home=/data/derby\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    with spark_session(catalog=True) as session:
        b = session.builder
        assert b.master_url is None  # spark-submit takes spark.master from the file
        assert "spark.sql.warehouse.dir" not in b.conf  # the user's catalog is kept
        assert b.conf["spark.driver.extraJavaOptions"].startswith(
            "-Dderby.system.home=/data/derby")
        assert b.conf["spark.driver.extraJavaOptions"].count("derby.system.home") == 1
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark.example:15002")
    with spark_session() as session:
        assert session.builder.remote_url == "sc://spark.example:15002"
        assert "spark.local.dir" not in session.builder.conf  # a server's own settings
    with spark_session("local[3]") as session:  # --spark-master wins over SPARK_REMOTE
        assert session.builder.master_url == "local[3]" and session.builder.remote_url is None


# ------------------------------------------------------------------------ slow tests


@pytest.mark.slow
@needs_spark
def test_analyze_spark_equals_duckdb_engine(tmp_path, monkeypatch, capfd):
    """The example through Spark (local mode): every count of the DuckDB engine exactly,
    the posteriors within Monte-Carlo error at the same seed, forensics run on the files,
    no Spark file left in the working directory, and with --json nothing but the results
    on stdout (the JVM's and Spark's lines go to stderr)."""
    from test_source_duckdb import ARM_STEPS, assert_same_analysis, run_analyze

    from bayes_ab.workflows import analyze as pipeline

    monkeypatch.chdir(tmp_path)
    duck = run_analyze([str(EXAMPLE), "--engine", "duckdb"], tmp_path / "duck")
    capfd.readouterr()
    monkeypatch.setattr(pipeline, "MODEL_STEPS", ARM_STEPS)
    assert main(["analyze", str(EXAMPLE), "--engine", "spark", "--spark-master", "local[2]",
                 "--json", "--out", str(tmp_path / "spark"), *TINY_ARGS]) == 0
    out, err = capfd.readouterr()
    spark = json.loads((tmp_path / "spark" / "results.json").read_text())
    assert json.loads(out) == spark  # stdout: the results only
    assert duck["input"]["engine"] == "duckdb" and spark["input"]["engine"] == "spark"
    assert spark["input"]["source"] == duck["input"]["source"] == str(EXAMPLE)
    assert_same_analysis(duck, spark)
    assert spark["forensics"]["verdict"] == duck["forensics"]["verdict"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duck", "spark"]
    assert "Traceback" not in err


def _compare_export(tmp_path: Path) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(4)
    arms = np.repeat(["control", "variant_b"], [400, 400])
    clicked = rng.random(800) < np.where(arms == "control", 0.2, 0.26)
    spend = np.round(rng.gamma(2.0, 10.0, 800), 2)
    csv = tmp_path / "export.csv"
    pd.DataFrame({" Variant ": arms, "clicked": clicked.astype(int),
                  "spend": spend}).to_csv(csv, index=False, sep=";")
    return csv


@pytest.mark.slow
@needs_spark
def test_compare_spark_equals_file(tmp_path, monkeypatch, capsys):
    """`compare FILE --engine spark` (a ';'-separated CSV read by Spark) and `compare
    --source spark --table` (a view of the session's catalog) give the file's
    compare.json."""
    import pandas as pd

    csv = _compare_export(tmp_path)
    monkeypatch.chdir(tmp_path)
    common = ["--group-col", "variant", "--outcome-col", "clicked,spend", "--seed", "5",
              "--no-figures", "--quiet"]
    assert main(["compare", str(csv), "--out", str(tmp_path / "f"), *common]) == 0
    assert main(["compare", str(csv), "--engine", "spark", "--spark-master", "local[2]",
                 "--out", str(tmp_path / "s"), *common]) == 0
    a = json.loads((tmp_path / "f" / "compare.json").read_text())
    b = json.loads((tmp_path / "s" / "compare.json").read_text())
    a.pop("timing_seconds", None), b.pop("timing_seconds", None)
    assert a == b
    assert a["input"]["counts"]["control"]["trials"] == 400

    # The catalog: a view made in the session the command then uses (getOrCreate; the
    # command stops it at the end, so the view is made again for each run).
    from pyspark.sql import SparkSession

    frame = pd.read_csv(csv, sep=";")

    def view() -> None:
        session = (SparkSession.builder.master("local[2]")
                   .config("spark.sql.warehouse.dir", str(tmp_path / "wh"))
                   .config("spark.ui.enabled", "false").getOrCreate())
        session.createDataFrame(frame).createOrReplaceTempView("ab_export")

    view()
    capsys.readouterr()
    assert main(["compare", "--source", "spark", "--table", "ab_exports", "--out",
                 str(tmp_path / "m"), *common]) == 2
    err = capsys.readouterr().err
    assert "table ab_exports: no such table in spark (found: ab_export)" in err
    assert "Traceback" not in err and not (tmp_path / "m").exists()
    view()
    assert main(["compare", "--source", "spark", "--table", "AB_export", "--out",
                 str(tmp_path / "c"), *common]) == 0
    c = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert c["arms"] == a["arms"] and c["decision"] == a["decision"]
    assert c["input"]["counts"] == a["input"]["counts"]
