"""The run's own session: a login through the spec's ``x-auth-flow`` with the configured
credentials (`RunSession`: one login per API and process, refreshed after a 401 or on
schemathesis's refresh interval, a login again only when the refresh fails; logout and bearer
refresh cases fuzzed with throwaway sessions), or a static token.

    CONFORMANCE_<API>_TOKEN                       a bearer token issued elsewhere, or
    CONFORMANCE_<API>_USERNAME, _PASSWORD         the account the run logs in as

(``<API>`` is the target's name in upper case: GLORIA, TCHAT.) Never from flags, never printed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jsonschema_rs
import jwt

from conformance.checks import NO_WAIT, BeforeCall, WaitPolicy
from conformance.config import LoginSettings, Secrets
from conformance.contract import LoginStep, Operation, PointerError, RefreshStep, Spec, follow
from conformance.errors import ConformanceError, ExitCode
from conformance.masking import SECRETS, register
from conformance.suite._engine import DEFAULT_NETWORK, Network
from conformance.suite._present import Presenter
from conformance.suite._unique import fresh_text, padded

#: the longest the login waits out 429s, in all
LOGIN_PATIENCE_S = 60.0
#: the run's own login and refresh wait out 429s for `LOGIN_PATIENCE_S` in all, with as many
#: sends as it has seconds, and one (so a ``Retry-After: 0`` cannot make them spin)
LOGIN_WAITS = WaitPolicy(
    tries=int(LOGIN_PATIENCE_S) + 1,
    longest_wait_s=LOGIN_PATIENCE_S,
    total_wait_s=LOGIN_PATIENCE_S,
)


class AuthError(ConformanceError):
    """The run cannot get a session: it cannot judge the target."""

    exit_code = ExitCode.TARGET_BROKEN


class CredentialsRejected(AuthError):
    """The login refused the configured credentials: the run's configuration is wrong."""

    exit_code = ExitCode.BAD_INPUT


class LoginNotFound(AuthError):
    """No login where the spec puts it (404, 405): the target URL is not the API's base."""

    exit_code = ExitCode.BAD_INPUT


def _pair(response: httpx.Response, step: Any) -> tuple[str | None, str | None, float | None]:
    """What an auth answer holds at ``step``'s pointers, read once: the access token, the
    refresh token (None where absent), and the access token's lifetime in seconds."""
    try:
        answer = response.json()
    except ValueError:
        return None, None, None

    def at(pointer: str | None) -> Any:
        if not pointer:
            return None
        try:
            return follow(answer, pointer)
        except PointerError:
            return None

    def token(value: Any) -> str | None:
        return (
            str(value) if value not in (None, "") and not isinstance(value, (dict, list)) else None
        )

    lifetime = at(step.expires_in)
    seconds = float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else None
    return token(at(step.access_token)), token(at(step.refresh_token)), seconds


