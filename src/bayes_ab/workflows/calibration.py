"""Is a posterior calibrated? Simulation-based calibration, coverage, and compile-once refits.

Three pieces, all used by ``benchmarks/sbc.py``, ``benchmarks/coverage.py``,
``bayes_ab.workflows.sensitivity`` and the tests:

* `ReusableFit`: compiles a model's graph with nutpie *once* and refits it on new
  sufficient statistics (or new priors) by swapping the data constants for shared
  variables. Compiling costs 10-45 s per model on two cores, sampling these aggregated
  models 0.1-0.6 s, so without reuse every calibration study would be ~99% compiler.
  Which constants are data is found by building the model twice (two different stats
  or priors) and comparing the graphs' constants in topological order: those that
  differ become shared variables. A later input whose graph has a different structure
  (another number of survival intervals, a switch of parameterisation) is compiled
  afresh and cached under its own signature, never fitted with a stale graph.
* Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018):
  draw parameters from the prior, data from the model's own likelihood (the aggregated
  counts, so a replication costs one small fit), and record the rank of each true
  parameter among ``n_draws`` thinned posterior draws. For a correct sampler and
  model the ranks are uniform on 0..n_draws; `uniformity_test` checks that.
* `experiment_from_simulation`: an ``ExperimentData`` from ``bayes_ab.simulate``
  through the real loader (files in a temporary folder), for end-to-end coverage.

    fit = ReusableFit(TimeToCompletion, stats_a, probe=stats_b, config=SamplerConfig(draws=300))
    idata = fit.sample(stats_c)                 # no compilation
    sbc = run_sbc(ArmComparison(stats), reps=200, config=SamplerConfig(draws=500))
    sbc.tests["rate[Test]"].chi2_p              # uniformity of the ranks
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np

from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SamplerConfig, sample_nutpie

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm

    from bayes_ab.data.schema import ExperimentData
    from bayes_ab.simulate import Simulation
    from bayes_ab.models.base import BayesModel

__all__ = [
    "ReusableFit",
    "SBCResult",
    "UniformityTest",
    "experiment_from_simulation",
    "rank_statistic",
    "run_sbc",
    "thin_draws",
    "uniformity_test",
]

#: Posterior draws kept per replication (ranks then take 0..99: 100 values, Talts' L = 99).
SBC_DRAWS = 99
#: Histogram bins of the rank plots and the chi-square test (100 rank values / 20 = 5 each).
SBC_BINS = 20


# ----------------------------------------------------------------------------- ranks


def rank_statistic(truth: float, draws, *, rng: np.random.Generator) -> int:
    """Number of posterior draws below the true value; ties broken uniformly at random
    (a constant or discrete quantity would otherwise pile up on one rank)."""
    x = np.asarray(draws, dtype=float).ravel()
    below = int(np.sum(x < truth))
    ties = int(np.sum(x == truth))
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def thin_draws(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced rows of ``draws`` (samples first): thinning that leaves nearly
    independent draws when the chains hold ``n`` x (autocorrelation time) samples or more."""
    draws = np.asarray(draws)
    if draws.shape[0] < n:
        raise OptionError(f"need at least {n} posterior draws to thin, got {draws.shape[0]}")
    idx = np.round(np.linspace(0, draws.shape[0] - 1, n)).astype(int)
    return draws[idx]


@dataclass(frozen=True)
class UniformityTest:
    """Are ranks uniform on 0..n_draws? Pearson's chi-square on ``bins`` equal bins and
    Kolmogorov-Smirnov on the jittered ranks (rank + U) / (n_draws + 1), which are exactly
    Uniform(0, 1) under the null."""

    n: int
    bins: int
    chi2: float
    chi2_p: float
    ks: float
    ks_p: float

    @property
    def p_value(self) -> float:
        """The smaller of the two p-values, doubled (Bonferroni over the two tests)."""
        return float(min(1.0, 2 * min(self.chi2_p, self.ks_p)))

    def to_dict(self) -> dict:
        return {"n": self.n, "bins": self.bins, "chi2": self.chi2, "chi2_p": self.chi2_p,
                "ks": self.ks, "ks_p": self.ks_p, "p_value": self.p_value}


