"""The spec's security schemes, typed: how a credential is presented (OpenAPI's
``components/securitySchemes``) and which schemes each operation asks for (its effective
``security``, OR of requirements, each an AND of schemes).

What OpenAPI cannot state (an ``apiKey`` header's prefix such as ``Token``, the account) comes
from the run's credentials, never from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: the ``apiKey`` locations OpenAPI knows
API_KEY_LOCATIONS = ("header", "query", "cookie")
#: OAuth2 flows, as the spec names them, and the grant each asks the token URL for
GRANTS = {
    "password": "password",
    "clientCredentials": "client_credentials",
    "authorizationCode": "authorization_code",
    "implicit": "implicit",
}


@dataclass(frozen=True, slots=True)
class OAuthFlow:
    """One flow of an ``oauth2`` scheme (``flows.password`` …)."""

    #: ``password``, ``clientCredentials``, ``authorizationCode`` or ``implicit``
    kind: str
    #: where a token is asked for (None for ``implicit``); may be relative to the API's URL
    token_url: str | None
    #: where it is refreshed; None: at `token_url`
    refresh_url: str | None = None
    scopes: tuple[str, ...] = ()

    @property
    def grant(self) -> str:
        """The ``grant_type`` the token URL is sent."""
        return GRANTS.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """One entry of ``components/securitySchemes``."""

    #: its key in ``securitySchemes``: what requirements name
    name: str
    #: ``http``, ``apiKey``, ``oauth2``, ``openIdConnect`` or ``mutualTLS``
    type: str
    #: ``http``'s scheme, lower case (``bearer``, ``basic`` …)
    scheme: str | None = None
    #: ``apiKey``'s location: header, query or cookie
    location: str | None = None
    #: ``apiKey``'s header, query parameter or cookie name
    parameter: str | None = None
    bearer_format: str | None = None
    flows: tuple[OAuthFlow, ...] = ()

    @property
    def is_basic(self) -> bool:
        return self.type == "http" and self.scheme == "basic"

    @property
    def is_bearer(self) -> bool:
        """A token in ``Authorization: Bearer`` (http bearer, OAuth2 and OpenID Connect)."""
        return (self.type == "http" and self.scheme == "bearer") or self.type in (
            "oauth2",
            "openIdConnect",
        )

    @property
    def takes_token(self) -> bool:
        """Whether a token is what this scheme presents (everything but basic and mutual TLS)."""
        return self.is_bearer or (self.type == "apiKey" and self.location in API_KEY_LOCATIONS)

    def flow(self, kind: str) -> OAuthFlow | None:
        """The OAuth2 flow ``kind`` (``password``, ``clientCredentials``), if declared."""
        for flow in self.flows:
            if flow.kind == kind:
                return flow
        return None

    @property
    def described(self) -> str:
        """How a person names it: ``tokenAuth (apiKey in header Authorization)``."""
        if self.type == "apiKey":
            how = f"apiKey in {self.location} {self.parameter}"
        elif self.type == "http":
            how = f"http {self.scheme}"
        elif self.flows:
            how = f"{self.type} {', '.join(flow.kind for flow in self.flows)}"
        else:
            how = self.type
        return f"{self.name} ({how})"


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int, float)) and str(value) else None


def _flows(raw: Any) -> tuple[OAuthFlow, ...]:
    if not isinstance(raw, Mapping):
        return ()
    found = []
    for kind, flow in raw.items():
        if not isinstance(flow, Mapping):
            continue
        scopes = flow.get("scopes")
        found.append(
            OAuthFlow(
                str(kind),
                _text(flow.get("tokenUrl")),
                _text(flow.get("refreshUrl")),
                tuple(str(s) for s in scopes) if isinstance(scopes, Mapping) else (),
            )
        )
    return tuple(found)


def read_schemes(data: Mapping[str, Any], deref: Callable[[Any], Any]) -> dict[str, SecurityScheme]:
    """name -> scheme, for each well-formed entry of ``components/securitySchemes`` (``$ref``
    followed by ``deref``); a malformed one is left out (the structural validation reports it)."""
    components = data.get("components")
    raw = components.get("securitySchemes") if isinstance(components, Mapping) else None
    schemes: dict[str, SecurityScheme] = {}
    for name, entry in raw.items() if isinstance(raw, Mapping) else ():
        entry = deref(entry)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            continue
        kind = entry["type"]
        http = _text(entry.get("scheme"))
        schemes[str(name)] = SecurityScheme(
            name=str(name),
            type=kind,
            scheme=http.lower() if http and kind == "http" else None,
            location=_text(entry.get("in")) if kind == "apiKey" else None,
            parameter=_text(entry.get("name")) if kind == "apiKey" else None,
            bearer_format=_text(entry.get("bearerFormat")),
            flows=_flows(entry.get("flows")) if kind == "oauth2" else (),
        )
    return schemes


def alternatives(
    security: tuple[Mapping[str, Any], ...], schemes: Mapping[str, SecurityScheme]
) -> tuple[tuple[SecurityScheme, ...], ...]:
    """An operation's effective requirements as schemes: each alternative the schemes it needs
    together, in the spec's order; one naming a scheme the spec does not define is left out
    (nobody can satisfy it)."""
    found = []
    for requirement in security:
        if all(name in schemes for name in requirement):
            found.append(tuple(schemes[name] for name in requirement))
    return tuple(found)
