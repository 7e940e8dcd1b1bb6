"""The scenarios' rule ids are the catalogue's: each module names the rules it judges by through
`scenario_rule`, at import, and an id the catalogue does not list as a scenario rule is refused
there (and by `Violation`, for one that slipped past)."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.suite import scenarios
from conformance.suite.scenarios import RULES, Violation
from conformance.suite.scenarios._story import scenario_rule

SCENARIOS = Path(scenarios.__file__).parent
PROBES = SCENARIOS.parent / "probes"


def test_the_scenario_rules_are_the_catalogues() -> None:
    # a scenario (or a security probe) names the scenario and probe rules, and only them
    scenario_rules = catalogue.of_kind(catalogue.Kind.SCENARIO, catalogue.Kind.PROBE)
    assert {rule.id: rule.words for rule in scenario_rules} == dict(RULES)


@pytest.mark.parametrize("rule", ["stale-490", "nosniff", "CT101"])
def test_a_rule_the_catalogue_does_not_list_for_scenarios_is_refused(rule: str) -> None:
    # a typo, a check of the fuzzing's, a lint rule: none is a scenario's to name
    says = f"{rule!r} is not a scenario rule of the catalogue"
    with pytest.raises(ValueError, match=says):
        scenario_rule(rule)
    with pytest.raises(ValueError, match=says):
        Violation(rule, "the backend broke it")
    assert scenario_rule("stale-409") == Violation("stale-409", "broken").rule == "stale-409"


def test_a_scenario_module_naming_an_unknown_rule_fails_at_import(tmp_path: Path) -> None:
    module = tmp_path / "_drifted.py"
    module.write_text(
        "from conformance.suite.scenarios._story import scenario_rule\n"
        'STALE_409 = scenario_rule("stale-490")\n'
    )
    with pytest.raises(ValueError, match="'stale-490' is not a scenario rule"):
        runpy.run_path(str(module))


def rule_positions() -> dict[str, int]:
    """Function name -> the position of its ``rule`` parameter, over the scenario modules
    (``Story.check``, ``Changes.error`` …), and `Violation`'s."""
    found = {"Violation": 0}
    for path in [*SCENARIOS.glob("*.py"), *PROBES.glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = [arg.arg for arg in node.args.args if arg.arg != "self"]
                if "rule" in names:
                    found[node.name] = names.index("rule")
    return found


def test_no_scenario_passes_a_rule_as_a_bare_string() -> None:
    # every rule id goes through `scenario_rule` (checked at import), never a literal that only
    # a run would check
    positions = rule_positions()
    bare = []
    for path in sorted([*SCENARIOS.glob("*.py"), *PROBES.glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in positions:
                continue
            at = positions[name]
            given = [*node.args[at : at + 1], *(k.value for k in node.keywords if k.arg == "rule")]
            bare += [
                f"{path.name}:{node.lineno} {name}({value.value!r})"
                for value in given
                if isinstance(value, ast.Constant) and isinstance(value.value, str)
            ]
    assert bare == []
