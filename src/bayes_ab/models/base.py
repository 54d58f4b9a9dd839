"""The shape every model of the package follows (after pymc-marketing's model builder).

A model is built from *sufficient statistics* (a frozen dataclass with ``to_dict``/
``from_dict``), never from raw rows, and from *priors as objects*: ``default_priors``
declares each prior as a `Prior` (distribution and parameters, in view in the class), the
user's overrides (dicts or `Prior` objects) are merged in, and ``build`` creates each
variable with ``prior.create_variable(name)``. The priors print, and their dictionary form
is saved with the posterior.

    model = ArmComparison(stats, priors={"rate": {"alpha": 2, "beta": 20}})
    print(model.priors)                       # {'rate': Prior('Beta', alpha=2, beta=20, ...)}
    print(model.table())                      # the PyMC model, one line per variable
    idata = model.fit(SamplerConfig(seed=1))  # nutpie by default
    block = model.summarize(idata)            # a typed result; block.to_dict() is its JSON
    diag = model.diagnostics(idata)           # gate: r_hat, ESS, divergences
    model.save(idata, "out/idata/conversion.nc"); idata, model = Model.load(path)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bayes_ab.inference.diagnostics import ModelDiagnostics, check
from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SamplerConfig, load_idata, sample, save_idata
from bayes_ab.models.priors import Prior, prior_from_spec

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm

    from bayes_ab.results import Result


def _spec(prior) -> dict | None:
    """The dictionary (JSON) form of a default prior: a `Prior`, a dict or None."""
    if prior is None:
        return None
    return prior.to_dict() if isinstance(prior, Prior) else copy.deepcopy(dict(prior))


def merge_priors(defaults: dict, overrides: dict | None) -> dict:
    """Defaults updated by the user's overrides, in dictionary (JSON) form; unknown names
    are an error.

    An override that only names parameters the default has (``{"sigma": 2}``) updates
    it; one that brings other parameters (``{"sigma": 0.5}`` for a fixed ``{"value":
    0.25}``, or a new ``dist``) is a different prior and replaces it whole. Every merged
    prior is checked (`Prior.from_dict`) and written with its ``dist``.
    """
    merged = {key: _spec(value) for key, value in defaults.items()}
    for key, value in (overrides or {}).items():
        if key not in merged:
            raise OptionError(f"unknown prior '{key}'; known priors: {', '.join(sorted(merged))}")
        if isinstance(value, Prior):
            value = value.to_dict()
        same_family = value.get("dist", merged[key].get("dist")) == merged[key].get("dist") \
            if isinstance(merged[key], dict) and isinstance(value, dict) else False
        if same_family and set(value) <= set(merged[key]):
            merged[key].update(value)
        else:
            merged[key] = copy.deepcopy(value)
    return {key: None if spec is None else
            Prior.from_dict(spec, _default_prior(defaults[key])).to_dict()
            for key, spec in merged.items()}


def _default_prior(default) -> Prior | None:
    if default is None or isinstance(default, Prior):
        return default
    return Prior.from_dict(default)


def resolve_priors(defaults: dict, overrides: dict | None) -> dict[str, Prior | None]:
    """`merge_priors` as `Prior` objects (dims from the defaults); None stays None."""
    return {key: prior_from_spec(spec, _default_prior(defaults[key]))
            for key, spec in merge_priors(defaults, overrides).items()}


def model_data(name: str, value: Any):
    """``pm.Data`` with the value's static shape, inside the current model.

    As data rather than constants, the compiled model does not depend on the values:
    `bayes_ab.inference.compile_cache` serves one compiled entry for any data of these
    shapes. With the static shape PyTensor still knows every shape, as it does for constants
    (measured: the first compile takes about as long with or without it)."""
    import pymc as pm

    arr = np.asarray(value)
    return pm.Data(name, arr, shape=arr.shape)


class BayesModel:
    """Base class: subclasses set `name`, `default_priors`, `stats_type` and implement
    `build`, `summarize` (and optionally `diagnostic_vars`, `figures`)."""

    name: ClassVar[str] = "model"
    #: The priors, by name: a `Prior` each (None switches a component off).
    default_priors: ClassVar[dict[str, Prior | None]] = {}
    stats_type: ClassVar[type] = object
    #: Variables gated by the diagnostics (default: every posterior variable).
    diagnostic_vars: ClassVar[tuple[str, ...] | None] = None
    #: How many sampler compilations `fit` costs (for scheduling parallel fits).
    fit_cost: ClassVar[float] = 1.0
    #: Draw posterior predictive samples after fitting (for the PPC figure).
    posterior_predictive: ClassVar[bool] = True

    def __init__(self, stats: Any, *, priors: dict | None = None) -> None:
        self.stats = stats
        #: The priors this model uses: `Prior` objects (or None), defaults with overrides.
        self.priors: dict[str, Prior | None] = resolve_priors(self.default_priors, priors)

    def prior_specs(self) -> dict[str, dict | None]:
        """The priors in dictionary (JSON) form, as saved with the posterior."""
        return {k: None if p is None else p.to_dict() for k, p in self.priors.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(priors={json.dumps(self.prior_specs())})"

    # -- to implement -------------------------------------------------------------
    def build(self) -> pm.Model:  # pragma: no cover - abstract
        raise NotImplementedError

    def summarize(self, idata: az.InferenceData) -> Result:  # pragma: no cover - abstract
        """The model's results block: a frozen dataclass (``bayes_ab.results.Result``),
        written to results.json by ``bayes_ab.results.to_jsonable``."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    def model_config(self) -> dict:
        return {"priors": self.prior_specs(), "stats": self.stats.to_dict()}

    def table(self) -> str:
        """The priors by name, then the PyMC model one line per variable (PyMC's own text
        form, ``pm.Model.str_repr``: each random variable with its distribution, each
        deterministic and likelihood with the variables it depends on)."""
        width = max((len(k) for k in self.priors), default=0)
        priors = [f"  {name:<{width}}  {'off' if p is None else p}"
                  for name, p in self.priors.items()]
        return "\n".join(["priors:", *priors, "model:", self.build().str_repr()])

    def graph(self, path: str | Path | None = None):
        """The model graph (``pm.model_to_graphviz``; needs the ``graphviz`` package), or
        None when graphviz is not installed. With ``path``, also rendered to that file
        (format from its suffix, e.g. ``.png``; needs graphviz's ``dot`` program)."""
        try:
            import graphviz  # noqa: F401
        except ImportError:
            return None
        import pymc as pm

        dot = pm.model_to_graphviz(self.build())
        if path is not None:
            path = Path(path)
            dot.render(path.with_suffix(""), format=path.suffix.lstrip(".") or "png",
                       cleanup=True)
        return dot

    def exact_posterior(self, config: SamplerConfig) -> az.InferenceData | None:
        """Independent draws from the posterior in closed form, or None (the default) for a
        model that needs MCMC. `fit` uses it when ``config.exact`` is true."""
        return None

    def fit(self, config: SamplerConfig = SamplerConfig()) -> az.InferenceData:
        """The posterior (`fit_posterior`), with the secondary fits that only the summary
        reads (`fit_extras`)."""
        return self.fit_extras(self.fit_posterior(config), config)

    def fit_posterior(self, config: SamplerConfig = SamplerConfig()) -> az.InferenceData:
        """The model's posterior: exact draws where `exact_posterior` has them and
        ``config.exact`` is set, else MCMC."""
        if config.exact:
            idata = self.exact_posterior(config)
            if idata is not None:
                return idata
        return sample(
            self.build(), name=self.name, config=config, model_config=self.model_config(),
            posterior_predictive=self.posterior_predictive and config.posterior_predictive,
        )

    def fit_extras(self, idata: az.InferenceData, config: SamplerConfig) -> az.InferenceData:
        """Fits beside the posterior that only `summarize` reads (through ``idata.attrs``),
        none by default. `bayes_ab.workflows.analyze` runs them with the summary, beside
        the next model's fit, not before it. Returns ``idata``."""
        return idata

    def diagnostics(self, idata: az.InferenceData) -> ModelDiagnostics:
        return check(idata, name=self.name, var_names=self.diagnostic_vars)

    def save(self, idata: az.InferenceData, path: str | Path) -> Path:
        return save_idata(idata, path)

    @classmethod
    def load(cls, path: str | Path) -> tuple[az.InferenceData, BayesModel]:
        """Read a saved posterior and rebuild the model it came from."""
        idata, model_config, _ = load_idata(path)
        stats = cls.stats_type.from_dict(model_config["stats"])
        return idata, cls(stats, priors=model_config.get("priors"))


class CountGrid:
    """Shared plumbing of the frozen 2-D count tables (rows x columns of successes out of
    trials): freezing validated arrays into nested int tuples, and the arrays back."""

    successes: tuple
    trials: tuple

    def _freeze_counts(self, successes, trials) -> None:
        object.__setattr__(self, "successes", tuple(tuple(int(v) for v in r) for r in successes))
        object.__setattr__(self, "trials", tuple(tuple(int(v) for v in r) for r in trials))

    @property
    def successes_array(self):
        import numpy as np

        return np.asarray(self.successes, dtype=np.int64)

    @property
    def trials_array(self):
        import numpy as np

        return np.asarray(self.trials, dtype=np.int64)
