"""Judging operations, the terminal summary and junit.xml, from records made by hand."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conformance import verdict
from conformance.contract import bundled_spec, load_spec
from conformance.errors import ExitCode
from conformance.reporting import terminal_lines, write_junit
from conformance.suite._engine import OperationRecord
from conformance.suite._verdict import (
    judge,
    merged_rules,
    rules_document,
    settle,
    why_untested,
)
from conformance.verdict import (
    Confirmation,
    Confirmed,
    Failure,
    LatencyOutcome,
    LatencyRow,
    OperationVerdict,
    Outcome,
    Run,
    ScenarioVerdict,
)


def run_of(verdicts: list[OperationVerdict], seed: int = 1) -> Run:
    return Run(verdicts, [], seed, "gate")


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
    lines = terminal_lines(run_of(verdicts(), seed=7))
    assert lines[0] == (
        "verdict: FAIL: 1 operation broke the contract (tchat GET /content): request_id (2);"
        " 1 operation never answered with a documented 2xx (tchat GET /content/sync)."
    )
    assert "  seed 7, profile gate, environment shared, conformance 0.1.0." in lines
    by_rule = lines[lines.index("failures by rule:") : lines.index("failures:")]
    assert [line.split()[:3] for line in by_rule if "tchat" in line] == [
        ["exercised", "normal", "1"],  # worst first: the gate's rule, then request_id
        ["request_id", "minor", "2"],
    ]
    not_exercised = lines[lines.index("coverage:") :]
    assert any("tchat  GET /content/sync" in line and "5 x 404" in line for line in not_exercised)
    assert (
        "  2 answers stayed 429 (rate limited) after every retry and were not judged:"
        " tchat GET /content/sync (2)."
    ) in lines


def test_junit_has_a_case_per_operation_and_check(tmp_path: Path) -> None:
    write_junit(tmp_path / "junit.xml", run_of(verdicts(), seed=7))
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

    for judged in verdicts():
        assert OperationVerdict.from_json(json.loads(json.dumps(judged.as_json()))) == judged


# --- a spec without x-contract: strict: untested, not a failure --------------------------------

PETSTORE = Path(__file__).resolve().parent.parent / "fixtures" / "specs" / "petstore.yaml"


def petstore_verdicts(*, require_exercised: bool = False) -> list[OperationVerdict]:
    """listPets answered 200; showPetById only 404 (made-up ids: nothing gives a real petId);
    createPets only 401 and 403."""
    spec = load_spec(PETSTORE)
    listed = OperationRecord("GET /pets", "listPets")
    listed.statuses[200] = 4
    shown = OperationRecord("GET /pets/{petId}", "showPetById")
    shown.statuses[404] = 5
    created = OperationRecord("POST /pets", "createPets")
    created.statuses.update({401: 2, 403: 1})
    return [
        judge("petstore", spec, record, require_exercised=require_exercised)
        for record in (listed, shown, created)
    ]


def test_without_the_strict_opt_in_an_operation_without_a_documented_2xx_is_untested() -> None:
    listed, shown, created = petstore_verdicts()
    assert [v.outcome for v in (listed, shown, created)] == ["passed", "untested", "untested"]
    assert shown.reason == (
        "no producer for its path parameter petId (no link of the spec leads to it, no example"
        " gives one): made-up ids answered 404"
    )
    assert created.reason == "only 4xx answers for the run's credentials (401, 403)"
    assert not shown.exercise_required
    assert "why: only 4xx answers for the run's credentials (401, 403)" in created.explain()


def test_untested_operations_leave_a_pass_a_pass_and_are_counted() -> None:
    verdicts = petstore_verdicts()
    run = run_of(verdicts)
    assert run.verdict == "pass"
    assert run.exit_code() == ExitCode.OK
    document = run.as_json()
    assert document["counts"]["untested"] == 2
    assert document["counts"]["not_exercised"] == 0
    assert document["untested"] == ["GET /pets/{petId}", "POST /pets"]
    assert document["not_exercised"] == []
    lines = terminal_lines(run)
    assert lines[0].startswith("verdict: PASS: The one operation tested conforms; 2 operations")
    untested = lines[lines.index("untested:") : lines.index("run:")]
    assert any(
        "POST /pets" in line and "only 4xx answers for the run's credentials (401, 403)" in line
        for line in untested
    ), untested


def test_require_exercised_makes_an_untested_operation_fail_the_gate() -> None:
    verdicts = petstore_verdicts(require_exercised=True)
    assert [v.outcome for v in verdicts] == ["passed", "not_exercised", "not_exercised"]
    assert verdicts[2].reason == "only 4xx answers for the run's credentials (401, 403)"
    run = run_of(verdicts)
    assert run.verdict == "fail"
    assert run.exit_code() == ExitCode.FAILED
    assert run.not_exercised == ["GET /pets/{petId}", "POST /pets"]


def test_the_strict_opt_in_keeps_not_exercised_a_failure_without_the_flag() -> None:
    *_, missing = verdicts()  # tchat: x-contract: strict
    assert missing.outcome == "not_exercised"
    assert missing.exercise_required
    assert run_of([missing]).verdict == "fail"


def test_a_run_that_exercised_nothing_has_no_verdict_to_give() -> None:
    _, *untested = petstore_verdicts()
    run = run_of(untested)
    assert run.nothing_tested()
    assert run.exit_code() == ExitCode.BAD_INPUT


def test_a_failure_without_a_2xx_is_no_not_exercised_where_none_is_required() -> None:
    spec = load_spec(PETSTORE)
    record = OperationRecord("POST /pets", "createPets")
    record.statuses[500] = 1
    record.failures.append(failure("not_a_server_error"))
    judged = judge("petstore", spec, record)
    assert judged.outcome == "failed"
    document = run_of([judged]).as_json()
    assert (document["verdict"], document["not_exercised"], document["untested"]) == (
        "fail",
        [],
        [],
    )


@pytest.mark.parametrize(
    ("statuses", "unable", "throttled", "says"),
    [
        ({}, ["the fuzzing phase could not generate data: Unsatisfiable"], 0,
         "the run could not generate data for it (the fuzzing phase)"),
        ({}, [], 0, "nothing came back: no request of the run reached it"),
        ({}, [], 3, "nothing came back but 429s (3 after every retry)"),
        ({401: 3}, [], 0, "only 4xx answers for the run's credentials (401)"),
        ({422: 3}, ["the coverage phase could not generate data: x"], 0,
         "only 4xx answers for the run's credentials and data (422); the run could not generate"
         " data for it (the coverage phase)"),
    ],
)  # fmt: skip
def test_an_untested_operation_says_why(
    statuses: dict[int, int], unable: list[str], throttled: int, says: str
) -> None:
    record = OperationRecord("POST /pets", "createPets", unable=list(unable))
    record.statuses.update(statuses)
    record.throttled = throttled
    assert why_untested(load_spec(PETSTORE), record) == says


def test_an_untested_test_is_skipped_with_its_reason() -> None:
    _, shown, _ = petstore_verdicts()
    with pytest.raises(pytest.skip.Exception, match="untested: no producer for its path"):
        settle(shown)


def test_the_rules_of_a_plain_spec_say_which_apply_where_and_why() -> None:
    spec = load_spec(PETSTORE)
    rows = {use.id: use for use in rules_document(spec, spec.operations)}
    labels = ["GET /pets", "POST /pets", "GET /pets/{petId}"]
    assert rows["not_a_server_error"].applies == labels
    assert rows["not_a_server_error"].off == {}
    assert rows["request_id"].applies == []
    assert rows["request_id"].off["GET /pets"] == "response 200 has no X-Request-ID"
    assert rows["request_id"].kind == "check"
    assert rows["request_id"].severity == "minor"
    assert rows["exercised"].applies == []
    required = {u.id: u for u in rules_document(spec, spec.operations, require_exercised=True)}
    assert required["exercised"].applies == labels


def test_the_rules_of_shards_merge_into_one() -> None:
    spec = load_spec(PETSTORE)
    first, second = spec.operations[:1], spec.operations[1:]
    merged = merged_rules(
        [{"petstore": rules_document(spec, first)}, {"petstore": rules_document(spec, second)}]
    )
    assert merged == {"petstore": rules_document(spec, spec.operations)}


def test_the_rules_and_the_latency_rows_survive_the_trip_through_verdict_json() -> None:
    spec = load_spec(PETSTORE)
    rules = {"petstore": rules_document(spec, spec.operations)}
    measured = LatencyRow("GET /pets", "listPets", 200, 25, 20, 5, LatencyOutcome.EXCEEDED,
                          120.0, 240.5, 250.0, 251.2)  # fmt: skip
    measured.confirmation = Confirmation(Confirmed.NOT_POSSIBLE, 0, 1.5, reason="read-only run")
    unmeasured = LatencyRow("POST /pets", None, 200, 3, 3, 0, LatencyOutcome.NOT_MEASURED,
                            10.0, 12.0, 12.0, 12.0, reason="3 successful answers")  # fmt: skip
    latency = ScenarioVerdict("petstore", "latency", Outcome.FAILED,
                              latency=[measured, unmeasured])  # fmt: skip
    run = Run([], [], 1, "gate", scenarios=[latency], rules=rules)
    document = json.loads(json.dumps(run.as_json()))
    assert Run.from_json(document).rules == rules
    assert Run.from_json(document).scenarios == [latency]
    (request_id,) = [use for use in document["rules"]["petstore"] if use["id"] == "request_id"]
    assert list(request_id) == ["id", "kind", "severity", "applies", "off"]
    # a key without a value is left out: a measured row has no reason, a row not re-measured no
    # confirmation, a confirmation without samples no percentiles
    assert document["latency"] == [
        {"api": "petstore", "operation": "GET /pets", "operation_id": "listPets",
         "budget_ms": 200, "samples": 25, "from_run": 20, "measured": 5, "p50_ms": 120.0,
         "p95_ms": 240.5, "p99_ms": 250.0, "max_ms": 251.2, "outcome": "exceeded",
         "confirmation": "not_possible", "confirmation_samples": 0, "confirmation_s": 1.5,
         "confirmation_reason": "read-only run"},
        {"api": "petstore", "operation": "POST /pets", "operation_id": None, "budget_ms": 200,
         "samples": 3, "from_run": 3, "measured": 0, "p50_ms": 10.0, "p95_ms": 12.0,
         "p99_ms": 12.0, "max_ms": 12.0, "outcome": "not_measured",
         "reason": "3 successful answers"},
    ]  # fmt: skip
    assert list(document["latency"][0]) == [
        "api", "operation", "operation_id", "budget_ms", "samples", "from_run", "measured",
        "p50_ms", "p95_ms", "p99_ms", "max_ms", "outcome", "confirmation",
        "confirmation_samples", "confirmation_s", "confirmation_reason",
    ]  # fmt: skip
    assert document["scenarios"][0]["latency"] == [
        {k: v for k, v in row.items() if k != "api"} for row in document["latency"]
    ]


def test_the_last_line_says_how_many_are_untested_and_a_run_of_nothing_else_why(
    tmp_path: Path,
) -> None:
    run = run_of(petstore_verdicts())
    verdict.write(tmp_path / "verdict.json", run)
    read = verdict.read(tmp_path)
    assert read is not None
    assert verdict.last_line(read, tmp_path).startswith(
        "PASS: the one operation tested conforms; 2 operations untested, never answered with a"
        " documented 2xx (petstore GET /pets/{petId}, petstore POST /pets;"
    )
    _, *untested = petstore_verdicts()
    sentence = verdict.last_line(run_of(untested), tmp_path)
    assert sentence.startswith("nothing was tested: the 2 operations and 0 scenarios selected")
    assert "were all untested (" in sentence
    assert "only 4xx answers for the run's credentials (401, 403)" in sentence


def test_a_run_survives_the_trip_through_verdict_json(tmp_path: Path) -> None:
    run = run_of(verdicts(), seed=7)
    verdict.write(tmp_path / "verdict.json", run)
    assert verdict.read(tmp_path) == run
