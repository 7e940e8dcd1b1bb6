"""What the suite's end-to-end tests share: the run's credentials in the environment, and the
answers a reference API sends, seen at the server (whatever the suite thinks it sent)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from conformance.contract import bundled_spec, load_spec, resources
from conformance.reference import Running


def as_service(monkeypatch: pytest.MonkeyPatch, backends: Running, api: str) -> Any:
    """The run logs in as ``api``'s ``service`` principal (its credential)."""
    service = backends.backend(api).credentials["service"]
    monkeypatch.setenv(f"CONFORMANCE_{api.upper()}_USERNAME", service.email)
    monkeypatch.setenv(f"CONFORMANCE_{api.upper()}_PASSWORD", service.password)
    return service


def answers(
    monkeypatch: pytest.MonkeyPatch, backends: Running, api: str
) -> list[tuple[str, str, int]]:
    """``(method, path, status)`` of every answer ``api``'s app sends from now on, filled in as
    the run goes (``monkeypatch`` takes the watch off after the test)."""
    seen: list[tuple[str, str, int]] = []
    app_type = type(backends.backend(api).app)
    original = app_type.__call__

    async def watched(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or self.api != api:
            await original(self, scope, receive, send)
            return

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.append((scope["method"], scope["path"], int(message["status"])))
            await send(message)

        await original(self, scope, receive, watch)

    monkeypatch.setattr(app_type, "__call__", watched)
    return seen


@functools.cache
def deletable_kinds(api: str) -> frozenset[str]:
    """The kinds of ``api``'s bundled spec that have a delete operation (read once: a spec
    takes a tenth of a second to load, more on a busy machine, and asking once per row of what
    a run left took a shared-environment test past its 300 s there)."""
    spec = load_spec(bundled_spec(api))
    return frozenset(
        r.schema_name for r in resources(spec) if r.delete is not None and r.schema_name
    )
