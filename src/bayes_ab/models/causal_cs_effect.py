"""The causal effect of choosing CS help on completing the task: a Bayesian IV model.

Customers choose CS or OTHER themselves, so the naive CS - OTHER completion difference is
confounded (who picks CS differs from who does not). The random assignment moved CS
uptake (the Test widget advertises CS) and, by design, nothing else: it is an instrument.

Estimand (docs/ESTIMANDS.md, ``causal_effect_cs``): at each customer's *first* flag, the
effect of choosing CS (vs OTHER) on completing the flagged task among compliers
(customers who pick CS only when shown the widget), the local average treatment effect
on the probability scale. The first flag is used because it happens before the customer
has seen any widget, so which customers reach it cannot depend on the arm.

Data: per arm Z (Control, Test) x channel D (CS, OTHER) x outcome Y (completed or not),
8 counts.

Model (principal strata, Imbens & Rubin 1997): every customer is a complier (c),
always-taker (a) or never-taker (n); monotonicity rules out defiers and the exclusion
restriction lets the arm change the outcome only through D::

    (pi_c, pi_a, pi_n) ~ Dirichlet(1, 1, 1)
    eta_c0, eta_c1, eta_a, eta_n ~ Beta(1, 1)        P(Y = 1 | stratum, D)
    Control: P(CS, y) = pi_a f(y; eta_a);  P(OTHER, y) = pi_c f(y; eta_c0) + pi_n f(y; eta_n)
    Test:    P(CS, y) = pi_c f(y; eta_c1) + pi_a f(y; eta_a);  P(OTHER, y) = pi_n f(y; eta_n)
    counts[Z] ~ Multinomial(n[Z], P[Z, D, Y])        f(y; e) = e^y (1 - e)^(1 - y)

The mixture over strata is summed analytically inside each cell, so the likelihood is
exact on the counts. LATE = eta_c1 - eta_c0. Beside it, in the same model but with their
own parameters (so they do not inform the strata): the naive difference P(Y | CS) -
P(Y | OTHER) at the first flag (Beta(1, 1) posteriors on the pooled counts) and the
unconstrained first stage P(CS | Test) - P(CS | Control) (which, unlike the complier
share, can show a negative uptake effect that would contradict monotonicity). The Wald
ratio (ITT on Y / ITT on D) is reported as a frequentist cross-check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from bayes_ab.constants import ARMS, CHANNELS
from bayes_ab.errors import DataError
from bayes_ab.inference.intervals import prob_draws_greater
from bayes_ab.models.base import BayesModel, model_data
from bayes_ab.models.priors import Prior
from bayes_ab.results import Interval, Result, posterior_interval

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm
    from matplotlib.figure import Figure

    from bayes_ab.data.schema import ExperimentData

__all__ = ["CausalCsEffect", "CausalCsEffectStats", "WEAK_FIRST_STAGE"]

#: A first stage below this (absolute share of customers moved to CS), or one whose HDI
#: includes 0, makes the LATE fragile: it is flagged in the summary.
WEAK_FIRST_STAGE = 0.02

OUTCOMES = ("not_completed", "completed")
STRATA = ("complier", "always_taker", "never_taker")


@dataclass(frozen=True)
class CausalCsEffectStats:
    """Counts of first flags by arm (Control, Test) x channel (CS, OTHER) x outcome
    (not completed, completed)."""

    counts: tuple

    def __post_init__(self) -> None:
        arr = np.asarray(self.counts, dtype=float)
        if arr.shape != (len(ARMS), len(CHANNELS), len(OUTCOMES)):
            raise ValueError("counts must have shape (arm, channel, outcome) = (2, 2, 2), "
                             f"got {arr.shape}")
        if np.any(arr < 0) or np.any(arr != np.round(arr)):
            raise ValueError("counts must be non-negative whole numbers")
        object.__setattr__(self, "counts", tuple(tuple(tuple(int(v) for v in row) for row in m)
                                                 for m in arr.astype(np.int64)))

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.counts, dtype=np.int64)

    def to_dict(self) -> dict:
        return {"counts": [[list(r) for r in m] for m in self.counts]}

    @classmethod
    def from_dict(cls, d: dict) -> CausalCsEffectStats:
        return cls(counts=d["counts"])

    def wald(self) -> float | None:
        """(P(Y | Test) - P(Y | Control)) / (P(CS | Test) - P(CS | Control)); None when the
        first stage is exactly 0 or an arm has no flags."""
        a = self.array.astype(float)
        n = a.sum(axis=(1, 2))
        if np.any(n == 0):
            return None
        y = a[:, :, 1].sum(axis=1) / n
        d = a[:, 0, :].sum(axis=1) / n
        fs = d[1] - d[0]
        return None if fs == 0 else float((y[1] - y[0]) / fs)

    @classmethod
    def from_episodes(cls, episodes) -> CausalCsEffectStats:
        """Counts at each customer's first flag (``flag_index == 1``, else earliest
        ``flagged_at``) from a help-episode table."""
        import pandas as pd

        need = {"customer_id", "cohort", "channel", "completed"}
        missing = need - set(episodes.columns)
        if missing:
            raise DataError(f"help episodes lack column(s) {sorted(missing)}")
        if "flag_index" in episodes.columns:
            first = episodes[episodes["flag_index"] == 1]
        elif "flagged_at" in episodes.columns:
            first = episodes.sort_values("flagged_at", kind="stable").drop_duplicates("customer_id")
        else:
            raise DataError("help episodes need flag_index or flagged_at to find first flags")
        if first["customer_id"].duplicated().any():
            raise DataError("more than one first flag for some customer")
        df = pd.DataFrame({"arm": first["cohort"].astype(str),
                           "channel": first["channel"].astype(str),
                           "y": first["completed"].astype(bool).astype(int)})
        bad = ~df["arm"].isin(ARMS) | ~df["channel"].isin(CHANNELS)
        if bad.any():
            raise DataError(f"{int(bad.sum())} first flag(s) with unknown cohort or channel")
        index = pd.MultiIndex.from_product([ARMS, CHANNELS, [0, 1]], names=["arm", "channel", "y"])
        counts = df.groupby(["arm", "channel", "y"]).size().reindex(index, fill_value=0)
        return cls(counts=counts.to_numpy().reshape(len(ARMS), len(CHANNELS), 2))

    @classmethod
    def from_experiment(cls, data: ExperimentData) -> CausalCsEffectStats:
        if len(data.help_episodes) == 0:
            raise DataError("no help flags in the data: the IV model needs first flags")
        return cls.from_episodes(data.help_episodes)


@dataclass(frozen=True)
class CausalCsEffectResult(Result):
    """The causal effect of choosing CS on completion (the compliers' LATE) with the naive
    difference, the Wald estimate, the first stage and the assumptions it rests on. results.json
    writes ``causal_effect`` as ``help_channels.causal_effect`` and the rest as
    ``help_channels.causal_effect_details``."""

    causal_effect: Interval
    prob_cs_causes_completion: float
    naive_difference: Interval
    wald: float | None
    complier_share: Interval
    first_stage: Interval
    itt_completion: Interval
    weak_instrument: bool
    weak_instrument_note: str | None
    n_first_flags: Mapping[str, int]
    assumptions: str


class CausalCsEffect(BayesModel):
    """Complier average causal effect of CS help at the first flag (module doc)."""

    name: ClassVar[str] = "causal_cs_effect"
    stats_type: ClassVar[type] = CausalCsEffectStats
    default_priors: ClassVar[dict[str, Prior]] = {
        # Shares of compliers, always-takers and never-takers: uniform on the simplex.
        "strata": Prior("Dirichlet", a=[1.0, 1.0, 1.0], dims="stratum"),
        # Completion rate of each stratum (compliers under each channel): uniform.
        "outcome": Prior("Beta", alpha=1.0, beta=1.0),
        # The observational CS and OTHER completion rates, and the CS uptake per arm.
        "naive_rate": Prior("Beta", alpha=1.0, beta=1.0, dims="channel"),
        "uptake_rate": Prior("Beta", alpha=1.0, beta=1.0, dims="arm"),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = (
        "strata_share", "eta_complier", "eta_always", "eta_never", "naive_rate", "uptake_rate",
    )

    @property
    def coords(self) -> dict:
        return {"arm": list(ARMS), "channel": list(CHANNELS), "outcome": list(OUTCOMES),
                "stratum": list(STRATA), "treatment": ["OTHER", "CS"]}

    def build(self) -> pm.Model:
        import pymc as pm
        import pytensor.tensor as pt

        pr = self.priors
        counts = self.stats.array  # arm x channel(CS, OTHER) x outcome(0, 1)
        with pm.Model(coords=self.coords) as model:
            share = pr["strata"].create_variable("strata_share")
            # D = OTHER, CS
            eta_c = pr["outcome"].create_variable("eta_complier", dims="treatment")
            eta_a = pr["outcome"].create_variable("eta_always")
            eta_n = pr["outcome"].create_variable("eta_never")
            pi_c, pi_a, pi_n = share[0], share[1], share[2]

            def bern(e):
                return pt.stack([1.0 - e, e])

            control = pt.stack([pi_a * bern(eta_a), pi_c * bern(eta_c[0]) + pi_n * bern(eta_n)])
            test = pt.stack([pi_c * bern(eta_c[1]) + pi_a * bern(eta_a), pi_n * bern(eta_n)])
            cell_p = pm.Deterministic("cell_p", pt.stack([control, test]),
                                      dims=("arm", "channel", "outcome"))
            # counts as data, not constants (bayes_ab.inference.compile_cache)
            n_arm = model_data("customers_by_arm", counts.sum(axis=(1, 2)))
            pm.Multinomial("cells", n=n_arm, p=cell_p.reshape((2, 4)),
                           observed=model_data("cells_obs", counts.reshape(2, 4)))
            pm.Deterministic("late", eta_c[1] - eta_c[0])
            pm.Deterministic("itt_completion", pi_c * (eta_c[1] - eta_c[0]))

            # Separate parameters: the observational comparison and the raw first stage.
            by_channel = counts.sum(axis=0)  # channel x outcome
            naive = pr["naive_rate"].create_variable("naive_rate")
            pm.Binomial("completed_by_channel", n=model_data("flags_by_channel", by_channel.sum(axis=1)),
                        p=naive, observed=model_data("completed_by_channel_obs", by_channel[:, 1]),
                        dims="channel")
            pm.Deterministic("naive_difference", naive[0] - naive[1])
            uptake = pr["uptake_rate"].create_variable("uptake_rate")
            pm.Binomial("cs_by_arm", n=n_arm, p=uptake,
                        observed=model_data("cs_by_arm_obs", counts[:, 0, :].sum(axis=1)), dims="arm")
            pm.Deterministic("first_stage", uptake[1] - uptake[0])
        return model

    def summarize(self, idata: az.InferenceData) -> CausalCsEffectResult:
        post = idata.posterior
        late = post["late"].values
        first_stage = post["first_stage"].values
        fs = posterior_interval(first_stage)
        weak = bool(abs(fs.mean) < WEAK_FIRST_STAGE or fs.lower <= 0 <= fs.upper)
        n = self.stats.array
        return CausalCsEffectResult(
            causal_effect=posterior_interval(late),
            prob_cs_causes_completion=prob_draws_greater(late),
            naive_difference=posterior_interval(post["naive_difference"].values),
            wald=self.stats.wald(),
            complier_share=posterior_interval(
                post["strata_share"].sel(stratum="complier").values),
            first_stage=fs,
            itt_completion=posterior_interval(post["itt_completion"].values),
            weak_instrument=weak,
            weak_instrument_note=(
                f"the assignment moved CS uptake at the first flag by {fs.mean:.3f} "
                f"(95% HDI {fs.lower:.3f} to {fs.upper:.3f}); with so weak an instrument "
                "the causal estimate is dominated by its prior and should not be read"
                if weak else None),
            n_first_flags={arm: int(n[i].sum()) for i, arm in enumerate(ARMS)},
            assumptions="random assignment, exclusion (the widget changes completion only "
                        "through the channel chosen), monotonicity (no one avoids CS "
                        "because of the widget)",
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures by kind, and ``causal_vs_naive``: the LATE beside the naive
        difference (posterior densities with 95% HDIs). Never saved."""
        from bayes_ab.plotting import causal_vs_naive_figure, standard_figures

        figures = standard_figures(
            idata,
            var_names=["strata_share", "eta_complier", "eta_always", "eta_never", "first_stage"],
            forest_vars=["late", "naive_difference", "itt_completion", "first_stage"],
        )
        figures["causal_vs_naive"] = causal_vs_naive_figure(idata)
        return figures
