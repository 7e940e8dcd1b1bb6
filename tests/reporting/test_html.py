"""The HTML report: Allure 3's generator run for real on a real run's results, the page opened
from ``file://`` in headless Chromium, searched for the run's secrets, and its trend after two
runs; the page's clean-up; and a machine without Node."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.masking import registered_forms
from conformance.reference import Running, running
from conformance.reporting import ReportFailed
from conformance.reporting._html import TIMEOUT_S, offline
from conformance.runner import embedded_settings
from tests.suite.helpers import as_service

#: the repository's reports folder: the screenshot is kept there for people to look at
SCREENSHOT = Path(__file__).resolve().parents[2] / "reports" / "allure-report-screenshot.png"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CONFORMANCE_NO_BROWSER") == "1":
        pytest.skip("CONFORMANCE_NO_BROWSER=1 and no chromium")
    pytest.fail("headless Chromium is needed to check the report: `make test` installs it")


def browse(page: Path, *flags: str, fragment: str = "") -> str:
    """Open ``page`` from file:// in headless Chromium; with ``--dump-dom``, the rendered text."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=8000",
             *flags, page.resolve().as_uri() + fragment],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", done.stdout, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def embedded(page: str) -> str:
    """The data the single-file report carries base64-encoded, decoded, and the page itself."""
    blobs = re.findall(r'd\("[^"]+","([A-Za-z0-9+/=]+)"\)', page)
    assert blobs, "the single-file report embeds its data as base64 blobs"
    return page + "".join(base64.b64decode(blob).decode("utf-8", "replace") for blob in blobs)


def results(page: str) -> list[dict[str, Any]]:
    """The test results the single-file report embeds."""
    return [
        json.loads(base64.b64decode(blob))
        for name, blob in re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]+)"\)', page)
        if name.startswith("data/test-results/")
    ]


def bearer_tokens(monkeypatch: pytest.MonkeyPatch, backends: Running, api: str) -> set[str]:
    """Every bearer token the run sends to ``api`` (filled in as the run goes)."""
    seen: set[str] = set()
    app_type = type(backends.backend(api).app)
    original = app_type.__call__

    async def watched(self: Any, scope: Any, receive: Any, send: Any) -> None:
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value.lower().startswith(b"bearer "):
                seen.add(value[7:].decode("latin-1").strip())
        await original(self, scope, receive, send)

    monkeypatch.setattr(app_type, "__call__", watched)
    return seen


def test_the_page_loses_its_analytics_and_may_load_nothing_from_a_host() -> None:
    page = (
        '<html><head><meta charset="utf-8"></head><body><script src="data:x"></script>\n'
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
        "<script>\n window.dataLayer = window.dataLayer || [];\n function gtag(){}\n"
        " gtag('config', 'G-X');\n</script>\n<script>window.allureReportData = {};</script>"
        "</body></html>"
    )
    cleaned = offline(page)
    assert "googletagmanager" not in cleaned
    assert "gtag(" not in cleaned
    assert "window.allureReportData" in cleaned  # the report's own script stays
    assert "Content-Security-Policy" in cleaned.split("</head>")[0]
    assert "default-src 'none'" in cleaned
    with pytest.raises(ReportFailed, match="outside host"):
        offline(page.replace("</body>", '<img src="https://tracker.example/p.gif"></body>'))


