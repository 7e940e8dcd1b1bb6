"""How a principal gets into an API, for every security scheme a spec declares: which scheme its
credentials are for (`choose_scheme`), how the credential is had (`Login`: given as it is, the
spec's ``x-auth-flow``, a login the config describes, an OAuth2 password or client-credentials
flow), and how it goes on a request (`Presenter`). `access` decides all three, once, from the
spec and the credentials; a combination that cannot work is one sentence (exit 3).

    token                    a bearer, apiKey or OAuth2 token issued elsewhere (``prefix``:
                             what an apiKey header's value starts with, e.g. ``Token``)
    username, password       basic; or a login: the spec's x-auth-flow, the config's
                             ``[targets.<API>.login]``, or the scheme's OAuth2 password flow
    client_id, client_secret the scheme's OAuth2 client-credentials flow
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.checks import WaitPolicy
from conformance.config import LoginSettings
from conformance.contract import OAuthFlow, Operation, PointerError, SecurityScheme, Spec, follow
from conformance.errors import ExitCode
from conformance.masking import register
from conformance.suite._auth import (
    LOGIN_WAITS,
    AuthError,
    Credentials,
    CredentialsRejected,
    Exchanged,
    FlowLogin,
    Login,
    LoginNotFound,
    LoginPlace,
    Refreshed,
    SignedIn,
    _call,
    _put,
    flow_place,
)
from conformance.suite._engine import DEFAULT_NETWORK, Network
from conformance.suite._present import BEARER, Presenter

FORM = "application/x-www-form-urlencoded"


class CredentialsUnusable(AuthError):
    """The credentials given cannot be used with the spec's schemes: the run's configuration."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Static:
    """A credential given as it is: a token, or basic's ``user:password``."""

    value: str
    static = True
    place: ClassVar[None] = None

    def sign_in(self, waits: WaitPolicy = LOGIN_WAITS) -> SignedIn:
        return SignedIn(self.value, None, None)

    def refresh(self, signed: SignedIn) -> Refreshed | None:
        return None


def _rejected(credentials: Credentials, keys: tuple[str, ...]) -> str:
    """``check CONFORMANCE_X_USERNAME and CONFORMANCE_X_PASSWORD (or the credentials file)``."""
    variables = " and ".join(credentials.variable(key) for key in keys)
    return f"check {variables} (or the credentials file)"


def _answered(
    credentials: Credentials, what: str, response: httpx.Response, url: str, spec: Spec
) -> None:
    """Raise the one sentence for a login's refusal (400, 401, 403), its absence (404, 405: the
    URL is not the API's base) or another error; a 2xx passes."""
    status = response.status_code
    if status in (404, 405):
        base = spec.base_path
        raise LoginNotFound(
            f"{credentials.api}: {what} answered {status}; is {url} the API's base URL"
            + (f" (the spec's servers end in {base})?" if base else "?")
        )
    keys = ("USERNAME", "PASSWORD") if credentials.can_log_in else ("CLIENT_ID", "CLIENT_SECRET")
    if status in (400, 401, 403):
        error = _oauth_error(response)
        raise CredentialsRejected(
            f"{credentials.api}: {what} answered {status}{error}; {_rejected(credentials, keys)}"
        )
    if not 200 <= status < 300:
        raise AuthError(f"{credentials.api}: {what} answered {status}")


