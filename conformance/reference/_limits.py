"""The rate limiter (CONTRACT.md §6): fixed windows per principal, login per client and account.

A window opens with a key's first request and lasts the policy's ``window_s``; it counts up to
``limit`` requests, then answers 429 until it ends. So ``X-RateLimit-Remaining`` only falls inside
a window, ``X-RateLimit-Reset`` (and a 429's ``Retry-After``) is the whole seconds left in it, and
after ``Retry-After`` the next request opens a fresh window.

Keys: an authenticated request counts for its principal (the token's subject), whatever address
it comes from; a public one for its client address; an operation keyed ``client-account`` (login)
for the address and the account named in the body. Operations under the spec's root policy share
one window per key; an operation with a limit of its own counts in its own window.

The limiter runs after authentication: a request without valid credentials never reaches it,
so it is 401, never 429.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from conformance.contract import Operation, PointerError, RateLimit, RateLimitPolicy, Spec, follow
from conformance.reference._errors import rate_limited
from conformance.reference._model import Principal
from conformance.reference._settings import Settings

#: windows kept before the ended ones are dropped (a bound on memory under any load)
_MAX_WINDOWS = 10_000


@dataclass(slots=True)
class _Window:
    ends: float
    limit: RateLimit
    count: int = 0


class WindowLimiter:
    """Counts each request against its key's window; 429 ``RATE_LIMITED`` when over."""

    def __init__(
        self, spec: Spec, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policies = {op.pointer: settings.policy(spec, op) for op in spec.operations}
        root = spec.declarations.rate_limit
        self.fallback: tuple[str, RateLimitPolicy | None] = (
            "shared",
            RateLimitPolicy(settings.rate_limits.get("default", root.limit))
            if root is not None
            else None,
        )
        flow = spec.declarations.auth_flow
        self.account_pointer = flow.login.username if flow is not None else "/email"
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def hit(
        self, operation: Operation, principal: Principal, client: str, body: bytes
    ) -> dict[str, str]:
        bucket, policy = self.policies[operation.pointer]
        if policy is None:
            return {}
        key = self._key(policy, principal, client, body)
        limit = policy.for_role(principal.role if principal.id else None)
        with self._lock:
            window, now = self._window(bucket, key, limit)
            reset = max(1, math.ceil(window.ends - now))
            if window.count >= window.limit.limit:
                raise rate_limited(reset, _headers(window.limit, 0, reset))
            window.count += 1
            return _headers(window.limit, window.limit.limit - window.count, reset)

    def peek(self, operation: Operation | None, client: str) -> dict[str, str]:
        bucket, policy = self.policies[operation.pointer] if operation else self.fallback
        if policy is None:
            return {}
        limit = policy.for_role(None)
        with self._lock:
            window = self._windows.get((bucket, f"client:{client}"))
            now = self.clock()
            if window is None or now >= window.ends:
                return _headers(limit, limit.limit, limit.window_s)
            reset = max(1, math.ceil(window.ends - now))
            return _headers(window.limit, window.limit.limit - window.count, reset)

    def _key(self, policy: RateLimitPolicy, principal: Principal, client: str, body: bytes) -> str:
        if policy.key == "client-account":
            return f"client:{client}|account:{self._account(body)}"
        return f"principal:{principal.id}" if principal.id else f"client:{client}"

    def _account(self, body: bytes) -> str:
        try:
            value = follow(json.loads(body), self.account_pointer)
        except (ValueError, PointerError, TypeError):
            return ""
        return value.lower() if isinstance(value, str) else ""

    def _window(self, bucket: str, key: str, limit: RateLimit) -> tuple[_Window, float]:
        now = self.clock()
        window = self._windows.get((bucket, key))
        if window is None or now >= window.ends:
            if len(self._windows) >= _MAX_WINDOWS:
                self._windows = {k: w for k, w in self._windows.items() if w.ends > now}
            window = _Window(now + limit.window_s, limit)
            self._windows[(bucket, key)] = window
        return window, now


def _headers(limit: RateLimit, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit.limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }
