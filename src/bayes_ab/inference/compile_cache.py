"""nutpie's numba compile, kept on disk: a model compiled once is loaded, not compiled, next time.

nutpie (0.16) compiles every model in every process: PyTensor rewrites the log density and
its gradient, numba compiles them, then numba compiles two C callbacks around them (the
functions nutpie's Rust sampler calls). PyTensor caches part of the numba code on disk,
but the callbacks use "dynamic globals" and numba will not cache them, so every process paid
3-15 s per model (measured on the example: 51 s of a 92 s run).

`compile_model` does what ``nutpie.compile_pymc_model(model)`` does, with two differences:

* the two C callbacks are generated from source by this module (no dynamic globals: the data
  arrays reach them through one array of addresses and shapes) and saved in numba's on-disk
  cache, under a key that identifies the model;
* the key (`graph_key`) is a SHA-256 over the model's log density and trace graphs *before*
  any rewrite: every operation with its parameters, every constant's bytes, every input's
  type and name, the shape of every data array (``pm.Data``: their values are passed at run
  time, not compiled in), every free variable's static shape, ``check_bounds``, and the
  versions of PyTensor, PyMC, numba, llvmlite and nutpie. The shapes of the sampled vector
  and of the trace come with the compiled callbacks.

So a model built again on the same data, or on new data of the same shapes, skips PyTensor's
rewrites, the gradient and both numba compiles, and loads the callbacks in milliseconds. A
model that cannot be keyed safely (an operation without declared parameters, a free
variable of unknown static shape, an integer scalar shared variable) is compiled by nutpie
as before, never served from the cache. Whatever goes wrong on a hit (a cache entry written
by another version, a missing file) falls back to compiling. The cache lives in the numba
cache folder that `bayes_ab.inference.fit.claim_numba_cache` gives this process (PyTensor's
compile directory, one slot per concurrent process), never in the user's folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

#: Bump when the generated callbacks or the key change meaning (7: compiled without numba's
#: fast-math flags, whatever PyTensor's ``numba__fastmath`` says: `compile_model`).
CACHE_FORMAT = 7
_INT_DTYPE = np.int64


def _versions() -> tuple[str, ...]:
    import llvmlite
    import numba
    import nutpie
    import pymc
    import pytensor

    return (pytensor.__version__, pymc.__version__, numba.__version__, llvmlite.__version__,
            nutpie.__version__, str(CACHE_FORMAT), str(pytensor.config.floatX))


class _Unkeyable(Exception):
    """The graph holds something whose identity a key could not capture."""


def _value_key(value: Any, depth: int = 0) -> str:
    """A text that identifies an op parameter (recursing into ops and tuples, not far)."""
    from pytensor.graph.op import HasInnerGraph
    from pytensor.graph.op import Op

    if depth > 12:
        raise _Unkeyable("nested too deep")
    if isinstance(value, HasInnerGraph) or isinstance(value, Op) or type(value).__module__.startswith("pytensor.scalar"):
        return _op_key(value, depth + 1)
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_value_key(v, depth + 1) for v in value) + ")"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "{" + ",".join(f"{k!r}:{_value_key(v, depth + 1)}" for k, v in items) + "}"
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return f"ndarray({value.dtype},{value.shape},{hashlib.sha256(data.tobytes()).hexdigest()})"
    if value is None or isinstance(value, (bool, int, float, str, bytes, slice, np.generic,
                                           np.dtype)):
        return repr(value)
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return f"{getattr(value, '__module__', None)}.{value.__qualname__}"
    if hasattr(value, "__dict__") and type(value).__module__.startswith("pytensor."):
        # e.g. a scalar op's output type rule (an object whose attributes are its identity)
        return f"{type(value).__module__}.{type(value).__qualname__}{_value_key(vars(value), depth + 1)}"
    text = repr(value)
    if " at 0x" in text or len(text) > 2000:  # an identity, not a content: cannot be keyed
        raise _Unkeyable(text[:200])
    return f"{type(value).__module__}.{type(value).__qualname__}:{text}"


def _op_key(op: Any, depth: int = 0) -> str:
    from pytensor.graph.op import HasInnerGraph

    name = f"{type(op).__module__}.{type(op).__qualname__}"
    if isinstance(op, HasInnerGraph):
        # an op defined by a graph of its own (PyMC's symbolic random variables, fused
        # scalar ops): its simple attributes, its types, and its inner graph, hashed
        inner = op.fgraph
        text, _ = _graph_text(list(inner.outputs), list(inner.inputs))
        simple = {k: v for k, v in vars(op).items() if not k.startswith("_")
                  and (v is None or isinstance(v, (bool, int, float, str)))}
        types = [str(t) for t in getattr(op, "input_types", [])] + [
            str(t) for t in getattr(op, "output_types", [])]
        return (name + _value_key(simple, depth + 1) + repr(types)
                + hashlib.sha256(text.encode()).hexdigest())
    props = getattr(op, "__props__", None)
    if props is None:
        # Ops without declared parameters (PyTensor's scalar ops): every attribute counts
        # (their equality is the type and the output-type rule, both attributes or the type).
        attrs = {k: v for k, v in vars(op).items() if not k.startswith("_")}
        return name + _value_key(attrs, depth + 1)
    return name + "[" + ",".join(f"{p}={_value_key(getattr(op, p), depth + 1)}"
                                 for p in props) + "]"


def _graph_text(outputs: list, value_vars: list) -> tuple[str, list]:
    """The graph of ``outputs`` as a text that identifies it, and its shared variables."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort
    from pytensor.tensor.type import TensorType

    inputs_order: dict = {v: ("value", i) for i, v in enumerate(value_vars)}
    coords: dict = dict(inputs_order)
    parts: list[str] = []
    shared: list = []

    def coord(var) -> str:
        if var in coords:
            return repr(coords[var])
        if isinstance(var, Constant):
            data = np.asarray(var.data)
            if data.dtype.hasobject:  # None, slices: their text, not their addresses
                key = f"const({var.type},{_value_key(var.data)})"
            else:
                key = (f"const({var.type},{data.dtype},{data.shape},"
                       f"{hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()})")
        elif isinstance(var, SharedVariable) and not isinstance(var.type, TensorType):
            key = f"shared-other({var.name},{var.type})"  # e.g. a random generator
        elif isinstance(var, SharedVariable):
            value = np.asarray(var.get_value(borrow=True))
            if value.ndim == 0 and value.dtype.kind in "iub":
                # a scalar integer (a dimension's length) may decide shapes: keyed by value
                key = f"shared({var.name},{var.type},{value.dtype},{value.item()!r})"
            else:
                key = f"shared({var.name},{var.type},{value.dtype},{value.shape})"
            shared.append(var)
        elif var.owner is None:
            if var not in inputs_order:
                raise _Unkeyable(f"free input {var}")
            key = repr(inputs_order[var])
        else:  # pragma: no cover - toposort visits owners first
            raise _Unkeyable(str(var))
        coords[var] = key
        return key

    nodes = io_toposort([v for v in value_vars], outputs)
    for i, node in enumerate(nodes):
        ins = ",".join(coord(v) for v in node.inputs)
        parts.append(f"{i}:{_op_key(node.op)}({ins})->{','.join(str(o.type) for o in node.outputs)}")
        for j, out in enumerate(node.outputs):
            coords[out] = f"n{i}.{j}"
    parts.append("out:" + ",".join(coord(o) for o in outputs))
    return "\n".join(parts), shared


