"""Bayesian models of the lead funnel, built on the package's `BayesModel` shape.

``StageConversionModel``  hierarchical Beta-Binomial of a stage transition by industry
    (default: stage 3 -> 4). The industry rates are integrated out in the likelihood
    (``y_j ~ BetaBinomial(n_j, mu * kappa, (1 - mu) * kappa)``) so the sampler sees two
    well-behaved parameters; each industry's rate is then drawn exactly from its
    conditional ``Beta(mu * kappa + y_j, (1 - mu) * kappa + n_j - y_j)`` for every
    posterior draw. Same posterior as sampling the rates, no funnel geometry.

``AdvancedLeadModel``  logistic regression of an advanced lead (status >= 4, or = 5) on
    standardized ``log1p`` interaction counts per type, industry intercepts partially
    pooled (non-centred). One row per lead (continuous covariates do not aggregate).

Both are built from frozen, JSON-serialisable statistics, never from files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from bayes_ab.constants import HDI_PROB
from bayes_ab.inference.intervals import draws_interval
from bayes_ab.models.base import BayesModel
from bayes_ab.models.priors import Prior

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pymc as pm


# --------------------------------------------------------------------------- stage conversion


@dataclass(frozen=True)
class StageCounts:
    """Per industry: leads at or beyond the stage of departure (n) and arrival (y)."""

    industries: tuple[str, ...]
    n: tuple[int, ...]
    y: tuple[int, ...]
    from_stage: int = 3
    to_stage: int = 4

    def __post_init__(self) -> None:
        if not (len(self.industries) == len(self.n) == len(self.y)):
            raise ValueError("industries, n and y must have the same length")
        if any(int(b) > int(a) or int(b) < 0 for a, b in zip(self.n, self.y)):
            raise ValueError("need 0 <= y <= n for every industry")

    @classmethod
    def from_leads(cls, leads: pd.DataFrame, *, from_stage: int = 3, to_stage: int = 4
                   ) -> StageCounts:
        s = leads["status"]
        n = (s >= from_stage).groupby(leads["industry"]).sum()
        y = (s >= to_stage).groupby(leads["industry"]).sum()
        keep = n[n > 0].index  # an industry with nobody at the stage says nothing
        return cls(industries=tuple(str(i) for i in keep),
                   n=tuple(int(v) for v in n[keep]), y=tuple(int(v) for v in y[keep]),
                   from_stage=from_stage, to_stage=to_stage)

    @property
    def pooled_rate(self) -> float:
        return sum(self.y) / sum(self.n)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StageCounts:
        return cls(industries=tuple(d["industries"]), n=tuple(d["n"]), y=tuple(d["y"]),
                   from_stage=int(d.get("from_stage", 3)), to_stage=int(d.get("to_stage", 4)))


class StageConversionModel(BayesModel):
    name: ClassVar[str] = "stage3_to_4_by_industry"
    stats_type: ClassVar[type] = StageCounts
    posterior_predictive: ClassVar[bool] = False
    diagnostic_vars: ClassVar[tuple[str, ...]] = ("mu", "log_kappa")
    #: mu: the population mean rate; kappa = exp(log_kappa): prior "lead count" of the
    #: industry-level Beta. Median kappa 20 (moderate pooling), 95% ~ 1 to 400.
    default_priors: ClassVar[dict[str, Prior]] = {
        "mu": Prior("Beta", alpha=1.0, beta=1.0),
        "log_kappa": Prior("Normal", mu=3.0, sigma=1.5),
    }

    def build(self) -> pm.Model:
        import pymc as pm

        st: StageCounts = self.stats
        p = self.priors
        with pm.Model(coords={"industry": list(st.industries)}) as model:
            mu = p["mu"].create_variable("mu")
            log_kappa = p["log_kappa"].create_variable("log_kappa")
            kappa = pm.Deterministic("kappa", pm.math.exp(log_kappa))
            pm.BetaBinomial("y", n=np.asarray(st.n), alpha=mu * kappa,
                            beta=(1.0 - mu) * kappa, observed=np.asarray(st.y),
                            dims="industry")
        return model

    def fit(self, config=None):
        from bayes_ab.inference.fit import SamplerConfig

        config = config or SamplerConfig()
        idata = super().fit(config)
        add_industry_rates(idata, self.stats, seed=config.seed)
        return idata

    def summarize(self, idata: az.InferenceData) -> dict:
        st: StageCounts = self.stats
        post = idata.posterior
        mu = post["mu"].values.ravel()
        theta = post["theta"].values.reshape(-1, len(st.industries))
        by_industry = {}
        for j, ind in enumerate(st.industries):
            diff = theta[:, j] - mu
            iv_diff = draws_interval(diff)
            verdict = ("above" if iv_diff["lower"] > 0 else
                       "below" if iv_diff["upper"] < 0 else "not credibly different")
            by_industry[ind] = {
                "observed": st.y[j] / st.n[j],
                f"n_at_{st.from_stage}_or_beyond": st.n[j],
                f"n_at_{st.to_stage}_or_beyond": st.y[j],
                "posterior": draws_interval(theta[:, j]),
                "diff_vs_overall": iv_diff,
                "prob_above_overall": float(np.mean(diff > 0)),
                "verdict": verdict,
            }
        return {
            "overall": draws_interval(mu),
            "pooled_observed": st.pooled_rate,
            "kappa": draws_interval(post["kappa"].values),
            "by_industry": by_industry,
            "credibly_above": [k for k, v in by_industry.items() if v["verdict"] == "above"],
            "credibly_below": [k for k, v in by_industry.items() if v["verdict"] == "below"],
        }


def add_industry_rates(idata: az.InferenceData, stats: StageCounts, *, seed: int) -> None:
    """Draw theta_j | mu, kappa, y exactly (conjugate) and add it to the posterior."""
    import xarray as xr

    post = idata.posterior
    mu = post["mu"].values[..., None]
    kappa = post["kappa"].values[..., None]
    y = np.asarray(stats.y, dtype=float)
    n = np.asarray(stats.n, dtype=float)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 34]))
    theta = rng.beta(mu * kappa + y, (1.0 - mu) * kappa + n - y)
    idata.posterior["theta"] = xr.DataArray(
        theta, dims=("chain", "draw", "industry"),
        coords={"chain": post["chain"], "draw": post["draw"],
                "industry": list(stats.industries)},
    )


# --------------------------------------------------------------------------- advanced lead


@dataclass(frozen=True)
class LeadFeatures:
    """One row per lead: standardized log1p counts (x), industry index, outcome."""

    feature_names: tuple[str, ...]
    x: tuple[tuple[float, ...], ...]
    industry_idx: tuple[int, ...]
    industries: tuple[str, ...]
    y: tuple[int, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    outcome: str = "status>=4"

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.x, dtype=float).reshape(len(self.y), len(self.feature_names)),
                np.asarray(self.industry_idx, dtype=np.int64), np.asarray(self.y, dtype=np.int64))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LeadFeatures:
        return cls(feature_names=tuple(d["feature_names"]),
                   x=tuple(tuple(r) for r in d["x"]), industry_idx=tuple(d["industry_idx"]),
                   industries=tuple(d["industries"]), y=tuple(d["y"]),
                   center=tuple(d["center"]), scale=tuple(d["scale"]),
                   outcome=d.get("outcome", "status>=4"))


def build_features(counts: pd.DataFrame, industry: pd.Series, y, *, industries,
                   center=None, scale=None, outcome: str = "status>=4") -> LeadFeatures:
    """log1p counts standardized with the (training) center/scale given, or their own."""
    z = np.log1p(counts.to_numpy(dtype=float))
    center = z.mean(axis=0) if center is None else np.asarray(center)
    scale = z.std(axis=0) if scale is None else np.asarray(scale)
    scale = np.where(scale > 0, scale, 1.0)
    xs = (z - center) / scale
    lookup = {ind: i for i, ind in enumerate(industries)}
    idx = [lookup[i] for i in industry]
    return LeadFeatures(
        feature_names=tuple(str(c) for c in counts.columns),
        x=tuple(tuple(float(v) for v in row) for row in xs),
        industry_idx=tuple(idx), industries=tuple(industries),
        y=tuple(int(v) for v in np.asarray(y)),
        center=tuple(float(v) for v in center), scale=tuple(float(v) for v in scale),
        outcome=outcome,
    )


class AdvancedLeadModel(BayesModel):
    name: ClassVar[str] = "advanced_lead"
    stats_type: ClassVar[type] = LeadFeatures
    posterior_predictive: ClassVar[bool] = False
    diagnostic_vars: ClassVar[tuple[str, ...]] = ("intercept", "beta", "sigma_industry",
                                                  "z_industry")
    #: Effects are per standard deviation of log1p(count); Normal(0, 1) keeps an odds
    #: ratio per SD within ~e^2 a priori without ruling out strong effects.
    default_priors: ClassVar[dict[str, Prior]] = {
        "intercept": Prior("Normal", mu=-2.0, sigma=2.0),
        "beta": Prior("Normal", mu=0.0, sigma=1.0, dims="feature"),
        "sigma_industry": Prior("HalfNormal", sigma=1.0),
    }

    def __init__(self, stats, *, priors=None, with_interactions: bool = True) -> None:
        super().__init__(stats, priors=priors)
        self.with_interactions = with_interactions

    def build(self) -> pm.Model:
        import pymc as pm

        st: LeadFeatures = self.stats
        x, idx, y = self.stats.arrays()
        p = self.priors
        coords = {"feature": list(st.feature_names), "industry": list(st.industries),
                  "lead": np.arange(len(y))}
        with pm.Model(coords=coords) as model:
            x_data = pm.Data("x", x, dims=("lead", "feature"))
            idx_data = pm.Data("industry_idx", idx, dims="lead")
            a = p["intercept"].create_variable("intercept")
            sigma = p["sigma_industry"].create_variable("sigma_industry")
            z = pm.Normal("z_industry", 0.0, 1.0, dims="industry")
            a_ind = pm.Deterministic("industry_effect", sigma * z, dims="industry")
            eta = a + a_ind[idx_data]
            if self.with_interactions:
                b = p["beta"].create_variable("beta")
                eta = eta + pm.math.dot(x_data, b)
            pm.Bernoulli("y", logit_p=eta, observed=y, dims="lead")
        return model

    def fit(self, config=None):
        import pymc as pm

        from bayes_ab.inference.fit import SamplerConfig, sample

        config = config or SamplerConfig()
        model = self.build()
        name = self.name if self.with_interactions else f"{self.name}_industry_only"
        idata = sample(model, name=name, config=config, model_config=self.model_config())
        # LOO needs the pointwise log-likelihood, which nutpie does not store.
        pm.compute_log_likelihood(idata, model=model, extend_inferencedata=True,
                                  progressbar=False)
        return idata

    def diagnostics(self, idata):
        from bayes_ab.inference.diagnostics import check

        names = [v for v in self.diagnostic_vars if v in idata.posterior]
        name = self.name if self.with_interactions else f"{self.name}_industry_only"
        return check(idata, name=name, var_names=names)

    def predict_proba(self, idata: az.InferenceData, features: LeadFeatures) -> np.ndarray:
        """Posterior mean P(y = 1) for new leads (draws x leads averaged)."""
        x, idx, _ = features.arrays()
        post = idata.posterior
        a = post["intercept"].values.reshape(-1)
        a_ind = post["industry_effect"].values.reshape(len(a), -1)
        eta = a[:, None] + a_ind[:, idx]
        if self.with_interactions:
            b = post["beta"].values.reshape(len(a), -1)
            eta = eta + b @ x.T
        return (1.0 / (1.0 + np.exp(-eta))).mean(axis=0)

    def summarize(self, idata: az.InferenceData) -> dict:
        st: LeadFeatures = self.stats
        post = idata.posterior
        out: dict = {"outcome": st.outcome, "intercept": draws_interval(post["intercept"].values),
                     "sigma_industry": draws_interval(post["sigma_industry"].values)}
        if self.with_interactions:
            b = post["beta"].values.reshape(-1, len(st.feature_names))
            effects = []
            for j, name in enumerate(st.feature_names):
                iv = draws_interval(b[:, j])
                effects.append({"name": name, "effect": iv,
                                "odds_ratio_per_sd": draws_interval(np.exp(b[:, j])),
                                "prob_positive": float(np.mean(b[:, j] > 0))})
            effects.sort(key=lambda e: -abs(e["effect"]["mean"]))
            out["effects"] = effects
        ind = post["industry_effect"].values.reshape(-1, len(st.industries))
        out["industry_effects"] = {name: draws_interval(ind[:, j])
                                   for j, name in enumerate(st.industries)}
        return out


def loo_summary(idata: az.InferenceData) -> dict:
    """PSIS-LOO of a fitted model: elpd, its SE, p_loo and the worst Pareto k."""
    import arviz as az
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = az.loo(idata, pointwise=True)
    return {"elpd_loo": float(res.elpd_loo), "se": float(res.se), "p_loo": float(res.p_loo),
            "max_pareto_k": float(np.nanmax(res.pareto_k.values)),
            "n_pareto_k_above_0_7": int((res.pareto_k.values > 0.7).sum())}


def loo_difference(idata_a: az.InferenceData, idata_b: az.InferenceData) -> dict:
    """elpd_loo(a) - elpd_loo(b) with the SE of the pointwise difference."""
    import arviz as az
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        la = az.loo(idata_a, pointwise=True).loo_i.values
        lb = az.loo(idata_b, pointwise=True).loo_i.values
    d = la - lb
    return {"elpd_diff": float(d.sum()), "se": float(np.sqrt(len(d)) * d.std(ddof=1))}


HDI = HDI_PROB  # re-exported for scripts that label their figures
