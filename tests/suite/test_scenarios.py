"""The scenarios end to end: each fails on a reference defect of its rules (with a message
naming the rule and the step; one defect per scenario here, every one in `make selftest`), and
the clean backend passes them (`test_run`'s clean run has every scenario of both APIs). Also:
skips with their reasons, the scenarios' bounds, secrets."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.cli import run
from conformance.contract import load_spec
from conformance.masking import registered_forms
from conformance.reference import DEFECTS, Running, running
from conformance.runner import embedded_settings
from conformance.suite._engine import DEFAULT_NETWORK
from conformance.suite._journal import Journal
from conformance.suite._unique import value_for
from conformance.suite.scenarios import RULES
from conformance.suite.scenarios._accounts import Accounts
from conformance.suite.scenarios._judge import RESPONSE_CHECKS
from conformance.suite.scenarios._latency import ENOUGH, percentile
from conformance.suite.scenarios._story import Exhausted, Late, Story
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
    # a write no read measures: the latency scenario makes schools and deletes them (issue 21)
    "slow-delete": ("gloria", "latency", "latency-budget", "DELETE /schools/{id}"),
    # lists across requests (issue 26)
    "ghost-after-delete": ("gloria", "collections", "deleted-unlisted", "Position"),
    "overlapping-page": ("gloria", "collections", "pages-partition", "Position"),
    "sorted-per-page": ("gloria", "collections", "pages-partition", "sorted by"),
    "list-item-differs": ("gloria", "collections", "listed-as-read", "isActive"),
    "filter-ignored": ("gloria", "collections", "filter-holds", "departmentId"),
    "unfiltered-total": ("gloria", "collections", "filter-holds", "total"),
}  # fmt: skip
#: the defects `make test` runs, one per scenario (the quickest to catch); every defect above is
#: caught by its rule in `make selftest`'s matrix (`conformance selftest`), whose rules hold the
#: one named here (`test_each_defect_here_is_one_its_selftest_row_counts`)
IN_MAKE_TEST = (
    "no-store-missing", "global-rate-limit", "duplicate-accepted", "partial-write-on-reject",
    "private-resource-visible", "slow-tail", "ghost-after-delete",
)  # fmt: skip


def test_each_defect_here_is_one_its_selftest_row_counts() -> None:
    """The defects left to `make selftest` are proven there by the same rule: each one's rule
    here is among the rules its row counts, and every scenario has a defect in `make test`."""
    by_name = {defect.name: defect for defect in DEFECTS}
    for defect, (api, _scenario, rule, _where) in CAUGHT.items():
        assert by_name[defect].api == api, defect
        assert rule in by_name[defect].rules, (defect, rule, by_name[defect].rules)
    assert {CAUGHT[d][1] for d in IN_MAKE_TEST} == {c[1] for c in CAUGHT.values()}


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
@pytest.mark.parametrize("defect", IN_MAKE_TEST)
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
    # a scenario's own rules carry the contract's words; the rest are the fuzzing's checks
    # run on the scenario's answers (`_judge`)
    assert all(
        f["contract"] == RULES[f["rule"]] if f["rule"] in RULES else f["rule"] in RESPONSE_CHECKS
        for f in found["failures"]
    ), found["failures"]
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
    # a read that needs a value a link names (the category of getContentCategories' answer),
    # and one with a required query parameter (lastSyncTimestamp)
    for operation_id in ("getContentByCategory", "syncContent", "getContentVersions"):
        assert rows[operation_id]["outcome"] == "met", rows[operation_id]
    # the writes, on throwaway accounts made for them (login within each one's window)
    for operation_id in ("createUser", "deleteUser", "login", "refreshTokens", "logout"):
        assert rows[operation_id]["outcome"] == "met", rows[operation_id]
        assert rows[operation_id]["samples"] >= ENOUGH
    # a write the latency scenario does not send: no samples, so not measured, saying why
    assert rows["createContentItem"]["outcome"] == "not_measured"
    assert rows["createContentItem"]["samples"] < ENOUGH
    assert "cannot delete a ContentItem" in rows["createContentItem"]["reason"]
    assert all(row["reason"] for row in rows.values() if row["outcome"] == "not_measured")


@pytest.mark.slow
def test_the_latency_scenario_times_the_writes_on_what_it_makes_and_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(["gloria"], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, "gloria")
        store = backends.backend("gloria").app.store
        count = "SELECT kind, COUNT(*) FROM resources WHERE api = 'gloria' GROUP BY kind"
        before = dict(store._connection().execute(count).fetchall())  # the database itself
        code, err, document = scenario_run(backends, "gloria", "latency", tmp_path)
        after = dict(store._connection().execute(count).fetchall())
        left = throwaway_accounts(backends, "gloria")
    assert code == 0, err
    rows = {row["operation_id"]: row for row in document["latency"]}
    # creates, changes (If-Match, x-transitions moves on fresh instances) and deletes, each
    # measured on resources of the scenario's own; login, refresh and logout with throwaway
    # accounts
    for operation_id in (
        "createSchool", "updateSchool", "deleteSchool", "updateWorkflowInstance",
        "createUser", "updateUser", "deleteUser", "login", "refreshToken", "logout",
    ):  # fmt: skip
        assert rows[operation_id]["outcome"] == "met", rows[operation_id]
        assert rows[operation_id]["samples"] >= ENOUGH
    short = {k: row["reason"] for k, row in rows.items() if row["outcome"] == "not_measured"}
    assert set(short) == {"updateSystemConfig", "updateNotificationPreferences"}, short
    assert all("singleton" in reason for reason in short.values())
    # everything made is gone again: as many of each kind the spec can delete as before
    assert left == []
    made = deletable_kinds("gloria")
    assert {k: n for k, n in after.items() if k in made} == {
        k: n for k, n in before.items() if k in made
    }
    assert not (tmp_path / "journal" / "gloria.jsonl").exists()
    (scenario,) = document["scenarios"]
    assert scenario["outcome"] == "passed", scenario


def test_throwaway_sessions_leave_a_window_shared_with_the_run_alone() -> None:
    # Gloria's refresh is public, counted per client address like the run's own session's
    # refreshes; its login is counted per client and account (each throwaway account's own);
    # Tchat's refresh is the refresh token's principal's
    from conformance.suite.scenarios._exercise import RESERVE, Exerciser, shared_window

    gloria = load_spec(Path("specs/gloria.openapi.yaml"))
    tchat = load_spec(Path("specs/tchat.openapi.yaml"))
    refresh, login = gloria.operation("refreshToken"), gloria.operation("login")
    bearer = tchat.operation("refreshTokens")
    assert refresh is not None
    assert login is not None
    assert bearer is not None
    assert shared_window(refresh)
    assert not shared_window(login)
    assert not shared_window(bearer)
    low: dict[str, str] = {}
    for left, operation in ((RESERVE + 1, refresh), (0, login)):
        answer = httpx.Response(200, headers={"X-RateLimit-Remaining": str(left)})
        Exerciser._low(operation, answer, low)
    assert low == {}
    Exerciser._low(refresh, httpx.Response(200, headers={"X-RateLimit-Remaining": "5"}), low)
    assert "stopped with 5 requests left in its window, for the run" in low["refreshToken"]


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
    assert "[masked: " in written  # the attachments had tokens to mask


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
        service = as_service(monkeypatch, backends, "tchat")
        # a token the API lets in (the run's preflight stops one it refuses, before any
        # scenario): without the x-auth-flow the run cannot log in itself
        from conformance.suite._auth import Credentials, login

        own = Credentials("tchat", username=service.email, password=service.password)
        token = login(load_spec(bundled_spec("tchat")), backends.url("tchat"), own)
        monkeypatch.setenv("CONFORMANCE_TCHAT_TOKEN", token)
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
    # the data scenarios need no root declaration: with a token the API lets in, they run
    assert (reasons["rollback"][0], reasons["conflicts"][0]) == ("passed", "passed"), reasons
    assert code == 0, err.getvalue()


def test_a_part_whose_answers_come_late_is_played_again_and_then_is_an_error() -> None:
    from conformance.contract import bundled_spec

    spec = load_spec(bundled_spec("tchat"))
    story = Story("tchat", "auth_refresh", spec, "http://127.0.0.1:9", DEFAULT_NETWORK,
                  max_requests=1, max_seconds=1.0)  # fmt: skip
    plays: list[int] = []

    def part(late: int) -> None:
        plays.append(len(plays))
        with story.step("a claim"):
            pass
        if len(plays) <= late:
            raise Late("the token may have expired")

    story.play("twice late", lambda: part(2))
    assert len(plays) == 3
    assert [(s.part, s.title, s.outcome) for s in story.steps] == [
        ("twice late", "a claim", "passed")
    ]  # the late plays' steps are forgotten
    plays.clear()
    with pytest.raises(Exhausted, match=r"the always late part was played 3 times .* expired"):
        story.play("always late", lambda: part(99))
    assert len(plays) == 3
    assert len(story.steps) == 1
    story.close()


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
def test_tokens_that_expire_before_a_claim_is_answered_make_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 for a token that may have expired by its own lifetime proves no revocation (a slow
    machine or target): the part is played again, and when every play is late the scenario is
    an error saying so, never a pass and never a failure."""
    from conformance.reference import Settings
    from conformance.runner import EMBEDDED_RATE_LIMITS

    # staff tokens live a second: no answer about one is surely in time (exp in whole seconds)
    settings = Settings(rate_limits=EMBEDDED_RATE_LIMITS, token_lifetimes={"role:staff": 1})
    with running(["tchat"], settings=settings) as backends:
        as_service(monkeypatch, backends, "tchat")
        code, err, document = scenario_run(backends, "tchat", "auth_refresh", tmp_path)
        left = throwaway_accounts(backends, "tchat")
    found = the_scenario(document, "tchat", "auth_refresh")
    assert code == 2, err
    assert found["outcome"] == "error", found
    assert "the rotation and reuse part was played 3 times" in found["reason"]
    assert "after the token was asked for; it lives 1 s" in found["reason"]
    assert found["failures"] == []
    assert [s for s in found["steps"] if s["part"] == "rotation and reuse"] == []  # forgotten
    assert left == []


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


