"""`bayes_ab.io.pytensor_sources_scope` (``bayes_ab.analyze`` / ``compare`` in a notebook):
PyTensor's numba back end writes one source file per compiled function into the temp
folder and never removes it; inside the scope they go to a private folder removed at the
end, and the process's temp folder is otherwise left alone."""

from __future__ import annotations

import tempfile
import uuid

import numpy as np
import pytest

pytensor = pytest.importorskip("pytensor")
pytest.importorskip("numba")


def _compile_new_function() -> float:
    """A PyTensor function never compiled before (a new constant), compiled by numba."""
    import pytensor.tensor as pt

    x = pt.dvector("x")
    c = float(uuid.uuid4().int % 10**6) + 0.25
    f = pytensor.function([x], (pt.exp(x) * c).sum(), mode="NUMBA")
    return float(f(np.zeros(3))) / c


@pytest.fixture
def watched_temp(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_pytensor_leaves_sources_outside_a_scope(watched_temp):
    """The leak the scope exists for (if PyTensor stops writing these, this says so)."""
    assert _compile_new_function() == 3.0
    assert list(watched_temp.iterdir()), "PyTensor wrote no source file"


def test_scope_collects_and_removes_them_and_restores_pytensor(watched_temp):
    from bayes_ab.io import pytensor_sources_scope

    other = tempfile.NamedTemporaryFile(delete=False)  # a notebook's own temp file
    other.close()
    with pytensor_sources_scope() as folder:
        assert folder is not None and folder.parent == watched_temp
        assert _compile_new_function() == 3.0
        assert list(folder.iterdir()), "the sources went to the scope's folder"
        with tempfile.NamedTemporaryFile(delete=False) as mine:  # not redirected
            pass
    assert sorted(p.name for p in watched_temp.iterdir()) == sorted(
        [other.name.rsplit("/", 1)[-1], mine.name.rsplit("/", 1)[-1]])
    import pytensor.link.numba.cache as nc
    import pytensor.link.utils as lu

    assert lu.NamedTemporaryFile is tempfile.NamedTemporaryFile
    assert nc.NamedTemporaryFile is tempfile.NamedTemporaryFile
    # a nested scope (analyze inside compare, say) uses the outer folder
    with pytensor_sources_scope() as outer, pytensor_sources_scope() as inner:
        assert inner == outer
    assert not outer.exists()
