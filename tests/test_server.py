"""`bayes-ab serve` (`bayes_ab.cli.server`): a command run by the server's fork behaves as
the same command run in a process of its own: same output, exit status, folder,
environment, umask, temp folder, signals; and only the same user and environment are
served. Each test's server gets an environment of its own (a variable in the
fingerprint), so that no other server, and no other test, is involved."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bayes_ab.cli import server

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("bayes-ab")

pytestmark = [
    pytest.mark.skipif(not server.supported(), reason="Linux only"),
    pytest.mark.skipif(not SCRIPT.exists(), reason="the bayes-ab script is not installed"),
]


def _env(tmp: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BAYES_AB_NO_SERVER"}
    env.update(BAYES_AB_TEST_SERVER=uuid.uuid4().hex, TMPDIR=str(tmp), **extra)
    return env


def _run(args, env, cwd=ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, **kwargs)


def _status(env) -> dict | None:
    done = _run(["serve", "--status"], env)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(environment, temp folder) of a detached server, stopped at the end."""
    tmp = tmp_path_factory.mktemp("server_tmp")
    env = _env(tmp)
    started = _run(["serve", "--detach", "--idle-minutes", "10"], env)
    assert started.returncode == 0, started.stderr
    assert "started in the background" in started.stdout
    info = _status(env)
    assert info is not None and info["served"] == 0
    assert info["warm_up_seconds"] > 0 and info["preloaded_models"] >= 0
    yield env, tmp
    _run(["serve", "--stop"], env)
    for _ in range(100):
        if _status(env) is None:
            break
        time.sleep(0.1)
    try:
        os.kill(int(info["pid"]), signal.SIGKILL)
    except OSError:
        pass


def _served_count(env) -> int:
    return int(_status(env)["served"])


def test_served_output_equals_own_process(served):
    env, tmp = served
    before = _served_count(env)
    args = ["validate", "data/example", "--json"]
    in_server = _run(args, env)
    alone = _run(args, {**env, "BAYES_AB_NO_SERVER": "1"})
    assert _served_count(env) == before + 1  # the first ran in the server, the second not
    assert in_server.returncode == alone.returncode == 0
    assert json.loads(in_server.stdout) == json.loads(alone.stdout)
    assert in_server.stderr == alone.stderr
    assert list(tmp.iterdir()) == []  # nothing left in the temp folder


def test_served_error_has_the_same_message_and_status(served, tmp_path):
    env, _ = served
    missing = str(tmp_path / "missing")
    in_server = _run(["validate", missing], env)
    alone = _run(["validate", missing], {**env, "BAYES_AB_NO_SERVER": "1"})
    assert in_server.returncode == alone.returncode == 2
    assert in_server.stderr == alone.stderr
    assert "Traceback" not in in_server.stderr
    usage = _run(["analyze"], env)  # argparse's own exit
    assert usage.returncode == 2 and "usage: bayes-ab analyze" in usage.stderr


def test_served_command_works_in_the_callers_folder_with_its_umask(served, tmp_path):
    env, _ = served
    before = _served_count(env)
    done = _run(["simulate", "--n", "300", "--seed", "3", "--out", "sim", "--no-truth"], env,
                cwd=tmp_path, preexec_fn=lambda: os.umask(0o077))
    assert done.returncode == 0, done.stderr
    assert _served_count(env) == before + 1
    files = sorted(p for p in (tmp_path / "sim").iterdir())
    assert {p.name for p in files} >= {"test_cohorts.csv", "conversion.csv"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)  # the caller's umask


