"""What the checks look at: a folder's rows, read once and prepared for every check.

`experiment_inputs` reads the help-widget experiment (``test_cohorts``,
``product_activity``, ``help_activity``, ``conversion``), `lead_inputs` the lead funnel
(``leads`` + ``events``). Both read the cells as text *before* any cleaning
(`bayes_ab.forensics.reader.read_raw`) and derive what the checks test: the split, the
ids, the timestamps, counts per entity, durations, blanks, duplicates, impossible and
extreme records, and the times whose daily and weekly rhythm is examined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from bayes_ab.data.columns import TRUE_WORDS, WIDE_TASK_COLUMN, wide_task_column
from bayes_ab.errors import DataError
from bayes_ab.forensics.reader import (
    EXPERIMENT_STEMS,
    Kind,
    find_table,
    parse_timestamps,
    read_raw,
    timestamp_resolution,
)


@dataclass(frozen=True)
class ExperimentInputs:
    """An experiment folder's rows as the checks see them (times are UTC)."""

    #: Distinct customers in test_cohorts, and how many of them are in Test.
    n_customers: int
    n_test: int
    #: test_cohorts.customer_id as written (repeats and all).
    customer_ids: pd.Series
    #: Every timestamp of the four files (activity, help, then joined_at / converted_at).
    timestamps: pd.Series
    #: Activity and help rows: their customer and time (for copied histories).
    history_entities: pd.Series
    history_times: pd.Series
    #: Help flags of each randomized customer (0 for none).
    flags_per_customer: np.ndarray
    #: Each customer's conversion (0/1) and group "arm:hour of first action".
    converted: np.ndarray
    arm_hour: np.ndarray
    #: Seconds from first start to first completion, per task; the activity clock's unit (s).
    task_durations_s: dict[str, np.ndarray]
    activity_unit_s: float
    #: Cells where a value is expected, the blank ones among them, and the blanks per file.
    expected_cells: int
    blank_cells: int
    blank_detail: str
    #: Exact duplicate rows per file (and repeated customer ids), out of `rows`.
    duplicates: dict[str, int]
    rows: int
    #: Counts of impossible records (clock skew, orphans, unparseable values, lost rows)
    #: and of extreme but possible ones.
    impossible: dict[str, int]
    extremes: dict[str, int]
    #: Each customer's first action (or join time), every action's time, conversion
    #: times (None without a converted_at column), actions over 12 h after the first.
    first_actions: pd.Series
    action_times: pd.Series
    conversion_times: pd.Series | None
    return_actions: pd.Series
    kind: Kind = field(default="experiment", init=False)


@dataclass(frozen=True)
class LeadInputs:
    """A lead-funnel folder's rows as the checks see them (times are UTC)."""

    #: leads.email as written; company and name columns (None when absent).
    emails: pd.Series
    companies: pd.Series | None
    names: pd.Series | None
    #: The distinct events: their time and lead.
    event_times: pd.Series
    event_emails: pd.Series
    #: Distinct events per lead with events.
    events_per_lead: np.ndarray
    #: Seconds between consecutive events of a lead; the events clock's unit (s).
    gaps_s: np.ndarray
    event_unit_s: float
    #: Cells where a value is expected, the blank ones among them, and the blanks per file.
    expected_cells: int
    blank_cells: int
    blank_detail: str
    #: Exact duplicate rows per file, out of `rows`.
    duplicates: dict[str, int]
    rows: int
    #: Counts of impossible records and of extreme but possible ones.
    impossible: dict[str, int]
    extremes: dict[str, int]
    #: The first event of each lead and day (one arrival per lead-day).
    lead_days: pd.Series
    kind: Kind = field(default="lead_funnel", init=False)


Inputs = Union[ExperimentInputs, LeadInputs]


def folder_inputs(folder: str | Path, kind: Kind) -> Inputs:
    """The prepared rows of a folder of the given kind."""
    folder = Path(folder)
    return experiment_inputs(folder) if kind == "experiment" else lead_inputs(folder)


