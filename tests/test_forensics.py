"""Forensic checks: pinned statistics, the verdict rule, fixtures with a known answer.

Two synthetic experiment folders are built once per session: a textbook simulation
(exact 30/70 split, sequential ids, flat day, one lognormal per task, Poisson counts,
no blanks or duplicates) that must be called "simulated", and a messy one with the
imperfections of real exports that must not be.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_ab import forensics as fz
from bayes_ab.cli import main
from bayes_ab.errors import DataError

SPATIALOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "spatialos"
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
DAY = pd.Timestamp("2024-05-05", tz="UTC")


def _iso(ts: pd.Series, unit: str = "s") -> pd.Series:
    ts = pd.Series(ts)
    fmt = "%Y-%m-%dT%H:%M:%S" if unit == "s" else "%Y-%m-%dT%H:%M:%S.%f"
    return ts.dt.strftime(fmt).where(ts.notna(), "")


def _write_experiment(folder: Path, *, cohorts, activity, help_, conv) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cohorts.to_csv(folder / "test_cohorts.csv", index=False)
    activity.to_csv(folder / "product_activity.csv", index=False)
    help_.to_csv(folder / "help_activity.csv", index=False)
    conv.to_csv(folder / "conversion.csv", index=False)
    return folder


def _textbook(folder: Path, n: int = 10_000, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:06d}" for i in range(1, n + 1)])
    cohort = np.where(rng.permutation(n) < round(0.3 * n), "Test", "Control")
    join = DAY + pd.to_timedelta(rng.uniform(0, 86400, n), unit="s")
    rows, flags = [], []
    start = join + pd.to_timedelta(rng.exponential(600, n), unit="s")
    alive = rng.random(n) < 0.8
    for task in (1, 2, 3):
        dur = pd.to_timedelta(rng.lognormal(np.log(300 * task), 0.6, n), unit="s")
        done = alive & (rng.random(n) < 0.8)
        rows += [pd.DataFrame({"customer_id": ids[alive], "task": task, "action": "start",
                               "timestamp": start[alive]}),
                 pd.DataFrame({"customer_id": ids[done], "task": task, "action": "complete",
                               "timestamp": (start + dur)[done]})]
        k = rng.poisson(0.2, n) * alive
        for j in range(1, k.max() + 1):
            m = k >= j
            flags.append(pd.DataFrame({
                "customer_id": ids[m], "task": task,
                "timestamp": (start + dur * rng.uniform(0, 1, n))[m],
                "channel": np.where(rng.random(m.sum()) < 0.3, "CS", "OTHER")}))
        start = start + dur + pd.to_timedelta(rng.exponential(120, n), unit="s")
        alive = done
    activity = pd.concat(rows, ignore_index=True)
    activity["timestamp"] = _iso(activity["timestamp"])
    help_ = pd.concat(flags, ignore_index=True)
    help_["timestamp"] = _iso(help_["timestamp"])
    conv = pd.DataFrame({"customer_id": ids, "converted": (rng.random(n) < 0.1).astype(int)})
    return _write_experiment(folder, cohorts=pd.DataFrame({"customer_id": ids, "cohort": cohort}),
                             activity=activity, help_=help_, conv=conv)


# Relative activity per UTC hour with the bumps of real traffic (lunch dip, evening bump).
_HOURS = np.array([2, 1, 1, 1, 1, 2, 4, 9, 16, 22, 25, 19, 11, 18, 24, 23, 17, 9, 12, 14,
                   8, 5, 3, 2], float)


def _messy(folder: Path, n: int = 4000, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(10_000, 99_999), n, replace=False).astype(str)
    ids[: n // 50] = [f"legacy-{i}" for i in range(n // 50)]  # a second id scheme
    cohort = np.where(rng.random(n) < 0.3, "Test", "Control")
    hour = rng.choice(24, n, p=_HOURS / _HOURS.sum())
    join = DAY + pd.to_timedelta(hour * 3600 + rng.uniform(0, 3600, n), unit="s")
    # Overdispersed people: an ability that scales durations and help flags.
    slow = rng.gamma(0.7, 1 / 0.7, n)
    rows, flags = [], []
    start = join + pd.to_timedelta(rng.lognormal(6, 1.5, n), unit="s")
    alive = rng.random(n) < 0.85
    for task in (1, 2, 3):
        quick = rng.random(n) < 0.6  # two kinds of attempts: a mixture of durations
        secs = np.where(quick, rng.lognormal(np.log(180), 0.5, n), rng.exponential(3600, n))
        dur = pd.to_timedelta(secs * slow, unit="s")
        done = alive & (rng.random(n) < 0.75)
        rows += [pd.DataFrame({"customer_id": ids[alive], "task": task, "action": "start",
                               "timestamp": start[alive]}),
                 pd.DataFrame({"customer_id": ids[done], "task": task, "action": "complete",
                               "timestamp": (start + dur)[done]})]
        k = rng.negative_binomial(0.5, 0.5 / (0.5 + 0.3 * slow)) * alive
        for j in range(1, k.max() + 1):
            m = k >= j
            flags.append(pd.DataFrame({
                "customer_id": ids[m], "task": task,
                "timestamp": (start + dur * rng.uniform(0, 1, n))[m],
                "channel": np.where(rng.random(m.sum()) < 0.3, "CS", "OTHER")}))
        start = start + dur + pd.to_timedelta(rng.lognormal(5, 2, n), unit="s")
        alive = done
    activity = pd.concat(rows, ignore_index=True)
    ms = rng.random(len(activity)) < 0.005  # a second client logging milliseconds
    activity["timestamp"] = np.where(ms, _iso(activity["timestamp"], "ms"),
                                     _iso(activity["timestamp"]))
    activity.loc[rng.choice(len(activity), 15, replace=False), "timestamp"] = ""
    activity = pd.concat([activity, activity.sample(60, random_state=3)], ignore_index=True)
    help_ = pd.concat(flags, ignore_index=True)
    help_["timestamp"] = _iso(help_["timestamp"])
    bot = pd.DataFrame({"customer_id": ids[-1], "task": 1, "channel": "OTHER",
                        "timestamp": _iso(DAY + pd.to_timedelta(np.arange(40) * 7, unit="s"))})
    help_ = pd.concat([help_, bot], ignore_index=True)
    p_conv = 1 / (1 + np.exp(-(-2.2 + rng.normal(0, 0.8, n) + 0.08 * (hour - 12))))
    conv = pd.DataFrame({"customer_id": ids, "converted": (rng.random(n) < p_conv).astype(int)})
    conv = conv.iloc[: n - 7]  # a few customers lost by the export
    return _write_experiment(folder, cohorts=pd.DataFrame({"customer_id": ids, "cohort": cohort}),
                             activity=activity, help_=help_, conv=conv)


@pytest.fixture(scope="session")
def textbook_report(tmp_path_factory):
    return fz.run_forensics(_textbook(tmp_path_factory.mktemp("textbook")))


@pytest.fixture(scope="session")
def messy_report(tmp_path_factory):
    return fz.run_forensics(_messy(tmp_path_factory.mktemp("messy")))


def _by_check(report) -> dict:
    return {e.check: e for e in report.evidence}


# ------------------------------------------------------------------ single checks


def test_split_exactness_p_value_is_the_binomial_mass_of_the_band():
    exact = fz.check_split(3000, 10_000)
    assert exact.p_value == pytest.approx(stats.binom.pmf(3000, 10_000, 0.3), rel=1e-9)
    assert exact.p_value == pytest.approx(0.00870, abs=5e-5)
    assert (exact.verdict_hint, exact.strength) == ("simulated", "strong")
    loose = fz.check_split(3051, 10_000)  # 1.1 sd off: what randomisation gives
    band = stats.binom.cdf(3051, 10_000, 0.3) - stats.binom.cdf(2948, 10_000, 0.3)
    assert loose.p_value == pytest.approx(band, rel=1e-9)
    assert loose.verdict_hint == "neutral"


def test_dispersion_separates_poisson_from_gamma_poisson():
    rng = np.random.default_rng(0)
    pois = fz.check_dispersion(rng.poisson(3, 5000), table="t", what="x")
    assert pois.statistic == pytest.approx(1.0, abs=0.06)
    assert pois.verdict_hint == "simulated"
    nb = fz.check_dispersion(rng.negative_binomial(0.5, 0.5 / 3.5, 5000), table="t", what="x")
    # Negative binomial (r=0.5, mean 3): var/mean = 1 + mean / r = 7.
    assert nb.statistic == pytest.approx(7.0, rel=0.15)
    assert (nb.verdict_hint, nb.strength) == ("real", "strong")


def test_durations_single_family_vs_mixture():
    rng = np.random.default_rng(0)
    one = fz.check_durations({"a": rng.lognormal(3, 0.7, 3000)}, table="t", unit_s=0.0,
                             what="d")
    assert (one.verdict_hint, one.strength) == ("simulated", "strong")
    mix = np.concatenate([rng.lognormal(1, 0.3, 1500), rng.exponential(200, 1500)])
    assert fz.check_durations({"a": mix}, table="t", unit_s=0.0, what="d").verdict_hint == "real"


def test_generated_company_names_are_recognised():
    gen = pd.Series(["Auctor Company", "Cursus Purus PC", "Interdum Sed Auctor Corp.", ""])
    e = fz.check_company_names(gen, table="leads")
    assert e.score == pytest.approx(1.0)
    assert e.verdict_hint == "anonymised"
    real = pd.Series(["Improbable Worlds Ltd", "Ubisoft", "Rovio Entertainment Corp."])
    assert fz.check_company_names(real, table="leads").score == pytest.approx(0.0)


def test_combine_rule_counts_points_and_needs_a_strong_hint():
    def ev(hint, strength):
        return fz.Evidence("c", "t", None, "", None, None, hint, strength, "")

    assert fz.combine([ev("simulated", "weak")] * 4)[0] == "inconclusive"  # no strong hint
    assert fz.combine([ev("simulated", "strong"), ev("simulated", "weak")])[0] == "simulated"
    verdict, pts = fz.combine([ev("real", "strong"), ev("real", "weak"), ev("simulated", "weak"),
                               ev("anonymised", "none"), ev("real", "weak")])
    assert pts == {"simulated": 1, "real": 4} and verdict == "real"


# ------------------------------------------------------------------ whole folders


def test_textbook_simulation_is_flagged_simulated(textbook_report):
    r = textbook_report
    assert r.kind == "experiment"
    assert r.verdict == "simulated"
    by = _by_check(r)
    assert by["split_exactness"].strength == "strong"
    assert by["diurnal_structure"].verdict_hint == "simulated"
    assert by["duration_family"].verdict_hint == "simulated"
    assert by["id_regularity"].statistic == pytest.approx(1.0)  # ids fill their range
    assert by["missing_values"].statistic == 0.0
    assert r.points["real"] == 0


def test_messy_realistic_folder_is_not_simulated(messy_report):
    r = messy_report
    assert r.verdict == "real"
    by = _by_check(r)
    assert by["count_dispersion"].verdict_hint == "real"
    assert by["duplicate_rows"].verdict_hint == "real"
    assert by["missing_values"].verdict_hint == "real"
    assert by["impossible_records"].verdict_hint == "real"  # 7 customers without conversion
    assert by["timestamp_granularity"].verdict_hint == "real"  # a few ms-precision rows
    assert by["split_exactness"].verdict_hint == "neutral"


def test_report_json_shape(textbook_report):
    d = textbook_report.to_dict()
    assert d["verdict"] in ("simulated", "real", "inconclusive")
    assert {"check", "statistic", "p_value", "score", "verdict_hint", "message"} <= set(
        d["evidence"][0])
    json.dumps(d, allow_nan=False)  # strict JSON


def test_cli_writes_forensics_json_and_refuses_to_overwrite(tmp_path, capsys):
    folder = _textbook(tmp_path / "data", n=1500)
    out = tmp_path / "out"
    assert main(["forensics", str(folder), "--out", str(out)]) == 0
    doc = json.loads((out / "forensics.json").read_text())
    assert doc["kind"] == "experiment" and len(doc["evidence"]) >= 12
    assert "split_exactness" in capsys.readouterr().out
    assert main(["forensics", str(folder), "--out", str(out)]) == 2
    assert main(["forensics", str(tmp_path)]) == 2  # neither kind of folder


def test_not_a_data_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError):
        fz.detect_kind(tmp_path)


@pytest.mark.skipif(not (SPATIALOS / "leads.csv.gz").exists(), reason="lead data absent")
def test_lead_funnel_data_real_behaviour_anonymised_identities():
    r = fz.run_forensics(SPATIALOS)
    by = _by_check(r)
    assert r.kind == "lead_funnel"
    assert r.verdict == "real"
    assert r.anonymised
    assert by["generated_names"].score == pytest.approx(756 / 759, abs=1e-9)
    assert by["duplicate_rows"].statistic == pytest.approx(104_522 / (214_705 + 1500))
    assert by["count_dispersion"].statistic == pytest.approx(2558.24, abs=0.01)
    # Whole event histories copied between leads: 255 of 639 leads with >= 5 events.
    assert by["shared_histories"].score == pytest.approx(255 / 639)
    assert by["weekday_structure"].score == pytest.approx(0.69, abs=0.01)
    assert math.isfinite(by["diurnal_structure"].statistic)


@pytest.mark.skipif(not (EXAMPLE / "test_cohorts.csv.gz").exists(), reason="example absent")
def test_shipped_example_is_caught_by_its_flat_conversion_clock():
    # The package's simulator is built to look real: binomial split, random hex ids,
    # lognormal mixtures, an hourly sign-up profile. What gives it away: conversions spread
    # evenly over the 24 hours, and not one blank, duplicate or impossible record.
    r = fz.run_forensics(EXAMPLE)
    by = _by_check(r)
    assert r.verdict == "simulated"
    assert (by["diurnal_conversions"].verdict_hint, by["diurnal_conversions"].strength) == (
        "simulated", "strong")
    assert by["diurnal_conversions"].p_value == pytest.approx(0.5007, abs=1e-3)
    assert by["split_exactness"].verdict_hint == "neutral"  # 6092 of 20000: binomial
    assert by["duration_family"].verdict_hint == "real"  # mixtures reject every family
    assert r.points == {"simulated": 5, "real": 2}


# ------------------------------------------------------------------ unreadable input (issue 13)


def _bad_folders(tmp_path: Path, tiny: dict[str, str]) -> dict[str, Path]:
    """Copies of the tiny experiment with one broken file each."""
    import gzip

    rng = np.random.default_rng(13)
    good_cohorts = tiny["test_cohorts.csv"]
    cases: dict[str, dict[str, bytes]] = {
        "ragged": {"product_activity.csv": (tiny["product_activity.csv"].rstrip("\n")
                                            + "\nC1,1,start,2024-05-05T10:00:00,x,y,z\n"
                                            ).encode()},
        "unbalanced_quote": {"test_cohorts.csv": (good_cohorts.rstrip("\n")
                                                  + '\n"C9,Test\nC10,Control\n').encode()},
        "random_bytes": {"conversion.csv": rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()},
        "truncated_gzip": {"test_cohorts.csv.gz": gzip.compress(good_cohorts.encode())[:-12]},
    }
    out = {}
    for name, replace in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        for fname, text in tiny.items():
            stem = fname.split(".")[0]
            if not any(r.split(".")[0] == stem for r in replace):
                (folder / fname).write_text(text)
        for fname, data in replace.items():
            (folder / fname).write_bytes(data)
        out[name] = folder
    # A link to a file that is not a table (binary, outside the folder).
    target = tmp_path / "picture.png"
    target.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    folder = tmp_path / "symlink"
    folder.mkdir()
    for fname, text in tiny.items():
        if fname != "help_activity.csv":
            (folder / fname).write_text(text)
    (folder / "help_activity.csv").symlink_to(target)
    out["symlink_to_binary"] = folder
    return out


def test_unreadable_files_exit_2_with_the_validate_message(tmp_path, tiny_files, capsys):
    """forensics reads through the loaders: same exit code and message as validate."""
    for name, folder in _bad_folders(tmp_path, tiny_files).items():
        assert main(["validate", str(folder)]) == 2, name
        expected = capsys.readouterr().err.replace("bayes-ab validate: ", "")
        assert main(["forensics", str(folder)]) == 2, name
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert err.replace("bayes-ab forensics: ", "") == expected, name
        assert expected.startswith("error: file "), (name, expected)


def test_library_reader_raises_data_errors_not_parser_errors(tmp_path, tiny_files):
    # Without the validation gate the raw reader is still the loader's: a DataError.
    for name, folder in _bad_folders(tmp_path, tiny_files).items():
        with pytest.raises(DataError):
            fz.run_forensics(folder)


def test_truncated_gzip_lead_funnel_exits_2(tmp_path, capsys):
    import gzip

    (tmp_path / "leads.csv").write_text("email,name,company,city,industry,status\n"
                                        "a@x,A B,Co,City,Games,2 - Contact attempted\n")
    body = "email,received_at,source,event\n" + "a@x,2017-01-02T10:00:00Z,web,docs\n" * 50
    (tmp_path / "events.csv.gz").write_bytes(gzip.compress(body.encode())[:-20])
    assert main(["forensics", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "events.csv.gz" in err
