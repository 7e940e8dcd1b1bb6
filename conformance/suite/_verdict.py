"""Judging each operation from its record, and the run's verdict (``reports/verdict.json``).

An operation *passes* when no check failed and at least one documented 2xx came back; it
*failed* when a check failed; it is in *error* when the engine could not test it. One without a
failure that never got a documented 2xx is *not_exercised* where the gate requires one (a spec
with ``x-contract: strict``, or ``--require-exercised``: a backend that answers 401 or 404 to
everything cannot pass), and *untested* elsewhere, with the reason (`why_untested`): no failure,
and no pass either. The run is ``pass`` when every selected operation passed or is untested,
``broken`` when any was in error (a verdict that cannot be trusted), ``fail`` otherwise; a run
that exercised nothing at all (every operation skipped or untested, no scenario run) has no
verdict to give (`nothing_tested`: exit 3). A phase that could not generate data for an
operation (a hypothesis health check, an unsatisfiable schema) is no error, as in ``st run``: it
is listed in the operation's ``unable``, with the engine's reason, and the operation is judged on
what its other phases found.

verdict.json, version 1::

    {"schema": "conformance-verdict/1", "verdict": "pass" | "fail" | "broken",
     "suite_version": str, "seed": int, "profile": str,
     "targets": [{"api", "url", "spec", "spec_version", "spec_sha256"}],
     "errors": [str],
     "counts": {"operations": int, "passed": int, "failed": int, "not_exercised": int,
                "untested": int, "error": int, "skipped": int, "throttled": int,
                "by_rule": {check: failures}},
     "not_exercised": [label], "untested": [label],
     "rules": {api: [{"id": str, "kind": str, "severity": str, "applies": [label],
                      "off": {label: why}}]},
     "operations": [{"api", "operation_id", "label", "outcome",
       "statuses": {status: n}, "documented": [status], "documented_2xx_seen": [status],
       "failures": [{"check", "title", "message", "phase", "status", "curl", "example":
       {"method", "path", "path_parameters", "query", "headers", "cookies", "body",
       "media_type"}, "steps": [curl], "response": {"status", "headers", "body",
       "elapsed_ms"} | null}], "errors": [str], "unable": [str], "checks": {check: cases
       judged}, "throttled": int, "reason": str, "exercise_required": bool}]}

then the scenarios: ``"scenarios": [{"api", "name", "outcome": "passed" | "failed" | "skipped" |
"error", "reason", "steps": [{"part", "title", "outcome", "detail", "seconds"}], "failures":
[{"rule", "contract", "part", "step", "message", "curl"}], "requests", "seconds", "latency"}]``,
``counts.scenarios`` by outcome, and ``"latency": [{"api", "operation", "operation_id",
"budget_ms", "samples", "from_run", "measured", "p50_ms", "p95_ms", "p99_ms", "max_ms", "outcome":
"met" | "exceeded" | "not_measured", "reason"}]``, the run's numbers (``reason``: why a row is
not measured, on every such row); a row the run found over budget was
re-measured alone after it (`scenarios._confirm`) and also has ``"confirmation": "confirmed" |
"not_confirmed" | "not_possible"``, ``"confirmation_samples"``, ``"confirmation_s"``,
``"confirmed_p50_ms"``, ``"confirmed_p95_ms"``, ``"confirmed_max_ms"`` (from its samples) and
``"confirmation_reason"`` (not possible): only a confirmed or unconfirmable breach stays
``exceeded``, a breach not confirmed is ``met``. A failed scenario fails the verdict; one in
error breaks it.

``"cut_short": str`` says why the run stopped before it had judged all it selected (the run
timeout, an interrupt), "" when it did not: a run cut short is ``broken``, whatever it found, and
what it judged before the stop is in the document.

``"waivers": {"in_force": [{"name", "rule", "api", "operation", "scenario", "reason",
"ticket", "expires", "used", "expiring"}], "expired": [...], "stale": [...]}`` (`_waivers`); an
operation or scenario whose every failure a waiver covers is ``waived`` (each failure says by
which), and an expired waiver fails the verdict.

And, written by the session, ``"cleanup": {api: {"removed": int, "left": {kind: n},
"failed": {path: why}, "restored": [path]}}`` (what the run created and removed again).

``statuses`` counts the answers to generated cases (not the probes checks send, not throttled
429s); ``documented`` are the response keys the spec declares for the operation, as strings in
the spec's order (``"200"``, ``"4XX"``, ``"default"``), so a report can tell the statuses seen
that the spec does not document; ``example`` is the failing case as data, the smallest
hypothesis found, secrets masked; ``steps`` are the requests a stateful failure needs before its
own, oldest first; ``response`` is what the backend answered, kept for the first 5 failures of
each operation and check (null for the rest), its body cut at 2,000 characters, secrets masked.
``not_exercised`` lists every operation the gate required a documented 2xx of and got none
(whatever else went wrong with it), ``untested`` the operations whose outcome is ``untested``;
an operation's ``reason`` says why it is skipped, waived, untested or not exercised, and
``exercise_required`` whether the gate required its documented 2xx (``x-contract: strict`` or
``--require-exercised``). ``rules`` says, for each API of the run, which of the catalogue's
checks and gate rules (`conformance.catalogue.operation_rules`) applied to which operations the
run selected, and where one was off, why (``request_id``: "response 200 has no X-Request-ID");
``conformance run --list-rules`` prints the same before a run.
``unable`` says, one sentence a phase, which phases could not generate data for the operation
and why ("the fuzzing phase could not generate data: Failed Health Check: Too many generated
examples are filtered out …"); those phases sent nothing, and nothing was judged from them.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance import __version__, catalogue
from conformance.catalogue import severity_of
from conformance.contract import Operation, PointerError, Spec, follow
from conformance.errors import ExitCode
from conformance.masking import mask
from conformance.suite._engine import Failure, OperationRecord
from conformance.suite.scenarios._story import ScenarioVerdict

SCHEMA = "conformance-verdict/1"
#: failures shown per check in a test's failure text
SHOWN = 3


@dataclass
class OperationVerdict:
    api: str
    operation_id: str
    label: str
    outcome: str  #: passed | failed | waived | not_exercised | untested | error | skipped
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

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "statuses": {str(k): n for k, n in self.statuses.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperationVerdict:
        """The inverse of `as_json` (how an xdist worker's verdicts reach the controller)."""
        failures = [
            Failure(**{**failure, **{k: tuple(failure.get(k, ())) for k in ("steps", "lines")}})
            for failure in data.get("failures", [])
        ]
        return cls(
            **{
                **data,
                "statuses": {int(k): n for k, n in data.get("statuses", {}).items()},
                "failures": failures,
            }
        )

    def explain(self) -> str:
        """What a failing pytest item says: the rules broken, with a reproduction each."""
        lines = [f"{self.api} {self.label}: {self.outcome}"]
        if self.outcome in ("not_exercised", "untested"):
            seen = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items())) or "nothing"
            lines.append(f"  no documented 2xx came back (seen: {seen})")
            if self.reason:
                lines.append(f"  why: {self.reason}")
            if self.outcome == "untested":
                lines.append(
                    "  not a failure: the spec does not declare x-contract: strict"
                    " (--require-exercised makes it one)"
                )
        for error in self.errors:
            lines.append(f"  error: {error}")
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
                for step in failure.steps:
                    lines.append(f"      (after) {step}")
                lines.append(f"      {failure.curl}")
                if failure.example:
                    lines.append(f"      example: {json.dumps(failure.example, sort_keys=True)}")
        if self.throttled:
            lines.append(f"  throttled: {self.throttled} answers were 429 after every retry")
        return mask("\n".join(lines))


