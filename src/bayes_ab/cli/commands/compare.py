"""`bayes-ab compare FILE --group-col COL --outcome-col COL --out OUT`: any plain A/B export.

Writes OUT/compare.json, OUT/report.html, OUT/report.md and OUT/figures/.
"""

from __future__ import annotations

import argparse
import sys

from bayes_ab.cli.commands.common import (
    add_sampler_options,
    add_spark_master_option,
    sampler_config,
    spark_master,
)

DESCRIPTION = (
    "Compare two or more arms of a plain A/B export (one CSV or Parquet file with a group "
    "column and a binary 0/1, true/false or yes/no outcome), each against control: Bayesian "
    "posteriors, frequentist tests (Holm-adjusted), expected-loss decision and a report."
)


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare the arms of any plain A/B export",
                              description=DESCRIPTION)
    p.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help="CSV, CSV.gz or Parquet export; or give --source and --table")
    p.add_argument("--source", metavar="URL", default=None,
                   help="read the export from a database table instead of FILE: "
                   "postgresql://[user@]host[:port]/db (password from PGPASSWORD or "
                   "~/.pgpass), duckdb:///path/exp.duckdb (opened read-only) or spark (a "
                   "table of the Spark session's catalog, e.g. Hive)")
    p.add_argument("--table", metavar="NAME", default=None,
                   help="with --source: the table (schema.table allowed)")
    p.add_argument("--engine", choices=("pandas", "spark"), default="pandas",
                   help="who reads FILE: pandas (default) or spark (local or a cluster; FILE "
                   "may then be any path Spark reads, e.g. s3a:// or hdfs://; needs the spark "
                   "extra and Java); the rows are then collected for the analysis")
    add_spark_master_option(p)
    p.add_argument("--group-col", required=True, metavar="COL", help="column naming the arm")
    p.add_argument("--outcome-col", required=True, metavar="COL", action="append",
                   help="outcome column: binary (0/1, true/false, yes/no) or numeric (a mean "
                        "outcome such as spend or rounds played). Repeat it (or give "
                        "COL1,COL2) for several outcomes: the first decides, the others are "
                        "guardrails; Holm runs across every outcome x arm")
    p.add_argument("--guardrail-margin", metavar="M", default=None,
                   help="a guardrail credibly worse than control by more than M (its own "
                        "units; 95%% probability) blocks shipping; one number for all, or "
                        "COL=M,COL2=M2 (default 0)")
    p.add_argument("--guardrail-lower-is-better", metavar="COL", action="append", default=[],
                   help="this guardrail is a cost (lower is better); repeatable")
    p.add_argument("--metric-type", choices=("auto", "binary", "mean"), default="auto",
                   help="binary or mean outcome (default auto: binary when every value is "
                        "0/1, true/false or yes/no, else mean)")
    p.add_argument("--cap", type=float, default=None, metavar="Q",
                   help="mean outcome: winsorise at the Q quantile of all rows (e.g. 0.99) "
                        "before the analysis")
    p.add_argument("--control", metavar="NAME", default=None,
                   help="control arm (default: an arm named control, else A, else the first "
                        "alphabetically)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    add_sampler_options(
        p, title=None, seed="random seed (default 20260505)",
        draws="posterior draws per chain of the sampled models (--segment-method pymc, "
              "--prior-method pymc); the binary outcome's posterior is exact and needs no "
              "sampler",
        tune="tuning steps per chain of the sampled models",
        chains="chains of the sampled models", sampler="sampler of the sampled models")
    p.add_argument("--threshold", type=float, default=None,
                   help="threshold of caring, in the outcome's units (default 0.001 = 0.1 pp)")
    p.add_argument("--ratio", metavar="NUM_COL/DEN_COL", default=None,
                   help="also compare a ratio metric sum(NUM)/sum(DEN) per arm (delta method "
                        "and its Bayesian twin); NUM_COL alone means per row")
    p.add_argument("--ratio-lower-is-better", action="store_true",
                   help="the ratio is a cost (e.g. CS contacts per flagged customer)")
    p.add_argument("--ratio-guardrail", action="store_true",
                   help="the --ratio metric is also a guardrail: the arm the primary outcome "
                        "would ship is blocked when its ratio is worse than control's by more "
                        "than its --guardrail-margin (NUM_COL/DEN_COL=M) with 95%% probability")
    p.add_argument("--segment-col", metavar="COL", default=None,
                   help="also estimate the lift per value of COL with partial pooling, with a "
                        "sample-ratio check per segment")
    p.add_argument("--segment-method", choices=("pymc", "normal"), default="pymc",
                   help="segment model: hierarchical Binomial (pymc, default) or its normal "
                        "approximation (no sampler)")
    p.add_argument("--prior-from", metavar="FILE", default=None,
                   help="CSV of past experiments (experiment, lift, se): report how a "
                        "meta-analytic prior would shrink today's lift (the main analysis "
                        "keeps its weakly informative priors)")
    p.add_argument("--prior-scale", choices=("abs", "rel"), default="abs",
                   help="scale of the past lifts: absolute rate differences or relative lifts")
    p.add_argument("--prior-method", choices=("pymc", "grid"), default="pymc",
                   help="fit the meta-analysis with PyMC (default) or exact quadrature")
    p.add_argument("--split", metavar="SHARES", default=None,
                   help="the design's share per arm for the sample-ratio check: 30,70 (in the "
                        "order control, then the other arms alphabetically) or control=30,B=70 "
                        "(default: equal shares)")
    p.add_argument("--srm-alpha", type=float, default=0.01,
                   help="flag a sample-ratio mismatch at chi-square p below this (default 0.01)")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 on a sample-ratio mismatch or failed sampler diagnostics "
                        "(results are still written)")
    p.add_argument("--rope", type=float, default=None, metavar="HALF_WIDTH",
                   help="region of practical equivalence |arm - control| < HALF_WIDTH, in the "
                        "outcome's units (0.002 = 0.2 pp): stop when 95%% of the posterior is "
                        "inside it")
    p.add_argument("--non-inferiority-margin", type=float, default=None, metavar="MARGIN",
                   help="ship an arm unless it is worse than control by more than MARGIN (the "
                        "outcome's units), when P(arm - control > -MARGIN) >= 95%%")
    p.add_argument("--unit-col", metavar="ID", default=None,
                   help="column identifying the unit (user, customer): one row per unit is "
                        "kept (its first exposure by --time-col, else its first row), units "
                        "seen in several arms are excluded; the counts are reported")
    p.add_argument("--time-col", metavar="COL", default=None,
                   help="date or timestamp of the row: orders exposures for --unit-col, and "
                        "compare says how many looks (days) the data allow and gives the "
                        "`bayes-ab monitor` command for looking safely")
    p.add_argument("--covariate", metavar="COL", default=None,
                   help="pre-period value of the unit (e.g. past spend): CUPED / regression "
                        "adjustment of the primary outcome (OLS outcome ~ arm + centred COL, "
                        "HC2; Bayesian bootstrap of the adjusted outcome); a binary outcome "
                        "is then analysed as a mean metric (its rate)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures (faster)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quiet", action="store_true",
                   help="no progress and no summary (warnings and errors still on stderr)")
    p.add_argument("--json", action="store_true",
                   help="print compare.json on stdout and nothing else there")
    p.set_defaults(func=run)


