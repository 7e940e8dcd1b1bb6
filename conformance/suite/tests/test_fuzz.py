"""Schema-driven fuzzing: one test per operation of each target's spec (the plugin parametrizes
``conformance_operation`` and runs schemathesis's engine once per API)."""

from __future__ import annotations

import pytest

from conformance.suite import SuiteSession


def test_fuzz(conformance_operation: tuple[str, str], conformance_suite: SuiteSession) -> None:
    verdict = conformance_suite.verdict_for(*conformance_operation)
    if verdict.outcome == "skipped":
        pytest.skip(verdict.reason)
    if verdict.outcome == "waived":
        pytest.skip(f"waived: {verdict.reason}")
    if verdict.outcome != "passed":
        pytest.fail(verdict.explain(), pytrace=False)
