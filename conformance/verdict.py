"""The verdict of a run as typed objects, and its JSON form (``reports/verdict.json``).

Below `suite` (which judges) and `reporting` (which tells): the suite builds a `Run` from what it
saw, `write_reports` in `reporting` writes it, and everything that reads a run (the summary, the
Allure results, JUnit, the exit code, the last line, `conformance merge`, the self-test) reads
these objects, never the document's keys. The JSON form is described in
`conformance.suite._verdict`; `Run.as_json` writes it and `Run.from_json` reads it back.

An outcome is an `Outcome` (an operation's or a scenario's) or a `Verdict` (the run's): string
enums, so that the JSON form is the plain word. What the run's verdict is, why (`explain`), and
the exit code it gives (`Run.exit_code`) are decided here, once.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance import __version__, catalogue
from conformance.errors import ExitCode
from conformance.masking import mask

SCHEMA = "conformance-verdict/1"
#: failures shown per check in a test's failure text
SHOWN = 3
#: the scenario rule whose breaches are re-measured alone before they count
LATENCY_BUDGET = catalogue.rule("latency-budget").id


class Outcome(enum.StrEnum):
    """What came of one operation or scenario."""

    PASSED = "passed"
    FAILED = "failed"
    #: every failure covered by a waiver in force
    WAIVED = "waived"
    #: no documented 2xx came back where the gate requires one: a failure
    NOT_EXERCISED = "not_exercised"
    #: no documented 2xx came back where the gate does not require one: no failure, no pass
    UNTESTED = "untested"
    #: the engine (or the scenario) could not test it: the verdict cannot be trusted
    ERROR = "error"
    #: not tested by choice (a read-only run's writes, a switched-off scenario)
    SKIPPED = "skipped"


#: what a person calls a scenario verdict's kind (`ScenarioVerdict.kind`), in the order they run
KIND_NOUNS: Mapping[str, str] = {"scenario": "scenario", "probe": "security probe"}

#: verdict.json's counts of operations and of scenarios, in its order
_COUNTED = (
    Outcome.PASSED, Outcome.FAILED, Outcome.WAIVED, Outcome.NOT_EXERCISED, Outcome.UNTESTED,
    Outcome.ERROR, Outcome.SKIPPED,
)  # fmt: skip
_SCENARIO_COUNTED = (Outcome.PASSED, Outcome.FAILED, Outcome.WAIVED, Outcome.SKIPPED, Outcome.ERROR)
#: outcomes that judged nothing
UNJUDGED = frozenset({Outcome.SKIPPED, Outcome.UNTESTED})


class Verdict(enum.StrEnum):
    """The run's verdict."""

    PASS = "pass"
    FAIL = "fail"
    #: a verdict that cannot be trusted (a crash, an operation in error, a run cut short)
    BROKEN = "broken"


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check on one case."""

    check: str
    title: str
    message: str
    phase: str
    status: int | None
    #: the curl command that reproduces it, as pasted into a shell: the run's credentials as
    #: the variables they came from, other secrets masked (`masking.reproduction`)
    curl: str
    #: the failing case as data (method, path, path_parameters, query, headers, body), the
    #: smallest hypothesis found for it, secrets masked
    example: dict[str, Any] = field(default_factory=dict)
    #: for a stateful failure, the curl lines of the steps before it, oldest first
    steps: tuple[str, ...] = ()
    #: the response that failed the check (status, headers, a long body's head and tail,
    #: elapsed ms), secrets masked; kept for the first few failures of a check only
    response: dict[str, Any] | None = None
    #: the waiver in force that covers it (`conformance.suite._waivers`), if any
    waived: str = ""
    #: the problems found, one each: a contract rule's own (`ContractFailure.lines`), or the
    #: non-empty lines of a schemathesis check's message; secrets masked
    lines: tuple[str, ...] = ()
    #: the OWASP API Security Top 10 category the check's rule judges too (the catalogue's), or ""
    owasp: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "owasp", catalogue.owasp_of(self.check))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Failure:
        return cls(**{**data, **{k: tuple(data.get(k, ())) for k in ("steps", "lines")}})


@dataclass
class OperationVerdict:
    api: str
    operation_id: str
    label: str
    outcome: Outcome
    statuses: dict[int, int] = field(default_factory=dict)
    documented_2xx_seen: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: check -> cases it judged
    checks: dict[str, int] = field(default_factory=dict)
    #: 429s the transport gave up waiting for: not judged
    throttled: int = 0
    #: why a skipped operation was not tested (an untested or not exercised one: why no
    #: documented 2xx came back, `why_untested`; a waived one: by which waivers)
    reason: str = ""
    #: the response keys the spec documents ("200", "4XX", "default"), in the spec's order
    documented: list[str] = field(default_factory=list)
    #: the phases that could not generate data for it, and why (not errors: `could_not_generate`)
    unable: list[str] = field(default_factory=list)
    #: the gate requires a documented 2xx of it (``x-contract: strict``, ``--require-exercised``)
    exercise_required: bool = True

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)

    @property
    def where(self) -> str:
        return f"{self.api} {self.label}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "statuses": {str(k): n for k, n in self.statuses.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationVerdict:
        """The inverse of `as_json` (how an xdist worker's verdicts reach the controller)."""
        return cls(
            **{
                **data,
                "statuses": {int(k): n for k, n in data.get("statuses", {}).items()},
                "failures": [Failure.from_json(f) for f in data.get("failures", [])],
            }
        )

    def seen(self) -> str:
        """The statuses that came back, as ``5 x 400, 2 x 422`` (``nothing``)."""
        return ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items())) or "nothing"

    def explain(self) -> str:
        """What a failing pytest item says: the rules broken, with a reproduction each."""
        lines = [f"{self.where}: {self.outcome}"]
        if self.outcome in (Outcome.NOT_EXERCISED, Outcome.UNTESTED):
            lines.append(f"  no documented 2xx came back (seen: {self.seen()})")
            if self.reason:
                lines.append(f"  why: {self.reason}")
            if self.outcome == Outcome.UNTESTED:
                lines.append(
                    "  not a failure: the spec does not declare x-contract: strict"
                    " (--require-exercised makes it one)"
                )
        lines += [f"  error: {error}" for error in self.errors]
        for unable in self.unable:
            lines.append("  " + "\n    ".join(line for line in unable.splitlines() if line.strip()))
        by_check: dict[str, list[Failure]] = collections.defaultdict(list)
        for failure in self.failures:
            by_check[failure.check].append(failure)
        for check, found in sorted(by_check.items()):
            waived = f" (waived: {found[0].waived})" if all(f.waived for f in found) else ""
            lines.append(f"  {check}: {found[0].title} ({len(found)} cases){waived}")
            for failure in found[:SHOWN]:
                said = failure.lines or tuple(failure.message.strip().splitlines()[:1])
                lines.append(f"    [{failure.phase}] {'; '.join(said)}")
                lines += [f"      (after) {step}" for step in failure.steps]
                lines.append(f"      {failure.curl}")
                if failure.example:
                    lines.append(f"      example: {json.dumps(failure.example, sort_keys=True)}")
        if self.throttled:
            lines.append(f"  throttled: {self.throttled} answers were 429 after every retry")
        return mask("\n".join(lines))


