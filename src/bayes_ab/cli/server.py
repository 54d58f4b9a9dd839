"""`bayes-ab serve`: one resident process that runs the user's commands, already warm.

Every `bayes-ab` command starts a Python process that imports PyMC, PyTensor, ArviZ,
SciPy, matplotlib and pandas (about 4 s of CPU on the example's machine) and loads each
compiled model from numba's cache, before it reads a row. `bayes-ab serve` pays that once:
it imports those libraries and then waits. A later `bayes-ab ...` command of the same user
and environment connects to it and is run in a process *forked* from it (a copy of the
warm process, made in milliseconds), with the caller's arguments, working folder,
environment, umask and its very standard input, output and error (passed as file
descriptors, so a terminal stays a terminal). The caller waits, forwards Ctrl-C (SIGINT),
SIGTERM and SIGHUP to that process and exits with its exit status. Each command still
runs in a process of its own that exits when done: nothing carries over from one command
to the next, and the results are those of a fresh process (tested).

Used only while such a server runs; without one a command runs in its own process as
before (a command without a server reads /proc/net/unix, a fraction of a
millisecond, to find that out). ``BAYES_AB_NO_SERVER=1`` turns it off
for one command or a whole shell.

Who and what it serves. The server listens on a Linux abstract socket (a name in the
kernel, no file anywhere) whose name carries the user id and a fingerprint of what a
warm process depends on: the Python executable, the versions and files of bayes_ab, the
package folders on ``sys.path`` (installing or upgrading a package changes them), and the
environment variables read at import (``PYTENSOR_FLAGS``, ``NUMBA_*``, ``MPL*``,
``PYTHON*``, the thread counts, the temp and cache folders, the locale, ``BAYES_AB_*``).
A command whose fingerprint differs finds no server and runs on its own. Both ends check
the other's user id (``SO_PEERCRED``): a server serves only the user who started it, and
a command talks only to a server of its own user.

Lifetime: `bayes-ab serve` runs until Ctrl-C (or SIGTERM), ``--detach`` puts it in the
background, ``--stop`` stops it, ``--status`` describes it; it exits by itself after
``--idle-minutes`` (default 60) without a command. Linux only (abstract sockets,
``SO_PEERCRED``, fork).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time

__all__ = ["address", "client_run", "fingerprint", "serve_main", "stop", "status"]

#: Environment variables whose values a warm process may have read at import.
ENV_PREFIXES = ("PYTENSOR", "NUMBA_", "MPL", "PYTHON", "OMP_", "OPENBLAS", "MKL_",
                "BAYES_AB", "XDG_", "LC_", "JAVA", "SPARK", "PYSPARK", "JAX", "XLA")
ENV_NAMES = ("HOME", "TMPDIR", "TEMP", "TMP", "LANG", "LANGUAGE", "TZ", "VIRTUAL_ENV")
#: Variables that never reach the fingerprint: the switch itself.
ENV_IGNORED = ("BAYES_AB_NO_SERVER",)

#: Libraries a served command would otherwise import itself: imported by the server.
WARM_MODULES = (
    "bayes_ab.cli.commands.analyze", "bayes_ab.cli.commands.compare",
    "bayes_ab.cli.commands.validate", "bayes_ab.cli.commands.simulate",
    "bayes_ab.workflows.analyze", "bayes_ab.workflows.compare", "bayes_ab.data.load",
    "bayes_ab.report.analysis", "bayes_ab.forensics", "bayes_ab.stats.frequentist",
    "bayes_ab.inference.fit", "bayes_ab.inference.compile_cache",
    "pymc", "nutpie", "nutpie.compile_pymc", "arviz", "arviz.plots.backends.matplotlib",
    "matplotlib.backends.backend_agg", "netCDF4", "lifelines", "jinja2", "scipy.stats",
    "statsmodels.api",
)

DEFAULT_IDLE_MINUTES = 60.0
_MAX_MESSAGE = 1 << 20


# --------------------------------------------------------------------------- identity


def fingerprint(environ: dict[str, str] | None = None) -> str:
    """What a warm process depends on (see the module docstring), as a short hex digest."""
    import hashlib

    import bayes_ab

    environ = os.environ if environ is None else environ
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{bayes_ab.__version__}\0".encode())
    for key in sorted(environ):
        if key in ENV_IGNORED:
            continue
        if key in ENV_NAMES or key.startswith(ENV_PREFIXES):
            if key == "MPLBACKEND":  # below, as the command line settles it
                continue
            h.update(f"{key}={environ[key]}\0".encode())
    # the command line draws with Agg unless MPLBACKEND says otherwise (use_file_backend)
    h.update(f"backend={environ.get('MPLBACKEND') or 'Agg'}\0".encode())
    for entry in sys.path:
        h.update(f"{entry}\0".encode())
        if os.path.basename(entry.rstrip(os.sep)) in ("site-packages", "dist-packages"):
            try:  # a package installed, removed or upgraded changes the folder
                h.update(f"{os.stat(entry).st_mtime_ns}\0".encode())
            except OSError:
                pass
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".j2")):
                try:
                    st = os.stat(os.path.join(folder, name))
                except OSError:  # e.g. a dangling link
                    continue
                h.update(f"{folder}/{name}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
    return h.hexdigest()[:24]


def address(environ: dict[str, str] | None = None) -> str:
    """The abstract socket name of this user's server for this environment."""
    return f"\0bayes_ab-{os.getuid()}-{fingerprint(environ)}"


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED") and hasattr(
        os, "fork")


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


