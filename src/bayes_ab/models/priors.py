"""Priors as objects: a distribution, its parameters and (optionally) its dims, outside a model.

    rate = Prior("Beta", alpha=1.0, beta=1.0, dims="arm")
    print(rate)                        # Beta(alpha=1, beta=1)
    with pm.Model(coords=...):
        rate.create_variable("rate")   # pm.Beta("rate", alpha=1.0, beta=1.0, dims="arm")

The interface is that of ``pymc_extras.prior.Prior`` (pymc-marketing's and CausalPy's
``Prior``): ``distribution``, ``parameters``, ``dims``, ``prior["sigma"]``,
``create_variable(name)``, ``to_dict()`` / ``from_dict()``. It is a small class of our own
because the model modules declare their priors at import time and must not import PyMC
then (``bayes-ab compare`` on a binary outcome runs without PyMC, issue 16.2), while
``pymc_extras.prior`` imports PyMC and pymc-extras' inference modules on import; and because
two of our priors are not PyMC distributions: ``Prior("Fixed", value=0.5)`` is a constant
(a between-group sd fixed rather than learned), and a prior set to ``None`` switches a
model component off.

The dictionary form is the JSON one of results.json, idata attrs and user overrides:
``{"dist": "Normal", "mu": 0.0, "sigma": 1.0}``. A dictionary without ``"dist"`` takes the
family of the prior it overrides when its parameters fit it, else the family its
parameter names imply (``value``: Fixed, ``sigma``: HalfNormal, ``mu``/``sigma``: Normal,
``alpha``/``beta``: Beta, ``a``: Dirichlet). ``dims`` belong to the model's coords and are
not part of the dictionary form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayes_ab.errors import OptionError

__all__ = ["FIXED", "Prior", "prior_from_spec"]

#: The family of a constant: ``create_variable`` returns the value, no random variable.
FIXED = "Fixed"

#: Parameter names -> the family they imply, for a dictionary without "dist".
_FAMILY_OF_PARAMETERS: dict[frozenset, str] = {
    frozenset({"value"}): FIXED,
    frozenset({"sigma"}): "HalfNormal",
    frozenset({"mu", "sigma"}): "Normal",
    frozenset({"alpha", "beta"}): "Beta",
    frozenset({"a"}): "Dirichlet",
}


def _dims_tuple(dims: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if dims is None:
        return None
    return (dims,) if isinstance(dims, str) else tuple(dims)


class Prior:
    """A named PyMC distribution with fixed parameters, created inside a model on demand."""

    __slots__ = ("distribution", "parameters", "dims")

    def __init__(self, distribution: str, *, dims: str | Sequence[str] | None = None,
                 **parameters: Any) -> None:
        if not isinstance(distribution, str) or not distribution:
            raise OptionError(f"a prior's distribution must be a name, got {distribution!r}")
        if distribution == FIXED and set(parameters) != {"value"}:
            raise OptionError(f"a Fixed prior takes one parameter, value; got {parameters}")
        self.distribution = distribution
        self.parameters = dict(parameters)
        self.dims = _dims_tuple(dims)

    # -- reading ----------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.parameters[key]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Prior) and other.distribution == self.distribution
                and other.parameters == self.parameters and other.dims == self.dims)

    def __hash__(self) -> int:  # pragma: no cover - priors are values, rarely hashed
        return hash((self.distribution, repr(sorted(self.parameters.items())), self.dims))

    def __repr__(self) -> str:
        args = [repr(self.distribution)] + [f"{k}={v!r}" for k, v in self.parameters.items()]
        if self.dims is not None:
            args.append(f"dims={self.dims!r}")
        return f"Prior({', '.join(args)})"

    def __str__(self) -> str:
        def fmt(v: Any) -> str:
            if isinstance(v, list | tuple):
                return "[" + ", ".join(fmt(x) for x in v) + "]"
            return f"{v:g}" if isinstance(v, int | float) else str(v)

        args = ", ".join(f"{k}={fmt(v)}" for k, v in self.parameters.items())
        return f"{self.distribution}({args})"

    @property
    def is_fixed(self) -> bool:
        return self.distribution == FIXED

    def with_parameters(self, **parameters: Any) -> Prior:
        """A copy with some parameters replaced (same family and dims)."""
        return Prior(self.distribution, dims=self.dims, **{**self.parameters, **parameters})

    def as_floats(self) -> Prior:
        """A copy with every whole-number parameter as a float (``alpha=50`` -> ``50.0``):
        the graph of a float constant, whatever number type an override used."""
        return Prior(self.distribution, dims=self.dims, **{
            k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in self.parameters.items()})

    # -- inside a PyMC model ---------------------------------------------------------
    def _pymc_class(self):
        import pymc as pm

        cls = getattr(pm, self.distribution, None)
        if cls is None or not hasattr(cls, "dist"):
            raise OptionError(f"unknown prior distribution {self.distribution!r}: "
                              "not a PyMC distribution")
        return cls

    def _pymc_parameters(self) -> dict[str, Any]:
        import numpy as np

        return {k: (np.asarray(v, dtype=float) if isinstance(v, list | tuple) else v)
                for k, v in self.parameters.items()}

    def create_variable(self, name: str, *, dims: str | Sequence[str] | None = None):
        """``pm.<distribution>(name, **parameters, dims=...)`` in the current model (a
        Fixed prior returns its value as a float). ``dims`` overrides the prior's own."""
        if self.is_fixed:
            return float(self.parameters["value"])
        use = _dims_tuple(dims) if dims is not None else self.dims
        return self._pymc_class()(name, **self._pymc_parameters(), dims=use)

    def dist(self, **parameters: Any):
        """The unnamed distribution ``pm.<distribution>.dist(...)`` (e.g. a random walk's
        ``init_dist``), parameters overridable (``prior.dist(mu=shift + prior["mu"])``)."""
        if self.is_fixed:
            raise OptionError("a Fixed prior is a constant, not a distribution")
        return self._pymc_class().dist(**{**self._pymc_parameters(), **parameters})

    # -- the dictionary (JSON) form ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"dist": self.distribution,
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.parameters.items()}}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], default: Prior | None = None) -> Prior:
        """The prior of a dictionary (module doc for one without "dist")."""
        if isinstance(spec, Prior):
            return spec
        if not isinstance(spec, Mapping):
            raise OptionError(f"a prior must be a dict of a distribution and its parameters, "
                              f"got {spec!r}")
        params = {k: v for k, v in spec.items() if k != "dist"}
        dist = spec.get("dist")
        if dist is None:
            if default is not None and set(params) <= set(default.parameters):
                dist = default.distribution
            else:
                dist = _FAMILY_OF_PARAMETERS.get(frozenset(params))
            if dist is None:
                raise OptionError(f"prior {dict(spec)} names no 'dist' and its parameters "
                                  "imply none")
        dims = default.dims if default is not None else None
        return cls(dist, dims=dims, **params)


def prior_from_spec(spec: Prior | Mapping | None, default: Prior | None = None) -> Prior | None:
    """``None`` (a switched-off component) stays ``None``; anything else is a `Prior`."""
    if spec is None:
        return None
    return Prior.from_dict(spec, default)
