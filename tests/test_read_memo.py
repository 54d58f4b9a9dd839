"""`bayes_ab.data.load.ReadMemo`: inside `active`, a file is parsed once per run and every
later read of it gets its own copy; a changed file is parsed again; outside, nothing is
kept."""

from __future__ import annotations

import os

import pytest

from bayes_ab.data import load
from bayes_ab.errors import DataError


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = load._parse_table

    def counting(path, **kwargs):
        seen.append(path.name)
        return real(path, **kwargs)

    monkeypatch.setattr(load, "_parse_table", counting)
    return seen


def test_parsed_once_and_copies_are_independent(tmp_path, parses):
    path = tmp_path / "conversion.csv"
    path.write_text("customer_id,converted\na,1\nb,0\n")
    memo = load.ReadMemo()
    with memo.active():
        first = load.read_table(path)
        first.data["converted"] = first.data["converted"].astype(object)
        first.data.loc[0, "converted"] = "changed"  # the loader edits its frames in place
        first.data.iloc[1, 0] = "a"  # in place, in the categorical codes
        second = load.read_table(path)
    assert parses == ["conversion.csv"]
    assert list(second.data["converted"]) == ["1", "0"]
    assert list(second.data["customer_id"]) == ["a", "b"]
    assert second.n_read == 2 and second.name == "conversion.csv"
    load.read_table(path)  # outside the block: parsed
    assert parses == ["conversion.csv", "conversion.csv"]
    memo.clear()
    assert memo.tables == {}


def test_a_changed_file_is_parsed_again(tmp_path, parses):
    path = tmp_path / "conversion.csv"
    path.write_text("customer_id,converted\na,1\n")
    with load.ReadMemo().active():
        load.read_table(path)
        path.write_text("customer_id,converted\na,1\nb,1\n")
        os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock
        again = load.read_table(path)
    assert len(parses) == 2 and again.n_read == 2


def test_empty_file_check_applies_to_a_remembered_file(tmp_path, parses):
    path = tmp_path / "help_activity.csv"
    path.write_text("customer_id,timestamp,task,channel,cs_type\n")
    with load.ReadMemo().active():
        assert load.read_table(path, allow_empty=True).n_read == 0
        with pytest.raises(DataError, match="no data rows"):
            load.read_table(path)
    assert parses == ["help_activity.csv"]


def test_large_files_are_not_kept(tmp_path, parses):
    path = tmp_path / "conversion.csv"
    path.write_text("customer_id,converted\na,1\n")
    with load.ReadMemo(max_bytes=5).active():
        load.read_table(path)
        load.read_table(path)
    assert len(parses) == 2


def test_a_disabled_memo_keeps_nothing(tmp_path, parses):
    path = tmp_path / "conversion.csv"
    path.write_text("customer_id,converted\na,1\n")
    memo = load.ReadMemo(enabled=False)
    with memo.active():
        load.read_table(path)
        load.read_table(path)
    assert len(parses) == 2 and memo.tables == {}
