"""Does CS help lead to completing the flagged task more often than OTHER?

    python models/help_channel_completion.py [DATA_DIR] [--seed 1] [--draws 1000]
        [--chains 4] [--sampler nutpie|pymc] [--figures figures] [--out results]

Per help flag, the probability that the customer later completes the flagged task, by the
channel chosen at that flag (CS or OTHER), tasks partially pooled. Customers choose their
channel, so CS - OTHER is an association, not the effect of CS help: customers who pick CS
may differ from those who do not. The causal question is causal_cs_effect.py's (the
randomized arm as an instrument). Writes figures/help_completion_*.png,
OUT/idata/help_completion.nc and OUT/help_completion.json.
"""

import time

import arviz as az

from bayes_ab.constants import CHANNELS
from bayes_ab.models.help_completion import HelpCompletion, HelpCompletionStats
from bayes_ab.models.priors import Prior
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: flags and completions per channel x task x arm (12 cells).
with user_errors():
    stats = HelpCompletionStats.from_experiment(data)
for channel in CHANNELS:
    c = CHANNELS.index(channel)
    print(f"  {channel:<6} {stats.completed_array[c].sum():>6} completed / "
          f"{stats.flags_array[c].sum():<6} flags = {stats.raw_rate(channel):.4f}")

# The model: logit p[c, t, a] = alpha[t] + [c = CS] * beta[t] + [a = Test] * gamma,
# alpha[t] ~ Normal(mu_alpha, 1.0), beta[t] ~ Normal(mu_beta, 0.25) (fixed between-task
# sds: three tasks cannot learn them), completed ~ Binomial(flags, p).
model = HelpCompletion(stats, priors={
    "task_intercept_mean": Prior("Normal", mu=0.0, sigma=1.5),  # mu_alpha
    "task_intercept_sd": Prior("Fixed", value=1.0),             # or Prior("HalfNormal", sigma=1)
    "cs_effect_mean": Prior("Normal", mu=0.0, sigma=1.0),       # mu_beta
    "cs_effect_sd": Prior("Fixed", value=0.25),
    "arm_effect": Prior("Normal", mu=0.0, sigma=1.0),           # gamma
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # nutpie by default, one seed
seconds = time.perf_counter() - t0
print(az.summary(idata, var_names=["mu_alpha", "alpha", "mu_beta", "beta", "gamma"],
                 hdi_prob=0.95).to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)
raise SystemExit(finish(model, idata, args, key="help_completion", seconds=seconds,
                        figures=figures))
