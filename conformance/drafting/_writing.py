"""The drafted overlay as a YAML file a person reviews: a header saying what it is and how to use
it, the actions grouped (the root, the operations, the schemas) each with its description, then,
as comments, what the suite reads from the spec as it is and what init could not infer, with
the actions it would guess commented out. Written with ruamel.yaml, which writes comments and
folds long descriptions (PyYAML does neither)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString

from conformance.drafting._draft import OVERLAY_VERSION
from conformance.drafting._model import Action, Draft

#: the widest line of the file, comments included
WIDTH = 96
#: a mapping or list of at most this many characters, of scalars only, is written on one line
FLOW = 60

GROUPS = (
    ("", "The root: the auth flow, the roles, the default latency budget."),
    ("/paths", "Operations: their own latency budgets."),
    ("/components", "Schemas: references to other resources, unique values, owners."),
)


def overlay_text(draft: Draft, next_command: str) -> str:
    """The overlay file's text."""
    root = CommentedMap()
    root["overlay"] = OVERLAY_VERSION
    root["info"] = CommentedMap(
        [("title", f"Contract declarations for {draft.title}"), ("version", "0.1.0")]
    )
    actions = CommentedSeq(_action(action) for action in draft.actions)
    _group_comments(actions, draft.actions)
    root["actions"] = actions
    root.yaml_set_start_comment("\n".join(_header(draft, next_command)))
    return _dumped(root) + "".join(f"{_comment(line)}\n" for line in _footer(draft))


def _header(draft: Draft, next_command: str) -> list[str]:
    return [
        *_wrapped(
            f"Drafted by `conformance init` from {draft.spec.name} ({draft.title}): the"
            " declarations of the contract the spec does not make, as an OpenAPI Overlay 1.0"
            " document. Each action's description says why it was inferred: check each against"
            " what the API does. What init could not infer is listed at the end.",
        ),
        "Use it with:",
        f"  {next_command}",
    ]


def _footer(draft: Draft) -> list[str]:
    lines: list[str] = [""]
    if draft.notes:
        lines += _wrapped(
            "Read from the spec as it is, no declaration needed: each resource, its create and"
            " delete (what the data scenarios make and remove), and its optimistic concurrency"
            " (version, If-Match, ETag; what rollback and conflicts test):"
        )
        lines += [f"  {note}" for note in draft.notes]
        lines.append("")
    if draft.kept:
        lines.append(f"Declared in the spec already, left as they are: {', '.join(draft.kept)}.")
        lines.append("")
    if draft.gaps:
        lines.append("Could not infer (declare by hand where it holds):")
        for gap in draft.gaps:
            lines += _wrapped(gap.what, first="  - ", rest="    ")
        guesses = [gap.guess for gap in draft.gaps if gap.guess is not None]
        if guesses:
            lines.append("")
            lines += _wrapped(
                "Guesses, unchecked: move an action that holds into the actions above (and"
                " uncomment it)."
            )
            lines += _dumped(CommentedSeq(_action(guess) for guess in guesses)).splitlines()
    return lines


def _group_comments(actions: CommentedSeq, drafted: Iterable[Action]) -> None:
    """A comment before the first action of each group."""
    seen: set[str] = set()
    for index, action in enumerate(drafted):
        group = next(
            (prefix for prefix, _ in reversed(GROUPS) if action.pointer.startswith(prefix)), ""
        )
        if group in seen:
            continue
        seen.add(group)
        words = dict(GROUPS)[group]
        actions.yaml_set_comment_before_after_key(index, before=words, indent=2)


def _action(action: Action) -> CommentedMap:
    written = CommentedMap()
    written["target"] = action.target
    written["description"] = _folded(action.why, WIDTH - 20)
    written["update"] = CommentedMap([(action.extension, _styled(action.value))])
    return written


def _styled(value: Any) -> Any:
    """``value`` for ruamel.yaml: short collections of scalars on one line (``[email]``,
    ``{property: authorId}``), the rest as blocks."""
    if isinstance(value, dict):
        styled: Any = CommentedMap((key, _styled(member)) for key, member in value.items())
    elif isinstance(value, list):
        styled = CommentedSeq(_styled(item) for item in value)
    else:
        return value
    if len(repr(value)) <= FLOW and _flat(value):
        styled.fa.set_flow_style()
    return styled


def _flat(value: Any) -> bool:
    members = value.values() if isinstance(value, dict) else value
    return all(not isinstance(member, dict) or _flat(member) for member in members)


def _folded(text: str, width: int) -> str:
    """A long description as a folded block (``>-``), its lines at most ``width`` long."""
    if len(text) <= width:
        return text
    folded = FoldedScalarString(text)
    positions, start = [], 0
    for index, character in enumerate(text):
        if character != " " or index + 1 >= len(text) or text[index + 1] == " ":
            continue
        following = text.find(" ", index + 1)
        end = len(text) if following < 0 else following
        if end - start > width:
            positions.append(index)
            start = index + 1
    folded.fold_pos = positions  # where ruamel.yaml folds the lines
    return str(folded) if not positions else folded


def _wrapped(text: str, first: str = "", rest: str = "") -> list[str]:
    """``text`` in lines that fit a comment of `WIDTH`."""
    lines, line = [], first
    for word in text.split():
        if len(line) + len(word) + 1 > WIDTH - 2 and line.strip():
            lines.append(line.rstrip())
            line = rest
        line += word + " "
    lines.append(line.rstrip())
    return lines


def _comment(line: str) -> str:
    return f"# {line}".rstrip()


def _dumped(data: Any) -> str:
    yaml = YAML()
    yaml.width = WIDTH
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
