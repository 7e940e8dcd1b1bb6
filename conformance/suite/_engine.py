"""One pass of schemathesis's engine over one API, folded into a record per operation
(`_fuzzing` runs the passes: the first, the reach, the focused stateful ones).

ARCHITECTURE.md ("How the suite drives schemathesis") says why: the engine is what ``st run``
runs, all phases and the stateful links included, and its events carry what each operation's
pytest item needs: the failures, the statuses seen, the response times.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import schemathesis
from hypothesis.control import current_build_context
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import PhaseName

import conformance.checks  # noqa: F401 - registers the contract's checks and our 429 handling
from conformance.checks import BeforeCall, throttled
from conformance.contract import Spec
from conformance.masking import SECRETS, mask, masked, reproduction
from conformance.verdict import Failure, plural

#: the engine's complaints that are not errors of the run: a selection (-k) without the links'
#: targets leaves the stateful phase nothing to do
NOT_ERRORS = ("Missing Open API links",)


def could_not_generate(error: BaseException, title: str) -> bool:
    """Whether an error the engine reports for an operation is one of generating its data in a
    phase (a hypothesis health check, an unsatisfiable schema), as schemathesis classifies them
    (`schemathesis.engine.errors`): the phase sent nothing, the other phases' results stand, as
    in ``st run``. A ``filter_case`` hook that rejected everything is a hook's error."""
    if isinstance(error, hypothesis.errors.FailedHealthCheck):
        return True
    if isinstance(error, hypothesis.errors.Unsatisfiable):
        return "filter_case" not in str(error)
    # an InvalidArgument for a base example larger than hypothesis handles has this title too
    return title == "Failed Health Check"


#: set when the run is asked to stop (SIGINT, SIGTERM, the run timeout; `sigterm_interrupts`):
#: schemathesis swallows a KeyboardInterrupt that lands while a phase joins its worker threads
#: and goes on with the next phase, so the event loop checks this after every event
STOPPING = threading.Event()

#: max examples per operation and phase; the stateful phase's steps per scenario and scenarios;
#: the focused stateful passes at most, for operations the first run did not answer with a 2xx
#: (a pass over a handful of operations takes 2 to 5 s)
#: ``patience``: the stateful scenarios in a row that may bring no operation a status it had not
#: had in the phase before the phase ends (`StatefulBudget`; 0: ``deep`` spends its budget)
PROFILES: dict[str, dict[str, int]] = {
    "smoke": {
        "max_examples": 5,
        "max_steps": 5,
        "scenarios": 25,
        "focused_passes": 3,
        "patience": 5,
    },
    "gate": {
        "max_examples": 20,
        "max_steps": 10,
        "scenarios": 60,
        "focused_passes": 10,
        "patience": 10,
    },
    "deep": {
        "max_examples": 100,
        "max_steps": 15,
        "scenarios": 200,
        "focused_passes": 15,
        "patience": 0,
    },
}


#: request headers whose values never leave the run (a curl line names the run's credentials by
#: their variables and masks the rest: `conformance.masking.reproduction`)
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "set-cookie"})

#: failures per operation and check whose response is kept for the reports (the rest keep their
#: curl and example: a broken header can fail thousands of cases), and the body's length kept
#: (its head and its tail: `abridged`)
RESPONSES_KEPT = 5
BODY_KEPT = 2000


def abridged(text: str, kept: int = BODY_KEPT) -> str:
    """``text`` within about ``kept`` characters: its head and its tail, and between them how
    much was left out. The end of a long body is often what matters (a traceback's last line
    names the error), and the head shows its shape."""
    if len(text) <= kept:
        return text
    tail = kept // 2
    head = kept - tail
    left_out = len(text) - head - tail
    return f"{text[:head]} … [{left_out:,} of {len(text):,} characters left out] … {text[-tail:]}"


#: the methods a read-only run sends (and the login it needs)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Network:
    """How the run reaches its targets: per-request timeout, TLS verification (False, True or a
    CA bundle's path) and an HTTP proxy."""

    timeout_s: float = 30.0
    verify: bool | str = True
    proxy: str | None = None

    def httpx_options(self) -> dict[str, Any]:
        return {"timeout": self.timeout_s, "verify": tls_context(self.verify), "proxy": self.proxy}


