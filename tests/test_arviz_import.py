"""`bayes_ab.inference.arviz_import`: ArviZ's import-time numba ufunc compiled with numba's
on-disk cache, the function unchanged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("numba")

PROBE = """
import json, time, numpy as np
import bayes_ab
t = time.perf_counter()
import arviz
seconds = time.perf_counter() - t
from arviz.stats import ecdf_utils as e
from scipy import stats
k, n = np.arange(11), np.full(11, 10)
print(json.dumps({
    "loader": type(e.__loader__).__name__,
    "max_error": float(np.max(np.abs(e._binom_pmf(k, n, 0.3, np.zeros(11, dtype=np.int64))
                                     - stats.binom.pmf(k, 10, 0.3)))),
    "seconds": seconds,
}))
"""


def _probe(env_cache) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env_cache, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_arviz_ufunc_is_compiled_with_a_cache_and_unchanged(tmp_path):
    import os

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = _probe(env)
    assert first["loader"] == "_CachedVectorizeLoader"
    assert first["max_error"] < 1e-12
    # numba kept the compiled ufunc in the cache folder given to it ...
    kept = [p.name for p in (tmp_path / "numba").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert any("_binom_pmf" in name for name in kept), kept
    # ... and a second process loads it: the same values.
    second = _probe(env)
    assert second["max_error"] < 1e-12


def test_hook_leaves_other_modules_and_numba_alone():
    import numba

    from bayes_ab.inference import arviz_import

    finder = arviz_import._Finder()
    assert finder.find_spec("arviz.stats.diagnostics", None) is None
    assert numba.vectorize.__module__.startswith("numba")
