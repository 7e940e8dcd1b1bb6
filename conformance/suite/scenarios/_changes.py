"""What the data scenarios (rollback, conflicts, authorisation) share: who acts (`Cast`, set up
and cleared away around each of them), how a change is sent, and the checks every one of them
makes (the ETag is the version, a refused change leaves the resource as it was, an error answer
carries the expected code)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import AuthFlow, Operation, Resource
from conformance.suite._journal import Journal
from conformance.suite.scenarios._accounts import (
    Accounts,
    Pair,
    Principal,
    Sessions,
    least_privileged_role,
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
    plain_fields,
)
from conformance.suite.scenarios._registry import ScenarioContext
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    error_code,
    scenario_rule,
)
from conformance.verdict import StepRecord

# the catalogue's rules judged here (`scenario_rule` checks each at import)
ETAG_VERSION = scenario_rule("etag-version")
VERSION_INCREMENTS = scenario_rule("version-increments")
CONVERGES = scenario_rule("converges")
REJECTED_UNCHANGED = scenario_rule("rejected-unchanged")


@dataclass
class Cast:
    """Who acts in a data scenario: the run's own principal, the `Maker` of what it changes
    (journaled), and throwaway accounts of the least privileged role where the spec's
    ``x-auth-flow`` can make them."""

    story: Story
    run: Actor
    maker: Maker
    flow: AuthFlow | None
    accounts: Accounts | None
    role: str | None

    def account(self, name: str) -> Actor:
        """A throwaway account of `role`, made and logged in (``name``: as the story calls it)."""
        assert self.accounts is not None
        return logged_in(name, self.accounts.make(self.role), self.flow, self.story)


@contextlib.contextmanager
def cast(context: ScenarioContext, story: Story) -> Iterator[Cast]:
    """A data scenario's cast. What it made and its accounts are removed when it ends, however it
    ends: a removal that fails, and what the spec cannot delete, are its cleanup steps."""
    journal = Journal(context.journal)
    run = Actor("the run", None, context.run_token)
    maker = Maker(story, run, journal)
    flow = context.spec.declarations.auth_flow
    accounts = Accounts(story, flow, context.run_token(), journal) if flow else None
    role = least_privileged_role(context.spec)
    try:
        yield Cast(story, run, maker, flow, accounts, role)
    finally:
        problems = maker.remove() + (accounts.remove() if accounts is not None else [])
        if problems:
            story.steps.append(StepRecord("cleanup", "remove what the scenario made", "failed",
                                          "; ".join(problems)))  # fmt: skip
        for kind, count in sorted(maker.left.items()):
            left = f"{count} left: the spec has no delete for a {kind}"
            story.steps.append(StepRecord("cleanup", f"remove the {kind} made", "skipped", left))


def logged_in(name: str, principal: Principal, flow: AuthFlow | None, story: Story) -> Actor:
    """A throwaway account, logged in; its token is refreshed when near its end."""
    assert flow is not None
    sessions = Sessions(story, flow)
    response = sessions.login(principal)
    pair = sessions.pair(response) if response.status_code == 200 else None
    if pair is None:
        raise ScenarioSkipped(f"a throwaway account cannot log in: {response.status_code}")
    held: list[Pair] = [pair]

    def access() -> str | None:
        if held[0].stale(0.6):
            renewed = None
            if flow.refresh is not None and held[0].refresh:
                answer = sessions.refresh(held[0].refresh)
                renewed = (
                    sessions.pair(answer, refreshed=True) if answer.status_code == 200 else None
                )
            if renewed is None:
                answer = sessions.login(principal)
                renewed = sessions.pair(answer) if answer.status_code == 200 else None
            if renewed is not None:
                held[0] = renewed
        return held[0].access

    return Actor(f"{principal.role or 'user'} {name}", principal.role, access, principal.id,
                 principal.path)  # fmt: skip


def wrong_type(schema: Any) -> Any:
    """A value of another JSON type than ``schema`` allows."""
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return 12345 if "string" in kinds else "not-a-value"


class Changes:
    """Sends changes to resources a `Maker` made and checks what became of them."""

    def __init__(self, story: Story, maker: Maker, run: Actor) -> None:
        self.story, self.maker, self.run, self.spec = story, maker, run, story.spec

    def update_operation(self, made: Made) -> Operation:
        if made.resource.update is None:
            raise StepSkipped(f"{made.kind} has no update operation")
        return made.resource.update

    def takes_version(self, resource: Resource) -> bool:
        """Whether the update's body has a ``version`` (else only If-Match carries it)."""
        if resource.update is None:
            return False
        return "version" in self.spec.properties(self.spec.request_schema(resource.update))

    def settable(self, resource: Resource) -> list[str]:
        """The item's properties an update may set (besides ``version``): the optimistic state
        a client can predict."""
        if resource.update is None:
            return []
        request = self.spec.properties(self.spec.request_schema(resource.update))
        item = self.spec.properties(item_schema(self.spec, resource))
        return [name for name in request if name in item and name != "version"]

    def field(self, made: Made) -> tuple[str, Any]:
        """The field a client changes optimistically: free text, else a flag, else a state's
        legal move."""
        update = self.update_operation(made)
        found = plain_fields(
            self.spec, self.spec.request_schema(update), item_schema(self.spec, made.resource)
        )
        if not found:
            raise StepSkipped(f"{made.kind}'s update has no field a client may set freely")
        return found[0]

    def optimistic(self, made: Made, snapshot: Snapshot, mark: str) -> dict[str, Any]:
        """The client's local copy with one change applied (``onQueryStarted``)."""
        name, schema = self.field(made)
        return {**snapshot.data, name: new_value(schema, snapshot.data.get(name), mark)}

    def change(
        self,
        made: Made,
        local: dict[str, Any],
        *,
        token: str | None = None,
        if_match: Any = None,
        version: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send the change from ``local`` (its one changed field), conditional on ``if_match``
        (header) and ``version`` (body) when given."""
        update = self.update_operation(made)
        name, _ = self.field(made)
        body: dict[str, Any] = {name: local[name], **(extra or {})}
        if version is not None:
            body["version"] = version
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        return self.story.send(
            update, token=token or self.run.token, path=made.path, json_body=body, headers=headers
        )

    def move(self, made: Made, mark: str = "Moved") -> Snapshot:
        """One unconditional change (to give a resource a past); the snapshot after it."""
        response = self.change(made, self.optimistic(made, self.read(made), mark))
        self.story.check(
            200 <= response.status_code < 300,
            CONVERGES,
            f"a change of {made.kind} {made.id} answered {response.status_code}",
        )
        return self.read(made)

    def read(self, made: Made, token: str | None = None) -> Snapshot:
        return self.maker.read(made, token or self.run.token)

    # -- checks --------------------------------------------------------------------------------

    def etag_is_version(self, what: str, data: Any, etag: str | None) -> None:
        version = data.get("version") if isinstance(data, dict) else None
        self.story.check(
            etag == f'"{version}"',
            ETAG_VERSION,
            f'{what}: ETag {etag!r} is not the version {version!r} as "{version}"',
        )

    def error(self, response: httpx.Response, status: int, code: str, rule: str, what: str) -> None:
        got = error_code(response)
        self.story.check(
            response.status_code == status and got == code,
            rule,
            f"{what} answered {response.status_code} {got or ''}".rstrip()
            + f", not {status} {code}",
        )

    def unchanged(self, made: Made, before: Snapshot, what: str) -> None:
        """The server copy is still ``before``, field by field, ``version`` and ``ETag``
        included: a client that rolls back to its snapshot agrees with the server."""
        after = self.read(made)
        self.story.check(
            after.ok,
            REJECTED_UNCHANGED,
            f"{made.kind} {made.id} is gone ({after.status}) after {what}",
        )
        changed = differences(before.data, after.data)
        if before.etag != after.etag:
            changed.append(f"ETag: {before.etag} -> {after.etag}")
        self.story.check(
            not changed,
            REJECTED_UNCHANGED,
            f"{made.kind} {made.id} changed after {what} was refused: " + "; ".join(changed),
        )

    def converged(
        self, made: Made, local: dict[str, Any], response: httpx.Response, from_version: int
    ) -> dict[str, Any]:
        """A successful change answers the client's optimistic state, ``version + 1``."""
        story = self.story
        update = self.update_operation(made)
        story.check(
            200 <= response.status_code < 300,
            CONVERGES,
            f"a valid change of {made.kind} {made.id} answered {response.status_code}",
        )
        returned = payload(update, response)
        story.check(isinstance(returned, dict), CONVERGES, "the change answered no resource")
        assert isinstance(returned, dict)
        names = self.settable(made.resource)
        expected = {name: local.get(name) for name in names}
        got = {name: returned.get(name) for name in names}
        drift = differences(expected, got)
        story.check(
            not drift,
            CONVERGES,
            f"{made.kind} {made.id}: the answer differs from the client's optimistic state: "
            + "; ".join(drift),
        )
        story.check(
            returned.get("version") == from_version + 1,
            VERSION_INCREMENTS,
            f"{made.kind} {made.id}: version {returned.get('version')!r} after a change from"
            f" {from_version}, not {from_version + 1}",
        )
        self.etag_is_version(f"the change of {made.kind}", returned, response.headers.get("ETag"))
        return returned


def details(response: httpx.Response) -> dict[str, Any]:
    """The ``details`` of an error answer (empty when it has none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    found = body.get("details") if isinstance(body, dict) else None
    return found if isinstance(found, dict) else {}


def absent_id() -> str:
    return str(uuid.uuid4())
