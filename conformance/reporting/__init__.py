"""What a run leaves for people: the Allure results' labels, environment, executor and failure
categories (`_allure`; severity and categories from `conformance.catalogue`), the one-page
summary, ``summary.md``, ``summary.html`` and the terminal's lines (`_summary`), and the HTML
report from Allure 3's generator (`_html`)."""

from __future__ import annotations

from conformance.reporting._allure import (
    CATEGORIES,
    allure_labels,
    allure_result,
    check_results,
    executor,
    scrub,
    severity,
    title,
    write_run_files,
)
from conformance.reporting._html import ReportFailed, ReportUnavailable
from conformance.reporting._html import generate_in as generate_report
from conformance.reporting._summary import (
    plural,
    summary_html,
    summary_markdown,
    terminal_lines,
    without_values,
    write_summary,
)

__all__ = [
    "CATEGORIES",
    "ReportFailed",
    "ReportUnavailable",
    "allure_labels",
    "allure_result",
    "check_results",
    "executor",
    "generate_report",
    "plural",
    "scrub",
    "severity",
    "summary_html",
    "summary_markdown",
    "terminal_lines",
    "title",
    "without_values",
    "write_run_files",
    "write_summary",
]
