"""How close a draft comes to declarations written by hand: per declaration, how many the hand
wrote, how many init drafted, how many of those are the same (same node, same value) and how
many differ. The bundled specs are the hand-written yardstick: init drafts from a copy of each
with every ``x-`` key removed (tests/drafting)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.contract import Spec, join, walk_mappings
from conformance.drafting._model import Draft

#: the declarations of the contract (`contract._declarations`), in the order a table lists them
EXTENSIONS = (
    "x-auth-flow",
    "x-roles",
    "x-latency-budget-ms",
    "x-rate-limit",
    "x-unique",
    "x-references",
    "x-owner",
    "x-transitions",
    "x-envelope",
    "x-contract",
)
#: members whose values are data, not schemas: a key there is no declaration
_VALUES = frozenset({"example", "examples", "default", "const", "enum"})


@dataclass(frozen=True, slots=True)
class Tally:
    """One declaration's count. ``x-auth-flow`` counts its steps (login, refresh …)."""

    extension: str
    written: int  #: by hand
    drafted: int
    matching: int  #: drafted at the same node with the same value
    differing: int  #: drafted at a node the hand declared, with another value
    #: of the ones not drafted, how many a guess of the draft (commented out, to check) matches
    guessed: int = 0

    @property
    def missed(self) -> int:
        return self.written - self.matching - self.differing

    @property
    def extra(self) -> int:
        return self.drafted - self.matching - self.differing


def declarations(spec: Spec) -> dict[tuple[str, str], Any]:
    """(holder pointer, extension) -> value of every declaration the spec makes."""
    found: dict[tuple[str, str], Any] = {}
    for node, pointer in walk_mappings(spec.data, skip=_VALUES):
        for extension in EXTENSIONS:
            if extension in node:
                found[(pointer, extension)] = node[extension]
    return dict(_split_flows(found))


def drafted(draft: Draft) -> dict[tuple[str, str], Any]:
    """The same of what the draft declares."""
    found = {(action.pointer, action.extension): action.value for action in draft.actions}
    return dict(_split_flows(found))


def guessed(draft: Draft) -> dict[tuple[str, str], Any]:
    """The same of the draft's guesses (written commented out, for the user to check)."""
    found = {
        (gap.guess.pointer, gap.guess.extension): gap.guess.value
        for gap in draft.gaps
        if gap.guess is not None
    }
    return dict(_split_flows(found))


def _split_flows(found: dict[tuple[str, str], Any]) -> Iterator[tuple[tuple[str, str], Any]]:
    """An auth flow counts step by step (and its scheme), the rest as declared."""
    for (pointer, extension), value in found.items():
        if extension == "x-auth-flow" and isinstance(value, dict):
            for step, declared in value.items():
                yield (join(pointer, extension, step), extension), declared
        else:
            yield (pointer, extension), value


def same(extension: str, first: Any, second: Any) -> bool:
    """Equal as the contract reads them: ``x-roles`` and ``x-unique`` in any order."""
    if extension == "x-roles" and isinstance(first, list) and isinstance(second, list):
        return set(first) == set(second)
    if extension == "x-unique" and isinstance(first, list) and isinstance(second, list):
        return _groups(first) == _groups(second)
    return bool(first == second)


def _groups(entries: list[Any]) -> set[frozenset[str]]:
    return {frozenset([e] if isinstance(e, str) else map(str, e)) for e in entries}


def label(pointer: str, extension: str) -> str:
    """The row a declaration counts in: root and operation declarations of one name apart."""
    if extension in ("x-roles", "x-latency-budget-ms", "x-rate-limit"):
        return f"{extension} ({'operations' if pointer.startswith('/paths') else 'root'})"
    return extension


def closeness(draft: Draft, hand: Spec) -> list[Tally]:
    """Per declaration (`label`), the draft against what ``hand`` declares."""
    written, made, guesses = declarations(hand), drafted(draft), guessed(draft)
    labels = list(dict.fromkeys(label(*key) for key in sorted(
        [*written, *made], key=lambda key: (EXTENSIONS.index(key[1]), bool(key[0]))
    )))  # fmt: skip
    tallies = []
    for name in labels:
        ours = {key: value for key, value in written.items() if label(*key) == name}
        theirs = {key: value for key, value in made.items() if label(*key) == name}
        both = set(ours) & set(theirs)
        matching = sum(same(key[1], ours[key], theirs[key]) for key in both)
        hinted = sum(
            key in guesses and same(key[1], ours[key], guesses[key])
            for key in set(ours) - set(theirs)
        )
        tallies.append(Tally(name, len(ours), len(theirs), matching, len(both) - matching, hinted))
    return tallies


def table(tallies: list[Tally]) -> list[str]:
    """The tallies as a text table, one line a declaration and a total."""
    head = ("declaration", "by hand", "drafted", "same", "differ", "missed", "extra", "guessed")
    rows: list[tuple[str, list[int]]] = [
        (
            t.extension,
            [t.written, t.drafted, t.matching, t.differing, t.missed, t.extra, t.guessed],
        )
        for t in tallies
        if t.written or t.drafted
    ]
    rows.append(("all", [sum(counts[i] for _, counts in rows) for i in range(len(head) - 1)]))
    lines = [f"{head[0]:<34}" + "".join(f"{cell:>9}" for cell in head[1:])]
    lines += [f"{name:<34}" + "".join(f"{cell:>9}" for cell in counts) for name, counts in rows]
    return lines
