"""The benchmark's own measuring tools (benchmarks/run.py): what they report is what the
README's tables say."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bayes_ab_bench_run_test",
                                                  ROOT / "benchmarks" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_temp_disk_peak_counts_new_entries_only_at_their_largest(bench, tmp_path):
    old = tmp_path / "already_there"
    old.write_bytes(os.urandom(256 * 1024))  # present at the start: not counted
    with bench.TempDiskPeak(every_s=3600, root=str(tmp_path)) as disk:
        spill = tmp_path / "bayes_ab_duckdb_x"
        spill.mkdir()
        (spill / "a.tmp").write_bytes(os.urandom(1024 * 1024))
        (spill / "b.tmp").write_bytes(os.urandom(512 * 1024))
        first = disk.sample()
        (spill / "a.tmp").unlink()  # freed: the peak stays
        second = disk.sample()
    # allocated blocks: at least the bytes written, a few file-system blocks more at most
    assert 1.5 * 2**20 <= first <= 1.5 * 2**20 + 64 * 1024
    assert 0.5 * 2**20 <= second <= 0.5 * 2**20 + 64 * 1024
    assert disk.peak_bytes == first
    assert disk.samples == 2
    assert disk.peak_mb == pytest.approx(first / 2**20)


def test_sizes_table_shows_the_temporary_disk_or_a_dash(bench):
    timing = {"load": 1.0, "frequentist": 0.5, "compile_m": 0.1, "sample_m": 0.2,
              "model_m": 0.4, "total": 2.0}
    row = {"size": "1M", "data_mb": 80, "simulate_s": 1.0,
           "analyze": {"wall_s": 3.0, "timing": timing, "sampler": {}, "gate_passed": True,
                       "peak_mb": 900.0, "load_avg_start": (0.1, 0.1, 0.1),
                       "peak_temp_disk_mb": 3 * 1024.0}}
    old = {**row, "size": "10M", "analyze": {k: v for k, v in row["analyze"].items()
                                             if k != "peak_temp_disk_mb"}}
    lines = bench.end_to_end_table({"sizes": [row, old]})
    body = [ln for ln in lines if ln.startswith("| 1M") or ln.startswith("| 10M")]
    assert "temporary disk (GB)" in next(ln for ln in lines if ln.startswith("| customers"))
    assert "| 900 | 3.0 | passed |" in body[0]
    assert "| - | passed |" in body[1]


def test_example_table_says_what_the_imports_alone_leave_of_3x(bench):
    timing = {"load": 0.5, "frequentist": 0.5, "compile_m": 0.1, "sample_m": 2.0,
              "model_m": 2.5, "total": 8.0}
    runs = {"warm": {"wall_s": 9.0, "cpu_s": 15.0, "timing": timing,
                     "load_avg_start": (0.1, 0.1, 0.1), "imports_s": [3.9, 3.6, 4.2]}}
    text = "\n".join(bench.example_table(runs))
    assert ("took 3.9 s (median of 3.9, 3.6, 4.2 s, each after a quiet second), 1.9x the "
            "warm run's sampling (2.0 s): within 3x of the sampling a fresh process has "
            "2.1 s left") in text
    assert "import bayes_ab.cli.main, bayes_ab.workflows.analyze, pymc, nutpie, pandas" in text
