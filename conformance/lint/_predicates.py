"""Small questions several rules ask of a spec."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract import Operation, Spec, item_schema_name, join
from conformance.lint._model import LintContext, Problem

#: The members of a PaginatedResponse (CONTRACT.md §1, §3).
PAGE_FIELDS = ("data", "total", "page", "limit", "totalPages", "hasMore", "nextPage", "prevPage")
#: Methods that change what the request names.
CHANGE_METHODS = ("put", "patch", "delete", "post")
#: Headers every response carries (CONTRACT.md §6, §8).
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


#: The error response component of the bundled specs for each status, named in fixes.
ERROR_COMPONENTS = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "429": "TooManyRequests",
}


def missing_status(operation: Operation, status: str, because: str) -> Problem | None:
    """A problem if the operation does not document ``status``.

    ``because`` says why it must: "takes input" gives "GET /a takes input but documents no 400".
    """
    if documents(operation, status):
        return None
    return Problem(
        join(operation.pointer, "responses"),
        f"{operation.label} {because} but documents no {status}",
        f"document {status} with an ErrorResponse body, e.g."
        f" '{status}': {{$ref: '#/components/responses/{ERROR_COMPONENTS[status]}'}}",
    )


def missing_header(
    spec: Spec, operation: Operation, status: str, header: str, fix: str
) -> Iterator[Problem]:
    """A problem for each documented ``status`` response of the operation without ``header``."""
    for found, response, pointer in spec.responses(operation):
        if found == status and header.lower() not in spec.response_headers(response):
            yield Problem(
                pointer, f"the {status} of {operation.label} does not declare {header}", fix
            )


def responses_without(
    ctx: LintContext, headers: tuple[str, ...]
) -> Iterator[tuple[Operation, str, str, list[str]]]:
    """``(operation, status, pointer, missing)`` for each response lacking some of ``headers``."""
    for operation, status, response, pointer in all_responses(ctx):
        declared = ctx.spec.response_headers(response)
        missing = [name for name in headers if name.lower() not in declared]
        if missing:
            yield operation, status, pointer, missing


def declaration_findings(spec: Spec, *extensions: str) -> Iterator[Problem]:
    """The spec's problems with the given ``x-`` declarations, as the rule's problems.

    Findings on any spec: the reference backend and the suite refuse a malformed declaration.
    """
    for problem in spec.declaration_problems:
        if problem.extension in extensions:
            yield Problem(problem.pointer, problem.message, problem.fix, unsound=True)


def documents(operation: Operation, status: str) -> bool:
    """Whether the operation documents ``status`` ("404"), exactly or by range ("4XX")."""
    responses = operation.definition.get("responses") or {}
    keys = {str(key).upper() for key in responses}
    return status in keys or f"{status[0]}XX" in keys


def all_responses(ctx: LintContext) -> Iterator[tuple[Operation, str, Mapping[str, Any], str]]:
    for operation in ctx.operations():
        for status, response, pointer in ctx.spec.responses(operation):
            yield operation, status, response, pointer


def success_responses(
    spec: Spec, operation: Operation
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    for status, response, pointer in spec.responses(operation):
        if status.startswith("2"):
            yield status, response, pointer


def types(spec: Spec, schema: Any) -> set[str]:
    """The JSON types a schema allows by its ``type`` (3.1 lists, 3.0 ``nullable``)."""
    schema = spec.deref(schema)
    if not isinstance(schema, Mapping):
        return set()
    declared = schema.get("type")
    found = {declared} if isinstance(declared, str) else set(declared or [])
    if schema.get("nullable") is True:
        found.add("null")
    if "const" in schema and not found:
        found.add(_json_type(schema["const"]))
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "")


def is_page(spec: Spec, schema: Any) -> bool:
    """Whether a schema is shaped like a PaginatedResponse: a ``data`` array and page counters."""
    props = spec.properties(schema)
    if "data" not in props or "array" not in types(spec, props["data"]):
        return False
    return sum(name in props for name in PAGE_FIELDS[1:]) >= 3


def page_schema(spec: Spec, operation: Operation) -> tuple[Any, str] | None:
    """The PaginatedResponse an operation answers (inside its ApiResponse if it has one)."""
    for _, response, pointer in success_responses(spec, operation):
        schema = spec.json_schema(response)
        if schema is None:
            continue
        if is_page(spec, schema):
            return schema, pointer
        data = spec.properties(schema).get("data")
        if data is not None and is_page(spec, data):
            return data, pointer
    return None


def changes_existing(ctx: LintContext) -> Iterator[Operation]:
    """Operations that change or delete a resource that already exists, each once.

    The update and delete of every resource, its actions that are not reads, and the update of
    every singleton.
    """
    seen: set[str] = set()
    candidates: list[Operation | None] = []
    for resource in ctx.resources:
        candidates += [resource.update, resource.delete]
        candidates += [a for a in resource.actions if a.method in CHANGE_METHODS]
    candidates += [singleton.update for singleton in ctx.singletons]
    for operation in candidates:
        if operation is not None and operation.pointer not in seen:
            seen.add(operation.pointer)
            yield operation


def single_resource_operations(ctx: LintContext) -> Iterator[tuple[Operation, str]]:
    """Operations whose 2xx body is one mutable resource, with that resource's schema name."""
    spec = ctx.spec
    for resource in ctx.resources:
        if not resource.mutable or resource.schema_name is None:
            continue
        for operation in (resource.create, *resource.item_operations, *resource.actions):
            if operation is not None and item_schema_name(spec, operation) == resource.schema_name:
                yield operation, resource.schema_name
    for singleton in ctx.singletons:
        name = item_schema_name(spec, singleton.get)
        if name is not None:
            for operation in (singleton.get, singleton.update):
                yield operation, name


