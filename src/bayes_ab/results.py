"""Typed results and their one serialisation to JSON.

Every result block (a model's ``summarize()``, the decision, the frequentist cross-checks,
the sample-ratio check) is a frozen dataclass; ``to_jsonable`` is the only code that turns
them into the plain dicts and lists of results.json / compare.json (modelled on gbstats'
``models/results.py``: results are dataclasses, tests compare ``asdict(result)`` with an
expected instance).

A result class says how it is written with three optional class attributes, and nothing
else (no hand-written ``to_dict`` body):

* ``json_fields``: the attribute names written, in JSON key order (dataclass fields and
  properties); default: every dataclass field, in declaration order.
* ``json_keys``: attribute name -> JSON key, only where the two differ (results.json keys are
  fixed by docs/RESULTS_SCHEMA.md; an attribute may read better than its key).
* ``json_omit_none``: attributes whose key is left out when the value is None (blocks that
  results.json has only in some runs, e.g. ``per_arm`` with more than two arms).

Values are converted by their annotation: an attribute annotated ``float`` is written as a
float (``1`` becomes ``1.0``), ``int`` as an int, ``bool`` as a bool; numpy scalars and
arrays become Python numbers and lists, tuples become lists, mappings dicts with string keys.
Non-finite floats are kept (``io.write_json`` writes them as null).

``Result`` adds, to any such dataclass, ``to_dict()`` (= ``to_jsonable(self)``),
``from_dict()`` (the inverse, for a results.json read back from disk) and read access by
JSON key (``block["prob_test_better"]``, ``block.get(...)``, ``"per_arm" in block``), so code
written against the dicts keeps working while new code reads attributes.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bayes_ab.constants import HDI_PROB

__all__ = ["Interval", "Result", "from_jsonable", "json_items", "posterior_interval", "to_jsonable"]

_CASTS = {"float": float, "int": int, "bool": bool}


@cache
def _casts(cls: type) -> dict[str, Any]:
    """attribute -> float/int/bool for attributes annotated exactly so (fields and properties)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if t in _CASTS:
            out[f.name] = _CASTS[t]
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, property) and attr.fget is not None:
                ret = attr.fget.__annotations__.get("return")
                ret = ret if isinstance(ret, str) else getattr(ret, "__name__", "")
                if ret in _CASTS:
                    out[name] = _CASTS[ret]
    return out


def _fields_of(cls: type) -> tuple[str, ...]:
    names = getattr(cls, "json_fields", None)
    return tuple(names) if names else tuple(f.name for f in dataclasses.fields(cls))


def json_items(obj: Any) -> Iterator[tuple[str, str, Any]]:
    """(attribute, JSON key, value) of a result dataclass, in JSON order, omitted keys left out."""
    cls = type(obj)
    keys: Mapping[str, str] = getattr(cls, "json_keys", {}) or {}
    omit = getattr(cls, "json_omit_none", frozenset()) or frozenset()
    for name in _fields_of(cls):
        value = getattr(obj, name)
        if value is None and name in omit:
            continue
        yield name, keys.get(name, name), value


def to_jsonable(obj: Any) -> Any:
    """The plain-JSON form of a result (dataclasses, mappings, sequences, numpy values)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        casts = _casts(type(obj))
        out = {}
        for name, key, value in json_items(obj):
            cast = casts.get(name)
            if cast is not None and value is not None and not isinstance(value, (list, tuple)):
                value = cast(value)
            out[key] = to_jsonable(value)
        return out
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------- reading back


@cache
def _hints(cls: type) -> dict[str, Any]:
    """Field types of ``cls``; a name that cannot be resolved reads as ``Any``."""
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module else {}
    try:
        return typing.get_type_hints(cls, globalns=namespace)
    except NameError:
        out = {}
        for f in dataclasses.fields(cls):
            try:
                out[f.name] = eval(f.type, namespace) if isinstance(f.type, str) else f.type
            except NameError:
                out[f.name] = Any
        return out


def _convert(tp: Any, value: Any) -> Any:
    """``value`` (plain JSON) as type ``tp``: nested result dataclasses, tuples, mappings."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        return from_jsonable(tp, value)
    if tp is tuple and isinstance(value, list):
        return tuple(value)
    if origin in (tuple,) and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(value)
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        if isinstance(value, Mapping) and len(args) == 2:
            return {k: _convert(args[1], v) for k, v in value.items()}
        return dict(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def from_jsonable(cls: type, data: Mapping[str, Any]) -> Any:
    """The result dataclass ``cls`` from its JSON form (the inverse of ``to_jsonable`` for
    the dataclass fields; properties are recomputed, unknown keys ignored). A JSON null
    becomes None; a missing key takes the field's default."""
    keys: Mapping[str, str] = getattr(cls, "json_keys", {}) or {}
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = keys.get(f.name, f.name)
        if key in data:
            kwargs[f.name] = _convert(hints.get(f.name, Any), data[key])
        elif (f.default is dataclasses.MISSING
              and f.default_factory is dataclasses.MISSING):  # type: ignore[misc]
            kwargs[f.name] = None
    return cls(**kwargs)


class Result(Mapping):
    """Base of the result dataclasses: ``to_dict``/``from_dict`` through the one serialiser,
    and read-only access by results.json key (a result is a ``Mapping`` of its JSON keys to
    its typed values, e.g. ``block["lift_abs"]`` is an ``Interval``)."""

    json_fields: ClassVar[tuple[str, ...]] = ()
    json_keys: ClassVar[Mapping[str, str]] = {}
    json_omit_none: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return from_jsonable(cls, data)

    # Mapping by JSON key (attribute values, typed).
    def _by_key(self) -> dict[str, Any]:
        return {key: value for _, key, value in json_items(self)}

    def __getitem__(self, key: str) -> Any:
        return self._by_key()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key())

    def __len__(self) -> int:
        return len(self._by_key())

    # The dataclass-generated __eq__ (a result equals only an equal result of its class)
    # and __hash__ of each subclass take precedence over Mapping's.


@dataclass(frozen=True)
class Interval(Result):
    """A point summary with a 95% interval: HDI for posteriors, CI for frequentist results.
    Written as the RESULTS_SCHEMA interval ``{"mean", "lower", "upper", "prob"}``."""

    mean: float
    lower: float
    upper: float
    prob: float = HDI_PROB

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper


def posterior_interval(draws, *, prob: float = HDI_PROB) -> Interval:
    """Posterior mean and HDI of draws (``bayes_ab.inference.intervals.draws_interval``) as an ``Interval``."""
    from bayes_ab.inference.intervals import draws_interval as interval

    return Interval(**interval(draws, prob=prob))
