"""The operations a run leaves out: those the user excludes (``[run] exclude``, ``--exclude``),
those the spec or an overlay declares ``x-exclude``, and, against a shared target, those that
look as if they reset or wipe its data (`danger`), unless ``include`` brings them back.

A *selector* names operations as a user writes them: an operationId (``resetDb``), ``METHOD
/path`` (``GET /createdb``), a path with all its methods (``/admin/reset``), or a tag
(``tag:admin``); a path matches its template however the template names its parameters
(``/items/{id}`` is ``/items/{itemId}``). A selector that matches no operation of the run is a
`ConfigError`: a misspelt exclusion would let the run call what the user meant to keep out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.contract._danger import danger
from conformance.contract._resources import normalized_template
from conformance.contract._spec import HTTP_METHODS, Operation, Spec
from conformance.errors import ConfigError


class ExcludedBy(enum.StrEnum):
    """Why an operation is left out: the run's settings, the spec's ``x-exclude``, or the
    danger rule of a shared target."""

    SETTING = "exclude"
    SPEC = "x-exclude"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Selector:
    """One selector as written (`parse` reads it)."""

    text: str
    #: what it names: an operationId, an operation (method and path), a path, or a tag
    kind: str
    method: str = ""
    path: str = ""

    @classmethod
    def parse(cls, text: str, setting: str = "exclude") -> Selector:
        """``text`` as a selector; a `ConfigError` naming it when it cannot be one."""
        said = text.strip()
        if said.startswith("tag:"):
            if not said[4:].strip():
                raise ConfigError(f'{setting} "{text}": name the tag, e.g. "tag:admin"')
            return cls(said, "tag", path=said[4:].strip())
        if said.startswith("/"):
            return cls(said, "path", path=said)
        method, _, path = said.partition(" ")
        if path.strip():
            if method.lower() not in HTTP_METHODS or not path.strip().startswith("/"):
                raise ConfigError(
                    f'{setting} "{text}": write an operationId, "METHOD /path" (e.g.'
                    ' "GET /createdb"), a path ("/admin/reset") or "tag:NAME"'
                )
            return cls(said, "operation", method=method.lower(), path=path.strip())
        if not said:
            raise ConfigError(f"{setting}: an empty selector; drop it")
        return cls(said, "operation_id")

    def matches(self, operation: Operation) -> bool:
        if self.kind == "tag":
            return self.path in operation.tags
        if self.kind == "operation_id":
            return operation.operation_id == self.text
        if self.kind == "operation" and operation.method != self.method:
            return False
        wanted = normalized_template(self.path.rstrip("/") or "/")
        return normalized_template(operation.path) == wanted


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An operation the run leaves out, and why (in words)."""

    operation: Operation
    by: ExcludedBy
    reason: str

    @property
    def label(self) -> str:
        return self.operation.label


def declared_exclusion(operation: Operation) -> str | None:
    """Why the spec (or an overlay) excludes ``operation`` (``x-exclude: true`` or
    ``x-exclude: "reason"``); None when it does not (absent, ``false``, or malformed:
    `Spec.declaration_problems` has that)."""
    value: Any = operation.definition.get("x-exclude")
    if value is True:
        return "the spec says x-exclude: true"
    if isinstance(value, str) and value.strip():
        return f"x-exclude: {value.strip()}"
    return None


def exclusions(
    spec: Spec,
    exclude: Sequence[str] = (),
    include: Sequence[str] = (),
    *,
    disposable: bool = False,
) -> tuple[Exclusion, ...]:
    """The operations of ``spec`` a run leaves out, in the spec's order: those ``exclude``
    selects, those the spec declares ``x-exclude``, and, unless the target is ``disposable``,
    those `danger` flags. ``include`` brings back an operation the danger rule or ``x-exclude``
    left out; ``exclude`` always wins (the user's own words on the operation)."""
    excluding = [Selector.parse(text, "exclude") for text in exclude]
    including = [Selector.parse(text, "include") for text in include]
    found = []
    for operation in spec.operations:
        chosen = next((s for s in excluding if s.matches(operation)), None)
        if chosen is not None:
            found.append(Exclusion(operation, ExcludedBy.SETTING, f'exclude "{chosen.text}"'))
            continue
        if any(selector.matches(operation) for selector in including):
            continue
        declared = declared_exclusion(operation)
        if declared is not None:
            found.append(Exclusion(operation, ExcludedBy.SPEC, declared))
            continue
        why = None if disposable else danger(operation, spec)
        if why is not None:
            found.append(Exclusion(operation, ExcludedBy.DANGER, why))
    return tuple(found)


def check_selectors(
    specs: Mapping[str, Spec], exclude: Iterable[str] = (), include: Iterable[str] = ()
) -> None:
    """A `ConfigError` (exit 3), one sentence, for a selector that is malformed or matches no
    operation of the run's specs (``specs``: API -> spec)."""
    apis = " or ".join(sorted(specs)) or "the run"
    for setting, texts in (("exclude", exclude), ("include", include)):
        for text in texts:
            selector = Selector.parse(text, setting)
            if not any(selector.matches(op) for spec in specs.values() for op in spec.operations):
                raise ConfigError(
                    f'{setting} "{text}" matches no operation of {apis}; write an operationId,'
                    ' "METHOD /path", a path or "tag:NAME" as the spec writes it'
                )
