"""``conformance serve``: the reference backends on loopback ports, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import uvicorn

from conformance.errors import ConfigError, UsageError
from conformance.reference._app import Receive, Scope, Send
from conformance.reference._auth import describe_lifetimes
from conformance.reference._backend import Backend, open_backend
from conformance.reference._defects import defects_named
from conformance.reference._principals import PRINCIPALS
from conformance.reference._settings import Settings
from conformance.reference._store import DatabaseError, Store


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address; the reference backend never listens further."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UsageError(
            f"--host {host!r} is not a loopback address; the reference backend serves"
            " 127.0.0.1 (or ::1) only"
        )
    return host


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it a keep-alive response waits for the delayed
    # ACK of its headers before its body goes out: 40 ms more per request (measured: 49 vs 1.7).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextmanager
def open_store(db: Path | None) -> Iterator[Store]:
    """The store at ``db``, or in a temporary folder removed afterwards."""
    if db is not None:
        if db.is_dir():
            raise DatabaseError(f"--db {db} is a folder; give a file path (it is created if new)")
        if not db.parent.is_dir():
            raise DatabaseError(f"--db {db}: the folder {db.parent} does not exist")
        store = Store(db)
        try:
            yield store
        finally:
            store.close()
        return
    with tempfile.TemporaryDirectory(prefix="conformance-reference-") as folder:
        store = Store(Path(folder) / "reference.sqlite3")
        try:
            yield store
        finally:
            store.close()


@dataclass(frozen=True, slots=True)
class Listening:
    backend: Backend
    sock: socket.socket

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{self.backend.spec.base_path}"


class _Server(uvicorn.Server):
    """Stops on Ctrl-C or SIGTERM as on a finished job: exit 0, no signal raised again after.

    (uvicorn raises the signal again after its graceful shutdown, so that the process ends by
    it; for ``conformance serve`` a requested stop is a success.)
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for open connections
        else:
            self.should_exit = True


class PortDispatch:
    """One ASGI app over several listening sockets: each port serves its own API."""

    def __init__(self, apps: Mapping[int, Any]) -> None:
        self.apps = dict(apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            first = next(iter(self.apps.values()))
            await first(scope, receive, send)
            return
        _, port = scope.get("server") or ("", 0)
        await self.apps[int(port)](scope, receive, send)


@contextmanager
def _prepared(
    apis: Sequence[str], host: str, port: int, db: Path | None, settings: Settings
) -> Iterator[tuple[list[Listening], Store, uvicorn.Server]]:
    check_loopback(host)
    sockets = [bind(host, port + index if port else 0) for index in range(len(apis))]
    try:
        with open_store(db) as store:
            listening = [
                Listening(open_backend(api, store, settings), sock)
                for api, sock in zip(apis, sockets, strict=True)
            ]
            settings.check([item.backend.spec for item in listening], PRINCIPALS)
            applied = {defect.name for item in listening for defect in item.backend.defects}
            for defect in defects_named(settings.defects):
                if defect.name not in applied:
                    raise ConfigError(
                        f"--defect {defect.name!r} acts on {defect.api}, which is not served here"
                    )
            app = PortDispatch({item.sock.getsockname()[1]: item.backend.app for item in listening})
            config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
            yield listening, store, _Server(config)
    finally:
        for sock in sockets:
            sock.close()


def serve(
    apis: Sequence[str],
    host: str,
    port: int,
    db: Path | None,
    out: TextIO,
    settings: Settings | None = None,
) -> None:
    """Serve ``apis`` until Ctrl-C or SIGTERM; ``port`` 0 picks free ports, else port, port + 1…"""
    settings = settings or Settings()
    with _prepared(apis, host, port, db, settings) as (listening, store, server):
        for item in listening:
            out.write(f"{item.backend.api:<7} {item.url}\n")
            for credential in item.backend.credentials.values():
                out.write(
                    f"  {credential.name:<8} {credential.role:<8} {credential.email:<28}"
                    f" {credential.shown()}\n"
                )
            for line in settings.describe(item.backend.spec):
                out.write(f"  {line}\n")
            for overlay in item.backend.spec.document.overlays:
                out.write(f"  overlay {overlay}\n")
            for problem in item.backend.spec.overlay_problems:
                where = f"{problem.overlay}:{problem.line}" if problem.line else problem.overlay
                out.write(f"  overlay problem: {where}: {problem.message}\n")
            out.write(f"  {describe_lifetimes(settings.token_lifetimes)}\n")
            for defect in item.backend.defects:
                out.write(f"  DEFECT {defect.name}: {defect.description} (breaks {defect.rule})\n")
        out.write(f"database {store.path if db else 'temporary (gone on exit; --db keeps it)'}\n")
        out.write("Ctrl-C stops.\n")
        out.flush()
        server.run(sockets=[item.sock for item in listening])
        out.write("stopped\n")


@dataclass(frozen=True, slots=True)
class Running:
    """Reference backends serving in a background thread."""

    listening: tuple[Listening, ...]
    store: Store

    def url(self, api: str) -> str:
        """The base URL of ``api`` (``http://127.0.0.1:PORT/api/v1``)."""
        for item in self.listening:
            if item.backend.api == api:
                return item.url
        raise KeyError(api)

    def backend(self, api: str) -> Backend:
        for item in self.listening:
            if item.backend.api == api:
                return item.backend
        raise KeyError(api)


@contextmanager
def running(
    apis: Sequence[str] = ("gloria", "tchat"),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    db: Path | None = None,
    settings: Settings | None = None,
) -> Iterator[Running]:
    """Serve ``apis`` in a background thread for the duration of the ``with`` block."""
    with _prepared(apis, host, port, db, settings or Settings()) as (listening, store, server):
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [item.sock for item in listening]},
            name="conformance-reference",
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference backend did not start")
            time.sleep(0.01)
        try:
            yield Running(tuple(listening), store)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
