"""Options shared by the commands that sample (analyze, compare, funnel)."""

from __future__ import annotations

import argparse

from bayes_ab.inference.fit import SAMPLERS, SamplerConfig


#: Help of the sampling options; a command may word one for its own models.
SAMPLER_HELP = {
    "seed": "one seed for the simulator and every sampler (default %(default)s)",
    "draws": "posterior draws per chain",
    "tune": "tuning steps per chain",
    "chains": "number of chains",
    "sampler": "nutpie (default) or PyMC's NUTS",
}


def add_sampler_options(parser: argparse.ArgumentParser, *, title: str | None = "sampling",
                        tune_default: int | None = SamplerConfig.tune,
                        **help_text: str) -> None:
    """``--seed --draws --tune --chains --sampler``: the one definition every sampling
    command (analyze, compare, funnel, the model scripts) uses; defaults are
    `SamplerConfig`'s and the sampler choices `fit.SAMPLERS`. ``title``: an argument group
    of that title (None: the parser itself, keeping the command's help order);
    ``tune_default``: None where the command tunes as many steps as it draws;
    ``help_text``: the command's own wording of an option's help (keys of `SAMPLER_HELP`)."""
    unknown = set(help_text) - set(SAMPLER_HELP)
    if unknown:
        raise TypeError(f"no sampling option {sorted(unknown)}")
    helps = {**SAMPLER_HELP, **help_text}
    group = parser.add_argument_group(title) if title else parser
    group.add_argument("--seed", type=int, default=SamplerConfig.seed, help=helps["seed"])
    group.add_argument("--draws", type=int, default=SamplerConfig.draws, help=helps["draws"])
    group.add_argument("--tune", type=int, default=tune_default, help=helps["tune"])
    group.add_argument("--chains", type=int, default=SamplerConfig.chains, help=helps["chains"])
    group.add_argument("--sampler", choices=SAMPLERS, default=SamplerConfig.sampler,
                       help=helps["sampler"])


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
