"""JSON pointers (RFC 6901): building, splitting and following them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    """``join("/paths", "/users", "get") == "/paths/~1users/get"``."""
    return pointer + "".join("/" + escape(str(token)) for token in tokens)


def split(pointer: str) -> list[str]:
    if pointer in ("", "#"):
        return []
    pointer = pointer.removeprefix("#")
    if not pointer.startswith("/"):
        raise ValueError(f"pointer={pointer!r} must start with '/'")
    return [unescape(token) for token in pointer[1:].split("/")]


def from_tokens(tokens: Iterable[str | int]) -> str:
    return join("", *tokens)


class PointerError(LookupError):
    """A pointer that leads nowhere in a document."""


def follow(document: Any, pointer: str) -> Any:
    """The value at ``pointer``; raises `PointerError` naming the first missing token."""
    node = document
    walked = ""
    for token in split(pointer):
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, Sequence) and not isinstance(node, str) and token.isdigit():
            index = int(token)
            if index >= len(node):
                raise PointerError(f"{walked or '/'} has no item {index}")
            node = node[index]
        else:
            raise PointerError(f"{walked or '/'} has no member {token!r}")
        walked = join(walked, token)
    return node


def walk_mappings(
    node: Any, pointer: str = "", *, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every mapping at or under ``node``, with its pointer; members named in ``skip`` are not
    entered (``example``, ``enum``: values, not parts of the document's structure)."""
    if isinstance(node, Mapping):
        yield node, pointer
        for key, value in node.items():
            if key not in skip:
                yield from walk_mappings(value, join(pointer, key), skip=skip)
    elif isinstance(node, Sequence) and not isinstance(node, str):
        for index, value in enumerate(node):
            yield from walk_mappings(value, join(pointer, index), skip=skip)
