"""The decision-maker's report (HTML and Markdown) of `bayes-ab analyze`, `compare` and
`monitor`.

    from bayes_ab.report import render_report
    html, md = render_report(results, figures={"conversion_posterior": path}, out_dir=out)

The report only formats numbers already in results.json (or compare.json); see
`bayes_ab.report.text` for the wording. One module per kind of report:
``report.analysis`` (analyze), ``report.compare``, ``report.monitor``; ``report.common`` holds
the document blocks, figure placement and the HTML/Markdown templates, ``report.sections``
the sections the reports share.
"""

from bayes_ab.report.analysis import DEFAULT_TITLE, build_document, render_report
from bayes_ab.report.compare import build_compare_document, render_compare_report
from bayes_ab.report.monitor import build_monitor_document, render_monitor_report

__all__ = [
    "DEFAULT_TITLE",
    "build_compare_document",
    "build_document",
    "build_monitor_document",
    "render_compare_report",
    "render_monitor_report",
    "render_report",
]
