"""A conformance run's state inside pytest: its targets, the operations selected, one engine run
per API (on the first test that needs it), the verdicts, and verdict.json at the end."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.contract import Exclusion, Spec, singletons
from conformance.errors import ConformanceError
from conformance.suite._auth import DEFAULT_PRINCIPAL, Credentials, RunSession
from conformance.suite._client import RunClient
from conformance.suite._engine import (
    PROFILES,
    SAFE_METHODS,
    EngineRun,
    Network,
    OperationRecord,
)
from conformance.suite._fuzzing import run_engine
from conformance.suite._guard import Guard, installed
from conformance.suite._journal import Cleanup, Journal
from conformance.suite._preflight import open_access
from conformance.suite._singletons import Singletons
from conformance.suite._verdict import (
    documented_statuses,
    judge,
    rules_document,
    skipped,
)
from conformance.suite._waivers import (
    Waiver,
    used_names,
    waive_operation,
    waive_scenario,
)
from conformance.suite._waivers import report as waiver_report
from conformance.suite.scenarios import (
    MAX_WAIT_S,
    ScenarioContext,
    kind_of,
    run_scenario,
)
from conformance.suite.scenarios._confirm import confirm_breaches
from conformance.suite.scenarios._story import crashed
from conformance.verdict import Cleanup as CleanupReport
from conformance.verdict import (
    ExcludedOperation,
    OperationVerdict,
    Outcome,
    RuleUse,
    Run,
    ScenarioVerdict,
    Waivers,
    plural,
)
from conformance.verdict import Target as VerdictTarget

#: why fail fast leaves an operation unjudged
NOT_REACHED = "not reached: the run stopped at its first failure (fail fast)"
#: why the run timeout leaves an operation or a scenario unjudged
NOT_REACHED_IN_TIME = "not reached: the run timeout expired first"


@dataclass
class Target:
    api: str
    spec: Spec
    url: str
    credentials: Credentials = field(repr=False)
    #: the spec is one of the project's own (bundled): a scenario it cannot run fails the gate
    own_spec: bool = False
    #: the operations the run leaves out (`contract.exclusions`), already gone from ``spec``
    #: (`Spec.without`): nothing of the run sees them, verdict.json lists them
    excluded: tuple[Exclusion, ...] = ()


@dataclass
class SuiteSession:
    targets: dict[str, Target]
    profile: str = "gate"
    seed: int = field(default_factory=lambda: random.randrange(2**32))
    reports: Path = Path("reports")
    progress: Callable[[str], None] = lambda line: None
    network: Network = field(default_factory=Network)
    #: send only GET, HEAD and OPTIONS (and the login the session needs); other operations skip
    read_only: bool = False
    #: the targets are disposable (``environment = "disposable"``, an ephemeral CI database):
    #: writes may go to any item; shared (False) changes only what the run made
    disposable: bool = False
    #: skip the writes to singletons (``/system-config``) instead of restoring them afterwards
    exclude_singletons: bool = False
    #: stop at the first failure: the scenarios before the fuzzing, the engine stops at its first
    #: failed check, and an operation it did not reach is reported as skipped, not as a failure
    fail_fast: bool = False
    #: an operation never answered with a documented 2xx fails the gate (``not_exercised``) on
    #: every spec, not only under ``x-contract: strict`` (elsewhere it is ``untested``)
    require_exercised: bool = False
    #: "K/N" when this run is one shard of several
    shard: str | None = None
    #: api -> the operation ids of the items pytest selected
    selected: dict[str, set[str]] = field(default_factory=dict)
    runs: dict[str, EngineRun] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], OperationVerdict] = field(default_factory=dict)
    #: api -> what the cleanup did
    cleanups: dict[str, CleanupReport] = field(default_factory=dict)
    #: api -> the run's own session with it (None: no credentials)
    sessions: dict[str, RunSession | None] = field(default_factory=dict)
    #: the (api, operation id) whose verdicts a test asked for: an xdist worker reports these
    asked: set[tuple[str, str]] = field(default_factory=set)
    #: scenario -> switched on (``[scenarios]`` of the config); a missing name is on
    switches: dict[str, bool] = field(default_factory=dict)
    #: the longest a scenario waits for a token's expiry or a rate-limit window
    max_wait_s: float = MAX_WAIT_S
    scenarios: dict[tuple[str, str], ScenarioVerdict] = field(default_factory=dict)
    #: the verdict, once the reports are written (`finish`, then the plugin)
    run: Run | None = None
    #: api -> operation label -> seconds of the 2xx answers the scenarios saw
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: the waivers of the run (``waivers.toml``) and the day they are judged on
    waivers: list[Waiver] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    #: the run timeout (seconds), and when it expires (``time.time()``): the engine and the
    #: scenarios stop there and what they judged is kept (an xdist worker gets the controller's)
    run_timeout_s: float | None = None
    deadline: float | None = None
    #: why the run stopped before judging all it selected ("": it did not); the verdict is broken
    cut_short: str = ""
    #: the suite's own code crashing in a test: the run could not judge (broken)
    crashes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile {self.profile!r}: one of {', '.join(PROFILES)}")

    def verdict_for(self, api: str, operation_id: str) -> OperationVerdict:
        self.asked.add((api, operation_id))
        if api not in self.runs:
            try:
                self._run(api)
            except ConformanceError as error:  # no session, no reachable target …
                self._broken(api, str(error))
            except Exception as error:  # our own bug: the run cannot judge, and says so
                self._broken(api, crashed(f"the {api} run", error))
        return self.verdicts[(api, operation_id)]

    def timed_out(self) -> bool:
        """Whether the run timeout has expired (then what is not yet judged is not reached)."""
        return self.deadline is not None and time.time() >= self.deadline

    def _cut_short_by_timeout(self) -> None:
        self.cut_short = f"the run timeout of {self.run_timeout_s or 0:g} s expired"

    def _judged(self, api: str, record: OperationRecord) -> None:
        """Keep an operation's verdict, with the waivers in force applied (once)."""
        verdict = judge(
            api, self.targets[api].spec, record, require_exercised=self.require_exercised
        )
        waive_operation(verdict, self.waivers, self.today)
        self.verdicts[(api, record.operation_id)] = verdict

    def _broken(self, api: str, message: str) -> None:
        target = self.targets[api]
        self.runs[api] = EngineRun(api, self.seed, {}, errors=[message])
        wanted = self.selected.get(api) or {str(op.operation_id) for op in target.spec.operations}
        for operation_id in wanted:
            operation = target.spec.operation(operation_id)
            assert operation is not None
            record = OperationRecord(operation.label, operation_id, errors=[message])
            self._judged(api, record)

    def _run(self, api: str) -> None:
        target = self.targets[api]
        wanted = set(
            self.selected.get(api) or {str(op.operation_id) for op in target.spec.operations}
        )
        if self.read_only:
            unsafe = {
                operation_id
                for operation_id in wanted
                if str(target.spec.operation(operation_id).method).upper()  # type: ignore[union-attr]
                not in SAFE_METHODS
            }
            for operation_id in unsafe:
                operation = target.spec.operation(operation_id)
                assert operation is not None
                documented = documented_statuses(target.spec, operation_id)
                self.verdicts[(api, operation_id)] = skipped(
                    api, operation.label, operation_id, "read-only run: not sent", documented
                )
            wanted -= unsafe
        if self.exclude_singletons:
            for singleton in singletons(target.spec):
                operation_id = str(singleton.update.operation_id)
                if operation_id in wanted:
                    documented = documented_statuses(target.spec, operation_id)
                    self.verdicts[(api, operation_id)] = skipped(
                        api, singleton.update.label, operation_id, "singletons excluded", documented
                    )
                    wanted.discard(operation_id)
        headers: dict[str, str] = {}
        session = self._session(api)

        if not wanted:  # a read-only selection of writes only
            self.runs[api] = EngineRun(api, self.seed, {})
            return
        guard: Guard | None = None
        cleanup: Cleanup | None = None
        if not self.read_only:
            client = RunClient(
                target.url,
                session.access_token if session is not None else lambda: None,
                self.network,
                session.renew if session is not None else None,
                **({"present": session.presenter.at} if session is not None else {}),
            )
            journal = Journal(self.reports / "journal" / f"{api}.jsonl")
            singletons_before = Singletons(target.spec, client)
            cleanup = Cleanup(journal, client, singletons_before)
            leftover = journal.pending()
            if leftover:  # an earlier run was killed before its cleanup
                self.progress(f"{api}: removing {len(leftover)} resources an earlier run left")
                for line in cleanup.run().lines(api):
                    self.progress(line)
            singletons_before.snapshot()
            accounts = [login.username for login in target.credentials.every_principal]
            guard = Guard(
                target.spec, journal, client, disposable=self.disposable, accounts=accounts
            )

        @contextlib.contextmanager
        def prepare(schema: Any) -> Iterator[None]:
            with (
                session.install(schema) if session is not None else contextlib.nullcontext(),
                installed(guard, schema) if guard is not None else contextlib.nullcontext(),
            ):
                yield

        self.progress(f"{api}: fuzzing {len(wanted)} operations at {target.url} (seed {self.seed})")
        try:
            run = run_engine(
                api,
                target.spec,
                target.url,
                headers,
                wanted,
                profile=self.profile,
                seed=self.seed,
                prepare=prepare,
                progress=self.progress,
                evidence=[
                    (call.operation_id, call.status, call.seconds)
                    for call in (session.exchanged if session is not None else [])
                ],
                network=self.network,
                read_only=self.read_only,
                fail_fast=self.fail_fast,
                deadline=self.deadline,
                persist=target.spec.declarations.strict or self.require_exercised,
                shut_out=guard.shut_out if guard is not None else set,
                accepted=guard.accepted if guard is not None else dict,
                held=guard.held if guard is not None else dict,
                disposable=self.disposable,
                credential=session.presenter.slots() if session is not None else None,
            )
        finally:  # also after Ctrl-C or the run timeout: what the run created goes
            if guard is not None and cleanup is not None:
                if guard.rewritten or guard.own_aimed:
                    self.progress(
                        f"{api}: writes aimed at resources the run did not create went to the"
                        f" run's own instead ({guard.own_aimed}; {guard.made} made for them and"
                        f" for nested creates), or, where none could be made, to absent ids"
                        f" ({guard.rewritten})"
                    )
                guard.settle()  # no write from here on, and the creates under way answered
                report = cleanup.run()
                report.unidentified = dict(guard.unidentified)
                cleanup.close()
                self.cleanups[api] = report
                for line in report.lines(api):
                    self.progress(line)
        if guard is not None:
            away = onto = 0
            for record in run.records.values():
                kept = []
                for failure in record.failures:
                    if guard.moved_away(failure):
                        away += 1
                    elif guard.moved_onto(failure):
                        onto += 1
                    else:
                        kept.append(failure)
                record.failures = kept
            if away:
                self.progress(
                    f"{api}: {plural(away, 'created resource')} not found at the path the"
                    " run's own change had moved it from: not counted (the API answered as it"
                    " should)"
                )
            if onto:
                self.progress(
                    f"{api}: {plural(onto, 'deleted resource')} found again at a path the run's"
                    " own change then moved another of its items to: not counted (the API"
                    " answered as it should)"
                )
        self.runs[api] = run
        if run.cut_short:
            self._cut_short_by_timeout()
        for operation_id in wanted:
            operation = target.spec.operation(operation_id)
            assert operation is not None
            record = run.records.get(operation.label) or OperationRecord(
                operation.label, operation_id
            )
            record.errors.extend(run.errors)
            reason = self._not_reached(run, record)
            if reason:
                documented = documented_statuses(target.spec, operation_id)
                self.verdicts[(api, operation_id)] = skipped(
                    api, record.label, operation_id, reason, documented
                )
                continue
            self._judged(api, record)
        own = (
            f"; its own session: {session.logins} logins, {session.refreshes} refreshes"
            if session is not None and not session.login.static
            else ""
        )
        self.progress(f"{api}: done in {run.seconds:.1f} s{own}")

    def _not_reached(self, run: EngineRun, record: OperationRecord) -> str:
        """Why an operation with nothing against it may not have been tried at all ("": it
        was): the run timeout stopped the engine first, or (fail fast) a failure elsewhere."""
        if record.failures or record.errors or record.unable:
            return ""
        if any(200 <= s < 300 for s in record.statuses):
            return ""
        if run.cut_short:
            return NOT_REACHED_IN_TIME
        if self.fail_fast and any(other.failures for other in run.records.values()):
            return NOT_REACHED
        return ""

    def _session(self, api: str) -> RunSession | None:
        """The run's own session with ``api`` (None: no credentials), started once: its
        principal's credential, as its scheme presents it (a static one too)."""
        if api not in self.sessions:
            self.sessions[api] = self.session_as(api)
        return self.sessions[api]

    def session_as(self, api: str, principal: str = DEFAULT_PRINCIPAL) -> RunSession | None:
        """A started session of ``api``'s principal ``principal`` (None: no such principal, or
        no credentials): the run's own is the default one; a probe acts as another user, or an
        unprivileged one (`Credentials.with_role`), through this. Fails in one sentence when the
        credentials do not work."""
        target = self.targets[api]
        credentials = target.credentials.named(principal)
        if credentials is None:
            return None
        credentials.register()
        way = open_access(target.spec, target.url, credentials, self.network)
        if way is None:
            return None
        session = RunSession(
            target.spec, target.url, credentials, self.network, read_only=self.read_only,
            login=way.login, presenter=way.presenter,
        )  # fmt: skip
        session.start()
        return session

    def _token(self, api: str) -> str | None:
        session = self._session(api)
        return session.access_token() if session is not None else None

    def _samples(self, api: str) -> dict[str, list[float]]:
        """Operation label -> seconds of every 2xx of the run on ``api`` so far (the engine's
        answers and the scenarios')."""
        found: dict[str, list[float]] = {}
        run = self.runs.get(api)
        for label, record in run.records.items() if run is not None else ():
            found[label] = [seconds for status, seconds in record.latencies if 200 <= status < 300]
        for label, seconds in self.samples.get(api, {}).items():
            found.setdefault(label, []).extend(seconds)
        return found

    def scenario(self, api: str, name: str) -> ScenarioVerdict:
        """Run one scenario (or probe) on ``api`` (once), after its fuzzing when that was
        selected."""
        key = (api, name)
        if key in self.scenarios:
            return self.scenarios[key]
        kind = kind_of(name)
        table = "probes" if kind == "probe" else "scenarios"
        if not self.switches.get(name, True):
            reason = f"switched off ([{table}] {name} = false)"
            return self._unrun(api, name, Outcome.SKIPPED, reason)
        if self.selected.get(api) and api not in self.runs and not self.fail_fast:
            self.verdict_for(api, sorted(self.selected[api])[0])  # fuzzing first: its samples
        if self.timed_out():
            self._cut_short_by_timeout()
            return self._unrun(api, name, Outcome.SKIPPED, NOT_REACHED_IN_TIME)
        self.progress(f"{api}: {kind} {name}")
        try:
            self._session(api)
        except ConformanceError as error:
            return self._unrun(api, name, Outcome.ERROR, str(error))
        verdict, story = run_scenario(name, self._context(api))
        if self.timed_out():  # the scenario stopped at the run timeout (an error, said so)
            self._cut_short_by_timeout()
        if story is not None and name != "latency":
            mine = self.samples.setdefault(api, {})
            for label, seconds in story.samples.items():
                mine.setdefault(label, []).extend(seconds)
        waive_scenario(verdict, self.waivers, self.today)
        if self.fail_fast and verdict.awaits_confirmation:
            # fail fast wants its verdict now: the breach is re-measured here, at once, so that
            # a confirmed one fails this test and stops the run (else it waits for the end)
            self._confirm(api, verdict)
        self.scenarios[key] = verdict
        self.progress(
            f"{api}: {kind} {name}: {verdict.outcome} ({verdict.requests} requests,"
            f" {verdict.seconds:.1f} s)"
        )
        return verdict

    def _unrun(self, api: str, name: str, outcome: Outcome, reason: str) -> ScenarioVerdict:
        """The verdict of a scenario (or probe) that did not run: switched off, not reached."""
        verdict = ScenarioVerdict(api, name, outcome, reason, kind=kind_of(name))
        self.scenarios[(api, name)] = verdict
        return verdict

    def _context(self, api: str) -> ScenarioContext:
        """What a scenario (or the latency confirmation) gets from the run on ``api``."""
        target = self.targets[api]
        session = self.sessions.get(api)
        return ScenarioContext(
            api,
            target.spec,
            target.url,
            target.credentials,
            self.network,
            run_token=lambda: self._token(api),
            presenter=session.presenter if session is not None else None,
            # the fuzzing's journal (closed by then): a killed run's accounts are removed by
            # the next run's cleanup like its other resources
            journal=self.reports / "journal" / f"{api}.jsonl",
            read_only=self.read_only,
            max_wait_s=self.max_wait_s,
            samples=lambda: self._samples(api),
            own_spec=target.own_spec,
            deadline=self.deadline,
            disposable=self.disposable,
        )

    def confirm_latency(self) -> None:
        """Re-measure each latency breach of the run alone and amend the latency verdicts
        (`scenarios._confirm`): on the xdist controller, or the only process, once every test
        has run and before anything is written. A run cut short confirms nothing (its breaches
        stand, saying why); a crash of the confirmation leaves the breaches standing too."""
        for (api, name), verdict in sorted(self.scenarios.items()):
            if name == "latency" and verdict.awaits_confirmation:
                self._confirm(api, verdict)

    def _confirm(self, api: str, verdict: ScenarioVerdict) -> None:
        why_not = self.cut_short or ("the run timeout expired first" if self.timed_out() else "")
        try:
            confirm_breaches(verdict, self._context(api), progress=self.progress,
                             why_not=why_not)  # fmt: skip
        except Exception as error:  # our own bug: no breach is passed unconfirmed
            confirm_breaches(verdict, self._context(api),
                             why_not=crashed("the confirmation", error))  # fmt: skip

    def export(self) -> dict[str, Any]:
        """What an xdist worker hands its controller (plain data: execnet carries it)."""
        return {
            "apis": sorted(self.runs),
            "errors": {api: list(run.errors) for api, run in self.runs.items()},
            "verdicts": [
                verdict.as_json() for key, verdict in self.verdicts.items() if key in self.asked
            ],
            "cleanups": {api: asdict(report) for api, report in self.cleanups.items()},
            "scenarios": [verdict.as_json() for verdict in self.scenarios.values()],
            "cut_short": self.cut_short,
            "crashes": list(self.crashes),
        }

    def merge(self, exported: dict[str, Any]) -> None:
        """Take in a worker's `export` (the controller runs no engine itself)."""
        for api in exported["apis"]:
            run = self.runs.setdefault(api, EngineRun(api, self.seed, {}))
            run.errors.extend(exported["errors"].get(api, []))
        for api, report in exported.get("cleanups", {}).items():
            self.cleanups[api] = CleanupReport(**report)
        for data in exported["verdicts"]:
            verdict = OperationVerdict.from_json(data)
            self.verdicts[(verdict.api, verdict.operation_id)] = verdict
        for data in exported.get("scenarios", []):
            scenario = ScenarioVerdict.from_json(data)
            self.scenarios[(scenario.api, scenario.name)] = scenario
        self.cut_short = self.cut_short or exported.get("cut_short", "")
        self.crashes += [c for c in exported.get("crashes", []) if c not in self.crashes]

    def _errors(self) -> list[str]:
        found = [error for run in self.runs.values() for error in run.errors] + self.crashes
        return list(dict.fromkeys(found))

    def waiver_report(self) -> Waivers:
        used = used_names(self.verdicts.values(), self.scenarios.values(), self.waivers, self.today)
        return waiver_report(self.waivers, used, self.today)

    def _scenarios(self) -> list[ScenarioVerdict]:
        return [self.scenarios[key] for key in sorted(self.scenarios)]

    def _rules(self) -> dict[str, list[RuleUse]]:
        """verdict.json's ``rules``: for each API, the catalogue's rules on the operations the
        run judged (those of the verdicts: on the xdist controller, which collects nothing,
        ``selected`` is empty)."""
        found = {}
        for api, target in sorted(self.targets.items()):
            judged = {operation_id for key_api, operation_id in self.verdicts if key_api == api}
            operations = [op for op in target.spec.operations if op.operation_id in judged]
            if operations:
                found[api] = rules_document(
                    target.spec, operations, require_exercised=self.require_exercised
                )
        return found

    def finish(self) -> Run | None:
        """The run's verdict for what ran (`reporting.write_reports` writes it); None when
        nothing ran (and nothing went wrong)."""
        if not self.verdicts and not self.scenarios and not self.cut_short and not self.crashes:
            return None
        targets = [
            VerdictTarget.of(
                api,
                target.url,
                Path(target.spec.path),
                target.spec.version,
                target.spec.document.overlays,
            )
            for api, target in self.targets.items()
            if api in self.runs or any(key[0] == api for key in self.scenarios)
        ]
        return Run(
            [self.verdicts[key] for key in sorted(self.verdicts)], targets, self.seed,
            self.profile, errors=self._errors(), scenarios=self._scenarios(),
            waivers=self.waiver_report(), cut_short=self.cut_short, rules=self._rules(),
            cleanup=dict(sorted(self.cleanups.items())),
            shards=[self.shard] if self.shard else None,
            environment="disposable" if self.disposable else "shared",
            excluded=self._excluded(),
        )  # fmt: skip

    def _excluded(self) -> list[ExcludedOperation]:
        """verdict.json's ``excluded``: every target's left-out operations, with why."""
        return [
            ExcludedOperation(
                api, left.label, str(left.operation.operation_id), str(left.by), left.reason
            )
            for api, target in sorted(self.targets.items())
            for left in target.excluded
        ]