def experiment_inputs(folder: Path) -> ExperimentInputs:
    paths = {stem: find_table(folder, stem) for stem in EXPERIMENT_STEMS}
    missing = [s for s, p in paths.items() if p is None and s != "help_activity"]
    if missing:
        raise DataError(f"missing file(s): {', '.join(missing)}", file=str(folder))
    raw = {stem: (read_raw(p, header_only_ok=stem == "help_activity") if p else pd.DataFrame())
           for stem, p in paths.items()}
    cohorts, activity = raw["test_cohorts"], raw["product_activity"]
    help_, conv = raw["help_activity"], raw["conversion"]
    for stem, cols in (("test_cohorts", ("customer_id", "cohort")),
                       ("conversion", ("customer_id", "converted"))):
        lacking = [c for c in cols if c not in raw[stem].columns]
        if lacking:
            raise DataError(f"missing column {lacking[0]}", file=stem, column=lacking[0])
    activity = _long_activity(activity)

    ids_unique = cohorts.drop_duplicates("customer_id")
    n = len(ids_unique)
    n_test = int((ids_unique["cohort"].str.strip().str.lower() == "test").sum())

    act_t = (parse_timestamps(activity["timestamp"]) if len(activity)
             else pd.Series(dtype="datetime64[ns, UTC]"))
    help_t = (parse_timestamps(help_["timestamp"]) if "timestamp" in help_ else
              pd.Series(dtype="datetime64[ns, UTC]"))
    all_t = pd.concat([act_t, help_t], ignore_index=True)
    for opt_col, df in (("joined_at", cohorts), ("converted_at", conv)):
        if opt_col in df:
            all_t = pd.concat([all_t, parse_timestamps(df[opt_col])], ignore_index=True)
    ent = pd.concat([activity["customer_id"], help_.get("customer_id", pd.Series(dtype=str))],
                    ignore_index=True)

    flags = help_.groupby("customer_id").size() if len(help_) else pd.Series(dtype=int)
    per_customer = flags.reindex(ids_unique["customer_id"], fill_value=0).to_numpy()

    # Conversion by the hour of the customer's first action (or join time), per arm.
    first = pd.DataFrame({"customer_id": activity["customer_id"], "t": act_t})
    first = first.dropna().groupby("customer_id")["t"].min()
    if "joined_at" in cohorts:
        first = parse_timestamps(cohorts.set_index("customer_id")["joined_at"]).combine_first(
            first)
    conv_flag = conv.drop_duplicates("customer_id").set_index("customer_id")["converted"]
    conv_flag = conv_flag.str.strip().str.lower().isin(TRUE_WORDS)
    frame = ids_unique.set_index("customer_id")[["cohort"]].copy()
    frame["converted"] = conv_flag.reindex(frame.index, fill_value=False).astype(float)
    frame["hour"] = first.reindex(frame.index).dt.hour
    frame = frame.dropna(subset=["hour"])
    group = frame["cohort"].str.strip().str.lower() + ":" + frame["hour"].astype(int).astype(str)

    durations, anomalies = _task_durations(activity, act_t)
    _, unit = (timestamp_resolution(act_t.dropna()) if act_t.notna().any()
               else ("second", 1.0))

    # Missing values where a value is expected; optional blanks by design are excluded.
    cells, blank, detail = 0, 0, []
    for stem, df in raw.items():
        if df.empty:
            continue
        cols = [c for c in df.columns if c not in ("cs_type", "converted_at", "joined_at")]
        b = int((df[cols] == "").to_numpy().sum())
        cells += df[cols].size
        blank += b
        detail.append(f"{stem}: {b}")
    if "converted_at" in conv:
        bad = int(((conv["converted_at"] == "") & conv_flag.reindex(conv["customer_id"])
                   .to_numpy()).sum())
        blank += bad
        detail.append(f"converted without converted_at: {bad}")

    dups = {stem: int(df.duplicated().sum()) for stem, df in raw.items() if not df.empty}
    dups["test_cohorts customer_id repeated"] = int(cohorts["customer_id"].duplicated().sum())

    known = set(cohorts["customer_id"])
    extremes = {"durations > 100x median": anomalies.pop("durations > 100x median", 0)}
    anomalies["activity rows of unknown customers"] = int(
        (~activity["customer_id"].isin(known)).sum())
    if len(help_):
        anomalies["help rows of unknown customers"] = int((~help_["customer_id"].isin(known)).sum())
        extremes["customers flagged >= 20 times"] = int((flags >= 20).sum())
    anomalies["customers without a conversion row"] = int(
        (~ids_unique["customer_id"].isin(set(conv["customer_id"]))).sum())
    anomalies["unparseable timestamps"] = int(
        ((activity["timestamp"] != "") & act_t.isna()).sum())

    # Later moments inherit no rhythm from the sign-up time, so a generator that draws
    # delays from a distribution (without a clock of human waking hours) leaves them flat.
    conv_t = parse_timestamps(conv["converted_at"]) if "converted_at" in conv else None
    # .array keeps the time-zone-aware values (to_numpy() made Timestamp objects: 0.2 s)
    later = first.reindex(activity["customer_id"]).array
    returning = act_t[(act_t - pd.Series(later, index=act_t.index)) > pd.Timedelta(hours=12)]

    return ExperimentInputs(
        n_customers=n, n_test=n_test, customer_ids=cohorts["customer_id"], timestamps=all_t,
        history_entities=ent, history_times=all_t.iloc[:len(ent)],
        flags_per_customer=per_customer, converted=frame["converted"].to_numpy(),
        arm_hour=group.to_numpy(), task_durations_s=durations, activity_unit_s=unit,
        expected_cells=cells, blank_cells=blank, blank_detail="; ".join(detail),
        duplicates=dups, rows=sum(len(df) for df in raw.values()), impossible=anomalies,
        extremes=extremes, first_actions=first, action_times=act_t,
        conversion_times=conv_t, return_actions=returning)


