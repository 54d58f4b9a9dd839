"""`bayes-ab validate DIR`: load the experiment's four files and say what was found.

Prints the rows read per file, the customers per arm, what was dropped and why,
and the data-quality findings. Exit 0 when the data loads (findings included),
2 on a fatal problem (the CLI prints the `DataError`, never a traceback).
``--json`` prints the same as one JSON object instead.
"""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check a help-widget experiment folder against the data contract",
        description="Load the four files (test_cohorts, product_activity, help_activity, "
        "conversion; .csv, .csv.gz or .parquet), print what was loaded, what was dropped and "
        "why, and the data-quality findings. Exit 2 on a fatal problem.",
    )
    p.add_argument("data_dir", metavar="DIR", help="folder with the four files")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--design-share", type=float, default=None,
                   help="designed share of customers in Test for the sample-ratio check "
                   "(default 0.30)")
    p.set_defaults(func=run)


def summary(data, rows_read: dict[str, int]) -> dict:
    """The JSON-ready summary of a loaded experiment (what `--json` prints)."""
    frame = data.frame
    arms = {}
    for arm in ("Control", "Test"):
        sub = frame.loc[frame["cohort"] == arm]
        arms[arm] = {
            "customers": len(sub),
            "attempted": int(sub["attempted"].sum()),
            "completed_all": int(sub["completed_all"].sum()),
            "flagged": int((sub["n_help_flags"] > 0).sum()),
            "any_cs": int(sub["any_cs"].sum()),
            "converted": int(sub["converted"].sum()),
        }
    findings = [f.to_dict() for f in data.findings]
    empty = [arm for arm in ("Test", "Control") if not arms[arm]["customers"]]
    if empty:  # what `analyze` refuses (exit 2): say it here too
        findings.append({
            "check": "empty_arm", "severity": "error", "count": len(empty),
            "message": f"no customer in {' and '.join(empty)}: an A/B analysis needs at "
                       "least one customer in each arm, so `bayes-ab analyze` cannot compare "
                       "the arms"})
    end = data.observation_end
    return {
        "source": data.source,
        "rows_read": dict(rows_read),
        "customers": data.n_customers,
        "arms": arms,
        "help_episodes": len(data.help_episodes),
        "task_attempts": len(data.task_attempts),
        "observation_end": None if end is None or end != end else end.isoformat(),
        "dropped": {k: int(v) for k, v in data.dropped.items()},
        "findings": findings,
        "ok": not any(f["severity"] == "error" for f in findings),
    }


def run(args: argparse.Namespace) -> int:
    from bayes_ab.constants import DESIGN_TEST_SHARE
    from bayes_ab.data.load import load_experiment_with_counts
    from bayes_ab.errors import OptionError

    share = DESIGN_TEST_SHARE if args.design_share is None else args.design_share
    if not 0 < share < 1:
        raise OptionError(f"--design-share must be in (0, 1), got {share}")
    data, rows_read = load_experiment_with_counts(args.data_dir, design_test_share=share)
    info = summary(data, rows_read)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_tables(info)
    return 0


def _print_tables(info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"[bold]{info['source']}[/bold]: {info['customers']} randomized customers, "
                  f"{info['help_episodes']} help flags, {info['task_attempts']} task attempts; "
                  f"observed until {info['observation_end']}")

    files = Table(title="Rows read")
    files.add_column("file")
    files.add_column("rows", justify="right")
    for name, n in info["rows_read"].items():
        files.add_row(name, str(n))
    console.print(files)

    arms = Table(title="Customers per arm")
    for col in ("arm", "customers", "attempted", "completed all", "flagged", "any CS",
                "converted"):
        arms.add_column(col, justify="left" if col == "arm" else "right")
    for arm, c in info["arms"].items():
        arms.add_row(arm, *(str(c[k]) for k in ("customers", "attempted", "completed_all",
                                                  "flagged", "any_cs", "converted")))
    console.print(arms)

    if info["dropped"]:
        dropped = Table(title="Dropped rows")
        dropped.add_column("reason")
        dropped.add_column("rows", justify="right")
        for reason, n in info["dropped"].items():
            dropped.add_row(reason, str(n))
        console.print(dropped)
    else:
        console.print("Dropped rows: none")

    findings = Table(title="Data-quality findings")
    for col in ("severity", "check", "count", "message"):
        findings.add_column(col, justify="right" if col == "count" else "left",
                            overflow="fold")
    for f in info["findings"]:
        findings.add_row(f["severity"], f["check"], str(f["count"]), f["message"])
    console.print(findings)
