"""The latency budget (CONTRACT.md §7): per operation, the p95 of its successful responses
within its ``x-latency-budget-ms``, judged only with at least `ENOUGH` samples.

Samples: every 2xx of the run (fuzzing and the other scenarios, merged across xdist workers by
the session), plus a measurement of its own of the read operations it can call without
guessing (`call_path`: a GET without required parameters or with required query parameters
its schema gives a value for, and one that needs a path parameter which a list of its resource
or a link of the spec names): `WARM_UP` requests first, then `SEQUENTIAL` one after the other
and `CONCURRENT` from `CLIENTS` threads at once, bounded in seconds per operation. Then the
writes that still have too few samples are measured on resources the scenario makes for the
purpose (`_exercise.Exerciser`). Fewer than `ENOUGH` samples is "not measured", never a pass,
and the row says why (``reason``).
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import allure
import httpx

from conformance.contract import Operation, PointerError, Spec, follow, resources
from conformance.suite._unique import value_for
from conformance.suite.scenarios import _exercise
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    LATENCY_BUDGET,
    Exhausted,
    ScenarioSkipped,
    Story,
)
from conformance.verdict import LatencyOutcome, LatencyRow, StepRecord

ENOUGH = 20
WARM_UP = 3
SEQUENTIAL = 20
CONCURRENT = 20
CLIENTS = 4
#: the most seconds spent measuring one operation
PER_OPERATION_S = 8.0
#: the most seconds spent measuring one write (logins hash a password, accounts are made for
#: them), and the seconds a write needs left in the story to be started
PER_WRITE_S = 20.0
WRITE_MARGIN_S = 10.0
#: reads take 43 requests each, writes about 70 a kind (made, changed, deleted): room for both
MAX_REQUESTS = 10_000


def requires_latency_budget(spec: Spec) -> None:
    """A budget to judge by: the root's ``x-latency-budget-ms`` or an operation's."""
    if spec.declarations.latency_budget_ms is None and not any(
        operation.latency_budget_ms for operation in spec.operations
    ):
        raise ScenarioSkipped("the spec declares no x-latency-budget-ms", missing_declaration=True)


@scenario(
    "latency",
    requires="`x-latency-budget-ms`",
    guards=(requires_latency_budget,),
    max_requests=MAX_REQUESTS,
    max_seconds=600,
    read_only=True,  # a read-only run measures the reads only
    order=100,  # last on an API: it judges the 2xx answers of everything before it
)
def latency(context: ScenarioContext, story: Story) -> None:
    """Measure the reads, then the writes still short of samples; judge every operation with a
    budget by all its samples (`row`), and fail each budget exceeded."""
    measurement = Measurement(story, context.run_token())
    with (
        story.part("measure the read operations"),
        story.step(
            f"{WARM_UP} to warm up, then {SEQUENTIAL} one by one and"
            f" {CONCURRENT} from {CLIENTS} clients"
        ),
    ):
        measurement.run()
    seen = context.samples()
    budgets = _budgets(context.spec)
    reasons = dict(measurement.reasons)
    written = _measure_writes(context, story, budgets, seen, measurement.samples, reasons)
    story.table = [
        row(
            operation,
            budgets[operation.label],
            seen.get(operation.label, ()),
            [*measurement.samples.get(operation.label, ()), *written.get(operation.label, ())],
            reasons.get(operation.label, ""),
        )
        for operation in context.spec.operations
        if operation.label in budgets
    ]
    allure.attach(
        json.dumps([found.as_json() for found in story.table], indent=2),
        name="latency per operation",
        attachment_type=allure.attachment_type.JSON,
    )
    for found in story.table:
        if found.outcome == LatencyOutcome.EXCEEDED:
            with (
                story.part(f"the budget of {found.operation}"),
                story.step(f"p95 within {found.budget_ms} ms"),
            ):
                story.check(False, LATENCY_BUDGET, describe(found))


def _budgets(spec: Spec) -> dict[str, int]:
    """Operation label -> its budget in ms: its own ``x-latency-budget-ms``, else the root's."""
    root = spec.declarations.latency_budget_ms
    return {
        operation.label: budget
        for operation in spec.operations
        if (budget := operation.latency_budget_ms or root) is not None
    }


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def row(
    operation: Operation,
    budget_ms: int,
    run: Sequence[float],
    measured: Sequence[float],
    reason: str = "",
) -> LatencyRow:
    """An operation's row of the latency table; ``reason``: why it has too few samples, when
    it has (the row of an operation not measured always says why)."""
    samples = sorted([*run, *measured])
    found = LatencyRow(
        operation.label, operation.operation_id, budget_ms, len(samples), len(run), len(measured),
        LatencyOutcome.NOT_MEASURED,
    )  # fmt: skip
    if samples:
        found.p50_ms = round(percentile(samples, 0.50) * 1000, 1)
        found.p95_ms = round(percentile(samples, 0.95) * 1000, 1)
        found.p99_ms = round(percentile(samples, 0.99) * 1000, 1)
        found.max_ms = round(samples[-1] * 1000, 1)
    if len(samples) < ENOUGH:
        found.reason = reason or (
            f"{len(samples)} successful answers, fewer than the {ENOUGH} a p95 needs"
        )
    else:
        over = found.p95_ms is not None and found.p95_ms > budget_ms
        found.outcome = LatencyOutcome.EXCEEDED if over else LatencyOutcome.MET
    return found


