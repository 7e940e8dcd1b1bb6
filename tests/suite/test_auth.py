"""Every OpenAPI security scheme: a small Blog API served once per scheme (an apiKey header
with the prefix ``Token``, an apiKey query parameter, HTTP basic, a session cookie from a login
operation, an OAuth2 password flow), each with a plain spec that says only its scheme. Each
lets the right credential in and answers 401 or 403 otherwise; the run presents each as its
scheme says, and a wrong one is one sentence, exit 3, within seconds."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import config
from conformance.checks import NO_WAIT
from conformance.cli import run
from conformance.config import LoginSettings
from conformance.contract import load_spec
from conformance.errors import ConfigError, ExitCode
from conformance.runner import RunOptions, named_after_spec, resolve_targets
from conformance.suite import (
    Credentials,
    CredentialsRejected,
    CredentialsUnusable,
    Network,
    RunSession,
    SuiteSession,
    Target,
    check_access,
)
from conformance.suite._client import RunClient
from conformance.suite._present import Presenter
from tests.plain_specs import JSON, document, json_answer, written
from tests.servers import AnyMethod, serving

TOKEN = "blog-token-7c1e9a"  # the token and apiKey apps' own key
READER = "blog-reader-0d4f"  # a key of an account that may not read the admin's statistics
ACCOUNT = ("qa@example.com", "correct-horse-battery")
SESSION = "session-3f9d2b5a"  # the cookie the cookie app's login sets
ACCESS = "oauth-access-51ab"  # what the OAuth2 app's token URL hands out first
CLIENT = ("blog-client", "client-secret-66d1")
QUICK = Network(timeout_s=5.0)

SCHEMES: dict[str, dict[str, Any]] = {
    "token": {"type": "apiKey", "in": "header", "name": "Authorization"},
    "query": {"type": "apiKey", "in": "query", "name": "api_key"},
    "basic": {"type": "http", "scheme": "basic"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
    "oauth": {
        "type": "oauth2",
        "flows": {
            "password": {"tokenUrl": "/oauth/token", "scopes": {}},
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
        },
    },
}
DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
POST = {
    "type": "object",
    "required": ["id", "title"],
    "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
}
REFUSED = {
    "401": json_answer(DETAIL, "Not authenticated"),
    "403": json_answer(DETAIL, "Forbidden"),
}


def _read(operation_id: str, answer: Any, **more: Any) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "security": [{"blogAuth": []}],
        "responses": {
            "200": json_answer(answer, "OK"),
            **REFUSED,
            "422": json_answer(DETAIL, "Invalid"),
        },
        **more,
    }


def blog_spec(scheme: str, *, admin_only: bool = False) -> dict[str, Any]:
    """The Blog's plain spec with its ``scheme`` (``admin_only``: its only parameterless read
    is the admin's statistics)."""
    limit = {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 100}}  # fmt: skip
    post_id = {"name": "post_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "operationId": "health",
                "security": [],
                "responses": {"200": json_answer(DETAIL, "OK")},
            }
        },
        "/posts/{post_id}": {
            "get": _read(
                "getPost",
                POST,
                parameters=[post_id],
                responses={
                    **_read("getPost", POST)["responses"],
                    "404": json_answer(DETAIL, "Not found"),
                },
            )
        },
    }
    if admin_only:
        paths["/admin/stats"] = {"get": _read("stats", DETAIL)}
    else:
        paths["/posts"] = {"get": _read("listPosts", {"type": "array", "items": POST},
                                        parameters=[limit])}  # fmt: skip
    if scheme == "cookie":
        body = {
            "type": "object",
            "required": ["email", "password"],
            "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
        }
        paths["/login"] = {"post": {
            "operationId": "login", "security": [],
            "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
            "responses": {"200": json_answer(DETAIL, "Signed in"),
                          "401": json_answer(DETAIL, "Wrong"), "422": json_answer(DETAIL, "Bad")},
        }}  # fmt: skip
    return document("Blog", paths, {"securitySchemes": {"blogAuth": SCHEMES[scheme]}})


