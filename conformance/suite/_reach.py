"""The reach: every operation's documented error answers for its path parameters, earned in every
run (ARCHITECTURE.md, "How the suite drives schemathesis", point 2, "Error answers, earned").

The engine's draws come from what the run knows: the spec's examples, the resource pool, the
links. An item's ``GET`` then answers 200 (a known id), 400 (a malformed one) and 401, and may
never answer 404 at some seeds, so a defect that lives in the 404 (a stack trace in its body, a
wrong schema, a 500) hides there. After the engine's first pass, an operation with a path
parameter that documents an answer the run has not yet seen gets one request that must earn it:

- **absent**: a 404 documented (``404``, ``4XX`` or ``default``) and not yet seen: every path
  parameter an id of its declared type and format that names nothing, drawn from the seed where
  no id the run made or saw lives (a random UUID, an integer above 2·10⁹, ``absent<hex>`` within
  the string's bounds; a random match of a pattern those cannot meet, for reads only);
- **malformed**: a 400 or 422 documented (or ``4XX``/``default``) and neither seen: the last path
  parameter with a type, format, pattern, enum or length to break gets a value that breaks it;
- **nul**: a read with free-text query parameters (a string its schema lets hold any character)
  gets them all with a NUL byte inside, valid for their schemas (``conformance\x00nul``): C
  string handling and database drivers fail on it, and schemathesis's coverage phase sends no
  NUL in a query (its fuzzing drew one in about 1.5% of values: a backend answering 500 to it
  passed at most seeds);
- **duplicate**: a create the API answered 2xx is sent once more with the same body, under the
  same parent (the body the guard saw accepted last, `Guard.accepted`): a second item with the
  same title, name or key must be refused or made, never a 5xx (a unique index the API does
  not check first). The suite's stateful creates get fresh keys (`Guard._freshen`), so its
  chains never repeat a key as ``st run``'s do;
- **missing**: that create once more for each required member of its body (nested ones too,
  such as ``description`` in ``{"article": {…}}``; the deepest first, at most
  ``MISSING_PER_CREATE``), sent without it and with fresh text in its keys: the API must refuse
  it (``negative_data_rejection``). schemathesis's coverage phase drops each required member
  too, but from a template of empty strings that a server refuses for the empty title before
  it reads what is missing; this starts from a body the API took. A member whose schema gives
  a ``default`` or is ``readOnly`` is left in, and so is one under a ``oneOf`` or ``anyOf``;
- **taken**: that create once more with a free-text member (a title, a name) set to a value
  another item holds, read in a 2xx answer of the run (`Guard.held`; at most
  ``TAKEN_PER_CREATE``): a key another user's item holds must be refused or made, never a 5xx
  (seen on VAmPI: a book title another user had was a 500, a unique index checked for the
  caller's own books only). An API that upserts on such a key would change an item the run did
  not make, so on a shared environment it is sent only after the API refused the duplicate
  (``REFUSED_REPEAT``: a repeated key is refused there, not written over); on a disposable one,
  always;
- **nul** (a create): that create once more with a NUL byte inside each free-text member of its
  body (nested ones too; a string its schema lets hold it, fresh text in its keys): a positive
  case, judged as one (a 500 is ``not_a_server_error``; a refusal, which a schema that lets any
  text through does not allow, is ``positive_data_acceptance``, as ``st run`` reports it when
  its draws hold a NUL). Databases refuse the byte (PostgreSQL's text, Django's "Null
  characters are not allowed"), and the engine's draws put one in a body by chance: RealWorld's
  comment refused for it was ``st run``'s alone at seed 1.

Each is one of schemathesis's cases (``operation.Case`` with the query, headers and body of a
positive case drawn at the run's seed), sent and judged by the engine's own code (the run's auth
and headers, our transport, every check on a response; the acceptance checks, which judge a
generated case by its generation mode, pass over a case that has none, a missing one aside),
and folded into the operation's record with the phase ``reach``, so a failure reads like any
other, curl included.
At most three requests an operation, and for a create one more, one a required member (four
at most), two taken ones and one with NUL bytes.

Safe on shared environments: a read-only run sends only GET, HEAD and OPTIONS; a write (DELETE,
PATCH, PUT, an action) goes only to ids drawn from a space no resource can hold (a UUID, a long
random string, an integer over 2·10⁹) or to malformed ones, never to a PUT that can create (one
that documents a 201), and still through the guard (`_guard`), which checks before any write;
a duplicate or missing create goes where the run's own create went, and what it makes is
journaled and removed like any item the run made.
Decided by the spec's documented responses and path parameters alone: no ``x-`` declaration.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import jsonschema_rs
from schemathesis.config import SchemathesisConfig

from conformance.contract import Operation, Spec
from conformance.masking import mask
from conformance.suite._engine import (
    SAFE_METHODS,
    STOPPING,
    EngineRun,
    OperationRecord,
    _fold,
    no_local_constants,
    schemathesis_schema,
)
from conformance.suite._unique import refreshed

#: the phase name the reach's cases carry in failures and reports
PHASE = "reach"
#: what a malformed id is answered with
MALFORMED_STATUSES = frozenset({400, 422})
#: an integer id that names nothing: past the ids databases hand out in practice, within int32
ABSENT_INTEGER, ABSENT_SPREAD = 2_000_000_000, 100_000_000


@dataclass(frozen=True)
class Probe:
    """One request the reach sends: an operation, what it must earn, its path parameters."""

    operation_id: str
    label: str
    method: str
    #: "absent" (a 404), "malformed" (a 400 or 422), "nul" (a NUL byte in free text: a read's
    #: query, or a create's body), "duplicate", "missing" or "taken" (a create's body)
    kind: str
    path_parameters: Mapping[str, Any] = field(default_factory=dict)
    #: query parameters the probe sets (over the drawn case's)
    query: Mapping[str, Any] = field(default_factory=dict)
    #: the body a duplicate sends (the one a create was answered 2xx for), a missing, a taken
    #: or a nul one
    body: Any = None
    #: the member a missing one leaves out, as schemathesis words it (``article -> Missing
    #: required property: description``), the one a taken one sets (``article.title``), or
    #: those a nul one puts a NUL byte in
    member: str = ""


def documents(spec: Spec, operation: Operation, status: int) -> bool:
    """Whether the operation documents ``status`` (itself, its class such as ``4XX``, or
    ``default``)."""
    return spec.documented_response(operation, status) is not None


def _validator(schema: Any) -> Any | None:
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True)
    except (ValueError, TypeError):  # a schema jsonschema_rs cannot compile: nothing decided
        return None


def absent_value(schema: Any, rng: random.Random) -> tuple[Any, bool] | None:
    """A value of ``schema``'s type and format that names nothing, and whether it is drawn
    from a space too large for any resource to hold (only those go into writes); None when the
    schema leaves no such value (an enum, a short pattern this cannot meet)."""
    schema = schema if isinstance(schema, dict) else {}
    if "enum" in schema or "const" in schema:
        return None  # every value it allows may name something
    validator = _validator(schema)
    if validator is None:
        return None
    kind = schema.get("type")
    candidates: list[tuple[Any, bool]] = []
    if kind in ("integer", "number"):
        candidates.append((ABSENT_INTEGER + rng.randrange(ABSENT_SPREAD), True))
        highest = schema.get("maximum")
        if isinstance(highest, int) and not isinstance(highest, bool):
            candidates.append((highest - rng.randrange(min(1000, max(highest, 1))), False))
    elif schema.get("format") == "uuid":
        candidates.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), True))
    else:
        token = f"{rng.getrandbits(64):016x}"
        shortest, longest = schema.get("minLength"), schema.get("maxLength")
        text = "absent" + token
        if isinstance(shortest, int) and len(text) < shortest:
            text += "0" * (shortest - len(text))
        if isinstance(longest, int):
            text = text[: max(longest, 1)]
        candidates.append((text, len(text) >= 16))
        candidates.append((token, True))  # digits and a-f only: a hexadecimal key
        candidates.append((str(int(token, 16)), True))  # digits only
    for value, unguessable in candidates:
        if validator.is_valid(value):
            return value, unguessable
    pattern = schema.get("pattern")
    if kind in (None, "string") and isinstance(pattern, str):
        drawn = _matching(pattern, validator, rng.getrandbits(32))
        if drawn is not None:  # random, in a space of unknown size: for reads only
            return drawn, False
    return None


#: values drawn for a pattern; the last that fits is taken (the first is the simplest, "000…")
PATTERN_DRAWS = 10


def _matching(pattern: str, validator: Any, seed: int) -> str | None:
    """A random string that ``pattern`` (and the rest of the schema) accepts."""
    from hypothesis import strategies

    try:
        values = strategies.from_regex(pattern, fullmatch=True)
    except Exception:  # a pattern Python's re does not read (ECMA-only syntax)
        return None
    found: list[str] = []

    @hypothesis.settings(
        max_examples=PATTERN_DRAWS,
        phases=[hypothesis.Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(values)
    def pick(value: str) -> None:
        if "/" not in value and validator.is_valid(value):
            found.append(value)

    try:
        with no_local_constants():  # the same draw after any edit of our code, and no scan
            pick()
    except Exception:
        return None
    return found[-1] if found else None


def malformed_value(schema: Any, rng: random.Random) -> str | None:
    """A path segment that ``schema`` refuses (its type, format, pattern, enum or length), and
    that cannot name anything; None when the schema takes any text (nothing to break)."""
    schema = schema if isinstance(schema, dict) else {}
    validator = _validator(schema)
    if validator is None:
        return None
    # "~" is unreserved in a URL (sent as it is) and outside the patterns ids are written in
    for candidate in (f"malformed~{rng.getrandbits(32):08x}", "~"):
        if not validator.is_valid(candidate):
            return candidate
    return None


#: the required members a create is sent without, each in its own request; the members a
#: create is sent with a taken value in
MISSING_PER_CREATE, TAKEN_PER_CREATE = 4, 2


#: what a duplicate is answered with when the API refuses a key it holds (not an upsert)
REFUSED_REPEAT = frozenset({400, 409, 422})

#: the names a key goes by, whose members a taken create sets first
KEY_NAME = re.compile(r"(?i)(title|name|slug|key|code|email|login|handle)$")


def taken_bodies(
    body: Any,
    held: Mapping[str, Sequence[str]],
    fresh: Callable[[], Any] | None = None,
    limit: int | None = None,
) -> list[tuple[str, Any]]:
    """``body`` with one free-text member set to a value another item holds, for each member
    (nested ones too) and each value ``held`` knows of it: a key's name (`KEY_NAME`) first,
    then in the body's order; the member's name and the body. ``fresh()``: the body each one
    starts from instead (fresh text in its other keys, so that only the taken one repeats);
    the first ``limit`` of them."""
    found: list[tuple[bool, tuple[str, ...], str]] = []

    def walk(value: Any, trail: tuple[str, ...]) -> None:
        if not isinstance(value, dict):
            return
        for name, member in value.items():
            if isinstance(member, dict):
                walk(member, (*trail, name))
            elif isinstance(member, str):
                for other in held.get(name, ()):
                    if other != member:
                        found.append((not KEY_NAME.search(name), (*trail, name), other))

    walk(body, ())
    found.sort(key=lambda item: item[0])  # stable: the body's order within each
    return [
        (".".join(trail), _with(fresh() if fresh is not None else body, trail, other))
        for _, trail, other in found[:limit]
    ]


def _with(body: dict[str, Any], trail: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``body`` with ``value`` at ``trail`` (the objects on the way copied)."""
    head, *rest = trail
    return {**body, head: _with(body[head], tuple(rest), value) if rest else value}


