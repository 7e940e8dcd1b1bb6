"""What the suite adds to schemathesis, registered with it at import so that ``st run`` sees it
too (``SCHEMATHESIS_HOOKS=conformance.checks``): the contract's response checks (one for each
check of `conformance.catalogue`, judging only where the spec declares its rule), the hook that
teaches it a rule no schema can state, and our 429 handling on the engine's sessions, whose wait
policy (`WaitPolicy`) the suite's own requests share.
"""

from __future__ import annotations

from conformance.checks import _transport
from conformance.checks._hooks import BeforeCall, agree_on_version, shape_case
from conformance.checks._patience import NO_WAIT, WaitPolicy, throttled
from conformance.checks._rules import RULES, Exchange
from conformance.checks._schemathesis import (
    CHECK_NAMES,
    SAMPLES,
    ContractFailure,
    exchange_of,
    judge,
    spec_and_operation,
)
from conformance.checks._transport import THROTTLING, RetryAfter429

_transport.install()

__all__ = [
    "CHECK_NAMES",
    "NO_WAIT",
    "RULES",
    "SAMPLES",
    "THROTTLING",
    "BeforeCall",
    "ContractFailure",
    "Exchange",
    "RetryAfter429",
    "WaitPolicy",
    "agree_on_version",
    "exchange_of",
    "judge",
    "shape_case",
    "spec_and_operation",
    "throttled",
]
