"""Auth token refresh, as the seeds' clients rely on it (``baseQueryWithReauth``, the
single-flight ``refreshPromise``): login, expiry, rotation, reuse detection, concurrent refresh,
logout, and the tokens a backend must refuse. Needs ``x-auth-flow`` with a login and a refresh.

Every part logs in afresh (a token family of its own) as a throwaway principal; the run's own
session is never touched. Expiry is waited for when the target's tokens live at most
``max_wait_s``; otherwise an expired token from ``CONFORMANCE_<API>_EXPIRED_TOKEN`` is used, or
that step is skipped with the reason.

No claim about an access token is judged after the token may have expired by its own lifetime
(`Pair.live`): on a slow machine or target a short-lived token can run out between the login and
the claim, and then a 401 proves no revocation and a refused token no defect. Such a claim is
`Late`: its part is played again with fresh tokens (`Story.play`), and when every play is late
the scenario ends as an error (it could not judge), never as a verdict.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import secrets
import threading
import time

import httpx

from conformance.contract import Operation, Spec
from conformance.masking import register
from conformance.suite._journal import Journal
from conformance.suite.scenarios._accounts import (
    Accounts,
    Pair,
    Principal,
    Sessions,
    least_privileged_role,
    own_principal,
    throwaway_accounts,
)
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    PLAYS,
    Late,
    ScenarioSkipped,
    StepSkipped,
    Story,
    error_code,
    scenario_rule,
)

# the catalogue's rules judged here (`scenario_rule` checks each at import)
LOGIN_PAIR = scenario_rule("login-pair")
TOKEN_WORKS = scenario_rule("token-works")
NO_STORE = scenario_rule("no-store")
EXPIRED_401 = scenario_rule("expired-401")
WWW_AUTHENTICATE = scenario_rule("www-authenticate")
REFRESH_ROTATES = scenario_rule("refresh-rotates")
REUSE_REVOKES_FAMILY = scenario_rule("reuse-revokes-family")
SINGLE_FLIGHT = scenario_rule("single-flight")
LOGOUT_REVOKES = scenario_rule("logout-revokes")
BAD_TOKEN_401 = scenario_rule("bad-token-401")
NO_CREDENTIALS_401 = scenario_rule("no-credentials-401")

#: concurrent refreshes of one token
CONCURRENT_REFRESHES = 4
#: the clean scenario's requests (about 30), and room for parts played again (`Late`, at most
#: 10 requests a play)
MAX_REQUESTS = 80 + (PLAYS - 1) * 10


def requires_refresh_flow(spec: Spec) -> None:
    """The guard of the scenarios that log in and refresh: an ``x-auth-flow`` with both."""
    flow = spec.declarations.auth_flow
    if flow is None or flow.refresh is None:
        raise ScenarioSkipped(
            "the spec declares no x-auth-flow with a login and a refresh",
            missing_declaration=True,
        )


@scenario(
    "auth_refresh",
    requires="`x-auth-flow` (login, refresh)",
    guards=(requires_refresh_flow,),
    max_requests=MAX_REQUESTS,
    max_seconds=60,
    waits=3,
    order=10,
)
def auth_refresh(context: ScenarioContext, story: Story) -> None:
    """The story as a throwaway account, or as fresh logins of the run's own credentials."""
    flow = context.spec.declarations.auth_flow
    assert flow is not None  # the guard
    sessions = Sessions(story, flow)
    journal = Journal(context.journal)
    with throwaway_accounts(story, flow, context.run_token(), journal) as accounts:
        principal = _principal(context, accounts, story)
        AuthRefresh(story, sessions, principal, context.max_wait_s).run()


