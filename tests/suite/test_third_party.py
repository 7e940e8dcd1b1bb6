"""A third-party API, as a user brings one: a small Notes app written here with the plain spec a
FastAPI app publishes (no ``x-`` declarations, no envelope, no request id or rate-limit headers,
422 ``HTTPValidationError`` answers, a bearer token given to the run, no token endpoint). The
contract's house rules do not apply to it (`conformance.catalogue`): when it honours its own
spec the run passes with no failure and its spec lints clean; with a planted 500 and a planted
traceback it fails exactly those two operations, led by ``not_a_server_error`` and
``no_leaks``."""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.cli import run
from tests.plain_specs import FASTAPI_ERRORS, JSON, document, json_answer, ref, written
from tests.servers import AnyMethod, serving
from tests.shell import pasted

TOKEN = "notes-secret-token-5f0c"  # the test app's own token


def _body(schema: dict[str, Any], description: str = "Successful Response") -> dict[str, Any]:
    return json_answer(schema, description)


NOTE_ID = {
    "name": "note_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "title": "Note Id"},
}
INVALID = _body(ref("HTTPValidationError"), "Validation Error")
UNAUTHORIZED = _body(ref("HTTPError"), "Not authenticated")
NOT_FOUND = _body(ref("HTTPError"), "Not Found")


def _operation(operation_id: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "summary": operation_id.split("_notes")[0].replace("_", " ").title(),
        "operationId": operation_id,
        "responses": {**responses, "401": UNAUTHORIZED, "422": INVALID},
        "security": [{"HTTPBearer": []}],
        **more,
    }


#: what FastAPI publishes for the app below (with its 401 and 404 answers documented)
NOTES: dict[str, Any] = document(
    "Notes",
    {
        "/health": {
            "get": {
                "summary": "Health",
                "operationId": "health_health_get",
                "responses": {"200": _body(ref("Health"))},
            }
        },
        "/notes": {
            "get": _operation(
                "list_notes_notes_get",
                {"200": _body({"type": "array", "items": ref("Note"), "title": "Response"})},
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "maximum": 100,
                            "minimum": 1,
                            "default": 50,
                            "title": "Limit",
                        },
                    }
                ],
            ),
            "post": _operation(
                "create_note_notes_post",
                {"201": _body(ref("Note"))},
                requestBody={"required": True, "content": {JSON: {"schema": ref("NoteIn")}}},
            ),
        },
        "/notes/{note_id}": {
            "get": _operation(
                "get_note_notes__note_id__get",
                {"200": _body(ref("Note")), "404": NOT_FOUND},
                parameters=[NOTE_ID],
            ),
            "patch": _operation(
                "update_note_notes__note_id__patch",
                {"200": _body(ref("Note")), "404": NOT_FOUND},
                parameters=[NOTE_ID],
                requestBody={"required": True, "content": {JSON: {"schema": ref("NotePatch")}}},
            ),
            "delete": _operation(
                "delete_note_notes__note_id__delete",
                {"204": {"description": "Successful Response"}, "404": NOT_FOUND},
                parameters=[NOTE_ID],
            ),
        },
    },
    {
        "schemas": {
            "Health": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "title": "Status"}},
                "title": "Health",
            },
            **FASTAPI_ERRORS,
            "Note": {
                "type": "object",
                "required": ["id", "title", "body", "done"],
                "properties": {
                    "id": {"type": "integer", "title": "Id"},
                    "title": {"type": "string", "title": "Title"},
                    "body": {"type": "string", "title": "Body"},
                    "done": {"type": "boolean", "title": "Done"},
                },
                "title": "Note",
            },
            "NoteIn": {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": {"type": "string", "maxLength": 100, "minLength": 1, "title": "Title"},
                    "body": {"type": "string", "maxLength": 1000, "title": "Body", "default": ""},
                    "done": {"type": "boolean", "title": "Done", "default": False},
                },
                "title": "NoteIn",
            },
            "NotePatch": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 100, "minLength": 1, "title": "Title"},
                    "body": {"type": "string", "maxLength": 1000, "title": "Body"},
                    "done": {"type": "boolean", "title": "Done"},
                },
                "title": "NotePatch",
            },
        },
        "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
    },
    openapi="3.1.0",
    version="0.1.0",
)

