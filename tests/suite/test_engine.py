"""The engine's records: a failing case as plain data (the minimal example in verdict.json), and
a failure's problems, one each; the stateful phase's stop once it stops learning."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies
from schemathesis.core.parameters import DelimitedValue

from conformance.contract import bundled_spec, load_spec
from conformance.suite._engine import (
    BODY_KEPT,
    EngineRun,
    StatefulBudget,
    _events,
    abridged,
    example_of,
    response_of,
)
from conformance.suite._fuzzing import run_engine
from conformance.verdict import OperationVerdict, Outcome
from tests.servers import Quiet, serving


def test_a_failing_case_becomes_plain_json_data_with_secrets_masked() -> None:
    schema = schemathesis.openapi.from_path(str(bundled_spec("tchat")))
    operation = schema["/content/sync"]["GET"]
    case = operation.Case(
        query={"since": "2026-01-01T00:00:00Z", "ids": DelimitedValue("a,b", "a,b")},
        headers={"Authorization": "Bearer a-real-token", "X-Request-ID": "r-1"},
    )
    example = example_of(case)
    # schemathesis's str subclasses (which deepcopy cannot rebuild) come out as plain str
    assert type(example["query"]["ids"]) is str
    copy.deepcopy(example)
    text = json.dumps(example)
    assert "a-real-token" not in text
    # masked, still showing it was there and how long
    assert example["headers"] == {
        "Authorization": "[masked: string, 19 chars]",
        "X-Request-ID": "r-1",
    }
    assert (example["method"], example["path"]) == ("GET", "/content/sync")
    assert "body" not in example


def test_a_failing_response_becomes_plain_data_with_secrets_masked_and_its_body_cut() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    last = "ValueError: the last line of the traceback"
    note = "x" * (BODY_KEPT + 500) + last
    body = json.dumps({"accessToken": token, "note": note}).encode()
    response = SimpleNamespace(
        status_code=200,
        headers={"Content-Type": ["application/json"], "Set-Cookie": ["session=s3cr3t"]},
        content=body,
        encoding="utf-8",
        elapsed=0.0123,
    )
    found = response_of(response)
    assert found["status"] == 200
    assert found["elapsed_ms"] == 12.3
    assert found["headers"] == {
        "Content-Type": "application/json",
        "Set-Cookie": "[masked: string, 14 chars]",
    }
    assert token not in json.dumps(found)
    # the head (the secret member masked, its length said) and the tail (the traceback's last
    # line), and how much was left out between them
    assert found["body"].startswith('{"accessToken": "[masked: JWT, 70 chars]", "note": "xxx')
    assert found["body"].endswith(f'{last}"}}')
    assert "characters left out] … " in found["body"]
    assert len(found["body"]) < BODY_KEPT + 60  # the head, the tail and the marker between
    bad = response_of(SimpleNamespace(**{**vars(response), "content": b"\xff\xfe", "headers": {}}))
    assert bad["body"] == repr(b"\xff\xfe")


def test_a_long_body_keeps_its_head_and_its_tail_and_says_how_much_was_left_out() -> None:
    traceback = "Traceback (most recent call last):\n" + "  frame\n" * 500
    body = traceback + "KeyError: 'school_id'"
    kept = abridged(body, 200)
    assert kept.startswith("Traceback (most recent call last):\n  frame")
    assert kept.endswith("  frame\nKeyError: 'school_id'")  # the line that names the error
    left_out = len(body) - 200
    assert f" … [{left_out:,} of {len(body):,} characters left out] … " in kept
    assert abridged("short", 200) == "short"
    assert abridged("x" * 200, 200) == "x" * 200


def test_progress_tells_the_phases_that_ran_and_not_those_skipped() -> None:
    from schemathesis.engine import Status, events
    from schemathesis.engine.run import Phase, PhaseName

    said: list[str] = []
    skipped = Phase(PhaseName.EXAMPLES, is_enabled=False)  # a focused pass runs stateful only
    stream = [
        events.PhaseFinished(phase=skipped, status=Status.SKIP, payload=None),
        events.PhaseFinished(
            phase=Phase(PhaseName.STATEFUL_TESTING), status=Status.SUCCESS, payload=None
        ),
    ]
    _events(EngineRun("gloria", 1, {}), stream, said.append)
    assert said == ["gloria: stateful phase done (0 scenarios)"]  # none in this stream


class _Crashes(Quiet):
    """Every answer a 500 that shows its stack trace."""

    def do_GET(self) -> None:
        trace = 'Traceback (most recent call last):\n  File "/app/main.py", line 3'
        self.send_json(500, {"detail": trace})


def test_a_failure_keeps_its_problems_one_each_ours_and_schemathesis_s(tmp_path: Path) -> None:
    path = tmp_path / "crash.json"  # a plain spec: only the rules that apply everywhere judge
    path.write_text(
        json.dumps(
            {
                "openapi": "3.0.3",
                "info": {"title": "Crash", "version": "1"},
                "paths": {
                    "/boom": {
                        "get": {"operationId": "boom", "responses": {"200": {"description": "ok"}}}
                    }
                },
            }
        )
    )
    with serving(_Crashes) as url:
        run = run_engine("crash", load_spec(path), url, {}, ["boom"], profile="smoke", seed=1)
    failures = {failure.check: failure for failure in run.records["GET /boom"].failures}
    assert {"no_leaks", "not_a_server_error", "status_code_conformance"} <= set(failures)
    leak = failures["no_leaks"]  # ours: the lines the rule found
    assert [line.split(":")[0] for line in leak.lines] == [
        "the body reveals a Python stack trace",
        "the body reveals a stack frame",
        "the body reveals a server file path",
    ]
    assert leak.message == "\n".join(leak.lines)
    undocumented = failures["status_code_conformance"]  # schemathesis's: its message's lines
    assert len(undocumented.lines) > 1
    assert undocumented.lines == tuple(
        line for line in undocumented.message.splitlines() if line.strip()
    )
    server_error = failures["not_a_server_error"]  # no message: its title
    assert (server_error.message, server_error.lines) == ("", ("Server error",))
    verdict = OperationVerdict("crash", "boom", "GET /boom", Outcome.FAILED, failures=[leak])
    again = OperationVerdict.from_json(json.loads(json.dumps(verdict.as_json())))
    assert again.failures == [leak]


def _scenarios(budget: StatefulBudget, plan: list[int]) -> list[int]:
    """Each hypothesis test case a scenario of one request to one operation, answered with the
    next status of ``plan``, until the budget stops the run: the statuses sent."""
    case = SimpleNamespace(
        meta=SimpleNamespace(phase=SimpleNamespace(name="stateful")),
        operation=SimpleNamespace(label="GET /things"),
    )
    sent: list[int] = []

    @hypothesis.settings(max_examples=50, database=None, phases=[hypothesis.Phase.generate])
    @hypothesis.given(strategies.integers())
    def scenario(_: int) -> None:
        budget.before_call(case)
        sent.append(plan[len(sent)])
        budget.after_call(None, case, SimpleNamespace(status_code=sent[-1]))

    with pytest.raises(KeyboardInterrupt):
        scenario()
    return sent


def test_the_stateful_phase_ends_after_scenarios_in_a_row_that_bring_no_new_status() -> None:
    """`StatefulBudget`'s patience counts the scenarios in a row whose answers gave no operation
    a status it had not had; a new one begins the count again. The fifth scenario's 500 is new,
    so the stop comes as the ninth begins, before its request (the sixth without the reset)."""
    budget = StatefulBudget(12, threading.Event(), patience=3)
    plan = [200, 404, 200, 200, 500, 200, 200, 200, 200, 200, 200, 200]
    assert _scenarios(budget, plan) == plan[:8]
    assert budget.settled
    assert budget.spent
    assert budget.stop.is_set()


def test_patience_waits_for_a_third_of_the_scenarios_and_is_off_at_0() -> None:
    """hypothesis begins a suite with its simplest cases: nothing stops before a third of the
    budget (8 of 24 here, where patience alone would stop at the fifth); a profile's 0 (deep)
    leaves the budget's stop only."""
    budget = StatefulBudget(24, threading.Event(), patience=3)
    assert len(_scenarios(budget, [200] * 24)) == 8
    assert budget.settled
    budget = StatefulBudget(12, threading.Event(), patience=0)
    assert len(_scenarios(budget, [200] * 24)) == 12
    assert budget.spent
    assert not budget.settled


