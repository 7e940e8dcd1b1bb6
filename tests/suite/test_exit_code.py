"""One function decides a run's exit code from its verdict (`conformance.verdict.Run.exit_code`),
and every way a run ends goes through it: a pass, findings, a crash of the suite's own code, fail
fast under xdist, the run timeout, an expired waiver. Each path is run for real, and the exit
code, verdict.json, JUnit, the summary and the last line must agree."""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from conformance.cli import run
from conformance.errors import ExitCode
from conformance.reference import Settings, running
from conformance.runner import embedded_settings
from conformance.suite._session import NOT_REACHED
from conformance.verdict import OperationVerdict, Outcome, Run, Waivers, WaiverUse
from tests.servers import Quiet, serving
from tests.suite.helpers import as_service

WORD = {ExitCode.OK: "PASS", ExitCode.FAILED: "FAIL", ExitCode.TARGET_BROKEN: "BROKEN"}


def conformance(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["run", *argv, "--no-html-report", "-p", "no:cacheprovider"], out, err)
    return code, out.getvalue(), err.getvalue()


def assert_agree(code: int, out: str, err: str, reports: Path) -> dict[str, Any]:
    """The exit code, verdict.json, JUnit, the summary and the last line say the same."""
    document: dict[str, Any] = json.loads((reports / "verdict.json").read_text())
    assert code == Run.from_json(document).exit_code(), (code, document["verdict"], err[-2000:])
    word = WORD[ExitCode(code)]
    assert document["verdict"] == word.lower()
    last = (out if code == 0 else err).strip().splitlines()[-1]
    assert last.startswith(f"conformance: {word}:"), last
    junit = ElementTree.parse(reports / "junit.xml").getroot()
    failures, errors = int(junit.get("failures", "0")), int(junit.get("errors", "0"))
    if word == "PASS":
        assert (failures, errors) == (0, 0)
    elif word == "FAIL":
        assert failures > 0, (failures, errors)
        assert errors == 0, (failures, errors)
    else:
        assert errors > 0, (failures, errors)
    summary = (reports / "summary.md").read_text().splitlines()[0]
    assert summary.endswith(f"Conformance: {word}"), summary
    return document


def test_exit_code_is_read_off_the_verdict_alone() -> None:
    def exit_code(*outcomes: Outcome, expired: bool = False) -> ExitCode:
        operations = [
            OperationVerdict("api", f"op{n}", f"GET /{n}", o) for n, o in enumerate(outcomes)
        ]
        gone = [WaiverUse("w", "rule", "why", "T-1", "2020-01-01")] if expired else []
        return Run(operations, [], 1, "gate", waivers=Waivers(expired=gone)).exit_code()

    assert exit_code(Outcome.PASSED) == ExitCode.OK
    assert exit_code(Outcome.FAILED, Outcome.PASSED) == ExitCode.FAILED
    assert exit_code(Outcome.FAILED, Outcome.ERROR) == ExitCode.TARGET_BROKEN
    assert exit_code(Outcome.SKIPPED) == ExitCode.BAD_INPUT  # nothing tested
    assert exit_code(Outcome.SKIPPED, expired=True) == ExitCode.FAILED


