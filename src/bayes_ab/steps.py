"""The models of a full analysis: which class answers each question and how its statistics
are made.

A neutral module: the orchestrator (`bayes_ab.pipeline`) and the storage layer
(`bayes_ab.aggregate`) both read it, and it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MODEL_STEPS", "ModelStep"]


@dataclass(frozen=True)
class ModelStep:
    """One question of the seed: which model class answers it and how its stats are made."""

    key: str
    module: str
    cls: str
    stats_kwargs: dict = field(default_factory=dict)
    label: str = ""


#: The models of a full analysis, in report order. `key` names files, figures and diagnostics.
MODEL_STEPS: tuple[ModelStep, ...] = (
    ModelStep("conversion", "bayes_ab.models.arm_comparison", "ArmComparison",
              {"metric": "converted"}, "conversion lift"),
    ModelStep("cs_engagement", "bayes_ab.models.arm_comparison", "ArmComparison",
              {"metric": "any_cs"}, "CS engagement lift"),
    ModelStep("help_completion", "bayes_ab.models.help_completion", "HelpCompletion", {},
              "completion after help, CS vs OTHER"),
    ModelStep("time_to_completion", "bayes_ab.models.survival", "Survival", {},
              "time to completion by channel"),
    ModelStep("causal_cs_effect", "bayes_ab.models.iv", "InstrumentalVariable", {},
              "causal effect of CS help (instrumental variable)"),
    ModelStep("completions_conversion", "bayes_ab.models.completions_conversion",
              "CompletionsConversion", {}, "completions and conversion"),
    ModelStep("time_and_experience", "bayes_ab.models.time_experience", "TimeExperience", {},
              "time of day and experience"),
)
