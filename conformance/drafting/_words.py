"""The names `conformance init` reads a spec by: what an auth operation, a token, a person, a
key and an owner are usually called in published APIs. One place, so that a miss is fixed by a
word here, not by a new branch of the inference."""

from __future__ import annotations

import re


def folded(name: str) -> str:
    """``access_token``, ``accessToken`` and ``Access-Token`` all give ``accesstoken``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# The patterns below match `folded` words: the last static segment of a path, or an operationId.

#: how a login begins (``/auth/login``, ``/token``, ``signIn``, ``loginUser``, ``createSession``)
LOGIN = re.compile(
    r"^(login|signin|authenticate|auth|token|session|createsession|createtoken|issuetoken"
    r"|obtaintoken|gettoken|accesstoken)"
)
#: what an account's registration is called: it may answer tokens too, but it is no login
REGISTER = re.compile(r"regist|signup|createaccount")
REFRESH = re.compile(r"refresh")
#: how a logout begins (``/logout``, ``signOut``, ``logoutUser``)
LOGOUT = re.compile(r"^(logout|signout|logoff|endsession)")
#: a read of the session's own principal, the whole word (``GET /auth/me``, ``/whoami``)
VERIFY = re.compile(
    r"^(me|verify|verifytoken|whoami|session|current|currentuser|userinfo|getcurrentuser|getme"
    r"|getsession)$"
)

#: request members that carry the login name, best first
USERNAMES = ("email", "username", "login", "user", "identifier", "emailaddress", "phone")
PASSWORDS = ("password", "passwd", "pass", "passphrase")
#: answer members holding the access token, best first
ACCESS_TOKENS = ("accesstoken", "authtoken", "bearertoken", "jwt", "sessiontoken", "token")
REFRESH_TOKENS = ("refreshtoken",)
#: answer members holding the access token's lifetime in seconds (a number)
LIFETIMES = ("expiresin", "expiresinseconds", "expires", "ttl", "lifetime")
#: request members a refresh takes its token in
REFRESH_FIELDS = ("refreshtoken", "token", "refresh")
#: a property holding the account's role (a string; the root ``x-roles`` is its enum)
ROLE_FIELDS = ("role", "systemrole", "userrole", "accountrole")

#: the stem of a reference naming a person: its kind is the accounts' kind
PEOPLE = frozenset(
    {
        "user", "owner", "author", "creator", "principal", "head", "recipient", "initiator",
        "actor", "assignee", "member", "requester", "approver", "reviewer", "sender", "grantee",
        "account", "manager",
    }
)  # fmt: skip
#: the stem of a reference naming a resource of the holder's own kind
SELF = frozenset({"parent"})

#: properties whose values identify one resource among its kind (409 ``DUPLICATE``), as
#: published APIs use them; ``name`` and national ids are not among them: often not unique
KEYS = ("slug", "key", "code", "sku", "handle")

#: properties naming the user a resource is private to, best first; the ones of an author are
#: private only while a draft (``AUTHORS``)
OWNERS = (
    "ownerid", "authorid", "createdby", "creatorid", "initiatorid", "recipientid", "userid",
)  # fmt: skip
AUTHORS = frozenset({"authorid", "createdby", "creatorid"})

#: a path segment of an operation that reads many records at once (an export)
EXPORTS = re.compile(r"^(export|exports|download|downloads)$", re.IGNORECASE)

#: role names that say more rights than an ordinary user's: the rest go first in a drafted
#: ``x-roles``, so that the least privileged role is the first (the suite's throwaway accounts
#: take the first while no operation declares its own roles)
ADMINISTRATORS = re.compile(r"admin|root|super|owner|system|service|internal", re.IGNORECASE)
MANAGERS = re.compile(r"manager|moderator|supervisor|editor|lead", re.IGNORECASE)


def privilege(role: str) -> int:
    """0 for an ordinary role, 1 for a managing one, 2 for an administrator's."""
    if ADMINISTRATORS.search(role):
        return 2
    return 1 if MANAGERS.search(role) else 0


def reference_stem(name: str) -> str | None:
    """``school`` for ``schoolId``, ``school_id``, ``schoolIds``; None for a name that does not
    end in an id (``id`` itself included)."""
    match = re.fullmatch(r"(.+?)(?:_ids?|Ids?|IDs?)", name)
    return folded(match.group(1)) if match else None
