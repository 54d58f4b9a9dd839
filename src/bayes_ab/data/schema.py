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
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import pandas as pd

from bayes_ab.constants import ARMS

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

    #: `ExperimentSource`: the per-customer rows are here (the aggregation engine's
    #: `AggregatedExperiment` holds counts only).
    rows_in_memory: ClassVar[bool] = True

    @property
    def n_customers(self) -> int:
        return len(self.frame)

    def n_in(self, cohort: str) -> int:
        return int((self.frame["cohort"] == cohort).sum())

    @property
    def n_help_flags(self) -> int:
        return int(len(self.help_episodes))

    @property
    def n_task_attempts(self) -> int:
        return int(len(self.task_attempts))

    @property
    def customers(self) -> pd.DataFrame:
        """The analysis frame with a count ``n`` = 1 per row (the engine's grouped shape)."""
        return self.frame.assign(n=1)

    def stats_for(self, stats_type: type, **kwargs) -> Any:
        """``stats_type.from_experiment(self, **kwargs)``: a model's sufficient statistics."""
        return stats_type.from_experiment(self, **kwargs)

    def arm_counts(self, column: str, *, among_flagged: bool = False) -> dict[str, tuple[int, int]]:
        """{arm: (successes, trials)} of a boolean customer column (``converted``,
        ``any_cs``), over all customers or those flagged at least once."""
        frame = self.frame[self.frame["n_help_flags"] > 0] if among_flagged else self.frame
        out = {}
        for arm in ARMS:
            sel = frame["cohort"] == arm
            out[arm] = (int(frame.loc[sel, column].sum()), int(sel.sum()))
        return out

    def converted_by_completions(self) -> pd.DataFrame:
        """Converted (``sum``) and customers (``count``) by n_completed 0..3."""
        return (self.frame.groupby("n_completed")["converted"].agg(["sum", "count"])
                .reindex(range(4), fill_value=0))


@runtime_checkable
class ExperimentSource(Protocol):
    """What the analysis pipeline asks of its data, whichever reader made it: the pandas
    loader's `ExperimentData` (rows in memory) or the aggregation engine's
    `bayes_ab.aggregate.engine.AggregatedExperiment` (grouped counts only)."""

    rows_in_memory: ClassVar[bool]
    observation_end: Any
    dropped: dict[str, int]
    source: str

    @property
    def n_customers(self) -> int: ...

    @property
    def n_help_flags(self) -> int: ...

    @property
    def n_task_attempts(self) -> int: ...

    @property
    def customers(self) -> pd.DataFrame:
        """One row per customer group: cohort, converted, any_cs, ... and the count ``n``."""

    def n_in(self, cohort: str) -> int: ...

    def stats_for(self, stats_type: type, **kwargs) -> Any: ...

    def arm_counts(self, column: str, *,
                   among_flagged: bool = False) -> dict[str, tuple[int, int]]: ...

    def converted_by_completions(self) -> pd.DataFrame: ...
