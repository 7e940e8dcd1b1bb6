"""Broken function level authorization (OWASP API5): what an unprivileged account must not call.

The operations: those whose ``x-roles`` leave out the least privileged role, where the
authorisation scenario's ``role-403`` cannot judge them (a read-only run, no ``x-auth-flow``
``accounts`` step to make its throwaway accounts with); and, on any spec, operations that look
like an admin's and declare no roles: a path segment ``admin``, ``internal``, ``management``,
``manage`` or ``superuser``, a tag named so, an operationId starting with ``admin``.

B is an unprivileged account (`_accounts.second_account`: a named principal of the least
privileged role, or whose role is not an admin's; else a throwaway account), never the run's own
session, which may be an admin. For each GET, the run's own account answers first: its 2xx is
the baseline that makes B's 2xx a finding (where the run itself is refused, there is nothing to
compare, and the operation is skipped). Only GETs on a shared target and in a read-only run; a
write only on a disposable target, and only on a resource the run made for it.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import httpx

from conformance.contract import Operation, Spec
from conformance.suite._journal import key_of, template_names
from conformance.suite._unique import value_for
from conformance.suite.probes._accounts import second_account
from conformance.suite.probes._bola import listed_items
from conformance.suite.scenarios._accounts import least_privileged_role
from conformance.suite.scenarios._changes import cast
from conformance.suite.scenarios._makers import Actor, Maker
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)
from conformance.verdict import StepRecord

# the catalogue's rules judged here (`scenario_rule` checks each at import)
FUNCTION_LEVEL_403 = scenario_rule("function-level-403")

#: what an admin's operation is called in its path, its tags or its operationId
ADMIN_WORDS = ("admin", "internal", "management", "manage", "superuser")
MAX_OPERATIONS = 40
MAX_REQUESTS = 150


@scenario(
    "function_level",
    kind="probe",
    requires="an unprivileged second account; `x-roles`, or admin paths or tags",
    max_requests=MAX_REQUESTS,
    max_seconds=60,
    order=15,
    read_only=True,
)
def function_level(context: ScenarioContext, story: Story) -> None:
    """B calls each privileged operation the run itself may call: none answers B a 2xx."""
    targets = privileged(context)
    with cast(context, story) as players:
        second = second_account(context, players, unprivileged_only=True)
        FunctionLevel(context, story, players.maker, second).run_all(targets)


def admin_looking(operation: Operation) -> str | None:
    """Why ``operation`` looks like an admin's (None: it does not)."""
    words = "|".join(ADMIN_WORDS)
    for segment in operation.path.strip("/").split("/"):
        if re.fullmatch(rf"({words})([-_].*)?", segment.lower()):
            return f"its path has {segment!r}"
    for tag in operation.tags:
        if tag.lower() in ADMIN_WORDS:
            return f"its tag is {tag!r}"
    if (operation.operation_id or "").lower().startswith("admin"):
        return f"its operationId is {operation.operation_id}"
    return None


def role_403_judges(context: ScenarioContext) -> bool:
    """Whether the authorisation scenario can judge the declared x-roles in this run (it needs
    throwaway accounts, which a read-only run does not make)."""
    flow = context.spec.declarations.auth_flow
    return not context.read_only and flow is not None and flow.accounts is not None


def privileged(context: ScenarioContext) -> list[tuple[Operation, str]]:
    """The operations B must not call, each with why; `ScenarioSkipped` when there are none."""
    spec = context.spec
    looking = [(op, why) for op in spec.operations if op.roles is None
               and (why := admin_looking(op)) is not None]  # fmt: skip
    if not spec.declarations.roles:
        if not looking:
            raise ScenarioSkipped(
                "no operation looks like an admin's (path, tag or operationId admin, internal,"
                " management …) and the spec declares no x-roles"
            )
        return looking
    least = least_privileged_role(spec)
    declared = [(op, f"its x-roles leave out {least}") for op in spec.operations
                if op.roles and least not in op.roles]  # fmt: skip
    if role_403_judges(context):
        if not looking:
            raise ScenarioSkipped(
                f"the authorisation scenario's role-403 judges the declared x-roles with a"
                f" throwaway {least} account; no other operation looks like an admin's"
            )
        return looking
    return declared + looking