def settle(verdict: OperationVerdict | ScenarioVerdict) -> None:
    """End a collected test as its verdict says: pass, skip (skipped or waived, with why), or
    fail with the verdict's own explanation."""
    import pytest

    if verdict.outcome == "skipped":
        pytest.skip(verdict.reason)
    if verdict.outcome == "waived":
        pytest.skip(f"waived: {verdict.reason}")
    if verdict.outcome == "untested":
        pytest.skip(f"untested: {verdict.reason}")
    if isinstance(verdict, ScenarioVerdict) and verdict.pending:
        # a breach measured under the run's own load is a claim until the controller has
        # re-measured it alone (`scenarios._confirm`): neither a pass nor a failure yet, and no
        # stop for -x; verdict.json, JUnit, the summary, this test's Allure result and the exit
        # status then say what came of it
        breached = ", ".join(
            str(row["operation"]) for row in verdict.latency if row.get("outcome") == "exceeded"
        )
        pytest.xfail(f"over budget in the run, to be re-measured alone after it: {breached}")
    if verdict.outcome != "passed":
        pytest.fail(verdict.explain(), pytrace=False)


def documented_success(spec: Spec, operation_id: str) -> set[int]:
    operation = spec.operation(operation_id)
    if operation is None:
        return set()
    return {
        int(status)
        for status, _, _ in spec.responses(operation)
        if status.isdigit() and status.startswith("2")
    }