def uniformity_test(ranks, *, n_draws: int = SBC_DRAWS, bins: int = SBC_BINS,
                    seed: int = 0) -> UniformityTest:
    """Test ranks (integers in 0..n_draws) for uniformity (see `UniformityTest`)."""
    from scipy import stats

    r = np.asarray(ranks, dtype=int).ravel()
    if r.size == 0:
        raise OptionError("no ranks to test")
    if r.min() < 0 or r.max() > n_draws:
        raise OptionError(f"ranks must be in 0..{n_draws}")
    n_values = n_draws + 1
    bins = min(bins, n_values)
    # Bin b holds the rank values floor(v * bins / n_values) == b; its expected share is
    # the number of values it holds over n_values (exactly 1 / bins when bins divides).
    which = (np.arange(n_values) * bins) // n_values
    expected = np.bincount(which, minlength=bins) / n_values * r.size
    observed = np.bincount(which[r], minlength=bins)
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    chi2_p = float(stats.chi2.sf(chi2, bins - 1))
    u = (r + np.random.default_rng(seed).random(r.size)) / n_values
    ks = stats.kstest(u, "uniform")
    return UniformityTest(n=int(r.size), bins=int(bins), chi2=chi2, chi2_p=chi2_p,
                          ks=float(ks.statistic), ks_p=float(ks.pvalue))


# ----------------------------------------------------------------------------- compile once


def _tensor_constants(fgraph) -> list:
    """Tensor constants of a graph in a deterministic (topological) order."""
    from pytensor.tensor import TensorConstant

    out, seen = [], set()
    for node in fgraph.toposort():
        for inp in node.inputs:
            if isinstance(inp, TensorConstant) and id(inp) not in seen:
                seen.add(id(inp))
                out.append(inp)
    return out


def _signature(constants: list) -> tuple:
    return tuple((str(c.type.dtype), tuple(np.shape(c.data))) for c in constants)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _min_target_accept(model_cls) -> float:
    """A model module's ``MIN_TARGET_ACCEPT`` (help completion needs 0.99), else 0."""
    return float(getattr(sys.modules.get(model_cls.__module__), "MIN_TARGET_ACCEPT", 0.0))


@dataclass
class _Compiled:
    compiled: Any
    template: list  # the template build's constants (values of the non-swapped ones matter)
    swapped: dict[int, str]  # constant position -> shared variable name


