"""``reports/junit.xml``: one test case per operation and check, for CI systems that read JUnit.

pytest's own ``--junitxml`` has one case per pytest item (an operation); a CI's test tab is more
useful with the rule in the name. Each API is a ``<testsuite>``; each operation contributes a case
``exercised`` (a documented 2xx came back), one per check that judged its cases, and ``engine``
when the engine could not test it. Classname ``<api>.<operationId>``, so names are distinct and
stable from run to run (CI history).
"""

from __future__ import annotations

import collections
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance import catalogue
from conformance.catalogue import Kind
from conformance.masking import mask
from conformance.verdict import OperationVerdict, Run, ScenarioFailure, ScenarioVerdict

#: failures written into one case's text
SHOWN = 5
#: the gate's case: a documented 2xx came back
EXERCISED = catalogue.rule("exercised").id
#: what XML 1.0 cannot carry (a fuzzed body echoed in a message may hold it)
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_tree(run: Run) -> ET.ElementTree:
    """The cases of each API, and the run's own errors, its cut short and its expired waivers
    (a suite ``run``), so that a pipeline reading JUnit alone sees what the verdict says."""
    root = ET.Element("testsuites", name="conformance")
    by_api: dict[str, list[tuple[str, str, str, str]]] = collections.defaultdict(list)
    for waiver in run.waivers.expired:
        said = f"expired on {waiver.expires}: renew it or fix the failure"
        by_api["run"].append(("run", f"waiver {waiver.name}", "failure", said))
    if run.cut_short:
        by_api["run"].append(("run", "cut short", "error", run.cut_short))
    for n, error in enumerate(run.errors, 1):
        by_api["run"].append(("run", f"error {n}", "error", error))
    for verdict in run.operations:
        for name, outcome, text in _cases(verdict):
            by_api[verdict.api].append((verdict.operation_id, name, outcome, text))
    for scenario in run.scenarios:
        for name, outcome, text in _scenario_cases(scenario):
            by_api[scenario.api].append((f"{scenario.kind}.{scenario.name}", name, outcome, text))
    totals = collections.Counter[str]()
    for api, found in sorted(by_api.items()):
        suite = ET.SubElement(root, "testsuite", name=api)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="seed", value=str(run.seed))
        counts = collections.Counter[str]()
        for owner, name, outcome, text in sorted(found, key=lambda case: case[0]):
            case = ET.SubElement(suite, "testcase", classname=f"{api}.{owner}", name=name)
            counts["tests"] += 1
            text = NOT_XML.sub("\ufffd", text)
            if outcome == "failure":
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=(text.splitlines() or [""])[0]).text = text
            elif outcome == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=text)
            elif outcome == "error":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=(text.splitlines() or [""])[0]).text = text
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(counts[key]))
        totals.update(counts)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return ET.ElementTree(root)


def _cases(verdict: OperationVerdict) -> list[tuple[str, str, str]]:
    """(name, passed | failure | error | skipped, text) of each case of one operation."""
    cases = []
    if verdict.outcome == "skipped":
        return [(EXERCISED, "skipped", verdict.reason)]
    if verdict.errors:
        cases.append(("engine", "error", "\n".join(verdict.errors)))
    if verdict.documented_2xx_seen:
        cases.append((EXERCISED, "passed", ""))
    elif verdict.outcome == "waived":
        cases.append((EXERCISED, "skipped", f"waived: {verdict.reason}"))
    elif not verdict.exercise_required:
        untested = verdict.reason or "no documented 2xx came back"
        cases.append((EXERCISED, "skipped", f"untested: {untested}"))
    elif not verdict.errors:
        seen = ", ".join(f"{n} x {s}" for s, n in sorted(verdict.statuses.items())) or "nothing"
        cases.append((EXERCISED, "failure", f"no documented 2xx came back (seen: {seen})"))
    failed: dict[str, list[str]] = collections.defaultdict(list)
    waived: dict[str, str] = {}
    for failure in verdict.failures:
        if failure.waived:
            waived[failure.check] = failure.waived
            continue
        failed[failure.check].append(f"[{failure.phase}] {failure.title}\n{failure.curl}")
    for check in sorted(set(verdict.checks) | set(failed) | set(waived)):
        if check in waived and check not in failed:
            cases.append((check, "skipped", f"waived: {waived[check]}"))
        elif check in failed:
            texts = failed[check]
            head = f"{len(texts)} of {verdict.checks.get(check, len(texts))} cases failed"
            cases.append((check, "failure", "\n\n".join([head, *texts[:SHOWN]])))
        else:
            cases.append((check, "passed", ""))
    return cases


def _scenario_cases(scenario: ScenarioVerdict) -> list[tuple[str, str, str]]:
    """A case per step of a scenario (``part / step``), or one for a scenario that did not
    run."""
    if scenario.outcome == "skipped":
        return [("scenario", "skipped", scenario.reason)]
    cases = []
    if scenario.outcome == "error" or (scenario.outcome == "failed" and not scenario.failures):
        cases.append(("scenario", "error" if scenario.outcome == "error" else "failure",
                      scenario.reason))  # fmt: skip
    own: set[int] = set()  # the failures that are a failed step's own (its rule's)
    for step in scenario.steps:
        name = f"{step.part} / {step.title}"
        failure = next(
            (
                f
                for f in scenario.failures
                if f.part == step.part and f.step == step.title and _is_scenario_rule(f.rule)
            ),
            None,
        )
        if failure is not None and step.outcome == "failed":
            own.add(id(failure))
        if step.outcome == "failed" and failure is not None and failure.waived:
            cases.append((name, "skipped", f"waived: {failure.waived}"))
        elif step.outcome == "failed" and failure is not None:
            text = f"{failure.contract}\n{failure.line()}\n{failure.curl}".rstrip()
            cases.append((name, "failure", text))
        elif step.outcome == "failed":
            cases.append((name, "error", step.detail))
        elif step.outcome == "skipped":
            cases.append((name, "skipped", step.detail))
        else:
            cases.append((name, "passed", ""))
    # what the fuzzing's checks found in the scenario's answers (`_judge`): a case per check
    by_check: dict[str, list[ScenarioFailure]] = collections.defaultdict(list)
    for failure in scenario.failures:
        if id(failure) not in own:
            by_check[failure.rule].append(failure)
    for rule, found in sorted(by_check.items()):
        name = check_case(rule)
        if all(f.waived for f in found):
            cases.append((name, "skipped", f"waived: {found[0].waived}"))
            continue
        text = "\n".join(f"{f.line()}\n{f.curl}".rstrip() for f in found[:SHOWN])
        cases.append((name, "failure", f"{found[0].contract}\n{text}"))
    return cases


def _is_scenario_rule(rule_id: str) -> bool:
    found = catalogue.RULES.get(rule_id)
    return found is not None and found.kind in (Kind.SCENARIO, Kind.PROBE)


def check_case(rule_id: str) -> str:
    """The case of what a check found in a scenario's answers: ``check <id>``, by the
    catalogue's id; a scenario rule (a failure outside its steps) is ``rule <id>``. A check the
    catalogue does not list is a user's own, registered with schemathesis: named as it is."""
    return f"{'rule' if _is_scenario_rule(rule_id) else 'check'} {rule_id}"


def write_junit(path: Path, run: Run) -> None:
    """Written masked: the last gate before the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(run)
    root = tree.getroot()
    assert root is not None
    text = ET.tostring(root, encoding="unicode")
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n' + mask(text) + "\n", encoding="utf-8"
    )
