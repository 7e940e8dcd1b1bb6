"""Reading a spec file into plain data, keeping the line of every JSON pointer.

The data is what schemathesis sees: YAML is read with the same resolvers as
``schemathesis.core.deserialization.get_yaml_loader`` (YAML 1.2 booleans only, timestamps left as
strings), so that a parameter named ``on`` or an example date means the same thing to the linter,
the reference backend and the fuzzer. Mapping keys become strings (``200:`` is the status "200").

Two things PyYAML does silently are kept for the linter: the line each node starts on, and keys
that a mapping repeats (the later one wins, and the earlier one is usually a mistake).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conformance.contract import _pointer
from conformance.errors import NotOpenAPI, SpecNotFound, SpecSyntaxError

if TYPE_CHECKING:
    from conformance.contract._overlay import OverlayProblem

_MAX_DEPTH = 200  # deeper than any real spec; stops alias loops (`&a [*a]`)


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    pointer: str  #: the mapping that repeats the key
    key: str
    line: int


@dataclass(frozen=True, slots=True)
class SpecDocument:
    """A parsed spec file: its data and where each part of it came from."""

    path: Path
    data: dict[str, Any]
    lines: Mapping[str, int] = field(repr=False)
    duplicate_keys: tuple[DuplicateKey, ...] = ()
    #: the OpenAPI Overlays applied to the file's data, in order (`apply_overlay`)
    overlays: tuple[Path, ...] = ()
    #: pointer -> (overlay file, line) of each part an overlay wrote: where it was written
    origins: Mapping[str, tuple[Path, int | None]] = field(default_factory=dict, repr=False)
    #: the overlays' actions that changed nothing or could not apply (`OverlayProblem`)
    overlay_problems: tuple[OverlayProblem, ...] = ()

    def origin_of(self, pointer: str) -> tuple[Path, int | None]:
        """Where ``pointer`` (or its nearest ancestor that has a line) was written: the spec
        file and its line, or, for a part an overlay wrote, the overlay file and the line of the
        value there; the line is None for JSON."""
        pointer = pointer.removeprefix("#")
        while True:
            if pointer in self.origins:
                return self.origins[pointer]
            if pointer in self.lines:
                return self.path, self.lines[pointer]
            if not pointer:
                return self.path, None
            pointer = pointer.rsplit("/", 1)[0]

    def line_of(self, pointer: str) -> int | None:
        """The line of ``pointer`` in the spec file, or of its nearest ancestor that has one
        (None for JSON, and for a part an overlay wrote: `origin_of` says where that is)."""
        path, line = self.origin_of(pointer)
        return line if path == self.path else None


@cache
def _yaml_loader() -> type[yaml.SafeLoader]:
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: type[yaml.SafeLoader] = type("SpecLoader", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [
            (tag, regexp)
            for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
        ]
        for first, resolvers in base.yaml_implicit_resolvers.copy().items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    # PyYAML reads `1e3` as a string (yaml/pyyaml#174); schemathesis reads it as a float.
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""",
            re.VERBOSE,
        ),
        list("-+0123456789."),
    )
    return loader


