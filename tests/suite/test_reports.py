"""What a run leaves for Allure beside each test's result: labels (epic = API, feature = module,
story = operation or scenario), severity by the broken rule and categories by its category (both
from the catalogue), the failures attached, and environment.properties, categories.json and, in
CI, executor.json."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.cli import run
from conformance.contract import bundled_spec
from conformance.masking import registered_forms
from conformance.reference import running
from conformance.reporting import CATEGORIES, check_results, executor, severity
from conformance.reporting._allure import STEPS_SHOWN
from conformance.runner import embedded_settings
from conformance.verdict import Run
from tests.suite.helpers import as_service

CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_URL")


def labels(result: dict[str, Any]) -> dict[str, str]:
    return {label["name"]: label["value"] for label in result["labels"]}


@pytest.mark.slow
def test_a_run_leaves_allure_results_labelled_with_its_environment_and_categories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = dataclasses.replace(
        embedded_settings(), defects=frozenset({"stale-delete-accepted"})
    )
    reports = tmp_path / "reports"
    with running(["gloria"], settings=settings) as broken:
        service = as_service(monkeypatch, broken, "gloria")
        url = broken.url("gloria")
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["run", "--target", f"gloria={url}", "--reports", str(reports), "--seed", "5",
             "--profile", "smoke", "-k", "getHealth or conflicts", "-p", "no:cacheprovider"],
            out, err,
        )  # fmt: skip
    assert code == 1, err.getvalue()
    results_dir = reports / "allure-results"  # the runner's default
    results = {
        r["name"]: r for r in (json.loads(p.read_text()) for p in results_dir.glob("*-result.json"))
    }
    # named for a reader, not pytest's test_fuzz[gloria-getHealth]
    fuzz, scenario = (
        results["GET /auth/health (fuzzing, all checks)"],
        results["scenario: conflicts"],
    )
    told_fuzz, told_scenario = labels(fuzz), labels(scenario)
    assert told_fuzz["epic"] == "Gloria School Organisation API 1.0.0"
    assert told_fuzz["feature"] == "auth"
    assert told_fuzz["story"] == "GET /auth/health"
    assert told_fuzz["severity"] == "normal"
    assert fuzz["status"] == "passed"
    assert scenario["status"] == "failed"
    assert told_scenario["epic"] == told_fuzz["epic"]
    assert told_scenario["feature"] == "scenarios"
    assert told_scenario["story"] == "conflicts"
    assert told_scenario["severity"] == "critical"  # a stale DELETE went through
    assert told_fuzz["parentSuite"] == told_fuzz["epic"]  # the report's tree: API, module, op
    assert (told_fuzz["suite"], told_fuzz["subSuite"]) == ("auth", "GET /auth/health")
    assert told_scenario["suite"] == "scenarios"
    assert fuzz["historyId"] != scenario["historyId"]
    # one result per operation and check, each with its own history id
    checks = {
        name.split(" · ", 1)[1]: r
        for name, r in results.items()
        if name.startswith("GET /auth/health · ")
    }
    assert {"not_a_server_error", "response_schema_conformance", "exercised"} <= set(checks)
    assert all(r["status"] == "passed" for r in checks.values()), checks
    ids = [r["historyId"] for r in checks.values()] + [fuzz["historyId"]]
    assert len(set(ids)) == len(ids)
    assert labels(checks["exercised"])["subSuite"] == "GET /auth/health"
    # the failures, with a curl each, are attached to the failed result
    attached = [a for a in scenario.get("attachments", []) if a["name"].startswith("failures")]
    assert attached
    told = (results_dir / attached[0]["source"]).read_text()
    assert "[stale-delete-409]" in told
    assert "curl -X DELETE" in told
    # the run's environment, one line each
    properties = (results_dir / "environment.properties").read_text().splitlines()
    spec = bundled_spec("gloria")
    assert f"gloria.target={url}" in properties
    assert f"gloria.spec.sha256={hashlib.sha256(spec.read_bytes()).hexdigest()}" in properties
    assert {"seed=5", "profile=smoke", "gloria.spec.version=1.0.0"} <= set(properties)
    names = [c["name"] for c in json.loads((results_dir / "categories.json").read_text())]
    assert names == [c["name"] for c in CATEGORIES]
    assert not (results_dir / "executor.json").exists()  # not in CI
    written = "".join(p.read_text(errors="replace") for p in results_dir.iterdir())
    assert "Bearer ey" not in written
    for secret in registered_forms([service.password]):
        assert secret not in written
    # the one-page summary, beside verdict.json: the verdict, the broken rule, no secret
    markdown = (reports / "summary.md").read_text(encoding="utf-8")
    page = (reports / "summary.html").read_text(encoding="utf-8")
    assert markdown.startswith("## ❌ Conformance: FAIL\n")
    assert "<h1>❌ Conformance: FAIL</h1>" in page
    for summary in (markdown, page):
        assert "1 scenario failed (gloria conflicts)" in summary
        assert "stale-delete-409" in summary
        assert "curl -X DELETE" in summary
        assert "Bearer ey" not in summary
        for secret in registered_forms([service.password]):
            assert secret not in summary


def test_the_executor_is_the_ci_job_that_ran() -> None:
    github = executor({
        "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "team/api", "GITHUB_RUN_ID": "42", "GITHUB_RUN_NUMBER": "7",
        "GITHUB_WORKFLOW": "deploy",
    })  # fmt: skip
    assert github == {
        "name": "GitHub Actions", "type": "github", "buildName": "deploy #7", "buildOrder": "7",
        "buildUrl": "https://github.com/team/api/actions/runs/42",
    }  # fmt: skip
    gitlab = executor({"GITLAB_CI": "true", "CI_JOB_NAME": "gate", "CI_PIPELINE_IID": "3",
                       "CI_JOB_URL": "https://gitlab.example/j/9"})  # fmt: skip
    assert gitlab is not None
    assert gitlab["buildUrl"] == "https://gitlab.example/j/9"
    jenkins = executor({"JENKINS_URL": "https://ci", "BUILD_URL": "https://ci/job/1/"})
    assert jenkins is not None
    assert jenkins["type"] == "jenkins"
    assert executor({"HOME": "/root"}) is None


def test_severity_follows_the_worst_rule_broken() -> None:
    assert severity([]) == "normal"
    assert severity(["not_a_server_error", "latency-budget"]) == "blocker"
    assert severity(["stale-409"]) == "critical"
    assert severity(["request_id", "no_leaks", "nosniff"]) == "critical"
    assert severity(["latency-budget"]) == "minor"
    assert severity(["response_schema_conformance"]) == "normal"
    assert severity(["a_users_own_check"]) == "normal"  # outside the catalogue
    assert severity(["a_users_own_check", "nosniff"]) == "normal"
    # one severity for the check and the scenario rule of one clause: the catalogue's
    assert severity(["rate_limit_headers"]) == severity(["rate-limit-headers"]) == "minor"
    for rule in catalogue.RULES.values():
        assert severity([rule.id]) == rule.severity.value


def test_the_categories_are_the_catalogues_in_its_order() -> None:
    names = [c["name"] for c in CATEGORIES]
    assert names[:2] == ["Waived", "Untested"]
    assert names[-2:] == ["Contract violation", "Infrastructure"]
    assert [n for n in catalogue.CATEGORIES if n in names[2:-2]] == names[2:-2]
    # each rule a run can break lands in the category the catalogue gives it
    for rule in catalogue.RULES.values():
        if rule.kind not in (catalogue.Kind.LINT, catalogue.Kind.DIFF):
            assert _category("failed", f"[{rule.id}] it broke") == rule.category, rule.id
            assert _category("failed", f"gloria GET /x: failed\n  {rule.id}: it broke") == (
                rule.category
            ), rule.id


def test_an_untested_operation_is_no_failed_result_but_says_why() -> None:
    document = {
        "operations": [
            {"api": "a", "operation_id": "deleteX", "label": "DELETE /x/{id}",
             "outcome": "untested", "reason": "no producer: nothing the run made gave it an id",
             "statuses": {"404": 3}, "documented_2xx_seen": [], "checks": {"no_leaks": 3},
             "failures": []},
        ]
    }  # fmt: skip
    results = {r["name"]: r for r in check_results(Run.from_json(document), {}, now_ms=1)}
    exercised = results["DELETE /x/{id} · exercised"]
    assert exercised["status"] == "skipped"
    message = exercised["statusDetails"]["message"]
    assert message == "untested: no producer: nothing the run made gave it an id"
    assert _category("skipped", message) == "Untested"
    assert results["DELETE /x/{id} · no_leaks"]["status"] == "passed"


def test_each_check_of_an_operation_is_a_result_of_its_own() -> None:
    failure = {"check": "not_a_server_error", "title": "Server error", "message": "500\nboom",
               "curl": "curl -X GET http://h/x", "waived": "", "phase": "fuzzing", "status": 500,
               "example": {"method": "GET", "path": "/x"},
               "response": {"status": 500, "headers": {"content-type": "text/plain"},
                            "body": "Traceback (most recent call last)",
                            "elapsed_ms": 3.5}}  # fmt: skip
    document = {
        "operations": [
            {"api": "a", "operation_id": "getX", "label": "GET /x", "outcome": "failed",
             "statuses": {"200": 3, "500": 1}, "documented_2xx_seen": [200],
             "checks": {"not_a_server_error": 4, "no_leaks": 4, "use_after_free": 0},
             "failures": [failure, {**failure, "check": "no_leaks", "waived": "BUG-1 (#1)"},
                          *[{**failure, "response": None}] * STEPS_SHOWN]},
            {"api": "a", "operation_id": "getY", "label": "GET /y", "outcome": "not_exercised",
             "statuses": {"404": 5}, "documented_2xx_seen": [], "checks": {"no_leaks": 5},
             "failures": []},
            {"api": "a", "operation_id": "getZ", "label": "GET /z", "outcome": "skipped",
             "statuses": {}, "checks": {}, "failures": []},
        ]
    }  # fmt: skip
    labels = {("a", "getX"): {"epic": "A 1", "subSuite": "GET /x"}}
    files: dict[str, str] = {}
    run = Run.from_json(document)
    results = {r["name"]: r for r in check_results(run, labels, now_ms=1, attachments=files)}
    assert set(results) == {
        "GET /x · not_a_server_error", "GET /x · no_leaks", "GET /x · use_after_free",
        "GET /x · exercised", "GET /y · no_leaks", "GET /y · exercised",
    }  # fmt: skip
    failed = results["GET /x · not_a_server_error"]
    assert failed["status"] == "failed"
    assert failed["statusDetails"]["message"].startswith("[not_a_server_error] Server error: 500")
    assert "curl -X GET http://h/x" in failed["statusDetails"]["trace"]
    assert {"name": "severity", "value": "blocker"} in failed["labels"]
    assert {"name": "epic", "value": "A 1"} in failed["labels"]
    # the first failures are its steps: the request, the response and the curl attached
    steps = failed["steps"]
    assert len(steps) == STEPS_SHOWN
    assert steps[0]["name"] == "[fuzzing] Server error: 500"
    assert steps[0]["status"] == "failed"
    attached = {a["name"]: files[a["source"]] for a in steps[0]["attachments"]}
    assert json.loads(attached["request"]) == {"method": "GET", "path": "/x"}
    assert attached["response"].startswith("HTTP 500 (3.5 ms)\ncontent-type: text/plain\n")
    assert "Traceback (most recent call last)" in attached["response"]
    assert attached["curl"] == "curl -X GET http://h/x\n"
    assert "response" not in {a["name"] for a in steps[1]["attachments"]}  # none was kept
    waived = results["GET /x · no_leaks"]
    assert waived["status"] == "skipped"
    assert waived["statusDetails"]["message"].startswith("waived: BUG-1 (#1)")
    assert [step["status"] for step in waived["steps"]] == ["skipped"]
    assert results["GET /x · use_after_free"]["status"] == "skipped"  # no case reached it
    assert results["GET /x · exercised"]["status"] == "passed"
    assert results["GET /y · exercised"]["status"] == "failed"
    assert "404 x5" in results["GET /y · exercised"]["statusDetails"]["message"]
    # each its own history, the same in the next run
    again = {r["name"]: r["historyId"] for r in check_results(run, labels, now_ms=2)}
    assert again == {name: r["historyId"] for name, r in results.items()}
    assert len(set(again.values())) == len(again)


def _category(status: str, message: str, match: Any = re.fullmatch) -> str:
    """The category Allure puts a result in: the first whose status and regex match (Allure 2
    matches the whole message, Allure 3 searches it: ``match=re.search``)."""
    for category in CATEGORIES:
        regex = category.get("messageRegex")
        if status in category["matchedStatuses"] and (
            regex is None or match(regex, message) is not None
        ):
            return str(category["name"])
    return "none"


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        # a scenario failure whose ids, port and headers happen to hold "401" and "429"
        ("failed", "gloria scenario conflicts: failed\n  §5 a DELETE …\n    [stale-delete-409]"
         " Position f983cb78-4015-401a-ab80-c8c110e54290 answered 204\n      curl -X DELETE "
         "'http://127.0.0.1:40129/api/v1/positions/x' -H 'x-ratelimit-remaining: 4291'",
         "Concurrency"),
        ("failed", "[exercised] no documented 2xx came back (seen: 9 x 400, 2 x 401)",
         "Not exercised"),
        ("failed", "[no_leaks] the body reveals a stack trace (2 cases)", "Information leak"),
        ("failed", "[request_id] X-Request-ID 'a' was sent but None came back (305 cases)",
         "Contract violation"),
        ("failed", "[a_users_own_check] it broke", "Contract violation"),
        ("failed", "gloria GET /x: failed\n  response_schema_conformance: x\n  no_leaks: y",
         "Information leak"),
        ("failed", "gloria GET /schools/{id}: failed\n  not_a_server_error: Server error (2 cases)",
         "Server error"),
        ("failed", "[not_a_server_error] Server error: 500 (3 cases)", "Server error"),
        ("failed", "[latency-budget] p95 240 ms over 200 ms", "Latency budget"),
        ("failed", "tchat scenario limits: failed\n  [remaining-monotonic] rose", "Rate limit"),
        ("failed", "[rate_limit_headers] X-RateLimit-Limit missing (1 cases)", "Rate limit"),
        ("failed", "gloria scenario auth: failed\n    [expired-401] answered 200", "Auth"),
        ("failed", "[ignored_auth] API accepts requests without authentication", "Auth"),
        ("failed", "[private-404] another user's Draft answered 200", "Auth"),
        ("skipped", "waived: TICKET-1 ([stale-409] …)", "Waived"),
        ("skipped", "untested: only 401 came back for the run's credentials", "Untested"),
        ("skipped", "no generated case reached this check", "none"),
        ("broken", "could not reach the target", "Infrastructure"),
    ],
)  # fmt: skip
def test_each_failure_lands_in_the_category_its_rule_names(
    status: str, message: str, expected: str
) -> None:
    assert _category(status, message) == expected
    assert _category(status, message, re.search) == expected


def test_a_category_regex_is_tried_from_the_message_start_only() -> None:
    """Allure 3 searches (``RegExp.test``): a regex that may begin anywhere with ``[\\s\\S]*`` is
    tried from every position, quadratic in the message; a scenario's long one once took the
    generator 37 s. Anchored, a miss on a long message is one pass."""
    long = ("x" * 60 + "\n") * 2000
    for category in CATEGORIES:
        regex = category.get("messageRegex")
        if regex is not None and regex.startswith("[\\s\\S]*"):
            raise AssertionError(f"{category['name']}: {regex} is not anchored")
    assert _category("failed", long + "  [stale-409] x", re.search) == "Concurrency"
