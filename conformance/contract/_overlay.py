"""OpenAPI Overlay 1.0 (https://spec.openapis.org/overlay/v1.0.0.html): the contract's ``x-``
declarations written beside a spec that its team will not edit.

An overlay is an ordered list of actions, each applied to the result of the one before. An
action's ``target`` is an RFC 9535 JSONPath query; ``update`` is merged into each object it
selects (members merged recursively: an object into an object, an array appended to an array,
anything else replaced) or appended, as one entry, to each array it selects; ``remove: true``
removes each node it selects from its parent.

What cannot apply is collected, not raised, as `Spec.declaration_problems` are: a target that
is not JSONPath, one that selects nothing, an update that is not an object where objects are
selected (`OverlayProblem`). The linter reports them (CT005); ``conformance run`` and
``serve`` say them and go on. A file that is not an Overlay 1.0 document at all is an
`OverlayError` (exit 3).

Where each part of the result was written is kept: a part of the spec keeps its line, a part
an overlay wrote points at the overlay file and the line of its value there
(`SpecDocument.origin_of`), so that a lint finding inside an overlaid declaration names the line
that wrote it.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from conformance.contract import _pointer
from conformance.contract._document import SpecDocument, parse_text, read_text
from conformance.errors import OverlayError

#: the versions read here: Overlay 1.0 (a patch version changes no feature)
_VERSION = re.compile(r"1\.0\.\d+")
_ROOT_FIELDS = ("overlay", "info", "extends", "actions")
_ACTION_FIELDS = ("target", "description", "update", "remove")


@functools.cache
def _jsonpath() -> Any:
    """RFC 9535 as written: no leading or trailing space, no functions beyond the RFC's five.
    Imported at the first overlay applied (47 ms of every command's start otherwise)."""
    import jsonpath

    return jsonpath.JSONPathEnvironment(strict=True)


_T = TypeVar("_T")
_SHAPE = "overlay: 1.0.0, info: {title, version}, actions: [{target, update or remove: true}]"


@dataclass(frozen=True, slots=True)
class OverlayAction:
    """One action as written; what is wrong with it is found when it is applied."""

    #: the JSONPath query (anything else is a problem when applied)
    target: Any
    #: where the action is in the overlay: ``/actions/0``
    pointer: str
    description: str | None = None
    update: Any = None
    #: whether the action has an ``update`` (``update: null`` is one)
    has_update: bool = False
    remove: Any = False
    #: members an Overlay 1.0 action does not have (``x-`` extensions aside)
    unknown: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        """1 for the first action: how messages name it."""
        return int(self.pointer.rsplit("/", 1)[1]) + 1


@dataclass(frozen=True, slots=True)
class Overlay:
    """An OpenAPI Overlay 1.0 document."""

    path: Path
    #: the ``overlay`` field: 1.0.x
    version: str
    title: str
    #: the document it says it was written for, as written (a URI reference), if it says
    extends: str | None
    actions: tuple[OverlayAction, ...]
    lines: Mapping[str, int] = field(default_factory=dict, repr=False)

    def line_of(self, pointer: str) -> int | None:
        """The line of ``pointer`` in the overlay file, or of its nearest ancestor that has one
        (None for JSON, or an overlay made in memory)."""
        while True:
            if pointer in self.lines:
                return self.lines[pointer]
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]


@dataclass(frozen=True, slots=True)
class OverlayProblem:
    """An action that changed nothing, or could not apply as written."""

    overlay: Path
    #: where in the overlay: ``/actions/2/target``
    pointer: str
    line: int | None
    message: str
    fix: str


def load_overlay(path: Path | str) -> Overlay:
    """The overlay at ``path`` (YAML, or JSON for a ``.json`` file); a `SpecError` subclass
    with one plain reason for a file that cannot be read or is not an Overlay 1.0 document."""
    path = Path(path)
    data, lines, _ = parse_text(path, read_text(path, "an overlay"))
    return read_overlay(data, path, lines)


