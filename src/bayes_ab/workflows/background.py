"""Independent stages of a run in forked child processes, alongside the sampling.

`bayes-ab analyze` spends most of its wall time around the sampler, one stage after the
other in one Python process: drawing and saving each model's figures, writing its netCDF,
the frequentist cross-checks, the forensics. None of them feeds the model fits, so on a
machine with more than one core they can run while the next model compiles and samples.
Threads would not help (matplotlib, the netCDF writer and PyTensor hold the GIL); spawned processes
would import PyMC again (seconds each). A *forked* child starts in milliseconds with
everything already imported and in memory (the fitted model, its draws), does its stage,
sends the result back through a pipe and exits.

`Background.submit(fn, ...)` returns a `Task`; ``task.result()`` is ``fn``'s return value,
or raises ``fn``'s exception, exactly as if ``fn`` had been called in this process (an
exception that cannot be pickled comes back as a `BackgroundError` with its text).
Where fork is unavailable (not Linux) or switched off (``enabled=False``), ``submit``
calls ``fn`` at once, in this process: same results, one stage after the other.

Fork safety: the child runs only the stage (matplotlib, netCDF4, numpy, pandas) and
never touches the progress display. One stage samples: a model's secondary fits
(`BayesModel.fit_extras`, the completions model's two other shapes); nutpie starts its
own sampler threads in the child, and a child that compiles claims a numba cache folder
of its own (`bayes_ab.inference.fit.claim_numba_cache`), never the parent's. Its standard
streams go to /dev/null (another thread of the parent may hold their locks at the fork),
and it leaves with ``os._exit`` (no atexit handler of the parent runs twice, no
temporary folder of the parent is removed by the child).
"""

from __future__ import annotations

import gc
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["Background", "BackgroundError", "Task", "fork_available"]


#: Children running at once; one more waits for the oldest (a bound on memory, not on
#: CPU: with ``NICE`` the children do not slow the parent's fits much).
MAX_RUNNING = 4
#: Scheduling priority of a child below the parent's (`os.nice` increment).
NICE = 10


class BackgroundError(RuntimeError):
    """A background stage failed in a way its own exception cannot tell (the child died,
    or its exception could not be pickled); the message says which stage and how."""


def fork_available() -> bool:
    """Forked children are used on Linux only (macOS's system libraries are not
    fork-safe once threads exist; Windows has no fork)."""
    import multiprocessing as mp

    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


class Task:
    """One stage: its result once ``result()`` is called (waits for the child)."""

    def __init__(self, name: str):
        self.name = name
        self.seconds: float = 0.0  # the stage's own wall time (in the child, if forked)
        #: the stage's CPU seconds: the child's user + system time (its own clock, which
        #: starts at the fork), or this process's CPU clock around it when run in process
        self.cpu_seconds: float = 0.0
        self._process = None
        self._conn = None
        self._done = False
        self._ok = False
        self._value: Any = None

    def _set(self, ok: bool, value: Any, seconds: float, cpu: float = 0.0) -> None:
        self._done, self._ok, self._value, self.seconds = True, ok, value, seconds
        self.cpu_seconds = cpu

    @property
    def running(self) -> bool:
        return not self._done and self._process is not None

    def wait(self) -> None:
        """Wait for the child and take its answer (does not raise the stage's error)."""
        if self._done:
            return
        try:
            ok, value, seconds, cpu = self._conn.recv()
            if not ok:
                value = _rebuild(self.name, value)
        except (EOFError, OSError):
            self._process.join()
            ok, value, seconds, cpu = False, BackgroundError(
                f"{self.name}: the background process ended without an answer (exit code "
                f"{self._process.exitcode})"), 0.0, 0.0
        except Exception as exc:  # noqa: BLE001 - an answer this process cannot unpickle
            ok, value, seconds, cpu = False, BackgroundError(
                f"{self.name}: its answer could not be read ({type(exc).__name__}: {exc})"), 0.0, 0.0
        finally:
            self._conn.close()
        self._process.join()
        self._set(ok, value, seconds, cpu)

    def result(self) -> Any:
        self.wait()
        if self._ok:
            return self._value
        raise self._value

    def kill(self) -> None:
        if self._process is not None and not self._done:
            self._process.kill()
            self._process.join()
            self._conn.close()
            self._set(False, BackgroundError(f"{self.name}: stopped"), 0.0)


