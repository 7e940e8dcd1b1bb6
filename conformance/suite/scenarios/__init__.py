"""Scripted scenarios: what no schema can state. Each is generic: it runs on any spec that
declares what it needs and is skipped with the reason where a spec does not (for the project's
own specs such a skip fails the gate). Each is told as a story of parts and steps
(`_story.Story`), bounded in requests and seconds.

Each scenario is one module that registers its play with `_registry.scenario`, naming what it
requires from the spec and its budget; the registry is the one list of them (`NAMES`, in the
order they run on an API).

The data scenarios (`DATA`) make their own resources (`_makers`), journaled and removed at the
end like the throwaway accounts (`_changes.cast`).

The latency scenario runs last on an API: it judges every 2xx the run saw, and measures what
the run answered too rarely, the writes on resources and throwaway accounts it makes for them
(`_exercise`, which the confirmation of a breach uses too).

The registry (appended on import, so ``help()`` shows it; README's table is held to it):
"""

from __future__ import annotations

import contextlib
import time

import httpx

from conformance.catalogue import is_warning

# each scenario module registers itself on import: a new scenario is imported here
from conformance.suite.scenarios import (  # noqa: F401
    _auth_refresh,
    _authorisation,
    _collections,
    _conflicts,
    _latency,
    _rate_limits,
    _rollback,
)
from conformance.suite.scenarios._registry import (
    MAX_WAIT_S,
    Scenario,
    ScenarioContext,
    lookup,
    registered,
    scenario,
    table,
)
from conformance.suite.scenarios._story import (
    RULES,
    Exhausted,
    ScenarioSkipped,
    Story,
    Violation,
    crashed,
)
from conformance.verdict import Outcome, ScenarioFailure, ScenarioVerdict

#: the scenarios this version runs, in the order they run on an API (latency last)
NAMES = tuple(entry.name for entry in registered())

#: the scenarios that make, change and remove resources of their own
DATA = tuple(entry.name for entry in registered() if entry.data)

# the security probes register as scenarios of kind "probe" (imported once the registry is)
from conformance.suite import probes  # noqa: E402, F401

#: the security probes this version runs, in the order they run on an API (after the scenarios)
PROBES = tuple(entry.name for entry in registered("probe"))

__doc__ = f"{__doc__}\n{table()}\n"


def run_scenario(name: str, context: ScenarioContext) -> tuple[ScenarioVerdict, Story | None]:
    """Run one scenario on one API; its verdict, and the story (for its latency samples)."""
    began = time.monotonic()
    story: Story | None = None
    outcome: Outcome | None = None
    reason = ""
    try:
        entry = lookup(name)
        story = _start(entry, context)
        with contextlib.suppress(Violation):  # a step outside any part: recorded already
            _play(entry, context, story)
    except ScenarioSkipped as skip:
        outcome, reason = Outcome.SKIPPED, skip.reason
        if skip.missing_declaration and context.own_spec:
            outcome, reason = Outcome.FAILED, reason + " (the project's own spec must declare it)"
    except (Exhausted, httpx.HTTPError) as error:
        outcome, reason = Outcome.ERROR, f"{type(error).__name__}: {error}"
    except Exception as error:  # our own bug: this scenario cannot judge, and says so
        outcome, reason = Outcome.ERROR, crashed("the scenario", error)
    finally:
        if story is not None:
            story.close()
    verdict = told(context.api, name, outcome, reason, story)
    verdict.kind = kind_of(name)
    verdict.seconds = round(time.monotonic() - began, 2)
    return verdict, story


def kind_of(name: str) -> str:
    """ "scenario" or "probe" (an unknown name: "scenario")."""
    try:
        return lookup(name).kind
    except KeyError:
        return "scenario"


def told(
    api: str, name: str, outcome: Outcome | None, reason: str, story: Story | None
) -> ScenarioVerdict:
    """A scenario's verdict from how its play ended (``outcome``: None when it ended by itself)
    and what its story recorded: failed with a failure, passed without; a play whose every
    claim was skipped checked nothing, and is skipped, not passed."""
    verdict = ScenarioVerdict(api, name, outcome or Outcome.PASSED, reason)
    if story is None:
        return verdict
    failures = [f for f in story.failures if not is_warning(f.rule)]
    verdict.warnings = [f for f in story.failures if is_warning(f.rule)]
    verdict.outcome = outcome or (Outcome.FAILED if failures else Outcome.PASSED)
    claims = [step for step in story.steps if step.part not in ("setup", "cleanup")]
    if verdict.outcome == Outcome.PASSED and claims and all(s.outcome == "skipped" for s in claims):
        # nothing was checked: not a pass (a target that refuses the run's token …)
        verdict.outcome = Outcome.SKIPPED
        verdict.reason = f"every step skipped: {claims[0].detail}"
    verdict.steps, verdict.failures = story.steps, failures
    verdict.requests, verdict.latency = story.requests, story.table
    return verdict


def _start(entry: Scenario, context: ScenarioContext) -> Story:
    """The scenario's story, once the spec has what its guards ask for."""
    for guard in entry.guards:
        guard(context.spec)
    requests, seconds = entry.budget(context.max_wait_s, context.deadline)
    return Story(
        context.api, entry.name, context.spec, context.url, context.network,
        max_requests=requests, max_seconds=seconds, presenter=context.presenter,
    )  # fmt: skip


def _play(entry: Scenario, context: ScenarioContext, story: Story) -> None:
    if context.read_only and not entry.read_only:  # they log in and out, make accounts …
        raise ScenarioSkipped(f"read-only run: {entry.name} sends more than GET requests")
    entry.play(context, story)


__all__ = [
    "DATA",
    "MAX_WAIT_S",
    "NAMES",
    "PROBES",
    "RULES",
    "Scenario",
    "ScenarioContext",
    "ScenarioFailure",
    "ScenarioVerdict",
    "Violation",
    "kind_of",
    "registered",
    "run_scenario",
    "scenario",
]
