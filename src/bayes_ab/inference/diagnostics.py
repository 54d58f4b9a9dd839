"""Convergence diagnostics: the gate every posterior passes before it is published.

Its r_hat and bulk ESS are ArviZ's definitions computed on every element at once
(`rhat_and_ess`); `summary_table` is the one call of ArviZ's summary. A model passes when
max r_hat <= 1.01, min bulk ESS >= 400 and there are no divergences
(DEVELOPERS.md); otherwise it is flagged failed in the report and the JSON.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.constants import MAX_DIVERGENCES, MAX_R_HAT, MIN_ESS_BULK

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az


@dataclass(frozen=True)
class ModelDiagnostics:
    name: str
    max_r_hat: float
    min_ess_bulk: float
    divergences: int
    n_draws: int = 0
    n_chains: int = 0

    @property
    def passed(self) -> bool:
        return (
            np.isfinite(self.max_r_hat)
            and self.max_r_hat <= MAX_R_HAT
            and self.min_ess_bulk >= MIN_ESS_BULK
            and self.divergences <= MAX_DIVERGENCES
        )

    def problems(self) -> list[str]:
        out = []
        if not (np.isfinite(self.max_r_hat) and self.max_r_hat <= MAX_R_HAT):
            out.append(f"max r_hat {self.max_r_hat:.3f} > {MAX_R_HAT}")
        if self.min_ess_bulk < MIN_ESS_BULK:
            out.append(f"min bulk ESS {self.min_ess_bulk:.0f} < {MIN_ESS_BULK}")
        if self.divergences > MAX_DIVERGENCES:
            out.append(f"{self.divergences} divergent transition(s)")
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("name")
        d["passed"] = bool(self.passed)
        return d


def check(idata: az.InferenceData, *, name: str, var_names: Iterable[str] | None = None) -> ModelDiagnostics:
    """Max r_hat, min bulk ESS and divergences over the (named) posterior variables.

    r_hat is ArviZ's default (rank-normalised split r_hat, the larger of bulk and folded)
    and the ESS its bulk ESS, both computed by `rank_rhat` / `bulk_ess` on every scalar
    element at once (equal to ``az.rhat`` / ``az.ess`` to rounding: tested)."""
    post = idata.posterior
    names = list(var_names) if var_names is not None else list(post.data_vars)
    names = [v for v in names if v in post.data_vars]
    n_chains = int(post.sizes.get("chain", 1))
    n_draws = int(post.sizes.get("draw", 0))
    # r_hat needs two chains (NaN with one: a single chain cannot show convergence). An
    # element that never varies (e.g. a task effect fixed at 0 by the parameterisation)
    # has no within-chain variance: its r_hat is NaN (0/0, computed without numpy's
    # warning) and is left out of the max, as is a NaN ESS of the min.
    r_hat, ess = rhat_and_ess(stacked_draws(post, names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        max_r_hat = float(np.nanmax(r_hat)) if r_hat.size else float("nan")
        min_ess = float(np.nanmin(ess)) if ess.size else float("nan")
    divergences = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        divergences = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    return ModelDiagnostics(
        name=name, max_r_hat=max_r_hat, min_ess_bulk=min_ess, divergences=divergences,
        n_draws=n_draws, n_chains=n_chains,
    )


def stacked_draws(post, names: list[str]) -> np.ndarray:
    """Every scalar element of the named variables as one ``(chain, draw, element)``
    float array."""
    n_chains = int(post.sizes.get("chain", 1))
    n_draws = int(post.sizes.get("draw", 0))
    blocks = []
    for v in names:
        da = post[v].transpose("chain", "draw", ...)
        blocks.append(np.asarray(da.values, dtype=float).reshape(n_chains, n_draws, -1))
    if not blocks:
        return np.empty((n_chains, n_draws, 0))
    return np.concatenate(blocks, axis=-1)


# --- r_hat and bulk ESS on many elements at once ------------------------------------------
#
# ArviZ 0.23 computes both one scalar element at a time (a Python loop through xarray's
# apply_ufunc, a scipy rankdata and normal quantile per element, and Geyer's truncation as
# a Python loop over lags): 0.1-0.5 s per model here, on the analysis' critical path. The
# functions below are the same definitions (Vehtari et al. 2021, "Rank-normalization,
# folding, and localization", as ArviZ implements them, step for step) on an array
# ``(chain, draw, element)``, every element at once.


def _split(draws: np.ndarray) -> np.ndarray:
    """``(element, 2 * chain, half)``: each chain's first and last halves as chains
    (the middle draw of an odd count left out), ArviZ's `_split_chains`."""
    half = draws.shape[1] // 2
    x = np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]], axis=0)
    return np.moveaxis(x, -1, 0)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalised values: average ranks over all of an element's draws, Blom's
    offset 3/8, standard normal quantile (ArviZ's `_z_scale`)."""
    from scipy import special

    flat = x.reshape(x.shape[0], -1)
    rank = _average_ranks(flat)
    size = flat.shape[-1]
    return special.ndtri((rank - 3 / 8) / (size - 2 * 3 / 8 + 1)).reshape(x.shape)


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks 1..n along the last axis of a 2-d array without NaN, ties given their
    average rank (scipy's ``rankdata(method="average")``, equal to it exactly: the
    average of consecutive integers is exact in floating point), every row at once."""
    n = flat.shape[-1]
    order = np.argsort(flat, axis=-1)
    ordered = np.take_along_axis(flat, order, axis=-1)
    starts = np.ones(flat.shape, dtype=bool)  # where a run of equal values begins
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    positions = np.broadcast_to(np.arange(1, n + 1, dtype=float), flat.shape)
    if starts.all():  # no ties (continuous draws): the positions are the ranks
        sorted_ranks = positions
    else:  # a run never crosses rows: each row's first value starts one
        run = np.cumsum(starts.ravel()) - 1
        average = np.bincount(run, weights=positions.ravel()) / np.bincount(run)
        sorted_ranks = average[run].reshape(flat.shape)
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, sorted_ranks, axis=-1)
    return ranks


def _rhat(z: np.ndarray) -> np.ndarray:
    n = z.shape[-1]
    between = n * z.mean(axis=-1).var(axis=-1, ddof=1)
    within = z.var(axis=-1, ddof=1).mean(axis=-1)
    return np.sqrt((between / within + n - 1) / n)


def _invalid(draws: np.ndarray) -> np.ndarray:
    """Elements ArviZ answers NaN for: any NaN draw, fewer than 4 draws."""
    bad = np.isnan(draws).any(axis=(0, 1))
    if draws.shape[1] < 4:
        bad[:] = True
    return bad


def rank_rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split r_hat of each element of ``draws`` ``(chain, draw,
    element)``: the larger of the bulk (z-scaled) and tail (folded, then z-scaled)
    values, as ``az.rhat(..., method="rank")``; NaN for an element with a NaN draw, fewer
    than 2 chains or 4 draws, or no variance."""
    return rhat_and_ess(draws)[0]


def bulk_ess(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size of each element of ``draws`` ``(chain, draw,
    element)``: the ESS of the rank-normalised split chains with Geyer's initial
    monotone sequence, as ``az.ess(..., method="bulk")``; NaN for an element with a NaN
    draw or fewer than 4 draws; the number of split draws for an element that never
    varies."""
    return rhat_and_ess(draws, rhat=False)[1]


def rhat_and_ess(draws: np.ndarray, *, rhat: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(rank_rhat, bulk_ess)`` of each element of ``draws`` ``(chain, draw, element)``,
    the rank normalisation computed once for both (r_hat all NaN when ``rhat`` is off)."""
    from scipy.fft import next_fast_len

    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 3:
        raise ValueError(f"draws must be (chain, draw, element), got shape {draws.shape}")
    r_hat = np.full(draws.shape[-1], np.nan)
    ess = np.full(draws.shape[-1], np.nan)
    ok = ~_invalid(draws)
    if not ok.any():
        return r_hat, ess
    with np.errstate(divide="ignore", invalid="ignore"):
        x = _split(draws[..., ok])
        z = _z_scale(x)
        k, m, n = z.shape
        if rhat and draws.shape[0] >= 2:
            bulk = _rhat(z)
            folded = np.abs(x - np.median(x.reshape(k, -1), axis=-1)[:, None, None])
            tail = _rhat(_z_scale(folded))
            # Python's max(bulk, tail), as ArviZ takes it: bulk unless tail is larger (a
            # NaN bulk stays NaN)
            r_hat[ok] = np.where(tail > bulk, tail, bulk)
        found = np.full(k, float(m * n))  # an element that never varies: every draw counts
        varies = (z.max(axis=(1, 2)) - z.min(axis=(1, 2))) >= np.finfo(float).resolution
        if varies.any():
            found[varies] = _geyer_ess(z[varies], next_fast_len(2 * n))
        ess[ok] = found
    return r_hat, ess


def _geyer_ess(z: np.ndarray, fft_len: int) -> np.ndarray:
    """ArviZ's `_ess` on ``z`` ``(element, chain, draw)``, every element at once."""
    k, m, n = z.shape
    centred = z - z.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=fft_len, axis=-1)
    spectrum *= np.conjugate(spectrum)
    acov = np.fft.irfft(spectrum, n=fft_len, axis=-1)[..., :n] / n
    mean_var = acov[..., 0].mean(axis=-1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + z.mean(axis=-1).var(axis=-1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (k, lag)
    rho[:, 0] = 1.0

    # Geyer's initial positive sequence: pairs P_j = rho[2j] + rho[2j+1]; ArviZ's loop
    # computes pairs j = 1, 2, ... (j <= (n - 3) // 2) while the pair before is positive,
    # keeps a pair that is >= 0, and stops after the first pair <= 0.
    last = (n - 3) // 2  # the last pair the loop may compute
    rows = np.arange(k)
    kept = np.zeros((k, n))
    kept[:, :2] = rho[:, :2]
    if last >= 1:
        pairs = rho[:, 0:2 * last + 2:2] + rho[:, 1:2 * last + 2:2]  # P_0 .. P_last
        stop = pairs[:, :last] <= 0  # P_0 .. P_{last-1}: a pair <= 0 ends the loop after it
        first = np.where(stop.any(axis=1), stop.argmax(axis=1), last)
        computed = np.minimum(first, last)  # pairs 1 .. computed were computed
    else:
        pairs = (rho[:, 0] + rho[:, 1])[:, None]
        computed = np.zeros(k, dtype=int)
    j = np.arange(pairs.shape[1])
    keep = (j[None, :] >= 1) & (j[None, :] < computed[:, None])
    keep |= (j[None, :] == computed[:, None]) & (j[None, :] >= 1) & (pairs >= 0)
    even_idx = 2 * j
    kept[:, even_idx] = np.where(keep, rho[:, even_idx], kept[:, even_idx])
    kept[:, even_idx + 1] = np.where(keep, rho[:, even_idx + 1], kept[:, even_idx + 1])
    kept[:, 0] = 1.0
    # "improve estimation": the last computed even lag, when positive, is kept
    last_even = np.where(computed >= 1, rho[rows, 2 * computed], 1.0)
    at = 2 * computed
    kept[rows, at] = np.where(last_even > 0, last_even, kept[rows, at])

    # Geyer's initial monotone sequence over pairs 1 .. computed - 1: a pair larger than
    # the (adjusted) pair before takes that pair's value, split evenly
    sums = kept[:, even_idx] + kept[:, even_idx + 1]
    in_mono = (j[None, :] >= 1) & (j[None, :] <= computed[:, None] - 1)
    capped = np.where(in_mono | (j[None, :] == 0), sums, np.inf)
    running = np.minimum.accumulate(capped, axis=1)
    before = np.concatenate([np.full((k, 1), np.inf), running[:, :-1]], axis=1)
    lower = in_mono & (sums > before)
    kept[:, even_idx] = np.where(lower, before / 2.0, kept[:, even_idx])
    kept[:, even_idx + 1] = np.where(lower, before / 2.0, kept[:, even_idx + 1])

    lag = np.arange(n)
    upto = 2 * computed  # lags 0 .. 2*computed - 1 twice, lag 2*computed once
    tau = (-1.0 + 2.0 * np.where(lag[None, :] < upto[:, None], kept, 0.0).sum(axis=1)
           + kept[rows, upto])
    total = m * n
    tau = np.maximum(tau, 1 / np.log10(total))
    ess = total / tau
    return np.where(np.isnan(kept).any(axis=1), np.nan, ess)


def combine(results: Iterable[ModelDiagnostics]) -> dict:
    """The results.json `diagnostics` block over all models of a run."""
    results = list(results)
    per_model = {r.name: r.to_dict() for r in results}
    if not results:
        return {"max_r_hat": None, "min_ess_bulk": None, "divergences": 0, "passed": False,
                "per_model": {}}
    r_hats = [r.max_r_hat for r in results if np.isfinite(r.max_r_hat)]
    return {
        "max_r_hat": float(max(r_hats)) if r_hats else None,
        "min_ess_bulk": float(min(r.min_ess_bulk for r in results)),
        "divergences": int(sum(r.divergences for r in results)),
        "passed": bool(all(r.passed for r in results)),
        "per_model": per_model,
    }


def summary_table(idata: az.InferenceData, *, var_names: Iterable[str] | None = None):
    """ArviZ summary (mean, sd, HDI at the package's mass, ESS, r_hat) as a DataFrame."""
    import arviz as az

    from bayes_ab.constants import HDI_PROB

    return az.summary(idata, var_names=list(var_names) if var_names else None, hdi_prob=HDI_PROB)
