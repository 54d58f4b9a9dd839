"""Sampling: nutpie by default, PyMC's NUTS as the fallback, one seed for everything.

`sample()` returns an ArviZ InferenceData whose attrs hold the model's name, its
model config (priors included) and the sampler config as JSON strings, so a saved
netCDF file says exactly how it was made and `load_idata()` can give them back.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bayes_ab.errors import OptionError

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm

#: "nutpie": nutpie on numba (fast draws; compiled once per model graph and data shapes,
#: then loaded from disk by `bayes_ab.inference.compile_cache`);
#: "nutpie-jax": nutpie on JAX (cheap compile, cached on disk across processes, but every
#: gradient is a Python call: its draws measured 25-40x the CPU of numba's
#: on the example's models, more than numba's whole compile); "pymc": PyMC's NUTS.
SAMPLERS = ("nutpie", "nutpie-jax", "pymc")
#: Most bytes the persistent JAX compilation cache keeps (least recently used evicted).
JAX_CACHE_MAX_BYTES = 256 * 1024 * 1024


#: xarray's engine for the posterior files (`save_idata`, `load_idata`).
NETCDF_ENGINE = "netcdf4"


@dataclass(frozen=True)
class SamplerConfig:
    """How to sample. Defaults suit the aggregated models (a few parameters, fast gradients)."""

    sampler: Literal["nutpie", "nutpie-jax", "pymc"] = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 20260505
    target_accept: float = 0.9
    cores: int | None = None
    progress: bool = False
    #: Take independent draws from the exact posterior where a model has one in closed
    #: form (the Beta-Binomial arm comparisons) instead of running MCMC; False samples
    #: every model by MCMC (the cross-check).
    exact: bool = True
    #: Draw posterior predictive samples after an MCMC fit (models that define them). `analyze`
    #: draws them only with ``--figures all`` (the PPC figure is their one use there):
    #: PyMC compiles a function for them, about 0.5 s per model.
    posterior_predictive: bool = True

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise OptionError(f"unknown sampler '{self.sampler}'; choose one of {', '.join(SAMPLERS)}")
        for name in ("draws", "tune", "chains"):
            if int(getattr(self, name)) < (1 if name != "tune" else 0):
                raise OptionError(f"--{name} must be a positive integer, got {getattr(self, name)}")
        if not 0.5 <= self.target_accept < 1:
            raise OptionError(f"target_accept must be in [0.5, 1), got {self.target_accept}")

    def with_seed_offset(self, offset: int) -> SamplerConfig:
        """A config for the `offset`-th model of a run: distinct but reproducible streams."""
        return replace(self, seed=int(self.seed) + int(offset))

    def to_dict(self) -> dict:
        return asdict(self)


def _cores(config: SamplerConfig) -> int:
    if config.cores:
        return int(config.cores)
    return max(1, min(config.chains, os.cpu_count() or 1))


def jax_cache_dir() -> Path:
    """Where compiled JAX programs persist across runs: the user's cache folder
    (``$BAYES_AB_CACHE_DIR`` if set, else platformdirs' user cache dir), never the data
    folder or the working directory."""
    env = os.environ.get("BAYES_AB_CACHE_DIR")
    if env:
        return Path(env) / "jax"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bayes_ab")) / "jax"


def enable_jax_cache(path: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in `jax_cache_dir()` (idempotent).

    A size cap is set so that JAX guards every read and write with a file lock: two
    processes compiling at once can share the folder (an unguarded half-written entry is
    how a shared numba cache broke before, see `bayes_ab.inference.fit_many`). Returns the folder,
    or None when it cannot be created (then nothing is cached)."""
    import jax

    target = Path(path) if path is not None else jax_cache_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if jax.config.jax_compilation_cache_dir != str(target):
        jax.config.update("jax_compilation_cache_dir", str(target))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_MAX_BYTES)
    return target


_NUMBA_SLOT: tuple[Path, object] | None = None
#: How many processes may hold their own numba cache folder at once (more: no cache).
NUMBA_CACHE_SLOTS = 16


