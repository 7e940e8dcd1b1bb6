"""Applying the rules to a spec."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from conformance.contract import Spec, load_spec
from conformance.lint._model import RULES, Finding, LintContext, Rule, Severity, ordered_rules


@dataclass(frozen=True, slots=True)
class LintResult:
    """The findings and notes of one spec."""

    path: Path
    findings: tuple[Finding, ...]
    #: False for a third-party spec: the rules that need x- declarations gave notes only
    declares_contract: bool

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.FINDING for f in self.findings)


def lint_spec(spec: Spec, *, ignore: Iterable[str] = ()) -> LintResult:
    """Every rule (but those in ``ignore``, by id or name) applied to ``spec``."""
    skipped = set(ignore)
    context = LintContext(spec)
    declares = spec.declarations.declares_contract
    findings: list[Finding] = []
    for found_rule in ordered_rules():
        if found_rule.id in skipped or found_rule.name in skipped:
            continue
        downgrade = found_rule.needs_declarations and not declares
        for problem in found_rule.check(context):
            severity = Severity.NOTE if downgrade or problem.note else Severity.FINDING
            findings.append(
                Finding(
                    rule=found_rule,
                    path=spec.path,
                    pointer=problem.pointer,
                    line=spec.document.line_of(problem.pointer),
                    message=problem.message,
                    fix=problem.fix,
                    severity=severity,
                )
            )
    findings.sort(key=lambda f: (f.line or 0, f.rule.id, f.pointer))
    return LintResult(spec.path, tuple(findings), declares)


def lint_path(path: Path | str, *, ignore: Iterable[str] = ()) -> LintResult:
    """Read and lint the spec at ``path``; raises `SpecError` for a file that is not OpenAPI."""
    return lint_spec(load_spec(path), ignore=ignore)


def rule_by_key(key: str) -> Rule | None:
    """The rule with this id (``CT201``) or name (``input-400``)."""
    for candidate in RULES.values():
        if key in (candidate.id, candidate.name):
            return candidate
    return None
