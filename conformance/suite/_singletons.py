"""Singletons (``/system-config``): a run cannot create them, so it changes the one there is.
Each is read at the start of the run and written back at its end (with the cleanup)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from conformance.contract import Operation, Spec, singletons
from conformance.suite._client import RunClient


class Singletons:
    """One API's singletons as they were before the run."""

    def __init__(self, spec: Spec, client: RunClient) -> None:
        self.spec, self.client = spec, client
        #: path -> its 2xx body before the run
        self._before: dict[str, Any] = {}

    def snapshot(self) -> None:
        """Read each singleton as it was before the run."""
        for singleton in singletons(self.spec):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = self.client.send("GET", singleton.path)
                if answer.status_code == 200:
                    self._before[singleton.path] = answer.json()

    def restore(self) -> Iterator[tuple[str, str | None]]:
        """Write back each singleton the run changed: its path, and why that failed (None when
        it was restored). One the run left as it was is not written."""
        for singleton in singletons(self.spec):
            raw = self._before.get(singleton.path)
            if raw is None:
                continue
            before = singleton.get.payload(raw)
            try:
                now = self.client.send("GET", singleton.path)
                current = singleton.get.payload(now.json())
                if now.status_code == 200 and current == before:
                    continue
                etag = now.headers.get("ETag")
                answer = self.client.send(
                    str(singleton.update.method).upper(),
                    singleton.path,
                    {"If-Match": etag} if etag else {},
                    self._writable(singleton.update, before, current),
                )
            except (httpx.HTTPError, ValueError) as exc:
                yield singleton.path, f"restoring it failed ({exc})"
                continue
            if answer.status_code < 300:
                yield singleton.path, None
            else:
                yield singleton.path, f"restoring it was answered {answer.status_code}"

    def _writable(self, update: Operation, before: Any, current: Any) -> Any:
        """The members of ``before`` that the update's body takes, with the current version
        (the optimistic lock wants the version it is changing)."""
        schema = self.spec.request_schema(update)
        names = set(self.spec.properties(self.spec.deref(schema))) if schema else None
        if not isinstance(before, dict):
            return before
        body = {k: v for k, v in before.items() if names is None or k in names}
        takes_version = names is None or "version" in names
        if isinstance(current, dict) and "version" in current and takes_version:
            body["version"] = current["version"]
        return body
