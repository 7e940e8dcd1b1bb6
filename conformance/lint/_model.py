"""What the linter reports, and the registry of its rules."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from conformance import catalogue
from conformance.catalogue import Kind, Scope
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
    #: a fault of the document itself inside a rule of the house style (a malformed x-
    #: declaration, which the backend and the suite refuse; a duplicate operationId, which
    #: OpenAPI forbids): a finding on any spec, with or without ``x-contract: strict``
    unsound: bool = False
    #: the file and line of a problem outside the spec (an overlay's action); None: the
    #: pointer is in the spec, and says where
    where: tuple[Path, int | None] | None = None


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
    #: a note only because the spec does not declare ``x-contract: strict``; a finding under it
    relaxed: bool = False


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
    """A lint rule of the catalogue (``conformance.catalogue``) and the check that applies it.

    Its id, name, words and scope are the catalogue's: the linter keeps no copy of them.
    """

    entry: catalogue.Rule
    check: Check = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def summary(self) -> str:
        """One line: what the rule holds a spec to (the catalogue's words)."""
        return self.entry.words

    @property
    def strict_only(self) -> bool:
        """A rule of the house style: on a spec without ``x-contract: strict`` it gives notes."""
        return self.entry.scope is Scope.STRICT

    @property
    def section(self) -> str:
        """The CONTRACT.md section the rule comes from ("§2"), or "" for document structure."""
        digit = self.id[2]
        return f"§{digit}" if digit in "12345678" else ""


RULES: dict[str, Rule] = {}


def ordered_rules() -> list[Rule]:
    """Every registered rule in id order (the order of CONTRACT.md), whatever the import order."""
    return [RULES[rule_id] for rule_id in sorted(RULES)]


def rule(rule_id: str) -> Callable[[Check], Check]:
    """Register ``check`` as the catalogue's lint rule ``rule_id``.

    Fails at import when the catalogue has no such lint rule, or when a rule is registered twice.
    """
    entry = catalogue.RULES.get(rule_id)
    if entry is None or entry.kind is not Kind.LINT:
        raise ValueError(f"{rule_id!r} is not a lint rule of conformance.catalogue; add it there")

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id} {entry.name} is registered twice")
        RULES[rule_id] = Rule(entry, check)
        return check

    return register
