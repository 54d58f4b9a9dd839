"""Issue 18, "circles and private reach-ins" and "one thing, many names": no module imports
another module's private name, and each vocabulary has one definition."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.data.columns import (
    BOOL_LABELS,
    FALSE_WORDS,
    TRUE_WORDS,
    find_column,
    normalise_column,
    numbers_from_text,
    wide_task_column,
)
from bayes_ab.errors import DataError

PKG = Path(__file__).resolve().parents[1] / "src" / "bayes_ab"
# Reach-ins into report/ and plotting belong to the report and plotting redesign.
OUT_OF_SCOPE = ("bayes_ab.report", "bayes_ab.plotting")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _private_uses() -> list[str]:
    modules = _modules()
    bad = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    base = module.split(".") if path.name == "__init__.py" else \
                        module.split(".")[:-1]
                    target = ".".join(base[: len(base) - node.level + 1] + [target])
                if not target.startswith("bayes_ab"):
                    continue
                for a in node.names:
                    if f"{target}.{a.name}" in modules:
                        aliases[a.asname or a.name] = f"{target}.{a.name}"
                    elif (a.name.startswith("_") and not a.name.startswith("__")
                          and target != module):
                        bad.append(f"{module} imports {target}.{a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("bayes_ab"):
                        aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                src = ast.unparse(node.value)
                if src in aliases and aliases[src] != module:
                    bad.append(f"{module} uses {aliases[src]}.{node.attr}")
    return [b for b in bad if not any(s in b.split(" ", 2)[2] for s in OUT_OF_SCOPE)]


def test_no_module_uses_another_modules_private_name():
    assert _private_uses() == []


def test_ratio_does_not_import_compare():
    # the column reader and the outcome parser live in bayes_ab.data.columns; monitor still
    # uses compare's public choose_control (how compare picks the control arm)
    assert "bayes_ab.workflows.compare" not in (PKG / "stats" / "ratio.py").read_text(encoding="utf-8")
    monitor = (PKG / "workflows" / "monitor.py").read_text(encoding="utf-8")
    assert re.findall(r"from bayes_ab\.workflows\.compare import (\w+)", monitor) == ["choose_control"]


def test_true_false_words_written_once():
    pattern = re.compile(r'"t",\s*"yes",\s*"y"|"true",\s*"yes"')
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
            if pattern.search(p.read_text(encoding="utf-8"))]
    assert hits == ["data/columns.py"]


def test_wide_column_pattern_written_once():
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
            if "task_?" in p.read_text(encoding="utf-8")]
    assert hits == ["data/columns.py"]


def test_column_name_rule_written_once():
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
            if r"[\s\-]+" in p.read_text(encoding="utf-8")]
    assert hits == ["data/columns.py"]


def test_vocabulary_values():
    assert TRUE_WORDS == ("1", "1.0", "true", "t", "yes", "y")
    assert FALSE_WORDS == ("0", "0.0", "false", "f", "no", "n")
    assert BOOL_LABELS["y"] is True and BOOL_LABELS["0.0"] is False and len(BOOL_LABELS) == 12
    got = numbers_from_text(pd.Series(["Yes", "n", "2.5", "1.0", "T", "x", ""]))
    np.testing.assert_array_equal(got, [1, 0, 2.5, 1, 1, np.nan, np.nan])
    assert normalise_column("\ufeff Converted - Flag ") == "converted_flag"
    assert wide_task_column("task_2_completed_at") == ("2", "complete")
    assert wide_task_column("task1_started") == ("1", "start")
    assert wide_task_column("task1_start_extra") is None


def test_find_column_message():
    table = type("T", (), {"name": "x.csv",
                           "data": pd.DataFrame({"arm": [1], "_line": [2]})})()
    assert find_column(table, " ARM", option="--group-col") == "arm"
    with pytest.raises(DataError, match=r"no column 'kpi' \(--outcome-col\); the file has: arm"):
        find_column(table, "kpi", option="--outcome-col")


def test_sampler_options_defined_once():
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
            if '"--sampler"' in p.read_text(encoding="utf-8")]
    assert hits == ["cli/commands/common.py"]


@pytest.mark.parametrize("argv, tune", [
    (["analyze", "data", "--out", "o"], 1000),
    (["compare", "e.csv", "--group-col", "g", "--outcome-col", "y", "--out", "o"], 1000),
    (["funnel", "leads.csv", "events.csv", "--out", "o"], None),
])
def test_every_command_parses_the_same_sampler_options(argv, tune):
    from bayes_ab.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    assert (args.seed, args.draws, args.tune, args.chains, args.sampler) == (
        20260505, 1000, tune, 4, "nutpie")
    args = parser.parse_args(argv + ["--sampler", "pymc", "--draws", "7", "--tune", "3",
                                     "--chains", "2", "--seed", "5"])
    assert (args.seed, args.draws, args.tune, args.chains, args.sampler) == (5, 7, 3, 2, "pymc")
    with pytest.raises(SystemExit):
        parser.parse_args(argv + ["--sampler", "stan"])


def test_both_data_sources_follow_one_protocol(tmp_path):
    """The pandas loader's ExperimentData and the engine's AggregatedExperiment answer the
    pipeline's questions with the same numbers (no hasattr switch in the pipeline)."""
    from bayes_ab.aggregate import aggregate_experiment
    from bayes_ab.data.load import load_experiment
    from bayes_ab.data.schema import ExperimentSource
    from bayes_ab.models.arm_comparison import ArmComparisonStats
    from bayes_ab.simulate import simulate, write_simulation

    assert "_is_agg" not in (PKG / "workflows" / "analyze.py").read_text(encoding="utf-8")
    folder = tmp_path / "sim"
    folder.mkdir()
    write_simulation(simulate(n=400, seed=3, truth=False), folder)
    frame_data, agg = load_experiment(folder), aggregate_experiment(folder)
    assert frame_data.rows_in_memory and not agg.rows_in_memory
    for data in (frame_data, agg):
        assert isinstance(data, ExperimentSource)
    for column in ("converted", "any_cs"):
        for flagged in (False, True):
            assert (frame_data.arm_counts(column, among_flagged=flagged)
                    == agg.arm_counts(column, among_flagged=flagged))
    pd.testing.assert_frame_equal(frame_data.converted_by_completions().astype("int64"),
                                  agg.converted_by_completions(), check_names=False)
    assert (frame_data.n_help_flags, frame_data.n_task_attempts, frame_data.n_customers) == (
        agg.n_help_flags, agg.n_task_attempts, agg.n_customers)
    assert int(frame_data.customers["n"].sum()) == agg.n_customers
    assert frame_data.stats_for(ArmComparisonStats) == agg.stats_for(ArmComparisonStats)


def test_interval_and_probability_names_say_what_they_take():
    from bayes_ab.inference import intervals
    from bayes_ab.funnel import intervals as funnel_intervals
    from bayes_ab.models import beta_binomial as bb

    draws = np.array([-1.0, 1.0, 2.0, 3.0])
    assert intervals.prob_draws_greater(draws) == 0.75
    assert intervals.draws_interval(draws)["mean"] == 1.25
    assert funnel_intervals.interval_from_bounds(0.5, 0.25, 0.75) == {
        "mean": 0.5, "lower": 0.25, "upper": 0.75, "prob": 0.95}
    # P(Beta(2, 1) > Beta(1, 1)) = 2/3
    assert bb.prob_beta_greater(bb.BetaPosterior(2, 1), bb.BetaPosterior(1, 1)) == \
        pytest.approx(2 / 3, abs=1e-14)
    assert not hasattr(bb, "prob_greater") and not hasattr(funnel_intervals, "interval")