def graph_key(model: pm.Model) -> tuple[str, dict[str, Any]] | None:
    """The model's cache key and its shared variables by name, or None when the model cannot
    be keyed safely (then it is compiled, never served from the cache).

    The key is the model's *generative* graph: every random variable (free and observed),
    deterministic and potential with the observed values, each variable's name, the value
    variable and transform of each random variable, plus `_versions` and check_bounds.
    PyMC derives the log density and the trace (deterministics) from exactly these, so the
    same generative graph gives the same compiled functions; building the log density to
    key it instead cost 0.1-0.4 s per model (1.15 of 1.4 s of the example's keys). A
    transform whose attributes cannot be keyed falls back to keying the log density graph."""
    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    try:
        try:
            text, shared = _graph_text(_generative_outputs(model), value_vars)
            text = "generative\n" + "\n".join(_variable_lines(model)) + "\n" + text
        except _Unkeyable:
            # the free variables' own graphs decide their shapes (sizes, dims, parameters)
            outputs = [model.logp(), *model.unobserved_value_vars, *model.free_RVs]
            text, shared = _graph_text(outputs, value_vars)
    except (_Unkeyable, NotImplementedError, TypeError, ValueError):
        return None
    names = [v.name for v in shared]
    if any(n is None for n in names) or len(set(names)) != len(names):
        return None
    head = [*_versions(), f"check_bounds={model.check_bounds}",
            "names=" + ",".join(f"{v.name}:{v.type}:{rv.dtype}"
                                for v, rv in zip(value_vars, model.free_RVs))]
    digest = hashlib.sha256("\n".join([*head, text]).encode()).hexdigest()
    return digest, {v.name: v for v in shared}


