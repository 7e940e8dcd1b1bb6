"""The broken-authentication probes (`conformance/suite/probes/_authentication.py`,
`_throttling.py`): user enumeration, a weak JWT key, forged tokens, login throttling.

Shown on the zoo's ``vault`` (a VAmPI-like API with a plain spec, its login described in the
config): the correct app passes, each planted flaw is caught by its rule; a timing gap alone is
a warning that never fails. The reference backend's clean pass and defects:
`tests/suite/test_probe_defects.py`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import catalogue
from conformance.contract import bundled_spec, load_spec
from conformance.suite import Credentials
from conformance.suite._access import login_place
from conformance.suite.probes._authentication import COMMON_SECRETS, Jwt, candidates, comparable
from conformance.suite.scenarios import ScenarioContext, ScenarioVerdict
from conformance.suite.scenarios._registry import lookup
from tests.plain_specs import document, json_answer, written
from tests.servers import serving
from tests.suite.helpers import QUICK, VAULT_LOGIN, vault_probe
from tests.zoo import ZOO, vault
from tests.zoo import running as zoo_running


def wrong_passwords(app: Any) -> list[str]:
    """The logins the vault was sent with a password other than the run's own."""
    return [body for _, path, body in app.requests
            if path == "/users/login" and vault.QA_PASSWORD not in body]  # fmt: skip


def rules(verdict: ScenarioVerdict) -> list[str]:
    return [f.rule for f in [*verdict.failures, *getattr(verdict, "warnings", [])]]


# -- the vault ---------------------------------------------------------------------------------


def test_a_correct_vault_passes_the_authentication_probe(tmp_path: Path) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        verdict = vault_probe("authentication", served.url, tmp_path)
    assert verdict.outcome == "passed", verdict
    assert rules(verdict) == []
    steps = {step.title: step.outcome for step in verdict.steps}
    assert steps["an unknown user and a wrong password answer alike"] == "passed"
    assert steps["the run's token is not signed with a common secret (checked offline)"] == "passed"
    forged = [title for title in steps if title.startswith("the run's token with")]
    assert len(forged) == 4, steps
    assert all(steps[title] == "passed" for title in forged), steps


#: planted flaw -> the rule that catches it, a word its message has
PLANTED = {
    "weak-jwt-key": ("weak-jwt-secret", "6 characters, starting with 's'"),
    "user-enumeration": ("user-enumeration", "404"),
    "alg-none": ("forged-token-401", "alg none"),
}


@pytest.mark.parametrize("flaw", PLANTED)
def test_a_planted_authentication_flaw_is_caught_by_its_rule(flaw: str, tmp_path: Path) -> None:
    rule, said = PLANTED[flaw]
    with zoo_running(ZOO["vault"], planted={flaw}) as served:
        verdict = vault_probe("authentication", served.url, tmp_path)
    assert verdict.outcome == "failed"
    # (and, for a status the spec does not document, fuzzing's check on the probe's answer)
    assert rule in rules(verdict), verdict.failures
    message = next(f.message for f in verdict.failures if f.rule == rule)
    assert said in message, message
    assert "eyJ" not in message  # not the token
    assert "secret'" not in message  # nor the key


def test_a_timing_gap_alone_is_a_warning_that_never_fails(tmp_path: Path) -> None:
    # answers alike in status and body, but a wrong password takes 250 ms longer: the hash
    # runs only for a user that exists
    app: Any = ZOO["vault"].app.fresh(False)

    class HashOnlyKnown(app):  # type: ignore[misc]
        def valid_body(self, schema: str) -> Any:
            fields = super().valid_body(schema)
            if schema == "Login" and fields["username"] in self.data["users"]:
                time.sleep(0.25)
            return fields

    with serving(HashOnlyKnown) as url:
        verdict = vault_probe("authentication", url, tmp_path)
    assert rules(verdict) == ["user-enumeration-timing"]
    assert catalogue.rule("user-enumeration-timing").warning
    assert verdict.outcome == "passed"
    assert verdict.failures == []
    assert "ms (the median of 3)" in verdict.warnings[0].message


def test_a_forgery_that_crashes_the_api_is_a_5xx_not_a_token_served(tmp_path: Path) -> None:
    # a RealWorld backend answered 500 to an alg none token: refused, badly; not_a_server_error
    # says so, and forged-token-401 (a forgery served) does not
    app: Any = ZOO["vault"].app.fresh(False)

    class CrashesOnNone(app):  # type: ignore[misc]
        def _handle(self) -> None:
            if (self.headers.get("Authorization") or "").endswith("."):  # alg none, stripped
                return self.refuse(500, "ZeroDivisionError in the token library")  # type: ignore[no-any-return]
            return super()._handle()  # type: ignore[no-any-return]

    with serving(CrashesOnNone) as url:
        verdict = vault_probe("authentication", url, tmp_path)
    assert "forged-token-401" not in rules(verdict), verdict.failures
    assert "not_a_server_error" in rules(verdict), verdict.failures


