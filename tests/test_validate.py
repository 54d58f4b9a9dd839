"""Every bad-input case of DATA_CONTRACT.md section 3: fatal ones name file, column and
lines; non-fatal ones are dropped or imputed, counted and reported."""

from __future__ import annotations

import json

import pytest
from conftest import read_tiny
from scipy import stats

from bayes_ab.cli.main import main
from bayes_ab.data.load import load_experiment
from bayes_ab.errors import DataError

# tiny/product_activity.csv lines: 2-7 c1, 8-10 c2, 11 c5 start, 12 c4 start, 13 c5 complete.


def replace_line(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def append(text: str, *rows: str) -> str:
    return text.rstrip("\n") + "\n" + "\n".join(rows) + "\n"


def load_error(write_folder, files) -> DataError:
    with pytest.raises(DataError) as info:
        load_experiment(write_folder(files))
    return info.value


def assert_error(err: DataError, *, file: str, column: str | None, lines: list[int],
                 words: str) -> None:
    text = str(err)
    assert err.file == file and err.column == column
    assert list(err.lines) == lines
    assert f"file {file}" in text and words in text
    if column:
        assert f"column '{column}'" in text
    if lines:
        assert "line(s) " + ", ".join(map(str, lines[:10])) in text


# ------------------------------------------------------------------------- fatal cases


def test_missing_file(write_folder):
    files = read_tiny()
    del files["conversion.csv"]
    err = load_error(write_folder, files)
    assert_error(err, file="conversion.csv", column=None, lines=[], words="missing file")


def test_two_files_for_one_stem(write_folder):
    files = read_tiny()
    files["conversion.csv.gz"] = b""
    err = load_error(write_folder, files)
    assert "several files for conversion" in str(err)


@pytest.mark.parametrize("content, words", [("", "no header and no rows"),
                                            ("\n\n", "no header and no rows"),
                                            ("customer_id,cohort\n", "no data rows"),
                                            ("customer_id,cohort\n\n,\n", "no data rows")])
def test_empty_file(write_folder, content, words):
    err = load_error(write_folder, {**read_tiny(), "test_cohorts.csv": content})
    assert_error(err, file="test_cohorts.csv", column=None, lines=[], words=words)
    assert "empty" in str(err)


def test_missing_column(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = files["help_activity.csv"].replace(",channel,", ",chanel,")
    err = load_error(write_folder, files)
    assert_error(err, file="help_activity.csv", column="channel", lines=[1],
                 words="missing required column 'channel'")
    assert "chanel" in str(err)  # the columns the file does have are listed


def test_unknown_cohort_label(write_folder):
    files = read_tiny()
    files["test_cohorts.csv"] = replace_line(files["test_cohorts.csv"], 4, "c3,Treatment,basic")
    err = load_error(write_folder, files)
    assert_error(err, file="test_cohorts.csv", column="cohort", lines=[4],
                 words="unknown cohort label(s) 'Treatment'; expected Test or Control")


def test_unknown_channel_label(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = replace_line(files["help_activity.csv"], 3,
                                              "c2,2024-05-05T09:20:00,1,email,")
    err = load_error(write_folder, files)
    assert_error(err, file="help_activity.csv", column="channel", lines=[3],
                 words="unknown channel label(s) 'email'; expected CS or OTHER")


def test_unknown_action_label(write_folder):
    files = read_tiny()
    text = replace_line(files["product_activity.csv"], 5, "c1,2,pause,2024-05-05T11:10:00")
    files["product_activity.csv"] = replace_line(text, 9, "c2,1,stop,2024-05-05 09:50:00")
    err = load_error(write_folder, files)
    assert_error(err, file="product_activity.csv", column="action", lines=[5, 9],
                 words="unknown action label(s) 'pause', 'stop'")


@pytest.mark.parametrize("value", ["4", "0", "1.5", "two", ""])
def test_task_outside_range(write_folder, value):
    files = read_tiny()
    files["product_activity.csv"] = replace_line(files["product_activity.csv"], 6,
                                                 f"c1,{value},start,2024-05-05T11:20:00")
    err = load_error(write_folder, files)
    assert_error(err, file="product_activity.csv", column="task", lines=[6],
                 words="task outside 1..3")


def test_task_outside_range_in_help_and_wide_columns(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = replace_line(files["help_activity.csv"], 6,
                                              "c4,2024-05-05T13:30:00,7,CS,chatbot")
    err = load_error(write_folder, files)
    assert_error(err, file="help_activity.csv", column="task", lines=[6], words="'7'")

    wide = "customer_id,task1_start,task4_start\nc1,2024-05-05T10:00,\nc2,,2024-05-05T10:00\n"
    err = load_error(write_folder, {**read_tiny(), "product_activity.csv": wide})
    assert_error(err, file="product_activity.csv", column="task4_start", lines=[3],
                 words="task outside 1..3")


def test_duplicate_customer_in_cohorts(write_folder):
    files = read_tiny()
    files["test_cohorts.csv"] = append(files["test_cohorts.csv"], "c2,Control,basic")
    err = load_error(write_folder, files)
    assert_error(err, file="test_cohorts.csv", column="customer_id", lines=[3, 7],
                 words="duplicate customer")


def test_same_customer_in_both_arms(write_folder):
    files = read_tiny()
    files["test_cohorts.csv"] = append(files["test_cohorts.csv"], "c1,control,basic",
                                       "c4,test,basic")
    err = load_error(write_folder, files)
    assert_error(err, file="test_cohorts.csv", column="cohort", lines=[2, 5, 7, 8],
                 words="the same customer is in both arms")


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T10:00:00", "05/05/2024 10:00", ""])
def test_unparseable_timestamp(write_folder, value):
    files = read_tiny()
    files["product_activity.csv"] = replace_line(files["product_activity.csv"], 4,
                                                 f"c1,2,start,{value}")
    err = load_error(write_folder, files)
    assert_error(err, file="product_activity.csv", column="timestamp", lines=[4],
                 words="unparseable timestamp(s)")


def test_unparseable_timestamp_in_help(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = replace_line(files["help_activity.csv"], 2,
                                              "c1,10:50 pm,2,CS,article")
    err = load_error(write_folder, files)
    assert_error(err, file="help_activity.csv", column="timestamp", lines=[2],
                 words="'10:50 pm'")


@pytest.mark.parametrize("value", ["maybe", "2", ""])
def test_unparseable_converted(write_folder, value):
    files = read_tiny()
    files["conversion.csv"] = replace_line(files["conversion.csv"], 4, f"c3,{value}")
    err = load_error(write_folder, files)
    assert_error(err, file="conversion.csv", column="converted", lines=[4],
                 words="unknown converted label(s)")
    assert "expected 0/1, true/false" in str(err)


def test_empty_customer_id_and_conflicting_conversion(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = replace_line(files["help_activity.csv"], 5,
                                              " ,2024-05-05T10:30:00,2,other,")
    err = load_error(write_folder, files)
    assert_error(err, file="help_activity.csv", column="customer_id", lines=[5],
                 words="empty customer_id")

    files = read_tiny()
    files["conversion.csv"] = append(files["conversion.csv"], "c1,0")
    err = load_error(write_folder, files)
    assert_error(err, file="conversion.csv", column="converted", lines=[2, 7],
                 words="several conversion rows")


def test_line_numbers_count_blank_lines_and_crlf(write_folder):
    files = read_tiny()
    text = replace_line(files["test_cohorts.csv"], 4, "c3,Treatment,basic")
    text = text.replace("\nc2,", "\n\n\nc2,").replace("\n", "\r\n")  # two blank lines
    err = load_error(write_folder, {**files, "test_cohorts.csv": text})
    assert err.lines == (6,)


# --------------------------------------------------------------------- non-fatal cases


def test_unknown_customers_are_excluded_and_counted(write_folder):
    files = read_tiny()
    files["product_activity.csv"] = append(files["product_activity.csv"],
                                           "zz,1,start,2024-05-05T20:00:00",
                                           "zz,1,complete,2024-05-05T21:00:00")
    files["help_activity.csv"] = append(files["help_activity.csv"],
                                        "yy,2024-05-05T22:00:00,1,CS,video")
    files["conversion.csv"] = append(files["conversion.csv"], "zz,1")
    data = load_experiment(write_folder(files))
    assert data.dropped == {"product_activity_unknown_customer": 2,
                            "help_activity_unknown_customer": 1,
                            "conversion_unknown_customer": 1}
    found = {(f.check, f.message.split(":")[0]): f for f in data.findings}
    f = found[("unknown_customer", "product_activity.csv")]
    assert f.count == 2 and f.severity == "warning" and "line(s) 14, 15" in f.message
    assert "line(s) 7" in found[("unknown_customer", "conversion.csv")].message
    # their timestamps do not stretch the observation window
    assert data.observation_end.isoformat() == "2024-05-05T14:45:00+00:00"
    assert data.n_customers == 5


def test_missing_conversion_row_is_not_converted(write_folder):
    files = read_tiny()
    files["conversion.csv"] = files["conversion.csv"].replace("c3,true\n", "")
    data = load_experiment(write_folder(files))
    assert data.frame.set_index("customer_id").loc["c3", "converted"] == False  # noqa: E712
    (f,) = [f for f in data.findings if f.check == "missing_conversion"]
    assert f.count == 1 and f.severity == "warning" and "taken as not converted" in f.message
    assert data.dropped == {}


def test_complete_before_start_and_without_start_are_dropped(write_folder):
    files = read_tiny()
    files["product_activity.csv"] = append(files["product_activity.csv"],
                                           "c4,1,complete,2024-05-05T12:00:00",   # line 14
                                           "c3,1,complete,2024-05-05T12:00:00",   # line 15
                                           "c5,3,complete,2024-05-05T14:00:00")   # line 16
    data = load_experiment(write_folder(files))
    assert data.dropped == {"complete_before_start": 1, "complete_without_start": 2}
    f = data.frame.set_index("customer_id")
    assert f.loc["c4", "n_completed"] == 0 and f.loc["c3", "n_completed"] == 0
    assert f.loc["c3", "attempted"] == False  # noqa: E712
    by_check = {x.check: x for x in data.findings}
    assert "line(s) 14)" in by_check["complete_before_start"].message
    assert "line(s) 15, 16)" in by_check["complete_without_start"].message


def test_exact_duplicate_rows_are_dropped_and_counted(write_folder, ):
    files = read_tiny()
    files["product_activity.csv"] = append(files["product_activity.csv"],
                                           "c1,1,start,2024-05-05T10:00:00",
                                           " c1 ,1.0,START,2024-05-05 10:00:00+00:00")
    files["test_cohorts.csv"] = append(files["test_cohorts.csv"], "c5, Test ,pro")
    files["help_activity.csv"] = append(files["help_activity.csv"],
                                        "c4,2024-05-05T13:30:00,1,CS,chatbot")
    data = load_experiment(write_folder(files))
    assert data.dropped == {"test_cohorts_duplicate_rows": 1,
                            "product_activity_duplicate_rows": 2,
                            "help_activity_duplicate_rows": 1}
    reference = load_experiment(write_folder(read_tiny()))
    assert data.frame.equals(reference.frame)
    assert data.help_episodes.equals(reference.help_episodes)


def test_tasks_out_of_series(write_folder):
    files = read_tiny()
    files["product_activity.csv"] = append(files["product_activity.csv"],
                                           "c5,2,start,2024-05-05T14:10:00",
                                           "c4,3,start,2024-05-05T13:10:00")
    data = load_experiment(write_folder(files))
    (f,) = [f for f in data.findings if f.check == "tasks_out_of_series"]
    assert f.count == 2 and f.severity == "warning"
    assert data.dropped == {}


def test_help_flag_on_a_task_never_started(write_folder):
    files = read_tiny()
    files["help_activity.csv"] = append(files["help_activity.csv"],
                                        "c3,2024-05-05T12:00:00,1,OTHER,")
    data = load_experiment(write_folder(files))
    (f,) = [f for f in data.findings if f.check == "help_without_start"]
    assert f.count == 1 and f.severity == "info"


def _split_files(n_test: int, n_control: int) -> dict[str, str]:
    ids = [f"t{i}" for i in range(n_test)] + [f"c{i}" for i in range(n_control)]
    arms = ["Test"] * n_test + ["Control"] * n_control
    return {
        "test_cohorts.csv": "customer_id,cohort\n" + "".join(
            f"{i},{a}\n" for i, a in zip(ids, arms)),
        "product_activity.csv": "customer_id,task,action,timestamp\n"
                                "t0,1,start,2024-05-05T10:00:00\n",
        "help_activity.csv": "customer_id,timestamp,task,channel\nt0,2024-05-05T10:01:00,1,CS\n",
        "conversion.csv": "customer_id,converted\n" + "".join(f"{i},0\n" for i in ids),
    }


def test_sample_ratio_mismatch(write_folder):
    data = load_experiment(write_folder(_split_files(50, 50)))
    (f,) = [f for f in data.findings if f.check.startswith("sample_ratio")]
    assert f.check == "sample_ratio_mismatch" and f.severity == "warning"
    chi2 = (50 - 30) ** 2 / 30 + (50 - 70) ** 2 / 70
    p = stats.chi2.sf(chi2, df=1)
    assert p == pytest.approx(1.27e-5, rel=0.01)
    assert f"p = {p:.3g}" in f.message and "Test 50 / Control 50" in f.message

    data = load_experiment(write_folder(_split_files(31, 69)))
    (f,) = [f for f in data.findings if f.check.startswith("sample_ratio")]
    assert f.check == "sample_ratio" and f.severity == "info"
    # The design share can be changed (e.g. a 50/50 experiment).
    data = load_experiment(write_folder(_split_files(50, 50)), design_test_share=0.5)
    assert [f.check for f in data.findings if f.check.startswith("sample_ratio")] == [
        "sample_ratio"]


# ------------------------------------------------------------------------------ CLI


def test_cli_exit_2_without_traceback(write_folder, capsys):
    files = read_tiny()
    files["conversion.csv"] = replace_line(files["conversion.csv"], 4, "c3,maybe")
    assert main(["validate", str(write_folder(files))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("bayes-ab validate: error: file conversion.csv, column 'converted'")
    assert "first at line(s) 4" in err


def test_cli_missing_folder_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_json_summary(write_folder, capsys):
    files = read_tiny()
    files["product_activity.csv"] = append(files["product_activity.csv"],
                                           "c1,1,start,2024-05-05T10:00:00")
    assert main(["validate", str(write_folder(files)), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["customers"] == 5
    assert info["arms"]["Test"] == {"customers": 3, "attempted": 2, "completed_all": 1,
                                    "flagged": 1, "any_cs": 1, "converted": 2}
    assert info["arms"]["Control"] == {"customers": 2, "attempted": 2, "completed_all": 0,
                                       "flagged": 2, "any_cs": 2, "converted": 0}
    assert info["dropped"] == {"product_activity_duplicate_rows": 1}
    assert info["rows_read"]["product_activity.csv"] == 13
    assert info["observation_end"] == "2024-05-05T14:45:00+00:00"
    assert {f["check"] for f in info["findings"]} == {"duplicate_rows", "sample_ratio"}


def test_cli_tables(capsys):
    from conftest import TINY

    assert main(["validate", str(TINY)]) == 0
    out = capsys.readouterr().out
    assert "5 randomized customers" in out and "Customers per arm" in out
    assert "Dropped rows: none" in out and "sample_ratio" in out
