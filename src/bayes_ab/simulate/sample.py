"""`simulate`: one seeded sample of the experiment (the four tables) with its truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayes_ab.errors import OptionError
from bayes_ab.simulate.params import SimParams, scenario_params
from bayes_ab.simulate.story import build_tables, customer_ids, simulate_paths
from bayes_ab.simulate.truth import population_truth, truth_document

FILE_STEMS = ("test_cohorts", "product_activity", "help_activity", "conversion")


@dataclass(frozen=True)
class Simulation:
    """The four files of the contract as DataFrames, plus the truth."""

    test_cohorts: pd.DataFrame  # customer_id, cohort, joined_at
    product_activity: pd.DataFrame  # customer_id, task, action, timestamp (long form)
    help_activity: pd.DataFrame  # customer_id, timestamp, task, channel, cs_type
    conversion: pd.DataFrame  # customer_id, converted (0/1), converted_at
    truth: dict
    params: SimParams

    def tables(self) -> dict[str, pd.DataFrame]:
        return {stem: getattr(self, stem) for stem in FILE_STEMS}



def simulate(*, n: int, seed: int, scenario: str = "effect", truth: bool = True,
             **overrides: Any) -> Simulation:
    """Simulate `n` trialers of the help-widget experiment.

    `overrides` are `SimParams` field names. Same (n, seed, scenario, overrides)
    gives identical tables. `truth=False` skips the population values (the
    truth's ``estimands`` is then None), which costs about as much as
    simulating two million customers the first time for each parameter set.
    """
    if int(n) < 1:
        raise OptionError("n must be >= 1")
    if int(seed) < 0:
        raise OptionError("seed must be >= 0")
    p = scenario_params(scenario, **overrides)
    root = np.random.SeedSequence(int(seed))
    # Spawned children depend only on their index: adding streams keeps the old ones.
    id_seq, path_seq, quirk_seq = root.spawn(3)
    paths = simulate_paths(p, int(n), path_seq)
    ids, id_ints = customer_ids(np.random.Generator(np.random.PCG64(id_seq)), int(n),
                                 p.id_hex_digits)
    # Fixed-width hex sorts like its integer: sort the integers, not the strings.
    tables = build_tables(p, paths, ids, np.argsort(id_ints, kind="stable"),
                           np.random.Generator(np.random.PCG64(quirk_seq)))
    estimands = population_truth(p) if truth else None
    doc = truth_document(p, scenario=scenario, seed=seed, n=n, overrides=overrides,
                          estimands=estimands)
    return Simulation(**tables, truth=doc, params=p)
