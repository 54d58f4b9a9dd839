"""Scale and speed benchmarks of bayes_ab: one command writes the README's tables.

    python benchmarks/run.py --full               # 20k, 1M, 10M and 100M customers
    python benchmarks/run.py                      # 20k, 1M, 10M
    python benchmarks/run.py --sizes 20k,1M --side-by-side 20k --no-cold-start  # quick

Writes benchmarks/results/benchmarks.md and .json, and rewrites the README's section
between the ``benchmarks:start`` / ``benchmarks:end`` markers (``--readme ''``: not).

* Per size: the data is simulated once (seed 1, `write_simulation_chunked` to Parquet,
  cached in --data-dir; 20k is the shipped data/example, CSV.gz), then ``bayes-ab
  analyze DATA --no-figures`` runs end to end in its own process with the command's
  default settings: wall time, its stages (load + aggregate, frequentist, compile and
  sample of each model, summaries, prior sensitivity, the rest: ratio metrics, segments,
  report), the aggregation engine's own stages, and the process's peak memory.
* Side by side (20k and 200k customers, one process): conversion by the closed-form
  Beta-Binomial, the aggregated Binomial model and a per-row Bernoulli model; the hazard
  ratio by the aggregated piecewise-exponential model and its per-flag twin; each PyMC
  model on nutpie, PyMC's NUTS and numpyro (when JAX is installed), posteriors compared.
* Cold start: import costs, and every model's compile with an empty vs a warm PyTensor
  compile directory, in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Other scripts here (e.g. coverage.py) would shadow real packages (numba imports coverage).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
EXAMPLE = ROOT / "data" / "example"
SIZES = {"20k": 20_000, "200k": 200_000, "1M": 1_000_000, "10M": 10_000_000,
         "100M": 100_000_000}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_busy(window_s: float = 1.0) -> float:
    """The fraction of the machine's CPU time (all cores) not idle over the next
    ``window_s`` seconds, from /proc/stat (nan where there is none). This process sleeps
    meanwhile, so it measures everything else: what "quiet" means for a timed run."""
    def ticks():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait

    try:
        total0, idle0 = ticks()
        time.sleep(window_s)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def settle(max_wait_s: float = 30.0, quiet: float = 0.1) -> float:
    """Wait, one second at a time, until the machine is quiet (under ``quiet`` of its CPU
    busy over a second) or ``max_wait_s`` has passed; the last busy fraction measured.
    Child processes of the run before (background fits, a server's forks) end within
    a second or two of it, and the 1-minute load average lags by a minute, so each timed
    run waits for this instead and records it."""
    t0 = time.perf_counter()
    busy = cpu_busy()
    while busy >= quiet and time.perf_counter() - t0 < max_wait_s:
        busy = cpu_busy()
    return busy


#: The 1-minute load average when this benchmark process started (before any of its own
#: work: the `machine` line describes the machine as the benchmark found it).
LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


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
    load = LOAD_AT_START
    import duckdb
    import ibis
    import nutpie
    import pymc
    return (f"{cpu}; {os.cpu_count()} cores visible; {mem:.1f} GiB RAM; Python "
            f"{platform.python_version()}; PyMC {pymc.__version__}, nutpie {nutpie.__version__}, "
            f"DuckDB {duckdb.__version__}, Ibis {ibis.__version__}; load average at start "
            f"{load:.1f}" + (" (other jobs were running: times are inflated)" if load > 0.7 else ""))


# ----------------------------------------------------------------------------- data


def dataset(label: str, data_dir: Path) -> Path:
    """The experiment folder of a size, simulated once (seed 1) and cached."""
    n = SIZES[label]
    if label == "20k":
        return EXAMPLE
    from bayes_ab.simulate import write_simulation_chunked

    out = data_dir / f"sim_{label}"
    if (out / "truth.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    write_simulation_chunked(n, 1, out, chunk=1_000_000, workers=2)
    (out / "simulate_seconds.txt").write_text(f"{time.perf_counter() - t:.2f}\n")
    return out


# ----------------------------------------------------------------------------- one size

#: Targets of issue 7 (2 cores): seconds end to end, and peak memory at every size.
TARGET_S = {"1M": 120, "10M": 300, "100M": 1800}
#: Issue 16's stricter target: 100M end to end in 5 minutes (same memory bound).
TARGET_S_16 = {"100M": 300}
TARGET_PEAK_MB = 4096


def _cpu_s(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


class TempDiskPeak:
    """The most disk that files new in the temporary folder held at once while the block
    ran (DuckDB's on-disk database and its spill files, a run's private folder), sampled
    every ``every_s`` seconds: entries of `tempfile.gettempdir()` that were not there at
    the start, their allocated blocks (``st_blocks``) summed by walking them. A sample
    misses what lives between two samples; files that vanish mid-walk are skipped."""

    def __init__(self, every_s: float = 2.0, root: str | None = None):
        import threading

        self.root = Path(root or tempfile.gettempdir())
        self.every_s = every_s
        self.peak_bytes = 0
        self.samples = 0
        self._before: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="bench: temporary disk")

    @staticmethod
    def _allocated(path: str) -> int:
        try:
            st = os.lstat(path)  # a link is not followed
        except OSError:
            return 0
        total = st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            try:
                names = os.listdir(path)
            except OSError:
                return total
            for name in names:
                total += TempDiskPeak._allocated(os.path.join(path, name))
        return total

    def sample(self) -> int:
        try:
            names = os.listdir(self.root)
        except OSError:
            return 0
        used = sum(self._allocated(str(self.root / n)) for n in names if n not in self._before)
        self.peak_bytes = max(self.peak_bytes, used)
        self.samples += 1
        return used

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> TempDiskPeak:
        try:
            self._before = set(os.listdir(self.root))
        except OSError:
            self._before = set()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def run_analyze(data: Path, *, sampler_args: list[str]) -> dict:
    """`bayes-ab analyze` end to end in this (fresh) process: wall, stages, peak memory.

    With no ``sampler_args`` the command's defaults (4 chains x 1000 draws after 1000
    tuning steps, prior sensitivity of the decision metrics): what a user runs."""
    from bayes_ab.cli.main import main as cli_main

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, TempDiskPeak() as disk:
        t = time.perf_counter()
        cpu0 = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN)
        rc = cli_main(["analyze", str(data), "--out", str(Path(tmp) / "out"), "--quiet",
                       "--no-figures", "--engine", "auto", "--seed", "1", *sampler_args])
        wall = time.perf_counter() - t
        cpu = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN) - cpu0
        res = json.loads((Path(tmp) / "out" / "results.json").read_text())
    return {"rc": rc, "wall_s": wall, "cpu_s": cpu, "engine": res["input"]["engine"],
            "timing": res["timing_seconds"], "sampler": res.get("sampler"),
            "gate_passed": bool(res["diagnostics"]["passed"]),
            "recommendation": (res.get("decision") or {}).get("recommendation"),
            "peak_mb": _peak_mb(), "peak_temp_disk_mb": disk.peak_mb,
            "temp_disk_samples": disk.samples,
            "load_avg_start": load, "load_avg_end": os.getloadavg()}


# ----------------------------------------------------------------------------- example e2e


def _example_run(data: Path, out: Path, env: dict, extra_args) -> dict:
    """One `bayes-ab analyze DATA --out OUT --force --quiet` in a fresh process: its exit
    code, wall, CPU (user + sys of the command's process and its children), the load
    average at its start, and results.json's timings, sampler and gate (or the error)."""
    cmd = [sys.executable, "-m", "bayes_ab.cli.main", "analyze", str(data), "--out",
           str(out), "--force", "--quiet", *(extra_args or [])]
    busy = settle()
    load = os.getloadavg()
    cpu0 = _cpu_s(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    row = {"rc": r.returncode, "wall_s": wall, "busy_before": busy,
           "cpu_s": _cpu_s(resource.RUSAGE_CHILDREN) - cpu0, "load_avg_start": load}
    if r.returncode == 0:
        res = json.loads((out / "results.json").read_text())
        row.update(timing=res["timing_seconds"], sampler=res.get("sampler"),
                   gate_passed=bool(res["diagnostics"]["passed"]))
    else:
        row["error"] = r.stderr[-500:]
    return row


def _served_runs(env: dict, new_data: Path, out: Path, extra_args, repeats: int,
                 every: dict) -> None:
    """The warm and new-data runs again with `bayes-ab serve` running (started here, with
    the same environment, after the fresh-process runs; stopped at the end): the command
    is the same, its process a fork of the warm server. CPU: the served commands' own
    (the server's count, from each fork's rusage) plus the waiting command's."""
    cli = [sys.executable, "-m", "bayes_ab.cli.main"]

    def served_cpu() -> float:
        r = subprocess.run([*cli, "serve", "--status"], env=env, capture_output=True,
                           text=True)
        return float(json.loads(r.stdout)["cpu_seconds"]) if r.returncode == 0 else float("nan")

    t = time.perf_counter()
    started = subprocess.run([*cli, "serve", "--detach", "--idle-minutes", "10"], env=env,
                             capture_output=True, text=True)
    start_s = time.perf_counter() - t
    if started.returncode != 0:
        every.setdefault("served: failed to start", []).append(
            {"rc": started.returncode, "wall_s": start_s, "cpu_s": 0.0, "error": started.stderr,
             "load_avg_start": os.getloadavg()})
        return
    try:
        plan = [("warm, served", EXAMPLE), ("new data, served", new_data)] * max(1, int(repeats))
        for label, data in plan:
            served0 = served_cpu()
            row = _example_run(data, out, env, extra_args)  # its CPU: the waiting command's
            row["cpu_s"] += served_cpu() - served0  # plus the fork's, counted by the server
            row["server_start_s"] = start_s
            every.setdefault(label, []).append(row)
    finally:
        subprocess.run([*cli, "serve", "--stop"], env=env, capture_output=True, text=True)


def example_end_to_end(extra_args: list[str] | None = None, *, repeats: int = 3,
                       serve: bool = True) -> dict:
    """`bayes-ab analyze data/example --out OUT --force` with the command's defaults (figures
    and report included), in fresh processes: first with empty compile caches (PyTensor's
    compile directory, numba's and bayes_ab's own cache dir all in a new temporary folder:
    a first run on a new machine), then again with the caches that run left (the second
    run), then on new data of the same shapes (20,000 trialers simulated with another seed:
    what a user's own export meets once the example has run; the compiled models are keyed
    by their graphs, the data are passed at run time). Wall and CPU (user + sys of the
    process and its children, e.g. g++), and the stages from results.json's timing_seconds.

    The warm and new-data runs are repeated ``repeats`` times, alternating (warm, new data,
    warm, ...): on a shared 2-core machine one run of the same command varies by +-10%,
    so each row is the run of median wall time, with every run's wall kept beside it."""
    runs = {}
    every: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache}/pytensor",
               "NUMBA_CACHE_DIR": f"{cache}/numba", "BAYES_AB_CACHE_DIR": f"{cache}/bayes_ab",
               "MPLBACKEND": "Agg"}
        # Python's bytecode cache as on a default install (site-packages got theirs from
        # pip; bayes_ab's own in src/, git-ignored): an environment that sets
        # PYTHONDONTWRITEBYTECODE would recompile every bayes_ab module in every run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        new_data = Path(tmp) / "new_data"
        subprocess.run([sys.executable, "-m", "bayes_ab.cli.main", "simulate", "--n", "20000",
                        "--seed", "99", "--out", str(new_data), "--format", "csv.gz",
                        "--no-truth"], env=env, capture_output=True, text=True, check=True)
        plan = [("cold", EXAMPLE)] + [("warm", EXAMPLE), ("new data", new_data)] * max(
            1, int(repeats))
        for label, data in plan:
            every.setdefault(label, []).append(
                _example_run(data, Path(tmp) / "out", env, extra_args))
        imports = [import_seconds(env) for _ in range(max(1, int(repeats)))]
        if serve:
            _served_runs(env, new_data, Path(tmp) / "out", extra_args, repeats, every)
    for label, rows in every.items():
        ok = sorted((r for r in rows if r["rc"] == 0), key=lambda r: r["wall_s"])
        runs[label] = dict(ok[(len(ok) - 1) // 2] if ok else rows[-1])
        runs[label]["walls_s"] = [round(r["wall_s"], 2) for r in rows]
    if "warm" in runs:
        runs["warm"]["imports_s"] = [round(x, 2) for x in imports]
    return runs


#: What a fresh `bayes-ab analyze` process imports before its first fit can start: the
#: CLI, the analysis workflow, PyMC (with PyTensor, ArviZ and through it matplotlib's
#: pyplot and scipy.stats), nutpie and pandas.
IMPORTS = ("bayes_ab.cli.main", "bayes_ab.workflows.analyze", "pymc", "nutpie", "pandas")


def import_seconds(env: dict) -> float:
    """Wall seconds of a fresh Python process that only imports `IMPORTS` (interpreter
    start included), after a quiet second: the part of a fresh run no change to
    bayes_ab's own code removes (`bayes-ab serve` does, by importing them once)."""
    settle()
    code = "import " + ", ".join(IMPORTS)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def example_table(runs: dict) -> list[str]:
    """Cold vs warm rows of the example end to end, with each stage's share of the wall."""
    n = len(runs.get("warm", {}).get("walls_s", [0]))
    served_start = runs.get("warm, served", {}).get("server_start_s")
    lines = [
        "`bayes-ab analyze data/example --out OUT --force` (default options: figures, report, "
        "prior sensitivity), fresh process; cold = empty PyTensor / numba / bayes_ab caches, "
        "warm = the example again with the caches the cold run left, new data = a new "
        "simulated dataset of 20,000 trialers (seed 99) with the same caches. CPU is user + "
        "sys of the process and its children. Warm and new data "
        f"ran {n} time(s) each, alternating; each row is the run of median wall time, the "
        "last column every run's wall. Served = the same command with `bayes-ab serve` "
        "running (started after the fresh-process runs, same environment and caches): the "
        "command runs in a fork of that warm process (imports done, the compiled models "
        "preloaded); its CPU is the fork's (with its children) plus the waiting command's."
        + (f" Starting the server (imports, preload) took {served_start:.1f} s once."
           if served_start else ""), "",
        "| run | wall (s) | CPU (s) | compile | sample | rest of the fits (build, keys, "
        "diagnostics) | waiting for the background | prior sensitivity "
        "| rest (imports, load, ratios, segments, report) | wall / sampling | background "
        "(overlapped) | wall of each run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, a in runs.items():
        if "timing" not in a:
            lines.append(f"| {label} | failed: {a.get('error', '')[:80]} |")
            continue
        x = _analyze_split(a)
        x["rest"] = x["wall"] - sum(x[k] for k in ("compile", "sample", "fit_other", "wait",
                                                    "sensitivity"))
        share = {k: f"{x[k]:.1f} ({100 * x[k] / x['wall']:.0f}%)"
                 for k in ("compile", "sample", "fit_other", "wait", "sensitivity", "rest")}
        ratio = x["wall"] / x["sample"] if x["sample"] else float("nan")
        lines.append(f"| {label} | {x['wall']:.1f} | {a['cpu_s']:.1f} | {share['compile']} | "
                     f"{share['sample']} | {share['fit_other']} | {share['wait']} | "
                     f"{share['sensitivity']} | {share['rest']} | {ratio:.1f}x | "
                     f"{x['background']:.1f} | "
                     f"{', '.join(f'{w:.1f}' for w in a.get('walls_s', [x['wall']]))} |")
    lines += ["", "Sample: the seven models' posterior fits. Background: each model's "
              "secondary fits (the completions model's monotone and linear shapes and "
              "their LOO comparison: two more sampled fits, not in the sample column), "
              "summary, netCDF and figures, the frequentist cross-checks and the "
              "forensics, in forked child processes while the next model compiles and "
              "samples (`bayes_ab.workflows.background`); their own seconds, which "
              "overlap the columns before (the share columns add up to the wall)."]
    loads = ", ".join(f"{k} {v['load_avg_start'][0]:.1f}" for k, v in runs.items())
    busy = ", ".join(f"{k} {100 * v['busy_before']:.0f}%" for k, v in runs.items()
                     if v.get("busy_before") is not None)
    if busy:
        lines += ["", "Each run started once the machine was quiet (`settle`: under 10% of "
                  "both cores busy over a second, waiting up to 30 s); CPU busy in the "
                  f"second before the row's run: {busy}. The 1-minute load average at its "
                  f"start, which lags a minute behind and so still counts the run before: "
                  f"{loads}."]
    else:
        lines += ["", f"1-minute load average at the start: {loads}."]
    imports = runs.get("warm", {}).get("imports_s")
    if imports and "timing" in runs["warm"]:
        med = float(np.median(imports))
        sample = _analyze_split(runs["warm"])["sample"]
        lines += ["", f"Imports alone: a fresh process that only runs `import "
                  f"{', '.join(IMPORTS)}` took {med:.1f} s (median of "
                  f"{', '.join(f'{x:.1f}' for x in imports)} s, each after a quiet second), "
                  f"{med / sample:.1f}x the warm run's sampling ({sample:.1f} s): within 3x "
                  f"of the sampling a fresh process has {max(0.0, 3 * sample - med):.1f} s "
                  "left for the sampling itself and everything else. A served run "
                  "(`bayes-ab serve`) has imported them once."]
    cpu = {k[len("cpu: "):]: v for k, v in runs.get("warm", {}).get("timing", {}).items()
           if k.startswith("cpu: ")}
    if cpu:
        main = cpu.pop("this process", None)
        parts = ", ".join(f"{k.removeprefix('background_')} {v:.1f}"
                          for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
        lines += ["", "Where the warm run's CPU goes (seconds, from results.json's "
                  "`timing_seconds`): the main process "
                  + (f"{main:.1f} from the start of the analysis (imports before it not "
                     "included; the sampler's threads included)" if main is not None
                     else "(not recorded)")
                  + f"; each background child on its own clock: {parts} (sum "
                  f"{sum(cpu.values()):.1f})."]
    return lines


# ----------------------------------------------------------------------------- side by side


def _samplers() -> list[str]:
    """nutpie and PyMC always; numpyro where JAX and numpyro are installed."""
    out = ["nutpie", "pymc"]
    try:
        import jax  # noqa: F401
        import numpyro  # noqa: F401
    except ImportError:
        pass
    else:
        out.append("numpyro")
    return out


def _timed_fit(build, sampler: str, *, draws: int, tune: int, chains: int) -> tuple:
    """(idata, compile s, sample s) of a model built by ``build()``. PyMC and numpyro
    compile inside ``pm.sample``: their compile time is in the sampling time."""
    import nutpie
    import pymc as pm

    t = time.perf_counter()
    model = build()
    if sampler == "nutpie":
        compiled = nutpie.compile_pymc_model(model)
        tc = time.perf_counter() - t
        t = time.perf_counter()
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=1,
                              progress_bar=False, cores=min(chains, os.cpu_count() or 1))
    else:
        tc = 0.0
        kwargs = {"nuts_sampler": "numpyro", "chain_method": "sequential"} \
            if sampler == "numpyro" else {"cores": min(chains, os.cpu_count() or 1)}
        with model:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=1,
                              progressbar=False, compute_convergence_checks=False, **kwargs)
    return idata, tc, time.perf_counter() - t


def _fit_row(idata, tc: float, ts: float, var: str, index) -> dict:
    import arviz as az

    x = idata.posterior[var]
    flat = x.values.reshape(x.sizes["chain"] * x.sizes["draw"], -1)[:, index]
    summ = az.summary(idata, var_names=[var], round_to="none")
    divergences = int(idata.sample_stats["diverging"].sum()) \
        if "diverging" in idata.sample_stats else 0
    return {"compile_s": tc, "sample_s": ts, "total_s": tc + ts,
            "mean": [float(v) for v in np.atleast_1d(flat.mean(axis=0))],
            "sd": [float(v) for v in np.atleast_1d(flat.std(axis=0))],
            "mcse": [float(v) for v in summ["mcse_mean"].to_numpy()[np.atleast_1d(index)]],
            "max_r_hat": float(summ["r_hat"].max()), "min_ess_bulk": float(summ["ess_bulk"].min()),
            "divergences": divergences}


def side_by_side(n: int, *, draws: int, tune: int, chains: int,
                 per_row_max: int = 1_000_000) -> dict:
    """The same n simulated customers, two questions, every way of fitting them.

    Conversion by arm: the closed-form Beta-Binomial, the aggregated Binomial model (2
    cells) and a per-row Bernoulli model (n rows). Time to completion by channel: the
    aggregated piecewise-exponential model (events and exposure per channel x task x
    interval) and a per-flag model with the same likelihood written on one row per flag
    and interval at risk. Each PyMC model with nutpie, PyMC's NUTS and numpyro (when
    installed); posterior means and sds are compared, so "correct" is checked, not assumed.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayes_ab.data.load import load_experiment
    from bayes_ab.simulate import simulate, write_simulation
    from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
    from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, posterior
    from bayes_ab.models.time_to_completion import TimeToCompletion, TimeToCompletionStats

    sim = simulate(n=n, seed=3, truth=False)
    with tempfile.TemporaryDirectory() as tmp:
        write_simulation(sim, tmp, fmt="parquet")
        data = load_experiment(tmp)
    frame = data.frame
    arm = (frame["cohort"].astype(str) == "Test").to_numpy().astype(np.int64)
    y = frame["converted"].to_numpy().astype(np.int64)
    stats = ArmComparisonStats.from_frame(frame, group_col="cohort", outcome_col="converted",
                                 arms=("Control", "Test"))
    fit = dict(draws=draws, tune=tune, chains=chains)
    # One-off costs (numba's and JAX's first JIT, PyMC's first C compile) are paid by a
    # throw-away model first, so no method is charged for running first.
    for sampler in _samplers():
        _timed_fit(lambda: ArmComparison(ArmComparisonStats(arms=("Control", "Test"), successes=(1, 2),
                                                   trials=(10, 10))).build(),
                   sampler, draws=50, tune=50, chains=chains)
    out: dict = {"n": n, "n_flags": int(len(data.help_episodes)), "conversion": {},
                 "survival": {}}

    def per_row():
        with pm.Model(coords={"arm": ["Control", "Test"]}) as m:
            rate = pm.Beta("rate", alpha=1.0, beta=1.0, dims="arm")
            pm.Bernoulli("y", p=rate[arm], observed=y)
        return m

    t = time.perf_counter()
    prior = BetaPrior()
    post = [posterior(BinomialCounts(successes=s, trials=k), prior=prior)
            for s, k in zip(stats.successes, stats.trials, strict=True)]
    cf = [p.hdi().to_dict() for p in post]
    out["conversion"]["closed form"] = {
        "total_s": time.perf_counter() - t, "mean": [c["mean"] for c in cf],
        "sd": [float(np.sqrt(p.alpha * p.beta / ((p.alpha + p.beta) ** 2
                                                 * (p.alpha + p.beta + 1)))) for p in post]}
    for sampler in _samplers():
        idata, tc, ts = _timed_fit(lambda: ArmComparison(stats).build(), sampler, **fit)
        out["conversion"][f"aggregated, {sampler}"] = _fit_row(idata, tc, ts, "rate", [0, 1])
    if n <= per_row_max:
        for sampler in _samplers():
            idata, tc, ts = _timed_fit(per_row, sampler, **fit)
            out["conversion"][f"per row, {sampler}"] = _fit_row(idata, tc, ts, "rate", [0, 1])

    # Survival: the model's own (aggregated) build, and the per-flag twin with the
    # same priors and parameters (an identical posterior: the Poisson terms differ by
    # log d! = 0 for 0/1 events).
    sstats = TimeToCompletionStats.from_experiment(data)
    model = TimeToCompletion(sstats)
    ep = data.help_episodes
    edges = np.asarray(sstats.edges)
    minutes = ep["minutes"].to_numpy(float)
    event = ~ep["censored"].to_numpy(bool)
    cs = (ep["channel"].astype(str) == "CS").to_numpy().astype(float)
    task = ep["task"].astype(int).to_numpy() - 1
    lo, hi = edges[:-1], edges[1:]
    expo = np.clip(minutes[:, None] - lo[None, :], 0.0, hi - lo)  # flags x intervals
    hit = event[:, None] & (minutes[:, None] > lo) & (minutes[:, None] <= hi)
    hit[:, 0] |= event & (minutes == 0)
    fi, ji = np.nonzero(expo > 0)
    out["survival"]["rows"] = int(fi.size)

    def per_flag():
        pr = model.priors
        crude = np.log(max(sstats.events_array.sum(), 0.5) / sstats.exposure_array.sum())
        with pm.Model(coords=model.coords) as m:
            sigma_rw = pm.HalfNormal("sigma_rw", **pr["random_walk_sd"])
            start = pr["log_baseline_start"]
            log_baseline = pm.GaussianRandomWalk(
                "log_baseline", mu=0.0, sigma=sigma_rw,
                init_dist=pm.Normal.dist(crude + start["mu"], start["sigma"]),
                steps=len(lo) - 1, dims="interval")
            beta_cs = pm.Normal("beta_cs", **pr["log_hr_cs"])
            task_free = pm.Normal("task_free", dims="task_vs_first", **pr["task_effect"])
            task_effect = pt.concatenate([pt.zeros(1), task_free])
            log_mu = (np.log(expo[fi, ji]) + log_baseline[ji] + beta_cs * cs[fi]
                      + task_effect[task[fi]])
            pm.Poisson("events", mu=pt.exp(log_mu), observed=hit[fi, ji].astype(np.int64))
        return m

    for sampler in _samplers():
        idata, tc, ts = _timed_fit(model.build, sampler, **fit)
        out["survival"][f"aggregated, {sampler}"] = _fit_row(idata, tc, ts, "beta_cs", [0])
    if n <= per_row_max:
        for sampler in ("nutpie",):
            idata, tc, ts = _timed_fit(per_flag, sampler, **fit)
            out["survival"][f"per flag, {sampler}"] = _fit_row(idata, tc, ts, "beta_cs", [0])
    return out


# ----------------------------------------------------------------------------- cold start

_COMPILE_ALL = """
import json, time, warnings
warnings.simplefilter("ignore")
import nutpie
from bayes_ab.data.load import load_experiment
from bayes_ab.workflows.analyze import MODEL_STEPS, build_model
data = load_experiment({example!r})
out = {{}}
for step in MODEL_STEPS:
    model = build_model(step.key, data)
    t = time.perf_counter()
    nutpie.compile_pymc_model(model.build())
    out[step.key] = time.perf_counter() - t
print("RESULT " + json.dumps(out))
"""


def cold_start() -> dict:
    """Import costs (best of 3 fresh processes) and every model's build + nutpie compile
    in a fresh process, with an empty and with a warm PyTensor compile directory."""
    out: dict = {"import": {}, "compile_empty_dir": {}, "compile_warm_dir": {}}
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    for mod in ("bayes_ab", "bayes_ab.cli.main", "bayes_ab.aggregate", "pymc", "nutpie"):
        times = []
        for _ in range(3):
            r = subprocess.run([sys.executable, "-c", code.format(m=mod)], capture_output=True,
                               text=True, check=True)
            times.append(float(r.stdout.strip().splitlines()[-1]))
        out["import"][mod] = min(times)
    script = _COMPILE_ALL.format(example=str(EXAMPLE))

    def compile_all(env) -> dict:
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, check=True)
        line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line[len("RESULT "):])

    with tempfile.TemporaryDirectory() as empty:
        out["compile_empty_dir"] = compile_all(dict(os.environ,
                                                    PYTENSOR_FLAGS=f"compiledir={empty}"))
    out["compile_warm_dir"] = compile_all(dict(os.environ))
    return out


# ----------------------------------------------------------------------------- report


def _f(x, digits=1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _analyze_split(a: dict) -> dict:
    """The end-to-end run cut into the issue's stages (seconds). ``model_*`` is a model's
    time in the main process (its fit, diagnostics); ``background_*``, ``frequentist``
    and ``forensics`` ran in forked children beside the fits (their own seconds, which
    overlap the rest); ``background_wait`` is the main process waiting for them."""
    tm = a["timing"]
    models = sum(v for k, v in tm.items() if k.startswith("model_"))
    compile_ = sum(v for k, v in tm.items() if k.startswith("compile_"))
    sample = sum(v for k, v in tm.items() if k.startswith("sample_"))
    background = sum(v for k, v in tm.items() if k.startswith("background_")
                     and k != "background_wait")
    sens = tm.get("prior_sensitivity", 0.0)
    wait = tm.get("background_wait", 0.0)
    return {"load": tm["load"], "frequentist": tm["frequentist"], "compile": compile_,
            "sample": sample, "fit_other": models - compile_ - sample,
            "summaries": background, "background": background + tm["frequentist"]
            + tm.get("forensics", 0.0), "wait": wait, "sensitivity": sens,
            "report": a["wall_s"] - tm["load"] - models - sens - wait,
            "wall": a["wall_s"]}


def end_to_end_table(results: dict) -> list[str]:
    rows = [r for r in results["sizes"] if r.get("analyze")]
    if not rows:
        return []
    sampler = rows[0]["analyze"].get("sampler") or {}
    lines = []
    if results.get("sizes_from_previous_run"):
        lines += [f"(not rerun: from the previous run, `{results['sizes_from_previous_run']}`)",
                  ""]
    lines += [
        "`bayes-ab analyze DATA --no-figures` end to end, one process per size, sampler "
        f"{sampler.get('sampler', '?')} with {sampler.get('chains', '?')} chains x "
        f"{sampler.get('draws', '?')} draws after {sampler.get('tune', '?')} tuning steps "
        "(the defaults unless the command line says otherwise), `--engine auto` (pandas "
        "below 200k customers, DuckDB above). Seconds; peak memory is the process's "
        "maximum resident set (DuckDB's pool, pandas, PyTensor, numba all included); "
        "temporary disk the most that new files in the temporary folder held at once "
        "(DuckDB's database and spill files; sampled every 2 s, `TempDiskPeak`).", "",
        "| customers | data (MB) | simulate | load + aggregate | frequentist (background) | compile "
        "(7 models) | sample (7 models) | summaries, idata (background) | prior "
        "sensitivity | ratio, segments, report, waiting | total | target | peak memory (MB) "
        "| temporary disk (GB) | gate |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["analyze"]
        x = _analyze_split(a)
        target = TARGET_S.get(r["size"])
        verdict = "-" if target is None else (
            f"< {target // 60} min: " + ("met" if x["wall"] < target else "**not met**"))
        if r["size"] in TARGET_S_16:
            verdict += (f"; issue 16's < {TARGET_S_16[r['size']] // 60} min: "
                        + ("met" if x["wall"] < TARGET_S_16[r["size"]] else "**not met**"))
        mem = f"{a['peak_mb']:.0f}" + ("" if a["peak_mb"] < TARGET_PEAK_MB else " (**over 4 GB**)")
        disk = ("-" if a.get("peak_temp_disk_mb") is None
                else f"{a['peak_temp_disk_mb'] / 1024:.1f}")
        lines.append(
            f"| {r['size']} | {r['data_mb']} | {_f(r['simulate_s'])} | {x['load']:.1f} | "
            f"{x['frequentist']:.1f} | {x['compile']:.1f} | {x['sample']:.1f} | "
            f"{x['summaries']:.1f} | {x['sensitivity']:.1f} | {x['report'] + x['wait']:.1f} | "
            f"{x['wall']:.1f} | {verdict} | {mem} | {disk} | "
            f"{'passed' if a['gate_passed'] else 'flagged'} |")
    loads = ", ".join(f"{r['size']} {r['analyze']['load_avg_start'][0]:.1f}" for r in rows)
    lines += ["", f"1-minute load average when each size started: {loads} (2 cores)."]
    return lines


def per_model_table(results: dict) -> list[str]:
    rows = [r for r in results["sizes"] if r.get("analyze")]
    if not rows:
        return []
    keys = [k[len("compile_"):] for k in rows[0]["analyze"]["timing"] if k.startswith("compile_")]
    lines = ["Compile / sample seconds of each model inside those runs (sampling is flat "
             "in the number of customers: the models see sufficient statistics only):", "",
             "| model | " + " | ".join(r["size"] for r in rows) + " |",
             "|---|" + "---|" * len(rows)]
    for key in keys:
        cells = []
        for r in rows:
            tm = r["analyze"]["timing"]
            c, s_ = tm.get(f"compile_{key}"), tm.get(f"sample_{key}")
            cells.append("-" if c is None else f"{c:.1f} / {s_:.1f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def aggregation_table(results: dict) -> list[str]:
    rows = [r for r in results["sizes"] if r.get("analyze")]
    stages: list[str] = []
    for r in rows:
        for k in r["analyze"]["timing"]:
            if k.startswith("load: ") and k not in stages:
                stages.append(k)
    if not stages:
        return []
    lines = ["Where load + aggregate goes (seconds; the engine's own stages; 20k on the "
             "pandas engine has none):", "",
             "| stage | " + " | ".join(r["size"] for r in rows) + " |",
             "|---|" + "---|" * len(rows)]
    for k in stages:
        lines.append(f"| {k[len('load: '):]} | " + " | ".join(
            _f(r["analyze"]["timing"].get(k), 1) for r in rows) + " |")
    return lines


def _agree(row: dict, ref: dict) -> str:
    """Every posterior mean within 4 Monte-Carlo standard errors of the reference's
    (the closed form has none); a real disagreement, not sampling noise."""
    if "mean" not in row or "mean" not in ref:
        return "-"
    ref_se = ref.get("mcse", [0.0] * len(ref["mean"]))
    ok = all(abs(m - r) <= 4 * float(np.hypot(se, rse)) for m, r, se, rse in
             zip(row["mean"], ref["mean"], row.get("mcse", [0.0] * len(row["mean"])),
                 ref_se, strict=True))
    return "yes" if ok else "**no**"


def side_by_side_tables(results: dict) -> list[str]:
    blocks = results.get("side_by_side") or []
    if not blocks:
        return []
    lines = ["Side by side, same simulated customers (seconds; nutpie compiles before "
             "sampling, PyMC and numpyro inside `pm.sample`, so their compile time is in "
             "their sampling time). *vs aggregated nutpie*: total time relative to the "
             "aggregated model on nutpie. *agrees*: every posterior mean within 4 "
             "Monte-Carlo standard errors of the reference (closed form for conversion, aggregated "
             "nutpie for the hazard ratio).", ""]
    if results.get("side_by_side_from_previous_run"):
        lines += ["(not rerun: from the previous run of this script)", ""]
    lines += ["| customers | question | method | compile | sample | total | vs aggregated "
              "nutpie | posterior mean | max r_hat | min ESS | divergences | agrees |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for blk in blocks:
        for question, label, var in (("conversion", "conversion rate (Control, Test)", None),
                                     ("survival", "log hazard ratio CS vs OTHER", None)):
            methods = {k: v for k, v in blk.get(question, {}).items() if isinstance(v, dict)}
            if not methods:
                continue
            ref_key = "closed form" if question == "conversion" else "aggregated, nutpie"
            ref = methods.get(ref_key, {})
            base = methods.get("aggregated, nutpie", {}).get("total_s")
            what = label if question == "conversion" else (
                f"{label} ({blk['n_flags']:,} flags, {blk['survival'].get('rows', 0):,} "
                "flag x interval rows per flag model)")
            for name, m in methods.items():
                ratio = "-" if not base else f"{m['total_s'] / base:.2g}x"
                mean = ", ".join(f"{v:.4f}" for v in m.get("mean", []))
                lines.append(
                    f"| {blk['n']:,} | {what} | {name} | {_f(m.get('compile_s'))} | "
                    f"{_f(m.get('sample_s'))} | {m['total_s']:.{1 if m['total_s'] >= 0.1 else 4}f}"
                    f" | {ratio} | {mean} | {_f(m.get('max_r_hat'), 3)} | "
                    f"{_f(m.get('min_ess_bulk'), 0)} | {m.get('divergences', '-')} | "
                    f"{'reference' if name == ref_key else _agree(m, ref)} |")
    return lines


def cold_start_table(results: dict) -> list[str]:
    cs = results.get("cold_start")
    if not cs or "import" not in cs:
        return []
    lines = []
    if results.get("cold_start_from_previous_run"):
        lines += ["(not rerun: from the previous run of this script)", ""]
    lines += ["Cold start, fresh processes (seconds): imports (best of 3), and each model's "
              "build + nutpie compile with an empty and with a warm PyTensor compile "
              "directory.", "", "| what | seconds |", "|---|---|"]
    lines += [f"| import {k} | {v:.2f} |" for k, v in cs["import"].items()]
    lines += ["", "| model | compile, empty dir | compile, warm dir |", "|---|---|---|"]
    for k, v in cs["compile_empty_dir"].items():
        lines.append(f"| {k} | {v:.1f} | {cs['compile_warm_dir'].get(k, float('nan')):.1f} |")
    tot_e = sum(cs["compile_empty_dir"].values())
    tot_w = sum(cs["compile_warm_dir"].values())
    lines.append(f"| all seven | {tot_e:.1f} | {tot_w:.1f} |")
    return lines


def write_markdown(results: dict, path: Path) -> str:
    lines = ["# Benchmarks", "", f"Machine: {results['machine']}", "",
             f"Command: `{results['command']}`.", ""]
    for title, block in (("`bayes-ab analyze` end to end", end_to_end_table(results)),
                         ("Models, per size", per_model_table(results)),
                         ("Aggregation profile", aggregation_table(results)),
                         ("Aggregated vs per-row; nutpie vs PyMC vs numpyro",
                          side_by_side_tables(results)),
                         ("Cold start", cold_start_table(results))):
        if block:
            lines += [f"## {title}", "", *block, ""]
    text = "\n".join(lines)
    path.write_text(text)
    return text


README_START = "<!-- benchmarks:start (written by `python benchmarks/run.py`; do not edit) -->"
README_END = "<!-- benchmarks:end -->"


def write_readme(results: dict, readme: Path) -> bool:
    """Replace the README's benchmark section (between the markers) with this run's tables."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        print(f"{readme}: no benchmark markers; README not changed", file=sys.stderr)
        return False
    body = [f"Machine: {results['machine']}. Command: `{results['command']}`.", ""]
    for block in (end_to_end_table(results), per_model_table(results),
                  side_by_side_tables(results), cold_start_table(results)):
        if block:
            body += [*block, ""]
    body.append("The aggregation's profile by stage: "
                "[benchmarks/results/benchmarks.md](benchmarks/results/benchmarks.md).")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + README_START + "\n\n" + "\n".join(body) + "\n\n" + README_END
                      + tail)
    return True


EXAMPLE_START = "<!-- example:start (written by `python benchmarks/run.py --example`; do not edit) -->"
EXAMPLE_END = "<!-- example:end -->"


def write_example_readme(table: list[str], readme: Path) -> bool:
    """Replace the README's example table (between its markers) with this run's."""
    text = readme.read_text()
    if EXAMPLE_START not in text or EXAMPLE_END not in text:
        print(f"{readme}: no example markers; README not changed", file=sys.stderr)
        return False
    head, rest = text.split(EXAMPLE_START, 1)
    _, tail = rest.split(EXAMPLE_END, 1)
    body = [f"Machine: {machine()}. Command: `python benchmarks/run.py --example`.", "", *table]
    readme.write_text(head + EXAMPLE_START + "\n\n" + "\n".join(body) + "\n\n" + EXAMPLE_END
                      + tail)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20k,1M,10M")
    ap.add_argument("--full", action="store_true", help="add 100M customers")
    ap.add_argument("--draws", type=int, default=1000,
                    help="side by side: draws per chain (analyze runs with its defaults)")
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--analyze-args", default="",
                    help="extra `bayes-ab analyze` options, e.g. '--chains 2' (default: none)")
    ap.add_argument("--side-by-side", default="20k,200k")
    ap.add_argument("--no-cold-start", action="store_true")
    ap.add_argument("--example", action="store_true",
                    help="only the example end to end, cold then warm (default options)")
    ap.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "bayes_ab_bench"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--readme", default=str(ROOT / "README.md"),
                    help="README whose benchmark section is rewritten ('' : none)")
    ap.add_argument("--one-analyze", help=argparse.SUPPRESS)  # internal: child process
    args = ap.parse_args(argv)

    sampler_args = args.analyze_args.split()
    settings = dict(draws=args.draws, tune=args.tune, chains=args.chains)
    if args.one_analyze:
        res = run_analyze(dataset(args.one_analyze, Path(args.data_dir)),
                          sampler_args=sampler_args)
        print("RESULT " + json.dumps(res))
        return 0

    if args.example:
        runs = example_end_to_end(sampler_args)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "example.json").write_text(json.dumps(runs, indent=2, default=str))
        table = example_table(runs)
        print("\n".join(table))
        if args.readme:
            write_example_readme(table, Path(args.readme))
        return 0

    sizes = [s for s in args.sizes.split(",") if s]
    if args.full and "100M" not in sizes:
        sizes.append("100M")
    results = {"machine": machine(), "command": "python benchmarks/run.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "settings": settings, "sizes": []}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label in sizes:
        data = dataset(label, Path(args.data_dir))  # simulated outside the measured process
        sim = data / "simulate_seconds.txt"
        row = {"size": label, "n": SIZES[label], "data": str(data),
               "simulate_s": float(sim.read_text()) if sim.exists() else None,
               "data_mb": round(sum(p.stat().st_size for p in data.iterdir()) / 2**20, 1)}
        print(f"analyze {label} ...", flush=True)
        cmd = [sys.executable, __file__, "--one-analyze", label, "--data-dir", args.data_dir,
               "--analyze-args", args.analyze_args]
        r = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(r.stdout[-2000:], r.stderr[-4000:], file=sys.stderr)
            row["error"] = (r.stderr or r.stdout)[-500:]
        else:
            row["analyze"] = json.loads(line[len("RESULT "):])
            print(json.dumps(row["analyze"]), flush=True)
        results["sizes"].append(row)
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
    if not results["sizes"] and previous.get("sizes"):
        results["sizes"] = previous["sizes"]
        results["sizes_from_previous_run"] = previous.get("command", True)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str))
    print(write_markdown(results, out / "benchmarks.md"))
    if args.readme:
        write_readme(results, Path(args.readme))
    return 0


if __name__ == "__main__":
    sys.exit(main())
