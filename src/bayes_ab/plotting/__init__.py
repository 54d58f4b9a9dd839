"""Every figure of bayes_ab, built and returned, never saved here.

Each plotting function takes results (arrays, an InferenceData, a results dict) and returns
a `matplotlib.figure.Figure` (``standard_figures``: ``{kind: Figure}``). None saves, shows
or chooses a matplotlib backend; the figures are not registered with pyplot. The commands
that write output save them at the edge with `save_figure` / `save_figures` (the CLI picks
the Agg backend at entry when none is configured; library users keep their own).

``figure``       `save_figure`, `save_figures` (the one place a figure becomes a PNG), `DPI`
``posterior``    ArviZ figures of a fitted model (trace, rank, posterior, forest, PPC) and the
                 `--figures report|all|none` selection (`figure_kinds`, `REPORT_FIGURE_KINDS`,
                 `GATE_FIGURE_KINDS`)
``analysis``     the analysis models' own figures (survival vs Kaplan-Meier, completion by
                 task, causal vs naive)
``compare``      `bayes-ab compare`: the arms' posteriors and lifts
``monitor``      `bayes-ab monitor`: confidence sequence and P(Test better) by look
``planning``     `bayes-ab plan`: power, assurance and expected loss against n
``calibration``  SBC rank histograms
``funnel``       `bayes-ab funnel`: the lead-funnel report's figures
"""

from bayes_ab.plotting.analysis import causal_vs_naive_figure, survival_figure, task_rates_figure
from bayes_ab.plotting.calibration import SBC_DPI, plot_rank_histograms
from bayes_ab.plotting.compare import plot_compare_posteriors
from bayes_ab.plotting.figure import DPI, save_figure, save_figures
from bayes_ab.plotting.funnel import (
    FUNNEL_DPI,
    plot_attrition,
    plot_effects,
    plot_funnel,
    plot_heatmap,
    plot_journeys,
    plot_stage_forest,
    plot_weekly,
)
from bayes_ab.plotting.monitor import plot_monitor
from bayes_ab.plotting.planning import plot_plan
from bayes_ab.plotting.posterior import (
    FIGURE_KINDS,
    FIGURE_SETS,
    GATE_FIGURE_KINDS,
    REPORT_FIGURE_KINDS,
    figure_kinds,
    standard_figures,
)

__all__ = [
    "DPI", "FIGURE_KINDS", "FIGURE_SETS", "FUNNEL_DPI", "GATE_FIGURE_KINDS",
    "REPORT_FIGURE_KINDS", "SBC_DPI", "causal_vs_naive_figure", "figure_kinds",
    "plot_attrition", "plot_compare_posteriors", "plot_effects", "plot_funnel", "plot_heatmap",
    "plot_journeys", "plot_monitor", "plot_plan", "plot_rank_histograms", "plot_stage_forest",
    "plot_weekly", "save_figure", "save_figures", "standard_figures", "survival_figure",
    "task_rates_figure",
]
