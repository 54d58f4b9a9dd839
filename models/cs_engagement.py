"""Did the help widget raise CS engagement? Arm comparison on counts (Binomial, Beta priors).

    python models/cs_engagement.py [DATA_DIR] [--seed 1] [--draws 1000] [--chains 4]
        [--sampler nutpie|pymc] [--figures figures] [--out results]

CS engagement = customers with at least one CS help row / all randomized customers of the
arm (intention to treat). Lift = Test - Control, absolute and relative; P(Test better). The
arms were randomized, so the lift is the causal effect of offering the widget on CS contact.
With Beta priors the posterior is Beta in closed form: the draws are exact, no MCMC.
Writes figures/cs_engagement_*.png, the posterior (model and sampler config in its attrs) to
OUT/idata/cs_engagement.nc and the results.json block to OUT/cs_engagement.json. When the
data folder holds the simulator's truth.json, its population values are printed beside.
"""

import time

import arviz as az

from bayes_ab.models.arm_comparison import ArmComparison, ArmComparisonStats
from bayes_ab.models.priors import Prior
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: per arm, customers with a CS help row out of all randomized ones.
with user_errors():
    stats = ArmComparisonStats.from_experiment(data, metric="any_cs")
for arm, engaged, n in zip(stats.arms, stats.successes, stats.trials, strict=True):
    print(f"  {arm:<8} {engaged:>7} with CS help / {n:<7} customers = {engaged / n:.4f}")

# The model: rate[arm] ~ Beta(1, 1), engaged[arm] ~ Binomial(customers[arm], rate[arm]);
# lift_abs = rate[Test] - rate[Control], lift_rel = rate[Test] / rate[Control] - 1.
model = ArmComparison(stats, name="cs_engagement", priors={
    "rate": Prior("Beta", alpha=1.0, beta=1.0, dims="arm"),  # uniform on each arm's rate
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # exact Beta draws (no MCMC), one seed
seconds = time.perf_counter() - t0
summary = az.summary(idata, var_names=["rate", "lift_abs", "lift_rel"], hdi_prob=0.95)
print(summary.to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)  # posterior, forest, trace, rank, PPC
raise SystemExit(finish(model, idata, args, key="cs_engagement", seconds=seconds,
                        figures=figures))
