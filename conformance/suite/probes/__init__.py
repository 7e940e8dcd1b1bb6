"""Security probes: what a contract, a schema and two accounts reveal from outside, safely, on any
spec (the OWASP API Security Top 10, 2023).

A probe is a scenario of kind ``probe`` (`conformance.suite.scenarios.scenario`): one module, one
play, bounded in requests and seconds, journaled, skipped with the reason when the spec (or the
run) lacks what it needs. Its rules are the catalogue's ``Kind.PROBE`` rows, each naming its
OWASP category and severity; a warning rule's findings are reported and never fail the gate.
Probes that write touch only the run's own accounts and resources, and are skipped in a
read-only run; payloads that could change other users' data go only into reads, and into writes
only on a disposable target.

Each probe module registers itself on import: a new probe is imported here.
"""

from __future__ import annotations

from conformance.suite.probes import (
    _authentication,  # noqa: F401
    _bola,  # noqa: F401
    _consumption,  # noqa: F401
    _debug,  # noqa: F401
    _exposure,  # noqa: F401
    _function_level,  # noqa: F401
    _injection,  # noqa: F401
    _properties,  # noqa: F401
    _throttling,  # noqa: F401
)
