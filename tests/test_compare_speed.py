"""Issue 16.2: `compare` spends its time on the computation, not around it. What is cut
stays exact: the parsed groups and outcomes, the Holm p-values and the CLI's answers are
the same numbers as the plain code paths (statsmodels / the per-row parse)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.workflows.compare import _groups_from_table, _holm_across, prepare_units
from bayes_ab.data.load import read_table
from bayes_ab.errors import DataError


def _export(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("arm,y\n" + "".join(f"{a},{y}\n" for a, y in rows))
    return path


def test_cli_imports_only_the_command_it_runs(tmp_path):
    """`bayes-ab compare --no-figures` imports no other command module (only the shared options), no plotting and
    no sampler; `bayes-ab --help` still lists every command."""
    path = _export(tmp_path / "e.csv", [("control", "0"), ("B", "1")] * 40)
    code = ("import sys; from bayes_ab.cli.main import main; "
            f"rc = main(['compare', {str(path)!r}, '--group-col', 'arm', '--outcome-col', 'y', "
            f"'--out', {str(tmp_path / 'o')!r}, '--no-figures', '--quiet']); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('bayes_ab.cli.commands.')), "
            "sorted(m for m in ('matplotlib', 'pymc', 'arviz', 'pytensor', 'nutpie', "
            "'duckdb', 'ibis', 'lifelines', 'xarray') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    # commands.common holds the option definitions every command shares
    assert proc.stdout.strip().splitlines()[-1] == (
        "0 ['bayes_ab.cli.commands.common', 'bayes_ab.cli.commands.compare'] []")
    from bayes_ab.cli.main import COMMANDS, build_parser

    helptext = build_parser().format_help()
    assert all(c in helptext for c in COMMANDS)
    assert "compare" in build_parser(only="compare").format_help()


def test_holm_skips_statsmodels_full_collection_and_matches_it(monkeypatch):
    """statsmodels' Holm ends with gc.collect(); the objects alive before the call are
    frozen then (not walked), and unfrozen after; the p-values are statsmodels'."""
    from statsmodels.stats.multitest import multipletests

    seen = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: seen.append(gc.get_freeze_count()) or
                        real(*a))
    blocks = [("m", a, {"p_value": p}) for a, p in zip("abcd", (0.01, 0.04, 0.03, 0.5),
                                                        strict=True)]
    _holm_across(blocks)
    assert seen and seen[0] > 0 and gc.get_freeze_count() == 0
    ref = multipletests([0.01, 0.04, 0.03, 0.5], method="holm")[1]
    assert [b[2]["p_value_holm"] for b in blocks] == pytest.approx(ref, rel=1e-15)
    assert all(b[2]["family_size"] == 4 for b in blocks)


def _as_object(table):
    """The same table with every column as plain text (what the pandas reader gives)."""
    from dataclasses import replace

    df = table.data.copy()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(str).astype(object)
    return replace(table, data=df)


@pytest.mark.parametrize("values", [
    ["0", "1", " 1", "TRUE", "no", "y"],   # binary, mixed spellings, a stray space
    ["0", "1", "2", "3.5", "yes"],         # mean
])
def test_categorical_fast_path_equals_the_per_row_parse(tmp_path, values):
    rng = np.random.default_rng(3)
    rows = [(rng.choice([" control", "B ", "C"]), rng.choice(values)) for _ in range(3000)]
    table = read_table(_export(tmp_path / "e.csv", rows))
    assert isinstance(table.data["arm"].dtype, pd.CategoricalDtype)  # the Arrow reader
    fast = _groups_from_table(table, Path("e.csv"), group_col="arm", outcome_col="y",
                              metric_type="auto")
    slow = _groups_from_table(_as_object(table), Path("e.csv"), group_col="arm",
                              outcome_col="y", metric_type="auto")
    assert fast == slow and fast.groups == slow.groups and fast.outcomes == slow.outcomes
    assert set(fast.groups) == {"control", "B", "C"}


def test_categorical_fast_path_sees_only_the_rows_left(tmp_path):
    """After --unit-col drops rows, a category no row holds any more ('2', on a dropped
    duplicate) must not turn a binary outcome into a mean one."""
    path = tmp_path / "u.csv"
    path.write_text("uid,arm,y\n" + "".join(f"{i},{'control' if i % 2 else 'B'},{i % 3 % 2}\n"
                                            for i in range(200)) + "5,control,2\n")
    table, _, _ = prepare_units(read_table(path), group_col="arm", unit_col="uid")
    data = _groups_from_table(table, path, group_col="arm", outcome_col="y",
                              metric_type="auto")
    assert data.kind == "binary" and data.n_rows == 200


def test_bad_values_give_the_same_error_either_way(tmp_path):
    rows = [("control", "0"), ("B", "1")] * 10 + [("B", "maybe")]
    table = read_table(_export(tmp_path / "e.csv", rows))
    msgs = []
    for t in (table, _as_object(table)):
        with pytest.raises(DataError) as exc:
            _groups_from_table(t, Path("e.csv"), group_col="arm", outcome_col="y",
                               metric_type="binary")
        msgs.append(str(exc.value))
    assert msgs[0] == msgs[1] and "'maybe'" in msgs[0] and "22" in msgs[0]
