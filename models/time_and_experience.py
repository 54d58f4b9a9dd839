"""Is task success associated with the hour of the day and with experience? Logistic model on counts.

    python models/time_and_experience.py [DATA_DIR] [--seed 1] [--draws 1000] [--chains 4]
        [--sampler nutpie|pymc] [--figures figures] [--out results]

Completing a started task against its start hour (linear trend plus trend-free hour
deviations) and the task index; the reported slopes of the population logistic fit are
associations, not effects (task order is fixed, so the task index is confounded with task
difficulty and selection on ability; "completed" = before the end of the observation
window). Writes figures/time_and_experience_*.png, OUT/idata/time_and_experience.nc and
OUT/time_and_experience.json.
"""

import time

import arviz as az

from bayes_ab.models.priors import Prior
from bayes_ab.models.time_and_experience import TimeAndExperienceStats, TimeAndExperience
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: completed and started tasks per start hour (0..23) x task index.
with user_errors():
    stats = TimeAndExperienceStats.from_experiment(data)
for t, task in enumerate(stats.tasks):
    s, n = stats.successes_array[:, t].sum(), stats.trials_array[:, t].sum()
    print(f"  task {task}: {s} completed / {n} started = {s / max(n, 1):.4f}")

# The model: logit p[h, t] = intercept + b_hour (h - 12) + b_exp (t - 1) + hour_dev[h],
# hour_dev trend-free (orthogonal to the linear trend) with sd sigma_hour;
# completed ~ Binomial(started, p).
model = TimeAndExperience(stats, priors={
    "intercept": Prior("Normal", mu=0.0, sigma=2.0),    # at noon, task 1
    "hour_slope": Prior("Normal", mu=0.0, sigma=0.1),   # b_hour, per hour
    "experience": Prior("Normal", mu=0.0, sigma=1.0),   # b_exp, per additional task
    "hour_sd": Prior("HalfNormal", sigma=0.2),          # sigma_hour; None: no deviations
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # nutpie by default, one seed
seconds = time.perf_counter() - t0
print(az.summary(idata, var_names=["intercept", "b_hour", "b_exp", "sigma_hour"],
                 hdi_prob=0.95).to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)
raise SystemExit(finish(model, idata, args, key="time_and_experience", seconds=seconds,
                        figures=figures))