def _generative_outputs(model: pm.Model) -> list:
    """The variables whose graphs define the model: random variables (free, then observed),
    deterministics, potentials and the observed values."""
    return [*model.free_RVs, *model.observed_RVs, *model.deterministics, *model.potentials,
            *(model.rvs_to_values[rv] for rv in model.observed_RVs)]


def _variable_lines(model: pm.Model) -> list[str]:
    """Each variable's name in its role, and each random variable's value variable and
    transform (type and attributes; a callable attribute cannot be keyed: its closure).
    A custom distribution (its log density outside the graph) cannot be keyed this way."""
    from pymc.distributions.custom import CustomDistRV, CustomSymbolicDistRV

    lines = []
    for rv in [*model.free_RVs, *model.observed_RVs]:
        if isinstance(rv.owner.op, (CustomDistRV, CustomSymbolicDistRV)):
            # its log density is a user's function registered beside the graph, not in it
            raise _Unkeyable(f"custom distribution {rv.name}")
    for role, group in (("free", model.free_RVs), ("observed", model.observed_RVs),
                        ("deterministic", model.deterministics),
                        ("potential", model.potentials)):
        lines.append(role + ":" + ",".join(repr(v.name) for v in group))
    for rv in [*model.free_RVs, *model.observed_RVs]:
        transform = model.rvs_to_transforms.get(rv)
        if transform is None:
            tr = "None"
        else:
            attrs = {k: v for k, v in vars(transform).items() if not k.startswith("__")}
            if any(callable(v) for v in attrs.values()):
                raise _Unkeyable(f"transform {type(transform).__name__} holds a function")
            tr = f"{type(transform).__module__}.{type(transform).__qualname__}" + _value_key(attrs)
        value = model.rvs_to_values[rv]
        lines.append(f"{rv.name!r}->{getattr(value, 'name', None)!r}:{tr}")
    return lines


# -- the C callbacks -------------------------------------------------------------------------

