"""Every switchable defect breaks its rule, and only there.

For each defect, a *rule check* (a direct test of the rule the defect names) passes on a clean
backend and fails on a backend with the defect switched on, and a *neighbour check* (the same
kind of request where the defect does not act) still passes with it on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import catalogue
from conformance.cli import run
from conformance.contract import RateLimit
from conformance.reference import DEFECTS, Running, Settings, running
from tests.reference.conftest import Api, assert_error, open_api, unique
from tests.reference.test_operations import (
    DEPARTMENT,
    INSTANCE,
    ITEM,
    POSITION,
    SCHOOL,
    Kind,
    school_body,
)

PASSWORD = "a-long-test-password"
STAFF = RateLimit(5, 2)
SETTINGS = Settings(
    rate_limits={"role:staff": STAFF, "operation:login": RateLimit(1000, 60)},
    token_lifetimes={"principal:short@gloria.example": 2},
)

Check = Callable[[Api], None]


@dataclass(frozen=True)
class Case:
    rule: Check
    neighbour: Check


CASES: dict[str, Case] = {}


def case(name: str, neighbour: Check) -> Callable[[Check], Check]:
    def register(rule: Check) -> Check:
        CASES[name] = Case(rule, neighbour)
        return rule

    return register


# -- helpers ---------------------------------------------------------------------------------


def data(response: httpx.Response) -> Any:
    body = response.json()
    return body["data"] if isinstance(body, dict) and "timestamp" in body else body


def conforms(api: Api, method: str, path: str, response: httpx.Response, **parts: Any) -> None:
    """schemathesis's response checks pass (an AssertionError otherwise)."""
    try:
        api.validate(method, path, response, **parts)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup
        raise AssertionError(f"{method} {path}: {exc}") from exc