class Blog(AnyMethod):
    """The Blog app: ``scheme`` says how it authenticates (the module's docstring); 422 for a
    bad parameter, 404 for an unknown post, 405 with ``Allow``."""

    scheme = "token"
    #: the OAuth2 app's current access token, and the grants its token URL was sent
    access = ACCESS
    grants: list[str]
    lock = threading.Lock()
    #: the broken app lets anonymous callers in
    anonymous_in = False
    #: what it refuses a caller with (the ``403`` variant: 403 with a wrong token and without)
    refusal = 401

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return dict(urllib.parse.parse_qsl(raw))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length)) if length else None
        except ValueError:
            return None

    def _who(self, query: dict[str, str]) -> str | None:
        """Whose credential the request carries (``admin`` or ``reader``), None: nobody's."""
        keys = {TOKEN: "admin", READER: "reader"}
        if self.scheme == "token":
            given = self.headers.get("Authorization") or ""
            return keys.get(given.removeprefix("Token ")) if given.startswith("Token ") else None
        if self.scheme == "query":
            return keys.get(query.get("api_key", ""))
        if self.scheme == "basic":
            pair = base64.b64encode(":".join(ACCOUNT).encode()).decode()
            return "admin" if self.headers.get("Authorization") == f"Basic {pair}" else None
        if self.scheme == "cookie":
            pairs = (self.headers.get("Cookie") or "").split(";")
            cookies = dict(p.strip().partition("=")[::2] for p in pairs if p.strip())
            return "admin" if cookies.get("sessionid") == SESSION else None
        return "admin" if self.headers.get("Authorization") == f"Bearer {self.access}" else None

    def _refuse(self) -> None:
        if self.refusal == 403:  # as an API behind Django REST framework's session auth answers
            return self.send_json(403, {"detail": "Authentication credentials were not provided."})
        challenge = {"basic": "Basic", "oauth": "Bearer", "token": "Token"}.get(self.scheme, "Key")
        return self.send_json(401, {"detail": "Not authenticated"}, WWW_Authenticate=challenge)

    def _handle(self) -> None:
        path, _, raw_query = self.path.partition("?")
        query = dict(urllib.parse.parse_qsl(raw_query))
        routes: dict[str, Callable[[], None]] = {}
        if path == "/health":
            routes = {"GET": lambda: self.send_json(200, {"detail": "ok"})}
        elif path == "/posts":
            routes = {"GET": lambda: self._posts(query)}
        elif match := re.fullmatch(r"/posts/([^/]+)", path):
            routes = {"GET": lambda: self._post(match.group(1))}
        elif path == "/admin/stats":
            routes = {"GET": lambda: self._stats(query)}
        elif path == "/login" and self.scheme == "cookie":
            routes = {"POST": self._login}
        elif path == "/oauth/token" and self.scheme == "oauth":
            routes = {"POST": self._token}
        if not routes:
            return self.send_json(404, {"detail": "Not Found"})
        if self.command not in routes:
            return self.send_json(405, {"detail": "Method Not Allowed"}, Allow=", ".join(routes))
        public = path in ("/health", "/login", "/oauth/token")
        if not public and self._who(query) is None and not self.anonymous_in:
            return self._refuse()
        return routes[self.command]()

    def _posts(self, query: dict[str, str]) -> None:
        limit = query.get("limit", "10")
        if not re.fullmatch(r"-?\d+", limit) or not 1 <= int(limit) <= 100:
            return self.send_json(422, {"detail": "limit: 1 to 100"})
        self.send_json(200, [{"id": 1, "title": "Hello"}][: int(limit)])

    def _post(self, raw: str) -> None:
        if not re.fullmatch(r"-?\d+", raw):
            return self.send_json(422, {"detail": "post_id: an integer"})
        if int(raw) != 1:
            return self.send_json(404, {"detail": "No such post"})
        self.send_json(200, {"id": 1, "title": "Hello"})

    def _stats(self, query: dict[str, str]) -> None:
        if self._who(query) == "reader":
            return self.send_json(403, {"detail": "Admins only"})
        self.send_json(200, {"detail": "3 posts"})

    def _login(self) -> None:
        body = self._body()
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("email", "password")
        ):
            return self.send_json(422, {"detail": "email and password"})
        if (body["email"], body["password"]) != ACCOUNT:
            return self.send_json(401, {"detail": "Wrong email or password"})
        self.send_json(200, {"detail": "ok"}, Set_Cookie=f"sessionid={SESSION}; Path=/; HttpOnly")

    def _token(self) -> None:
        form = self._form()
        with self.lock:
            self.grants.append(form.get("grant_type", ""))
        client = base64.b64encode(":".join(CLIENT).encode()).decode()
        granted = (
            form.get("grant_type") == "password"
            and (form.get("username"), form.get("password")) == ACCOUNT
        ) or (
            form.get("grant_type") == "client_credentials"
            and self.headers.get("Authorization") == f"Basic {client}"
        )
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "r1":
            type(self).access = ACCESS + "-renewed"
            granted = True
        if not granted:
            return self.send_json(400, {"error": "invalid_grant"})
        self.send_json(200, {"access_token": self.access, "token_type": "bearer",
                             "expires_in": 3600, "refresh_token": "r1"})  # fmt: skip