def _stateful_steps(fixed: bool) -> list[dict[str, object]]:
    """The headers of negative stateful steps drawn for a plain spec's operation whose apiKey
    header is the run's credential (fixed as `Presenter.slots` gives it), with
    `fixed_in_stateful` on or off."""
    from schemathesis.generation import GenerationMode
    from schemathesis.generation.feedback import NO_FEEDBACK
    from schemathesis.specs.openapi import stateful

    from conformance.suite._engine import engine_config, engine_settings, fixed_in_stateful
    from conformance.suite._present import PLACEHOLDER

    document = {
        "openapi": "3.0.3",
        "info": {"title": "Notes", "version": "1"},
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        },
        "security": [{"key": []}],
        "paths": {
            "/notes": {
                "get": {
                    "operationId": "listNotes",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "The notes"}},
                }
            }
        },
    }
    settings = engine_settings(
        "http://127.0.0.1:9", {}, "smoke", 1, credential={"header.X-API-Key": PLACEHOLDER}
    )
    schema = schemathesis.openapi.from_dict(document, config=engine_config(settings))
    operation = schema["/notes"]["GET"]
    drawn: list[dict[str, object]] = []

    @hypothesis.settings(max_examples=25, database=None, derandomize=True)
    @hypothesis.given(strategies.data())
    def draw(data: strategies.DataObject) -> None:
        steps = stateful._step_case_strategy(
            operation, [GenerationMode.NEGATIVE], feedback=NO_FEEDBACK
        )
        drawn.append(dict(data.draw(steps).headers or {}))

    with fixed_in_stateful() if fixed else contextlib.nullcontext():
        draw()
    return drawn


def test_a_stateful_step_gets_the_credential_s_place_as_fixed_and_never_breaks_it() -> None:
    """The stateful phase's steps are drawn with the configuration's fixed parameters, as the
    unit phases' cases are: the credential's header holds the placeholder the auth fills, in
    every negative step too (which breaks the query instead). Without it, schemathesis drew
    the header and broke it in negative steps."""
    from conformance.suite._present import PLACEHOLDER

    fixed = _stateful_steps(fixed=True)
    assert fixed
    assert all(headers.get("X-API-Key") == PLACEHOLDER for headers in fixed), fixed
    drawn = _stateful_steps(fixed=False)
    assert [h for h in drawn if h.get("X-API-Key") != PLACEHOLDER], drawn
