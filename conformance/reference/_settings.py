"""What a reference backend can be told besides its spec: rate limits and token lifetimes.

Both come as *scoped* values, from the ``[reference]`` table of a TOML file (``--config``) and
from repeatable flags (``--rate-limit``, ``--token-lifetime``), the flags winning per scope::

    [reference.rate-limits]          # LIMIT/WINDOW_SECONDS
    default = "60/60"                # every principal, on operations without their own limit
    "role:staff" = "10/5"            # a role
    "operation:login" = "3/10"       # one operation (its own window, apart from the others)

    [reference.token-lifetimes]      # access-token lifetime in seconds
    default = 900
    "role:staff" = 30
    "principal:staff2" = 2           # a seeded principal's name, or an account's email

Without them the spec's ``x-rate-limit`` holds, and access tokens live 15 minutes. Short values
make expiry and limits testable in seconds without touching the ``service`` principal that a
conformance run uses.

Settings are read before any backend is built, so this module imports nothing else of the
backend: the lifetimes are applied by `_auth`, the defects named are resolved by `_defects`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.contract import Operation, RateLimit, RateLimitPolicy, Spec
from conformance.errors import ConfigError

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s?\s*$")
_SCOPES = {
    "rate-limits": ("default", "role", "operation"),
    "token-lifetimes": ("default", "role", "principal"),
}
_KEYS = (*_SCOPES, "defects")


@dataclass(frozen=True, slots=True)
class Settings:
    #: scope ("default", "role:NAME", "operation:ID") -> limit
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    #: scope ("default", "role:NAME", "principal:NAME-OR-EMAIL") -> access-token seconds,
    #: applied by `_auth.access_ttl_s`
    token_lifetimes: Mapping[str, int] = field(default_factory=dict)
    #: the names of the defects switched on (``_defects.DEFECTS``; for the suite's self-test),
    #: resolved by `_defects.defects_named`
    defects: frozenset[str] = frozenset()
    #: API -> an OpenAPI Overlay file applied to its spec before the backend reads it
    #: (``serve API --overlay FILE``): declarations the hand-written spec does not make
    overlays: Mapping[str, Path] = field(default_factory=dict)

    def merged(self, other: Settings) -> Settings:
        """These settings with ``other``'s scopes on top (flags over the file)."""
        return replace(
            self,
            rate_limits={**self.rate_limits, **other.rate_limits},
            token_lifetimes={**self.token_lifetimes, **other.token_lifetimes},
            defects=self.defects | other.defects,
            overlays={**self.overlays, **other.overlays},
        )

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """The ``[reference]`` table of a TOML file (other tables are not the backend's)."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file; give the path of a TOML file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        table = document.get("reference", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [reference] must be a table")
        unknown = sorted(set(table) - set(_KEYS))
        if unknown:
            raise ConfigError(
                f"{path}: [reference] has no key {unknown[0]!r}; it knows {', '.join(_KEYS)}"
            )
        defects = table.get("defects", [])
        if not isinstance(defects, list) or not all(isinstance(d, str) for d in defects):
            raise ConfigError(f"{path}: [reference] defects must be a list of defect names")
        rates = _table(path, table, "rate-limits")
        lifetimes = _table(path, table, "token-lifetimes")
        return cls(
            rate_limits={
                _scope(scope, "rate-limits", f"{path}: [reference.rate-limits]"): parse_rate(
                    value, f"{path}: [reference.rate-limits] {scope!r}"
                )
                for scope, value in rates.items()
            },
            token_lifetimes={
                _scope(scope, "token-lifetimes", f"{path}: [reference.token-lifetimes]"): (
                    parse_seconds(value, f"{path}: [reference.token-lifetimes] {scope!r}")
                )
                for scope, value in lifetimes.items()
            },
            defects=frozenset(defects),
        )

    @classmethod
    def from_flags(
        cls,
        rate_limits: Iterable[str] = (),
        token_lifetimes: Iterable[str] = (),
        defects: Iterable[str] = (),
    ) -> Settings:
        """``--rate-limit SCOPE=LIMIT/WINDOW``, ``--token-lifetime SCOPE=SECONDS`` and
        ``--defect NAME`` values."""
        rates: dict[str, RateLimit] = {}
        for text in rate_limits:
            scope, value = _assignment(text, "--rate-limit", "role:staff=10/5")
            where = f"--rate-limit {text!r}"
            rates[_scope(scope, "rate-limits", where)] = parse_rate(value, where)
        lifetimes: dict[str, int] = {}
        for text in token_lifetimes:
            scope, value = _assignment(text, "--token-lifetime", "role:staff=30")
            where = f"--token-lifetime {text!r}"
            lifetimes[_scope(scope, "token-lifetimes", where)] = parse_seconds(value, where)
        return cls(rate_limits=rates, token_lifetimes=lifetimes, defects=frozenset(defects))

    def check(self, specs: Iterable[Spec], principals: Iterable[str]) -> None:
        """Every role and operation named exists in one of ``specs``; every principal name is
        seeded (or an email address). (The defects are checked where they are resolved.)"""
        specs = list(specs)
        roles = {role for spec in specs for role in spec.declarations.roles or ()}
        operations = {op.operation_id for spec in specs for op in spec.operations}
        names = set(principals)
        for scope in [*self.rate_limits, *self.token_lifetimes]:
            kind, _, name = scope.partition(":")
            if kind == "role" and name not in roles:
                raise ConfigError(
                    f"{scope!r}: no spec served has the role {name!r}; roles are"
                    f" {', '.join(sorted(roles))}"
                )
            if kind == "operation" and name not in operations:
                raise ConfigError(
                    f"{scope!r}: no spec served has the operation {name!r}; give an operationId"
                )
            if kind == "principal" and name not in names and "@" not in name:
                raise ConfigError(
                    f"{scope!r}: {name!r} is not a seeded principal ({', '.join(sorted(names))})"
                    " or an email address"
                )

    # -- using ---------------------------------------------------------------------------------

    def policy(self, spec: Spec, operation: Operation) -> tuple[str, RateLimitPolicy | None]:
        """The rate-limit policy of ``operation`` and the window it counts in: ``"shared"`` for
        the operations under the spec's root policy, else the operation's own."""
        declared, root = operation.rate_limit, spec.declarations.rate_limit
        own = self.rate_limits.get(f"operation:{operation.operation_id}")
        if own is not None:
            key = declared.key if declared is not None else "principal"
            return str(operation.operation_id), RateLimitPolicy(own, key)
        if declared is not None and declared is not root:
            return str(operation.operation_id), declared
        if declared is None and not self.rate_limits:
            return "shared", None
        base = declared or RateLimitPolicy(RateLimit(60, 60))
        roles = dict(base.roles or {})
        for scope, limit in self.rate_limits.items():
            if scope.startswith("role:"):
                roles[scope.removeprefix("role:")] = limit
        return "shared", RateLimitPolicy(
            self.rate_limits.get("default", base.limit), base.key, roles or None
        )

    def describe(self, spec: Spec) -> list[str]:
        """What ``serve`` prints of the rate limits: each window's (the token lifetimes'
        line is `_auth.describe_lifetimes`)."""
        windows: dict[str, tuple[RateLimitPolicy, list[str]]] = {}
        for operation in spec.operations:
            bucket, policy = self.policy(spec, operation)
            if policy is not None:
                windows.setdefault(bucket, (policy, []))[1].append(str(operation.operation_id))
        lines = []
        for bucket, (policy, _) in sorted(windows.items(), key=lambda item: item[0] != "shared"):
            per = (
                "per client and account"
                if policy.key == "client-account"
                else "per principal (public operations: per client address)"
            )
            roles = "".join(
                f", {role} {limit.limit}/{limit.window_s} s"
                for role, limit in sorted((policy.roles or {}).items())
            )
            name = "every operation" if bucket == "shared" else bucket
            lines.append(
                f"rate limit {name}: {policy.limit.limit}/{policy.limit.window_s} s {per}{roles}"
            )
        return lines


def parse_rate(value: Any, where: str) -> RateLimit:
    match = _RATE.match(str(value)) if isinstance(value, str) else None
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise ConfigError(
            f'{where}: {value!r} is not a rate limit; write LIMIT/WINDOW_SECONDS, e.g. "60/60"'
        )
    return RateLimit(int(match[1]), int(match[2]))


def parse_seconds(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {value!r} is not a lifetime; write whole seconds, 1 or more")
    return value


def _assignment(text: str, flag: str, example: str) -> tuple[str, str]:
    scope, sep, value = text.partition("=")
    if not sep or not scope.strip():
        raise ConfigError(f"{flag} {text!r}: write SCOPE=VALUE, e.g. {flag} {example}")
    return scope.strip(), value.strip()


def _scope(scope: str, table: str, where: str) -> str:
    kind, sep, name = scope.partition(":")
    allowed = _SCOPES[table]
    if (scope == "default") or (sep and name and kind in allowed and kind != "default"):
        return scope
    forms = ", ".join("default" if k == "default" else f"{k}:NAME" for k in allowed)
    raise ConfigError(f"{where}: {scope!r} is not a scope; use one of {forms}")


def _table(path: Path, table: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = table.get(name, {})
    if not isinstance(found, dict):
        raise ConfigError(f"{path}: [reference.{name}] must be a table of SCOPE = VALUE")
    return found