# --------------------------------------------------------------------------- messages


def _send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    payload = json.dumps(message).encode()
    data = struct.pack("!I", len(payload)) + payload
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    if data:
        sock.sendall(data)


def _recv(sock: socket.socket, *, maxfds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (None at end of stream) and the file descriptors sent with it."""
    fds: list[int] = []
    buf = b""
    while len(buf) < 4:
        if maxfds and not fds:
            chunk, got, _flags, _addr = socket.recv_fds(sock, 65536, maxfds)
            fds.extend(got)
        else:
            chunk = sock.recv(65536)
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        buf += chunk
    (size,) = struct.unpack("!I", buf[:4])
    if size > _MAX_MESSAGE:
        raise ValueError("message too long")
    buf = buf[4:]
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        buf += chunk
    return json.loads(buf[:size].decode()), fds


def _connect(environ: dict[str, str] | None = None, timeout: float | None = None):
    """A socket connected to this user's server, or None when none runs."""
    if not supported():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address(environ))
        if _peer_uid(sock) != os.getuid():  # someone else's socket under this name
            sock.close()
            return None
        sock.settimeout(None)
    except OSError:
        sock.close()
        return None
    return sock


# --------------------------------------------------------------------------- the client


def client_run(argv: list[str]) -> int | None:
    """Run ``bayes-ab argv`` in this user's server when one serves this environment:
    its exit status, or None (no server: run it here)."""
    if os.environ.get("BAYES_AB_NO_SERVER") or (argv and argv[0] == "serve"):
        return None
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None  # signals can be forwarded from the main thread only
    try:
        sock = _connect()
    except Exception:  # noqa: BLE001 - never let the look-up stop a command: run it here
        return None
    if sock is None:
        return None
    import signal

    try:
        request = {"op": "run", "argv": list(argv), "cwd": os.getcwd(),
                   "env": dict(os.environ), "umask": _umask(), **_process_settings()}
        _send(sock, request, fds=[0, 1, 2])  # EBADF with a standard stream closed
        reply, _ = _recv(sock)
    except OSError:
        sock.close()
        return None
    if not reply or "pid" not in reply:  # refused (e.g. the server is stopping)
        sock.close()
        return None
    pid = int(reply["pid"])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        previous[sig] = signal.signal(sig, forward)
    try:
        try:
            done, _ = _recv(sock)
        except (OSError, ValueError):
            done = None
        if done is None or "exit" not in done:
            # the server went away (killed?): its fork may still be running; wait for it
            # (signals still forwarded), so that this command never returns before its
            # work has stopped, then say that its exit status is unknown
            while _alive(pid):
                time.sleep(0.1)
            print("bayes-ab: the server stopped while it ran this command; its exit status "
                  "is unknown (BAYES_AB_NO_SERVER=1 runs a command on its own)",
                  file=sys.stderr)
            return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return int(done["exit"])


