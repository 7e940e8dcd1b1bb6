"""What `conformance init` drafts: actions of an OpenAPI Overlay 1.0 document, each adding one
``x-`` declaration to one node of the spec and saying why it was inferred, and what it could not
infer (`Gap`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: a member name JSONPath may write without quotes (RFC 9535 ``member-name-shorthand``, ASCII)
_SHORTHAND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def tokens(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer (RFC 6901), unescaped."""
    if not pointer:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def json_path(pointer: str) -> str:
    """The JSONPath (RFC 9535) of the one node at ``pointer``: ``$.paths['/auth/login'].post``.
    Names JSONPath cannot write bare are quoted; a number after ``parameters`` is an index."""
    path = "$"
    parts = tokens(pointer)
    for index, token in enumerate(parts):
        if token.isdigit() and index > 0 and parts[index - 1] == "parameters":
            path += f"[{token}]"
        elif _SHORTHAND.match(token):
            path += f".{token}"
        else:
            quoted = token.replace("\\", "\\\\").replace("'", "\\'")
            path += f"['{quoted}']"
    return path


@dataclass(frozen=True, slots=True)
class Action:
    """One drafted declaration: the node it is added to, its name and value, and why."""

    pointer: str  #: JSON pointer of the node in the spec ("" for the root)
    extension: str  #: "x-unique"
    value: Any
    why: str  #: one or two sentences: what in the spec it was read from

    @property
    def target(self) -> str:
        return json_path(self.pointer)


@dataclass(frozen=True, slots=True)
class Gap:
    """A declaration init could not infer, in one sentence; where it can guess, the action it
    would draft (written commented out, for the user to check)."""

    extension: str
    what: str
    guess: Action | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """An overlay drafted for one spec."""

    spec: Path
    title: str
    actions: tuple[Action, ...]
    gaps: tuple[Gap, ...]
    #: what the suite reads from the spec as it is (versions, creates and deletes): no
    #: declaration is needed for it, the user should know it was seen
    notes: tuple[str, ...] = ()
    #: declarations the spec makes already: left as they are
    kept: tuple[str, ...] = ()
    #: what calling the target said about the drafted login (`--target`), one line each
    confirmed: tuple[str, ...] = field(default=())

    def of(self, extension: str) -> list[Action]:
        return [action for action in self.actions if action.extension == extension]
