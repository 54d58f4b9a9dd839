"""Is the data real or simulated? Run the forensic checks on the shipped example and on
the lead-funnel data, write their forensics.json and a figure of the daily rhythms that
decide most of the verdicts.

    python models/forensics.py [--out results/forensics]
    python models/forensics.py --calibrate [--out results/forensics] [--seeds 10] [--n 3000]

Writes OUT/example/forensics.json, OUT/lead_funnel/forensics.json and
figures/forensics_daily_rhythm.png. See docs/FORENSICS.md for what they show.

``--calibrate`` recomputes the likelihood ratios of the verdict rule
(`bayes_ab.forensics.CALIBRATED_LOG10_LR`) and measures the rule's hit rates:

* simulated sources: the two generators of tests/forensics_generators.py (``naive``,
  ``careful``) and this package's simulator, seeds 1..SEEDS, N customers each;
* real sources: the SpatialOS lead-funnel event log (shared/data/spatialos, read in place;
  the time windows are written to a temporary folder, never into the project), cut into
  five 18-day windows, plus the whole log.

Shipped table (calibration set): seeds 1..SEEDS/2 of each generator and the five real
windows. Evaluation: seeds SEEDS/2+1..SEEDS of each generator under the shipped table;
each generator (every seed) under a table calibrated without it at all
(leave-one-generator-out: the figure to expect on a generator nobody has seen); each
real window under a table calibrated without it; the whole log (overlaps the windows).
Writes OUT/calibration.json (with every data set's outcomes) and prints the table to paste.
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
#: The SpatialOS lead-funnel data, read in place (never copied into the project): beside
#: the checkout (``../shared``) or beside the folder of worktrees (``../../shared``).
LEADS = next((p for p in (ROOT.parent / "shared" / "data" / "spatialos",
                          ROOT.parents[1] / "shared" / "data" / "spatialos")
              if p.exists()), ROOT.parent / "shared" / "data" / "spatialos")


def _hours(ts: pd.Series) -> np.ndarray:
    t = pd.to_datetime(ts.replace("", None), utc=True, format="ISO8601", errors="coerce")
    h = np.bincount(t.dropna().dt.hour, minlength=24).astype(float)
    return h / h.sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "forensics"))
    ap.add_argument("--calibrate", action="store_true",
                    help="recompute the likelihood ratios and measure hit rates")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--reuse", action="store_true",
                    help="reuse OUT/evidence.pkl of an earlier --calibrate run")
    ap.add_argument("--n", type=int, default=3000, help="customers per generated data set")
    args = ap.parse_args()
    out = Path(args.out)
    if args.calibrate:
        calibrate(out, seeds=args.seeds, n=args.n, reuse=args.reuse)
        return
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


# ----------------------------------------------------------------------------- calibration

GENERATOR_NAMES = ("naive", "careful", "simulator")
#: Generators whose first half of seeds calibrates the shipped table.
TRAIN_GENERATORS = GENERATOR_NAMES
WINDOW_DAYS = 18


def _real_windows(tmp: Path) -> dict[str, Path]:
    """The SpatialOS log cut into consecutive 18-day windows (all leads, their events)."""
    events = read_raw(next(LEADS.glob("events*")))
    t = pd.to_datetime(events["received_at"], utc=True, format="ISO8601")
    start = t.min().floor("D")
    k = ((t - start) // pd.Timedelta(days=WINDOW_DAYS)).astype(int)
    out = {"real:full": LEADS}
    for w in sorted(k.unique()):
        part = events[k == w]
        if len(part) < 1000:
            continue
        folder = tmp / f"window{w + 1}"
        folder.mkdir()
        (folder / "leads.csv.gz").symlink_to(next(LEADS.glob("leads*")))
        part.to_csv(folder / "events.csv", index=False)
        out[f"real:window{w + 1}"] = folder
    return out


def _outcomes(report) -> dict[str, str]:
    return {e.check: e.outcome for e in report.evidence}


def _counts(runs: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for run in runs:
        for check, o in run.items():
            if o == "n/a":
                continue
            out.setdefault(check, {}).setdefault(o, 0)
            out[check][o] += 1
    return out


def _table(sim_runs, real_runs):
    from bayes_ab.forensics import verdict as fz

    real = _counts(real_runs)
    for check, source in fz.BORROWED_REAL.items():
        real[check] = dict(real.get(source, {}))
    return fz.log10_lr_table(_counts(sim_runs), real, assumed_real=fz.ASSUMED_REAL)


def _verdict(evidence, table) -> tuple[str, float]:
    from bayes_ab import forensics as fz

    weighed = fz.weigh(evidence, table)
    return fz.combine(weighed)[0], round(sum(fz.counted_log10_lr(weighed)), 2)


def _collect(*, seeds: int, n: int) -> tuple[dict, dict]:
    """Unweighed evidence of every calibration data set, and its true origin."""
    import sys
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from forensics_generators import write_generated

    from bayes_ab import forensics as fz

    evidence: dict[str, list] = {}
    truth: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="forensics-calibration-") as tmp:
        tmp = Path(tmp)
        for gen in GENERATOR_NAMES:
            for seed in range(1, seeds + 1):
                folder = write_generated(gen, tmp / f"{gen}{seed}", n=n, seed=seed)
                evidence[f"{gen}:{seed}"] = fz.collect_evidence(folder)
                truth[f"{gen}:{seed}"] = "simulated"
                print(f"{gen} seed {seed}: done", flush=True)
        if LEADS.exists():
            for name, folder in _real_windows(tmp).items():
                evidence[name] = fz.collect_evidence(folder)
                truth[name] = "real"
                print(f"{name}: done", flush=True)
    return evidence, truth


def calibrate(out: Path, *, seeds: int, n: int, reuse: bool = False) -> None:
    from bayes_ab import forensics as fz

    half = seeds // 2
    evidence: dict[str, list] = {}
    truth: dict[str, str] = {}
    cache = out / "evidence.pkl"
    if reuse and cache.exists():
        import pickle

        evidence, truth = pickle.loads(cache.read_bytes())
    else:
        evidence, truth = _collect(seeds=seeds, n=n)
        import pickle

        out.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((evidence, truth)))
    outcomes = {k: {e.check: e.outcome for e in ev} for k, ev in evidence.items()}

    def source(key: str) -> str:
        return key.split(":")[0]

    def is_train(key: str) -> bool:
        src, _, part = key.partition(":")
        if src in TRAIN_GENERATORS:
            return int(part) <= half
        return src == "real" and part != "full"

    def table_from(keys):
        return _table([outcomes[k] for k in keys if truth[k] == "simulated"],
                      [outcomes[k] for k in keys if truth[k] == "real"])

    train = [k for k in evidence if is_train(k)]
    table = table_from(train)

    def row(keys, tables) -> dict:
        """Verdicts of `keys`, each under its own table (`tables[key]`)."""
        r = {"n": 0, "correct": 0, "inconclusive": 0, "wrong": 0, "log10_lr": []}
        for key in keys:
            verdict, total = _verdict(evidence[key], tables[key])
            r["n"] += 1
            r["log10_lr"].append(total)
            r["correct" if verdict == truth[key] else
              "inconclusive" if verdict == "inconclusive" else "wrong"] += 1
        r["hit_rate"] = r["correct"] / r["n"] if r["n"] else None
        return r

    rows: dict[str, dict] = {}
    for gen in GENERATOR_NAMES:
        keys = [k for k in evidence if source(k) == gen]
        unseen = [k for k in keys if not is_train(k)]
        rows[f"{gen} (held-out seeds, shipped table)"] = row(unseen, {k: table for k in unseen})
        # Leave this generator out entirely: calibrate on the other two generators'
        # first seeds (careful included) and the real windows.
        loo = table_from([k for k in evidence if k != "real:full" and source(k) != gen
                          and (source(k) == "real" or int(k.split(":")[1]) <= half)])
        rows[f"{gen} (generator left out of calibration)"] = row(keys, {k: loo for k in keys})
    windows = [k for k in evidence if source(k) == "real" and k != "real:full"]
    if windows:
        # Each real window judged by a table calibrated without it.
        rows["real, 18-day windows (window left out of calibration)"] = row(
            windows, {w: table_from([k for k in train if k != w]) for w in windows})
    if "real:full" in evidence:
        rows["real, whole log (overlaps the calibration windows)"] = row(
            ["real:full"], {"real:full": table})
    calib = {src: row([k for k in train if source(k) == src], {k: table for k in train})
             for src in sorted({source(k) for k in train})}
    old = {k: _old_rule(ev) for k, ev in evidence.items()}
    result = {
        "table": table,
        "calibration_set": sorted(train),
        "hit_rates": rows,
        "hit_rates_calibration_set": calib,
        "old_rule_hit_rates": {
            src: float(np.mean([old[k] == truth[k] for k in evidence if source(k) == src]))
            for src in sorted({source(k) for k in evidence})},
        "cutoff_log10": fz.VERDICT_CUTOFF_LOG10,
        "n_customers": n,
        "seeds": seeds,
        "outcomes": outcomes,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "calibration.json", result)
    print("CALIBRATED_LOG10_LR = {")
    for check, r in table.items():
        print(f"    {check!r}: {r!r},")
    print("}")
    for title, tab in (("evaluation", rows), ("calibration set (in sample)", calib)):
        print(f"\n{title}:\n| source | data sets | correct | inconclusive | wrong | "
              "summed log10 LR (min..max) |\n|---|---|---|---|---|---|")
        for src, r in tab.items():
            print(f"| {src} | {r['n']} | {r['correct']} ({r['hit_rate']:.0%}) | "
                  f"{r['inconclusive']} | {r['wrong']} | {min(r['log10_lr']):+.1f}.."
                  f"{max(r['log10_lr']):+.1f} |")
    print("\nold rule (hand-set points), share correct:", result["old_rule_hit_rates"])
    print(f"wrote {out / 'calibration.json'}")


def _old_rule(evidence) -> str:
    """The hand-set rule this calibration replaced: strong 2 / weak 1 point, margin 3."""
    pts = {"simulated": 0, "real": 0}
    strong = {"simulated": False, "real": False}
    for e in evidence:
        if e.outcome not in ("simulated", "real"):
            continue
        w = {"strong": 2, "weak": 1}.get(e.strength, 0)
        pts[e.outcome] += w
        strong[e.outcome] |= w == 2
    if pts["simulated"] - pts["real"] >= 3 and strong["simulated"]:
        return "simulated"
    if pts["real"] - pts["simulated"] >= 3 and strong["real"]:
        return "real"
    return "inconclusive"


if __name__ == "__main__":
    main()
