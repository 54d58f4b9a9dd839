"""Shared argument handling of the models/funnel_*.py scripts (not a library module)."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "spatialos"
EXAMPLE = ROOT / "data" / "example_funnel"


def parse(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    default = REAL if (REAL / "leads.csv.gz").exists() else EXAMPLE
    names = ("leads.csv.gz", "events.csv.gz") if default == REAL else (
        "sim_leads.csv", "sim_events.csv")
    p.add_argument("--leads", default=str(default / names[0]))
    p.add_argument("--events", default=str(default / names[1]))
    p.add_argument("--figures", default=str(ROOT / "figures"))
    p.add_argument("--posteriors", default=str(ROOT / "results" / "funnel"))
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=20260505)
    p.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    args = p.parse_args()
    Path(args.figures).mkdir(parents=True, exist_ok=True)
    Path(args.posteriors).mkdir(parents=True, exist_ok=True)
    return args
