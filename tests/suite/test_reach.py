"""The reach (`conformance.suite._reach`): every operation's documented error answers for its path
parameters are earned in every run, whatever the resource pool and the links supply; on a small
third-party style API written here (a plain spec, no ``x-`` declarations) and in what it plans."""

from __future__ import annotations

import collections
import contextlib
import http
import io
import json
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from conformance.cli import run
from conformance.contract import Spec, bundled_spec, load_spec
from conformance.suite._engine import EngineRun, OperationRecord, engine_config, engine_settings
from conformance.suite._reach import PHASE, absent_value, malformed_value, plan, reach
from tests.plain_specs import ERROR_SCHEMA, document, json_answer, ref, written
from tests.servers import AnyMethod, house_headers, serving

SEEDED = "5b1c6f4e-2a3d-4c8e-9f10-000000000001"


def _error(description: str) -> dict[str, Any]:
    return json_answer(ref("Error"), description)


def _thing(description: str) -> dict[str, Any]:
    return json_answer(ref("Thing"), description)


#: a third-party style spec: plain OpenAPI, a standard link, no ``x-`` declaration
THINGS: dict[str, Any] = document(
    "Things",
    {
        "/things": {
            "get": {
                "operationId": "listThings",
                "responses": {
                    "200": json_answer(
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {"items": {"type": "array", "items": ref("Thing")}},
                        },
                        "the things",
                    )
                },
            },
            "post": {
                "operationId": "createThing",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 40}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_thing("made"),
                        "links": {
                            "GetThing": {
                                "operationId": "getThing",
                                "parameters": {"id": "$response.body#/id"},
                            }
                        },
                    },
                    "400": _error("not a thing"),
                },
            },
        },
        "/things/{id}": {
            "get": {
                "operationId": "getThing",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                        "example": SEEDED,
                    }
                ],
                "responses": {
                    "200": _thing("the thing"),
                    "400": _error("not an id"),
                    "404": _error("no such thing"),
                },
            }
        },
    },
    {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                },
            },
            "Error": ERROR_SCHEMA,
        }
    },
)

