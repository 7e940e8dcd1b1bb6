"""The pytest plugin (entry point ``pytest11: conformance``).

Today it registers the markers the suite's tests carry, so that a QA engineer can select with
``-m`` under ``--strict-markers``; the options, fixtures and the xdist-safe aggregation of
results arrive with the suite (see ARCHITECTURE.md).
"""

from __future__ import annotations

import pytest

#: name(args): meaning, as `pytest --markers` shows them.
MARKERS = {
    "api(name)": "the API a conformance test belongs to (gloria, tchat, or a spec's title)",
    "module(tag)": "the module (the operation's tag) a conformance test belongs to",
    "operation(operation_id)": "the operation a conformance test exercises",
    "fuzz": "a schema-driven fuzzing test of one operation",
    "scenario": "a scripted scenario (auth refresh, rollback, conflicts, rate limits, latency)",
}


def pytest_configure(config: pytest.Config) -> None:
    for marker, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {meaning}")
