"""CT8xx: what every response carries (CONTRACT.md §8)."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.contract import join
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import responses_without


@rule("CT801")
def request_id(ctx: LintContext) -> Iterator[Problem]:
    for operation in ctx.operations():
        parameter = operation.parameter("X-Request-ID", "header")
        if parameter is None:
            yield Problem(
                join(operation.pointer, "parameters"),
                f"{operation.label} does not accept an X-Request-ID header",
                "add the optional header parameter X-Request-ID (at the path level serves all"
                " its operations)",
            )
        elif parameter.required:
            yield Problem(
                parameter.pointer,
                f"X-Request-ID is required on {operation.label}; clients need not send one",
                "set required: false",
            )
    for operation, status, pointer, _ in responses_without(ctx, ("X-Request-ID",)):
        yield Problem(
            pointer,
            f"the {status} of {operation.label} does not declare X-Request-ID",
            "declare the X-Request-ID header on every response",
        )


@rule("CT802")
def nosniff(ctx: LintContext) -> Iterator[Problem]:
    for operation, status, pointer, _ in responses_without(ctx, ("X-Content-Type-Options",)):
        yield Problem(
            pointer,
            f"the {status} of {operation.label} does not declare X-Content-Type-Options",
            "declare X-Content-Type-Options with const: nosniff on every response",
        )
