"""Lead-funnel loaders: the real published files and every bad-input case."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bayes_ab.errors import DataError
from bayes_ab.data.funnel import load_events, load_funnel, load_leads

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "spatialos"
needs_real = pytest.mark.skipif(not (REAL / "leads.csv.gz").exists(),
                                reason="real SpatialOS data not available")


@pytest.fixture(scope="session")
def real():
    return load_funnel(REAL / "leads.csv.gz", REAL / "events.csv.gz")


@needs_real
def test_real_files_counts(real):
    assert real.n_leads == 1500
    assert real.n_events_raw == 214_705
    assert real.n_events_distinct == 110_183
    assert real.n_duplicate_events == 214_705 - 110_183
    assert real.n_leads_with_events == 1010
    assert real.n_events_unknown_lead == 0
    assert len(real.industries) == 15
    assert len(real.event_types) == 7
    assert real.leads["status"].value_counts().sort_index().tolist() == [490, 296, 641, 39, 34]
    dup = [f for f in real.findings if f.check == "duplicate_events"]
    assert dup and dup[0].count == 104_522


@needs_real
def test_real_leads_latin1_cr_only(real):
    # The raw file is Latin-1 with CR-only endings: decoding must keep the accented names
    # and yield 1500 rows, not one giant line.
    raw = gzip.decompress((REAL / "leads.csv.gz").read_bytes())
    assert b"\n" not in raw and raw.count(b"\r") == 1500
    assert real.leads["city"].str.contains("Curacaví").any()  # byte 0xED in Latin-1
    assert set(real.leads["status"]) == {1, 2, 3, 4, 5}


def _write(path: Path, text: str, *, encoding="utf-8", newline="\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


LEADS = """email,name,company,city,industry,status
a,Zoë,,,Gaming,5 - Converted to opportunity
b,Bo,,,VR,3 - Contact Made
c,Cy,,,Finance,1 - New
"""
EVENTS = """email,received_at,source,event
a,2017-01-01 10:00:00.000,forums,pageview
a,2017-01-01 10:00:00.000,forums,pageview
a,2017-01-01 11:00:00.000,spatial_cli,logged_in
b,2017-01-02 10:00:00,website,docs
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_encodings_and_line_endings(tmp_path, newline, encoding):
    lp = _write(tmp_path / "leads.csv", LEADS, encoding=encoding, newline=newline)
    ep = _write(tmp_path / "events.csv", EVENTS, newline=newline)
    d = load_funnel(lp, ep)
    assert d.leads["name"].tolist() == ["Zoë", "Bo", "Cy"]
    assert d.leads["status"].tolist() == [5, 3, 1]
    assert (d.n_events_raw, d.n_events_distinct, d.n_duplicate_events) == (4, 3, 1)
    assert d.events["event_type"].tolist() == [
        "forums_pageview", "spatial_cli_logged_in", "website_docs"]


def test_column_names_case_insensitive(tmp_path):
    lp = _write(tmp_path / "leads.csv", LEADS.replace("email,", " EMAIL ,").replace(
        "industry,status", "Industry,STATUS"))
    leads, findings = load_leads(lp)
    assert len(leads) == 3 and findings == []


def test_unknown_status_names_file_column_lines(tmp_path):
    lp = _write(tmp_path / "leads.csv", LEADS + "d,Di,,,VR,Lost\ne,Ed,,,VR,7 - Won\n")
    with pytest.raises(DataError) as err:
        load_leads(lp)
    msg = str(err.value)
    assert "leads.csv" in msg and "'status'" in msg and "unknown status" in msg
    assert err.value.lines == (5, 6)
    assert "line(s) 5, 6" in msg


def test_missing_industry_is_counted_not_dropped(tmp_path):
    lp = _write(tmp_path / "leads.csv", LEADS + "d,Di,,,,2 - Contact attempted\n")
    leads, findings = load_leads(lp)
    assert len(leads) == 4
    assert leads.loc[3, "industry"] == "Unknown"
    (f,) = findings
    assert f.check == "lead_missing_industry" and f.count == 1 and "line(s) 5" in f.message


def test_events_for_unknown_leads_are_counted(tmp_path):
    lp = _write(tmp_path / "leads.csv", LEADS)
    ep = _write(tmp_path / "events.csv",
                EVENTS + "zz,2017-01-03 10:00:00,forums,pageview\n"
                         "zz,2017-01-03 10:00:01,forums,pageview\n")
    d = load_funnel(lp, ep)
    assert d.n_events_unknown_lead == 2
    assert len(d.events) == 3 and "zz" not in set(d.events["email"])
    f = next(f for f in d.findings if f.check == "events_unknown_lead")
    assert f.count == 2 and "line(s) 6, 7" in f.message


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        load_leads(tmp_path / "nope.csv")
    assert "nope.csv" in str(err.value)


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="empty"):
        load_leads(_write(tmp_path / "leads.csv", ""))


def test_missing_column(tmp_path):
    lp = _write(tmp_path / "leads.csv", "email,name,industry\na,A,VR\n")
    with pytest.raises(DataError, match="missing column") as err:
        load_leads(lp)
    assert err.value.column == "status" and "leads.csv" in str(err.value)
    ep = _write(tmp_path / "events.csv", "email,received_at,source\na,2017-01-01,forums\n")
    with pytest.raises(DataError, match="missing column") as err:
        load_events(ep)
    assert err.value.column == "event"


def test_duplicate_lead(tmp_path):
    lp = _write(tmp_path / "leads.csv", LEADS + "a,Again,,,VR,1 - New\n")
    with pytest.raises(DataError, match="more than once") as err:
        load_leads(lp)
    assert err.value.lines == (2, 5)


def test_bad_timestamp_and_empty_event(tmp_path):
    ep = _write(tmp_path / "events.csv", EVENTS + "b,yesterday,forums,pageview\n")
    with pytest.raises(DataError, match="unparseable timestamp") as err:
        load_events(ep)
    assert err.value.lines == (6,) and err.value.column == "received_at"
    ep = _write(tmp_path / "events2.csv", EVENTS + "b,2017-01-02 10:00:00,forums,\n")
    with pytest.raises(DataError, match="empty event") as err:
        load_events(ep)
    assert err.value.lines == (6,)
