"""`bayes-ab forensics DATA_DIR [--out OUT] [--force]`: real or simulated?"""

from __future__ import annotations

import argparse
import textwrap

from bayes_ab.io import check_output_dir, staged_output_dir, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "forensics",
        help="test a data folder for the fingerprints of simulated data",
        description=(
            "Run the forensic checks (split exactness, id regularity, timestamp precision, "
            "dispersion, duration families, missing values, duplicates, outliers, daily and "
            "weekly rhythm, generated names) on an experiment folder or a lead-funnel folder "
            "(leads + events) and combine them into a verdict: simulated, real or "
            "inconclusive."),
    )
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with the data files")
    p.add_argument("--out", metavar="OUT", default=None,
                   help="write OUT/forensics.json (folder is created; see --force)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT folder")
    p.add_argument("--prior-odds", type=float, default=None, metavar="ODDS",
                   help="odds simulated:real before any check (default 1); the verdict needs "
                   "posterior odds of 19:1 either way")
    p.set_defaults(func=run)


def format_table(report) -> str:
    """A plain-text table of the evidence, one row per check, then the verdict."""
    from bayes_ab.forensics import counted_log10_lr

    lines = [f"{'check':<22} {'hint':<11} {'log10 LR':>8} {'statistic':>12} {'p / score':>10}"]
    lines.append("-" * len(lines[0]))
    for e, counted in zip(report.evidence, counted_log10_lr(report.evidence)):
        stat = "" if e.statistic is None else f"{e.statistic:.4g}"
        ps = e.p_value if e.p_value is not None else e.score
        pstr = "" if ps is None else f"{ps:.3g}"
        hint = "n/a" if e.outcome == "n/a" else e.verdict_hint
        llr = f"{e.log10_lr:+.2f}" + ("*" if counted != e.log10_lr else " ")
        lines.append(f"{e.check:<22} {hint:<11} {llr:>8} {stat:>12} {pstr:>10}")
        lines.extend(textwrap.wrap(e.message, width=88, initial_indent="    ",
                                   subsequent_indent="    "))
    lines.append("")
    if any(c != e.log10_lr for e, c in zip(report.evidence, counted_log10_lr(report.evidence))):
        lines.append("* not counted: a stronger check of the same cause already counts.")
    lines.append(report.summary)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.forensics import run_forensics

    from bayes_ab.errors import OptionError

    prior = 1.0 if args.prior_odds is None else args.prior_odds
    if not (prior > 0 and prior < float("inf")):
        raise OptionError(f"--prior-odds must be a positive number, got {args.prior_odds}")
    if args.out is not None:
        check_output_dir(args.out, force=args.force, inputs=[args.data_dir])
    report = run_forensics(args.data_dir, validate=True, prior_odds=prior)
    print(format_table(report))
    if args.out is not None:
        with staged_output_dir(args.out, force=args.force, inputs=[args.data_dir],
                               command="forensics") as tmp:
            write_json(tmp / "forensics.json", report.to_dict())
        print(f"wrote {args.out}/forensics.json")
    return 0
