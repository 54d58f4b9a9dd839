"""Simulation-based calibration of every model of the help-widget analysis.

For each model: the design (trials per arm, flags per cell, exposure per interval...) is
taken from one simulated experiment; parameters are drawn from the model's prior, data
(the model's own sufficient statistics) from its likelihood, the model is refitted with
the compiled graph reused, and the rank of each true parameter among 99 thinned
posterior draws is recorded (Talts et al. 2018). Uniform ranks = calibrated.

    python benchmarks/sbc.py --reps 200 --models conversion,help_completion --seed 1

Writes benchmarks/results/sbc.md and figures/sbc_<model>.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path, where benchmarks/coverage.py
# would hide the `coverage` package that numba imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

#: Posterior variables ranked per model (free parameters plus the headline derived ones).
VAR_NAMES = {
    "conversion": ["rate", "lift_abs"],
    "cs_engagement": ["rate", "lift_abs"],
    "help_completion": ["mu_alpha", "sigma_alpha", "alpha", "mu_beta", "sigma_beta", "beta",
                        "gamma"],
    "time_to_completion": ["sigma_rw", "beta_cs", "task_free", "log_baseline"],
    "causal_cs_effect": ["strata_share", "eta_complier", "eta_always", "eta_never", "late",
                         "naive_rate", "uptake_rate"],
    "completions_conversion": ["mu", "z_arm", "rate"],
    "time_and_experience": ["intercept", "b_hour", "b_exp", "sigma_hour"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--models", default=",".join(VAR_NAMES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=20_000, help="customers of the design experiment")
    parser.add_argument("--scenario", default="effect",
                        help="simulator scenario of the design experiment (e.g. non_monotone)")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sbc.md"))
    parser.add_argument("--figures", default=str(ROOT / "figures"))
    args = parser.parse_args(argv)

    from bayes_ab.workflows.calibration import SBC_BINS, experiment_from_simulation, run_sbc
    from bayes_ab.simulate import simulate
    from bayes_ab.inference.fit import SamplerConfig
    from bayes_ab.workflows.analyze import MODEL_STEPS, _model_class
    from bayes_ab.plotting import SBC_DPI, plot_rank_histograms, save_figure

    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(VAR_NAMES))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(VAR_NAMES)}")
    data = experiment_from_simulation(simulate(n=args.n, seed=args.seed, scenario=args.scenario,
                                               truth=False))
    config = SamplerConfig(draws=args.draws, tune=args.tune, chains=2, seed=args.seed)
    results = []
    for step in MODEL_STEPS:
        if step.key not in keys:
            continue
        cls = _model_class(step)
        stats = cls.stats_type.from_experiment(data, **step.stats_kwargs)
        model = cls(stats, name=step.key) if step.cls == "ArmComparison" else cls(stats)
        t = time.perf_counter()
        res = run_sbc(model, reps=args.reps, config=config, var_names=VAR_NAMES[step.key],
                      seed=args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True))
        fig = save_figure(plot_rank_histograms(res, bins=SBC_BINS),
                          Path(args.figures) / f"sbc_{step.key}.png", dpi=SBC_DPI, tight=False)
        print(f"{step.key}: {res.reps} reps in {time.perf_counter() - t:.0f}s, worst "
              f"{res.worst()[0]} p={res.worst()[1]:.3g}, passed={res.passed()}", flush=True)
        results.append((step, res, fig))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(render(results, args), encoding="utf-8")
    return 0


def render(results, args) -> str:
    lines = [
        "# Simulation-based calibration",
        "",
        f"Produced by `python benchmarks/sbc.py --reps {args.reps} --seed {args.seed}` "
        f"(design from a simulated experiment of n={args.n}, scenario {args.scenario}; nutpie, "
        f"2 chains x {args.draws} draws after {args.tune} tuning, thinned to 99 draws, so ranks "
        f"take 100 values).",
        "",
        "Per replication: parameters from the prior, the model's sufficient statistics from "
        "its likelihood (design fixed), one refit with the compiled graph reused. Uniform "
        "ranks mean the posterior is calibrated. `p` is the smaller of the chi-square "
        "(20 bins) and Kolmogorov-Smirnov p-values, doubled; a model passes when every "
        "parameter's p exceeds 0.01 / (number of parameters) (Bonferroni). With "
        f"{args.reps} replications a model whose intervals were off by a few percentage "
        "points of coverage could pass; a broken likelihood or prior does not (see "
        "tests/test_sbc.py).",
        "",
        "| model | reps | ranked quantities | worst quantity | its p | divergent reps | "
        "median min ESS | compile s | total s | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step, res, _ in results:
        name, p = res.worst()
        d = res.to_dict()
        lines.append(
            f"| {step.key} | {res.reps} | {len(res.params)} | `{name}` | {p:.3g} | "
            f"{d['divergent_reps']} | {d['median_min_ess']:.0f} | {res.compile_seconds:.0f} | "
            f"{res.seconds:.0f} | {'pass' if res.passed() else '**FAIL**'} |")
    lines += ["", "## Per quantity", ""]
    for step, res, fig in results:
        lines += [f"### {step.key}", "", f"![ranks](../../figures/{fig.name})", "",
                  "| quantity | chi2 p | KS p |", "|---|---|---|"]
        for lab in res.params:
            t = res.tests[lab]
            lines.append(f"| `{lab}` | {t.chi2_p:.3f} | {t.ks_p:.3f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
