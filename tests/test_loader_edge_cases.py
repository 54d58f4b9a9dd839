"""Edge cases of the two loaders (issue 13): the pandas loader (`bayes-ab validate`,
`load_experiment`) and the DuckDB aggregation (`analyze --engine duckdb`,
`aggregate_experiment`) give the same exit-2 messages (file, column, line) for files
that cannot be read, refuse links out of the data folder, never echo more than a short
excerpt of a value, and report the same data-quality findings."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, read_tiny

from bayes_ab.aggregate import aggregate_experiment
from bayes_ab.cli.main import main
from bayes_ab.data.load import (
    EXCERPT,
    find_file,
    load_experiment,
    read_experiment_file,
    read_table,
)
from bayes_ab.errors import DataError

ENGINES = ("pandas", "duckdb")
ANALYZE = ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "7", "--quiet",
           "--no-figures", "--prior-sensitivity", "none"]


def load(engine: str, folder: Path):
    return load_experiment(folder) if engine == "pandas" else aggregate_experiment(folder)


def load_error(engine: str, folder: Path) -> DataError:
    with pytest.raises(DataError) as info:
        load(engine, folder)
    return info.value


def cli_error(engine: str, folder: Path, tmp_path: Path, capsys) -> str:
    """Exit code 2, no traceback, nothing written: the error line of the CLI."""
    if engine == "pandas":
        rc = main(["validate", str(folder)])
    else:
        out = tmp_path / f"out_{folder.name}"
        rc = main(["analyze", str(folder), "--out", str(out), "--engine", "duckdb", *ANALYZE])
        assert not out.exists()
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    return err


def with_line(text: str, line: str) -> str:
    return text.rstrip("\n") + "\n" + line + "\n"


@pytest.fixture(scope="module")
def reference():
    return load_experiment(TINY)


@pytest.fixture(scope="module")
def reference_agg():
    return aggregate_experiment(TINY)


def same_as_reference(engine, data, reference, reference_agg):
    if engine == "pandas":
        pd.testing.assert_frame_equal(data.frame, reference.frame)
        pd.testing.assert_frame_equal(data.help_episodes, reference.help_episodes)
    else:
        pd.testing.assert_frame_equal(data.customers, reference_agg.customers)
        pd.testing.assert_frame_equal(data.survival_times, reference_agg.survival_times)


# ------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])  # with BOM, without BOM
def test_utf16_is_read(write_folder, engine, encoding, reference, reference_agg):
    files = read_tiny()
    folder = write_folder({k: v.encode(encoding) for k, v in files.items()})
    same_as_reference(engine, load(engine, folder), reference, reference_agg)


def test_utf16_big_endian(write_folder, reference, tmp_path, capsys):
    files = {k: b"\xfe\xff" + v.encode("utf-16-be") for k, v in read_tiny().items()}
    folder = write_folder(files)
    same_as_reference("pandas", load("pandas", folder), reference, None)
    err = cli_error("duckdb", folder, tmp_path, capsys)
    assert "UTF-16" in err and "big-endian" in err and "--engine pandas" in err
    assert "is empty" not in err


@pytest.mark.parametrize("engine", ENGINES)
def test_latin1_loads_on_both_engines(write_folder, engine, reference, reference_agg):
    files = read_tiny()
    files["test_cohorts.csv"] = files["test_cohorts.csv"].replace("basic", "Zürich")
    data = load(engine, write_folder(files, encoding="latin-1"))
    if engine == "pandas":
        assert "Zürich" in set(data.frame["plan"])
    else:
        pd.testing.assert_frame_equal(data.customers, reference_agg.customers)


# ------------------------------------------------------------ unreadable files: exit 2


def _cases() -> dict:
    tiny = read_tiny()
    conv = tiny["conversion.csv"]  # header + 5 rows: lines 1-6
    rng = np.random.default_rng(13)
    return {
        "ragged_long": ({"conversion.csv": with_line(conv, "c5,1,extra,more")},
                        "conversion.csv", 7, "line 7 has more fields than the header (2)"),
        "ragged_short": ({"help_activity.csv": with_line(tiny["help_activity.csv"], "c1")},
                         "help_activity.csv", 7, "line 7 has 1 field(s), fewer than the "
                                                 "header (5)"),
        "quote_mid": ({"conversion.csv": conv.replace("c3,true", 'c3,"true')},
                      "conversion.csv", 4, "unbalanced quote: the quoted value that starts "
                                           "on line 4 is never closed"),
        "quote_end": ({"conversion.csv": with_line(conv, 'c6,"1')}, "conversion.csv", 7,
                      "unbalanced quote"),
        "empty": ({"conversion.csv": ""}, "conversion.csv", None,
                  "the file is empty: no header and no rows"),
        "blank_header": ({"conversion.csv": "\n" + conv}, "conversion.csv", 1,
                         "the first line is blank"),
        "random_bytes": ({"conversion.csv": rng.integers(0, 256, 4000, dtype=np.uint8)
                          .tobytes()}, "conversion.csv", None, "not a text CSV file"),
        "control_bytes": ({"conversion.csv": bytes(rng.integers(1, 32, 300, dtype=np.uint8))},
                          "conversion.csv", None, "not a text CSV file"),
        "gzip_named_csv": ({"conversion.csv": gzip.compress(conv.encode())}, "conversion.csv",
                           None, "it is gzip-compressed: name it .csv.gz"),
        "truncated_gzip": ({"conversion.csv": None,
                            "conversion.csv.gz": gzip.compress(conv.encode())[:-12]},
                           "conversion.csv.gz", None, "the gzip stream is truncated"),
        "not_gzip": ({"conversion.csv": None, "conversion.csv.gz": conv.encode()},
                     "conversion.csv.gz", None, "not gzip-compressed"),
    }


CASES = _cases()


def _write_case(write_folder, case: str) -> Path:
    files: dict = dict(read_tiny())
    for name, content in CASES[case][0].items():
        files.pop(name, None)
        if content is not None:
            files[name] = content
    return write_folder(files)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CASES))
def test_unreadable_file_is_exit_2_with_file_and_line(write_folder, tmp_path, capsys,
                                                      engine, case):
    folder = _write_case(write_folder, case)
    _, file, line, words = CASES[case]
    err = load_error(engine, folder)
    assert err.file == file and words in err.reason, str(err)
    assert list(err.lines) == ([line] if line else [])
    assert "column0" not in str(err) and "missing required column" not in str(err)
    text = cli_error(engine, folder, tmp_path, capsys)
    assert f"file {file}" in text and words in text


@pytest.mark.parametrize("case", list(CASES))
def test_read_experiment_file_raises_the_same_error(write_folder, case):
    """The entry point for other readers (forensics): one file, every per-file check."""
    folder = _write_case(write_folder, case)
    _, file, line, words = CASES[case]
    stem = file.split(".")[0]
    with pytest.raises(DataError) as info:
        read_experiment_file(folder, stem)
    assert info.value.file == file and words in info.value.reason


def test_ragged_row_deep_in_a_large_file_on_duckdb(tmp_path):
    """Beyond DuckDB's sniffing sample and its first chunk: found while scanning."""
    files = read_tiny()
    rows = [f"x{i},Control,basic" for i in range(300_000)]
    rows[250_000] = "x250000,Control,basic,extra"
    folder = tmp_path / "big"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "test_cohorts.csv").write_text(files["test_cohorts.csv"] + "\n".join(rows) + "\n")
    for engine in ENGINES:
        err = load_error(engine, folder)
        assert err.file == "test_cohorts.csv" and list(err.lines) == [6 + 250_001]
        assert "more fields than the header (3)" in err.reason


