"""CT4xx: authentication and authorisation (CONTRACT.md §4)."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.contract import join
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    declaration_findings,
    missing_header,
    missing_status,
    success_responses,
)


@rule("CT401")
def auth_401(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        if operation.is_public:
            continue
        problem = missing_status(operation, "401", "needs credentials")
        if problem:
            yield problem
        yield from missing_header(
            spec,
            operation,
            "401",
            "WWW-Authenticate",
            "declare the WWW-Authenticate header (Bearer, RFC 6750 section 3)",
        )


@rule("CT402")
def roles_declared(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    yield from declaration_findings(spec, "x-roles")
    if spec.declarations.roles is None and "x-roles" not in spec.data:
        yield Problem(
            "",
            "the spec does not list its roles (a root x-roles)",
            "add x-roles: [admin, manager, staff, service] (every role the API knows)",
        )
    for operation in ctx.operations():
        if operation.roles is None:
            if "x-roles" not in operation.definition:
                yield Problem(
                    operation.pointer,
                    f"{operation.label} does not say who may call it",
                    "add x-roles: the roles allowed, or [] if it is public",
                )
        elif operation.is_public and operation.roles:
            yield Problem(
                join(operation.pointer, "x-roles"),
                f"{operation.label} is public (security: []) but x-roles names roles",
                "use x-roles: [] for a public operation, or give it a security requirement",
            )
        elif not operation.is_public and not operation.roles:
            yield Problem(
                join(operation.pointer, "x-roles"),
                f"{operation.label} needs credentials but x-roles allows no role",
                "list the roles allowed to call it",
            )


@rule("CT403")
def roles_403(ctx: LintContext) -> Iterator[Problem]:
    every_role = set(ctx.spec.declarations.roles or ())
    for operation in ctx.operations():
        if not operation.roles or not every_role or set(operation.roles) >= every_role:
            continue
        problem = missing_status(operation, "403", f"allows only {', '.join(operation.roles)}")
        if problem:
            yield problem


@rule("CT404")
def auth_flow(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    yield from declaration_findings(spec, "x-auth-flow")
    if "x-auth-flow" not in spec.data:
        yield Problem(
            "",
            "the spec declares no x-auth-flow: the suite can only use a token from the"
            " environment, and skips the token refresh scenarios",
            "declare x-auth-flow if the API logs in (see README.md), or leave it out if its"
            " tokens come from elsewhere",
            note=True,
        )


@rule("CT405")
def token_no_store(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    flow = spec.declarations.auth_flow
    if flow is None:
        return
    for step in (flow.login, flow.refresh):
        operation = spec.operation(step.operation_id) if step is not None else None
        if operation is None:
            continue
        for status, response, pointer in success_responses(spec, operation):
            if "cache-control" not in spec.response_headers(response):
                yield Problem(
                    pointer,
                    f"the {status} of {operation.label} carries tokens but does not declare"
                    " Cache-Control",
                    "declare Cache-Control with a schema that requires no-store",
                )
