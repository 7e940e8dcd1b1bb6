"""Waivers (``waivers.toml``): a failure one in force covers is reported as waived and does not
fail the gate; an expired one fails the gate, naming it; one that matches nothing is stale; a
malformed file is a config error (exit 3), before anything runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.cli import run
from conformance.errors import ConfigError
from conformance.reference import running
from conformance.runner import embedded_settings
from conformance.suite._waivers import WAIVABLE, known_rules, parse_waivers
from tests.suite.helpers import as_service

TODAY = dt.date.today()


def waiver(rule: str, expires: dt.date | str, **where: str) -> str:
    lines = ["[[waiver]]", f'rule = "{rule}"']
    lines += [f'{key} = "{value}"' for key, value in where.items()]
    lines += ['reason = "known; the fix is planned"', 'ticket = "GLO-7"']
    lines.append(f"expires = {expires.isoformat() if isinstance(expires, dt.date) else expires}")
    return "\n".join(lines) + "\n"


def gated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defects: set[str], api: str,
    selection: list[str], waivers: str,
) -> tuple[int, str, str, dict[str, Any]]:  # fmt: skip
    tmp_path.mkdir(parents=True, exist_ok=True)
    file = tmp_path / "waivers.toml"
    file.write_text(waivers)
    settings = dataclasses.replace(embedded_settings(), defects=frozenset(defects))
    with running([api], settings=settings) as backends:
        as_service(monkeypatch, backends, api)
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["run", "--target", f"{api}={backends.url(api)}", "--reports", str(tmp_path / "r"),
             "--waivers", str(file), "-p", "no:cacheprovider", *selection],
            out, err,
        )  # fmt: skip
    document = json.loads((tmp_path / "r" / "verdict.json").read_text())
    return code, out.getvalue(), err.getvalue(), document


CONFLICTS = ["-m", "scenario(name='conflicts')"]


@pytest.mark.slow
def test_a_waiver_in_force_turns_its_failure_into_a_waived_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waivers = waiver("stale-delete-409", TODAY + dt.timedelta(days=30),
                     scenario="conflicts", api="gloria")  # fmt: skip
    code, out, err, document = gated(
        tmp_path, monkeypatch, {"stale-delete-accepted"}, "gloria", CONFLICTS, waivers
    )
    assert code == 0, err
    assert "(1 with every failure waived)" in out
    assert document["verdict"] == "pass"
    (scenario,) = document["scenarios"]
    assert scenario["outcome"] == "waived"
    name = "waiver #1 (stale-delete-409 on gloria scenario conflicts, GLO-7)"
    assert {f["waived"] for f in scenario["failures"]} == {name}
    (in_force,) = document["waivers"]["in_force"]
    assert in_force["used"] is True
    assert document["waivers"]["stale"] == []
    junit = (tmp_path / "r" / "junit.xml").read_text()
    assert f"waived: {name}" in junit


@pytest.mark.slow
def test_an_expired_waiver_fails_the_gate_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waivers = waiver("stale-delete-409", TODAY - dt.timedelta(days=1), scenario="conflicts")
    code, _out, err, document = gated(
        tmp_path, monkeypatch, {"stale-delete-accepted"}, "gloria", CONFLICTS, waivers
    )
    assert code == 1
    assert "waiver #1 (stale-delete-409 on scenario conflicts, GLO-7) expired on" in err
    assert document["verdict"] == "fail"
    assert document["scenarios"][0]["outcome"] == "failed"  # not covered any more
    (expired,) = document["waivers"]["expired"]
    assert expired["expires"] == (TODAY - dt.timedelta(days=1)).isoformat()


@pytest.mark.slow
def test_a_waiver_that_matches_nothing_is_stale_and_an_expired_one_fails_even_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = waiver("one-of-concurrent", TODAY + dt.timedelta(days=3), scenario="conflicts")
    code, out, err, document = gated(tmp_path / "a", monkeypatch, set(), "tchat", CONFLICTS,
                                     stale)  # fmt: skip
    assert code == 0, err
    assert [w["name"] for w in document["waivers"]["stale"]] == [
        "waiver #1 (one-of-concurrent on scenario conflicts, GLO-7)"
    ]
    assert document["waivers"]["in_force"][0]["expiring"] is True  # within 14 days
    assert "(1 waiver matched nothing)" in out
    # the gate fails on an expired waiver even when nothing it covered failed
    old = waiver("one-of-concurrent", TODAY - dt.timedelta(days=1), scenario="conflicts")
    code, _out, err, document = gated(tmp_path / "b", monkeypatch, set(), "tchat", CONFLICTS,
                                      old)  # fmt: skip
    assert code == 1
    assert "expired on" in err
    assert document["verdict"] == "fail"


@pytest.mark.slow
def test_an_operation_waiver_covers_its_rule_on_that_operation_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a missing nosniff header breaks two rules on listSchools: one waiver is not enough
    selection = ["-k", "listSchools", "--profile", "smoke", "--seed", "3"]
    nosniff = waiver("nosniff", TODAY + dt.timedelta(days=30), operation="listSchools")
    code, _out, _err, document = gated(
        tmp_path / "one", monkeypatch, {"nosniff-missing"}, "gloria", selection, nosniff
    )
    assert code == 1
    (operation,) = document["operations"]
    assert operation["outcome"] == "failed"
    waived = {f["check"]: bool(f["waived"]) for f in operation["failures"]}
    assert waived == {"nosniff": True, "response_headers_conformance": False}
    headers = waiver("response_headers_conformance", TODAY, operation="listSchools", api="gloria")
    code, _out, err, document = gated(
        tmp_path / "two", monkeypatch, {"nosniff-missing"}, "gloria", selection,
        nosniff + headers,
    )  # fmt: skip
    assert code == 0, err
    (operation,) = document["operations"]
    assert operation["outcome"] == "waived"
    assert all(f["waived"] for f in operation["failures"])
    assert document["counts"]["waived"] == 1


@pytest.mark.slow
def test_an_exercised_waiver_lets_an_operation_without_a_2xx_pass_and_only_that_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # alone, getSchool reads random ids of a backend whose schools the run did not make: 404s
    selection = ["-k", "getSchool or getHealth", "--profile", "smoke", "--seed", "3"]
    other = waiver("exercised", TODAY + dt.timedelta(days=30), operation="getHealth")
    code, _out, _err, document = gated(tmp_path / "one", monkeypatch, set(), "gloria", selection,
                                       other)  # fmt: skip
    assert code == 1
    outcomes = {o["operation_id"]: o["outcome"] for o in document["operations"]}
    assert outcomes == {"getSchool": "not_exercised", "getHealth": "passed"}
    assert [w["name"] for w in document["waivers"]["stale"]] == [
        "waiver #1 (exercised on getHealth, GLO-7)"
    ]
    mine = waiver("exercised", TODAY + dt.timedelta(days=30), operation="getSchool")
    code, out, err, document = gated(tmp_path / "two", monkeypatch, set(), "gloria", selection,
                                     mine)  # fmt: skip
    assert code == 0, err
    assert "(1 with every failure waived)" in out
    outcomes = {o["operation_id"]: o["outcome"] for o in document["operations"]}
    assert outcomes == {"getSchool": "waived", "getHealth": "passed"}
    assert document["not_exercised"] == []
    junit = (tmp_path / "two" / "r" / "junit.xml").read_text()
    assert "waived: waiver #1 (exercised on getSchool, GLO-7)" in junit


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (waiver("nope", TODAY, operation="getSchool"), "unknown rule 'nope'"),
        (waiver("nosniff", '"2026-13-45"', operation="getSchool"), "expires = '2026-13-45'"),
        (waiver("nosniff", TODAY), "name one operation (its operationId) or one scenario"),
        (
            waiver("nosniff", TODAY, operation="getSchool").replace('ticket = "GLO-7"\n', ""),
            "ticket is missing",
        ),
        ("[[waiver]\nrule =", "not valid TOML"),
    ],
)
def test_a_malformed_waiver_is_a_config_error_before_anything_runs(
    tmp_path: Path, text: str, says: str
) -> None:
    file = tmp_path / "waivers.toml"
    file.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = run(["run", "--target", "gloria=http://127.0.0.1:9", "--waivers", str(file)], out, err)
    assert code == 3
    assert says in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


def entry(rule: str) -> dict[str, Any]:
    return {"rule": rule, "operation": "getSchool", "reason": "known", "ticket": "GLO-7",
            "expires": TODAY}  # fmt: skip


@pytest.mark.parametrize("rule", ["not_a_server_error", "no_leaks", "exercised", "stale-409"])
def test_a_waiver_may_name_any_catalogue_rule_a_run_judges_by(rule: str) -> None:
    (parsed,) = parse_waivers(Path("waivers.toml"), {"waiver": [entry(rule)]}, known_rules())
    assert parsed.rule == rule
    assert set(catalogue.ids(*WAIVABLE)) <= known_rules()


@pytest.mark.parametrize("rule", ["nope", "CT101"])
def test_a_waiver_naming_no_rule_a_run_judges_by_is_refused_in_one_sentence(rule: str) -> None:
    # CT101 is the linter's: a run never fails by it, so there is nothing to waive
    with pytest.raises(ConfigError) as refused:
        parse_waivers(Path("waivers.toml"), {"waiver": [entry(rule)]}, known_rules())
    assert str(refused.value) == (
        f"waivers.toml: waiver #1: unknown rule {rule!r}; name a check (as in verdict.json's"
        " failures) or a scenario rule (as in its failures)"
    )


def test_a_check_a_user_registered_with_schemathesis_may_be_waived() -> None:
    import schemathesis
    from schemathesis.checks import CHECKS

    @schemathesis.check
    def team_budget_header(ctx: Any, response: Any, case: Any) -> None:
        """A team's own check, as `st run` would load it from its hooks."""

    try:
        assert "team_budget_header" in known_rules()
    finally:
        CHECKS.unregister("team_budget_header")
    assert "team_budget_header" not in known_rules()
