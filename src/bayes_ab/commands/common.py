"""Options shared by the commands that sample (analyze, compare, funnel)."""

from __future__ import annotations

import argparse

from bayes_ab.fit import SAMPLERS, SamplerConfig


def add_sampler_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling")
    group.add_argument("--seed", type=int, default=SamplerConfig.seed,
                       help="one seed for the simulator and every sampler (default %(default)s)")
    group.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
    group.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    group.add_argument("--chains", type=int, default=4, help="number of chains")
    group.add_argument("--sampler", choices=SAMPLERS, default="nutpie",
                       help="nutpie (default) or PyMC's NUTS")


def sampler_config(args: argparse.Namespace) -> SamplerConfig:
    return SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.tune,
                         chains=args.chains, seed=args.seed)
