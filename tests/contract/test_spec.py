from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.contract import (
    BUNDLED_APIS,
    Ownership,
    RateLimit,
    UnresolvedReference,
    bundled_spec,
    load_spec,
    resources,
    singletons,
)
from tests.conftest import FIXTURES, SpecCopy


def spec_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def test_spec_reads_tchat_operations_and_root_declarations() -> None:
    spec = load_spec(bundled_spec("tchat"))
    assert len(spec.operations) == 20  # the seed's 17 and the contract's throwaway accounts (3)
    assert spec.base_path == "/api"
    assert spec.declarations.roles == ("admin", "manager", "staff", "service")
    assert spec.declarations.latency_budget_ms == 200
    assert spec.declarations.auth_flow is not None
    assert spec.declarations.auth_flow.refresh is not None
    assert spec.declarations.auth_flow.refresh.token_in == "bearer"
    assert spec.declaration_problems == ()
    assert spec.unresolved == ()


def test_spec_resolves_what_applies_to_each_operation() -> None:
    spec = load_spec(bundled_spec("tchat"))
    login = spec.operation("login")
    update = spec.operation("updateContentItem")
    assert login is not None
    assert update is not None
    # login declares its own budget, limit and (empty) security; update inherits the root's.
    assert (login.is_public, login.roles, login.latency_budget_ms) == (True, (), 500)
    assert login.rate_limit is not None
    assert login.rate_limit.key == "client-account"
    assert (update.is_public, update.latency_budget_ms) == (False, 200)
    assert update.rate_limit is not None
    assert update.rate_limit.for_role("service") == RateLimit(6000, 60)
    assert update.rate_limit.for_role("staff") == RateLimit(60, 60)
    # Path-level parameters (X-Request-ID, id) are merged with the operation's own (If-Match).
    names = {(p.location, p.name) for p in update.parameters}
    assert names == {("header", "X-Request-ID"), ("path", "id"), ("header", "If-Match")}
    assert update.parameter("if-match", "header") is not None  # header names ignore case


def test_spec_operation_parameters_override_path_level_ones(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n"
        "    parameters: [{name: q, in: query, schema: {type: string}}]\n"
        "    get:\n      parameters: [{name: q, in: query, required: true,"
        " schema: {type: integer}}]\n      responses: {'200': {description: ok}}\n",
    )
    (parameter,) = spec.operations[0].parameters
    assert parameter.required
    assert parameter.schema == {"type": "integer"}


def test_spec_resolve_reports_refs_that_lead_nowhere(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n"
        "    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n",
    )
    with pytest.raises(UnresolvedReference, match="loop"):
        spec.resolve({"$ref": "#/components/schemas/A"})
    with pytest.raises(UnresolvedReference, match="leads nowhere"):
        spec.resolve({"$ref": "#/components/schemas/C"})
    with pytest.raises(UnresolvedReference, match="external"):
        spec.resolve({"$ref": "other.yaml#/A"})
    assert spec.deref({"$ref": "#/components/schemas/C"}) == {}


def test_spec_schema_at_walks_refs_allof_and_items() -> None:
    spec = load_spec(bundled_spec("tchat"))
    login = spec.operation("login")
    assert login is not None
    request = spec.request_schema(login)
    assert spec.schema_at(request, "/email") == {
        "type": "string",
        "format": "email",
        "maxLength": 254,
    }
    assert spec.schema_at(request, "/nope") is None
    bulk = spec.operation("bulkUpdateContent")
    assert bulk is not None
    changes = spec.schema_at(spec.request_schema(bulk), "/operations/0/changes")
    assert spec.component_name(changes) == "ContentItemChanges"


