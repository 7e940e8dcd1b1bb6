"""What a run made, and its removal: a run leaves a shared environment as it found it, also after
a failure or Ctrl-C, and at the latest at the start of the next run.

- **The journal** (``<reports>/journal/<api>.jsonl``): each resource a 2xx create answered with,
  appended (and flushed) the moment the answer arrives, so an interrupted run leaves a record;
  a line per removal after it. The guard (`_guard`) writes the fuzzer's creations, the
  scenarios their own.
- **The cleanup**: the journal's resources still there are deleted, newest first (a child before
  its parent), with ``If-Match`` where the API wants it; those of a kind without a delete
  operation are reported as left behind; the singletons are written back (`_singletons`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conformance.contract import Resource
from conformance.suite._client import RunClient
from conformance.suite._singletons import Singletons
from conformance.verdict import Cleanup as CleanupReport

#: requests the cleanup may spend, and seconds, per API
CLEANUP_REQUESTS, CLEANUP_SECONDS = 2_000, 120.0


@dataclass
class Created:
    kind: str
    #: the concrete item path (``/schools/7f3c…``), relative to the API's base URL
    path: str
    deletable: bool


class Journal:
    """What a run created on one API, on disk (JSON lines, flushed each line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def created(self, item: Created) -> None:
        self._append({"created": item.path, "kind": item.kind, "deletable": item.deletable})

    def removed(self, path: str) -> None:
        self._append({"removed": path})

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")
                file.flush()

    def pending(self) -> list[Created]:
        """Created and not yet removed, oldest first."""
        if not self.path.is_file():
            return []
        found: dict[str, Created] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if "created" in entry:
                found[entry["created"]] = Created(
                    entry.get("kind", "?"), entry["created"], bool(entry.get("deletable"))
                )
            elif "removed" in entry:
                found.pop(entry["removed"], None)
        return list(found.values())

    def close(self) -> None:
        """Forget the journal once everything in it is gone."""
        with self._lock:
            self.path.unlink(missing_ok=True)


def template_name(path: str) -> str:
    """``id`` for ``/schools/{id}``: the parameter an item path ends in."""
    return path.rsplit("/", 1)[-1].strip("{}")


def item_path_of(resource: Resource, data: Any) -> str | None:
    """The concrete item path of the resource ``data`` is (a create's answer): its item
    template filled with the member the template names, else its ``id``."""
    name = template_name(resource.item_path)
    value = data.get(name, data.get("id")) if isinstance(data, dict) else None
    if value is None:
        return None
    return resource.item_path.replace("{" + name + "}", str(value))


class Cleanup:
    """Removes what the journal holds on one API and writes its singletons back; at the start of
    a run (what a killed one left) and at its end (also after Ctrl-C)."""

    def __init__(
        self, journal: Journal, client: RunClient, singletons: Singletons | None = None
    ) -> None:
        self.journal, self.client, self.singletons = journal, client, singletons

    def close(self) -> None:
        """The run is over on this API: the cleanup sent its last requests (the guard and the
        singletons share the client)."""
        self.client.close()

    def run(self) -> CleanupReport:
        """Remove what the journal holds, newest first; restore the singletons."""
        report = CleanupReport()
        self._remove(report)
        self._restore(report)
        if not report.failed:
            self.journal.close()
        return report

    def _remove(self, report: CleanupReport) -> None:
        began = time.monotonic()
        spent = 0
        for item in reversed(self.journal.pending()):
            if spent >= CLEANUP_REQUESTS or time.monotonic() - began > CLEANUP_SECONDS:
                report.failed[item.path] = "the cleanup ran out of its time or requests"
                continue
            if not item.deletable:  # reported, and forgotten: no later run can do more
                report.left[item.kind] = report.left.get(item.kind, 0) + 1
                self.journal.removed(item.path)
                continue
            spent += 2
            why = self._delete(item.path)
            if why is None:
                self.journal.removed(item.path)
                report.removed += 1
            else:
                report.failed[item.path] = why

    def _restore(self, report: CleanupReport) -> None:
        for path, why in self.singletons.restore() if self.singletons is not None else ():
            if why is None:
                report.restored.append(path)
            else:
                report.failed[path] = why

    def _delete(self, path: str) -> str | None:
        """None when the item is gone (deleted now, or already)."""
        try:
            now = self.client.send("GET", path)
            if now.status_code == 404:
                return None
            etag = now.headers.get("ETag")
            answer = self.client.send("DELETE", path, {"If-Match": etag} if etag else {})
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if answer.status_code < 300 or answer.status_code == 404:
            return None
        return f"DELETE answered {answer.status_code}"
