"""The scenarios end to end: each fails on each reference defect of its rules (with a message
naming the rule and the step), and the clean backend passes them (`test_run`'s clean run has
every scenario of both APIs). Also: skips with their reasons, the scenarios' bounds, secrets."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.contract import load_spec
from conformance.masking import registered_forms
from conformance.reference import Running, running
from conformance.runner import embedded_settings
from conformance.suite._engine import DEFAULT_NETWORK
from conformance.suite._guard import Journal
from conformance.suite.scenarios import RULES
from conformance.suite.scenarios._accounts import Accounts, value_for
from conformance.suite.scenarios._latency import ENOUGH, percentile
from conformance.suite.scenarios._story import Story
from tests.suite.helpers import as_service, deletable_kinds

#: defect -> (api, scenario, the rule its failure must name, a step or operation it must name)
CAUGHT = {
    "refresh-not-rotated": ("gloria", "auth_refresh", "refresh-rotates", "a refresh returns"),
    "refresh-reuse-undetected": (
        "tchat", "auth_refresh", "reuse-revokes-family", "the reuse revoked the whole family",
    ),
    "logout-not-revoking": ("gloria", "auth_refresh", "logout-revokes", "after logout"),
    "expired-token-accepted": ("gloria", "auth_refresh", "expired-401", "an expired access"),
    "alg-none-accepted": ("tchat", "auth_refresh", "bad-token-401", "alg none"),
    "www-authenticate-missing": ("tchat", "auth_refresh", "www-authenticate", "401"),
    "no-store-missing": ("gloria", "auth_refresh", "no-store", "login returns a token pair"),
    "rate-limit-before-auth": (
        "gloria", "rate_limits", "auth-before-limit", "bad credentials are 401",
    ),
    "rate-limit-not-enforced": ("tchat", "rate_limits", "limit-enforced", "is 429"),
    "global-rate-limit": ("gloria", "rate_limits", "per-principal", "another principal"),
    "retry-after-missing": ("tchat", "rate_limits", "rate-limited-answer", "when to retry"),
    "remaining-rises": ("gloria", "rate_limits", "remaining-monotonic", "Remaining never rises"),
    "stale-version-accepted": ("gloria", "conflicts", "stale-409", "School"),
    "partial-write-on-reject": ("gloria", "rollback", "rejected-unchanged", "Department"),
    "create-truncates": ("tchat", "rollback", "converges", "title"),
    "etag-not-version": ("tchat", "rollback", "etag-version", "ContentItem"),
    "duplicate-accepted": ("gloria", "conflicts", "duplicate-409", "School"),
    "stale-delete-accepted": ("gloria", "conflicts", "stale-delete-409", "Position"),
    "deleted-still-readable": ("gloria", "conflicts", "deleted-404", "Position"),
    "bulk-stale-applied": ("tchat", "rollback", "bulk-per-item", "ContentItem"),
    "private-resource-visible": ("gloria", "authorisation", "private-404", "Notification"),
    "role-not-enforced": ("gloria", "authorisation", "role-403", "deleteSchool"),
    "slow-operation": ("gloria", "latency", "latency-budget", "GET /positions"),
    "slow-tail": ("tchat", "latency", "latency-budget", "GET /content/items"),
}  # fmt: skip


def scenario_run(
    backends: Running, api: str, scenario: str, reports: Path, *extra: str
) -> tuple[int, str, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["run", "--target", f"{api}={backends.url(api)}", "--reports", str(reports),
         "-m", f"scenario(name='{scenario}')", "-p", "no:cacheprovider", *extra],
        out, err,
    )  # fmt: skip
    document = json.loads((reports / "verdict.json").read_text())
    return code, err.getvalue(), document


def throwaway_accounts(backends: Running, api: str) -> list[str]:
    """The accounts a scenario made (``conformance-…@example.com``) still in the database."""
    store = backends.backend(api).app.store
    found = store._connection().execute(  # the test reads the database under the API
        "SELECT kind || ' ' || id FROM resources WHERE api = ? AND data LIKE ?",
        (api, '%"conformance-%'),
    )
    deletable = deletable_kinds(api)  # the audit log keeps its entries on them, rightly
    return [row[0] for row in found.fetchall() if row[0].split()[0] in deletable]


def the_scenario(document: dict[str, Any], api: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        s for s in document["scenarios"] if (s["api"], s["name"]) == (api, name)
    )
    return found


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(CAUGHT))
def test_a_defect_fails_its_scenario_naming_the_rule_and_the_step(
    defect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, scenario, rule, where = CAUGHT[defect]
    settings = dataclasses.replace(embedded_settings(), defects=frozenset({defect}))
    with running([api], settings=settings) as broken:
        as_service(monkeypatch, broken, api)
        code, err, document = scenario_run(broken, api, scenario, tmp_path)
        left = throwaway_accounts(broken, api)
    found = the_scenario(document, api, scenario)
    assert left == [], "the scenario left its throwaway accounts behind"
    assert not (tmp_path / "journal" / f"{api}.jsonl").exists()
    assert code == 1, (err, found)
    assert document["verdict"] == "fail"
    assert found["outcome"] == "failed", found
    failures = [f for f in found["failures"] if f["rule"] == rule]
    assert failures, [f["rule"] for f in found["failures"]]
    assert any(where in f"{f['step']} {f['message']}" for f in failures), failures
    assert all(f["contract"] == RULES[f["rule"]] for f in found["failures"])
    assert f"scenario {api} {scenario} failed ({rule}" in err or rule in err, err
    # the failure names its step in junit.xml too
    junit = (tmp_path / "junit.xml").read_text()
    assert f'classname="{api}.scenario.{scenario}"' in junit
    assert f"[{rule}]" in junit


@pytest.mark.slow
def test_the_latency_table_reports_percentiles_and_never_passes_too_few_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(["tchat"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "tchat")
        code, err, document = scenario_run(backends, "tchat", "latency", tmp_path)
    assert code == 0, err
    rows = {row["operation_id"]: row for row in document["latency"]}
    measured = rows["getContentItems"]
    assert measured["outcome"] == "met"
    assert measured["samples"] >= ENOUGH
    assert measured["p50_ms"] <= measured["p95_ms"] <= measured["p99_ms"] <= measured["max_ms"]
    # a write the latency scenario does not send itself: no samples, so not measured
    assert rows["createContentItem"]["outcome"] == "not_measured"
    assert rows["createContentItem"]["samples"] < ENOUGH


def test_nearest_rank_percentiles() -> None:
    values = sorted(float(n) for n in range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.95) == 7


def test_an_answer_keeps_what_was_sent_when_it_only_adds_to_it() -> None:
    from conformance.suite.scenarios._makers import unkept

    sent = {"title": "A long title", "steps": [{"name": "a"}], "tags": ["x"]}
    # the server fills in members (an order in each step, an id): the client's view holds
    answered = {**sent, "id": "1", "steps": [{"name": "a", "order": 1}]}
    assert unkept(sent, answered) == []
    assert unkept(sent, {**answered, "title": "A long"}) == ["title: 'A long title' -> 'A long'"]
    assert unkept(sent, {**answered, "tags": []}) == ["tags: ['x'] -> []"]
    assert unkept(sent, {**answered, "steps": [{"name": "b", "order": 1}]}) != []
    assert unkept(sent, {"id": "1"}) == [
        "steps: [{'name': 'a'}] -> None", "tags: ['x'] -> None", "title: 'A long title' -> None",
    ]  # fmt: skip


def test_values_for_unique_keys_match_their_pattern_and_do_not_repeat() -> None:
    # the makers fill x-unique keys with these: a repeat is a 409 DUPLICATE that skips a part
    # (CI once saw three School npsn or FeatureFlag key draws in a row collide)
    spec = load_spec(Path("specs/gloria.openapi.yaml"))
    for name in ("Npsn", "OrgCode", "FeatureFlagKey"):
        schema, _ = spec.resolve({"$ref": f"#/components/schemas/{name}"})
        drawn = [value_for(spec, schema, "key") for _ in range(300)]
        assert all(re.fullmatch(schema["pattern"], value) for value in drawn), name
        assert len(set(drawn)) == len(drawn), name


@pytest.mark.slow
def test_the_scenarios_stories_keep_no_secret_and_attach_steps_to_allure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allure = tmp_path / "allure"
    with running(["tchat"], settings=embedded_settings()) as backends:
        service = as_service(monkeypatch, backends, "tchat")
        code, err, _document = scenario_run(
            backends, "tchat", "auth_refresh", tmp_path / "reports", "--alluredir", str(allure)
        )
    assert code == 0, err
    written = "".join(path.read_text(errors="replace") for path in allure.rglob("*"))
    written += "".join(p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file())
    # every step is an allure step with its request and response attached
    results = [json.loads(p.read_text()) for p in allure.glob("*-result.json")]
    (result,) = [r for r in results if "auth_refresh" in r["name"]]
    steps = [step for part in result["steps"] for step in part.get("steps", [])]
    assert len(steps) >= 15
    assert all(step.get("attachments") for step in steps if "make" not in step["name"]), steps
    assert "Bearer ey" not in written
    for secret in registered_forms([service.password]):
        assert secret not in written
    assert "[masked]" in written  # the attachments had tokens to mask


@pytest.mark.slow
def test_a_third_party_spec_without_declarations_skips_the_scenarios_with_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from conformance.contract import bundled_spec

    document = yaml.safe_load(bundled_spec("tchat").read_text())
    for key in ("x-auth-flow", "x-rate-limit", "x-latency-budget-ms", "x-roles"):
        document.pop(key)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for key in ("x-roles", "x-latency-budget-ms", "x-rate-limit"):
                    operation.pop(key, None)
    spec = tmp_path / "tchat.yaml"  # the API is named after the file
    spec.write_text(yaml.safe_dump(document))
    with running(["tchat"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "tchat")
        monkeypatch.setenv("CONFORMANCE_TCHAT_TOKEN", "not-needed-for-skips")
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["run", "--target", backends.url("tchat"), "--spec", str(spec),
             "--reports", str(tmp_path / "r"), "-m", "scenario", "-p", "no:cacheprovider"],
            out, err,
        )  # fmt: skip
    assert (tmp_path / "r" / "verdict.json").is_file(), (out.getvalue()[-2000:], err.getvalue())
    verdict = json.loads((tmp_path / "r" / "verdict.json").read_text())
    reasons = {s["name"]: (s["outcome"], s["reason"]) for s in verdict["scenarios"]}
    assert reasons["auth_refresh"] == ("skipped", reasons["auth_refresh"][1])
    assert "x-auth-flow" in reasons["auth_refresh"][1]
    assert "x-rate-limit" in reasons["rate_limits"][1] or "x-auth-flow" in reasons["rate_limits"][1]
    assert "x-latency-budget-ms" in reasons["latency"][1]
    assert "x-roles" in reasons["authorisation"][1]
    # the data scenarios need no root declaration, but nothing can be made with a refused token:
    # every step skipped is a skipped scenario, not a pass
    assert "every step skipped: no ContentCategory to refer to" in reasons["rollback"][1]
    assert all(outcome == "skipped" for outcome, _ in reasons.values())
    # a selection that tested nothing earns no verdict: one sentence with the reasons, exit 3
    assert code == 3, err.getvalue()
    assert err.getvalue().startswith("conformance: nothing was tested: the 0 operations and 6")


def test_throwaway_accounts_say_why_they_cannot_be_made(tmp_path: Path) -> None:
    from conformance.contract import bundled_spec

    spec = load_spec(bundled_spec("tchat"))
    flow = spec.declarations.auth_flow
    assert flow is not None
    assert flow.accounts is not None
    story = Story("tchat", "rate_limits", spec, "http://127.0.0.1:9", DEFAULT_NETWORK,
                  max_requests=1, max_seconds=1.0)  # fmt: skip
    journal = Journal(tmp_path / "journal.jsonl")
    assert Accounts(story, flow, "a-token", journal).cannot_make is None
    # the spec declares the step: without a token of the run's own that is no missing declaration
    tokenless = Accounts(story, flow, None, journal).cannot_make
    assert tokenless is not None
    assert not tokenless.missing_declaration
    assert "no token of its own" in tokenless.reason
    undeclared = Accounts(story, dataclasses.replace(flow, accounts=None), "a-token", journal)
    assert undeclared.cannot_make is not None
    assert undeclared.cannot_make.missing_declaration
    assert "declares no x-auth-flow accounts step" in undeclared.cannot_make.reason


@pytest.mark.slow
def test_a_switched_off_scenario_is_skipped_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conformance.toml"
    config.write_text("[scenarios]\nauth_refresh = false\nrate_limits = false\n")
    with running(["tchat"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "tchat")
        code, err, document = scenario_run(
            backends, "tchat", "auth_refresh", tmp_path / "r", "--config", str(config)
        )
    found = the_scenario(document, "tchat", "auth_refresh")
    assert (found["outcome"], found["reason"]) == (
        "skipped", "switched off ([scenarios] auth_refresh = false)",
    )  # fmt: skip
    assert found["requests"] == 0
    assert code == 3, err  # it was the whole selection: nothing was tested
    assert "switched off ([scenarios] auth_refresh = false)" in err


@pytest.mark.slow
def test_long_lived_tokens_take_an_expired_one_from_the_environment_or_skip_that_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import httpx

    from conformance.reference import Settings
    from conformance.runner import EMBEDDED_RATE_LIMITS

    # a real target's tokens: they live 15 minutes, far beyond a 2-second max_wait_s
    config = tmp_path / "conformance.toml"
    config.write_text("[scenarios]\nmax_wait_s = 2\n")
    settings = Settings(rate_limits=EMBEDDED_RATE_LIMITS, token_lifetimes={"principal:staff1": 1})
    with running(["tchat"], settings=settings) as backends:
        as_service(monkeypatch, backends, "tchat")
        code, err, document = scenario_run(
            backends, "tchat", "auth_refresh", tmp_path / "skipped", "--config", str(config)
        )
        skipped = the_scenario(document, "tchat", "auth_refresh")
        staff = backends.backend("tchat").credentials["staff1"]
        answer = httpx.post(
            f"{backends.url('tchat')}/auth/login",
            json={"email": staff.email, "password": staff.password},
        )
        time.sleep(2.2)  # staff1's tokens live a second
        monkeypatch.setenv(
            "CONFORMANCE_TCHAT_EXPIRED_TOKEN", answer.json()["tokens"]["accessToken"]
        )
        code_given, err_given, document = scenario_run(
            backends, "tchat", "auth_refresh", tmp_path / "given", "--config", str(config)
        )
        given = the_scenario(document, "tchat", "auth_refresh")
    assert code == 0, err
    assert skipped["outcome"] == "passed"
    (step,) = [s for s in skipped["steps"] if s["outcome"] == "skipped"]
    assert step["part"] == "expiry"
    assert "more than the 2 s this scenario waits" in step["detail"]
    assert "CONFORMANCE_TCHAT_EXPIRED_TOKEN" in step["detail"]
    assert skipped["seconds"] < 30  # never waited for a 15-minute token
    assert code_given == 0, err_given
    expiry = [s for s in given["steps"] if s["part"] == "expiry"]
    assert [s["outcome"] for s in expiry] == ["passed", "passed"], expiry
