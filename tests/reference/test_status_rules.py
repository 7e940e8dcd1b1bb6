"""CONTRACT.md §2 and §8 on the running reference backend: status codes, errors, headers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from conformance.contract import bundled_spec, load_spec
from conformance.reference._app import ReferenceApp
from tests.reference.conftest import Api, assert_error
from tests.reference.test_operations import SCHOOL, school_body


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "schools", {"params": {"page": "abc"}}, "query.page"),
        ("GET", "schools", {"params": {"limit": "101"}}, "query.limit"),
        ("GET", "schools", {"params": {"page": "10001"}}, "query.page"),
        ("GET", "schools", {"params": {"sortOrder": "up"}}, "query.sortOrder"),
        ("GET", "schools/not-a-uuid", {}, "path.id"),
        ("POST", "schools", {"json": {"code": "X1"}}, ""),
        ("POST", "schools", {"json": {**school_body(), "extra": 1}}, ""),
        ("POST", "schools", {"json": {**school_body(), "level": "college"}}, "/level"),
        ("POST", "users",
         {"json": {"email": "nope", "nip": "1", "fullName": "A", "role": "staff"}}, "/email"),
        ("GET", "schools", {"headers": {"X-Request-ID": "x" * 129}}, "header.X-Request-ID"),
    ],
)  # fmt: skip
def test_schema_rejections_are_400_with_errors(
    gloria: Api, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    body = assert_error(gloria.client.request(method, path, **kwargs), 400, "VALIDATION_FAILED")
    assert any(error["field"].startswith(field) for error in body["errors"]), body["errors"]


@pytest.mark.parametrize(
    ("content", "content_type", "words"),
    [
        (b"\xff\xfe{", "application/json", "not JSON"),
        (b"not json at all", "application/json", "not JSON"),
        (b'{"code": NaN}', "application/json", "not JSON"),
        (b'{"code": "X"}', "text/plain", "application/json"),
        (b"", "application/json", "needs a JSON body"),
    ],
)
def test_bodies_that_cannot_be_read_are_400_never_415(
    gloria: Api, content: bytes, content_type: str, words: str
) -> None:
    response = gloria.client.post(
        "schools", content=content, headers={"Content-Type": content_type}
    )
    assert words in assert_error(response, 400, "VALIDATION_FAILED")["message"]


def test_oversized_body_is_400_never_413(gloria: Api) -> None:
    huge = b'{"name": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = gloria.client.post(
        "schools", content=huge, headers={"Content-Type": "application/json"}
    )
    assert "over" in assert_error(response, 400, "VALIDATION_FAILED")["message"]


def test_unknown_ids_are_404_in_the_path_and_in_the_body(gloria: Api) -> None:
    assert_error(gloria.client.get(f"schools/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_error(gloria.client.get("feature-flags/no-such-flag"), 404, "NOT_FOUND")
    response = gloria.client.post(
        "departments", json={"schoolId": str(uuid.uuid4()), "code": "XY", "name": "Nowhere"}
    )
    assert "schoolId" in assert_error(response, 404, "NOT_FOUND")["message"]
    assert_error(gloria.client.get("no/such/path"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("api_name", "method", "path", "allow"),
    [
        ("gloria", "PATCH", "users/me", "GET"),
        ("gloria", "DELETE", "users/stats", "GET"),
        ("gloria", "DELETE", "audit/export", "GET"),
        ("gloria", "PUT", "schools", "GET, POST"),
        ("gloria", "POST", "feature-flags/new-dashboard", "DELETE, GET, PATCH"),
        ("tchat", "GET", "content/items/bulk", "POST"),
    ],
)
def test_undeclared_methods_are_405_with_allow_and_static_segments_own_their_path(
    api_name: str, method: str, path: str, allow: str, request: pytest.FixtureRequest
) -> None:
    api: Api = request.getfixturevalue(api_name)
    response = api.client.request(method, path)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == allow


def test_delete_is_204_without_a_body(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    response = gloria.client.delete(f"schools/{school['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert_error(gloria.client.get(f"schools/{school['id']}"), 404, "NOT_FOUND")


def test_request_id_is_echoed_or_made(gloria: Api) -> None:
    sent = "trace-" + "a" * 122  # 128 characters, the most the contract echoes
    response = gloria.client.get("system-config", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert response.json()["requestId"] == sent
    made = gloria.client.get("system-config").headers["X-Request-ID"]
    assert uuid.UUID(made)
    assert made != sent


def test_every_answer_carries_nosniff_and_no_trace(gloria: Api) -> None:
    for response in (
        gloria.client.get("schools"),
        gloria.client.get(f"schools/{uuid.uuid4()}"),
        gloria.client.request("TRACE", "schools"),
        httpx.get(f"{gloria.url}/schools"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Traceback" not in response.text
        assert "stack" not in response.text


def test_an_unexpected_exception_is_500_internal_with_no_trace(gloria: Api) -> None:
    spec = load_spec(bundled_spec("gloria"))
    handlers = dict(gloria.backend.app.handlers)

    def broken(ctx: Any) -> Any:
        raise RuntimeError("/srv/app/secret.py line 3: SELECT * FROM users")

    handlers["getHealth"] = broken
    app = ReferenceApp(
        "gloria", spec, gloria.backend.app.store, handlers,
        gloria.backend.app.authenticator, gloria.backend.app.limiter,
    )  # fmt: skip
    status, headers, body = app.handle("GET", "/api/v1/auth/health", "", {}, b"", False, "")
    assert status == 500
    assert b"secret" not in body
    assert b"SELECT" not in body
    assert b'"code": "INTERNAL"' in body
    assert headers["X-RateLimit-Limit"]


def test_unknown_query_parameters_are_ignored(gloria: Api) -> None:
    assert gloria.client.get("schools", params={"utm_source": "mail"}).status_code == 200


def test_school_code_is_unique_on_create(gloria: Api) -> None:
    body = school_body(gloria)
    assert gloria.client.post("schools", json=body).status_code == 201
    again = {**school_body(gloria), "code": body["code"]}
    assert (
        "code"
        in assert_error(gloria.client.post("schools", json=again), 409, "DUPLICATE")["message"]
    )


def test_emails_are_unique_whatever_their_case(gloria: Api) -> None:
    from tests.reference.test_operations import user_body

    body = user_body(gloria)
    assert gloria.client.post("users", json=body).status_code == 201
    shouted = {**user_body(gloria), "email": body["email"].upper()}
    assert_error(gloria.client.post("users", json=shouted), 409, "DUPLICATE")
    login = httpx.post(
        f"{gloria.url}/auth/login",
        json={"email": body["email"].upper(), "password": body["password"]},
    )
    assert login.status_code == 200


def test_nobody_deletes_or_demotes_themselves(gloria: Api) -> None:
    me = gloria.client.get("users/me").json()["data"]
    assert_error(gloria.client.delete(f"users/{me['id']}"), 403, "FORBIDDEN")
    changes: list[dict[str, Any]] = [{"role": "staff"}, {"isActive": False}, {"roleIds": []}]
    for change in changes:
        assert_error(gloria.client.patch(f"users/{me['id']}", json=change), 403, "FORBIDDEN")
    assert gloria.client.patch(f"users/{me['id']}", json={"fullName": "Service"}).status_code == 200


def test_a_deleted_users_tokens_stop_working_at_once(gloria: Api) -> None:
    from tests.reference.test_operations import user_body

    body = user_body()
    user = gloria.client.post("users", json=body).json()["data"]
    login = httpx.post(
        f"{gloria.url}/auth/login", json={"email": body["email"], "password": body["password"]}
    )
    token = login.json()["data"]["tokens"]["accessToken"]
    mine = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{gloria.url}/users/me", headers=mine).status_code == 200
    assert gloria.client.delete(f"users/{user['id']}").status_code == 204
    response = httpx.get(f"{gloria.url}/users/me", headers=mine)
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
