"""Conditional requests (CONTRACT.md §5): reading ``If-Match`` as HTTP does."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*')


@dataclass(frozen=True, slots=True)
class IfMatch:
    """An ``If-Match`` header as RFC 9110 (13.1.1) reads it."""

    any: bool  #: ``*``
    versions: frozenset[int]  #: the strong tags that are version numbers
    #: the version when the header is exactly one strong ``"<version>"``
    single: int | None

    @classmethod
    def parse(cls, header: str) -> IfMatch:
        if header.strip() == "*":
            return cls(True, frozenset(), None)
        tags: list[tuple[bool, str]] = []
        for part in header.split(","):
            match = _ENTITY_TAG.fullmatch(part)
            if match is None:
                return cls(False, frozenset(), None)  # not a list of entity-tags: never matches
            tags.append((bool(match.group(1)), match.group(2)))
        versions = [
            int(tag) for weak, tag in tags if not weak and re.fullmatch(r"[1-9][0-9]{0,17}", tag)
        ]
        single = versions[0] if len(tags) == 1 and versions else None
        return cls(False, frozenset(versions), single)

    def matches(self, current: int) -> bool:
        return self.any or current in self.versions
