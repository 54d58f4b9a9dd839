"""ArviZ's one import-time numba compile, kept in numba's on-disk cache.

ArviZ 0.23 compiles a numba ufunc when it is imported (``arviz.stats.ecdf_utils._binom_pmf``:
``@vectorize`` with a signature compiles at once): 0.5 s in every process that imports
ArviZ, which every analysis does (PyMC imports it too), for a function only the ECDF band
of ``plot_ecdf`` uses. `install` (called by ``import bayes_ab``) adds an import hook for
that one module: while it is executed, ``numba.vectorize`` is given ``cache=True``, so
numba compiles the ufunc once and later processes load it (measured 0.5 s less per
process). Nothing else of ArviZ or numba changes; the function is the same. Where numba
cannot keep a cache (no writable cache folder) it compiles as before, and a later ArviZ
without that module is not touched at all.
"""

from __future__ import annotations

import importlib.machinery
import sys

#: The module whose import compiles the ufunc.
TARGET = "arviz.stats.ecdf_utils"


# Plain classes (the import protocol needs only these methods): importlib.abc would add
# 30 ms to `import bayes_ab`.
class _Finder:
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _CachedVectorizeLoader(spec.loader)
        return spec


class _CachedVectorizeLoader:
    """The module's own loader, with ``numba.vectorize(..., cache=True)`` while it runs."""

    def __init__(self, inner: importlib.machinery.SourceFileLoader):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            import numba
        except ImportError:  # ArviZ falls back to numpy without numba: nothing to cache
            self.inner.exec_module(module)
            return
        original = numba.vectorize

        def vectorize(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return original(*args, **kwargs)

        numba.vectorize = vectorize
        try:
            self.inner.exec_module(module)
        finally:
            numba.vectorize = original

    def __getattr__(self, name):  # get_source, get_filename, ...: the module's own loader
        return getattr(self.inner, name)


def install() -> None:
    """Add the hook (once) unless ArviZ's module is already imported."""
    if TARGET in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
