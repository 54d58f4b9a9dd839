"""`bayes-ab compare FILE --group-col COL --outcome-col COL --out OUT`: any plain A/B export.

Writes OUT/compare.json, OUT/report.html, OUT/report.md, OUT/figures/ and OUT/idata/.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Compare two or more arms of a plain A/B export (one CSV or Parquet file with a group "
    "column and a binary 0/1, true/false or yes/no outcome), each against control: Bayesian "
    "posteriors, frequentist tests (Holm-adjusted), expected-loss decision and a report."
)


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare the arms of any plain A/B export",
                              description=DESCRIPTION)
    p.add_argument("file", metavar="FILE", help="CSV, CSV.gz or Parquet export")
    p.add_argument("--group-col", required=True, metavar="COL", help="column naming the arm")
    p.add_argument("--outcome-col", required=True, metavar="COL",
                   help="binary outcome column (0/1, true/false, yes/no)")
    p.add_argument("--control", metavar="NAME", default=None,
                   help="control arm (default: an arm named control, else A, else the first "
                        "alphabetically)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--seed", type=int, default=20260505, help="random seed (default 20260505)")
    p.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
    p.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    p.add_argument("--chains", type=int, default=4, help="number of chains")
    p.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    p.add_argument("--threshold", type=float, default=None,
                   help="threshold of caring, in the outcome's units (default 0.001 = 0.1 pp)")
    p.add_argument("--ratio", metavar="NUM_COL/DEN_COL", default=None,
                   help="also compare a ratio metric sum(NUM)/sum(DEN) per arm (delta method "
                        "and its Bayesian twin); NUM_COL alone means per row")
    p.add_argument("--ratio-lower-is-better", action="store_true",
                   help="the ratio is a cost (e.g. CS contacts per flagged customer)")
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
    p.add_argument("--no-figures", action="store_true", help="skip the figures (faster)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.compare import run_compare, write_compare
    from bayes_ab.fit import SamplerConfig
    from bayes_ab.io import check_output_dir, staged_output_dir
    from bayes_ab.report import text as T

    config = SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.tune,
                           chains=args.chains, seed=args.seed)
    inputs = [args.file, args.prior_from]
    check_output_dir(args.out, force=args.force, inputs=inputs)
    with staged_output_dir(args.out, force=args.force, inputs=inputs,
                           command="compare") as tmp:
        print(f"reading {args.file} and sampling ({config.sampler}, {config.chains} chains x "
              f"{config.draws} draws)...", file=sys.stderr)
        result = run_compare(args.file, group_col=args.group_col, outcome_col=args.outcome_col,
                             control=args.control, config=config, threshold=args.threshold,
                             ratio=args.ratio, ratio_lower_is_better=args.ratio_lower_is_better,
                             segment_col=args.segment_col, segment_method=args.segment_method,
                             prior_from=args.prior_from, prior_scale=args.prior_scale,
                             prior_method=args.prior_method)
        write_compare(result, tmp, figures=not args.no_figures)
    res = result.results
    print(res["input"]["control_note"])
    for arm, block in res["arms"].items():
        print(f"{arm} vs {res['control']}: lift {T.interval(block['lift_abs'], T.pp)}, "
              f"P(better) {T.prob(block['prob_test_better'])}, "
              f"p = {T.p_value(block['frequentist']['p_value_holm'])} (Holm)")
    for arm, block in res.get("ratio_metric", {}).items():
        print(f"{block['metric']}, {arm} vs {res['control']}: difference "
              f"{T.interval(block['lift_abs'], lambda v: f'{v:+.4g}')}, "
              f"P(better) {T.prob(block['prob_test_better'])}, delta-method "
              f"p = {T.p_value(block['frequentist']['p_value'])}")
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
    dec = res["decision"]
    print("Recommendation: " + T.recommendation_headline(dec, test=dec.get("arm", "Test"),
                                                        control=res["control"]))
    if not res["diagnostics"]["passed"]:
        print("WARNING: sampler diagnostics failed; see the report before using these numbers.",
              file=sys.stderr)
    print(f"wrote {args.out}/compare.json, report.html, report.md")
    return 0
