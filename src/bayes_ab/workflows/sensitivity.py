"""Prior sensitivity: does any conclusion change under a weaker or a stronger prior?

Every model keeps its priors as data (``default_priors``), so one generic rule scales them
all. A *scale* ``c`` multiplies the prior's precision:

* a scale (``sigma`` of a Normal / HalfNormal prior, ``value`` of a fixed group sd) is
  divided by sqrt(c);
* a concentration (``alpha``/``beta`` of a Beta, ``a`` or ``alpha`` of a Dirichlet) is
  multiplied by c (the prior's pseudo-observations, so its sd shrinks ~ 1/sqrt(c) too);
* locations (``mu``) and the family are kept.

The default scales are ``(0.25, 4.0)``: sds doubled and halved, Beta(1, 1) becomes
Beta(0.25, 0.25) and Beta(4, 4). Each model is refitted under both (one compilation for
all three fits, `bayes_ab.workflows.calibration.ReusableFit`) and, per headline quantity of its
results.json block, the conclusion is compared:

* a probability (``prob_*``): its band, > 0.95 / < 0.05 / in between;
* an interval of a contrast (lifts, differences, effects, slopes: reference 0; ratios:
  reference 1): the sign of its mean and whether the 95% HDI excludes the reference;
* for an arm comparison, the decision (double down / pivot / keep testing).

Optionally, power-scaling sensitivity (Kallioinen et al. 2024) through ``arviz.psens``:
the prior is raised to a power near 1 by importance weighting of the default fit, and the
cumulative Jensen-Shannon distance of each quantity's posterior reported (above 0.05:
prior-sensitive). It costs one PyMC compilation of the log prior, so it is off by default.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bayes_ab.errors import OptionError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.results import to_jsonable

__all__ = ["DEFAULT_SCALES", "headline_quantities", "prior_sensitivity", "results_block", "scale_priors"]

#: Prior precision multipliers (weaker, stronger).
DEFAULT_SCALES = (0.25, 4.0)
#: Probability bands whose crossing is a change of conclusion.
PROB_HIGH, PROB_LOW = 0.95, 0.05
#: Top-level interval keys judged as contrasts (reference 0, or 1 for ratios).
_CONTRAST = re.compile(r"lift|diff|effect|slope|first_stage|ratio|late")
_SCALE_KEYS = ("sigma", "value")
_CONCENTRATION_KEYS = ("alpha", "beta", "a")
#: Power-scaling sensitivity above this (cumulative JS distance) flags a prior-sensitive quantity.
PSENS_THRESHOLD = 0.05


def scale_priors(priors: Mapping, precision: float) -> dict:
    """``priors`` with every scale divided by sqrt(precision) and every concentration
    multiplied by precision (module doc). Unknown keys and ``None`` priors are kept."""
    if not precision > 0:
        raise OptionError(f"a prior scale must be positive, got {precision}")
    out = copy.deepcopy(dict(priors))
    for name, spec in out.items():
        if not isinstance(spec, dict):
            continue
        for key in _SCALE_KEYS:
            if key in spec and spec[key] is not None:
                spec[key] = float(spec[key]) / np.sqrt(precision)
        for key in _CONCENTRATION_KEYS:
            if key in spec and spec[key] is not None:
                value = spec[key]
                spec[key] = ([float(v) * precision for v in value] if isinstance(value, list | tuple)
                             else float(value) * precision)
    return out


def _is_interval(x: Any) -> bool:
    return isinstance(x, dict) and {"mean", "lower", "upper"} <= set(x)


def headline_quantities(summary: Mapping) -> dict[str, Any]:
    """Top-level probabilities (``prob_*``) and intervals of a model's results block."""
    out = {}
    for key, value in summary.items():
        if key.startswith("prob_") and isinstance(value, int | float):
            out[key] = float(value)
        elif _is_interval(value):
            out[key] = {k: float(value[k]) for k in ("mean", "lower", "upper")}
    return out


def _prob_band(p: float) -> str:
    return "above_0.95" if p > PROB_HIGH else ("below_0.05" if p < PROB_LOW else "between")


def _interval_conclusion(key: str, iv: Mapping) -> dict | None:
    if not _CONTRAST.search(key):
        return None
    ref = 1.0 if "ratio" in key else 0.0
    excludes = bool(iv["lower"] > ref or iv["upper"] < ref)
    return {"reference": ref, "sign": int(np.sign(iv["mean"] - ref)), "hdi_excludes_reference": excludes}


def _conclusion(key: str, value) -> Any:
    if isinstance(value, float):
        return _prob_band(value)
    return _interval_conclusion(key, value)


def _decision(model, idata) -> str | None:
    """Recommendation from an arm comparison's rate draws (None for other models)."""
    post = idata.posterior
    # Only a per-arm rate vector (the arm comparison), not e.g. rates by arm x n_completed.
    if "rate" not in post or tuple(post["rate"].dims) != ("chain", "draw", "arm"):
        return None
    arms = list(post["rate"].coords["arm"].values)
    if len(arms) != 2:
        return None
    from bayes_ab.stats.decision import decide_from_draws

    control = np.asarray(post["rate"].sel(arm=arms[0])).reshape(-1)
    test = np.asarray(post["rate"].sel(arm=arms[1])).reshape(-1)
    n = int(np.sum(np.asarray(getattr(model.stats, "trials", 0)))) or None
    return decide_from_draws(control, test, metric=model.name, n_customers=n).recommendation


