"""The contract's rules on one response, as plain functions: what schemathesis's own checks do not
judge (CONTRACT.md §1, §3, §6, §8). Each takes the exchange and returns the problems it finds, as
sentences; the schemathesis checks in this package turn them into failures, and the suite's
scenarios call them directly.

Whether a rule applies to an answer is not decided here but by the catalogue
(`conformance.catalogue.applies`). The rules that judge body members or headers a spec may
declare only in part take the ones it declares as arguments; their defaults are the whole set,
as the strict contract (``x-contract: strict``) has it.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance import catalogue

#: The members of a PaginatedResponse.
PAGE_MEMBERS = frozenset(catalogue.PAGE_MEMBERS)
#: a request id a backend must echo: 1 to 128 visible ASCII characters
ECHOED_ID = re.compile(r"^[!-~]{1,128}$")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

#: a folder or file name in a Windows path (a path has two at least: ``C:\app\x.dll``); not a
#: JSON escape (``\u00e9``), which text stored as JSON and served again shows: a soak run read
#: ``J:\ud92f\ude12`` in the audit log (a fuzzed name, JSON-encoded by the server) as a path
_SEGMENT = r"(?!u[0-9A-Fa-f]{4})[\w.-]+"
#: What a body must not reveal: a stack trace, SQL, a file path of the server (CONTRACT.md §8).
LEAKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Python stack trace", re.compile(r"Traceback \(most recent call last\)")),
    ("a stack frame", re.compile(r"File \"[^\"]+\", line \d+")),
    ("a Java or .NET stack frame", re.compile(r"\bat [\w$.]+\([\w$]+\.(?:java|cs):\d+\)")),
    ("a JavaScript stack frame", re.compile(r"\bat .+ \((?:/|[A-Za-z]:\\)[^)]+:\d+:\d+\)")),
    (
        "SQL",
        re.compile(
            r"\b(?:SELECT\s+[\w*, .\"`]+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b"
            r"|\bSQLSTATE\b|\bsqlite3\.\w+Error\b|\bpsycopg2?\.\w+|\bsqlalchemy\.exc\b",
            re.IGNORECASE,
        ),
    ),
    (
        "a server file path",
        re.compile(
            r"(?:^|[\s\"'(])(?:/(?:usr|srv|opt|home|var|app|etc|root)/[\w.\-/]+"
            rf"|[A-Za-z]:\\+(?:{_SEGMENT}\\+)+{_SEGMENT})"
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response, as the rules need them."""

    method: str
    path: str
    status: int
    #: response headers (any case)
    headers: Mapping[str, str]
    body: bytes
    request_headers: Mapping[str, str] = field(default_factory=dict)
    #: everything the request sent, as text: a leak that merely echoes it does not count
    request_text: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def sent_header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.request_headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        """The body as JSON; None when there is none or it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def error_envelope(
    exchange: Exchange, members: Iterable[str] = catalogue.ERROR_MEMBERS
) -> list[str]:
    """Every 4xx/5xx answers an ErrorResponse whose ``statusCode`` is the status (§1): of its
    members, ``members`` (the ones the documented error schema declares), and ``statusCode``
    equal to the status where it is one of them."""
    if exchange.status < 400:
        return []
    body = exchange.json()
    if not isinstance(body, dict):
        return [f"the {exchange.status} body is not a JSON ErrorResponse object"]
    members = tuple(members)
    problems = []
    missing = [k for k in members if k not in body]
    if missing:
        problems.append(f"the {exchange.status} body has no {', '.join(missing)}")
    if "statusCode" in members and "statusCode" in body and body["statusCode"] != exchange.status:
        problems.append(
            f"the body says statusCode {body['statusCode']!r} but the status is {exchange.status}"
        )
    return problems


def find_page(body: Any) -> dict[str, Any] | None:
    """The PaginatedResponse in a body: the body itself, or its ``data`` (an ApiResponse)."""
    for candidate in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(candidate, dict) and set(candidate) >= PAGE_MEMBERS:
            return candidate
    return None


def pagination(exchange: Exchange) -> list[str]:
    """A page's counters agree with each other and with its items (§3)."""
    if not 200 <= exchange.status < 300:
        return []
    page = find_page(exchange.json())
    if page is None:
        return []
    try:
        items, total = page["data"], int(page["total"])
        number, limit = int(page["page"]), int(page["limit"])
    except (TypeError, ValueError):
        return ["the page counters are not integers"]
    if not isinstance(items, list) or limit < 1:
        return ["the page's data is not a list, or its limit is below 1"]
    problems = []
    pages = math.ceil(total / limit)
    more = number < pages
    if len(items) > limit:
        problems.append(f"the page holds {len(items)} items, over its limit {limit}")
    if page["totalPages"] != pages:
        problems.append(f"totalPages is {page['totalPages']}, not ceil({total}/{limit}) = {pages}")
    if page["hasMore"] is not more:
        problems.append(f"hasMore is {page['hasMore']} on page {number} of {pages}")
    if page["nextPage"] != (number + 1 if more else None):
        problems.append(f"nextPage is {page['nextPage']} on page {number} of {pages}")
    if page["prevPage"] != (number - 1 if number > 1 else None):
        problems.append(f"prevPage is {page['prevPage']} on page {number}")
    before = (number - 1) * limit
    expected = max(0, min(limit, total - before))
    if len(items) != expected:
        problems.append(
            f"page {number} of {total} items at {limit} a page holds {len(items)} items,"
            f" not {expected}"
        )
    return problems


