"""The registry of model classes: each question of a full analysis, the class that answers it.

    from bayes_ab.models.registry import MODEL_STEPS, model_step
    step = model_step("help_completion")
    step.model                      # HelpCompletion (the class itself: go-to-definition works)
    stats = step.model.stats_type.from_experiment(data, **step.stats_kwargs)

`bayes_ab.workflows.analyze` fits every step in this order; `key` names the step's results.json block,
files, figures and diagnostics. Importing this module imports the model classes but not
PyMC (they import it when they build a model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bayes_ab.models.arm_comparison import ArmComparison
from bayes_ab.models.base import BayesModel
from bayes_ab.models.completions_conversion import CompletionsConversion
from bayes_ab.models.help_completion import HelpCompletion
from bayes_ab.models.causal_cs_effect import CausalCsEffect
from bayes_ab.models.time_to_completion import TimeToCompletion
from bayes_ab.models.time_and_experience import TimeAndExperience

__all__ = ["MODEL_CLASSES", "MODEL_STEPS", "ModelStep", "model_step"]


@dataclass(frozen=True)
class ModelStep:
    """One question of the seed: which model class answers it and how its stats are made."""

    key: str
    model: type[BayesModel]
    #: Keyword arguments of ``model.stats_type.from_experiment`` (and of the DuckDB engine's
    #: ``stats_for``), e.g. the metric of an arm comparison.
    stats_kwargs: dict = field(default_factory=dict)
    label: str = ""

    @property
    def cls(self) -> str:
        """The class's name (for messages and filters such as ``s.cls == "ArmComparison"``)."""
        return self.model.__name__

    @property
    def module(self) -> str:
        """The module that defines the class."""
        return self.model.__module__


#: The models of a full analysis, in report order.
MODEL_STEPS: tuple[ModelStep, ...] = (
    ModelStep("conversion", ArmComparison, {"metric": "converted"}, "conversion lift"),
    ModelStep("cs_engagement", ArmComparison, {"metric": "any_cs"}, "CS engagement lift"),
    ModelStep("help_completion", HelpCompletion, {}, "completion after help, CS vs OTHER"),
    ModelStep("time_to_completion", TimeToCompletion, {}, "time to completion by channel"),
    ModelStep("causal_cs_effect", CausalCsEffect, {},
              "causal effect of CS help (instrumental variable)"),
    ModelStep("completions_conversion", CompletionsConversion, {},
              "completions and conversion"),
    ModelStep("time_and_experience", TimeAndExperience, {}, "time of day and experience"),
)

#: Step key -> model class.
MODEL_CLASSES: dict[str, type[BayesModel]] = {s.key: s.model for s in MODEL_STEPS}


def model_step(key: str, steps: tuple[ModelStep, ...] = MODEL_STEPS) -> ModelStep:
    """The step named ``key`` (KeyError naming the known ones otherwise)."""
    for step in steps:
        if step.key == key:
            return step
    raise KeyError(f"unknown model {key!r}; known: {', '.join(s.key for s in steps)}")
