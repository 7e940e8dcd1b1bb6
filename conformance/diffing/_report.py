"""What a diff says: the gate's verdict over its changes (`DiffResult`), and its three forms,
the terminal's (changes grouped by operation), JSON (``conformance-diff/1``) and Markdown (a
CI job summary: ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.diffing._model import RULES, Change, ChangeClass, change, class_of
from conformance.diffing._waivers import DiffWaiver
from conformance.errors import ExitCode

SCHEMA = "conformance-diff/1"
#: the rule of an answer of the new backend that an old client cannot take (``--target``)
OLD_CLIENT_BROKEN = change("old-client-broken")
ROOT_GROUP = "the whole spec"


@dataclass(frozen=True, slots=True)
class Replayed:
    """What ``--target`` did: how many requests it sent to how many operations, and why it
    stopped where it did."""

    url: str
    requests: int
    operations: int
    skipped: tuple[str, ...] = ()
    cut_short: str = ""


@dataclass(frozen=True, slots=True)
class DiffResult:
    old: str
    new: str
    changes: list[Change]
    #: the class that fails the gate, and every worse one
    fail_on: ChangeClass = ChangeClass.BREAKING
    waivers: list[DiffWaiver] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    replayed: Replayed | None = None

    @property
    def expired(self) -> list[DiffWaiver]:
        return [waiver for waiver in self.waivers if not waiver.in_force(self.today)]

    @property
    def failing(self) -> list[Change]:
        """The changes that fail the gate: of the failing classes, and waived by none."""
        return [
            found for found in self.changes
            if found.change_class.rank <= self.fail_on.rank and not found.waived
        ]  # fmt: skip

    @property
    def passed(self) -> bool:
        return not self.failing and not self.expired

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FAILED

    def count(self, kind: ChangeClass) -> int:
        return sum(1 for found in self.changes if found.change_class is kind)

    @property
    def verdict(self) -> str:
        """The one sentence that ends every form."""
        counts = ", ".join(f"{self.count(kind)} {kind.value}" for kind in ChangeClass)
        waived = sum(1 for found in self.changes if found.waived)
        tally = f"{len(self.changes)} change{'s' * (len(self.changes) != 1)} ({counts}"
        tally += f", {waived} waived)" if waived else ")"
        if self.passed:
            worse = "breaking" if self.fail_on is ChangeClass.BREAKING else "breaking or warning"
            return f"{tally}: passed, no {worse} change that old clients would feel"
        reasons = []
        if self.failing:
            classes = sorted({found.change_class.value for found in self.failing})
            reasons.append(f"{len(self.failing)} {' or '.join(classes)} not waived")
        if self.expired:
            names = "; ".join(waiver.name for waiver in self.expired)
            reasons.append(f"expired: {names}")
        return f"{tally}: failed, {', '.join(reasons)}"


def _groups(changes: list[Change]) -> Iterator[tuple[str, list[Change]]]:
    """The changes by operation, the whole spec's first, each operation in the order met."""
    found: dict[str, list[Change]] = {}
    for each in changes:
        key = ROOT_GROUP if each.operation is None else each.operation
        found.setdefault(key, []).append(each)
    if ROOT_GROUP in found:
        yield ROOT_GROUP, found.pop(ROOT_GROUP)
    yield from found.items()


def _heading(group: str, changes: list[Change]) -> str:
    ids = {found.operation_id for found in changes if found.operation_id}
    return f"{group} ({sorted(ids)[0]})" if len(ids) == 1 else group


def _tag(change: Change) -> str:
    return (
        f"[{change.change_class.value}, waived]"
        if change.waived
        else f"[{change.change_class.value}]"
    )


