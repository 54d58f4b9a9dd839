"""bayes_ab.inference.compile_cache: nutpie's compile kept on disk, keyed by the model's graph.

The cache must never change an answer: a hit gives the same draws as nutpie's own compile at
the same seed, data reach the cached code at run time (a conjugate model recovers its closed
form on two datasets through one compiled entry), and anything that changes the compiled
code (a constant, a data shape, the model's structure) changes the key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
nutpie = pytest.importorskip("nutpie")

from bayes_ab.inference import compile_cache as cc  # noqa: E402

PRIOR_SD = 10.0
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"


#: A constant in every test model, new in each test session: its keys are new, so the first
#: compile of each model here is a real compile (and PyTensor's own ops stay cached).
TAG = float(uuid.uuid4().int % 10**9)


@pytest.fixture(scope="module")
def cache_dir():
    """This process's numba cache folder; the entries this module adds are removed after it."""
    from bayes_ab.inference.fit import claim_numba_cache

    folder = claim_numba_cache()
    if folder is None:
        pytest.skip("no numba cache folder for this process")
    before = set(folder.iterdir())
    yield folder
    for path in set(folder.iterdir()) - before:
        if "bayes_ab" in path.name:
            path.unlink(missing_ok=True)


def normal_model(y, *, const: float = 0.0, as_data: bool = True, tag: float = TAG) -> pm.Model:
    """y ~ N(mu + const, 1), mu ~ N(0, PRIOR_SD): posterior of mu in closed form."""
    with pm.Model() as model:
        pm.Deterministic("tag", pm.math.constant(tag))
        obs = pm.Data("y", np.asarray(y, float)) if as_data else np.asarray(y, float)
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Deterministic("mu_shift", mu + const)
        pm.Normal("y_obs", mu + const, 1.0, observed=obs)
    return model


def closed_form(y) -> tuple[float, float]:
    y = np.asarray(y, float)
    prec = y.size + 1.0 / PRIOR_SD**2
    return float(y.sum() / prec), float(np.sqrt(1.0 / prec))


def draws(compiled, seed: int = 7) -> np.ndarray:
    idata = nutpie.sample(compiled, draws=300, tune=300, chains=2, seed=seed,
                          progress_bar=False)
    return idata.posterior["mu"].values


def test_cached_compile_draws_exactly_what_nutpie_draws(cache_dir):
    """Same log density and trace as nutpie's own compile: from the same initial points,
    the same draws to the last bit (the compiled model and a cache hit)."""
    from dataclasses import replace

    y = np.random.default_rng(1).normal(2.0, 1.0, size=50)
    ours = cc.compile_model(normal_model(y))
    hit = cc.compile_model(normal_model(y))
    assert hit.logp_func is None  # loaded
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=False):  # as compile_model compiles
        theirs = replace(nutpie.compile_pymc_model(normal_model(y)),
                         initial_point_func=ours.initial_point_func)
    np.testing.assert_array_equal(draws(ours), draws(theirs))
    np.testing.assert_array_equal(draws(hit), draws(theirs))
    key = cc.graph_key(normal_model(y))[0]
    assert (cache_dir / f"bayes_ab-{key}.json").exists(), "the compiled entry was kept"


