"""The latency budget (CONTRACT.md §7): per operation, the p95 of its successful responses
within its ``x-latency-budget-ms``, judged only with at least `ENOUGH` samples.

Samples: every 2xx of the run (fuzzing and the other scenarios, merged across xdist workers by
the session), plus a measurement of its own of the read operations it can call without
guessing (a GET without required parameters, and an item's GET with an id its list gives):
`WARM_UP` requests first, then `SEQUENTIAL` one after the other and `CONCURRENT` from
`CLIENTS` threads at once, bounded in seconds per operation. Fewer than `ENOUGH` samples is
"not measured", never a pass.
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.contract import Operation, resources
from conformance.suite.scenarios._story import Exhausted, Story

ENOUGH = 20
WARM_UP = 3
SEQUENTIAL = 20
CONCURRENT = 20
CLIENTS = 4
#: the most seconds spent measuring one operation
PER_OPERATION_S = 8.0
MAX_REQUESTS = 5_000


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def row(
    operation: Operation, budget_ms: int, run: Sequence[float], measured: Sequence[float]
) -> dict[str, Any]:
    samples = sorted([*run, *measured])
    found: dict[str, Any] = {
        "operation": operation.label,
        "operation_id": operation.operation_id,
        "budget_ms": budget_ms,
        "samples": len(samples),
        "from_run": len(run),
        "measured": len(measured),
    }
    if samples:
        found.update(
            p50_ms=round(percentile(samples, 0.50) * 1000, 1),
            p95_ms=round(percentile(samples, 0.95) * 1000, 1),
            p99_ms=round(percentile(samples, 0.99) * 1000, 1),
            max_ms=round(samples[-1] * 1000, 1),
        )
    if len(samples) < ENOUGH:
        found["outcome"] = "not_measured"
    else:
        found["outcome"] = "met" if found["p95_ms"] <= budget_ms else "exceeded"
    return found


def describe(found: Mapping[str, Any]) -> str:
    return (
        f"{found['operation']}: p95 {found['p95_ms']:.0f} ms, over its budget of"
        f" {found['budget_ms']} ms (p50 {found['p50_ms']:.0f}, p99 {found['p99_ms']:.0f}, max"
        f" {found['max_ms']:.0f} ms; {found['samples']} samples)"
    )


def _items(body: Any) -> list[Any]:
    """The items of a list answer (a bare array, or under ``data`` once or twice)."""
    for _ in range(3):
        if isinstance(body, list):
            return body
        if not isinstance(body, dict) or "data" not in body:
            return []
        body = body["data"]
    return []


class Measurement:
    """Times the read operations of one API with the run's own token."""

    def __init__(self, story: Story, token: str | None) -> None:
        self.story, self.token = story, token
        self.samples: dict[str, list[float]] = {}

    def readable(self) -> list[tuple[Operation, str]]:
        """(operation, a concrete path) for each read operation that can be called as is."""
        spec = self.story.spec
        found: dict[str, tuple[Operation, str]] = {}
        for operation in spec.operations:
            if operation.method == "get" and not operation.required_parameters:
                found[operation.label] = (operation, operation.path)
        for resource in resources(spec):
            get, listing = resource.get, resource.list
            if get is None or listing is None or listing.label not in found:
                continue
            required = get.required_parameters
            if len(required) != 1 or required[0].location != "path":
                continue
            parameter = required[0].name
            response = self.story.send(listing, token=self.token)
            items = _items(response.json()) if response.is_success else []
            first = items[0] if items and isinstance(items[0], dict) else {}
            identifier = first.get("id") or first.get(parameter)
            if identifier is not None:
                found[get.label] = (get, get.path.replace("{" + parameter + "}", str(identifier)))
        return list(found.values())

    def measure(self, operation: Operation, path: str) -> list[float]:
        story = self.story
        began = time.monotonic()
        taken: list[float] = []

        def one() -> None:
            if time.monotonic() - began > PER_OPERATION_S:
                return
            response = story.send(operation, token=self.token, path=path, attached=False)
            if response.is_success:
                taken.append(response.elapsed.total_seconds())

        for _ in range(WARM_UP):
            story.send(operation, token=self.token, path=path, attached=False)
        for _ in range(SEQUENTIAL):
            one()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda _: one(), range(CONCURRENT)))
        return taken

    def run(self) -> None:
        for operation, path in self.readable():
            if self.story.remaining_s() < PER_OPERATION_S:
                raise Exhausted("the measurement ran out of the scenario's seconds")
            self.samples[operation.label] = self.measure(operation, path)