# ----------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "1500-01-01T00:00:00"])
def test_timestamp_outside_the_range_is_named_so(write_folder, tmp_path, capsys, engine,
                                                 value):
    files = read_tiny()
    files["product_activity.csv"] = files["product_activity.csv"].replace(
        "2024-05-05T10:30:00", value, 1)  # line 3
    folder = write_folder(files)
    err = load_error(engine, folder)
    assert err.file == "product_activity.csv" and err.column == "timestamp"
    assert "outside the supported range 1677-09-21 to 2262-04-11" in err.reason
    assert "unparseable" not in err.reason
    if engine == "pandas":
        assert list(err.lines) == [3] and repr(value) in err.reason
    text = cli_error(engine, folder, tmp_path, capsys)
    assert "outside the supported range" in text


def test_unparseable_and_out_of_range_are_told_apart(write_folder):
    files = read_tiny()
    act = files["product_activity.csv"].replace("2024-05-05T10:30:00", "9999-12-31", 1)
    files["product_activity.csv"] = act.replace("2024-05-05T10:40:00", "soon", 1)
    err = load_error("pandas", write_folder(files))
    assert "unparseable timestamp(s) 'soon'" in err.reason and list(err.lines) == [4]


def test_parquet_typed_timestamp_out_of_range(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = pa.array([0, 253402300799_000_000], type=pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"customer_id": ["c1", "c2"], "Joined At": ts}),
                   tmp_path / "x.parquet")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "x.parquet")
    err = info.value
    assert err.column == "joined_at" and list(err.lines) == [3]
    assert "outside the supported range" in err.reason


