"""The contract's response rules registered as schemathesis checks: they run in `conformance run`
and in ``st run`` alike (``SCHEMATHESIS_HOOKS=conformance.checks``, ``--checks all`` or by name).

One check is registered for each rule of the catalogue of kind ``check``, from its function in
`_rules.RULES`; the two lists must agree, or importing this module fails. A check judges an
answer only where the catalogue says its rule applies (`catalogue.applies`, on our reading of
the spec the case belongs to); elsewhere it records no result, so a third-party spec is held
only to what it declares. A rule that fails raises a `ContractFailure` naming it.
``latency_sample`` never fails: it keeps the response time of every answer, by operation, for
the latency verdict.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.core.failures import Severity as StSeverity

from conformance import catalogue
from conformance.catalogue import Kind, Scope, Severity
from conformance.checks import _rules as rules
from conformance.checks._rules import Exchange
from conformance.contract import Operation, Spec, SpecDocument, read_spec
from conformance.errors import SpecError

#: samples kept per operation at most (a bound on memory in a long run)
MAX_SAMPLES = 100_000
#: specs read from schemathesis's schemas kept at once (a run has one or two)
SPECS_KEPT = 8
#: decisions (a rule on an operation's status) kept per spec: deciding reads the spec's
#: schemas, about 0.4 ms for the six checks of one answer on a spec without the strict opt-in
DECISIONS_KEPT = 20_000

_ST_SEVERITY = {
    Severity.BLOCKER: StSeverity.CRITICAL,
    Severity.CRITICAL: StSeverity.CRITICAL,
    Severity.NORMAL: StSeverity.MEDIUM,
    Severity.MINOR: StSeverity.LOW,
    Severity.TRIVIAL: StSeverity.LOW,
}


class ContractFailure(Failure):
    """A contract rule broken by one answer: ``rule`` is its catalogue id, ``lines`` the problems
    found, one sentence each. Its title is the rule's words, its message the lines."""

    code = "ST901"
    checks = catalogue.ids(Kind.CHECK)
    kind_title = "Contract rule broken"

    __slots__ = ("lines", "rule")

    def __init__(
        self,
        *,
        rule: str,
        lines: Iterable[str],
        operation: str | None,
        case_id: str | None = None,
    ) -> None:
        found = catalogue.rule(rule)
        self.rule = rule
        self.lines = tuple(lines)
        super().__init__(
            operation=operation,
            title=found.words,
            message="\n".join(self.lines),
            case_id=case_id,
            severity=_ST_SEVERITY[found.severity],
        )

    @property
    def _unique_key(self) -> str:
        # one finding per rule and operation, as schemathesis keeps one per check of its own
        return self.rule


def exchange_of(response: Any, case: Any) -> Exchange:
    """A schemathesis response (and its request) as the rules read it."""
    request = response.request
    sent_headers = {str(k): str(v) for k, v in request.headers.items()}
    headers = {
        str(name): ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in response.headers.items()
    }
    return Exchange(
        method=str(request.method),
        path=str(getattr(case, "path", "") or request.path_url),
        status=int(response.status_code),
        headers=headers,
        body=bytes(response.content or b""),
        request_headers=sent_headers,
        request_text=rules.request_text(str(request.url), request.body or b"", sent_headers),
    )


# --- the spec a case belongs to -----------------------------------------------------------


@dataclass(slots=True)
class _Read:
    """Our reading of one schemathesis schema, its operations by label and the decisions of
    `_where`, as asked."""

    raw: Any  #: the document read, held so that its id is not reused while cached
    spec: Spec | None
    operations: dict[str, Operation | None] = field(default_factory=dict)
    decisions: dict[tuple[str, str, int], Mapping[str, Any] | None] = field(default_factory=dict)


_READ: collections.OrderedDict[int, _Read] = collections.OrderedDict()
_READ_LOCK = threading.Lock()


def _read(raw: Any) -> _Read:
    """Our reading of ``raw`` (a schema's ``raw_schema``), read once per document: the schemas
    ``include`` filters share their parent's."""
    with _READ_LOCK:
        found = _READ.get(id(raw))
        if found is not None and found.raw is raw:
            _READ.move_to_end(id(raw))
            return found
        found = _Read(raw, _spec_from(raw))
        _READ[id(raw)] = found
        while len(_READ) > SPECS_KEPT:
            _READ.popitem(last=False)
        return found


def _spec_from(raw: Any) -> Spec | None:
    """The spec in a document schemathesis read; None for one that is not OpenAPI 3 (Swagger
    2.0) or that we cannot read: there only the rules that apply everywhere judge."""
    if not isinstance(raw, dict) or not str(raw.get("openapi", "")).startswith("3."):
        return None
    try:
        return read_spec(SpecDocument(Path("<schemathesis schema>"), raw, {}))
    except SpecError:
        return None


def spec_and_operation(case: Any) -> tuple[Spec | None, Operation | None]:
    """Our spec and operation for a schemathesis case (None for an operation it does not
    document, or a spec we cannot read)."""
    operation = case.operation
    read = _read(operation.schema.raw_schema)
    if read.spec is None:
        return None, None
    label = str(operation.label)
    if label not in read.operations:
        read.operations[label] = _operation_of(read.spec, operation)
    return read.spec, read.operations[label]


