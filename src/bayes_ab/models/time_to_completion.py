"""Time to completion after a help flag, by channel: a piecewise-exponential survival model.

Estimand (docs/ESTIMANDS.md, ``time_to_completion``): the hazard ratio of completing the
flagged task, CS vs OTHER, in a proportional-hazards model with channel and task effects,
time in minutes from the flag, right-censored at the end of the observation window; and
per channel the minute at which the survival curve (probability of not yet having
completed, pooled over that channel's flags' task mix) crosses 0.5, null when it does not
inside the observed window.

Data: one row per flag (``ExperimentData.help_episodes``: ``minutes`` to completion or to
the end of the window, ``censored``). Flags that never complete are right-censored at the
window end, never dropped. The minutes are cut into intervals and reduced, vectorised, to
events ``d`` and exposure ``E`` (minutes at risk inside the interval) per channel x task x
interval: at most 2 x 3 x 20 numbers, whatever the number of customers.

Model (piecewise-constant hazard; the Poisson likelihood on (d, E) is the exact
likelihood of the censored exponential pieces, up to a constant)::

    d[c, t, j] ~ Poisson(E[c, t, j] * exp(log_h[j] + beta_cs * [c = CS] + task[t]))
    log_h[0] ~ Normal(log(sum d / sum E) + mu0, sd0)                      (random walk:
    log_h[j] ~ Normal(log_h[j - 1], sigma_rw),  sigma_rw ~ HalfNormal      smoothing prior)
    task[1] = 0, task[2], task[3] ~ Normal(0, 1)                          (task 1 = baseline)

The crude log rate centres the first interval's prior on any time scale. The random walk is
*centered*: every interval holds hundreds of events, which pin its log hazard, and there
the non-centered form (cumulated z-scores) is a curved ridge. Measured on 20k simulated
flags (4 x 1000 draws, target_accept 0.9): non-centered 2 divergences, r_hat 1.011, 54
leapfrog steps per draw; centered 0 divergences, r_hat 1.002, ESS 1700, 8 steps per draw.

Interval edges default to those used for the simulator's truth (0, 2, 5, 10, ..., 4320
minutes), cut at the longest observed time, the last partial interval merged into the one
before when it is shorter than half of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bayes_ab.constants import CHANNELS, HDI_PROB, TASKS
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

__all__ = ["DEFAULT_EDGES_MIN", "TimeToCompletion", "TimeToCompletionStats", "bin_edges", "binned_events_exposure"]

#: Candidate interval edges (minutes from the flag): fine where most completions happen,
#: coarse in the long tail. The same edges define the simulator's truth.
DEFAULT_EDGES_MIN = (
    0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0,
    360.0, 480.0, 720.0, 1080.0, 1440.0, 2160.0, 2880.0, 4320.0,
)

#: Points per interval of the grid on which survival curves and medians are evaluated.
_GRID_PER_INTERVAL = 40
#: Kaplan-Meier evaluation times stored with the statistics (for the PPC figure).
KM_POINTS = 80


def bin_edges(max_minutes: float, *, candidates=DEFAULT_EDGES_MIN) -> tuple[float, ...]:
    """Candidate edges below the longest observed time, closed by that time; a last interval
    shorter than half the one before is merged into it (too little exposure to estimate)."""
    if not np.isfinite(max_minutes) or max_minutes <= 0:
        raise DataError("time to completion: no positive follow-up time in the help flags")
    inner = [float(e) for e in candidates if 0 < e < max_minutes]
    edges = [0.0, *inner, float(max_minutes)]
    if len(edges) >= 3 and (edges[-1] - edges[-2]) < 0.5 * (edges[-2] - edges[-3]):
        del edges[-2]
    return tuple(edges)


def binned_events_exposure(minutes, event, group, *, n_groups: int,
                           edges) -> tuple[np.ndarray, np.ndarray]:
    """Events and exposure (minutes at risk) per (group, interval), vectorised.

    An event at time t falls in the interval (lo, hi] holding t; a flag contributes
    min(max(t - lo, 0), hi - lo) minutes of exposure to every interval. Time beyond the
    last edge is cut (it cannot happen with edges closed by the longest time).
    """
    minutes = np.asarray(minutes, float)
    event = np.asarray(event, bool)
    group = np.asarray(group, np.int64)
    edges = np.asarray(edges, float)
    nb = len(edges) - 1
    events = np.zeros((n_groups, nb))
    exposure = np.zeros((n_groups, nb))
    for b in range(nb):
        lo, hi = edges[b], edges[b + 1]
        exposure[:, b] = np.bincount(group, weights=np.clip(minutes - lo, 0.0, hi - lo),
                                     minlength=n_groups)
        hit = event & (minutes > lo) & (minutes <= hi)
        if b == 0:
            hit |= event & (minutes == lo)  # a completion at 0 minutes counts in the first interval
        events[:, b] = np.bincount(group, weights=hit.astype(float), minlength=n_groups)
    return events, exposure


@dataclass(frozen=True)
class TimeToCompletionStats:
    """Events and exposure per channel x task x interval, flags per channel x task, and the
    Kaplan-Meier curve of each channel at ``km_times`` (kept for the PPC, ~80 numbers)."""

    edges: tuple
    events: tuple
    exposure: tuple
    flags: tuple
    km_times: tuple = ()
    km_survival: tuple = ()

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, float)
        if edges.ndim != 1 or edges.size < 2 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
            raise ValueError("edges must start at 0 and increase")
        shape = (len(CHANNELS), len(TASKS), edges.size - 1)
        events = np.asarray(self.events, float)
        exposure = np.asarray(self.exposure, float)
        flags = np.asarray(self.flags, float)
        if events.shape != shape or exposure.shape != shape:
            raise ValueError(f"events and exposure must have shape {shape}")
        if flags.shape != shape[:2]:
            raise ValueError(f"flags must have shape {shape[:2]}")
        if np.any(events < 0) or np.any(exposure < 0) or np.any(events != np.round(events)):
            raise ValueError("events must be whole numbers >= 0 and exposure >= 0")
        if np.any((exposure == 0) & (events > 0)):
            raise ValueError("an interval with events must have exposure")
        object.__setattr__(self, "edges", tuple(float(x) for x in edges))
        object.__setattr__(self, "events", _freeze(events.astype(np.int64)))
        object.__setattr__(self, "exposure", _freeze(exposure))
        object.__setattr__(self, "flags", _freeze(flags.astype(np.int64)))
        object.__setattr__(self, "km_times", tuple(float(x) for x in self.km_times))
        object.__setattr__(self, "km_survival", _freeze(np.asarray(self.km_survival, float))
                           if len(self.km_survival) else ())

    @property
    def events_array(self) -> np.ndarray:
        return np.asarray(self.events, dtype=float)

    @property
    def exposure_array(self) -> np.ndarray:
        return np.asarray(self.exposure, dtype=float)

    @property
    def flags_array(self) -> np.ndarray:
        return np.asarray(self.flags, dtype=float)

    @property
    def window_minutes(self) -> float:
        return float(self.edges[-1])

    def to_dict(self) -> dict:
        return {"edges": list(self.edges), "events": _thaw(self.events),
                "exposure": _thaw(self.exposure), "flags": _thaw(self.flags),
                "km_times": list(self.km_times), "km_survival": _thaw(self.km_survival)}

    @classmethod
    def from_dict(cls, d: dict) -> TimeToCompletionStats:
        return cls(edges=d["edges"], events=d["events"], exposure=d["exposure"], flags=d["flags"],
                   km_times=d.get("km_times", ()), km_survival=d.get("km_survival", ()))

    @classmethod
    def from_episodes(cls, episodes, *, edges=None, kaplan_meier: bool = True) -> TimeToCompletionStats:
        """Aggregate a help-episode table (columns channel, task, minutes, censored)."""
        missing = {"channel", "task", "minutes", "censored"} - set(episodes.columns)
        if missing:
            raise DataError(f"help episodes lack column(s) {sorted(missing)}")
        if len(episodes) == 0:
            raise DataError("no help flags in the data: the time-to-completion model needs some")
        channel = episodes["channel"].astype(str).to_numpy()
        task = episodes["task"].astype(int).to_numpy()
        minutes = episodes["minutes"].astype(float).to_numpy()
        event = ~episodes["censored"].astype(bool).to_numpy()
        bad = (~np.isin(channel, CHANNELS) | ~np.isin(task, TASKS) | ~np.isfinite(minutes)
               | (minutes < 0))
        if bad.any():
            raise DataError(f"{int(bad.sum())} help episode(s) with unknown channel/task or "
                            "missing/negative minutes")
        edges = bin_edges(float(minutes.max())) if edges is None else tuple(edges)
        c = np.where(channel == CHANNELS[0], 0, 1)
        group = c * len(TASKS) + (task - 1)
        n_groups = len(CHANNELS) * len(TASKS)
        events, exposure = binned_events_exposure(minutes, event, group, n_groups=n_groups,
                                                  edges=edges)
        shape = (len(CHANNELS), len(TASKS), len(edges) - 1)
        flags = np.bincount(group, minlength=n_groups).reshape(shape[:2])
        km_times, km_survival = (), ()
        if kaplan_meier:
            km_times, km_survival = _kaplan_meier(minutes, event, c, window=edges[-1])
        return cls(edges=edges, events=events.reshape(shape), exposure=exposure.reshape(shape),
                   flags=flags, km_times=km_times, km_survival=km_survival)

    @classmethod
    def from_experiment(cls, data: ExperimentData, *, edges=None) -> TimeToCompletionStats:
        return cls.from_episodes(data.help_episodes, edges=edges)


def _freeze(arr) -> tuple:
    arr = np.asarray(arr)
    if arr.ndim > 1:
        return tuple(_freeze(x) for x in arr)
    return tuple(int(x) if np.issubdtype(arr.dtype, np.integer) else float(x) for x in arr)


def _thaw(t) -> list:
    return [(_thaw(x) if isinstance(x, tuple) else x) for x in t]


def km_times(window: float) -> np.ndarray:
    """The times (minutes) at which Kaplan-Meier curves are stored: fine over the first two
    hours, geometric up to ``window``."""
    return np.unique(np.concatenate([
        np.linspace(0.0, min(window, 120.0), KM_POINTS // 2),
        np.geomspace(1.0, window, KM_POINTS // 2),
    ]))


def kaplan_meier_at(durations, events, grid, *, weights=None) -> np.ndarray:
    """The Kaplan-Meier survival at each time of ``grid``: the product, over the event
    times u <= t, of 1 - d_u / n_u, with d_u the events at u and n_u the flags still
    followed just before u (censored at u or later), each counted with its weight (the
    number of identical rows: the engine's grouped follow-up times). 1 before the first
    event time. lifelines' ``KaplanMeierFitter(...).survival_function_at_times`` gives
    the same curve to the last digits (tests); computed here in numpy because importing
    lifelines for it cost the main process 0.3-0.5 s (its Cox fit, in the frequentist
    cross-checks, still uses lifelines)."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    w = np.ones(d.size) if weights is None else np.asarray(weights, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if d.size == 0:
        return np.full(grid.size, np.nan)
    u, inv = np.unique(d, return_inverse=True)
    deaths = np.bincount(inv, weights=w * e, minlength=u.size)
    at_risk = np.bincount(inv, weights=w, minlength=u.size)[::-1].cumsum()[::-1]
    factor = np.where(at_risk > 0, 1.0 - deaths / np.where(at_risk > 0, at_risk, 1.0), 1.0)
    surv = np.cumprod(factor)
    i = np.searchsorted(u, grid, side="right") - 1
    return np.where(i >= 0, surv[np.maximum(i, 0)], 1.0)


def _kaplan_meier(minutes, event, channel_index, *, window: float):
    """KM survival of each channel's flags at a grid of times (`kaplan_meier_at`)."""
    times = km_times(window)
    curves = []
    for c in range(len(CHANNELS)):
        sel = channel_index == c
        if not sel.any():
            curves.append(np.full(times.size, np.nan))
            continue
        curves.append(kaplan_meier_at(np.asarray(minutes)[sel], np.asarray(event)[sel], times))
    return tuple(times), np.vstack(curves)


@dataclass(frozen=True)
class TimeToCompletionResult(Result):
    """results.json ``help_channels.time_to_completion``: hazard ratio CS vs OTHER, median
    minutes to completion per channel (None where under half complete inside the window).
    ``frequentist`` (log-rank and Cox) is added by the pipeline."""

    hazard_ratio_cs_vs_other: Interval
    prob_cs_faster: float
    median_minutes: Mapping[str, Interval | None]
    median_reached_prob: Mapping[str, float]
    median_note: str | None
    window_minutes: float | int
    edges_minutes: list
    n_flags: Mapping[str, int]
    frequentist: Mapping[str, Any] | None = None

    json_omit_none: ClassVar = frozenset({"frequentist"})


class TimeToCompletion(BayesModel):
    """Piecewise-exponential proportional-hazards model of time to completion (module doc)."""

    name: ClassVar[str] = "time_to_completion"
    stats_type: ClassVar[type] = TimeToCompletionStats
    default_priors: ClassVar[dict[str, Prior]] = {
        # Log baseline hazard of the first interval, around the crude log rate (events /
        # exposure) added in `build`.
        "log_baseline_start": Prior("Normal", mu=0.0, sigma=2.0),
        # Step sd of the log baseline hazard's random walk across intervals.
        "random_walk_sd": Prior("HalfNormal", sigma=0.5),
        # Log hazard ratio CS vs OTHER.
        "log_hr_cs": Prior("Normal", mu=0.0, sigma=1.0),
        # Log hazard ratio of each task against the first.
        "task_effect": Prior("Normal", mu=0.0, sigma=1.0, dims="task_vs_first"),
    }
    diagnostic_vars: ClassVar[tuple[str, ...]] = (
        "sigma_rw", "log_baseline", "beta_cs", "task_effect",
    )

    @property
    def coords(self) -> dict:
        edges = self.stats.edges
        labels = [f"{edges[j]:g}-{edges[j + 1]:g}" for j in range(len(edges) - 1)]
        return {"channel": list(CHANNELS), "task": list(TASKS), "interval": labels,
                "task_vs_first": list(TASKS[1:])}

    def build(self) -> pm.Model:
        import pymc as pm
        import pytensor.tensor as pt

        pr = self.priors
        d = self.stats.events_array
        e = self.stats.exposure_array
        # Exposure-free cells carry no information and would give log(0) offsets.
        keep = e.ravel() > 0
        ci, ti, ji = (ix.ravel()[keep] for ix in np.indices(d.shape))
        crude = np.log(max(d.sum(), 0.5) / e.sum())
        coords = {**self.coords, "cell": np.flatnonzero(keep).tolist()}
        with pm.Model(coords=coords) as model:
            # the data as data, not constants (bayes_ab.inference.compile_cache reuses the
            # compiled model for any data of these shapes)
            crude = model_data("crude_log_rate", np.asarray(crude, dtype=float))
            log_exposure = model_data("log_exposure", np.log(e.ravel()[keep]))
            ji = model_data("interval_index", ji.astype(np.int64))
            ti = model_data("task_index", ti.astype(np.int64))
            is_cs = model_data("is_cs", (ci == 0).astype(float))
            sigma_rw = pr["random_walk_sd"].create_variable("sigma_rw")
            start = pr["log_baseline_start"]
            log_baseline = pm.GaussianRandomWalk(
                "log_baseline", mu=0.0, sigma=sigma_rw,
                init_dist=start.dist(mu=crude + start["mu"]),
                steps=d.shape[2] - 1, dims="interval",
            )
            beta_cs = pr["log_hr_cs"].create_variable("beta_cs")
            task_free = pr["task_effect"].create_variable("task_free")
            task_effect = pm.Deterministic(
                "task_effect", pt.concatenate([pt.zeros(1), task_free]), dims="task")
            pm.Deterministic("hazard_ratio", pt.exp(beta_cs))
            log_mu = log_exposure + log_baseline[ji] + beta_cs * is_cs + task_effect[ti]
            pm.Poisson("events", mu=pt.exp(log_mu), observed=model_data("events_obs", d.ravel()[keep]),
                       dims="cell")
        return model

    # -- derived quantities ------------------------------------------------------------
    def time_grid(self) -> np.ndarray:
        edges = np.asarray(self.stats.edges)
        pieces = [np.linspace(edges[j], edges[j + 1], _GRID_PER_INTERVAL, endpoint=False)
                  for j in range(len(edges) - 1)]
        return np.concatenate([*pieces, edges[-1:]])

    def survival_curves(self, idata: az.InferenceData, times=None) -> tuple[np.ndarray, np.ndarray]:
        """(times, S) with S of shape (draws, channel, time): each channel's survival pooled
        over its own flags' task mix, S_c(t) = sum_t w[c, t] exp(-H_{c,t}(t)). On the default
        grid the curves of the last posterior asked for are kept (the summary and the figure
        both need them: about 0.3 s each), read-only."""
        cached = getattr(self, "_survival_cache", None)
        if times is None and cached is not None and cached[0] is idata:
            return cached[1]
        result = self._survival_curves(idata, times)
        if times is None:
            for arr in result:
                arr.flags.writeable = False
            self._survival_cache = (idata, result)
        return result

    def _survival_curves(self, idata: az.InferenceData, times=None) -> tuple[np.ndarray, np.ndarray]:
        post = idata.posterior
        times = self.time_grid() if times is None else np.asarray(times, float)
        edges = np.asarray(self.stats.edges)
        lb = post["log_baseline"].transpose("chain", "draw", "interval").values
        lb = lb.reshape(-1, lb.shape[-1])
        beta = post["beta_cs"].values.reshape(-1)
        task = post["task_effect"].transpose("chain", "draw", "task").values.reshape(-1, len(TASKS))
        # Cumulative baseline hazard at `times`: full intervals before t plus the part of t's own.
        widths = np.diff(edges)
        inside = np.clip(times[:, None] - edges[None, :-1], 0.0, widths[None, :])  # time x interval
        h0_cum = np.exp(lb) @ inside.T  # draws x time
        flags = self.stats.flags_array
        w = flags / np.maximum(flags.sum(axis=1, keepdims=True), 1)
        out = np.zeros((lb.shape[0], len(CHANNELS), times.size))
        # In place, through one small buffer of draws x time (a third of the time of the
        # draws x task x time temporaries: 0.26 vs 0.77 s at 4000 draws x 801 times).
        # The buffer holds a block of draws, under numpy's 4 MiB huge-page size: every
        # array of fresh memory costs page faults (about 0.5 s for the 51 MB result in a
        # forked child on the benchmark machine), and two full-size temporaries were
        # 50 MB more of them. Each element is computed exactly as before.
        neg_h0 = np.negative(h0_cum, out=h0_cum)
        block = max(1, (3 << 20) // (8 * max(times.size, 1)))
        buf = np.empty((min(block, lb.shape[0]), times.size))
        for c in range(len(CHANNELS)):
            scale = np.exp(task + (beta[:, None] if c == 0 else 0.0))  # draws x task
            for d0 in range(0, lb.shape[0], block):
                d1 = min(d0 + block, lb.shape[0])
                b = buf[: d1 - d0]
                for t in range(len(TASKS)):
                    np.multiply(neg_h0[d0:d1], scale[d0:d1, t, None], out=b)
                    np.exp(b, out=b)
                    b *= w[c, t]
                    out[d0:d1, c, :] += b
        return times, out

    def median_draws(self, idata: az.InferenceData) -> np.ndarray:
        """Draws x channel of the minute where the pooled survival crosses 0.5 (nan if not
        inside the window). Linear interpolation on a grid of 40 points per interval."""
        times, surv = self.survival_curves(idata)
        below = surv <= 0.5
        crossed = below.any(axis=-1)
        i = np.argmax(below, axis=-1)
        i0 = np.maximum(i - 1, 0)
        s0 = np.take_along_axis(surv, i0[..., None], -1)[..., 0]
        s1 = np.take_along_axis(surv, i[..., None], -1)[..., 0]
        frac = np.divide(s0 - 0.5, s0 - s1, out=np.zeros_like(s0), where=s0 > s1)
        med = times[i0] + frac * (times[i] - times[i0])
        return np.where(crossed, med, np.nan)

    def summarize(self, idata: az.InferenceData) -> TimeToCompletionResult:
        hr = np.exp(idata.posterior["beta_cs"].values.reshape(-1))
        med = self.median_draws(idata)
        medians, reached, notes = {}, {}, []
        for c, ch in enumerate(CHANNELS):
            ok = np.isfinite(med[:, c])
            reached[ch.lower()] = float(ok.mean())
            # The interval is published only when (nearly) every draw crosses 0.5 inside the
            # window; otherwise its upper end is beyond what the data can show.
            if ok.mean() >= HDI_PROB + (1 - HDI_PROB) / 2:
                medians[ch.lower()] = posterior_interval(med[ok, c])
            else:
                medians[ch.lower()] = None
                notes.append(f"{ch}: the survival curve stays above 0.5 inside the "
                             f"{self.stats.window_minutes:.0f}-minute window in "
                             f"{100 * (1 - ok.mean()):.0f}% of posterior draws (fewer than half "
                             "complete), so the median is not reported")
        return TimeToCompletionResult(
            hazard_ratio_cs_vs_other=posterior_interval(hr),
            prob_cs_faster=prob_draws_greater(hr, 1.0),
            median_minutes=medians,
            median_reached_prob=reached,
            median_note="; ".join(notes) if notes else None,
            window_minutes=self.stats.window_minutes,
            edges_minutes=list(self.stats.edges),
            n_flags={ch.lower(): int(self.stats.flags_array[c].sum())
                     for c, ch in enumerate(CHANNELS)},
        )

    def figures(self, idata: az.InferenceData) -> dict[str, Figure]:
        """The ArviZ figures by kind, and ``survival_km``: the posterior survival per channel
        (mean, 95% HDI band) over the Kaplan-Meier curves. Never saved."""
        from bayes_ab.plotting import standard_figures, survival_figure

        figures = standard_figures(
            idata,
            # task_free, not task_effect: task 1's effect is the constant 0 (nothing to plot).
            var_names=["sigma_rw", "beta_cs", "task_free"],
            forest_vars=["hazard_ratio", "task_free", "log_baseline"],
        )
        times, surv = self.survival_curves(idata)
        figures["survival_km"] = survival_figure(
            times, surv, window_minutes=self.stats.window_minutes,
            km_times=self.stats.km_times, km_survival=self.stats.km_survival)
        return figures
