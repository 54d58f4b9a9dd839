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
from bayes_ab.cli.main import main
from bayes_ab.errors import DataError
from bayes_ab.forensics.checks.count_dispersion import check_dispersion
from bayes_ab.forensics.checks.duration_family import check_durations
from bayes_ab.forensics.checks.generated_names import check_company_names
from bayes_ab.forensics.checks.split_exactness import check_split
from bayes_ab.forensics.verdict import ASSUMED_REAL, LLR_CAP

_ROOT = Path(__file__).resolve().parents[1]
# The lead-funnel data is read in place, beside the checkout or beside its worktrees folder.
SPATIALOS = next((p for p in (_ROOT.parent / "shared" / "data" / "spatialos",
                              _ROOT.parents[1] / "shared" / "data" / "spatialos")
                  if p.exists()), _ROOT.parent / "shared" / "data" / "spatialos")
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
    exact = check_split(3000, 10_000)
    assert exact.p_value == pytest.approx(stats.binom.pmf(3000, 10_000, 0.3), rel=1e-9)
    assert exact.p_value == pytest.approx(0.00870, abs=5e-5)
    assert (exact.verdict_hint, exact.strength) == ("simulated", "strong")
    loose = check_split(3051, 10_000)  # 1.1 sd off: what randomisation gives
    band = stats.binom.cdf(3051, 10_000, 0.3) - stats.binom.cdf(2948, 10_000, 0.3)
    assert loose.p_value == pytest.approx(band, rel=1e-9)
    assert loose.verdict_hint == "neutral"


def test_dispersion_separates_poisson_from_gamma_poisson():
    rng = np.random.default_rng(0)
    pois = check_dispersion(rng.poisson(3, 5000), table="t", what="x")
    assert pois.statistic == pytest.approx(1.0, abs=0.06)
    assert pois.verdict_hint == "simulated"
    nb = check_dispersion(rng.negative_binomial(0.5, 0.5 / 3.5, 5000), table="t", what="x")
    # Negative binomial (r=0.5, mean 3): var/mean = 1 + mean / r = 7.
    assert nb.statistic == pytest.approx(7.0, rel=0.15)
    assert (nb.verdict_hint, nb.strength) == ("real", "strong")


def test_durations_single_family_vs_mixture():
    rng = np.random.default_rng(0)
    one = check_durations({"a": rng.lognormal(3, 0.7, 3000)}, table="t", unit_s=0.0,
                          what="d")
    assert (one.verdict_hint, one.strength) == ("simulated", "strong")
    mix = np.concatenate([rng.lognormal(1, 0.3, 1500), rng.exponential(200, 1500)])
    assert check_durations({"a": mix}, table="t", unit_s=0.0, what="d").verdict_hint == "real"


def test_generated_company_names_are_recognised():
    gen = pd.Series(["Auctor Company", "Cursus Purus PC", "Interdum Sed Auctor Corp.", ""])
    e = check_company_names(gen, table="leads")
    assert e.score == pytest.approx(1.0)
    assert e.verdict_hint == "anonymised"
    real = pd.Series(["Improbable Worlds Ltd", "Ubisoft", "Rovio Entertainment Corp."])
    assert check_company_names(real, table="leads").score == pytest.approx(0.0)


def _ev(check, hint, llr=0.0, statistic=1.0):
    return fz.CheckResult(check, "t", statistic, "", None, None, hint, "none", "", llr)


