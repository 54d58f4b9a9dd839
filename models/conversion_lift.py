"""Did the help widget raise conversion? Arm comparison on counts (Binomial, Beta priors).

    python models/conversion_lift.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results/idata]

Conversion = converted within 30 days / all randomized customers of the arm (intention to
treat). Lift = Test - Control, absolute and relative; P(Test better).
Prints the results.json block and the diagnostics gate, writes figures/converted_*.png and
the posterior (model and sampler config in its attrs) to OUT/converted.nc. When the data
folder holds the simulator's truth.json, its population values are printed beside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bayes_ab.data.load import load_experiment
from bayes_ab.errors import BayesAbError
from bayes_ab.fit import SamplerConfig
from bayes_ab.models.arm_comparison import ArmComparison, ArmCounts

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "example"), help="experiment folder")
    ap.add_argument("--seed", type=int, default=SamplerConfig.seed)
    ap.add_argument("--draws", type=int, default=SamplerConfig.draws)
    ap.add_argument("--tune", type=int, default=SamplerConfig.tune)
    ap.add_argument("--chains", type=int, default=SamplerConfig.chains)
    ap.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    ap.add_argument("--figures", default=str(ROOT / "figures"), help="folder of the PNG figures")
    ap.add_argument("--out", default=str(ROOT / "results" / "idata"), help="folder of the netCDF")
    args = ap.parse_args(argv)
    try:
        config = SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.tune,
                               chains=args.chains, seed=args.seed)
        data = load_experiment(args.data)
        model = ArmComparison(ArmCounts.from_experiment(data, metric="converted"))
        print(f"{model.name}: priors {json.dumps(model.priors)}")
        start = time.perf_counter()
        idata = model.fit(config)
        print(f"sampled in {time.perf_counter() - start:.1f} s (compilation included)")
    except BayesAbError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(model.summarize(idata), indent=2))
    diag = model.diagnostics(idata)
    verdict = "passed" if diag.passed else "FAILED: " + "; ".join(diag.problems())
    print("diagnostics:", json.dumps(diag.to_dict()), verdict)
    truth_file = Path(args.data) / "truth.json"
    if truth_file.exists():
        truth = json.loads(truth_file.read_text())["estimands"]
        print("truth.json:", json.dumps(truth["conversion"]))
    written = model.figures(idata, args.figures)
    path = model.save(idata, Path(args.out) / f"{model.name}.nc")
    print("wrote", path, "and", ", ".join(str(p) for p in written.values()))
    return 0 if diag.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
