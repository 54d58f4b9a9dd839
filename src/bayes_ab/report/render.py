"""Kept so that code written against the single-module report still imports: the report now
lives in one module per kind (``report.analysis``, ``report.compare``, ``report.monitor``),
with the shared layout in ``report.common`` and shared sections in ``report.sections``.
Import from those (or from ``bayes_ab.report``) in new code."""

from bayes_ab.report.analysis import DEFAULT_TITLE, build_document, render_report
from bayes_ab.report.common import FIGURE_SECTIONS, figure_section, md_escape, render_document
from bayes_ab.report.compare import build_compare_document, render_compare_report
from bayes_ab.report.monitor import build_monitor_document, render_monitor_report

__all__ = [
    "DEFAULT_TITLE",
    "FIGURE_SECTIONS",
    "build_compare_document",
    "build_document",
    "build_monitor_document",
    "figure_section",
    "md_escape",
    "render_compare_report",
    "render_document",
    "render_monitor_report",
    "render_report",
]
