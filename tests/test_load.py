"""Reading the four files: encodings, line endings, formats, column names, labels."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from conftest import TINY, read_tiny

from bayes_ab.data.load import load_experiment, load_experiment_with_counts, read_table


@pytest.fixture(scope="module")
def reference():
    return load_experiment(TINY)


def assert_same_tables(data, reference, *, extra=("plan",)):
    pd.testing.assert_frame_equal(data.frame[list(reference.frame.columns[:-1])],
                                  reference.frame[list(reference.frame.columns[:-1])])
    pd.testing.assert_frame_equal(data.help_episodes, reference.help_episodes)
    pd.testing.assert_frame_equal(data.task_attempts, reference.task_attempts)
    assert data.observation_end == reference.observation_end


def with_extra_column(files: dict[str, str], value: str) -> dict[str, str]:
    lines = files["test_cohorts.csv"].splitlines()
    lines = [lines[0] + ",city"] + [f"{line},{value}" for line in lines[1:]]
    return {**files, "test_cohorts.csv": "\n".join(lines) + "\n"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1"])
def test_encodings_with_non_ascii_values(write_folder, reference, encoding):
    files = with_extra_column(read_tiny(), "Zürich")
    folder = write_folder(files, encoding=encoding)
    data = load_experiment(folder)
    assert_same_tables(data, reference)
    assert list(data.frame.columns[-2:]) == ["plan", "city"]
    assert set(data.frame["city"]) == {"Zürich"}  # decoded right, BOM not in the header


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_line_endings(write_folder, reference, ending):
    files = {k: v.replace("\n", ending) for k, v in read_tiny().items()}
    data = load_experiment(write_folder(files))
    assert_same_tables(data, reference)
    assert data.frame["plan"].tolist() == reference.frame["plan"].tolist()


def test_gzip_files(write_folder, reference):
    files = {k + ".gz": gzip.compress(v.encode()) for k, v in read_tiny().items()}
    data = load_experiment(write_folder(files))
    assert_same_tables(data, reference)


def test_parquet_files_typed_and_text(write_folder, tmp_path, reference):
    folder = write_folder({})
    for name in ("test_cohorts", "help_activity", "conversion"):
        pd.read_csv(TINY / f"{name}.csv", dtype=str, keep_default_na=False).to_parquet(
            folder / f"{name}.parquet")
    # Activity with typed columns: integer task, tz-aware timestamps.
    activity = pd.read_csv(TINY / "product_activity.csv", dtype=str)
    activity["task"] = activity["task"].astype(float).astype(int)
    activity["timestamp"] = [pd.Timestamp(v).tz_localize("UTC") if pd.Timestamp(v).tz is None
                             else pd.Timestamp(v) for v in activity["timestamp"]]
    activity["timestamp"] = pd.to_datetime(activity["timestamp"], utc=True)
    activity.to_parquet(folder / "Product_Activity.PARQUET")
    data = load_experiment(folder)
    assert_same_tables(data, reference)


def test_wide_product_activity(write_folder, reference):
    wide = (
        "customer_id,task1_start,task1_complete,task2_start,task2_complete,task3_start,"
        "task3_complete\n"
        "c1,2024-05-05T10:00:00,2024-05-05T10:30:00,2024-05-05T10:40:00,2024-05-05T11:10:00,"
        "2024-05-05T11:20:00,2024-05-05T12:00:00\n"
        "c2,2024-05-05 09:00:00,2024-05-05 09:50:00,2024-05-05T10:00:00Z,,,\n"
        "c3,,,,,,\n"
        "c4,2024-05-05T13:00:00,,,,,\n"
        "c5,2024-05-05T16:00:00+02:00,2024-05-05T14:45:00,,,,\n"
    )
    data = load_experiment(write_folder({**read_tiny(), "product_activity.csv": wide}))
    assert_same_tables(data, reference)


def test_column_names_any_case_and_spacing(write_folder, reference):
    files = read_tiny()
    files["product_activity.csv"] = files["product_activity.csv"].replace(
        "customer_id,task,action,timestamp", " Customer ID ,TASK,Action , TimeStamp")
    files["conversion.csv"] = files["conversion.csv"].replace(
        "customer_id,converted", "CUSTOMER_ID,Converted,converted_at")
    files["conversion.csv"] = "\n".join(
        line + ("," if i else "") for i, line in enumerate(files["conversion.csv"].splitlines()))
    data = load_experiment(write_folder({k.upper(): v for k, v in files.items()}))
    assert_same_tables(data, reference)


def test_label_normalisation(write_folder):
    files = {
        "test_cohorts.csv": "customer_id,cohort\na,test\nb,TEST\nc, Test \nd,control\n"
                            "e,CONTROL\nf,Control\ng,control\n",
        "product_activity.csv": "customer_id,task,action,timestamp\n"
                                "a,1,START,2024-05-05T10:00:00\n"
                                "a, 1.0 ,Complete,2024-05-05T10:10:00\n"
                                "b,1,started,2024-05-05T10:00:00\n"
                                "b,1,COMPLETED,2024-05-05T10:01:00\n",
        "help_activity.csv": "customer_id,timestamp,task,channel,cs_type\n"
                             "a,2024-05-05T10:05:00,1,cs,Video\n"
                             "b,2024-05-05T10:00:30,1,Other,\n"
                             "c,2024-05-05T10:00:30,2,OTHER,\n",
        "conversion.csv": "customer_id,converted\na,1\nb,TRUE\nc,yes\nd,F\ne,No\nf,0.0\n"
                          "g,t\n",
    }
    data = load_experiment(write_folder(files))
    f = data.frame.set_index("customer_id")
    assert f["cohort"].tolist() == ["Test"] * 3 + ["Control"] * 4
    assert f["converted"].tolist() == [True, True, True, False, False, False, True]
    assert f["n_completed"].tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert f["task1_duration_min"].tolist()[:2] == [10.0, 1.0]
    assert data.help_episodes["channel"].tolist() == ["CS", "OTHER", "OTHER"]
    assert data.help_episodes["cs_type"].tolist() == ["video", "", ""]


def test_timestamps_naive_utc_and_offsets_converted(write_folder):
    files = {
        "test_cohorts.csv": "customer_id,cohort\na,Test\nb,Control\n",
        # a naive value right after one with an offset must not inherit that offset
        "product_activity.csv": "customer_id,task,action,timestamp\n"
                                "a,1,start,2024-05-05T10:00:00-05:00\n"
                                "b,1,start,2024-05-05T10:00:00\n"
                                "a,1,complete,2024-05-05T15:30:00Z\n"
                                "b,1,complete,2024-05-05 10:45\n",
        "help_activity.csv": "customer_id,timestamp,task,channel\n",
        "conversion.csv": "customer_id,converted\na,0\nb,1\n",
    }
    data = load_experiment(write_folder(files))
    f = data.frame
    assert f["task1_started_at"].tolist() == [pd.Timestamp("2024-05-05T15:00", tz="UTC"),
                                              pd.Timestamp("2024-05-05T10:00", tz="UTC")]
    assert f["task1_duration_min"].tolist() == [30.0, 45.0]
    # a header-only help file: nobody flagged (a warning, not an error)
    assert [x.check for x in data.findings][0] == "no_help_flags"
    assert len(data.help_episodes) == 0 and f["first_help_channel"].tolist() == ["NONE"] * 2


def test_semicolon_separated_and_blank_lines(write_folder, reference):
    files = {k: v.replace(",", ";") for k, v in read_tiny().items()}
    files["product_activity.csv"] = files["product_activity.csv"].replace("\nc2;", "\n\nc2;")
    data = load_experiment(write_folder(files))
    assert_same_tables(data, reference)


def test_counts_and_raw_lines(write_folder):
    data, counts = load_experiment_with_counts(TINY)
    assert counts == {"test_cohorts.csv": 5, "product_activity.csv": 12,
                      "help_activity.csv": 5, "conversion.csv": 5}
    assert data.source == str(TINY)
    table = read_table(TINY / "help_activity.csv")
    assert table.data["_line"].tolist() == [2, 3, 4, 5, 6]
    assert list(table.data.columns) == ["customer_id", "timestamp", "task", "channel", "cs_type",
                                        "_line"]
