"""The contract's checks apply where the spec declares what they check (`conformance.catalogue`),
run through schemathesis on real answers of a small third-party style API: silent on what a plain
spec does not promise, firing where it does, everywhere under ``x-contract: strict``; and a
failure is a `ContractFailure` naming its rule."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS as ST_CHECKS
from schemathesis.core.failures import Failure, FailureGroup

from conformance import catalogue
from conformance.checks import CHECK_NAMES, ContractFailure
from conformance.checks import _rules as rules
from conformance.checks import _schemathesis as registered
from tests.servers import Quiet, serving

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/main.py", line 12, in read_note\n'
    "KeyError: 'n9'"
)
DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}}

#: note id -> (status, headers, body): what the Notes API answers for ``GET /notes/{id}``; it
#: sends no X-Request-ID, nosniff or X-RateLimit-* unless the row says so
ANSWERS: dict[str, tuple[int, dict[str, str], Any]] = {
    "n1": (200, {}, {"id": "n1", "text": "hi"}),
    "echoed": (200, {"X-Request-ID": "<echo>"}, {"id": "echoed", "text": "hi"}),
    "missing": (404, {}, {"detail": "Not Found"}),
    "bad": (
        422,
        {},
        {"detail": [{"loc": ["path", "id"], "msg": "not a note id", "type": "value_error"}]},
    ),
    "busy": (429, {"Retry-After": "1"}, {"detail": "slow down"}),
    "crash": (500, {}, {"detail": TRACEBACK}),
    # for the declared error envelope and 429 body below
    "gone": (404, {}, {"code": "NOT_FOUND", "message": "no such note", "statusCode": 404}),
    "misstated": (404, {}, {"code": "NOT_FOUND", "message": "no such note", "statusCode": 400}),
    "counted": (
        429,
        {"Retry-After": "1", "X-RateLimit-Limit": "10"},
        {"detail": "slow down", "retryAfter": 1},
    ),
    "miscounted": (
        429,
        {"Retry-After": "1", "X-RateLimit-Limit": "10"},
        {"detail": "slow down", "retryAfter": 5},
    ),
}


class _Notes(Quiet):
    def do_GET(self) -> None:
        note = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        status, headers, body = ANSWERS.get(note, (404, {}, {"detail": "Not Found"}))
        sent = self.headers.get("X-Request-ID", "")
        echoed = {name: sent if value == "<echo>" else value for name, value in headers.items()}
        self.send_json(status, body, **echoed)


@pytest.fixture(scope="module")
def notes() -> Iterator[str]:
    """The Notes API on a free loopback port; its base URL."""
    with serving(_Notes) as url:
        yield url


def _json(schema: Any, description: str = "an answer") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: a FastAPI-style spec: no ``x-`` declaration, no envelope, no contract headers
PLAIN: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Notes", "version": "1.0.0"},
    "paths": {
        "/notes/{id}": {
            "get": {
                "operationId": "readNote",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Request-ID", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Note"}),
                    "404": _json(DETAIL),
                    "422": _json({"$ref": "#/components/schemas/HTTPValidationError"}),
                    "429": _json(DETAIL),
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Note": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
            },
            "HTTPValidationError": {
                "type": "object",
                "properties": {"detail": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
}


def declaring(**changes: Any) -> dict[str, Any]:
    """The plain spec with some of ``readNote``'s responses replaced, and root keys added
    (``x_contract="strict"`` for ``x-contract``)."""
    spec = copy.deepcopy(PLAIN)
    responses = spec["paths"]["/notes/{id}"]["get"]["responses"]
    for key, value in changes.items():
        if key.startswith("x_"):
            spec[key.replace("_", "-")] = value
        else:
            responses[key.removeprefix("r")] = value
    return spec


def findings(
    spec: dict[str, Any], url: str, note: str, **headers: str
) -> dict[str, ContractFailure]:
    """rule -> its failure, of the contract's checks on ``GET /notes/{note}``, as schemathesis
    runs them (`Case.validate_response`)."""
    case = schemathesis.openapi.from_dict(spec)["/notes/{id}"]["GET"].Case(
        path_parameters={"id": note}, headers=headers or None
    )
    response = case.call(base_url=url)
    assert response.status_code == ANSWERS[note][0]
    try:
        case.validate_response(response, checks=list(registered.CHECKS.values()))
    except FailureGroup as group:
        failures = group.exceptions
    else:
        return {}
    ours = [failure for failure in failures if isinstance(failure, ContractFailure)]
    assert len(ours) == len(failures)
    return {failure.rule: failure for failure in ours}


PLAIN_ANSWERS = ["n1", "missing", "bad", "busy"]


@pytest.mark.parametrize("note", PLAIN_ANSWERS)
def test_a_plain_spec_is_held_to_no_header_or_envelope_it_does_not_declare(
    notes: str, note: str
) -> None:
    assert findings(PLAIN, notes, note, **{"X-Request-ID": "trace-1"}) == {}


@pytest.mark.parametrize("note", PLAIN_ANSWERS)
def test_under_strict_every_contract_rule_holds_on_the_same_answers(notes: str, note: str) -> None:
    found = findings(declaring(x_contract="strict"), notes, note)
    status = ANSWERS[note][0]
    expected = {"request_id", "nosniff", "rate_limit_headers"} | (
        {"error_envelope"} if status >= 400 else set()
    )
    assert set(found) == expected
    if status >= 400:
        assert found["error_envelope"].lines == (
            f"the {status} body has no error, code, message, statusCode",
        )
    if status == 429:  # the strict 429 body: retryable, and a retryAfter equal to Retry-After
        assert found["rate_limit_headers"].lines[-2:] == (
            "the 429 body does not say retryable: true",
            "the 429 body's retryAfter None is not Retry-After 1",
        )


def test_a_declared_x_request_id_is_checked_only_on_the_response_declaring_it(notes: str) -> None:
    said = {"X-Request-ID": {"schema": {"type": "string"}}}
    spec = declaring(r200={**_json({"$ref": "#/components/schemas/Note"}), "headers": said})
    found = findings(spec, notes, "n1")
    assert list(found) == ["request_id"]
    failure = found["request_id"]
    assert isinstance(failure, Failure)  # schemathesis's, an AssertionError
    assert failure.lines == ("the answer has no X-Request-ID",)
    assert failure.title == catalogue.rule("request_id").words
    assert failure.message == "the answer has no X-Request-ID"
    assert findings(spec, notes, "echoed", **{"X-Request-ID": "trace-2"}) == {}
    assert findings(spec, notes, "missing") == {}  # its 404 declares no X-Request-ID


def test_an_error_schema_is_held_to_the_members_it_declares(notes: str) -> None:
    envelope = {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "statusCode": {"type": "integer"},
        },
    }
    spec = declaring(r404=_json(envelope))
    assert findings(spec, notes, "gone") == {}  # no `error`: the schema does not declare one
    (misstated,) = findings(spec, notes, "misstated").values()
    assert misstated.lines == ("the body says statusCode 400 but the status is 404",)
    (bare,) = findings(spec, notes, "missing").values()
    assert bare.rule == "error_envelope"
    assert bare.lines == ("the 404 body has no code, message, statusCode",)
    assert findings(spec, notes, "bad") == {}  # FastAPI's 422: `detail` only


def test_a_429_body_is_held_to_the_members_its_schema_declares(notes: str) -> None:
    limited = {
        **_json({"type": "object", "properties": {"retryAfter": {"type": "integer"}}}),
        "headers": {"X-RateLimit-Limit": {"schema": {"type": "integer"}}},
    }
    spec = declaring(r429=limited)
    assert findings(spec, notes, "counted") == {}  # no retryable, no -Remaining: not declared
    (miscounted,) = findings(spec, notes, "miscounted").values()
    assert miscounted.rule == "rate_limit_headers"
    assert miscounted.lines == ("the 429 body's retryAfter 5 is not Retry-After 1",)
    (bare,) = findings(spec, notes, "busy").values()
    assert bare.lines == (
        "the answer has no X-RateLimit-Limit",
        "the 429 body's retryAfter None is not Retry-After 1",
    )
    assert findings(spec, notes, "n1") == {}  # its 200 declares no X-RateLimit-*


def test_no_leaks_applies_to_every_answer_of_any_spec(notes: str) -> None:
    (leak,) = findings(PLAIN, notes, "crash").values()
    assert leak.rule == "no_leaks"
    assert leak.lines[0].startswith("the body reveals a Python stack trace")
    assert leak.title == catalogue.rule("no_leaks").words


def test_the_checks_registered_are_the_catalogue_s() -> None:
    assert (*catalogue.ids(catalogue.Kind.CHECK), "latency_sample") == CHECK_NAMES
    assert set(CHECK_NAMES) <= set(ST_CHECKS.get_all_names())
    assert set(rules.RULES) == set(catalogue.ids(catalogue.Kind.CHECK))


def test_a_check_without_a_rule_stops_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(rules.RULES, "nosniff")
    with pytest.raises(RuntimeError, match="differ"):
        registered._register()


@pytest.mark.slow
@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_st_run_holds_a_plain_spec_to_what_it_declares(
    notes: str, tmp_path: Path, strict: bool, code: int
) -> None:
    # every answer lacks X-Request-ID, nosniff and X-RateLimit-*, and its errors are `detail`
    path = tmp_path / "notes.json"
    path.write_text(json.dumps(declaring(x_contract="strict") if strict else PLAIN))
    root = Path(__file__).parent.parent.parent
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "conformance.checks", "PYTHONPATH": str(root)}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"), "run", str(path), "--url", notes,
            "--checks", ",".join(name for name in CHECK_NAMES if name != "latency_sample"),
            "--max-examples", "5", "--seed", "7", "--phases", "examples,coverage,fuzzing",
            "--no-color",
        ],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == code, result.stdout[-2000:]
    assert (f"ST901 {catalogue.rule('nosniff').words}: " in result.stdout) is strict
