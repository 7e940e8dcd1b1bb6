"""Broken object level authorization (OWASP API1), on any spec, with two accounts.

A is the run's own session; B is another account (`_accounts.second_account`: a named principal,
else a throwaway one). For each kind with a create and a single-resource operation (owned kinds
first, at most `MAX_KINDS`), A makes one (`Maker`: journaled, removed at the end) and:

- **bola-write**: B sends every write that addresses that one resource (PUT, PATCH, DELETE on
  its item path, by id or by the key the path names: a username, a slug), with a valid body (the
  resource's own values, one field changed, its ``version`` kept); each must be refused, and A
  reads it back unchanged and still there. A 400, 409 or 422 that changed nothing is not judged
  (the body, not the owner, may have been refused). Then B's own creates whose body names A's
  resource (``x-references``, or a member ``<kind>Id``), where A's resource is hidden from B:
  a 2xx attaches B's write to a resource B may not even read.
- **bola-read**: B's GET of A's resource is a finding only where the resource is declared owned
  (``x-owner``, in the spec or an overlay) by someone other than B, or where A's list holds it,
  B's own list leaves it out and B's GET still returns it (private by the API's own list,
  readable by id). Public content (listed to B too) readable by B is by design.

schemathesis's ``object_level_authorization`` check replays a peer's *read* of another peer's
object during its stateful phase, with identities configured in its own auth settings; it never
replays writes (they would change the owner's data). This probe writes as B on a resource A made
for the purpose, which is the flaw's usual form, and takes st's read rule (a body B's own list
shows is shared by design) for its reads.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import httpx

from conformance.contract import Operation, Resource, Spec, paging, sorting
from conformance.suite._journal import item_path_of
from conformance.suite._unique import value_for
from conformance.suite.probes._accounts import second_account
from conformance.suite.scenarios._changes import cast
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
    references,
)
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
BOLA_WRITE = scenario_rule("bola-write")
BOLA_READ = scenario_rule("bola-read")

MAX_KINDS = 12
MAX_REQUESTS = 150
#: requests and seconds a kind needs at least: one is not started with less left
KIND_REQUESTS = 8
KIND_SECONDS = 5.0
#: statuses that refuse a request for who sends it
REFUSED = (401, 403, 404)
#: statuses that refuse a request for what it holds: the owner check may never have run
UNJUDGED = (400, 409, 422)
#: the largest page a list is read with
PAGE = 100
#: a list's free-text search parameter
SEARCH = ("search", "q", "query")
#: the members that sort a list by when an item was made
NEWEST = ("createdAt", "created_at", "created")


@scenario(
    "bola",
    kind="probe",
    requires="two accounts: a named principal, or `x-auth-flow` with `accounts`",
    max_requests=MAX_REQUESTS,
    max_seconds=60,
    order=10,
    data=True,
)
def bola(context: ScenarioContext, story: Story) -> None:
    """A makes one of each kind; B may neither change, delete nor (where private) read it."""
    with cast(context, story) as players:
        kinds = candidates(context.spec, players.maker)
        if not kinds:
            raise ScenarioSkipped(
                "no kind has a create, a get and a delete (what the probe makes, it removes)"
            )
        second = second_account(context, players)
        Bola(story, players.maker, second, Maker(story, second, players.maker.journal)).run_all(
            kinds
        )


def candidates(spec: Spec, maker: Maker) -> list[Resource]:
    """The kinds to probe: a create on a collection without templates, a get and a delete on
    the item (what the probe makes it removes again); owned kinds first (their privacy is
    declared), then by name; at most `MAX_KINDS`."""
    found = [
        resource
        for resource in maker.by_kind.values()
        if resource.create is not None
        and resource.get is not None
        and resource.delete is not None
        and "{" not in resource.collection_path
        and resource.schema_name is not None
    ]
    found.sort(key=lambda r: (spec.ownership(r.schema_name or "") is None, r.schema_name))
    return found[:MAX_KINDS]


def item_writes(spec: Spec, resource: Resource) -> list[Operation]:
    """Every write on the resource's item path: updates first, the delete last."""
    order = {"put": 0, "patch": 1, "delete": 2}
    found = [op for op in spec.operations if op.path == resource.item_path and op.method in order]
    return sorted(found, key=lambda op: order[op.method])


