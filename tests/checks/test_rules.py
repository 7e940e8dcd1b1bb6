"""The contract's response rules (`conformance.checks._rules`) on real answers: silent on the clean
reference backend, and each one speaking up on the defect that breaks it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from conformance.checks._rules import RULES, Exchange, leaks, pagination, request_text
from conformance.contract import RateLimit
from conformance.reference import Running, Settings, running


def exchange(response: httpx.Response) -> Exchange:
    request = response.request
    return Exchange(
        method=request.method,
        path=request.url.path,
        status=response.status_code,
        headers=dict(response.headers),
        body=response.content,
        request_headers=dict(request.headers),
        request_text=request_text(str(request.url), request.content, dict(request.headers)),
    )


def problems(response: httpx.Response) -> dict[str, list[str]]:
    found = {name: rule(exchange(response)) for name, rule in RULES.items()}
    return {name: said for name, said in found.items() if said}


def session(backend: Running, api: str, principal: str = "service") -> httpx.Client:
    url = backend.url(api)
    credential = backend.backend(api).credentials[principal]
    answer = httpx.post(
        f"{url}/auth/login", json={"email": credential.email, "password": credential.password}
    ).json()
    token = answer.get("data", answer)["tokens"]["accessToken"]
    return httpx.Client(base_url=url + "/", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def clean() -> Iterator[Running]:
    with running(settings=Settings(rate_limits={"role:staff": RateLimit(2, 5)})) as started:
        yield started


def test_the_rules_are_silent_on_the_clean_backend(clean: Running) -> None:
    gloria, tchat = session(clean, "gloria"), session(clean, "tchat")
    staff = session(clean, "tchat", "staff1")
    answers = [
        gloria.get("schools", params={"limit": 2, "page": 2}),
        gloria.get("schools", params={"page": 999}),
        gloria.get("schools", params={"limit": 0}),  # 400
        gloria.get(UNKNOWN_SCHOOL),  # 404
        gloria.get("schools", params={"search": "SELECT * FROM users"}),  # echoes nothing
        gloria.request("PUT", "schools"),  # 405
        httpx.get(f"{clean.url('gloria')}/schools"),  # 401
        tchat.get("content/items", headers={"X-Request-ID": "trace-1"}),
        tchat.get("content/categories"),
        *[staff.get("content/items") for _ in range(3)],  # the last is a 429
    ]
    assert answers[-1].status_code == 429
    for answer in answers:
        assert problems(answer) == {}, (answer.request.url, answer.text[:200])
    for client in (gloria, tchat, staff):
        client.close()


UNKNOWN_SCHOOL = "schools/6f2c9b1e-0000-4000-8000-000000000404"  # fixed: xdist collects twice
SCHOOL = {
    "name": "n", "code": "LEAK-1", "npsn": "12345678", "level": "elementary",
    "address": {"street": "s", "city": "c", "province": "p", "postalCode": "40111"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("defect", "api", "path", "rule"),
    [
        ("status-code-mismatch", "gloria", UNKNOWN_SCHOOL, "error_envelope"),
        ("pagination-total-wrong", "gloria", "departments", "pagination"),
        ("request-id-not-echoed", "tchat", "content/categories", "request_id"),
        ("nosniff-missing", "gloria", UNKNOWN_SCHOOL, "nosniff"),
        ("stack-trace-in-error", "gloria", UNKNOWN_SCHOOL, "no_leaks"),
    ],
)
def test_each_rule_speaks_up_on_its_defect(defect: str, api: str, path: str, rule: str) -> None:
    with running([api], settings=Settings(defects=frozenset({defect}))) as broken:
        client = session(broken, api)
        answer = client.get(path, headers={"X-Request-ID": "trace-2"})
        client.close()
    assert list(problems(answer)) == [rule], answer.text[:300]


def test_a_429_without_retry_after_is_a_rate_limit_header_problem() -> None:
    settings = Settings(
        rate_limits={"role:staff": RateLimit(1, 5)}, defects=frozenset({"retry-after-missing"})
    )
    with running(["tchat"], settings=settings) as broken:
        client = session(broken, "tchat", "staff1")
        answers = [client.get("content/items") for _ in range(2)]
        client.close()
    assert answers[-1].status_code == 429
    assert list(problems(answers[-1])) == ["rate_limit_headers"]


def test_echoes_of_what_the_request_sent_are_not_leaks_in_any_encoding(clean: Running) -> None:
    # found by a random-seed gate run: an X-Request-ID that looks like a Windows path, echoed as
    # the body's requestId, was reported as the server revealing a path
    gloria = session(clean, "gloria")
    answers = [
        gloria.get(UNKNOWN_SCHOOL, headers={"X-Request-ID": "o:\\0_'"}),
        # 400s that quote the value: JSON-escaped as sent, and sent URL-encoded
        gloria.post("schools", json={**SCHOOL, "level": "C:\\Users\\x"}),
        gloria.get("schools", params={"sortOrder": "C:\\app\\x"}),
        # a soak run: a tab in the header, quoted back in the 400's message JSON-escaped, "e:\t"
        gloria.get(UNKNOWN_SCHOOL, headers={"X-Request-ID": "e:\tQW]*"}),
    ]
    gloria.close()
    assert [answer.status_code for answer in answers] == [404, 400, 400, 400]
    assert "e:\\tQW" in answers[3].json()["message"]
    assert "Users" in answers[1].json()["message"]  # the value quoted back
    assert "app" in answers[2].json()["message"]
    assert "o:\\0_" in answers[0].json()["requestId"]
    for answer in answers:
        assert leaks(exchange(answer)) == [], answer.text[:300]
    # the same body is a leak when the request did not send it
    echoed = exchange(answers[1])
    unsent = Exchange("POST", "/schools", 400, {}, echoed.body, request_text="POST /schools")
    (found,) = leaks(unsent)  # the message quotes it JSON-escaped: C:\\Users\\x
    assert found.startswith("the body reveals a server file path: 'C:")
    assert "Users" in found


def test_json_escapes_served_again_are_not_a_windows_path() -> None:
    # a soak run (clean gloria, seed 13): the audit log holds a fuzzed name as the server
    # JSON-encoded it; decoded once, "J:\ud92f\ude12…" read as a path on drive J
    stored = json.dumps({"data": [{"changes": "J:\\ud92f\\ude12\\u0090\\u00d3"}]}).encode()
    assert leaks(Exchange("GET", "/audit", 200, {}, stored, request_text="GET /audit")) == []
    served = json.dumps({"message": "see C:\\inetpub\\wwwroot\\app.dll", "one": "D:\\x"})
    found = leaks(Exchange("GET", "/x", 500, {}, served.encode(), request_text="GET /x"))
    assert found == ["the body reveals a server file path: 'C:\\\\inetpub\\\\wwwroot\\\\app.dll'"]


def test_a_leak_that_echoes_the_request_does_not_count() -> None:
    body = b'{"message": "no school matches \\"/srv/app/x.py\\""}'
    sent = Exchange("GET", "/schools", 404, {}, body, request_text="search=/srv/app/x.py")
    assert leaks(sent) == []
    unsent = Exchange("GET", "/schools", 404, {}, body, request_text="search=x")
    assert leaks(unsent) == ["the body reveals a server file path: '/srv/app/x.py'"]


def test_pagination_counts_the_items_against_the_total() -> None:
    def page(**members: object) -> Exchange:
        base = {"data": [1, 2], "total": 2, "page": 1, "limit": 20, "totalPages": 1}
        base |= {"hasMore": False, "nextPage": None, "prevPage": None} | members
        return Exchange("GET", "/x", 200, {}, json.dumps(base).encode())

    assert pagination(page()) == []
    assert pagination(page(total=3)) == ["page 1 of 3 items at 20 a page holds 2 items, not 3"]
    assert pagination(page(hasMore=True)) == ["hasMore is True on page 1 of 1"]
