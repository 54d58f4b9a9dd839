"""`bayes-ab simulate`: write a simulated help-widget experiment and its truth.json."""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from bayes_ab.data.columns import TRUE_WORDS
from bayes_ab.errors import OptionError

FORMATS = ("csv", "csv.gz", "parquet")
#: Above this many trialers the simulation is not held in memory (about 0.9 GB per
#: million): Parquet is written chunk by chunk (`write_simulation_chunked`, a different,
#: equally valid seeded sample), CSV is refused.
IN_MEMORY_MAX = 2_000_000


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated help-widget experiment (four files + truth.json)",
        description=(
            "Simulate trialers of the help-widget experiment with a documented generative "
            "story (docs/SIMULATOR.md) and write test_cohorts, product_activity, "
            "help_activity, conversion and truth.json (population values of every "
            "estimand). Same --n, --seed, --scenario and --set give identical files."),
    )
    parser.add_argument("--n", type=int, required=True, help="number of trialers")
    parser.add_argument("--seed", type=int, required=True, help="random seed (>= 0)")
    parser.add_argument("--scenario", default="effect",
                        help="effect (default), null, big_effect or non_monotone")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="csv",
                        help="file format (default csv)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="override a generative parameter (repeatable); tuples as "
                             "comma-separated numbers, e.g. --set stuck_logit=-1,-1,-1")
    parser.add_argument("--no-truth", action="store_true",
                        help="skip the population values (faster; estimands are null)")
    parser.add_argument("--workers", type=int, default=1,
                        help="Parquet above %d trialers: chunks simulated in this many "
                             "processes (default 1; the files do not depend on it)"
                             % IN_MEMORY_MAX)
    parser.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn NAME=VALUE strings into typed SimParams overrides (typed by the defaults)."""
    from bayes_ab.simulate import SimParams

    defaults = SimParams()
    names = {f.name for f in dataclasses.fields(SimParams)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OptionError(f"--set expects NAME=VALUE, got {item!r}")
        if name not in names:
            raise OptionError(f"--set: unknown simulator parameter {name!r}")
        default = getattr(defaults, name)
        try:
            if isinstance(default, tuple):
                out[name] = tuple(float(v) for v in text.split(",") if v.strip())
            elif isinstance(default, bool):
                out[name] = text.strip().lower() in TRUE_WORDS
            elif isinstance(default, int):
                out[name] = int(text)
            elif isinstance(default, float):
                out[name] = float(text)
            else:
                out[name] = text
        except ValueError:
            raise OptionError(
                f"--set {name}: cannot read {text!r} as {type(default).__name__}") from None
    return out


def run(args: argparse.Namespace) -> int:
    from bayes_ab.io import check_output_dir, staged_output_dir
    from bayes_ab.simulate import simulate, write_simulation

    overrides = parse_overrides(args.overrides)
    if args.workers < 1:
        raise OptionError(f"--workers must be >= 1, got {args.workers}")
    check_output_dir(args.out, force=args.force)
    if args.n > IN_MEMORY_MAX:
        if args.fmt != "parquet":
            raise OptionError(
                f"--n {args.n} is over {IN_MEMORY_MAX:,} trialers: use --format parquet, "
                "which is written in chunks with bounded memory")
        return _run_chunked(args, overrides)
    started = time.perf_counter()
    sim = simulate(n=args.n, seed=args.seed, scenario=args.scenario,
                   truth=not args.no_truth, **overrides)
    with staged_output_dir(args.out, force=args.force, command="simulate") as tmp:
        paths = write_simulation(sim, tmp, fmt=args.fmt)
    elapsed = time.perf_counter() - started
    n_test = int((sim.test_cohorts["cohort"] == "Test").sum())
    print(f"simulated {args.n} trialers (scenario {args.scenario}, seed {args.seed}): "
          f"{n_test} Test / {args.n - n_test} Control, {len(sim.product_activity)} activity "
          f"rows, {len(sim.help_activity)} help flags, {int(sim.conversion['converted'].sum())} "
          f"conversions in {elapsed:.1f} s")
    print(f"wrote {', '.join(p.name for p in paths)} to {args.out}")
    return 0


def _run_chunked(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from bayes_ab.io import staged_output_dir
    from bayes_ab.simulate import write_simulation_chunked

    started = time.perf_counter()
    with staged_output_dir(args.out, force=args.force, command="simulate") as tmp:
        # Chunks of 1M (IN_MEMORY_MAX / 2): `--seed 1` gives the Parquet files of
        # benchmarks/run.py.
        paths = write_simulation_chunked(args.n, args.seed, tmp, chunk=IN_MEMORY_MAX // 2,
                                         scenario=args.scenario,
                                         truth=not args.no_truth, workers=args.workers,
                                         **overrides)
    elapsed = time.perf_counter() - started
    print(f"simulated {args.n} trialers (scenario {args.scenario}, seed {args.seed}) in "
          f"chunks straight to Parquet in {elapsed:.1f} s (a different, equally valid "
          "sample than the in-memory simulator's; see docs/SCALE.md)")
    print(f"wrote {', '.join(p.name for p in paths)} to {args.out}")
    return 0