def test_a_read_only_run_skips_the_logins_and_still_forges(tmp_path: Path) -> None:
    with zoo_running(ZOO["vault"], planted={"alg-none", "user-enumeration"}) as served:
        verdict = vault_probe("authentication", served.url, tmp_path, read_only=True)
        throttling = vault_probe("login_throttling", served.url, tmp_path, read_only=True)
        wrong = wrong_passwords(served.app)
    assert rules(verdict) == ["forged-token-401"]  # user enumeration was not tried
    skipped = {s.title: s.detail for s in verdict.steps if s.outcome == "skipped"}
    assert "read-only run" in skipped["an unknown user and a wrong password answer alike"]
    assert wrong == []
    assert throttling.outcome == "skipped"
    assert not lookup("login_throttling").read_only  # off in a read-only run, whatever the spec


def test_login_throttling_never_tries_a_real_account(tmp_path: Path) -> None:
    # a plain spec offers no throwaway account of the run's own: skipped, nothing sent
    with zoo_running(ZOO["vault"], planted={"no-login-throttle"}) as served:
        verdict = vault_probe("login_throttling", served.url, tmp_path)
        wrong = wrong_passwords(served.app)
    assert verdict.outcome == "skipped"
    assert "never on a real one" in verdict.reason
    assert wrong == []


# -- the parts, alone ------------------------------------------------------------------------------


def test_what_varies_per_request_is_not_compared() -> None:
    def answer(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(401, json=body)

    trace, other = "9f1c4a3e-8a1b-4c2d-9e3f-0a1b2c3d4e5f", "7f1c4a3e-8a1b-4c2d-9e3f-0a1b2c3d4e5f"
    one = answer({"detail": "bad credentials for ann@x.io", "requestId": "r-1",
                  "timestamp": "2026-01-02T03:04:05Z", "trace": trace})  # fmt: skip
    two = answer({"detail": "bad credentials for nobody-1@x.io", "requestId": "r-2",
                  "timestamp": "2026-01-02T03:04:06.5Z", "trace": other})  # fmt: skip
    names = ("ann@x.io", "nobody-1@x.io")
    assert comparable(one, names) == comparable(two, names)
    assert comparable(answer({"detail": "no such user"}), names) != comparable(one, names)


def test_forgeries_keep_the_payload_or_the_signature_as_each_claims() -> None:
    token = vault.mint("qa")
    found = Jwt.read(token)
    assert found is not None
    assert found.alg == "HS256"
    made = {what: Jwt.read(forged) for what, forged in found.forgeries().items()}
    none = made["alg none and no signature"]
    assert none is not None
    assert (none.alg, none.signature) == ("none", "")
    expired = made["exp in the past, its signature kept"]
    assert expired is not None
    assert expired.signature == found.signature
    assert expired.payload["exp"] < time.time()
    other = made["another sub, its signature kept"]
    assert other is not None
    assert other.payload["sub"] != "qa"
    assert Jwt.read("not-a-jwt") is None
    assert Jwt.read(None) is None


def test_the_dictionary_finds_common_and_named_keys_offline() -> None:
    spec = load_spec(bundled_spec("tchat"))
    context = ScenarioContext("tchat", spec, "http://127.0.0.1:9", Credentials("tchat"), QUICK,
                              lambda: None, Path("unused"))  # fmt: skip
    tried = list(candidates(context))
    assert {"secret", "your-256-bit-secret", "changeme", "tchat-secret", "tchat_jwt"} <= set(tried)
    assert len(COMMON_SECRETS) >= 100
    found = Jwt.read(vault.mint("qa", b"tchat-secret"))
    assert found is not None
    assert found.signed_with("tchat-secret")
    assert not found.signed_with("secret")


def test_the_login_is_found_in_the_flow_the_config_or_the_oauth2_password_flow() -> None:
    gloria = load_spec(bundled_spec("gloria"))
    way = login_place(gloria, "http://h/api/v1", Credentials("gloria"))
    assert not isinstance(way, str)
    assert (way.operation.operation_id, way.username, way.source) == (
        "login",
        "/email",
        "x-auth-flow",
    )
    plain = load_spec_from(vault.SPEC)
    way = login_place(plain, "http://h", Credentials("vault", login=VAULT_LOGIN))
    assert not isinstance(way, str)
    assert (way.source, way.form) == ("[targets.vault.login]", False)
    none = login_place(plain, "http://h", Credentials("vault"))
    assert "describes none ([targets.vault.login])" in str(none)
    way = login_place(load_spec_from(OAUTH), "http://h/v1", Credentials("shop"))
    assert not isinstance(way, str)
    assert (way.operation.path, way.form) == ("/token", True)
    assert way.fixed == {"grant_type": "password"}


OAUTH = document(
    "Shop",
    {
        "/token": {"post": {"operationId": "token", "security": [], "requestBody": {"content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
            "responses": {"200": json_answer({"type": "object"}, "A token")}}},
        "/orders": {"get": {"responses": {"200": json_answer({"type": "array"}, "Orders")}}},
    },
    {"securitySchemes": {"oauth": {"type": "oauth2", "flows": {"password": {
        "tokenUrl": "token", "scopes": {}}}}}},
)  # fmt: skip
OAUTH["security"] = [{"oauth": []}]


def load_spec_from(data: dict[str, Any]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        return load_spec(written(Path(folder), "plain", data))