SCHEMAS = NOTES["components"]["schemas"]
#: a traceback as a careless app leaks it in a 404
TRACEBACK = (
    'Traceback (most recent call last):\n  File "/app/notes/store.py", line 42, in get\n'
    "    return NOTES[note_id]\nKeyError: {}"
)


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = {**SCHEMAS[name], "$defs": SCHEMAS}
    return jsonschema.Draft202012Validator(json.loads(json.dumps(schema).replace(
        "#/components/schemas/", "#/$defs/")))  # fmt: skip


VALIDATE = {name: _validator(name) for name in ("NoteIn", "NotePatch")}


class Notes(AnyMethod):
    """The Notes app, as FastAPI would serve it: 422 for what its schema refuses, 401 without
    the token, 404 ``{"detail": …}``, 405 with ``Allow``. ``planted`` turns on its two bugs."""

    notes: dict[int, dict[str, Any]]
    ids: Iterator[int]
    planted: bool = False
    lock = threading.Lock()

    def _invalid(self, where: list[Any], message: str) -> None:
        self.send_json(422, {"detail": [{"loc": where, "msg": message, "type": "value_error"}]})

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not (self.headers.get("Content-Type") or "").startswith(JSON):
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        routes: dict[str, Callable[..., None]]
        args: tuple[str, ...]
        if path == "/health":
            routes, args = {"GET": self._health}, ()
        elif path == "/notes":
            routes, args = {"GET": self._list, "POST": self._create}, (query,)
        elif match := re.fullmatch(r"/notes/([^/]+)", path):
            routes = {"GET": self._get, "PATCH": self._patch, "DELETE": self._delete}
            args = (match.group(1),)
        else:
            return self.send_json(404, {"detail": "Not Found"})
        if self.command not in routes:
            return self.send_json(405, {"detail": "Method Not Allowed"}, Allow=", ".join(routes))
        if path != "/health" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.send_json(401, {"detail": "Not authenticated"}, WWW_Authenticate="Bearer")
        return routes[self.command](*args)

    def _health(self) -> None:
        self.send_json(200, {"status": "ok"})

    def _list(self, query: str) -> None:
        limit = 50
        for name, value in (p.partition("=")[::2] for p in query.split("&") if p):
            if name == "limit":
                if not re.fullmatch(r"-?\d+", value) or not 1 <= int(value) <= 100:
                    return self._invalid(["query", "limit"], "Input should be 1 to 100")
                limit = int(value)
        with self.lock:
            self.send_json(200, list(self.notes.values())[:limit])

    def _create(self, _query: str) -> None:
        body = self._json()
        if not isinstance(body, dict) or not VALIDATE["NoteIn"].is_valid(body):
            return self._invalid(["body"], "Input should be a valid NoteIn")
        if self.planted and len(body["title"]) > 60:
            return self.send_json(500, {"detail": "Internal Server Error"})
        with self.lock:
            note = {"id": next(self.ids), "body": "", "done": False, **body}
            self.notes[note["id"]] = note
        self.send_json(201, note, Location=f"/notes/{note['id']}")

    def _note(self, raw: str, leaks: bool = False) -> int | None:
        if not re.fullmatch(r"-?\d+", raw):
            self._invalid(["path", "note_id"], "Input should be a valid integer")
            return None
        if int(raw) not in self.notes:
            detail = TRACEBACK.format(int(raw)) if leaks else "Note not found"
            self.send_json(404, {"detail": detail})
            return None
        return int(raw)

    def _get(self, raw: str) -> None:
        found = self._note(raw, leaks=self.planted)
        if found is not None:
            self.send_json(200, self.notes[found])

    def _patch(self, raw: str) -> None:
        body = self._json()
        found = self._note(raw)
        if found is None:
            return
        if not isinstance(body, dict) or not VALIDATE["NotePatch"].is_valid(body):
            return self._invalid(["body"], "Input should be a valid NotePatch")
        with self.lock:
            self.notes[found].update(body)
            self.send_json(200, self.notes[found])

    def _delete(self, raw: str) -> None:
        found = self._note(raw)
        if found is not None:
            with self.lock:
                self.notes.pop(found, None)
            self.send_json(204)