def _void_pointer_intrinsic():
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def address_as_void_pointer(typingctx, src):
        sig = types.voidptr(src)

        def codegen(cgctx, builder, sig, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return sig, codegen

    return address_as_void_pointer


_PTR = None


def _layout(names: list[str], arrays: dict[str, np.ndarray]) -> tuple[list[str], int]:
    """Source lines that rebuild each data array from the address block, and its length."""
    lines, pos = [], 0
    for i, name in enumerate(names):
        arr = arrays[name]
        shape = ", ".join(f"ud[{pos + 1 + d}]" for d in range(arr.ndim))
        shape = f"({shape},)" if arr.ndim else "()"
        lines.append(f"    s{i} = numba.carray(_ptr(ud[{pos}]), {shape}, np.{arr.dtype.name})")
        pos += 1 + arr.ndim
    return lines, pos


def _address_block(names: list[str], arrays: dict[str, np.ndarray]) -> np.ndarray:
    values: list[int] = []
    for name in names:
        arr = arrays[name]
        values.append(arr.ctypes.data)
        values.extend(int(s) for s in arr.shape)
    return np.asarray(values or [0], dtype=_INT_DTYPE)


def _callback(kind: str, key: str, inner: Callable | None, n_dim: int, n_expanded: int,
              block: list[str], arg_names: list[str], arrays: dict[str, np.ndarray],
              cache: bool = True):
    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    global _PTR
    if _PTR is None:
        _PTR = _void_pointer_intrinsic()
    lines, ud_len = _layout(block, arrays)
    args = "".join(f", s{block.index(n)}" for n in arg_names)
    # Only the call sits in the try block: numba compiled a try block around the copy loop
    # too about 2.5x longer the first time (measured, time_and_experience: 74 s -> 28 s).
    head = [f"    ud = numba.carray(user_data_, ({max(ud_len, 1)},), np.int64)", *lines]
    if kind == "logp":
        src = "\n".join([
            "def bayes_ab_logp(dim, x_, out_, logp_, user_data_):",
            f"    if dim != {n_dim}:",
            "        return -1",
            *head,
            f"    x = numba.carray(x_, ({n_dim},))",
            "    try:",
            f"        logp_val, grad = inner(x{args})",
            "    except Exception:",
            "        return 1",
            f"    out = numba.carray(out_, ({n_dim},))",
            "    logp = numba.carray(logp_, (1,))",
            "    logp[0] = logp_val",
            "    bad = False",
            f"    for i in range({n_dim}):",
            "        g = grad[i]",
            "        out[i] = g",
            "        if not np.isfinite(g):",
            "            bad = True",
            "    if bad:",
            "        return 3",
            "    if not np.isfinite(logp_val):",
            "        return 4",
            "    return 0",
        ])
        sig = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double), numba.types.voidptr)
    else:
        src = "\n".join([
            "def bayes_ab_expand(dim, expanded, x_, out_, user_data_):",
            f"    if dim != {n_dim}:",
            "        return -1",
            f"    if expanded != {n_expanded}:",
            "        return -1",
            *head,
            f"    x = numba.carray(x_, ({n_dim},))",
            "    try:",
            f"        (values,) = inner(x{args})",
            "    except Exception:",
            "        return -2",
            f"    out = numba.carray(out_, ({n_expanded},))",
            f"    for i in range({n_expanded}):",
            "        out[i] = values[i]",
            "    return 0",
        ])
        sig = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double), numba.types.voidptr)
    func = compile_numba_function_src(
        src, f"bayes_ab_{kind}",
        global_env={"__name__": __name__, "numba": numba, "np": np, "inner": inner, "_ptr": _PTR},
        cache_key=f"bayes_ab_{kind}_{key}")
    return numba.cfunc(sig, cache=cache)(func)


# -- compile / load --------------------------------------------------------------------------

def _cache_dir() -> Path:
    from pytensor.link.numba import cache as pt_cache

    return Path(pt_cache.NUMBA_CACHE_PATH)


def _initial_point_fn(model: pm.Model):
    from nutpie.compile_pymc import _wrap_with_lock
    from pymc.initial_point import make_initial_point_fn

    # as nutpie.compile_pymc_model: support points, jittered; locked (called from threads)
    return _wrap_with_lock(make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True))


def _flat(pymc_fn, meta: dict):
    """A PyMC initial-point function (seed -> {name: array}) as nutpie's (seed -> flat
    float64 array in the trace's order)."""
    from nutpie import compile_pymc as cp

    n_free = meta["n_free"]
    return cp._rv_dict_to_flat_array_wrapper(pymc_fn, names=meta["names"][:n_free],
                                             shapes=[tuple(s) for s in meta["shapes"][:n_free]])


