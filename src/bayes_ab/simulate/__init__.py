"""Simulator of the help-widget experiment (seed 000, DATA_CONTRACT.md section 1).

The original data is not public, so this module writes the four files of the
contract from a documented generative story (docs/SIMULATOR.md) together with a
``truth.json`` holding the population values of every estimand of
docs/ESTIMANDS.md, computed from the generative parameters.

Design choices that matter to the analyses:

* Randomisation is an independent Bernoulli(``test_share``) draw per customer, so
  the split varies binomially, as real assignment does.
* The widget (Test arm) changes only the probability of choosing CS at a flag.
  Nothing else reads the arm, so the IV exclusion restriction holds by
  construction: the arm affects completion only through the channel chosen.
* Lower-ability customers get stuck more, complete less and choose CS more,
  so the naive CS-vs-OTHER comparison is confounded (biased against CS).
* Completion after a flag follows an exact proportional-hazards model:
  cumulative hazard ``H(t) = exp(eta) * F(t)`` with ``F`` a lognormal-mixture
  CDF (a defective distribution: ``P(ever) = 1 - exp(-exp(eta))``).
* Every random stream is drawn for every customer regardless of the path taken,
  from a `SeedSequence` spawned per component. So the same seed gives the same
  bytes, and the truth can compare both arms on common random numbers.

Population values are Monte-Carlo averages over ``TRUTH_N`` customers drawn from
their own fixed seed stream (independent of the data seed), each simulated under
both arms. Conditional expectations replace indicators where they are cheap
(Rao-Blackwellisation), which shrinks the Monte-Carlo error.

The package, one kind of thing per module:

* `params`: `SimParams` (every generative parameter), the named `SCENARIOS`,
  `scenario_params`;
* `story`: the generative story: one population's paths (`simulate_paths`) and the
  four tables of the contract built from them (`build_tables`);
* `truth`: the population values of the estimands (`population_truth`) and the
  truth.json document;
* `sample`: `simulate`, one seeded sample with its truth (`Simulation`);
* `writers`: `write_simulation` (CSV / gzip / Parquet) and `write_simulation_chunked`
  (Parquet, bounded memory, any size).
"""

from bayes_ab.simulate.params import SCENARIOS, SimParams, scenario_params
from bayes_ab.simulate.sample import FILE_STEMS, Simulation, simulate
from bayes_ab.simulate.truth import TRUTH_N, population_truth
from bayes_ab.simulate.writers import CHUNK_CUSTOMERS, write_simulation, write_simulation_chunked

__all__ = [
    "CHUNK_CUSTOMERS", "FILE_STEMS", "SCENARIOS", "TRUTH_N", "SimParams", "Simulation",
    "population_truth", "scenario_params", "simulate", "write_simulation",
    "write_simulation_chunked",
]