def describe(found: LatencyRow) -> str:
    return (
        f"{found.operation}: p95 {found.p95_ms:.0f} ms, over its budget of"
        f" {found.budget_ms} ms (p50 {found.p50_ms:.0f}, p99 {found.p99_ms:.0f}, max"
        f" {found.max_ms:.0f} ms; {found.samples} samples)"
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


def _listed_value(story: Story, token: str | None, listing: Operation, name: str) -> Any:
    """The member ``name`` (else ``id``) of the first item ``listing`` answers (None: none)."""
    response = story.send(listing, token=token)
    try:
        items = _items(response.json()) if response.is_success else []
    except ValueError:
        items = []
    first = items[0] if items and isinstance(items[0], dict) else {}
    return first.get(name, first.get("id"))


#: how a link's parameter names a value of the answer it hangs on
_BODY = "$response.body#"


def _linked_value(story: Story, token: str | None, operation: Operation, name: str) -> Any:
    """A value for the path parameter ``name`` of ``operation`` that a link of the spec names
    in the answer of a read the suite can send as is (``GET /auth/me`` links ``getUserByNip``
    with ``$response.body#/data/user/nip``): the first one that is there (None: none)."""
    spec = story.spec
    for source in spec.operations:
        if source.method != "get" or source.required_parameters:
            continue
        pointers = []
        for status, response, _ in spec.responses(source):
            links = spec.deref(response.get("links") or {}) if status.startswith("2") else {}
            for link in links.values() if isinstance(links, Mapping) else ():
                link = spec.deref(link)
                if not isinstance(link, Mapping) or link.get("operationId") != (
                    operation.operation_id
                ):
                    continue
                parameters = link.get("parameters") or {}
                expression = parameters.get(name, parameters.get(f"path.{name}"))
                if isinstance(expression, str) and expression.startswith(_BODY):
                    pointers.append(expression[len(_BODY) :])
        if not pointers:
            continue
        answer = story.send(source, token=token)
        try:
            body = answer.json() if answer.is_success else None
        except ValueError:
            body = None
        for pointer in pointers:
            try:
                value = follow(body, pointer)
            except (PointerError, TypeError):
                continue
            if value is not None and not isinstance(value, (dict, list)):
                return value
    return None


def call_path(story: Story, token: str | None, operation: Operation) -> str | None:
    """Where a read can be sent without guessing (None: it needs values the suite cannot name):
    its required query parameters get a value from their schemas; a required path parameter
    (one at most) gets the member it names of the first item the list of its resource answers
    (also for a read under an item, ``GET /content/items/{id}/versions``), else a value a link
    of the spec names in the answer of a read without parameters."""
    required = operation.required_parameters
    path_parameters = [p for p in required if p.location == "path"]
    if len(path_parameters) > 1 or any(p.location not in ("path", "query") for p in required):
        return None
    path = operation.path
    if path_parameters:
        name = path_parameters[0].name
        template = "{" + name + "}"
        value = None
        for resource in resources(story.spec):
            listing = resource.list
            if not resource.item_path.endswith(template) or listing is None:
                continue
            if listing.required_parameters or not (
                path == resource.item_path or path.startswith(resource.item_path + "/")
            ):
                continue
            value = _listed_value(story, token, listing, name)
            break
        if value is None:
            value = _linked_value(story, token, operation, name)
        if value is None:
            return None
        path = path.replace(template, str(value))
    query = {
        p.name: value_for(story.spec, p.schema, p.name) for p in required if p.location == "query"
    }
    if query:
        path += "?" + str(httpx.QueryParams(query))
    return path


class Measurement:
    """Times the read operations of one API with the run's own token."""

    def __init__(self, story: Story, token: str | None) -> None:
        self.story, self.token = story, token
        self.samples: dict[str, list[float]] = {}
        #: operation label -> why it was not measured, or not enough (its statuses)
        self.reasons: dict[str, str] = {}

    def readable(self) -> list[tuple[Operation, str]]:
        """(operation, a concrete path) for each read operation that can be called without
        guessing (`call_path`); the others' reasons go to `reasons`."""
        found: list[tuple[Operation, str]] = []
        for operation in self.story.spec.operations:
            if operation.method != "get":
                continue
            path = call_path(self.story, self.token, operation)
            if path is None:
                names = ", ".join(p.name for p in operation.required_parameters)
                self.reasons[operation.label] = (
                    f"the read needs a value for {names} that neither a list of its resource"
                    " nor a link of the spec names"
                )
            else:
                found.append((operation, path))
        return found

    def measure(self, operation: Operation, path: str) -> list[float]:
        story = self.story
        began = time.monotonic()
        taken: list[float] = []
        refused: collections.Counter[int] = collections.Counter()

        def one() -> None:
            if time.monotonic() - began > PER_OPERATION_S:
                return
            response = story.send(operation, token=self.token, path=path, attached=False)
            if response.is_success:
                taken.append(response.elapsed.total_seconds())
            else:
                refused[response.status_code] += 1

        for _ in range(WARM_UP):
            story.send(operation, token=self.token, path=path, attached=False)
        for _ in range(SEQUENTIAL):
            one()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda _: one(), range(CONCURRENT)))
        if refused:
            statuses = ", ".join(f"{n} answered {status}" for status, n in sorted(refused.items()))
            self.reasons[operation.label] = (
                f"{len(taken)} successful answers at {path} (and {statuses})"
            )
        return taken

    def run(self) -> None:
        for operation, path in self.readable():
            if self.story.remaining_s() < PER_OPERATION_S:
                raise Exhausted("the measurement ran out of the scenario's seconds")
            self.samples[operation.label] = self.measure(operation, path)