def _operation_of(spec: Spec, operation: Any) -> Operation | None:
    found = spec.operation_at(str(operation.method), str(operation.path))
    if found is not None:
        return found
    definition = getattr(getattr(operation, "definition", None), "raw", None)
    operation_id = definition.get("operationId") if isinstance(definition, Mapping) else None
    if operation_id is not None:
        found = spec.operation(str(operation_id))
    return found or next((o for o in spec.operations if o.label == operation.label), None)


# --- where a rule applies, and what it checks there ---------------------------------------


def applies(rule_id: str, spec: Spec | None, operation: Operation | None, status: int) -> bool:
    """Whether ``rule_id`` judges this answer; on a spec we cannot read, only a rule that
    applies everywhere does."""
    if catalogue.rule(rule_id).scope is Scope.EVERYWHERE:
        return True
    return spec is not None and bool(catalogue.applies(rule_id, spec, operation, status))


def declared_rate_headers(spec: Spec, operation: Operation | None, status: int) -> tuple[str, ...]:
    """The ``X-RateLimit-*`` headers an answer must carry: all of them under the strict opt-in
    or an operation's ``x-rate-limit``, else the ones its documented response declares."""
    if spec.declarations.strict or (operation is not None and operation.rate_limit is not None):
        return rules.RATE_HEADERS
    documented = spec.documented_response(operation, status) if operation else None
    said = spec.response_headers(documented[1]) if documented else set()
    return tuple(name for name in rules.RATE_HEADERS if name.lower() in said)


def _arguments(
    rule_id: str, spec: Spec | None, operation: Operation | None, status: int
) -> dict[str, Any]:
    """What a rule checks on this answer beyond its defaults: the members and headers the spec
    declares (all of them under the strict opt-in)."""
    if spec is None:
        return {}
    if rule_id == "error_envelope":
        members = catalogue.declared_members(spec, operation, status, catalogue.ERROR_MEMBERS)
        return {"members": members}
    if rule_id == "rate_limit_headers":
        return {
            "headers": declared_rate_headers(spec, operation, status),
            "body_members": catalogue.declared_members(
                spec, operation, status, catalogue.RATE_BODY
            ),
        }
    return {}


def _where(rule_id: str, case: Any, status: int) -> Mapping[str, Any] | None:
    """What ``rule_id`` checks in an answer with ``status`` to ``case``'s operation (its
    arguments beyond the defaults); None where it does not apply. Decided once per rule,
    operation and status."""
    read = _read(case.operation.schema.raw_schema)
    key = (rule_id, str(case.operation.label), status)
    if key in read.decisions:
        return read.decisions[key]
    spec, operation = spec_and_operation(case)
    decided = (
        _arguments(rule_id, spec, operation, status)
        if applies(rule_id, spec, operation, status)
        else None
    )
    if len(read.decisions) < DECISIONS_KEPT:
        read.decisions[key] = decided
    return decided


def judge(rule_id: str, response: Any, case: Any) -> tuple[str, ...] | None:
    """The problems ``rule_id`` finds in an answer; None where it does not apply."""
    arguments = _where(rule_id, case, int(response.status_code))
    if arguments is None:
        return None
    return tuple(rules.RULES[rule_id](exchange_of(response, case), **arguments))


def _registered(rule_id: str) -> Callable[..., bool | None]:
    def check(ctx: Any, response: Any, case: Any) -> bool | None:
        lines = judge(rule_id, response, case)
        if lines is None:
            return True  # not applicable: schemathesis records no result for it
        if lines:
            raise ContractFailure(rule=rule_id, lines=lines, operation=str(case.operation.label))
        return None

    check.__name__ = check.__qualname__ = rule_id
    check.__doc__ = f"{catalogue.rule(rule_id).words} (where the spec declares it)."
    return schemathesis.check(check)


def _register() -> dict[str, Callable[..., bool | None]]:
    listed = catalogue.ids(Kind.CHECK)
    if set(listed) != set(rules.RULES):
        raise RuntimeError(
            f"the catalogue's checks {sorted(listed)} and the rules of conformance.checks"
            f" {sorted(rules.RULES)} differ; give each check of the catalogue one rule"
        )
    return {rule_id: _registered(rule_id) for rule_id in listed}


#: catalogue id -> the check registered with schemathesis
CHECKS = _register()


class LatencySamples:
    """Response times by operation label, in seconds (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[str, list[tuple[int, float]]] = {}

    def add(self, label: str, status: int, seconds: float) -> None:
        with self._lock:
            kept = self._samples.setdefault(label, [])
            if len(kept) < MAX_SAMPLES:
                kept.append((status, seconds))

    def take(self) -> dict[str, list[tuple[int, float]]]:
        """Every sample so far, by operation, and forget them."""
        with self._lock:
            taken, self._samples = self._samples, {}
        return taken


SAMPLES = LatencySamples()


@schemathesis.check
def latency_sample(ctx: Any, response: Any, case: Any) -> None:
    """Keep the response time of every answer (CONTRACT.md §7 judges their p95 per operation)."""
    operation = getattr(case, "operation", None)
    label = str(getattr(operation, "label", None) or response.request.path_url)
    SAMPLES.add(label, int(response.status_code), float(response.elapsed))


#: the names ``st run --checks`` knows them by: the catalogue's checks, then the sampler
CHECK_NAMES = (*CHECKS, "latency_sample")
