"""Sharding a large run over CI jobs (``--shard K/N``): each job tests a share of the operations,
and ``conformance merge`` joins their reports into one verdict.

An operation goes with the operations its links join it to (create, read, update, delete of one
resource, and the resources that lead to it) and with those whose paths hang from the same
collection (`resource_root`: a plain spec declares no links), so the stateful phase keeps its
paths within a shard and a nested create finds its parent's create beside it; the groups are
dealt to the shards largest first, each to the least loaded shard.
Deterministic: every job computes the same assignment from the same specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conformance.contract import Spec
from conformance.errors import UsageError


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  #: 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, sep, count = text.partition("/")
        if not sep or not index.isdigit() or not count.isdigit():
            raise UsageError(f"--shard {text!r}: write K/N, e.g. --shard 1/3")
        shard = cls(int(index), int(count))
        if not 1 <= shard.index <= shard.count:
            raise UsageError(f"--shard {text!r}: K must be from 1 to N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def resource_root(path: str) -> str:
    """The collection a path's resources hang from: its segments before the first path
    parameter (``/projects`` for ``/projects/{key}/issues/{number}``); a path without one is its
    own."""
    segments = [segment for segment in path.split("/") if segment]
    for index, segment in enumerate(segments):
        if segment.startswith("{"):
            segments = segments[:index]
            break
    return "/" + "/".join(segments)


def link_groups(spec: Spec) -> list[list[str]]:
    """The operations of ``spec`` joined by its links, and by the collection their paths hang
    from (a plain spec declares no links: its nested issues need the projects they are made
    under, and a shard of issues alone never made one), each group sorted (union-find)."""
    parent = {str(op.operation_id): str(op.operation_id) for op in spec.operations}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for source, target in spec.links():
        if target in parent:
            parent[root(target)] = root(str(source.operation_id))
    first: dict[str, str] = {}
    for operation in spec.operations:
        name = str(operation.operation_id)
        other = first.setdefault(resource_root(operation.path), name)
        parent[root(name)] = root(other)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    return sorted((sorted(group) for group in groups.values()), key=lambda g: (-len(g), g[0]))


def assign(specs: Mapping[str, Spec], count: int) -> dict[tuple[str, str], int]:
    """(api, operation id) -> its shard (1-based)."""
    groups = [(api, group) for api in sorted(specs) for group in link_groups(specs[api])]
    groups.sort(key=lambda item: (-len(item[1]), item[0], item[1][0]))
    load = [0] * count
    found = {}
    for api, group in groups:
        shard = min(range(count), key=lambda index: (load[index], index))
        load[shard] += len(group)
        for operation_id in group:
            found[(api, operation_id)] = shard + 1
    return found
