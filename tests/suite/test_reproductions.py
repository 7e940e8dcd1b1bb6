"""Reproductions that run as pasted: a failure's curl line, as the engine writes it (schemathesis's
command, with the engine's settings, through `masking.reproduction`), names the run's credential
by the variable a user sets it with, quoted so that bash expands it, and gets the status the
request got; every other secret stays masked, and no ``[Filtered]``."""

from __future__ import annotations

import base64
import http.cookies
import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import schemathesis

from conformance.masking import Masker, registered_forms
from conformance.suite._auth import Credentials
from conformance.suite._engine import engine_config, engine_settings
from tests.plain_specs import document, json_answer
from tests.servers import Quiet, serving
from tests.shell import pasted

TOKEN = "blog-token-3f9a+/=Z"  # characters a shell or a URL would take apart
USERNAME = "writer@example.com"
PASSWORD = 'correct horse $battery! "staple"'
#: the pair as Basic auth sends it
PAIR = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

#: the operations the app serves, each with the one credential it takes
BLOG = document(
    "Blog",
    {
        "/posts": {"get": {"operationId": "listPosts", "responses": {"200": json_answer({}, "")}}},
        "/login": {"post": {"operationId": "logIn", "responses": {"200": json_answer({}, "")}}},
    },
)


def _bearer(handler: Quiet) -> bool:
    return handler.headers.get("Authorization") == f"Bearer {TOKEN}"


def _token(handler: Quiet) -> bool:
    return handler.headers.get("Authorization") == f"Token {TOKEN}"


def _api_key(handler: Quiet) -> bool:
    return handler.headers.get("X-API-Key") == TOKEN


def _query(handler: Quiet) -> bool:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
    return query.get("api_key") == [TOKEN]


def _cookie(handler: Quiet) -> bool:
    cookies = http.cookies.SimpleCookie(handler.headers.get("Cookie") or "")
    return "session" in cookies and cookies["session"].value == TOKEN


def _basic(handler: Quiet) -> bool:
    return handler.headers.get("Authorization") == f"Basic {PAIR}"


def _login(handler: Quiet) -> bool:
    length = int(handler.headers.get("Content-Length") or 0)
    body = json.loads(handler.rfile.read(length) or b"{}")
    return bool(body == {"username": USERNAME, "password": PASSWORD})


#: how the request carries the credential, what the app checks, and what the line must say
PRESENTED: dict[str, tuple[dict[str, Any], Callable[[Quiet], bool], str]] = {
    "bearer": (
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        _bearer,
        '-H "Authorization: Bearer $CONFORMANCE_BLOG_TOKEN"',
    ),
    "token-prefix": (
        {"headers": {"Authorization": f"Token {TOKEN}"}},
        _token,
        '-H "Authorization: Token $CONFORMANCE_BLOG_TOKEN"',
    ),
    "api-key-header": (
        {"headers": {"X-API-Key": TOKEN}},
        _api_key,
        '-H "X-API-Key: $CONFORMANCE_BLOG_TOKEN"',
    ),
    "api-key-query": (  # percent-encoded by the shell: the token has characters a URL escapes
        {"query": {"api_key": TOKEN}},
        _query,
        '/posts?api_key=$(printf %s "$CONFORMANCE_BLOG_TOKEN" | od',
    ),
    "api-key-cookie": (
        {"cookies": {"session": TOKEN}},
        _cookie,
        '-H "Cookie: session=$CONFORMANCE_BLOG_TOKEN"',
    ),
    "basic": (
        {"headers": {"Authorization": f"Basic {PAIR}"}},
        _basic,
        '"$CONFORMANCE_BLOG_USERNAME:$CONFORMANCE_BLOG_PASSWORD"',
    ),
    "login-body": (
        {"body": {"username": USERNAME, "password": PASSWORD}, "media_type": "application/json"},
        _login,
        '\\"password\\": \\"$(printf %s "$CONFORMANCE_BLOG_PASSWORD" | sed',  # JSON-escaped
    ),
}


