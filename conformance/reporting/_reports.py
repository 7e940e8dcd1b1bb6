"""Everything a run leaves on disk, written from its verdict in one place: by the plugin at the
end of a run and by ``conformance merge`` (so the two cannot write different things)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from conformance import verdict
from conformance.reporting._allure import write_run_files
from conformance.reporting._junit import write_junit
from conformance.reporting._summary import write_summary
from conformance.verdict import Run


def write_reports(
    reports: Path,
    run: Run,
    *,
    allure_results: Path | None = None,
    labels: Mapping[tuple[str, str], dict[str, str]] | None = None,
) -> None:
    """``verdict.json`` first (what a CI gate reads), then ``junit.xml``, the Allure results of
    the run as a whole (when Allure writes results: ``allure_results``, with each operation's
    ``labels``), and ``summary.md`` / ``summary.html``. Each file is masked as it is written."""
    verdict.write(reports / "verdict.json", run)
    write_junit(reports / "junit.xml", run)
    if allure_results is not None:
        write_run_files(allure_results, run, labels=labels)
    write_summary(reports, run)