def _child(fn: Callable, args: tuple, kwargs: dict, conn) -> None:
    """The forked child: run ``fn``, send ``(ok, value, seconds)``, exit (by the caller).
    An exception travels as its type, ``args`` and attributes (`_rebuild`), so that e.g. a
    `DataError` keeps its file, column and lines, with the child's traceback text."""
    import traceback

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the child
    sys.stdout = sys.stderr = devnull
    try:  # the parent's fits come first; a child takes the CPU time they leave
        os.nice(NICE)
    except OSError:
        pass
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    try:
        ok, value = True, fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        ok, value = False, (type(exc), exc.args, dict(vars(exc)),
                            "".join(traceback.format_exception(exc)))
    seconds = time.perf_counter() - t
    import resource  # POSIX only, as fork

    usage = resource.getrusage(resource.RUSAGE_SELF)  # this child's alone: reset at fork
    cpu = usage.ru_utime + usage.ru_stime
    try:
        conn.send((ok, value, seconds, cpu))
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable value or exception
        what = f"{value[0].__name__}: {value[1]}" if not ok else type(value).__name__
        conn.send((False, (BackgroundError, (
            f"its {'error' if not ok else 'result'} could not be sent back "
            f"({type(exc).__name__}: {exc}): {what}"[:2000],), {}, ""), seconds, cpu))
    finally:
        conn.close()


def _rebuild(name: str, payload: tuple) -> BaseException:
    """The child's exception again: same type, args and attributes; its traceback text
    as a note (shown only where a traceback is shown: never for a user's error)."""
    cls, args, state, trace = payload
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    if trace:
        exc.add_note(f"(raised in the background process of '{name}':\n{trace.rstrip()})")
    return exc


class Background:
    """Runs stages in forked children (at a lower priority: ``NICE``), at most
    ``max_running`` at a time.

    Use as a context manager: leaving it waits for no one but kills children still
    running (after an error in the parent nothing of theirs is wanted)."""

    def __init__(self, *, enabled: bool = True, max_running: int = MAX_RUNNING):
        self.forked = bool(enabled) and fork_available()
        self.max_running = max(1, int(max_running))
        self._tasks: list[Task] = []
        self._froze = False

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        for task in self._tasks:
            task.kill()
        if self._froze:  # the parent's objects back under the collector's care
            gc.unfreeze()
            self._froze = False

    def submit(self, name: str, fn: Callable, /, *args, **kwargs) -> Task:
        task = Task(name)
        self._tasks.append(task)
        if not self.forked:
            t, c = time.perf_counter(), time.process_time()
            try:
                ok, value = True, fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - raised again by result()
                ok, value = False, exc
            task._set(ok, value, time.perf_counter() - t, time.process_time() - c)
            return task
        running = [t for t in self._tasks if t.running]
        while len(running) >= self.max_running:  # wait for the oldest
            running.pop(0).wait()
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_child, args=(fn, args, kwargs, send), daemon=True,
                              name=f"bayes_ab: {name}")
        for stream in (sys.stdout, sys.stderr):  # or the child would print them again
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        # Every object so far into the collector's permanent generation: a child's
        # collections then never walk (and write to) the parent's objects, each write
        # copying a shared page (the CPython docs' advice for fork without exec). On the
        # example: 15% fewer page faults (about 60,000 of 400,000). Undone when the
        # block ends (`__exit__`).
        gc.freeze()
        self._froze = True
        with warnings.catch_warnings():  # Python >= 3.12 warns on fork with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            process.start()
        send.close()
        task._process, task._conn = process, recv
        return task