def test_initial_points_are_the_support_point_jittered_as_nutpie_does(cache_dir):
    """A hit compiles no initial-point function: the support point is stored with the entry
    (PyMC's, unjittered), and each chain starts at it plus U(-1, 1) on every coordinate,
    drawn from the chain's seed; a support point that depends on data is not stored."""
    from pymc.initial_point import make_initial_point_fn

    y = np.arange(6.0)
    with pm.Model() as model:
        pm.Deterministic("tag", pm.math.constant(TAG))
        sd = pm.HalfNormal("sd", 2.0)
        mu = pm.Normal("mu", 3.0, 1.0, shape=2)
        pm.Normal("y_obs", mu.sum(), sd, observed=pm.Data("y", y))
    compiled = cc.compile_model(model)
    key = cc.graph_key(model)[0]
    meta = json.loads((cache_dir / f"bayes_ab-{key}.json").read_text())
    pymc_point = make_initial_point_fn(model=model, jitter_rvs=set(),
                                       return_transformed=True)(0)
    expected = np.concatenate([np.ravel(pymc_point[n]) for n in meta["names"][:meta["n_free"]]])
    np.testing.assert_array_equal(meta["support_point"], expected)  # mu 3, 3; log(sd)
    starts = np.array([compiled.initial_point_func(seed) for seed in range(200)])
    assert np.all(np.abs(starts - expected) <= 1.0)
    assert starts.std(axis=0) == pytest.approx(np.full(3, 2 / np.sqrt(12)), rel=0.2)
    np.testing.assert_array_equal(compiled.initial_point_func(5), compiled.initial_point_func(5))

    with pm.Model() as by_data:  # the prior's location is data: computed in every run
        pm.Deterministic("tag", pm.math.constant(TAG))
        loc = pm.Data("loc", np.array(1.0))
        pm.Normal("y_obs", pm.Normal("mu", loc, 1.0), 1.0, observed=pm.Data("y", y))
    again = cc.compile_model(by_data)
    meta = json.loads((cache_dir / f"bayes_ab-{cc.graph_key(by_data)[0]}.json").read_text())
    assert meta["support_point"] is None
    assert np.all(np.abs(again.initial_point_func(1) - 1.0) <= 1.0)


def test_second_compile_is_loaded_and_data_arrive_at_run_time(cache_dir):
    rng = np.random.default_rng(2)
    y1, y2 = rng.normal(2.0, 1.0, size=40), rng.normal(-3.0, 1.0, size=40)
    first = cc.compile_model(normal_model(y1))
    assert first.logp_func is not None  # compiled here
    cc._LOADED.clear()  # as in a later process: from disk
    again = cc.compile_model(normal_model(y1))
    assert again.logp_func is None and again.compiled_logp_func._cache_hits == 1  # loaded
    np.testing.assert_array_equal(draws(first), draws(again))
    # new data of the same shape: the same entry, the new data's posterior
    other = cc.compile_model(normal_model(y2))
    assert other.logp_func is None
    swapped = again.with_data(y=y2)  # nutpie's interface: new data, nothing compiled
    np.testing.assert_array_equal(draws(swapped), draws(other))
    for y, compiled in ((y1, again), (y2, other)):
        mean, sd = closed_form(y)
        d = draws(compiled)
        assert abs(d.mean() - mean) < 4 * sd / np.sqrt(100)  # within MC error (ESS >= 100)
        assert d.std() == pytest.approx(sd, rel=0.15)


def test_key_changes_with_constants_shapes_and_structure():
    y = np.arange(10.0)
    base = cc.graph_key(normal_model(y))[0]
    assert cc.graph_key(normal_model(y))[0] == base  # deterministic
    assert cc.graph_key(normal_model(y + 1.0))[0] == base  # pm.Data values: run time
    assert cc.graph_key(normal_model(np.arange(11.0)))[0] != base  # a data shape
    assert cc.graph_key(normal_model(y, const=0.5))[0] != base  # a constant
    assert cc.graph_key(normal_model(y, as_data=False))[0] != base  # data baked in
    assert cc.graph_key(normal_model(y + 1.0, as_data=False))[0] != cc.graph_key(
        normal_model(y, as_data=False))[0]  # baked-in data are keyed by value
    with pm.Model() as other:
        pm.Data("y", y)
        mu = pm.StudentT("mu", nu=3, mu=0.0, sigma=PRIOR_SD)
        pm.Deterministic("mu_shift", mu)
        pm.Normal("y_obs", mu, 1.0, observed=other["y"])
    assert cc.graph_key(other)[0] != base  # another prior


def _positive_model(*, det_name="scale2", name="scale", **kwargs):
    with pm.Model() as model:
        scale = pm.HalfNormal(name, 1.0, **kwargs)
        pm.Deterministic(det_name, 2 * scale)
        pm.Normal("y_obs", 0.0, scale, observed=pm.Data("y", np.arange(4.0)))
    return model