@pytest.mark.slow  # 10 s: run by .ci/run's slow pass
def test_signals_reach_the_served_command(served, tmp_path):
    """SIGTERM and SIGINT to the waiting command stop the served one as they would stop
    it in its own process (143 and 130, nothing staged left behind); a killed caller
    takes its command with it."""
    env, tmp = served
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        out = tmp_path / f"big_{sig}"
        # a harness in the background may ignore SIGINT, and a command started from it
        # then ignores it too (in the server or not): the default disposition, as in a shell
        proc = subprocess.Popen([str(SCRIPT), "simulate", "--n", "1500000", "--seed", "1",
                                 "--out", str(out)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_signals)
        time.sleep(3)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f"big_{sig}")]
    proc = subprocess.Popen([str(SCRIPT), "simulate", "--n", "1500000", "--seed", "1",
                             "--out", str(tmp_path / "killed")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    assert _status(env)["running"] == 1
    proc.kill()
    proc.wait()
    for _ in range(200):
        if _status(env)["running"] == 0:
            break
        time.sleep(0.1)
    assert _status(env)["running"] == 0
    assert list(tmp.iterdir()) == []


def test_another_environment_is_not_served(served):
    env, _ = served
    before = _served_count(env)
    other = {**env, "PYTENSOR_FLAGS": "floatX=float64"}
    assert _status(other) is None
    done = _run(["validate", "data/example", "--json"], other)
    assert done.returncode == 0
    assert _served_count(env) == before


def test_fingerprint_follows_environment_and_sources(monkeypatch):
    base = {"HOME": "/h", "PATH": "/bin"}
    fp = server.fingerprint(base)
    assert server.fingerprint({**base, "PATH": "/usr/bin"}) == fp  # not read at import
    assert server.fingerprint({**base, "BAYES_AB_NO_SERVER": "1"}) == fp
    assert server.fingerprint({**base, "MPLBACKEND": "Agg"}) == fp  # what the CLI sets
    for changed in ({"PYTENSOR_FLAGS": "x"}, {"NUMBA_CACHE_DIR": "/c"}, {"TMPDIR": "/t"},
                    {"MPLBACKEND": "pdf"}, {"OMP_NUM_THREADS": "1"}):
        assert server.fingerprint({**base, **changed}) != fp, changed
    real_stat = os.stat
    target = str(Path(server.__file__).with_name("main.py"))

    class Later:
        def __init__(self, st):
            self.st_mtime_ns, self.st_size = st.st_mtime_ns + 1, st.st_size

    monkeypatch.setattr(server.os, "stat", lambda p, *a, **k: Later(real_stat(p)) if str(
        p) == target else real_stat(p, *a, **k))
    assert server.fingerprint(base) != fp  # an edited source file: a new server


def test_a_socket_of_another_user_is_not_used(monkeypatch, tmp_path):
    """A command never talks to a server whose peer credentials are not its own user's
    (someone could take the name first); nor does a server serve another user."""
    env = _env(tmp_path)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(server.address(env))
    listener.listen(1)
    try:
        assert server._connect(env) is not None
        monkeypatch.setattr(server, "_peer_uid", lambda sock: os.getuid() + 1)
        assert server._connect(env) is None
    finally:
        listener.close()


@pytest.mark.slow  # a server of its own (7 s): run by .ci/run's slow pass
def test_idle_server_exits_by_itself(tmp_path):
    env = _env(tmp_path)
    assert _run(["serve", "--detach", "--idle-minutes", "0.02"], env).returncode == 0
    pid = _status(env)["pid"]
    for _ in range(100):
        if _status(env) is None:
            break
        time.sleep(0.1)
    assert _status(env) is None
    assert not server._alive(int(pid))


@pytest.mark.slow  # compiles the example's models into a numba cache slot when it is empty
def test_served_analysis_equals_one_of_its_own(served, tmp_path):
    """A whole analysis (sampling threads, forks of the fork, the numba-compiled models
    the server preloaded) gives the results.json of the same command in its own process,
    every number to the last digit (timings aside), and the same files."""
    env, tmp = served
    args = ["analyze", "data/example", "--draws", "200", "--tune", "200", "--chains", "2",
            "--seed", "3", "--no-figures", "--quiet"]
    before = _served_count(env)
    in_server = _run([*args, "--out", str(tmp_path / "served")], env)
    alone = _run([*args, "--out", str(tmp_path / "alone")], {**env, "BAYES_AB_NO_SERVER": "1"})
    assert in_server.returncode == alone.returncode == 0, in_server.stderr + alone.stderr
    assert _served_count(env) == before + 1
    results = []
    for name in ("served", "alone"):
        res = json.loads((tmp_path / name / "results.json").read_text())
        res.pop("timing_seconds")
        results.append(res)
    assert results[0] == results[1]
    listing = [sorted(p.relative_to(tmp_path / n).as_posix() for p in (tmp_path / n).rglob("*"))
               for n in ("served", "alone")]
    assert listing[0] == listing[1]
    assert list(tmp.iterdir()) == []


@pytest.mark.slow  # a server of its own, killed (about 20 s)
def test_a_killed_server_leaves_its_command_to_finish_and_says_so(tmp_path):
    """The server killed (SIGKILL) while it runs a command: the waiting command returns
    only once the served one has stopped (its output complete here), with exit 1 and a
    message that the status is unknown; the next command runs on its own."""
    env = _env(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    assert _run(["serve", "--detach", "--idle-minutes", "5"], env).returncode == 0
    pid = int(_status(env)["pid"])
    out = tmp_path / "sim"
    proc = subprocess.Popen([str(SCRIPT), "simulate", "--n", "400000", "--seed", "2",
                             "--no-truth", "--out", str(out)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert "the server stopped while it ran this command" in err
    assert {p.name for p in out.iterdir()} >= {"test_cohorts.csv", "conversion.csv"}
    assert _status(env) is None
    assert _run(["validate", "data/example", "--json"], env).returncode == 0


def test_a_command_without_a_server_does_not_import_the_client(monkeypatch):
    """The pre-check reads /proc/net/unix: a listening `bayes_ab-<uid>-...` name makes the
    command look further; `BAYES_AB_NO_SERVER` skips the look-up altogether."""
    import importlib

    cli_main = importlib.import_module("bayes_ab.cli.main")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(f"\0bayes_ab-{os.getuid()}-pre-check-{uuid.uuid4().hex}")
    listener.listen(1)
    try:
        assert cli_main._server_listening()
        monkeypatch.setenv("BAYES_AB_NO_SERVER", "1")
        assert not cli_main._server_listening()
    finally:
        listener.close()
