"""Did the help widget raise CS engagement? Arm comparison on counts (Binomial, Beta priors).

    python models/cs_engagement.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results]

CS engagement = customers with at least one CS help row / all randomized customers of the
arm (intention to treat). Lift = Test - Control, absolute and relative; P(Test better).
Prints the results.json block and the diagnostics gate, writes figures/cs_engagement_*.png and
the posterior (model and sampler config in its attrs) to OUT/idata/cs_engagement.nc. When the data
folder holds the simulator's truth.json, its population values are printed beside.
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('cs_engagement', __doc__))
