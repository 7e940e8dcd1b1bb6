"""Scripted scenarios: one test per API and scenario (the plugin parametrizes
``conformance_scenario``). They run after the fuzzing of their API, the latency scenario last."""

from __future__ import annotations

from conformance.suite import SuiteSession, settle


def test_scenario(conformance_scenario: tuple[str, str], conformance_suite: SuiteSession) -> None:
    settle(conformance_suite.scenario(*conformance_scenario))
