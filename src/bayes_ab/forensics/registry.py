"""The registry: every forensic check, in the order forensics.json lists them.

A folder gets the checks whose ``kinds`` include its kind and that `apply` to it, in this
order (the experiment's and the lead funnel's orders are both subsequences of it).
"""

from __future__ import annotations

from bayes_ab.forensics.base import Check
from bayes_ab.forensics.checks.benford_first_digit import BenfordFirstDigit
from bayes_ab.forensics.checks.binomial_dispersion import BinomialDispersion
from bayes_ab.forensics.checks.count_dispersion import CountDispersion
from bayes_ab.forensics.checks.daily_volume import DailyVolume
from bayes_ab.forensics.checks.diurnal_conversions import DiurnalConversions
from bayes_ab.forensics.checks.diurnal_return_visits import DiurnalReturnVisits
from bayes_ab.forensics.checks.diurnal_structure import DiurnalStructure
from bayes_ab.forensics.checks.duplicate_rows import DuplicateRows
from bayes_ab.forensics.checks.duration_family import DurationFamily
from bayes_ab.forensics.checks.extreme_values import ExtremeValues
from bayes_ab.forensics.checks.generated_names import GeneratedNames
from bayes_ab.forensics.checks.id_regularity import IdRegularity
from bayes_ab.forensics.checks.impossible_records import ImpossibleRecords
from bayes_ab.forensics.checks.missing_values import MissingValues
from bayes_ab.forensics.checks.names_vs_emails import NamesVsEmails
from bayes_ab.forensics.checks.shared_histories import SharedHistories
from bayes_ab.forensics.checks.simultaneous_events import SimultaneousEvents
from bayes_ab.forensics.checks.split_exactness import SplitExactness
from bayes_ab.forensics.checks.timestamp_granularity import TimestampGranularity
from bayes_ab.forensics.checks.weekday_structure import WeekdayStructure
from bayes_ab.forensics.checks.weekend_clock import WeekendClock

CHECKS: tuple[Check, ...] = (
    SplitExactness(),
    IdRegularity(),
    GeneratedNames(),
    NamesVsEmails(),
    TimestampGranularity(),
    SimultaneousEvents(),
    SharedHistories(),
    CountDispersion(),
    BinomialDispersion(),
    DurationFamily(),
    MissingValues(),
    DuplicateRows(),
    ImpossibleRecords(),
    ExtremeValues(),
    DiurnalStructure(),
    DiurnalConversions(),
    DiurnalReturnVisits(),
    WeekdayStructure(),
    DailyVolume(),
    WeekendClock(),
    BenfordFirstDigit(),
)
