"""CONTRACT.md §6 on the running reference backend: per-principal windows, 429s, their reset.

A backend of this module's own with short windows for people (``staff`` 5 requests per 2 s,
login 3 per 2 s) and the spec's limits for everyone else, so that limit+1 and the reset after
``Retry-After`` take seconds, and the ``service`` principal keeps its own, high limit.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.cli import run
from conformance.contract import RateLimit
from conformance.errors import ConfigError
from conformance.reference import Running, Settings, running
from tests.reference.conftest import Api, assert_error, open_api

STAFF = RateLimit(5, 2)
LOGIN = RateLimit(3, 2)
SETTINGS = Settings(rate_limits={"role:staff": STAFF, "operation:login": LOGIN})


@pytest.fixture(scope="module")
def backends() -> Iterator[Running]:
    with running(settings=SETTINGS) as started:
        yield started


@pytest.fixture(scope="module", params=["gloria", "tchat"])
def api(request: pytest.FixtureRequest, backends: Running) -> Iterator[Api]:
    yield from open_api(backends, request.param)


def read(api: Api) -> str:
    """A read every role may make (verify the token)."""
    return "auth/me" if api.name == "gloria" else "auth/verify"


def numbers(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["X-RateLimit-Limit"]),
        int(headers["X-RateLimit-Remaining"]),
        int(headers["X-RateLimit-Reset"]),
    )


def fresh_window(client: httpx.Client, api: Api) -> None:
    """Wait until the client's principal starts a new window (bounded by the 2 s window)."""
    response = client.get(read(api))
    time.sleep(int(response.headers["X-RateLimit-Reset"]) + 0.1)


def exhaust(client: httpx.Client, api: Api) -> httpx.Response:
    """Spend the principal's window: the answers count down to 0, then a 429."""
    fresh_window(client, api)
    seen = []
    for _ in range(STAFF.limit + 1):
        response = client.get(read(api))
        seen.append(response)
        if response.status_code == 429:
            break
    remaining = [numbers(r)[1] for r in seen if r.status_code == 200]
    assert remaining == sorted(remaining, reverse=True), remaining  # never rises in a window
    assert seen[-1].status_code == 429
    return seen[-1]


def test_limit_plus_one_is_429_with_retry_after_then_the_window_resets(api: Api) -> None:
    client = api.client_as("staff1")
    fresh_window(client, api)
    answers = [client.get(read(api)) for _ in range(STAFF.limit)]
    assert [a.status_code for a in answers] == [200] * STAFF.limit
    assert [numbers(a)[:2] for a in answers] == [
        (STAFF.limit, STAFF.limit - n) for n in range(1, STAFF.limit + 1)
    ]
    assert all(1 <= numbers(a)[2] <= STAFF.window_s for a in answers)
    over = client.get(read(api))
    body = assert_error(over, 429, "RATE_LIMITED")
    retry_after = int(over.headers["Retry-After"])
    assert 1 <= retry_after <= STAFF.window_s
    assert body["retryable"] is True
    assert body["retryAfter"] == retry_after
    assert numbers(over)[:2] == (STAFF.limit, 0)
    api.validate("GET", f"/{read(api)}", over)  # the 429 as the spec documents it
    time.sleep(retry_after + 0.1)
    again = client.get(read(api))
    assert again.status_code == 200, again.text
    assert numbers(again)[1] == STAFF.limit - 1


def test_a_principal_is_limited_across_its_sessions_and_alone(api: Api) -> None:
    first = api.client_as("staff1")
    exhaust(first, api)
    # another token of the same principal is the same window...
    assert_error(api.client_as("staff1").get(read(api)), 429, "RATE_LIMITED")
    # ...another staff user, the service principal and an admin are not limited by it
    assert api.client_as("staff2").get(read(api)).status_code == 200
    service = api.client.get(read(api))
    assert service.status_code == 200
    assert numbers(service)[0] == 6000  # the spec's limit for service
    admin = api.client_as("admin").get(read(api))
    assert admin.status_code == 200
    assert numbers(admin)[0] == 60  # the spec's default for everyone else