def test_key_sees_transforms_names_and_the_generative_graph():
    """The key is the generative graph (not the log density): what PyMC derives the log
    density and the trace from must all be in it: each variable's transform, each name."""
    from pymc.distributions.transforms import log, logodds

    base = cc.graph_key(_positive_model())[0]
    assert cc.graph_key(_positive_model())[0] == base
    assert cc.graph_key(_positive_model(default_transform=log))[0] == base  # its default
    assert cc.graph_key(_positive_model(default_transform=None))[0] != base  # untransformed
    assert cc.graph_key(_positive_model(default_transform=logodds))[0] != base
    assert cc.graph_key(_positive_model(transform=log))[0] != base  # log after log
    assert cc.graph_key(_positive_model(det_name="twice"))[0] != base  # a trace name
    assert cc.graph_key(_positive_model(name="sd"))[0] != base  # a value variable's name
    lines = cc._variable_lines(_positive_model())
    assert "deterministic:'scale2'" in lines and any("LogTransform" in x for x in lines)


def test_custom_distributions_are_keyed_by_their_log_density():
    """A CustomDist's log density is a Python function beside the graph: two models that
    differ only there must not share a key (the log density graph is hashed instead)."""
    def model_with(logp):
        with pm.Model() as model:
            mu = pm.Normal("mu", 0.0, 1.0)
            pm.CustomDist("y", mu, logp=logp, observed=np.arange(3.0))
        return model

    with pytest.raises(cc._Unkeyable, match="custom distribution"):
        cc._variable_lines(model_with(lambda v, m: -((v - m) ** 2)))
    a = cc.graph_key(model_with(lambda v, m: -((v - m) ** 2)))
    b = cc.graph_key(model_with(lambda v, m: -abs(v - m)))
    assert a is not None and b is not None and a[0] != b[0]


def test_a_model_met_again_reads_nothing_from_disk(cache_dir, monkeypatch):
    """Compiled (or loaded) once, a model's callbacks are kept in the process: the same
    model on other data of the same shapes loads nothing, and draws what a load draws."""
    rng = np.random.default_rng(4)
    y1, y2 = rng.normal(1.0, 1.0, size=30), rng.normal(-1.0, 1.0, size=30)
    cc.compile_model(normal_model(y1))
    cc._LOADED.clear()
    from_disk = cc.compile_model(normal_model(y2))
    assert from_disk.compiled_logp_func._cache_hits == 1
    monkeypatch.setattr(cc, "_callbacks", lambda *a, **k: pytest.fail("read from disk"))
    kept = cc.compile_model(normal_model(y2))
    assert kept.logp_func is None and kept.compiled_logp_func is from_disk.compiled_logp_func
    np.testing.assert_array_equal(draws(kept), draws(from_disk))
    key = cc.graph_key(normal_model(y2))[0]
    layout = json.loads((cache_dir / f"bayes_ab-{key}.json").read_text())["layout"]
    assert layout == {"y": [1, "float64"]}


@pytest.mark.slow  # a fresh process (9 s): run by .ci/run's slow pass
def test_preload_loads_the_entries_a_fork_then_uses(cache_dir):
    """`preload` (what `bayes-ab serve` runs once) loads the recently used entries from
    their recorded layout, without the data: a later compile of such a model in that
    process (or its forks) reads nothing from disk and draws what a load draws."""
    y = np.random.default_rng(6).normal(0.5, 1.0, size=25)
    compiled = cc.compile_model(normal_model(y))
    expected = draws(compiled)
    code = textwrap.dedent("""
        import sys
        import numpy as np
        sys.path.insert(0, %r)
        from pytensor.link.numba import cache as pt_cache
        pt_cache.NUMBA_CACHE_PATH = %r
        from test_compile_cache import normal_model, draws
        from bayes_ab.inference import compile_cache as cc
        key = cc.graph_key(normal_model(np.asarray(%r), tag=%r))[0]
        n = cc.preload(limit=1000)
        assert key in cc._LOADED, (n, key)
        def fail(*a, **k):
            raise AssertionError("read from disk")
        cc._callbacks = fail
        model = cc.compile_model(normal_model(np.asarray(%r), tag=%r))
        assert model.logp_func is None
        print(draws(model).tobytes().hex())
    """) % (str(Path(__file__).parent), str(cache_dir), y.tolist(), TAG, y.tolist(), TAG)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected.tobytes().hex()


def test_key_is_the_same_in_another_process():
    code = textwrap.dedent("""
        import json, sys
        import numpy as np
        sys.path.insert(0, %r)
        from test_compile_cache import normal_model
        from bayes_ab.inference.compile_cache import graph_key
        print(json.dumps(graph_key(normal_model(np.arange(10.0), tag=%r))[0]))
    """) % (str(__import__("pathlib").Path(__file__).parent), TAG)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == cc.graph_key(
        normal_model(np.arange(10.0)))[0]