def test_log10_lr_table_arithmetic():
    # 10 simulated data sets: 8 'simulated', 2 'neutral'; 5 real: 0, 1, 4. Laplace (+1 each
    # of 3 outcomes): P(sim|S) = 9/13, P(sim|R) = 1/8; P(real|S) = 1/13, P(real|R) = 5/8.
    sim = {"c": {"simulated": 8, "neutral": 2}}
    real = {"c": {"neutral": 1, "real": 4}}
    row = fz.log10_lr_table(sim, real)["c"]
    assert row["simulated"] == pytest.approx(round(math.log10((9 / 13) / (1 / 8)), 2))
    assert row["real"] == pytest.approx(round(math.log10((1 / 13) / (5 / 8)), 2))
    assert row["neutral"] == 0.0  # neutral never votes
    # Calibration cannot turn a hint round: a 'simulated' hint seen more in real data is 0.
    flipped = fz.log10_lr_table({"c": {"simulated": 1, "neutral": 9}},
                                {"c": {"simulated": 5}})["c"]
    assert flipped["simulated"] == 0.0
    # Cap, and the assumed real side of an experiment-only check.
    capped = fz.log10_lr_table({"c": {"simulated": 1000}}, {"c": {"real": 1000}})["c"]
    assert capped == {"simulated": LLR_CAP, "neutral": 0.0, "real": -LLR_CAP}
    split = fz.log10_lr_table({"split_exactness": {"simulated": 3, "neutral": 12}}, {},
                              assumed_real=ASSUMED_REAL)["split_exactness"]
    assert split["simulated"] == pytest.approx(round(math.log10((4 / 18) / 0.05), 2))


def test_combine_sums_log10_lrs_against_stated_cutoffs():
    cut = math.log10(19)
    assert fz.VERDICT_CUTOFF_LOG10 == pytest.approx(cut)
    verdict, pts = fz.combine([_ev("a", "simulated", 0.7), _ev("b", "simulated", 0.6)])
    assert (verdict, pts) == ("simulated", {"simulated": 1.3, "real": 0})  # 1.3 >= 1.279
    assert fz.combine([_ev("a", "simulated", 0.7), _ev("b", "simulated", 0.5)])[0] == (
        "inconclusive")  # 1.2 < 1.279
    assert fz.combine([_ev("a", "real", -0.9), _ev("b", "real", -0.4)])[0] == "real"
    # Prior odds move the sum: 1.2 + log10(2) = 1.5.
    assert fz.combine([_ev("a", "simulated", 0.7), _ev("b", "simulated", 0.5)],
                      prior_odds=2.0)[0] == "simulated"
    with pytest.raises(ValueError):
        fz.combine([], prior_odds=0)


def test_checks_of_one_cause_count_once_each_way():
    ev = [_ev("missing_values", "simulated", 0.69), _ev("duplicate_rows", "simulated", 0.5),
          _ev("impossible_records", "real", -0.2), _ev("diurnal_structure", "real", -0.35),
          _ev("diurnal_conversions", "simulated", 0.73), _ev("split_exactness", "simulated", 0.5)]
    assert fz.counted_log10_lr(ev) == [0.69, 0.0, -0.2, -0.35, 0.73, 0.5]
    assert fz.combine(ev)[1] == {"simulated": round(0.69 + 0.73 + 0.5, 4), "real": 0.55}


def test_many_weak_simulated_hints_now_add_up_to_a_verdict():
    # The old rule's failure: five hints for simulated, none 'strong', verdict inconclusive.
    checks = ["missing_values", "split_exactness", "duration_family", "count_dispersion",
              "daily_volume"]
    weighed = fz.weigh([_ev(c, "simulated") for c in checks])
    llrs = [fz.CALIBRATED_LOG10_LR[c]["simulated"] for c in checks]
    assert [e.log10_lr for e in weighed] == llrs
    verdict, pts = fz.combine(weighed)
    assert pts["simulated"] == pytest.approx(sum(llrs)) and sum(llrs) > fz.VERDICT_CUTOFF_LOG10
    assert verdict == "simulated"
    # Not-applicable checks (no statistic) and neutral hints carry nothing.
    na = fz.weigh([_ev("daily_volume", "simulated", statistic=None), _ev("missing_values",
                                                                          "neutral")])
    assert [e.log10_lr for e in na] == [0.0, 0.0]


