"""Is the data real or simulated? Run the forensic checks on the shipped example and on
the lead-funnel data, write their forensics.json and a figure of the daily rhythms that
decide most of the verdicts.

    python models/forensics.py [--out results/forensics]

Writes OUT/example/forensics.json, OUT/lead_funnel/forensics.json and
figures/forensics_daily_rhythm.png. See docs/FORENSICS.md for what they show.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_ab.forensics import read_raw, run_forensics
from bayes_ab.io import write_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"
LEADS = ROOT.parent / "shared" / "data" / "spatialos"


def _hours(ts: pd.Series) -> np.ndarray:
    t = pd.to_datetime(ts.replace("", None), utc=True, format="ISO8601", errors="coerce")
    h = np.bincount(t.dropna().dt.hour, minlength=24).astype(float)
    return h / h.sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "forensics"))
    args = ap.parse_args()
    out = Path(args.out)
    profiles = {}
    for name, folder in (("example", EXAMPLE), ("lead_funnel", LEADS)):
        if not folder.exists():
            print(f"skip {name}: {folder} not found")
            continue
        report = run_forensics(folder)
        (out / name).mkdir(parents=True, exist_ok=True)
        write_json(out / name / "forensics.json", report.to_dict())
        print(f"{name}: {report.summary}")
        if name == "example":
            act = read_raw(next(folder.glob("product_activity*")))
            conv = read_raw(next(folder.glob("conversion*")))
            first = act.assign(t=pd.to_datetime(act["timestamp"], utc=True, format="ISO8601"))
            first = first.groupby("customer_id")["t"].min().dt.strftime("%Y-%m-%dT%H:%M:%S")
            profiles["example: first action"] = _hours(first)
            profiles["example: conversion"] = _hours(conv["converted_at"])
        else:
            ev = read_raw(next(folder.glob("events*"))).drop_duplicates()
            profiles["leads: events"] = _hours(ev["received_at"])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for label, share in profiles.items():
        ax.step(np.arange(25), np.r_[share, share[-1]], where="post", label=label)
    ax.axhline(1 / 24, color="grey", ls="--", lw=0.8, label="flat (no daily rhythm)")
    ax.set(xlabel="hour of day (UTC)", ylabel="share of events", xlim=(0, 24),
           title="Daily rhythm: real activity has one; the example's conversions do not")
    ax.legend(fontsize=8)
    fig.tight_layout()
    (ROOT / "figures").mkdir(exist_ok=True)
    fig.savefig(ROOT / "figures" / "forensics_daily_rhythm.png", dpi=110)
    print("wrote figures/forensics_daily_rhythm.png")


if __name__ == "__main__":
    main()
