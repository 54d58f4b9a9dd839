"""What predicts an advanced lead (status >= 4): Bayesian logistic regression on log1p
interaction counts with partially pooled industry intercepts; held-out AUC, LOO, rules.

    python models/funnel_advanced_lead.py [--draws 1000 --chains 4 --seed S]
"""

from pathlib import Path

from _funnel_common import parse

from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.funnel import heuristics as heur
from bayes_ab.funnel import reproduce as rep
from bayes_ab.data.funnel import load_funnel
from bayes_ab.funnel.models import AdvancedLeadModel, build_features, loo_summary
from bayes_ab.plotting import FUNNEL_DPI, plot_effects, save_figure

args = parse(__doc__)
data = load_funnel(args.leads, args.events)
counts = rep.interaction_counts(data)
y = (data.leads["status"] >= 4).to_numpy()
test = heur.stratified_split(y, seed=args.seed)
train_f = build_features(counts[~test], data.leads["industry"][~test], y[~test],
                         industries=data.industries)
test_f = build_features(counts[test], data.leads["industry"][test], y[test],
                        industries=data.industries, center=train_f.center, scale=train_f.scale)
model = AdvancedLeadModel(train_f)
cfg = SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.draws,
                    chains=args.chains, seed=args.seed)
idata = model.fit(cfg)
print(model.diagnostics(idata))
s = model.summarize(idata)
for e in s["effects"]:
    print(f"{e['name']:32s} {e['effect']['mean']:+.2f} [{e['effect']['lower']:+.2f}, "
          f"{e['effect']['upper']:+.2f}]")
p = model.predict_proba(idata, test_f)
print("held-out AUC:", heur.auc(y[test], p), "LOO:", loo_summary(idata))
for r in heur.evaluate_rules(counts[~test], y[~test], counts[test], y[test]):
    print(f"{r['text']:70s} precision {r['precision_observed']} recall {r['recall_observed']}")
save_figure(plot_effects({"heuristics": {"top_predictors": s["effects"]}}),
            Path(args.figures) / "funnel_advanced_lead_effects.png", dpi=FUNNEL_DPI)
model.save(idata, Path(args.posteriors) / "advanced_lead.nc")