# -------------------------------------------------------------------------- symlinks


@pytest.mark.parametrize("engine", ENGINES)
def test_link_out_of_the_folder_is_refused(write_folder, tmp_path, capsys, engine):
    files = read_tiny()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("root:x:0:0:TOP-SECRET-LINE:/root:/bin/bash\n" * 30)
    del files["conversion.csv"]
    folder = write_folder(files)
    os.symlink(secret, folder / "conversion.csv")
    err = load_error(engine, folder)
    assert err.file == "conversion.csv"
    assert f"symbolic link to {secret.resolve()}, outside the data folder" in err.reason
    text = cli_error(engine, folder, tmp_path, capsys)
    assert "TOP-SECRET" not in text and "outside the data folder" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_link_to_a_system_file_is_refused(write_folder, engine):
    folder = write_folder({k: v for k, v in read_tiny().items() if k != "conversion.csv"})
    os.symlink("/etc/passwd", folder / "conversion.csv")
    err = load_error(engine, folder)
    assert "outside the data folder" in err.reason and "root:" not in str(err)


@pytest.mark.parametrize("engine", ENGINES)
def test_link_inside_the_folder_is_read(write_folder, engine, reference, reference_agg):
    folder = write_folder(read_tiny())
    (folder / "sub").mkdir()
    (folder / "conversion.csv").rename(folder / "sub" / "conv.csv")
    os.symlink("sub/conv.csv", folder / "conversion.csv")
    same_as_reference(engine, load(engine, folder), reference, reference_agg)


@pytest.mark.parametrize("engine", ENGINES)
def test_link_inside_the_folder_to_a_non_csv_file(write_folder, tmp_path, capsys, engine):
    folder = write_folder({k: v for k, v in read_tiny().items() if k != "conversion.csv"})
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    os.symlink("logo.png", folder / "conversion.csv")
    err = load_error(engine, folder)
    assert err.file == "conversion.csv" and "not a text CSV file" in err.reason
    assert "not a text CSV file" in cli_error(engine, folder, tmp_path, capsys)


def test_broken_link(write_folder):
    folder = write_folder({k: v for k, v in read_tiny().items() if k != "conversion.csv"})
    os.symlink("nowhere.csv", folder / "conversion.csv")
    with pytest.raises(DataError, match="conversion.csv is a broken symbolic link"):
        find_file(folder, "conversion")


