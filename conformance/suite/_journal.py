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
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conformance.contract import Resource
from conformance.suite._client import RunClient
from conformance.suite._singletons import Singletons
from conformance.verdict import Cleanup as CleanupReport

#: what `Cleanup._delete` says of an item that was not there any more (deleted with its parent,
#: or journaled at a path a change's answer named and the API did not keep): not counted removed
ALREADY_GONE = "already gone"
#: answers to a delete without ``If-Match`` that ask for one (RFC 6585's 428, RFC 9110's 412)
PRECONDITION = frozenset({412, 428})
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

    def moved(self, before: str, after: str) -> None:
        """An item the run made is now at ``after`` (a change's answer says its key moved), its
        children with it: each is journaled where it is now, and kept where it was too. An
        answer can name a key the API did not keep (a RealWorld backend answered a new slug to
        an update and kept the old one: the cleanup deleted the new one, a 404, and left the
        article); of the two, the one that is not there is a 404 to the cleanup, which is gone."""
        for item in self.pending():
            if item.path == before or item.path.startswith(before + "/"):
                moved = after + item.path[len(before) :]
                self.created(Created(item.kind, moved, item.deletable))

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
    return path.rstrip("/").rsplit("/", 1)[-1].strip("{}")


#: the members that name an item where its path template's name is not one of them
#: (``/articles/{slug}``, ``/items/{item_id}``, ``/projects/{key}``): tried in this order
KEY_NAMES = ("id", "slug", "key", "number", "uuid", "code", "name")


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and value != ""


def _candidates(name: str) -> list[str]:
    """The members an item's key may be in, for the template ``{name}``: the name itself, then
    ``id`` and the stem for ``item_id``/``itemId``, then the usual keys."""
    found = [name]
    for suffix in ("_id", "Id", "ID"):
        if name.endswith(suffix) and len(name) > len(suffix):
            found += ["id", name[: -len(suffix)]]
    return found + [key for key in KEY_NAMES if key not in found]


def key_of(name: str, data: Any, *, exact: bool = False) -> Any:
    """The value of the key ``{name}`` names in ``data`` (a create's answer), looking also inside a
    body that wraps the resource in one member (Conduit's ``{"article": {…}}``); None if none.
    ``exact``: the member of that very name only (a change's answer moves an item only when it
    says so)."""
    if not isinstance(data, dict):
        return None
    bodies = [data]
    if len(data) == 1 and isinstance(next(iter(data.values())), dict):
        bodies.append(next(iter(data.values())))
    for candidate in [name] if exact else _candidates(name):
        for body in bodies:
            if _scalar(body.get(candidate)):
                return body[candidate]
    return None


def names_key(name: str, data: Any) -> bool:
    """Whether ``data`` (or the one object it wraps) has the member ``name`` at all, usable as a
    key or not (an empty slug)."""
    if not isinstance(data, dict):
        return False
    inner = next(iter(data.values())) if len(data) == 1 else None
    return name in data or (isinstance(inner, dict) and name in inner)


def template_names(path: str) -> list[str]:
    """Every template's name in ``path``, in order: ``["slug", "id"]`` for
    ``/articles/{slug}/comments/{id}``."""
    return re.findall(r"\{([^{}/]+)\}", path)


def filled(template: str, values: Mapping[str, Any]) -> str | None:
    """``template`` with each ``{name}`` replaced by its value, or None when one is missing."""
    names = template_names(template)
    if any(values.get(name) is None for name in names):
        return None
    for name in names:
        template = template.replace("{" + name + "}", str(values[name]))
    return template


def matches(template: str, path: str) -> dict[str, str] | None:
    """The values of ``template``'s parameters when ``path`` is one of its items, else None."""
    pattern = re.sub(r"\\\{([^{}/]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    try:
        found = re.fullmatch(pattern, path)
    except re.error:  # a template name that is no group name (``{item-id}``)
        return None
    return dict(found.groupdict()) if found else None


def item_path_of(
    resource: Resource,
    data: Any,
    parameters: Mapping[str, Any] | None = None,
    location: str | None = None,
    base_path: str = "",
) -> str | None:
    """The concrete item path of the resource a create answered with: the path its ``Location``
    header names, where it is one of the resource's items; else the item template filled with
    the create's own path parameters (a parent's ``slug``) and the key the answer holds (the
    member the template names, ``id``, a slug, a key … `key_of`)."""
    if location:
        path = urllib.parse.urlsplit(location).path
        if base_path and path.startswith(base_path.rstrip("/") + "/"):
            path = path[len(base_path.rstrip("/")) :]
        if matches(resource.item_path, path) is not None:
            return path
    name = template_name(resource.item_path)
    value = key_of(name, data)
    if value is None:
        return None
    return filled(resource.item_path, {**(parameters or {}), name: value})


class Cleanup:
    """Removes what the journal holds on one API and writes its singletons back; at the start of
    a run (what a killed one left) and at its end (also after Ctrl-C)."""

    def __init__(
        self, journal: Journal, client: RunClient, singletons: Singletons | None = None
    ) -> None:
        self.journal, self.client, self.singletons = journal, client, singletons
        #: the API refused a delete without ``If-Match``: each delete reads the item's first
        self._preconditions = False

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
            if why is None or why is ALREADY_GONE:
                self.journal.removed(item.path)
                if why is None:  # one gone before (with its parent, a moved key) is not counted
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
        """None when the item was deleted now, `ALREADY_GONE` when it was not there, else why it
        could not be removed. The delete is sent at once; an
        API that wants ``If-Match`` (428, or 412 to none) gets it from a ``GET`` first, and from
        then on for every item: half the requests on an API without preconditions."""
        try:
            if not self._preconditions:
                answer = self.client.send("DELETE", path)
                if answer.status_code not in PRECONDITION:
                    return self._gone(answer)
                self._preconditions = True
            now = self.client.send("GET", path)
            if now.status_code in (404, 410):
                return ALREADY_GONE
            etag = now.headers.get("ETag")
            answer = self.client.send("DELETE", path, {"If-Match": etag} if etag else {})
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return self._gone(answer)

    @staticmethod
    def _gone(answer: httpx.Response) -> str | None:
        if answer.status_code < 300:
            return None
        if answer.status_code in (404, 410):
            return ALREADY_GONE
        return f"DELETE answered {answer.status_code}"
