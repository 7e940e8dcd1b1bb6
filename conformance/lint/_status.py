"""CT2xx: the status codes of CONTRACT.md §2."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.contract import join, normalized_template
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    missing_status,
    referencing_properties,
)

FORBIDDEN_STATUSES = {
    "412": "If-Match is optional: a stale version is 409",
    "413": "an oversized body is 400",
    "415": "a wrong media type is 400",
    "422": "anything the schema rejects is 400",
    "428": "If-Match is optional: its absence means an unconditional change",
}


@rule("CT201")
def input_400(ctx: LintContext) -> Iterator[Problem]:
    for operation in ctx.operations():
        if operation.parameters or "requestBody" in operation.definition:
            problem = missing_status(operation, "400", "takes input")
            if problem:
                yield problem


@rule("CT202")
def not_found_404(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        problem = None
        if operation.path_parameters:
            names = ", ".join(p.name for p in operation.path_parameters)
            problem = missing_status(operation, "404", f"takes {names} in its path")
        else:
            request = spec.request_schema(operation)
            references = (
                list(referencing_properties(spec, request, into_batches=False))
                if request is not None
                else []
            )
            if references:
                where, target = references[0]
                problem = missing_status(
                    operation, "404", f"takes the id of a {target} (body {where})"
                )
        if problem:
            yield problem


@rule("CT203")
def forbidden_status(ctx: LintContext) -> Iterator[Problem]:
    for operation in ctx.operations():
        for status in operation.definition.get("responses") or {}:
            if str(status) in FORBIDDEN_STATUSES:
                yield Problem(
                    join(operation.pointer, "responses", status),
                    f"{operation.label} documents {status}: {FORBIDDEN_STATUSES[str(status)]}",
                    "remove it, and answer as the contract says",
                )


@rule("CT204")
def distinct_templates(ctx: LintContext) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for path in ctx.spec.data.get("paths") or {}:
        shape = normalized_template(str(path))
        if shape in first:
            yield Problem(
                join("/paths", path),
                f"{path} and {first[shape]} are the same path with other parameter names; a server"
                " cannot tell them apart",
                "use one template (one parameter name) for every operation on this path",
            )
        else:
            first[shape] = str(path)
