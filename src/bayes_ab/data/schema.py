"""The shared shapes of the data (shared/design/DATA_CONTRACT.md).

The loaders build an `ExperimentData` once; every model and report reads it (or
aggregates of it) and nothing reads the raw files twice.

Tables held by `ExperimentData` (pandas DataFrames, one dtype per column):

``frame`` -- one row per randomized customer (the contract's analysis frame)
    customer_id (str), cohort ("Control"|"Test", categorical), attempted (bool),
    n_completed (int 0..3), completed_all (bool), first_action_at (datetime64[ns, UTC]),
    task{k}_started_at, task{k}_completed_at (datetime, NaT when absent),
    task{k}_duration_min (float, NaN when not completed), n_help_flags (int),
    any_cs (bool), any_other (bool), first_help_channel ("CS"|"OTHER"|"NONE"),
    converted (bool). Optional extra columns of the cohort file are kept (segments).

``help_episodes`` -- one row per help flag (the system flagged the customer as stuck)
    customer_id, cohort, task (1..3), channel ("CS"|"OTHER"), cs_type (str or ""),
    flagged_at (datetime UTC), hour (float, hour of day of the flag, 0..24),
    flag_index (int, 1 for the customer's first flag), completed (bool: the customer
    completed the flagged task after the flag), minutes (float: from the flag to that
    completion, or to `observation_end` when not completed), censored (bool = not completed).

``task_attempts`` -- one row per (customer, task) that was started
    customer_id, cohort, task, started_at, start_hour (int 0..23), completed (bool),
    duration_min (float, NaN when not completed), minutes (float: to completion or to
    `observation_end`), censored (bool), prior_completions (int), prior_help_flags (int),
    helped (bool: flagged on this task), help_channel ("CS"|"OTHER"|"NONE": the
    first channel chosen on this task).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Severity = Literal["info", "warning", "error"]

EXPERIMENT_FILES = {
    "cohorts": "test_cohorts",
    "activity": "product_activity",
    "help": "help_activity",
    "conversion": "conversion",
}

REQUIRED_COLUMNS = {
    "cohorts": ("customer_id", "cohort"),
    "activity": ("customer_id", "task", "action", "timestamp"),
    "help": ("customer_id", "timestamp", "task", "channel"),
    "conversion": ("customer_id", "converted"),
}

FRAME_COLUMNS = (
    "customer_id", "cohort", "attempted", "n_completed", "completed_all", "first_action_at",
    "task1_started_at", "task1_completed_at", "task1_duration_min",
    "task2_started_at", "task2_completed_at", "task2_duration_min",
    "task3_started_at", "task3_completed_at", "task3_duration_min",
    "n_help_flags", "any_cs", "any_other", "first_help_channel", "converted",
)

HELP_EPISODE_COLUMNS = (
    "customer_id", "cohort", "task", "channel", "cs_type", "flagged_at", "hour",
    "flag_index", "completed", "minutes", "censored",
)

TASK_ATTEMPT_COLUMNS = (
    "customer_id", "cohort", "task", "started_at", "start_hour", "completed", "duration_min",
    "minutes", "censored", "prior_completions", "prior_help_flags", "helped", "help_channel",
)


@dataclass(frozen=True)
class Finding:
    """A data-quality finding that does not stop the analysis (shown in the report)."""

    check: str
    severity: Severity
    count: int
    message: str

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "count": int(self.count),
                "message": self.message}


@dataclass(frozen=True)
class ExperimentData:
    """Everything the help-widget analysis needs, built once from the four files."""

    frame: pd.DataFrame
    help_episodes: pd.DataFrame
    task_attempts: pd.DataFrame
    observation_end: pd.Timestamp
    findings: tuple[Finding, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @property
    def n_customers(self) -> int:
        return len(self.frame)

    def n_in(self, cohort: str) -> int:
        return int((self.frame["cohort"] == cohort).sum())
