"""What a run leaves for people: the Allure results' labels, environment, executor and failure
categories (`_allure`). The HTML report and the summary come next (ARCHITECTURE.md)."""

from __future__ import annotations

from conformance.reporting._allure import (
    CATEGORIES,
    allure_labels,
    executor,
    severity,
    write_run_files,
)

__all__ = ["CATEGORIES", "allure_labels", "executor", "severity", "write_run_files"]
