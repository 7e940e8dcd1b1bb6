"""The auth flow, read off a spec without declarations: which operations log in, refresh, log
out and say who is logged in, where their tokens are, how the suite makes throwaway accounts,
and which roles the accounts take (``x-auth-flow``, the root ``x-roles``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.contract import Operation, Resource, Spec, resources
from conformance.drafting._model import Gap
from conformance.drafting._reading import (
    components,
    find,
    last_segment,
    parent_path,
    segments,
    types,
)
from conformance.drafting._words import (
    ACCESS_TOKENS,
    LIFETIMES,
    LOGIN,
    LOGOUT,
    PASSWORDS,
    REFRESH,
    REFRESH_FIELDS,
    REFRESH_TOKENS,
    REGISTER,
    ROLE_FIELDS,
    USERNAMES,
    VERIFY,
    folded,
    privilege,
)

STRINGS = {"string"}
NUMBERS = {"integer", "number"}


@dataclass(frozen=True, slots=True)
class Tokens:
    """Where an auth answer holds its tokens (JSON pointers into the 2xx body)."""

    access_token: str | None
    refresh_token: str | None
    expires_in: str | None

    @classmethod
    def of(cls, spec: Spec, operation: Operation) -> Tokens:
        answer = spec.success_schema(operation)
        return cls(
            find(spec, answer, ACCESS_TOKENS, STRINGS),
            find(spec, answer, REFRESH_TOKENS, STRINGS),
            find(spec, answer, LIFETIMES, NUMBERS),
        )

    def declared(self) -> dict[str, str]:
        found = {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
        }
        return {name: pointer for name, pointer in found.items() if pointer is not None}

    def said(self) -> str:
        found = [
            f"{name.replace('_', ' ')} at {pointer}" for name, pointer in self.declared().items()
        ]
        return ", ".join(found) or "no token"


@dataclass
class AuthReading:
    """What the spec says of its auth: the drafted ``x-auth-flow`` (None when no login was
    found), the operations and the account's kind it was read from, and why."""

    flow: dict[str, Any] | None = None
    why: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    login: Operation | None = None
    #: the resource accounts are made and removed through
    accounts: Resource | None = None
    #: the component schema of an account
    account_kind: str | None = None


def read_auth(spec: Spec) -> AuthReading:
    """The auth flow as far as the spec shows it."""
    reading = AuthReading()
    login = _login(spec)
    reading.accounts = _accounts_resource(spec)
    reading.account_kind = _account_kind(spec, login, reading.accounts)
    if login is None:
        reading.gaps.append(Gap("x-auth-flow", _no_login(spec)))
        return reading
    reading.login = login
    flow: dict[str, Any] = {"scheme": _scheme(spec), "login": _login_step(spec, login)}
    reading.why.append(
        f"login: {login.label} ({login.operation_id}) takes"
        f" {flow['login'].get('username')} and {flow['login'].get('password')} and answers"
        f" {Tokens.of(spec, login).said()}"
    )
    for name, step in (
        ("refresh", _refresh(spec, login, reading)),
        ("logout", _named(spec, login, LOGOUT, ("post", "delete"))),
        ("verify", _verify(spec, login)),
    ):
        if isinstance(step, Operation):
            flow[name] = {"operation": step.operation_id}
            reading.why.append(f"{name}: {step.label} ({step.operation_id})")
        elif isinstance(step, dict):
            flow[name] = step
    accounts = _accounts_step(spec, reading.accounts, flow["login"])
    if accounts is not None:
        flow["accounts"] = accounts
        reading.why.append(
            f"accounts: {accounts['operation']} takes {accounts['username']} and"
            f" {accounts['password']}, {accounts['delete']} removes the account again"
        )
    else:
        reading.gaps.append(
            Gap(
                "x-auth-flow",
                "x-auth-flow accounts: no create operation takes a login name and a password"
                " with a DELETE beside it; without throwaway accounts the scenarios log in as"
                " the run's own account and skip what needs a second user",
            )
        )
    reading.flow = flow
    return reading


# -- login ---------------------------------------------------------------------------------------