class ReusableFit:
    """Fit one model class on many inputs of the same shape with one compilation.

    ``make(stats, priors)`` must return a `BayesModel`; by default it is
    ``model_cls(stats, priors=priors, **model_kwargs)``. ``probe`` is a second input
    (``stats`` or ``priors``) that differs from the first wherever later inputs may
    differ: its graph tells which constants are data.
    """

    def __init__(self, model_cls, stats, *, probe_stats=None, priors: dict | None = None,
                 probe_priors: dict | None = None, config: SamplerConfig = SamplerConfig(),
                 model_kwargs: Mapping | None = None) -> None:
        if probe_stats is None and probe_priors is None:
            raise OptionError("ReusableFit needs probe_stats or probe_priors to find the data")
        self.model_cls = model_cls
        self.model_kwargs = dict(model_kwargs or {})
        target = max(config.target_accept, _min_target_accept(model_cls))
        self.config = replace(config, target_accept=min(target, 0.995))
        self.stats, self.priors = stats, priors
        self._probe = (probe_stats if probe_stats is not None else stats,
                       probe_priors if probe_priors is not None else priors)
        self._cache: dict[tuple, _Compiled] = {}
        self.n_compiles = 0

    def make(self, stats, priors: dict | None = None) -> BayesModel:
        return self.model_cls(stats, priors=priors, **self.model_kwargs)

    def _graph(self, stats, priors):
        """(model, its graph, its ``pm.Data`` values by name), from one build."""
        from pymc.model.fgraph import fgraph_from_model

        model = self.make(stats, priors)
        built = model.build()
        data = {v.name: np.asarray(v.get_value()) for v in built.data_vars}
        fgraph, _ = fgraph_from_model(built)
        return model, fgraph, data

    def _compile(self, stats, priors) -> tuple[tuple, _Compiled]:
        import nutpie
        import pytensor
        from pymc.model.fgraph import model_from_fgraph

        _, fgraph, _ = self._graph(stats, priors)
        consts = _tensor_constants(fgraph)
        _, probe_graph, _ = self._graph(*self._probe)
        probe = _tensor_constants(probe_graph)
        if _signature(probe) != _signature(consts):
            # The probe changes the structure: it cannot tell data from structure. Compile
            # this input alone (every later input of its signature must then match it).
            probe = consts
        swapped: dict[int, str] = {}
        replacements = []
        for i, (c, p) in enumerate(zip(consts, probe, strict=True)):
            if not _same(c.data, p.data):
                name = f"bayes_ab_data_{i}"
                value = np.array(c.data)
                replacements.append((c, pytensor.shared(value, name=name, shape=value.shape)))
                swapped[i] = name
        if replacements:
            fgraph.replace_all(replacements, import_missing=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = model_from_fgraph(fgraph, mutate_fgraph=True)
            compiled = nutpie.compile_pymc_model(model)
        self.n_compiles += 1
        key = _signature(consts)
        self._cache[key] = _Compiled(compiled=compiled, template=consts, swapped=swapped)
        return key, self._cache[key]

    def compiled_for(self, stats, priors: dict | None = None):
        """(model, compiled nutpie model with this input's data swapped in: the constants
        found to be data, and the model's own ``pm.Data`` variables)."""
        model, fgraph, data = self._graph(stats, priors)
        consts = _tensor_constants(fgraph)
        entry = self._cache.get(_signature(consts))
        if entry is not None:
            fixed_ok = all(_same(c.data, t.data) for i, (c, t) in
                           enumerate(zip(consts, entry.template, strict=True)) if i not in entry.swapped)
            if not fixed_ok:
                entry = None
        if entry is None:
            _, entry = self._compile(stats, priors)
            return model, entry.compiled
        updates = {name: np.asarray(consts[i].data) for i, name in entry.swapped.items()}
        updates.update({k: v for k, v in data.items() if k in entry.compiled.shared_data})
        return model, entry.compiled.with_data(**updates)

    def sample(self, stats=None, priors: dict | None = None, *, seed: int | None = None,
               config: SamplerConfig | None = None) -> tuple[BayesModel, az.InferenceData]:
        """Fit on ``stats`` (default: the first input) under ``priors``; (model, idata)."""
        stats = self.stats if stats is None else stats
        priors = self.priors if priors is None else priors
        cfg = config or self.config
        if cfg.exact:
            model = self.make(stats, priors)
            idata = model.exact_posterior(
                replace(cfg, seed=int(cfg.seed if seed is None else seed)))
            if idata is not None:
                return model, idata
        model, compiled = self.compiled_for(stats, priors)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = sample_nutpie(
                compiled, draws=cfg.draws, tune=cfg.tune, chains=cfg.chains,
                cores=max(1, min(cfg.chains, cfg.cores or 2)),
                seed=int(cfg.seed if seed is None else seed), progress_bar=False,
                target_accept=max(cfg.target_accept, self.config.target_accept),
            )
        helper = [v for v in idata.posterior.data_vars if str(v).endswith("__")]
        if helper:
            idata.posterior = idata.posterior.drop_vars(helper)
        return model, idata


# ----------------------------------------------------------------------------- SBC


@dataclass(frozen=True)
class SBCResult:
    """Ranks of the true values (reps x params) and their uniformity tests."""

    model: str
    params: tuple[str, ...]
    ranks: np.ndarray = field(repr=False)
    n_draws: int
    tests: dict[str, UniformityTest]
    divergences: np.ndarray = field(repr=False)
    min_ess: np.ndarray = field(repr=False)
    seconds: float = 0.0
    compile_seconds: float = 0.0
    failures: int = 0

    @property
    def reps(self) -> int:
        return int(self.ranks.shape[0])

    def worst(self) -> tuple[str, float]:
        """The parameter with the smallest uniformity p-value."""
        name = min(self.tests, key=lambda k: self.tests[k].p_value)
        return name, self.tests[name].p_value

    def passed(self, *, alpha: float = 0.01) -> bool:
        """No parameter's ranks reject uniformity at family-wise level ``alpha``
        (Bonferroni over parameters)."""
        return all(t.p_value >= alpha / len(self.tests) for t in self.tests.values())

    def to_dict(self) -> dict:
        return {
            "model": self.model, "reps": self.reps, "n_draws": self.n_draws,
            "tests": {k: v.to_dict() for k, v in self.tests.items()},
            "divergent_reps": int(np.sum(self.divergences > 0)),
            "median_min_ess": float(np.median(self.min_ess)) if self.min_ess.size else None,
            "seconds": self.seconds, "compile_seconds": self.compile_seconds,
            "failures": self.failures, "passed": self.passed(),
        }


def _components(arr: np.ndarray, dims: Sequence[str], coords: Mapping, name: str):
    """Flatten (samples, *shape) to (samples, k) with labels like ``rate[Control]``."""
    shape = arr.shape[1:]
    flat = arr.reshape(arr.shape[0], -1)
    if not shape:
        return flat, [name]
    labels = []
    axes = [list(coords[d]) if d in coords else list(range(n)) for d, n in zip(dims, shape, strict=True)]
    for combo in product(*axes):
        labels.append(f"{name}[{','.join(str(c) for c in combo)}]")
    return flat, labels


def _observed_as_shared(model: pm.Model) -> dict[str, Any]:
    """Turn each observed value of a built PyMC model into a named shared variable, so that
    nutpie's ``with_data`` can swap simulated data in without recompiling."""
    import pytensor

    shared = {}
    for rv in model.observed_RVs:
        value = model.rvs_to_values[rv]
        data = np.asarray(value.data if hasattr(value, "data") else value.eval())
        var = pytensor.shared(data, name=f"sbc_obs_{rv.name}", shape=data.shape)
        model.rvs_to_values[rv] = var
        shared[rv.name] = var
    return shared


DataFn = Callable[[dict, dict, np.random.Generator], dict]


def run_sbc(
    model: BayesModel,
    *,
    reps: int,
    config: SamplerConfig = SamplerConfig(draws=500, tune=500, chains=2),
    var_names: Sequence[str] | None = None,
    n_draws: int = SBC_DRAWS,
    seed: int = 0,
    data_fn: DataFn | None = None,
    progress: Callable[[str], None] | None = None,
) -> SBCResult:
    """Simulation-based calibration of ``model`` (its stats fix the design: trials, flags,
    exposure; only the observed counts are simulated).

    ``var_names``: posterior variables to rank (default: the free random variables).
    ``data_fn(params, observed, rng) -> observed``: replace the data-generating process
    (e.g. a deliberately wrong likelihood, to check that SBC catches it); ``params`` and
    ``observed`` are one prior draw, as dicts of arrays.
    """
    import nutpie
    import pymc as pm

    t0 = time.perf_counter()
    pm_model = model.build()
    shared = _observed_as_shared(pm_model)
    names = list(var_names) if var_names is not None else [rv.name for rv in pm_model.free_RVs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=reps, model=pm_model, random_seed=seed,
                                           var_names=names + list(shared))
        compiled = nutpie.compile_pymc_model(pm_model)
    compile_seconds = time.perf_counter() - t0
    coords = {k: list(v) for k, v in pm_model.coords.items() if v is not None}
    truth_parts, labels = [], []
    for v in names:
        da = prior.prior[v]
        flat, lab = _components(da.values[0], da.dims[2:], coords, v)
        truth_parts.append(flat)
        labels += lab
    truth = np.concatenate(truth_parts, axis=1)
    observed = {k: prior.prior_predictive[k].values[0] for k in shared}
    target = max(config.target_accept, _min_target_accept(type(model)))
    rng = np.random.default_rng(seed)
    ranks = np.full((reps, truth.shape[1]), -1, dtype=int)
    divergences = np.zeros(reps, dtype=int)
    min_ess = np.full(reps, np.nan)
    failures = 0
    for r in range(reps):
        data = {k: observed[k][r] for k in shared}
        if data_fn is not None:
            point = {v: prior.prior[v].values[0, r] for v in names}
            data = data_fn(point, data, rng)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                idata = sample_nutpie(
                    compiled.with_data(**{shared[k].name: data[k] for k in shared}),
                    draws=config.draws, tune=config.tune, chains=config.chains,
                    cores=max(1, min(config.chains, config.cores or 2)),
                    seed=int(seed) * 100_003 + r, progress_bar=False,
                    target_accept=min(target, 0.995))
        except Exception:  # noqa: BLE001 - a failed replication is counted, not fatal
            failures += 1
            continue
        post = idata.posterior
        parts = []
        for v in names:
            da = post[v]
            arr = da.values.reshape(-1, *da.shape[2:])
            parts.append(arr.reshape(arr.shape[0], -1))
        draws = thin_draws(np.concatenate(parts, axis=1), n_draws)
        ranks[r] = [rank_statistic(truth[r, j], draws[:, j], rng=rng) for j in range(truth.shape[1])]
        divergences[r] = int(idata.sample_stats["diverging"].values.sum())
        min_ess[r] = _min_ess(post, names)
        if progress and (r + 1) % max(1, reps // 10) == 0:
            progress(f"{model.name}: {r + 1}/{reps} replications")
    ok = ranks[:, 0] >= 0
    tests = {lab: uniformity_test(ranks[ok, j], n_draws=n_draws, seed=seed + j)
             for j, lab in enumerate(labels)}
    return SBCResult(model=model.name, params=tuple(labels), ranks=ranks[ok], n_draws=n_draws,
                     tests=tests, divergences=divergences[ok], min_ess=min_ess[ok],
                     seconds=time.perf_counter() - t0, compile_seconds=compile_seconds,
                     failures=failures)


def _min_ess(posterior, names) -> float:
    from bayes_ab.inference.diagnostics import bulk_ess, stacked_draws

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.nanmin(bulk_ess(stacked_draws(posterior, list(names)))))




# ----------------------------------------------------------------------------- simulator


def experiment_from_simulation(sim: Simulation) -> ExperimentData:
    """The ``ExperimentData`` the loader builds from a simulation's four files (written to
    a temporary folder and read back, so coverage runs go through the real parser)."""
    from bayes_ab.data.load import load_experiment
    from bayes_ab.simulate import write_simulation

    with tempfile.TemporaryDirectory(prefix="bayes_ab_sim_") as folder:
        write_simulation(sim, folder)
        return load_experiment(folder, design_test_share=sim.params.test_share)


def covers(interval: Mapping | None, truth: float | None) -> bool | None:
    """Whether a results.json interval holds the true value; None when either is missing."""
    if interval is None or truth is None or not np.isfinite(truth):
        return None
    return bool(interval["lower"] <= truth <= interval["upper"])
