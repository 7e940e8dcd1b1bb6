"""What the resources of a spec declare for the contract, read off their schemas: which members
hold another resource's id (``x-references``, on properties and nested path parameters), which
values are unique (``x-unique``), whom a resource is private to (``x-owner``); and what the suite
reads without a declaration (versions, creates and deletes), said as notes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.contract import PointerError, Spec, follow, is_template, join
from conformance.drafting._model import Action, Gap
from conformance.drafting._reading import Kinds, components, types
from conformance.drafting._words import (
    AUTHORS,
    KEYS,
    OWNERS,
    PEOPLE,
    SELF,
    USERNAMES,
    folded,
    reference_stem,
)

#: ids of the exchange, not of a resource: never listed as references init could not place
TRANSPORT_IDS = frozenset({"request", "trace", "correlation", "idempotency", "span"})
IDS = {"string", "integer"}


@dataclass
class Reading:
    """The actions and gaps of one part of the drafting, and the declarations kept."""

    actions: list[Action] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _schema_properties(spec: Spec, name: str) -> Iterator[tuple[str, str, Any]]:
    """``(property, pointer, schema)`` of the members a component schema declares in place (its
    own ``properties`` and those of its inline ``allOf`` parts: nodes an overlay can reach)."""
    schema = spec.component(name)
    if not isinstance(schema, Mapping):
        return
    base = join("/components/schemas", name)
    parts = [(schema, base)] + [
        (part, join(base, "allOf", index))
        for index, part in enumerate(schema.get("allOf", []) or [])
        if isinstance(part, Mapping) and "$ref" not in part
    ]
    for part, pointer in parts:
        for prop, sub in (part.get("properties") or {}).items():
            yield str(prop), join(pointer, "properties", prop), sub


# -- references ----------------------------------------------------------------------------------


def _common_prefix(first: str, second: str) -> int:
    """How many leading characters two names share (``notification`` and ``notificationtemplate``
    twelve)."""
    shared = 0
    for one, other in zip(first, second, strict=False):
        if one != other:
            break
        shared += 1
    return shared


def kind_named(kinds: Kinds, stem: str, holder: str) -> str | None:
    """The kind a reference's stem names, seen from ``holder`` (``template`` in a Notification
    is a NotificationTemplate); None where none or several fit alike."""
    if stem in SELF and holder in kinds.names:
        return holder
    if stem in PEOPLE and kinds.account is not None:
        return kinds.account
    ranked = []
    for name in kinds.names:
        key = folded(name)
        rank = 0 if key == stem else 1 if key.endswith(stem) else 2 if key.startswith(stem) else 3
        if rank < 3:
            closeness = _common_prefix(folded(holder), key)
            ranked.append(((rank, name not in kinds.resources, -closeness), name))
    if not ranked:
        return None
    best = min(score for score, _ in ranked)
    found = [name for score, name in ranked if score == best]
    return found[0] if len(found) == 1 else None


@dataclass
class References(Reading):
    #: (component schema, property) -> the kind it references, drafted or declared
    named: dict[tuple[str, str], str] = field(default_factory=dict)
    #: members that seem to hold an id but whose schema is a shared ``$ref``: ``School.headId``
    shared: list[str] = field(default_factory=list)


def references(spec: Spec, kinds: Kinds) -> References:
    """``x-references`` on each property whose name ends in an id (``schoolId``, ``roleIds``),
    or is a kind's name with an id's format (``category: {format: uuid}``), of every component
    schema; and on path parameters that name the parent of a nested path."""
    found = References()
    unplaced: dict[str, list[str]] = {}
    schemas = components(spec, "schemas")
    for schema_name in map(str, schemas):
        holder = kinds.holder(schema_name)
        for prop, pointer, sub in _schema_properties(spec, schema_name):
            _reference(spec, kinds, found, unplaced, (schema_name, holder, prop, pointer, sub))
    _path_references(spec, kinds, found)
    if found.shared:
        found.gaps.append(
            Gap(
                "x-references",
                f"x-references: {', '.join(found.shared)} seem to hold ids, but their schemas"
                " are a $ref other members share (an x-references beside a $ref is not read):"
                " give each its own schema to declare it on",
            )
        )
    for stem, holders in sorted(unplaced.items()):
        found.gaps.append(
            Gap(
                "x-references",
                f"x-references: no kind of this spec is called {stem!r}, so"
                f" {', '.join(sorted(set(holders)))} references none; declare x-references"
                " where a member holds another resource's id",
            )
        )
    return found


def _reference(
    spec: Spec,
    kinds: Kinds,
    found: References,
    unplaced: dict[str, list[str]],
    where: tuple[str, str, str, str, Any],
) -> None:
    schema_name, holder, prop, pointer, sub = where
    if prop == "id" or not isinstance(sub, Mapping):
        return
    node: Any = sub
    node_pointer, many = pointer, False
    if "array" in types(spec, sub) and "$ref" not in sub:
        node, node_pointer, many = sub.get("items"), join(pointer, "items"), True
    resolved = spec.deref(node)
    if not isinstance(resolved, Mapping):
        return
    stem = reference_stem(prop)
    if stem is None and resolved.get("format") == "uuid" and not many:
        stem = folded(prop)
        if kind_named(kinds, stem, holder) is None:
            return  # a uuid of something else (a device, a session): no id's name to go by
    if stem is None or not (types(spec, resolved) & IDS or not types(spec, resolved)):
        return
    kind = kind_named(kinds, stem, holder)
    if kind is None:
        if stem not in TRANSPORT_IDS:
            unplaced.setdefault(stem, []).append(f"{schema_name}.{prop}")
        return
    found.named[(schema_name, prop)] = kind
    if isinstance(node, Mapping) and "x-references" in node:
        found.kept.append(f"x-references on {schema_name}.{prop}")
        return
    if not isinstance(node, Mapping) or "$ref" in node:
        found.shared.append(f"{schema_name}.{prop} ({kind})")
        return
    why = _reference_why(kinds, stem, prop, kind, many)
    found.actions.append(Action(node_pointer, "x-references", kind, why))


def _reference_why(kinds: Kinds, stem: str, prop: str, kind: str, many: bool) -> str:
    each = "each item of " if many else ""
    if stem in PEOPLE and kind == kinds.account:
        reason = f"{stem!r} names a person, and {kind} is the spec's account"
    elif stem in SELF:
        reason = f"{stem!r} names another {kind}"
    else:
        reason = f"{stem!r} names the kind {kind}"
    return f"{each}{prop} holds an id ({reason}): an unknown one is 404"


def _path_references(spec: Spec, kinds: Kinds, found: References) -> None:
    """``x-references`` on a path parameter that names the parent of a nested collection
    (``/schools/{schoolId}/departments``): an unknown parent is 404. The item an operation
    acts on (``/posts/{postId}/publish``) is not another resource."""
    seen: set[str] = set()
    for operation in spec.operations:
        parts = operation.path.split("/")
        for index, part in enumerate(parts[:-1]):
            nested = "/".join(parts[: index + 2])
            if not is_template(part) or not _is_collection(spec, nested):
                continue
            name = part[1:-1]
            parameter = operation.parameter(name, "path")
            stem = reference_stem(name)
            kind = kind_named(kinds, stem, "") if stem is not None else None
            pointer = _parameter_schema_pointer(spec, parameter.pointer) if parameter else None
            if kind is None or pointer is None or pointer in seen:
                continue
            seen.add(pointer)
            found.actions.append(
                Action(
                    pointer,
                    "x-references",
                    kind,
                    f"path parameter {name} of {operation.path} names the {kind} the collection"
                    f" {parts[index + 1]} is under: an unknown one is 404",
                )
            )


def _is_collection(spec: Spec, path: str) -> bool:
    """Whether ``path`` is a collection: items under it (``path/{id}``), or a read that answers
    a list (an array, or a page's ``data`` array)."""
    if any(operation.path.startswith(path + "/{") for operation in spec.operations):
        return True
    read = spec.operation_at("get", path)
    if read is None or is_template(path.rsplit("/", 1)[1]):
        return False
    node = spec.success_schema(read)
    for _ in range(3):  # the body, its envelope's data, a page's data
        if "array" in types(spec, node):
            return True
        node = spec.properties(node).get("data")
    return False


def _parameter_schema_pointer(spec: Spec, pointer: str) -> str | None:
    """The pointer of a parameter's schema, through a ``$ref`` to components/parameters; None
    where the schema itself is a ``$ref`` or absent."""
    try:
        raw = follow(spec.data, pointer)
        _, resolved_pointer = spec.resolve(raw, pointer)
        schema = follow(spec.data, join(resolved_pointer, "schema"))
    except (PointerError, LookupError):
        return None
    if not isinstance(schema, Mapping) or "$ref" in schema or "x-references" in schema:
        return None
    return join(resolved_pointer, "schema")


# -- unique values -------------------------------------------------------------------------------


def unique(spec: Spec, kinds: Kinds, named: Mapping[tuple[str, str], str]) -> Reading:
    """``x-unique`` on each kind that can be created: the account's login name, and each key
    (``slug``, ``key``, ``code`` …), within the parent it is created under where a required
    reference comes before it (a department's ``code`` within its school)."""
    found = Reading()
    for kind, resource in kinds.resources.items():
        schema = spec.component(kind)
        if resource.create is None or not isinstance(schema, Mapping):
            continue
        if "x-unique" in schema:
            found.kept.append(f"x-unique on {kind}")
            continue
        required = spec.required(spec.request_schema(resource.create))
        groups: list[str | list[str]] = []
        reasons: list[str] = []
        earlier: list[str] = []
        for prop, sub in spec.properties(schema).items():
            if kind == kinds.account and folded(prop) in USERNAMES[:3] and not groups:
                groups.append(prop)
                reasons.append(f"{prop} is an account's login name")
            elif (
                folded(prop) in KEYS and "string" in types(spec, sub) and (kind, prop) not in named
            ):
                parents = [p for p in earlier if (kind, p) in named and p in required]
                if parents:
                    groups.append([parents[-1], prop])
                    parent = named[(kind, parents[-1])]
                    reasons.append(
                        f"{prop} is a key, within the {parent} it is created under"
                        f" ({parents[-1]} is required before it)"
                    )
                else:
                    groups.append(prop)
                    reasons.append(f"{prop} is a key")
            earlier.append(prop)
        pointer = join("/components/schemas", kind)
        if groups:
            why = "; ".join(reasons) + ": a second one is 409 DUPLICATE"
            found.actions.append(Action(pointer, "x-unique", groups, why))
        elif "name" in spec.properties(schema):
            found.gaps.append(
                Gap(
                    "x-unique",
                    f"x-unique on {kind}: it has a name and no key; if no two may share a name,"
                    " declare it",
                    Action(pointer, "x-unique", ["name"], f"no two {kind}s share a name"),
                )
            )
    return found


# -- owners --------------------------------------------------------------------------------------


def owners(spec: Spec, kinds: Kinds) -> Reading:
    """``x-owner`` on each kind with a member naming its owner (``ownerId``, ``authorId``,
    ``createdBy``, ``userId`` …): another user gets 404 for it. An author's resource with a
    ``draft`` status is private only while a draft."""
    found = Reading()
    for kind in kinds.resources:
        schema = spec.component(kind)
        if not isinstance(schema, Mapping):
            continue
        pointer = join("/components/schemas", kind)
        if "x-owner" in schema:
            found.kept.append(f"x-owner on {kind}")
            continue
        if kind == kinds.account:
            found.gaps.append(
                Gap(
                    "x-owner",
                    f"x-owner on {kind}: whether one user may read another's account is not in"
                    " the spec; if not (404), declare it",
                    Action(pointer, "x-owner", {"property": "id"}, "an account is its own"),
                )
            )
            continue
        declared = {folded(prop): prop for prop in spec.properties(schema)}
        owner = next((declared[name] for name in OWNERS if name in declared), None)
        if owner is None:
            continue
        value: dict[str, Any] = {"property": owner}
        why = f"{owner} names the user it belongs to"
        if folded(owner) in AUTHORS and "draft" in _states(spec, schema):
            value["while"] = {"status": ["draft"]}
            why += "; its status has a draft, which is its author's alone until it moves on"
        found.actions.append(Action(pointer, "x-owner", value, why + ": another user gets 404"))
    return found


def _states(spec: Spec, schema: Any) -> list[Any]:
    status = spec.deref(spec.properties(schema).get("status"))
    values = status.get("enum") if isinstance(status, Mapping) else None
    return list(values) if isinstance(values, list) else []


# -- what needs no declaration, and what init cannot know ---------------------------------------


def notes(spec: Spec, kinds: Kinds) -> tuple[list[str], list[Gap]]:
    """One line per resource kind: its create and delete, its version, If-Match and ETag (what
    the rollback and conflicts scenarios read off the spec as it is)."""
    lines: list[str] = []
    gaps: list[Gap] = []
    for kind, resource in sorted(kinds.resources.items()):
        item = spec.component(kind)
        versioned = "version" in spec.properties(item)
        if_match = resource.update is not None and resource.update.parameter("If-Match", "header")
        etag = resource.get is not None and any(
            "etag" in spec.response_headers(response)
            for status, response, _ in spec.responses(resource.get)
            if status.startswith("2")
        )
        made = resource.create.operation_id if resource.create else "no create"
        removed = resource.delete.operation_id if resource.delete else "no delete"
        concurrency = [
            word
            for word, seen in (("version", versioned), ("If-Match", if_match), ("ETag", etag))
            if seen
        ]
        lines.append(
            f"{kind} ({resource.collection_path}): {made}, {removed}"
            + (f"; {', '.join(concurrency)}" if concurrency else "; no version")
        )
        if (if_match or etag) and not versioned:
            gaps.append(
                Gap(
                    "version",
                    f"{kind} takes If-Match or answers an ETag but its items have no integer"
                    " version: the rollback and conflicts scenarios need one (CONTRACT.md §5)",
                )
            )
    return lines, gaps


def transitions(spec: Spec, kinds: Kinds) -> list[Gap]:
    """The states of a resource (an enum its ``status`` or ``state`` holds): their legal moves
    are not in a plain spec."""
    found: list[str] = []
    for kind in kinds.resources:
        for prop, sub in spec.properties(spec.component(kind)).items():
            resolved = spec.deref(sub)
            if folded(prop) not in ("status", "state") or not isinstance(resolved, Mapping):
                continue
            if isinstance(resolved.get("enum"), list) and "x-transitions" not in resolved:
                found.append(spec.component_name(sub) or f"{kind}.{prop}")
    if not found:
        return []
    return [
        Gap(
            "x-transitions",
            f"x-transitions: the legal moves of {', '.join(sorted(set(found)))} are not in the"
            " spec; declare them (any other move is then 409 INVALID_TRANSITION)",
        )
    ]
