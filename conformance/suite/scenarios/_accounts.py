"""Throwaway principals for the scenarios, and their token pairs.

A scenario never spends the run's own session: it logs in as an account it creates through the
spec's ``x-auth-flow`` ``accounts`` step (an admin operation, called with the run's token),
with the least privileged role the spec declares, and deletes it again at the end. The accounts
are journaled like every resource the run creates, so a killed run's accounts are removed by
the next run. Without an ``accounts`` step (or in a read-only run), fresh logins of the run's
own credentials are the throwaway sessions: a token family of their own each.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import AuthFlow, Operation, PointerError, Spec, follow
from conformance.masking import SECRETS, register
from conformance.suite._auth import Credentials, _pair, _put, login_body, refresh_request
from conformance.suite._journal import Created, Journal
from conformance.suite._unique import value_for
from conformance.suite.scenarios._story import ScenarioSkipped, Story
from conformance.verdict import StepRecord


@dataclass
class Pair:
    """One token pair as an auth answer gave it."""

    access: str = field(repr=False)
    refresh: str | None = field(repr=False)
    #: seconds the access token lives (``expires_in``), when the answer says
    lifetime: float | None
    #: when the request that got it was sent (``time.monotonic()``): it was issued after that
    issued: float = field(default_factory=time.monotonic)

    def stale(self, margin: float = 0.8) -> bool:
        """Whether the access token is near its end by the answer's own lifetime."""
        return self.lifetime is not None and time.monotonic() - self.issued > self.lifetime * margin

    def live(self) -> bool:
        """Whether the access token is surely still live by its own lifetime, now: a second
        less than the lifetime from when its request was sent (an ``exp`` in whole seconds may
        end it up to a second early). True when the answer gave no lifetime (nothing to go by).
        A claim about a token, judged after its answer came, holds only while this is true: on
        a slow machine or target the lifetime may run out between the login and the claim."""
        return self.lifetime is None or time.monotonic() < self.issued + self.lifetime - 1.0


@dataclass
class Principal:
    username: str
    password: str = field(repr=False)
    role: str | None
    #: the item path that deletes it (None: the run's own account)
    path: str | None = None
    #: its id, as the accounts step answered it (None: the run's own account)
    id: str | None = None


def least_privileged_role(spec: Spec) -> str | None:
    """The declared role the fewest operations allow (``staff`` in our specs)."""
    roles = spec.declarations.roles or ()
    if not roles:
        return None
    allowed = dict.fromkeys(roles, 0)
    for operation in spec.operations:
        for role in operation.roles or ():
            if role in allowed:
                allowed[role] += 1
    return min(roles, key=lambda role: (allowed[role], roles.index(role)))


class Sessions:
    """Logins, refreshes and logouts through the spec's auth flow, sent by a `Story`."""

    def __init__(self, story: Story, flow: AuthFlow) -> None:
        self.story, self.flow, self.spec = story, flow, story.spec
        self.login_op = self._operation(flow.login.operation_id)
        self.refresh_op = self._operation(flow.refresh.operation_id) if flow.refresh else None
        self.logout_op = self._operation(flow.logout.operation_id) if flow.logout else None

    def _operation(self, operation_id: str) -> Operation:
        operation = self.spec.operation(operation_id)
        if operation is None:
            raise ScenarioSkipped(f"x-auth-flow names {operation_id}, which the spec lacks")
        return operation

    def login(self, principal: Principal, *, retry_429: bool = True) -> httpx.Response:
        body = login_body(self.flow.login, principal.username, principal.password)
        return self.story.send(self.login_op, json_body=body, retry_429=retry_429)

    def pair(self, response: httpx.Response, refreshed: bool = False) -> Pair | None:
        step = self.flow.refresh if refreshed and self.flow.refresh else self.flow.login
        access, refresh, lifetime = _pair(response, step)
        register(access, refresh)
        try:  # issued no earlier than the request was sent
            sent = time.monotonic() - response.elapsed.total_seconds()
        except RuntimeError:  # an answer never read off the wire (made in a test)
            sent = time.monotonic()
        return Pair(access, refresh, lifetime, sent) if access else None

    def refresh(self, refresh_token: str | None) -> httpx.Response:
        assert self.refresh_op is not None
        assert self.flow.refresh is not None
        # where an access token goes (token_in: bearer), as the run's scheme presents one
        sent = refresh_request(self.flow.refresh, refresh_token or "", self.story.presenter)
        path = self.refresh_op.path
        if sent.get("params"):  # an apiKey in the query
            path = str(httpx.URL(path, params=sent["params"]))
        return self.story.send(
            self.refresh_op, path=path, headers=sent.get("headers"), json_body=sent.get("json")
        )

    def logout(self, access: str) -> httpx.Response:
        assert self.logout_op is not None
        return self.story.send(self.logout_op, token=access)


