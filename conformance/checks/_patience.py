"""How a 429 is waited out: one policy for every loop that sends a request again after one
(CONTRACT.md §6; ARCHITECTURE.md, "How the suite drives schemathesis", point 4).

Three loops send again after a 429: the transport under schemathesis's engine
(`_transport.RetryAfter429`), the run's own login and refresh (``suite._auth``) and a scenario's
requests (``Story.send``). Each asks a `Patience` (one per request, from its `WaitPolicy`) how
long to wait for the answer it got, and the policy alone decides: how long a ``Retry-After``
says, whether a bound is reached (sends, the longest single wait, the waits in all), and so when
to give up. A 429 given up on is `throttled` when it said when to come back: recorded, never
judged; one that did not is the backend's fault, and is judged.
"""

from __future__ import annotations

import datetime
import email.utils
import math
from dataclasses import dataclass
from typing import Protocol


class Answer(Protocol):
    """What the policy reads of a response (``requests``'s and ``httpx``'s alike)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> _Headers: ...


class _Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


def retry_after_s(value: str | None, *, dates: bool = False) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or (``dates``) an HTTP date; None if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    if not dates:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.datetime.now(datetime.UTC)).total_seconds())


def throttled(status: int, retry_after: str | None) -> bool:
    """A 429 that says when to come back (``Retry-After`` in seconds): the waiting gave up on
    it, so it is recorded and never judged. (A 429 without a readable ``Retry-After`` breaks
    §6, and is judged.)"""
    return int(status) == 429 and retry_after_s(retry_after) is not None


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """How long one request waits out its 429s: each ``Retry-After`` (plus ``margin_s``), until
    a bound is reached. A bound left out is the caller's own (a story's requests and seconds)."""

    #: sends of one request at most, the first included
    tries: int | None = None
    #: a longer ``Retry-After`` is not waited for
    longest_wait_s: float = math.inf
    #: the waits of one request, in all
    total_wait_s: float = math.inf
    #: read a ``Retry-After`` that is an HTTP date too (the others wait delta-seconds only)
    dates: bool = False
    #: slept on top of each ``Retry-After``, so that the window has surely ended
    margin_s: float = 0.0

    def patience(self) -> Patience:
        """What one request has left to wait (ask it after every answer)."""
        return Patience(self)


#: a 429 is answer enough: no waiting at all
NO_WAIT = WaitPolicy(tries=1)


class Patience:
    """One request's waiting under its `WaitPolicy`: the sends and waits it has spent."""

    def __init__(self, policy: WaitPolicy) -> None:
        self.policy = policy
        self.sent = 0
        self.waited_s = 0.0
        #: the last answer was a 429 that said when, and a bound kept it from being waited out
        self.gave_up = False

    def wait_s(self, answer: Answer) -> float | None:
        """Seconds to sleep before sending again after ``answer``; None when the answer stands:
        not a 429, a 429 that does not say when, or one a bound keeps from being waited out
        (`gave_up`)."""
        self.sent += 1
        if answer.status_code != 429:
            return None
        policy = self.policy
        wait = retry_after_s(answer.headers.get("Retry-After"), dates=policy.dates)
        if wait is None:
            return None
        if (
            (policy.tries is not None and self.sent >= policy.tries)
            or wait > policy.longest_wait_s
            or self.waited_s + wait > policy.total_wait_s
        ):
            self.gave_up = True
            return None
        self.waited_s += wait
        return wait + policy.margin_s