@dataclass
class StepRecord:
    part: str
    title: str
    outcome: str  #: passed | failed | skipped
    detail: str = ""
    seconds: float = 0.0


@dataclass
class ScenarioFailure:
    rule: str
    contract: str
    part: str
    step: str
    message: str
    #: the request that showed it, as curl (masked)
    curl: str = ""
    #: the waiver in force that covers it, if any
    waived: str = ""
    #: the OWASP API Security Top 10 category its rule falls under (the catalogue's), or ""
    owasp: str = ""

    def __post_init__(self) -> None:
        self.owasp = catalogue.owasp_of(self.rule)

    def line(self) -> str:
        waived = f" (waived: {self.waived})" if self.waived else ""
        return f"[{self.rule}] {self.part} / {self.step}: {self.message}{waived}"


class LatencyOutcome(enum.StrEnum):
    """What came of an operation's latency budget (a row of the latency scenario's table)."""

    MET = "met"
    EXCEEDED = "exceeded"
    #: fewer successful answers than a p95 needs: never a pass, and the row says why
    NOT_MEASURED = "not_measured"


class Confirmed(enum.StrEnum):
    """What re-measuring a breach of the run alone after it showed (`scenarios._confirm`)."""

    #: over the budget again: the row stays exceeded
    CONFIRMED = "confirmed"
    #: within the budget: the row becomes met
    NOT_CONFIRMED = "not_confirmed"
    #: it could not be re-measured (the reason says why): the row stays exceeded
    NOT_POSSIBLE = "not_possible"