def _long_activity(activity: pd.DataFrame) -> pd.DataFrame:
    if {"task", "action", "timestamp"} <= set(activity.columns):
        return activity
    wide = [c for c in activity.columns if WIDE_TASK_COLUMN.match(c)]
    if not wide:
        raise DataError("expected columns task, action, timestamp (or task1_start, ...)",
                        file="product_activity")
    long = activity.melt(id_vars=["customer_id"], value_vars=wide, var_name="k",
                         value_name="timestamp")
    parts = long["k"].map(wide_task_column)
    long["task"], long["action"] = parts.str[0], parts.str[1]
    return long[long["timestamp"] != ""][["customer_id", "task", "action", "timestamp"]]


def _task_durations(activity: pd.DataFrame, t: pd.Series):
    """Seconds from each customer's first start to first completion of each task."""
    df = pd.DataFrame({"c": activity["customer_id"].to_numpy(),
                       "task": activity["task"].astype(str).str.strip().str.replace(".0", "",
                                                                                    regex=False),
                       "a": activity["action"].str.strip().str.lower().str[:5].to_numpy(),
                       "t": t.array}).dropna()  # datetime64 kept (not Timestamp objects)
    first = df.groupby(["c", "task", "a"])["t"].min().unstack("a")
    anomalies = {}
    if not {"start", "compl"} <= set(first.columns):
        return {}, {"complete before start": 0, "durations > 100x median": 0}
    first = first.dropna(subset=["start", "compl"])
    sec = (first["compl"] - first["start"]).dt.total_seconds()
    anomalies["complete before start"] = int((sec < 0).sum())
    pos = sec[sec >= 0]
    med = float(pos.median()) if len(pos) else 0.0
    anomalies["durations > 100x median"] = int((pos > 100 * med).sum()) if med > 0 else 0
    out = {str(task): g.to_numpy() for task, g in pos.groupby(level="task")}
    return out, anomalies


def lead_inputs(folder: Path) -> LeadInputs:
    leads = read_raw(find_table(folder, "leads"))
    events = read_raw(find_table(folder, "events"))
    for name, df, cols in (("leads", leads, ("email",)),
                           ("events", events, ("email", "received_at"))):
        for c in cols:
            if c not in df.columns:
                raise DataError(f"missing column {c}", file=name, column=c)

    t = parse_timestamps(events["received_at"])
    distinct = events.drop_duplicates()
    td = t.loc[distinct.index]
    per_lead = distinct.groupby("email").size()

    gaps = (pd.DataFrame({"e": distinct["email"].to_numpy(), "t": td.to_numpy()}).dropna()
            .sort_values(["e", "t"]).groupby("e")["t"].diff().dt.total_seconds().dropna())
    _, unit = timestamp_resolution(td.dropna())

    cols = [c for c in ("email", "name", "company", "city", "industry", "status")
            if c in leads.columns]
    blank_leads = int((leads[cols] == "").to_numpy().sum())
    blank_events = int((events[["email", "received_at"]] == "").to_numpy().sum())
    per_col = ", ".join(f"{c}: {int((leads[c] == '').sum())}" for c in cols)

    sec = pd.DataFrame({"e": distinct["email"].to_numpy(), "s": td.dt.floor("s").to_numpy()})
    burst = sec.groupby(["e", "s"]).size()
    bots = int((burst >= 10).groupby(level="e").any().sum())
    lo, hi = np.quantile(per_lead, [0.25, 0.75])
    extreme = int((per_lead > hi + 10 * (hi - lo)).sum())
    unknown = int((~distinct["email"].isin(set(leads["email"]))).sum())

    # One arrival per lead and day: events within a session are not independent.
    sessions = (pd.DataFrame({"e": distinct["email"].to_numpy(), "t": td.to_numpy()}).dropna()
                .assign(d=lambda x: x["t"].dt.floor("D")).groupby(["e", "d"])["t"].min())

    return LeadInputs(
        emails=leads["email"],
        companies=leads["company"] if "company" in leads else None,
        names=leads["name"] if "name" in leads else None,
        event_times=td, event_emails=distinct["email"], events_per_lead=per_lead.to_numpy(),
        gaps_s=gaps.to_numpy(), event_unit_s=unit,
        expected_cells=leads[cols].size + events.shape[0] * 2,
        blank_cells=blank_leads + blank_events,
        blank_detail=f"leads {per_col}; events: {blank_events}",
        duplicates={"events": int(events.duplicated().sum()),
                    "leads": int(leads.duplicated().sum())},
        rows=len(events) + len(leads),
        impossible={"events of unknown leads": unknown},
        extremes={"leads with >= 10 events in one second": bots,
                  "leads with events > Q3 + 10 IQR": extreme},
        lead_days=sessions.reset_index(drop=True))