def missing_members(spec: Spec, schema: Any, body: Any) -> list[tuple[str, dict[str, Any]]]:
    """``body`` without each required member it holds, nested objects included, the deepest
    first (a wrapper's members before the wrapper): what each leaves out, as schemathesis's
    coverage phase words it, and the body without it."""
    found: list[tuple[int, int, str, dict[str, Any]]] = []

    def walk(schema: Any, value: Any, trail: tuple[str, ...]) -> Any:
        resolved = spec.deref(schema)
        if not isinstance(resolved, Mapping) or not isinstance(value, dict):
            return
        if {"oneOf", "anyOf"} & set(resolved):
            return  # another branch may not require it
        properties = spec.properties(resolved)
        required = spec.required(resolved)
        for name in value:
            sub = properties.get(name)
            if sub is not None:
                walk(sub, value[name], (*trail, name))
        for order, name in enumerate(sorted(required)):
            member = spec.deref(properties.get(name, {}))
            member = member if isinstance(member, Mapping) else {}
            if name not in value or "default" in member or member.get("readOnly"):
                continue
            words = " -> ".join([*trail, f"Missing required property: {name}"])
            found.append((-len(trail), order, words, _without(body, (*trail, name))))

    walk(schema, body, ())
    found.sort(key=lambda item: item[:2])
    return [(words, without) for _, _, words, without in found]


