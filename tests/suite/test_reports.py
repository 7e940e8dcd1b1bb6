"""What a run leaves for Allure beside each test's result: labels (epic = API, feature = module,
story = operation or scenario), severity by the broken rule, the failures attached, and
environment.properties, categories.json and, in CI, executor.json."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.contract import bundled_spec
from conformance.masking import registered_forms
from conformance.reference import running
from conformance.reporting import CATEGORIES, executor, severity
from conformance.runner import embedded_settings
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
    fuzz, scenario = (
        results["test_fuzz[gloria-getHealth]"],
        results["test_scenario[gloria-conflicts]"],
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
    assert fuzz["historyId"] != scenario["historyId"]
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
    assert severity(["latency-budget"]) == "minor"
    assert severity(["response_schema_conformance"]) == "normal"
