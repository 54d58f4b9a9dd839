"""Options shared by the commands that sample (analyze, compare, funnel)."""

from __future__ import annotations

import argparse

from bayes_ab.inference.fit import SAMPLERS, SamplerConfig


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


def add_spark_master_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spark-master", metavar="URL", default=None,
                        help="with --engine spark: the Spark master (local[4], "
                        "spark://host:7077, yarn, k8s://..., or sc://host:15002 for Spark "
                        "Connect; default: SPARK_REMOTE, else spark.master of "
                        "spark-defaults.conf, else local[*])")


def spark_master(args: argparse.Namespace) -> str | None:
    """``--spark-master``, refused without ``--engine spark`` / ``--source spark``."""
    from bayes_ab.errors import OptionError

    master = getattr(args, "spark_master", None)
    if master is None:
        return None
    spark = (getattr(args, "engine", None) == "spark"
             or str(getattr(args, "source", None) or "").strip().lower() == "spark")
    if not spark:
        raise OptionError("--spark-master goes with --engine spark (or --source spark)")
    if not str(master).strip():
        raise OptionError("--spark-master is empty")
    return str(master).strip()