@pytest.mark.parametrize(
    ("mutate", "extension", "pointer"),
    [
        (lambda d: d.update({"x-roles": ["Admin"]}), "x-roles", "/x-roles/0"),
        (
            lambda d: d.update({"x-latency-budget-ms": 0}),
            "x-latency-budget-ms",
            "/x-latency-budget-ms",
        ),
        (
            lambda d: d["x-rate-limit"].update({"window_s": "60"}),
            "x-rate-limit",
            "/x-rate-limit/window_s",
        ),
        (
            lambda d: d["x-auth-flow"]["refresh"].update({"token_in": "body"}),
            "x-auth-flow",
            "/x-auth-flow/refresh",
        ),
        (
            lambda d: d["paths"]["/content/items"]["get"].update({"x-roles": ["editor"]}),
            "x-roles",
            "/paths/~1content~1items/get/x-roles",
        ),
        (
            lambda d: d["paths"]["/auth/login"]["post"].update({"x-envelope": "bare"}),
            "x-envelope",
            "/paths/~1auth~1login/post/x-envelope",
        ),
        (
            lambda d: d["paths"]["/auth/login"]["post"].update({"x-exclude": ""}),
            "x-exclude",
            "/paths/~1auth~1login/post/x-exclude",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentCategory"].update({"x-unique": ["nope"]}),
            "x-unique",
            "/components/schemas/ContentCategory/x-unique",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentItem"]["x-owner"].update(
                {"while": {"status": []}}
            ),
            "x-owner",
            "/components/schemas/ContentItem/x-owner/while/status",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentItem"]["x-owner"].update({"by": "id"}),
            "x-owner",
            "/components/schemas/ContentItem/x-owner",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentItem"]["x-owner"].update(
                {"property": "ownerId"}
            ),
            "x-owner",
            "/components/schemas/ContentItem/x-owner/property",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentItem"]["x-owner"].update(
                {"while": {"state": ["draft"]}}
            ),
            "x-owner",
            "/components/schemas/ContentItem/x-owner/while/state",
        ),
        (
            lambda d: d["components"]["schemas"]["ContentStatus"]["x-transitions"].update(
                {"draft": ["deleted"]}
            ),
            "x-transitions",
            "/components/schemas/ContentStatus/x-transitions/draft",
        ),
        (
            lambda d: d["components"]["schemas"]["RevertRequest"]["properties"]["versionId"].update(
                {"x-references": "Version"}
            ),
            "x-references",
            "/components/schemas/RevertRequest/properties/versionId/x-references",
        ),
    ],
)
def test_spec_reports_malformed_declarations_where_they_are(
    tchat_copy: SpecCopy, mutate: Any, extension: str, pointer: str
) -> None:
    spec = load_spec(tchat_copy(mutate))
    problems = [(p.extension, p.pointer) for p in spec.declaration_problems]
    assert (extension, pointer) in problems


def test_spec_reads_x_owner_of_component_schemas(tchat_copy: SpecCopy) -> None:
    spec = load_spec(bundled_spec("tchat"))
    item = spec.ownership("ContentItem")
    assert item == Ownership("authorId", {"status": ("draft",)})
    assert item.owner({"authorId": "a", "status": "draft"}) == "a"
    assert item.owner({"authorId": "a", "status": "published"}) is None
    assert item.owner({"authorId": None, "status": "draft"}) is None
    user = spec.ownership("User")
    assert user == Ownership("id", {})
    assert user.owner({"id": "u"}) == "u"
    assert spec.ownership("ContentCategory") is None
    assert spec.ownership("Nope") is None
    gloria = load_spec(bundled_spec("gloria"))
    owners = {
        name: owner.property
        for name in gloria.data["components"]["schemas"]
        if (owner := gloria.ownership(name)) is not None
    }
    assert owners == {
        "UserProfile": "id",
        "Notification": "recipientId",
        "WorkflowInstance": "initiatorId",
    }
    # A malformed one is a declaration problem, and no ownership at all.
    broken = load_spec(
        tchat_copy(lambda d: d["components"]["schemas"]["User"]["x-owner"].update({"while": {}}))
    )
    assert broken.ownership("User") is None
    assert [p.extension for p in broken.declaration_problems] == ["x-owner"]


