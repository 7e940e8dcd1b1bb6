"""The guard: on a shared environment a run changes and deletes only what it created.

Before a write addressed to one item (``PUT``/``PATCH``/``DELETE`` on an item path, ``POST`` on
an action under it), an id the run did not create is looked up with the item's ``GET``; when it
exists, the case is pointed at an id that does not (a fresh UUID, a number or a string, as the
parameter's schema wants), so the request is still sent and judged (a documented 404) and the
resource is never touched. A valid change goes to one of the run's own items instead, and a
stateful create or change is made one that can succeed (the stateful reach). After a create, the
resource it answered with goes into the journal (`_journal`), whose cleanup removes it.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from schemathesis.core.parameters import ParameterLocation

from conformance.checks import agree_on_version
from conformance.contract import Resource, Spec, item_schema_name, resources
from conformance.suite._client import RunClient
from conformance.suite._journal import Created, Journal, item_path_of, template_name
from conformance.suite._unique import fresh_keys, without_made_up_references

#: writes that address one existing item
UNSAFE = frozenset({"PUT", "PATCH", "DELETE", "POST"})
#: answers to an item's GET that say it is not there
ABSENT = frozenset({400, 404, 410, 422})

#: a valid change aimed elsewhere goes to one of the run's newest items of its kind (the older
#: ones are likelier to have been deleted by then)
OWN_CHOICES = 5


def _repoint(case: Any, name: str, value: Any) -> None:
    """Send ``case`` to another item: its ``name`` path parameter becomes ``value``, which no
    longer comes from a link. schemathesis reads a parameter as linked when it differs from the
    value generated for it, and its link checks judge the answer as the linked resource's: a
    change the guard sent to another of the run's items, deleted meanwhile by another of the
    engine's threads, was a "created resource not found" (``ensure_resource_availability``) of
    the resource the link named (issue 22: a plain Notes API, seed 1)."""
    case.path_parameters = {**case.path_parameters, name: value}
    stored = (getattr(case, "_components", None) or {}).get(ParameterLocation.PATH)
    if stored is not None and stored.is_generated and isinstance(stored.value, dict):
        stored.value = {**stored.value, name: value}


def _absent_value(schema: Any) -> Any:
    """A value for an id parameter that names nothing, valid for its schema."""
    schema = schema if isinstance(schema, dict) else {}
    if schema.get("type") == "integer":
        return 2_000_000_000 + random.randrange(100_000_000)
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    text = "absent" + uuid.uuid4().hex
    longest = schema.get("maxLength")
    return text[: max(int(longest), 1)] if isinstance(longest, int) else text


class RunEnding(Exception):
    """A write the engine tried after the run's cleanup began (its threads outlive Ctrl-C)."""