#: Resource limits the caller's command keeps when it runs in the server's fork.
RLIMITS = ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_RSS", "RLIMIT_CPU", "RLIMIT_FSIZE",
           "RLIMIT_NOFILE", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_MEMLOCK")


def _process_settings() -> dict:
    """This process's resource limits, niceness and CPU affinity: the served command
    runs under them, as it would here."""
    import resource

    limits = {}
    for name in RLIMITS:
        if hasattr(resource, name):
            limits[name] = list(resource.getrlimit(getattr(resource, name)))
    out: dict = {"rlimits": limits, "nice": os.nice(0)}
    if hasattr(os, "sched_getaffinity"):
        out["affinity"] = sorted(os.sched_getaffinity(0))
    return out


def _apply_process_settings(request: dict) -> None:
    import resource

    for name, (soft, hard) in request.get("rlimits", {}).items():
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError, AttributeError):
            try:  # a hard limit above this process's: keep the hard, take the soft
                current_hard = resource.getrlimit(getattr(resource, name))[1]
                resource.setrlimit(getattr(resource, name), (soft, current_hard))
            except (ValueError, OSError, AttributeError):
                pass
    delta = int(request.get("nice", 0)) - os.nice(0)
    if delta > 0:
        os.nice(delta)
    if request.get("affinity") and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, request["affinity"])
        except OSError:
            pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def status(environ: dict[str, str] | None = None) -> dict | None:
    """The running server's description (pid, commands served, their CPU seconds, ...),
    or None when none serves this environment."""
    sock = _connect(environ, timeout=10)
    if sock is None:
        return None
    try:
        _send(sock, {"op": "status"})
        reply, _ = _recv(sock)
    except OSError:
        return None
    finally:
        sock.close()
    return reply


def stop(environ: dict[str, str] | None = None, *, wait: float = 10.0) -> bool:
    """Stop this environment's server; True when one was running."""
    info = status(environ)
    sock = _connect(environ, timeout=10)
    if sock is None:
        return False
    try:
        _send(sock, {"op": "stop"})
        _recv(sock)
    except OSError:
        pass
    finally:
        sock.close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _connect(environ, timeout=1) is not None:
        time.sleep(0.05)
    if info and info.get("pid"):
        pid = int(info["pid"])
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


# --------------------------------------------------------------------------- the server


def warm_up() -> tuple[list[str], int]:
    """Import `WARM_MODULES` (those installed) and preload the compiled models used last:
    (the modules that could not be imported, the number of models preloaded)."""
    import importlib

    missing = []
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    try:
        from PIL import Image

        Image.init()  # PIL's image plugins, loaded on the first PNG saved
    except ImportError:
        pass
    preloaded = 0
    try:  # the compiled models used last, from numba's cache: a fork loads none of them
        from bayes_ab.inference.compile_cache import preload

        preloaded = preload()
    except ImportError:
        pass
    return missing, preloaded


