"""CT1xx: the shapes of CONTRACT.md §1: envelopes, the ErrorResponse, empty 204s."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    all_responses,
    declaration_findings,
    is_error_schema,
    is_page,
    pinned,
    success_responses,
    types,
)

ERROR_FIELDS = ("error", "code", "message", "statusCode", "timestamp", "path", "requestId")
ERROR_CODES = (
    "VALIDATION_FAILED", "UNAUTHENTICATED", "TOKEN_EXPIRED", "FORBIDDEN", "NOT_FOUND",
    "VERSION_CONFLICT", "DUPLICATE", "RATE_LIMITED", "METHOD_NOT_ALLOWED", "INTERNAL",
)  # fmt: skip
ERROR_POINTER = "/components/schemas/ErrorResponse"


@rule("CT101")
def error_schema(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    schemas = spec.data.get("components", {}).get("schemas", {}) or {}
    if "ErrorResponse" not in schemas:
        yield Problem(
            "/components/schemas" if schemas else "",
            "there is no ErrorResponse schema",
            f"add components/schemas/ErrorResponse with {', '.join(ERROR_FIELDS)}",
        )
        return
    schema = spec.deref(schemas["ErrorResponse"])
    if not isinstance(schema, Mapping):
        return
    if schema.get("additionalProperties") is not False:
        yield Problem(
            ERROR_POINTER,
            "ErrorResponse is open: a backend may add `stack` or anything else to an error",
            "set additionalProperties: false",
        )
    missing = [name for name in ERROR_FIELDS if name not in spec.required(schema)]
    if missing:
        yield Problem(
            ERROR_POINTER,
            f"ErrorResponse does not require {', '.join(missing)}",
            "list them under `required`",
        )
    props = spec.properties(schema)
    if "stack" in props:
        yield Problem(
            f"{ERROR_POINTER}/properties/stack",
            "ErrorResponse declares `stack`: no error body may carry a stack trace",
            "remove the property",
        )
    if "statusCode" in props and "integer" not in types(spec, props["statusCode"]):
        yield Problem(
            f"{ERROR_POINTER}/properties/statusCode",
            "statusCode is not an integer",
            "type: integer (it equals the HTTP status)",
        )
    if "code" in props:
        code = spec.deref(props["code"])
        enum = code.get("enum") if isinstance(code, Mapping) else None
        absent = [c for c in ERROR_CODES if not isinstance(enum, list) or c not in enum]
        if absent:
            yield Problem(
                f"{ERROR_POINTER}/properties/code",
                f"code does not allow {', '.join(absent)}",
                "make `code` an enum holding every contract code",
            )


@rule("CT102")
def error_responses(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for _, status, response, pointer in all_responses(ctx):
        if not (status[0] in "45" or status == "default"):
            continue
        schema = spec.json_schema(response)
        if schema is None or not is_error_schema(spec, schema):
            yield Problem(
                pointer,
                f"the {status} response is not an application/json ErrorResponse",
                "give it content application/json with schema $ref ErrorResponse",
            )
            continue
        code = pinned(spec, schema, "statusCode")
        if code is not None and str(code) != status:
            yield Problem(
                pointer,
                f"the {status} response pins statusCode to {code}",
                f"pin statusCode to {status}, the HTTP status",
            )


@rule("CT103")
def success_envelope(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    yield from declaration_findings(spec, "x-envelope")
    for operation in ctx.operations():
        if not operation.enveloped:
            continue
        for status, response, pointer in success_responses(spec, operation):
            schema = spec.json_schema(response)
            if schema is None:
                continue
            if is_page(spec, schema):
                continue
            required = spec.required(schema)
            missing = [name for name in ("data", "timestamp") if name not in required]
            if missing:
                yield Problem(
                    pointer,
                    f"the {status} body of {operation.label} is not an ApiResponse (it does not"
                    f" require {', '.join(missing)})",
                    "wrap it as {data, message?, timestamp, requestId?}, or declare"
                    " x-envelope: none on the operation if clients read it bare",
                )


@rule("CT104")
def no_content(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        for status, response, pointer in success_responses(spec, operation):
            if operation.method == "delete" and status != "204":
                yield Problem(pointer, f"DELETE answers {status}", "answer 204 with no body")
            if status == "204" and response.get("content"):
                yield Problem(pointer, "a 204 response declares a body", "remove its content")
