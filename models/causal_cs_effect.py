"""What does choosing CS *cause*? The complier effect of CS help on completion.

    python models/causal_cs_effect.py [DATA_DIR] [--seed 1] [--draws 1000] [--chains 4]
        [--sampler nutpie|pymc] [--figures figures] [--out results]

Bayesian instrumental-variable model (principal strata, Imbens & Rubin 1997) on the first
flag of each customer: the random assignment is the instrument, the channel the
treatment, completing the flagged task the outcome. The LATE is a causal effect, for the
compliers only (customers who take CS help because the widget offered it), under the IV
assumptions (the widget changes completion only through the channel; no defiers). Printed
beside it: the naive CS - OTHER difference (an association), the first stage and the
complier share. Writes figures/causal_cs_effect_*.png, OUT/idata/causal_cs_effect.nc and
OUT/causal_cs_effect.json.
"""

import time

import arviz as az

from bayes_ab.models.causal_cs_effect import CausalCsEffect, CausalCsEffectStats
from bayes_ab.models.priors import Prior
from bayes_ab.cli.scripts import finish, load_data, save_model_figures, script_args, user_errors

args = script_args(__doc__)
data = load_data(args)  # DATA_DIR, the shipped example by default

# The statistics: first flags by arm x channel (CS, OTHER) x outcome (not completed,
# completed): eight counts.
with user_errors():
    stats = CausalCsEffectStats.from_experiment(data)
print(f"  counts [arm][channel][outcome]: {stats.counts}")

# The model: strata (complier, always-taker, never-taker) shares, a completion rate per
# stratum (compliers one per channel), the cells Multinomial per arm; LATE =
# eta_complier[CS] - eta_complier[OTHER].
model = CausalCsEffect(stats, priors={
    "strata": Prior("Dirichlet", a=[1.0, 1.0, 1.0], dims="stratum"),  # strata_share
    "outcome": Prior("Beta", alpha=1.0, beta=1.0),           # eta_complier, eta_always, ...
    "naive_rate": Prior("Beta", alpha=1.0, beta=1.0, dims="channel"),
    "uptake_rate": Prior("Beta", alpha=1.0, beta=1.0, dims="arm"),
})
print(model.table())

t0 = time.perf_counter()
idata = model.fit(args.config)  # nutpie by default, one seed
seconds = time.perf_counter() - t0
print(az.summary(idata, var_names=["strata_share", "eta_complier", "late", "naive_difference",
                                   "first_stage"], hdi_prob=0.95).to_string())
figures = save_model_figures(model, model.figures(idata), args.figures)
raise SystemExit(finish(model, idata, args, key="causal_cs_effect", seconds=seconds,
                        figures=figures))
