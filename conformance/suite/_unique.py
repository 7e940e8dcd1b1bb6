"""Fresh values for the keys a resource must not share (``x-unique``), for the scenarios' makers
and for the stateful phase's creates.

hypothesis favours short, simple values, so its draws for a unique key repeat within a run and
across runs against one backend: a create chain (school → department → position → its delete)
then stops at a 409 DUPLICATE, and the operations at its end are never reached.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract import Spec

#: the operating system's randomness: hypothesis seeds the `random` module for each case it runs,
#: so inside the engine's hooks `random.choices` drew the same digits every time (the stateful
#: phase sent one npsn over and over, and 600 creates of a chain were 409 DUPLICATE)
_RANDOM = random.SystemRandom()


def unique_groups(spec: Spec, item: Any) -> list[tuple[str, ...]]:
    """The item schema's ``x-unique`` keys, each as a tuple of property names."""
    resolved = spec.deref(item)
    raw = resolved.get("x-unique", []) if isinstance(resolved, dict) else []
    return [(entry,) if isinstance(entry, str) else tuple(entry) for entry in raw or []]


def keyable_text(spec: Spec, schema: Any) -> bool:
    """Whether ``schema`` is free text that may be a key: a string without an enum or a
    reference, and without a format but an email's (a uuid names another resource; a date is
    rarely a key)."""
    resolved = spec.deref(schema)
    if not isinstance(resolved, dict):
        return False
    kinds = resolved.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" not in kinds or {"enum", "const", "x-references"} & set(resolved):
        return False
    return resolved.get("format") in (None, "email")


def fresh_text(spec: Spec, schema: Any) -> str | None:
    """A fresh value for a unique text key of ``schema`` (its pattern, format and length kept),
    or None when the key is not free text (an id, a reference, a number, an enum)."""
    if not keyable_text(spec, schema):
        return None
    resolved = spec.deref(schema)
    low, high = int(resolved.get("minLength", 0)), int(resolved.get("maxLength", 64))
    if resolved.get("format") == "email":
        return f"conformance-{uuid.uuid4().hex[:12]}@example.com"
    pattern = resolved.get("pattern")
    if isinstance(pattern, str):
        return from_pattern(pattern, low, high)
    return padded(f"conformance {uuid.uuid4().hex}", low, high)


