"""Judging each operation from its record; the JSON form of the run's verdict
(``reports/verdict.json``, `conformance.verdict.Run`).

An operation *passes* when no check failed and at least one documented 2xx came back; it
*failed* when a check failed; it is in *error* when the engine could not test it. One without a
failure that never got a documented 2xx is *not_exercised* where the gate requires one (a spec
with ``x-contract: strict``, or ``--require-exercised``: a backend that answers 401 or 404 to
everything cannot pass), and *untested* elsewhere, with the reason (`why_untested`): no failure,
and no pass either. The run is ``pass`` when every selected operation passed or is untested,
``broken`` when any was in error (a verdict that cannot be trusted), ``fail`` otherwise; a run
that exercised nothing at all (every operation skipped or untested, no scenario run) has no
verdict to give (`Run.nothing_tested`: exit 3). A phase that could not generate data for an
operation (a hypothesis health check, an unsatisfiable schema) is no error, as in ``st run``: it
is listed in the operation's ``unable``, with the engine's reason, and the operation is judged on
what its other phases found.

verdict.json, version 1::

    {"schema": "conformance-verdict/1", "verdict": "pass" | "fail" | "broken",
     "suite_version": str, "seed": int, "profile": str, "environment": "shared" | "disposable",
     "targets": [{"api", "url", "spec", "spec_version", "spec_sha256", "overlays"}],
     "errors": [str],
     "counts": {"operations": int, "passed": int, "failed": int, "not_exercised": int,
                "untested": int, "error": int, "skipped": int, "throttled": int,
                "by_rule": {check: failures}, "scenarios": {outcome: n}, "probes": {outcome: n},
                "warnings": int, "by_owasp": {OWASP category: findings}},
     "not_exercised": [label], "untested": [label],
     "rules": {api: [{"id": str, "kind": str, "severity": str, "applies": [label],
                      "off": {label: why}}]},
     "operations": [{"api", "operation_id", "label", "outcome",
       "statuses": {status: n}, "documented": [status], "documented_2xx_seen": [status],
       "failures": [{"check", "title", "message", "phase", "status", "curl", "owasp", "example":
       {"method", "path", "path_parameters", "query", "headers", "cookies", "body",
       "media_type"}, "steps": [curl], "response": {"status", "headers", "body",
       "elapsed_ms"} | null}], "errors": [str], "unable": [str], "checks": {check: cases
       judged}, "throttled": int, "reason": str, "exercise_required": bool}]}

then the scenarios and the security probes: ``"scenarios": [{"api", "name", "kind": "scenario" |
"probe", "outcome": "passed" | "failed" | "skipped" | "error", "reason", "steps": [{"part",
"title", "outcome", "detail", "seconds"}], "failures": [{"rule", "contract", "part", "step",
"message", "curl", "waived", "owasp"}], "warnings": [the same: findings of warning rules, which
never fail], "requests", "seconds", "latency"}]`` (``owasp``: the OWASP API Security Top 10
category of the rule, "" for none),
``counts.scenarios`` by outcome, and ``"latency": [{"api", "operation", "operation_id",
"budget_ms", "samples", "from_run", "measured", "p50_ms", "p95_ms", "p99_ms", "max_ms", "outcome":
"met" | "exceeded" | "not_measured", "reason"}]`` (`verdict.LatencyRow`), the run's numbers
(``p50_ms`` … ``max_ms`` when it has samples; ``reason``: why a row is not measured, on every
such row and no other); a row the run found over budget was re-measured alone after it
(`scenarios._confirm`) and also has ``"confirmation": "confirmed" | "not_confirmed" |
"not_possible"``, ``"confirmation_samples"``, ``"confirmation_s"``, ``"confirmed_p50_ms"``,
``"confirmed_p95_ms"``, ``"confirmed_max_ms"`` (from its samples) and ``"confirmation_reason"``
(not possible), `verdict.Confirmation`: only a confirmed or unconfirmable breach stays
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
"failed": {path: why}, "restored": [path]}}`` (what the run created and removed again), and
``"excluded": [{"api", "operation", "operation_id", "by": "exclude" | "x-exclude" | "danger",
"reason"}]``: the operations the run left out and never sent (`verdict.ExcludedOperation`).

``statuses`` counts the answers to generated cases (not the probes checks send, not throttled
429s); ``documented`` are the response keys the spec declares for the operation, as strings in
the spec's order (``"200"``, ``"4XX"``, ``"default"``), so a report can tell the statuses seen
that the spec does not document; ``example`` is the failing case as data, the smallest
hypothesis found, secrets masked; ``steps`` are the requests a stateful failure needs before its
own, oldest first; ``response`` is what the backend answered, kept for the first 5 failures of
each operation and check (null for the rest), a long body's head and tail within 2,000
characters (the marker between says how much was left out), secrets masked. ``curl`` and
``steps`` run as pasted: the run's credentials are the variables they came from
(``"$CONFORMANCE_<API>_TOKEN"``), other secrets masked.
``not_exercised`` lists every operation the gate required a documented 2xx of and got none
(whatever else went wrong with it), ``untested`` the operations whose outcome is ``untested``;
an operation's ``reason`` says why it is skipped, waived, untested or not exercised, and
``exercise_required`` whether the gate required its documented 2xx (``x-contract: strict`` or
``--require-exercised``). ``rules`` (`verdict.RuleUse`) says, for each API of the run, which
of the catalogue's checks and gate rules (`conformance.catalogue.operation_rules`) applied to
which operations the run selected, and where one was off, why (``request_id``: "response 200
has no X-Request-ID"); ``conformance run --list-rules`` prints the same before a run.
``unable`` says, one sentence a phase, which phases could not generate data for the operation
and why ("the fuzzing phase could not generate data: Failed Health Check: Too many generated
examples are filtered out …"); those phases sent nothing, and nothing was judged from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from conformance import catalogue
from conformance.contract import Operation, PointerError, Spec, follow
from conformance.suite._engine import OperationRecord
from conformance.verdict import (
    LatencyOutcome,
    OperationVerdict,
    Outcome,
    RuleUse,
    ScenarioVerdict,
)


def settle(verdict: OperationVerdict | ScenarioVerdict) -> None:
    """End a collected test as its verdict says: pass, skip (skipped or waived, with why), or
    fail with the verdict's own explanation."""
    import pytest

    if verdict.outcome == Outcome.SKIPPED:
        pytest.skip(verdict.reason)
    if verdict.outcome == Outcome.WAIVED:
        pytest.skip(f"waived: {verdict.reason}")
    if verdict.outcome == Outcome.UNTESTED:
        pytest.skip(f"untested: {verdict.reason}")
    if isinstance(verdict, ScenarioVerdict) and verdict.pending:
        # a breach measured under the run's own load is a claim until the controller has
        # re-measured it alone (`scenarios._confirm`): neither a pass nor a failure yet, and no
        # stop for -x; verdict.json, JUnit, the summary, this test's Allure result and the exit
        # status then say what came of it
        breached = ", ".join(
            row.operation for row in verdict.latency if row.outcome == LatencyOutcome.EXCEEDED
        )
        pytest.xfail(f"over budget in the run, to be re-measured alone after it: {breached}")
    if verdict.outcome != Outcome.PASSED:
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
        api, operation_id, label, Outcome.SKIPPED, reason=reason, documented=list(documented)
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
        outcome = Outcome.ERROR
    elif record.failures:
        outcome = Outcome.FAILED
    elif not seen:
        outcome = Outcome.NOT_EXERCISED if required else Outcome.UNTESTED
        reason = why_untested(spec, record)
    else:
        outcome = Outcome.PASSED
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
) -> list[RuleUse]:
    """verdict.json's ``rules`` of one API: each rule, the operations it applied to, and why it
    was off for the others."""
    uses: dict[str, RuleUse] = {}
    for operation in operations:
        for rule, applies in applied_rules(spec, operation, require_exercised=require_exercised):
            use = uses.setdefault(rule.id, RuleUse(rule.id, rule.kind, rule.severity))
            if applies:
                use.applies.append(operation.label)
            else:
                use.off[operation.label] = applies.why
    return list(uses.values())


def merged_rules(tables: Iterable[Mapping[str, Sequence[RuleUse]]]) -> dict[str, list[RuleUse]]:
    """The ``rules`` of several verdict documents (the shards of a run) as one: a rule applies
    to an operation where any of them says it does."""
    merged: dict[str, dict[str, RuleUse]] = {}
    for table in tables:
        for api, uses in table.items():
            for use in uses:
                into = merged.setdefault(api, {}).setdefault(
                    use.id, RuleUse(use.id, use.kind, use.severity)
                )
                into.applies += [label for label in use.applies if label not in into.applies]
                into.off.update(use.off)
    for uses_by_id in merged.values():
        for use in uses_by_id.values():
            use.off = {label: why for label, why in use.off.items() if label not in use.applies}
    return {api: list(uses.values()) for api, uses in sorted(merged.items())}