def test_authentication_comes_before_the_limit(api: Api) -> None:
    client = api.client_as("staff1")
    exhaust(client, api)
    token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for headers in ({}, {"Authorization": f"Bearer {tampered}"}):
        response = httpx.get(f"{api.url}/{read(api)}", headers=headers)
        assert_error(response, 401, "UNAUTHENTICATED")
    assert_error(client.get(read(api)), 429, "RATE_LIMITED")


def login(api: Api, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{api.url}/auth/login", json={"email": email, "password": password})


def test_login_is_limited_per_client_and_account_good_password_or_not(api: Api) -> None:
    staff1 = api.backend.credentials["staff1"]
    staff2 = api.backend.credentials["staff2"]
    time.sleep(LOGIN.window_s)  # a fresh login window (other tests log staff1 in)
    tries = [login(api, staff1.email, "wrong password")] + [
        login(api, staff1.email, staff1.password) for _ in range(LOGIN.limit - 1)
    ]
    assert [t.status_code for t in tries] == [401] + [200] * (LOGIN.limit - 1)
    assert [numbers(t)[:2] for t in tries] == [(LOGIN.limit, n) for n in (2, 1, 0)]
    over = login(api, staff1.email, staff1.password)
    body = assert_error(over, 429, "RATE_LIMITED")
    assert body["retryAfter"] == int(over.headers["Retry-After"])
    # the same address, another account: a window of its own (the email is caseless)
    assert login(api, staff2.email.upper(), staff2.password).status_code == 200
    time.sleep(int(over.headers["Retry-After"]) + 0.1)
    assert login(api, staff1.email, staff1.password).status_code == 200


def test_every_answer_carries_the_limit_headers(api: Api) -> None:
    client = api.client_as("staff2")
    answers = [
        client.get(read(api)),  # 200
        client.get("no/such/path"),  # 404 before an operation is known
        httpx.get(f"{api.url}/{read(api)}"),  # 401
        client.delete(read(api)),  # 405
    ]
    for answer in answers:
        limit, remaining, reset = numbers(answer)
        assert limit >= 1
        assert 0 <= remaining <= limit
        assert reset >= 1


# -- settings: from a file and from flags, and what a bad one says ---------------------------


def test_settings_read_scopes_from_a_file_with_flags_on_top(tmp_path: Path) -> None:
    config = tmp_path / "conformance.toml"
    config.write_text(
        '[reference.rate-limits]\ndefault = "100/10"\n"role:staff" = "5/2"\n'
        '[reference.token-lifetimes]\n"principal:staff2" = 2\ndefault = 60\n'
        "[suite]\nignored = true\n"
    )
    settings = Settings.from_file(config).merged(Settings.from_flags(["role:staff=7/3"], []))
    assert settings.rate_limits == {"default": RateLimit(100, 10), "role:staff": RateLimit(7, 3)}
    assert settings.access_ttl_s("staff", ["staff2@gloria.example", "staff2"]) == 2
    assert settings.access_ttl_s("staff", ["staff1@gloria.example", "staff1"]) == 60


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('[reference.rate-limits]\n"role:staff" = "five"\n', "LIMIT/WINDOW_SECONDS"),
        ('[reference.rate-limits]\n"team:staff" = "5/2"\n', "not a scope"),
        ("[reference.token-lifetimes]\ndefault = 0\n", "whole seconds"),
        ("[reference]\nlimits = 1\n", "no key 'limits'"),
        ("[reference\n", "not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_the_key(
    tmp_path: Path, content: str, says: str
) -> None:
    config = tmp_path / "conformance.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=says) as caught:
        Settings.from_file(config)
    assert "\n" not in str(caught.value)
    assert str(config) in str(caught.value)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--rate-limit", "staff"], "SCOPE=VALUE"),
        (["--rate-limit", "role:boss=5/2"], "role 'boss'"),
        (["--rate-limit", "operation:fly=5/2"], "operation 'fly'"),
        (["--token-lifetime", "principal:nobody=5"], "not a seeded principal"),
        (["--config", "/no/such/conformance.toml"], "no such file"),
    ],
)
def test_serve_refuses_bad_settings_with_exit_3(flags: list[str], says: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["serve", "tchat", *flags], out, err) == 3
    assert says in err.getvalue()
    assert err.getvalue().count("\n") == 1
