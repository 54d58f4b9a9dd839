"""The `shared_histories` check.

Entities whose history is, to the timestamp, a copy of another entity's.
"""

from __future__ import annotations

import pandas as pd

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def check_shared_histories(ts: pd.Series, entity: pd.Series, *, table: str,
                           min_events: int = 5, max_per_instant: int = 50) -> CheckResult:
    """Entities whose history is, to the timestamp, a copy of one other entity's.

    An entity counts as copied when over 90% of its distinct timestamps also occur in the
    history of one single other entity (a chance coincidence at a few instants does not
    add up to that). Instants shared by more than `max_per_instant` entities (coarse
    clocks, batch jobs) are ignored.
    """
    # .array keeps datetime64 (to_numpy of tz-aware stamps builds Timestamp objects: slow)
    df = pd.DataFrame({"e": entity.to_numpy(), "t": ts.array}).dropna().drop_duplicates()
    size = df.groupby("e").size()
    per_t = df.groupby("t")["e"].transform("size")
    shared = df[(per_t > 1) & (per_t <= max_per_instant)]
    pairs = shared.merge(shared, on="t")
    pairs = pairs[pairs["e_x"] != pairs["e_y"]]
    common = pairs.groupby(["e_x", "e_y"]).size()
    best = (common / size.reindex(common.index.get_level_values(0)).to_numpy())
    best = best.groupby(level=0).max()
    eligible = size[size >= min_events]
    frac = best.reindex(eligible.index, fill_value=0.0)
    n = len(frac)
    copied = int((frac > 0.9).sum())
    share = copied / n if n else 0.0
    text = (f"{copied} of {n} entities with >= {min_events} events share over 90% of their "
            "timestamps, to the last digit, with one other entity.")
    if copied >= 3 and share > 0.01:
        return CheckResult("shared_histories", table, share, "share_copied", None, share,
                           "simulated", "strong",
                           text + " Independent people do not act at identical instants for "
                           "hundreds of events: histories were attached to several records "
                           "(events joined per account, or streams reused when the data set was "
                           "assembled).")
    return CheckResult("shared_histories", table, share, "share_copied", None, share, "neutral",
                       "none", text + " Histories are distinct, as independent people's are.")


class SharedHistories:
    """Entities whose history is, to the timestamp, a copy of another entity's."""

    name = "shared_histories"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_shared_histories(data.history_times, data.history_entities,
                                          table="product_activity+help_activity")
        return check_shared_histories(data.event_times, data.event_emails, table="events")
