"""`bayes-ab monitor FILE --date-col D --group-col G --outcome-col Y --out OUT`: daily looks
at a running experiment without peeking bias.

Writes OUT/monitor.json, OUT/monitor.png (the confidence sequence over time) and a short
report, OUT/monitor.html (self-contained) and OUT/monitor.md.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Look at a running A/B test every day without inflating false positives: per look, an "
    "always-valid confidence sequence for the lift (Test - Control), the posterior, and "
    "stopping rules whose error rate holds however often you look. Input: one row per "
    "customer (--outcome-col) or cumulative counts per date and arm (--n-col, "
    "--conversions-col)."
)


def register(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="daily looks with an always-valid error rate",
                              description=DESCRIPTION)
    p.add_argument("file", metavar="FILE", help="CSV, CSV.gz or Parquet export")
    p.add_argument("--date-col", required=True, metavar="COL",
                   help="date of the row (entry date, or the date of a cumulative count)")
    p.add_argument("--group-col", required=True, metavar="COL", help="column naming the arm")
    p.add_argument("--outcome-col", metavar="COL", default=None,
                   help="binary outcome, one row per customer")
    p.add_argument("--n-col", metavar="COL", default=None,
                   help="cumulative customers per date and arm (instead of --outcome-col)")
    p.add_argument("--conversions-col", metavar="COL", default=None,
                   help="cumulative successes per date and arm (with --n-col)")
    p.add_argument("--control", metavar="NAME", default=None,
                   help="control arm (default: an arm named control, else A, else the first)")
    p.add_argument("--test", metavar="NAME", default=None,
                   help="the arm to monitor against control (needed with 3+ arms)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="error rate promised under continuous looks (default 0.05)")
    p.add_argument("--tau", type=float, default=None,
                   help="mixture spread of the sequence, in lift units (default: tightest at "
                        "the last look, from the pooled rate)")
    p.add_argument("--min-events", type=int, default=5,
                   help="successes and failures each arm needs before a look may stop (5)")
    p.add_argument("--calibration-sims", type=int, default=4000,
                   help="A/A simulations calibrating the Bayesian threshold (4000)")
    p.add_argument("--seed", type=int, default=20260505, help="random seed (default 20260505)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.io import check_output_dir, staged_output_dir, write_json
    from bayes_ab.monitor import MonitorConfig, monitor, plot_monitor, read_daily_counts
    from bayes_ab.report import render_monitor_report

    config = MonitorConfig(alpha=args.alpha, tau=args.tau, min_events=args.min_events,
                           calibration_sims=args.calibration_sims, seed=args.seed)
    check_output_dir(args.out, force=args.force, inputs=[args.file])
    counts, info = read_daily_counts(
        args.file, date_col=args.date_col, group_col=args.group_col,
        outcome_col=args.outcome_col, n_col=args.n_col, conversions_col=args.conversions_col,
        control=args.control, test=args.test)
    with staged_output_dir(args.out, force=args.force, inputs=[args.file],
                           command="monitor") as tmp:
        result = monitor(counts, config=config, input_info=info)
        write_json(tmp / "monitor.json", result)
        plot_monitor(result, tmp / "monitor.png")
        render_monitor_report(result, figure=tmp / "monitor.png", out_dir=tmp)
    latest = result["latest"]
    cs = latest["confidence_sequence"]
    print(info["control_note"])
    print(f"{len(result['looks'])} looks, {result['looks'][0]['date']} to {latest['date']}; "
          f"latest lift {cs['mean']:+.4f}, {100 * cs['prob']:.0f}% always-valid CS "
          f"[{cs['lower']:+.4f}, {cs['upper']:+.4f}], P(Test better) "
          f"{100 * latest['prob_test_better']:.1f}%")
    for key in ("confidence_sequence", "bayes_calibrated"):
        r = result["stopping"][key]
        verdict = (f"stop on {r['date']} (look {r['look']}): {r['direction']}" if r["stopped"]
                   else "keep going (no stop yet)")
        print(f"  {key}: {verdict}")
    naive = result["stopping"]["naive_p_value"]
    if naive["stopped"] and not result["stopping"]["confidence_sequence"]["stopped"]:
        print(f"  (a naive daily p-value would have stopped on {naive['date']}: that is the "
              "peeking bias)", file=sys.stderr)
    print(f"wrote {args.out}/monitor.json, monitor.png, monitor.html, monitor.md")
    return 0
