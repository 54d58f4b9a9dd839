"""How fast do flagged customers complete the task, CS vs OTHER?

    python models/time_to_completion.py [DATA_DIR] [--seed 1] [--draws 1000] [--chains 4]
        [--sampler nutpie|pymc] [--figures figures] [--out results]

Piecewise-exponential survival model on events and exposure by channel x task x time
interval; flags never completed are right-censored at the end of the observation window.
Reports the hazard ratio CS vs OTHER, P(CS faster) and the median minutes per channel
(null when fewer than half complete inside the window). Customers choose their channel:
the hazard ratio is an association, not the effect of CS help. Writes
figures/time_to_completion_*.png (incl. the posterior survival over the Kaplan-Meier
curves), OUT/idata/time_to_completion.nc and OUT/time_to_completion.json.
"""

import time

import arviz as az

from bayes_ab.models.priors import Prior
from bayes_ab.models.time_to_completion import TimeToCompletion, TimeToCompletionStats
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: completions (events) and minutes at risk (exposure) per channel x task x
# interval of the time since the flag.
with user_errors():
    stats = TimeToCompletionStats.from_experiment(data)
print(f"  intervals (minutes): {list(stats.edges)}")
print(f"  events: {int(stats.events_array.sum())}, "
      f"exposure: {stats.exposure_array.sum():.0f} flag-minutes")

# The model: events[c, t, j] ~ Poisson(exposure * exp(log_baseline[j] + beta_cs [c = CS]
# + task_effect[t])), log_baseline a Gaussian random walk over the intervals.
model = TimeToCompletion(stats, priors={
    "log_baseline_start": Prior("Normal", mu=0.0, sigma=2.0),  # + the crude log rate
    "random_walk_sd": Prior("HalfNormal", sigma=0.5),          # sigma_rw
    "log_hr_cs": Prior("Normal", mu=0.0, sigma=1.0),           # beta_cs
    "task_effect": Prior("Normal", mu=0.0, sigma=1.0, dims="task_vs_first"),  # task_free
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # nutpie by default, one seed
seconds = time.perf_counter() - t0
print(az.summary(idata, var_names=["sigma_rw", "log_baseline", "hazard_ratio", "task_free"],
                 hdi_prob=0.95).to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)
raise SystemExit(finish(model, idata, args, key="time_to_completion", seconds=seconds,
                        figures=figures))
