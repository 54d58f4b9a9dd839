"""The same Ibis aggregation on PySpark (local mode) gives the DuckDB statistics.

Slow (a JVM starts): run with ``pytest -m slow tests/test_aggregate_spark.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from bayes_ab.aggregate import aggregate_experiment, connect  # noqa: E402

from test_aggregate import _assert_same, _messy, _write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("bayes_ab-test")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.ansi.enabled", "false")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
               .getOrCreate())
    yield session
    session.stop()


def _same(duck, sp) -> None:
    assert duck.stats.keys() == sp.stats.keys()
    for key in duck.stats:
        _assert_same(duck.stats[key].to_dict(), sp.stats[key].to_dict(), key)
    assert duck.dropped == sp.dropped
    assert [(f.check, f.count) for f in duck.findings] == [(f.check, f.count) for f in sp.findings]
    assert duck.observation_end == sp.observation_end
    assert (duck.n_help_flags, duck.n_task_attempts) == (sp.n_help_flags, sp.n_task_attempts)
    assert duck.customers.equals(sp.customers)


@pytest.mark.parametrize("folder", ["example", "messy"])
def test_spark_equals_duckdb(spark, tmp_path, folder):
    path = EXAMPLE if folder == "example" else _write(tmp_path / "messy", _messy())
    duck = aggregate_experiment(path)
    sp = aggregate_experiment(path, con=connect("pyspark", spark=spark))
    assert sp.backend == "pyspark"
    _same(duck, sp)
