"""Fit several models at once: exact posteriors in this process, MCMC fits in worker processes.

A model's first fit on a machine is mostly nutpie's numba compile (several seconds each,
single-threaded and holding the GIL; later fits load it, `bayes_ab.inference.compile_cache`). With
``workers > 1`` the sampled models are compiled and sampled in that many worker processes
at the same time, so on two cores the compile wall time is about halved. Each fit keeps its
own seed (``config`` per model), so the posterior draws are the same as those of a fit in
this process: the result does not depend on ``workers``.

    outcomes = fit_models({"conversion": (model, config), ...}, workers=2)
    outcomes["conversion"].idata  # or .error (a BayesAbError / ValueError), .seconds
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bayes_ab.errors import BayesAbError

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

    from bayes_ab.inference.fit import SamplerConfig
    from bayes_ab.models.base import BayesModel


@dataclass
class FitOutcome:
    """One model's fit: its posterior, or the user-facing error that stopped it."""

    model: Any
    idata: az.InferenceData | None = None
    error: Exception | None = None
    seconds: float = 0.0
    in_worker: bool = False


def default_workers() -> int:
    """Fit in this process by default. Two worker processes measured 24% faster end to end
    on the example when every process compiled every model (67 s vs 89 s on 2 cores); with
    the compile kept on disk (`bayes_ab.inference.compile_cache`) they are slower (38-47 s
    vs 32 s: each spawned worker imports PyMC again). Also, in a clean-clone CI run with an empty
    compile cache, workers compiling at the same time left PyTensor's on-disk numba cache
    with an entry (Join) that later compiles in other processes could not use; every
    process now compiles into a numba cache folder of its own (`_worker_init`,
    `bayes_ab.inference.fit.claim_numba_cache`); workers stay opt-in (`--workers 2`)."""
    return 1


def _fit(model: BayesModel, config: SamplerConfig, extras: bool = True):
    """Worker: fit one model (with its `fit_extras` or not); a user-facing error travels
    back as a value, not a crash."""
    t0 = time.perf_counter()
    try:
        idata = model.fit(config) if extras else model.fit_posterior(config)
        return idata, None, time.perf_counter() - t0
    except (BayesAbError, ValueError) as exc:
        return None, exc, time.perf_counter() - t0


def _worker_init() -> None:
    import warnings

    warnings.simplefilter("ignore")
    # Never write one PyTensor numba cache folder from two processes at once: each worker
    # holds its own slot (bayes_ab.inference.fit.claim_numba_cache), kept across runs.
    from bayes_ab.inference.fit import claim_numba_cache

    claim_numba_cache()


def fit_models(
    jobs: Mapping[str, tuple[BayesModel, SamplerConfig]],
    *,
    workers: int = 1,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[str, FitOutcome], None] | None = None,
    extras: bool = True,
) -> dict[str, FitOutcome]:
    """Fit every ``key: (model, config)``; return ``{key: FitOutcome}`` in the jobs' order.

    Models with an exact posterior (``config.exact`` and `exact_posterior` not None) are
    drawn here; the others go to ``workers`` processes when there are at least two of them
    and ``workers > 1``, else they are fitted here one after another. ``on_done`` is called
    in this process as each fit ends, ``on_start`` as it starts (for the worker processes:
    when it is handed to them). With ``extras=False`` each model's posterior only
    (`BayesModel.fit_posterior`): the caller runs `BayesModel.fit_extras` later.
    """
    start = on_start or (lambda _key: None)
    outcomes: dict[str, FitOutcome] = {}
    sampled: list[str] = []
    for key, (model, config) in jobs.items():
        t0 = time.perf_counter()
        idata = model.exact_posterior(config) if config.exact else None
        if idata is not None:
            start(key)
            outcomes[key] = FitOutcome(model, idata=idata, seconds=time.perf_counter() - t0)
            if on_done:
                on_done(key, outcomes[key])
        else:
            sampled.append(key)

    # The longest fits first, so that two workers finish at about the same time.
    sampled.sort(key=lambda k: -float(getattr(jobs[k][0], "fit_cost", 1) if extras else 1))
    if workers > 1 and len(sampled) > 1:
        # "spawn": a fresh interpreter per worker, never a fork of a process that holds
        # DuckDB, numba or BLAS threads.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(sampled)), mp_context=ctx,
                                 initializer=_worker_init) as pool:
            futures: dict[str, Future] = {}
            for key in sampled:
                start(key)
                futures[key] = pool.submit(_fit, jobs[key][0], jobs[key][1], extras)
            try:
                for key in sampled:
                    idata, error, seconds = futures[key].result()
                    outcomes[key] = FitOutcome(jobs[key][0], idata=idata, error=error,
                                               seconds=seconds, in_worker=True)
                    if on_done:
                        on_done(key, outcomes[key])
            except BaseException:
                for fut in futures.values():
                    fut.cancel()
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                raise
    else:
        for key in sampled:
            start(key)
            idata, error, seconds = _fit(*jobs[key], extras)
            outcomes[key] = FitOutcome(jobs[key][0], idata=idata, error=error, seconds=seconds)
            if on_done:
                on_done(key, outcomes[key])
    return {key: outcomes[key] for key in jobs}
