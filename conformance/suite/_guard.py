"""The guard: on a shared environment a run changes and deletes only what it created.

Before a write addressed to one item (``PUT``/``PATCH``/``DELETE`` on an item path, ``POST`` on
an action or a collection under it: ``POST /articles/{slug}/comments`` writes to the article),
the item is judged by its concrete path:

- the run's own (it created it): sent as drawn;
- one that cannot exist (an id outside its parameter's declared range, length or pattern):
  sent as drawn, so that a 500 on an overflowed id is still reached;
- one whose ``GET`` answered 404: it may still be another user's private item, which a backend
  without object-level checks lets a write change; sent to an id surely absent (a documented
  404 all the same), unless only odd input names it (characters no key has, an integer past
  int32): then as drawn, so that its 500 is still reached;
- an existing item the run did not create: pointed at one of the run's own items of that kind
  (all of its path parameters: a nested item's parent too), made first when the run has none
  (`Producer`: a parent before its children, the body of a create the API accepted before, or
  the create schema's required members); only when none can be made, at an id that does not
  exist, so that the request is still sent and judged (a documented 404).

In a disposable environment (``--environment disposable``) every write goes where it was drawn,
but one at an account the run logs in with (its username in the path: ``DELETE /users/root``),
which is guarded as above: a run that deleted its own account could not log in again.
After a create, the resource it answered with (its ``Location``, else its key in the body) goes
into the journal (`_journal`), whose cleanup removes it; a stateful create or change is made
one that can succeed (the stateful reach).
"""

from __future__ import annotations

import collections
import contextlib
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from schemathesis.core.parameters import ParameterLocation

from conformance.checks import BeforeCall, agree_on_version
from conformance.contract import (
    Operation,
    Resource,
    Spec,
    is_template,
    item_schema_name,
    resources,
)
from conformance.masking import secret_member
from conformance.suite._client import RunClient
from conformance.suite._engine import stateful
from conformance.suite._journal import (
    Created,
    Journal,
    filled,
    item_path_of,
    key_of,
    matches,
    names_key,
    template_name,
    template_names,
)
from conformance.suite._unique import (
    fresh_keys,
    keyable_text,
    refreshed,
    value_for,
    without_made_up_references,
)
from conformance.verdict import Failure

#: writes that address one existing item
UNSAFE = frozenset({"PUT", "PATCH", "DELETE", "POST"})
#: answers to an item's GET that say it is not there
ABSENT = frozenset({400, 404, 410, 422})

#: a write aimed elsewhere goes to one of the run's newest items of its kind (the older ones are
#: likelier to have been deleted by then)
OWN_CHOICES = 5
#: creates the guard may send itself, per API (a parent for nested creates, an item for writes
#: aimed at others' items), and tries per kind before it stops trying that kind
MADE_AT_MOST, TRIES_PER_KIND = 200, 3

_UUID = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")
#: the largest integer of each declared format (an id beyond it cannot exist)
INTEGER_LIMITS = {"int32": 2**31 - 1, "int64": 2**63 - 1}


def _repoint(case: Any, values: Mapping[str, Any]) -> None:
    """Send ``case`` to another item: its path parameters ``values`` replace the drawn ones and
    no longer come from a link. schemathesis reads a parameter as linked when it differs from the
    value generated for it, and its link checks judge the answer as the linked resource's: a
    change the guard sent to another of the run's items, deleted meanwhile by another of the
    engine's threads, was a "created resource not found" (``ensure_resource_availability``) of
    the resource the link named (issue 22: a plain Notes API, seed 1)."""
    case.path_parameters = {**case.path_parameters, **values}
    stored = (getattr(case, "_components", None) or {}).get(ParameterLocation.PATH)
    if stored is not None and stored.is_generated and isinstance(stored.value, dict):
        stored.value = {**stored.value, **values}


def _invalid_elsewhere(meta: Any) -> bool:
    """Whether a case is invalid (negative) while its path parameters are valid."""
    if str(meta.generation.mode) != "negative":
        return False
    path = (getattr(meta, "components", None) or {}).get(ParameterLocation.PATH)
    return path is None or str(path.mode) == "positive"


def _absent_value(schema: Any) -> Any:
    """A value for an id parameter that names nothing, valid for its schema."""
    schema = schema if isinstance(schema, dict) else {}
    if schema.get("type") == "integer":
        highest = schema.get("maximum", INTEGER_LIMITS.get(str(schema.get("format")), 2**31 - 1))
        return int(highest) - random.randrange(1_000)
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    text = "absent" + uuid.uuid4().hex
    longest = schema.get("maxLength")
    return text[: max(int(longest), 1)] if isinstance(longest, int) else text


