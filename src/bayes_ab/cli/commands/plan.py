"""`bayes-ab plan --baseline 0.15 --mde 0.01 --split 0.3`: how many customers?"""

from __future__ import annotations

import argparse

from bayes_ab.constants import DESIGN_TEST_SHARE
from bayes_ab.io import check_output_dir, staged_output_dir, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="sample size (frequentist) and Bayesian power / assurance / expected-loss curves",
        description=(
            "Sample size of a two-arm conversion test with unequal allocation (two-proportion "
            "z-test, closed form) and, by pre-posterior simulation with Beta-Binomial "
            "updates and at the same error rate (posterior P(Test better) > 1 - alpha/2 for "
            "a two-sided alpha), the Bayesian power (chance the posterior will say Test is "
            "better when the true lift is the MDE), the assurance (the same chance with the "
            "lift drawn from a design prior Normal(MDE, --design-sd)) and the expected loss "
            "of the best action as the sample grows. With --out, writes OUT/plan.json and "
            "OUT/plan.png."),
    )
    p.add_argument("--baseline", type=float, required=True,
                   help="Control's conversion rate, e.g. 0.15")
    p.add_argument("--mde", type=float, required=True,
                   help="lift to detect: absolute (0.01 = 1 percentage point) unless --relative")
    p.add_argument("--split", type=float, default=DESIGN_TEST_SHARE,
                   help=f"share of customers in Test (default {DESIGN_TEST_SHARE})")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--power", type=float, default=0.8, help="target power / assurance (0.8)")
    p.add_argument("--relative", action="store_true", help="--mde is relative to the baseline")
    p.add_argument("--one-sided", action="store_true", help="one-sided test (default two)")
    p.add_argument("--prob-threshold", type=float, default=None,
                   help="posterior P(Test better) that counts as a win (default: the same "
                        "error rate as the z-test, 1 - alpha/2 two-sided, 1 - alpha "
                        "one-sided)")
    p.add_argument("--design-sd", type=float, default=None,
                   help="sd of the design prior Normal(MDE, sd) on the lift for the "
                        "assurance, in the units of --mde (default |MDE| / 2)")
    p.add_argument("--loss-threshold", type=float, default=0.001,
                   help="threshold of caring for the expected loss, in rate units (0.001)")
    p.add_argument("--sims", type=int, default=4000,
                   help="simulated experiments per sample size (4000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--out", metavar="OUT", default=None,
                   help="write OUT/plan.json and OUT/plan.png")
    p.add_argument("--force", action="store_true", help="replace an existing OUT folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.workflows.planning import plan_sample_size
    from bayes_ab.plotting import plot_plan, save_figure

    if args.out is not None:
        check_output_dir(args.out, force=args.force)
    plan = plan_sample_size(
        baseline=args.baseline, mde=args.mde, split=args.split, alpha=args.alpha,
        power=args.power, relative=args.relative, two_sided=not args.one_sided,
        prob_threshold=args.prob_threshold, design_sd=args.design_sd,
        loss_threshold=args.loss_threshold,
        n_sims=args.sims, seed=args.seed)
    print(plan.summary())
    print()
    print(f"{'n_total':>11} {'n_test':>10} {'power':>7} {'Bayes pow':>9} {'assurance':>9} "
          f"{'E[loss]':>10} {'E[loss] A/A':>11}")
    for p in plan.curve:
        print(f"{p.n_total:>11,} {p.n_test:>10,} {p.power:>7.3f} {p.bayesian_power:>9.3f} "
              f"{p.assurance:>9.3f} {p.expected_loss:>10.2e} {p.expected_loss_null:>11.2e}")
    if args.out is not None:
        with staged_output_dir(args.out, force=args.force, command="plan") as tmp:
            write_json(tmp / "plan.json", plan.to_dict())
            save_figure(plot_plan(plan), tmp / "plan.png")
        print(f"wrote {args.out}/plan.json and {args.out}/plan.png")
    return 0