def documented_statuses(spec: Spec, operation_id: str) -> list[str]:
    """The response keys the spec documents for an operation, in its order."""
    operation = spec.operation(operation_id)
    if operation is None:
        return []
    return [status for status, _, _ in spec.responses(operation)]


def skipped(
    api: str, label: str, operation_id: str, reason: str, documented: Sequence[str] = ()
) -> OperationVerdict:
    """An operation the run chose not to test (a read-only run's writes): neither a pass nor a
    failure."""
    return OperationVerdict(
        api, operation_id, label, "skipped", errors=[], reason=reason, documented=list(documented)
    )


def judge(
    api: str, spec: Spec, record: OperationRecord, *, require_exercised: bool = False
) -> OperationVerdict:
    """An operation's verdict from its record. Without a documented 2xx it is ``not_exercised``
    (a failure) where the gate requires one, under the spec's ``x-contract: strict`` or
    ``require_exercised``, and ``untested`` (no failure) elsewhere; both say why."""
    documented = documented_success(spec, record.operation_id)
    seen = sorted(status for status in record.statuses if status in documented)
    required = spec.declarations.strict or require_exercised
    reason = ""
    if record.errors:
        outcome = "error"
    elif record.failures:
        outcome = "failed"
    elif not seen:
        outcome = "not_exercised" if required else "untested"
        reason = why_untested(spec, record)
    else:
        outcome = "passed"
    return OperationVerdict(
        api,
        record.operation_id,
        record.label,
        outcome,
        dict(sorted(record.statuses.items())),
        seen,
        list(record.failures),
        list(record.errors),
        dict(sorted(record.checks.items())),
        record.throttled,
        reason,
        documented=documented_statuses(spec, record.operation_id),
        unable=list(record.unable),
        exercise_required=required,
    )


#: the statuses that say the run's credentials were not enough
_REFUSED = frozenset({401, 403})


def why_untested(spec: Spec, record: OperationRecord) -> str:
    """Why an operation got no documented 2xx, in a few words: the run could not generate data
    for it, nothing came back, no producer for its path parameters (only made-up ids, answered
    with 4xx), or only 4xx answers for the run's credentials."""
    answered = sorted(record.statuses)
    phases = [found.group(1) for line in record.unable if (found := _PHASE.match(line))]
    unable = (
        f"the run could not generate data for it (the {', '.join(phases)} phase"
        f"{'s' if len(phases) > 1 else ''})"
        if phases
        else ""
    )
    if not answered:
        if unable:
            return unable
        if record.throttled:
            return f"nothing came back but 429s ({record.throttled} after every retry)"
        return "nothing came back: no request of the run reached it"
    statuses = ", ".join(str(status) for status in answered)
    also = f"; {unable}" if unable else ""
    if not all(400 <= status < 500 for status in answered):
        return f"no documented 2xx among its answers ({statuses}){also}"
    operation = spec.operation(record.operation_id)
    unproduced = _unproduced(spec, operation) if operation is not None else []
    if unproduced and not set(answered) <= _REFUSED:
        names = ", ".join(unproduced)
        return (
            f"no producer for its path parameter{'s' if len(unproduced) > 1 else ''} {names}"
            f" (no link of the spec leads to it, no example gives one): made-up ids answered"
            f" {statuses}{also}"
        )
    # a 400 or a 422 refused the run's data more likely than its credentials
    refused = "credentials" if set(answered) <= _REFUSED else "credentials and data"
    return f"only 4xx answers for the run's {refused} ({statuses}){also}"


_PHASE = re.compile(r"the (\w+) phase could not generate data")


def _unproduced(spec: Spec, operation: Operation) -> list[str]:
    """The operation's path parameters nothing in the spec gives a real value for: no link
    leads to the operation, and the parameter has no example, enum, const or default."""
    if any(target == operation.operation_id for _, target in spec.links()):
        return []
    return [
        parameter.name
        for parameter in operation.path_parameters
        if not _has_value(spec, parameter.pointer, parameter.schema)
    ]


