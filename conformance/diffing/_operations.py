"""The changes of operations: gone or new, their parameters, request bodies, answers and
security, each compared as an old client of the operation meets it."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract import Operation, Parameter, Spec, is_template, join
from conformance.diffing._model import (
    Change,
    Pair,
    at,
    change,
    operation_comparison,
    root_comparison,
)
from conformance.diffing._schemas import SchemaComparison

REMOVED_WITHOUT_DEPRECATION = change("removed-without-deprecation")
REMOVED_BEFORE_SUNSET = change("removed-before-sunset")
OPERATION_REMOVED = change("operation-removed")
OPERATION_ADDED = change("operation-added")
OPERATION_DEPRECATED = change("operation-deprecated")
OPERATION_ID_CHANGED = change("operation-id-changed")
BASE_PATH_CHANGED = change("base-path-changed")
PARAM_REQUIRED_ADDED = change("param-required-added")
PARAM_MADE_REQUIRED = change("param-made-required")
PARAM_OPTIONAL_ADDED = change("param-optional-added")
PARAM_REMOVED = change("param-removed")
REQUEST_BODY_MADE_REQUIRED = change("request-body-made-required")
REQUEST_MEDIA_TYPE_REMOVED = change("request-media-type-removed")
SUCCESS_STATUS_REMOVED = change("success-status-removed")
RESPONSE_STATUS_ADDED = change("response-status-added")
RESPONSE_MEDIA_TYPE_REMOVED = change("response-media-type-removed")
SECURITY_ADDED = change("security-added")
SCOPE_ADDED = change("scope-added")
SECURITY_REMOVED = change("security-removed")


# --- operations gone and new --------------------------------------------------------------------


@root_comparison
def operations(pair: Pair) -> Iterator[Change]:
    """An operation of the old spec the new one lacks (how it went decides the rule: without a
    deprecation, before its sunset, or as announced), and each new operation."""
    for old, new in pair.matched():
        if old is not None and new is None:
            yield _removed(old, pair.today)
        elif old is None and new is not None:
            yield Change(OPERATION_ADDED, new.pointer, "a new operation", **at(new))


def _removed(old: Operation, today: dt.date) -> Change:
    if old.definition.get("deprecated") is not True:
        return Change(
            REMOVED_WITHOUT_DEPRECATION, old.pointer,
            "gone, and the old spec did not mark it deprecated", **at(old),
        )  # fmt: skip
    sunset = sunset_of(old)
    if sunset is not None and today < sunset:
        return Change(
            REMOVED_BEFORE_SUNSET, old.pointer,
            f"gone before its x-sunset {sunset.isoformat()}", old=sunset.isoformat(), **at(old),
        )  # fmt: skip
    after = f"after its x-sunset {sunset.isoformat()}" if sunset else "deprecated, no x-sunset"
    return Change(OPERATION_REMOVED, old.pointer, f"gone ({after})", **at(old))


def sunset_of(operation: Operation) -> dt.date | None:
    """The date an operation's ``x-sunset`` announces (``2026-12-31``, or a date and time),
    or None where it names none it can be read as."""
    raw = operation.definition.get("x-sunset")
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(raw.strip()[:10])
    return None


@root_comparison
def base_path(pair: Pair) -> Iterator[Change]:
    if pair.old.base_path != pair.new.base_path:
        yield Change(
            BASE_PATH_CHANGED, "/servers/0/url",
            f"{pair.new.base_path or '/'} where it was {pair.old.base_path or '/'}",
            old=pair.old.base_path, new=pair.new.base_path,
        )  # fmt: skip


@operation_comparison
def identity(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    if old.operation_id and old.operation_id != new.operation_id:
        yield Change(
            OPERATION_ID_CHANGED, join(new.pointer, "operationId"),
            f"operationId {new.operation_id!r} where it was {old.operation_id!r}",
            old=old.operation_id, new=new.operation_id, **at(new),
        )  # fmt: skip
    if new.definition.get("deprecated") is True and old.definition.get("deprecated") is not True:
        sunset = sunset_of(new)
        says = f"deprecated, x-sunset {sunset.isoformat()}" if sunset else "deprecated"
        yield Change(OPERATION_DEPRECATED, join(new.pointer, "deprecated"), says, **at(new))


# --- parameters ---------------------------------------------------------------------------------


def _parameter_keys(operation: Operation) -> dict[tuple[str, str], Parameter]:
    """An operation's parameters by where they are: a path parameter by its place in the
    template (renaming it changes no URL), a header by its name in any case, others by name."""
    places = [part[1:-1] for part in operation.path.split("/") if is_template(part)]
    found = {}
    for parameter in operation.parameters:
        if parameter.location == "path" and parameter.name in places:
            key = ("path", str(places.index(parameter.name)))
        elif parameter.location == "header":
            key = ("header", parameter.name.lower())
        else:
            key = (parameter.location, parameter.name)
        found[key] = parameter
    return found


@operation_comparison
def parameters(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    before, after = _parameter_keys(old), _parameter_keys(new)
    schemas = SchemaComparison(pair.old, pair.new, new.label, new.operation_id)
    for key in [*before, *(key for key in after if key not in before)]:
        was, now = before.get(key), after.get(key)
        if now is None and was is not None:
            yield Change(
                PARAM_REMOVED, was.pointer, f"{was.location} parameter {was.name!r} is gone",
                old=was.name, **at(new),
            )  # fmt: skip
        elif was is None and now is not None:
            rule = PARAM_REQUIRED_ADDED if now.required else PARAM_OPTIONAL_ADDED
            kind = "required" if now.required else "optional"
            yield Change(
                rule, now.pointer, f"new {kind} {now.location} parameter {now.name!r}",
                new=now.name, **at(new),
            )  # fmt: skip
        elif was is not None and now is not None:
            if now.required and not was.required:
                yield Change(
                    PARAM_MADE_REQUIRED, join(now.pointer, "required"),
                    f"{now.location} parameter {now.name!r} is now required",
                    old=False, new=True, **at(new),
                )  # fmt: skip
            yield from schemas.request(was.schema, now.schema, join(now.pointer, "schema"))


# --- request bodies -----------------------------------------------------------------------------


def _media(name: str) -> str:
    return name.split(";")[0].strip().lower()


def _content(spec: Spec, holder: Any) -> dict[str, tuple[str, Any]]:
    """media type (its essence) -> (as written, its schema) of a body or an answer."""
    holder = spec.deref(holder)
    content = holder.get("content") if isinstance(holder, Mapping) else None
    if not isinstance(content, Mapping):
        return {}
    return {
        _media(name): (str(name), (body.get("schema") if isinstance(body, Mapping) else None))
        for name, body in content.items()
    }


def _accepts(media: dict[str, tuple[str, Any]], wanted: str) -> bool:
    kind = wanted.split("/")[0]
    return wanted in media or "*/*" in media or f"{kind}/*" in media


@operation_comparison
def request_body(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    was_body = pair.old.deref(old.definition.get("requestBody") or {})
    now_body = pair.new.deref(new.definition.get("requestBody") or {})
    pointer = join(new.pointer, "requestBody")
    was_required = bool(was_body) and was_body.get("required") is True
    if now_body and now_body.get("required") is True and not was_required:
        says = "the request body is now required" if was_body else "a new, required request body"
        yield Change(
            REQUEST_BODY_MADE_REQUIRED, join(pointer, "required"), says,
            old=was_required, new=True, **at(new),
        )  # fmt: skip
    before, after = _content(pair.old, was_body), _content(pair.new, now_body)
    schemas = SchemaComparison(pair.old, pair.new, new.label, new.operation_id)
    for media, (written, schema) in before.items():
        if not _accepts(after, media):
            yield Change(
                REQUEST_MEDIA_TYPE_REMOVED, join(old.pointer, "requestBody", "content", written),
                f"no longer takes {written}", old=written, **at(new),
            )  # fmt: skip
        elif media in after and schema is not None and after[media][1] is not None:
            here = join(pointer, "content", after[media][0], "schema")
            yield from schemas.request(schema, after[media][1], here)


# --- answers ------------------------------------------------------------------------------------


def _statuses(spec: Spec, operation: Operation) -> dict[str, tuple[str, Any]]:
    """status (upper case: ``2XX``) -> (as written, the response)."""
    return {status.upper(): (status, response) for status, response, _ in spec.responses(operation)}


def _success(status: str) -> bool:
    return status.startswith("2")


@operation_comparison
def responses(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    before, after = _statuses(pair.old, old), _statuses(pair.new, new)
    schemas = SchemaComparison(pair.old, pair.new, new.label, new.operation_id)
    for status, (written, response) in before.items():
        kept = status in after or (_success(status) and "2XX" in after)
        if not kept and _success(status):
            yield Change(
                SUCCESS_STATUS_REMOVED, join(old.pointer, "responses", written),
                f"no longer answers {written}", old=written, **at(new),
            )  # fmt: skip
        if status in after:
            yield from _answer(pair, schemas, old, new, status, response, after[status])
    for status, (written, _) in after.items():
        if status not in before:
            yield Change(
                RESPONSE_STATUS_ADDED, join(new.pointer, "responses", written),
                f"now documents {written}", new=written, **at(new),
            )  # fmt: skip


def _answer(
    pair: Pair, schemas: SchemaComparison, old: Operation, new: Operation, status: str,
    response: Any, now: tuple[str, Any],
) -> Iterator[Change]:  # fmt: skip
    written, now_response = now
    before, after = _content(pair.old, response), _content(pair.new, now_response)
    for media, (name, schema) in before.items():
        if media not in after:
            yield Change(
                RESPONSE_MEDIA_TYPE_REMOVED,
                join(old.pointer, "responses", written, "content", name),
                f"{status} no longer answers {name}", old=name, **at(new),
            )  # fmt: skip
        elif schema is not None and after[media][1] is not None:
            here = join(new.pointer, "responses", written, "content", after[media][0], "schema")
            yield from schemas.response(schema, after[media][1], here)


# --- security -----------------------------------------------------------------------------------


def _scheme_identity(spec: Spec, name: str) -> str:
    """A security scheme as what it is (its type, where it goes), not its name: renaming a
    scheme changes nothing a client sends."""
    schemes = spec.data.get("components", {}).get("securitySchemes", {}) or {}
    raw = spec.deref(schemes.get(name)) if isinstance(schemes, Mapping) else None
    if not isinstance(raw, Mapping):
        return f"undefined:{name}"
    kept = {k: v for k, v in raw.items() if k != "description" and not str(k).startswith("x-")}
    if isinstance(kept.get("flows"), Mapping):  # the flows' URLs are where, not what
        kept["flows"] = sorted(kept["flows"])
    return json.dumps(kept, sort_keys=True)


Alternative = dict[str, frozenset[str]]


def _alternatives(spec: Spec, operation: Operation) -> list[Alternative]:
    """Each way to call the operation: the schemes it needs together, each with its scopes
    (a public operation: one way, needing nothing)."""
    if not operation.security:
        return [{}]
    return [
        {
            _scheme_identity(spec, str(name)): frozenset(map(str, scopes or ()))
            for name, scopes in requirement.items()
        }
        for requirement in operation.security
        if isinstance(requirement, Mapping)
    ]


def _serves(new: Alternative, old: Alternative, *, scopes: bool = True) -> bool:
    """A client holding what ``old`` asks for can call by ``new``."""
    return all(k in old and (not scopes or v <= old[k]) for k, v in new.items())


@operation_comparison
def security(pair: Pair, old: Operation, new: Operation) -> Iterator[Change]:
    before, after = _alternatives(pair.old, old), _alternatives(pair.new, new)
    pointer = join(new.pointer, "security")
    stranded = [alt for alt in before if not any(_serves(b, alt) for b in after)]
    for alternative in stranded:
        needs = "credentials" if alternative else "no credentials"
        if any(_serves(b, alternative, scopes=False) for b in after):
            yield Change(
                SCOPE_ADDED, pointer, f"a client with the old {needs} lacks a scope now needed",
                **at(new),
            )  # fmt: skip
        else:
            says = "now needs credentials" if not alternative else "no longer accepts a way"
            yield Change(
                SECURITY_ADDED, pointer,
                f"{says} old clients call it with" if alternative else says, **at(new),
            )  # fmt: skip
    if not stranded and any(not any(_serves(a, b) for a in before) for b in after):
        yield Change(SECURITY_REMOVED, pointer, "accepts fewer credentials or scopes", **at(new))
