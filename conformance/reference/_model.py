"""What handlers work with: the request in context, the reply, and resource kinds."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conformance.contract import Operation, Ownership, Spec
from conformance.reference._store import Store
from conformance.reference._validation import ParsedRequest


def now() -> str:
    """The current instant as every timestamp is served: ISO 8601, UTC, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalize_instant(value: str) -> str:
    """A date-time from a request in the served form, so that stored values compare as text."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:  # past year 1 or 9999 once in UTC (0001-01-01T02:00+18:45): the edge
        utc = (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the user behind the access token (``ANONYMOUS`` on public
    operations)."""

    id: str
    role: str
    email: str

    @property
    def sees_everything(self) -> bool:
        """admin, manager and service read every user's resources; staff only their own."""
        return self.role in ("admin", "manager", "service")

    @property
    def visible_to(self) -> str | None:
        """The owner whose private resources this principal sees besides the shared ones: its
        own id, or None when it sees everyone's."""
        return None if self.sees_everything else self.id


@dataclass(frozen=True, slots=True)
class Context:
    api: str
    spec: Spec
    operation: Operation
    request: ParsedRequest
    principal: Principal
    store: Store
    request_id: str
    timestamp: str
    #: the bearer token the request carried, if any (logout and refresh need the token itself)
    credentials: str | None = None
    client: str | None = None
    user_agent: str | None = None

    @property
    def body(self) -> Any:
        return self.request.body if self.request.has_body else None


@dataclass(slots=True)
class Reply:
    """What a handler answers: the status and the payload (enveloped by the app)."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: a body that is not JSON (the audit export's CSV): served as is, with this media type
    raw: bytes | None = None
    media_type: str = "application/json"


Handler = Callable[[Context], Reply]


def unique_key(*values: Any) -> str:
    """How a unique key is stored and looked up: the JSON of its values, in order."""
    return json.dumps(list(values))


@dataclass(frozen=True, slots=True)
class Reference:
    """A property holding the id of another kind: ``path`` in the holder, ``*`` for list items."""

    path: tuple[str, ...]
    target: str
    nullable: bool

    @property
    def many(self) -> bool:
        return self.path[-1] == "*"

    def ids(self, data: Any) -> Iterator[str]:
        """The ids the property holds in ``data``."""
        yield from _values(data, self.path)


def _values(data: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if not path:
        if isinstance(data, str):
            yield data
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for item in data if isinstance(data, list) else []:
            yield from _values(item, rest)
    elif isinstance(data, Mapping) and data.get(head) is not None:
        yield from _values(data[head], rest)


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource kind (a component schema) and what the spec declares of it."""

    name: str
    properties: Mapping[str, Any]
    required: frozenset[str]
    unique: tuple[tuple[str, ...], ...]
    references: tuple[Reference, ...]
    #: property -> {state: [states it may move to]}
    transitions: Mapping[str, Mapping[str, list[str]]]
    #: top-level string properties a ``search`` looks in
    searchable: tuple[str, ...]
    #: the property the item path names it by ("id", or "key" for feature flags)
    lookup: str = "id"
    #: unique properties compared without case (``format: email``: A@x.org is a@x.org)
    caseless: frozenset[str] = frozenset()
    #: whom a resource is private to (``x-owner``); None: every resource of the kind is shared
    owner: Ownership | None = None

    @property
    def versioned(self) -> bool:
        return "version" in self.properties

    def unique_values(self, data: Mapping[str, Any]) -> dict[str, str]:
        """The unique keys ``data`` holds: name ("schoolId+code") -> value (JSON text)."""
        keys = {}
        for names in self.unique:
            values = [
                value.lower() if name in self.caseless and isinstance(value, str) else value
                for name, value in ((name, data.get(name)) for name in names)
            ]
            if all(value is not None for value in values):
                keys["+".join(names)] = unique_key(*values)
        return keys

    def is_final(self, data: Mapping[str, Any]) -> str | None:
        """The property whose state allows no further move, if ``data`` is in one."""
        for prop, moves in self.transitions.items():
            state = data.get(prop)
            if state is not None and not moves.get(str(state)):
                return prop
        return None

    def check_move(self, prop: str, old: Any, new: Any) -> bool:
        return str(new) in self.transitions.get(prop, {}).get(str(old), [])


def read_kinds(spec: Spec, names: set[str]) -> dict[str, Kind]:
    """The kinds named, read off their component schemas."""
    schemas = spec.data.get("components", {}).get("schemas", {})
    kinds = {}
    for name in names:
        schema = spec.deref(schemas[name])
        properties = spec.properties(schema)
        references: list[Reference] = []
        _collect_references(spec, schema, (), references, set())
        transitions = {}
        searchable = []
        caseless = set()
        for prop, sub in properties.items():
            resolved = spec.deref(sub)
            if isinstance(resolved, Mapping) and resolved.get("format") == "email":
                caseless.add(prop)
            if isinstance(resolved, Mapping) and isinstance(resolved.get("x-transitions"), Mapping):
                transitions[prop] = dict(resolved["x-transitions"])
            types = resolved.get("type") if isinstance(resolved, Mapping) else None
            is_text = types == "string" or (isinstance(types, list) and "string" in types)
            if is_text and "format" not in resolved and "enum" not in resolved and prop != "id":
                searchable.append(prop)
        unique = tuple(
            (entry,) if isinstance(entry, str) else tuple(entry)
            for entry in schema.get("x-unique", []) or []
        )
        kinds[name] = Kind(
            name=name,
            properties=properties,
            required=frozenset(spec.required(schema)),
            unique=unique,
            references=tuple(references),
            transitions=transitions,
            searchable=tuple(searchable),
            caseless=frozenset(caseless),
            owner=spec.ownership(name),
        )
    return kinds


def _collect_references(
    spec: Spec, schema: Any, path: tuple[str, ...], found: list[Reference], seen: set[int]
) -> None:
    schema = spec.deref(schema)
    if not isinstance(schema, Mapping) or id(schema) in seen:
        return
    seen = seen | {id(schema)}
    target = schema.get("x-references")
    if isinstance(target, str) and path:
        types = schema.get("type")
        nullable = isinstance(types, list) and "null" in types
        found.append(Reference(path, target, nullable))
    for prop, sub in spec.properties(schema).items():
        _collect_references(spec, sub, (*path, prop), found, seen)
    if isinstance(schema.get("items"), Mapping) and path:
        _collect_references(spec, schema["items"], (*path, "*"), found, seen)
    for branch in schema.get("anyOf", []) or []:
        _collect_references(spec, branch, path, found, seen)
