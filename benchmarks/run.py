"""Scale and speed benchmarks of bayes_ab: one command, one results table.

    python benchmarks/run.py                      # 20k, 1M, 10M customers
    python benchmarks/run.py --sizes 20k,1M       # quicker
    python benchmarks/run.py --full               # adds 100M (simulated straight to Parquet)

Writes benchmarks/results/benchmarks.md (machine, tables) and benchmarks/results/
benchmarks.json. Each size runs in its own process, so its peak memory (ru_maxrss of
that process: pandas, DuckDB and PyTensor all included) is its own. Stages, per size:

* ``simulate``: `write_simulation_chunked` to Parquet (not part of analyze; cached in
  --data-dir between runs). 20k uses the shipped data/example (CSV.gz).
* ``aggregate``: `bayes_ab.aggregate.aggregate_experiment` (Ibis + DuckDB), files ->
  sufficient statistics of every model, validation included;
* ``pandas load``: the pandas path (`load_experiment` + every ``from_experiment``), only
  up to --pandas-max customers;
* per model: ``compile`` (PyMC model build + nutpie compile), ``sample`` (nutpie) and
  ``report`` (summarize + diagnostics) with --draws/--tune/--chains (--no-models skips);
* ``analyze`` end to end: ``bayes-ab analyze DATA --engine auto --no-figures`` in its own
  process (wall time, its stages from results.json ``timing_seconds``, peak memory);
* the aggregation's own stages (`AggregatedExperiment.timings`): where its time goes.

Side by side (20k and 200k, one process): the aggregated Binomial conversion model vs a
per-row Bernoulli PyMC model on the same customers, the closed-form Beta-Binomial, and
nutpie vs PyMC's NUTS. Cold start: ``import bayes_ab`` and compile with an empty vs a
warm PyTensor compile directory.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Other scripts here (e.g. coverage.py) would shadow real packages (numba imports coverage).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
EXAMPLE = ROOT / "data" / "example"
SIZES = {"20k": 20_000, "200k": 200_000, "1M": 1_000_000, "10M": 10_000_000,
         "100M": 100_000_000}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    try:
        mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal"))) / 1024 / 1024
    except (OSError, StopIteration):
        mem = float("nan")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import duckdb
    import ibis
    import nutpie
    import pymc
    return (f"{cpu}; {os.cpu_count()} cores visible; {mem:.1f} GiB RAM; Python "
            f"{platform.python_version()}; PyMC {pymc.__version__}, nutpie {nutpie.__version__}, "
            f"DuckDB {duckdb.__version__}, Ibis {ibis.__version__}; load average at start "
            f"{load:.1f} (a shared machine: other jobs were running)")


# ----------------------------------------------------------------------------- data


def dataset(label: str, data_dir: Path) -> Path:
    """The experiment folder of a size, simulated once (seed 1) and cached."""
    n = SIZES[label]
    if label == "20k":
        return EXAMPLE
    from bayes_ab.data.simulate import write_simulation_chunked

    out = data_dir / f"sim_{label}"
    if (out / "truth.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    write_simulation_chunked(n, 1, out, chunk=1_000_000, workers=2)
    (out / "simulate_seconds.txt").write_text(f"{time.perf_counter() - t:.2f}\n")
    return out


# ----------------------------------------------------------------------------- one size


def fit_model(step, stats, *, draws: int, tune: int, chains: int, sampler: str = "nutpie"):
    """(compile s, sample s, report s, diagnostics passed) of one pipeline step."""
    import nutpie
    import pymc as pm

    from bayes_ab.fit import SamplerConfig

    cls = getattr(importlib.import_module(step.module), step.cls)
    model = cls(stats, name=step.key) if step.cls == "ArmComparison" else cls(stats)
    t = time.perf_counter()
    pm_model = model.build()
    if sampler == "nutpie":
        compiled = nutpie.compile_pymc_model(pm_model)
    t_compile = time.perf_counter() - t
    t = time.perf_counter()
    if sampler == "nutpie":
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=1,
                              progress_bar=False, cores=min(chains, os.cpu_count() or 1))
    else:
        with pm_model:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=1,
                              progressbar=False, cores=min(chains, os.cpu_count() or 1),
                              compute_convergence_checks=False)
    t_sample = time.perf_counter() - t
    t = time.perf_counter()
    try:
        model.summarize(idata)
        passed = bool(model.diagnostics(idata).passed)
    except Exception as exc:  # noqa: BLE001 - a benchmark records, it does not stop
        passed = f"summary failed: {exc}"
    t_report = time.perf_counter() - t
    del SamplerConfig
    return t_compile, t_sample, t_report, passed


def run_size(label: str, data: Path, *, draws: int, tune: int, chains: int,
             pandas_max: int, models: bool) -> dict:
    from bayes_ab.aggregate import aggregate_experiment, stats_by_step
    from bayes_ab.pipeline import MODEL_STEPS

    out: dict = {"size": label, "n": SIZES[label], "data": str(data)}
    sim = data / "simulate_seconds.txt"
    out["simulate_s"] = float(sim.read_text()) if sim.exists() else None
    out["data_mb"] = round(sum(p.stat().st_size for p in data.iterdir()) / 2**20, 1)
    out["load_avg_start"] = os.getloadavg()
    t = time.perf_counter()
    agg = aggregate_experiment(data)
    out["aggregate_s"] = time.perf_counter() - t
    out["aggregate_stages"] = dict(agg.timings)
    out["peak_mb_after_aggregate"] = _peak_mb()
    stats = stats_by_step(agg)
    if SIZES[label] <= pandas_max:
        from bayes_ab.data.load import load_experiment

        t = time.perf_counter()
        d = load_experiment(data)
        for step in MODEL_STEPS:
            cls = getattr(importlib.import_module(step.module), step.cls)
            cls.stats_type.from_experiment(d, **step.stats_kwargs)
        out["pandas_load_s"] = time.perf_counter() - t
        del d
    out["models"] = {}
    if models:
        for step in MODEL_STEPS:
            if step.key not in stats:
                continue
            c, s, r, ok = fit_model(step, stats[step.key], draws=draws, tune=tune, chains=chains)
            out["models"][step.key] = {"compile_s": c, "sample_s": s, "report_s": r,
                                       "diagnostics_passed": ok}
    out["compile_s"] = sum(m["compile_s"] for m in out["models"].values())
    out["sample_s"] = sum(m["sample_s"] for m in out["models"].values())
    out["report_s"] = sum(m["report_s"] for m in out["models"].values())
    out["total_s"] = out["aggregate_s"] + out["compile_s"] + out["sample_s"] + out["report_s"]
    out["peak_mb"] = _peak_mb()
    out["load_avg_end"] = os.getloadavg()
    return out


def run_analyze(data: Path, *, draws: int, tune: int, chains: int) -> dict:
    """`bayes-ab analyze` end to end in this (fresh) process: wall, stages, peak memory."""
    from bayes_ab.cli import main as cli_main

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        rc = cli_main(["analyze", str(data), "--out", str(Path(tmp) / "out"), "--quiet",
                       "--no-figures", "--engine", "auto", "--draws", str(draws), "--tune",
                       str(tune), "--chains", str(chains), "--seed", "1"])
        wall = time.perf_counter() - t
        res = json.loads((Path(tmp) / "out" / "results.json").read_text())
    timing = res["timing_seconds"]
    return {"rc": rc, "wall_s": wall, "engine": res["input"]["engine"], "timing": timing,
            "report_s": wall - timing["total"], "peak_mb": _peak_mb(), "load_avg_start": load,
            "load_avg_end": os.getloadavg()}


# ----------------------------------------------------------------------------- side by side


def side_by_side(n: int, *, draws: int, tune: int, chains: int) -> dict:
    """Conversion on the same n customers: aggregated vs per-row, nutpie vs PyMC, closed form."""
    import numpy as np
    import nutpie
    import pymc as pm

    from bayes_ab.data.simulate import simulate
    from bayes_ab.models.arm_comparison import ArmComparison, ArmCounts
    from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, posterior

    sim = simulate(n=n, seed=3, truth=False)
    df = sim.test_cohorts[["customer_id", "cohort"]].merge(sim.conversion, on="customer_id")
    arm = (df["cohort"] == "Test").to_numpy().astype(np.int64)
    y = df["converted"].to_numpy().astype(np.int64)
    stats = ArmCounts.from_frame(df, group_col="cohort", outcome_col="converted",
                                 arms=("Control", "Test"))
    out: dict = {"n": n}

    def timed(build, sampler):
        t = time.perf_counter()
        model = build()
        if sampler == "nutpie":
            compiled = nutpie.compile_pymc_model(model)
            tc = time.perf_counter() - t
            t = time.perf_counter()
            idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=1,
                                  progress_bar=False)
        else:
            tc = 0.0
            with model:
                idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=1,
                                  progressbar=False, compute_convergence_checks=False,
                                  cores=min(chains, os.cpu_count() or 1))
        ts = time.perf_counter() - t
        rate = idata.posterior["rate"].values.reshape(-1, 2)
        return {"compile_s": tc, "sample_s": ts, "total_s": tc + ts,
                "mean_control": float(rate[:, 0].mean()), "mean_test": float(rate[:, 1].mean())}

    def per_row():
        with pm.Model(coords={"arm": ["Control", "Test"]}) as m:
            rate = pm.Beta("rate", alpha=1.0, beta=1.0, dims="arm")
            pm.Bernoulli("y", p=rate[arm], observed=y)
        return m

    out["aggregated_nutpie"] = timed(lambda: ArmComparison(stats).build(), "nutpie")
    out["aggregated_pymc"] = timed(lambda: ArmComparison(stats).build(), "pymc")
    out["per_row_nutpie"] = timed(per_row, "nutpie")
    t = time.perf_counter()
    prior = BetaPrior()
    post = [posterior(BinomialCounts(successes=s, trials=k), prior=prior)
            for s, k in zip(stats.successes, stats.trials, strict=True)]
    means = [p.hdi().to_dict()["mean"] for p in post]
    out["closed_form"] = {"total_s": time.perf_counter() - t, "mean_control": means[0],
                          "mean_test": means[1]}
    return out


# ----------------------------------------------------------------------------- cold start


def cold_start() -> dict:
    out = {}
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    for mod in ("bayes_ab", "bayes_ab.cli", "bayes_ab.aggregate"):
        times = []
        for _ in range(3):
            r = subprocess.run([sys.executable, "-c", code.format(m=mod)], capture_output=True,
                               text=True, check=True)
            times.append(float(r.stdout.strip().splitlines()[-1]))
        out[f"import {mod}"] = min(times)
    # One model compiled in a fresh process: empty PyTensor compile dir vs the warm one.
    script = ("import time; from bayes_ab.models.arm_comparison import ArmComparison, ArmCounts;"
              "import nutpie; s = ArmCounts(arms=('Control','Test'), successes=(10, 12),"
              " trials=(100, 100)); t = time.perf_counter();"
              " nutpie.compile_pymc_model(ArmComparison(s).build());"
              " print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as empty:
        env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={empty}")
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, check=True)
        out["compile ArmComparison, empty compile dir"] = float(r.stdout.strip().splitlines()[-1])
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    out["compile ArmComparison, warm compile dir"] = float(r.stdout.strip().splitlines()[-1])
    return out


# ----------------------------------------------------------------------------- report


def _f(x, digits=1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def write_markdown(results: dict, path: Path) -> str:
    lines = ["# Benchmarks", "", f"Machine: {results['machine']}", "",
             f"Command: `{results['command']}`; sampler settings per model: "
             f"{results['settings']}.", ""]
    if any(r.get("analyze") for r in results["sizes"]):
        lines += ["## `bayes-ab analyze` end to end (seconds; own process; `--engine auto "
                  "--no-figures`)", "",
                  "| customers | engine | load avg (1 min) | load / aggregate | frequentist | "
                  "7 models (compile + sample) | prior sensitivity | ratio, segments, "
                  "forensics, report | total wall | peak memory (MB) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in results["sizes"]:
            a = r.get("analyze")
            if not a:
                continue
            tm = a["timing"]
            models = sum(v for k, v in tm.items() if k.startswith("model_"))
            rest = a["wall_s"] - tm["load"] - tm["frequentist"] - models - tm.get(
                "prior_sensitivity", 0.0)
            lines.append(f"| {r['size']} | {a['engine']} | {a['load_avg_start'][0]:.1f} | "
                         f"{tm['load']:.1f} | {tm['frequentist']:.1f} | {models:.1f} | "
                         f"{tm.get('prior_sensitivity', 0.0):.1f} | {rest:.1f} | "
                         f"{a['wall_s']:.1f} | {a['peak_mb']:.0f} |")
        lines.append("")
    if any(r.get("aggregate_stages") for r in results["sizes"]):
        stages = [k for k in results["sizes"][0].get("aggregate_stages", {}) if k != "total"]
        lines += ["## Where the aggregation's time goes (seconds, DuckDB, 2 threads)", "",
                  "| stage | " + " | ".join(r["size"] for r in results["sizes"]) + " |",
                  "|---|" + "---|" * len(results["sizes"])]
        for k in [*stages, "total"]:
            lines.append(f"| {k} | " + " | ".join(
                _f(r.get("aggregate_stages", {}).get(k), 2) for r in results["sizes"]) + " |")
        lines.append("")
    lines += [
             "## `analyze` stages by size (seconds; peak memory of the size's own process)", "",
             "| customers | data (MB) | simulate | aggregate (DuckDB) | pandas load | compile "
             "| sample | report | total (aggregate..report) | peak memory (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["sizes"]:
        if not r.get("models"):  # --no-models: no per-model compile / sample here
            r = {**r, "compile_s": None, "sample_s": None, "report_s": None}
        lines.append(f"| {r['size']} | {r['data_mb']} | {_f(r['simulate_s'])} | "
                     f"{_f(r['aggregate_s'])} | {_f(r.get('pandas_load_s'))} | "
                     f"{_f(r['compile_s'])} | {_f(r['sample_s'])} | {_f(r['report_s'], 2)} | "
                     f"{_f(r['total_s'])} | {r['peak_mb']:.0f} |")
    if results["sizes"] and not results["sizes"][0].get("models"):
        lines += ["", "(run with --no-models: the models' compile and sample times are in the "
                  "`analyze` table above)"]
    if results["sizes"] and results["sizes"][0].get("models"):
        lines += ["", "### Per model (seconds: compile / sample), by size", "",
                  "| model | " + " | ".join(r["size"] for r in results["sizes"]) + " |",
                  "|---|" + "---|" * len(results["sizes"])]
        for key in results["sizes"][0]["models"]:
            cells = []
            for r in results["sizes"]:
                m = r["models"].get(key)
                cells.append("-" if m is None else
                             f"{m['compile_s']:.1f} / {m['sample_s']:.1f}"
                             + ("" if m["diagnostics_passed"] is True else " (gate failed)"))
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    if results.get("side_by_side"):
        lines += ["", "## Conversion, same customers: aggregated vs per-row (seconds)", "",
                  "| customers | closed-form Beta-Binomial | aggregated, nutpie (compile + sample)"
                  " | aggregated, PyMC NUTS | per-row Bernoulli, nutpie | per-row / aggregated "
                  "| PyMC / nutpie (aggregated) |", "|---|---|---|---|---|---|---|"]
        if results.get("side_by_side_from_previous_run"):
            lines[-2:-2] = ["(not rerun: from the previous run of this script)", ""]
        for s in results["side_by_side"]:
            a, p, r = s["aggregated_nutpie"], s["aggregated_pymc"], s["per_row_nutpie"]
            lines.append(
                f"| {s['n']:,} | {s['closed_form']['total_s']:.4f} | {a['total_s']:.1f} "
                f"({a['compile_s']:.1f} + {a['sample_s']:.1f}) | {p['total_s']:.1f} | "
                f"{r['total_s']:.1f} ({r['compile_s']:.1f} + {r['sample_s']:.1f}) | "
                f"{r['sample_s'] / a['sample_s']:.0f}x sampling | "
                f"{p['total_s'] / a['total_s']:.1f}x |")
        lines += ["", "Posterior means agree (control / test): " + "; ".join(
            f"n={s['n']:,}: closed form {s['closed_form']['mean_control']:.4f} / "
            f"{s['closed_form']['mean_test']:.4f}, aggregated "
            f"{s['aggregated_nutpie']['mean_control']:.4f} / "
            f"{s['aggregated_nutpie']['mean_test']:.4f}, per-row "
            f"{s['per_row_nutpie']['mean_control']:.4f} / {s['per_row_nutpie']['mean_test']:.4f}"
            for s in results["side_by_side"]) + "."]
    if results.get("cold_start"):
        lines += ["", "## Cold start (seconds)", ""]
        if results.get("cold_start_from_previous_run"):
            lines += ["(not rerun: from the previous run of this script)", ""]
        lines += ["| what | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in results["cold_start"].items()]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20k,1M,10M")
    ap.add_argument("--full", action="store_true", help="add 100M customers")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--pandas-max", type=int, default=1_000_000,
                    help="run the pandas path up to this many customers")
    ap.add_argument("--side-by-side", default="20k,200k")
    ap.add_argument("--no-models", action="store_true")
    ap.add_argument("--no-cold-start", action="store_true")
    ap.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "bayes_ab_bench"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--no-analyze", action="store_true", help="skip `analyze` end to end")
    ap.add_argument("--one-size", help=argparse.SUPPRESS)  # internal: child process
    ap.add_argument("--one-analyze", help=argparse.SUPPRESS)  # internal: child process
    args = ap.parse_args(argv)

    settings = dict(draws=args.draws, tune=args.tune, chains=args.chains)
    if args.one_analyze:
        res = run_analyze(dataset(args.one_analyze, Path(args.data_dir)), **settings)
        print("RESULT " + json.dumps(res))
        return 0
    if args.one_size:
        label = args.one_size
        res = run_size(label, dataset(label, Path(args.data_dir)), pandas_max=args.pandas_max,
                       models=not args.no_models, **settings)
        print("RESULT " + json.dumps(res))
        return 0

    sizes = [s for s in args.sizes.split(",") if s]
    if args.full and "100M" not in sizes:
        sizes.append("100M")
    results = {"machine": machine(), "command": "python benchmarks/run.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "settings": settings, "sizes": []}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label in sizes:
        dataset(label, Path(args.data_dir))  # simulate outside the measured process
        cmd = [sys.executable, __file__, "--one-size", label, "--draws", str(args.draws),
               "--tune", str(args.tune), "--chains", str(args.chains), "--pandas-max",
               str(args.pandas_max), "--data-dir", args.data_dir]
        if args.no_models:
            cmd.append("--no-models")
        print(f"size {label} ...", flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(r.stdout[-2000:], r.stderr[-4000:], file=sys.stderr)
            continue
        results["sizes"].append(json.loads(line[len("RESULT "):]))
        print(json.dumps({k: v for k, v in results["sizes"][-1].items() if k != "models"}),
              flush=True)
        if not args.no_analyze:
            print(f"analyze {label} ...", flush=True)
            cmd = [sys.executable, __file__, "--one-analyze", label, "--draws",
                   str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains),
                   "--data-dir", args.data_dir]
            r = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(r.stdout[-2000:], r.stderr[-4000:], file=sys.stderr)
            else:
                results["sizes"][-1]["analyze"] = json.loads(line[len("RESULT "):])
                print(json.dumps(results["sizes"][-1]["analyze"]), flush=True)
    # Sections not rerun (--side-by-side "", --no-cold-start) are kept from the last run.
    previous = {}
    if (out / "benchmarks.json").exists():
        try:
            previous = json.loads((out / "benchmarks.json").read_text())
        except ValueError:
            previous = {}
    results["side_by_side"] = []
    for label in [s for s in args.side_by_side.split(",") if s]:
        print(f"side by side {label} ...", flush=True)
        results["side_by_side"].append(side_by_side(SIZES[label], **settings))
    if not results["side_by_side"] and previous.get("side_by_side"):
        results["side_by_side"] = previous["side_by_side"]
        results["side_by_side_from_previous_run"] = True
    if not args.no_cold_start:
        print("cold start ...", flush=True)
        results["cold_start"] = cold_start()
    elif previous.get("cold_start"):
        results["cold_start"] = previous["cold_start"]
        results["cold_start_from_previous_run"] = True
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str))
    print(write_markdown(results, out / "benchmarks.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