def _forget_numba_slot() -> None:
    """In a forked child (`bayes_ab.workflows.background`): the slot is the parent's, which
    goes on compiling into it; a child that compiles claims a slot of its own. The
    child's copy of the parent's lock file may be closed here: that does not release the
    parent's lock (flock locks go with the last open copy), and nothing unlocks it."""
    global _NUMBA_SLOT
    _NUMBA_SLOT = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_numba_slot)


def claim_numba_cache(base: str | Path | None = None) -> Path | None:
    """Give this process a PyTensor numba cache folder that no other process writes now.

    PyTensor keeps compiled numba code in one folder (``<base_compiledir>/numba``); two
    processes compiling into it at once once left an entry that later processes could
    not use (`bayes_ab.inference.fit_many`). Here each process takes an exclusive lock on a slot
    (``numba.lock``, then ``numba-1.lock``, ...) for its lifetime and uses that slot's
    folder: the first process gets the usual folder (a lone run reads and writes what it
    always did), one that runs beside it the next, and every later run finds its slot's
    compiled code again (warm). Without a free slot or file locks (not POSIX), the cache
    is turned off for this process. Idempotent; returns the folder, or None."""
    global _NUMBA_SLOT
    if _NUMBA_SLOT is not None and base is None:
        return _NUMBA_SLOT[0]
    import pytensor
    from pytensor.link.numba import cache as pt_cache

    default = Path(pt_cache.NUMBA_CACHE_PATH)
    root = Path(base) if base is not None else default.parent
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        pytensor.config.numba__cache = False
        return None
    for i in range(NUMBA_CACHE_SLOTS):
        name = "numba" if i == 0 else f"numba-{i}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            handle = open(root / f"{name}.lock", "a")  # noqa: SIM115 - held for life
        except OSError:
            break
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        folder = root / name
        folder.mkdir(exist_ok=True)
        pt_cache.NUMBA_CACHE_PATH = folder
        if _NUMBA_SLOT is not None:
            _NUMBA_SLOT[1].close()  # type: ignore[attr-defined]
        _NUMBA_SLOT = (folder, handle)
        return folder
    pytensor.config.numba__cache = False
    return None


def _compile_nutpie(model: pm.Model, sampler: str):
    import nutpie

    if sampler == "nutpie-jax":
        enable_jax_cache()
        return nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
    claim_numba_cache()
    from bayes_ab.inference.compile_cache import compile_model

    return compile_model(model)


#: nutpie's sampler statistics that its default settings do not store (nutpie drops
#: them as its own conversion does: ``_extract``'s ``skips``).
NUTPIE_UNSTORED_STATS = frozenset({
    "gradient", "unconstrained_draw", "mass_matrix_inv", "mass_matrix_eigvals",
    "mass_matrix_stds", "divergence_start", "divergence_end", "divergence_momentum",
    "divergence_start_gradient"})


