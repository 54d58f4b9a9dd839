"""The monitoring figure (`bayes-ab monitor`): the lift by look with its always-valid
confidence sequence and posterior HDI, and P(Test better) against the stopping thresholds.
Reads ``monitor.json`` (the dict `bayes_ab.workflows.monitor.monitor` returns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def plot_monitor(result: dict) -> Figure:
    """The confidence sequence and the posterior HDI of the lift over time (top), and
    P(Test better) against the naive threshold and, with a plan, the calibrated one (bottom)."""
    looks = result["looks"]
    x = np.arange(len(looks))
    lo = [lk["confidence_sequence"]["lower"] for lk in looks]
    hi = [lk["confidence_sequence"]["upper"] for lk in looks]
    plo = [lk["posterior_lift_abs"]["lower"] for lk in looks]
    phi = [lk["posterior_lift_abs"]["upper"] for lk in looks]
    mid = [lk["lift_abs_observed"] for lk in looks]
    alpha = result["settings"]["alpha"]
    fig, (ax1, ax2) = subplots(2, 1, figsize=(8, 6.5), sharex=True,
                               gridspec_kw={"height_ratios": [3, 2]})
    ax1.fill_between(x, lo, hi, color="C0", alpha=0.25,
                     label=f"{100 * (1 - alpha):.0f}% always-valid confidence sequence")
    ax1.plot(x, plo, color="C1", lw=1, ls="--", label="95% HDI of the posterior (fixed-n)")
    ax1.plot(x, phi, color="C1", lw=1, ls="--")
    ax1.plot(x, mid, color="k", lw=1.2, label="observed lift")
    ax1.axhline(0, color="grey", lw=0.8)
    stop = result["stopping"]["confidence_sequence"]
    if stop["stopped"]:
        ax1.axvline(stop["look"] - 1, color="C3", lw=1, label=f"stop ({stop['date']})")
    ymax = np.nanmax(np.abs(np.concatenate([plo, phi, mid]))) * 2.5
    ax1.set_ylim(-ymax, ymax)
    ax1.set_ylabel("lift (Test - Control)")
    ax1.legend(fontsize=8, loc="upper right")
    ax1.set_title(f"{result['input']['test']} vs {result['input']['control']}: "
                  "lift by look")
    pb = [lk["prob_test_better"] for lk in looks]
    q = result["settings"]["bayes_threshold"]
    ax2.plot(x, pb, color="C2", label="P(Test better)")
    ax2.axhline(1 - alpha, color="C3", ls=":", lw=1, label=f"naive {1 - alpha:g}")
    if q is not None:  # only with a plan
        ax2.axhline(q, color="C0", ls="--", lw=1, label=f"calibrated (plan) {q:.4f}")
        ax2.axhline(1 - q, color="C0", ls="--", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("P(Test better)")
    step = max(1, len(looks) // 8)
    ax2.set_xticks(x[::step])
    ax2.set_xticklabels([lk["date"] for lk in looks][::step], rotation=30, ha="right", fontsize=8)
    ax2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
