"""The second account a probe acts as: another user (B) beside the run's own session (A).

A probe never spends another real user's password it was not given, and never the run's own
session as B. B is, in this order:

- a **named principal** of the credentials (``CONFORMANCE_<API>_<NAME>_USERNAME`` /
  ``_PASSWORD`` or ``_TOKEN``, a sub-table of the credentials file), logged in the way the run's
  own account is (`suite._access`: the spec's ``x-auth-flow``, a login the config describes, an
  OAuth2 flow, or a token as given), with a session of its own that is renewed when it runs out;
- else a **throwaway account** made through the spec's ``x-auth-flow`` ``accounts`` step, with
  the least privileged role the spec declares (`scenarios._changes.Cast`: journaled, removed when
  the probe ends); not in a read-only run, which makes nothing;
- else the probe is skipped, saying what to give it.

``unprivileged``: the account must not be an admin (the function-level probe): a named principal
whose role is the least privileged one, else one whose role does not look like an admin's.
"""

from __future__ import annotations

from conformance.errors import ConformanceError
from conformance.masking import mask
from conformance.suite._auth import DEFAULT_PRINCIPAL, Credentials, RunSession
from conformance.suite._preflight import open_access
from conformance.suite.scenarios._accounts import least_privileged_role
from conformance.suite.scenarios._changes import Cast
from conformance.suite.scenarios._makers import Actor
from conformance.suite.scenarios._registry import ScenarioContext
from conformance.suite.scenarios._story import ScenarioSkipped

#: roles no unprivileged account has (a principal named with one is never B of the
#: function-level probe)
ADMIN_ROLES = frozenset({"admin", "administrator", "root", "superuser", "owner", "service"})


def needs_second_account(api: str) -> str:
    """The skip's reason: what a user gives a probe that lacks a second account."""
    return (
        "needs a second account: name one (CONFORMANCE_"
        f"{api.upper()}_<NAME>_USERNAME/_PASSWORD or _TOKEN) or declare x-auth-flow accounts"
        " (conformance init drafts it)"
    )


def unprivileged(role: str | None, least: str | None) -> bool:
    """Whether a principal of ``role`` counts as unprivileged: the spec's least privileged role,
    or (without declared roles) any role that does not look like an admin's."""
    if least is not None:
        return role == least
    return role is None or role.lower() not in ADMIN_ROLES


def named_principal(
    credentials: Credentials, *, unprivileged_only: bool, least: str | None
) -> Credentials | None:
    """A named principal of the credentials to act as B (the run's own never): the first in
    name order that has credentials (and, ``unprivileged_only``, an unprivileged role; the
    least privileged one first)."""
    candidates = [
        other
        for name, other in sorted(credentials.principals.items())
        if name != DEFAULT_PRINCIPAL and other.given
    ]
    if unprivileged_only:
        candidates = [c for c in candidates if unprivileged(c.role, least)]
        candidates.sort(key=lambda c: c.role != least)
    return candidates[0] if candidates else None


def logged_in_principal(context: ScenarioContext, credentials: Credentials) -> Actor:
    """The named principal ``credentials``, logged in (a session of its own, renewed on its
    own lifetime by the login, or static). A login that fails skips the probe in one sentence."""
    credentials.register()
    try:
        way = open_access(context.spec, context.url, credentials, context.network)
        if way is None:
            raise ScenarioSkipped(f"the principal {credentials.principal} has no credentials")
        session = RunSession(
            context.spec, context.url, credentials, context.network, read_only=context.read_only,
            login=way.login, presenter=way.presenter,
        )  # fmt: skip
        session.start()
    except ConformanceError as error:
        raise ScenarioSkipped(
            mask(f"the principal {credentials.principal} cannot log in: {error}")
        ) from None
    name = (
        f"{credentials.principal} ({credentials.role})"
        if credentials.role
        else (credentials.principal)
    )
    return Actor(name, credentials.role, session.access_token)


def second_account(
    context: ScenarioContext, players: Cast, *, unprivileged_only: bool = False
) -> Actor:
    """B: a named principal, else a throwaway account of the least privileged role (not in a
    read-only run), else `ScenarioSkipped` saying what to give the probe."""
    least = least_privileged_role(context.spec)
    named = named_principal(context.credentials, unprivileged_only=unprivileged_only, least=least)
    if named is not None:
        return logged_in_principal(context, named)
    accounts = players.accounts
    if accounts is not None and accounts.can_make and not context.read_only:
        role = players.role or "user"
        with players.story.step(f"make a throwaway {role} account, B, and log in"):
            return players.account("B")
    if unprivileged_only and context.credentials.principals:
        raise ScenarioSkipped(
            "needs an unprivileged second account: the named principals are all admins (give"
            f" one a role: CONFORMANCE_{context.api.upper()}_<NAME>_ROLE"
            + (f" = {least})" if least else ")")
        )
    raise ScenarioSkipped(needs_second_account(context.api))
