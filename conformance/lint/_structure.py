"""CT0xx: the document itself: YAML, references, the OpenAPI schema, and the overlays applied
to it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import DuplicateOperationIDError

from conformance.contract import SCHEMA_KEYWORDS, iter_schemas, join, walk_mappings
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import declaration_findings


@rule("CT001")
def duplicate_keys(ctx: LintContext) -> Iterator[Problem]:
    for duplicate in ctx.spec.document.duplicate_keys:
        yield Problem(
            join(duplicate.pointer, duplicate.key),
            f"the key {duplicate.key!r} appears again on line {duplicate.line}; the earlier value"
            " is silently dropped",
            "merge the two into one key",
        )


@rule("CT002")
def refs_resolve(ctx: LintContext) -> Iterator[Problem]:
    for pointer, broken in ctx.broken_refs:
        yield Problem(
            pointer,
            f"$ref {broken.ref!r} {broken.reason}",
            "point the $ref at an existing '#/components/...' entry (bundle external files first)",
        )


@rule("CT005")
def overlay_actions_apply(ctx: LintContext) -> Iterator[Problem]:
    """An action of an overlay that changed nothing: a target that is not JSONPath or selects
    nothing (the spec moved, or a typo), or an update that does not fit what it selects. The
    declarations it meant to add are missing, and the rules that need them silently off."""
    for problem in ctx.spec.overlay_problems:
        yield Problem(
            problem.pointer, problem.message, problem.fix, where=(problem.overlay, problem.line)
        )


# "Path parameter 'id' for 'get' operation in '/a/{id}' was not resolved",
# "Operation ID 'x' for 'post' in '/b' is not unique"
_OPERATION_IN_MESSAGE = re.compile(r"for '(\w+)'(?: operation)? in '([^']+)'")


def _locate(ctx: LintContext, error: Any) -> str:
    """A pointer for a validator error.

    Errors of the document pass carry a path from the root; those of a schema carry a path inside
    that schema (which never resolves from the root: schema keywords are not root members), and
    semantic ones (parameters, operation ids) only a message.
    """
    tokens = list(getattr(error, "absolute_path", []) or [])
    instance = getattr(error, "instance", None)
    if tokens and _walk(ctx.spec.data, tokens) is not _NOWHERE:
        return join("", *tokens)
    match = _OPERATION_IN_MESSAGE.search(str(getattr(error, "message", "")))
    if match:
        return join("/paths", match.group(2), match.group(1))
    if tokens:  # inside some schema: the one place in the document where the value stands
        candidates = [
            pointer
            for node, pointer in walk_mappings(ctx.spec.data)
            if _follows_to(node, tokens, instance)
        ]
        if len(candidates) == 1:
            return join(candidates[0], *tokens)
    return ""


_NOWHERE = object()


def _walk(node: Any, tokens: list[Any]) -> Any:
    """The value at ``tokens`` (keys and list indexes) under ``node``, or `_NOWHERE`."""
    for token in tokens:
        if (isinstance(node, Mapping) and token in node) or (
            isinstance(node, list) and isinstance(token, int) and token < len(node)
        ):
            node = node[token]
        else:
            return _NOWHERE
    return node


def _follows_to(node: Any, tokens: list[Any], instance: Any) -> bool:
    found = _walk(node, tokens)
    return found is not _NOWHERE and bool(found == instance)


@rule("CT003")
def openapi_schema(ctx: LintContext) -> Iterator[Problem]:
    # x-contract decides which rules are findings, and x-exclude which operations a run calls,
    # so a malformed one is a fault of the document (the catalogue has no rule of its own for
    # either yet)
    yield from declaration_findings(ctx.spec, "x-contract", "x-exclude")
    if ctx.broken_refs:
        return  # the validator cannot walk past a broken $ref; CT002 has reported it
    version = ctx.spec.openapi_version
    validator_class = (
        OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    )
    fix = f"make it valid OpenAPI {version} (see the specification's object definitions)"
    try:
        for error in validator_class(ctx.spec.data).iter_errors():
            if isinstance(error, DuplicateOperationIDError):
                continue  # CT901 reports it, with both operations named, on any spec
            message = str(getattr(error, "message", error)).splitlines()[0]
            yield Problem(_locate(ctx, error), message, fix)
    except Exception as exc:
        yield Problem(
            "",
            f"openapi-spec-validator stopped: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            "fix the findings above it; if none, report the spec to the conformance maintainers",
        )


@rule("CT004")
def unknown_keyword(ctx: LintContext) -> Iterator[Problem]:
    for schema, pointer in iter_schemas(ctx.spec.data):
        if not isinstance(schema, Mapping):
            continue
        for key, value in schema.items():
            if key in SCHEMA_KEYWORDS or str(key).startswith("x-"):
                continue
            hint = (
                "; a comma inside a {flow mapping} splits a plain string there: quote the string"
                if value is None
                else ""
            )
            yield Problem(
                join(pointer, key),
                f"{key!r} is not a schema keyword, so no validator checks it{hint}",
                "fix the spelling, quote the string it came from, or name it x-...",
            )
