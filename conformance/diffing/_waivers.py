"""Diff waivers: breaking changes a team has accepted, in the run's waiver file
(``waivers.toml``) but in a section of their own, with the run's format and expiry::

    [[diff-waiver]]
    change = "removed-without-deprecation"   # a diff rule of the catalogue
    path = "DELETE /flags/{id}"              # an operation (METHOD /path, or a path: any method)
    reason = "the admin UI was its only client, and it moved to bulk delete"
    ticket = "API-311"
    expires = 2026-12-31

    [[diff-waiver]]
    change = "rate-limit-lowered"
    pointer = "/x-rate-limit"                # or a JSON pointer, for a change of the whole spec
    ...

A change a waiver in force accepts is listed as waived and does not fail the gate; a diff
waiver past its date fails the gate, naming it. The run's ``[[waiver]]`` entries are not read
here (nor their expiry), and the run's reader lets these sections be. A malformed entry is a
`ConfigError` (exit 3). The date is read as the run reads it (`config.expiry_date`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.config import expiry_date, read_toml, waiver_texts
from conformance.contract import normalized_template
from conformance.diffing._model import RULES, Change
from conformance.errors import ConfigError

SECTION = "diff-waiver"
_KEYS = {"change", "path", "pointer", "reason", "ticket", "expires"}


@dataclass(frozen=True, slots=True)
class DiffWaiver:
    number: int  #: its place among the file's diff waivers, from 1
    change: str
    reason: str
    ticket: str
    expires: dt.date
    #: ``METHOD /path`` or ``/path`` (any method)
    path: str | None = None
    pointer: str | None = None

    @property
    def name(self) -> str:
        where = self.path or self.pointer
        return f"diff waiver #{self.number} ({self.change} on {where}, {self.ticket})"

    def in_force(self, today: dt.date) -> bool:
        return today <= self.expires

    def covers(self, found: Change) -> bool:
        if found.rule != self.change:
            return False
        if self.pointer is not None:
            return found.pointer == self.pointer or found.pointer.startswith(self.pointer + "/")
        if found.operation is None or self.path is None:
            return False
        method, _, path = found.operation.partition(" ")
        wanted_method, _, wanted_path = self.path.rpartition(" ")
        if wanted_method and wanted_method.upper() != method:
            return False
        return normalized_template(wanted_path) == normalized_template(path)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "change": self.change, "path": self.path, "pointer": self.pointer,
            "reason": self.reason, "ticket": self.ticket, "expires": self.expires.isoformat(),
        }  # fmt: skip


def read_diff_waivers(path: Path) -> list[DiffWaiver]:
    """The ``[[diff-waiver]]`` entries of the file at ``path``."""
    return parse_diff_waivers(path, read_toml(path))


def parse_diff_waivers(path: Path, data: Mapping[str, Any]) -> list[DiffWaiver]:
    entries = data.get(SECTION, [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: write each diff waiver as a [[{SECTION}]] table")
    return [_waiver(path, number, entry) for number, entry in enumerate(entries, 1)]


def _waiver(path: Path, number: int, entry: Any) -> DiffWaiver:
    where = f"{path}: diff waiver #{number}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: write it as a [[{SECTION}]] table")
    texts = waiver_texts(where, entry, _KEYS, ("change", "reason", "ticket"), "diff waiver")
    if entry["change"] not in RULES:
        raise ConfigError(
            f"{where}: unknown change {entry['change']!r}; `conformance diff --list-rules` lists"
            " the change ids"
        )
    expires = expiry_date(where, entry.get("expires"))
    places = [key for key in ("path", "pointer") if key in entry]
    if len(places) != 1 or not all(isinstance(entry[key], str) for key in places):
        raise ConfigError(
            f'{where}: name one path ("DELETE /flags/{{id}}" or "/flags/{{id}}") or one'
            ' pointer ("/x-rate-limit")'
        )
    found = {key: entry[key].strip() for key in places}
    if "pointer" in found and not found["pointer"].startswith("/"):
        raise ConfigError(f"{where}: pointer {found['pointer']!r} must start with '/'")
    if "path" in found and "/" not in found["path"]:
        raise ConfigError(f"{where}: path {found['path']!r} must be /path or METHOD /path")
    return DiffWaiver(
        number, entry["change"], texts["reason"], texts["ticket"], expires,
        path=found.get("path"), pointer=found.get("pointer"),
    )  # fmt: skip


def waive(changes: Iterable[Change], waivers: Iterable[DiffWaiver], today: dt.date) -> list[Change]:
    """``changes``, each a waiver in force accepts marked with its name."""
    active = [waiver for waiver in waivers if waiver.in_force(today)]
    marked = []
    for found in changes:
        waiver = next((w for w in active if w.covers(found)), None)
        marked.append(found.waived_by(waiver.name) if waiver else found)
    return marked
