"""The `bayes-ab compare` figure: each arm's posterior, and each arm's lift over control."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.inference.exact import beta_isf, beta_pdf, beta_ppf
from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def plot_compare_posteriors(results: dict, draws: Mapping[str, np.ndarray]) -> Figure:
    """Left: each arm's exact Beta posterior of its rate (or, for a mean metric, a
    histogram of its draws); right: each arm's lift over control from the draws.
    ``results``: compare.json; ``draws``: arm -> rate (or mean) draws."""
    res = results
    fig, (ax1, ax2) = subplots(1, 2, figsize=(10, 3.6))
    mean = res.get("metric_kind") == "mean"
    scale = 1.0 if mean else 100.0
    for arm, post in res["posterior"].items():
        if mean:
            ax1.hist(draws[arm], bins=120, density=True, histtype="step", label=arm)
            continue
        a, b = post["alpha"], post["beta"]
        lo, hi = beta_ppf(1e-4, a, b), beta_isf(1e-4, a, b)
        x = np.linspace(lo, hi, 400)
        ax1.plot(x * 100, beta_pdf(x, a, b) / 100, label=arm)
    ax1.set_xlabel(f"mean of {res['input']['outcome_col']}" if mean
                   else f"{res['input']['outcome_col']} rate (%)")
    ax1.set_yticks([])
    adjusted = any(isinstance(b, dict) and b.get("adjustment") for b in res["arms"].values())
    ax1.set_title(("Posterior of each arm's CUPED-adjusted mean" if adjusted
                   else "Posterior of each arm's mean (Bayesian bootstrap)") if mean
                  else "Posterior of each arm's rate (exact Beta)")
    ax1.legend(fontsize=8)
    ctrl = res["control"]
    for arm in res["arms"]:
        lift = (draws[arm] - draws[ctrl]) * scale
        ax2.hist(lift, bins=120, density=True, histtype="step", label=f"{arm} - {ctrl}")
    ax2.axvline(0.0, color="grey", lw=0.8)
    ax2.set_xlabel("difference of means" if mean else "lift (percentage points)")
    ax2.set_yticks([])
    ax2.set_title("Posterior of each arm's lift over control")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
