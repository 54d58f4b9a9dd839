"""Do customers who complete more tasks convert more? Rates per k (no shape assumed) on counts.

    python models/completions_conversion.py [DATA_DIR] [--seed 1] [--draws 1000]
        [--chains 4] [--sampler nutpie|pymc] [--figures figures] [--out results]

P(converted | n_completed = k) for k = 0..3, both arms pooled, each k with its own rate
(arms partially pooled per k); the odds ratio per completion (population logistic fit);
P(the rates rise at every step), from the posterior; shapes (unrestricted, monotone,
linear in log-odds) compared by leave-one-customer-out LOO. These are associations, not
effects of completing a task: completions are not randomized, and "completed" means
completed before the end of the observation window. The randomized arm comparison and the
IV model (causal_cs_effect.py) are the causal evidence. Writes
figures/completions_conversion_*.png, OUT/idata/completions_conversion.nc and
OUT/completions_conversion.json.
"""

import time

import arviz as az

from bayes_ab.models.completions_conversion import CompletionsConversionStats, CompletionsConversion
from bayes_ab.models.priors import Prior
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: converted customers and customers per arm x n_completed (0..3).
with user_errors():
    stats = CompletionsConversionStats.from_experiment(data)
for arm, conv, n in zip(stats.arms, stats.successes, stats.trials, strict=True):
    print(f"  {arm:<8} converted / customers by k: "
          + ", ".join(f"{s}/{t}" for s, t in zip(conv, n, strict=True)))

# The model: logit rate[arm, k] = mu[k] + sigma_arm * z[k, arm] (z zero-sum over arms),
# converted ~ Binomial(customers, rate). The monotone and linear shapes, fitted for the
# LOO comparison, use "step" and "slope".
model = CompletionsConversion(stats, priors={
    "rate_logit": Prior("Normal", mu=-2.0, sigma=2.0),  # mu[k]; -2 ~ 12%
    "arm_sd": Prior("Fixed", value=0.5),                # or Prior("HalfNormal", sigma=s)
    "step": Prior("HalfNormal", sigma=1.0, dims="step"),
    "slope": Prior("Normal", mu=0.0, sigma=1.0),
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # nutpie, one seed; also the two other shapes (LOO)
seconds = time.perf_counter() - t0
print(az.summary(idata, var_names=["mu", "rate"], hdi_prob=0.95).to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)
raise SystemExit(finish(model, idata, args, key="completions_conversion", seconds=seconds,
                        figures=figures))
