"""Safe output: checked before any work, staged in a temporary sibling folder, moved into
place when done; and a private temporary folder per CLI run.

Guarantees (what the CLI promises, see README "Guarantees"):

- An output path is checked before any work (`check_output_dir`): an empty name, ``.``,
  ``..``, the current folder or one above it, a symbolic link, an existing file, a parent
  that is a file, a folder that cannot be written (permissions, read-only file system),
  and any overlap with an input (the output is, contains or is inside an input, after
  resolving symbolic links and ``..``) are refused with exit 2 and a message.
- An existing output folder is replaced only with ``--force`` and only when bayes-ab wrote
  it: every output folder holds a marker file, `MARKER` (``.bayes-ab-output.json``), naming
  the command, the version and the time. A folder without it is never replaced (an empty
  folder excepted: nothing can be lost).
- A failed or interrupted run (exception, Ctrl-C, SIGTERM) leaves no half-written folder:
  the staged ``.OUT.tmp-*`` folder is removed, the replaced folder's ``.OUT.old-*`` copy
  too, and parents created for the output are removed again.
- `private_tempdir`: every temporary file of a run (PyTensor's generated numba source,
  DuckDB's spill database, multiprocessing's folders) goes into one private folder under
  the system temp folder, removed when the run ends, however it ends (SIGKILL aside).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bayes_ab.errors import OptionError, OutputExistsError

#: The marker file bayes-ab writes into every output folder it makes.
MARKER = ".bayes-ab-output.json"


class Terminated(BaseException):
    """Raised in the main thread by the CLI's SIGTERM / SIGHUP handler, so that every
    ``with`` block cleans up as for Ctrl-C; the CLI exits with 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"terminated by signal {self.signum}")


# --- signals deferred during the few renames that must not be cut in half -------------

_critical_depth = 0
_pending_signal: int | None = None


def in_critical_section() -> bool:
    return _critical_depth > 0


def defer_signal(signum: int) -> None:
    """Called by the CLI's signal handlers inside a critical section: act on it later."""
    global _pending_signal
    if _pending_signal is None:
        _pending_signal = int(signum)


@contextmanager
def _critical() -> Iterator[None]:
    """Renames and clean-ups run to their end; a signal arriving meanwhile (through the
    CLI's handlers) is raised when the section ends."""
    global _critical_depth, _pending_signal
    _critical_depth += 1
    try:
        yield
    finally:
        _critical_depth -= 1
        if _critical_depth == 0 and _pending_signal is not None:
            signum, _pending_signal = _pending_signal, None
            import signal

            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(signum)


def remove_tree(path: str | Path) -> bool:
    """Remove a folder (or file) reliably: read-only entries are made writable and
    retried. True when it is gone."""
    path = Path(path)

    def retry(func, p, _exc):
        try:
            parent = os.path.dirname(p)
            os.chmod(parent, stat.S_IRWXU | os.stat(parent).st_mode)
            if not os.path.islink(p) and os.path.isdir(p):
                os.chmod(p, stat.S_IRWXU | os.stat(p).st_mode)
            func(p)
        except OSError:
            pass

    if path.is_symlink() or path.is_file():
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True
    if not path.exists():
        return True
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:  # pragma: no cover - 3.11
        shutil.rmtree(path, onerror=lambda f, p, e: retry(f, p, e))
    return not os.path.lexists(path)


# --- the output path ------------------------------------------------------------------


def _input_paths(inputs: Iterable[str | Path | None]) -> list[tuple[str, Path]]:
    """(as given, resolved) for every input, plus the targets of symbolic links directly
    inside an input folder (the files a loader would read)."""
    found: list[tuple[str, Path]] = []
    for item in inputs:
        if item is None or str(item) == "":
            continue
        given = Path(item)
        resolved = given.resolve()
        found.append((str(item), resolved))
        if resolved.is_dir():
            try:
                entries = list(os.scandir(resolved))
            except OSError:
                continue
            for entry in entries:
                if entry.is_symlink():
                    found.append((str(given / entry.name), Path(entry.path).resolve()))
    return found


def is_bayes_ab_output(folder: str | Path) -> bool:
    """True when ``folder`` holds the marker file a bayes-ab command writes."""
    marker = Path(folder) / MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("written_by") == "bayes-ab"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or "/")


