"""What does choosing CS *cause*? The complier effect of CS help on completion.

Bayesian instrumental-variable model (principal strata, Imbens & Rubin 1997) on the first
flag of each customer: the random assignment is the instrument, the channel the
treatment, completing the flagged task the outcome (bayes_ab.models.iv). Prints the LATE
beside the naive CS - OTHER difference, the Wald ratio, the complier share, the first
stage and a weak-instrument flag; writes figures/causal_cs_effect_*.png and
<out>/idata/causal_cs_effect.nc.

    python models/causal_cs_effect.py [--data data/example] [--sampler pymc]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from help_channel_completion import parse_args, run  # noqa: E402

if __name__ == "__main__":
    from bayes_ab.models.iv import InstrumentalVariable, IVStats

    raise SystemExit(run(InstrumentalVariable, IVStats, parse_args(__doc__)))
