"""CONTRACT.md §6 on the running reference backend: per-principal windows, 429s, their reset.

A backend of this module's own with short windows for people (``staff`` 5 requests per 2 s,
login 3 per 2 s) and the spec's limits for everyone else, so that limit+1 and the reset after
``Retry-After`` take seconds, and the ``service`` principal keeps its own, high limit.

A window opens with its first request, so requests sent less than a window after the first
of them was sent are surely in it. The claims about one window are judged on a try whose
requests fit (`in_one_window`); on a busy machine a try may not fit (the window may have ended
under way, and its answers prove nothing), and is made again with a fresh window, a bounded
number of times. Logins, slow on a busy machine (scrypt), happen before a try, not in it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from conformance.cli import run
from conformance.contract import RateLimit
from conformance.errors import ConfigError
from conformance.reference import Running, Settings, running
from conformance.reference._auth import access_ttl_s
from tests.reference.conftest import Api, assert_error, open_api

STAFF = RateLimit(5, 2)
LOGIN = RateLimit(3, 2)
SETTINGS = Settings(rate_limits={"role:staff": STAFF, "operation:login": LOGIN})
#: tries at fitting a window's requests in the window
TRIES = 5

T = TypeVar("T")


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


def in_one_window(window_s: float, what: str, attempt: Callable[[], tuple[float, T]]) -> T:
    """What ``attempt`` returned on the first try whose requests fit in one window: it waits
    for a fresh window, sends, and returns when its first request was sent with what it found.
    A try that took ``window_s`` or more is made again (its window may have ended under way),
    at most `TRIES` times."""
    took = []
    for _ in range(TRIES):
        began, found = attempt()
        took.append(time.monotonic() - began)
        if took[-1] < window_s:
            return found
    pytest.fail(
        f"{what}: no try of {TRIES} fit in one {window_s} s window (they took"
        f" {', '.join(f'{t:.1f}' for t in took)} s): too slow a machine for this test's windows"
    )


def spend(client: httpx.Client, api: Api) -> list[httpx.Response]:
    """The principal's requests until a 429 (at most limit + 1)."""
    seen = []
    for _ in range(STAFF.limit + 1):
        response = client.get(read(api))
        seen.append(response)
        if response.status_code == 429:
            break
    return seen


def assert_spent(seen: list[httpx.Response]) -> None:
    """The answers counted down to 0 (never rising in a window), then a 429."""
    remaining = [numbers(r)[1] for r in seen if r.status_code == 200]
    assert remaining == sorted(remaining, reverse=True), remaining  # never rises in a window
    assert seen[-1].status_code == 429


def test_limit_plus_one_is_429_with_retry_after_then_the_window_resets(api: Api) -> None:
    client = api.client_as("staff1")

    def attempt() -> tuple[float, list[httpx.Response]]:
        fresh_window(client, api)
        began = time.monotonic()
        return began, [client.get(read(api)) for _ in range(STAFF.limit + 1)]

    *answers, over = in_one_window(STAFF.window_s, "limit + 1 requests", attempt)
    assert [a.status_code for a in answers] == [200] * STAFF.limit
    assert [numbers(a)[:2] for a in answers] == [
        (STAFF.limit, STAFF.limit - n) for n in range(1, STAFF.limit + 1)
    ]
    assert all(1 <= numbers(a)[2] <= STAFF.window_s for a in answers)
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
    first, second = api.client_as("staff1"), api.client_as("staff1")
    others = {"staff2": api.client_as("staff2"), "service": api.client,
              "admin": api.client_as("admin")}  # fmt: skip

    def attempt() -> tuple[float, tuple[list[httpx.Response], dict[str, httpx.Response]]]:
        fresh_window(first, api)
        began = time.monotonic()
        seen = spend(first, api)
        # another token of the same principal, and other principals, while it is limited
        answers = {"staff1": second.get(read(api))}
        answers |= {name: client.get(read(api)) for name, client in others.items()}
        return began, (seen, answers)

    seen, answers = in_one_window(STAFF.window_s, "spending staff1's window", attempt)
    assert_spent(seen)
    # another token of the same principal is the same window...
    assert_error(answers["staff1"], 429, "RATE_LIMITED")
    # ...another staff user, the service principal and an admin are not limited by it
    assert answers["staff2"].status_code == 200
    assert answers["service"].status_code == 200
    assert numbers(answers["service"])[0] == 6000  # the spec's limit for service
    assert answers["admin"].status_code == 200
    assert numbers(answers["admin"])[0] == 60  # the spec's default for everyone else


def test_authentication_comes_before_the_limit(api: Api) -> None:
    client = api.client_as("staff1")
    token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    def attempt() -> tuple[float, tuple[list[httpx.Response], list[httpx.Response]]]:
        fresh_window(client, api)
        began = time.monotonic()
        seen = spend(client, api)
        refused = [
            httpx.get(f"{api.url}/{read(api)}", headers=headers)
            for headers in ({}, {"Authorization": f"Bearer {tampered}"})
        ]
        return began, (seen, [*refused, client.get(read(api))])

    seen, (*refused, still) = in_one_window(STAFF.window_s, "spending staff1's window", attempt)
    assert_spent(seen)
    for response in refused:
        assert_error(response, 401, "UNAUTHENTICATED")
    assert_error(still, 429, "RATE_LIMITED")


def login(api: Api, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{api.url}/auth/login", json={"email": email, "password": password})


def test_login_is_limited_per_client_and_account_good_password_or_not(api: Api) -> None:
    staff1 = api.backend.credentials["staff1"]
    staff2 = api.backend.credentials["staff2"]

    def attempt() -> tuple[float, list[httpx.Response]]:
        # a fresh login window: any window opened before this wait has ended after it (other
        # tests and earlier tries log staff1 in)
        time.sleep(LOGIN.window_s)
        began = time.monotonic()
        tries = [login(api, staff1.email, "wrong password")] + [
            login(api, staff1.email, staff1.password) for _ in range(LOGIN.limit)
        ]
        # the same address, another account: a window of its own (the email is caseless)
        return began, [*tries, login(api, staff2.email.upper(), staff2.password)]

    *tries, over, other = in_one_window(LOGIN.window_s, "spending the login window", attempt)
    assert [t.status_code for t in tries] == [401] + [200] * (LOGIN.limit - 1)
    assert [numbers(t)[:2] for t in tries] == [(LOGIN.limit, n) for n in (2, 1, 0)]
    body = assert_error(over, 429, "RATE_LIMITED")
    assert body["retryAfter"] == int(over.headers["Retry-After"])
    assert other.status_code == 200
    time.sleep(int(over.headers["Retry-After"]) + 0.1)
    assert login(api, staff1.email, staff1.password).status_code == 200


def test_a_try_that_does_not_fit_in_the_window_is_made_again_and_then_fails_saying_so() -> None:
    began = iter([time.monotonic() - 3, time.monotonic() - 3, time.monotonic()])
    assert in_one_window(2, "three tries", lambda: (next(began), "found")) == "found"
    with pytest.raises(pytest.fail.Exception, match="no try of 5 fit in one 2 s window"):
        in_one_window(2, "slow", lambda: (time.monotonic() - 3, None))


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
    lifetimes = settings.token_lifetimes
    assert access_ttl_s(lifetimes, "staff", ["staff2@gloria.example", "staff2"]) == 2
    assert access_ttl_s(lifetimes, "staff", ["staff1@gloria.example", "staff1"]) == 60


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
