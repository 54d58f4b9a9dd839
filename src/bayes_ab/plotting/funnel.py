"""The lead-funnel figures (`bayes-ab funnel`): reach by stage, attrition and interaction
tables of the original report, the pooled stage 3 -> 4 rates, journeys, weekly activity and
the predictor effects. Each reads ``funnel.json``'s summary (or a table derived from it)
and returns a Figure; `bayes_ab.report.funnel` picks the report's set and saves it at
`FUNNEL_DPI`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayes_ab.data.funnel import STAGES, STATUS_LABELS
from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Resolution of the funnel report's PNGs.
FUNNEL_DPI = 100


def plot_funnel(summary: dict) -> Figure:
    """Leads at or beyond each stage, with each transition's posterior rate in the title."""
    reach = summary["at_or_beyond_stage"]
    trans = summary["stage_transitions"]
    fig, ax = subplots(figsize=(7, 3.6))
    ys = [reach[str(k)] for k in STAGES]
    ax.barh([STATUS_LABELS[k] for k in STAGES][::-1], ys[::-1], color="#4C72B0")
    for i, k in enumerate(STAGES[::-1]):
        ax.text(reach[str(k)], i, f" {reach[str(k)]}", va="center", fontsize=8)
    labels = [f"{k} -> {k + 1}: {trans[f'{k}_to_{k + 1}']['posterior']['mean']:.1%} "
              f"[{trans[f'{k}_to_{k + 1}']['posterior']['lower']:.1%}, "
              f"{trans[f'{k}_to_{k + 1}']['posterior']['upper']:.1%}]" for k in STAGES[:-1]]
    ax.set_title("Leads at or beyond each stage\n" + "; ".join(labels), fontsize=8)
    ax.set_xlabel("leads")
    return fig


def plot_attrition(attrition: pd.DataFrame) -> Figure:
    """Each industry's share of its leads at or beyond each stage (Figure 2 of the report)."""
    fig, ax = subplots(figsize=(8, 4.5))
    share = attrition.div(attrition[1], axis=0)
    for ind, row in share.iterrows():
        ax.plot(list(row.index), row.values, marker="o", lw=1,
                label=f"{ind} (n={attrition.loc[ind, 1]})")
    ax.set_xticks(list(STAGES))
    ax.set_xlabel("stage")
    ax.set_ylabel("share of the industry's leads at or beyond")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Attrition by industry (Figure 2 of the report, as shares)")
    return fig


def plot_heatmap(table: pd.DataFrame, *, title: str) -> Figure:
    """A table of mean interactions per lead, coloured by log(1 + value), values written."""
    fig, ax = subplots(figsize=(1.1 * table.shape[1] + 3, 0.35 * table.shape[0] + 1.5))
    values = np.log1p(table.to_numpy(dtype=float))
    im = ax.imshow(values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=35,
                  ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=7)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            if pd.notna(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6,
                        color="w" if values[i, j] < values[np.isfinite(values)].max() / 2 else "k")
    fig.colorbar(im, ax=ax, label="log(1 + mean interactions per lead)")
    ax.set_title(title, fontsize=9)
    return fig


def plot_stage_forest(rates: pd.DataFrame, overall: dict) -> Figure:
    """Stage 3 -> 4 rate by industry: pooled posterior (95% HDI) beside the observed rate."""
    fig, ax = subplots(figsize=(7, 0.32 * max(len(rates), 3) + 1.5))
    y = np.arange(len(rates))
    colours = rates["verdict"].map({"above": "#2ca02c", "below": "#d62728"}).fillna("#555555")
    ax.hlines(y, rates["lower"], rates["upper"], color=colours, lw=2)
    ax.plot(rates["mean"], y, "o", color="k", ms=4, label="pooled posterior mean (95% HDI)")
    ax.plot(rates["observed"], y, "x", color="#ff7f0e", ms=6, label="observed (report)")
    ax.axvspan(overall["lower"], overall["upper"], color="#1f77b4", alpha=0.12)
    ax.axvline(overall["mean"], color="#1f77b4", lw=1, label="population mean rate")
    ax.set_yticks(y, [f"{r.industry} ({r.n})" for r in rates.itertuples()], fontsize=7)
    ax.set_xlabel("P(stage >= 4 | stage >= 3)")
    ax.set_title("Stage 3 -> 4 conversion by industry: partial pooling (n at stage >= 3)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_journeys(summary: dict) -> Figure:
    """The ten most common journeys (event types by first occurrence)."""
    top = summary["top_journeys"][:10]
    fig, ax = subplots(figsize=(8, 0.4 * max(len(top), 3) + 1))
    labels = [" > ".join(t["path"]) for t in top][::-1]
    ax.barh(range(len(top)), [t["n_leads"] for t in top][::-1], color="#8172B2")
    ax.set_yticks(range(len(top)), labels, fontsize=6)
    ax.set_xlabel("leads")
    ax.set_title("Most common user journeys (distinct types by first occurrence)", fontsize=9)
    return fig


def plot_weekly(weekly: pd.DataFrame) -> Figure:
    """Distinct events per lead per week, one line per final status."""
    fig, ax = subplots(figsize=(7, 3.5))
    for k in weekly.columns:
        if weekly[k].notna().any() and weekly[k].sum() > 0:
            ax.plot(weekly.index, weekly[k], marker=".", label=STATUS_LABELS.get(int(k), k))
    ax.set_ylabel("distinct events per lead per week")
    ax.set_title("Activity over time by final status", fontsize=9)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return fig


def plot_effects(summary: dict) -> Figure:
    """The heuristics' top predictors: log-odds effect per SD with 95% HDI."""
    eff = summary["heuristics"]["top_predictors"]
    fig, ax = subplots(figsize=(6, 0.35 * max(len(eff), 3) + 1))
    y = np.arange(len(eff))
    ax.hlines(y, [e["effect"]["lower"] for e in eff], [e["effect"]["upper"] for e in eff])
    ax.plot([e["effect"]["mean"] for e in eff], y, "o", color="k")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [e["name"] for e in eff], fontsize=7)
    ax.set_xlabel("log-odds of status >= 4 per SD of log(1 + count) (95% HDI)")
    return fig
