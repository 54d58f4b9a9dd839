"""How many trialers does the help-widget test need? The seed's design: 30% Test, a
baseline conversion of 15% and a one-point lift to detect.

    python models/plan.py [--baseline 0.15 --mde 0.01 --split 0.3]

Writes results/plan/plan.json and figures/plan.png (power and assurance; expected loss).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bayes_ab.io import write_json
from bayes_ab.workflows.planning import plan_sample_size
from bayes_ab.plotting import plot_plan, save_figure

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=float, default=0.15)
    ap.add_argument("--mde", type=float, default=0.01)
    ap.add_argument("--split", type=float, default=0.3)
    ap.add_argument("--sims", type=int, default=4000)
    args = ap.parse_args()
    plan = plan_sample_size(baseline=args.baseline, mde=args.mde, split=args.split,
                            n_sims=args.sims, seed=0)
    print(plan.summary())
    out = ROOT / "results" / "plan"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "plan.json", plan.to_dict())
    save_figure(plot_plan(plan), ROOT / "figures" / "plan.png")
    print("wrote results/plan/plan.json and figures/plan.png")


if __name__ == "__main__":
    main()
