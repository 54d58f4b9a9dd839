"""The "nutpie-jax" sampler: nutpie on JAX gradients, with JAX's persistent compilation
cache in the user's cache folder (never the data folder or the working directory), shared
safely by processes that compile at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SAMPLERS, SamplerConfig, jax_cache_dir
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats

COUNTS = ArmComparisonStats(arms=("Control", "Test"), successes=(30, 45), trials=(300, 300))

pytest.importorskip("jax")


def test_sampler_choices_keep_numba_and_pymc():
    assert SAMPLERS == ("nutpie", "nutpie-jax", "pymc")
    assert SamplerConfig().sampler == "nutpie"  # the default stays numba (measured faster)
    with pytest.raises(OptionError):
        SamplerConfig(sampler="jax")


def test_cache_dir_is_the_users_cache_not_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("BAYES_AB_CACHE_DIR", str(tmp_path / "c"))
    assert jax_cache_dir() == tmp_path / "c" / "jax"
    monkeypatch.delenv("BAYES_AB_CACHE_DIR")
    from platformdirs import user_cache_dir

    path = jax_cache_dir()
    assert path == Path(user_cache_dir("bayes_ab")) / "jax"
    assert Path.cwd() not in path.parents


def test_jax_posterior_matches_the_closed_form_and_fills_the_cache(monkeypatch, tmp_path):
    """Beta(1, 1) x Binomial: the MCMC draws on JAX match Beta(1 + s, 1 + n - s)."""
    monkeypatch.setenv("BAYES_AB_CACHE_DIR", str(tmp_path))
    config = SamplerConfig(sampler="nutpie-jax", draws=1000, tune=300, chains=2, seed=3,
                           exact=False)
    idata = ArmComparison(COUNTS).fit(config)
    rate = idata.posterior["rate"].values.reshape(-1, 2)
    for k, (s, n) in enumerate(zip(COUNTS.successes, COUNTS.trials, strict=True)):
        exact = stats.beta(1 + s, 1 + n - s)
        # Monte-Carlo error of a mean over ~1000 effective draws: sd / sqrt(1000).
        assert abs(rate[:, k].mean() - exact.mean()) < 5 * exact.std() / np.sqrt(1000)
        assert abs(rate[:, k].std() - exact.std()) < 0.15 * exact.std()
    assert list((tmp_path / "jax").glob("*-cache")), "no compiled program was cached"


_CHILD = """
import sys
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
c = ArmComparisonStats(arms=("Control", "Test"), successes=(30, 45), trials=(300, 300))
idata = ArmComparison(c).fit(SamplerConfig(sampler="nutpie-jax", draws=200, tune=200,
                                           chains=2, seed=int(sys.argv[1]), exact=False))
print("MEAN", float(idata.posterior["rate"].mean()))
"""


@pytest.mark.slow
def test_two_processes_share_a_fresh_cache(tmp_path):
    """Two processes compiling the same program into one empty cache at once both succeed,
    and a third reads what they wrote (the failure a shared numba cache once had)."""
    env = {**os.environ, "BAYES_AB_CACHE_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(seed)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert "MEAN" in out
    cached = sorted((tmp_path / "jax").glob("*-cache"))
    assert cached
    third = subprocess.run([sys.executable, "-c", _CHILD, "3"], env=env, capture_output=True,
                           text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-2000:]
    assert sorted((tmp_path / "jax").glob("*-cache")) == cached  # read, not recompiled
