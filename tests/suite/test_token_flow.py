"""An ``x-auth-flow`` on an apiKey scheme: a Blog API whose tokens go as ``Authorization: Token
<jwt>`` (an apiKey header; the prefix is the credentials'), with a login, a refresh that takes
the refresh token where an access token goes and rotates it, and a logout. Its spec is plain;
an OpenAPI Overlay declares the flow. The run logs in through it, presents ``Token <jwt>``,
refreshes, and ``auth_refresh`` judges the app as for a bearer API, but for RFC 6750's
challenge (``WWW-Authenticate: Bearer``), which does not apply to it and is skipped, saying so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.contract import load_spec
from conformance.suite import Credentials, Network, RunSession, check_access
from conformance.suite._client import RunClient
from conformance.suite.scenarios import ScenarioContext, run_scenario
from tests.plain_specs import JSON, document, json_answer, written
from tests.servers import AnyMethod, serving

ACCOUNT = ("qa@example.com", "correct-horse-battery")
QUICK = Network(timeout_s=5.0)
KEY = secrets.token_bytes(32)  # the app's signing key
LIFETIME = 3600  # longer than auth_refresh waits: its expiry step is skipped, saying why

DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
PAIR = {
    "type": "object",
    "required": ["access", "refresh", "expires_in"],
    "properties": {
        "access": {"type": "string"},
        "refresh": {"type": "string"},
        "expires_in": {"type": "integer"},
    },
}
NO_STORE = {"Cache-Control": {"schema": {"type": "string", "pattern": "no-store"}}}
REFUSED = {"401": json_answer(DETAIL, "Not authenticated")}
SECURED: list[dict[str, list[str]]] = [{"tokenAuth": []}]


def _pair_answer() -> dict[str, Any]:
    return {**json_answer(PAIR, "A token pair"), "headers": NO_STORE}


def blog_spec() -> dict[str, Any]:
    """The Blog's plain spec: no ``x-`` key; its tokens go in an apiKey ``Authorization``."""
    login_body = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    }
    post = {"type": "object", "required": ["id", "title"],
            "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}}  # fmt: skip
    paths = {
        "/auth/login": {"post": {
            "operationId": "login", "security": [],
            "requestBody": {"required": True, "content": {JSON: {"schema": login_body}}},
            "responses": {"200": _pair_answer(), **REFUSED, "422": json_answer(DETAIL, "Bad")},
        }},
        "/auth/refresh": {"post": {
            "operationId": "refresh", "security": SECURED,
            "responses": {"200": _pair_answer(), **REFUSED},
        }},
        "/auth/logout": {"post": {
            "operationId": "logout", "security": SECURED,
            "responses": {"204": {"description": "Logged out"}, **REFUSED},
        }},
        "/posts": {"get": {
            "operationId": "listPosts", "security": SECURED,
            "responses": {"200": json_answer({"type": "array", "items": post}, "Posts"),
                          **REFUSED},
        }},
    }  # fmt: skip
    scheme = {"type": "apiKey", "in": "header", "name": "Authorization"}
    return document("Blog", paths, {"securitySchemes": {"tokenAuth": scheme}})


#: what the Blog team will not write into its published spec
OVERLAY = """\
overlay: 1.0.0
info: {title: Blog auth flow, version: "1"}
actions:
  - target: $
    description: the login, refresh and logout; tokens go as the apiKey Authorization header
    update:
      x-auth-flow:
        scheme: tokenAuth
        login: {operation: login, username: /email, password: /password,
                access_token: /access, refresh_token: /refresh, expires_in: /expires_in}
        refresh: {operation: refresh, token_in: bearer,
                  access_token: /access, refresh_token: /refresh, expires_in: /expires_in}
        logout: {operation: logout}
"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Blog(AnyMethod):
    """The Blog app: HS256 JWTs in ``Authorization: Token <jwt>``; each login starts a token
    family; a refresh token is good once (a reuse revokes its family); logout revokes the
    family. ``logout_revokes = False``: the defect, logout answers 204 and revokes nothing."""

    logout_revokes = True
    lock = threading.Lock()
    #: family -> the one refresh token id still good in it; revoked families are absent
    families: dict[str, str]
    #: the tokens the app was shown, as sent: (operation, Authorization header)
    seen: list[tuple[str, str]]

    def _jwt(self, family: str, kind: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": ACCOUNT[0], "fam": family, "typ": kind, "jti": secrets.token_hex(8),
                  "exp": int(time.time()) + LIFETIME}  # fmt: skip
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _claims(self, kind: str) -> dict[str, Any] | None:
        """The claims of the ``kind`` token in ``Authorization: Token …``, if it is a good one
        (signed with the key by HS256, of that kind, unexpired); its family may be revoked."""
        given = self.headers.get("Authorization") or ""
        self.seen.append((self.path, given[:6]))
        if not given.startswith("Token "):
            return None
        parts = given.removeprefix("Token ").split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError:
            return None
        wanted = hmac.new(KEY, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(signature, wanted):
            return None
        if not isinstance(claims, dict) or claims.get("typ") != kind:
            return None
        return claims if claims.get("exp", 0) > time.time() else None

    def _live(self, claims: dict[str, Any] | None) -> bool:
        return claims is not None and claims.get("fam") in self.families

    def _refuse(self) -> None:
        # as Django REST framework's TokenAuthentication answers: its keyword, not Bearer
        self.send_json(401, {"detail": "Invalid token."}, WWW_Authenticate="Token")

    def _pair(self, family: str) -> None:
        access, refresh = self._jwt(family, "access"), self._jwt(family, "refresh")
        self.families[family] = json.loads(_unb64(refresh.split(".")[1]))["jti"]
        self.send_json(200, {"access": access, "refresh": refresh, "expires_in": LIFETIME},
                       Cache_Control="no-store")  # fmt: skip

    def _handle(self) -> None:
        path = self.path.partition("?")[0]
        routes = {"/auth/login": "POST", "/auth/refresh": "POST", "/auth/logout": "POST",
                  "/posts": "GET"}  # fmt: skip
        if path not in routes:
            return self.send_json(404, {"detail": "Not found."})
        if self.command != routes[path]:
            return self.send_json(405, {"detail": "Method not allowed."}, Allow=routes[path])
        with self.lock:
            if path == "/auth/login":
                return self._login()
            if path == "/auth/refresh":
                return self._refresh()
            access = self._claims("access")
            if not self._live(access):
                return self._refuse()
            assert access is not None
            if path == "/auth/logout":
                if self.logout_revokes:
                    self.families.pop(access["fam"], None)
                return self.send_json(204)
            return self.send_json(200, [{"id": 1, "title": "Hello"}])

    def _login(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length)) if length else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("email", "password")
        ):
            return self.send_json(422, {"detail": "email and password"})
        if (body["email"], body["password"]) != ACCOUNT:
            return self.send_json(401, {"detail": "Wrong email or password."})
        return self._pair(secrets.token_hex(8))

    def _refresh(self) -> None:
        claims = self._claims("refresh")
        if not self._live(claims):
            return self._refuse()
        assert claims is not None
        family = claims["fam"]
        if self.families[family] != claims["jti"]:  # a used one again: the family is stolen
            del self.families[family]
            return self._refuse()
        return self._pair(family)


@pytest.fixture
def blog(request: pytest.FixtureRequest) -> Iterator[tuple[type[Blog], str]]:
    """The Blog app (``request.param`` ``"logout-keeps"``: the defect), and its URL."""
    defect = getattr(request, "param", "") == "logout-keeps"
    app = type("Blog", (Blog,), {"families": {}, "seen": [], "logout_revokes": not defect})
    with serving(app) as url:
        yield app, url


def _files(folder: Path) -> tuple[Path, Path]:
    overlay = folder / "blog.overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    return written(folder, "blog", blog_spec()), overlay


def _credentials() -> Credentials:
    return Credentials("blog", username=ACCOUNT[0], password=ACCOUNT[1], prefix="Token")


def test_token_flow_on_an_apikey_scheme_is_a_declaration_without_problems(tmp_path: Path) -> None:
    spec_path, overlay = _files(tmp_path)
    spec = load_spec(spec_path, [overlay])
    assert spec.declarations.auth_flow is not None
    assert spec.declarations.auth_flow.scheme == "tokenAuth"
    assert list(spec.declaration_problems) == []
    assert list(spec.overlay_problems) == []


def test_token_flow_logs_in_presents_token_jwt_and_refreshes(
    tmp_path: Path, blog: tuple[type[Blog], str]
) -> None:
    app, url = blog
    spec_path, overlay = _files(tmp_path)
    spec = load_spec(spec_path, [overlay])
    way = check_access(spec, url, _credentials(), QUICK)
    assert way is not None
    session = RunSession(spec, url, _credentials(), QUICK, login=way.login, presenter=way.presenter)
    session.start()  # a login, then a refresh with the refresh token as `Token <jwt>`
    assert (session.logins, session.refreshes) == (1, 1)
    assert [(op.operation_id, op.status) for op in session.exchanged] == [
        ("login", 200), ("refresh", 200),
    ]  # fmt: skip
    assert ("/auth/refresh", "Token ") in app.seen
    token = session.access_token()
    assert dict(session.presenter.at("GET", "/posts", token).headers) == {
        "Authorization": f"Token {token}"
    }
    client = RunClient(url, session.access_token, QUICK, session.renew, session.presenter.at)
    try:
        assert client.send("GET", "/posts").status_code == 200
        app.families.clear()  # every token revoked: the client's 401 renews by a login again
        assert client.send("GET", "/posts").status_code == 200
    finally:
        client.close()
    assert session.logins == 2


def _scenario(spec_path: Path, overlay: Path, url: str, folder: Path) -> Any:
    spec = load_spec(spec_path, [overlay])
    credentials = _credentials()
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    context = ScenarioContext(
        "blog", spec, url, credentials, QUICK, lambda: None, folder / "journal.jsonl",
        presenter=way.presenter,
    )  # fmt: skip
    verdict, _ = run_scenario("auth_refresh", context)
    return verdict


CHALLENGE_SKIPPED = (
    "the scheme tokenAuth (apiKey in header Authorization) is not http bearer: RFC 6750's"
    " challenge does not apply"
)


@pytest.mark.parametrize("blog", ["", "logout-keeps"], indirect=True)
def test_token_flow_auth_refresh_judges_an_apikey_flow_but_for_the_bearer_challenge(
    tmp_path: Path, blog: tuple[type[Blog], str]
) -> None:
    app, url = blog
    verdict = _scenario(*_files(tmp_path), url, tmp_path)
    steps = {(step.part, step.title): (step.outcome, step.detail) for step in verdict.steps}
    assert steps[("RFC 6750's challenge",
                  'a 401 carries WWW-Authenticate: Bearer error="invalid_token"')] == (
        "skipped", CHALLENGE_SKIPPED,
    )  # fmt: skip
    # judged as for a bearer API: rotation, reuse, the forgeries, all on `Token <jwt>`
    for part, title in [
        ("rotation and reuse", "the new access token works"),
        ("rotation and reuse", "the reuse revoked the whole family"),
        ("concurrent refreshes", "then the family is dead"),
        ("refused tokens", "no credentials: 401"),
        ("refused tokens", "a token with alg none and no signature: 401"),
    ]:
        assert steps[(part, title)] == ("passed", ""), (part, title, steps)
    rules = {failure.rule for failure in verdict.failures}
    if app.logout_revokes:
        assert verdict.outcome.value == "passed", verdict.failures
        assert steps[("logout", "after logout the access token is refused")][0] == "passed"
    else:  # the defect is found by its rule, and nothing else is
        assert verdict.outcome.value == "failed"
        assert rules == {"logout-revokes"}, verdict.failures
    assert "www-authenticate" not in rules


@pytest.mark.slow
@pytest.mark.parametrize("blog", [""], indirect=True)  # the defect: the fast test above
def test_token_flow_conformance_run_of_auth_refresh_with_an_overlay(
    tmp_path: Path, blog: tuple[type[Blog], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = blog
    spec_path, overlay = _files(tmp_path)
    monkeypatch.setenv("CONFORMANCE_BLOG_USERNAME", ACCOUNT[0])
    monkeypatch.setenv("CONFORMANCE_BLOG_PASSWORD", ACCOUNT[1])
    monkeypatch.setenv("CONFORMANCE_BLOG_TOKEN_PREFIX", "Token")
    reports = tmp_path / "r"
    out, err = io.StringIO(), io.StringIO()
    code = run([
        "run", "--target", f"blog={url}", "--spec", str(spec_path), "--overlay", str(overlay),
        "-m", "scenario", "-k", "auth_refresh", "--reports", str(reports), "--seed", "1",
        "-n", "0", "-p", "no:cacheprovider", "--no-html-report",
    ], out, err)  # fmt: skip
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    (found,) = [s for s in verdict["scenarios"] if s["name"] == "auth_refresh"]
    skipped = [s for s in found["steps"] if s["outcome"] == "skipped"]
    assert CHALLENGE_SKIPPED in [s["detail"] for s in skipped], found["steps"]
    assert app.logout_revokes
    assert found["outcome"] == "passed", found
    assert code == 0, (out.getvalue()[-3000:], err.getvalue())
    files = [p.read_bytes() for p in reports.rglob("*") if p.is_file()]
    assert not [text for text in files if ACCOUNT[1].encode() in text]