@functools.cache
def tls_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context of every client the process opens with ``verify`` (True: httpx's own,
    its CA bundle; a path: that bundle; False: no check), built once: httpx builds one for each
    client, loading the CA bundle each time, and a run opens a client for its reachability
    check, its credential check and its own calls (25 to 50 ms each; issue 25)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


DEFAULT_NETWORK = Network()


@dataclass
class OperationRecord:
    """What the run saw of one operation."""

    label: str
    operation_id: str
    #: status -> answers (the cases generated for it; not the probes checks send themselves)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    #: seconds, of every answer counted in ``statuses``
    latencies: list[tuple[int, float]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: errors that kept the engine from testing it (unreachable target, unusable schema …)
    errors: list[str] = field(default_factory=list)
    #: the phases that could not generate data for it, with the engine's reason ("the fuzzing
    #: phase could not generate data: Failed Health Check: …"): not errors; it is judged on
    #: what its other phases found (`could_not_generate`)
    unable: list[str] = field(default_factory=list)
    #: check -> how many cases it judged (failed or not)
    checks: collections.Counter[str] = field(default_factory=collections.Counter)
    #: 429s with a ``Retry-After`` our transport gave up waiting for: recorded, never judged
    throttled: int = 0
    #: check -> failures whose response was kept (`RESPONSES_KEPT`)
    responses_kept: collections.Counter[str] = field(
        default_factory=collections.Counter, repr=False
    )


@dataclass
class EngineRun:
    api: str
    seed: int
    records: dict[str, OperationRecord]
    seconds: float = 0.0
    #: errors not tied to one operation
    errors: list[str] = field(default_factory=list)
    #: what the engine said that does not make the run untrustworthy
    notes: list[str] = field(default_factory=list)
    #: the run timeout stopped the engine before it had done all it would have
    cut_short: bool = False
    #: the stateful phase's suites (one, and another after each new failure) and its scenarios
    #: that sent a request, in all the passes (`StatefulBudget` bounds the scenarios of each)
    stateful_suites: int = 0
    stateful_scenarios: int = 0


def engine_settings(
    url: str,
    headers: Mapping[str, str],
    profile: str,
    seed: int,
    workers: int = 1,
    *,
    stateful_only: bool = False,
    infer_links: bool = True,
    network: Network = DEFAULT_NETWORK,
    read_only: bool = False,
    fail_fast: bool = False,
    credential: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The engine's settings, as the keys of ``schemathesis.toml`` (what `engine_config` reads,
    and what ``bench/suite_vs_st.py`` hands ``st run``). ``infer_links``: let schemathesis guess
    links from the
    response schemas (dependency analysis); off for a spec that declares its own, where a guess
    only adds false alarms (a null ``positionId`` became ``DELETE /positions/None``,
    "rejected"). ``credential``: where the run's own credential goes (``{"header.X-API-Key":
    placeholder}``, `Presenter.slots`), given to the engine as fixed parameters, as ``st run``'s
    ``[headers]`` are: it draws no value there and never breaks it in a negative case, so a
    negative case breaks the request's own data, not its credential (the session's auth puts
    the real one in place of the placeholder on every case)."""
    numbers = PROFILES[profile]
    unit = not stateful_only
    algorithms = (
        ["location-headers", "dependency-analysis"] if infer_links else ["location-headers"]
    )
    coverage: dict[str, Any] = {"enabled": unit}
    if read_only:  # its probes of undocumented methods would send POST, PUT, DELETE …
        coverage["unexpected-methods"] = []
    return {
        "seed": seed,
        "base-url": url,
        "headers": dict(headers),
        "workers": workers,
        "request-timeout": network.timeout_s,
        "tls-verify": network.verify,
        **({"proxy": network.proxy} if network.proxy else {}),
        **({"parameters": dict(credential)} if credential else {}),
        "continue-on-failure": True,
        # fail fast: the engine stops at its first failure, and does not shrink it (a
        # minimal example is worth seconds in a full run, not in one that wants a verdict)
        "max-failures": 1 if fail_fast else 10_000,
        "generation": {
            "max-examples": numbers["max_examples"],
            "database": "none",
            "no-shrink": fail_fast,
        },
        "cache": {"enabled": False},
        "phases": {
            "examples": {"enabled": unit},
            "coverage": coverage,
            "fuzzing": {"enabled": unit},
            "stateful": {
                "enabled": True,
                "inference": {"algorithms": algorithms},
                "max-steps": numbers["max_steps"],
                "generation": {"max-examples": numbers["scenarios"]},
            },
        },
    }


def schemathesis_schema(spec: Spec, config: SchemathesisConfig | None = None) -> Any:
    """schemathesis's schema of ``spec``: the file as `st run` loads it, or, when overlays were
    applied to it, the overlaid document (so that the fuzzing, the checks it runs and the
    scenarios read the declarations the contract read), located at the spec's file so that a
    relative ``$ref`` to another file resolves as from the file."""
    if not spec.document.overlays:
        return schemathesis.openapi.from_path(str(spec.path), config=config)
    # a copy: schemathesis may change the document it is given, the contract's is shared
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(spec.data), config=config)
    loaded.location = spec.path.absolute().as_uri()
    return loaded


def engine_config(settings: Mapping[str, Any]) -> SchemathesisConfig:
    """The engine's configuration from its settings (`engine_settings`), its curl lines with
    the values as sent: `masking.reproduction` writes the run's credentials as the variables
    they came from and masks every other secret, where schemathesis's own sanitisation put
    ``[Filtered]`` in place of whole header values, scheme and all. (Output only: ``st run``
    given the same settings keeps its own, since nothing masks its terminal.)"""
    output = {"sanitization": {"enabled": False}}
    return SchemathesisConfig.from_dict({**settings, "output": output})


class StatefulBudget:
    """The stateful phase's scenarios in all, restarts included (issue 25). The engine runs the
    phase again after each new failure, each time with the whole ``max-examples`` of scenarios
    (schemathesis's `_classify_failure_group`), so a run that finds more also runs longer: the
    planted tracker of the zoo ran 7 suites, 177 scenarios, where ``st run`` found less in 54.
    Here the profile's scenarios are the phase's: the scenario after the last is not begun.

    The phase also ends when it has stopped learning: after ``patience`` scenarios in a row
    that brought no operation a status it had not answered in the phase (0: never), once a
    third of its scenarios ran (hypothesis begins a suite with its simplest cases). Where
    hypothesis's own stop comes late (its chains go on when writes reach items that exist), a
    small API's phase otherwise spent its whole budget repeating what it had seen.

    Counted in the engine's own thread, at a scenario's first request (each scenario is one
    hypothesis test case: its data), and each answer in the same thread's ``after_call``, so
    that a seed still gives the same run. The stop is schemathesis's own (the event its CLI sets
    on Ctrl-C): what was judged is kept, and `_events` knows the interrupt for the budget's
    (``spent``; ``settled`` when it came from ``patience``)."""

    def __init__(self, scenarios: int, stop: threading.Event, patience: int = 0) -> None:
        self.scenarios = scenarios
        self.stop = stop
        self.patience = patience
        self.begun = 0
        self.spent = False
        self.settled = False
        self._current: object = None
        self._answered: set[tuple[str, int]] = set()
        self._learned = True  # the scenario under way brought a new (operation, status)
        self._quiet = 0  # scenarios in a row that brought none

    def before_call(self, case: Any) -> None:
        if not stateful(case):
            return
        try:
            data = current_build_context().data
        except hypothesis.errors.InvalidArgument:  # not inside a scenario
            return
        if data is self._current:
            return
        self._current = data
        self._quiet = 0 if self._learned else self._quiet + 1
        self._learned = False
        self.begun += 1
        if self.patience and self._quiet >= self.patience and self.begun > self.scenarios // 3:
            self.settled = True
        if self.begun > self.scenarios or self.settled:
            self.spent = True
            self.stop.set()
            raise KeyboardInterrupt  # before this scenario's first request is sent

    def after_call(self, context: Any, case: Any, response: Any) -> None:
        if not stateful(case):
            return
        answer = (str(case.operation.label), int(response.status_code))
        if answer not in self._answered:
            self._answered.add(answer)
            self._learned = True


def stateful(case: Any) -> bool:
    """Whether ``case`` is one of the stateful phase's."""
    meta = getattr(case, "meta", None)
    return meta is not None and str(meta.phase.name) == "stateful"


