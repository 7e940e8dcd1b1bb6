"""Mass assignment (OWASP API3, broken object property level authorization): a property the
request does not offer, sent anyway, must not stick.

For each kind the run can make (`_makers.Maker`, journaled and removed) and for account creation
(the ``x-auth-flow`` ``accounts`` step, else a register operation: a POST taking a username or
an email and a password), the candidates are the members the kind's read schema has and its
create (or update) schema does not offer, leaving out what no client could mean to set by
mistake (ids, timestamps, ``version``, links), plus the privileged names (`PRIVILEGED`) whether
or not a schema has them. One is made without them (the baseline: what each reads back as by
default), one with each set to a value that differs from that (the opposite boolean, the most
privileged role, a marker, another number), and the baseline is changed with them too; each is
read back with GET. A value that reads back as sent, unlike the baseline, is a finding naming
the property and the operation; a 4xx refusing the unknown members is what a strict schema
does, and passes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.checks import NO_WAIT
from conformance.contract import Operation, Resource, Spec, resources
from conformance.masking import register
from conformance.suite._journal import Created
from conformance.suite._preflight import open_access
from conformance.suite._unique import value_for
from conformance.suite.scenarios._accounts import Accounts, least_privileged_role
from conformance.suite.scenarios._changes import Cast, cast
from conformance.suite.scenarios._makers import Made, item_schema, payload
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    error_code,
    scenario_rule,
)
from conformance.verdict import StepRecord

MASS_ASSIGNMENT = scenario_rule("mass-assignment")

#: names an attacker sends whether or not any schema has them
PRIVILEGED = ("admin", "isAdmin", "is_admin", "role", "roles", "superuser", "permissions")
#: members no client means to set (the server's bookkeeping), left out of the candidates
BOOKKEEPING = {
    "id", "_id", "uuid", "version", "etag", "_etag", "links", "_links", "href", "self",
    "created", "updated", "modified", "timestamp", "createdby", "updatedby",
}  # fmt: skip
#: kinds probed at most, and the room each needs in the probe's requests and seconds
MAX_KINDS = 10
ROOM_REQUESTS = 10
ROOM_S = 6.0
#: words of a register operation's path or operationId
REGISTER_WORDS = ("register", "signup", "sign-up", "sign_up", "join")
USERNAME_NAMES = ("username", "user_name", "userName", "login", "email", "name")
PASSWORD_NAMES = ("password", "pass", "passwd")


@scenario(
    "mass_assignment",
    kind="probe",
    waits=1,  # a rate-limit window the run spent before it
    requires="a create (or an account step, or a register operation) whose kind a GET reads",
    max_requests=100,
    max_seconds=40,
    order=30,
    data=True,
)
def mass_assignment(context: ScenarioContext, story: Story) -> None:
    """Each kind the run can make, then the accounts: sent what the request does not offer."""
    with cast(context, story) as players:
        probe = MassAssignment(context, story, players)
        try:
            probe.run_all()
        finally:
            problems = probe.remove_registered()
            if problems:
                story.steps.append(StepRecord("cleanup", "remove the registered accounts",
                                              "failed", "; ".join(problems)))  # fmt: skip


def candidates(
    spec: Spec, read: Any, offered: Mapping[str, Any], privileged: bool = True
) -> dict[str, Any]:
    """name -> its schema (None: a privileged name no schema has): the members of ``read`` the
    request (``offered``) does not take, bookkeeping left out, with the privileged names that
    no schema of it has where ``privileged`` (an account: a note that stores whatever members
    it is sent grants nobody anything; the undeclared-fields warning tells of that)."""
    found: dict[str, Any] = {}
    for name, sub in spec.properties(read).items():
        if name in offered or _bookkeeping(name):
            continue
        resolved = spec.deref(sub)
        if isinstance(resolved, Mapping) and _assignable(spec, resolved):
            found[name] = resolved
    for name in PRIVILEGED if privileged else ():
        if name not in offered and name not in found:
            found[name] = None
    return found


#: words of a kind whose members may grant privileges (an account's role, admin flag)
ACCOUNT_WORDS = ("user", "account", "member", "profile", "customer", "principal", "person")


def account_like(kind: str) -> bool:
    """Whether a kind is an account of some sort, by its schema's name."""
    return any(word in kind.lower() for word in ACCOUNT_WORDS)


