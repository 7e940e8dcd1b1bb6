"""CT5xx: optimistic concurrency and uniqueness (CONTRACT.md §5)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from conformance.contract import item_schema_name, join
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    changes_existing,
    declaration_findings,
    missing_status,
    single_resource_operations,
    success_responses,
    types,
)


@rule("CT501")
def version_field(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    reported: set[str] = set()
    for operation, name in single_resource_operations(ctx):
        if name in reported:
            continue
        reported.add(name)
        schema = spec.data["components"]["schemas"][name]
        where = join("/components/schemas", name)
        props = spec.properties(schema)
        if "version" not in props or "version" not in spec.required(schema):
            yield Problem(
                where,
                f"{name} can be changed ({operation.label}) but does not require `version`",
                "add a required `version: {type: integer, minimum: 1}`",
            )
        elif "integer" not in types(spec, props["version"]):
            yield Problem(
                join(where, "properties", "version"),
                f"`version` of {name} is not an integer",
                "type: integer, minimum: 1",
            )


@rule("CT502")
def etag_header(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation, name in single_resource_operations(ctx):
        for status, response, pointer in success_responses(spec, operation):
            if status != "204" and "etag" not in spec.response_headers(response):
                yield Problem(
                    pointer,
                    f"the {status} of {operation.label} carries a {name} but declares no ETag",
                    "declare ETag: '\"<version>\"'",
                )


@rule("CT503")
def if_match(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in changes_existing(ctx):
        header = operation.parameter("If-Match", "header")
        if header is None:
            yield Problem(
                join(operation.pointer, "parameters"),
                f"{operation.label} changes a resource but takes no If-Match header",
                "add the optional header parameter If-Match",
            )
        elif header.required:
            yield Problem(
                header.pointer,
                f"If-Match is required on {operation.label}; the contract makes it optional"
                " (never 428)",
                "set required: false",
            )
        if operation.method not in ("put", "patch"):
            continue
        body = spec.request_schema(operation)
        if body is None:
            continue
        props = spec.properties(body)
        if "version" not in props:
            yield Problem(
                join(operation.pointer, "requestBody"),
                f"the body of {operation.label} has no `version` to make the change conditional",
                "add an optional `version: {type: integer, minimum: 1}`",
            )
        elif "version" in spec.required(body):
            yield Problem(
                join(operation.pointer, "requestBody"),
                f"the body of {operation.label} requires `version`; the contract makes it optional",
                "drop `version` from `required`",
            )
        elif "integer" not in types(spec, props["version"]):
            yield Problem(
                join(operation.pointer, "requestBody"),
                f"`version` in the body of {operation.label} is not an integer",
                "type: integer, minimum: 1",
            )


def _unique_keys(ctx: LintContext, name: str | None) -> list[object]:
    if name is None:
        return []
    schema = ctx.spec.deref(ctx.spec.data.get("components", {}).get("schemas", {}).get(name))
    keys = schema.get("x-unique") if isinstance(schema, Mapping) else None
    return list(keys) if isinstance(keys, list) else []


@rule("CT504")
def conflict_409(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in changes_existing(ctx):
        problem = missing_status(operation, "409", "changes a resource (a stale version is 409)")
        if problem:
            yield problem
    for resource in ctx.resources:
        create = resource.create
        if create is None:
            continue
        unique = _unique_keys(ctx, resource.schema_name or item_schema_name(spec, create))
        problem = missing_status(
            create, "409", f"creates a {resource.schema_name} whose {unique} must be unique"
        )
        if unique and problem:
            yield problem


@rule("CT505")
def resource_declarations(ctx: LintContext) -> Iterator[Problem]:
    yield from declaration_findings(
        ctx.spec, "x-unique", "x-owner", "x-references", "x-transitions"
    )
