"""`bayes-ab analyze DATA_DIR --out OUT` (or `--source URL --tables ...`): the whole
help-widget analysis and its report."""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path

from bayes_ab.cli.commands.common import (
    add_sampler_options,
    add_spark_master_option,
    sampler_config,
    spark_master,
)
from bayes_ab.errors import DiagnosticsFailed, OptionError


def register(sub) -> None:
    p = sub.add_parser(
        "analyze",
        help="analyze a help-widget experiment folder (the four files of the data contract)",
        description="Bayesian and frequentist analysis of the help-widget experiment: writes "
        "OUT/results.json, OUT/report.html, OUT/report.md, OUT/figures/ and OUT/idata/*.nc.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", nargs="?", default=None,
                   help="folder with test_cohorts, product_activity, help_activity and "
                   "conversion (.csv, .csv.gz or .parquet); or give --source")
    p.add_argument("--source", metavar="URL", default=None,
                   help="read the four tables from a database instead of DATA_DIR: "
                   "postgresql://[user@]host[:port]/db (password from PGPASSWORD or "
                   "~/.pgpass, never needed here; needs the postgres extra), "
                   "duckdb:///path/exp.duckdb (opened read-only) or spark (tables of the "
                   "Spark session's catalog, e.g. Hive; implies --engine spark)")
    p.add_argument("--tables", metavar="NAMES", default=None,
                   help="with --source: the tables of test_cohorts, product_activity, "
                   "help_activity and conversion, comma-separated in that order or as "
                   "key=name pairs (cohorts=..., activity=..., help=..., conversion=...); "
                   "schema.table allowed (default: those four names)")
    p.add_argument("--out", required=True, help="output folder (refused if it exists, unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    add_sampler_options(p)
    p.add_argument("--threshold", type=float, default=None,
                   help="threshold of caring for the expected loss, in conversion-rate units "
                   "(default 0.001 = 0.1 percentage point)")
    p.add_argument("--design-share", type=float, default=0.30,
                   help="designed share of customers in Test (default 0.30)")
    p.add_argument("--revenue-per-conversion", type=float, default=None,
                   help="money one conversion brings (a finite amount > 0): turns "
                   "expected losses into money")
    p.add_argument("--cost-per-cs-contact", type=float, default=None, metavar="COST",
                   help="cost of one more CS-engaged customer (a customer with at least one "
                   "CS help request), same currency as --revenue-per-conversion: with it, "
                   "the decision gives the net value per customer of doubling down "
                   "(results.json decision.cs_cost)")
    p.add_argument("--strict", action="store_true",
                   help="exit with code 3 when any model fails the diagnostic gate")
    p.add_argument("--figures", choices=("report", "all", "none"), default="report",
                   dest="figure_set",
                   help="report (default): the figures the report shows (posteriors and each "
                   "model's own plots; trace and rank plots for a model that fails the "
                   "diagnostic gate); all: every ArviZ figure of every model (trace, rank, "
                   "posterior, forest, posterior predictive); none")
    p.add_argument("--no-figures", action="store_true", help="same as --figures none")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes that compile and sample the MCMC models at the same "
                   "time (default 1: in this process); the results do not depend on it")
    p.add_argument("--no-background", dest="background", action="store_false",
                   help="draw figures, write the netCDF files and run the frequentist and "
                   "forensic checks one after another in this process (default on Linux: "
                   "in forked child processes while the next model samples; the results "
                   "are the same)")
    p.add_argument("--prior-sensitivity", choices=("all", "decision", "none"), default="decision",
                   help="refit models under a weaker and a stronger prior: all models, "
                   "only the decision metrics (conversion, CS engagement; default), or none")
    add_engine_options(p)
    p.add_argument("--engine-memory", default="3GB", metavar="SIZE",
                   help="DuckDB engine: memory cap of its buffer pool, e.g. 3GB (default) or "
                   "800MB; above it the engine spills to a temporary database under TMPDIR")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true",
                   help="print results.json on stdout and nothing else there (progress, if "
                   "not --quiet, stays on stderr)")
    p.set_defaults(func=run)