def _export(args: argparse.Namespace):
    """(name, RawTable or None): FILE, or the table of --source/--table (exactly one)."""
    from bayes_ab.errors import OptionError

    source, table = getattr(args, "source", None), getattr(args, "table", None)
    master = spark_master(args)
    spark = getattr(args, "engine", "pandas") == "spark"
    if (args.file is None) == (source is None):
        raise OptionError("give exactly one of FILE or --source URL (with --table NAME)")
    if source is None:
        if table is not None:
            raise OptionError("--table goes with --source")
        if spark:
            from bayes_ab.aggregate.source import read_spark_file

            return args.file, read_spark_file(args.file, master=master)
        return args.file, None
    if not table:
        raise OptionError("--source needs --table NAME (the table holding the export)")
    from bayes_ab.aggregate.source import SPARK, read_source_table

    if spark and str(source).strip().lower() != SPARK:
        raise OptionError("--engine spark reads FILE or a table of the Spark catalog "
                          "(--source spark); a postgresql:// or duckdb:/// table is read "
                          "from its own database")
    return table, read_source_table(source, table, master=master)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.workflows.compare import run_compare, write_compare
    from bayes_ab.io import check_output_dir, staged_output_dir
    from bayes_ab.report import text as T

    config = sampler_config(args)
    path, table = _export(args)
    inputs = [args.file, args.prior_from]
    check_output_dir(args.out, force=args.force, inputs=inputs)
    with staged_output_dir(args.out, force=args.force, inputs=inputs,
                           command="compare") as tmp:
        sampled = (args.segment_col is not None and args.segment_method == "pymc") or (
            args.prior_from is not None and args.prior_method == "pymc")
        if not args.quiet:
            print(f"reading {path}" + (
                f"; sampling the segment / prior models ({config.sampler}, {config.chains} "
                f"chains x {config.draws} draws)..." if sampled
                else " (exact posteriors, no sampler)..."), file=sys.stderr)
        result = run_compare(path, _table=table, group_col=args.group_col,
                             outcome_col=args.outcome_col, control=args.control, config=config,
                             threshold=args.threshold,
                             ratio=args.ratio, ratio_lower_is_better=args.ratio_lower_is_better,
                             segment_col=args.segment_col, segment_method=args.segment_method,
                             prior_from=args.prior_from, prior_scale=args.prior_scale,
                             prior_method=args.prior_method, split=args.split,
                             srm_alpha=args.srm_alpha, rope=args.rope,
                             non_inferiority_margin=args.non_inferiority_margin,
                             metric_type=args.metric_type, cap=args.cap,
                             guardrail_margin=args.guardrail_margin,
                             guardrail_lower_is_better=args.guardrail_lower_is_better,
                             unit_col=args.unit_col, time_col=args.time_col,
                             covariate=args.covariate,
                             ratio_guardrail=getattr(args, "ratio_guardrail", False))
        write_compare(result, tmp, figures=not args.no_figures)
    res = result.results
    if args.json or args.quiet:
        if args.json:
            from bayes_ab.cli.commands.analyze import print_json

            print_json(res)
        if not res["diagnostics"]["passed"]:
            print("WARNING: sampler diagnostics failed; see the report before using these "
                  "numbers.", file=sys.stderr)
        return _strict_exit(args, res)
    print(res["input"]["control_note"])
    units = res["input"].get("units")
    if units:
        print(f"Units ('{units['unit_col']}'): {units['n_units']:,} units in "
              f"{units['n_rows']:,} rows; {units['duplicate_rows_dropped']:,} repeated rows "
              f"dropped, {units['units_in_several_arms']:,} units in several arms excluded "
              f"({units['rows_of_units_in_several_arms']:,} rows); {units['n_rows_analysed']:,} "
              f"rows analysed. Rule: {units['rule']}.")
    for f in res.get("findings") or []:
        if f.get("severity") == "warning":
            print(f"WARNING: {f['message']}")
    looks = res["input"].get("looks")
    if looks:
        print(f"Looks: the data span {looks['n_days']} day(s) by '{looks['time_col']}'; to look "
              f"every day without inflating false positives run: {looks['monitor_command']}")
    srm = res["srm"]
    observed = ", ".join(f"{a} {n:,} ({100 * srm['observed_shares'][a]:.2f}% vs "
                         f"{100 * srm['expected_shares'][a]:.2f}%)"
                         for a, n in srm["observed"].items())
    print(("SAMPLE-RATIO MISMATCH: " if srm["mismatch"] else "Sample ratio OK: ")
          + f"{observed}; chi-square {T.p_equals(srm['p_value'])}"
          + (" (the assignment or the logging is broken; every comparison below may be "
             "biased)" if srm["mismatch"] else ""))
    mean = res.get("metric_kind") == "mean"
    if mean:
        print(f"Outcome '{res['input']['outcome_col']}': {res['input']['outcome_kind']}.")
    unit = (lambda v: f"{v:+.4g}") if mean else T.pp

    def test_name(freq: dict) -> str:
        return "OLS (CUPED, HC2) " if str(freq.get("test", "")).startswith("ols") else "Welch "
    for arm, block in res["arms"].items():
        adj = block.get("adjustment")
        if adj:
            vr = adj.get("variance_reduction")
            print(f"{arm} vs {res['control']}: CUPED by '{adj['covariate']}' (theta "
                  f"{adj['theta']:.4g}): variance of the lift reduced by "
                  + (f"{100 * vr:.1f}%" if vr is not None else "n/a")
                  + f"; unadjusted difference {adj['unadjusted_lift_abs']['mean']:+.4g}")
        freq = block["frequentist"]
        family = (f", {freq['family_size']} tests" if freq.get("family_size", 1) > 1 else "")
        print(f"{arm} vs {res['control']}: {'difference of means' if mean else 'lift'} "
              f"{T.interval(block['lift_abs'], unit)}, "
              f"P(better) {T.prob(block['prob_test_better'])}, "
              f"{test_name(freq) if mean else ''}{T.p_equals(freq['p_value_holm'])} (Holm"
              f"{family})")
    for arm, block in res.get("ratio_metric", {}).items():
        print(f"{block['metric']}, {arm} vs {res['control']}: difference "
              f"{T.interval(block['lift_abs'], lambda v: f'{v:+.4g}')}, "
              f"P(better) {T.prob(block['prob_test_better'])}, delta-method "
              f"{T.p_equals(block['frequentist']['p_value'])}")
    for arm, block in res.get("segments", {}).items():
        flagged = ", ".join(block["flagged"]) or "none"
        srm = ", ".join(block["srm"]["flagged"]) or "none"
        print(f"segments by {block['column']} ({arm}): {block['n_segments']} segments; lift "
              f"credibly differs from overall in: {flagged}; sample-ratio mismatch in: {srm}")
    hist = res.get("prior_from_history")
    if hist:
        for arm, sh in hist["arms"].items():
            print(f"prior from {hist['n_experiments']} past experiments ({arm}): estimate "
                  f"{sh['estimate']:+.4g} -> {sh['shrunk']['mean']:+.4g} "
                  f"(shrinkage {100 * sh['shrinkage']:.0f}% toward {sh['prior_mean']:+.4g})")
    if len(res.get("prob_best", {})) > 2:
        print("P(best): " + ", ".join(f"{a} {T.prob(p)}" for a, p in res["prob_best"].items())
              + "; loss of choosing: " + ", ".join(
                  f"{a} {f'{v:.4g}' if mean else T.pp(v, signed=False)}"
                  for a, v in res["loss_of_choosing"].items()))
    for name, m in res.get("metrics", {}).items():
        g = m.get("guardrail")
        if not g:
            continue
        fmt = (lambda v: f"{v:+.4g}") if m["kind"] in ("mean", "ratio") else T.pp
        lifts = "; ".join(f"{arm} {T.interval(b['lift_abs'], fmt)}, "
                          f"{T.p_equals(b['frequentist']['p_value_holm'])} (Holm)"
                          for arm, b in m["arms"].items())
        verdict = ("BLOCKS shipping" if g["blocks_ship"] else
                   f"P({g['arm']} worse by more than {g['margin']:g}) = "
                   f"{T.prob(g['prob_worse_than_margin'])}" if g["arm"] else "nothing shipped")
        print(f"guardrail {name}: {lifts}; {verdict}")
    dec = res["decision"]
    print("Recommendation: " + T.recommendation_headline(dec, test=dec.get("arm", "Test"),
                                                        control=res["control"]))
    if not res["diagnostics"]["passed"]:
        print("WARNING: sampler diagnostics failed; see the report before using these numbers.",
              file=sys.stderr)
    print(f"wrote {args.out}/compare.json, report.html, report.md")
    return _strict_exit(args, res)


def _strict_exit(args: argparse.Namespace, res: dict) -> int:
    """--strict: exit 3 on a sample-ratio mismatch or failed diagnostics."""
    srm = res["srm"]
    if args.strict and srm["mismatch"]:
        from bayes_ab.workflows.compare import SampleRatioMismatch

        raise SampleRatioMismatch(
            f"sample-ratio mismatch (chi-square p = {srm['p_value']:.3g} < {srm['alpha']}); "
            f"results were written to {args.out} and flagged")
    if args.strict and not res["diagnostics"]["passed"]:
        from bayes_ab.errors import DiagnosticsFailed

        raise DiagnosticsFailed("diagnostics failed the gate (see compare.json 'diagnostics'); "
                                f"results were written to {args.out} and flagged")
    return 0
