"""Before fuzzing: do the run's credentials get in? A run whose every request is refused goes
on for minutes and ends with no word about them; the preflight says so in one sentence, within
seconds (exit 3).

The credentials are *refused* when, on each of a few reads the principal may call (GETs that
need credentials and no parameter, those its role may call first), the answer with them is the
answer without them: a 401 with them (they did not authenticate), or the same 403 as without.
A 403 with them where anonymous gets a 401 is no refusal (a least-privileged account on an
admin read: it was recognised); any other answer (2xx, 404, 429, 5xx, no answer) is not judged
here: a backend whose auth is broken is judged by the run, not turned into "bad credentials".
"""

from __future__ import annotations

import time
from dataclasses import replace

import httpx

from conformance.contract import Operation, Spec
from conformance.suite._access import Access, CredentialsUnusable, access
from conformance.suite._auth import LOGIN_WAITS, Credentials, CredentialsRejected, SignedIn
from conformance.suite._engine import DEFAULT_NETWORK, Network
from conformance.suite._present import NOTHING, Presentation

#: reads the preflight tries, at most (each once with the credentials, once without)
PREFLIGHT_READS = 3
#: the preflight's seconds, in all, and one request's
PREFLIGHT_SECONDS = 15.0
REQUEST_SECONDS = 5.0
#: answers that refuse a caller
REFUSALS = (401, 403)


def open_access(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> Access | None:
    """How the credentials get in (`access`); None when none are given, or when they cannot be
    used and no operation of the spec asks for any (a CI job's variables for another API)."""
    if not credentials.given:
        return None
    try:
        return access(spec, url, credentials, network)
    except CredentialsUnusable:
        if any(operation.security for operation in spec.operations):
            raise
        return None


def reads(spec: Spec, way: Access, role: str | None) -> list[Operation]:
    """The reads a preflight may send: GETs that need the credentials' scheme and take no
    required parameter; those ``role`` may call first (x-roles), then the ones that do not
    say, shortest path first (a collection before its items)."""
    found = []
    for operation in spec.operations:
        if operation.method != "get" or not operation.needs_credentials:
            continue
        if not way.presenter.asked_by(operation):
            continue
        if any(p.required for p in operation.parameters if p.location != "header"):
            continue
        found.append(operation)

    def order(operation: Operation) -> tuple[int, int, str]:
        roles = operation.roles
        allowed = 0 if role is not None and roles and role in roles else 1 if not roles else 2
        return allowed, operation.path.count("/"), operation.path

    return sorted(found, key=order)


def refused(with_credentials: int, without: int) -> bool:
    """Whether an answer with the credentials is a refusal of them (the module's words)."""
    return with_credentials == 401 or (with_credentials == without == 403)


def _send(client: httpx.Client, url: str, presented: Presentation) -> int | None:
    try:
        response = client.get(
            url, headers=presented.httpx_headers(), params=dict(presented.params) or None
        )
    except httpx.HTTPError:
        return None
    return response.status_code


def preflight(
    spec: Spec,
    url: str,
    credentials: Credentials,
    way: Access,
    signed: SignedIn,
    network: Network = DEFAULT_NETWORK,
) -> None:
    """`CredentialsRejected` (exit 3), in one sentence naming the scheme, what was sent
    (masked) and what came back, when every read tried refuses the credentials; nothing else.
    At most `PREFLIGHT_READS` reads, two requests each, in `PREFLIGHT_SECONDS`."""
    tried = reads(spec, way, credentials.role)[:PREFLIGHT_READS]
    if not tried:
        return
    quick = replace(network, timeout_s=min(network.timeout_s, REQUEST_SECONDS))
    ends = time.monotonic() + PREFLIGHT_SECONDS
    seen: list[tuple[Operation, Presentation, int, int]] = []
    with httpx.Client(**quick.httpx_options()) as client:
        for operation in tried:
            if time.monotonic() >= ends:
                break
            target = url.rstrip("/") + operation.path
            presented = way.presenter.for_operation(operation, signed.access_token)
            answer = _send(client, target, presented)
            if answer not in REFUSALS:
                return  # let in, or not judged here
            anonymous = _send(client, target, NOTHING)
            if anonymous is None or answer is None or not refused(answer, anonymous):
                return
            seen.append((operation, presented, answer, anonymous))
    if not seen:
        return
    operation, presented, answer, anonymous = seen[0]
    more = f" (and {len(seen) - 1} more reads alike)" if len(seen) > 1 else ""
    raise CredentialsRejected(
        f"{credentials.api}: the credentials were refused: {way.described} sent"
        f" `{presented.shown}`, and {operation.label} answered {answer} with them, {anonymous}"
        f" without{more}; {_fix(credentials, way, signed)}"
    )


def _fix(credentials: Credentials, way: Access, signed: SignedIn) -> str:
    """What to check, in the words of the variables that give it."""
    scheme = way.scheme
    if not way.login.static:  # a login got the token: how it is presented is the suspect
        return (
            "the login let the account in, but its token was refused as sent; check the scheme"
            f" it goes with ({credentials.variable('SCHEME')}, or scheme in"
            f" [targets.{credentials.api}.login]) and its prefix"
            f" ({credentials.variable('TOKEN_PREFIX')})"
        )
    if scheme is not None and scheme.is_basic:
        return (
            f"check {credentials.variable('USERNAME')} and {credentials.variable('PASSWORD')}"
            " (or the credentials file)"
        )
    said = f"check {credentials.variable('TOKEN')} (or the credentials file)"
    if scheme is not None and scheme.type == "apiKey" and scheme.location == "header":
        if credentials.prefix is None:
            said += (
                f"; if the API wants a word before the token (`{scheme.parameter}: Token …`),"
                f" set {credentials.variable('TOKEN_PREFIX')}"
            )
        else:
            variable = credentials.variable("TOKEN_PREFIX")
            said += f" and its prefix {credentials.prefix!r} ({variable})"
    return said


def check_access(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> Access | None:
    """Before a run: the credentials get in, or one sentence says why not (exit 3): they fit no
    scheme, the login refuses them, or the API refuses what the login gave (`preflight`)."""
    way = open_access(spec, url, credentials, network)
    if way is None:
        return None
    signed = way.login.sign_in(LOGIN_WAITS)
    preflight(spec, url, credentials, way, signed, network)
    return way