class Blog(Quiet):
    """Under ``/<way>/`` (a key of `PRESENTED`), 200 to a request that carries the credential
    that way, 401 otherwise; the statuses it answered, by way, in order."""

    answered: ClassVar[dict[str, list[int]]] = {}

    def _answer(self) -> None:
        way = self.path.split("/")[1]
        status = 200 if PRESENTED[way][1](self) else 401
        self.answered.setdefault(way, []).append(status)
        self.send_json(status, {"ok": status == 200})

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def blog() -> Iterator[str]:
    """The app on a free loopback port, for the module's tests: its URL."""
    with serving(Blog) as url:
        yield url


@pytest.fixture
def masker(monkeypatch: pytest.MonkeyPatch) -> Masker:
    """A registry of this test's own, where the run's credentials are registered
    (`Credentials.register`, the call site a run uses)."""
    fresh = Masker()
    monkeypatch.setattr("conformance.masking.SECRETS", fresh)
    monkeypatch.setattr("conformance.suite._auth.SECRETS", fresh)
    Credentials("blog", token=TOKEN, username=USERNAME, password=PASSWORD).register()
    return fresh


def _curl(url: str, presented: dict[str, Any]) -> tuple[str, int]:
    """The case's curl line as the engine gets it from schemathesis (the engine's settings),
    and the status the case itself got."""
    config = engine_config(engine_settings(url, {}, "smoke", 1))
    schema = schemathesis.openapi.from_dict(BLOG, config=config)
    method, path = ("POST", "/login") if "body" in presented else ("GET", "/posts")
    case = schema[path][method].Case(**presented)
    status = case.call(base_url=url).status_code
    return case.as_curl_command(base_url=url), status


@pytest.mark.parametrize("way", list(PRESENTED))
def test_a_reproduction_names_the_credential_s_variable_and_runs_as_pasted(
    way: str, masker: Masker, blog: str, tmp_path: Path
) -> None:
    presented, _, expected = PRESENTED[way]
    raw, status = _curl(f"{blog}/{way}", presented)
    line = masker.reproduction(raw)
    assert expected in line, line
    assert "[Filtered]" not in line
    assert "[masked" not in line
    assert not [form for form in registered_forms([TOKEN, PASSWORD]) if form in line], line
    # the reports mask what they write again: the line comes through unchanged
    assert masker.mask(line) == line
    assert masker.mask_data({"curl": line}) == {"curl": line}
    environment = {
        "CONFORMANCE_BLOG_TOKEN": TOKEN,
        "CONFORMANCE_BLOG_USERNAME": USERNAME,
        "CONFORMANCE_BLOG_PASSWORD": PASSWORD,
    }
    assert status == 200
    assert pasted(line, tmp_path, environment) == status
    # the variable is what authenticates: another value in it, and the answer is a 401
    wrong = {name: value + "x" for name, value in environment.items()}
    assert pasted(line, tmp_path, wrong) == 401
    assert Blog.answered[way][-3:] == [200, 200, 401]  # the case, then the two pastes


def test_a_scenario_s_reproduction_names_the_token_its_login_got_and_runs_as_pasted(
    masker: Masker, blog: str, tmp_path: Path
) -> None:
    from conformance.contract import bundled_spec, load_spec
    from conformance.suite._engine import Network
    from conformance.suite.scenarios._story import Story, curl

    story = Story(
        "blog", "auth_refresh", load_spec(bundled_spec("tchat")), "http://127.0.0.1:9", Network(),
        max_requests=1, max_seconds=1,
    )  # fmt: skip
    logged_in = httpx.Response(200, json={"accessToken": TOKEN, "refreshToken": "rotating-one"})
    story.remember(logged_in)  # a token a scenario's login got is named as the user's would be
    story.client.close()
    request = httpx.Request(
        "POST",
        f"{blog}/bearer/posts",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"a": "!"},
    )
    line = curl(request)
    assert '-H "Authorization: Bearer $CONFORMANCE_BLOG_TOKEN"' in line, line
    assert pasted(line, tmp_path, {"CONFORMANCE_BLOG_TOKEN": TOKEN}) == 200
    assert "rotating-one" not in masker.reproduction("curl -d rotating-one http://h")