@pytest.fixture
def blog(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The Blog app of ``request.param``'s scheme, ``name`` or ``name-variant`` (``broken``:
    it lets anyone in; ``403``: it refuses with 403): its scheme and URL."""
    scheme, _, variant = str(request.param).partition("-")
    app = type(f"Blog_{scheme}", (Blog,), {
        "scheme": scheme, "grants": [], "access": ACCESS, "anonymous_in": variant == "broken",
        "refusal": 403 if variant == "403" else 401,
    })  # fmt: skip
    with serving(app) as url:
        yield scheme, url


#: the right credentials of each scheme's app
RIGHT: dict[str, dict[str, Any]] = {
    "token": {"token": TOKEN, "prefix": "Token"},
    "query": {"token": TOKEN},
    "basic": {"username": ACCOUNT[0], "password": ACCOUNT[1]},
    "cookie": {
        "username": ACCOUNT[0],
        "password": ACCOUNT[1],
        "login": LoginSettings("login", "/email", "/password"),
    },
    "oauth": {"username": ACCOUNT[0], "password": ACCOUNT[1]},
}
#: the apps a wrong credential is tried on: the apiKey header's refuses with 403 whether a
#: token is wrong or missing (what the API of issue 24 answered, anonymous reads included)
WRONG_APPS = ["token-403", "query", "basic", "cookie", "oauth"]
#: a wrong credential for each, and what the sentence says was sent (masked) and came back
WRONG: dict[str, tuple[dict[str, Any], str]] = {
    "token": ({"token": "not-the-token", "prefix": "Token"},
              "blogAuth (apiKey in header Authorization) sent `Authorization: Token [masked: 13"
              " characters]`, and GET /posts answered 403 with them, 403 without"),
    "query": ({"token": "not-the-key"},
              "blogAuth (apiKey in query api_key) sent `?api_key=[masked: 11 characters]`, and"
              " GET /posts answered 401 with them, 401 without"),
    "basic": ({"username": ACCOUNT[0], "password": "wrong"},
              "blogAuth (http basic) sent `Authorization: Basic [masked: 20 characters]`, and"
              " GET /posts answered 401 with them, 401 without"),
    "cookie": ({"username": ACCOUNT[0], "password": "wrong",
                "login": LoginSettings("login", "/email", "/password")},
               "login as qa@example.com at {url}/login answered 401"),
    "oauth": ({"username": ACCOUNT[0], "password": "wrong"},
              "the password grant for qa@example.com at {url}/oauth/token (blogAuth) answered"
              " 400 (invalid_grant)"),
}  # fmt: skip


def _spec(tmp_path: Path, scheme: str, **more: Any) -> Any:
    return load_spec(written(tmp_path, "blog", blog_spec(scheme, **more)))


@pytest.mark.parametrize("blog", list(SCHEMES), indirect=True)
def test_auth_each_scheme_lets_the_right_credential_in_and_the_run_presents_it(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    scheme, url = blog
    spec = _spec(tmp_path, scheme)
    credentials = Credentials("blog", **RIGHT[scheme])
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    assert way.scheme is not None
    assert way.scheme.name == "blogAuth"
    session = RunSession(spec, url, credentials, QUICK, login=way.login, presenter=way.presenter)
    session.start()
    client = RunClient(url, session.access_token, QUICK, session.renew, session.presenter.at)
    try:
        assert client.send("GET", "/posts").status_code == 200
        assert client.send("GET", "/posts/1").status_code == 200
        anonymous = RunClient(url, lambda: None, QUICK)
        assert anonymous.send("GET", "/posts").status_code in (401, 403)
        anonymous.close()
    finally:
        client.close()


@pytest.mark.parametrize("blog", WRONG_APPS, indirect=True)
def test_auth_a_wrong_credential_is_one_sentence_exit_3_within_seconds(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    scheme, url = blog
    spec = _spec(tmp_path, scheme)
    given, said = WRONG[scheme]
    began = time.monotonic()
    with pytest.raises(CredentialsRejected) as refused:
        check_access(spec, url, Credentials("blog", **given), QUICK)
    assert time.monotonic() - began < 5
    message = str(refused.value)
    assert refused.value.exit_code == ExitCode.BAD_INPUT
    assert said.format(url=url) in message, message
    assert "\n" not in message
    assert "not-the" not in message
    assert "wrong" not in message.split("answered")[0]


def _conformance(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["run", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


#: the wrong credentials of `WRONG` as the environment gives them (a login described in the
#: config file, for the cookie app)
VARIABLES = {
    "token": {"TOKEN": "not-the-token", "TOKEN_PREFIX": "Token"},
    "query": {"TOKEN": "not-the-key"},
    "basic": {"USERNAME": ACCOUNT[0], "PASSWORD": "wrong-password"},
    "cookie": {"USERNAME": ACCOUNT[0], "PASSWORD": "wrong-password"},
    "oauth": {"USERNAME": ACCOUNT[0], "PASSWORD": "wrong-password"},
}


@pytest.mark.parametrize("blog", WRONG_APPS, indirect=True)
def test_auth_conformance_run_with_a_wrong_credential_stops_before_fuzzing_exit_3(
    tmp_path: Path, blog: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scheme, url = blog
    path = written(tmp_path, "openapi3", blog_spec(scheme))
    for key, value in VARIABLES[scheme].items():
        monkeypatch.setenv(f"CONFORMANCE_BLOG_{key}", value)
    (tmp_path / "conformance.toml").write_text(
        f'[targets.blog]\nurl = "{url}"\nspec = "{path.name}"\n'
        '[targets.blog.login]\noperation = "POST /login"\nusername_field = "email"\n'
        if scheme == "cookie"
        else ""
    )
    began = time.monotonic()
    target = [] if scheme == "cookie" else ["--target", f"blog={url}", "--spec", str(path)]
    code, out, err = _conformance(
        *target, "--config", str(tmp_path / "conformance.toml"), "--reports", str(tmp_path / "r")
    )
    assert time.monotonic() - began < 10
    assert code == 3, (out, err)
    assert err.count("\n") == 1, err
    assert err.startswith("blog: "), err  # named by the user: CONFORMANCE_BLOG_…
    assert "wrong-password" not in err
    assert "not-the" not in err
    assert not (tmp_path / "r" / "verdict.json").exists()


@pytest.mark.parametrize("blog", ["token"], indirect=True)
def test_auth_a_token_without_the_prefix_its_api_wants_names_the_prefix_variable(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    with pytest.raises(CredentialsRejected, match="set CONFORMANCE_BLOG_TOKEN_PREFIX") as refused:
        check_access(_spec(tmp_path, "token"), url, Credentials("blog", TOKEN), QUICK)
    assert "sent `Authorization: [masked: 17 characters]`" in str(refused.value)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize("blog", ["query"], indirect=True)
def test_auth_a_least_privileged_accounts_403_on_an_admin_read_is_no_refusal(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    spec = _spec(tmp_path, "query", admin_only=True)
    # the reader is recognised (403, where anonymous gets 401): let in
    assert check_access(spec, url, Credentials("blog", READER), QUICK) is not None
    with pytest.raises(CredentialsRejected, match="GET /admin/stats answered 401 with them"):
        check_access(spec, url, Credentials("blog", "nobody-s-key"), QUICK)


@pytest.mark.parametrize("blog", ["query-broken"], indirect=True)
def test_auth_a_backend_whose_auth_is_broken_is_left_to_the_run(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog  # it lets anyone in: the run's ignored_auth judges that, not the preflight
    assert check_access(_spec(tmp_path, "query"), url, Credentials("blog", "any"), QUICK)


@pytest.mark.parametrize("blog", ["cookie"], indirect=True)
def test_auth_a_session_cookie_the_spec_does_not_declare_goes_as_a_cookie(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    data = blog_spec("cookie")
    del data["components"]["securitySchemes"]  # a spec that says nothing of the session
    for item in data["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    spec = load_spec(written(tmp_path, "blog", data))
    recipe = LoginSettings("login", "/email", "/password", cookie="sessionid")
    credentials = Credentials("blog", None, *ACCOUNT, login=recipe)
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    session = RunSession(spec, url, credentials, QUICK, login=way.login, presenter=way.presenter)
    session.start()
    assert session.presenter.at("GET", "/posts", session.access_token()).cookies == {
        "sessionid": SESSION
    }
    client = RunClient(url, session.access_token, QUICK, present=session.presenter.at)
    try:
        assert client.send("GET", "/posts").status_code == 200
    finally:
        client.close()


@pytest.mark.parametrize("blog", ["oauth"], indirect=True)
def test_auth_an_oauth2_session_is_refreshed_with_its_refresh_token(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    spec = _spec(tmp_path, "oauth")
    credentials = Credentials("blog", username=ACCOUNT[0], password=ACCOUNT[1])
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    session = RunSession(spec, url, credentials, QUICK, login=way.login, presenter=way.presenter)
    session.start()  # a login, then a refresh (both exercised for real)
    assert session.access_token() == ACCESS + "-renewed"
    assert (session.logins, session.refreshes) == (1, 1)


@pytest.mark.parametrize("blog", ["oauth"], indirect=True)
def test_auth_an_oauth2_client_gets_in_by_the_client_credentials_flow(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    credentials = Credentials("blog", client_id=CLIENT[0], client_secret=CLIENT[1])
    way = check_access(_spec(tmp_path, "oauth"), url, credentials, QUICK)
    assert way is not None
    assert way.login.sign_in(NO_WAIT).access_token == ACCESS
    wrong = Credentials("blog", client_id=CLIENT[0], client_secret="no")
    with pytest.raises(CredentialsRejected, match=r"client_credentials grant for blog-client"):
        check_access(_spec(tmp_path, "oauth"), url, wrong, QUICK)


def test_auth_the_presenter_puts_each_scheme_where_its_scheme_says(tmp_path: Path) -> None:
    shapes = {
        "token": ({"Authorization": "Token t0k3n"}, {}, {}),
        "query": ({}, {"api_key": "t0k3n"}, {}),
        "basic": ({"Authorization": "Basic dXNlcjpwYXNz"}, {}, {}),
        "cookie": ({}, {}, {"sessionid": "t0k3n"}),
        "oauth": ({"Authorization": "Bearer t0k3n"}, {}, {}),
    }
    for scheme, (headers, params, cookies) in shapes.items():
        spec = _spec(tmp_path, scheme)
        presenter = Presenter(spec, spec.security_schemes["blogAuth"], "Token")
        value = "user:pass" if scheme == "basic" else "t0k3n"
        shown = presenter.for_operation(spec.operation("listPosts"), value)
        assert (dict(shown.headers), dict(shown.params), dict(shown.cookies)) == (
            headers, params, cookies,
        ), scheme  # fmt: skip
        assert value not in shown.shown
    spec = _spec(tmp_path, "cookie")
    cookie = Presenter(spec, spec.security_schemes["blogAuth"])
    assert cookie.present("abcd").httpx_headers({"Cookie": "a=b"}) == {
        "Cookie": "a=b; sessionid=abcd"
    }


def test_auth_an_operation_gets_the_credential_only_where_one_of_its_alternatives_is_the_runs(
    tmp_path: Path,
) -> None:
    spec_data = blog_spec("query")
    spec_data["components"]["securitySchemes"]["other"] = {"type": "http", "scheme": "bearer"}
    spec_data["paths"]["/posts"]["get"]["security"] = [{"other": []}]
    spec_data["paths"]["/posts/{post_id}"]["get"]["security"] = [{"other": []}, {"blogAuth": []}]
    spec = load_spec(written(tmp_path, "blog", spec_data))
    presenter = Presenter(spec, spec.security_schemes["blogAuth"])
    assert not presenter.for_operation(spec.operation("listPosts"), "k").params  # not its scheme
    assert presenter.at("GET", "/posts/12", "k").params == {"api_key": "k"}  # an alternative
    assert presenter.at("GET", "/health", "k").params == {"api_key": "k"}  # public: as always


def test_auth_credentials_that_fit_no_scheme_are_one_sentence(tmp_path: Path) -> None:
    basic = _spec(tmp_path, "basic")
    with pytest.raises(CredentialsUnusable, match=r"a token fits none of the spec's security"
                       r" schemes \(blogAuth \(http basic\)\)"):  # fmt: skip
        check_access(basic, "http://127.0.0.1:9", Credentials("blog", "t"), QUICK)
    query = _spec(tmp_path, "query")
    with pytest.raises(CredentialsUnusable, match=r"describe the login in \[targets.blog.login\]"):
        check_access(query, "http://127.0.0.1:9", Credentials("blog", None, "u", "p"), QUICK)
    named = Credentials("blog", "t", scheme="nope")
    with pytest.raises(CredentialsUnusable, match=r"scheme 'nope' is not among .* \(blogAuth\)"):
        check_access(query, "http://127.0.0.1:9", named, QUICK)


# -- where credentials come from ---------------------------------------------------------------


def test_auth_a_login_described_in_the_config_is_accepted_and_a_value_there_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conformance.toml"
    path.write_text(
        '[targets.blog]\nurl = "http://x"\ntoken_prefix = "Token"\nscheme = "blogAuth"\n'
        '[targets.blog.login]\noperation = "POST /login"\nusername_field = "email"\n'
        'password_field = "/secret/password"\ntoken_pointer = "/access_token"\n'
    )
    settings = config.load(path, {})
    secrets = config.credentials("blog", settings, {})
    assert (secrets.prefix, secrets.scheme) == ("Token", "blogAuth")
    assert secrets.login == config.LoginSettings(
        "POST /login", "/email", "/secret/password", "/access_token"
    )
    credentials = Credentials.of("blog", secrets)
    assert credentials.login == LoginSettings("POST /login", "/email", "/secret/password",
                                            "/access_token")  # fmt: skip
    path.write_text(
        '[targets.blog]\nurl = "http://x"\n[targets.blog.login]\npassword = "hunter2"\n'
    )
    with pytest.raises(
        ConfigError, match=r"targets\.blog\.login\.password looks like a credential"
    ):
        config.load(path, {})


def test_auth_named_principals_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    secrets_file = tmp_path / "credentials.toml"
    secrets_file.write_text(
        '[blog]\ntoken = "admin-token"\nprefix = "Token"\nrole = "admin"\n'
        '[blog.reader]\ntoken = "reader-token"\nrole = "reader"\n'
    )
    settings = config.load(None, {"CONFORMANCE_CREDENTIALS": str(secrets_file)}, discover=False)
    environ = {
        "CONFORMANCE_BLOG_READER_TOKEN": "reader-from-env",
        "CONFORMANCE_BLOG_EDITOR_USERNAME": "ed@example.com",
        "CONFORMANCE_BLOG_EDITOR_PASSWORD": "ed-password",
        "CONFORMANCE_BLOG_EDITOR_ROLE": "editor",
        "CONFORMANCE_BLOG_TOKEN_PREFIX": "Bearer-ish",
    }
    credentials = Credentials.of("blog", config.credentials("blog", settings, environ))
    assert (credentials.token, credentials.role, credentials.prefix) == (
        "admin-token", "admin", "Bearer-ish",
    )  # fmt: skip
    reader, editor = credentials.named("reader"), credentials.with_role("editor")
    assert reader is not None
    assert (reader.token, reader.role) == ("reader-from-env", "reader")
    assert editor is not None
    assert (editor.username, editor.principal) == (
        "ed@example.com",
        "editor",
    )
    assert reader.prefix == "Bearer-ish"  # the API's, for each of its principals
    assert reader.variable("TOKEN") == "CONFORMANCE_BLOG_READER_TOKEN"
    assert credentials.named("nobody") is None


@pytest.mark.parametrize("blog", ["query"], indirect=True)
def test_auth_a_probe_acts_as_another_principal_through_the_suite(
    tmp_path: Path, blog: tuple[str, str]
) -> None:
    _, url = blog
    spec = _spec(tmp_path, "query", admin_only=True)
    credentials = Credentials("blog", TOKEN, role="admin")
    credentials.principals["reader"] = Credentials("blog", READER, role="reader",
                                                   principal="reader")  # fmt: skip
    suite = SuiteSession({"blog": Target("blog", spec, url, credentials)}, network=QUICK)
    as_reader = suite.session_as("blog", "reader")
    assert as_reader is not None
    assert as_reader.access_token() == READER
    presented = as_reader.presenter.at("GET", "/admin/stats", as_reader.access_token())
    assert presented.params == {"api_key": READER}
    assert suite.session_as("blog", "nobody") is None


def test_auth_the_api_is_named_by_the_user_and_a_derived_name_is_said(tmp_path: Path) -> None:
    path = written(tmp_path, "openapi3", blog_spec("token"))
    settings = config.load(None, {}, discover=False)
    named = RunOptions(targets=["blog=http://127.0.0.1:9"], spec=path)
    assert {name: t.spec for name, t in resolve_targets(named, settings).items()} == {"blog": path}
    assert named_after_spec(named) == []
    bare = RunOptions(targets=["http://127.0.0.1:9"], spec=path)
    assert list(resolve_targets(bare, settings)) == ["openapi3"]
    (line,) = named_after_spec(bare)
    assert "called 'openapi3' after openapi3.json" in line
    assert "CONFORMANCE_OPENAPI3_TOKEN" in line
    assert "--target NAME=http://127.0.0.1:9" in line


def test_auth_the_missing_credentials_sentence_names_the_schemes_variables(
    tmp_path: Path,
) -> None:
    from conformance.runner import missing_credentials

    with pytest.raises(ConfigError, match=r"set CONFORMANCE_BLOG_TOKEN for blogAuth \(apiKey in"
                       r" header Authorization\) \(and CONFORMANCE_BLOG_TOKEN_PREFIX"):  # fmt: skip
        missing_credentials("blog", _spec(tmp_path, "token"), config.Secrets())


# -- a whole run -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("blog", list(SCHEMES), indirect=True)
def test_auth_a_run_with_the_right_credential_exercises_the_operations(
    tmp_path: Path, blog: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scheme, url = blog
    path = written(tmp_path, "blog", blog_spec(scheme))
    variables = {key.upper(): value for key, value in RIGHT[scheme].items() if key != "login"}
    for key, value in variables.items():
        monkeypatch.setenv(f"CONFORMANCE_BLOG_{'TOKEN_PREFIX' if key == 'PREFIX' else key}", value)
    config_file = tmp_path / "conformance.toml"
    config_file.write_text(
        '[targets.blog]\nurl = "{url}"\nspec = "blog.json"\n[targets.blog.login]\n'
        'operation = "login"\nusername_field = "email"\n'.replace("{url}", url)
        if scheme == "cookie" else ""
    )  # fmt: skip
    target = [] if scheme == "cookie" else ["--target", f"blog={url}", "--spec", str(path)]
    code, out, err = _conformance(
        *target, "--config", str(config_file), "--reports", str(tmp_path / "r"),
        "--profile", "smoke", "--seed", "1", "-n", "0", "-p", "no:cacheprovider",
        "--no-html-report",
    )  # fmt: skip
    assert code == 0, (out[-3000:], err)
    verdict = json.loads((tmp_path / "r" / "verdict.json").read_text())
    seen = {op["operation_id"]: op["documented_2xx_seen"] for op in verdict["operations"]}
    assert seen["listPosts"], seen
    assert seen["getPost"], seen
    files = [p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()]
    for secret in (TOKEN, ACCOUNT[1], SESSION, ACCESS):
        assert not [text for text in files if secret.encode() in text], secret


def test_auth_a_jwts_own_exp_times_the_renewal_where_the_login_says_no_expires_in() -> None:
    """A RealWorld backend answers 500, not 401, once the run's JWT has expired: the run renews
    it at four fifths of the life its ``exp`` states when the login's answer states none."""
    import jwt

    from conformance.suite._auth import SignedIn, lifetime_of

    def signed(token: str, expires_in: float | None = None) -> SignedIn:
        return SignedIn(token, None, None, expires_in)

    issued = jwt.encode({"sub": "qa", "iat": 1_000, "exp": 1_600}, "k" * 32, algorithm="HS256")
    assert lifetime_of(signed(issued)) == 600.0  # from its iat to its exp
    bare = jwt.encode({"sub": "qa", "exp": 1_900}, "k" * 32, algorithm="HS256")
    assert lifetime_of(signed(bare), now=1_000) == 900.0  # from now, without an iat
    assert lifetime_of(signed(bare), now=2_000) == 0.0  # already expired: renewed at once
    assert lifetime_of(signed(issued, expires_in=60)) == 60  # what the login said comes first
    assert lifetime_of(signed("an-opaque-token")) is None  # nothing to read: the default
    no_exp = jwt.encode({"sub": "qa"}, "k" * 32, algorithm="HS256")
    assert lifetime_of(signed(no_exp)) is None