# -------------------------------------------------------------------------- excerpts

LONG = "7" * 5000  # digits: unchanged by the lower-casing of column names


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("where", ["label", "header", "timestamp"])
def test_messages_show_only_an_excerpt(write_folder, tmp_path, capsys, engine, where):
    files = read_tiny()
    if where == "label":
        files["test_cohorts.csv"] = files["test_cohorts.csv"].replace("c3,test", f"c3,{LONG}")
    elif where == "header":
        files["conversion.csv"] = files["conversion.csv"].replace("customer_id", LONG, 1)
    else:
        files["help_activity.csv"] = files["help_activity.csv"].replace(
            "2024-05-05T10:50:00", LONG, 1)
    folder = write_folder(files)
    err = load_error(engine, folder)
    assert "7" * (EXCERPT + 1) not in str(err)
    if engine == "pandas" and where != "header":
        assert "7" * EXCERPT + "..." in str(err)  # the excerpt, marked as cut
    assert "7" * (EXCERPT + 1) not in cli_error(engine, folder, tmp_path, capsys)


# ------------------------------------------------------------- repeated column names


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("header", ["converted,converted", "converted,Converted"])
def test_repeated_column_with_identical_values_is_a_warning(write_folder, engine, header,
                                                            reference, reference_agg):
    files = read_tiny()
    lines = files["conversion.csv"].splitlines()
    lines = [f"customer_id,{header}"] + [f"{x},{x.split(',')[1]}" for x in lines[1:]]
    files["conversion.csv"] = "\n".join(lines) + "\n"
    data = load(engine, write_folder(files))
    same_as_reference(engine, data, reference, reference_agg)
    found = [f for f in data.findings if f.check == "duplicate_columns"]
    assert len(found) == 1 and found[0].severity == "warning" and found[0].count == 1
    assert found[0].message == (
        "conversion.csv: column 'converted' appears 2 times (header columns 2, 3, ignoring "
        "case) with identical values; the copies are ignored")


@pytest.mark.parametrize("engine", ENGINES)
def test_repeated_column_with_different_values_is_exit_2(write_folder, tmp_path, capsys,
                                                         engine):
    files = read_tiny()
    lines = files["conversion.csv"].splitlines()
    same = [f"{x},{x.split(',')[1]}" for x in lines[1:]]
    same[1], same[3] = lines[2] + ",1", lines[4] + ",yes"  # lines 3 and 5 differ
    files["conversion.csv"] = "\n".join(["customer_id,converted,CONVERTED", *same]) + "\n"
    folder = write_folder(files)
    err = load_error(engine, folder)
    assert err.file == "conversion.csv" and err.column == "converted" and err.n_rows == 2
    assert "with different values in 2 row(s)" in err.reason
    if engine == "pandas":
        assert list(err.lines) == [3, 5]
    assert "appears 2 times" in cli_error(engine, folder, tmp_path, capsys)


# ------------------------------------------------------------------ input findings


def _findings_folder(write_folder, *, joined_at: bool = True) -> Path:
    files = read_tiny()
    coh = files["test_cohorts.csv"].splitlines()
    joined = ["2024-05-05T08:00:00", "2024-05-05T08:30:00", "yesterday", "", "31/12/2023"]
    if joined_at:
        coh = [coh[0] + ",joined_at"] + [f"{r},{j}" for r, j in zip(coh[1:], joined,
                                                                    strict=True)]
    files["test_cohorts.csv"] = "\n".join(coh) + "\n"
    helps = files["help_activity.csv"].splitlines()
    helps[1] = helps[1].replace("article", "Phone Call")   # line 2: unknown cs_type
    helps[2] = helps[2].replace("2024-05-05", "2014-05-05")  # line 3: ten years early
    helps.append("c3,2024-05-05T11:00:00,1,CS,hologram")    # line 7: unknown cs_type
    files["help_activity.csv"] = "\n".join(helps) + "\n"
    files["conversion.csv"] = ("customer_id,converted,converted_at\n"
                               "c1,1,2024-05-06T10:00:00\n"
                               "c2,0,2024-05-06T11:00:00\n"  # line 3: not converted, a date
                               "c3,true,2024-05-03T09:00:00\n"  # line 4: 2 days early
                               "c4,no,\n"
                               "c5,1,someday\n")              # line 6: unparseable
    return write_folder(files)


