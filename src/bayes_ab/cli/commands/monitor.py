"""`bayes-ab monitor FILE --date-col D --group-col G --outcome-col Y --out OUT`: daily looks
at a running experiment without peeking bias.

Writes OUT/monitor.json, OUT/monitor.png (the confidence sequence over time) and a short
report, OUT/monitor.html (self-contained) and OUT/monitor.md. With ``--plan FILE`` (created
on the first run with ``--plan-looks N``, reused unchanged afterwards, kept outside OUT) it
also gives the Bayesian stopping rule calibrated once on the planned horizon.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Look at a running A/B test every day without inflating false positives: per look, an "
    "always-valid confidence sequence for the lift (Test - Control), the posterior, and "
    "stopping rules whose error rate holds however often you look (the Bayesian one needs "
    "a plan, --plan FILE, fixed on the first run). Input: one row per "
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
    p.add_argument("--alpha", type=float, default=None,
                   help="error rate promised under continuous looks (default 0.05, or the "
                        "plan's)")
    p.add_argument("--tau", type=float, default=None,
                   help="mixture spread of the sequence, in lift units (default: the plan's; "
                        "without a plan, tightest at the file's last look, from the pooled "
                        "rate)")
    p.add_argument("--min-events", type=int, default=None,
                   help="successes and failures each arm needs before a look may stop (5, "
                        "or the plan's)")
    p.add_argument("--plan", metavar="FILE", default=None,
                   help="plan file (JSON) fixing the horizon, look schedule, calibrated "
                        "Bayesian threshold and tau: written on the first run (with "
                        "--plan-looks) when FILE does not exist, then reused unchanged, never "
                        "overwritten. Keep it outside OUT. Without --plan only the confidence "
                        "sequence is given")
    p.add_argument("--plan-looks", type=int, default=None, metavar="N",
                   help="creating a plan: the number of looks (dates) planned until the end")
    p.add_argument("--plan-per-look", type=float, default=None, metavar="N",
                   help="creating a plan: expected customers per look, both arms (default: "
                        "the mean per look so far)")
    p.add_argument("--plan-rate", type=float, default=None, metavar="RATE",
                   help="creating a plan: the rate simulated to calibrate (default: the "
                        "pooled rate so far)")
    p.add_argument("--calibration-sims", type=int, default=50000,
                   help="creating a plan: A/A simulations calibrating the Bayesian threshold "
                        "(50000)")
    p.add_argument("--seed", type=int, default=20260505, help="random seed (default 20260505)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def _plan_path(args: argparse.Namespace):
    """The --plan path, refused when it sits where a run could replace or read it as data."""
    from pathlib import Path

    from bayes_ab.workflows.monitor import PlanError

    if args.plan is None:
        given = [o for o, v in (("--plan-looks", args.plan_looks),
                                ("--plan-per-look", args.plan_per_look),
                                ("--plan-rate", args.plan_rate)) if v is not None]
        if given:
            raise PlanError(f"{', '.join(given)}: options of a new plan, which needs "
                            "--plan FILE (the plan file to create)")
        return None
    plan = Path(args.plan)
    where = plan.resolve()
    out = Path(args.out).resolve()
    if where == out or out in where.parents:
        raise PlanError(f"--plan {args.plan} is inside the output folder {args.out}, which "
                        "--force replaces: keep the plan file outside it")
    if where == Path(args.file).resolve():
        raise PlanError(f"--plan {args.plan} is the input file")
    if not plan.exists() and not where.parent.is_dir():
        raise PlanError(f"--plan {args.plan}: folder {plan.parent} does not exist")
    return plan


def run(args: argparse.Namespace) -> int:
    from bayes_ab.io import check_output_dir, staged_output_dir, write_json
    from bayes_ab.workflows.monitor import (
        MonitorConfig,
        PlanError,
        check_plan,
        make_plan,
        monitor,
        read_daily_counts,
        read_plan,
        write_plan,
    )
    from bayes_ab.plotting import plot_monitor, save_figure
    from bayes_ab.report import render_monitor_report

    plan_path = _plan_path(args)
    inputs = [args.file, args.plan]  # the plan file is read, or written outside OUT
    check_output_dir(args.out, force=args.force, inputs=inputs)
    plan = None
    if plan_path is not None and plan_path.exists():
        plan = read_plan(plan_path)
        if args.plan_looks is not None and args.plan_looks != plan.looks:
            raise PlanError(f"--plan-looks {args.plan_looks} differs from the {plan.looks} "
                            f"looks of the existing plan {plan_path}; a plan is never changed")
        if args.plan_per_look is not None or args.plan_rate is not None:
            raise PlanError(f"the plan {plan_path} exists already: --plan-per-look and "
                            "--plan-rate only describe a new plan")
    elif plan_path is not None and args.plan_looks is None:
        raise PlanError(f"plan file {plan_path} does not exist: to create it, give "
                        "--plan-looks N (the number of looks planned until the end of the "
                        "experiment) on this first run")
    default = MonitorConfig()
    config = MonitorConfig(
        alpha=args.alpha if args.alpha is not None else (plan.alpha if plan else default.alpha),
        tau=args.tau,
        min_events=(args.min_events if args.min_events is not None
                    else plan.min_events if plan else default.min_events),
        calibration_sims=args.calibration_sims, seed=args.seed)
    counts, info = read_daily_counts(
        args.file, date_col=args.date_col, group_col=args.group_col,
        outcome_col=args.outcome_col, n_col=args.n_col, conversions_col=args.conversions_col,
        control=args.control, test=args.test)
    new_plan = plan is None and plan_path is not None
    if new_plan:
        plan = make_plan(counts, looks=args.plan_looks, per_look=args.plan_per_look,
                         rate=args.plan_rate, config=config, file=args.file)
    elif plan is not None:
        check_plan(plan, counts, config)
    plan_info = None if plan_path is None else {"file": str(plan_path),
                                                "written_by_this_run": new_plan}
    with staged_output_dir(args.out, force=args.force, inputs=inputs,
                           command="monitor") as tmp:
        result = monitor(counts, config=config, input_info=info, plan=plan,
                         plan_info=plan_info)
        write_json(tmp / "monitor.json", result)
        save_figure(plot_monitor(result), tmp / "monitor.png")
        render_monitor_report(result, figure=tmp / "monitor.png", out_dir=tmp)
        if new_plan:  # last: a run that fails leaves no plan behind
            write_plan(plan_path, plan)
    latest = result["latest"]
    cs = latest["confidence_sequence"]
    print(info["control_note"])
    print(f"{len(result['looks'])} looks, {result['looks'][0]['date']} to {latest['date']}; "
          f"latest lift {cs['mean']:+.4f}, {100 * cs['prob']:.0f}% always-valid CS "
          f"[{cs['lower']:+.4f}, {cs['upper']:+.4f}], P(Test better) "
          f"{100 * latest['prob_test_better']:.1f}%")
    for key in ("confidence_sequence", "bayes_calibrated"):
        r = result["stopping"][key]
        if r.get("available") is False:
            print(f"  {key}: not computed ({r['reason']})")
            continue
        verdict = (f"stop on {r['date']} (look {r['look']}): {r['direction']}" if r["stopped"]
                   else "keep going (no stop yet)")
        if key == "bayes_calibrated":
            verdict += (f" [plan: look {len(result['looks'])} of {plan.looks}, threshold "
                        f"{plan.bayes_threshold:.4f}]")
        print(f"  {key}: {verdict}")
    naive = result["stopping"]["naive_p_value"]
    if naive["stopped"] and not result["stopping"]["confidence_sequence"]["stopped"]:
        print(f"  (a naive daily p-value would have stopped on {naive['date']}: that is the "
              "peeking bias)", file=sys.stderr)
    if new_plan:
        print(f"wrote the plan {plan_path}: {plan.looks} looks of about "
              f"{plan.n_control[0] + plan.n_test[0]:,} customers, threshold "
              f"{plan.bayes_threshold:.4f}, tau {plan.tau:.4g}. Keep it unchanged and pass "
              f"--plan {plan_path} on every later run.")
    print(f"wrote {args.out}/monitor.json, monitor.png, monitor.html, monitor.md")
    return 0
