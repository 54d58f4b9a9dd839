"""Does CS help lead to completing the flagged task more often than OTHER?

Logistic model on flags and completions by channel x task x arm, tasks partially pooled
(bayes_ab.models.help_completion). Prints the priors, the summary (channel completion
rates over each channel's own flags, CS - OTHER, P(CS better), per-task effects) and the
diagnostics; writes figures/help_completion_*.png and <out>/idata/help_completion.nc.

    python models/help_channel_completion.py [--data data/example] [--sampler pymc]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(doc: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "example")
    ap.add_argument("--seed", type=int, default=20260505)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    ap.add_argument("--figures", type=Path, default=ROOT / "figures")
    return ap.parse_args()


def run(model_cls, stats_cls, args: argparse.Namespace) -> int:
    """Load, aggregate, fit, print, write figures and the posterior: shared by the scripts."""
    from bayes_ab.data.load import load_experiment
    from bayes_ab.errors import BayesAbError
    from bayes_ab.fit import SamplerConfig
    from bayes_ab.io import write_json

    try:
        data = load_experiment(args.data)
        stats = stats_cls.from_experiment(data)
        config = SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.tune,
                               chains=args.chains, seed=args.seed)
    except BayesAbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = model_cls(stats)
    print(f"{model.name}: {data.n_customers} customers, {len(data.help_episodes)} help flags")
    print("priors:", json.dumps(model.priors))
    t0 = time.perf_counter()
    idata = model.fit(config)
    elapsed = time.perf_counter() - t0
    summary = model.summarize(idata)
    diag = model.diagnostics(idata)
    print(json.dumps(summary, indent=2, default=str))
    status = "passed" if diag.passed else "FAILED: " + "; ".join(diag.problems())
    print(f"diagnostics: max r_hat {diag.max_r_hat:.4f}, min bulk ESS {diag.min_ess_bulk:.0f}, "
          f"{diag.divergences} divergences -> {status}")
    print(f"fit (compile + sample + posterior predictive): {elapsed:.1f} s")
    path = model.save(idata, args.out / "idata" / f"{model.name}.nc")
    write_json(args.out / f"{model.name}.json",
               {"summary": summary, "diagnostics": diag.to_dict(), "fit_seconds": elapsed})
    figures = model.figures(idata, args.figures)
    print(f"wrote {path}, {args.out / (model.name + '.json')} and {len(figures)} figures "
          f"in {args.figures}")
    return 0 if diag.passed else 3


if __name__ == "__main__":
    from bayes_ab.models.help_completion import HelpCompletion, HelpCompletionStats

    raise SystemExit(run(HelpCompletion, HelpCompletionStats, parse_args(__doc__)))