def _support_point(model: pm.Model, meta: dict) -> list[float] | None:
    """The model's initial point before jitter (each free variable's support point, on the
    sampler's unconstrained scale) as a flat list, or None when it depends on the model's
    data (any shared variable but a dimension's length) or on random draws (two seeds
    give two points): it is then computed by PyMC in every run."""
    from pymc.initial_point import make_initial_point_fn

    from pytensor.tensor.random.type import RandomType

    fn = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True)
    for var in fn.__wrapped__.get_shared():
        if isinstance(var.type, RandomType):
            continue  # a generator: allowed if the point does not change with its seed
        value = np.asarray(var.get_value(borrow=True))
        if not (value.ndim == 0 and value.dtype.kind in "iub"):
            return None  # data: the graph key has their shapes, not their values
        # a dimension's length: in the graph key by value
    flat = _flat(fn, meta)
    point = np.asarray(flat(0), dtype=np.float64)
    if not (np.isfinite(point).all() and np.array_equal(point, flat(1))):
        return None
    return [float(x) for x in point]


def _init_fn(model: pm.Model, meta: dict, pymc_ipf=None):
    """nutpie's initial-point function: as nutpie's own (``jitter_rvs`` = every free
    variable), the support point plus a U(-1, 1) jitter on every unconstrained coordinate,
    the jitter drawn here from the chain's seed. With a stored support point (`_support_point`)
    nothing is compiled; else PyMC's jittered function is compiled as nutpie does (its
    jitter then comes from PyTensor's generators: other draws, same distribution), or
    ``pymc_ipf`` where the caller compiled it already."""
    point = meta.get("support_point")
    if point is None:
        return _flat(pymc_ipf or _initial_point_fn(model), meta)
    x0 = np.asarray(point, dtype=np.float64)
    x0.flags.writeable = False

    def init(seed=None):
        return x0 + np.random.default_rng(seed).uniform(-1.0, 1.0, size=x0.shape)

    return init


_CLASS = None


def _compiled_class():
    """nutpie's CompiledPyMCModel with `with_data` for this module's address block."""
    global _CLASS
    if _CLASS is None:
        import dataclasses

        from nutpie.compile_pymc import CompiledPyMCModel

        @dataclasses.dataclass(frozen=True)
        class CachedPyMCModel(CompiledPyMCModel):
            block_names: tuple = ()

            def with_data(self, **updates):
                """New values for the model's data (``pm.Data``) of the same rank, as
                nutpie's own ``with_data``: nothing is compiled."""
                arrays = dict(self.shared_data)
                for name, value in updates.items():
                    if name not in arrays:
                        raise KeyError(f"Unknown shared variable: {name}")
                    old = arrays[name]
                    new = np.array(value, dtype=old.dtype, order="C", copy=True)
                    if new.ndim != old.ndim:
                        raise ValueError(f"Shared variable {name} must have rank {old.ndim}")
                    new.flags.writeable = False
                    arrays[name] = new
                return dataclasses.replace(self, shared_data=arrays, user_data=_address_block(
                    list(self.block_names), arrays))

        _CLASS = CachedPyMCModel
    return _CLASS


def _build(model, meta: dict, logp, expand, arrays: dict, init_fn, logp_pt=None, expand_pt=None):
    from nutpie import compile_pymc as cp

    names = meta["names"]
    slices = [slice(a, b) for a, b in meta["slices"]]
    shapes = [tuple(s) for s in meta["shapes"]]
    shape_info = (names, slices, shapes)
    dims, coords = cp._prepare_dims_and_coords(model, shape_info)
    block_names = _block_names(meta)
    return _compiled_class()(
        block_names=tuple(block_names),
        _n_dim=meta["n_dim"], dims=dims, _coords=coords,
        _shapes={n: tuple(s) for n, s in zip(names, shapes)},
        compiled_logp_func=logp, compiled_expand_func=expand,
        initial_point_func=init_fn, shared_data=arrays,
        user_data=_address_block(block_names, arrays),
        n_expanded=meta["n_expanded"], shape_info=shape_info,
        logp_func=logp_pt, expand_func=expand_pt,
    )