def is_error_schema(spec: Spec, schema: Any, depth: int = 0) -> bool:
    """Whether a schema is the ErrorResponse: a ``$ref`` to it, or an ``allOf`` that holds one."""
    if depth > 20 or not isinstance(schema, Mapping):
        return False
    if spec.component_name(schema) == "ErrorResponse":
        return True
    if "$ref" in schema:
        return is_error_schema(spec, spec.deref(schema), depth + 1)
    return any(is_error_schema(spec, part, depth + 1) for part in schema.get("allOf", []) or [])


def pinned(spec: Spec, schema: Any, prop: str, depth: int = 0) -> Any | None:
    """The ``const`` a schema (or a part of its ``allOf``) pins ``prop`` to, if any."""
    schema = spec.deref(schema)
    if depth > 20 or not isinstance(schema, Mapping):
        return None
    props = schema.get("properties")
    member = props.get(prop) if isinstance(props, Mapping) else None
    if isinstance(member, Mapping) and "const" in member:
        return member["const"]
    for part in schema.get("allOf", []) or []:
        found = pinned(spec, part, prop, depth + 1)
        if found is not None:
            return found
    return None


def referencing_properties(
    spec: Spec, schema: Any, *, into_batches: bool = True
) -> Iterator[tuple[str, str]]:
    """``(body pointer, referenced schema)`` for each property declaring ``x-references``.

    Follows nested objects and array items (``/operations/0/id``), each schema once. With
    ``into_batches=False`` it does not enter arrays of objects: each element of such an array is
    a unit of its own (a bulk operation reports an unknown id per item, not as a 404).
    """
    seen: set[int] = set()

    def walk(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
        node = spec.deref(node)
        if not isinstance(node, Mapping) or id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node.get("x-references"), str):
            yield pointer, node["x-references"]
        for name, prop in spec.properties(node).items():
            yield from walk(prop, join(pointer, name))
        items = node.get("items")
        if isinstance(items, Mapping) and (
            into_batches or ("object" not in types(spec, items) and not spec.properties(items))
        ):
            yield from walk(items, join(pointer, 0))

    yield from walk(schema, "")
