"""The run's own session: a login through the spec's ``x-auth-flow`` with credentials from the
environment, or a static token from it; logged in again when the engine meets a 401 (fuzzing the
logout operation ends the session it used).

    CONFORMANCE_<API>_TOKEN                       a bearer token issued elsewhere, or
    CONFORMANCE_<API>_USERNAME, _PASSWORD         the account the run logs in as

(``<API>`` is the target's name in upper case: GLORIA, TCHAT.) Never from flags, never printed.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import PointerError, Spec, follow
from conformance.errors import ConformanceError, ExitCode
from conformance.masking import SECRETS, register
from conformance.suite._engine import DEFAULT_NETWORK, Network

#: the longest the login waits out 429s, in all
LOGIN_PATIENCE_S = 60.0


class AuthError(ConformanceError):
    """The run cannot get a session: it cannot judge the target."""

    exit_code = ExitCode.TARGET_BROKEN


def _tokens(response: httpx.Response, *pointers: str | None) -> list[str]:
    """The tokens an auth answer holds at ``pointers`` (the rotated pair is as secret as the
    first)."""
    try:
        answer = response.json()
    except ValueError:
        return []
    found = []
    for pointer in pointers:
        if pointer:
            with contextlib.suppress(PointerError):
                value = follow(answer, pointer)
                if isinstance(value, str):
                    found.append(value)
    return found


def _put(body: dict[str, Any], pointer: str, value: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        body = body.setdefault(part, {})
    body[parts[-1]] = value


@dataclass
class Credentials:
    api: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, api: str) -> Credentials:
        prefix = f"CONFORMANCE_{api.upper()}_"
        return cls(
            api,
            os.environ.get(prefix + "TOKEN") or None,
            os.environ.get(prefix + "USERNAME") or None,
            os.environ.get(prefix + "PASSWORD") or None,
        )

    def register(self) -> None:
        """Mask these credentials in everything the run writes."""
        SECRETS.add(self.token)
        SECRETS.add_basic(self.username, self.password)

    @property
    def can_log_in(self) -> bool:
        return bool(self.username and self.password)


@dataclass(frozen=True)
class Exchanged:
    """A call the run made itself through the auth flow: evidence that the operation works."""

    operation_id: str
    status: int
    seconds: float


@dataclass(frozen=True)
class SignedIn:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    exchanged: Exchanged


def _call(
    api: str, method: str, target: str, deadline: float, network: Network, **kwargs: Any
) -> tuple[httpx.Response, float]:
    """One call of the run's own, waiting out 429s until ``deadline``."""
    while True:
        began = time.perf_counter()
        try:
            with httpx.Client(**network.httpx_options()) as client:
                response = client.request(method, target, **kwargs)
        except httpx.HTTPError as exc:
            raise AuthError(f"{api}: {method} {target} failed: {exc}") from None
        took = time.perf_counter() - began
        wait = response.headers.get("Retry-After", "")
        if response.status_code != 429 or not wait.isdigit():
            return response, took
        if time.monotonic() + int(wait) > deadline:
            raise AuthError(f"{api}: {method} {target} stays rate limited (429)")
        time.sleep(int(wait))


def sign_in(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> SignedIn:
    """Log in through the spec's login step; the tokens, and the call as evidence."""
    flow = spec.declarations.auth_flow
    operation = spec.operation(flow.login.operation_id) if flow is not None else None
    if flow is None or operation is None:
        raise AuthError(
            f"{credentials.api}: the spec declares no x-auth-flow login; set"
            f" CONFORMANCE_{credentials.api.upper()}_TOKEN instead"
        )
    assert credentials.username is not None
    assert credentials.password is not None
    body: dict[str, Any] = {}
    _put(body, flow.login.username, credentials.username)
    _put(body, flow.login.password, credentials.password)
    target = url.rstrip("/") + operation.path
    deadline = time.monotonic() + LOGIN_PATIENCE_S
    response, took = _call(
        credentials.api, operation.method.upper(), target, deadline, network, json=body
    )
    if response.status_code != 200:
        raise AuthError(
            f"{credentials.api}: login as {credentials.username} at {target} answered"
            f" {response.status_code}; check CONFORMANCE_{credentials.api.upper()}_USERNAME and"
            " _PASSWORD"
        )
    try:
        answer = response.json()
        token = follow(answer, flow.login.access_token or "")
    except (ValueError, PointerError):
        raise AuthError(
            f"{credentials.api}: the login answer has no access token at {flow.login.access_token}"
        ) from None
    try:
        refresh = follow(answer, flow.login.refresh_token) if flow.login.refresh_token else None
    except PointerError:
        refresh = None
    exchanged = Exchanged(flow.login.operation_id, response.status_code, took)
    register(str(token), str(refresh) if refresh else None)
    return SignedIn(str(token), str(refresh) if refresh else None, exchanged)


def login(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> str:
    """An access token for ``credentials`` through the spec's login step."""
    return sign_in(spec, url, credentials, network).access_token


def exercise_flow(
    spec: Spec,
    url: str,
    credentials: Credentials,
    network: Network = DEFAULT_NETWORK,
    *,
    read_only: bool = False,
) -> list[Exchanged]:
    """Log in and refresh once, on a session of the run's own (not the one the engine uses):
    the auth operations no fuzzer can reach with valid input, exercised for real. A read-only
    run logs in only."""
    signed = sign_in(spec, url, credentials, network)
    done = [signed.exchanged]
    if read_only:
        return done
    flow = spec.declarations.auth_flow
    step = flow.refresh if flow is not None else None
    operation = spec.operation(step.operation_id) if step is not None else None
    if step is None or operation is None or signed.refresh_token is None:
        return done
    target = url.rstrip("/") + operation.path
    kwargs: dict[str, Any] = {}
    if step.token_in == "bearer":
        kwargs["headers"] = {"Authorization": f"Bearer {signed.refresh_token}"}
    else:
        body: dict[str, Any] = {}
        _put(body, step.token_field or "/refreshToken", signed.refresh_token)
        kwargs["json"] = body
    deadline = time.monotonic() + LOGIN_PATIENCE_S
    response, took = _call(
        credentials.api, operation.method.upper(), target, deadline, network, **kwargs
    )
    assert flow is not None
    register(*_tokens(response, flow.login.access_token, flow.login.refresh_token))
    done.append(Exchanged(step.operation_id, response.status_code, took))
    return done


def install_auth(
    schema: Any, spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> None:
    """Give the engine a session that logs in again on a 401."""

    class Session:
        def get(self, case: Any, ctx: Any) -> str:
            return login(spec, url, credentials, network)

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    schema.auth.auth(retry_on=[401])(Session)
