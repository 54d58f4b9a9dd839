"""The `bayes-ab` command line.

Each sub-command lives in `bayes_ab.commands.<name>` and exposes
``register(subparsers)`` (adds its parser, sets ``func``) and a ``run(args) -> int``.
A user's mistake (`BayesAbError`) prints one clear message and exits with its code
(2 for bad input, 3 for failed diagnostics under --strict), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bayes_ab import __version__
from bayes_ab.errors import BayesAbError

COMMANDS = (
    "validate", "simulate", "analyze", "compare", "funnel", "plan", "forensics", "monitor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayes-ab",
        description="Calibrated Bayesian evidence for product experiments.",
    )
    parser.add_argument("--version", action="version", version=f"bayes-ab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bayes_ab.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet in this checkout
            if exc.name == f"bayes_ab.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from bayes_ab.known_warnings import silence_known_warnings

    silence_known_warnings()  # before any command imports ArviZ
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BayesAbError as exc:
        print(f"bayes-ab {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
