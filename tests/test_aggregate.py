"""The Ibis/DuckDB aggregation gives the same sufficient statistics as the pandas path.

Every statistic equals ``<Model>.stats_type.from_experiment(load_experiment(path))``:
integers exactly, exposures and Kaplan-Meier values to 1e-6; dropped-row counts and
finding counts equal the pandas loader's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab.aggregate import aggregate_experiment, load_sufficient_stats, stats_by_step
from bayes_ab.data.load import load_experiment
from bayes_ab.errors import DataError
from bayes_ab.workflows.analyze import MODEL_STEPS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"


def pandas_stats(data) -> dict:
    """The pipeline's own statistics: ``cls.stats_type.from_experiment(data, **kwargs)``."""
    out = {}
    for step in MODEL_STEPS:
        cls = getattr(importlib.import_module(step.module), step.cls)
        try:
            out[step.key] = cls.stats_type.from_experiment(data, **step.stats_kwargs)
        except (DataError, ValueError) as exc:
            out[step.key] = exc
    return out


def _assert_same(a, b, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
        return
    if isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
        return
    if isinstance(a, float) or isinstance(b, float):
        if np.isnan(a):
            assert np.isnan(b), path
        else:
            assert b == pytest.approx(a, rel=1e-9, abs=1e-6), path
        return
    assert a == b, f"{path}: {a!r} != {b!r}"
    assert type(a) is type(b) or {type(a), type(b)} <= {int, np.int64}, path


def assert_equal_paths(folder: Path, agg=None) -> None:
    data = load_experiment(folder)
    expected = pandas_stats(data)
    agg = agg or aggregate_experiment(folder)
    by_step = stats_by_step(agg)
    for key, want in expected.items():
        if isinstance(want, Exception):
            assert key not in by_step, key
            continue
        got = by_step[key]
        assert type(got) is type(want), key
        _assert_same(want.to_dict(), got.to_dict(), key)
    assert agg.dropped == data.dropped
    assert sorted((f.check, f.severity, f.count) for f in agg.findings) == sorted(
        (f.check, f.severity, f.count) for f in data.findings)
    assert agg.n_customers == data.n_customers
    assert agg.n_in("Test") == data.n_in("Test")
    assert agg.n_help_flags == len(data.help_episodes)
    assert agg.n_task_attempts == len(data.task_attempts)
    assert agg.observation_end == data.observation_end
    # What the pipeline reads from the frame besides the models' statistics.
    frame = data.frame
    by_k = frame.groupby("n_completed")["converted"].agg(["sum", "count"]).reindex(
        range(4), fill_value=0)
    assert (agg.converted_by_completions().to_numpy() == by_k.to_numpy()).all()
    flagged = frame[frame["n_help_flags"] > 0]
    for arm, counts in agg.arm_counts("any_cs", among_flagged=True).items():
        sel = flagged[flagged["cohort"] == arm]
        assert counts == (int(sel["any_cs"].sum()), len(sel))
    for arm, counts in agg.arm_counts("converted").items():
        sel = frame[frame["cohort"] == arm]
        assert counts == (int(sel["converted"].sum()), len(sel))
    # Ratio metrics: the engine's per-arm sums equal the sums over the frame's columns.
    from bayes_ab.stats.frequentist import RatioStatistic
    from bayes_ab.workflows.analyze import _ratio_columns, _segment_columns

    cols = _ratio_columns(data)
    arm = frame["cohort"].astype(str).to_numpy()
    for (num, den), per_arm in agg.ratio_stats.items():
        for a, got in per_arm.items():
            want = RatioStatistic.from_arrays(cols[num][arm == a], cols[den][arm == a])
            _assert_same(vars(want), vars(got), f"ratio {num}/{den} {a}")
    # Segments: the same usable columns and the same conversion counts per cell.
    seg = _segment_columns(frame)
    assert set(agg.segments) == set(seg)
    for col, labels in seg.items():
        want = (pd.DataFrame({"label": labels, "cohort": arm, "y": frame["converted"]})
                .groupby(["label", "cohort"])["y"].agg(["sum", "count"]))
        got = agg.segments[col].set_index(["label", "cohort"])
        assert want["sum"].to_dict() == got["successes"].to_dict(), col
        assert want["count"].to_dict() == got["trials"].to_dict(), col
    if len(data.help_episodes):
        surv = agg.survival_frame().sort_values(["channel", "task", "duration", "event"])
        eps = data.help_episodes
        ref = pd.DataFrame({"channel": eps["channel"].astype(str), "task": eps["task"],
                            "duration": eps["minutes"].clip(lower=1e-6),
                            "event": (~eps["censored"]).astype(int)}).sort_values(
            ["channel", "task", "duration", "event"])
        assert len(surv) == len(ref)
        assert (surv["channel"].to_numpy() == ref["channel"].to_numpy()).all()
        assert (surv["event"].to_numpy() == ref["event"].to_numpy()).all()
        np.testing.assert_allclose(surv["duration"].to_numpy(), ref["duration"].to_numpy(),
                                   rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def example_agg():
    return aggregate_experiment(EXAMPLE)


def test_shipped_example_matches_pandas_path(example_agg):
    assert_equal_paths(EXAMPLE, example_agg)
    # Pinned values of the shipped example (seed 20260505): 20,000 customers.
    conv = example_agg.stats["conversion"]
    assert conv.trials == (13908, 6092) and conv.successes == (1631, 779)
    assert example_agg.n_help_flags == 11551


def test_load_sufficient_stats_returns_every_model(example_agg):
    stats = load_sufficient_stats(EXAMPLE)
    assert set(stats) == {step.key for step in MODEL_STEPS}
    assert stats["conversion"] == example_agg.stats["conversion"]


# ----------------------------------------------------------------------------- tiny folders


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _messy() -> dict[str, str]:
    cohorts = ["customer_id,cohort,plan"]
    cohorts += [f"c{i},{'Test' if i % 3 == 0 else ' control '},{'pro' if i % 2 else 'free'}"
                for i in range(12)]
    cohorts.append("c1, control ,pro")  # exact duplicate after trimming labels: dropped
    activity = ["Customer ID,TASK,Action,timestamp"]
    conv = ["customer_id,converted"]
    helps = ["customer_id,timestamp,task,channel,cs_type"]
    for i in range(12):
        h = 8 + i
        activity += [f"c{i},1,start,2026-05-05T{h:02d}:00:00Z",
                     f"c{i},1,complete,2026-05-05T{h:02d}:10:30Z"]
        if i % 2 == 0:
            activity += [f"c{i},2,START,2026-05-05T{h:02d}:20:00+02:00",  # offset: 2 h earlier
                         f"c{i},2,completed,2026-05-05T{h:02d}:40:00"]
        if i % 4 == 0:
            activity.append(f"c{i},3,start,2026-05-05T{h + 1:02d}:00:00Z")
        conv.append(f"c{i},{'yes' if i % 3 else 'N'}")
        channel = "cs" if i % 2 else "OTHER"
        helps.append(f"c{i},2026-05-05T{h:02d}:05:00Z,1,{channel},{'Video' if i % 2 else ''}")
        if i % 3 == 0:
            helps.append(f"c{i},2026-05-05T{h + 1:02d}:30:00Z,3,CS,agent")
    activity += [
        "c0,1,start,2026-05-05T08:00:00Z",  # exact duplicate: dropped
        "c5,3,complete,2026-05-05T20:00:00Z",  # complete without a start
        "c4,3,complete,2026-05-05T07:00:00Z",  # complete before the first start
        "ghost,1,start,2026-05-05T09:00:00Z",  # unknown customer
    ]
    helps += ["c2,2026-05-05T10:05:00Z,1,OTHER,",  # exact duplicate of c2's flag
              "ghost,2026-05-05T10:05:00Z,1,CS,",
              "c7,2026-05-05T16:00:00Z,2,CS,chatbot"]  # a flag on a task never started
    conv = [c for c in conv if not c.startswith("c11,")]  # missing conversion row
    conv.append("ghost,1")
    return {"test_cohorts.csv": "\n".join(cohorts) + "\n",
            "product_activity.csv": "\n".join(activity) + "\n",
            "help_activity.csv": "\n".join(helps) + "\n",
            "conversion.csv": "\n".join(conv) + "\n"}


def test_messy_folder_matches_pandas_rules(tmp_path):
    folder = _write(tmp_path / "messy", _messy())
    agg = aggregate_experiment(folder)
    assert_equal_paths(folder, agg)
    assert agg.dropped == {"test_cohorts_duplicate_rows": 1,
                           "product_activity_unknown_customer": 1,
                           "product_activity_duplicate_rows": 1,
                           "help_activity_unknown_customer": 1,
                           "help_activity_duplicate_rows": 1,
                           "conversion_unknown_customer": 1,
                           "complete_before_start": 1, "complete_without_start": 1}
    checks = {f.check: f.count for f in agg.findings}
    # help_without_start: task-3 flags of c3, c6, c9 (task 3 never started) and c7.
    assert checks["missing_conversion"] == 1 and checks["help_without_start"] == 4
    # Task 2 of even customers starts 2 h before its clock time (the +02:00 offset),
    # i.e. before task 1 was completed: out of series.
    assert checks["tasks_out_of_series"] >= 6


def test_parquet_inputs_match(tmp_path):
    csv = _write(tmp_path / "csv", _messy())
    pq = tmp_path / "pq"
    pq.mkdir()
    for f in csv.iterdir():
        pd.read_csv(f, dtype=str, keep_default_na=False).to_parquet(
            pq / f.name.replace(".csv", ".parquet"), index=False)
    assert_equal_paths(pq)


def test_typed_parquet_example_matches(tmp_path):
    """Typed Parquet columns (timestamps, integers) as the simulator writes them."""
    from bayes_ab.simulate import simulate, write_simulation

    write_simulation(simulate(n=3000, seed=11, truth=False), tmp_path, fmt="parquet")
    assert_equal_paths(tmp_path)


def test_no_help_flags(tmp_path):
    files = _messy()
    files["help_activity.csv"] = "customer_id,timestamp,task,channel\n"
    folder = _write(tmp_path / "nohelp", files)
    agg = aggregate_experiment(folder)
    assert_equal_paths(folder, agg)
    assert {"help_completion", "time_to_completion", "iv"} <= set(agg.stat_errors)


@pytest.mark.parametrize(("edit", "column"), [
    (lambda f: f.update({"test_cohorts.csv": f["test_cohorts.csv"] + "c1,Test,pro\n"}), "cohort"),
    (lambda f: f.update({"test_cohorts.csv": f["test_cohorts.csv"] + "c1,Control,team\n"}),
     "customer_id"),
    (lambda f: f.update({"product_activity.csv": f["product_activity.csv"]
                         + "c1,4,start,2026-05-05T09:00:00Z\n"}), "task"),
    (lambda f: f.update({"help_activity.csv": f["help_activity.csv"]
                         + "c1,2026-05-05T09:00:00Z,1,phone,\n"}), "channel"),
    (lambda f: f.update({"product_activity.csv": f["product_activity.csv"]
                         + "c1,1,start,yesterday\n"}), "timestamp"),
    (lambda f: f.update({"conversion.csv": f["conversion.csv"] + "c11,maybe\n"}), "converted"),
    (lambda f: f.update({"conversion.csv": f["conversion.csv"] + "c1,0\n"}), "converted"),
])
def test_fatal_problems_raise_like_the_loader(tmp_path, edit, column):
    files = _messy()
    edit(files)
    folder = _write(tmp_path / "bad", files)
    with pytest.raises(DataError) as pandas_err:
        load_experiment(folder)
    with pytest.raises(DataError) as ibis_err:
        aggregate_experiment(folder)
    assert ibis_err.value.column == pandas_err.value.column == column
    assert ibis_err.value.file == pandas_err.value.file


def test_conflicting_conversion_rows_are_counted_per_customer(tmp_path):
    """Found by the per-customer table's row count (no grouping of the conversion rows of
    its own): the error names the customers with several different rows, not the rows;
    an exact duplicate row and a row of an unknown customer are no conflict."""
    files = _messy()
    files["conversion.csv"] += "c1,0\nc1,1\nc2,yes\nc2,yes\nghost,1\nghost,0\nc5,no\n"
    folder = _write(tmp_path / "conflict", files)
    with pytest.raises(DataError) as err:
        aggregate_experiment(folder)
    assert (err.value.file, err.value.column, err.value.n_rows) == (
        "conversion.csv", "converted", 2)  # c1 (three values) and c5 (yes vs no)
    assert ("several conversion rows with different values (2 customer(s); run "
            "`bayes-ab validate` for their line numbers)") in str(err.value)
    files = _messy()
    files["conversion.csv"] += "c2,yes\nghost,1\nghost,0\n"  # a duplicate; unknown ids
    ok = _write(tmp_path / "no_conflict", files)
    assert aggregate_experiment(ok).n_customers == 12


def test_same_second_first_flags_are_counted_as_ties(tmp_path):
    """Two distinct flags at the customer's first second: file order (pandas) vs task then
    channel (engine). Documented difference; the engine reports the number of ties."""
    files = _messy()
    files["help_activity.csv"] += "c4,2026-05-05T12:05:00Z,2,CS,agent\n"  # c4's first is 12:05
    folder = _write(tmp_path / "tie", files)
    agg = aggregate_experiment(folder)
    assert agg.survival_times.attrs["first_flag_ties"] == 1
    # Here file order and (task, channel) order agree: task 1 OTHER comes first.
    assert_equal_paths(folder, agg)


def test_chunked_simulator_output_is_seeded_and_matches(tmp_path):
    """Chunked Parquet (typed second-resolution timestamps, 3 chunks): same bytes for the
    same seed whatever the number of workers, and both paths agree on it."""
    import hashlib

    from bayes_ab.simulate import write_simulation_chunked

    digests = []
    for name, workers in (("a", 1), ("b", 2)):
        out = tmp_path / name
        out.mkdir()
        write_simulation_chunked(2500, 5, out, chunk=1000, workers=workers)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.glob("*.parquet"))})
    assert digests[0] == digests[1] and len(digests[0]) == 4
    agg = aggregate_experiment(tmp_path / "a")
    assert agg.n_customers == 2500
    ids = pd.read_parquet(tmp_path / "a" / "test_cohorts.parquet")["customer_id"]
    assert ids.is_unique and set(ids.str[4:8]) == {"0000", "0001", "0002"}
    assert_equal_paths(tmp_path / "a", agg)


