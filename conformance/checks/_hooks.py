"""Hooks that shape the cases schemathesis generates, for rules no schema can state."""

from __future__ import annotations

from typing import Any

import schemathesis

from conformance.contract import IfMatch

#: headers that frame the HTTP message rather than carry API input: a made-up value for one of
#: them is a request to the server's HTTP parser, which answers before the API can (uvicorn: a
#: plain-text 400), so no API contract can judge the answer
FRAMING_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "expect",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-connection",
    }
)


@schemathesis.hook("map_case")
def shape_case(context: Any, case: Any) -> Any:
    """The cases schemathesis generates, made into requests to the API (both steps below)."""
    return agree_on_version(without_framing_headers(case))


def without_framing_headers(case: Any) -> Any:
    """Leave HTTP framing to the HTTP client: generated framing headers are dropped."""
    headers = case.headers or {}
    if any(str(name).lower() in FRAMING_HEADERS for name in headers):
        case.headers = {k: v for k, v in headers.items() if str(k).lower() not in FRAMING_HEADERS}
    return case


def agree_on_version(case: Any) -> Any:
    """A schema-valid change is one a client could mean (CONTRACT.md §5).

    A client that has read the resource sends its version; one that has not sends none. So in a
    positive case of a stateful step (whose ``If-Match`` a link took from the ETag it read), the
    body's ``version`` follows the header, since a single ``If-Match: "<version>"`` beside a body
    ``version`` that differs is 400. Elsewhere the generator cannot know the current version, and
    a made-up one is only ever a 409: the positive case drops ``If-Match`` and the body's
    ``version`` (while the body keeps a member), changing unconditionally. Negative cases, and
    the conditional rules themselves (the scenarios of issue 10), are left to probe the rest.
    """
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    headers = dict(case.headers or {})
    name = next((key for key in headers if key.lower() == "if-match"), None)
    body = case.body
    # JSON Schema's integer takes 3.0 as well as 3: a generated version may be either
    version = body.get("version") if isinstance(body, dict) else None
    versioned = (
        isinstance(version, int | float)
        and not isinstance(version, bool)
        and float(version).is_integer()
    )
    if getattr(meta.phase, "name", None) == "stateful":
        if name is not None and versioned:
            single = IfMatch.parse(str(headers[name])).single
            if single is not None and single != body["version"]:
                case.body = {**body, "version": single}
        return case
    if name is not None:
        del headers[name]
        case.headers = headers
    if versioned and len(body) > 1:
        case.body = {key: value for key, value in body.items() if key != "version"}
    return case
