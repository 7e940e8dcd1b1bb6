"""A phase that cannot generate data for an operation (a hypothesis health check, an
unsatisfiable schema) is no error of the run, as in ``st run``: the operation keeps what its other
phases found and is judged on it, and the phase is reported with its reason. On a small
third-party style API written here (a plain spec, no ``x-`` declarations).

The reproduction: a form body (``application/x-www-form-urlencoded``) whose schema is a scalar.
schemathesis sends a form only as a mapping or a list of pairs and filters out every other body
it draws, positive or negative (``is_valid_urlencoded``), so its fuzzing phase fails hypothesis's
``filter_too_much`` health check (at each seed tried, 1 to 6), while its coverage phase sends the
schema's own values (1 to 5, and 0, 6, "AAA" …) as raw form bodies."""

from __future__ import annotations

import collections
import http
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.errors
import pytest
import requests
from schemathesis.engine import events
from schemathesis.engine.run import PhaseName
from schemathesis.errors import InvalidSchema

from conformance.cli import run
from conformance.contract import load_spec
from conformance.reporting import terminal_lines
from conformance.suite._engine import EngineRun, OperationRecord, _events, could_not_generate
from conformance.suite._verdict import judge
from conformance.verdict import OperationVerdict, Run
from tests.plain_specs import ERROR_SCHEMA, document, json_answer, ref, written
from tests.servers import AnyMethod, house_headers, serving

LABEL = "POST /counter/increments"

#: a third-party style spec: plain OpenAPI, no ``x-`` declaration
COUNTER: dict[str, Any] = document(
    "Counter",
    {
        "/counter/increments": {
            "post": {
                "operationId": "increment",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "integer", "minimum": 1, "maximum": 5}
                        }
                    },
                },
                "responses": {
                    "200": json_answer(
                        {
                            "type": "object",
                            "required": ["count"],
                            "properties": {"count": {"type": "integer"}},
                        },
                        "the count after the increment",
                    ),
                    "400": json_answer(ref("Error"), "not an increment of 1 to 5"),
                },
            }
        }
    },
    {"schemas": {"Error": ERROR_SCHEMA}},
)

ECHOED = re.compile(r"^[!-~]{1,128}$")


class _Counter(AnyMethod):
    """The Counter API: ``POST /counter/increments`` with a form body of 1 to 5."""

    count = 0

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        sent = self.headers.get("X-Request-ID") or ""
        house = house_headers(sent if ECHOED.match(sent) else str(uuid.uuid4()))
        self.send_json(status, body, **house, **(headers or {}))

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        body = {
            "error": http.HTTPStatus(status).phrase,
            "code": code,
            "message": message,
            "statusCode": status,
        }
        self._send(status, body, headers)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?", 1)[0].rstrip("/") != "/counter/increments":
            return self._error(404, "NOT_FOUND", "no such path")
        if self.command != "POST":
            return self._error(405, "METHOD_NOT_ALLOWED", "POST only", Allow="POST")
        form = (self.headers.get("Content-Type") or "").startswith(
            "application/x-www-form-urlencoded"
        )
        if not form or raw not in (b"1", b"2", b"3", b"4", b"5"):
            return self._error(400, "VALIDATION", "an increment is a form body of 1 to 5")
        type(self).count += int(raw)
        return self._send(200, {"count": type(self).count})


@pytest.fixture
def counter_spec(tmp_path: Path) -> Path:
    return written(tmp_path, "counter", COUNTER)


@pytest.fixture
def counter() -> Iterator[str]:
    """The Counter API on a free loopback port: its base URL."""
    with serving(type("Counter", (_Counter,), {})) as url:
        yield url


def _error(error: Exception, phase: PhaseName | None = PhaseName.FUZZING) -> events.NonFatalError:
    return events.NonFatalError(error=error, phase=phase, label=LABEL, related_to_operation=True)


