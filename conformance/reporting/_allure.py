"""The Allure side of a run, beside what allure-pytest writes for each test.

- Labels: epic = the API (its spec's title and version), feature = the module (the operation's
  first tag; ``scenarios`` for a scenario), story = the operation (``GET /schools/{id}``) or the
  scenario; severity by the rules a failure broke.
- ``environment.properties``: target, spec file, its version and SHA-256, suite version, seed,
  profile (one line each per API).
- ``executor.json``: the CI job that ran it, read from the CI's environment (GitHub Actions,
  GitLab CI, Jenkins); none outside CI.
- ``categories.json``: failure categories by the rule a result names (contract violation, server
  error, latency budget, rate limit, auth, infrastructure, waived).

Everything written goes through `conformance.masking` first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from conformance.contract import Operation, Spec
from conformance.masking import mask

#: rules (checks and scenario rules) by the severity a failure of theirs gets
_SEVERE = {
    "blocker": ("not_a_server_error", "ignored_auth", "no-credentials-401", "bad-token-401",
                "expired-401", "role-403", "private-404", "logout-revokes",
                "reuse-revokes-family"),
    "critical": ("stale-409", "rejected-unchanged", "one-of-concurrent", "duplicate-409",
                 "use_after_free", "stale-delete-409", "no_leaks", "refresh-rotates",
                 "single-flight", "auth-before-limit"),
    "minor": ("latency-budget", "rate-limit-headers", "remaining-monotonic", "nosniff",
              "request_id"),
}  # fmt: skip

#: Allure's failure categories, matched against a result's message (which names its rules)
CATEGORIES: list[dict[str, Any]] = [
    {"name": "Waived", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*waived.*"},
    {"name": "Server error", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*not_a_server_error.*"},
    {"name": "Latency budget", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*latency-budget.*"},
    {"name": "Rate limit", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(rate_limit|rate-limit|limit-enforced|rate-limited-answer"
                     "|per-principal|remaining-monotonic|limit-recovers|login-limit).*"},
    {"name": "Auth", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(ignored_auth|401|no-store|www-authenticate|refresh-|reuse-revokes"
                     "|single-flight|logout-revokes|token-works|login-pair|role-403|private-404"
                     "|owner-|admin-reads-all|auth-before-limit).*"},
    {"name": "Contract violation", "matchedStatuses": ["failed"]},
    {"name": "Infrastructure", "matchedStatuses": ["broken"]},
]  # fmt: skip


def severity(rules: Iterable[str]) -> str:
    """The severity of a result whose failures broke ``rules`` (``normal`` by default)."""
    found = set(rules)
    for level in ("blocker", "critical"):
        if found & set(_SEVERE[level]):
            return level
    if found and found <= set(_SEVERE["minor"]):
        return "minor"
    return "normal"


def epic(spec: Spec) -> str:
    return f"{spec.title} {spec.version}".strip()


def allure_labels(
    spec: Spec, operation: Operation | None = None, scenario: str | None = None
) -> dict[str, str]:
    """The labels of one test: an operation's, or a scenario's."""
    if operation is not None:
        return {
            "epic": epic(spec),
            "feature": operation.module or "untagged",
            "story": operation.label,
        }
    return {"epic": epic(spec), "feature": "scenarios", "story": str(scenario)}


def executor(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The CI job, as Allure's ``executor.json`` describes one; None outside CI."""
    get = environ.get
    if get("GITHUB_ACTIONS") == "true":
        repository, run = get("GITHUB_REPOSITORY", ""), get("GITHUB_RUN_ID", "")
        server = get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{repository}/actions/runs/{run}" if repository and run else ""
        name, number, kind = (
            get("GITHUB_WORKFLOW", "workflow"),
            get("GITHUB_RUN_NUMBER", ""),
            "github",
        )
        title = "GitHub Actions"
    elif get("GITLAB_CI") == "true":
        name, number, kind = get("CI_JOB_NAME", "job"), get("CI_PIPELINE_IID", ""), "gitlab"
        url, title = get("CI_JOB_URL", ""), "GitLab CI"
    elif get("JENKINS_URL") and get("BUILD_URL"):
        name, number, kind = get("JOB_NAME", "build"), get("BUILD_NUMBER", ""), "jenkins"
        url, title = get("BUILD_URL", ""), "Jenkins"
    else:
        return None
    return {
        "name": title,
        "type": kind,
        "buildName": f"{name} #{number}".rstrip(" #"),
        "buildOrder": number,
        "buildUrl": url,
    }


def _properties(document: Mapping[str, Any]) -> list[str]:
    lines = [
        f"suite.version={document.get('suite_version', '')}",
        f"seed={document.get('seed', '')}",
        f"profile={document.get('profile', '')}",
    ]
    for target in document.get("targets", []):
        api = target.get("api", "")
        lines += [
            f"{api}.target={target.get('url', '')}",
            f"{api}.spec={target.get('spec', '')}",
            f"{api}.spec.version={target.get('spec_version', '')}",
            f"{api}.spec.sha256={target.get('spec_sha256', '')}",
        ]
    # a properties file escapes backslashes and reads ':' and '=' in keys as separators
    return [line.replace("\\", "\\\\") for line in lines]


def write_run_files(
    results: Path, document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """Write environment.properties, categories.json and (in CI) executor.json into the
    Allure results folder, for the run ``document`` (verdict.json) describes."""
    results.mkdir(parents=True, exist_ok=True)
    environ = os.environ if environ is None else environ
    (results / "environment.properties").write_text(
        mask("\n".join(_properties(document))) + "\n", encoding="utf-8"
    )
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n")
    found = executor(environ)
    if found is not None:
        (results / "executor.json").write_text(mask(json.dumps(found, indent=2)) + "\n")
