"""Operations that look as if they reset, seed or wipe a target's data: what a run against a
shared target leaves out unless it is told otherwise (DESIGN.md, principle 5).

Read from what the spec says of an operation, never from its answers: its path's static
segments and its operationId (identifiers: a word of its own is enough), its summary and
description (prose: a verb and what it acts on, "Wipe all data", "Reset the database"), and
its shape (a DELETE on a collection path without an id, ``DELETE /items`` beside
``/items/{id}``). False alarms cost a line that says how to include the operation again; a
miss can wipe a shared database, but ordinary operations must stay in, so:

- a password's or a token's reset is not one (``POST /password/reset``, ``resetPassword``);
- an operation on one item, whose path holds a template (``/devices/{id}/reset``,
  ``/users/{id}/reset-password``, ``DELETE /items/{id}``), is not: a shared run changes only
  the items it made itself;
- a noun is not a verb: the words after an operationId's leading CRUD verb (``createSeed``,
  ``getDrop``, ``createDatabase`` on ``POST /databases``) name a resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from conformance.contract._spec import Operation, Spec

#: a word of an identifier that says the operation does it, and what it does in words
_VERBS = {
    "reset": "resets",
    "wipe": "wipes",
    "nuke": "wipes",
    "seed": "seeds",
    "reseed": "seeds",
    "truncate": "truncates",
    "purge": "purges",
    "flush": "flushes",
    "flushall": "flushes",
    "flushdb": "flushes",
    "drop": "drops",
    "dropdb": "drops",
    "dropall": "drops",
    "createdb": "creates the database",
    "recreatedb": "creates the database",
    "initdb": "initialises the database",
    "resetdb": "resets",
    "deleteall": "deletes everything",
    "removeall": "deletes everything",
    "clearall": "deletes everything",
    "destroyall": "deletes everything",
    "wipeall": "wipes",
    "recreate": "recreates",
}
#: a verb followed by one of these (``create-db``, ``deleteAll``) in an identifier
_COMPOUNDS = {
    ("create", "db"): "creates the database",
    ("init", "db"): "initialises the database",
    ("init", "database"): "initialises the database",
    ("initialize", "database"): "initialises the database",
    ("initialise", "database"): "initialises the database",
    ("setup", "db"): "initialises the database",
    ("setup", "database"): "initialises the database",
    ("delete", "all"): "deletes everything",
    ("delete", "everything"): "deletes everything",
    ("remove", "all"): "deletes everything",
    ("clear", "all"): "deletes everything",
    ("clear", "database"): "wipes",
    ("clear", "db"): "wipes",
    ("destroy", "all"): "deletes everything",
    ("erase", "all"): "deletes everything",
}
#: what a verb acts on where it is harmless: a credential's reset, a delivery's drop-off …
_HARMLESS = {
    "reset": frozenset(
        [
            "password",
            "passwords",
            "passwd",
            "pwd",
            "pin",
            "passcode",
            "passphrase",
            "token",
            "tokens",
            "secret",
            "credential",
            "credentials",
            "mfa",
            "2fa",
            "otp",
            "totp",
            "email",
            "verification",
            "key",
            "keys",
            "apikey",
            "link",
            "code",
            "filter",
            "filters",
            "zoom",
            "view",
            "layout",
            "preferences",
            "request",
            "requests",
        ]
    ),
    "drop": frozenset(["off", "ship", "shipping", "down", "dropdown", "zone", "point"]),
    "seed": frozenset(["phrase", "mnemonic", "word", "words"]),
    "flush": frozenset(["logs", "log", "buffer", "metrics"]),
}
#: an operationId that starts with one of these names a resource after it (``createSeed``)
_CRUD = frozenset(
    [
        "get",
        "list",
        "create",
        "update",
        "patch",
        "put",
        "find",
        "search",
        "read",
        "fetch",
        "show",
        "retrieve",
        "query",
        "add",
        "new",
        "set",
        "upsert",
        "replace",
        "edit",
        "post",
        "delete",
        "remove",
        "destroy",
    ]
)

_VERB_PROSE = (
    r"(?:reset|re-?creat|recreat|wip|truncat|purg|flush|drop|seed|eras|delet|remov|destroy|"
    r"clear|empt|nuk|initiali[sz]|populat)\w*"
)
#: prose that says it acts on all the data: "reset the database", "wipes all data"
_PROSE_ALL = re.compile(
    rf"\b{_VERB_PROSE}\s+(?:(?:the|a|all|of|entire|whole|complete|test|demo|sample|its|our)\s+)*"
    r"(?P<what>databases?|db|everything|tables|all\s+tables)\b",
    re.IGNORECASE,
)
#: prose that says it deletes all of something, unscoped: "Delete all users" (not "… of the
#: current user", "… from the cart")
_PROSE_EVERY = re.compile(
    r"\b(?:delet|remov|destroy|eras|purg|wip|clear|truncat)\w*\s+(?:the\s+)?(?:all|every)\s+"
    r"(?:the\s+)?(?P<what>\w+)(?P<rest>[^.;\n]*)",
    re.IGNORECASE,
)
_SCOPED = re.compile(
    r"^\s*(?:from|of|in|for|on|belonging|owned|that|which|matching|with|under|older|created)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+[a-z]*")


def words(identifier: str) -> list[str]:
    """An identifier's words, lower case: ``resetDB`` and ``reset-db`` give reset, db."""
    return [word.lower() for word in _WORD.findall(identifier)]


