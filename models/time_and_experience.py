"""Is task success associated with the hour of the day and with experience? Logistic model on counts.

    python models/time_and_experience.py [--data data/example] [--seed 1]
        [--draws 1000] [--chains 4] [--sampler nutpie|pymc]
        [--figures figures] [--out results]

Completing a started task against its start hour (linear trend plus trend-free hour
deviations) and the task index; the reported slopes of the population logistic fit are
associations, not effects (task order is fixed, so the task index is confounded with task
difficulty and selection on ability; "completed" = before the end of the observation window).
Prints the results.json block and the diagnostics gate, writes figures/time_and_experience_*.png and
the posterior (model and sampler config in its attrs) to OUT/idata/time_and_experience.nc. When the data
folder holds the simulator's truth.json, its population values are printed beside.
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('time_and_experience', __doc__))
