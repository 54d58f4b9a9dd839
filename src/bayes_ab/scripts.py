"""What every `models/<question>.py` script does, written once.

    python models/conversion_lift.py [--data data/example] [--seed S] [--draws D] [--tune T]
                                     [--chains C] [--sampler nutpie|pymc]
                                     [--figures figures] [--out results]

Loads the experiment, builds the model of one `pipeline.MODEL_STEPS` entry, prints its
priors, fits it, prints the summary block, the diagnostics gate and (when the folder holds
the simulator's truth.json) the true population values beside it, then writes the ArviZ
figures to FIGURES/ and the posterior to OUT/idata/<name>.nc (+ OUT/<name>.json).
Exit status: 0 when the diagnostics pass, 3 when they fail, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bayes_ab.errors import BayesAbError
from bayes_ab.results import to_jsonable

ROOT = Path(__file__).resolve().parents[2]

#: Where each model's population truth sits in truth.json's "estimands".
TRUTH_KEYS = {
    "conversion": "conversion",
    "cs_engagement": "cs_engagement",
    "help_completion": "help_completion",
    "time_to_completion": "time_to_completion",
    "causal_cs_effect": "causal_effect_cs",
    "completions_conversion": "completions_conversion",
    "time_and_experience": "time_and_experience",
}


def parse_args(doc: str, argv: list[str] | None = None) -> argparse.Namespace:
    from bayes_ab.commands.common import add_sampler_options

    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "example",
                    help="experiment folder (default: the shipped example)")
    ap.add_argument("--figures", type=Path, default=ROOT / "figures", help="folder of the PNGs")
    ap.add_argument("--out", type=Path, default=ROOT / "results",
                    help="folder of the posterior netCDF (OUT/idata) and summary JSON")
    add_sampler_options(ap)
    return ap.parse_args(argv)


def run_model_script(key: str, doc: str, argv: list[str] | None = None) -> int:
    """Fit the model `key` of `pipeline.MODEL_STEPS` alone, as a statistician would."""
    from bayes_ab.commands.common import sampler_config
    from bayes_ab.data.load import load_experiment
    from bayes_ab.io import write_json
    from bayes_ab.pipeline import build_model
    from bayes_ab.plotting import save_figures

    args = parse_args(doc, argv)
    try:
        config = sampler_config(args)
        data = load_experiment(args.data)
        model = build_model(key, data)
    except BayesAbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{model.name}: {data.n_customers} customers, {len(data.help_episodes)} help flags, "
          f"{len(data.task_attempts)} task attempts")
    print("priors:", json.dumps(model.priors))
    t0 = time.perf_counter()
    idata = model.fit(config)
    elapsed = time.perf_counter() - t0
    summary = to_jsonable(model.summarize(idata))
    diag = model.diagnostics(idata)
    print(json.dumps(summary, indent=2, default=str))
    status = "passed" if diag.passed else "FAILED: " + "; ".join(diag.problems())
    print(f"diagnostics: max r_hat {diag.max_r_hat:.4f}, min bulk ESS {diag.min_ess_bulk:.0f}, "
          f"{diag.divergences} divergences -> {status}")
    print(f"fit (compile + sample + posterior predictive): {elapsed:.1f} s")
    truth_file = Path(args.data) / "truth.json"
    if truth_file.exists():
        estimands = json.loads(truth_file.read_text()).get("estimands") or {}
        print("truth.json:", json.dumps(estimands.get(TRUTH_KEYS[key])))
    path = model.save(idata, args.out / "idata" / f"{model.name}.nc")
    write_json(args.out / f"{model.name}.json",
               {"summary": summary, "diagnostics": diag.to_dict(), "fit_seconds": elapsed})
    figures = save_figures({f"{model.name}_{kind}": fig
                            for kind, fig in model.figures(idata).items()}, args.figures)
    print(f"wrote {path}, {args.out / (model.name + '.json')} and {len(figures)} figures "
          f"in {args.figures}")
    return 0 if diag.passed else 3
