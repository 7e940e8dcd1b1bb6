"""The scenario registry is the one list of scenarios: README's table, the example config's
switches and the modules that register a scenario are held to it, and it decides the dispatch
(guards, read-only runs, budgets) without a request sent."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from conformance.contract import load_spec
from conformance.suite import Credentials
from conformance.suite._engine import DEFAULT_NETWORK
from conformance.suite.scenarios import (
    DATA,
    MAX_WAIT_S,
    NAMES,
    PROBES,
    ScenarioContext,
    registered,
    run_scenario,
    scenario,
)
from conformance.suite.scenarios._registry import lookup

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "conformance" / "suite" / "scenarios"
PETSTORE = ROOT / "tests" / "fixtures" / "specs" / "petstore.yaml"


def readme_table(header: str = "| scenario | what it checks | needs |") -> list[tuple[str, str]]:
    """(scenario, needs) for each row of README's scenarios table (or the one under
    ``header``), in its order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert header in text
    rows = []
    for line in text[text.index(header) :].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows.append((cells[0].strip("`"), cells[-1]))
    return rows


def test_the_readme_table_lists_exactly_the_registered_scenarios() -> None:
    assert readme_table() == [(entry.name, entry.requires) for entry in registered()]


def test_the_readme_table_lists_exactly_the_registered_probes() -> None:
    probes = readme_table("| probe | OWASP | what it checks (rules) | needs |")
    assert probes == [(entry.name, entry.requires) for entry in registered("probe")]


def test_the_example_config_switches_every_registered_probe() -> None:
    example = tomllib.loads((ROOT / "conformance.example.toml").read_text(encoding="utf-8"))
    assert list(example["probes"]) == list(PROBES)
    assert all(example["probes"].values())


def test_every_module_that_declares_a_probe_is_registered() -> None:
    # a probe module the probes package forgets to import would never run
    declaring = set()
    for path in (PACKAGE.parent / "probes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    called = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if getattr(called, "id", None) == "scenario":
                        declaring.add(f"conformance.suite.probes.{path.stem}")
    assert declaring == {entry.module for entry in registered("probe")}
    assert len(declaring) == len(PROBES)


def test_the_example_config_switches_every_registered_scenario() -> None:
    example = tomllib.loads((ROOT / "conformance.example.toml").read_text(encoding="utf-8"))
    switches = [key for key in example["scenarios"] if key != "max_wait_s"]
    assert switches == list(NAMES)
    assert example["scenarios"]["max_wait_s"] == MAX_WAIT_S


def test_every_module_that_declares_a_scenario_is_registered() -> None:
    # a scenario module the package forgets to import would never run
    declaring = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    called = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if getattr(called, "id", None) == "scenario":
                        declaring.add(f"conformance.suite.scenarios.{path.stem}")
    assert declaring == {entry.module for entry in registered()}


def test_the_registry_runs_the_latency_scenario_last_and_names_the_data_scenarios() -> None:
    assert NAMES[-1] == "latency"
    assert NAMES == ("auth_refresh", "rate_limits", "rollback", "conflicts", "collections",
                     "authorisation", "latency")  # fmt: skip
    assert DATA == ("rollback", "conflicts", "collections", "authorisation")
    assert [entry.name for entry in registered() if entry.read_only] == ["latency"]
    # the security probes register beside them, of their own kind, never among the scenarios
    assert all(entry.kind == "probe" for entry in registered("probe"))
    assert tuple(entry.name for entry in registered("probe")) == PROBES
    assert not set(PROBES) & set(NAMES)


@pytest.mark.parametrize(
    ("name", "order", "says"),
    [
        ("rate-limits", 1, "must be an identifier"),
        ("latency", 1, "'latency' is registered twice"),
        ("new_one", 100, "order=100 is 'latency''s already"),
    ],
)
def test_the_registry_refuses_a_name_or_a_place_taken_twice(
    name: str, order: int, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        scenario(name, requires="-", max_requests=1, max_seconds=1, order=order)(
            lambda context, story: None
        )
    assert tuple(entry.name for entry in registered()) == NAMES


def test_a_budget_grows_with_the_waits_and_stops_at_the_run_timeout() -> None:
    entry = lookup("authorisation")
    assert entry.budget(10.0) == (entry.max_requests, 3 * 10.0 + 300)
    assert entry.budget(10.0, deadline=0.0) == (entry.max_requests, 0.0)
    assert lookup("latency").budget(10.0) == (lookup("latency").max_requests, 600.0)
    with pytest.raises(KeyError, match="no scenario 'latncy'"):
        lookup("latncy")


def context(tmp_path: Path, **changes: object) -> ScenarioContext:
    return ScenarioContext(
        "petstore", load_spec(PETSTORE), "http://127.0.0.1:9", Credentials("petstore"),
        DEFAULT_NETWORK, run_token=lambda: None, journal=tmp_path / "journal.jsonl",
        **changes,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auth_refresh", "the spec declares no x-auth-flow with a login and a refresh"),
        ("rate_limits", "the spec declares no x-auth-flow with a login and a refresh"),
        ("latency", "the spec declares no x-latency-budget-ms"),
    ],
)
def test_a_guard_skips_before_any_request_and_fails_the_projects_own_spec(
    tmp_path: Path, name: str, reason: str
) -> None:
    verdict, story = run_scenario(name, context(tmp_path))
    assert (verdict.outcome, verdict.reason, story) == ("skipped", reason, None)
    verdict, _ = run_scenario(name, context(tmp_path, own_spec=True))
    assert verdict.outcome == "failed"
    assert verdict.reason == f"{reason} (the project's own spec must declare it)"


def test_a_read_only_run_skips_the_scenarios_that_write(tmp_path: Path) -> None:
    verdict, story = run_scenario("rollback", context(tmp_path, read_only=True))
    assert (verdict.outcome, verdict.reason) == (
        "skipped",
        "read-only run: rollback sends more than GET requests",
    )
    assert story is not None
    assert story.requests == 0
