"""The lead funnel (seed `001_ab253c9b17bf57ea.txt`, DATA_CONTRACT.md section 2).

A sibling pipeline of the help-widget analysis:

``load``       leads.csv / events.csv -> `FunnelData` (typed errors, counted findings)
``reproduce``  the report's own descriptive figures, with its definitions
``models``     hierarchical Beta-Binomial (stage 3 -> 4 by industry), Bayesian logistic
               regression of advanced leads, the report's claims as posterior probabilities
``heuristics`` simple rules a sales team can use, with held-out precision / recall
``timeline``   activity over time by final status, how early predictive interactions appear
``simulate``   a seeded simulator writing the same two files
``report``     figures and the self-contained HTML report
``pipeline``   everything above -> ``funnel.json`` (RESULTS_SCHEMA.md)

Importing this package is cheap: PyMC, ArviZ and matplotlib are imported inside functions.
"""

from bayes_ab.data.funnel import FunnelData, load_events, load_funnel, load_leads

__all__ = ["FunnelData", "load_events", "load_funnel", "load_leads"]