def _without(body: dict[str, Any], trail: tuple[str, ...]) -> dict[str, Any]:
    """``body`` without the member at ``trail`` (the objects on the way copied)."""
    head, *rest = trail
    if not rest:
        return {name: value for name, value in body.items() if name != head}
    return {**body, head: _without(body[head], tuple(rest))}


#: free text with a NUL byte inside (``\x00`` is percent-encoded as ``%00`` on the wire)
NUL_TEXT = "conformance\x00nul"


def free_text(schema: Any, text: str = NUL_TEXT) -> bool:
    """Whether a string's schema lets ``text`` (``NUL_TEXT`` unless given) through: no enum,
    const or format, and no pattern or length it breaks. A NUL sent there must be answered,
    never a 5xx."""
    schema = schema if isinstance(schema, dict) else {}
    if schema.get("type") != "string" or {"enum", "const", "format"} & set(schema):
        return False
    validator = _validator(schema)
    return validator is not None and validator.is_valid(text)


def nul_probe(spec: Spec, operation: Operation) -> Probe | None:
    """A read with every free-text query parameter holding a NUL byte; None when it has none."""
    if operation.method.upper() not in SAFE_METHODS:
        return None
    names = [
        p.name
        for p in operation.parameters
        if p.location == "query" and free_text(spec.deref(dict(p.schema)))
    ]
    if not names:
        return None
    query = dict.fromkeys(names, NUL_TEXT)
    method = operation.method.upper()
    return Probe(str(operation.operation_id), operation.label, method, "nul", {}, query)


