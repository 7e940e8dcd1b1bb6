"""CONTRACT.md §4 on the running reference backend: tokens, their family, 401s, roles, privacy.

A backend of this module's own: one throwaway account's access tokens live 2 s (so expiry is seen
in seconds, without touching the ``service`` principal), and the people's rate limit is raised so
that these checks of authentication never meet it (test_limits.py judges the limiter).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from conformance.contract import RateLimit
from conformance.reference import Running, Settings, running
from tests.reference.conftest import Api, assert_error, open_api, unique

PASSWORD = "a-long-test-password"
SETTINGS = Settings(
    rate_limits={"default": RateLimit(10_000, 60), "operation:login": RateLimit(1000, 60)},
    token_lifetimes={
        "principal:short-lived@gloria.example": 2,
        "principal:short-lived@tchat.example": 2,
    },
)
INVALID = 'Bearer error="invalid_token"'


@pytest.fixture(scope="module")
def backends() -> Iterator[Running]:
    with running(settings=SETTINGS) as started:
        yield started


@pytest.fixture(scope="module", params=["gloria", "tchat"])
def api(request: pytest.FixtureRequest, backends: Running) -> Iterator[Api]:
    yield from open_api(backends, request.param)


@pytest.fixture(scope="module")
def gloria(backends: Running) -> Iterator[Api]:
    yield from open_api(backends, "gloria")


@pytest.fixture(scope="module")
def tchat(backends: Running) -> Iterator[Api]:
    yield from open_api(backends, "tchat")


# -- the APIs' auth operations, as each spec shapes them -------------------------------------


def login(api: Api, principal: str) -> httpx.Response:
    """Log in as a seeded principal, or as an account made with `account`."""
    if "@" in principal:
        email, password = principal, PASSWORD
    else:
        email = api.backend.credentials[principal].email
        password = api.backend.credentials[principal].password
    return httpx.post(f"{api.url}/auth/login", json={"email": email, "password": password})


def account(api: Api, email: str) -> str:
    """A staff account made through the API's own accounts operation (once); its email."""
    from tests.reference.test_operations import user_body

    body: dict[str, Any] = (
        {**user_body(), "email": email, "password": PASSWORD}
        if api.name == "gloria"
        else {"email": email, "displayName": "Short lived", "password": PASSWORD}
    )
    response = api.client.post("users", json=body)
    assert response.status_code in (201, 409), response.text
    return email


def data(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    found: dict[str, Any] = body["data"] if "timestamp" in body else body
    return found


def pair(api: Api, principal: str) -> dict[str, Any]:
    response = login(api, principal)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = data(response)["tokens"]
    return tokens


def refresh(api: Api, token: str) -> httpx.Response:
    if api.name == "gloria":
        return httpx.post(f"{api.url}/auth/refresh", json={"refreshToken": token})
    return httpx.post(f"{api.url}/auth/refresh", headers=bearer(token))


def logout(api: Api, access: str) -> httpx.Response:
    return httpx.post(f"{api.url}/auth/logout", headers=bearer(access))


def me(api: Api, access: str | None, **headers: str) -> httpx.Response:
    """The verify step: Gloria's ``GET /auth/me``, Tchat's ``GET /auth/verify``."""
    path = "auth/me" if api.name == "gloria" else "auth/verify"
    sent = {**(bearer(access) if access is not None else {}), **headers}
    return httpx.get(f"{api.url}/{path}", headers=sent)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rejected(response: httpx.Response, code: str = "UNAUTHENTICATED") -> None:
    assert_error(response, 401, code)
    assert response.headers["WWW-Authenticate"] == INVALID


# -- login, tokens and the verify step -------------------------------------------------------


def test_login_answers_a_pair_not_to_be_cached_and_wrong_credentials_are_401(api: Api) -> None:
    response = login(api, "staff1")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = data(response)["tokens"]
    assert tokens["expiresIn"] == 900
    assert tokens["accessToken"] != tokens["refreshToken"]
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    email = api.backend.credentials["staff1"].email
    wrong = httpx.post(f"{api.url}/auth/login", json={"email": email, "password": "not it!"})
    unknown = httpx.post(
        f"{api.url}/auth/login", json={"email": "nobody@example.com", "password": "not it!"}
    )
    # the same answer whether or not the account exists
    assert (
        assert_error(wrong, 401, "UNAUTHENTICATED")["message"]
        == (assert_error(unknown, 401, "UNAUTHENTICATED")["message"])
    )


def test_verify_names_the_tokens_user_and_its_expiry(api: Api) -> None:
    session = data(login(api, "staff1"))
    answer = me(api, session["tokens"]["accessToken"])
    assert answer.status_code == 200
    found = data(answer)
    assert found["user"]["id"] == session["user"]["id"]
    assert found["user"]["email"] == api.backend.credentials["staff1"].email
    claims = jwt.decode(session["tokens"]["accessToken"], options={"verify_signature": False})
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(claims["exp"]))
    assert found["expiresAt"].startswith(expected)


