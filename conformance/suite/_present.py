"""How a credential goes on a request: the one place that knows it, for the engine's cases, the
run's own requests (`RunClient`) and the scenarios' (`Story`).

A credential is presented as its security scheme says: ``Authorization: Bearer`` (http bearer,
OAuth2, OpenID Connect), ``Authorization: Basic`` (the ``user:password`` pair), or an apiKey in
its header (after a prefix such as ``Token``, which OpenAPI cannot state: the credentials say
it), query parameter or cookie. An operation gets it where one of its security alternatives is
the run's scheme alone; a public one (or one the spec does not say) gets it too, as it always
did; one that asks only for schemes the run has no credential for gets nothing.

The engine is told where the credential goes (`Presenter.slots`: fixed parameters holding
`PLACEHOLDER`), so that it neither draws a value there nor breaks it in a negative case, in the
stateful phase's steps too (`_engine.fixed_in_stateful`); the session's auth puts the credential
in place of the placeholder (`Presenter.fill`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.contract import Operation, SecurityScheme, Spec

#: what a spec without security schemes gets a token as (what the suite always sent)
BEARER = SecurityScheme("bearer", "http", scheme="bearer")


def _hidden(value: str) -> str:
    """A secret as a message shows it: that it was there, and its length, never a character."""
    return f"[masked: {len(value)} characters]"


@dataclass(frozen=True, slots=True)
class Presentation:
    """What one request carries for its credentials."""

    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    #: how a message shows it: the header's, parameter's or cookie's name, the scheme's word or
    #: prefix, and the value masked (`_hidden`)
    shown: str = "no credentials"

    def httpx_headers(self, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """``headers`` with these credentials, cookies as a ``Cookie`` header (added to one
        ``headers`` has)."""
        sent = {**(headers or {}), **self.headers}
        if self.cookies:
            pairs = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            given = next((k for k in sent if k.lower() == "cookie"), None)
            sent[given or "Cookie"] = f"{sent[given]}; {pairs}" if given else pairs
        return sent

    def on_case(self, case: Any) -> None:
        """Put these credentials on a schemathesis case, where its checks look for them (the
        probes of ``ignored_auth`` take them off by the scheme's name and location)."""
        if self.headers:
            case.headers = {**(case.headers or {}), **self.headers}
        if self.params:
            case.query = {**(case.query or {}), **self.params}
        if self.cookies:
            case.cookies = {**(case.cookies or {}), **self.cookies}


NOTHING = Presentation()

#: what the engine is given where the run's credential goes (`Presenter.slots`), replaced on
#: every case by the session's auth (`Presenter.fill`); never a credential itself
PLACEHOLDER = "conformance-credential"


class Presenter:
    """The run's credential as ``scheme`` presents it (``prefix``: an apiKey header's, such as
    ``Token``), on the operations that ask for it (`for_operation`)."""

    def __init__(self, spec: Spec, scheme: SecurityScheme | None, prefix: str | None = None):
        self.spec, self.scheme, self.prefix = spec, scheme, prefix

    def present(self, value: str) -> Presentation:
        """``value`` (a token, or ``user:password`` for basic) as the scheme sends it."""
        scheme = self.scheme or BEARER
        if scheme.is_basic:
            encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
            return Presentation({"Authorization": f"Basic {encoded}"},
                                shown=f"Authorization: Basic {_hidden(value)}")  # fmt: skip
        if scheme.type == "apiKey" and scheme.parameter:
            name = scheme.parameter
            if scheme.location == "query":
                return Presentation(params={name: value}, shown=f"?{name}={_hidden(value)}")
            if scheme.location == "cookie":
                return Presentation(cookies={name: value}, shown=f"cookie {name}={_hidden(value)}")
            sent = f"{self.prefix} {value}" if self.prefix else value
            said = f"{self.prefix} " if self.prefix else ""
            return Presentation({name: sent}, shown=f"{name}: {said}{_hidden(value)}")
        return Presentation({"Authorization": f"Bearer {value}"},
                            shown=f"Authorization: Bearer {_hidden(value)}")  # fmt: skip

    def slots(self) -> dict[str, str]:
        """Where the credential goes, as schemathesis's fixed parameters (``header.NAME``,
        ``query.NAME``, ``cookie.NAME``) holding `PLACEHOLDER`: the engine draws nothing
        there, as for ``st run``'s ``[headers]``."""
        shown = self.present(PLACEHOLDER)
        return {
            f"{where}.{name}": PLACEHOLDER
            for where, names in (
                ("header", shown.headers),
                ("query", shown.params),
                ("cookie", shown.cookies),
            )
            for name in names
        }

    @staticmethod
    def placed(case: Any) -> bool:
        """Whether an engine case still holds a `slots` placeholder."""
        return bool(_placeholders(case))

    def fill(self, case: Any, operation: Operation | None, value: str | None) -> None:
        """Put the credential on an engine case in place of the `slots` placeholders (taken
        off where ``operation`` gets no credential)."""
        for container, name in _placeholders(case):
            del container[name]
        self.for_operation(operation, value).on_case(case)

    def asked_by(self, operation: Operation | None) -> bool:
        """Whether ``operation`` gets the credential: one of its alternatives is the run's
        scheme alone, or it declares none (public, or a spec that does not say)."""
        if operation is None or self.scheme is None:  # a spec that says no scheme: everywhere
            return True
        alternatives = self.spec.security_alternatives(operation)
        if not alternatives:
            return True
        name = self.scheme.name
        return any(all(scheme.name == name for scheme in each) for each in alternatives)

    def for_operation(self, operation: Operation | None, value: str | None) -> Presentation:
        """What a request to ``operation`` carries with ``value`` (nothing without one)."""
        if not value or not self.asked_by(operation):
            return NOTHING
        return self.present(value)

    def at(self, method: str, path: str, value: str | None) -> Presentation:
        """`for_operation` for the operation of ``method`` on the path template ``path``, or
        on a concrete path the spec's templates match (``/schools/12``)."""
        return self.for_operation(operation_for(self.spec, method, path), value)


def _placeholders(case: Any) -> list[tuple[Any, str]]:
    """Where an engine case holds a `slots` placeholder: each header, query parameter or
    cookie, as its container and name."""
    return [
        (container, name)
        for container in (case.headers, case.query, case.cookies)
        if container
        for name, value in container.items()
        if value == PLACEHOLDER
    ]


def operation_for(spec: Spec, method: str, path: str) -> Operation | None:
    """The operation of ``method`` whose path template is ``path``, or matches it segment by
    segment (a template's ``{…}`` matches any one segment; a static segment wins)."""
    exact = spec.operation_at(method, path)
    if exact is not None:
        return exact
    wanted = path.split("?")[0].strip("/").split("/")
    found: list[tuple[int, Operation]] = []
    for operation in spec.operations:
        parts = operation.path.strip("/").split("/")
        if operation.method != method.lower() or len(parts) != len(wanted):
            continue
        pairs = zip(parts, wanted, strict=True)
        if all(p == w or (p.startswith("{") and p.endswith("}")) for p, w in pairs):
            found.append((sum(p.startswith("{") for p in parts), operation))
    return min(found, key=lambda pair: pair[0])[1] if found else None