@pytest.mark.slow
def test_a_crash_in_a_scenario_is_a_broken_run_never_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.suite.scenarios import _rollback

    def crash(self: object) -> None:
        raise TypeError("int() argument must be a string, not 'NoneType'")

    monkeypatch.setattr(_rollback.Rollback, "run_all", crash)
    with running(["gloria"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        code, out, err = conformance(
            "--target", f"gloria={backends.url('gloria')}", "--reports", str(tmp_path),
            "-m", "scenario(name='rollback')", "-n", "0",
        )  # fmt: skip
    assert code == 2, err
    document = assert_agree(code, out, err, tmp_path)
    (scenario,) = document["scenarios"]
    assert scenario["outcome"] == "error"
    assert "the scenario crashed: TypeError: int() argument" in scenario["reason"]
    assert re.search(r" at test_exit_code\.py:\d+$", scenario["reason"])  # the innermost frame


@pytest.mark.slow
def test_a_crash_in_the_engine_breaks_the_run_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.suite import _session

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyError("label")

    monkeypatch.setattr(_session, "run_engine", crash)
    with running(["gloria"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        code, out, err = conformance(
            "--target", f"gloria={backends.url('gloria')}", "--reports", str(tmp_path),
            "-k", "getHealth or listSchools", "-n", "0",
        )  # fmt: skip
    document = assert_agree(code, out, err, tmp_path)
    assert code == 2
    assert {op["outcome"] for op in document["operations"]} == {"error"}
    assert "the gloria run crashed: KeyError" in document["operations"][0]["errors"][0]


class _Undocumented203(Quiet):
    """A proxy in front of a backend that answers one read (``GET /schools/{id}``) with an
    undocumented 203 and the same body: what made the rollback scenario crash under a PASS
    verdict (``int(snapshot.version)`` on the empty snapshot of a read that was not a 200)."""

    upstream = ""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        request = urllib.request.Request(
            self.upstream + self.path, data=body, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, answered, content = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, answered, content = error.code, error.headers, error.read()
        item = self.path.split("?")[0].rsplit("/schools/", 1)
        if self.command == "GET" and status == 200 and len(item) == 2 and "/" not in item[1]:
            status = 203
        self.send_response(status)
        for name, value in answered.items():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_QUERY = _forward


@pytest.fixture
def gloria_behind_203() -> Iterator[tuple[str, Any]]:
    with running(["gloria"], settings=embedded_settings()) as backends:
        url = urllib.parse.urlsplit(backends.url("gloria"))
        upstream = f"{url.scheme}://{url.netloc}"
        handler = type("Proxy", (_Undocumented203,), {"upstream": upstream})
        with serving(handler) as proxy:
            yield f"{proxy}{url.path}", backends


@pytest.mark.slow
def test_an_undocumented_status_inside_a_scenario_is_a_finding_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gloria_behind_203: tuple[str, Any]
) -> None:
    url, backends = gloria_behind_203
    as_service(monkeypatch, backends, "gloria")
    code, out, err = conformance(
        "--target", f"gloria={url}", "--reports", str(tmp_path),
        "-m", "scenario(name='rollback')", "-n", "0",
    )  # fmt: skip
    document = assert_agree(code, out, err, tmp_path)
    assert code == 1, err
    (scenario,) = document["scenarios"]
    assert scenario["outcome"] == "failed", scenario["reason"]
    found = [f for f in scenario["failures"] if f["rule"] == "status_code_conformance"]
    assert found, scenario["failures"]
    assert "GET /schools/{id} answered 203" in found[0]["message"], found
    # the part's own rules still ran: the School's change was judged after the 203
    changed = [s for s in scenario["steps"] if s["title"].startswith("School: a change answers")]
    assert [step["outcome"] for step in changed] == ["passed"], scenario["steps"]


@pytest.mark.slow
def test_fail_fast_on_two_apis_in_two_workers_exits_1_with_the_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(embedded_settings(), defects=frozenset({"nosniff-missing"}))
    with running(["gloria", "tchat"], settings=settings) as broken:
        as_service(monkeypatch, broken, "gloria")
        as_service(monkeypatch, broken, "tchat")
        code, out, err = conformance(
            "--target", f"gloria={broken.url('gloria')}", "--target",
            f"tchat={broken.url('tchat')}", "--reports", str(tmp_path), "--fail-fast",
            "--seed", "3", "-n", "2", "-m", "fuzz",
            "-k", "getSchool or listSchools or getContentItems or getContentItem",
        )  # fmt: skip
    assert code == 1, err[-3000:]
    document = assert_agree(code, out, err, tmp_path)
    assert "nosniff" in document["counts"]["by_rule"]
    assert document["cut_short"] == ""
    # gloria's engine stopped at its first failure; what it did not reach is not blamed on it
    gloria = [op for op in document["operations"] if op["api"] == "gloria"]
    assert [op["outcome"] for op in gloria].count("failed") == 1, gloria
    assert all(op["reason"] == NOT_REACHED for op in gloria if op["outcome"] == "skipped")
    assert document["not_exercised"] == []


@pytest.mark.slow
def test_the_run_timeout_keeps_what_was_judged_and_says_what_was_not_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 s: both workers start and judge something (about 5 s on an idle machine), and neither
    # API is done (gloria's fuzzing alone takes 40 s and more)
    with running(["gloria", "tchat"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        as_service(monkeypatch, backends, "tchat")
        code, out, err = conformance(
            "--target", f"gloria={backends.url('gloria')}", "--target",
            f"tchat={backends.url('tchat')}", "--reports", str(tmp_path), "--run-timeout", "30",
            "--seed", "3", "-n", "2",
        )  # fmt: skip
    assert code == 2, err[-3000:]
    document = assert_agree(code, out, err, tmp_path)
    assert document["cut_short"] == "the run timeout of 30 s expired"
    # each worker stopped at the deadline and handed over what it had judged
    operations = document["operations"]
    judged = {op["api"] for op in operations if op["outcome"] != "skipped"}
    assert judged == {"gloria", "tchat"}, collections.Counter(op["outcome"] for op in operations)
    unreached = [op for op in operations if op["reason"].startswith("not reached")]
    unreached += [s for s in document["scenarios"] if s["reason"].startswith("not reached")]
    assert unreached, "the run timeout left nothing unreached"
    assert "the run timeout of 30 s expired" in err.strip().splitlines()[-1]
    summary = (tmp_path / "summary.md").read_text()
    assert "### Cut short" in summary
    assert "Not reached: " in summary
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="cut short"' in junit


@pytest.mark.slow
def test_an_expired_waiver_fails_a_run_whose_every_test_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        '[[waiver]]\nrule = "nosniff"\napi = "gloria"\noperation = "getHealth"\n'
        'reason = "accepted"\nticket = "T-1"\nexpires = 2020-01-01\n'
    )
    reports = tmp_path / "reports"
    with running(["gloria"], settings=Settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        code, out, err = conformance(
            "--target", f"gloria={backends.url('gloria')}", "--reports", str(reports),
            "--waivers", str(waivers), "-k", "getHealth", "--profile", "smoke", "-n", "0",
        )  # fmt: skip
    assert code == 1, err
    document = assert_agree(code, out, err, reports)
    assert document["operations"][0]["outcome"] == "passed"
    assert "expired on 2020-01-01" in err
