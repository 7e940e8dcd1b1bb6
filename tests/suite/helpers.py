"""What the suite's end-to-end tests share: the run's credentials in the environment, the
answers a reference API sends, seen at the server (whatever the suite thinks it sent), and a
security probe run on the zoo's vault."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from conformance.config import LoginSettings
from conformance.contract import bundled_spec, load_spec, resources
from conformance.reference import Running
from conformance.suite import Credentials, Network, check_access
from conformance.suite._auth import LOGIN_WAITS
from conformance.suite.scenarios import ScenarioContext, ScenarioVerdict, run_scenario
from tests.plain_specs import written
from tests.zoo import vault

QUICK = Network(timeout_s=5.0)
#: how the run logs in to the vault (its spec cannot say where the token is)
VAULT_LOGIN = LoginSettings("loginUser", token_pointer="/token")


def as_service(monkeypatch: pytest.MonkeyPatch, backends: Running, api: str) -> Any:
    """The run logs in as ``api``'s ``service`` principal (its credential)."""
    service = backends.backend(api).credentials["service"]
    monkeypatch.setenv(f"CONFORMANCE_{api.upper()}_USERNAME", service.email)
    monkeypatch.setenv(f"CONFORMANCE_{api.upper()}_PASSWORD", service.password)
    return service


def answers(
    monkeypatch: pytest.MonkeyPatch, backends: Running, api: str
) -> list[tuple[str, str, int]]:
    """``(method, path, status)`` of every answer ``api``'s app sends from now on, filled in as
    the run goes (``monkeypatch`` takes the watch off after the test)."""
    seen: list[tuple[str, str, int]] = []
    app_type = type(backends.backend(api).app)
    original = app_type.__call__

    async def watched(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or self.api != api:
            await original(self, scope, receive, send)
            return

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.append((scope["method"], scope["path"], int(message["status"])))
            await send(message)

        await original(self, scope, receive, watch)

    monkeypatch.setattr(app_type, "__call__", watched)
    return seen


@functools.cache
def deletable_kinds(api: str) -> frozenset[str]:
    """The kinds of ``api``'s bundled spec that have a delete operation (read once: a spec
    takes a tenth of a second to load, more on a busy machine, and asking once per row of what
    a run left took a shared-environment test past its 300 s there)."""
    spec = load_spec(bundled_spec(api))
    return frozenset(
        r.schema_name for r in resources(spec) if r.delete is not None and r.schema_name
    )


def vault_probe(name: str, url: str, folder: Path, **changes: Any) -> ScenarioVerdict:
    """The probe ``name`` against a vault at ``url``, logged in as the run's user ``qa``
    (``changes``: the `ScenarioContext`'s, ``read_only`` …)."""
    spec = load_spec(written(folder, "vault", vault.SPEC))
    credentials = Credentials(
        "vault", username=vault.QA, password=vault.QA_PASSWORD, login=VAULT_LOGIN
    )
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    token = way.login.sign_in(LOGIN_WAITS).access_token
    context = ScenarioContext(
        "vault", spec, url, credentials, QUICK, lambda: token, folder / "journal.jsonl",
        presenter=way.presenter, **changes,
    )  # fmt: skip
    verdict, _ = run_scenario(name, context)
    return verdict
