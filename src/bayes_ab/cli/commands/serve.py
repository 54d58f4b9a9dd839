"""`bayes-ab serve`: a warm process that runs this user's later commands
(`bayes_ab.cli.server`). `bayes_ab.cli.main.main` hands ``serve`` to
`bayes_ab.cli.server.serve_main` before its temp folder and signal set-up; this module
lists the command in ``bayes-ab --help``."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "serve", add_help=False,
        help="keep a warm process that runs later commands without their start-up cost",
        description="Keep one warm process that runs this user's later bayes-ab commands "
        "(see `bayes-ab serve --help`).",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def run(args) -> int:
    from bayes_ab.cli.server import serve_main

    return serve_main(list(args.rest))
