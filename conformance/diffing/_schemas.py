"""Two schemas compared as an old client sees them.

A **request** schema says what old clients send: the new one must still accept all of it (a
type, an enum value, a bound or a property it no longer takes is breaking). A **response**
schema says what old clients read: everything the new one allows must still be something they
understand (a property gone or optional, a type or an enum value they never saw).

Schemas are compared by what their ``$ref``s resolve to, so a renamed component is no change;
``allOf`` parts are merged (their properties, required names and bounds); ``oneOf``/``anyOf``
are compared as sets of branches: equal branches (by their resolved form) are matched first,
the rest paired in order where both sides have as many, else reported as a branch gone (a
request narrowed) or a branch new (a response type changed), conservatively. A recursive schema
is walked once per pair of ``$ref``s, and no deeper than `MAX_DEPTH` in any case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.contract import Spec, join
from conformance.diffing._model import Change, change

REQUEST_TYPE_NARROWED = change("request-type-narrowed")
REQUEST_ENUM_VALUE_REMOVED = change("request-enum-value-removed")
REQUEST_MAXIMUM_LOWERED = change("request-maximum-lowered")
REQUEST_MINIMUM_RAISED = change("request-minimum-raised")
REQUEST_PATTERN_ADDED = change("request-pattern-added")
REQUEST_MAX_LENGTH_LOWERED = change("request-max-length-lowered")
REQUEST_MIN_LENGTH_RAISED = change("request-min-length-raised")
REQUEST_PROPERTY_REQUIRED_ADDED = change("request-property-required-added")
REQUEST_PROPERTY_MADE_REQUIRED = change("request-property-made-required")
REQUEST_PROPERTY_REMOVED = change("request-property-removed")
REQUEST_PROPERTY_OPTIONAL_ADDED = change("request-property-optional-added")
REQUEST_CONSTRAINT_RELAXED = change("request-constraint-relaxed")
RESPONSE_PROPERTY_REMOVED = change("response-property-removed")
RESPONSE_OPTIONAL_PROPERTY_REMOVED = change("response-optional-property-removed")
RESPONSE_PROPERTY_OPTIONAL = change("response-property-optional")
RESPONSE_PROPERTY_ADDED = change("response-property-added")
RESPONSE_TYPE_CHANGED = change("response-type-changed")
RESPONSE_ENUM_VALUE_ADDED = change("response-enum-value-added")

#: deeper than any real schema's nesting; stops a walk that recursion guards did not
MAX_DEPTH = 40
#: keywords that describe a schema and constrain nothing: left out of its resolved form
ANNOTATIONS = frozenset(
    {"description", "title", "example", "examples", "externalDocs", "xml", "$comment", "default"}
)


@dataclass(frozen=True, slots=True)
class Bound:
    """A number's or a length's bound: its value and whether it is exclusive."""

    value: float
    exclusive: bool = False

    def tighter_than(self, other: Bound | None, upper: bool) -> bool:
        """This bound refuses a value ``other`` (None: no bound) allowed."""
        if other is None:
            return True
        if self.value != other.value:
            return self.value < other.value if upper else self.value > other.value
        return self.exclusive and not other.exclusive


@dataclass(slots=True)
class View:
    """A schema as one comparison reads it: ``$ref``s followed, ``allOf`` merged."""

    refs: tuple[str, ...] = ()
    #: the JSON types it allows; None: any
    types: frozenset[str] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    #: its enum's values (as JSON text), or None
    enum: frozenset[str] | None = None
    maximum: Bound | None = None
    minimum: Bound | None = None
    max_length: Bound | None = None
    min_length: Bound | None = None
    pattern: str | None = None
    items: Any = None
    #: oneOf/anyOf branches, or None
    branches: list[Any] | None = None
    read_only: bool = False
    write_only: bool = False


def view(spec: Spec, node: Any, depth: int = 0) -> View:
    """``node`` read through its ``$ref``s and ``allOf`` parts."""
    refs: list[str] = []
    seen: set[str] = set()
    while (
        isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen
    ):
        seen.add(node["$ref"])
        refs.append(node["$ref"])
        node = spec.deref({"$ref": node["$ref"]})
    found = View(refs=tuple(refs))
    if not isinstance(node, Mapping) or depth > MAX_DEPTH:
        return found
    for part in node.get("allOf") or []:
        _merge(found, view(spec, part, depth + 1))
    _merge(found, _own(node))
    return found


def _own(node: Mapping[str, Any]) -> View:
    types = node.get("type")
    found = View(
        types=frozenset([types] if isinstance(types, str) else types)
        if isinstance(types, (str, list))
        else None,
        properties=dict(node.get("properties") or {}),
        required={str(name) for name in node.get("required") or []},
        enum=frozenset(_text(v) for v in node["enum"])
        if isinstance(node.get("enum"), list)
        else None,
        maximum=_bound(node, "maximum", "exclusiveMaximum", upper=True),
        minimum=_bound(node, "minimum", "exclusiveMinimum", upper=False),
        max_length=_length(node.get("maxLength")),
        min_length=_length(node.get("minLength")),
        pattern=node.get("pattern") if isinstance(node.get("pattern"), str) else None,
        items=node.get("items"),
        read_only=node.get("readOnly") is True,
        write_only=node.get("writeOnly") is True,
    )
    if found.types is None and found.properties:
        found.types = frozenset({"object"})
    if found.types is None and isinstance(found.items, Mapping):
        found.types = frozenset({"array"})
    if node.get("nullable") is True and found.types is not None:
        found.types |= {"null"}
    for keyword in ("oneOf", "anyOf"):
        if isinstance(node.get(keyword), list):
            found.branches = list(node[keyword])
    return found


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _bound(node: Mapping[str, Any], inclusive: str, exclusive: str, *, upper: bool) -> Bound | None:
    """A number's bound: ``maximum`` (with OpenAPI 3.0's boolean ``exclusiveMaximum``), or 3.1's
    numeric ``exclusiveMaximum``, the tighter where both are written."""
    found: Bound | None = None
    value: Any = node.get(inclusive)
    if _number(value):
        found = Bound(float(value), node.get(exclusive) is True)
    value = node.get(exclusive)
    if _number(value):
        found = _tightest(found, Bound(float(value), True), upper=upper)
    return found


def _length(value: Any) -> Bound | None:
    return Bound(float(value)) if _number(value) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _merge(into: View, part: View) -> None:
    """``allOf``: each part holds, so the merged view is the tightest of them."""
    into.refs = into.refs or part.refs
    if part.types is not None:
        into.types = part.types if into.types is None else into.types & part.types
    for name, schema in part.properties.items():
        into.properties[name] = (
            {"allOf": [into.properties[name], schema]} if name in into.properties else schema
        )
    into.required |= part.required
    if part.enum is not None:
        into.enum = part.enum if into.enum is None else into.enum & part.enum
    into.maximum = _tightest(into.maximum, part.maximum, upper=True)
    into.minimum = _tightest(into.minimum, part.minimum, upper=False)
    into.max_length = _tightest(into.max_length, part.max_length, upper=True)
    into.min_length = _tightest(into.min_length, part.min_length, upper=False)
    into.pattern = into.pattern or part.pattern
    into.items = into.items if into.items is not None else part.items
    into.branches = into.branches if into.branches is not None else part.branches
    into.read_only |= part.read_only
    into.write_only |= part.write_only


def _tightest(a: Bound | None, b: Bound | None, *, upper: bool) -> Bound | None:
    if a is None or b is None:
        return a or b
    return b if b.tighter_than(a, upper) else a


def covers(wider: frozenset[str] | None, narrower: frozenset[str] | None) -> bool:
    """Every type of ``narrower`` is one of ``wider`` (an integer is a number; None is any)."""
    if wider is None:
        return True
    if narrower is None:
        return False
    return all(t in wider or (t == "integer" and "number" in wider) for t in narrower)


def resolved(spec: Spec, node: Any, stack: tuple[str, ...] = (), depth: int = 0) -> Any:
    """``node`` with every ``$ref`` replaced by what it leads to and its annotations left out:
    two schemas that say the same thing under other component names resolve alike. A ``$ref``
    back into one being resolved is written as how many levels up it leads."""
    if depth > MAX_DEPTH:
        return {"$deep": True}
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                return {"$cycle": len(stack) - stack.index(ref)}
            return resolved(spec, spec.deref({"$ref": ref}), (*stack, ref), depth + 1)
        return {
            key: resolved(spec, value, stack, depth + 1)
            for key, value in node.items()
            if key not in ANNOTATIONS and not str(key).startswith("x-")
        }
    if isinstance(node, list):
        return [resolved(spec, item, stack, depth + 1) for item in node]
    return node


# --- the comparison ------------------------------------------------------------------------


@dataclass(slots=True)
class SchemaComparison:
    """The changes between two schemas of one operation (its requests' or its answers')."""

    old: Spec
    new: Spec
    operation: str | None
    operation_id: str | None
    #: the pairs of ``$ref``s being compared (a recursive schema is walked once per pair)
    _walking: set[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=set)
    #: (id, id) -> the two schemas (kept alive, so their ids stay theirs) and whether they
    #: resolve alike
    _same: dict[tuple[int, int], tuple[Any, Any, bool]] = field(default_factory=dict)

    def found(
        self, rule: str, pointer: str, explanation: str, old: Any = None, new: Any = None
    ) -> Change:
        return Change(rule, pointer, explanation, self.operation, self.operation_id, old, new)

    def same(self, old: Any, new: Any) -> bool:
        key = (id(old), id(new))
        if key not in self._same:
            alike = _text(resolved(self.old, old)) == _text(resolved(self.new, new))
            self._same[key] = (old, new, alike)
        return self._same[key][2]

    def request(self, old: Any, new: Any, pointer: str, depth: int = 0) -> Iterator[Change]:
        """What old clients send, described by ``old``, that ``new`` refuses."""
        yield from self._compare(old, new, pointer, depth, request=True)

    def response(self, old: Any, new: Any, pointer: str, depth: int = 0) -> Iterator[Change]:
        """What ``new`` may answer that old clients, reading by ``old``, do not expect."""
        yield from self._compare(old, new, pointer, depth, request=False)

    def _compare(
        self, old: Any, new: Any, pointer: str, depth: int, *, request: bool
    ) -> Iterator[Change]:
        if depth > MAX_DEPTH or self.same(old, new):
            return
        before, after = view(self.old, old), view(self.new, new)
        pair = (before.refs, after.refs)
        if pair in self._walking and (before.refs or after.refs):
            return
        self._walking.add(pair)
        try:
            if before.branches is not None or after.branches is not None:
                yield from self._branches(old, new, before, after, pointer, depth, request)
                return
            yield from (self._narrowed if request else self._widened)(before, after, pointer)
            yield from self._members(before, after, pointer, depth, request)
            if before.items is not None and after.items is not None:
                yield from self._compare(
                    before.items, after.items, join(pointer, "items"), depth + 1, request=request
                )
        finally:
            self._walking.discard(pair)

    # a request: what the new schema refuses of the old one's values

    def _narrowed(self, before: View, after: View, pointer: str) -> Iterator[Change]:
        if not covers(after.types, before.types):
            yield self.found(
                REQUEST_TYPE_NARROWED, join(pointer, "type"),
                f"takes {_types(after.types)} where it took {_types(before.types)}",
                _listed(before.types), _listed(after.types),
            )  # fmt: skip
        elif after.types != before.types:
            yield self.found(
                REQUEST_CONSTRAINT_RELAXED, join(pointer, "type"),
                f"takes {_types(after.types)} where it took {_types(before.types)}",
                _listed(before.types), _listed(after.types),
            )  # fmt: skip
        yield from self._enum_narrowed(before, after, pointer)
        for rule, key, old, new, upper in (
            (REQUEST_MAXIMUM_LOWERED, "maximum", before.maximum, after.maximum, True),
            (REQUEST_MINIMUM_RAISED, "minimum", before.minimum, after.minimum, False),
            (REQUEST_MAX_LENGTH_LOWERED, "maxLength", before.max_length, after.max_length, True),
            (REQUEST_MIN_LENGTH_RAISED, "minLength", before.min_length, after.min_length, False),
        ):
            yield from self._bound(rule, key, old, new, upper, pointer)
        if after.pattern is not None and after.pattern != before.pattern:
            was = f"where it had {before.pattern!r}" if before.pattern else "where it had none"
            yield self.found(
                REQUEST_PATTERN_ADDED, join(pointer, "pattern"),
                f"pattern {after.pattern!r} {was}", before.pattern, after.pattern,
            )  # fmt: skip

    def _enum_narrowed(self, before: View, after: View, pointer: str) -> Iterator[Change]:
        if after.enum is None or after.enum == before.enum:
            if after.enum is None and before.enum is not None:
                yield self.found(
                    REQUEST_CONSTRAINT_RELAXED, join(pointer, "enum"), "its enum is gone",
                    _values(before.enum), None,
                )  # fmt: skip
            return
        if before.enum is None:
            yield self.found(
                REQUEST_ENUM_VALUE_REMOVED, join(pointer, "enum"),
                f"an enum now limits it to {_shown(after.enum)}",
                None, _values(after.enum),
            )  # fmt: skip
            return
        gone, added = before.enum - after.enum, after.enum - before.enum
        if gone:
            yield self.found(
                REQUEST_ENUM_VALUE_REMOVED, join(pointer, "enum"),
                f"no longer accepts {_shown(gone)}",
                _values(before.enum), _values(after.enum),
            )  # fmt: skip
        if added:
            yield self.found(
                REQUEST_CONSTRAINT_RELAXED, join(pointer, "enum"),
                f"also accepts {_shown(added)}",
                _values(before.enum), _values(after.enum),
            )  # fmt: skip

    def _bound(
        self, rule: str, key: str, old: Bound | None, new: Bound | None, upper: bool, pointer: str
    ) -> Iterator[Change]:
        if new == old:
            return
        if new is not None and new.tighter_than(old, upper):
            was = f"where it was {_bound_text(old)}" if old else "where there was none"
            yield self.found(
                rule, join(pointer, key), f"{key} {_bound_text(new)} {was}",
                _bound_value(old), _bound_value(new),
            )  # fmt: skip
        else:
            yield self.found(
                REQUEST_CONSTRAINT_RELAXED, join(pointer, key),
                f"{key} {_bound_text(new) if new else 'gone'} where it was {_bound_text(old)}",
                _bound_value(old), _bound_value(new),
            )  # fmt: skip

    # a response: what the new schema may answer that the old one did not

    def _widened(self, before: View, after: View, pointer: str) -> Iterator[Change]:
        if not covers(before.types, after.types):
            yield self.found(
                RESPONSE_TYPE_CHANGED, join(pointer, "type"),
                f"may be {_types(after.types)} where it was {_types(before.types)}",
                _listed(before.types), _listed(after.types),
            )  # fmt: skip
        if before.enum is not None and after.enum != before.enum:
            added = None if after.enum is None else after.enum - before.enum
            if added is None or added:
                says = "its enum is gone" if added is None else f"may also be {_shown(added)}"
                yield self.found(
                    RESPONSE_ENUM_VALUE_ADDED, join(pointer, "enum"), says,
                    _values(before.enum), _values(after.enum) if after.enum is not None else None,
                )  # fmt: skip

    # members, both ways

    def _members(
        self, before: View, after: View, pointer: str, depth: int, request: bool
    ) -> Iterator[Change]:
        for name in sorted({*before.properties, *after.properties}):
            here = join(pointer, "properties", name)
            if name in before.properties and name in after.properties:
                yield from self._member_kept(before, after, name, here, request)
                yield from self._compare(
                    before.properties[name], after.properties[name], here, depth + 1,
                    request=request,
                )  # fmt: skip
            elif name in after.properties:
                yield from self._member_added(after, name, here, request)
            else:
                yield from self._member_gone(before, name, here, request)

    def _member_kept(
        self, before: View, after: View, name: str, here: str, request: bool
    ) -> Iterator[Change]:
        made = name in after.required and name not in before.required
        if request and made and not view(self.new, after.properties[name]).read_only:
            yield self.found(
                REQUEST_PROPERTY_MADE_REQUIRED, here, f"{name!r} is now required", False, True
            )
        loosened = name in before.required and name not in after.required
        if not request and loosened and not view(self.old, before.properties[name]).write_only:
            yield self.found(
                RESPONSE_PROPERTY_OPTIONAL, here, f"{name!r} is no longer required", True, False
            )

    def _member_added(self, after: View, name: str, here: str, request: bool) -> Iterator[Change]:
        if not request:
            yield self.found(RESPONSE_PROPERTY_ADDED, here, f"new property {name!r}", None, name)
        elif name in after.required and not view(self.new, after.properties[name]).read_only:
            yield self.found(
                REQUEST_PROPERTY_REQUIRED_ADDED, here, f"new required property {name!r}", None, name
            )
        else:
            yield self.found(
                REQUEST_PROPERTY_OPTIONAL_ADDED, here, f"new optional property {name!r}", None, name
            )

    def _member_gone(self, before: View, name: str, here: str, request: bool) -> Iterator[Change]:
        if request:
            if not view(self.old, before.properties[name]).read_only:
                yield self.found(REQUEST_PROPERTY_REMOVED, here, f"{name!r} is gone", name, None)
        elif view(self.old, before.properties[name]).write_only:
            return
        elif name in before.required:
            yield self.found(RESPONSE_PROPERTY_REMOVED, here, f"{name!r} is gone", name, None)
        else:
            yield self.found(
                RESPONSE_OPTIONAL_PROPERTY_REMOVED, here, f"optional {name!r} is gone", name, None
            )

    # oneOf / anyOf

    def _branches(
        self, old: Any, new: Any, before: View, after: View, pointer: str, depth: int,
        request: bool,
    ) -> Iterator[Change]:  # fmt: skip
        keyword = "oneOf" if isinstance(_plain(self.new, new).get("oneOf"), list) else "anyOf"
        olds = before.branches if before.branches is not None else [old]
        news = after.branches if after.branches is not None else [new]
        left_old = list(range(len(olds)))
        left_new = list(range(len(news)))
        for i in list(left_old):
            match = next((j for j in left_new if self.same(olds[i], news[j])), None)
            if match is not None:
                left_old.remove(i)
                left_new.remove(match)
        if len(left_old) == len(left_new):
            for i, j in zip(left_old, left_new, strict=True):
                here = join(pointer, keyword, j) if after.branches is not None else pointer
                yield from self._compare(olds[i], news[j], here, depth + 1, request=request)
            return
        if request and left_old:
            yield self.found(
                REQUEST_TYPE_NARROWED, join(pointer, keyword),
                f"{len(left_old)} of its {len(olds)} old {keyword} branches no longer accepted",
                len(olds), len(news),
            )  # fmt: skip
        elif request:
            yield self.found(
                REQUEST_CONSTRAINT_RELAXED, join(pointer, keyword),
                f"{len(left_new)} new {keyword} branches accepted", len(olds), len(news),
            )  # fmt: skip
        elif left_new:
            yield self.found(
                RESPONSE_TYPE_CHANGED, join(pointer, keyword),
                f"may be one of {len(left_new)} new {keyword} branches", len(olds), len(news),
            )  # fmt: skip


def _plain(spec: Spec, node: Any) -> Mapping[str, Any]:
    found = spec.deref(node)
    return found if isinstance(found, Mapping) else {}


def _types(types: frozenset[str] | None) -> str:
    return "any type" if types is None else " or ".join(sorted(types)) or "no type"


def _listed(types: frozenset[str] | None) -> list[str] | None:
    return None if types is None else sorted(types)


def _shown(enum: frozenset[str]) -> str:
    return ", ".join(sorted(enum))


def _values(enum: frozenset[str] | None) -> list[Any]:
    return [] if enum is None else [json.loads(value) for value in sorted(enum)]


def _bound_text(bound: Bound | None) -> str:
    if bound is None:
        return "none"
    value = int(bound.value) if bound.value.is_integer() else bound.value
    return f"{value} (exclusive)" if bound.exclusive else str(value)


def _bound_value(bound: Bound | None) -> float | int | None:
    if bound is None:
        return None
    return int(bound.value) if bound.value.is_integer() else bound.value
