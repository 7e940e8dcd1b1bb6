"""Resources, read off the shape of the paths.

A *collection* is a path such as ``/schools`` and its *item* path ``/schools/{id}`` (the
collection plus one template segment). Operations on the item path are the resource's get, update
and delete; POST on the collection creates, GET lists; operations under the item path
(``/content/items/{id}/publish``) are its *actions*. Where no collection path exists but a
register operation sits where it would (``POST /users/register`` beside ``/users/{username}``),
that operation is its ``register``: a run learns the accounts it registers and removes them. A
*singleton* is a path without templates that can be read and changed but not created
(``/system-config``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conformance.contract._spec import Operation, Spec

_TEMPLATE = re.compile(r"^\{[^{}]+\}$")


def is_template(segment: str) -> bool:
    return bool(_TEMPLATE.match(segment))


def normalized_template(path: str) -> str:
    """``/users/{id}`` and ``/users/{userId}`` both give ``/users/{}``."""
    return "/".join("{}" if is_template(part) else part for part in path.split("/"))


@dataclass(frozen=True, slots=True)
class Resource:
    collection_path: str
    item_path: str
    list: Operation | None
    create: Operation | None
    get: Operation | None
    update: Operation | None
    delete: Operation | None
    actions: tuple[Operation, ...]
    #: the component schema of one item (``School``), where the responses name one
    schema_name: str | None
    #: the register operation that makes its items where no collection path does (an account:
    #: ``POST /users/register``); not its ``create``: a scenario does not make accounts so, but
    #: a run learns and removes the ones its fuzzing registered
    register: Operation | None = None

    @property
    def item_operations(self) -> tuple[Operation, ...]:
        return tuple(op for op in (self.get, self.update, self.delete) if op is not None)

    @property
    def mutable(self) -> bool:
        return self.update is not None or bool(
            [action for action in self.actions if action.method == "post"]
        )


@dataclass(frozen=True, slots=True)
class Singleton:
    path: str
    get: Operation
    update: Operation


def _by_path(spec: Spec) -> dict[str, dict[str, Operation]]:
    paths: dict[str, dict[str, Operation]] = {}
    for operation in spec.operations:
        paths.setdefault(operation.path, {})[operation.method] = operation
    return paths


def item_schema_name(spec: Spec, operation: Operation) -> str | None:
    """The component schema of the single resource a 2xx response carries, if it names one.

    Looks through the envelope (``data``) where the operation has one (`Operation.wrapped`).
    """
    schema = spec.success_schema(operation)
    if schema is None:
        return None
    if operation.wrapped:
        return spec.component_name(spec.properties(schema)["data"])
    return spec.component_name(schema)


def _collection_of(item_path: str, paths: dict[str, dict[str, Operation]]) -> str | None:
    """The collection path of ``item_path`` when it is an item (its last segment a template) and
    the spec has it, written as the spec writes it: ``/heroes`` or FastAPI's ``/heroes/`` for
    ``/heroes/{hero_id}``, ``/heroes/`` for Django REST framework's ``/heroes/{id}/`` (issue 25:
    a trailing slash hid every resource of a FastAPI app, and a run deleted what it had not
    made)."""
    base, _, last = item_path.rstrip("/").rpartition("/")
    if not is_template(last) or not base:
        return None
    for candidate in (base, base + "/"):
        if candidate in paths and candidate != item_path:
            return candidate
    return None


#: the last segment of a create that makes an account beside its collection
#: (``POST /users/register`` for ``/users/{username}``, VAmPI's ``/users/v1/register``)
REGISTER_SEGMENTS = frozenset({"register", "signup", "sign-up", "sign_up", "signUp"})


def _registered_at(item_path: str, paths: dict[str, dict[str, Operation]]) -> Operation | None:
    """The register operation that creates the items of ``item_path`` where the spec has no
    collection path for them: a POST at the collection's path and a register segment."""
    base, _, last = item_path.rstrip("/").rpartition("/")
    if not is_template(last) or not base:
        return None
    for segment in sorted(REGISTER_SEGMENTS):
        found = paths.get(f"{base}/{segment}", {}).get("post")
        if found is not None:
            return found
    return None


def resources(spec: Spec) -> tuple[Resource, ...]:
    paths = _by_path(spec)
    found = []
    for item_path, item_ops in paths.items():
        collection_path = _collection_of(item_path, paths)
        register = _registered_at(item_path, paths) if collection_path is None else None
        if register is not None:  # made by registering: its collection has no path of its own
            collection_path = item_path.rstrip("/").rpartition("/")[0]
        if collection_path is None:
            continue
        collection_ops = paths.get(collection_path, {})
        if "get" not in collection_ops and "post" not in collection_ops and register is None:
            continue
        prefix = item_path.rstrip("/") + "/"
        actions = tuple(
            op
            for path, ops in paths.items()
            if path.startswith(prefix) and path != item_path
            for op in ops.values()
        )
        get = item_ops.get("get")
        update = item_ops.get("patch") or item_ops.get("put")
        create = collection_ops.get("post")
        schema_name = None
        for source in (get, create, update):
            if source is not None:
                schema_name = item_schema_name(spec, source)
                if schema_name:
                    break
        found.append(
            Resource(
                collection_path=collection_path,
                item_path=item_path,
                list=collection_ops.get("get"),
                create=create,
                get=get,
                update=update,
                delete=item_ops.get("delete"),
                actions=actions,
                schema_name=schema_name,
                register=register,
            )
        )
    return tuple(found)


def singletons(spec: Spec) -> tuple[Singleton, ...]:
    found = []
    for path, ops in _by_path(spec).items():
        if any(is_template(part) for part in path.split("/")) or "post" in ops:
            continue
        update = ops.get("patch") or ops.get("put")
        if "get" in ops and update is not None:
            found.append(Singleton(path, ops["get"], update))
    return tuple(found)