def _arrays(shared: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, var in shared.items():
        value = np.array(var.get_value(borrow=True), order="C", copy=True)
        value.flags.writeable = False
        out[name] = value
    return out


def _block_names(meta: dict) -> list[str]:
    """The data arrays in the one address block both callbacks read (each name once)."""
    return list(dict.fromkeys(meta["logp_shared"] + meta["expand_shared"]))


def _callbacks(key: str, meta: dict, arrays: dict, logp_inner=None, expand_inner=None,
               cache: bool = True):
    block = _block_names(meta)
    lp = _callback("logp", key, logp_inner, meta["n_dim"], meta["n_expanded"], block,
                   meta["logp_shared"], arrays, cache)
    ex = _callback("expand", key, expand_inner, meta["n_dim"], meta["n_expanded"], block,
                   meta["expand_shared"], arrays, cache)
    return lp, ex


def compile_model(model: pm.Model):
    """``nutpie.compile_pymc_model(model)`` (numba backend), loaded from disk when this model
    (`graph_key`) was compiled before by this or an earlier process.

    Compiled without numba's fast-math flags (PyTensor's ``numba__fastmath``, on by
    default, is turned off for this call only): with them, the code numba loads from its
    cache and the code it compiled are not bit-identical (LLVM may reassociate and fuse
    differently), e.g. a log density of -2980.0447912399322 in the run that compiled a
    model and ...313 in every run that loads it, which MCMC turns into other draws at
    the same seed. Without them the first run and every later one give the same draws.
    Sampling the example's models measured within noise of fast-math (about 5% slower
    at most)."""
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=False):
        return _compile_model(model)


def _compile_model(model: pm.Model):
    import pytensor

    # numba caches through PyTensor's locator; with PyTensor's numba cache off, nothing to keep
    keyed = graph_key(model) if pytensor.config.numba__cache else None
    if keyed is None:
        return _uncached(model)
    key, shared = keyed
    folder = _cache_dir()
    meta_path = folder / f"bayes_ab-{key}.json"
    arrays = _arrays(shared)
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if set(_block_names(meta)) <= set(arrays):
                loaded = _LOADED.get(key)
                if loaded is None:
                    lp, ex = _callbacks(key, meta, arrays)
                    if lp._cache_hits and ex._cache_hits:
                        _remember(key, lp, ex)
                        _note_use(meta_path, meta, arrays)
                        loaded = (lp, ex)
                if loaded is not None:
                    return _build(model, meta, *loaded, arrays, _init_fn(model, meta))
        except Exception:  # noqa: BLE001 - any failure to load means: compile
            pass
    return _compile_and_store(model, key, meta_path, arrays)


#: The callbacks this process loaded or compiled, by key (`graph_key`: one key, one
#: generated source and layout, whatever the data values): a model met again in this
#: process (a notebook's second analysis) or preloaded by `bayes-ab serve` (`preload`,
#: inherited by its forks) reads nothing from disk. The oldest go beyond `MAX_LOADED`.
_LOADED: dict[str, tuple[Any, Any]] = {}
MAX_LOADED = 64


def _remember(key: str, lp, ex) -> None:
    _LOADED.pop(key, None)
    _LOADED[key] = (lp, ex)
    while len(_LOADED) > MAX_LOADED:
        _LOADED.pop(next(iter(_LOADED)))


def _layout_of(meta: dict, arrays: dict) -> dict:
    """Each data array's number of dimensions and dtype: all `_layout` needs to generate
    the callbacks' source without the data (`preload`)."""
    return {name: [int(arrays[name].ndim), arrays[name].dtype.name]
            for name in _block_names(meta)}