def request_id(exchange: Exchange) -> list[str]:
    """``X-Request-ID`` echoed when a usable one was sent (1 to 128 visible ASCII characters, as
    both specs declare the parameter; another value may be rejected and replaced), and equal to
    ``requestId`` in the body where there is one (§8)."""
    answered = exchange.header("X-Request-ID")
    if not answered:
        return ["the answer has no X-Request-ID"]
    problems = []
    sent = exchange.sent_header("X-Request-ID")
    if sent and ECHOED_ID.match(sent) and answered != sent:
        problems.append(f"X-Request-ID {sent!r} was sent but {answered!r} came back")
    body = exchange.json()
    in_body = body.get("requestId") if isinstance(body, dict) else None
    if in_body is not None and in_body != answered:
        problems.append(f"the body's requestId {in_body!r} is not X-Request-ID {answered!r}")
    return problems


def nosniff(exchange: Exchange) -> list[str]:
    """``X-Content-Type-Options: nosniff`` on every answer (§8)."""
    value = exchange.header("X-Content-Type-Options")
    if value is None or value.strip().lower() != "nosniff":
        return [f"X-Content-Type-Options is {value!r}, not nosniff"]
    return []


def rate_limit_headers(
    exchange: Exchange,
    headers: Iterable[str] = RATE_HEADERS,
    body_members: Iterable[str] = catalogue.RATE_BODY,
) -> list[str]:
    """``X-RateLimit-*`` on every answer, whole numbers that agree; a 429 says when (§6): in
    ``Retry-After``, and in the body's members among ``body_members`` (the ones its schema
    declares). ``headers`` are the ``X-RateLimit-*`` headers the answer must carry."""
    values: dict[str, int] = {}
    problems = []
    for name in headers:
        raw = exchange.header(name)
        if raw is None:
            problems.append(f"the answer has no {name}")
        elif not raw.strip().isdigit():
            problems.append(f"{name} is {raw!r}, not a whole number")
        else:
            values[name] = int(raw)
    limit, remaining = values.get("X-RateLimit-Limit"), values.get("X-RateLimit-Remaining")
    if limit is not None and remaining is not None and remaining > limit:
        problems.append(f"X-RateLimit-Remaining {remaining} is over X-RateLimit-Limit {limit}")
    if exchange.status == 429:
        retry = exchange.header("Retry-After")
        if retry is None or not retry.strip().isdigit():
            problems.append(f"the 429 has Retry-After {retry!r}, not a number of seconds")
        body, members = exchange.json(), tuple(body_members)
        if isinstance(body, dict):
            if "retryable" in members and body.get("retryable") is not True:
                problems.append("the 429 body does not say retryable: true")
            if (
                "retryAfter" in members
                and retry is not None
                and retry.strip().isdigit()
                and body.get("retryAfter") != int(retry)
            ):
                problems.append(
                    f"the 429 body's retryAfter {body.get('retryAfter')!r} is not Retry-After"
                    f" {retry}"
                )
    return problems


def leaks(exchange: Exchange) -> list[str]:
    """No stack trace, SQL or server file path in a body, unless the request sent it (§8)."""
    if not exchange.body:
        return []
    text = exchange.body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):  # the strings as a client reads them, unescaped
        text = " ".join(_strings(json.loads(text)))
    found = []
    for what, pattern in LEAKS:
        for match in pattern.finditer(text):
            piece = match.group(0).strip(" \"'(")
            if piece and piece not in exchange.request_text:
                found.append(f"the body reveals {what}: {piece[:80]!r}")
                break
    return found


def request_text(url: str, body: bytes | str, headers: Mapping[str, str]) -> str:
    """Everything a request sent, in every form an answer may echo it: the URL as sent and
    decoded, the body as sent and its JSON strings unescaped, the header values (an echoed
    ``X-Request-ID`` is the client's own text, not a leak); and each of those as a JSON string
    escapes it, since an error message may quote what it rejects (``"e:\tQW" does not match``,
    read as a Windows path when the tab came back as ``\t``)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    parts = [url, urllib.parse.unquote_plus(url), text, *headers.values()]
    with contextlib.suppress(ValueError):
        parts.extend(_strings(json.loads(text)))
    parts.extend([json.dumps(part)[1:-1] for part in parts])
    return " ".join(parts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


#: a rule: the exchange -> the problems found, one sentence each
Rule = Callable[..., list[str]]

#: catalogue id -> rule, one for each `catalogue.Kind.CHECK` (`_schemathesis` holds them equal)
RULES: dict[str, Rule] = {
    "error_envelope": error_envelope,
    "pagination": pagination,
    "request_id": request_id,
    "nosniff": nosniff,
    "rate_limit_headers": rate_limit_headers,
    "no_leaks": leaks,
}