@pytest.mark.parametrize(
    ("mutate", "pointer", "words"),
    [
        (
            lambda d: d["x-auth-flow"]["login"].update({"operation": "signIn"}),
            "/x-auth-flow/login/operation",
            "no operation has operationId 'signIn'",
        ),
        (
            lambda d: d["x-auth-flow"]["login"].update({"access_token": "/accessToken"}),
            "/x-auth-flow/login/access_token",
            "/accessToken is not in the 2xx response of login",
        ),
        (
            lambda d: d["x-auth-flow"]["login"].update({"username": "/user"}),
            "/x-auth-flow/login/username",
            "/user is not in the request body of login",
        ),
        (
            lambda d: d["x-auth-flow"].update({"scheme": "refreshBearerX"}),
            "/x-auth-flow/scheme",
            "scheme 'refreshBearerX' is not under components/securitySchemes",
        ),
        (  # a scheme that presents no token: nothing for a login to hand out
            lambda d: (
                d["components"]["securitySchemes"].update(
                    {"basicAuth": {"type": "http", "scheme": "basic"}}
                ),
                d["x-auth-flow"].update({"scheme": "basicAuth"}),
            ),
            "/x-auth-flow/scheme",
            "scheme basicAuth (http basic) presents no token",
        ),
        (
            lambda d: d["paths"]["/auth/refresh"]["post"].update({"security": []}),
            "/x-auth-flow/refresh/token_in",
            "has no security requirement",
        ),
    ],
)
def test_spec_checks_the_auth_flow_against_the_operations(
    tchat_copy: SpecCopy, mutate: Any, pointer: str, words: str
) -> None:
    spec = load_spec(tchat_copy(mutate))
    messages = {p.pointer: p.message for p in spec.declaration_problems}
    assert words in messages[pointer]


def test_resources_are_read_off_the_paths() -> None:
    spec = load_spec(bundled_spec("tchat"))
    items, users = resources(spec)
    assert (users.collection_path, users.item_path, users.schema_name) == (
        "/users",
        "/users/{id}",
        "User",
    )
    assert users.update is None
    assert users.delete is not None
    assert (items.collection_path, items.item_path, items.schema_name) == (
        "/content/items",
        "/content/items/{id}",
        "ContentItem",
    )
    assert items.create is not None
    assert items.create.operation_id == "createContentItem"
    assert items.update is not None
    assert items.update.operation_id == "updateContentItem"
    assert items.delete is None
    assert {a.operation_id for a in items.actions} == {
        "getContentVersions",
        "publishContent",
        "archiveContent",
        "revertContentVersion",
    }
    assert items.mutable
    assert singletons(spec) == ()


def test_resources_find_singletons_and_keyed_items(tmp_path: Path) -> None:
    ok = "responses: {'200': {description: ok}}"
    spec = spec_of(
        tmp_path,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n"
        f"  /config:\n    get: {{{ok}}}\n    patch: {{{ok}}}\n"
        f"  /flags:\n    get: {{{ok}}}\n    post: {{{ok}}}\n"
        "  /flags/{key}:\n    parameters: [{name: key, in: path, required: true,"
        " schema: {type: string}}]\n"
        f"    get: {{{ok}}}\n    delete: {{{ok}}}\n"
        "  /users/by-nip/{nip}:\n    parameters: [{name: nip, in: path, required: true,"
        " schema: {type: string}}]\n"
        f"    get: {{{ok}}}\n",
    )
    (flags,) = resources(spec)
    assert flags.item_path == "/flags/{key}"
    assert flags.update is None
    assert not flags.mutable
    (config,) = singletons(spec)
    assert (config.path, config.update.method) == ("/config", "patch")


