"""Shared test helpers: tiny input folders written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny"  # the hand-built help-widget experiment (four CSV files)


@pytest.fixture(scope="session", autouse=True)
def _private_temp_folder():
    """The test process's temporary files in a folder of its own, removed at the end, as
    the command line does (`bayes_ab.io.private_tempdir`): PyTensor's numba back end
    leaves one source file per compiled function in the temp folder (hundreds per run of
    this suite, found left in /tmp)."""
    from bayes_ab.io import private_tempdir

    with private_tempdir() as folder:
        yield folder


def read_tiny() -> dict[str, str]:
    """The tiny experiment's files as {file name: text}, to modify per test."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TINY.glob("*.csv"))}


@pytest.fixture
def write_folder(tmp_path: Path) -> Callable[..., Path]:
    """Write ``{file name: str | bytes}`` into a fresh folder and return it.

    Text is written as UTF-8 unless ``encoding`` is given; bytes are written as-is.
    """
    counter = iter(range(10_000))

    def write(files: dict[str, str | bytes], *, encoding: str = "utf-8") -> Path:
        folder = tmp_path / f"data{next(counter)}"
        folder.mkdir()
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_bytes(content.encode(encoding))
        return folder

    return write


@pytest.fixture
def tiny_files() -> dict[str, str]:
    return read_tiny()
