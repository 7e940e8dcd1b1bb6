"""CT3xx: pagination (CONTRACT.md §3)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract import join
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    PAGE_FIELDS,
    page_schema,
    types,
)

#: name -> (what it must be, the keywords its schema must have)
PAGE_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "page": ("an integer from 1 to 10000", {"type": "integer", "minimum": 1, "maximum": 10000}),
    "limit": (
        "an integer from 1 to 100, default 20",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    ),
    "search": ("a string", {"type": "string"}),
    "sortBy": ("a string", {"type": "string"}),
    "sortOrder": ("asc or desc", {"enum": ["asc", "desc"]}),
}


@rule("CT301")
def pagination_params(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        if page_schema(spec, operation) is None:
            continue
        for name, (meaning, keywords) in PAGE_PARAMETERS.items():
            parameter = operation.parameter(name, "query")
            if parameter is None:
                yield Problem(
                    join(operation.pointer, "parameters"),
                    f"{operation.label} answers a page but takes no `{name}` query parameter",
                    f"add the query parameter `{name}`: {meaning}",
                )
                continue
            schema: Any = spec.deref(parameter.schema)
            wrong = [
                key for key, value in keywords.items() if not _satisfies(spec, schema, key, value)
            ]
            if parameter.required:
                wrong.append("required")
            if wrong:
                yield Problem(
                    parameter.pointer,
                    f"`{name}` is not {meaning} (check {', '.join(wrong)})",
                    f"make `{name}` optional and {meaning}",
                )


def _satisfies(spec: Any, schema: Any, key: str, value: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if key == "type":
        return value in types(spec, schema)
    if key == "enum":
        return sorted(schema.get("enum") or []) == sorted(value)
    return bool(schema.get(key) == value)


_FIELD_TYPES = {
    "data": {"array"},
    "total": {"integer"},
    "page": {"integer"},
    "limit": {"integer"},
    "totalPages": {"integer"},
    "hasMore": {"boolean"},
    "nextPage": {"integer", "null"},
    "prevPage": {"integer", "null"},
}


@rule("CT302")
def pagination_shape(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    seen: set[int] = set()
    for operation in ctx.operations():
        found = page_schema(spec, operation)
        if found is None:
            continue
        schema, pointer = found
        if id(spec.deref(schema)) in seen:
            continue  # a shared page schema is reported once
        seen.add(id(spec.deref(schema)))
        name = spec.component_name(schema)
        where = join("/components/schemas", name) if name else pointer
        missing = [field for field in PAGE_FIELDS if field not in spec.required(schema)]
        if missing:
            yield Problem(
                where,
                f"the page answered by {operation.label} does not require {', '.join(missing)}",
                "require every PaginatedResponse field",
            )
        props = spec.properties(schema)
        for field, expected in _FIELD_TYPES.items():
            if field in props and types(spec, props[field]) != expected:
                yield Problem(
                    join(where, "properties", field) if name else where,
                    f"`{field}` of the page answered by {operation.label} is not"
                    f" {' or '.join(sorted(expected))}",
                    f"type: {sorted(expected) if len(expected) > 1 else next(iter(expected))}",
                )
