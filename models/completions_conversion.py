"""Does completing more tasks go with converting? Hierarchical monotonic model on counts.

    python models/completions_conversion.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results]

P(converted | n_completed = k) for k = 0..3, both arms pooled; the odds ratio per completion
(population logistic fit); P(the rates rise at every step).
Prints the results.json block and the diagnostics gate, writes
figures/completions_conversion_*.png and the posterior (model and sampler config in its
attrs) to OUT/idata/completions_conversion.nc. When the data folder holds the simulator's
truth.json, its population values are printed beside.
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('completions_conversion', __doc__))
