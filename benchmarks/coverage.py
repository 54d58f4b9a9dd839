"""Coverage over the simulator, end to end, and the z-test's type-I error and power.

Bayesian side: datasets from ``bayes_ab.simulate`` (scenarios ``effect`` and ``null``)
go through the real loader and every model of the analysis (nutpie, small draws, each
model compiled once and refitted with its data swapped in); for each estimand of
``truth.json`` we count how often the 95% HDI holds the population value.

Frequentist side (cheap, many replications): the two-proportion z-test of conversion and
of CS engagement per simulated dataset; under ``null`` (the widget does nothing: an A/A
test) its rejection rate is the type-I error, under ``effect`` the power.

    python benchmarks/coverage.py --bayes-reps 40 --freq-reps 300 --sizes 5000,20000,50000

Writes benchmarks/results/coverage.md. Every rate comes with its Monte-Carlo standard
error sqrt(p (1 - p) / reps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path, and its name would then hide
# the `coverage` package that numba imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

#: (model key, path in the model's summary, path in truth["estimands"]).
TARGETS = (
    ("conversion", "control", "conversion.Control"),
    ("conversion", "test", "conversion.Test"),
    ("conversion", "lift_abs", "conversion.lift_abs"),
    ("conversion", "lift_rel", "conversion.lift_rel"),
    ("cs_engagement", "control", "cs_engagement.Control"),
    ("cs_engagement", "test", "cs_engagement.Test"),
    ("help_completion", "cs", "help_completion.CS"),
    ("help_completion", "other", "help_completion.OTHER"),
    ("help_completion", "diff", "help_completion.diff"),
    ("time_to_completion", "hazard_ratio_cs_vs_other", "time_to_completion.hazard_ratio_cs_vs_other"),
    ("time_to_completion", "median_minutes.cs", "time_to_completion.median_minutes.CS"),
    ("time_to_completion", "median_minutes.other", "time_to_completion.median_minutes.OTHER"),
    ("causal_cs_effect", "causal_effect", "causal_effect_cs"),
    ("completions_conversion", "rate_by_completions.0", "completions_conversion.rate_by_completions.0"),
    ("completions_conversion", "rate_by_completions.1", "completions_conversion.rate_by_completions.1"),
    ("completions_conversion", "rate_by_completions.2", "completions_conversion.rate_by_completions.2"),
    ("completions_conversion", "rate_by_completions.3", "completions_conversion.rate_by_completions.3"),
    ("completions_conversion", "odds_ratio_per_completion",
     "completions_conversion.odds_ratio_per_completion"),
    ("time_and_experience", "hour_effect", "time_and_experience.hour_effect"),
    ("time_and_experience", "experience_effect", "time_and_experience.experience_effect"),
)


def dig(d, path: str):
    for part in path.split("."):
        if d is None:
            return None
        d = d.get(part)
    return d


def arm_counts(sim) -> dict:
    """Conversion and CS-engagement counts per arm straight from the simulated tables."""
    from bayes_ab.models.beta_binomial import BinomialCounts

    cohort = sim.test_cohorts.set_index("customer_id")["cohort"]
    converted = sim.conversion.set_index("customer_id")["converted"].reindex(cohort.index).fillna(0)
    cs_ids = set(sim.help_activity.loc[sim.help_activity["channel"] == "CS", "customer_id"])
    any_cs = cohort.index.isin(list(cs_ids))
    out = {}
    for metric, values in (("conversion", converted.to_numpy().astype(int)), ("cs_engagement", any_cs)):
        out[metric] = {arm: BinomialCounts(successes=int(values[(cohort == arm).to_numpy()].sum()),
                                           trials=int((cohort == arm).sum()))
                       for arm in ("Control", "Test")}
    return out


def frequentist(scenarios, sizes, reps, seed0):
    from bayes_ab.simulate import simulate
    from bayes_ab.stats.frequentist import two_proportion_test

    rows = []
    for scenario in scenarios:
        for n in sizes:
            rejects = {"conversion": 0, "cs_engagement": 0}
            t = time.perf_counter()
            for r in range(reps):
                sim = simulate(n=n, seed=seed0 + 1_000_000 + r, scenario=scenario, truth=False)
                for metric, c in arm_counts(sim).items():
                    res = two_proportion_test(c["Control"], c["Test"], metric=metric, method="z")
                    rejects[metric] += int(res.p_value < 0.05)
            for metric, k in rejects.items():
                rows.append({"scenario": scenario, "n": n, "metric": metric, "reps": reps,
                             "rate": k / reps})
            print(f"frequentist {scenario} n={n}: {rejects} of {reps} "
                  f"({time.perf_counter() - t:.0f}s)", file=sys.stderr, flush=True)
    return rows


def bayesian(scenarios, sizes, reps, seed0, config):
    from bayes_ab.workflows.calibration import ReusableFit, covers, experiment_from_simulation
    from bayes_ab.simulate import simulate
    from bayes_ab.workflows.analyze import MODEL_STEPS, _model_class

    fitters: dict[str, ReusableFit] = {}
    records = []
    probe = experiment_from_simulation(simulate(n=sizes[0], seed=seed0 + 999_999, truth=False))
    for scenario in scenarios:
        for n in sizes:
            t = time.perf_counter()
            for r in range(reps):
                sim = simulate(n=n, seed=seed0 + r, scenario=scenario)
                truth = sim.truth["estimands"]
                data = experiment_from_simulation(sim)
                summaries = {}
                for offset, step in enumerate(MODEL_STEPS):
                    cls = _model_class(step)
                    kw = {"name": step.key} if step.cls == "ArmComparison" else {}
                    try:
                        stats = cls.stats_type.from_experiment(data, **step.stats_kwargs)
                        if step.key not in fitters:
                            fitters[step.key] = ReusableFit(
                                cls, stats, config=config, model_kwargs=kw,
                                probe_stats=cls.stats_type.from_experiment(probe, **step.stats_kwargs))
                        model, idata = fitters[step.key].sample(stats, seed=config.seed + 31 * r + offset)
                        summaries[step.key] = model.summarize(idata).to_dict()
                        diag = model.diagnostics(idata)
                        summaries[step.key]["_divergences"] = diag.divergences
                    except Exception as exc:  # noqa: BLE001 - counted in the table, not fatal
                        print(f"  {step.key} failed on rep {r}: {exc}", file=sys.stderr)
                        summaries[step.key] = None
                for key, spath, tpath in TARGETS:
                    s = summaries.get(key)
                    records.append({"scenario": scenario, "n": n, "rep": r, "model": key,
                                    "quantity": spath, "truth": dig(truth, tpath),
                                    "covered": covers(dig(s, spath) if s else None, dig(truth, tpath))})
                for key in ("conversion", "cs_engagement"):
                    s = summaries.get(key)
                    if s:
                        records.append({"scenario": scenario, "n": n, "rep": r, "model": key,
                                        "quantity": "P(test better) > 0.95", "truth": None,
                                        "covered": bool(s["prob_test_better"] > 0.95)})
                if (r + 1) % 5 == 0:
                    print(f"bayesian {scenario} n={n}: {r + 1}/{reps} "
                          f"({time.perf_counter() - t:.0f}s)", file=sys.stderr, flush=True)
    compiles = {k: f.n_compiles for k, f in fitters.items()}
    return records, compiles


def se(p: float, n: int) -> float:
    return float(np.sqrt(max(p * (1 - p), 0.0) / n)) if n else float("nan")


def render(freq_rows, records, compiles, args, seconds) -> str:
    import pandas as pd

    lines = [
        "# Coverage and error rates over the simulator",
        "",
        f"Produced by `python benchmarks/coverage.py --bayes-reps {args.bayes_reps} "
        f"--bayes-sizes {args.bayes_sizes} --freq-reps {args.freq_reps} --sizes {args.sizes} "
        f"--seed {args.seed}` in {seconds / 60:.0f} minutes on a shared 2-core machine. "
        "± is one Monte-Carlo standard error, sqrt(p (1 - p) / reps).",
        "",
        "## Frequentist: two-proportion z-test, two-sided, alpha = 0.05",
        "",
        "Under `null` the widget does nothing, so both arms share every rate (A/A): the "
        "rejection rate is the type-I error (nominal 0.05). Under `effect` it is the power "
        "against the simulator's true lift.",
        "",
        "| metric | scenario | n customers | reps | rejection rate |",
        "|---|---|---|---|---|",
    ]
    for row in freq_rows:
        lines.append(f"| {row['metric']} | {row['scenario']} | {row['n']:,} | {row['reps']} | "
                     f"{row['rate']:.3f} ± {se(row['rate'], row['reps']):.3f} |")
    if records:
        df = pd.DataFrame(records)
        df = df[df["covered"].notna()]
        lines += [
            "",
            "## Bayesian: how often the 95% HDI covers the truth.json estimand",
            "",
            f"Every model of `bayes-ab analyze`, nutpie 2 chains x {args.draws} draws "
            f"({args.tune} tuning), each model compiled once (compilations: "
            + ", ".join(f"{k} {v}" for k, v in compiles.items()) + "). Nominal 0.95. The "
            "`P(test better) > 0.95` rows are the share of datasets where the arm "
            "comparison would call Test better: a false-positive rate under `null`, power "
            "under `effect`. Estimands that are null in truth.json (the LATE under `null`: no "
            "compliers) are left out.",
            "",
            "| model | quantity | scenario | n | reps | coverage |",
            "|---|---|---|---|---|---|",
        ]
        order = {k: i for i, (k, _, _) in enumerate(TARGETS)}
        grouped = df.groupby(["model", "quantity", "scenario", "n"], sort=False)["covered"]
        rows = [(k, g.astype(float)) for k, g in grouped]
        rows.sort(key=lambda kv: (order.get(kv[0][0], 99), kv[0][1].startswith("P("), kv[0][2], kv[0][3]))
        for (model, quantity, scenario, n), g in rows:
            p, m = float(g.mean()), int(g.size)
            flag = " **low**" if (not quantity.startswith("P(") and p + 2 * se(p, m) < 0.95) else ""
            lines.append(f"| {model} | `{quantity}` | {scenario} | {n:,} | {m} | "
                         f"{p:.3f} ± {se(p, m):.3f}{flag} |")
        lines += ["", "**low**: coverage more than two standard errors below 0.95."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--freq-reps", type=int, default=300)
    parser.add_argument("--sizes", default="5000,20000,50000", help="sizes of the frequentist runs")
    parser.add_argument("--bayes-reps", type=int, default=40)
    parser.add_argument("--bayes-sizes", default="20000")
    parser.add_argument("--scenarios", default="null,effect")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "coverage.md"))
    args = parser.parse_args(argv)

    from bayes_ab.inference.fit import SamplerConfig

    t0 = time.perf_counter()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    bsizes = [int(s) for s in args.bayes_sizes.split(",") if s.strip()]
    freq_rows = frequentist(scenarios, sizes, args.freq_reps, args.seed) if args.freq_reps else []
    config = SamplerConfig(draws=args.draws, tune=args.tune, chains=2, seed=args.seed)
    records, compiles = (bayesian(scenarios, bsizes, args.bayes_reps, args.seed, config)
                         if args.bayes_reps else ([], {}))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(render(freq_rows, records, compiles, args, time.perf_counter() - t0),
                              encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