def test_out_of_memory_is_a_clear_resource_error():
    """An engine that runs out of memory gives one message and exit code 4, no traceback."""
    from bayes_ab.aggregate import aggregate_experiment
    from bayes_ab.errors import ResourceError

    with pytest.raises(ResourceError, match="ran out of memory") as info:
        aggregate_experiment(EXAMPLE, memory_limit="1MB")
    assert info.value.exit_code == 4


def test_repeated_completions_and_flags_between_them(tmp_path):
    """Tasks completed several times, a completion before the start in a task completed
    again after it, and flags before, between and after the valid completions: the
    engine pairs these completion by completion (`_task_table`, `_help_episodes`) and
    must agree with the pandas path."""
    files = _messy()
    files["product_activity.csv"] += "".join([
        "c4,3,complete,2026-05-05T13:30:00Z\n",  # c4 task 3: before (07:00), then valid
        "c4,3,complete,2026-05-05T14:30:00Z\n",
        "c1,1,complete,2026-05-05T12:00:00Z\n",  # c1 task 1: valid 09:10:30 and 12:00
        "c1,1,complete,2026-05-05T13:00:00Z\n",
        "c1,1,start,2026-05-05T09:30:00Z\n",  # a later start: the first start counts
    ])
    files["help_activity.csv"] += "".join([
        "c1,2026-05-05T11:00:00Z,1,CS,video\n",  # between two valid completions
        "c1,2026-05-05T12:00:00Z,1,OTHER,\n",  # at a valid completion
        "c1,2026-05-05T13:30:00Z,1,CS,agent\n",  # after the last one: censored
        "c4,2026-05-05T06:00:00Z,3,CS,agent\n",  # before the start of task 3
        "c4,2026-05-05T14:00:00Z,3,OTHER,\n",  # between valid completions of task 3
    ])
    folder = _write(tmp_path / "repeat", files)
    agg = aggregate_experiment(folder)
    assert_equal_paths(folder, agg)
    assert agg.dropped["complete_before_start"] == 1