def _no_login(spec: Spec) -> str:
    """Why no login is drafted, and how the run gets a session all the same."""
    said = (
        "x-auth-flow: no login found (a POST taking a login name and a password as JSON whose"
        " answer holds an access token), so the scenarios that log in are skipped"
    )
    for scheme in spec.security_schemes.values():
        for flow in scheme.flows:
            if flow.kind in ("password", "clientCredentials"):
                return (
                    f"{said}; the run logs in through the {flow.kind} flow of the oauth2 scheme"
                    f" {scheme.name} (its token URL) with the API's credentials"
                )
    return f"{said}; give the run a token (CONFORMANCE_<API>_TOKEN), or declare x-auth-flow"


def _login(spec: Spec) -> Operation | None:
    """The POST that takes a login name and a password and answers an access token; by its path
    and operationId where several do (a registration may answer tokens too)."""
    scored = []
    for operation in spec.operations:
        if operation.method != "post" or operation.operation_id is None:
            continue
        request = spec.request_schema(operation)
        if find(spec, request, PASSWORDS, STRINGS, 2) is None:
            continue
        if Tokens.of(spec, operation).access_token is None:
            continue
        words = (folded(last_segment(operation)), folded(operation.operation_id))
        if any(REFRESH.search(word) for word in words):
            continue
        score = 2 * any(LOGIN.match(word) for word in words) + (not operation.needs_credentials)
        score -= 3 * any(REGISTER.search(word) for word in words)
        scored.append((score, operation))
    if not scored:
        return None
    return max(scored, key=lambda pair: pair[0])[1]


def _login_step(spec: Spec, login: Operation) -> dict[str, Any]:
    request = spec.request_schema(login)
    step: dict[str, Any] = {
        "operation": login.operation_id,
        "username": find(spec, request, USERNAMES, STRINGS, 2),
        "password": find(spec, request, PASSWORDS, STRINGS, 2),
        **Tokens.of(spec, login).declared(),
    }
    return {name: value for name, value in step.items() if value is not None}


def _scheme(spec: Spec) -> str:
    """The security scheme most operations that need credentials name; an http bearer one
    first (what access tokens are sent with)."""
    schemes = components(spec, "securitySchemes")
    used: Counter[str] = Counter()
    for operation in spec.operations:
        for requirement in operation.security:
            used.update(str(name) for name in requirement)
    for name, _ in used.most_common():
        scheme = spec.deref(schemes.get(name))
        if isinstance(scheme, Mapping) and _is_bearer(scheme):
            return name
    if used:
        return used.most_common(1)[0][0]
    return next(iter(schemes), "bearerAuth")


def _is_bearer(scheme: Mapping[str, Any]) -> bool:
    return scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"


# -- refresh, logout, verify ---------------------------------------------------------------------


def _refresh(spec: Spec, login: Operation, reading: AuthReading) -> dict[str, Any] | None:
    """The refresh step: a POST named for refreshing that answers an access token; the token
    goes in its body where the body has a member for it, else as the bearer."""
    found = [
        operation
        for operation in spec.operations
        if operation.method == "post"
        and operation.operation_id is not None
        and any(REFRESH.search(folded(word)) for word in (operation.path, operation.operation_id))
        and Tokens.of(spec, operation).access_token is not None
    ]
    if not found:
        reading.gaps.append(
            Gap(
                "x-auth-flow",
                "x-auth-flow refresh: no POST named for refreshing answers an access token;"
                " the auth_refresh scenario is skipped without one",
            )
        )
        return None
    operation = _nearest(found, login)
    tokens = Tokens.of(spec, operation)
    step: dict[str, Any] = {"operation": operation.operation_id}
    field_pointer = find(spec, spec.request_schema(operation), REFRESH_FIELDS, STRINGS, 2)
    if field_pointer is not None:
        step.update(token_in="body", token_field=field_pointer)
        where = f"in the body at {field_pointer}"
    elif operation.needs_credentials:
        step["token_in"] = "bearer"
        where = "as the bearer (its body has no member for it and it asks for credentials)"
    else:
        reading.gaps.append(
            Gap(
                "x-auth-flow",
                f"x-auth-flow refresh: {operation.operation_id} takes no body member for the"
                " refresh token and asks for no credentials: say where the token goes"
                " (token_in: body with token_field, or bearer)",
            )
        )
        return None
    step.update(tokens.declared())
    reading.why.append(
        f"refresh: {operation.label} ({operation.operation_id}) takes the refresh token {where}"
        f" and answers {tokens.said()}"
    )
    return step


