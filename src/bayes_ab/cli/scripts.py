"""The little that every `models/<question>.py` script shares: its options, loading the
data, and the end of a run (diagnostics gate, truth, files). The model itself (statistics,
priors, class, fit, ``az.summary``, plot) is written out in each script.

    python models/conversion_lift.py [DATA_DIR] [--seed S] [--draws D] [--tune T]
                                     [--chains C] [--sampler nutpie|pymc]
                                     [--figures figures] [--out results]

DATA_DIR (or ``--data DATA_DIR``) is an experiment folder, the shipped example
(data/example) by default. A script prints the statistics, the priors and the PyMC model,
fits it, prints ``az.summary`` and the results.json block, the diagnostics gate and (when
the folder holds the simulator's truth.json) the true population values, then writes the
posterior to OUT/idata/<name>.nc, the block to OUT/<name>.json and the ArviZ figures to
FIGURES/. Exit status: 0 when the diagnostics pass, 3 when they fail, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayes_ab.errors import BayesAbError

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

    from bayes_ab.data.schema import ExperimentData
    from bayes_ab.models.base import BayesModel

ROOT = Path(__file__).resolve().parents[3]  # the repository (src/bayes_ab/cli/scripts.py)
EXAMPLE = ROOT / "data" / "example"

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


def script_args(doc: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The options of a model script; ``args.config`` is the `SamplerConfig` (one seed)."""
    from bayes_ab.cli.commands.common import add_sampler_options, sampler_config

    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(doc.strip().splitlines()[1:]))
    ap.add_argument("data_dir", nargs="?", type=Path, default=None, metavar="DATA_DIR",
                    help="experiment folder (default: the shipped example, data/example)")
    ap.add_argument("--data", type=Path, default=None, help="the same, as an option")
    ap.add_argument("--figures", type=Path, default=ROOT / "figures", help="folder of the PNGs")
    ap.add_argument("--out", type=Path, default=ROOT / "results",
                    help="folder of the posterior netCDF (OUT/idata) and summary JSON")
    add_sampler_options(ap)
    args = ap.parse_args(argv)
    args.data = args.data or args.data_dir or EXAMPLE
    with user_errors():
        args.config = sampler_config(args)
    return args


@contextmanager
def user_errors() -> Iterator[None]:
    """A user's mistake (bad folder, bad option, data that cannot answer the question):
    one message on stderr and exit status 2, never a traceback."""
    try:
        yield
    except BayesAbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load_data(args: argparse.Namespace) -> ExperimentData:
    """The experiment in ``args.data`` (exit 2 with the loader's message when it is bad)."""
    from bayes_ab.data.load import load_experiment

    with user_errors():
        data = load_experiment(args.data)
    print(f"{args.data}: {data.n_customers} customers, {len(data.help_episodes)} help flags, "
          f"{len(data.task_attempts)} task attempts")
    return data


def finish(model: BayesModel, idata: az.InferenceData, args: argparse.Namespace, *,
           key: str, seconds: float, figures: Any = (), summary: Any | None = None) -> int:
    """Print the results.json block (``model.summarize``), the diagnostics gate and
    truth.json's values for ``key``; write OUT/idata/<name>.nc and OUT/<name>.json.
    0 if the gate passes, else 3."""
    from bayes_ab.io import write_json

    from bayes_ab.results import to_jsonable

    summary = to_jsonable(model.summarize(idata) if summary is None else summary)
    diag = model.diagnostics(idata)
    print("results.json block:")
    print(json.dumps(summary, indent=2, default=str))
    status = "passed" if diag.passed else "FAILED: " + "; ".join(diag.problems())
    print(f"diagnostics: max r_hat {diag.max_r_hat:.4f}, min bulk ESS {diag.min_ess_bulk:.0f}, "
          f"{diag.divergences} divergences -> {status}")
    print(f"fit (compile + sample + posterior predictive): {seconds:.1f} s")
    truth_file = Path(args.data) / "truth.json"
    if truth_file.exists():
        estimands = json.loads(truth_file.read_text()).get("estimands") or {}
        print("truth.json:", json.dumps(estimands.get(TRUTH_KEYS[key])))
    path = model.save(idata, args.out / "idata" / f"{model.name}.nc")
    write_json(args.out / f"{model.name}.json",
               {"summary": summary, "diagnostics": diag.to_dict(), "fit_seconds": seconds})
    print(f"wrote {path}, {args.out / (model.name + '.json')} and {len(figures)} figures "
          f"in {args.figures}")
    return 0 if diag.passed else 3


def save_model_figures(model: BayesModel, figures: Mapping[str, Any], folder: Path) -> list:
    """Write ``model.figures(idata)`` ({kind: Figure}) as FOLDER/<model>_<kind>.png; the
    paths written."""
    from bayes_ab.plotting import save_figures

    return list(save_figures({f"{model.name}_{kind}": fig for kind, fig in figures.items()},
                             folder))
