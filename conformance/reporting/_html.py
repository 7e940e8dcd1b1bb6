"""The HTML report: Allure 3's own generator (npm package ``allure``, pinned in package.json and
installed by the Makefile with ``npm ci``), run on a run's results folders.

- One self-contained file, ``<output>/index.html`` (the Awesome report with ``singleFile``): it
  opens from ``file://`` with no server. The generator embeds a Google Tag Manager script in every
  report; it is removed, and a Content-Security-Policy that allows no outside host is added, so
  the page makes no request anywhere.
- History: the generator appends each report's results to a JSONL file (``historyPath``), kept
  beside the report and never cleaned; the next report shows the trend.
- Categories come from the report's config (Allure 3 does not read ``categories.json``).
- Without Node or the generator, `ReportUnavailable` says in one sentence how to get them; the
  run's results and summary are on disk either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from conformance.errors import ConformanceError, ExitCode
from conformance.reporting._allure import CATEGORIES

#: the generator, relative to a folder where ``npm ci`` ran
GENERATOR = Path("node_modules") / ".bin" / "allure"
#: seconds the generator may take (about 3 s for a full run's ~2,300 results here)
TIMEOUT_S = 300.0
#: runs the trend shows (each one keeps every result: about 4 MB for a full run of both APIs)
HISTORY_LIMIT = 10
HINT = (
    "install Node.js 20 or newer and run `npm ci` in the conformance checkout (`make report` runs"
    " it), then `conformance report`"
)

#: the analytics the generator embeds: a loader tag and the inline script that configures it
_TRACKERS = (
    re.compile(
        r"<script[^>]*\bsrc=\"https://www\.googletagmanager\.com/[^\"]*\"[^>]*>\s*</script>\s*"
    ),
    re.compile(r"<script>\s*window\.dataLayer\b.*?</script>\s*", re.S),
)
#: the page may load only what it carries inline (data: URLs included): no outside host
_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
    " script-src 'unsafe-inline' 'unsafe-eval' data: blob:; style-src 'unsafe-inline' data: blob:;"
    " img-src data: blob:; font-src data: blob:; connect-src data: blob:; media-src data: blob:;"
    ' worker-src blob: data:">'
)
#: an element attribute that would load something from a host
_OUTSIDE = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I
)


class ReportUnavailable(ConformanceError):
    """Node or the Allure generator is missing; the message says how to install them."""

    exit_code = ExitCode.BAD_INPUT


class ReportFailed(ConformanceError):
    """The generator ran and failed, or wrote something unsafe to open."""

    exit_code = ExitCode.BAD_INPUT


def find_generator(environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs Allure 3's CLI: ``CONFORMANCE_ALLURE``, else ``node_modules`` in the
    current folder or the conformance checkout, else ``allure`` on the PATH."""
    environ = os.environ if environ is None else environ
    node = shutil.which("node", path=environ.get("PATH"))
    if node is None:
        raise ReportUnavailable(f"no HTML report: Node.js is not installed; {HINT}")
    named = environ.get("CONFORMANCE_ALLURE")
    checkout = Path(__file__).resolve().parents[2]
    candidates = [Path(named)] if named else [Path.cwd() / GENERATOR, checkout / GENERATOR]
    on_path = shutil.which("allure", path=environ.get("PATH"))
    if not named and on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return [node, str(candidate.resolve())]
    where = named or f"{GENERATOR} (here or in {checkout})"
    raise ReportUnavailable(f"no HTML report: the Allure 3 generator is not at {where}; {HINT}")


def config(output: Path, history: Path, name: str) -> dict[str, object]:
    """The generator's config: one single-file Awesome report, the categories, the history."""
    return {
        "name": name,
        "output": str(output),
        "historyPath": str(history),
        "historyLimit": HISTORY_LIMIT,
        "categories": {"rules": CATEGORIES},
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportName": name,
                    "groupBy": ["parentSuite", "suite", "subSuite"],
                }
            }
        },
    }


def generate_in(
    reports: Path,
    results: Sequence[Path] = (),
    *,
    name: str = "API conformance",
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The report of a reports folder: from ``results`` (default: ``reports/allure-results``)
    into ``reports/allure-report/index.html``, its trend kept in
    ``reports/allure-history.jsonl``; the page."""
    return generate(
        list(results) or [reports / "allure-results"],
        reports / "allure-report",
        history=reports / "allure-history.jsonl",
        name=name,
        environ=environ,
    )


def generate(
    results: Sequence[Path],
    output: Path,
    *,
    history: Path,
    name: str = "API conformance",
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Generate ``output/index.html`` from the Allure ``results`` folders (merged); the page."""
    found = [folder for folder in results if folder.is_dir() and any(folder.glob("*-result.json"))]
    if not found:
        shown = ", ".join(str(folder) for folder in results)
        raise ReportFailed(f"no Allure results in {shown}: run `conformance run` first")
    command = find_generator(environ)
    if output.exists():  # the generator nests a new report inside an old one
        shutil.rmtree(output)
    history.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="conformance-report-") as scratch:
        rc = Path(scratch) / "allurerc.json"
        rc.write_text(json.dumps(config(output.resolve(), history.resolve(), name)))
        folders = [str(folder.resolve()) for folder in found]  # it runs in the scratch folder
        arguments = [*command, "generate", "--config", str(rc), *folders]
        try:
            done = subprocess.run(
                arguments,
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env={**(os.environ if environ is None else environ), "NO_COLOR": "1"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ReportFailed(
                f"the Allure generator took more than {TIMEOUT_S:.0f} s; the results are in"
                f" {found[0]}"
            ) from None
    page = output / "index.html"
    if done.returncode != 0 or not page.is_file():
        said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in said if "error" in line.lower()]
        first = (errors or said or [f"exit {done.returncode}"])[0].strip()
        raise ReportFailed(f"the Allure generator failed: {first[:300]}")
    page.write_text(offline(page.read_text(encoding="utf-8")), encoding="utf-8")
    return page


def offline(page: str) -> str:
    """The report page with its analytics removed and a policy that forbids outside requests;
    ReportFailed when something would still load from a host."""
    for tracker in _TRACKERS:
        page = tracker.sub("", page)
    if "googletagmanager" in page or "gtag(" in page:
        raise ReportFailed("the Allure report still holds its analytics script after cleaning")
    found = _OUTSIDE.search(page)
    if found:
        raise ReportFailed(f"the Allure report loads from an outside host: {found.group(0)[:120]}")
    head = re.search(r"<head[^>]*>", page, re.I)
    if head is None:
        raise ReportFailed("the Allure report has no <head>")
    return page[: head.end()] + "\n    " + _CSP + page[head.end() :]
