"""The analysis tables of the tiny hand-built experiment, every derived column pinned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY

from bayes_ab.data.frame import build_tables
from bayes_ab.data.load import load_experiment
from bayes_ab.data.schema import FRAME_COLUMNS, HELP_EPISODE_COLUMNS, TASK_ATTEMPT_COLUMNS

NaT = pd.NaT
NaN = np.nan


def ts(hhmm: str | None) -> pd.Timestamp:
    return NaT if hhmm is None else pd.Timestamp(f"2024-05-05T{hhmm}", tz="UTC")


@pytest.fixture(scope="module")
def tiny():
    return load_experiment(TINY)


def test_frame_columns_and_types(tiny):
    frame = tiny.frame
    assert list(frame.columns) == [*FRAME_COLUMNS, "plan"]
    assert list(frame["cohort"].cat.categories) == ["Control", "Test"]
    assert str(frame["task1_started_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["n_completed"].dtype == np.int64
    assert frame["converted"].dtype == bool
    assert list(tiny.help_episodes.columns) == list(HELP_EPISODE_COLUMNS)
    assert list(tiny.task_attempts.columns) == list(TASK_ATTEMPT_COLUMNS)
    assert tiny.observation_end == ts("14:45")
    assert tiny.n_in("Test") == 3 and tiny.n_in("Control") == 2
    assert tiny.dropped == {}


def test_frame_every_column_pinned(tiny):
    f = tiny.frame.set_index("customer_id")
    assert list(f.index) == ["c1", "c2", "c3", "c4", "c5"]
    assert list(f["cohort"]) == ["Test", "Control", "Test", "Control", "Test"]
    assert list(f["attempted"]) == [True, True, False, True, True]
    assert list(f["n_completed"]) == [3, 1, 0, 0, 1]
    assert list(f["completed_all"]) == [True, False, False, False, False]
    assert list(f["first_action_at"]) == [ts("10:00"), ts("09:00"), NaT, ts("13:00"), ts("14:00")]
    expected = {
        "task1_started_at": [ts("10:00"), ts("09:00"), NaT, ts("13:00"), ts("14:00")],
        "task1_completed_at": [ts("10:30"), ts("09:50"), NaT, NaT, ts("14:45")],
        "task2_started_at": [ts("10:40"), ts("10:00"), NaT, NaT, NaT],
        "task2_completed_at": [ts("11:10"), NaT, NaT, NaT, NaT],
        "task3_started_at": [ts("11:20"), NaT, NaT, NaT, NaT],
        "task3_completed_at": [ts("12:00"), NaT, NaT, NaT, NaT],
    }
    for col, values in expected.items():
        pd.testing.assert_series_equal(
            f[col].reset_index(drop=True),
            pd.Series(values, dtype="datetime64[ns, UTC]", name=col), check_names=True)
    np.testing.assert_array_equal(f["task1_duration_min"], [30, 50, NaN, NaN, 45])
    np.testing.assert_array_equal(f["task2_duration_min"], [30, NaN, NaN, NaN, NaN])
    np.testing.assert_array_equal(f["task3_duration_min"], [40, NaN, NaN, NaN, NaN])
    assert list(f["n_help_flags"]) == [1, 3, 0, 1, 0]
    assert list(f["any_cs"]) == [True, True, False, True, False]
    assert list(f["any_other"]) == [False, True, False, False, False]
    # c2's earliest flag (09:10, OTHER) comes after its 09:20 CS flag in the file.
    assert list(f["first_help_channel"]) == ["CS", "OTHER", "NONE", "CS", "NONE"]
    assert list(f["converted"]) == [True, False, True, False, False]
    assert list(f["plan"]) == ["basic", "pro", "basic", "basic", "pro"]


def test_help_episodes_pinned(tiny):
    h = tiny.help_episodes
    assert list(h["customer_id"]) == ["c1", "c2", "c2", "c2", "c4"]
    assert list(h["cohort"]) == ["Test", "Control", "Control", "Control", "Control"]
    assert list(h["task"]) == [2, 1, 1, 2, 1]
    assert list(h["channel"]) == ["CS", "OTHER", "CS", "OTHER", "CS"]
    assert list(h["cs_type"]) == ["article", "", "agent", "", "chatbot"]
    assert list(h["flagged_at"]) == [ts("10:50"), ts("09:10"), ts("09:20"), ts("10:30"),
                                     ts("13:30")]
    np.testing.assert_allclose(h["hour"], [10 + 50 / 60, 9 + 10 / 60, 9 + 20 / 60, 10.5, 13.5])
    assert list(h["flag_index"]) == [1, 1, 2, 3, 1]
    assert list(h["completed"]) == [True, True, True, False, False]
    # completed: flag -> first completion of that task; censored: flag -> 14:45.
    np.testing.assert_array_equal(h["minutes"], [20, 40, 30, 255, 75])
    assert list(h["censored"]) == [False, False, False, True, True]


def test_task_attempts_pinned(tiny):
    a = tiny.task_attempts
    assert list(zip(a["customer_id"], a["task"])) == [
        ("c1", 1), ("c1", 2), ("c1", 3), ("c2", 1), ("c2", 2), ("c4", 1), ("c5", 1)]
    assert list(a["cohort"]) == ["Test"] * 3 + ["Control"] * 3 + ["Test"]
    assert list(a["started_at"]) == [ts("10:00"), ts("10:40"), ts("11:20"), ts("09:00"),
                                     ts("10:00"), ts("13:00"), ts("14:00")]
    assert list(a["start_hour"]) == [10, 10, 11, 9, 10, 13, 14]
    assert list(a["completed"]) == [True, True, True, True, False, False, True]
    np.testing.assert_array_equal(a["duration_min"], [30, 30, 40, 50, NaN, NaN, 45])
    np.testing.assert_array_equal(a["minutes"], [30, 30, 40, 50, 285, 105, 45])
    assert list(a["censored"]) == [False, False, False, False, True, True, False]
    assert list(a["prior_completions"]) == [0, 1, 2, 0, 1, 0, 0]
    assert list(a["prior_help_flags"]) == [0, 0, 1, 0, 2, 0, 0]
    assert list(a["helped"]) == [False, True, False, True, True, True, False]
    assert list(a["help_channel"]) == ["NONE", "CS", "NONE", "OTHER", "OTHER", "CS", "NONE"]


def _tables(activity_rows, help_rows=(), ids=("a",), cohorts=None):
    cohorts = pd.DataFrame({"customer_id": list(ids),
                            "cohort": cohorts or ["Test"] * len(ids)})
    activity = pd.DataFrame(activity_rows, columns=["customer_id", "task", "action", "timestamp"])
    activity["timestamp"] = pd.to_datetime(activity["timestamp"], utc=True)
    help_ = pd.DataFrame(list(help_rows), columns=["customer_id", "timestamp", "task", "channel"])
    help_["timestamp"] = _utc_one_by_one(help_["timestamp"])
    conversion = pd.DataFrame({"customer_id": list(ids), "converted": [False] * len(ids)})
    return build_tables(cohorts, activity, help_, conversion)


def test_repeated_actions_and_help_after_completion():
    """First start wins; completion = first one after it; a flag after the first
    completion waits for the next completion of that task (or is censored)."""
    frame, episodes, attempts, end = _tables([
        ("a", 1, "start", "2024-05-05T10:00"),
        ("a", 1, "start", "2024-05-05T10:05"),
        ("a", 1, "complete", "2024-05-05T10:20"),
        ("a", 1, "complete", "2024-05-05T11:00"),
        ("a", 2, "start", "2024-05-05T11:10"),
    ], help_rows=[
        ("a", "2024-05-05T10:30", 1, "CS"),   # after the first completion: -> 11:00
        ("a", "2024-05-05T11:10", 2, "OTHER"),  # at the start of task 2: not "prior"
        ("a", "2024-05-05T11:30", 1, "OTHER"),  # no later completion: censored
    ])
    assert end == ts("11:30")
    row = frame.iloc[0]
    assert row["task1_started_at"] == ts("10:00") and row["task1_completed_at"] == ts("10:20")
    assert row["task1_duration_min"] == 20 and row["n_completed"] == 1
    assert row["n_help_flags"] == 3 and row["first_help_channel"] == "CS"
    np.testing.assert_array_equal(episodes["minutes"], [30, 20, 0])
    assert list(episodes["completed"]) == [True, False, False]
    assert list(episodes["flag_index"]) == [1, 2, 3]
    assert list(attempts["prior_help_flags"]) == [0, 1]  # the 11:10 flag is not before 11:10
    assert list(attempts["help_channel"]) == ["CS", "OTHER"]
    assert list(attempts["minutes"]) == [20, 20]
    assert list(attempts["prior_completions"]) == [0, 1]


def _utc_one_by_one(values: pd.Series) -> pd.Series:
    # One value at a time: pandas' vectorised ISO parser shifts a naive value that
    # follows one with an offset (the loader guards against exactly that).
    out = []
    for v in values:
        t = pd.Timestamp(v)
        out.append(t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC"))
    return pd.Series(out, index=values.index).astype("datetime64[ns, UTC]")


def test_plain_tables_without_line_or_codes_match_loader(tiny):
    """build_tables works on plain DataFrames (no loader bookkeeping columns)."""
    import io

    from conftest import read_tiny

    files = read_tiny()
    cohorts = pd.read_csv(io.StringIO(files["test_cohorts.csv"]), dtype=str)
    cohorts.columns = [c.lower() for c in cohorts.columns]
    cohorts["cohort"] = cohorts["cohort"].str.strip().str.capitalize()
    activity = pd.read_csv(io.StringIO(files["product_activity.csv"]), dtype=str)
    activity["task"] = activity["task"].astype(float).astype(int)
    activity["action"] = activity["action"].str.lower()
    activity["timestamp"] = _utc_one_by_one(activity["timestamp"])
    help_ = pd.read_csv(io.StringIO(files["help_activity.csv"]), dtype=str,
                        keep_default_na=False)
    help_["task"] = help_["task"].astype(int)
    help_["channel"] = help_["channel"].str.upper()
    help_["timestamp"] = _utc_one_by_one(help_["timestamp"])
    conversion = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4", "c5"],
                               "converted": [True, False, True, False, False]})
    frame, episodes, attempts, end = build_tables(cohorts, activity, help_, conversion)
    assert end == tiny.observation_end
    pd.testing.assert_frame_equal(frame, tiny.frame)
    pd.testing.assert_frame_equal(episodes, tiny.help_episodes)
    pd.testing.assert_frame_equal(attempts, tiny.task_attempts)


@pytest.mark.slow
def test_a_million_customers_load_in_under_a_minute(tmp_path):
    """Scale: 1M customers, ~3M activity rows, 0.8M flags; counts recovered exactly."""
    import time

    from bayes_ab.data.load import load_experiment as load

    rng = np.random.default_rng(7)
    n = 1_000_000
    ids = np.char.add("cust", np.arange(n).astype(str))
    pd.DataFrame({"customer_id": ids, "cohort": np.where(rng.random(n) < 0.3, "Test",
                                                         "Control")}).to_csv(
        tmp_path / "test_cohorts.csv", index=False)
    base = np.datetime64("2024-05-05T00:00:00", "s")
    t = base + rng.integers(0, 86_400, n).astype("timedelta64[s]")
    alive = rng.random(n) < 0.85
    parts, n_done = [], np.zeros(n, dtype=int)
    for k in (1, 2, 3):
        idx = np.flatnonzero(alive)
        parts.append(pd.DataFrame({"customer_id": ids[idx], "task": k, "action": "start",
                                   "timestamp": t[idx]}))
        done = idx[rng.random(len(idx)) < 0.7]
        dur = rng.integers(60, 3600, len(done)).astype("timedelta64[s]")
        parts.append(pd.DataFrame({"customer_id": ids[done], "task": k, "action": "complete",
                                   "timestamp": t[done] + dur}))
        t = t.copy()
        t[done] += dur + np.timedelta64(60, "s")
        n_done[done] += 1
        alive = np.zeros(n, dtype=bool)
        alive[done] = True
    activity = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=1)
    activity["timestamp"] = np.datetime_as_string(activity["timestamp"].to_numpy(), unit="s")
    activity.to_csv(tmp_path / "product_activity.csv", index=False)
    m = 800_000
    pd.DataFrame({
        "customer_id": ids[rng.integers(0, n, m)],
        "timestamp": np.datetime_as_string(
            base + rng.integers(0, 86_400, m).astype("timedelta64[s]"), unit="s"),
        "task": rng.integers(1, 4, m),
        "channel": np.where(rng.random(m) < 0.4, "CS", "OTHER"),
    }).to_csv(tmp_path / "help_activity.csv", index=False)
    pd.DataFrame({"customer_id": ids, "converted": rng.integers(0, 2, n)}).to_csv(
        tmp_path / "conversion.csv", index=False)

    start = time.perf_counter()
    data = load(tmp_path)
    seconds = time.perf_counter() - start
    assert seconds < 60, seconds
    np.testing.assert_array_equal(data.frame["n_completed"].to_numpy(), n_done)
    assert len(data.task_attempts) == int((activity["action"] == "start").sum())
    assert data.frame["n_help_flags"].sum() + data.dropped.get(
        "help_activity_duplicate_rows", 0) == m