def nutpie_idata(raw, coords: dict) -> az.InferenceData:
    """nutpie's trace (``return_raw_trace=True``) as the InferenceData nutpie itself returns
    (``save_warmup=False``): the same groups, values, dtypes, dims, coordinates and attrs
    (tests compare the two), built as one xarray Dataset per group instead of through
    ``arviz.from_dict``, whose per-variable DataArrays and alignment cost 0.15-0.3 s per
    fit (about 5 ms here). The arrays are filled by nutpie's own ``_add_arrow_data``."""
    import datetime

    import arviz as az
    import numpy as np
    import pandas as pd
    import xarray as xr
    from nutpie.sample import _add_arrow_data

    draw_batches, stat_batches = raw.get_arrow_trace()
    n_chains = len(draw_batches)
    tuning = [int(stat.column("tuning").to_numpy().sum()) for stat in stat_batches]
    n_draws = max((d.num_rows - t for d, t in zip(draw_batches, tuning)), default=0)
    posterior: dict = {}
    stats: dict = {}
    dims: dict = {}
    for i, (draw, stat) in enumerate(zip(draw_batches, stat_batches)):
        _add_arrow_data(posterior, n_draws, draw.slice(tuning[i], draw.num_rows - tuning[i]),
                        i, n_chains, dims, [])
        _add_arrow_data(stats, n_draws, stat.slice(tuning[i], stat.num_rows - tuning[i]),
                        i, n_chains, dims, list(NUTPIE_UNSTORED_STATS))
    model_coords = {name: pd.Index(values) for name, values in coords.items()}
    created = datetime.datetime.now(datetime.timezone.utc).isoformat()

    def dataset(data: dict) -> xr.Dataset:
        variables, used = {}, {}
        for name, values in data.items():
            if name in ("chain", "draw"):  # as arviz.from_dict: names of the sample dims
                continue
            item_dims = list(dims.get(name) or [])
            item_dims += [f"{name}_dim_{k}" for k in range(len(item_dims), values.ndim - 2)]
            for dim, size in zip(item_dims, values.shape[2:]):
                used.setdefault(dim, model_coords.get(dim, np.arange(size)))
            variables[name] = (("chain", "draw", *item_dims), values)
        return xr.Dataset(variables, coords={"chain": np.arange(n_chains),
                                             "draw": np.arange(n_draws), **used},
                          attrs={"created_at": created, "arviz_version": az.__version__})

    return az.InferenceData(posterior=dataset(posterior), sample_stats=dataset(stats))


def sample_nutpie(compiled, **kwargs) -> az.InferenceData:
    """``nutpie.sample(compiled, **kwargs)`` without the warm-up draws, its trace made
    InferenceData by `nutpie_idata` (the only form it converts: ``save_warmup=False``)."""
    import nutpie

    raw = nutpie.sample(compiled, save_warmup=False, return_raw_trace=True, **kwargs)
    return nutpie_idata(raw, compiled.coords)


def sample(
    model: pm.Model,
    *,
    name: str,
    config: SamplerConfig = SamplerConfig(),
    model_config: dict | None = None,
    var_names: list[str] | None = None,
    posterior_predictive: bool = False,
) -> az.InferenceData:
    """Sample `model` and return InferenceData with its configuration in attrs.

    Unconstrained helper variables (names ending in ``__``) are dropped from the
    posterior so that summaries and plots show only the model's own quantities.
    """
    import time

    import pymc as pm

    from bayes_ab.io import redirect_pytensor_sources

    redirect_pytensor_sources()  # inside bayes_ab.analyze / compare: into their folder
    t_compile = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        if config.sampler in ("nutpie", "nutpie-jax"):
            # With JAX, XLA compiles at the first gradient call: inside the sampling time.
            compiled = _compile_nutpie(model, config.sampler)
            t_compile = time.perf_counter() - t0
            t0 = time.perf_counter()
            idata = sample_nutpie(
                compiled,
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=_cores(config),
                seed=config.seed,
                progress_bar=config.progress,
                target_accept=config.target_accept,
            )
        else:
            idata = pm.sample(
                model=model,
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=_cores(config),
                random_seed=config.seed,
                target_accept=config.target_accept,
                progressbar=config.progress,
                compute_convergence_checks=False,
            )
        # PyMC compiles inside pm.sample: its compile time is counted as sampling.
        t_sample = time.perf_counter() - t0
        helper_vars = [v for v in idata.posterior.data_vars if str(v).endswith("__")]
        if helper_vars:
            idata.posterior = idata.posterior.drop_vars(helper_vars)
        if var_names is not None:
            keep = [v for v in idata.posterior.data_vars if v in set(var_names)]
            idata.posterior = idata.posterior[keep]
        if posterior_predictive:
            pymc_log = logging.getLogger("pymc")
            level = pymc_log.level
            pymc_log.setLevel(logging.WARNING)  # silence "Sampling: [y]" on every run
            try:
                pm.sample_posterior_predictive(
                    idata, model=model, random_seed=config.seed, extend_inferencedata=True,
                    progressbar=False,
                )
            finally:
                pymc_log.setLevel(level)
    idata.attrs.update(
        {
            "bayes_ab_model": name,
            "model_config": json.dumps(model_config or {}, default=str),
            "sampler_config": json.dumps(config.to_dict()),
            "compile_seconds": round(t_compile, 3),
            "sample_seconds": round(t_sample, 3),
        }
    )
    # Observed data is useful for PPC plots; pm.sample adds it, nutpie does not.
    if "observed_data" not in idata.groups():
        try:
            idata.extend(_observed(model))
        except (ValueError, TypeError, AttributeError):  # pragma: no cover - a convenience only
            pass
    return idata


