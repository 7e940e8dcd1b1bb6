"""Unrestricted resource consumption (OWASP API4), from outside and with reads only.

- ``maximum-enforced``: a list's page size documented with a ``maximum`` (``limit``,
  ``per_page``, ``pageSize`` …) is sent just over it and far over it (ten times, at most
  10,000): a 4xx refuses it, a page of at most the maximum clamps it, and both pass; more items
  than the maximum, or an answer that says it used the size sent (``limit: 101``), is the
  finding. A list that holds fewer items than the maximum and says nothing of the size it used
  cannot show the breach: "not applicable", never a pass or a finding. A string query parameter
  with a ``maxLength`` is sent one over it and ten times it: the schema promises a refusal, so a
  2xx is the finding.
- ``slow-input`` (a warning: timing depends on the machine): a string query parameter is sent a
  crafted long value (``'a' * n + '!'``, the shape that makes a backtracking regular expression
  take exponential time; within ``maxLength``) and timed against the operation's own baseline
  (the median of 3 with a short value): over ten times the baseline and over a second, twice,
  is the warning.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from conformance.contract import Operation, Parameter, Spec, paging
from conformance.suite._unique import value_for
from conformance.suite.scenarios._collections import _items
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)

MAXIMUM_ENFORCED = scenario_rule("maximum-enforced")
SLOW_INPUT = scenario_rule("slow-input")

#: operations probed at most, for each of the two claims
MAX_OPERATIONS = 6
#: the far value sent over a maximum: ten times it, at most this
FAR_CAP = 10_000
#: a long string sent to a parameter without maxLength (and the most sent to any)
LONG_TEXT = 5_000
#: how much slower than its baseline, and at least how slow, an answer is a warning
SLOWER = 10.0
SLOW_S = 1.0
#: the names of a page size (the query parameter's, and the member a page says it used under)
SIZE_NAMES = ("limit", "per_page", "perPage", "page_size", "pageSize", "size", "count", "top")


@scenario(
    "consumption",
    kind="probe",
    waits=1,  # a rate-limit window the run spent before it
    requires="GET operations with a documented `maximum` page size, `maxLength` or a string"
    " query parameter",
    max_requests=60,
    max_seconds=30,
    order=40,
    read_only=True,
)
def consumption(context: ScenarioContext, story: Story) -> None:
    spec = context.spec
    token = context.run_token()
    sizes = list(_limited_sizes(spec))[:MAX_OPERATIONS]
    lengths = list(_limited_lengths(spec))[:MAX_OPERATIONS]
    texts = list(_free_texts(spec))[:MAX_OPERATIONS]
    if not (sizes or lengths or texts):
        raise ScenarioSkipped(
            "no GET with a page size that has a maximum, a string with a maxLength or a string"
            " query parameter"
        )
    probe = Consumption(story, token)
    if sizes:
        with story.part("a page size over its maximum is refused or clamped"):
            for operation, parameter in sizes:
                with contextlib.suppress(Violation, StepSkipped):
                    probe.page_size(operation, parameter)
    if lengths:
        with story.part("a string over its maxLength is refused"):
            for operation, parameter in lengths:
                with contextlib.suppress(Violation, StepSkipped):
                    probe.too_long(operation, parameter)
    if texts:
        with story.part("a crafted long string is answered about as fast as a short one"):
            for operation, parameter in texts:
                if story.remaining_s() < 4 or story.max_requests - story.requests < 6:
                    break
                with contextlib.suppress(Violation, StepSkipped):
                    probe.slow_input(operation, parameter)


def _callable(operation: Operation) -> bool:
    """A GET the probe can send without inventing a path parameter."""
    return operation.method == "get" and not operation.path_parameters


def _limited_sizes(spec: Spec) -> Iterator[tuple[Operation, Parameter]]:
    for operation in spec.operations:
        if not _callable(operation):
            continue
        found = paging(operation)
        size = found.size if found is not None else None
        if size is None:
            size = next((p for p in operation.parameters if p.location == "query"
                         and p.name in SIZE_NAMES), None)  # fmt: skip
        schema = spec.deref(size.schema) if size is not None else None
        if size is not None and isinstance(schema, Mapping) and _number(schema.get("maximum")):
            yield operation, size


def _strings(spec: Spec, operation: Operation) -> Iterator[tuple[Parameter, Mapping[str, Any]]]:
    for parameter in operation.parameters:
        schema = spec.deref(parameter.schema)
        if parameter.location != "query" or not isinstance(schema, Mapping):
            continue
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds and not ({"enum", "format", "const", "pattern"} & set(schema)):
            yield parameter, schema


def _limited_lengths(spec: Spec) -> Iterator[tuple[Operation, Parameter]]:
    for operation in spec.operations:
        if _callable(operation):
            for parameter, schema in _strings(spec, operation):
                if _number(schema.get("maxLength")):
                    yield operation, parameter


def _free_texts(spec: Spec) -> Iterator[tuple[Operation, Parameter]]:
    """A string query parameter of each GET (a search's first: that is where a pattern runs)."""
    for operation in spec.operations:
        if not _callable(operation):
            continue
        found = sorted(_strings(spec, operation), key=lambda pair: pair[0].name not in (
            "search", "q", "query", "filter", "name", "title"))  # fmt: skip
        if found:
            yield operation, found[0][0]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Consumption:
    def __init__(self, story: Story, token: str | None) -> None:
        self.story, self.token, self.spec = story, token, story.spec

    def send(self, operation: Operation, values: Mapping[str, Any]) -> httpx.Response:
        """``operation`` with ``values`` and its other required query parameters filled."""
        query = {
            p.name: value_for(self.spec, p.schema, p.name)
            for p in operation.required_parameters
            if p.location == "query" and p.name not in values
        }
        path = operation.path + "?" + str(httpx.QueryParams({**query, **values}))
        return self.story.send(operation, token=self.token, path=path)

    # -- a page size's maximum -----------------------------------------------------------------

    def page_size(self, operation: Operation, parameter: Parameter) -> None:
        maximum = int(self.spec.deref(parameter.schema)["maximum"])
        for sent in (maximum + 1, max(maximum + 2, min(maximum * 10, FAR_CAP))):
            with self.story.step(f"{operation.label}?{parameter.name}={sent} (maximum {maximum})"):
                response = self.send(operation, {parameter.name: sent})
                self.judge_page(operation, parameter.name, sent, maximum, response)

    def judge_page(
        self, operation: Operation, name: str, sent: int, maximum: int, response: httpx.Response
    ) -> None:
        status = response.status_code
        if 400 <= status < 500:
            return  # refused, as documented
        if not 200 <= status < 300:
            raise StepSkipped(f"answered {status}: neither refused nor served")
        try:
            body = response.json()
        except ValueError:
            raise StepSkipped("answered no JSON to count the items of") from None
        holder, items = _items(body)
        echoed = _echo(holder, name)
        said = f"{operation.label}?{name}={sent} answered {status}"
        self.story.check(
            len(items) <= maximum,
            MAXIMUM_ENFORCED,
            f"{said} with {len(items)} items, over its documented maximum of {maximum}",
        )
        self.story.check(
            echoed != sent,
            MAXIMUM_ENFORCED,
            f"{said} saying it used {name} {echoed}, over its documented maximum of {maximum}",
        )
        if len(items) < maximum and echoed is None:
            raise StepSkipped(
                f"not applicable: the list holds fewer items ({len(items)}) than the maximum"
                f" {maximum}, and its answer does not say what page size it used"
            )

    # -- a string's maxLength ------------------------------------------------------------------

    def too_long(self, operation: Operation, parameter: Parameter) -> None:
        high = int(self.spec.deref(parameter.schema)["maxLength"])
        for length in (high + 1, min(max(high * 10, high + 2), LONG_TEXT)):
            with self.story.step(f"{operation.label}?{parameter.name}= {length} characters"
                                 f" (maxLength {high})"):  # fmt: skip
                response = self.send(operation, {parameter.name: "a" * length})
                status = response.status_code
                if status >= 500:
                    raise StepSkipped(f"answered {status}: neither refused nor served")
                self.story.check(
                    not 200 <= status < 300,
                    MAXIMUM_ENFORCED,
                    f"{operation.label} answered {status} to a {parameter.name} of {length}"
                    f" characters, over its documented maxLength of {high}",
                )

    # -- slow input ----------------------------------------------------------------------------

    def slow_input(self, operation: Operation, parameter: Parameter) -> None:
        schema = self.spec.deref(parameter.schema)
        high = int(schema.get("maxLength", LONG_TEXT + 1))
        crafted = "a" * max(1, min(LONG_TEXT, high - 1)) + "!"
        short = "a" * max(1, min(3, high))
        with self.story.step(f"{operation.label}?{parameter.name}= {len(crafted)} characters"
                             " against its own baseline"):  # fmt: skip
            baseline = statistics.median(
                self.timed(operation, parameter.name, short) for _ in range(3)
            )
            took = self.timed(operation, parameter.name, crafted)
            if took > max(SLOWER * baseline, SLOW_S):  # confirmed once more before it counts
                took = min(took, self.timed(operation, parameter.name, crafted))
            self.story.check(
                took <= max(SLOWER * baseline, SLOW_S),
                SLOW_INPUT,
                f"{operation.label} took {took:.2f} s to answer a {parameter.name} of"
                f" {len(crafted)} characters (twice), {took / max(baseline, 1e-3):.0f} times its"
                f" baseline of {baseline * 1000:.0f} ms",
            )

    def timed(self, operation: Operation, name: str, value: str) -> float:
        began = time.perf_counter()
        with contextlib.suppress(httpx.TimeoutException):  # as slow as the client waits
            self.send(operation, {name: value})
        return time.perf_counter() - began


def _echo(holder: Any, name: str) -> Any:
    """The page size a page says it used, under the parameter's name or a usual one."""
    if not isinstance(holder, Mapping):
        return None
    for member in (name, *SIZE_NAMES):
        value = holder.get(member)
        if _number(value):
            return value
    return None