def _measure_writes(
    context: ScenarioContext,
    story: Story,
    budgets: Mapping[str, int],
    seen: Mapping[str, Sequence[float]],
    reads: Mapping[str, Sequence[float]],
    reasons: dict[str, str],
) -> dict[str, list[float]]:
    """Measure each operation with a budget that still has too few samples on what the
    scenario makes for it (`_exercise.Exerciser`): operation label -> its samples (the first
    `WARM_UP` of each left out). Why one stays short goes to ``reasons``."""
    operations = [op for op in context.spec.operations if op.method not in _exercise.READS]

    def have(label: str) -> int:
        return len(seen.get(label, ())) + len(reads.get(label, ()))

    short = [op for op in operations if op.label in budgets and have(op.label) < ENOUGH]
    if not short:
        return {}
    if context.read_only:
        for operation in short:
            reasons[operation.label] = "a read-only run sends no writes"
        return {}
    base = {label: len(seconds) for label, seconds in story.samples.items()}

    def written(label: str) -> list[float]:
        return story.samples.get(label, [])[base.get(label, 0) :][WARM_UP:]

    exerciser = _exercise.Exerciser(_exercise.Measuring.of(context, story))
    title = (
        f"{len(short)} writes with fewer than {ENOUGH} samples: on resources made for them and"
        f" deleted, and throwaway accounts ({WARM_UP} to warm up each)"
    )
    spent = ""
    try:
        with story.part("measure the writes"), story.step(title), story.unattached():
            for operation in short:
                label, need = operation.label, ENOUGH - have(operation.label)
                if len(written(label)) >= need:
                    continue
                if spent or story.remaining_s() < WRITE_MARGIN_S:
                    spent = spent or f"the scenario's {story.max_seconds:.0f} s were spent first"
                    reasons[label] = spent
                    continue
                more = _exercise.wanted(
                    functools.partial(_count, written, label), need, PER_WRITE_S
                )
                try:
                    reason = exerciser.exercise(operation, more)
                except Exhausted as error:
                    spent = reason = f"not reached: {error}"
                got = len(written(label))
                if got < need:
                    reasons[label] = reason or (
                        f"{have(label) + got} successful answers in {PER_WRITE_S:.0f} s"
                    )
    finally:
        problems = exerciser.remove()
        if problems:
            story.steps.append(StepRecord("cleanup", "remove what the measurement made",
                                          "failed", "; ".join(problems)))  # fmt: skip
    return {operation.label: written(operation.label) for operation in operations}


def _count(samples: Callable[[str], list[float]], label: str) -> int:
    return len(samples(label))
