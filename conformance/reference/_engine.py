"""The generic resource engine: list, create, get, update and delete of any kind, as the spec
declares it (CONTRACT.md §2, §3, §5).

Everything a change does happens in one transaction: the version check, the reference checks,
the unique keys, the write, the cascades and the hooks. Any error rolls all of it back, so a
rejected change leaves the resource exactly as it was.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.contract import IfMatch, Operation, Spec
from conformance.reference._errors import (
    duplicate,
    invalid_transition,
    not_found,
    validation_failed,
    version_conflict,
)
from conformance.reference._model import Context, Kind, Reply, normalize_instant, unique_key
from conformance.reference._store import Filter, RawItems, Row, Transaction, UniqueViolation
from conformance.reference._validation import Validators

#: Query parameters with a meaning of their own; any other that names a property filters by it.
PAGING = frozenset({"page", "limit", "search", "sortBy", "sortOrder", "startDate", "endDate"})

#: create(ctx, tx, data, body): fill what the server decides; may raise an ApiError. The ids the
#: data references exist (the engine checked them first), as they do for an update hook.
CreateHook = Callable[[Context, Transaction, dict[str, Any], Mapping[str, Any]], None]
#: update(ctx, tx, old, new, changes): check and complete a change; may raise an ApiError.
UpdateHook = Callable[
    [Context, Transaction, Mapping[str, Any], dict[str, Any], Mapping[str, Any]], None
]


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: ``action`` ("create", "update", "delete", "publish" …) to a ``kind``,
    its state ``before`` (None for a create) and ``after`` (None for a delete)."""

    action: str
    kind: Kind
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


#: changed(ctx, tx, change): after every change, in its transaction (the audit log, versions).
ChangeHook = Callable[[Context, Transaction, Change], None]


@dataclass
class Hooks:
    on_create: dict[str, CreateHook] = field(default_factory=dict)
    on_update: dict[str, UpdateHook] = field(default_factory=dict)
    changed: list[ChangeHook] = field(default_factory=list)


def parameter_default(spec: Spec, operation: Operation, name: str) -> Any:
    parameter = operation.parameter(name, "query")
    if parameter is None:
        return None
    # A default may stand beside a $ref ({$ref: Status, default: published}): read it first.
    if "default" in parameter.schema:
        return parameter.schema["default"]
    return spec.deref(parameter.schema).get("default")