def check_output_dir(out: str | Path | None, *, force: bool = False,
                     inputs: Iterable[str | Path | None] = ()) -> Path:
    """Check an output folder before any work; return its absolute path.

    Raises `OptionError` / `OutputExistsError` (exit 2) for every path that must not be
    written; see the module docstring. Nothing is created.
    """
    text = "" if out is None else str(out)
    if not text.strip():
        raise OptionError("--out is empty: give the name of an output folder")
    given = Path(text)
    if given.name in ("", ".", ".."):
        raise OptionError(
            f"--out {text!r} does not name a new folder; give a folder name such as "
            "results (bayes-ab never replaces the current folder or one above it)")
    parent = given.parent.resolve()
    target = parent / given.name
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted
        cwd = None
    if cwd is not None and cwd.is_relative_to(target):
        raise OptionError(
            f"--out {text} is the current folder or one above it; give another folder")
    if target.is_symlink():
        raise OptionError(
            f"--out {text} is a symbolic link; give the real folder "
            f"({os.path.realpath(target)}) or another name")
    for shown, inp in _input_paths(inputs):
        if target == inp:
            relation = "is the input"
        elif inp.is_relative_to(target):
            relation = "contains the input"
        elif target.is_relative_to(inp):
            relation = "is inside the input"
        else:
            continue
        raise OptionError(
            f"--out {text} {relation} {shown}: bayes-ab never writes over, into or around "
            "its inputs; choose an output folder outside them")
    name_max = 255
    existing = _nearest_existing(parent)
    try:
        name_max = os.pathconf(existing if existing.is_dir() else existing.parent,
                               "PC_NAME_MAX")
    except (OSError, ValueError):
        pass
    if len(os.fsencode(given.name)) + 14 > name_max:
        raise OptionError(f"--out {text}: the folder name is too long for this file "
                          f"system (at most {name_max - 14} bytes here)")
    if os.path.lexists(target):
        if not target.is_dir():
            raise OptionError(
                f"--out {text} is an existing file, not a folder; bayes-ab does not replace "
                "files: remove it or choose another name")
        if not force:
            raise OutputExistsError(
                f"output folder {text} already exists; pass --force to replace it")
        if os.path.ismount(target):
            raise OptionError(f"--out {text} is a mount point; choose a folder inside it")
        try:
            empty = not any(target.iterdir())
        except OSError:
            empty = False
        if not empty and not is_bayes_ab_output(target):
            raise OptionError(
                f"--out {text} exists and was not written by bayes-ab (it has no {MARKER}); "
                "--force only replaces a folder bayes-ab wrote: remove it yourself or "
                "choose another name")
    if not existing.is_dir():
        what = "a file" if existing.is_file() else "not a folder"
        raise OptionError(
            f"--out {text}: {existing} is {what}, so no folder can be made inside it")
    try:
        probe = tempfile.mkdtemp(prefix=".bayes-ab-probe-", dir=existing)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OptionError(f"--out {text}: cannot write to {existing} ({reason})") from None
    os.rmdir(probe)
    return target


def _marker(command: str | None, *, complete: bool) -> dict:
    from bayes_ab import __version__

    info = {
        "written_by": "bayes-ab",
        "command": command or "unknown",
        "version": __version__,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "complete": complete,
    }
    if not complete:  # while staging: lets a later run clean up after a killed one
        info |= {"pid": os.getpid(), "host": socket.gethostname()}
    return info


