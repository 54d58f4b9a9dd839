"""bayes_ab: calibrated Bayesian evidence for product experiments.

Importing the package is cheap: PyMC, nutpie and ArviZ are imported only by the
modules that sample or plot.

In a notebook (``bayes_ab.api``)::

    res = bayes_ab.analyze("data/example", draws=500, tune=500)
    res.summary(); res.plot("trace", model="help_completion"); res.save("out")
    cmp = bayes_ab.compare(frame, group_col="arm", outcome_col="converted")

The package is laid out by kind of thing (data, simulate, aggregate, models, inference,
stats, forensics, plotting, report, workflows, cli): docs/ARCHITECTURE.md is the map.
"""

from bayes_ab.constants import HDI_PROB
from bayes_ab.errors import BayesAbError, DataError
from bayes_ab.inference.arviz_import import install as _install_arviz_hook

_install_arviz_hook()  # ArviZ's import-time numba compile, cached (0.5 s per process)

__all__ = ["HDI_PROB", "AnalysisResult", "BayesAbError", "DataError", "__version__",
           "analyze", "compare"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: the API (and what it imports) loads on first use, not at `import bayes_ab`.
    if name in ("analyze", "compare", "AnalysisResult"):
        from bayes_ab import api

        return getattr(api, name)
    raise AttributeError(f"module 'bayes_ab' has no attribute {name!r}")