def read_overlay(
    data: Any, path: Path | str = "<overlay>", lines: Mapping[str, int] | None = None
) -> Overlay:
    """The overlay whose document is ``data`` (a parsed file, or one drafted in memory);
    `OverlayError` for one that is not an Overlay 1.0 document."""
    path = Path(path)
    lines = lines or {}
    if not isinstance(data, Mapping):
        raise OverlayError(path, f"the document is {_kind(data)}, not an overlay ({_SHAPE})")
    _check_root(data, path, lines)
    info = data.get("info")
    if not (
        isinstance(info, Mapping)
        and isinstance(info.get("title"), str)
        and isinstance(info.get("version"), str)
    ):
        raise OverlayError(
            path,
            "info needs a title and a version (info: {title: …, version: …})",
            line=lines.get("/info"),
        )
    extends = data.get("extends")
    if extends is not None and not isinstance(extends, str):
        raise OverlayError(
            path, "extends must be a URI reference (a string)", line=lines.get("/extends")
        )
    return Overlay(
        path,
        data["overlay"],
        info["title"],
        extends,
        _actions(data.get("actions"), path, lines),
        lines,
    )


def _check_root(data: Mapping[str, Any], path: Path, lines: Mapping[str, int]) -> None:
    version = data.get("overlay")
    if version is None:
        what = (
            "is an OpenAPI document, not an overlay"
            if "openapi" in data
            else "no 'overlay' version field: not an OpenAPI Overlay document"
        )
        raise OverlayError(path, f"{what} ({_SHAPE})")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise OverlayError(
            path,
            f"overlay={version!r} is not a supported version; this reads OpenAPI Overlay 1.0"
            " (overlay: 1.0.0)",
            line=lines.get("/overlay"),
        )
    for key in data:
        if key not in _ROOT_FIELDS and not str(key).startswith("x-"):
            raise OverlayError(
                path,
                f"{key!r} is not a field of an Overlay 1.0 document; it has"
                f" {', '.join(_ROOT_FIELDS)} and x- extensions",
                line=lines.get(_pointer.join("", key)),
            )


def _actions(raw: Any, path: Path, lines: Mapping[str, int]) -> tuple[OverlayAction, ...]:
    if not isinstance(raw, list) or not raw:
        raise OverlayError(
            path,
            "actions must be a list of at least one action (target, and update or remove: true)",
            line=lines.get("/actions"),
        )
    actions = []
    for index, item in enumerate(raw):
        pointer = _pointer.join("/actions", index)
        if not isinstance(item, Mapping):
            raise OverlayError(
                path,
                f"action {index + 1} is {_kind(item)}, not an action (target, and update or"
                " remove: true)",
                line=lines.get(pointer),
            )
        actions.append(
            OverlayAction(
                target=item.get("target"),
                pointer=pointer,
                description=item.get("description"),
                update=item.get("update"),
                has_update="update" in item,
                remove=item.get("remove", False),
                unknown=tuple(
                    str(key)
                    for key in item
                    if key not in _ACTION_FIELDS and not str(key).startswith("x-")
                ),
            )
        )
    return tuple(actions)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), "a single value" if not isinstance(value, Mapping) else "a mapping"
    )


# -- applying ----------------------------------------------------------------------------------


def apply_overlay(
    document: SpecDocument, overlay: Overlay
) -> tuple[SpecDocument, tuple[OverlayProblem, ...]]:
    """``document`` with ``overlay``'s actions applied in order (the document given is not
    changed), and the problems of the actions that changed nothing or could not apply; the
    new document keeps them too (`SpecDocument.overlay_problems`), and where each part was
    written (`SpecDocument.origin_of`)."""
    data = copy.deepcopy(document.data)
    record = _Record(document, overlay)
    problems: list[OverlayProblem] = []
    for action in overlay.actions:
        problems += _Applying(action, overlay, record, document.path.name).apply(data)
    applied = replace(
        document,
        data=data,
        lines=record.lines,
        origins=record.origins,
        overlays=(*document.overlays, overlay.path),
        overlay_problems=(*document.overlay_problems, *problems),
    )
    return applied, tuple(problems)


