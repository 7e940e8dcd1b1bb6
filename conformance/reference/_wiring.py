"""From a spec to handlers: every plain CRUD operation gets the generic engine's handler."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from conformance.contract import Spec, resources
from conformance.reference._engine import Engine, Hooks
from conformance.reference._errors import forbidden
from conformance.reference._model import Context, Handler, Kind, Reply, read_kinds


def build_engine(api: str, spec: Spec, hooks: Hooks, extra_kinds: Iterable[str] = ()) -> Engine:
    """An engine over every resource kind the spec's paths reveal, and ``extra_kinds``."""
    names = {r.schema_name for r in resources(spec) if r.schema_name} | set(extra_kinds)
    kinds = read_kinds(spec, names)
    for resource in resources(spec):
        param = resource.item_path.rsplit("/", 1)[1][1:-1]
        name = resource.schema_name
        if name and param != "id" and param in kinds[name].properties:
            kinds[name] = dataclasses.replace(kinds[name], lookup=param)
    return Engine(api, spec, kinds, hooks)


def generic_handlers(engine: Engine) -> dict[str, Handler]:
    """operationId -> the engine's handler, for each list, create, get, update and delete."""
    handlers: dict[str, Handler] = {}
    for resource in resources(engine.spec):
        if resource.schema_name is None:
            continue
        kind = engine.kinds[resource.schema_name]
        param = resource.item_path.rsplit("/", 1)[1][1:-1]
        for role, operation in (
            ("list", resource.list),
            ("create", resource.create),
            ("get", resource.get),
            ("update", resource.update),
            ("delete", resource.delete),
        ):
            if operation is not None and operation.operation_id:
                handlers[operation.operation_id] = _handler(engine, role, kind, param)
    return handlers


def _handler(engine: Engine, role: str, kind: Kind, param: str) -> Handler:
    if role == "list":
        return engine.list(kind)
    if role == "create":
        return engine.create(kind)
    if role == "get":
        return engine.get(kind, param)
    if role == "update":
        return engine.update(kind, param)
    return engine.delete(kind, param)


def not_oneself(delete: Handler) -> Handler:
    """A user delete that refuses the caller's own id: nobody deletes themselves (403)."""

    def handle(ctx: Context) -> Reply:
        if ctx.request.path["id"] == ctx.principal.id:
            raise forbidden("nobody deletes themselves")
        return delete(ctx)

    return handle