EXPECTED = {  # check -> (count, message without the line suffix, pandas line suffix)
    "unknown_cs_type": (2, "help_activity.csv: 2 row(s) with an unknown cs_type ('hologram', "
                           "'phone call'); expected article, video, chatbot, agent or blank; "
                           "kept as given", " (first at line(s) 2, 7)"),
    "unparseable_optional_timestamp": None,  # two findings, checked below
    "dated_before_experiment": None,
    "converted_at_without_conversion": (1, "conversion.csv: 1 row(s) with converted = 0 but "
                                           "a converted_at value; taken as not converted",
                                        " (first at line(s) 3)"),
}


def _strip_lines(message: str) -> str:
    return re.sub(r" \(first at line\(s\) [\d, ]+\)$", "", message)


@pytest.mark.parametrize("engine", ENGINES)
def test_input_findings(write_folder, engine):
    data = load(engine, _findings_folder(write_folder))
    by_check: dict[str, list] = {}
    for f in data.findings:
        by_check.setdefault(f.check, []).append(f)
    for check in ("unknown_cs_type", "converted_at_without_conversion"):
        count, text, suffix = EXPECTED[check]
        (f,) = by_check[check]
        assert f.severity == "warning" and f.count == count
        assert f.message == text + (suffix if engine == "pandas" else "")
    bad_ts = {f.message.split(":")[0]: f for f in by_check["unparseable_optional_timestamp"]}
    assert bad_ts["test_cohorts.csv"].count == 2 and bad_ts["conversion.csv"].count == 1
    assert _strip_lines(bad_ts["test_cohorts.csv"].message) == (
        "test_cohorts.csv: 2 value(s) of the optional column 'joined_at' are not ISO 8601 "
        "timestamps in the supported range ('31/12/2023', 'yesterday'); they are not used "
        "as dates")
    early = {f.message.split(":")[0]: f for f in by_check["dated_before_experiment"]}
    assert early["help_activity.csv"].count == 1 and early["conversion.csv"].count == 1
    assert _strip_lines(early["conversion.csv"].message) == (
        "conversion.csv: 1 row(s) with 'converted_at' more than 1 day before the experiment's "
        "start (2024-05-05 08:00 UTC, the earliest joined_at in test_cohorts.csv); kept: "
        "check these dates")
    if engine == "pandas":
        assert early["help_activity.csv"].message.endswith("(first at line(s) 3)")
        assert bad_ts["test_cohorts.csv"].message.endswith("(first at line(s) 4, 6)")


def test_input_findings_same_on_both_engines(write_folder):
    folder = _findings_folder(write_folder, joined_at=False)
    pandas_f = load_experiment(folder).findings
    duck_f = aggregate_experiment(folder).findings
    assert [(f.check, f.severity, f.count, _strip_lines(f.message)) for f in pandas_f] == [
        (f.check, f.severity, f.count, f.message) for f in duck_f]
    early = [f for f in pandas_f if f.check == "dated_before_experiment"]
    # Without joined_at the start is the first product activity.
    assert [f.count for f in early] == [1, 1]
    assert "(2024-05-05 09:00 UTC, the earliest timestamp in product_activity.csv)" in (
        early[0].message)


def test_validate_prints_the_findings(write_folder, capsys):
    assert main(["validate", str(_findings_folder(write_folder)), "--json"]) == 0
    out = capsys.readouterr().out
    for check in ("unknown_cs_type", "unparseable_optional_timestamp",
                  "dated_before_experiment", "converted_at_without_conversion"):
        assert f'"check": "{check}"' in out