def _has_value(spec: Spec, pointer: str, schema: Mapping[str, Any]) -> bool:
    try:
        definition = spec.deref(follow(spec.data, pointer))
    except (PointerError, ValueError):
        definition = {}
    if isinstance(definition, Mapping) and {"example", "examples"} & set(definition):
        return True
    schema = spec.deref(schema)
    return isinstance(schema, Mapping) and bool(
        {"example", "examples", "enum", "const", "default"} & set(schema)
    )


def applied_rules(
    spec: Spec, operation: Operation, *, require_exercised: bool = False
) -> Iterator[tuple[catalogue.Rule, catalogue.Applies]]:
    """The catalogue's checks and gate rules on one operation, each on or off and why
    (`catalogue.operation_rules`); ``exercised`` is on wherever the run requires it."""
    for rule, applies in catalogue.operation_rules(spec, operation):
        if rule.kind is catalogue.Kind.GATE and require_exercised and not applies:
            applies = catalogue.Applies(True, "the run asks for it (--require-exercised)")
        yield rule, applies


def rules_document(
    spec: Spec, operations: Iterable[Operation], *, require_exercised: bool = False
) -> list[dict[str, Any]]:
    """verdict.json's ``rules`` of one API: each rule, the operations it applied to, and why it
    was off for the others."""
    rows: dict[str, dict[str, Any]] = {}
    for operation in operations:
        for rule, applies in applied_rules(spec, operation, require_exercised=require_exercised):
            row = rows.setdefault(
                rule.id,
                {"id": rule.id, "kind": str(rule.kind), "severity": str(rule.severity),
                 "applies": [], "off": {}},
            )  # fmt: skip
            if applies:
                row["applies"].append(operation.label)
            else:
                row["off"][operation.label] = applies.why
    return list(rows.values())


