"""Reading a spec's schemas and paths the way `conformance init` needs: the members a body may
have (with their JSON pointers), the kinds of resource, and the account's kind."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.contract import Operation, Resource, Spec, join, resources
from conformance.drafting._words import folded


def members(spec: Spec, schema: Any, depth: int = 4) -> Iterator[tuple[str, Any]]:
    """``(pointer, schema)`` of each member a body of ``schema`` may have, shallowest first,
    through ``$ref``, ``allOf``, ``oneOf`` and ``anyOf`` (not into arrays: tokens and
    credentials are not list items)."""
    queue: deque[tuple[Any, str, int]] = deque([(schema, "", 0)])
    while queue:
        node, pointer, level = queue.popleft()
        if level >= depth:
            continue
        resolved = spec.deref(node)
        if not isinstance(resolved, dict):
            continue
        for name, sub in spec.properties(resolved).items():
            where = join(pointer, name)
            yield where, sub
            queue.append((sub, where, level + 1))
        for keyword in ("oneOf", "anyOf"):
            for branch in resolved.get(keyword, []) or []:
                queue.append((branch, pointer, level + 1))


def components(spec: Spec, section: str) -> Mapping[str, Any]:
    """``components/<section>`` of the spec; empty where it is missing or not a mapping."""
    found = spec.data.get("components")
    found = found.get(section) if isinstance(found, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def types(spec: Spec, schema: Any) -> set[str]:
    """The JSON types a schema allows (empty: it does not say)."""
    resolved = spec.deref(schema)
    if not isinstance(resolved, dict):
        return set()
    kind = resolved.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def find(
    spec: Spec, schema: Any, names: Iterable[str], allowed: set[str], depth: int = 4
) -> str | None:
    """The pointer of the member of ``schema`` named by the best of ``names`` (folded), of one
    of the ``allowed`` types (or of no declared type); the shallowest of the best name."""
    found = [(pointer, sub) for pointer, sub in members(spec, schema, depth)]
    for name in names:
        for pointer, sub in found:
            kinds = types(spec, sub)
            if folded(pointer.rsplit("/", 1)[1]) == name and (not kinds or kinds & allowed):
                return pointer
    return None


def segments(operation: Operation) -> list[str]:
    """The static segments of the operation's path (``/auth/login`` gives auth, login)."""
    return [part for part in operation.path.split("/") if part and not part.startswith("{")]


def last_segment(operation: Operation) -> str:
    found = segments(operation)
    return found[-1] if found else ""


def parent_path(operation: Operation) -> str:
    return operation.path.rsplit("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Kinds:
    """The kinds of resource of a spec: the component schemas whose items have an ``id``, and
    the resources read off the paths (`contract.resources`)."""

    spec: Spec
    #: component schema name -> its resource (only kinds with a collection path)
    resources: dict[str, Resource]
    #: every component object schema with an ``id`` member that no request body is
    names: tuple[str, ...]
    #: the kind of an account (what a login names and the accounts step makes), if found
    account: str | None

    @classmethod
    def read(cls, spec: Spec, account: str | None) -> Kinds:
        found = {r.schema_name: r for r in resources(spec) if r.schema_name}
        requests = {
            spec.component_name(spec.request_schema(operation)) for operation in spec.operations
        }
        schemas = components(spec, "schemas")
        names = tuple(
            str(name)
            for name, schema in schemas.items()
            if name not in requests and "id" in spec.properties(schema)
        )
        return cls(spec, found, names, account)

    def holder(self, schema_name: str) -> str:
        """The kind a component schema is about: ``Notification`` for ``SendNotificationRequest``
        (verbs and the body's suffix taken off)."""
        name = schema_name
        for suffix in ("Request", "Input", "Body", "Payload", "Changes", "Response"):
            name = name.removesuffix(suffix)
        for verb in ("Create", "Update", "Patch", "Replace", "Send", "Grant", "New", "Edit"):
            if name.startswith(verb) and name[len(verb) : len(verb) + 1].isupper():
                name = name[len(verb) :]
                break
        return name