def _power_scaling(model, idata, var_names: Sequence[str]) -> dict[str, float]:
    import warnings

    import arviz as az
    import pymc as pm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm_model = model.build()
        names = [rv.name for rv in pm_model.free_RVs]
        sub = az.InferenceData(posterior=idata.posterior[names])
        pm.compute_log_prior(sub, model=pm_model, progressbar=False)
        idata.add_groups(log_prior=sub.log_prior)
        keep = [v for v in var_names if v in idata.posterior]
        res = az.psens(idata, component="prior", var_names=keep)
    out = {}
    for v in keep:
        vals = np.asarray(res[v].values, dtype=float).ravel()
        out[v] = float(np.nanmax(vals))
    return out


def prior_sensitivity(
    model_cls,
    stats,
    *,
    config: SamplerConfig = SamplerConfig(draws=1000, tune=1000, chains=2),
    scales: tuple[float, float] = DEFAULT_SCALES,
    priors: dict | None = None,
    model_kwargs: Mapping | None = None,
    power_scaling: bool = False,
) -> dict:
    """Refit ``model_cls(stats)`` under its priors (``priors`` overrides merged into the
    defaults) scaled by ``scales = (weaker, stronger)`` precision multipliers; report each
    headline quantity under the three priors and whether its conclusion changes.

    Returns a JSON-ready dict (the ``prior_sensitivity`` block of one model)::

        {"model", "scales": {"weaker", "stronger"}, "rule", "priors": {...},
         "quantities": {key: {"default", "weaker", "stronger", "conclusion": {...},
                              "changes": bool}},
         "decision": {"default", "weaker", "stronger", "changes"} | None,
         "conclusion_changes": bool, "changed": [keys], "sentence",
         "power_scaling": {var: cjs} | None, "diagnostics": {label: {...}}}
    """
    from bayes_ab.workflows.calibration import ReusableFit
    from bayes_ab.models.base import merge_priors

    weaker, stronger = (float(s) for s in scales)
    if not (weaker < 1 < stronger):
        raise OptionError(f"scales must be (weaker < 1, stronger > 1), got {scales}")
    base = merge_priors(model_cls.default_priors, priors)
    variants = {"default": base, "weaker": scale_priors(base, weaker),
                "stronger": scale_priors(base, stronger)}
    fitter = ReusableFit(model_cls, stats, priors=base, probe_priors=variants["stronger"],
                         config=config, model_kwargs=model_kwargs)
    summaries, decisions, diagnostics, fits = {}, {}, {}, {}
    for label, pr in variants.items():
        model, idata = fitter.sample(stats, pr, seed=config.seed)
        fits[label] = (model, idata)
        summaries[label] = headline_quantities(to_jsonable(model.summarize(idata)))
        decisions[label] = _decision(model, idata)
        d = model.diagnostics(idata)
        diagnostics[label] = {"max_r_hat": d.max_r_hat, "min_ess_bulk": d.min_ess_bulk,
                              "divergences": d.divergences, "passed": bool(d.passed)}
    quantities, changed = {}, []
    for key, value in summaries["default"].items():
        entry = {label: summaries[label].get(key) for label in variants}
        concl = {label: _conclusion(key, entry[label]) for label in variants
                 if entry[label] is not None}
        changes = (len({repr(c) for c in concl.values()}) > 1) if any(
            c is not None for c in concl.values()) else False
        entry["conclusion"] = concl
        entry["changes"] = bool(changes)
        quantities[key] = entry
        if changes:
            changed.append(key)
    decision = None
    if decisions["default"] is not None:
        decision = {**decisions, "changes": len(set(decisions.values())) > 1}
        if decision["changes"]:
            changed.append("decision")
    name = fits["default"][0].name
    sentence = (
        f"{name}: no conclusion changes when the prior is made weaker (precision x{weaker:g}) "
        f"or stronger (x{stronger:g})."
        if not changed else
        f"{name}: the conclusion about {', '.join(changed)} changes between a weaker "
        f"(precision x{weaker:g}) and a stronger (x{stronger:g}) prior: the data alone do "
        "not settle it."
    )
    psens = None
    if power_scaling:
        model, idata = fits["default"]
        var_names = list(model.diagnostic_vars or idata.posterior.data_vars)
        psens = _power_scaling(model, idata, var_names)
    return {
        "model": name,
        "scales": {"weaker": weaker, "stronger": stronger},
        "rule": "prior precision multiplied by the scale: sds / sqrt(scale), Beta and "
                "Dirichlet concentrations x scale, locations kept",
        "priors": variants,
        "quantities": quantities,
        "decision": decision,
        "conclusion_changes": bool(changed),
        "changed": changed,
        "sentence": sentence,
        "power_scaling": psens,
        "power_scaling_threshold": PSENS_THRESHOLD if power_scaling else None,
        "diagnostics": diagnostics,
        "sampler": config.to_dict(),
    }


def results_block(per_model: Mapping[str, dict | None]) -> dict:
    """The results.json ``prior_sensitivity`` block from `prior_sensitivity` outputs keyed
    by model key (``None`` for a model that could not be refitted)::

        {"scales", "rule", "any_conclusion_changes", "changed": {key: [...]},
         "sentences": [...], "per_model": {key: block | None}}
    """
    # Entries that are None or carry an "error" (a model that could not be refitted) count
    # as not assessed.
    done = {k: v for k, v in per_model.items() if v is not None and "changed" in v}
    first = next(iter(done.values()), None)
    return {
        "scales": first["scales"] if first else None,
        "rule": first["rule"] if first else None,
        "any_conclusion_changes": any(v["conclusion_changes"] for v in done.values()),
        "changed": {k: v["changed"] for k, v in done.items() if v["changed"]},
        "sentences": [v["sentence"] for v in done.values()],
        "per_model": dict(per_model),
    }