#: the stateful budget's ``before_call`` (one engine runs at a time)
_BEFORE_CALL = BeforeCall()


def run_pass(
    run: EngineRun,
    spec: Spec,
    config: SchemathesisConfig,
    operation_ids: list[str],
    prepare: Callable[[Any], AbstractContextManager[None]] | None,
    progress: Callable[[str], None],
    deadline: float | None = None,
    patience: int = 0,
) -> None:
    """One pass of the engine over ``operation_ids``, its events folded into ``run``'s records
    (`conformance.suite._fuzzing` runs the passes of a run); ``patience``: `StatefulBudget`'s."""
    if deadline is not None and time.time() >= deadline:
        run.cut_short = True
        return
    loaded = schemathesis_schema(spec, config)
    schema = loaded.include(operation_id=operation_ids)
    with (
        prepare(schema) if prepare is not None else contextlib.nullcontext(),
        no_local_constants(),
        untargeted(),
        fixed_in_stateful(),
    ):
        stream = from_schema(schema).execute()
        scenarios = config.projects.default.phases.stateful.generation.max_examples
        budget = StatefulBudget(scenarios or 0, stream.stop_event, patience)
        schema.hooks.register_hook_with_name(budget.after_call, "after_call")
        # schemathesis's own stop (what its CLI does on Ctrl-C): the phases wind down and the
        # events already produced still come, so what was judged before the deadline is kept
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.time()), stream.stop)
            timer.daemon = True
            timer.start()
        try:
            with _BEFORE_CALL.active(budget):
                _events(run, stream, progress, deadline, budget)
        finally:
            if timer is not None:
                timer.cancel()