class FunctionLevel:
    def __init__(self, context: ScenarioContext, story: Story, maker: Maker, second: Actor) -> None:
        self.context, self.story, self.maker, self.second = context, story, maker, second
        self.spec: Spec = story.spec
        #: a collection's path -> the key values of one of its items (for path parameters)
        self._keys: dict[str, dict[str, Any] | None] = {}

    def run_all(self, targets: list[tuple[Operation, str]]) -> None:
        """The GETs first, then (on a disposable target) the writes, at most `MAX_OPERATIONS`;
        the writes a shared target or a read-only run may not get, as one skipped step."""
        story = self.story
        reads = [(op, why) for op, why in targets if op.method == "get"]
        writes = [(op, why) for op, why in targets if op.method != "get"]
        kept = self.held_back(writes)
        tried = (reads + (writes if kept is None else []))[:MAX_OPERATIONS]
        with story.part(f"privileged operations, as {self.second.name}"):
            for operation, why in tried:
                with contextlib.suppress(Violation, StepSkipped):
                    self.operation(operation, why)
            left = len(reads) + (len(writes) if kept is None else 0) - len(tried)
            if left > 0:
                self.skipped(f"{left} more operations", f"at most {MAX_OPERATIONS} a run")
            if writes and kept is not None:
                self.skipped(f"{len(writes)} writes ({writes[0][0].operation_id} …)", kept)

    def held_back(self, writes: list[tuple[Operation, str]]) -> str | None:
        """Why the writes are not sent (None: they are, on resources the run makes)."""
        if not writes:
            return None
        if self.context.read_only:
            return "a read-only run sends only GETs"
        if not self.context.disposable:
            return (
                "a shared target gets only GETs (environment = disposable sends writes, on"
                " resources the run made)"
            )
        return None

    def skipped(self, title: str, why: str) -> None:
        story = self.story
        story.steps.append(StepRecord(story.part_title, title, "skipped", why))

    def operation(self, operation: Operation, why: str) -> None:
        story, second = self.story, self.second
        title = f"{operation.label} ({operation.operation_id}, {why}) refuses {second.name}"
        with story.step(title):
            if operation.method != "get":
                self.write(operation, why)
                return
            path = self.concrete(operation)
            baseline = story.send(operation, path=path, token=self.maker.token)
            if not 200 <= baseline.status_code < 300:
                raise StepSkipped(
                    f"the run's own account gets {baseline.status_code}: no baseline to compare"
                    " B's answer with"
                )
            response = story.send(operation, path=path, token=second.token)
            story.check(
                not 200 <= response.status_code < 300,
                FUNCTION_LEVEL_403,
                f"{second.name} called {operation.label} ({operation.operation_id}; {why}) and"
                f" got {response.status_code}, as the run's own account did",
            )

    def write(self, operation: Operation, why: str) -> None:
        """A write to a privileged operation: only on a disposable target, on a resource the run
        made for it; B's 2xx is the finding (the run's own write would change the resource)."""
        story, second = self.story, self.second
        aim = next((r for r in self.maker.by_kind.values()
                    if r.item_path == operation.path and r.schema_name
                    and self.maker.can_make(r.schema_name)), None)  # fmt: skip
        if aim is None or aim.schema_name is None:
            raise StepSkipped("a write is sent only on a resource the run made: none here")
        made = self.maker.make(aim.schema_name)
        body = None
        if self.spec.request_schema(operation) is not None:
            body = self.maker.body(operation, placeholders=True)
        response = story.send(operation, path=made.path, token=second.token, json_body=body)
        if 200 <= response.status_code < 300 and operation.method == "delete":
            self.maker.forget(made)
        story.check(
            not 200 <= response.status_code < 300,
            FUNCTION_LEVEL_403,
            f"{second.name} called {operation.label} ({operation.operation_id}; {why}) on a"
            f" {made.kind} the run made and got {response.status_code}",
        )

    def concrete(self, operation: Operation) -> str:
        """The operation's path with its parameters filled from an item the run lists (a real
        one: the run's own baseline must succeed), and its required query parameters."""
        path = operation.path
        for name in template_names(path):
            collection = path.split("{" + name + "}", 1)[0].rstrip("/")
            keys = self.keys(collection)
            value = key_of(name, keys) if keys is not None else None
            if value is None:
                raise StepSkipped(f"no {{{name}}} to fill: {collection or '/'} lists nothing")
            path = path.replace("{" + name + "}", str(value))
        query = {
            parameter.name: value_for(self.spec, parameter.schema, parameter.name)
            for parameter in operation.required_parameters
            if parameter.location == "query"
        }
        return path + ("?" + str(httpx.QueryParams(query)) if query else "")

    def keys(self, collection: str) -> dict[str, Any] | None:
        """One item the run's own list at ``collection`` holds (None: no such list, or empty)."""
        if collection not in self._keys:
            self._keys[collection] = None
            listing = self.spec.operation_at("get", collection)
            if listing is not None and not listing.required_parameters:
                response = self.story.send(listing, token=self.maker.token)
                if response.status_code == 200:
                    with contextlib.suppress(ValueError):
                        items = listed_items(response.json())
                        self._keys[collection] = items[0] if items else None
        return self._keys[collection]
