"""Two-principal authorisation, from ``x-roles`` and ``x-owner`` (CONTRACT.md §4).

Two throwaway accounts of the least privileged role, A and B:

- every operation whose ``x-roles`` leave that role out is 403 ``FORBIDDEN`` for A; a write so
  refused changes nothing (it is aimed at a resource the run made, and sent with the values the
  resource already has, so even a backend that wrongly lets it through changes no data);
- for every kind declared ``x-owner``, one resource owned by A: A reads it (and, for A's own
  profile, changes it); B gets 404 for it, does not see it listed, and cannot change or delete
  it (404, and it stays as it was); the run's principal, with admin rights, reads it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from conformance.contract import Operation, Ownership
from conformance.suite._unique import value_for
from conformance.suite.scenarios._changes import Changes, absent_id, cast
from conformance.suite.scenarios._makers import (
    Actor,
    Made,
    Maker,
    Snapshot,
    payload,
)
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)

# the catalogue's rules judged here (`scenario_rule` checks each at import)
ROLE_403 = scenario_rule("role-403")
OWNER_RECORDED = scenario_rule("owner-recorded")
OWNER_READS = scenario_rule("owner-reads")
PRIVATE_404 = scenario_rule("private-404")
ADMIN_READS_ALL = scenario_rule("admin-reads-all")
REJECTED_UNCHANGED = scenario_rule("rejected-unchanged")

MAX_REQUESTS = 600


@scenario(
    "authorisation",
    requires="`x-roles`, `x-owner`, `x-auth-flow` with `accounts`",
    max_requests=MAX_REQUESTS,
    max_seconds=300,
    waits=3,
    data=True,
    order=50,
)
def authorisation(context: ScenarioContext, story: Story) -> None:
    """The story with two throwaway accounts of the least privileged role, A and B."""
    with cast(context, story) as players:
        if not context.spec.declarations.roles:
            raise ScenarioSkipped("the spec declares no x-roles", missing_declaration=True)
        if players.accounts is None:
            raise ScenarioSkipped(
                "the spec declares no x-auth-flow (two throwaway principals are needed)",
                missing_declaration=True,
            )
        if players.accounts.cannot_make is not None:
            raise players.accounts.cannot_make
        with story.step(f"make two throwaway {players.role} accounts, A and B, and log in"):
            first, second = players.account("A"), players.account("B")
        Authorisation(story, players.maker, players.run, first, second).run_all()


class Authorisation:
    name = "authorisation"

    def __init__(self, story: Story, maker: Maker, run: Actor, first: Actor, second: Actor) -> None:
        self.story, self.maker, self.run = story, maker, run
        self.first, self.second = first, second
        self.changes = Changes(story, maker, run)
        self.spec = story.spec
        #: kind -> a resource made for the forbidden operations to aim at
        self._aims: dict[str, Made] = {}

    def run_all(self) -> None:
        role = self.first.role
        forbidden = [op for op in self.spec.operations if op.roles and role not in op.roles]
        if forbidden:
            with self.story.part(f"operations outside {role}'s x-roles are 403"):
                for operation in forbidden:
                    # each operation is a claim of its own: one let through ends only its step
                    with contextlib.suppress(Violation, StepSkipped):
                        self.forbidden(operation)
        schemas = self.spec.data.get("components", {}).get("schemas", {}) or {}
        for kind in sorted(schemas):
            ownership = self.spec.ownership(kind)
            if ownership is not None:
                with self.story.part(f"{kind}: private to its owner"):
                    self.private(kind, ownership)

    # -- 403 -----------------------------------------------------------------------------------

    def forbidden(self, operation: Operation) -> None:
        story, first = self.story, self.first
        title = f"{operation.label} ({operation.operation_id}) as {first.role} is 403 FORBIDDEN"
        with story.step(title):
            aim = self.aim(operation)
            path = self.concrete(operation, aim)
            reader = self.spec.operation_at("get", operation.path)
            before: Snapshot | None = None
            if operation.method != "get" and reader is not None and "?" not in path:
                before = self.snapshot(reader, path)
            body = self.body(operation, before)
            response = story.send(operation, token=first.token, path=path, json_body=body)
            if 200 <= response.status_code < 300:
                self.adopt(operation, response, body, aim)
            self.changes.error(
                response,
                403,
                "FORBIDDEN",
                ROLE_403,
                f"{operation.operation_id} by {first.name} ({first.role})",
            )
            if before is not None and reader is not None:
                after = self.snapshot(reader, path)
                story.check(
                    after is not None and after.data == before.data,
                    REJECTED_UNCHANGED,
                    f"{path} changed after {operation.operation_id} by {first.role} was refused"
                    + (": it is gone" if after is None else ""),
                )

    def snapshot(self, reader: Operation, path: str) -> Snapshot | None:
        """What the run reads at ``path`` (None when there is nothing there)."""
        found = self.maker.read_at(reader, path)
        return found if found.ok else None

    def aim(self, operation: Operation) -> Made | None:
        """A resource of the run's for an operation on an item (and under it) to aim at."""
        for resource in self.maker.by_kind.values():
            on_item = operation.path == resource.item_path or operation.path.startswith(
                resource.item_path + "/"
            )
            if not on_item or resource.schema_name is None:
                continue
            if not self.maker.can_make(resource.schema_name) or resource.get is None:
                return None
            kind = resource.schema_name
            if kind not in self._aims:
                self._aims[kind] = self.maker.make(kind)
            return self._aims[kind]
        return None

    def concrete(self, operation: Operation, aim: Made | None) -> str:
        """The operation's path with its parameters filled: the aim's id, else a value of the
        parameter's type (a 403 is decided before the resource is looked up); required query
        parameters too."""
        path = operation.path
        if aim is not None and path.startswith(aim.resource.item_path):
            path = aim.path + path[len(aim.resource.item_path) :]
        for parameter in operation.path_parameters:
            value = value_for(self.spec, parameter.schema, parameter.name)
            path = path.replace("{" + parameter.name + "}", str(value or absent_id()))
        query = {
            parameter.name: value_for(self.spec, parameter.schema, parameter.name)
            for parameter in operation.required_parameters
            if parameter.location == "query"
        }
        return path + ("?" + str(httpx.QueryParams(query)) if query else "")

    def body(self, operation: Operation, before: Snapshot | None) -> Any:
        """A valid body: the required fields; for a change, a field with the value the
        resource already has (a wrongly allowed change then changes no data)."""
        schema = self.spec.request_schema(operation)
        if schema is None:
            return None
        if before is not None:
            for name in self.spec.properties(schema):
                if name != "version" and name in before.data:
                    return {name: before.data[name]}
        return self.maker.body(operation, placeholders=True)

    def adopt(
        self, operation: Operation, response: httpx.Response, body: Any, aim: Made | None
    ) -> None:
        """A forbidden call went through: what it made is removed, what it deleted forgotten."""
        if operation.method == "delete" and aim is not None:
            self.maker.forget(aim)
            self._aims = {k: v for k, v in self._aims.items() if v is not aim}
            return
        if operation.method == "post":
            for resource in self.maker.by_kind.values():
                if resource.create is operation and resource.schema_name and resource.delete:
                    data = payload(operation, response)
                    if isinstance(data, dict):
                        self.maker.keep(resource.schema_name, resource, data, body or {})

    # -- privacy -------------------------------------------------------------------------------

    def private(self, kind: str, ownership: Ownership) -> None:
        story, first, second, changes = self.story, self.first, self.second, self.changes
        resource = self.maker.resource(kind)
        if resource is None or resource.get is None:
            raise StepSkipped(f"{kind} has no item path to read it at")
        with story.step(f"{kind}: one owned by {first.name}"):
            made = self.owned(kind, ownership)
            owner = ownership.owner(made.data)
            if owner is None:
                raise StepSkipped(f"a new {kind} is not private ({ownership})")
            story.check(
                owner == first.id,
                OWNER_RECORDED,
                f"{kind} {made.id} made for {first.name} ({first.id}) is private to {owner}",
            )
        if first.may(resource.get):
            with story.step(f"{kind}: its owner reads it"):
                mine = changes.read(made, first.token)
                story.check(
                    mine.ok,
                    OWNER_READS,
                    f"{first.name} reads their own {kind} {made.id}: {mine.status}",
                )
        before = changes.read(made)
        if second.may(resource.get):
            with story.step(f"{kind}: another {second.role} gets 404 NOT_FOUND for it"):
                response = story.send(resource.get, token=second.token, path=made.path)
                changes.error(
                    response,
                    404,
                    "NOT_FOUND",
                    PRIVATE_404,
                    f"{second.name} reading {first.name}'s {kind} {made.id}",
                )
        if resource.list is not None and second.may(resource.list):
            with story.step(f"{kind}: another {second.role} does not see it in the list"):
                seen, _complete = self.maker.find_in_list(made, second.token)
                story.check(
                    seen == 0,
                    PRIVATE_404,
                    f"{second.name} sees {first.name}'s {kind} {made.id} in"
                    f" {resource.list.operation_id}",
                )
        if resource.update is not None and second.may(resource.update):
            with story.step(
                f"{kind}: another {second.role} cannot change it (404), and it is unchanged"
            ):
                local = changes.optimistic(made, before, "Intruder")
                response = changes.change(made, local, token=second.token)
                changes.error(
                    response,
                    404,
                    "NOT_FOUND",
                    PRIVATE_404,
                    f"{second.name} changing {first.name}'s {kind} {made.id}",
                )
                changes.unchanged(made, before, f"a change by {second.name}")
        if resource.delete is not None and second.may(resource.delete):
            with story.step(f"{kind}: another {second.role} cannot delete it (404), and it stays"):
                response = story.send(resource.delete, token=second.token, path=made.path)
                if 200 <= response.status_code < 300 and made in self.maker.made:
                    self.maker.forget(made)
                changes.error(
                    response,
                    404,
                    "NOT_FOUND",
                    PRIVATE_404,
                    f"{second.name} deleting {first.name}'s {kind} {made.id}",
                )
                changes.unchanged(made, before, f"a delete by {second.name}")
        if (
            ownership.property == "id"
            and resource.update is not None
            and first.may(resource.update)
        ):
            with story.step(f"{kind}: its owner changes their own profile"):
                mine = changes.read(made, first.token)
                local = changes.optimistic(made, mine, "Own profile")
                response = changes.change(made, local, token=first.token)
                changes.converged(made, local, response, mine.number())
        with story.step(f"{kind}: the run's principal (admin rights) reads it"):
            theirs = changes.read(made)
            story.check(
                theirs.ok,
                ADMIN_READS_ALL,
                f"the run's principal reads {first.name}'s {kind} {made.id}: {theirs.status}",
            )

    def owned(self, kind: str, ownership: Ownership) -> Made:
        """A resource of ``kind`` private to A: A's own account, one made for A, or by A."""
        first, maker = self.first, self.maker
        resource = maker.resource(kind)
        assert resource is not None
        if ownership.property == "id":
            if first.path is None or not first.path.startswith(resource.collection_path + "/"):
                raise StepSkipped(f"{first.name}'s account is not a {kind}")
            made = Made(kind, resource, first.path, {})
            snapshot = self.changes.read(made)
            if not snapshot.ok:
                raise StepSkipped(f"{first.name}'s account cannot be read: {snapshot.status}")
            made.data = snapshot.data
            return made
        if resource.create is None:
            raise StepSkipped(f"{kind} has no create operation")
        request = self.spec.properties(self.spec.request_schema(resource.create))
        if ownership.property in request:
            return maker.make(kind, overrides={ownership.property: first.id})
        if first.may(resource.create):
            return maker.make(kind, token=first.token)
        raise StepSkipped(
            f"{kind}'s owner is not in its create body and {first.role} may not create one"
        )