def _bookkeeping(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in BOOKKEEPING
        or name.endswith("At")
        or lowered.endswith("_at")
        or lowered.endswith("_on")
    )


def _assignable(spec: Spec, schema: Mapping[str, Any]) -> bool:
    """A value the probe can write: a scalar, or an array of scalars (never an object)."""
    kinds = _types(schema)
    if "object" in kinds or not kinds:
        return False
    if kinds == {"array"}:
        items = spec.deref(schema.get("items"))
        return isinstance(items, Mapping) and not ({"object", "array"} & _types(items))
    return schema.get("format") not in ("date-time", "date", "binary", "byte")


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return {str(k) for k in kind if k != "null"}
    if isinstance(kind, str):
        return {kind}
    if schema.get("enum"):
        return {type(schema["enum"][0]).__name__.replace("str", "string")}
    return set()


def most_privileged_role(spec: Spec) -> str:
    """The declared role the most operations allow (``admin`` where none is declared)."""
    roles = spec.declarations.roles or ()
    if not roles:
        return "admin"
    allowed = dict.fromkeys(roles, 0)
    for operation in spec.operations:
        for role in operation.roles or ():
            if role in allowed:
                allowed[role] += 1
    return max(roles, key=lambda role: (role == "admin", allowed[role], -roles.index(role)))


def differing(spec: Spec, name: str, schema: Any, baseline: Any) -> Any:
    """A value for ``name`` other than ``baseline`` that an attacker would want: the opposite
    boolean, the most privileged role, another number, a marker; ``...`` when none fits."""
    if schema is None:
        if name in ("role",):
            return most_privileged_role(spec)
        if name in ("roles", "permissions"):
            return [most_privileged_role(spec) if name == "roles" else "*"]
        return not baseline if isinstance(baseline, bool) else True
    enum = [value for value in schema.get("enum") or () if value is not None]
    kinds = _types(schema)
    if enum:
        privileged = most_privileged_role(spec)
        preferred = [privileged] if privileged in enum else []
        return next((v for v in [*preferred, *enum] if v != baseline), ...)
    if "boolean" in kinds:
        return not baseline if isinstance(baseline, bool) else True
    if kinds & {"integer", "number"}:
        base = baseline if isinstance(baseline, (int, float)) else 0
        high = schema.get("maximum")
        value = base + 1000 if high is None or base + 1000 <= high else high
        return value if value != baseline else schema.get("minimum", ...)
    if kinds == {"array"}:
        items = spec.deref(schema.get("items"))
        held = baseline if isinstance(baseline, list) else []
        options = list(items.get("enum") or ()) if isinstance(items, Mapping) else []
        if options:
            return next(([v] for v in options if v not in held), ...)
        return [differing(spec, name, items, None)]
    if schema.get("format") == "uuid" or "x-references" in schema:
        return str(uuid.uuid4())
    if schema.get("format") in ("email", "uri") or "pattern" in schema:
        value = value_for(spec, schema, name)
        return value if value != baseline else ...
    high = int(schema.get("maxLength", 64))
    return f"conformance-{uuid.uuid4().hex[:8]}"[: max(high, 1)]


def sticks(sent: Any, read: Any, baseline: Any) -> bool:
    """The value read back is the one sent, and not what the baseline read (a list: it holds
    every element sent, which the baseline did not)."""
    if isinstance(sent, list):
        held = read if isinstance(read, list) else []
        before = baseline if isinstance(baseline, list) else []
        return bool(sent) and all(v in held for v in sent) and not all(v in before for v in sent)
    return bool(read == sent and read != baseline and type(read) is type(sent))