def test_report_posterior_odds_and_probability():
    ev = fz.weigh([_ev("missing_values", "simulated"), _ev("weekend_clock", "real")])
    total = fz.CALIBRATED_LOG10_LR["missing_values"]["simulated"] + fz.CALIBRATED_LOG10_LR[
        "weekend_clock"]["real"]
    r = fz.ForensicsReport(kind="experiment", path="x", verdict="inconclusive",
                           evidence=tuple(ev), prior_odds=3.0)
    assert r.log10_lr_total == pytest.approx(total)
    assert r.prob_simulated == pytest.approx(1 / (1 + 10 ** -(total + math.log10(3))))
    d = r.to_dict()
    assert d["log10_posterior_odds"] == pytest.approx(total + math.log10(3), abs=1e-4)
    assert [e["log10_lr"] for e in d["evidence"]] == [e.log10_lr for e in ev]


# ------------------------------------------------------------------ whole folders


def test_textbook_simulation_is_flagged_simulated(textbook_report):
    r = textbook_report
    assert r.kind == "experiment"
    assert r.verdict == "simulated"
    by = _by_check(r)
    assert by["split_exactness"].verdict_hint == "simulated"  # exact 30/70 split
    assert by["split_exactness"].log10_lr == fz.CALIBRATED_LOG10_LR["split_exactness"][
        "simulated"]
    assert by["diurnal_structure"].verdict_hint == "simulated"
    assert by["duration_family"].verdict_hint == "simulated"
    assert by["id_regularity"].statistic == pytest.approx(1.0)  # ids fill their range
    assert by["missing_values"].statistic == 0.0
    assert r.points["real"] == 0
    assert r.log10_lr_total >= fz.VERDICT_CUTOFF_LOG10


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
    # Whole days only (the partial first and last day are left out).
    assert by["weekday_structure"].score == pytest.approx(0.665, abs=0.001)
    assert math.isfinite(by["diurnal_structure"].statistic)
    # The calibrated rule: six checks point to real, none to simulated.
    assert r.log10_lr_total == pytest.approx(-3.38, abs=1e-9)
    assert (by["weekend_clock"].verdict_hint, by["daily_volume"].verdict_hint) == ("real", "real")
    assert r.prob_simulated < 0.001


@pytest.mark.skipif(not (EXAMPLE / "test_cohorts.csv.gz").exists(), reason="example absent")
def test_shipped_example_leans_simulated_but_is_not_called():
    # The package's simulator is built to look real: binomial split, random hex ids,
    # lognormal mixtures, an hourly sign-up profile. What gives it away: conversions spread
    # evenly over the 24 hours, and not one blank or duplicate. On the calibrated scale
    # that is odds of 6.3:1 for simulated: below the 19:1 a verdict needs.
    r = fz.run_forensics(EXAMPLE)
    by = _by_check(r)
    assert r.verdict == "inconclusive"
    assert by["diurnal_conversions"].verdict_hint == "simulated"
    assert by["diurnal_conversions"].p_value == pytest.approx(0.5007, abs=1e-3)
    assert by["split_exactness"].verdict_hint == "neutral"  # 6092 of 20000: binomial
    assert by["duration_family"].verdict_hint == "real"  # mixtures reject every family
    cal = fz.CALIBRATED_LOG10_LR
    expected = (cal["missing_values"]["simulated"] + cal["diurnal_conversions"]["simulated"]
                + cal["duration_family"]["real"] + cal["diurnal_structure"]["real"])
    assert r.log10_lr_total == pytest.approx(expected, abs=1e-9)
    assert r.prob_simulated == pytest.approx(1 / (1 + 10 ** -expected))


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
        assert expected.startswith("error: ") and len(expected) > 10, (name, expected)


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


# ------------------------------------------------------------------ generators (issue 14.10)


@pytest.fixture(scope="module")
def generated_reports(tmp_path_factory):
    """Forensics of one small data set per generator (1,500 customers, seed 11)."""
    from forensics_generators import write_generated

    out = {}
    for name in ("naive", "careful", "simulator"):
        folder = write_generated(name, tmp_path_factory.mktemp(name), n=1500, seed=11)
        out[name] = fz.run_forensics(folder, validate=True)  # the contract holds
    return out


