"""Hooks that shape the cases schemathesis generates, for rules no schema can state."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

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


class Listener(Protocol):
    def before_call(self, case: Any) -> None: ...


class BeforeCall:
    """schemathesis's ``before_call`` handed to one object at a time: its hooks of that kind are
    global only (schemathesis 4.32) and one engine runs at a time in a process. Registered at
    the first `active`; while the block runs, each call reaches ``listener.before_call(case)``
    in the thread that sends it (the guard's, the stateful budget's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._registered = False

    @contextlib.contextmanager
    def active(self, listener: Listener) -> Iterator[None]:
        with self._lock:
            if not self._registered:

                @schemathesis.hook("before_call")
                def conformance_before_call(context: Any, case: Any, kwargs: Any) -> None:
                    with self._lock:
                        current = self._listener
                    if current is not None:
                        current.before_call(case)

                self._registered = True
            self._listener = listener
        try:
            yield
        finally:
            with self._lock:
                self._listener = None
