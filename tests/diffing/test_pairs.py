"""The corpus of spec pairs: for every diff rule of the catalogue, an old and a new spec that
differ by exactly the change it names (a rule without a pair fails here, as a lint rule without
a breaking spec does), and pairs that differ in form only (a renamed component, a path
parameter renamed, a schema split into ``allOf`` parts) and must give no change."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.contract import parse_document, read_spec
from conformance.diffing import RULES, ChangeClass, class_of, diff
from conformance.diffing._model import change
from tests.plain_specs import ERROR_SCHEMA, document, json_answer, ref

JSON = "application/json"
TODAY = dt.date(2026, 6, 1)
Mutation = Callable[[dict[str, Any]], object]


def flags() -> dict[str, Any]:
    """A small plain spec (a third party's, no ``x-`` declarations): feature flags."""
    new_flag = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 50},
            "state": {"type": "string", "enum": ["on", "off"]},
            "rollout": {"type": "integer", "minimum": 0, "maximum": 100},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    flag = {
        "type": "object",
        "required": ["id", "name", "state"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["on", "off"]},
            "rollout": {"type": "integer"},
            "owner": {"type": "string"},
        },
    }
    error = json_answer(ref("Error"), "an error")
    paths = {
        "/flags": {
            "get": {
                "operationId": "listFlags",
                "parameters": [
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "state", "in": "query",
                     "schema": {"type": "string", "enum": ["on", "off"]}},
                ],
                "responses": {
                    "200": json_answer({"type": "array", "items": ref("Flag")}, "the flags")
                },
            },
            "post": {
                "operationId": "createFlag",
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("NewFlag")}}},
                "responses": {"201": json_answer(ref("Flag"), "made"), "400": error},
            },
        },
        "/flags/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getFlag",
                "responses": {"200": json_answer(ref("Flag"), "the flag"), "404": error},
            },
            "delete": {
                "operationId": "deleteFlag",
                "security": [{"oauth": ["flags:write"]}],
                "responses": {"204": {"description": "gone"}, "404": error},
            },
        },
    }  # fmt: skip
    components = {
        "schemas": {"Flag": flag, "NewFlag": new_flag, "Error": ERROR_SCHEMA},
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "https://auth.example.com/token",
                        "scopes": {"flags:write": "change flags", "flags:admin": "everything"},
                    }
                },
            },
        },
    }
    return document("Flags", paths, components)


# --- the mutations the pairs are made of --------------------------------------------------------


def op(data: dict[str, Any], method: str, path: str = "/flags/{id}") -> dict[str, Any]:
    found: dict[str, Any] = data["paths"][path][method]
    return found


