"""Column names and cell words every reader shares: one definition of each.

- `normalise_column`: a header as every reader compares it (trimmed, lower-cased, runs of
  spaces and hyphens -> ``_``, a byte-order mark dropped).
- `WIDE_TASK_COLUMN` / `wide_task_column`: a wide activity column (``task1_start``,
  ``task_2_completed_at``, ...) and the (task, action) it holds.
- `TRUE_WORDS` / `FALSE_WORDS` / `BOOL_LABELS`: the true/false vocabulary of a cell (trimmed,
  any case); `parse_outcome` reads a binary outcome from them (`OUTCOME_CODES`),
  `numbers_from_text` reads numbers with those words as 1/0.
- `COHORT_LABELS`, `CHANNEL_LABELS`, `ACTION_LABELS`: the other label vocabularies of the
  experiment files (lower-cased text -> the contract's label).
- `find_column`: a column named on the command line, found in a read table.
"""

from __future__ import annotations

import re

import numpy as np

from bayes_ab.constants import ARMS, CHANNELS
from bayes_ab.errors import DataError

__all__ = ["ACTION_LABELS", "BOOL_LABELS", "CHANNEL_LABELS", "COHORT_LABELS", "FALSE_WORDS", "OUTCOME_CODES", "SHOWN_LINES", "TRUE_WORDS", "WIDE_TASK_COLUMN", "find_column",
           "normalise_column", "numbers_from_text", "parse_outcome",
           "wide_task_column"]

#: Cell text read as true / false (compared trimmed and lower-cased).
TRUE_WORDS = ("1", "1.0", "true", "t", "yes", "y")
FALSE_WORDS = ("0", "0.0", "false", "f", "no", "n")
#: text -> bool, every word of both lists.
BOOL_LABELS = {**{v: True for v in TRUE_WORDS}, **{v: False for v in FALSE_WORDS}}
#: text -> 0/1 (a binary outcome).
OUTCOME_CODES = {word: int(value) for word, value in BOOL_LABELS.items()}
#: Offending lines named in an error message.
SHOWN_LINES = 20
#: cohort / help channel / activity action text (lower-cased) -> the contract's label.
COHORT_LABELS = {a.lower(): a for a in ARMS}
CHANNEL_LABELS = {c.lower(): c for c in CHANNELS}
ACTION_LABELS = {"start": "start", "started": "start", "complete": "complete",
                 "completed": "complete"}

#: A wide activity column: task number (group 1) and action word (group 2).
WIDE_TASK_COLUMN = re.compile(r"^task_?(\d+)_(start|started|complete|completed)(?:_at)?$")

_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_column(name) -> str:
    """A column name trimmed, lower-cased, spaces and hyphens -> ``_`` (may be empty)."""
    return _SEPARATORS.sub("_", str(name).replace("\ufeff", "").strip().lower())


def wide_task_column(name: str) -> tuple[str, str] | None:
    """(task number as written, "start" | "complete") of a wide activity column name,
    else None."""
    match = WIDE_TASK_COLUMN.match(name)
    if match is None:
        return None
    return match.group(1), "start" if match.group(2).startswith("start") else "complete"


def numbers_from_text(text):
    """Float array from a pandas Series of trimmed text, the true/false words as 1/0;
    anything else that is not a number is NaN."""
    import pandas as pd

    low = text.str.lower()
    mapped = text.where(~low.isin(TRUE_WORDS), "1")
    mapped = mapped.where(~low.isin(FALSE_WORDS), "0")
    return pd.to_numeric(mapped, errors="coerce").to_numpy(dtype=float)


def parse_outcome(values, lines, *, file: str, column: str) -> np.ndarray:
    """0/1 outcomes from text; a DataError lists the offending values and their lines."""
    import pandas as pd

    values = np.asarray(values, dtype=object)
    # Map the distinct values once (a 300k-row export has two or three of them).
    inverse, uniq = pd.factorize(values, use_na_sentinel=False)
    codes = np.array([OUTCOME_CODES.get(str(u).strip().lower(), -1) for u in uniq], dtype=np.int64)
    parsed = codes[inverse]
    bad = parsed < 0
    if bad.any():
        shown = list(dict.fromkeys(str(v) for v in values[bad]))[:5]
        raise DataError(
            "the outcome must be binary (0/1, true/false or yes/no); found "
            + ", ".join(repr(v) for v in shown),
            file=file, column=column, lines=np.asarray(lines)[bad][:SHOWN_LINES], n_rows=int(bad.sum()),
        )
    return parsed


def find_column(table, name: str, *, option: str) -> str:
    """The normalised name of column ``name`` of a read table (``bayes_ab.data.load.RawTable``);
    a DataError naming the option and the columns the file has when it is missing."""
    col = normalise_column(name)
    have = [c for c in table.data.columns if not c.startswith("_line")]
    if col not in table.data.columns:
        raise DataError(
            f"no column '{name}' ({option}); the file has: {', '.join(have)}",
            file=table.name, column=name, lines=[1], n_rows=1,
        )
    return col
