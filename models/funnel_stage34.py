"""Stage 3 -> 4 conversion by industry: hierarchical Beta-Binomial with partial pooling.

    python models/funnel_stage34.py [--draws 1000 --chains 4 --seed S]
"""

from pathlib import Path

from _funnel_common import parse

from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.data.funnel import load_funnel
from bayes_ab.funnel.models import StageConversionModel, StageCounts
from bayes_ab.funnel.pipeline import industry_rate_table
from bayes_ab.plotting import FUNNEL_DPI, plot_stage_forest, save_figure

args = parse(__doc__)
data = load_funnel(args.leads, args.events)
model = StageConversionModel(StageCounts.from_leads(data.leads))
cfg = SamplerConfig(sampler=args.sampler, draws=args.draws, tune=args.draws,
                    chains=args.chains, seed=args.seed)
idata = model.fit(cfg)
print(model.diagnostics(idata))
s = model.summarize(idata)
print("population mean rate:", s["overall"], "credibly above:", s["credibly_above"],
      "below:", s["credibly_below"])
summary = {"stage3_to_4_by_industry": {
    k: {"observed": v["observed"], "n_at_3_or_beyond": v["n_at_3_or_beyond"],
        "posterior": v["posterior"], "verdict": v["verdict"]}
    for k, v in s["by_industry"].items()}}
save_figure(plot_stage_forest(industry_rate_table(summary), s["overall"]),
            Path(args.figures) / "funnel_stage3_to_4_forest.png", dpi=FUNNEL_DPI)
model.save(idata, Path(args.posteriors) / "stage3_to_4_by_industry.nc")
