"""Degenerate but valid inputs (issue 13): `analyze` answers what the data can answer,
gives a null block plus an error finding for the rest, and never crashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
FILES = ("test_cohorts", "product_activity", "help_activity", "conversion")


def _example() -> dict[str, pd.DataFrame]:
    return {f: pd.read_csv(EXAMPLE / f"{f}.csv.gz", dtype=str, keep_default_na=False)
            for f in FILES}


def _subsample(tables: dict[str, pd.DataFrame], ids) -> dict[str, pd.DataFrame]:
    ids = set(ids)
    return {f: t[t["customer_id"].isin(ids)].reset_index(drop=True) for f, t in tables.items()}


def _base(n_control: int = 70, n_test: int = 30, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A small random subsample of the example, stratified by arm, with CS and OTHER help."""
    tables = _example()
    cohorts = tables["test_cohorts"]
    rng = np.random.default_rng(seed)
    ids = []
    for arm, n in (("Control", n_control), ("Test", n_test)):
        pool = cohorts.loc[cohorts["cohort"] == arm, "customer_id"].to_numpy()
        ids.extend(rng.choice(pool, size=n, replace=False))
    return _subsample(tables, ids)


def _case(name: str) -> dict[str, pd.DataFrame]:
    t = _base()
    if name == "empty_help":
        t["help_activity"] = t["help_activity"].iloc[:0]
    elif name == "one_arm":
        test_ids = t["test_cohorts"].loc[t["test_cohorts"]["cohort"] == "Test", "customer_id"]
        t = _subsample(t, test_ids)
    elif name == "one_customer":
        helped = t["help_activity"]["customer_id"].iloc[0]
        t = _subsample(t, [helped])
    elif name == "no_conversions":
        t["conversion"] = t["conversion"].assign(converted="0", converted_at="")
    elif name == "all_converted":
        t["conversion"] = t["conversion"].assign(
            converted="1", converted_at="2026-05-12T00:00:00Z")
    elif name == "no_product":
        t["product_activity"] = t["product_activity"].iloc[:0]
    elif name == "one_control":
        cohorts = t["test_cohorts"]
        keep = pd.concat([cohorts.loc[cohorts["cohort"] == "Control", "customer_id"].iloc[:1],
                          cohorts.loc[cohorts["cohort"] == "Test", "customer_id"]])
        t = _subsample(t, keep)
    elif name == "no_cs":
        h = t["help_activity"]
        t["help_activity"] = h[h["channel"] != "CS"].reset_index(drop=True)
    elif name == "only_cs":
        h = t["help_activity"]
        t["help_activity"] = h[h["channel"] == "CS"].reset_index(drop=True)
    elif name != "base":
        raise KeyError(name)
    return t


CASES = ("base", "empty_help", "one_arm", "one_customer", "no_conversions", "all_converted",
         "no_product", "one_control", "no_cs", "only_cs")


def write_case(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f, table in _case(name).items():
        table.to_csv(folder / f"{f}.csv", index=False)
    return folder