@pytest.mark.parametrize("engine", ENGINES)
def test_clean_folder_has_none_of_the_new_findings(engine):
    data = load(engine, TINY)
    new = {"unknown_cs_type", "unparseable_optional_timestamp", "dated_before_experiment",
           "converted_at_without_conversion", "duplicate_columns"}
    assert not new & {f.check for f in data.findings}


@pytest.mark.parametrize("engine", ENGINES)
def test_line_of_spaces_is_a_ragged_row(write_folder, engine):
    files = read_tiny()
    files["conversion.csv"] = files["conversion.csv"].replace("c3,true\n", "c3,true\n   \n")
    err = load_error(engine, write_folder(files))
    assert err.file == "conversion.csv" and list(err.lines) == [5]
    assert "line 5 has 1 field(s), fewer than the header (2)" in err.reason


def test_non_utf8_bytes_after_the_head(write_folder, tmp_path, capsys):
    """pandas falls back to Latin-1 for the whole file; DuckDB decides the encoding from
    the first 64 KB and names the line where that encoding breaks."""
    files = read_tiny()
    rows = [f"x{i},Control,basic" for i in range(5000)] + ["x5000,Control,Zürich"]
    files["test_cohorts.csv"] = files["test_cohorts.csv"] + "\n".join(rows) + "\n"
    folder = write_folder(files, encoding="latin-1")
    assert load_experiment(folder).frame["plan"].iloc[-1] == "Zürich"
    err = load_error("duckdb", folder)
    assert err.file == "test_cohorts.csv" and list(err.lines) == [6 + 5001]
    assert "not valid UTF-8" in err.reason and "--engine pandas" in err.reason
    assert "Zürich" not in cli_error("duckdb", folder, tmp_path, capsys)


@pytest.mark.parametrize("variant", ["crlf", "cr", "semicolon", "tab", "blank_lines", "bom"])
def test_duckdb_reads_the_dialects_the_loader_reads(write_folder, variant, reference_agg):
    """The engine takes the loader's dialect (no sniffing): line endings, delimiters,
    blank lines and a UTF-8 BOM give the same statistics as the plain files."""
    files = read_tiny()
    if variant == "crlf":
        files = {k: v.replace("\n", "\r\n") for k, v in files.items()}
    elif variant == "cr":
        files = {k: v.replace("\n", "\r") for k, v in files.items()}
    elif variant in ("semicolon", "tab"):
        sep = ";" if variant == "semicolon" else "\t"
        files = {k: v.replace(",", sep) for k, v in files.items()}
    elif variant == "blank_lines":
        files = {k: v.replace("\n", "\n\n", 2) + "\n\n" for k, v in files.items()}
    folder = write_folder(files, encoding="utf-8-sig" if variant == "bom" else "utf-8")
    agg = aggregate_experiment(folder)
    pd.testing.assert_frame_equal(agg.customers, reference_agg.customers)
    pd.testing.assert_frame_equal(agg.survival_times, reference_agg.survival_times)


def test_read_experiment_file_header_only(write_folder):
    """A header-only help file is allowed (nobody was flagged), as in the loader; any
    other header-only file is an error unless ``allow_empty``."""
    files = read_tiny()
    files["help_activity.csv"] = "customer_id,timestamp,task,channel\n"
    files["conversion.csv"] = "customer_id,converted\n"
    folder = write_folder(files)
    table = read_experiment_file(folder, "help_activity")
    assert table.n_read == 0 and list(table.data.columns) == [
        "customer_id", "timestamp", "task", "channel", "_line"]
    with pytest.raises(DataError, match="the file is empty: it has no data rows"):
        read_experiment_file(folder, "conversion")
    assert read_experiment_file(folder, "conversion", allow_empty=True).n_read == 0
