"""Data forensics: does a data set look real (anonymised) or simulated?

``run_forensics(path)`` reads either kind of folder this package knows:

* the help-widget experiment (``test_cohorts``, ``product_activity``,
  ``help_activity``, ``conversion`` as .csv / .csv.gz / .parquet), or
* the lead funnel (``leads.csv(.gz)`` + ``events.csv(.gz)``),

and runs a battery of checks for the fingerprints that generators leave and real
logs do not (or the other way round). Each check returns a `CheckResult`: a statistic,
a p-value or a score, a hint (``simulated``, ``real``, ``neutral`` or ``anonymised``)
and one plain sentence; `weigh` adds its calibrated log10 likelihood ratio.

The verdict combines the checks on a stated scale (`VERDICT_RULE`, also written into
forensics.json). Each check's outcome (its hint: ``simulated``, ``neutral`` or ``real``;
``anonymised`` counts as neutral) carries a log10 likelihood ratio, simulated : real,
calibrated on data sets whose origin is known (`CALIBRATED_LOG10_LR`,
`CALIBRATION_SOURCES`: seeds of two generators that are not this package's simulator
and of the simulator, and time windows of a real event log; ``python models/forensics.py
--calibrate`` recomputes it). Checks with one cause (`CHECK_GROUPS`) count once each way;
the log-LRs are summed (as if the checks were independent, which they are not quite: see
docs/FORENSICS.md) and added to the log10 prior odds (1:1 unless given). The verdict is
``simulated`` when the posterior odds are at least 19:1 (`VERDICT_CUTOFF_LOG10`,
P(simulated) >= 0.95), ``real`` when at most 1:19, otherwise ``inconclusive``. A check's
``strength`` is its calibrated weight: ``strong`` for |log10 LR| >= 1, ``weak`` for
>= 0.3, else ``none``.

The files are read by the analysis loader's reader (`bayes_ab.data.load.read_table`),
so an unreadable file fails with the same message as ``bayes-ab validate``, but the
checks see the rows *before* cleaning, because they look at exactly what the loader
cleans away: duplicates, blanks, the precision of the timestamps, the shape of the ids.
With ``validate=True`` (what the ``forensics`` command does) the folder is first loaded
through the full loader (`load_experiment` / `load_funnel`), so a folder ``validate``
refuses is refused here with the same exit-2 message.

What the checks cannot do: a generator written to look real (overdispersed counts,
mixtures instead of single distributions, an empirical hour profile, injected
duplicates and blanks) passes most of them; see docs/FORENSICS.md.

The package, one kind of thing per module:

* `base`: the `Check` protocol and its `CheckResult`;
* `checks/`: one check per module, named as the check (``checks/split_exactness.py``
  defines ``split_exactness``): the statistic and what it reads in each kind of folder;
* `registry`: `CHECKS`, every check in the order of forensics.json;
* `reader`: which kind a folder is, each file's cells as text, the timestamp helpers;
* `inputs`: a folder's rows prepared once for all checks (`ExperimentInputs`,
  `LeadInputs`);
* `evidence`: `collect_evidence`, the registered checks run on a folder;
* `verdict`: the calibrated log10 likelihood ratios, `weigh`, `combine`, `VERDICT_RULE`;
* `run`: `run_forensics` and its `ForensicsReport`.
"""

from bayes_ab.forensics.base import Check, CheckResult
from bayes_ab.forensics.checks.generated_names import COMPANY_SUFFIXES, LOREM_WORDS
from bayes_ab.forensics.evidence import collect_evidence
from bayes_ab.forensics.reader import detect_kind, read_raw
from bayes_ab.forensics.registry import CHECKS
from bayes_ab.forensics.run import ForensicsReport, run_forensics
from bayes_ab.forensics.verdict import (
    CALIBRATED_LOG10_LR,
    PRIOR_ODDS,
    VERDICT_CUTOFF_LOG10,
    VERDICT_RULE,
    combine,
    counted_log10_lr,
    log10_lr_table,
    weigh,
)

__all__ = [
    "CALIBRATED_LOG10_LR", "CHECKS", "COMPANY_SUFFIXES", "Check", "CheckResult",
    "ForensicsReport", "LOREM_WORDS", "PRIOR_ODDS", "VERDICT_CUTOFF_LOG10", "VERDICT_RULE",
    "collect_evidence", "combine", "counted_log10_lr", "detect_kind", "log10_lr_table",
    "read_raw", "run_forensics", "weigh",
]
