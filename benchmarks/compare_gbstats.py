"""`bayes-ab compare` side by side with GrowthBook's gbstats: whole processes, same file.

    python benchmarks/compare_gbstats.py --gbstats-python /tmp/gbvenv/bin/python
    python benchmarks/compare_gbstats.py --file ab.csv --repeats 7

The export (``user_id,group,converted``, 294,478 rows by default, seed 1: control 3.00%
vs treatment 2.74% conversion) is generated once into --data-dir unless --file is given.
Each repeat runs, in fresh processes and alternating so that the machine's load hits both
alike:

* gbstats (its own venv, never the project's): pandas ``read_csv``, a group-by for
  sum/count per arm, ``EffectBayesianABTest`` (absolute difference) and ``TwoSidedTTest``;
* ``bayes-ab compare FILE --group-col group --outcome-col converted --out OUT --force``
  with its report and figures, and with ``--no-figures``.

CPU time is user + sys of the child process (``os.wait4``), wall time its elapsed time;
the medians and the ratio of bayes-ab to gbstats are printed and written to
``benchmarks/results/compare_gbstats.{md,json}`` with the machine's load average. The
answers are compared too (P(treatment better), lift), so speed is never bought with a
different number. ``--importtime`` also records ``python -X importtime`` of one
``compare --no-figures`` run (the 15 slowest top-level imports).

Bytecode: every process runs from compiled bytecode, as an installed package does (pip
compiles gbstats' at install; an editable bayes_ab compiles its modules on first import):
the children get ``PYTHONPYCACHEPREFIX`` = a temporary folder (removed at the end) and no
``PYTHONDONTWRITEBYTECODE``, and one untimed run of each process fills it.
``--cold-bytecode`` keeps the environment as it is instead (with
``PYTHONDONTWRITEBYTECODE=1`` the ~50 bayes_ab modules `compare` imports are compiled on every
run, about 0.2-0.3 s of CPU). The mode is written with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

GBSTATS = r'''
import sys
import pandas as pd
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic
df = pd.read_csv(sys.argv[1])
agg = df.groupby("group")["converted"].agg(["sum", "count"])
c = ProportionStatistic(sum=int(agg.loc["control", "sum"]), n=int(agg.loc["control", "count"]))
t = ProportionStatistic(sum=int(agg.loc["treatment", "sum"]),
                        n=int(agg.loc["treatment", "count"]))
r = EffectBayesianABTest(c, t, EffectBayesianConfig(difference_type="absolute")).compute_result()
f = TwoSidedTTest(c, t).compute_result()
import json
print(json.dumps({"prob_test_better": r.chance_to_win, "lift_abs": r.expected,
                  "p_value": f.p_value}))
'''


def make_export(path: Path, n: int, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "control", "treatment")
    rate = np.where(group == "control", 0.0300, 0.0274)
    converted = (rng.random(n) < rate).astype(int)
    with open(path, "w") as fh:
        fh.write("user_id,group,converted\n")
        fh.writelines(f"{i},{g},{c}\n" for i, (g, c) in enumerate(zip(group, converted)))


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(cpu user+sys s, wall s, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", default=None, help="the export (default: generated)")
    ap.add_argument("--rows", type=int, default=294_478)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "bayes_ab_bench"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gbstats-python", default="/tmp/gbvenv/bin/python",
                    help="python of a venv with gbstats installed (not the project's)")
    ap.add_argument("--src", action="append", default=[], metavar="LABEL=PATH",
                    help="also time bayes-ab from another source tree (PYTHONPATH=PATH), e.g. "
                         "before=/tmp/old/src; repeatable (before/after side by side)")
    ap.add_argument("--importtime", action="store_true")
    ap.add_argument("--cold-bytecode", action="store_true",
                    help="keep the environment's bytecode setting (PYTHONDONTWRITEBYTECODE) "
                         "instead of a warm .pyc cache for every process")
    ap.add_argument("--results", default=str(HERE / "results"),
                    help="folder for compare_gbstats.md/.json ('' = don't write)")
    a = ap.parse_args(argv)

    if a.file:
        export = Path(a.file)
    else:
        Path(a.data_dir).mkdir(parents=True, exist_ok=True)
        export = Path(a.data_dir) / f"ab_{a.rows}_{a.seed}.csv"
        if not export.exists():
            make_export(export, a.rows, a.seed)
    work = Path(tempfile.mkdtemp(prefix="bayes_ab_cmp_"))
    try:
        return _bench(a, export, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(a: argparse.Namespace, export: Path, work: Path) -> int:
    env = dict(os.environ, MPLBACKEND="Agg")
    if a.cold_bytecode:
        bytecode = ("as the environment has it (PYTHONDONTWRITEBYTECODE="
                    f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!s}: "
                    + ("bayes_ab compiled from source on every run" if
                       os.environ.get("PYTHONDONTWRITEBYTECODE") else "cached .pyc") + ")")
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        bytecode = "warm (every process's .pyc cache filled by one untimed run first)"
    gb_script = work / "gb.py"
    gb_script.write_text(GBSTATS)
    base = [sys.executable, "-m", "bayes_ab.cli.main", "compare", str(export), "--group-col",
            "group", "--outcome-col", "converted", "--out", str(work / "out"), "--force",
            "--quiet"]
    trees = [("", env)] + [
        (f" [{lab}]", dict(env, PYTHONPATH=src))
        for lab, _, src in (spec.partition("=") for spec in a.src)]
    runs = {"gbstats": []}
    for tag, _ in trees:
        runs[f"bayes-ab compare{tag}"] = []
        runs[f"bayes-ab compare --no-figures{tag}"] = []
    answers = {}
    timed([a.gbstats_python, str(gb_script), str(export)], env)  # warm-up, untimed
    for _, tree_env in trees:
        timed(base, tree_env)
        timed(base + ["--no-figures"], tree_env)
    for _ in range(a.repeats):
        cpu, wall, out = timed([a.gbstats_python, str(gb_script), str(export)], env)
        runs["gbstats"].append((cpu, wall))
        answers["gbstats"] = json.loads(out)
        for tag, tree_env in trees:
            cpu, wall, _ = timed(base, tree_env)
            runs[f"bayes-ab compare{tag}"].append((cpu, wall))
            cpu, wall, _ = timed(base + ["--no-figures"], tree_env)
            runs[f"bayes-ab compare --no-figures{tag}"].append((cpu, wall))
    res = json.loads((work / "out" / "compare.json").read_text())
    arm = res["decision"]["arm"]
    block = res["arms"][arm]
    answers["bayes-ab"] = {"prob_test_better": block["prob_test_better"],
                           "lift_abs": block["lift_abs"]["mean"],
                           "p_value": block["frequentist"]["p_value"]}
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
           for k, v in runs.items()}
    gcpu, gwall = med["gbstats"]
    lines = [f"Export: {export.name}, {sum(1 for _ in open(export)) - 1:,} rows; "
             f"{a.repeats} repeats; load average before/after: {LOAD0} / "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs; "
             f"bytecode: {bytecode}.", "",
             "| process | CPU s (median; all) | wall s (median; all) | CPU / gbstats | "
             "wall / gbstats |", "|---|---|---|---|---|"]
    for k, v in runs.items():
        c, w = med[k]
        lines.append(f"| {k} | {c:.2f} ({', '.join(f'{x:.2f}' for x, _ in v)}) | {w:.2f} "
                     f"({', '.join(f'{y:.2f}' for _, y in v)}) | {c / gcpu:.2f}x | "
                     f"{w / gwall:.2f}x |")
    lines += ["", "Answers (treatment vs control): " + "; ".join(
        f"{k}: P(better) {v['prob_test_better']:.6f}, lift {v['lift_abs']:+.6f}, "
        f"p {v['p_value']:.4f}" for k, v in answers.items())]
    imports = None
    if a.importtime:
        proc = subprocess.run([sys.executable, "-X", "importtime"] + base[1:] + ["--no-figures"],
                              env=env, capture_output=True, text=True, check=True)
        rows = []
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _, cum_us, name = line[len("import time:"):].split("|")
            if not name.startswith(" ") or name.startswith("  "):
                continue  # top-level imports only (one leading space)
            rows.append((int(cum_us), name.strip()))
        total = sum(c for c, _ in rows)
        imports = {"total_s": total / 1e6,
                   "top": [{"module": n, "cumulative_s": c / 1e6}
                           for c, n in sorted(rows, reverse=True)[:15]]}
        lines += ["", f"`python -X importtime` of `compare --no-figures`: {total / 1e6:.2f} s "
                  "of imports in all; slowest top-level: " + ", ".join(
                      f"{d['module']} {d['cumulative_s']:.2f} s" for d in imports["top"][:8])]
    text = "\n".join(lines)
    print(text)
    if a.results:
        out = Path(a.results)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare_gbstats.md").write_text("# compare vs gbstats\n\n" + text + "\n")
        (out / "compare_gbstats.json").write_text(json.dumps(
            {"export": str(export.name), "repeats": a.repeats, "bytecode": bytecode,
             "runs": runs,
             "median": med, "answers": answers, "imports": imports}, indent=2) + "\n")
    return 0


LOAD0 = " ".join(f"{x:.2f}" for x in os.getloadavg())

if __name__ == "__main__":
    sys.exit(main())