def _with_nul(text: str, schema: Any) -> str | None:
    """``text`` with a NUL byte in its middle (in place of a character, so its length stays),
    or after it; the first of those that ``schema`` takes as free text (`free_text`), None if
    neither."""
    middle = len(text) // 2
    for candidate in (text[:middle] + "\x00" + text[middle + 1 :], text + "\x00"):
        if free_text(schema, candidate):
            return candidate
    return None


def nul_body(spec: Spec, schema: Any, body: Any) -> tuple[list[str], dict[str, Any]] | None:
    """``body`` with a NUL byte inside each free-text member it holds (nested objects too: a
    string whose schema has no enum, const or format and takes the byte), and those members'
    names (``article.title``); None when it holds none."""
    names: list[str] = []

    def walk(schema: Any, value: Any, trail: tuple[str, ...]) -> Any:
        resolved = spec.deref(schema)
        if not isinstance(resolved, Mapping) or not isinstance(value, dict):
            return value
        if {"oneOf", "anyOf"} & set(resolved):
            return value  # which branch judges a member is not read here
        properties = spec.properties(resolved)
        changed = dict(value)
        for name, member in value.items():
            declared = properties.get(name)
            sub = spec.deref(declared) if declared is not None else None
            if isinstance(member, dict):
                changed[name] = walk(sub, member, (*trail, name))
                continue
            if not isinstance(member, str) or not isinstance(sub, Mapping):
                continue
            nul = _with_nul(member, dict(sub))
            if nul is not None:
                changed[name] = nul
                names.append(".".join((*trail, name)))
        return changed

    changed = walk(schema, body, ())
    return (names, changed) if names else None


