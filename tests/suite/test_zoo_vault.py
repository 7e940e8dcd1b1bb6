"""The zoo's ``vault`` (`tests.zoo.vault`), the VAmPI-like API the security probes are shown on:
each planted flaw is there when planted alone and absent from the clean app (a direct request
shows it, so a probe's test cannot pass on an app that lost its flaw), and the clean app passes
a whole run (fuzzing, scenarios, probes) with its data kept."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conformance.cli import run
from conformance.suite.probes._authentication import TIMED
from tests.plain_specs import written
from tests.zoo import ZOO, changed, made, running, vault

API = ZOO["vault"]


def _login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/users/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _qa(client: httpx.Client) -> dict[str, str]:
    return _login(client, vault.QA, vault.QA_PASSWORD)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- each flaw: what a request sees, as (clean, planted) ----------------------------------------


def _weak_key(client: httpx.Client) -> object:
    forged = vault.mint(vault.QA, vault.WEAK_KEY)
    return client.get("/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code


def _enumeration(client: httpx.Client) -> object:
    unknown = client.post("/users/login", json={"username": "nobody", "password": "x"})
    wrong = client.post("/users/login", json={"username": vault.BOB, "password": "x"})
    return unknown.status_code, wrong.status_code


def _throttle(client: httpx.Client) -> object:
    tries = [
        client.post("/users/login", json={"username": "zed", "password": "x"}) for _ in "123456"
    ]
    return [t.status_code for t in tries][-1], tries[-1].headers.get("Retry-After") is not None


def _mass_assignment(client: httpx.Client) -> object:
    body = {"username": "mallory", "email": "m@x", "password": "password1", "admin": True}
    assert client.post("/users/register", json=body).status_code == 201
    me = client.get("/users/me", headers=_login(client, "mallory", "password1")).json()
    return me["admin"]


def _hash_exposed(client: httpx.Client) -> object:
    return "password_hash" in client.get(f"/users/{vault.BOB}").json()


def _bola_notes(client: httpx.Client) -> object:
    bobs = client.put("/notes/3", json={"title": "mine now", "body": ""}, headers=_qa(client))
    return bobs.status_code


def _admin_open(client: httpx.Client) -> object:
    return client.get("/admin/users", headers=_qa(client)).status_code


def _limit(client: httpx.Client) -> object:
    answer = client.get("/books", params={"limit": 60})
    return answer.status_code, len(answer.json()) if answer.status_code == 200 else None


def _sql(client: httpx.Client) -> object:
    answer = client.get("/books", params={"q": "it's"})
    return answer.status_code, "OperationalError" in answer.text


def _debug(client: httpx.Client) -> object:
    return client.get("/debug/vars").status_code


def _alg_none(client: httpx.Client) -> object:
    claims = {"sub": vault.QA, "exp": int(time.time()) + 60}
    header = _b64(json.dumps({"alg": "none"}).encode())
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    return client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


SHOWN: dict[str, tuple[Callable[[httpx.Client], object], object, object]] = {
    "weak-jwt-key": (_weak_key, 401, 200),
    "user-enumeration": (_enumeration, (401, 401), (404, 401)),
    "no-login-throttle": (_throttle, (429, True), (401, False)),
    "mass-assignment": (_mass_assignment, False, True),
    "password-hash-exposed": (_hash_exposed, False, True),
    "bola-notes": (_bola_notes, 404, 200),
    "admin-open": (_admin_open, 403, 200),
    "limit-unenforced": (_limit, (400, None), (200, 60)),
    "sql-injection": (_sql, (200, False), (500, True)),
    "debug-endpoint": (_debug, 404, 200),
    "alg-none": (_alg_none, 401, 200),
}


def test_every_flaw_of_the_vault_is_shown() -> None:
    assert set(SHOWN) == vault.FLAWS


@pytest.mark.parametrize("flaw", sorted(vault.FLAWS))
def test_each_vault_flaw_is_there_only_when_planted(flaw: str) -> None:
    shown, clean, planted = SHOWN[flaw]
    with running(API, planted=False) as served, httpx.Client(base_url=served.url) as client:
        assert shown(client) == clean
        assert served.app.hits == []
    with running(API, planted={flaw}) as served, httpx.Client(base_url=served.url) as client:
        assert shown(client) == planted
        assert set(served.app.hits) == {flaw}


def test_the_clean_vault_keeps_notes_private_and_books_public() -> None:
    with running(API, planted=False) as served, httpx.Client(base_url=served.url) as client:
        qa, bob = _qa(client), _login(client, vault.BOB, vault.BOB_PASSWORD)
        assert client.get("/notes/3", headers=qa).status_code == 404  # bob's note
        assert client.get("/notes/3", headers=bob).status_code == 200
        assert client.get("/books/1", headers=qa).json()["owner"] == vault.BOB
        assert client.get("/books/1").status_code == 200  # anonymous
        assert client.delete("/books/1", headers=qa).status_code == 403
        assert client.delete("/users/bob", headers=qa).status_code == 403
        assert client.get("/notes").status_code == 401


def test_an_unknown_flaw_is_refused() -> None:
    with pytest.raises(ValueError, match="no planted flaw"):
        vault.Vault.fresh({"sql-injections"})


@pytest.mark.slow
def test_the_clean_vault_passes_a_whole_run_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fuzzing, the scenarios and the probes, logged in through ``[targets.vault.login]``: no
    failure, no record the run did not make changed, and nothing it made left behind (the
    accounts its fuzzing registered too: the run is the admin, who may remove them)."""
    for variable, value in API.environment.items():
        monkeypatch.setenv(variable, value)
    spec, reports = written(tmp_path, API.name, API.spec), tmp_path / "reports"
    (config := tmp_path / "conformance.toml").write_text(API.config, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with running(API, planted=False) as served:
        before = served.app.snapshot()
        code = run(
            ["run", "--spec", str(spec), "--target", served.url, "--profile", "gate", "--seed",
             "1", "--reports", str(reports), "--config", str(config), "--no-html-report",
             "-p", "no:cacheprovider"],
            out, err,
        )  # fmt: skip
        after = served.app.snapshot()
        sent = list(served.app.requests)  # type: ignore[attr-defined]
    said = out.getvalue()[-4000:] + err.getvalue()[-2000:]
    assert vault.ROOT_PASSWORD not in out.getvalue() + err.getvalue()
    document = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    failed = [f for op in document["operations"] for f in op["failures"]]
    failed += [f for scenario in document["scenarios"] for f in scenario["failures"]]
    assert (code, document["verdict"], failed) == (0, "pass", []), said
    assert changed(before, after) == {}, document.get("cleanup")
    assert made(before, after) == {}, document.get("cleanup")
    # the run's own account (root) got wrong passwords from the authentication probe alone (its
    # three: its throttle lets five through in a minute), none from fuzzing, which drew root
    # from the answers it saw; the probe's logins then met no 429 and waited nothing
    assert _wrong_passwords(sent, vault.ROOT, vault.ROOT_PASSWORD) == TIMED, said


def _wrong_passwords(sent: list[tuple[str, str, str]], username: str, password: str) -> int:
    """The logins among ``sent`` with ``username`` and another password."""
    count = 0
    for method, path, raw in sent:
        if (method, path) != ("POST", "/users/login"):
            continue
        try:
            body = json.loads(raw)
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("username") == username:
            count += body.get("password") != password
    return count