def schema(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = data["components"]["schemas"][name]
    return found


def prop(data: dict[str, Any], name: str, member: str) -> dict[str, Any]:
    found: dict[str, Any] = schema(data, name)["properties"][member]
    return found


def param(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op(data, "get", "/flags")["parameters"] if p["name"] == name)


def deprecated(sunset: str | None) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        op(data, "delete").update({"deprecated": True})
        if sunset:
            op(data, "delete")["x-sunset"] = sunset

    return mutate


def removed_delete(data: dict[str, Any]) -> None:
    del data["paths"]["/flags/{id}"]["delete"]


def roles(*names: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["x-roles"] = ["admin", "owner", "viewer"]
        op(data, "delete")["x-roles"] = list(names)

    return mutate


def rate_limit(limit: int) -> Mutation:
    return lambda data: data.update({"x-rate-limit": {"limit": limit, "window_s": 60}})


def budget(ms: int) -> Mutation:
    return lambda data: data.update({"x-latency-budget-ms": ms})


def auth_flow(token_at: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["paths"]["/login"] = {
            "post": {
                "operationId": "login",
                "security": [],
                "requestBody": {
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "email": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": json_answer(
                        {
                            "type": "object",
                            "properties": {
                                name: {"type": "string"}
                                for name in ("token", "access_token", "refresh", "expires")
                            },
                        },
                        "tokens",
                    )
                },
            }
        }
        data["x-auth-flow"] = {
            "scheme": "bearer",
            "login": {
                "operation": "login", "username": "/email", "password": "/password",
                "access_token": token_at, "refresh_token": "/refresh", "expires_in": "/expires",
            },
        }  # fmt: skip

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)

    return mutate


@dataclass(frozen=True)
class Pair:
    name: str
    #: the rules the pair's changes are cases of (exactly these, each at least once)
    rules: frozenset[str]
    #: what makes the new spec of the old one
    new: Mutation
    #: what makes the old spec of the base (both specs start from it)
    old: Mutation = field(default=lambda data: None)


def pair(name: str, rules: set[str], new: Mutation, old: Mutation | None = None) -> Any:
    return pytest.param(Pair(name, frozenset(rules), new, old or (lambda data: None)), id=name)


PAIRS = [
    pair("removed-without-deprecation", {"removed-without-deprecation"}, removed_delete),
    pair("removed-before-sunset", {"removed-before-sunset"}, removed_delete,
         old=deprecated("2999-01-01")),
    pair("operation-removed", {"operation-removed"}, removed_delete, old=deprecated("2026-01-31")),
    pair("operation-removed-no-sunset", {"operation-removed"}, removed_delete,
         old=deprecated(None)),
    pair("base-path-changed", {"base-path-changed"},
         lambda d: d.update({"servers": [{"url": "https://api.example.com/v2"}]}),
         old=lambda d: d.update({"servers": [{"url": "https://api.example.com/v1"}]})),
    pair("param-required-added", {"param-required-added"},
         lambda d: op(d, "get", "/flags")["parameters"].append(
             {"name": "team", "in": "query", "required": True, "schema": {"type": "string"}})),
    pair("param-made-required", {"param-made-required"},
         lambda d: param(d, "limit").update({"required": True})),
    pair("request-body-made-required", {"request-body-made-required"},
         lambda d: op(d, "post", "/flags")["requestBody"].update({"required": True}),
         old=lambda d: op(d, "post", "/flags")["requestBody"].update({"required": False})),
    pair("request-media-type-removed", {"request-media-type-removed"},
         lambda d: op(d, "post", "/flags")["requestBody"]["content"].pop(
             "application/x-www-form-urlencoded"),
         old=lambda d: op(d, "post", "/flags")["requestBody"]["content"].update(
             {"application/x-www-form-urlencoded": {"schema": ref("NewFlag")}})),
    pair("request-property-required-added", {"request-property-required-added"},
         lambda d: (schema(d, "NewFlag")["properties"].update(
             {"team": {"type": "string"}}), schema(d, "NewFlag")["required"].append("team"))),
    pair("request-property-made-required", {"request-property-made-required"},
         lambda d: schema(d, "NewFlag")["required"].append("state")),
    pair("request-type-narrowed", {"request-type-narrowed"},
         lambda d: prop(d, "NewFlag", "rollout").update({"type": "integer"}),
         old=lambda d: prop(d, "NewFlag", "rollout").update({"type": "number"})),
    pair("request-type-narrowed-param", {"request-type-narrowed", "request-constraint-relaxed"},
         lambda d: param(d, "state").update({"schema": {"type": "boolean"}})),
    pair("request-enum-value-removed", {"request-enum-value-removed"},
         lambda d: prop(d, "NewFlag", "state").update({"enum": ["on"]})),
    pair("request-maximum-lowered", {"request-maximum-lowered"},
         lambda d: prop(d, "NewFlag", "rollout").update({"maximum": 50})),
    pair("request-maximum-made-exclusive", {"request-maximum-lowered"},
         lambda d: prop(d, "NewFlag", "rollout").update({"exclusiveMaximum": True})),
    pair("request-minimum-raised", {"request-minimum-raised"},
         lambda d: param(d, "limit")["schema"].update({"minimum": 5})),
    pair("request-pattern-added", {"request-pattern-added"},
         lambda d: prop(d, "NewFlag", "name").update({"pattern": "^[a-z-]+$"})),
    pair("request-max-length-lowered", {"request-max-length-lowered"},
         lambda d: prop(d, "NewFlag", "name").update({"maxLength": 20})),
    pair("request-min-length-raised", {"request-min-length-raised"},
         lambda d: prop(d, "NewFlag", "name").update({"minLength": 3})),
    pair("response-property-removed", {"response-property-removed"},
         lambda d: (schema(d, "Flag")["properties"].pop("state"),
                    schema(d, "Flag")["required"].remove("state"))),
    pair("response-property-optional", {"response-property-optional"},
         lambda d: schema(d, "Flag")["required"].remove("name")),
    pair("response-type-changed", {"response-type-changed"},
         lambda d: prop(d, "Flag", "rollout").update({"nullable": True})),
    pair("success-status-removed", {"success-status-removed", "response-status-added"},
         lambda d: op(d, "post", "/flags")["responses"].update(
             {"200": op(d, "post", "/flags")["responses"].pop("201")})),
    pair("response-media-type-removed", {"response-media-type-removed"},
         lambda d: op(d, "get")["responses"]["200"]["content"].pop("application/xml"),
         old=lambda d: op(d, "get")["responses"]["200"]["content"].update(
             {"application/xml": {"schema": ref("Flag")}})),
    pair("security-added", {"security-added"},
         lambda d: op(d, "get").update({"security": [{"bearer": []}]})),
    pair("scope-added", {"scope-added"},
         lambda d: op(d, "delete")["security"][0]["oauth"].append("flags:admin")),
    pair("role-removed", {"role-removed"}, roles("admin"), old=roles("admin", "owner")),
    pair("rate-limit-lowered", {"rate-limit-lowered"}, rate_limit(50), old=rate_limit(100)),
    pair("latency-budget-raised", {"latency-budget-raised"}, budget(500), old=budget(200)),
    pair("auth-flow-moved", {"auth-flow-moved"}, auth_flow("/access_token"),
         old=auth_flow("/token")),
    pair("operation-id-changed", {"operation-id-changed"},
         lambda d: op(d, "get").update({"operationId": "readFlag"})),
    pair("param-removed", {"param-removed"},
         lambda d: op(d, "get", "/flags")["parameters"].pop(1)),
    pair("request-property-removed", {"request-property-removed"},
         lambda d: schema(d, "NewFlag")["properties"].pop("tags")),
    pair("response-enum-value-added", {"response-enum-value-added"},
         lambda d: prop(d, "Flag", "state")["enum"].append("scheduled")),
    pair("response-optional-property-removed", {"response-optional-property-removed"},
         lambda d: schema(d, "Flag")["properties"].pop("owner")),
    pair("operation-added", {"operation-added"},
         lambda d: d["paths"]["/flags/{id}"].update(
             {"patch": {"responses": {"200": json_answer(ref("Flag"), "changed")}}})),
    pair("operation-deprecated", {"operation-deprecated"},
         lambda d: op(d, "get").update({"deprecated": True})),
    pair("param-optional-added", {"param-optional-added"},
         lambda d: op(d, "get", "/flags")["parameters"].append(
             {"name": "q", "in": "query", "schema": {"type": "string"}})),
    pair("request-property-optional-added", {"request-property-optional-added"},
         lambda d: schema(d, "NewFlag")["properties"].update({"note": {"type": "string"}})),
    pair("request-constraint-relaxed", {"request-constraint-relaxed"},
         lambda d: prop(d, "NewFlag", "rollout").update({"maximum": 200})),
    pair("response-property-added", {"response-property-added"},
         lambda d: schema(d, "Flag")["properties"].update({"createdAt": {"type": "string"}})),
    pair("response-status-added", {"response-status-added"},
         lambda d: op(d, "get")["responses"].update({"410": {"description": "retired"}})),
    pair("security-removed", {"security-removed"},
         lambda d: op(d, "delete").update({"security": []})),
    pair("rate-limit-raised", {"rate-limit-raised"}, rate_limit(200), old=rate_limit(100)),
    pair("latency-budget-lowered", {"latency-budget-lowered"}, budget(100), old=budget(200)),
    pair("role-added", {"role-added"}, roles("admin", "owner"), old=roles("admin")),
]  # fmt: skip

#: rules no static pair can show: `test_replay.py` shows each on a running backend
REPLAYED = {"old-client-broken"}


def specs(data: dict[str, Any], old: Mutation, new: Mutation) -> tuple[Any, Any]:
    before, after = copy.deepcopy(data), copy.deepcopy(data)
    old(before)
    old(after)
    new(after)
    return read(before, "old.json"), read(after, "new.json")


def read(data: dict[str, Any], name: str) -> Any:
    return read_spec(parse_document(Path(name), json.dumps(data)))


@pytest.mark.parametrize("case", PAIRS)
def test_pairs_each_gives_exactly_its_changes(case: Pair) -> None:
    old, new = specs(flags(), case.old, case.new)
    assert not old.declaration_problems
    assert not new.declaration_problems
    found = diff(old, new, TODAY)
    assert {c.rule for c in found} == case.rules, [
        (c.rule, c.pointer, c.explanation) for c in found
    ]
    for c in found:
        assert c.pointer.startswith("/"), c
        assert c.change_class is class_of(c.rule)
        assert c.explanation


def test_pairs_cover_every_diff_rule_of_the_catalogue() -> None:
    listed = set(catalogue.ids(catalogue.Kind.DIFF))
    assert set(RULES) == listed  # every row is reported by some module, and nothing else is
    paired = {rule for case in PAIRS for rule in case.values[0].rules} | REPLAYED
    assert sorted(listed - paired) == []


def test_pairs_classes_follow_the_catalogue_rows() -> None:
    for rule_id in RULES:
        entry = catalogue.rule(rule_id)
        assert entry.category == "Spec change"
        kind = class_of(rule_id)
        assert entry.warning == (kind is not ChangeClass.BREAKING), rule_id
        assert (
            entry.severity.value
            == {"breaking": "critical", "warning": "minor", "info": "trivial"}[kind]
        )


def test_pairs_a_rule_the_catalogue_does_not_list_is_refused() -> None:
    for wrong in ("operation-gone", "no_leaks", "CT101"):
        with pytest.raises(ValueError, match=f"'{wrong}' is not a diff rule"):
            change(wrong)


def test_pairs_a_removed_operation_points_at_the_old_spec_and_names_the_operation() -> None:
    old, new = specs(flags(), lambda d: None, removed_delete)
    (found,) = diff(old, new, TODAY)
    assert (found.operation, found.operation_id) == ("DELETE /flags/{id}", "deleteFlag")
    assert found.pointer == "/paths/~1flags~1{id}/delete"
    assert found.change_class is ChangeClass.BREAKING


# --- changes in form only -------------------------------------------------------------------


def renamed_component(data: dict[str, Any]) -> None:
    schemas = data["components"]["schemas"]
    schemas["FeatureFlag"] = schemas.pop("Flag")
    text = json.dumps(data).replace(
        '#/components/schemas/Flag"', '#/components/schemas/FeatureFlag"'
    )
    data.clear()
    data.update(json.loads(text))


def renamed_path_parameter(data: dict[str, Any]) -> None:
    item = data["paths"].pop("/flags/{id}")
    item["parameters"][0]["name"] = "flagId"
    data["paths"]["/flags/{flagId}"] = item


def renamed_scheme(data: dict[str, Any]) -> None:
    schemes = data["components"]["securitySchemes"]
    schemes["oauth2"] = schemes.pop("oauth")
    op(data, "delete")["security"] = [{"oauth2": ["flags:write"]}]


def split_into_all_of(data: dict[str, Any]) -> None:
    flag = schema(data, "Flag")
    data["components"]["schemas"]["Named"] = {
        "type": "object", "required": ["id", "name"],
        "properties": {"id": flag["properties"]["id"], "name": flag["properties"]["name"]},
    }  # fmt: skip
    data["components"]["schemas"]["Flag"] = {
        "allOf": [
            ref("Named"),
            {
                "type": "object",
                "required": ["state"],
                "properties": {
                    k: v for k, v in flag["properties"].items() if k not in ("id", "name")
                },
            },
        ]
    }


def recursive(data: dict[str, Any]) -> None:
    prop_ = {"type": "array", "items": ref("Flag")}
    schema(data, "Flag")["properties"]["children"] = prop_


@pytest.mark.parametrize(
    "mutate",
    [renamed_component, renamed_path_parameter, renamed_scheme, split_into_all_of, recursive],
)
def test_pairs_a_change_of_form_only_is_no_change(mutate: Mutation) -> None:
    base = flags()
    if mutate is not recursive:
        recursive(base)  # and through a recursive schema
    old, new = specs(base, lambda d: None, mutate if mutate is not recursive else lambda d: None)
    assert diff(old, new, TODAY) == []


def test_pairs_a_recursive_schema_renamed_and_changed_deep_down() -> None:
    base = flags()
    recursive(base)

    def mutate(data: dict[str, Any]) -> None:
        renamed_component(data)
        prop(data, "FeatureFlag", "state")["enum"].append("scheduled")

    old, new = specs(base, lambda d: None, mutate)
    found = {(c.rule, c.pointer) for c in diff(old, new, TODAY)}
    # once per operation answering a flag, at the flag's own level, not again down the recursion
    assert {rule for rule, _ in found} == {"response-enum-value-added"}
    assert ("response-enum-value-added",
            "/paths/~1flags~1{id}/get/responses/200/content/application~1json/schema/properties"
            "/state/enum") in found  # fmt: skip


def test_pairs_all_of_a_member_removed_from_a_part() -> None:
    base = flags()
    split_into_all_of(base)
    old, new = specs(base, lambda d: None, lambda d: (
        schema(d, "Named")["properties"].pop("name"), schema(d, "Named")["required"].remove("name")
    ))  # fmt: skip
    assert {c.rule for c in diff(old, new, TODAY)} == {"response-property-removed"}


def one_of(*names: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        shapes = {
            "Percent": {"type": "object", "required": ["percent"],
                        "properties": {"percent": {"type": "integer"}}},
            "Users": {"type": "object", "required": ["users"],
                      "properties": {"users": {"type": "array", "items": {"type": "string"}}}},
            "Teams": {"type": "object", "required": ["teams"],
                      "properties": {"teams": {"type": "array", "items": {"type": "string"}}}},
        }  # fmt: skip
        data["components"]["schemas"].update(shapes)
        target = {"oneOf": [ref(name) for name in names]}
        schema(data, "Flag")["properties"]["target"] = target
        schema(data, "NewFlag")["properties"]["target"] = target

    return mutate


def test_pairs_one_of_compared_as_a_set_of_branches() -> None:
    base = flags()
    # the same branches in another order: no change
    old, new = specs(base, one_of("Percent", "Users"), one_of("Users", "Percent"))
    assert diff(old, new, TODAY) == []
    # a branch more: answers an old client cannot read, requests the new spec accepts besides
    old, new = specs(base, one_of("Percent", "Users"), one_of("Percent", "Users", "Teams"))
    assert {(c.rule, c.operation) for c in diff(old, new, TODAY)} == {
        ("response-type-changed", "GET /flags"),
        ("response-type-changed", "POST /flags"),
        ("response-type-changed", "GET /flags/{id}"),
        ("request-constraint-relaxed", "POST /flags"),
    }
    # a branch fewer: requests an old client sends are refused
    old, new = specs(base, one_of("Percent", "Users", "Teams"), one_of("Percent", "Users"))
    assert {c.rule for c in diff(old, new, TODAY)} == {"request-type-narrowed"}


def test_pairs_one_of_a_branch_changed_in_place_is_compared_inside() -> None:
    def tighter(data: dict[str, Any]) -> None:
        one_of("Percent", "Users")(data)
        schema(data, "Percent")["properties"]["percent"]["maximum"] = 100

    old, new = specs(flags(), one_of("Percent", "Users"), tighter)
    (found,) = diff(old, new, TODAY)
    assert found.rule == "request-maximum-lowered"
    assert found.pointer.endswith("/properties/target/oneOf/0/properties/percent/maximum")