def refreshed(spec: Spec, schema: Any, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with fresh text in each free-text member its schema declares (recursively, for a
    wrapped body such as ``{"article": {"title": …}}``): a title or a name may be a key the API
    refuses to repeat (a slug made of it)."""
    properties = spec.properties(spec.deref(schema)) if schema is not None else {}
    fresh: dict[str, Any] = {}
    for name, value in body.items():
        sub = properties.get(name)
        if isinstance(value, dict) and sub is not None:
            fresh[name] = refreshed(spec, sub, value)
        elif isinstance(value, str) and sub is not None:
            fresh[name] = fresh_text(spec, sub) or value
        else:
            fresh[name] = value
    return fresh


def padded(text: str, low: int, high: int) -> str:
    """``text`` repeated up to ``low`` characters, cut to at most ``high``."""
    return (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]


def fresh_keys(
    spec: Spec, request: Any, item: Any, body: Mapping[str, Any]
) -> dict[str, Any] | None:
    """``body`` with a fresh value in each unique text key it holds (one such key per group is
    enough to make the group new; a reference in a group is left as drawn), or None when it
    has none to change."""
    properties = spec.properties(spec.deref(request)) if request is not None else {}
    changed = dict(body)
    for group in unique_groups(spec, item):
        for name in group:
            if name not in body or name not in properties:
                continue
            value = fresh_text(spec, properties[name])
            if value is not None:
                changed[name] = value
    return changed if changed != dict(body) else None


def from_pattern(pattern: str, low: int = 0, high: int = 64) -> str:
    """A random string matching ``pattern``, ``low`` to ``high`` characters long, a fresh value
    each call. Unique keys are drawn this way, so the common shapes (digits, a letter and hex, upper
    case) are tried first with about 64 bits of randomness; hypothesis draws the rest, and its
    draws favour short simple values that collide."""
    compiled = re.compile(pattern)
    for candidate in _random_shapes(low, high):
        if compiled.fullmatch(candidate):
            return candidate
    return _drawn(pattern, low, high)


def _random_shapes(low: int, high: int) -> Iterator[str]:
    """Random strings of common key shapes, each cut to at most ``high`` characters."""
    digits = "".join(_RANDOM.choices("0123456789", k=max(low, 20)))
    letters = uuid.uuid4().hex
    # letters alone (a username's ``^[a-z]{3,8}$``): the marked shape below, cut that short, is
    # "conforma" every time
    alphabetic = "".join(_RANDOM.choices(string.ascii_lowercase, k=max(low, 20)))
    for shape in (
        digits,
        "c" + letters,
        "C" + letters.upper(),
        alphabetic,
        alphabetic.upper(),
        f"conformance.c{letters}",
    ):
        cut = shape[: max(low, min(high, len(shape)))]
        if low <= len(cut) <= high:
            yield cut
    # fixed lengths (a pattern such as [0-9]{8}): every length from the longest down, digits
    # then hex, so that a key gets as much randomness as its pattern allows (from low up, a
    # tracker's ``^[A-Z][A-Z0-9]{1,9}$`` got "C" and one hex digit: 16 keys, and a key the run
    # deleted was made again, a false `use_after_free`)
    for length in range(min(high, 24), max(low, 1) - 1, -1):
        yield digits[:length]
        yield ("c" + letters)[:length]
        yield ("C" + letters.upper())[:length]


def _drawn(pattern: str, low: int, high: int) -> str:
    """A value hypothesis draws for ``pattern`` (a random pick among a few draws)."""
    import warnings

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    found: list[str] = []

    # hypothesis tries the simplest value first: draw a few and take one at random
    @settings(max_examples=12, database=None, suppress_health_check=list(HealthCheck))
    @given(
        st.from_regex(re.compile(pattern), fullmatch=True).filter(lambda v: low <= len(v) <= high)
    )
    def draw(value: str) -> None:
        found.append(value)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draw()
    return _RANDOM.choice(found[1:] or found)


def without_made_up_references(
    spec: Spec, request: Any, body: Mapping[str, Any], known: set[str]
) -> dict[str, Any] | None:
    """``body`` without the optional members that name another resource (``x-references``, or
    an array of them) by an id not in ``known`` (the ids the run made): a made-up id is a 404,
    and a step that needs to succeed does better without the member. None when nothing goes, or
    when removing would leave no change to make (``version`` aside)."""
    schema = spec.deref(request) if request is not None else None
    if not isinstance(schema, dict):
        return None
    required = set(spec.required(schema))
    dropped = []
    for name, sub in spec.properties(schema).items():
        if name in required or name not in body or body[name] is None:
            continue
        resolved = spec.deref(sub)
        if not isinstance(resolved, dict):
            continue
        items = spec.deref(resolved.get("items", {}))
        if "x-references" in resolved:
            values = [body[name]]
        elif isinstance(items, dict) and "x-references" in items and isinstance(body[name], list):
            values = list(body[name])
        else:
            continue
        if any(str(value) not in known for value in values):
            dropped.append(name)
    if not dropped:
        return None
    kept = {key: value for key, value in body.items() if key not in dropped}
    return kept if set(kept) - {"version"} else None


def value_for(spec: Spec, schema: Any, name: str) -> Any:
    """A valid value for a required property the scenario does not care about (unique keys get
    fresh random values, so two accounts never collide)."""
    schema = spec.deref(schema)
    if not isinstance(schema, dict):
        return "conformance"
    for part in schema.get("allOf", []) or []:
        merged = spec.deref(part)
        if isinstance(merged, dict):
            schema = {**merged, **{k: v for k, v in schema.items() if k != "allOf"}}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items", {})
        return [value_for(spec, items, name) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "object":
        return {
            key: value_for(spec, sub, key)
            for key, sub in spec.properties(schema).items()
            if key in spec.required(schema)
        }
    fmt = schema.get("format")
    if fmt == "email":
        return f"conformance-{uuid.uuid4().hex[:12]}@example.com"
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    if fmt == "uri":
        return f"https://example.com/conformance/{uuid.uuid4().hex[:8]}"
    low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 64))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        return from_pattern(pattern, int(schema.get("minLength", 0)), high)
    return padded(f"Conformance {name} {uuid.uuid4().hex}", low, high)
