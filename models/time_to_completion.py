"""How fast do flagged customers complete the task, CS vs OTHER?

Piecewise-exponential survival model on events and exposure by channel x task x time
interval (bayes_ab.models.survival); never-completing flags are right-censored at the end
of the observation window. Prints the hazard ratio CS vs OTHER, P(CS faster), the median
minutes per channel (null when fewer than half complete inside the window) and the
diagnostics; writes figures/time_to_completion_*.png (incl. the posterior survival over
the Kaplan-Meier curves) and <out>/idata/time_to_completion.nc.

    python models/time_to_completion.py [--data data/example] [--sampler pymc]
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('time_to_completion', __doc__))