@contextlib.contextmanager
def untargeted() -> Iterator[None]:
    """hypothesis's ``target`` phase left out of the engine's tests. schemathesis aims each
    fuzzed operation at its success rate; where most drawn cases are rejected before they are
    sent (a negative case on an operation whose only path parameter takes any text leaves
    nothing to break once the credential is fixed), hypothesis's optimiser hill-climbs on
    rejections for tens of seconds without a request: 26 s of a zoo blog run's fuzzing phase
    (3 s without it; ``st run`` took 49 s there). The budget's cases are drawn as before."""
    from schemathesis.config._projects import ProjectConfig

    original = ProjectConfig.get_hypothesis_settings

    def settings(self: ProjectConfig, *args: Any, **kwargs: Any) -> hypothesis.settings:
        drawn = original(self, *args, **kwargs)
        phases = [phase for phase in drawn.phases if phase is not hypothesis.Phase.target]
        return hypothesis.settings(drawn, phases=phases)

    ProjectConfig.get_hypothesis_settings = settings  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProjectConfig.get_hypothesis_settings = original  # type: ignore[method-assign]


@contextlib.contextmanager
def fixed_in_stateful() -> Iterator[None]:
    """The configuration's fixed parameters (the credential's place, `Presenter.slots`) given to
    the stateful phase's steps as they are drawn, as the unit phases get them. schemathesis
    draws a step's headers, query and cookies as if nothing were fixed and puts the fixed values
    on the case only before it is sent: each step drew a value for the credential's header
    (a millisecond a step, 5% of a planted tracker run at seed 2), and a negative step could
    choose to break only that header, which the fixed value then replaced (a valid request
    judged as an invalid one) or the auth left off (a 401 at the door). A location the fixed
    values cover whole is not one a negative step breaks, as in the unit phases."""
    from schemathesis.generation import overrides
    from schemathesis.specs.openapi import stateful

    original = stateful._step_case_strategy

    def step_case_strategy(target: Any, modes: Any, **kwargs: Any) -> Any:
        fixed = overrides.for_operation(target.schema.config, operation=target)
        for name in ("headers", "query", "cookies"):
            values = getattr(fixed, name)
            if values:
                kwargs[name] = {**(kwargs.get(name) or {}), **values}
        return original(target, modes, **kwargs)

    stateful._step_case_strategy = step_case_strategy
    try:
        yield
    finally:
        stateful._step_case_strategy = original