def plan(
    spec: Spec,
    operation_ids: Iterable[str],
    records: Mapping[str, OperationRecord],
    *,
    seed: int,
    read_only: bool = False,
    accepted: Mapping[str, tuple[Mapping[str, str], Any]] | None = None,
    held: Mapping[str, Sequence[str]] | None = None,
) -> list[Probe]:
    """The requests the reach sends: for each operation with path parameters, one for a
    documented 404 and one for a documented 400/422 that ``records`` has not yet seen; for each
    create in ``accepted`` (its path -> the path parameters and body of the last create it
    answered 2xx), that create again, once without each of its required members, with
    ``held`` (free-text member names -> values other items hold) with a taken key, and with
    NUL bytes in its free text."""
    probes: list[Probe] = []
    wanted = set(operation_ids)
    for path, (parameters, body) in sorted((accepted or {}).items()):
        create = spec.operation_at("POST", path)
        if read_only or create is None or create.operation_id not in wanted:
            continue
        values = dict(parameters)
        probes.append(
            Probe(str(create.operation_id), create.label, "POST", "duplicate", values, body=body)
        )
        schema = spec.request_schema(create)
        for words, without in missing_members(spec, schema, body)[:MISSING_PER_CREATE]:
            missing = Probe(str(create.operation_id), create.label, "POST", "missing", values)
            fresh = refreshed(spec, schema, without)  # each its own keys: none may repeat
            probes.append(dataclasses.replace(missing, body=fresh, member=words))
        if isinstance(body, dict) and held:
            renewed = functools.partial(refreshed, spec, schema, body)
            for name, taken in taken_bodies(body, held, renewed, TAKEN_PER_CREATE):
                probe = Probe(str(create.operation_id), create.label, "POST", "taken", values)
                probes.append(dataclasses.replace(probe, body=taken, member=name))
        nulled = nul_body(spec, schema, refreshed(spec, schema, body))
        if nulled is not None:
            names, with_nul = nulled
            probe = Probe(str(create.operation_id), create.label, "POST", "nul", values)
            probes.append(dataclasses.replace(probe, body=with_nul, member=", ".join(names)))
    for operation_id in sorted(wanted):
        operation = spec.operation(operation_id)
        if operation is None:
            continue
        nul = nul_probe(spec, operation)  # its path parameters as the drawn case has them
        if nul is not None:
            probes.append(nul)
        if not operation.path_parameters:
            continue
        method = operation.method.upper()
        safe = method in SAFE_METHODS
        if read_only and not safe:
            continue
        record = records.get(operation.label)
        seen = set(record.statuses) if record is not None else set()
        wants_404 = documents(spec, operation, 404) and 404 not in seen
        wants_400 = not seen & MALFORMED_STATUSES and any(
            documents(spec, operation, status) for status in MALFORMED_STATUSES
        )
        if not wants_404 and not wants_400:
            continue  # both already earned: nothing to draw (a pattern's draw is a search)
        rng = random.Random(f"{seed}:{operation_id}")  # reproducible: the seed says the request
        schemas = {p.name: spec.deref(dict(p.schema)) for p in operation.path_parameters}
        # an absent id is drawn where it is sent: the 404's request, or beside a malformed one
        drawn = wants_404 or len(schemas) > 1
        absent = (
            {name: absent_value(schema, rng) for name, schema in schemas.items()} if drawn else {}
        )
        known = {name: found for name, found in absent.items() if found is not None}
        # a read may take the drawn case's value where no absent one is known (a pattern this
        # cannot meet); a write only ids no resource can hold, and never a PUT that may create
        complete = len(known) == len(schemas)
        unguessable = complete and all(found[1] for found in known.values())
        creates = method == "PUT" and documents_exactly(spec, operation, 201)
        allowed = safe or (unguessable and not creates)
        if wants_404 and known and allowed:
            values = {name: value for name, (value, _) in known.items()}
            probes.append(Probe(operation_id, operation.label, method, "absent", values))
        if wants_400:
            for name in reversed(list(schemas)):  # the item's own id is the last
                broken = malformed_value(schemas[name], rng)
                if broken is None:
                    continue
                others = {other: value for other, (value, _) in known.items() if other != name}
                if safe or len(others) + 1 == len(schemas):
                    values = {**others, name: broken}
                    probes.append(Probe(operation_id, operation.label, method, "malformed", values))
                break
    return probes


def documents_exactly(spec: Spec, operation: Operation, status: int) -> bool:
    """Whether the operation documents ``status`` itself (a PUT's 201: it may create)."""
    return any(str(key) == str(status) for key, _, _ in spec.responses(operation))