def _note_use(meta_path: Path, meta: dict, arrays: dict) -> None:
    """A loaded entry: its metadata's time set to now (`preload` takes the most recently
    used first), and its layout added when an older run did not record it."""
    if "layout" not in meta:
        _write_atomic(meta_path, json.dumps({**meta, "layout": _layout_of(meta, arrays)}))
        return
    try:
        os.utime(meta_path)
    except OSError:
        pass


def preload(limit: int = 32) -> int:
    """Load the callbacks of the ``limit`` most recently used models of the default cache
    folder into this process (`bayes-ab serve` calls it once, so that its forks load
    nothing); the number loaded. Entries without a recorded layout, or that numba cannot
    load, are skipped: a fork loads or compiles those as any process would."""
    import pytensor

    if not pytensor.config.numba__cache:
        return 0
    folder = _cache_dir()
    try:
        paths = sorted(folder.glob("bayes_ab-*.json"), key=lambda p: p.stat().st_mtime,
                       reverse=True)[:limit]
    except OSError:
        return 0
    n = 0
    with pytensor.config.change_flags(numba__fastmath=False):
        for path in paths:
            key = path.stem[len("bayes_ab-"):]
            if key in _LOADED:
                continue
            try:
                meta = json.loads(path.read_text())
                arrays = {name: np.empty((0,) * int(ndim), dtype=np.dtype(dtype))
                          for name, (ndim, dtype) in meta["layout"].items()}
                lp, ex = _callbacks(key, meta, arrays)
            except Exception:  # noqa: BLE001 - not loadable here: the fork decides
                continue
            if lp._cache_hits and ex._cache_hits:
                _remember(key, lp, ex)
                n += 1
    return n


def _compile_and_store(model, key: str, meta_path: Path, arrays: dict):
    from nutpie import compile_pymc as cp

    pymc_ipf = _initial_point_fn(model)

    n_dim, n_expanded, logp_pt, expand_pt, _, shape_info = cp._make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=pymc_ipf, var_names=None)
    names, slices, shapes = shape_info
    meta = {
        "format": CACHE_FORMAT, "n_dim": int(n_dim), "n_expanded": int(n_expanded),
        "n_free": sum(1 for s in slices if s.stop <= n_dim),
        "names": list(names), "slices": [[int(s.start), int(s.stop)] for s in slices],
        "shapes": [[int(d) for d in s] for s in shapes],
        "logp_shared": [v.name for v in logp_pt.get_shared()],
        "expand_shared": [v.name for v in expand_pt.get_shared()],
    }
    meta["support_point"] = _support_point(model, meta)
    if not set(_block_names(meta)) <= set(arrays):
        # a shared variable the raw graph did not show (e.g. added by a rewrite): not keyed
        return _uncached(model)
    inners = (logp_pt.vm.jit_fn, expand_pt.vm.jit_fn)
    try:
        lp, ex = _callbacks(key, meta, arrays, *inners)
    except Exception:  # noqa: BLE001 - an unreadable cache entry: compile, keep nothing
        lp, ex = _callbacks(key, meta, arrays, *inners, cache=False)
        meta_path = None
    compiled = _build(model, meta, lp, ex, arrays, _init_fn(model, meta, pymc_ipf), logp_pt,
                      expand_pt)
    if meta_path is not None:
        _remember(key, lp, ex)
        _write_atomic(meta_path, json.dumps({**meta, "layout": _layout_of(meta, arrays)}))
    return compiled


def _uncached(model):
    """nutpie's own compile: nothing read from or kept in the cache."""
    import nutpie

    return nutpie.compile_pymc_model(model)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it (readers never see half
    a file); on failure (a read-only or full cache folder) nothing is kept, not even the
    temporary file: the model was compiled, just not kept."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bayes_ab-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
