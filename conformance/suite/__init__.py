"""The suite: what a conformance run collects and judges. Fuzzing drives schemathesis's engine
once per API and reports one pytest item per operation (ARCHITECTURE.md says how and why).
Target-agnostic: it imports nothing of the reference backend.

This is the suite's public face: the plugin, the runner and the self-test import from here,
never from its private modules (tests/test_layering.py).
"""

from __future__ import annotations

from pathlib import Path

from conformance.suite._access import Access, CredentialsUnusable, access
from conformance.suite._auth import (
    DEFAULT_PRINCIPAL,
    AuthError,
    Credentials,
    CredentialsRejected,
    RunSession,
    sign_in,
)
from conformance.suite._engine import (
    PROFILES,
    EngineRun,
    Network,
    OperationRecord,
    engine_settings,
)
from conformance.suite._fuzzing import link_sources, run_engine
from conformance.suite._preflight import check_access, open_access, preflight
from conformance.suite._present import Presentation, Presenter
from conformance.suite._session import SuiteSession, Target
from conformance.suite._shard import Shard, assign
from conformance.suite._signals import sigterm_interrupts
from conformance.suite._verdict import (
    applied_rules,
    judge,
    merged_rules,
    rules_document,
    settle,
)
from conformance.suite._waivers import DEFAULT_WAIVERS_FILE, known_rules, parse_waivers
from conformance.suite.scenarios._story import crashed

#: the test modules a run collects
TESTS_DIR = Path(__file__).parent / "tests"

__all__ = [
    "DEFAULT_PRINCIPAL",
    "DEFAULT_WAIVERS_FILE",
    "PROFILES",
    "TESTS_DIR",
    "Access",
    "AuthError",
    "Credentials",
    "CredentialsRejected",
    "CredentialsUnusable",
    "EngineRun",
    "Network",
    "OperationRecord",
    "Presentation",
    "Presenter",
    "RunSession",
    "Shard",
    "SuiteSession",
    "Target",
    "access",
    "applied_rules",
    "assign",
    "check_access",
    "crashed",
    "engine_settings",
    "judge",
    "known_rules",
    "link_sources",
    "merged_rules",
    "open_access",
    "parse_waivers",
    "preflight",
    "rules_document",
    "run_engine",
    "settle",
    "sign_in",
    "sigterm_interrupts",
]
