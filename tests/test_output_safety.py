"""Output safety (issue 13): the input is sacred, `--force` replaces only what bayes-ab
wrote, the output path is checked before any work, and nothing is left behind (staged
folders, replaced folders, temp files), whether the run succeeds, fails or is killed by
SIGINT / SIGTERM."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_ab import io
from bayes_ab.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


# ----------------------------------------------------------------------------- helpers


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file and link under ``roots``: path -> sha256 of its bytes (or link target)."""
    found = {}
    for root in roots:
        paths = [root] if not root.is_dir() or root.is_symlink() else sorted(root.rglob("*"))
        for p in paths:
            if p.is_symlink():
                found[str(p)] = "link:" + os.readlink(p)
            elif p.is_file():
                found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_dir():
                found[str(p)] = "dir"
    return found


def leftovers(folder: Path) -> list[str]:
    """Staged / replaced / probe folders bayes-ab might strand in ``folder``."""
    return sorted(p.name for p in folder.rglob(".*")
                  if any(t in p.name for t in (".tmp-", ".old-", "probe")))


@pytest.fixture
def systmp(tmp_path, monkeypatch) -> Path:
    """A private stand-in for the system temp folder: must be empty after every run."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def write_export(path: Path, n: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "arm": rng.choice(["A", "B"], n),
        "converted": rng.integers(0, 2, n),
        "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10, n), "D"),
    }).to_csv(path, index=False)
    return path


#: Where each command does its work: called before the output path is checked, the test
#: fails ("work before the check").
WORK = {
    "analyze": ("bayes_ab.workflows.analyze", "analyze"),
    "forensics": ("bayes_ab.forensics", "run_forensics"),
    "compare": ("bayes_ab.workflows.compare", "run_compare"),
    "monitor": ("bayes_ab.workflows.monitor", "read_daily_counts"),
    "funnel": ("bayes_ab.data.funnel", "load_funnel"),
    "plan": ("bayes_ab.workflows.planning", "plan_sample_size"),
    "simulate": ("bayes_ab.simulate", "simulate"),
}


@pytest.fixture
def no_work(monkeypatch):
    """Make every command's work raise: a refused output path must be refused first."""
    import importlib

    calls = []
    for command, (module, name) in WORK.items():
        mod = importlib.import_module(module)

        def boom(*_a, _command=command, **_k):
            calls.append(_command)
            raise AssertionError(f"{_command}: work done before the output was checked")

        monkeypatch.setattr(mod, name, boom)
    return calls


def argv(command: str, folder: Path, file: Path, out: str) -> list[str]:
    """A valid command line of ``command`` reading ``folder`` (a data folder) or ``file``."""
    return {
        "analyze": ["analyze", str(folder), "--out", out, "--quiet"],
        "forensics": ["forensics", str(folder), "--out", out],
        "compare": ["compare", str(file), "--group-col", "arm", "--outcome-col", "converted",
                    "--out", out],
        "monitor": ["monitor", str(file), "--date-col", "day", "--group-col", "arm",
                    "--outcome-col", "converted", "--out", out],
        "funnel": ["funnel", str(file), str(file), "--out", out],
        "plan": ["plan", "--baseline", "0.15", "--mde", "0.02", "--sims", "100", "--out", out],
        "simulate": ["simulate", "--n", "200", "--seed", "1", "--out", out],
    }[command]


FOLDER_INPUT = ("analyze", "forensics")
FILE_INPUT = ("compare", "monitor", "funnel")


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    """A copy of the tiny experiment folder and a folder holding one export file."""
    folder = tmp_path / "d"
    folder.mkdir()
    for p in TINY.glob("*.csv"):
        (folder / p.name).write_bytes(p.read_bytes())
    holder = tmp_path / "o"
    holder.mkdir()
    return folder, write_export(holder / "x.csv")


# ------------------------------------------------------- 1. the input is never touched


