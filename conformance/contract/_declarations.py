"""The ``x-`` declarations a spec makes for the contract, their shapes, and their parsed form.

Root of the document:
    x-contract: strict    every rule of CONTRACT.md holds on every operation (the bundled specs);
                          without it a rule applies only where the spec declares what it checks
                          (``conformance.catalogue``)
    x-roles               every role the API knows (``[admin, manager, staff, service]``)
    x-auth-flow           which operations log in, refresh and log out, and where the tokens are
    x-rate-limit          the default limit, per-role limits, what the limit is keyed on
    x-latency-budget-ms   the default latency budget of an operation (p95, milliseconds)
Each operation:
    x-roles               the roles allowed to call it; ``[]`` for a public operation
    x-rate-limit          its own limit (login: ``{limit: 5, window_s: 60, key: client-account}``)
    x-latency-budget-ms   its own budget
    x-envelope: none      its 2xx body is not wrapped in ApiResponse (the seed reads it bare)
    x-exclude             ``true`` or the reason (``"resets the database"``): a run never calls
                          it (``include`` brings it back; `conformance.contract.exclusions`)
    x-paging              how a list pages where its names say nothing the suite can infer:
                          ``{style: page|offset|cursor, position: pg, size: n, items:
                          /payload/books, total: /payload/count, next: /meta/next}``
                          (parameters by name, the answer's members by JSON pointer)
A component schema:
    x-unique              properties (or groups of them) whose values must be unique: 409 DUPLICATE
    x-owner               the property holding the id of the user the resource is private to
                          (``{property: recipientId}``), optionally only ``while`` properties hold
                          listed values (``{property: authorId, while: {status: [draft]}}``);
                          another ``staff`` user gets 404 for it and does not see it in lists
A schema property:
    x-references          the component schema whose id the property holds: unknown id, 404
    x-transitions         on a status enum: the legal moves, ``{draft: [published, archived]}``;
                          any other change of the status is 409 INVALID_TRANSITION

A spec that makes none of the root declarations (``x-contract`` aside) is a third-party spec: the
rules that need them do not apply to it (the linter says so in notes, the suite skips what depends
on them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ROOT_DECLARATIONS = (
    "x-contract",
    "x-roles",
    "x-auth-flow",
    "x-rate-limit",
    "x-latency-budget-ms",
)

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,39}$"}
_POINTER = {"type": "string", "pattern": "^(/[^/]*)+$"}
_OPERATION = {"type": "string", "minLength": 1}
_LIMIT_PROPERTIES: dict[str, Any] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "window_s": {"type": "integer", "minimum": 1, "maximum": 86_400},
}
_LIMIT = {
    "type": "object",
    "required": ["limit", "window_s"],
    "additionalProperties": False,
    "properties": _LIMIT_PROPERTIES,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "x-contract": {"const": "strict"},
    "x-roles": {"type": "array", "items": _NAME, "uniqueItems": True},
    "x-latency-budget-ms": {"type": "integer", "minimum": 1, "maximum": 60_000},
    "x-rate-limit": {
        "type": "object",
        "required": ["limit", "window_s"],
        "additionalProperties": False,
        "properties": {
            **_LIMIT_PROPERTIES,
            "key": {"enum": ["principal", "client-account"]},
            "roles": {"type": "object", "propertyNames": _NAME, "additionalProperties": _LIMIT},
        },
    },
    "x-auth-flow": {
        "type": "object",
        "required": ["scheme", "login"],
        "additionalProperties": False,
        "properties": {
            "scheme": {"type": "string", "minLength": 1},
            "login": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "operation",
                    "username",
                    "password",
                    "access_token",
                    "refresh_token",
                    "expires_in",
                ],
                "properties": {
                    "operation": _OPERATION,
                    "username": _POINTER,
                    "password": _POINTER,
                    "access_token": _POINTER,
                    "refresh_token": _POINTER,
                    "expires_in": _POINTER,
                },
            },
            "refresh": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "operation",
                    "token_in",
                    "access_token",
                    "refresh_token",
                    "expires_in",
                ],
                "properties": {
                    "operation": _OPERATION,
                    "token_in": {"enum": ["body", "bearer"]},
                    "token_field": _POINTER,
                    "access_token": _POINTER,
                    "refresh_token": _POINTER,
                    "expires_in": _POINTER,
                },
                "if": {"properties": {"token_in": {"const": "body"}}},
                "then": {"required": ["token_field"]},
                "else": {"not": {"required": ["token_field"]}},
            },
            "logout": {
                "type": "object",
                "additionalProperties": False,
                "required": ["operation"],
                "properties": {"operation": _OPERATION},
            },
            "verify": {
                "type": "object",
                "additionalProperties": False,
                "required": ["operation"],
                "properties": {"operation": _OPERATION},
            },
            "accounts": {
                "type": "object",
                "additionalProperties": False,
                "required": ["operation", "username", "password", "id", "delete"],
                "properties": {
                    "operation": _OPERATION,
                    "username": _POINTER,
                    "password": _POINTER,
                    "role": _POINTER,
                    "id": _POINTER,
                    "delete": _OPERATION,
                },
            },
        },
    },
    "x-envelope": {"const": "none"},
    "x-paging": {
        "type": "object",
        "required": ["style", "position"],
        "additionalProperties": False,
        "properties": {
            "style": {"enum": ["page", "offset", "cursor"]},
            "position": {"type": "string", "minLength": 1},
            "size": {"type": "string", "minLength": 1},
            "items": _POINTER,
            "total": _POINTER,
            "next": _POINTER,
        },
    },
    "x-exclude": {"anyOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]},
    "x-unique": {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 2, "items": {"type": "string"}, "uniqueItems": True},
            ]
        },
    },
    "x-owner": {
        "type": "object",
        "required": ["property"],
        "additionalProperties": False,
        "properties": {
            "property": {"type": "string", "minLength": 1},
            "while": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "array", "minItems": 1},
            },
        },
    },
    "x-references": {"type": "string", "minLength": 1},
    "x-transitions": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    },
}


@dataclass(frozen=True, slots=True)
class DeclarationProblem:
    """One malformed or inconsistent declaration."""

    extension: str  #: e.g. "x-auth-flow"
    pointer: str  #: where in the document
    message: str
    fix: str


def shape_problems(extension: str, value: Any, pointer: str) -> list[DeclarationProblem]:
    """Problems with the shape of one declaration, each with the pointer of the bad part."""
    import jsonschema  # here: a spec without declarations never needs it (80 ms to import)

    validator = jsonschema.Draft202012Validator(SCHEMAS[extension])
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = pointer + "".join(
            "/" + str(token).replace("~", "~0").replace("/", "~1") for token in error.absolute_path
        )
        problems.append(
            DeclarationProblem(extension, where, f"{extension}: {error.message}", _fix(extension))
        )
    return problems


def _fix(extension: str) -> str:
    return {
        "x-contract": "the only value is `strict`; drop the key to apply each rule where declared",
        "x-roles": "list role names, lower case, e.g. [admin, staff]; [] for a public operation",
        "x-latency-budget-ms": "give a whole number of milliseconds between 1 and 60000",
        "x-rate-limit": "write {limit: N, window_s: SECONDS} (optional: key, roles)",
        "x-auth-flow": "see the x-auth-flow example in README.md",
        "x-envelope": "the only value is `none`; drop the key for an enveloped response",
        "x-exclude": 'write true, or the reason as a string ("resets the database")',
        "x-paging": "write {style: page|offset|cursor, position: PARAM} (optional: size, and"
        " items, total, next as JSON pointers into the answer)",
        "x-unique": "list property names, or lists of names that are unique together",
        "x-owner": "write {property: ownerId}, optionally with while: {status: [draft]}",
        "x-references": "name a schema under components/schemas",
        "x-transitions": "map each status to the list of statuses it may move to",
    }[extension]


@dataclass(frozen=True, slots=True)
class Ownership:
    """An ``x-owner`` declaration: whom a resource is private to (CONTRACT.md §4)."""

    #: the top-level property holding the id of the user the resource is private to
    property: str
    #: property -> the values in which the resource is private (empty: always private)
    while_: Mapping[str, tuple[Any, ...]]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Ownership:
        conditions = raw.get("while") or {}
        return cls(
            property=raw["property"],
            while_={str(name): tuple(values) for name, values in conditions.items()},
        )

    def owner(self, data: Mapping[str, Any]) -> str | None:
        """The user id ``data`` is private to, or None when it is shared (condition not met or
        property null)."""
        for name, values in self.while_.items():
            if data.get(name) not in values:
                return None
        owner = data.get(self.property)
        return None if owner is None else str(owner)


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    window_s: int


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """An ``x-rate-limit`` declaration: a default limit, per-role limits, and its key."""

    limit: RateLimit
    key: Literal["principal", "client-account"] = "principal"
    roles: Mapping[str, RateLimit] | None = None

    def for_role(self, role: str | None) -> RateLimit:
        if role is not None and self.roles and role in self.roles:
            return self.roles[role]
        return self.limit

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RateLimitPolicy:
        roles = raw.get("roles")
        return cls(
            limit=RateLimit(raw["limit"], raw["window_s"]),
            key=raw.get("key", "principal"),
            roles=(
                {name: RateLimit(r["limit"], r["window_s"]) for name, r in roles.items()}
                if roles
                else None
            ),
        )


@dataclass(frozen=True, slots=True)
class TokenStep:
    """One step of an auth flow: the operation, and JSON pointers into its bodies."""

    operation_id: str
    access_token: str | None = None
    refresh_token: str | None = None
    expires_in: str | None = None


@dataclass(frozen=True, slots=True)
class LoginStep(TokenStep):
    username: str = "/email"
    password: str = "/password"


@dataclass(frozen=True, slots=True)
class RefreshStep(TokenStep):
    #: "bearer": the refresh token goes where an access token does (as the flow's scheme
    #: presents one: ``Authorization: Bearer``, an apiKey header after its prefix …); "body": at
    #: ``token_field``.
    token_in: Literal["body", "bearer"] = "body"
    token_field: str | None = None


@dataclass(frozen=True, slots=True)
class AccountStep(TokenStep):
    """How to make a throwaway account (an admin operation) and remove it again: where the
    create body takes the username, password and role, where the 2xx body gives the new id, and
    the operation that deletes it by that id."""

    username: str = "/email"
    password: str = "/password"
    role: str | None = None
    id: str = "/data/id"
    delete: str = ""


@dataclass(frozen=True, slots=True)
class AuthFlow:
    """An ``x-auth-flow`` declaration."""

    scheme: str
    login: LoginStep
    refresh: RefreshStep | None
    logout: TokenStep | None
    verify: TokenStep | None
    accounts: AccountStep | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> AuthFlow:
        login, refresh = raw["login"], raw.get("refresh")
        return cls(
            scheme=raw["scheme"],
            login=LoginStep(
                operation_id=login["operation"],
                access_token=login["access_token"],
                refresh_token=login["refresh_token"],
                expires_in=login["expires_in"],
                username=login["username"],
                password=login["password"],
            ),
            refresh=(
                RefreshStep(
                    operation_id=refresh["operation"],
                    access_token=refresh["access_token"],
                    refresh_token=refresh["refresh_token"],
                    expires_in=refresh["expires_in"],
                    token_in=refresh["token_in"],
                    token_field=refresh.get("token_field"),
                )
                if refresh
                else None
            ),
            logout=TokenStep(raw["logout"]["operation"]) if "logout" in raw else None,
            verify=TokenStep(raw["verify"]["operation"]) if "verify" in raw else None,
            accounts=(
                AccountStep(
                    operation_id=raw["accounts"]["operation"],
                    username=raw["accounts"]["username"],
                    password=raw["accounts"]["password"],
                    role=raw["accounts"].get("role"),
                    id=raw["accounts"]["id"],
                    delete=raw["accounts"]["delete"],
                )
                if "accounts" in raw
                else None
            ),
        )

    @property
    def steps(self) -> dict[str, TokenStep]:
        """The declared steps by name ("login", "refresh", "logout", "verify", "accounts")."""
        named: dict[str, TokenStep | None] = {
            "login": self.login,
            "refresh": self.refresh,
            "logout": self.logout,
            "verify": self.verify,
            "accounts": self.accounts,
        }
        return {name: step for name, step in named.items() if step is not None}


@dataclass(frozen=True, slots=True)
class Declarations:
    """The root declarations of a spec; each is None where the spec does not make it."""

    roles: tuple[str, ...] | None = None
    auth_flow: AuthFlow | None = None
    rate_limit: RateLimitPolicy | None = None
    latency_budget_ms: int | None = None
    #: ``x-contract: strict``: every rule of CONTRACT.md holds on every operation (the bundled
    #: specs); without it each rule applies only where the spec declares what it checks
    strict: bool = False

    @property
    def declares_contract(self) -> bool:
        """Whether the spec opts into the contract (makes any root declaration)."""
        return any(
            value is not None
            for value in (self.roles, self.auth_flow, self.rate_limit, self.latency_budget_ms)
        )