def test_a_play_whose_every_claim_was_skipped_is_skipped_not_passed() -> None:
    from conformance.contract import bundled_spec
    from conformance.suite.scenarios import told
    from conformance.verdict import StepRecord

    spec = load_spec(bundled_spec("tchat"))
    story = Story("tchat", "rollback", spec, "http://127.0.0.1:9", DEFAULT_NETWORK,
                  max_requests=1, max_seconds=1.0)  # fmt: skip
    story.steps += [
        StepRecord("setup", "log in", "passed"),
        StepRecord("an update", "a rejected update changes nothing", "skipped",
                   "no ContentCategory to refer to"),
        StepRecord("an update", "a stale version is 409", "skipped", "no ContentCategory"),
    ]  # fmt: skip
    skipped = told("tchat", "rollback", None, "", story)
    assert (skipped.outcome, skipped.reason) == (
        "skipped", "every step skipped: no ContentCategory to refer to"
    )  # fmt: skip
    story.steps[2] = StepRecord("an update", "a stale version is 409", "passed")
    assert told("tchat", "rollback", None, "", story).outcome == "passed"
    story.close()


def test_a_warning_is_reported_and_never_fails_and_a_finding_names_its_owasp_category() -> None:
    from conformance.contract import bundled_spec
    from conformance.suite.scenarios import told
    from conformance.verdict import Run, ScenarioVerdict

    spec = load_spec(bundled_spec("tchat"))
    story = Story("tchat", "consumption", spec, "http://127.0.0.1:9", DEFAULT_NETWORK,
                  max_requests=1, max_seconds=1.0)  # fmt: skip
    with story.part("slow"), story.step("a long input"):
        story.check(False, "slow-input", "12 s against 0.1 s")
    warned = told("tchat", "consumption", None, "", story)
    assert warned.outcome == "passed"
    assert warned.failures == []
    assert [w.rule for w in warned.warnings] == ["slow-input"]
    assert warned.warnings[0].owasp == "API4:2023 Unrestricted Resource Consumption"
    assert Run([], [], 1, "gate", scenarios=[warned]).verdict == "pass"
    with story.part("exposure"), story.step("a read"):
        story.check(False, "secret-exposed", "passwordHash in GET /users/me")
    failed = told("tchat", "consumption", None, "", story)
    assert failed.outcome == "failed"
    assert [f.rule for f in failed.failures] == ["secret-exposed"]
    story.close()
    failed.kind = "probe"
    run = Run([], [], 1, "gate", scenarios=[failed])
    document = run.as_json()
    (probe,) = document["scenarios"]
    assert probe["kind"] == "probe"
    assert probe["warnings"][0]["rule"] == "slow-input"
    assert probe["failures"][0]["owasp"] == "API3:2023 Broken Object Property Level Authorization"
    assert document["counts"]["by_owasp"] == {
        "API3:2023 Broken Object Property Level Authorization": 1,
        "API4:2023 Unrestricted Resource Consumption": 1,
    }
    assert document["counts"]["probes"]["failed"] == 1
    assert document["counts"]["warnings"] == 1
    assert ScenarioVerdict.from_json(probe) == failed  # read back as written
    assert run.verdict == "fail"  # by the failure; the warning alone did not fail it
    # the summary: the probes counted apart, each finding under its OWASP category, the warning
    # marked as one that never fails the gate
    from conformance.reporting import terminal_lines

    text = "\n".join(terminal_lines(run))
    (probes_row,) = [line.split() for line in text.splitlines() if "security probes  " in line]
    assert probes_row[2:] == ["0", "1", "0", "—", "0", "0", "1"]  # passed, failed … total
    security = text[text.index("security (owasp api top 10):") :]
    assert "API3:2023 Broken Object Property Level Authorization" in security
    (warning_row,) = [line for line in security.splitlines() if "slow-input" in line]
    assert "warning" in warning_row
    assert "API4:2023" in warning_row
    assert "1 security probe failed (tchat consumption): secret-exposed" in text