def _write_marker(folder: Path, command: str | None, *, complete: bool) -> None:
    (folder / MARKER).write_text(
        json.dumps(_marker(command, complete=complete), indent=2) + "\n", encoding="utf-8")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _remove_stale_siblings(target: Path) -> None:
    """Remove ``.OUT.tmp-*`` / ``.OUT.old-*`` folders a killed run (SIGKILL, power loss)
    left next to ``target``: only folders holding bayes-ab's marker, and a staging folder
    only when the process that made it (same host) is gone."""
    prefix = f".{target.name}."
    try:
        siblings = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    host = socket.gethostname()
    for p in siblings:
        kind = p.name[len(prefix):len(prefix) + 4]
        if kind not in ("tmp-", "old-") or p.is_symlink() or not p.is_dir():
            continue
        if not is_bayes_ab_output(p):
            continue
        if kind == "tmp-":
            try:
                info = json.loads((p / MARKER).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if info.get("host") != host or _pid_alive(int(info.get("pid", -1))):
                continue
        remove_tree(p)


@contextmanager
def staged_output_dir(out: str | Path, *, force: bool = False,
                      inputs: Iterable[str | Path | None] = (),
                      command: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``out`` (same file system).

    ``out`` is checked as by `check_output_dir` (call that before any work too). The
    marker file is written into the staged folder. On any exception, Ctrl-C or (through
    the CLI's handler) SIGTERM, the staged folder and the parents made for it are removed.
    """
    inputs = list(inputs)
    target = check_output_dir(out, force=force, inputs=inputs)
    made: list[Path] = []  # parents created here, removed again on failure
    for parent in reversed([target.parent, *target.parent.parents]):
        if not os.path.lexists(parent):
            made.append(parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"--out {out}: cannot make {target.parent} "
                          f"({exc.strerror or exc})") from None
    _remove_stale_siblings(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        # mkdtemp makes a private (0700) folder; the result gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        _write_marker(tmp, command, complete=False)
        yield tmp
        with _critical():
            # Checked again: the run may have taken hours.
            check_output_dir(out, force=force, inputs=inputs)
            _write_marker(tmp, command, complete=True)
            if os.path.lexists(target):
                backup = target.with_name(f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
                target.rename(backup)
                try:
                    tmp.rename(target)
                except BaseException:
                    backup.rename(target)
                    raise
                if not remove_tree(backup):
                    print(f"bayes-ab: warning: could not remove the replaced folder "
                          f"{backup}", file=sys.stderr)
            else:
                tmp.rename(target)
    except BaseException:
        with _critical():
            remove_tree(tmp)
            for parent in reversed(made):
                try:
                    parent.rmdir()
                except OSError:
                    break
        raise


@contextmanager
def private_tempdir() -> Iterator[Path | None]:
    """Point `tempfile` and ``TMPDIR`` (for child processes) at a fresh folder inside the
    system temp folder; remove it, and restore both, on exit however the run ends.

    PyTensor's numba back end writes each generated function's source with
    ``NamedTemporaryFile(delete=False)`` (90 files for one analysis of data/example); its compiled
    cache lives in PyTensor's compiledir, outside the temp folder, so caching across runs
    is unaffected.
    """
    try:
        base = tempfile.gettempdir()
        folder = Path(tempfile.mkdtemp(prefix=f"bayes-ab-{os.getpid()}-", dir=base))
    except OSError:  # no writable temp folder: run as before, nothing to clean
        yield None
        return
    old_tempdir = tempfile.tempdir
    old_env = os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield folder
    finally:
        with _critical():
            tempfile.tempdir = old_tempdir
            if old_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old_env
            remove_tree(folder)


#: PyTensor's modules that write generated source with NamedTemporaryFile(delete=False).
_PYTENSOR_WRITERS = ("pytensor.link.utils", "pytensor.link.numba.cache")
#: The folder of the active `pytensor_sources_scope` (None outside one).
_SOURCES_FOLDER: Path | None = None


@contextmanager
def pytensor_sources_scope() -> Iterator[Path | None]:
    """For library calls (``bayes_ab.analyze`` / ``compare`` in a notebook): the source
    files PyTensor's numba back end writes with ``NamedTemporaryFile(delete=False)`` (one
    per compiled function, never removed by PyTensor) go into a private folder under the
    system temp folder, removed when the call ends, however it ends.

    Unlike the CLI's `private_tempdir`, the process's temp folder is left alone (a
    notebook's other threads keep theirs): only PyTensor's two writers are pointed at the
    folder, through the ``NamedTemporaryFile`` name of their modules, now if they are
    imported, else by `redirect_pytensor_sources` when the call compiles (the sampler
    calls it), and restored on exit. The files are read only while a function compiles
    (its code object keeps the text it needs)."""
    global _SOURCES_FOLDER
    if _SOURCES_FOLDER is not None:  # nested: the outer call's folder serves
        yield _SOURCES_FOLDER
        return
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"bayes-ab-{os.getpid()}-"))
    except OSError:  # no writable temp folder: PyTensor writes where it can, as before
        yield None
        return
    _SOURCES_FOLDER = folder
    try:
        redirect_pytensor_sources()
        yield folder
    finally:
        with _critical():
            _SOURCES_FOLDER = None
            for name in _PYTENSOR_WRITERS:
                module = sys.modules.get(name)
                if getattr(getattr(module, "NamedTemporaryFile", None), "_bayes_ab", False):
                    module.NamedTemporaryFile = tempfile.NamedTemporaryFile
            remove_tree(folder)


def redirect_pytensor_sources() -> None:
    """Inside a `pytensor_sources_scope` once PyTensor is imported: point its writers at
    the scope's folder (a no-op outside one, before PyTensor, or when they already write
    there)."""
    folder = _SOURCES_FOLDER
    if folder is None or "pytensor" not in sys.modules:  # nothing compiles without it
        return
    import importlib

    for name in _PYTENSOR_WRITERS:
        try:
            module = importlib.import_module(name)
        except ImportError:  # another PyTensor layout: left as it is
            continue
        if getattr(module, "NamedTemporaryFile", None) is not tempfile.NamedTemporaryFile:
            continue

        def in_folder(*args, _folder=str(folder), **kwargs):
            kwargs.setdefault("dir", _folder)
            return tempfile.NamedTemporaryFile(*args, **kwargs)

        in_folder._bayes_ab = True  # type: ignore[attr-defined]
        module.NamedTemporaryFile = in_folder


def json_default(obj):
    """`json.dumps` ``default``: numpy scalars and arrays, paths and dates as JSON values."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def finite(obj):
    """Replace NaN/inf floats by None: results.json must be strict JSON."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: str | Path, payload: dict) -> None:
    """Write strict JSON (no NaN), numpy scalars converted, keys in insertion order."""
    text = json.dumps(finite(payload), indent=2, default=json_default, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
