"""Every answer a scenario gets is judged as the fuzzing judges its answers: by schemathesis's
response-only checks and the contract's own (`conformance.checks`), on the operation the spec
documents. An undocumented status, a body that breaks its schema or a leak inside a scenario is
a finding of that check, recorded beside the scenario's own rules, never a crash of it.

Checks that send requests of their own (``ignored_auth``, ``unsupported_method``, the stateful
ones) are left out: they would land inside a rate-limit burst or a token's expiry. So are the
ones about the data a case was generated as (``positive_data_acceptance``,
``negative_data_rejection``): a scenario's requests are written, not generated. A 429 that says
when to come back is not judged, as in the fuzzing (the transport's ``throttled``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from schemathesis.checks import CHECKS, load_all_checks

from conformance.checks import CHECK_NAMES, throttled
from conformance.contract import Operation, Spec
from conformance.suite._engine import schemathesis_schema

#: schemathesis's checks that judge one answer and send nothing, then the contract's
RESPONSE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    *(name for name in CHECK_NAMES if name != "latency_sample"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One check that failed on one answer."""

    check: str
    title: str
    message: str
    #: the catalogue's id of the rule broken (the check's name for schemathesis's own)
    rule: str = ""
    #: the problems found, one each (`conformance.suite._engine.lines_of`)
    lines: tuple[str, ...] = ()


#: schemathesis's schema of each spec judged, by its file and the overlays applied to it
_SCHEMAS: dict[tuple[Path, tuple[Path, ...]], Any] = {}
_SCHEMAS_KEPT = 8


def _schema(spec: Spec) -> Any:
    key = (spec.path, spec.document.overlays)
    found = _SCHEMAS.get(key)
    if found is None:
        found = _SCHEMAS[key] = schemathesis_schema(spec)
        while len(_SCHEMAS) > _SCHEMAS_KEPT:
            del _SCHEMAS[next(iter(_SCHEMAS))]
    return found


@functools.cache
def _checks() -> tuple[Any, ...]:
    load_all_checks()
    found = {check.__name__: check for check in CHECKS.get_all()}
    return tuple(found[name] for name in RESPONSE_CHECKS if name in found)


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


class ResponseJudge:
    """The checks of one spec, run on answers to its operations."""

    def __init__(self, spec: Spec) -> None:
        self.schema = _schema(spec)

    def judge(self, operation: Operation, response: httpx.Response) -> list[Finding]:
        if throttled(response.status_code, response.headers.get("Retry-After")):
            return []  # the fuzzing leaves these unjudged too
        found = self.schema.find_operation_by_label(operation.label)
        if found is None:
            return []
        match = _template(operation.path).search(response.request.url.path)
        case = found.Case(
            method=operation.method.upper(),
            path_parameters=match.groupdict() if match else {},
            query=dict(response.request.url.params),
        )
        findings = []
        for check in _checks():
            try:
                case.validate_response(response, checks=[check])
            except (AssertionError, BaseExceptionGroup) as error:  # a Failure, or a group
                for failure in getattr(error, "exceptions", None) or [error]:
                    findings.append(_finding(check.__name__, failure))
        return findings


def _finding(check: str, failure: BaseException) -> Finding:
    message = str(getattr(failure, "message", "") or failure)
    lines = getattr(failure, "lines", None)
    return Finding(
        check,
        str(getattr(failure, "title", "") or check),
        message,
        rule=str(getattr(failure, "rule", "") or check),
        lines=(
            tuple(lines)
            if isinstance(lines, tuple)
            else tuple(line for line in message.splitlines() if line.strip())
        ),
    )
