"""Property-based fuzzing of the CLI (issue 13): valid inputs (the shipped example
experiment subsampled to 300 customers, and a small A/B export) are mutated (columns
dropped, renamed, duplicated or swapped, cells corrupted, files truncated, emptied, deleted,
re-encoded, given other line endings, gzipped, replaced by random bytes, rows made ragged)
and every command must end in a clear answer:

- exit code 0, 2 (bad input) or 4 (resources), never an exception (a traceback);
- the input files byte-identical afterwards;
- no partial output: on failure no output folder and no staged ``.OUT.tmp-*``; on
  success a complete folder with bayes-ab's marker;
- nothing new in the temp folder.

The default run stays under about a minute; ``-m slow`` runs many more examples and a
few tiny-draw analyses.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io as _io
import os
import random
import shutil
import tempfile
import traceback
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bayes_ab.cli.main import main  # noqa: E402
from bayes_ab.io import MARKER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"
N_CUSTOMERS = 300
STEMS = ("test_cohorts", "product_activity", "help_activity", "conversion")
OK_CODES = {0, 2, 4}


# ------------------------------------------------------------------- the valid inputs


def _experiment_files() -> dict[str, bytes]:
    """The example experiment, first 300 customers, as plain CSV bytes per file."""
    lines = {s: gzip.decompress((EXAMPLE / f"{s}.csv.gz").read_bytes()).split(b"\n")
             for s in STEMS}
    keep = {row.split(b",", 1)[0] for row in lines["test_cohorts"][1:N_CUSTOMERS + 1]}
    files = {}
    for s in STEMS:
        header, rows = lines[s][0], [r for r in lines[s][1:] if r]
        files[f"{s}.csv"] = b"\n".join([header, *[r for r in rows
                                                 if r.split(b",", 1)[0] in keep]]) + b"\n"
    return files


def _export_files() -> dict[str, bytes]:
    rng = random.Random(5)
    rows = [b"arm,converted,seg"]
    for _ in range(240):
        arm = rng.choice([b"A", b"B"])
        p = 0.2 if arm == b"A" else 0.3
        rows.append(b"%s,%d,%s" % (arm, rng.random() < p, rng.choice([b"x", b"y"])))
    return {"export.csv": b"\n".join(rows) + b"\n"}


EXPERIMENT = _experiment_files()
EXPORT = _export_files()


# ------------------------------------------------------------------------ mutations


def _split(data: bytes) -> tuple[list[bytes], bool]:
    lines = data.split(b"\n")
    trailing = bool(lines) and lines[-1] == b""
    return (lines[:-1] if trailing else lines), trailing


def _join(lines: list[bytes], trailing: bool) -> bytes:
    return b"\n".join(lines) + (b"\n" if trailing else b"")


def _cells(line: bytes) -> list[bytes]:
    return line.split(b",")


def _on_columns(data: bytes, fn) -> bytes:
    lines, trailing = _split(data)
    return _join([b",".join(fn(i, _cells(line))) for i, line in enumerate(lines)], trailing)


NAMES = ["", "customer_id", "cohort", "Cohort ", "converted", "timestamp", "task", "arm",
         "ünï", "a,b", '"q"', "x" * 300]
VALUES = ["", "NaN", "nan", "NULL", "abc", "-1", "0", "2", "1.5", "1e309", "-0",
          "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2026-13-45T25:61:00Z", "Test",
          "Control", "TEST", "control ", "true", "yes", "\x00", '"', '""', "é", "\u202e",
          "x" * 5000, "2026-05-05", "cus_0000458ccf3f", "CS", "OTHER", "start", "complete"]


def apply(files: dict[str, bytes | None], op: tuple) -> dict[str, bytes | None]:
    files = dict(files)
    names = sorted(files)
    name = names[op[1] % len(names)]
    data = files[name]
    if data is None:
        return files
    kind = op[0]
    if not data.strip(b"\r\n") and kind not in ("garbage", "delete", "gzip", "encoding"):
        return files  # an empty file has no lines or columns to mutate
    if kind == "drop_col":
        files[name] = _on_columns(data, lambda i, c: c[:op[2] % len(c)] + c[op[2] % len(c) + 1:])
    elif kind == "rename_col":
        def rename(i, c):
            if i == 0:
                c = list(c)
                c[op[2] % len(c)] = op[3].encode()
            return c
        files[name] = _on_columns(data, rename)
    elif kind == "dup_col":
        files[name] = _on_columns(data, lambda i, c: c + [c[op[2] % len(c)]])
    elif kind == "swap_cols":
        def swap(i, c):
            c = list(c)
            a, b = op[2] % len(c), op[3] % len(c)
            if i > 0:
                c[a], c[b] = c[b], c[a]
            return c
        files[name] = _on_columns(data, swap)
    elif kind == "corrupt":
        lines, trailing = _split(data)
        if len(lines) > 1:
            for k in range(op[4]):
                row = 1 + (op[2] + 37 * k) % (len(lines) - 1)
                c = _cells(lines[row])
                c[op[3] % len(c)] = op[5].encode()
                lines[row] = b",".join(c)
        files[name] = _join(lines, trailing)
    elif kind == "ragged":
        lines, trailing = _split(data)
        if len(lines) > 1:
            row = 1 + op[2] % (len(lines) - 1)
            lines[row] = lines[row] + b",extra" if op[3] else lines[row].rsplit(b",", 1)[0]
        files[name] = _join(lines, trailing)
    elif kind == "quote":
        lines, trailing = _split(data)
        row = op[2] % len(lines)
        lines[row] = b'"' + lines[row]
        files[name] = _join(lines, trailing)
    elif kind == "truncate":
        files[name] = data[: int(len(data) * op[2])]
    elif kind == "header_only":
        files[name] = _split(data)[0][0] + b"\n"
    elif kind == "empty":
        files[name] = b""
    elif kind == "delete":
        files[name] = None
    elif kind == "garbage":
        files[name] = op[2]
    elif kind == "encoding":
        text = data.decode("utf-8", errors="replace").replace("Control", "Contról", 1)
        files[name] = text.encode(op[2], errors="replace")
    elif kind == "line_end":
        files[name] = data.replace(b"\n", op[2])
    elif kind == "dup_rows":
        lines, trailing = _split(data)
        files[name] = _join(lines + lines[1:][: op[2]], trailing)
    elif kind == "shuffle_rows":
        lines, trailing = _split(data)
        body = lines[1:]
        random.Random(op[2]).shuffle(body)
        files[name] = _join(lines[:1] + body, trailing)
    elif kind == "gzip":
        blob = gzip.compress(data, mtime=0)
        files[name] = None
        files[name + ".gz"] = blob[: len(blob) // 2] if op[2] else blob
    return files


i = st.integers(0, 1000)
OPS = st.one_of(
    st.tuples(st.just("drop_col"), i, i),
    st.tuples(st.just("rename_col"), i, i, st.sampled_from(NAMES)),
    st.tuples(st.just("dup_col"), i, i),
    st.tuples(st.just("swap_cols"), i, i, i),
    st.tuples(st.just("corrupt"), i, i, i, st.integers(1, 30), st.sampled_from(VALUES)),
    st.tuples(st.just("ragged"), i, i, st.booleans()),
    st.tuples(st.just("quote"), i, i),
    st.tuples(st.just("truncate"), i, st.floats(0, 1)),
    st.tuples(st.just("header_only"), i),
    st.tuples(st.just("empty"), i),
    st.tuples(st.just("delete"), i),
    st.tuples(st.just("garbage"), i, st.binary(max_size=300)),
    st.tuples(st.just("encoding"), i, st.sampled_from(["utf-16", "utf-8-sig", "latin-1",
                                                       "cp1252", "utf-32"])),
    st.tuples(st.just("line_end"), i, st.sampled_from([b"\r\n", b"\r"])),
    st.tuples(st.just("dup_rows"), i, st.integers(1, 50)),
    st.tuples(st.just("shuffle_rows"), i, i),
    st.tuples(st.just("gzip"), i, st.booleans()),
)
MUTATIONS = st.lists(OPS, min_size=1, max_size=3)


# --------------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder per module and a stand-in for the system temp folder (set by hand: the
    Hypothesis tests run many examples per function call)."""
    root = tmp_path_factory.mktemp("fuzz")
    systmp = root / "systmp"
    systmp.mkdir()
    old_tempdir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(systmp)
    os.environ["TMPDIR"] = str(systmp)
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield root, systmp
    tempfile.tempdir = old_tempdir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env