@pytest.mark.parametrize("command", FOLDER_INPUT + FILE_INPUT)
@pytest.mark.parametrize("where", ["is", "contains", "inside", "via-link", "via-dotdot"])
def test_output_overlapping_an_input_is_refused_before_any_work(
        command, where, inputs, tmp_path, systmp, no_work, capsys, monkeypatch):
    folder, file = inputs
    monkeypatch.chdir(tmp_path.parent)  # not inside the output folders tried here
    given = folder if command in FOLDER_INPUT else file.parent  # the folder holding the data
    (tmp_path / "link").symlink_to(given, target_is_directory=True)
    out = {
        "is": str(folder) if command in FOLDER_INPUT else str(file),
        "contains": str(given) if command in FILE_INPUT else str(tmp_path),
        "inside": str((folder if command in FOLDER_INPUT else file) / "results"),
        # the input reached through a link to its folder
        "via-link": str(tmp_path / "link" / ("sub" if command in FOLDER_INPUT else file.name)),
        "via-dotdot": f"{given}/results/../../{given.name}",
    }[where]
    before = snapshot(tmp_path / "d", tmp_path / "o")
    rc = main([*argv(command, folder, file, out), "--force"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "the input" in err and "Traceback" not in err, err
    assert no_work == []
    assert snapshot(tmp_path / "d", tmp_path / "o") == before
    assert leftovers(tmp_path) == [] and list(systmp.iterdir()) == []


def test_issue_reproductions_keep_the_inputs(tmp_path, capsys, monkeypatch, systmp):
    """`cp -r data/example d && bayes-ab analyze d --out d --force` and the compare twin."""
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "d"
    d.mkdir()
    for p in (ROOT / "data" / "example").iterdir():
        (d / p.name).write_bytes(p.read_bytes())
    o = tmp_path / "o"
    o.mkdir()
    write_export(o / "x.csv")
    before = snapshot(d, o)
    assert main(["analyze", "d", "--out", "d", "--force"]) == 2
    assert "--out d is the input d" in capsys.readouterr().err
    assert main(["compare", "o/x.csv", "--group-col", "arm", "--outcome-col", "converted",
                 "--out", "o", "--force"]) == 2
    assert "--out o contains the input o/x.csv" in capsys.readouterr().err
    assert snapshot(d, o) == before


def test_a_link_inside_the_data_folder_counts_as_an_input(tmp_path, capsys, no_work):
    """The data folder's file is a link into another folder: that folder is an input too."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "test_cohorts.csv"
    real.write_bytes((TINY / "test_cohorts.csv").read_bytes())
    (elsewhere / io.MARKER).write_text(json.dumps({"written_by": "bayes-ab"}))
    d = tmp_path / "d"
    d.mkdir()
    for p in TINY.glob("*.csv"):
        if p.name != "test_cohorts.csv":
            (d / p.name).write_bytes(p.read_bytes())
    (d / "test_cohorts.csv").symlink_to(real)
    assert main(["forensics", str(d), "--out", str(elsewhere), "--force"]) == 2
    assert "contains the input" in capsys.readouterr().err
    assert real.read_bytes() == (TINY / "test_cohorts.csv").read_bytes()


# ------------------------------------------------- 1b. --force replaces only our folders


def test_every_output_folder_has_the_marker_and_force_replaces_it(tmp_path, systmp, capsys):
    out = tmp_path / "out"
    assert main(["forensics", str(TINY), "--out", str(out)]) == 0
    marker = json.loads((out / io.MARKER).read_text())
    from bayes_ab import __version__

    assert marker["written_by"] == "bayes-ab" and marker["command"] == "forensics"
    assert marker["version"] == __version__ and marker["complete"] is True
    assert "pid" not in marker and "host" not in marker  # only while staging
    assert abs(pd.Timestamp(marker["written_at"]).timestamp() - time.time()) < 600
    first = (out / "forensics.json").read_bytes()
    (out / "stale.txt").write_text("from an older run")
    # Without --force: refused, untouched.
    assert main(["forensics", str(TINY), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "stale.txt").exists()
    # With --force: replaced (deterministic content), no .out.old-* left behind.
    assert main(["forensics", str(TINY), "--out", str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists()
    assert (out / "forensics.json").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "systmp"]
    assert list(systmp.iterdir()) == []


@pytest.mark.parametrize("command", ["forensics", "simulate", "plan", "compare", "analyze"])
def test_force_refuses_a_folder_bayes_ab_did_not_write(command, inputs, tmp_path, no_work,
                                                       capsys):
    folder, file = inputs
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    (out / "results.json").write_text("{}")  # looks like an output, has no marker
    before = snapshot(out)
    assert main([*argv(command, folder, file, str(out)), "--force"]) == 2
    err = capsys.readouterr().err
    assert "was not written by bayes-ab" in err and io.MARKER in err
    assert snapshot(out) == before and no_work == []


def test_replaced_folder_with_read_only_parts_is_removed(tmp_path, systmp):
    """The old output's copy (.out.old-*) goes even when a user made parts read-only."""
    out = tmp_path / "out"
    assert main(["forensics", str(TINY), "--out", str(out)]) == 0
    locked = out / "notes"
    locked.mkdir()
    (locked / "n.txt").write_text("x")
    (locked / "n.txt").chmod(0o400)
    locked.chmod(0o500)
    assert main(["forensics", str(TINY), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "systmp"]
    assert not (out / "notes").exists()


def test_force_replaces_an_empty_folder_and_a_simulate_output(tmp_path, systmp, capsys):
    out = tmp_path / "sim"
    out.mkdir()  # empty: nothing can be lost
    args = ["simulate", "--n", "200", "--seed", "2", "--out", str(out), "--no-truth"]
    assert main([*args, "--force"]) == 0
    assert json.loads((out / io.MARKER).read_text())["command"] == "simulate"
    cohorts = (out / "test_cohorts.csv").read_bytes()
    assert main([*args, "--force"]) == 0
    assert (out / "test_cohorts.csv").read_bytes() == cohorts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim", "systmp"]
    assert list(systmp.iterdir()) == []


# ---------------------------------------- 2. the output path is checked before any work


@pytest.mark.parametrize("command", sorted(WORK))
@pytest.mark.parametrize("case", ["dot", "dotdot", "empty", "file", "parent-file", "cwd-parent",
                                  "link", "unwritable", "too-long"])
def test_bad_output_path_is_refused_before_any_work(command, case, inputs, tmp_path, systmp,
                                                    no_work, capsys, monkeypatch):
    folder, file = inputs
    work = tmp_path / "w" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "afile").write_text("x")
    (work / "target").mkdir()
    (work / "alink").symlink_to(work / "target", target_is_directory=True)
    out, expect = {
        "dot": (".", "does not name a new folder"),
        "dotdot": ("..", "does not name a new folder"),
        "empty": ("", "--out is empty"),
        "file": ("afile", "is an existing file"),
        "parent-file": ("afile/results", "is a file, so no folder can be made"),
        "cwd-parent": (str(tmp_path / "w"), "the current folder or one above it"),
        "link": ("alink", "is a symbolic link"),
        "unwritable": ("/sys/bayes-ab-results", "cannot write to /sys"),
        "too-long": ("r" * 250, "too long"),
    }[case]
    before = snapshot(tmp_path / "w")
    rc = main([*argv(command, folder, file, out), "--force"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expect in err and "Traceback" not in err, err
    assert no_work == []
    assert snapshot(tmp_path / "w") == before
    assert leftovers(tmp_path) == [] and list(systmp.iterdir()) == []


def test_unwritable_parent_for_an_ordinary_user(tmp_path, no_work, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere; the read-only file system test covers this")
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert main(["forensics", str(TINY), "--out", str(parent / "out")]) == 2
        assert "cannot write to" in capsys.readouterr().err
    finally:
        parent.chmod(0o755)


def test_read_only_file_system_is_refused_before_any_work(tmp_path):
    """A real read-only mount (a private mount namespace; skipped where not permitted)."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            f"mount -t tmpfs -o ro tmpfs {mnt} && echo ok"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or "ok" not in probe.stdout:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()}")
    code = ("import sys, bayes_ab.forensics as f\n"
            "f.run_forensics = lambda *a, **k: sys.exit('work done')\n"
            "from bayes_ab.cli.main import main\n"
            f"sys.exit(main(['forensics', {str(TINY)!r}, '--out', {str(mnt / 'out')!r}]))\n")
    res = subprocess.run(["unshare", "-m", "sh", "-c",
                          f"mount -t tmpfs -o ro tmpfs {mnt} && exec \"$0\" -c \"$1\"",
                          sys.executable, code],
                         capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert res.returncode == 2, res.stderr
    assert "cannot write to" in res.stderr and "Read-only file system" in res.stderr
    assert "Traceback" not in res.stderr


def test_parents_made_for_a_failed_run_are_removed(tmp_path, systmp, capsys):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), io.staged_output_dir(out, command="test") as tmp:
        assert (tmp / io.MARKER).exists()
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["systmp"]


def test_output_appearing_during_the_run_is_not_replaced(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(io.OutputExistsError), io.staged_output_dir(out) as tmp:
        (tmp / "x").write_text("1")
        out.mkdir()
        (out / "theirs").write_text("keep")
    assert (out / "theirs").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -------------------------------------------------------------------- 3. no leftovers


def _env(tmp_path: Path, systmp: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg")
    if systmp is not None:
        env["TMPDIR"] = str(systmp)
    return env


def _default_signals() -> None:
    """A child started from a background job inherits an ignored SIGINT: reset it."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


STAGE_AND_WAIT = """
import sys, tempfile, time, bayes_ab.simulate as s
def slow(sim, folder, fmt="csv"):
    # what PyTensor's numba back end does, and a staged file, then wait for the signal
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(b"generated source")
    (folder / "half.csv").write_text("a,b\\n")
    print("staged", flush=True)
    time.sleep(120)
s.write_simulation = slow
from bayes_ab.cli.main import main
sys.exit(main(["simulate", "--n", "50", "--seed", "1", "--out", sys.argv[1], "--no-truth"]))
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                       (signal.SIGHUP, 129)])
def test_signal_cleans_the_staged_folder_and_the_temp_folder(sig, code, tmp_path):
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    out = tmp_path / "res" / "out"
    proc = subprocess.Popen([sys.executable, "-c", STAGE_AND_WAIT, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(tmp_path, systmp), preexec_fn=_default_signals)
    try:
        assert proc.stdout.readline().strip() == "staged"
        assert [p.name for p in (tmp_path / "res").iterdir()][0].startswith(".out.tmp-")
        assert len(list(systmp.rglob("*"))) >= 2  # the private folder and the temp file
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert not (tmp_path / "res").exists()  # staged folder and the parent made for it
    assert list(systmp.iterdir()) == []


def test_signal_during_the_final_rename_is_deferred(tmp_path):
    """SIGTERM arriving while the output is moved into place: the move completes, then the
    run stops with 143 (through the CLI's handlers)."""
    from bayes_ab.cli.main import _signal_handlers

    out = tmp_path / "out"
    with _signal_handlers():
        with pytest.raises(io.Terminated) as exc:
            with io._critical():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                out.mkdir()  # still running: the signal waits
        assert exc.value.signum == signal.SIGTERM
    assert out.is_dir()


def test_stale_staging_folder_of_a_killed_run_is_removed(tmp_path, systmp):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / ".out.tmp-abcd1234"
    stale.mkdir()
    info = io._marker("simulate", complete=False) | {"pid": dead.pid}
    (stale / io.MARKER).write_text(json.dumps(info))
    old = tmp_path / ".out.old-abcd1234"
    old.mkdir()
    (old / io.MARKER).write_text(json.dumps(info))
    alive = tmp_path / ".out.tmp-live0000"
    alive.mkdir()
    (alive / io.MARKER).write_text(json.dumps(info | {"pid": os.getpid()}))
    foreign = tmp_path / ".out.tmp-notours0"
    foreign.mkdir()
    assert main(["simulate", "--n", "200", "--seed", "1", "--no-truth",
                 "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".out.tmp-live0000", ".out.tmp-notours0", "out", "systmp"]


def test_private_temp_folder_catches_every_temp_file_and_is_restored(
        tmp_path, systmp, monkeypatch):
    """PyTensor's numba linker writes NamedTemporaryFile(delete=False); child processes
    use TMPDIR: all of it lands in the run's private folder, removed at the end."""
    import bayes_ab.forensics as f
    from pytensor.link.numba.cache import compile_numba_function_src

    real = f.run_forensics
    seen = {}

    def run(*a, **k):
        fn = compile_numba_function_src("def g(x):\n    return x + 1\n", "g",
                                        write_to_disk=True)
        seen["fn_file"] = fn.__code__.co_filename
        seen["child"] = subprocess.run(
            [sys.executable, "-c", "import tempfile; print(tempfile.mkstemp()[1])"],
            capture_output=True, text=True, check=True).stdout.strip()
        seen["tempdir"] = tempfile.gettempdir()
        return real(*a, **k)

    monkeypatch.setattr(f, "run_forensics", run)
    assert main(["forensics", str(TINY)]) == 0
    private = Path(seen["tempdir"])
    assert private.parent == systmp and private.name.startswith(f"bayes-ab-{os.getpid()}-")
    assert Path(seen["fn_file"]).parent == private and Path(seen["child"]).parent == private
    assert list(systmp.iterdir()) == []
    assert tempfile.tempdir == str(systmp) and os.environ["TMPDIR"] == str(systmp)


@pytest.mark.slow
def test_analyze_leaves_nothing_in_the_temp_folder(tmp_path):
    """One real analysis (tiny draws): its numba sources, DuckDB files etc. all go."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "bayes_ab.cli.main", "analyze", str(TINY), "--out", str(out),
         "--draws", "50", "--tune", "50", "--chains", "2", "--no-figures",
         "--prior-sensitivity", "none", "--quiet"],
        capture_output=True, text=True, env=_env(tmp_path, systmp), timeout=1500)
    assert res.returncode == 0, res.stderr
    assert (out / "results.json").exists() and (out / io.MARKER).exists()
    assert list(systmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "systmp"]


@pytest.mark.slow
def test_sigterm_during_a_real_compare(tmp_path):
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    export = write_export(tmp_path / "x.csv")
    before = snapshot(export)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bayes_ab.cli.main", "compare", str(export), "--group-col", "arm",
         "--outcome-col", "converted", "--out", str(tmp_path / "c"), "--draws", "50",
         "--tune", "50", "--chains", "1", "--no-figures"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path, systmp))
    try:
        for _ in range(600):
            if any(p.name.startswith(".c.tmp-") for p in tmp_path.iterdir()):
                break
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["systmp", "x.csv"]
    assert list(systmp.iterdir()) == [] and snapshot(export) == before
