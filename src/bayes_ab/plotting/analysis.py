"""The analysis models' own figures (beside their ArviZ figures): survival curves against
Kaplan-Meier, completion rates by task, the causal effect beside the naive difference.

Each takes posterior draws or an InferenceData and the observed numbers, and returns a
Figure; the models' ``figures()`` methods call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.constants import CHANNELS, HDI_PROB, TASKS
from bayes_ab.inference.intervals import hdi_bounds
from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    from matplotlib.figure import Figure

_CHANNEL_COLORS = ("tab:blue", "tab:orange")


def survival_figure(times: np.ndarray, survival: np.ndarray, *, window_minutes: float,
                    km_times: Sequence[float] | None = None,
                    km_survival: Sequence[Sequence[float]] | None = None) -> Figure:
    """Posterior survival per channel (mean and 95% HDI band) over the Kaplan-Meier curves.

    ``survival``: draws x channel x time (`TimeToCompletion.survival_curves`); ``km_*``: the
    observed Kaplan-Meier step curves, one row per channel (none drawn when empty)."""
    fig, ax = subplots(figsize=(7, 4))
    for c, (ch, color) in enumerate(zip(CHANNELS, _CHANNEL_COLORS)):
        band = np.array([hdi_bounds(survival[:, c, k]) for k in range(times.size)])
        ax.fill_between(times, band[:, 0], band[:, 1], color=color, alpha=0.25, lw=0)
        ax.plot(times, survival[:, c, :].mean(axis=0), color=color,
                label=f"{ch} posterior (95% HDI)")
        if km_times is not None and len(km_times):
            ax.step(km_times, np.asarray(km_survival)[c], where="post",
                    color=color, ls="--", lw=1, label=f"{ch} Kaplan-Meier")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, window_minutes)
    ax.set_xlabel("minutes from the help flag")
    ax.set_ylabel("P(not yet completed)")
    ax.set_title("Time to completion: piecewise-exponential posterior vs Kaplan-Meier")
    ax.legend(fontsize=8)
    return fig


def task_rates_figure(task_rates: np.ndarray, *, flags: np.ndarray,
                      completed: np.ndarray) -> Figure:
    """Posterior completion rate by channel and task with 95% HDI, observed rates as x.

    ``task_rates``: draws x channel x task (`HelpCompletion.task_rates`); ``flags`` and
    ``completed``: channel x task x arm counts."""
    fig, ax = subplots(figsize=(6, 3.5))
    for c, (ch, color) in enumerate(zip(CHANNELS, _CHANNEL_COLORS)):
        x = np.arange(len(TASKS)) + (c - 0.5) * 0.2
        mean = task_rates[:, c, :].mean(axis=0)
        bounds = np.array([hdi_bounds(task_rates[:, c, k]) for k in range(len(TASKS))])
        ax.errorbar(x, mean, yerr=[mean - bounds[:, 0], bounds[:, 1] - mean], fmt="o",
                    color=color, label=f"{ch} (posterior, 95% HDI)", capsize=3)
        n = flags[c].sum(axis=1)
        obs = np.divide(completed[c].sum(axis=1), n, out=np.full(len(TASKS), np.nan),
                        where=n > 0)
        ax.plot(x, obs, "x", color="k")
    ax.set_xticks(range(len(TASKS)), [f"task {t}" for t in TASKS])
    ax.set_ylabel("P(complete after flag)")
    ax.set_title("Completion after a help flag (x = observed)")
    ax.legend(fontsize=8)
    return fig


def causal_vs_naive_figure(idata: az.InferenceData) -> Figure:
    """The LATE beside the naive difference, as posterior densities with 95% HDIs
    (the variables ``late`` and ``naive_difference`` of the IV model)."""
    import arviz as az

    fig, ax = subplots(figsize=(6, 3.5))
    az.plot_forest(idata, var_names=["late", "naive_difference"], combined=True,
                   hdi_prob=HDI_PROB, ax=ax)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_title("Effect of CS on completion: causal (IV, compliers) vs naive")
    return fig
