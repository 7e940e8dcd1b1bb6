"""Each lint rule, shown reporting a copy of the Tchat spec that breaks it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import bundled_spec
from conformance.lint import RULES, Severity, lint_path
from tests.conftest import SpecCopy

ITEMS = "/paths/~1content~1items"
ITEM = "/paths/~1content~1items~1{id}"


def op(data: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = data["paths"][path][method]
    return operation


def response(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = data["components"]["responses"][name]
    return found


def schema(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = data["components"]["schemas"][name]
    return found


def add_category_create(data: dict[str, Any]) -> None:
    """A create for categories that does not link to the item create, which takes their ids."""
    create = copy.deepcopy(op(data, "/content/items", "post"))
    create["operationId"] = "createContentCategory"
    create["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
    }
    create["responses"]["201"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["data", "timestamp"],
        "properties": {
            "data": {"$ref": "#/components/schemas/ContentCategory"},
            "timestamp": {"type": "string"},
        },
    }
    create["responses"]["201"]["links"] = {}
    data["paths"]["/content/categories"]["post"] = create
    get = copy.deepcopy(op(data, "/content/items/{id}", "get"))
    get["operationId"] = "getContentCategory"
    get["responses"]["200"] = copy.deepcopy(create["responses"]["201"])
    data["paths"]["/content/categories/{id}"] = {
        "parameters": [
            {"$ref": "#/components/parameters/RequestId"},
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "get": get,
    }


@dataclass(frozen=True)
class Breach:
    rule: str
    mutate: Callable[[dict[str, Any]], object]
    pointer: str  #: where the finding must point
    words: str  #: part of its message


BREACHES = [
    Breach(
        "CT002",
        lambda d: op(d, "/content/items", "get")["responses"].update(
            {"200": {"$ref": "#/components/responses/Nope"}}
        ),
        f"{ITEMS}/get/responses/200",
        "'#/components/responses/Nope' leads nowhere",
    ),
    Breach(
        "CT003",
        lambda d: d["components"]["parameters"]["Page"].update({"in": "body"}),
        "/components/parameters/Page/in",
        '"body" is not one of',
    ),
    Breach(
        "CT003",
        # A schema error: the validator gives its path inside the schema, not in the document.
        lambda d: schema(d, "ContentTitle").update({"type": "strin"}),
        "/components/schemas/ContentTitle/type",
        "'strin' is not valid under any of the given schemas",
    ),
    Breach(
        "CT003",
        lambda d: op(d, "/content/items/{id}", "get")["parameters"].append(
            {"name": "ghost", "in": "path", "required": True, "schema": {"type": "string"}}
        ),
        f"{ITEM}/get",
        "Path parameter 'ghost' for 'get' operation in '/content/items/{id}' was not resolved",
    ),
    Breach(
        "CT003",
        # which operations a run calls: true, false or the reason, nothing else
        lambda d: op(d, "/content/items", "get").update({"x-exclude": 5}),
        f"{ITEMS}/get/x-exclude",
        "x-exclude: 5 is not valid under any of the given schemas",
    ),
    Breach(
        "CT004",
        lambda d: schema(d, "ContentTitle").update({"minLenght": 1}),
        "/components/schemas/ContentTitle/minLenght",
        "'minLenght' is not a schema keyword",
    ),
    Breach(
        "CT004",
        # What YAML makes of {description: Seconds, as in Retry-After.}: a key with no value.
        lambda d: schema(d, "ErrorResponse")["properties"]["retryAfter"].update(
            {"as in Retry-After.": None}
        ),
        "/components/schemas/ErrorResponse/properties/retryAfter/as in Retry-After.",
        "a comma inside a {flow mapping} splits a plain string there",
    ),
    Breach(
        "CT101",
        lambda d: schema(d, "ErrorResponse").pop("additionalProperties"),
        "/components/schemas/ErrorResponse",
        "ErrorResponse is open",
    ),
    Breach(
        "CT101",
        lambda d: schema(d, "ErrorCode")["enum"].remove("RATE_LIMITED"),
        "/components/schemas/ErrorResponse/properties/code",
        "does not allow RATE_LIMITED",
    ),
    Breach(
        "CT101",
        lambda d: schema(d, "ErrorResponse")["required"].remove("requestId"),
        "/components/schemas/ErrorResponse",
        "does not require requestId",
    ),
    Breach(
        "CT102",
        lambda d: response(d, "NotFound")["content"]["application/json"].update(
            {"schema": {"type": "object"}}
        ),
        f"{ITEM}/get/responses/404",
        "the 404 response is not an application/json ErrorResponse",
    ),
    Breach(
        "CT102",
        lambda d: response(d, "NotFound")["content"]["application/json"]["schema"]["allOf"][1][
            "properties"
        ].update({"statusCode": {"const": 400}}),
        f"{ITEM}/get/responses/404",
        "pins statusCode to 400",
    ),
    Breach(
        "CT103",
        lambda d: op(d, "/content/categories", "get")["responses"]["200"]["content"][
            "application/json"
        ].update(
            {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ContentCategory"}}}
        ),
        "/paths/~1content~1categories/get/responses/200",
        "is not an ApiResponse",
    ),
    Breach(
        "CT104",
        lambda d: response(d, "NoContent").update(
            {"content": {"application/json": {"schema": {"type": "object"}}}}
        ),
        "/paths/~1auth~1logout/post/responses/204",
        "a 204 response declares a body",
    ),
    Breach(
        "CT104",
        lambda d: d["paths"]["/content/items/{id}"].update(
            {"delete": {**op(d, "/content/items/{id}", "put"), "operationId": "deleteContentItem"}}
        ),
        f"{ITEM}/delete/responses/200",
        "DELETE answers 200",
    ),
    Breach(
        "CT201",
        lambda d: op(d, "/content/items", "get")["responses"].pop("400"),
        f"{ITEMS}/get/responses",
        "takes input but documents no 400",
    ),
    Breach(
        "CT202",
        lambda d: op(d, "/content/items/{id}", "get")["responses"].pop("404"),
        f"{ITEM}/get/responses",
        "takes id in its path but documents no 404",
    ),
    Breach(
        "CT202",
        lambda d: op(d, "/content/items", "post")["responses"].pop("404"),
        f"{ITEMS}/post/responses",
        "takes the id of a ContentCategory (body /category)",
    ),
    Breach(
        "CT203",
        lambda d: op(d, "/content/items", "post")["responses"].update(
            {"422": {"$ref": "#/components/responses/BadRequest"}}
        ),
        f"{ITEMS}/post/responses/422",
        "anything the schema rejects is 400",
    ),
    Breach(
        "CT204",
        lambda d: d["paths"].update(
            {"/content/categories/{id}/items": d["paths"]["/content/categories/{category}/items"]}
        ),
        "/paths/~1content~1categories~1{id}~1items",
        "the same path with other parameter names",
    ),
    Breach(
        "CT301",
        lambda d: op(d, "/content/items", "get")["parameters"].remove(
            {"$ref": "#/components/parameters/Limit"}
        ),
        f"{ITEMS}/get/parameters",
        "takes no `limit` query parameter",
    ),
    Breach(
        "CT301",
        lambda d: d["components"]["parameters"]["Page"]["schema"].update({"maximum": 500}),
        f"{ITEMS}/get/parameters/0",
        "`page` is not an integer from 1 to 10000 (check maximum)",
    ),
    Breach(
        "CT302",
        lambda d: schema(d, "ContentItemPage")["required"].remove("hasMore"),
        "/components/schemas/ContentItemPage",
        "does not require hasMore",
    ),
    Breach(
        "CT302",
        lambda d: schema(d, "ContentItemPage")["properties"].update(
            {"nextPage": {"type": "integer"}}
        ),
        "/components/schemas/ContentItemPage/properties/nextPage",
        "is not integer or null",
    ),
    Breach(
        "CT401",
        lambda d: response(d, "Unauthorized")["headers"].pop("WWW-Authenticate"),
        "/paths/~1auth~1verify/get/responses/401",
        "does not declare WWW-Authenticate",
    ),
    Breach(
        "CT401",
        lambda d: op(d, "/content/sync", "get")["responses"].pop("401"),
        "/paths/~1content~1sync/get/responses",
        "needs credentials but documents no 401",
    ),
    Breach(
        "CT402",
        lambda d: op(d, "/content/items", "get").pop("x-roles"),
        f"{ITEMS}/get",
        "does not say who may call it",
    ),
    Breach(
        "CT402",
        lambda d: op(d, "/auth/login", "post").update({"x-roles": ["admin"]}),
        "/paths/~1auth~1login/post/x-roles",
        "is public (security: []) but x-roles names roles",
    ),
    Breach(
        "CT402",
        lambda d: op(d, "/auth/verify", "get").update({"x-roles": []}),
        "/paths/~1auth~1verify/get/x-roles",
        "needs credentials but x-roles allows no role",
    ),
    Breach(
        "CT402",
        lambda d: op(d, "/content/sync", "get").update({"x-roles": ["editor"]}),
        "/paths/~1content~1sync/get/x-roles",
        "role 'editor' is not in the root x-roles",
    ),
    Breach(
        "CT403",
        lambda d: op(d, "/content/items/{id}/publish", "post")["responses"].pop("403"),
        "/paths/~1content~1items~1{id}~1publish/post/responses",
        "allows only admin, manager, service but documents no 403",
    ),
    Breach(
        "CT404",
        lambda d: d["x-auth-flow"]["login"].update({"refresh_token": "/tokens/refresh"}),
        "/x-auth-flow/login/refresh_token",
        "/tokens/refresh is not in the 2xx response of login",
    ),
    Breach(
        "CT405",
        lambda d: op(d, "/auth/refresh", "post")["responses"]["200"]["headers"].pop(
            "Cache-Control"
        ),
        "/paths/~1auth~1refresh/post/responses/200",
        "carries tokens but does not declare Cache-Control",
    ),
    Breach(
        "CT501",
        lambda d: schema(d, "ContentItem")["required"].remove("version"),
        "/components/schemas/ContentItem",
        "can be changed",
    ),
    Breach(
        "CT502",
        lambda d: response(d, "ContentItem")["headers"].pop("ETag"),
        f"{ITEM}/get/responses/200",
        "carries a ContentItem but declares no ETag",
    ),
    Breach(
        "CT503",
        lambda d: op(d, "/content/items/{id}/archive", "post")["parameters"].clear(),
        "/paths/~1content~1items~1{id}~1archive/post/parameters",
        "takes no If-Match header",
    ),
    Breach(
        "CT503",
        lambda d: schema(d, "UpdateContentItemRequest")["properties"].pop("version"),
        f"{ITEM}/put/requestBody",
        "has no `version`",
    ),
    Breach(
        "CT503",
        lambda d: d["components"]["parameters"]["IfMatch"].update({"required": True}),
        f"{ITEM}/put/parameters/0",
        "If-Match is required",
    ),
    Breach(
        "CT504",
        lambda d: op(d, "/content/items/{id}/revert", "post")["responses"].pop("409"),
        "/paths/~1content~1items~1{id}~1revert/post/responses",
        "changes a resource (a stale version is 409) but documents no 409",
    ),
    Breach(
        "CT504",
        lambda d: (
            schema(d, "ContentItem").update({"x-unique": ["title"]}),
            op(d, "/content/items", "post")["responses"].pop("409", None),
        ),
        f"{ITEMS}/post/responses",
        "whose ['title'] must be unique",
    ),
    Breach(
        "CT505",
        lambda d: schema(d, "ContentCategory").update({"x-unique": ["code"]}),
        "/components/schemas/ContentCategory/x-unique",
        "x-unique names 'code', not a property here",
    ),
    Breach(
        "CT505",
        lambda d: schema(d, "ContentItem")["x-owner"].update({"property": "ownerId"}),
        "/components/schemas/ContentItem/x-owner/property",
        "x-owner names 'ownerId', not a property here",
    ),
    Breach(
        "CT505",
        lambda d: schema(d, "ContentItem")["x-owner"].update({"while": {"state": ["draft"]}}),
        "/components/schemas/ContentItem/x-owner/while/state",
        "x-owner names 'state', not a property here",
    ),
    Breach(
        "CT601",
        lambda d: response(d, "BadRequest")["headers"].pop("X-RateLimit-Reset"),
        f"{ITEMS}/get/responses/400",
        "does not declare X-RateLimit-Reset",
    ),
    Breach(
        "CT602",
        lambda d: op(d, "/content/sync", "get")["responses"].pop("429"),
        "/paths/~1content~1sync/get/responses",
        "documents no 429",
    ),
    Breach(
        "CT602",
        lambda d: response(d, "TooManyRequests")["headers"].pop("Retry-After"),
        "/paths/~1content~1sync/get/responses/429",
        "does not declare Retry-After",
    ),
    Breach(
        "CT603",
        lambda d: d.pop("x-rate-limit"),
        "",
        "declares no x-rate-limit",
    ),
    Breach(
        "CT603",
        lambda d: op(d, "/auth/login", "post")["x-rate-limit"].pop("key"),
        "/paths/~1auth~1login/post",
        "is limited per principal, but a login has none yet",
    ),
    Breach(
        "CT701",
        lambda d: d.pop("x-latency-budget-ms"),
        "",
        "declares no x-latency-budget-ms",
    ),
    Breach(
        "CT701",
        lambda d: op(d, "/auth/login", "post").update({"x-latency-budget-ms": 0}),
        "/paths/~1auth~1login/post/x-latency-budget-ms",
        "0 is less than the minimum of 1",
    ),
    Breach(
        "CT801",
        lambda d: d["paths"]["/content/sync"].pop("parameters"),
        "/paths/~1content~1sync/get/parameters",
        "does not accept an X-Request-ID header",
    ),
    Breach(
        "CT801",
        lambda d: response(d, "Forbidden")["headers"].pop("X-Request-ID"),
        "/paths/~1content~1items~1bulk/post/responses/403",
        "does not declare X-Request-ID",
    ),
    Breach(
        "CT802",
        lambda d: response(d, "Conflict")["headers"].pop("X-Content-Type-Options"),
        f"{ITEM}/put/responses/409",
        "does not declare X-Content-Type-Options",
    ),
    Breach(
        "CT901",
        lambda d: op(d, "/content/sync", "get").pop("operationId"),
        "/paths/~1content~1sync/get",
        "has no operationId",
    ),
    Breach(
        "CT901",
        lambda d: op(d, "/auth/verify", "get").update({"operationId": "logout"}),
        "/paths/~1auth~1verify/get/operationId",
        "operationId 'logout' of GET /auth/verify is also that of POST /auth/logout",
    ),
    Breach(
        "CT902",
        lambda d: op(d, "/metrics", "post").update({"tags": ["metrics", "content"]}),
        "/paths/~1metrics/post/tags",
        "has 2 tags",
    ),
    Breach(
        "CT902",
        lambda d: op(d, "/metrics", "post").update({"tags": ["telemetry"]}),
        "/paths/~1metrics/post/tags",
        "tag 'telemetry' of POST /metrics is not declared",
    ),
    Breach(
        "CT903",
        lambda d: op(d, "/content/items", "post")["responses"]["201"]["links"].pop(
            "UpdateContentItem"
        ),
        f"{ITEMS}/post/responses",
        "has no link to PUT /content/items/{id} (updateContentItem)",
    ),
    Breach(
        "CT903",
        lambda d: op(d, "/content/items", "post")["responses"]["201"]["links"][
            "GetContentItem"
        ].update({"parameters": {"itemId": "$response.body#/data/id"}}),
        f"{ITEMS}/post/responses/201/links/GetContentItem/parameters/itemId",
        "sets 'itemId', which GET /content/items/{id} does not take",
    ),
    Breach(
        "CT903",
        lambda d: op(d, "/content/items", "post")["responses"]["201"]["links"][
            "GetContentItem"
        ].update({"operationId": "getItem"}),
        f"{ITEMS}/post/responses/201/links/GetContentItem",
        "leads to no operation ('getItem')",
    ),
    Breach(
        "CT904",
        add_category_create,
        "/paths/~1content~1categories/post/responses",
        "creates a ContentCategory, whose id POST /content/items takes (body /category)",
    ),
]


@pytest.mark.parametrize("breach", BREACHES, ids=[f"{b.rule}-{b.words[:40]}" for b in BREACHES])
def test_rule_reports_a_spec_that_breaks_it(tchat_copy: SpecCopy, breach: Breach) -> None:
    result = lint_path(tchat_copy(breach.mutate))
    reported = [
        f for f in result.findings if f.rule.id == breach.rule and f.pointer == breach.pointer
    ]
    assert reported, (
        f"{breach.rule} did not report {breach.pointer or '/'}; it reported"
        f" {[(f.rule.id, f.pointer, f.message) for f in result.findings]}"
    )
    assert any(breach.words in f.message for f in reported), [f.message for f in reported]
    assert all(f.severity is Severity.FINDING for f in reported)
    assert all(f.line is not None for f in reported)
    assert result.failed


def test_rule_duplicate_key_reported_with_both_lines(tmp_path: Path) -> None:
    text = bundled_spec("tchat").read_text(encoding="utf-8")
    marker = "      operationId: syncContent\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text.replace(marker, marker + "      operationId: syncAgain\n"), "utf-8")
    result = lint_path(path)
    (finding,) = [f for f in result.findings if f.rule.id == "CT001"]
    line = text[: text.index(marker)].count("\n") + 1
    assert finding.pointer == "/paths/~1content~1sync/get/operationId"
    assert finding.line == line + 1  # the pointer's line is where the winning key stands
    assert f"appears again on line {line + 1}" in finding.message


def test_rule_duplicate_operation_id_reported_once(tchat_copy: SpecCopy) -> None:
    path = tchat_copy(lambda d: op(d, "/auth/verify", "get").update({"operationId": "logout"}))
    assert [f.rule.id for f in lint_path(path).findings] == ["CT404", "CT901"]


def test_rule_overlay_action_that_matches_nothing_reported_at_its_line(tmp_path: Path) -> None:
    # CT005 is broken by an overlay beside the spec, not by the spec: an action whose target
    # the Tchat spec does not have (a path renamed since the overlay was written)
    overlay = tmp_path / "tchat.overlay.yaml"
    overlay.write_text(
        "overlay: 1.0.0\ninfo: {title: extras, version: '1'}\nactions:\n"
        "  - target: $.paths['/content/items'].get\n    update: {x-latency-budget-ms: 300}\n"
        "  - target: $.paths['/content/posts'].get\n    update: {x-latency-budget-ms: 300}\n",
        encoding="utf-8",
    )
    result = lint_path(bundled_spec("tchat"), overlays=[overlay])
    (finding,) = [f for f in result.findings if f.rule.id == "CT005"]
    assert (finding.path, finding.line, finding.pointer) == (overlay, 6, "/actions/1/target")
    assert "action 2 ($.paths['/content/posts'].get) matches nothing in" in finding.message
    assert finding.severity is Severity.FINDING
    assert result.failed


def test_rule_every_registered_rule_has_a_breaking_case() -> None:
    shown = {b.rule for b in BREACHES} | {"CT001", "CT005"}
    assert set(RULES) == shown


def test_rules_are_quiet_on_the_bundled_tchat_spec() -> None:
    result = lint_path(bundled_spec("tchat"))
    assert [f"{f.rule.id} {f.pointer} {f.message}" for f in result.findings] == []


def test_rule_ignore_skips_by_id_or_name(tchat_copy: SpecCopy) -> None:
    path = tchat_copy(lambda d: op(d, "/content/sync", "get")["responses"].pop("429"))
    assert lint_path(path).failed
    assert not lint_path(path, ignore=["CT602"]).failed
    assert not lint_path(path, ignore=["rate-limit-429"]).failed


def test_rule_validator_crash_becomes_a_finding(tchat_copy: SpecCopy) -> None:
    # A $ref to a non-schema the validator walks into; whatever it raises must not escape.
    path = tchat_copy(
        lambda d: schema(d, "ContentItem")["properties"].update(
            {"title": {"$ref": "#/components/schemas/ContentTags/items/pattern"}}
        )
    )
    result = lint_path(path)
    assert result.failed
    assert {f.rule.id for f in result.findings} <= {"CT003"}