def add_engine_options(p) -> None:
    p.add_argument("--engine", choices=("auto", "pandas", "duckdb", "spark"), default="auto",
                   help="how the files become sufficient statistics: pandas (in memory, "
                   "line-numbered errors), duckdb (flat memory, millions of customers), "
                   "spark (the same aggregation on PySpark, local or a cluster; needs the "
                   "spark extra and Java) or auto (default: duckdb above 200 MB of input or "
                   "a Parquet file over 2M rows)")
    add_spark_master_option(p)


def run(args: argparse.Namespace) -> int:
    from bayes_ab.io import check_output_dir, staged_output_dir, write_json
    from bayes_ab.workflows.analyze import AnalyzeOptions, StepEvent, analyze

    data_dir = _data_source(args)
    inputs = _input_paths(data_dir)
    check_output_dir(args.out, force=args.force, inputs=inputs)
    if args.threshold is not None and not 0 < args.threshold < math.inf:
        raise OptionError(f"--threshold must be a finite number > 0, got {args.threshold}")
    if args.revenue_per_conversion is not None and not 0 < args.revenue_per_conversion < math.inf:
        raise OptionError("--revenue-per-conversion must be a finite amount > 0 (the money one "
                          f"conversion brings), got {args.revenue_per_conversion}")
    if not 0 < args.design_share < 1:
        raise OptionError(f"--design-share must be in (0, 1), got {args.design_share}")
    cost = args.cost_per_cs_contact
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise OptionError(f"--cost-per-cs-contact must be a number >= 0, got {cost}")
    options = AnalyzeOptions(
        sampler=sampler_config(args),
        threshold_of_caring=args.threshold,
        design_test_share=args.design_share,
        revenue_per_conversion=args.revenue_per_conversion,
        cost_per_cs_contact=cost,
        figures=not (args.no_figures or args.figure_set == "none"),
        figure_set="all" if args.figure_set == "all" else "report",
        workers=_workers(args.workers),
        background=args.background,
        prior_sensitivity=args.prior_sensitivity,
        engine=_pipeline_engine(data_dir, getattr(args, "engine", "auto")),
        engine_memory=_memory_size(getattr(args, "engine_memory", "3GB")),
    )
    with staged_output_dir(args.out, force=args.force, inputs=inputs,
                           command="analyze") as tmp, \
            progress_display(quiet=args.quiet) as on_step:
        run_ = analyze(data_dir, out_dir=tmp, options=options, on_step=on_step)
        on_step(StepEvent("report", "writing the report", "start"))
        write_json(tmp / "results.json", run_.results)
        from bayes_ab.report import render_report

        # Figures are embedded from the staged folder, which moves into place at the end.
        render_report(run_.results, figures=run_.figures, out_dir=tmp)
        on_step(StepEvent("report", "writing the report", "done"))
    if getattr(args, "json", False):
        print_json(run_.results)
    else:
        _print_summary(run_.results, Path(args.out), quiet=args.quiet)
    if args.strict and not run_.results["diagnostics"]["passed"]:
        raise DiagnosticsFailed(
            "diagnostics failed the gate (see results.json 'diagnostics'); results were "
            f"written to {args.out} and flagged"
        )
    return 0


def _data_source(args: argparse.Namespace):
    """DATA_DIR as a Path, or the source of --source/--tables (or of --engine spark)."""
    from bayes_ab.aggregate.source import resolve_input

    return resolve_input(args.data_dir, source=getattr(args, "source", None),
                         tables=getattr(args, "tables", None),
                         engine=getattr(args, "engine", "auto"), master=spark_master(args))


def _pipeline_engine(data, engine: str) -> str:
    """The engine `AnalyzeOptions` takes: with Spark the source (`spark_source`) says
    where the aggregation runs."""
    return "auto" if engine == "spark" else engine


def _workers(n: int | None) -> int:
    from bayes_ab.inference.fit_many import default_workers

    if n is None:
        return default_workers()
    if not 1 <= n <= 64:
        raise OptionError(f"--workers must be between 1 and 64, got {n}")
    return int(n)


def _input_paths(source) -> list[Path]:
    """What --out must not overlap: the data folder, or a DuckDB source's database file."""
    if isinstance(source, Path):
        return [source]
    if getattr(source, "folder", None) is not None:  # files read by Spark
        return [Path(source.folder)]
    url = str(getattr(source, "url", ""))
    if url.lower().startswith("duckdb://"):
        path = url.split("://", 1)[1]
        return [Path(path[1:] if path.startswith("//") else path)] if path else []
    return []