#: what a key of a real item is made of (an id, a slug, a username, an email)
_KEY = re.compile(r"[A-Za-z0-9._~@+-]+")


def _plausible(value: Any) -> bool:
    """Whether a real item could have ``value`` as its key: a whole number within int32, or
    text of the characters keys are made of."""
    text = str(value)
    if re.fullmatch(r"-?\d+", text):
        return 0 <= int(text) <= 2**31 - 1
    return bool(_KEY.fullmatch(text))


def impossible(value: Any, schema: Any) -> bool:
    """Whether ``value`` cannot be any item's id under the parameter's ``schema``: an integer
    outside its declared range (or its format's), text outside its length or pattern. Such a
    write is sent as drawn without asking whether the item exists."""
    schema = schema if isinstance(schema, dict) else {}
    text = str(value)
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?\d+", text):
            return True
        number = int(text)
        highest = schema.get("maximum", INTEGER_LIMITS.get(str(schema.get("format"))))
        lowest = schema.get("minimum", -INTEGER_LIMITS["int64"] - 1)
        return (isinstance(highest, int) and number > highest) or number < lowest
    if schema.get("type") == "string":
        if schema.get("format") == "uuid" and not _UUID.fullmatch(text):
            return True
        if len(text) < int(schema.get("minLength", 0)):
            return True
        if isinstance(schema.get("maxLength"), int) and len(text) > schema["maxLength"]:
            return True
        pattern = schema.get("pattern")
        with contextlib.suppress(re.error):
            if isinstance(pattern, str) and not re.search(pattern, text):
                return True
    return False


class RunEnding(Exception):
    """A write the engine tried after the run's cleanup began (its threads outlive Ctrl-C)."""


