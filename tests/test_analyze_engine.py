"""`bayes-ab analyze --engine duckdb` gives the results.json of `--engine pandas`.

Both engines build the same sufficient statistics (tests/test_aggregate.py), so with the
same seed the posteriors are identical, and every count-based block (input counts, SRM,
two-proportion tests, trend, log-rank / Cox, CS engagement among the flagged, ratio
metrics, segments, data-quality findings, decision) must be equal. To keep the test
short only the two arm-comparison models are sampled (tiny draws); the other models'
statistics are compared directly in tests/test_aggregate.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bayes_ab.workflows import analyze as pipeline
from bayes_ab.cli.main import main

TINY = ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "7", "--quiet",
        "--no-figures", "--prior-sensitivity", "none"]
ARM_STEPS = tuple(s for s in pipeline.MODEL_STEPS if s.cls == "ArmComparison")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from bayes_ab.simulate import simulate, write_simulation

    folder = tmp_path_factory.mktemp("engine_experiment")
    write_simulation(simulate(n=4000, seed=5, scenario="effect", truth=False), folder)
    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "MODEL_STEPS", ARM_STEPS)
    out = {}
    try:
        for engine in ("pandas", "duckdb"):
            dest = tmp_path_factory.mktemp(f"run_{engine}") / "out"
            rc = main(["analyze", str(folder), "--out", str(dest), "--engine", engine, *TINY])
            assert rc == 0
            out[engine] = json.loads((dest / "results.json").read_text())
    finally:
        mp.undo()
    return folder, out


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


def test_engines_recorded(runs):
    _, out = runs
    assert out["pandas"]["input"]["engine"] == "pandas"
    assert out["duckdb"]["input"]["engine"] == "duckdb"


@pytest.mark.parametrize("block", ["srm", "conversion", "cs_engagement", "decision",
                                   "ratio_metrics", "segments", "agreement"])
def test_count_blocks_identical(runs, block):
    _, out = runs
    assert out["pandas"][block] is not None
    _same(out["pandas"][block], out["duckdb"][block], block)


def test_input_and_frequentist_checks_identical(runs):
    _, out = runs
    p, d = out["pandas"]["input"], out["duckdb"]["input"]
    for key in ("n_customers", "n_test", "n_control", "dropped", "n_help_flags",
                "n_task_attempts", "observation_end"):
        assert p[key] == d[key], key
    assert p["n_customers"] == 4000
    # Conversion counts: the posterior means are those of the same Beta posteriors and
    # the z-test p-value is the same float.
    assert (out["pandas"]["conversion"]["frequentist"]["p_value"]
            == out["duckdb"]["conversion"]["frequentist"]["p_value"])
    assert out["pandas"]["segments"], "the simulated cohorts have a joined_at segment"
    assert {f["check"]: f["count"] for f in out["pandas"]["data_quality"]} == {
        f["check"]: f["count"] for f in out["duckdb"]["data_quality"]}


def test_frequentist_checks_on_both_engines(runs):
    """Trend, log-rank and Cox from the engine's grouped tables equal the frame's."""
    from bayes_ab.aggregate import aggregate_experiment
    from bayes_ab.data.load import load_experiment

    folder, _ = runs
    a = pipeline.frequentist_checks(load_experiment(folder), design_test_share=0.3)
    b = pipeline.frequentist_checks(aggregate_experiment(folder), design_test_share=0.3)
    assert set(a) == set(b) and {"logrank", "cox", "completions_trend"} <= set(a)
    for key in a:
        _same(a[key].to_dict(), b[key].to_dict(), key)


def test_auto_engine_rule(tmp_path, monkeypatch):
    from bayes_ab.errors import OptionError

    (tmp_path / "test_cohorts.csv").write_text("customer_id,cohort\nc1,Test\n")
    assert pipeline.resolve_engine(tmp_path) == "pandas"
    monkeypatch.setattr(pipeline, "ENGINE_AUTO_BYTES", 10)
    assert pipeline.resolve_engine(tmp_path) == "duckdb"
    assert pipeline.resolve_engine(tmp_path, "pandas") == "pandas"
    with pytest.raises(OptionError):
        pipeline.resolve_engine(tmp_path, "spark")


def test_auto_engine_parquet_rows(tmp_path, monkeypatch):
    import pandas as pd

    pd.DataFrame({"customer_id": ["a", "b", "c"], "cohort": ["Test"] * 3}).to_parquet(
        tmp_path / "test_cohorts.parquet")
    assert pipeline.resolve_engine(tmp_path) == "pandas"
    monkeypatch.setattr(pipeline, "ENGINE_AUTO_ROWS", 2)
    assert pipeline.resolve_engine(tmp_path) == "duckdb"


def test_engine_memory_option(runs, tmp_path, capsys):
    """`--engine-memory` reaches DuckDB: a cap too small for the data is a clear exit 4
    naming the option (nothing written), a malformed size an exit 2 before any work."""
    folder, _ = runs
    dest = tmp_path / "out"
    rc = main(["analyze", str(folder), "--out", str(dest), "--engine", "duckdb",
               "--engine-memory", "1MB", *TINY])
    err = capsys.readouterr().err
    assert rc == 4
    assert "ran out of memory (memory_limit 1MB)" in err and "--engine-memory" in err
    assert "Traceback" not in err and not dest.exists()
    rc = main(["analyze", str(folder), "--out", str(dest), "--engine-memory", "lots", *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "--engine-memory must be a size such as 3GB" in err
    assert not dest.exists()


def test_engine_memory_sizes():
    from bayes_ab.cli.commands.analyze import _memory_size
    from bayes_ab.errors import OptionError

    assert _memory_size("3GB") == "3GB"
    assert _memory_size(" 800 mb ") == "800MB"
    assert _memory_size("1.5gib") == "1.5GiB"
    for bad in ("0GB", "3", "GB", "-1GB", "3 GBs"):
        with pytest.raises(OptionError):
            _memory_size(bad)