def as_text(result: DiffResult) -> str:
    lines = [f"conformance diff {result.old} {result.new}"]
    if result.replayed is not None:
        lines.append(_replay_line(result.replayed))
    for group, changes in _groups(result.changes):
        lines.append(_heading(group, changes))
        for found in sorted(changes, key=lambda c: c.change_class.rank):
            lines.append(
                f"  {_tag(found)} {found.rule}  {found.pointer}  {found.explanation}"
                f" ({_consequence(found)})"
            )
            lines += [f"      {line}" for line in found.detail]
            if found.waived:
                lines.append(f"      waived by {found.waived}")
    for waiver in result.expired:
        lines.append(f"expired: {waiver.name} expired {waiver.expires.isoformat()}")
    lines.append(result.verdict)
    return "\n".join(lines) + "\n"


def _consequence(change: Change) -> str:
    """The rule's words after their colon: which client it breaks."""
    return change.words.split(": ", 1)[-1]


def _replay_line(replayed: Replayed) -> str:
    said = (
        f"replayed {replayed.requests} request{'s' * (replayed.requests != 1)} of the old spec"
        f" on {replayed.operations} operation{'s' * (replayed.operations != 1)} against"
        f" {replayed.url}"
    )
    if replayed.skipped:
        said += f"; left out: {'; '.join(replayed.skipped)}"
    if replayed.cut_short:
        said += f"; {replayed.cut_short}"
    return said


def as_json(result: DiffResult) -> str:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "old": result.old,
        "new": result.new,
        "verdict": "passed" if result.passed else "failed",
        "fail_on": result.fail_on.value,
        "summary": result.verdict,
        "counts": {
            **{kind.value: result.count(kind) for kind in ChangeClass},
            "waived": sum(1 for found in result.changes if found.waived),
        },
        "changes": [_change_json(found) for found in result.changes],
        "waivers": {
            "in_force": [w.as_json() for w in result.waivers if w.in_force(result.today)],
            "expired": [w.as_json() for w in result.expired],
        },
        "replay": None
        if result.replayed is None
        else {
            "url": result.replayed.url,
            "requests": result.replayed.requests,
            "operations": result.replayed.operations,
            "skipped": list(result.replayed.skipped),
            "cut_short": result.replayed.cut_short or None,
        },
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def _change_json(change: Change) -> dict[str, Any]:
    return {
        "id": change.rule,
        "class": change.change_class.value,
        "operation": change.operation,
        "operation_id": change.operation_id,
        "pointer": change.pointer,
        "old": change.old,
        "new": change.new,
        "explanation": change.explanation,
        "words": change.words,
        "waived": change.waived,
        "detail": list(change.detail),
    }


def as_markdown(result: DiffResult) -> str:
    mark = "✅ passed" if result.passed else "❌ failed"
    lines = [f"## conformance diff: {mark}", "", f"`{result.old}` → `{result.new}`", ""]
    lines += [result.verdict, ""]
    if result.replayed is not None:
        lines += [_replay_line(result.replayed), ""]
    if result.changes:
        lines += ["| class | change | operation | where | what |", "|---|---|---|---|---|"]
        for group, changes in _groups(result.changes):
            for found in sorted(changes, key=lambda c: c.change_class.rank):
                what = f"{found.explanation} ({_consequence(found)})"
                if found.waived:
                    what += f"; waived by {found.waived}"
                cells = [
                    _tag(found).strip("[]"), f"`{found.rule}`", _heading(group, changes),
                    f"`{found.pointer}`", what,
                ]  # fmt: skip
                lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    if result.expired:
        lines += ["### Expired diff waivers", ""]
        lines += [f"- {w.name}, expired {w.expires.isoformat()}" for w in result.expired]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_rules() -> list[str]:
    """One line per diff rule: its id, its class and its words (``--list-rules``)."""
    return [
        f"{rule_id}  [{class_of(rule_id).value}]  {RULES[rule_id].words}"
        for rule_id in sorted(RULES, key=lambda r: (_rank(r), r))
    ]


def _rank(rule_id: str) -> int:
    return class_of(rule_id).rank
