"""CT6xx rate limits (CONTRACT.md §6) and CT7xx the latency budget (§7)."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    RATE_LIMIT_HEADERS,
    declaration_findings,
    missing_header,
    missing_status,
    responses_without,
)


@rule("CT601")
def rate_limit_headers(ctx: LintContext) -> Iterator[Problem]:
    for operation, status, pointer, missing in responses_without(ctx, RATE_LIMIT_HEADERS):
        yield Problem(
            pointer,
            f"the {status} of {operation.label} does not declare {', '.join(missing)}",
            "declare every X-RateLimit-* header on every response",
        )


@rule("CT602")
def rate_limit_429(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        problem = missing_status(operation, "429", "can be over the limit like any operation")
        if problem:
            yield problem
        yield from missing_header(
            spec, operation, "429", "Retry-After", "declare the Retry-After header (seconds)"
        )


@rule("CT603")
def rate_limit_declared(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    yield from declaration_findings(spec, "x-rate-limit")
    if "x-rate-limit" not in spec.data:
        yield Problem(
            "",
            "the spec declares no x-rate-limit: the rate-limit scenarios cannot know the limit",
            "add x-rate-limit: {limit: 60, window_s: 60} at the root",
        )
    flow = spec.declarations.auth_flow
    login = spec.operation(flow.login.operation_id) if flow is not None else None
    limit = login.rate_limit if login is not None else None
    if login is not None and limit is not None and limit.key != "client-account":
        yield Problem(
            login.pointer,
            f"{login.label} is limited per principal, but a login has none yet",
            "declare x-rate-limit: {limit: 5, window_s: 60, key: client-account} on it",
        )


@rule("CT701")
def latency_budget(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    yield from declaration_findings(spec, "x-latency-budget-ms")
    if "x-latency-budget-ms" not in spec.data:
        yield Problem(
            "",
            "the spec declares no x-latency-budget-ms: no operation has a latency budget",
            "add x-latency-budget-ms: 200 at the root (an operation may declare its own)",
        )
