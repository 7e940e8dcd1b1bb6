"""Accounts and tokens (CONTRACT.md §4): scrypt password hashes, HS256 JWT access tokens, and
single-use refresh tokens that rotate within a family.

A login starts a *family*; every refresh token descends from it. A refresh marks its token used
and issues the next pair in the same family. Presenting a used refresh token is theft: the whole
family is revoked, and every access token of it stops working (access tokens carry the family,
and a revoked family is checked on each use). Logout revokes the family at once.

Accounts, families and refresh tokens are stored as internal kinds (``_Account``, ``_Family``,
``_Refresh``) beside the API's resources; no route reaches them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from conformance.contract import Operation
from conformance.reference._errors import ApiError, duplicate, forbidden
from conformance.reference._model import Principal
from conformance.reference._store import Store, Transaction, UniqueViolation

ACCOUNT, FAMILY, REFRESH = "_Account", "_Family", "_Refresh"
#: RFC 7914's interactive cost: about 60 ms a login on this kind of machine.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
ALGORITHM = "HS256"
#: an access token's lifetime where ``[reference.token-lifetimes]`` names none: 15 minutes
DEFAULT_ACCESS_TTL_S = 900
REFRESH_TTL_S = 7 * 86400


def access_ttl_s(lifetimes: Mapping[str, int], role: str, names: Iterable[str]) -> int:
    """The access-token lifetime of an account under ``lifetimes`` (`Settings.token_lifetimes`,
    by scope): by principal (any of ``names``: its email, its seeded name), then role, then the
    default."""
    for name in names:
        if f"principal:{name}" in lifetimes:
            return lifetimes[f"principal:{name}"]
    return lifetimes.get(f"role:{role}", lifetimes.get("default", DEFAULT_ACCESS_TTL_S))


def describe_lifetimes(lifetimes: Mapping[str, int]) -> str:
    """What ``serve`` prints of ``lifetimes``: the default, and each principal's and role's."""
    scoped = ", ".join(
        f"{scope.removeprefix('principal:').removeprefix('role:')} {seconds} s"
        for scope, seconds in lifetimes.items()
        if scope != "default"
    )
    default = lifetimes.get("default", DEFAULT_ACCESS_TTL_S)
    return f"access tokens live {default} s" + (f" ({scoped})" if scoped else "")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    encode = base64.b64encode
    return f"scrypt${SCRYPT['n']}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=8, p=1
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


#: Checked against when no account matches, to spend the same time as a real check.
_DECOY = hash_password(secrets.token_urlsafe(16))


def unauthenticated(message: str, *, expired: bool = False, bare: bool = False) -> ApiError:
    """401 with the RFC 6750 challenge: bare when no credentials came, else invalid_token."""
    challenge = "Bearer" if bare else 'Bearer error="invalid_token"'
    return ApiError(
        401,
        "TOKEN_EXPIRED" if expired else "UNAUTHENTICATED",
        message,
        headers={"WWW-Authenticate": challenge},
    )


def invalid_credentials() -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", "the email and password do not match an account")


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    email: str
    role: str
    #: the API resource that is this account's user (a Gloria UserProfile, a Tchat User)
    user_id: str


@dataclass(frozen=True, slots=True)
class Issued:
    account: Account
    access_token: str
    refresh_token: str
    expires_in: int
    family: str

    def pair(self) -> dict[str, Any]:
        return {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresIn": self.expires_in,
        }


@dataclass(frozen=True, slots=True)
class Claims:
    account_id: str
    role: str
    family: str
    expires_at: int


class Tokens:
    """Issues, rotates, checks and revokes the tokens of one API."""

    def __init__(
        self,
        api: str,
        store: Store,
        access_ttl_s: Callable[[Account], int] = lambda account: DEFAULT_ACCESS_TTL_S,
        refresh_ttl_s: int = REFRESH_TTL_S,
    ):
        self.api = api
        self.store = store
        #: the access-token lifetime of an account (configurable per role and principal)
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        with store.write(api) as tx:
            secret = tx.meta(f"jwt-secret:{api}")
            if secret is None:
                secret = secrets.token_urlsafe(32)
                tx.set_meta(f"jwt-secret:{api}", secret)
        self._secret = secret
        #: token -> its verified claims. A signature does not change, so each token is verified
        #: once (PyJWT costs about 0.15 ms a request); expiry is still checked on every use,
        #: revocation in the database.
        self._verified: dict[str, dict[str, Any]] = {}

    # -- accounts ------------------------------------------------------------------------------

    def add_account(
        self, tx: Transaction, email: str, password: str, role: str, user_id: str
    ) -> Account:
        account = {
            "id": str(uuid.uuid4()),
            "email": email.lower(),
            "role": role,
            "userId": user_id,
            "passwordHash": hash_password(password),
        }
        tx.insert(ACCOUNT, account)
        try:
            tx.claim(ACCOUNT, {"email": account["email"], "userId": user_id}, account["id"])
        except UniqueViolation:
            raise duplicate("email") from None
        return Account(account["id"], account["email"], role, user_id)

    def account(self, tx: Transaction, account_id: str) -> Account | None:
        row = tx.get(ACCOUNT, account_id)
        if row is None:
            return None
        data = row.data
        return Account(data["id"], data["email"], data["role"], data["userId"])

    def account_for_user(self, tx: Transaction, user_id: str) -> Account | None:
        account_id = tx.find_unique(ACCOUNT, "userId", user_id)
        return self.account(tx, account_id) if account_id else None

    def remove_account_of(self, tx: Transaction, user_id: str) -> None:
        account = self.account_for_user(tx, user_id)
        if account is not None:
            tx.delete(ACCOUNT, account.id)

    def find_by_email(self, tx: Transaction, email: str) -> str | None:
        return tx.find_unique(ACCOUNT, "email", email.lower())

    def authenticate(self, tx: Transaction, account_id: str | None, password: str) -> Account:
        """The account if ``password`` is its password; 401 otherwise (also for no account)."""
        row = tx.get(ACCOUNT, account_id) if account_id else None
        # Hash even for an unknown account, so that timing does not tell which ones exist.
        stored = row.data["passwordHash"] if row else _DECOY
        if not check_password(password, stored) or row is None:
            raise invalid_credentials()
        account = self.account(tx, row.id)
        assert account is not None
        return account

    def start(self, tx: Transaction, account: Account) -> Issued:
        """A new token family for ``account``, and its first pair."""
        family = str(uuid.uuid4())
        tx.insert(FAMILY, {"id": family, "accountId": account.id, "revoked": False})
        return self._issue(tx, account, family)

    # -- tokens --------------------------------------------------------------------------------

    def _issue(self, tx: Transaction, account: Account, family: str) -> Issued:
        issued_at = int(time.time())
        lifetime = self.access_ttl_s(account)
        access = jwt.encode(
            {
                "sub": account.id,
                "role": account.role,
                "fam": family,
                "typ": "access",
                "jti": str(uuid.uuid4()),
                "iat": issued_at,
                "exp": issued_at + lifetime,
            },
            self._secret,
            algorithm=ALGORITHM,
        )
        refresh_id = str(uuid.uuid4())
        refresh = jwt.encode(
            {
                "sub": account.id,
                "fam": family,
                "typ": "refresh",
                "jti": refresh_id,
                "iat": issued_at,
                "exp": issued_at + self.refresh_ttl_s,
            },
            self._secret,
            algorithm=ALGORITHM,
        )
        tx.insert(REFRESH, {"id": refresh_id, "family": family, "used": False})
        return Issued(account, access, refresh, lifetime, family)

    def _decode(self, token: str, kind: str) -> dict[str, Any]:
        cached = self._verified.get(token)
        if cached is not None and cached.get("typ") == kind:
            if cached["exp"] <= time.time():
                raise unauthenticated(f"the {kind} token has expired", expired=True)
            return cached
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "fam", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated(f"the {kind} token has expired", expired=True) from None
        except jwt.InvalidTokenError:
            raise unauthenticated(f"the {kind} token is not valid") from None
        if claims.get("typ") != kind:
            raise unauthenticated(f"the token is not a {kind} token")
        if len(self._verified) >= 50_000:
            self._verified.clear()  # bounded: a long fuzzing run logs in many times
        self._verified[token] = claims
        return claims

    def refresh(self, token: str) -> Issued:
        """Rotate: the next pair of the family, in a transaction of its own. A used token
        revokes the family (theft): that revocation is committed, then the 401 raised."""
        claims = self._decode(token, "refresh")
        with self.store.write(self.api) as tx:
            outcome = self._rotate(tx, claims)
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    def _rotate(self, tx: Transaction, claims: Mapping[str, Any]) -> Issued | ApiError:
        family = tx.get(FAMILY, claims["fam"])
        record = tx.get(REFRESH, str(claims.get("jti")))
        if family is None or record is None or family.data["revoked"]:
            raise unauthenticated("the refresh token has been revoked")
        if record.data["used"]:
            self.revoke(tx, claims["fam"])
            return unauthenticated("the refresh token was used before: its family is revoked")
        tx.replace(REFRESH, {**record.data, "used": True})
        account = self.account(tx, claims["sub"])
        if account is None:
            raise unauthenticated("the account of this token no longer exists")
        return self._issue(tx, account, claims["fam"])

    def revoke(self, tx: Transaction, family: str) -> None:
        row = tx.get(FAMILY, family)
        if row is not None:
            tx.replace(FAMILY, {**row.data, "revoked": True})

    def check_access(self, tx: Transaction, token: str) -> Claims:
        """The claims of a live access token; 401 (invalid_token) otherwise."""
        claims = self._decode(token, "access")
        family = tx.get(FAMILY, claims["fam"])
        if family is None or family.data["revoked"]:
            raise unauthenticated("the token has been revoked")
        return Claims(claims["sub"], str(claims.get("role")), claims["fam"], int(claims["exp"]))


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = str(value).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


#: Who a public operation (login, health, a body-token refresh) acts for.
ANONYMOUS = Principal("", "anonymous", "")


class BearerAuth:
    """Authentication before everything else (CONTRACT.md §4): then the operation's x-roles."""

    def __init__(self, tokens: Tokens, access_scheme: str) -> None:
        self.tokens = tokens
        self.access_scheme = access_scheme

    def authenticate(self, operation: Operation, headers: Mapping[str, str]) -> Principal:
        if operation.is_public:
            return ANONYMOUS
        token = bearer(headers)
        if token is None:
            raise unauthenticated("this operation needs a bearer token", bare=True)
        if not any(self.access_scheme in requirement for requirement in operation.security):
            return ANONYMOUS  # another credential (Tchat's refresh token): its handler checks it
        with self.tokens.store.read(self.tokens.api) as tx:
            claims = self.tokens.check_access(tx, token)
            account = self.tokens.account(tx, claims.account_id)
        if account is None:
            raise unauthenticated("the account of this token no longer exists")
        if operation.roles and account.role not in operation.roles:
            raise forbidden(
                f"{operation.label} is for {', '.join(operation.roles)}, not {account.role}"
            )
        return Principal(account.user_id, account.role, account.email)