class _Server:
    def __init__(self, listener: socket.socket, idle_seconds: float):
        import selectors
        import signal

        self.listener = listener
        self.idle_seconds = idle_seconds
        self.selector = selectors.DefaultSelector()
        self.running: dict[int, socket.socket] = {}  # pid -> its caller's connection
        self.stopping = False
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.served = 0
        self.cpu_seconds = 0.0
        self.warm: dict = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.selector.register(listener, selectors.EVENT_READ, "listener")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")

    def _on_signal(self, signum, _frame) -> None:
        import signal

        if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.stopping = True

    def loop(self) -> None:
        while not (self.stopping and not self.running):
            timeout = 1.0
            for key, _ in self.selector.select(timeout):
                if key.data == "listener":
                    self._accept()
                elif key.data == "wake":
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                else:  # a caller's connection: readable means it went away
                    self._caller_gone(key.fileobj, key.data)
            self._reap()
            if self.stopping:
                self._close_listener()
            elif (not self.running
                  and time.monotonic() - self.last_activity > self.idle_seconds):
                self.stopping = True
                self._close_listener()
        self._close_listener()

    def _close_listener(self) -> None:
        if self.listener is not None:
            try:
                self.selector.unregister(self.listener)
            except (KeyError, ValueError):
                pass
            self.listener.close()
            self.listener = None

    def _accept(self) -> None:
        if self.listener is None:
            return
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        try:
            conn.settimeout(10)
            if _peer_uid(conn) != os.getuid():
                conn.close()
                return
            request, fds = _recv(conn, maxfds=3)
        except (OSError, ValueError):
            conn.close()
            return
        op = (request or {}).get("op")
        if op == "run" and len(fds) == 3 and not self.stopping:
            self._start(conn, request, fds)
            return
        for fd in fds:
            os.close(fd)
        try:
            if op == "status":
                _send(conn, {"pid": os.getpid(), "started": self.started,
                             "served": self.served, "running": len(self.running),
                             "cpu_seconds": round(self.cpu_seconds, 3),
                             "idle_minutes": self.idle_seconds / 60,
                             "fingerprint": fingerprint(), **self.warm})
            elif op == "stop":
                self.stopping = True
                _send(conn, {"stopping": True})
            else:
                _send(conn, {"refused": True})
        except OSError:
            pass
        conn.close()

    def _start(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        import selectors

        pid = os.fork()
        if pid == 0:  # the child: becomes the caller's command
            code = 1
            try:
                others = [c for c in self.running.values()]
                self.selector.close()
                try:
                    _become_caller(request, fds, close=[self.listener, conn, *others],
                                   close_fds=[self.wake_r, self.wake_w])
                except Exception as exc:  # noqa: BLE001 - e.g. the folder is gone
                    os.write(2, f"bayes-ab: error: the server could not start the command "
                                f"({exc}); BAYES_AB_NO_SERVER=1 runs it on its own\n".encode())
                else:
                    code = _run_command(request["argv"])
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        self.served += 1
        self.last_activity = time.monotonic()  # a command, not a --status, keeps it alive
        try:
            conn.settimeout(None)
            _send(conn, {"pid": pid})
        except OSError:
            pass
        self.running[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def _caller_gone(self, conn: socket.socket, pid: int) -> None:
        """The caller closed its end (it was killed): stop its command."""
        import signal

        try:
            data = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            data = b""
        if data:
            return
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass

    def _reap(self) -> None:
        while self.running:
            try:
                pid, status_, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.running.pop(pid, None)
            self.last_activity = time.monotonic()
            self.cpu_seconds += usage.ru_utime + usage.ru_stime
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status_)
            if code < 0:  # killed by a signal: the shell's convention
                code = 128 - code
            try:
                self.selector.unregister(conn)
            except (KeyError, ValueError):
                pass
            try:
                _send(conn, {"exit": code, "cpu_seconds": usage.ru_utime + usage.ru_stime})
            except OSError:
                pass
            conn.close()


def _become_caller(request: dict, fds: list[int], *, close: list, close_fds: list[int]) -> None:
    """In the forked child: the caller's standard streams, folder, environment, umask and
    fresh random generators; the server's sockets and signal set-up gone."""
    import io
    import random
    import signal
    import tempfile

    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sock in close:
        if sock is not None:
            sock.close()
    for fd in close_fds:
        os.close(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(int(request.get("umask", 0o022)))
    _apply_process_settings(request)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # from the caller's TMPDIR
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding,
                                  line_buffering=os.isatty(1), write_through=unbuffered)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=encoding,
                                  errors="backslashreplace", line_buffering=True,
                                  write_through=unbuffered)
    # the originals too: a library that writes to sys.__stderr__ reaches the caller
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = ["bayes-ab", *request["argv"]]
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _run_command(argv: list[str]) -> int:
    """`main(argv)` as the console script runs it: its return value, SystemExit's code, 1
    with the traceback for anything else."""
    import traceback

    from bayes_ab.cli.main import main

    try:
        code = main(argv)
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return int(code) & 0xFF


