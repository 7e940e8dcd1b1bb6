"""Optimistic-update rollback, as the seeds' clients do it (``onQueryStarted`` applies a change to
the cache, ``patchResult.undo()`` takes it back when the server refuses): the rollback is only
right if a refused change leaves the server copy exactly as the client's snapshot, and a
successful one answers exactly the client's optimistic state, ``version + 1``.

For every resource kind the spec can create, read, change and delete, and whose items carry a
``version``: make one (owned by the run), snapshot it, change it once (convergence), then send
each change the server must refuse (a schema-invalid value: 400; a stale version: 409; a role
that may not: 403; an unknown referenced id: 404) and compare the server copy with the snapshot.
Creates: the real id comes back for the client's temporary one, and the list holds it once.
Bulk updates (``<collection>/bulk``): the good items apply, each failing one is reported and
left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from conformance.contract import Operation, Resource
from conformance.suite.scenarios._changes import (
    Changes,
    absent_id,
    cast,
    details,
    wrong_type,
)
from conformance.suite.scenarios._makers import (
    Actor,
    Made,
    Maker,
    Snapshot,
    differences,
    item_schema,
    new_value,
    payload,
    references,
    unkept,
    versioned,
)
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import ScenarioSkipped, StepSkipped, Story, scenario_rule

# the catalogue's rules judged here (`scenario_rule` checks each at import)
ROLE_403 = scenario_rule("role-403")
INVALID_400 = scenario_rule("invalid-400")
UNKNOWN_REFERENCE_404 = scenario_rule("unknown-reference-404")
VERSION_INCREMENTS = scenario_rule("version-increments")
CONVERGES = scenario_rule("converges")
CREATED_ONCE = scenario_rule("created-once")
STALE_409 = scenario_rule("stale-409")
BULK_PER_ITEM = scenario_rule("bulk-per-item")

MAX_REQUESTS = 1500


@scenario(
    "rollback",
    requires="resources with a `version` (`x-references` for the 404, `x-auth-flow` `accounts`"
    " for the 403)",
    max_requests=MAX_REQUESTS,
    max_seconds=300,
    waits=2,
    data=True,
    order=30,
)
def rollback(context: ScenarioContext, story: Story) -> None:
    """The story on every versioned kind; the role that may not change one (the 403) is a
    throwaway account, where the spec can make one."""
    with cast(context, story) as players:
        other = None
        accounts, role = players.accounts, players.role
        if accounts is not None and accounts.can_make and role is not None:
            with story.step(f"make a throwaway {role} account and log in"):
                other = players.account(role)
        Rollback(story, players.maker, players.run, other).run_all()


def targets(maker: Maker) -> list[Resource]:
    """The kinds the data scenarios change: made, read, changed and removed, with a version."""
    return [
        resource
        for resource in maker.by_kind.values()
        if resource.create and resource.get and resource.update and versioned(maker.spec, resource)
    ]


class Rollback:
    name = "rollback"

    def __init__(self, story: Story, maker: Maker, run: Actor, other: Actor | None) -> None:
        self.story, self.maker, self.run, self.other = story, maker, run, other
        self.changes = Changes(story, maker, run)

    def run_all(self) -> None:
        found = targets(self.maker)
        if not found:
            raise ScenarioSkipped(
                "no resource kind can be created, read and changed and has a version"
            )
        for resource in found:
            self.kind(resource)
        for resource in found:
            bulk = self.bulk_operation(resource)
            if bulk is not None:
                with self.story.part(f"{resource.schema_name}: a bulk update, good and failing"):
                    self.bulk(resource, *bulk)

    # -- one kind ------------------------------------------------------------------------------

    def kind(self, resource: Resource) -> None:
        story, changes = self.story, self.changes
        kind = str(resource.schema_name)
        made: Made | None = None
        with story.part(f"{kind}: create, snapshot, change"):
            with story.step(
                f"{kind}: a create answers the client's optimistic item (what it sent, version"
                " 1), with a real id for its temporary one"
            ):
                made = self.maker.make(kind)  # an answer without an id is a violation there
                story.check(
                    made.data.get("version") == 1,
                    VERSION_INCREMENTS,
                    f"a new {kind} has version {made.data.get('version')!r}, not 1",
                )
                item = self.story.spec.properties(item_schema(self.story.spec, resource))
                sent = {name: value for name, value in made.body.items() if name in item}
                drift = unkept(sent, made.data)
                story.check(
                    not drift,
                    CONVERGES,
                    f"the create of {kind} {made.id} answered other values than the client"
                    " sent (sent -> answered): " + "; ".join(drift),
                )
            if resource.list is not None:
                with story.step(f"{kind}: the list holds the new one exactly once"):
                    seen, complete = self.maker.find_in_list(made)
                    if not seen and not complete:
                        raise StepSkipped(f"not within the first pages of {resource.list.label}")
                    story.check(
                        seen == 1,
                        CREATED_ONCE,
                        f"the list of {kind} holds {made.id} {seen} times",
                    )
            with story.step(
                f"{kind}: a snapshot (body, version, ETag) equals what the create answered"
            ):
                snapshot = changes.read(made)
                story.check(
                    snapshot.ok,
                    CONVERGES,
                    f"{kind} {made.id} cannot be read back: {snapshot.status}",
                )
                drift = differences(made.data, snapshot.data)
                story.check(
                    not drift,
                    CONVERGES,
                    f"{kind} {made.id} as stored differs from the create's answer: "
                    + "; ".join(drift),
                )
                changes.etag_is_version(f"a read of {kind}", snapshot.data, snapshot.etag)
            with story.step(f"{kind}: a change answers the optimistic state, version + 1"):
                local = changes.optimistic(made, snapshot, "Optimistic")
                version = snapshot.number()
                response = changes.change(
                    made,
                    local,
                    if_match=version,
                    version=version if changes.takes_version(resource) else None,
                )
                returned = changes.converged(made, local, response, version)
                stored = changes.read(made)
                drift = differences(returned, stored.data)
                story.check(
                    not drift,
                    CONVERGES,
                    f"{kind} {made.id}: the change's answer is not what was stored: "
                    + "; ".join(drift),
                )
        if made is None or not made.data.get("version"):
            return
        for title, status, send in self.refusals(made):
            with story.part(f"{kind}: rollback after {title}"):
                self.refused(made, title, status, send)

    def refusals(
        self, made: Made
    ) -> list[tuple[str, int, Callable[[dict[str, Any], Snapshot], httpx.Response]]]:
        """The changes the server must refuse, each with its status and how to send it."""
        changes, resource = self.changes, made.resource
        found: list[tuple[str, int, Callable[[dict[str, Any], Snapshot], httpx.Response]]] = []
        update = resource.update
        assert update is not None
        request = self.story.spec.request_schema(update)
        properties = self.story.spec.properties(request)

        def invalid(local: dict[str, Any], snapshot: Snapshot) -> httpx.Response:
            name, schema = changes.field(made)
            others = [n for n in changes.settable(resource) if n != name]
            if others:
                extra = {others[0]: wrong_type(self.story.spec.deref(properties[others[0]]))}
                return changes.change(made, local, extra=extra)
            if "version" in properties:
                return changes.change(made, local, extra={"version": "not-a-version"})
            return changes.change(made, {**local, name: wrong_type(schema)})

        found.append(("a schema-invalid value", 400, invalid))

        def stale(local: dict[str, Any], snapshot: Snapshot) -> httpx.Response:
            old = snapshot.number() - 1
            return changes.change(
                made, local, if_match=old, version=old if "version" in properties else None
            )

        found.append(("a stale version", 409, stale))
        if self.other is not None and not self.other.may(update):
            other = self.other

            def forbidden(local: dict[str, Any], snapshot: Snapshot) -> httpx.Response:
                return changes.change(made, local, token=other.token)

            found.append((f"a change by a role that may not ({other.role})", 403, forbidden))
        linked = references(self.story.spec, request)
        if linked:
            name = sorted(linked)[0]

            def unknown(local: dict[str, Any], snapshot: Snapshot) -> httpx.Response:
                return changes.change(made, local, extra={name: absent_id()})

            found.append((f"an unknown {linked[name]} id in {name}", 404, unknown))
        return found

    def refused(
        self,
        made: Made,
        title: str,
        status: int,
        send: Callable[[dict[str, Any], Snapshot], httpx.Response],
    ) -> None:
        story, changes = self.story, self.changes
        code = {
            400: "VALIDATION_FAILED",
            403: "FORBIDDEN",
            404: "NOT_FOUND",
            409: "VERSION_CONFLICT",
        }[status]
        rule = {
            400: INVALID_400,
            403: ROLE_403,
            404: UNKNOWN_REFERENCE_404,
            409: STALE_409,
        }[status]
        snapshot = changes.read(made)
        if status == 409 and int(snapshot.version or 0) < 2:  # a stale version needs a past
            with story.step(f"{made.kind}: one change moves it past version 1"):
                snapshot = changes.move(made)
        local = changes.optimistic(made, snapshot, "Refused")
        with story.step(f"{made.kind}: {title} is {status} {code}"):
            response = send(local, snapshot)
            changes.error(response, status, code, rule, f"{title} on {made.kind} {made.id}")
            if status == 409:
                found = details(response)
                story.check(
                    found.get("currentVersion") == snapshot.version,
                    STALE_409,
                    f"the 409 on {made.kind} {made.id} says currentVersion"
                    f" {found.get('currentVersion')!r}, not {snapshot.version!r}",
                )
        with story.step(
            f"{made.kind}: after {title} the server copy equals the rolled-back snapshot"
        ):
            changes.unchanged(made, snapshot, title)

    # -- bulk ----------------------------------------------------------------------------------

    def bulk_operation(self, resource: Resource) -> tuple[Operation, str] | None:
        """``POST <collection>/bulk`` taking ``{<array>: [{id, changes, version?}]}``, and the
        name of that array, if the spec has it."""
        spec = self.story.spec
        operation = spec.operation_at("post", resource.collection_path + "/bulk")
        if operation is None:
            return None
        for name, sub in spec.properties(spec.request_schema(operation)).items():
            array = spec.deref(sub)
            if not isinstance(array, dict) or array.get("type") != "array":
                continue
            item = spec.properties(array.get("items"))
            if "id" in item and "changes" in item:
                return operation, name
        return None

    def bulk(self, resource: Resource, operation: Operation, array: str) -> None:
        story, changes, maker = self.story, self.changes, self.maker
        kind = str(resource.schema_name)
        with story.step(f"{kind}: make three, and move the third on by one change"):
            first, second, third = maker.make(kind), maker.make(kind), maker.make(kind)
            changes.move(third)
        name, schema = changes.field(first)
        before = {made.id: changes.read(made) for made in (first, second, third)}
        wanted = {
            made.id: new_value(schema, before[made.id].data.get(name), "Bulk")
            for made in (first, second)
        }
        missing = absent_id()
        operations = [
            {
                "id": first.id,
                "changes": {name: wanted[first.id]},
                "version": before[first.id].version,
            },
            {"id": second.id, "changes": {name: wanted[second.id]}},
            {
                "id": missing,
                "changes": {name: new_value(schema, before[first.id].data.get(name), "Gone")},
            },
            {
                "id": third.id,
                "changes": {name: new_value(schema, before[third.id].data.get(name), "Stale")},
                "version": before[third.id].number() - 1,
            },
        ]
        with story.step(
            f"{kind}: a bulk update of two good items, an unknown id and a stale version"
            " applies the good ones and reports each failing one"
        ):
            response = story.send(operation, token=self.run.token, json_body={array: operations})
            story.check(
                response.status_code == 200,
                BULK_PER_ITEM,
                f"{operation.operation_id} answered {response.status_code}",
            )
            result = payload(operation, response)
            applied, failed = _bulk_lists(result)
            ids = sorted(str(item.get("id")) for item in applied)
            story.check(
                ids == sorted(wanted),
                BULK_PER_ITEM,
                f"applied {ids}, not the two good items {sorted(wanted)}",
            )
            for item in applied:
                story.check(
                    item.get(name) == wanted.get(str(item.get("id")))
                    and item.get("version") == before[str(item["id"])].number() + 1,
                    BULK_PER_ITEM,
                    f"{kind} {item.get('id')} was answered as {name}={item.get(name)!r},"
                    f" version {item.get('version')!r}",
                )
            reported = {(int(f.get("index", -1)), f.get("code")) for f in failed}
            story.check(
                reported == {(2, "NOT_FOUND"), (3, "VERSION_CONFLICT")},
                BULK_PER_ITEM,
                f"the failures reported are {sorted(reported, key=str)}, not index 2 NOT_FOUND"
                " and index 3 VERSION_CONFLICT",
            )
        with story.step(f"{kind}: the failing item is unchanged and the good ones are stored"):
            changes.unchanged(third, before[third.id], "a bulk item with a stale version")
            for made in (first, second):
                stored = changes.read(made)
                story.check(
                    stored.data.get(name) == wanted[made.id],
                    BULK_PER_ITEM,
                    f"{kind} {made.id} holds {name}={stored.data.get(name)!r} after the bulk"
                    " update applied it",
                )


def _bulk_lists(result: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The applied items and the failures a bulk answer lists."""
    applied: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    if not isinstance(result, dict):
        return applied, failed
    for value in result.values():
        if not isinstance(value, list):
            continue
        objects = [item for item in value if isinstance(item, dict)]
        if any("index" in item for item in objects):
            failed.extend(objects)
        elif objects or not applied:
            applied.extend(objects)
    return applied, failed