@pytest.mark.parametrize(
    ("collection", "item"),
    [
        ("/heroes", "/heroes/{hero_id}"),
        ("/heroes/", "/heroes/{hero_id}"),  # FastAPI's
        ("/heroes/", "/heroes/{hero_id}/"),  # Django REST framework's
    ],
)
def test_a_collection_is_found_with_or_without_a_trailing_slash(
    tmp_path: Path, collection: str, item: str
) -> None:
    """A trailing slash hid every resource of a FastAPI app: its run deleted what it had not
    made, and its cleanup removed nothing (issue 25, fastapi/sqlmodel's heroes)."""
    ok = "responses: {'200': {description: ok}}"
    spec = spec_of(
        tmp_path,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n"
        f"  {collection}:\n    get: {{{ok}}}\n    post: {{{ok}}}\n"
        f"  {item}:\n    parameters: [{{name: hero_id, in: path, required: true,"
        " schema: {type: integer}}]\n"
        f"    get: {{{ok}}}\n    patch: {{{ok}}}\n    delete: {{{ok}}}\n"
        f"  {item.rstrip('/')}/power{'/' if item.endswith('/') else ''}:\n"
        "    parameters: [{name: hero_id, in: path, required: true, schema: {type: integer}}]\n"
        f"    post: {{{ok}}}\n",
    )
    (heroes,) = resources(spec)
    assert (heroes.collection_path, heroes.item_path) == (collection, item)
    assert heroes.create is not None
    assert heroes.delete is not None
    assert [action.method for action in heroes.actions] == ["post"]


@pytest.mark.parametrize("segment", ["register", "signup"])
def test_accounts_made_by_registering_are_a_resource_whose_register_is_not_its_create(
    tmp_path: Path, segment: str
) -> None:
    """VAmPI's ``POST /users/v1/register`` beside ``/users/v1/{username}``, no ``/users/v1``
    path: a run learns the accounts its fuzzing registers and removes them; no scenario makes
    an account so (its ``create`` stays None: accounts come from x-auth-flow)."""
    ok = "responses: {'200': {description: ok}}"
    spec = spec_of(
        tmp_path,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n"
        f"  /users/v1/{segment}:\n    post: {{{ok}}}\n"
        "  /users/v1/login:\n    post: {{{ok}}}\n".replace("{{{ok}}}", "{" + ok + "}")
        + "  /users/v1/{username}:\n    parameters: [{name: username, in: path, required: true,"
        " schema: {type: string}}]\n"
        f"    get: {{{ok}}}\n    delete: {{{ok}}}\n",
    )
    (users,) = resources(spec)
    assert (users.collection_path, users.item_path) == ("/users/v1", "/users/v1/{username}")
    assert users.register is not None
    assert users.register.path == f"/users/v1/{segment}"
    assert users.create is None
    assert users.list is None
    assert users.delete is not None


def test_an_operation_is_found_by_its_method_and_path_template() -> None:
    spec = load_spec(bundled_spec("gloria"))
    found = spec.operation_at("GET", "/schools/{id}")
    assert found is not None
    assert found.operation_id == "getSchool"
    assert spec.operation_at("patch", "/users/me") is None  # /users/me has no PATCH


def test_links_name_their_source_operation_and_target() -> None:
    spec = load_spec(bundled_spec("gloria"))
    pairs = {(str(source.operation_id), target) for source, target in spec.links()}
    assert ("createSchool", "getSchool") in pairs
    assert ("getCurrentUser", "getUserByNip") in pairs


def test_the_resource_of_a_2xx_body_is_read_through_the_envelope_the_spec_declares() -> None:
    tchat = load_spec(bundled_spec("tchat"))
    get, archive = tchat.operation("getContentItem"), tchat.operation("archiveContent")
    assert get is not None
    assert archive is not None
    assert (get.wrapped, archive.wrapped) == (True, False)  # archive is `x-envelope: none`
    assert get.payload({"data": {"id": "c1"}, "timestamp": "now"}) == {"id": "c1"}
    assert archive.payload({"id": "c1", "data": "its own"}) == {"id": "c1", "data": "its own"}
    for name in BUNDLED_APIS:  # every answer with a body is an envelope, unless declared bare
        spec = load_spec(bundled_spec(name))
        bodies = [op for op in spec.operations if spec.success_schema(op) is not None]
        assert [op.label for op in bodies if op.wrapped != op.enveloped] == []
    notes = load_spec(FIXTURES / "specs" / "fastapi_notes.json")  # a plain spec: no envelope
    assert [op.label for op in notes.operations if op.wrapped] == []
    note = {"id": 1, "data": "a member of the note"}
    assert all(op.payload(note) == note for op in notes.operations)
