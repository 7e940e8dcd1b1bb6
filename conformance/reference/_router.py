"""Routing requests to the spec's operations.

A static segment owns its path (CONTRACT.md §2): ``/users/me`` is matched before ``/users/{id}``,
and ``PATCH /users/me`` is 405 with ``Allow: GET``, never routed to ``PATCH /users/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from conformance.contract import Operation, is_template


@dataclass(slots=True)
class _Node:
    static: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    #: upper-case method -> operation; non-empty only where a path of the spec ends
    methods: dict[str, Operation] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """A path the spec declares: the operation for the method (None: 405), and what it allows."""

    operation: Operation | None
    path_params: dict[str, str]
    allowed: list[str]


class Router:
    def __init__(self, operations: tuple[Operation, ...], base_path: str) -> None:
        self._base = base_path.rstrip("/")
        self._root = _Node()
        for operation in operations:
            node = self._root
            for segment in _segments(operation.path):
                if is_template(segment):
                    name = segment[1:-1]
                    if node.param is None:
                        node.param = (name, _Node())
                    elif node.param[0] != name:
                        other = node.param[0]
                        raise ValueError(f"{operation.label}: {{{name}}} and {{{other}}} collide")
                    node = node.param[1]
                else:
                    node = node.static.setdefault(segment, _Node())
            node.methods[operation.method.upper()] = operation

    def match(self, method: str, path: str) -> Match | None:
        """The operation for ``method`` on ``path``; None if the spec declares no such path."""
        if not path.startswith(self._base + "/") and path != self._base:
            return None
        raw = path[len(self._base) :]
        segments = [unquote(part) for part in _segments(raw)]
        found = self._walk(self._root, segments, {})
        if found is None:
            return None
        node, params = found
        allowed = sorted(node.methods)
        return Match(node.methods.get(method.upper()), params, allowed)

    def _walk(
        self, node: _Node, segments: list[str], params: dict[str, str]
    ) -> tuple[_Node, dict[str, str]] | None:
        if not segments:
            return (node, params) if node.methods else None
        head, rest = segments[0], segments[1:]
        child = node.static.get(head)
        if child is not None:
            found = self._walk(child, rest, params)
            if found is not None:
                return found
        if node.param is not None and head:
            name, child = node.param
            return self._walk(child, rest, {**params, name: head})
        return None


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part != ""] if path not in ("", "/") else []
