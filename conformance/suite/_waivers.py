"""Waivers: known failures a team has accepted for a while (``waivers.toml``).

    [[waiver]]
    rule = "no_leaks"                 # a rule of the catalogue (a check, a scenario rule …)
    operation = "createFeatureFlag"   # an operationId ... or: scenario = "conflicts"
    api = "gloria"                    # optional: only on this API
    reason = "echoes the client's request id; fix in BUG-12"
    ticket = "BUG-12"
    expires = 2026-12-31              # a date; the waiver holds through that day

A failure a waiver in force matches is reported as waived and does not fail the gate (an
operation or scenario whose every failure is waived is ``waived``). A waiver past its date
fails the gate, naming it, whether or not it still matches anything. One in force that matches
nothing in a run is reported as stale. A malformed file or entry is a `ConfigError` (exit 3).
``rule = "exercised"`` waives an operation that saw no documented 2xx.
The same file may hold ``[[diff-waiver]]`` sections: ``conformance diff``'s, left to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance import catalogue
from conformance.catalogue import Kind
from conformance.config import expiry_date, waiver_texts
from conformance.errors import ConfigError
from conformance.verdict import (
    OperationVerdict,
    Outcome,
    ScenarioVerdict,
    Waivers,
    WaiverUse,
)

#: the file a run reads when there is one in the current directory
DEFAULT_WAIVERS_FILE = Path("waivers.toml")
#: a waiver this close to its date is reported as expiring
EXPIRING_DAYS = 14
_KEYS = {"rule", "operation", "scenario", "api", "reason", "ticket", "expires"}


@dataclass(frozen=True, slots=True)
class Waiver:
    number: int  #: its place in the file, from 1
    rule: str
    reason: str
    ticket: str
    expires: dt.date
    operation: str | None = None
    scenario: str | None = None
    api: str | None = None

    @property
    def name(self) -> str:
        where = self.operation or f"scenario {self.scenario}"
        on = f"{self.api} {where}" if self.api else where
        return f"waiver #{self.number} ({self.rule} on {on}, {self.ticket})"

    def in_force(self, today: dt.date) -> bool:
        return today <= self.expires

    def covers_operation(self, api: str, operation_id: str, rule: str) -> bool:
        return self.operation == operation_id and self.rule == rule and self.api in (None, api)

    def covers_scenario(self, api: str, scenario: str, rule: str) -> bool:
        return self.scenario == scenario and self.rule == rule and self.api in (None, api)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "rule": self.rule, "api": self.api, "operation": self.operation,
            "scenario": self.scenario, "reason": self.reason, "ticket": self.ticket,
            "expires": self.expires.isoformat(),
        }  # fmt: skip


#: the kinds of catalogue rule a run judges by, and so a waiver may name (not the linter's)
WAIVABLE = (Kind.SCHEMATHESIS, Kind.CHECK, Kind.GATE, Kind.SCENARIO, Kind.PROBE)


def known_rules() -> set[str]:
    """Every rule a waiver may name: the catalogue's rules a run judges by (`WAIVABLE`), and any
    check a user registered with schemathesis beside them."""
    import schemathesis.specs.openapi.checks  # noqa: F401  (registers the built-in checks)
    from schemathesis.checks import CHECKS

    import conformance.checks  # noqa: F401  (registers ours)

    return {*catalogue.ids(*WAIVABLE), *CHECKS.get_all_names()}


def parse_waivers(path: Path, data: Mapping[str, Any], rules: Iterable[str]) -> list[Waiver]:
    """The waivers of the file ``path`` (its tables: ``data``, as `conformance.config.read_toml`
    reads them); a `ConfigError` naming the entry and the fix for a bad one."""
    unknown = set(data) - {"waiver", "diff-waiver"}  # a diff's own ([[diff-waiver]]) are not ours
    if unknown:
        raise ConfigError(f"{path}: unknown table {sorted(unknown)[0]!r}; write [[waiver]] entries")
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: write each waiver as a [[waiver]] table")
    known = set(rules)
    return [_waiver(path, number, entry, known) for number, entry in enumerate(entries, 1)]


def _waiver(path: Path, number: int, entry: Mapping[str, Any], known: set[str]) -> Waiver:
    where = f"{path}: waiver #{number}"
    texts = waiver_texts(where, entry, _KEYS, ("rule", "reason", "ticket"), "waiver")
    rule = entry["rule"]
    if rule not in known:
        raise ConfigError(
            f"{where}: unknown rule {rule!r}; name a check (as in verdict.json's failures) or a"
            " scenario rule (as in its failures)"
        )
    expires = expiry_date(where, entry.get("expires"))
    targets = [key for key in ("operation", "scenario") if entry.get(key)]
    if len(targets) != 1:
        raise ConfigError(f"{where}: name one operation (its operationId) or one scenario")
    for key in ("operation", "scenario", "api"):
        if key in entry and not isinstance(entry[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    return Waiver(
        number, rule, texts["reason"], texts["ticket"], expires,
        operation=entry.get("operation"), scenario=entry.get("scenario"), api=entry.get("api"),
    )  # fmt: skip


def report(waivers: Iterable[Waiver], used: Iterable[str], today: dt.date) -> Waivers:
    """verdict.json's ``waivers``: in force (and whether each was used), expiring, expired,
    stale (in force, matched nothing)."""
    names = set(used)
    found = Waivers()
    for waiver in waivers:
        entry = WaiverUse(**waiver.as_json(), used=waiver.name in names)
        if not waiver.in_force(today):
            found.expired.append(entry)
            continue
        entry.expiring = (waiver.expires - today).days <= EXPIRING_DAYS
        found.in_force.append(entry)
        if not entry.used:
            found.stale.append(entry)
    return found


def waive_operation(verdict: OperationVerdict, waivers: Iterable[Waiver], today: dt.date) -> None:
    """Mark the failures of an `OperationVerdict` that a waiver in force covers; an operation
    left with nothing but waived failures is ``waived``."""
    if verdict.outcome not in (Outcome.FAILED, Outcome.NOT_EXERCISED) or verdict.errors:
        return
    active = [waiver for waiver in waivers if waiver.in_force(today)]

    def cover(rule: str) -> Waiver | None:
        return next(
            (w for w in active if w.covers_operation(verdict.api, verdict.operation_id, rule)),
            None,
        )

    verdict.failures = [
        dataclasses.replace(failure, waived=found.name)
        if (found := cover(failure.check)) is not None
        else failure
        for failure in verdict.failures
    ]
    used = {failure.waived for failure in verdict.failures if failure.waived}
    exercised = bool(verdict.documented_2xx_seen) or not verdict.exercise_required
    if not exercised and (found := cover("exercised")) is not None:
        exercised = True
        used.add(found.name)
    if exercised and all(failure.waived for failure in verdict.failures):
        verdict.outcome, verdict.reason = Outcome.WAIVED, "; ".join(sorted(used))


def waive_scenario(verdict: ScenarioVerdict, waivers: Iterable[Waiver], today: dt.date) -> None:
    """The same for a `ScenarioVerdict`: its failures by rule."""
    if verdict.outcome != Outcome.FAILED or not verdict.failures:
        return
    active = [waiver for waiver in waivers if waiver.in_force(today)]
    for failure in verdict.failures:
        found = next(
            (w for w in active if w.covers_scenario(verdict.api, verdict.name, failure.rule)),
            None,
        )
        if found is not None:
            failure.waived = found.name
    if all(failure.waived for failure in verdict.failures):
        verdict.outcome = Outcome.WAIVED
        verdict.reason = "; ".join(sorted({failure.waived for failure in verdict.failures}))


def used_names(
    verdicts: Iterable[OperationVerdict],
    scenarios: Iterable[ScenarioVerdict],
    waivers: Iterable[Waiver],
    today: dt.date,
) -> set[str]:
    """The waivers that covered something in a run (from its verdicts, merged from workers):
    those its failures name, and the ``exercised`` ones of waived operations without a 2xx."""
    verdicts = list(verdicts)
    names = {f.waived for v in verdicts for f in v.failures if f.waived}
    names |= {f.waived for s in scenarios for f in s.failures if f.waived}
    unexercised = [
        v for v in verdicts if v.outcome == Outcome.WAIVED and not v.documented_2xx_seen
    ]  # fmt: skip
    names |= {
        waiver.name
        for waiver in waivers
        for v in unexercised
        if waiver.in_force(today) and waiver.covers_operation(v.api, v.operation_id, "exercised")
    }
    return names
