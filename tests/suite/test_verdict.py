"""Judging operations, the terminal summary and junit.xml, from records made by hand."""

from __future__ import annotations

import collections
from pathlib import Path
from xml.etree import ElementTree

from conformance.contract import bundled_spec, load_spec
from conformance.suite._engine import Failure, OperationRecord
from conformance.suite._junit import write_junit
from conformance.suite._verdict import OperationVerdict, judge, summary_lines


def failure(check: str) -> Failure:
    return Failure(check, "Missing header", "X-Request-ID was not echoed", "fuzzing", 200, "curl x")


def verdicts() -> list[OperationVerdict]:
    spec = load_spec(bundled_spec("tchat"))
    passed = OperationRecord("GET /content/categories", "getContentCategories")
    passed.statuses[200] = 3
    passed.checks.update({"request_id": 3, "not_a_server_error": 3})
    failed = OperationRecord("GET /content", "getContentItems")
    failed.statuses.update({200: 2, 400: 1})
    failed.checks.update({"request_id": 3, "nosniff": 3})
    failed.failures += [failure("request_id"), failure("request_id")]
    missing = OperationRecord("GET /content/sync", "syncContent")
    missing.statuses[404] = 5
    missing.throttled = 2
    return [judge("tchat", spec, record) for record in (passed, failed, missing)]


def test_outcomes_follow_failures_and_documented_2xx() -> None:
    outcomes = [v.outcome for v in verdicts()]
    assert outcomes == ["passed", "failed", "not_exercised"]


def test_the_summary_groups_failures_by_rule_and_says_what_was_not_exercised() -> None:
    lines = summary_lines(verdicts(), seed=7, profile="gate")
    assert lines[0].startswith("verdict: FAIL (3 operations: 1 failed, 1 not_exercised, 1 passed)")
    assert "seed 7, profile gate" in lines[0]
    rule = lines.index("  request_id (2 cases):")
    assert lines[rule + 1] == "    tchat GET /content (2)"
    assert "  tchat GET /content/sync (seen: 5 x 404)" in lines
    assert lines[-1] == (
        "throttled: 2 answers stayed 429 after every retry (not judged):"
        " tchat GET /content/sync (2)"
    )


def test_junit_has_a_case_per_operation_and_check(tmp_path: Path) -> None:
    write_junit(tmp_path / "junit.xml", verdicts(), seed=7)
    root = ElementTree.parse(tmp_path / "junit.xml").getroot()
    cases = {
        (case.get("classname"), case.get("name")): case.find("failure") is not None
        for case in root.iter("testcase")
    }
    assert cases == {
        ("tchat.getContentCategories", "exercised"): False,
        ("tchat.getContentCategories", "not_a_server_error"): False,
        ("tchat.getContentCategories", "request_id"): False,
        ("tchat.getContentItems", "exercised"): False,
        ("tchat.getContentItems", "nosniff"): False,
        ("tchat.getContentItems", "request_id"): True,
        ("tchat.syncContent", "exercised"): True,
    }
    assert collections.Counter(root.attrib) == collections.Counter(
        {"name": "conformance", "tests": "7", "failures": "2", "errors": "0", "skipped": "0"}
    )


def test_a_verdict_survives_the_trip_from_an_xdist_worker() -> None:
    import json

    for verdict in verdicts():
        assert OperationVerdict.from_json(json.loads(json.dumps(verdict.as_json()))) == verdict
