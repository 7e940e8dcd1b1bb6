"""The linter's output: one line per problem, or one JSON document."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from conformance.lint._model import Finding, Severity, ordered_rules
from conformance.lint._runner import LintResult


def format_finding(finding: Finding) -> str:
    """``file:line: #/pointer: CT201 input-400: what is wrong; fix: the fix``."""
    where = f"{finding.path}:{finding.line}" if finding.line else str(finding.path)
    kind = "note " if finding.severity is Severity.NOTE else ""
    return (
        f"{where}: #{finding.pointer}: {kind}{finding.rule.id} {finding.rule.name}:"
        f" {finding.message}; fix: {finding.fix}"
    )


def format_text(results: Sequence[LintResult], *, verbose: bool = False) -> list[str]:
    """Every finding and note, but the notes of the house style on a spec that does not declare
    ``x-contract: strict``: those are counted in one sentence (``verbose`` lists them too).

    On a third-party spec they run to hundreds, and what breaks the document must not drown.
    """
    lines: list[str] = []
    for result in results:
        lines += [format_finding(f) for f in result.findings if verbose or not f.relaxed]
        if result.relaxed_rules:
            lines.append(relaxed_sentence(result, verbose=verbose))
    return lines


def relaxed_sentence(result: LintResult, *, verbose: bool = False) -> str:
    """One sentence: which rules gave notes only because the spec is not strict, and how many."""
    counts = Counter(f.rule.id for f in result.findings if f.relaxed)
    rules = ", ".join(f"{rule_id} ({counts[rule_id]})" for rule_id in result.relaxed_rules)
    total = sum(counts.values())
    listed = "" if verbose else " (--verbose lists them)"
    return (
        f"{result.path}: note: the spec does not declare x-contract: strict, so the house-style"
        f" rules {rules} gave {total} note{'s' if total != 1 else ''}, not findings{listed}"
    )


def format_rules() -> list[str]:
    """``--list-rules``: one line per rule, saying which are notes on a spec that is not strict."""
    return [
        f"{rule.id}  {rule.name:<22} {rule.summary}"
        + (" (a note unless the spec declares x-contract: strict)" if rule.strict_only else "")
        for rule in ordered_rules()
    ]


def summary(results: Sequence[LintResult]) -> str:
    findings = sum(f.severity is Severity.FINDING for r in results for f in r.findings)
    notes = sum(f.severity is Severity.NOTE for r in results for f in r.findings)
    specs = f"{len(results)} spec{'s' if len(results) != 1 else ''}"
    if findings:
        return f"{specs} linted: {findings} finding{'s' if findings != 1 else ''}, {notes} notes"
    return f"{specs} linted: clean ({notes} note{'s' if notes != 1 else ''})"


def as_json(results: Sequence[LintResult], errors: Sequence[str]) -> str:
    """One JSON document: every finding and note, and the files that could not be read.

    A note with ``relaxed`` true is a finding under ``x-contract: strict``; each spec's
    ``relaxed_rules`` lists those rules.
    """

    def finding(f: Finding) -> dict[str, Any]:
        return {
            "file": str(f.path),
            "line": f.line,
            "pointer": f"#{f.pointer}",
            "rule": f.rule.id,
            "name": f.rule.name,
            "severity": f.severity.value,
            "relaxed": f.relaxed,
            "message": f.message,
            "fix": f.fix,
        }

    document = {
        "version": 1,
        "specs": [
            {
                "file": str(r.path),
                "declares_contract": r.declares_contract,
                "strict": r.strict,
                # the rules that gave notes only because the spec is not strict
                "relaxed_rules": list(r.relaxed_rules),
                "findings": [finding(f) for f in r.findings],
            }
            for r in results
        ],
        "errors": list(errors),
    }
    return json.dumps(document, indent=2)
