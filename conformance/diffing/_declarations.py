"""The changes of the contract's own declarations: ``x-rate-limit``, ``x-latency-budget-ms``,
``x-roles`` and ``x-auth-flow``.

A root declaration's change is reported once, at the root; an operation's own declaration (one
that overrides the root's) where the operation declares it on either side, as the effective
value it gives that operation.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.contract import Operation, RateLimitPolicy, Spec, TokenStep, join
from conformance.diffing._model import (
    ROOT,
    Change,
    Pair,
    Where,
    at,
    change,
    operation_comparison,
    root_comparison,
)

RATE_LIMIT_LOWERED = change("rate-limit-lowered")
RATE_LIMIT_RAISED = change("rate-limit-raised")
LATENCY_BUDGET_RAISED = change("latency-budget-raised")
LATENCY_BUDGET_LOWERED = change("latency-budget-lowered")
ROLE_REMOVED = change("role-removed")
ROLE_ADDED = change("role-added")
AUTH_FLOW_MOVED = change("auth-flow-moved")


# --- x-rate-limit -------------------------------------------------------------------------------


def _rates(policy: RateLimitPolicy | None) -> dict[str, tuple[int, int]]:
    """Who -> (limit, window in seconds): the default (``*``) and each role's own."""
    if policy is None:
        return {}
    found = {"*": (policy.limit.limit, policy.limit.window_s)}
    for role, limit in (policy.roles or {}).items():
        found[role] = (limit.limit, limit.window_s)
    return found


def _rate_changes(
    old: RateLimitPolicy | None, new: RateLimitPolicy | None, pointer: str, where: Where = ROOT
) -> Iterator[Change]:
    before, after = _rates(old), _rates(new)
    for who, now in after.items():
        was = before.get(who, before.get("*"))
        if was is None or was == now:
            continue
        per = "by default" if who == "*" else f"for {who}"
        says = f"{now[0]} per {now[1]} s {per} where it was {was[0]} per {was[1]} s"
        rule = RATE_LIMIT_LOWERED if now[0] / now[1] < was[0] / was[1] else RATE_LIMIT_RAISED
        yield Change(rule, pointer, says, old=list(was), new=list(now), **where)
    if not after and before:
        yield Change(RATE_LIMIT_RAISED, pointer, "no longer declared", **where)


@root_comparison
def root_rate_limit(pair: Pair) -> Iterator[Change]:
    yield from _rate_changes(
        pair.old.declarations.rate_limit, pair.new.declarations.rate_limit, "/x-rate-limit"
    )


@operation_comparison
def rate_limit(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    if "x-rate-limit" in old.definition or "x-rate-limit" in new.definition:
        yield from _rate_changes(
            old.rate_limit, new.rate_limit, join(new.pointer, "x-rate-limit"), at(new)
        )


# --- x-latency-budget-ms ------------------------------------------------------------------------


def _budget_changes(
    old: int | None, new: int | None, pointer: str, where: Where = ROOT
) -> Iterator[Change]:
    if old is None or new is None or old == new:
        return
    rule = LATENCY_BUDGET_RAISED if new > old else LATENCY_BUDGET_LOWERED
    says = f"{new} ms where it was {old} ms"
    yield Change(rule, pointer, says, old=old, new=new, **where)


@root_comparison
def root_latency_budget(pair: Pair) -> Iterator[Change]:
    yield from _budget_changes(
        pair.old.declarations.latency_budget_ms,
        pair.new.declarations.latency_budget_ms,
        "/x-latency-budget-ms",
    )


@operation_comparison
def latency_budget(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    key = "x-latency-budget-ms"
    if key in old.definition or key in new.definition:
        yield from _budget_changes(
            old.latency_budget_ms, new.latency_budget_ms, join(new.pointer, key), at(new)
        )


# --- x-roles ------------------------------------------------------------------------------------


@operation_comparison
def roles(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    """A role gone from an operation that was not public and is not now (a public operation
    lets every role in; a public one becoming secured is a security change)."""
    if not old.roles or not new.roles:
        return
    pointer = join(new.pointer, "x-roles")
    gone = [role for role in old.roles if role not in new.roles]
    added = [role for role in new.roles if role not in old.roles]
    if gone:
        yield Change(
            ROLE_REMOVED, pointer, f"no longer allows {', '.join(gone)}",
            old=list(old.roles), new=list(new.roles), **at(new),
        )  # fmt: skip
    if added:
        yield Change(
            ROLE_ADDED, pointer, f"also allows {', '.join(added)}",
            old=list(old.roles), new=list(new.roles), **at(new),
        )  # fmt: skip


# --- x-auth-flow --------------------------------------------------------------------------------


def _step_fields(spec: Spec, step: TokenStep) -> dict[str, str | None]:
    """A step's fields, its operation as the request a client makes (``POST /auth/login``):
    renaming an operationId moves nothing a client sends."""
    operation = spec.operation(step.operation_id)
    found: dict[str, str | None] = {
        "operation": operation.label if operation else step.operation_id
    }
    for name in ("access_token", "refresh_token", "expires_in", "username", "password"):
        found[name] = getattr(step, name, None)
    for name in ("token_in", "token_field"):
        if hasattr(step, name):
            found[name] = getattr(step, name)
    return found


@root_comparison
def auth_flow(pair: Pair) -> Iterator[Change]:
    old, new = pair.old.declarations.auth_flow, pair.new.declarations.auth_flow
    if old is None:
        return
    if new is None:
        yield Change(AUTH_FLOW_MOVED, "/x-auth-flow", "x-auth-flow is no longer declared")
        return
    if pair.old.security_schemes.get(old.scheme) != pair.new.security_schemes.get(new.scheme):
        yield Change(
            AUTH_FLOW_MOVED, "/x-auth-flow/scheme", f"the scheme is {new.scheme!r}, another kind",
            old=old.scheme, new=new.scheme,
        )  # fmt: skip
    before, after = old.steps, new.steps
    for name, step in before.items():
        if name not in after:
            yield Change(
                AUTH_FLOW_MOVED, join("/x-auth-flow", name), f"the {name} step is gone", old=name
            )
            continue
        was, now = _step_fields(pair.old, step), _step_fields(pair.new, after[name])
        for field, value in was.items():
            if now.get(field) != value:
                yield Change(
                    AUTH_FLOW_MOVED, join("/x-auth-flow", name, field),
                    f"{name} {field} is {now.get(field)!r} where it was {value!r}",
                    old=value, new=now.get(field),
                )  # fmt: skip
