"""The models/ scripts: one shared runner (bayes_ab.scripts) behind a file per question."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bayes_ab.pipeline import MODEL_STEPS
from bayes_ab.scripts import TRUTH_KEYS, run_model_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {
    "conversion_lift.py": "conversion", "cs_engagement.py": "cs_engagement",
    "help_channel_completion.py": "help_completion", "time_to_completion.py": "time_to_completion",
    "causal_cs_effect.py": "causal_cs_effect", "completions_conversion.py": "completions_conversion",
    "time_and_experience.py": "time_and_experience",
}


def test_one_script_per_model_and_each_runs_its_model():
    assert set(SCRIPTS.values()) == {s.key for s in MODEL_STEPS} == set(TRUTH_KEYS)
    for name, key in SCRIPTS.items():
        text = (ROOT / "models" / name).read_text()
        assert f"run_model_script({key!r}, __doc__)" in text


def test_truth_keys_exist_in_the_example_truth():
    estimands = json.loads((ROOT / "data" / "example" / "truth.json").read_text())["estimands"]
    assert all(k in estimands for k in TRUTH_KEYS.values())


def test_script_help_is_its_question():
    out = subprocess.run([sys.executable, str(ROOT / "models" / "conversion_lift.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "Did the help widget raise conversion?" in out and "--sampler" in out


def test_conversion_script_writes_posterior_and_summary(tmp_path, capsys):
    rc = run_model_script("cs_engagement", "CS engagement", [
        "--out", str(tmp_path / "res"), "--figures", str(tmp_path / "fig"),
        "--draws", "300", "--tune", "300", "--chains", "2", "--seed", "3"])
    assert rc in (0, 3)
    summary = json.loads((tmp_path / "res" / "cs_engagement.json").read_text())["summary"]
    # The posterior means must be the conjugate Beta's on the same counts.
    from bayes_ab.data.load import load_experiment
    from bayes_ab.models.beta_binomial import BinomialCounts, posterior

    frame = load_experiment(ROOT / "data" / "example").frame
    for arm in ("Control", "Test"):
        sel = frame["cohort"] == arm
        exact = posterior(BinomialCounts(int(frame.loc[sel, "any_cs"].sum()), int(sel.sum())))
        assert summary[arm.lower()]["mean"] == pytest.approx(exact.mean, abs=0.003)
    assert (tmp_path / "res" / "idata" / "cs_engagement.nc").exists()
    assert len(list((tmp_path / "fig").glob("cs_engagement_*.png"))) >= 4
    assert "truth.json:" in capsys.readouterr().out


def test_bad_data_folder_exit_2(tmp_path, capsys):
    assert run_model_script("conversion", "x", ["--data", str(tmp_path)]) == 2
    assert "test_cohorts" in capsys.readouterr().err
