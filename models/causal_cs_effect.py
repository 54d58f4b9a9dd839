"""What does choosing CS *cause*? The complier effect of CS help on completion.

Bayesian instrumental-variable model (principal strata, Imbens & Rubin 1997) on the first
flag of each customer: the random assignment is the instrument, the channel the
treatment, completing the flagged task the outcome (bayes_ab.models.iv). Prints the LATE
beside the naive CS - OTHER difference, the Wald ratio, the complier share, the first
stage and a weak-instrument flag; writes figures/causal_cs_effect_*.png and
<out>/idata/causal_cs_effect.nc.

    python models/causal_cs_effect.py [--data data/example] [--sampler pymc]
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('causal_cs_effect', __doc__))