def _put(body: dict[str, Any], pointer: str, value: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        body = body.setdefault(part, {})
    body[parts[-1]] = value


def login_body(step: LoginStep, username: str, password: str) -> dict[str, Any]:
    """The body of a login through ``step``: the credentials at its pointers."""
    body: dict[str, Any] = {}
    _put(body, step.username, username)
    _put(body, step.password, password)
    return body


def refresh_request(
    step: RefreshStep, token: str, presenter: Presenter | None = None
) -> dict[str, Any]:
    """httpx's keyword arguments for a refresh through ``step`` with ``token``: where an access
    token goes (``token_in: bearer``: as ``presenter``, the flow's scheme, presents one; a
    bearer without it), or in a JSON body at the step's ``token_field``."""
    if step.token_in == "bearer":
        if presenter is None:
            return {"headers": {"Authorization": f"Bearer {token}"}}
        presented = presenter.present(token)
        found: dict[str, Any] = {"headers": presented.httpx_headers()}
        if presented.params:
            found["params"] = dict(presented.params)
        return found
    body: dict[str, Any] = {}
    _put(body, step.token_field or "/refreshToken", token)
    return {"json": body}


#: the default principal's name: the account the run itself uses
DEFAULT_PRINCIPAL = "default"


@dataclass
class Credentials:
    """One principal's credentials for one API (the run's own: `DEFAULT_PRINCIPAL`), and the
    API's other named principals (`principals`), each with its role where the user says it."""

    api: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    role: str | None = None
    #: what an apiKey header's value starts with (``Token``): OpenAPI cannot state it
    prefix: str | None = None
    #: the security scheme these credentials are for; None: chosen from the spec
    scheme: str | None = None
    login: LoginSettings | None = None
    principal: str = DEFAULT_PRINCIPAL
    principals: dict[str, Credentials] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environment(cls, api: str) -> Credentials:
        prefix = f"CONFORMANCE_{api.upper()}_"
        return cls(
            api,
            os.environ.get(prefix + "TOKEN") or None,
            os.environ.get(prefix + "USERNAME") or None,
            os.environ.get(prefix + "PASSWORD") or None,
        )

    @classmethod
    def of(cls, api: str, secrets: Secrets, principal: str = DEFAULT_PRINCIPAL) -> Credentials:
        """The credentials the config layer read (``config.credentials``), named principals
        included; they share the API's prefix, scheme and login."""
        recipe = secrets.login
        found = cls(
            api, secrets.token, secrets.username, secrets.password, secrets.client_id,
            secrets.client_secret, secrets.role, secrets.prefix, secrets.scheme, recipe, principal,
        )  # fmt: skip
        for name, other in secrets.principals.items():
            named = cls.of(api, other, name)
            named.prefix, named.scheme, named.login = found.prefix, found.scheme, recipe
            found.principals[name] = named
        return found

    def register(self) -> None:
        """Mask these credentials, and every named principal's, in everything the run writes;
        a reproduction names each by the variable a user sets it with (`masking.reproduction`)."""
        var = self.variable
        SECRETS.add(self.token, variable=var("TOKEN"))
        SECRETS.add(self.client_secret, variable=var("CLIENT_SECRET"))
        SECRETS.add_basic(
            self.username,
            self.password,
            username_variable=var("USERNAME"),
            password_variable=var("PASSWORD"),
        )
        SECRETS.add_basic(
            self.client_id,
            self.client_secret,
            username_variable=var("CLIENT_ID"),
            password_variable=var("CLIENT_SECRET"),
        )
        for other in self.principals.values():
            other.register()

    @property
    def can_log_in(self) -> bool:
        return bool(self.username and self.password)

    @property
    def is_client(self) -> bool:
        """An OAuth2 client's own credentials (the client-credentials flow)."""
        return bool(self.client_id and self.client_secret)

    @property
    def given(self) -> bool:
        return bool(self.token or self.can_log_in or self.is_client)

    def variable(self, key: str) -> str:
        """The environment variable of ``key`` (``TOKEN``) for this principal."""
        named = "" if self.principal == DEFAULT_PRINCIPAL else f"{self.principal.upper()}_"
        return f"CONFORMANCE_{self.api.upper()}_{named}{key}"

    def named(self, principal: str) -> Credentials | None:
        """The principal ``principal`` of this API (`DEFAULT_PRINCIPAL`: these)."""
        if principal == self.principal:
            return self
        return self.principals.get(principal)

    @property
    def every_principal(self) -> tuple[Credentials, ...]:
        """These credentials, then the API's other named principals'."""
        return (self, *self.principals.values())

    def with_role(self, role: str) -> Credentials | None:
        """A principal of this API with ``role`` (the run's own first), if the user gave one."""
        for candidate in self.every_principal:
            if candidate.role == role and candidate.given:
                return candidate
        return None


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
    #: the login's call, as evidence (None: no operation of the spec was called)
    exchanged: Exchanged | None
    #: seconds the access token lives, when the answer says (``expires_in`` of the flow)
    expires_in: float | None = None


def _call(
    api: str, method: str, target: str, waits: WaitPolicy, network: Network, **kwargs: Any
) -> tuple[httpx.Response, float]:
    """One call of the run's own, waiting out 429s as ``waits`` allows."""
    patience = waits.patience()
    while True:  # at most waits.tries sends
        began = time.perf_counter()
        try:
            with httpx.Client(**network.httpx_options()) as client:
                response = client.request(method, target, **kwargs)
        except httpx.HTTPError as exc:
            raise AuthError(f"{api}: {method} {target} failed: {exc}") from None
        took = time.perf_counter() - began
        wait = patience.wait_s(response)
        if wait is None and patience.gave_up:
            raise AuthError(f"{api}: {method} {target} stays rate limited (429)")
        if wait is None:
            return response, took
        time.sleep(wait)


def sign_in(
    spec: Spec,
    url: str,
    credentials: Credentials,
    network: Network = DEFAULT_NETWORK,
    waits: WaitPolicy = LOGIN_WAITS,
) -> SignedIn:
    """Log in through the spec's login step; the tokens, and the call as evidence: the run's
    own login counts as an answer of the login operation (a documented 2xx exercises it).
    ``waits``: how its 429s are waited out."""
    flow = spec.declarations.auth_flow
    operation = spec.operation(flow.login.operation_id) if flow is not None else None
    if flow is None or operation is None:
        raise AuthError(
            f"{credentials.api}: the spec declares no x-auth-flow login; set"
            f" CONFORMANCE_{credentials.api.upper()}_TOKEN instead"
        )
    assert credentials.username is not None
    assert credentials.password is not None
    body = login_body(flow.login, credentials.username, credentials.password)
    target = url.rstrip("/") + operation.path
    response, took = _call(
        credentials.api, operation.method.upper(), target, waits, network, json=body
    )
    if response.status_code in (404, 405):  # no login there: most likely not the API's base
        base = spec.base_path
        raise LoginNotFound(
            f"{credentials.api}: login at {target} answered {response.status_code}; is {url}"
            " the API's base URL" + (f" (the spec's servers end in {base})?" if base else "?")
        )
    if response.status_code in (400, 401, 403):
        raise CredentialsRejected(
            f"{credentials.api}: login as {credentials.username} at {target} answered"
            f" {response.status_code}; check CONFORMANCE_{credentials.api.upper()}_USERNAME and"
            " _PASSWORD (or the credentials file)"
        )
    if not 200 <= response.status_code < 300:  # a 201, say, is a login too
        raise AuthError(
            f"{credentials.api}: login as {credentials.username} at {target} answered"
            f" {response.status_code}; check CONFORMANCE_{credentials.api.upper()}_USERNAME and"
            " _PASSWORD"
        )
    access, refresh, lifetime = _pair(response, flow.login)
    if access is None:
        raise AuthError(
            f"{credentials.api}: the login answer has no access token at {flow.login.access_token}"
        )
    exchanged = Exchanged(flow.login.operation_id, response.status_code, took)
    # a reproduction needs a token, and $CONFORMANCE_<API>_TOKEN is how a user gives one: the
    # access token this login got is written as that variable (`masking.reproduction`)
    register(access, variable=credentials.variable("TOKEN"))
    register(refresh)
    return SignedIn(access, refresh, exchanged, lifetime)


def login(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> str:
    """An access token for ``credentials`` through the spec's login step."""
    return sign_in(spec, url, credentials, network).access_token


@dataclass(frozen=True)
class Refreshed:
    """A refresh the run sent: the renewed tokens (None: refused) and the call as evidence."""

    signed: SignedIn | None
    exchanged: Exchanged | None = None


@dataclass(frozen=True)
class LoginPlace:
    """The spec's operation a login sends the account to, where its username and password go
    in the body (JSON pointers), and where that was read (``source``): the engine fuzzes that
    operation too (`RunSession.install`), and the probes log in there
    (`probes._authentication`). Found by `flow_place`, `_access.recipe_place` and
    `_access.oauth_place`, in that order (`_access.login_place`)."""

    operation: Operation
    username: str  #: JSON pointer of the username in the body
    password: str  #: JSON pointer of the password
    source: str = "x-auth-flow"
    form: bool = False  #: sent as a form, not JSON
    #: members the body always carries (an OAuth2 token request's ``grant_type``)
    fixed: Mapping[str, str] = field(default_factory=dict)


def flow_place(spec: Spec) -> LoginPlace | str | None:
    """The login of the spec's ``x-auth-flow``; why it cannot be used; None: the spec has none."""
    flow = spec.declarations.auth_flow
    if flow is None:
        return None
    operation = spec.operation(flow.login.operation_id)
    if operation is None:
        return f"x-auth-flow names {flow.login.operation_id}, which the spec lacks"
    return LoginPlace(operation, flow.login.username, flow.login.password)


class Login(Protocol):
    """How a principal gets its credential: a login through the spec's ``x-auth-flow``
    (`FlowLogin`), a login the config describes, an OAuth2 flow, or a credential given as it is
    (``suite._access``)."""

    #: a credential given as it is: nothing to log in to, nothing to renew
    static: bool

    @property
    def place(self) -> LoginPlace | None:
        """The spec's operation the login goes to (None: none of the spec's, or no login)."""
        ...

    def sign_in(self, waits: WaitPolicy) -> SignedIn: ...

    def refresh(self, signed: SignedIn) -> Refreshed | None:
        """A refresh of ``signed``; None: there is no way to (then a login again renews)."""
        ...


def flow_presenter(spec: Spec, credentials: Credentials) -> Presenter:
    """How the tokens of the spec's ``x-auth-flow`` go on a request: as its scheme presents
    one (any that takes a token: an http bearer, an apiKey after the credentials' prefix such
    as ``Token``, OAuth2); a bearer where the spec declares no flow or no such scheme."""
    flow = spec.declarations.auth_flow
    scheme = spec.security_schemes.get(flow.scheme) if flow is not None else None
    return Presenter(spec, scheme, credentials.prefix)


class FlowLogin:
    """The login and refresh the spec's ``x-auth-flow`` declares (`sign_in`)."""

    static = False

    def __init__(
        self, spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
    ) -> None:
        self.spec, self.url, self.credentials, self.network = spec, url, credentials, network
        self.flow = spec.declarations.auth_flow
        #: how the flow's tokens go on a request (its scheme, the credentials' prefix)
        self.presenter = flow_presenter(spec, credentials)
        found = flow_place(spec)
        self.place = found if isinstance(found, LoginPlace) else None

    def sign_in(self, waits: WaitPolicy = LOGIN_WAITS) -> SignedIn:
        return sign_in(self.spec, self.url, self.credentials, self.network, waits)

    def refresh(self, signed: SignedIn) -> Refreshed | None:
        step = self.flow.refresh if self.flow is not None else None
        operation = self.spec.operation(step.operation_id) if step is not None else None
        if step is None or operation is None or signed.refresh_token is None:
            return None
        target = self.url.rstrip("/") + operation.path
        kwargs = refresh_request(step, signed.refresh_token, self.presenter)
        response, took = _call(
            self.credentials.api,
            operation.method.upper(),
            target,
            LOGIN_WAITS,
            self.network,
            **kwargs,
        )
        exchanged = Exchanged(step.operation_id, response.status_code, took)
        if not 200 <= response.status_code < 300:
            return Refreshed(None, exchanged)
        access, refresh, lifetime = _pair(response, step)
        # the rotated pair is as secret as the first (the access token named as at the login)
        register(access, variable=self.credentials.variable("TOKEN"))
        register(refresh)
        if access is None:
            return Refreshed(None, exchanged)
        renewed = SignedIn(access, refresh or signed.refresh_token, exchanged, lifetime)
        return Refreshed(renewed, exchanged)


#: how often the engine's token is renewed at most (schemathesis's own default)
REFRESH_INTERVAL_S = 300


def lifetime_of(signed: SignedIn, now: float | None = None) -> float | None:
    """Seconds the access token lives: what the login answered (``expires_in``), else what the
    token says of itself where it is a JWT with an ``exp`` (from its ``iat``, else from now).
    A RealWorld backend answers an expired token with 500, not 401: only a token renewed before
    its ``exp`` keeps a long run signed in there. None when neither says."""
    if signed.expires_in is not None:
        return signed.expires_in
    try:  # read, not trusted: the run only times its renewal by it
        claims = jwt.decode(signed.access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    expiry, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expiry, (int, float)) or isinstance(expiry, bool):
        return None
    if isinstance(issued, (int, float)) and not isinstance(issued, bool) and issued < expiry:
        return float(expiry - issued)
    return max(0.0, float(expiry) - (time.time() if now is None else now))


def nobody_like(spec: Spec, operation: Operation, pointer: str, username: str) -> str:
    """A username that names nobody, for the login ``operation``'s username at ``pointer``:
    ``nobody<hex>`` (``nobody-<hex>@<domain>`` where the username is an email), letters and
    digits only, since a backend may refuse what its schema does not forbid (a space, say, and
    a 400 where a wrong password gets a 401 would read as user enumeration); within the
    schema's length, else a fresh value of its pattern and format."""
    schema = _username_schema(spec, operation, pointer)
    mark = uuid.uuid4().hex
    if "@" in username or schema.get("format") == "email":
        domain = username.rpartition("@")[2] if "@" in username else ""
        candidate = f"nobody-{mark[:12]}@{domain or 'example.com'}"
    else:
        longest = schema.get("maxLength")
        high = longest if isinstance(longest, int) and longest > 0 else 18
        shortest = schema.get("minLength")
        low = shortest if isinstance(shortest, int) else 0
        candidate = padded(("nobody" if high >= 12 else "n") + mark, low, high)
    try:
        fits = jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(candidate)
    except ValueError:  # a schema it cannot compile
        fits = True
    return candidate if fits else fresh_text(spec, schema) or candidate


def _username_schema(spec: Spec, operation: Operation, pointer: str) -> dict[str, Any]:
    """The schema of the login body's username at ``pointer``, resolved; {} where none says."""
    body = spec.deref(operation.definition.get("requestBody"))
    content = body.get("content") if isinstance(body, dict) else None
    for media in content.values() if isinstance(content, dict) else ():
        schema = spec.schema_at(media.get("schema"), pointer) if isinstance(media, dict) else None
        resolved = spec.deref(schema) if schema is not None else None
        if isinstance(resolved, dict):
            return resolved
    return {}


#: fresh logins a run spends on throwaway sessions (for fuzzing logout and refresh), at most
THROWAWAY_LOGINS = 2

#: the engine auth's ``before_call`` (one engine runs at a time in a process)
_BEFORE_CALL = BeforeCall()


class RunSession:
    """The run's own session with one API: one login, then refreshed (a login again only when
    the refresh fails); never logged out. Logout, and a refresh that takes its token as the
    bearer, are fuzzed with throwaway sessions (fresh logins, a token family of their own), so
    the run never revokes its own tokens. Thread-safe (the engine's auth runs in its thread).

    ``login``: how the credential is had (default: the spec's ``x-auth-flow``; a static one is
    never renewed); ``presenter``: how it goes on each request (default: the flow's scheme)."""

    def __init__(
        self,
        spec: Spec,
        url: str,
        credentials: Credentials,
        network: Network = DEFAULT_NETWORK,
        *,
        read_only: bool = False,
        login: Login | None = None,
        presenter: Presenter | None = None,
    ) -> None:
        self.spec, self.url, self.credentials, self.network = spec, url, credentials, network
        self.read_only = read_only
        self.login: Login = login or FlowLogin(spec, url, credentials, network)
        #: the spec's x-auth-flow, where it is the way in (its logout and refresh are fuzzed
        #: with throwaway sessions)
        self.flow = spec.declarations.auth_flow if isinstance(self.login, FlowLogin) else None
        self.presenter = presenter or flow_presenter(spec, credentials)
        self._lock = threading.Lock()
        self._signed: SignedIn | None = None
        self._throwaways: list[SignedIn] = []
        self._throwaway_tries = 0
        #: the run's own calls of the auth operations: evidence that they work
        self.exchanged: list[Exchanged] = []
        #: (logins, refreshes) this session made, throwaways included
        self.logins = 0
        self.refreshes = 0

    def start(self) -> None:
        """Log in, then refresh once (a read-only run does not): both auth operations exercised
        for real with valid input, which no fuzzer produces. Fails in one sentence when the
        credentials do not work."""
        with self._lock:
            self._signed = self._login()
            if not self.read_only:
                renewed = self._refresh(self._signed)
                if renewed is not None:
                    self._signed = renewed

    def access_token(self) -> str:
        with self._lock:
            if self._signed is None:
                self._signed = self._login()
            return self._signed.access_token

    def renew(self, stale: str | None = None) -> str:
        """A working access token after a 401: refresh (or log in when that fails). ``stale``:
        the token that got the 401 (another thread may have renewed it already)."""
        with self._lock:
            signed = self._signed
            if signed is not None and stale is not None and signed.access_token != stale:
                return signed.access_token
            renewed = self._refresh(signed) if signed is not None and not self.read_only else None
            self._signed = renewed or self._login()
            return self._signed.access_token

    def throwaway(self) -> SignedIn | None:
        """A session of its own to be logged out or refreshed by a fuzzed case: a fresh login,
        at most `THROWAWAY_LOGINS` a run; after that the last one again (by then revoked, still
        never the run's own). None when no login could be made."""
        with self._lock:
            if self._throwaway_tries < THROWAWAY_LOGINS:
                self._throwaway_tries += 1
                with contextlib.suppress(AuthError):  # throttled, say: no waiting for it
                    self._throwaways.append(self._login(evidence=False, waits=NO_WAIT))
            return self._throwaways[-1] if self._throwaways else None

    def _login(self, *, evidence: bool = True, waits: WaitPolicy = LOGIN_WAITS) -> SignedIn:
        signed = self.login.sign_in(waits)
        if not self.login.static:
            self.logins += 1
        if evidence and signed.exchanged is not None:
            self.exchanged.append(signed.exchanged)
        return signed

    def _refresh(self, signed: SignedIn) -> SignedIn | None:
        refreshed = self.login.refresh(signed)
        if refreshed is None:
            return None
        self.refreshes += 1
        if refreshed.exchanged is not None:
            self.exchanged.append(refreshed.exchanged)
        return refreshed.signed

    def spare_account(self, case: Any) -> None:
        """A fuzzed login of the run's own username with any other password goes out with a
        username that names nobody (as its schema allows): wrong passwords count against an
        account (a throttle per username, a lockout), and the engine draws the run's username
        from the answers it saw. A login of the vault's run (its ``root``) was throttled
        before the authentication probe could compare its logins, which then waited 50 s."""
        place, own = self.login.place, self.credentials.username
        body = case.body
        if place is None or own is None or not isinstance(body, dict):
            return
        operation = place.operation
        if case.operation.method.lower() != operation.method.lower():
            return
        if case.operation.path != operation.path:
            return
        try:
            if follow(body, place.username) != own:
                return
        except PointerError:
            return  # a case without the username (a negative one) is left as drawn
        with contextlib.suppress(PointerError):  # a case without the password is a wrong one
            if follow(body, place.password) == self.credentials.password:
                return  # the run's own login, valid: it locks nothing
        _put(body, place.username, nobody_like(self.spec, operation, place.username, own))

    @contextlib.contextmanager
    def install(self, schema: Any) -> Iterator[None]:
        """Authenticate the engine's cases with this session while the block runs, renewed on a
        401; logout cases (and bearer refresh cases) with a throwaway session. The engine is
        given the credential's place (`Presenter.slots`); a phase that puts those placeholders
        on a case after the auth did (the coverage phase's fixed parameters) has them filled
        just before the case is sent."""
        session = self
        flow = self.flow
        logout = flow.logout.operation_id if flow is not None and flow.logout else None
        bearer_refresh = (
            flow.refresh.operation_id
            if flow is not None and flow.refresh and flow.refresh.token_in == "bearer"
            else None
        )
        given: dict[str, str] = {}
        #: the throwaway session a logout (or refresh) case was given, by case, until it is sent
        spares: dict[str, SignedIn | None] = {}

        class Session:
            def get(self, case: Any, ctx: Any) -> str:
                # the first call takes the session's token; later ones come after a 401 (or
                # schemathesis's refresh interval): renew it (a static one never is)
                if "token" not in given or session.login.static:
                    given["token"] = session.access_token()
                else:
                    given["token"] = session.renew(given["token"])
                return given["token"]

            def set(self, case: Any, data: str, ctx: Any) -> None:
                operation = session.spec.operation_at(case.operation.method, case.operation.path)
                operation_id = str(operation.operation_id) if operation is not None else None
                token = data
                if operation_id is not None and operation_id in (logout, bearer_refresh):
                    spare = spares.get(case.id) or session.throwaway()
                    if spare is None:
                        token = "throwaway-session-unavailable"
                    elif operation_id == logout:
                        token = spare.access_token
                    else:
                        token = spare.refresh_token or spare.access_token
                    spares[case.id] = spare  # the same one when its placeholder is filled
                session.presenter.fill(case, operation, token)

            def before_call(self, case: Any) -> None:
                session.spare_account(case)
                if session.presenter.placed(case):
                    if case.operation.schema.is_security_param_negated(case):
                        # a case about a missing or broken credential (as the auth skips it)
                        session.presenter.fill(case, None, None)
                    else:
                        self.set(case, given.get("token") or session.access_token(), None)
                spares.pop(case.id, None)  # sent now: its throwaway is spent

        engine_auth = Session()
        if self.login.static:  # nothing to renew: taken on every case, never replayed on a 401
            schema.auth.auth(retry_on=[], refresh_interval=None)(Session)
        else:
            # renewed before it expires (four fifths of its life), not only after a 401: a 401
            # invalidates the cache for the next case, but the case that met it stays a 401
            lifetime = lifetime_of(self._signed) if self._signed is not None else None
            interval = REFRESH_INTERVAL_S if lifetime is None else lifetime * 0.8
            interval = max(1, min(REFRESH_INTERVAL_S, int(interval)))
            schema.auth.auth(retry_on=[401], refresh_interval=interval)(Session)
        with _BEFORE_CALL.active(engine_auth):
            yield