@dataclass
class Confirmation:
    """A breach of the run re-measured alone after it: the ``confirmation`` keys of its row."""

    outcome: Confirmed
    #: the successful answers timed, and the seconds it took
    samples: int
    seconds: float
    #: from its samples, in ms (None without any)
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    #: why it could not be re-measured (not_possible)
    reason: str = ""

    def __post_init__(self) -> None:
        self.outcome = Confirmed(self.outcome)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "confirmation": self.outcome,
            "confirmation_samples": self.samples,
            "confirmation_s": self.seconds,
        }
        alone = {
            "confirmed_p50_ms": self.p50_ms,
            "confirmed_p95_ms": self.p95_ms,
            "confirmed_max_ms": self.max_ms,
        }
        found.update((key, ms) for key, ms in alone.items() if ms is not None)
        if self.reason:
            found["confirmation_reason"] = self.reason
        return found

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Confirmation | None:
        """The confirmation a latency row holds (None: the row was not re-measured)."""
        if "confirmation" not in row:
            return None
        return cls(
            row["confirmation"],
            int(row.get("confirmation_samples", 0)),
            float(row.get("confirmation_s", 0.0)),
            row.get("confirmed_p50_ms"),
            row.get("confirmed_p95_ms"),
            row.get("confirmed_max_ms"),
            str(row.get("confirmation_reason", "")),
        )


#: a latency row's percentiles, in verdict.json's order: each there when the row has samples
_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


@dataclass
class LatencyRow:
    """One operation's row of the latency scenario's table (verdict.json's ``latency``): its
    budget, the successful answers timed and their percentiles, and what came of it."""

    operation: str
    #: None for an operation without an operationId
    operation_id: str | None
    budget_ms: int
    #: successful answers timed: those of the run, and those the scenario measured itself
    samples: int
    from_run: int
    measured: int
    outcome: LatencyOutcome
    #: in ms, of all its samples (None without any)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    #: why it is not measured (every such row says it; a measured row has none)
    reason: str = ""
    #: a breach of the run re-measured alone after it (None: not re-measured)
    confirmation: Confirmation | None = None

    def __post_init__(self) -> None:
        self.outcome = LatencyOutcome(self.outcome)

    @property
    def awaits_confirmation(self) -> bool:
        """Over budget in the run and not yet re-measured alone."""
        return self.outcome == LatencyOutcome.EXCEEDED and self.confirmation is None

    def as_json(self) -> dict[str, Any]:
        """The row's keys in verdict.json's order; a key without a value is left out."""
        found: dict[str, Any] = {
            "operation": self.operation, "operation_id": self.operation_id,
            "budget_ms": self.budget_ms, "samples": self.samples, "from_run": self.from_run,
            "measured": self.measured,
        }  # fmt: skip
        found.update(
            (key, value) for key in _PERCENTILES if (value := getattr(self, key)) is not None
        )
        found["outcome"] = self.outcome
        if self.reason:
            found["reason"] = self.reason
        if self.confirmation is not None:
            found.update(self.confirmation.as_json())
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencyRow:
        return cls(
            data["operation"], data["operation_id"], data["budget_ms"], data["samples"],
            data["from_run"], data["measured"], data["outcome"],
            p50_ms=data.get("p50_ms"), p95_ms=data.get("p95_ms"), p99_ms=data.get("p99_ms"),
            max_ms=data.get("max_ms"), reason=str(data.get("reason", "")),
            confirmation=Confirmation.from_json(data),
        )  # fmt: skip


