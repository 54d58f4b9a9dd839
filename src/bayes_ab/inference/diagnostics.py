"""Convergence diagnostics: the gate every posterior passes before it is published.

The only module that calls ArviZ's summary functions. A model passes when
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
    """Max r_hat, min bulk ESS and divergences over the (named) posterior variables."""
    import arviz as az

    post = idata.posterior
    names = list(var_names) if var_names is not None else list(post.data_vars)
    names = [v for v in names if v in post.data_vars]
    n_chains = int(post.sizes.get("chain", 1))
    n_draws = int(post.sizes.get("draw", 0))
    # An element that never varies (e.g. a task effect fixed at 0 by the parameterisation)
    # has no within-chain variance: its r_hat is NaN (0/0, numpy's "invalid value"
    # warning, silenced here) and is left out of the max, as is a NaN ESS of the min.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        if n_chains > 1:
            rhat = az.rhat(post[names])
            max_r_hat = float(np.nanmax([np.nanmax(rhat[v].values) for v in names]))
        else:  # r_hat needs two chains; a single chain cannot show convergence
            max_r_hat = float("nan")
        ess = az.ess(post[names], method="bulk")
        min_ess = float(np.nanmin([np.nanmin(ess[v].values) for v in names]))
    divergences = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        divergences = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    return ModelDiagnostics(
        name=name, max_r_hat=max_r_hat, min_ess_bulk=min_ess, divergences=divergences,
        n_draws=n_draws, n_chains=n_chains,
    )


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