@contextlib.contextmanager
def no_local_constants() -> Iterator[None]:
    """hypothesis (6.131+) mixes the literals of every module outside site-packages (ours, in an
    editable install) into what it draws, from the modules loaded at the moment of each draw:
    the same seed drew other requests after any edit of our code, in a wheel install, and as
    lazily imported modules arrived mid-run. Its own constants (edge values of each type) stay."""
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    empty = Constants()
    original = providers._get_local_constants
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()


def _events(
    run: EngineRun,
    stream: Iterable[Any],
    progress: Callable[[str], None],
    deadline: float | None = None,
    budget: StatefulBudget | None = None,
) -> None:
    api, records = run.api, run.records
    began = (run.stateful_scenarios, run.stateful_suites)  # this pass's are counted from here
    for event in stream:
        if STOPPING.is_set():  # an interrupt the engine swallowed: stop as Ctrl-C would
            raise KeyboardInterrupt
        if isinstance(event, events.ScenarioFinished):
            if event.phase is PhaseName.STATEFUL_TESTING and event.recorder.interactions:
                run.stateful_scenarios += 1  # one that sent a request
            if event.status is not Status.SKIP:
                _fold(event, records)
        elif isinstance(event, events.SuiteStarted):
            if event.phase is PhaseName.STATEFUL_TESTING:
                run.stateful_suites += 1
        elif isinstance(event, events.NonFatalError):
            message = mask(f"{event.info.title}: {event.info.message}".strip())
            if str(event.info.title).startswith(NOT_ERRORS):
                run.notes.append(message)
                continue
            record = records.get(str(event.label))
            if record is not None and could_not_generate(event.value, str(event.info.title)):
                phase = getattr(event.phase, "value", None) or "unnamed"
                unable = f"the {phase} phase could not generate data: {message}"
                if unable not in record.unable:
                    record.unable.append(unable)
                continue
            (record.errors if record is not None else run.errors).append(message)
        elif isinstance(event, events.FatalError):
            run.errors.append(mask(f"{type(event.exception).__name__}: {event.exception}"))
        elif isinstance(event, events.PhaseFinished):
            name = event.phase.name.lower()
            if (
                name in ("examples", "coverage", "fuzzing", "stateful")
                and event.status is not Status.SKIP
            ):
                said = ""
                if name == "stateful":
                    scenarios = run.stateful_scenarios - began[0]
                    suites = run.stateful_suites - began[1]
                    again = (
                        f", begun again after {plural(suites - 1, 'new failure')}"
                        if suites > 1
                        else ""
                    )
                    settled = ""
                    if budget is not None and budget.settled:
                        settled = f"; the last {budget.patience} brought no operation a new status"
                    said = f" ({scenarios} scenarios{again}{settled})"
                progress(f"{api}: {name} phase done{said}")
        elif isinstance(event, events.Interrupted):
            if budget is not None and budget.spent and not STOPPING.is_set():
                continue  # the stateful phase's scenarios are spent: its planned end
            if deadline is not None and time.time() >= deadline:
                run.cut_short = True  # our stop at the run timeout: the last events follow
                continue
            raise KeyboardInterrupt  # Ctrl-C: no focused passes after it
        elif isinstance(event, events.EngineFinished):
            run.seconds += float(event.running_time)


