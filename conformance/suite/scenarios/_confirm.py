"""A latency breach is confirmed before it fails a gate (CONTRACT.md §7).

The latency scenario judges the p95 of every 2xx the run saw, timed while the run itself loaded
the target and the machine (the fuzzing, the other API's worker, whatever else shares a CI
runner): a clean backend can breach by noise. So a breach the scenario finds is a claim to
confirm. Once every xdist worker has finished, the controller (or the only process, with
``-n 0``) re-measures each breaching operation alone, before verdict.json, JUnit, the summary
and the Allure results are written: `WARM_UP` requests, then up to `SAMPLES` one after the
other (it stops sooner once the breach is certain, `DECIDED`), bounded by `PER_OPERATION_S` an
operation and `MAX_SECONDS` and `MAX_REQUESTS` an API.
The breach stands when the confirmation's p95 is over the budget too, and also when the
operation cannot be re-measured (the row says why): nothing passes that was not confirmed.

What can be re-measured:

- a read (GET, HEAD) the suite can send without guessing (`_latency.call_path`), with the run's
  token;
- a write, as the latency scenario measures the writes the run answered too rarely
  (`_exercise.Exerciser`): a create, a change, an action or a delete on resources of a kind the
  spec can also delete, made for it, journaled and deleted again; the accounts step and login,
  refresh and logout with throwaway accounts, within their login windows.

What the exerciser cannot send (a read-only run's write, a kind the spec cannot delete, a
singleton, an auth operation without an accounts step …) is not: its breach stands, saying why.

The row (`verdict.LatencyRow`, verdict.json's ``latency``) keeps the run's numbers (``p50_ms``
… ``max_ms``, ``samples``) and adds its ``confirmation`` (`verdict.Confirmation`): ``confirmed``
(over again; the row stays ``exceeded``), ``not_confirmed`` (within; the row becomes ``met``) or
``not_possible`` (it stays ``exceeded``), with ``confirmation_reason``,
``confirmation_samples``, ``confirmation_s`` and, from its samples, ``confirmed_p50_ms``,
``confirmed_p95_ms`` and ``confirmed_max_ms``. The budget's step and failure say both
measurements; a scenario whose every failure was an unconfirmed breach passes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from conformance.contract import Operation
from conformance.errors import ConformanceError
from conformance.suite.scenarios._exercise import READS, Exerciser, Measuring
from conformance.suite.scenarios._latency import ENOUGH, call_path, percentile
from conformance.suite.scenarios._story import (
    Exhausted,
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
)
from conformance.verdict import (
    Confirmation,
    Confirmed,
    LatencyOutcome,
    LatencyRow,
    Outcome,
    ScenarioVerdict,
    StepRecord,
)

if TYPE_CHECKING:
    from conformance.suite.scenarios import ScenarioContext

WARM_UP = 3
#: sequential samples of one operation (its p95 is then the 38th of 40: two slow answers pass)
SAMPLES = 40
#: this many samples over the budget make the p95 of `SAMPLES` over it, whatever the rest: the
#: re-measurement stops there (once it has `ENOUGH`), a breach that stays costs no more
DECIDED = SAMPLES - math.ceil(0.95 * SAMPLES) + 1
#: the most seconds one operation is re-measured for, and one API's confirmation in all
PER_OPERATION_S = 30.0
MAX_SECONDS = 120.0
MAX_REQUESTS = 2_000

CONFIRMED, NOT_CONFIRMED, NOT_POSSIBLE = (
    Confirmed.CONFIRMED,
    Confirmed.NOT_CONFIRMED,
    Confirmed.NOT_POSSIBLE,
)


@dataclass
class Remeasurement:
    """One operation re-measured alone: its samples, until the row keeps what they showed
    (`confirmation`)."""

    outcome: Confirmed
    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0
    #: why it could not be re-measured (not_possible)
    reason: str = ""

    def p95_ms(self) -> float:
        return percentile(sorted(self.samples), 0.95) * 1000

    def confirmation(self) -> Confirmation:
        """What the operation's latency row keeps of it."""
        found = Confirmation(self.outcome, len(self.samples), round(self.seconds, 2),
                             reason=self.reason)  # fmt: skip
        if self.samples:
            ordered = sorted(self.samples)
            found.p50_ms = round(percentile(ordered, 0.50) * 1000, 1)
            found.p95_ms = round(percentile(ordered, 0.95) * 1000, 1)
            found.max_ms = round(ordered[-1] * 1000, 1)
        return found

    def said(self, budget_ms: int) -> str:
        """What the re-measurement showed, in a clause."""
        alone = f"{len(self.samples)} samples one at a time, after {WARM_UP} to warm up"
        p95 = self.p95_ms() if self.samples else 0.0
        shown = f"{p95:.0f}" if p95 >= 10 else f"{p95:.1f}"
        if self.outcome == CONFIRMED:
            return (
                f"confirmed alone after the run: p95 {shown} ms, over {budget_ms} ms again"
                f" ({alone})"
            )
        if self.outcome == NOT_CONFIRMED:
            return (
                f"not confirmed alone after the run: p95 {shown} ms, within {budget_ms} ms"
                f" ({alone})"
            )
        return f"not re-measured alone after the run, so the breach stands: {self.reason}"