def test_without_node_a_run_keeps_its_results_and_summary_and_says_how_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_HTML_REPORT", raising=False)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no node
    reports = tmp_path / "reports"
    with running(["gloria"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["run", "--target", f"gloria={backends.url('gloria')}", "--reports", str(reports),
             "--profile", "smoke", "-k", "getHealth", "-p", "no:cacheprovider"],
            out, err,
        )  # fmt: skip
    assert code == 0, err.getvalue()
    said = [line for line in err.getvalue().splitlines() if "HTML report" in line]
    assert said == [
        "conformance: no HTML report: Node.js is not installed; install Node.js 20 or newer and"
        " run `npm ci` in the conformance checkout (`make report` runs it), then `conformance"
        " report`"
    ]
    assert "Traceback" not in err.getvalue()
    assert any((reports / "allure-results").glob("*-result.json"))
    assert (reports / "summary.md").is_file()
    assert not (reports / "allure-report").exists()
    # the command itself: the same sentence, exit 3
    out, err = io.StringIO(), io.StringIO()
    assert run(["report", "--reports", str(reports)], out, err) == 3
    assert err.getvalue().startswith("no HTML report: Node.js is not installed;")
    assert len(err.getvalue().splitlines()) == 1


#: what the report test waits for: three Allure generations, CPU-bound (48 s of CPU each here,
#: 2075 result files: 174 s for the whole test on an idle 2-core machine, past 300 s beside two
#: busy processes), each bounded by the generator's own timeout, and the runs and browsers
REPORT_TEST_S = 3 * TIMEOUT_S + 300


@pytest.mark.slow
@pytest.mark.timeout(REPORT_TEST_S)
def test_the_report_opens_offline_names_the_failure_keeps_no_secret_and_shows_a_trend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_HTML_REPORT", raising=False)  # the default: on
    reports = tmp_path / "reports"
    settings = dataclasses.replace(
        embedded_settings(), defects=frozenset({"stale-delete-accepted", "nosniff-missing"})
    )
    pages: list[Path] = []
    with running(["gloria"], settings=settings) as broken:
        service = as_service(monkeypatch, broken, "gloria")
        tokens = bearer_tokens(monkeypatch, broken, "gloria")
        for seed in ("5", "6"):  # two consecutive runs into the same reports folder
            out, err = io.StringIO(), io.StringIO()
            code = run(
                ["run", "--target", f"gloria={broken.url('gloria')}", "--reports", str(reports),
                 "--seed", seed, "--profile", "smoke", "-k", "getHealth or getSchool or conflicts",
                 "-p", "no:cacheprovider"],
                out, err,
            )  # fmt: skip
            assert code == 1, err.getvalue()
            (line,) = [x for x in out.getvalue().splitlines() if "HTML report:" in x]
            pages.append(Path(line.split("HTML report: ", 1)[1]))
            if seed == "5":  # the first report: no history yet
                charts = browse(pages[0], "--dump-dom", fragment="#charts")
                assert "Status dynamics No history information available" in charts
    page = pages[-1]
    assert page == reports / "allure-report" / "index.html"
    assert sorted(p.name for p in page.parent.iterdir()) == [
        "index.html", "summary.json", "test-results.json",
    ]  # fmt: skip
    # what a reader sees: the API's suites, the failing scenario by name, the categories
    text = browse(page, "--dump-dom")
    assert "Gloria School Organisation API 1.0.0" in text
    assert "scenarios" in text
    assert "schools" in text
    assert "scenario: conflicts" in text
    assert "Categories" in text
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browse(page, f"--screenshot={SCREENSHOT}", "--window-size=1400,1000")
    assert SCREENSHOT.stat().st_size > 20_000
    # the trend: the second report holds both runs, and draws them
    charts = browse(page, "--dump-dom", fragment="#charts")
    assert "Status dynamics" in charts
    assert "No history information available" not in charts.split("Test results by")[0]
    data = embedded(page.read_text(encoding="utf-8"))
    dynamics = re.search(r'"type":"statusDynamics".*?"data":(\[.*?\])', data)
    assert dynamics is not None
    assert len(json.loads(dynamics.group(1))) == 2
    # one result per operation and check, each its own history: the failed check is in the page
    assert "GET /schools/{id} · not_a_server_error" in data
    assert "[stale-delete-409]" in data
    # a failed check's page: its first failures as steps, each with request, response and curl
    (check,) = [
        result["id"]
        for result in results(page.read_text(encoding="utf-8"))
        if result.get("name") == "GET /schools/{id} · nosniff"
    ]
    shown = browse(page, "--dump-dom", fragment=f"#{check}")
    assert "X-Content-Type-Options is None, not nosniff" in shown
    assert re.search(r"1 request application/json .* 2 response text/plain .* 3 curl", shown)
    # the failure categories are the report's config, and the page sorts failures into them
    assert '"type":"category","name":"Contract violation"' in data
    # nowhere a secret of the run: the report (its embedded data decoded), the summary, results
    assert tokens, "the run sent bearer tokens"
    written = data + "".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in reports.rglob("*")
        if path.is_file()
        and path.suffix in (".md", ".html", ".json", ".jsonl", ".txt", ".properties")
    )
    for secret in registered_forms([service.password, *tokens]):
        assert secret not in written
    assert "Bearer ey" not in written
    assert urllib.parse.quote(service.password, safe="") not in written
    # the command, as make report runs it: relative paths, the default results folder
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert run(["report", "--reports", "reports"], out, err) == 0, err.getvalue()
    assert (
        out.getvalue() == f"conformance: HTML report: {Path('reports/allure-report/index.html')}\n"
    )
    assert len((reports / "allure-history.jsonl").read_text().splitlines()) == 3
