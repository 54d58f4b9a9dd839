"""The shape every model of the package follows (after pymc-marketing's model builder).

A model is built from *sufficient statistics* (a frozen dataclass with ``to_dict``/
``from_dict``), never from raw rows, and from *priors as data*: ``default_priors``
merged with the user's overrides, printable and saved with the posterior.

    model = ArmComparison(stats, priors={"rate": {"alpha": 2, "beta": 20}})
    print(model.priors)                       # the priors that will be used
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

from bayes_ab.diagnostics import ModelDiagnostics, check
from bayes_ab.errors import OptionError
from bayes_ab.fit import SamplerConfig, load_idata, sample, save_idata

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm

    from bayes_ab.results import Result


def merge_priors(defaults: dict, overrides: dict | None) -> dict:
    """Defaults updated by the user's overrides; unknown names are an error.

    An override that only names parameters the default has (``{"sigma": 2}``) updates
    it; one that brings other parameters (``{"sigma": 0.5}`` for a fixed ``{"value":
    0.25}``, or a new ``dist``) is a different prior and replaces it whole.
    """
    merged = copy.deepcopy(defaults)
    for key, value in (overrides or {}).items():
        if key not in merged:
            raise OptionError(f"unknown prior '{key}'; known priors: {', '.join(sorted(merged))}")
        same_family = value.get("dist", merged[key].get("dist")) == merged[key].get("dist") \
            if isinstance(merged[key], dict) and isinstance(value, dict) else False
        if same_family and set(value) <= set(merged[key]):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


class BayesModel:
    """Base class: subclasses set `name`, `default_priors`, `stats_type` and implement
    `build`, `summarize` (and optionally `diagnostic_vars`, `figures`)."""

    name: ClassVar[str] = "model"
    default_priors: ClassVar[dict] = {}
    stats_type: ClassVar[type] = object
    #: Variables gated by the diagnostics (default: every posterior variable).
    diagnostic_vars: ClassVar[tuple[str, ...] | None] = None
    #: How many sampler compilations `fit` costs (for scheduling parallel fits).
    fit_cost: ClassVar[float] = 1.0
    #: Draw posterior predictive samples after fitting (for the PPC figure).
    posterior_predictive: ClassVar[bool] = True

    def __init__(self, stats: Any, *, priors: dict | None = None) -> None:
        self.stats = stats
        self.priors = merge_priors(self.default_priors, priors)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(priors={json.dumps(self.priors)})"

    # -- to implement -------------------------------------------------------------
    def build(self) -> pm.Model:  # pragma: no cover - abstract
        raise NotImplementedError

    def summarize(self, idata: az.InferenceData) -> Result:  # pragma: no cover - abstract
        """The model's results block: a frozen dataclass (``bayes_ab.results.Result``),
        written to results.json by ``bayes_ab.results.to_jsonable``."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    def model_config(self) -> dict:
        return {"priors": self.priors, "stats": self.stats.to_dict()}

    def exact_posterior(self, config: SamplerConfig) -> az.InferenceData | None:
        """Independent draws from the posterior in closed form, or None (the default) for a
        model that needs MCMC. `fit` uses it when ``config.exact`` is true."""
        return None

    def fit(self, config: SamplerConfig = SamplerConfig()) -> az.InferenceData:
        if config.exact:
            idata = self.exact_posterior(config)
            if idata is not None:
                return idata
        return sample(
            self.build(), name=self.name, config=config, model_config=self.model_config(),
            posterior_predictive=self.posterior_predictive,
        )

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
