"""Parallel fits: the same posterior draws in a worker process as in this one; exact
posteriors never leave this process; a user-facing error comes back as a value."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.errors import DataError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.fit_many import FitOutcome, fit_models
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
from bayes_ab.models.base import BayesModel

COUNTS = ArmComparisonStats(arms=("Control", "Test"), successes=(30, 45), trials=(300, 300))
OTHER = ArmComparisonStats(arms=("Control", "Test"), successes=(80, 60), trials=(400, 200))
MCMC = SamplerConfig(draws=200, tune=200, chains=2, seed=4, exact=False)


class Broken(BayesModel):
    """A model whose fit fails the way a data problem does."""

    name = "broken"

    def fit(self, config=SamplerConfig()):
        raise DataError("no flags in OTHER")


@pytest.fixture(scope="module")
def parallel():
    jobs = {
        "exact": (ArmComparison(COUNTS), SamplerConfig(draws=500, chains=2, seed=1)),
        "a": (ArmComparison(COUNTS), MCMC),
        "b": (ArmComparison(OTHER), MCMC.with_seed_offset(1)),
        "broken": (Broken(None), MCMC),
    }
    seen = []
    out = fit_models(jobs, workers=2, on_done=lambda k, o: seen.append(k))
    return jobs, out, seen


@pytest.mark.slow  # shares a fixture of about a minute (default run < 10 min)
def test_parallel_fits_equal_in_process_fits(parallel):
    jobs, out, _ = parallel
    assert list(out) == list(jobs)  # the jobs' order
    for key in ("a", "b"):
        assert out[key].in_worker and out[key].error is None
        here = jobs[key][0].fit(jobs[key][1])
        np.testing.assert_array_equal(out[key].idata.posterior["rate"].values,
                                      here.posterior["rate"].values)


@pytest.mark.slow  # shares a fixture of about a minute (default run < 10 min)
def test_exact_posteriors_stay_here_and_errors_come_back(parallel):
    _, out, seen = parallel
    assert not out["exact"].in_worker and out["exact"].idata.attrs["exact"] == 1
    assert isinstance(out["broken"], FitOutcome) and out["broken"].idata is None
    assert isinstance(out["broken"].error, DataError)
    assert "no flags in OTHER" in str(out["broken"].error)
    assert sorted(seen) == ["a", "b", "broken", "exact"]


def test_one_worker_fits_here():
    out = fit_models({"a": (ArmComparison(COUNTS), MCMC)}, workers=1)
    assert not out["a"].in_worker and out["a"].idata.posterior["rate"].shape == (2, 200, 2)


def test_workers_option_is_checked(tmp_path, capsys):
    from bayes_ab.cli.main import main

    (tmp_path / "data").mkdir()
    rc = main(["analyze", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--quiet",
               "--workers", "0"])
    assert rc == 2 and "--workers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


_CLAIM = ("import sys; from bayes_ab.inference.fit import claim_numba_cache; "
          "print('SLOT', claim_numba_cache(sys.argv[1]))")


def _claim_in_child(root) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-c", _CLAIM, str(root)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return next(line for line in r.stdout.splitlines() if line.startswith("SLOT ")).split(" ", 1)[1]


def test_each_process_compiles_into_a_numba_cache_folder_of_its_own(tmp_path):
    """While this process holds the usual folder, a second process gets the next slot
    (never the same folder at the same time); once it is free again, a new process gets
    the usual folder back (what a lone second run reads: warm)."""
    from pytensor.link.numba import cache as pt_cache

    import bayes_ab.inference.fit as fit

    saved = (pt_cache.NUMBA_CACHE_PATH, fit._NUMBA_SLOT)
    try:
        fit._NUMBA_SLOT = None
        mine = fit.claim_numba_cache(tmp_path)
        assert mine == tmp_path / "numba"
        assert pt_cache.NUMBA_CACHE_PATH == mine  # PyTensor writes there now
        assert _claim_in_child(tmp_path) == str(tmp_path / "numba-1")
    finally:
        if fit._NUMBA_SLOT is not None:
            fit._NUMBA_SLOT[1].close()
        pt_cache.NUMBA_CACHE_PATH, fit._NUMBA_SLOT = saved
    assert _claim_in_child(tmp_path) == str(tmp_path / "numba")