@dataclass
class _Reached:
    """What `_fold` reads of a finished scenario."""

    recorder: Any
    phase: str = PHASE


def reach(
    run: EngineRun,
    spec: Spec,
    config: SchemathesisConfig,
    operation_ids: Iterable[str],
    prepare: Callable[[Any], AbstractContextManager[None]] | None,
    progress: Callable[[str], None],
    *,
    seed: int,
    read_only: bool = False,
    fail_fast: bool = False,
    deadline: float | None = None,
    accepted: Mapping[str, tuple[Mapping[str, str], Any]] | None = None,
    held: Mapping[str, Sequence[str]] | None = None,
    disposable: bool = False,
) -> int:
    """Send `plan`'s requests through schemathesis, judged by the run's checks, folded into
    ``run``'s records; the number sent. A taken create only after its duplicate was refused,
    unless the target is ``disposable``. Nothing once the run's ``deadline`` (``time.time()``)
    has passed or the engine was cut short, nor after a failure in a fail-fast run."""
    if fail_fast and any(record.failures for record in run.records.values()):
        return 0  # the verdict is in
    if getattr(run, "cut_short", False):
        return 0
    probes = plan(
        spec,
        operation_ids,
        run.records,
        seed=seed,
        read_only=read_only,
        accepted=accepted,
        held=held,
    )
    if not probes:
        return 0
    from schemathesis.engine.context import EngineContext
    from schemathesis.engine.run import PhaseName
    from schemathesis.engine.run.unit._case import run_one_case
    from schemathesis.engine.run.unit._scenario import start_scenario

    loaded = schemathesis_schema(spec, config)
    schema = loaded.include(operation_id=sorted({probe.operation_id for probe in probes}))
    sent = 0
    with prepare(schema) if prepare is not None else contextlib.nullcontext(), no_local_constants():
        ctx = EngineContext(schema=schema, stop_event=threading.Event())
        try:
            drawn: dict[str, Any] = {}
            refused: set[str] = set()  # creates whose duplicate was refused as a repeated key
            for probe in probes:
                if STOPPING.is_set():
                    raise KeyboardInterrupt
                if fail_fast and any(record.failures for record in run.records.values()):
                    break
                if deadline is not None and time.time() >= deadline:
                    break
                record = run.records.get(probe.label)
                if record is None:
                    continue
                operation = schema.find_operation_by_label(probe.label)
                if operation is None:
                    continue
                if probe.kind == "taken" and not (disposable or probe.operation_id in refused):
                    continue  # it may upsert: another user's item would be written over
                if probe.operation_id not in drawn:
                    drawn[probe.operation_id] = _draw(operation, seed)
                case = _case(operation, spec, probe, drawn[probe.operation_id])
                if case is None:
                    continue
                scenario = start_scenario(
                    operation=operation,
                    ctx=ctx,
                    phase=PhaseName.EXAMPLES,
                    suite_id=uuid.uuid4(),
                    scenario_id=uuid.uuid4(),
                )
                before = collections.Counter(record.statuses)
                errors: list[Exception] = []
                sent += 1
                try:
                    run_one_case(
                        case=case, ctx=ctx, scenario=scenario, errors=errors, pending_events=[]
                    )
                except KeyboardInterrupt:
                    raise
                except Exception as raised:  # the engine's per-case errors: unreachable, timeout
                    if not errors:
                        errors.append(raised)
                _fold(_Reached(scenario.recorder), run.records)
                if probe.kind == "duplicate":
                    answered = set(record.statuses - before)
                    if answered & REFUSED_REPEAT and not any(200 <= s < 300 for s in answered):
                        refused.add(probe.operation_id)
                for error in errors:
                    record.errors.append(mask(f"{PHASE}: {type(error).__name__}: {error}"))
        finally:  # the connection pool the context made for this thread
            session = getattr(ctx._thread_local, "session", None)
            if session is not None:
                session.close()
    kinds = sorted({probe.kind for probe in probes})
    progress(
        f"{run.api}: reach: {sent} requests for what the engine's draws may miss "
        f"({', '.join(kinds)})"
    )
    return sent


