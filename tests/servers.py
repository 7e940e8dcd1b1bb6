"""The small HTTP apps tests write for themselves (a third-party API with a plain spec, a proxy, a
backend that answers 404 to everything), served on a free loopback port. The scaffolding is
written once here, so that a test's handler holds only what its app answers."""

from __future__ import annotations

import contextlib
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from typing import Any


class Quiet(http.server.BaseHTTPRequestHandler):
    """A handler that logs no line per request (the test's output is the run's, not the app's),
    and answers JSON in one call."""

    def log_message(self, *args: object) -> None:
        pass

    def send_json(self, status: int, body: Any = None, **headers: str) -> None:
        """Answer ``status`` with ``body`` as JSON (no body, and no Content-Type, when it is
        None) and ``headers`` (a keyword's underscores become dashes: ``WWW_Authenticate=…``);
        a HEAD gets the headers alone."""
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class AnyMethod(Quiet):
    """A handler whose `_handle` answers every method, so the app decides what it allows
    (schemathesis probes QUERY, TRACE … as well, and expects a 405, not http.server's 501)."""

    def _handle(self) -> None:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


@contextlib.contextmanager
def serving(
    handler: type[http.server.BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """``handler``'s app on a free port of 127.0.0.1 (never another interface), in a daemon
    thread, while the block runs: its base URL, ``https`` when ``tls`` is given. The server is
    shut down and its socket closed however the block ends."""
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        # a short poll: shutdown() waits for it (0.5 s by default, a second a test of two apps)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        try:
            yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def house_headers(request_id: str) -> dict[str, str]:
    """The headers the contract's house rules ask of every answer (the request's id,
    ``nosniff``, the ``X-RateLimit-*`` triple): for an app whose test is about something else."""
    return {
        "X-Request-ID": request_id,
        "X-Content-Type-Options": "nosniff",
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "999",
        "X-RateLimit-Reset": "60",
    }