def print_json(results: dict) -> None:
    """The results as strict JSON on stdout (the bytes of results.json)."""
    import json

    from bayes_ab.io import finite, json_default

    sys.stdout.write(json.dumps(finite(results), indent=2, default=json_default,
                                allow_nan=False) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_display(*, quiet: bool):
    """A `rich` progress display on stderr, one line per stage and per model (spinner,
    what it is doing, elapsed), fed by `pipeline.analyze(on_step=...)`'s `StepEvent`s.
    Yields the callback; ``quiet`` yields one that does nothing."""
    if quiet:
        yield lambda _event: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file: no terminal width to fit, keep lines whole
        console = Console(stderr=True, width=160)
    progress = Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description:<48}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def on_step(event) -> None:
        if event.status == "start":
            label = f"[bold]{event.label}[/]" if event.kind == "model" else event.label
            status = "[cyan]compile + sample[/]" if event.kind == "model" else ""
            tasks[event.key] = progress.add_task(label, total=1, status=status)
            return
        task = tasks.pop(event.key, None)
        if task is None:
            return
        if event.status == "failed":
            status = f"[red]failed[/]: {event.detail}"
        elif event.kind == "model" and event.exact:
            status = "[green]done[/] (exact posterior, no sampler)"
        elif event.kind == "model":
            status = (f"[green]done[/] (compile {event.compile_seconds or 0:.1f} s, "
                      f"sample {event.sample_seconds or 0:.1f} s)")
            if event.detail:
                status += f" [yellow]{event.detail}[/]"
        else:
            status = "[green]done[/]"
        progress.update(task, completed=1, status=status)

    with progress:
        yield on_step


def _print_summary(results: dict, out: Path, *, quiet: bool) -> None:
    if quiet:
        return
    dec = results.get("decision") or {}
    lines = [f"recommendation: {dec.get('recommendation', 'not available')}"]
    if dec:
        lines += decision_summary_lines(dec)
    diag = results["diagnostics"]
    lines.append("diagnostics: " + ("passed" if diag["passed"] else "FAILED (see report)"))
    lines.append(f"wrote {out}/results.json, report.html, report.md, figures/, idata/")
    print("\n".join(lines), file=sys.stdout)


def decision_summary_lines(dec: dict) -> list[str]:
    """The decision in a few plain lines: expected losses worded as what they are
    (averaged over the posterior, zero where the action is right), the loss if wrong
    beside them, and the CS-cost trade-off."""
    el = dec["expected_loss"]
    lines = [
        f"expected loss (averaged over the posterior, 0 where the action is right): "
        f"double_down {el['double_down']:.5f}, pivot {el['pivot']:.5f} "
        f"(threshold {dec['threshold_of_caring']}); P(Test better) "
        f"{dec['prob_test_better']:.3f}"
    ]
    wrong, p_wrong = dec.get("expected_loss_if_wrong") or {}, dec.get("prob_wrong") or {}
    parts = [f"{key} {wrong[key]:.5f} (P(wrong) {p_wrong[key]:.3f})"
             for key in ("double_down", "pivot")
             if wrong.get(key) is not None and p_wrong.get(key) is not None]
    if parts:
        lines.append("loss if the action is wrong: " + ", ".join(parts))
    cs = dec.get("cs_cost") or {}
    ratio = cs.get("conversions_per_cs_customer")
    if isinstance(ratio, dict):
        lines.append(
            f"conversions gained per additional CS-engaged customer: {ratio['mean']:.4f} "
            f"(95% HDI {ratio['lower']:.4f} to {ratio['upper']:.4f})")
    net = cs.get("net_value_per_customer")
    if isinstance(net, dict):
        lines.append(
            f"net value per customer of doubling down: {net['mean']:.4f} {cs.get('currency')} "
            f"(95% HDI {net['lower']:.4f} to {net['upper']:.4f}; P(> 0) "
            f"{cs['prob_net_value_positive']:.3f})")
    return lines


def _memory_size(text: str) -> str:
    """A DuckDB memory size (``3GB``, ``800MB``, ``1.5GiB``), checked before the run."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", str(text),
                     flags=re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise OptionError(f"--engine-memory must be a size such as 3GB or 800MB, got {text!r}")
    return f"{m.group(1)}{m.group(2).upper().replace('I', 'i')}"