class _Record:
    """Where each part of the document being overlaid was written, kept true as the actions
    add, replace and remove parts (a removed array item moves the ones after it)."""

    def __init__(self, document: SpecDocument, overlay: Overlay) -> None:
        self.lines = dict(document.lines)
        self.origins = dict(document.origins)
        self.overlay = overlay

    def wrote(self, pointer: str, value: Any, source: str, *, replaced: bool = False) -> None:
        """``value``, from ``source`` in the overlay, now stands at ``pointer`` (in place of
        what stood there, when ``replaced``)."""
        if replaced:
            self.forget(pointer)
        for sub, sub_source in _pointers(value, pointer, source):
            self.origins[sub] = (self.overlay.path, self.overlay.line_of(sub_source))

    def forget(self, pointer: str) -> None:
        """Nothing stands at ``pointer`` or under it any more."""
        self.lines = _without(self.lines, pointer)
        self.origins = _without(self.origins, pointer)

    def removed_item(self, array: str, index: int) -> None:
        """Item ``index`` of the array at ``array`` is gone: the items after it move up."""
        self.forget(_pointer.join(array, index))
        self.lines = _moved_up(self.lines, array, index)
        self.origins = _moved_up(self.origins, array, index)


def _without(table: dict[str, _T], pointer: str) -> dict[str, _T]:
    return {k: v for k, v in table.items() if k != pointer and not k.startswith(pointer + "/")}


def _moved_up(table: dict[str, _T], array: str, index: int) -> dict[str, _T]:
    """``table`` with the pointers under items after ``index`` of ``array`` one item up."""
    prefix = array + "/"
    moved = {}
    for key, value in table.items():
        token, _, rest = key[len(prefix) :].partition("/")
        if key.startswith(prefix) and token.isdigit() and int(token) > index:
            key = prefix + str(int(token) - 1) + ("/" + rest if rest else "")
        moved[key] = value
    return moved


def _pointers(value: Any, pointer: str, source: str) -> Iterator[tuple[str, str]]:
    """Every part of ``value`` (itself included): its pointer where it now stands and in the
    overlay."""
    yield pointer, source
    if isinstance(value, Mapping):
        for key, member in value.items():
            yield from _pointers(member, _pointer.join(pointer, key), _pointer.join(source, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pointers(item, _pointer.join(pointer, index), _pointer.join(source, index))


class _Applying:
    """One action being applied to the document's data."""

    def __init__(self, action: OverlayAction, overlay: Overlay, record: _Record, spec: str) -> None:
        self.action = action
        self.overlay = overlay
        self.record = record
        self.spec = spec

    def problem(self, member: str, message: str, fix: str) -> OverlayProblem:
        pointer = _pointer.join(self.action.pointer, member) if member else self.action.pointer
        return OverlayProblem(
            self.overlay.path,
            pointer,
            self.overlay.line_of(pointer),
            f"action {self.action.number} ({self.action.target}) {message}"
            if isinstance(self.action.target, str)
            else f"action {self.action.number} {message}",
            fix,
        )

    def apply(self, data: dict[str, Any]) -> list[OverlayProblem]:
        action = self.action
        problems = [
            self.problem(
                key,
                f"has {key!r}, which is not a field of an Overlay 1.0 action"
                + (" (copy is Overlay 1.1's)" if key == "copy" else ""),
                "use update, or remove: true (x- members are extensions)",
            )
            for key in action.unknown
        ]
        refused = self._refused()
        if refused is not None:
            return [*problems, refused]
        from jsonpath import JSONPathError  # at the first overlay only, as `_jsonpath`

        try:
            matches = list(_jsonpath().finditer(action.target, data))
        except JSONPathError as error:
            reason = str(error).splitlines()[0]
            return [
                *problems,
                self.problem(
                    "target",
                    f"is not an RFC 9535 JSONPath query: {reason}",
                    "write the target from the root, e.g. $.paths['/users/{id}'].get",
                ),
            ]
        nodes = {match.path: match.parts for match in matches}  # a node selected twice: once
        if not nodes:
            return [
                *problems,
                self.problem(
                    "target",
                    f"matches nothing in {self.spec}: nothing was changed",
                    "correct the target so that it selects a part of this spec, or drop the action",
                ),
            ]
        if action.remove:
            return problems + self._remove(data, nodes)
        return problems + self._update(data, nodes)

    def _refused(self) -> OverlayProblem | None:
        """The problem of an action that cannot be applied at all, if it is one."""
        action = self.action
        if not isinstance(action.target, str):
            return self.problem(
                "target" if action.target is not None else "",
                "has no target" if action.target is None else "has a target that is not text",
                "give the JSONPath of what to change, e.g. target: $.paths['/users'].get",
            )
        if not isinstance(action.remove, bool):
            return self.problem("remove", "has a remove that is not true or false", "remove: true")
        if not action.remove and not action.has_update:
            return self.problem(
                "", "has neither an update nor remove: true: it changes nothing", "add an update"
            )
        return None

    def _update(
        self, data: dict[str, Any], nodes: dict[str, tuple[Any, ...]]
    ) -> list[OverlayProblem]:
        update, source = self.action.update, _pointer.join(self.action.pointer, "update")
        not_merged, values = [], []
        for path, parts in nodes.items():
            node, pointer = _node(data, parts), _pointer.from_tokens(parts)
            if isinstance(node, list):
                self.record.wrote(_pointer.join(pointer, len(node)), update, source)
                node.append(copy.deepcopy(update))
            elif not isinstance(node, dict):
                values.append(path)
            elif isinstance(update, Mapping):
                self._merge(node, update, pointer, source)
            else:
                not_merged.append(path)
        problems = []
        if not_merged:
            problems.append(
                self.problem(
                    "update",
                    f"has an update that is not an object, so it cannot be merged into the"
                    f" object at {_few(not_merged)}",
                    "write the update as the members to merge, e.g. update: {x-latency-budget-ms:"
                    " 300}",
                )
            )
        if values:
            problems.append(
                self.problem(
                    "target",
                    f"selects a value, not an object or an array, at {_few(values)}",
                    "select the object that holds the value, and update its member",
                )
            )
        return problems

    def _merge(
        self, node: dict[str, Any], update: Mapping[str, Any], pointer: str, source: str
    ) -> None:
        """Objects merged recursively, arrays appended to, anything else replaced (Overlay
        1.0: the update's members merged with the target's of the same names)."""
        for key, value in update.items():
            here, there = _pointer.join(pointer, key), _pointer.join(source, key)
            current = node.get(key)
            if isinstance(current, dict) and isinstance(value, Mapping):
                self._merge(current, value, here, there)
            elif isinstance(current, list) and isinstance(value, list):
                for index, item in enumerate(value):
                    self.record.wrote(_pointer.join(here, len(current)), item, f"{there}/{index}")
                    current.append(copy.deepcopy(item))
            else:
                self.record.wrote(here, value, there, replaced=key in node)
                node[key] = copy.deepcopy(value)

    def _remove(
        self, data: dict[str, Any], nodes: dict[str, tuple[Any, ...]]
    ) -> list[OverlayProblem]:
        """Deepest first, and the later items of an array before the earlier, so that no
        removal moves a node another is still to remove."""
        if () in nodes.values():
            return [
                self.problem(
                    "target",
                    "would remove the whole document",
                    "select the parts to remove, e.g. $.paths['/internal']",
                )
            ]
        for parts in sorted(
            nodes.values(),
            key=lambda parts: (len(parts), _pointer.from_tokens(parts[:-1]), parts[-1]),
            reverse=True,
        ):
            parent, key = _node(data, parts[:-1]), parts[-1]
            if isinstance(parent, list):
                del parent[key]
                self.record.removed_item(_pointer.from_tokens(parts[:-1]), key)
            else:
                del parent[key]
                self.record.forget(_pointer.from_tokens(parts))
        return []


def _node(data: Any, parts: tuple[Any, ...]) -> Any:
    for part in parts:
        data = data[part]
    return data


def _few(paths: list[str]) -> str:
    """The first three of ``paths``, and how many more."""
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(paths[:3]) + more
