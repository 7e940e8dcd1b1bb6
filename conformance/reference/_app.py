"""The ASGI app of one API: route, authenticate, limit, read, handle, answer.

Handlers run in a worker thread each (``anyio.to_thread``), so that concurrent requests really
race in SQLite; the event loop only moves bytes.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio.to_thread

from conformance.contract import Operation, Spec
from conformance.reference._auth import bearer
from conformance.reference._errors import (
    ApiError,
    internal,
    method_not_allowed,
    not_found,
    validation_failed,
)
from conformance.reference._model import Context, Handler, Principal, Reply, now
from conformance.reference._router import Router
from conformance.reference._store import RawItems, Store
from conformance.reference._validation import MAX_BODY_BYTES, RequestReader, Validators

log = logging.getLogger("conformance.reference")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_REQUEST_ID = re.compile(r"^[!-~]{1,128}$")


class Authenticator(Protocol):
    """Decides who a request acts for, or raises a 401 ApiError."""

    def authenticate(self, operation: Operation, headers: Mapping[str, str]) -> Principal: ...


class RateLimiter(Protocol):
    """Counts requests against their principal's window (CONTRACT.md §6)."""

    def hit(
        self, operation: Operation, principal: Principal, client: str, body: bytes
    ) -> dict[str, str]:
        """Count this request; its X-RateLimit-* headers. Raises a 429 ApiError when over.
        (``body``: a login is counted per client address and the account it names.)"""
        ...

    def peek(self, operation: Operation | None, client: str) -> dict[str, str]:
        """The X-RateLimit-* headers of a request refused before it could count (401, 404,
        405): the client's anonymous window, never 429 (authentication comes first)."""
        ...


@dataclass(frozen=True, slots=True)
class _Shape:
    """How an operation's successful payload is answered, per status."""

    envelope: str  #: "api" ({data, timestamp, requestId}), or "bare"
    etag: bool
    no_store: bool


class ReferenceApp:
    """One API of the reference backend as an ASGI app."""

    def __init__(
        self,
        api: str,
        spec: Spec,
        store: Store,
        handlers: Mapping[str, Handler],
        authenticator: Authenticator,
        limiter: RateLimiter,
    ) -> None:
        self.api = api
        self.spec = spec
        self.store = store
        self.authenticator = authenticator
        self.limiter = limiter
        missing = [op.label for op in spec.operations if op.operation_id not in handlers]
        if missing:
            raise ValueError(f"{api}: no handler for {', '.join(missing)}")
        self.handlers = dict(handlers)
        self.router = Router(spec.operations, spec.base_path)
        self.reader = RequestReader(spec, Validators(spec))
        self.shapes = {op.pointer: self._shapes(op) for op in spec.operations}

    def _shapes(self, operation: Operation) -> dict[int, _Shape]:
        shapes = {}
        for status, response, _ in self.spec.responses(operation):
            if not status.startswith("2"):
                continue
            headers = {str(h).lower() for h in response.get("headers") or {}}
            schema = self.spec.json_schema(response)
            wrapped = (
                operation.enveloped
                and schema is not None
                and {"data", "timestamp"} <= self.spec.required(schema)
            )
            shapes[int(status)] = _Shape(
                envelope="api" if wrapped else "bare",
                etag="etag" in headers,
                no_store="cache-control" in headers,
            )
        return shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])
        }
        body, oversized = await _read_body(receive)
        client = scope.get("client")
        status, response_headers, body_out = await anyio.to_thread.run_sync(
            self.handle,
            scope["method"],
            scope.get("path", "/"),
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            b"" if oversized else body,
            oversized,
            client[0] if client else "",
        )
        if status != 204:
            response_headers["Content-Length"] = str(len(body_out))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (key.encode("latin-1"), value.encode("latin-1"))
                    for key, value in response_headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": body_out})

    def handle(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        oversized: bool,
        client: str,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``. Runs in a worker thread."""
        sent_id = headers.get("x-request-id")
        request_id = sent_id if sent_id and _REQUEST_ID.match(sent_id) else str(uuid.uuid4())
        timestamp = now()
        common = {"X-Request-ID": request_id, "X-Content-Type-Options": "nosniff"}
        operation: Operation | None = None
        limit_headers: dict[str, str] = {}
        try:
            match = self.router.match(method, path)
            if match is None:
                raise not_found(f"no operation answers {path}")
            operation = match.operation
            if operation is None:
                raise method_not_allowed(match.allowed)
            principal = self.authenticator.authenticate(operation, headers)
            limit_headers = self.limiter.hit(operation, principal, client, body)
            if oversized:
                raise validation_failed(f"the body is over {MAX_BODY_BYTES} bytes")
            parsed = self.reader.read(
                operation,
                match.path_params,
                parse_qsl(query_string, keep_blank_values=True),
                headers,
                headers.get("content-type"),
                body,
            )
            context = Context(
                api=self.api,
                spec=self.spec,
                operation=operation,
                request=parsed,
                principal=principal,
                store=self.store,
                request_id=request_id,
                timestamp=timestamp,
                credentials=bearer(headers),
                client=client or None,
                user_agent=headers.get("user-agent"),
            )
            reply = self.handlers[str(operation.operation_id)](context)
            return self._success(operation, reply, request_id, timestamp, common | limit_headers)
        except ApiError as error:
            limit_headers = limit_headers or self.limiter.peek(operation, client)
            return self._error(error, path, request_id, timestamp, common | limit_headers)
        except Exception:
            log.exception("%s %s failed", method, path)
            limit_headers = limit_headers or self.limiter.peek(operation, client)
            return self._error(internal(), path, request_id, timestamp, common | limit_headers)

    def _success(
        self,
        operation: Operation,
        reply: Reply,
        request_id: str,
        timestamp: str,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        headers = headers | reply.headers
        if reply.status == 204:
            return 204, headers, b""
        if reply.raw is not None:
            return reply.status, headers | {"Content-Type": reply.media_type}, reply.raw
        shape = self.shapes[operation.pointer].get(reply.status)
        payload = reply.payload
        if shape is not None:
            if shape.etag and isinstance(payload, Mapping) and "version" in payload:
                headers["ETag"] = f'"{payload["version"]}"'
            if shape.no_store:
                headers["Cache-Control"] = "no-store"
            if shape.envelope == "api":
                payload = {"data": payload, "timestamp": timestamp, "requestId": request_id}
        headers["Content-Type"] = "application/json"
        return reply.status, headers, dumps(payload)

    def _error(
        self,
        error: ApiError,
        path: str,
        request_id: str,
        timestamp: str,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        body = error.body(path=path, request_id=request_id, timestamp=timestamp)
        headers = headers | error.headers | {"Content-Type": "application/json"}
        return error.status, headers, json.dumps(body).encode("utf-8")


def dumps(payload: Any) -> bytes:
    """JSON of ``payload``; `RawItems` in it (a page's items) are spliced in as stored."""
    raw: dict[str, RawItems] = {}
    nonce = uuid.uuid4().hex  # a placeholder no stored or sent string can be

    def mark(value: Any) -> Any:
        if isinstance(value, RawItems):
            token = f"\x00{nonce}{len(raw)}\x00"
            raw[token] = value
            return token
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        return value

    text = json.dumps(mark(payload))
    for token, items in raw.items():
        text = text.replace(json.dumps(token), "[" + ", ".join(items.texts) + "]", 1)
    return text.encode("utf-8")


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether it was over the limit (its rest is then not kept)."""
    chunks: list[bytes] = []
    size = 0
    oversized = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            oversized = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), oversized


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