class Guard:
    """One API's guard: the run's writes go only to what it created (thread-safe)."""

    def __init__(
        self,
        spec: Spec,
        journal: Journal,
        client: RunClient,
        *,
        disposable: bool = False,
        accounts: Iterable[str | None] = (),
    ) -> None:
        self.spec, self.journal, self.client = spec, journal, client
        #: the target's data may be changed freely: writes go where they were drawn, except at
        #: the accounts the run logs in with (their usernames): a run that deleted its own
        #: account, or changed its password, could not log in again
        self.disposable = disposable
        self.accounts = frozenset(name for name in accounts if name)
        self._lock = threading.Lock()
        self.resources = {r.item_path: r for r in resources(spec)}
        self._by_schema = {r.schema_name: r for r in self.resources.values() if r.schema_name}
        #: a create's path -> its resource (the collection's, or a register operation's)
        self._by_collection = {r.collection_path: r for r in self.resources.values()}
        self._by_collection.update(
            {r.register.path: r for r in self.resources.values() if r.register is not None}
        )
        self._base_path = urllib.parse.urlsplit(client.url).path
        #: concrete item paths the run created; ones found to exist before it; ones absent
        self._mine: set[str] = {item.path for item in journal.pending()}
        self._theirs: set[str] = set()
        self._absent: set[str] = set()
        #: the run's own items it deleted: a write at one is sent as drawn (its 404 is expected,
        #: and schemathesis judges it by the delete it saw)
        self._gone: set[str] = set()
        #: the paths of the run's own items that a change of the run's moved elsewhere
        self._moved_from: set[str] = set()
        #: … the paths it moved them to, while no delete of the run's has removed them since
        self._moved_to: set[str] = set()
        #: item template -> the path parameters of the run's own items there, oldest first
        self._own: dict[str, list[dict[str, str]]] = {}
        #: collection path -> the last body (and path parameters) a create there was answered
        #: 2xx for: what the producer sends again, with fresh text
        self._accepted: dict[str, tuple[dict[str, str], Any]] = {}
        #: the names of the creates' free-text members (a title, a name), the values other
        #: items hold in them (read in 2xx GET answers), and the run's own values
        self._text_names = create_text_names(spec)
        self._held: dict[str, list[str]] = {}
        self._sent: set[str] = set()
        self._tries: dict[str, int] = {}
        #: (method, path template) of the operations a 2xx has answered
        self._answered_2xx: set[tuple[str, str]] = set()
        #: (method, path template) of writes under items of a kind the run cannot make, sent to
        #: an absent one: on a shared target they never get a 2xx (`shut_out`)
        self._shut_out: set[tuple[str, str]] = set()
        #: writes aimed at an existing item the run did not create, sent to an absent id
        self.rewritten = 0
        #: … sent to one of the run's own items instead
        self.own_aimed = 0
        #: items the guard made itself to aim such writes (and nested creates) at
        self.made = 0
        #: kind -> items 2xx creates made whose answers said no id or key to find them by
        self.unidentified: dict[str, int] = {}
        #: the engine's threads with a create under way; once the cleanup has
        #: begun, no new write is let through (an interrupted engine's threads outlive its run)
        self._creating: set[threading.Thread] = set()
        #: per engine thread, the stateful scenario under way and the items it made
        self._scenario = threading.local()
        self._closed = False
        self._settle_s = client.timeout_s + 1.0

    # -- during the run ------------------------------------------------------------------------

    def _resource_of(self, operation_path: str) -> Resource | None:
        """The resource whose item an operation addresses: the longest item path that is the
        operation's or lies above it (``/articles/{slug}`` for ``/articles/{slug}/comments``,
        ``/articles/{slug}/comments/{id}`` for that item)."""
        found = None
        for item_path, resource in self.resources.items():
            above = operation_path == item_path or operation_path.startswith(
                item_path.rstrip("/") + "/"
            )
            if above and (found is None or len(item_path) > len(found.item_path)):
                found = resource
        return found

    def _readable_item(self, operation_path: str) -> Resource | None:
        """An item that is no resource's (no collection lists or creates it) but can be read:
        the longest path at or above the operation ending in a template with a ``GET``
        (``/profiles/{username}`` for ``DELETE /profiles/{username}/follow``). A write under
        another user's is sent to an absent one: a RealWorld run unfollowed a user it had not
        made. The run cannot make one, so none is ever its own."""
        parts = operation_path.split("/")
        for end in range(len(parts), 0, -1):
            path = "/".join(parts[:end])
            if not is_template(parts[end - 1]):
                continue
            get = self.spec.operation_at("GET", path)
            if get is not None:
                return Resource(
                    collection_path=path.rsplit("/", 1)[0], item_path=path, list=None,
                    create=None, get=get, update=None, delete=None, actions=(), schema_name=None,
                )  # fmt: skip
        return None

    def _schema_of(self, method: str, path: str, name: str) -> Any:
        operation = self.spec.operation_at(method, path)
        parameter = operation.parameter(name, "path") if operation else None
        return self.spec.deref(dict(parameter.schema)) if parameter is not None else {}

    def before_call(self, case: Any) -> None:
        """Guard ``case`` (`_guarded`), and note the item it addresses in the stateful
        scenario under way (`_chain`)."""
        try:
            self._guarded(case)
        finally:
            chain = self._chain(case)
            resource = self._resource_of(str(case.operation.path)) if chain is not None else None
            if chain is not None and resource is not None:
                values = {str(k): str(v) for k, v in (case.path_parameters or {}).items()}
                concrete = filled(resource.item_path, values)
                if concrete is not None:
                    chain.add(concrete)

    def _guarded(self, case: Any) -> None:
        """Aim a write at an existing item the run did not create at one of the run's own (made
        first where it has none); send a write at the run's own item, or at one that cannot
        exist, as drawn; make a create or change of the stateful phase one that can succeed
        (`_freshen`)."""
        operation = case.operation
        method = str(operation.method).upper()
        with self._lock:
            # this thread's previous request is over, answered or not
            self._creating.discard(threading.current_thread())
            if self._closed and method in UNSAFE:
                raise RunEnding("the run is ending: its cleanup has begun, no more writes")
            if method == "POST":  # a create: the cleanup waits for its answer
                self._creating.add(threading.current_thread())
        if method not in UNSAFE:
            return
        if method in ("POST", "PUT", "PATCH"):
            self._freshen(case, method)
        if self.disposable and not self._at_account(case):
            return
        resource = self._resource_of(str(operation.path)) or self._readable_item(
            str(operation.path)
        )
        if resource is None:
            return
        names = template_names(resource.item_path)
        drawn = {name: (case.path_parameters or {}).get(name) for name in names}
        concrete = filled(resource.item_path, drawn)
        if concrete is None:
            return
        with self._lock:
            if concrete in self._mine or concrete in self._gone:
                return  # the run's own, or its own that it deleted: its 404 is the run's
            # inside the run's own item (an issue of its project) nothing is anyone else's, and
            # what the run did not make there is absent; inside an absent item, absent too
            inside = _within(concrete, self._mine) or _within(concrete, self._gone)
            known_absent = inside or concrete in self._absent or _within(concrete, self._absent)
            known_theirs = concrete in self._theirs
        path = str(operation.path)
        if any(impossible(drawn[n], self._schema_of(method, path, n)) for n in names):
            return  # no item can have it: the answer to an impossible id is judged as drawn
        if not known_theirs:
            exists = not known_absent and self._exists(concrete)
            with self._lock:
                (self._theirs if exists else self._absent).add(concrete)
            if not exists:
                if not self._until_answered(case, method, resource) and not inside:
                    self._unseen(case, method, path, names, drawn)
                return
        if method == "DELETE":
            own = self._deletable(case, resource)
        else:
            own = self._own_item(resource, case)
        if own is not None:
            self._aim(case, own)
            return
        last = names[-1]
        _repoint(case, {last: _absent_value(self._schema_of(method, path, last))})
        with self._lock:
            self.rewritten += 1
            if resource.create is None:  # nothing of its kind can ever be the run's own
                self._shut_out.add((method, path))

    def _at_account(self, case: Any) -> bool:
        """Whether a write names one of the run's accounts in its path (``DELETE
        /users/root``): guarded on a disposable target too, as a shared one's existing item."""
        values = (case.path_parameters or {}).values()
        return bool(self.accounts) and any(str(value) in self.accounts for value in values)

    def _hold(self, response: Any) -> None:
        """Keep what other items hold in the creates' free-text members, from a read's answer
        (a list or an item): the reach's taken create sends one again."""
        try:
            body = response.json()
        except (ValueError, AttributeError):
            return
        with self._lock:
            for name, value in texts(body, self._text_names):
                held = self._held.setdefault(name, [])
                if value in held:
                    held.remove(value)
                held.append(value)
                del held[:-HELD_PER_NAME]

    def held(self) -> dict[str, list[str]]:
        """Each free-text member's name of the creates -> values other items hold there (none
        the run sent), the last read first (a disposable target's data may have been reset
        since an earlier read): what a taken create sends (`_reach`)."""
        with self._lock:
            found = {
                name: [v for v in reversed(values) if v not in self._sent]
                for name, values in self._held.items()
            }
        return {name: values for name, values in found.items() if values}

    def accepted(self) -> dict[str, tuple[dict[str, str], Any]]:
        """Each create's path -> the path parameters and body of the last create there the API
        answered 2xx (what the producer sends again, and the reach's duplicate)."""
        with self._lock:
            return dict(self._accepted)

    def moved_away(self, failure: Failure) -> bool:
        """Whether ``failure`` is a "created resource not found" (``ensure_resource_availability``)
        at a path the run's own change had moved its item from: the API answered as it should
        (the tracker's stateful chain changed a project's key, then read an issue at the old key;
        ``st run`` reports such 404s as failures, on the tracker at every seed)."""
        return self._failed_at(failure, "ensure_resource_availability", self._moved_from)

    def moved_onto(self, failure: Failure) -> bool:
        """Whether ``failure`` is a "deleted resource still there" (``use_after_free``) at a
        path the run's own change has since moved another of its items to: the API answered as
        it should (the tracker's chain deleted project ``C3W0``, then changed the key of
        another of the run's projects to ``C3W0``, and read it). A delete of the run's at that
        path since clears it (`_forget`), so that an item that stays after that delete is
        still a failure. What the guard cannot tell: a read that found the deleted item before
        the move (the failure has no time), a failure that the move then excuses."""
        return self._failed_at(failure, "use_after_free", self._moved_to)

    def _failed_at(self, failure: Failure, check: str, paths: set[str]) -> bool:
        """Whether ``failure`` is one of ``check`` whose request went to one of ``paths`` (one of
        the guard's own sets) or under one."""
        if failure.check != check:
            return False
        template = failure.example.get("path")
        values = failure.example.get("path_parameters") or {}
        if not isinstance(template, str) or not isinstance(values, dict):
            return False
        concrete = filled(template, {str(k): str(v) for k, v in values.items()})
        with self._lock:
            return _at_or_within(concrete, paths)

    def shut_out(self) -> set[str]:
        """The operationIds the guard keeps from any 2xx on this shared target: writes under
        items of a kind nobody can create (``POST /profiles/{username}/follow``), which only
        ever go to an absent one. Focused stateful passes for them only repeat 404s (a RealWorld
        run spent 1,500 requests and 80 s on them)."""
        with self._lock:
            shut = set(self._shut_out) - self._answered_2xx
        found = set()
        for method, path in shut:
            operation = self.spec.operation_at(method, path)
            if operation is not None and operation.operation_id:
                found.add(str(operation.operation_id))
        return found

    def _unseen(
        self, case: Any, method: str, path: str, names: list[str], drawn: Mapping[str, Any]
    ) -> None:
        """A write at an item the run's GET cannot see: it may be another user's private item,
        which a backend without object-level checks would let the write change (a DELETE of
        someone's note). An id such an item could have goes to one surely absent; one that
        only odd input names (characters no key has, an integer past int32) is sent as drawn,
        so that its 500 is still reached."""
        last = names[-1]
        if not _plausible(drawn[last]):
            return
        _repoint(case, {last: _absent_value(self._schema_of(method, path, last))})
        with self._lock:
            self.rewritten += 1

    def _until_answered(self, case: Any, method: str, resource: Resource) -> bool:
        """A valid change aimed at an absent id goes to one of the run's own items while its
        operation has had no 2xx yet (a 404 teaches nothing new after the first, and an update
        that needs an item in some state waited for the focused passes: gloria's
        ``updateWorkflowInstance`` at seed 2); after that, as drawn, so that an unknown id's
        500 is still reached (`_unseen`). A delete keeps its id (it would take the items the
        changes need); an invalid case whose id may be what makes it invalid too. An invalid
        change whose path is valid goes to the run's own item always (made first where it has
        none): its body, query or headers are what is judged, and at an absent id the API's
        404 passes for a refusal (RealWorld's ``PUT /articles/{slug}`` took a body without its
        ``article`` with a 200, which ``st run`` found at an existing article and the suite,
        sending it to absent ones, did not). True when it was pointed at the run's own item."""
        meta = getattr(case, "meta", None)
        if method == "DELETE" or meta is None:
            return False
        if _invalid_elsewhere(meta):
            mine = self._own_item(resource, case)
            if mine is not None:
                self._aim(case, mine)
            return mine is not None
        if str(meta.generation.mode) != "positive":
            return False
        operation = (method, str(case.operation.path))
        with self._lock:
            if operation in self._answered_2xx:
                return False
        chosen = self._choice(resource, case)
        if chosen is not None:
            self._aim(case, chosen)
        return chosen is not None

    def _aim(self, case: Any, own: Mapping[str, Any]) -> None:
        """Send ``case`` to the run's own item ``own`` (its path parameters), and count it."""
        _repoint(case, own)
        with self._lock:
            self.own_aimed += 1

    def _deletable(self, case: Any, resource: Resource) -> dict[str, str] | None:
        """The run's own item a delete aimed at another's goes to instead (its path parameters),
        or None: then it goes to an absent id.

        - In the stateful phase, none: a chain's own deletes reach its items through their
          links, and one made only to be deleted costs a create per delete.
        - In the unit phases, one of the run's, else one made for it while the operation has had
          no 2xx. After that none is made for a delete that has only its path (no query, header
          or body is drawn): its id is all it has, so an item made to be deleted repeats a
          delete already judged (the tracker's fuzzing made 14 projects for that at seed 5)."""
        if stateful(case):
            return None
        if self._judged(resource):
            return self._choice(resource, case)
        return self._own_item(resource, case)

    def _judged(self, resource: Resource) -> bool:
        """Whether ``resource``'s delete has only path parameters and a 2xx has answered it."""
        delete = resource.delete
        if delete is None or "requestBody" in delete.definition:
            return False
        if any(parameter.location != "path" for parameter in delete.parameters):
            return False  # a query or a header is drawn too, and judged at a real item
        with self._lock:
            return ("DELETE", delete.path) in self._answered_2xx

    def _own_item(self, resource: Resource, case: Any) -> dict[str, str] | None:
        """The path parameters of one of the run's newest items of ``resource``'s kind (`_choice`),
        made now when it has none (`produce`); None when it has none and none can be made."""
        chosen = self._choice(resource, case)
        if chosen is not None:
            return chosen
        made = self.produce(resource)
        return None if made is None else matches(resource.item_path, made)

    def _choice(self, resource: Resource, case: Any) -> dict[str, str] | None:
        """One of the run's newest items of ``resource``'s kind (the older ones are likelier to
        have gone), none that the stateful scenario under way made or addressed, nor one above
        or under those: a change the guard sent to a project a chain had used moved its key,
        and the chain's next step was a "created resource not found" of the guard's making (the
        tracker's issue at seeds 1 and 4)."""
        chain = self._chain(case) or set()
        with self._lock:
            own = [
                values
                for values in self._own.get(resource.item_path, [])
                if not _related(filled(resource.item_path, values), chain)
            ]
            return dict(random.choice(own[-OWN_CHOICES:])) if own else None  # hypothesis seeds it

    def _chain(self, case: Any) -> set[str] | None:
        """The items the stateful scenario under way in this thread made or addressed (None
        outside one)."""
        if not stateful(case):
            return None
        try:
            data = current_build_context().data
        except InvalidArgument:  # not inside a scenario
            return None
        if getattr(self._scenario, "data", None) is not data:
            self._scenario.data, self._scenario.items = data, set()
        items: set[str] = self._scenario.items
        return items

    # -- the producer --------------------------------------------------------------------------

    def produce(self, resource: Resource, depth: int = 0) -> str | None:
        """Make one item of ``resource`` through its create, a parent first where its
        collection lies under another resource's item (``/articles/{slug}/comments``): the body
        of a create the API accepted before, with fresh text, else the create schema's required
        members. Its concrete path, or None when it cannot be made (no create, refused, the
        guard's budget spent)."""
        create = resource.create
        if create is None or depth > 3:
            return None
        with self._lock:
            tries = self._tries.get(resource.item_path, 0)
            if self._closed or tries >= TRIES_PER_KIND or self.made >= MADE_AT_MOST:
                return None
            self._tries[resource.item_path] = tries + 1
            accepted = self._accepted.get(resource.collection_path)
        parameters: dict[str, str] = {}
        parent = self._resource_of(resource.collection_path)
        if parent is not None and template_names(resource.collection_path):
            with self._lock:
                own = self._own.get(parent.item_path)
                chosen = dict(own[-1]) if own else None
            if chosen is None:
                made = self.produce(parent, depth + 1)
                chosen = matches(parent.item_path, made) if made else None
            if chosen is None:
                return None
            parameters = chosen
        path = filled(resource.collection_path, parameters)
        if path is None:
            return None
        body = self._body(create, accepted[1] if accepted else None)
        try:
            answer = self.client.send("POST", path, body=body)
        except httpx.HTTPError:
            return None
        if not 200 <= answer.status_code < 300:
            return None
        with self._lock:
            self.made += 1
            self._tries[resource.item_path] = 0
        return self._learn(resource, create, parameters, answer.headers.get("Location"), answer)

    def _body(self, create: Operation, accepted: Any) -> Any:
        """What the producer sends: an accepted body with fresh text in its free-text members
        (a key such as a title or a slug must not repeat), else the required members."""
        schema = self.spec.request_schema(create)
        if schema is None:
            return None
        try:
            if isinstance(accepted, dict):
                return refreshed(self.spec, schema, accepted)
            return value_for(self.spec, schema, "body")
        except Exception:  # a pattern only hypothesis can draw, here inside its test
            return accepted

    def _learn(
        self,
        resource: Resource,
        create: Operation,
        parameters: Mapping[str, Any],
        location: str | None,
        answer: Any,
    ) -> str | None:
        """Journal the item a 2xx create answered with, and count it the run's own."""
        try:
            body = answer.json()
        except (ValueError, AttributeError):
            body = None
        concrete = item_path_of(
            resource, create.payload(body), parameters, location, self._base_path
        )
        kind = resource.schema_name or resource.item_path
        if concrete is None:  # made, and nothing says where: reported as left behind
            with self._lock:
                self.unidentified[kind] = self.unidentified.get(kind, 0) + 1
            return None
        with self._lock:
            if concrete in self._mine:
                return concrete
            self._mine.add(concrete)
            self._absent.discard(concrete)
            values = matches(resource.item_path, concrete)
            if values is not None:
                self._own.setdefault(resource.item_path, []).append(values)
        self.journal.created(Created(kind, concrete, resource.delete is not None))
        return concrete

    def _freshen(self, case: Any, method: str) -> None:
        """A valid create or change of the stateful phase is made one that can succeed, since
        its chains (school → department → position → its delete) need every step to: fresh
        values in the unique text keys it sends (hypothesis's draws repeat, and a chain stopped
        at a 409 DUPLICATE), and no optional member naming a resource by an id the run did not
        make (a made-up id is a 404). The unit phases keep their draws: those are cases too."""
        meta = getattr(case, "meta", None)
        if meta is None or not isinstance(case.body, dict):
            return
        if str(meta.phase.name) != "stateful" or str(meta.generation.mode) != "positive":
            return
        # again here, where the case is final: a link's If-Match can arrive after `map_case`,
        # and a body version that disagrees with it is a 400 (seen: version 3915, If-Match "1")
        agree_on_version(case)
        operation = self.spec.operation_at(method, str(case.operation.path))
        if operation is None:
            return
        request = self.spec.request_schema(operation)
        body = dict(case.body)
        with self._lock:
            known = {path.rsplit("/", 1)[-1] for path in self._mine}
        kept = without_made_up_references(self.spec, request, body, known)
        name = item_schema_name(self.spec, operation)
        item = self.spec.component(name) if name else None
        fresh = fresh_keys(self.spec, request, item, kept or body) if item is not None else None
        if kept is not None or fresh is not None:
            case.body = fresh or kept

    def _exists(self, concrete: str) -> bool:
        """Whether the item may be there: only an answer that says it is not (404, 410, or 400:
        an id that cannot name anything) counts as absent. Anything else (a 2xx, a 405 from a
        resource without a GET, a 401, a network error) counts as there: when in doubt, do not
        touch it."""
        try:
            answer = self.client.send("GET", concrete)
        except httpx.HTTPError:
            return True
        return answer.status_code not in ABSENT

    def after_call_hook(self, context: Any, case: Any, response: Any) -> None:
        self.after_call(case, response)

    def after_call(self, case: Any, response: Any) -> None:
        """Journal a resource a create answered with (and remember the body the API accepted,
        for the producer); forget one of the run's own items a delete removed. The thread's
        create is under way until its item is journaled: the cleanup waits for it (`settle`)."""
        try:
            self._answered(case, response)
        finally:
            with self._lock:
                self._creating.discard(threading.current_thread())

    def _answered(self, case: Any, response: Any) -> None:
        operation = case.operation
        method = str(operation.method).upper()
        if _sent_method(response) not in (None, method):
            return  # a check's own request on the case (OPTIONS, TRACE …): no create, no delete
        status = int(response.status_code)
        if not 200 <= status < 300:
            return
        path = str(operation.path)
        with self._lock:
            self._answered_2xx.add((method, path))
        if method == "DELETE":
            self._forget(path, case.path_parameters or {})
            return
        if method in ("PUT", "PATCH"):
            self._moved(method, path, case, response)
            return
        if method == "GET" and self._text_names:
            self._hold(response)
        if method != "POST":
            return
        spec_operation = self.spec.operation_at("POST", path)
        if spec_operation is None:
            return
        resource = self._by_collection.get(path)
        if resource is None:
            name_of_item = item_schema_name(self.spec, spec_operation)
            resource = self._by_schema.get(name_of_item) if name_of_item else None
        if resource is None or (resource.create is None and resource.register is None):
            return
        parameters = {str(k): str(v) for k, v in (case.path_parameters or {}).items()}
        if isinstance(case.body, dict) and resource.collection_path == path:
            with self._lock:
                self._accepted[path] = (parameters, dict(case.body))
                if self._text_names:
                    self._sent.update(value for _, value in texts(case.body, self._text_names))
        headers = getattr(response, "headers", None) or {}
        location = headers.get("Location") or headers.get("location")
        if isinstance(location, list):
            location = location[0] if location else None
        made = self._learn(resource, spec_operation, parameters, location, response)
        chain = self._chain(case)
        if made is not None and chain is not None:
            chain.add(made)

    def _moved(self, method: str, path: str, case: Any, response: Any) -> None:
        """Follow one of the run's items whose key a change moved (a new title is a new slug, a
        project's key changed): its journal entry, and its children's, go to the new path, so
        that the cleanup deletes it where it is now (issue 25: a blog's renamed articles and a
        tracker's re-keyed project stayed behind, the cleanup none the wiser)."""
        resource = self.resources.get(path)
        operation = self.spec.operation_at(method, path)
        if resource is None or operation is None:
            return
        parameters = {str(k): str(v) for k, v in (case.path_parameters or {}).items()}
        before = filled(resource.item_path, parameters)
        name = template_name(resource.item_path)
        try:
            body = response.json()
        except (ValueError, AttributeError):
            return
        payload = operation.payload(body)
        key = key_of(name, payload, exact=True)
        after = filled(resource.item_path, {**parameters, name: key}) if key is not None else None
        if key is None and before is not None and names_key(name, payload):
            # the answer names a key no path can hold (a title that slugs to ""): the item can
            # no longer be addressed, so it is left behind, and said so
            with self._lock:
                if before in self._mine:
                    kind = resource.schema_name or resource.item_path
                    self.unidentified[kind] = self.unidentified.get(kind, 0) + 1
            return
        if before is None or after is None or after == before:
            return
        with self._lock:
            if before not in self._mine:
                return
            moved = {
                mine: after + mine[len(before) :]
                for mine in self._mine
                if mine == before or mine.startswith(before + "/")
            }
            self._mine.update(moved.values())  # the old paths stay the run's too
            self._moved_from.update(moved)
            self._moved_to.update(moved.values())
            for template, items in self._own.items():
                self._own[template] = [
                    values
                    for values in (
                        matches(template, moved.get(concrete, concrete))
                        for concrete in (filled(template, item) for item in items)
                        if concrete is not None
                    )
                    if values is not None
                ]
        self.journal.moved(before, after)

    def _forget(self, path: str, parameters: Mapping[str, Any]) -> None:
        """One of the run's own items a delete removed: no write aims at it any more, and the
        journal lets it go, so the cleanup never deletes its id again (an API that reuses ids
        may have given it to someone else's new item by then: a FastAPI app answered 200 to
        ``DELETE /heroes/33`` four times in one run)."""
        resource = self.resources.get(path)
        if resource is None:
            return
        values = {str(k): str(v) for k, v in parameters.items()}
        concrete = filled(resource.item_path, values)
        with self._lock:
            own = self._own.get(resource.item_path, [])
            self._own[resource.item_path] = [item for item in own if item != values]
            mine = concrete is not None and concrete in self._mine
            if mine:
                self._mine.discard(str(concrete))
                self._gone.add(str(concrete))
                self._moved_to.difference_update(
                    {path for path in self._moved_to if _at_or_within(path, {str(concrete)})}
                )
        if mine:
            self.journal.removed(str(concrete))

    # -- the end -------------------------------------------------------------------------------

    def settle(self) -> None:
        """Refuse new writes, and wait (a request's timeout at most) for the answers to creates
        still under way: after Ctrl-C the engine's threads can still be sending, and a resource
        whose answer arrived after the journal was read would stay behind unrecorded. A thread
        that has ended, or moved on to its next request, has no create under way."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + self._settle_s
        while time.monotonic() < deadline:
            with self._lock:
                waiting = [thread for thread in self._creating if thread.is_alive()]
            if not waiting:
                return
            time.sleep(0.05)


def _related(concrete: str | None, items: set[str]) -> bool:
    """Whether ``concrete`` is one of ``items``, lies under one or above one."""
    if concrete is None:
        return False
    return _at_or_within(concrete, items) or any(item.startswith(concrete + "/") for item in items)


def _at_or_within(concrete: str | None, items: set[str]) -> bool:
    """Whether ``concrete`` is one of ``items`` or lies under one."""
    return concrete is not None and (concrete in items or _within(concrete, items))


def _within(concrete: str, items: set[str]) -> bool:
    """Whether one of ``items`` lies above ``concrete`` (``/projects/K`` above
    ``/projects/K/issues/3``): a child of the run's own item is the run's, one of an absent item
    is absent, and neither needs a ``GET`` to say so (the tracker's stateful phase asked 55
    times)."""
    cut = concrete.rfind("/")
    while cut > 0:
        concrete = concrete[:cut]
        if concrete in items:
            return True
        cut = concrete.rfind("/")
    return False


def _sent_method(response: Any) -> str | None:
    """The method of the request ``response`` answers (a check may send its own on a case:
    OPTIONS, TRACE …), where the response says."""
    try:
        sent = getattr(response.request, "method", None)
    except (AttributeError, RuntimeError):  # httpx's, when nothing set it
        return None
    return sent.upper() if isinstance(sent, str) else None


#: the values kept of one member's name, the last read (`Guard.held`); how much of an answer
#: is read
HELD_PER_NAME, HELD_NODES = 4, 500


def create_text_names(spec: Spec) -> frozenset[str]:
    """The names of the free-text members of the creates' bodies (nested ones too) that may be
    a key: a string without an enum or a format (an email aside), such as a title or a slug;
    never a secret's (a password read in an answer is not sent on)."""
    names: set[str] = set()

    def walk(schema: Any, depth: int) -> None:
        for name, sub in spec.properties(schema).items():
            resolved = spec.deref(sub)
            if not isinstance(resolved, Mapping) or depth > 3:
                continue
            if resolved.get("type") == "object" or "properties" in resolved:
                walk(resolved, depth + 1)
            elif keyable_text(spec, resolved) and not secret_member(str(name)):
                names.add(str(name))

    for operation in spec.operations:
        if operation.method.upper() == "POST":
            schema = spec.request_schema(operation)
            if schema is not None:
                walk(schema, 0)
    return frozenset(names)


def texts(body: Any, names: frozenset[str]) -> Iterator[tuple[str, str]]:
    """The (name, value) pairs of ``body``'s string members named in ``names``, at any depth,
    within the first `HELD_NODES` values of a breadth-first walk."""
    queue, seen = collections.deque([body]), 0
    while queue and seen < HELD_NODES:
        node = queue.popleft()
        seen += 1
        if isinstance(node, dict):
            for name, value in node.items():
                if isinstance(value, str) and name in names and value:
                    yield str(name), value
                elif isinstance(value, (dict, list)):
                    queue.append(value)
        elif isinstance(node, list):
            queue.extend(node[:HELD_NODES])


#: the guard's ``before_call``, the one guard active in this process (the engine runs one API at a
#: time)
_BEFORE_CALL = BeforeCall()


@contextlib.contextmanager
def installed(guard: Guard, schema: Any) -> Iterator[None]:
    """The guard's hooks on ``schema``: ``after_call`` per schema, ``before_call`` (global only in
    schemathesis 4.32) through `BeforeCall`."""
    schema.hooks.register_hook_with_name(guard.after_call_hook, "after_call")
    with _BEFORE_CALL.active(guard):
        yield
