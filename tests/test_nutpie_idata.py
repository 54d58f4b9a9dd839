"""`bayes_ab.inference.fit.nutpie_idata`: nutpie's trace as the InferenceData nutpie itself
returns (same groups, values, dtypes, dims, coordinates and attrs), built without
``arviz.from_dict``'s per-variable alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pm = pytest.importorskip("pymc")
nutpie = pytest.importorskip("nutpie")
xr = pytest.importorskip("xarray")


@pytest.fixture(scope="module")
def compiled():
    from bayes_ab.inference.compile_cache import compile_model

    with pm.Model(coords={"g": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0, 1, dims="g")  # named dims with coordinates
        v = pm.Normal("v", 0, 1, shape=(2, 2))  # unnamed dims: v_dim_0, v_dim_1
        s = pm.HalfNormal("s", 1)  # a scalar (its log on the sampler's scale)
        pm.Deterministic("total", mu.sum() + v.sum())
        pm.Normal("y", mu.sum() + v.sum(), s, observed=pm.Data("obs", np.array([0.1, 0.2])))
    return compile_model(model)


def _raw(compiled):
    return nutpie.sample(compiled, draws=60, tune=50, chains=2, seed=4, progress_bar=False,
                         save_warmup=False, return_raw_trace=True)


def _without_time(ds):
    ds = ds.copy()
    ds.attrs.pop("created_at")
    return ds


def test_same_inference_data_as_nutpie(compiled):
    from nutpie.sample import _arrow_to_arviz

    from bayes_ab.inference.fit import NUTPIE_UNSTORED_STATS, nutpie_idata

    ours = nutpie_idata(_raw(compiled), compiled.coords)
    draws, stats = _raw(compiled).get_arrow_trace()  # the same seed: the same trace
    theirs = _arrow_to_arviz(draws, stats, skip_vars=list(NUTPIE_UNSTORED_STATS),
                             coords={n: pd.Index(v) for n, v in compiled.coords.items()},
                             save_warmup=False)
    public = nutpie.sample(compiled, draws=60, tune=50, chains=2, seed=4,
                           progress_bar=False, save_warmup=False)
    assert ours.groups() == theirs.groups() == public.groups() == [
        "posterior", "sample_stats"]
    for group in ours.groups():
        for other in (theirs, public):
            xr.testing.assert_identical(_without_time(ours[group]),
                                        _without_time(other[group]))
    post = ours.posterior
    assert post["mu"].dims == ("chain", "draw", "g")
    assert list(post["g"].values) == ["a", "b", "c"]
    assert post["v"].dims == ("chain", "draw", "v_dim_0", "v_dim_1")
    assert post.sizes["draw"] == 60 and post.sizes["chain"] == 2
    assert "diverging" in ours.sample_stats and "gradient" not in ours.sample_stats


def test_observed_data_read_without_compiling(monkeypatch):
    """`fit._observed` reads constants, `pm.Data` and PyMC's cast of integer `pm.Data` to
    the likelihood's dtype from the graph: the same values `.eval()` gives, and no
    PyTensor function compiled (the first compile in a process cost about 1 s)."""
    import pymc as pm
    import pytensor

    from bayes_ab.inference.fit import _observed

    with pm.Model() as model:
        n = pm.Data("n", np.array([10.0, 20.0]))  # float data, integer likelihood: cast
        k = pm.Data("k", np.array([3, 7]))
        p = pm.Beta("p", 1, 1, shape=2)
        pm.Binomial("y", n=n, p=p, observed=k)
        pm.Normal("z", 0, 1, observed=np.array([0.5, -1.5]))
        pm.Poisson("c", 1.0, observed=pm.Data("c_data", np.array([1.7, 2.0])))
    expected = {rv.name: model.rvs_to_values[rv].eval() for rv in model.observed_RVs}

    def no_compile(*args, **kwargs):
        raise AssertionError("a PyTensor function was compiled")

    monkeypatch.setattr(pytensor, "function", no_compile)
    monkeypatch.setattr(pytensor.graph.basic.Variable, "eval", no_compile)
    obs = _observed(model).observed_data
    for name, value in expected.items():
        np.testing.assert_array_equal(obs[name].values, value)
        assert obs[name].dtype == value.dtype
