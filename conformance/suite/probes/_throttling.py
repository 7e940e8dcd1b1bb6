"""No login throttling (OWASP API2): wrong passwords for one account, bounded, must meet a 429 or
a lockout before `ATTEMPTS` of them.

Only ever against a throwaway account the run makes itself, through the ``x-auth-flow``
``accounts`` step, and deletes again (journaled as every throwaway account is): a probe never
tries wrong passwords on a real account, and is off in a read-only run. The first 429 (or 423,
or a 401/403 that says the account is locked) stops it. Then, so that the run's own later
logins are not held back: one login of a username that cannot exist tells whether the limit is
the account's alone (the reference backend's, per client and account) or the whole client's;
the client's is waited out (its ``Retry-After``, within the probe's one wait).
"""

from __future__ import annotations

import re
import secrets

import httpx

from conformance.contract import Spec
from conformance.masking import register
from conformance.suite._access import login_place
from conformance.suite._auth import LoginPlace, nobody_like
from conformance.suite._journal import Journal
from conformance.suite.probes._authentication import retry_after, send_login
from conformance.suite.scenarios._accounts import least_privileged_role, throwaway_accounts
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import ScenarioSkipped, StepSkipped, Story, scenario_rule

# the catalogue's rule judged here (`scenario_rule` checks it at import)
LOGIN_THROTTLING = scenario_rule("login-throttling")

#: wrong passwords sent at most, before the probe calls the login unthrottled
ATTEMPTS = 12
#: a 401 or 403 that says this has locked the account out
LOCKED = re.compile(
    r"lock(ed|out)|too many|temporarily (blocked|disabled|suspended)|try again later", re.I
)


def requires_throwaway_accounts(spec: Spec) -> None:
    """The guard: an ``x-auth-flow`` with an ``accounts`` step, the one way to an account that
    is the run's own to lock out."""
    flow = spec.declarations.auth_flow
    if flow is None or flow.accounts is None:
        raise ScenarioSkipped(
            "the spec declares no x-auth-flow accounts step: wrong passwords are tried only on"
            " a throwaway account the run makes, never on a real one",
            missing_declaration=True,
        )


@scenario(
    "login_throttling",
    kind="probe",
    requires="`x-auth-flow` with `accounts` (a throwaway account of the run's own)",
    guards=(requires_throwaway_accounts,),
    max_requests=ATTEMPTS + 10,
    max_seconds=30,
    waits=1,
    order=25,
)
def login_throttling(context: ScenarioContext, story: Story) -> None:
    flow = context.spec.declarations.auth_flow
    assert flow is not None  # the guard
    way = login_place(context.spec, context.url, context.credentials)
    if isinstance(way, str):
        raise ScenarioSkipped(way)
    journal = Journal(context.journal)
    with throwaway_accounts(story, flow, context.run_token(), journal) as accounts:
        if accounts.cannot_make is not None:
            raise accounts.cannot_make
        with story.step("make a throwaway account"):
            account = accounts.make(least_privileged_role(context.spec))
        throttled = None  # stays so where the part ends on its finding
        with story.part("wrong passwords"):
            throttled = wrong_passwords(story, way, account.username)
        with story.part("cleanup"):
            spare_the_client(story, way, throttled, account.username, context.max_wait_s)


def stopped(response: httpx.Response) -> str | None:
    """How ``response`` throttles or locks out the login (None: it does not)."""
    status = response.status_code
    if status == 429:
        return "429"
    if status == 423:
        return "423 (locked)"
    if status in (401, 403) and LOCKED.search(response.text):
        return f"{status} saying the account is locked"
    return None


def wrong_passwords(story: Story, way: LoginPlace, username: str) -> httpx.Response | None:
    """Up to `ATTEMPTS` wrong passwords; the answer that stopped them."""
    title = f"up to {ATTEMPTS} wrong passwords for the throwaway account: throttled or locked"
    with story.step(title):
        wrong = "Wrong-" + secrets.token_urlsafe(12)
        register(wrong)
        for sent in range(1, ATTEMPTS + 1):
            response = send_login(story, way, username, wrong)
            how = stopped(response)
            if how is not None:
                return response
            if 200 <= response.status_code < 300:
                raise StepSkipped(f"{way.operation.label} accepted a wrong password ({sent})")
        story.check(
            False,
            LOGIN_THROTTLING,
            f"{ATTEMPTS} wrong passwords for one account at {way.operation.label}"
            f" ({way.source}): none was refused with 429 or a lockout (the last answered"
            f" {response.status_code})",
        )
    return None


def spare_the_client(
    story: Story,
    way: LoginPlace,
    throttled: httpx.Response | None,
    username: str,
    max_wait_s: float,
) -> None:
    """Where the whole client is throttled, not only the account, wait it out: the run's own
    logins come from the same address."""
    if throttled is None or throttled.status_code != 429:
        return
    with story.step("the run's own logins are not held back"):
        nobody = nobody_like(story.spec, way.operation, way.username, username)
        other = send_login(story, way, nobody, "Wrong-" + secrets.token_hex(6))
        if other.status_code != 429:
            return  # the account's limit alone
        wait = retry_after(other)
        if wait is None or wait > min(max_wait_s, story.remaining_s() - 2):
            raise StepSkipped(
                f"the login is limited for the whole client (Retry-After"
                f" {other.headers.get('Retry-After')!r}), longer than this probe waits: the"
                " run's later logins may wait for it"
            )
        story.sleep(wait + 0.2)
