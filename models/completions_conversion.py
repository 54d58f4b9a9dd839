"""Do customers who complete more tasks convert more? Rates per k (no shape assumed) on counts.

    python models/completions_conversion.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results]

P(converted | n_completed = k) for k = 0..3, both arms pooled, each k with its own rate
(arms partially pooled per k); the odds ratio per completion (population logistic fit);
P(the rates rise at every step), from the posterior; shapes (unrestricted, monotone,
linear in log-odds) compared by leave-one-customer-out LOO. These are associations, not
effects of completing a task: completions are not randomised, and "completed" means
completed before the end of the observation window. The randomised arm comparison and the
IV model (causal_cs_effect.py) are the causal evidence.
Prints the results.json block and the diagnostics gate, writes
figures/completions_conversion_*.png and the posterior (model and sampler config in its
attrs) to OUT/idata/completions_conversion.nc. When the data folder holds the simulator's
truth.json, its population values are printed beside.
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('completions_conversion', __doc__))
