"""The `bayes-ab` command line.

Each sub-command lives in `bayes_ab.cli.commands.<name>` and exposes
``register(subparsers)`` (adds its parser, sets ``func``) and a ``run(args) -> int``.
A user's mistake (`BayesAbError`) prints one clear message and exits with its code
(2 for bad input or options, 3 for failed diagnostics under --strict, 4 when the machine
runs out of a resource), never a traceback. Ctrl-C exits 130, SIGTERM 143 and SIGHUP 129,
after the same clean-up: no staged output folder, nothing left in the temp folder (every
run gets a private temp folder, `bayes_ab.io.private_tempdir`).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bayes_ab import __version__
from bayes_ab.errors import BayesAbError

COMMANDS = (
    "validate", "simulate", "analyze", "compare", "funnel", "plan", "forensics", "monitor",
    "serve",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` that one (its module alone is imported:
    `bayes-ab compare ...` does not import the other commands)."""
    parser = argparse.ArgumentParser(
        prog="bayes-ab",
        description="Calibrated Bayesian evidence for product experiments.",
    )
    parser.add_argument("--version", action="version", version=f"bayes-ab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        try:
            module = importlib.import_module(f"bayes_ab.cli.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet in this checkout
            if exc.name == f"bayes_ab.cli.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _on_signal(signum, _frame) -> None:
    """SIGINT, SIGTERM, SIGHUP: raised as exceptions in the main thread, so that every
    ``with`` block cleans up; deferred while an output folder is being moved into place."""
    from bayes_ab import io

    if io.in_critical_section():
        io.defer_signal(signum)
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise io.Terminated(signum)


@contextmanager
def _signal_handlers() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None:
            continue
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN:  # e.g. nohup: keep ignoring
            continue
        previous[sig] = current
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def use_file_backend() -> None:
    """The commands write figures to files and never show them: draw with matplotlib's Agg
    backend unless one is configured (the MPLBACKEND variable, or one chosen already in
    this process). Set through MPLBACKEND when matplotlib is not imported yet, so that
    importing it stays lazy and worker processes inherit it."""
    import os

    if os.environ.get("MPLBACKEND"):
        return
    if "matplotlib" not in sys.modules:
        os.environ["MPLBACKEND"] = "Agg"
        return
    import matplotlib

    try:
        chosen = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10: no way to ask without choosing
        chosen = None
    if chosen is None:
        matplotlib.use("Agg")


def _server_listening() -> bool:
    """Whether a `bayes-ab serve` of this user may be listening: Linux lists abstract
    sockets in /proc/net/unix, so a command without a server costs a read of that file
    (a fraction of a millisecond), not the server module's imports and its fingerprint
    (about 35 ms). True when the list cannot be read (the full look-up decides)."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("BAYES_AB_NO_SERVER"):
        return False
    try:
        with open("/proc/net/unix", "rb") as fh:
            return f"@bayes_ab-{os.getuid()}-".encode() in fh.read()
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    """The command line: ``argv`` (default: this process's arguments). Called without
    ``argv`` (the `bayes-ab` script), the command runs in this user's `bayes-ab serve`
    process when one serves this environment (`bayes_ab.cli.server`)."""
    if argv is None and len(sys.argv) > 1 and _server_listening():
        from bayes_ab.cli import server

        served = server.client_run(sys.argv[1:])
        if served is not None:
            return served
    from bayes_ab.inference.known_warnings import silence_known_warnings

    use_file_backend()  # the library never picks a backend; the command line does, once
    silence_known_warnings()  # before any command imports ArviZ
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "serve":  # outside the private temp folder and signal set-up
        from bayes_ab.cli import server

        return server.serve_main(argv[1:])
    parser = build_parser(only=argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from bayes_ab.io import Terminated, private_tempdir

    try:
        with _signal_handlers(), private_tempdir():
            return _run(args)
    except KeyboardInterrupt:  # a second Ctrl-C during the clean-up
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"terminated (signal {exc.signum})", file=sys.stderr)
        return 128 + exc.signum


def _run(args: argparse.Namespace) -> int:
    from bayes_ab.io import Terminated

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
    except Terminated as exc:
        print(f"terminated (signal {exc.signum})", file=sys.stderr)
        return 128 + exc.signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