def test_naive_generator_is_called_simulated(generated_reports):
    r = generated_reports["naive"]
    by = _by_check(r)
    assert r.verdict == "simulated"
    assert r.log10_lr_total == pytest.approx(2.89, abs=1e-9)
    for check in ("duration_family", "diurnal_structure", "missing_values", "daily_volume",
                  "weekend_clock"):
        assert by[check].verdict_hint == "simulated", check
    assert r.points["real"] == 0


def test_careful_generator_is_inconclusive_not_real(generated_reports):
    # Written to look real: it is caught by its lognormal-times-lognormal durations (one
    # family fits), Poisson day-to-day volume and one hour profile for every day, and its
    # injected messiness and overdispersion count for real: 0.46, not a verdict.
    r = generated_reports["careful"]
    by = _by_check(r)
    assert r.verdict == "inconclusive"
    assert r.log10_lr_total == pytest.approx(0.46, abs=1e-9)
    for check in ("duration_family", "daily_volume", "weekend_clock"):
        assert by[check].verdict_hint == "simulated", check
    for check in ("missing_values", "duplicate_rows", "count_dispersion", "diurnal_structure"):
        assert by[check].verdict_hint == "real", check


def test_project_simulator_leans_simulated(generated_reports):
    r = generated_reports["simulator"]
    assert r.verdict == "inconclusive"
    assert r.log10_lr_total == pytest.approx(1.11, abs=1e-9)
    assert 0.9 < r.prob_simulated < 0.95


