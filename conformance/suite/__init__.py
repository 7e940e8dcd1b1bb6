"""The suite: what a conformance run collects and judges. Fuzzing drives schemathesis's engine
once per API and reports one pytest item per operation (ARCHITECTURE.md says how and why).
Target-agnostic: it imports nothing of the reference backend.
"""

from __future__ import annotations

from pathlib import Path

from conformance.suite._auth import AuthError, Credentials
from conformance.suite._engine import (
    PROFILES,
    EngineRun,
    Failure,
    Network,
    OperationRecord,
    run_engine,
)
from conformance.suite._guard import sigterm_interrupts
from conformance.suite._session import SuiteSession, Target
from conformance.suite._verdict import OperationVerdict, judge, settle

#: the test modules a run collects
TESTS_DIR = Path(__file__).parent / "tests"

__all__ = [
    "PROFILES",
    "TESTS_DIR",
    "AuthError",
    "Credentials",
    "EngineRun",
    "Failure",
    "Network",
    "OperationRecord",
    "OperationVerdict",
    "SuiteSession",
    "Target",
    "judge",
    "run_engine",
    "settle",
    "sigterm_interrupts",
]
