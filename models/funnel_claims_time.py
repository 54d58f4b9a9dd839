"""The report's claims as posterior probabilities, and the time dimension (no MCMC:
Beta posteriors and the Bayesian bootstrap).

    python models/funnel_claims_time.py
"""

import json
from pathlib import Path

from _funnel_common import parse

from bayes_ab.funnel import claims, timeline
from bayes_ab.funnel import reproduce as rep
from bayes_ab.data.funnel import load_funnel
from bayes_ab.plotting import FUNNEL_DPI, plot_weekly, save_figure

args = parse(__doc__)
data = load_funnel(args.leads, args.events)
out = {
    "technical_convert_better": claims.technical_convert_better(data.leads, seed=args.seed),
    "inflection_between_3_and_4": claims.inflection_between_3_and_4(data.leads, seed=args.seed),
    "forums_versus_docs": claims.forums_versus_docs(
        data.leads, rep.interaction_counts(data), seed=args.seed),
    "first_occurrence": timeline.time_to_first_by_outcome(data),
    "early_signal_auc": timeline.early_signal(data, seed=args.seed),
}
print(json.dumps({k: v.get("prob_holds") for k, v in out.items() if "prob_holds" in v}, indent=1))
print(json.dumps(out["early_signal_auc"], indent=1))
save_figure(plot_weekly(timeline.weekly_activity_by_status(data)),
            Path(args.figures) / "funnel_activity_over_time.png", dpi=FUNNEL_DPI)
(Path(args.posteriors) / "claims_time.json").write_text(json.dumps(out, indent=1))
