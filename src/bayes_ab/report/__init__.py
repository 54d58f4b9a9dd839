"""The decision-maker's report (HTML and Markdown) of `bayes-ab analyze`, `compare` and
`monitor`.

    from bayes_ab.report import render_report
    html, md = render_report(results, figures={"conversion_posterior": path}, out_dir=out)

The report only formats numbers already in results.json (or compare.json); see
`bayes_ab.report.render` for the layout and `bayes_ab.report.text` for the wording.
"""

from bayes_ab.report.render import (
    DEFAULT_TITLE,
    build_compare_document,
    build_document,
    build_monitor_document,
    render_compare_report,
    render_monitor_report,
    render_report,
)

__all__ = [
    "DEFAULT_TITLE",
    "build_compare_document",
    "build_document",
    "build_monitor_document",
    "render_compare_report",
    "render_monitor_report",
    "render_report",
]
