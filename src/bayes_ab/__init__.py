"""bayes_ab: calibrated Bayesian evidence for product experiments.

Importing the package is cheap: PyMC, nutpie and ArviZ are imported only by the
modules that sample or plot.
"""

from bayes_ab.constants import HDI_PROB
from bayes_ab.errors import BayesAbError, DataError

__all__ = ["HDI_PROB", "BayesAbError", "DataError", "__version__"]
__version__ = "0.1.0"