@pytest.fixture
def notes_spec(tmp_path: Path) -> Path:
    return written(tmp_path, "notes", NOTES)


@pytest.fixture
def notes(request: pytest.FixtureRequest) -> Iterator[str]:
    """The Notes app on a free loopback port (its bugs planted when the test asks): its URL."""
    handler = type(
        "Notes",
        (Notes,),
        {"notes": {}, "ids": itertools.count(1), "planted": request.param == "planted"},
    )
    with serving(handler) as url:
        yield url


def test_the_notes_spec_lints_clean(notes_spec: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["lint", str(notes_spec)], out, err) == 0, out.getvalue() + err.getvalue()


def _run(
    notes_spec: Path, target: str, reports: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, dict[str, Any], str]:
    monkeypatch.setenv("CONFORMANCE_NOTES_TOKEN", TOKEN)
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["run", "--spec", str(notes_spec), "--target", target, "--profile", "smoke",
         "--seed", "1", "--reports", str(reports), "-p", "no:cacheprovider"],
        out, err,
    )  # fmt: skip
    document = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    assert TOKEN not in out.getvalue() + err.getvalue()
    return code, document, out.getvalue()[-3000:] + err.getvalue()


def _failed(document: dict[str, Any]) -> dict[str, list[str]]:
    return {
        op["operation_id"]: [f["check"] for f in op["failures"]]
        for op in document["operations"]
        if op["failures"]
    }


@pytest.mark.slow
@pytest.mark.parametrize("notes", ["honest"], indirect=True)
def test_a_third_party_api_that_honours_its_spec_passes_with_no_failure(
    notes: str, notes_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, document, said = _run(notes_spec, notes, tmp_path / "r", monkeypatch)
    assert _failed(document) == {}, said
    assert [s["name"] for s in document["scenarios"] if s["outcome"] == "failed"] == [], said
    assert (code, document["verdict"]) == (0, "pass"), said


@pytest.mark.slow
@pytest.mark.parametrize("notes", ["planted"], indirect=True)
def test_a_planted_500_and_traceback_fail_exactly_their_operations_led_by_their_rules(
    notes: str, notes_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, document, said = _run(notes_spec, notes, tmp_path / "r", monkeypatch)
    failed = _failed(document)
    assert sorted(failed) == ["create_note_notes_post", "get_note_notes__note_id__get"], said
    assert "not_a_server_error" in failed["create_note_notes_post"], failed
    assert "no_leaks" in failed["get_note_notes__note_id__get"], failed
    assert (code, document["verdict"]) == (1, "fail"), said
    # the summary leads with them: their rules come before any other rule it names
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    named = [m.group(0) for m in re.finditer(r"\b[a-z]+(?:_[a-z]+)+\b", summary)]
    rules = [
        name
        for name in named
        if name in {*failed["create_note_notes_post"], *failed["get_note_notes__note_id__get"]}
    ]
    assert set(rules[:2]) == {"not_a_server_error", "no_leaks"}, rules
    # the 500's reproduction, pasted into bash with the token in the variable it came from,
    # gets the 500 again
    (create,) = [o for o in document["operations"] if o["operation_id"] == "create_note_notes_post"]
    server_error = next(f for f in create["failures"] if f["check"] == "not_a_server_error")
    line = server_error["curl"]
    assert '-H "Authorization: Bearer $CONFORMANCE_NOTES_TOKEN"' in line, line
    assert pasted(line, tmp_path, {"CONFORMANCE_NOTES_TOKEN": TOKEN}) == server_error["status"]
