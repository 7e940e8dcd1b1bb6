"""What the suite adds to schemathesis, registered with it at import so that ``st run`` sees it
too (``SCHEMATHESIS_HOOKS=conformance.checks``): the contract's response checks, the hook that
teaches it a rule no schema can state, and our 429 handling on the engine's sessions.
"""

from __future__ import annotations

from conformance.checks import _transport
from conformance.checks._hooks import agree_on_version, shape_case
from conformance.checks._rules import RULES, Exchange
from conformance.checks._schemathesis import CHECK_NAMES, SAMPLES, exchange_of
from conformance.checks._transport import THROTTLING, RetryAfter429

_transport.install()

__all__ = [
    "CHECK_NAMES",
    "RULES",
    "SAMPLES",
    "THROTTLING",
    "Exchange",
    "RetryAfter429",
    "agree_on_version",
    "exchange_of",
    "shape_case",
]
