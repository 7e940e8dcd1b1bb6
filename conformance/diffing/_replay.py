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
Operations that need credentials are replayed with the token a run of the API would present
(``CONFORMANCE_<API>_TOKEN``, and ``_TOKEN_PREFIX`` for an apiKey header), as their scheme
says: a bearer, an apiKey header, query parameter or cookie; without one (or for a scheme that
takes no token) they are left out, named. The token never goes into the output: a curl names
it by its variable.

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
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.result import Ok

from conformance.contract import Operation, SecurityScheme, Spec
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


@dataclass(frozen=True)
class Credential:
    """The token an old client presents, and the variable that holds it (what a curl names)."""

    token: str = field(repr=False)
    variable: str
    #: what an apiKey header's value starts with (``Token``)
    prefix: str | None = None


@dataclass(frozen=True)
class Presented:
    """A credential where a request carries it."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    query: dict[str, str] = field(default_factory=dict, repr=False)
    cookies: dict[str, str] = field(default_factory=dict, repr=False)
    #: the curl options that show it by its variable
    shown: tuple[str, ...] = ()


def presented(spec: Spec, operation: Operation, credential: Credential | None) -> Presented | None:
    """How ``credential`` goes on a request to ``operation``: nothing for a public one; the
    first alternative of its security whose one scheme takes a token; None when it cannot."""
    if not operation.needs_credentials:
        return Presented()
    if credential is None:
        return None
    for alternative in spec.security_alternatives(operation):
        if len(alternative) == 1 and alternative[0].takes_token:
            return _placed(alternative[0], credential)
    return None


def _placed(scheme: SecurityScheme, credential: Credential) -> Presented:
    named = f"${credential.variable}"
    if scheme.is_bearer:
        shown = f'-H "Authorization: Bearer {named}"'
        return Presented({"Authorization": f"Bearer {credential.token}"}, shown=(shown,))
    name = str(scheme.parameter)
    if scheme.location == "header":
        prefix = f"{credential.prefix} " if credential.prefix else ""
        shown = f'-H "{name}: {prefix}{named}"'
        return Presented({name: prefix + credential.token}, shown=(shown,))
    if scheme.location == "query":
        return Presented(query={name: credential.token}, shown=(f"(query {name}={named})",))
    return Presented(cookies={name: credential.token}, shown=(f'-b "{name}={named}"',))


def replay(
    old: Spec,
    url: str,
    *,
    write: bool,
    max_requests: int,
    max_seconds: float,
    credential: Credential | None = None,
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
    skipped = _left_out(old, write, credential)
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
            carried = presented(old, operation, credential) or Presented()
            for case in _cases(found[operation.label]):
                if sent >= max_requests or time.monotonic() >= deadline:
                    break
                sent += 1
                problem = _judged(case, url, session, checks, carried)
                if problem is not None and problem not in seen:
                    seen.add(problem)
                    broken.append(_broken(operation, case, url, problem, carried))
    reasons = tuple(f"{label}: {why}" for label, why in skipped.items())
    return Replayed(url, sent, operations, reasons, cut_short), broken


def _left_out(old: Spec, write: bool, credential: Credential | None) -> dict[str, str]:
    """The operations not replayed, with why."""
    found = {}
    for operation in old.operations:
        if presented(old, operation, credential) is None:
            found[operation.label] = (
                "needs credentials (a token in CONFORMANCE_<API>_TOKEN)"
                if credential is None
                else "needs credentials no token can give (basic, mutual TLS, two schemes at once)"
            )
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


def _judged(
    case: Any, url: str, session: requests.Session, checks: list[Any], carried: Presented
) -> str | None:
    """What is wrong with the answer by the old spec (None: nothing, or no answer at all)."""
    try:
        response = case.call(
            base_url=url,
            session=session,
            timeout=REQUEST_SECONDS,
            headers=carried.headers or None,
            params=carried.query or None,
            cookies=carried.cookies or None,
        )
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


def _broken(operation: Operation, case: Any, url: str, problem: str, carried: Presented) -> Change:
    curl = " ".join([case.as_curl_command(base_url=url), *carried.shown])
    return Change(
        OLD_CLIENT_BROKEN,
        operation.pointer,
        f"the new backend's answer breaks the old spec: {problem}",
        detail=(curl,),
        **at(operation),
    )
