"""Reproduce the report's Table 1, Table 2, attrition, stage 3 -> 4 and journeys (no sampling).

    python models/funnel_reproduce.py [--leads L --events E]
"""

from pathlib import Path

from _funnel_common import parse

from bayes_ab.funnel import reproduce as rep
from bayes_ab.data.funnel import load_funnel
from bayes_ab.plotting import FUNNEL_DPI, plot_attrition, plot_heatmap, save_figures

args = parse(__doc__)
data = load_funnel(args.leads, args.events)
counts = rep.interaction_counts(data)
conv = rep.conversion_to_opportunity(data)
print(f"conversion to opportunity: {conv['n']}/{conv['n_leads']} = {conv['rate']:.2%}")
print("at or beyond stage:", rep.at_or_beyond_stage(data.leads))
t1 = rep.round_table(rep.mean_interactions_by_status(data, counts))
t2 = rep.round_table(rep.mean_interactions_by_industry(data, counts))
print("Table 1\n", t1.to_string(), "\nTable 2\n", t2.to_string())
print(rep.stage3_to_4_by_industry(data.leads).to_string())
for row in rep.top_journeys(rep.journeys(data), n=10):
    print(row["n_leads"], " > ".join(row["path"]))
fig = Path(args.figures)
save_figures({
    "funnel_table1": plot_heatmap(t1, title="Mean interactions by status (Table 1)"),
    "funnel_table2": plot_heatmap(t2, title="Mean interactions by industry (Table 2)"),
    "funnel_attrition": plot_attrition(rep.attrition_by_industry(data.leads)),
}, fig, dpi=FUNNEL_DPI)