@dataclass
class Attempt:
    """What one write sent beyond the request's schema, and against what baseline."""

    operation: Operation
    extras: dict[str, Any]
    baseline: dict[str, Any]
    #: the names a schema of the kind declares (the others are privileged names sent blind)
    known: set[str] = field(default_factory=set)

    def tries(self) -> Iterator[Attempt]:
        """This attempt, then (where it mixed them) the schema's own members alone: a backend
        that refuses a name it does not know may still take one its model has."""
        yield self
        narrower = {name: v for name, v in self.extras.items() if name in self.known}
        if narrower and len(narrower) < len(self.extras):
            yield Attempt(self.operation, narrower, self.baseline, self.known)


class MassAssignment:
    """The probe on one API."""

    def __init__(self, context: ScenarioContext, story: Story, players: Cast) -> None:
        self.context, self.story, self.players = context, story, players
        self.spec, self.maker = context.spec, players.maker
        #: the accounts a register made: (delete, path, their own token), removed at the end
        self.registered: list[tuple[Operation, str, str | None]] = []

    def run_all(self) -> None:
        story, spec = self.story, self.spec
        kinds = self.kinds()
        accounts = self.accounts_step()
        signup = None if accounts else register_operation(spec)
        if not kinds and not accounts and signup is None:
            raise ScenarioSkipped(
                "nothing the run can make and read back: no create with a GET of its kind, no"
                " x-auth-flow accounts step, no register operation"
            )
        for resource in kinds:
            if not self.room():
                story.steps.append(self.out_of_room(resource.schema_name or resource.item_path))
                continue
            with story.part(f"{resource.schema_name}: properties its create does not offer"):
                self.kind(resource)
        if accounts is not None:
            with story.part("accounts: properties the account step does not offer"):
                self.account(accounts)
        elif signup is not None:
            with story.part(f"{signup.operation_id or signup.label}: register"):
                self.register(signup)

    # -- what to probe -------------------------------------------------------------------------

    def kinds(self) -> list[Resource]:
        """The kinds the run can make and read back (at most `MAX_KINDS`), accounts left to the
        account part."""
        flow = self.spec.declarations.auth_flow
        account_op = flow.accounts.operation_id if flow and flow.accounts else None
        found = []
        for resource in resources(self.spec):
            create = resource.create
            if create is None or resource.schema_name is None or resource.get is None:
                continue
            if create.operation_id == account_op or resource.delete is None:
                continue  # an account (its own part); what cannot be removed is not made
            if self.spec.request_schema(create) is None:
                continue
            found.append(resource)
        return found[:MAX_KINDS]

    def accounts_step(self) -> Accounts | None:
        flow = self.spec.declarations.auth_flow
        if flow is None or flow.accounts is None:
            return None
        accounts = self.players.accounts
        return accounts if accounts is not None and accounts.can_make else None

    def room(self) -> bool:
        story = self.story
        return (
            story.max_requests - story.requests >= ROOM_REQUESTS and story.remaining_s() >= ROOM_S
        )

    def out_of_room(self, what: str) -> StepRecord:
        return StepRecord(
            self.story.part_title, f"{what}: not probed", "skipped",
            f"the probe's {self.story.max_requests} requests or {self.story.max_seconds:.0f} s"
            " would not do for another kind",
        )  # fmt: skip

    # -- kinds ---------------------------------------------------------------------------------

    def kind(self, resource: Resource) -> None:
        story, kind = self.story, str(resource.schema_name)
        create = resource.create
        assert create is not None
        assert resource.get is not None
        read_schema = item_schema(self.spec, resource)
        offered = self.spec.properties(self.spec.request_schema(create))
        extra = candidates(self.spec, read_schema, offered, account_like(kind))
        with story.step(f"make a {kind} as a client may (the baseline) and read it back"):
            made = self.maker.make(kind)
            baseline = self.maker.read(made)
            if not baseline.ok:
                raise StepSkipped(f"{resource.get.operation_id} answered {baseline.status}")
        for attempt in self.attempt(create, extra, baseline.data).tries():
            with contextlib.suppress(Violation, StepSkipped):
                self.created_with(resource, attempt)
        update = resource.update
        if update is not None and self.spec.request_schema(update) is not None:
            offered = self.spec.properties(self.spec.request_schema(update))
            extra = candidates(self.spec, read_schema, offered, account_like(kind))
            changed = self.attempt(update, extra, baseline.data)
            for attempt in changed.tries():
                with contextlib.suppress(Violation, StepSkipped):
                    self.updated_with(made, attempt)

    def attempt(
        self, operation: Operation, extra: Mapping[str, Any], baseline: Mapping[str, Any]
    ) -> Attempt:
        """The members to send with ``operation``, each differing from the baseline's value."""
        values: dict[str, Any] = {}
        for name, schema in extra.items():
            value = differing(self.spec, name, schema, baseline.get(name))
            if value is not ...:
                values[name] = value
        known = {name for name, schema in extra.items() if schema is not None}
        return Attempt(operation, values, dict(baseline), known)

    def created_with(self, resource: Resource, attempt: Attempt) -> None:
        story, kind, create = self.story, str(resource.schema_name), attempt.operation
        names = ", ".join(sorted(attempt.extras))
        with story.step(f"{create.operation_id} with members it does not offer ({names})"):
            body = self.maker.body(create, attempt.extras)
            response = story.send(create, token=self.maker.token, json_body=body)
            if self.refused(response):
                return
            made = self.maker.keep(kind, resource, payload(create, response), body)
            read = self.maker.read(made)
            if read.ok:
                self.judge(attempt, read.data, resource.get.operation_id if resource.get else None)
            else:
                self.judge(attempt, payload(create, response), "its create's own answer")

    def updated_with(self, made: Made, attempt: Attempt) -> None:
        story, update = self.story, attempt.operation
        names = ", ".join(sorted(attempt.extras))
        with story.step(f"{update.operation_id} of its own {made.kind} with {names}"):
            schema = self.spec.request_schema(update)
            offered = self.spec.properties(schema)
            required = self.spec.required(schema)
            kept = {
                name: value for name, value in made.body.items()
                if name in offered and (name in required or update.method == "put")
            }  # fmt: skip
            response = story.send(
                update, token=self.maker.token, path=made.path,
                json_body={**kept, **attempt.extras},
            )  # fmt: skip
            if self.refused(response):
                return
            read = self.maker.read(made)
            if not read.ok:
                raise StepSkipped(f"the read after the change answered {read.status}")
            get = made.resource.get
            self.judge(attempt, read.data, get.operation_id if get else "its read")

    def refused(self, response: httpx.Response) -> bool:
        """A 4xx: the unknown members refused, as a strict schema does (the step passes)."""
        if 400 <= response.status_code < 500:
            return True
        if not 200 <= response.status_code < 300:
            raise StepSkipped(
                f"answered {response.status_code} {error_code(response) or ''}".rstrip()
            )
        return False

    def judge(self, attempt: Attempt, read: Any, reader: str | None) -> None:
        data = read if isinstance(read, Mapping) else {}
        kept = [
            name for name, sent in sorted(attempt.extras.items())
            if sticks(sent, data.get(name), attempt.baseline.get(name))
        ]  # fmt: skip
        said = "; ".join(
            f"`{name}` = {_short(data.get(name))} (default {_short(attempt.baseline.get(name))})"
            for name in kept
        )
        self.story.check(
            not kept,
            MASS_ASSIGNMENT,
            f"{attempt.operation.operation_id or attempt.operation.label} kept members its"
            f" request does not offer, as {reader} read them back: {said}",
        )

    # -- accounts ------------------------------------------------------------------------------

    def account(self, accounts: Accounts) -> None:
        story, spec = self.story, self.spec
        flow = spec.declarations.auth_flow
        assert flow is not None
        assert flow.accounts is not None
        create = spec.operation(flow.accounts.operation_id)
        delete = spec.operation(flow.accounts.delete) if flow.accounts.delete else None
        get = spec.operation_at("get", delete.path) if delete is not None else None
        if create is None or get is None:
            raise StepSkipped("the account step's kind has no GET to read an account back")
        role = least_privileged_role(spec)
        with story.step(f"make a {role or 'plain'} account as the step does (the baseline)"):
            principal = accounts.make(role)
            baseline = self.maker.read_at(get, str(principal.path))
            if not baseline.ok:
                raise StepSkipped(f"{get.operation_id} answered {baseline.status}")
        read_schema = spec.success_schema(get)
        if get.wrapped:
            read_schema = spec.schema_at(read_schema, "/data")
        offered = spec.properties(spec.request_schema(create))
        first = self.attempt(create, candidates(spec, read_schema, offered), baseline.data)
        for attempt in first.tries():
            names = ", ".join(sorted(attempt.extras))
            with (
                contextlib.suppress(Violation, StepSkipped),
                story.step(f"{create.operation_id} with members it does not offer ({names})"),
            ):
                try:
                    made = accounts.make(role, extra=attempt.extras)
                except ScenarioSkipped as refused:  # a 4xx for the unknown members: as it should
                    if "answered 4" not in refused.reason:
                        raise StepSkipped(refused.reason) from None
                    continue
                read = self.maker.read_at(get, str(made.path))
                self.judge(attempt, read.data, get.operation_id)

    def register(self, operation: Operation) -> None:
        """A register operation on a plain spec: sent the privileged names, read back as the
        new account reads itself (a login with it, then its ``/me``) and as the account's GET
        reads it, removed again where the spec can (else only on a disposable target)."""
        story, spec = self.story, self.spec
        reader = account_reader(spec, operation)
        me = own_reader(spec, operation)
        remover = spec.operation_at("delete", reader.path) if reader is not None else None
        if remover is None and not self.context.disposable:
            raise StepSkipped(
                f"{operation.operation_id or operation.label}: the spec offers no delete for the"
                " account it would register (on a shared target nothing is left behind; a"
                " disposable target is probed)"
            )
        offered = spec.properties(spec.request_schema(operation))
        read = {}
        for schema in (spec.success_schema(operation), *(
            spec.success_schema(op) for op in (reader, me) if op is not None
        )):  # fmt: skip
            read.update(spec.properties(schema))
        extra = candidates(spec, {"properties": read}, offered)
        attempt = self.attempt(operation, extra, {})
        names = ", ".join(sorted(attempt.extras))
        with story.step(f"register an account with members it does not offer ({names})"):
            body, login = self.register_body(operation)
            token = self.maker.token if operation.needs_credentials else None
            response = story.send(operation, token=token, json_body={**body, **attempt.extras})
            if self.refused(response):
                return
            answered = payload(operation, response)
            seen = dict(answered) if isinstance(answered, Mapping) else {}
            sources = [f"{operation.operation_id or 'the register'}'s answer"]
            own = self.signed_in(*login)
            path = self.account_path(reader, answered, login[0]) if reader else None
            if path is not None and remover is not None:
                if self.maker.journal is not None:
                    self.maker.journal.created(Created("account", path, True))
                self.registered.append((remover, path, own))
            reads = [(reader, path, self.maker.token), (me, me.path if me else None, own)]
            for getter, at, who in reads:
                if getter is None or at is None or (getter is me and own is None):
                    continue
                got = self.maker.read_at(getter, at, who)
                if got.ok:
                    seen.update(got.data)
                    sources.append(getter.operation_id or getter.label)
            self.judge(attempt, seen, " and ".join(sources))

    def signed_in(self, username: str, password: str) -> str | None:
        """The new account's own token, through the run's login (None: it cannot log in)."""
        credentials = dataclasses.replace(
            self.context.credentials, token=None, username=username, password=password,
            principals={},
        )  # fmt: skip
        with contextlib.suppress(Exception):  # no login, or one this account cannot pass
            way = open_access(self.spec, self.context.url, credentials, self.context.network)
            if way is not None:
                return way.login.sign_in(NO_WAIT).access_token
        return None

    def remove_registered(self) -> list[str]:
        """Delete each registered account with the run's token, else its own; the problems."""
        problems = []
        self.story.allow(requests=2 * len(self.registered), seconds=20.0)
        for remover, path, own in self.registered:
            status = 0
            for token in (self.maker.token, own):
                if token is None:
                    continue
                with contextlib.suppress(Exception):
                    status = self.story.send(remover, token=token, path=path).status_code
                if status < 300 or status == 404:
                    if self.maker.journal is not None:
                        self.maker.journal.removed(path)
                    break
            else:
                problems.append(f"could not remove {path}: {status}")
        self.registered.clear()
        return problems

    def register_body(self, operation: Operation) -> tuple[dict[str, Any], tuple[str, str]]:
        """A register body, and the username and password the new account logs in with."""
        spec = self.spec
        schema = spec.request_schema(operation)
        props, required = spec.properties(schema), spec.required(schema)
        body = {name: value_for(spec, sub, name) for name, sub in props.items() if name in required}
        username = f"conformance{uuid.uuid4().hex[:10]}"
        password = "Cf-" + secrets.token_urlsafe(18)
        register(password)
        for name in props:
            lowered = name.lower()
            if lowered in PASSWORD_NAMES:
                body[name] = password
            elif "email" in lowered:
                body[name] = f"{username}@example.com"
            elif lowered in ("username", "user_name", "login", "name"):
                body[name] = username
        named = {name.lower() for name in props} & {"username", "user_name", "login"}
        return body, (username if named else f"{username}@example.com", password)

    def account_path(self, reader: Operation, answered: Any, username: str) -> str | None:
        parameter = reader.path_parameters[0].name
        data = answered if isinstance(answered, Mapping) else {}
        if parameter.lower().endswith("id") and data.get("id") is not None:
            value: Any = data["id"]
        elif "email" in parameter.lower():
            value = f"{username}@example.com"
        else:
            value = data.get(parameter) or username
        return reader.path.replace("{" + parameter + "}", str(value))