class Guard:
    """One API's guard: the run's writes go only to what it created (thread-safe)."""

    def __init__(self, spec: Spec, journal: Journal, client: RunClient) -> None:
        self.spec, self.journal, self.client = spec, journal, client
        self._lock = threading.Lock()
        self.resources = {r.item_path: r for r in resources(spec)}
        self._by_schema = {r.schema_name: r for r in self.resources.values() if r.schema_name}
        #: concrete item paths the run created; ones found to exist before it; ones absent
        self._mine: set[str] = {item.path for item in journal.pending()}
        self._theirs: set[str] = set()
        self._absent: set[str] = set()
        #: item template -> the ids of the run's own items there, oldest first
        self._own: dict[str, list[str]] = {}
        self.rewritten = 0
        #: valid changes aimed at an item the run did not create, sent to one of its own
        self.own_aimed = 0
        #: the engine's threads with a create under way; once the cleanup has
        #: begun, no new write is let through (an interrupted engine's threads outlive its run)
        self._creating: set[threading.Thread] = set()
        self._closed = False
        self._settle_s = client.timeout_s + 1.0

    # -- during the run ------------------------------------------------------------------------

    def _resource_of(self, operation_path: str) -> Resource | None:
        """The resource whose item an operation addresses (its item path or an action under)."""
        for item_path, resource in self.resources.items():
            if operation_path == item_path or operation_path.startswith(item_path + "/"):
                return resource
        return None

    def before_call(self, case: Any) -> None:
        """Point a valid change (PUT, PATCH, an action under an item) aimed at an item the run
        did not create at one of the run's own of that kind, where it has one (`_own_item`);
        point any other write at an item the run did not create, and which exists, elsewhere;
        make a create or change of the stateful phase one that can succeed (`_freshen`)."""
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
        resource = self._resource_of(str(operation.path))
        if resource is None:
            return
        name = template_name(resource.item_path)
        value = (case.path_parameters or {}).get(name)
        if value is None:
            return
        concrete = resource.item_path.replace("{" + name + "}", str(value))
        with self._lock:
            if concrete in self._mine:
                return
        if method != "DELETE" and self._own_item(case, resource, name):
            return
        with self._lock:
            if concrete in self._absent:
                return
            known_theirs = concrete in self._theirs
        if not known_theirs:
            exists = self._exists(concrete)
            with self._lock:
                (self._theirs if exists else self._absent).add(concrete)
            if not exists:
                return
        spec_operation = self.spec.operation_at(method, str(operation.path))
        parameter = spec_operation.parameter(name, "path") if spec_operation else None
        schema = self.spec.deref(dict(parameter.schema)) if parameter is not None else {}
        _repoint(case, name, _absent_value(schema))
        with self._lock:
            self.rewritten += 1

    def _own_item(self, case: Any, resource: Resource, name: str) -> bool:
        """A valid (positive) change of an item the run did not create goes to one of the
        run's own items of that kind instead, where it has one: a made-up id only ever earns a
        404, and the operation would wait for the stateful phase to hand it one of the run's.
        Its deletes are left to the stateful phase (they would take the items the changes
        need). Invalid cases keep their ids: the id may be what makes them invalid."""
        meta = getattr(case, "meta", None)
        if meta is None or str(meta.generation.mode) != "positive":
            return False
        with self._lock:
            own = self._own.get(resource.item_path)
            if not own:
                return False
            chosen = random.choice(own[-OWN_CHOICES:])  # hypothesis seeds it: reproducible
            self.own_aimed += 1
        _repoint(case, name, chosen)
        return True

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
        """Journal a resource a create answered with."""
        with self._lock:
            self._creating.discard(threading.current_thread())
        operation = case.operation
        status = int(response.status_code)
        if str(operation.method).upper() != "POST" or not 200 <= status < 300:
            return
        spec_operation = self.spec.operation_at("POST", str(operation.path))
        if spec_operation is None:
            return
        name_of_item = item_schema_name(self.spec, spec_operation)
        resource = self._by_schema.get(name_of_item) if name_of_item else None
        if resource is None:
            return
        try:
            body = response.json()
        except (ValueError, AttributeError):
            return
        concrete = item_path_of(resource, spec_operation.payload(body))
        if concrete is None:
            return
        with self._lock:
            if concrete in self._mine:
                return
            self._mine.add(concrete)
            self._own.setdefault(resource.item_path, []).append(concrete.rsplit("/", 1)[-1])
        kind = resource.schema_name or resource.item_path
        self.journal.created(Created(kind, concrete, resource.delete is not None))

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


@contextlib.contextmanager
def installed(guard: Guard, schema: Any) -> Iterator[None]:
    """The guard's hooks on ``schema``: ``after_call`` per schema, ``before_call`` (global only in
    schemathesis 4.32) through the one guard active in this process (the engine runs one API
    at a time)."""
    _register_global()
    schema.hooks.register_hook_with_name(guard.after_call_hook, "after_call")
    with _LOCK:
        _ACTIVE[:] = [guard]
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE.clear()


_ACTIVE: list[Guard] = []
_LOCK = threading.Lock()
_REGISTERED: list[bool] = []


def _register_global() -> None:
    with _LOCK:
        if _REGISTERED:
            return
        import schemathesis

        @schemathesis.hook("before_call")
        def conformance_guard(context: Any, case: Any, kwargs: Any) -> None:
            with _LOCK:
                guard = _ACTIVE[0] if _ACTIVE else None
            if guard is not None:
                guard.before_call(case)

        _REGISTERED.append(True)
