"""What a run leaves for people: the Allure results' labels, environment, executor and failure
categories (`_allure`; severity and categories from `conformance.catalogue`), the one-page
summary, ``summary.md``, ``summary.html`` and the terminal's lines (`_summary`), and the HTML
report from Allure 3's generator (`_html`). All of it read from the typed verdict of a run
(`conformance.verdict.Run`), never from verdict.json's keys."""

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
from conformance.reporting._junit import check_case, junit_tree, write_junit
from conformance.reporting._reports import write_reports
from conformance.reporting._summary import (
    summary_html,
    summary_markdown,
    terminal_lines,
    without_values,
    write_summary,
)
from conformance.verdict import plural  # re-exported: the runner's sentences say it too

__all__ = [
    "CATEGORIES",
    "ReportFailed",
    "ReportUnavailable",
    "allure_labels",
    "allure_result",
    "check_case",
    "check_results",
    "executor",
    "generate_report",
    "junit_tree",
    "plural",
    "scrub",
    "severity",
    "summary_html",
    "summary_markdown",
    "terminal_lines",
    "title",
    "without_values",
    "write_junit",
    "write_reports",
    "write_run_files",
    "write_summary",
]
