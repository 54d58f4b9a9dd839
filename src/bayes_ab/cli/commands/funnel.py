"""`bayes-ab funnel LEADS EVENTS --out OUT`: the lead-funnel analysis (seed 001).

Writes OUT/funnel.json (RESULTS_SCHEMA.md), OUT/funnel_report.html (self-contained) and
OUT/funnel_report.md (the findings in plain words first), OUT/figures/*.png and
OUT/idata/*.nc (posteriors).
"""

from __future__ import annotations

import argparse
import sys

from bayes_ab.cli.commands.common import add_sampler_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "funnel", help="reproduce and extend the lead-funnel report (leads.csv, events.csv)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("leads", help="leads.csv (or .csv.gz)")
    p.add_argument("events", help="events.csv (or .csv.gz)")
    p.add_argument("--out", required=True, help="output folder")
    add_sampler_options(p, title=None, tune_default=None,
                        seed="one seed for every sampler (default %(default)s)",
                        tune="tuning steps (default: = draws)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a model fails the diagnostic gate")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from bayes_ab.errors import DiagnosticsFailed, OptionError
    from bayes_ab.inference.fit import save_idata
    from bayes_ab.data.funnel import load_funnel
    from bayes_ab.funnel.pipeline import run_funnel
    from bayes_ab.report.funnel import write_report
    from bayes_ab.io import staged_output_dir, write_json

    if args.draws < 1 or args.chains < 1:
        raise OptionError("--draws and --chains must be positive")
    say = (lambda m: None) if args.quiet else (lambda m: print(f"[funnel] {m}", file=sys.stderr))
    from bayes_ab.io import check_output_dir

    inputs = [args.leads, args.events]
    check_output_dir(args.out, force=args.force, inputs=inputs)
    data = load_funnel(args.leads, args.events)
    say(f"loaded {data.n_leads} leads, {data.n_events_distinct} distinct events "
        f"({data.n_duplicate_events} duplicates dropped, {data.n_events_unknown_lead} of "
        f"unknown leads excluded)")
    results = run_funnel(data, seed=args.seed, draws=args.draws, tune=args.tune,
                         chains=args.chains, sampler=args.sampler, progress=say)
    with staged_output_dir(args.out, force=args.force, inputs=inputs,
                           command="funnel") as tmp:
        write_json(tmp / "funnel.json", results.summary)
        write_report(results, Path(tmp))
        for name, idata in results.idata.items():
            save_idata(idata, Path(tmp) / "idata" / f"{name}.nc")
    diag = results.summary["diagnostics"]
    say(f"wrote {args.out}/funnel.json, funnel_report.html and funnel_report.md; diagnostics "
        f"{'passed' if diag['passed'] else 'FAILED'}")
    if args.strict and not diag["passed"]:
        raise DiagnosticsFailed("a funnel model failed the diagnostic gate (see funnel.json)")
    return 0
