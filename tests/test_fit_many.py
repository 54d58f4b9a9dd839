"""Parallel fits: the same posterior draws in a worker process as in this one; exact
posteriors never leave this process; a user-facing error comes back as a value."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_ab.errors import DataError
from bayes_ab.fit import SamplerConfig
from bayes_ab.fit_many import FitOutcome, fit_models
from bayes_ab.models.arm_comparison import ArmComparison, ArmCounts
from bayes_ab.models.base import BayesModel

COUNTS = ArmCounts(arms=("Control", "Test"), successes=(30, 45), trials=(300, 300))
OTHER = ArmCounts(arms=("Control", "Test"), successes=(80, 60), trials=(400, 200))
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


def test_parallel_fits_equal_in_process_fits(parallel):
    jobs, out, _ = parallel
    assert list(out) == list(jobs)  # the jobs' order
    for key in ("a", "b"):
        assert out[key].in_worker and out[key].error is None
        here = jobs[key][0].fit(jobs[key][1])
        np.testing.assert_array_equal(out[key].idata.posterior["rate"].values,
                                      here.posterior["rate"].values)


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
    from bayes_ab.cli import main

    (tmp_path / "data").mkdir()
    rc = main(["analyze", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--quiet",
               "--workers", "0"])
    assert rc == 2 and "--workers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
