"""The linter's output: one line per problem, or one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.lint._model import RULES, Finding, Severity
from conformance.lint._runner import LintResult

#: Notes of one rule shown before "... and N more" (``--verbose`` shows all).
NOTES_SHOWN_PER_RULE = 3


def format_finding(finding: Finding) -> str:
    """``file:line: #/pointer: CT201 input-400: what is wrong; fix: the fix``."""
    where = f"{finding.path}:{finding.line}" if finding.line else str(finding.path)
    kind = "note " if finding.severity is Severity.NOTE else ""
    return (
        f"{where}: #{finding.pointer}: {kind}{finding.rule.id} {finding.rule.name}:"
        f" {finding.message}; fix: {finding.fix}"
    )


def format_text(results: Sequence[LintResult], *, verbose: bool = False) -> list[str]:
    lines: list[str] = []
    for result in results:
        notes_shown: dict[str, int] = {}
        hidden: dict[str, int] = {}
        for finding in result.findings:
            if finding.severity is Severity.NOTE and not verbose:
                shown = notes_shown.get(finding.rule.id, 0)
                if shown >= NOTES_SHOWN_PER_RULE:
                    hidden[finding.rule.id] = hidden.get(finding.rule.id, 0) + 1
                    continue
                notes_shown[finding.rule.id] = shown + 1
            lines.append(format_finding(finding))
        for rule_id, count in hidden.items():
            rule = RULES[rule_id]
            lines.append(
                f"{result.path}: note {rule.id} {rule.name}: {count} more like the above"
                " (--verbose shows them)"
            )
        if not result.declares_contract:
            lines.append(
                f"{result.path}: note: no x-roles, x-auth-flow, x-rate-limit or"
                " x-latency-budget-ms at the root, so the rules that need them gave notes only"
            )
    return lines


def summary(results: Sequence[LintResult]) -> str:
    findings = sum(f.severity is Severity.FINDING for r in results for f in r.findings)
    notes = sum(f.severity is Severity.NOTE for r in results for f in r.findings)
    specs = f"{len(results)} spec{'s' if len(results) != 1 else ''}"
    if findings:
        return f"{specs} linted: {findings} finding{'s' if findings != 1 else ''}, {notes} notes"
    return f"{specs} linted: clean ({notes} note{'s' if notes != 1 else ''})"


def as_json(results: Sequence[LintResult], errors: Sequence[str]) -> str:
    """One JSON document: every finding and note, and the files that could not be read."""

    def finding(f: Finding) -> dict[str, Any]:
        return {
            "file": str(f.path),
            "line": f.line,
            "pointer": f"#{f.pointer}",
            "rule": f.rule.id,
            "name": f.rule.name,
            "severity": f.severity.value,
            "message": f.message,
            "fix": f.fix,
        }

    document = {
        "version": 1,
        "specs": [
            {
                "file": str(r.path),
                "declares_contract": r.declares_contract,
                "findings": [finding(f) for f in r.findings],
            }
            for r in results
        ],
        "errors": list(errors),
    }
    return json.dumps(document, indent=2)