def _oauth_error(response: httpx.Response) -> str:
    """`` (invalid_grant)``: the error code of an OAuth2 error answer (RFC 6749, 5.2)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f" ({error})" if isinstance(error, str) and error.isidentifier() else ""


def _cookies(response: httpx.Response) -> dict[str, str]:
    """The cookies an answer sets, from its ``Set-Cookie`` headers as they are (no cookie
    jar's policy on domains: a loopback or internal host keeps its cookies)."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        try:
            jar.load(header)
        except CookieError:
            continue
    return {name: morsel.value for name, morsel in jar.items()}


def _media_type(spec: Spec, operation: Operation) -> str:
    """How a login's body is sent: a form where the spec documents only a form, else JSON."""
    body = spec.deref(operation.definition.get("requestBody"))
    content = body.get("content") if isinstance(body, dict) else None
    types = [str(t).split(";")[0].strip() for t in content] if isinstance(content, dict) else []
    return FORM if types and all(t in (FORM, "multipart/form-data") for t in types) else "json"


# -- where the login is ----------------------------------------------------------------------


def login_place(spec: Spec, url: str, credentials: Credentials) -> LoginPlace | str:
    """The API's login (`LoginPlace`): the spec's ``x-auth-flow``, else the config's recipe, else
    an OAuth2 password flow; or why there is none to try."""
    found = flow_place(spec)
    if found is not None:
        return found
    if credentials.login is not None:
        return recipe_place(spec, credentials.login, credentials.api)
    for scheme in spec.security_schemes.values():
        password = scheme.flow("password")
        if password is not None and password.token_url:
            return oauth_place(spec, url, password.token_url)
    return (
        "the spec declares no x-auth-flow login and no OAuth2 password flow, and the config"
        f" describes none ([targets.{credentials.api}.login])"
    )


def recipe_place(spec: Spec, recipe: LoginSettings, api: str) -> LoginPlace | str:
    """The login the config describes: its operation (an operationId, or ``METHOD /path``) and
    fields; or why it is none of the spec's."""
    method, _, path = recipe.operation.partition(" ")
    operation = spec.operation(recipe.operation) or (
        spec.operation_at(method, path.strip()) if path else None
    )
    if operation is None:
        return (
            f"[targets.{api}.login] operation = {recipe.operation!r} is no operation of the"
            " spec; give its operationId or METHOD /path"
        )
    form = _media_type(spec, operation) == FORM
    fields = (recipe.username_field, recipe.password_field)
    return LoginPlace(operation, *fields, f"[targets.{api}.login]", form)


def oauth_place(spec: Spec, url: str, token_url: str) -> LoginPlace | str:
    """An OAuth2 password flow's token request (a form with ``grant_type``), where its token URL
    is an operation of the spec; or why it is not."""
    operation = token_operation(spec, url, token_url)
    if operation is None:
        return f"the OAuth2 password flow's token URL {token_url} is no operation of the spec"
    fixed = {"grant_type": "password"}
    return LoginPlace(operation, "/username", "/password", "the OAuth2 password flow", True, fixed)


def token_operation(spec: Spec, url: str, target: str) -> Operation | None:
    """The spec's ``POST`` at ``target``, a URL under the API's ``url`` or one relative to it
    (None: none of them)."""
    path = urlsplit(urljoin(url.rstrip("/") + "/", target)).path
    base = urlsplit(url).path.rstrip("/")
    return spec.operation_at("post", path.removeprefix(base) or "/")


class RecipeLogin:
    """A login the config describes (`LoginSettings`): the account's username and password at
    its fields, the token at its pointer in the answer or the session cookie it sets. No refresh:
    a login again renews it."""

    static = False

    def __init__(
        self,
        spec: Spec,
        url: str,
        credentials: Credentials,
        recipe: LoginSettings,
        scheme: SecurityScheme,
        network: Network = DEFAULT_NETWORK,
    ) -> None:
        self.spec, self.url, self.credentials, self.recipe = spec, url, credentials, recipe
        self.scheme, self.network = scheme, network
        place = recipe_place(spec, recipe, credentials.api)
        if isinstance(place, str):
            raise CredentialsUnusable(f"{credentials.api}: {place}")
        self.place: LoginPlace | None = place
        self.operation = place.operation
        cookie = recipe.cookie
        if cookie is None and recipe.token_pointer is None:
            if scheme.type == "apiKey" and scheme.location == "cookie":
                cookie = scheme.parameter
            else:
                raise CredentialsUnusable(
                    f"{credentials.api}: [targets.{credentials.api}.login] says neither where"
                    " the token is (token_pointer) nor the session cookie (cookie)"
                )
        self.cookie = cookie

    def sign_in(self, waits: WaitPolicy = LOGIN_WAITS) -> SignedIn:
        api, recipe, operation = self.credentials.api, self.recipe, self.operation
        assert self.credentials.username is not None
        assert self.credentials.password is not None
        body: dict[str, Any] = {}
        _put(body, recipe.username_field, self.credentials.username)
        _put(body, recipe.password_field, self.credentials.password)
        sent = {"data": body} if _media_type(self.spec, operation) == FORM else {"json": body}
        target = self.url.rstrip("/") + operation.path
        response, took = _call(api, operation.method.upper(), target, waits, self.network, **sent)
        what = f"login as {self.credentials.username} at {target}"
        _answered(self.credentials, what, response, self.url, self.spec)
        if self.cookie is not None:
            token = _cookies(response).get(self.cookie)
            missing = f"sets no cookie {self.cookie!r}"
        else:
            token = _at(response, recipe.token_pointer or "")
            missing = f"has no token at {recipe.token_pointer}"
        if not token:
            raise AuthError(f"{api}: the login answer of {operation.label} {missing}")
        register(token, variable=self.credentials.variable("TOKEN"))
        evidence = operation.operation_id or operation.label
        return SignedIn(token, None, Exchanged(evidence, response.status_code, took))

    def refresh(self, signed: SignedIn) -> Refreshed | None:
        return None


def _at(response: httpx.Response, pointer: str) -> str | None:
    """The text at ``pointer`` of a JSON answer (None: not JSON, absent, not a scalar)."""
    try:
        value = follow(response.json(), pointer)
    except (ValueError, PointerError):
        return None
    if value in (None, "") or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


class OAuthLogin:
    """An OAuth2 flow of the spec (RFC 6749): the password grant (section 4.3) with the
    account's username and password, or the client-credentials grant (4.4), at the flow's token
    URL (relative ones against the API's URL); the client authenticates with HTTP Basic when it
    has a secret, else by its ``client_id`` in the body. Refreshed with the refresh token (6)
    when the answer gave one, else by asking again; renewed before ``expires_in`` runs out."""

    static = False

    def __init__(
        self,
        spec: Spec,
        url: str,
        credentials: Credentials,
        scheme: SecurityScheme,
        flow: OAuthFlow,
        network: Network = DEFAULT_NETWORK,
    ) -> None:
        self.spec, self.url, self.credentials = spec, url, credentials
        self.scheme, self.flow, self.network = scheme, flow, network
        self.token_url = urljoin(url.rstrip("/") + "/", flow.token_url or "")
        self.refresh_url = urljoin(url.rstrip("/") + "/", flow.refresh_url or flow.token_url or "")
        place = oauth_place(spec, url, flow.token_url or "") if flow.kind == "password" else None
        self.place = place if isinstance(place, LoginPlace) else None

    def _client(self, form: dict[str, str]) -> dict[str, Any]:
        """httpx's arguments for ``form`` with the client's own authentication."""
        credentials = self.credentials
        headers = {}
        if credentials.client_id and credentials.client_secret:
            pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif credentials.client_id:
            form = {**form, "client_id": credentials.client_id}
        return {"data": form, "headers": headers}

    def _evidence(self, target: str, status: int, took: float) -> Exchanged | None:
        """The token URL's call as evidence, when it is an operation of the spec."""
        found = token_operation(self.spec, self.url, target)
        if found is None or found.operation_id is None:
            return None
        return Exchanged(found.operation_id, status, took)

    def sign_in(self, waits: WaitPolicy = LOGIN_WAITS) -> SignedIn:
        credentials = self.credentials
        form = {"grant_type": self.flow.grant}
        if self.flow.kind == "password":
            assert credentials.username is not None
            assert credentials.password is not None
            form |= {"username": credentials.username, "password": credentials.password}
        target = self.token_url
        response, took = _call(credentials.api, "POST", target, waits, self.network,
                               **self._client(form))  # fmt: skip
        who = credentials.username or credentials.client_id
        what = f"the {self.flow.grant} grant for {who} at {target} ({self.scheme.name})"
        _answered(credentials, what, response, self.url, self.spec)
        return self._signed(response, None, self._evidence(target, response.status_code, took))

    def _signed(
        self, response: httpx.Response, kept: str | None, exchanged: Exchanged | None
    ) -> SignedIn:
        access = _at(response, "/access_token")
        if access is None:
            raise AuthError(
                f"{self.credentials.api}: the token answer of {self.token_url} has no access_token"
            )
        refresh = _at(response, "/refresh_token") or kept
        lifetime = _at(response, "/expires_in")
        seconds = float(lifetime) if lifetime and lifetime.replace(".", "", 1).isdigit() else None
        register(access, variable=self.credentials.variable("TOKEN"))
        register(refresh)
        return SignedIn(access, refresh, exchanged, seconds if seconds else None)

    def refresh(self, signed: SignedIn) -> Refreshed | None:
        if signed.refresh_token is None:
            return None
        form = {"grant_type": "refresh_token", "refresh_token": signed.refresh_token}
        target = self.refresh_url
        response, took = _call(self.credentials.api, "POST", target, LOGIN_WAITS, self.network,
                               **self._client(form))  # fmt: skip
        exchanged = self._evidence(target, response.status_code, took)
        if not 200 <= response.status_code < 300:
            return Refreshed(None, exchanged)
        try:
            return Refreshed(self._signed(response, signed.refresh_token, exchanged), exchanged)
        except AuthError:
            return Refreshed(None, exchanged)


def _usage(spec: Spec) -> Counter[str]:
    """scheme name -> the operations whose security names it."""
    used: Counter[str] = Counter()
    for operation in spec.operations:
        for name in {name for requirement in operation.security for name in requirement}:
            used[name] += 1
    return used


def _fits(spec: Spec, scheme: SecurityScheme, credentials: Credentials) -> bool:
    """Whether ``credentials`` can give ``scheme`` a credential."""
    if scheme.is_basic:
        return credentials.can_log_in
    if credentials.token:
        return scheme.takes_token
    flow = spec.declarations.auth_flow
    if credentials.can_log_in and (
        credentials.login is not None
        or (flow is not None and flow.scheme == scheme.name)
        or scheme.flow("password") is not None
    ):
        return scheme.takes_token
    return credentials.is_client and scheme.flow("clientCredentials") is not None


def choose_scheme(spec: Spec, credentials: Credentials) -> SecurityScheme | None:
    """The security scheme ``credentials`` are for: the one named (the credentials' or the
    login's ``scheme``), else the most used of the spec's that they can serve (the x-auth-flow's
    first). None for a spec without security schemes (a token then goes as a bearer)."""
    schemes = spec.security_schemes
    named = credentials.scheme or (credentials.login.scheme if credentials.login else None)
    if named is not None:
        if named not in schemes:
            known = ", ".join(schemes) or "none"
            raise CredentialsUnusable(
                f"{credentials.api}: scheme {named!r} is not among the spec's security schemes"
                f" ({known})"
            )
        return schemes[named]
    if not schemes:
        return None
    used = _usage(spec)
    flow = spec.declarations.auth_flow
    order = sorted(
        schemes.values(),
        key=lambda s: (flow is None or s.name != flow.scheme, -used[s.name]),
    )
    for scheme in order:
        if _fits(spec, scheme, credentials):
            return scheme
    if not credentials.given:  # nothing to present: the most used scheme, for the messages
        return order[0]
    given = (
        "a token" if credentials.token else
        "a username and password" if credentials.can_log_in else "an OAuth2 client"
    )  # fmt: skip
    listed = "; ".join(scheme.described for scheme in order)
    raise CredentialsUnusable(
        f"{credentials.api}: {given} fits none of the spec's security schemes ({listed}); "
        + _hint(credentials)
    )


def _hint(credentials: Credentials) -> str:
    if credentials.can_log_in:
        return (
            f"describe the login in [targets.{credentials.api}.login] (operation,"
            " username_field, password_field, token_pointer or cookie), or give"
            f" {credentials.variable('TOKEN')}"
        )
    return f"give {credentials.variable('TOKEN')}, or a username and password"


@dataclass
class Access:
    """How a principal gets in: the scheme, how its credential is had, how it is presented."""

    scheme: SecurityScheme | None
    login: Login
    presenter: Presenter

    @property
    def described(self) -> str:
        """The scheme as a message names it (``bearer`` where the spec declares none)."""
        return (self.scheme or BEARER).described


def access(
    spec: Spec, url: str, credentials: Credentials, network: Network = DEFAULT_NETWORK
) -> Access:
    """How ``credentials`` get into the API of ``spec`` at ``url`` (`CredentialsUnusable`, in
    one sentence, when they cannot)."""
    scheme = choose_scheme(spec, credentials)
    login = _login(spec, url, credentials, scheme, network)
    presented = scheme
    cookie = login.cookie if isinstance(login, RecipeLogin) else None
    # a session cookie goes as a cookie, whether or not the spec declares a scheme for it
    if cookie is not None and (
        scheme is None or (scheme.location, scheme.parameter) != ("cookie", cookie)
    ):
        name = scheme.name if scheme is not None else "session"
        presented = SecurityScheme(name, "apiKey", location="cookie", parameter=cookie)
    return Access(scheme, login, Presenter(spec, presented, credentials.prefix))


def _login(
    spec: Spec,
    url: str,
    credentials: Credentials,
    scheme: SecurityScheme | None,
    network: Network,
) -> Login:
    """How the credential for ``scheme`` is had (the `access` decision's second half)."""
    target = scheme or BEARER
    if target.is_basic and credentials.can_log_in:
        return Static(f"{credentials.username}:{credentials.password}")
    if credentials.token:
        return Static(credentials.token)
    if credentials.can_log_in and credentials.login is not None:
        return RecipeLogin(spec, url, credentials, credentials.login, target, network)
    flow = spec.declarations.auth_flow
    by_flow = flow is not None and (scheme is None or flow.scheme == target.name)
    if credentials.can_log_in and by_flow:
        return FlowLogin(spec, url, credentials, network)
    password, client = target.flow("password"), target.flow("clientCredentials")
    if credentials.can_log_in and password is not None and password.token_url:
        return OAuthLogin(spec, url, credentials, target, password, network)
    if credentials.is_client and client is not None and client.token_url:
        return OAuthLogin(spec, url, credentials, target, client, network)
    raise CredentialsUnusable(
        f"{credentials.api}: no way to log in for {target.described}: the spec declares no"
        " x-auth-flow login and no OAuth2 password flow; " + _hint(credentials)
    )
