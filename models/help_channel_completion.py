"""Does CS help lead to completing the flagged task more often than OTHER?

Logistic model on flags and completions by channel x task x arm, tasks partially pooled
(bayes_ab.models.help_completion). Prints the priors, the summary (channel completion
rates over each channel's own flags, CS - OTHER, P(CS better), per-task effects) and the
diagnostics; writes figures/help_completion_*.png and <out>/idata/help_completion.nc.

    python models/help_channel_completion.py [--data data/example] [--sampler pymc]
"""

from bayes_ab.scripts import run_model_script

if __name__ == "__main__":
    raise SystemExit(run_model_script('help_completion', __doc__))
