"""Rate limits, as the seeds' clients meet them: the numbers come from the deployment's
``X-RateLimit-*`` headers (the spec's ``x-rate-limit`` is only the default); Remaining never
rises inside a window; the request over the limit is 429 with ``Retry-After``; bad credentials
are still 401; another principal is not limited; after ``Retry-After`` requests succeed again;
login has its own, stricter limit.

Two throwaway accounts (principals of their own), so that the run's own session is never
throttled. The limit must be reachable within the scenario's request budget, and a window is
waited out only up to ``max_wait_s``.

What is claimed while the first principal is throttled (bad credentials are still 401, another
principal is not limited) proves something only while its window holds: the first principal
must still get a 429 after those claims. On a slow machine or target the window may end first;
then the claims are `Late` and the part is played again (`Story.play`), as it is when the
requests are too slow to spend a window before it ends.
"""

from __future__ import annotations

import time

import httpx

from conformance.contract import Operation, RateLimit, Spec
from conformance.suite._journal import Journal
from conformance.suite.scenarios._accounts import (
    Pair,
    Principal,
    Sessions,
    least_privileged_role,
    throwaway_accounts,
)
from conformance.suite.scenarios._auth_refresh import probe_operation, requires_refresh_flow
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    Late,
    ScenarioSkipped,
    StepSkipped,
    Story,
    error_code,
    scenario_rule,
)

# the catalogue's rules judged here (`scenario_rule` checks each at import)
TOKEN_WORKS = scenario_rule("token-works")
RATE_LIMIT_HEADERS = scenario_rule("rate-limit-headers")
REMAINING_MONOTONIC = scenario_rule("remaining-monotonic")
LIMIT_ENFORCED = scenario_rule("limit-enforced")
RATE_LIMITED_ANSWER = scenario_rule("rate-limited-answer")
AUTH_BEFORE_LIMIT = scenario_rule("auth-before-limit")
PER_PRINCIPAL = scenario_rule("per-principal")
LIMIT_RECOVERS = scenario_rule("limit-recovers")
LOGIN_LIMIT = scenario_rule("login-limit")

#: the most requests the scenario sends to reach a limit
MAX_BURST = 400
MAX_REQUESTS = MAX_BURST * 2 + 60


def requires_rate_limit(spec: Spec) -> None:
    """A limit to reach: the spec's root ``x-rate-limit`` (the deployment's headers may say
    otherwise; the spec's is the default)."""
    if spec.declarations.rate_limit is None:
        raise ScenarioSkipped("the spec declares no x-rate-limit", missing_declaration=True)


@scenario(
    "rate_limits",
    requires="`x-rate-limit`, `x-auth-flow` with `accounts`",
    guards=(requires_refresh_flow, requires_rate_limit),
    max_requests=MAX_REQUESTS,
    max_seconds=60,
    waits=2,
    order=20,
)
def rate_limits(context: ScenarioContext, story: Story) -> None:
    """The story with two throwaway accounts of the least privileged role."""
    flow = context.spec.declarations.auth_flow
    assert flow is not None  # the guard
    sessions = Sessions(story, flow)
    journal = Journal(context.journal)
    with throwaway_accounts(story, flow, context.run_token(), journal) as accounts:
        if accounts.cannot_make is not None:
            raise accounts.cannot_make
        role = least_privileged_role(context.spec)
        with story.step("make two throwaway accounts"):
            first, second = accounts.make(role), accounts.make(role)
        RateLimits(story, sessions, first, second, context.max_wait_s).run()