def names_kind(spec: Spec, schema: Any, kind: str) -> list[str]:
    """Top-level members of ``schema`` that hold a ``kind``'s id: ``x-references: kind``, or a
    name such as ``noteId`` / ``note_id`` for ``Note``."""
    found = [name for name, target in references(spec, schema).items() if target == kind]
    wanted = re.sub(r"[^a-z0-9]", "", kind.lower()) + "id"
    for name, sub in spec.properties(schema).items():
        resolved = spec.deref(sub)
        plain = isinstance(resolved, dict) and resolved.get("type") in ("string", "integer")
        if plain and re.sub(r"[^a-z0-9]", "", name.lower()) == wanted and name not in found:
            found.append(name)
    return found


def listed_items(body: Any, depth: int = 3) -> list[dict[str, Any]]:
    """The objects of a list answer: a bare array, or the first array of objects among its
    members (``data``, ``items``, ``results`` …), looked for ``depth`` levels down."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict) or depth == 0:
        return []
    for value in body.values():
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            return [item for item in value if isinstance(item, dict)]
    for value in body.values():
        inner = listed_items(value, depth - 1) if isinstance(value, dict) else []
        if inner:
            return inner
    return []


class Bola:
    """The probe's story: what A made, what B tried on it."""

    def __init__(self, story: Story, maker: Maker, second: Actor, theirs: Maker) -> None:
        self.story, self.maker, self.second, self.theirs = story, maker, second, theirs
        self.spec = story.spec
        #: A's resources B cannot read: what a write of B's must not name
        self.hidden: list[Made] = []

    def run_all(self, kinds: list[Resource]) -> None:
        try:
            for resource in kinds:
                if not self.room():
                    self.skipped(
                        f"{resource.schema_name} and the kinds after it",
                        "the probe's requests or seconds are spent",
                    )
                    break
                with self.story.part(f"{resource.schema_name}: A's, as B"):
                    self.kind(resource)
            with self.story.part("B's writes that name A's resources"):
                self.naming()
        finally:
            problems = self.theirs.remove()
            if problems:
                self.skipped("remove what B made", "; ".join(problems))

    def skipped(self, title: str, why: str) -> None:
        """A step not taken, and why (outside any ``story.step``)."""
        self.story.steps.append(StepRecord(self.story.part_title, title, "skipped", why))

    def room(self) -> bool:
        story = self.story
        left = story.max_requests - story.requests
        return left >= KIND_REQUESTS and story.remaining_s() >= KIND_SECONDS

    # -- one kind ------------------------------------------------------------------------------

    def kind(self, resource: Resource) -> None:
        story, kind = self.story, str(resource.schema_name)
        with story.step(f"A makes a {kind} and reads it"):
            made = self.maker.make(kind)
            before = self.maker.read(made)
            if not before.ok:
                raise StepSkipped(f"A cannot read the {kind} it made: {before.status}")
        with contextlib.suppress(Violation, StepSkipped):
            self.read(made, before)
        writes = item_writes(self.spec, resource)
        allowed = [op for op in writes if self.second.may(op)]
        if len(allowed) < len(writes):
            left = ", ".join(op.operation_id or op.label for op in writes if op not in allowed)
            self.skipped(
                f"{kind}: B's {left}",
                f"{self.second.name}'s role may not call it (x-roles): the authorisation"
                " scenario's role-403 judges that",
            )
        for operation in allowed:
            with contextlib.suppress(Violation, StepSkipped):
                before = self.write(made, before, operation)
            if made not in self.maker.made:  # deleted: nothing left to aim at
                break

    def read(self, made: Made, before: Snapshot) -> None:
        story, second, kind = self.story, self.second, made.kind
        get = made.resource.get
        assert get is not None
        ownership = self.spec.ownership(kind)
        owner = ownership.owner(before.data) if ownership is not None else None
        with story.step(f"{kind}: B's GET of A's {kind} {made.id}"):
            if not second.may(get):
                raise StepSkipped(f"{second.name}'s role may not call {get.operation_id}")
            response = story.send(get, token=second.token, path=made.path)
            readable = 200 <= response.status_code < 300
            if not readable:
                self.hidden.append(made)
            if ownership is not None and owner is not None and owner != second.id:
                assert ownership is not None
                story.check(
                    not readable,
                    BOLA_READ,
                    f"{second.name} read A's {kind} {made.id} ({response.status_code}), private"
                    f" to {owner} by its x-owner ({ownership.property})",
                )
                return
            if not readable:
                return
            mine = self.listed(made, self.maker.run)
            theirs = self.listed(made, second) if mine else None
            if theirs is None:
                raise StepSkipped(
                    f"{second.name} reads it ({response.status_code}); whether it is private"
                    " cannot be told (no list both can read holds it): declare x-owner"
                )
            listing = made.resource.list.label if made.resource.list else "its list"
            story.check(
                theirs,
                BOLA_READ,
                f"{second.name}'s own list ({listing})"
                f" leaves A's {kind} {made.id} out, yet B's GET returns it"
                f" ({response.status_code}): private by the API's own list, readable by id",
            )

    def listed(self, made: Made, actor: Actor) -> bool | None:
        """Whether ``actor``'s list of the kind holds ``made`` (None: cannot tell: no list
        ``actor`` may read, or a full page without it)."""
        listing = made.resource.list
        allowed = actor is self.maker.run or actor.may(listing)  # the run: whatever its role
        if listing is None or not allowed or "{" in listing.path:
            return None
        found = paging(listing)
        size = found.fitted(PAGE) if found is not None else PAGE
        query = found.query(1, size) if found is not None and found.style != "cursor" else {}
        query.update(self.newest_first(made))
        path = listing.path + ("?" + str(httpx.QueryParams(query)) if query else "")
        response = self.story.send(listing, token=actor.token, path=path)
        if response.status_code != 200:
            return None
        try:
            items = listed_items(response.json())
        except ValueError:
            return None
        if any(item_path_of(made.resource, item) == made.path for item in items):
            return True
        complete = found is None or found.size is None or len(items) < size
        return False if complete else None

    def newest_first(self, made: Made) -> dict[str, Any]:
        """The query that puts ``made`` on a list's first page: its own free text searched
        for (``search``, ``q``), the newest first where the list sorts by when it was made."""
        listing = made.resource.list
        assert listing is not None
        query: dict[str, Any] = {}
        texts = [value for name, value in made.body.items() if name != "id"]
        text = next((v for v in texts if isinstance(v, str) and len(v) >= 3), None)
        searched = next((name for name in SEARCH if listing.parameter(name, "query")), None)
        if text and searched:
            query[searched] = text
        order = sorting(self.spec, listing, made.data)
        newest = next((m for m in NEWEST if order is not None and m in order.members), None)
        if order is not None and newest is not None:
            query[order.by.name], query[order.order.name] = newest, "desc"
        return query

    def write(self, made: Made, before: Snapshot, operation: Operation) -> Snapshot:
        """B's ``operation`` on A's resource: refused, and the resource as it was. The snapshot
        to compare the next write with."""
        story, second, kind = self.story, self.second, made.kind
        title = f"{kind}: B's {operation.label} ({operation.operation_id}) of A's {kind} is refused"
        with story.step(title + ", and it stays as it was"):
            body = self.body(operation, made, before) if operation.method != "delete" else None
            response = story.send(operation, token=second.token, path=made.path, json_body=body)
            status = response.status_code
            accepted = 200 <= status < 300
            if accepted and operation.method == "delete":
                self.maker.forget(made)
            after = self.maker.read(made)
            changed = differences(before.data, after.data) if after.ok else []
            what = "it is gone" if not after.ok else ("changed " + "; ".join(changed))
            said = f"{second.name}'s {operation.label} of A's {kind} {made.id} answered {status}"
            if not after.ok and made in self.maker.made:
                self.maker.forget(made)  # gone, whoever removed it
            harmed = changed or not after.ok
            refused = "/".join(map(str, REFUSED))
            story.check(not accepted, BOLA_WRITE, f"{said}: {what}" if harmed
                        else f"{said}, not {refused}")  # fmt: skip
            story.check(not harmed, BOLA_WRITE, f"{said}, yet {what}")
            if status in UNJUDGED:
                raise StepSkipped(
                    f"{said}: the body, not the owner, may have been refused; not judged"
                )
            return after

    def body(self, operation: Operation, made: Made, before: Snapshot) -> dict[str, Any] | None:
        """A valid body for a write of B's: for a PUT the resource's own values, for a PATCH one
        field; one field changed in either, the ``version`` kept (so that only the owner check
        can refuse it)."""
        spec = self.spec
        schema = spec.request_schema(operation)
        if schema is None:
            return None
        offered = spec.properties(schema)
        body: dict[str, Any] = {}
        if operation.method == "put":
            body = {name: value for name, value in before.data.items() if name in offered}
        for name in spec.required(schema):
            if name not in body:
                body[name] = before.data.get(name, value_for(spec, offered.get(name), name))
        found = plain_fields(spec, schema, item_schema(spec, made.resource))
        if not found:
            raise StepSkipped(f"{operation.operation_id} has no field B could change freely")
        name, sub = found[0]
        body[name] = new_value(sub, before.data.get(name), "Intruder")
        if "version" in offered and "version" in before.data:
            body["version"] = before.data["version"]
        return body

    # -- references ----------------------------------------------------------------------------

    def naming(self) -> None:
        """B's own creates whose body names a resource of A's that B cannot read."""
        tried = 0
        for made in list(self.hidden):
            for resource in self.maker.by_kind.values():
                create = resource.create
                if create is None or "{" in create.path or not self.second.may(create):
                    continue
                for member in names_kind(self.spec, self.spec.request_schema(create), made.kind):
                    if made not in self.maker.made or not self.room():
                        continue
                    tried += 1
                    with contextlib.suppress(Violation, StepSkipped):
                        self.name_in(create, resource, member, made)
        if not tried:
            raise StepSkipped(
                "no create B may call names a resource of A's that B cannot read"
                " (x-references, or a member <kind>Id)"
            )

    def name_in(self, create: Operation, resource: Resource, member: str, made: Made) -> None:
        story, second = self.story, self.second
        title = f"B's {create.operation_id} naming A's {made.kind} {made.id} in {member} is refused"
        with story.step(title):
            before = self.maker.read(made)
            body = self.theirs.body(create, {member: made.data.get("id", made.id)},
                                    placeholders=True)  # fmt: skip
            response = story.send(create, token=second.token, json_body=body)
            if 200 <= response.status_code < 300 and resource.schema_name:
                with contextlib.suppress(StepSkipped, Violation):
                    self.theirs.keep(resource.schema_name, resource, payload(create, response),
                                     body)  # fmt: skip
            after = self.maker.read(made)
            changed = differences(before.data, after.data) if after.ok else ["it is gone"]
            story.check(
                not 200 <= response.status_code < 300 and not changed,
                BOLA_WRITE,
                f"{second.name}'s {create.operation_id} naming A's {made.kind} {made.id}, which B"
                f" cannot read, in {member} answered {response.status_code}"
                + (f"; A's {made.kind}: " + "; ".join(changed) if changed else ""),
            )
