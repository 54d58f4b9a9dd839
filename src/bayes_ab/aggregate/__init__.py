"""Sufficient statistics straight from the files, by an embedded engine (Ibis + DuckDB).

The raw rows are validated and reduced where they live, never loaded into pandas, by
Ibis expressions written once: DuckDB (embedded, default), PySpark
(``connect("pyspark", spark=...)``) and the SQL warehouses Ibis supports run the same
code. The results are the models' own statistics dataclasses, equal to
``<Model>.stats_type.from_experiment(load_experiment(path))`` (docs/SCALE.md).

    from bayes_ab.aggregate import load_sufficient_stats, aggregate_experiment
    stats = load_sufficient_stats("data/example")          # {step key: stats}
    agg = aggregate_experiment("data/example")              # + counts, findings, dropped
"""

from bayes_ab.aggregate.engine import (
    STAT_KEYS,
    AggregatedExperiment,
    aggregate_experiment,
    load_sufficient_stats,
    stats_by_step,
    weighted_kaplan_meier,
)
from bayes_ab.aggregate.read import connect

__all__ = ["STAT_KEYS", "AggregatedExperiment", "aggregate_experiment", "connect",
           "load_sufficient_stats", "stats_by_step", "weighted_kaplan_meier"]
