"""``--target``: the old clients' view of the new backend, at run time.

Requests an old client could send are made from the **old** spec by schemathesis (each
operation's examples first, then a few positive cases it generates), sent to the new backend,
and each answer judged by the old spec: its status documented there, its media type and its
body valid against the old schema for that status (schemathesis's own checks,
``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``).
An answer that fails is ``old-client-broken``, with the request as curl: a backend that changed
its behaviour without changing its spec is caught here, where the static diff sees nothing.

Bounded: at most ``max_requests`` requests and ``max_seconds`` in all (the operations left are
named); GETs only unless the target is disposable (``--environment disposable``, as a run).
Operations that need credentials are left out, named: an old client has its own, and the diff
does not carry any.

This module reads schemathesis through its public API itself rather than through the suite
(`conformance.suite` builds its engine for whole runs, with the run's session, auth and
guard): the diff layer sits beside the suite, not above it, and needs only a schema, cases and
three checks.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterator
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.result import Ok

from conformance.contract import Operation, Spec
from conformance.diffing._model import Change, at
from conformance.diffing._report import OLD_CLIENT_BROKEN, Replayed
from conformance.errors import ConformanceError, ExitCode


class TargetUnreachable(ConformanceError):
    """The new backend cannot be reached: nothing was judged (exit 2, as a run's)."""

    exit_code = ExitCode.TARGET_BROKEN


#: schemathesis's checks an answer is judged by: the old spec's statuses, media types, bodies
CHECK_NAMES = ("status_code_conformance", "content_type_conformance", "response_schema_conformance")
#: positive cases generated per operation, after its examples (at most this many examples too)
CASES_PER_OPERATION = 3
#: seconds one request may take
REQUEST_SECONDS = 10.0


def replay(
    old: Spec, url: str, *, write: bool, max_requests: int, max_seconds: float
) -> tuple[Replayed, list[Change]]:
    """Replay the old spec's requests against ``url``; what was sent, and the broken answers."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(old.data))
    found = {
        result.ok().label: result.ok()
        for result in schema.get_all_operations()
        if isinstance(result, Ok)
    }
    checks = _checks()
    deadline = time.monotonic() + max_seconds
    sent, operations, broken = 0, 0, []
    skipped = _left_out(old, write)
    wanted = [op for op in old.operations if op.label not in skipped and op.label in found]
    cut_short = ""
    with requests.Session() as session:
        for index, operation in enumerate(wanted):
            if sent >= max_requests or time.monotonic() >= deadline:
                bound = f"{max_requests} requests" if sent >= max_requests else f"{max_seconds} s"
                cut_short = f"stopped at {bound}: {len(wanted) - index} operations not replayed"
                break
            operations += 1
            seen: set[str] = set()
            for case in _cases(found[operation.label]):
                if sent >= max_requests or time.monotonic() >= deadline:
                    break
                sent += 1
                problem = _judged(case, url, session, checks)
                if problem is not None and problem not in seen:
                    seen.add(problem)
                    broken.append(_broken(operation, case, url, problem))
    reasons = tuple(f"{label}: {why}" for label, why in skipped.items())
    return Replayed(url, sent, operations, reasons, cut_short), broken


def _left_out(old: Spec, write: bool) -> dict[str, str]:
    """The operations not replayed, with why."""
    found = {}
    for operation in old.operations:
        if operation.needs_credentials:
            found[operation.label] = "needs credentials"
        elif operation.method != "get" and not write:
            found[operation.label] = "writes (replayed on a disposable target only)"
    return found


def _checks() -> list[Any]:
    load_all_checks()
    by_name = {check.__name__: check for check in CHECKS.get_all()}
    return [by_name[name] for name in CHECK_NAMES]


def _cases(operation: Any) -> Iterator[Any]:
    """The operation's examples, then positive cases schemathesis generates (reproducibly)."""
    for strategy in operation.get_strategies_from_examples()[:CASES_PER_OPERATION]:
        yield from _drawn(strategy, 1)
    yield from _drawn(operation.as_strategy(), CASES_PER_OPERATION)


def _drawn(strategy: Any, count: int) -> list[Any]:
    drawn: list[Any] = []

    @hypothesis.settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(strategy)
    def draw(case: Any) -> None:
        if len(drawn) < count:
            drawn.append(case)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            draw()
        except Exception:  # a schema schemathesis cannot generate for: no cases
            return drawn
    return drawn


def _judged(case: Any, url: str, session: requests.Session, checks: list[Any]) -> str | None:
    """What is wrong with the answer by the old spec (None: nothing, or no answer at all)."""
    try:
        response = case.call(base_url=url, session=session, timeout=REQUEST_SECONDS)
    except requests.ConnectionError:
        raise TargetUnreachable(
            f"--target {url}: cannot connect; is the new backend running there?"
        ) from None
    except requests.RequestException as exc:
        return f"no answer within {REQUEST_SECONDS:g} s ({type(exc).__name__})"
    problems = []
    for check in checks:
        try:
            case.validate_response(response, checks=[check])
        except (AssertionError, BaseExceptionGroup) as error:
            for failure in getattr(error, "exceptions", None) or [error]:
                title = str(getattr(failure, "title", "") or check.__name__)
                problems.append(f"{check.__name__}: {title} (answered {response.status_code})")
    return "; ".join(problems) or None


def _broken(operation: Operation, case: Any, url: str, problem: str) -> Change:
    curl = case.as_curl_command(base_url=url)
    return Change(
        OLD_CLIENT_BROKEN,
        operation.pointer,
        f"the new backend's answer breaks the old spec: {problem}",
        detail=(curl,),
        **at(operation),
    )