@dataclass
class ScenarioVerdict:
    """What a scenario found on one API (verdict.json's ``scenarios``)."""

    api: str
    name: str
    outcome: Outcome  #: passed | failed | waived | skipped | error
    reason: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    failures: list[ScenarioFailure] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    #: the latency scenario's table: one row per operation with a budget
    latency: list[LatencyRow] = field(default_factory=list)
    #: "scenario", or "probe" for a security probe (`conformance.suite.probes`)
    kind: str = "scenario"
    #: findings of warning rules (the catalogue's ``warning``): reported, never failing it
    warnings: list[ScenarioFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)

    @property
    def where(self) -> str:
        return f"{self.api} {self.name}"

    @property
    def noun(self) -> str:
        """``scenario`` or ``security probe``."""
        return KIND_NOUNS.get(self.kind, self.kind)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "latency": [row.as_json() for row in self.latency]}

    @property
    def awaits_confirmation(self) -> bool:
        """A latency verdict with budget breaches of the run not yet re-measured alone: the
        controller (or the only process) confirms them once every worker has finished
        (`_confirm`), and only then is the verdict final."""
        return self.outcome in (Outcome.FAILED, Outcome.WAIVED) and any(
            row.awaits_confirmation for row in self.latency
        )

    @property
    def pending(self) -> bool:
        """Awaiting confirmation with nothing else against it: its test can neither pass nor
        fail yet."""
        return self.awaits_confirmation and all(
            failure.rule == LATENCY_BUDGET for failure in self.failures
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioVerdict:
        return cls(
            **{
                **data,
                "steps": [StepRecord(**step) for step in data.get("steps", [])],
                "failures": [ScenarioFailure(**f) for f in data.get("failures", [])],
                "warnings": [ScenarioFailure(**f) for f in data.get("warnings", [])],
                "latency": [LatencyRow.from_json(row) for row in data.get("latency", [])],
            }
        )

    def explain(self) -> str:
        lines = [f"{self.api} {self.noun} {self.name}: {self.outcome}"]
        if self.reason:
            lines.append(f"  {self.reason}")
        for failure in self.failures:
            lines.append(f"  {failure.contract}")
            lines.append(f"    {failure.line()}")
            if failure.curl:
                lines.append(f"      {failure.curl}")
        for warning in self.warnings:
            lines.append(f"  warning (never fails the gate): {warning.contract}")
            lines.append(f"    {warning.line()}")
        skipped = [step for step in self.steps if step.outcome == "skipped"]
        lines += [f"  skipped: {step.part} / {step.title}: {step.detail}" for step in skipped]
        return mask("\n".join(lines))


@dataclass(frozen=True)
class Target:
    """A target of the run as verdict.json names it: its API, URL and the spec it was held to."""

    api: str
    url: str
    spec: str
    spec_version: str = ""
    spec_sha256: str = ""
    #: the OpenAPI Overlays applied to the spec, in order (absent from the JSON when none)
    overlays: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, api: str, url: str, spec: Path, version: str = "", overlays: Sequence[Path] = ()
    ) -> Target:
        digest = hashlib.sha256(spec.read_bytes()).hexdigest()
        return cls(api, url, str(spec), version, digest, tuple(str(o) for o in overlays))

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["overlays"] = list(self.overlays)
        return found if self.overlays else {k: v for k, v in found.items() if k != "overlays"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(**{**data, "overlays": tuple(data.get("overlays", ()))})


@dataclass
class WaiverUse:
    """A waiver as the run's report shows it: what it covers, and whether the run used it."""

    name: str
    rule: str
    reason: str
    ticket: str
    #: ISO date
    expires: str
    api: str | None = None
    operation: str | None = None
    scenario: str | None = None
    used: bool = False
    #: in force and close to its date (None: expired)
    expiring: bool | None = None

    def as_json(self) -> dict[str, Any]:
        found = {
            "name": self.name, "rule": self.rule, "api": self.api, "operation": self.operation,
            "scenario": self.scenario, "reason": self.reason, "ticket": self.ticket,
            "expires": self.expires, "used": self.used,
        }  # fmt: skip
        return found if self.expiring is None else {**found, "expiring": self.expiring}


@dataclass
class Waivers:
    """verdict.json's ``waivers``: in force (each used or not), expired, stale (in force,
    matched nothing)."""

    in_force: list[WaiverUse] = field(default_factory=list)
    expired: list[WaiverUse] = field(default_factory=list)
    stale: list[WaiverUse] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.in_force or self.expired or self.stale)

    def as_json(self) -> dict[str, Any]:
        return {
            "in_force": [w.as_json() for w in self.in_force],
            "expired": [w.as_json() for w in self.expired],
            "stale": [w.as_json() for w in self.stale],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Waivers:
        data = data or {}
        return cls(*([WaiverUse(**entry) for entry in data.get(key, [])] for key in cls._KEYS))

    _KEYS = ("in_force", "expired", "stale")


@dataclass
class Cleanup:
    """What the run created and removed again, on one API (verdict.json's ``cleanup``)."""

    removed: int = 0
    #: kind -> how many could not be removed because the API has no delete for them
    left: dict[str, int] = field(default_factory=dict)
    #: path -> why its removal failed
    failed: dict[str, str] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    #: kind -> how many a 2xx create made whose answer said no id or key to find them by
    #: (nor a ``Location``): left behind, and said so
    unidentified: dict[str, int] = field(default_factory=dict)

    def lines(self, api: str) -> list[str]:
        found = [f"{api}: cleanup removed {self.removed} resources the run created"]
        if self.restored:
            found.append(f"{api}: restored {', '.join(self.restored)}")
        if self.left:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.left.items()))
            found.append(f"{api}: left behind (the API cannot delete them): {kinds}")
        if self.unidentified:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.unidentified.items()))
            found.append(
                f"{api}: left behind (their creates' answers named no id or key to find them"
                f" by): {kinds}"
            )
        for path, why in list(self.failed.items())[:5]:
            found.append(f"{api}: could not remove {path}: {why}")
        return found


