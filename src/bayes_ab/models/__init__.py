"""Model builders, one per question. Closed-form models (``beta_binomial``) need no sampler;
PyMC models import PyMC lazily so that ``import bayes_ab.models`` stays cheap."""

from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, compare_arms, compare_two

__all__ = ["BetaPrior", "BinomialCounts", "compare_arms", "compare_two"]
