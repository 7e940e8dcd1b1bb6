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
    #: whether the spec makes any root declaration (x-contract, x-roles, x-auth-flow …)
    declares_contract: bool
    #: whether the spec declares ``x-contract: strict``; without it the house style gives notes
    strict: bool

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.FINDING for f in self.findings)

    @property
    def relaxed_rules(self) -> tuple[str, ...]:
        """The ids of the rules that gave notes only because the spec is not strict."""
        return tuple(sorted({f.rule.id for f in self.findings if f.relaxed}))


def lint_spec(spec: Spec, *, ignore: Iterable[str] = ()) -> LintResult:
    """Every rule (but those in ``ignore``, by id or name) applied to ``spec``.

    A rule of the house style (`Scope.STRICT` in the catalogue) gives notes, not findings, on a
    spec without ``x-contract: strict``, but for the faults of the document it reports
    (`Problem.unsound`); the rules of the document's soundness give findings on any spec.
    """
    skipped = set(ignore)
    context = LintContext(spec)
    strict = spec.declarations.strict
    findings: list[Finding] = []
    for found_rule in ordered_rules():
        if found_rule.id in skipped or found_rule.name in skipped:
            continue
        relax = found_rule.strict_only and not strict
        for problem in found_rule.check(context):
            relaxed = relax and not problem.unsound and not problem.note
            # a part an overlay wrote is reported at the overlay's line that wrote it
            path, line = problem.where or spec.document.origin_of(problem.pointer)
            findings.append(
                Finding(
                    rule=found_rule,
                    path=path,
                    pointer=problem.pointer,
                    line=line,
                    message=problem.message,
                    fix=problem.fix,
                    severity=Severity.NOTE if relaxed or problem.note else Severity.FINDING,
                    relaxed=relaxed,
                )
            )
    findings.sort(key=lambda f: (f.line or 0, f.rule.id, f.pointer))
    return LintResult(spec.path, tuple(findings), spec.declarations.declares_contract, strict)


def lint_path(
    path: Path | str, *, ignore: Iterable[str] = (), overlays: Iterable[Path | str] = ()
) -> LintResult:
    """Read and lint the spec at ``path``, with ``overlays`` (OpenAPI Overlay files) applied
    first; raises `SpecError` for a file that is not OpenAPI, or not an overlay."""
    return lint_spec(load_spec(path, overlays), ignore=ignore)


def rule_by_key(key: str) -> Rule | None:
    """The rule with this id (``CT201``) or name (``input-400``)."""
    for candidate in RULES.values():
        if key in (candidate.id, candidate.name):
            return candidate
    return None
