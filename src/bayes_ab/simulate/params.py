"""The simulator's parameters: `SimParams`, the named `SCENARIOS`, `scenario_params`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bayes_ab.constants import CS_TYPES, DESIGN_TEST_SHARE
from bayes_ab.errors import OptionError


def _default_arrival() -> tuple[float, ...]:
    # Relative sign-up intensity per UTC hour: quiet at night, rising from 07:00,
    # a plateau late morning to afternoon, fading in the evening.
    return (0.6, 0.4, 0.3, 0.3, 0.4, 0.6, 1.0, 1.8, 3.0, 4.2, 5.0, 5.4,
            5.3, 5.2, 5.4, 5.5, 5.1, 4.5, 3.8, 3.2, 2.6, 2.0, 1.4, 0.9)


@dataclass(frozen=True)
class SimParams:
    """Every generative parameter; override any with `dataclasses.replace` or `--set`.

    Units: times in minutes unless the name says otherwise; ``*_logit`` are
    intercepts on the log-odds scale; hour effects are per hour of the day (UTC)
    away from noon (``hour - 12``); ``ability`` is a latent N(0, 1) per customer.
    Mixtures are given as ``*_w`` (weights), ``*_median`` and ``*_sigma`` (of the log).
    Per-task tuples hold tasks 1, 2, 3.
    """

    # --- design and observation window
    test_share: float = DESIGN_TEST_SHARE  # P(Test) of each customer's independent draw
    join_date: str = "2026-05-05"  # every trialer joined on this UTC day
    window_days: float = 3.0  # files end at join_date + window_days (end of join day + 2)
    trial_days: float = 30.0  # conversion window after joining
    arrival_hour_weights: tuple[float, ...] = field(default_factory=_default_arrival)
    id_hex_digits: int = 12  # customer ids: "cus_" + random hex
    duplicate_row_rate: float = 0.0  # imperfection (off by default): activity rows logged twice

    # --- getting started
    attempt_logit: float = 1.9  # P(ever start task 1) at ability 0
    attempt_ability: float = 0.6
    first_start_w: tuple[float, ...] = (0.55, 0.30, 0.15)  # join -> start of task 1
    first_start_median: tuple[float, ...] = (4.0, 50.0, 900.0)
    first_start_sigma: tuple[float, ...] = (0.8, 0.9, 0.6)
    task_length: tuple[float, ...] = (1.0, 1.4, 1.8)  # scales the unaided durations

    # --- getting stuck (a help flag) during a started task
    stuck_logit: tuple[float, ...] = (-0.55, -0.85, -1.05)  # experience: later tasks less
    stuck_ability: float = -0.7  # low ability gets stuck more
    stuck_hour: float = -0.02  # per hour past noon
    stuck_delay_w: tuple[float, ...] = (0.7, 0.3)  # start -> flag
    stuck_delay_median: tuple[float, ...] = (3.0, 14.0)
    stuck_delay_sigma: tuple[float, ...] = (0.6, 0.8)
    flag_tick_seconds: int = 15  # the detector runs every 15 s; flags land on its ticks

    # --- unaided completion (not stuck)
    direct_logit: tuple[float, ...] = (2.3, 2.4, 2.5)
    direct_ability: float = 0.5
    direct_hour: float = 0.02
    direct_w: tuple[float, ...] = (0.75, 0.20, 0.05)
    direct_median: tuple[float, ...] = (5.0, 22.0, 240.0)
    direct_sigma: tuple[float, ...] = (0.6, 0.8, 0.9)

    # --- channel choice at a flag: logit P(CS)
    cs_logit: float = -1.55
    cs_widget: float = 1.45  # the widget's effect (Test arm); 0 in the null scenario
    cs_ability: float = -0.5  # low ability asks CS more: confounds CS vs OTHER
    cs_prior: float = 1.0  # habit: chose CS at an earlier flag
    cs_type_p: tuple[float, ...] = (0.35, 0.20, 0.30, 0.15)  # article, video, chatbot, agent

    # --- completion after a flag: cumulative hazard exp(eta) * F(t), F a lognormal mixture
    help_logit: float = -0.2  # intercept of eta (OTHER, task 1, noon, ability 0)
    help_cs: float = 0.55  # log hazard ratio of CS vs OTHER (conditional)
    help_task: tuple[float, ...] = (0.0, 0.1, 0.2)  # experience
    help_hour: float = 0.015
    help_ability: float = 0.5
    help_w: tuple[float, ...] = (0.55, 0.35, 0.10)
    help_median: tuple[float, ...] = (7.0, 40.0, 420.0)
    help_sigma: tuple[float, ...] = (0.6, 0.8, 1.0)

    # --- moving on to the next task after completing one
    continue_logit: float = 2.2
    continue_ability: float = 0.4
    gap_w: tuple[float, ...] = (0.50, 0.35, 0.15)
    gap_median: tuple[float, ...] = (0.8, 30.0, 1100.0)
    gap_sigma: tuple[float, ...] = (0.8, 1.0, 0.5)

    # --- conversion within the trial: logit = intercept + sum(increments[:n]) + ...
    conv_logit: float = -3.3
    conv_completion_steps: tuple[float, ...] = (0.45, 0.45, 0.75)  # any sign (non_monotone)
    conv_ability: float = 0.35
    conv_cs: float = 0.85  # talking to CS (within the window) sells the subscription
    conv_delay_w: tuple[float, ...] = (0.55, 0.30, 0.15)  # days from joining
    conv_delay_median: tuple[float, ...] = (1.0, 6.0, 18.0)
    conv_delay_sigma: tuple[float, ...] = (0.9, 0.6, 0.35)

    def __post_init__(self) -> None:
        _check_params(self)

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.join_date, tz="UTC")

    @property
    def cutoff(self) -> pd.Timestamp:
        """First instant not in the files (activity and help are censored here)."""
        return self.start + pd.Timedelta(days=self.window_days)


def _check_params(p: SimParams) -> None:
    def bad(name: str, why: str) -> OptionError:
        return OptionError(f"simulator parameter {name}: {why}")

    if not 0.0 < p.test_share < 1.0:
        raise bad("test_share", "must be in (0, 1)")
    if not 1.0 <= p.window_days <= p.trial_days:
        raise bad("window_days", "must be in [1, trial_days]")
    if len(p.arrival_hour_weights) != 24 or min(p.arrival_hour_weights) < 0:
        raise bad("arrival_hour_weights", "needs 24 non-negative weights")
    if not 6 <= p.id_hex_digits <= 32:
        raise bad("id_hex_digits", "must be in 6..32")
    if not 0.0 <= p.duplicate_row_rate < 0.5:
        raise bad("duplicate_row_rate", "must be in [0, 0.5)")
    if p.flag_tick_seconds < 1:
        raise bad("flag_tick_seconds", "must be >= 1")
    for name in ("task_length", "stuck_logit", "direct_logit", "help_task",
                 "conv_completion_steps"):
        if len(getattr(p, name)) != 3:
            raise bad(name, "needs one value per task (3)")
    if len(p.cs_type_p) != len(CS_TYPES) or min(p.cs_type_p) < 0:
        raise bad("cs_type_p", f"needs {len(CS_TYPES)} non-negative probabilities")
    for prefix in ("first_start", "stuck_delay", "direct", "help", "gap", "conv_delay"):
        w, med, sig = (getattr(p, f"{prefix}_{s}") for s in ("w", "median", "sigma"))
        if not len(w) == len(med) == len(sig) >= 1:
            raise bad(f"{prefix}_w/median/sigma", "must have the same length")
        if min(w) < 0 or sum(w) <= 0 or min(med) <= 0 or min(sig) <= 0:
            raise bad(f"{prefix}_w/median/sigma", "weights >= 0, medians and sigmas > 0")


#: Named scenarios: overrides applied to the defaults (which are the `effect` scenario).
SCENARIOS: dict[str, dict[str, Any]] = {
    "effect": {},
    "null": {"cs_widget": 0.0},
    "big_effect": {"cs_widget": 2.2, "help_cs": 0.8},
    # Conversion not monotone in completions: population rates about 4.0%, 11.9%, 6.0%,
    # 20.0% for 0..3 tasks completed (truth.json), so a model that assumes a shape is caught.
    "non_monotone": {"conv_completion_steps": (1.02, -0.85, 1.25), "conv_logit": -3.16},
}


def scenario_params(scenario: str = "effect", **overrides: Any) -> SimParams:
    """The parameters of a named scenario, with `overrides` (SimParams field names) applied."""
    if scenario not in SCENARIOS:
        raise OptionError(
            f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    names = {f.name for f in dataclasses.fields(SimParams)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise OptionError(f"unknown simulator parameter(s): {', '.join(unknown)}")
    values = {**SCENARIOS[scenario], **overrides}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return dataclasses.replace(SimParams(), **values)
