"""``conformance selftest``: the matrix judged from each run's exit code and verdict, and the
command for real on a defect it catches and on one it cannot (the run narrowed away from it)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.errors import ExitCode
from conformance.selftest import Job, exit_code, judge

FAILED_DOCUMENT: dict[str, Any] = {
    "operations": [
        {"operation_id": "getUserStats", "label": "GET /users/stats", "outcome": "failed",
         "failures": [{"check": "response_schema_conformance", "waived": ""}]},
        {"operation_id": "getHealth", "label": "GET /auth/health", "outcome": "passed",
         "failures": []},
        {"operation_id": "getSchool", "label": "GET /schools/{id}", "outcome": "not_exercised",
         "failures": []},
    ],
    "scenarios": [
        {"name": "conflicts", "failures": [{"rule": "stale-409", "waived": ""}]},
        {"name": "latency", "failures": [{"rule": "latency-budget", "waived": "GLO-1"}]},
    ],
}  # fmt: skip


def test_a_defect_is_caught_only_by_a_failed_verdict_and_the_matrix_says_by_what() -> None:
    defect, clean = Job("wrong-type", "gloria", "wrong-type"), Job("clean-gloria", "gloria")
    caught = judge(defect, 1, FAILED_DOCUMENT, 12.34)
    assert caught.outcome == "caught"
    assert caught.rules == ["response_schema_conformance", "exercised", "stale-409"]
    assert caught.where == ["GET /users/stats", "GET /schools/{id}", "scenario conflicts"]
    assert caught.seconds == 12.3
    assert judge(defect, 0, {"operations": []}, 1.0).outcome == "missed"
    assert judge(defect, 2, FAILED_DOCUMENT, 1.0).outcome == "broken"  # not a verdict
    assert judge(defect, 1, None, 1.0).outcome == "broken"  # no verdict.json
    assert judge(clean, 0, {"operations": []}, 1.0).outcome == "passed"
    assert judge(clean, 1, FAILED_DOCUMENT, 1.0).outcome == "failed"
    rows = [judge(clean, 0, {}, 1.0), caught]
    assert exit_code(rows) == ExitCode.OK
    assert exit_code([*rows, judge(defect, 0, {}, 1.0)]) == ExitCode.FAILED
    assert exit_code([*rows, judge(defect, 2, None, 1.0)]) == ExitCode.TARGET_BROKEN


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
    # a defect added to the reference backend without a run that catches it fails here
    from conformance.reference import DEFECTS
    from tests.suite.test_run import CAUGHT_BY_FUZZING
    from tests.suite.test_scenarios import CAUGHT

    assert not set(CAUGHT_BY_FUZZING) & set(CAUGHT)
    assert set(CAUGHT_BY_FUZZING) | set(CAUGHT) == {defect.name for defect in DEFECTS}


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
