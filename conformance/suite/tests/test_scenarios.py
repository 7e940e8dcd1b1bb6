"""Scripted scenarios: one test per API and scenario (the plugin parametrizes
``conformance_scenario``). They run after the fuzzing of their API, the latency scenario last."""

from __future__ import annotations

import pytest

from conformance.suite import SuiteSession


def test_scenario(conformance_scenario: tuple[str, str], conformance_suite: SuiteSession) -> None:
    verdict = conformance_suite.scenario(*conformance_scenario)
    if verdict.outcome == "skipped":
        pytest.skip(verdict.reason)
    if verdict.outcome == "waived":
        pytest.skip(f"waived: {verdict.reason}")
    if verdict.outcome != "passed":
        pytest.fail(verdict.explain(), pytrace=False)