#: Tracebacks from input handling that another part of the code base still has to fix:
#: (command or "*", module the exception left, exception type or "*"). While one is
#: seen the output guarantees are still checked, the example passes, and
#: `test_known_input_bugs_are_gone` (last in this file) xfails naming them. Empty: the
#: forensics reader and the loaders' corrupt-gzip case found by this test on 2026-12-01
#: were fixed on main (forensics now reads through the validated loaders).
KNOWN_INPUT_BUGS: set[tuple[str, str, str]] = set()


def _is_known(command: str, where: str, exc: BaseException) -> bool:
    return any(c in ("*", command) and m == where and t in ("*", type(exc).__name__)
               for c, m, t in KNOWN_INPUT_BUGS)
SEEN_KNOWN: list[str] = []


def _innermost_bayes_ab(exc: BaseException) -> str:
    frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    inner = [f for f in frames if "/bayes_ab/" in f]
    return inner[-1].split("/src/")[-1] if inner else ""


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


def check_command(sandbox, files: dict[str, bytes | None], args: list[str], *,
                  writes: bool, tolerate_known: bool = True) -> int:
    """Run ``bayes-ab`` on a folder holding ``files`` and assert the guarantees."""
    root, systmp = sandbox
    work = Path(tempfile.mkdtemp(prefix="case-", dir=root))
    try:
        data = work / "data"
        data.mkdir()
        for name, blob in files.items():
            if blob is not None:
                (data / name).write_bytes(blob)
        before = _digest(data)
        out = work / "out"
        argv = [a.replace("{data}", str(data)).replace("{out}", str(out)) for a in args]
        stdout, stderr = _io.StringIO(), _io.StringIO()
        known = None
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = main(argv)
        except Exception as exc:  # noqa: BLE001 - a traceback is the failure
            where = _innermost_bayes_ab(exc)
            if not tolerate_known or not _is_known(args[0], where, exc):
                raise AssertionError(
                    f"bayes-ab {' '.join(args)} raised {type(exc).__name__}: {exc}\n"
                    + "".join(traceback.format_exception(exc))[-4000:]) from None
            known = f"{args[0]}: {type(exc).__name__}: {str(exc)[:120]} (in {where})"
            SEEN_KNOWN.append(known)
            rc = 1
        err = stderr.getvalue()
        if known is None:
            assert rc in OK_CODES, (rc, err[-2000:])
            assert "Traceback" not in err, err[-2000:]
            if rc != 0:
                assert err.strip(), "a failure must say why"
        assert _digest(data) == before, "an input file changed"
        if writes:
            if rc == 0:
                assert (out / MARKER).is_file()
            else:
                assert not out.exists(), "partial output after a failure"
        stray = [p.name for p in work.iterdir() if p.name not in ("data", "out")]
        assert stray == [], f"left next to the output: {stray}"
        assert list(systmp.iterdir()) == [], f"left in the temp folder: {list(systmp.iterdir())}"
        return rc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for p in systmp.iterdir():  # one failure must not fail every later example
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()


