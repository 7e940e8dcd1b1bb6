"""What the linter reports, and the registry of its rules."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.contract import (
    Resource,
    Singleton,
    Spec,
    UnresolvedReference,
    resources,
    singletons,
    walk_mappings,
)

if TYPE_CHECKING:
    from conformance.contract import Operation


class Severity(enum.Enum):
    FINDING = "finding"  #: breaks the contract: lint exits 1
    NOTE = "note"  #: worth knowing; does not change the exit code


@dataclass(frozen=True, slots=True)
class Problem:
    """What a rule yields: where, what is wrong, and the fix."""

    pointer: str
    message: str
    fix: str
    #: worth saying, but not a breach of the contract (e.g. a legitimately absent declaration)
    note: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the linter's report."""

    rule: Rule
    path: Path
    pointer: str
    line: int | None
    message: str
    fix: str
    severity: Severity = Severity.FINDING


class LintContext:
    """A spec being linted, with what several rules derive from it computed once."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @cached_property
    def resources(self) -> tuple[Resource, ...]:
        return resources(self.spec)

    @cached_property
    def singletons(self) -> tuple[Singleton, ...]:
        return singletons(self.spec)

    @cached_property
    def broken_refs(self) -> tuple[tuple[str, UnresolvedReference], ...]:
        """``(pointer of the $ref, why it leads nowhere)`` for each broken reference."""
        broken = []
        for node, pointer in walk_mappings(self.spec.data):
            if isinstance(node.get("$ref"), str):
                try:
                    self.spec.resolve(node, pointer)
                except UnresolvedReference as exc:
                    broken.append((pointer, exc))
        return tuple(broken)

    def operations(self) -> Iterator[Operation]:
        return iter(self.spec.operations)


Check = Callable[[LintContext], Iterator[Problem]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A contract rule: a stable id (``CT201``), a name, and the check that applies it."""

    id: str
    name: str
    summary: str  #: one line: what the rule holds a spec to
    check: Check = field(repr=False, compare=False)
    #: needs the spec's x- declarations: on a spec without any, its findings become notes
    needs_declarations: bool = False

    @property
    def section(self) -> str:
        """The CONTRACT.md section the rule comes from ("§2"), or "" for document structure."""
        digit = self.id[2]
        return f"§{digit}" if digit in "12345678" else ""


RULES: dict[str, Rule] = {}


def ordered_rules() -> list[Rule]:
    """Every registered rule in id order (the order of CONTRACT.md), whatever the import order."""
    return [RULES[rule_id] for rule_id in sorted(RULES)]


def rule(
    rule_id: str, name: str, summary: str, *, needs_declarations: bool = False
) -> Callable[[Check], Check]:
    """Register ``check`` as the rule ``rule_id``; ids and names are unique and never reused."""

    def register(check: Check) -> Check:
        if rule_id in RULES or any(r.name == name for r in RULES.values()):
            raise ValueError(f"rule {rule_id} {name} is registered twice")
        RULES[rule_id] = Rule(rule_id, name, summary, check, needs_declarations)
        return check

    return register