@pytest.mark.parametrize(
    ("schema", "own"),
    [
        ({"type": "string", "pattern": "^[a-z]{3,8}$", "maxLength": 8}, "root"),
        ({"type": "string", "format": "email"}, "qa@example.org"),
        ({"type": "string"}, "root"),
        ({"type": "string", "maxLength": 8}, "root"),
        ({"type": "integer"}, "7"),  # no text to draw: shaped like the username
    ],
)
def test_auth_a_fuzzed_login_of_the_runs_username_goes_to_a_username_of_nobody(
    tmp_path: Path, schema: dict[str, Any], own: str
) -> None:
    """The login's username gets a fresh value its schema takes (pattern, format, length),
    never the run's: wrong passwords for it would count against the run's own account."""
    import re

    import jsonschema

    from conformance.suite._auth import nobody_like

    login = {"type": "object", "properties": {"username": schema, "password": {"type": "string"}}}
    paths = {"/login": {"post": {
        "operationId": "login",
        "requestBody": {"content": {"application/json": {"schema": login}}},
        "responses": {"200": {"description": "in"}},
    }}}  # fmt: skip
    spec = load_spec(written(tmp_path, "shop", document("Shop", paths)))
    operation = spec.operation("login")
    assert operation is not None
    drawn = {nobody_like(spec, operation, "/username", own) for _ in range(20)}
    assert own not in drawn
    assert len(drawn) == 20  # fresh every time
    if schema["type"] == "string":
        for name in drawn:
            jsonschema.validate(name, schema, format_checker=jsonschema.FormatChecker())
            assert re.fullmatch(schema.get("pattern", ".*"), name), name
    if "pattern" not in schema and "format" not in schema:
        # letters and digits only: a backend may refuse what its schema does not forbid, and a
        # 400 to the unknown user beside a 401 to a wrong password would read as enumeration
        assert all(name.isalnum() and name.startswith("n") for name in drawn), drawn


