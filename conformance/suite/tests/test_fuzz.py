"""Schema-driven fuzzing: one test per operation of each target's spec (the plugin parametrizes
``conformance_operation`` and runs schemathesis's engine once per API)."""

from __future__ import annotations

from conformance.suite import SuiteSession, settle


def test_fuzz(conformance_operation: tuple[str, str], conformance_suite: SuiteSession) -> None:
    settle(conformance_suite.verdict_for(*conformance_operation))