def login(api: Api, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{api.url}/auth/login", json={"email": email, "password": password})


def tokens(api: Api, principal: str) -> dict[str, Any]:
    found: dict[str, Any] = api.login(principal)["tokens"]
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(api: Api, token: str) -> httpx.Response:
    path = "auth/me" if api.name == "gloria" else "auth/verify"
    return httpx.get(f"{api.url}/{path}", headers=bearer(token))


def refresh(api: Api, token: str) -> httpx.Response:
    if api.name == "gloria":
        return httpx.post(f"{api.url}/auth/refresh", json={"refreshToken": token})
    return httpx.post(f"{api.url}/auth/refresh", headers=bearer(token))


def p95_ms(client: httpx.Client, path: str, samples: int = 20) -> float:
    client.get(path)  # warm up
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append((time.perf_counter() - began) * 1000)
    ordered = sorted(times)
    return ordered[-(-95 * samples // 100) - 1]  # nearest rank


def fresh_window(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    time.sleep(int(response.headers["X-RateLimit-Reset"]) + 0.1)


def rested(api: Api, principal: str) -> httpx.Client:
    """A client of ``principal`` whose window has room: a case before it on the shared clean
    backend may have spent it (`spend`), and its first write would be a 429."""
    client = api.client_as(principal)
    probe = client.get("auth/me")
    if probe.status_code == 429 or int(probe.headers.get("X-RateLimit-Remaining", 1)) < 3:
        time.sleep(int(probe.headers.get("X-RateLimit-Reset", STAFF.window_s)) + 0.1)
    return client


def spend(client: httpx.Client, path: str) -> list[httpx.Response]:
    """A fresh window's limit and one more request, sequentially."""
    fresh_window(client, path)
    return [client.get(path) for _ in range(STAFF.limit + 1)]


# -- §1 shapes -------------------------------------------------------------------------------


def stats_conform(api: Api) -> None:
    conforms(api, "GET", "/users/stats", api.client.get("users/stats"))


@case("missing-required-field", neighbour=stats_conform)
def health_conforms(api: Api) -> None:
    conforms(api, "GET", "/auth/health", httpx.get(f"{api.url}/auth/health"))


case("wrong-type", neighbour=health_conforms)(stats_conform)


def items_conform(api: Api) -> None:
    conforms(api, "GET", "/content/items", api.client.get("content/items"))


@case("undocumented-content-type", neighbour=items_conform)
def categories_conform(api: Api) -> None:
    conforms(api, "GET", "/content/categories", api.client.get("content/categories"))


# -- §2 status codes -------------------------------------------------------------------------


@case("undocumented-status", neighbour=categories_conform)
def metrics_are_accepted(api: Api) -> None:
    body = {
        "metrics": [{"name": "api_request_duration", "value": 1.5, "timestamp": 1}],
        "session": {
            "sessionId": "s-1",
            "userAgent": "tests",
            "platform": "web",
            "viewport": {"width": 1280, "height": 800},
            "connection": {"effectiveType": "4g", "downlink": 10, "rtt": 50, "saveData": False},
        },
    }
    response = api.client.post("metrics", json=body)
    assert response.status_code == 202, response.status_code
    conforms(api, "POST", "/metrics", response, body=body)


def short_search_works(api: Api) -> None:
    assert api.client.get("schools", params={"search": "x" * 64}).status_code == 200


@case("server-error-on-long-search", neighbour=short_search_works)
def long_search_works(api: Api) -> None:
    response = api.client.get("schools", params={"search": "x" * 200})
    assert response.status_code == 200, response.text


def a_school_reads(api: Api) -> None:
    school = SCHOOL.make(api)
    assert api.client.get(f"schools/{school['id']}").status_code == 200


@case("stack-trace-in-error", neighbour=a_school_reads)
def not_found_tells_no_internals(api: Api) -> None:
    response = api.client.get(f"schools/{uuid.uuid4()}")
    assert_error(response, 404, "NOT_FOUND")
    for leak in ("Traceback", 'File "', ".py", "sqlalchemy", "SELECT "):
        assert leak not in response.text, leak


def another_position_reads(api: Api) -> None:
    position = POSITION.make(api)
    assert api.client.get(f"positions/{position['id']}").status_code == 200


@case("deleted-still-readable", neighbour=another_position_reads)
def a_deleted_position_is_gone(api: Api) -> None:
    position = POSITION.make(api)
    assert api.client.delete(f"positions/{position['id']}").status_code == 204
    assert_error(api.client.get(f"positions/{position['id']}"), 404, "NOT_FOUND")


# -- §8 every response -----------------------------------------------------------------------


def request_id_is_made(api: Api) -> None:
    response = api.client.get("content/categories")
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Request-ID"] == response.json()["requestId"]


@case("request-id-not-echoed", neighbour=request_id_is_made)
def request_id_is_echoed(api: Api) -> None:
    sent = f"trace-{unique()}"
    response = api.client.get("content/categories", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert response.json()["requestId"] == sent


def successes_carry_nosniff(api: Api) -> None:
    assert api.client.get("schools").headers["X-Content-Type-Options"] == "nosniff"


@case("nosniff-missing", neighbour=successes_carry_nosniff)
def errors_carry_nosniff(api: Api) -> None:
    response = api.client.get(f"schools/{uuid.uuid4()}")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def bad_request_says_400(api: Api) -> None:
    assert_error(api.client.get("schools", params={"limit": 0}), 400, "VALIDATION_FAILED")


@case("status-code-mismatch", neighbour=bad_request_says_400)
def not_found_says_404(api: Api) -> None:
    assert api.client.get(f"schools/{uuid.uuid4()}").json()["statusCode"] == 404


# -- §4 authentication and authorisation -----------------------------------------------------


def me_works(api: Api) -> None:
    assert me(api, tokens(api, "staff1")["accessToken"]).status_code == 200


@case("no-store-missing", neighbour=me_works)
def token_answers_are_not_stored(api: Api) -> None:
    credential = api.backend.credentials["staff1"]
    answer = login(api, credential.email, credential.password)
    assert answer.headers.get("Cache-Control") == "no-store"
    renewed = refresh(api, data(answer)["tokens"]["refreshToken"])
    assert renewed.headers.get("Cache-Control") == "no-store"


def no_token_is_401(api: Api) -> None:
    assert_error(httpx.get(f"{api.url}/content/items"), 401, "UNAUTHENTICATED")


@case("www-authenticate-missing", neighbour=no_token_is_401)
def no_token_is_challenged(api: Api) -> None:
    response = httpx.get(f"{api.url}/content/items")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


def short_lived(api: Api) -> str:
    from tests.reference.test_operations import user_body

    body = {**user_body(), "email": "short@gloria.example", "password": PASSWORD}
    assert api.client.post("users", json=body).status_code in (201, 409)
    return str(body["email"])


@case("expired-token-accepted", neighbour=me_works)
def an_expired_token_is_refused(api: Api) -> None:
    pair = data(login(api, short_lived(api), PASSWORD))["tokens"]
    assert pair["expiresIn"] == 2
    time.sleep(3.1)  # bounded: the lifetime is 2 s
    response = me(api, pair["accessToken"])
    assert_error(response, 401, "TOKEN_EXPIRED")


def _part(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


@case("alg-none-accepted", neighbour=me_works)
def an_unsigned_token_is_refused(api: Api) -> None:
    access = tokens(api, "staff1")["accessToken"]
    payload = access.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."
    assert_error(me(api, forged), 401, "UNAUTHENTICATED")


@case("weak-jwt-key", neighbour=me_works)
def tokens_are_not_signed_with_a_common_key(api: Api) -> None:
    head, payload, signature = tokens(api, "staff1")["accessToken"].split(".")
    mac = hmac.new(b"secret", f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() != signature


def a_wrong_password_is_401(api: Api) -> None:
    email = api.backend.credentials["staff1"].email
    assert_error(login(api, email, "not-the-password-1"), 401, "UNAUTHENTICATED")


@case("user-enumeration", neighbour=a_wrong_password_is_401)
def an_unknown_email_answers_as_a_wrong_password(api: Api) -> None:
    wrong = login(api, api.backend.credentials["staff1"].email, "not-the-password-1").json()
    unknown = login(api, f"nobody-{unique()}@example.com", "not-the-password-1").json()
    assert (unknown["code"], unknown["message"]) == (wrong["code"], wrong["message"])


def remaining_falls(response: httpx.Response, again: httpx.Response) -> bool:
    before, after = (int(r.headers["X-RateLimit-Remaining"]) for r in (response, again))
    return after < before


def a_principal_is_counted(api: Api) -> None:
    client = api.client_as("staff1")
    assert remaining_falls(client.get("auth/me"), client.get("auth/me"))


@case("no-login-throttle", neighbour=a_principal_is_counted)
def logins_of_one_account_are_counted(api: Api) -> None:
    email = api.backend.credentials["staff1"].email
    first = login(api, email, "not-the-password-1")
    assert remaining_falls(first, login(api, email, "not-the-password-1"))


def refresh_answers_a_working_pair(api: Api) -> None:
    renewed = refresh(api, tokens(api, "staff1")["refreshToken"])
    assert renewed.status_code == 200, renewed.text
    assert me(api, data(renewed)["tokens"]["accessToken"]).status_code == 200


@case("refresh-not-rotated", neighbour=refresh_answers_a_working_pair)
def refresh_rotates(api: Api) -> None:
    first = tokens(api, "staff1")
    second = data(refresh(api, first["refreshToken"]))["tokens"]
    assert second["refreshToken"] != first["refreshToken"]
    assert refresh(api, first["refreshToken"]).status_code == 401


def reuse_is_refused(api: Api) -> None:
    first = tokens(api, "staff1")
    assert refresh(api, first["refreshToken"]).status_code == 200
    assert_error(refresh(api, first["refreshToken"]), 401, "UNAUTHENTICATED")


@case("refresh-reuse-undetected", neighbour=reuse_is_refused)
def reuse_revokes_the_family(api: Api) -> None:
    first = tokens(api, "staff1")
    second = data(refresh(api, first["refreshToken"]))["tokens"]
    assert me(api, second["accessToken"]).status_code == 200
    assert refresh(api, first["refreshToken"]).status_code == 401
    assert_error(me(api, second["accessToken"]), 401, "UNAUTHENTICATED")


def logout_answers_204(api: Api) -> None:
    access = tokens(api, "staff1")["accessToken"]
    assert httpx.post(f"{api.url}/auth/logout", headers=bearer(access)).status_code == 204


@case("logout-not-revoking", neighbour=logout_answers_204)
def logout_revokes(api: Api) -> None:
    access = tokens(api, "staff1")["accessToken"]
    httpx.post(f"{api.url}/auth/logout", headers=bearer(access))
    assert_error(me(api, access), 401, "UNAUTHENTICATED")


def staff_limit_is_enforced(api: Api) -> None:
    answers = spend(api.client_as("staff1"), "auth/me")
    assert [a.status_code for a in answers] == [200] * STAFF.limit + [429]


@case("rate-limit-before-auth", neighbour=staff_limit_is_enforced)
def bad_tokens_are_401_even_over_the_limit(api: Api) -> None:
    client = api.client_as("staff1")
    assert spend(client, "auth/me")[-1].status_code == 429
    token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_error(httpx.get(f"{api.url}/auth/me", headers=bearer(tampered)), 401, "UNAUTHENTICATED")


def departments_need_a_token(api: Api) -> None:
    assert_error(httpx.get(f"{api.url}/departments"), 401, "UNAUTHENTICATED")
    assert api.client.get("departments").status_code == 200


@case("auth-not-enforced", neighbour=departments_need_a_token)
def schools_need_a_token(api: Api) -> None:
    assert_error(httpx.get(f"{api.url}/schools"), 401, "UNAUTHENTICATED")


def staff1_id(api: Api) -> str:
    found: str = api.login("staff1")["user"]["id"]
    return found


def notification_for_staff1(api: Api) -> str:
    sent = api.client.post(
        "notifications",
        json={
            "recipientId": staff1_id(api),
            "type": "info",
            "channel": "in_app",
            "title": "Private",
            "body": "For staff1.",
        },
    )
    assert sent.status_code == 201, sent.text
    return str(data(sent)["id"])


def recipient_reads_it(api: Api) -> None:
    note = notification_for_staff1(api)
    assert api.client_as("staff1").get(f"notifications/{note}").status_code == 200


@case("private-resource-visible", neighbour=recipient_reads_it)
def others_do_not_see_it(api: Api) -> None:
    note = notification_for_staff1(api)
    assert_error(api.client_as("staff2").get(f"notifications/{note}"), 404, "NOT_FOUND")


def staff_may_not_delete_departments(api: Api) -> None:
    department = DEPARTMENT.make(api)
    response = api.client_as("staff2").delete(f"departments/{department['id']}")
    assert_error(response, 403, "FORBIDDEN")


@case("role-not-enforced", neighbour=staff_may_not_delete_departments)
def staff_may_not_delete_schools(api: Api) -> None:
    school = SCHOOL.make(api)
    assert_error(api.client_as("staff2").delete(f"schools/{school['id']}"), 403, "FORBIDDEN")
    assert api.client.get(f"schools/{school['id']}").status_code == 200


def users_get_derived_permissions(api: Api) -> None:
    from tests.reference.test_operations import user_body

    created = api.client.post("users", json=user_body())
    assert created.status_code == 201, created.text
    assert data(created)["permissions"] == []  # derived from its roles: none


@case("mass-assignment-role", neighbour=users_get_derived_permissions)
def a_create_refuses_permissions_it_does_not_offer(api: Api) -> None:
    from tests.reference.test_operations import user_body

    sent = {**user_body(), "permissions": ["schools.delete"]}
    assert_error(api.client.post("users", json=sent), 400, "VALIDATION_FAILED")


def my_profile_conforms(api: Api) -> None:
    conforms(api, "GET", "/users/me", api.client.get("users/me"))


@case("password-hash-exposed", neighbour=my_profile_conforms)
def a_user_read_has_no_password_hash(api: Api) -> None:
    someone = data(api.client.get("users"))["data"][0]
    response = api.client.get(f"users/{someone['id']}")
    assert "passwordHash" not in data(response)
    conforms(api, "GET", "/users/{id}", response)


def instance_of_staff1(api: Api) -> dict[str, Any]:
    """A workflow instance staff1 started (private to them: its x-owner is the initiator)."""
    body = INSTANCE.body(api)
    response = rested(api, "staff1").post("workflow-instances", json=body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = data(response)
    return found


def its_owner_changes_it(api: Api) -> None:
    instance = instance_of_staff1(api)
    change = {"status": "in_progress", "version": instance["version"]}
    response = rested(api, "staff1").patch(f"workflow-instances/{instance['id']}", json=change)
    assert response.status_code == 200, response.text


@case("bola-update", neighbour=its_owner_changes_it)
def others_cannot_change_it(api: Api) -> None:
    instance = instance_of_staff1(api)
    change = {"status": "in_progress", "version": instance["version"]}
    response = rested(api, "staff2").patch(f"workflow-instances/{instance['id']}", json=change)
    assert_error(response, 404, "NOT_FOUND")


def staff_may_not_read_roles(api: Api) -> None:
    assert_error(api.client_as("staff2").get("roles"), 403, "FORBIDDEN")


@case("admin-open", neighbour=staff_may_not_read_roles)
def staff_may_not_read_the_audit_log(api: Api) -> None:
    assert_error(api.client_as("staff2").get("audit"), 403, "FORBIDDEN")


# -- §3 pagination ---------------------------------------------------------------------------


def walk(api: Api, path: str) -> None:
    """Every page: the totals agree with the items walked (CONTRACT.md §3)."""
    seen: list[str] = []
    page, total = 1, None
    while page is not None and page <= 50:
        body = api.client.get(path, params={"page": page, "limit": 7}).json()
        total = body["total"]
        seen += [item["id"] for item in body["data"]]
        assert body["totalPages"] == -(-total // 7)
        page = body["nextPage"]
    assert len(seen) == len(set(seen)) == total


def schools_page_right(api: Api) -> None:
    walk(api, "schools")


@case("pagination-total-wrong", neighbour=schools_page_right)
def departments_page_right(api: Api) -> None:
    DEPARTMENT.make(api)
    walk(api, "departments")


def departments_limit_bounded(api: Api) -> None:
    assert_error(api.client.get("departments", params={"limit": 101}), 400, "VALIDATION_FAILED")


@case("limit-unenforced", neighbour=departments_limit_bounded)
def schools_limit_bounded(api: Api) -> None:
    assert_error(api.client.get("schools", params={"limit": 101}), 400, "VALIDATION_FAILED")


# -- §3 collections, across requests ---------------------------------------------------------


def tagged_positions(api: Api, department: str, count: int, tag: str) -> list[str]:
    """The ids of ``count`` new positions of ``department`` whose titles carry ``tag``."""
    made = []
    for n in range(count):
        body = {"departmentId": department, "code": f"P{unique()}", "title": f"{tag} {n}"}
        created = api.client.post("positions", json={**body, "grade": 5})
        assert created.status_code == 201, created.text
        made.append(str(data(created)["id"]))
    return made


def listed(api: Api, path: str, **query: Any) -> tuple[list[str], int]:
    """The ids on every page of ``path`` (at most 20 pages of 2) and the total the pages state:
    no item twice, none missing, as many as ``total``, the counters agreeing with the walk."""
    seen: list[str] = []
    page: int | None = 1
    total = 0
    while page is not None and page <= 20:
        body = api.client.get(path, params={**query, "page": page, "limit": 2}).json()
        total = body["total"]
        assert body["totalPages"] == -(-total // 2)
        assert body["page"] == page
        seen += [item["id"] for item in body["data"]]
        page = body["nextPage"]
    assert len(seen) == len(set(seen)) == total, (seen, total)
    return seen, total


def a_deleted_department_is_unlisted(api: Api) -> None:
    department = DEPARTMENT.make(api)
    assert api.client.delete(f"departments/{department['id']}").status_code == 204
    assert department["id"] not in listed(api, "departments", search=department["name"])[0]


@case("ghost-after-delete", neighbour=a_deleted_department_is_unlisted)
def a_deleted_position_is_unlisted(api: Api) -> None:
    tag = f"Ghost{unique()}"
    kept, gone = tagged_positions(api, DEPARTMENT.make(api)["id"], 2, tag)
    assert api.client.delete(f"positions/{gone}").status_code == 204
    assert_error(api.client.get(f"positions/{gone}"), 404, "NOT_FOUND")
    assert listed(api, "positions", search=tag.lower()) == ([kept], 1)
    plain = api.client.get("positions", params={"limit": 100}).json()["data"]
    assert gone not in [item["id"] for item in plain]


def positions_search_narrows(api: Api) -> None:
    tag = f"Only{unique()}"
    made = tagged_positions(api, DEPARTMENT.make(api)["id"], 3, tag)
    assert sorted(listed(api, "positions", search=tag)[0]) == sorted(made)


@case("overlapping-page", neighbour=schools_page_right)
def positions_pages_partition(api: Api) -> None:
    tag = f"Walk{unique()}"
    made = tagged_positions(api, DEPARTMENT.make(api)["id"], 5, tag)
    assert sorted(listed(api, "positions", search=tag)[0]) == sorted(made)


def schools_listed_as_read(api: Api) -> None:
    school = SCHOOL.make(api)
    listed = api.client.get("schools", params={"search": school["name"]}).json()["data"]
    assert [item for item in listed if item["id"] == school["id"]] == [
        data(api.client.get(f"schools/{school['id']}"))
    ]


@case("list-item-differs", neighbour=schools_listed_as_read)
def positions_listed_as_read(api: Api) -> None:
    tag = f"Read{unique()}"
    (made,) = tagged_positions(api, DEPARTMENT.make(api)["id"], 1, tag)
    (listed,) = api.client.get("positions", params={"search": tag}).json()["data"]
    assert listed == data(api.client.get(f"positions/{made}"))


def schools_sort_across_pages(api: Api) -> None:
    tag = f"Order{unique()}"
    for n in (1, 2, 3):
        made = api.client.post("schools", json={**school_body(), "name": f"{tag} {n}"})
        assert made.status_code == 201, made.text
    body = {"search": tag, "sortBy": "name", "sortOrder": "desc"}
    pages = [api.client.get("schools", params={**body, "page": n, "limit": 2}).json()["data"]
             for n in (1, 2)]  # fmt: skip
    assert [item["name"] for page in pages for item in page] == [f"{tag} {n}" for n in (3, 2, 1)]


@case("sorted-per-page", neighbour=schools_sort_across_pages)
def positions_sort_across_pages(api: Api) -> None:
    tag = f"Order{unique()}"
    tagged_positions(api, DEPARTMENT.make(api)["id"], 3, tag)  # titles "<tag> 0", 1, 2
    body = {"search": tag, "sortBy": "title", "sortOrder": "desc"}
    pages = [api.client.get("positions", params={**body, "page": n, "limit": 2}).json()["data"]
             for n in (1, 2)]  # fmt: skip
    assert [item["title"] for page in pages for item in page] == [f"{tag} {n}" for n in (2, 1, 0)]


def two_departments(api: Api) -> tuple[str, str, list[str]]:
    """A tag, a department holding two of its positions, the ids of those two (and one more
    position of the tag in another department)."""
    tag = f"Dept{unique()}"
    department = DEPARTMENT.make(api)["id"]
    mine = tagged_positions(api, department, 2, tag)
    tagged_positions(api, DEPARTMENT.make(api)["id"], 1, tag)
    return tag, department, mine


@case("filter-ignored", neighbour=positions_search_narrows)
def a_department_filter_holds(api: Api) -> None:
    tag, department, mine = two_departments(api)
    answer = api.client.get("positions", params={"departmentId": department, "search": tag})
    items = answer.json()["data"]
    assert {item["departmentId"] for item in items} == {department}
    assert sorted(item["id"] for item in items) == sorted(mine)


@case("unfiltered-total", neighbour=positions_search_narrows)
def a_filtered_total_counts_the_filtered_set(api: Api) -> None:
    tag, department, mine = two_departments(api)
    found = listed(api, "positions", departmentId=department, search=tag)
    assert (sorted(found[0]), found[1]) == (sorted(mine), 2)


# -- §5 optimistic concurrency ---------------------------------------------------------------


def disagreeing_versions_are_400(api: Api) -> None:
    school = SCHOOL.make(api)
    response = api.client.patch(
        f"schools/{school['id']}", json={"name": "X", "version": 2}, headers={"If-Match": '"1"'}
    )
    assert_error(response, 400, "VALIDATION_FAILED")


@case("stale-version-accepted", neighbour=disagreeing_versions_are_400)
def a_stale_version_is_409(api: Api) -> None:
    school = SCHOOL.make(api)
    path = f"schools/{school['id']}"
    assert api.client.patch(path, json={"name": "First"}, headers={"If-Match": '"1"'}).is_success
    stale = api.client.patch(path, json={"name": "Lost"}, headers={"If-Match": '"1"'})
    assert assert_error(stale, 409, "VERSION_CONFLICT")["details"] == {"currentVersion": 2}
    assert data(api.client.get(path))["name"] == "First"


def a_department_changes(api: Api) -> None:
    department = DEPARTMENT.make(api)
    changed = api.client.patch(f"departments/{department['id']}", json={"name": "Renamed"})
    assert data(changed)["name"] == "Renamed"


@case("partial-write-on-reject", neighbour=a_department_changes)
def a_refused_change_leaves_no_trace(api: Api) -> None:
    department = DEPARTMENT.make(api)
    path = f"departments/{department['id']}"
    assert api.client.patch(path, json={"name": "Second"}).is_success
    before = api.client.get(path)
    refused = api.client.patch(path, json={"name": "Third"}, headers={"If-Match": '"1"'})
    assert_error(refused, 409, "VERSION_CONFLICT")
    after = api.client.get(path)
    assert after.json()["data"] == before.json()["data"]
    assert after.headers["ETag"] == before.headers["ETag"]


def an_update_keeps_a_long_title(api: Api) -> None:
    item = ITEM.make(api)
    title = "An update's title, of well over forty characters in all"
    changed = api.client.put(f"content/items/{item['id']}", json={"title": title})
    assert data(changed)["title"] == title


@case("create-truncates", neighbour=an_update_keeps_a_long_title)
def a_create_answers_and_stores_the_title_it_was_sent(api: Api) -> None:
    title = "A create's title, of well over forty characters in all"
    body = {**ITEM.body(api), "title": title}
    created = api.client.post("content/items", json=body)
    assert data(created)["title"] == title
    assert data(api.client.get(f"content/items/{data(created)['id']}"))["title"] == title


def an_update_answers_its_version_as_etag(api: Api) -> None:
    item = ITEM.make(api)
    changed = api.client.put(f"content/items/{item['id']}", json={"title": "New title"})
    assert changed.headers["ETag"] == f'"{data(changed)["version"]}"'


@case("etag-not-version", neighbour=an_update_answers_its_version_as_etag)
def a_read_answers_its_version_as_etag(api: Api) -> None:
    item = ITEM.make(api)
    read = api.client.get(f"content/items/{item['id']}")
    assert read.headers["ETag"] == f'"{data(read)["version"]}"'


def stale_delete_is_409(api: Api, collection: str, made: dict[str, Any], change: Any) -> None:
    path = f"{collection}/{made['id']}"
    assert api.client.patch(path, json=change).is_success
    assert_error(api.client.delete(path, headers={"If-Match": '"1"'}), 409, "VERSION_CONFLICT")
    assert api.client.get(path).status_code == 200


def a_stale_delete_of_a_department_is_409(api: Api) -> None:
    stale_delete_is_409(api, "departments", DEPARTMENT.make(api), {"name": "Moved on"})


@case("stale-delete-accepted", neighbour=a_stale_delete_of_a_department_is_409)
def a_stale_delete_is_409_and_the_position_stays(api: Api) -> None:
    stale_delete_is_409(api, "positions", POSITION.make(api), {"title": "Moved on"})


def bulk(api: Api, item: dict[str, Any], version: int) -> dict[str, Any]:
    body = {"operations": [{"id": item["id"], "changes": {"title": "Bulk"}, "version": version}]}
    answer = api.client.post("content/items/bulk", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = data(answer)
    return result


def a_bulk_item_at_its_version_applies(api: Api) -> None:
    item = ITEM.make(api)
    assert [changed["title"] for changed in bulk(api, item, 1)["items"]] == ["Bulk"]


@case("bulk-stale-applied", neighbour=a_bulk_item_at_its_version_applies)
def a_bulk_item_with_a_stale_version_fails_alone(api: Api) -> None:
    item = ITEM.make(api)
    path = f"content/items/{item['id']}"
    assert api.client.put(path, json={"title": "Moved on"}).is_success
    result = bulk(api, item, 1)
    assert [f["code"] for f in result["failedOperations"]] == ["VERSION_CONFLICT"]
    assert data(api.client.get(path))["title"] == "Moved on"


def a_duplicate_npsn_is_409(api: Api) -> None:
    first = school_body()
    assert api.client.post("schools", json=first).status_code == 201
    again = {**school_body(), "npsn": first["npsn"]}
    assert_error(api.client.post("schools", json=again), 409, "DUPLICATE")


@case("duplicate-accepted", neighbour=a_duplicate_npsn_is_409)
def a_duplicate_code_is_409(api: Api) -> None:
    first = school_body()
    assert api.client.post("schools", json=first).status_code == 201
    again = {**school_body(), "code": first["code"]}
    assert_error(api.client.post("schools", json=again), 409, "DUPLICATE")
    found = api.client.get("schools", params={"search": first["code"], "limit": 100}).json()
    assert [school["code"] for school in found["data"]].count(first["code"]) == 1


# -- §6 rate limits --------------------------------------------------------------------------


def limit_headers_count_down(api: Api) -> None:
    answers = spend(api.client_as("staff1"), read_path(api))
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers[: STAFF.limit]]
    assert remaining == list(range(STAFF.limit - 1, -1, -1))


def read_path(api: Api) -> str:
    return "auth/me" if api.name == "gloria" else "auth/verify"


@case("rate-limit-not-enforced", neighbour=limit_headers_count_down)
def limit_plus_one_is_429(api: Api) -> None:
    answers = spend(api.client_as("staff1"), read_path(api))
    assert_error(answers[-1], 429, "RATE_LIMITED")


@case("retry-after-missing", neighbour=limit_plus_one_is_429)
def a_429_says_when(api: Api) -> None:
    over = spend(api.client_as("staff1"), read_path(api))[-1]
    assert over.headers.get("Retry-After") == str(over.json()["retryAfter"])


@case("global-rate-limit", neighbour=limit_plus_one_is_429)
def principals_are_limited_apart(api: Api) -> None:
    assert spend(api.client_as("staff1"), "auth/me")[-1].status_code == 429
    assert api.client_as("staff2").get("auth/me").status_code == 200


@case("remaining-rises", neighbour=limit_plus_one_is_429)
def remaining_never_rises(api: Api) -> None:
    answers = spend(api.client_as("staff1"), "auth/me")
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining == sorted(remaining, reverse=True), remaining


# -- §7 latency ------------------------------------------------------------------------------


def departments_are_fast(api: Api) -> None:
    assert p95_ms(api.client, "departments") <= 200


@case("slow-operation", neighbour=departments_are_fast)
def positions_are_fast(api: Api) -> None:
    assert p95_ms(api.client, "positions") <= 200


def categories_are_fast(api: Api) -> None:
    assert p95_ms(api.client, "content/categories") <= 200


@case("slow-tail", neighbour=categories_are_fast)
def items_are_fast(api: Api) -> None:
    assert p95_ms(api.client, "content/items") <= 200


def delete_p95_ms(api: Api, kind: Kind, samples: int = 20) -> float:
    """The p95 of deleting ``samples`` fresh items of ``kind`` (one more to warm up)."""
    times = []
    for n in range(samples + 1):
        path = f"{kind.collection}/{kind.make(api)['id']}"
        began = time.perf_counter()
        assert api.client.delete(path).status_code == 204
        if n:
            times.append((time.perf_counter() - began) * 1000)
    return sorted(times)[-(-95 * samples // 100) - 1]  # nearest rank


def deleting_departments_is_fast(api: Api) -> None:
    assert delete_p95_ms(api, DEPARTMENT) <= 200


@case("slow-delete", neighbour=deleting_departments_is_fast)
def deleting_schools_is_fast(api: Api) -> None:
    assert delete_p95_ms(api, SCHOOL) <= 200


# -- §8 injection and debug endpoints (the probes) ------------------------------------------


@case("sql-injection-search", neighbour=short_search_works)
def a_quote_in_a_search_is_plain_text(api: Api) -> None:
    response = api.client.get("schools", params={"search": "o'brien"})
    assert response.status_code == 200, response.text
    assert "OperationalError" not in response.text


def a_debug_path_is_404(api: Api) -> None:
    assert api.client.get("debug").status_code == 404


@case("debug-endpoint", neighbour=a_debug_path_is_404)
def no_debug_vars_are_served(api: Api) -> None:
    assert api.client.get("debug/vars").status_code == 404


# -- the tests -------------------------------------------------------------------------------

NAMES = [defect.name for defect in DEFECTS]
API_OF = {defect.name: defect.api for defect in DEFECTS}


@pytest.fixture(scope="module")
def clean() -> Iterator[Running]:
    with running(settings=SETTINGS) as started:
        yield started


def test_every_defect_has_a_rule_check_and_a_neighbour() -> None:
    assert set(CASES) == set(NAMES)
    assert len(NAMES) == len(set(NAMES))


def test_every_defect_names_the_catalogue_rules_a_run_catches_it_by() -> None:
    # the backend may not import the catalogue, so its table holds ids as strings: each must be
    # a rule a run judges by (not a lint rule), named once
    kinds = (catalogue.Kind.SCHEMATHESIS, catalogue.Kind.CHECK, catalogue.Kind.GATE)
    judged = set(catalogue.ids(*kinds, catalogue.Kind.SCENARIO, catalogue.Kind.PROBE))
    for defect in DEFECTS:
        assert defect.rules, defect.name
        assert len(set(defect.rules)) == len(defect.rules), defect.name
        assert set(defect.rules) <= judged, (defect.name, set(defect.rules) - judged)


def test_the_readme_table_is_the_defect_table() -> None:
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text(encoding="utf-8")
    for d in DEFECTS:
        assert f"| `{d.name}` | {d.api} | {d.rule} | {d.description} | {d.where} |" in readme


def test_serve_lists_the_defects_and_refuses_unknown_or_unserved_ones() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["serve", "--list-defects"], out, err) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for flags, says in (
        (["--defect", "nope"], "no such defect"),
        (["tchat", "--defect", "stale-version-accepted"], "acts on gloria, which is not served"),
    ):
        err = io.StringIO()
        assert run(["serve", *flags], io.StringIO(), err) == 3
        assert says in err.getvalue()
        assert err.getvalue().count("\n") == 1


@pytest.mark.parametrize("name", NAMES)
def test_the_rule_holds_on_the_clean_backend(name: str, clean: Running) -> None:
    for api in open_api(clean, API_OF[name]):
        CASES[name].rule(api)


@pytest.mark.parametrize("name", NAMES)
def test_the_defect_breaks_its_rule_and_only_there(name: str) -> None:
    settings = Settings(
        rate_limits=SETTINGS.rate_limits,
        token_lifetimes=SETTINGS.token_lifetimes,
        defects=frozenset({name}),
    )
    with running([API_OF[name]], settings=settings) as broken:
        (defect,) = broken.backend(API_OF[name]).defects
        assert defect.name == name
        for api in open_api(broken, API_OF[name]):
            with pytest.raises(AssertionError):
                CASES[name].rule(api)
            CASES[name].neighbour(api)