@dataclass(frozen=True)
class ExcludedOperation:
    """An operation the run left out, never sent (verdict.json's ``excluded``): ``by`` the
    run's ``exclude``, the spec's ``x-exclude``, or the danger rule of a shared target
    (`conformance.contract.exclusions`), and why in words."""

    api: str
    #: ``GET /createdb``
    operation: str
    operation_id: str
    by: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExcludedOperation:
        return cls(**data)


@dataclass
class RuleUse:
    """Where one of the catalogue's rules applied on one API, and why it was off elsewhere
    (verdict.json's ``rules``; `catalogue.operation_rules` decides)."""

    id: str
    kind: catalogue.Kind
    severity: catalogue.Severity
    #: the operations it applied to, in the spec's order
    applies: list[str] = field(default_factory=list)
    #: operation -> why it was off there
    off: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = catalogue.Kind(self.kind)
        self.severity = catalogue.Severity(self.severity)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleUse:
        return cls(**data)


@dataclass
class Run:
    """A run's verdict: every operation and scenario judged, what the run was, what went wrong
    around the judging; the verdict itself, its counts and the exit code are derived."""

    operations: list[OperationVerdict]
    targets: list[Target]
    seed: int
    profile: str
    errors: list[str] = field(default_factory=list)
    scenarios: list[ScenarioVerdict] = field(default_factory=list)
    waivers: Waivers = field(default_factory=Waivers)
    #: why the run stopped before it had judged all it selected ("" when it did not)
    cut_short: str = ""
    #: api -> `rules_document` (which of the catalogue's rules applied where, and why not)
    rules: dict[str, list[RuleUse]] = field(default_factory=dict)
    cleanup: dict[str, Cleanup] = field(default_factory=dict)
    #: the shards that made it (``k/n``), if sharded
    shards: list[str] | None = None
    #: a merged run: the report directories it came from, and their seeds when they differ
    merged_from: list[str] | None = None
    seeds: list[int] | None = None
    suite_version: str = __version__
    #: the target's environment: ``shared`` (only what the run made is changed, dangerous
    #: operations left out) or ``disposable`` (config's ``environment``)
    environment: str = "shared"
    #: the operations the run left out, never sent, each with why
    excluded: list[ExcludedOperation] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """``broken`` when anything kept the run from judging (a crash, an operation or scenario
        in error, a stop before the end); ``fail`` on a failure, an expired waiver, or nothing
        judged at all; ``pass`` otherwise (an untested operation is no failure, and no pass)."""
        if (
            self.cut_short
            or self.errors
            or any(v.outcome == Outcome.ERROR for v in self.operations)
            or any(s.outcome == Outcome.ERROR for s in self.scenarios)
        ):
            return Verdict.BROKEN
        if any(s.outcome == Outcome.FAILED for s in self.scenarios) or self.waivers.expired:
            return Verdict.FAIL
        judged = [v for v in self.operations if v.outcome not in UNJUDGED]
        ran = [s for s in self.scenarios if s.outcome != Outcome.SKIPPED]
        if not judged and not ran:
            return Verdict.FAIL
        passing = (Outcome.PASSED, Outcome.WAIVED)
        return Verdict.PASS if all(v.outcome in passing for v in judged) else Verdict.FAIL

    def nothing_tested(self) -> bool:
        """Whether the run skipped every operation and scenario it selected (or selected none),
        or left every operation untested and ran no scenario: it exercised nothing, and a
        backend answering 401 to everything cannot pass."""
        return all(e.outcome in UNJUDGED for e in self.entries())

    def exit_code(self) -> ExitCode:
        """The run's exit code, from its verdict alone (DESIGN.md's exit codes): every way a run
        ends (a pass, findings, a crash, fail fast under xdist, the run timeout, an interrupt,
        an expired waiver) is decided here, so that the code, verdict.json, JUnit, the summary
        and the last line cannot disagree."""
        if self.verdict == Verdict.BROKEN:
            return ExitCode.TARGET_BROKEN
        if self.nothing_tested() and not self.waivers.expired:
            return ExitCode.BAD_INPUT  # a selection that skipped everything: nothing to say
        return ExitCode.OK if self.verdict == Verdict.PASS else ExitCode.FAILED

    def entries(self) -> list[OperationVerdict | ScenarioVerdict]:
        """Every operation and scenario judged."""
        return [*self.operations, *self.scenarios]

    def of(self, outcome: Outcome) -> list[OperationVerdict]:
        return [v for v in self.operations if v.outcome == outcome]

    def scenarios_of(self, outcome: Outcome) -> list[ScenarioVerdict]:
        return [s for s in self.scenarios if s.outcome == outcome]

    def unexercised(self) -> list[OperationVerdict]:
        """Every operation the gate required a documented 2xx of and got none, whatever else
        went wrong with it (a failed one too)."""
        return [
            v
            for v in self.operations
            if not v.documented_2xx_seen
            and v.exercise_required
            and v.outcome not in (Outcome.ERROR, Outcome.SKIPPED, Outcome.WAIVED)
        ]

    @property
    def not_exercised(self) -> list[str]:
        """verdict.json's ``not_exercised``: the labels of `unexercised`."""
        return [v.label for v in self.unexercised()]

    @property
    def latency(self) -> list[tuple[str, LatencyRow]]:
        """The latency scenario's rows, each with its API."""
        latency = [s for s in self.scenarios if s.name == "latency"]
        return [(s.api, row) for s in latency for row in s.latency]

    def by_rule(self) -> dict[str, int]:
        """Failures per rule, operations' checks and scenarios' rules together."""
        found = collections.Counter(f.check for v in self.operations for f in v.failures)
        found.update(f.rule for s in self.scenarios for f in s.failures)
        return dict(sorted(found.items()))

    def counts(self) -> dict[str, Any]:
        outcomes = collections.Counter(v.outcome for v in self.operations)
        ran = collections.Counter(s.outcome for s in self.scenarios if s.kind != "probe")
        probed = collections.Counter(s.outcome for s in self.scenarios if s.kind == "probe")
        return {
            "operations": len(self.operations),
            **{str(name): outcomes.get(name, 0) for name in _COUNTED},
            "throttled": sum(v.throttled for v in self.operations),
            "by_rule": self.by_rule(),
            "scenarios": {str(name): ran.get(name, 0) for name in _SCENARIO_COUNTED},
            "probes": {str(name): probed.get(name, 0) for name in _SCENARIO_COUNTED},
            "warnings": sum(len(s.warnings) for s in self.scenarios),
            "by_owasp": self.by_owasp(),
        }

    def by_owasp(self) -> dict[str, int]:
        """Findings (failures and warnings) per OWASP API Security Top 10 category."""
        found = collections.Counter(f.owasp for v in self.operations for f in v.failures)
        found.update(f.owasp for s in self.scenarios for f in [*s.failures, *s.warnings])
        found.pop("", None)
        return dict(sorted(found.items()))

    def as_json(self) -> dict[str, Any]:
        """verdict.json, keys in the order of version 1."""
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "verdict": str(self.verdict),
            "suite_version": self.suite_version,
            "seed": self.seed,
            "profile": self.profile,
            "environment": self.environment,
            "targets": [target.as_json() for target in self.targets],
            "errors": list(self.errors),
            "cut_short": self.cut_short,
            "counts": self.counts(),
            "waivers": self.waivers.as_json(),
            "not_exercised": self.not_exercised,
            "untested": [v.label for v in self.of(Outcome.UNTESTED)],
            "rules": {api: [use.as_json() for use in uses] for api, uses in self.rules.items()},
            "operations": [v.as_json() for v in self.operations],
            "scenarios": [s.as_json() for s in self.scenarios],
            "latency": [{"api": api, **row.as_json()} for api, row in self.latency],
            "cleanup": {api: asdict(report) for api, report in sorted(self.cleanup.items())},
            "excluded": [excluded.as_json() for excluded in self.excluded],
        }
        for key in ("shards", "merged_from", "seeds"):
            if (value := getattr(self, key)) is not None:
                document[key] = value
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        """The inverse of `as_json`: verdict.json read back (by `merge`, the self-test)."""
        return cls(
            operations=[OperationVerdict.from_json(v) for v in data.get("operations", [])],
            targets=[Target.from_json(target) for target in data.get("targets", [])],
            seed=int(data.get("seed", 0)),
            profile=str(data.get("profile", "?")),
            errors=list(data.get("errors", [])),
            scenarios=[ScenarioVerdict.from_json(s) for s in data.get("scenarios", [])],
            waivers=Waivers.from_json(data.get("waivers")),
            cut_short=str(data.get("cut_short", "")),
            rules={
                api: [RuleUse.from_json(use) for use in uses]
                for api, uses in data.get("rules", {}).items()
            },
            cleanup={api: Cleanup(**c) for api, c in data.get("cleanup", {}).items()},
            shards=data.get("shards"),
            merged_from=data.get("merged_from"),
            seeds=data.get("seeds"),
            suite_version=str(data.get("suite_version", __version__)),
            environment=str(data.get("environment", "shared")),
            excluded=[ExcludedOperation.from_json(e) for e in data.get("excluded", [])],
        )


