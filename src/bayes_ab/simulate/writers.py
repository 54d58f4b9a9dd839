"""Writers: `write_simulation` (CSV, gzip, Parquet) and `write_simulation_chunked`.

`write_simulation_chunked` simulates and writes Parquet a chunk of customers at a time
(bounded memory, optionally in parallel processes), from its own random streams.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayes_ab.constants import ARMS, CS_TYPES
from bayes_ab.errors import OptionError
from bayes_ab.simulate.params import SimParams, scenario_params
from bayes_ab.simulate.sample import FILE_STEMS, Simulation
from bayes_ab.simulate.story import SECONDS_PER_DAY, help_rows, simulate_paths
from bayes_ab.simulate.truth import population_truth, truth_document


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV text, LF line ends, timestamps ``2026-05-05T10:23:45Z``, blanks for missing.

    Arrow's writer is several times faster than pandas' at 10^6 rows. Nothing is
    quoted: every value here is an id, a label, a number or a timestamp, none of
    which can hold a comma, a quote or a line break.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = {}
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            values = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
            text = np.datetime_as_string(values, unit="s", timezone="UTC").astype(object)
            text[pd.isna(s).to_numpy()] = None
            columns[col] = pa.array(text, type=pa.string())
        elif s.dtype == object:
            columns[col] = pa.array(s.to_numpy(), type=pa.string())
        else:
            columns[col] = pa.array(s.to_numpy())
    buf = io.BytesIO()
    buf.write((",".join(df.columns) + "\n").encode("utf-8"))
    pacsv.write_csv(pa.table(columns), buf,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def write_simulation(sim: Simulation, out_dir: str | Path, *,
                     fmt: Literal["csv", "csv.gz", "parquet"] = "csv") -> list[Path]:
    """Write the four files and truth.json into an existing folder `out_dir`.

    CSV timestamps are ISO 8601 UTC with second resolution (``2026-05-05T10:23:45Z``);
    ``csv.gz`` is byte-reproducible (no name or time in the gzip header).
    """
    from bayes_ab.io import write_json

    out_dir = Path(out_dir)
    written = []
    for stem, df in sim.tables().items():
        if fmt == "csv":
            path = out_dir / f"{stem}.csv"
            path.write_bytes(_csv_bytes(df))
        elif fmt == "csv.gz":
            path = out_dir / f"{stem}.csv.gz"
            path.write_bytes(gzip.compress(_csv_bytes(df), compresslevel=9, mtime=0))
        elif fmt == "parquet":
            path = out_dir / f"{stem}.parquet"
            df.to_parquet(path, index=False)
        else:
            raise OptionError(f"unknown format {fmt!r}; use csv, csv.gz or parquet")
        written.append(path)
    truth_path = out_dir / "truth.json"
    write_json(truth_path, sim.truth)
    written.append(truth_path)
    return written


#: Customers per chunk of `write_simulation_chunked` (about 0.8 GB of working arrays).
CHUNK_CUSTOMERS = 2_000_000


def _chunk_seq(seed: int, chunk: int) -> np.random.SeedSequence:
    # Its own tree (spawn key 0xC4, chunk): chunk streams never overlap those of `simulate`.
    return np.random.SeedSequence(int(seed), spawn_key=(0xC4, int(chunk)))


def _hex_ids(values: np.ndarray, prefix: bytes, digits: int):
    """Arrow strings ``prefix`` + ``digits`` lower-case hex digits, built without Python
    strings (a few tens of ms per million ids)."""
    import pyarrow as pa

    n = values.size
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = (np.arange(digits - 1, -1, -1, dtype=np.int64) * 4)
    nibbles = (values.astype(np.int64)[:, None] >> shifts) & 0xF
    width = len(prefix) + digits
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    chars[:, len(prefix):] = alphabet[nibbles]
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _arrow_chunk(p: SimParams, n: int, seed: int, chunk: int) -> dict:
    """One chunk's four tables as Arrow tables (same columns and rules as `build_tables`,
    ids ``cus_`` + 4 hex digits of the chunk index + 12 random hex digits)."""
    import pyarrow as pa

    id_seq, path_seq = _chunk_seq(seed, chunk).spawn(2)
    paths = simulate_paths(p, n, path_seq)
    g = np.random.Generator(np.random.PCG64(id_seq))
    space = 16 ** 12
    ints = g.integers(0, space, size=n, dtype=np.int64)
    while True:  # unique within the chunk; the chunk prefix makes them unique overall
        _, first = np.unique(ints, return_index=True)
        dup = np.ones(n, bool)
        dup[first] = False
        if not dup.any():
            break
        ints[dup] = g.integers(0, space, size=int(dup.sum()), dtype=np.int64)
    ids = _hex_ids(ints, b"cus_" + f"{chunk:04x}".encode(), 12)
    origin = int(p.start.value // 1_000_000_000)
    cutoff = p.window_days * SECONDS_PER_DAY
    ts_type = pa.timestamp("s", tz="UTC")

    def stamps(seconds: np.ndarray) -> pa.Array:
        return pa.array(origin + np.floor(seconds).astype(np.int64), type=ts_type)

    order = np.argsort(paths.join, kind="stable")
    arm = np.array(ARMS, dtype=object)
    cohorts = pa.table({
        "customer_id": ids.take(pa.array(order)),
        "cohort": pa.array(arm[paths.z.astype(np.int64)[order]], type=pa.string()),
        "joined_at": stamps(paths.join[order]),
    })

    cust, task, action, secs = [], [], [], []
    for k in range(3):
        for a, arr in ((0, paths.start[k]), (1, paths.complete[k])):
            idx = np.flatnonzero(arr < cutoff)
            cust.append(idx)
            task.append(np.full(idx.size, k + 1, np.int8))
            action.append(np.full(idx.size, a, np.int8))
            secs.append(np.floor(arr[idx]))
    cust_a, task_a, act_a, secs_a = (np.concatenate(v) for v in (cust, task, action, secs))
    o = np.lexsort((act_a, task_a, cust_a, secs_a))
    activity = pa.table({
        "customer_id": ids.take(pa.array(cust_a[o])),
        "task": pa.array(task_a[o].astype(np.int64)),
        "action": pa.DictionaryArray.from_arrays(
            pa.array(act_a[o].astype(np.int32)), pa.array(["start", "complete"])
        ).cast(pa.string()),
        "timestamp": stamps(secs_a[o]),
    })

    cust_b, task_b, secs_b, cs_b, type_b, o = help_rows(paths, cutoff)
    cs_o = cs_b[o]
    help_tbl = pa.table({
        "customer_id": ids.take(pa.array(cust_b[o])),
        "timestamp": stamps(secs_b[o]),
        "task": pa.array(task_b[o]),
        "channel": pa.array(np.where(cs_o, "CS", "OTHER").astype(object), type=pa.string()),
        "cs_type": pa.array(np.where(cs_o, np.array(CS_TYPES, dtype=object)[type_b[o]], ""),
                            type=pa.string()),
    })

    by_id = np.argsort(ints, kind="stable")
    conv_at = origin + np.floor(np.where(paths.converted, paths.converted_at, 0.0)).astype(np.int64)
    conversion = pa.table({
        "customer_id": ids.take(pa.array(by_id)),
        "converted": pa.array(paths.converted.astype(np.int64)[by_id]),
        "converted_at": pa.array(conv_at[by_id], type=ts_type,
                                 mask=~paths.converted[by_id]),
    })
    return {"test_cohorts": cohorts, "product_activity": activity,
            "help_activity": help_tbl, "conversion": conversion}


def _chunk_job(args) -> dict:
    p, n, seed, chunk = args
    return _arrow_chunk(p, n, seed, chunk)


def write_simulation_chunked(
    n: int, seed: int, out_dir: str | Path, *, chunk: int = CHUNK_CUSTOMERS,
    scenario: str = "effect", truth: bool = False, workers: int = 1, **overrides: Any,
) -> list[Path]:
    """Simulate ``n`` trialers straight to Parquet, ``chunk`` customers at a time.

    Memory stays bounded by the chunk (about 0.4 GB per million customers in the chunk,
    per worker), whatever ``n``: each chunk is simulated, written as row groups of the
    four ``.parquet`` files and freed. ``workers`` > 1 simulates chunks in parallel
    processes (written in chunk order, so the files do not depend on ``workers``).

    The sample is a valid draw from the same generative story, seeded and reproducible
    for a given (n, seed, chunk, scenario, overrides), but it is a *different* sample
    from ``simulate(n=n, seed=seed)``: each chunk has its own random streams, and the
    ids are ``cus_`` + the chunk index (4 hex digits) + 12 random hex digits (unique).
    Rows are in the simulator's order within each chunk. ``duplicate_row_rate`` is not
    supported here. ``truth=True`` adds the population values to truth.json (costly).
    """
    import pyarrow.parquet as pq

    from bayes_ab.io import write_json

    if int(n) < 1:
        raise OptionError("n must be >= 1")
    if int(seed) < 0:
        raise OptionError("seed must be >= 0")
    if int(chunk) < 1:
        raise OptionError("chunk must be >= 1")
    p = scenario_params(scenario, **overrides)
    if p.duplicate_row_rate > 0:
        raise OptionError("duplicate_row_rate is not supported by the chunked writer")
    out_dir = Path(out_dir)
    sizes = [min(int(chunk), int(n) - start) for start in range(0, int(n), int(chunk))]
    jobs = [(p, size, int(seed), i) for i, size in enumerate(sizes)]
    writers: dict[str, pq.ParquetWriter] = {}

    def write(tables: dict) -> None:
        for stem, table in tables.items():
            if stem not in writers:
                writers[stem] = pq.ParquetWriter(out_dir / f"{stem}.parquet", table.schema)
            writers[stem].write_table(table, row_group_size=1_000_000)

    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                write(_chunk_job(job))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=int(workers),
                                     mp_context=mp.get_context("fork")) as pool:
                pending = []
                for job in jobs:  # at most `workers` + 1 chunks in flight: bounded memory
                    pending.append(pool.submit(_chunk_job, job))
                    if len(pending) > int(workers):
                        write(pending.pop(0).result())
                for fut in pending:
                    write(fut.result())
    finally:
        for w in writers.values():
            w.close()
    estimands = population_truth(p) if truth else None
    doc = truth_document(p, scenario=scenario, seed=seed, n=n, overrides=overrides,
                          estimands=estimands)
    doc["chunked"] = {"chunk": int(chunk), "n_chunks": len(sizes),
                      "note": "a different sample from the single-chunk simulator"}
    write_json(out_dir / "truth.json", doc)
    return [out_dir / f"{stem}.parquet" for stem in FILE_STEMS] + [out_dir / "truth.json"]