class Accounts:
    """The throwaway accounts of one scenario: made with the run's token, journaled, removed."""

    def __init__(
        self, story: Story, flow: AuthFlow, run_token: str | None, journal: Journal | None
    ) -> None:
        self.story, self.flow, self.spec = story, flow, story.spec
        self.run_token, self.journal = run_token, journal
        self.made: list[Principal] = []

    @property
    def can_make(self) -> bool:
        return self.cannot_make is None

    @property
    def cannot_make(self) -> ScenarioSkipped | None:
        """Why no throwaway account can be made (None: one can)."""
        if self.flow.accounts is None:
            return ScenarioSkipped(
                "the spec declares no x-auth-flow accounts step (two throwaway principals are"
                " needed)",
                missing_declaration=True,
            )
        if self.journal is None or not self.run_token:
            return ScenarioSkipped(
                "the run has no token of its own to make throwaway accounts with (two throwaway"
                " principals are needed)"
            )
        return None

    def make(self, role: str | None, extra: dict[str, Any] | None = None) -> Principal:
        """A new account of ``role``; ``extra``: members sent beside the step's own (the mass
        assignment probe's)."""
        step = self.flow.accounts
        assert step is not None
        create = self.spec.operation(step.operation_id)
        delete = self.spec.operation(step.delete) if step.delete else None
        if create is None or delete is None:
            raise ScenarioSkipped(
                f"x-auth-flow accounts names {step.operation_id} and {step.delete or '-'};"
                " the spec lacks one"
            )
        schema = self.spec.request_schema(create)
        body: dict[str, Any] = {
            key: value_for(self.spec, sub, key)
            for key, sub in self.spec.properties(schema).items()
            if key in self.spec.required(schema)
        }
        username = f"conformance-{uuid.uuid4().hex[:12]}@example.com"
        password = "Cf-" + secrets.token_urlsafe(18)
        register(password)
        _put(body, step.username, username)
        _put(body, step.password, password)
        if step.role and role:
            _put(body, step.role, role)
        body.update(extra or {})
        response = self.story.send(create, token=self.run_token, json_body=body)
        if not 200 <= response.status_code < 300:
            raise ScenarioSkipped(
                f"could not make a throwaway account: {create.operation_id} answered"
                f" {response.status_code}"
            )
        try:
            identifier = follow(response.json(), step.id)
        except (ValueError, PointerError):
            raise ScenarioSkipped(
                f"{create.operation_id} answered no id at {step.id}; cannot remove the account"
            ) from None
        parameter = delete.path_parameters[0].name if delete.path_parameters else "id"
        path = delete.path.replace("{" + parameter + "}", str(identifier))
        assert self.journal is not None
        kind = str(self.spec.deref(schema).get("title", "") or "account")
        self.journal.created(Created(kind, path, True))
        principal = Principal(username, password, role, path, str(identifier))
        self.made.append(principal)
        return principal

    def remove(self) -> list[str]:
        """Delete every account made; the problems, one line each."""
        step = self.flow.accounts
        delete = self.spec.operation(step.delete) if step and step.delete else None
        targets = [(delete, p.path) for p in self.made if delete is not None and p.path]
        self.made.clear()
        return delete_all(self.story, self.journal, self.run_token, targets)


@contextlib.contextmanager
def throwaway_accounts(
    story: Story, flow: AuthFlow, run_token: str | None, journal: Journal
) -> Iterator[Accounts]:
    """The accounts one scenario makes, removed when it ends however it ends; a removal that
    fails is the scenario's failed cleanup step."""
    accounts = Accounts(story, flow, run_token, journal)
    try:
        yield accounts
    finally:
        problems = accounts.remove()
        if problems:
            story.steps.append(StepRecord("cleanup", "remove the throwaway accounts", "failed",
                                          "; ".join(problems)))  # fmt: skip


def delete_all(
    story: Story, journal: Journal | None, token: str | None, targets: list[tuple[Operation, str]]
) -> list[str]:
    """Delete each ``(operation, path)`` in turn (404 counts as gone), with room of its own in
    the story's bounds; the journal is closed once nothing in it is left. The problems, one line
    each."""
    problems = []
    story.allow(requests=len(targets), seconds=30.0)
    for delete, path in targets:
        try:
            response = story.send(delete, token=token, path=path)
        except Exception as error:  # the scenario's bounds, the network: report, go on
            problems.append(f"could not remove {path}: {error}")
            continue
        if response.status_code < 300 or response.status_code == 404:
            if journal is not None:
                journal.removed(path)
        else:
            problems.append(f"could not remove {path}: {response.status_code}")
    if journal is not None and not journal.pending():
        journal.close()
    return problems


def own_principal(credentials: Credentials) -> Principal | None:
    """The run's own account, for fresh logins (a family of their own each)."""
    if not credentials.can_log_in:
        return None
    assert credentials.username is not None
    assert credentials.password is not None
    SECRETS.add_basic(credentials.username, credentials.password)
    return Principal(credentials.username, credentials.password, None)
