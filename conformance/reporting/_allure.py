"""The Allure side of a run, beside what allure-pytest writes for each test.

- Labels: epic = the API (its spec's title and version), feature = the module (the operation's
  first tag; ``scenarios`` for a scenario), story = the operation (``GET /schools/{id}``) or the
  scenario; severity: the worst the catalogue gives the rules a failure broke.
- ``environment.properties``: target, spec file, its version and SHA-256, suite version, seed,
  profile, the environment (shared or disposable) (one line each per API).
- ``executor.json``: the CI job that ran it, read from the CI's environment (GitHub Actions,
  GitLab CI, Jenkins); none outside CI.
- ``categories.json``: failure categories by the rule a result names, the catalogue's categories
  in its order (server error, information leak, auth …, contract violation for the rest), and
  waived, untested and infrastructure.
- One result per operation and check (``GET /schools · not_a_server_error``), each with a history
  id of its own, beside the operation's own test: the report's tree is API → module → operation
  → checks, and a check's history is its own across runs. A failed check's first failures are
  its steps, each with the request, the response and the curl that reproduces it attached.
  ``exercised`` is one of them: the operation answered a documented 2xx (skipped, saying why,
  for an operation ``untested`` on a spec without ``x-contract: strict``).

Everything written is masked: at the end of a run every text file in the results folder, ours
and allure-pytest's (its captured output too), goes through `conformance.masking` (`scrub`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from conformance import catalogue
from conformance.contract import Operation, Spec
from conformance.masking import mask
from conformance.verdict import (
    KIND_NOUNS,
    Confirmed,
    Failure,
    LatencyOutcome,
    LatencyRow,
    OperationVerdict,
    Outcome,
    Run,
    ScenarioVerdict,
)

#: a rule id as it may stand in a regex unescaped (Python's escape of ``-`` is not valid
#: JavaScript under its ``u`` flag, so ids are kept plain rather than escaped)
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
#: the category every failed result no other category claims falls into
CATCH_ALL = "Contract violation"


def _naming(*rules: str) -> str:
    """A message regex that matches when the message names one of ``rules`` as a rule: in
    brackets (``[stale-409] …``, how check results and scenario failures name theirs) or at the
    head of a line (``  not_a_server_error: …``, how an operation's failure lists them). Never a
    bare substring: a status like ``401`` also turns up in ids, ports and header values."""
    if not all(_PLAIN.fullmatch(rule) for rule in rules):
        raise ValueError(f"a rule id must be letters, digits, _ and - only: {sorted(rules)}")
    return "^[\\s\\S]*(?:^|[\\[\\s])(?:" + "|".join(rules) + ")[\\]:][\\s\\S]*"


def _categories() -> list[dict[str, Any]]:
    """Allure's failure categories from the catalogue: each of its categories in its order,
    matched by the rules the catalogue puts in it (lint and diff rules never make a result),
    then the catch-all; waived and untested results (skipped) and broken ones have their
    own."""
    by_category: dict[str, list[str]] = {}
    for rule in catalogue.RULES.values():
        if rule.kind not in (catalogue.Kind.LINT, catalogue.Kind.DIFF):
            by_category.setdefault(rule.category, []).append(rule.id)
    made: list[dict[str, Any]] = [
        {"name": "Waived", "matchedStatuses": ["skipped"],
         "messageRegex": "^[\\s\\S]*waived:[\\s\\S]*"},
        {"name": "Untested", "matchedStatuses": ["skipped"],
         "messageRegex": "untested:[\\s\\S]*"},
    ]  # fmt: skip
    made += [
        {"name": name, "matchedStatuses": ["failed"], "messageRegex": _naming(*by_category[name])}
        for name in catalogue.CATEGORIES
        if name != CATCH_ALL and by_category.get(name)
    ]
    made += [
        {"name": CATCH_ALL, "matchedStatuses": ["failed"]},
        {"name": "Infrastructure", "matchedStatuses": ["broken"]},
    ]
    return made


#: Allure's failure categories, matched against a result's message (which names its rules);
#: ``[\s\S]`` and not ``(?s)``: Allure 2 (Java) and Allure 3 (JavaScript) read these regexes
#: alike. The first that matches takes the result. Each begins with ``^``: Allure 2 matches the
#: whole message, Allure 3 searches it (``RegExp.test``), and an unanchored leading ``[\s\S]*``
#: is tried from every position: quadratic in the message (a scenario's long one took the
#: generator 37 s).
CATEGORIES: list[dict[str, Any]] = _categories()


def severity(rules: Iterable[str]) -> str:
    """The severity of a result whose failures broke ``rules``: the worst of them in the
    catalogue (``normal`` for none, and for a rule the catalogue does not list)."""
    return catalogue.worst(rules).value


def epic(spec: Spec) -> str:
    return f"{spec.title} {spec.version}".strip()


def allure_labels(
    spec: Spec,
    operation: Operation | None = None,
    scenario: str | None = None,
    probe: str | None = None,
) -> dict[str, str]:
    """The labels of one test, an operation's, a scenario's or a security probe's; the suite
    labels give the report's tree the same shape (API → module → operation)."""
    if probe is not None:
        return {
            "epic": epic(spec),
            "feature": "security probes",
            "story": probe,
            "parentSuite": epic(spec),
            "suite": "security probes",
        }
    if operation is not None:
        feature, story = operation.module or "untagged", operation.label
        return {
            "epic": epic(spec),
            "feature": feature,
            "story": story,
            "parentSuite": epic(spec),
            "suite": feature,
            "subSuite": story,
        }
    return {
        "epic": epic(spec),
        "feature": "scenarios",
        "story": str(scenario),
        "parentSuite": epic(spec),
        "suite": "scenarios",
    }


def title(
    operation: Operation | None = None, scenario: str | None = None, kind: str = "scenario"
) -> str:
    """The name a test shows in the report (not pytest's ``test_fuzz[gloria-getHealth]``):
    an operation's, or a scenario's of ``kind`` (a security probe's)."""
    if operation is not None:
        return f"{operation.label} (fuzzing, all checks)"
    return f"{KIND_NOUNS.get(kind, kind)}: {scenario}"


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


def _properties(run: Run) -> list[str]:
    lines = [
        f"suite.version={run.suite_version}",
        f"seed={run.seed}",
        f"profile={run.profile}",
        f"environment={run.environment}",
    ]
    for target in run.targets:
        lines += [
            f"{target.api}.target={target.url}",
            f"{target.api}.spec={target.spec}",
            f"{target.api}.spec.version={target.spec_version}",
            f"{target.api}.spec.sha256={target.spec_sha256}",
        ]
    # a properties file escapes backslashes and reads ':' and '=' in keys as separators
    return [line.replace("\\", "\\\\") for line in lines]


def _history_id(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode(), usedforsecurity=False).hexdigest()


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_results(
    run: Run,
    labels: Mapping[tuple[str, str], Mapping[str, str]],
    *,
    now_ms: int | None = None,
    attachments: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One Allure result per operation and check of ``run``, with the operation's ``labels``
    (by ``(api, operation_id)``). A check fails when a failure of it is not waived; it is
    skipped when waived, or when no case reached it; ``exercised`` fails when no documented 2xx
    came back (skipped, with the reason, for an ``untested`` operation). The first
    `STEPS_SHOWN` failures of a check are its steps, each with the request, the response and
    the curl attached: their files' contents go into ``attachments`` (file name -> text) for
    the caller to write."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    files: dict[str, str] = {} if attachments is None else attachments
    made: list[dict[str, Any]] = []
    for operation in run.operations:
        if operation.outcome == Outcome.SKIPPED:
            continue
        api, operation_id = operation.api, operation.operation_id
        label = operation.label or operation_id
        where = (api, operation_id, label, labels.get((api, operation_id), {}), stamp)
        by_check: dict[str, list[Failure]] = {}
        for failure in operation.failures:
            by_check.setdefault(failure.check, []).append(failure)
        judged = dict(operation.checks)
        for check in by_check:
            judged.setdefault(check, 0)
        for check, cases in sorted(judged.items()):
            failures = by_check.get(check)
            told = _check_status(operation, check, cases, failures)
            result = _result(where, check, *told)
            if failures and told[0] != "broken":
                result["steps"] = _failure_steps(failures, stamp, files)
            made.append(result)
        made.append(_result(where, "exercised", *_exercised(operation)))
    return made


def _exercised(operation: OperationVerdict) -> tuple[str, str, str]:
    """Allure's status, message and trace for the rule ``exercised`` of an operation."""
    statuses = ", ".join(f"{code} x{n}" for code, n in operation.statuses.items())
    answers = f"answers to generated cases: {statuses or 'none'}"
    if operation.outcome == Outcome.ERROR:
        return "broken", "; ".join(operation.errors) or "not tested", answers
    if operation.documented_2xx_seen:
        return "passed", "", answers
    if operation.outcome == Outcome.UNTESTED or not operation.exercise_required:
        # no failure without x-contract: strict (or --require-exercised)
        untested = f"untested: {operation.reason or 'no documented 2xx came back'}"
        return "skipped", untested, answers
    if operation.outcome == Outcome.WAIVED:  # a waiver of rule "exercised"
        return "skipped", f"waived: {operation.reason} ([exercised] no documented 2xx)", answers
    return "failed", f"[exercised] no documented 2xx came back ({answers})", answers


def _check_status(
    operation: OperationVerdict,
    check: str,
    cases: int,
    failures: list[Failure] | None,
) -> tuple[str, str, str]:
    if operation.outcome == Outcome.ERROR:
        return "broken", "; ".join(operation.errors) or "not tested", ""
    if failures:
        first = failures[0]
        trace = "\n\n".join(f"{f.title}: {f.message}\n{f.curl}".strip() for f in failures)
        told = f"[{check}] {first.title}: {_first_line(first.message)}"
        if all(f.waived for f in failures):
            return "skipped", f"waived: {first.waived} ({told})", trace
        return "failed", f"{told} ({len(failures)} cases)", trace
    if not cases:
        return "skipped", "no generated case reached this check", ""
    return "passed", "", ""


#: failures of one check told as steps of its result (verdict.json has them all)
STEPS_SHOWN = 5


def _failure_steps(
    failures: Sequence[Failure], stamp: int, files: dict[str, str]
) -> list[dict[str, Any]]:
    """A step per failure (the first `STEPS_SHOWN`), its `_evidence` attached: each file's
    text goes into ``files`` (file name -> text)."""
    steps = []
    for failure in failures[:STEPS_SHOWN]:
        attached = []
        for name, text, kind in _evidence(failure):
            source = f"{uuid.uuid4()}-attachment.{'json' if kind == 'application/json' else 'txt'}"
            files[source] = text
            attached.append({"name": name, "source": source, "type": kind})
        steps.append(
            {
                "name": f"[{failure.phase}] {failure.title}: {_first_line(failure.message, 200)}",
                "status": "skipped" if failure.waived else "failed",
                "stage": "finished",
                "start": stamp,
                "stop": stamp,
                "statusDetails": {"message": failure.message},
                "attachments": attached,
                "steps": [],
                "parameters": [],
            }
        )
    return steps


def _evidence(failure: Failure) -> list[tuple[str, str, str]]:
    """What reproduces a failure, as (name, text, media type): the request as data, the
    requests a stateful failure needed before it, the response and the curl."""
    texts: list[tuple[str, str, str]] = []
    if failure.example:
        texts.append(("request", json.dumps(failure.example, indent=2), "application/json"))
    if failure.steps:
        texts.append(("the requests before it", "\n".join(failure.steps) + "\n", "text/plain"))
    if response := failure.response:
        head = f"HTTP {response.get('status')} ({response.get('elapsed_ms')} ms)"
        headers = "".join(f"{k}: {v}\n" for k, v in dict(response.get("headers", {})).items())
        body = f"{head}\n{headers}\n{response.get('body', '')}\n"
        texts.append(("response", body, "text/plain"))
    if failure.curl:
        texts.append(("curl", f"{failure.curl}\n", "text/plain"))
    return texts


def allure_result(
    key: Sequence[str],
    *,
    name: str,
    full_name: str,
    status: str,
    labels: Iterable[tuple[str, str]],
    parameters: Mapping[str, str],
    start: int,
    stop: int,
    message: str = "",
    trace: str = "",
    case_key: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One Allure result written by us rather than allure-pytest: its history id is the md5 of
    ``key`` (the same in every run), its test case id that of ``case_key`` (default: ``key``)."""
    history = _history_id(*key)
    result: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": history,
        "testCaseId": history if case_key is None else _history_id(*case_key),
        "fullName": full_name,
        "name": name,
        "status": status,
        "stage": "finished",
        "start": start,
        "stop": stop,
        "labels": [{"name": label, "value": value} for label, value in labels],
        "parameters": [{"name": label, "value": value} for label, value in parameters.items()],
    }
    if message or trace:
        result["statusDetails"] = {"message": message, "trace": trace}
    return result


def _result(
    where: tuple[str, str, str, Mapping[str, str], int],
    check: str,
    status: str,
    message: str,
    trace: str,
) -> dict[str, Any]:
    api, operation_id, label, labels, stamp = where
    level = severity([check]) if status == "failed" else "normal"
    return allure_result(
        (api, operation_id, check),
        case_key=("check", api, operation_id, check),
        name=f"{label} · {check}",
        full_name=f"{api}.{operation_id}.{check}",
        status=status,
        labels=[*labels.items(), ("tag", api), ("tag", "check"), ("severity", level)],
        parameters={"operation": operation_id, "check": check},
        start=stamp,
        stop=stamp,
        message=message,
        trace=trace,
    )


def scrub(results: Path) -> int:
    """Mask every text file in ``results`` in place (allure-pytest's captured logs too); the
    number of files changed."""
    changed = 0
    for path in results.iterdir():
        if not path.is_file() or path.suffix not in (".json", ".txt", ".properties", ".log"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        masked = mask(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8")
            changed += 1
    return changed


#: the pytest parameter of a scenario's test (`conformance.plugin`), as allure-pytest records it
SCENARIO_PARAMETER = "conformance_scenario"


def _scenario_result(results: Path, api: str, name: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest result allure-pytest wrote for the test of scenario ``name`` on ``api``."""
    wanted = {"name": SCENARIO_PARAMETER, "value": repr((api, name))}
    found: list[tuple[int, Path, dict[str, Any]]] = []
    for path in results.glob("*-result.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and wanted in data.get("parameters", []):
            found.append((int(data.get("start") or 0), path, data))
    if not found:
        return None
    _, path, data = max(found, key=lambda entry: entry[0])
    return path, data


def _scenario_status(scenario: ScenarioVerdict) -> tuple[str, str, str]:
    """Allure's status, message and trace for a scenario's verdict."""
    lines = [failure.line() for failure in scenario.failures]
    trace = "\n".join(lines)
    outcome, reason = scenario.outcome, scenario.reason
    if outcome == Outcome.FAILED:
        return "failed", lines[0] if lines else reason, trace
    if outcome == Outcome.WAIVED:
        return "skipped", f"waived: {reason}", trace
    if outcome == Outcome.PASSED:
        return "passed", reason, trace
    return ("broken" if outcome == Outcome.ERROR else "skipped"), reason, trace


def _remeasured(row: LatencyRow) -> str:
    """One line on a latency row re-measured alone after the run."""
    first = f"{row.operation}: p95 {_ms(row.p95_ms)} ms in the run"
    confirmation = row.confirmation
    if confirmation is None or confirmation.outcome == Confirmed.NOT_POSSIBLE:
        why = confirmation.reason if confirmation is not None else ""
        return f"{first}; not re-measured ({why}): it stands"
    alone = (
        f"{_ms(confirmation.p95_ms)} ms alone ({confirmation.samples}"
        f" samples), budget {row.budget_ms} ms"
    )
    verb = "confirmed" if confirmation.outcome == Confirmed.CONFIRMED else "not confirmed"
    return f"{first}, {alone}: {verb}"


def _ms(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, (int, float)) else "?"


def amend_latency_results(results: Path, run: Run) -> int:
    """allure-pytest wrote the latency scenario's result on the worker, from the run's own
    measurement (an expected failure while a breach waited to be re-measured). The controller
    re-measured the breaches alone afterwards, and the run's latency rows say how; that result
    is brought in line with the run's verdict: its status and message, the budget steps of the
    breaches not confirmed (passed now, saying so), and a step per operation re-measured. The
    number of results amended."""
    amended = 0
    for scenario in run.scenarios:
        if scenario.name != "latency":
            continue
        rows = [row for row in scenario.latency if row.confirmation is not None]
        found = _scenario_result(results, scenario.api, "latency") if rows else None
        if found is None:
            continue
        path, result = found
        status, message, trace = _scenario_status(scenario)
        result["status"] = status
        result["statusDetails"] = {"message": message, "trace": trace}
        stamp = int(result.get("stop") or time.time() * 1000)
        for step in result.get("steps", []):
            row = next(
                (r for r in rows if step.get("name") == f"the budget of {r.operation}"), None
            )
            if (
                row is not None
                and row.confirmation is not None
                and row.confirmation.outcome == Confirmed.NOT_CONFIRMED
            ):
                for inner in [step, *step.get("steps", [])]:
                    inner["status"] = "passed"
                    inner["statusDetails"] = {"message": _remeasured(row)}
        result.setdefault("steps", []).append(_remeasured_step(rows, stamp))
        path.write_text(json.dumps(result), encoding="utf-8")
        amended += 1
    return amended


def _remeasured_step(rows: Sequence[LatencyRow], stamp: int) -> dict[str, Any]:
    """The step that tells the re-measurement: one inner step per operation re-measured."""
    kept = [row for row in rows if row.outcome == LatencyOutcome.EXCEEDED]
    return {
        "name": "re-measured alone after the run (warmed, one request at a time)",
        "status": "failed" if kept else "passed",
        "stage": "finished",
        "start": stamp,
        "stop": stamp,
        "statusDetails": {"message": "\n".join(_remeasured(row) for row in rows)},
        "steps": [
            {
                "name": _remeasured(row),
                "status": "failed" if row.outcome == LatencyOutcome.EXCEEDED else "passed",
                "stage": "finished",
                "start": stamp,
                "stop": stamp,
                "steps": [],
                "attachments": [],
                "parameters": [],
            }
            for row in rows
        ],
        "attachments": [],
        "parameters": [],
    }


def write_run_files(
    results: Path,
    run: Run,
    environ: Mapping[str, str] | None = None,
    labels: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
) -> None:
    """Write environment.properties, categories.json, (in CI) executor.json and a result per
    operation and check into the Allure results folder, for ``run``; bring the latency
    scenario's own result in line with the re-measurement of its breaches
    (`amend_latency_results`); then mask the folder's text files, these among them
    (`scrub`)."""
    results.mkdir(parents=True, exist_ok=True)
    attachments: dict[str, str] = {}
    for result in check_results(run, labels or {}, attachments=attachments):
        path = results / f"{result['uuid']}-result.json"
        path.write_text(json.dumps(result), encoding="utf-8")
    for name, text in attachments.items():
        (results / name).write_text(text, encoding="utf-8")
    amend_latency_results(results, run)
    environ = os.environ if environ is None else environ
    (results / "environment.properties").write_text(
        "\n".join(_properties(run)) + "\n", encoding="utf-8"
    )
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n")
    found = executor(environ)
    if found is not None:
        (results / "executor.json").write_text(json.dumps(found, indent=2) + "\n")
    scrub(results)