def test_what_cannot_be_keyed_is_compiled_not_cached(cache_dir, monkeypatch):
    with pytest.raises(cc._Unkeyable):
        cc._value_key(object())  # an identity, not a content
    model = normal_model(np.arange(5.0))
    key = cc.graph_key(model)[0]
    monkeypatch.setattr(cc, "graph_key", lambda model: None)
    compiled = cc.compile_model(model)
    assert compiled.logp_func is not None
    assert not (cache_dir / f"bayes_ab-{key}.json").exists()


def test_a_broken_entry_is_compiled_again(cache_dir):
    y = np.linspace(0, 1, 20)
    key = cc.graph_key(normal_model(y))[0]
    (cache_dir / f"bayes_ab-{key}.json").write_text("{not json")
    compiled = cc.compile_model(normal_model(y))
    assert compiled.logp_func is not None  # compiled, not served
    mean, sd = closed_form(y)
    assert abs(draws(compiled).mean() - mean) < 4 * sd / np.sqrt(100)
    assert json.loads((cache_dir / f"bayes_ab-{key}.json").read_text())["n_dim"] == 1


def test_an_invalid_point_is_an_error_code(cache_dir):
    """nutpie reads a non-zero return as a failed evaluation: the callback returns 0 and the
    exact log density at a valid point, and 4 (log density not finite) where PyMC's
    parameter check fails (sigma <= 0 through new data)."""
    import ctypes

    with pm.Model() as model:
        pm.Deterministic("tag", pm.math.constant(TAG + 1))
        sd = pm.Data("sd", np.array(1.0))
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Normal("y_obs", mu, sd, observed=np.zeros(3))
    compiled = cc.compile_model(model)

    def call(c) -> tuple[int, float]:
        x, out, logp = np.zeros(1), np.zeros(1), np.zeros(1)
        ptr = ctypes.c_void_p
        rc = c.compiled_logp_func.ctypes(1, x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                         out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                         logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                         ptr(c.user_data.ctypes.data))
        return rc, float(logp[0])

    rc, logp = call(compiled)
    assert rc == 0 and logp == pytest.approx(
        -0.5 * np.log(2 * np.pi * PRIOR_SD**2) - 1.5 * np.log(2 * np.pi))
    assert call(compiled.with_data(sd=-1.0))[0] == 4


FIRST_AND_LATER_RUN = """
import hashlib, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, nutpie
from bayes_ab.data.load import load_experiment
from bayes_ab.inference import compile_cache as cc
from bayes_ab.inference.fit import claim_numba_cache
from bayes_ab.workflows.analyze import build_model
claim_numba_cache()
model = build_model("completions_conversion", load_experiment(sys.argv[1])).build("linear")
compiled = cc.compile_model(model)
idata = nutpie.sample(compiled, draws=200, tune=200, chains=2, seed=11, progress_bar=False)
post = np.concatenate([idata.posterior[v].values.ravel() for v in ("intercept", "slope")])
print("loaded" if compiled.logp_func is None else "compiled",
      hashlib.sha256(post.tobytes()).hexdigest())
"""


@pytest.mark.slow  # 55 s: every PyTensor op compiled (.ci/run runs it)
def test_the_run_that_compiles_draws_what_later_runs_draw(tmp_path):
    """The first run on a machine (a cache miss: it compiles) and every later run (a hit in
    another process: numba loads the code) give the same draws at the same seed, to the
    last bit. With numba's fast-math flags they did not (the completions model's linear
    shape on the example: the loaded code's log density differed in its last bits from
    the compiled code's, and MCMC amplified that)."""
    import os

    # Empty compile folders: the first run compiles every PyTensor op too, as on a new
    # machine (the difference did not show with the ops loaded from a warm cache).
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def run() -> list[str]:
        out = subprocess.run([sys.executable, "-c", FIRST_AND_LATER_RUN, str(EXAMPLE)], env=env,
                             capture_output=True, text=True, timeout=600, check=True)
        return out.stdout.split()[-2:]

    first, later = run(), run()
    assert (first[0], later[0]) == ("compiled", "loaded")
    assert first[1] == later[1]