def test_auth_only_a_wrong_password_for_the_runs_own_username_is_spared() -> None:
    """`RunSession.spare_account` on the cases the engine sends to tchat's login (``/email``,
    ``/password``): the run's email with another password, or none, goes out as nobody's; the
    run's own valid login, another username, a case without the username and other operations
    go as drawn."""
    from types import SimpleNamespace

    from conformance.contract import bundled_spec
    from conformance.suite._auth import RunSession

    own, password = "qa@tchat.example", "the-runs-password-1"
    session = RunSession(
        load_spec(bundled_spec("tchat")),
        "http://127.0.0.1:9",
        Credentials("tchat", username=own, password=password),
    )

    def sent(body: dict[str, Any], path: str = "/auth/login") -> dict[str, Any]:
        case = SimpleNamespace(operation=SimpleNamespace(method="POST", path=path), body=body)
        session.spare_account(case)
        result: dict[str, Any] = case.body
        return result

    spared = sent({"email": own, "password": "wrong"})
    assert spared["email"] != own
    assert spared["email"].startswith("nobody-")
    assert spared["email"].endswith("@tchat.example")
    assert spared["password"] == "wrong"
    assert sent({"email": own})["email"] != own  # no password is a wrong one too
    for body in ({"email": own, "password": password}, {"email": "x@y.io", "password": "w"},
                 {"password": "w"}):  # fmt: skip
        assert sent(dict(body)) == body
    assert sent({"email": own, "password": "w"}, path="/users") == {"email": own, "password": "w"}