def _named(
    spec: Spec, login: Operation, pattern: re.Pattern[str], methods: tuple[str, ...]
) -> Operation | None:
    found = [
        operation
        for operation in spec.operations
        if operation.method in methods
        and operation.operation_id is not None
        and any(pattern.match(folded(word)) for word in _words(operation))
    ]
    return _nearest(found, login) if found else None


def _verify(spec: Spec, login: Operation) -> Operation | None:
    """A read of the session's own principal that needs credentials and nothing else."""
    found = [
        operation
        for operation in spec.operations
        if operation.method == "get"
        and operation.operation_id is not None
        and operation.needs_credentials
        and not operation.required_parameters
        and any(VERIFY.match(folded(word)) for word in _words(operation))
    ]
    return _nearest(found, login) if found else None


def _words(operation: Operation) -> tuple[str, str]:
    """What names an operation: its path's last static segment and its operationId."""
    return last_segment(operation), operation.operation_id or ""


def _nearest(found: list[Operation], login: Operation) -> Operation:
    """The one beside the login (``/auth/me`` before ``/users/me``), else the shortest path."""
    return min(
        found,
        key=lambda operation: (
            parent_path(operation) != parent_path(login),
            len(segments(operation)),
            operation.path,
        ),
    )


# -- throwaway accounts and roles ----------------------------------------------------------------


def _accounts_resource(spec: Spec) -> Resource | None:
    """The resource whose create takes a login name and a password and that can be deleted."""
    for resource in resources(spec):
        if resource.create is None or resource.delete is None:
            continue
        request = spec.request_schema(resource.create)
        if find(spec, request, USERNAMES, STRINGS, 1) and find(
            spec, request, PASSWORDS, STRINGS, 1
        ):
            return resource
    return None


def _account_kind(spec: Spec, login: Operation | None, accounts: Resource | None) -> str | None:
    """The component schema of an account: the accounts resource's, else the ``user`` the
    login answers, else a schema named User, UserProfile, Account or Member."""
    if accounts is not None and accounts.schema_name:
        return accounts.schema_name
    if login is not None:
        answer = spec.success_schema(login)
        pointer = find(spec, answer, ("user", "account", "profile"), {"object"}, 3)
        if pointer is not None:
            named = spec.component_name(spec.schema_at(answer, pointer))
            if named:
                return named
    for name in ("User", "UserProfile", "Account", "Member"):
        if spec.component(name) is not None:
            return name
    return None


def _accounts_step(
    spec: Spec, resource: Resource | None, login: Mapping[str, Any]
) -> dict[str, Any] | None:
    if resource is None or resource.create is None or resource.delete is None:
        return None
    create, delete = resource.create, resource.delete
    request = spec.request_schema(create)
    wanted = str(login.get("username", "/email")).rsplit("/", 1)[-1]
    username = find(spec, request, (folded(wanted), *USERNAMES), STRINGS, 1)
    password = find(spec, request, PASSWORDS, STRINGS, 1)
    answer = spec.success_schema(create)
    identifier = "/data/id" if create.wrapped else "/id"
    if username is None or password is None or spec.schema_at(answer, identifier) is None:
        return None
    step: dict[str, Any] = {
        "operation": create.operation_id,
        "username": username,
        "password": password,
    }
    role = find(spec, request, ROLE_FIELDS, STRINGS, 1)
    if role is not None:
        step["role"] = role
    step.update(id=identifier, delete=delete.operation_id)
    return step


def roles(spec: Spec, reading: AuthReading) -> tuple[list[str], str] | None:
    """The roles the spec lists as the enum of an account's role (least privileged first), and
    where they were read; None where it lists none."""
    kind = reading.account_kind
    schema = spec.component(kind) if kind else None
    for name, sub in spec.properties(schema).items():
        if folded(name) not in (*ROLE_FIELDS, "roles"):
            continue
        resolved = spec.deref(sub)
        if "array" in types(spec, resolved):
            resolved = spec.deref(resolved.get("items"))
        values = resolved.get("enum") if isinstance(resolved, dict) else None
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            ordered = sorted(values, key=lambda role: (privilege(role), values.index(role)))
            return ordered, f"{kind}.{name}"
    return None
