"""The contract's response rules registered as schemathesis checks: they run in `conformance run`
and in ``st run`` alike (``SCHEMATHESIS_HOOKS=conformance.checks``, ``--checks all`` or by name).

Each check turns a schemathesis response into an `Exchange` and fails with an ``AssertionError``
naming every problem its rule found. ``latency_sample`` never fails: it keeps the response time
of every answer, by operation, for the latency verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import schemathesis

from conformance.checks import _rules as rules
from conformance.checks._rules import Exchange

#: samples kept per operation at most (a bound on memory in a long run)
MAX_SAMPLES = 100_000


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


def _fail(rule: Callable[[Exchange], list[str]], response: Any, case: Any) -> None:
    problems = rule(exchange_of(response, case))
    if problems:
        raise AssertionError("; ".join(problems))


@schemathesis.check
def error_envelope(ctx: Any, response: Any, case: Any) -> None:
    """An error answers an ErrorResponse whose statusCode is the status (CONTRACT.md §1)."""
    _fail(rules.error_envelope, response, case)


@schemathesis.check
def pagination(ctx: Any, response: Any, case: Any) -> None:
    """A page's counters agree with each other and with its items (CONTRACT.md §3)."""
    _fail(rules.pagination, response, case)


@schemathesis.check
def request_id(ctx: Any, response: Any, case: Any) -> None:
    """X-Request-ID echoed, and equal to the body's requestId (CONTRACT.md §8)."""
    _fail(rules.request_id, response, case)


@schemathesis.check
def nosniff(ctx: Any, response: Any, case: Any) -> None:
    """X-Content-Type-Options: nosniff on every answer (CONTRACT.md §8)."""
    _fail(rules.nosniff, response, case)


@schemathesis.check
def rate_limit_headers(ctx: Any, response: Any, case: Any) -> None:
    """X-RateLimit-* on every answer; a 429 carries Retry-After (CONTRACT.md §6)."""
    _fail(rules.rate_limit_headers, response, case)


@schemathesis.check
def no_leaks(ctx: Any, response: Any, case: Any) -> None:
    """No stack trace, SQL or server path in a body the request did not put there (§8)."""
    _fail(rules.leaks, response, case)


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


#: the names ``st run --checks`` knows them by
CHECK_NAMES = (
    "error_envelope",
    "pagination",
    "request_id",
    "nosniff",
    "rate_limit_headers",
    "no_leaks",
    "latency_sample",
)