def register_operation(spec: Spec) -> Operation | None:
    """A POST that makes an account: its path or operationId says register (or sign up), and
    it takes a username or an email and a password (the login is left out)."""
    flow = spec.declarations.auth_flow
    login = flow.login.operation_id if flow is not None else None
    for operation in spec.operations:
        if operation.method != "post" or operation.operation_id == login:
            continue
        words = f"{operation.path} {operation.operation_id or ''}".lower()
        if not any(word in words for word in REGISTER_WORDS):
            continue
        names = {name.lower() for name in spec.properties(spec.request_schema(operation))}
        if names & set(PASSWORD_NAMES) and names & {n.lower() for n in USERNAME_NAMES}:
            return operation
    return None


def own_reader(spec: Spec, operation: Operation) -> Operation | None:
    """The GET an account reads itself with, beside a register operation (``/users/me``)."""
    parent = operation.path.rsplit("/", 1)[0]
    for candidate in spec.operations:
        head, _, last = candidate.path.rpartition("/")
        if candidate.method == "get" and not candidate.required_parameters and last in (
            "me", "self", "profile", "whoami", "account",
        ) and head in (parent, parent.rsplit("/", 1)[0], ""):  # fmt: skip
            return candidate
    return None


def account_reader(spec: Spec, operation: Operation) -> Operation | None:
    """The GET of one account beside a register operation: one path parameter, under the
    register's parent path (``/users/v1/register`` -> ``/users/v1/{username}``)."""
    parent = operation.path.rsplit("/", 1)[0]
    for candidate in spec.operations:
        if candidate.method != "get" or len(candidate.path_parameters) != 1:
            continue
        head, _, last = candidate.path.rpartition("/")
        if last.startswith("{") and head in (parent, parent.rsplit("/", 1)[0]):
            return candidate
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
