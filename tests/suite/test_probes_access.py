"""The access probes, ``bola`` (OWASP API1) and ``function_level`` (API5), told in-process.

On the zoo's ``vault`` (a plain spec: private notes, public books, ``GET /admin/users``), with
the run's own account (A, the admin ``root``) and a named principal (B, ``bob``): the clean app
passes both, and its public books, readable by all and listed to B too, are no ``bola-read``;
the planted ``bola-notes`` (another user changes and deletes a note) fails ``bola-write`` and
``admin-open`` fails ``function-level-403``. On the reference backend: the clean Gloria passes
both, ``bola-update`` fails ``bola-write``, and ``admin-open`` fails ``function-level-403`` in a
read-only run with a named ``staff`` principal (where role-403's throwaway accounts cannot be
made). Every run leaves the data as it was, and a probe without a second account says what to
give it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.contract import load_spec
from conformance.reference import Running, Settings, running
from conformance.suite._auth import Credentials, RunSession
from conformance.suite._engine import DEFAULT_NETWORK
from conformance.suite.scenarios import ScenarioContext, ScenarioVerdict, run_scenario
from tests.plain_specs import written
from tests.zoo import ZOO, changed, made
from tests.zoo import running as zoo_running
from tests.zoo.vault import BOB, ROOT

VAULT = ZOO["vault"]


def rules(verdict: ScenarioVerdict) -> set[str]:
    found = [*verdict.failures, *getattr(verdict, "warnings", [])]
    return {failure.rule for failure in found}


def vault_probe(
    tmp_path: Path, probe: str, planted: bool | set[str], *, second: bool = True
) -> tuple[ScenarioVerdict, dict[str, Any]]:
    """``probe`` against a fresh vault as ``root`` (and ``bob`` as B): its verdict, and what
    the run changed or left in the app's data."""
    spec = load_spec(written(tmp_path, "vault", VAULT.spec))
    with zoo_running(VAULT, planted=planted) as served:
        app: Any = served.app
        credentials = Credentials("vault", app.token_for(ROOT))
        if second:
            credentials.principals["bob"] = Credentials("vault", app.token_for(BOB),
                                                        principal="bob")  # fmt: skip
        before = app.snapshot()
        context = ScenarioContext(
            "vault", spec, served.url, credentials, DEFAULT_NETWORK, lambda: credentials.token,
            tmp_path / "journal.jsonl",
        )  # fmt: skip
        verdict, _ = run_scenario(probe, context)
        after = app.snapshot()
    return verdict, {**changed(before, after), **made(before, after)}


def test_bola_passes_a_clean_vault_whose_public_books_are_no_finding(tmp_path: Path) -> None:
    verdict, left = vault_probe(tmp_path, "bola", False)
    assert (verdict.outcome, rules(verdict)) == ("passed", set()), verdict
    assert left == {}
    passed = [step.title for step in verdict.steps if step.outcome == "passed"]
    assert any("B's GET of A's Book" in title for title in passed), passed  # public: listed
    assert any("B's PUT /notes/{id}" in title for title in passed), passed
    assert any("B's DELETE /books/{id}" in title for title in passed), passed


def test_bola_catches_a_vault_that_lets_anyone_change_a_note(tmp_path: Path) -> None:
    verdict, left = vault_probe(tmp_path, "bola", {"bola-notes"})
    assert verdict.outcome == "failed", verdict
    assert rules(verdict) == {"bola-write"}
    said = " ".join(failure.message for failure in verdict.failures)
    assert "PUT /notes/{id}" in said, said
    assert "answered 200" in said, said
    assert left == {}  # what B changed is A's own note, removed at the end


def test_a_probe_without_a_second_account_says_what_to_give_it(tmp_path: Path) -> None:
    verdict, _ = vault_probe(tmp_path, "bola", False, second=False)
    assert verdict.outcome == "skipped"
    assert "CONFORMANCE_VAULT_<NAME>_USERNAME" in verdict.reason, verdict.reason


@pytest.mark.parametrize("planted", [False, True], ids=["clean", "admin-open"])
def test_function_level_tries_the_vaults_admin_operation_as_bob(
    tmp_path: Path, planted: bool
) -> None:
    verdict, left = vault_probe(tmp_path, "function_level", {"admin-open"} if planted else False)
    assert left == {}
    titles = [step.title for step in verdict.steps]
    assert any("GET /admin/users" in title for title in titles), titles
    if not planted:
        assert (verdict.outcome, rules(verdict)) == ("passed", set()), verdict
    else:
        assert (verdict.outcome, rules(verdict)) == ("failed", {"function-level-403"}), verdict


