"""`bayes-ab analyze --source duckdb:///FILE`: the experiment read from DuckDB tables.

The shipped example is loaded into a DuckDB file with typed columns where a database
would type them (integer tasks, TIMESTAMPTZ event times, a boolean `converted`) and text
elsewhere (the help table's times and tasks), so the engine's normalisation of both is
exercised. Every statistic equals the pandas loader's on the files, `analyze` from the
file gives the counts of `analyze` from the folder exactly and the same posteriors, and
a missing table or column is exit 2 naming both. The PostgreSQL twin of these tests is
tests/test_source_postgres.py (needs a server).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from bayes_ab.workflows import analyze as pipeline
from bayes_ab.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"
TINY = ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "11", "--quiet",
        "--no-figures", "--prior-sensitivity", "none"]
N_DRAWS = 300
ARM_STEPS = tuple(s for s in pipeline.MODEL_STEPS if s.cls == "ArmComparison")
TABLES = "test_cohorts,product_activity,help_activity,conversion"


def example_frames() -> dict:
    """The example's four files as typed DataFrames, keyed by file stem: what a database
    holding this experiment would have (help_activity is left as text)."""
    import pandas as pd

    from bayes_ab.data.schema import EXPERIMENT_FILES

    out = {}
    for key, stem in EXPERIMENT_FILES.items():
        df = pd.read_csv(EXAMPLE / f"{stem}.csv.gz", dtype=str, keep_default_na=False)
        if key != "help":
            for col in ("timestamp", "joined_at", "converted_at"):
                if col in df:
                    df[col] = pd.to_datetime(df[col].replace("", None), utc=True,
                                             format="ISO8601")
            if "task" in df:
                df["task"] = df["task"].astype("int64")
        if key == "conversion":
            df["converted"] = df["converted"].map({"1": True, "0": False})
        out[stem] = df
    return out


def write_duckdb(path: Path, frames: dict) -> Path:
    import duckdb

    db = duckdb.connect(str(path))
    try:
        for name, df in frames.items():
            db.register("frame", df)
            db.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            db.unregister("frame")
    finally:
        db.close()
    return path


def run_analyze(args: list[str], dest: Path) -> dict:
    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "MODEL_STEPS", ARM_STEPS)  # the other models: stats compared
    try:
        rc = main(["analyze", *args, "--out", str(dest), *TINY])
    finally:
        mp.undo()
    assert rc == 0
    return json.loads((dest / "results.json").read_text())


def _mc_tolerance(interval: dict) -> float:
    """Four Monte-Carlo standard errors of the difference of two posterior means of
    N_DRAWS independent draws (sd from the 95% interval's width)."""
    sd = (interval["upper"] - interval["lower"]) / (2 * 1.96)
    return 4 * math.sqrt(2) * sd / math.sqrt(N_DRAWS) + 1e-12


def assert_same_analysis(files: dict, db: dict) -> None:
    """Counts exactly equal; posterior summaries within Monte-Carlo error."""
    for key in ("n_customers", "n_test", "n_control", "dropped", "n_help_flags",
                "n_task_attempts", "observation_end"):
        assert files["input"][key] == db["input"][key], key
    assert files["input"]["n_customers"] == 20000
    assert files["srm"] == db["srm"]
    for block in ("conversion", "cs_engagement"):
        a, b = files[block], db[block]
        assert a["counts"] == b["counts"], block
        assert a["frequentist"] == b["frequentist"], block
        for part in ("control", "test", "lift_abs", "lift_rel"):
            tol = _mc_tolerance(a[part])
            for stat in ("mean", "lower", "upper"):
                assert abs(a[part][stat] - b[part][stat]) <= tol, (block, part, stat)
        p = a["prob_test_better"]
        se = math.sqrt(max(p * (1 - p), 1.0 / N_DRAWS) / N_DRAWS)
        assert abs(p - b["prob_test_better"]) <= 4 * math.sqrt(2) * se, block
    assert files["cs_engagement"]["among_flagged"] == db["cs_engagement"]["among_flagged"]
    assert files["decision"]["recommendation"] == db["decision"]["recommendation"]
    assert ({f["check"]: f["count"] for f in files["data_quality"]
             if f["check"] != "forensics_skipped"}
            == {f["check"]: f["count"] for f in db["data_quality"]
                if f["check"] != "forensics_skipped"})
    for block in ("ratio_metrics", "segments"):
        _same(files[block], db[block], block)


def _same(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: {sorted(set(a) ^ set(b))}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9) or (np.isnan(a) and np.isnan(b)), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def duck_file(tmp_path_factory) -> Path:
    return write_duckdb(tmp_path_factory.mktemp("duck") / "exp.duckdb", example_frames())


@pytest.fixture(scope="module")
def files_run(tmp_path_factory) -> dict:
    return run_analyze([str(EXAMPLE)], tmp_path_factory.mktemp("files") / "out")


def test_statistics_equal_the_files(duck_file):
    """Every model's statistics, dropped rows, findings and counts: the pandas loader's."""
    from test_aggregate import assert_equal_paths

    from bayes_ab.aggregate.source import aggregate_source, parse_source

    agg = aggregate_source(parse_source(f"duckdb://{duck_file}"))
    assert agg.backend == "duckdb" and agg.source == f"duckdb://{duck_file}"
    assert_equal_paths(EXAMPLE, agg=agg)


def test_analyze_from_duckdb_equals_files(duck_file, files_run, tmp_path):
    digest = hashlib.sha256(duck_file.read_bytes()).hexdigest()
    db = run_analyze(["--source", f"duckdb://{duck_file}", "--tables", TABLES],
                     tmp_path / "out")
    assert db["input"]["engine"] == "duckdb"
    assert db["input"]["source"] == f"duckdb://{duck_file}"
    assert files_run["input"]["engine"] == "pandas"
    assert_same_analysis(files_run, db)
    assert (tmp_path / "out" / "report.html").is_file()
    assert hashlib.sha256(duck_file.read_bytes()).hexdigest() == digest, "input modified"


def test_missing_table_and_column(duck_file, tmp_path, capsys):
    import duckdb

    rc = main(["analyze", "--source", f"duckdb://{duck_file}", "--tables",
               "test_cohorts,product_activity,helps,conversion", "--out",
               str(tmp_path / "a"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "table helps: no such table" in err and "help_activity" in err
    assert "Traceback" not in err and not (tmp_path / "a").exists()

    other = tmp_path / "other.duckdb"
    frames = example_frames()
    frames["conversion"] = frames["conversion"].drop(columns="converted")
    write_duckdb(other, frames)
    rc = main(["analyze", "--source", f"duckdb://{other}", "--out", str(tmp_path / "b"),
               *TINY])
    err = capsys.readouterr().err
    assert rc == 2
    assert "table conversion, column 'converted': missing required column" in err
    assert "customer_id" in err  # the columns it has

    # A bad value: the engine's fatal check, naming the table and column (no lines).
    bad = tmp_path / "bad.duckdb"
    frames = example_frames()
    frames["test_cohorts"].loc[3, "cohort"] = "Treatment"
    write_duckdb(bad, frames)
    rc = main(["analyze", "--source", f"duckdb://{bad}", "--out", str(tmp_path / "c"),
               *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "table test_cohorts, column 'cohort': unknown cohort label" in err
    assert "1 row(s)" in err and "bayes-ab validate" not in err
    duckdb.connect(str(bad)).close()


def test_source_options(duck_file, tmp_path, capsys):
    out = str(tmp_path / "o")
    cases = [
        ([str(EXAMPLE), "--source", f"duckdb://{duck_file}"], "exactly one of DATA_DIR"),
        ([], "exactly one of DATA_DIR"),
        ([str(EXAMPLE), "--tables", TABLES], "--tables goes with --source"),
        (["--source", "mysql://u@h/db"], "--source must be a postgresql:// or duckdb:///"),
        (["--source", f"duckdb://{tmp_path}/none.duckdb"], "DuckDB database not found"),
        (["--source", f"duckdb://{duck_file}", "--tables", "a,b"], "--tables takes four"),
        (["--source", f"duckdb://{duck_file}", "--engine", "pandas"], "--engine pandas"),
    ]
    for args, text in cases:
        rc = main(["analyze", *args, "--out", out, *TINY])
        err = capsys.readouterr().err
        assert rc == 2 and text in err, (args, err)
        assert "Traceback" not in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "none.duckdb").exists()


def test_parse_tables_and_redact():
    from bayes_ab.aggregate.source import parse_source, parse_tables, redact
    from bayes_ab.errors import OptionError

    default = {"cohorts": "test_cohorts", "activity": "product_activity",
               "help": "help_activity", "conversion": "conversion"}
    assert parse_tables(None) == default
    assert parse_tables("a, b ,c,s.d") == {"cohorts": "a", "activity": "b", "help": "c",
                                          "conversion": "s.d"}
    assert parse_tables("help=h,test_cohorts=c") == {**default, "help": "h",
                                                     "cohorts": "c"}
    for bad in ("a,b,c", "a,,c,d", "nope=x", "a=b,c"):
        with pytest.raises(OptionError):
            parse_tables(bad)
    assert redact("postgresql://me:s3cr%40t@db.example:5433/x?sslmode=require") == \
        "postgresql://me:***@db.example:5433/x?sslmode=require"
    assert redact("postgresql://db/x?user=me&password=hunter2") == \
        "postgresql://db/x?user=me&password=***"
    assert redact("postgresql://me@db/x") == "postgresql://me@db/x"
    src = parse_source("postgres://me:pw@h/db")
    assert src.kind == "postgres" and "pw" not in str(src)
    assert parse_source("duckdb:///tmp/x.duckdb").kind == "duckdb"


def test_compare_from_a_table_equals_the_file(tmp_path, capsys):
    """`bayes-ab compare --source duckdb:///F --table T` gives the export file's
    compare.json: same counts, tests and (exact) posteriors; typed boolean outcome."""
    import pandas as pd

    rng = np.random.default_rng(3)
    arms = np.repeat(["control", "variant_b"], [400, 300])
    clicked = rng.random(700) < np.where(arms == "control", 0.10, 0.14)
    df = pd.DataFrame({"Variant": arms, "Clicked": clicked, "Spend": rng.gamma(2.0, 3.0, 700)})
    csv = tmp_path / "export.csv"
    df.assign(Clicked=df["Clicked"].map({True: "true", False: "false"})).to_csv(csv, index=False)
    db = write_duckdb(tmp_path / "exp.duckdb", {"ab_export": df})
    common = ["--group-col", "variant", "--outcome-col", "clicked", "--seed", "5",
              "--no-figures"]
    assert main(["compare", str(csv), "--out", str(tmp_path / "f"), *common]) == 0
    assert main(["compare", "--source", f"duckdb://{db}", "--table", "AB_Export",
                 "--out", str(tmp_path / "d"), *common]) == 0
    a = json.loads((tmp_path / "f" / "compare.json").read_text())
    b = json.loads((tmp_path / "d" / "compare.json").read_text())
    assert a["input"]["counts"] == b["input"]["counts"] == {
        "control": {"successes": int(clicked[:400].sum()), "trials": 400},
        "variant_b": {"successes": int(clicked[400:].sum()), "trials": 300}}
    _same(a["arms"], b["arms"], "arms")
    _same(a["decision"], b["decision"], "decision")
    assert a["srm"] == b["srm"]
    capsys.readouterr()
    for args, text in ((["--source", f"duckdb://{db}"], "--source needs --table"),
                       ([str(csv), "--table", "t"], "--table goes with --source"),
                       (["--source", f"duckdb://{db}", "--table", "nope"],
                        "table nope: no such table")):
        rc = main(["compare", *args, "--out", str(tmp_path / "x"), *common])
        err = capsys.readouterr().err
        assert rc == 2 and text in err, err