def mutate(base: dict[str, bytes], ops: list[tuple]) -> dict[str, bytes | None]:
    files: dict[str, bytes | None] = dict(base)
    for op in ops:
        files = apply(files, op)
    return files


COMPARE = ["compare", "{data}/export.csv", "--group-col", "arm", "--outcome-col", "converted",
           "--out", "{out}", "--draws", "30", "--tune", "30", "--chains", "1", "--seed", "1",
           "--no-figures"]
ANALYZE = ["analyze", "{data}", "--out", "{out}", "--draws", "30", "--tune", "30", "--chains",
           "1", "--seed", "1", "--no-figures", "--prior-sensitivity", "none", "--quiet"]
FAST = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def test_the_unmutated_inputs_are_valid(sandbox):
    assert check_command(sandbox, EXPERIMENT, ["validate", "{data}"], writes=False) == 0
    assert check_command(sandbox, EXPERIMENT, ["forensics", "{data}", "--out", "{out}"],
                         writes=True) == 0
    assert check_command(sandbox, EXPORT, COMPARE, writes=True) == 0


@FAST
@given(ops=MUTATIONS)
def test_fuzz_validate_and_forensics(sandbox, ops):
    files = mutate(EXPERIMENT, ops)
    check_command(sandbox, files, ["validate", "{data}"], writes=False)
    check_command(sandbox, files, ["forensics", "{data}", "--out", "{out}"], writes=True)


