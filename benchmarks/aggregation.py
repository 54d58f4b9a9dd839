"""The aggregation engine against one DuckDB pass over the same files (issue 16, item 3).

    python benchmarks/aggregation.py                    # 1M and 10M customers
    python benchmarks/aggregation.py --sizes 100M       # the goal's size: simulating it
                                                        # alone takes ~90 min on 2 cores
    python benchmarks/aggregation.py --floor            # the activity statement taken apart

Per size, each in its own fresh process (so peak memory is that of one measurement):

* **reference**: one DuckDB query per file that reads every row once,
  ``SELECT count(*), count(DISTINCT customer_id) FROM <file>`` (the four files, one
  after the other), with the engine's own connection settings (`read.connect`:
  memory limit, temporary on-disk database, UTC);
* **engine**: `aggregate_experiment(folder)` with its defaults, its stages
  (`AggregatedExperiment.timings`) and the process's peak resident memory.

The ratio engine / reference is the number issue 16 asks to bring under 3 at 10M
customers. ``--floor`` measures instead how much of that budget the engine's first
statement needs (`floor`: the activity rows normalised, joined to the cohort codes and
grouped by every column, and variants), written to aggregation_floor.md / .json. The data are the benchmarks' simulated folders (seed 1, Parquet, made once by
`benchmarks/run.py`'s `dataset` and cached in --data-dir). Writes
benchmarks/results/aggregation.md and .json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _run_module():
    spec = importlib.util.spec_from_file_location("bayes_ab_bench_run", HERE / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reference(folder: Path, *, memory_limit: str = "3GB") -> dict:
    """One query per file reading every row once: count(*) and count(DISTINCT id)."""
    from bayes_ab.aggregate import read

    paths = read.experiment_paths(folder)
    con = read.connect("duckdb", memory_limit=memory_limit)
    out: dict = {"files": {}}
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        for key, path in paths.items():
            t = time.perf_counter()
            src = (f"read_parquet('{path}')" if path.name.endswith(".parquet")
                   else f"read_csv('{path}', all_varchar=true)")
            rows, ids = con.raw_sql(
                f"SELECT count(*), count(DISTINCT customer_id) FROM {src}").fetchone()
            out["files"][key] = {"rows": int(rows), "distinct_ids": int(ids),
                                 "seconds": time.perf_counter() - t}
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0
    finally:
        read.close(con)
    out["peak_mb"] = _peak_mb()
    return out


def engine(folder: Path, *, memory_limit: str = "3GB") -> dict:
    from bayes_ab.aggregate import aggregate_experiment

    t, c = time.perf_counter(), time.process_time()
    agg = aggregate_experiment(folder, memory_limit=memory_limit)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    return {"seconds": seconds, "cpu_seconds": cpu, "timings": dict(agg.timings),
            "cpu_timings": dict(getattr(agg, "cpu_timings", {})), "n_customers": agg.n_customers,
            "rows_read": dict(agg.rows_read), "peak_mb": _peak_mb()}


#: The activity file's statement taken apart (``floor``): the normalised rows (ids trimmed
#: where an end is blank, labels, epoch seconds), then joined to the cohort codes, then
#: grouped by every column as the engine does, and variants of the grouping key. SQL
#: written here to match the engine's statement (which Ibis generates), each
#: materialised as a temporary table, as the engine materialises its intermediates.
_NORM = """SELECT CASE WHEN ascii(coalesce(customer_id, '')) IN (9, 10, 11, 12, 13, 32)
    OR ascii(right(coalesce(customer_id, ''), 1)) IN (9, 10, 11, 12, 13, 32)
    THEN trim(coalesce(customer_id, ''), ' \t\n') ELSE coalesce(customer_id, '') END AS cid,
  CASE task WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3 ELSE NULL END AS task,
  CASE action WHEN 'start' THEN 'start' WHEN 'complete' THEN 'complete'
    ELSE lower(trim(action)) END AS action,
  epoch("timestamp") AS sec FROM {src}"""
#: The engine's per-(customer, task) aggregates (`engine._task_table`).
_TASK_AGGS = ("min(sec) FILTER (WHERE action = 'start') AS start, min(sec) FILTER (WHERE "
              "action = 'complete') AS comp_first, max(sec) FILTER (WHERE action = "
              "'complete') AS comp_last, count(*) FILTER (WHERE action = 'complete') AS nc")

FLOOR_VARIANTS = {
    "reference: count(*), count(DISTINCT customer_id)":
        "SELECT count(*), count(DISTINCT customer_id) FROM {src}",
    "normalised rows": _NORM,
    "normalised rows joined to the cohort codes":
        "SELECT k.kcode AS cid, n.cid = '' AS empty, task, action, sec "
        "FROM (" + _NORM + ") n LEFT JOIN ids k ON n.cid = k.kid",
    "joined and grouped by every column (the engine's statement)":
        "SELECT k.kcode AS cid, n.cid = '' AS empty, task, action, sec, count(*) AS mult "
        "FROM (" + _NORM + ") n LEFT JOIN ids k ON n.cid = k.kid GROUP BY ALL",
    "grouped by every column on the text id, no join":
        "SELECT cid, task, action, sec, count(*) AS mult FROM (" + _NORM + ") n GROUP BY ALL",
    "joined and grouped, the action as a boolean":
        "SELECT k.kcode AS cid, n.cid = '' AS empty, task, action = 'start' AS is_start, sec, "
        "count(*) AS mult FROM (" + _NORM + ") n LEFT JOIN ids k ON n.cid = k.kid GROUP BY ALL",
    "joined and grouped by (customer, task) only, a row count":
        "SELECT k.kcode AS cid, task, count(*) AS n "
        "FROM (" + _NORM + ") n LEFT JOIN ids k ON n.cid = k.kid GROUP BY ALL",
    "the engine's statement, then its tasks' pass (first start, first and last completion, "
    "completions) over it":
        "SELECT cid, task, " + _TASK_AGGS + " FROM (SELECT k.kcode AS cid, n.cid = '' AS "
        "empty, task, action, sec, count(*) AS mult FROM (" + _NORM + ") n LEFT JOIN ids k "
        "ON n.cid = k.kid GROUP BY ALL) g WHERE cid IS NOT NULL GROUP BY ALL",
    "one pass by (customer, task) instead: the tasks' aggregates and the counts a duplicate "
    "check could start from (no exact duplicate count)":
        "SELECT k.kcode AS cid, task, count(*) AS n, count(*) FILTER (WHERE n.cid = '') AS "
        "n_empty, count(*) FILTER (WHERE action = 'start') AS ns, max(sec) FILTER (WHERE "
        "action = 'start') AS s_max, " + _TASK_AGGS + " FROM (" + _NORM + ") n LEFT JOIN "
        "ids k ON n.cid = k.kid GROUP BY ALL",
}


def floor(folder: Path, *, memory_limit: str = "3GB") -> dict:
    """CPU and wall seconds of each `FLOOR_VARIANTS` statement over the activity file, on
    the engine's connection settings (`read.connect`), after the cohort codes are made."""
    from bayes_ab.aggregate import read

    paths = read.experiment_paths(folder)
    con = read.connect("duckdb", memory_limit=memory_limit)

    def src(key):
        path = paths[key]
        return (f"read_parquet('{path}')" if path.name.endswith(".parquet")
                else f"read_csv('{path}', all_varchar=true)")

    out: dict = {"variants": {}}
    try:
        con.raw_sql("CREATE TEMP TABLE ids AS SELECT customer_id AS kid, "
                    "(row_number() OVER () * 2)::BIGINT AS kcode FROM " + src("cohorts"))
        for name, sql in FLOOR_VARIANTS.items():
            t, c = time.perf_counter(), time.process_time()
            con.raw_sql("CREATE OR REPLACE TEMP TABLE floor_out AS " + sql.format(
                src=src("activity")))
            out["variants"][name] = {"seconds": time.perf_counter() - t,
                                     "cpu_seconds": time.process_time() - c}
            con.raw_sql("DROP TABLE floor_out")
    finally:
        read.close(con)
    out["peak_mb"] = _peak_mb()
    return out