class Confirmer:
    """Re-measures breaching operations of one API, one at a time, with the run's token; a
    write through an `Exerciser` of its own, with the same means."""

    def __init__(self, measuring: Measuring) -> None:
        self.measuring = measuring
        self.story, self.token = measuring.story, measuring.token
        #: what the cleanup of made resources could not remove, one line each
        self.problems: list[str] = []
        self._began = 0.0

    def confirm(self, operation: Operation, budget_ms: int) -> Remeasurement:
        self._began = time.monotonic()
        label = operation.label
        self.story.samples.pop(label, None)
        try:
            reason = self._send(operation, budget_ms)
        except (Exhausted, httpx.HTTPError, ConformanceError) as error:
            reason = f"{type(error).__name__}: {error}"
        except (ScenarioSkipped, StepSkipped, Violation) as error:
            reason = str(getattr(error, "reason", None) or getattr(error, "message", error))
        samples = self.story.samples.pop(label, [])[WARM_UP:][:SAMPLES]
        seconds = time.monotonic() - self._began
        if len(samples) < ENOUGH:
            said = f"{len(samples)} successful answers in {seconds:.0f} s, fewer than {ENOUGH}"
            return Remeasurement(NOT_POSSIBLE, samples, seconds, reason or said)
        over = percentile(sorted(samples), 0.95) * 1000 > budget_ms
        return Remeasurement(CONFIRMED if over else NOT_CONFIRMED, samples, seconds)

    def _done(self, operation: Operation, budget_ms: int) -> bool:
        """Whether to stop: the time is up, or the breach is certain (`DECIDED`)."""
        if time.monotonic() - self._began > PER_OPERATION_S or self.story.remaining_s() <= 0:
            return True
        taken = self.story.samples.get(operation.label, [])[WARM_UP:]
        over = sum(1 for seconds in taken if seconds * 1000 > budget_ms)
        return len(taken) >= ENOUGH and over >= DECIDED

    def _send(self, operation: Operation, budget_ms: int) -> str:
        """Send ``operation`` `WARM_UP` + `SAMPLES` times (fewer when the time is up or the
        breach certain); why it cannot be re-measured at all ("": it was)."""
        if operation.method.lower() in READS:
            path = call_path(self.story, self.token(), operation)
            if path is None:
                names = ", ".join(p.name for p in operation.required_parameters)
                return (
                    f"the read needs a value for {names} that neither a list of its resource"
                    " nor a link of the spec names"
                )
            for _ in range(WARM_UP + SAMPLES):
                if self._done(operation, budget_ms):
                    break
                self.story.send(operation, token=self.token(), path=path, attached=False)
            return ""
        exerciser = Exerciser(self.measuring)
        label = operation.label

        def more() -> bool:
            sent = len(self.story.samples.get(label, []))
            return sent < WARM_UP + SAMPLES and not self._done(operation, budget_ms)

        try:
            return exerciser.exercise(operation, more)
        finally:
            self.problems += exerciser.remove()  # what is left: its deletes are timed too