@settings(FAST, max_examples=20)
@given(ops=MUTATIONS)
def test_fuzz_compare(sandbox, ops):
    check_command(sandbox, mutate(EXPORT, ops), COMPARE, writes=True)


@pytest.mark.slow
@SLOW
@given(ops=MUTATIONS)
def test_fuzz_validate_and_forensics_long(sandbox, ops):
    files = mutate(EXPERIMENT, ops)
    check_command(sandbox, files, ["validate", "{data}"], writes=False)
    check_command(sandbox, files, ["forensics", "{data}", "--out", "{out}"], writes=True)


@pytest.mark.slow
@settings(SLOW, max_examples=60)
@given(ops=MUTATIONS)
def test_fuzz_compare_long(sandbox, ops):
    check_command(sandbox, mutate(EXPORT, ops), COMPARE, writes=True)


@pytest.mark.slow
@settings(SLOW, max_examples=6)
@given(ops=MUTATIONS)
def test_fuzz_analyze(sandbox, ops):
    check_command(sandbox, mutate(EXPERIMENT, ops), ANALYZE, writes=True)


#: Single mutations that made `forensics` raise (found by this fuzz test, 2026-12-01, when
#: forensics read its files with its own reader): regressions now.
FORENSICS_TRACEBACKS = [
    ("corrupt", 0, 3, 0, 5, '"'),  # unbalanced quote: pandas ParserError in read_raw
    ("gzip", 0, True),  # truncated gzip: EOFError in read_raw
    ("drop_col", 1, 0),  # help_activity without customer_id: KeyError
    ("drop_col", 2, 0),  # product_activity without customer_id: KeyError
    ("truncate", 2, 0.001),  # product_activity cut inside its header: TypeError tz
    ("swap_cols", 3, 0, 1),  # test_cohorts customer_id <-> cohort: ValueError reindex
    ("header_only", 3),  # test_cohorts without rows: ValueError in check_split
]


@pytest.mark.parametrize("command", ["validate", "forensics"])
def test_corrupt_gzip_stream_found_by_fuzzing(sandbox, command):
    """conversion.csv gzipped, then bytes inside the deflate stream changed: exit 2."""
    files = mutate(EXPERIMENT, [("gzip", 0, False), ("drop_col", 1, 1)])
    args = [command, "{data}"] + (["--out", "{out}"] if command == "forensics" else [])
    check_command(sandbox, files, args, writes=command == "forensics", tolerate_known=False)


@pytest.mark.parametrize("op", FORENSICS_TRACEBACKS, ids=lambda op: "-".join(map(str, op[:2])))
def test_forensics_tracebacks_found_by_fuzzing(sandbox, op):
    check_command(sandbox, mutate(EXPERIMENT, [op]), ["forensics", "{data}", "--out", "{out}"],
                  writes=True, tolerate_known=False)


def test_known_input_bugs_are_gone():
    """Last in the file: xfails while the fuzz tests above met a known input-handling
    traceback (see KNOWN_INPUT_BUGS); passes once they are fixed."""
    if SEEN_KNOWN:
        distinct = sorted(set(SEEN_KNOWN))
        pytest.xfail(f"{len(distinct)} known input-handling traceback(s): "
                     + " | ".join(distinct[:8]))
