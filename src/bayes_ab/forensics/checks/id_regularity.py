"""The `id_regularity` check.

Sequential, fixed-pattern or hashed identifiers (customer ids; lead e-mails).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs


def _shape(s: str) -> str:
    return re.sub(r"[a-f]", "h", re.sub(r"\d", "9", s.lower()))


def check_ids(ids: pd.Series, *, table: str, column: str) -> CheckResult:
    """Sequential / fixed-pattern / hashed identifiers."""
    ids = ids.astype(str)
    ids = ids[ids != ""]
    n = len(ids)
    shapes = ids.map(_shape).value_counts()
    top_share = float(shapes.iloc[0] / n) if n else 0.0
    digits = ids.str.extract(r"^(\D*?)(\d+)$")
    numeric = digits[1].notna().all() and digits[0].nunique() <= 1
    if numeric and n > 1:
        values = digits[1].astype(np.int64).to_numpy()
        uniq = np.unique(values)
        span = int(uniq[-1] - uniq[0] + 1)
        fill = len(uniq) / span
        monotone = bool(np.all(np.diff(values) > 0))
        text = (f"{n} numeric ids, filling {fill:.1%} of the range {uniq[0]}..{uniq[-1]}; "
                f"{'monotone' if monotone else 'not monotone'} in file order.")
        if fill > 0.99:
            return CheckResult("id_regularity", table, fill, "range_fill", None, fill,
                               "simulated", "weak",
                               text + " Gap-free sequential ids are what a generator writes "
                               "(or an anonymiser that re-keyed customers 1..N).")
        return CheckResult("id_regularity", table, fill, "range_fill", None, fill, "neutral",
                           "none", text + " Gaps, as real id sequences have.")
    # Non-numeric ids: the entropy of the varying characters tells hashes / random hex
    # (about 4 bits per character) from readable or structured keys.
    lengths = ids.str.len()
    body = ids.str.replace(r"^[A-Za-z]+_", "", regex=True).str.lower()
    chars = "".join(body.sample(min(n, 2000), random_state=0).tolist())
    counts = pd.Series(list(chars)).value_counts().to_numpy(float)
    entropy = float(-(counts / counts.sum() * np.log2(counts / counts.sum())).sum())
    hexlike = bool(body.str.fullmatch(r"[0-9a-f]+").all())
    text = (f"{n} ids, {shapes.size} character pattern(s) (top one {top_share:.1%}), "
            f"lengths {lengths.min()}..{lengths.max()}, {entropy:.2f} bits per character.")
    if hexlike and entropy > 3.9:
        kind = "MD5 digests" if body.str.len().eq(32).all() else "random hex strings"
        return CheckResult("id_regularity", table, entropy, "bits_per_char", None, top_share,
                           "anonymised", "none",
                           text + f" They are {kind}: hashed or random keys, typical of both "
                           "anonymised exports and generators, so no vote.")
    return CheckResult("id_regularity", table, entropy, "bits_per_char", None, top_share,
                       "neutral", "none", text + " No telling regularity.")


class IdRegularity:
    """Sequential, fixed-pattern or hashed identifiers (customer ids; lead e-mails)."""

    name = "id_regularity"
    kinds = frozenset({"experiment", "lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return True

    def run(self, data: Inputs) -> CheckResult:
        if data.kind == "experiment":
            return check_ids(data.customer_ids, table="test_cohorts", column="customer_id")
        return check_ids(data.emails, table="leads", column="email")