ECHOED = re.compile(r"^[!-~]{1,128}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ALLOWED = {"/things": "GET, POST", "/things/{id}": "GET"}


class _Things(AnyMethod):
    """The Things API: correct (``unknown = "404"``), or with a broken answer for an id it does
    not know: a 404 whose body breaks its schema (``"schema"``) or a 500 (``"500"``)."""

    unknown = "404"
    #: a second thing of a name already used: made ("made"), a 500 from the name's unique index
    #: ("500"), refused ("409"), or refused when a thing made by a request has it and a 500
    #: when the seeded one has ("theirs": VAmPI checks the caller's own titles only)
    repeated = "made"
    #: a create without a name makes a thing named "unnamed" (a default the spec does not give)
    lax = False
    #: a name with a NUL byte in it: made ("made"), refused ("400": Django's "Null characters
    #: are not allowed"), or a 500 (a database that refuses the byte, unhandled)
    nul = "made"
    things: dict[str, dict[str, str]]

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        sent = self.headers.get("X-Request-ID") or ""
        house = house_headers(sent if ECHOED.match(sent) else str(uuid.uuid4()))
        self.send_json(status, body, **house, **(headers or {}))

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        error = http.HTTPStatus(status).phrase
        body = {"error": error, "code": code, "message": message, "statusCode": status}
        self._send(status, body, headers)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        parts = path.split("/")[1:]
        if parts[:1] != ["things"] or len(parts) > 2:
            return self._error(404, "NOT_FOUND", "no such path")
        template = "/things" if len(parts) == 1 else "/things/{id}"
        if self.command not in ALLOWED[template].split(", "):
            return self._error(405, "METHOD_NOT_ALLOWED", "no", Allow=ALLOWED[template])
        if template == "/things" and self.command == "GET":
            return self._send(200, {"items": list(self.things.values())[:20]})
        if template == "/things":
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if self.lax and body == {}:
                body = {"name": "unnamed"}
            name = body.get("name") if isinstance(body, dict) else None
            if set(body or ()) != {"name"} or not isinstance(name, str) or not 1 <= len(name) <= 40:
                return self._error(400, "VALIDATION", "a thing has a name of 1 to 40 characters")
            if "\x00" in name and self.nul == "400":
                return self._error(400, "VALIDATION", "Null characters are not allowed.")
            if "\x00" in name and self.nul == "500":
                return self._error(500, "INTERNAL", "invalid byte sequence for encoding UTF8: 0x00")
            holders = [t["id"] for t in self.things.values() if t["name"] == name]
            if holders and self.repeated == "409":
                return self._error(409, "DUPLICATE", "a thing of that name exists")
            if holders and self.repeated == "theirs" and SEEDED not in holders:
                return self._error(409, "DUPLICATE", "you have a thing of that name")
            if holders and self.repeated in ("500", "theirs"):
                return self._error(500, "INTERNAL", "UNIQUE constraint failed: things.name")
            made = {"id": str(uuid.uuid4()), "name": name}
            self.things[made["id"]] = made
            return self._send(201, made)
        identifier = parts[1]
        if not UUID.match(identifier):
            return self._error(400, "VALIDATION", "an id is a UUID")
        if identifier in self.things:
            return self._send(200, self.things[identifier])
        if self.unknown == "schema":  # what many frameworks answer by default
            return self._send(404, {"detail": "Not Found"})
        if self.unknown == "500":
            return self._error(500, "INTERNAL", "KeyError")
        return self._error(404, "NOT_FOUND", "no such thing")


@pytest.fixture
def things_spec(tmp_path: Path) -> Path:
    return written(tmp_path, "things", THINGS)


@pytest.fixture
def things() -> Iterator[Any]:
    """``things(unknown)``: the Things API on a free loopback port, answering an unknown id as
    ``unknown`` says; its base URL."""
    with contextlib.ExitStack() as servers:

        def start(unknown: str) -> str:
            handler = type(
                "Things",
                (_Things,),
                {"unknown": unknown, "things": {SEEDED: {"id": SEEDED, "name": "seeded"}}},
            )
            return servers.enter_context(serving(handler))

        yield start


def reached(
    spec_path: Path,
    url: str,
    seen: dict[str, list[int]] | None = None,
    accepted: dict[str, tuple[dict[str, str], Any]] | None = None,
    held: dict[str, list[str]] | None = None,
    disposable: bool = False,
) -> EngineRun:
    """The reach alone, after a first pass that saw ``seen`` (operation id -> statuses) and whose
    creates were answered 2xx for ``accepted`` (path -> path parameters and body)."""
    spec = load_spec(spec_path)
    records = {op.label: OperationRecord(op.label, str(op.operation_id)) for op in spec.operations}
    for record in records.values():
        record.statuses.update((seen or {}).get(record.operation_id, []))
    run = EngineRun("things", 1, records)
    ids = [str(op.operation_id) for op in spec.operations]
    reach(
        run,
        spec,
        engine_config(engine_settings(url, {}, "smoke", 1)),
        ids,
        None,
        lambda line: None,
        seed=1,
        accepted=accepted,
        held=held,
        disposable=disposable,
    )
    return run


@pytest.mark.parametrize(
    ("unknown", "check"),
    [("schema", "response_schema_conformance"), ("500", "not_a_server_error")],
)
def test_the_reach_earns_an_unseen_404_and_400_and_judges_them_as_fuzzing_does(
    things: Any, things_spec: Path, unknown: str, check: str
) -> None:
    # the first pass answered getThing only with 200s (ids from the pool): the reach asks once
    # for the 404 of an id that cannot exist and once for the 400 of a malformed one
    record = reached(things_spec, things("404"), {"getThing": [200]}).records["GET /things/{id}"]
    assert record.statuses == collections.Counter({200: 1, 404: 1, 400: 1})
    assert not record.failures
    assert not record.errors
    assert record.checks["response_schema_conformance"] == 2  # schemathesis's checks judged
    assert record.checks["no_leaks"] == 2  # and the contract's
    broken = reached(things_spec, things(unknown)).records["GET /things/{id}"]
    failures = [f for f in broken.failures if f.check == check]
    assert failures, broken.failures
    assert all(f.phase == PHASE and f.status in (404, 500) for f in failures)
    assert failures[0].curl.startswith("curl -X GET http://127.0.0.1:")
    assert UUID.search(failures[0].curl.rsplit("/", 1)[-1])  # an id of the declared format
    assert failures[0].example["path"] == "/things/{id}"
    assert failures[0].response is not None
    assert failures[0].response["status"] in (404, 500)
    # nothing for answers the run has seen already, nor for operations without a path parameter
    seen = reached(things_spec, things(unknown), {"getThing": [200, 404, 400]})
    assert sum(sum(r.statuses.values()) for r in seen.records.values()) == 3


@pytest.mark.parametrize("repeated", ["made", "500"])
def test_a_create_is_sent_again_with_the_body_it_was_accepted_for_and_must_not_fail(
    things_spec: Path, repeated: str
) -> None:
    """A second item with the same name (a title, a key) must be refused or made, never a 5xx
    (a unique index the API does not check first), which the suite's fresh stateful keys never
    reach. The reach sends the create the guard saw accepted once more."""
    seeded = {SEEDED: {"id": SEEDED, "name": "x"}}
    handler = type("Things", (_Things,), {"repeated": repeated, "things": seeded})
    accepted: dict[str, tuple[dict[str, str], Any]] = {"/things": ({}, {"name": "x"})}
    with serving(handler) as url:
        record = reached(things_spec, url, accepted=accepted).records["POST /things"]
    failed = [f for f in record.failures if f.check == "not_a_server_error"]
    if repeated == "made":  # then without its name: refused; with a NUL in it: made
        assert record.statuses == collections.Counter({201: 2, 400: 1})
        assert not record.failures
        return
    assert record.statuses == collections.Counter({500: 1, 400: 1, 201: 1})
    assert len(failed) == 1
    assert (failed[0].phase, failed[0].status) == (PHASE, 500)
    assert '{"name": "x"}' in failed[0].curl
    # nothing is written in a read-only run
    spec = load_spec(things_spec)
    assert not plan(spec, ["createThing"], {}, seed=1, read_only=True, accepted=accepted)
    planned = plan(spec, ["createThing"], {}, seed=1, accepted=accepted)
    assert [probe.kind for probe in planned] == ["duplicate", "missing", "nul"]


@pytest.mark.parametrize("repeated", ["made", "409", "theirs"])
@pytest.mark.parametrize("disposable", [True, False], ids=["disposable", "shared"])
def test_a_create_with_a_key_another_item_holds_must_not_fail(
    things_spec: Path, tmp_path: Path, repeated: str, disposable: bool
) -> None:
    """A name another item holds (read in a list the run fetched; the run's own are not taken
    ones) is sent in a create once more: made or refused, never a 5xx (VAmPI: a book title
    another user had was a 500). On a shared target only after the API refused the run's own
    name again: one that made a second thing of it may upsert, and write over another's."""
    from types import SimpleNamespace

    import httpx

    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal

    theirs = {SEEDED: {"id": SEEDED, "name": "theirs"}}
    handler = type("Things", (_Things,), {"repeated": repeated, "things": theirs})
    accepted: dict[str, tuple[dict[str, str], Any]] = {"/things": ({}, {"name": "mine"})}
    with serving(handler) as url:
        client = RunClient(url, lambda: None)
        guard = Guard(load_spec(things_spec), Journal(tmp_path / "j.jsonl"), client,
                      disposable=disposable)  # fmt: skip
        create = SimpleNamespace(
            operation=SimpleNamespace(method="POST", path="/things"), path_parameters={},
            body={"name": "mine"}, meta=None,
        )  # fmt: skip
        guard.after_call(create, httpx.post(f"{url}/things", json={"name": "mine"}))
        listing = SimpleNamespace(operation=SimpleNamespace(method="GET", path="/things"))
        guard.after_call(listing, httpx.get(f"{url}/things"))
        held = guard.held()
        assert held == {"name": ["theirs"]}  # "mine" was the run's: not another item's key
        record = reached(
            things_spec, url, accepted=accepted, held=held, disposable=disposable
        ).records["POST /things"]
        client.close()
    failed = [f for f in record.failures if f.check == "not_a_server_error"]
    missing = {400: 1}  # the create without its name
    nul = {201: 1}  # the create with a NUL in its name
    if repeated == "made":  # the duplicate made a second "mine": on a shared target, no more
        made = 3 if disposable else 2
        assert record.statuses == collections.Counter({201: made, **missing})
        assert not failed
        return
    assert record.statuses[409] >= 1  # the duplicate refused: the taken one follows
    if repeated == "409":
        assert record.statuses == collections.Counter({409: 2, **missing, **nul})
        assert not failed
        return
    assert record.statuses == collections.Counter({409: 1, 500: 1, **missing, **nul})
    assert any('{"name": "theirs"}' in f.curl for f in failed), failed


@pytest.mark.parametrize("lax", [False, True], ids=["refuses", "defaults"])
def test_a_create_sent_without_a_required_member_must_be_refused(
    things_spec: Path, lax: bool
) -> None:
    """The API took ``{"name": …}``: the same create without ``name`` breaks its schema, and an
    API that makes a thing of it anyway (a default where the spec says required) fails
    ``negative_data_rejection``, in the reach's phase, its curl the body it sent."""
    handler = type("Things", (_Things,), {"lax": lax, "things": {}})
    accepted: dict[str, tuple[dict[str, str], Any]] = {"/things": ({}, {"name": "x"})}
    with serving(handler) as url:
        record = reached(things_spec, url, accepted=accepted).records["POST /things"]
    # the cases with generation metadata: the missing one, and the one with a NUL in its name
    assert record.checks["negative_data_rejection"] == 2
    failed = [f for f in record.failures if f.check == "negative_data_rejection"]
    if not lax:
        assert record.statuses == collections.Counter({201: 2, 400: 1})
        assert not failed, failed
        return
    assert record.statuses == collections.Counter({201: 3})
    assert len(failed) == 1, record.failures
    assert (failed[0].phase, failed[0].status) == (PHASE, 201)
    assert "Missing required property: name" in failed[0].message
    assert (
        failed[0].curl == f"curl -X POST -H 'Content-Type: application/json' -d '{{}}' {url}/things"
    )


@pytest.mark.parametrize("nul", ["made", "400", "500"])
def test_a_create_with_a_nul_byte_in_its_free_text_must_be_taken(
    things_spec: Path, nul: str
) -> None:
    """The API took ``{"name": …}``, a string its schema lets hold any character: the same
    create with a NUL byte inside the name (fresh text around it) is a valid one. An API that
    refuses it fails ``positive_data_acceptance``, as ``st run`` reports it when a draw holds
    a NUL (RealWorld's comments: "Null characters are not allowed."); one that answers 500
    fails ``not_a_server_error``; one that makes it passes."""
    handler = type("Things", (_Things,), {"nul": nul, "things": {}})
    accepted: dict[str, tuple[dict[str, str], Any]] = {"/things": ({}, {"name": "x"})}
    with serving(handler) as url:
        record = reached(things_spec, url, accepted=accepted).records["POST /things"]
    answered = 201 if nul == "made" else int(nul)  # the duplicate made, the missing one refused
    assert record.statuses == collections.Counter({201: 1, 400: 1}) + collections.Counter(
        [answered]
    )
    checks = {failure.check for failure in record.failures}
    if nul == "made":
        assert not record.failures, record.failures
        return
    wanted = "positive_data_acceptance" if nul == "400" else "not_a_server_error"
    assert wanted in checks, record.failures
    failed = next(f for f in record.failures if f.check == wanted)
    assert (failed.phase, failed.status) == (PHASE, int(nul))
    assert "\\u0000" in failed.curl, failed.curl  # the body as sent, its NUL escaped


def test_a_nested_required_member_is_left_out_the_deepest_first(tmp_path: Path) -> None:
    """A wrapped body (``{"article": {…}}``, as RealWorld's): each required member inside is
    left out in its own request before the wrapper is; one with a default, a readOnly one and an
    optional one are never."""
    article = {
        "type": "object",
        "required": ["title", "description", "slug", "draft"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "slug": {"type": "string", "readOnly": True},
            "draft": {"type": "boolean", "default": False},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    body = {"type": "object", "required": ["article"], "properties": {"article": article}}
    create = {
        "operationId": "createArticle",
        "requestBody": {"content": {"application/json": {"schema": body}}},
        "responses": {"201": {"description": "made"}, "422": {"description": "invalid"}},
    }
    spec = _spec(tmp_path, {"/articles": {"post": create}})
    sent = {"article": {"title": "a", "description": "b", "slug": "c", "draft": True, "tags": []}}
    planned = plan(spec, ["createArticle"], {}, seed=1, accepted={"/articles": ({}, sent)})
    missing = [p for p in planned if p.kind == "missing"]
    assert [p.member for p in missing] == [
        "article -> Missing required property: description",
        "article -> Missing required property: title",
        "Missing required property: article",
    ]
    assert [sorted(p.body.get("article", {})) for p in missing] == [
        ["draft", "slug", "tags", "title"], ["description", "draft", "slug", "tags"], []
    ]  # fmt: skip
    # fresh text in each (a title may be a key), and a new key in each request
    assert missing[0].body["article"]["title"] != "a"
    assert missing[0].body["article"]["title"] != missing[1].body["article"].get("title")


@pytest.mark.slow
@pytest.mark.parametrize("unknown", ["404", "schema"], ids=["correct", "broken-404"])
def test_a_third_party_api_whose_404_breaks_its_schema_fails_and_the_correct_one_passes(
    things: Any, things_spec: Path, tmp_path: Path, unknown: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["run", "--spec", str(things_spec), "--target", things(unknown), "--profile", "smoke",
         "--seed", "1", "--reports", str(tmp_path / "r"), "-p", "no:cacheprovider"],
        out, err,
    )  # fmt: skip
    document = json.loads((tmp_path / "r" / "verdict.json").read_text())
    by_id = {op["operation_id"]: op for op in document["operations"]}
    if unknown == "404":
        assert code == 0, (out.getvalue()[-3000:], err.getvalue())
        assert "404" in by_id["getThing"]["statuses"]
        return
    # at this seed the first pass draws getThing's ids from the example and the links only (200,
    # 400 and 405, never a 404): the reach's request for an unknown id is what finds the defect
    assert code == 1, (out.getvalue()[-3000:], err.getvalue())
    failed = {f["check"] for f in by_id["getThing"]["failures"]}
    assert "response_schema_conformance" in failed, by_id["getThing"]["failures"]
    assert [op for op, found in by_id.items() if found["failures"]] == ["getThing"]


def _spec(tmp_path: Path, paths: dict[str, Any]) -> Spec:
    return load_spec(written(tmp_path, "t", document("t", paths, version="1")))


def _operation(operation_id: str, statuses: list[str], schema: Any = None) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": schema or {"type": "integer"}}
        ],
        "responses": {status: {"description": status} for status in statuses},
    }


def test_the_plan_asks_for_documented_error_answers_not_yet_seen_and_writes_only_to_the_void(
    tmp_path: Path,
) -> None:
    spec = _spec(
        tmp_path,
        {
            "/a/{id}": {
                "get": _operation("getA", ["200", "400", "404"]),
                "delete": _operation("deleteA", ["204", "404"]),
                # an upsert: a PUT to an id that does not exist may make it
                "put": _operation("putA", ["200", "201", "400", "404"]),
            },
            "/b/{id}": {
                "get": _operation("getB", ["200", "4XX"], {"type": "string"}),  # nothing to break
                "patch": _operation(
                    "patchB", ["200", "default"], {"type": "string", "enum": ["x"]}
                ),
            },
            "/c": {"get": {"operationId": "listC", "responses": {"200": {"description": "ok"}}}},
            "/d": {
                "get": {
                    "operationId": "searchD",
                    "parameters": [
                        {"name": name, "in": "query", "schema": schema}
                        for name, schema in (
                            ("q", {"type": "string", "maxLength": 100}),  # free text
                            ("sort", {"type": "string", "enum": ["asc", "desc"]}),
                            ("since", {"type": "string", "format": "date"}),
                            ("code", {"type": "string", "pattern": "^[A-Z]+$"}),
                            ("short", {"type": "string", "maxLength": 4}),
                        )
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
                # a write never gets one: a NUL stored in a shared environment stays there
                "post": {
                    "operationId": "postD",
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"201": {"description": "made"}},
                },
            },
        },
    )
    ids = [str(op.operation_id) for op in spec.operations]
    found = {(p.operation_id, p.kind) for p in plan(spec, ids, {}, seed=1)}
    assert found == {
        ("getA", "absent"), ("getA", "malformed"), ("deleteA", "absent"),
        ("putA", "malformed"),  # a malformed id names nothing; an absent one may be made
        ("getB", "absent"),
        ("patchB", "malformed"),  # every value of the enum may name something: no absent one
        ("searchD", "nul"),  # a NUL in each free-text query parameter, in one read
    }  # fmt: skip
    (nul,) = [p for p in plan(spec, ids, {}, seed=1) if p.kind == "nul"]
    assert nul.query == {"q": "conformance\x00nul"}
    seen = {"GET /a/{id}": OperationRecord("GET /a/{id}", "getA", collections.Counter({404: 2}))}
    again = {(p.operation_id, p.kind) for p in plan(spec, ["getA"], seen, seed=1)}
    assert again == {("getA", "malformed")}
    assert {p.method for p in plan(spec, ids, {}, seed=1, read_only=True)} == {"GET"}
    # the same seed, the same requests (a failure's curl reproduces); another seed, other ids
    first, same = plan(spec, ids, {}, seed=1), plan(spec, ids, {}, seed=1)
    assert first == same
    assert first != plan(spec, ids, {}, seed=2)


@pytest.mark.parametrize(
    ("schema", "writable"),
    [
        ({"type": "string", "format": "uuid"}, True),
        ({"type": "integer", "format": "int32", "minimum": 1}, True),
        ({"type": "string", "pattern": "^[a-z][a-z0-9_.-]{1,63}$"}, True),
        ({"type": "string", "maxLength": 8}, False),  # too short to be unguessable
        ({"type": "string", "pattern": "^[0-9]{18}$"}, False),  # drawn: reads only
        ({"type": "integer", "maximum": 50}, False),
    ],
)
def test_an_absent_value_fits_its_parameter_and_only_an_unguessable_one_is_written_to(
    schema: dict[str, Any], writable: bool
) -> None:
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    found = absent_value(schema, random.Random(7))
    assert found is not None
    value, unguessable = found
    assert validator.is_valid(value), value
    assert unguessable is writable
    assert absent_value({"type": "string", "enum": ["a", "b"]}, random.Random(7)) is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "uuid"},
        {"type": "integer"},
        {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{1,63}$"},
        {"type": "string", "enum": ["draft", "published"]},
        {"type": "string", "minLength": 30},
    ],
)
def test_a_malformed_value_breaks_its_parameter(schema: dict[str, Any]) -> None:
    value = malformed_value(schema, random.Random(7))
    assert value is not None
    assert not jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value)
    assert "/" not in value
    assert malformed_value({"type": "string"}, random.Random(7)) is None  # any text will do