@pytest.mark.slow
@pytest.mark.skipif(not (SPATIALOS / "events.csv.gz").exists(), reason="lead data absent")
def test_every_real_window_is_called_real(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("forensics_script",
                                                  _ROOT / "models" / "forensics.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    windows = script._real_windows(tmp_path)
    assert len(windows) == 6  # five 18-day windows and the whole log
    for name, folder in windows.items():
        r = fz.run_forensics(folder)
        assert r.verdict == "real", (name, r.log10_lr_total)


def test_report_section_shows_each_checks_log10_lr(textbook_report, tmp_path):
    from bayes_ab.report import render_report

    results = json.loads((Path(__file__).parent / "fixtures" / "results_example.json")
                         .read_text())
    results["forensics"] = textbook_report.to_dict()
    html = render_report(results, figures={}, out_dir=tmp_path)[0].read_text()
    section = html[html.index('<section id="forensics">'):]
    section = section[:section.index("</section>")]
    assert "log10 LR (simulated:real)" in section
    split = _by_check(textbook_report)["split_exactness"].log10_lr
    assert f"{split:+.2f}" in section
    assert "P(simulated) = " in section and "posterior odds" in section


@pytest.mark.slow
@pytest.mark.skipif(not (SPATIALOS / "events.csv.gz").exists(), reason="lead data absent")
def test_shipped_weights_are_what_the_calibration_computes(tmp_path):
    """models/forensics.py --calibrate reproduces CALIBRATED_LOG10_LR and the doc's rates."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("forensics_script",
                                                  _ROOT / "models" / "forensics.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.calibrate(tmp_path, seeds=10, n=3000)
    doc = json.loads((tmp_path / "calibration.json").read_text())
    table = {c: {o: row[o] for o in ("simulated", "real")} for c, row in doc["table"].items()}
    assert table == fz.CALIBRATED_LOG10_LR
    assert all(row["neutral"] == 0.0 for row in doc["table"].values())
    rates = {k: (r["correct"], r["inconclusive"], r["wrong"]) for k, r in doc["hit_rates"].items()}
    assert rates == {
        "naive (held-out seeds, shipped table)": (5, 0, 0),
        "naive (generator left out of calibration)": (10, 0, 0),
        "careful (held-out seeds, shipped table)": (0, 5, 0),
        "careful (generator left out of calibration)": (0, 2, 8),
        "simulator (held-out seeds, shipped table)": (1, 4, 0),
        "simulator (generator left out of calibration)": (0, 10, 0),
        "real, 18-day windows (window left out of calibration)": (4, 1, 0),
        "real, whole log (overlaps the calibration windows)": (1, 0, 0),
    }


# ------------------------------------------------------------------ package layout (issue 18)

#: The checks of each kind of folder, in the order forensics.json lists them (before the
#: split into one check per module; `diurnal_conversions` needs a converted_at column,
#: `generated_names` / `names_vs_emails` a company / name column).
EXPERIMENT_ORDER = [
    "split_exactness", "id_regularity", "timestamp_granularity", "shared_histories",
    "count_dispersion", "binomial_dispersion", "duration_family", "missing_values",
    "duplicate_rows", "impossible_records", "extreme_values", "diurnal_structure",
    "diurnal_conversions", "diurnal_return_visits", "weekday_structure", "daily_volume",
    "weekend_clock", "benford_first_digit"]
LEAD_ORDER = [
    "id_regularity", "generated_names", "names_vs_emails", "timestamp_granularity",
    "simultaneous_events", "shared_histories", "count_dispersion", "duration_family",
    "missing_values", "duplicate_rows", "impossible_records", "extreme_values",
    "diurnal_structure", "weekday_structure", "daily_volume", "weekend_clock",
    "benford_first_digit"]


def test_each_check_module_defines_the_check_it_is_named_after():
    import pkgutil

    from bayes_ab.forensics import checks

    modules = sorted(m.name for m in pkgutil.iter_modules(checks.__path__))
    assert modules == sorted(c.name for c in fz.CHECKS)
    for check in fz.CHECKS:
        assert isinstance(check, fz.Check)
        assert type(check).__module__ == f"bayes_ab.forensics.checks.{check.name}"
    # Every registered check is calibrated, and every calibrated check is registered.
    assert set(fz.CALIBRATED_LOG10_LR) == {c.name for c in fz.CHECKS}


def test_registry_order_is_the_order_of_forensics_json_for_both_kinds():
    assert [c.name for c in fz.CHECKS if "experiment" in c.kinds] == EXPERIMENT_ORDER
    assert [c.name for c in fz.CHECKS if "lead_funnel" in c.kinds] == LEAD_ORDER


def test_optional_columns_decide_which_checks_apply(tmp_path):
    """A lead folder without company / name columns, an experiment without converted_at."""
    from bayes_ab.forensics.inputs import experiment_inputs

    lead = tmp_path / "lead"
    lead.mkdir()
    (lead / "leads.csv").write_text("email\na@x.io\nb@y.io\n")
    (lead / "events.csv").write_text("email,received_at\na@x.io,2024-05-05T10:00:00\n"
                                     "b@y.io,2024-05-06T11:00:00\n")
    names = [e.check for e in fz.collect_evidence(lead)]
    assert names == [c for c in LEAD_ORDER if c not in ("generated_names", "names_vs_emails")]
    data = experiment_inputs(Path(__file__).parent / "fixtures" / "tiny")  # no converted_at
    assert data.conversion_times is None
    applied = [c.name for c in fz.CHECKS if "experiment" in c.kinds and c.applies(data)]
    assert applied == [c for c in EXPERIMENT_ORDER if c != "diurnal_conversions"]


def test_forensics_is_one_package_without_the_old_module():
    import importlib.util

    assert importlib.util.find_spec("bayes_ab.forensics").submodule_search_locations
    assert not (Path(fz.__file__).parent.parent / "forensics.py").exists()


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, [a.name for a in node.names]) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module]


def test_checks_import_only_the_lower_layers_and_no_private_names():
    """A check reads base, inputs and reader (and a sibling check's statistic), never the
    verdict, registry, evidence or run; no module of the package imports a private name."""
    pkg = Path(fz.__file__).parent
    lower = {"bayes_ab.forensics.base", "bayes_ab.forensics.inputs", "bayes_ab.forensics.reader"}
    for path in sorted((pkg / "checks").glob("*.py")):
        for module, _ in _imports(path):
            if module.startswith("bayes_ab.forensics"):
                assert module in lower or module.startswith("bayes_ab.forensics.checks."), (
                    path.name, module)
    for path in sorted(pkg.rglob("*.py")):
        for module, names in _imports(path):
            if module.startswith("bayes_ab"):
                assert not [n for n in names if n.startswith("_")], (path.name, module, names)
