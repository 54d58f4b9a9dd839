"""The models/ scripts: one runnable script per question, each constructing the registry's
model class with its priors in view (bayes_ab.cli.scripts holds only options, loading and the
end of a run)."""

from __future__ import annotations

import inspect
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from bayes_ab.workflows import analyze as pipeline
from bayes_ab.models.registry import MODEL_CLASSES, MODEL_STEPS
from bayes_ab.cli.scripts import TRUTH_KEYS

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {
    "conversion_lift.py": "conversion", "cs_engagement.py": "cs_engagement",
    "help_channel_completion.py": "help_completion", "time_to_completion.py": "time_to_completion",
    "causal_cs_effect.py": "causal_cs_effect", "completions_conversion.py": "completions_conversion",
    "time_and_experience.py": "time_and_experience",
}
# 2 x 50 draws: the PPC figure plots 100 predictive draws and r_hat needs two chains.
TINY = ["--draws", "50", "--tune", "50", "--chains", "2", "--seed", "3"]


def run_script(name: str, argv: list[str]) -> int:
    """Run models/<name> in this process (PyMC already imported), as ``python models/<name>``."""
    old = sys.argv
    sys.argv = [str(ROOT / "models" / name), *argv]
    try:
        runpy.run_path(str(ROOT / "models" / name), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = old
    return 0


def test_one_script_per_model_and_each_shows_its_model_class():
    assert set(SCRIPTS.values()) == {s.key for s in MODEL_STEPS} == set(TRUTH_KEYS)
    for name, key in SCRIPTS.items():
        text = (ROOT / "models" / name).read_text()
        cls = MODEL_CLASSES[key].__name__
        # The class is constructed in the script with its priors written out ...
        assert f"{cls}(stats" in text and "priors={" in text and "Prior(" in text
        # ... printed, fitted, summarized with ArviZ and plotted there.
        for step in ("model.table()", "model.fit(args.config)", "az.summary(",
                     "model.figures(", f'key="{key}"'):
            assert step in text, (name, step)
        assert "run_model_script" not in text


def test_registry_maps_steps_to_classes_without_importlib():
    """Issue 18: the pipeline looks its models up in the registry of classes (go-to-definition
    works), no module/class names as strings."""
    assert "importlib" not in inspect.getsource(pipeline)
    assert pipeline.MODEL_STEPS is MODEL_STEPS
    for step in MODEL_STEPS:
        assert inspect.isclass(step.model) and step.cls == step.model.__name__
        assert pipeline.step_of(step.key).model is step.model
    with pytest.raises(KeyError, match="known: conversion"):
        pipeline.step_of("nope")


def test_truth_keys_exist_in_the_example_truth():
    estimands = json.loads((ROOT / "data" / "example" / "truth.json").read_text())["estimands"]
    assert all(k in estimands for k in TRUTH_KEYS.values())


def test_script_help_is_its_question():
    out = subprocess.run([sys.executable, str(ROOT / "models" / "conversion_lift.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "Did the help widget raise conversion?" in out and "--sampler" in out
    assert "DATA_DIR" in out and "--seed" in out and "--out" in out


def _saved_priors(path: Path) -> dict:
    from bayes_ab.inference.fit import load_idata

    _, model_config, _ = load_idata(path)
    return model_config["priors"]


def _default_specs(key: str) -> dict:
    cls = MODEL_CLASSES[key]
    return {k: None if p is None else p.to_dict() for k, p in cls.default_priors.items()}


def test_engagement_script_writes_posterior_and_summary(tmp_path, capsys):
    rc = run_script("cs_engagement.py", [
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
    nc = tmp_path / "res" / "idata" / "cs_engagement.nc"
    # The priors written out in the script are the class's defaults (the analysis's priors).
    assert _saved_priors(nc) == _default_specs("cs_engagement")
    assert len(list((tmp_path / "fig").glob("cs_engagement_*.png"))) >= 4
    out = capsys.readouterr().out
    assert "truth.json:" in out and "rate ~ Beta(1, 1)" in out and "lift_abs[Test]" in out


def test_data_dir_argument_and_bad_folder_exit_2(tmp_path, capsys):
    assert run_script("conversion_lift.py", [str(tmp_path)]) == 2
    assert "test_cohorts" in capsys.readouterr().err
    assert run_script("conversion_lift.py", ["--data", str(tmp_path)]) == 2
    assert run_script("conversion_lift.py", ["--draws", "0"]) == 2
    assert "--draws" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, k in SCRIPTS.items()
                                  if k not in ("conversion", "cs_engagement")])
def test_each_sampled_script_runs_with_tiny_draws(name, tmp_path, capsys):
    key = SCRIPTS[name]
    rc = run_script(name, [str(ROOT / "data" / "example"), *TINY,
                           "--out", str(tmp_path / "res"), "--figures", str(tmp_path / "fig")])
    assert rc in (0, 3)  # 100 draws: the gate may fail, the run must not
    name_ = MODEL_CLASSES[key].name
    saved = json.loads((tmp_path / "res" / f"{name_}.json").read_text())
    assert saved["summary"] and "max_r_hat" in json.dumps(saved["diagnostics"])
    assert _saved_priors(tmp_path / "res" / "idata" / f"{name_}.nc") == _default_specs(key)
    out = capsys.readouterr().out
    assert " ~ " in out and "truth.json:" in out and "ess_bulk" in out
