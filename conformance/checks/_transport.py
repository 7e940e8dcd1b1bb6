"""Our 429 handling, before any check sees a response (CONTRACT.md §6; ARCHITECTURE.md, "How the
suite drives schemathesis", point 4).

`RetryAfter429` is a ``requests`` transport adapter: a 429 is answered by waiting its
``Retry-After`` and sending again, as `ENGINE_WAITS` allows (the shared policy of `_patience`:
bounded in tries, in the longest single wait and in the total wait), so a throttled backend
slows a run down but never fails a check by itself. The response that comes out carries the
time of its own attempt as ``elapsed``, so latency samples leave the waiting out. A 429 that
remains after the bounds is passed on (and recorded as throttled).

`install()` mounts it on every session schemathesis's engine makes, by wrapping
``schemathesis.engine.context.make_session``: the engine, its probes and the checks' own
requests all take their session from there (schemathesis 4.32; a test guards the seam).
"""

from __future__ import annotations

import datetime
import threading
import time
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from conformance.checks._patience import WaitPolicy

#: the engine's requests: 5 tries, 10 s the longest single wait, 30 s the waits in all; a
#: ``Retry-After`` may be an HTTP date
ENGINE_WAITS = WaitPolicy(tries=5, longest_wait_s=10.0, total_wait_s=30.0, dates=True)


class Throttling:
    """How often the run was told to wait, and for how long (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retries = 0
        self.waited_s = 0.0
        #: 429s passed on because a bound was reached
        self.gave_up = 0

    def waited(self, seconds: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited_s += seconds

    def give_up(self) -> None:
        with self._lock:
            self.gave_up += 1


THROTTLING = Throttling()


class Pacer:
    """Keeps a run inside the windows the backend announces: when an answer said no request
    remains (``X-RateLimit-Remaining: 0``) and the window resets within the longest wait of
    `ENGINE_WAITS`, the next request of the same kind waits for ``X-RateLimit-Reset`` instead
    of drawing a 429.

    A backend has several windows (per principal; login its own, per account), and a request
    does not say which it counts in, so the state is kept per host, ``Authorization`` value and
    path shape (segments with a digit count as ids): a spent login window must not slow every
    other request down. A longer wait is left to the 429 handling (and recorded as throttled).
    Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: key -> when the window the backend said was spent resets (monotonic seconds)
        self._spent_until: dict[tuple[str, int, str], float] = {}
        self.paused = 0
        self.paused_s = 0.0

    @staticmethod
    def key(request: Any) -> tuple[str, int, str]:
        parts = urllib.parse.urlsplit(str(request.url))
        shape = "/".join(
            "{}" if any(c.isdigit() for c in segment) else segment
            for segment in parts.path.split("/")
        )
        return parts.netloc, hash(request.headers.get("Authorization", "")), shape

    def before(self, request: Any) -> None:
        key = self.key(request)
        with self._lock:
            until = self._spent_until.pop(key, None)
        if until is None:
            return
        wait = min(until - time.monotonic(), ENGINE_WAITS.longest_wait_s)
        if wait > 0:
            time.sleep(wait)
            with self._lock:
                self.paused += 1
                self.paused_s += wait

    def after(self, request: Any, response: requests.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining", "").strip()
        reset = response.headers.get("X-RateLimit-Reset", "").strip()
        if remaining == "0" and reset.isdigit() and int(reset) <= ENGINE_WAITS.longest_wait_s:
            with self._lock:
                self._spent_until[self.key(request)] = time.monotonic() + int(reset)


PACER = Pacer()


class RetryAfter429(HTTPAdapter):
    """Sends a request again after a 429's ``Retry-After``, within bounds, and paces requests
    by the backend's ``X-RateLimit-*`` headers (`Pacer`)."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        patience = ENGINE_WAITS.patience()
        while True:  # at most ENGINE_WAITS.tries sends
            PACER.before(request)
            began = time.perf_counter()
            response = super().send(request, *args, **kwargs)
            PACER.after(request, response)
            response._attempt_elapsed = time.perf_counter() - began  # type: ignore[attr-defined]
            wait = patience.wait_s(response)
            if wait is None:
                if response.status_code == 429:
                    THROTTLING.give_up()
                return response
            response.close()
            time.sleep(wait)
            THROTTLING.waited(wait)


def own_elapsed(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A ``response`` hook: ``elapsed`` is the last attempt's, not the waits' (``Session.send``
    times the whole ``adapter.send``)."""
    attempt = getattr(response, "_attempt_elapsed", None)
    if attempt is not None:
        response.elapsed = datetime.timedelta(seconds=attempt)
    return response


def mount(session: requests.Session) -> requests.Session:
    adapter = RetryAfter429()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks.setdefault("response", []).append(own_elapsed)
    return session


def install() -> None:
    """Mount `RetryAfter429` on every session the engine makes (once per process)."""
    from schemathesis.engine import context

    original = context.make_session
    if getattr(original, "conformance", False):
        return

    def make_session(*args: Any, **kwargs: Any) -> requests.Session:
        return mount(original(*args, **kwargs))

    make_session.conformance = True  # type: ignore[attr-defined]
    context.make_session = make_session