class _Builder:
    """Turns a composed YAML node tree into data, recording lines and repeated keys."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self.lines: dict[str, int] = {}
        self.duplicates: list[DuplicateKey] = []

    def build(self, node: yaml.Node, pointer: str = "", depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise yaml.YAMLError(f"nesting deeper than {_MAX_DEPTH} levels (an alias loop?)")
        self.lines.setdefault(pointer, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, pointer, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, _pointer.join(pointer, index), depth + 1)
                for index, item in enumerate(node.value)
            ]
        return self._loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, pointer: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`
                merged = self.build(value_node, pointer, depth + 1)
                for item in merged if isinstance(merged, list) else [merged]:
                    if isinstance(item, dict):
                        for key, value in item.items():
                            result.setdefault(key, value)
                continue
            raw_key = self._loader.construct_object(key_node, deep=True)
            key = _json_key(raw_key)
            member = _pointer.join(pointer, key)
            line = key_node.start_mark.line + 1
            if key in result:
                self.duplicates.append(DuplicateKey(pointer, key, line))
            self.lines[member] = line
            result[key] = self.build(value_node, member, depth + 1)
        return result


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def parse_document(path: Path, text: str) -> SpecDocument:
    """Parse ``text`` (YAML, or JSON for a ``.json`` file); raises `SpecSyntaxError`."""
    data, lines, duplicates = parse_text(path, text)
    if data is None and path.suffix.lower() != ".json":
        raise NotOpenAPI(path, "the file is empty; an OpenAPI document is a mapping")
    return _as_openapi(SpecDocument(path, data, lines, duplicates))


#: YAML texts parsed in this process, the last few: a run reads its spec five times (the runner,
#: the plugin, each engine pass), 25 ms each for VAmPI's and more for larger ones
_PARSED: dict[str, tuple[Any, dict[str, int], tuple[DuplicateKey, ...]]] = {}
PARSED_KEPT = 4
_PARSING = threading.Lock()


def parse_text(path: Path, text: str) -> tuple[Any, dict[str, int], tuple[DuplicateKey, ...]]:
    """The data of ``text`` (YAML, or JSON for a ``.json`` file; None for an empty YAML file),
    the line of each pointer (none for JSON) and the keys a mapping repeats; raises
    `SpecSyntaxError`. A spec and an overlay are read alike. A YAML text read before is not
    parsed again: its data is copied (the caller may change it)."""
    if path.suffix.lower() != ".json":
        with _PARSING:
            parsed = _PARSED.get(text)
        if parsed is None:
            parsed = _parse_text(path, text)
            with _PARSING:
                while len(_PARSED) >= PARSED_KEPT:
                    del _PARSED[next(iter(_PARSED))]
                _PARSED[text] = parsed
        data, lines, duplicates = parsed
        return copy.deepcopy(data), dict(lines), duplicates
    return _parse_text(path, text)


def _parse_text(path: Path, text: str) -> tuple[Any, dict[str, int], tuple[DuplicateKey, ...]]:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text), {}, ()
        except json.JSONDecodeError as exc:
            raise SpecSyntaxError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    loader = _yaml_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, ()
        builder = _Builder(loader)
        data = builder.build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "unreadable YAML"
        raise SpecSyntaxError(path, f"not valid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise SpecSyntaxError(path, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, builder.lines, tuple(builder.duplicates)


def _as_openapi(document: SpecDocument) -> SpecDocument:
    data: Any = document.data
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
            type(data), "a single value"
        )
        raise NotOpenAPI(document.path, f"the document is {kind}, not a mapping with 'openapi'")
    version = data.get("openapi")
    if version is None:
        hint = " (Swagger 2.0 is not supported)" if "swagger" in data else ""
        raise NotOpenAPI(
            document.path, f"no 'openapi' version field: not an OpenAPI 3 document{hint}"
        )
    if not isinstance(version, str) or not re.fullmatch(r"3\.[01]\.\d+", version):
        raise NotOpenAPI(
            document.path,
            f"openapi={version!r} is not a supported version; use 3.0.x or 3.1.x",
            line=document.line_of("/openapi"),
        )
    return document


def read_document(path: Path | str) -> SpecDocument:
    """Read and parse the spec at ``path``; raises a `SpecError` subclass with one plain reason."""
    path = Path(path)
    return parse_document(path, read_text(path))


def read_text(path: Path, what: str = "a spec") -> str:
    """The text of the file at ``path`` (a ``what`` file); a `SpecError` subclass with one
    plain reason."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecNotFound(path, "no such file") from None
    except IsADirectoryError:
        raise SpecNotFound(path, f"is a directory, not {what} file") from None
    except UnicodeDecodeError:
        raise SpecSyntaxError(path, "not UTF-8 text") from None
    except OSError as exc:
        raise SpecNotFound(path, f"cannot be read ({exc.strerror})") from None
