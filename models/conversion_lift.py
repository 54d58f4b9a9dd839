"""Did the help widget raise conversion? Arm comparison on counts (Binomial, Beta priors).

    python models/conversion_lift.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results]

Conversion = converted within 30 days / all randomized customers of the arm (intention to
treat). Lift = Test - Control, absolute and relative; P(Test better).
Prints the results.json block and the diagnostics gate, writes figures/conversion_*.png and
the posterior (model and sampler config in its attrs) to OUT/idata/conversion.nc. When the data
folder holds the simulator's truth.json, its population values are printed beside.
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('conversion', __doc__))
