"""Scripted scenarios: what no schema can state. Each is generic: it runs on any spec that
declares what it needs and is skipped with the reason where a spec does not (for the project's
own specs such a skip fails the gate). Each is told as a story of parts and steps
(`_story.Story`), bounded in requests and seconds.

    auth_refresh   x-auth-flow (login, refresh)                 `_auth_refresh`
    rate_limits    x-rate-limit, x-auth-flow                    `_rate_limits`
    rollback       resources with a version (x-references)      `_rollback`
    conflicts      resources with a version, x-unique           `_conflicts`
    authorisation  x-roles, x-owner, x-auth-flow accounts       `_authorisation`
    latency        x-latency-budget-ms                          `_latency`

The data scenarios (rollback, conflicts, authorisation) make their own resources (`_makers`),
journaled and removed at the end like the throwaway accounts.

The latency scenario runs last on an API: it judges every 2xx the run saw, and measures what
the run answered too rarely, the writes on resources and throwaway accounts it makes for them
(`_exercise`, which the confirmation of a breach uses too).
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import allure
import httpx

from conformance.contract import AuthFlow, Spec
from conformance.suite._auth import Credentials
from conformance.suite._engine import Network
from conformance.suite._guard import Journal
from conformance.suite.scenarios import (
    _auth_refresh,
    _authorisation,
    _conflicts,
    _exercise,
    _latency,
    _rate_limits,
    _rollback,
)
from conformance.suite.scenarios._accounts import (
    Accounts,
    Pair,
    Principal,
    Sessions,
    least_privileged_role,
    own_principal,
)
from conformance.suite.scenarios._latency import ENOUGH
from conformance.suite.scenarios._makers import Actor, Maker
from conformance.suite.scenarios._story import (
    LATENCY_BUDGET,
    RULES,
    Exhausted,
    ScenarioFailure,
    ScenarioSkipped,
    ScenarioVerdict,
    StepRecord,
    Story,
    Violation,
    crashed,
)

#: the scenarios this version runs, in the order they run on an API (latency last)
NAMES = ("auth_refresh", "rate_limits", "rollback", "conflicts", "authorisation", "latency")

#: the scenarios that make, change and remove resources of their own
DATA = ("rollback", "conflicts", "authorisation")

#: the longest a scenario waits for a token to expire or a window to end, by default
MAX_WAIT_S = 65.0


@dataclass
class ScenarioContext:
    """What a scenario gets from the run."""

    api: str
    spec: Spec
    url: str
    credentials: Credentials = field(repr=False)
    network: Network
    #: the run's own access token (None: the run has none)
    run_token: Callable[[], str | None]
    journal: Path
    read_only: bool = False
    max_wait_s: float = MAX_WAIT_S
    #: operation label -> seconds of the 2xx answers the run has seen so far
    samples: Callable[[], Mapping[str, Sequence[float]]] = lambda: {}
    #: the spec is one of the project's own: a scenario skipped for a missing declaration fails
    own_spec: bool = False
    #: the run timeout (``time.time()``): no scenario's budget outlasts it
    deadline: float | None = None


def run_scenario(name: str, context: ScenarioContext) -> tuple[ScenarioVerdict, Story | None]:
    """Run one scenario on one API; its verdict, and the story (for its latency samples)."""
    began = time.monotonic()
    story: Story | None = None
    outcome, reason = "", ""
    try:
        story = _start(name, context)
        with contextlib.suppress(Violation):  # a step outside any part: recorded already
            _play(name, context, story)
    except ScenarioSkipped as skip:
        outcome, reason = "skipped", skip.reason
        if skip.missing_declaration and context.own_spec:
            outcome, reason = "failed", reason + " (the project's own spec must declare it)"
    except (Exhausted, httpx.HTTPError) as error:
        outcome, reason = "error", f"{type(error).__name__}: {error}"
    except Exception as error:  # our own bug: this scenario cannot judge, and says so
        outcome, reason = "error", crashed("the scenario", error)
    finally:
        if story is not None:
            story.close()
    verdict = ScenarioVerdict(context.api, name, outcome, reason)
    if story is not None:
        verdict.outcome = outcome or ("failed" if story.failures else "passed")
        claims = [step for step in story.steps if step.part not in ("setup", "cleanup")]
        if verdict.outcome == "passed" and claims and all(s.outcome == "skipped" for s in claims):
            # nothing was checked: not a pass (a target that refuses the run's token …)
            verdict.outcome, verdict.reason = "skipped", f"every step skipped: {claims[0].detail}"
        verdict.steps, verdict.failures = story.steps, story.failures
        verdict.requests, verdict.latency = story.requests, story.table
    verdict.seconds = round(time.monotonic() - began, 2)
    return verdict, story


def _start(name: str, context: ScenarioContext) -> Story:
    declarations = context.spec.declarations
    if name in ("auth_refresh", "rate_limits"):
        flow = declarations.auth_flow
        if flow is None or flow.refresh is None:
            raise ScenarioSkipped(
                "the spec declares no x-auth-flow with a login and a refresh",
                missing_declaration=True,
            )
    if name == "rate_limits" and declarations.rate_limit is None:
        raise ScenarioSkipped("the spec declares no x-rate-limit", missing_declaration=True)
    if (
        name == "latency"
        and declarations.latency_budget_ms is None
        and not any(operation.latency_budget_ms for operation in context.spec.operations)
    ):
        raise ScenarioSkipped("the spec declares no x-latency-budget-ms", missing_declaration=True)
    budgets = {
        "auth_refresh": (_auth_refresh.MAX_REQUESTS, 3 * context.max_wait_s + 60),
        "rate_limits": (_rate_limits.MAX_REQUESTS, 2 * context.max_wait_s + 60),
        "rollback": (_rollback.MAX_REQUESTS, 2 * context.max_wait_s + 300),
        "conflicts": (_conflicts.MAX_REQUESTS, 2 * context.max_wait_s + 300),
        "authorisation": (_authorisation.MAX_REQUESTS, 3 * context.max_wait_s + 300),
        "latency": (_latency.MAX_REQUESTS, 600.0),
    }
    requests, seconds = budgets[name]
    if context.deadline is not None:  # the run timeout bounds every story
        seconds = max(0.0, min(seconds, context.deadline - time.time()))
    return Story(
        context.api, name, context.spec, context.url, context.network,
        max_requests=requests, max_seconds=seconds,
    )  # fmt: skip


def _play(name: str, context: ScenarioContext, story: Story) -> None:
    if name == "latency":
        _latency_story(context, story)
        return
    if context.read_only:  # they log in and out, refresh, make accounts and resources
        raise ScenarioSkipped(f"read-only run: {name} sends more than GET requests")
    if name in DATA:
        _data_story(name, context, story)
        return
    flow = context.spec.declarations.auth_flow
    assert flow is not None
    sessions = Sessions(story, flow)
    journal = Journal(context.journal)
    accounts = Accounts(story, flow, context.run_token(), journal)
    try:
        if name == "auth_refresh":
            principal = _principal(context, accounts, story)
            _auth_refresh.AuthRefresh(story, sessions, principal, context.max_wait_s).run()
        else:
            if accounts.cannot_make is not None:
                raise accounts.cannot_make
            role = least_privileged_role(context.spec)
            with story.step("make two throwaway accounts"):
                first, second = accounts.make(role), accounts.make(role)
            _rate_limits.RateLimits(story, sessions, first, second, context.max_wait_s).run()
    finally:
        problems = accounts.remove()
        if problems:
            story.steps.append(StepRecord("cleanup", "remove the throwaway accounts", "failed",
                                          "; ".join(problems)))  # fmt: skip


def _data_story(name: str, context: ScenarioContext, story: Story) -> None:
    declarations = context.spec.declarations
    journal = Journal(context.journal)
    run = Actor("the run", None, context.run_token)
    maker = Maker(story, run, journal)
    flow = declarations.auth_flow
    accounts = Accounts(story, flow, context.run_token(), journal) if flow else None
    role = least_privileged_role(context.spec)
    try:
        if name == "authorisation":
            if not declarations.roles:
                raise ScenarioSkipped("the spec declares no x-roles", missing_declaration=True)
            if accounts is None:
                raise ScenarioSkipped(
                    "the spec declares no x-auth-flow (two throwaway principals are needed)",
                    missing_declaration=True,
                )
            if accounts.cannot_make is not None:
                raise accounts.cannot_make
            with story.step(f"make two throwaway {role} accounts, A and B, and log in"):
                first = _actor("A", accounts.make(role), flow, story)
                second = _actor("B", accounts.make(role), flow, story)
            _authorisation.Authorisation(story, maker, run, first, second).run_all()
        elif name == "rollback":
            other = None
            if accounts is not None and accounts.can_make and role is not None:
                with story.step(f"make a throwaway {role} account and log in"):
                    other = _actor(role, accounts.make(role), flow, story)
            _rollback.Rollback(story, maker, run, other).run_all()
        else:
            _conflicts.Conflicts(story, maker, run).run_all()
    finally:
        problems = maker.remove() + (accounts.remove() if accounts is not None else [])
        if problems:
            story.steps.append(StepRecord("cleanup", "remove what the scenario made", "failed",
                                          "; ".join(problems)))  # fmt: skip
        for kind, count in sorted(maker.left.items()):
            left = f"{count} left: the spec has no delete for a {kind}"
            story.steps.append(StepRecord("cleanup", f"remove the {kind} made", "skipped", left))


def _actor(name: str, principal: Principal, flow: AuthFlow | None, story: Story) -> Actor:
    """A throwaway account, logged in; its token is refreshed when near its end."""
    assert flow is not None
    sessions = Sessions(story, flow)
    response = sessions.login(principal)
    pair = sessions.pair(response) if response.status_code == 200 else None
    if pair is None:
        raise ScenarioSkipped(f"a throwaway account cannot log in: {response.status_code}")
    held: list[Pair] = [pair]

    def access() -> str | None:
        if held[0].stale(0.6):
            renewed = None
            if flow.refresh is not None and held[0].refresh:
                answer = sessions.refresh(held[0].refresh)
                renewed = (
                    sessions.pair(answer, refreshed=True) if answer.status_code == 200 else None
                )
            if renewed is None:
                answer = sessions.login(principal)
                renewed = sessions.pair(answer) if answer.status_code == 200 else None
            if renewed is not None:
                held[0] = renewed
        return held[0].access

    return Actor(f"{principal.role or 'user'} {name}", principal.role, access, principal.id,
                 principal.path)  # fmt: skip


def _principal(context: ScenarioContext, accounts: Accounts, story: Story) -> Principal:
    if accounts.can_make:
        with story.step("make a throwaway account"):
            principal = accounts.make(least_privileged_role(context.spec))
        return principal
    own = own_principal(context.credentials)
    if own is None:
        raise ScenarioSkipped(
            "no way to log in: the run has a static token and the spec no accounts step"
        )
    return own


def _latency_story(context: ScenarioContext, story: Story) -> None:
    measurement = _latency.Measurement(story, context.run_token())
    with (
        story.part("measure the read operations"),
        story.step(
            f"{_latency.WARM_UP} to warm up, then {_latency.SEQUENTIAL} one by one and"
            f" {_latency.CONCURRENT} from {_latency.CLIENTS} clients"
        ),
    ):
        measurement.run()
    seen = context.samples()
    root = context.spec.declarations.latency_budget_ms
    budgets = {
        operation.label: budget
        for operation in context.spec.operations
        if (budget := operation.latency_budget_ms or root) is not None
    }
    reasons = dict(measurement.reasons)
    written = _measure_writes(context, story, budgets, seen, measurement.samples, reasons)
    rows = []
    for operation in context.spec.operations:
        label = operation.label
        if label not in budgets:
            continue
        found = _latency.row(
            operation,
            budgets[label],
            seen.get(label, ()),
            [*measurement.samples.get(label, ()), *written.get(label, ())],
            reasons.get(label, ""),
        )
        rows.append(found)
    story.table = rows
    allure.attach(
        json.dumps(rows, indent=2),
        name="latency per operation",
        attachment_type=allure.attachment_type.JSON,
    )
    for found in rows:
        if found["outcome"] == "exceeded":
            with (
                story.part(f"the budget of {found['operation']}"),
                story.step(f"p95 within {found['budget_ms']} ms"),
            ):
                story.check(False, LATENCY_BUDGET, _latency.describe(found))


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
    `_latency.WARM_UP` of each left out). Why one stays short goes to ``reasons``."""
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
        return story.samples.get(label, [])[base.get(label, 0) :][_latency.WARM_UP :]

    exerciser = _exercise.Exerciser(story, context.run_token, Journal(context.journal))
    title = (
        f"{len(short)} writes with fewer than {ENOUGH} samples: on resources made for them and"
        f" deleted, and throwaway accounts ({_latency.WARM_UP} to warm up each)"
    )
    spent = ""
    try:
        with story.part("measure the writes"), story.step(title), story.unattached():
            for operation in short:
                label, need = operation.label, ENOUGH - have(operation.label)
                if len(written(label)) >= need:
                    continue
                if spent or story.remaining_s() < _latency.WRITE_MARGIN_S:
                    spent = spent or f"the scenario's {story.max_seconds:.0f} s were spent first"
                    reasons[label] = spent
                    continue
                more = _exercise.wanted(
                    functools.partial(_count, written, label), need, _latency.PER_WRITE_S
                )
                try:
                    reason = exerciser.exercise(operation, more)
                except Exhausted as error:
                    spent = reason = f"not reached: {error}"
                got = len(written(label))
                if got < need:
                    reasons[label] = reason or (
                        f"{have(label) + got} successful answers in {_latency.PER_WRITE_S:.0f} s"
                    )
    finally:
        problems = exerciser.remove()
        if problems:
            story.steps.append(StepRecord("cleanup", "remove what the measurement made",
                                          "failed", "; ".join(problems)))  # fmt: skip
    return {operation.label: written(operation.label) for operation in operations}


def _count(samples: Callable[[str], list[float]], label: str) -> int:
    return len(samples(label))


__all__ = [
    "MAX_WAIT_S",
    "NAMES",
    "RULES",
    "ScenarioContext",
    "ScenarioFailure",
    "ScenarioVerdict",
    "Violation",
    "run_scenario",
]