class Engine:
    def __init__(self, api: str, spec: Spec, kinds: Mapping[str, Kind], hooks: Hooks) -> None:
        self.api = api
        self.spec = spec
        self.kinds = kinds
        self.hooks = hooks
        #: set while seeding: bodies that did not come through a request are validated here
        self.validators: Validators | None = None
        #: target kind -> (holder kind, reference) for every reference to it
        self.referrers: dict[str, list[tuple[Kind, Any]]] = {}
        for holder in kinds.values():
            for reference in holder.references:
                self.referrers.setdefault(reference.target, []).append((holder, reference))

    # -- reading -------------------------------------------------------------------------------

    def load(self, ctx: Context, tx: Transaction, kind: Kind, key: str) -> Row:
        """The resource the path names (by id, or by its lookup property); 404 if there is none,
        or if it is private to someone the caller may not see (CONTRACT.md §4)."""
        resource_id: str | None = key
        if kind.lookup != "id":
            resource_id = tx.find_unique(kind.name, kind.lookup, unique_key(key))
        row = tx.get(kind.name, resource_id) if resource_id else None
        if row is None or not visible(ctx, row):
            raise not_found(f"there is no {kind.name} {key}")
        return row

    def page(
        self,
        ctx: Context,
        tx: Transaction,
        kind: Kind,
        filters: Sequence[Filter] = (),
    ) -> dict[str, Any]:
        """A PaginatedResponse of ``kind`` for the list operation in ``ctx`` (CONTRACT.md §3): of
        the resources the caller may see."""
        query, op = ctx.request.query, ctx.operation
        filters = [*filters, *self._query_filters(kind, query)]
        page = int(query.get("page") or parameter_default(self.spec, op, "page") or 1)
        limit = int(query.get("limit") or parameter_default(self.spec, op, "limit") or 20)
        sort = query.get("sortBy") or parameter_default(self.spec, op, "sortBy")
        order = query.get("sortOrder") or parameter_default(self.spec, op, "sortOrder") or "asc"
        visible_to = ctx.principal.visible_to
        total = tx.count(kind.name, filters, visible_to)
        rows = tx.select(
            kind.name,
            filters,
            visible_to=visible_to,
            sort=sort if sort in kind.properties else None,
            descending=order == "desc",
            limit=limit,
            offset=(page - 1) * limit,
        )
        total_pages = math.ceil(total / limit)
        has_more = page < total_pages
        return {
            "data": RawItems([row.text for row in rows]),
            "total": total,
            "page": page,
            "limit": limit,
            "totalPages": total_pages,
            "hasMore": has_more,
            "nextPage": page + 1 if has_more else None,
            "prevPage": page - 1 if page > 1 else None,
        }

    def _query_filters(self, kind: Kind, query: Mapping[str, Any]) -> list[Filter]:
        filters = []
        for name, value in query.items():
            if name not in PAGING and name in kind.properties and not isinstance(value, list):
                filters.append(Filter(name, "=", value))
        instant = "updatedAt" if "updatedAt" in kind.properties else "createdAt"
        if query.get("startDate"):
            filters.append(Filter(instant, ">=", normalize_instant(query["startDate"])))
        if query.get("endDate"):
            filters.append(Filter(instant, "<=", normalize_instant(query["endDate"])))
        if query.get("search") and kind.searchable:
            filters.append(Filter("", "like-any", (query["search"], kind.searchable)))
        return filters

    # -- changing ------------------------------------------------------------------------------

    def check_version(self, ctx: Context, current: int) -> None:
        """The change is conditional on ``If-Match`` and the body's ``version``, when sent.

        400 for a single ``"<version>"`` that contradicts the body's ``version``; 409
        VERSION_CONFLICT (with ``currentVersion``) for either one that is not ``current``.
        """
        header = ctx.request.headers.get("if-match")
        body = ctx.body
        from_body = body.get("version") if isinstance(body, Mapping) else None
        tags = IfMatch.parse(header) if header is not None else None
        single = tags.single if tags is not None else None
        if single is not None and from_body is not None and single != from_body:
            raise validation_failed(
                f"If-Match says version {single} but the body says {from_body}",
                [{"field": "/version", "message": "differs from If-Match"}],
            )
        if tags is not None and not tags.matches(current):
            raise version_conflict(current)
        if from_body is not None and from_body != current:
            raise version_conflict(current)

    def check_references(self, tx: Transaction, kind: Kind, data: Mapping[str, Any]) -> None:
        """404 for an id in ``data`` that names no resource (CONTRACT.md §2)."""
        for reference in kind.references:
            for referenced in reference.ids(data):
                if tx.get(reference.target, referenced) is None:
                    where = ".".join(p for p in reference.path if p != "*")
                    raise not_found(f"{where}: there is no {reference.target} {referenced}")

    def check_final(self, kind: Kind, data: Mapping[str, Any]) -> None:
        prop = kind.is_final(data)
        if prop is not None:
            raise invalid_transition(f"the {kind.name} is {data[prop]}: it cannot change any more")

    def check_moves(self, kind: Kind, old: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        for prop in kind.transitions:
            if prop in changes and not kind.check_move(prop, old.get(prop), changes[prop]):
                raise invalid_transition(
                    f"{kind.name}.{prop} cannot move from {old.get(prop)} to {changes[prop]}"
                )

    def claim(self, tx: Transaction, kind: Kind, data: Mapping[str, Any]) -> None:
        try:
            tx.claim(kind.name, kind.unique_values(data), str(data["id"]))
        except UniqueViolation as exc:
            raise duplicate(exc.name.replace("+", " and ")) from None

    def store_new(
        self, ctx: Context, tx: Transaction, kind: Kind, data: dict[str, Any]
    ) -> dict[str, Any]:
        tx.insert(kind.name, data, kind.owner.owner(data) if kind.owner else None)
        self.claim(tx, kind, data)
        self.changed(ctx, tx, "create", kind, None, data)
        return data

    def store_change(
        self,
        ctx: Context,
        tx: Transaction,
        kind: Kind,
        old: Mapping[str, Any],
        new: dict[str, Any],
        action: str = "update",
    ) -> dict[str, Any]:
        new["version"] = int(old.get("version", 1)) + 1
        if "updatedAt" in kind.properties:
            new["updatedAt"] = ctx.timestamp
        tx.replace(kind.name, new)
        if kind.owner is not None:  # asked again: a Tchat draft is shared once published
            tx.set_owner(kind.name, new["id"], kind.owner.owner(new))
        self.claim(tx, kind, new)
        self.changed(ctx, tx, action, kind, old, new)
        return new

    def remove(self, ctx: Context, tx: Transaction, kind: Kind, row: Row) -> None:
        """Delete ``row`` and what depends on it (the spec's rule on references)."""
        tx.delete(kind.name, row.id)
        self.changed(ctx, tx, "delete", kind, row.data, None)
        for holder, reference in self.referrers.get(kind.name, []):
            for other in tx.select(holder.name):
                if row.id not in set(reference.ids(other.data)):
                    continue
                if reference.many or reference.nullable:
                    changed = _without(other.data, reference.path, row.id)
                    self.store_change(ctx, tx, holder, other.data, changed)
                else:
                    self.remove(ctx, tx, holder, other)

    def changed(
        self,
        ctx: Context,
        tx: Transaction,
        action: str,
        kind: Kind,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        change = Change(action, kind, before, after)
        for hook in self.hooks.changed:
            hook(ctx, tx, change)

    def new_resource(self, ctx: Context, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new resource from a create body: the body's fields, then the schema's defaults."""
        request_schema = self.spec.request_schema(ctx.operation)
        request_props = self.spec.properties(request_schema) if request_schema else {}
        data: dict[str, Any] = {}
        for prop, schema in kind.properties.items():
            resolved = self.spec.deref(schema)
            if prop in body:
                data[prop] = body[prop]
            elif prop in request_props and "default" in self.spec.deref(request_props[prop]):
                data[prop] = self.spec.deref(request_props[prop])["default"]
            elif isinstance(resolved, Mapping) and "default" in resolved:
                data[prop] = resolved["default"]
            elif _allows(resolved, "null"):
                data[prop] = None
            elif _allows(resolved, "array"):
                data[prop] = []
        data["id"] = str(uuid.uuid4())
        for stamp in ("createdAt", "updatedAt"):
            if stamp in kind.properties:
                data[stamp] = ctx.timestamp
        if kind.versioned:
            data["version"] = 1
        return data

    # -- the generic handlers ------------------------------------------------------------------

    def list(self, kind: Kind) -> Callable[[Context], Reply]:
        def handle(ctx: Context) -> Reply:
            with ctx.store.read(self.api) as tx:
                return Reply(200, self.page(ctx, tx, kind))

        return handle

    def get(self, kind: Kind, param: str) -> Callable[[Context], Reply]:
        def handle(ctx: Context) -> Reply:
            with ctx.store.read(self.api) as tx:
                return Reply(200, self.load(ctx, tx, kind, ctx.request.path[param]).data)

        return handle

    def create_in(
        self,
        ctx: Context,
        tx: Transaction,
        kind: Kind,
        body: Mapping[str, Any],
        *,
        id: str | None = None,
    ) -> dict[str, Any]:
        """Create a ``kind`` from a create body inside ``tx`` (as the create operation does)."""
        if self.validators is not None:  # a body that did not come through a request: seeding
            schema = self.spec.request_schema(ctx.operation)
            errors = self.validators.errors(self.spec.deref(schema), body, "") if schema else []
            if errors:
                raise ValueError(f"{ctx.operation.label}: {errors[0]['message']}: {body}")
        data = self.new_resource(ctx, kind, body)
        if id is not None:
            data["id"] = id
        self.check_references(tx, kind, data)  # before the hook: it may rely on them
        hook = self.hooks.on_create.get(kind.name)
        if hook is not None:
            hook(ctx, tx, data, body)
        return self.store_new(ctx, tx, kind, data)

    def create(self, kind: Kind, status: int = 201) -> Callable[[Context], Reply]:
        def handle(ctx: Context) -> Reply:
            body = ctx.body if isinstance(ctx.body, Mapping) else {}
            with ctx.store.write(self.api) as tx:
                return Reply(status, self.create_in(ctx, tx, kind, body))

        return handle

    def update(self, kind: Kind, param: str) -> Callable[[Context], Reply]:
        def handle(ctx: Context) -> Reply:
            body = ctx.body if isinstance(ctx.body, Mapping) else {}
            changes = {k: v for k, v in body.items() if k in kind.properties and k != "version"}
            with ctx.store.write(self.api) as tx:
                row = self.load(ctx, tx, kind, ctx.request.path[param])
                self.check_version(ctx, row.version)
                self.check_final(kind, row.data)
                self.check_moves(kind, row.data, changes)
                self.check_references(tx, kind, changes)  # before the hook: it may rely on them
                new = {**row.data, **changes}
                hook = self.hooks.on_update.get(kind.name)
                if hook is not None:
                    hook(ctx, tx, row.data, new, body)
                return Reply(200, self.store_change(ctx, tx, kind, row.data, new))

        return handle

    def delete(self, kind: Kind, param: str) -> Callable[[Context], Reply]:
        def handle(ctx: Context) -> Reply:
            with ctx.store.write(self.api) as tx:
                row = self.load(ctx, tx, kind, ctx.request.path[param])
                self.check_version(ctx, row.version)
                self.remove(ctx, tx, kind, row)
            return Reply(204)

        return handle


def visible(ctx: Context, row: Row) -> bool:
    """Whether the caller may see ``row``: a shared one, its own, or anyone's for the roles that
    see everything (CONTRACT.md §4). Another user's private resource is 404, not 403."""
    viewer = ctx.principal.visible_to
    return row.owner is None or viewer is None or row.owner == viewer


def _allows(schema: Any, json_type: str) -> bool:
    if not isinstance(schema, Mapping):
        return False
    declared = schema.get("type")
    return declared == json_type or (isinstance(declared, list) and json_type in declared)


def _without(data: Mapping[str, Any], path: tuple[str, ...], removed: str) -> dict[str, Any]:
    """A copy of ``data`` with the reference at ``path`` to ``removed`` dropped (or nulled)."""
    copy: dict[str, Any] = dict(data)
    head, rest = path[0], path[1:]
    if rest == ("*",):
        copy[head] = [item for item in copy.get(head) or [] if item != removed]
    elif not rest:
        if copy.get(head) == removed:
            copy[head] = None
    elif isinstance(copy.get(head), Mapping):
        copy[head] = _without(copy[head], rest, removed)
    return copy