@pytest.fixture(scope="module")
def gloria_backends() -> Iterator[dict[str, Running]]:
    with (
        running(["gloria"]) as clean,
        running(["gloria"], settings=Settings(defects=frozenset({"bola-update"}))) as bola,
        running(["gloria"], settings=Settings(defects=frozenset({"admin-open"}))) as admin,
    ):
        yield {"": clean, "bola-update": bola, "admin-open": admin}


def gloria_probe(
    backends: Running, tmp_path: Path, probe: str, *, read_only: bool = False
) -> ScenarioVerdict:
    backend = backends.backend("gloria")
    service, staff = backend.credentials["service"], backend.credentials["staff1"]
    credentials = Credentials("gloria", None, service.email, service.password)
    if read_only:  # role-403's throwaway accounts cannot be made: a named staff principal
        credentials.principals["staff1"] = Credentials(
            "gloria", None, staff.email, staff.password, role="staff", principal="staff1"
        )
    url = backends.url("gloria")
    session = RunSession(backend.spec, url, credentials)
    session.start()
    context = ScenarioContext(
        "gloria", backend.spec, url, credentials, DEFAULT_NETWORK, session.access_token,
        tmp_path / "journal.jsonl", read_only=read_only, presenter=session.presenter,
    )  # fmt: skip
    verdict, _ = run_scenario(probe, context)
    return verdict


#: defect -> (probe, the rule that must catch it)
CAUGHT = {
    "bola-update": ("bola", "bola-write"),
    "admin-open": ("function_level", "function-level-403"),
}


@pytest.mark.parametrize(
    ("defect", "probe", "rule"),
    [("", "bola", None), ("", "function_level", None),
     *((defect, probe, rule) for defect, (probe, rule) in CAUGHT.items())],
)  # fmt: skip
def test_the_reference_backend_passes_and_each_defect_is_caught_by_its_rule(
    gloria_backends: dict[str, Running], tmp_path: Path, defect: str, probe: str, rule: str | None
) -> None:
    read_only = probe == "function_level"
    verdict = gloria_probe(gloria_backends[defect], tmp_path, probe, read_only=read_only)
    if rule is None:
        assert (verdict.outcome, rules(verdict)) == ("passed", set()), verdict
    else:
        assert (verdict.outcome, rules(verdict)) == ("failed", {rule}), verdict


def test_function_level_leaves_declared_roles_to_role_403_where_it_runs(
    gloria_backends: dict[str, Running], tmp_path: Path
) -> None:
    verdict = gloria_probe(gloria_backends[""], tmp_path, "function_level")
    assert verdict.outcome == "skipped"
    assert "role-403 judges the declared x-roles" in verdict.reason


@pytest.mark.slow
@pytest.mark.parametrize("planted", [False, True], ids=["clean", "bola-notes"])
def test_conformance_run_selects_the_bola_probe_on_the_zoos_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: bool
) -> None:
    """End to end as a user runs it: the zoo's login recipe and its second account (``bob``)."""
    for name, value in VAULT.environment.items():
        monkeypatch.setenv(name, value)
    spec = written(tmp_path, "vault", VAULT.spec)
    config = tmp_path / "conformance.toml"
    with zoo_running(VAULT, planted={"bola-notes"} if planted else False) as served:
        target = f'[targets.vault]\nurl = "{served.url}"\nspec = "{spec}"\n'
        config.write_text(target + VAULT.config, "utf-8")
        before, err = served.app.snapshot(), io.StringIO()
        code = run(
            ["run", "--config", str(config), "--reports",
             str(tmp_path / "r"), "-m", "probe(name='bola')", "-p", "no:cacheprovider"],
            io.StringIO(), err,
        )  # fmt: skip
        assert changed(before, served.app.snapshot()) == {}
    assert (tmp_path / "r" / "verdict.json").exists(), err.getvalue()
    document = json.loads((tmp_path / "r" / "verdict.json").read_text())
    (probe,) = document["scenarios"]
    found = {failure["rule"] for failure in probe["failures"]}
    if planted:
        assert (code, probe["outcome"], found) == (1, "failed", {"bola-write"}), probe
    else:
        assert (code, probe["outcome"], found) == (0, "passed", set()), probe
