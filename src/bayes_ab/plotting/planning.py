"""The sample-size plan figure (`bayes-ab plan`): power, Bayesian power and assurance, and
the expected loss, against the total sample size."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bayes_ab.plotting.figure import subplots

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from bayes_ab.workflows.planning import Plan


def plot_plan(plan: Plan) -> Figure:
    """Two panels vs total n: power, Bayesian power & assurance; expected loss (planned
    lift and A/A)."""
    n = np.array([p.n_total for p in plan.curve])
    fig, (ax1, ax2) = subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(n, [p.power for p in plan.curve], label="frequentist power (closed form)")
    ax1.plot(n, [p.bayesian_power for p in plan.curve], marker="o", ms=3,
             label=f"Bayesian power: P(Test better) > {plan.prob_threshold:g}")
    ax1.plot(n, [p.assurance for p in plan.curve], marker="s", ms=3,
             label=f"assurance (design prior sd {plan.design_sd:.4f})")
    ax1.plot(n, [p.frequentist_assurance for p in plan.curve], ls="--", color="C2", lw=1,
             label="z-test power averaged over the design prior")
    ax1.axhline(plan.power, color="grey", lw=0.8, ls="--")
    ax1.axvline(plan.n_total, color="C0", lw=0.8, ls=":", label=f"N = {plan.n_total:,}")
    if plan.n_total_bayesian_power:
        ax1.axvline(plan.n_total_bayesian_power, color="C1", lw=0.8, ls=":",
                    label=f"Bayesian power {plan.power:.0%} at {plan.n_total_bayesian_power:,}")
    ax1.set(xscale="log", ylim=(0, 1), xlabel="total customers (both arms)",
            ylabel="probability", title=f"Lift {plan.mde_abs:+.4f} on {plan.baseline:.4f}")
    ax1.legend(fontsize=8, loc="upper left")
    ax2.plot(n, [p.expected_loss for p in plan.curve], marker="o", ms=3,
             label="true lift = mde")
    ax2.plot(n, [p.expected_loss_null for p in plan.curve], marker="o", ms=3,
             label="true lift = 0 (A/A)")
    ax2.axhline(plan.loss_threshold, color="grey", lw=0.8, ls="--",
                label=f"threshold of caring {plan.loss_threshold}")
    ax2.set(xscale="log", yscale="log", xlabel="total customers (both arms)",
            ylabel="expected loss of the best action (rate)",
            title="Expected loss after the test")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{plan.split:.0%} in Test; prior Beta{plan.prior}; {plan.n_sims} simulated "
                 "experiments per n", fontsize=9)
    fig.tight_layout()
    return fig
