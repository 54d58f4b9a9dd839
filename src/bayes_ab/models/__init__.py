"""The model classes, one per question (the runnable scripts that use them are models/*.py
at the top of the repository).

* `registry`: the step name of a full analysis -> its class (`MODEL_STEPS`, `MODEL_CLASSES`);
* `base`: `BayesModel`, the shape every class follows (statistics, priors, build, fit,
  summarize, diagnostics, figures, save/load, table);
* `priors`: `Prior`, a prior as an object (distribution, parameters, dims);
* one module per model: `arm_comparison`, `help_completion`, `survival`, `iv`,
  `completions_conversion`, `time_experience`; `beta_binomial` (closed form, no sampler).

Closed-form models (``beta_binomial``) need no sampler; PyMC models import PyMC lazily so
that ``import bayes_ab.models`` stays cheap (the registry imports the classes, not PyMC).
"""

from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, compare_arms, compare_two

__all__ = ["BetaPrior", "BinomialCounts", "compare_arms", "compare_two"]