def _number(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


class RateLimits:
    name = "rate_limits"

    def __init__(
        self,
        story: Story,
        sessions: Sessions,
        first: Principal,
        second: Principal,
        max_wait_s: float,
    ) -> None:
        self.story, self.sessions = story, sessions
        self.first, self.second = first, second
        self.max_wait_s = max_wait_s
        self.probe = probe_operation(story, sessions, first.role)
        self.pairs: dict[str, Pair] = {}
        #: the limit the deployment states for a principal (its headers)
        self.principal_limit: int | None = None

    def token(self, principal: Principal) -> str:
        """A live access token of ``principal``: logged in once, refreshed near its end."""
        pair = self.pairs.get(principal.username)
        if pair is not None and pair.stale() and pair.refresh:
            response = self.sessions.refresh(pair.refresh)
            pair = self.sessions.pair(response, refreshed=True) if response.is_success else None
        if pair is None:
            response = self.sessions.login(principal)
            if response.status_code != 200:
                raise StepSkipped(f"the throwaway account's login answered {response.status_code}")
            pair = self.sessions.pair(response)
            if pair is None:
                raise StepSkipped("the login answer holds no access token")
        self.pairs[principal.username] = pair
        return pair.access

    def declared(self, operation: Operation) -> RateLimit | None:
        policy = operation.rate_limit or self.story.spec.declarations.rate_limit
        return policy.for_role(self.first.role) if policy is not None else None

    def run(self) -> None:
        story = self.story
        story.play("a principal's limit", self.limited)
        with story.part("login's own limit"):
            self.login_limit()

    def limited(self) -> None:
        story = self.story
        self.token(self.second)  # logged in before the first one is limited
        retry_after = self.exhaust()
        with story.step("bad credentials are 401, not 429"):
            for what, token in (("no token", None), ("a garbage token", "not-a-token")):
                response = story.send(self.probe, token=token, retry_429=False)
                story.check(
                    response.status_code == 401,
                    AUTH_BEFORE_LIMIT,
                    f"{what}, from the address of a throttled principal, answered"
                    f" {response.status_code}",
                )
        with story.step("another principal is not limited"):
            response = story.send(self.probe, token=self.token(self.second), retry_429=False)
            story.check(
                200 <= response.status_code < 300,
                PER_PRINCIPAL,
                f"a second principal, while the first is throttled, got {response.status_code}",
            )
        with story.step("the first principal is still limited after them: they fell in its window"):
            response = story.send(self.probe, token=self.token(self.first), retry_429=False)
            if response.status_code != 429:
                raise Late(
                    f"the first principal's window ended before the checks made while it was"
                    f" throttled were done (it got {response.status_code} after them)"
                )
        with story.step("after Retry-After requests succeed again"):
            if retry_after > self.max_wait_s:
                raise StepSkipped(
                    f"Retry-After is {retry_after} s, more than the {self.max_wait_s:.0f} s"
                    " this scenario waits ([scenarios] max_wait_s)"
                )
            story.sleep(retry_after + 0.3)
            response = story.send(self.probe, token=self.token(self.first), retry_429=False)
            story.check(
                200 <= response.status_code < 300,
                LIMIT_RECOVERS,
                f"{retry_after} s after a 429 with Retry-After: {retry_after}, the same"
                f" principal got {response.status_code}",
            )

    def exhaust(self) -> int:
        """Spend the first principal's window; Retry-After of the 429 that ends it."""
        story = self.story
        token = self.token(self.first)
        with story.step("the answers state the limit"):
            last_sent = time.monotonic()
            response = story.send(self.probe, token=token, retry_429=False)
            story.check(
                200 <= response.status_code < 300,
                TOKEN_WORKS,
                f"{self.probe.label} answered {response.status_code}",
            )
            limit = _number(response, "X-RateLimit-Limit")
            remaining = _number(response, "X-RateLimit-Remaining")
            reset = _number(response, "X-RateLimit-Reset")
            story.check(
                None not in (limit, remaining, reset),
                RATE_LIMIT_HEADERS,
                f"{self.probe.label}'s answer lacks X-RateLimit-Limit, -Remaining or -Reset",
            )
            assert limit is not None
            assert remaining is not None
            assert reset is not None
            self.principal_limit = limit
            declared = self.declared(self.probe)
            if remaining + 1 > MAX_BURST:
                raise StepSkipped(
                    f"{remaining} requests remain of a limit of {limit}: more than the"
                    f" {MAX_BURST} this scenario sends to reach it"
                )
        with story.step(
            f"Remaining never rises in a window; request {limit}+1 is 429"
            + (f" (declared: {declared.limit}/{declared.window_s} s)" if declared else "")
        ):
            last_remaining, last_reset = remaining, reset
            sent = 0
            budget = remaining + 1 + 2  # a window that ends during the burst starts afresh
            throttled: httpx.Response | None = None
            while sent < min(budget, MAX_BURST):
                token = self.token(self.first)
                now_sent = time.monotonic()
                response = story.send(self.probe, token=token, retry_429=False)
                sent += 1
                if response.status_code == 429:
                    throttled = response
                    break
                now_remaining = _number(response, "X-RateLimit-Remaining")
                now_reset = _number(response, "X-RateLimit-Reset")
                if now_remaining is None or now_reset is None:
                    continue
                # A new window may have begun: Reset rose, or a slow answer came after the last
                # one's window may have ended (no sooner than Reset - 1 s after that request was
                # sent: Reset is the whole seconds left, rounded up) and counts its window's
                # first request. Any other rise of Remaining is within one window.
                late = time.monotonic() >= last_sent + last_reset - 1
                first = now_remaining == (_number(response, "X-RateLimit-Limit") or limit) - 1
                new_window = now_reset > last_reset or (late and first)
                story.check(
                    now_remaining <= last_remaining or new_window,
                    REMAINING_MONOTONIC,
                    f"X-RateLimit-Remaining rose from {last_remaining} to {now_remaining} with"
                    f" X-RateLimit-Reset going from {last_reset} to {now_reset} (same window)",
                )
                if new_window:
                    budget = sent + now_remaining + 1 + 2
                last_remaining, last_reset, last_sent = now_remaining, now_reset, now_sent
            if throttled is None and budget > sent:  # windows kept ending before they were spent
                raise Late(
                    f"{sent} requests and no window spent: each ended before its {limit}"
                    " requests were sent"
                )
            story.check(
                throttled is not None,
                LIMIT_ENFORCED,
                f"{sent} requests after a limit of {limit} with {remaining} remaining: none was"
                " 429",
            )
            assert throttled is not None
        with story.step("the 429 says when to retry"):
            retry = throttled.headers.get("Retry-After", "")
            story.check(
                retry.strip().isdigit() and int(retry) > 0,
                RATE_LIMITED_ANSWER,
                f"the 429's Retry-After is {retry!r}, not a number of seconds",
            )
            body = throttled.json() if "json" in throttled.headers.get("content-type", "") else {}
            story.check(
                isinstance(body, dict)
                and body.get("code") == "RATE_LIMITED"
                and body.get("retryable") is True,
                RATE_LIMITED_ANSWER,
                f"the 429's body has code {error_code(throttled)!r} and retryable"
                f" {body.get('retryable') if isinstance(body, dict) else None!r}, not"
                " RATE_LIMITED and true",
            )
        return int(retry)

    def login_limit(self) -> None:
        """Log the second account in until its login window is spent."""
        story = self.story
        login = self.sessions.login_op
        policy = login.rate_limit
        default = self.declared(self.probe)
        with story.step("login has its own limit, stricter than a principal's"):
            response = self.sessions.login(self.second, retry_429=False)
            limit = _number(response, "X-RateLimit-Limit")
            remaining = _number(response, "X-RateLimit-Remaining")
            if response.status_code == 429:
                remaining = 0
            story.check(
                limit is not None and remaining is not None,
                RATE_LIMIT_HEADERS,
                "the login answer lacks X-RateLimit-Limit or -Remaining",
            )
            assert limit is not None
            assert remaining is not None
            principal_limit = self.principal_limit or (default.limit if default else None)
            if policy is not None and principal_limit is not None:
                story.check(
                    limit < principal_limit,
                    LOGIN_LIMIT,
                    f"login allows {limit} requests a window, a principal {principal_limit}:"
                    " not stricter",
                )
            if remaining + 1 > MAX_BURST:
                raise StepSkipped(f"{remaining} logins remain: more than this scenario sends")
            sent, throttled = 0, response if response.status_code == 429 else None
            while throttled is None and sent < remaining + 2:
                answer = self.sessions.login(self.second, retry_429=False)
                sent += 1
                if answer.status_code == 429:
                    throttled = answer
            story.check(
                throttled is not None,
                LOGIN_LIMIT,
                f"{sent + 1} logins of one account with a login limit of {limit}: none was 429",
            )
            assert throttled is not None
            retry = throttled.headers.get("Retry-After", "")
            story.check(
                retry.strip().isdigit(),
                RATE_LIMITED_ANSWER,
                f"the login's 429 has Retry-After {retry!r}",
            )