def test_every_item_operation_of_the_bundled_specs_has_its_error_answers_planned() -> None:
    # each API's operations with a path parameter document a 404 and a 400, and a run that saw
    # none of them asks for both: two requests an operation at most
    for api in ("gloria", "tchat"):
        spec = load_spec(bundled_spec(api))
        ids = [str(op.operation_id) for op in spec.operations]
        probes = plan(spec, ids, {}, seed=1)
        items = [op for op in spec.operations if op.path_parameters]
        kinds = collections.Counter(p.kind for p in probes if p.kind != "nul")
        assert kinds == {"absent": len(items), "malformed": len(items)}, (api, kinds)


def test_a_taken_create_sets_a_key_first_and_never_its_own_value() -> None:
    from conformance.suite._reach import taken_bodies

    body = {"article": {"body": "text", "title": "mine"}, "note": "n"}
    held = {"body": ["other text"], "title": ["mine", "theirs"], "note": ["n"]}
    assert taken_bodies(body, held) == [
        ("article.title", {"article": {"body": "text", "title": "theirs"}, "note": "n"}),
        ("article.body", {"article": {"body": "other text", "title": "mine"}, "note": "n"}),
    ]
    assert body == {"article": {"body": "text", "title": "mine"}, "note": "n"}  # untouched
    # each from a body of its own, with fresh text in the other keys: only the taken one repeats
    bodies = iter([{"article": {"body": "b1", "title": "t1"}, "note": "n1"}])
    ((name, taken),) = taken_bodies(body, held, lambda: next(bodies), limit=1)
    assert (name, taken) == (
        "article.title",
        {"article": {"body": "b1", "title": "theirs"}, "note": "n1"},
    )
