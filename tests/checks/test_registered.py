"""The contract's checks as schemathesis runs them: by name in ``st run``, and in its engine with
our 429 handling on the engine's sessions (the private seam ARCHITECTURE.md names)."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from conformance import catalogue
from conformance.checks import SAMPLES, THROTTLING
from conformance.contract import RateLimit, bundled_spec
from conformance.reference import Settings, running

ROOT = Path(__file__).parent.parent.parent


def st_run(
    url: str, token: str, api: str, operation: str, check: str
) -> subprocess.CompletedProcess[str]:
    st = str(Path(sys.executable).parent / "st")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "conformance.checks", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            st, "run", str(bundled_spec(api)), "--url", url, "--checks", check,
            "--include-operation-id", operation, "--max-examples", "5", "--seed", "7",
            "--phases", "examples,coverage,fuzzing", "--no-color",
            "-H", f"Authorization: Bearer {token}",
        ],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def service_token(url: str, credential: object) -> str:
    answer = httpx.post(
        f"{url}/auth/login",
        json={"email": credential.email, "password": credential.password},  # type: ignore[attr-defined]
    ).json()
    token: str = answer.get("data", answer)["tokens"]["accessToken"]
    return token


@pytest.mark.slow
@pytest.mark.parametrize(
    ("defect", "api", "operation", "check"),
    [
        ("nosniff-missing", "gloria", "getSchool", "nosniff"),
        ("pagination-total-wrong", "gloria", "listDepartments", "pagination"),
        ("request-id-not-echoed", "tchat", "getContentCategories", "request_id"),
        ("stack-trace-in-error", "gloria", "getSchool", "no_leaks"),
    ],
)
def test_st_run_knows_our_checks_by_name_and_they_catch_their_defect(
    defect: str, api: str, operation: str, check: str
) -> None:
    with running([api], settings=Settings(defects=frozenset({defect}))) as broken:
        url = broken.url(api)
        token = service_token(url, broken.backend(api).credentials["service"])
        result = st_run(url, token, api, operation, check)
    assert result.returncode == 1, result.stdout[-2000:]
    # a `ContractFailure`: titled with the rule's words in the catalogue
    assert f"ST901 {catalogue.rule(check).words}: " in result.stdout


def _spend_the_window(url: str, token: str, limit: int) -> None:
    """Send reads until the service's window is spent (a 429), at most ``limit`` + 5."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(limit + 5):
            if client.get(url).status_code == 429:
                return
    raise AssertionError(f"{limit + 5} reads in a row were not throttled")


def test_the_engine_never_shows_a_429_to_a_check_and_keeps_the_wait_out_of_latency() -> None:
    # service may make 50 requests in 5 s, and the test spends the window before the engine
    # starts: its first requests are throttled however slowly a busy machine lets it send (at
    # a load of 9 on 2 CPUs it sent about 10 a second, and a limit of 10 a second was not
    # always reached)
    settings = Settings(rate_limits={"role:service": RateLimit(50, 5)})
    with running(["tchat"], settings=settings) as reference:
        url = reference.url("tchat")
        token = service_token(url, reference.backend("tchat").credentials["service"])
        config = SchemathesisConfig.from_dict(
            {
                "seed": 7,
                "base-url": url,
                "headers": {"Authorization": f"Bearer {token}"},
                "workers": 1,
                "continue-on-failure": True,
                "generation": {"max-examples": 5, "database": "none"},
                "cache": {"enabled": False},
                "phases": {
                    "examples": {"enabled": True},
                    "coverage": {"enabled": True},
                    "fuzzing": {"enabled": True},
                    "stateful": {"enabled": False},
                },
            }
        )
        loaded = schemathesis.openapi.from_path(str(bundled_spec("tchat")), config=config)
        schema = loaded.include(operation_id=["getContentCategories", "syncContent"])
        SAMPLES.take()
        retries_before = THROTTLING.retries
        _spend_the_window(f"{url}/content/categories", token, limit=50)
        for event in from_schema(schema).execute():
            if isinstance(event, events.FatalError):
                raise event.exception
        samples = SAMPLES.take()
    statuses = collections.Counter(status for kept in samples.values() for status, _ in kept)
    assert sum(statuses.values()) > 30, statuses  # several windows' worth were sent
    assert 429 not in statuses, statuses
    assert THROTTLING.retries > retries_before
    slowest = max(seconds for kept in samples.values() for _, seconds in kept)
    assert slowest < 1.0  # the Retry-After waits (a second or two each) are not in the samples
