"""``conformance selftest``: the matrix judged from each run's exit code and verdict, by rule (a
defect is caught only by a failure of one of its own rules: else it is stray or missed), the
defects' rules checked against the catalogue, and the command for real on a defect it catches
and on one it cannot (the run narrowed away from it)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from conformance.cli import run
from conformance.errors import ConformanceError, ExitCode
from conformance.reference import DEFECTS
from conformance.selftest import Job, check_defect_rules, exit_code, jobs, judge, line
from conformance.verdict import (
    Failure,
    LatencyOutcome,
    LatencyRow,
    OperationVerdict,
    Outcome,
    Run,
    ScenarioFailure,
    ScenarioVerdict,
)


def failure(check: str, waived: str = "") -> Failure:
    return Failure(check, check, "", "fuzzing", 500, "curl", waived=waived)


def scenario_failure(rule: str, waived: str = "") -> ScenarioFailure:
    return ScenarioFailure(rule, "", "part", "step", "message", waived=waived)


def run_of(
    operations: list[OperationVerdict] = (),  # type: ignore[assignment]
    scenarios: list[ScenarioVerdict] = (),  # type: ignore[assignment]
) -> Run:
    return Run(list(operations), [], 1, "gate", scenarios=list(scenarios))


OVER_BUDGET = LatencyRow("GET /positions", "getPositions", 200, 40, 40, 0, LatencyOutcome.EXCEEDED)
FAILED_DOCUMENT = run_of(
    [
        OperationVerdict("gloria", "getUserStats", "GET /users/stats", Outcome.FAILED,
                         failures=[failure("response_schema_conformance")]),
        OperationVerdict("gloria", "getHealth", "GET /auth/health", Outcome.PASSED),
        OperationVerdict("gloria", "getSchool", "GET /schools/{id}", Outcome.NOT_EXERCISED),
    ],
    [
        ScenarioVerdict("gloria", "conflicts", Outcome.FAILED,
                        failures=[scenario_failure("stale-409")]),
        ScenarioVerdict("gloria", "latency", Outcome.WAIVED,
                        failures=[scenario_failure("latency-budget", "GLO-1")],
                        latency=[dataclasses.replace(OVER_BUDGET)]),
    ],
)  # fmt: skip


def defect(name: str, *rules: str) -> Job:
    return Job(name, "gloria", name, rules=rules)


def test_a_defect_is_caught_only_by_a_failure_of_its_own_rule_and_the_matrix_says_which() -> None:
    caught = judge(defect("wrong-type", "response_schema_conformance"), 1, FAILED_DOCUMENT, 12.34)
    assert caught.outcome == "caught"
    assert caught.caught_by == ["response_schema_conformance"]
    assert caught.others == ["exercised", "stale-409"]  # the waived latency breach is left out
    assert caught.rules == ["response_schema_conformance", "exercised", "stale-409"]
    assert caught.where == ["GET /users/stats", "GET /schools/{id}", "scenario conflicts"]
    assert caught.seconds == 12.3
    assert "CAUGHT" in line(caught)
    assert "by response_schema_conformance (also exercised, stale-409) on GET /users/stats" in (
        line(caught)
    )
    # one of several rules is enough; a gate failure counts by its rule too
    both = judge(defect("stale-version-accepted", "one-of-concurrent", "stale-409"), 1,
                 FAILED_DOCUMENT, 1.0)  # fmt: skip
    assert (both.outcome, both.caught_by) == ("caught", ["stale-409"])
    gate = judge(defect("unexercised", "exercised"), 1, FAILED_DOCUMENT, 1.0)
    assert (gate.outcome, gate.caught_by) == ("caught", ["exercised"])


def test_a_defect_failed_only_by_other_rules_is_stray_and_fails_the_selftest() -> None:
    stray = judge(defect("stale-delete-accepted", "stale-delete-409"), 1, FAILED_DOCUMENT, 1.0)
    assert stray.outcome == "stray"
    assert not stray.good
    assert stray.caught_by == []
    assert stray.reason == (
        "failed by other rules: response_schema_conformance, exercised, stale-409; none of its"
        " own (stale-delete-409)"
    )
    assert "STRAY" in line(stray)
    assert "failed by other rules: response_schema_conformance" in line(stray)
    clean = judge(Job("clean-gloria", "gloria"), 0, run_of(), 1.0)
    assert exit_code([clean, stray]) == ExitCode.FAILED
    # a failure of its rule that a waiver covers catches nothing, nor does the latency row it
    # waived
    waived = judge(defect("slow-operation", "latency-budget"), 1, FAILED_DOCUMENT, 1.0)
    assert waived.outcome == "stray"
    nothing = judge(defect("slow-operation", "latency-budget"), 1, run_of(), 1.0)
    assert (nothing.outcome, nothing.reason) == (
        "stray",
        "failed, but by no rule (not by its own: latency-budget)",
    )


def test_a_latency_row_over_budget_is_a_failure_of_the_latency_budget() -> None:
    met = LatencyRow("GET /schools", "listSchools", 200, 40, 40, 0, LatencyOutcome.MET)
    latency = [ScenarioVerdict("gloria", "latency", Outcome.FAILED, latency=[OVER_BUDGET, met])]
    document = run_of(scenarios=latency)
    row = judge(defect("slow-operation", "latency-budget"), 1, document, 1.0)
    assert (row.outcome, row.caught_by, row.others) == ("caught", ["latency-budget"], [])


def test_missed_broken_and_clean_runs_are_judged_by_exit_code_and_verdict() -> None:
    wrong_type = defect("wrong-type", "response_schema_conformance")
    clean = Job("clean-gloria", "gloria")
    missed = judge(wrong_type, 0, run_of(), 1.0)
    assert missed.outcome == "missed"
    assert missed.reason == "the verdict passed: no failure of response_schema_conformance"
    assert "MISSED" in line(missed)
    assert judge(wrong_type, 2, FAILED_DOCUMENT, 1.0).outcome == "broken"  # not a verdict
    assert judge(wrong_type, 1, None, 1.0).outcome == "broken"  # no verdict.json
    assert judge(clean, 0, run_of(), 1.0).outcome == "passed"
    failed = judge(clean, 1, FAILED_DOCUMENT, 1.0)
    assert (failed.outcome, failed.others, failed.caught_by) == ("failed", [], [])
    rows = [judge(clean, 0, run_of(), 1.0), judge(wrong_type, 1, FAILED_DOCUMENT, 1.0)]
    assert exit_code(rows) == ExitCode.OK
    assert exit_code([*rows, missed]) == ExitCode.FAILED
    assert exit_code([*rows, judge(wrong_type, 2, None, 1.0)]) == ExitCode.TARGET_BROKEN


def test_every_defect_names_catalogue_rules_and_a_job_carries_them() -> None:
    check_defect_rules(DEFECTS)  # what `conformance selftest` checks before it runs anything
    by_name = {job.name: job for job in jobs(DEFECTS)}
    assert all(by_name[d.name].rules == d.rules for d in DEFECTS)
    assert by_name["clean-gloria"].rules == ()


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        (("response_schema_conformance", "nope"), "the defect 'wrong-type' names 'nope', which"
         " is not a rule of the catalogue (conformance/catalogue.py)"),
        ((), "the defect 'wrong-type' names no rule; list the catalogue's rules that catch it"
         " in its Defect"),
    ],
)  # fmt: skip
def test_a_defect_naming_an_unknown_rule_stops_the_selftest_before_it_runs(
    rules: tuple[str, ...], says: str
) -> None:
    broken = dataclasses.replace(DEFECTS[1], rules=rules)
    with pytest.raises(ConformanceError) as raised:
        check_defect_rules([*DEFECTS, broken])
    assert str(raised.value) == says


@pytest.mark.slow
@pytest.mark.parametrize(
    ("select", "code", "outcome"),
    [("getUserStats or getHealth", 0, "caught"), ("getHealth", 1, "missed")],
    ids=["caught", "missed"],
)
def test_selftest_runs_clean_and_defective_backends_and_writes_the_matrix(
    tmp_path: Path, select: str, code: int, outcome: str
) -> None:
    # the smoke profile and two operations keep it short (the command is the same); without
    # getUserStats, the operation it breaks, the suite cannot catch wrong-type
    out, err = io.StringIO(), io.StringIO()
    got = run(
        ["selftest", "--defect", "wrong-type", "--reports", str(tmp_path), "--profile", "smoke",
         "-k", select],
        out, err,
    )  # fmt: skip
    assert got == code, (out.getvalue(), err.getvalue())
    document = json.loads((tmp_path / "selftest.json").read_text())
    assert document["schema"] == "conformance-selftest/1"
    rows = {row["name"]: row for row in document["rows"]}
    assert set(rows) == {"clean-gloria", "wrong-type"}
    assert rows["clean-gloria"]["outcome"] == "passed"
    assert rows["wrong-type"]["outcome"] == outcome
    assert rows["wrong-type"]["breaks"] == "§1 a 2xx body matches its schema"
    assert document["ok"] is (code == 0)
    printed = out.getvalue()
    if outcome == "caught":
        assert rows["wrong-type"]["rules"] == ["response_schema_conformance"]
        assert rows["wrong-type"]["caught_by"] == ["response_schema_conformance"]
        assert rows["wrong-type"]["expected"] == ["response_schema_conformance"]
        assert rows["wrong-type"]["where"] == ["GET /users/stats"]
        assert "wrong-type" in printed
        assert "CAUGHT" in printed
        assert "1 of 1 defect runs caught" in printed
    else:
        assert "MISSED" in printed
        assert err.getvalue().startswith("selftest: FAIL: wrong-type did not come out")
    # each run's own reports, and the matrix as Allure results
    assert (tmp_path / "selftest" / "wrong-type" / "verdict.json").is_file()
    results = [
        json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")
    ]
    statuses = {r["name"]: r["status"] for r in results}
    assert statuses == {
        "gloria clean: passes": "passed",
        "wrong-type: caught": "passed" if outcome == "caught" else "failed",
    }


def test_make_test_proves_every_defect_caught_by_the_suite() -> None:
    # make test runs these two tables: fuzzing's (test_run) and the scenarios' (test_scenarios);
    # a defect added to the reference backend without a run that catches it fails here, and so
    # does one they prove caught by a rule that is not its own
    # and the security probes' (the access probes' apart: they need a second account)
    from tests.suite import test_probe_defects, test_probes_access
    from tests.suite.test_run import CAUGHT_BY_FUZZING
    from tests.suite.test_scenarios import CAUGHT

    probed = {
        **{name: row[1] for name, row in test_probes_access.CAUGHT.items()},
        **{name: row[2] for name, row in test_probe_defects.CAUGHT.items()},
    }
    assert not set(CAUGHT_BY_FUZZING) & set(CAUGHT)
    # a probe may prove a defect a scenario catches too (alg-none-accepted: bad-token-401 and
    # forged-token-401)
    assert set(CAUGHT_BY_FUZZING) | set(CAUGHT) | set(probed) == {d.name for d in DEFECTS}
    rules = {defect.name: defect.rules for defect in DEFECTS}
    assert {
        name: row[3] for name, row in CAUGHT_BY_FUZZING.items() if row[3] not in rules[name]
    } == {}
    assert {name: row[2] for name, row in CAUGHT.items() if row[2] not in rules[name]} == {}
    assert {name: rule for name, rule in probed.items() if rule not in rules[name]} == {}


@pytest.mark.slow
def test_repeated_runs_take_a_seed_each_and_count_the_flakes(tmp_path: Path) -> None:
    # wrong-type narrowed away from the operation it breaks: missed on every seed, which the
    # soak counts as flakes (a defect run that is not caught), with the seeds that showed them
    out, err = io.StringIO(), io.StringIO()
    got = run(
        ["selftest", "--defect", "wrong-type", "--repeat", "2", "--seed", "7",
         "--reports", str(tmp_path), "--profile", "smoke", "-k", "getHealth"],
        out, err,
    )  # fmt: skip
    assert got == 1, (out.getvalue(), err.getvalue())
    document = json.loads((tmp_path / "soak.json").read_text())
    assert document["repeat"] == 2
    assert sorted((row["run_id"], row["seed"]) for row in document["rows"]) == [
        ("clean-gloria", 7), ("clean-gloria.2", 8), ("wrong-type", 7), ("wrong-type.2", 8),
    ]  # fmt: skip
    flakes = document["flakes"]
    assert (flakes["runs"], flakes["bad"], flakes["flake_rate"]) == (4, 2, 0.5)
    by_name = {entry["name"]: entry for entry in flakes["jobs"]}
    assert by_name["clean-gloria"]["good"] == 2
    assert by_name["wrong-type"]["outcomes"] == {"missed": 2}
    assert by_name["wrong-type"]["bad_seeds"] == [7, 8]
    assert "a flake rate of 50.0%" in out.getvalue()
    assert (tmp_path / "selftest" / "wrong-type.2" / "verdict.json").is_file()
