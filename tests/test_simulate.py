"""The simulator: determinism, the shape of the files, and truth.json against large samples."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bayes_ab.cli.main import main
from bayes_ab.errors import OptionError
from bayes_ab.simulate import (
    FILE_STEMS,
    SimParams,
    population_truth,
    scenario_params,
    simulate,
    write_simulation,
)
from bayes_ab.simulate.story import simulate_paths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"
BIG_N = 300_000

ESTIMAND_KEYS = {
    "conversion": {"Control", "Test", "lift_abs", "lift_rel"},
    "cs_engagement": {"Control", "Test"},
    "help_completion": {"CS", "OTHER", "diff"},
    "time_to_completion": {"hazard_ratio_cs_vs_other", "median_minutes"},
    "causal_effect_cs": None,
    "completions_conversion": {"rate_by_completions", "odds_ratio_per_completion"},
    "time_and_experience": {"hour_effect", "experience_effect"},
}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def big():
    """One large sample (and the population truth, cached per parameter set)."""
    return simulate(n=BIG_N, seed=7, scenario="effect", truth=True)


@pytest.fixture(scope="module")
def medium():
    """A mid-size sample, without truth, for the structural checks."""
    return simulate(n=40_000, seed=8, scenario="effect", truth=False)


@pytest.fixture(scope="module")
def episodes(big):
    """One row per help flag: channel, arm, completion within the window, minutes."""
    end = pd.Timestamp(big.truth["observation_window"]["end"])
    act = big.product_activity
    done = act[act.action == "complete"][["customer_id", "task", "timestamp"]]
    ep = big.help_activity.merge(done.rename(columns={"timestamp": "done_at"}),
                                 on=["customer_id", "task"], how="left")
    ep = ep.merge(big.test_cohorts[["customer_id", "cohort"]], on="customer_id")
    ep["completed"] = ep["done_at"].notna()
    stop = ep["done_at"].fillna(end)
    ep["minutes"] = (stop - ep["timestamp"]).dt.total_seconds() / 60.0
    return ep


def _within(value, truth, se, k=4.0):
    assert abs(value - truth) < k * se, f"{value} vs truth {truth} (se {se})"


# ----------------------------------------------------------------------------- determinism


def test_same_inputs_give_identical_bytes_and_other_seeds_do_not(tmp_path):
    hashes = []
    for i, seed in enumerate((11, 11, 12)):
        for fmt in ("csv", "csv.gz"):
            sim = simulate(n=3000, seed=seed, truth=False, stuck_hour=-0.03)
            out = tmp_path / f"{i}-{fmt}"
            out.mkdir()
            write_simulation(sim, out, fmt=fmt)
            hashes.append(_hashes(out))
    assert hashes[0] == hashes[2] and hashes[1] == hashes[3]
    assert all(hashes[0][f"{s}.csv"] != hashes[4][f"{s}.csv"] for s in FILE_STEMS)


def test_parquet_round_trips_the_tables(tmp_path):
    sim = simulate(n=1500, seed=3, truth=False)
    write_simulation(sim, tmp_path, fmt="parquet")
    back = pd.read_parquet(tmp_path / "help_activity.parquet")
    pd.testing.assert_frame_equal(back, sim.help_activity)


def test_shipped_example_is_reproducible_and_its_truth_is_the_population_truth(tmp_path):
    truth = json.loads((EXAMPLE / "truth.json").read_text())
    assert (truth["scenario"], truth["seed"], truth["n"]) == ("effect", 20260505, 20000)
    sim = simulate(n=20000, seed=20260505, scenario="effect", truth=False)
    write_simulation(sim, tmp_path, fmt="csv.gz")
    fresh = _hashes(tmp_path)
    shipped = _hashes(EXAMPLE)
    for stem in FILE_STEMS:
        assert fresh[f"{stem}.csv.gz"] == shipped[f"{stem}.csv.gz"], stem
    # The population truth is a Monte-Carlo integral in floating point: equal to the shipped
    # values to 1e-9 relative (the last digits move with the BLAS / NumPy build).
    fresh_truth = json.loads(json.dumps(population_truth(SimParams())))
    _assert_close_nested(truth["estimands"], fresh_truth, rel=1e-9)
    assert sum(p.stat().st_size for p in EXAMPLE.iterdir()) < 5_000_000


def _assert_close_nested(a, b, *, rel: float, path: str = "estimands") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _assert_close_nested(a[k], b[k], rel=rel, path=f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close_nested(x, y, rel=rel, path=f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert b == pytest.approx(a, rel=rel, abs=1e-15), path
    else:
        assert a == b, path


# ----------------------------------------------------------------------------- scenarios


def test_null_scenario_gives_identical_arms():
    effect, null = scenario_params("effect"), scenario_params("null")
    diff = {f.name for f in dataclasses.fields(SimParams)
            if getattr(effect, f.name) != getattr(null, f.name)}
    assert diff == {"cs_widget"} and null.cs_widget == 0.0
    # Common random numbers: with the widget switched off, every customer's whole path
    # is the same in both arms, so the arm distributions are identical.
    seq = np.random.SeedSequence(5)
    a = simulate_paths(null, 20_000, seq, z=np.bool_(False))
    b = simulate_paths(null, 20_000, seq, z=np.bool_(True))
    for name in ("start", "flag", "cs", "complete", "converted", "converted_at"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate_paths(effect, 20_000, seq, z=np.bool_(True))
    assert c.cs.sum() > 1.5 * b.cs.sum()


def test_overrides_and_bad_parameters():
    p = scenario_params("effect", help_cs=0.1, stuck_logit=[-1, -1, -1])
    assert p.help_cs == 0.1 and p.stuck_logit == (-1, -1, -1)
    with pytest.raises(OptionError, match="unknown simulator parameter"):
        scenario_params("effect", no_such=1)
    with pytest.raises(OptionError, match="unknown scenario"):
        scenario_params("huge")
    # Conversion need not be monotone in completions (the non_monotone scenario).
    assert SimParams(conv_completion_steps=(0.5, -0.1, 0.2)).conv_completion_steps[1] == -0.1
    assert min(scenario_params("non_monotone").conv_completion_steps) < 0
    with pytest.raises(OptionError, match="test_share"):
        dataclasses.replace(SimParams(), test_share=1.2)


# ----------------------------------------------------------------------------- files


def test_duplicate_rows_option_adds_exact_copies_only():
    clean = simulate(n=3000, seed=21, truth=False).product_activity
    dirty = simulate(n=3000, seed=21, truth=False, duplicate_row_rate=0.02).product_activity
    extra = len(dirty) - len(clean)
    assert 0.01 * len(clean) < extra < 0.03 * len(clean)
    assert dirty.duplicated().sum() == extra
    pd.testing.assert_frame_equal(dirty.drop_duplicates().reset_index(drop=True), clean)


def test_split_is_binomial_around_30_70(big):
    n_test = int((big.test_cohorts.cohort == "Test").sum())
    se = np.sqrt(BIG_N * 0.3 * 0.7)
    _within(n_test, 0.3 * BIG_N, se)
    assert n_test != round(0.3 * BIG_N)
    small = [int((simulate(n=2000, seed=s, truth=False).test_cohorts.cohort == "Test").sum())
             for s in (1, 2, 3)]
    assert len(set(small)) == 3  # independent draws, not a fixed allocation


def test_ids_unique_random_and_unrelated_to_order(medium):
    big = medium
    ids = big.test_cohorts.customer_id
    n = len(ids)
    assert ids.is_unique and n == 40_000
    assert ids.str.fullmatch(r"cus_[0-9a-f]{12}").all()
    as_int = ids.str[4:].apply(int, base=16).to_numpy()
    # No sequence: ids are not sorted in join order and their steps are not constant.
    assert abs(np.corrcoef(as_int, np.arange(n))[0, 1]) < 0.03
    assert len(np.unique(np.diff(np.sort(as_int[:1000])))) > 900
    assert set(big.conversion.customer_id) == set(ids)


def test_tasks_are_in_series_and_timestamps_in_the_window(medium):
    big = medium
    n = len(big.test_cohorts)
    start = pd.Timestamp(big.truth["observation_window"]["start"])
    end = pd.Timestamp(big.truth["observation_window"]["end"])
    act = big.product_activity
    assert act.timestamp.min() >= start and act.timestamp.max() < end
    assert (act.timestamp.dt.microsecond == 0).all()  # second resolution
    wide = act.pivot(index="customer_id", columns=["task", "action"], values="timestamp")
    assert not act.duplicated(["customer_id", "task", "action"]).any()
    for k in (1, 2, 3):
        # A completion always has a start before it.
        has_done = wide[(k, "complete")].notna()
        assert wide.loc[has_done, (k, "start")].notna().all()
        assert (wide.loc[has_done, (k, "complete")] > wide.loc[has_done, (k, "start")]).all()
        if k > 1:
            # Task k starts only after task k-1 was completed.
            began = wide[(k, "start")].notna()
            assert wide.loc[began, (k - 1, "complete")].notna().all()
            assert (wide.loc[began, (k, "start")] > wide.loc[began, (k - 1, "complete")]).all()
    joined = big.test_cohorts.set_index("customer_id").joined_at
    first = act[(act.task == 1) & (act.action == "start")].set_index("customer_id").timestamp
    assert (first > joined.reindex(first.index)).all()
    assert joined.dt.date.nunique() == 1
    hour_share = joined.dt.hour.value_counts(normalize=True)
    assert hour_share.loc[[2, 3, 4]].max() < 0.01 < 0.06 < hour_share.loc[[11, 14, 15]].min()
    # Some never attempt task 1.
    assert 0.10 < 1 - act.customer_id.nunique() / n < 0.20

    help_ = big.help_activity
    assert help_.timestamp.min() >= start and help_.timestamp.max() < end
    assert not help_.duplicated(["customer_id", "task"]).any()
    assert ((help_.channel == "CS") == (help_.cs_type != "")).all()
    assert set(help_.cs_type) == {"", "article", "video", "chatbot", "agent"}
    starts = act[act.action == "start"].rename(columns={"timestamp": "started"})
    h = help_.merge(starts[["customer_id", "task", "started"]], on=["customer_id", "task"],
                    how="left")
    assert (h.timestamp > h.started).all()

    conv = big.conversion.set_index("customer_id")
    at = conv.converted_at.dropna()
    assert (conv.converted_at.notna() == (conv.converted == 1)).all()
    assert (at > joined.reindex(at.index)).all()
    assert (at < joined.reindex(at.index) + pd.Timedelta(days=30)).all()


# ----------------------------------------------------------------------------- truth


def test_truth_json_layout(big):
    t = big.truth
    assert {"scenario", "seed", "n", "parameters", "estimands"} <= set(t)
    est = t["estimands"]
    assert set(est) == set(ESTIMAND_KEYS)
    for key, sub in ESTIMAND_KEYS.items():
        if sub is not None:
            assert set(est[key]) == sub, key
    assert set(est["time_to_completion"]["median_minutes"]) == {"CS", "OTHER"}
    assert set(est["completions_conversion"]["rate_by_completions"]) == {"0", "1", "2", "3"}
    assert t["parameters"]["cs_widget"] == SimParams().cs_widget
    # The realism targets of the example scenario.
    assert 0.10 < est["conversion"]["Control"] < 0.15
    assert 0.015 < est["conversion"]["lift_abs"] < 0.025
    assert 0.08 < est["cs_engagement"]["Control"] < 0.13 < 0.22 < est["cs_engagement"]["Test"]
    assert 0.5 < est["help_completion"]["OTHER"] < est["help_completion"]["CS"] < 0.75
    rates = [est["completions_conversion"]["rate_by_completions"][str(k)] for k in range(4)]
    assert np.all(np.diff(rates) > 0)


def test_arm_rates_match_truth(big):
    est = big.truth["estimands"]
    m = big.test_cohorts.merge(big.conversion, on="customer_id")
    cs_ids = set(big.help_activity.customer_id[big.help_activity.channel == "CS"])
    m["any_cs"] = m.customer_id.isin(cs_ids)
    for arm, g in m.groupby("cohort"):
        for col, key in (("converted", "conversion"), ("any_cs", "cs_engagement")):
            truth = est[key][arm]
            _within(g[col].mean(), truth, np.sqrt(truth * (1 - truth) / len(g)))
    flagged = m.customer_id.isin(set(big.help_activity.customer_id)).mean()
    assert 0.4 < flagged < 0.6


def test_help_completion_and_causal_effect_match_truth(episodes, big):
    est = big.truth["estimands"]
    for ch, g in episodes.groupby("channel"):
        truth = est["help_completion"][ch]
        _within(g.completed.mean(), truth, np.sqrt(truth * (1 - truth) / len(g)))
    # Wald / IV estimate at each customer's first flag: the LATE among compliers.
    first = episodes.sort_values("timestamp").drop_duplicates("customer_id")
    z = first.cohort == "Test"
    d = first.channel == "CS"
    y = first.completed
    late = (y[z].mean() - y[~z].mean()) / (d[z].mean() - d[~z].mean())
    _within(late, est["causal_effect_cs"], 0.012)
    # The naive comparison is confounded (low ability asks CS): it understates the effect.
    assert est["help_completion"]["diff"] < est["causal_effect_cs"] - 0.03


def test_rate_by_completions_and_odds_ratio_match_truth(big):
    est = big.truth["estimands"]["completions_conversion"]
    act = big.product_activity
    n_done = act[act.action == "complete"].groupby("customer_id").size()
    conv = big.conversion.set_index("customer_id").converted
    n_done = n_done.reindex(conv.index, fill_value=0)
    cells = conv.groupby(n_done).agg(["sum", "count"])
    for k, row in cells.iterrows():
        truth = est["rate_by_completions"][str(k)]
        _within(row["sum"] / row["count"], truth, np.sqrt(truth * (1 - truth) / row["count"]))
    fit = sm.GLM(cells["sum"] / cells["count"], sm.add_constant(cells.index.to_numpy(float)),
                 family=sm.families.Binomial(), var_weights=cells["count"]).fit()
    _within(fit.params.iloc[1], np.log(est["odds_ratio_per_completion"]), fit.bse.iloc[1])


def test_hazard_ratio_and_median_match_truth(episodes, big):
    est = big.truth["estimands"]["time_to_completion"]
    edges = np.asarray(big.truth["truth_method"]["hazard_bin_edges_min"])
    ep = episodes
    rows = []
    for b in range(len(edges) - 1):
        lo, hi = edges[b], edges[b + 1]
        expo = np.clip(ep.minutes - lo, 0, hi - lo)
        ev = ep.completed & (ep.minutes > lo) & (ep.minutes <= hi)
        cell = pd.DataFrame({"cs": ep.channel == "CS", "task": ep.task, "expo": expo, "ev": ev})
        agg = cell.groupby(["cs", "task"]).sum().reset_index()
        agg["bin"] = b
        rows.append(agg)
    cells = pd.concat(rows)
    cells = cells[cells.expo > 0]
    x = pd.get_dummies(cells["bin"], prefix="bin", dtype=float)
    x["cs"] = cells["cs"].astype(float)
    x["task2"] = (cells["task"] == 2).astype(float)
    x["task3"] = (cells["task"] == 3).astype(float)
    fit = sm.GLM(cells["ev"].astype(float), x, family=sm.families.Poisson(),
                 offset=np.log(cells["expo"])).fit()
    _within(fit.params["cs"], np.log(est["hazard_ratio_cs_vs_other"]), fit.bse["cs"])
    # The survival medians: Kaplan-Meier on the sample, per channel.
    from lifelines import KaplanMeierFitter

    for ch, g in ep.groupby("channel"):
        km = KaplanMeierFitter().fit(g.minutes, g.completed)
        assert km.median_survival_time_ == pytest.approx(est["median_minutes"][ch], rel=0.08)


def test_hour_and_experience_effects_match_truth(big):
    est = big.truth["estimands"]["time_and_experience"]
    act = big.product_activity
    starts = act[act.action == "start"]
    done = act[act.action == "complete"][["customer_id", "task"]].assign(completed=1.0)
    t = starts.merge(done, on=["customer_id", "task"], how="left").fillna({"completed": 0.0})
    t["hour"] = t.timestamp.dt.hour.astype(float)
    cells = t.groupby(["hour", "task"]).completed.agg(["sum", "count"]).reset_index()
    x = sm.add_constant(cells[["hour", "task"]].astype(float))
    fit = sm.GLM(cells["sum"] / cells["count"], x, family=sm.families.Binomial(),
                 var_weights=cells["count"]).fit()
    _within(fit.params["hour"], est["hour_effect"], fit.bse["hour"])
    _within(fit.params["task"], est["experience_effect"], fit.bse["task"])
    assert est["hour_effect"] > 0 and est["experience_effect"] > 0


# ----------------------------------------------------------------------------- CLI


def test_cli_writes_refuses_existing_and_reads_set(tmp_path, capsys):
    out = tmp_path / "sim"
    args = ["simulate", "--n", "500", "--seed", "4", "--out", str(out), "--no-truth",
            "--set", "cs_widget=0", "--set", "stuck_logit=-1,-1,-1"]
    assert main(args) == 0
    assert {p.name for p in out.iterdir()} == ({f"{s}.csv" for s in FILE_STEMS}
                                              | {"truth.json", ".bayes-ab-output.json"})
    truth = json.loads((out / "truth.json").read_text())
    assert truth["parameters"]["cs_widget"] == 0.0
    assert truth["parameters"]["stuck_logit"] == [-1.0, -1.0, -1.0]
    assert truth["estimands"] is None
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert main(["simulate", "--n", "10", "--seed", "1", "--out", str(tmp_path / "x"),
                 "--set", "bogus=1"]) == 2
    assert re.search(r"unknown simulator parameter 'bogus'", capsys.readouterr().err)


def test_cli_large_n_writes_parquet_in_chunks(tmp_path, capsys, monkeypatch):
    """Above IN_MEMORY_MAX trialers the CLI writes Parquet chunk by chunk (bounded memory;
    the same files whatever --workers) and refuses CSV with a clear message."""
    import pandas as pd

    from bayes_ab.cli.commands import simulate as cmd

    monkeypatch.setattr(cmd, "IN_MEMORY_MAX", 1000)
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"big{workers}"
        assert main(["simulate", "--n", "2500", "--seed", "3", "--out", str(out), "--format",
                     "parquet", "--no-truth", "--workers", workers]) == 0
        outs[workers] = out
    assert "in chunks straight to Parquet" in capsys.readouterr().out
    cohorts = pd.read_parquet(outs["1"] / "test_cohorts.parquet")
    assert len(cohorts) == 2500 and cohorts["customer_id"].is_unique
    for stem in FILE_STEMS:
        assert ((outs["1"] / f"{stem}.parquet").read_bytes()
                == (outs["2"] / f"{stem}.parquet").read_bytes()), stem
    assert json.loads((outs["1"] / "truth.json").read_text())["chunked"]["n_chunks"] == 5
    assert main(["simulate", "--n", "2500", "--seed", "3", "--out", str(tmp_path / "c")]) == 2
    assert "use --format parquet" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    assert main(["simulate", "--n", "10", "--seed", "3", "--out", str(tmp_path / "w"),
                 "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- layout (issue 18)


def test_simulator_is_one_package_that_imports_no_workflow():
    """`bayes_ab.simulate` loads only itself, the constants, the errors and the ArviZ
    import hook (no pipeline, models, commands or aggregate), and the old module path is gone (one name per thing)."""
    import subprocess
    import sys

    code = ("import sys, bayes_ab.simulate\n"
            "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('bayes_ab'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    # the package root's own: constants, errors, the ArviZ import hook (imports nothing)
    allowed = {"bayes_ab", "bayes_ab.constants", "bayes_ab.errors", "bayes_ab.inference",
               "bayes_ab.inference.arviz_import"}
    assert [m for m in out if m not in allowed and not m.startswith("bayes_ab.simulate")] == []
    assert {"bayes_ab.simulate.params", "bayes_ab.simulate.story", "bayes_ab.simulate.truth",
            "bayes_ab.simulate.sample", "bayes_ab.simulate.writers"} <= set(out)
    import importlib.util

    assert importlib.util.find_spec("bayes_ab.data.simulate") is None


def test_simulator_modules_import_no_private_names():
    import ast

    import bayes_ab.simulate as package

    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bayes_ab"):
                assert not [a.name for a in node.names if a.name.startswith("_")], path.name
