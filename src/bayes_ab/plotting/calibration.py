"""Simulation-based calibration figure: rank histograms against the band of a uniform
histogram (Talts et al. 2018). Saved by `benchmarks/sbc.py` at `SBC_DPI`, untrimmed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from bayes_ab.workflows.calibration import SBCResult

#: Resolution of the SBC rank-histogram PNGs.
SBC_DPI = 100


def plot_rank_histograms(result: SBCResult, *, bins: int, max_panels: int = 24) -> Figure:
    """Rank histograms, one panel per parameter, with the 99% band of a uniform histogram
    (binomial quantiles of each bin's count), as in Talts et al. (2018), figure 3.
    ``bins``: the bins of the uniformity test (`bayes_ab.workflows.calibration.SBC_BINS`)."""
    from scipy import stats

    labels = list(result.params)[:max_panels]
    ncol = min(4, len(labels))
    nrow = int(np.ceil(len(labels) / ncol))
    fig, axes = subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    n = result.reps
    n_values = result.n_draws + 1
    p_bin = 1.0 / bins
    lo, hi = stats.binom.ppf([0.005, 0.995], n, p_bin)
    edges = np.linspace(0, n_values, bins + 1)
    for ax, lab in zip(axes.ravel(), labels, strict=False):
        j = result.params.index(lab)
        ax.axhspan(lo, hi, color="grey", alpha=0.25, lw=0)
        ax.axhline(n * p_bin, color="grey", lw=0.8)
        ax.hist(result.ranks[:, j], bins=edges, color="tab:blue", alpha=0.8)
        t = result.tests[lab]
        ax.set_title(f"{lab}\nchi2 p={t.chi2_p:.2f}, KS p={t.ks_p:.2f}", fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(labels):]:
        ax.axis("off")
    fig.suptitle(f"SBC rank histograms: {result.model} ({n} replications, "
                 f"{result.n_draws} draws; band: 99% of a uniform histogram)", fontsize=9)
    fig.tight_layout()
    return fig
