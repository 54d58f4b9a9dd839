"""Build the three analysis tables of `ExperimentData` from the cleaned inputs.

Definitions (schema.py's docstring lists the columns):

* ``task{k}_started_at`` is the customer's first ``start`` of task k;
  ``task{k}_completed_at`` the first ``complete`` of task k at or after that start
  (a completion with no earlier start does not count). ``task{k}_duration_min`` is
  the difference in minutes. ``n_completed`` counts the tasks with a completion.
* ``attempted``: the customer started at least one task; ``first_action_at`` is
  the first start.
* ``first_help_channel``: the channel of the customer's earliest flag (file order
  breaks ties); "NONE" when never flagged.
* ``observation_end``: the latest timestamp in the (cleaned) product and help
  activity; durations of what was never completed are right-censored there.
* help_episodes ``completed``/``minutes``: the first completion of the flagged task
  at or after the flag; otherwise censored at ``observation_end``.
* task_attempts ``prior_completions``: the customer's tasks completed strictly
  before this start; ``prior_help_flags``: the customer's flags (any task) strictly
  before this start; ``helped``/``help_channel``: flagged on this task at any time,
  with the channel of the first such flag.

Everything is vectorised (integer customer codes, numpy scatter, ``merge_asof``),
so a million customers with a few million activity rows take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayes_ab.constants import ARMS, TASKS
from bayes_ab.data.schema import FRAME_COLUMNS, HELP_EPISODE_COLUMNS, TASK_ATTEMPT_COLUMNS

__all__ = ["build_frame", "build_help_episodes", "build_task_attempts", "build_tables",
           "observation_end_of"]

_NS_PER_MIN = 60e9
_NAT = np.iinfo(np.int64).min  # numpy's NaT as int64
_N_TASKS = len(TASKS)


def _ns(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (NaT -> _NAT)."""
    s = pd.to_datetime(ts, utc=True)
    return s.dt.tz_convert(None).dt.as_unit("ns").to_numpy().view(np.int64)