def exact_idata(
    posterior: dict,
    *,
    name: str,
    config: SamplerConfig,
    model_config: dict | None = None,
    dims: dict | None = None,
    coords: dict | None = None,
    posterior_predictive: dict | None = None,
    observed_data: dict | None = None,
    seconds: float = 0.0,
) -> az.InferenceData:
    """InferenceData of independent draws from an exact posterior, shaped like a sampler's.

    ``posterior`` (and ``posterior_predictive``) arrays have leading (chain, draw) axes so
    the diagnostics, summaries and figures treat them as any fit; ``attrs["exact"]`` marks
    them and there is no compile time.
    """
    import arviz as az

    idata = az.from_dict(posterior=posterior, posterior_predictive=posterior_predictive,
                         observed_data=observed_data, dims=dims, coords=coords)
    idata.attrs.update(
        {
            "bayes_ab_model": name,
            "model_config": json.dumps(model_config or {}, default=str),
            "sampler_config": json.dumps(config.to_dict()),
            "exact": 1,
            "compile_seconds": 0.0,
            "sample_seconds": round(seconds, 3),
        }
    )
    return idata


def _stored_value(var):
    """The value of a constant, a shared variable (``pm.Data``) or a cast of one, read
    without compiling a function (None for anything else). PyMC casts integer
    ``pm.Data`` observations to the likelihood's dtype; ``.eval()`` of that cast compiled
    a PyTensor function, about 1 s for the first in a process (0.01-0.02 s each after)."""
    import numpy as np
    from pytensor.scalar import Cast
    from pytensor.tensor.elemwise import Elemwise

    if hasattr(var, "data"):  # a constant
        return var.data
    if hasattr(var, "get_value"):  # a shared variable: pm.Data
        return var.get_value()
    owner = var.owner
    if (owner is not None and isinstance(owner.op, Elemwise)
            and isinstance(owner.op.scalar_op, Cast) and len(owner.inputs) == 1):
        inner = _stored_value(owner.inputs[0])
        if inner is not None:
            return np.asarray(inner).astype(var.dtype)
    return None


def _observed(model: pm.Model) -> az.InferenceData:
    import arviz as az
    import numpy as np

    obs = {}
    for rv in model.observed_RVs:
        data = model.rvs_to_values[rv]
        value = _stored_value(data)
        obs[rv.name] = np.asarray(data.eval() if value is None else value)
    dims = {rv.name: list(model.named_vars_to_dims.get(rv.name, ())) for rv in model.observed_RVs}
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    return az.from_dict(observed_data=obs, dims=dims, coords=coords)


def save_idata(idata: az.InferenceData, path: str | Path) -> Path:
    """Write InferenceData to netCDF 4 (the netCDF4 library: 3.6x faster than h5netcdf on
    the example's seven files, 0.7 vs 2.5 s, with files that read back identical)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(path), engine=NETCDF_ENGINE)
    return path


def load_idata(path: str | Path) -> tuple[az.InferenceData, dict, SamplerConfig]:
    """Read InferenceData and the model config and sampler config it was made with."""
    import arviz as az

    idata = az.from_netcdf(str(path), engine=NETCDF_ENGINE)
    model_config = json.loads(idata.attrs.get("model_config", "{}"))
    sampler = SamplerConfig(**json.loads(idata.attrs.get("sampler_config", "{}")))
    return idata, model_config, sampler