# --------------------------------------------------------------------------- the command


def serve_main(argv: list[str]) -> int:
    """`bayes-ab serve [--detach | --stop | --status] [--idle-minutes M]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="bayes-ab serve",
        description="Keep one warm process (libraries imported) that runs this user's "
        "later bayes-ab commands in this environment, each in a fresh fork of it: the "
        "seconds of imports are paid once. Linux only.")
    parser.add_argument("--detach", action="store_true",
                        help="run in the background; return once it is ready")
    parser.add_argument("--stop", action="store_true", help="stop the running server")
    parser.add_argument("--status", action="store_true",
                        help="print the running server's state as JSON (exit 1 if none)")
    parser.add_argument("--idle-minutes", type=float, default=DEFAULT_IDLE_MINUTES,
                        help=f"exit after this long without a command "
                        f"(default {DEFAULT_IDLE_MINUTES:g})")
    args = parser.parse_args(argv)
    if not supported():
        print("bayes-ab serve: error: needs Linux (abstract sockets and fork)", file=sys.stderr)
        return 2
    if args.idle_minutes <= 0:
        parser.error("--idle-minutes must be positive")
    if args.status:
        info = status()
        if info is None:
            print("no bayes-ab server runs for this user and environment")
            return 1
        print(json.dumps(info, indent=2))
        return 0
    if args.stop:
        if stop():
            print("bayes-ab server stopped")
            return 0
        print("no bayes-ab server runs for this user and environment")
        return 1
    if _connect(timeout=10) is not None:
        print("bayes-ab serve: a server already runs for this user and environment "
              "(`bayes-ab serve --status`)", file=sys.stderr)
        return 1
    if args.detach:
        return _detach(args.idle_minutes)
    return _serve(args.idle_minutes, ready=None)


def _bind() -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address())
    listener.listen(64)
    listener.setblocking(False)
    return listener


def _serve(idle_minutes: float, *, ready) -> int:
    try:
        listener = _bind()
    except OSError as exc:
        print(f"bayes-ab serve: error: cannot listen ({exc}); another server may be "
              "starting", file=sys.stderr)
        return 1
    t = time.perf_counter()
    missing, preloaded = warm_up()
    server = _Server(listener, idle_minutes * 60)
    server.warm = {"warm_up_seconds": round(time.perf_counter() - t, 2),
                   "preloaded_models": preloaded, "not_imported": missing}
    os.chdir("/")  # hold no user folder
    message = (f"bayes-ab serve: pid {os.getpid()}, warm in {server.warm['warm_up_seconds']} s "
               f"({preloaded} compiled model(s) preloaded), serving this user's bayes-ab "
               f"commands in this environment; stops after {idle_minutes:g} min without "
               "one, or on Ctrl-C")
    if missing:
        message += f" (not installed, not preloaded: {', '.join(missing)})"
    if ready is not None:
        os.write(ready, f"{os.getpid()}\n".encode())
        os.close(ready)
    else:
        print(message, flush=True)
    server.loop()
    return 0


def _detach(idle_minutes: float) -> int:
    """Fork a session leader that serves (standard streams on /dev/null); return once it
    listens and is warm, printing its pid."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        code = 1
        try:
            code = _serve(idle_minutes, ready=write_end)
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as fh:
        line = fh.read().decode().strip()
    if not line:
        print("bayes-ab serve: error: the server did not start", file=sys.stderr)
        return 1
    print(f"bayes-ab serve: started in the background (pid {line}); "
          "`bayes-ab serve --stop` stops it")
    return 0