def _identifier_danger(found: list[str], context: frozenset[str]) -> str | None:
    """What the words of one identifier say the operation does to all the data, if anything;
    ``context``: every word the operation's identifiers and summary say (a password's reset)."""
    for n, word in enumerate(found):
        after = found[n + 1] if n + 1 < len(found) else ""
        if (word, after) in _COMPOUNDS:
            return _COMPOUNDS[(word, after)]
        if word in _VERBS and not (_HARMLESS.get(word, frozenset()) & context):
            return _VERBS[word]
    return None


def _path_words(operation: Operation) -> list[list[str]]:
    """The words of each segment of the path."""
    return [words(segment) for segment in operation.path.split("/") if segment]


def _id_words(operation: Operation) -> list[str]:
    """The operationId's words that may be verbs: none after a leading CRUD verb other than
    ``all`` and the database (``createSeed`` names a seed; ``deleteAll`` deletes all)."""
    found = words(operation.operation_id or "")
    if (
        found
        and found[0] in _CRUD
        and (found[0], found[1] if len(found) > 1 else "") not in (_COMPOUNDS)
    ):
        return []
    return found


def _prose(operation: Operation) -> Iterator[tuple[str, str]]:
    for field in ("summary", "description"):
        text = operation.definition.get(field)
        if isinstance(text, str) and text.strip():
            yield field, text


def _prose_danger(operation: Operation) -> str | None:
    """What the summary or description says the operation does to all the data, if anything:
    a verb on the database or on everything, or on every one of something where the words do
    not scope it ("… of the current user")."""
    for field, text in _prose(operation):
        found = _PROSE_ALL.search(text)
        if found:
            return f'its {field} says "{_quote(text, found.start())}"'
        for every in _PROSE_EVERY.finditer(text):
            if not any(_SCOPED.match(every.group(part)) for part in ("what", "rest")):
                return f'its {field} says "{_quote(text, every.start())}"'
    return None


def _quote(text: str, start: int) -> str:
    """The words of ``text`` from ``start`` to the end of the sentence, at most 60 characters."""
    said = " ".join(re.split(r"[.;:\n]", text[start:])[0].split())
    return said if len(said) <= 60 else said[:59].rstrip() + "…"


def _collection_delete(operation: Operation, spec: Spec | None) -> str | None:
    """A DELETE on a collection path with no template (``DELETE /items`` where the spec has
    ``/items/{id}``): it deletes every item, not one."""
    if operation.method != "delete" or spec is None:
        return None
    prefix = operation.path.rstrip("/") + "/{"
    if any(other.path.startswith(prefix) for other in spec.operations):
        return f"a DELETE on the collection {operation.path} without an id: it deletes every item"
    return None


def danger(operation: Operation, spec: Spec | None = None) -> str | None:
    """Why ``operation`` looks as if it resets, seeds, wipes, drops, truncates, purges or
    (re)creates the target's data, or deletes everything, in words ("its path says it creates
    the database"); None when it does not. ``spec``: the operation's spec, for the shape of a
    collection's DELETE."""
    if "{" in operation.path:  # one item: a shared run acts on its own items only
        return None
    segments = _path_words(operation)
    ident = _id_words(operation)
    summary = operation.definition.get("summary")
    context = frozenset(
        [w for segment in segments for w in segment]
        + words(operation.operation_id or "")
        + (words(summary) if isinstance(summary, str) else [])
    )
    for segment in segments:
        does = _identifier_danger(segment, context)
        if does is not None:
            return f"its path says it {does}"
    does = _identifier_danger(ident, context)
    if does is not None:
        return f"its operationId {operation.operation_id} says it {does}"
    return _prose_danger(operation) or _collection_delete(operation, spec)


def dangerous_operations(spec: Spec) -> list[tuple[Operation, str]]:
    """Every operation of ``spec`` that `danger` flags, with why, in the spec's order."""
    found = []
    for operation in spec.operations:
        why = danger(operation, spec)
        if why is not None:
            found.append((operation, why))
    return found