def _draw(operation: Any, seed: int) -> Any | None:
    """One positive case of the operation at the run's seed (its query, headers and body); None
    when the schema gives none."""
    from schemathesis.generation import GenerationMode

    found: list[Any] = []

    @hypothesis.settings(
        max_examples=1,
        phases=[hypothesis.Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(operation.as_strategy(GenerationMode.POSITIVE))
    def pick(case: Any) -> None:
        found.append(case)

    try:
        pick()
    except Exception:  # an operation the strategy cannot generate for: a bare case instead
        return None
    return found[0] if found else None


def _case(operation: Any, spec: Spec, probe: Probe, drawn: Any | None) -> Any | None:
    """The probe as a schemathesis case: the drawn case's declared query, headers and cookies and
    its body, the probe's path parameters (a read takes the drawn case's for those the probe has
    none of), the run's auth. None when a part it needs could not be drawn."""
    from schemathesis.auths import AuthContext, set_on_case
    from schemathesis.core import NOT_SET

    ours = spec.operation(probe.operation_id)
    if ours is None:
        return None
    declared = {(p.location, p.name.lower()) for p in ours.parameters}

    def kept(values: Any, location: str) -> dict[str, Any]:
        return {
            str(name): value
            for name, value in dict(values or {}).items()
            if (location, str(name).lower()) in declared
        }

    path_parameters = dict(probe.path_parameters)
    for parameter in ours.path_parameters:
        if parameter.name not in path_parameters:
            value = (drawn.path_parameters or {}).get(parameter.name) if drawn else None
            if value is None or probe.method not in SAFE_METHODS:
                return None
            path_parameters[parameter.name] = value
    body: Any = NOT_SET
    media_type = None
    if probe.body is not None:  # a create's: duplicate, missing, taken, nul
        body, media_type = probe.body, drawn.media_type if drawn is not None else None
        media_type = media_type or "application/json"
    elif drawn is not None:
        body, media_type = drawn.body, drawn.media_type
    elif (spec.deref(ours.definition.get("requestBody")) or {}).get("required"):
        return None
    query = kept(drawn.query, "query") if drawn is not None else {}
    case = operation.Case(
        path_parameters=path_parameters,
        query={**query, **probe.query},
        headers=kept(drawn.headers, "header") if drawn is not None else {},
        cookies=kept(drawn.cookies, "cookie") if drawn is not None else {},
        body=body,
        media_type=media_type,
    )
    if probe.kind == "missing":
        _negative(case, probe.member)
    elif probe.kind == "nul" and probe.body is not None:
        _positive(case, f"NUL byte in {probe.member}")
    set_on_case(case, AuthContext(operation=operation, app=None), None)
    return case


def _positive(case: Any, words: str) -> None:
    """Give a nul create the metadata of a positive case of schemathesis's coverage phase (a
    valid string), ``words`` its description, so ``positive_data_acceptance`` judges it."""
    from schemathesis.generation import GenerationMode
    from schemathesis.generation.meta import CoverageScenario

    _covered(case, GenerationMode.POSITIVE, CoverageScenario.VALID_STRING, words)


def _negative(case: Any, words: str) -> None:
    """Give a missing case what schemathesis's coverage phase gives its own: a negative body,
    ``words`` its description, so ``negative_data_rejection`` judges it."""
    from schemathesis.generation import GenerationMode
    from schemathesis.generation.meta import CoverageScenario

    _covered(
        case, GenerationMode.NEGATIVE, CoverageScenario.OBJECT_MISSING_REQUIRED_PROPERTY, words
    )


def _covered(case: Any, mode: Any, scenario: Any, words: str) -> None:
    """``case``'s body as one of schemathesis's coverage phase, of generation ``mode``, its
    ``scenario`` and description ``words``. The body is set again so that schemathesis
    revalidates it: a missing case whose body its schema still takes (through a ``$ref``
    sibling this did not read) turns positive, and is judged as a positive case."""
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.generation.meta import CaseMetadata, ComponentInfo, GenerationInfo, PhaseInfo

    body = ParameterLocation.BODY
    case._meta = CaseMetadata(
        generation=GenerationInfo(time=0.0, mode=mode),
        components={body: ComponentInfo(mode=mode)},
        phase=PhaseInfo.coverage(scenario=scenario, description=words, parameter_location=body),
    )
    case.body = case.body