def short_lived(api: Api) -> str:
    return account(api, f"short-lived@{api.name}.example")


def test_token_lifetimes_are_configured_per_principal(api: Api) -> None:
    assert pair(api, short_lived(api))["expiresIn"] == 2
    assert pair(api, "staff1")["expiresIn"] == 900


# -- the refresh family ----------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_whole_family(api: Api) -> None:
    first = pair(api, "staff1")
    rotated = refresh(api, first["refreshToken"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["Cache-Control"] == "no-store"
    second = data(rotated)["tokens"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert me(api, second["accessToken"]).status_code == 200
    # the old refresh token again: theft. 401, and every token of the family dies.
    assert_rejected(refresh(api, first["refreshToken"]))
    assert_rejected(me(api, second["accessToken"]))
    assert_rejected(me(api, first["accessToken"]))
    assert_rejected(refresh(api, second["refreshToken"]))
    # another login is another family: not touched
    assert me(api, pair(api, "staff1")["accessToken"]).status_code == 200


def test_of_concurrent_refreshes_exactly_one_wins_then_the_family_is_dead(api: Api) -> None:
    tokens = pair(api, "staff1")
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def race() -> None:
        start.wait(timeout=10)
        answers.append(refresh(api, tokens["refreshToken"]))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [401] * 7
    (winner,) = [data(answer)["tokens"] for answer in answers if answer.status_code == 200]
    assert_rejected(me(api, winner["accessToken"]))
    assert_rejected(refresh(api, winner["refreshToken"]))


def test_logout_kills_the_access_and_the_refresh_token_at_once(api: Api) -> None:
    tokens = pair(api, "staff1")
    assert logout(api, tokens["accessToken"]).status_code == 204
    assert_rejected(me(api, tokens["accessToken"]))
    assert_rejected(refresh(api, tokens["refreshToken"]))


def test_an_expired_access_token_is_token_expired_and_a_refresh_brings_it_back(api: Api) -> None:
    tokens = pair(api, short_lived(api))
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.5)  # bounded: the lifetime is 2 s
    expired = me(api, tokens["accessToken"])
    assert_rejected(expired, "TOKEN_EXPIRED")
    renewed = refresh(api, tokens["refreshToken"])
    assert renewed.status_code == 200, renewed.text
    assert me(api, data(renewed)["tokens"]["accessToken"]).status_code == 200


# -- every kind of bad credential ------------------------------------------------------------


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _decode(header), _decode(payload), signature


def _decode(part: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return found


def _encode(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def bad_tokens(api: Api) -> dict[str, str]:
    tokens = pair(api, "staff1")
    access = tokens["accessToken"]
    header, claims, signature = _segments(access)
    promoted = {**claims, "role": "admin"}
    return {
        "garbage": "not-a-token",
        "tampered claims": f"{_encode(header)}.{_encode(promoted)}.{signature}",
        "tampered signature": access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB"),
        "alg none": f"{_encode({'alg': 'none', 'typ': 'JWT'})}.{_encode(promoted)}.",
        "wrong key": jwt.encode(claims, "not the servers key at all, 32+ bytes", "HS256"),
        "expired, well signed by another key": jwt.encode(
            {**claims, "exp": int(time.time()) - 60}, "another key of 32 bytes or more!!", "HS256"
        ),
        "refresh token as access token": tokens["refreshToken"],
    }


def test_every_bad_token_kind_is_401_invalid_token(api: Api) -> None:
    for kind, token in bad_tokens(api).items():
        response = me(api, token)
        assert response.status_code == 401, (kind, response.text)
        assert_rejected(response)


def test_no_credentials_is_401_with_a_bare_challenge(api: Api) -> None:
    for headers in ({}, {"Authorization": "Basic c3RhZmY6cGFzcw=="}, {"Authorization": "Bearer"}):
        response = me(api, None, **headers)
        assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["WWW-Authenticate"] == "Bearer"


# -- roles -----------------------------------------------------------------------------------

ROLE_OF = {"service": "service", "admin": "admin", "manager": "manager", "staff1": "staff"}


def plain_reads(api: Api) -> list[Any]:
    """The GET operations that need nothing in the path or query (calls without setup)."""
    return [
        op
        for op in api.spec.operations
        if op.method == "get"
        and "{" not in op.path
        and not op.is_public
        and not any(p.required for p in op.parameters if p.location in ("query", "path"))
    ]


def test_each_role_gets_exactly_the_operations_its_x_roles_allow(api: Api) -> None:
    clients = {role: api.client_as(principal) for principal, role in ROLE_OF.items()}
    # A role outside x-roles is 403 before anything else is looked at: the body, the ids.
    refused = 0
    for operation in api.spec.operations:
        if operation.is_public:
            continue
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), operation.path).lstrip("/")
        for role in set(ROLE_OF.values()) - set(operation.roles or ()):
            response = clients[role].request(operation.method.upper(), path)
            body = assert_error(response, 403, "FORBIDDEN")
            assert role in body["message"], (operation.label, body)
            refused += 1
    assert refused >= 5
    # ...and every role in x-roles is let through (the reads that need no setup)
    for operation in plain_reads(api):
        for role in operation.roles or ():
            response = clients[role].get(operation.path.lstrip("/"))
            assert response.status_code == 200, (role, operation.label, response.text)
    for client in clients.values():
        client.close()


# -- two users and their private resources ---------------------------------------------------


def user_id(api: Api, principal: str) -> str:
    found: str = data(login(api, principal))["user"]["id"]
    return found


def test_gloria_staff_see_only_their_own_notifications(gloria: Api) -> None:
    mine, theirs = gloria.client_as("staff1"), gloria.client_as("staff2")
    sent = gloria.client.post(
        "notifications",
        json={
            "recipientId": user_id(gloria, "staff1"),
            "type": "info",
            "channel": "in_app",
            "title": f"For staff1 only {unique()}",
            "body": "Private.",
        },
    )
    assert sent.status_code == 201, sent.text
    note = data(sent)
    path = f"notifications/{note['id']}"
    assert mine.get(path).status_code == 200
    assert note["id"] in {n["id"] for n in mine.get("notifications?limit=100").json()["data"]}
    assert_error(theirs.get(path), 404, "NOT_FOUND")
    assert_error(theirs.patch(path, json={"read": True}), 404, "NOT_FOUND")
    assert_error(theirs.delete(path), 404, "NOT_FOUND")
    listed = theirs.get("notifications", params={"recipientId": note["recipientId"]}).json()
    assert listed["total"] == 0
    assert all(n["recipientId"] != note["recipientId"] for n in listed["data"])
    # what staff2 tried changed nothing; those who see everyone's read it
    assert data(gloria.client.get(path)) == note
    assert gloria.client_as("manager").get(path).status_code == 200
    assert gloria.client_as("admin").get(path).status_code == 200


def test_gloria_staff_read_and_change_only_their_own_profile(gloria: Api) -> None:
    staff1, staff2 = user_id(gloria, "staff1"), user_id(gloria, "staff2")
    client = gloria.client_as("staff1")
    assert client.get(f"users/{staff1}").status_code == 200
    assert_error(client.get(f"users/{staff2}"), 404, "NOT_FOUND")
    assert_error(client.patch(f"users/{staff2}", json={"fullName": "Hijacked"}), 404, "NOT_FOUND")
    renamed = client.patch(f"users/{staff1}", json={"fullName": f"Staff One {unique()}"})
    assert renamed.status_code == 200, renamed.text
    before = data(client.get(f"users/{staff1}"))
    for change in ({"role": "admin"}, {"isActive": False}, {"nip": "198001012010011001"}):
        assert_error(client.patch(f"users/{staff1}", json=change), 403, "FORBIDDEN")
    assert data(client.get(f"users/{staff1}")) == before
    # a manager reads anyone but changes only themselves
    manager = gloria.client_as("manager")
    assert manager.get(f"users/{staff2}").status_code == 200
    assert_error(manager.patch(f"users/{staff2}", json={"fullName": "X"}), 403, "FORBIDDEN")
    # an admin changes anyone's guarded fields, but not their own role
    admin = gloria.client_as("admin")
    assert admin.patch(f"users/{staff2}", json={"isActive": True}).status_code == 200
    admin_id = user_id(gloria, "admin")
    assert_error(admin.patch(f"users/{admin_id}", json={"role": "staff"}), 403, "FORBIDDEN")


def test_gloria_staff_see_only_the_workflow_instances_they_started(gloria: Api) -> None:
    from tests.reference.test_operations import WORKFLOW

    workflow = WORKFLOW.make(gloria)
    mine, theirs = gloria.client_as("staff1"), gloria.client_as("staff2")
    started = mine.post(
        "workflow-instances", json={"workflowId": workflow["id"], "title": "My request"}
    )
    assert started.status_code == 201, started.text
    instance = data(started)
    path = f"workflow-instances/{instance['id']}"
    assert mine.get(path).status_code == 200
    assert_error(theirs.get(path), 404, "NOT_FOUND")
    assert_error(theirs.patch(path, json={"status": "cancelled"}), 404, "NOT_FOUND")
    ids = {i["id"] for i in theirs.get("workflow-instances?limit=100").json()["data"]}
    assert instance["id"] not in ids
    assert data(mine.get(path)) == instance


def test_tchat_drafts_are_private_to_their_author_until_published(tchat: Api) -> None:
    author, other = tchat.client_as("staff1"), tchat.client_as("staff2")
    category = tchat.client.get("content/categories").json()["data"][0]["id"]
    created = author.post(
        "content/items",
        json={"title": f"Draft {unique()}", "body": "Not yet.", "category": category},
    )
    assert created.status_code == 201, created.text
    draft = data(created)
    path = f"content/items/{draft['id']}"

    def listed(client: httpx.Client) -> set[str]:
        page = data(client.get("content/items", params={"status": "draft", "limit": 100}))
        synced = data(
            client.get("content/sync", params={"lastSyncTimestamp": "2000-01-01T00:00:00Z"})
        )
        return {i["id"] for i in page["data"]} | {i["id"] for i in synced["items"]}

    assert author.get(path).status_code == 200
    assert draft["id"] in listed(author)
    assert_error(other.get(path), 404, "NOT_FOUND")
    assert_error(other.put(path, json={"title": "Mine now"}), 404, "NOT_FOUND")
    assert_error(other.get(f"{path}/versions"), 404, "NOT_FOUND")
    assert draft["id"] not in listed(other)
    assert data(author.get(path)) == draft
    assert tchat.client_as("manager").get(path).status_code == 200
    published = tchat.client.post(f"{path}/publish", json={})
    assert published.status_code == 200, published.text
    assert other.get(path).status_code == 200


def test_tchat_users_read_only_themselves_and_only_admins_make_accounts(tchat: Api) -> None:
    staff1, staff2 = user_id(tchat, "staff1"), user_id(tchat, "staff2")
    client = tchat.client_as("staff1")
    assert client.get(f"users/{staff1}").status_code == 200
    assert_error(client.get(f"users/{staff2}"), 404, "NOT_FOUND")
    body = {
        "email": f"throwaway{unique()}@tchat.example",
        "displayName": "Throwaway",
        "password": "correct horse battery",
    }
    assert_error(client.post("users", json=body), 403, "FORBIDDEN")
    made = tchat.client_as("admin").post("users", json=body)
    assert made.status_code == 201, made.text
    assert made.headers["ETag"] == '"1"'
    account = data(made)
    assert account["role"] == "staff"
    throwaway = httpx.post(
        f"{tchat.url}/auth/login", json={"email": body["email"], "password": body["password"]}
    )
    assert throwaway.status_code == 200, throwaway.text
    access = data(throwaway)["tokens"]["accessToken"]
    assert me(tchat, access).status_code == 200
    assert_error(tchat.client.post("users", json=body), 409, "DUPLICATE")
    assert tchat.client.delete(f"users/{account['id']}").status_code == 204
    assert_rejected(me(tchat, access))
    assert_error(tchat.client.get(f"users/{account['id']}"), 404, "NOT_FOUND")