def test_errors_of_generating_data_are_told_apart_from_the_errors_of_a_run() -> None:
    health = hypothesis.errors.FailedHealthCheck(
        "Too many generated examples are filtered out for this operation"
    )
    unsatisfiable = hypothesis.errors.Unsatisfiable("Cannot generate test data for query")
    too_large = hypothesis.errors.InvalidArgument(
        "min_size=100000 is larger than Hypothesis is designed to handle"
    )
    hook = hypothesis.errors.Unsatisfiable("Your `filter_case` hook rejected all generated cases")
    refused = requests.ConnectionError("Connection refused")
    schema = InvalidSchema("Invalid `pattern` value")
    # schemathesis's own titles for them (`EngineErrorInfo`), as the engine's events carry them
    assert [_error(e).info.title for e in (health, unsatisfiable, too_large)] == [
        "Failed Health Check",
        "Schema Error",
        "Failed Health Check",
    ]
    generation: list[Exception] = [health, unsatisfiable, too_large]
    others: list[Exception] = [hook, refused, schema]
    assert [could_not_generate(e, _error(e).info.title) for e in generation + others] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]

    record = OperationRecord(LABEL, "increment")
    engine = EngineRun("counter", 1, {LABEL: record})
    stream = [
        _error(health),
        _error(health),  # the same phase again: told once
        _error(unsatisfiable, PhaseName.EXAMPLES),
        _error(refused, PhaseName.COVERAGE),
    ]
    _events(engine, stream, lambda line: None)
    assert record.unable == [
        "the fuzzing phase could not generate data: Failed Health Check: Too many generated"
        " examples are filtered out for this operation",
        "the examples phase could not generate data: Schema Error: Cannot generate test data"
        " for query",
    ]
    assert len(record.errors) == 1
    assert record.errors[0].startswith("Network Error: ")
    assert not engine.errors


def test_an_operation_a_phase_could_not_generate_for_is_judged_on_the_other_phases(
    counter_spec: Path,
) -> None:
    spec = load_spec(counter_spec)
    unable = (
        "the fuzzing phase could not generate data: Failed Health Check: Too many generated"
        " examples are filtered out for this operation\n\nUnable to identify the parameter."
    )
    record = OperationRecord(LABEL, "increment", unable=[unable])
    record.statuses.update({200: 5, 400: 9})
    verdict = judge("counter", spec, record)
    assert verdict.outcome == "passed"
    assert verdict.unable == [unable]
    assert OperationVerdict.from_json(json.loads(json.dumps(verdict.as_json()))) == verdict
    lines = terminal_lines(Run([verdict], [], 1, "smoke"))
    assert lines[0].startswith("verdict: PASS")
    coverage = lines[lines.index("coverage:") + 1 :]
    assert "  1 phase could not generate data for 1 operation:" in "\n".join(coverage)
    assert any(
        "counter" in line
        and "POST /counter/increments" in line
        and "the fuzzing phase could not generate data: Failed Health Check" in line
        for line in coverage
    ), coverage
    # nothing else came back: not exercised where required (a failure, not an error), and the
    # phase says why
    record.statuses = collections.Counter({400: 9})
    verdict = judge("counter", spec, record, require_exercised=True)
    assert verdict.outcome == "not_exercised"
    assert verdict.explain().splitlines()[1:] == [
        "  no documented 2xx came back (seen: 9 x 400)",
        "  why: only 4xx answers for the run's credentials and data (400); the run could not"
        " generate data for it (the fuzzing phase)",
        "  the fuzzing phase could not generate data: Failed Health Check: Too many generated"
        " examples are filtered out for this operation",
        "    Unable to identify the parameter.",
    ]


@pytest.mark.slow  # a whole `conformance run`, about 5 s
def test_a_health_check_in_one_phase_leaves_the_run_judged_on_the_others_and_says_why(
    counter: str, counter_spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = io.StringIO(), io.StringIO()
    reports = tmp_path / "r"
    code = run(
        ["run", "--spec", str(counter_spec), "--target", counter, "--profile", "smoke",
         "--seed", "1", "--reports", str(reports), "-p", "no:cacheprovider"],
        out, err,
    )  # fmt: skip
    document = json.loads((reports / "verdict.json").read_text())
    assert code == 0, (out.getvalue()[-3000:], err.getvalue(), document["operations"])
    assert document["verdict"] == "pass"
    (operation,) = document["operations"]
    assert operation["outcome"] == "passed"
    assert operation["errors"] == []
    # the coverage phase's answers are kept: the documented 2xx and the 400s of its negatives
    assert operation["documented_2xx_seen"] == [200]
    assert operation["statuses"]["400"] > 0
    assert operation["checks"]["not_a_server_error"] > 0
    # the fuzzing phase's health check: named, with its reason
    (unable,) = operation["unable"]
    assert unable.startswith(
        "the fuzzing phase could not generate data: Failed Health Check: Too many generated"
        " examples are filtered out for this operation"
    ), unable
    said = capsys.readouterr().out  # pytest's terminal summary, from the run's pytest
    assert "1 phase could not generate data for 1 operation" in said
    summary = (reports / "summary.md").read_text()
    assert "1 phase could not generate data for 1 operation" in summary
    assert "the fuzzing phase could not generate data: Failed Health Check" in summary
