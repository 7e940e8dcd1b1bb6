"""What a diff finds: a `Change`, the rule it is a case of (the catalogue's ``Kind.DIFF`` rows,
named through `change`), and the class that decides the gate (breaking, warning, info)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from conformance import catalogue
from conformance.catalogue import Kind, Severity
from conformance.contract import Operation, Spec, normalized_template


class ChangeClass(enum.StrEnum):
    """How much a change hurts the clients built on the old spec, worst first."""

    BREAKING = "breaking"  #: some old client fails: the gate fails
    WARNING = "warning"  #: some old client may misbehave: fails only under --fail-on warning
    INFO = "info"  #: no old client notices

    @property
    def rank(self) -> int:
        return list(ChangeClass).index(self)


#: every diff rule a module of this package reports, by id (`change` fills it at import)
RULES: dict[str, catalogue.Rule] = {}


def change(rule_id: str) -> str:
    """Name the catalogue's diff rule ``rule_id`` as one this package reports; refused at import
    when the catalogue has no such diff rule (a typo cannot wait for a diff to show it)."""
    entry = catalogue.RULES.get(rule_id)
    if entry is None or entry.kind is not Kind.DIFF:
        raise ValueError(f"{rule_id!r} is not a diff rule of conformance.catalogue; add it there")
    RULES[rule_id] = entry
    return rule_id


def class_of(rule_id: str) -> ChangeClass:
    """A diff rule's class, read from its catalogue row (severity and warning)."""
    entry = catalogue.rule(rule_id)
    if entry.severity is Severity.CRITICAL and not entry.warning:
        return ChangeClass.BREAKING
    return ChangeClass.INFO if entry.severity is Severity.TRIVIAL else ChangeClass.WARNING


@dataclass(frozen=True, slots=True)
class Change:
    """One change between the old and the new spec, as an old client feels it."""

    rule: str
    #: where it is: a JSON pointer into the new spec (into the old one for what is gone); inside
    #: a schema it walks the schema as the operation sees it, through its ``$ref``s
    pointer: str
    #: what changed, in a few words (`rule`'s words say which client it breaks)
    explanation: str
    #: ``GET /flags/{id}`` as the new spec writes it (the old one's for what is gone); None for
    #: a change of the whole spec (its base path, its root declarations)
    operation: str | None = None
    operation_id: str | None = None
    old: Any = None
    new: Any = None
    #: the name of the diff waiver in force that accepts it
    waived: str | None = None
    #: extra lines (a replayed request's curl and what was wrong with its answer)
    detail: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"{self.rule!r} is not a diff rule named through change()")

    @property
    def change_class(self) -> ChangeClass:
        return class_of(self.rule)

    @property
    def words(self) -> str:
        return catalogue.rule(self.rule).words

    @property
    def fails(self) -> bool:
        """A breaking change no waiver accepts."""
        return self.change_class is ChangeClass.BREAKING and not self.waived

    def waived_by(self, name: str) -> Change:
        return replace(self, waived=name)


# --- the comparisons a diff makes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """The two specs compared, and the day the diff is made (a sunset is judged against it)."""

    old: Spec
    new: Spec
    today: dt.date

    def matched(self) -> Iterator[tuple[Operation | None, Operation | None]]:
        """Each operation of either spec with its counterpart (None where it has none): the
        same method on the same path template, whatever its parameters are called."""
        news = {_key(op): op for op in self.new.operations}
        olds = {_key(op): op for op in self.old.operations}
        for key, old in olds.items():
            yield old, news.get(key)
        for key, new in news.items():
            if key not in olds:
                yield None, new


def _key(operation: Operation) -> tuple[str, str]:
    return operation.method, normalized_template(operation.path)


RootComparison = Callable[[Pair], Iterable[Change]]
OperationComparison = Callable[[Pair, Operation, Operation], Iterable[Change]]

#: the comparisons of the whole specs, and of each operation both have, in the order they run
ROOT_COMPARISONS: list[RootComparison] = []
OPERATION_COMPARISONS: list[OperationComparison] = []


def root_comparison(compare: RootComparison) -> RootComparison:
    ROOT_COMPARISONS.append(compare)
    return compare


def operation_comparison(compare: OperationComparison) -> OperationComparison:
    OPERATION_COMPARISONS.append(compare)
    return compare


class Where(TypedDict):
    """A change's ``operation`` and ``operation_id`` (``Change(…, **where)``)."""

    operation: str | None
    operation_id: str | None


#: where a change of the whole spec is
ROOT: Where = {"operation": None, "operation_id": None}


def at(operation: Operation) -> Where:
    """Where a change of ``operation`` is."""
    return {"operation": operation.label, "operation_id": operation.operation_id}
