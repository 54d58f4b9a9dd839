"""The diagnostic gate's r_hat and bulk ESS (`bayes_ab.inference.diagnostics`), computed
on every element at once, against ArviZ's own per-element functions: the same numbers."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bayes_ab.inference.diagnostics import (
    _average_ranks,
    bulk_ess,
    check,
    rank_rhat,
    rhat_and_ess,
)

az = pytest.importorskip("arviz")


def _arviz(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's rank r_hat and bulk ESS of each element of ``(chain, draw, element)``."""
    r_hat, ess = [], []
    logging.disable(logging.WARNING)  # ArviZ logs "Array contains NaN-value."
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for k in range(draws.shape[-1]):
                element = draws[..., k]
                r_hat.append(float(az.rhat(element)) if draws.shape[0] >= 2 else np.nan)
                ess.append(float(az.ess(element, method="bulk")))
    finally:
        logging.disable(logging.NOTSET)
    return np.array(r_hat), np.array(ess)


def _assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, equal_nan=True)


@st.composite
def draw_arrays(draw):
    chains = draw(st.integers(1, 4))
    n = draw(st.integers(2, 40))
    elements = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["normal", "few values", "random walk", "with constant",
                                 "with nan"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (chains, n, elements)
    if kind == "few values":  # ties everywhere (a discrete quantity)
        x = rng.integers(0, draw(st.integers(1, 4)), size=shape).astype(float)
    elif kind == "random walk":  # strong autocorrelation: Geyer's truncation at work
        x = np.cumsum(rng.normal(size=shape), axis=1)
    else:
        x = rng.normal(size=shape)
    if kind == "with constant":
        x[..., 0] = 0.5
    if kind == "with nan":
        x[rng.integers(chains), rng.integers(n), 0] = np.nan
    return x


@settings(max_examples=150, deadline=None)
@given(draw_arrays())
def test_rhat_and_ess_equal_arviz(draws):
    r_hat, ess = rhat_and_ess(draws)
    theirs_r, theirs_e = _arviz(draws)
    _assert_same(r_hat, theirs_r)
    _assert_same(ess, theirs_e)
    _assert_same(rank_rhat(draws), theirs_r)
    _assert_same(bulk_ess(draws), theirs_e)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=30),
                  elements=st.sampled_from([-1.0, 0.0, 0.25, 2.0, 3.5]) | st.floats(-5, 5)))
def test_average_ranks_equal_scipy(flat):
    from scipy import stats

    np.testing.assert_array_equal(_average_ranks(flat), stats.rankdata(flat, axis=-1))


def test_long_chains_equal_arviz():
    """Chains as long as the analysis draws (1,000), autocorrelated, with ties and an
    odd number of draws (ArviZ's split drops the middle draw)."""
    rng = np.random.default_rng(20261202)
    ar1 = np.zeros((4, 1001, 3))
    for t in range(1, 1001):
        ar1[:, t] = 0.9 * ar1[:, t - 1] + rng.normal(size=(4, 3))
    ar1[..., 2] = np.round(ar1[..., 2])  # a rounded quantity: many ties
    ours = rhat_and_ess(ar1)
    theirs = _arviz(ar1)
    _assert_same(ours[0], theirs[0])
    _assert_same(ours[1], theirs[1])
    # an AR(1) with phi 0.9 keeps about (1 - 0.9) / (1 + 0.9) of its draws
    assert 4004 * 0.1 / 1.9 * 0.6 < ours[1][0] < 4004 * 0.1 / 1.9 * 1.6


def test_check_equals_arviz_over_named_variables():
    """`check` takes the max r_hat / min ESS over every element of the named variables
    (dims transposed as they come), skipping a constant element's NaN r_hat."""
    rng = np.random.default_rng(5)
    effect = np.cumsum(rng.normal(size=(4, 300, 2, 3)), axis=1) * 0.05 + rng.normal(
        size=(4, 300, 2, 3))
    effect[..., 0, 0] = 0.0
    mu = rng.normal(size=(4, 300))
    idata = az.from_dict(posterior={"effect": effect, "mu": mu, "ignored": mu * np.nan})
    diag = check(idata, name="m", var_names=["effect", "mu"])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        post = idata.posterior[["effect", "mu"]]
        max_r = max(float(np.nanmax(az.rhat(post)[v].values)) for v in ["effect", "mu"])
        min_e = min(float(np.nanmin(az.ess(post)[v].values)) for v in ["effect", "mu"])
    assert diag.max_r_hat == pytest.approx(max_r, rel=1e-12)
    assert diag.min_ess_bulk == pytest.approx(min_e, rel=1e-12)
    assert diag.n_chains == 4 and diag.n_draws == 300


def test_single_chain_has_no_rhat_but_an_ess():
    x = np.random.default_rng(2).normal(size=(1, 200, 2))
    r_hat, ess = rhat_and_ess(x)
    assert np.isnan(r_hat).all()
    _assert_same(ess, _arviz(x)[1])


def test_draws_must_be_three_dimensional():
    with pytest.raises(ValueError, match="chain, draw, element"):
        rhat_and_ess(np.zeros((4, 100)))
