"""The injection and debug-endpoint probes (`conformance/suite/probes/_injection.py`,
`_debug.py`): metacharacters in string parameters that reach a query, and debug paths that
answer data.

Shown on the zoo's ``vault`` (a VAmPI-like API with a plain spec): the correct app passes both,
its planted ``sql-injection`` and ``debug-endpoint`` are caught by their rules, and payloads go
into writes only on a disposable target (read off the app's request log). The reference
backend's clean pass and defects: `tests/suite/test_probe_defects.py`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conformance import catalogue
from conformance.suite.probes._debug import looks_like_data
from conformance.suite.probes._injection import PAYLOADS, WRITE_PAYLOADS, db_error
from tests.suite.helpers import vault_probe
from tests.suite.test_property_probes import rules
from tests.zoo import ZOO
from tests.zoo import running as zoo_running

PROBES = ("injection", "debug_endpoints")
WRITES = ("POST", "PUT", "PATCH")


# -- the vault ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROBES)
def test_a_correct_vault_passes_the_injection_and_debug_probes(tmp_path: Path, name: str) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        verdict = vault_probe(name, served.url, tmp_path)
        hits = list(served.app.hits)
    assert verdict.outcome == "passed", (verdict.reason, verdict.failures)
    assert rules(verdict) == set()
    assert hits == []


@pytest.mark.parametrize(
    ("flaw", "name", "rule", "says"),
    [
        ("sql-injection", "injection", "injection-signal",
         "GET /books with q=\"'\" answered 500: 'sqlite3.OperationalError"),
        ("debug-endpoint", "debug_endpoints", "debug-endpoint",
         "GET /debug/vars (conventional debug path) answered 200 with a JSON object"),
    ],
)  # fmt: skip
def test_each_planted_vault_flaw_is_caught_by_its_rule(
    tmp_path: Path, flaw: str, name: str, rule: str, says: str
) -> None:
    with zoo_running(ZOO["vault"], planted={flaw}) as served:
        verdict = vault_probe(name, served.url, tmp_path)
        hits = set(served.app.hits)
    assert hits == {flaw}
    assert verdict.outcome == "failed", verdict
    assert rule in rules(verdict), verdict.failures
    assert any(says in f.message for f in verdict.failures if f.rule == rule), verdict.failures
    assert all(f.curl.startswith("curl ") for f in verdict.failures if f.rule == rule)


def _written(requests: list[tuple[str, str, str]]) -> list[str]:
    """The bodies of the writes a vault was sent that carry a payload."""
    payloads = {*PAYLOADS, *WRITE_PAYLOADS}
    return [
        body
        for method, _path, body in requests
        if method in WRITES and any(payload in body for payload in payloads)
    ]


def test_a_shared_target_gets_payloads_in_reads_only_and_says_so(tmp_path: Path) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        verdict = vault_probe("injection", served.url, tmp_path)
        requests = list(served.app.requests)  # type: ignore[attr-defined]
    assert _written(requests) == []
    skipped = [s for s in verdict.steps if s.outcome == "skipped"]
    assert any("a shared target: payloads go only into reads" in s.detail for s in skipped)


def test_a_disposable_target_gets_payloads_in_creates_too_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        before = served.app.snapshot()
        verdict = vault_probe("injection", served.url, tmp_path, disposable=True)
        after, requests = served.app.snapshot(), list(served.app.requests)  # type: ignore[attr-defined]
    assert verdict.outcome == "passed", (verdict.reason, verdict.failures)
    assert _written(requests), requests
    assert after == before  # what the probe made is deleted again


def test_a_read_only_run_sends_no_write_even_on_a_disposable_target(tmp_path: Path) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        verdict = vault_probe("injection", served.url, tmp_path, disposable=True, read_only=True)
        requests = list(served.app.requests)  # type: ignore[attr-defined]
    assert {(m, p) for m, p, _ in requests if m in WRITES} == {("POST", "/users/login")}
    assert verdict.outcome == "passed", verdict


# -- what the probes read off an answer ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['sqlite3.OperationalError: unrecognized token: "\'"', "ERROR: syntax error at or near \"'\"",
     "You have an error in your SQL syntax; check the manual", "ORA-01756: quoted string",
     "MongoServerError: unknown operator: $ne", "SQLSTATE[42000]: Syntax error"],
)  # fmt: skip
def test_a_database_error_is_told_by_its_text(text: str) -> None:
    assert db_error(f"<p>{text}</p>")


def test_what_is_no_database_error_is_not_told() -> None:
    assert db_error('{"detail": "invalid search: a quote is not allowed"}') == ""


def _answer(body: str, media: str) -> httpx.Response:
    return httpx.Response(200, text=body, headers={"Content-Type": media})


@pytest.mark.parametrize(
    ("body", "media", "data"),
    [
        ('{"DEBUG": true, "SECRET_KEY": "x"}', "application/json", True),
        ("[1, 2]", "application/json", True),
        ("{}", "application/json", False),
        ("DB_PASSWORD=hunter2\nDEBUG=1\n", "text/plain", True),
        ("[core]\n\trepositoryformatversion = 0\n", "text/plain", True),
        ("<html><body><div id=root></div></body></html>", "text/html", False),
        ("<html><h1>PHP Version 8.2</h1></html>", "text/html", True),
        ("OK", "text/plain", False),
    ],
)
def test_a_debug_answer_is_data_when_it_carries_members_or_settings(
    body: str, media: str, data: bool
) -> None:
    assert bool(looks_like_data(_answer(body, media))) is data


def test_the_probes_rules_are_owasp_api8_and_fail_the_gate() -> None:
    for rule in ("injection-signal", "debug-endpoint"):
        assert catalogue.rule(rule).owasp == "API8"
        assert not catalogue.rule(rule).warning