def amend(verdict: ScenarioVerdict, row: LatencyRow, found: Remeasurement) -> None:
    """Write what the re-measurement showed into the row, and into the step and the failure of
    that operation's budget (a breach not confirmed is no failure any more)."""
    row.confirmation = found.confirmation()
    part = f"the budget of {row.operation}"
    said = found.said(row.budget_ms)
    if found.outcome == NOT_CONFIRMED:
        row.outcome = LatencyOutcome.MET
        verdict.failures = [failure for failure in verdict.failures if failure.part != part]
    else:
        for failure in verdict.failures:
            if failure.part == part:
                failure.message = f"{failure.message}; {said}"
    for step in verdict.steps:
        if step.part == part and step.outcome == "failed":
            step.detail = f"{step.detail}; {said}"
            if found.outcome == NOT_CONFIRMED:
                step.outcome = "passed"


def settle(verdict: ScenarioVerdict) -> None:
    """The latency verdict's outcome once its breaches were re-measured."""
    if verdict.outcome not in (Outcome.FAILED, Outcome.WAIVED):
        return
    if not verdict.failures:
        cleared = [
            f"{row.operation} (p95 {row.p95_ms:.0f} ms in the run,"
            f" {row.confirmation.p95_ms:.0f} ms alone)"
            for row in verdict.latency
            if row.confirmation is not None and row.confirmation.outcome == NOT_CONFIRMED
        ]
        verdict.outcome = Outcome.PASSED
        verdict.reason = "no breach of the run confirmed alone after it: " + ", ".join(cleared)
    elif all(failure.waived for failure in verdict.failures):
        verdict.outcome = Outcome.WAIVED
        verdict.reason = "; ".join(sorted({failure.waived for failure in verdict.failures}))
    else:
        verdict.outcome = Outcome.FAILED


def confirm_breaches(
    verdict: ScenarioVerdict,
    context: ScenarioContext,
    *,
    progress: Callable[[str], None] = lambda line: None,
    why_not: str = "",
) -> None:
    """Re-measure each breach of the latency ``verdict`` not yet confirmed, alone, and amend the
    verdict. ``why_not``: why that cannot be done (an interrupt, the run timeout): every breach
    then stands, saying so."""
    rows = [row for row in verdict.latency if row.awaits_confirmation]
    if not rows:
        return
    if why_not:
        for row in rows:
            amend(verdict, row, Remeasurement(NOT_POSSIBLE, reason=why_not))
        settle(verdict)
        return
    seconds = MAX_SECONDS
    if context.deadline is not None:  # the run timeout bounds this too
        seconds = max(0.0, min(seconds, context.deadline - time.time()))
    # after every test, outside any: nothing goes to Allure from here (the controller amends
    # the latency test's result from verdict.json)
    story = Story(
        context.api, "latency", context.spec, context.url, context.network,
        max_requests=MAX_REQUESTS, max_seconds=seconds, presenter=context.presenter,
    )  # fmt: skip
    confirmer = Confirmer(Measuring.of(context, story))
    try:
        with story.unattached():
            for row in rows:
                operation = context.spec.operation(str(row.operation_id))
                if operation is None:
                    found = Remeasurement(NOT_POSSIBLE, reason="the spec has no such operation")
                else:
                    progress(
                        f"{context.api}: re-measuring {row.operation} alone (p95"
                        f" {row.p95_ms:.0f} ms in the run, budget {row.budget_ms} ms)"
                    )
                    found = confirmer.confirm(operation, row.budget_ms)
                amend(verdict, row, found)
                progress(f"{context.api}: {row.operation}: {found.said(row.budget_ms)}")
    finally:
        story.close()
        verdict.requests += story.requests
    if confirmer.problems:
        problems = "; ".join(confirmer.problems)
        verdict.steps.append(
            StepRecord("cleanup", "remove what the confirmation made", "failed", problems)
        )
    settle(verdict)
