"""The API3 and API4 probes (`conformance/suite/probes/_properties.py`, `_exposure.py`,
`_consumption.py`): mass assignment, secrets and undeclared members in answers, documented
maximums and slow crafted input.

Shown on the zoo's ``vault`` (a VAmPI-like API with a plain spec): the correct app passes, each
planted flaw is caught by its rule. The warning rules are warnings. The reference backend's
clean pass and defects: `tests/suite/test_probe_defects.py`."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.contract import bundled_spec, load_spec
from conformance.suite.probes._exposure import exposed, secret, undeclared
from conformance.suite.probes._properties import (
    candidates,
    differing,
    register_operation,
    sticks,
)
from conformance.suite.scenarios import ScenarioVerdict
from tests.plain_specs import written
from tests.suite.helpers import vault_probe
from tests.zoo import ZOO, vault
from tests.zoo import running as zoo_running

PROBES = ("mass_assignment", "exposure", "consumption")


def rules(verdict: ScenarioVerdict) -> set[str]:
    return {f.rule for f in [*verdict.failures, *getattr(verdict, "warnings", [])]}


# -- the vault ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROBES)
def test_a_correct_vault_passes_the_property_and_consumption_probes(
    tmp_path: Path, name: str
) -> None:
    with zoo_running(ZOO["vault"], planted=False) as served:
        verdict = vault_probe(name, served.url, tmp_path)
        users = set(served.app.snapshot()["users"])
    assert verdict.outcome == "passed", verdict
    assert rules(verdict) == set()
    assert users == {vault.ROOT, vault.QA, vault.BOB}  # a registered account is removed again


@pytest.mark.parametrize(
    ("flaw", "name", "rule", "says"),
    [
        ("mass-assignment", "mass_assignment", "mass-assignment", "`admin` = True"),
        ("password-hash-exposed", "exposure", "secret-exposed", "password_hash` (a bcrypt hash"),
        ("limit-unenforced", "consumption", "maximum-enforced", "over its documented maximum"),
    ],
)
def test_each_planted_vault_flaw_is_caught_by_its_rule(
    tmp_path: Path, flaw: str, name: str, rule: str, says: str
) -> None:
    with zoo_running(ZOO["vault"], planted={flaw}) as served:
        verdict = vault_probe(name, served.url, tmp_path)
        users = set(served.app.snapshot()["users"])
    assert verdict.outcome == "failed", verdict
    assert rule in rules(verdict), verdict.failures
    found = [f for f in verdict.failures if f.rule == rule]
    assert any(says in f.message for f in found), found
    assert users == {vault.ROOT, vault.QA, vault.BOB}
    if rule == "secret-exposed":  # the value never: its name and shape
        assert all("$2b$" not in f.message for f in verdict.failures)
        # the undeclared member is a warning beside it, never a failure
        assert "undeclared-fields" in {w.rule for w in verdict.warnings}
        assert "undeclared-fields" not in {f.rule for f in verdict.failures}


def test_a_read_only_run_skips_mass_assignment_and_runs_the_readers(tmp_path: Path) -> None:
    with zoo_running(ZOO["vault"], planted={"password-hash-exposed"}) as served:
        writes = vault_probe("mass_assignment", served.url, tmp_path, read_only=True)
        reads = vault_probe("exposure", served.url, tmp_path, read_only=True)
    assert (writes.outcome, writes.requests) == ("skipped", 0)
    assert "read-only run" in writes.reason
    assert "secret-exposed" in rules(reads)


def test_the_timing_and_open_schema_rules_are_warnings() -> None:
    assert catalogue.rule("slow-input").warning
    assert catalogue.rule("undeclared-fields").warning
    for rule in ("mass-assignment", "secret-exposed", "maximum-enforced"):
        assert not catalogue.rule(rule).warning
    assert {catalogue.rule(r).owasp for r in ("mass-assignment", "secret-exposed")} == {"API3"}
    assert catalogue.rule("maximum-enforced").owasp == "API4"


# -- what the probes read off a spec and an answer -----------------------------------------------


def test_candidates_are_the_read_schemas_members_the_request_leaves_out() -> None:
    spec = load_spec(bundled_spec("gloria"))
    read = spec.component("UserProfile")
    create = spec.operation("createUser")
    assert create is not None
    offered = spec.properties(spec.request_schema(create))
    found = candidates(spec, read, offered)
    assert "permissions" in found  # derived, read-only: never the client's to set
    assert not {"id", "createdAt", "updatedAt", "version", "lastLoginAt", "role"} & set(found)
    assert {"admin", "isAdmin", "superuser"} <= set(found)  # privileged names, sent blind
    assert differing(spec, "isAdmin", None, None) is True
    assert differing(spec, "role", None, None) == "admin"
    assert differing(spec, "active", {"type": "boolean"}, True) is False
    assert sticks(True, True, None)
    assert not sticks(True, True, True)  # the default already: nothing was assigned
    assert not sticks(["a"], [], [])


def test_a_register_operation_is_found_by_its_words_and_members(tmp_path: Path) -> None:
    spec = load_spec(written(tmp_path, "vault", vault.SPEC))
    found = register_operation(spec)
    assert found is not None
    assert found.operation_id == "registerUser"
    assert register_operation(load_spec(bundled_spec("tchat"))) is None


@pytest.mark.parametrize(
    ("name", "value", "shape"),
    [
        ("passwordHash", "scrypt$16384$c2FsdA$ZGlnZXN0", "an scrypt hash"),
        ("hash", "$2b$12$" + "a" * 53, "a bcrypt hash"),
        ("note", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$ZGlnZXN0", "an argon2 hash"),
        ("password", "hunter2", "named like a secret"),
        ("api_key", "k-123", "named like a secret"),
        ("bio", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "a JWT"),
    ],
)
def test_a_secret_is_told_by_its_name_or_its_shape(name: str, value: str, shape: str) -> None:
    said = secret(name, value)
    assert said.startswith(shape), said
    assert value not in said


@pytest.mark.parametrize(
    ("name", "value"),
    [("password", ""), ("password", "********"), ("passwordChangedAt", "2026-01-01"),
     ("sha", "ab" * 20), ("commitId", "ab" * 20), ("hash", "ab" * 20), ("tokenType", "Bearer"),
     ("title", "a JWT is three base64url parts"),
     ("name", "ab" * 20)],  # a name the fuzzing wrote may be hex: no sign by itself
)  # fmt: skip
def test_what_is_no_secret_is_not_told(name: str, value: str) -> None:
    assert secret(name, value) == ""


def test_members_are_walked_into_lists_and_a_hash_beside_an_account_is_a_secret() -> None:
    body = {"data": [{"username": "x", "hash": "00ff"}, {"title": "t", "hash": "00ff"}]}
    assert list(exposed(body)) == ["`data[0].hash` (named like a secret, 4 chars)"]


def test_undeclared_members_only_where_the_schema_is_closed_by_its_properties(
    tmp_path: Path,
) -> None:
    spec = load_spec(written(tmp_path, "vault", vault.SPEC))
    profile = {"$ref": "#/components/schemas/Profile"}
    assert list(undeclared(spec, profile, {"id": 1, "username": "a", "password_hash": "x"})) == [
        "`password_hash`"
    ]
    listed = {"type": "array", "items": profile}
    assert list(undeclared(spec, listed, [{"id": 1, "extra": 2}])) == ["`[0].extra`"]
    opened = {"type": "object", "properties": {"a": {}}, "additionalProperties": True}
    assert list(undeclared(spec, opened, {"b": 1})) == []
    assert list(undeclared(spec, {"type": "object"}, {"b": 1})) == []


def test_the_callers_own_token_in_an_answer_is_no_leak() -> None:
    # RealWorld's GET /user answers the user a fresh token of their own: no secret exposed;
    # another subject's token under the same name is one
    from conformance.suite.probes._exposure import exposed

    def jwt(claims: dict[str, Any]) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2lnbmF0dXJl"

    own = jwt({"user_id": 1, "exp": 100, "session_id": "a"})
    fresh = jwt({"user_id": 1, "exp": 200, "session_id": "b"})  # another session of the user
    other = jwt({"user_id": 2, "exp": 200, "session_id": "b"})
    assert list(exposed({"user": {"token": fresh}}, own=own)) == []
    assert list(exposed({"user": {"token": own}}, own=own)) == []
    (found,) = exposed({"user": {"token": other}}, own=own)
    assert found.startswith("`user.token` (named like a secret")
    assert list(exposed({"user": {"token": fresh}})) != []  # without the run's token: a secret