def floor_table(results: dict) -> list[str]:
    rows = [r for r in results["sizes"] if "variants" in r.get("floor", {})]
    lines = ["CPU seconds (wall in brackets) of each statement over the activity file, "
             "each materialised as a temporary table; the last column divides by the "
             "reference over the same file.", "",
             "| statement | " + " | ".join(r["size"] for r in rows) + " | x reference |",
             "|---|" + "---|" * len(rows) + "---|"]
    names = list(FLOOR_VARIANTS)
    ref = names[0]
    for name in names:
        cells = [f"{r['floor']['variants'][name]['cpu_seconds']:.1f} "
                 f"({r['floor']['variants'][name]['seconds']:.1f})" for r in rows]
        ratios = ", ".join(
            f"{r['floor']['variants'][name]['cpu_seconds'] / r['floor']['variants'][ref]['cpu_seconds']:.1f}"
            for r in rows)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratios} |")
    return lines


def _child(what: str, label: str, data_dir: str, memory_limit: str) -> dict:
    cmd = [sys.executable, __file__, "--one", what, "--sizes", label, "--data-dir", data_dir,
           "--memory-limit", memory_limit]
    r = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": (r.stderr or r.stdout)[-2000:]}
    return json.loads(line[len("RESULT "):])


def table(results: dict) -> list[str]:
    rows = [r for r in results["sizes"] if "engine" in r and "seconds" in r["engine"]]
    lines = ["Wall seconds, and CPU seconds (all threads of the process: less sensitive to "
             "other jobs on a shared machine).", "",
             "| customers | reference wall | engine wall | ratio (wall) | reference CPU | "
             "engine CPU | ratio (CPU) | engine peak memory (MB) | load average at start |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref, eng = r["reference"], r["engine"]
        lines.append(f"| {r['size']} | {ref['seconds']:.1f} | {eng['seconds']:.1f} | "
                     f"{eng['seconds'] / ref['seconds']:.1f}x | {ref['cpu_seconds']:.1f} | "
                     f"{eng['cpu_seconds']:.1f} | {eng['cpu_seconds'] / ref['cpu_seconds']:.1f}x"
                     f" | {eng['peak_mb']:.0f} | {r['load_avg_start']:.1f} |")
    stages: list[str] = []
    for r in rows:
        stages += [k for k in r["engine"]["timings"] if k not in stages and k != "total"]
    if stages:
        lines += ["", "Engine stages (wall / CPU seconds):", "",
                  "| stage | " + " | ".join(r["size"] for r in rows) + " |",
                  "|---|" + "---|" * len(rows)]
        for k in stages:
            lines.append(f"| {k} | " + " | ".join(
                f"{r['engine']['timings'].get(k, float('nan')):.1f} / "
                f"{r['engine'].get('cpu_timings', {}).get(k, float('nan')):.1f}"
                for r in rows) + " |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "bayes_ab_bench"))
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--floor", action="store_true",
                    help="instead: the activity file's statement taken apart, against the "
                         "reference over the same file (writes aggregation_floor.md / .json)")
    ap.add_argument("--one", choices=("reference", "engine", "floor"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    run = _run_module()
    if args.one:
        folder = run.dataset(args.sizes, Path(args.data_dir))
        fn = {"reference": reference, "engine": engine, "floor": floor}[args.one]
        print("RESULT " + json.dumps(fn(folder, memory_limit=args.memory_limit)))
        return 0
    if args.floor:
        return _floor_main(args, argv, run)
    results = {"machine": run.machine(), "command": "python benchmarks/aggregation.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "sizes": []}
    for label in [s for s in args.sizes.split(",") if s]:
        run.dataset(label, Path(args.data_dir))  # simulated outside the measurements
        row = {"size": label, "n": run.SIZES[label], "load_avg_start": os.getloadavg()[0]}
        for what in ("reference", "engine"):
            print(f"{label}: {what} ...", flush=True)
            row[what] = _child(what, label, args.data_dir, args.memory_limit)
            print(json.dumps(row[what]), flush=True)
        results["sizes"].append(row)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "aggregation.json").write_text(json.dumps(results, indent=2))
    text = "\n".join(["# Aggregation vs one DuckDB pass", "", f"Machine: {results['machine']}",
                      "", f"Command: `{results['command']}`.", "", *table(results), ""])
    (out / "aggregation.md").write_text(text)
    print(text)
    return 0


def _floor_main(args, argv, run) -> int:
    results = {"machine": run.machine(), "command": "python benchmarks/aggregation.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "sizes": []}
    for label in [s for s in args.sizes.split(",") if s]:
        run.dataset(label, Path(args.data_dir))
        print(f"{label}: floor ...", flush=True)
        row = {"size": label, "n": run.SIZES[label], "load_avg_start": os.getloadavg()[0],
               "floor": _child("floor", label, args.data_dir, args.memory_limit)}
        print(json.dumps(row["floor"]), flush=True)
        results["sizes"].append(row)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "aggregation_floor.json").write_text(json.dumps(results, indent=2))
    loads = ", ".join(f"{r['size']} {r['load_avg_start']:.1f}" for r in results["sizes"])
    text = "\n".join(["# The activity file's statement taken apart", "",
                      f"Machine: {results['machine']}", "",
                      f"Command: `{results['command']}`; load average at the start: {loads}.",
                      "", *floor_table(results), ""])
    (out / "aggregation_floor.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
