"""Background stages (bayes_ab.workflows.background): a forked child gives the same value
or the same exception as a call in this process, and leaves no process behind."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from bayes_ab.errors import DataError
from bayes_ab.workflows.background import Background, BackgroundError, fork_available

FORK = pytest.mark.skipif(not fork_available(), reason="forked children only on Linux")


def _moments(x: np.ndarray, *, scale: float) -> dict:
    return {"mean": float(np.mean(x) * scale), "pid": os.getpid()}


def _fails(column: str):
    raise DataError("no help flag in OTHER", file="help_activity", column=column, lines=[3, 7])


class _Unpicklable(Exception):
    def __init__(self, message, handle):  # two required arguments: pickle cannot rebuild it
        super().__init__(message)
        self.handle = handle


def _raises_unpicklable():
    raise _Unpicklable("a lock inside", handle=lambda: None)


@pytest.mark.parametrize("enabled", [True, False])
def test_value_and_error_as_in_process(enabled):
    x = np.arange(10.0)
    with Background(enabled=enabled) as bg:
        ok = bg.submit("moments", _moments, x, scale=2.0)
        bad = bg.submit("fails", _fails, "channel")
        assert ok.result()["mean"] == 9.0
        with pytest.raises(DataError) as info:
            bad.result()
    assert info.value.column == "channel" and info.value.lines == (3, 7)
    assert "no help flag in OTHER" in str(info.value)
    forked = enabled and fork_available()
    assert (ok.result()["pid"] != os.getpid()) is forked
    assert bg.forked is forked
    assert ok.seconds >= 0.0


@FORK
def test_child_sees_parent_memory_and_writes_files(tmp_path):
    """The child works on the parent's objects as they were at the fork (nothing pickled
    on the way in) and its files are there once the result is taken."""
    big = {"draws": np.random.default_rng(1).normal(size=(4, 1000))}

    def write(path):
        np.save(path, big["draws"])
        return path

    with Background() as bg:
        task = bg.submit("write", write, tmp_path / "draws.npy")
        big["draws"] = None  # the parent's change after the fork does not reach the child
        path = task.result()
    assert np.load(path).shape == (4, 1000)


@FORK
def test_unpicklable_error_comes_back_as_text():
    with Background() as bg:
        task = bg.submit("lock", _raises_unpicklable)
        with pytest.raises(BackgroundError, match="a lock inside"):
            task.result()


@FORK
def test_child_that_dies_is_an_error_not_a_hang():
    with Background() as bg:
        task = bg.submit("dies", os._exit, 3)
        with pytest.raises(BackgroundError, match="exit code 3"):
            task.result()


@FORK
def test_at_most_max_running_children():
    """The third submit waits for the oldest child: never more than two at once."""
    def stamp():
        time.sleep(0.3)
        return time.perf_counter()

    with Background(max_running=2) as bg:
        t0 = time.perf_counter()
        tasks = [bg.submit(f"s{i}", stamp) for i in range(3)]
        submitted = time.perf_counter() - t0
        ends = [t.result() for t in tasks]
    assert submitted >= 0.25  # the third waited for the first
    assert ends[2] - ends[0] >= 0.25


@FORK
def test_leaving_early_kills_children_and_prints_nothing(capfd):
    with pytest.raises(RuntimeError, match="parent failed"):
        with Background() as bg:
            task = bg.submit("slow", time.sleep, 30)
            print("before", flush=True)
            raise RuntimeError("parent failed")
    assert task._process.exitcode is not None  # reaped, not left running
    out = capfd.readouterr().out
    assert out.count("before") == 1  # the child does not print the parent's buffer again


def test_not_forked_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not Background().forked


@FORK
def test_children_run_below_the_parents_priority():
    from bayes_ab.workflows.background import NICE

    parent = os.getpriority(os.PRIO_PROCESS, 0)
    with Background() as bg:
        child = bg.submit("priority", os.getpriority, os.PRIO_PROCESS, 0).result()
    assert child == min(parent + NICE, 19)


@FORK
def test_secondary_fits_in_the_background_as_in_process(tmp_path, monkeypatch):
    """`analyze` runs a model's `fit_extras` (the completions model's monotone and linear
    fits and their LOO comparison) in the model's background child, with its summary:
    results.json and the saved posterior carry the comparison as when it runs in this
    process. The other blocks are equal. The comparison's numbers are not compared: a
    child compiles into a numba cache slot of its own, and a cached and a fresh compile
    of one model do not always give the same draws (Monte-Carlo error)."""
    import json

    import arviz as az

    from bayes_ab.inference.fit import SamplerConfig
    from bayes_ab.io import write_json
    from bayes_ab.simulate import simulate, write_simulation
    from bayes_ab.workflows import analyze as pipeline

    folder = tmp_path / "data"
    folder.mkdir()
    write_simulation(simulate(n=3000, seed=5, scenario="effect", truth=False), folder)
    monkeypatch.setattr(pipeline, "MODEL_STEPS", tuple(
        s for s in pipeline.MODEL_STEPS
        if s.key in ("conversion", "cs_engagement", "completions_conversion")))
    runs = {}
    for background in (True, False):
        out = tmp_path / f"out_{background}"
        options = pipeline.AnalyzeOptions(
            sampler=SamplerConfig(draws=150, tune=150, chains=2, seed=3), figures=False,
            forensics=False, prior_sensitivity="none", background=background)
        out.mkdir()
        run = pipeline.analyze(folder, out_dir=out, options=options)
        write_json(out / "results.json", run.results)
        results = json.loads((out / "results.json").read_text())
        saved = az.from_netcdf(run.idata_paths["completions_conversion"])
        for attrs in (saved.attrs, run.idata["completions_conversion"].attrs):
            assert json.loads(attrs["shape_comparison"]) == (
                results["completions_conversion"]["shape_comparison"])
        runs[background] = results
    for results in runs.values():
        shapes = results["completions_conversion"]["shape_comparison"]["shapes"]
        assert set(shapes) == {"unrestricted", "monotone", "linear"}
        assert all(np.isfinite(s["elpd_loo"]) for s in shapes.values())
        results["completions_conversion"].pop("shape_comparison")
        results.pop("timing_seconds", None)
    assert runs[True] == runs[False]


def _collector_state() -> tuple[int, int]:
    """In the child: how many objects are frozen, and how many a full collection sees."""
    import gc

    return gc.get_freeze_count(), len(gc.get_objects())


@FORK
def test_parent_objects_frozen_for_the_children_then_released():
    """Before each fork the parent's objects go to the collector's permanent generation
    (a child's collections never walk them: no page copied for it), and come back when
    the block ends, so a notebook that runs many analyses collects their cycles."""
    import gc

    assert gc.get_freeze_count() == 0
    with Background() as bg:
        frozen, seen = bg.submit("state", _collector_state).result()
        assert frozen > 1000 and seen < frozen  # the child walks only its own objects
        assert gc.get_freeze_count() >= frozen
    assert gc.get_freeze_count() == 0
    with Background(enabled=False) as bg:  # in process: nothing frozen
        assert bg.submit("state", _collector_state).result()[0] == 0


def _spin(seconds: float) -> float:
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
    return seconds


@pytest.mark.parametrize("enabled", [True, False])
def test_cpu_seconds_of_a_stage(enabled):
    """Each task's CPU seconds: the child's own clock (it starts at the fork, so the
    parent's CPU before it is not counted), or this process's around an in-process call."""
    _spin(0.3)  # the parent's CPU so far must not show in the child's
    with Background(enabled=enabled) as bg:
        task = bg.submit("spin", _spin, 0.2)
        task.result()
    assert 0.18 <= task.cpu_seconds < 0.45