def merged_rules(
    tables: Iterable[Mapping[str, list[dict[str, Any]]]],
) -> dict[str, list[dict[str, Any]]]:
    """The ``rules`` of several verdict documents (the shards of a run) as one: a rule applies
    to an operation where any of them says it does."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for table in tables:
        for api, rows in table.items():
            for row in rows:
                into = merged.setdefault(api, {}).setdefault(
                    row["id"], {**row, "applies": [], "off": {}}
                )
                into["applies"] += [
                    label for label in row["applies"] if label not in into["applies"]
                ]
                into["off"].update(row["off"])
    for rows_by_id in merged.values():
        for row in rows_by_id.values():
            row["off"] = {k: why for k, why in row["off"].items() if k not in row["applies"]}
    return {api: list(rows.values()) for api, rows in sorted(merged.items())}


@dataclass(frozen=True, slots=True)
class TargetInfo:
    api: str
    url: str
    spec: Path
    #: the spec's info.version
    version: str = ""

    def as_json(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.spec.read_bytes()).hexdigest()
        return {
            "api": self.api,
            "url": self.url,
            "spec": str(self.spec),
            "spec_version": self.version,
            "spec_sha256": digest,
        }


def overall(
    verdicts: Sequence[OperationVerdict],
    errors: Iterable[str] = (),
    scenarios: Sequence[ScenarioVerdict] = (),
    expired_waivers: bool = False,
    cut_short: str = "",
) -> str:
    if (
        cut_short
        or list(errors)
        or any(v.outcome == "error" for v in verdicts)
        or any(s.outcome == "error" for s in scenarios)
    ):
        return "broken"
    if any(s.outcome == "failed" for s in scenarios):
        return "fail"
    if expired_waivers:
        return "fail"
    # an untested operation is no failure, and no pass either: a run with nothing else has
    # nothing to say (`nothing_tested`)
    judged = [v for v in verdicts if v.outcome not in ("skipped", "untested")]
    ran = [s for s in scenarios if s.outcome != "skipped"]
    if not judged and not ran:
        return "fail"
    return "pass" if all(v.outcome in ("passed", "waived") for v in judged) else "fail"


def verdict_document(
    verdicts: Sequence[OperationVerdict],
    targets: Sequence[TargetInfo],
    *,
    seed: int,
    profile: str,
    errors: Sequence[str] = (),
    scenarios: Sequence[ScenarioVerdict] = (),
    waivers: dict[str, list[dict[str, Any]]] | None = None,
    cut_short: str = "",
    rules: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """verdict.json (the module's docstring); ``rules``: `rules_document` of each API."""
    outcomes = collections.Counter(v.outcome for v in verdicts)
    expired = bool(waivers and waivers["expired"])
    by_rule = collections.Counter(f.check for v in verdicts for f in v.failures)
    by_rule.update(f.rule for s in scenarios for f in s.failures)
    scenario_outcomes = collections.Counter(s.outcome for s in scenarios)
    return {
        "schema": SCHEMA,
        "verdict": overall(verdicts, errors, scenarios, expired, cut_short),
        "suite_version": __version__,
        "seed": seed,
        "profile": profile,
        "targets": [target.as_json() for target in targets],
        "errors": list(errors),
        "cut_short": cut_short,
        "counts": {
            "operations": len(verdicts),
            **{
                name: outcomes.get(name, 0)
                for name in ("passed", "failed", "waived", "not_exercised", "untested")
            },
            "error": outcomes.get("error", 0),
            "skipped": outcomes.get("skipped", 0),
            "throttled": sum(v.throttled for v in verdicts),
            "by_rule": dict(sorted(by_rule.items())),
            "scenarios": {
                name: scenario_outcomes.get(name, 0)
                for name in ("passed", "failed", "waived", "skipped", "error")
            },
        },
        "waivers": waivers or {"in_force": [], "expired": [], "stale": []},
        # every operation the gate required a documented 2xx of and got none, whatever else
        # went wrong with it
        "not_exercised": [
            v.label
            for v in verdicts
            if not v.documented_2xx_seen
            and v.exercise_required
            and v.outcome not in ("error", "skipped", "waived")
        ],
        "untested": [v.label for v in verdicts if v.outcome == "untested"],
        "rules": dict(rules or {}),
        "operations": [v.as_json() for v in verdicts],
        "scenarios": [s.as_json() for s in scenarios],
        "latency": [
            {"api": s.api, **row} for s in scenarios if s.name == "latency" for row in s.latency
        ],
    }


def nothing_tested(document: Mapping[str, Any]) -> bool:
    """Whether the run skipped every operation and scenario it selected (or selected none), or
    left every operation untested (no documented 2xx, on a spec that does not require one) and
    ran no scenario: it exercised nothing, and a backend answering 401 to everything cannot
    pass."""
    entries = [*document.get("operations", []), *document.get("scenarios", [])]
    return all(entry.get("outcome") in ("skipped", "untested") for entry in entries)


def exit_code(document: Mapping[str, Any] | None) -> ExitCode:
    """The run's exit code, from its verdict document alone (DESIGN.md's exit codes). Every way a
    run ends (a pass, findings, a crash, fail fast under xdist, the run timeout, an interrupt, an
    expired waiver) is decided here, so the code, verdict.json, JUnit, the summary and the last
    line cannot disagree. No document: the run broke before it could judge."""
    if document is None:
        return ExitCode.TARGET_BROKEN
    verdict = document.get("verdict")
    if verdict == "broken":
        return ExitCode.TARGET_BROKEN
    if nothing_tested(document) and not document.get("waivers", {}).get("expired"):
        return ExitCode.BAD_INPUT  # a selection that skipped everything: no verdict to give
    return ExitCode.OK if verdict == "pass" else ExitCode.FAILED


#: entries shown per list in the terminal summary
LISTED = 20


def summary_lines(
    verdicts: Sequence[OperationVerdict],
    *,
    seed: int,
    profile: str,
    errors: Sequence[str] = (),
    scenarios: Sequence[ScenarioVerdict] = (),
    waivers: dict[str, list[dict[str, Any]]] | None = None,
    cut_short: str = "",
) -> list[str]:
    """The terminal summary: the verdict, failures grouped by rule (with the operations), what
    is untested and why, what was not exercised or could not be tested, the phases that could
    not generate data, throttling, and the scenarios."""
    outcomes = collections.Counter(v.outcome for v in verdicts)
    expired = bool(waivers and waivers["expired"])
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    ran = collections.Counter(s.outcome for s in scenarios)
    told = ", ".join(f"{n} {outcome}" for outcome, n in sorted(ran.items()))
    lines = [
        f"verdict: {overall(verdicts, errors, scenarios, expired, cut_short).upper()}"
        f" ({len(verdicts)}"
        " operations:"
        f" {counts or 'none'}"
        + (f"; {len(scenarios)} scenarios: {told}" if scenarios else "")
        + f"); seed {seed}, profile {profile}"
    ]
    if cut_short:
        lines.append(f"cut short: {cut_short}; what was judged before the stop is below")
    if errors:
        lines.append("errors:")
        lines += _listed([f"  {error}" for error in errors])
    by_rule: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for verdict in verdicts:
        for failure in verdict.failures:
            by_rule[failure.check][f"{verdict.api} {verdict.label}"] += 1
    if by_rule:
        lines.append("failures by rule (worst first):")
        for rule, operations in sorted(
            by_rule.items(),
            key=lambda item: (severity_of(item[0]).rank, -sum(item[1].values()), item[0]),
        ):
            lines.append(f"  {rule} ({severity_of(rule)}, {sum(operations.values())} cases):")
            lines += _listed([f"    {label} ({n})" for label, n in sorted(operations.items())])
    untested = [v for v in verdicts if v.outcome == "untested"]
    if untested:
        lines.append(
            "untested (no documented 2xx came back; no failure without x-contract: strict,"
            " --require-exercised makes it one):"
        )
        lines += _listed([f"  {v.api} {v.label}: {v.reason}" for v in untested])
    missing = [v for v in verdicts if v.outcome == "not_exercised"]
    if missing:
        lines.append("not exercised (no documented 2xx came back):")
        lines += _listed(
            [
                f"  {v.api} {v.label} (seen: "
                + (", ".join(f"{n} x {s}" for s, n in sorted(v.statuses.items())) or "nothing")
                + ")"
                for v in missing
            ]
        )
    broken = [v for v in verdicts if v.outcome == "error"]
    if broken:
        lines.append("could not be tested:")
        lines += _listed([f"  {v.api} {v.label}: {v.errors[0]}" for v in broken])
    unable = [f"  {v.api} {v.label}: {line.splitlines()[0]}" for v in verdicts for line in v.unable]
    if unable:
        lines.append("phases that could not generate data (the other phases were judged):")
        lines += _listed(unable)
    throttled = sorted((v for v in verdicts if v.throttled), key=lambda v: -v.throttled)
    if throttled:
        where = ", ".join(f"{v.api} {v.label} ({v.throttled})" for v in throttled[:3])
        more = f" and {len(throttled) - 3} more" if len(throttled) > 3 else ""
        lines.append(
            f"throttled: {sum(v.throttled for v in throttled)} answers stayed 429 after every"
            f" retry (not judged): {where}{more}"
        )
    if scenarios:
        lines.append("scenarios:")
    for scenario in scenarios:
        lines.append(
            f"  {scenario.api} {scenario.name}: {scenario.outcome.upper()}"
            f" ({scenario.requests} requests, {scenario.seconds:.1f} s)"
            + (f": {scenario.reason}" if scenario.reason else "")
        )
        lines += [f"    {failure.line()}" for failure in scenario.failures]
        lines += [
            f"    skipped: {step.part} / {step.title}: {step.detail}"
            for step in scenario.steps
            if step.outcome == "skipped"
        ]
        measured = [row for row in scenario.latency if row["outcome"] != "not_measured"]
        if scenario.latency:
            again = [row for row in scenario.latency if row.get("confirmation")]
            lines.append(
                f"    latency: {len(measured)} of {len(scenario.latency)} operations measured,"
                f" {sum(row['outcome'] == 'exceeded' for row in measured)} over budget"
                + (
                    f" ({len(again)} re-measured alone after the run, of them"
                    f" {sum(row['confirmation'] == 'not_confirmed' for row in again)} within it)"
                    if again
                    else ""
                )
            )
    if waivers and any(waivers.values()):
        used = sum(1 for w in waivers["in_force"] if w["used"])
        expiring = sum(1 for w in waivers["in_force"] if w.get("expiring"))
        lines.append(
            f"waivers: {len(waivers['in_force'])} in force ({used} used, {expiring} expiring),"
            f" {len(waivers['expired'])} expired, {len(waivers['stale'])} stale"
        )
        lines += [
            f"  EXPIRED {w['name']} on {w['expires']}: renew it or fix the failure"
            for w in waivers["expired"]
        ]
        lines += [f"  stale {w['name']}: matched nothing in this run" for w in waivers["stale"]]
    return lines


def _listed(lines: list[str]) -> list[str]:
    if len(lines) <= LISTED:
        return lines
    return [*lines[:LISTED], f"  … and {len(lines) - LISTED} more (verdict.json has them all)"]


def write_verdict(path: Path, document: dict[str, Any]) -> None:
    """Written masked: the last gate before the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mask(json.dumps(document, indent=2)) + "\n", encoding="utf-8")