def _fold(event: Any, records: dict[str, OperationRecord]) -> None:
    recorder = event.recorder
    phase = getattr(event.phase, "value", str(event.phase))
    # a throttled probe (the request a check sent itself) leaves its case unjudged too
    throttled = set()
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        response = interaction.response
        if node is not None and response is not None and _is_throttled(response):
            throttled.add(case_id)
            if node.parent_id is not None and getattr(node, "transition", None) is None:
                throttled.add(node.parent_id)
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        if node is None or interaction.response is None:
            continue
        if node.parent_id is not None and getattr(node, "transition", None) is None:
            continue  # a probe a check sent (ignored_auth …), not a generated case
        record = records.get(node.value.operation.label)
        if record is None:
            continue
        if case_id in throttled:
            record.throttled += 1
            continue
        status = int(interaction.response.status_code)
        record.statuses[status] += 1
        record.latencies.append((status, float(interaction.response.elapsed)))
    for case_id, checks in recorder.checks.items():
        node = recorder.cases.get(case_id)
        if node is None or case_id in throttled:
            continue
        record = records.get(node.value.operation.label)
        if record is None:
            continue
        for check in checks:
            record.checks[str(check.name)] += 1
            if check.status is not Status.FAILURE or check.failure_info is None:
                continue
            info = check.failure_info
            response = recorder.find_response(case_id=case_id)
            steps = getattr(info, "steps", None) or []
            kept = None
            if response is not None and record.responses_kept[str(check.name)] < RESPONSES_KEPT:
                record.responses_kept[str(check.name)] += 1
                kept = response_of(response)
            message = mask(str(info.failure.message))
            record.failures.append(
                Failure(
                    check=str(check.name),
                    title=mask(str(info.failure.title)),
                    message=message,
                    phase=str(phase),
                    status=int(response.status_code) if response is not None else None,
                    curl=reproduction(str(info.code_sample)),
                    example=SECRETS.mask_data(example_of(node.value)),
                    steps=tuple(reproduction(str(step.curl)) for step in steps[:-1]),
                    response=kept,
                    lines=lines_of(info.failure, message),
                )
            )


def lines_of(failure: Any, message: str) -> tuple[str, ...]:
    """A failure's problems, one each: ours carries them (`ContractFailure.lines`); for
    schemathesis's own, the non-empty lines of its (masked) message, or its title where the
    message is empty (a server error has none)."""
    lines = getattr(failure, "lines", None)
    if isinstance(lines, tuple):
        return tuple(mask(str(line)) for line in lines)
    said = tuple(line for line in message.splitlines() if line.strip())
    return said or (mask(str(failure.title)),)


def response_of(response: Any) -> dict[str, Any]:
    """A response as plain data for the reports: status, headers, the body (text, its head and
    tail within `BODY_KEPT`) and how long it took, secrets masked (before the cut: half a
    secret is not caught by its value)."""
    headers = {}
    for name, values in dict(response.headers or {}).items():
        value = ", ".join(map(str, values)) if isinstance(values, list) else str(values)
        headers[str(name)] = masked(value) if str(name).lower() in SECRET_HEADERS else value
    content = bytes(response.content or b"")
    try:
        body = content.decode(response.encoding or "utf-8")
    except (LookupError, UnicodeDecodeError):
        body = repr(content)
    return {
        "status": int(response.status_code),
        "headers": SECRETS.mask_data(headers),
        "body": abridged(mask(body)),
        "elapsed_ms": round(float(response.elapsed) * 1000, 1),
    }


def _is_throttled(response: Any) -> bool:
    """A 429 that says when to come back, which the transport gave up waiting for
    (`conformance.checks.throttled`), on schemathesis's response (headers as lists)."""
    values = response.headers.get("retry-after") or []
    value = values[0] if isinstance(values, list) and values else str(values)
    return throttled(int(response.status_code), value)


def example_of(case: Any) -> dict[str, Any]:
    """The case as plain data: what a failure's reader needs beside the curl line."""
    headers = {
        str(name): masked(str(value)) if str(name).lower() in SECRET_HEADERS else str(value)
        for name, value in dict(case.headers or {}).items()
    }
    found: dict[str, Any] = {"method": str(case.method).upper(), "path": str(case.path)}
    for name, value in (
        ("path_parameters", case.path_parameters),
        ("query", case.query),
        ("headers", headers),
        ("cookies", {str(k): masked(str(v)) for k, v in (case.cookies or {}).items()}),
    ):
        if value:
            found[name] = _plain(dict(value))
    body = case.body
    if not isinstance(body, NotSet):
        found["body"] = _plain(body)
        if case.media_type:
            found["media_type"] = str(case.media_type)
    return found


def _plain(value: Any) -> Any:
    """Plain JSON data, built anew: schemathesis's values may be subclasses (a ``str`` that
    remembers its encoding) that neither copy nor compare as plain ones; bytes become text (or
    their repr), anything else its repr."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return repr(value)
