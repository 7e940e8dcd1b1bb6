"""Judging operations, the terminal summary and junit.xml, from records made by hand."""

from __future__ import annotations

import collections
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conformance.contract import bundled_spec, load_spec
from conformance.errors import ExitCode
from conformance.suite._engine import Failure, OperationRecord
from conformance.suite._junit import write_junit
from conformance.suite._verdict import (
    OperationVerdict,
    exit_code,
    judge,
    merged_rules,
    nothing_tested,
    overall,
    rules_document,
    settle,
    summary_lines,
    verdict_document,
    why_untested,
    write_verdict,
)


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
    rule = lines.index("  request_id (minor, 2 cases):")
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
    assert overall(verdicts) == "pass"
    document = verdict_document(verdicts, [], seed=1, profile="gate")
    assert document["verdict"] == "pass"
    assert exit_code(document) == ExitCode.OK
    assert document["counts"]["untested"] == 2
    assert document["counts"]["not_exercised"] == 0
    assert document["untested"] == ["GET /pets/{petId}", "POST /pets"]
    assert document["not_exercised"] == []
    lines = summary_lines(verdicts, seed=1, profile="gate")
    assert lines[0].startswith("verdict: PASS (3 operations: 1 passed, 2 untested)")
    assert "  petstore POST /pets: only 4xx answers for the run's credentials (401, 403)" in lines


def test_require_exercised_makes_an_untested_operation_fail_the_gate() -> None:
    verdicts = petstore_verdicts(require_exercised=True)
    assert [v.outcome for v in verdicts] == ["passed", "not_exercised", "not_exercised"]
    assert verdicts[2].reason == "only 4xx answers for the run's credentials (401, 403)"
    document = verdict_document(verdicts, [], seed=1, profile="gate")
    assert document["verdict"] == "fail"
    assert exit_code(document) == ExitCode.FAILED
    assert document["not_exercised"] == ["GET /pets/{petId}", "POST /pets"]


def test_the_strict_opt_in_keeps_not_exercised_a_failure_without_the_flag() -> None:
    *_, missing = verdicts()  # tchat: x-contract: strict
    assert missing.outcome == "not_exercised"
    assert missing.exercise_required
    assert overall([missing]) == "fail"


def test_a_run_that_exercised_nothing_has_no_verdict_to_give() -> None:
    _, *untested = petstore_verdicts()
    document = verdict_document(untested, [], seed=1, profile="gate")
    assert nothing_tested(document)
    assert exit_code(document) == ExitCode.BAD_INPUT


def test_a_failure_without_a_2xx_is_no_not_exercised_where_none_is_required() -> None:
    spec = load_spec(PETSTORE)
    record = OperationRecord("POST /pets", "createPets")
    record.statuses[500] = 1
    record.failures.append(failure("not_a_server_error"))
    judged = judge("petstore", spec, record)
    assert judged.outcome == "failed"
    document = verdict_document([judged], [], seed=1, profile="gate")
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
    rows = {row["id"]: row for row in rules_document(spec, spec.operations)}
    labels = ["GET /pets", "POST /pets", "GET /pets/{petId}"]
    assert rows["not_a_server_error"]["applies"] == labels
    assert rows["not_a_server_error"]["off"] == {}
    assert rows["request_id"]["applies"] == []
    assert rows["request_id"]["off"]["GET /pets"] == "response 200 has no X-Request-ID"
    assert rows["request_id"]["kind"] == "check"
    assert rows["request_id"]["severity"] == "minor"
    assert rows["exercised"]["applies"] == []
    required = {r["id"]: r for r in rules_document(spec, spec.operations, require_exercised=True)}
    assert required["exercised"]["applies"] == labels


def test_the_rules_of_shards_merge_into_one() -> None:
    spec = load_spec(PETSTORE)
    first, second = spec.operations[:1], spec.operations[1:]
    merged = merged_rules(
        [{"petstore": rules_document(spec, first)}, {"petstore": rules_document(spec, second)}]
    )
    assert merged == {"petstore": rules_document(spec, spec.operations)}


def test_the_last_line_says_how_many_are_untested_and_a_run_of_nothing_else_why(
    tmp_path: Path,
) -> None:
    from conformance.runner import nothing_tested as nothing_tested_sentence
    from conformance.runner import why

    write_verdict(tmp_path / "verdict.json", verdict_document(petstore_verdicts(), [], seed=1,
                                                              profile="gate"))  # fmt: skip
    assert why(tmp_path).startswith("PASS: 1 operation passed, 2 untested (never answered")
    _, *untested = petstore_verdicts()
    write_verdict(tmp_path / "verdict.json", verdict_document(untested, [], seed=1,
                                                              profile="gate"))  # fmt: skip
    sentence = nothing_tested_sentence(tmp_path)
    assert sentence is not None
    assert sentence.startswith("nothing was tested: the 2 operations and 0 scenarios selected")
    assert "were all untested (" in sentence
    assert "only 4xx answers for the run's credentials (401, 403)" in sentence
