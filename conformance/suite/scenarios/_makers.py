"""Resources a scenario makes for itself, reads back and removes: the data scenarios.

`Maker` creates one resource of a kind (a component schema) through the spec's create operation,
filling the required fields from the schema (unique ones random) and each required
``x-references`` with a resource it made first (or, for a kind nobody can create, one that
exists). Everything made is journaled like the fuzzer's creations, so a killed run's leftovers
are removed by the next run, and is deleted again at the end, newest first.

`Snapshot` is what a client holds of one resource (body, ``version``, ``ETag``); `differences`
compares two of them field by field.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import Operation, Resource, Spec, resources
from conformance.suite._journal import Created, Journal, item_path_of
from conformance.suite._unique import unique_groups, value_for
from conformance.suite.scenarios._accounts import delete_all
from conformance.suite.scenarios._story import (
    StepSkipped,
    Story,
    Violation,
    error_code,
    scenario_rule,
)

# the catalogue's rules judged here (`scenario_rule` checks each at import)
VERSION_INCREMENTS = scenario_rule("version-increments")
CREATED_ONCE = scenario_rule("created-once")

#: how many pages a scenario walks to find an item in a list
MAX_PAGES = 5
PAGE_SIZE = 100


def payload(operation: Operation, response: httpx.Response) -> Any:
    """The answer's resource: inside the envelope where the spec declares one
    (`Operation.payload`, the reading the guard's journal uses too)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return operation.payload(body)


def list_items(body: Any) -> list[Any]:
    """The items of a list answer: ``data`` of a page, also inside an ApiResponse."""
    for candidate in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(candidate, dict) and isinstance(candidate.get("data"), list):
            return list(candidate["data"])
        if isinstance(candidate, list):
            return candidate
    return []


def has_more(body: Any) -> bool:
    for candidate in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(candidate, dict) and "hasMore" in candidate:
            return bool(candidate["hasMore"])
    return False


@dataclass
class Actor:
    """Someone who sends requests: the run's own principal or a throwaway account."""

    name: str  #: how the story names it ("the run", "staff A")
    role: str | None
    #: its current access token (renewed when near its end)
    access: Callable[[], str | None] = field(repr=False)
    id: str | None = None
    #: its own account's item path, where it has one
    path: str | None = None

    @property
    def token(self) -> str | None:
        return self.access()

    def may(self, operation: Operation | None) -> bool:
        """Whether the operation's x-roles let this actor call it."""
        if operation is None:
            return False
        return operation.roles is None or not operation.roles or self.role in operation.roles


@dataclass
class Snapshot:
    """A resource as one GET answered it."""

    status: int
    data: dict[str, Any]
    etag: str | None

    @property
    def version(self) -> Any:
        return self.data.get("version")

    @property
    def ok(self) -> bool:
        """The read succeeded (any 2xx: whether its status is the documented one is the status
        check's to judge, on every answer a scenario gets)."""
        return 200 <= self.status < 300

    def number(self) -> int:
        """The version as the integer a change sends back; a read without one breaks the
        contract (it ends the part as a finding, never as a crash of the scenario)."""
        version = self.version
        if isinstance(version, bool) or not isinstance(version, int):
            raise Violation(
                VERSION_INCREMENTS,
                f"a read answered {self.status} without an integer version ({version!r})",
            )
        return version


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Each field that differs, ``name: old -> new``."""
    found = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            found.append(f"{name}: {_short(before.get(name))} -> {_short(after.get(name))}")
    return found


def unkept(sent: Mapping[str, Any], answered: Mapping[str, Any]) -> list[str]:
    """Each field whose value the answer does not keep as sent, ``name: sent -> answered``
    (the answer may add to it: members the server fills in, defaults in nested objects)."""
    return [
        f"{name}: {_short(value)} -> {_short(answered.get(name))}"
        for name, value in sorted(sent.items())
        if not _kept(value, answered.get(name))
    ]


def _kept(sent: Any, answered: Any) -> bool:
    if isinstance(sent, Mapping):
        return isinstance(answered, Mapping) and all(
            _kept(value, answered.get(name)) for name, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(answered, list)
            and len(sent) == len(answered)
            and all(_kept(a, b) for a, b in zip(sent, answered, strict=True))
        )
    return bool(sent == answered)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Made:
    """One resource a scenario made."""

    kind: str
    resource: Resource
    path: str  #: its item path, relative to the API's base URL
    data: dict[str, Any]
    #: the create body it was made from
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))


def plain_fields(spec: Spec, schema: Any, item: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Properties of ``schema`` a client may set freely that the item also has: text without
    format, pattern, enum or uniqueness, then booleans, then states that move by
    ``x-transitions``. ``(name, its schema)``, best first."""
    texts, flags, states = [], [], []
    unique = {name for group in unique_groups(spec, item) for name in group}
    for name, sub in spec.properties(schema).items():
        resolved = spec.deref(sub)
        if name in ("id", "version") or name in unique or not isinstance(resolved, dict):
            continue
        if name not in spec.properties(item):
            continue
        if isinstance(resolved.get("x-transitions"), dict):
            states.append((name, resolved))
            continue
        if "x-references" in resolved or "enum" in resolved or "const" in resolved:
            continue
        kinds = resolved.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds and not ({"format", "pattern"} & set(resolved)):
            texts.append((name, resolved))
        elif kinds == ["boolean"]:
            flags.append((name, resolved))
    return texts + flags + states


def new_value(schema: Mapping[str, Any], old: Any, mark: str) -> Any:
    """A valid value other than ``old`` (text carries ``mark`` so a reader can tell who wrote
    it; a state makes a legal move, to one that can move on where there is one)."""
    moves = schema.get("x-transitions")
    if isinstance(moves, dict):
        legal = list(moves.get(str(old)) or [])
        if not legal:
            raise StepSkipped(f"{old!r} is a final state: no legal move is left")
        return next((state for state in legal if moves.get(state)), legal[0])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" not in kinds:
        return not old
    high = int(schema.get("maxLength", 200))
    text = f"{mark} {uuid.uuid4().hex[:8]}"
    return text[: max(int(schema.get("minLength", 1)), min(high, len(text)))]


def versioned(spec: Spec, resource: Resource) -> bool:
    item = item_schema(spec, resource)
    return item is not None and "version" in spec.properties(item)


def item_schema(spec: Spec, resource: Resource) -> Any:
    if resource.schema_name is None:
        return None
    return spec.component(resource.schema_name)


def references(spec: Spec, schema: Any) -> dict[str, str]:
    """Top-level properties holding one other resource's id: name -> the kind it names."""
    found = {}
    for name, sub in spec.properties(schema).items():
        resolved = spec.deref(sub)
        if isinstance(resolved, dict) and isinstance(resolved.get("x-references"), str):
            found[name] = resolved["x-references"]
    return found


class Maker:
    """Makes, reads and removes resources for one story, with one token (the run's)."""

    def __init__(self, story: Story, run: Actor, journal: Journal | None) -> None:
        self.story, self.spec, self.run, self.journal = story, story.spec, run, journal
        self.by_kind = {r.schema_name: r for r in resources(story.spec) if r.schema_name}
        self.made: list[Made] = []
        #: kind -> how many were made that the spec offers no way to delete
        self.left: dict[str, int] = {}
        #: kind -> the id of the resource references to it use
        self._referenced: dict[str, str] = {}

    @property
    def token(self) -> str | None:
        return self.run.token

    def resource(self, kind: str) -> Resource | None:
        return self.by_kind.get(kind)

    def can_make(self, kind: str) -> bool:
        found = self.resource(kind)
        return found is not None and found.create is not None

    # -- making -------------------------------------------------------------------------------

    def body(
        self,
        create: Operation,
        overrides: Mapping[str, Any] | None = None,
        *,
        placeholders: bool = False,
    ) -> dict[str, Any]:
        """A valid create body: the required fields, references resolved, ``overrides`` on top.
        ``placeholders``: a reference nothing can satisfy gets a random id (for requests that
        must be refused before anything is looked up)."""
        schema = self.spec.request_schema(create)
        targets = references(self.spec, schema)
        required = self.spec.required(schema)
        body: dict[str, Any] = {}
        for name, sub in self.spec.properties(schema).items():
            if name not in required or name in (overrides or {}):
                continue
            if name in targets:
                try:
                    body[name] = self.reference(targets[name])
                except StepSkipped:
                    if not placeholders:
                        raise
                    body[name] = str(uuid.uuid4())
            else:
                body[name] = value_for(self.spec, sub, name)
        body.update(overrides or {})
        return body

    def make(
        self,
        kind: str,
        *,
        token: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        tries: int = 3,
    ) -> Made:
        """One new resource of ``kind``; StepSkipped when the spec or the target cannot."""
        resource = self.resource(kind)
        if resource is None or resource.create is None:
            raise StepSkipped(f"{kind} has no create operation to make one with")
        create = resource.create
        for attempt in range(tries):
            body = self.body(create, overrides)
            response = self.story.send(create, token=token or self.token, json_body=body)
            if response.status_code == 409 and attempt + 1 < tries:  # a random key collided
                continue
            if not 200 <= response.status_code < 300:
                raise StepSkipped(
                    f"could not make a {kind}: {create.operation_id} answered"
                    f" {response.status_code} {error_code(response) or ''}".rstrip()
                )
            return self.keep(kind, resource, payload(create, response), body)
        raise AssertionError("unreachable")  # pragma: no cover

    def keep(self, kind: str, resource: Resource, data: Any, body: dict[str, Any]) -> Made:
        """Record a resource the target made (journaled at once, removed at the end)."""
        if not isinstance(data, dict):
            raise StepSkipped(f"the create of a {kind} answered no object")
        path = item_path_of(resource, data)
        if path is None:  # a broken rule, whichever scenario made it
            raise Violation(CREATED_ONCE, f"the create of a {kind} answered no id")
        made = Made(kind, resource, path, data, body)
        if resource.delete is None:  # nothing a later run could do about it either
            self.left[kind] = self.left.get(kind, 0) + 1
            return made
        if self.journal is not None:
            self.journal.created(Created(kind, made.path, True))
        self.made.append(made)
        return made

    def reference(self, kind: str) -> str:
        """The id of a ``kind`` for references: one this story made, else one that exists."""
        if kind not in self._referenced:
            if self.can_make(kind):
                self._referenced[kind] = self.make(kind).id
            else:
                self._referenced[kind] = self.existing(kind)
        return self._referenced[kind]

    def existing(self, kind: str) -> str:
        """The id of one ``kind`` a list answers (for kinds that cannot be created)."""
        for operation in self.spec.operations:
            if operation.method != "get" or operation.required_parameters:
                continue
            if not self._lists(operation, kind):
                continue
            response = self.story.send(operation, token=self.token)
            for item in list_items(response.json()) if response.status_code == 200 else []:
                if isinstance(item, dict) and item.get("id"):
                    return str(item["id"])
        raise StepSkipped(f"no {kind} to refer to: none can be made and none is listed")

    def _lists(self, operation: Operation, kind: str) -> bool:
        for status, response, _ in self.spec.responses(operation):
            schema = self.spec.json_schema(response) if status.startswith("2") else None
            for array in _arrays(self.spec, schema, 3):
                if self.spec.component_name(array.get("items")) == kind:
                    return True
        return False

    # -- reading ------------------------------------------------------------------------------

    def read(self, made: Made, token: str | None = None) -> Snapshot:
        get = made.resource.get
        if get is None:
            raise StepSkipped(f"{made.kind} has no get operation to read it back")
        return self.read_at(get, made.path, token)

    def read_at(self, get: Operation, path: str, token: str | None = None) -> Snapshot:
        """What ``get`` answers at the concrete ``path`` (an empty body unless a 2xx)."""
        response = self.story.send(get, token=token or self.token, path=path)
        data = payload(get, response) if 200 <= response.status_code < 300 else None
        return Snapshot(
            response.status_code,
            data if isinstance(data, dict) else {},
            response.headers.get("ETag"),
        )

    def find_in_list(self, made: Made, token: str | None = None) -> tuple[int, bool]:
        """How often the list holds ``made``, and whether every page was walked (bounded)."""
        return self.count_listed(
            made.resource, made.body, lambda item: item.get("id") == made.id, token
        )

    def count_listed(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        matches: Callable[[dict[str, Any]], bool],
        token: str | None = None,
    ) -> tuple[int, bool]:
        """How many listed items ``matches``, searching for the free text of the ``body`` they
        were made from, and whether every page was walked (at most `MAX_PAGES`)."""
        listing = resource.list
        if listing is None:
            raise StepSkipped(f"{resource.schema_name} has no list operation")
        query: dict[str, Any] = {}
        if listing.parameter("limit", "query") is not None:
            query["limit"] = PAGE_SIZE
        if listing.parameter("search", "query") is not None:
            text = next(
                (v for k, v in body.items() if isinstance(v, str) and " " in v and k != "id"),
                None,
            )
            if text:
                query["search"] = text
        seen, complete = 0, False
        for page in range(1, MAX_PAGES + 1):
            if listing.parameter("page", "query") is not None:
                query["page"] = page
            path = listing.path + "?" + str(httpx.QueryParams(query))
            response = self.story.send(listing, token=token or self.token, path=path)
            if response.status_code != 200:
                raise StepSkipped(f"{listing.operation_id} answered {response.status_code}")
            answer = response.json()
            seen += sum(
                1 for item in list_items(answer) if isinstance(item, dict) and matches(item)
            )
            if not has_more(answer) or "page" not in query:
                complete = True
                break
        return seen, complete

    # -- removing -----------------------------------------------------------------------------

    def forget(self, made: Made) -> None:
        """``made`` is gone (the scenario deleted it)."""
        if made in self.made:
            self.made.remove(made)
        if self.journal is not None:
            self.journal.removed(made.path)

    def remove(self) -> list[str]:
        """Delete everything made, newest first; the problems, one line each."""
        targets = [(made.resource.delete, made.path) for made in reversed(self.made)]
        self.made.clear()
        return delete_all(
            self.story, self.journal, self.token, [(op, path) for op, path in targets if op]
        )


def _arrays(spec: Spec, schema: Any, depth: int) -> Iterator[dict[str, Any]]:
    schema = spec.deref(schema)
    if depth < 0 or not isinstance(schema, dict):
        return
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield schema
    data = spec.properties(schema).get("data")
    if data is not None:
        yield from _arrays(spec, data, depth - 1)