def _to_ts(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


def _cohort_of(cohorts: pd.DataFrame, cid: np.ndarray) -> pd.Categorical:
    """The arm of each customer position, as a categorical (no re-hashing of labels)."""
    codes = pd.Categorical(cohorts["cohort"], categories=list(ARMS)).codes
    return pd.Categorical.from_codes(codes[cid], categories=list(ARMS))


def _codes(cohorts: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Each row's customer position in ``cohorts`` (-1 when absent).

    The loader attaches it as ``_cid`` (computed once per file); plain tables are
    looked up by ``customer_id``.
    """
    if "_cid" in table.columns:
        return table["_cid"].to_numpy(dtype=np.int64)
    return pd.Index(cohorts["customer_id"]).get_indexer(table["customer_id"])


def observation_end_of(cohorts: pd.DataFrame, activity: pd.DataFrame,
                       help: pd.DataFrame) -> pd.Timestamp:  # noqa: A002
    """The latest timestamp of the cohort customers' product and help activity (NaT if none)."""
    stamps = []
    for df in (activity, help):
        known = _codes(cohorts, df) >= 0
        if known.any():
            stamps.append(df["timestamp"][known].max())
    stamps = [s for s in stamps if pd.notna(s)]
    return max(stamps) if stamps else pd.NaT


class _Tasks:
    """Per-customer x task matrices of first start / first completion after it (int64 ns)."""

    def __init__(self, cohorts: pd.DataFrame, activity: pd.DataFrame) -> None:
        n = len(cohorts)
        cid = _codes(cohorts, activity)
        task = activity["task"].to_numpy(dtype=np.int64)
        ts = _ns(activity["timestamp"])
        is_start = (activity["action"] == "start").to_numpy()
        ok = cid >= 0
        self.started = np.full((n, _N_TASKS), _NAT, dtype=np.int64)
        self.completed = np.full((n, _N_TASKS), _NAT, dtype=np.int64)

        sel = ok & is_start
        key = cid[sel] * _N_TASKS + task[sel] - 1
        first = pd.Series(ts[sel]).groupby(key).min()
        self.started.reshape(-1)[first.index.to_numpy()] = first.to_numpy()

        sel = ok & ~is_start
        key = cid[sel] * _N_TASKS + task[sel] - 1
        comp_ts = ts[sel]
        start_of = self.started.reshape(-1)[key]
        valid = (start_of != _NAT) & (comp_ts >= start_of)
        self.completion_key = key[valid]  # every valid completion, for the help episodes
        self.completion_ns = comp_ts[valid]
        first = pd.Series(self.completion_ns).groupby(self.completion_key).min()
        self.completed.reshape(-1)[first.index.to_numpy()] = first.to_numpy()


def _help_table(cohorts: pd.DataFrame, help: pd.DataFrame) -> pd.DataFrame:  # noqa: A002
    """Flags with integer customer codes, sorted by customer, time, then file order."""
    cid = _codes(cohorts, help)
    cs_type = help["cs_type"] if "cs_type" in help.columns else pd.Series("", index=help.index)
    out = pd.DataFrame({
        "cid": cid,
        "task": help["task"].to_numpy(dtype=np.int64),
        "channel": np.asarray(help["channel"], dtype=object),
        "cs_type": cs_type.fillna("").astype(str).to_numpy(dtype=object),
        "ts": _ns(help["timestamp"]),
        "order": np.arange(len(help)),
    })
    out = out.loc[out["cid"] >= 0]
    out = out.sort_values(["cid", "ts", "order"], kind="stable").reset_index(drop=True)
    out["flag_index"] = out.groupby("cid", sort=False).cumcount().to_numpy() + 1
    return out


def build_frame(cohorts: pd.DataFrame, activity: pd.DataFrame, help: pd.DataFrame,  # noqa: A002
                conversion: pd.DataFrame, *, _tasks: _Tasks | None = None,
                _flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """The analysis frame: one row per randomized customer, in the cohort file's order."""
    n = len(cohorts)
    tasks = _tasks if _tasks is not None else _Tasks(cohorts, activity)
    flags = _flags if _flags is not None else _help_table(cohorts, help)

    frame = pd.DataFrame({
        "customer_id": cohorts["customer_id"].to_numpy(dtype=object),
        "cohort": _cohort_of(cohorts, np.arange(n)),
    })
    has_start = tasks.started != _NAT
    done = tasks.completed != _NAT
    frame["attempted"] = has_start.any(axis=1)
    frame["n_completed"] = done.sum(axis=1).astype(np.int64)
    frame["completed_all"] = frame["n_completed"] == _N_TASKS
    first = np.where(has_start, tasks.started, np.iinfo(np.int64).max).min(axis=1)
    frame["first_action_at"] = _to_ts(np.where(has_start.any(axis=1), first, _NAT))
    for k in TASKS:
        start, comp = tasks.started[:, k - 1], tasks.completed[:, k - 1]
        frame[f"task{k}_started_at"] = _to_ts(start)
        frame[f"task{k}_completed_at"] = _to_ts(comp)
        frame[f"task{k}_duration_min"] = np.where(done[:, k - 1], (comp - start) / _NS_PER_MIN,
                                                  np.nan)

    cid = flags["cid"].to_numpy()
    is_cs = (flags["channel"] == "CS").to_numpy()
    frame["n_help_flags"] = np.bincount(cid, minlength=n).astype(np.int64)
    frame["any_cs"] = np.bincount(cid[is_cs], minlength=n) > 0
    frame["any_other"] = np.bincount(cid[~is_cs], minlength=n) > 0
    first_channel = np.full(n, "NONE", dtype=object)
    firsts = flags.loc[flags["flag_index"] == 1]
    first_channel[firsts["cid"].to_numpy()] = firsts["channel"].to_numpy()
    frame["first_help_channel"] = first_channel

    converted = np.zeros(n, dtype=bool)
    conv_cid = _codes(cohorts, conversion)
    keep = conv_cid >= 0
    converted[conv_cid[keep]] = conversion["converted"].to_numpy(dtype=bool)[keep]
    frame["converted"] = converted

    frame = frame[list(FRAME_COLUMNS)]
    # Extra columns of the cohort file are the customer's segments (e.g. plan, country).
    reserved = set(FRAME_COLUMNS) | {"_line", "_cid"}
    for col in cohorts.columns:
        if col not in reserved:
            frame[col] = cohorts[col].to_numpy()
    return frame


def build_help_episodes(cohorts: pd.DataFrame, activity: pd.DataFrame,
                        help: pd.DataFrame, *,  # noqa: A002
                        observation_end: pd.Timestamp,
                        _tasks: _Tasks | None = None,
                        _flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per help flag, with the first completion of the flagged task after it."""
    tasks = _tasks if _tasks is not None else _Tasks(cohorts, activity)
    flags = _flags if _flags is not None else _help_table(cohorts, help)
    flags = flags.assign(key=flags["cid"].to_numpy() * _N_TASKS + flags["task"].to_numpy() - 1)
    comps = pd.DataFrame({"key": tasks.completion_key, "comp_ts": tasks.completion_ns,
                          "ts": tasks.completion_ns})
    left = flags.sort_values("ts", kind="stable")
    matched = pd.merge_asof(left, comps.sort_values("ts", kind="stable"), on="ts", by="key",
                            direction="forward", allow_exact_matches=True)
    comp_ts = pd.Series(matched["comp_ts"].to_numpy(), index=left.index).reindex(flags.index)
    completed = comp_ts.notna().to_numpy()
    flag_ns = flags["ts"].to_numpy()
    end_ns = _end_ns(observation_end)
    until = np.where(completed, comp_ts.fillna(0).to_numpy(dtype=np.int64), end_ns)
    minutes = (until - flag_ns) / _NS_PER_MIN
    if end_ns == _NAT:
        minutes = np.where(completed, minutes, np.nan)

    flagged_at = _to_ts(flag_ns)
    cid = flags["cid"].to_numpy()
    out = pd.DataFrame({
        "customer_id": cohorts["customer_id"].to_numpy(dtype=object)[cid],
        "cohort": _cohort_of(cohorts, cid),
        "task": flags["task"].to_numpy(dtype=np.int64),
        "channel": flags["channel"].to_numpy(dtype=object),
        "cs_type": flags["cs_type"].to_numpy(dtype=object),
        "flagged_at": flagged_at,
        "hour": (flagged_at.hour + flagged_at.minute / 60 + flagged_at.second / 3600
                 + flagged_at.microsecond / 3.6e9).to_numpy(dtype=float),
        "flag_index": flags["flag_index"].to_numpy(dtype=np.int64),
        "completed": completed,
        "minutes": minutes,
        "censored": ~completed,
    })
    return out[list(HELP_EPISODE_COLUMNS)]


def _end_ns(observation_end) -> int:
    if observation_end is None or pd.isna(observation_end):
        return _NAT
    return int(pd.Timestamp(observation_end).tz_convert("UTC").as_unit("ns").value)


def build_task_attempts(cohorts: pd.DataFrame, activity: pd.DataFrame,
                        help: pd.DataFrame, *,  # noqa: A002
                        observation_end: pd.Timestamp,
                        _tasks: _Tasks | None = None,
                        _flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per started (customer, task), in customer then task order."""
    tasks = _tasks if _tasks is not None else _Tasks(cohorts, activity)
    flags = _flags if _flags is not None else _help_table(cohorts, help)
    cid, t_idx = np.nonzero(tasks.started != _NAT)  # row-major: customer, then task
    started = tasks.started[cid, t_idx]
    comp = tasks.completed[cid, t_idx]
    completed = comp != _NAT
    end_ns = _end_ns(observation_end)
    duration = np.where(completed, (comp - started) / _NS_PER_MIN, np.nan)
    if end_ns == _NAT:
        minutes = duration
    else:
        minutes = np.where(completed, duration, (end_ns - started) / _NS_PER_MIN)

    done_rows = tasks.completed[cid]  # (n_attempts, 3)
    prior_completions = ((done_rows != _NAT) & (done_rows < started[:, None])).sum(axis=1)

    # Flags strictly before the start: the flag_index of the last earlier flag.
    attempts = pd.DataFrame({"cid": cid, "ts": started, "row": np.arange(len(cid))})
    before = pd.merge_asof(attempts.sort_values("ts", kind="stable"),
                           flags[["cid", "ts", "flag_index"]].sort_values("ts", kind="stable"),
                           on="ts", by="cid", direction="backward", allow_exact_matches=False)
    prior_help = np.zeros(len(cid), dtype=np.int64)
    prior_help[before["row"].to_numpy()] = before["flag_index"].fillna(0).to_numpy(dtype=np.int64)

    task_key = flags["cid"].to_numpy() * _N_TASKS + flags["task"].to_numpy() - 1
    first_on_task = (pd.DataFrame({"key": task_key, "channel": flags["channel"].to_numpy()})
                     .drop_duplicates("key", keep="first").set_index("key")["channel"])
    help_channel = first_on_task.reindex(cid * _N_TASKS + t_idx).fillna("NONE").to_numpy(
        dtype=object)

    started_at = _to_ts(started)
    out = pd.DataFrame({
        "customer_id": cohorts["customer_id"].to_numpy(dtype=object)[cid],
        "cohort": _cohort_of(cohorts, cid),
        "task": (t_idx + 1).astype(np.int64),
        "started_at": started_at,
        "start_hour": started_at.hour.to_numpy(dtype=np.int64),
        "completed": completed,
        "duration_min": duration,
        "minutes": minutes,
        "censored": ~completed,
        "prior_completions": prior_completions.astype(np.int64),
        "prior_help_flags": prior_help,
        "helped": help_channel != "NONE",
        "help_channel": help_channel,
    })
    return out[list(TASK_ATTEMPT_COLUMNS)]


def build_tables(cohorts: pd.DataFrame, activity: pd.DataFrame, help: pd.DataFrame,  # noqa: A002
                 conversion: pd.DataFrame,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """(frame, help_episodes, task_attempts, observation_end) from the cleaned tables.

    Inputs: cohorts (customer_id, cohort, extra segment columns), activity
    (customer_id, task, action "start"/"complete", timestamp UTC), help
    (customer_id, timestamp, task, channel, optional cs_type) and conversion
    (customer_id, converted bool). Rows of customers not in the cohorts are ignored.
    """
    end = observation_end_of(cohorts, activity, help)
    tasks = _Tasks(cohorts, activity)
    flags = _help_table(cohorts, help)
    frame = build_frame(cohorts, activity, help, conversion, _tasks=tasks, _flags=flags)
    episodes = build_help_episodes(cohorts, activity, help, observation_end=end,
                                   _tasks=tasks, _flags=flags)
    attempts = build_task_attempts(cohorts, activity, help, observation_end=end,
                                   _tasks=tasks, _flags=flags)
    return frame, episodes, attempts, end