def read(reports: Path) -> Run | None:
    """The run in ``reports/verdict.json``; None when it was not written or cannot be read."""
    try:
        data = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
        return Run.from_json(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write(path: Path, run: Run) -> None:
    """verdict.json, written masked: the last gate before the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mask(json.dumps(run.as_json(), indent=2)) + "\n", encoding="utf-8")


# -- why: one explanation of a verdict ---------------------------------------------------------

#: operations or scenarios named in a reason before the rest are counted
NAMED = 3


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMED])
    return shown if len(names) <= NAMED else f"{shown} and {len(names) - NAMED} more"


def one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def not_reached(run: Run) -> list[str]:
    """What a run cut short never judged."""
    return [entry.where for entry in run.entries() if entry.reason.startswith("not reached")]


def _only_404(run: Run) -> str:
    """A hint when an API answered almost nothing but 404 (9 in 10, and never a 2xx): its URL
    is likely not its base."""
    seen: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for operation in run.operations:
        seen[operation.api].update(operation.statuses)
    urls = [
        target.url
        for target in run.targets
        if (answers := seen.get(target.api))
        and answers[404] >= 0.9 * answers.total()
        and not any(200 <= status < 300 for status in answers)
    ]
    if not urls:
        return ""
    return f" (almost every answer was 404: is {' and '.join(urls)} the API's base URL?)"


def _rules_broken(operations: Iterable[OperationVerdict]) -> str:
    found = collections.Counter(f.check for v in operations for f in v.failures)
    return ", ".join(f"{rule} ({n})" for rule, n in sorted(found.items()))


def reasons(run: Run) -> list[str]:
    """Why the verdict is not a pass, most serious first: each a clause naming what it is
    about."""
    found = []
    if run.cut_short:
        found.append(
            f"the run was cut short ({one_line(run.cut_short, 200)}):"
            f" {len(not_reached(run))} not reached; what was judged before the stop is reported"
        )
    if run.errors:
        more = f" (and {plural(len(run.errors) - 1, 'more error')})" if len(run.errors) > 1 else ""
        found.append(f"the run broke: {one_line(run.errors[0], 200)}{more}")
    if broken := run.of(Outcome.ERROR):
        first = one_line(broken[0].errors[0] if broken[0].errors else "?", 120)
        found.append(
            f"{plural(len(broken), 'operation')} could not be tested"
            f" ({named([v.where for v in broken])}: {first})"
        )
    if broken_off := run.scenarios_of(Outcome.ERROR):
        found.append(
            f"{plural(len(broken_off), 'scenario')} broke off"
            f" ({named([s.where for s in broken_off])})"
        )
    if failed := run.of(Outcome.FAILED):
        found.append(
            f"{plural(len(failed), 'operation')} broke the contract"
            f" ({named([v.where for v in failed])}): {_rules_broken(failed)}"
        )
    for kind, noun in KIND_NOUNS.items():
        failed_scenarios = [s for s in run.scenarios_of(Outcome.FAILED) if s.kind == kind]
        if not failed_scenarios:
            continue
        rules = sorted({f.rule for s in failed_scenarios for f in s.failures if not f.waived})
        found.append(
            f"{plural(len(failed_scenarios), noun)} failed"
            f" ({named([s.where for s in failed_scenarios])})"
            + (f": {', '.join(rules)}" if rules else "")
        )
    if missing := run.unexercised():
        found.append(
            f"{plural(len(missing), 'operation')} never answered with a documented 2xx"
            f" ({named([v.where for v in missing])}){_only_404(run)}"
        )
    found += [f"{waiver.name} expired on {waiver.expires}" for waiver in run.waivers.expired]
    return found


def _passed(run: Run) -> str:
    tested = [v for v in run.operations if v.outcome not in UNJUDGED]
    ran = [s for s in run.scenarios if s.outcome != Outcome.SKIPPED]
    operations = (
        "the one operation tested conforms"
        if len(tested) == 1
        else f"all {len(tested)} operations tested conform"
    )
    kinds = collections.Counter(s.kind for s in ran)
    scenarios = (
        " and ".join(
            f"the one {noun}" if kinds[kind] == 1 else f"all {kinds[kind]} {noun}s"
            for kind, noun in KIND_NOUNS.items()
            if kinds[kind]
        )
        + " run passed"
    )
    if tested and ran:
        said = f"{operations} and {scenarios}"
    else:
        said = operations if tested else scenarios if ran else "no operation broke the contract"
    waived = len(run.of(Outcome.WAIVED)) + len(run.scenarios_of(Outcome.WAIVED))
    if waived:
        said += f" ({waived} with every failure waived)"
    return said


def _untested(run: Run) -> str:
    untested = [v.where for v in run.of(Outcome.UNTESTED)]
    if not untested:
        return ""
    return (
        f"; {plural(len(untested), 'operation')} untested, never answered with a documented 2xx"
        f" ({named(untested)}; --require-exercised makes that a failure)"
    )


def _nothing_tested(run: Run) -> str:
    reasons = sorted({e.reason or "?" for e in run.entries()})
    untested = len(run.of(Outcome.UNTESTED))
    if not untested:
        what, fix = "skipped", "widen the selection (-k, -m)"
    else:
        only = untested == len(run.operations) and not run.scenarios
        what = "untested" if only else "skipped or untested"
        fix = "check the target's URL and the run's credentials, or widen the selection (-k, -m)"
    return (
        f"nothing was tested: the {plural(len(run.operations), 'operation')} and"
        f" {plural(len(run.scenarios), 'scenario')} selected were all {what}"
        f" ({'; '.join(reasons)[:300]}); {fix}"
    )


def explain(run: Run) -> str:
    """Why the verdict is what it is, in one sentence (no verdict word, no final stop): the
    summary's first paragraph, the terminal's first line and the run's last line all say it."""
    if run.nothing_tested() and not run.waivers.expired:
        return _nothing_tested(run)
    if run.verdict == Verdict.PASS:
        said = _passed(run) + _untested(run)
    else:
        said = "; ".join(reasons(run)) or "nothing was tested"
        if run.verdict == Verdict.FAIL:
            said += _untested(run)
    skipped = len(run.of(Outcome.SKIPPED))
    if skipped:
        said += f" ({plural(skipped, 'operation')} skipped)"
    stale = len(run.waivers.stale)
    if stale:
        said += f" ({plural(stale, 'waiver')} matched nothing)"
    if run.verdict == Verdict.BROKEN:
        return f"the verdict cannot be trusted: {said}"
    return said


def last_line(run: Run, reports: Path) -> str:
    """The one line a run (or a merge) ends with."""
    if run.exit_code() == ExitCode.BAD_INPUT:
        return explain(run)
    return f"{run.verdict.upper()}: {explain(run)} (seed {run.seed}; {reports / 'verdict.json'})"
