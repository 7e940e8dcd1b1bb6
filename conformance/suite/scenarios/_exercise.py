"""One operation, sent again and again on what is made for the purpose: the latency scenario's
measurement of the writes the run did not answer often enough (`_latency`), and the
re-measurement of a breach alone after the run (`_confirm`).

`Exerciser.exercise` sends an operation while the caller wants more samples (its 2xx answers
are timed by the `Story`, as every answer is):

- a **create** of a kind the spec can also delete: one after another (`_makers.Maker`, its
  required ``x-references`` made first), then all of them deleted, newest first: those deletes
  are timed too;
- a **delete** of such a kind: one made, then deleted, again;
- a **change** (the item's PUT or PATCH): one item made, then changed again and again, each
  time from the version it last answered (``If-Match``, and the body's ``version`` where the
  change takes one), the field a client changes (`_changes.Changes`) set to a new value; a state
  that cannot move on (``x-transitions``) takes a fresh item;
- an **action** under an item (``POST /content/items/{id}/publish``): on an item made for it,
  again while it is answered, on a fresh item once it is refused or its state cannot move on;
- the ``x-auth-flow`` **accounts** step and its delete: throwaway accounts (`_accounts.Accounts`,
  the least privileged role), made and deleted;
- **login, refresh and logout**: sessions of throwaway accounts, each account logged in as often
  as its login window allows (``X-RateLimit-Remaining`` of the login's answers: no 429 where
  they say it), each session refreshed once and logged out. The run's own session is never
  spent, nor a window it shares: a login not declared ``key: client-account`` and a public
  refresh count per client address, so there they stop with `RESERVE` requests left in it.

What it does not send, with the reason `exercise` returns: a write in a read-only run; anything
that would leave data behind (a kind the spec cannot delete, or one whose required reference
it cannot delete; a write that is no create, change, delete or action of a resource, such as
``POST /metrics``); a singleton (``/system-config``: nothing of the suite's own to change, and
the run writes the target's only to restore it); an auth operation without an accounts step to
make throwaway accounts with.

Everything made is journaled the moment it is answered; `remove` (the caller's ``finally``)
deletes what is left, newest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import Operation, Resource, resources, singletons
from conformance.errors import ConformanceError
from conformance.suite._journal import Journal
from conformance.suite.scenarios._accounts import (
    Accounts,
    Principal,
    Sessions,
    least_privileged_role,
)
from conformance.suite.scenarios._changes import Changes
from conformance.suite.scenarios._makers import (
    Actor,
    Made,
    Maker,
    item_schema,
    new_value,
    payload,
    references,
)
from conformance.suite.scenarios._registry import ScenarioContext
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    error_code,
)

READS = ("get", "head")
#: answers in a row that refuse what is sent (on fresh items too) before an operation is given up
REFUSALS = 2
#: throwaway accounts one operation may make for its logins
MAX_ACCOUNTS = 30
#: requests left alone in a rate-limit window the run's own session shares (a login or a public
#: refresh counted per client address)
RESERVE = 5
#: a mark in the text a change writes, so that a reader can tell who wrote it
MARK = "Latency"


def remaining(response: httpx.Response) -> int | None:
    """``X-RateLimit-Remaining`` of an answer (None: it does not say)."""
    said = response.headers.get("X-RateLimit-Remaining", "").strip()
    return int(said) if said.isdigit() else None


def shared_window(operation: Operation) -> bool:
    """Whether ``operation``'s rate-limit window is not the throwaway account's own: a public
    operation counted per client address (a login, unless declared per client and account)."""
    if not operation.is_public:
        return False
    policy = operation.rate_limit
    return policy is None or policy.key != "client-account"


def refused(operation: Operation, response: httpx.Response, what: str) -> str:
    code = error_code(response)
    return (
        f"{operation.operation_id} answered {response.status_code}"
        f"{' ' + str(code) if code else ''} {what}"
    )


@dataclass(frozen=True, slots=True)
class Measuring:
    """What a measurement of the run's own sends with, taken from the run once for the latency
    scenario's writes (`Exerciser`) and the re-measurement after the run (`_confirm.Confirmer`):
    the story its requests are told in, the run's token, the journal of what it makes (None: it
    may make nothing), and whether the run is read-only."""

    story: Story
    token: Callable[[], str | None]
    journal: Journal | None
    read_only: bool = False

    @classmethod
    def of(cls, context: ScenarioContext, story: Story) -> Measuring:
        """The run's means on ``context``'s API, its requests told in ``story`` (a read-only
        run keeps no journal: it makes nothing)."""
        journal = None if context.read_only else Journal(context.journal)
        return cls(story, context.run_token, journal, read_only=context.read_only)


class Exerciser:
    """Sends operations of one API on resources and throwaway accounts of its own, with the
    run's token; journaled, and removed again (`remove`)."""

    def __init__(self, measuring: Measuring) -> None:
        story, token, journal = measuring.story, measuring.token, measuring.journal
        self.story, self.spec, self.token, self.journal = story, story.spec, token, journal
        self.read_only = measuring.read_only
        self.run = Actor("the run", None, token)
        self.maker = Maker(story, self.run, journal)
        self.changes = Changes(story, self.maker, self.run)
        self.flow = self.spec.declarations.auth_flow
        self.accounts = (
            Accounts(story, self.flow, token(), journal) if self.flow is not None else None
        )
        self.role = least_privileged_role(self.spec)
        #: what the removal of made resources could not do, one line each
        self.problems: list[str] = []
        #: operation id -> why it is sent no more: its window, shared with the run's own
        #: session, ran low
        self.low: dict[str, str] = {}

    # -- what an operation is -------------------------------------------------------------------

    def _sessions_step(self, operation: Operation) -> bool:
        flow = self.flow
        if flow is None:
            return False
        steps = (flow.login, flow.refresh, flow.logout)
        return operation.operation_id in {step.operation_id for step in steps if step is not None}

    def _accounts_step(self, operation: Operation) -> bool:
        step = self.flow.accounts if self.flow is not None else None
        return step is not None and operation.operation_id in (step.operation_id, step.delete)

    def _resource(self, operation: Operation) -> tuple[Resource, str] | None:
        """The resource ``operation`` creates, changes, deletes or acts on, and which it does
        ("create", "update", "delete", "action"; "collection": a write under its collection
        that names no item, ``POST /content/items/bulk``)."""
        under = None
        for resource in resources(self.spec):
            for role in ("create", "update", "delete"):
                own = getattr(resource, role)
                if own is not None and own.label == operation.label:
                    return resource, role
            if any(action.label == operation.label for action in resource.actions):
                return resource, "action"
            if operation.path.startswith(resource.collection_path + "/"):
                under = under or (resource, "collection")
        return under

    def _made_as_account(self, resource: Resource) -> bool:
        """Whether ``resource``'s kind is made by the accounts step (a throwaway account)."""
        step = self.flow.accounts if self.flow is not None else None
        create = resource.create
        return step is not None and create is not None and create.operation_id == step.operation_id

    def _accounts_resource(self) -> Resource | None:
        return next((r for r in resources(self.spec) if self._made_as_account(r)), None)

    def why_not(self, operation: Operation) -> str:
        """Why ``operation`` cannot be exercised here ("": it can)."""
        if operation.method.lower() in READS:
            return "a read is measured as it is, not on resources made for it"
        if self.read_only:
            return "a read-only run sends no writes"
        if self._sessions_step(operation) or self._accounts_step(operation):
            if self.flow is None or self.flow.accounts is None:
                said = "the spec declares no x-auth-flow accounts step to make them with"
            elif self.journal is None or not self.token():
                said = "the run has no token of its own to make them with"
            else:
                return ""
            return (
                f"{operation.operation_id} is sent only with throwaway accounts (never spending"
                f" the run's own session or login window), and {said}"
            )
        if any(single.update.label == operation.label for single in singletons(self.spec)):
            return (
                f"{operation.path} is a singleton: there is no {operation.path} of the suite's own"
                " to change, and the run writes the target's only to restore it"
            )
        found = self._resource(operation)
        if found is None:
            return (
                f"{operation.label} is no create, change, delete or action of a resource the"
                " suite can make and remove: what it writes would be left behind"
            )
        resource, role = found
        kind = resource.schema_name
        if kind is None:
            return f"the answers of {resource.item_path} name no schema: its kind is unknown"
        if resource.delete is None:
            what = (
                "making them would leave them"
                if role == "create"
                else f"making one to {_verb(role)} would leave it"
            )
            return f"the spec cannot delete a {kind}, so {what} behind"
        if role == "collection":
            return (
                f"{operation.label} writes to the collection of {kind}, not to one item: what"
                " it needs and what it changes are not declared"
            )
        if resource.create is None:
            return f"the spec cannot create a {kind} of the suite's own to {_verb(role)}"
        if role == "update" and item_schema(self.spec, resource) is None:
            return f"the spec names no schema for a {kind}"
        behind = self._left_behind(kind, set())
        if behind:
            return behind
        if self.journal is None:
            return "the run keeps no journal of what it makes"
        return ""

    def _left_behind(self, kind: str, seen: set[str]) -> str:
        """Why making a ``kind`` would leave something behind: a required reference to a kind
        that can be made but not deleted ("": nothing would be)."""
        resource = self.maker.resource(kind)
        if resource is None or resource.create is None or kind in seen:
            return ""
        seen.add(kind)
        schema = self.spec.request_schema(resource.create)
        required = self.spec.required(schema)
        for name, target in sorted(references(self.spec, schema).items()):
            other = self.maker.resource(target)
            if name not in required or other is None or other.create is None:
                continue
            if other.delete is None:
                return (
                    f"making a {kind} needs a {target} ({name}), which the spec cannot delete:"
                    " it would be left behind"
                )
            deeper = self._left_behind(target, seen)
            if deeper:
                return deeper
        return ""

    # -- sending ------------------------------------------------------------------------------

    def exercise(self, operation: Operation, more: Callable[[], bool]) -> str:
        """Send ``operation`` while ``more()`` (asked before each send); why it could not be
        sent at all, or not as often as wanted ("": it was, as long as ``more()`` asked)."""
        reason = self.why_not(operation)
        if reason:
            return reason
        try:
            if self._sessions_step(operation):
                return self._sessions(operation, more)
            if self._accounts_step(operation):
                return self._account_cycle(operation, more)
            found = self._resource(operation)
            assert found is not None
            resource, role = found
            if role == "create":
                return self._creates(resource, more)
            if role == "delete":
                return self._deletes(resource, more)
            if role == "update":
                return self._updates(operation, resource, more)
            return self._actions(operation, resource, more)
        except (ScenarioSkipped, StepSkipped) as error:
            return str(getattr(error, "reason", None) or error)
        except Violation as error:  # a broken rule the data scenarios report: not measured here
            return f"{error.message} ({error.rule})"
        except (httpx.HTTPError, ConformanceError) as error:
            return f"{type(error).__name__}: {error}"

    def _fresh(self, resource: Resource) -> Made:
        """A new item of ``resource``'s kind: a throwaway account for the accounts step's kind,
        else made by `Maker` (journaled either way)."""
        kind = str(resource.schema_name)
        if self._made_as_account(resource) and self.accounts is not None:
            principal = self.accounts.make(self.role)
            data: dict[str, Any] = {"id": principal.id}
            if resource.get is not None:
                snapshot = self.maker.read_at(resource.get, str(principal.path))
                data = snapshot.data or data
            return Made(kind, resource, str(principal.path), data)
        return self.maker.make(kind)

    def _delete(self, made: list[Made], delete: Operation | None = None) -> str:
        """Delete ``made`` (newest first), timed, with its resource's delete (or ``delete``);
        each one gone leaves the journal and the lists of what is made. Why one could not be
        deleted ("": every one was; those left are removed at the end, or reported)."""
        said = ""
        for item in reversed(made):
            operation = delete or item.resource.delete
            assert operation is not None
            response = self.story.send(operation, token=self.token(), path=item.path)
            if response.status_code < 300 or response.status_code == 404:
                self._forget(item)
            else:
                said = said or refused(operation, response, f"to the delete of {item.path}")
        made.clear()
        return said

    def _forget(self, item: Made) -> None:
        if self.accounts is not None:
            self.accounts.made = [p for p in self.accounts.made if p.path != item.path]
        self.maker.made = [m for m in self.maker.made if m.path != item.path]
        if self.journal is not None:
            self.journal.removed(item.path)

    def _creates(self, resource: Resource, more: Callable[[], bool]) -> str:
        made: list[Made] = []
        try:
            while more():
                made.append(self._fresh(resource))
        finally:
            said = self._delete(made)
        return said

    def _deletes(self, resource: Resource, more: Callable[[], bool]) -> str:
        while more():
            said = self._delete([self._fresh(resource)])
            if said:
                return said
        return ""

    def _updates(self, operation: Operation, resource: Resource, more: Callable[[], bool]) -> str:
        changes = self.changes
        made: Made | None = None
        current: dict[str, Any] = {}
        moved, refusals = 0, 0
        while more():
            if made is None:
                made, moved = self._fresh(resource), 0
                current = self._read(made)
            name, schema = changes.field(made)  # StepSkipped: no field a client may set
            try:
                value = new_value(schema, current.get(name), MARK)
            except StepSkipped:  # a state that cannot move on
                if moved == 0:
                    return f"a new {made.kind} is in {current.get(name)!r}, which cannot move on"
                made = None
                continue
            version = current.get("version")
            numbered = isinstance(version, int) and not isinstance(version, bool)
            response = changes.change(
                made,
                {name: value},
                if_match=version if numbered else None,
                version=version if numbered and changes.takes_version(resource) else None,
            )
            if not response.is_success:
                refusals += 1
                if refusals >= REFUSALS:
                    return refused(operation, response, f"to a change of a {made.kind} of its own")
                made = None
                continue
            refusals, moved = 0, moved + 1
            answered = payload(operation, response)
            if isinstance(answered, dict) and name in answered:
                current = answered
            else:  # an answer without the item: the next change goes from a read
                current = self._read(made)
        return ""

    def _read(self, made: Made) -> dict[str, Any]:
        """The item as its GET answers it now (what the create answered, without a GET)."""
        if made.resource.get is None:
            return dict(made.data)
        snapshot = self.maker.read_at(made.resource.get, made.path)
        return snapshot.data if snapshot.ok and snapshot.data else dict(made.data)

    def _actions(self, operation: Operation, resource: Resource, more: Callable[[], bool]) -> str:
        suffix = operation.path[len(resource.item_path) :]
        others = [
            p.name
            for p in operation.required_parameters
            if p.location == "path" and "{" + p.name + "}" not in resource.item_path
        ]
        if others or not operation.path.startswith(resource.item_path):
            return f"{operation.label} needs more than the id of a {resource.schema_name}"
        body = (
            self.maker.body(operation) if self.spec.request_schema(operation) is not None else None
        )
        made: Made | None = None
        refusals = 0
        while more():
            if made is None:
                made = self._fresh(resource)
            response = self.story.send(
                operation, token=self.token(), path=made.path + suffix, json_body=body
            )
            if not response.is_success:
                refusals += 1
                if refusals >= REFUSALS:
                    return refused(operation, response, f"on a new {made.kind} of its own")
                made = None  # its state moved on: a fresh one
                continue
            refusals = 0
            if not self._can_move_on(operation, made, response):
                made = None
        return ""

    def _can_move_on(self, operation: Operation, made: Made, response: httpx.Response) -> bool:
        """Whether the item an action answered is in a state with a legal move left (True when
        it has no state with ``x-transitions``, or the answer does not say)."""
        answered = payload(operation, response)
        if not isinstance(answered, dict):
            return True
        schema = item_schema(self.spec, made.resource)
        for name, sub in self.spec.properties(schema).items():
            moves = self.spec.deref(sub)
            moves = moves.get("x-transitions") if isinstance(moves, dict) else None
            if isinstance(moves, dict) and name in answered:
                return bool(moves.get(str(answered[name])))
        return True

    # -- throwaway accounts -------------------------------------------------------------------

    def _account_cycle(self, operation: Operation, more: Callable[[], bool]) -> str:
        resource = self._accounts_resource()
        accounts, step = self.accounts, self.flow.accounts if self.flow is not None else None
        assert accounts is not None
        assert step is not None
        delete = self.spec.operation(step.delete) if step.delete else None
        if resource is None or delete is None:
            return f"x-auth-flow accounts names {step.operation_id} and {step.delete or '-'}"
        made: list[Made] = []
        said = ""
        try:
            while more() and not said:
                principal = accounts.make(self.role)
                made.append(Made(str(resource.schema_name), resource, str(principal.path), {}))
                if operation.operation_id == step.delete:  # one made, one deleted
                    said = self._delete(made, delete)
        finally:
            said = self._delete(made, delete) or said
        return said

    def _sessions(self, operation: Operation, more: Callable[[], bool]) -> str:
        """Sessions of throwaway accounts: log in (each account within its login window),
        refresh once, log out; until ``more()`` says enough."""
        assert self.flow is not None
        assert self.accounts is not None
        sessions = Sessions(self.story, self.flow)
        refresh = sessions.refresh_op
        principal: Principal | None = None
        made, refusals = 0, 0
        low = self.low
        while more():
            if operation.operation_id in low:
                return low[operation.operation_id]
            if sessions.login_op.operation_id in low:  # no more sessions
                return low[sessions.login_op.operation_id]
            if principal is None:
                if made >= MAX_ACCOUNTS:
                    return f"{MAX_ACCOUNTS} throwaway accounts spent their login windows"
                principal, made = self.accounts.make(self.role), made + 1
            response = sessions.login(principal, retry_429=False)
            if response.status_code == 429:  # this account's window is spent: the next one
                principal = None
                continue
            if response.status_code != 200:
                refusals += 1
                if refusals >= REFUSALS:
                    return refused(sessions.login_op, response, "to a throwaway account")
                principal = None
                continue
            refusals = 0
            if remaining(response) == 0:
                principal = None  # its last login in this window: the next one is 429
            self._low(sessions.login_op, response, low)
            pair = sessions.pair(response)
            if pair is None:
                return f"{sessions.login_op.operation_id} answered no access token"
            access = pair.access
            if refresh is not None and pair.refresh and refresh.operation_id not in low:
                answer = sessions.refresh(pair.refresh)
                renewed = sessions.pair(answer, refreshed=True) if answer.is_success else None
                access = renewed.access if renewed is not None else access
                self._low(refresh, answer, low)
            if sessions.logout_op is not None:
                sessions.logout(access)
        return ""

    @staticmethod
    def _low(operation: Operation, response: httpx.Response, low: dict[str, str]) -> None:
        """Stop sending ``operation`` once its window, shared with the run's own session, has
        only `RESERVE` requests left."""
        left = remaining(response)
        if shared_window(operation) and left is not None and left <= RESERVE:
            low[str(operation.operation_id)] = (
                f"{operation.operation_id} counts per client address, as the run's own session"
                f" does: stopped with {left} requests left in its window, for the run"
            )

    # -- cleanup ------------------------------------------------------------------------------

    def remove(self) -> list[str]:
        """Delete everything still made (newest first); the problems, one line each."""
        problems = list(self.problems)
        self.problems.clear()
        problems += self.maker.remove()
        if self.accounts is not None:
            problems += self.accounts.remove()
        problems += [
            f"{n} {kind} left: the spec has no delete for it"
            for kind, n in sorted(self.maker.left.items())
        ]
        return problems


def _verb(role: str) -> str:
    return {
        "update": "change",
        "delete": "delete",
        "action": "act on",
        "collection": "change in bulk",
    }.get(role, role)


def wanted(count: Callable[[], int], need: int, seconds: float) -> Callable[[], bool]:
    """``more()`` for `Exerciser.exercise`: until ``count()`` reaches ``need``, for at most
    ``seconds`` from now."""
    began = time.monotonic()
    return lambda: count() < need and time.monotonic() - began < seconds