def _principal(context: ScenarioContext, accounts: Accounts, story: Story) -> Principal:
    if accounts.can_make:
        with story.step("make a throwaway account"):
            principal = accounts.make(least_privileged_role(context.spec))
        return principal
    own = own_principal(context.credentials)
    if own is None:
        raise ScenarioSkipped(
            "no way to log in: the run has a static token and the spec no accounts step"
        )
    return own


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forged(token: str) -> dict[str, str]:
    """Tokens made from a real one that a backend must refuse: a tampered signature, ``alg:
    none`` without a signature, and one signed with another key. Empty when not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    header_text, payload_text, signature = parts
    try:
        header = json.loads(_unb64(header_text))
    except (ValueError, TypeError):
        return {}
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = signature[:middle] + flipped + signature[middle + 1 :]
    unsigned_header = _b64(json.dumps({**header, "alg": "none"}).encode())
    signing_input = f"{header_text}.{payload_text}".encode()
    other_key = hmac.new(secrets.token_bytes(32), signing_input, hashlib.sha256).digest()
    return {
        "a token with a tampered signature": f"{header_text}.{payload_text}.{tampered}",
        "a token with alg none and no signature": f"{unsigned_header}.{payload_text}.",
        "a token signed with another key": f"{header_text}.{payload_text}.{_b64(other_key)}",
    }


def probe_operation(story: Story, sessions: Sessions, role: str | None) -> Operation:
    """What "the access token works" is asked of: the flow's verify operation, else a GET
    without required parameters that the role may call."""
    flow = sessions.flow
    if flow.verify is not None:
        found = story.spec.operation(flow.verify.operation_id)
        if found is not None:
            return found
    for operation in story.spec.operations:
        if (
            operation.method == "get"
            and not operation.is_public
            and not operation.required_parameters
            and (role is None or operation.roles is None or role in operation.roles)
        ):
            return operation
    raise ScenarioSkipped("no operation to try a token on (declare x-auth-flow verify)")


def challenge_skipped(spec: Spec, scheme_name: str) -> str | None:
    """Why the 401s' ``WWW-Authenticate`` is not judged by RFC 6750 (``Bearer``,
    ``invalid_token``): the flow's scheme is not a bearer one (an apiKey such as ``Authorization:
    Token …``). None: it is, or the spec does not say (a bearer, as the suite always sent)."""
    scheme = spec.security_schemes.get(scheme_name)
    if scheme is None or scheme.is_bearer:
        return None
    return f"the scheme {scheme.described} is not http bearer: RFC 6750's challenge does not apply"


class AuthRefresh:
    name = "auth_refresh"

    def __init__(
        self, story: Story, sessions: Sessions, principal: Principal, max_wait_s: float
    ) -> None:
        self.story, self.sessions, self.principal = story, sessions, principal
        self.max_wait_s = max_wait_s
        self.probe = probe_operation(story, sessions, principal.role)
        #: why RFC 6750's challenge is not judged (None: it is, the flow's scheme is a bearer)
        self.no_challenge = challenge_skipped(story.spec, sessions.flow.scheme)

    # -- the claims each part is made of --------------------------------------------------------

    def login(self) -> Pair:
        story = self.story
        with story.step("login returns a token pair, not to be stored"):
            response = self.sessions.login(self.principal)
            story.check(
                response.status_code == 200,
                LOGIN_PAIR,
                f"login answered {response.status_code}",
            )
            pair = self.sessions.pair(response)
            story.check(
                pair is not None and bool(pair.refresh),
                LOGIN_PAIR,
                "the login answer lacks an access or a refresh token at the flow's pointers",
            )
            assert pair is not None
            self.no_store(response, "login")
        return pair

    def no_store(self, response: httpx.Response, what: str) -> None:
        cache = response.headers.get("Cache-Control", "")
        self.story.check(
            "no-store" in cache.lower(),
            NO_STORE,
            f"the {what} answer's Cache-Control is {cache!r}, without no-store",
        )

    def in_time(self, pair: Pair, what: str) -> None:
        """Go on only if ``pair``'s access token was surely live when the answer just received
        was given (`Pair.live`); else the claim is `Late`."""
        if not pair.live():
            raise Late(
                f"{what}: answered {time.monotonic() - pair.issued:.1f} s after the token was"
                f" asked for; it lives {pair.lifetime:g} s, less up to a second (exp in whole"
                " seconds)"
            )

    def works(self, pair: Pair, title: str) -> None:
        with self.story.step(title):
            response = self.story.send(self.probe, token=pair.access)
            if not 200 <= response.status_code < 300:
                self.in_time(pair, f"{self.probe.label} with the access token")
            self.story.check(
                200 <= response.status_code < 300,
                TOKEN_WORKS,
                f"{self.probe.label} with the access token answered {response.status_code}",
            )

    def refused(self, response: httpx.Response, rule: str, what: str) -> None:
        """A 401 with the ``invalid_token`` challenge (that only for a bearer scheme), or the
        rule is broken."""
        story = self.story
        story.check(
            response.status_code == 401,
            rule,
            f"{what} answered {response.status_code}, not 401",
        )
        if self.no_challenge is not None:
            return
        challenge = response.headers.get("WWW-Authenticate", "")
        story.check(
            challenge.lower().startswith("bearer") and "invalid_token" in challenge,
            WWW_AUTHENTICATE,
            f"{what}: the 401's WWW-Authenticate is {challenge!r}, not Bearer"
            ' error="invalid_token"',
        )

    def refused_token(self, access: str, rule: str, what: str, pair: Pair | None = None) -> None:
        """``access`` is refused. When it is (or is made from) ``pair``'s access token, a 401
        proves the rule only while that token would otherwise still be live."""
        response = self.story.send(self.probe, token=access)
        if pair is not None and response.status_code == 401:
            self.in_time(pair, what)
        self.refused(response, rule, what)

    def refresh(self, pair: Pair, title: str) -> Pair:
        story = self.story
        with story.step(title):
            response = self.sessions.refresh(pair.refresh)
            story.check(
                200 <= response.status_code < 300,
                REFRESH_ROTATES,
                f"the refresh answered {response.status_code}",
            )
            renewed = self.sessions.pair(response, refreshed=True)
            story.check(
                renewed is not None and bool(renewed.refresh),
                REFRESH_ROTATES,
                "the refresh answer lacks an access or a refresh token at the flow's pointers",
            )
            assert renewed is not None
            self.no_store(response, "refresh")
            story.check(
                renewed.refresh != pair.refresh,
                REFRESH_ROTATES,
                "the refresh handed back the same refresh token",
            )
        return renewed

    # -- the parts ------------------------------------------------------------------------------

    def run(self) -> None:
        story = self.story
        story.play("rotation and reuse", self.rotation)
        story.play("expiry", self.expiry)
        story.play("concurrent refreshes", self.concurrent)
        story.play("refused tokens", self.refused_tokens)
        if self.sessions.logout_op is not None:
            story.play("logout", self.logout)
        if self.no_challenge is not None:
            story.play("RFC 6750's challenge", self.challenge_not_judged)

    def challenge_not_judged(self) -> None:
        """Said once, as a skipped step: the other parts judged the 401s without it."""
        with self.story.step('a 401 carries WWW-Authenticate: Bearer error="invalid_token"'):
            raise StepSkipped(self.no_challenge or "")

    def rotation(self) -> None:
        story = self.story
        first = self.login()
        self.works(first, "the access token works")
        second = self.refresh(first, "a refresh returns a new pair")
        self.works(second, "the new access token works")
        with story.step("the used refresh token is refused"):
            self.refused(
                self.sessions.refresh(first.refresh), REFRESH_ROTATES,
                "a refresh with the already used refresh token",
            )  # fmt: skip
        with story.step("the reuse revoked the whole family"):
            self.refused_token(
                second.access, REUSE_REVOKES_FAMILY,
                "the newest access token after its family's refresh token was reused", second,
            )  # fmt: skip
            self.refused(
                self.sessions.refresh(second.refresh), REUSE_REVOKES_FAMILY,
                "the newest refresh token after its family's refresh token was reused",
            )  # fmt: skip

    def concurrent(self) -> None:
        story = self.story
        pair = self.login()
        with story.step(f"{CONCURRENT_REFRESHES} concurrent refreshes: exactly one succeeds"):
            winners = self.race(pair)
            story.check(
                len(winners) == 1,
                SINGLE_FLIGHT,
                f"{len(winners)} of {CONCURRENT_REFRESHES} concurrent refreshes of one"
                " token succeeded",
            )
        with story.step("then the family is dead"):
            self.refused_token(
                winners[0].access, REUSE_REVOKES_FAMILY,
                "the winning refresh's access token after the others reused the token",
                winners[0],
            )  # fmt: skip

    def refused_tokens(self) -> None:
        story = self.story
        pair = self.login()
        bearer = self.no_challenge is None
        with story.step(
            "no credentials: 401" + (" with the bare challenge `Bearer`" if bearer else "")
        ):
            response = story.send(self.probe)
            story.check(
                response.status_code == 401,
                NO_CREDENTIALS_401,
                f"{self.probe.label} without credentials answered {response.status_code}",
            )
            challenge = response.headers.get("WWW-Authenticate", "")
            story.check(
                not bearer
                or challenge.strip().lower() == "bearer"
                or challenge.lower().startswith("bearer realm"),
                WWW_AUTHENTICATE,
                f"the 401 without credentials has WWW-Authenticate {challenge!r}, not the"
                " bare challenge `Bearer`",
            )
        made = forged(pair.access)
        for what, token in made.items():  # made from a live token: only its forgery refuses it
            with story.step(f"{what}: 401"):
                self.refused_token(token, BAD_TOKEN_401, what, pair)
        with story.step("a garbage token: 401"):
            self.refused_token("not-a-token." + secrets.token_hex(8), BAD_TOKEN_401,
                               "a garbage token")  # fmt: skip
        if not made:
            with story.step("forged JWTs: 401"):
                raise StepSkipped("the access token is not a JWT: nothing to forge from")

    def logout(self) -> None:
        story = self.story
        pair = self.login()
        with story.step("logout succeeds"):
            response = self.sessions.logout(pair.access)
            if not 200 <= response.status_code < 300:
                self.in_time(pair, "logout")
            story.check(
                200 <= response.status_code < 300,
                LOGOUT_REVOKES,
                f"logout answered {response.status_code}",
            )
        with story.step("after logout the access token is refused"):
            self.refused_token(pair.access, LOGOUT_REVOKES, "the logged-out access token",
                               pair)  # fmt: skip
        with story.step("after logout the refresh token is refused"):
            self.refused(
                self.sessions.refresh(pair.refresh), LOGOUT_REVOKES,
                "a refresh with the logged-out refresh token",
            )  # fmt: skip

    def expiry(self) -> None:
        story = self.story
        pair = self.login()
        env = f"CONFORMANCE_{story.api.upper()}_EXPIRED_TOKEN"
        given = os.environ.get(env)
        register(given)  # expired, and still a credential: never written out
        waited = False
        said = "" if self.no_challenge else " with invalid_token"
        with story.step(f"an expired access token: 401 TOKEN_EXPIRED{said}"):
            if pair.lifetime is not None and pair.lifetime <= self.max_wait_s:
                # exp is in whole seconds: wait the lifetime and a second more
                story.sleep(pair.lifetime + 1.2)
                expired, waited = pair.access, True
            elif given:
                expired = given
            else:
                raise StepSkipped(
                    f"access tokens live {pair.lifetime or 'an unknown number of'} s, more than"
                    f" the {self.max_wait_s:.0f} s this scenario waits ([scenarios] max_wait_s);"
                    f" set {env} to an expired token to test expiry"
                )
            response = story.send(self.probe, token=expired)
            self.refused(response, EXPIRED_401, "an expired access token")
            code = error_code(response)
            story.check(
                code == "TOKEN_EXPIRED",
                EXPIRED_401,
                f"the expired token's 401 has code {code!r}, not TOKEN_EXPIRED",
            )
        if not waited:
            return
        renewed = self.refresh(pair, "the refresh after expiry returns a new pair")
        self.works(renewed, "the request replayed with the new token succeeds")

    def race(self, pair: Pair) -> list[Pair]:
        """Refresh one token from several threads at once; the pairs that came back."""
        barrier = threading.Barrier(CONCURRENT_REFRESHES)

        def one() -> httpx.Response:
            barrier.wait(timeout=10)
            return self.sessions.refresh(pair.refresh)

        with concurrent.futures.ThreadPoolExecutor(CONCURRENT_REFRESHES) as pool:
            answers = list(pool.map(lambda _: one(), range(CONCURRENT_REFRESHES)))
        won = []
        for response in answers:
            if 200 <= response.status_code < 300:
                renewed = self.sessions.pair(response, refreshed=True)
                if renewed is not None:
                    won.append(renewed)
        return won
